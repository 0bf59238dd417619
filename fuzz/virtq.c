/*
 * Fuzzes the split-virtqueue walker (src/dev/virtio.c) that every virtio
 * device uses on guest-supplied rings: descriptor tables, available and
 * used rings, indirect tables, chains, as a hostile driver lays them out.
 *
 * Layout: byte 0 the ring size (1 << (b % 9)), byte 1 the features
 * (bit 0 indirect descriptors, bit 1 EVENT_IDX), 3 bytes each for the
 * descriptor table, available ring and used ring addresses (some past the
 * 2 MiB of RAM), a count and that many operations, then the first bytes of
 * guest RAM (rings and indirect tables). Every segment of every chain the
 * walker accepts must lie inside guest RAM, with lengths that add up.
 */
#include "fuzz.h"
#include "dev/virtio.h"

#define RAM_SIZE  (2u << 20)
#define IMAGE_MAX (64u << 10)

static struct guest_mem mem;
static struct virtq vq;
static struct virtq_req req;

static void check_chain(void)
{
	uint64_t out = 0, in = 0;
	FUZZ_ASSERT(req.n_out + req.n_in <= VIRTQ_SEG_MAX);
	for (unsigned i = 0; i < req.n_out + req.n_in; i++) {
		const uint8_t *p = req.iov[i].iov_base;
		size_t len = req.iov[i].iov_len;
		FUZZ_ASSERT(len > 0);
		FUZZ_ASSERT(p >= mem.host && len <= mem.size && p - mem.host <= (ptrdiff_t)(mem.size - len));
		if (i < req.n_out)
			out += len;
		else
			in += len;
	}
	FUZZ_ASSERT(out == req.out_len && in == req.in_len);
	FUZZ_ASSERT(req.head < vq.num);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (!mem.host && guest_mem_init(&mem, RAM_SIZE) < 0)
		abort();
	fuzz_capture_messages();
	struct fz f = { data, size, 0 };
	unsigned num = 1u << (fz_take(&f, 1) % 9);
	unsigned feat = (unsigned)fz_take(&f, 1);
	memset(&vq, 0, sizeof(vq));
	vq.num_max = VIRTQ_NUM_MAX;
	virtq_reset(&vq);
	vq.num = (uint16_t)num;
	vq.indirect = feat & 1;
	vq.event_idx = (feat >> 1) & 1;
	vq.desc_gpa = fz_take(&f, 3);
	vq.avail_gpa = fz_take(&f, 3);
	vq.used_gpa = fz_take(&f, 3);
	unsigned nops = (unsigned)fz_take(&f, 1);
	uint8_t ops[256];
	for (unsigned i = 0; i < nops; i++)
		ops[i] = (uint8_t)fz_take(&f, 1);
	memset(mem.host, 0, IMAGE_MAX);
	size_t img = f.pos < size ? size - f.pos : 0;
	memcpy(mem.host, data + f.pos, img < IMAGE_MAX ? img : IMAGE_MAX);

	if (virtq_start(&vq, &mem) < 0) {
		FUZZ_ASSERT(vq.error != NULL);
		return 0;
	}
	int popped = 0;
	for (unsigned i = 0; i < nops; i++) {
		switch (ops[i] & 3) {
		case 0:
		case 1: {
			int r = virtq_pop(&vq, &mem, &req);
			if (r < 0) {
				FUZZ_ASSERT(vq.error != NULL);
				return 0;       /* broken: the device stops using the queue */
			}
			popped = r;
			if (r == 1) {
				check_chain();
				if (ops[i] & 1)
					virtq_push(&vq, req.head, (uint32_t)(req.in_len >> (ops[i] >> 5)));
			}
			break;
		}
		case 2:
			if (popped)
				virtq_unpop(&vq);
			popped = 0;
			break;
		default:
			virtq_need_interrupt(&vq);
			break;
		}
	}
	return 0;
}
