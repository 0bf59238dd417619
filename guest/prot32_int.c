/*
 * 32-bit protected mode: IRET and the software interrupts. The handlers
 * return with IRET; the tests raise #BP (INT3), #OF (INTO), #BR (BOUND)
 * and INT n, and check the vector, the saved EIP and the flags IRET
 * restores. (The host's KVM without VT-x/AMD-V emulates none of these in
 * protected mode; runvm's own hypervisor must.)
 */
#include "guest.h"
#include "seg.h"
#include "trap.h"

const char guest_name[] = "prot32_int";

PROBE(probe_ud2, "", "ud2")
PROBE(probe_int3, "", "int3")
PROBE(probe_int_3, "", "int $3")
PROBE(probe_int80, "", "int $0x80")
PROBE(probe_int81_carry, "clc", "int $0x81\nsetc %al\nmovzbl %al, %eax")
PROBE(probe_into, "add %edx, %eax", "into")
PROBE(probe_bound, "", "bound %edx, (%eax)")

static void int80_handler(struct trap_frame *f)
{
	f->ax = 0x80808080;
}

static void int81_handler(struct trap_frame *f)
{
	f->flags |= 1;          /* CF, restored by IRET */
}

void guest_main(void)
{
	trap_use_iret = 1;
	idt_init(SEL_CODE32);
	trap_set_handler(0x80, int80_handler);
	trap_set_handler(0x81, int81_handler);

	test_start("iret from a fault");
	exc_clear();
	probe_ud2(0, 0, 0);
	expect_exception("ud2", 6, 0, (uintptr_t)probe_ud2_ip);
	test_end();

	test_start("#BP");
	exc_clear();
	probe_int3(0, 0, 0);
	expect_exception("int3 (a trap: eip after it)", 3, NO_ERROR, (uintptr_t)probe_int3_end);
	exc_clear();
	probe_int_3(0, 0, 0);
	expect_exception("int $3", 3, NO_ERROR, (uintptr_t)probe_int_3_end);
	test_end();

	test_start("INT n");
	irq_count[0x80] = 0;
	expect_eq("handler's eax", probe_int80(0, 0, 0), 0x80808080);
	expect_eq("taken once", irq_count[0x80], 1);
	expect_eq("IRET restores the frame's CF", probe_int81_carry(0, 0, 0), 1);
	test_end();

	test_start("#OF");
	exc_clear();
	probe_into(1, 2, 0);
	expect_eq("OF=0: no exception", exc.count, 0);
	probe_into(0x7fffffff, 1, 0);
	expect_exception("OF=1", 4, NO_ERROR, (uintptr_t)probe_into_end);
	test_end();

	test_start("#BR");
	static const int32_t bounds[2] = { 10, 20 };
	exc_clear();
	probe_bound((uintptr_t)bounds, 15, 0);
	probe_bound((uintptr_t)bounds, 10, 0);
	probe_bound((uintptr_t)bounds, 20, 0);
	expect_eq("in bounds: no exception", exc.count, 0);
	probe_bound((uintptr_t)bounds, 21, 0);
	expect_exception("above", 5, NO_ERROR, (uintptr_t)probe_bound_ip);
	exc_clear();
	probe_bound((uintptr_t)bounds, (uintptr_t)-5, 0);
	expect_exception("below (signed)", 5, NO_ERROR, (uintptr_t)probe_bound_ip);
	test_end();
}
