/*
 * A triple fault: an exception with an empty IDT. With --no-reboot runvm
 * must stop with status 4 and say so; without it, reboot the guest, which
 * then finds its mark in CMOS RAM (kept across a reset, as on a PC) and
 * reports success instead of faulting again.
 */
#include "hostile.h"

const char guest_name[] = "triple_fault";

#define CMOS_MARK_REG 0x7e
#define CMOS_MARK     0xa5

static uint8_t cmos_read(uint8_t reg)
{
	outb(0x70, reg);
	return inb(0x71);
}

static void cmos_write(uint8_t reg, uint8_t v)
{
	outb(0x70, reg);
	outb(0x71, v);
}

void guest_main(void)
{
	if (cmos_read(CMOS_MARK_REG) == CMOS_MARK) {
		cmos_write(CMOS_MARK_REG, 0);
		test_start("rebooted after a triple fault");
		test_end();
		return;
	}
	cmos_write(CMOS_MARK_REG, CMOS_MARK);
	printf("triple fault now\n");
	static const struct { uint16_t limit; uint64_t base; } __attribute__((packed)) empty = { 0, 0 };
	asm volatile("lidt %0; ud2" :: "m"(empty));
	guest_abort("still running after a triple fault");
}
