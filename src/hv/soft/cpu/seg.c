/*
 * Segmentation: descriptor reads, segment register loads with their
 * checks, and the far transfers (JMP/CALL/RET far, IRET) in real,
 * protected, compatibility and 64-bit mode.
 *
 * Not implemented, by choice: hardware task switching (task gates, JMP or
 * CALL to a TSS, IRET with NT) and virtual-8086 mode; these raise #GP.
 * Call gates work for JMP and for CALL without a privilege change.
 */
#include "internal.h"

#define DESC_S    (1ULL << 44)
#define DESC_P    (1ULL << 47)

static uint32_t desc_attr(uint64_t d)
{
	return (uint32_t)(((d >> 40) & 0xff) | (((d >> 52) & 0xf) << 12));
}

void seg_from_desc(struct seg *s, uint16_t sel, uint64_t d)
{
	uint32_t limit = (uint32_t)((d & 0xffff) | ((d >> 32) & 0xf0000));
	s->base = ((d >> 16) & 0xffffff) | ((d >> 56) << 24);
	s->attr = desc_attr(d);
	s->limit = (s->attr & SEG_G) ? (limit << 12) | 0xfff : limit;
	s->sel = sel;
}

uint64_t read_descriptor(struct cpu *c, uint16_t sel, int vector)
{
	const struct dtable *t = &c->gdtr;
	struct dtable ldt;
	if (sel & 4) {
		if (c->seg[S_LDTR].attr & SEG_UNUSABLE || !(c->seg[S_LDTR].sel & ~3))
			cpu_fault(c, vector, sel & 0xfffc);
		ldt.base = c->seg[S_LDTR].base;
		ldt.limit = (uint16_t)(c->seg[S_LDTR].limit > 0xffff ? 0xffff : c->seg[S_LDTR].limit);
		t = &ldt;
	}
	if ((uint32_t)(sel & ~7u) + 7 > (sel & 4 ? c->seg[S_LDTR].limit : t->limit))
		cpu_fault(c, vector, sel & 0xfffc);
	return lin_read(c, t->base + (sel & ~7u), 8, ACC_R | ACC_SYS);
}

/* The upper half of a 16-byte system descriptor (long mode). */
static uint64_t read_descriptor_high(struct cpu *c, uint16_t sel, int vector)
{
	const struct dtable *t = &c->gdtr;
	uint64_t base = t->base;
	uint32_t limit = t->limit;
	if (sel & 4) {
		base = c->seg[S_LDTR].base;
		limit = c->seg[S_LDTR].limit;
	}
	if ((uint32_t)(sel & ~7u) + 15 > limit)
		cpu_fault(c, vector, sel & 0xfffc);
	return lin_read(c, base + (sel & ~7u) + 8, 8, ACC_R | ACC_SYS);
}

void write_descriptor_accessed(struct cpu *c, uint16_t sel, uint64_t desc)
{
	if (desc & (1ULL << 40))
		return;
	uint64_t base = (sel & 4) ? c->seg[S_LDTR].base : c->gdtr.base;
	uint64_t lin = base + (sel & ~7u) + 5;
	lin_write(c, lin, 1, (uint8_t)(desc >> 40) | 1, ACC_W | ACC_SYS);
}

/* Recomputes what depends on a segment register. */
static void seg_changed(struct cpu *c, int sreg)
{
	if (sreg == S_CS || sreg == S_SS)
		cpu_update_mode(c);
	else if (sreg < 6)
		c->sbase[sreg] = (c->mode == MODE_LONG && sreg < S_FS) ? 0 : c->seg[sreg].base;
}

void load_seg_real(struct cpu *c, int sreg, uint16_t sel)
{
	struct seg *s = &c->seg[sreg];
	s->sel = sel;
	s->base = (uint64_t)sel << 4;
	if (c->mode == MODE_VM86) {
		s->limit = 0xffff;
		s->attr = SEG_P | SEG_S | (3 << 5) | (sreg == S_CS ? 0xb : 0x3);
	} else {
		s->attr &= ~SEG_UNUSABLE;
		s->attr |= SEG_P;
	}
	seg_changed(c, sreg);
}

static void set_null(struct cpu *c, int sreg, uint16_t sel)
{
	struct seg *s = &c->seg[sreg];
	s->sel = sel;
	s->attr = SEG_UNUSABLE | (s->attr & (3 << 5));
	if (c->mode != MODE_LONG || sreg < S_FS)
		s->base = 0;
	seg_changed(c, sreg);
}

void load_seg(struct cpu *c, int sreg, uint16_t sel)
{
	if (c->mode == MODE_REAL || c->mode == MODE_VM86) {
		load_seg_real(c, sreg, sel);
		return;
	}
	int rpl = sel & 3, cpl = c->cpl;
	if (!(sel & ~3)) {
		if (sreg == S_SS && !(c->mode == MODE_LONG && cpl < 3 && rpl == cpl))
			cpu_fault(c, EX_GP, 0);
		set_null(c, sreg, sel);
		if (sreg == S_SS)
			c->seg[S_SS].attr |= SEG_DB | ((uint32_t)cpl << 5);
		return;
	}
	uint64_t d = read_descriptor(c, sel, EX_GP);
	uint32_t a = desc_attr(d);
	int type = SEG_TYPE(a), dpl = SEG_DPL(a);
	if (!(d & DESC_S))
		cpu_fault(c, EX_GP, sel & 0xfffc);
	if (sreg == S_SS) {
		if (rpl != cpl || dpl != cpl || (type & 8) || !(type & 2))
			cpu_fault(c, EX_GP, sel & 0xfffc);
		if (!(d & DESC_P))
			cpu_fault(c, EX_SS, sel & 0xfffc);
	} else {
		if ((type & 0xa) == 0x8)        /* execute-only code */
			cpu_fault(c, EX_GP, sel & 0xfffc);
		int conforming_code = (type & 0xc) == 0xc;
		if (!conforming_code && (rpl > dpl || cpl > dpl))
			cpu_fault(c, EX_GP, sel & 0xfffc);
		if (!(d & DESC_P))
			cpu_fault(c, EX_NP, sel & 0xfffc);
	}
	write_descriptor_accessed(c, sel, d);
	seg_from_desc(&c->seg[sreg], sel, d | (1ULL << 40));
	seg_changed(c, sreg);
}

/* After a return to an outer level: data segments the new CPL may not use become null. */
static void null_inaccessible(struct cpu *c)
{
	static const int regs[] = { S_ES, S_DS, S_FS, S_GS };
	for (int i = 0; i < 4; i++) {
		struct seg *s = &c->seg[regs[i]];
		uint32_t a = s->attr;
		if (a & SEG_UNUSABLE)
			continue;
		int conforming_code = (SEG_TYPE(a) & 0xc) == 0xc;
		if (!conforming_code && SEG_DPL(a) < c->cpl)
			set_null(c, regs[i], 0);
	}
}

/*
 * Checks a code segment descriptor as a far JMP/CALL target and returns
 * it; faults as the SDM says.
 */
static uint64_t check_code_target(struct cpu *c, uint16_t sel, uint64_t d)
{
	uint32_t a = desc_attr(d);
	int dpl = SEG_DPL(a), rpl = sel & 3;
	if (!(d & DESC_S) || !(SEG_TYPE(a) & 8))
		cpu_fault(c, EX_GP, sel & 0xfffc);
	if (SEG_TYPE(a) & 4) {          /* conforming */
		if (dpl > c->cpl)
			cpu_fault(c, EX_GP, sel & 0xfffc);
	} else if (rpl > c->cpl || dpl != c->cpl) {
		cpu_fault(c, EX_GP, sel & 0xfffc);
	}
	if (!(d & DESC_P))
		cpu_fault(c, EX_NP, sel & 0xfffc);
	if ((c->efer & EFER_LMA) && (a & SEG_L) && (a & SEG_DB))
		cpu_fault(c, EX_GP, sel & 0xfffc);
	return d;
}

/* Commits CS from a checked descriptor with RPL = CPL and jumps to off. */
static void commit_cs(struct cpu *c, uint16_t sel, uint64_t d, uint64_t off, int opsize)
{
	struct seg cs;
	seg_from_desc(&cs, (uint16_t)((sel & ~3) | c->cpl), d | (1ULL << 40));
	if (!((c->efer & EFER_LMA) && (cs.attr & SEG_L))) {
		off &= opsize == 2 ? 0xffff : 0xffffffff;
		if (off > cs.limit)
			cpu_fault(c, EX_GP, 0);
	} else if (!is_canonical(off)) {
		cpu_fault(c, EX_GP, 0);
	}
	write_descriptor_accessed(c, sel, d);
	c->seg[S_CS] = cs;
	cpu_update_mode(c);
	c->next_rip = off;
}

/* A call gate: returns the target selector and offset; the target must not raise privilege. */
static void through_call_gate(struct cpu *c, uint16_t sel, uint64_t d, uint16_t *tsel, uint64_t *toff,
			      uint64_t *tdesc, int *gate_size)
{
	uint32_t a = desc_attr(d);
	int type = SEG_TYPE(a);
	int long_mode = !!(c->efer & EFER_LMA);
	if ((type != 0xc && type != 0x4) || (long_mode && type != 0xc))
		cpu_fault(c, EX_GP, sel & 0xfffc);     /* task gates, TSS: no task switching */
	if (SEG_DPL(a) < c->cpl || SEG_DPL(a) < (sel & 3))
		cpu_fault(c, EX_GP, sel & 0xfffc);
	if (!(d & DESC_P))
		cpu_fault(c, EX_NP, sel & 0xfffc);
	*tsel = (uint16_t)(d >> 16);
	*toff = (d & 0xffff) | (type == 0xc ? ((d >> 48) << 16) : 0);
	if (long_mode)
		*toff |= read_descriptor_high(c, sel, EX_GP) << 32;
	*gate_size = long_mode ? 8 : type == 0xc ? 4 : 2;
	if (!(*tsel & ~3))
		cpu_fault(c, EX_GP, 0);
	uint64_t td = read_descriptor(c, *tsel, EX_GP);
	uint32_t ta = desc_attr(td);
	if (!(td & DESC_S) || !(SEG_TYPE(ta) & 8) || SEG_DPL(ta) > c->cpl)
		cpu_fault(c, EX_GP, *tsel & 0xfffc);
	if (!(SEG_TYPE(ta) & 4) && SEG_DPL(ta) < c->cpl)
		cpu_fault(c, EX_GP, *tsel & 0xfffc);   /* privilege change through a gate: unsupported */
	if (!(td & DESC_P))
		cpu_fault(c, EX_NP, *tsel & 0xfffc);
	*tdesc = td;
}

void far_jump(struct cpu *c, uint16_t sel, uint64_t off, int opsize)
{
	if (c->mode == MODE_REAL || c->mode == MODE_VM86) {
		load_seg_real(c, S_CS, sel);
		c->next_rip = off & (opsize == 2 ? 0xffff : 0xffffffff);
		return;
	}
	if (!(sel & ~3))
		cpu_fault(c, EX_GP, 0);
	uint64_t d = read_descriptor(c, sel, EX_GP);
	if (!(d & DESC_S)) {
		uint16_t tsel;
		uint64_t toff, td;
		int gsize;
		through_call_gate(c, sel, d, &tsel, &toff, &td, &gsize);
		commit_cs(c, tsel, td, toff, gsize);
		return;
	}
	commit_cs(c, sel, check_code_target(c, sel, d), off, opsize);
}

void far_call(struct cpu *c, uint16_t sel, uint64_t off, int opsize)
{
	struct stk s;
	stk_init(c, &s);
	if (c->mode == MODE_REAL || c->mode == MODE_VM86) {
		stk_push(c, &s, opsize, c->seg[S_CS].sel);
		stk_push(c, &s, opsize, c->next_rip);
		stk_commit(c, &s);
		load_seg_real(c, S_CS, sel);
		c->next_rip = off & (opsize == 2 ? 0xffff : 0xffffffff);
		return;
	}
	if (!(sel & ~3))
		cpu_fault(c, EX_GP, 0);
	uint64_t d = read_descriptor(c, sel, EX_GP);
	uint16_t tsel = sel;
	uint64_t toff = off, td;
	int size = opsize;
	if (!(d & DESC_S))
		through_call_gate(c, sel, d, &tsel, &toff, &td, &size);
	else
		td = check_code_target(c, sel, d);
	stk_push(c, &s, size, c->seg[S_CS].sel);
	stk_push(c, &s, size, c->next_rip);
	commit_cs(c, tsel, td, toff, size);
	stk_commit(c, &s);
}

void far_return(struct cpu *c, int opsize, uint16_t extra_pop)
{
	struct stk s;
	stk_init(c, &s);
	uint64_t off = stk_pop(c, &s, opsize);
	uint16_t sel = (uint16_t)stk_pop(c, &s, opsize);
	if (c->mode == MODE_REAL || c->mode == MODE_VM86) {
		s.sp = (s.sp & ~s.mask) | ((s.sp + extra_pop) & s.mask);
		stk_commit(c, &s);
		load_seg_real(c, S_CS, sel);
		c->next_rip = off & (opsize == 2 ? 0xffff : 0xffffffff);
		return;
	}
	int rpl = sel & 3;
	if (!(sel & ~3))
		cpu_fault(c, EX_GP, 0);
	uint64_t d = read_descriptor(c, sel, EX_GP);
	uint32_t a = desc_attr(d);
	if (!(d & DESC_S) || !(SEG_TYPE(a) & 8) || rpl < c->cpl)
		cpu_fault(c, EX_GP, sel & 0xfffc);
	if ((SEG_TYPE(a) & 4) ? SEG_DPL(a) > rpl : SEG_DPL(a) != rpl)
		cpu_fault(c, EX_GP, sel & 0xfffc);
	if (!(d & DESC_P))
		cpu_fault(c, EX_NP, sel & 0xfffc);
	s.sp = (s.sp & ~s.mask) | ((s.sp + extra_pop) & s.mask);
	if (rpl == c->cpl) {
		commit_cs(c, sel, d, off, opsize);
		stk_commit(c, &s);
		return;
	}
	/* Return to an outer level: the caller's stack follows. */
	uint64_t nsp = stk_pop(c, &s, opsize);
	uint16_t nss = (uint16_t)stk_pop(c, &s, opsize);
	c->cpl = rpl;
	commit_cs(c, sel, d, off, opsize);
	load_seg(c, S_SS, nss);
	c->gpr[R_SP] = opsize == 8 ? nsp + extra_pop : (c->gpr[R_SP] & ~c->stack_mask) |
		((nsp + extra_pop) & c->stack_mask);
	null_inaccessible(c);
}

/* The RFLAGS bits IRET/POPF may change at the current privilege. */
uint64_t popf_mask(struct cpu *c, int size)
{
	uint64_t m = F_ARITH | F_TF | F_DF | F_NT | F_AC | F_ID | F_RF;
	if (c->cpl == 0)
		m |= F_IOPL | F_IF | F_VIF | F_VIP;
	else if ((uint64_t)c->cpl <= cpu_iopl(c))
		m |= F_IF;
	if (size == 2)
		m &= 0xffff;
	return m;
}

void do_iret(struct cpu *c, int opsize)
{
	struct stk s;
	stk_init(c, &s);
	if (c->mode == MODE_REAL || c->mode == MODE_VM86) {
		if (c->mode == MODE_VM86 && cpu_iopl(c) != 3)
			cpu_fault(c, EX_GP, 0);
		uint64_t ip = stk_pop(c, &s, opsize);
		uint16_t cs = (uint16_t)stk_pop(c, &s, opsize);
		uint64_t fl = stk_pop(c, &s, opsize);
		stk_commit(c, &s);
		load_seg_real(c, S_CS, cs);
		c->next_rip = ip & (opsize == 2 ? 0xffff : 0xffffffff);
		uint64_t m = F_ARITH | F_TF | F_DF | F_NT | F_IF | F_IOPL | (opsize == 4 ? F_AC | F_ID | F_RF : 0);
		if (c->mode == MODE_VM86)
			m &= ~(uint64_t)F_IOPL;
		cpu_set_rflags(c, (cpu_get_rflags(c) & ~m) | (fl & m));
		c->nmi_blocked = 0;
		return;
	}
	if ((c->flags & F_NT) && c->mode != MODE_LONG && !(c->efer & EFER_LMA))
		cpu_fault(c, EX_GP, 0);         /* task return: no task switching */
	uint64_t ip = stk_pop(c, &s, opsize);
	uint16_t sel = (uint16_t)stk_pop(c, &s, opsize);
	uint64_t fl = stk_pop(c, &s, opsize);
	if ((fl & F_VM) && c->cpl == 0 && opsize == 4 && !(c->efer & EFER_LMA))
		cpu_fault(c, EX_GP, 0);         /* return to virtual-8086 mode: unsupported */
	int rpl = sel & 3;
	if (!(sel & ~3))
		cpu_fault(c, EX_GP, 0);
	uint64_t d = read_descriptor(c, sel, EX_GP);
	uint32_t a = desc_attr(d);
	if (!(d & DESC_S) || !(SEG_TYPE(a) & 8) || rpl < c->cpl)
		cpu_fault(c, EX_GP, sel & 0xfffc);
	if ((SEG_TYPE(a) & 4) ? SEG_DPL(a) > rpl : SEG_DPL(a) != rpl)
		cpu_fault(c, EX_GP, sel & 0xfffc);
	if (!(d & DESC_P))
		cpu_fault(c, EX_NP, sel & 0xfffc);
	int outer = rpl > c->cpl || c->mode == MODE_LONG;
	uint64_t nsp = 0;
	uint16_t nss = 0;
	if (outer) {
		nsp = stk_pop(c, &s, opsize);
		nss = (uint16_t)stk_pop(c, &s, opsize);
	}
	uint64_t m = popf_mask(c, opsize) | F_RF;
	uint64_t newflags = (cpu_get_rflags(c) & ~m) | (fl & m);
	int old_cpl = c->cpl;
	if (!outer) {
		commit_cs(c, sel, d, ip, opsize);
		stk_commit(c, &s);
	} else {
		c->cpl = rpl;
		commit_cs(c, sel, d, ip, opsize);
		if (c->mode == MODE_LONG && !(nss & ~3) && rpl < 3) {
			set_null(c, S_SS, nss);
			c->seg[S_SS].attr = SEG_UNUSABLE | SEG_DB | ((uint32_t)rpl << 5);
			cpu_update_mode(c);
		} else {
			load_seg(c, S_SS, nss);
		}
		c->gpr[R_SP] = opsize == 8 ? nsp : opsize == 4 ? (uint32_t)nsp : (c->gpr[R_SP] & ~0xffffULL) | (uint16_t)nsp;
		if (rpl > old_cpl)
			null_inaccessible(c);
	}
	cpu_set_rflags(c, newflags);
	c->nmi_blocked = 0;
}
