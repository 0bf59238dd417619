/*
 * The CPU side of the irqchip: what a vCPU asks at instruction boundaries
 * (pending events, the INTA cycle, NMI, INIT/SIPI and the MP state), its
 * halted wait, its APIC registers as MSRs and CR8, and the vCPU ioctls
 * KVM_GET/SET_LAPIC and KVM_NMI.
 */
#include <errno.h>

#include "internal.h"

_Atomic uint32_t *irqchip_vcpu_events(struct irqchip *ic, int cpu)
{
	ic_lock(ic);
	struct lapic *l = ic_lapic(ic, cpu);
	ic_unlock(ic);
	return l ? &l->events : NULL;
}

uint32_t irqchip_vcpu_initial_mp_state(struct irqchip *ic, int cpu)
{
	(void)ic;
	return cpu == 0 ? KVM_MP_STATE_RUNNABLE : KVM_MP_STATE_UNINITIALIZED;
}

/* Whether the next INTA goes to the PIC rather than the LAPIC. */
static bool pic_interrupt(struct irqchip *ic, const struct lapic *l)
{
	return lapic_accepts_pic(l) && i8259_output(&ic->pic);
}

int irqchip_vcpu_pending_vector(struct irqchip *ic, int cpu)
{
	int v = -1;
	ic_lock(ic);
	struct lapic *l = ic_lapic(ic, cpu);
	if (l)
		v = pic_interrupt(ic, l) ? i8259_pending_vector(&ic->pic)
					 : lapic_pending_vector(l);
	ic_unlock(ic);
	return v;
}

int irqchip_vcpu_ack_interrupt(struct irqchip *ic, int cpu)
{
	int v = -1;
	ic_lock(ic);
	struct lapic *l = ic_lapic(ic, cpu);
	if (l && pic_interrupt(ic, l)) {
		v = i8259_intack(&ic->pic);
		ic_mark_all_dirty(ic);
	} else if (l) {
		v = lapic_ack(l);
	}
	ic_unlock(ic);
	return v;
}

int irqchip_nmi(struct irqchip *ic, int cpu)
{
	int r = -ENXIO;
	ic_lock(ic);
	struct lapic *l = ic_lapic(ic, cpu);
	if (l) {
		if (l->nmi_pending < 2)
			l->nmi_pending++;
		ic_mark_dirty(ic, cpu);
		r = 0;
	}
	ic_unlock(ic);
	return r;
}

int irqchip_vcpu_take_nmi(struct irqchip *ic, int cpu)
{
	int r = 0;
	ic_lock(ic);
	struct lapic *l = ic_lapic(ic, cpu);
	if (l && l->nmi_pending) {
		l->nmi_pending--;
		ic_mark_dirty(ic, cpu);
		r = 1;
	}
	ic_unlock(ic);
	return r;
}

unsigned irqchip_vcpu_accept_events(struct irqchip *ic, int cpu,
				    uint32_t *mp_state, uint8_t *sipi_vector)
{
	unsigned did = 0;
	ic_lock(ic);
	struct lapic *l = ic_lapic(ic, cpu);
	if (!l || !mp_state || !sipi_vector)
		goto out;
	if (l->init_pending) {
		lapic_reset(l, true);
		*mp_state = (l->base_msr & (1ULL << 8)) ? KVM_MP_STATE_RUNNABLE
							 : KVM_MP_STATE_INIT_RECEIVED;
		did |= IRQCHIP_DO_INIT;
	}
	if (l->sipi_pending) {
		l->sipi_pending = false;
		if (*mp_state == KVM_MP_STATE_INIT_RECEIVED) {
			*sipi_vector = l->sipi_vector;
			*mp_state = KVM_MP_STATE_RUNNABLE;
			did |= IRQCHIP_DO_SIPI;
		}
	}
	ic_mark_dirty(ic, cpu);
out:
	ic_unlock(ic);
	return did;
}

/* ---- waiting ------------------------------------------------------------- */

uint32_t irqchip_vcpu_wait(struct irqchip *ic, int cpu, uint32_t mask,
			   int64_t deadline_ns)
{
	ic_lock(ic);
	struct lapic *l = ic_lapic(ic, cpu);
	ic_unlock(ic);
	if (!l)
		return 0;

	uint32_t ev;
	mask |= IRQCHIP_EV_KICK;
	for (;;) {
		/* Announce the sleep before the last look (pairs with ic_unlock). */
		atomic_store(&l->waiting, 1);
		ev = atomic_load(&l->events);
		if ((ev & mask) || clock_monotonic_ns() >= deadline_ns)
			break;
		int err = futex_wait_until(&l->events, ev, deadline_ns);
		if (err == EINTR || err == ETIMEDOUT) {
			ev = atomic_load(&l->events);
			break;
		}
	}
	atomic_store(&l->waiting, 0);
	if (ev & IRQCHIP_EV_KICK)
		irqchip_vcpu_clear_kick(ic, cpu);
	return ev;
}

void irqchip_vcpu_kick(struct irqchip *ic, int cpu)
{
	ic_lock(ic);
	if (ic_lapic(ic, cpu))
		ic->kicked |= 1ULL << cpu;
	ic_unlock(ic);
}

void irqchip_vcpu_clear_kick(struct irqchip *ic, int cpu)
{
	ic_lock(ic);
	struct lapic *l = ic_lapic(ic, cpu);
	if (l)
		atomic_fetch_and(&l->events, ~IRQCHIP_EV_KICK);
	ic_unlock(ic);
}

int64_t irqchip_vcpu_next_deadline(struct irqchip *ic, int cpu)
{
	int64_t next = INT64_MAX;
	ic_lock(ic);
	struct lapic *l = ic_lapic(ic, cpu);
	if (l) {
		next = l->timer_deadline;
		if (lapic_accepts_pic(l) || cpu == 0) {
			int64_t pit = i8254_next_irq(ic->pit);
			if (pit < next)
				next = pit;
		}
	}
	ic_unlock(ic);
	return next;
}

/* ---- registers ----------------------------------------------------------- */

int irqchip_msr_read(struct irqchip *ic, int cpu, uint32_t msr, uint64_t *val)
{
	int r = IRQCHIP_MSR_NOT_MINE;
	ic_lock(ic);
	struct lapic *l = ic_lapic(ic, cpu);
	if (l && val)
		r = lapic_msr_read(l, msr, val);
	ic_unlock(ic);
	return r;
}

int irqchip_msr_write(struct irqchip *ic, int cpu, uint32_t msr, uint64_t val,
		      int host)
{
	int r = IRQCHIP_MSR_NOT_MINE;
	ic_lock(ic);
	struct lapic *l = ic_lapic(ic, cpu);
	if (l)
		r = lapic_msr_write(l, msr, val, host);
	ic_unlock(ic);
	return r;
}

uint64_t irqchip_get_cr8(struct irqchip *ic, int cpu)
{
	uint64_t cr8 = 0;
	ic_lock(ic);
	struct lapic *l = ic_lapic(ic, cpu);
	if (l)
		cr8 = lapic_get_tpr(l) >> 4;
	ic_unlock(ic);
	return cr8;
}

void irqchip_set_cr8(struct irqchip *ic, int cpu, uint64_t cr8)
{
	ic_lock(ic);
	struct lapic *l = ic_lapic(ic, cpu);
	if (l)
		lapic_set_tpr(l, (cr8 & 0xf) << 4);
	ic_unlock(ic);
}

void irqchip_vcpu_set_tsc(struct irqchip *ic, int cpu, int64_t at_ns,
			  uint64_t tsc_at)
{
	ic_lock(ic);
	struct lapic *l = ic_lapic(ic, cpu);
	if (l) {
		l->tsc_at_ns = at_ns;
		l->tsc_at = tsc_at;
	}
	ic_unlock(ic);
}

int irqchip_get_lapic(struct irqchip *ic, int cpu, struct kvm_lapic_state *s)
{
	int r = -ENXIO;
	ic_lock(ic);
	struct lapic *l = ic_lapic(ic, cpu);
	if (l && s) {
		lapic_get_state(l, s);
		r = 0;
	}
	ic_unlock(ic);
	return r;
}

int irqchip_set_lapic(struct irqchip *ic, int cpu, const struct kvm_lapic_state *s)
{
	int r = -ENXIO;
	ic_lock(ic);
	struct lapic *l = ic_lapic(ic, cpu);
	if (l && s) {
		lapic_set_state(l, s);
		r = 0;
	}
	ic_unlock(ic);
	return r;
}
