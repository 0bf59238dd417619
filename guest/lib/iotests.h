/* Sub-tests shared by the 32- and 64-bit guests (iotests.c). */
#ifndef GUEST_IOTESTS_H
#define GUEST_IOTESTS_H

#include "guest.h"

/* What CPUID reported, for the tests that depend on it. */
struct cpu_info {
	int nx, gb1, rdtscp;
	unsigned maxphyaddr;
};

void test_cpuid(struct cpu_info *cpu);
void test_pio_widths(void);
void test_pio_string(void);
void test_mmio_widths(void);
void test_mmio_string(void);
void test_mmio_rmw(void);

#endif
