/*
 * Integer arithmetic and logic: ADD/OR/ADC/SBB/AND/SUB/XOR/CMP, TEST,
 * INC/DEC, NEG/NOT, the BCD adjustments, and the lazy flags they leave.
 *
 * Flags are lazy: an arithmetic instruction records its kind, size,
 * operands and result, and the six arithmetic flags are computed only
 * when something reads them (Jcc, PUSHF, ADC, ...). Most results are
 * overwritten before anyone looks.
 */
#include "internal.h"
#include "insns.h"

enum { ALU_ADD, ALU_OR, ALU_ADC, ALU_SBB, ALU_AND, ALU_SUB, ALU_XOR, ALU_CMP,
       ALU_TEST };     /* AND that keeps only the flags */

uint64_t flags_arith(struct cpu *c)
{
	int size = 1 << (c->lf_op & 3);
	uint64_t mask = size_mask(size), sign = 1ULL << (size * 8 - 1);
	uint64_t res = c->lf_res & mask, a = c->lf_a & mask, b = c->lf_b & mask;
	uint64_t f = szp_flags(res, size), cf = 0, of = 0, af = 0;

	switch (LF_KIND(c->lf_op)) {
	case LF_ADD:
	case LF_ADC:
		cf = ((a & b) | ((a | b) & ~res)) & sign;
		of = (a ^ res) & (b ^ res) & sign;
		af = (a ^ b ^ res) & 0x10;
		break;
	case LF_SUB:
	case LF_SBB:
		cf = ((~a & b) | ((~a | b) & res)) & sign;
		of = (a ^ b) & (a ^ res) & sign;
		af = (a ^ b ^ res) & 0x10;
		break;
	case LF_INC:
		cf = c->flags & F_CF;
		of = res == sign;
		af = (res & 0xf) == 0;
		break;
	case LF_DEC:
		cf = c->flags & F_CF;
		of = res == sign - 1;
		af = (res & 0xf) == 0xf;
		break;
	case LF_SHL:    /* b: the count, 1-31 or 1-63 */
		cf = b <= (uint64_t)size * 8 ? (a >> (size * 8 - b)) & 1 : 0;
		of = !!(res & sign) ^ !!cf;
		break;
	case LF_SHR:
		cf = (a >> (b - 1)) & 1;
		of = a & sign;
		break;
	case LF_SAR: {
		int64_t sa = (int64_t)sign_extend(a, size);
		cf = b < (uint64_t)size * 8 ? (uint64_t)(sa >> (b - 1)) & 1 : sa < 0;
		break;
	}
	case LF_MUL:    /* a: the product did not fit */
		cf = of = a;
		break;
	default:        /* LF_LOGIC */
		break;
	}
	if (c->lf_op & LF_EAGER_CFOF) {
		cf = c->flags & F_CF;
		of = c->flags & F_OF;
	}
	return f | (cf ? F_CF : 0) | (of ? F_OF : 0) | (af ? F_AF : 0);
}

/*
 * Conditions straight from the lazy state where that is exact (CMP/SUB,
 * logic ops, and ZF/SF of anything), else from the computed flags.
 */
static int cond_lazy(struct cpu *c, int cc, int *r)
{
	int size = 1 << (c->lf_op & 3);
	uint64_t m = size_mask(size);
	uint64_t res = c->lf_res & m;
	int kind = (int)(c->lf_op & ~3u);
	switch (cc >> 1) {
	case 2: *r = res == 0; return 1;
	case 4: *r = (int)((res >> (size * 8 - 1)) & 1); return 1;
	}
	if (kind == LF_SUB) {
		uint64_t a = c->lf_a & m, b = c->lf_b & m;
		int64_t sa = (int64_t)sign_extend(a, size), sb = (int64_t)sign_extend(b, size);
		switch (cc >> 1) {
		case 1: *r = a < b; return 1;
		case 3: *r = a <= b; return 1;
		case 6: *r = sa < sb; return 1;
		case 7: *r = sa <= sb; return 1;
		}
	} else if (kind == LF_LOGIC) {
		int sf = (int)((res >> (size * 8 - 1)) & 1);
		switch (cc >> 1) {
		case 0:
		case 1: *r = 0; return 1;
		case 3: *r = res == 0; return 1;
		case 6: *r = sf; return 1;
		case 7: *r = res == 0 || sf; return 1;
		}
	}
	return 0;
}

int cond_true(struct cpu *c, int cc)
{
	int r;
	if (c->lf_op && cond_lazy(c, cc, &r))
		return r ^ (cc & 1);
	uint64_t f = c->lf_op ? flags_arith(c) : c->flags;
	switch (cc >> 1) {
	case 0: r = !!(f & F_OF); break;
	case 1: r = !!(f & F_CF); break;
	case 2: r = !!(f & F_ZF); break;
	case 3: r = !!(f & (F_CF | F_ZF)); break;
	case 4: r = !!(f & F_SF); break;
	case 5: r = !!(f & F_PF); break;
	case 6: r = !(f & F_SF) != !(f & F_OF); break;
	default: r = (f & F_ZF) || (!(f & F_SF) != !(f & F_OF)); break;
	}
	return r ^ (cc & 1);
}

/* One ALU operation; sets lazy flags and returns the result. */
/* nf: the flags are dead (see the liveness pass in exec.c): leave them. */
static ALWAYS_INLINE uint64_t alu_nf(struct cpu *c, int kind, int size, uint64_t a, uint64_t b, int nf)
{
	uint64_t m = size_mask(size), r;
	a &= m;
	b &= m;
	switch (kind) {
	case ALU_ADD:
		r = (a + b) & m;
		if (!nf)
			set_lazy(c, LF_ADD, size, r, a, b);
		return r;
	case ALU_ADC:
		r = (a + b + (uint64_t)get_cf(c)) & m;
		set_lazy(c, LF_ADC, size, r, a, b);
		return r;
	case ALU_SUB:
	case ALU_CMP:
		r = (a - b) & m;
		if (!nf)
			set_lazy(c, LF_SUB, size, r, a, b);
		return r;
	case ALU_SBB:
		r = (a - b - (uint64_t)get_cf(c)) & m;
		set_lazy(c, LF_SBB, size, r, a, b);
		return r;
	case ALU_OR: r = a | b; break;
	case ALU_AND:
	case ALU_TEST: r = a & b; break;
	default: r = a ^ b; break;
	}
	/* Logic results need no operands: CF, OF and AF are clear. */
	if (!nf) {
		c->lf_op = LF_LOGIC | size_log2(size);
		c->lf_res = r;
	}
	return r;
}

static ALWAYS_INLINE uint64_t alu(struct cpu *c, int kind, int size, uint64_t a, uint64_t b)
{
	return alu_nf(c, kind, size, a, b, 0);
}

static uint64_t alu_rmw(struct cpu *c, int kind, int size, uint64_t dst, uint64_t src)
{
	return alu(c, kind, size, dst, src);
}

/* alu() with run-time arguments, out of line for the generic handlers. */
static __attribute__((noinline)) uint64_t alu_any(struct cpu *c, int kind, int size, uint64_t a, uint64_t b)
{
	return alu(c, kind, size, a, b);
}

/* 00-3F: op r/m, reg (direction bit clear) */
void op_alu_rm_r(struct cpu *c, const struct insn *in)
{
	int kind = (in->op >> 3) & 7, sz = in->opsize;
	uint64_t src = reg_read(c, in->reg, sz);
	if (in->mod == 3) {
		uint64_t r = alu_any(c, kind, sz, reg_read(c, in->rm, sz), src);
		if (kind != ALU_CMP)
			reg_write(c, in->rm, sz, r);
	} else if (kind == ALU_CMP) {
		alu_any(c, kind, sz, rm_read(c, in, sz), src);
	} else {
		rm_rmw(c, in, sz, alu_rmw, kind, src, in->pfx & PFX_LOCK);
	}
}

/* 00-3F: op reg, r/m */
void op_alu_r_rm(struct cpu *c, const struct insn *in)
{
	int kind = (in->op >> 3) & 7, sz = in->opsize;
	uint64_t r = alu_any(c, kind, sz, reg_read(c, in->reg, sz), rm_read(c, in, sz));
	if (kind != ALU_CMP)
		reg_write(c, in->reg, sz, r);
}

void op_alu_acc_imm(struct cpu *c, const struct insn *in)
{
	int kind = (in->op >> 3) & 7, sz = in->opsize;
	uint64_t r = alu_any(c, kind, sz, reg_read(c, R_AX, sz), in->imm);
	if (kind != ALU_CMP)
		reg_write(c, R_AX, sz, r);
}

/* 80-83: group 1, the operation in ModRM.reg */
void op_alu_rm_imm(struct cpu *c, const struct insn *in)
{
	int kind = in->reg & 7, sz = in->opsize;
	if (in->mod == 3) {
		uint64_t r = alu_any(c, kind, sz, reg_read(c, in->rm, sz), in->imm);
		if (kind != ALU_CMP)
			reg_write(c, in->rm, sz, r);
	} else if (kind == ALU_CMP) {
		alu_any(c, kind, sz, rm_read(c, in, sz), in->imm);
	} else {
		rm_rmw(c, in, sz, alu_rmw, kind, in->imm, in->pfx & PFX_LOCK);
	}
}

static ALWAYS_INLINE uint64_t incdec_nf(struct cpu *c, int dec, int size, uint64_t dst, int nf)
{
	uint64_t r = (dec ? dst - 1 : dst + 1) & size_mask(size);
	if (nf)
		return r;
	/* INC/DEC keep CF: fix it in RFLAGS before the lazy state moves on. */
	uint64_t cf = (uint64_t)get_cf(c);
	c->flags = (c->flags & ~(uint64_t)F_CF) | cf;
	set_lazy(c, dec ? LF_DEC : LF_INC, size, r, dst, 1);
	return r;
}

static ALWAYS_INLINE uint64_t incdec_body(struct cpu *c, int dec, int size, uint64_t dst)
{
	return incdec_nf(c, dec, size, dst, 0);
}

static uint64_t incdec(struct cpu *c, int dec, int size, uint64_t dst, uint64_t src)
{
	(void)src;
	return incdec_body(c, dec, size, dst);
}

void op_inc_r(struct cpu *c, const struct insn *in)
{
	reg_write(c, in->rm, in->opsize, incdec(c, 0, in->opsize, reg_read(c, in->rm, in->opsize), 0));
}

void op_dec_r(struct cpu *c, const struct insn *in)
{
	reg_write(c, in->rm, in->opsize, incdec(c, 1, in->opsize, reg_read(c, in->rm, in->opsize), 0));
}

void op_inc_rm(struct cpu *c, const struct insn *in)
{
	rm_rmw(c, in, in->opsize, incdec, 0, 0, in->pfx & PFX_LOCK);
}

void op_dec_rm(struct cpu *c, const struct insn *in)
{
	rm_rmw(c, in, in->opsize, incdec, 1, 0, in->pfx & PFX_LOCK);
}

void op_test_rm_r(struct cpu *c, const struct insn *in)
{
	alu_any(c, ALU_AND, in->opsize, rm_read(c, in, in->opsize), reg_read(c, in->reg, in->opsize));
}

void op_test_acc_imm(struct cpu *c, const struct insn *in)
{
	alu_any(c, ALU_AND, in->opsize, reg_read(c, R_AX, in->opsize), in->imm);
}

void op_test_rm_imm(struct cpu *c, const struct insn *in)
{
	alu_any(c, ALU_AND, in->opsize, rm_read(c, in, in->opsize), in->imm);
}

static uint64_t not_rmw(struct cpu *c, int arg, int size, uint64_t dst, uint64_t src)
{
	(void)c; (void)arg; (void)src;
	return ~dst & size_mask(size);
}

static uint64_t neg_rmw(struct cpu *c, int arg, int size, uint64_t dst, uint64_t src)
{
	(void)arg; (void)src;
	return alu_any(c, ALU_SUB, size, 0, dst);
}

void op_not(struct cpu *c, const struct insn *in)
{
	rm_rmw(c, in, in->opsize, not_rmw, 0, 0, in->pfx & PFX_LOCK);
}

void op_neg(struct cpu *c, const struct insn *in)
{
	rm_rmw(c, in, in->opsize, neg_rmw, 0, 0, in->pfx & PFX_LOCK);
}

/*
 * ---- Forms specialized at decode time ----
 *
 * alu_select() picks these for the common cases: the operation, the
 * operand size and register-or-memory are constants in each, so the
 * switches of the generic path fold away. Memory forms exist for 64-bit
 * code only; on a TLB miss they hand the instruction to the generic
 * handler, which starts it again from scratch (nothing was written yet).
 * LOCK and the other modes' memory operands stay generic.
 */

static ALWAYS_INLINE void alu_to_reg(struct cpu *c, int kind, int size, int r, uint64_t a, uint64_t b,
				       int nf)
{
	uint64_t v = alu_nf(c, kind, size, a, b, nf);
	if (kind != ALU_CMP && kind != ALU_TEST)
		reg_write(c, r, size, v);
}

/* r/m (a register) op= reg */
static ALWAYS_INLINE void alu_rr(struct cpu *c, const struct insn *in, int kind, int size, int nf)
{
	alu_to_reg(c, kind, size, in->rm, reg_read(c, in->rm, size), reg_read(c, in->reg, size), nf);
}

/* r/m (a register) op= imm */
static ALWAYS_INLINE void alu_ri(struct cpu *c, const struct insn *in, int kind, int size, int nf)
{
	alu_to_reg(c, kind, size, in->rm, reg_read(c, in->rm, size), in->imm, nf);
}

/* reg op= memory */
static ALWAYS_INLINE void alu_rm(struct cpu *c, const struct insn *in, int kind, int size)
{
	uint64_t v = lin_read(c, ea_lin64(c, in), size, ACC_R);
	alu_to_reg(c, kind, size, in->reg, reg_read(c, in->reg, size), v, 0);
}

/* memory op= src; generic: the handler that does it all */
static ALWAYS_INLINE void alu_mem(struct cpu *c, const struct insn *in, int kind, int size,
				  uint64_t src, insn_fn *generic)
{
	uint64_t lin = ea_lin64(c, in);
	if (kind == ALU_CMP || kind == ALU_TEST) {
		alu(c, kind, size, lin_read(c, lin, size, ACC_R), src);
		return;
	}
	uint8_t *p = tlb_write_ptr(c, lin, size);
	if (unlikely(!p)) {
		generic(c, in);
		return;
	}
	host_store(p, size, alu(c, kind, size, host_load(p, size), src));
}

static ALWAYS_INLINE void alu_mr(struct cpu *c, const struct insn *in, int kind, int size)
{
	alu_mem(c, in, kind, size, reg_read(c, in->reg, size),
		kind == ALU_TEST ? op_test_rm_r : op_alu_rm_r);
}

static ALWAYS_INLINE void alu_mi(struct cpu *c, const struct insn *in, int kind, int size)
{
	alu_mem(c, in, kind, size, in->imm, kind == ALU_TEST ? op_test_rm_imm : op_alu_rm_imm);
}

/*
 * One handler per form, operation and size; tables [operation][log2 size].
 * The register forms are pure (internal.h).
 */
#define ALU_FN(form, k, K, sz) \
	static void alu_##form##_##k##sz(struct cpu *c, const struct insn *in) \
	{ alu_##form(c, in, K, sz); insn_next(c, in); }
#define ALU_PURE_FN(form, k, K, sz) PURE_FN(alu_##form##_##k##sz, alu_##form(c, in, K, sz, nf))
#define ALU_FNS(M, form, k, K) M(form, k, K, 1) M(form, k, K, 2) M(form, k, K, 4) M(form, k, K, 8)
#define ALU_KINDS(M, form) ALU_FNS(M, form, add, ALU_ADD) ALU_FNS(M, form, or, ALU_OR) \
	ALU_FNS(M, form, and, ALU_AND) ALU_FNS(M, form, adc, ALU_ADC) ALU_FNS(M, form, sbb, ALU_SBB) \
	ALU_FNS(M, form, sub, ALU_SUB) ALU_FNS(M, form, xor, ALU_XOR) ALU_FNS(M, form, cmp, ALU_CMP) \
	ALU_FNS(M, form, test, ALU_TEST)
ALU_KINDS(ALU_PURE_FN, rr)
ALU_KINDS(ALU_PURE_FN, ri)
ALU_KINDS(ALU_FN, rm)
ALU_KINDS(ALU_FN, mr)
ALU_KINDS(ALU_FN, mi)

#define ALU_ROW(form, k) { alu_##form##_##k##1, alu_##form##_##k##2, alu_##form##_##k##4, alu_##form##_##k##8 }
#define ALU_TABLE(form) { [ALU_ADD] = ALU_ROW(form, add), [ALU_OR] = ALU_ROW(form, or), \
	[ALU_ADC] = ALU_ROW(form, adc), [ALU_SBB] = ALU_ROW(form, sbb), \
	[ALU_AND] = ALU_ROW(form, and), [ALU_SUB] = ALU_ROW(form, sub), [ALU_XOR] = ALU_ROW(form, xor), \
	[ALU_CMP] = ALU_ROW(form, cmp), [ALU_TEST] = ALU_ROW(form, test) }
enum { FORM_RR, FORM_RI, FORM_RM, FORM_MR, FORM_MI, NFORMS };
static insn_fn *const alu_forms[NFORMS][ALU_TEST + 1][4] = {
	[FORM_RR] = ALU_TABLE(rr), [FORM_RI] = ALU_TABLE(ri), [FORM_RM] = ALU_TABLE(rm),
	[FORM_MR] = ALU_TABLE(mr), [FORM_MI] = ALU_TABLE(mi),
};

/* INC/DEC of a register (pure), or of memory in 64-bit code. */
static ALWAYS_INLINE void incdec_r(struct cpu *c, const struct insn *in, int dec, int size, int nf)
{
	reg_write(c, in->rm, size, incdec_nf(c, dec, size, reg_read(c, in->rm, size), nf));
}

static ALWAYS_INLINE void incdec_m(struct cpu *c, const struct insn *in, int dec, int size)
{
	uint8_t *p = tlb_write_ptr(c, ea_lin64(c, in), size);
	if (unlikely(!p)) {
		(dec ? op_dec_rm : op_inc_rm)(c, in);
		return;
	}
	host_store(p, size, incdec_body(c, dec, size, host_load(p, size)));
}

#define INCDEC_R_FN(k, dec, sz) PURE_FN(k##_r##sz, incdec_r(c, in, dec, sz, nf))
#define INCDEC_M_FN(k, dec, sz) \
	static void k##_m##sz(struct cpu *c, const struct insn *in) \
	{ incdec_m(c, in, dec, sz); insn_next(c, in); }
#define INCDEC_FNS(M, k, dec) M(k, dec, 1) M(k, dec, 2) M(k, dec, 4) M(k, dec, 8)
INCDEC_FNS(INCDEC_R_FN, inc, 0)
INCDEC_FNS(INCDEC_R_FN, dec, 1)
INCDEC_FNS(INCDEC_M_FN, inc, 0)
INCDEC_FNS(INCDEC_M_FN, dec, 1)
/* [register or memory][dec][log2 size] */
static insn_fn *const incdec_forms[2][2][4] = {
	{ { inc_r1, inc_r2, inc_r4, inc_r8 }, { dec_r1, dec_r2, dec_r4, dec_r8 } },
	{ { inc_m1, inc_m2, inc_m4, inc_m8 }, { dec_m1, dec_m2, dec_m4, dec_m8 } },
};

/* NOT and NEG of a register (pure), or of memory in 64-bit code. */
static ALWAYS_INLINE void notneg_r(struct cpu *c, const struct insn *in, int neg, int size, int nf)
{
	uint64_t v = reg_read(c, in->rm, size);
	reg_write(c, in->rm, size, neg ? alu_nf(c, ALU_SUB, size, 0, v, nf) : ~v);
}

static ALWAYS_INLINE void notneg_m(struct cpu *c, const struct insn *in, int neg, int size)
{
	uint8_t *p = tlb_write_ptr(c, ea_lin64(c, in), size);
	if (unlikely(!p)) {
		(neg ? op_neg : op_not)(c, in);
		return;
	}
	uint64_t v = host_load(p, size);
	host_store(p, size, neg ? alu(c, ALU_SUB, size, 0, v) : ~v);
}

#define NOTNEG_R_FN(k, neg, sz) PURE_FN(k##_r##sz, notneg_r(c, in, neg, sz, nf))
#define NOTNEG_M_FN(k, neg, sz) \
	static void k##_m##sz(struct cpu *c, const struct insn *in) \
	{ notneg_m(c, in, neg, sz); insn_next(c, in); }
INCDEC_FNS(NOTNEG_R_FN, not, 0)
INCDEC_FNS(NOTNEG_R_FN, neg, 1)
INCDEC_FNS(NOTNEG_M_FN, not, 0)
INCDEC_FNS(NOTNEG_M_FN, neg, 1)
/* [register or memory][neg][log2 size] */
static insn_fn *const notneg_forms[2][2][4] = {
	{ { not_r1, not_r2, not_r4, not_r8 }, { neg_r1, neg_r2, neg_r4, neg_r8 } },
	{ { not_m1, not_m2, not_m4, not_m8 }, { neg_m1, neg_m2, neg_m4, neg_m8 } },
};

/* ADC and SBB read CF; the others overwrite every flag; INC/DEC keep CF. */
#define ALU_ENTRIES(form, k, pf, regs) PURE_ENTRY(alu_##form##_##k##1, pf, regs), \
	PURE_ENTRY(alu_##form##_##k##2, pf, regs), PURE_ENTRY(alu_##form##_##k##4, pf, regs), \
	PURE_ENTRY(alu_##form##_##k##8, pf, regs)
#define ALU_PURE_ROWS(form, regs) ALU_ENTRIES(form, add, PF_WRITE, regs), ALU_ENTRIES(form, or, PF_WRITE, regs), \
	ALU_ENTRIES(form, and, PF_WRITE, regs), ALU_ENTRIES(form, adc, PF_READ, regs), \
	ALU_ENTRIES(form, sbb, PF_READ, regs), ALU_ENTRIES(form, sub, PF_WRITE, regs), \
	ALU_ENTRIES(form, xor, PF_WRITE, regs), ALU_ENTRIES(form, cmp, PF_WRITE, regs), \
	ALU_ENTRIES(form, test, PF_WRITE, regs)
#define INCDEC_ENTRIES(k) PURE_ENTRY(k##_r1, PF_PASS, JR_RM), PURE_ENTRY(k##_r2, PF_PASS, JR_RM), \
	PURE_ENTRY(k##_r4, PF_PASS, JR_RM), PURE_ENTRY(k##_r8, PF_PASS, JR_RM)
#define NOTNEG_ENTRIES(k, pf) PURE_ENTRY(k##_r1, pf, JR_RM), PURE_ENTRY(k##_r2, pf, JR_RM), \
	PURE_ENTRY(k##_r4, pf, JR_RM), PURE_ENTRY(k##_r8, pf, JR_RM)
const struct pure_variants alu_pure[] = {
	ALU_PURE_ROWS(rr, JR_REG | JR_RM), ALU_PURE_ROWS(ri, JR_RM), INCDEC_ENTRIES(inc), INCDEC_ENTRIES(dec),
	NOTNEG_ENTRIES(not, PF_NONE), NOTNEG_ENTRIES(neg, PF_WRITE),
};
const unsigned alu_npure = sizeof(alu_pure) / sizeof(alu_pure[0]);

/* reg op= memory reads; memory op= reads and writes, but CMP and TEST only read. */
#define ALU_MEM(form, k, mem, regs, pf) { alu_##form##_##k##1, mem, 0, regs, pf, 0 }, \
	{ alu_##form##_##k##2, mem, 0, regs, pf, 0 }, { alu_##form##_##k##4, mem, 0, regs, pf, 0 }, \
	{ alu_##form##_##k##8, mem, 0, regs, pf, 0 }
#define ALU_MEM_ROWS(form, mem, regs) ALU_MEM(form, add, mem, regs, PF_WRITE), \
	ALU_MEM(form, or, mem, regs, PF_WRITE), ALU_MEM(form, and, mem, regs, PF_WRITE), \
	ALU_MEM(form, adc, mem, regs, PF_READ), ALU_MEM(form, sbb, mem, regs, PF_READ), \
	ALU_MEM(form, sub, mem, regs, PF_WRITE), ALU_MEM(form, xor, mem, regs, PF_WRITE), \
	ALU_MEM(form, cmp, JM_READ, regs, PF_WRITE), ALU_MEM(form, test, JM_READ, regs, PF_WRITE)
/* The unary ones: INC and DEC keep CF, NEG writes every flag, NOT none. */
#define UNARY_MEM(k, pf) { k##_m1, JM_WRITE, 0, 0, pf, 0 }, { k##_m2, JM_WRITE, 0, 0, pf, 0 }, \
	{ k##_m4, JM_WRITE, 0, 0, pf, 0 }, { k##_m8, JM_WRITE, 0, 0, pf, 0 }
const struct mem_form alu_mem_forms[] = {
	ALU_MEM_ROWS(rm, JM_READ, JR_REG), ALU_MEM_ROWS(mr, JM_WRITE, JR_REG), ALU_MEM_ROWS(mi, JM_WRITE, 0),
	UNARY_MEM(inc, PF_PASS), UNARY_MEM(dec, PF_PASS), UNARY_MEM(neg, PF_WRITE), UNARY_MEM(not, PF_NONE),
};
const unsigned alu_nmem = sizeof(alu_mem_forms) / sizeof(alu_mem_forms[0]);

static insn_fn *alu_pick(struct insn *in, int form_reg, int form_mem, int kind, int code_size)
{
	if (in->mod == 3)
		return alu_forms[form_reg][kind][size_log2(in->opsize)];
	if (fast_mem64(in, code_size))
		return alu_forms[form_mem][kind][size_log2(in->opsize)];
	return NULL;
}

insn_fn *alu_select(struct insn *in, insn_fn *fn, int code_size)
{
	int kind = (in->op >> 3) & 7;
	if (fn == op_alu_rm_r)
		return alu_pick(in, FORM_RR, FORM_MR, kind, code_size);
	if (fn == op_alu_r_rm) {
		if (in->mod == 3) {     /* reg op= reg: the same as the other direction, swapped */
			uint8_t r = in->reg;
			in->reg = in->rm;
			in->rm = r;
		}
		return alu_pick(in, FORM_RR, FORM_RM, kind, code_size);
	}
	if (fn == op_alu_rm_imm)
		return alu_pick(in, FORM_RI, FORM_MI, in->reg & 7, code_size);
	if (fn == op_alu_acc_imm || fn == op_test_acc_imm) {
		in->mod = 3;
		in->rm = R_AX;
		return alu_pick(in, FORM_RI, FORM_MI, fn == op_test_acc_imm ? ALU_TEST : kind, code_size);
	}
	if (fn == op_test_rm_r)
		return alu_pick(in, FORM_RR, FORM_MR, ALU_TEST, code_size);
	if (fn == op_test_rm_imm)
		return alu_pick(in, FORM_RI, FORM_MI, ALU_TEST, code_size);
	if (fn == op_inc_r || fn == op_dec_r)
		return incdec_forms[0][fn == op_dec_r][size_log2(in->opsize)];
	if (fn == op_inc_rm || fn == op_dec_rm) {
		if (in->mod == 3)
			return incdec_forms[0][fn == op_dec_rm][size_log2(in->opsize)];
		if (fast_mem64(in, code_size))
			return incdec_forms[1][fn == op_dec_rm][size_log2(in->opsize)];
	}
	if (fn == op_not || fn == op_neg) {
		if (in->mod == 3)
			return notneg_forms[0][fn == op_neg][size_log2(in->opsize)];
		if (fast_mem64(in, code_size))
			return notneg_forms[1][fn == op_neg][size_log2(in->opsize)];
	}
	return NULL;
}

/* ---- BCD adjustments (legacy modes only) ---- */

void op_daa(struct cpu *c, const struct insn *in)
{
	(void)in;
	flags_eager(c);
	uint8_t al = (uint8_t)c->gpr[R_AX], old = al;
	int cf = c->flags & F_CF, af = 0;
	if ((al & 0xf) > 9 || (c->flags & F_AF)) {
		al += 6;
		af = 1;
	}
	if (old > 0x99 || cf) {
		al += 0x60;
		cf = 1;
	} else {
		cf = 0;
	}
	reg_write(c, R_AX, 1, al);
	set_flags(c, szp_flags(al, 1) | (cf ? F_CF : 0) | (af ? F_AF : 0));
}

void op_das(struct cpu *c, const struct insn *in)
{
	(void)in;
	flags_eager(c);
	uint8_t al = (uint8_t)c->gpr[R_AX], old = al;
	int old_cf = c->flags & F_CF, cf = 0, af = 0;
	/* Unlike DAA, the borrow of the low-nibble step stays in CF (SDM). */
	if ((al & 0xf) > 9 || (c->flags & F_AF)) {
		cf = old_cf || al < 6;
		al -= 6;
		af = 1;
	}
	if (old > 0x99 || old_cf) {
		al -= 0x60;
		cf = 1;
	}
	reg_write(c, R_AX, 1, al);
	set_flags(c, szp_flags(al, 1) | (cf ? F_CF : 0) | (af ? F_AF : 0));
}

static void ascii_adjust(struct cpu *c, int sub)
{
	flags_eager(c);
	uint16_t ax = (uint16_t)c->gpr[R_AX];
	uint64_t f = c->flags & ~(uint64_t)F_ARITH;
	if ((ax & 0xf) > 9 || (c->flags & F_AF)) {
		ax = sub ? (uint16_t)(ax - 6) : (uint16_t)(ax + 0x106);
		if (sub)
			ax = (uint16_t)((ax & 0xff) | (((ax >> 8) - 1) << 8));
		f |= F_AF | F_CF;
	}
	ax &= 0xff0f;
	reg_write(c, R_AX, 2, ax);
	set_flags(c, f | szp_flags(ax, 1));
}

void op_aaa(struct cpu *c, const struct insn *in) { (void)in; ascii_adjust(c, 0); }
void op_aas(struct cpu *c, const struct insn *in) { (void)in; ascii_adjust(c, 1); }

void op_aam(struct cpu *c, const struct insn *in)
{
	uint8_t base = (uint8_t)in->imm, al = (uint8_t)c->gpr[R_AX];
	if (!base)
		cpu_fault_noerr(c, EX_DE);
	uint8_t q = al / base, r = al % base;
	reg_write(c, R_AX, 2, (uint16_t)(q << 8 | r));
	set_lazy(c, LF_LOGIC, 1, r, 0, 0);
}

void op_aad(struct cpu *c, const struct insn *in)
{
	uint16_t ax = (uint16_t)c->gpr[R_AX];
	uint8_t al = (uint8_t)((ax & 0xff) + (ax >> 8) * (uint8_t)in->imm);
	reg_write(c, R_AX, 2, al);
	set_lazy(c, LF_LOGIC, 1, al, 0, 0);
}

void op_salc(struct cpu *c, const struct insn *in)
{
	(void)in;
	reg_write(c, R_AX, 1, get_cf(c) ? 0xff : 0);
}
