/*
 * Long mode (64-bit, CPL 0): port I/O of every width and rep ins/outs,
 * MMIO of every width to the testdev window, CPUID, MSRs, control
 * registers, and exceptions through the guest's own IDT: #UD, #DE, #GP,
 * #NP and #PF with error codes and CR2 on the guest's own page tables;
 * and the platform's CMOS, fw_cfg and ACPI PM timer.
 */
#include "paging64.h"
#include "seg.h"
#include "iotests.h"
#include "trap.h"

const char guest_name[] = "long64";

static struct cpu_info cpu;

/* ---------------- MSRs and control registers ---------------- */

PROBE(probe_rdmsr, "mov " PROBE_A ", %rcx", "rdmsr")
PROBE(probe_wrmsr, "mov " PROBE_A ", %rcx; mov " PROBE_B ", %rax; mov " PROBE_B ", %rdx; shr $32, %rdx", "wrmsr")
PROBE(probe_write_cr4, "", "mov " PROBE_A ", %cr4")
PROBE(probe_write_cr0, "", "mov " PROBE_A ", %cr0")

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
	uint64_t efer = rdmsr(MSR_EFER);
	expect_eq("EFER.LME|LMA", efer & (EFER_LME | EFER_LMA), EFER_LME | EFER_LMA);
	wrmsr(MSR_EFER, efer ^ EFER_SCE);
	expect_eq("EFER.SCE toggled", rdmsr(MSR_EFER), efer ^ EFER_SCE);
	wrmsr(MSR_EFER, efer);

	uint64_t base = rdmsr(MSR_APIC_BASE);
	expect_eq("APIC_BASE address", base & ~0xfffull, LAPIC_BASE);
	expect_eq("APIC_BASE BSP|enabled", base & 0x900, 0x900);

	msr_roundtrip("STAR", MSR_STAR, 0x0023001000080000ull);
	msr_roundtrip("LSTAR", MSR_LSTAR, 0xffffffff81234560ull);
	msr_roundtrip("CSTAR", MSR_CSTAR, 0x00007fff12345678ull);
	msr_roundtrip("SFMASK", MSR_SFMASK, 0x47700);
	msr_roundtrip("SYSENTER_CS", MSR_SYSENTER_CS, 0x1234);
	msr_roundtrip("SYSENTER_ESP", MSR_SYSENTER_ESP, 0xffff800012345000ull);
	msr_roundtrip("SYSENTER_EIP", MSR_SYSENTER_EIP, 0xffff800087654000ull);
	msr_roundtrip("PAT", MSR_PAT, 0x0007010600070106ull);
	msr_roundtrip("KERNEL_GS_BASE", MSR_KERNEL_GS_BASE, 0xffff888000001000ull);

	uint64_t t0 = rdtsc(), t1 = rdmsr(MSR_TSC), t2 = rdtsc();
	expect_true("TSC MSR between two RDTSCs", t0 <= t1 && t1 <= t2);
	if (cpu.rdtscp) {
		uint32_t aux;
		wrmsr(MSR_TSC_AUX, 0x5a5);
		asm volatile("rdtscp" : "=c"(aux) :: "rax", "rdx");
		expect_eq("RDTSCP ecx = TSC_AUX", aux, 0x5a5);
	}
	test_end();

	test_start("msr #GP");
	exc_clear();
	probe_wrmsr(0xdeadbeef, 0, 0);
	expect_exception("wrmsr to a missing MSR", 13, 0, (uintptr_t)probe_wrmsr_ip);
	exc_clear();
	probe_rdmsr(0xdeadbeef, 0, 0);
	expect_exception("rdmsr of a missing MSR", 13, 0, (uintptr_t)probe_rdmsr_ip);
	exc_clear();
	probe_wrmsr(MSR_LSTAR, 0x8000000000000000ull, 0);
	expect_exception("non-canonical LSTAR", 13, 0, (uintptr_t)probe_wrmsr_ip);
	exc_clear();
	probe_wrmsr(MSR_EFER, rdmsr(MSR_EFER) | (1ull << 63), 0);
	expect_exception("reserved EFER bit", 13, 0, (uintptr_t)probe_wrmsr_ip);
	test_end();

	test_start("segment base MSRs");
	static volatile uint64_t fs_target = 0x1234abcd5678ef90ull, gs_target = 0x0badc0de0badc0deull;
	uint64_t v;
	wrmsr(MSR_FS_BASE, (uintptr_t)&fs_target);
	asm volatile("mov %%fs:0, %0" : "=r"(v));
	expect_eq("load through FS base", v, fs_target);
	wrmsr(MSR_GS_BASE, 0);
	wrmsr(MSR_KERNEL_GS_BASE, (uintptr_t)&gs_target);
	asm volatile("swapgs; mov %%gs:0, %0; swapgs" : "=r"(v));
	expect_eq("load through GS base after SWAPGS", v, gs_target);
	expect_eq("GS_BASE restored", rdmsr(MSR_GS_BASE), 0);
	wrmsr(MSR_FS_BASE, 0);
	test_end();
}

static void test_cr(void)
{
	test_start("control registers");
	uintptr_t cr0 = read_cr0(), cr4 = read_cr4();
	expect_eq("CR0.PE|PG", cr0 & (CR0_PE | CR0_PG), CR0_PE | CR0_PG);
	expect_eq("CR4.PAE", cr4 & CR4_PAE, CR4_PAE);
	exc_clear();
	probe_write_cr4(cr4 | (1ull << 31), 0, 0);
	expect_exception("reserved CR4 bit", 13, 0, (uintptr_t)probe_write_cr4_ip);
	exc_clear();
	probe_write_cr4(cr4 & ~(uintptr_t)CR4_PAE, 0, 0);
	expect_exception("clearing CR4.PAE in long mode", 13, 0, (uintptr_t)probe_write_cr4_ip);
	exc_clear();
	probe_write_cr0(cr0 & ~(uintptr_t)CR0_PE, 0, 0);
	expect_exception("CR0.PG without PE", 13, 0, (uintptr_t)probe_write_cr0_ip);
	expect_eq("CR0 unchanged", read_cr0(), cr0);
	expect_eq("CR4 unchanged", read_cr4(), cr4);
	test_end();
}

/* ---------------- exceptions ---------------- */

PROBE(probe_ud2, "", "ud2")
PROBE(probe_lock_nop, "", ".byte 0xf0, 0x90")
PROBE(probe_div, "mov " PROBE_A ", %rax; xor %edx, %edx", "div " PROBE_B)
PROBE(probe_idiv, "mov " PROBE_A ", %rax; cqo", "idiv " PROBE_B)
PROBE(probe_load, "", "mov (" PROBE_A "), %rax")
PROBE(probe_store, "", "movb $0x5a, (" PROBE_A ")")
PROBE(probe_fetch, "", "jmp *" PROBE_A)
PROBE(probe_load_ds, "mov %ds, %ecx", "mov %edi, %ds\nmov %ecx, %ds")
PROBE(probe_load_ss, "mov %ss, %ecx", "mov %edi, %ss\nmov %ecx, %ss")
PROBE(probe_call_page, "lea 1f(%rip), %rcx", "jmp *" PROBE_A "\n1:")
PROBE(probe_single_step, "pushf; orl $0x100, (%rsp); popf", "nop\nnop")

static void test_exceptions(void)
{
	test_start("#UD");
	exc_clear();
	probe_ud2(0, 0, 0);
	expect_exception("ud2", 6, 0, (uintptr_t)probe_ud2_ip);
	exc_clear();
	probe_lock_nop(0, 0, 0);
	expect_exception("lock nop", 6, 0, (uintptr_t)probe_lock_nop_ip);
	test_end();

	test_start("#DE");
	exc_clear();
	expect_eq("100 / 7", probe_div(100, 7, 0), 14);
	expect_eq("no exception", exc.count, 0);
	probe_div(100, 0, 0);
	expect_exception("div by 0", 0, 0, (uintptr_t)probe_div_ip);
	exc_clear();
	probe_idiv(0x8000000000000000ull, (uintptr_t)-1, 0);
	expect_exception("idiv overflow", 0, 0, (uintptr_t)probe_idiv_ip);
	test_end();

	test_start("#GP");
	exc_clear();
	probe_load(0x8000000000000000ull, 0, 0);
	expect_exception("non-canonical load", 13, 0, (uintptr_t)probe_load_ip);
	exc_clear();
	probe_load(0x0000800000000000ull, 0, 0);
	expect_exception("non-canonical load, bit 47", 13, 0, (uintptr_t)probe_load_ip);
	exc_clear();
	probe_load_ds(GDT_LIMIT + 1, 0, 0);
	expect_exception("selector past the GDT limit", 13, GDT_LIMIT + 1, (uintptr_t)probe_load_ds_ip);
	exc_clear();
	/* A null LDTR makes every LDT selector invalid. */
	asm volatile("lldt %w0" :: "r"(0));
	probe_load_ds(SEL_DATA | 4, 0, 0);
	expect_exception("LDT selector without an LDT", 13, SEL_DATA | 4, (uintptr_t)probe_load_ds_ip);
	exc_clear();
	probe_load_ss(SEL_CODE64, 0, 0);
	expect_exception("code segment into SS", 13, SEL_CODE64, (uintptr_t)probe_load_ss_ip);
	exc_clear();
	probe_load_ss(SEL_USER_DATA | 3, 0, 0);
	/* The error code holds index and TI, not the RPL. */
	expect_exception("DPL 3 data into SS at CPL 0", 13, SEL_USER_DATA, (uintptr_t)probe_load_ss_ip);
	test_end();

	test_start("#NP");
	exc_clear();
	probe_load_ds(SEL_NOT_PRESENT, 0, 0);
	expect_exception("not-present segment", 11, SEL_NOT_PRESENT, (uintptr_t)probe_load_ds_ip);
	test_end();

	test_start("#DB single-step");
	exc_clear();
	probe_single_step(0, 0, 0);
	/* TF set by POPF traps after the instruction following the POPF. */
	expect_exception("trap after one instruction", 1, NO_ERROR, (uintptr_t)probe_single_step_ip + 1);
	uintptr_t dr6;
	asm volatile("mov %%dr6, %0" : "=r"(dr6));
	expect_eq("DR6.BS", (dr6 >> 14) & 1, 1);
	expect_eq("TF cleared in the handler's frame", read_flags() & 0x100, 0);
	test_end();
}

/*
 * The #DB handler: single-stepping stops at the first trap (the frame's TF
 * is cleared), then the probe goes on normally.
 */
static void db_handler(struct trap_frame *f)
{
	f->flags &= ~0x100ull;
}

/* ---------------- paging ---------------- */

static uint8_t page_a[4096] ALIGNED(4096);
static uint8_t page_b[4096] ALIGNED(4096);
static uint8_t page_ro[4096] ALIGNED(4096);
static uint8_t page_code[4096] ALIGNED(4096);
#define ALIAS_VA   0x1ff000ul           /* last 4 KiB page of pt0 */
#define UNMAPPED   0x40000000ul         /* pdpt[1] is not present */
#define GIB_ALIAS  0x80000000ul         /* pdpt[2]: a 1 GiB page at 0 */

static void test_pf_basic(void)
{
	test_start("#PF not present");
	exc_clear();
	probe_load(UNMAPPED + 0x10, 0, 0);
	if (expect_exception("read", 14, 0, (uintptr_t)probe_load_ip))
		expect_eq("CR2", exc.cr2, UNMAPPED + 0x10);
	exc_clear();
	probe_store(UNMAPPED + 0x123, 0, 0);
	if (expect_exception("write", 14, PF_W, (uintptr_t)probe_store_ip))
		expect_eq("CR2", exc.cr2, UNMAPPED + 0x123);
	/* A not-present 4 KiB PTE (the walk fails at the last level). */
	map4k(ALIAS_VA, 0, 0);
	exc_clear();
	probe_load(ALIAS_VA + 8, 0, 0);
	if (expect_exception("read, 4K PTE", 14, 0, (uintptr_t)probe_load_ip))
		expect_eq("CR2", exc.cr2, ALIAS_VA + 8);
	test_end();

	test_start("#PF write protect");
	page_ro[0] = 1;
	map4k((uintptr_t)page_ro, (uintptr_t)page_ro, PTE_P | PTE_US);
	write_cr0(read_cr0() | CR0_WP);
	exc_clear();
	probe_store((uintptr_t)page_ro + 0x40, 0, 0);
	if (expect_exception("write, CR0.WP=1", 14, PF_P | PF_W, (uintptr_t)probe_store_ip))
		expect_eq("CR2", exc.cr2, (uintptr_t)page_ro + 0x40);
	expect_eq("read-only page unchanged", page_ro[0x40], 0);
	expect_eq("read still allowed", page_ro[0], 1);
	write_cr0(read_cr0() & ~(uintptr_t)CR0_WP);
	exc_clear();
	probe_store((uintptr_t)page_ro + 0x40, 0, 0);
	expect_eq("CR0.WP=0: supervisor write, no fault", exc.count, 0);
	expect_eq("CR0.WP=0: write done", page_ro[0x40], 0x5a);
	write_cr0(read_cr0() | CR0_WP);
	map4k((uintptr_t)page_ro, (uintptr_t)page_ro, PTE_P | PTE_RW | PTE_US);
	test_end();

	test_start("#PF reserved bit");
	if (cpu.maxphyaddr < 52) {
		map4k(ALIAS_VA, (uintptr_t)page_a | (1ull << 51), PTE_P | PTE_RW);
		exc_clear();
		probe_load(ALIAS_VA, 0, 0);
		if (expect_exception("read", 14, PF_P | PF_RSVD, (uintptr_t)probe_load_ip))
			expect_eq("CR2", exc.cr2, ALIAS_VA);
	}
	map4k(ALIAS_VA, 0, 0);
	test_end();
}

static void test_pf_nx(void)
{
	if (!cpu.nx) {
		test_skip("#PF execute", "no NX");
		return;
	}
	test_start("#PF execute");
	wrmsr(MSR_EFER, rdmsr(MSR_EFER) | EFER_NXE);
	expect_eq("EFER.NXE set", rdmsr(MSR_EFER) & EFER_NXE, EFER_NXE);
	/* A page of code returning to the probe: jmp back through %rcx. */
	page_code[0] = 0xff;                    /* jmp *%rcx */
	page_code[1] = 0xe1;
	exc_clear();
	probe_call_page((uintptr_t)page_code, 0, 0);
	expect_eq("executable page runs", exc.count, 0);

	map4k((uintptr_t)page_code, (uintptr_t)page_code, PTE_P | PTE_RW | PTE_NX);
	exc_clear();
	probe_fetch((uintptr_t)page_code, 0, 0);
	if (expect_exception("fetch from an NX page", 14, PF_P | PF_I, (uintptr_t)page_code))
		expect_eq("CR2", exc.cr2, (uintptr_t)page_code);
	exc_clear();
	probe_fetch(UNMAPPED + 0x40, 0, 0);
	if (expect_exception("fetch from a missing page", 14, PF_I, UNMAPPED + 0x40))
		expect_eq("CR2", exc.cr2, UNMAPPED + 0x40);
	map4k((uintptr_t)page_code, (uintptr_t)page_code, PTE_P | PTE_RW | PTE_US);
	test_end();
}

static void test_mappings(void)
{
	test_start("page mapping and TLB");
	page_a[0] = 0xa1;
	page_b[0] = 0xb2;
	map4k(ALIAS_VA, (uintptr_t)page_a, PTE_P | PTE_RW);
	expect_eq("alias reads page A", *(volatile uint8_t *)ALIAS_VA, 0xa1);
	volatile uint64_t *pte = pte4k(ALIAS_VA);
	expect_eq("accessed bit set by a read", *pte & (PTE_A | PTE_D), PTE_A);
	*(volatile uint8_t *)(ALIAS_VA + 1) = 0xa2;
	expect_eq("write through alias", page_a[1], 0xa2);
	expect_eq("dirty bit set by a write", *pte & (PTE_A | PTE_D), PTE_A | PTE_D);

	map4k(ALIAS_VA, (uintptr_t)page_b, PTE_P | PTE_RW);
	expect_eq("INVLPG: alias reads page B", *(volatile uint8_t *)ALIAS_VA, 0xb2);
	*pte = (uintptr_t)page_a | PTE_P | PTE_RW;
	write_cr3(read_cr3());
	expect_eq("CR3 reload: alias reads page A", *(volatile uint8_t *)ALIAS_VA, 0xa1);
	map4k(ALIAS_VA, 0, 0);

	if (cpu.gb1) {
		pdpt[2] = PTE_P | PTE_RW | PTE_PS;      /* 1 GiB page at physical 0 */
		write_cr3(read_cr3());
		expect_eq("1 GiB page alias", *(volatile uint8_t *)(GIB_ALIAS + (uintptr_t)page_b), 0xb2);
		pdpt[2] = 0;
		write_cr3(read_cr3());
	}
	test_end();
}

/* ---------------- platform devices ---------------- */

static uint8_t cmos_read(uint8_t reg)
{
	outb(0x70, reg);
	return inb(0x71);
}

static void test_platform(void)
{
	test_start("cmos, fw_cfg, pm timer");
	expect_eq("CMOS register D: valid RAM and time", cmos_read(0x0d) & 0x80, 0x80);
	uint8_t sec = cmos_read(0x00);
	if (!(cmos_read(0x0b) & 0x04))                  /* BCD */
		sec = (uint8_t)((sec >> 4) * 10 + (sec & 15));
	expect_true("CMOS seconds < 60", sec < 60);
	outb(0x70, 0x38);
	outb(0x71, 0xa5);
	expect_eq("CMOS RAM byte 0x38", cmos_read(0x38), 0xa5);
	expect_true("fw_cfg signature", fwcfg_present());
	/* The ACPI PM timer (3.58 MHz, 24 bits) at the FADT's port. */
	uint32_t t0 = inl(0x608), t1 = t0;
	for (int i = 0; i < 100 && t1 == t0; i++)
		t1 = inl(0x608);
	expect_true("PM timer advances", t1 != t0);
	expect_eq("PM timer is 24 bits", (t0 | t1) >> 24, 0);
	test_end();
}

void guest_main(void)
{
	idt_init(SEL_CODE64);
	trap_set_handler(1, db_handler);
	paging_use_own();

	test_cpuid(&cpu);
	test_pio_widths();
	test_pio_string();
	test_mmio_widths();
	test_mmio_string();
	test_mmio_rmw();
	test_msr();
	test_cr();
	test_exceptions();
	test_pf_basic();
	test_pf_nx();
	test_mappings();
	test_platform();
}
