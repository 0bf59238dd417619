/*
 * The local APIC of one vCPU (Intel SDM vol. 3, chapter "Advanced
 * Programmable Interrupt Controller"): xAPIC registers in MMIO at the
 * IA32_APIC_BASE address, the same registers as MSRs 0x800-0x8ff in x2APIC
 * mode, the timer (one-shot, periodic, TSC-deadline) and IPIs through the
 * ICR. The registers live in a 1 KiB page in the xAPIC layout, as in
 * struct kvm_lapic_state, so KVM_GET/SET_LAPIC copy it.
 *
 * Interrupt acceptance follows the SDM: fixed interrupts set IRR; the CPU
 * takes the highest IRR vector whose priority class is above the PPR's;
 * acknowledging moves it to ISR; EOI clears the highest ISR bit and, for a
 * level-triggered vector (TMR), tells the I/O APIC.
 */
#include <stdlib.h>
#include <string.h>

#include "internal.h"

/* Register offsets in the xAPIC page; x2APIC MSR = 0x800 + offset / 16. */
#define APIC_ID          0x020
#define APIC_LVR         0x030
#define APIC_TPR         0x080
#define APIC_APR         0x090
#define APIC_PPR         0x0a0
#define APIC_EOI         0x0b0
#define APIC_RRD         0x0c0
#define APIC_LDR         0x0d0
#define APIC_DFR         0x0e0
#define APIC_SVR         0x0f0
#define APIC_ISR         0x100
#define APIC_TMR         0x180
#define APIC_IRR         0x200
#define APIC_ESR         0x280
#define APIC_ICR         0x300
#define APIC_ICR2        0x310
#define APIC_LVTT        0x320
#define APIC_LVTTHMR     0x330
#define APIC_LVTPC       0x340
#define APIC_LVT0        0x350
#define APIC_LVT1        0x360
#define APIC_LVTERR      0x370
#define APIC_TMICT       0x380
#define APIC_TMCCT       0x390
#define APIC_TDCR        0x3e0
#define APIC_SELF_IPI    0x3f0
#define APIC_NR_REGS     (LAPIC_REGS_SIZE / 16)

/* Version 0x14 (integrated APIC), six LVT entries (max LVT index 5). */
#define APIC_VERSION     (0x14u | (5u << 16))

#define MSR_IA32_APICBASE       0x1b
#define MSR_IA32_TSC_DEADLINE   0x6e0
#define MSR_X2APIC_FIRST        0x800
#define MSR_X2APIC_LAST         0x8ff

#define APICBASE_BSP     (1ULL << 8)
#define APICBASE_EXTD    (1ULL << 10)
#define APICBASE_EN      (1ULL << 11)

#define SVR_ENABLE       (1u << 8)
#define SVR_WRITABLE     0x3ffu         /* vector, enable, focus check */

#define LVT_VECTOR       0xffu
#define LVT_DM           (7u << 8)
#define LVT_PENDING      (1u << 12)
#define LVT_POLARITY     (1u << 13)
#define LVT_REMOTE_IRR   (1u << 14)
#define LVT_LEVEL        (1u << 15)
#define LVT_MASKED       (1u << 16)
#define LVT_TIMER_MODE   (3u << 17)
#define LVT_EXTINT       (APIC_DM_EXTINT << 8)

enum timer_mode { TIMER_ONESHOT = 0, TIMER_PERIODIC = 1, TIMER_TSC_DEADLINE = 2 };

#define ICR_DM_SHIFT     8
#define ICR_LOGICAL      (1u << 11)
#define ICR_PENDING      (1u << 12)
#define ICR_ASSERT       (1u << 14)
#define ICR_LEVEL        (1u << 15)
#define ICR_SH_SHIFT     18
#define ICR_WRITABLE     0x000cdfffu    /* vector..level, trigger, shorthand */

#define ESR_SEND_ILLEGAL (1u << 5)
#define ESR_RECV_ILLEGAL (1u << 6)

#define DFR_FLAT         0xfu           /* DFR bits 31:28 */

/* A periodic timer faster than this is slowed down to it, as KVM does. */
#define TIMER_MIN_PERIOD_NS 200000

/* ---- register page access ------------------------------------------------ */

static uint32_t reg(const struct lapic *l, unsigned off)
{
	uint32_t v;
	memcpy(&v, l->regs + off, 4);
	return v;
}

static void set_reg(struct lapic *l, unsigned off, uint32_t v)
{
	memcpy(l->regs + off, &v, 4);
}

/* The 256-bit vector sets ISR, TMR and IRR: 8 words at 16-byte strides. */
static unsigned vec_off(unsigned base, unsigned v)
{
	return base + (v >> 5) * 16;
}

static bool vec_test(const struct lapic *l, unsigned base, unsigned v)
{
	return reg(l, vec_off(base, v)) & (1u << (v & 31));
}

static void vec_set(struct lapic *l, unsigned base, unsigned v)
{
	set_reg(l, vec_off(base, v), reg(l, vec_off(base, v)) | (1u << (v & 31)));
}

static void vec_clear(struct lapic *l, unsigned base, unsigned v)
{
	set_reg(l, vec_off(base, v), reg(l, vec_off(base, v)) & ~(1u << (v & 31)));
}

static int vec_highest(const struct lapic *l, unsigned base)
{
	for (int w = 7; w >= 0; w--) {
		uint32_t bits = reg(l, base + w * 16);
		if (bits)
			return w * 32 + 31 - __builtin_clz(bits);
	}
	return -1;
}

/* ---- modes and priorities ------------------------------------------------ */

bool lapic_hw_enabled(const struct lapic *l)
{
	return l->base_msr & APICBASE_EN;
}

static bool sw_enabled(const struct lapic *l)
{
	return reg(l, APIC_SVR) & SVR_ENABLE;
}

static bool x2apic_mode(const struct lapic *l)
{
	return (l->base_msr & (APICBASE_EN | APICBASE_EXTD)) ==
	       (APICBASE_EN | APICBASE_EXTD);
}

static uint32_t apic_id(const struct lapic *l)
{
	return x2apic_mode(l) ? (uint32_t)l->id : reg(l, APIC_ID) >> 24;
}

static uint32_t x2apic_ldr(int id)
{
	return ((uint32_t)(id >> 4) << 16) | (1u << (id & 15));
}

static uint8_t ppr(const struct lapic *l)
{
	uint8_t tpr = reg(l, APIC_TPR) & 0xff;
	int isrv = vec_highest(l, APIC_ISR);
	uint8_t isr_class = isrv < 0 ? 0 : (isrv & 0xf0);
	return (tpr & 0xf0) >= isr_class ? tpr : isr_class;
}

uint8_t lapic_get_tpr(const struct lapic *l)
{
	return reg(l, APIC_TPR) & 0xff;
}

void lapic_set_tpr(struct lapic *l, uint8_t tpr)
{
	set_reg(l, APIC_TPR, tpr);
	ic_mark_dirty(l->ic, l->id);
}

bool lapic_accepts_pic(const struct lapic *l)
{
	uint32_t lvt0 = reg(l, APIC_LVT0);
	if (!lapic_hw_enabled(l))
		return true;
	return !(lvt0 & LVT_MASKED) && (lvt0 & LVT_DM) == LVT_EXTINT;
}

int lapic_pending_vector(const struct lapic *l)
{
	if (!lapic_hw_enabled(l))
		return -1;
	int v = vec_highest(l, APIC_IRR);
	if (v < 0 || (v & 0xf0) <= (ppr(l) & 0xf0))
		return -1;
	return v;
}

int lapic_ack(struct lapic *l)
{
	int v = lapic_pending_vector(l);
	if (v < 0)
		return -1;
	vec_clear(l, APIC_IRR, v);
	vec_set(l, APIC_ISR, v);
	ic_mark_dirty(l->ic, l->id);
	return v;
}

static void eoi(struct lapic *l)
{
	int v = vec_highest(l, APIC_ISR);
	if (v < 0)
		return;
	vec_clear(l, APIC_ISR, v);
	ic_mark_dirty(l->ic, l->id);
	if (vec_test(l, APIC_TMR, v))
		ioapic_eoi(l->ic, v);
}

/* ---- accepting messages -------------------------------------------------- */

static void accept_fixed(struct lapic *l, uint8_t vector, bool level_trig);

/* Records an error; the LVT error entry reports it if unmasked. */
static void apic_error(struct lapic *l, uint32_t bits)
{
	uint32_t lvt = reg(l, APIC_LVTERR);
	l->esr_pending |= bits;
	/* An illegal error vector must not report itself again. */
	if (!(lvt & LVT_MASKED) && (lvt & LVT_VECTOR) >= 16)
		accept_fixed(l, lvt & LVT_VECTOR, false);
}

static void accept_fixed(struct lapic *l, uint8_t vector, bool level_trig)
{
	if (vector < 16) {
		apic_error(l, ESR_RECV_ILLEGAL);
		return;
	}
	vec_set(l, APIC_IRR, vector);
	if (level_trig)
		vec_set(l, APIC_TMR, vector);
	else
		vec_clear(l, APIC_TMR, vector);
	ic_mark_dirty(l->ic, l->id);
}

bool lapic_accept(struct lapic *l, const struct apic_msg *m)
{
	switch (m->dm) {
	case APIC_DM_FIXED:
	case APIC_DM_LOWEST:
		if (!sw_enabled(l))
			return false;
		accept_fixed(l, m->vector, m->level_trig);
		return m->vector >= 16;
	case APIC_DM_NMI:
		if (l->nmi_pending < 2)
			l->nmi_pending++;
		break;
	case APIC_DM_INIT:
		l->init_pending = true;
		break;
	case APIC_DM_STARTUP:
		l->sipi_vector = m->vector;
		l->sipi_pending = true;
		break;
	default:                        /* SMI, ExtINT, reserved: not modelled */
		return false;
	}
	ic_mark_dirty(l->ic, l->id);
	return true;
}

/* ---- destinations -------------------------------------------------------- */

static bool is_broadcast(const struct apic_msg *m)
{
	return m->dest == (m->dest32 ? 0xffffffffu : 0xffu);
}

static bool match_logical(const struct lapic *l, const struct apic_msg *m)
{
	if (x2apic_mode(l)) {
		uint32_t ldr = reg(l, APIC_LDR);
		return m->dest32 && (m->dest >> 16) == (ldr >> 16) &&
		       (m->dest & ldr & 0xffff);
	}
	uint8_t ldr = reg(l, APIC_LDR) >> 24, d = m->dest & 0xff;
	if ((reg(l, APIC_DFR) >> 28) == DFR_FLAT)
		return d & ldr;
	return (d >> 4) == (ldr >> 4) && (d & ldr & 0xf);     /* cluster */
}

static bool addressed(const struct lapic *l, const struct apic_msg *m)
{
	if (!lapic_hw_enabled(l))
		return false;
	switch (m->shorthand) {
	case APIC_DEST_SELF:   return l->id == m->src;
	case APIC_DEST_ALL:    return true;
	case APIC_DEST_OTHERS: return l->id != m->src;
	}
	if (is_broadcast(m))
		return true;
	if (m->logical)
		return match_logical(l, m);
	return m->dest == apic_id(l);
}

/* Lowest priority: one addressed, enabled APIC with the lowest TPR class,
 * ties broken round-robin. */
static struct lapic *lowest_priority_target(struct irqchip *ic,
					    const struct apic_msg *m)
{
	struct lapic *best = NULL;
	for (unsigned i = 0; i < IRQCHIP_MAX_VCPUS; i++) {
		struct lapic *l = ic->lapic[(ic->lowest_next + i) % IRQCHIP_MAX_VCPUS];
		if (!l || !addressed(l, m) || !sw_enabled(l))
			continue;
		if (!best || (lapic_get_tpr(l) >> 4) < (lapic_get_tpr(best) >> 4))
			best = l;
	}
	if (best)
		ic->lowest_next = best->id + 1;
	return best;
}

int lapic_deliver(struct irqchip *ic, const struct apic_msg *m)
{
	bool one = m->dm == APIC_DM_LOWEST || m->lowest;
	if (one && (m->dm == APIC_DM_FIXED || m->dm == APIC_DM_LOWEST)) {
		struct lapic *l = lowest_priority_target(ic, m);
		return l && lapic_accept(l, m);
	}
	int n = 0;
	for (unsigned i = 0; i < IRQCHIP_MAX_VCPUS; i++) {
		struct lapic *l = ic->lapic[i];
		if (l && addressed(l, m))
			n += lapic_accept(l, m);
	}
	return n;
}

/* The ICR was written: send the IPI it describes. */
static void send_ipi(struct lapic *l, uint32_t icr, uint32_t dest, bool dest32)
{
	struct apic_msg m = {
		.vector = icr & 0xff,
		.dm = (icr >> ICR_DM_SHIFT) & 7,
		.logical = icr & ICR_LOGICAL,
		.assert = icr & ICR_ASSERT,
		.level_trig = icr & ICR_LEVEL,
		.shorthand = (icr >> ICR_SH_SHIFT) & 3,
		.src = l->id,
		.dest = dest,
		.dest32 = dest32,
	};
	/* INIT level de-assert only synchronised arbitration IDs. */
	if (m.dm == APIC_DM_INIT && !m.assert && m.level_trig)
		return;
	if ((m.dm == APIC_DM_FIXED || m.dm == APIC_DM_LOWEST) && m.vector < 16) {
		apic_error(l, ESR_SEND_ILLEGAL);
		return;
	}
	lapic_deliver(l->ic, &m);
}

/* ---- the timer ----------------------------------------------------------- */

static enum timer_mode timer_mode(const struct lapic *l)
{
	unsigned mode = (reg(l, APIC_LVTT) & LVT_TIMER_MODE) >> 17;
	return mode == 3 ? TIMER_ONESHOT : (enum timer_mode)mode;
}

/* TDCR bits 3,1:0 encode 2, 4, ... 128 and 0b111 = 1. */
static int64_t timer_divide(const struct lapic *l)
{
	uint32_t v = reg(l, APIC_TDCR);
	unsigned code = (v & 3) | ((v >> 1) & 4);
	return 1LL << ((code + 1) & 7);
}

static void timer_stop(struct lapic *l)
{
	l->timer_deadline = INT64_MAX;
}

static void timer_arm(struct lapic *l, int64_t deadline)
{
	l->timer_deadline = deadline;
	ic_timer_armed(l->ic, deadline);
}

/* Starts counting down `remaining` of `count` (in bus ticks / divide). */
static void timer_start(struct lapic *l, uint32_t count, uint32_t remaining,
			int64_t now)
{
	if (count == 0 || timer_mode(l) == TIMER_TSC_DEADLINE) {
		timer_stop(l);
		return;
	}
	int64_t div = timer_divide(l);
	l->timer_period = (int64_t)count * div;
	if (timer_mode(l) == TIMER_PERIODIC && l->timer_period < TIMER_MIN_PERIOD_NS)
		l->timer_period = TIMER_MIN_PERIOD_NS;
	/* A fresh count runs a full (possibly slowed-down) period. */
	int64_t left = remaining == count ? l->timer_period : (int64_t)remaining * div;
	if (left > l->timer_period)
		left = l->timer_period;
	l->timer_start = now - (l->timer_period - left);
	timer_arm(l, now + left);
}

static uint32_t timer_current_count(const struct lapic *l, int64_t now)
{
	if (l->timer_deadline == INT64_MAX || timer_mode(l) == TIMER_TSC_DEADLINE)
		return 0;
	int64_t left;
	if (timer_mode(l) == TIMER_PERIODIC && l->timer_period > 0)
		left = l->timer_period - (now - l->timer_start) % l->timer_period;
	else
		left = l->timer_deadline - now;
	if (left <= 0)
		return 0;
	int64_t count = left / timer_divide(l);
	return count > reg(l, APIC_TMICT) ? reg(l, APIC_TMICT) : (uint32_t)count;
}

static void timer_fire(struct lapic *l)
{
	uint32_t lvt = reg(l, APIC_LVTT);
	if (!(lvt & LVT_MASKED))
		accept_fixed(l, lvt & LVT_VECTOR, false);
}

void lapic_timer_expire(struct lapic *l, int64_t now)
{
	if (l->timer_deadline > now)
		return;
	timer_fire(l);
	if (timer_mode(l) == TIMER_PERIODIC && l->timer_period > 0) {
		/* Late by several periods: one interrupt, the next on the grid. */
		int64_t k = (now - l->timer_start) / l->timer_period + 1;
		l->timer_deadline = l->timer_start + k * l->timer_period;
		return;
	}
	if (timer_mode(l) == TIMER_TSC_DEADLINE)
		l->tsc_deadline = 0;
	timer_stop(l);
}

static int64_t tsc_to_ns(const struct lapic *l, uint64_t tsc)
{
	__int128 delta = (__int128)tsc - (__int128)l->tsc_at;
	__int128 ns = l->tsc_at_ns + delta * NSEC_PER_SEC / (__int128)l->ic->p.tsc_hz;
	if (ns >= INT64_MAX)
		return INT64_MAX - 1;
	if (ns < 0)
		return 0;
	return (int64_t)ns;
}

static void set_tsc_deadline(struct lapic *l, uint64_t tsc)
{
	if (timer_mode(l) != TIMER_TSC_DEADLINE)
		return;                 /* ignored in the other modes */
	l->tsc_deadline = tsc;
	if (tsc == 0) {
		timer_stop(l);
		return;
	}
	timer_arm(l, tsc_to_ns(l, tsc));
	lapic_timer_expire(l, ic_now(l->ic));
}

/* ---- register writes ----------------------------------------------------- */

static void mask_all_lvts(struct lapic *l)
{
	for (unsigned off = APIC_LVTT; off <= APIC_LVTERR; off += 16)
		set_reg(l, off, reg(l, off) | LVT_MASKED);
}

static void write_id(struct lapic *l, uint32_t v)
{
	set_reg(l, APIC_ID, v & 0xff000000u);
}

static void write_tpr(struct lapic *l, uint32_t v)
{
	lapic_set_tpr(l, v & 0xff);
}

static void write_eoi(struct lapic *l, uint32_t v)
{
	(void)v;
	eoi(l);
}

static void write_ldr(struct lapic *l, uint32_t v)
{
	set_reg(l, APIC_LDR, v & 0xff000000u);
}

static void write_dfr(struct lapic *l, uint32_t v)
{
	set_reg(l, APIC_DFR, v | 0x0fffffffu);
}

static void write_svr(struct lapic *l, uint32_t v)
{
	set_reg(l, APIC_SVR, v & SVR_WRITABLE);
	if (!(v & SVR_ENABLE))
		mask_all_lvts(l);
	ic_mark_dirty(l->ic, l->id);
}

static void write_esr(struct lapic *l, uint32_t v)
{
	(void)v;
	set_reg(l, APIC_ESR, l->esr_pending);
	l->esr_pending = 0;
}

static void write_icr(struct lapic *l, uint32_t v)
{
	set_reg(l, APIC_ICR, v & ICR_WRITABLE);
	send_ipi(l, v, reg(l, APIC_ICR2) >> 24, false);
}

static void write_icr2(struct lapic *l, uint32_t v)
{
	set_reg(l, APIC_ICR2, v & 0xff000000u);
}

/* Writable bits of each LVT entry. */
static uint32_t lvt_writable(unsigned off)
{
	switch (off) {
	case APIC_LVTT:    return LVT_VECTOR | LVT_MASKED | LVT_TIMER_MODE;
	case APIC_LVTTHMR:
	case APIC_LVTPC:   return LVT_VECTOR | LVT_DM | LVT_MASKED;
	case APIC_LVT0:
	case APIC_LVT1:    return LVT_VECTOR | LVT_DM | LVT_POLARITY | LVT_LEVEL |
				  LVT_MASKED;
	default:           return LVT_VECTOR | LVT_MASKED;       /* error */
	}
}

static void store_lvt(struct lapic *l, unsigned off, uint32_t v)
{
	v &= lvt_writable(off);
	if (!sw_enabled(l))
		v |= LVT_MASKED;        /* cannot unmask while software-disabled */
	set_reg(l, off, (reg(l, off) & LVT_REMOTE_IRR) | v);
}

static void write_lvt(struct lapic *l, uint32_t v, unsigned off)
{
	store_lvt(l, off, v);
	if (off == APIC_LVT0)
		ic_mark_dirty(l->ic, l->id);    /* PIC reachability */
}

static void write_lvtt(struct lapic *l, uint32_t v)
{
	enum timer_mode old = timer_mode(l);
	store_lvt(l, APIC_LVTT, v);
	/* Entering or leaving TSC-deadline mode disarms the timer. */
	if ((old == TIMER_TSC_DEADLINE) != (timer_mode(l) == TIMER_TSC_DEADLINE)) {
		timer_stop(l);
		set_reg(l, APIC_TMICT, 0);
		l->tsc_deadline = 0;
	}
}

static void write_tmict(struct lapic *l, uint32_t v)
{
	if (timer_mode(l) == TIMER_TSC_DEADLINE)
		return;
	set_reg(l, APIC_TMICT, v);
	timer_start(l, v, v, ic_now(l->ic));
}

static void write_tdcr(struct lapic *l, uint32_t v)
{
	set_reg(l, APIC_TDCR, v & 0xb);
}

static void write_self_ipi(struct lapic *l, uint32_t v)
{
	send_ipi(l, (v & 0xff) | (APIC_DEST_SELF << ICR_SH_SHIFT), 0, true);
}

/* ---- the register table -------------------------------------------------- */

enum reg_flags {
	R_READ = 1,             /* readable */
	R_WRITE = 2,            /* writable */
	R_X2 = 4,               /* exists in x2APIC mode */
	R_X2_RO = 8,            /* read-only in x2APIC mode */
	R_X2_ONLY = 16,         /* exists only in x2APIC mode */
	R_LVT = 32,             /* an LVT entry: write_lvt(l, v, offset) */
};

struct lapic_reg {
	uint8_t flags;
	void (*write)(struct lapic *l, uint32_t v);
	uint32_t (*read)(const struct lapic *l, int64_t now);
};

static uint32_t read_id(const struct lapic *l, int64_t now)
{
	(void)now;
	return x2apic_mode(l) ? (uint32_t)l->id : reg(l, APIC_ID);
}

static uint32_t read_ppr(const struct lapic *l, int64_t now)
{
	(void)now;
	return ppr(l);
}

static uint32_t read_tmcct(const struct lapic *l, int64_t now)
{
	return timer_current_count(l, now);
}

static uint32_t read_zero(const struct lapic *l, int64_t now)
{
	(void)l, (void)now;
	return 0;
}

#define RW     (R_READ | R_WRITE | R_X2)
#define RO     (R_READ | R_X2)
#define VECREG { RO, NULL, NULL }

static const struct lapic_reg lapic_regs[APIC_NR_REGS] = {
	[APIC_ID >> 4]       = { RW | R_X2_RO, write_id, read_id },
	[APIC_LVR >> 4]      = { RO, NULL, NULL },
	[APIC_TPR >> 4]      = { RW, write_tpr, NULL },
	[APIC_APR >> 4]      = { R_READ, NULL, read_zero },
	[APIC_PPR >> 4]      = { RO, NULL, read_ppr },
	[APIC_EOI >> 4]      = { R_WRITE | R_X2, write_eoi, NULL },
	[APIC_RRD >> 4]      = { R_READ, NULL, read_zero },
	[APIC_LDR >> 4]      = { RW | R_X2_RO, write_ldr, NULL },
	[APIC_DFR >> 4]      = { R_READ | R_WRITE, write_dfr, NULL },
	[APIC_SVR >> 4]      = { RW, write_svr, NULL },
	[APIC_ISR >> 4 ... (APIC_ISR >> 4) + 7] = VECREG,
	[APIC_TMR >> 4 ... (APIC_TMR >> 4) + 7] = VECREG,
	[APIC_IRR >> 4 ... (APIC_IRR >> 4) + 7] = VECREG,
	[APIC_ESR >> 4]      = { RW, write_esr, NULL },
	[APIC_ICR >> 4]      = { RW, write_icr, NULL },
	[APIC_ICR2 >> 4]     = { R_READ | R_WRITE, write_icr2, NULL },
	[APIC_LVTT >> 4]     = { RW, write_lvtt, NULL },
	[APIC_LVTTHMR >> 4]  = { RW | R_LVT, NULL, NULL },
	[APIC_LVTPC >> 4]    = { RW | R_LVT, NULL, NULL },
	[APIC_LVT0 >> 4]     = { RW | R_LVT, NULL, NULL },
	[APIC_LVT1 >> 4]     = { RW | R_LVT, NULL, NULL },
	[APIC_LVTERR >> 4]   = { RW | R_LVT, NULL, NULL },
	[APIC_TMICT >> 4]    = { RW, write_tmict, NULL },
	[APIC_TMCCT >> 4]    = { RO, NULL, read_tmcct },
	[APIC_TDCR >> 4]     = { RW, write_tdcr, NULL },
	[APIC_SELF_IPI >> 4] = { R_WRITE | R_X2 | R_X2_ONLY, write_self_ipi, NULL },
};

static const struct lapic_reg *reg_desc(unsigned off)
{
	if (off >= LAPIC_REGS_SIZE || (off & 0xf))
		return NULL;
	const struct lapic_reg *d = &lapic_regs[off >> 4];
	return d->flags ? d : NULL;
}

/* The registers of the xAPIC MMIO window. */
static const struct lapic_reg *xapic_desc(unsigned off)
{
	const struct lapic_reg *d = reg_desc(off);
	return d && !(d->flags & R_X2_ONLY) ? d : NULL;
}

/* A readable register's value (0 for anything else). */
static uint32_t reg_read(const struct lapic *l, unsigned off, int64_t now)
{
	const struct lapic_reg *d = x2apic_mode(l) ? reg_desc(off) : xapic_desc(off);
	if (!d || !(d->flags & R_READ))
		return 0;
	return d->read ? d->read(l, now) : reg(l, off);
}

static void reg_write(struct lapic *l, unsigned off, uint32_t v)
{
	const struct lapic_reg *d = x2apic_mode(l) ? reg_desc(off) : xapic_desc(off);
	if (!d || !(d->flags & R_WRITE))
		return;
	if (d->flags & R_LVT)
		write_lvt(l, v, off);
	else
		d->write(l, v);
}

/* ---- xAPIC MMIO ---------------------------------------------------------- */

static uint64_t mmio_base(const struct lapic *l)
{
	unsigned bits = l->ic->p.phys_addr_bits;
	return l->base_msr & ~0xfffULL & ((1ULL << bits) - 1);
}

bool lapic_mmio(struct lapic *l, uint64_t gpa, void *data, unsigned len,
		bool is_write)
{
	uint64_t base = mmio_base(l);
	if (!lapic_hw_enabled(l) || gpa < base || gpa - base >= IRQCHIP_LAPIC_SIZE)
		return false;
	unsigned off = gpa - base, sub = off & 0xf;

	if (x2apic_mode(l)) {           /* the window is gone in x2APIC mode */
		if (!is_write)
			memset(data, 0xff, len);
		return true;
	}
	if (is_write) {
		uint32_t v;
		if (len != 4 || sub)
			return true;    /* ignored, as on hardware */
		memcpy(&v, data, 4);
		reg_write(l, off, v);
		return true;
	}
	memset(data, 0, len);
	if (sub + len <= 4) {
		uint32_t v = reg_read(l, off & ~0xfu, ic_now(l->ic)) >> (sub * 8);
		memcpy(data, &v, len);
	}
	return true;
}

/* ---- MSRs ---------------------------------------------------------------- */

enum apic_mode { MODE_DISABLED, MODE_INVALID, MODE_XAPIC, MODE_X2APIC };

static enum apic_mode base_mode(uint64_t base)
{
	return (enum apic_mode)(((base & APICBASE_EN) ? 2 : 0) |
				((base & APICBASE_EXTD) ? 1 : 0));
}

static int write_apic_base(struct lapic *l, uint64_t v, bool host)
{
	uint64_t reserved = 0x2ffULL | (~0ULL << l->ic->p.phys_addr_bits);
	enum apic_mode old = base_mode(l->base_msr), new = base_mode(v);

	if (new == MODE_INVALID)
		return IRQCHIP_MSR_GP;
	if (!host && ((v & reserved) ||
		      (old == MODE_X2APIC && new == MODE_XAPIC) ||
		      (old == MODE_DISABLED && new == MODE_X2APIC)))
		return IRQCHIP_MSR_GP;

	if (old != MODE_DISABLED && new == MODE_DISABLED) {
		l->base_msr = v & ~reserved;
		lapic_reset(l, true);   /* like power-up, keeping the ID */
		return IRQCHIP_MSR_OK;
	}
	l->base_msr = v & ~reserved;
	if (old != MODE_X2APIC && new == MODE_X2APIC)
		set_reg(l, APIC_LDR, x2apic_ldr(l->id));
	if (old == MODE_X2APIC && new != MODE_X2APIC)
		set_reg(l, APIC_LDR, 0);
	ic_mark_dirty(l->ic, l->id);
	return IRQCHIP_MSR_OK;
}

static int x2apic_read(struct lapic *l, uint32_t msr, uint64_t *val)
{
	unsigned off = (msr - MSR_X2APIC_FIRST) << 4;
	const struct lapic_reg *d = reg_desc(off);
	if (!x2apic_mode(l) || !d || !(d->flags & R_X2) || !(d->flags & R_READ))
		return IRQCHIP_MSR_GP;
	if (off == APIC_ICR)
		*val = reg(l, APIC_ICR) | (uint64_t)reg(l, APIC_ICR2) << 32;
	else
		*val = reg_read(l, off, ic_now(l->ic));
	return IRQCHIP_MSR_OK;
}

static int x2apic_write(struct lapic *l, uint32_t msr, uint64_t val)
{
	unsigned off = (msr - MSR_X2APIC_FIRST) << 4;
	const struct lapic_reg *d = reg_desc(off);
	if (!x2apic_mode(l) || !d || !(d->flags & R_X2) ||
	    !(d->flags & R_WRITE) || (d->flags & R_X2_RO))
		return IRQCHIP_MSR_GP;
	if (off == APIC_ICR) {
		set_reg(l, APIC_ICR2, (uint32_t)(val >> 32));
		set_reg(l, APIC_ICR, (uint32_t)val & ICR_WRITABLE);
		send_ipi(l, (uint32_t)val, (uint32_t)(val >> 32), true);
		return IRQCHIP_MSR_OK;
	}
	if (val >> 32)
		return IRQCHIP_MSR_GP;
	if ((off == APIC_EOI || off == APIC_ESR) && val)
		return IRQCHIP_MSR_GP;
	if (off == APIC_SELF_IPI && (val & ~0xffULL))
		return IRQCHIP_MSR_GP;
	reg_write(l, off, (uint32_t)val);
	return IRQCHIP_MSR_OK;
}

int lapic_msr_read(struct lapic *l, uint32_t msr, uint64_t *val)
{
	if (msr == MSR_IA32_APICBASE) {
		*val = l->base_msr;
		return IRQCHIP_MSR_OK;
	}
	if (msr == MSR_IA32_TSC_DEADLINE) {
		*val = timer_mode(l) == TIMER_TSC_DEADLINE ? l->tsc_deadline : 0;
		return IRQCHIP_MSR_OK;
	}
	if (msr >= MSR_X2APIC_FIRST && msr <= MSR_X2APIC_LAST)
		return x2apic_read(l, msr, val);
	return IRQCHIP_MSR_NOT_MINE;
}

int lapic_msr_write(struct lapic *l, uint32_t msr, uint64_t val, bool host)
{
	if (msr == MSR_IA32_APICBASE)
		return write_apic_base(l, val, host);
	if (msr == MSR_IA32_TSC_DEADLINE) {
		set_tsc_deadline(l, val);
		return IRQCHIP_MSR_OK;
	}
	if (msr >= MSR_X2APIC_FIRST && msr <= MSR_X2APIC_LAST)
		return x2apic_write(l, msr, val);
	return IRQCHIP_MSR_NOT_MINE;
}

/* ---- life cycle and KVM_GET/SET_LAPIC ------------------------------------ */

void lapic_reset(struct lapic *l, bool init_signal)
{
	uint32_t id_reg = init_signal ? reg(l, APIC_ID) : (uint32_t)l->id << 24;

	memset(l->regs, 0, sizeof(l->regs));
	set_reg(l, APIC_ID, id_reg);
	set_reg(l, APIC_LVR, APIC_VERSION);
	set_reg(l, APIC_DFR, 0xffffffffu);
	set_reg(l, APIC_SVR, 0xff);
	for (unsigned off = APIC_LVTT; off <= APIC_LVTERR; off += 16)
		set_reg(l, off, LVT_MASKED);
	/* The BSP's LINT0 is wired to the PIC (virtual wire mode). */
	if (l->id == 0)
		set_reg(l, APIC_LVT0, LVT_EXTINT);
	if (!init_signal) {
		l->base_msr = IRQCHIP_LAPIC_BASE | APICBASE_EN |
			      (l->id == 0 ? APICBASE_BSP : 0);
		l->sipi_pending = false;
	}
	if (x2apic_mode(l))
		set_reg(l, APIC_LDR, x2apic_ldr(l->id));
	timer_stop(l);
	l->timer_period = 0;
	l->tsc_deadline = 0;
	l->esr_pending = 0;
	l->nmi_pending = 0;
	l->init_pending = false;
	ic_mark_dirty(l->ic, l->id);
}

struct lapic *lapic_create(struct irqchip *ic, int id)
{
	struct lapic *l = calloc(1, sizeof(*l));
	if (!l)
		return NULL;
	l->ic = ic;
	l->id = id;
	l->tsc_at_ns = ic->created_ns;
	lapic_reset(l, false);
	return l;
}

void lapic_get_state(struct lapic *l, struct kvm_lapic_state *s)
{
	int64_t now = ic_now(l->ic);
	memcpy(s->regs, l->regs, sizeof(s->regs));
	uint32_t v = timer_current_count(l, now);
	memcpy(s->regs + APIC_TMCCT, &v, 4);
	v = ppr(l);
	memcpy(s->regs + APIC_PPR, &v, 4);
}

/* Reduces every register of a page from outside to values it can hold. */
static void sanitize_regs(struct lapic *l)
{
	set_reg(l, APIC_ID, reg(l, APIC_ID) & 0xff000000u);
	set_reg(l, APIC_LVR, APIC_VERSION);
	set_reg(l, APIC_TPR, reg(l, APIC_TPR) & 0xff);
	set_reg(l, APIC_APR, 0);
	set_reg(l, APIC_PPR, 0);
	set_reg(l, APIC_EOI, 0);
	set_reg(l, APIC_RRD, 0);
	if (x2apic_mode(l))
		set_reg(l, APIC_LDR, x2apic_ldr(l->id));
	else
		set_reg(l, APIC_LDR, reg(l, APIC_LDR) & 0xff000000u);
	set_reg(l, APIC_DFR, reg(l, APIC_DFR) | 0x0fffffffu);
	set_reg(l, APIC_SVR, reg(l, APIC_SVR) & SVR_WRITABLE);
	set_reg(l, APIC_ICR, reg(l, APIC_ICR) & ICR_WRITABLE);
	if (!x2apic_mode(l))
		set_reg(l, APIC_ICR2, reg(l, APIC_ICR2) & 0xff000000u);
	/* Kept unmasked even with SVR disabled: the reset BSP's LINT0 is so,
	 * and VMMs program LINT0/LINT1 this way before the guest runs. */
	for (unsigned off = APIC_LVTT; off <= APIC_LVTERR; off += 16)
		set_reg(l, off, reg(l, off) & (lvt_writable(off) | LVT_REMOTE_IRR));
	set_reg(l, APIC_TDCR, reg(l, APIC_TDCR) & 0xb);
	/* Vectors 0-15 cannot be pending or in service. */
	for (unsigned base = APIC_ISR; base <= APIC_IRR; base += 0x80)
		set_reg(l, base, reg(l, base) & 0xffff0000u);
	/* Bytes between registers and above the last one hold nothing. */
	for (unsigned off = 0; off < LAPIC_REGS_SIZE; off += 16) {
		memset(l->regs + off + 4, 0, 12);
		if (!reg_desc(off))
			set_reg(l, off, 0);
	}
}

void lapic_set_state(struct lapic *l, const struct kvm_lapic_state *s)
{
	int64_t now = ic_now(l->ic);
	memcpy(l->regs, s->regs, sizeof(l->regs));
	uint32_t tmcct = reg(l, APIC_TMCCT);
	sanitize_regs(l);
	set_reg(l, APIC_TMCCT, 0);

	if (timer_mode(l) == TIMER_TSC_DEADLINE) {
		set_reg(l, APIC_TMICT, 0);
		if (l->tsc_deadline)
			timer_arm(l, tsc_to_ns(l, l->tsc_deadline));
		else
			timer_stop(l);
	} else {
		uint32_t tmict = reg(l, APIC_TMICT);
		if (tmcct == 0 && timer_mode(l) == TIMER_PERIODIC)
			tmcct = tmict;
		if (tmcct == 0)
			timer_stop(l);
		else
			timer_start(l, tmict, tmcct > tmict ? tmict : tmcct, now);
	}
	ic_mark_dirty(l->ic, l->id);
}
