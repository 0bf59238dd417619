/*
 * Entry from the raw loader in 32-bit protected mode (paging off). The
 * guest loads its own GDT, a stack inside the image, clears .bss and calls
 * guest_main; returning from it reports the sub-test results.
 */
#include "seg.h"
	.section .text.start, "ax"
	.code32
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
	mov $stack_top, %esp
	ljmp $SEL_CODE32, $1f
1:	mov $__bss_start, %edi
	mov $__bss_end, %ecx
	sub %edi, %ecx
	xor %eax, %eax
	rep stosb
	call guest_main
	call guest_finish

	.data
	.balign 16
	.globl gdt
gdt:
	.quad 0                         /* 0x00 null */
	.quad 0x00cf9b000000ffff        /* 0x08 code, 32-bit, 4 GiB */
	.quad 0x00cf93000000ffff        /* 0x10 data, 4 GiB */
	.quad 0x00009b000000ffff        /* 0x18 code, 16-bit, 64 KiB */
	.quad 0x000093000000ffff        /* 0x20 data, 16-bit, 64 KiB */
	.quad 0x00cf13000000ffff        /* 0x28 data, not present */
	.quad 0x00cf99000000ffff        /* 0x30 code, execute-only */
	.quad 0x00cf93100000ffff        /* 0x38 data, base 0x100000 */
gdt_end:
	.globl gdt_desc
gdt_desc:
	.word gdt_end - gdt - 1
	.long gdt
	.section .note.GNU-stack,"",@progbits
