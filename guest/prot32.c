/*
 * 32-bit protected mode, paging off: port I/O of every width and rep
 * ins/outs, MMIO of every width (8 bytes through MMX), CPUID, MSRs,
 * segmentation (bases, limits, descriptor checks) and exceptions through
 * the guest's own IDT: #DE #DB #UD #NP #SS #GP. The handlers return
 * without IRET; prot32_int tests IRET, INT n, INT3, INTO and BOUND.
 */
#include "iotests.h"
#include "seg.h"
#include "trap.h"

const char guest_name[] = "prot32";

static struct cpu_info cpu;

PROBE(probe_rdmsr, "mov %eax, %ecx", "rdmsr")
PROBE(probe_wrmsr, "mov %eax, %ecx; mov %edx, %eax; xor %edx, %edx", "wrmsr")
PROBE(probe_write_cr4, "", "mov %eax, %cr4")

static void msr_roundtrip(const char *what, uint32_t msr, uint64_t v)
{
	uint64_t saved = rdmsr(msr);
	wrmsr(msr, v);
	expect_eq(what, rdmsr(msr), v);
	wrmsr(msr, saved);
}

static void test_msr(void)
{
	test_start("msr");
	uint64_t base = rdmsr(MSR_APIC_BASE);
	expect_eq("APIC_BASE address", base & ~0xfffull, LAPIC_BASE);
	expect_eq("APIC_BASE BSP|enabled", base & 0x900, 0x900);
	msr_roundtrip("SYSENTER_CS", MSR_SYSENTER_CS, 0x1234);
	msr_roundtrip("SYSENTER_ESP", MSR_SYSENTER_ESP, 0x87654320);
	msr_roundtrip("SYSENTER_EIP", MSR_SYSENTER_EIP, 0x12345678);
	msr_roundtrip("PAT", MSR_PAT, 0x0007010600070106ull);
	expect_eq("EFER.LME|LMA clear", rdmsr(MSR_EFER) & (EFER_LME | EFER_LMA), 0);
	uint64_t t0 = rdtsc(), t1 = rdmsr(MSR_TSC), t2 = rdtsc();
	expect_true("TSC MSR between two RDTSCs", t0 <= t1 && t1 <= t2);
	test_end();

	test_start("msr/cr4 #GP");
	exc_clear();
	probe_wrmsr(0xdeadbeef, 0, 0);
	expect_exception("wrmsr to a missing MSR", 13, 0, (uintptr_t)probe_wrmsr_ip);
	exc_clear();
	probe_rdmsr(0xdeadbeef, 0, 0);
	expect_exception("rdmsr of a missing MSR", 13, 0, (uintptr_t)probe_rdmsr_ip);
	exc_clear();
	probe_write_cr4(read_cr4() | (1u << 31), 0, 0);
	expect_exception("reserved CR4 bit", 13, 0, (uintptr_t)probe_write_cr4_ip);
	exc_clear();
	probe_write_cr4(read_cr4() | CR4_PAE, 0, 0);
	expect_eq("CR4.PAE without paging is allowed", exc.count, 0);
	expect_eq("CR4.PAE set", read_cr4() & CR4_PAE, CR4_PAE);
	write_cr4(read_cr4() & ~CR4_PAE);
	test_end();
}

/* ---------------- segmentation ---------------- */

PROBE(probe_load_ds, "mov %ds, %ecx", "mov %eax, %ds\nmov %ecx, %ds")
PROBE(probe_load_ss, "mov %ss, %ecx", "mov %eax, %ss\nmov %ecx, %ss")
/* Reads es:[edx] with ES = the selector in eax. */
PROBE(probe_read_es, "mov %eax, %es", "mov %es:(%edx), %eax\nmov $0x10, %ecx\nmov %ecx, %es")

static void test_segments(void)
{
	test_start("segment base and limit");
	static volatile uint32_t target = 0x5eed1234;
	uint32_t off = (uint32_t)(uintptr_t)&target - 0x100000;
	exc_clear();
	expect_eq("read through base 1 MiB", probe_read_es(SEL_DATA_1M, off, 0), 0x5eed1234);
	expect_eq("16-bit data, offset 0xfffc", probe_read_es(SEL_DATA16, 0xfffc, 0),
		  *(volatile uint32_t *)0xfffc);
	expect_eq("no exception", exc.count, 0);
	exc_clear();
	probe_read_es(SEL_DATA16, 0xfffe, 0);
	/* The dword at 0xfffe ends past the 64 KiB limit. */
	expect_exception("read past the limit", 13, 0, (uintptr_t)probe_read_es_ip);
	asm volatile("mov %0, %%es" :: "r"(SEL_DATA));
	test_end();

	test_start("segment loads");
	exc_clear();
	probe_load_ds(GDT_LIMIT + 1, 0, 0);
	expect_exception("selector past the GDT limit", 13, GDT_LIMIT + 1, (uintptr_t)probe_load_ds_ip);
	asm volatile("lldt %w0" :: "r"(0));
	exc_clear();
	probe_load_ds(SEL_DATA | 4, 0, 0);
	expect_exception("LDT selector, null LDTR", 13, SEL_DATA | 4, (uintptr_t)probe_load_ds_ip);
	exc_clear();
	probe_load_ds(SEL_EXEC_ONLY, 0, 0);
	expect_exception("execute-only code into DS", 13, SEL_EXEC_ONLY, (uintptr_t)probe_load_ds_ip);
	exc_clear();
	probe_load_ds(SEL_NOT_PRESENT, 0, 0);
	expect_exception("not-present data into DS", 11, SEL_NOT_PRESENT, (uintptr_t)probe_load_ds_ip);
	exc_clear();
	probe_load_ss(SEL_NOT_PRESENT, 0, 0);
	expect_exception("not-present data into SS", 12, SEL_NOT_PRESENT, (uintptr_t)probe_load_ss_ip);
	exc_clear();
	probe_load_ss(SEL_CODE32, 0, 0);
	expect_exception("code into SS", 13, SEL_CODE32, (uintptr_t)probe_load_ss_ip);
	exc_clear();
	probe_load_ss(0, 0, 0);
	expect_exception("null selector into SS", 13, 0, (uintptr_t)probe_load_ss_ip);
	exc_clear();
	probe_load_ds(0, 0, 0);
	expect_eq("null selector into DS is allowed", exc.count, 0);
	test_end();
}

/* ---------------- exceptions ---------------- */

PROBE(probe_ud2, "", "ud2")
PROBE(probe_div, "xor %edx, %edx", "div %ecx")
PROBE(probe_idiv, "cltd", "idiv %ecx")
PROBE(probe_single_step, "pushf; orl $0x100, (%esp); popf", "nop\nnop")

static void db_handler(struct trap_frame *f)
{
	f->flags &= ~0x100u;
}

static void test_exceptions(void)
{
	test_start("#UD");
	exc_clear();
	probe_ud2(0, 0, 0);
	expect_exception("ud2", 6, 0, (uintptr_t)probe_ud2_ip);
	test_end();

	test_start("#DE");
	exc_clear();
	expect_eq("100 / 7", probe_div(100, 0, 7), 14);
	probe_div(100, 0, 0);
	expect_exception("div by 0", 0, 0, (uintptr_t)probe_div_ip);
	exc_clear();
	probe_idiv(0x80000000u, 0, (uintptr_t)-1);
	expect_exception("idiv overflow", 0, 0, (uintptr_t)probe_idiv_ip);
	test_end();

	test_start("#DB single-step");
	exc_clear();
	probe_single_step(0, 0, 0);
	expect_exception("trap after one instruction", 1, NO_ERROR, (uintptr_t)probe_single_step_ip + 1);
	test_end();
}

static void test_cmpxchg8b(void)
{
	test_start("cmpxchg8b");
	static volatile uint64_t m = 0x1111111122222222ull;
	uint32_t lo = 0x22222222, hi = 0x11111111;
	uint8_t ok;
	asm volatile("lock cmpxchg8b %1; sete %0" : "=q"(ok), "+m"(m), "+a"(lo), "+d"(hi)
		     : "b"(0x44444444), "c"(0x33333333) : "cc");
	expect_eq("equal: stored", m, 0x3333333344444444ull);
	expect_eq("equal: ZF", ok, 1);
	lo = hi = 0;
	asm volatile("lock cmpxchg8b %1; sete %0" : "=q"(ok), "+m"(m), "+a"(lo), "+d"(hi)
		     : "b"(0), "c"(0) : "cc");
	expect_eq("different: edx:eax loaded", (uint64_t)hi << 32 | lo, 0x3333333344444444ull);
	expect_eq("different: ZF", ok, 0);
	test_end();
}

void guest_main(void)
{
	idt_init(SEL_CODE32);
	trap_set_handler(1, db_handler);
	/* MMX for the 8-byte MMIO accesses: no emulation, no task switch. */
	write_cr0((read_cr0() & ~0xcu) | 0x2u);
	asm volatile("fninit");

	test_cpuid(&cpu);
	test_pio_widths();
	test_pio_string();
	test_mmio_widths();
	test_mmio_string();
	test_mmio_rmw();
	test_msr();
	test_segments();
	test_exceptions();
	test_cmpxchg8b();
}
