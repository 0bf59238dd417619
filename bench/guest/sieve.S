/*
 * The CPU benchmark guest: a multiboot v1 kernel that enters long mode and
 * runs a sieve of Eratosthenes over 64 KiB REPS times at CPL 0, where REPS
 * is the last number on its command line. It counts the instructions it
 * executes in the timed part (every basic block adds its own length to R15,
 * the add included), prints "instructions N primes P" on COM1, and leaves
 * through the debug-exit port. The same image runs on runvm and QEMU.
 */
	.set	MB_MAGIC, 0x1badb002
	.set	MB_FLAGS, 0x00000003
	.set	SIEVE_N, 65536

	.section .multiboot, "a"
	.align	4
	.long	MB_MAGIC, MB_FLAGS, -(MB_MAGIC + MB_FLAGS)

	.text
	.code32
	.globl	_start
_start:
	mov	$stack_top, %esp
	mov	%ebx, %esi			/* multiboot info */
	/* Identity-map the first 1 GiB with 2 MiB pages. */
	mov	$pdpt, %eax
	or	$3, %eax
	mov	%eax, pml4
	mov	$pd, %eax
	or	$3, %eax
	mov	%eax, pdpt
	xor	%ecx, %ecx
1:	mov	%ecx, %eax
	shl	$21, %eax
	or	$0x83, %eax
	mov	%eax, pd(,%ecx,8)
	inc	%ecx
	cmp	$512, %ecx
	jb	1b
	mov	$pml4, %eax
	mov	%eax, %cr3
	mov	%cr4, %eax
	or	$0x20, %eax			/* PAE */
	mov	%eax, %cr4
	mov	$0xc0000080, %ecx		/* EFER.LME */
	rdmsr
	or	$0x100, %eax
	wrmsr
	mov	%cr0, %eax
	or	$0x80000001, %eax		/* PG | PE */
	mov	%eax, %cr0
	lgdt	gdt_ptr
	ljmp	$0x08, $long_mode

	.code64
long_mode:
	mov	$0x10, %eax
	mov	%eax, %ds
	mov	%eax, %es
	mov	%eax, %ss
	mov	%esi, %esi
	call	parse_reps			/* rbx = REPS */
	xor	%r15d, %r15d			/* instruction count */
	xor	%r14d, %r14d			/* primes found, last round */
rounds:
	test	%rbx, %rbx
	jz	done
	call	sieve
	dec	%rbx
	add	$4, %r15			/* test, jz, dec, jmp */
	jmp	rounds
done:
	mov	$msg_insns, %rdi
	call	puts
	mov	%r15, %rax
	call	putdec
	mov	$msg_primes, %rdi
	call	puts
	mov	%r14, %rax
	call	putdec
	mov	$'\n', %al
	call	putc
	xor	%eax, %eax
	out	%eax, $0xf4
	cli
2:	hlt
	jmp	2b

/* One sieve over SIEVE_N bytes; r14 = number of primes below SIEVE_N. */
sieve:
	xor	%eax, %eax
	add	$2, %r15			/* call, xor */
clear:
	movq	$0, sieve_buf(,%rax,8)
	inc	%rax
	add	$4, %r15
	cmp	$SIEVE_N / 8, %rax
	jb	clear
	mov	$2, %ecx			/* i */
	add	$2, %r15			/* the jb that fell through, mov */
outer:
	mov	%rcx, %rax
	imul	%rcx, %rax
	add	$5, %r15			/* mov, imul, add, cmp, jae */
	cmp	$SIEVE_N, %rax
	jae	count
	add	$3, %r15			/* add, cmpb, jne */
	cmpb	$0, sieve_buf(%rcx)
	jne	next
mark:
	movb	$1, sieve_buf(%rax)
	add	%rcx, %rax
	add	$4, %r15
	cmp	$SIEVE_N, %rax
	jb	mark
next:
	inc	%rcx
	add	$2, %r15			/* inc, jmp */
	jmp	outer
count:
	mov	$2, %ecx
	xor	%r14d, %r14d
	add	$2, %r15
tally:
	movzbl	sieve_buf(%rcx), %eax
	xor	$1, %eax
	add	%rax, %r14
	inc	%rcx
	add	$6, %r15
	cmp	$SIEVE_N, %rcx
	jb	tally
	add	$1, %r15			/* ret */
	ret

/* rbx = the last decimal number on the multiboot command line (0 if none). */
parse_reps:
	xor	%ebx, %ebx
	testl	$4, (%rsi)
	jz	3f
	mov	16(%rsi), %esi
1:	movzbl	(%rsi), %eax
	test	%eax, %eax
	jz	3f
	inc	%rsi
	sub	$'0', %eax
	cmp	$9, %eax
	ja	2f
	imul	$10, %rbx
	add	%rax, %rbx
	jmp	1b
2:	movzbl	(%rsi), %eax			/* a separator: start again at the next number */
	sub	$'0', %eax
	cmp	$9, %eax
	ja	1b
	xor	%ebx, %ebx
	jmp	1b
3:	ret

putc:
	mov	%eax, %r8d
	mov	$0x3fd, %dx
1:	in	%dx, %al
	test	$0x20, %al
	jz	1b
	mov	$0x3f8, %dx
	mov	%r8d, %eax
	out	%al, %dx
	ret

puts:
	movzbl	(%rdi), %eax
	test	%eax, %eax
	jz	1f
	call	putc
	inc	%rdi
	jmp	puts
1:	ret

putdec:
	mov	$numbuf_end, %rdi
	mov	$10, %ecx
1:	xor	%edx, %edx
	div	%rcx
	add	$'0', %dl
	dec	%rdi
	mov	%dl, (%rdi)
	test	%rax, %rax
	jnz	1b
	jmp	puts

	.section .rodata
msg_insns:	.asciz	"instructions "
msg_primes:	.asciz	" primes "
	.align	8
gdt:	.quad	0, 0x00209a0000000000, 0x0000920000000000
gdt_ptr: .word	gdt_ptr - gdt - 1
	.long	gdt

	.data
numbuf:	.fill	24, 1, 0
numbuf_end: .byte 0

	.bss
	.align	4096
pml4:	.fill	4096, 1, 0
pdpt:	.fill	4096, 1, 0
pd:	.fill	4096, 1, 0
sieve_buf: .fill SIEVE_N, 1, 0
	.fill	4096, 1, 0
stack_top:
