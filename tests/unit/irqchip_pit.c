/*
 * The soft hypervisor's 8254 PIT: counting in modes 0, 2, 3 and 4, latches,
 * the read-back command, byte access modes, BCD, the channel 2 gate and
 * port 0x61, the interrupt on GSI 0 (PIC and I/O APIC), the timer thread,
 * KVM_GET/SET_PIT2 and hostile input.
 */
#include <errno.h>
#include <stdlib.h>
#include <time.h>

#include "hv/soft/irqchip/irqchip.h"
#include "hv/soft/irqchip/test_link.h"
#include "test.h"

static int64_t fake_now = 1000000000;

static int64_t fake_clock(void *opaque)
{
	(void)opaque;
	return fake_now;
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

/* One vCPU, the PIC at vectors 0x20/0x28, a PIT with port 0x61. */
static struct irqchip *new_chip(int timer_thread)
{
	struct irqchip_params p = { .nr_vcpus = 1 };
	if (!timer_thread) {
		p.clock_ns = fake_clock;
		p.no_timer_thread = 1;
	}
	struct irqchip *ic = irqchip_create(&p);
	if (!ic || irqchip_vcpu_create(ic, 0) != 0 ||
	    irqchip_create_pit(ic, KVM_PIT_SPEAKER_DUMMY) != 0)
		abort();
	static const uint8_t init[][2] = {
		{ 0x20, 0x11 }, { 0x21, 0x20 }, { 0x21, 0x04 }, { 0x21, 0x01 },
		{ 0xa0, 0x11 }, { 0xa1, 0x28 }, { 0xa1, 0x02 }, { 0xa1, 0x01 },
		{ 0x21, 0x00 }, { 0xa1, 0x00 },
	};
	for (size_t i = 0; i < sizeof(init) / sizeof(init[0]); i++)
		outb(ic, init[i][0], init[i][1]);
	return ic;
}

/* Latches channel ch and reads the 16-bit count (lo/hi access). */
static unsigned latched(struct irqchip *ic, int ch)
{
	outb(ic, 0x43, ch << 6);
	unsigned lo = inb(ic, 0x40 + ch);
	return lo | (unsigned)inb(ic, 0x40 + ch) << 8;
}

static void program(struct irqchip *ic, int ch, int mode, unsigned count)
{
	outb(ic, 0x43, (ch << 6) | 0x30 | (mode << 1));
	outb(ic, 0x40 + ch, count & 0xff);
	outb(ic, 0x40 + ch, count >> 8);
}

static uint8_t status(struct irqchip *ic, int ch)
{
	outb(ic, 0x43, 0xe0 | (2 << ch));       /* read-back: status only */
	return inb(ic, 0x40 + ch);
}

static int intr(struct irqchip *ic)
{
	return !!(*irqchip_vcpu_events(ic, 0) & IRQCHIP_EV_INTR);
}

static int64_t ticks_ns(uint64_t t)
{
	return (int64_t)(t * 1000000000ULL / 1193182ULL);
}

static void test_claims(void)
{
	struct irqchip_params p = { .nr_vcpus = 1, .clock_ns = fake_clock,
				    .no_timer_thread = 1 };
	struct irqchip *ic = irqchip_create(&p);
	uint8_t v;
	struct kvm_pit_state2 s;
	CHECK_EQ(irqchip_pio(ic, 0x40, &v, 1, 0), 0);
	CHECK_EQ(irqchip_get_pit2(ic, &s), -ENXIO);
	CHECK_EQ(irqchip_create_pit(ic, 2), -EINVAL);
	CHECK_EQ(irqchip_create_pit(ic, 0), 0);
	CHECK_EQ(irqchip_create_pit(ic, 0), -EEXIST);
	CHECK_EQ(irqchip_pio(ic, 0x43, &v, 1, 0), 1);
	CHECK_EQ(irqchip_pio(ic, 0x61, &v, 1, 0), 0);  /* the VMM's port */
	CHECK_EQ(irqchip_pio(ic, 0x44, &v, 1, 0), 0);
	irqchip_destroy(ic);
	ic = new_chip(0);
	CHECK_EQ(irqchip_pio(ic, 0x61, &v, 1, 0), 1);
	/* Silent until programmed. */
	fake_now += 1000000000;
	irqchip_run_timers(ic, fake_now);
	CHECK(!intr(ic));
	irqchip_destroy(ic);
}

static void test_mode2_and_irq(void)
{
	struct irqchip *ic = new_chip(0);
	int64_t t0 = fake_now;
	program(ic, 0, 2, 1193);
	CHECK_EQ(latched(ic, 0), 1193);
	fake_now = t0 + 500000;
	CHECK_EQ(latched(ic, 0), 1193 - 596);
	int64_t period = ticks_ns(1193);
	CHECK_EQ(irqchip_vcpu_next_deadline(ic, 0), t0 + period);
	CHECK_EQ(irqchip_run_timers(ic, t0 + period - 1), t0 + period);
	CHECK(!intr(ic));
	fake_now = t0 + period;
	CHECK_EQ(irqchip_run_timers(ic, fake_now), t0 + 2 * period);
	CHECK(intr(ic));
	CHECK_EQ(irqchip_vcpu_ack_interrupt(ic, 0), 0x20);
	outb(ic, 0x20, 0x20);
	/* Each period again; a late run signals once and stays on the grid. */
	fake_now = t0 + 2 * period;
	irqchip_run_timers(ic, fake_now);
	CHECK_EQ(irqchip_vcpu_ack_interrupt(ic, 0), 0x20);
	outb(ic, 0x20, 0x20);
	fake_now = t0 + 10 * period + 5;
	CHECK_EQ(irqchip_run_timers(ic, fake_now), t0 + 11 * period);
	CHECK_EQ(irqchip_vcpu_ack_interrupt(ic, 0), 0x20);
	CHECK(!intr(ic));
	irqchip_destroy(ic);
}

static void test_irq_through_ioapic(void)
{
	struct irqchip *ic = new_chip(0);
	uint32_t v = 0x1ff, sel = 0x10, lo = 0x3a, lvt0 = 0x10000;
	irqchip_mmio(ic, 0, 0xfee000f0, &v, 4, 1);
	irqchip_mmio(ic, 0, 0xfee00350, &lvt0, 4, 1);
	irqchip_mmio(ic, 0, 0xfec00000, &sel, 4, 1);
	irqchip_mmio(ic, 0, 0xfec00010, &lo, 4, 1);     /* pin 0 -> 0x3a */
	program(ic, 0, 2, 11932);
	fake_now += ticks_ns(11932);
	irqchip_run_timers(ic, fake_now);
	CHECK_EQ(irqchip_vcpu_ack_interrupt(ic, 0), 0x3a);
	irqchip_destroy(ic);
}

static void test_mode3(void)
{
	struct irqchip *ic = new_chip(0);
	int64_t t0 = fake_now;
	program(ic, 0, 3, 1000);
	fake_now = t0 + ticks_ns(10) + 1;
	CHECK_EQ(latched(ic, 0), 980);          /* counts by two */
	CHECK_EQ(status(ic, 0), 0x80 | 0x36);   /* OUT high, lo/hi, mode 3 */
	fake_now = t0 + ticks_ns(600) + 1;
	CHECK_EQ(latched(ic, 0), 1000 - 200);
	CHECK_EQ(status(ic, 0), 0x36);          /* second half: OUT low */
	fake_now = t0 + ticks_ns(1000) + 1;
	irqchip_run_timers(ic, fake_now);
	CHECK_EQ(irqchip_vcpu_ack_interrupt(ic, 0), 0x20);
	irqchip_destroy(ic);
}

static void test_mode0_and_mode4(void)
{
	struct irqchip *ic = new_chip(0);
	int64_t t0 = fake_now;
	outb(ic, 0x43, 0x30);                   /* mode 0: OUT low at once */
	CHECK_EQ(status(ic, 0) & 0xc0, 0x40);   /* low, null count */
	outb(ic, 0x40, 0xe8);
	outb(ic, 0x40, 0x03);                   /* 1000 */
	CHECK_EQ(status(ic, 0) & 0xc0, 0x00);
	fake_now = t0 + ticks_ns(999) + 1;
	irqchip_run_timers(ic, fake_now);
	CHECK(!intr(ic));
	fake_now = t0 + ticks_ns(1000) + 1;
	irqchip_run_timers(ic, fake_now);
	CHECK_EQ(status(ic, 0) & 0x80, 0x80);
	CHECK_EQ(irqchip_vcpu_ack_interrupt(ic, 0), 0x20);
	outb(ic, 0x20, 0x20);
	fake_now = t0 + ticks_ns(1010) + 1;
	CHECK_EQ(latched(ic, 0), 0x10000 - 10); /* wraps, keeps counting */
	fake_now += 100000000;
	CHECK_EQ(irqchip_run_timers(ic, fake_now), INT64_MAX);
	CHECK(!intr(ic));                       /* only once */
	/* Mode 4: OUT high, low for one clock at the end. */
	t0 = fake_now;
	program(ic, 0, 4, 500);
	CHECK_EQ(status(ic, 0) & 0x80, 0x80);
	fake_now = t0 + ticks_ns(500) + 1;
	CHECK_EQ(status(ic, 0) & 0x80, 0x00);
	irqchip_run_timers(ic, fake_now);
	CHECK(intr(ic));
	irqchip_destroy(ic);
}

static void test_latches_and_access_modes(void)
{
	struct irqchip *ic = new_chip(0);
	int64_t t0 = fake_now;
	program(ic, 1, 2, 5000);
	fake_now = t0 + ticks_ns(100) + 1;
	outb(ic, 0x43, 0x40);                   /* latch channel 1 */
	fake_now = t0 + ticks_ns(300) + 1;
	outb(ic, 0x43, 0x40);                   /* ignored: not read yet */
	CHECK_EQ(inb(ic, 0x41), (4900) & 0xff);
	CHECK_EQ(inb(ic, 0x41), 4900 >> 8);
	/* Read-back of count and status together: status first. */
	outb(ic, 0x43, 0xc4);
	CHECK_EQ(inb(ic, 0x41), 0x80 | 0x34);
	CHECK_EQ(inb(ic, 0x41), 4700 & 0xff);
	CHECK_EQ(inb(ic, 0x41), 4700 >> 8);
	/* LSB-only and MSB-only access. */
	outb(ic, 0x43, 0x54);                   /* ch1, LSB, mode 2 */
	outb(ic, 0x41, 200);
	t0 = fake_now;
	fake_now = t0 + ticks_ns(50) + 1;
	CHECK_EQ(inb(ic, 0x41), 150);
	CHECK_EQ(inb(ic, 0x41), 150);
	outb(ic, 0x43, 0x64);                   /* ch1, MSB, mode 2 */
	outb(ic, 0x41, 0x20);                   /* 0x2000 */
	t0 = fake_now;
	fake_now = t0 + ticks_ns(0x100) + 1;
	CHECK_EQ(inb(ic, 0x41), 0x1f);
	/* Direct lo/hi reads without a latch alternate bytes. */
	program(ic, 1, 2, 0x1234);
	CHECK_EQ(inb(ic, 0x41), 0x34);
	CHECK_EQ(inb(ic, 0x41), 0x12);
	CHECK_EQ(inb(ic, 0x43), 0xff);          /* write-only */
	irqchip_destroy(ic);
}

static void test_bcd(void)
{
	struct irqchip *ic = new_chip(0);
	int64_t t0 = fake_now;
	outb(ic, 0x43, 0x71);                   /* ch1, lo/hi, mode 0, BCD */
	outb(ic, 0x41, 0x00);
	outb(ic, 0x41, 0x10);                   /* 1000 decimal */
	fake_now = t0 + ticks_ns(1) + 1;
	CHECK_EQ(latched(ic, 1), 0x0999);
	fake_now = t0 + ticks_ns(1003) + 1;
	CHECK_EQ(latched(ic, 1), 0x9997);       /* wraps at 10000 */
	irqchip_destroy(ic);
}

static void test_gate_and_speaker(void)
{
	struct irqchip *ic = new_chip(0);
	CHECK_EQ(inb(ic, 0x61) & 0x03, 0);      /* gate 2 low, speaker off */
	int64_t t0 = fake_now;
	program(ic, 2, 0, 100);
	fake_now = t0 + ticks_ns(500);
	CHECK_EQ(latched(ic, 2), 100);          /* gate low: no counting */
	CHECK_EQ(inb(ic, 0x61) & 0x20, 0);
	outb(ic, 0x61, 0x03);                   /* gate high, speaker data */
	CHECK_EQ(inb(ic, 0x61) & 0x03, 0x03);
	fake_now += ticks_ns(40) + 1;
	CHECK_EQ(latched(ic, 2), 60);
	outb(ic, 0x61, 0x00);                   /* pause */
	fake_now += ticks_ns(1000);
	CHECK_EQ(latched(ic, 2), 60);
	outb(ic, 0x61, 0x01);
	fake_now += ticks_ns(60) + 1;
	CHECK_EQ(inb(ic, 0x61) & 0x20, 0x20);   /* OUT2 high at the end */
	CHECK(!intr(ic));                       /* channel 2 has no IRQ */
	/* Mode 2 reloads on a rising gate edge. */
	outb(ic, 0x61, 0x00);
	program(ic, 2, 2, 300);
	outb(ic, 0x61, 0x01);
	t0 = fake_now;
	fake_now = t0 + ticks_ns(100) + 1;
	CHECK_EQ(latched(ic, 2), 200);
	outb(ic, 0x61, 0x00);
	outb(ic, 0x61, 0x01);
	CHECK_EQ(latched(ic, 2), 300);
	/* The refresh bit toggles with time. */
	int seen[2] = { 0, 0 };
	for (int i = 0; i < 8; i++) {
		seen[(inb(ic, 0x61) >> 4) & 1] = 1;
		fake_now += 7000;
	}
	CHECK(seen[0] && seen[1]);
	irqchip_destroy(ic);
}

static void test_state_roundtrip(void)
{
	struct irqchip *ic = new_chip(0), *ic2 = new_chip(0);
	struct kvm_pit_state2 s, s2;
	int64_t t0 = fake_now;
	program(ic, 0, 2, 1193);
	outb(ic, 0x61, 0x03);
	fake_now = t0 + 400000;
	CHECK_EQ(irqchip_get_pit2(ic, &s), 0);
	CHECK_EQ(s.channels[0].mode, 2);
	CHECK_EQ(s.channels[0].count, 1193);
	CHECK_EQ(s.channels[0].count_load_time, t0);
	CHECK_EQ(s.channels[2].gate, 1);
	CHECK(s.flags & KVM_PIT_FLAGS_SPEAKER_DATA_ON);
	CHECK_EQ(irqchip_set_pit2(ic2, &s), 0);
	CHECK_EQ(irqchip_get_pit2(ic2, &s2), 0);
	CHECK(memcmp(&s, &s2, sizeof(s)) == 0);
	CHECK_EQ(latched(ic2, 0), latched(ic, 0));
	/* The copy interrupts on the same grid. */
	CHECK_EQ(irqchip_vcpu_next_deadline(ic2, 0), t0 + ticks_ns(1193));
	s.flags |= KVM_PIT_FLAGS_HPET_LEGACY;   /* HPET owns the IRQ */
	CHECK_EQ(irqchip_set_pit2(ic2, &s), 0);
	CHECK_EQ(irqchip_vcpu_next_deadline(ic2, 0), INT64_MAX);
	irqchip_destroy(ic);
	irqchip_destroy(ic2);
}

static int64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

/* A 1 kHz tick through the timer thread reaches a waiting vCPU. */
static void test_timer_thread(void)
{
	struct irqchip *ic = new_chip(1);
	program(ic, 0, 2, 1193);
	int64_t t0 = now_ns();
	int got = 0;
	while (got < 5 && now_ns() - t0 < 2000000000LL) {
		uint32_t ev = irqchip_vcpu_wait(ic, 0, IRQCHIP_EV_INTR, t0 + 2000000000LL);
		if ((ev & IRQCHIP_EV_INTR) && irqchip_vcpu_ack_interrupt(ic, 0) == 0x20) {
			got++;
			outb(ic, 0x20, 0x20);
		}
	}
	CHECK_EQ(got, 5);
	CHECK(now_ns() - t0 >= 4000000);
	irqchip_destroy(ic);
}

static void test_hostile(void)
{
	struct irqchip *ic = new_chip(0);
	static const uint16_t ports[] = { 0x40, 0x41, 0x42, 0x43, 0x61 };
	srand(5);
	for (int i = 0; i < 300000; i++) {
		uint32_t v = rand();
		switch (rand() % 5) {
		case 0:
		case 1:
			irqchip_pio(ic, ports[rand() % 5], &v, 1u << (rand() % 3), rand() & 1);
			break;
		case 2:
			fake_now += rand() % 3000000;
			irqchip_run_timers(ic, fake_now);
			irqchip_vcpu_ack_interrupt(ic, 0);
			outb(ic, 0x20, 0x20);
			break;
		case 3:
			irqchip_vcpu_next_deadline(ic, 0);
			break;
		default: {
			struct kvm_pit_state2 s;
			uint8_t *b = (uint8_t *)&s;
			for (size_t k = 0; k < sizeof(s); k++)
				b[k] = rand();
			if (rand() & 1)
				s.channels[0].count_load_time = fake_now - rand() % 1000000;
			CHECK_EQ(irqchip_set_pit2(ic, &s), 0);
			CHECK_EQ(irqchip_get_pit2(ic, &s), 0);
			for (int c = 0; c < 3; c++) {
				CHECK(s.channels[c].count >= 1 && s.channels[c].count <= 0x10000);
				CHECK(s.channels[c].mode <= 5);
			}
		}
		}
	}
	/* Still a working timer afterwards. */
	struct kvm_pit_state2 s;
	irqchip_get_pit2(ic, &s);
	s.flags = 0;
	irqchip_set_pit2(ic, &s);
	program(ic, 0, 2, 1193);
	fake_now += ticks_ns(1193) + 1;
	irqchip_run_timers(ic, fake_now);
	CHECK_EQ(irqchip_vcpu_pending_vector(ic, 0), 0x20);
	irqchip_destroy(ic);
}

int main(void)
{
	if (!irqchip_linked()) {
		printf("SKIP unit/" TEST_FILE " (the irqchip is not in this build yet)\n");
		return 0;
	}
	RUN(test_claims);
	RUN(test_mode2_and_irq);
	RUN(test_irq_through_ioapic);
	RUN(test_mode3);
	RUN(test_mode0_and_mode4);
	RUN(test_latches_and_access_modes);
	RUN(test_bcd);
	RUN(test_gate_and_speaker);
	RUN(test_state_roundtrip);
	RUN(test_timer_thread);
	RUN(test_hostile);
	TEST_EXIT();
}
