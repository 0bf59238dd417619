/*
 * IPIs to CPUs that do not exist: fixed, lowest-priority, NMI, INIT and
 * SIPI to every APIC ID above the last vCPU, physical and logical, plus
 * broadcasts of fixed IPIs and self-IPIs with illegal vectors. runvm must
 * drop what has no target and go on.
 */
#include "apic.h"
#include "hostile.h"
#include "seg.h"
#include "trap.h"

const char guest_name[] = "ipi_absent";

#define IPI_VECTOR 0x40

static void eoi_handler(struct trap_frame *f)
{
	(void)f;
	lapic_eoi();
}

static void count_nmi(struct trap_frame *f)
{
	(void)f;
}

/* Sends and waits (boundedly) for the ICR to be idle again. */
static void send(unsigned dest, uint32_t icr)
{
	lapic_write(LAPIC_ICR_HI, dest << 24);
	lapic_write(LAPIC_ICR_LO, icr);
	for (int i = 0; i < 1000 && (lapic_read(LAPIC_ICR_LO) & ICR_PENDING); i++)
		pause();
}

void guest_main(void)
{
	idt_init(SEL_CODE64);
	trap_set_handler(IPI_VECTOR, eoi_handler);
	trap_set_handler(2, count_nmi);
	lapic_enable();
	unsigned ncpus = fwcfg_present() ? fwcfg_cpu_count() : 1;
	unsigned self = lapic_id();

	test_start("ipis to absent cpus");
	static const uint32_t kinds[] = {
		IPI_VECTOR,                             /* fixed */
		(1u << 8) | IPI_VECTOR,                 /* lowest priority */
		4u << 8,                                /* NMI */
		ICR_INIT | ICR_ASSERT,
		ICR_STARTUP | 0x10,
	};
	for (unsigned dest = ncpus; dest < 255; dest += 1 + rnd_below(8))
		for (unsigned k = 0; k < ARRAY_SIZE(kinds); k++)
			if (dest != self)
				send(dest, kinds[k]);
	test_end();

	test_start("logical and broadcast ipis");
	/* Logical destinations: every LDR is 0, so no CPU matches any mask. */
	for (int i = 0; i < 64; i++)
		send((unsigned)rnd() & 0xff, (1u << 11) | (rnd_below(2) ? 4u << 8 : IPI_VECTOR));
	/* Fixed IPIs to everybody: taken by this CPU (interrupts are off here). */
	send(0xff, IPI_VECTOR);
	send(0, (3u << 18) | IPI_VECTOR);       /* all excluding self */
	/* Illegal vectors 0-15: an APIC error, nothing delivered. */
	for (unsigned v = 0; v < 16; v++)
		send(0, ICR_SELF | v);
	sti();
	for (int i = 0; i < 1000; i++)
		pause();
	cli();
	expect_true("still the same cpu", lapic_id() == self);
	test_end();
}
