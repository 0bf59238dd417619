/*
 * Port-I/O round-trip guest (real mode, loaded at 0x7c00): COUNT writes to
 * port 0x80, which every VMM ignores, then a debug-exit write of 0.
 */
	.code16
	.globl _start
_start:
	mov	$COUNT, %ecx
1:	outb	%al, $0x80
	dec	%ecx
	jnz	1b
	xor	%eax, %eax
	outl	%eax, $0xf4
	hlt
