/*
 * The I/O APIC (82093AA register set, version 0x11, 24 pins) at 0xfec00000:
 * an index register (IOREGSEL) and a data window (IOWIN). Each pin's
 * redirection entry turns its line into a message on the APIC bus.
 *
 * Lines are levels as KVM_IRQ_LINE gives them (asserted = 1; the polarity
 * bit is stored, not applied, as in KVM). Edge pins send on a rising edge
 * while unmasked. Level pins send while asserted, unmasked and without
 * remote IRR; remote IRR is set when a CPU accepts the message and cleared
 * by the EOI broadcast of a LAPIC for that vector.
 */
#include <string.h>

#include "internal.h"

#define IOREGSEL            0x00
#define IOWIN               0x10

#define IOAPIC_REG_ID       0x00
#define IOAPIC_REG_VER      0x01
#define IOAPIC_REG_ARB      0x02
#define IOAPIC_REG_REDTBL   0x10        /* two registers per pin */

#define IOAPIC_VERSION      0x11
#define IOAPIC_ID_MASK      0x0f000000u

/* Redirection entry bits. */
#define RTE_VECTOR          0xffULL
#define RTE_DM_SHIFT        8
#define RTE_DEST_LOGICAL    (1ULL << 11)
#define RTE_DELIVS          (1ULL << 12)
#define RTE_POLARITY        (1ULL << 13)
#define RTE_REMOTE_IRR      (1ULL << 14)
#define RTE_LEVEL           (1ULL << 15)
#define RTE_MASKED          (1ULL << 16)
#define RTE_DEST_SHIFT      56
/* What the guest may write: all but delivery status and remote IRR. */
#define RTE_WRITABLE        (0xff000000000000ffULL | (7ULL << RTE_DM_SHIFT) | \
			     RTE_DEST_LOGICAL | RTE_POLARITY | RTE_LEVEL | RTE_MASKED)

static __u64 *rte(struct ioapic *io, unsigned pin)
{
	return &io->s.redirtbl[pin].bits;
}

void ioapic_reset(struct ioapic *io)
{
	memset(&io->s, 0, sizeof(io->s));
	io->s.base_address = IRQCHIP_IOAPIC_BASE;
	for (unsigned pin = 0; pin < KVM_IOAPIC_NUM_PINS; pin++)
		*rte(io, pin) = RTE_MASKED;
}

static void rte_to_msg(uint64_t e, struct apic_msg *m)
{
	memset(m, 0, sizeof(*m));
	m->vector = e & RTE_VECTOR;
	m->dm = (e >> RTE_DM_SHIFT) & 7;
	m->logical = e & RTE_DEST_LOGICAL;
	m->level_trig = e & RTE_LEVEL;
	m->assert = true;
	m->src = -1;
	m->dest = (uint32_t)(e >> RTE_DEST_SHIFT);
}

/* Sends the pin's message if its line and entry allow it now. */
static void service_pin(struct irqchip *ic, unsigned pin)
{
	struct ioapic *io = &ic->ioapic;
	__u64 *e = rte(io, pin);
	struct apic_msg m;

	if ((*e & RTE_MASKED) || !(io->s.irr & (1u << pin)))
		return;
	if ((*e & RTE_LEVEL) && (*e & RTE_REMOTE_IRR))
		return;
	rte_to_msg(*e, &m);
	int accepted = lapic_deliver(ic, &m);
	if ((*e & RTE_LEVEL) && accepted)
		*e |= RTE_REMOTE_IRR;
}

int ioapic_set_irq(struct irqchip *ic, unsigned pin, int level)
{
	struct ioapic *io = &ic->ioapic;
	if (pin >= KVM_IOAPIC_NUM_PINS)
		return 0;
	uint32_t bit = 1u << pin;
	bool was = io->s.irr & bit;
	uint64_t e = *rte(io, pin);

	if (!level) {
		io->s.irr &= ~bit;
		return !(e & RTE_MASKED);
	}
	io->s.irr |= bit;
	if ((e & RTE_LEVEL) || !was)
		service_pin(ic, pin);
	return !(e & RTE_MASKED);
}

void ioapic_eoi(struct irqchip *ic, uint8_t vector)
{
	struct ioapic *io = &ic->ioapic;
	for (unsigned pin = 0; pin < KVM_IOAPIC_NUM_PINS; pin++) {
		__u64 *e = rte(io, pin);
		if ((*e & RTE_VECTOR) != vector || !(*e & RTE_LEVEL) ||
		    !(*e & RTE_REMOTE_IRR))
			continue;
		*e &= ~RTE_REMOTE_IRR;
		service_pin(ic, pin);   /* still asserted: send again */
	}
}

/* ---- indirect registers -------------------------------------------------- */

static uint32_t read_indirect(struct ioapic *io, uint32_t index)
{
	switch (index) {
	case IOAPIC_REG_ID:
	case IOAPIC_REG_ARB:
		return (io->s.id << 24) & IOAPIC_ID_MASK;
	case IOAPIC_REG_VER:
		return ((KVM_IOAPIC_NUM_PINS - 1) << 16) | IOAPIC_VERSION;
	}
	unsigned pin = (index - IOAPIC_REG_REDTBL) >> 1;
	if (index < IOAPIC_REG_REDTBL || pin >= KVM_IOAPIC_NUM_PINS)
		return 0xffffffffu;     /* no such register */
	uint64_t e = *rte(io, pin);
	return (index & 1) ? (uint32_t)(e >> 32) : (uint32_t)e;
}

static void write_rte(struct irqchip *ic, unsigned pin, bool high, uint32_t val)
{
	__u64 *e = rte(&ic->ioapic, pin);
	uint64_t v = high ? ((uint64_t)val << 32) | (uint32_t)*e
			  : (*e & 0xffffffff00000000ULL) | val;

	*e = (*e & ~RTE_WRITABLE) | (v & RTE_WRITABLE);
	/* Switching to edge clears remote IRR: guests use it to unstick a pin. */
	if (!(*e & RTE_LEVEL))
		*e &= ~RTE_REMOTE_IRR;
	if (*e & RTE_LEVEL)
		service_pin(ic, pin);
}

static void write_indirect(struct irqchip *ic, uint32_t index, uint32_t val)
{
	struct ioapic *io = &ic->ioapic;
	if (index == IOAPIC_REG_ID) {
		io->s.id = (val & IOAPIC_ID_MASK) >> 24;
		return;
	}
	unsigned pin = (index - IOAPIC_REG_REDTBL) >> 1;
	if (index < IOAPIC_REG_REDTBL || pin >= KVM_IOAPIC_NUM_PINS)
		return;                 /* read-only or absent */
	write_rte(ic, pin, index & 1, val);
}

/* ---- the MMIO window ----------------------------------------------------- */

static uint32_t read_reg32(struct ioapic *io, uint64_t reg)
{
	switch (reg) {
	case IOREGSEL: return io->s.ioregsel;
	case IOWIN:    return read_indirect(io, io->s.ioregsel);
	}
	return 0;
}

/*
 * Accesses of 1 to 8 bytes at any offset: each 32-bit register's bytes are
 * read or written where the access overlaps them (a narrow write merges
 * into the register's current value), bytes outside registers read 0.
 */
void ioapic_mmio(struct irqchip *ic, uint64_t off, void *data, unsigned len,
		 bool is_write)
{
	struct ioapic *io = &ic->ioapic;
	uint8_t *b = data;

	for (unsigned i = 0; i < len; i++) {
		uint64_t a = off + i, reg = a & ~3ULL;
		unsigned shift = (a & 3) * 8;
		if (!is_write) {
			b[i] = (uint8_t)(read_reg32(io, reg) >> shift);
			continue;
		}
		/* Gather this register's bytes of the access, write once. */
		unsigned n = 0;
		uint32_t v = reg == IOWIN ? read_indirect(io, io->s.ioregsel)
					  : read_reg32(io, reg);
		while (i + n < len && ((off + i + n) & ~3ULL) == reg) {
			unsigned sh = ((off + i + n) & 3) * 8;
			v = (v & ~(0xffu << sh)) | ((uint32_t)b[i + n] << sh);
			n++;
		}
		i += n - 1;
		if (reg == IOREGSEL)
			io->s.ioregsel = v & 0xff;
		else if (reg == IOWIN)
			write_indirect(ic, io->s.ioregsel, v);
	}
}

/* KVM_SET_IRQCHIP: any bytes; then lines and entries are re-evaluated. */
void ioapic_set_state(struct irqchip *ic, const struct kvm_ioapic_state *s)
{
	struct ioapic *io = &ic->ioapic;
	io->s = *s;
	io->s.base_address = IRQCHIP_IOAPIC_BASE;
	io->s.ioregsel &= 0xff;
	io->s.id &= 0xf;
	io->s.irr &= (1u << KVM_IOAPIC_NUM_PINS) - 1;
	io->s.pad = 0;
	for (unsigned pin = 0; pin < KVM_IOAPIC_NUM_PINS; pin++) {
		*rte(io, pin) &= RTE_WRITABLE | RTE_REMOTE_IRR;
		if (*rte(io, pin) & RTE_LEVEL)
			service_pin(ic, pin);
	}
}
