/* Port and MMIO dispatch. */
#include "test.h"
#include "vmm/bus.h"

struct fake { uint64_t last_off, last_val; unsigned last_size; int writes; };

static uint64_t fake_read(void *o, uint64_t off, unsigned size)
{
	struct fake *f = o;
	f->last_off = off;
	f->last_size = size;
	return 0x1122334455667788ULL;
}

static void fake_write(void *o, uint64_t off, uint64_t v, unsigned size)
{
	struct fake *f = o;
	f->last_off = off;
	f->last_val = v;
	f->last_size = size;
	f->writes++;
}

static const struct dev_ops fake_ops = { fake_read, fake_write };

static void dispatch(void)
{
	struct bus b;
	struct fake f = { 0 };
	bus_init(&b, "pio");
	CHECK(bus_register(&b, 0x3f8, 8, &fake_ops, &f, "serial") == 0);
	uint8_t d1 = 0xab;
	CHECK(bus_write(&b, 0x3fb, &d1, 1) == 0);
	CHECK_EQ(f.last_off, 3);
	CHECK_EQ(f.last_val, 0xab);
	CHECK_EQ(f.last_size, 1);
	uint16_t d2 = 0;
	CHECK(bus_read(&b, 0x3f8, &d2, 2) == 0);
	CHECK_EQ(d2, 0x7788);             /* truncated to the access size */
	uint32_t d4 = 0xdeadbeef;
	CHECK(bus_write(&b, 0x3f9, &d4, 4) == 0);
	CHECK_EQ(f.last_val, 0xdeadbeef);
}

static void unclaimed(void)
{
	struct bus b;
	bus_init(&b, "mmio");
	uint32_t d = 0;
	CHECK(bus_read(&b, 0x1234, &d, 4) == -1);
	CHECK_EQ(d, 0xffffffff);          /* open bus reads as all ones */
	CHECK(bus_write(&b, 0x1234, &d, 4) == -1);
}

static void overlaps(void)
{
	struct bus b;
	struct fake f = { 0 };
	bus_init(&b, "pio");
	CHECK(bus_register(&b, 0x60, 1, &fake_ops, &f, "a") == 0);
	CHECK(bus_register(&b, 0x64, 1, &fake_ops, &f, "b") == 0);
	CHECK(bus_register(&b, 0x60, 8, &fake_ops, &f, "c") == -1);
	CHECK(bus_register(&b, 0x5f, 2, &fake_ops, &f, "d") == -1);
	CHECK(bus_register(&b, 0x100, 0, &fake_ops, &f, "empty") == -1);
	CHECK(bus_register(&b, ~0ULL, 2, &fake_ops, &f, "wraps") == -1);
	CHECK(bus_find(&b, 0x64) == 1);
	CHECK(bus_find(&b, 0x65) == -1);
	for (int i = 0; i < BUS_MAX_RANGES + 4; i++)
		bus_register(&b, 0x1000 + i * 2, 1, &fake_ops, &f, "many");
	CHECK_EQ(b.n, BUS_MAX_RANGES);
}

int main(void)
{
	RUN(dispatch);
	RUN(unclaimed);
	RUN(overlaps);
	TEST_EXIT();
}
