/*
 * The trivial guest of the start-up benchmark: a multiboot v1 kernel that
 * prints one line on COM1 and leaves through the debug-exit port. Both
 * runvm (--kernel) and QEMU (-kernel) load it the same way.
 */
	.set	MB_MAGIC, 0x1badb002
	.set	MB_FLAGS, 0x00000003	/* page-aligned modules, memory info */

	.section .multiboot, "a"
	.align	4
	.long	MB_MAGIC, MB_FLAGS, -(MB_MAGIC + MB_FLAGS)

	.text
	.code32
	.globl	_start
_start:
	mov	$msg, %esi
1:	lodsb
	test	%al, %al
	jz	3f
	mov	%al, %ah
	mov	$0x3fd, %dx		/* wait for the transmitter to be empty */
2:	inb	%dx, %al
	test	$0x20, %al
	jz	2b
	mov	$0x3f8, %dx
	mov	%ah, %al
	outb	%al, %dx
	jmp	1b
3:	xor	%eax, %eax
	outl	%eax, $0xf4
	cli
4:	hlt
	jmp	4b

	.section .rodata
msg:	.asciz	"hello from a runvm guest\n"
