/* Interrupt stubs for long mode: one per vector, then trap_common. */
	.text
	.code64

	.pushsection .rodata
	.balign 8
	.globl isr_table
isr_table:
	.popsection
	.set vec, 0
	.rept 256
	.pushsection .rodata
	.quad 1f
	.popsection
1:
	/* The CPU pushes an error code for these vectors only. */
	.if !(vec == 8 || (vec >= 10 && vec <= 14) || vec == 17 || vec == 21 || vec == 29 || vec == 30)
	pushq $0
	.endif
	pushq $vec
	jmp trap_common
	.set vec, vec + 1
	.endr

trap_common:
	push %rax
	push %rbx
	push %rcx
	push %rdx
	push %rsi
	push %rdi
	push %rbp
	push %r8
	push %r9
	push %r10
	push %r11
	push %r12
	push %r13
	push %r14
	push %r15
	mov %rsp, %rdi
	cld
	call trap_dispatch
	pop %r15
	pop %r14
	pop %r13
	pop %r12
	pop %r11
	pop %r10
	pop %r9
	pop %r8
	pop %rbp
	pop %rdi
	pop %rsi
	pop %rdx
	pop %rcx
	pop %rbx
	pop %rax
	add $16, %rsp
	iretq
	.section .note.GNU-stack,"",@progbits
