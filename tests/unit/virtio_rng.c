/*
 * virtio-rng: buffers are filled with entropy, a request gets at most
 * 64 KiB however large, readable buffers get nothing, and hostile chains
 * mark the device as needing reset.
 */
#include "virtio_fixture.h"

static void setup(void)
{
	vx_vm_setup(64ULL << 20);
	vx_attach(virtio_rng_create(&vm));
	CHECK(vx_driver_init(VX_ALL_FEATURES) & VIRTIO_STATUS_DRIVER_OK);
}

static void teardown(void)
{
	vx_detach();
	vx_vm_teardown();
}

/* Counts the distinct byte values in a buffer: random data has many. */
static int distinct(uint64_t gpa, size_t len)
{
	int seen[256] = { 0 }, n = 0;
	const uint8_t *p = vx_mem(gpa, len);
	for (size_t i = 0; i < len; i++)
		if (!seen[p[i]]++)
			n++;
	return n;
}

static void test_fills_buffers(void)
{
	setup();
	uint64_t a = vx_alloc(100), b = vx_alloc(4000);
	struct vx_buf bufs[2] = { { a, 100, VX_W }, { b, 4000, VX_W } };
	uint16_t head = vx_post(0, bufs, 2);
	CHECK(vx_kick_wait(0));
	uint32_t id, len;
	CHECK_EQ(vx_take_used(0, &id, &len), 0);
	CHECK_EQ(id, head);
	CHECK_EQ(len, 4100);
	CHECK(distinct(a, 100) > 50);
	CHECK(distinct(b, 4000) > 250);
	/* Two requests do not get the same bytes. */
	uint64_t c = vx_alloc(64);
	struct vx_buf one = { c, 64, VX_W };
	vx_post(0, &one, 1);
	CHECK(vx_kick_wait(0));
	CHECK(memcmp(vx_mem(a, 64), vx_mem(c, 64), 64) != 0);
	teardown();
}

static void test_large_request_is_capped(void)
{
	setup();
	uint64_t a = vx_alloc(1 << 20);
	struct vx_buf b = { a, 1 << 20, VX_W };
	vx_post(0, &b, 1);
	CHECK(vx_kick_wait(0));
	uint32_t id, len;
	CHECK_EQ(vx_take_used(0, &id, &len), 0);
	CHECK_EQ(len, 65536);
	CHECK(distinct(a + 65536 - 256, 256) > 100);
	CHECK_EQ(distinct(a + 65536, 4096), 1);                 /* untouched zeros */
	teardown();
}

static void test_readable_buffers_get_nothing(void)
{
	setup();
	uint64_t a = vx_alloc(64);
	struct vx_buf b = { a, 64, VX_R };
	vx_post(0, &b, 1);
	CHECK(vx_kick_wait(0));
	uint32_t id, len;
	CHECK_EQ(vx_take_used(0, &id, &len), 0);
	CHECK_EQ(len, 0);
	CHECK_EQ(distinct(a, 64), 1);
	teardown();
}

static void test_hostile_chains(void)
{
	static const struct { uint64_t addr; uint32_t len; uint16_t flags; uint16_t next; } bad[] = {
		{ 64ULL << 20, 16, VX_W, 0 },                   /* past RAM */
		{ MEM_HOLE_START, 16, VX_W, 0 },                /* the MMIO hole */
		{ 0x200000, 0xffffffffu, VX_W, 0 },             /* huge */
		{ 0x200000, 16, VX_W | VIRTQ_DESC_F_NEXT, 0 },  /* loop to itself */
		{ 0x200000, 16, VX_W | VIRTQ_DESC_F_NEXT, 64 }, /* next out of the ring */
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		setup();
		/* The device thread may see the chain before the kick: capture from here. */
		vx_quiet_begin();
		vx_set_desc(0, 0, bad[i].addr, bad[i].len, bad[i].flags, bad[i].next);
		vx_set_avail_entry(0, 64, 0, 0);
		vx_set_avail_idx(0, 1);
		vx_kick(0);
		CHECK(vx_wait_status(VIRTIO_STATUS_NEEDS_RESET));
		CHECK(vx_quiet_end("needs a reset"));
		CHECK_EQ(vx_used_idx(0), 0);
		teardown();
	}
	/* Zero-length buffers are a request for nothing. */
	setup();
	struct vx_buf z = { VX_BUF, 0, VX_W };
	vx_post(0, &z, 1);
	CHECK(vx_kick_wait(0));
	uint32_t id, len;
	CHECK_EQ(vx_take_used(0, &id, &len), 0);
	CHECK_EQ(len, 0);
	teardown();
}

int main(void)
{
	RUN(test_fills_buffers);
	RUN(test_large_request_is_capped);
	RUN(test_readable_buffers_get_nothing);
	RUN(test_hostile_chains);
	TEST_EXIT();
}
