/*
 * A test bench for the soft CPU: 4 MiB of guest RAM, the CPU in real,
 * 32-bit protected or 64-bit long mode, code assembled into the test
 * program by the host assembler (GUEST_CODE), and a run until HLT.
 *
 * Memory map: 0x500 GDT, 0x700 IDT (8-byte gates), 0x800 IDT (16-byte
 * gates), 0x1000 code, 0x3000 + 16 * vector: one HLT per exception
 * handler, 0x8000 stack top, 0x10000 page tables (2 MiB pages, identity),
 * 0x20000 data.
 */
#ifndef RUNVM_TEST_SOFT_CPU_H
#define RUNVM_TEST_SOFT_CPU_H

#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "hv/soft/cpu/cpu.h"
#include "test.h"

#define T_MEM_SIZE (4u << 20)
#define T_CODE 0x1000
#define T_HANDLERS 0x3000
#define T_STACK 0x8000
#define T_DATA 0x20000

/* Guest code between two labels: name[] .. name_end[]. */
#define GUEST_CODE(name, mode, text) \
	extern const uint8_t name[], name##_end[]; \
	__asm__(".pushsection .rodata\n" #name ":\n" mode "\n" text "\nhlt\n" #name "_end:\n" \
		".code64\n.popsection\n")

enum t_mode { T_REAL, T_PROT32, T_LONG };

struct tcpu {
	struct cpu c;
	struct pmem pm;
	uint8_t *mem;
	/* Port writes seen (in-kernel style: the CPU never exits for them). */
	int nout;
	uint16_t out_port[64];
	uint32_t out_val[64];
	uint32_t in_val;        /* what port reads return */
	int mmio_exits;         /* MMIO goes to "userspace": count the exits */
};

static inline int t_pio(struct cpu *c, struct cpu_io_entry *e)
{
	struct tcpu *t = c->opaque;
	if (e->is_write) {
		for (uint32_t i = 0; i < e->count && t->nout < 64; i++, t->nout++) {
			uint32_t v = 0;
			memcpy(&v, e->data + i * e->size, e->size);
			t->out_port[t->nout] = (uint16_t)e->addr;
			t->out_val[t->nout] = v;
		}
	} else {
		for (uint32_t i = 0; i < e->count; i++)
			memcpy(e->data + i * e->size, &t->in_val, e->size);
	}
	return 1;
}

static inline int t_mmio(struct cpu *c, struct cpu_io_entry *e)
{
	struct tcpu *t = c->opaque;
	(void)e;
	t->mmio_exits++;
	return 0;
}

static const struct cpu_platform t_platform = { .pio = t_pio, .mmio = t_mmio };

static inline void put_desc(uint8_t *mem, unsigned sel, uint32_t base, uint32_t limit, unsigned access, unsigned flags)
{
	uint64_t d = (limit & 0xffff) | ((uint64_t)(base & 0xffffff) << 16) |
		     ((uint64_t)access << 40) | ((uint64_t)((limit >> 16) & 0xf) << 48) |
		     ((uint64_t)flags << 52) | ((uint64_t)(base >> 24) << 56);
	memcpy(mem + 0x500 + sel, &d, 8);
}

static inline void seg_set(struct seg *s, uint16_t sel, uint64_t base, uint32_t limit, uint32_t attr)
{
	s->sel = sel;
	s->base = base;
	s->limit = limit;
	s->attr = attr;
}

/* IDT entries that point vector v at T_HANDLERS + 16 v, where a HLT waits. */
static inline void build_idts(struct tcpu *t)
{
	for (int v = 0; v < 32; v++) {
		uint32_t h = T_HANDLERS + 16 * v;
		t->mem[h] = 0xf4;
		/* real mode IVT at 0 */
		uint16_t ivt[2] = { (uint16_t)h, 0 };
		memcpy(t->mem + 4 * v, ivt, 4);
		/* 32-bit interrupt gate, selector 0x08 */
		uint64_t g = (h & 0xffff) | (0x08ULL << 16) | (0x8eULL << 40) | ((uint64_t)(h >> 16) << 48);
		memcpy(t->mem + 0x700 + 8 * v, &g, 8);
		/* 64-bit interrupt gate, selector 0x28 */
		uint64_t g64[2] = { (h & 0xffff) | (0x28ULL << 16) | (0x8eULL << 40) |
				    ((uint64_t)(h >> 16) << 48), 0 };
		memcpy(t->mem + 0x2000 + 16 * v, g64, 16);
	}
}

static inline void tcpu_init(struct tcpu *t, enum t_mode mode)
{
	memset(t, 0, sizeof(*t));
	t->mem = mmap(NULL, T_MEM_SIZE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	pmem_set_slot(&t->pm, 0, 0, T_MEM_SIZE, t->mem, 0);
	cpu_init(&t->c, &t->pm, &t_platform, t);
	struct cpu *c = &t->c;
	build_idts(t);
	put_desc(t->mem, 0x08, 0, 0xfffff, 0x9b, 0xc);         /* code32 */
	put_desc(t->mem, 0x10, 0, 0xfffff, 0x93, 0xc);         /* data32 */
	put_desc(t->mem, 0x18, 0, 0xffff, 0x9b, 0x0);          /* code16 */
	put_desc(t->mem, 0x20, 0, 0xffff, 0x93, 0x0);          /* data16 */
	put_desc(t->mem, 0x28, 0, 0xfffff, 0x9b, 0xa);         /* code64 */
	put_desc(t->mem, 0x30, 0, 0xfffff, 0xfb, 0xc);         /* user code32 */
	put_desc(t->mem, 0x38, 0, 0xfffff, 0xf3, 0xc);         /* user data */
	put_desc(t->mem, 0x40, 0, 0xfffff, 0xfb, 0xa);         /* user code64 */
	c->gpr[R_SP] = T_STACK;
	c->rip = T_CODE;
	if (mode == T_REAL) {
		seg_set(&c->seg[S_CS], 0, 0, 0xffff, SEG_P | SEG_S | 0xb);
		c->idtr = (struct dtable){ 0, 0x3ff };
		cpu_update_mode(c);
		return;
	}
	c->gdtr = (struct dtable){ 0x500, 0x47 };
	c->cr0 = CR0_PE | CR0_ET;
	uint32_t data = SEG_P | SEG_S | SEG_DB | SEG_G | 0x3;
	for (int s = S_ES; s <= S_GS; s++)
		seg_set(&c->seg[s], 0x10, 0, 0xffffffff, data);
	seg_set(&c->seg[S_TR], 0, 0, 0x67, SEG_P | 0xb);
	if (mode == T_PROT32) {
		seg_set(&c->seg[S_CS], 0x08, 0, 0xffffffff, SEG_P | SEG_S | SEG_DB | SEG_G | 0xb);
		c->idtr = (struct dtable){ 0x700, 0xff };
	} else {
		/* PML4 -> PDPT -> PD with 2 MiB identity pages for the first 4 MiB. */
		uint64_t pml4 = 0x11003, pdpt = 0x12003, pd0 = 0x83, pd1 = 0x200083;
		memcpy(t->mem + 0x10000, &pml4, 8);
		memcpy(t->mem + 0x11000, &pdpt, 8);
		memcpy(t->mem + 0x12000, &pd0, 8);
		memcpy(t->mem + 0x12008, &pd1, 8);
		c->cr3 = 0x10000;
		c->cr4 = CR4_PAE;
		c->efer = EFER_LME | EFER_LMA | EFER_NXE | EFER_SCE;
		c->cr0 |= CR0_PG | CR0_WP;
		seg_set(&c->seg[S_CS], 0x28, 0, 0xffffffff, SEG_P | SEG_S | SEG_L | SEG_G | 0xb);
		c->idtr = (struct dtable){ 0x2000, 0x1ff };
	}
	cpu_update_mode(c);
}

static inline void tcpu_free(struct tcpu *t)
{
	cpu_destroy(&t->c);
	pmem_destroy(&t->pm);
	munmap(t->mem, T_MEM_SIZE);
}

static inline void tcpu_load(struct tcpu *t, const uint8_t *start, const uint8_t *end)
{
	memcpy(t->mem + T_CODE, start, (size_t)(end - start));
	cpu_flush_code(&t->c);
}

/* Runs until an exit other than the preemption timer; returns its reason. */
static inline int tcpu_run(struct tcpu *t)
{
	t->c.budget = 1u << 24;
	return cpu_run(&t->c);
}

/* Loads and runs code; returns 1 when it stopped at its final HLT. */
static inline int tcpu_exec(struct tcpu *t, const uint8_t *start, const uint8_t *end)
{
	tcpu_load(t, start, end);
	int r = tcpu_run(t);
	return r == EXIT_HLT && t->c.rip == T_CODE + (uint64_t)(end - start) - 1;
}

/* Which exception handler the CPU stopped in, or -1. */
static inline int tcpu_vector(struct tcpu *t)
{
	uint64_t off = t->c.rip - T_HANDLERS;
	if (t->c.rip < T_HANDLERS || off >= 32 * 16 || off % 16)
		return -1;
	return (int)(off / 16);
}

static inline uint64_t t_read(struct tcpu *t, uint64_t gpa, int size)
{
	uint64_t v = 0;
	memcpy(&v, t->mem + gpa, (size_t)size);
	return v;
}

static inline void t_write(struct tcpu *t, uint64_t gpa, int size, uint64_t v)
{
	memcpy(t->mem + gpa, &v, (size_t)size);
}

static inline uint64_t t_flags(struct tcpu *t)
{
	return cpu_get_rflags(&t->c);
}

#endif
