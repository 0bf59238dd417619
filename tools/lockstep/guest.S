/*
 * A guest made for lockstep: a wide mix of integer instructions on a table
 * of operand values (every pair of them), string operations, port I/O to
 * the testdev port, MMIO to the testdev window, RDTSC and CPUID. Built for
 * real mode (MODE 16, loaded at 0x7c00), 32-bit protected mode (MODE 32)
 * and long mode (MODE 64, loaded at 1 MiB). With USER_MODE (long mode)
 * the operand loop runs a second time at CPL 3 (entered with IRETQ, left
 * with SYSCALL), where a host KVM with VT-x or AMD-V runs side A on the
 * host CPU itself.
 *
 * It takes no interrupts, sets no TF, and ends by writing 0 to the
 * debug-exit port, printing its progress on COM1.
 */
#define SERIAL      0x3f8
#define TESTDEV     0xe0
#define DEBUG_EXIT  0xf4
#define MMIO        0xff000000
#define N_VALUES    16              /* entries of values[] and values64[] */

#if MODE == 16
	.code16
#define XAX %eax
#define XSP %sp
#define XSI %si
#define XDI %di
#define XCX %cx
#define PUSHF pushfl
#define POPF popfl
#elif MODE == 32
	.code32
#define XAX %eax
#define XSP %esp
#define XSI %esi
#define XDI %edi
#define XCX %ecx
#define XBX_PTR %ebx
#define PUSHF pushfl
#define POPF popfl
#else
	.code64
#define XAX %rax
#define XSP %rsp
#define XSI %rsi
#define XDI %rdi
#define XCX %rcx
#define XBX_PTR %rbx
#define PUSHF pushfq
#define POPF popfq
#endif

	.text
	.globl _start
_start:
#if MODE == 32
	/* Also a multiboot kernel (as the ELF image the build makes). */
	jmp 1f
	.balign 4
	.long 0x1badb002, 0, -0x1badb002
1:
#endif
	cli
	cld
#if MODE == 16
	xor %ax, %ax
	mov %ax, %ds
	mov %ax, %es
	mov %ax, %ss
	mov $0x7c00, %sp
#else
	mov $0x90000, XSP
#endif
	mov $msg_start, XSI
	call print

	call operand_loop
	call strings
	call port_io
#if MODE != 16
	call mmio
#endif
	call host_dependent
#ifdef USER_MODE
	call user_round_trip
#endif
	mov $msg_done, XSI
	call print
	xor %eax, %eax
	out %eax, $DEBUG_EXIT
	hlt

/* Prints the NUL-terminated string at XSI on COM1, waiting for THRE. */
print:
	mov $SERIAL + 5, %dx
1:	in %dx, %al
	test $0x20, %al
	jz 1b
	mov $SERIAL, %dx
	lodsb
	test %al, %al
	jz 2f
	out %al, %dx
	jmp print
2:	ret

/* ---------------- every pair of operand values ---------------- */

operand_loop:
	movl $0, idx_a
1:	movl $0, idx_b
2:	mov idx_a, %esi
	mov values(,%esi,4), %eax
	mov idx_b, %esi
	mov values(,%esi,4), %ebx
#if MODE == 64
	mov values64(,%esi,8), %r8
#endif
	call alu
	incl idx_b
	cmpl $N_VALUES, idx_b
	jb 2b
	incl idx_a
	cmpl $N_VALUES, idx_a
	jb 1b
	ret

/* One round of integer instructions on a = EAX and b = EBX. */
alu:
	mov %eax, val_a
	mov %ebx, val_b

	/* add, adc, sub, sbb, logic and compare at every width */
	mov %eax, %ecx
	add %ebx, %ecx
	adc %eax, %ecx
	mov %eax, %ecx
	sub %ebx, %ecx
	sbb %eax, %ecx
	mov %eax, %ecx
	and %ebx, %ecx
	or %eax, %ecx
	xor %ebx, %ecx
	cmp %ebx, %eax
	test %ebx, %eax
	mov %eax, %ecx
	add %bx, %cx
	adc %bx, %cx
	sub %ax, %cx
	sbb %bx, %cx
	cmp %bx, %ax
	mov %eax, %ecx
	add %bl, %cl
	adc %bh, %ch
	sub %bl, %cl
	sbb %bh, %ch
	xor %bl, %ch
	cmp %bl, %al
	test %bh, %ah

	/* immediates, memory operands, inc/dec/neg/not */
	mov %eax, %ecx
	add $0x7f, %ecx
	sub $-0x80, %ecx
	and $0x0ff0ff0f, %ecx
	or $0x80, %cl
	xor $0x1234, %cx
	adc $1, %ch
	sbb $0x7fffffff, %ecx
	mov %ebx, scratch
	add %eax, scratch
	adc scratch, %ecx
	sub %ecx, scratch
	negl scratch
	notl scratch
	incl scratch
	decw scratch
	addb $0x81, scratch + 1
	cmp scratch, %eax
	mov %eax, %ecx
	inc %ecx
	dec %cx
	neg %ecx
	not %ecx
	inc %cl
	neg %ch
	dec %ch

	/* multiply */
	mov %eax, %ecx
	imul %ebx, %ecx
	imul $-7, %ebx, %ecx
	imul $0x12345, %eax, %ecx
	imul %bx, %cx
	mul %ebx
	mov val_a, %eax
	imul %ebx
	mov val_a, %eax
	mul %bl
	mov val_a, %eax
	imul %bx
	mov val_a, %eax
	imulb val_b

	/* divide by an odd divisor taken from b: never zero, quotients fit */
	mov %ebx, %ecx
	or $1, %ecx
	xor %edx, %edx
	div %ecx
	mov val_a, %eax
	and $0x7fffffff, %ecx
	cdq
	idiv %ecx
	movzbl val_a, %eax
	div %cl
	movzwl val_a, %eax
	xor %edx, %edx
	div %cx
	movsbl val_a, %eax
	and $0x7f, %cl
	idiv %cl
	mov val_a, %eax

	/* shifts and rotates: by 1, by an immediate, by CL = b */
	mov %eax, %edx
	shl %edx
	shr $3, %edx
	sar %edx
	rol %edx
	rcr %edx
	mov %ebx, %ecx
	mov %eax, %edx
	shl %cl, %edx
	mov %eax, %edx
	shr %cl, %edx
	mov %eax, %edx
	sar %cl, %edx
	mov %eax, %edx
	rol %cl, %edx
	ror $5, %edx
	rcl %cl, %edx
	rcr %cl, %edx
	rcl $7, %dx
	rol %cl, %dl
	sar %cl, %dh
	shr %cl, %dx
	shl $12, %dx
	shld %cl, %eax, %edx
	shrd $9, %ebx, %edx
	shld $4, %ax, %dx
	shrd $15, %bx, %dx
	shrd %cl, %ebx, %edx

	/* bit tests and scans */
	bt %ebx, %eax
	mov %eax, %edx
	bts %ebx, %edx
	btr $3, %edx
	btc %ebx, %edx
	bt $31, %eax
	btsw $9, scratch
	mov %eax, %edx
	bsf %ebx, %edx
	bsr %eax, %edx
	bsf %bx, %dx
	bsr %ax, %dx

	/* condition codes: setcc, cmovcc, lahf and sahf, pushf and popf */
	cmp %ebx, %eax
	seta %dl
	setae %dh
	setb %cl
	setbe %ch
	setl %dl
	setle %dh
	setg %cl
	setge %ch
	sete %dl
	sets %dh
	seto %cl
	setp %ch
	cmovb %ebx, %edx
	cmovg %eax, %edx
	cmovns %ebx, %ecx
	cmovpe %ax, %cx
	cmovo %eax, %ecx
	lahf
	mov %ah, %dl
	xor $0xd5, %ah
	sahf
	PUSHF
	pop XAX
	xor $0x8d5, %eax
	push XAX
	POPF
	mov val_a, %eax
	clc
	cmc
	stc
	adc %ebx, %edx

	/* data movement */
	movzbl %bl, %edx
	movsbl %al, %edx
	movzwl %bx, %edx
	movswl %ax, %edx
	movsbw %bl, %dx
	bswap %edx
	xchg %eax, %edx
	xchg %eax, %edx
	xchg %bl, %dh
	xchg %bl, %dh
	xadd %ebx, %edx
	mov %eax, %ecx
	cmpxchg %ebx, %ecx
	cmpxchg %ebx, %edx
	cmpxchg %ecx, scratch
	cwde
	cwd
	cdq
	mov val_a, %eax
	lea 0x10(%eax,%ebx,4), %edx
	lea -3(%ebx,%eax,2), %dx
	lea (%eax,%eax,8), %ecx

#if MODE != 64
	/*
	 * Decimal adjustment: only what the host KVM's emulator gets right
	 * (it has no DAA, AAA or AAS, and sets SF, ZF and PF from AX instead
	 * of AL after AAM and AAD).
	 */
	das
	mov val_a, %eax
#else
	/* 64-bit operands and the extra registers */
	mov %r8, %r9
	add %rax, %r9
	adc %r8, %r9
	sub %rbx, %r9
	sbb %r8, %r9
	and %r8, %r9
	or %rax, %r9
	xor %r8, %r9
	imul %r8, %r9
	imul $-3, %r8, %r10
	mov %r8, %rax
	mul %r9
	mov %r8, %rax
	imul %r9
	mov %r8, %rcx
	or $1, %rcx
	mov %r8, %rax
	xor %edx, %edx
	div %rcx
	mov %r8, %rax
	btr $63, %rcx
	cqo
	idiv %rcx
	mov %rbx, %rcx
	mov %r8, %r11
	shl %cl, %r11
	mov %r8, %r11
	sar %cl, %r11
	rol $33, %r11
	rcr %cl, %r11
	shld %cl, %r8, %r11
	shrd $40, %r9, %r11
	bsf %r8, %r12
	bsr %r8, %r13
	bts %rbx, %r13
	bswap %r13
	movsxd %eax, %r14
	movsbq %r8b, %r15
	mov %r8, %rsi
	add %sil, %r15b
	xadd %rsi, %r15
	cmpxchg %rsi, %r12
	neg %r14
	not %r15
	mov val_a, %eax
#endif
	ret

/* ---------------- string instructions ---------------- */

strings:
	mov $src_buf, XSI
	mov $dst_buf, XDI
	mov $16, XCX
	rep movsb
	mov $src_buf, XSI
	mov $dst_buf, XDI
	mov $8, XCX
	rep movsw
	mov $src_buf, XSI
	mov $dst_buf, XDI
	mov $4, XCX
	rep movsl
	std
	mov $src_buf + 15, XSI
	mov $dst_buf + 31, XDI
	mov $16, XCX
	rep movsb
	cld
	mov $0x5a5a1234, %eax
	mov $dst_buf, XDI
	mov $3, XCX
	rep stosl
	mov $src_buf, XSI
	lodsb
	lodsw
	lodsl
	mov $src_buf, XSI
	mov $dst_buf, XDI
	mov $32, XCX
	repe cmpsb
	mov $src_buf, XDI
	mov $0x0c, %al
	mov $32, XCX
	repne scasb
	mov $src_buf, XDI
	mov $0x0403, %ax
	scasw
	movsb
	cmpsl
#if MODE == 64
	mov $src_buf, %rsi
	mov $dst_buf, %rdi
	mov $2, %rcx
	rep movsq
	lodsq
	stosq
#endif
	ret

/* ---------------- port I/O ---------------- */

port_io:
	mov $TESTDEV, %dx
	mov $0x12345678, %eax
	out %eax, %dx
	in %dx, %eax
	in %dx, %al
	inw $TESTDEV + 2, %ax
	mov $0xab, %al
	outb %al, $TESTDEV + 1
	in %dx, %eax
	mov $src_buf, XSI
	mov $4, XCX
	rep outsb
	mov $src_buf, XSI
	mov $2, XCX
	rep outsl
	mov $dst_buf, XDI
	mov $3, XCX
	rep insw
	inb $0x99, %al              /* nobody's port: all ones */
	inl $0x9c, %eax
	ret

/* ---------------- MMIO (the testdev window) ---------------- */

#if MODE != 16
mmio:
	mov $MMIO, %ebx
#if MODE == 64
	mov %ebx, %ebx
#endif
	movl $0x89abcdef, (XBX_PTR)
	mov (XBX_PTR), %eax
	movb $0x11, 1(XBX_PTR)
	movw 2(XBX_PTR), %cx
	movzbl 3(XBX_PTR), %edx
	addl $0x10, (XBX_PTR)
	orw $0x8000, 6(XBX_PTR)
	xchg %eax, 8(XBX_PTR)
	mov 8(XBX_PTR), %eax
	cmpl $0x89abcdef, (XBX_PTR)
#if MODE == 64
	movq $-2, 16(%rbx)
	mov 16(%rbx), %r9
	mov %r9, 24(%rbx)
#endif
	/* string instructions on MMIO */
	mov $src_buf, XSI
	lea 0x100(XBX_PTR), XDI
	mov $8, XCX
	rep movsl
	lea 0x100(XBX_PTR), XSI
	mov $dst_buf, XDI
	mov $5, XCX
	rep movsw
	lea 0x100(XBX_PTR), XDI
	mov $0x5a, %al
	mov $3, XCX
	rep stosb
	lea 0x100(XBX_PTR), XSI
	lodsl
	ret
#endif

/* ---------------- host-dependent results (copied from side A) ---------------- */

host_dependent:
	rdtsc
	xor %eax, %eax
	cpuid
	mov $1, %eax
	cpuid
	mov $0x80000001, %eax
	cpuid
	rdtsc
	sub %eax, %ecx
	ret

/* ---------------- CPL 3 (long mode, with USER_MODE) ---------------- */

#ifdef USER_MODE
#define PML4  0x9000                /* the loader's page tables */
#define PDPT  0xa000
#define PD    0xb000
#define PTE_U 4
#define MSR_EFER   0xc0000080
#define MSR_STAR   0xc0000081
#define MSR_LSTAR  0xc0000082
#define MSR_SFMASK 0xc0000084

user_round_trip:
	lgdt gdt_desc
	mov $0x10, %eax
	mov %eax, %ds
	mov %eax, %es
	mov %eax, %ss
	/* Make the first 2 MiB reachable from CPL 3. */
	orq $PTE_U, PML4
	orq $PTE_U, PDPT
	orq $PTE_U, PD
	mov %cr3, %rax
	mov %rax, %cr3
	/* SYSCALL to kernel_entry with CS 0x08; SYSRET to CS 0x2b, SS 0x23. */
	mov $MSR_EFER, %ecx
	rdmsr
	or $1, %eax
	wrmsr
	mov $MSR_STAR, %ecx
	xor %eax, %eax
	mov $0x00180008, %edx
	wrmsr
	mov $MSR_LSTAR, %ecx
	mov $kernel_entry, %eax
	xor %edx, %edx
	wrmsr
	mov $MSR_SFMASK, %ecx
	mov $0x200, %eax            /* IF only: TF belongs to the single-stepper */
	wrmsr
	mov %rsp, kernel_rsp        /* kernel_entry's last RET returns from here */
	/* IRETQ to user_code; the kernel_entry of its last SYSCALL returns for us. */
	pushq $0x23
	pushq $0x80000
	pushq $0x2
	pushq $0x2b
	pushq $user_code
	iretq

user_code:
	call operand_loop
	call strings
	call host_dependent
	mov $1, %edi
	syscall
	mov $2, %edi
	syscall

/*
 * SYSCALL 1 returns (by IRETQ) with EAX = 0x1235; SYSCALL 2 ends the run at CPL 0
 * (a guest of the host's KVM cannot have IOPL 3, so CPL 3 has no ports).
 */
kernel_entry:
	mov %rsp, %r10
	mov kernel_rsp, %rsp
	cmp $1, %edi
	jne 1f
	mov $0x1235, %eax
	pushq $0x23                 /* IRETQ, not SYSRETQ: the host KVM cannot emulate SYSRET */
	push %r10
	push %r11
	pushq $0x2b
	push %rcx
	iretq
1:	mov $msg_user, %rsi
	call print
	ret

	.balign 8
gdt:
	.quad 0
	.quad 0x00af9b000000ffff        /* 0x08 kernel code, 64-bit */
	.quad 0x00cf93000000ffff        /* 0x10 kernel data */
	.quad 0x00cffb000000ffff        /* 0x18 user code, 32-bit */
	.quad 0x00cff3000000ffff        /* 0x20 user data */
	.quad 0x00affb000000ffff        /* 0x28 user code, 64-bit */
gdt_end:
gdt_desc:
	.word gdt_end - gdt - 1
	.quad gdt
kernel_rsp:
	.quad 0
msg_user:
	.asciz "lockstep guest: back from CPL 3\r\n"
#endif

/* ---------------- data ---------------- */

	.balign 8
values:
	.long 0, 1, 2, 0x7f, 0x80, 0xff, 0x100, 0x7fff, 0x8000, 0xffff
	.long 0x12345678, 0x7fffffff, 0x80000000, 0x80000001, 0xfedcba98, 0xffffffff
values_end:
#if MODE == 64
	.balign 8
values64:
	.quad 0, 1, 0x7fffffffffffffff, 0x8000000000000000, 0xffffffff, 0x100000000
	.quad 0x123456789abcdef0, -1, 63, 64, 0xfffffffffffffffe, 0x8000000080000000
	.quad 0x5555555555555555, 0xaaaaaaaaaaaaaaaa, 0x7fffffff, 0x80000000
#endif
idx_a:	.long 0
idx_b:	.long 0
val_a:	.long 0
val_b:	.long 0
scratch: .long 0, 0
src_buf:
	.byte 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16
	.byte 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 0x0c, 13, 14, 15, 16
dst_buf:
	.fill 48, 1, 0
msg_start:
#if MODE == 16
	.asciz "lockstep guest: real mode\r\n"
#elif MODE == 32
	.asciz "lockstep guest: protected mode\r\n"
#else
	.asciz "lockstep guest: long mode\r\n"
#endif
msg_done:
	.asciz "lockstep guest: done\r\n"

	.section .note.GNU-stack, "", @progbits
