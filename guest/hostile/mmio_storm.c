/*
 * MMIO storm: random reads and writes of widths 1, 2, 4 and 8 to the
 * testdev window, the local APIC, the I/O APIC, and addresses nobody
 * claims (the 32-bit hole, the HPET's place, above RAM), in a bounded
 * loop. Writes that would send INIT, SMI or ExtINT, or an IPI, are
 * turned harmless (see hostile.h); everything else is garbage.
 */
#include "apic.h"
#include "hostile.h"
#include "seg.h"
#include "trap.h"

const char guest_name[] = "mmio_storm";

static const struct { uintptr_t base, len; } regions[] = {
	{ TESTDEV_MMIO, 0x10000 },
	{ LAPIC_BASE, 0x1000 },
	{ IOAPIC_BASE, 0x100 },
	{ 0xc0000000UL, 0x100000 },     /* the hole: nobody */
	{ 0xfed00000UL, 0x1000 },       /* where a HPET would be: nobody */
	{ 0x30000000UL, 0x10000 },      /* above RAM, below the hole: nobody */
};

static volatile uint32_t nmis;

static void count_nmi(struct trap_frame *f)
{
	(void)f;
	nmis++;
}

static void ignore_irq(struct trap_frame *f)
{
	(void)f;
	lapic_eoi();
}

/* Local APIC writes: no IPIs, and LVT entries keep harmless delivery modes. */
static int lapic_write_ok(uintptr_t off, unsigned size, uint64_t *v)
{
	uintptr_t end = off + size;
	if (off < LAPIC_ICR_HI + 0x10 && end > LAPIC_ICR_LO)
		return 0;
	if (off < 0x380 && end > 0x320) {
		if (size != 4 || (off & 0xf))
			return 0;
		*v = apic_mode_harmless((uint32_t)*v);
	}
	return 1;
}

/* I/O APIC: garbage everywhere but the data window, which gets a filtered entry. */
static int ioapic_write_ok(uintptr_t off, unsigned size, uint64_t *v)
{
	if (off < 0x14 && off + size > 0x10)
		return 0;
	(void)v;
	return 1;
}

static void ioapic_entry_write(void)
{
	unsigned reg = rnd_below(0x40);
	uint32_t v = (uint32_t)rnd();
	if (reg >= 0x10 && !(reg & 1))
		v = apic_mode_harmless(v);
	mmio_write32(IOAPIC_BASE, reg);
	mmio_write32(IOAPIC_BASE + 0x10, v);
}

static void one_access(void)
{
	static const unsigned widths[4] = { 1, 2, 4, 8 };
	unsigned r = rnd_below(ARRAY_SIZE(regions));
	unsigned size = widths[rnd_below(4)];
	uintptr_t off = rnd_below((unsigned)regions[r].len) & ~(uintptr_t)(size - 1);
	uintptr_t a = regions[r].base + off;
	uint64_t v = rnd();
	if (rnd() & 1) {
		switch (size) {
		case 1: (void)mmio_read8(a); break;
		case 2: (void)mmio_read16(a); break;
		case 4: (void)mmio_read32(a); break;
		default: (void)mmio_read64(a); break;
		}
		return;
	}
	if (regions[r].base == LAPIC_BASE && !lapic_write_ok(off, size, &v))
		return;
	if (regions[r].base == IOAPIC_BASE && !ioapic_write_ok(off, size, &v))
		return;
	switch (size) {
	case 1: mmio_write8(a, (uint8_t)v); break;
	case 2: mmio_write16(a, (uint16_t)v); break;
	case 4: mmio_write32(a, (uint32_t)v); break;
	default: mmio_write64(a, v); break;
	}
}

void guest_main(void)
{
	idt_init(SEL_CODE64);
	trap_set_handler(2, count_nmi);
	for (unsigned v = 32; v < 256; v++)
		trap_set_handler(v, ignore_irq);
	test_start("mmio storm");
	for (int i = 0; i < 3000; i++) {
		if (rnd_below(32) == 0)
			ioapic_entry_write();
		else
			one_access();
	}
	expect_eq("guard after the storm", rng_state != 0, 1);
	test_end();
	printf("  %u NMIs during the storm\n", nmis);
}
