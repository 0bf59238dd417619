/* Interrupt stubs for 32-bit protected mode: one per vector, then trap_common. */
	.text
	.code32

.macro STUB vec
	.pushsection .rodata
	.long 1f
	.popsection
1:
	.if !(\vec == 8 || (\vec >= 10 && \vec <= 14) || \vec == 17 || \vec == 21 || \vec == 29 || \vec == 30)
	pushl $0
	.endif
	pushl $\vec
	jmp trap_common
.endm

	.pushsection .rodata
	.balign 4
	.globl isr_table
isr_table:
	.popsection
	.set vec, 0
	.rept 256
	STUB %vec
	.set vec, vec + 1
	.endr

trap_common:
	pushal
	push %esp
	cld
	call trap_dispatch
	add $4, %esp
	popal
	add $8, %esp
	iret
	.section .note.GNU-stack,"",@progbits
