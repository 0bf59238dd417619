/*
 * The soft hypervisor's in-kernel interrupt controllers and timer: what KVM
 * builds on KVM_CREATE_IRQCHIP (a local APIC per vCPU, the I/O APIC, the
 * 8259 PIC pair) and KVM_CREATE_PIT2 (the 8254), with the ioctls' semantics
 * as functions, so the VMM drives both hypervisors with the same code.
 *
 * Threads. Every function may be called from any thread: vCPU threads, VMM
 * device threads (KVM_IRQ_LINE), and the irqchip's own timer thread. One
 * mutex per irqchip serialises them. The per-vCPU event word (see
 * irqchip_vcpu_events) is read without the lock at instruction boundaries.
 * The wake callback is always called with the lock released.
 *
 * Time. All times are CLOCK_MONOTONIC nanoseconds (or params.clock_ns).
 * The APIC bus runs at 1 GHz as in KVM: the LAPIC timer counts one tick per
 * nanosecond before the divider. The guest TSC is a linear function of that
 * clock (irqchip_vcpu_set_tsc); it is used only for the TSC-deadline timer.
 * Unless params.no_timer_thread is set, a timer thread fires expired LAPIC
 * and PIT timers, so timer interrupts arrive while a vCPU is halted or busy.
 *
 * Return values: 0 or a positive count on success, a negative errno (as the
 * matching KVM ioctl would fail) on error. Every guest- or VMM-supplied value
 * is checked; nothing here aborts on bad input.
 *
 * Default routing is KVM's: GSI 0-15 go to the PIC (IRQ n; GSI 2 is the
 * cascade and reaches the master's IRQ 2 only through the slave) and to I/O
 * APIC pin n; GSI 16-23 go to the I/O APIC only. The PIT drives GSI 0.
 */
#ifndef RUNVM_IRQCHIP_H
#define RUNVM_IRQCHIP_H

#include <linux/kvm.h>
#include <stdatomic.h>
#include <stdint.h>

#define IRQCHIP_MAX_VCPUS   64
#define IRQCHIP_NR_GSIS     24          /* with the default routing */
#define IRQCHIP_MAX_ROUTES  1024        /* KVM_SET_GSI_ROUTING entries, GSI < this */

#define IRQCHIP_LAPIC_BASE  0xfee00000ULL  /* IA32_APIC_BASE reset value */
#define IRQCHIP_LAPIC_SIZE  0x1000ULL
#define IRQCHIP_IOAPIC_BASE 0xfec00000ULL
#define IRQCHIP_IOAPIC_SIZE 0x100ULL

#define IRQCHIP_PIT_HZ      1193182ULL

struct irqchip;

struct irqchip_params {
	int nr_vcpus;                   /* upper bound of vCPU ids + 1, <= 64 */
	uint64_t tsc_hz;                /* the guest's TSC rate; 0 means 1 GHz */
	unsigned phys_addr_bits;        /* MAXPHYADDR for IA32_APIC_BASE; 0 = 46 */
	/*
	 * Called (lock released) after the irqchip made something pending for
	 * vCPU `cpu` (interrupt, NMI, INIT, SIPI, kick), from whatever thread
	 * caused it, possibly the vCPU's own. May be NULL: the built-in
	 * irqchip_vcpu_wait() is woken in any case.
	 */
	void (*wake)(void *opaque, int cpu);
	void *opaque;
	/* The clock; NULL means CLOCK_MONOTONIC. Tests pass a fake one. */
	int64_t (*clock_ns)(void *opaque);
	/* No timer thread: the caller runs irqchip_run_timers() itself. */
	int no_timer_thread;
};

/* ---- lifetime ------------------------------------------------------------ */

/*
 * KVM_CREATE_IRQCHIP: the I/O APIC and the PIC pair, default GSI routing.
 * Returns NULL with errno set (EINVAL for bad params, ENOMEM, or the timer
 * thread's creation error).
 */
struct irqchip *irqchip_create(const struct irqchip_params *p);
/* Stops the timer thread and frees everything, LAPICs and PIT included. */
void irqchip_destroy(struct irqchip *ic);

/*
 * KVM_CREATE_PIT2 (struct kvm_pit_config.flags). With KVM_PIT_SPEAKER_DUMMY
 * the PIT also claims port 0x61 (channel 2 gate, speaker data, OUT2 and the
 * refresh toggle), as KVM does; without it port 0x61 is left to the VMM.
 * -EEXIST if a PIT exists, -EINVAL for unknown flags.
 */
int irqchip_create_pit(struct irqchip *ic, uint32_t flags);

/*
 * KVM_CREATE_VCPU: the local APIC of vCPU `cpu` (0 <= cpu < nr_vcpus), in
 * its reset state, APIC ID = cpu. vCPU 0 is the BSP: its IA32_APIC_BASE has
 * the BSP flag and its LINT0 is unmasked ExtINT, so the PIC reaches it.
 * -EINVAL for a bad id, -EEXIST if it exists.
 */
int irqchip_vcpu_create(struct irqchip *ic, int cpu);

/*
 * The MP state KVM gives a new vCPU when the irqchip is in the kernel:
 * KVM_MP_STATE_RUNNABLE for the BSP, KVM_MP_STATE_UNINITIALIZED for APs.
 */
uint32_t irqchip_vcpu_initial_mp_state(struct irqchip *ic, int cpu);

/* Power-on reset of every device and LAPIC (guest reboot). */
void irqchip_reset(struct irqchip *ic);

/* ---- VM ioctls ----------------------------------------------------------- */

/*
 * KVM_IRQ_LINE / KVM_IRQ_LINE_STATUS: sets the level of a GSI as the VMM's
 * interrupt source (the PIT is a separate source; a pin sees the OR of the
 * sources). Returns 1 if an unmasked controller input saw it, 0 if masked,
 * coalesced or unrouted (accepted and ignored, as in KVM); -EINVAL only for
 * gsi >= IRQCHIP_MAX_ROUTES.
 */
int irqchip_irq_line(struct irqchip *ic, uint32_t gsi, int level);

/* KVM_GET_IRQCHIP / KVM_SET_IRQCHIP: chip_id 0 PIC master, 1 slave, 2 I/O APIC. */
int irqchip_get_chip(struct irqchip *ic, struct kvm_irqchip *chip);
int irqchip_set_chip(struct irqchip *ic, const struct kvm_irqchip *chip);

/*
 * KVM_SIGNAL_MSI: address_lo 0xfeeXXXXX (destination ID in bits 19:12,
 * redirection hint bit 3, destination mode bit 2), data (vector 7:0,
 * delivery mode 10:8, trigger 15, level 14). Returns 1 if delivered, 0 if no
 * APIC accepted it or the address is not an APIC one (address_hi must be 0:
 * no x2APIC extended destinations), -EINVAL for flags other than
 * KVM_MSI_VALID_DEVID.
 */
int irqchip_signal_msi(struct irqchip *ic, const struct kvm_msi *msi);

/*
 * KVM_SET_GSI_ROUTING: replaces the whole table. Entry types IRQCHIP
 * (PIC master/slave pin 0-7, I/O APIC pin 0-23) and MSI. -EINVAL for a bad
 * entry (nothing changes), nr > IRQCHIP_MAX_ROUTES, or nonzero flags.
 */
int irqchip_set_gsi_routing(struct irqchip *ic, const struct kvm_irq_routing *r);

/* KVM_GET_PIT2 / KVM_SET_PIT2; -ENXIO without a PIT. */
int irqchip_get_pit2(struct irqchip *ic, struct kvm_pit_state2 *s);
int irqchip_set_pit2(struct irqchip *ic, const struct kvm_pit_state2 *s);

/* ---- vCPU ioctls --------------------------------------------------------- */

/*
 * KVM_GET_LAPIC / KVM_SET_LAPIC: the 1 KiB xAPIC register page. GET stores
 * the timer's current count at 0x390; SET restarts the timer from the
 * 0x390 value and re-evaluates pending interrupts. -ENXIO without a LAPIC.
 */
int irqchip_get_lapic(struct irqchip *ic, int cpu, struct kvm_lapic_state *s);
int irqchip_set_lapic(struct irqchip *ic, int cpu, const struct kvm_lapic_state *s);

/* KVM_NMI: makes an NMI pending for the vCPU. */
int irqchip_nmi(struct irqchip *ic, int cpu);

/* ---- the CPU side: instruction boundaries -------------------------------- */

/*
 * The per-vCPU event word. The interpreter keeps the pointer and loads it
 * (memory_order_relaxed is enough; then call the functions below, which
 * take the lock) as often as it likes: the bits are kept exact under the
 * lock, so a bit set means the event really is pending.
 *   INTR  an interrupt can be acknowledged now (needs RFLAGS.IF = 1 and no
 *         interrupt shadow on the CPU side; the bit stays set while IF = 0)
 *   NMI   an NMI is pending (irqchip_vcpu_take_nmi)
 *   INIT, SIPI  see irqchip_vcpu_accept_events
 *   KICK  irqchip_vcpu_kick() was called; cleared by irqchip_vcpu_wait()
 *         and by irqchip_vcpu_clear_kick()
 */
#define IRQCHIP_EV_INTR  (1u << 0)
#define IRQCHIP_EV_NMI   (1u << 1)
#define IRQCHIP_EV_INIT  (1u << 2)
#define IRQCHIP_EV_SIPI  (1u << 3)
#define IRQCHIP_EV_KICK  (1u << 4)

_Atomic uint32_t *irqchip_vcpu_events(struct irqchip *ic, int cpu);

/*
 * The vector the vCPU would take now (the PIC's, when it reaches this vCPU
 * through LINT0 ExtINT and has an interrupt, else the LAPIC's highest IRR
 * vector above the PPR), or -1. Does not change state.
 */
int irqchip_vcpu_pending_vector(struct irqchip *ic, int cpu);

/*
 * Acknowledges the interrupt the CPU is about to take (the INTA cycle): the
 * PIC's, or the LAPIC's highest IRR vector moved to the ISR. Returns the
 * vector, or -1 if nothing is pending any more (the CPU then takes nothing).
 */
int irqchip_vcpu_ack_interrupt(struct irqchip *ic, int cpu);

/*
 * How many times the VMM raised a line or sent an MSI: a device that wrote
 * guest memory interrupts after it, so the CPU verifies its decoded code
 * at the next interrupt it takes when this moved.
 */
uint32_t irqchip_device_raises(struct irqchip *ic);

/* Returns 1 and clears one pending NMI, or 0. */
int irqchip_vcpu_take_nmi(struct irqchip *ic, int cpu);

/*
 * The MP state machine, as KVM's kvm_apic_accept_events: call before
 * running the vCPU when INIT or SIPI is set in its event word. Updates
 * *mp_state (a KVM_MP_STATE_* value the caller owns) and returns what the
 * CPU must do, in this order:
 *   IRQCHIP_DO_INIT  INIT: put the CPU in its INIT state (the LAPIC has
 *                    already been reset, keeping its ID and base);
 *                    *mp_state becomes RUNNABLE for the BSP, else
 *                    INIT_RECEIVED.
 *   IRQCHIP_DO_SIPI  a SIPI in INIT_RECEIVED: start in real mode at
 *                    CS.selector = vector << 8, CS.base = vector << 12,
 *                    IP = 0; *mp_state becomes RUNNABLE. A SIPI in any other
 *                    state is dropped.
 * A vCPU in UNINITIALIZED or INIT_RECEIVED does not execute; it waits with
 * irqchip_vcpu_wait(IRQCHIP_EV_INIT | IRQCHIP_EV_SIPI ...).
 */
#define IRQCHIP_DO_INIT 1u
#define IRQCHIP_DO_SIPI 2u
unsigned irqchip_vcpu_accept_events(struct irqchip *ic, int cpu,
				    uint32_t *mp_state, uint8_t *sipi_vector);

/*
 * Blocks until (event word & mask) != 0, the kick bit is set, the time
 * `deadline_ns` (real CLOCK_MONOTONIC even with params.clock_ns; INT64_MAX:
 * none) passes, or a signal interrupts the wait
 * (the signal's handler must be installed without SA_RESTART). Clears the
 * kick bit. Returns the event word. For HLT pass IRQCHIP_EV_INTR only if
 * RFLAGS.IF = 1, plus NMI | INIT | SIPI.
 */
uint32_t irqchip_vcpu_wait(struct irqchip *ic, int cpu, uint32_t mask,
			   int64_t deadline_ns);
/* Wakes irqchip_vcpu_wait() and calls params.wake; safe from any thread. */
void irqchip_vcpu_kick(struct irqchip *ic, int cpu);
void irqchip_vcpu_clear_kick(struct irqchip *ic, int cpu);

/* The nearest timer deadline (ns) that concerns vCPU `cpu` (its LAPIC
 * timer, and for the BSP the PIT), or INT64_MAX. */
int64_t irqchip_vcpu_next_deadline(struct irqchip *ic, int cpu);

/* Fires every timer that expired by `now_ns`; returns the next deadline or
 * INT64_MAX. The timer thread calls this; callers without it must too. */
int64_t irqchip_run_timers(struct irqchip *ic, int64_t now_ns);

/* ---- the CPU side: registers --------------------------------------------- */

/*
 * MSRs owned by the irqchip: IA32_APIC_BASE (0x1b), IA32_TSC_DEADLINE
 * (0x6e0), x2APIC registers (0x800-0x8ff, only in x2APIC mode).
 * Returns IRQCHIP_MSR_OK, IRQCHIP_MSR_GP (the CPU raises #GP(0)) or
 * IRQCHIP_MSR_NOT_MINE (the MSR is not an irqchip MSR). `host` is set for
 * KVM_SET_MSRS / KVM_SET_SREGS writes, which skip the guest's checks.
 */
#define IRQCHIP_MSR_OK        0
#define IRQCHIP_MSR_GP        (-1)
#define IRQCHIP_MSR_NOT_MINE  1
int irqchip_msr_read(struct irqchip *ic, int cpu, uint32_t msr, uint64_t *val);
int irqchip_msr_write(struct irqchip *ic, int cpu, uint32_t msr, uint64_t val,
		      int host);

/* CR8 (MOV to/from CR8 and kvm_sregs.cr8): TPR bits 7:4. */
uint64_t irqchip_get_cr8(struct irqchip *ic, int cpu);
void irqchip_set_cr8(struct irqchip *ic, int cpu, uint64_t cr8);

/*
 * The guest TSC of vCPU `cpu` as the irqchip computes it for the
 * TSC-deadline timer: tsc(t) = tsc_at + (t - at_ns) * tsc_hz / 1e9.
 * Call when the guest TSC is set (WRMSR 0x10, KVM_SET_MSRS, TSC_ADJUST).
 * The default after create is tsc 0 at the irqchip's creation time.
 */
void irqchip_vcpu_set_tsc(struct irqchip *ic, int cpu, int64_t at_ns,
			  uint64_t tsc_at);

/*
 * Guest physical accesses that missed RAM, for vCPU `cpu` (the LAPIC window
 * is per vCPU: its own IA32_APIC_BASE). The LAPIC (xAPIC mode: 4-byte
 * accesses at 16-byte-aligned offsets; narrower reads inside a register are
 * served, other writes ignored) and the I/O APIC window (IOREGSEL at 0x00,
 * IOWIN at 0x10). `data` holds `len` bytes (1..8), little-endian. `cpu`
 * may be -1 for an access that is not a CPU's: only the I/O APIC answers.
 * Returns 1 if the irqchip claimed the access (reads filled in), 0 if the
 * address is not its (exit to userspace as usual).
 */
int irqchip_mmio(struct irqchip *ic, int cpu, uint64_t gpa, void *data,
		 unsigned len, int is_write);

/*
 * Port I/O: PIC 0x20-0x21, 0xa0-0xa1, ELCR 0x4d0-0x4d1 (always), PIT
 * 0x40-0x43 (after irqchip_create_pit), port 0x61 (only with
 * KVM_PIT_SPEAKER_DUMMY). `len` 1, 2 or 4: a wide access is split into byte
 * accesses to consecutive ports, as on the ISA bus. Returns 1 if claimed, 0
 * if the port is not the irqchip's (exit to userspace as usual).
 */
int irqchip_pio(struct irqchip *ic, uint16_t port, void *data, unsigned len,
		int is_write);

#endif
