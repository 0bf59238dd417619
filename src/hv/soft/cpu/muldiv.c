/*
 * Multiply and divide: MUL, IMUL (one-, two- and three-operand forms),
 * DIV and IDIV with #DE on a zero divisor or a quotient that overflows.
 * The flags the SDM leaves undefined after a multiply are set from the
 * low half of the result (SF, ZF, PF) with AF clear.
 */
#include "internal.h"
#include "insns.h"

typedef unsigned __int128 u128;
typedef __int128 s128;

/* Lazy: flags_arith() makes SF, ZF, PF of lo and CF = OF = overflow of LF_MUL. */
static ALWAYS_INLINE void mul_flags(struct cpu *c, uint64_t lo, int size, int overflow)
{
	set_lazy(c, LF_MUL, size, lo & size_mask(size), (uint64_t)!!overflow, 0);
}

/* Stores a double-width product in AX, DX:AX, EDX:EAX or RDX:RAX. */
static void store_wide(struct cpu *c, int size, u128 v)
{
	if (size == 1) {
		reg_write(c, R_AX, 2, (uint64_t)v);
		return;
	}
	reg_write(c, R_AX, size, (uint64_t)v);
	reg_write(c, R_DX, size, (uint64_t)(v >> (size * 8)));
}

void op_mul(struct cpu *c, const struct insn *in)
{
	int size = in->opsize;
	u128 p = (u128)reg_read(c, R_AX, size) * rm_read(c, in, size);
	store_wide(c, size, p);
	mul_flags(c, (uint64_t)p, size, (p >> (size * 8)) != 0);
}

void op_imul1(struct cpu *c, const struct insn *in)
{
	int size = in->opsize;
	s128 a = (int64_t)sign_extend(reg_read(c, R_AX, size), size);
	s128 b = (int64_t)sign_extend(rm_read(c, in, size), size);
	s128 p = a * b;
	store_wide(c, size, (u128)p);
	mul_flags(c, (uint64_t)p, size, (s128)(int64_t)sign_extend((uint64_t)p, size) != p);
}

static void imul_into(struct cpu *c, const struct insn *in, uint64_t x, uint64_t y)
{
	int size = in->opsize;
	s128 p = (s128)(int64_t)sign_extend(x, size) * (int64_t)sign_extend(y, size);
	reg_write(c, in->reg, size, (uint64_t)p);
	mul_flags(c, (uint64_t)p, size, (s128)(int64_t)sign_extend((uint64_t)p, size) != p);
}

void op_imul_r_rm(struct cpu *c, const struct insn *in)
{
	imul_into(c, in, reg_read(c, in->reg, in->opsize), rm_read(c, in, in->opsize));
}

void op_imul_r_rm_imm(struct cpu *c, const struct insn *in)
{
	imul_into(c, in, rm_read(c, in, in->opsize), in->imm);
}

/* The dividend: AX, DX:AX, EDX:EAX or RDX:RAX. */
static u128 dividend(struct cpu *c, int size)
{
	if (size == 1)
		return reg_read(c, R_AX, 2);
	return ((u128)reg_read(c, R_DX, size) << (size * 8)) | reg_read(c, R_AX, size);
}

static void store_divmod(struct cpu *c, int size, uint64_t q, uint64_t r)
{
	if (size == 1) {
		reg_write(c, R_AX, 2, (q & 0xff) | (r & 0xff) << 8);
		return;
	}
	reg_write(c, R_AX, size, q);
	reg_write(c, R_DX, size, r);
}

void op_div(struct cpu *c, const struct insn *in)
{
	int size = in->opsize;
	uint64_t d = rm_read(c, in, size);
	if (!d)
		cpu_fault_noerr(c, EX_DE);
	u128 n = dividend(c, size);
	u128 q = n / d;
	if (q > size_mask(size))
		cpu_fault_noerr(c, EX_DE);
	store_divmod(c, size, (uint64_t)q, (uint64_t)(n % d));
}

void op_idiv(struct cpu *c, const struct insn *in)
{
	int size = in->opsize, bits = size * 8;
	int64_t d = (int64_t)sign_extend(rm_read(c, in, size), size);
	if (!d)
		cpu_fault_noerr(c, EX_DE);
	u128 raw = dividend(c, size);
	s128 n;
	if (size == 8)
		n = (s128)raw;
	else /* sign-extend the 2*bits-wide dividend */
		n = (s128)((int64_t)((uint64_t)raw << (64 - 2 * bits)) >> (64 - 2 * bits));
	if (size == 8 && (u128)n == (u128)1 << 127) /* the one quotient 128-bit division cannot form */
		cpu_fault_noerr(c, EX_DE);
	s128 q = n / d, r = n % d;
	s128 lo = -((s128)1 << (bits - 1)), hi = ((s128)1 << (bits - 1)) - 1;
	if (q < lo || q > hi)
		cpu_fault_noerr(c, EX_DE);
	store_divmod(c, size, (uint64_t)q, (uint64_t)r);
}

/*
 * ---- Forms specialized at decode time (muldiv_select) ----
 * IMUL reg, r/m and IMUL reg, r/m, imm with 32- and 64-bit operands.
 */
/* nf: the flags are dead (see the liveness pass in exec.c): leave them. */
static ALWAYS_INLINE void imul_to_nf(struct cpu *c, int r, int size, uint64_t x, uint64_t y, int nf)
{
	if (size == 8) {
		int64_t p;
		int o = __builtin_mul_overflow((int64_t)x, (int64_t)y, &p);
		c->gpr[r] = (uint64_t)p;
		if (!nf)
			mul_flags(c, (uint64_t)p, 8, o);
	} else {
		int64_t p = (int64_t)(int32_t)x * (int32_t)y;
		c->gpr[r] = (uint32_t)p;
		if (!nf)
			mul_flags(c, (uint64_t)p, 4, p != (int32_t)p);
	}
}

static ALWAYS_INLINE void imul_to(struct cpu *c, int r, int size, uint64_t x, uint64_t y)
{
	imul_to_nf(c, r, size, x, y, 0);
}

#define IMUL_FN(sz) \
	PURE_FN(imul_rr##sz, imul_to_nf(c, in->reg, sz, c->gpr[in->reg], c->gpr[in->rm], nf)) \
	static void imul_rm##sz(struct cpu *c, const struct insn *in) \
	{ imul_to(c, in->reg, sz, c->gpr[in->reg], lin_read(c, ea_lin64(c, in), sz, ACC_R)); insn_next(c, in); } \
	PURE_FN(imul_rri##sz, imul_to_nf(c, in->reg, sz, c->gpr[in->rm], in->imm, nf)) \
	static void imul_rmi##sz(struct cpu *c, const struct insn *in) \
	{ imul_to(c, in->reg, sz, lin_read(c, ea_lin64(c, in), sz, ACC_R), in->imm); insn_next(c, in); }
IMUL_FN(4)
IMUL_FN(8)
/* [with an immediate][memory][64-bit] */
static insn_fn *const imul_forms[2][2][2] = {
	{ { imul_rr4, imul_rr8 }, { imul_rm4, imul_rm8 } },
	{ { imul_rri4, imul_rri8 }, { imul_rmi4, imul_rmi8 } },
};

insn_fn *muldiv_select(struct insn *in, insn_fn *fn, int code_size)
{
	if ((fn != op_imul_r_rm && fn != op_imul_r_rm_imm) || (in->opsize != 4 && in->opsize != 8))
		return NULL;
	if (in->mod != 3 && !fast_mem64(in, code_size))
		return NULL;
	return imul_forms[fn == op_imul_r_rm_imm][in->mod != 3][in->opsize == 8];
}

const struct pure_variants muldiv_pure[] = {
	PURE_ENTRY(imul_rr4, PF_WRITE, JR_REG | JR_RM), PURE_ENTRY(imul_rr8, PF_WRITE, JR_REG | JR_RM),
	PURE_ENTRY(imul_rri4, PF_WRITE, JR_REG | JR_RM), PURE_ENTRY(imul_rri8, PF_WRITE, JR_REG | JR_RM),
};
const unsigned muldiv_npure = sizeof(muldiv_pure) / sizeof(muldiv_pure[0]);
