/*
 * Exceptions and interrupts: raising a fault from inside an instruction,
 * delivery through the IVT (real mode) or the IDT (protected and long
 * mode, with the stack switch through the TSS), and the double- and
 * triple-fault rules of the SDM (Vol. 3, 6.15, table 6-5).
 */
#include "internal.h"

static int has_error_code(int vec)
{
	return vec == EX_DF || (vec >= EX_TS && vec <= EX_PF) || vec == EX_AC;
}

void cpu_fault(struct cpu *c, int vector, uint32_t err)
{
	c->fault.type = EV_HWEXC;
	c->fault.vector = (uint8_t)vector;
	c->fault.has_err = (uint8_t)has_error_code(vector);
	c->fault.err = err;
	c->fault.insn_len = 0;
	longjmp(c->jb, JMP_FAULT);
}

void cpu_fault_noerr(struct cpu *c, int vector)
{
	cpu_fault(c, vector, 0);
}

void cpu_vmexit(struct cpu *c, int reason, uint64_t qual)
{
	c->exit.reason = (uint32_t)reason;
	c->exit.qual = qual;
	c->exit.insn_len = (uint32_t)(c->next_rip - c->rip);
	longjmp(c->jb, JMP_EXIT);
}

/* Exception classes for the double-fault rules. */
enum { BENIGN, CONTRIBUTORY, PAGE_FAULT };

static int ex_class(int vec)
{
	if (vec == EX_PF)
		return PAGE_FAULT;
	if (vec == EX_DE || (vec >= EX_TS && vec <= EX_GP))
		return CONTRIBUTORY;
	return BENIGN;
}

/*
 * A fault arrived while delivering the event "first" (vector + 1 in
 * c->delivering, 0 when none). Returns the event to deliver now, or
 * -1 for a triple fault.
 */
static int combine(struct cpu *c, int first, struct cpu_event *second)
{
	if (!first)
		return 0;
	int v1 = first - 1;
	if (v1 == EX_DF)
		return -1;
	int c1 = ex_class(v1), c2 = ex_class(second->vector);
	if ((c1 == CONTRIBUTORY && c2 == CONTRIBUTORY) ||
	    (c1 == PAGE_FAULT && c2 != BENIGN)) {
		second->type = EV_HWEXC;
		second->vector = EX_DF;
		second->has_err = 1;
		second->err = 0;
		(void)c;
	}
	return 0;
}

/* Handles a fault raised by an instruction or a delivery: delivers it or triple-faults. */
void cpu_handle_fault(struct cpu *c)
{
	struct cpu_event ev = c->fault;
	c->fault.type = EV_NONE;
	if (combine(c, c->delivering, &ev) < 0) {
		c->delivering = 0;
		cpu_vmexit(c, EXIT_TRIPLE_FAULT, 0);
	}
	cpu_deliver(c, &ev);
}

/* ---- delivery ---- */

static void deliver_real(struct cpu *c, const struct cpu_event *ev, uint64_t ret)
{
	uint32_t off = (uint32_t)ev->vector * 4;
	if (off + 3 > c->idtr.limit)
		cpu_fault(c, EX_GP, (uint32_t)ev->vector * 8 + 2);
	uint16_t ip = (uint16_t)lin_read(c, c->idtr.base + off, 2, ACC_R | ACC_SYS);
	uint16_t cs = (uint16_t)lin_read(c, c->idtr.base + off + 2, 2, ACC_R | ACC_SYS);
	struct stk s;
	stk_init(c, &s);
	stk_push(c, &s, 2, cpu_get_rflags(c));
	stk_push(c, &s, 2, c->seg[S_CS].sel);
	stk_push(c, &s, 2, ret);
	stk_commit(c, &s);
	load_seg_real(c, S_CS, cs);
	c->rip = ip;
	c->flags &= ~(uint64_t)(F_IF | F_TF | F_AC | F_RF);
}

/* The inner-level stack pointer from the TSS (32-bit or 16-bit TSS, or 64-bit RSPn/ISTn). */
static uint64_t tss_read(struct cpu *c, uint32_t off, int size)
{
	const struct seg *tr = &c->seg[S_TR];
	if ((tr->attr & SEG_UNUSABLE) || off + (uint32_t)size - 1 > tr->limit)
		cpu_fault(c, EX_TS, tr->sel & 0xfffc);
	return lin_read(c, tr->base + off, size, ACC_R | ACC_SYS);
}

struct gate {
	uint16_t sel;
	uint64_t off;
	int type, dpl, ist, size;
};

static void read_gate(struct cpu *c, const struct cpu_event *ev, struct gate *g, uint32_t ext)
{
	int lm = !!(c->efer & EFER_LMA);
	uint32_t esz = lm ? 16 : 8, off = (uint32_t)ev->vector * esz;
	uint32_t err = (uint32_t)ev->vector * 8 + 2 + ext;
	if (off + esz - 1 > c->idtr.limit)
		cpu_fault(c, EX_GP, err);
	uint64_t d = lin_read(c, c->idtr.base + off, 8, ACC_R | ACC_SYS);
	g->type = (int)((d >> 40) & 0x1f);
	g->dpl = (int)((d >> 45) & 3);
	g->sel = (uint16_t)(d >> 16);
	g->off = (d & 0xffff) | ((d >> 48) << 16);
	g->ist = lm ? (int)((d >> 32) & 7) : 0;
	if (lm) {
		g->off |= lin_read(c, c->idtr.base + off + 8, 8, ACC_R | ACC_SYS) << 32;
		if (g->type != 0xe && g->type != 0xf)
			cpu_fault(c, EX_GP, err);
		g->size = 8;
	} else {
		if (g->type == 0x5)     /* task gate: no task switching */
			cpu_fault(c, EX_GP, err);
		if (g->type != 0x6 && g->type != 0x7 && g->type != 0xe && g->type != 0xf)
			cpu_fault(c, EX_GP, err);
		g->size = (g->type & 8) ? 4 : 2;
	}
	if ((ev->type == EV_SWINT || ev->type == EV_SWEXC) && g->dpl < c->cpl)
		cpu_fault(c, EX_GP, err);
	if (!((d >> 47) & 1))
		cpu_fault(c, EX_NP, err);
}

static void deliver_protected(struct cpu *c, const struct cpu_event *ev, uint64_t ret)
{
	int lm = !!(c->efer & EFER_LMA);
	uint32_t ext = (ev->type == EV_SWINT || ev->type == EV_SWEXC) ? 0 : 1;
	struct gate g;
	read_gate(c, ev, &g, ext);

	if (!(g.sel & ~3))
		cpu_fault(c, EX_GP, ext);
	uint64_t d = read_descriptor(c, g.sel, EX_GP);
	struct seg cs;
	seg_from_desc(&cs, g.sel, d);
	int dpl = SEG_DPL(cs.attr);
	if (!(cs.attr & SEG_S) || !(SEG_TYPE(cs.attr) & 8) || dpl > c->cpl)
		cpu_fault(c, EX_GP, (g.sel & 0xfffc) + ext);
	if (!(cs.attr & SEG_P))
		cpu_fault(c, EX_NP, (g.sel & 0xfffc) + ext);
	if (lm && (!(cs.attr & SEG_L) || (cs.attr & SEG_DB)))
		cpu_fault(c, EX_GP, (g.sel & 0xfffc) + ext);
	if (c->mode == MODE_VM86)
		cpu_fault(c, EX_GP, 0); /* interrupts from virtual-8086 mode: unsupported */

	int new_cpl = (SEG_TYPE(cs.attr) & 4) ? c->cpl : dpl;
	uint64_t old_ss = c->seg[S_SS].sel, old_sp = c->gpr[R_SP];
	struct stk s;
	struct seg ss = c->seg[S_SS];
	int switch_stack = new_cpl < c->cpl;
	stk_init(c, &s);
	s.acc = new_cpl < 3 ? ACC_SYS : 0;

	if (lm) {
		if (switch_stack)
			s.sp = tss_read(c, 4 + (uint32_t)new_cpl * 8, 8);
		if (g.ist)
			s.sp = tss_read(c, 0x24 + (uint32_t)(g.ist - 1) * 8, 8);
		s.sp &= ~0xfULL;
		s.base = 0;
		s.mask = ~0ULL;
		if (switch_stack) {
			ss.sel = (uint16_t)new_cpl;
			ss.attr = SEG_UNUSABLE | SEG_DB | ((uint32_t)new_cpl << 5);
			ss.base = 0;
		}
	} else if (switch_stack) {
		uint16_t nss;
		if (SEG_TYPE(c->seg[S_TR].attr) & 8) {  /* 32-bit TSS */
			s.sp = tss_read(c, 4 + (uint32_t)new_cpl * 8, 4);
			nss = (uint16_t)tss_read(c, 8 + (uint32_t)new_cpl * 8, 2);
		} else {
			s.sp = tss_read(c, 2 + (uint32_t)new_cpl * 4, 2);
			nss = (uint16_t)tss_read(c, 4 + (uint32_t)new_cpl * 4, 2);
		}
		if (!(nss & ~3) || (nss & 3) != new_cpl)
			cpu_fault(c, EX_TS, nss & 0xfffc);
		uint64_t sd = read_descriptor(c, nss, EX_TS);
		seg_from_desc(&ss, nss, sd);
		if (!(ss.attr & SEG_S) || (SEG_TYPE(ss.attr) & 8) || !(SEG_TYPE(ss.attr) & 2) ||
		    SEG_DPL(ss.attr) != new_cpl)
			cpu_fault(c, EX_TS, nss & 0xfffc);
		if (!(ss.attr & SEG_P))
			cpu_fault(c, EX_SS, nss & 0xfffc);
		s.base = ss.base;
		s.mask = (ss.attr & SEG_DB) ? 0xffffffffULL : 0xffffULL;
	}

	int sz = g.size;
	if (lm || switch_stack) {
		stk_push(c, &s, sz, old_ss);
		stk_push(c, &s, sz, old_sp);
	}
	stk_push(c, &s, sz, cpu_get_rflags(c));
	stk_push(c, &s, sz, c->seg[S_CS].sel);
	stk_push(c, &s, sz, ret);
	if (ev->has_err)
		stk_push(c, &s, sz, ev->err);

	/* Commit: nothing below can fault. */
	if (switch_stack) {
		c->seg[S_SS] = ss;
	}
	cs.sel = (uint16_t)((g.sel & ~3) | new_cpl);
	cs.attr |= 1;   /* accessed */
	c->seg[S_CS] = cs;
	c->cpl = new_cpl;
	cpu_update_mode(c);
	c->gpr[R_SP] = s.sp;
	c->rip = lm ? g.off : g.size == 2 ? g.off & 0xffff : (uint32_t)g.off;
	c->flags &= ~(uint64_t)(F_TF | F_NT | F_RF | F_VM);
	if (!(g.type & 1))
		c->flags &= ~(uint64_t)F_IF;
}

void cpu_deliver(struct cpu *c, const struct cpu_event *ev)
{
	uint64_t ret = c->rip;
	if (ev->type == EV_SWINT || ev->type == EV_SWEXC)
		ret += ev->insn_len;
	flags_eager(c);
	c->delivering = ev->vector + 1;
	if (c->mode == MODE_REAL) {
		deliver_real(c, ev, ret);
	} else {
		deliver_protected(c, ev, ret);
	}
	c->delivering = 0;
	if (ev->type == EV_NMI)
		c->nmi_blocked = 1;
	c->intr_shadow = 0;
	c->halted = 0;
}
