/*
 * The demo guest of the README: a long-mode guest that shows what a VM
 * sees of runvm's platform, makes a few exits of each kind, and powers
 * off through ACPI (runvm then exits with status 0).
 *
 *   build/runvm --stats --testdev --raw build/guest/demo.bin
 */
#include "guest.h"

const char guest_name[] = "demo";

#define PM1A_CNT    0x604
#define SLP_TYP_S5  (5u << 10)
#define SLP_EN      (1u << 13)

static uint8_t cmos(uint8_t reg)
{
	outb(0x70, reg);
	return inb(0x71);
}

static unsigned bcd(uint8_t v)
{
	return (v >> 4) * 10 + (v & 15);
}

static void show_cpu(void)
{
	struct cpuid v = cpuid(0, 0);
	char vendor[13];
	memcpy(vendor, &v.b, 4);
	memcpy(vendor + 4, &v.d, 4);
	memcpy(vendor + 8, &v.c, 4);
	vendor[12] = 0;
	struct cpuid h = cpuid(0x40000000, 0);
	char hv[13];
	memcpy(hv, &h.b, 4);
	memcpy(hv + 4, &h.c, 4);
	memcpy(hv + 8, &h.d, 4);
	hv[12] = 0;
	printf("cpu: %s, hypervisor signature \"%s\", %u vCPU\n", vendor, hv, fwcfg_cpu_count());
}

static void show_memory_and_clock(void)
{
	uint64_t ram = 0;
	fwcfg_read(0x0003, &ram, sizeof(ram));
	printf("memory: %u MiB\n", (unsigned)(ram >> 20));
	/* Status B bit 2: binary, else BCD. */
	int binary = cmos(0x0b) & 4;
	unsigned h = cmos(4), m = cmos(2), s = cmos(0);
	if (!binary) {
		h = bcd(h);
		m = bcd(m);
		s = bcd(s);
	}
	printf("clock (CMOS, UTC): %u%u:%u%u:%u%u\n", h / 10, h % 10, m / 10, m % 10, s / 10, s % 10);
}

/* Some port and MMIO exits for --stats to count. */
static void exercise_testdev(void)
{
	uint32_t sum = 0;
	for (uint32_t i = 0; i < 16; i++) {
		outl(TESTDEV_PORT, i);
		mmio_write32(TESTDEV_MMIO + 4 * i, i * i);
	}
	for (uint32_t i = 0; i < 16; i++)
		sum += inl(TESTDEV_PORT) + mmio_read32(TESTDEV_MMIO + 4 * i);
	printf("testdev: 16 port and 16 MMIO round trips, checksum %u\n", (unsigned)sum);
}

void guest_main(void)
{
	printf("runvm demo guest: long mode, CPL 0\n");
	show_cpu();
	show_memory_and_clock();
	exercise_testdev();
	printf("powering off through ACPI\n");
	outw(PM1A_CNT, SLP_TYP_S5 | SLP_EN);
	for (;;)
		asm volatile("cli; hlt");
}
