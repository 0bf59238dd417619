/*
 * The application processors' start: real mode at TRAMP_BASE (the SIPI
 * vector's page), through 32-bit protected mode into long mode with the
 * BSP's page tables, then a jump to tramp_entry on tramp_stack. The BSP
 * copies tramp_start..tramp_end to TRAMP_BASE and fills in the data words
 * before each SIPI; everything here is addressed relative to TRAMP_BASE.
 */
#define TRAMP_BASE 0x7000
#define REL(x) (TRAMP_BASE + (x) - tramp_start)

	.data
	.globl tramp_start, tramp_end, tramp_cr3, tramp_stack, tramp_entry
	.code16
tramp_start:
	cli
	cld
	mov %cs, %ax
	mov %ax, %ds
	lgdtl tramp_gdtr - tramp_start
	mov %cr0, %eax
	or $1, %eax
	mov %eax, %cr0
	ljmpl $0x08, $REL(pm32)

	.code32
pm32:
	mov $0x10, %eax
	mov %eax, %ds
	mov %eax, %es
	mov %eax, %ss
	mov REL(tramp_cr3), %eax
	mov %eax, %cr3
	mov %cr4, %eax
	or $0x20, %eax                  /* PAE */
	mov %eax, %cr4
	mov $0xc0000080, %ecx           /* EFER.LME */
	rdmsr
	or $0x100, %eax
	wrmsr
	mov %cr0, %eax
	or $0x80000000, %eax            /* PG */
	mov %eax, %cr0
	ljmp $0x18, $REL(lm64)

	.code64
lm64:
	mov REL(tramp_stack), %rsp
	mov REL(tramp_entry), %rax
	jmp *%rax

	.balign 8
tramp_gdt:
	.quad 0
	.quad 0x00cf9b000000ffff        /* 0x08 code, 32-bit */
	.quad 0x00cf93000000ffff        /* 0x10 data */
	.quad 0x00af9b000000ffff        /* 0x18 code, 64-bit */
tramp_gdtr:
	.word tramp_gdtr - tramp_gdt - 1
	.long REL(tramp_gdt)
	.balign 8
tramp_cr3:	.quad 0
tramp_stack:	.quad 0
tramp_entry:	.quad 0
tramp_end:
	.section .note.GNU-stack,"",@progbits
