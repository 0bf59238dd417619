/*
 * The soft hypervisor's 8259 PIC pair: initialization, IRR/ISR/EOI,
 * priorities and rotation, masking, the cascade, ELCR level mode, poll and
 * auto-EOI, delivery through the BSP's LINT0, saved state, hostile input.
 */
#include <errno.h>
#include <stdlib.h>

#include "hv/soft/irqchip/irqchip.h"
#include "hv/soft/irqchip/test_link.h"
#include "test.h"

static int64_t fake_now = 1000000000;

static int64_t fake_clock(void *opaque)
{
	(void)opaque;
	return fake_now;
}

static struct irqchip *new_chip(void)
{
	struct irqchip_params p = {
		.nr_vcpus = 1, .clock_ns = fake_clock, .no_timer_thread = 1,
	};
	struct irqchip *ic = irqchip_create(&p);
	if (!ic || irqchip_vcpu_create(ic, 0) != 0)
		abort();
	return ic;
}

static void outb(struct irqchip *ic, uint16_t port, uint8_t v)
{
	CHECK(irqchip_pio(ic, port, &v, 1, 1) == 1);
}

static uint8_t inb(struct irqchip *ic, uint16_t port)
{
	uint8_t v = 0;
	CHECK(irqchip_pio(ic, port, &v, 1, 0) == 1);
	return v;
}

/* The usual PC programming: vectors 0x20 and 0x28, cascade on IRQ 2. */
static void init_pics(struct irqchip *ic, uint8_t icw4)
{
	outb(ic, 0x20, 0x11);
	outb(ic, 0x21, 0x20);
	outb(ic, 0x21, 0x04);
	outb(ic, 0x21, icw4);
	outb(ic, 0xa0, 0x11);
	outb(ic, 0xa1, 0x28);
	outb(ic, 0xa1, 0x02);
	outb(ic, 0xa1, icw4);
	outb(ic, 0x21, 0x00);
	outb(ic, 0xa1, 0x00);
}

static int intr(struct irqchip *ic)
{
	return !!(*irqchip_vcpu_events(ic, 0) & IRQCHIP_EV_INTR);
}

static uint8_t isr(struct irqchip *ic, uint16_t cmd)
{
	outb(ic, cmd, 0x0b);
	return inb(ic, cmd);
}

static uint8_t irr(struct irqchip *ic, uint16_t cmd)
{
	outb(ic, cmd, 0x0a);
	return inb(ic, cmd);
}

static void pulse(struct irqchip *ic, unsigned gsi)
{
	irqchip_irq_line(ic, gsi, 1);
	irqchip_irq_line(ic, gsi, 0);
}

static void test_init_and_eoi(void)
{
	struct irqchip *ic = new_chip();
	init_pics(ic, 0x01);
	CHECK_EQ(inb(ic, 0x21), 0);
	CHECK(!intr(ic));
	pulse(ic, 1);
	CHECK(intr(ic));
	CHECK_EQ(irr(ic, 0x20), 0x02);
	CHECK_EQ(irqchip_vcpu_pending_vector(ic, 0), 0x21);
	CHECK_EQ(irqchip_vcpu_ack_interrupt(ic, 0), 0x21);
	CHECK(!intr(ic));
	CHECK_EQ(isr(ic, 0x20), 0x02);
	CHECK_EQ(irr(ic, 0x20), 0x00);
	outb(ic, 0x20, 0x20);                   /* non-specific EOI */
	CHECK_EQ(isr(ic, 0x20), 0x00);
	irqchip_destroy(ic);
}

static void test_priorities_and_nesting(void)
{
	struct irqchip *ic = new_chip();
	init_pics(ic, 0x01);
	pulse(ic, 3);
	pulse(ic, 1);
	CHECK_EQ(irqchip_vcpu_ack_interrupt(ic, 0), 0x21);
	/* IRQ 3 has lower priority than IRQ 1 in service. */
	CHECK(!intr(ic));
	pulse(ic, 0);                           /* higher: nests */
	CHECK(intr(ic));
	CHECK_EQ(irqchip_vcpu_ack_interrupt(ic, 0), 0x20);
	CHECK_EQ(isr(ic, 0x20), 0x03);
	outb(ic, 0x20, 0x20);                   /* EOI clears IRQ 0 first */
	CHECK_EQ(isr(ic, 0x20), 0x02);
	CHECK(!intr(ic));
	outb(ic, 0x20, 0x61);                   /* specific EOI, IRQ 1 */
	CHECK_EQ(isr(ic, 0x20), 0x00);
	CHECK(intr(ic));
	CHECK_EQ(irqchip_vcpu_ack_interrupt(ic, 0), 0x23);
	outb(ic, 0x20, 0x63);
	CHECK_EQ(isr(ic, 0x20), 0x00);
	irqchip_destroy(ic);
}

static void test_specific_eoi_leaves_others(void)
{
	struct irqchip *ic = new_chip();
	init_pics(ic, 0x01);
	pulse(ic, 5);
	CHECK_EQ(irqchip_vcpu_ack_interrupt(ic, 0), 0x25);
	pulse(ic, 4);
	CHECK_EQ(irqchip_vcpu_ack_interrupt(ic, 0), 0x24);
	outb(ic, 0x20, 0x65);                   /* EOI 5 while 4 is on top */
	CHECK_EQ(isr(ic, 0x20), 0x10);
	irqchip_destroy(ic);
}

static void test_rotation(void)
{
	struct irqchip *ic = new_chip();
	init_pics(ic, 0x01);
	outb(ic, 0x20, 0xc2);                   /* IRQ 2 lowest: 3 highest */
	pulse(ic, 0);
	pulse(ic, 3);
	CHECK_EQ(irqchip_vcpu_ack_interrupt(ic, 0), 0x23);
	outb(ic, 0x20, 0xa0);                   /* rotate on EOI: 3 lowest */
	CHECK_EQ(irqchip_vcpu_ack_interrupt(ic, 0), 0x20);
	outb(ic, 0x20, 0x20);
	pulse(ic, 3);
	pulse(ic, 7);
	CHECK_EQ(irqchip_vcpu_ack_interrupt(ic, 0), 0x27);     /* 4 highest now */
	irqchip_destroy(ic);
}

static void test_mask(void)
{
	struct irqchip *ic = new_chip();
	init_pics(ic, 0x01);
	outb(ic, 0x21, 0x10);
	CHECK_EQ(inb(ic, 0x21), 0x10);
	pulse(ic, 4);
	CHECK(!intr(ic));
	CHECK_EQ(irr(ic, 0x20), 0x10);          /* latched, not signalled */
	outb(ic, 0x21, 0x00);
	CHECK(intr(ic));
	CHECK_EQ(irqchip_vcpu_ack_interrupt(ic, 0), 0x24);
	irqchip_destroy(ic);
}

static void test_cascade(void)
{
	struct irqchip *ic = new_chip();
	init_pics(ic, 0x01);
	pulse(ic, 10);
	CHECK(intr(ic));
	CHECK_EQ(irr(ic, 0xa0), 0x04);
	CHECK_EQ(irqchip_vcpu_ack_interrupt(ic, 0), 0x2a);
	CHECK_EQ(isr(ic, 0x20), 0x04);
	CHECK_EQ(isr(ic, 0xa0), 0x04);
	/* Masking IRQ 2 on the master hides the whole slave. */
	outb(ic, 0xa0, 0x20);
	outb(ic, 0x20, 0x20);
	outb(ic, 0x21, 0x04);
	pulse(ic, 12);
	CHECK(!intr(ic));
	outb(ic, 0x21, 0x00);
	CHECK(intr(ic));
	CHECK_EQ(irqchip_vcpu_ack_interrupt(ic, 0), 0x2c);
	/* A slave IRQ masked on the slave does not reach the master. */
	outb(ic, 0xa0, 0x20);
	outb(ic, 0x20, 0x20);
	outb(ic, 0xa1, 0x40);
	pulse(ic, 14);
	CHECK(!intr(ic));
	irqchip_destroy(ic);
}

static void test_level_mode(void)
{
	struct irqchip *ic = new_chip();
	init_pics(ic, 0x01);
	outb(ic, 0x4d1, 0xff);
	CHECK_EQ(inb(ic, 0x4d1), 0xde);         /* IRQ 8 and 13 stay edge */
	outb(ic, 0x4d0, 0xff);
	CHECK_EQ(inb(ic, 0x4d0), 0xf8);
	irqchip_irq_line(ic, 11, 1);
	CHECK_EQ(irqchip_vcpu_ack_interrupt(ic, 0), 0x2b);
	outb(ic, 0xa0, 0x20);
	outb(ic, 0x20, 0x20);
	CHECK(intr(ic));                        /* still asserted */
	CHECK_EQ(irqchip_vcpu_ack_interrupt(ic, 0), 0x2b);
	irqchip_irq_line(ic, 11, 0);
	outb(ic, 0xa0, 0x20);
	outb(ic, 0x20, 0x20);
	CHECK(!intr(ic));
	/* Edge: a request survives the line going low before the INTA. */
	pulse(ic, 1);
	CHECK(intr(ic));
	irqchip_destroy(ic);
}

static void test_spurious_and_poll(void)
{
	struct irqchip *ic = new_chip();
	init_pics(ic, 0x01);
	CHECK_EQ(irqchip_vcpu_ack_interrupt(ic, 0), -1);      /* LAPIC: nothing */
	pulse(ic, 5);
	outb(ic, 0x20, 0x0c);                   /* poll */
	CHECK_EQ(inb(ic, 0x20), 0x85);
	CHECK_EQ(isr(ic, 0x20), 0x20);
	outb(ic, 0x20, 0x0c);
	CHECK_EQ(inb(ic, 0x20), 0x00);          /* nothing more */
	irqchip_destroy(ic);
}

static void test_auto_eoi(void)
{
	struct irqchip *ic = new_chip();
	init_pics(ic, 0x03);
	pulse(ic, 1);
	CHECK_EQ(irqchip_vcpu_ack_interrupt(ic, 0), 0x21);
	CHECK_EQ(isr(ic, 0x20), 0x00);
	irqchip_destroy(ic);
}

static void test_lint0_gate(void)
{
	struct irqchip *ic = new_chip();
	uint32_t lvt0;
	init_pics(ic, 0x01);
	pulse(ic, 1);
	CHECK(intr(ic));
	CHECK_EQ(irqchip_mmio(ic, 0, 0xfee00350, &lvt0, 4, 0), 1);
	CHECK_EQ(lvt0, 0x700);                  /* BSP: ExtINT, unmasked */
	lvt0 = 0x10700;
	CHECK_EQ(irqchip_mmio(ic, 0, 0xfee00350, &lvt0, 4, 1), 1);
	CHECK(!intr(ic));
	/* With the APIC globally disabled the PIC goes straight to the CPU. */
	CHECK_EQ(irqchip_msr_write(ic, 0, 0x1b, 0xfee00100, 0), IRQCHIP_MSR_OK);
	CHECK(intr(ic));
	CHECK_EQ(irqchip_vcpu_ack_interrupt(ic, 0), 0x21);
	irqchip_destroy(ic);
}

static void test_wide_and_foreign_ports(void)
{
	struct irqchip *ic = new_chip();
	uint16_t w = 0x0f0f;
	uint32_t d = 0;
	CHECK_EQ(irqchip_pio(ic, 0x4d0, &w, 2, 1), 1);       /* both ELCRs */
	CHECK_EQ(irqchip_pio(ic, 0x4d0, &w, 2, 0), 1);
	CHECK_EQ(w, 0x0e08);
	CHECK_EQ(irqchip_pio(ic, 0x3f8, &d, 1, 0), 0);
	CHECK_EQ(irqchip_pio(ic, 0x40, &d, 1, 0), 0);         /* no PIT yet */
	CHECK_EQ(irqchip_pio(ic, 0x61, &d, 1, 0), 0);
	CHECK_EQ(irqchip_pio(ic, 0x21, &d, 3, 0), 0);         /* bad width */
	irqchip_destroy(ic);
}

static void test_state_roundtrip(void)
{
	struct irqchip *ic = new_chip(), *ic2 = new_chip();
	struct kvm_irqchip c = { .chip_id = KVM_IRQCHIP_PIC_MASTER };
	init_pics(ic, 0x01);
	outb(ic, 0x21, 0x5a);
	pulse(ic, 0);
	CHECK_EQ(irqchip_get_chip(ic, &c), 0);
	CHECK_EQ(c.chip.pic.irq_base, 0x20);
	CHECK_EQ(c.chip.pic.imr, 0x5a);
	CHECK_EQ(c.chip.pic.irr, 0x01);
	CHECK_EQ(irqchip_set_chip(ic2, &c), 0);
	struct kvm_irqchip c2 = { .chip_id = KVM_IRQCHIP_PIC_MASTER };
	CHECK_EQ(irqchip_get_chip(ic2, &c2), 0);
	CHECK(memcmp(&c.chip.pic, &c2.chip.pic, sizeof(c.chip.pic)) == 0);
	CHECK(intr(ic2));
	CHECK_EQ(irqchip_vcpu_ack_interrupt(ic2, 0), 0x20);
	c.chip_id = 3;
	CHECK_EQ(irqchip_get_chip(ic, &c), -EINVAL);
	CHECK_EQ(irqchip_set_chip(ic, &c), -EINVAL);
	irqchip_destroy(ic);
	irqchip_destroy(ic2);
}

/* Any byte to any port, any saved state: no crash, sane vectors. */
static void test_hostile(void)
{
	struct irqchip *ic = new_chip();
	static const uint16_t ports[] = { 0x20, 0x21, 0xa0, 0xa1, 0x4d0, 0x4d1 };
	srand(7);
	for (int i = 0; i < 200000; i++) {
		uint8_t v = rand();
		uint32_t wide = rand();
		uint16_t port = ports[rand() % 6];
		switch (rand() % 6) {
		case 0: irqchip_pio(ic, port, &v, 1, 1); break;
		case 1: irqchip_pio(ic, port, &v, 1, 0); break;
		case 2: irqchip_pio(ic, port, &wide, 1u << (rand() % 3), rand() & 1); break;
		case 3: irqchip_irq_line(ic, rand() % 24, rand() & 1); break;
		case 4: {
			int vec = irqchip_vcpu_ack_interrupt(ic, 0);
			CHECK(vec >= -1 && vec <= 255);
			break;
		}
		default: {
			struct kvm_irqchip c = { .chip_id = rand() % 2 };
			uint8_t *b = (uint8_t *)&c.chip.pic;
			for (size_t k = 0; k < sizeof(c.chip.pic); k++)
				b[k] = rand();
			CHECK_EQ(irqchip_set_chip(ic, &c), 0);
			CHECK_EQ(irqchip_get_chip(ic, &c), 0);
			CHECK(c.chip.pic.init_state <= 3);
			CHECK(c.chip.pic.priority_add <= 7);
		}
		}
	}
	irqchip_destroy(ic);
}

int main(void)
{
	if (!irqchip_linked()) {
		printf("SKIP unit/" TEST_FILE " (the irqchip is not in this build yet)\n");
		return 0;
	}
	RUN(test_init_and_eoi);
	RUN(test_priorities_and_nesting);
	RUN(test_specific_eoi_leaves_others);
	RUN(test_rotation);
	RUN(test_mask);
	RUN(test_cascade);
	RUN(test_level_mode);
	RUN(test_spurious_and_poll);
	RUN(test_auto_eoi);
	RUN(test_lint0_gate);
	RUN(test_wide_and_foreign_ports);
	RUN(test_state_roundtrip);
	RUN(test_hostile);
	TEST_EXIT();
}
