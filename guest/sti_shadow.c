/*
 * The interrupt window after STI (long mode, local APIC): an interrupt
 * pending while IF=0 is taken right after the instruction that follows
 * STI, not before it and not later. The host's KVM without VT-x/AMD-V
 * emulates CPL-0 code and delivers interrupts only some instructions later.
 */
#include "apic.h"
#include "seg.h"
#include "trap.h"

const char guest_name[] = "sti_shadow";

#define SHADOW_VECTOR 0x43

static volatile uint32_t marker, marker_seen;

static void shadow_handler(struct trap_frame *f)
{
	(void)f;
	marker_seen = marker;
	lapic_eoi();
}

void guest_main(void)
{
	idt_init(SEL_CODE64);
	trap_set_handler(SHADOW_VECTOR, shadow_handler);
	pic_init(0x20);
	lapic_enable();
	lapic_write(LAPIC_LVT_LINT0, LVT_MASKED);

	test_start("sti shadow");
	marker = 0;
	marker_seen = 0xff;
	lapic_send_ipi(0, ICR_SELF | ICR_ASSERT | SHADOW_VECTOR);
	expect_eq("held while IF=0", irq_count[SHADOW_VECTOR], 0);
	asm volatile("sti\n"
		     "movl $1, %0\n"
		     "movl $2, %0\n"
		     "movl $3, %0\n"
		     "cli" : "=m"(marker) :: "memory");
	expect_eq("taken in the window", irq_count[SHADOW_VECTOR], 1);
	expect_eq("after exactly one instruction", marker_seen, 1);
	test_end();

	test_start("sti;nop;cli window");
	lapic_send_ipi(0, ICR_SELF | ICR_ASSERT | SHADOW_VECTOR);
	asm volatile("sti; nop; cli" ::: "memory");
	expect_eq("taken", irq_count[SHADOW_VECTOR], 2);
	test_end();

	/* Nothing may stay pending for the exit. */
	irq_settle();
}
