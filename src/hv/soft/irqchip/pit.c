/*
 * The 8254 programmable interval timer: three 16-bit down counters clocked
 * at 1.193182 MHz, ports 0x40-0x42 (counters) and 0x43 (control word), and
 * with KVM_PIT_SPEAKER_DUMMY the speaker port 0x61 (channel 2's gate and
 * output). Channel 0's output drives GSI 0.
 *
 * Counters are not stepped: a channel remembers when its count was loaded
 * and derives the counter and OUT from the time elapsed since, per mode:
 *   0  interrupt on terminal count     OUT rises after N clocks, once
 *   1  hardware one-shot               like 0, started by a gate edge
 *   2  rate generator                  OUT low one clock every N clocks
 *   3  square wave                     OUT high N/2, low N/2 clocks
 *   4  software strobe                 OUT low one clock after N clocks
 *   5  hardware strobe                 like 4, started by a gate edge
 * Channel 0 sends an interrupt on each rising edge of OUT (every period
 * in modes 2 and 3, once in the others), as a pulse on GSI 0.
 */
#include <string.h>

#include "internal.h"

#define PIT_PORT_CH0     0x40
#define PIT_PORT_CTRL    0x43
#define PIT_PORT_SPEAKER 0x61

/* Control word (port 0x43). */
#define CW_SC_SHIFT      6
#define CW_SC_READBACK   3
#define CW_RW_SHIFT      4
#define CW_RW_LATCH      0
#define CW_MODE_SHIFT    1
#define CW_BCD           0x01
/* Read-back command: bits 5 and 4 are active low, bits 3:1 pick channels. */
#define RB_NO_COUNT      0x20
#define RB_NO_STATUS     0x10

/* Byte access states, as kvm_pit_channel_state stores them. */
enum rw_state { RW_LSB = 1, RW_MSB = 2, RW_WORD0 = 3, RW_WORD1 = 4 };

/* Port 0x61. */
#define SPK_GATE2        0x01
#define SPK_DATA         0x02
#define SPK_REFRESH      0x10
#define SPK_OUT2         0x20
#define REFRESH_HALF_NS  15085          /* DRAM refresh toggle, ~15 us */

/* An interrupt rate above this is slowed down to it, as KVM does. */
#define PIT_MIN_PERIOD_NS 200000

static int64_t ticks_to_ns(uint64_t ticks)
{
	return muldiv64((int64_t)ticks, NSEC_PER_SEC, IRQCHIP_PIT_HZ);
}

static uint64_t ns_to_ticks(int64_t ns)
{
	return ns <= 0 ? 0 : (uint64_t)muldiv64(ns, IRQCHIP_PIT_HZ, NSEC_PER_SEC);
}

static unsigned bcd_to_bin(unsigned v)
{
	return (v & 0xf) + ((v >> 4) & 0xf) * 10 + ((v >> 8) & 0xf) * 100 +
	       ((v >> 12) & 0xf) * 1000;
}

static unsigned bin_to_bcd(unsigned v)
{
	return (v % 10) | ((v / 10 % 10) << 4) | ((v / 100 % 10) << 8) |
	       ((v / 1000 % 10) << 12);
}

static bool periodic_mode(unsigned mode)
{
	return mode == 2 || mode == 3;
}

static bool gate_triggered_mode(unsigned mode)
{
	return mode == 1 || mode == 5;
}

/* Clocks counted since the count was loaded (frozen while paused). */
static uint64_t elapsed(const struct i8254_channel *c, int64_t now)
{
	if (!c->started)
		return 0;
	int64_t t = c->paused_at >= 0 ? c->paused_at : now;
	return ns_to_ticks(t - c->s.count_load_time);
}

/* The counting element's value, binary. */
static unsigned counter_value(const struct i8254_channel *c, int64_t now)
{
	uint64_t n = c->s.count, d = elapsed(c, now);
	uint64_t wrap = c->s.bcd ? 10000 : 0x10000;

	if (!c->started || c->loading)
		return n % wrap;
	switch (c->s.mode) {
	case 2:
		return n - d % n;
	case 3:
		return (n - (2 * d) % n) & ~1ULL;
	default:                        /* counts down through 0 and wraps */
		return (n + wrap - d % wrap) % wrap;
	}
}

static bool out_level(const struct i8254_channel *c, int64_t now)
{
	uint64_t n = c->s.count, d = elapsed(c, now);

	if (c->loading || !c->started)
		return c->s.mode != 0;  /* mode 0 starts low, the others high */
	if (periodic_mode(c->s.mode) && c->paused_at >= 0)
		return true;            /* gate low forces OUT high */
	switch (c->s.mode) {
	case 0:
	case 1:
		return d >= n;
	case 2:
		return d % n != n - 1;
	case 3:
		return d % n < (n + 1) / 2;
	default:
		return d != n;
	}
}

/* ---- channel 0's interrupt schedule -------------------------------------- */

static int64_t irq_period_ns(const struct i8254_channel *c)
{
	int64_t p = ticks_to_ns(c->s.count);
	return periodic_mode(c->s.mode) && p < PIT_MIN_PERIOD_NS ? PIT_MIN_PERIOD_NS : p;
}

static bool irq_armed(const struct i8254 *pit)
{
	const struct i8254_channel *c = &pit->ch[0];
	return c->started && !c->loading && c->paused_at < 0 &&
	       !(pit->flags & KVM_PIT_FLAGS_HPET_LEGACY);
}

int64_t i8254_next_irq(const struct i8254 *pit)
{
	if (!pit)
		return INT64_MAX;
	const struct i8254_channel *c = &pit->ch[0];
	if (!irq_armed(pit))
		return INT64_MAX;
	if (!periodic_mode(c->s.mode) && c->irq_periods)
		return INT64_MAX;       /* one-shot modes signal once */
	return c->s.count_load_time + (int64_t)(c->irq_periods + 1) * irq_period_ns(c);
}

int64_t i8254_run_timer(struct irqchip *ic, int64_t now)
{
	struct i8254 *pit = ic->pit;
	if (!pit)
		return INT64_MAX;
	struct i8254_channel *c = &pit->ch[0];
	if (i8254_next_irq(pit) > now)
		return i8254_next_irq(pit);
	/* Late by several periods: one interrupt, the next on the grid. */
	c->irq_periods = (uint64_t)((now - c->s.count_load_time) / irq_period_ns(c));
	if (c->irq_periods == 0)
		c->irq_periods = 1;
	ic_pit_pulse(ic);
	return i8254_next_irq(pit);
}

static void rearm(struct irqchip *ic)
{
	ic_timer_armed(ic, i8254_next_irq(ic->pit));
}

/* ---- loading and the gate ------------------------------------------------ */

static void load_count(struct i8254_channel *c, unsigned raw, int64_t now)
{
	unsigned n = c->s.bcd ? bcd_to_bin(raw) : raw;
	if (n == 0)
		n = c->s.bcd ? 10000 : 0x10000;
	c->s.count = n;
	c->loading = false;
	c->null_count = false;
	c->irq_periods = 0;
	c->s.count_load_time = now;
	c->started = !gate_triggered_mode(c->s.mode);
	c->paused_at = c->started && !c->s.gate ? now : -1;
}

static void set_gate(struct i8254_channel *c, bool gate, int64_t now)
{
	bool rising = gate && !c->s.gate, falling = !gate && c->s.gate;
	c->s.gate = gate;
	if (c->loading)
		return;
	if (rising && gate_triggered_mode(c->s.mode)) {
		c->started = true;
		c->s.count_load_time = now;
		c->irq_periods = 0;
		c->paused_at = -1;
	} else if (rising && c->paused_at >= 0) {
		if (periodic_mode(c->s.mode)) {
			c->s.count_load_time = now;     /* reload */
			c->irq_periods = 0;
		} else {
			c->s.count_load_time += now - c->paused_at;
		}
		c->paused_at = -1;
	} else if (falling && c->started && !gate_triggered_mode(c->s.mode)) {
		c->paused_at = now;
	}
}

/* ---- port I/O ------------------------------------------------------------ */

bool i8254_claims(const struct i8254 *pit, uint16_t port)
{
	if (!pit)
		return false;
	if (port >= PIT_PORT_CH0 && port <= PIT_PORT_CTRL)
		return true;
	return port == PIT_PORT_SPEAKER &&
	       (pit->create_flags & KVM_PIT_SPEAKER_DUMMY);
}

static void latch_count(struct i8254_channel *c, int64_t now)
{
	if (c->s.count_latched)
		return;                 /* the first latch holds until read */
	unsigned v = counter_value(c, now);
	c->s.latched_count = c->s.bcd ? bin_to_bcd(v) : v;
	c->s.count_latched = c->s.rw_mode;
}

static void latch_status(struct i8254_channel *c, int64_t now)
{
	if (c->s.status_latched)
		return;
	c->s.status = (out_level(c, now) << 7) | (c->null_count << 6) |
		      (c->s.rw_mode << 4) | (c->s.mode << 1) | c->s.bcd;
	c->s.status_latched = 1;
}

static void read_back(struct i8254 *pit, uint8_t val, int64_t now)
{
	for (int i = 0; i < 3; i++) {
		if (!(val & (2 << i)))
			continue;
		if (!(val & RB_NO_COUNT))
			latch_count(&pit->ch[i], now);
		if (!(val & RB_NO_STATUS))
			latch_status(&pit->ch[i], now);
	}
}

static void write_control(struct i8254 *pit, uint8_t val, int64_t now)
{
	unsigned sc = val >> CW_SC_SHIFT, rw = (val >> CW_RW_SHIFT) & 3;
	if (sc == CW_SC_READBACK) {
		read_back(pit, val, now);
		return;
	}
	struct i8254_channel *c = &pit->ch[sc];
	if (rw == CW_RW_LATCH) {
		latch_count(c, now);
		return;
	}
	unsigned mode = (val >> CW_MODE_SHIFT) & 7;
	c->s.mode = mode > 5 ? mode & 3 : mode;    /* 6, 7 are 2, 3 */
	c->s.rw_mode = rw;
	c->s.read_state = c->s.write_state = rw == 3 ? RW_WORD0 : rw;
	c->s.bcd = val & CW_BCD;
	c->loading = true;              /* counting stops until a new count */
	c->started = false;
	c->null_count = true;
}

static void write_counter(struct i8254_channel *c, uint8_t val, int64_t now)
{
	switch (c->s.write_state) {
	case RW_LSB:
		load_count(c, val, now);
		break;
	case RW_MSB:
		load_count(c, (unsigned)val << 8, now);
		break;
	case RW_WORD0:
		c->s.write_latch = val;
		c->s.write_state = RW_WORD1;
		if (c->s.mode == 0)
			c->loading = true;      /* the first byte stops mode 0 */
		break;
	default:
		load_count(c, c->s.write_latch | ((unsigned)val << 8), now);
		c->s.write_state = RW_WORD0;
		break;
	}
}

static uint8_t read_latched(struct i8254_channel *c)
{
	uint16_t v = c->s.latched_count;
	switch (c->s.count_latched) {
	case RW_MSB:
		c->s.count_latched = 0;
		return v >> 8;
	case RW_WORD0:
		c->s.count_latched = RW_MSB;
		return v & 0xff;
	default:
		c->s.count_latched = 0;
		return v & 0xff;
	}
}

static uint8_t read_counter(struct i8254_channel *c, int64_t now)
{
	if (c->s.status_latched) {
		c->s.status_latched = 0;
		return c->s.status;
	}
	if (c->s.count_latched)
		return read_latched(c);
	unsigned v = counter_value(c, now);
	if (c->s.bcd)
		v = bin_to_bcd(v);
	switch (c->s.read_state) {
	case RW_MSB:
		return v >> 8;
	case RW_WORD0:
		c->s.read_state = RW_WORD1;
		return v & 0xff;
	case RW_WORD1:
		c->s.read_state = RW_WORD0;
		return v >> 8;
	default:
		return v & 0xff;
	}
}

static uint8_t read_speaker(struct i8254 *pit, int64_t now)
{
	struct i8254_channel *c2 = &pit->ch[2];
	uint8_t v = c2->s.gate ? SPK_GATE2 : 0;
	if (pit->flags & KVM_PIT_FLAGS_SPEAKER_DATA_ON)
		v |= SPK_DATA;
	if ((now / REFRESH_HALF_NS) & 1)
		v |= SPK_REFRESH;
	if (out_level(c2, now))
		v |= SPK_OUT2;
	return v;
}

static void write_speaker(struct i8254 *pit, uint8_t val, int64_t now)
{
	set_gate(&pit->ch[2], val & SPK_GATE2, now);
	if (val & SPK_DATA)
		pit->flags |= KVM_PIT_FLAGS_SPEAKER_DATA_ON;
	else
		pit->flags &= ~KVM_PIT_FLAGS_SPEAKER_DATA_ON;
}

void i8254_write(struct irqchip *ic, uint16_t port, uint8_t val, int64_t now)
{
	struct i8254 *pit = ic->pit;
	if (port == PIT_PORT_SPEAKER)
		write_speaker(pit, val, now);
	else if (port == PIT_PORT_CTRL)
		write_control(pit, val, now);
	else
		write_counter(&pit->ch[port - PIT_PORT_CH0], val, now);
	rearm(ic);
}

uint8_t i8254_read(struct irqchip *ic, uint16_t port, int64_t now)
{
	struct i8254 *pit = ic->pit;
	if (port == PIT_PORT_SPEAKER)
		return read_speaker(pit, now);
	if (port == PIT_PORT_CTRL)
		return 0xff;            /* the control register is write-only */
	return read_counter(&pit->ch[port - PIT_PORT_CH0], now);
}

/* ---- reset and KVM_GET/SET_PIT2 ------------------------------------------ */

void i8254_reset(struct i8254 *pit, int64_t now)
{
	uint32_t create_flags = pit->create_flags;
	memset(pit, 0, sizeof(*pit));
	pit->create_flags = create_flags;
	for (int i = 0; i < 3; i++) {
		struct i8254_channel *c = &pit->ch[i];
		c->s.count = 0x10000;
		c->s.rw_mode = 3;
		c->s.read_state = c->s.write_state = RW_WORD0;
		c->s.gate = i != 2;     /* channel 2's gate is port 0x61 bit 0 */
		c->s.count_load_time = now;
		c->loading = true;      /* silent until the guest programs it */
		c->paused_at = -1;
	}
}

void i8254_get_state(struct i8254 *pit, struct kvm_pit_state2 *s, int64_t now)
{
	memset(s, 0, sizeof(*s));
	for (int i = 0; i < 3; i++) {
		struct i8254_channel *c = &pit->ch[i];
		s->channels[i] = c->s;
		/* A paused channel looks as if it was loaded that much later. */
		if (c->paused_at >= 0)
			s->channels[i].count_load_time += now - c->paused_at;
	}
	s->flags = pit->flags;
}

static void sanitize_channel(struct kvm_pit_channel_state *s, int64_t now)
{
	if (s->mode > 5)
		s->mode &= 3;
	if (s->rw_mode < 1 || s->rw_mode > 3)
		s->rw_mode = 3;
	if (s->read_state < RW_LSB || s->read_state > RW_WORD1)
		s->read_state = s->rw_mode == 3 ? RW_WORD0 : s->rw_mode;
	if (s->write_state < RW_LSB || s->write_state > RW_WORD1)
		s->write_state = s->rw_mode == 3 ? RW_WORD0 : s->rw_mode;
	if (s->count_latched > RW_WORD0)
		s->count_latched = 0;
	s->status_latched = !!s->status_latched;
	s->bcd = !!s->bcd;
	s->gate = !!s->gate;
	uint32_t max = s->bcd ? 10000 : 0x10000;
	if (s->count == 0 || s->count > max)
		s->count = max;
	/* A load time in the future or centuries ago is now. */
	if (s->count_load_time > now || s->count_load_time < now - (1LL << 62))
		s->count_load_time = now;
}

void i8254_set_state(struct irqchip *ic, const struct kvm_pit_state2 *s,
		     int64_t now)
{
	struct i8254 *pit = ic->pit;
	pit->flags = s->flags & (KVM_PIT_FLAGS_HPET_LEGACY |
				 KVM_PIT_FLAGS_SPEAKER_DATA_ON);
	for (int i = 0; i < 3; i++) {
		struct i8254_channel *c = &pit->ch[i];
		c->s = s->channels[i];
		sanitize_channel(&c->s, now);
		c->loading = false;
		c->started = true;
		c->null_count = false;
		c->paused_at = c->s.gate || gate_triggered_mode(c->s.mode) ? -1 : now;
		/* Periods that passed before now are not signalled again. */
		c->irq_periods = (uint64_t)((now - c->s.count_load_time) /
					    irq_period_ns(c));
	}
	rearm(ic);
}
