/*
 * Interrupts through the 8259 pair (32-bit protected mode, local APIC in
 * virtual-wire mode, I/O APIC masked): the PIT on IRQ 0 (one-shot and
 * periodic), the UART's THRE interrupt on IRQ 4, testdev lines on the
 * master and through the cascade on the slave, the mask register, IRR
 * latching of masked edges, in-service blocking of lower priorities and
 * nesting of higher ones, non-specific EOI.
 */
#include "apic.h"
#include "seg.h"
#include "trap.h"

const char guest_name[] = "irq_pic";

#define PIC_BASE 0x20
#define VEC(irq) (PIC_BASE + (irq))

static volatile uint16_t isr_seen;

/* Records the in-service register, then a non-specific EOI. */
static void pic_handler(struct trap_frame *f)
{
	unsigned irq = (unsigned)f->vector - PIC_BASE;
	isr_seen = pic_isr();
	pic_eoi(irq);
}

/* No EOI: the IRQ stays in service until the test retires it. */
static void no_eoi_handler(struct trap_frame *f)
{
	(void)f;
	isr_seen = pic_isr();
}

static void test_mask_register(void)
{
	test_start("pic mask register");
	pic_set_mask(0x5aa5);
	expect_eq("master IMR", inb(0x21), 0xa5);
	expect_eq("slave IMR", inb(0xa1), 0x5a);
	pic_set_mask(0xffff);
	expect_eq("nothing in service", pic_isr(), 0);
	test_end();
}

static void test_pit(void)
{
	test_start("pit one-shot via pic");
	pic_set_mask((uint16_t)~(1u << 0));
	pit_oneshot(1193);                      /* 1 ms */
	expect_true("interrupt arrived", wait_irq(&irq_count[VEC(0)], 1));
	expect_eq("IRQ 0 in service in the handler", isr_seen, 1);
	expect_eq("retired by EOI", pic_isr(), 0);
	irq_settle();
	expect_eq("exactly once", irq_count[VEC(0)], 1);
	test_end();

	test_start("pit periodic via pic");
	pit_periodic(1193);
	expect_true("three ticks", wait_irq(&irq_count[VEC(0)], 4));
	pit_stop();
	irq_settle();
	pic_set_mask(0xffff);
	test_end();
}

#define UART_IER 1
#define UART_IIR 2
#define UART_MCR 4

static volatile uint8_t uart_iir;

static void uart_handler(struct trap_frame *f)
{
	(void)f;
	uart_iir = inb(COM1 + UART_IIR);
	outb(COM1 + UART_IER, 0);
	pic_eoi(COM1_IRQ);
}

static void test_uart(void)
{
	test_start("uart thre via pic");
	pic_set_mask((uint16_t)~(1u << COM1_IRQ));
	outb(COM1 + UART_MCR, 0x0b);            /* DTR, RTS, OUT2 (IRQ enable) */
	outb(COM1 + UART_IER, 0x02);
	expect_true("interrupt arrived", wait_irq(&irq_count[VEC(COM1_IRQ)], 1));
	expect_eq("IIR: THR empty", uart_iir & 0x0f, 0x02);
	irq_settle();
	expect_eq("exactly once", irq_count[VEC(COM1_IRQ)], 1);
	pic_set_mask(0xffff);
	test_end();
}

static void test_testdev_lines(void)
{
	test_start("testdev irq via slave pic");
	pic_set_mask((uint16_t)~(1u << 2 | 1u << 10));
	testdev_irq(10, 1);
	expect_true("IRQ 10 delivered", wait_irq(&irq_count[VEC(10)], 1));
	expect_eq("IRQ 10 and the cascade in service", isr_seen, 1u << 10 | 1u << 2);
	testdev_irq(10, 0);
	expect_eq("both retired", pic_isr(), 0);
	pic_set_mask(0xffff);
	test_end();

	test_start("masked edge latched in IRR");
	testdev_irq(6, 1);
	expect_eq("IRR bit 6", pic_irr() & (1u << 6), 1u << 6);
	irq_settle();
	expect_eq("not delivered while masked", irq_count[VEC(6)], 0);
	pic_set_mask((uint16_t)~(1u << 6));
	expect_true("delivered on unmask", wait_irq(&irq_count[VEC(6)], 1));
	testdev_irq(6, 0);
	test_end();

	test_start("pic priorities");
	pic_set_mask((uint16_t)~(1u << 3 | 1u << 5 | 1u << 6));
	trap_set_handler(VEC(5), no_eoi_handler);
	testdev_irq(5, 1);
	expect_true("IRQ 5 delivered", wait_irq(&irq_count[VEC(5)], 1));
	expect_eq("IRQ 5 in service", pic_isr(), 1u << 5);
	testdev_irq(6, 1);
	irq_settle();
	expect_eq("IRQ 6 held by IRQ 5 in service", irq_count[VEC(6)], 1);
	expect_eq("IRQ 6 requested", pic_irr() & (1u << 6), 1u << 6);
	testdev_irq(3, 1);
	expect_true("IRQ 3 nests above IRQ 5", wait_irq(&irq_count[VEC(3)], 1));
	expect_eq("IRQ 3 and 5 in service in the handler", isr_seen, 1u << 3 | 1u << 5);
	expect_eq("IRQ 5 still in service", pic_isr(), 1u << 5);
	irq_settle();
	expect_eq("IRQ 6 still held", irq_count[VEC(6)], 1);
	pic_eoi(5);
	expect_true("IRQ 6 delivered after EOI", wait_irq(&irq_count[VEC(6)], 2));
	expect_eq("nothing in service", pic_isr(), 0);
	testdev_irq(3, 0);
	testdev_irq(5, 0);
	testdev_irq(6, 0);
	pic_set_mask(0xffff);
	test_end();
}

void guest_main(void)
{
	idt_init(SEL_CODE32);
	for (unsigned irq = 0; irq < 16; irq++)
		trap_set_handler(VEC(irq), pic_handler);
	trap_set_handler(VEC(COM1_IRQ), uart_handler);
	pic_init(PIC_BASE);
	lapic_enable();
	lapic_virtual_wire();
	for (unsigned pin = 0; pin < 24; pin++)
		ioapic_mask(pin);

	test_mask_register();
	test_pit();
	test_uart();
	test_testdev_lines();
}
