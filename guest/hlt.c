/*
 * HLT and interrupt windows (long mode, local APIC): HLT sleeps until an
 * interrupt arrives later and its handler has run; an interrupt already
 * pending when STI;HLT executes wakes the HLT (no lost wake-up); several
 * HLTs in a row each wait for the next interrupt. (sti_shadow tests the
 * exact interrupt window after STI.)
 */
#include "apic.h"
#include "seg.h"
#include "trap.h"

const char guest_name[] = "hlt";

#define TIMER_VECTOR   0x40
#define PENDING_VECTOR 0x41

static volatile uintptr_t woke_at;

static void eoi_handler(struct trap_frame *f)
{
	(void)f;
	lapic_eoi();
}

static void timer_handler(struct trap_frame *f)
{
	woke_at = f->ip;
	lapic_eoi();
}

extern char after_hlt[];

/* One HLT; the interrupt's handler records where it returns to. */
static __attribute__((noinline, noclone)) void hlt_once(void)
{
	asm volatile("sti; hlt\n.globl after_hlt\nafter_hlt: cli" ::: "memory");
}

static void test_hlt_wakeup(void)
{
	test_start("hlt woken by the APIC timer");
	lapic_write(LAPIC_TIMER_DCR, 0xb);              /* divide by 1 */
	lapic_write(LAPIC_LVT_TIMER, TIMER_VECTOR);     /* one-shot */
	lapic_write(LAPIC_TIMER_ICR, 2000000);          /* 2 ms at 1 GHz */
	expect_eq("no interrupt yet", irq_count[TIMER_VECTOR], 0);
	hlt_once();
	/* HLT resumes only for an interrupt, whose handler ran first. */
	expect_eq("handler ran once", irq_count[TIMER_VECTOR], 1);
	expect_eq("interrupt returned after the HLT", woke_at, (uintptr_t)after_hlt);
	expect_eq("one-shot count expired", lapic_read(LAPIC_TIMER_CCR), 0);
	test_end();
}

static void test_pending_at_hlt(void)
{
	test_start("interrupt pending at sti;hlt");
	uint32_t watchdog = irq_count[WATCHDOG_VECTOR];
	/* A watchdog, so that a lost wake-up fails instead of hanging. */
	lapic_write(LAPIC_LVT_TIMER, WATCHDOG_VECTOR);
	lapic_write(LAPIC_TIMER_ICR, 200000000);
	lapic_send_ipi(0, ICR_SELF | ICR_ASSERT | PENDING_VECTOR);
	expect_eq("held while IF=0", irq_count[PENDING_VECTOR], 0);
	expect_eq("IRR bit set", lapic_irr(PENDING_VECTOR), 1);
	hlt_once();
	lapic_write(LAPIC_TIMER_ICR, 0);
	expect_eq("taken at sti;hlt", irq_count[PENDING_VECTOR], 1);
	expect_eq("woke without the watchdog", irq_count[WATCHDOG_VECTOR], watchdog);
	expect_eq("IRR bit clear", lapic_irr(PENDING_VECTOR), 0);
	expect_eq("ISR clear after EOI", lapic_isr(PENDING_VECTOR), 0);
	test_end();
}

static void test_hlt_repeat(void)
{
	test_start("hlt woken by a periodic timer");
	lapic_write(LAPIC_LVT_TIMER, LVT_PERIODIC | TIMER_VECTOR);
	/* Long enough that one handler never spans two periods. */
	lapic_write(LAPIC_TIMER_ICR, 2000000);          /* 2 ms */
	uint32_t start = irq_count[TIMER_VECTOR];
	for (int i = 0; i < 3; i++)
		hlt_once();
	lapic_write(LAPIC_LVT_TIMER, LVT_MASKED);
	lapic_write(LAPIC_TIMER_ICR, 0);
	expect_eq("three wake-ups, three interrupts", irq_count[TIMER_VECTOR] - start, 3);
	test_end();
}

void guest_main(void)
{
	idt_init(SEL_CODE64);
	trap_set_handler(TIMER_VECTOR, timer_handler);
	trap_set_handler(PENDING_VECTOR, eoi_handler);
	/* Only the local APIC interrupts: the 8259s stay silent. */
	pic_init(0x20);
	lapic_enable();
	lapic_write(LAPIC_LVT_LINT0, LVT_MASKED);

	test_hlt_wakeup();
	test_pending_at_hlt();
	test_hlt_repeat();
}
