/*
 * Interrupt controllers and timers: local APIC (xAPIC MMIO), I/O APIC,
 * the 8259 pair and the 8254 PIT.
 */
#ifndef GUEST_APIC_H
#define GUEST_APIC_H

#include "guest.h"

/* Local APIC registers (offsets from LAPIC_BASE). */
#define LAPIC_ID        0x020
#define LAPIC_VERSION   0x030
#define LAPIC_TPR       0x080
#define LAPIC_EOI       0x0b0
#define LAPIC_SVR       0x0f0
#define LAPIC_ISR       0x100
#define LAPIC_IRR       0x200
#define LAPIC_ICR_LO    0x300
#define LAPIC_ICR_HI    0x310
#define LAPIC_LVT_TIMER 0x320
#define LAPIC_LVT_LINT0 0x350
#define LAPIC_LVT_LINT1 0x360
#define LAPIC_TIMER_ICR 0x380
#define LAPIC_TIMER_CCR 0x390
#define LAPIC_TIMER_DCR 0x3e0

#define LVT_MASKED      (1u << 16)
#define LVT_PERIODIC    (1u << 17)
#define LVT_EXTINT      (7u << 8)
#define ICR_INIT        (5u << 8)
#define ICR_STARTUP     (6u << 8)
#define ICR_PENDING     (1u << 12)
#define ICR_ASSERT      (1u << 14)
#define ICR_SELF        (1u << 18)

#define SPURIOUS_VECTOR 0xff

static inline uint32_t lapic_read(uint32_t reg) { return mmio_read32(LAPIC_BASE + reg); }
static inline void lapic_write(uint32_t reg, uint32_t v) { mmio_write32(LAPIC_BASE + reg, v); }
static inline void lapic_eoi(void) { lapic_write(LAPIC_EOI, 0); }
static inline unsigned lapic_id(void) { return lapic_read(LAPIC_ID) >> 24; }

/* Software-enables this CPU's local APIC with the spurious vector, and
 * installs the watchdog's handler (see wait_irq). */
void lapic_enable(void);
/* Routes the 8259's output through LINT0 (virtual wire mode, BSP only). */
void lapic_virtual_wire(void);
/* Sends an IPI; returns 0 once the ICR is idle again, -1 if it stays busy. */
int lapic_send_ipi(unsigned dest, uint32_t icr_lo);
/* Whether the vector's bit is set in the IRR or ISR. */
int lapic_irr(unsigned vector);
int lapic_isr(unsigned vector);

/* I/O APIC. */
#define IOAPIC_ID       0x00
#define IOAPIC_VERSION  0x01
#define IOREDTBL(pin)   (0x10 + 2 * (pin))
#define RTE_LEVEL       (1u << 15)
#define RTE_REMOTE_IRR  (1u << 14)
#define RTE_LOW_ACTIVE  (1u << 13)
#define RTE_MASKED      (1u << 16)

uint32_t ioapic_read(unsigned reg);
void ioapic_write(unsigned reg, uint32_t v);
/* Fixed delivery to the local APIC `dest`; flags: RTE_LEVEL, RTE_MASKED. */
void ioapic_route(unsigned pin, unsigned vector, unsigned dest, uint32_t flags);
void ioapic_mask(unsigned pin);

/* 8259 pair: IRQ 0-7 at vectors base..base+7, 8-15 at base+8... */
void pic_init(unsigned base);
void pic_set_mask(uint16_t mask);
void pic_eoi(unsigned irq);
/* In-service and request registers (OCW3), master in the low byte. */
uint16_t pic_isr(void);
uint16_t pic_irr(void);

/* 8254 channel 0 (1.193182 MHz): one-shot (mode 0) or rate generator (mode 2). */
#define PIT_HZ 1193182u
void pit_oneshot(uint16_t count);
void pit_periodic(uint16_t count);
void pit_stop(void);

/* The testdev interrupt lines: raise or lower ISA IRQ n. */
static inline void testdev_irq(unsigned irq, int level) { outb((uint16_t)(TESTDEV_IRQ + irq), (uint8_t)!!level); }

/*
 * Waiting for interrupts. Both use HLT, never polling, with the local APIC
 * timer as a watchdog at WATCHDOG_VECTOR, the lowest priority class any
 * guest uses, so the watchdog is delivered only after every deliverable
 * interrupt of higher priority. Call them with interrupts off; they return
 * so. Not for tests of the APIC timer itself, which they reprogram.
 *
 * wait_irq: until *counter reaches want, or about 0.2 s at KVM's 1 GHz
 * APIC timer; returns whether the count was reached.
 * irq_settle: until every deliverable interrupt has been taken (a short
 * watchdog wakes the last HLT); tests then check what was held back.
 */
#define WATCHDOG_VECTOR 0x30
int wait_irq(volatile uint32_t *counter, uint32_t want);
void irq_settle(void);

#endif
