/* The guest's own 4-level page tables (pt64.S). */
#ifndef GUEST_PAGING64_H
#define GUEST_PAGING64_H

#include "guest.h"

#define PTE_P    (1ull << 0)
#define PTE_RW   (1ull << 1)
#define PTE_US   (1ull << 2)
#define PTE_A    (1ull << 5)
#define PTE_D    (1ull << 6)
#define PTE_PS   (1ull << 7)
#define PTE_NX   (1ull << 63)
#define PTE_ADDR 0x000ffffffffff000ull

#define PF_P     (1u << 0)
#define PF_W     (1u << 1)
#define PF_U     (1u << 2)
#define PF_RSVD  (1u << 3)
#define PF_I     (1u << 4)

extern uint64_t pml4[512], pdpt[512], pd0[512], pd3[512], pt0[512];

/* Switches CR3 to pml4. */
static inline void paging_use_own(void) { write_cr3((uintptr_t)pml4); }

/* The 4 KiB PTE of a virtual address below 2 MiB. */
static inline volatile uint64_t *pte4k(uintptr_t va) { return (volatile uint64_t *)&pt0[(va >> 12) & 511]; }

/* Points a 4 KiB page below 2 MiB at phys with flags, and flushes it. */
static inline void map4k(uintptr_t va, uint64_t phys, uint64_t flags)
{
	*pte4k(va) = (phys & PTE_ADDR) | flags;
	invlpg(va);
}

#endif
