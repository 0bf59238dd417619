/*
 * The CPU states the loaders start vCPU 0 in: real mode, flat 32-bit
 * protected mode, and 64-bit long mode with identity-mapped page tables.
 *
 * The segment registers are derived from the very descriptors written to
 * the GDT, so the hidden parts KVM is given match what the guest would load
 * itself, and a guest that reloads a selector gets the same segment.
 */
#include "loader.h"
#include "../../dev/devices.h"

/* Control register bits (Intel SDM vol. 3, 2.5). */
#define CR0_PE   (1ULL << 0)
#define CR0_ET   (1ULL << 4)
#define CR0_NE   (1ULL << 5)
#define CR0_PG   (1ULL << 31)
#define CR4_PAE  (1ULL << 5)
#define EFER_LME (1ULL << 8)
#define EFER_LMA (1ULL << 10)

#define APIC_BASE_BSP    (1ULL << 8)
#define APIC_BASE_ENABLE (1ULL << 11)

/* Flat 4 GiB descriptors: G=1, P=1, DPL 0, S=1, accessed. */
#define DESC_CODE64 0x00af9b000000ffffULL       /* L=1, D=0, execute/read */
#define DESC_CODE32 0x00cf9b000000ffffULL       /* D=1, execute/read */
#define DESC_DATA   0x00cf93000000ffffULL       /* B=1, read/write */

#define SEG_TYPE_CODE   11      /* execute/read, accessed */
#define SEG_TYPE_DATA   3       /* read/write, accessed */
#define SEG_TYPE_TSS    11      /* busy 32/64-bit TSS: KVM's entry checks want it busy */
#define SEG_TYPE_LDT    2

/* Page-table entry bits. */
#define PTE_P  1ULL
#define PTE_RW 2ULL
#define PTE_PS 0x80ULL

/* A busy TSS descriptor (the low 8 bytes; in long mode the high 8 are 0). */
static uint64_t desc_tss(uint64_t base, uint32_t limit)
{
	return (limit & 0xffffULL) | ((base & 0xffffffULL) << 16) |
	       (0x80ULL | SEG_TYPE_TSS) << 40 |
	       ((uint64_t)(limit >> 16) & 0xf) << 48 | ((base >> 24) & 0xff) << 56;
}

/* The segment register the CPU would hold after loading sel -> desc. */
static struct kvm_segment seg_from_desc(uint64_t d, uint16_t sel)
{
	uint32_t limit = (uint32_t)((d & 0xffff) | ((d >> 32) & 0xf0000));
	int g = (d >> 55) & 1;
	return (struct kvm_segment){
		.base = ((d >> 16) & 0xffffff) | ((d >> 32) & 0xff000000),
		.limit = g ? (limit << 12) | 0xfff : limit,
		.selector = sel,
		.type = (d >> 40) & 0xf,
		.s = (d >> 44) & 1,
		.dpl = (d >> 45) & 3,
		.present = (d >> 47) & 1,
		.avl = (d >> 52) & 1,
		.l = (d >> 53) & 1,
		.db = (d >> 54) & 1,
		.g = g,
	};
}

static struct kvm_segment seg_real(uint8_t type)
{
	return (struct kvm_segment){
		.limit = 0xffff, .type = type, .present = 1, .s = 1,
	};
}

/* Everything but the segments: no paging, no interrupts, APIC on. */
static void state_reset(struct vm *vm)
{
	struct boot_state *bs = &vm->boot;
	memset(bs, 0, sizeof(*bs));
	bs->has_sregs = 1;
	bs->regs.rflags = 2;
	bs->sregs.apic_base = LAPIC_ADDR | APIC_BASE_ENABLE | APIC_BASE_BSP;
	bs->sregs.ldt = (struct kvm_segment){ .limit = 0xffff, .type = SEG_TYPE_LDT, .present = 1 };
}

void cpu_state_real(struct vm *vm)
{
	state_reset(vm);
	struct kvm_sregs *s = &vm->boot.sregs;
	s->cs = seg_real(SEG_TYPE_CODE);
	s->ds = s->es = s->fs = s->gs = s->ss = seg_real(SEG_TYPE_DATA);
	s->tr = (struct kvm_segment){ .limit = 0xffff, .type = SEG_TYPE_TSS, .present = 1 };
	s->gdt = (struct kvm_dtable){ .base = 0, .limit = 0xffff };
	s->idt = (struct kvm_dtable){ .base = 0, .limit = 0x3ff };
	s->cr0 = CR0_ET;
}

/*
 * Writes a GDT of code at code_sel, data after it, then the TSS (16 bytes
 * in long mode), plus a zeroed TSS, and loads all segments from it.
 */
static int gdt_setup(struct vm *vm, uint16_t code_sel, uint64_t code, int long_mode)
{
	uint64_t gdt[6] = { 0 };
	unsigned i = code_sel / 8;
	unsigned n = i + 3 + (long_mode ? 1 : 0);
	if (n > 6)
		return -1;
	gdt[i] = code;
	gdt[i + 1] = DESC_DATA;
	gdt[i + 2] = desc_tss(BOOT_TSS_ADDR, BOOT_TSS_SIZE - 1);
	uint8_t tss[BOOT_TSS_SIZE] = { 0 };
	if (guest_write(&vm->mem, BOOT_GDT_ADDR, gdt, n * 8) != 0 ||
	    guest_write(&vm->mem, BOOT_TSS_ADDR, tss, sizeof(tss)) != 0)
		return -1;

	struct kvm_sregs *s = &vm->boot.sregs;
	uint16_t data_sel = (uint16_t)(code_sel + 8), tss_sel = (uint16_t)(code_sel + 16);
	s->cs = seg_from_desc(code, code_sel);
	s->ds = s->es = s->fs = s->gs = s->ss = seg_from_desc(DESC_DATA, data_sel);
	s->tr = seg_from_desc(gdt[i + 2], tss_sel);
	s->gdt = (struct kvm_dtable){ .base = BOOT_GDT_ADDR, .limit = (uint16_t)(n * 8 - 1) };
	s->idt = (struct kvm_dtable){ .base = 0, .limit = 0 };
	return 0;
}

int cpu_state_protected(struct vm *vm)
{
	state_reset(vm);
	if (gdt_setup(vm, 0x08, DESC_CODE32, 0) != 0)
		return -1;
	vm->boot.sregs.cr0 = CR0_PE | CR0_ET;
	return 0;
}

/* PML4 -> one PDPT -> four page directories of 2 MiB pages: 0..4 GiB. */
static int page_tables_write(struct vm *vm)
{
	uint64_t *pml4 = guest_ptr(&vm->mem, BOOT_PML4_ADDR, PAGE_SIZE);
	uint64_t *pdpt = guest_ptr(&vm->mem, BOOT_PDPT_ADDR, PAGE_SIZE);
	uint64_t *pd = guest_ptr(&vm->mem, BOOT_PD_ADDR, 4 * PAGE_SIZE);
	if (!pml4 || !pdpt || !pd)
		return -1;
	memset(pml4, 0, PAGE_SIZE);
	memset(pdpt, 0, PAGE_SIZE);
	pml4[0] = BOOT_PDPT_ADDR | PTE_P | PTE_RW;
	for (uint64_t i = 0; i < 4; i++)
		pdpt[i] = (BOOT_PD_ADDR + i * PAGE_SIZE) | PTE_P | PTE_RW;
	for (uint64_t i = 0; i < 4 * 512; i++)
		pd[i] = (i << 21) | PTE_P | PTE_RW | PTE_PS;
	return 0;
}

int cpu_state_long(struct vm *vm, uint16_t code_sel)
{
	state_reset(vm);
	if (gdt_setup(vm, code_sel, DESC_CODE64, 1) != 0 || page_tables_write(vm) != 0)
		return -1;
	struct kvm_sregs *s = &vm->boot.sregs;
	s->cr0 = CR0_PG | CR0_NE | CR0_ET | CR0_PE;
	s->cr3 = BOOT_PML4_ADDR;
	s->cr4 = CR4_PAE;
	s->efer = EFER_LME | EFER_LMA;
	return 0;
}
