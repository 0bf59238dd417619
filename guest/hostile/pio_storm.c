/*
 * Port-I/O storm: random reads and writes of random widths to every
 * device's ports (and some nobody claims), plus rep ins/outs with random
 * counts, in a bounded loop. runvm must come out of it running, and the
 * guest's own state intact.
 */
#include "hostile.h"
#include "seg.h"
#include "trap.h"

const char guest_name[] = "pio_storm";

/* Every device's ports, a few past each end, and some that nobody claims. */
static const struct { uint16_t base, len; } ranges[] = {
	{ 0x3f8 - 2, 12 }, { 0x60, 6 }, { 0x70, 4 }, { 0x80, 2 }, { 0xf0, 12 },
	{ 0x510, 12 }, { 0x600, 16 }, { 0xe0, 12 }, { 0x2000, 24 }, { 0x20, 2 },
	{ 0xa0, 2 }, { 0x40, 4 }, { 0x4d0, 2 }, { 0xcf8, 8 }, { 0x300, 16 },
};

static volatile uint32_t nmis;

static void count_nmi(struct trap_frame *f)
{
	(void)f;
	nmis++;
}

static uint16_t pick_port(void)
{
	if (rnd_below(10) == 0)
		return (uint16_t)rnd();
	unsigned i = rnd_below(ARRAY_SIZE(ranges));
	return (uint16_t)(ranges[i].base + rnd_below(ranges[i].len));
}

static void one_access(void)
{
	static const unsigned widths[3] = { 1, 2, 4 };
	uint16_t port = pick_port();
	unsigned size = widths[rnd_below(3)];
	uint32_t v = (uint32_t)rnd();
	if (rnd() & 1) {
		switch (size) {
		case 1: (void)inb(port); break;
		case 2: (void)inw(port); break;
		default: (void)inl(port); break;
		}
		return;
	}
	if (!port_write_is_harmless(port, size, v))
		return;
	switch (size) {
	case 1: outb(port, (uint8_t)v); break;
	case 2: outw(port, (uint16_t)v); break;
	default: outl(port, v); break;
	}
}

static uint8_t buf[256];

/* String I/O: reads from any port, writes only where every byte is harmless. */
static void one_string(void)
{
	uint16_t port = pick_port();
	unsigned long count = 1 + rnd_below(64);
	if (rnd() & 1) {
		uintptr_t dst = (uintptr_t)buf;
		asm volatile("rep insb" : "+D"(dst), "+c"(count) : "d"(port) : "memory");
		return;
	}
	for (unsigned i = 0; i < count; i++) {
		buf[i] = (uint8_t)rnd();
		if (!port_write_is_harmless(port, 1, buf[i]))
			return;
	}
	uintptr_t src = (uintptr_t)buf;
	asm volatile("rep outsb" : "+S"(src), "+c"(count) : "d"(port) : "memory");
}

void guest_main(void)
{
	idt_init(SEL_CODE64);
	trap_set_handler(2, count_nmi);
	test_start("pio storm");
	for (int i = 0; i < 3000; i++) {
		if (rnd_below(16) == 0)
			one_string();
		else
			one_access();
	}
	serial_reset();
	printf("\n");                   /* after the storm's bytes, a line of our own */
	/* Still here, still ourselves: code, data and stack survived. */
	expect_eq("guard after the storm", rng_state != 0, 1);
	test_end();
	printf("  %u NMIs during the storm\n", nmis);
}
