/*
 * The guest of kvm-hello: print a string on port 0xE9, then halt with 42
 * in EAX. One copy per mode; each is position-dependent on address 0.
 */
	.section .rodata

	.globl	guest16, guest16_end
	.code16
guest16:
	xor	%si, %si
	movw	$msg16 - guest16, %si
1:	movb	(%si), %al
	test	%al, %al
	jz	2f
	outb	%al, $0xe9
	inc	%si
	jmp	1b
2:	movl	$42, %eax
	hlt
msg16:	.asciz	"Hello, world! (real mode)\n"
guest16_end:

	.globl	guest32, guest32_end
	.code32
guest32:
	movl	$msg32 - guest32, %esi
1:	movb	(%esi), %al
	test	%al, %al
	jz	2f
	outb	%al, $0xe9
	inc	%esi
	jmp	1b
2:	movl	$42, %eax
	hlt
msg32:	.asciz	"Hello, world! (32-bit mode)\n"
guest32_end:

	.globl	guest64, guest64_end
	.code64
guest64:
	movq	$msg64 - guest64, %rsi
1:	movb	(%rsi), %al
	test	%al, %al
	jz	2f
	outb	%al, $0xe9
	inc	%rsi
	jmp	1b
2:	movl	$42, %eax
	hlt
msg64:	.asciz	"Hello, world! (64-bit mode)\n"
guest64_end:

	.section .note.GNU-stack, "", @progbits
