/*
 * A multiboot (v1) kernel that lets QEMU run the raw test guests for
 * comparison: QEMU loads it with the guest image as a module; it copies the
 * image to the raw loader's default address and enters it in the raw
 * loader's documented state for SHIM_MODE (0 real, 1 protected, 2 long).
 * Only a development aid: runvm never uses it.
 */
#define MB_MAGIC 0x1badb002
#define MB_FLAGS 0

	.section .text
	.code32
	.globl _start
	.balign 4
mb_header:
	.long MB_MAGIC, MB_FLAGS, -(MB_MAGIC + MB_FLAGS)

_start:
	cli
	cld
	mov $0x380000, %esp
	/* The module list: mods_count at +20, mods_addr at +24. */
	mov 24(%ebx), %eax
	mov 0(%eax), %esi               /* mod_start */
	mov 4(%eax), %ecx               /* mod_end */
	sub %esi, %ecx
#if SHIM_MODE == 0
	mov $0x7c00, %edi
#else
	mov $0x100000, %edi
#endif
	rep movsb

	/* GDT at 0x500 as the raw loader builds it. */
	mov $0x500, %edi
	movl $0, 0(%edi)
	movl $0, 4(%edi)
	movl $0x0000ffff, 8(%edi)
#if SHIM_MODE == 2
	movl $0x00af9b00, 12(%edi)      /* 64-bit code */
#else
	movl $0x00cf9b00, 12(%edi)      /* 32-bit code */
#endif
	movl $0x0000ffff, 16(%edi)
	movl $0x00cf9300, 20(%edi)
	movl $0x0000ffff, 24(%edi)      /* 0x18: 16-bit code, for the way down */
	movl $0x00009b00, 28(%edi)
	movl $0x0000ffff, 32(%edi)      /* 0x20: 16-bit data */
	movl $0x00009300, 36(%edi)
	lgdt gdtr

#if SHIM_MODE == 1
	mov $0x10, %eax
	mov %eax, %ds
	mov %eax, %es
	mov %eax, %fs
	mov %eax, %gs
	mov %eax, %ss
	mov $0x100000, %esp
	ljmp $0x08, $1f
1:	xor %eax, %eax
	xor %ebx, %ebx
	xor %ecx, %ecx
	xor %edx, %edx
	xor %esi, %esi
	xor %edi, %edi
	xor %ebp, %ebp
	jmp *%esp
#elif SHIM_MODE == 2
	/* Identity map 4 GiB with 2 MiB pages at 0x9000-0xefff. */
	mov $0x9000, %edi
	xor %eax, %eax
	mov $(0x6000 / 4), %ecx
	rep stosl
	movl $0xa003, 0x9000
	movl $0xb003, 0xa000
	movl $0xc003, 0xa008
	movl $0xd003, 0xa010
	movl $0xe003, 0xa018
	mov $0xb000, %edi
	mov $0x83, %eax
	mov $2048, %ecx
2:	mov %eax, (%edi)                /* high halves stay 0 from the clear */
	add $0x200000, %eax
	add $8, %edi
	loop 2b
	mov $0x9000, %eax
	mov %eax, %cr3
	mov %cr4, %eax
	or $0x20, %eax
	mov %eax, %cr4
	mov $0xc0000080, %ecx
	rdmsr
	or $0x100, %eax
	wrmsr
	mov %cr0, %eax
	or $0x80000001, %eax
	mov %eax, %cr0
	ljmp $0x08, $long64
	.code64
long64:
	mov $0x10, %eax
	mov %eax, %ds
	mov %eax, %es
	mov %eax, %fs
	mov %eax, %gs
	mov %eax, %ss
	mov $0x100000, %esp
	xor %eax, %eax
	xor %ebx, %ebx
	xor %ecx, %ecx
	xor %edx, %edx
	xor %esi, %esi
	xor %edi, %edi
	xor %ebp, %ebp
	jmp *%rsp
	.code32
#else
	/* Real mode: run a stub below 64 KiB that leaves protected mode. */
	mov $down16, %esi
	mov $0x600, %edi
	mov $(down16_end - down16), %ecx
	rep movsb
	ljmp $0x18, $0x600
	.code16
down16:
	mov $0x20, %ax
	mov %ax, %ds
	mov %ax, %es
	mov %ax, %ss
	mov %ax, %fs
	mov %ax, %gs
	mov %cr0, %eax
	and $0xfffffffe, %eax
	mov %eax, %cr0
	ljmp $0, $(0x600 + 1f - down16)
1:	xor %ax, %ax
	mov %ax, %ds
	mov %ax, %es
	mov %ax, %ss
	mov %ax, %fs
	mov %ax, %gs
	lidt (0x600 + ivt - down16)
	mov $0x7c00, %sp
	xor %eax, %eax
	xor %ebx, %ebx
	xor %ecx, %ecx
	xor %edx, %edx
	xor %esi, %esi
	xor %edi, %edi
	xor %ebp, %ebp
	ljmp $0, $0x7c00
ivt:	.word 0x3ff
	.long 0
down16_end:
	.code32
#endif

	.data
gdtr:	.word 39
	.long 0x500
	.section .note.GNU-stack,"",@progbits
