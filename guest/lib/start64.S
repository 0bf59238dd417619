/*
 * Entry from the raw loader in long mode. The guest loads its own GDT (the
 * loader's is not to be relied on), a stack inside the image, clears .bss
 * and calls guest_main; returning from it reports the sub-test results.
 */
#include "seg.h"
	.section .text.start, "ax"
	.code64
	.globl _start
_start:
	cli
	lgdt gdt_desc
	mov $SEL_DATA, %eax
	mov %eax, %ds
	mov %eax, %es
	mov %eax, %ss
	mov %eax, %fs
	mov %eax, %gs
	mov $stack_top, %rsp
	pushq $SEL_CODE64
	pushq $1f
	lretq
1:	mov $__bss_start, %rdi
	mov $__bss_end, %rcx
	sub %rdi, %rcx
	xor %eax, %eax
	rep stosb
	call guest_main
	call guest_finish

	.data
	.balign 16
	.globl gdt
gdt:
	.quad 0                         /* 0x00 null */
	.quad 0x00af9b000000ffff        /* 0x08 kernel code, 64-bit */
	.quad 0x00cf93000000ffff        /* 0x10 kernel data */
	.quad 0x00cffb000000ffff        /* 0x18 user code, 32-bit (SYSRET base) */
	.quad 0x00cff3000000ffff        /* 0x20 user data */
	.quad 0x00affb000000ffff        /* 0x28 user code, 64-bit */
	.quad 0x00cf13000000ffff        /* 0x30 data, not present */
	.quad 0x00cf9b000000ffff        /* 0x38 kernel code, 32-bit */
	.quad 0, 0                      /* 0x40 TSS, filled in by tss_init */
gdt_end:
	.globl gdt_desc
gdt_desc:
	.word gdt_end - gdt - 1
	.quad gdt
	.section .note.GNU-stack,"",@progbits
