/* Interrupt controller and timer helpers shared by the interrupt guests. */
#include "apic.h"
#include "trap.h"

static void watchdog_handler(struct trap_frame *f);

void lapic_enable(void)
{
	trap_set_handler(WATCHDOG_VECTOR, watchdog_handler);
	lapic_write(LAPIC_SVR, 0x100 | SPURIOUS_VECTOR);
	lapic_write(LAPIC_TPR, 0);
}

void lapic_virtual_wire(void)
{
	lapic_write(LAPIC_LVT_LINT0, LVT_EXTINT);
}

int lapic_send_ipi(unsigned dest, uint32_t icr_lo)
{
	lapic_write(LAPIC_ICR_HI, dest << 24);
	lapic_write(LAPIC_ICR_LO, icr_lo);
	for (int i = 0; i < 1000; i++)
		if (!(lapic_read(LAPIC_ICR_LO) & ICR_PENDING))
			return 0;
	return -1;
}

int lapic_irr(unsigned vector)
{
	return (lapic_read(LAPIC_IRR + (vector / 32) * 0x10) >> (vector % 32)) & 1;
}

int lapic_isr(unsigned vector)
{
	return (lapic_read(LAPIC_ISR + (vector / 32) * 0x10) >> (vector % 32)) & 1;
}

uint32_t ioapic_read(unsigned reg)
{
	mmio_write32(IOAPIC_BASE, reg);
	return mmio_read32(IOAPIC_BASE + 0x10);
}

void ioapic_write(unsigned reg, uint32_t v)
{
	mmio_write32(IOAPIC_BASE, reg);
	mmio_write32(IOAPIC_BASE + 0x10, v);
}

void ioapic_route(unsigned pin, unsigned vector, unsigned dest, uint32_t flags)
{
	/* High half first, so the entry is never live with a stale destination. */
	ioapic_write(IOREDTBL(pin) + 1, dest << 24);
	ioapic_write(IOREDTBL(pin), vector | flags);
}

void ioapic_mask(unsigned pin)
{
	ioapic_write(IOREDTBL(pin), RTE_MASKED);
}

#define PIC1_CMD  0x20
#define PIC1_DATA 0x21
#define PIC2_CMD  0xa0
#define PIC2_DATA 0xa1

void pic_init(unsigned base)
{
	outb(PIC1_CMD, 0x11);                   /* ICW1: edge, cascade, ICW4 */
	outb(PIC2_CMD, 0x11);
	outb(PIC1_DATA, (uint8_t)base);         /* ICW2: vector base */
	outb(PIC2_DATA, (uint8_t)(base + 8));
	outb(PIC1_DATA, 1 << 2);                /* ICW3: slave on IRQ 2 */
	outb(PIC2_DATA, 2);
	outb(PIC1_DATA, 0x01);                  /* ICW4: 8086 mode, normal EOI */
	outb(PIC2_DATA, 0x01);
	pic_set_mask(0xffff);
}

void pic_set_mask(uint16_t mask)
{
	outb(PIC1_DATA, (uint8_t)mask);
	outb(PIC2_DATA, (uint8_t)(mask >> 8));
}

void pic_eoi(unsigned irq)
{
	if (irq >= 8)
		outb(PIC2_CMD, 0x20);
	outb(PIC1_CMD, 0x20);
}

static uint16_t pic_read_reg(uint8_t ocw3)
{
	outb(PIC1_CMD, ocw3);
	outb(PIC2_CMD, ocw3);
	return (uint16_t)(inb(PIC1_CMD) | inb(PIC2_CMD) << 8);
}

uint16_t pic_isr(void) { return pic_read_reg(0x0b); }
uint16_t pic_irr(void) { return pic_read_reg(0x0a); }

#define PIT_CH0 0x40
#define PIT_CMD 0x43

static void pit_start(uint8_t mode, uint16_t count)
{
	outb(PIT_CMD, (uint8_t)(0x30 | mode << 1));     /* ch 0, lo/hi byte, binary */
	outb(PIT_CH0, (uint8_t)count);
	outb(PIT_CH0, (uint8_t)(count >> 8));
}

void pit_oneshot(uint16_t count) { pit_start(0, count); }
void pit_periodic(uint16_t count) { pit_start(2, count); }

/* Mode 0 with a count but no reload: the output stays low after the
 * command byte and the counter never starts without the count bytes. */
void pit_stop(void) { outb(PIT_CMD, 0x30); }

static void watchdog_handler(struct trap_frame *f)
{
	(void)f;
	lapic_eoi();
}

static void watchdog_arm(uint32_t count)
{
	lapic_write(LAPIC_TIMER_DCR, 0xb);              /* divide by 1 */
	lapic_write(LAPIC_LVT_TIMER, WATCHDOG_VECTOR);  /* one-shot */
	lapic_write(LAPIC_TIMER_ICR, count);
}

static void watchdog_disarm(void)
{
	lapic_write(LAPIC_TIMER_ICR, 0);
	lapic_write(LAPIC_LVT_TIMER, LVT_MASKED);
}

int wait_irq(volatile uint32_t *counter, uint32_t want)
{
	uint32_t fired = irq_count[WATCHDOG_VECTOR];

	watchdog_arm(200000000);
	while (*counter < want && irq_count[WATCHDOG_VECTOR] == fired) {
		sti_hlt();
		cli();
	}
	watchdog_disarm();
	return *counter >= want;
}

void irq_settle(void)
{
	uint32_t fired = irq_count[WATCHDOG_VECTOR];

	watchdog_arm(50000);
	while (irq_count[WATCHDOG_VECTOR] == fired) {
		sti_hlt();
		cli();
	}
	watchdog_disarm();
}
