/* Guest memory: the PC map and the bounds checks every device relies on. */
#include "test.h"
#include "vmm/mem.h"

static void low_only(void)
{
	struct guest_mem m;
	CHECK(guest_mem_init(&m, 64ULL << 20) == 0);
	CHECK_EQ(m.low_size, 64ULL << 20);
	CHECK_EQ(m.high_size, 0);
	CHECK(guest_ptr(&m, 0, 1) == m.host);
	CHECK(guest_ptr(&m, (64ULL << 20) - 8, 8) != NULL);
	CHECK(guest_ptr(&m, (64ULL << 20) - 7, 8) == NULL);   /* straddles the end */
	CHECK(guest_ptr(&m, 64ULL << 20, 1) == NULL);
	CHECK(guest_ptr(&m, MEM_HOLE_END, 1) == NULL);
	CHECK(guest_ptr(&m, ~0ULL, 2) == NULL);                /* wraps */
	CHECK(guest_ptr(&m, 0x1000, ~0ULL) == NULL);
	guest_mem_free(&m);
}

static void above_4g(void)
{
	struct guest_mem m;
	CHECK(guest_mem_init(&m, 4ULL << 30) == 0);
	CHECK_EQ(m.low_size, MEM_HOLE_START);
	CHECK_EQ(m.high_size, 1ULL << 30);
	CHECK(guest_ptr(&m, MEM_HOLE_START - 4, 4) != NULL);
	CHECK(guest_ptr(&m, MEM_HOLE_START - 4, 8) == NULL);   /* into the hole */
	CHECK(guest_ptr(&m, 0xfee00000, 4) == NULL);           /* the LAPIC is not RAM */
	uint8_t *hi = guest_ptr(&m, MEM_HOLE_END, 1);
	CHECK(hi == m.host + MEM_HOLE_START);
	CHECK(guest_ptr(&m, MEM_HOLE_END + (1ULL << 30) - 1, 1) != NULL);
	CHECK(guest_ptr(&m, MEM_HOLE_END + (1ULL << 30) - 1, 2) == NULL);
	uint32_t v = 0x12345678, r = 0;
	CHECK(guest_write(&m, MEM_HOLE_END + 16, &v, 4) == 0);
	CHECK(guest_read(&m, MEM_HOLE_END + 16, &r, 4) == 0);
	CHECK_EQ(r, v);
	CHECK(guest_write(&m, MEM_HOLE_START - 2, &v, 4) == -1);
	guest_mem_free(&m);
}

static void e820_map(void)
{
	struct guest_mem m;
	struct e820_map map;
	CHECK(guest_mem_init(&m, 4ULL << 30) == 0);
	guest_mem_e820(&m, &map);
	CHECK_EQ(map.n, 4);
	CHECK_EQ(map.e[0].addr, 0);
	CHECK_EQ(map.e[0].size, MEM_LOW_END);
	CHECK_EQ(map.e[0].type, E820_RAM);
	CHECK_EQ(map.e[1].type, E820_RESERVED);
	CHECK_EQ(map.e[1].addr + map.e[1].size, MEM_HIGH_START);
	CHECK_EQ(map.e[2].addr, MEM_HIGH_START);
	CHECK_EQ(map.e[2].addr + map.e[2].size, MEM_HOLE_START);
	CHECK_EQ(map.e[3].addr, MEM_HOLE_END);
	CHECK_EQ(map.e[3].size, 1ULL << 30);
	/* Entries are sorted and do not overlap. */
	for (int i = 1; i < map.n; i++)
		CHECK(map.e[i - 1].addr + map.e[i - 1].size <= map.e[i].addr);
	guest_mem_free(&m);
}

static void bad_sizes(void)
{
	struct guest_mem m;
	CHECK(guest_mem_init(&m, 1ULL << 20) == -1);
	CHECK(guest_mem_init(&m, 1ULL << 40) == -1);
}

static void clear(void)
{
	struct guest_mem m;
	CHECK(guest_mem_init(&m, 8ULL << 20) == 0);
	m.host[12345] = 7;
	guest_mem_clear(&m);
	CHECK_EQ(m.host[12345], 0);
	guest_mem_free(&m);
}

int main(void)
{
	RUN(low_only);
	RUN(above_4g);
	RUN(e820_map);
	RUN(bad_sizes);
	RUN(clear);
	TEST_EXIT();
}
