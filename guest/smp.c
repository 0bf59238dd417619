/*
 * SMP (long mode): the BSP learns the vCPU count from fw_cfg and starts
 * every AP with INIT/SIPI/SIPI through its local APIC; each AP runs a
 * real-mode trampoline into long mode, reports its APIC ID with LOCKed
 * instructions and an IPI to the BSP; then all CPUs increment shared
 * counters with LOCK XADD, LOCK CMPXCHG and an XCHG spinlock, and the
 * totals must be exact. With one vCPU the AP part is skipped.
 */
#include "apic.h"
#include "seg.h"
#include "trap.h"

const char guest_name[] = "smp";

#define MAX_CPUS     8
#define TRAMP_BASE   0x7000
#define SIPI_VECTOR  (TRAMP_BASE >> 12)
#define REPORT_VECTOR 0x50
#define N_INCREMENTS 1000

extern char tramp_start[], tramp_end[], tramp_cr3[], tramp_stack[], tramp_entry[];

static uint8_t ap_stacks[MAX_CPUS][2048] ALIGNED(16);
static volatile uint32_t ap_started, ap_id_mask, ap_cpuid_mismatch, ap_done;
static volatile uint32_t go;
static volatile uint32_t counter_xadd, counter_cas, counter_plain, spinlock;

static void eoi_handler(struct trap_frame *f)
{
	(void)f;
	lapic_eoi();
}

/* N LOCK XADDs, N LOCK CMPXCHG loops, N increments under an XCHG lock. */
static void increments(void)
{
	for (int i = 0; i < N_INCREMENTS; i++) {
		uint32_t one = 1;
		asm volatile("lock xaddl %0, %1" : "+r"(one), "+m"(counter_xadd) :: "memory");
	}
	for (int i = 0; i < N_INCREMENTS; i++) {
		uint32_t old = counter_cas, ok;
		do {
			uint32_t new = old + 1;
			asm volatile("lock cmpxchgl %3, %1; sete %b2"
				     : "+a"(old), "+m"(counter_cas), "=q"(ok) : "r"(new) : "memory", "cc");
		} while (!(ok & 1));
	}
	for (int i = 0; i < N_INCREMENTS; i++) {
		uint32_t taken;
		do {
			taken = 1;
			asm volatile("xchgl %0, %1" : "+r"(taken), "+m"(spinlock) :: "memory");
			if (taken)
				pause();
		} while (taken);
		counter_plain = counter_plain + 1;      /* not atomic: the lock guards it */
		asm volatile("movl $0, %0" : "=m"(spinlock) :: "memory");
	}
}

static void report_to_bsp(void)
{
	lapic_send_ipi(0, ICR_ASSERT | REPORT_VECTOR);
}

/* Each AP arrives here from the trampoline, in long mode on its stack. */
void ap_main(void);
void ap_main(void)
{
	extern char gdt_desc[];
	asm volatile("lgdt %0\n"
		     "mov %1, %%ds\n mov %1, %%es\n mov %1, %%ss\n"
		     "pushq %2\n lea 1f(%%rip), %%rax\n pushq %%rax\n lretq\n1:"
		     :: "m"(*(char (*)[10])gdt_desc), "r"(SEL_DATA), "i"(SEL_CODE64) : "rax", "memory");
	idt_load();
	lapic_enable();
	unsigned id = lapic_id();
	if (cpuid(1, 0).b >> 24 != id)
		asm volatile("lock incl %0" : "+m"(ap_cpuid_mismatch));
	asm volatile("lock orl %1, %0" : "+m"(ap_id_mask) : "r"(1u << (id & 31)));
	asm volatile("lock incl %0" : "+m"(ap_started));
	report_to_bsp();

	for (long i = 0; i < 100000000 && !go; i++)
		pause();
	increments();
	asm volatile("lock incl %0" : "+m"(ap_done));
	report_to_bsp();
	for (;;)
		asm volatile("cli; hlt");
}

static int start_ap(unsigned apic_id)
{
	uint32_t before = ap_started;
	*(volatile uint64_t *)(TRAMP_BASE + (tramp_stack - tramp_start)) =
		(uintptr_t)ap_stacks[apic_id % MAX_CPUS] + sizeof(ap_stacks[0]);
	if (lapic_send_ipi(apic_id, ICR_INIT | ICR_ASSERT) ||
	    lapic_send_ipi(apic_id, ICR_STARTUP | ICR_ASSERT | SIPI_VECTOR) ||
	    lapic_send_ipi(apic_id, ICR_STARTUP | ICR_ASSERT | SIPI_VECTOR)) {
		test_fail("ICR stays busy for APIC ID %u", apic_id);
		return 0;
	}
	if (!wait_irq(&ap_started, before + 1)) {
		test_fail("AP with APIC ID %u did not start", apic_id);
		return 0;
	}
	return 1;
}

void guest_main(void)
{
	idt_init(SEL_CODE64);
	trap_set_handler(REPORT_VECTOR, eoi_handler);
	pic_init(0x20);
	lapic_enable();
	lapic_write(LAPIC_LVT_LINT0, LVT_MASKED);

	test_start("fw_cfg cpu count");
	expect_true("fw_cfg signature", fwcfg_present());
	unsigned ncpus = fwcfg_cpu_count();
	expect_true("1 to 64 cpus", ncpus >= 1 && ncpus <= 64);
	expect_eq("BSP APIC ID", lapic_id(), 0);
	expect_eq("BSP flag in APIC_BASE", (rdmsr(MSR_APIC_BASE) >> 8) & 1, 1);
	test_end();
	if (ncpus > MAX_CPUS)
		ncpus = MAX_CPUS;

	if (ncpus == 1) {
		test_skip("smp", "1 cpu");
	} else {
		test_start("ap bring-up");
		memcpy((void *)TRAMP_BASE, tramp_start, (size_t)(tramp_end - tramp_start));
		*(volatile uint64_t *)(TRAMP_BASE + (tramp_cr3 - tramp_start)) = read_cr3();
		*(volatile uint64_t *)(TRAMP_BASE + (tramp_entry - tramp_start)) = (uintptr_t)ap_main;
		unsigned started = 0;
		for (unsigned id = 1; id < ncpus; id++)
			started += (unsigned)start_ap(id);
		expect_eq("APs started", ap_started, ncpus - 1);
		expect_eq("APIC IDs reported", ap_id_mask, ((1u << ncpus) - 1) & ~1u);
		expect_eq("CPUID APIC ID matches the local APIC", ap_cpuid_mismatch, 0);
		if (test_end())
			printf("  %u cpus\n", ncpus);
		ncpus = 1 + started;
	}

	test_start("lock increments");
	go = 1;
	increments();
	if (ncpus > 1 && !wait_irq(&ap_done, ncpus - 1))
		test_fail("APs finished: %u of %u", ap_done, ncpus - 1);
	uint32_t want = ncpus * N_INCREMENTS;
	expect_eq("lock xadd total", counter_xadd, want);
	expect_eq("lock cmpxchg total", counter_cas, want);
	expect_eq("xchg spinlock total", counter_plain, want);
	test_end();
	irq_settle();
}
