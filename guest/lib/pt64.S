/*
 * Page tables of the guests that change mappings (paging64.h). Built at
 * assembly time, so that switching to them costs one MOV to CR3:
 *   0 - 2 MiB      4 KiB pages (pt0), identity
 *   2 MiB - 1 GiB  2 MiB pages (pd0), identity
 *   1 - 2 GiB      not present (pdpt[1] = 0)
 *   2 - 3 GiB      free for a 1 GiB page (pdpt[2])
 *   3 - 4 GiB      2 MiB pages (pd3), identity, cache-disabled: the APICs
 *                  and the testdev window
 * Every level allows user access; the tests take it away where needed.
 */
#define P   0x001
#define RW  0x002
#define US  0x004
#define PWT 0x008
#define PCD 0x010
#define PS  0x080

	.data
	.balign 4096
	.globl pml4, pdpt, pd0, pd3, pt0
pml4:
	.quad pdpt + P + RW + US
	.fill 511, 8, 0
pdpt:
	.quad pd0 + P + RW + US
	.quad 0
	.quad 0
	.quad pd3 + P + RW + US
	.fill 508, 8, 0
pd0:
	.quad pt0 + P + RW + US
	.set n, 1
	.rept 511
	.quad (n << 21) + P + RW + US + PS
	.set n, n + 1
	.endr
pd3:
	.set n, 0
	.rept 512
	.quad 0xc0000000 + (n << 21) + P + RW + PCD + PWT + PS
	.set n, n + 1
	.endr
pt0:
	.set n, 0
	.rept 512
	.quad (n << 12) + P + RW + US
	.set n, n + 1
	.endr
	.section .note.GNU-stack,"",@progbits
