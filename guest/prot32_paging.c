/*
 * Paging in 32-bit protected mode: two-level 32-bit paging with 4 KiB
 * and 4 MiB (PSE) pages, then PAE paging with 2 MiB pages and NX. #PF
 * error codes and CR2, CR0.WP, accessed and dirty bits, INVLPG and CR3
 * reloads. (The host's KVM without VT-x/AMD-V triple-faults on paging
 * outside long mode.)
 */
#include "seg.h"
#include "trap.h"

const char guest_name[] = "prot32_paging";

#define P   0x001u
#define RW  0x002u
#define A   0x020u
#define D   0x040u
#define PS  0x080u
#define NX  (1ull << 63)

#define PF_P 1u
#define PF_W 2u
#define PF_I 16u

#define ALIAS_VA  0x3ff000u             /* last 4 KiB page of pt0 */
#define UNMAPPED  0x40000000u
#define BIG_ALIAS 0x80000000u

/*
 * 32-bit tables: pd maps 0-4 MiB through pt0 (4 KiB pages), 4 MiB - 1 GiB
 * and the top 64 MiB (APICs, testdev) with 4 MiB pages; 1-2 GiB is absent.
 * PAE tables: pdpt[0] -> pae_pd0 (pae_pt0 for 0-2 MiB, then 2 MiB pages
 * up to 1 GiB), pdpt[3] -> pae_pd3 (2 MiB pages for 3-4 GiB).
 */
asm(".pushsection .data\n"
    ".balign 4096\n"
    "pd:\n"
    "  .long pt0 + 3\n"
    "  .set n, 1\n"
    "  .rept 255\n"
    "  .long (n << 22) + 0x83\n"
    "  .set n, n + 1\n"
    "  .endr\n"
    "  .fill 752, 4, 0\n"
    "  .set n, 1008\n"
    "  .rept 16\n"
    "  .long (n << 22) + 0x9b\n"             /* PCD|PWT for MMIO */
    "  .set n, n + 1\n"
    "  .endr\n"
    "pt0:\n"
    "  .set n, 0\n"
    "  .rept 1024\n"
    "  .long (n << 12) + 3\n"
    "  .set n, n + 1\n"
    "  .endr\n"
    "pae_pd0:\n"
    "  .long pae_pt0 + 3, 0\n"
    "  .set n, 1\n"
    "  .rept 511\n"
    "  .quad (n << 21) + 0x83\n"
    "  .set n, n + 1\n"
    "  .endr\n"
    "pae_pd3:\n"
    "  .set n, 0\n"
    "  .rept 512\n"
    "  .quad 0xc0000000 + (n << 21) + 0x9b\n"
    "  .set n, n + 1\n"
    "  .endr\n"
    "pae_pt0:\n"
    "  .set n, 0\n"
    "  .rept 512\n"
    "  .quad (n << 12) + 3\n"
    "  .set n, n + 1\n"
    "  .endr\n"
    ".balign 32\n"
    "pdpt:\n"
    "  .long pae_pd0 + 1, 0\n"                  /* PAE PDPTEs: P only */
    "  .quad 0, 0\n"
    "  .long pae_pd3 + 1, 0\n"
    ".popsection\n");
extern uint32_t pd[1024], pt0[1024];
extern uint64_t pae_pt0[512], pdpt[4];

static uint8_t page_a[4096] ALIGNED(4096);
static uint8_t page_b[4096] ALIGNED(4096);
static uint8_t page_code[4096] ALIGNED(4096);

PROBE(probe_load, "", "mov (%eax), %eax")
PROBE(probe_store, "", "movb $0x5a, (%eax)")
PROBE(probe_fetch, "", "jmp *%eax")

static void map4k(uintptr_t va, uint32_t phys, uint32_t flags)
{
	pt0[(va >> 12) & 1023] = (phys & ~0xfffu) | flags;
	invlpg(va);
}

static void test_paging32(void)
{
	test_start("32-bit paging");
	write_cr4(read_cr4() | CR4_PSE);
	write_cr3((uintptr_t)pd);
	write_cr0(read_cr0() | CR0_PG | CR0_WP);
	expect_eq("CR0.PG", read_cr0() & CR0_PG, CR0_PG);

	exc_clear();
	probe_load(UNMAPPED + 0x10, 0, 0);
	if (expect_exception("read of a missing 4 MiB entry", 14, 0, (uintptr_t)probe_load_ip))
		expect_eq("CR2", exc.cr2, UNMAPPED + 0x10);
	exc_clear();
	map4k(ALIAS_VA, 0, 0);
	probe_store(ALIAS_VA + 4, 0, 0);
	if (expect_exception("write to a missing PTE", 14, PF_W, (uintptr_t)probe_store_ip))
		expect_eq("CR2", exc.cr2, ALIAS_VA + 4);

	page_a[0] = 0xa1;
	page_b[0] = 0xb2;
	map4k(ALIAS_VA, (uintptr_t)page_a, P);
	expect_eq("alias reads page A", *(volatile uint8_t *)ALIAS_VA, 0xa1);
	expect_eq("accessed bit", pt0[ALIAS_VA >> 12] & (A | D), A);
	exc_clear();
	probe_store(ALIAS_VA + 1, 0, 0);
	if (expect_exception("write to a read-only page, CR0.WP=1", 14, PF_P | PF_W, (uintptr_t)probe_store_ip))
		expect_eq("CR2", exc.cr2, ALIAS_VA + 1);
	map4k(ALIAS_VA, (uintptr_t)page_a, P | RW);
	*(volatile uint8_t *)(ALIAS_VA + 1) = 0xa2;
	expect_eq("write through the alias", page_a[1], 0xa2);
	expect_eq("dirty bit", pt0[ALIAS_VA >> 12] & (A | D), A | D);
	map4k(ALIAS_VA, (uintptr_t)page_b, P | RW);
	expect_eq("INVLPG: alias reads page B", *(volatile uint8_t *)ALIAS_VA, 0xb2);
	pt0[ALIAS_VA >> 12] = (uintptr_t)page_a | P | RW;
	write_cr3(read_cr3());
	expect_eq("CR3 reload: alias reads page A", *(volatile uint8_t *)ALIAS_VA, 0xa1);

	pd[BIG_ALIAS >> 22] = P | RW | PS;      /* 4 MiB page at physical 0 */
	invlpg(BIG_ALIAS + (uintptr_t)page_b);
	expect_eq("4 MiB page alias", *(volatile uint8_t *)(BIG_ALIAS + (uintptr_t)page_b), 0xb2);
	pd[BIG_ALIAS >> 22] = 0;

	write_cr0(read_cr0() & ~CR0_PG);
	write_cr4(read_cr4() & ~CR4_PSE);
	test_end();
}

static void test_pae(void)
{
	test_start("PAE paging");
	int nx = (cpuid(0x80000001, 0).d >> 20) & 1;
	write_cr4(read_cr4() | CR4_PAE);
	write_cr3((uintptr_t)pdpt);
	if (nx)
		wrmsr(MSR_EFER, rdmsr(MSR_EFER) | EFER_NXE);
	write_cr0(read_cr0() | CR0_PG | CR0_WP);
	expect_eq("EFER.LMA stays clear", rdmsr(MSR_EFER) & EFER_LMA, 0);

	exc_clear();
	probe_load(UNMAPPED, 0, 0);
	if (expect_exception("read of a missing PDPTE range", 14, 0, (uintptr_t)probe_load_ip))
		expect_eq("CR2", exc.cr2, UNMAPPED);

	page_a[0] = 0xa1;
	uintptr_t va = 0x1ff000;
	pae_pt0[va >> 12] = (uintptr_t)page_a | P;
	invlpg(va);
	expect_eq("alias reads page A", *(volatile uint8_t *)va, 0xa1);
	exc_clear();
	probe_store(va, 0, 0);
	expect_exception("write to a read-only page", 14, PF_P | PF_W, (uintptr_t)probe_store_ip);

	if (nx) {
		page_code[0] = 0xc3;            /* ret: never reached */
		pae_pt0[(uintptr_t)page_code >> 12] = (uintptr_t)page_code | P | RW | NX;
		invlpg((uintptr_t)page_code);
		exc_clear();
		probe_fetch((uintptr_t)page_code, 0, 0);
		if (expect_exception("fetch from an NX page", 14, PF_P | PF_I, (uintptr_t)page_code))
			expect_eq("CR2", exc.cr2, (uintptr_t)page_code);
		pae_pt0[(uintptr_t)page_code >> 12] = (uintptr_t)page_code | P | RW;
	}
	pae_pt0[va >> 12] = va | P | RW;
	write_cr0(read_cr0() & ~CR0_PG);
	write_cr4(read_cr4() & ~CR4_PAE);
	test_end();
}

void guest_main(void)
{
	idt_init(SEL_CODE32);
	test_paging32();
	test_pae();
}
