/*
 * Fuzzes the soft hypervisor's interrupt controllers (irqchip.h): local
 * APICs, I/O APIC, 8259 pair and 8254, driven as guests and the VMM drive
 * them: MMIO and port accesses, MSRs, interrupt lines, MSIs, NMIs, routing
 * tables, saved states, interrupt acknowledges, INIT/SIPI, and time
 * passing on a fake clock (no timer thread).
 *
 * Byte 0: vCPUs (1-4) and whether there is a PIT; then operations, a kind
 * byte each followed by its operands.
 */
#include <errno.h>

#include "fuzz.h"
#include "hv/soft/irqchip/irqchip.h"

static int64_t fake_now;

static int64_t fake_clock(void *opaque)
{
	(void)opaque;
	return fake_now;
}

static const uint16_t ports[] = { 0x20, 0x21, 0xa0, 0xa1, 0x4d0, 0x4d1, 0x40, 0x41, 0x42, 0x43, 0x61 };
static const uint32_t msrs[] = { 0x1b, 0x6e0, 0x802, 0x803, 0x808, 0x80b, 0x80f, 0x830, 0x832, 0x838, 0x83f };
static const unsigned lens[4] = { 1, 2, 4, 8 };

static void lapic_access(struct irqchip *ic, struct fz *f, int ncpu, int write)
{
	int cpu = (int)(fz_take(f, 1) % (unsigned)(ncpu + 1)) - 1;      /* -1: not a CPU */
	uint64_t off = fz_take(f, 2) & 0xfff;
	unsigned len = lens[fz_take(f, 1) & 3];
	uint64_t v = write ? fz_take(f, len) : 0;
	irqchip_mmio(ic, cpu, IRQCHIP_LAPIC_BASE + off, &v, len, write);
}

static void ioapic_access(struct irqchip *ic, struct fz *f, int write)
{
	uint64_t off = fz_take(f, 1);
	unsigned len = lens[fz_take(f, 1) & 3];
	uint64_t v = write ? fz_take(f, len) : 0;
	irqchip_mmio(ic, -1, IRQCHIP_IOAPIC_BASE + off, &v, len, write);
}

static void port_access(struct irqchip *ic, struct fz *f)
{
	unsigned k = (unsigned)fz_take(f, 1);
	uint16_t port = ports[(k >> 2) % (sizeof(ports) / sizeof(ports[0]))];
	unsigned len = lens[k & 3] == 8 ? 4 : lens[k & 3];
	uint32_t v = (uint32_t)fz_take(f, len);
	irqchip_pio(ic, port, &v, len, (k >> 7) & 1);
}

static void msr_access(struct irqchip *ic, struct fz *f, int ncpu)
{
	int cpu = (int)(fz_take(f, 1) % (unsigned)ncpu);
	unsigned k = (unsigned)fz_take(f, 1);
	uint32_t msr = msrs[(k >> 2) % (sizeof(msrs) / sizeof(msrs[0]))];
	uint64_t v = fz_take(f, 8);
	if (k & 1)
		irqchip_msr_write(ic, cpu, msr, v, (k >> 1) & 1);
	else
		irqchip_msr_read(ic, cpu, msr, &v);
}

static void msi(struct irqchip *ic, struct fz *f)
{
	struct kvm_msi m = { 0 };
	m.address_lo = 0xfee00000u | ((uint32_t)fz_take(f, 2) & 0xffff);
	m.address_hi = fz_take(f, 1) == 0xff ? 1 : 0;
	m.data = (uint32_t)fz_take(f, 2);
	irqchip_signal_msi(ic, &m);
}

static void routing(struct irqchip *ic, struct fz *f)
{
	unsigned n = (unsigned)fz_take(f, 1) % 8;
	struct kvm_irq_routing *r = calloc(1, sizeof(*r) + n * sizeof(r->entries[0]));
	r->nr = n;
	for (unsigned i = 0; i < n; i++) {
		struct kvm_irq_routing_entry *e = &r->entries[i];
		e->gsi = (uint32_t)fz_take(f, 1);
		e->type = fz_take(f, 1) & 1 ? KVM_IRQ_ROUTING_MSI : KVM_IRQ_ROUTING_IRQCHIP;
		if (e->type == KVM_IRQ_ROUTING_MSI) {
			e->u.msi.address_lo = 0xfee00000u | (uint32_t)fz_take(f, 2);
			e->u.msi.data = (uint32_t)fz_take(f, 2);
		} else {
			e->u.irqchip.irqchip = (uint32_t)fz_take(f, 1) % 4;
			e->u.irqchip.pin = (uint32_t)fz_take(f, 1) % 32;
		}
	}
	irqchip_set_gsi_routing(ic, r);
	free(r);
}

/* Saved states from the VMM (KVM_SET_*): read, change a few bytes, write back. */
static void saved_state(struct irqchip *ic, struct fz *f, int ncpu)
{
	unsigned k = (unsigned)fz_take(f, 1) % 3;
	unsigned pos = (unsigned)fz_take(f, 2);
	uint8_t val = (uint8_t)fz_take(f, 1);
	if (k == 0) {
		struct kvm_lapic_state s;
		int cpu = (int)(pos % (unsigned)ncpu);
		if (irqchip_get_lapic(ic, cpu, &s) == 0) {
			((uint8_t *)&s)[pos % sizeof(s)] = val;
			irqchip_set_lapic(ic, cpu, &s);
		}
	} else if (k == 1) {
		struct kvm_irqchip chip = { .chip_id = pos % 3 };
		if (irqchip_get_chip(ic, &chip) == 0) {
			((uint8_t *)&chip.chip)[(pos >> 2) % sizeof(chip.chip)] = val;
			irqchip_set_chip(ic, &chip);
		}
	} else {
		struct kvm_pit_state2 s;
		if (irqchip_get_pit2(ic, &s) == 0) {
			((uint8_t *)&s)[pos % sizeof(s)] = val;
			irqchip_set_pit2(ic, &s);
		}
	}
}

static void cpu_side(struct irqchip *ic, struct fz *f, int ncpu, uint32_t *mp)
{
	int cpu = (int)(fz_take(f, 1) % (unsigned)ncpu);
	uint8_t sipi;
	switch (fz_take(f, 1) % 6) {
	case 0: irqchip_vcpu_ack_interrupt(ic, cpu); break;
	case 1: irqchip_vcpu_take_nmi(ic, cpu); break;
	case 2: irqchip_vcpu_accept_events(ic, cpu, &mp[cpu], &sipi); break;
	case 3: irqchip_set_cr8(ic, cpu, fz_take(f, 1)); break;
	case 4: irqchip_nmi(ic, cpu); break;
	default: irqchip_vcpu_pending_vector(ic, cpu); break;
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fz f = { data, size, 0 };
	unsigned head = (unsigned)fz_take(&f, 1);
	int ncpu = (int)(head & 3) + 1;
	fake_now = 1000000000;
	struct irqchip_params p = { .nr_vcpus = ncpu, .tsc_hz = 1000000000ULL,
				    .clock_ns = fake_clock, .no_timer_thread = 1 };
	struct irqchip *ic = irqchip_create(&p);
	if (!ic)
		abort();
	uint32_t mp[4];
	for (int i = 0; i < ncpu; i++) {
		FUZZ_ASSERT(irqchip_vcpu_create(ic, i) == 0);
		mp[i] = irqchip_vcpu_initial_mp_state(ic, i);
	}
	if (head & 4)
		irqchip_create_pit(ic, head & 8 ? KVM_PIT_SPEAKER_DUMMY : 0);
	for (int n = 0; fz_more(&f) && n < 1024; n++) {
		switch (fz_take(&f, 1) % 12) {
		case 0: lapic_access(ic, &f, ncpu, 1); break;
		case 1: lapic_access(ic, &f, ncpu, 0); break;
		case 2: ioapic_access(ic, &f, 1); break;
		case 3: ioapic_access(ic, &f, 0); break;
		case 4: port_access(ic, &f); break;
		case 5: msr_access(ic, &f, ncpu); break;
		case 6: irqchip_irq_line(ic, (uint32_t)fz_take(&f, 1), (int)fz_take(&f, 1) & 1); break;
		case 7: msi(ic, &f); break;
		case 8: fake_now += (int64_t)fz_take(&f, 3) * 64; irqchip_run_timers(ic, fake_now); break;
		case 9: routing(ic, &f); break;
		case 10: saved_state(ic, &f, ncpu); break;
		default: cpu_side(ic, &f, ncpu, mp); break;
		}
	}
	irqchip_destroy(ic);
	return 0;
}
