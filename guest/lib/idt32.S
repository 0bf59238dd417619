/* Interrupt stubs for 32-bit protected mode: one per vector, then trap_common. */
	.text
	.code32

	.pushsection .rodata
	.balign 4
	.globl isr_table
isr_table:
	.popsection
	.set vec, 0
	.rept 256
	.pushsection .rodata
	.long 1f
	.popsection
1:
	/* The CPU pushes an error code for these vectors only. */
	.if !(vec == 8 || (vec >= 10 && vec <= 14) || vec == 17 || vec == 21 || vec == 29 || vec == 30)
	pushl $0
	.endif
	pushl $vec
	jmp trap_common
	.set vec, vec + 1
	.endr

trap_common:
	pushal
	push %esp
	cld
	call trap_dispatch
	add $4, %esp
	popal
	add $8, %esp                    /* vector, error code */
	cmpb $0, trap_use_iret
	jne 1f
	/*
	 * Without IRET (which some hypervisors cannot emulate in protected
	 * mode): reorder eip, cs, eflags to eflags, eip, cs, then POPF and a
	 * far return. Same privilege only, which is all these guests use.
	 */
	push %eax
	mov 4(%esp), %eax               /* eip */
	xchg %eax, 8(%esp)              /* eip into the cs slot; eax = cs */
	xchg %eax, 12(%esp)             /* cs into the eflags slot; eax = eflags */
	mov %eax, 4(%esp)
	pop %eax
	popfl
	lret
1:	iret

	.data
	.globl trap_use_iret
trap_use_iret:
	.byte 0
	.section .note.GNU-stack,"",@progbits
