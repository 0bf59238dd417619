/*
 * Integer SIMD: the MMX instructions (no prefix: 64-bit MMX registers)
 * and their SSE2 forms (66: 128-bit XMM registers, memory operands
 * 16-byte aligned). Each operation is written once for n bytes of
 * operand, 8 or 16.
 */
#include "simd.h"

typedef void vec_fn(union xmm *d, const union xmm *s, int n);

/* dst = f(dst, src) on MMX or XMM registers. */
static void int_op(struct cpu *c, const struct insn *in, vec_fn *f)
{
	union xmm d, s;
	if (in->pfx & PFX_OPSZ) {
		sse_src(c, in, &s, 16, 1);
		xmm_get(c, in->reg, &d);
		f(&d, &s, 16);
		xmm_put(c, in->reg, &d);
	} else {
		s.q[0] = mmx_src(c, in);
		s.q[1] = 0;
		d.q[0] = mm_get(c, in->reg);
		d.q[1] = 0;
		f(&d, &s, 8);
		mm_put(c, in->reg, d.q[0]);
	}
}

#define VEC_OP(name) \
	void op_##name(struct cpu *c, const struct insn *in) { int_op(c, in, v_##name); }

/* Element-wise loop: E is the element member of union xmm, expr uses a and b. */
#define LANES(name, E, expr) \
	static void v_##name(union xmm *d, const union xmm *s, int n) \
	{ \
		for (int i = 0; i < n / (int)sizeof(d->E[0]); i++) { \
			__typeof__(d->E[0]) a = d->E[i], b = s->E[i]; \
			d->E[i] = (__typeof__(d->E[0]))(expr); \
		} \
	} \
	VEC_OP(name)

static int sat_s8(int v) { return v > 127 ? 127 : v < -128 ? -128 : v; }
static int sat_u8(int v) { return v > 255 ? 255 : v < 0 ? 0 : v; }
static int sat_s16(int v) { return v > 32767 ? 32767 : v < -32768 ? -32768 : v; }
static int sat_u16(int v) { return v > 65535 ? 65535 : v < 0 ? 0 : v; }

LANES(paddb, b, a + b)
LANES(paddw, w, a + b)
LANES(paddd, d, a + b)
LANES(paddq, q, a + b)
LANES(psubb, b, a - b)
LANES(psubw, w, a - b)
LANES(psubd, d, a - b)
LANES(psubq, q, a - b)
LANES(paddsb, sb, sat_s8(a + b))
LANES(paddsw, sw, sat_s16(a + b))
LANES(paddusb, b, sat_u8(a + b))
LANES(paddusw, w, sat_u16(a + b))
LANES(psubsb, sb, sat_s8(a - b))
LANES(psubsw, sw, sat_s16(a - b))
LANES(psubusb, b, sat_u8(a - b))
LANES(psubusw, w, sat_u16(a - b))
LANES(pcmpeqb, b, a == b ? 0xff : 0)
LANES(pcmpeqw, w, a == b ? 0xffff : 0)
LANES(pcmpeqd, d, a == b ? 0xffffffffu : 0)
LANES(pcmpgtb, sb, a > b ? -1 : 0)
LANES(pcmpgtw, sw, a > b ? -1 : 0)
LANES(pcmpgtd, sd, a > b ? -1 : 0)
LANES(pand, q, a & b)
LANES(pandn, q, ~a & b)
LANES(por, q, a | b)
LANES(pxor, q, a ^ b)
LANES(pmullw, w, (uint32_t)a * b)
LANES(pmulhw, sw, ((int32_t)a * b) >> 16)
LANES(pmulhuw, w, ((uint32_t)a * b) >> 16)
LANES(pminub, b, a < b ? a : b)
LANES(pmaxub, b, a > b ? a : b)
LANES(pminsw, sw, a < b ? a : b)
LANES(pmaxsw, sw, a > b ? a : b)
LANES(pavgb, b, (a + b + 1) >> 1)
LANES(pavgw, w, ((uint32_t)a + b + 1) >> 1)

/* PMULUDQ: the low dword of each quadword, multiplied to 64 bits. */
static void v_pmuludq(union xmm *d, const union xmm *s, int n)
{
	for (int i = 0; i < n / 8; i++)
		d->q[i] = (uint64_t)d->d[2 * i] * s->d[2 * i];
}
VEC_OP(pmuludq)

/* PMADDWD: pairs of signed word products, summed into dwords. */
static void v_pmaddwd(union xmm *d, const union xmm *s, int n)
{
	for (int i = 0; i < n / 4; i++) {
		int64_t sum = (int64_t)d->sw[2 * i] * s->sw[2 * i] + (int64_t)d->sw[2 * i + 1] * s->sw[2 * i + 1];
		d->d[i] = (uint32_t)sum;       /* only -32768^2 * 2 overflows: it wraps, as the hardware does */
	}
}
VEC_OP(pmaddwd)

/* PSADBW: sums of absolute byte differences, one word per 8 bytes. */
static void v_psadbw(union xmm *d, const union xmm *s, int n)
{
	for (int i = 0; i < n / 8; i++) {
		unsigned sum = 0;
		for (int j = 0; j < 8; j++) {
			int a = d->b[8 * i + j], b = s->b[8 * i + j];
			sum += (unsigned)(a > b ? a - b : b - a);
		}
		d->q[i] = sum;
	}
}
VEC_OP(psadbw)

/* ---- unpack and pack ---- */

/* Interleaves elements of esize bytes from the low (or high) halves of d and s. */
static void unpack(union xmm *d, const union xmm *s, int n, int esize, int high)
{
	union xmm r;
	int half = n / 2, base = high ? half : 0;
	for (int k = 0; k < half / esize; k++) {
		memcpy(&r.b[2 * k * esize], &d->b[base + k * esize], (size_t)esize);
		memcpy(&r.b[(2 * k + 1) * esize], &s->b[base + k * esize], (size_t)esize);
	}
	memcpy(d, &r, (size_t)n);
}

#define UNPACK(name, esize, high) \
	static void v_##name(union xmm *d, const union xmm *s, int n) { unpack(d, s, n, esize, high); } \
	VEC_OP(name)
UNPACK(punpcklbw, 1, 0)
UNPACK(punpcklwd, 2, 0)
UNPACK(punpckldq, 4, 0)
UNPACK(punpcklqdq, 8, 0)
UNPACK(punpckhbw, 1, 1)
UNPACK(punpckhwd, 2, 1)
UNPACK(punpckhdq, 4, 1)
UNPACK(punpckhqdq, 8, 1)

static void v_packsswb(union xmm *d, const union xmm *s, int n)
{
	union xmm r;
	int h = n / 2;
	for (int i = 0; i < h; i++) {
		r.sb[i] = (int8_t)sat_s8(d->sw[i]);
		r.sb[h + i] = (int8_t)sat_s8(s->sw[i]);
	}
	memcpy(d, &r, (size_t)n);
}
VEC_OP(packsswb)

static void v_packuswb(union xmm *d, const union xmm *s, int n)
{
	union xmm r;
	int h = n / 2;
	for (int i = 0; i < h; i++) {
		r.b[i] = (uint8_t)sat_u8(d->sw[i]);
		r.b[h + i] = (uint8_t)sat_u8(s->sw[i]);
	}
	memcpy(d, &r, (size_t)n);
}
VEC_OP(packuswb)

static void v_packssdw(union xmm *d, const union xmm *s, int n)
{
	union xmm r;
	int h = n / 4;
	for (int i = 0; i < h; i++) {
		int32_t a = d->sd[i], b = s->sd[i];
		r.sw[i] = (int16_t)(a > 32767 ? 32767 : a < -32768 ? -32768 : a);
		r.sw[h + i] = (int16_t)(b > 32767 ? 32767 : b < -32768 ? -32768 : b);
	}
	memcpy(d, &r, (size_t)n);
}
VEC_OP(packssdw)

/* ---- shifts ---- */

enum { SH_RL, SH_RA, SH_LL };

/* Shifts n bytes of elements of esize bytes by count bits. */
static void shift(union xmm *d, int n, int esize, uint64_t count, int kind)
{
	int bits = esize * 8;
	if (count >= (uint64_t)bits && kind != SH_RA) {
		memset(d, 0, (size_t)n);
		return;
	}
	int k = count >= (uint64_t)bits ? bits - 1 : (int)count;
	for (int i = 0; i < n / esize; i++) {
		switch (esize) {
		case 2:
			d->w[i] = kind == SH_RL ? (uint16_t)(d->w[i] >> k) : kind == SH_LL ? (uint16_t)(d->w[i] << k)
				: (uint16_t)(d->sw[i] >> k);
			break;
		case 4:
			d->d[i] = kind == SH_RL ? d->d[i] >> k : kind == SH_LL ? d->d[i] << k
				: (uint32_t)(d->sd[i] >> k);
			break;
		default:
			d->q[i] = kind == SH_RL ? d->q[i] >> k : d->q[i] << k;
			break;
		}
	}
}

/* PSxx by a count in an MMX/XMM register or memory (its low 64 bits). */
#define SHIFT_BY_REG(name, esize, kind) \
	static void v_##name(union xmm *d, const union xmm *s, int n) { shift(d, n, esize, s->q[0], kind); } \
	VEC_OP(name)
SHIFT_BY_REG(psrlw, 2, SH_RL)
SHIFT_BY_REG(psrld, 4, SH_RL)
SHIFT_BY_REG(psrlq, 8, SH_RL)
SHIFT_BY_REG(psraw, 2, SH_RA)
SHIFT_BY_REG(psrad, 4, SH_RA)
SHIFT_BY_REG(psllw, 2, SH_LL)
SHIFT_BY_REG(pslld, 4, SH_LL)
SHIFT_BY_REG(psllq, 8, SH_LL)

/* PSRLDQ / PSLLDQ: the whole XMM register by bytes. */
static void shift_bytes(union xmm *d, unsigned count, int left)
{
	union xmm r = { .q = { 0, 0 } };
	if (count < 16) {
		if (left)
			memcpy(&r.b[count], d->b, 16 - count);
		else
			memcpy(r.b, &d->b[count], 16 - count);
	}
	*d = r;
}

/*
 * 0F 71/72/73: shifts of the r/m register by imm8; ModRM.reg selects
 * /2 logical right, /4 arithmetic right, /6 left, and for 73 with 66,
 * /3 and /7 the byte shifts.
 */
static void shift_imm(struct cpu *c, const struct insn *in, int esize)
{
	int op = in->reg & 7, xmm = !!(in->pfx & PFX_OPSZ);
	unsigned count = (uint8_t)in->imm;
	int kind = op == 2 ? SH_RL : op == 4 && esize != 8 ? SH_RA : op == 6 ? SH_LL : -1;
	if (in->mod != 3)
		UD(c);
	union xmm d = { .q = { 0, 0 } };
	if (xmm)
		xmm_get(c, in->rm, &d);
	else
		d.q[0] = mm_get(c, in->rm);
	if (kind >= 0)
		shift(&d, xmm ? 16 : 8, esize, count, kind);
	else if (esize == 8 && xmm && (op == 3 || op == 7))
		shift_bytes(&d, count, op == 7);
	else
		UD(c);
	if (xmm)
		xmm_put(c, in->rm, &d);
	else
		mm_put(c, in->rm, d.q[0]);
}

void op_pshift_imm_w(struct cpu *c, const struct insn *in) { shift_imm(c, in, 2); }
void op_pshift_imm_d(struct cpu *c, const struct insn *in) { shift_imm(c, in, 4); }
void op_pshift_imm_q(struct cpu *c, const struct insn *in) { shift_imm(c, in, 8); }

/* ---- shuffles, word insert/extract, byte mask ---- */

/* PSHUFW mm, mm/m64, imm8 */
void op_pshufw(struct cpu *c, const struct insn *in)
{
	union xmm s = { .q = { mmx_src(c, in), 0 } }, r = { .q = { 0, 0 } };
	for (int i = 0; i < 4; i++)
		r.w[i] = s.w[(in->imm >> (2 * i)) & 3];
	mm_put(c, in->reg, r.q[0]);
}

void op_pshufd(struct cpu *c, const struct insn *in)
{
	union xmm s, r;
	sse_src(c, in, &s, 16, 1);
	for (int i = 0; i < 4; i++)
		r.d[i] = s.d[(in->imm >> (2 * i)) & 3];
	xmm_put(c, in->reg, &r);
}

/* PSHUFHW / PSHUFLW: shuffle the words of one half, copy the other. */
static void pshuf_half(struct cpu *c, const struct insn *in, int high)
{
	union xmm s, r;
	sse_src(c, in, &s, 16, 1);
	r = s;
	for (int i = 0; i < 4; i++)
		r.w[4 * high + i] = s.w[4 * high + ((in->imm >> (2 * i)) & 3)];
	xmm_put(c, in->reg, &r);
}

void op_pshufhw(struct cpu *c, const struct insn *in) { pshuf_half(c, in, 1); }
void op_pshuflw(struct cpu *c, const struct insn *in) { pshuf_half(c, in, 0); }

/* PINSRW mm/xmm, r32/m16, imm8 */
void op_pinsrw(struct cpu *c, const struct insn *in)
{
	uint16_t v = (uint16_t)rm_read(c, in, 2);
	if (in->pfx & PFX_OPSZ) {
		union xmm d;
		xmm_get(c, in->reg, &d);
		d.w[in->imm & 7] = v;
		xmm_put(c, in->reg, &d);
	} else {
		union xmm d = { .q = { mm_get(c, in->reg), 0 } };
		d.w[in->imm & 3] = v;
		mm_put(c, in->reg, d.q[0]);
	}
}

/* PEXTRW r32, mm/xmm, imm8: zero-extended into the general register. */
void op_pextrw(struct cpu *c, const struct insn *in)
{
	if (in->mod != 3)
		UD(c);
	union xmm s = { .q = { 0, 0 } };
	int sel = (int)(in->imm & 3);
	if (in->pfx & PFX_OPSZ) {
		xmm_get(c, in->rm, &s);
		sel = (int)(in->imm & 7);
	} else {
		s.q[0] = mm_get(c, in->rm);
	}
	reg_write(c, in->reg, 4, s.w[sel]);
}

/* PMOVMSKB r32, mm/xmm: the top bit of each byte. */
void op_pmovmskb(struct cpu *c, const struct insn *in)
{
	if (in->mod != 3)
		UD(c);
	union xmm s = { .q = { 0, 0 } };
	int n = 8;
	if (in->pfx & PFX_OPSZ) {
		xmm_get(c, in->rm, &s);
		n = 16;
	} else {
		s.q[0] = mm_get(c, in->rm);
	}
	uint32_t m = 0;
	for (int i = 0; i < n; i++)
		m |= (uint32_t)(s.b[i] >> 7) << i;
	reg_write(c, in->reg, 4, m);
}
