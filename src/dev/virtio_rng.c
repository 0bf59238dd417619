/*
 * virtio-rng (virtio 1.x, section 5.4): one queue of device-writable
 * buffers that the device fills with entropy from the host's getrandom().
 *
 * Requests are served at once on the notifying thread. A request gets at
 * most RNG_CHUNK bytes, whatever size the guest asks for, so one kick costs
 * a bounded time; the used length tells the driver how much it got.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/random.h>

#include "virtio_mmio.h"

#define RNG_QUEUE_SIZE 64
#define RNG_CHUNK      (64 * 1024)

struct virtio_rng {
	struct virtio_dev dev;          /* first: the core's pointer is ours */
	struct virtq_req req;
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

static void rng_queue_notify(struct virtio_dev *d, unsigned q)
{
	struct virtio_rng *rng = (struct virtio_rng *)d;
	while (virtio_dev_pop(d, q, &rng->req) > 0)
		virtio_dev_push(d, q, rng->req.head, rng_serve(&rng->req));
}

static void rng_destroy(struct virtio_dev *d)
{
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
	return &rng->dev;
}
