/*
 * Sub-tests shared by the 32- and 64-bit guests: CPUID, port I/O of every
 * width and rep ins/outs through the testdev port, MMIO of every width,
 * string and read-modify-write instructions on the testdev MMIO window.
 */
#include "iotests.h"

/* ---------------- CPUID ---------------- */

void test_cpuid(struct cpu_info *cpu)
{
	test_start("cpuid");
	struct cpuid r = cpuid(0, 0);
	char vendor[13];
	memcpy(vendor, &r.b, 4);
	memcpy(vendor + 4, &r.d, 4);
	memcpy(vendor + 8, &r.c, 4);
	vendor[12] = 0;
	expect_true("leaf 0 max >= 1", r.a >= 1);
	for (int i = 0; i < 12; i++)
		if (vendor[i] < 0x20 || vendor[i] > 0x7e)
			test_fail("vendor byte %d = 0x%x", i, vendor[i]);

	r = cpuid(1, 0);
	expect_eq("leaf 1 edx fpu|tsc|msr|pae|cx8|apic", r.d & 0x371, 0x371);
	expect_eq("leaf 1 initial APIC ID", r.b >> 24, 0);

	r = cpuid(0x80000000, 0);
	unsigned ext = r.a;
	expect_true("max extended leaf >= 0x80000001", ext >= 0x80000001);
	r = cpuid(0x80000001, 0);
	expect_true("long mode supported", (r.d >> 29) & 1);
	cpu->nx = (r.d >> 20) & 1;
	cpu->gb1 = (r.d >> 26) & 1;
	cpu->rdtscp = (r.d >> 27) & 1;
	cpu->maxphyaddr = 36;
	if (ext >= 0x80000008)
		cpu->maxphyaddr = cpuid(0x80000008, 0).a & 0xff;
	if (test_end())
		printf("  vendor %s, max extended leaf %x, physical address bits %u\n",
		       vendor, ext, cpu->maxphyaddr);
}

/* ---------------- port I/O ---------------- */

void test_pio_widths(void)
{
	test_start("pio widths");
	outl(TESTDEV_PORT, 0x12345678);
	expect_eq("inl", inl(TESTDEV_PORT), 0x12345678);
	expect_eq("inb 0xe0", inb(TESTDEV_PORT), 0x78);
	expect_eq("inb 0xe1", inb(TESTDEV_PORT + 1), 0x56);
	expect_eq("inb 0xe3", inb(TESTDEV_PORT + 3), 0x12);
	expect_eq("inw 0xe0", inw(TESTDEV_PORT), 0x5678);
	expect_eq("inw 0xe2", inw(TESTDEV_PORT + 2), 0x1234);
	outb(TESTDEV_PORT + 1, 0xab);
	expect_eq("inl after outb 0xe1", inl(TESTDEV_PORT), 0x1234ab78);
	outw(TESTDEV_PORT + 2, 0xcdef);
	expect_eq("inl after outw 0xe2", inl(TESTDEV_PORT), 0xcdefab78);
	outw(TESTDEV_PORT, 0x0102);
	expect_eq("inl after outw 0xe0", inl(TESTDEV_PORT), 0xcdef0102);
	test_end();
}

/* rep outs then rep ins of `size`-byte units through the testdev port. */
static void rep_outs(int size, const void *src, uintptr_t count, const void **src_end, uintptr_t *left)
{
	switch (size) {
	case 1: asm volatile("rep outsb" : "+S"(src), "+c"(count) : "d"(TESTDEV_PORT) : "memory"); break;
	case 2: asm volatile("rep outsw" : "+S"(src), "+c"(count) : "d"(TESTDEV_PORT) : "memory"); break;
	default: asm volatile("rep outsl" : "+S"(src), "+c"(count) : "d"(TESTDEV_PORT) : "memory"); break;
	}
	*src_end = src;
	*left = count;
}

static void rep_ins(int size, void *dst, uintptr_t count, void **dst_end, uintptr_t *left)
{
	switch (size) {
	case 1: asm volatile("rep insb" : "+D"(dst), "+c"(count) : "d"(TESTDEV_PORT) : "memory"); break;
	case 2: asm volatile("rep insw" : "+D"(dst), "+c"(count) : "d"(TESTDEV_PORT) : "memory"); break;
	default: asm volatile("rep insl" : "+D"(dst), "+c"(count) : "d"(TESTDEV_PORT) : "memory"); break;
	}
	*dst_end = dst;
	*left = count;
}

void test_pio_string(void)
{
	static const uint32_t src[5] = { 0x11111111, 0x22222222, 0x33333333, 0x44444444, 0x55443322 };
	uint32_t dst[5];

	for (int size = 1; size <= 4; size *= 2) {
		test_start(size == 1 ? "rep outsb/insb" : size == 2 ? "rep outsw/insw" : "rep outsl/insl");
		outl(TESTDEV_PORT, 0);
		const void *s_end;
		void *d_end;
		uintptr_t left;
		/* 20 bytes of units: the port keeps the last one written. */
		rep_outs(size, src, 20 / size, &s_end, &left);
		expect_eq("outs: (e/r)si advanced", (uintptr_t)s_end - (uintptr_t)src, 20);
		expect_eq("outs: count", left, 0);
		/* The last unit written is the top of src[4]. */
		uint64_t unit = 0x55443322u >> (32 - 8 * size);
		expect_eq("port value", inl(TESTDEV_PORT), unit);

		memset(dst, 0xee, sizeof(dst));
		rep_ins(size, dst, 8 / size, &d_end, &left);
		expect_eq("ins: (e/r)di advanced", (uintptr_t)d_end - (uintptr_t)dst, 8);
		expect_eq("ins: count", left, 0);
		uint64_t want = size == 4 ? unit | unit << 32 : size == 2 ? unit * 0x0001000100010001ull
								: unit * 0x0101010101010101ull;
		uint64_t got;
		memcpy(&got, dst, 8);
		expect_eq("ins: data", got, want);
		expect_eq("ins: no overrun", dst[2], 0xeeeeeeee);
		test_end();
	}

	/* Long strings that cross pages: a hypervisor moves them in pieces. */
	test_start("rep ins/outs across pages");
	static uint8_t big[3 * 4096] ALIGNED(4096);
	big[4000 + 5999] = 0x77;
	const void *s_end;
	void *d_end;
	uintptr_t left;
	rep_outs(1, &big[4000], 6000, &s_end, &left);
	expect_eq("outsb: count", left, 0);
	expect_eq("outsb: last byte at the port", inb(TESTDEV_PORT), 0x77);
	outb(TESTDEV_PORT, 0x3c);
	big[3999] = 0;
	big[10000] = 0;
	rep_ins(1, &big[4000], 6000, &d_end, &left);
	expect_eq("insb: destination advanced", (uintptr_t)d_end - (uintptr_t)&big[4000], 6000);
	expect_eq("insb: first", big[4000], 0x3c);
	expect_eq("insb: after the first page", big[4096], 0x3c);
	expect_eq("insb: last", big[9999], 0x3c);
	expect_eq("insb: not before", big[3999], 0);
	expect_eq("insb: not after", big[10000], 0);
	test_end();

	test_start("rep insb, DF=1");
	uint8_t bytes[8];
	memset(bytes, 0, sizeof(bytes));
	outb(TESTDEV_PORT, 0x5a);
	void *p = &bytes[5];
	uintptr_t n = 4;
	asm volatile("std; rep insb; cld" : "+D"(p), "+c"(n) : "d"(TESTDEV_PORT) : "memory");
	expect_eq("(e/r)di moved down", (uintptr_t)&bytes[5] - (uintptr_t)p, 4);
	uint64_t got;
	memcpy(&got, bytes, 8);
	expect_eq("bytes 2-5 written", got, 0x00005a5a5a5a0000ull);
	test_end();
}

/* ---------------- MMIO ---------------- */

#define MMIO(off) (TESTDEV_MMIO + (off))

#ifndef __x86_64__
/*
 * 32-bit code has no 8-byte integer move: use MMX (CR0.EM must be 0). No
 * EMMS afterwards: the guests use no x87 code, and some emulators lack it.
 */
static void mmio_write64(uintptr_t a, uint64_t v)
{
	asm volatile("movq %1, %%mm0; movq %%mm0, %0" : "=m"(*(volatile uint64_t *)a) : "m"(v));
}
static uint64_t mmio_read64(uintptr_t a)
{
	uint64_t v;
	asm volatile("movq %1, %%mm0; movq %%mm0, %0" : "=m"(v) : "m"(*(volatile uint64_t *)a));
	return v;
}
#endif

void test_mmio_widths(void)
{
	test_start("mmio widths");
	for (int i = 0; i < 8; i++)
		mmio_write8(MMIO(i), (uint8_t)(0x11 * (i + 1)));
	expect_eq("read64", mmio_read64(MMIO(0)), 0x8877665544332211ull);
	expect_eq("read32 +4", mmio_read32(MMIO(4)), 0x88776655);
	expect_eq("read16 +2", mmio_read16(MMIO(2)), 0x4433);
	expect_eq("read8 +7", mmio_read8(MMIO(7)), 0x88);

	mmio_write16(MMIO(0x10), 0xbeef);
	mmio_write32(MMIO(0x14), 0xcafef00d);
	mmio_write64(MMIO(0x18), 0x0123456789abcdefull);
	expect_eq("read16", mmio_read16(MMIO(0x10)), 0xbeef);
	expect_eq("read32", mmio_read32(MMIO(0x14)), 0xcafef00d);
	expect_eq("read64", mmio_read64(MMIO(0x18)), 0x0123456789abcdefull);
	expect_eq("read64 of 16+32", mmio_read64(MMIO(0x10)) >> 32, 0xcafef00d);
	expect_eq("read8 of 64", mmio_read8(MMIO(0x1c)), 0x67);

	mmio_write32(MMIO(0x21), 0xa1b2c3d4);
	expect_eq("unaligned read32", mmio_read32(MMIO(0x21)), 0xa1b2c3d4);
	expect_eq("unaligned read8", mmio_read8(MMIO(0x22)), 0xc3);
	/* An access that straddles two pages of the window. */
	mmio_write64(MMIO(0xffc), 0x1122334455667788ull);
	expect_eq("page-crossing read64", mmio_read64(MMIO(0xffc)), 0x1122334455667788ull);
	expect_eq("second page", mmio_read32(MMIO(0x1000)), 0x11223344);
	test_end();
}

void test_mmio_string(void)
{
	static const uint64_t src[4] = { 0x1111111111111111ull, 0x2222222222222222ull,
					 0x3333333333333333ull, 0x4444444444444444ull };
	uint64_t dst[4];

	test_start("mmio rep movs/stos");
	const void *s = src;
	void *d = (void *)MMIO(0x100);
	uintptr_t n = 32 / sizeof(long);
	/* The widest unit the mode has: movsq, or movsl in 32-bit code. */
	asm volatile("rep movs%z[unit]" : "+S"(s), "+D"(d), "+c"(n) : [unit] "r"(0l) : "memory");
	expect_eq("rep movs ram->mmio: destination advanced", (uintptr_t)d, MMIO(0x120));
	expect_eq("mmio[2]", mmio_read64(MMIO(0x110)), 0x3333333333333333ull);

	s = (void *)MMIO(0x100);
	d = dst;
	n = 32;
	memset(dst, 0, sizeof(dst));
	asm volatile("rep movsb" : "+S"(s), "+D"(d), "+c"(n) :: "memory");
	expect_eq("rep movsb mmio->ram: source advanced", (uintptr_t)s, MMIO(0x120));
	expect_true("movsb mmio->ram data", memcmp(dst, src, sizeof(src)) == 0);

	d = (void *)MMIO(0x200);
	n = 6;
	asm volatile("rep stosl" : "+D"(d), "+c"(n) : "a"(0x600df00d) : "memory");
	expect_eq("stosl mmio[5]", mmio_read32(MMIO(0x214)), 0x600df00d);
	expect_eq("stosl count", n, 0);
	test_end();
}

void test_mmio_rmw(void)
{
	test_start("mmio read-modify-write");
	volatile uint32_t *m = (volatile uint32_t *)MMIO(0x300);
	mmio_write32(MMIO(0x300), 0x0f);
	asm volatile("orl $0xf0, %0" : "+m"(*m));
	expect_eq("or", mmio_read32(MMIO(0x300)), 0xff);
	asm volatile("addl $0x101, %0" : "+m"(*m));
	expect_eq("add", mmio_read32(MMIO(0x300)), 0x200);

	uint32_t v = 0x77;
	asm volatile("xchg %0, %1" : "+r"(v), "+m"(*m));
	expect_eq("xchg old", v, 0x200);
	expect_eq("xchg new", mmio_read32(MMIO(0x300)), 0x77);

	uint32_t old = 0x77;
	asm volatile("lock cmpxchgl %2, %1" : "+a"(old), "+m"(*m) : "r"(0x99u) : "cc");
	expect_eq("cmpxchg", mmio_read32(MMIO(0x300)), 0x99);
	uint32_t before = 5;
	asm volatile("lock xaddl %0, %1" : "+r"(before), "+m"(*m) :: "cc");
	expect_eq("xadd old", before, 0x99);
	expect_eq("xadd new", mmio_read32(MMIO(0x300)), 0x9e);

	mmio_write8(MMIO(0x308), 0xf0);
	uint32_t zx, sx;
	asm volatile("movzbl %2, %0; movsbl %2, %1" : "=&r"(zx), "=r"(sx) : "m"(*(volatile uint8_t *)MMIO(0x308)));
	expect_eq("movzx", zx, 0xf0);
	expect_eq("movsx", sx, 0xfffffff0);
	uint8_t below;
	asm volatile("cmpl $0x100, %1; setb %0" : "=q"(below) : "m"(*m) : "cc");
	expect_eq("cmp mem,imm", below, 1);
	test_end();
}

