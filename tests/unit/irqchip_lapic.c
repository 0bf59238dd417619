/*
 * The soft hypervisor's local APIC: TPR/PPR priorities, ISR nesting and
 * EOI, the timer (one-shot, periodic, TSC-deadline; on a fake clock and on
 * the timer thread with a bounded wait), IPIs through the ICR with INIT/SIPI
 * and the MP state, logical destinations, x2APIC, KVM_GET/SET_LAPIC, many
 * threads at once, and hostile register accesses.
 */
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "hv/soft/irqchip/irqchip.h"
#include "hv/soft/irqchip/test_link.h"
#include "test.h"

#define LAPIC 0xfee00000ULL

#define REG_ID    0x20
#define REG_TPR   0x80
#define REG_PPR   0xa0
#define REG_EOI   0xb0
#define REG_LDR   0xd0
#define REG_DFR   0xe0
#define REG_SVR   0xf0
#define REG_ESR   0x280
#define REG_ICR   0x300
#define REG_ICR2  0x310
#define REG_LVTT  0x320
#define REG_LVT0  0x350
#define REG_TMICT 0x380
#define REG_TMCCT 0x390
#define REG_TDCR  0x3e0

static int64_t fake_now = 1000000000;

static int64_t fake_clock(void *opaque)
{
	(void)opaque;
	return fake_now;
}

static uint32_t rd(struct irqchip *ic, int cpu, unsigned off)
{
	uint32_t v = 0;
	CHECK_EQ(irqchip_mmio(ic, cpu, LAPIC + off, &v, 4, 0), 1);
	return v;
}

static void wr(struct irqchip *ic, int cpu, unsigned off, uint32_t v)
{
	CHECK_EQ(irqchip_mmio(ic, cpu, LAPIC + off, &v, 4, 1), 1);
}

/* n vCPUs on the fake clock, APICs software-enabled, PIC off LINT0. */
static struct irqchip *new_chip(int n)
{
	struct irqchip_params p = {
		.nr_vcpus = n, .tsc_hz = 2000000000ULL,
		.clock_ns = fake_clock, .no_timer_thread = 1,
	};
	struct irqchip *ic = irqchip_create(&p);
	if (!ic)
		abort();
	for (int i = 0; i < n; i++) {
		if (irqchip_vcpu_create(ic, i) != 0)
			abort();
		wr(ic, i, REG_SVR, 0x1ff);
		wr(ic, i, REG_LVT0, 0x10000);
	}
	return ic;
}

static int irr_has(struct irqchip *ic, int cpu, unsigned v)
{
	return !!(rd(ic, cpu, 0x200 + (v / 32) * 16) & (1u << (v % 32)));
}

static uint32_t events(struct irqchip *ic, int cpu)
{
	return *irqchip_vcpu_events(ic, cpu);
}

static void self_ipi(struct irqchip *ic, int cpu, uint8_t v)
{
	wr(ic, cpu, REG_ICR, 0x40000 | v);
}

static void ipi(struct irqchip *ic, int from, uint8_t dest, uint32_t icr)
{
	wr(ic, from, REG_ICR2, (uint32_t)dest << 24);
	wr(ic, from, REG_ICR, icr);
}

static void test_reset_state(void)
{
	struct irqchip_params p = { .nr_vcpus = 2, .clock_ns = fake_clock,
				    .no_timer_thread = 1 };
	struct irqchip *ic = irqchip_create(&p);
	uint64_t base = 0;
	CHECK_EQ(irqchip_vcpu_create(ic, 0), 0);
	CHECK_EQ(irqchip_vcpu_create(ic, 1), 0);
	CHECK_EQ(irqchip_vcpu_create(ic, 1), -EEXIST);
	CHECK_EQ(irqchip_vcpu_create(ic, 2), -EINVAL);
	CHECK_EQ(irqchip_msr_read(ic, 0, 0x1b, &base), IRQCHIP_MSR_OK);
	CHECK_EQ(base, 0xfee00900);
	CHECK_EQ(irqchip_msr_read(ic, 1, 0x1b, &base), IRQCHIP_MSR_OK);
	CHECK_EQ(base, 0xfee00800);
	CHECK_EQ(rd(ic, 1, REG_ID), 1u << 24);
	CHECK_EQ(rd(ic, 1, 0x30), 0x50014);
	CHECK_EQ(rd(ic, 1, REG_SVR), 0xff);
	CHECK_EQ(rd(ic, 1, REG_DFR), 0xffffffff);
	CHECK_EQ(rd(ic, 1, REG_LVT0), 0x10000);
	CHECK_EQ(rd(ic, 0, REG_LVT0), 0x700);
	CHECK_EQ(irqchip_vcpu_initial_mp_state(ic, 0), KVM_MP_STATE_RUNNABLE);
	CHECK_EQ(irqchip_vcpu_initial_mp_state(ic, 1), KVM_MP_STATE_UNINITIALIZED);
	CHECK_EQ(irqchip_msr_read(ic, 0, 0x10, &base), IRQCHIP_MSR_NOT_MINE);
	irqchip_destroy(ic);
}

static void test_tpr_ppr_and_nesting(void)
{
	struct irqchip *ic = new_chip(1);
	wr(ic, 0, REG_TPR, 0x60);
	self_ipi(ic, 0, 0x51);
	self_ipi(ic, 0, 0x61);
	CHECK(irr_has(ic, 0, 0x51) && irr_has(ic, 0, 0x61));
	CHECK(!(events(ic, 0) & IRQCHIP_EV_INTR));      /* class 6 <= TPR 6 */
	CHECK_EQ(irqchip_vcpu_pending_vector(ic, 0), -1);
	CHECK_EQ(rd(ic, 0, REG_PPR), 0x60);
	irqchip_set_cr8(ic, 0, 5);
	CHECK_EQ(rd(ic, 0, REG_TPR), 0x50);
	CHECK_EQ(irqchip_get_cr8(ic, 0), 5);
	CHECK(events(ic, 0) & IRQCHIP_EV_INTR);
	CHECK_EQ(irqchip_vcpu_ack_interrupt(ic, 0), 0x61);
	CHECK_EQ(rd(ic, 0, REG_PPR), 0x60);
	CHECK(!(events(ic, 0) & IRQCHIP_EV_INTR));      /* 0x51 below PPR */
	self_ipi(ic, 0, 0x71);
	CHECK(events(ic, 0) & IRQCHIP_EV_INTR);
	CHECK_EQ(irqchip_vcpu_ack_interrupt(ic, 0), 0x71);
	CHECK_EQ(rd(ic, 0, REG_PPR), 0x70);
	CHECK_EQ(rd(ic, 0, 0x100 + 3 * 16), (1u << (0x71 - 96)) | (1u << (0x61 - 96)));
	wr(ic, 0, REG_EOI, 0);                  /* clears 0x71 */
	CHECK_EQ(rd(ic, 0, REG_PPR), 0x60);
	wr(ic, 0, REG_EOI, 0);                  /* clears 0x61 */
	CHECK_EQ(rd(ic, 0, REG_PPR), 0x50);
	irqchip_set_cr8(ic, 0, 0);
	CHECK_EQ(irqchip_vcpu_ack_interrupt(ic, 0), 0x51);
	wr(ic, 0, REG_EOI, 0);
	wr(ic, 0, REG_EOI, 0);                  /* extra EOI: harmless */
	CHECK_EQ(rd(ic, 0, REG_PPR), 0);
	CHECK_EQ(irqchip_vcpu_ack_interrupt(ic, 0), -1);
	irqchip_destroy(ic);
}

static void test_software_disable(void)
{
	struct irqchip *ic = new_chip(1);
	wr(ic, 0, REG_LVTT, 0x40);
	wr(ic, 0, REG_SVR, 0xff);               /* disable: LVTs masked */
	CHECK_EQ(rd(ic, 0, REG_LVTT), 0x10040);
	wr(ic, 0, REG_LVTT, 0x40);              /* cannot unmask now */
	CHECK_EQ(rd(ic, 0, REG_LVTT), 0x10040);
	self_ipi(ic, 0, 0x80);
	CHECK(!irr_has(ic, 0, 0x80));           /* fixed IPIs dropped */
	wr(ic, 0, REG_SVR, 0x1ff);
	self_ipi(ic, 0, 0x80);
	CHECK(irr_has(ic, 0, 0x80));
	irqchip_destroy(ic);
}

static void test_illegal_vector(void)
{
	struct irqchip *ic = new_chip(1);
	self_ipi(ic, 0, 0x05);
	CHECK(!(events(ic, 0) & IRQCHIP_EV_INTR));
	wr(ic, 0, REG_ESR, 0);
	CHECK_EQ(rd(ic, 0, REG_ESR), 0x20);     /* send illegal vector */
	wr(ic, 0, REG_ESR, 0);
	CHECK_EQ(rd(ic, 0, REG_ESR), 0);
	irqchip_destroy(ic);
}

static void test_timer_oneshot(void)
{
	struct irqchip *ic = new_chip(1);
	wr(ic, 0, REG_TDCR, 0xb);               /* divide by 1: 1 tick per ns */
	wr(ic, 0, REG_LVTT, 0x40);
	wr(ic, 0, REG_TMICT, 1000);
	CHECK_EQ(irqchip_vcpu_next_deadline(ic, 0), fake_now + 1000);
	fake_now += 250;
	CHECK_EQ(rd(ic, 0, REG_TMCCT), 750);
	CHECK_EQ(irqchip_run_timers(ic, fake_now + 749), fake_now + 750);
	CHECK(!irr_has(ic, 0, 0x40));
	fake_now += 750;
	CHECK_EQ(irqchip_run_timers(ic, fake_now), INT64_MAX);
	CHECK(irr_has(ic, 0, 0x40));
	CHECK(events(ic, 0) & IRQCHIP_EV_INTR);
	CHECK_EQ(rd(ic, 0, REG_TMCCT), 0);
	/* Divide by 16: 16 ns per count. */
	irqchip_vcpu_ack_interrupt(ic, 0);
	wr(ic, 0, REG_EOI, 0);
	wr(ic, 0, REG_TDCR, 0x3);
	wr(ic, 0, REG_TMICT, 100);
	CHECK_EQ(irqchip_vcpu_next_deadline(ic, 0), fake_now + 1600);
	fake_now += 160;
	CHECK_EQ(rd(ic, 0, REG_TMCCT), 90);
	/* Masked: counts, but no interrupt. */
	wr(ic, 0, REG_LVTT, 0x10040);
	fake_now += 2000;
	irqchip_run_timers(ic, fake_now);
	CHECK(!irr_has(ic, 0, 0x40));
	/* TMICT 0 stops it. */
	wr(ic, 0, REG_LVTT, 0x40);
	wr(ic, 0, REG_TMICT, 100);
	wr(ic, 0, REG_TMICT, 0);
	CHECK_EQ(irqchip_vcpu_next_deadline(ic, 0), INT64_MAX);
	irqchip_destroy(ic);
}

static void test_timer_periodic(void)
{
	struct irqchip *ic = new_chip(1);
	int64_t t0 = fake_now;
	wr(ic, 0, REG_TDCR, 0xb);
	wr(ic, 0, REG_LVTT, 0x20041);           /* periodic */
	wr(ic, 0, REG_TMICT, 300000);
	fake_now = t0 + 300000;
	CHECK_EQ(irqchip_run_timers(ic, fake_now), t0 + 600000);
	CHECK_EQ(irqchip_vcpu_ack_interrupt(ic, 0), 0x41);
	wr(ic, 0, REG_EOI, 0);
	fake_now = t0 + 400000;
	CHECK_EQ(rd(ic, 0, REG_TMCCT), 200000);
	fake_now = t0 + 600000;
	irqchip_run_timers(ic, fake_now);
	CHECK_EQ(irqchip_vcpu_ack_interrupt(ic, 0), 0x41);
	wr(ic, 0, REG_EOI, 0);
	/* Late by many periods: one interrupt, the next on the grid. */
	fake_now = t0 + 2050000;
	CHECK_EQ(irqchip_run_timers(ic, fake_now), t0 + 2100000);
	CHECK_EQ(irqchip_vcpu_ack_interrupt(ic, 0), 0x41);
	CHECK_EQ(irqchip_vcpu_ack_interrupt(ic, 0), -1);
	wr(ic, 0, REG_EOI, 0);
	/* A tiny period is slowed down to 200 us. */
	wr(ic, 0, REG_TMICT, 10);
	CHECK_EQ(irqchip_vcpu_next_deadline(ic, 0), fake_now + 200000);
	irqchip_destroy(ic);
}

static void test_timer_tsc_deadline(void)
{
	struct irqchip *ic = new_chip(1);
	uint64_t v = 1;
	/* Guest TSC (2 GHz) is 1000000 at fake_now. */
	irqchip_vcpu_set_tsc(ic, 0, fake_now, 1000000);
	wr(ic, 0, REG_LVTT, 0x40042);           /* TSC-deadline */
	wr(ic, 0, REG_TMICT, 5);                /* ignored in this mode */
	CHECK_EQ(rd(ic, 0, REG_TMICT), 0);
	CHECK_EQ(irqchip_msr_write(ic, 0, 0x6e0, 1000000 + 10000, 0), IRQCHIP_MSR_OK);
	CHECK_EQ(irqchip_msr_read(ic, 0, 0x6e0, &v), IRQCHIP_MSR_OK);
	CHECK_EQ(v, 1010000);
	CHECK_EQ(irqchip_vcpu_next_deadline(ic, 0), fake_now + 5000);
	irqchip_run_timers(ic, fake_now + 4999);
	CHECK(!irr_has(ic, 0, 0x42));
	fake_now += 5000;
	irqchip_run_timers(ic, fake_now);
	CHECK(irr_has(ic, 0, 0x42));
	CHECK_EQ(irqchip_msr_read(ic, 0, 0x6e0, &v), IRQCHIP_MSR_OK);
	CHECK_EQ(v, 0);                         /* cleared when it fires */
	irqchip_vcpu_ack_interrupt(ic, 0);
	wr(ic, 0, REG_EOI, 0);
	/* A deadline in the past fires at once. */
	CHECK_EQ(irqchip_msr_write(ic, 0, 0x6e0, 1, 0), IRQCHIP_MSR_OK);
	CHECK(irr_has(ic, 0, 0x42));
	irqchip_vcpu_ack_interrupt(ic, 0);
	wr(ic, 0, REG_EOI, 0);
	/* Leaving the mode disarms it; writes are then ignored. */
	irqchip_msr_write(ic, 0, 0x6e0, 1000000 + 1000000, 0);
	wr(ic, 0, REG_LVTT, 0x42);
	CHECK_EQ(irqchip_vcpu_next_deadline(ic, 0), INT64_MAX);
	irqchip_msr_write(ic, 0, 0x6e0, 1000000 + 1000000, 0);
	CHECK_EQ(irqchip_msr_read(ic, 0, 0x6e0, &v), IRQCHIP_MSR_OK);
	CHECK_EQ(v, 0);
	irqchip_destroy(ic);
}

static _Atomic int wakes;

static void count_wake(void *opaque, int cpu)
{
	(void)opaque, (void)cpu;
	wakes++;
}

static int64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

/* The timer thread wakes a halted vCPU without anyone polling. */
static void test_timer_thread(void)
{
	struct irqchip_params p = { .nr_vcpus = 1, .tsc_hz = 1000000000ULL,
				    .wake = count_wake };
	struct irqchip *ic = irqchip_create(&p);
	CHECK(ic != NULL);
	CHECK_EQ(irqchip_vcpu_create(ic, 0), 0);
	wr(ic, 0, REG_SVR, 0x1ff);
	wr(ic, 0, REG_LVT0, 0x10000);
	wr(ic, 0, REG_TDCR, 0xb);
	wr(ic, 0, REG_LVTT, 0x30);

	int64_t t0 = now_ns();
	wr(ic, 0, REG_TMICT, 2000000);          /* 2 ms one-shot */
	uint32_t ev = irqchip_vcpu_wait(ic, 0, IRQCHIP_EV_INTR, t0 + 2000000000LL);
	int64_t took = now_ns() - t0;
	CHECK(ev & IRQCHIP_EV_INTR);
	CHECK(took >= 2000000 && took < 1000000000LL);
	/* The callback may run just after the waiter saw the event. */
	while (wakes < 1 && now_ns() - t0 < 1000000000LL)
		sched_yield();
	CHECK(wakes >= 1);
	CHECK_EQ(irqchip_vcpu_ack_interrupt(ic, 0), 0x30);
	wr(ic, 0, REG_EOI, 0);

	/* Periodic at 1 ms: several interrupts within a bounded time. */
	wr(ic, 0, REG_LVTT, 0x20031);
	wr(ic, 0, REG_TMICT, 1000000);
	t0 = now_ns();
	int got = 0;
	while (got < 5 && now_ns() - t0 < 2000000000LL) {
		ev = irqchip_vcpu_wait(ic, 0, IRQCHIP_EV_INTR, t0 + 2000000000LL);
		if (ev & IRQCHIP_EV_INTR && irqchip_vcpu_ack_interrupt(ic, 0) == 0x31) {
			got++;
			wr(ic, 0, REG_EOI, 0);
		}
	}
	CHECK_EQ(got, 5);
	CHECK(now_ns() - t0 >= 4000000);
	wr(ic, 0, REG_TMICT, 0);

	/* TSC-deadline 3 ms ahead (guest TSC = ns since t0 here). */
	t0 = now_ns();
	irqchip_vcpu_set_tsc(ic, 0, t0, 0);
	wr(ic, 0, REG_LVTT, 0x40032);
	irqchip_msr_write(ic, 0, 0x6e0, 3000000, 0);
	ev = irqchip_vcpu_wait(ic, 0, IRQCHIP_EV_INTR, t0 + 2000000000LL);
	took = now_ns() - t0;
	CHECK(ev & IRQCHIP_EV_INTR);
	CHECK(took >= 3000000 && took < 1000000000LL);
	CHECK_EQ(irqchip_vcpu_ack_interrupt(ic, 0), 0x32);

	/* A wait with nothing to wake it ends at its deadline; a kick ends it. */
	t0 = now_ns();
	ev = irqchip_vcpu_wait(ic, 0, IRQCHIP_EV_NMI, t0 + 5000000);
	CHECK(now_ns() - t0 >= 5000000);
	irqchip_vcpu_kick(ic, 0);
	ev = irqchip_vcpu_wait(ic, 0, IRQCHIP_EV_NMI, INT64_MAX);
	CHECK(ev & IRQCHIP_EV_KICK);
	CHECK(!(events(ic, 0) & IRQCHIP_EV_KICK));
	irqchip_destroy(ic);
}

static void test_ipis(void)
{
	struct irqchip *ic = new_chip(3);
	ipi(ic, 0, 1, 0x4050);                  /* fixed, physical 1 */
	CHECK(!irr_has(ic, 0, 0x50) && irr_has(ic, 1, 0x50) && !irr_has(ic, 2, 0x50));
	wr(ic, 2, REG_ICR, 0xc0051);            /* all but self */
	CHECK(irr_has(ic, 0, 0x51) && irr_has(ic, 1, 0x51) && !irr_has(ic, 2, 0x51));
	wr(ic, 2, REG_ICR, 0x80052);            /* all including self */
	CHECK(irr_has(ic, 0, 0x52) && irr_has(ic, 1, 0x52) && irr_has(ic, 2, 0x52));
	ipi(ic, 0, 9, 0x4053);                  /* absent APIC: dropped */
	CHECK(!irr_has(ic, 0, 0x53) && !irr_has(ic, 1, 0x53) && !irr_has(ic, 2, 0x53));
	ipi(ic, 0, 0xff, 0x4054);               /* broadcast */
	CHECK(irr_has(ic, 0, 0x54) && irr_has(ic, 1, 0x54) && irr_has(ic, 2, 0x54));
	ipi(ic, 1, 2, 0x4400);                  /* NMI */
	CHECK(events(ic, 2) & IRQCHIP_EV_NMI);
	CHECK_EQ(irqchip_vcpu_take_nmi(ic, 2), 1);
	CHECK_EQ(rd(ic, 0, REG_ICR) & 0x1000, 0);        /* idle */
	/* A changed xAPIC ID is what physical destinations match. */
	wr(ic, 2, REG_ID, 0x07000000);
	ipi(ic, 0, 7, 0x4055);
	CHECK(irr_has(ic, 2, 0x55));
	irqchip_destroy(ic);
}

static void test_logical_ipis(void)
{
	struct irqchip *ic = new_chip(3);
	for (int i = 0; i < 3; i++)
		wr(ic, i, REG_LDR, (1u << i) << 24);
	ipi(ic, 0, 0x05, 0x4860);               /* flat: cpus 0 and 2 */
	CHECK(irr_has(ic, 0, 0x60) && !irr_has(ic, 1, 0x60) && irr_has(ic, 2, 0x60));
	for (int i = 0; i < 3; i++) {
		wr(ic, i, REG_DFR, 0x0fffffff);
		wr(ic, i, REG_LDR, (0x10u | (1u << i)) << 24);
	}
	ipi(ic, 0, 0x16, 0x4861);               /* cluster 1, bits 1, 2 */
	CHECK(!irr_has(ic, 0, 0x61) && irr_has(ic, 1, 0x61) && irr_has(ic, 2, 0x61));
	ipi(ic, 0, 0x26, 0x4862);               /* cluster 2: nobody */
	CHECK(!irr_has(ic, 0, 0x62) && !irr_has(ic, 1, 0x62) && !irr_has(ic, 2, 0x62));
	irqchip_destroy(ic);
}

static void test_init_sipi(void)
{
	struct irqchip *ic = new_chip(2);
	uint32_t mp = irqchip_vcpu_initial_mp_state(ic, 1);
	uint8_t vec = 0;
	/* A SIPI before INIT is dropped. */
	ipi(ic, 0, 1, 0x4612);
	CHECK(events(ic, 1) & IRQCHIP_EV_SIPI);
	CHECK_EQ(irqchip_vcpu_accept_events(ic, 1, &mp, &vec), 0);
	CHECK_EQ(mp, KVM_MP_STATE_UNINITIALIZED);
	CHECK(!(events(ic, 1) & IRQCHIP_EV_SIPI));
	/* INIT assert; the de-assert that follows is ignored. */
	self_ipi(ic, 1, 0x70);
	ipi(ic, 0, 1, 0xc500);
	ipi(ic, 0, 1, 0x8500);
	CHECK(events(ic, 1) & IRQCHIP_EV_INIT);
	CHECK_EQ(irqchip_vcpu_accept_events(ic, 1, &mp, &vec), IRQCHIP_DO_INIT);
	CHECK_EQ(mp, KVM_MP_STATE_INIT_RECEIVED);
	CHECK(!(events(ic, 1) & IRQCHIP_EV_INIT));
	CHECK(!irr_has(ic, 1, 0x70));           /* INIT reset the APIC */
	CHECK_EQ(rd(ic, 1, REG_SVR), 0xff);
	CHECK_EQ(rd(ic, 1, REG_ID), 1u << 24);
	/* Startup, twice as Linux does; the second finds it running. */
	ipi(ic, 0, 1, 0x469a);
	CHECK(events(ic, 1) & IRQCHIP_EV_SIPI);
	CHECK_EQ(irqchip_vcpu_accept_events(ic, 1, &mp, &vec), IRQCHIP_DO_SIPI);
	CHECK_EQ(vec, 0x9a);
	CHECK_EQ(mp, KVM_MP_STATE_RUNNABLE);
	ipi(ic, 0, 1, 0x4677);
	vec = 0;
	CHECK_EQ(irqchip_vcpu_accept_events(ic, 1, &mp, &vec), 0);
	CHECK_EQ(vec, 0);
	CHECK_EQ(mp, KVM_MP_STATE_RUNNABLE);
	/* INIT and SIPI both pending: both, in order. */
	ipi(ic, 0, 1, 0x4500);
	ipi(ic, 0, 1, 0x4610);
	CHECK_EQ(irqchip_vcpu_accept_events(ic, 1, &mp, &vec),
		 IRQCHIP_DO_INIT | IRQCHIP_DO_SIPI);
	CHECK_EQ(vec, 0x10);
	/* INIT to the BSP: back to RUNNABLE (its INIT state). */
	mp = KVM_MP_STATE_RUNNABLE;
	ipi(ic, 1, 0, 0x4500);
	CHECK_EQ(irqchip_vcpu_accept_events(ic, 0, &mp, &vec), IRQCHIP_DO_INIT);
	CHECK_EQ(mp, KVM_MP_STATE_RUNNABLE);
	CHECK_EQ(rd(ic, 0, REG_LVT0), 0x700);
	irqchip_destroy(ic);
}

static void test_x2apic(void)
{
	struct irqchip *ic = new_chip(18);
	uint64_t v = 0;
	/* Not in x2APIC mode yet: the MSRs fault. */
	CHECK_EQ(irqchip_msr_read(ic, 17, 0x802, &v), IRQCHIP_MSR_GP);
	/* Disabled -> x2APIC directly is not allowed. */
	CHECK_EQ(irqchip_msr_write(ic, 17, 0x1b, 0xfee00000, 0), IRQCHIP_MSR_OK);
	CHECK_EQ(irqchip_msr_write(ic, 17, 0x1b, 0xfee00c00, 0), IRQCHIP_MSR_GP);
	CHECK_EQ(irqchip_msr_write(ic, 17, 0x1b, 0xfee00800, 0), IRQCHIP_MSR_OK);
	wr(ic, 17, REG_SVR, 0x1ff);
	CHECK_EQ(irqchip_msr_write(ic, 17, 0x1b, 0xfee00c00, 0), IRQCHIP_MSR_OK);
	CHECK_EQ(irqchip_msr_write(ic, 17, 0x1b, 0xfee00800, 0), IRQCHIP_MSR_GP);
	CHECK_EQ(irqchip_msr_write(ic, 17, 0x1b, 0xfee00400, 0), IRQCHIP_MSR_GP);
	CHECK_EQ(irqchip_msr_write(ic, 17, 0x1b, 0xfee00c01, 0), IRQCHIP_MSR_GP);
	CHECK_EQ(irqchip_msr_read(ic, 17, 0x802, &v), IRQCHIP_MSR_OK);
	CHECK_EQ(v, 17);
	CHECK_EQ(irqchip_msr_read(ic, 17, 0x80d, &v), IRQCHIP_MSR_OK);
	CHECK_EQ(v, (1u << 16) | (1u << 1));    /* cluster 1, bit 1 */
	CHECK_EQ(irqchip_msr_write(ic, 17, 0x802, 5, 0), IRQCHIP_MSR_GP);
	CHECK_EQ(irqchip_msr_read(ic, 17, 0x80e, &v), IRQCHIP_MSR_GP);  /* no DFR */
	CHECK_EQ(irqchip_msr_read(ic, 17, 0x80b, &v), IRQCHIP_MSR_GP);  /* EOI WO */
	CHECK_EQ(irqchip_msr_write(ic, 17, 0x80b, 1, 0), IRQCHIP_MSR_GP);
	CHECK_EQ(irqchip_msr_write(ic, 17, 0x808, 1ULL << 32, 0), IRQCHIP_MSR_GP);
	/* The MMIO window reads all-ones and ignores writes. */
	CHECK_EQ(rd(ic, 17, REG_SVR), 0xffffffff);
	/* Self IPI, then EOI through the MSR. */
	CHECK_EQ(irqchip_msr_write(ic, 17, 0x83f, 0x88, 0), IRQCHIP_MSR_OK);
	CHECK_EQ(irqchip_vcpu_ack_interrupt(ic, 17), 0x88);
	CHECK_EQ(irqchip_msr_read(ic, 17, 0x810 + 4, &v), IRQCHIP_MSR_OK);
	CHECK_EQ(v, 1u << 8);                   /* ISR bit 0x88 */
	CHECK_EQ(irqchip_msr_write(ic, 17, 0x80b, 0, 0), IRQCHIP_MSR_OK);
	CHECK_EQ(irqchip_msr_read(ic, 17, 0x80a, &v), IRQCHIP_MSR_OK);
	CHECK_EQ(v, 0);
	/* ICR as one 64-bit MSR with a 32-bit destination. */
	CHECK_EQ(irqchip_msr_write(ic, 17, 0x830, (3ULL << 32) | 0x4066, 0),
		 IRQCHIP_MSR_OK);
	CHECK(irr_has(ic, 3, 0x66));
	CHECK_EQ(irqchip_msr_read(ic, 17, 0x830, &v), IRQCHIP_MSR_OK);
	CHECK_EQ(v, (3ULL << 32) | 0x4066);
	CHECK_EQ(irqchip_msr_write(ic, 17, 0x830, (0xffffffffULL << 32) | 0xc0067, 0),
		 IRQCHIP_MSR_OK);                /* all but self */
	CHECK(irr_has(ic, 0, 0x67) && irr_has(ic, 16, 0x67));
	/* The timer through MSRs. */
	CHECK_EQ(irqchip_msr_write(ic, 17, 0x83e, 0xb, 0), IRQCHIP_MSR_OK);
	CHECK_EQ(irqchip_msr_write(ic, 17, 0x832, 0x44, 0), IRQCHIP_MSR_OK);
	CHECK_EQ(irqchip_msr_write(ic, 17, 0x838, 500, 0), IRQCHIP_MSR_OK);
	fake_now += 100;
	CHECK_EQ(irqchip_msr_read(ic, 17, 0x839, &v), IRQCHIP_MSR_OK);
	CHECK_EQ(v, 400);
	/* Back to disabled, then xAPIC. */
	CHECK_EQ(irqchip_msr_write(ic, 17, 0x1b, 0xfee00000, 0), IRQCHIP_MSR_OK);
	CHECK_EQ(irqchip_msr_write(ic, 17, 0x1b, 0xfee00800, 0), IRQCHIP_MSR_OK);
	CHECK_EQ(rd(ic, 17, REG_ID), 17u << 24);
	CHECK_EQ(rd(ic, 17, REG_LDR), 0);
	irqchip_destroy(ic);
}

static void test_base_relocation(void)
{
	struct irqchip *ic = new_chip(1);
	uint32_t v = 0;
	CHECK_EQ(irqchip_msr_write(ic, 0, 0x1b, 0xfed00900, 0), IRQCHIP_MSR_OK);
	CHECK_EQ(irqchip_mmio(ic, 0, 0xfee000f0, &v, 4, 0), 0);
	CHECK_EQ(irqchip_mmio(ic, 0, 0xfed000f0, &v, 4, 0), 1);
	CHECK_EQ(v, 0x1ff);
	/* Narrow reads inside a register; misaligned writes ignored. */
	uint8_t b = 0;
	CHECK_EQ(irqchip_mmio(ic, 0, 0xfed000f1, &b, 1, 0), 1);
	CHECK_EQ(b, 0x01);
	v = 0;
	CHECK_EQ(irqchip_mmio(ic, 0, 0xfed000f2, &v, 4, 1), 1);
	CHECK_EQ(irqchip_mmio(ic, 0, 0xfed000f0, &v, 4, 0), 1);
	CHECK_EQ(v, 0x1ff);
	/* Host writes skip the guest checks but not the mode rules. */
	CHECK_EQ(irqchip_msr_write(ic, 0, 0x1b, 0xfee00901, 1), IRQCHIP_MSR_OK);
	CHECK_EQ(irqchip_msr_write(ic, 0, 0x1b, 0xfee00500, 1), IRQCHIP_MSR_GP);
	irqchip_destroy(ic);
}

static void test_state_roundtrip(void)
{
	struct irqchip *ic = new_chip(1), *ic2 = new_chip(1);
	struct kvm_lapic_state s, s2;
	wr(ic, 0, REG_TPR, 0x20);
	wr(ic, 0, REG_LDR, 0x04000000);
	wr(ic, 0, REG_TDCR, 0xb);
	wr(ic, 0, REG_LVTT, 0x20045);
	wr(ic, 0, REG_TMICT, 1000000);
	self_ipi(ic, 0, 0x91);
	self_ipi(ic, 0, 0x35);
	irqchip_vcpu_ack_interrupt(ic, 0);
	fake_now += 300000;
	CHECK_EQ(irqchip_get_lapic(ic, 0, &s), 0);
	uint32_t tmcct;
	memcpy(&tmcct, s.regs + REG_TMCCT, 4);
	CHECK_EQ(tmcct, 700000);
	CHECK_EQ(irqchip_set_lapic(ic2, 0, &s), 0);
	CHECK_EQ(irqchip_get_lapic(ic2, 0, &s2), 0);
	CHECK(memcmp(&s, &s2, sizeof(s)) == 0);
	/* The copy's timer goes on from where the original was. */
	CHECK_EQ(irqchip_vcpu_next_deadline(ic2, 0), fake_now + 700000);
	CHECK_EQ(irqchip_vcpu_pending_vector(ic2, 0), -1);   /* below PPR */
	wr(ic2, 0, REG_EOI, 0);                 /* 0x91 was in service */
	CHECK_EQ(irqchip_vcpu_ack_interrupt(ic2, 0), 0x35);
	CHECK_EQ(irqchip_get_lapic(ic, 1, &s), -ENXIO);
	irqchip_destroy(ic);
	irqchip_destroy(ic2);
}

/* A VMM programs LINT0/LINT1 through KVM_SET_LAPIC before the guest runs,
 * while SVR is still software-disabled: the entries stay as written. */
static void test_set_lapic_before_enable(void)
{
	struct irqchip_params p = { .nr_vcpus = 2, .clock_ns = fake_clock,
				    .no_timer_thread = 1 };
	struct irqchip *ic = irqchip_create(&p);
	struct kvm_lapic_state s;
	uint32_t lvt0 = 0x700, lvt1 = 0x400;
	irqchip_vcpu_create(ic, 0);
	irqchip_vcpu_create(ic, 1);
	CHECK_EQ(irqchip_get_lapic(ic, 1, &s), 0);
	memcpy(s.regs + REG_LVT0, &lvt0, 4);
	memcpy(s.regs + REG_LVT0 + 0x10, &lvt1, 4);
	CHECK_EQ(irqchip_set_lapic(ic, 1, &s), 0);
	CHECK_EQ(rd(ic, 1, REG_LVT0), 0x700);
	CHECK_EQ(rd(ic, 1, REG_LVT0 + 0x10), 0x400);
	CHECK_EQ(irqchip_get_lapic(ic, 0, &s), 0);
	CHECK_EQ(irqchip_set_lapic(ic, 0, &s), 0);
	CHECK_EQ(rd(ic, 0, REG_LVT0), 0x700);
	irqchip_destroy(ic);
}

/* Any register, any value, any width; any saved page. */
static void test_hostile(void)
{
	struct irqchip *ic = new_chip(2);
	srand(3);
	for (int i = 0; i < 300000; i++) {
		uint64_t v = ((uint64_t)rand() << 33) ^ ((uint64_t)rand() << 2) ^ rand();
		int cpu = rand() % 3 - 1 + (rand() % 50 == 0 ? 70 : 0);
		switch (rand() % 8) {
		case 0:
		case 1:
			irqchip_mmio(ic, cpu, LAPIC + rand() % 0x1008, &v,
				     1 + rand() % 8, rand() & 1);
			break;
		case 2:
			irqchip_msr_write(ic, cpu, 0x800 + rand() % 0x100, v, 0);
			break;
		case 3:
			irqchip_msr_read(ic, cpu, 0x800 + rand() % 0x100, &v);
			break;
		case 4:
			irqchip_msr_write(ic, cpu, rand() & 1 ? 0x1b : 0x6e0, v, rand() & 1);
			break;
		case 5: {
			int vec = irqchip_vcpu_ack_interrupt(ic, cpu);
			CHECK(vec >= -1 && vec <= 255);
			break;
		}
		case 6: {
			uint32_t mp = rand() % 11;
			uint8_t sv;
			irqchip_vcpu_accept_events(ic, cpu, &mp, &sv);
			irqchip_vcpu_take_nmi(ic, cpu);
			irqchip_run_timers(ic, fake_now += rand() % 100000);
			break;
		}
		default: {
			struct kvm_lapic_state s;
			for (size_t k = 0; k < sizeof(s.regs); k++)
				s.regs[k] = rand();
			irqchip_set_lapic(ic, cpu, &s);
		}
		}
	}
	/* Whatever happened, the chip still works. */
	uint64_t base = 0xfee00800;
	irqchip_msr_write(ic, 1, 0x1b, 0xfee00000, 1);
	CHECK_EQ(irqchip_msr_write(ic, 1, 0x1b, base, 1), IRQCHIP_MSR_OK);
	irqchip_reset(ic);
	wr(ic, 1, REG_SVR, 0x1ff);
	self_ipi(ic, 1, 0x99);
	CHECK_EQ(irqchip_vcpu_ack_interrupt(ic, 1), 0x99);
	irqchip_destroy(ic);
}

/* vCPU threads taking interrupts while others send IPIs and lines. */
struct stress {
	struct irqchip *ic;
	int cpu;
	_Atomic int *stop;
	int taken;
};

static void *vcpu_thread(void *arg)
{
	struct stress *s = arg;
	_Atomic uint32_t *ev = irqchip_vcpu_events(s->ic, s->cpu);
	while (!*s->stop) {
		if (!(*ev & IRQCHIP_EV_INTR)) {
			irqchip_vcpu_wait(s->ic, s->cpu, IRQCHIP_EV_INTR, now_ns() + 1000000);
			continue;
		}
		int v = irqchip_vcpu_ack_interrupt(s->ic, s->cpu);
		if (v >= 0) {
			s->taken++;
			uint32_t z = 0;
			irqchip_mmio(s->ic, s->cpu, LAPIC + REG_EOI, &z, 4, 1);
			uint32_t icr = 0xc0000 | (0x40 + s->taken % 0x80);
			if (s->taken % 3 == 0)
				irqchip_mmio(s->ic, s->cpu, LAPIC + REG_ICR, &icr, 4, 1);
		}
	}
	return NULL;
}

static void test_threads(void)
{
	struct irqchip_params p = { .nr_vcpus = 4 };
	struct irqchip *ic = irqchip_create(&p);
	_Atomic int stop = 0;
	struct stress st[4];
	pthread_t th[4];
	for (int i = 0; i < 4; i++) {
		irqchip_vcpu_create(ic, i);
		wr(ic, i, REG_SVR, 0x1ff);
		wr(ic, i, REG_LVT0, 0x10000);
		wr(ic, i, REG_TDCR, 0xb);
		wr(ic, i, REG_LVTT, 0x20030 + i);
		wr(ic, i, REG_TMICT, 300000);
		st[i] = (struct stress){ .ic = ic, .cpu = i, .stop = &stop };
		pthread_create(&th[i], NULL, vcpu_thread, &st[i]);
	}
	for (int i = 0; i < 20000; i++) {
		struct kvm_msi m = { .address_lo = 0xfee00000 | ((i % 4) << 12),
				     .data = 0x50 + i % 16 };
		irqchip_signal_msi(ic, &m);
		irqchip_irq_line(ic, i % 24, i & 1);
	}
	int64_t t0 = now_ns();
	while (now_ns() - t0 < 50000000)
		irqchip_irq_line(ic, 5, 0);
	stop = 1;
	for (int i = 0; i < 4; i++) {
		irqchip_vcpu_kick(ic, i);
		pthread_join(th[i], NULL);
		CHECK(st[i].taken > 0);
	}
	irqchip_destroy(ic);
}

int main(void)
{
	if (!irqchip_linked()) {
		printf("SKIP unit/" TEST_FILE " (the irqchip is not in this build yet)\n");
		return 0;
	}
	RUN(test_reset_state);
	RUN(test_tpr_ppr_and_nesting);
	RUN(test_software_disable);
	RUN(test_illegal_vector);
	RUN(test_timer_oneshot);
	RUN(test_timer_periodic);
	RUN(test_timer_tsc_deadline);
	RUN(test_timer_thread);
	RUN(test_ipis);
	RUN(test_logical_ipis);
	RUN(test_init_sipi);
	RUN(test_x2apic);
	RUN(test_base_relocation);
	RUN(test_state_roundtrip);
	RUN(test_set_lapic_before_enable);
	RUN(test_hostile);
	RUN(test_threads);
	TEST_EXIT();
}
