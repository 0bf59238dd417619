/*
 * The CPU's life cycle and the state derived from its registers.
 */
#include <stdlib.h>

#include "internal.h"

int cpu_cache_init(struct cpu *c);
void cpu_cache_free(struct cpu *c);

int cpu_init(struct cpu *c, struct pmem *pm, const struct cpu_platform *plat, void *opaque)
{
	memset(c, 0, sizeof(*c));
	c->pmem = pm;
	c->plat = plat;
	c->opaque = opaque;
	if (cpu_cache_init(c) < 0)
		return -1;
	cpu_reset(c);
	return 0;
}

void cpu_destroy(struct cpu *c)
{
	cpu_cache_free(c);
}

static void set_seg(struct seg *s, uint16_t sel, uint64_t base, uint32_t limit, uint32_t attr)
{
	s->sel = sel;
	s->base = base;
	s->limit = limit;
	s->attr = attr;
}

/* The state after RESET or INIT (SDM Vol. 3, table 9-1). */
void cpu_reset(struct cpu *c)
{
	memset(c->gpr, 0, sizeof(c->gpr));
	c->rip = 0xfff0;
	c->flags = 2;
	c->lf_op = 0;
	set_seg(&c->seg[S_CS], 0xf000, 0xffff0000, 0xffff, SEG_P | SEG_S | 0xb);
	for (int s = S_ES; s <= S_GS; s++)
		if (s != S_CS)
			set_seg(&c->seg[s], 0, 0, 0xffff, SEG_P | SEG_S | 0x3);
	set_seg(&c->seg[S_LDTR], 0, 0, 0xffff, SEG_P | 0x2);
	set_seg(&c->seg[S_TR], 0, 0, 0xffff, SEG_P | 0xb);
	c->gdtr = (struct dtable){ 0, 0xffff };
	c->idtr = (struct dtable){ 0, 0xffff };
	c->cr0 = CR0_ET | CR0_CD | CR0_NW;
	c->cr2 = c->cr3 = c->cr4 = 0;
	c->efer = 0;
	memset(c->dr, 0, sizeof(c->dr));
	c->dr[6] = 0xffff0ff0;
	c->dr[7] = 0x400;
	c->xcr0 = 1;
	c->pat = 0x0007040600070406ULL;
	c->star = c->lstar = c->cstar = c->sfmask = c->kernel_gs_base = 0;
	c->sysenter_cs = c->sysenter_esp = c->sysenter_eip = 0;
	memset(c->fxsave, 0, sizeof(c->fxsave));
	c->fxsave[0] = 0x7f;            /* FCW = 0x37f */
	c->fxsave[1] = 0x03;
	c->fxsave[24] = 0x80;           /* MXCSR = 0x1f80 */
	c->fxsave[25] = 0x1f;
	c->intr_shadow = c->nmi_blocked = c->halted = 0;
	c->inject.type = EV_NONE;
	c->fault.type = EV_NONE;
	c->delivering = 0;
	c->io.n = c->io.pos = 0;
	c->cpl = 0;
	cpu_update_mode(c);
	cpu_flush_tlb(c);
}

void cpu_update_mode(struct cpu *c)
{
	const struct seg *cs = &c->seg[S_CS], *ss = &c->seg[S_SS];
	if (!(c->cr0 & CR0_PE)) {
		c->mode = MODE_REAL;
		c->cpl = 0;
	} else if (c->flags & F_VM) {
		c->mode = MODE_VM86;
		c->cpl = 3;
	} else if ((c->efer & EFER_LMA) && (cs->attr & SEG_L)) {
		c->mode = MODE_LONG;
	} else if (c->efer & EFER_LMA) {
		c->mode = MODE_COMPAT;
	} else {
		c->mode = MODE_PROT;
	}
	if (c->mode == MODE_LONG)
		c->code_size = 8;
	else if (c->mode == MODE_VM86)
		c->code_size = 2;
	else
		c->code_size = (cs->attr & SEG_DB) ? 4 : 2;
	if (c->mode == MODE_LONG)
		c->stack_mask = ~0ULL;
	else
		c->stack_mask = (ss->attr & SEG_DB) ? 0xffffffffULL : 0xffffULL;
	for (int s = 0; s < 6; s++)
		c->sbase[s] = (c->mode == MODE_LONG && s < S_FS) ? 0 : c->seg[s].base;
}

uint64_t cpu_get_rflags(struct cpu *c)
{
	uint64_t f = c->flags;
	if (c->lf_op)
		f = (f & ~(uint64_t)F_ARITH) | flags_arith(c);
	return f | 2;
}

/* Bits 1 is always set; 3, 5, 15 and 22-63 are always clear. */
void cpu_set_rflags(struct cpu *c, uint64_t f)
{
	uint64_t old = c->flags;
	c->lf_op = 0;
	c->flags = (f & 0x3f7fd5ULL) | 2;
	if ((old ^ c->flags) & F_VM)
		cpu_update_mode(c);
}

uint64_t cpu_rdtsc(struct cpu *c)
{
	if (c->plat && c->plat->rdtsc)
		return c->plat->rdtsc(c);
	return __builtin_ia32_rdtsc() + c->tsc_offset;
}

int cpu_set_efer(struct cpu *c, uint64_t v)
{
	uint64_t allowed = EFER_SCE | EFER_LME | EFER_LMA | EFER_NXE;
	if (v & ~allowed)
		return -1;
	if ((c->cr0 & CR0_PG) && ((v ^ c->efer) & EFER_LME))
		return -1;
	v = (v & ~(uint64_t)EFER_LMA) | (c->efer & EFER_LMA);
	if ((v ^ c->efer) & EFER_NXE)
		cpu_flush_tlb(c);
	c->efer = v;
	cpu_update_mode(c);
	return 0;
}
