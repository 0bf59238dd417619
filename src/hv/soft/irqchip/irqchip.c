/*
 * The irqchip as a whole: creation (KVM_CREATE_IRQCHIP, KVM_CREATE_PIT2),
 * the lock, GSI routing (KVM_IRQ_LINE, KVM_SET_GSI_ROUTING, KVM_SIGNAL_MSI),
 * saved state (KVM_GET/SET_IRQCHIP, KVM_GET/SET_PIT2) and the dispatch of
 * port and MMIO accesses to the devices.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

#define DEFAULT_PHYS_BITS 46
#define MSI_ADDR_BASE     0xfee
#define MSI_ADDR_DEST_SHIFT 12
#define MSI_ADDR_RH       (1u << 3)
#define MSI_ADDR_LOGICAL  (1u << 2)
#define MSI_DATA_DM_SHIFT 8
#define MSI_DATA_ASSERT   (1u << 14)
#define MSI_DATA_LEVEL    (1u << 15)

/* ---- the lock and the event words ---------------------------------------- */

int64_t ic_now(struct irqchip *ic)
{
	return ic->p.clock_ns ? ic->p.clock_ns(ic->p.opaque) : clock_monotonic_ns();
}

struct lapic *ic_lapic(struct irqchip *ic, int cpu)
{
	if (cpu < 0 || cpu >= ic->p.nr_vcpus)
		return NULL;
	return ic->lapic[cpu];
}

void ic_lock(struct irqchip *ic)
{
	pthread_mutex_lock(&ic->lock);
}

static uint32_t compute_events(struct irqchip *ic, const struct lapic *l)
{
	uint32_t ev = 0;
	if (lapic_pending_vector(l) >= 0 ||
	    (lapic_accepts_pic(l) && i8259_output(&ic->pic)))
		ev |= IRQCHIP_EV_INTR;
	if (l->nmi_pending)
		ev |= IRQCHIP_EV_NMI;
	if (l->init_pending)
		ev |= IRQCHIP_EV_INIT;
	if (l->sipi_pending)
		ev |= IRQCHIP_EV_SIPI;
	return ev;
}

/* Refreshes stale event words; returns the vCPUs that gained an event. */
static uint64_t refresh_events(struct irqchip *ic)
{
	uint64_t todo = (ic->dirty | ic->kicked), gained = 0;
	for (; todo; todo &= todo - 1) {
		int cpu = __builtin_ctzll(todo);
		struct lapic *l = ic_lapic(ic, cpu);
		if (!l)
			continue;
		uint32_t old = atomic_load(&l->events);
		uint32_t kick = (old & IRQCHIP_EV_KICK) |
				((ic->kicked >> cpu) & 1 ? IRQCHIP_EV_KICK : 0);
		uint32_t ev = compute_events(ic, l) | kick;
		if (ev != old)
			atomic_store(&l->events, ev);
		if (ev & ~old)
			gained |= 1ULL << cpu;
	}
	ic->dirty = 0;
	ic->kicked = 0;
	return gained;
}

void ic_unlock(struct irqchip *ic)
{
	uint64_t gained = refresh_events(ic);
	bool rearm = ic->timer_rearmed;
	ic->timer_rearmed = false;
	pthread_mutex_unlock(&ic->lock);

	if (rearm) {
		atomic_fetch_add(&ic->timer_gen, 1);
		futex_wake_all(&ic->timer_gen);
	}
	for (; gained; gained &= gained - 1) {
		int cpu = __builtin_ctzll(gained);
		struct lapic *l = ic->lapic[cpu];
		if (ic->p.wake)
			ic->p.wake(ic->p.opaque, cpu);
		if (atomic_load(&l->waiting))
			futex_wake_all(&l->events);
	}
}

/* ---- routing ------------------------------------------------------------- */

static void add_route(struct kvm_irq_routing_entry *e, uint32_t gsi,
		      uint32_t chip, uint32_t pin)
{
	memset(e, 0, sizeof(*e));
	e->gsi = gsi;
	e->type = KVM_IRQ_ROUTING_IRQCHIP;
	e->u.irqchip.irqchip = chip;
	e->u.irqchip.pin = pin;
}

/* KVM's default: GSI 0-15 to the PIC and the I/O APIC, 16-23 to the I/O
 * APIC. GSI 2 stays off the PIC: its IRQ 2 input is the slave's output. */
static int default_routes(struct irqchip *ic)
{
	struct kvm_irq_routing_entry *r = calloc(40, sizeof(*r));
	unsigned n = 0;
	if (!r)
		return -ENOMEM;
	for (uint32_t gsi = 0; gsi < IRQCHIP_NR_GSIS; gsi++) {
		if (gsi < 16 && gsi != 2)
			add_route(&r[n++], gsi, gsi < 8 ? KVM_IRQCHIP_PIC_MASTER
						       : KVM_IRQCHIP_PIC_SLAVE, gsi & 7);
		add_route(&r[n++], gsi, KVM_IRQCHIP_IOAPIC, gsi);
	}
	free(ic->routes);
	ic->routes = r;
	ic->nr_routes = n;
	return 0;
}

static bool route_valid(const struct kvm_irq_routing_entry *e)
{
	if (e->gsi >= IRQCHIP_MAX_ROUTES || e->flags)
		return false;
	switch (e->type) {
	case KVM_IRQ_ROUTING_IRQCHIP:
		if (e->u.irqchip.irqchip == KVM_IRQCHIP_IOAPIC)
			return e->u.irqchip.pin < KVM_IOAPIC_NUM_PINS;
		return e->u.irqchip.irqchip <= KVM_IRQCHIP_PIC_SLAVE &&
		       e->u.irqchip.pin < 8;
	case KVM_IRQ_ROUTING_MSI:
		return true;
	}
	return false;
}

int irqchip_set_gsi_routing(struct irqchip *ic, const struct kvm_irq_routing *r)
{
	if (!r || r->flags || r->nr > IRQCHIP_MAX_ROUTES)
		return -EINVAL;
	for (uint32_t i = 0; i < r->nr; i++)
		if (!route_valid(&r->entries[i]))
			return -EINVAL;
	struct kvm_irq_routing_entry *copy = calloc(r->nr ? r->nr : 1, sizeof(*copy));
	if (!copy)
		return -ENOMEM;
	memcpy(copy, r->entries, r->nr * sizeof(*copy));
	ic_lock(ic);
	free(ic->routes);
	ic->routes = copy;
	ic->nr_routes = r->nr;
	ic_unlock(ic);
	return 0;
}

/* ---- MSI ----------------------------------------------------------------- */

/* An MSI write decoded into an APIC bus message; false if not to the APICs. */
static bool msi_to_msg(uint32_t addr_lo, uint32_t addr_hi, uint32_t data,
		       struct apic_msg *m)
{
	if (addr_hi || (addr_lo >> 20) != MSI_ADDR_BASE)
		return false;
	memset(m, 0, sizeof(*m));
	m->vector = data & 0xff;
	m->dm = (data >> MSI_DATA_DM_SHIFT) & 7;
	m->assert = data & MSI_DATA_ASSERT;
	m->level_trig = data & MSI_DATA_LEVEL;
	m->logical = addr_lo & MSI_ADDR_LOGICAL;
	/* The redirection hint with logical mode: one CPU of the set. */
	m->lowest = (addr_lo & MSI_ADDR_RH) && m->logical;
	m->dest = (addr_lo >> MSI_ADDR_DEST_SHIFT) & 0xff;
	m->src = -1;
	return true;
}

static int deliver_msi(struct irqchip *ic, uint32_t lo, uint32_t hi, uint32_t data)
{
	struct apic_msg m;
	if (!msi_to_msg(lo, hi, data, &m))
		return 0;
	return lapic_deliver(ic, &m) > 0;
}

int irqchip_signal_msi(struct irqchip *ic, const struct kvm_msi *msi)
{
	if (!msi || msi->flags & ~KVM_MSI_VALID_DEVID)
		return -EINVAL;
	ic_lock(ic);
	__atomic_fetch_add(&ic->device_raises, 1, __ATOMIC_RELEASE);
	int r = deliver_msi(ic, msi->address_lo, msi->address_hi, msi->data);
	ic_unlock(ic);
	return r;
}

/* ---- GSI lines ----------------------------------------------------------- */

static int route_line(struct irqchip *ic, const struct kvm_irq_routing_entry *e,
		      int level)
{
	if (e->type == KVM_IRQ_ROUTING_MSI)
		return level ? deliver_msi(ic, e->u.msi.address_lo,
					   e->u.msi.address_hi, e->u.msi.data) : 0;
	unsigned chip = e->u.irqchip.irqchip, pin = e->u.irqchip.pin;
	if (chip == KVM_IRQCHIP_IOAPIC)
		return ioapic_set_irq(ic, pin, level);
	ic_mark_all_dirty(ic);          /* the PIC's INTR may have changed */
	return i8259_set_irq(&ic->pic, chip * 8 + pin, level);
}

/* One source's level for a GSI; the line is the OR of all sources. */
static int set_gsi(struct irqchip *ic, uint32_t gsi, enum irq_source src,
		   int level)
{
	uint8_t bit = 1u << src;
	if (level)
		ic->gsi_level[gsi] |= bit;
	else
		ic->gsi_level[gsi] &= ~bit;
	int line = ic->gsi_level[gsi] != 0, r = 0;
	for (unsigned i = 0; i < ic->nr_routes; i++)
		if (ic->routes[i].gsi == gsi)
			r |= route_line(ic, &ic->routes[i], line);
	return r;
}

int irqchip_irq_line(struct irqchip *ic, uint32_t gsi, int level)
{
	if (gsi >= IRQCHIP_MAX_ROUTES)
		return -EINVAL;
	ic_lock(ic);
	if (level)
		__atomic_fetch_add(&ic->device_raises, 1, __ATOMIC_RELEASE);
	int r = set_gsi(ic, gsi, IRQ_SRC_USER, level != 0);
	ic_unlock(ic);
	return r;
}

uint32_t irqchip_device_raises(struct irqchip *ic)
{
	return __atomic_load_n(&ic->device_raises, __ATOMIC_ACQUIRE);
}

void ic_pit_pulse(struct irqchip *ic)
{
	set_gsi(ic, 0, IRQ_SRC_PIT, 1);
	set_gsi(ic, 0, IRQ_SRC_PIT, 0);
}

/* ---- KVM_GET/SET_IRQCHIP ------------------------------------------------- */

int irqchip_get_chip(struct irqchip *ic, struct kvm_irqchip *chip)
{
	if (!chip || chip->chip_id >= KVM_NR_IRQCHIPS)
		return -EINVAL;
	ic_lock(ic);
	memset(&chip->chip, 0, sizeof(chip->chip));
	if (chip->chip_id == KVM_IRQCHIP_IOAPIC)
		chip->chip.ioapic = ic->ioapic.s;
	else
		i8259_get_state(&ic->pic, chip->chip_id, &chip->chip.pic);
	ic_unlock(ic);
	return 0;
}

int irqchip_set_chip(struct irqchip *ic, const struct kvm_irqchip *chip)
{
	if (!chip || chip->chip_id >= KVM_NR_IRQCHIPS)
		return -EINVAL;
	ic_lock(ic);
	if (chip->chip_id == KVM_IRQCHIP_IOAPIC)
		ioapic_set_state(ic, &chip->chip.ioapic);
	else
		i8259_set_state(&ic->pic, chip->chip_id, &chip->chip.pic);
	ic_mark_all_dirty(ic);
	ic_unlock(ic);
	return 0;
}

/* ---- the PIT ------------------------------------------------------------- */

int irqchip_create_pit(struct irqchip *ic, uint32_t flags)
{
	if (flags & ~KVM_PIT_SPEAKER_DUMMY)
		return -EINVAL;
	struct i8254 *pit = calloc(1, sizeof(*pit));
	if (!pit)
		return -ENOMEM;
	ic_lock(ic);
	if (ic->pit) {
		ic_unlock(ic);
		free(pit);
		return -EEXIST;
	}
	pit->create_flags = flags;
	i8254_reset(pit, ic_now(ic));
	ic->pit = pit;
	ic_unlock(ic);
	return 0;
}

int irqchip_get_pit2(struct irqchip *ic, struct kvm_pit_state2 *s)
{
	int r = -ENXIO;
	ic_lock(ic);
	if (ic->pit && s) {
		i8254_get_state(ic->pit, s, ic_now(ic));
		r = 0;
	}
	ic_unlock(ic);
	return r;
}

int irqchip_set_pit2(struct irqchip *ic, const struct kvm_pit_state2 *s)
{
	int r = -ENXIO;
	ic_lock(ic);
	if (ic->pit && s) {
		i8254_set_state(ic, s, ic_now(ic));
		r = 0;
	}
	ic_unlock(ic);
	return r;
}

/* ---- port I/O and MMIO --------------------------------------------------- */

static bool claims_port(struct irqchip *ic, uint16_t port)
{
	return i8259_claims(port) || i8254_claims(ic->pit, port);
}

/* Ports that may be ours, decided without the lock (every PIO exit asks). */
static bool maybe_our_port(uint16_t port)
{
	return i8259_claims(port) || (port >= 0x40 && port <= 0x43) || port == 0x61;
}

static void pio_byte(struct irqchip *ic, uint16_t port, uint8_t *b,
		     bool is_write, int64_t now)
{
	if (i8259_claims(port)) {
		if (is_write)
			i8259_write(&ic->pic, port, *b);
		else
			*b = i8259_read(&ic->pic, port);
		ic_mark_all_dirty(ic);
	} else if (i8254_claims(ic->pit, port)) {
		if (is_write)
			i8254_write(ic, port, *b, now);
		else
			*b = i8254_read(ic, port, now);
	} else if (!is_write) {
		*b = 0xff;              /* nothing answers on this byte lane */
	}
}

int irqchip_pio(struct irqchip *ic, uint16_t port, void *data, unsigned len,
		int is_write)
{
	if (!data || (len != 1 && len != 2 && len != 4) || !maybe_our_port(port))
		return 0;
	ic_lock(ic);
	if (!claims_port(ic, port)) {
		ic_unlock(ic);
		return 0;
	}
	int64_t now = ic_now(ic);
	for (unsigned i = 0; i < len; i++)
		pio_byte(ic, (uint16_t)(port + i), (uint8_t *)data + i, is_write, now);
	ic_unlock(ic);
	return 1;
}

int irqchip_mmio(struct irqchip *ic, int cpu, uint64_t gpa, void *data,
		 unsigned len, int is_write)
{
	if (!data || len < 1 || len > 8)
		return 0;
	int claimed = 1;
	ic_lock(ic);
	struct lapic *l = ic_lapic(ic, cpu);
	if (l && lapic_mmio(l, gpa, data, len, is_write))
		goto out;
	if (gpa >= IRQCHIP_IOAPIC_BASE && gpa - IRQCHIP_IOAPIC_BASE < IRQCHIP_IOAPIC_SIZE)
		ioapic_mmio(ic, gpa - IRQCHIP_IOAPIC_BASE, data, len, is_write);
	else
		claimed = 0;
out:
	ic_unlock(ic);
	return claimed;
}

/* ---- timers -------------------------------------------------------------- */

int64_t irqchip_run_timers_locked(struct irqchip *ic, int64_t now)
{
	int64_t next = i8254_run_timer(ic, now);
	for (int cpu = 0; cpu < ic->p.nr_vcpus; cpu++) {
		struct lapic *l = ic->lapic[cpu];
		if (!l)
			continue;
		lapic_timer_expire(l, now);
		if (l->timer_deadline < next)
			next = l->timer_deadline;
	}
	return next;
}

int64_t irqchip_run_timers(struct irqchip *ic, int64_t now_ns)
{
	ic_lock(ic);
	int64_t next = irqchip_run_timers_locked(ic, now_ns);
	ic_unlock(ic);
	return next;
}

/* ---- life cycle ---------------------------------------------------------- */

static int check_params(struct irqchip_params *p)
{
	if (p->nr_vcpus < 1 || p->nr_vcpus > IRQCHIP_MAX_VCPUS)
		return -EINVAL;
	if (p->tsc_hz == 0)
		p->tsc_hz = NSEC_PER_SEC;
	if (p->phys_addr_bits == 0)
		p->phys_addr_bits = DEFAULT_PHYS_BITS;
	if (p->phys_addr_bits < 32 || p->phys_addr_bits > 52)
		return -EINVAL;
	return 0;
}

struct irqchip *irqchip_create(const struct irqchip_params *params)
{
	struct irqchip *ic = calloc(1, sizeof(*ic));
	int err = params ? 0 : -EINVAL;

	if (!ic) {
		errno = ENOMEM;
		return NULL;
	}
	if (!err) {
		ic->p = *params;
		err = check_params(&ic->p);
	}
	if (!err)
		err = default_routes(ic);
	if (err) {
		free(ic->routes);
		free(ic);
		errno = -err;
		return NULL;
	}
	pthread_mutex_init(&ic->lock, NULL);
	ic->created_ns = ic_now(ic);
	ic->timer_sleep_until = INT64_MIN;
	ioapic_reset(&ic->ioapic);
	i8259_reset(&ic->pic);
	if (!ic->p.no_timer_thread && (err = timer_thread_start(ic)) < 0) {
		irqchip_destroy(ic);
		errno = -err;
		return NULL;
	}
	return ic;
}

void irqchip_destroy(struct irqchip *ic)
{
	if (!ic)
		return;
	timer_thread_stop(ic);
	for (int cpu = 0; cpu < IRQCHIP_MAX_VCPUS; cpu++)
		free(ic->lapic[cpu]);
	free(ic->pit);
	free(ic->routes);
	pthread_mutex_destroy(&ic->lock);
	free(ic);
}

int irqchip_vcpu_create(struct irqchip *ic, int cpu)
{
	if (cpu < 0 || cpu >= ic->p.nr_vcpus)
		return -EINVAL;
	ic_lock(ic);
	int r = 0;
	if (ic->lapic[cpu])
		r = -EEXIST;
	else if (!(ic->lapic[cpu] = lapic_create(ic, cpu)))
		r = -ENOMEM;
	ic_unlock(ic);
	return r;
}

void irqchip_reset(struct irqchip *ic)
{
	ic_lock(ic);
	int64_t now = ic_now(ic);
	memset(ic->gsi_level, 0, sizeof(ic->gsi_level));
	ioapic_reset(&ic->ioapic);
	i8259_reset(&ic->pic);
	if (ic->pit)
		i8254_reset(ic->pit, now);
	for (int cpu = 0; cpu < IRQCHIP_MAX_VCPUS; cpu++)
		if (ic->lapic[cpu])
			lapic_reset(ic->lapic[cpu], false);
	ic_mark_all_dirty(ic);
	ic_unlock(ic);
}
