/*
 * The 8259A PIC pair of the PC: master at 0x20/0x21, slave at 0xa0/0xa1
 * cascaded on the master's IRQ 2, and the PIIX edge/level control
 * registers (ELCR) at 0x4d0/0x4d1. State is kept in the layout of
 * struct kvm_pic_state so KVM_GET/SET_IRQCHIP are plain copies.
 *
 * Priorities rotate: priority_add is the IRQ with the highest priority.
 */
#include <string.h>

#include "internal.h"

#define PIC_MASTER_CMD   0x20
#define PIC_MASTER_DATA  0x21
#define PIC_SLAVE_CMD    0xa0
#define PIC_SLAVE_DATA   0xa1
#define PIC_ELCR_MASTER  0x4d0
#define PIC_ELCR_SLAVE   0x4d1

#define PIC_CASCADE_IRQ  2
#define PIC_SPURIOUS_IRQ 7
#define PIC_NO_PRIORITY  8

/* Lines the PIIX can switch to level mode: not 0, 1, 2 (master), 8, 13. */
#define ELCR_MASK_MASTER 0xf8
#define ELCR_MASK_SLAVE  0xde

/* init_state: which initialization word the data port expects next. */
enum { INIT_DONE = 0, INIT_ICW2 = 1, INIT_ICW3 = 2, INIT_ICW4 = 3 };

#define ICW1_IC4   0x01
#define ICW1_SNGL  0x02
#define ICW1_INIT  0x10
#define ICW4_AEOI  0x02
#define ICW4_SFNM  0x10
#define OCW3_FLAG  0x08
#define OCW3_POLL  0x04
#define OCW3_RR    0x02
#define OCW3_RIS   0x01
#define OCW3_ESMM  0x40
#define OCW3_SMM   0x20

enum ocw2_cmd {                 /* OCW2 bits 7:5 (R, SL, EOI) */
	OCW2_CLEAR_ROTATE_AEOI = 0,
	OCW2_EOI = 1,
	OCW2_NOP = 2,
	OCW2_SPECIFIC_EOI = 3,
	OCW2_SET_ROTATE_AEOI = 4,
	OCW2_ROTATE_EOI = 5,
	OCW2_SET_PRIORITY = 6,
	OCW2_ROTATE_SPECIFIC_EOI = 7,
};

/* Priority rank (0 highest) of the best bit in mask, or PIC_NO_PRIORITY. */
static int chip_priority(const struct i8259_chip *c, uint8_t mask)
{
	for (int p = 0; p < 8; p++)
		if (mask & (1u << ((p + c->s.priority_add) & 7)))
			return p;
	return PIC_NO_PRIORITY;
}

static int rank_to_irq(const struct i8259_chip *c, int rank)
{
	return (rank + c->s.priority_add) & 7;
}

/* The IRQ this chip would signal now, or -1. */
static int chip_highest_irq(const struct i8259 *p, const struct i8259_chip *c)
{
	int req = chip_priority(c, c->s.irr & ~c->s.imr);
	if (req == PIC_NO_PRIORITY)
		return -1;
	uint8_t in_service = c->s.isr;
	if (c->s.special_mask)
		in_service &= ~c->s.imr;
	/* Fully nested mode lets the slave interrupt its own service. */
	if (c == &p->chip[0] && c->s.special_fully_nested_mode)
		in_service &= ~(1u << PIC_CASCADE_IRQ);
	if (req < chip_priority(c, in_service))
		return rank_to_irq(c, req);
	return -1;
}

static void chip_set_input(struct i8259_chip *c, unsigned pin, int level)
{
	uint8_t bit = 1u << pin;
	if (c->s.elcr & bit) {
		if (level)
			c->s.irr |= bit;
		else
			c->s.irr &= ~bit;
	} else if (level && !(c->s.last_irr & bit)) {
		c->s.irr |= bit;        /* rising edge */
	}
	if (level)
		c->s.last_irr |= bit;
	else
		c->s.last_irr &= ~bit;
}

/* The slave's INT output is the master's IRQ 2 input. */
static void update_cascade(struct i8259 *p)
{
	chip_set_input(&p->chip[0], PIC_CASCADE_IRQ,
		       chip_highest_irq(p, &p->chip[1]) >= 0);
}

static void chip_ack(struct i8259_chip *c, int irq)
{
	uint8_t bit = 1u << irq;
	if (!(c->s.elcr & bit))
		c->s.irr &= ~bit;
	if (!c->s.auto_eoi)
		c->s.isr |= bit;
	else if (c->s.rotate_on_auto_eoi)
		c->s.priority_add = (irq + 1) & 7;
}

static void chip_reset(struct i8259_chip *c, uint8_t elcr_mask)
{
	memset(c, 0, sizeof(*c));
	c->s.elcr_mask = elcr_mask;
}

void i8259_reset(struct i8259 *p)
{
	chip_reset(&p->chip[0], ELCR_MASK_MASTER);
	chip_reset(&p->chip[1], ELCR_MASK_SLAVE);
}

int i8259_set_irq(struct i8259 *p, unsigned irq, int level)
{
	if (irq >= 16)
		return 0;
	struct i8259_chip *c = &p->chip[irq >> 3];
	chip_set_input(c, irq & 7, level);
	update_cascade(p);
	return !(c->s.imr & (1u << (irq & 7)));
}

bool i8259_output(const struct i8259 *p)
{
	return chip_highest_irq(p, &p->chip[0]) >= 0;
}

static uint8_t vector_of(const struct i8259_chip *c, int irq)
{
	return (uint8_t)((c->s.irq_base & 0xf8) + irq);
}

int i8259_pending_vector(const struct i8259 *p)
{
	int irq = chip_highest_irq(p, &p->chip[0]);
	if (irq < 0)
		return -1;
	if (irq != PIC_CASCADE_IRQ)
		return vector_of(&p->chip[0], irq);
	int irq2 = chip_highest_irq(p, &p->chip[1]);
	return vector_of(&p->chip[1], irq2 < 0 ? PIC_SPURIOUS_IRQ : irq2);
}

int i8259_intack(struct i8259 *p)
{
	struct i8259_chip *m = &p->chip[0], *s = &p->chip[1];
	int irq = chip_highest_irq(p, m);
	int vector;

	if (irq < 0) {
		vector = vector_of(m, PIC_SPURIOUS_IRQ);
	} else if (irq == PIC_CASCADE_IRQ) {
		int irq2 = chip_highest_irq(p, s);
		chip_ack(m, irq);
		if (irq2 < 0) {
			vector = vector_of(s, PIC_SPURIOUS_IRQ);
		} else {
			chip_ack(s, irq2);
			vector = vector_of(s, irq2);
		}
	} else {
		chip_ack(m, irq);
		vector = vector_of(m, irq);
	}
	update_cascade(p);
	return vector;
}

/* ---- port I/O ------------------------------------------------------------ */

bool i8259_claims(uint16_t port)
{
	switch (port) {
	case PIC_MASTER_CMD: case PIC_MASTER_DATA:
	case PIC_SLAVE_CMD: case PIC_SLAVE_DATA:
	case PIC_ELCR_MASTER: case PIC_ELCR_SLAVE:
		return true;
	}
	return false;
}

static void write_icw1(struct i8259_chip *c, uint8_t val)
{
	uint8_t elcr = c->s.elcr, elcr_mask = c->s.elcr_mask;
	uint8_t irr = c->s.irr, last_irr = c->s.last_irr;

	/* Everything but the ELCR and the line levels starts over; edge
	 * requests are forgotten so a new edge is needed after init. */
	memset(c, 0, sizeof(*c));
	c->s.elcr = elcr;
	c->s.elcr_mask = elcr_mask;
	c->s.last_irr = last_irr;
	c->s.irr = irr & elcr;
	c->s.init4 = val & ICW1_IC4;
	c->single = val & ICW1_SNGL;
	c->s.init_state = INIT_ICW2;
}

static void eoi_highest(struct i8259_chip *c, bool rotate)
{
	int rank = chip_priority(c, c->s.isr);
	if (rank == PIC_NO_PRIORITY)
		return;
	int irq = rank_to_irq(c, rank);
	c->s.isr &= ~(1u << irq);
	if (rotate)
		c->s.priority_add = (irq + 1) & 7;
}

static void write_ocw2(struct i8259_chip *c, uint8_t val)
{
	int level = val & 7;

	switch ((enum ocw2_cmd)(val >> 5)) {
	case OCW2_CLEAR_ROTATE_AEOI:
		c->s.rotate_on_auto_eoi = 0;
		break;
	case OCW2_SET_ROTATE_AEOI:
		c->s.rotate_on_auto_eoi = 1;
		break;
	case OCW2_EOI:
		eoi_highest(c, false);
		break;
	case OCW2_ROTATE_EOI:
		eoi_highest(c, true);
		break;
	case OCW2_SPECIFIC_EOI:
		c->s.isr &= ~(1u << level);
		break;
	case OCW2_ROTATE_SPECIFIC_EOI:
		c->s.isr &= ~(1u << level);
		c->s.priority_add = (level + 1) & 7;
		break;
	case OCW2_SET_PRIORITY:         /* level becomes the lowest */
		c->s.priority_add = (level + 1) & 7;
		break;
	case OCW2_NOP:
		break;
	}
}

static void write_ocw3(struct i8259_chip *c, uint8_t val)
{
	if (val & OCW3_POLL)
		c->s.poll = 1;
	if (val & OCW3_RR)
		c->s.read_reg_select = val & OCW3_RIS;
	if (val & OCW3_ESMM)
		c->s.special_mask = !!(val & OCW3_SMM);
}

static void write_cmd(struct i8259_chip *c, uint8_t val)
{
	if (val & ICW1_INIT)
		write_icw1(c, val);
	else if (val & OCW3_FLAG)
		write_ocw3(c, val);
	else
		write_ocw2(c, val);
}

static void write_data(struct i8259_chip *c, uint8_t val)
{
	switch (c->s.init_state) {
	case INIT_ICW2:
		c->s.irq_base = val & 0xf8;
		c->s.init_state = c->single ? (c->s.init4 ? INIT_ICW4 : INIT_DONE)
					    : INIT_ICW3;
		break;
	case INIT_ICW3:                 /* cascade wiring is fixed on a PC */
		c->s.init_state = c->s.init4 ? INIT_ICW4 : INIT_DONE;
		break;
	case INIT_ICW4:
		c->s.auto_eoi = !!(val & ICW4_AEOI);
		c->s.special_fully_nested_mode = !!(val & ICW4_SFNM);
		c->s.init_state = INIT_DONE;
		break;
	default:
		c->s.imr = val;         /* OCW1 */
		break;
	}
}

static void write_elcr(struct i8259_chip *c, uint8_t val)
{
	c->s.elcr = val & c->s.elcr_mask;
	/* A level-mode line's request is its current level. */
	c->s.irr = (c->s.irr & ~c->s.elcr) | (c->s.last_irr & c->s.elcr);
}

void i8259_write(struct i8259 *p, uint16_t port, uint8_t val)
{
	switch (port) {
	case PIC_MASTER_CMD:  write_cmd(&p->chip[0], val); break;
	case PIC_MASTER_DATA: write_data(&p->chip[0], val); break;
	case PIC_SLAVE_CMD:   write_cmd(&p->chip[1], val); break;
	case PIC_SLAVE_DATA:  write_data(&p->chip[1], val); break;
	case PIC_ELCR_MASTER: write_elcr(&p->chip[0], val); break;
	case PIC_ELCR_SLAVE:  write_elcr(&p->chip[1], val); break;
	default: return;
	}
	update_cascade(p);
}

/* A read after the poll command: the INTA without the vector cycle. */
static uint8_t read_poll(struct i8259 *p, struct i8259_chip *c)
{
	c->s.poll = 0;
	int irq = chip_highest_irq(p, c);
	if (irq < 0)
		return 0;
	chip_ack(c, irq);
	update_cascade(p);
	return 0x80 | irq;
}

static uint8_t read_chip(struct i8259 *p, struct i8259_chip *c, bool data)
{
	if (c->s.poll)
		return read_poll(p, c);
	if (data)
		return c->s.imr;
	return c->s.read_reg_select ? c->s.isr : c->s.irr;
}

uint8_t i8259_read(struct i8259 *p, uint16_t port)
{
	switch (port) {
	case PIC_MASTER_CMD:  return read_chip(p, &p->chip[0], false);
	case PIC_MASTER_DATA: return read_chip(p, &p->chip[0], true);
	case PIC_SLAVE_CMD:   return read_chip(p, &p->chip[1], false);
	case PIC_SLAVE_DATA:  return read_chip(p, &p->chip[1], true);
	case PIC_ELCR_MASTER: return p->chip[0].s.elcr;
	case PIC_ELCR_SLAVE:  return p->chip[1].s.elcr;
	}
	return 0xff;
}

/* ---- KVM_GET/SET_IRQCHIP ------------------------------------------------- */

void i8259_get_state(const struct i8259 *p, int which, struct kvm_pic_state *s)
{
	*s = p->chip[which & 1].s;
}

/* Takes any bytes: out-of-range fields are reduced to valid ones. */
void i8259_set_state(struct i8259 *p, int which, const struct kvm_pic_state *s)
{
	struct i8259_chip *c = &p->chip[which & 1];
	uint8_t elcr_mask = which ? ELCR_MASK_SLAVE : ELCR_MASK_MASTER;

	c->s = *s;
	c->single = false;
	c->s.elcr_mask = elcr_mask;
	c->s.elcr &= elcr_mask;
	c->s.priority_add &= 7;
	c->s.irq_base &= 0xf8;
	c->s.read_reg_select = !!c->s.read_reg_select;
	c->s.poll = !!c->s.poll;
	c->s.special_mask = !!c->s.special_mask;
	if (c->s.init_state > INIT_ICW4)
		c->s.init_state = INIT_DONE;
	c->s.auto_eoi = !!c->s.auto_eoi;
	c->s.rotate_on_auto_eoi = !!c->s.rotate_on_auto_eoi;
	c->s.special_fully_nested_mode = !!c->s.special_fully_nested_mode;
	c->s.init4 = !!c->s.init4;
	update_cascade(p);
}
