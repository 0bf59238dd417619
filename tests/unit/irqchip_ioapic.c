/*
 * The soft hypervisor's I/O APIC, MSI and GSI routing: redirection entries,
 * masking, edge and level triggers with remote IRR and EOI, physical and
 * logical destinations, lowest priority, NMI, saved state, hostile input.
 */
#include <errno.h>
#include <stdlib.h>

#include "hv/soft/irqchip/irqchip.h"
#include "hv/soft/irqchip/test_link.h"
#include "test.h"

#define IOAPIC 0xfec00000ULL
#define LAPIC  0xfee00000ULL

static int64_t fake_now = 1000000000;

static int64_t fake_clock(void *opaque)
{
	(void)opaque;
	return fake_now;
}

static uint32_t lapic_read(struct irqchip *ic, int cpu, unsigned off)
{
	uint32_t v = 0;
	CHECK_EQ(irqchip_mmio(ic, cpu, LAPIC + off, &v, 4, 0), 1);
	return v;
}

static void lapic_write(struct irqchip *ic, int cpu, unsigned off, uint32_t v)
{
	CHECK_EQ(irqchip_mmio(ic, cpu, LAPIC + off, &v, 4, 1), 1);
}

/* n vCPUs with software-enabled APICs and the PIC masked off LINT0. */
static struct irqchip *new_chip(int n)
{
	struct irqchip_params p = {
		.nr_vcpus = n, .clock_ns = fake_clock, .no_timer_thread = 1,
	};
	struct irqchip *ic = irqchip_create(&p);
	if (!ic)
		abort();
	for (int i = 0; i < n; i++) {
		if (irqchip_vcpu_create(ic, i) != 0)
			abort();
		lapic_write(ic, i, 0xf0, 0x1ff);
		lapic_write(ic, i, 0x350, 0x10000);
	}
	return ic;
}

static void io_write(struct irqchip *ic, uint32_t reg, uint32_t v)
{
	CHECK_EQ(irqchip_mmio(ic, 0, IOAPIC, &reg, 4, 1), 1);
	CHECK_EQ(irqchip_mmio(ic, 0, IOAPIC + 0x10, &v, 4, 1), 1);
}

static uint32_t io_read(struct irqchip *ic, uint32_t reg)
{
	uint32_t v = 0;
	CHECK_EQ(irqchip_mmio(ic, 0, IOAPIC, &reg, 4, 1), 1);
	CHECK_EQ(irqchip_mmio(ic, 0, IOAPIC + 0x10, &v, 4, 0), 1);
	return v;
}

static void set_rte(struct irqchip *ic, unsigned pin, uint64_t e)
{
	io_write(ic, 0x11 + 2 * pin, e >> 32);
	io_write(ic, 0x10 + 2 * pin, (uint32_t)e);
}

static int irr_has(struct irqchip *ic, int cpu, unsigned v)
{
	return !!(lapic_read(ic, cpu, 0x200 + (v / 32) * 16) & (1u << (v % 32)));
}

static int tmr_has(struct irqchip *ic, int cpu, unsigned v)
{
	return !!(lapic_read(ic, cpu, 0x180 + (v / 32) * 16) & (1u << (v % 32)));
}

static void test_registers(void)
{
	struct irqchip *ic = new_chip(1);
	CHECK_EQ(io_read(ic, 1), 0x00170011);
	io_write(ic, 0, 0xffffffff);
	CHECK_EQ(io_read(ic, 0), 0x0f000000);
	CHECK_EQ(io_read(ic, 2), 0x0f000000);
	CHECK_EQ(io_read(ic, 0x10), 0x00010000);        /* masked at reset */
	io_write(ic, 0x10, 0xffffffff);
	CHECK_EQ(io_read(ic, 0x10), 0x0001afff);        /* RO bits stay 0 */
	io_write(ic, 0x11, 0xffffffff);
	CHECK_EQ(io_read(ic, 0x11), 0xff000000);
	CHECK_EQ(io_read(ic, 0x40), 0xffffffff);        /* past pin 23 */
	uint8_t sel = 0;
	CHECK_EQ(irqchip_mmio(ic, 0, IOAPIC, &sel, 1, 0), 1);
	CHECK_EQ(sel, 0x40);
	irqchip_destroy(ic);
}

static void test_edge_and_mask(void)
{
	struct irqchip *ic = new_chip(1);
	set_rte(ic, 4, 0x34);                   /* fixed, physical, dest 0 */
	irqchip_irq_line(ic, 4, 1);
	CHECK(irr_has(ic, 0, 0x34));
	CHECK(!tmr_has(ic, 0, 0x34));
	CHECK_EQ(irqchip_vcpu_ack_interrupt(ic, 0), 0x34);
	/* Held high: no new edge, no new interrupt. */
	irqchip_irq_line(ic, 4, 1);
	CHECK(!irr_has(ic, 0, 0x34));
	irqchip_irq_line(ic, 4, 0);
	lapic_write(ic, 0, 0xb0, 0);
	set_rte(ic, 4, 0x10034);                /* masked */
	irqchip_irq_line(ic, 4, 1);
	irqchip_irq_line(ic, 4, 0);
	CHECK(!irr_has(ic, 0, 0x34));
	CHECK(!(*irqchip_vcpu_events(ic, 0) & IRQCHIP_EV_INTR));
	set_rte(ic, 4, 0x34);                   /* an edge while masked is lost */
	CHECK(!irr_has(ic, 0, 0x34));
	irqchip_destroy(ic);
}

static void test_level_remote_irr(void)
{
	struct irqchip *ic = new_chip(1);
	set_rte(ic, 9, 0x8049);                 /* level, vector 0x49 */
	irqchip_irq_line(ic, 9, 1);
	CHECK(irr_has(ic, 0, 0x49));
	CHECK(tmr_has(ic, 0, 0x49));
	CHECK(io_read(ic, 0x10 + 18) & (1u << 14));     /* remote IRR */
	CHECK_EQ(irqchip_vcpu_ack_interrupt(ic, 0), 0x49);
	irqchip_irq_line(ic, 9, 1);             /* remote IRR holds it back */
	CHECK(!irr_has(ic, 0, 0x49));
	lapic_write(ic, 0, 0xb0, 0);            /* EOI while still asserted */
	CHECK(irr_has(ic, 0, 0x49));
	CHECK_EQ(irqchip_vcpu_ack_interrupt(ic, 0), 0x49);
	irqchip_irq_line(ic, 9, 0);
	lapic_write(ic, 0, 0xb0, 0);
	CHECK(!(io_read(ic, 0x10 + 18) & (1u << 14)));
	CHECK(!irr_has(ic, 0, 0x49));
	/* Masked level line: delivered on unmask. */
	set_rte(ic, 9, 0x18049);
	irqchip_irq_line(ic, 9, 1);
	CHECK(!irr_has(ic, 0, 0x49));
	set_rte(ic, 9, 0x8049);
	CHECK(irr_has(ic, 0, 0x49));
	/* Switching to edge clears a stuck remote IRR. */
	set_rte(ic, 9, 0x0049);
	CHECK(!(io_read(ic, 0x10 + 18) & (1u << 14)));
	irqchip_destroy(ic);
}

static void test_destinations(void)
{
	struct irqchip *ic = new_chip(3);
	set_rte(ic, 5, 0x0200000000000055ULL);  /* physical dest 2 */
	irqchip_irq_line(ic, 5, 1);
	irqchip_irq_line(ic, 5, 0);
	CHECK(!irr_has(ic, 0, 0x55) && !irr_has(ic, 1, 0x55) && irr_has(ic, 2, 0x55));
	/* Flat logical: cpu0 bit 0, cpu1 bit 1, cpu2 bit 2; dest 0x06. */
	for (int i = 0; i < 3; i++)
		lapic_write(ic, i, 0xd0, (1u << i) << 24);
	set_rte(ic, 6, 0x0600000000000856ULL);
	irqchip_irq_line(ic, 6, 1);
	CHECK(!irr_has(ic, 0, 0x56) && irr_has(ic, 1, 0x56) && irr_has(ic, 2, 0x56));
	/* Broadcast 0xff. */
	set_rte(ic, 7, 0xff00000000000057ULL);
	irqchip_irq_line(ic, 7, 1);
	CHECK(irr_has(ic, 0, 0x57) && irr_has(ic, 1, 0x57) && irr_has(ic, 2, 0x57));
	/* Absent APIC ID: dropped. */
	set_rte(ic, 8, 0x2000000000000058ULL);
	irqchip_irq_line(ic, 8, 1);
	CHECK(!irr_has(ic, 0, 0x58) && !irr_has(ic, 1, 0x58) && !irr_has(ic, 2, 0x58));
	irqchip_destroy(ic);
}

static void test_cluster_logical(void)
{
	struct irqchip *ic = new_chip(3);
	for (int i = 0; i < 3; i++)
		lapic_write(ic, i, 0xe0, 0x0fffffff);   /* cluster model */
	lapic_write(ic, 0, 0xd0, 0x11u << 24);      /* cluster 1, bit 0 */
	lapic_write(ic, 1, 0xd0, 0x12u << 24);      /* cluster 1, bit 1 */
	lapic_write(ic, 2, 0xd0, 0x21u << 24);      /* cluster 2, bit 0 */
	set_rte(ic, 3, 0x1300000000000863ULL);
	irqchip_irq_line(ic, 3, 1);
	CHECK(irr_has(ic, 0, 0x63) && irr_has(ic, 1, 0x63) && !irr_has(ic, 2, 0x63));
	set_rte(ic, 10, 0x210000000000086aULL);
	irqchip_irq_line(ic, 10, 1);
	CHECK(!irr_has(ic, 0, 0x6a) && !irr_has(ic, 1, 0x6a) && irr_has(ic, 2, 0x6a));
	irqchip_destroy(ic);
}

static void test_lowest_priority(void)
{
	struct irqchip *ic = new_chip(2);
	for (int i = 0; i < 2; i++)
		lapic_write(ic, i, 0xd0, (1u << i) << 24);
	lapic_write(ic, 0, 0x80, 0x40);         /* cpu0 busier */
	set_rte(ic, 11, 0x0300000000000971ULL); /* lowest, logical 0x03 */
	irqchip_irq_line(ic, 11, 1);
	CHECK(!irr_has(ic, 0, 0x71) && irr_has(ic, 1, 0x71));
	/* Equal priority: exactly one of them, each time. */
	lapic_write(ic, 0, 0x80, 0);
	for (int i = 0; i < 4; i++) {
		set_rte(ic, 12, 0x0300000000000972ULL + i);
		irqchip_irq_line(ic, 12, 1);
		irqchip_irq_line(ic, 12, 0);
		CHECK_EQ(irr_has(ic, 0, 0x72 + i) + irr_has(ic, 1, 0x72 + i), 1);
	}
	irqchip_destroy(ic);
}

static void test_nmi_mode(void)
{
	struct irqchip *ic = new_chip(1);
	set_rte(ic, 13, 0x400);
	irqchip_irq_line(ic, 13, 1);
	CHECK(*irqchip_vcpu_events(ic, 0) & IRQCHIP_EV_NMI);
	CHECK_EQ(irqchip_vcpu_take_nmi(ic, 0), 1);
	CHECK_EQ(irqchip_vcpu_take_nmi(ic, 0), 0);
	CHECK(!(*irqchip_vcpu_events(ic, 0) & IRQCHIP_EV_NMI));
	irqchip_destroy(ic);
}

static void test_high_gsis(void)
{
	struct irqchip *ic = new_chip(1);
	set_rte(ic, 20, 0x8090);
	CHECK_EQ(irqchip_irq_line(ic, 20, 1), 1);
	CHECK(irr_has(ic, 0, 0x90));
	CHECK_EQ(irqchip_irq_line(ic, 30, 1), 0);      /* no route: ignored */
	CHECK_EQ(irqchip_irq_line(ic, 100000, 1), -EINVAL);
	irqchip_destroy(ic);
}

static void test_msi(void)
{
	struct irqchip *ic = new_chip(2);
	struct kvm_msi m = { .address_lo = 0xfee01000, .data = 0x45 };
	CHECK_EQ(irqchip_signal_msi(ic, &m), 1);
	CHECK(irr_has(ic, 1, 0x45) && !irr_has(ic, 0, 0x45));
	m.address_lo = 0xfed00000;
	CHECK_EQ(irqchip_signal_msi(ic, &m), 0);
	m.address_lo = 0xfee07000;              /* absent APIC */
	CHECK_EQ(irqchip_signal_msi(ic, &m), 0);
	m.address_lo = 0xfee00000;
	m.flags = 0x80;
	CHECK_EQ(irqchip_signal_msi(ic, &m), -EINVAL);
	m.flags = 0;
	m.data = 0x400;                         /* NMI */
	CHECK_EQ(irqchip_signal_msi(ic, &m), 1);
	CHECK(*irqchip_vcpu_events(ic, 0) & IRQCHIP_EV_NMI);
	irqchip_destroy(ic);
}

static void test_gsi_routing(void)
{
	struct irqchip *ic = new_chip(2);
	struct {
		struct kvm_irq_routing r;
		struct kvm_irq_routing_entry e[2];
	} t = { .r = { .nr = 2 } };
	t.e[0] = (struct kvm_irq_routing_entry){ .gsi = 30, .type = KVM_IRQ_ROUTING_MSI,
		.u.msi = { .address_lo = 0xfee01000, .data = 0x66 } };
	t.e[1] = (struct kvm_irq_routing_entry){ .gsi = 0, .type = KVM_IRQ_ROUTING_IRQCHIP,
		.u.irqchip = { .irqchip = KVM_IRQCHIP_IOAPIC, .pin = 2 } };
	CHECK_EQ(irqchip_set_gsi_routing(ic, &t.r), 0);
	CHECK_EQ(irqchip_irq_line(ic, 30, 1), 1);
	CHECK(irr_has(ic, 1, 0x66));
	set_rte(ic, 2, 0x67);
	irqchip_irq_line(ic, 0, 1);             /* GSI 0 -> pin 2 now */
	CHECK(irr_has(ic, 0, 0x67));
	t.e[1].u.irqchip.pin = 24;
	CHECK_EQ(irqchip_set_gsi_routing(ic, &t.r), -EINVAL);
	t.e[1].u.irqchip.pin = 1;
	t.e[1].type = 99;
	CHECK_EQ(irqchip_set_gsi_routing(ic, &t.r), -EINVAL);
	t.r.nr = 100000;
	CHECK_EQ(irqchip_set_gsi_routing(ic, &t.r), -EINVAL);
	irqchip_destroy(ic);
}

static void test_state_roundtrip(void)
{
	struct irqchip *ic = new_chip(1), *ic2 = new_chip(1);
	struct kvm_irqchip c = { .chip_id = KVM_IRQCHIP_IOAPIC }, c2 = c;
	set_rte(ic, 9, 0x8049);
	irqchip_irq_line(ic, 9, 1);
	CHECK_EQ(irqchip_get_chip(ic, &c), 0);
	CHECK_EQ(c.chip.ioapic.base_address, IOAPIC);
	CHECK_EQ(c.chip.ioapic.irr, 1u << 9);
	CHECK_EQ(c.chip.ioapic.redirtbl[9].fields.vector, 0x49);
	CHECK_EQ(c.chip.ioapic.redirtbl[9].fields.remote_irr, 1);
	CHECK_EQ(irqchip_set_chip(ic2, &c), 0);
	CHECK_EQ(irqchip_get_chip(ic2, &c2), 0);
	CHECK(memcmp(&c.chip.ioapic, &c2.chip.ioapic, sizeof(c.chip.ioapic)) == 0);
	irqchip_destroy(ic);
	irqchip_destroy(ic2);
}

static void test_hostile(void)
{
	struct irqchip *ic = new_chip(2);
	srand(11);
	for (int i = 0; i < 200000; i++) {
		uint64_t v = ((uint64_t)rand() << 33) ^ ((uint64_t)rand() << 2) ^ rand();
		unsigned len = 1 + rand() % 8;
		uint64_t gpa = IOAPIC + rand() % 0x120;
		switch (rand() % 5) {
		case 0:
		case 1:
			irqchip_mmio(ic, rand() % 3 - 1, gpa, &v, len, rand() & 1);
			break;
		case 2:
			irqchip_irq_line(ic, rand() % 40, rand() & 1);
			break;
		case 3: {
			int vec = irqchip_vcpu_ack_interrupt(ic, rand() % 2);
			CHECK(vec == -1 || (vec >= 16 && vec <= 255) || vec < 16);
			lapic_write(ic, rand() % 2, 0xb0, 0);
			break;
		}
		default: {
			struct kvm_irqchip c = { .chip_id = KVM_IRQCHIP_IOAPIC };
			uint8_t *b = (uint8_t *)&c.chip.ioapic;
			for (size_t k = 0; k < sizeof(c.chip.ioapic); k++)
				b[k] = rand();
			CHECK_EQ(irqchip_set_chip(ic, &c), 0);
			CHECK_EQ(irqchip_get_chip(ic, &c), 0);
			CHECK_EQ(c.chip.ioapic.base_address, IOAPIC);
		}
		}
	}
	struct kvm_msi m;
	uint8_t *b = (uint8_t *)&m;
	for (int i = 0; i < 100000; i++) {
		for (size_t k = 0; k < sizeof(m); k++)
			b[k] = rand();
		if (i & 1)
			m.address_lo = 0xfee00000 | (m.address_lo & 0xfffff);
		CHECK(irqchip_signal_msi(ic, &m) >= -EINVAL);
	}
	irqchip_destroy(ic);
}

int main(void)
{
	if (!irqchip_linked()) {
		printf("SKIP unit/" TEST_FILE " (the irqchip is not in this build yet)\n");
		return 0;
	}
	RUN(test_registers);
	RUN(test_edge_and_mask);
	RUN(test_level_remote_irr);
	RUN(test_destinations);
	RUN(test_cluster_logical);
	RUN(test_lowest_priority);
	RUN(test_nmi_mode);
	RUN(test_high_gsis);
	RUN(test_msi);
	RUN(test_gsi_routing);
	RUN(test_state_roundtrip);
	RUN(test_hostile);
	TEST_EXIT();
}
