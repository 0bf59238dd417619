/*
 * Inside the irqchip: the state of each device and the calls between them.
 * Everything here runs with the irqchip's lock held (ic_lock/ic_unlock),
 * except where a comment says otherwise.
 */
#ifndef RUNVM_IRQCHIP_INTERNAL_H
#define RUNVM_IRQCHIP_INTERNAL_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "irqchip.h"

#define NSEC_PER_SEC 1000000000LL

/* ---- delivery: one interrupt message on the APIC bus ---------------------- */

enum apic_dm {                  /* delivery modes (ICR, redirection entry, MSI) */
	APIC_DM_FIXED = 0,
	APIC_DM_LOWEST = 1,
	APIC_DM_SMI = 2,
	APIC_DM_NMI = 4,
	APIC_DM_INIT = 5,
	APIC_DM_STARTUP = 6,
	APIC_DM_EXTINT = 7,
};

enum apic_shorthand {
	APIC_DEST_NONE = 0,
	APIC_DEST_SELF = 1,
	APIC_DEST_ALL = 2,
	APIC_DEST_OTHERS = 3,
};

struct apic_msg {
	uint8_t vector;
	uint8_t dm;                     /* enum apic_dm */
	bool logical;                   /* destination mode */
	bool level_trig;                /* trigger mode: level */
	bool assert;                    /* level bit (INIT de-assert when clear) */
	bool lowest;                    /* deliver to one target (MSI hint) */
	bool dest32;                    /* 32-bit x2APIC destination format */
	uint8_t shorthand;              /* enum apic_shorthand */
	int src;                        /* sending vCPU for shorthands, or -1 */
	uint32_t dest;
};

/* ---- local APIC (lapic.c) ------------------------------------------------ */

#define LAPIC_REGS_SIZE 1024

struct lapic {
	struct irqchip *ic;
	int id;                         /* vCPU id = initial APIC ID */
	uint8_t regs[LAPIC_REGS_SIZE];  /* the xAPIC register page */
	uint64_t base_msr;              /* IA32_APIC_BASE */

	int64_t timer_deadline;         /* next expiry (ns), INT64_MAX: stopped */
	int64_t timer_start;            /* when the current count was loaded */
	int64_t timer_period;           /* ns per full count (one-shot too) */
	uint64_t tsc_deadline;          /* IA32_TSC_DEADLINE */
	int64_t tsc_at_ns;              /* guest TSC = tsc_at + (t - tsc_at_ns)... */
	uint64_t tsc_at;

	uint32_t esr_pending;           /* errors since the last ESR write */
	int nmi_pending;                /* 0..2 */
	bool init_pending;
	bool sipi_pending;
	uint8_t sipi_vector;

	_Atomic uint32_t events;        /* IRQCHIP_EV_*, see irqchip.h */
	_Atomic int waiting;            /* in irqchip_vcpu_wait() */
};

struct lapic *lapic_create(struct irqchip *ic, int id);
void lapic_reset(struct lapic *l, bool init_signal);
/* Offers a message to this APIC; true if accepted. */
bool lapic_accept(struct lapic *l, const struct apic_msg *m);
/* Sends a message to every APIC it addresses; returns how many took it. */
int lapic_deliver(struct irqchip *ic, const struct apic_msg *m);
/* The highest vector the CPU could take now, or -1 (no state change). */
int lapic_pending_vector(const struct lapic *l);
int lapic_ack(struct lapic *l);
/* True when the PIC's INTR reaches this CPU (LINT0 ExtINT or APIC off). */
bool lapic_accepts_pic(const struct lapic *l);
bool lapic_hw_enabled(const struct lapic *l);
void lapic_timer_expire(struct lapic *l, int64_t now);
int lapic_msr_read(struct lapic *l, uint32_t msr, uint64_t *val);
int lapic_msr_write(struct lapic *l, uint32_t msr, uint64_t val, bool host);
bool lapic_mmio(struct lapic *l, uint64_t gpa, void *data, unsigned len,
		bool is_write);
void lapic_get_state(struct lapic *l, struct kvm_lapic_state *s);
void lapic_set_state(struct lapic *l, const struct kvm_lapic_state *s);
uint8_t lapic_get_tpr(const struct lapic *l);
void lapic_set_tpr(struct lapic *l, uint8_t tpr);

/* ---- I/O APIC (ioapic.c) ------------------------------------------------- */

struct ioapic {
	struct kvm_ioapic_state s;      /* s.irr holds the pins' line levels */
};

void ioapic_reset(struct ioapic *io);
/* Sets a pin's level; returns 1 if the pin is unmasked, else 0. */
int ioapic_set_irq(struct irqchip *ic, unsigned pin, int level);
/* A LAPIC sent EOI for a level-triggered vector. */
void ioapic_eoi(struct irqchip *ic, uint8_t vector);
void ioapic_mmio(struct irqchip *ic, uint64_t off, void *data, unsigned len,
		 bool is_write);
void ioapic_set_state(struct irqchip *ic, const struct kvm_ioapic_state *s);

/* ---- 8259 PIC pair (pic.c) ----------------------------------------------- */

struct i8259_chip {
	struct kvm_pic_state s;
	bool single;                    /* ICW1 SNGL: no ICW3 expected */
};

struct i8259 {
	struct i8259_chip chip[2];      /* master, slave */
};

void i8259_reset(struct i8259 *p);
/* irq 0-15; returns 1 if that IRQ is unmasked. */
int i8259_set_irq(struct i8259 *p, unsigned irq, int level);
/* The INTR line to the CPU. */
bool i8259_output(const struct i8259 *p);
/* The INTA cycle: the vector, IRR -> ISR. */
int i8259_intack(struct i8259 *p);
/* The vector the next INTA would return, no state change; -1 if no INTR. */
int i8259_pending_vector(const struct i8259 *p);
bool i8259_claims(uint16_t port);
void i8259_write(struct i8259 *p, uint16_t port, uint8_t val);
uint8_t i8259_read(struct i8259 *p, uint16_t port);
void i8259_get_state(const struct i8259 *p, int which, struct kvm_pic_state *s);
void i8259_set_state(struct i8259 *p, int which, const struct kvm_pic_state *s);

/* ---- 8254 PIT (pit.c) ---------------------------------------------------- */

struct i8254_channel {
	struct kvm_pit_channel_state s; /* count is the reload value, 1..0x10000 */
	bool loading;                   /* control word written, count not yet */
	bool started;                   /* counting (modes 1/5 wait for the gate) */
	bool null_count;
	int64_t paused_at;              /* gate low: time counting stopped, or -1 */
	int64_t next_irq;               /* channel 0's next rising edge, ns */
	uint64_t irq_periods;           /* periods already signalled */
};

struct i8254 {
	struct i8254_channel ch[3];
	uint32_t flags;                 /* KVM_PIT_FLAGS_* of kvm_pit_state2 */
	uint32_t create_flags;          /* KVM_PIT_SPEAKER_DUMMY */
};

void i8254_reset(struct i8254 *pit, int64_t now);
bool i8254_claims(const struct i8254 *pit, uint16_t port);
void i8254_write(struct irqchip *ic, uint16_t port, uint8_t val, int64_t now);
uint8_t i8254_read(struct irqchip *ic, uint16_t port, int64_t now);
/* Channel 0's next interrupt (ns), INT64_MAX if none; pit may be NULL. */
int64_t i8254_next_irq(const struct i8254 *pit);
/* Signals channel 0's expired periods; returns its next event or INT64_MAX. */
int64_t i8254_run_timer(struct irqchip *ic, int64_t now);
void i8254_get_state(struct i8254 *pit, struct kvm_pit_state2 *s, int64_t now);
void i8254_set_state(struct irqchip *ic, const struct kvm_pit_state2 *s,
		     int64_t now);

/* ---- the irqchip (irqchip.c, timer.c) ------------------------------------ */

enum irq_source {               /* who drives a GSI; a line is the OR of them */
	IRQ_SRC_USER = 0,
	IRQ_SRC_PIT = 1,
};

struct irqchip {
	pthread_mutex_t lock;
	struct irqchip_params p;
	int64_t created_ns;

	struct lapic *lapic[IRQCHIP_MAX_VCPUS];
	struct ioapic ioapic;
	struct i8259 pic;
	struct i8254 *pit;

	struct kvm_irq_routing_entry *routes;
	unsigned nr_routes;
	uint8_t gsi_level[IRQCHIP_MAX_ROUTES];  /* bit per enum irq_source */

	unsigned lowest_next;           /* round-robin start, lowest priority */
	uint32_t device_raises;         /* lines raised and MSIs sent by the VMM */
	uint64_t dirty;                 /* vCPUs whose event word is stale */
	uint64_t kicked;                /* vCPUs to kick at unlock */
	bool timer_rearmed;             /* wake the timer thread at unlock */

	pthread_t timer_thread;
	bool has_timer_thread;
	bool stopping;
	_Atomic uint32_t timer_gen;     /* futex: bumped when a deadline moves up */
	int64_t timer_sleep_until;      /* what the timer thread waits for */
};

void ic_lock(struct irqchip *ic);
/* Recomputes stale event words, unlocks, then wakes vCPUs and the timer. */
void ic_unlock(struct irqchip *ic);
int64_t ic_now(struct irqchip *ic);
static inline void ic_mark_dirty(struct irqchip *ic, int cpu)
{
	ic->dirty |= 1ULL << cpu;
}
static inline void ic_mark_all_dirty(struct irqchip *ic)
{
	ic->dirty = ~0ULL;
}
/* A timer's deadline became `deadline`: make sure the timer thread knows. */
void ic_timer_armed(struct irqchip *ic, int64_t deadline);
/* The PIT's channel 0 output rose: a pulse on GSI 0 from the PIT source. */
void ic_pit_pulse(struct irqchip *ic);
/* Where LAPIC EOIs and PIC changes go. */
struct lapic *ic_lapic(struct irqchip *ic, int cpu);

/* Fires expired timers; returns the next deadline (irqchip_run_timers). */
int64_t irqchip_run_timers_locked(struct irqchip *ic, int64_t now);

/* timer.c */
int timer_thread_start(struct irqchip *ic);
void timer_thread_stop(struct irqchip *ic);
int64_t clock_monotonic_ns(void);
/* futex helpers on a 32-bit word; deadline absolute CLOCK_MONOTONIC ns. */
int futex_wait_until(_Atomic uint32_t *word, uint32_t seen, int64_t deadline);
void futex_wake_all(_Atomic uint32_t *word);

/* Overflow-safe a * b / c for the clock conversions (c > 0). */
static inline int64_t muldiv64(int64_t a, int64_t b, int64_t c)
{
	__int128 r = (__int128)a * b / c;
	if (r > INT64_MAX)
		return INT64_MAX;
	if (r < INT64_MIN)
		return INT64_MIN;
	return (int64_t)r;
}

#endif
