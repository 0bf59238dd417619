/*
 * An exception loop that ends the machine: the page-fault handler itself
 * touches an unmapped page, so page faults nest until the stack (placed
 * at the bottom of memory on purpose) runs into unmapped space, a fault
 * while delivering one becomes a double fault, and that one a triple
 * fault. runvm must report it and stop (--no-reboot) without a hang.
 */
#include "hostile.h"
#include "seg.h"
#include "trap.h"

const char guest_name[] = "pf_recursive";

/* Beyond the loader's 4 GiB identity map: not present. */
#define UNMAPPED 0x8000000000ULL

static volatile uint32_t depth;

static void fault_again(struct trap_frame *f)
{
	(void)f;
	depth++;
	(void)*(volatile uint64_t *)UNMAPPED;
}

void guest_main(void)
{
	idt_init(SEL_CODE64);
	trap_set_handler(14, fault_again);
	printf("page faults from the page-fault handler now\n");
	/* A 4 KiB stack at the bottom of memory: below it is a non-present page. */
	asm volatile("mov $0x1000, %%rsp; movq (%0), %%rax" :: "r"(UNMAPPED) : "rax", "memory");
	guest_abort("still running after %u nested page faults", depth);
}
