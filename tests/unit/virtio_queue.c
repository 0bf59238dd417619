/*
 * The split-virtqueue walker against well-formed and hostile rings: loops,
 * out-of-range indices and addresses, addresses in the MMIO hole, zero and
 * huge lengths, wrapped indices, over-long chains, indirect tables, and a
 * random ring soup that must neither crash nor hang.
 */
#include "virtio_fixture.h"

#define NUM 8

static struct virtq vq;
static struct virtq_req req;

/* A queue of NUM entries on the fixture's rings for queue 0. */
static void q_setup(int indirect, int event_idx)
{
	memset(vx_mem(VX_DESC(0), 0x3000), 0, 0x3000);
	memset(&vq, 0, sizeof(vq));
	vq.num_max = VIRTQ_NUM_MAX;
	virtq_reset(&vq);
	vq.num = NUM;
	vq.desc_gpa = VX_DESC(0);
	vq.avail_gpa = VX_AVAIL(0);
	vq.used_gpa = VX_USED(0);
	vq.indirect = indirect;
	vq.event_idx = event_idx;
	CHECK_EQ(virtq_start(&vq, &vm.mem), 0);
}

/* Makes head available as the entry at avail index idx, and the index idx + 1. */
static void offer(uint16_t idx, uint16_t head)
{
	vx_set_avail_entry(0, NUM, idx, head);
	vx_set_avail_idx(0, (uint16_t)(idx + 1));
}

static int pop(void)
{
	return virtq_pop(&vq, &vm.mem, &req);
}

/* Every segment lies inside guest RAM. */
static int iov_in_ram(void)
{
	for (unsigned i = 0; i < req.n_out + req.n_in; i++) {
		uint8_t *p = req.iov[i].iov_base;
		if (p < vm.mem.host || p + req.iov[i].iov_len > vm.mem.host + vm.mem.size)
			return 0;
	}
	return 1;
}

static void test_normal_chain(void)
{
	q_setup(0, 0);
	vx_set_desc(0, 3, 0x200000, 16, VIRTQ_DESC_F_NEXT, 5);
	vx_set_desc(0, 5, 0x201000, 512, VIRTQ_DESC_F_NEXT | VX_W, 1);
	vx_set_desc(0, 1, 0x202000, 1, VX_W, 0);
	offer(0, 3);
	CHECK_EQ(pop(), 1);
	CHECK_EQ(req.head, 3);
	CHECK_EQ(req.n_out, 1);
	CHECK_EQ(req.n_in, 2);
	CHECK_EQ(req.out_len, 16);
	CHECK_EQ(req.in_len, 513);
	CHECK(req.iov[0].iov_base == vx_mem(0x200000, 16));
	CHECK(req.iov[1].iov_base == vx_mem(0x201000, 512));
	CHECK(req.iov[2].iov_base == vx_mem(0x202000, 1));
	CHECK_EQ(pop(), 0);             /* empty now */

	virtq_push(&vq, 3, 513);
	CHECK_EQ(vx_used_idx(0), 1);
	CHECK_EQ(vx_used_id(0, NUM, 0), 3);
	CHECK_EQ(vx_used_len(0, NUM, 0), 513);
}

static void expect_broken(const char *what)
{
	int r = pop();
	if (r != -1 || !vq.error)
		fprintf(stderr, "%s: pop gave %d, error %s\n", what, r, vq.error ? vq.error : "none");
	CHECK_EQ(r, -1);
	CHECK(vq.error != NULL);
	/* A broken queue stays broken: nothing more is taken from it. */
	CHECK_EQ(pop(), -1);
}

static void test_descriptor_loop(void)
{
	q_setup(0, 0);
	vx_set_desc(0, 0, 0x200000, 16, VIRTQ_DESC_F_NEXT, 1);
	vx_set_desc(0, 1, 0x200100, 16, VIRTQ_DESC_F_NEXT, 0);
	offer(0, 0);
	expect_broken("two-descriptor loop");

	q_setup(0, 0);
	vx_set_desc(0, 2, 0x200000, 16, VIRTQ_DESC_F_NEXT, 2);
	offer(0, 2);
	expect_broken("self loop");

	/* A chain through every descriptor and back into the middle. */
	q_setup(0, 0);
	for (uint16_t i = 0; i < NUM; i++)
		vx_set_desc(0, i, 0x200000 + 0x100 * i, 16, VIRTQ_DESC_F_NEXT, i + 1 < NUM ? i + 1 : 4);
	offer(0, 0);
	expect_broken("loop after a full walk");
	CHECK(strstr(vq.error, "longer than the ring"));
}

static void test_longest_chain_is_fine(void)
{
	q_setup(0, 0);
	for (uint16_t i = 0; i < NUM; i++)
		vx_set_desc(0, i, 0x200000 + 0x100 * i, 16,
			    i + 1 < NUM ? VIRTQ_DESC_F_NEXT : 0, (uint16_t)(i + 1));
	offer(0, 0);
	CHECK_EQ(pop(), 1);
	CHECK_EQ(req.n_out, NUM);
}

static void test_indices_out_of_range(void)
{
	q_setup(0, 0);
	vx_set_desc(0, 0, 0x200000, 16, VIRTQ_DESC_F_NEXT, NUM);
	offer(0, 0);
	expect_broken("next index == num");

	q_setup(0, 0);
	offer(0, NUM);
	expect_broken("head == num");

	q_setup(0, 0);
	offer(0, 0xffff);
	expect_broken("head 0xffff");

	/* The driver claims more new entries than the ring holds. */
	q_setup(0, 0);
	vx_set_desc(0, 0, 0x200000, 16, 0, 0);
	vx_set_avail_idx(0, NUM + 1);
	expect_broken("avail index too far ahead");
	CHECK(strstr(vq.error, "ahead"));
}

static void test_wrapped_indices(void)
{
	q_setup(0, 0);
	/* Start just below the 16-bit wrap, as after 65534 requests. */
	vq.last_avail = 0xfffe;
	vq.used_idx = 0xfffe;
	for (uint16_t i = 0; i < 4; i++)
		vx_set_desc(0, i, 0x200000 + 0x100 * i, 8, 0, 0);
	for (uint16_t k = 0; k < 4; k++)
		vx_set_avail_entry(0, NUM, (uint16_t)(0xfffe + k), k);
	vx_set_avail_idx(0, 2);         /* 0xfffe, 0xffff, 0, 1: four entries */
	for (uint16_t k = 0; k < 4; k++) {
		CHECK_EQ(pop(), 1);
		CHECK_EQ(req.head, k);
		virtq_push(&vq, req.head, k);
	}
	CHECK_EQ(pop(), 0);
	CHECK_EQ(vq.last_avail, 2);
	CHECK_EQ(vx_used_idx(0), 2);
	CHECK_EQ(vx_used_id(0, NUM, 0xffff), 1);
	CHECK_EQ(vx_used_id(0, NUM, 1), 3);
}

static void test_bad_addresses(void)
{
	static const struct { uint64_t addr; uint32_t len; const char *what; } bad[] = {
		{ 64ULL << 20, 16, "just past the end of RAM" },
		{ (64ULL << 20) - 8, 16, "straddling the end of RAM" },
		{ MEM_HOLE_START, 16, "in the MMIO hole" },
		{ VIRTIO_MMIO_BASE, 0x200, "on a virtio register page" },
		{ IOAPIC_ADDR, 4, "on the I/O APIC" },
		{ 0x1000, 0xffffffffu, "a huge length" },
		{ 0xfffffffffffff000ULL, 0x2000, "wrapping the address space" },
		{ 1ULL << 52, 1, "far above RAM" },
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		q_setup(0, 0);
		vx_set_desc(0, 0, 0x200000, 16, VIRTQ_DESC_F_NEXT, 1);
		vx_set_desc(0, 1, bad[i].addr, bad[i].len, VX_W, 0);
		offer(0, 0);
		expect_broken(bad[i].what);
	}
}

static void test_zero_length(void)
{
	q_setup(0, 0);
	/* Zero-length buffers anywhere (even at a non-RAM address) give no segment. */
	vx_set_desc(0, 0, 0x200000, 0, VIRTQ_DESC_F_NEXT, 1);
	vx_set_desc(0, 1, MEM_HOLE_START, 0, VIRTQ_DESC_F_NEXT | VX_W, 2);
	vx_set_desc(0, 2, 0x201000, 4, VX_W, 0);
	offer(0, 0);
	CHECK_EQ(pop(), 1);
	CHECK_EQ(req.n_out, 0);
	CHECK_EQ(req.n_in, 1);
	CHECK_EQ(req.in_len, 4);
}

static void test_readable_after_writable(void)
{
	q_setup(0, 0);
	vx_set_desc(0, 0, 0x200000, 16, VIRTQ_DESC_F_NEXT | VX_W, 1);
	vx_set_desc(0, 1, 0x201000, 16, 0, 0);
	offer(0, 0);
	expect_broken("readable after writable");
	CHECK(strstr(vq.error, "readable"));
}

static void test_high_memory_and_hole(void)
{
	/* 3.25 GiB: RAM below the hole up to 3 GiB, and 256 MiB above 4 GiB. */
	struct guest_mem m;
	if (guest_mem_init(&m, (3ULL << 30) + (256ULL << 20)) < 0) {
		printf("SKIP unit/virtio_queue/high memory (cannot map 3.25 GiB)\n");
		return;
	}
	struct guest_mem saved = vm.mem;
	vm.mem = m;
	static const struct { uint64_t addr; uint32_t len; int ok; } cases[] = {
		{ MEM_HOLE_START - 0x1000, 0x1000, 1 },
		{ MEM_HOLE_START - 0x1000, 0x1001, 0 },         /* runs into the hole */
		{ MEM_HOLE_END - 0x1000, 0x2000, 0 },           /* starts in the hole */
		{ MEM_HOLE_END, 0x1000, 1 },
		{ MEM_HOLE_END + (256ULL << 20) - 16, 16, 1 },
		{ MEM_HOLE_END + (256ULL << 20) - 16, 17, 0 },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		q_setup(0, 0);
		vx_set_desc(0, 0, cases[i].addr, cases[i].len, 0, 0);
		offer(0, 0);
		int r = pop();
		CHECK_EQ(r, cases[i].ok ? 1 : -1);
		if (r == 1)
			CHECK(iov_in_ram());
	}
	vm.mem = saved;
	guest_mem_free(&m);
}

static void test_bad_rings(void)
{
	static const struct { uint16_t num; uint64_t desc, avail, used; const char *what; } bad[] = {
		{ 0, VX_DESC(0), VX_AVAIL(0), VX_USED(0), "size 0" },
		{ 6, VX_DESC(0), VX_AVAIL(0), VX_USED(0), "size not a power of two" },
		{ 512, VX_DESC(0), VX_AVAIL(0), VX_USED(0), "size above the maximum" },
		{ 8, VX_DESC(0) + 8, VX_AVAIL(0), VX_USED(0), "descriptors misaligned" },
		{ 8, VX_DESC(0), VX_AVAIL(0) + 1, VX_USED(0), "avail misaligned" },
		{ 8, VX_DESC(0), VX_AVAIL(0), VX_USED(0) + 2, "used misaligned" },
		{ 8, MEM_HOLE_START, VX_AVAIL(0), VX_USED(0), "descriptors in the hole" },
		{ 8, VX_DESC(0), (64ULL << 20) - 4, VX_USED(0), "avail past RAM" },
		{ 8, VX_DESC(0), VX_AVAIL(0), (64ULL << 20) - 32, "used past RAM" },
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		memset(&vq, 0, sizeof(vq));
		vq.num_max = 256;
		vq.num = bad[i].num;
		vq.desc_gpa = bad[i].desc;
		vq.avail_gpa = bad[i].avail;
		vq.used_gpa = bad[i].used;
		int r = virtq_start(&vq, &vm.mem);
		if (r != -1)
			fprintf(stderr, "rings accepted: %s\n", bad[i].what);
		CHECK_EQ(r, -1);
		CHECK(!vq.ready);
		CHECK_EQ(pop(), -1);
	}
}

/* --- Indirect descriptors ----------------------------------------------------- */

#define TABLE 0x300000ULL

static void test_indirect(void)
{
	q_setup(1, 0);
	vx_set_table_desc(TABLE, 0, 0x200000, 16, VIRTQ_DESC_F_NEXT, 2);
	vx_set_table_desc(TABLE, 2, 0x201000, 4096, VIRTQ_DESC_F_NEXT | VX_W, 1);
	vx_set_table_desc(TABLE, 1, 0x202000, 1, VX_W, 0);
	/* A direct readable buffer first, then the table (allowed: it is last). */
	vx_set_desc(0, 0, 0x204000, 8, VIRTQ_DESC_F_NEXT, 1);
	vx_set_desc(0, 1, TABLE, 3 * 16, VIRTQ_DESC_F_INDIRECT, 0);
	offer(0, 0);
	CHECK_EQ(pop(), 1);
	CHECK_EQ(req.n_out, 2);
	CHECK_EQ(req.n_in, 2);
	CHECK_EQ(req.out_len, 24);
	CHECK_EQ(req.in_len, 4097);
	CHECK(req.iov[1].iov_base == vx_mem(0x200000, 16));
}

static void indirect_case(uint64_t table_addr, uint32_t table_len, uint16_t flags, const char *what)
{
	vx_set_desc(0, 0, table_addr, table_len, (uint16_t)(VIRTQ_DESC_F_INDIRECT | flags), 1);
	vx_set_desc(0, 1, 0x200000, 16, 0, 0);
	offer(0, 0);
	expect_broken(what);
}

static void test_indirect_hostile(void)
{
	q_setup(0, 0);
	vx_set_table_desc(TABLE, 0, 0x200000, 16, 0, 0);
	indirect_case(TABLE, 16, 0, "indirect without the feature");

	q_setup(1, 0);
	indirect_case(TABLE, 24, 0, "table length not a multiple of 16");
	q_setup(1, 0);
	indirect_case(TABLE, 0, 0, "empty table");
	q_setup(1, 0);
	indirect_case(MEM_HOLE_START, 64, 0, "table in the hole");
	q_setup(1, 0);
	indirect_case(TABLE, 16 * (VIRTQ_SEG_MAX + 1), 0, "table too long");
	q_setup(1, 0);
	indirect_case(TABLE, 16, VIRTQ_DESC_F_NEXT, "indirect with NEXT");

	q_setup(1, 0);
	vx_set_table_desc(TABLE, 0, TABLE, 32, VIRTQ_DESC_F_INDIRECT, 0);
	indirect_case(TABLE, 32, 0, "nested indirect");

	q_setup(1, 0);
	vx_set_table_desc(TABLE, 0, 0x200000, 16, VIRTQ_DESC_F_NEXT, 1);
	vx_set_table_desc(TABLE, 1, 0x200000, 16, VIRTQ_DESC_F_NEXT, 0);
	indirect_case(TABLE, 32, 0, "loop inside a table");

	q_setup(1, 0);
	vx_set_table_desc(TABLE, 0, 0x200000, 16, VIRTQ_DESC_F_NEXT, 2);
	indirect_case(TABLE, 32, 0, "next out of the table");

	q_setup(1, 0);
	vx_set_table_desc(TABLE, 0, 0x200000, 16, VIRTQ_DESC_F_NEXT | VX_W, 1);
	vx_set_table_desc(TABLE, 1, 0x200000, 16, 0, 0);
	indirect_case(TABLE, 32, 0, "readable after writable in a table");

	/* Direct readable segments plus a full table: more segments than a request may have. */
	q_setup(1, 0);
	for (uint16_t i = 0; i < VIRTQ_SEG_MAX; i++)
		vx_set_table_desc(TABLE, i, 0x200000, 16, i + 1 < VIRTQ_SEG_MAX ? VIRTQ_DESC_F_NEXT : 0,
				  (uint16_t)(i + 1));
	vx_set_desc(0, 0, 0x200000, 16, VIRTQ_DESC_F_NEXT, 1);
	vx_set_desc(0, 1, TABLE, 16 * VIRTQ_SEG_MAX, VIRTQ_DESC_F_INDIRECT, 0);
	offer(0, 0);
	expect_broken("too many segments");
}

/* --- Notification suppression -------------------------------------------------- */

static void test_event_idx(void)
{
	q_setup(0, 1);
	const uint64_t avail_event = VX_USED(0) + 4 + 8 * NUM;
	const uint64_t used_event = VX_AVAIL(0) + 4 + 2 * NUM;

	/* Finding the ring empty tells the driver where to notify next. */
	CHECK_EQ(pop(), 0);
	CHECK_EQ(vx_get16(avail_event), 0);
	for (uint16_t i = 0; i < 3; i++) {
		vx_set_desc(0, i, 0x200000, 8, 0, 0);
		offer(i, i);
	}
	CHECK_EQ(pop(), 1);
	CHECK_EQ(pop(), 1);
	CHECK_EQ(pop(), 1);
	CHECK_EQ(pop(), 0);
	CHECK_EQ(vx_get16(avail_event), 3);

	/* The first decision always interrupts; then only when used_event is passed. */
	virtq_push(&vq, 0, 0);
	CHECK_EQ(virtq_need_interrupt(&vq), 1);
	vx_put16(used_event, 5);        /* the driver wants one once entry 5 is used */
	virtq_push(&vq, 1, 0);
	CHECK_EQ(virtq_need_interrupt(&vq), 0);         /* used_idx 2 */
	virtq_push(&vq, 2, 0);
	virtq_push(&vq, 2, 0);
	virtq_push(&vq, 2, 0);
	virtq_push(&vq, 2, 0);
	CHECK_EQ(virtq_need_interrupt(&vq), 1);         /* used_idx 6 passed 5 */
	CHECK_EQ(virtq_need_interrupt(&vq), 0);         /* nothing new */
}

static void test_no_interrupt_flag(void)
{
	q_setup(0, 0);
	vx_put16(VX_AVAIL(0), VIRTQ_AVAIL_F_NO_INTERRUPT);
	virtq_push(&vq, 0, 0);
	CHECK_EQ(virtq_need_interrupt(&vq), 0);
	vx_put16(VX_AVAIL(0), 0);
	virtq_push(&vq, 0, 0);
	CHECK_EQ(virtq_need_interrupt(&vq), 1);
}

static void test_unpop(void)
{
	q_setup(0, 0);
	vx_set_desc(0, 4, 0x200000, 8, VX_W, 0);
	offer(0, 4);
	CHECK_EQ(pop(), 1);
	virtq_unpop(&vq);
	CHECK_EQ(pop(), 1);
	CHECK_EQ(req.head, 4);
	CHECK_EQ(pop(), 0);
}

/* --- Random rings ------------------------------------------------------------------ */

static uint64_t rng_state = 0x9e3779b97f4a7c15ULL;

static uint64_t rnd(void)
{
	rng_state ^= rng_state << 13;
	rng_state ^= rng_state >> 7;
	rng_state ^= rng_state << 17;
	return rng_state;
}

/* An address that is sometimes RAM, sometimes near its edges, sometimes wild. */
static uint64_t rnd_addr(void)
{
	switch (rnd() % 6) {
	case 0: return rnd();
	case 1: return (64ULL << 20) - (rnd() % 64);
	case 2: return MEM_HOLE_START + (rnd() % 0x1000);
	default: return 0x200000 + (rnd() % 0x100000);
	}
}

static uint32_t rnd_len(void)
{
	switch (rnd() % 5) {
	case 0: return 0;
	case 1: return (uint32_t)rnd();
	default: return (uint32_t)(rnd() % 8192);
	}
}

static void test_random_rings(void)
{
	unsigned pops = 0, broken = 0;
	for (int round = 0; round < 3000; round++) {
		q_setup((int)(rnd() & 1), (int)(rnd() & 1));
		for (uint16_t i = 0; i < NUM; i++) {
			uint16_t flags = (uint16_t)(rnd() % 8);
			uint64_t addr = rnd_addr();
			uint32_t len = rnd_len();
			if ((flags & VIRTQ_DESC_F_INDIRECT) && rnd() % 2) {
				addr = TABLE + 16 * (rnd() % 4);
				len = (uint32_t)(16 * (rnd() % 40));
			}
			vx_set_desc(0, i, addr, len, flags, (uint16_t)(rnd() % (NUM + 2)));
		}
		for (int i = 0; i < 64; i++)
			vx_set_table_desc(TABLE, (uint16_t)i, rnd_addr(), rnd_len(), (uint16_t)(rnd() % 8),
					  (uint16_t)(rnd() % 70));
		for (uint16_t i = 0; i < NUM; i++)
			vx_set_avail_entry(0, NUM, i, (uint16_t)(rnd() % (NUM + 1)));
		vq.last_avail = (uint16_t)rnd();
		vx_set_avail_idx(0, (uint16_t)(vq.last_avail + rnd() % (NUM + 3)));
		/* At most num + 3 pops can succeed before the ring is empty or broken. */
		for (int k = 0; k < NUM + 4; k++) {
			int r = pop();
			if (r <= 0) {
				broken += r < 0;
				break;
			}
			pops++;
			CHECK(iov_in_ram());
			CHECK(req.n_out + req.n_in <= VIRTQ_SEG_MAX);
		}
	}
	/* Both outcomes occur, so the soup exercised the walker. */
	CHECK(pops > 100);
	CHECK(broken > 100);
}

int main(void)
{
	vx_vm_setup(64ULL << 20);
	RUN(test_normal_chain);
	RUN(test_descriptor_loop);
	RUN(test_longest_chain_is_fine);
	RUN(test_indices_out_of_range);
	RUN(test_wrapped_indices);
	RUN(test_bad_addresses);
	RUN(test_zero_length);
	RUN(test_readable_after_writable);
	RUN(test_high_memory_and_hole);
	RUN(test_bad_rings);
	RUN(test_indirect);
	RUN(test_indirect_hostile);
	RUN(test_event_idx);
	RUN(test_no_interrupt_flag);
	RUN(test_unpop);
	RUN(test_random_rings);
	vx_vm_teardown();
	TEST_EXIT();
}
