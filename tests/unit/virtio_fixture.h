/*
 * Shared by the virtio tests: a struct vm that has only memory and buses
 * (no hypervisor: interrupt lines go nowhere, the transport's line is read
 * from its state), and a small driver that sets up queues in guest memory
 * and posts descriptor chains the way a guest driver would - or the way a
 * hostile one would, by writing descriptors and ring entries directly.
 */
#ifndef RUNVM_TEST_VIRTIO_FIXTURE_H
#define RUNVM_TEST_VIRTIO_FIXTURE_H

#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "test.h"
#include "dev/devices.h"
#include "dev/virtio.h"
#include "dev/virtio_mmio.h"
#include "vmm/acpi.h"
#include "vmm/vm.h"

static struct vm vm;
static struct config cfg;

/* Guest-physical layout: queue q's rings, then buffers. */
#define VX_DESC(q)   (0x10000ULL + 0x4000ULL * (q))
#define VX_AVAIL(q)  (VX_DESC(q) + 0x1000)
#define VX_USED(q)   (VX_DESC(q) + 0x2000)
#define VX_BUF       0x100000ULL

#define VX_R         0
#define VX_W         VIRTQ_DESC_F_WRITE

static inline void vx_vm_setup(uint64_t mem)
{
	memset(&vm, 0, sizeof(vm));
	memset(&cfg, 0, sizeof(cfg));
	cfg.cpus = 1;
	cfg.mem = mem;
	vm.cfg = &cfg;
	vm.ncpus = 1;
	vm.sys_fd = vm.vm_fd = vm.stop_fd = -1;
	pthread_mutex_init(&vm.machine_lock, NULL);
	bus_init(&vm.pio, "pio");
	bus_init(&vm.mmio, "mmio");
	if (guest_mem_init(&vm.mem, mem) < 0)
		abort();
	acpi_dsdt_clear_devices();
}

static inline void vx_vm_teardown(void)
{
	guest_mem_free(&vm.mem);
	acpi_dsdt_clear_devices();
}

static inline void *vx_mem(uint64_t gpa, uint64_t len)
{
	void *p = guest_ptr(&vm.mem, gpa, len);
	if (!p) {
		fprintf(stderr, "test bug: guest 0x%llx+0x%llx is not RAM\n",
			(unsigned long long)gpa, (unsigned long long)len);
		abort();
	}
	return p;
}

static inline uint16_t vx_get16(uint64_t gpa) { uint16_t v; memcpy(&v, vx_mem(gpa, 2), 2); return v; }
static inline uint32_t vx_get32(uint64_t gpa) { uint32_t v; memcpy(&v, vx_mem(gpa, 4), 4); return v; }
static inline void vx_put16(uint64_t gpa, uint16_t v) { memcpy(vx_mem(gpa, 2), &v, 2); }
static inline void vx_put32(uint64_t gpa, uint32_t v) { memcpy(vx_mem(gpa, 4), &v, 4); }

/* --- Raw ring access: what a driver (or an attacker) writes ------------------- */

static inline void vx_set_desc(unsigned q, uint16_t i, uint64_t addr, uint32_t len,
			       uint16_t flags, uint16_t next)
{
	struct virtq_desc d = { .addr = addr, .len = len, .flags = flags, .next = next };
	memcpy(vx_mem(VX_DESC(q) + 16ULL * i, 16), &d, 16);
}

/* A descriptor in a table anywhere in guest memory (indirect tables). */
static inline void vx_set_table_desc(uint64_t table, uint16_t i, uint64_t addr, uint32_t len,
				     uint16_t flags, uint16_t next)
{
	struct virtq_desc d = { .addr = addr, .len = len, .flags = flags, .next = next };
	memcpy(vx_mem(table + 16ULL * i, 16), &d, 16);
}

static inline void vx_set_avail_idx(unsigned q, uint16_t idx)
{
	__atomic_store_n((uint16_t *)vx_mem(VX_AVAIL(q) + 2, 2), idx, __ATOMIC_RELEASE);
}

static inline uint16_t vx_avail_idx(unsigned q) { return vx_get16(VX_AVAIL(q) + 2); }

static inline void vx_set_avail_entry(unsigned q, uint16_t num, uint16_t idx, uint16_t head)
{
	vx_put16(VX_AVAIL(q) + 4 + 2ULL * (idx & (num - 1)), head);
}

static inline uint16_t vx_used_idx(unsigned q)
{
	return __atomic_load_n((uint16_t *)vx_mem(VX_USED(q) + 2, 2), __ATOMIC_ACQUIRE);
}

static inline uint32_t vx_used_id(unsigned q, uint16_t num, uint16_t idx)
{
	return vx_get32(VX_USED(q) + 4 + 8ULL * (idx & (num - 1)));
}

static inline uint32_t vx_used_len(unsigned q, uint16_t num, uint16_t idx)
{
	return vx_get32(VX_USED(q) + 8 + 8ULL * (idx & (num - 1)));
}

/* --- A driver over the MMIO registers ---------------------------------------- */

struct vx_queue {
	uint16_t num;
	uint16_t next_desc;             /* descriptors are handed out round-robin */
	uint16_t avail_idx;
	uint16_t used_seen;
};

static struct {
	struct virtio_mmio *t;
	struct virtio_dev *dev;
	struct vx_queue q[VIRTIO_MAX_QUEUES];
	uint64_t buf_next;              /* bump allocator for buffers */
} drv;

static inline uint32_t vx_rd(uint64_t off) { return (uint32_t)virtio_mmio_read(drv.t, off, 4); }
static inline void vx_wr(uint64_t off, uint32_t v) { virtio_mmio_write(drv.t, off, v, 4); }
static inline void vx_kick(unsigned q) { vx_wr(VIRTIO_MMIO_QUEUE_NOTIFY, q); }
static inline uint32_t vx_status(void) { return vx_rd(VIRTIO_MMIO_STATUS); }

/* Places device d on a transport at slot 0 and remembers it. */
static inline void vx_attach(struct virtio_dev *d)
{
	memset(&drv, 0, sizeof(drv));
	drv.buf_next = VX_BUF;
	if (!d)
		abort();
	drv.t = virtio_mmio_create(&vm, d, 0);
	if (!drv.t)
		abort();
	drv.dev = d;
}

static inline void vx_detach(void)
{
	if (drv.t)
		virtio_mmio_destroy(drv.t);
	drv.t = NULL;
}

static inline uint64_t vx_device_features(void)
{
	vx_wr(VIRTIO_MMIO_DEVICE_FEATURES_SEL, 0);
	uint64_t f = vx_rd(VIRTIO_MMIO_DEVICE_FEATURES);
	vx_wr(VIRTIO_MMIO_DEVICE_FEATURES_SEL, 1);
	return f | (uint64_t)vx_rd(VIRTIO_MMIO_DEVICE_FEATURES) << 32;
}

static inline void vx_driver_features(uint64_t f)
{
	vx_wr(VIRTIO_MMIO_DRIVER_FEATURES_SEL, 0);
	vx_wr(VIRTIO_MMIO_DRIVER_FEATURES, (uint32_t)f);
	vx_wr(VIRTIO_MMIO_DRIVER_FEATURES_SEL, 1);
	vx_wr(VIRTIO_MMIO_DRIVER_FEATURES, (uint32_t)(f >> 32));
}

/* Points queue q at its rings with size num and makes it ready. */
static inline void vx_queue_setup(unsigned q, uint16_t num)
{
	memset(vx_mem(VX_DESC(q), 0x3000), 0, 0x3000);
	vx_wr(VIRTIO_MMIO_QUEUE_SEL, q);
	vx_wr(VIRTIO_MMIO_QUEUE_NUM, num);
	vx_wr(VIRTIO_MMIO_QUEUE_DESC_LOW, (uint32_t)VX_DESC(q));
	vx_wr(VIRTIO_MMIO_QUEUE_DESC_HIGH, 0);
	vx_wr(VIRTIO_MMIO_QUEUE_DRIVER_LOW, (uint32_t)VX_AVAIL(q));
	vx_wr(VIRTIO_MMIO_QUEUE_DRIVER_HIGH, 0);
	vx_wr(VIRTIO_MMIO_QUEUE_DEVICE_LOW, (uint32_t)VX_USED(q));
	vx_wr(VIRTIO_MMIO_QUEUE_DEVICE_HIGH, 0);
	vx_wr(VIRTIO_MMIO_QUEUE_READY, 1);
	drv.q[q] = (struct vx_queue){ .num = num };
}

/*
 * The driver's initialization (section 3.1.1): reset, ACKNOWLEDGE, DRIVER,
 * features (want & offered), FEATURES_OK, queues of the offered size,
 * DRIVER_OK. Returns the status read back at the end.
 */
static inline uint32_t vx_driver_init(uint64_t want)
{
	vx_wr(VIRTIO_MMIO_STATUS, 0);
	vx_wr(VIRTIO_MMIO_STATUS, VIRTIO_STATUS_ACKNOWLEDGE);
	vx_wr(VIRTIO_MMIO_STATUS, VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER);
	vx_driver_features(vx_device_features() & want);
	uint32_t s = VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER | VIRTIO_STATUS_FEATURES_OK;
	vx_wr(VIRTIO_MMIO_STATUS, s);
	if (!(vx_status() & VIRTIO_STATUS_FEATURES_OK))
		return vx_status();
	for (unsigned q = 0; q < VIRTIO_MAX_QUEUES; q++) {
		vx_wr(VIRTIO_MMIO_QUEUE_SEL, q);
		uint32_t max = vx_rd(VIRTIO_MMIO_QUEUE_NUM_MAX);
		if (max)
			vx_queue_setup(q, (uint16_t)max);
	}
	vx_wr(VIRTIO_MMIO_STATUS, s | VIRTIO_STATUS_DRIVER_OK);
	return vx_status();
}

#define VX_ALL_FEATURES (~0ULL)

/* A zeroed guest buffer of len bytes. */
static inline uint64_t vx_alloc(uint64_t len)
{
	uint64_t gpa = drv.buf_next;
	drv.buf_next += (len + 15) & ~15ULL;
	memset(vx_mem(gpa, len ? len : 1), 0, len);
	return gpa;
}

struct vx_buf {
	uint64_t gpa;
	uint32_t len;
	uint16_t flags;                 /* VX_R or VX_W */
};

/* Writes a chain of n buffers into consecutive descriptors and makes it available. */
static inline uint16_t vx_post(unsigned q, const struct vx_buf *b, int n)
{
	struct vx_queue *vq = &drv.q[q];
	uint16_t head = vq->next_desc;
	for (int i = 0; i < n; i++) {
		uint16_t idx = (uint16_t)((head + i) % vq->num);
		uint16_t next = (uint16_t)((head + i + 1) % vq->num);
		vx_set_desc(q, idx, b[i].gpa, b[i].len,
			    (uint16_t)(b[i].flags | (i + 1 < n ? VIRTQ_DESC_F_NEXT : 0)), next);
	}
	vq->next_desc = (uint16_t)((head + n) % vq->num);
	vx_set_avail_entry(q, vq->num, vq->avail_idx, head);
	vq->avail_idx++;
	vx_set_avail_idx(q, vq->avail_idx);
	return head;
}

/* Waits up to 5 s for the used index of q to reach want. */
static inline int vx_wait_used(unsigned q, uint16_t want)
{
	for (int i = 0; i < 5000; i++) {
		if ((uint16_t)(vx_used_idx(q) - want) < 0x8000)
			return 1;
		struct timespec ts = { 0, 1000000 };
		nanosleep(&ts, NULL);
	}
	return 0;
}

static inline void vx_sleep_ms(int ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };
	nanosleep(&ts, NULL);
}

/* Devices work on threads of their own: kick, then wait until every chain posted on q is used. */
static inline int vx_kick_wait(unsigned q)
{
	vx_kick(q);
	return vx_wait_used(q, drv.q[q].avail_idx);
}

/* Gives a device thread time to do what it should not (for checks that nothing happened). */
static inline void vx_settle(void)
{
	vx_sleep_ms(30);
}

/* Waits up to 5 s for all of bits in the device status. */
static inline int vx_wait_status(uint32_t bits)
{
	for (int i = 0; i < 5000; i++) {
		if ((vx_status() & bits) == bits)
			return 1;
		vx_sleep_ms(1);
	}
	return 0;
}

/* The next used element of q: its id and length; -1 when none. */
static inline int vx_take_used(unsigned q, uint32_t *id, uint32_t *len)
{
	struct vx_queue *vq = &drv.q[q];
	if (vx_used_idx(q) == vq->used_seen)
		return -1;
	*id = vx_used_id(q, vq->num, vq->used_seen);
	*len = vx_used_len(q, vq->num, vq->used_seen);
	vq->used_seen++;
	return 0;
}

/* Reads and acknowledges the interrupt status, as the Linux driver's handler does. */
static inline uint32_t vx_ack(void)
{
	uint32_t isr = vx_rd(VIRTIO_MMIO_INTERRUPT_STATUS);
	vx_wr(VIRTIO_MMIO_INTERRUPT_ACK, isr);
	return isr;
}

/* Silences the device's "needs a reset" line while a hostile test runs. */
static FILE *vx_saved_stderr;
static char *vx_err_buf;
static size_t vx_err_len;

static inline void vx_quiet_begin(void)
{
	fflush(stderr);
	vx_saved_stderr = stderr;
	stderr = open_memstream(&vx_err_buf, &vx_err_len);
	if (!stderr)
		abort();
}

/* Ends the capture; returns whether the captured text contains substr. */
static inline int vx_quiet_end(const char *substr)
{
	fclose(stderr);
	stderr = vx_saved_stderr;
	int found = vx_err_buf && strstr(vx_err_buf, substr) != NULL;
	free(vx_err_buf);
	vx_err_buf = NULL;
	return found;
}

#endif
