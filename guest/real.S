/*
 * Real mode: port I/O of every width to the testdev port, rep ins/outs
 * with real-mode segments, CPUID, software interrupts and exceptions
 * through the IVT (INT n, #DE, #UD, #BP, IRET restoring flags), and a
 * round trip through 32-bit protected mode that leaves a 4 GiB FS limit
 * behind ("unreal" mode).
 */
#include "real16.inc"

#define TESTDEV 0xe0

	.section .text.start, "ax"
	.code16
	.globl _start
_start:
	cli
	cld
	xor %ax, %ax
	mov %ax, %ds
	mov %ax, %es
	mov %ax, %ss
	mov $0x7c00, %sp
	mov $__bss_start, %di
	mov $__bss_end, %cx
	sub %di, %cx
	rep stosb

	call test_pio
	call test_rep_string
	call test_cpuid
	call test_int
	call test_exceptions
	call test_protected_round_trip
	jmp finish16

	.text
/* ---------------- port I/O ---------------- */

test_pio:
	TEST "pio widths"
	mov $TESTDEV, %dx
	mov $0x12345678, %eax
	outl %eax, %dx
	xor %eax, %eax
	inl %dx, %eax
	EXPECT "inl", 0x12345678
	xor %eax, %eax
	inb $(TESTDEV + 1), %al
	EXPECT "inb 0xe1", 0x56
	xor %eax, %eax
	inw $(TESTDEV + 2), %ax
	EXPECT "inw 0xe2", 0x1234
	mov $0xab, %al
	outb %al, $(TESTDEV + 1)
	mov $0xcdef, %ax
	outw %ax, $(TESTDEV + 2)
	inl %dx, %eax
	EXPECT "inl after outb/outw", 0xcdefab78
	call test_end16
	ret

/* ---------------- rep ins/outs ---------------- */

test_rep_string:
	TEST "rep outs/ins"
	mov $TESTDEV, %dx
	/* rep outsb: four bytes, the port keeps the last. */
	mov $src_bytes, %si
	mov $4, %cx
	rep outsb
	xor %eax, %eax
	mov %si, %ax
	EXPECT "outsb: si", src_bytes + 4
	mov %cx, %ax
	EXPECT "outsb: cx", 0
	inb %dx, %al
	EXPECT "port after outsb", 0x44
	/* rep outsw and rep outsl (operand-size prefix). */
	mov $src_bytes, %si
	mov $2, %cx
	rep outsw
	inw %dx, %ax
	EXPECT "port after outsw", 0x4433
	mov $src_bytes, %si
	mov $2, %cx
	rep outsl
	inl %dx, %eax
	EXPECT "port after outsl", 0x88776655

	/* rep insb into segment 0x1000 (linear 0x10010), read back through
	 * 0x1001:0000, the same linear address. */
	mov $0x1000, %ax
	mov %ax, %es
	movl $0, %es:0x10
	movl $0, %es:0x14
	mov $0x10, %di
	mov $3, %cx
	mov $0x5a, %al
	outb %al, %dx
	rep insb
	xor %eax, %eax
	mov %di, %ax
	EXPECT "insb: di", 0x13
	mov $0x1001, %ax
	mov %ax, %fs
	mov %fs:0, %eax
	EXPECT "insb data at 0x1001:0", 0x005a5a5a
	/* rep insw and rep insl, backwards (DF=1). */
	mov $0x1234, %ax
	outw %ax, %dx
	mov $0x1e, %di
	mov $2, %cx
	std
	rep insw
	cld
	xor %eax, %eax
	mov %di, %ax
	EXPECT "insw DF=1: di", 0x1a
	mov %es:0x1c, %eax
	EXPECT "insw data", 0x12341234
	mov $0xfeedbeef, %eax
	outl %eax, %dx
	mov $0x20, %di
	mov $1, %cx
	rep insl
	mov %es:0x20, %eax
	EXPECT "insl data", 0xfeedbeef
	xor %ax, %ax
	mov %ax, %es
	mov %ax, %fs
	call test_end16
	ret

/* ---------------- CPUID ---------------- */

test_cpuid:
	TEST "cpuid"
	push %ebx
	xor %eax, %eax
	cpuid
	cmp $1, %eax
	setae %al
	movzbl %al, %eax
	EXPECT "leaf 0 max >= 1", 1
	mov $1, %eax
	cpuid
	mov %edx, %eax
	and $0x231, %eax
	EXPECT "leaf 1 edx fpu|tsc|msr|apic", 0x231
	mov $0x80000001, %eax
	cpuid
	mov %edx, %eax
	and $(1 << 29), %eax
	EXPECT "leaf 0x80000001 long mode", 1 << 29
	pop %ebx
	call test_end16
	ret

/* ---------------- interrupts through the IVT ---------------- */

#define IVT(v) (4 * (v))

/* INT 0x40 runs in segment 0x07c0: it records its CS, frame and flags. */
int40_handler:
	push %bp
	mov %sp, %bp
	mov %cs, %cs:(int40_cs - 0x7c00)
	mov 2(%bp), %ax
	mov %ax, %cs:(int40_ip - 0x7c00)
	mov 4(%bp), %ax
	mov %ax, %cs:(int40_frame_cs - 0x7c00)
	pushf
	pop %ax
	mov %ax, %cs:(int40_flags - 0x7c00)
	orw $1, 6(%bp)                  /* set CF in the caller's flags */
	mov $0x4040, %ax
	pop %bp
	iret

test_int:
	TEST "int n via IVT"
	movw $(int40_handler - 0x7c00), IVT(0x40)
	movw $0x07c0, IVT(0x40) + 2
	mov $0x1111, %ax
	sti
	clc
	int $0x40
int40_return:
	setc %bl
	cli
	movzwl %ax, %eax
	EXPECT "ax from the handler", 0x4040
	movzbl %bl, %eax
	EXPECT "CF set through the frame", 1
	movzwl int40_cs, %eax
	EXPECT "handler's cs", 0x07c0
	movzwl int40_ip, %eax
	EXPECT "pushed ip", int40_return
	movzwl int40_frame_cs, %eax
	EXPECT "pushed cs", 0
	movzwl int40_flags, %eax
	and $0x200, %eax
	EXPECT "IF clear in the handler", 0
	call test_end16
	ret

/* Exceptions: each stub pushes its vector; the common part records the
 * vector and the pushed ip, then returns to resume_ip. */
exc0:	push $0
	jmp exc_common
exc3:	push $3
	jmp exc_common
exc6:	push $6
	jmp exc_common
exc_common:
	push %bp
	mov %sp, %bp
	push %ax
	mov 2(%bp), %ax
	mov %ax, exc_vector
	mov 4(%bp), %ax
	mov %ax, exc_ip
	incw exc_count
	mov resume_ip, %ax
	mov %ax, 4(%bp)
	pop %ax
	pop %bp
	add $2, %sp
	iret

/* EXC_CHECK "what", vector, ip */
.macro EXC_CHECK what, vector, ip
	movzwl exc_count, %eax
	EXPECT "\what: count", 1
	movzwl exc_vector, %eax
	EXPECT "\what: vector", \vector
	movzwl exc_ip, %eax
	EXPECT "\what: ip", \ip
	movw $0, exc_count
.endm

test_exceptions:
	TEST "exceptions via IVT"
	movw $exc0, IVT(0)
	movw $0, IVT(0) + 2
	movw $exc3, IVT(3)
	movw $0, IVT(3) + 2
	movw $exc6, IVT(6)
	movw $0, IVT(6) + 2
	movw $0, exc_count

	movw $1f, resume_ip
	mov $100, %ax
	xor %cl, %cl
de_ip:	div %cl
1:	EXC_CHECK "#DE", 0, de_ip

	movw $1f, resume_ip
ud_ip:	ud2
1:	EXC_CHECK "#UD", 6, ud_ip

	movw $bp_after, resume_ip
	int3
bp_after:
	EXC_CHECK "#BP", 3, bp_after
	call test_end16
	ret

/* ---------------- protected mode and back ---------------- */

	.balign 8
gdt:	.quad 0
	.quad 0x00cf9b000000ffff        /* 0x08 code, 32-bit */
	.quad 0x00cf93000000ffff        /* 0x10 data, 4 GiB */
	.quad 0x00009b000000ffff        /* 0x18 code, 16-bit */
	.quad 0x000093000000ffff        /* 0x20 data, 64 KiB */
gdt_end:
gdtr:	.word gdt_end - gdt - 1
	.long gdt

#define MARK_ADDR 0x200000

test_protected_round_trip:
	TEST "protected mode and back"
	cli
	lgdtl gdtr
	mov %cr0, %eax
	or $1, %eax
	mov %eax, %cr0
	ljmpl $0x08, $pm32
	.code32
pm32:
	mov $0x10, %eax
	mov %eax, %ds
	mov %eax, %es
	mov %eax, %fs
	mov %eax, %ss
	movl $0xc0ffee11, MARK_ADDR
	mov MARK_ADDR, %eax
	mov %eax, pm_readback
	ljmp $0x18, $pm16
	.code16
pm16:
	mov $0x20, %ax
	mov %ax, %ds
	mov %ax, %es
	mov %ax, %ss
	/* FS keeps its 4 GiB limit through the switch back. */
	mov %cr0, %eax
	and $~1, %eax
	mov %eax, %cr0
	ljmp $0, $rm16
rm16:
	xor %ax, %ax
	mov %ax, %ds
	mov %ax, %es
	mov %ax, %ss
	mov pm_readback, %eax
	EXPECT "protected-mode write above 1 MiB", 0xc0ffee11
	mov $MARK_ADDR, %esi
	addr32 mov %fs:(%esi), %eax
	EXPECT "unreal-mode read through FS", 0xc0ffee11
	mov %cr0, %eax
	and $1, %eax
	EXPECT "CR0.PE", 0
	call test_end16
	ret

	.data
src_bytes:
	.byte 0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77, 0x88
	.bss
int40_cs:	.word 0
int40_ip:	.word 0
int40_frame_cs:	.word 0
int40_flags:	.word 0
exc_vector:	.word 0
exc_ip:		.word 0
exc_count:	.word 0
resume_ip:	.word 0
	.balign 4
pm_readback:	.long 0
	.section .note.GNU-stack,"",@progbits
