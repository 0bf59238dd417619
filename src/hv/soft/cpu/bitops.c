/*
 * Bit instructions: BT/BTS/BTR/BTC (register and immediate offsets),
 * BSF/BSR, LZCNT, POPCNT and BSWAP.
 */
#include "internal.h"
#include "insns.h"

enum { BT_TEST, BT_SET, BT_RESET, BT_COMPLEMENT };

static void set_cf_only(struct cpu *c, int cf)
{
	flags_eager(c);
	c->flags = (c->flags & ~(uint64_t)F_CF) | (cf ? F_CF : 0);
}

/* dst with bit src changed by kind; CF from the old bit. */
static uint64_t bit_rmw(struct cpu *c, int kind, int size, uint64_t dst, uint64_t src)
{
	uint64_t bit = 1ULL << (src & (uint64_t)(size * 8 - 1));
	set_cf_only(c, !!(dst & bit));
	switch (kind) {
	case BT_SET: return dst | bit;
	case BT_RESET: return dst & ~bit;
	case BT_COMPLEMENT: return dst ^ bit;
	default: return dst;
	}
}

static void bit_op(struct cpu *c, const struct insn *in, int kind, uint64_t offset, int reg_offset)
{
	int size = in->opsize;
	if (in->mod == 3 || !reg_offset) {
		if (kind == BT_TEST)
			bit_rmw(c, kind, size, rm_read(c, in, size), offset);
		else
			rm_rmw(c, in, size, bit_rmw, kind, offset, in->pfx & PFX_LOCK);
		return;
	}
	/* A register bit offset reaches beyond the operand: a signed displacement. */
	int64_t soff = (int64_t)sign_extend(offset, size);
	int64_t units = soff >> (size == 8 ? 6 : size == 4 ? 5 : 4);
	uint64_t ea = insn_ea(c, in) + (uint64_t)(units * size);
	if (in->adsize != 8)
		ea &= size_mask(in->adsize);
	if (kind == BT_TEST)
		bit_rmw(c, kind, size, mem_read(c, in->seg, ea, size), offset);
	else
		mem_rmw(c, in->seg, ea, size, bit_rmw, kind, offset, in->pfx & PFX_LOCK);
}

void op_bt_rm_r(struct cpu *c, const struct insn *in)
{
	bit_op(c, in, (in->op >> 3) & 3, reg_read(c, in->reg, in->opsize), 1);
}

void op_bt_imm(struct cpu *c, const struct insn *in)
{
	bit_op(c, in, in->reg & 3, in->imm & (uint64_t)(in->opsize * 8 - 1), 0);
}

static void set_zf_only(struct cpu *c, int zf)
{
	flags_eager(c);
	c->flags = (c->flags & ~(uint64_t)F_ZF) | (zf ? F_ZF : 0);
}

/*
 * F3 0F BC is TZCNT where BMI1 exists and BSF elsewhere; the results agree
 * for a nonzero source, so TZCNT it is (CF: source zero, ZF: result zero).
 */
void op_bsf(struct cpu *c, const struct insn *in)
{
	uint64_t v = rm_read(c, in, in->opsize);
	if (in->rep == 0xf3) {
		int size = in->opsize;
		int n = v ? __builtin_ctzll(v) : size * 8;
		reg_write(c, in->reg, size, (uint64_t)n);
		flags_eager(c);
		c->flags = (c->flags & ~(uint64_t)(F_CF | F_ZF)) | (v ? 0 : F_CF) | (n ? 0 : F_ZF);
		return;
	}
	if (!v) {
		set_zf_only(c, 1);
		return;
	}
	reg_write(c, in->reg, in->opsize, (uint64_t)__builtin_ctzll(v));
	set_zf_only(c, 0);
}

void op_bsr(struct cpu *c, const struct insn *in)
{
	int size = in->opsize;
	uint64_t v = rm_read(c, in, size);
	if (in->rep == 0xf3) {          /* LZCNT */
		int n = v ? __builtin_clzll(v) - (64 - size * 8) : size * 8;
		reg_write(c, in->reg, size, (uint64_t)n);
		flags_eager(c);
		c->flags = (c->flags & ~(uint64_t)(F_CF | F_ZF)) | (v ? 0 : F_CF) | (n ? 0 : F_ZF);
		return;
	}
	if (!v) {
		set_zf_only(c, 1);
		return;
	}
	reg_write(c, in->reg, size, (uint64_t)(63 - __builtin_clzll(v)));
	set_zf_only(c, 0);
}

void op_popcnt(struct cpu *c, const struct insn *in)
{
	if (in->rep != 0xf3)
		UD(c);
	uint64_t v = rm_read(c, in, in->opsize);
	reg_write(c, in->reg, in->opsize, (uint64_t)__builtin_popcountll(v));
	set_flags(c, v ? 0 : F_ZF);
}

void op_bswap(struct cpu *c, const struct insn *in)
{
	if (in->opsize == 8)
		c->gpr[in->rm] = __builtin_bswap64(c->gpr[in->rm]);
	else if (in->opsize == 4)
		reg_write(c, in->rm, 4, __builtin_bswap32((uint32_t)c->gpr[in->rm]));
	else
		reg_write(c, in->rm, 2, 0);     /* 16-bit BSWAP: undefined; zero like the hardware */
}

/*
 * Register forms the decoder picks (pure, internal.h): BT/BTS/BTR/BTC of
 * a register, which keep every flag but CF, and BSWAP of 32 or 64 bits.
 */
PURE_FN(bt_rr, op_bt_rm_r(c, in))
PURE_FN(bt_ri, op_bt_imm(c, in))
PURE_FN(bswap_r, op_bswap(c, in))

insn_fn *bitops_select(struct insn *in, insn_fn *fn, int code_size)
{
	(void)code_size;
	if (in->mod == 3 && !(in->pfx & PFX_LOCK) && (fn == op_bt_rm_r || fn == op_bt_imm))
		return fn == op_bt_rm_r ? bt_rr : bt_ri;
	if (fn == op_bswap && in->opsize >= 4)
		return bswap_r;
	return NULL;
}

const struct pure_variants bitops_pure[] = {
	PURE_ENTRY(bt_rr, PF_PASS, JR_REG | JR_RM), PURE_ENTRY(bt_ri, PF_PASS, JR_RM),
	PURE_ENTRY(bswap_r, PF_NONE, JR_RM),
};
const unsigned bitops_npure = sizeof(bitops_pure) / sizeof(bitops_pure[0]);
