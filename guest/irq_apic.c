/*
 * Interrupts through the local APIC and the I/O APIC (long mode), with the
 * 8259s masked: the PIT on I/O APIC pin 0 (one-shot and periodic), the
 * local APIC timer (one-shot and periodic), the UART's THRE interrupt on
 * pin 4, a testdev line as an edge-triggered input, self-IPIs, priority
 * order, TPR/CR8 masking. (apic_eoi tests ISR, EOI and level triggering.)
 */
#include "apic.h"
#include "seg.h"
#include "trap.h"

const char guest_name[] = "irq_apic";

#define PIT_VECTOR    0x50
#define TIMER_VECTOR  0x51
#define UART_VECTOR   0x52
#define EDGE_VECTOR   0x53
#define IPI_VECTOR    0x55
#define LOW_VECTOR    0x60
#define HIGH_VECTOR   0x90
#define PROBE_VECTOR  0xe0

#define EDGE_IRQ  10

static unsigned bsp;

static void eoi_handler(struct trap_frame *f)
{
	(void)f;
	lapic_eoi();
}

/* ---------------- versions ---------------- */

static void test_versions(void)
{
	test_start("apic versions");
	uint32_t v = ioapic_read(IOAPIC_VERSION);
	expect_eq("I/O APIC redirection entries - 1", (v >> 16) & 0xff, 23);
	expect_true("I/O APIC version 0x1x or 0x20", (v & 0xf0) == 0x10 || (v & 0xff) == 0x20);
	v = lapic_read(LAPIC_VERSION);
	expect_true("local APIC version 0x1x", (v & 0xf0) == 0x10);
	expect_true("local APIC max LVT entry >= 3", ((v >> 16) & 0xff) >= 3);
	expect_eq("BSP APIC ID from CPUID", cpuid(1, 0).b >> 24, bsp);
	/* Redirection entries read back what was written (but the status bits). */
	ioapic_route(EDGE_IRQ, 0x77, bsp, RTE_MASKED | RTE_LOW_ACTIVE);
	expect_eq("RTE low half", ioapic_read(IOREDTBL(EDGE_IRQ)), 0x77 | RTE_MASKED | RTE_LOW_ACTIVE);
	expect_eq("RTE high half", ioapic_read(IOREDTBL(EDGE_IRQ) + 1), bsp << 24);
	ioapic_mask(EDGE_IRQ);
	test_end();
}

/* ---------------- PIT through the I/O APIC ---------------- */

static void test_pit(void)
{
	test_start("pit one-shot via ioapic");
	ioapic_route(0, PIT_VECTOR, bsp, 0);
	pit_oneshot(1193);                              /* 1 ms */
	expect_true("interrupt arrived", wait_irq(&irq_count[PIT_VECTOR], 1));
	irq_settle();
	expect_eq("exactly once", irq_count[PIT_VECTOR], 1);
	test_end();

	test_start("pit periodic via ioapic");
	pit_periodic(1193);
	expect_true("three ticks", wait_irq(&irq_count[PIT_VECTOR], 4));
	pit_stop();
	ioapic_mask(0);
	irq_settle();
	test_end();
}

/* ---------------- local APIC timer ---------------- */

static void test_lapic_timer(void)
{
	test_start("lapic timer one-shot");
	lapic_write(LAPIC_TIMER_DCR, 0xb);                      /* divide by 1 */
	lapic_write(LAPIC_LVT_TIMER, TIMER_VECTOR);
	expect_eq("LVT reads back", lapic_read(LAPIC_LVT_TIMER), TIMER_VECTOR);
	lapic_write(LAPIC_TIMER_ICR, 1000000);                  /* 1 ms */
	uint32_t ccr = lapic_read(LAPIC_TIMER_CCR);
	expect_true("current count running down", ccr > 0 && ccr <= 1000000);
	for (int i = 0; i < 10 && irq_count[TIMER_VECTOR] == 0; i++) {
		sti_hlt();
		cli();
	}
	expect_eq("one interrupt", irq_count[TIMER_VECTOR], 1);
	expect_eq("current count 0 after expiry", lapic_read(LAPIC_TIMER_CCR), 0);
	test_end();

	test_start("lapic timer periodic");
	lapic_write(LAPIC_LVT_TIMER, LVT_PERIODIC | TIMER_VECTOR);
	lapic_write(LAPIC_TIMER_ICR, 1000000);                  /* 1 ms */
	for (int i = 0; i < 10 && irq_count[TIMER_VECTOR] < 4; i++) {
		sti_hlt();
		cli();
	}
	expect_true("reloads: still counting", lapic_read(LAPIC_TIMER_CCR) != 0);
	lapic_write(LAPIC_LVT_TIMER, LVT_MASKED | TIMER_VECTOR);
	lapic_write(LAPIC_TIMER_ICR, 0);
	expect_true("three more interrupts", irq_count[TIMER_VECTOR] >= 4);
	test_end();
}

/* ---------------- UART ---------------- */

#define UART_IER 1
#define UART_IIR 2
#define UART_MCR 4

static volatile uint8_t uart_iir;

static void uart_handler(struct trap_frame *f)
{
	(void)f;
	uart_iir = inb(COM1 + UART_IIR);        /* reading IIR clears THRE */
	outb(COM1 + UART_IER, 0);
	lapic_eoi();
}

static void test_uart(void)
{
	test_start("uart thre via ioapic");
	ioapic_route(COM1_IRQ, UART_VECTOR, bsp, 0);
	outb(COM1 + UART_MCR, 0x0b);            /* DTR, RTS, OUT2 (IRQ enable) */
	outb(COM1 + UART_IER, 0x02);            /* transmitter empty */
	expect_true("interrupt arrived", wait_irq(&irq_count[UART_VECTOR], 1));
	expect_eq("IIR: THR empty", uart_iir & 0x0f, 0x02);
	expect_eq("IIR after: none pending", inb(COM1 + UART_IIR) & 0x01, 0x01);
	irq_settle();
	expect_eq("exactly once", irq_count[UART_VECTOR], 1);
	ioapic_mask(COM1_IRQ);
	test_end();
}

/* ---------------- testdev lines ---------------- */

static void test_testdev_lines(void)
{
	test_start("testdev irq edge via ioapic");
	ioapic_route(EDGE_IRQ, EDGE_VECTOR, bsp, 0);
	testdev_irq(EDGE_IRQ, 1);
	expect_true("rising edge delivered", wait_irq(&irq_count[EDGE_VECTOR], 1));
	testdev_irq(EDGE_IRQ, 1);
	irq_settle();
	expect_eq("no edge while high: nothing", irq_count[EDGE_VECTOR], 1);
	testdev_irq(EDGE_IRQ, 0);
	testdev_irq(EDGE_IRQ, 1);
	expect_true("second edge delivered", wait_irq(&irq_count[EDGE_VECTOR], 2));
	testdev_irq(EDGE_IRQ, 0);
	irq_settle();
	expect_eq("exactly twice", irq_count[EDGE_VECTOR], 2);
	ioapic_mask(EDGE_IRQ);
	test_end();
}

/* ---------------- IPIs, priorities, TPR ---------------- */

static volatile uint32_t order[4], n_order;

static void order_handler(struct trap_frame *f)
{
	if (n_order < 4)
		order[n_order++] = (uint32_t)f->vector;
	lapic_eoi();
}

static void self_ipi(unsigned vector)
{
	lapic_send_ipi(0, ICR_SELF | ICR_ASSERT | vector);
}

static void test_ipi_priority(void)
{
	test_start("self-ipi");
	self_ipi(IPI_VECTOR);
	expect_eq("IRR set while IF=0", lapic_irr(IPI_VECTOR), 1);
	expect_true("delivered", wait_irq(&irq_count[IPI_VECTOR], 1));
	expect_eq("IRR clear", lapic_irr(IPI_VECTOR), 0);
	test_end();

	test_start("priority order");
	n_order = 0;
	self_ipi(LOW_VECTOR);
	self_ipi(HIGH_VECTOR);
	expect_true("both delivered", wait_irq(&irq_count[LOW_VECTOR], 1));
	expect_eq("count", n_order, 2);
	expect_eq("higher vector first", order[0], HIGH_VECTOR);
	expect_eq("then the lower", order[1], LOW_VECTOR);
	test_end();

	test_start("tpr and cr8");
	uintptr_t cr8 = 6;
	asm volatile("mov %0, %%cr8" :: "r"(cr8));
	expect_eq("TPR from CR8", lapic_read(LAPIC_TPR) & 0xf0, 0x60);
	self_ipi(IPI_VECTOR);                   /* class 5 <= 6: held */
	/* The watchdog's class is held too: wake with a timer above the TPR. */
	lapic_write(LAPIC_LVT_TIMER, PROBE_VECTOR);
	lapic_write(LAPIC_TIMER_ICR, 50000);
	for (int i = 0; i < 10 && irq_count[PROBE_VECTOR] == 0; i++) {
		sti_hlt();
		cli();
	}
	expect_eq("a class 14 timer passes the TPR", irq_count[PROBE_VECTOR], 1);
	expect_eq("held by TPR", irq_count[IPI_VECTOR], 1);
	expect_eq("still requested", lapic_irr(IPI_VECTOR), 1);
	lapic_write(LAPIC_TPR, 0x20);
	asm volatile("mov %%cr8, %0" : "=r"(cr8));
	expect_eq("CR8 from TPR", cr8, 2);
	expect_true("delivered after lowering TPR", wait_irq(&irq_count[IPI_VECTOR], 2));
	lapic_write(LAPIC_TPR, 0);
	test_end();
}

void guest_main(void)
{
	idt_init(SEL_CODE64);
	trap_set_handler(PIT_VECTOR, eoi_handler);
	trap_set_handler(TIMER_VECTOR, eoi_handler);
	trap_set_handler(UART_VECTOR, uart_handler);
	trap_set_handler(EDGE_VECTOR, eoi_handler);
	trap_set_handler(IPI_VECTOR, order_handler);
	trap_set_handler(LOW_VECTOR, order_handler);
	trap_set_handler(HIGH_VECTOR, order_handler);
	trap_set_handler(PROBE_VECTOR, eoi_handler);

	pic_init(0x20);                         /* and masked: the I/O APIC only */
	lapic_enable();
	lapic_write(LAPIC_LVT_LINT0, LVT_MASKED);
	bsp = lapic_id();
	for (unsigned pin = 0; pin < 24; pin++)
		ioapic_mask(pin);

	test_versions();
	test_pit();
	test_lapic_timer();
	test_uart();
	test_testdev_lines();
	test_ipi_priority();
}
