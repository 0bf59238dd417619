/*
 * Virtio 1.x devices: the split virtqueue and the transport-independent
 * device core that every virtio device file builds on.
 *
 * The guest is untrusted. Every ring and buffer address it gives is turned
 * into host memory only through guest_ptr(); every index is checked against
 * the ring size; every chain is bounded. A queue that breaks these rules is
 * not followed any further: the device is marked DEVICE_NEEDS_RESET and the
 * driver gets a configuration-change interrupt, as the specification says
 * (section 2.1.2), and the VMM goes on.
 *
 * Locking: struct virtio_dev.lock guards the device core, its queues and
 * the device type's own state. The transport takes it for every register
 * access (inside the bus lock); device threads take it alone. No code holds
 * it while blocking on I/O.
 */
#ifndef RUNVM_VIRTIO_H
#define RUNVM_VIRTIO_H

#include <pthread.h>
#include <stdint.h>
#include <sys/uio.h>

#include "../vmm/mem.h"

struct vm;

/* Feature bits common to all device types. */
#define VIRTIO_RING_F_INDIRECT_DESC   28
#define VIRTIO_RING_F_EVENT_IDX       29
#define VIRTIO_F_VERSION_1            32

/* Device status bits (the driver writes them; NEEDS_RESET is the device's). */
#define VIRTIO_STATUS_ACKNOWLEDGE     0x01
#define VIRTIO_STATUS_DRIVER          0x02
#define VIRTIO_STATUS_DRIVER_OK       0x04
#define VIRTIO_STATUS_FEATURES_OK     0x08
#define VIRTIO_STATUS_NEEDS_RESET     0x40
#define VIRTIO_STATUS_FAILED          0x80

/* Interrupt status bits. */
#define VIRTIO_ISR_VRING              0x01
#define VIRTIO_ISR_CONFIG             0x02

/* Device IDs. */
#define VIRTIO_ID_NET                 1
#define VIRTIO_ID_BLOCK               2
#define VIRTIO_ID_CONSOLE             3
#define VIRTIO_ID_RNG                 4

/* --- The split virtqueue ---------------------------------------------------- */

#define VIRTQ_DESC_F_NEXT             1
#define VIRTQ_DESC_F_WRITE            2
#define VIRTQ_DESC_F_INDIRECT         4
#define VIRTQ_AVAIL_F_NO_INTERRUPT    1

/* Largest ring a device offers, and most segments in one chain (indirect included). */
#define VIRTQ_NUM_MAX                 256
#define VIRTQ_SEG_MAX                 256

/* A descriptor as it lies in guest memory (little-endian, like the host). */
struct virtq_desc {
	uint64_t addr;
	uint32_t len;
	uint16_t flags;
	uint16_t next;
};

struct virtq {
	/* What the driver configured through the transport. */
	uint16_t num;                   /* ring size */
	uint16_t num_max;               /* offered size; 0: the queue does not exist */
	uint64_t desc_gpa, avail_gpa, used_gpa;
	int ready;
	int event_idx;                  /* VIRTIO_RING_F_EVENT_IDX negotiated */
	int indirect;                   /* VIRTIO_RING_F_INDIRECT_DESC negotiated */

	/* Host views of the rings, valid while ready (checked by virtq_start). */
	uint8_t *desc, *avail, *used;

	uint16_t last_avail;            /* next avail entry to take */
	uint16_t used_idx;              /* next used entry to fill */
	uint16_t signalled_used;        /* used_idx at the last interrupt decision */
	int signalled_valid;
	const char *error;              /* why the queue is broken, or NULL */
};

/*
 * One descriptor chain: the device-readable segments first (n_out), then
 * the device-writable ones (n_in), as host memory. Zero-length descriptors
 * give no segment.
 */
struct virtq_req {
	uint16_t head;                  /* what virtq_push() returns to the driver */
	unsigned n_out, n_in;
	uint64_t out_len, in_len;       /* bytes in each part */
	struct iovec iov[VIRTQ_SEG_MAX];
};

/* Back to the state before the driver configured it (num = num_max). */
void virtq_reset(struct virtq *vq);

/*
 * Checks the configured rings (size a power of two up to num_max, each ring
 * aligned and all RAM) and maps them. Returns 0, or -1 with vq->error set.
 */
int virtq_start(struct virtq *vq, const struct guest_mem *m);

/*
 * Takes the next available chain into req. Returns 1, 0 when the ring is
 * empty (and then asks the driver to notify on the next buffer), or -1 when
 * the ring or the chain is malformed (vq->error says why; the queue must
 * not be used again until a reset).
 */
int virtq_pop(struct virtq *vq, const struct guest_mem *m, struct virtq_req *req);

/* Gives the last popped chain back: the next virtq_pop() returns it again. */
void virtq_unpop(struct virtq *vq);

/* Returns chain head to the driver with len bytes written into its buffers. */
void virtq_push(struct virtq *vq, uint16_t head, uint32_t len);

/*
 * Whether the driver wants an interrupt for the chains pushed since the
 * last call (EVENT_IDX's used_event, or the NO_INTERRUPT flag).
 */
int virtq_need_interrupt(struct virtq *vq);

/* --- Scatter-gather helpers ------------------------------------------------ */

/* Copies up to len bytes from the segments, starting at byte off; returns the count. */
size_t iov_copy_out(const struct iovec *iov, unsigned n, uint64_t off, void *buf, size_t len);
/* Copies up to len bytes into the segments at byte off; returns the count. */
size_t iov_copy_in(const struct iovec *iov, unsigned n, uint64_t off, const void *buf, size_t len);
/*
 * The segments for bytes [off, off+len) of iov, into out (at most max);
 * returns how many, or -1 if they do not fit in max.
 */
int iov_range(const struct iovec *iov, unsigned n, uint64_t off, uint64_t len,
	      struct iovec *out, unsigned max);

/* --- The device core ----------------------------------------------------------- */

#define VIRTIO_MAX_QUEUES   4
#define VIRTIO_CONFIG_MAX   256

struct virtio_dev;

/* What a device type provides; every hook runs with d->lock held. */
struct virtio_dev_ops {
	/* The driver made buffers available on queue q (only while running). */
	void (*queue_notify)(struct virtio_dev *d, unsigned q);
	/*
	 * A reset by the driver or a guest reboot: stop using the queues and
	 * return only when no request of the device touches guest memory any
	 * more (it may wait on a condition with d->lock). NULL: nothing to do.
	 */
	void (*reset)(struct virtio_dev *d);
	/* A write to the configuration space; NULL: read-only. */
	void (*config_write)(struct virtio_dev *d, unsigned offset, uint64_t value, unsigned size);
	/* Stops the device's threads and frees it (lock not held). */
	void (*destroy)(struct virtio_dev *d);
};

struct virtio_dev {
	char name[32];                  /* for messages: "virtio-blk vda" */
	uint32_t device_id;
	const struct virtio_dev_ops *ops;
	struct vm *vm;
	const struct guest_mem *mem;
	pthread_mutex_t lock;

	uint64_t host_features;
	uint64_t guest_features;
	uint8_t status;
	uint8_t isr;
	uint32_t config_generation;
	uint8_t config[VIRTIO_CONFIG_MAX];
	unsigned config_len;
	unsigned nqueues;
	struct virtq vq[VIRTIO_MAX_QUEUES];

	unsigned failures_reported;     /* "needs a reset" lines printed so far */

	/* Set by the transport: its interrupt line follows isr. */
	void (*irq_update)(struct virtio_dev *d);
	void *transport;
};

/*
 * Fills the core of a new device: nqueues queues of qsize entries,
 * features besides VERSION_1, INDIRECT_DESC and EVENT_IDX (which every
 * device offers), and a configuration space of config_len bytes.
 */
void virtio_dev_init(struct virtio_dev *d, struct vm *vm, const char *name, uint32_t device_id,
		     const struct virtio_dev_ops *ops, unsigned nqueues, uint16_t qsize,
		     uint64_t features, unsigned config_len);
void virtio_dev_fini(struct virtio_dev *d);

/* True when the driver set DRIVER_OK and the device does not need a reset. */
int virtio_dev_running(const struct virtio_dev *d);
int virtio_dev_has_feature(const struct virtio_dev *d, unsigned bit);

/* virtq_pop() on queue q; a malformed queue marks the device as needing reset. */
int virtio_dev_pop(struct virtio_dev *d, unsigned q, struct virtq_req *req);
/* virtq_push() and, when the driver wants one, a used-buffer interrupt. */
void virtio_dev_push(struct virtio_dev *d, unsigned q, uint16_t head, uint32_t len);
/* A used-buffer interrupt for pushes made with virtq_push() directly, if wanted. */
void virtio_dev_interrupt(struct virtio_dev *d, unsigned q);

/*
 * The device cannot go on: DEVICE_NEEDS_RESET and a configuration
 * interrupt. The first reason after each reset is printed, up to a few
 * times per device, so that a guest cannot flood the log.
 */
void virtio_dev_needs_reset(struct virtio_dev *d, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* Register-level operations, for the transport (lock held). */
void virtio_dev_reset(struct virtio_dev *d);
void virtio_dev_set_status(struct virtio_dev *d, uint8_t status);
void virtio_dev_set_queue_ready(struct virtio_dev *d, unsigned q, int ready);
void virtio_dev_ack_interrupt(struct virtio_dev *d, uint8_t bits);
void virtio_dev_queue_kick(struct virtio_dev *d, unsigned q);
uint64_t virtio_dev_config_read(struct virtio_dev *d, unsigned offset, unsigned size);
void virtio_dev_config_write(struct virtio_dev *d, unsigned offset, uint64_t value, unsigned size);

/* Little-endian stores into the configuration space. */
void virtio_config_put(struct virtio_dev *d, unsigned offset, uint64_t value, unsigned size);

/*
 * Starts a device thread named name with asynchronous signals blocked
 * (they belong to the main thread). Returns 0, or -1 with a message.
 */
int virtio_thread_start(pthread_t *t, void *(*fn)(void *), void *arg, const char *name);

/* An eventfd write/read that ignores the (impossible) errors. */
void virtio_event_signal(int fd);
void virtio_event_drain(int fd);

#endif
