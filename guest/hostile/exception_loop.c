/*
 * An exception loop that never ends: the #GP handler returns to the
 * faulting instruction, forever. Nothing stops the guest, so runvm must
 * still answer SIGTERM at once (tests/hostile.sh sends it).
 */
#include "hostile.h"
#include "seg.h"
#include "trap.h"

const char guest_name[] = "exception_loop";

static volatile uint64_t faults;

static void retry(struct trap_frame *f)
{
	(void)f;
	if (++faults == 1)
		printf("looping on #GP\n");
}

void guest_main(void)
{
	idt_init(SEL_CODE64);
	trap_set_handler(13, retry);
	/* A non-canonical address: #GP, every time. */
	asm volatile("movq (%0), %%rax" :: "r"(0x8000000000000000ULL) : "rax", "memory");
	guest_abort("a non-canonical load did not fault");
}
