/*
 * Long mode: INT3, INT n and IRETQ restoring the frame. The host's KVM
 * without VT-x/AMD-V cannot emulate INT3 in 64-bit mode; runvm's own
 * hypervisor must.
 */
#include "guest.h"
#include "seg.h"
#include "trap.h"

const char guest_name[] = "long_int3";

PROBE(probe_int80, "", "int $0x80")
PROBE(probe_int81_carry, "clc", "int $0x81\nsetc %al\nmovzbl %al, %eax")
PROBE(probe_int3, "", "int3")
PROBE(probe_int_3, "", "int $3")

static void int80_handler(struct trap_frame *f)
{
	f->ax = 0x8080808080808080ull;
}

static void int81_handler(struct trap_frame *f)
{
	f->flags |= 1;          /* CF, restored by IRETQ */
}

void guest_main(void)
{
	idt_init(SEL_CODE64);
	trap_set_handler(0x80, int80_handler);
	trap_set_handler(0x81, int81_handler);

	test_start("INT n");
	expect_eq("handler's rax", probe_int80(0, 0, 0), 0x8080808080808080ull);
	expect_eq("taken once", irq_count[0x80], 1);
	expect_eq("IRETQ restores the frame's CF", probe_int81_carry(0, 0, 0), 1);
	test_end();

	test_start("#BP");
	exc_clear();
	probe_int3(0, 0, 0);
	expect_exception("int3 (a trap: rip after it)", 3, NO_ERROR, (uintptr_t)probe_int3_end);
	exc_clear();
	probe_int_3(0, 0, 0);
	expect_exception("int $3", 3, NO_ERROR, (uintptr_t)probe_int_3_end);
	test_end();
}
