/*
 * virtio-rng (virtio 1.x, section 5.4): one queue of device-writable
 * buffers that the device fills with entropy from the host's getrandom().
 *
 * A notification only wakes the device's thread, which fills the buffers:
 * vCPU threads make no system call but the wake-up (their seccomp list
 * stays short). A request gets at most RNG_CHUNK bytes, whatever size the
 * guest asks for, so one wake-up costs a bounded time; the used length
 * tells the driver how much it got.
 */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/eventfd.h>
#include <sys/random.h>
#include <unistd.h>

#include "virtio_mmio.h"

#define RNG_QUEUE_SIZE 64
#define RNG_CHUNK      (64 * 1024)

struct virtio_rng {
	struct virtio_dev dev;          /* first: the core's pointer is ours */
	int kick_fd;                    /* eventfd: the driver made buffers available */
	int stop_fd;
	pthread_t thread;
	int thread_started;
	struct virtq_req req;           /* under dev.lock */
};

/* Fills buf from the host's pool; returns the bytes obtained. */
static size_t rng_fill(void *buf, size_t len)
{
	size_t done = 0;
	while (done < len) {
		ssize_t n = getrandom((char *)buf + done, len - done, 0);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		done += (size_t)n;
	}
	return done;
}

/* Fills the writable part of a chain, up to RNG_CHUNK; returns the bytes written. */
static uint32_t rng_serve(const struct virtq_req *r)
{
	const struct iovec *in = r->iov + r->n_out;
	uint32_t total = 0;
	for (unsigned i = 0; i < r->n_in && total < RNG_CHUNK; i++) {
		size_t want = in[i].iov_len;
		if (want > RNG_CHUNK - total)
			want = RNG_CHUNK - total;
		size_t got = rng_fill(in[i].iov_base, want);
		total += (uint32_t)got;
		if (got < want)
			break;
	}
	return total;
}

/* Serves every available request (lock held). */
static void rng_serve_queue(struct virtio_rng *rng)
{
	struct virtio_dev *d = &rng->dev;
	int pushed = 0;
	while (virtio_dev_pop(d, 0, &rng->req) > 0) {
		virtq_push(&d->vq[0], rng->req.head, rng_serve(&rng->req));
		pushed = 1;
	}
	if (pushed)
		virtio_dev_interrupt(d, 0);
}

static void rng_queue_notify(struct virtio_dev *d, unsigned q)
{
	(void)q;
	virtio_event_signal(((struct virtio_rng *)d)->kick_fd);
}

static void *rng_thread(void *arg)
{
	struct virtio_rng *rng = arg;
	struct pollfd p[2] = { { .fd = rng->kick_fd, .events = POLLIN },
			       { .fd = rng->stop_fd, .events = POLLIN } };
	for (;;) {
		if (poll(p, 2, -1) < 0) {
			if (errno == EINTR)
				continue;
			break;
		}
		if (p[1].revents)
			break;
		virtio_event_drain(rng->kick_fd);
		pthread_mutex_lock(&rng->dev.lock);
		rng_serve_queue(rng);
		pthread_mutex_unlock(&rng->dev.lock);
	}
	return NULL;
}

static void rng_destroy(struct virtio_dev *d)
{
	struct virtio_rng *rng = (struct virtio_rng *)d;
	if (rng->thread_started) {
		virtio_event_signal(rng->stop_fd);
		pthread_join(rng->thread, NULL);
	}
	if (rng->kick_fd >= 0)
		close(rng->kick_fd);
	if (rng->stop_fd >= 0)
		close(rng->stop_fd);
	virtio_dev_fini(d);
	free(d);
}

static const struct virtio_dev_ops rng_ops = {
	.queue_notify = rng_queue_notify,
	.destroy = rng_destroy,
};

struct virtio_dev *virtio_rng_create(struct vm *vm)
{
	struct virtio_rng *rng = calloc(1, sizeof(*rng));
	if (!rng) {
		fprintf(stderr, "runvm: out of memory for virtio-rng\n");
		return NULL;
	}
	virtio_dev_init(&rng->dev, vm, "virtio-rng", VIRTIO_ID_RNG, &rng_ops, 1, RNG_QUEUE_SIZE, 0, 0);
	rng->kick_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	rng->stop_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (rng->kick_fd < 0 || rng->stop_fd < 0) {
		fprintf(stderr, "runvm: virtio-rng: eventfd: %m\n");
		rng_destroy(&rng->dev);
		return NULL;
	}
	if (virtio_thread_start(&rng->thread, rng_thread, rng, "virtio-rng") < 0) {
		rng_destroy(&rng->dev);
		return NULL;
	}
	rng->thread_started = 1;
	return &rng->dev;
}
