/*
 * Shifts and rotates: group 2 (ROL/ROR/RCL/RCR/SHL/SHR/SAL/SAR) and the
 * double shifts SHLD/SHRD. A masked count of zero changes nothing, flags
 * included. Flags the SDM leaves undefined get the values the AMD/Intel
 * parts agree on where they do (AF cleared, OF from the last step).
 */
#include "internal.h"
#include "insns.h"

enum { SH_ROL, SH_ROR, SH_RCL, SH_RCR, SH_SHL, SH_SHR, SH_SAL, SH_SAR };

static uint64_t shift_flags(uint64_t res, int size, int cf, int of)
{
	return szp_flags(res, size) | (cf ? F_CF : 0) | (of ? F_OF : 0);
}

/* nf: the flags are dead (see the liveness pass in exec.c): leave them. */
static ALWAYS_INLINE uint64_t shift_nf(struct cpu *c, int kind, int size, uint64_t a, uint64_t src, int nf)
{
	int bits = size * 8;
	unsigned cnt = (unsigned)src & (size == 8 ? 63 : 31);
	uint64_t m = size_mask(size), sign = 1ULL << (bits - 1), r;
	int cf, of;

	a &= m;
	if (!cnt)
		return a;
	switch (kind) {
	case SH_ROL:
	case SH_ROR: {
		unsigned n = cnt % bits;
		if (kind == SH_ROL) {
			r = n ? ((a << n) | (a >> (bits - n))) & m : a;
			cf = r & 1;
			of = !!(r & sign) ^ cf;
		} else {
			r = n ? ((a >> n) | (a << (bits - n))) & m : a;
			cf = !!(r & sign);
			of = !!(r & sign) ^ !!(r & (sign >> 1));
		}
		if (nf)
			return r;
		/* The other flags stay as they are, lazy or not. */
		c->flags = (c->flags & ~(uint64_t)(F_CF | F_OF)) | (cf ? F_CF : 0) | (of ? F_OF : 0);
		if (c->lf_op)
			c->lf_op |= LF_EAGER_CFOF;
		return r;
	}
	case SH_RCL:
	case SH_RCR: {
		unsigned n = size < 4 ? cnt % (bits + 1) : cnt;
		flags_eager(c);
		cf = c->flags & F_CF;
		r = a;
		for (unsigned i = 0; i < n; i++) {
			int out;
			if (kind == SH_RCL) {
				out = !!(r & sign);
				r = ((r << 1) | (uint64_t)cf) & m;
			} else {
				out = r & 1;
				r = (r >> 1) | (cf ? sign : 0);
			}
			cf = out;
		}
		of = kind == SH_RCL ? (!!(r & sign) ^ cf) : (!!(r & sign) ^ !!(r & (sign >> 1)));
		c->flags = (c->flags & ~(uint64_t)(F_CF | F_OF)) | (cf ? F_CF : 0) | (of ? F_OF : 0);
		return r;
	}
	/* Shifts leave their flags lazy: flags_arith() knows LF_SHL/SHR/SAR. */
	case SH_SHL:
	case SH_SAL:
		r = (a << cnt) & m;     /* cnt <= 63 */
		if (!nf)
			set_lazy(c, LF_SHL, size, r, a, cnt);
		return r;
	case SH_SHR:
		r = a >> cnt;
		if (!nf)
			set_lazy(c, LF_SHR, size, r, a, cnt);
		return r;
	default: {      /* SAR */
		int64_t s = (int64_t)sign_extend(a, size);
		unsigned n = cnt < (unsigned)bits ? cnt : (unsigned)bits - 1;
		r = (uint64_t)(s >> n) & m;
		if (!nf)
			set_lazy(c, LF_SAR, size, r, a, cnt);
		return r;
	}
	}
}

static ALWAYS_INLINE uint64_t do_shift(struct cpu *c, int kind, int size, uint64_t a, uint64_t src)
{
	return shift_nf(c, kind, size, a, src, 0);
}

static __attribute__((noinline)) uint64_t shift_rmw(struct cpu *c, int kind, int size, uint64_t dst,
						    uint64_t src)
{
	return do_shift(c, kind, size, dst, src);
}

/* C0/C1 imm8, D0/D1 by one, D2/D3 by CL */
void op_shift(struct cpu *c, const struct insn *in)
{
	uint64_t cnt = in->op <= 0xc1 ? in->imm : in->op <= 0xd1 ? 1 : (uint8_t)c->gpr[R_CX];
	rm_rmw(c, in, in->opsize, shift_rmw, in->reg & 7, cnt, 0);
}

/*
 * SHLD/SHRD as one 128-bit shift: dst:src (SHLD) or src:dst (SHRD).
 * 16-bit counts above 16 are undefined; this returns bits of src again.
 */
static void shxd(struct cpu *c, const struct insn *in, int right)
{
	int size = in->opsize, bits = size * 8;
	unsigned cnt = (unsigned)(in->op & 1 ? (uint8_t)c->gpr[R_CX] : in->imm) & (size == 8 ? 63 : 31);
	uint64_t m = size_mask(size), sign = 1ULL << (bits - 1);
	uint64_t src = reg_read(c, in->reg, size);
	uint64_t lin = 0;

	if (!cnt) {
		if (in->mod == 3 && size == 4)  /* the register is still written: zero-extended */
			reg_write(c, in->rm, 4, reg_read(c, in->rm, 4));
		return;
	}
	if (in->mod != 3)
		lin = insn_ea(c, in);
	uint64_t dst = in->mod == 3 ? reg_read(c, in->rm, size) : mem_read(c, in->seg, lin, size);
	uint64_t r;
	int cf;
	if (!right) {
		if (size == 8)
			r = (uint64_t)((((unsigned __int128)dst << 64 | src) << cnt) >> 64);
		else
			r = (uint64_t)((((uint64_t)dst << bits | src) << cnt) >> bits) & m;
		if (cnt <= (unsigned)bits)
			cf = (int)((dst >> (bits - cnt)) & 1);
		else
			cf = (int)((src >> (2 * bits - cnt)) & 1);
	} else {
		if (size == 8)
			r = (uint64_t)(((unsigned __int128)src << 64 | dst) >> cnt);
		else
			r = (uint64_t)((((uint64_t)src << bits) | dst) >> cnt) & m;
		if (cnt <= (unsigned)bits)
			cf = (int)((dst >> (cnt - 1)) & 1);
		else
			cf = (int)((src >> (cnt - 1 - bits)) & 1);
	}
	r &= m;
	int of = !!((r ^ dst) & sign);
	if (in->mod == 3)
		reg_write(c, in->rm, size, r);
	else
		mem_write(c, in->seg, lin, size, r);
	set_flags(c, shift_flags(r, size, cf, of));
}

void op_shld(struct cpu *c, const struct insn *in) { shxd(c, in, 0); }
void op_shrd(struct cpu *c, const struct insn *in) { shxd(c, in, 1); }

/*
 * ---- Forms specialized at decode time (shift_select) ----
 *
 * Group 2 but RCL/RCR, with the operation, the operand size and the
 * count's source (an immediate, 1, or CL) as constants: a register
 * operand, or memory in 64-bit code (the generic handler takes over on
 * a TLB miss, before anything changed).
 */
static ALWAYS_INLINE uint64_t shift_count(struct cpu *c, const struct insn *in, int by_cl)
{
	return by_cl ? (uint8_t)c->gpr[R_CX] : in->imm;
}

static ALWAYS_INLINE void shift_r(struct cpu *c, const struct insn *in, int kind, int size, int by_cl, int nf)
{
	reg_write(c, in->rm, size, shift_nf(c, kind, size, reg_read(c, in->rm, size), shift_count(c, in, by_cl), nf));
}

static ALWAYS_INLINE void shift_m(struct cpu *c, const struct insn *in, int kind, int size, int by_cl)
{
	uint8_t *p = tlb_write_ptr(c, ea_lin64(c, in), size);
	if (unlikely(!p)) {
		op_shift(c, in);
		return;
	}
	host_store(p, size, do_shift(c, kind, size, host_load(p, size), shift_count(c, in, by_cl)));
}

/* The register forms are pure (internal.h); a zero count keeps the flags. */
#define SHIFT_R_FN(form, k, K, sz) \
	PURE_FN(k##_r_i##sz, shift_r(c, in, K, sz, 0, nf)) \
	PURE_FN(k##_r_cl##sz, shift_r(c, in, K, sz, 1, nf))
#define SHIFT_M_FN(form, k, K, sz) \
	static void k##_m_i##sz(struct cpu *c, const struct insn *in) \
	{ shift_m(c, in, K, sz, 0); insn_next(c, in); } \
	static void k##_m_cl##sz(struct cpu *c, const struct insn *in) \
	{ shift_m(c, in, K, sz, 1); insn_next(c, in); }
#define SHIFT_FNS(M, k, K) M(, k, K, 1) M(, k, K, 2) M(, k, K, 4) M(, k, K, 8)
#define SHIFT_KINDS(M) SHIFT_FNS(M, rol, SH_ROL) SHIFT_FNS(M, ror, SH_ROR) \
	SHIFT_FNS(M, shl, SH_SHL) SHIFT_FNS(M, shr, SH_SHR) SHIFT_FNS(M, sar, SH_SAR)
SHIFT_KINDS(SHIFT_R_FN)
SHIFT_KINDS(SHIFT_M_FN)

#define SHIFT_ROW(k, form, cnt) { k##_##form##_##cnt##1, k##_##form##_##cnt##2, k##_##form##_##cnt##4, \
	k##_##form##_##cnt##8 }
#define SHIFT_TABLE(form, cnt) { [SH_ROL] = SHIFT_ROW(rol, form, cnt), [SH_ROR] = SHIFT_ROW(ror, form, cnt), \
	[SH_SHL] = SHIFT_ROW(shl, form, cnt), [SH_SHR] = SHIFT_ROW(shr, form, cnt), \
	[SH_SAL] = SHIFT_ROW(shl, form, cnt), [SH_SAR] = SHIFT_ROW(sar, form, cnt) }
/* [memory][by CL][operation][log2 size]; NULL for RCL/RCR */
static insn_fn *const shift_forms[2][2][8][4] = {
	{ SHIFT_TABLE(r, i), SHIFT_TABLE(r, cl) },
	{ SHIFT_TABLE(m, i), SHIFT_TABLE(m, cl) },
};

insn_fn *shift_select(struct insn *in, insn_fn *fn, int code_size)
{
	if (fn != op_shift || (in->mod != 3 && !fast_mem64(in, code_size)))
		return NULL;
	int by_cl = in->op == 0xd2 || in->op == 0xd3;
	insn_fn *f = shift_forms[in->mod != 3][by_cl][in->reg & 7][size_log2(in->opsize)];
	if (f && (in->op == 0xd0 || in->op == 0xd1))
		in->imm = 1;    /* the by-one forms: an immediate count of 1 */
	return f;
}

#define SHIFT_PURE_SIZES(k, cnt, pf, regs) PURE_ENTRY(k##_r_##cnt##1, pf, regs), \
	PURE_ENTRY(k##_r_##cnt##2, pf, regs), PURE_ENTRY(k##_r_##cnt##4, pf, regs), \
	PURE_ENTRY(k##_r_##cnt##8, pf, regs)
/* A rotate keeps all but CF and OF; a shift by a count known not to be 0 writes them all. */
#define SHIFT_PURE(k, pf) SHIFT_PURE_SIZES(k, i, pf, JR_RM), SHIFT_PURE_SIZES(k, cl, PF_PASS, JR_RM | JR_CL)
const struct pure_variants shift_pure[] = {
	SHIFT_PURE(rol, PF_PASS), SHIFT_PURE(ror, PF_PASS),
	SHIFT_PURE(shl, PF_SHIFT), SHIFT_PURE(shr, PF_SHIFT), SHIFT_PURE(sar, PF_SHIFT),
};
const unsigned shift_npure = sizeof(shift_pure) / sizeof(shift_pure[0]);
