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

static uint64_t do_shift(struct cpu *c, int kind, int size, uint64_t a, uint64_t src)
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
		flags_eager(c);
		c->flags = (c->flags & ~(uint64_t)(F_CF | F_OF)) | (cf ? F_CF : 0) | (of ? F_OF : 0);
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
	case SH_SHL:
	case SH_SAL:
		r = cnt < 64 ? (a << cnt) & m : 0;
		cf = cnt <= (unsigned)bits ? (int)((a >> (bits - cnt)) & 1) : 0;
		of = !!(r & sign) ^ cf;
		break;
	case SH_SHR:
		r = a >> cnt;
		cf = (a >> (cnt - 1)) & 1;
		of = !!(a & sign);
		break;
	default: {      /* SAR */
		int64_t s = (int64_t)sign_extend(a, size);
		unsigned n = cnt < (unsigned)bits ? cnt : (unsigned)bits - 1;
		r = (uint64_t)(s >> n) & m;
		cf = cnt < (unsigned)bits ? (int)((s >> (cnt - 1)) & 1) : (int)(s < 0);
		of = 0;
		break;
	}
	}
	set_flags(c, shift_flags(r, size, cf, of));
	return r;
}

static uint64_t shift_rmw(struct cpu *c, int kind, int size, uint64_t dst, uint64_t src)
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
