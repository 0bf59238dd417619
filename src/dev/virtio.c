/*
 * The split virtqueue (virtio 1.x, section 2.7) and the device core.
 *
 * The walker copies each descriptor out of guest memory once and checks
 * the copy, so a guest changing a ring under our feet gets, at worst, a
 * chain that is well-formed but meaningless to it. Bounds:
 *   - the avail index may run at most num entries ahead of what we took;
 *   - a head and every next index must be below num (or the table size);
 *   - a direct chain visits at most num descriptors, an indirect table at
 *     most its own size: a loop ends there instead of spinning;
 *   - every buffer is RAM as a whole (guest_ptr), segments are bounded by
 *     VIRTQ_SEG_MAX, readable ones come before writable ones.
 * Ring indices are free-running 16-bit counters; only their difference and
 * their value modulo num (a power of two) matter, so wrapping is natural.
 */
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../vmm/seccomp.h"
#include "../vmm/vm.h"
#include "device.h"
#include "virtio.h"

/* --- Ring access ----------------------------------------------------------- */

/*
 * The rings are shared with guest vCPUs: the avail index is read with
 * acquire (the entries it covers are written before it), the used index is
 * published with release (the entries go first). Alignment was checked in
 * virtq_start(), so these are single aligned accesses.
 */
static uint16_t ring_load16(const uint8_t *p)
{
	return __atomic_load_n((const uint16_t *)(const void *)p, __ATOMIC_ACQUIRE);
}

static void ring_store16(uint8_t *p, uint16_t v)
{
	__atomic_store_n((uint16_t *)(void *)p, v, __ATOMIC_RELEASE);
}

static void ring_store32(uint8_t *p, uint32_t v)
{
	__atomic_store_n((uint32_t *)(void *)p, v, __ATOMIC_RELAXED);
}

/* avail: flags, idx, ring[num], used_event.  used: flags, idx, ring[num] of {id, len}, avail_event. */
#define AVAIL_FLAGS(vq)        ((vq)->avail)
#define AVAIL_IDX(vq)          ((vq)->avail + 2)
#define AVAIL_RING(vq, i)      ((vq)->avail + 4 + 2 * (size_t)(i))
#define AVAIL_USED_EVENT(vq)   ((vq)->avail + 4 + 2 * (size_t)(vq)->num)
#define USED_IDX(vq)           ((vq)->used + 2)
#define USED_RING(vq, i)       ((vq)->used + 4 + 8 * (size_t)(i))
#define USED_AVAIL_EVENT(vq)   ((vq)->used + 4 + 8 * (size_t)(vq)->num)

void virtq_reset(struct virtq *vq)
{
	uint16_t max = vq->num_max;
	memset(vq, 0, sizeof(*vq));
	vq->num_max = max;
	vq->num = max;
}

/* The host address of a ring of len bytes at gpa with the given alignment, or NULL. */
static uint8_t *map_ring(const struct guest_mem *m, uint64_t gpa, uint64_t len, unsigned align)
{
	if (gpa % align)
		return NULL;
	uint8_t *p = guest_ptr(m, gpa, len);
	if (!p || (uintptr_t)p % align)
		return NULL;
	return p;
}

static int queue_fail(struct virtq *vq, const char *why)
{
	vq->error = why;
	return -1;
}

int virtq_start(struct virtq *vq, const struct guest_mem *m)
{
	uint32_t n = vq->num;
	vq->ready = 0;
	vq->error = NULL;
	if (n == 0 || n > vq->num_max || (n & (n - 1)))
		return queue_fail(vq, "the queue size is not a power of two up to the maximum");
	/* The avail and used rings include their event fields even without EVENT_IDX. */
	vq->desc = map_ring(m, vq->desc_gpa, 16ULL * n, 16);
	vq->avail = map_ring(m, vq->avail_gpa, 6 + 2ULL * n, 2);
	vq->used = map_ring(m, vq->used_gpa, 6 + 8ULL * n, 4);
	if (!vq->desc)
		return queue_fail(vq, "the descriptor table is not aligned RAM");
	if (!vq->avail)
		return queue_fail(vq, "the available ring is not aligned RAM");
	if (!vq->used)
		return queue_fail(vq, "the used ring is not aligned RAM");
	vq->last_avail = vq->used_idx = 0;
	vq->signalled_used = 0;
	vq->signalled_valid = 0;
	vq->ready = 1;
	return 0;
}

/* --- Chains ------------------------------------------------------------------ */

struct chain_walk {
	struct virtq *vq;
	const struct guest_mem *mem;
	struct virtq_req *req;
	int seen_writable;
};

static int add_segment(struct chain_walk *w, const struct virtq_desc *d)
{
	struct virtq_req *r = w->req;
	int writable = d->flags & VIRTQ_DESC_F_WRITE;

	if (!writable && w->seen_writable)
		return queue_fail(w->vq, "a device-readable descriptor follows a device-writable one");
	w->seen_writable |= writable;
	if (d->len == 0)
		return 0;
	void *p = guest_ptr(w->mem, d->addr, d->len);
	if (!p)
		return queue_fail(w->vq, "a descriptor's buffer is not RAM");
	if (r->n_out + r->n_in >= VIRTQ_SEG_MAX)
		return queue_fail(w->vq, "a descriptor chain has too many segments");
	r->iov[r->n_out + r->n_in] = (struct iovec){ .iov_base = p, .iov_len = d->len };
	if (writable) {
		r->n_in++;
		r->in_len += d->len;
	} else {
		r->n_out++;
		r->out_len += d->len;
	}
	return 0;
}

/* Follows the chain of an indirect table (section 2.7.5.3). */
static int walk_indirect(struct chain_walk *w, const struct virtq_desc *ind)
{
	if (!w->vq->indirect)
		return queue_fail(w->vq, "an indirect descriptor without VIRTIO_RING_F_INDIRECT_DESC");
	if (ind->flags & VIRTQ_DESC_F_NEXT)
		return queue_fail(w->vq, "an indirect descriptor with VIRTQ_DESC_F_NEXT");
	if (ind->len == 0 || ind->len % sizeof(struct virtq_desc))
		return queue_fail(w->vq, "an indirect table's length is not a multiple of 16");
	uint32_t n = ind->len / sizeof(struct virtq_desc);
	if (n > VIRTQ_SEG_MAX)
		return queue_fail(w->vq, "an indirect table is too long");
	const uint8_t *table = guest_ptr(w->mem, ind->addr, ind->len);
	if (!table)
		return queue_fail(w->vq, "an indirect table is not RAM");

	uint32_t i = 0;
	for (uint32_t steps = 0;; steps++) {
		struct virtq_desc d;
		if (steps >= n)
			return queue_fail(w->vq, "an indirect chain is longer than its table (a loop)");
		memcpy(&d, table + i * sizeof(d), sizeof(d));
		if (d.flags & VIRTQ_DESC_F_INDIRECT)
			return queue_fail(w->vq, "an indirect table holds an indirect descriptor");
		if (add_segment(w, &d) < 0)
			return -1;
		if (!(d.flags & VIRTQ_DESC_F_NEXT))
			return 0;
		i = d.next;
		if (i >= n)
			return queue_fail(w->vq, "an indirect descriptor's next index is out of its table");
	}
}

static int walk_chain(struct chain_walk *w, uint16_t head)
{
	struct virtq *vq = w->vq;
	uint16_t i = head;

	for (uint32_t steps = 0;; steps++) {
		struct virtq_desc d;
		if (steps >= vq->num)
			return queue_fail(vq, "a descriptor chain is longer than the ring (a loop)");
		memcpy(&d, vq->desc + (size_t)i * sizeof(d), sizeof(d));
		if (d.flags & VIRTQ_DESC_F_INDIRECT)
			return walk_indirect(w, &d);
		if (add_segment(w, &d) < 0)
			return -1;
		if (!(d.flags & VIRTQ_DESC_F_NEXT))
			return 0;
		i = d.next;
		if (i >= vq->num)
			return queue_fail(vq, "a descriptor's next index is out of the ring");
	}
}

/* True when avail holds entries we have not taken; with EVENT_IDX, asks to be told of the next. */
static int avail_pending(struct virtq *vq, uint16_t *avail_idx)
{
	*avail_idx = ring_load16(AVAIL_IDX(vq));
	if (*avail_idx != vq->last_avail || !vq->event_idx)
		return *avail_idx != vq->last_avail;
	/*
	 * Empty: publish how far we got, so the driver notifies when it adds
	 * past it, then look again in case it added one meanwhile.
	 */
	ring_store16(USED_AVAIL_EVENT(vq), vq->last_avail);
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	*avail_idx = ring_load16(AVAIL_IDX(vq));
	return *avail_idx != vq->last_avail;
}

int virtq_pop(struct virtq *vq, const struct guest_mem *m, struct virtq_req *req)
{
	uint16_t avail_idx;

	if (vq->error)
		return -1;
	if (!vq->ready || !avail_pending(vq, &avail_idx))
		return 0;
	if ((uint16_t)(avail_idx - vq->last_avail) > vq->num)
		return queue_fail(vq, "the available index ran more than the ring size ahead");

	uint16_t head = ring_load16(AVAIL_RING(vq, vq->last_avail & (vq->num - 1)));
	if (head >= vq->num)
		return queue_fail(vq, "an available ring entry is out of the ring");

	struct chain_walk w = { .vq = vq, .mem = m, .req = req };
	req->head = head;
	req->n_out = req->n_in = 0;
	req->out_len = req->in_len = 0;
	if (walk_chain(&w, head) < 0)
		return -1;
	vq->last_avail++;
	return 1;
}

void virtq_unpop(struct virtq *vq)
{
	vq->last_avail--;
}

void virtq_push(struct virtq *vq, uint16_t head, uint32_t len)
{
	if (!vq->ready)
		return;
	uint8_t *e = USED_RING(vq, vq->used_idx & (vq->num - 1));
	ring_store32(e, head);
	ring_store32(e + 4, len);
	vq->used_idx++;
	ring_store16(USED_IDX(vq), vq->used_idx);
}

int virtq_need_interrupt(struct virtq *vq)
{
	if (!vq->ready)
		return 0;
	/* The used index must be visible before we read what the driver wants. */
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	uint16_t old = vq->signalled_used, now = vq->used_idx;
	int valid = vq->signalled_valid;
	vq->signalled_used = now;
	vq->signalled_valid = 1;
	if (!vq->event_idx)
		return !(ring_load16(AVAIL_FLAGS(vq)) & VIRTQ_AVAIL_F_NO_INTERRUPT);
	if (!valid)
		return 1;
	/* Interrupt when used_event lies in (old, now]: section 2.7.7.2. */
	uint16_t event = ring_load16(AVAIL_USED_EVENT(vq));
	return (uint16_t)(now - event - 1) < (uint16_t)(now - old);
}

/* --- Scatter-gather ---------------------------------------------------------- */

size_t iov_copy_out(const struct iovec *iov, unsigned n, uint64_t off, void *buf, size_t len)
{
	size_t done = 0;
	for (unsigned i = 0; i < n && done < len; i++) {
		if (off >= iov[i].iov_len) {
			off -= iov[i].iov_len;
			continue;
		}
		size_t k = iov[i].iov_len - off;
		if (k > len - done)
			k = len - done;
		memcpy((uint8_t *)buf + done, (uint8_t *)iov[i].iov_base + off, k);
		done += k;
		off = 0;
	}
	return done;
}

size_t iov_copy_in(const struct iovec *iov, unsigned n, uint64_t off, const void *buf, size_t len)
{
	size_t done = 0;
	for (unsigned i = 0; i < n && done < len; i++) {
		if (off >= iov[i].iov_len) {
			off -= iov[i].iov_len;
			continue;
		}
		size_t k = iov[i].iov_len - off;
		if (k > len - done)
			k = len - done;
		memcpy((uint8_t *)iov[i].iov_base + off, (const uint8_t *)buf + done, k);
		done += k;
		off = 0;
	}
	return done;
}

int iov_range(const struct iovec *iov, unsigned n, uint64_t off, uint64_t len,
	      struct iovec *out, unsigned max)
{
	unsigned k = 0;
	for (unsigned i = 0; i < n && len; i++) {
		if (off >= iov[i].iov_len) {
			off -= iov[i].iov_len;
			continue;
		}
		uint64_t take = iov[i].iov_len - off;
		if (take > len)
			take = len;
		if (k >= max)
			return -1;
		out[k++] = (struct iovec){ .iov_base = (uint8_t *)iov[i].iov_base + off, .iov_len = take };
		len -= take;
		off = 0;
	}
	return (int)k;
}

/* --- The device core --------------------------------------------------------- */

void virtio_dev_init(struct virtio_dev *d, struct vm *vm, const char *name, uint32_t device_id,
		     const struct virtio_dev_ops *ops, unsigned nqueues, uint16_t qsize,
		     uint64_t features, unsigned config_len)
{
	snprintf(d->name, sizeof(d->name), "%s", name);
	d->device_id = device_id;
	d->ops = ops;
	d->vm = vm;
	d->mem = &vm->mem;
	pthread_mutex_init(&d->lock, NULL);
	d->host_features = features | (1ULL << VIRTIO_F_VERSION_1) |
			   (1ULL << VIRTIO_RING_F_INDIRECT_DESC) | (1ULL << VIRTIO_RING_F_EVENT_IDX);
	d->nqueues = nqueues < VIRTIO_MAX_QUEUES ? nqueues : VIRTIO_MAX_QUEUES;
	for (unsigned q = 0; q < d->nqueues; q++) {
		d->vq[q].num_max = qsize <= VIRTQ_NUM_MAX ? qsize : VIRTQ_NUM_MAX;
		virtq_reset(&d->vq[q]);
	}
	d->config_len = config_len < VIRTIO_CONFIG_MAX ? config_len : VIRTIO_CONFIG_MAX;
}

void virtio_dev_fini(struct virtio_dev *d)
{
	pthread_mutex_destroy(&d->lock);
}

int virtio_dev_running(const struct virtio_dev *d)
{
	const uint8_t need = VIRTIO_STATUS_DRIVER_OK | VIRTIO_STATUS_FEATURES_OK;
	const uint8_t stop = VIRTIO_STATUS_NEEDS_RESET | VIRTIO_STATUS_FAILED;
	return (d->status & need) == need && !(d->status & stop);
}

int virtio_dev_has_feature(const struct virtio_dev *d, unsigned bit)
{
	return bit < 64 && (d->guest_features >> bit) & 1;
}

static void irq_update(struct virtio_dev *d)
{
	if (d->irq_update)
		d->irq_update(d);
}

#define MAX_FAILURE_REPORTS 8

void virtio_dev_needs_reset(struct virtio_dev *d, const char *fmt, ...)
{
	if (!(d->status & VIRTIO_STATUS_NEEDS_RESET) && d->failures_reported < MAX_FAILURE_REPORTS) {
		va_list ap;
		va_start(ap, fmt);
		fprintf(stderr, "runvm: %s: ", d->name);
		vfprintf(stderr, fmt, ap);
		fprintf(stderr, "; the device needs a reset%s\n",
			++d->failures_reported == MAX_FAILURE_REPORTS ? " (further reports suppressed)" : "");
		va_end(ap);
	}
	d->status |= VIRTIO_STATUS_NEEDS_RESET;
	if (d->status & VIRTIO_STATUS_DRIVER_OK) {
		d->isr |= VIRTIO_ISR_CONFIG;
		irq_update(d);
	}
}

int virtio_dev_pop(struct virtio_dev *d, unsigned q, struct virtq_req *req)
{
	if (q >= d->nqueues || !virtio_dev_running(d))
		return 0;
	int r = virtq_pop(&d->vq[q], d->mem, req);
	if (r < 0)
		virtio_dev_needs_reset(d, "queue %u: %s", q, d->vq[q].error);
	return r;
}

void virtio_dev_interrupt(struct virtio_dev *d, unsigned q)
{
	if (q < d->nqueues && virtq_need_interrupt(&d->vq[q])) {
		d->isr |= VIRTIO_ISR_VRING;
		irq_update(d);
	}
}

void virtio_dev_push(struct virtio_dev *d, unsigned q, uint16_t head, uint32_t len)
{
	if (q >= d->nqueues)
		return;
	virtq_push(&d->vq[q], head, len);
	virtio_dev_interrupt(d, q);
}

void virtio_dev_reset(struct virtio_dev *d)
{
	/* Status first: completions that race with the drain see a stopped device. */
	d->status = 0;
	if (d->ops->reset)
		d->ops->reset(d);
	d->guest_features = 0;
	d->isr = 0;
	for (unsigned q = 0; q < d->nqueues; q++)
		virtq_reset(&d->vq[q]);
	irq_update(d);
}

/* FEATURES_OK holds only for a subset of ours that includes VERSION_1. */
static int features_acceptable(const struct virtio_dev *d)
{
	return !(d->guest_features & ~d->host_features) &&
	       virtio_dev_has_feature(d, VIRTIO_F_VERSION_1);
}

void virtio_dev_queue_kick(struct virtio_dev *d, unsigned q)
{
	if (q < d->nqueues && d->vq[q].ready && virtio_dev_running(d))
		d->ops->queue_notify(d, q);
}

void virtio_dev_set_status(struct virtio_dev *d, uint8_t status)
{
	uint8_t old = d->status;
	if (status == 0) {
		virtio_dev_reset(d);
		return;
	}
	if ((status & VIRTIO_STATUS_FEATURES_OK) && !(old & VIRTIO_STATUS_FEATURES_OK) &&
	    !features_acceptable(d))
		status &= ~VIRTIO_STATUS_FEATURES_OK;
	/* NEEDS_RESET is the device's to set, and only a reset clears it. */
	d->status = (status & ~VIRTIO_STATUS_NEEDS_RESET) | (old & VIRTIO_STATUS_NEEDS_RESET);
	/* Buffers made available before DRIVER_OK are taken now. */
	if ((status & VIRTIO_STATUS_DRIVER_OK) && !(old & VIRTIO_STATUS_DRIVER_OK))
		for (unsigned q = 0; q < d->nqueues; q++)
			virtio_dev_queue_kick(d, q);
}

void virtio_dev_set_queue_ready(struct virtio_dev *d, unsigned q, int ready)
{
	if (q >= d->nqueues)
		return;
	struct virtq *vq = &d->vq[q];
	if (!ready) {
		vq->ready = 0;
		return;
	}
	if (vq->ready)
		return;
	vq->event_idx = virtio_dev_has_feature(d, VIRTIO_RING_F_EVENT_IDX);
	vq->indirect = virtio_dev_has_feature(d, VIRTIO_RING_F_INDIRECT_DESC);
	if (virtq_start(vq, d->mem) < 0)
		virtio_dev_needs_reset(d, "queue %u: %s", q, vq->error);
}

void virtio_dev_ack_interrupt(struct virtio_dev *d, uint8_t bits)
{
	d->isr &= ~bits;
	irq_update(d);
}

uint64_t virtio_dev_config_read(struct virtio_dev *d, unsigned offset, unsigned size)
{
	return buf_read(d->config, d->config_len, offset, size);
}

void virtio_dev_config_write(struct virtio_dev *d, unsigned offset, uint64_t value, unsigned size)
{
	if (d->ops->config_write && offset < d->config_len)
		d->ops->config_write(d, offset, value, size);
}

void virtio_config_put(struct virtio_dev *d, unsigned offset, uint64_t value, unsigned size)
{
	buf_write(d->config, d->config_len, offset, value, size);
}

/* --- Threads ------------------------------------------------------------------ */

/* Every device thread confines itself (seccomp) before it touches guest data. */
struct thread_start {
	void *(*fn)(void *);
	void *arg;
};

static void *confined_thread(void *p)
{
	struct thread_start s = *(struct thread_start *)p;
	free(p);
	seccomp_enter_or_exit(SECCOMP_DEVICE);
	return s.fn(s.arg);
}

int virtio_thread_start(pthread_t *t, void *(*fn)(void *), void *arg, const char *name)
{
	static const int faults[] = { SIGSEGV, SIGBUS, SIGFPE, SIGILL, SIGTRAP, SIGSYS, SIGABRT };
	sigset_t all, old;
	sigfillset(&all);
	for (size_t i = 0; i < sizeof(faults) / sizeof(faults[0]); i++)
		sigdelset(&all, faults[i]);
	struct thread_start *s = malloc(sizeof(*s));
	if (!s) {
		fprintf(stderr, "runvm: cannot start the %s thread: out of memory\n", name);
		return -1;
	}
	*s = (struct thread_start){ fn, arg };
	pthread_sigmask(SIG_SETMASK, &all, &old);
	int r = pthread_create(t, NULL, confined_thread, s);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (r != 0) {
		free(s);
		fprintf(stderr, "runvm: cannot start the %s thread: %s\n", name, strerror(r));
		return -1;
	}
	char short_name[16];
	snprintf(short_name, sizeof(short_name), "%s", name);
	pthread_setname_np(*t, short_name);
	return 0;
}

void virtio_event_signal(int fd)
{
	uint64_t one = 1;
	if (write(fd, &one, sizeof(one)) < 0) {
		/* An eventfd counter does not overflow in practice. */
	}
}

void virtio_event_drain(int fd)
{
	uint64_t v;
	if (read(fd, &v, sizeof(v)) < 0) {
		/* Nothing pending (non-blocking): fine. */
	}
}
