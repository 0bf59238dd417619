/*
 * In-service tracking and EOI (long mode, local APIC and I/O APIC): the
 * ISR bit of a vector is set while its handler runs and cleared by EOI; a
 * higher-priority interrupt nests inside a lower one's handler and EOI
 * retires the highest in-service vector first; a level-triggered I/O APIC
 * input sets remote IRR until EOI, is delivered again while the line stays
 * high, and a level raised while masked is delivered on unmasking. (The
 * host's KVM without VT-x/AMD-V shows no ISR bits and retires EOIs late.)
 */
#include "apic.h"
#include "seg.h"
#include "trap.h"

const char guest_name[] = "apic_eoi";

#define LOW_VECTOR    0x60
#define HIGH_VECTOR   0x90
#define LEVEL_VECTOR  0x54
#define HELD_VECTOR   0x70
#define BLOCK_VECTOR  0xa0
#define WAKE_VECTOR   0xe0
#define LEVEL_IRQ     11

static unsigned bsp;

/* ---------------- ISR and nesting ---------------- */

static volatile uint32_t low_isr_low, low_isr_high_after, high_isr_both;

static void high_handler(struct trap_frame *f)
{
	(void)f;
	high_isr_both = lapic_isr(HIGH_VECTOR) << 1 | lapic_isr(LOW_VECTOR);
	lapic_eoi();
}

static void low_handler(struct trap_frame *f)
{
	(void)f;
	low_isr_low = lapic_isr(LOW_VECTOR);
	/* Let the higher vector in while this one is in service. */
	lapic_send_ipi(0, ICR_SELF | ICR_ASSERT | HIGH_VECTOR);
	for (int i = 0; i < 10 && irq_count[HIGH_VECTOR] == 0; i++) {
		sti_hlt();
		cli();
	}
	low_isr_high_after = lapic_isr(HIGH_VECTOR) << 1 | lapic_isr(LOW_VECTOR);
	lapic_eoi();
}

static void eoi_handler(struct trap_frame *f)
{
	(void)f;
	lapic_eoi();
}

static void test_isr_nesting(void)
{
	test_start("isr and nested eoi");
	lapic_send_ipi(0, ICR_SELF | ICR_ASSERT | LOW_VECTOR);
	expect_true("delivered", wait_irq(&irq_count[LOW_VECTOR], 1));
	expect_eq("ISR set in the handler", low_isr_low, 1);
	expect_eq("nested: higher vector taken", irq_count[HIGH_VECTOR], 1);
	expect_eq("nested: both in service", high_isr_both, 3);
	expect_eq("nested: EOI retired the higher only", low_isr_high_after, 1);
	expect_eq("all retired", lapic_isr(LOW_VECTOR) | lapic_isr(HIGH_VECTOR), 0);
	test_end();

	test_start("lower vector held while a higher is in service");
	/* BLOCK's handler sends no EOI, so it stays in service. */
	lapic_send_ipi(0, ICR_SELF | ICR_ASSERT | BLOCK_VECTOR);
	wait_irq(&irq_count[BLOCK_VECTOR], 1);
	expect_eq("in service", lapic_isr(BLOCK_VECTOR), 1);
	lapic_send_ipi(0, ICR_SELF | ICR_ASSERT | HELD_VECTOR);
	/* A timer above BLOCK's class wakes the HLT; HELD must stay held. */
	lapic_write(LAPIC_LVT_TIMER, WAKE_VECTOR);
	lapic_write(LAPIC_TIMER_ICR, 50000);
	for (int i = 0; i < 10 && irq_count[WAKE_VECTOR] == 0; i++) {
		sti_hlt();
		cli();
	}
	expect_eq("woken by the timer", irq_count[WAKE_VECTOR], 1);
	expect_eq("held by the in-service vector", irq_count[HELD_VECTOR], 0);
	expect_eq("still requested", lapic_irr(HELD_VECTOR), 1);
	lapic_eoi();                            /* retires BLOCK */
	expect_eq("BLOCK retired", lapic_isr(BLOCK_VECTOR), 0);
	expect_true("delivered after EOI", wait_irq(&irq_count[HELD_VECTOR], 1));
	test_end();
}

/* ---------------- level triggering ---------------- */

static volatile uint32_t level_remote_irr;

static void level_handler(struct trap_frame *f)
{
	(void)f;
	if (ioapic_read(IOREDTBL(LEVEL_IRQ)) & RTE_REMOTE_IRR)
		level_remote_irr |= 1u << irq_count[LEVEL_VECTOR];
	/* The first time, EOI with the line still high: delivered again. */
	if (irq_count[LEVEL_VECTOR] >= 2)
		testdev_irq(LEVEL_IRQ, 0);
	lapic_eoi();
}

static void test_level(void)
{
	test_start("level-triggered via ioapic");
	ioapic_route(LEVEL_IRQ, LEVEL_VECTOR, bsp, RTE_LEVEL);
	testdev_irq(LEVEL_IRQ, 1);
	expect_true("delivered twice", wait_irq(&irq_count[LEVEL_VECTOR], 2));
	irq_settle();
	expect_eq("not a third time after the line fell", irq_count[LEVEL_VECTOR], 2);
	expect_eq("remote IRR set in both handlers", level_remote_irr, 6);
	expect_eq("remote IRR clear after EOI", ioapic_read(IOREDTBL(LEVEL_IRQ)) & RTE_REMOTE_IRR, 0);

	ioapic_route(LEVEL_IRQ, LEVEL_VECTOR, bsp, RTE_LEVEL | RTE_MASKED);
	testdev_irq(LEVEL_IRQ, 1);
	irq_settle();
	expect_eq("held while masked", irq_count[LEVEL_VECTOR], 2);
	ioapic_route(LEVEL_IRQ, LEVEL_VECTOR, bsp, RTE_LEVEL);
	expect_true("delivered on unmask", wait_irq(&irq_count[LEVEL_VECTOR], 3));
	irq_settle();
	expect_eq("once", irq_count[LEVEL_VECTOR], 3);
	ioapic_mask(LEVEL_IRQ);
	testdev_irq(LEVEL_IRQ, 0);
	test_end();
}

void guest_main(void)
{
	idt_init(SEL_CODE64);
	trap_set_handler(LOW_VECTOR, low_handler);
	trap_set_handler(HIGH_VECTOR, high_handler);
	trap_set_handler(LEVEL_VECTOR, level_handler);
	trap_set_handler(HELD_VECTOR, eoi_handler);
	trap_set_handler(WAKE_VECTOR, eoi_handler);
	pic_init(0x20);
	lapic_enable();
	lapic_write(LAPIC_LVT_LINT0, LVT_MASKED);
	bsp = lapic_id();
	for (unsigned pin = 0; pin < 24; pin++)
		ioapic_mask(pin);

	test_isr_nesting();
	test_level();
}
