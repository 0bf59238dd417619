/*
 * The SSE/SSE2 unit and the MMX instructions of the 0F map: the dispatch
 * on the mandatory prefix, guest memory blocks, data movement, shuffles
 * and logic, and the state instructions (FXSAVE, FXRSTOR, LDMXCSR,
 * STMXCSR). Integer SIMD is in sse_int.c, floating point in sse_fp.c.
 *
 * One 0F opcode byte names up to four instructions, told apart by the
 * last of the prefixes 66, F3 and F2 (F3/F2 win over 66). The decoder
 * sends them all to op_sse, which picks the handler from a table indexed
 * by opcode and prefix; the table also says which unit's checks apply.
 */
#include "simd.h"

/* ---- checks ---- */

/* #UD without CR4.OSFXSR or with CR0.EM, #NM with CR0.TS. */
static void sse_check(struct cpu *c)
{
	if ((c->cr0 & CR0_EM) || !(c->cr4 & CR4_OSFXSR))
		UD(c);
	if (c->cr0 & CR0_TS)
		cpu_fault_noerr(c, EX_NM);
}

void sse_raise(struct cpu *c, uint32_t flags)
{
	uint32_t mx = mxcsr_get(c);
	mxcsr_put(c, mx | flags);
	if (flags & ~(mx >> 7) & MXCSR_FLAGS)
		cpu_fault_noerr(c, (c->cr4 & CR4_OSXMMEXCPT) ? EX_XM : EX_UD);
}

/* ---- guest memory ---- */

static uint64_t wrap_lin(struct cpu *c, uint64_t lin)
{
	return c->mode == MODE_LONG ? lin : (uint32_t)lin;
}

static uint64_t buf_lin(struct cpu *c, int seg, uint64_t off, int len, int acc, int align)
{
	uint64_t lin = seg_lin(c, seg, off, len, acc);
	if (align && (lin & (uint64_t)(align - 1)))
		GP0(c);
	return lin;
}

static int chunk_size(int left)
{
	return left >= 8 ? 8 : left >= 4 ? 4 : left >= 2 ? 2 : 1;
}

void mem_read_buf(struct cpu *c, int seg, uint64_t off, void *buf, int len, int align)
{
	uint64_t lin = buf_lin(c, seg, off, len, ACC_R, align);
	uint8_t *p = buf;
	for (int i = 0; i < len;) {
		int n = chunk_size(len - i);
		uint64_t v = lin_read(c, wrap_lin(c, lin + (uint64_t)i), n, ACC_R);
		memcpy(p + i, &v, (size_t)n);
		i += n;
	}
}

void mem_write_buf(struct cpu *c, int seg, uint64_t off, const void *buf, int len, int align)
{
	uint64_t lin = buf_lin(c, seg, off, len, ACC_W, align);
	uint64_t last = wrap_lin(c, lin + (uint64_t)len - 1);
	const uint8_t *p = buf;
	if ((lin ^ last) >> 12) {
		/* Every page must take the write before any byte goes out. */
		uint64_t pg = lin;
		for (;;) {
			mmu_translate(c, pg, ACC_W);
			if (!((pg ^ last) >> 12))
				break;
			pg = wrap_lin(c, (pg & ~0xfffULL) + 4096);
		}
	}
	for (int i = 0; i < len;) {
		int n = chunk_size(len - i);
		uint64_t v = 0;
		memcpy(&v, p + i, (size_t)n);
		lin_write(c, wrap_lin(c, lin + (uint64_t)i), n, v, ACC_W);
		i += n;
	}
}

void sse_src(struct cpu *c, const struct insn *in, union xmm *v, int size, int align)
{
	if (in->mod == 3) {
		xmm_get(c, in->rm, v);
		return;
	}
	v->q[0] = v->q[1] = 0;
	mem_read_buf(c, in->seg, insn_ea(c, in), v, size, align ? size : 0);
}

uint64_t mmx_src(struct cpu *c, const struct insn *in)
{
	if (in->mod == 3)
		return mm_get(c, in->rm);
	return mem_read(c, in->seg, insn_ea(c, in), 8);
}

static void store_mem(struct cpu *c, const struct insn *in, const void *v, int size, int align)
{
	mem_write_buf(c, in->seg, insn_ea(c, in), v, size, align);
}

static void need_mem(struct cpu *c, const struct insn *in)
{
	if (in->mod == 3)
		UD(c);
}

static void need_reg(struct cpu *c, const struct insn *in)
{
	if (in->mod != 3)
		UD(c);
}

/* ---- moves ---- */

/* MOVUPS, MOVUPD, MOVDQU loads; MOVAPS, MOVAPD, MOVDQA loads. */
void op_movups(struct cpu *c, const struct insn *in)
{
	union xmm v;
	sse_src(c, in, &v, 16, 0);
	xmm_put(c, in->reg, &v);
}

void op_movaps(struct cpu *c, const struct insn *in)
{
	union xmm v;
	sse_src(c, in, &v, 16, 1);
	xmm_put(c, in->reg, &v);
}

static void store128(struct cpu *c, const struct insn *in, int align)
{
	union xmm v;
	xmm_get(c, in->reg, &v);
	if (in->mod == 3)
		xmm_put(c, in->rm, &v);
	else
		store_mem(c, in, &v, 16, align);
}

void op_movups_st(struct cpu *c, const struct insn *in) { store128(c, in, 0); }
void op_movaps_st(struct cpu *c, const struct insn *in) { store128(c, in, 16); }
void op_movdqu(struct cpu *c, const struct insn *in) { op_movups(c, in); }
void op_movdqa(struct cpu *c, const struct insn *in) { op_movaps(c, in); }
void op_movdqu_st(struct cpu *c, const struct insn *in) { store128(c, in, 0); }
void op_movdqa_st(struct cpu *c, const struct insn *in) { store128(c, in, 16); }

/* MOVNTPS, MOVNTPD, MOVNTDQ: aligned stores (the cache hint means nothing here). */
void op_movntps(struct cpu *c, const struct insn *in)
{
	need_mem(c, in);
	store128(c, in, 16);
}

/* MOVSS/MOVSD: register to register keeps the upper part; a load zeroes it. */
static void load_scalar(struct cpu *c, const struct insn *in, int size)
{
	union xmm d, s;
	if (in->mod == 3) {
		xmm_get(c, in->reg, &d);
		xmm_get(c, in->rm, &s);
		memcpy(&d, &s, (size_t)size);
		xmm_put(c, in->reg, &d);
		return;
	}
	sse_src(c, in, &s, size, 0);
	xmm_put(c, in->reg, &s);
}

static void store_scalar(struct cpu *c, const struct insn *in, int size)
{
	union xmm d, s;
	xmm_get(c, in->reg, &s);
	if (in->mod == 3) {
		xmm_get(c, in->rm, &d);
		memcpy(&d, &s, (size_t)size);
		xmm_put(c, in->rm, &d);
		return;
	}
	store_mem(c, in, &s, size, 0);
}

void op_movss(struct cpu *c, const struct insn *in) { load_scalar(c, in, 4); }
void op_movsd(struct cpu *c, const struct insn *in) { load_scalar(c, in, 8); }
void op_movss_st(struct cpu *c, const struct insn *in) { store_scalar(c, in, 4); }
void op_movsd_st(struct cpu *c, const struct insn *in) { store_scalar(c, in, 8); }

/* Loads one half of an XMM register from m64; from is the register half for the register form. */
static void load_half(struct cpu *c, const struct insn *in, int half, int from)
{
	union xmm d, s;
	xmm_get(c, in->reg, &d);
	if (in->mod == 3) {
		xmm_get(c, in->rm, &s);
		d.q[half] = s.q[from];
	} else {
		d.q[half] = mem_read(c, in->seg, insn_ea(c, in), 8);
	}
	xmm_put(c, in->reg, &d);
}

static void store_half(struct cpu *c, const struct insn *in, int half)
{
	union xmm s;
	need_mem(c, in);
	xmm_get(c, in->reg, &s);
	mem_write(c, in->seg, insn_ea(c, in), 8, s.q[half]);
}

/* MOVLPS xmm, m64; MOVHLPS xmm, xmm */
void op_movlps(struct cpu *c, const struct insn *in) { load_half(c, in, 0, 1); }
/* MOVHPS xmm, m64; MOVLHPS xmm, xmm */
void op_movhps(struct cpu *c, const struct insn *in) { load_half(c, in, 1, 0); }
/* MOVLPD, MOVHPD: memory forms only */
void op_movlpd(struct cpu *c, const struct insn *in) { need_mem(c, in); load_half(c, in, 0, 0); }
void op_movhpd(struct cpu *c, const struct insn *in) { need_mem(c, in); load_half(c, in, 1, 0); }
void op_movlps_st(struct cpu *c, const struct insn *in) { store_half(c, in, 0); }
void op_movhps_st(struct cpu *c, const struct insn *in) { store_half(c, in, 1); }

static int gpr_size(const struct insn *in)
{
	return (in->pfx & PFX_REXW) ? 8 : 4;
}

/* MOVD/MOVQ mm or xmm, r/m32/64 (0F 6E) */
void op_movd_to(struct cpu *c, const struct insn *in)
{
	uint64_t v = rm_read(c, in, gpr_size(in));
	if (in->pfx & PFX_OPSZ) {
		union xmm d = { .q = { v, 0 } };
		xmm_put(c, in->reg, &d);
	} else {
		mm_put(c, in->reg, v);
	}
}

/* MOVD/MOVQ r/m32/64, mm or xmm (0F 7E) */
void op_movd_from(struct cpu *c, const struct insn *in)
{
	int size = gpr_size(in);
	uint64_t v;
	if (in->pfx & PFX_OPSZ) {
		union xmm s;
		xmm_get(c, in->reg, &s);
		v = s.q[0];
	} else {
		v = mm_get(c, in->reg);
	}
	rm_write(c, in, size, v & size_mask(size));
}

/* MOVQ mm, mm/m64 */
void op_movq_mm(struct cpu *c, const struct insn *in)
{
	mm_put(c, in->reg, mmx_src(c, in));
}

/* MOVQ mm/m64, mm */
void op_movq_mm_st(struct cpu *c, const struct insn *in)
{
	uint64_t v = mm_get(c, in->reg);
	if (in->mod == 3)
		mm_put(c, in->rm, v);
	else
		mem_write(c, in->seg, insn_ea(c, in), 8, v);
}

/* MOVQ xmm, xmm/m64 (F3 0F 7E): zero-extends. */
void op_movq_xmm(struct cpu *c, const struct insn *in)
{
	union xmm v;
	sse_src(c, in, &v, 8, 0);
	v.q[1] = 0;
	xmm_put(c, in->reg, &v);
}

/* MOVQ xmm/m64, xmm (66 0F D6) */
void op_movq_xmm_st(struct cpu *c, const struct insn *in)
{
	union xmm v;
	xmm_get(c, in->reg, &v);
	v.q[1] = 0;
	if (in->mod == 3)
		xmm_put(c, in->rm, &v);
	else
		mem_write(c, in->seg, insn_ea(c, in), 8, v.q[0]);
}

/* MOVQ2DQ xmm, mm */
void op_movq2dq(struct cpu *c, const struct insn *in)
{
	need_reg(c, in);
	union xmm v = { .q = { mm_get(c, in->rm), 0 } };
	xmm_put(c, in->reg, &v);
}

/* MOVDQ2Q mm, xmm */
void op_movdq2q(struct cpu *c, const struct insn *in)
{
	need_reg(c, in);
	union xmm v;
	xmm_get(c, in->rm, &v);
	mm_put(c, in->reg, v.q[0]);
}

/* MOVNTI m32/64, r */
void op_movnti(struct cpu *c, const struct insn *in)
{
	need_mem(c, in);
	if (in->pfx & PFX_OPSZ)
		UD(c);
	int size = gpr_size(in);
	mem_write(c, in->seg, insn_ea(c, in), size, reg_read(c, in->reg, size));
}

/* MOVNTQ m64, mm */
void op_movntq(struct cpu *c, const struct insn *in)
{
	need_mem(c, in);
	mem_write(c, in->seg, insn_ea(c, in), 8, mm_get(c, in->reg));
}

/* MASKMOVQ / MASKMOVDQU: the bytes whose mask byte has its top bit set go to DS:rDI. */
void op_maskmov(struct cpu *c, const struct insn *in)
{
	need_reg(c, in);
	union xmm d = { .q = { 0, 0 } }, m = { .q = { 0, 0 } };
	int n = 8;
	if (in->pfx & PFX_OPSZ) {
		xmm_get(c, in->reg, &d);
		xmm_get(c, in->rm, &m);
		n = 16;
	} else {
		d.q[0] = mm_get(c, in->reg);
		m.q[0] = mm_get(c, in->rm);
	}
	uint64_t base = c->gpr[R_DI];
	for (int i = 0; i < n; i++)
		if (m.b[i] & 0x80)
			mem_write(c, in->seg, (base + (uint64_t)i) & size_mask(in->adsize), 1, d.b[i]);
}

/* EMMS: every x87 register empty. */
void op_emms(struct cpu *c, const struct insn *in)
{
	(void)in;
	c->fxsave[FX_FTW] = 0;
}

/* MOVMSKPS / MOVMSKPD r32, xmm: the sign bits. */
void op_movmskps(struct cpu *c, const struct insn *in)
{
	need_reg(c, in);
	union xmm s;
	xmm_get(c, in->rm, &s);
	uint32_t r = 0;
	for (int i = 0; i < 4; i++)
		r |= (s.d[i] >> 31) << i;
	reg_write(c, in->reg, 4, r);
}

void op_movmskpd(struct cpu *c, const struct insn *in)
{
	need_reg(c, in);
	union xmm s;
	xmm_get(c, in->rm, &s);
	reg_write(c, in->reg, 4, (s.q[0] >> 63) | (s.q[1] >> 63) << 1);
}

/* ---- shuffles and logic on 128 bits ---- */

typedef void xmm_fn(union xmm *d, const union xmm *s, uint8_t imm);

/* dst = f(dst, src): the r/m source is 16 aligned bytes. */
static void xmm_op(struct cpu *c, const struct insn *in, xmm_fn *f)
{
	union xmm d, s;
	sse_src(c, in, &s, 16, 1);
	xmm_get(c, in->reg, &d);
	f(&d, &s, (uint8_t)in->imm);
	xmm_put(c, in->reg, &d);
}

static void x_unpcklps(union xmm *d, const union xmm *s, uint8_t imm)
{
	(void)imm;
	union xmm r = { .d = { d->d[0], s->d[0], d->d[1], s->d[1] } };
	*d = r;
}

static void x_unpckhps(union xmm *d, const union xmm *s, uint8_t imm)
{
	(void)imm;
	union xmm r = { .d = { d->d[2], s->d[2], d->d[3], s->d[3] } };
	*d = r;
}

static void x_unpcklpd(union xmm *d, const union xmm *s, uint8_t imm)
{
	(void)imm;
	d->q[1] = s->q[0];
}

static void x_unpckhpd(union xmm *d, const union xmm *s, uint8_t imm)
{
	(void)imm;
	d->q[0] = d->q[1];
	d->q[1] = s->q[1];
}

static void x_shufps(union xmm *d, const union xmm *s, uint8_t imm)
{
	union xmm r = { .d = { d->d[imm & 3], d->d[(imm >> 2) & 3], s->d[(imm >> 4) & 3], s->d[imm >> 6] } };
	*d = r;
}

static void x_shufpd(union xmm *d, const union xmm *s, uint8_t imm)
{
	union xmm r = { .q = { d->q[imm & 1], s->q[(imm >> 1) & 1] } };
	*d = r;
}

static void x_and(union xmm *d, const union xmm *s, uint8_t imm)
{
	(void)imm;
	d->q[0] &= s->q[0];
	d->q[1] &= s->q[1];
}

static void x_andn(union xmm *d, const union xmm *s, uint8_t imm)
{
	(void)imm;
	d->q[0] = ~d->q[0] & s->q[0];
	d->q[1] = ~d->q[1] & s->q[1];
}

static void x_or(union xmm *d, const union xmm *s, uint8_t imm)
{
	(void)imm;
	d->q[0] |= s->q[0];
	d->q[1] |= s->q[1];
}

static void x_xor(union xmm *d, const union xmm *s, uint8_t imm)
{
	(void)imm;
	d->q[0] ^= s->q[0];
	d->q[1] ^= s->q[1];
}

#define XMM_OP(name, f) void op_##name(struct cpu *c, const struct insn *in) { xmm_op(c, in, f); }
XMM_OP(unpcklps, x_unpcklps)
XMM_OP(unpckhps, x_unpckhps)
XMM_OP(unpcklpd, x_unpcklpd)
XMM_OP(unpckhpd, x_unpckhpd)
XMM_OP(shufps, x_shufps)
XMM_OP(shufpd, x_shufpd)
XMM_OP(andps, x_and)
XMM_OP(andnps, x_andn)
XMM_OP(orps, x_or)
XMM_OP(xorps, x_xor)

/* ---- state: FXSAVE, FXRSTOR, LDMXCSR, STMXCSR (0F AE /0-/3) ---- */

/* FXSAVE/FXRSTOR: #NM under CR0.TS or CR0.EM. */
static void fxsr_check(struct cpu *c)
{
	if (c->cr0 & (CR0_EM | CR0_TS))
		cpu_fault_noerr(c, EX_NM);
}

/* The bytes FXSAVE writes: XMM8-15 only in 64-bit mode; 464-511 are software's. */
static int fxsave_len(struct cpu *c)
{
	return c->mode == MODE_LONG ? FX_XMM(16) : FX_XMM(8);
}

/*
 * The image is kept in the 64-bit layout. The 32-bit layout differs only
 * in FIP/FDP: 32-bit offsets followed by the selectors, which this CPU
 * does not track (they read as 0).
 */
void op_fxsave(struct cpu *c, const struct insn *in)
{
	if (in->mod == 3) {
		op_grp15(c, in);
		return;
	}
	fxsr_check(c);
	uint8_t img[512] __attribute__((aligned(16)));
	int len = fxsave_len(c);
	memcpy(img, c->fxsave, (size_t)len);
	uint32_t mask = MXCSR_VALID;
	memcpy(img + FX_MXCSR_MASK, &mask, 4);
	if (!(in->pfx & PFX_REXW)) {
		memset(img + FX_FIP + 4, 0, 4);
		memset(img + FX_FDP + 4, 0, 4);
	}
	mem_write_buf(c, in->seg, insn_ea(c, in), img, len, 16);
}

void op_fxrstor(struct cpu *c, const struct insn *in)
{
	if (in->mod == 3) {
		op_grp15(c, in);
		return;
	}
	fxsr_check(c);
	uint8_t img[512] __attribute__((aligned(16)));
	int len = fxsave_len(c);
	mem_read_buf(c, in->seg, insn_ea(c, in), img, len, 16);
	uint32_t mx;
	memcpy(&mx, img + FX_MXCSR, 4);
	if (mx & ~MXCSR_VALID)
		GP0(c);
	if (!(in->pfx & PFX_REXW)) {
		memset(img + FX_FIP + 4, 0, 4);
		memset(img + FX_FDP + 4, 0, 4);
	}
	memcpy(c->fxsave, img, FX_MXCSR_MASK);
	memset(c->fxsave + FX_MXCSR_MASK, 0, 4);
	memcpy(c->fxsave + FX_ST(0), img + FX_ST(0), (size_t)(len - FX_ST(0)));
	for (int i = 0; i < 8; i++)     /* an ST register holds 80 bits */
		memset(c->fxsave + FX_ST(i) + 10, 0, 6);
}

void op_ldmxcsr(struct cpu *c, const struct insn *in)
{
	if (in->mod == 3) {
		op_grp15(c, in);
		return;
	}
	sse_check(c);
	uint32_t v = (uint32_t)mem_read(c, in->seg, insn_ea(c, in), 4);
	if (v & ~MXCSR_VALID)
		GP0(c);
	mxcsr_put(c, v);
}

void op_stmxcsr(struct cpu *c, const struct insn *in)
{
	if (in->mod == 3) {
		op_grp15(c, in);
		return;
	}
	sse_check(c);
	mem_write(c, in->seg, insn_ea(c, in), 4, mxcsr_get(c));
}

/* ---- dispatch ---- */

/* Which unit's checks apply before the handler runs. */
enum {
	K_SSE = 1,      /* SSE: CR4.OSFXSR, CR0.EM, CR0.TS */
	K_MMX,          /* MMX: CR0.EM, CR0.TS, pending x87 exception; enters MMX mode */
	K_INT,          /* integer SIMD: MMX without 66, SSE with it */
	K_MIX,          /* both registers files (MOVQ2DQ, CVTPI2PS, ...) */
	K_EMMS,         /* MMX checks without entering MMX mode */
	K_NONE,         /* no register file (MOVNTI) */
};

struct sse_entry {
	insn_fn *fn;
	uint8_t kind;
};

/* Prefix columns. */
enum { P_NONE, P_66, P_F3, P_F2 };

#define S(f) { f, K_SSE }
#define M(f) { f, K_MMX }
#define I(f) { f, K_INT }
#define X(f) { f, K_MIX }
/* Integer ops: F3/F2 are ignored, 66 selects XMM. */
#define INT4(f) { I(f), I(f), I(f), I(f) }
/* Floating point by prefix: packed single, packed double, scalar single, scalar double. */
#define FP4(n) { S(op_##n##ps), S(op_##n##pd), S(op_##n##ss), S(op_##n##sd) }

static const struct sse_entry sse_table[256][4] = {
	[0x10] = { S(op_movups), S(op_movups), S(op_movss), S(op_movsd) },
	[0x11] = { S(op_movups_st), S(op_movups_st), S(op_movss_st), S(op_movsd_st) },
	[0x12] = { S(op_movlps), S(op_movlpd) },
	[0x13] = { S(op_movlps_st), S(op_movlps_st) },
	[0x14] = { S(op_unpcklps), S(op_unpcklpd) },
	[0x15] = { S(op_unpckhps), S(op_unpckhpd) },
	[0x16] = { S(op_movhps), S(op_movhpd) },
	[0x17] = { S(op_movhps_st), S(op_movhps_st) },
	[0x28] = { S(op_movaps), S(op_movaps) },
	[0x29] = { S(op_movaps_st), S(op_movaps_st) },
	[0x2a] = { X(op_cvtpi2ps), X(op_cvtpi2pd), S(op_cvtsi2ss), S(op_cvtsi2sd) },
	[0x2b] = { S(op_movntps), S(op_movntps) },
	[0x2c] = { X(op_cvttps2pi), X(op_cvttpd2pi), S(op_cvttss2si), S(op_cvttsd2si) },
	[0x2d] = { X(op_cvtps2pi), X(op_cvtpd2pi), S(op_cvtss2si), S(op_cvtsd2si) },
	[0x2e] = { S(op_ucomiss), S(op_ucomisd) },
	[0x2f] = { S(op_comiss), S(op_comisd) },
	[0x50] = { S(op_movmskps), S(op_movmskpd) },
	[0x51] = FP4(sqrt),
	[0x52] = { S(op_rsqrtps), { 0, 0 }, S(op_rsqrtss) },
	[0x53] = { S(op_rcpps), { 0, 0 }, S(op_rcpss) },
	[0x54] = { S(op_andps), S(op_andps) },
	[0x55] = { S(op_andnps), S(op_andnps) },
	[0x56] = { S(op_orps), S(op_orps) },
	[0x57] = { S(op_xorps), S(op_xorps) },
	[0x58] = FP4(add),
	[0x59] = FP4(mul),
	[0x5a] = { S(op_cvtps2pd), S(op_cvtpd2ps), S(op_cvtss2sd), S(op_cvtsd2ss) },
	[0x5b] = { S(op_cvtdq2ps), S(op_cvtps2dq), S(op_cvttps2dq) },
	[0x5c] = FP4(sub),
	[0x5d] = FP4(min),
	[0x5e] = FP4(div),
	[0x5f] = FP4(max),
	[0x60] = INT4(op_punpcklbw), [0x61] = INT4(op_punpcklwd), [0x62] = INT4(op_punpckldq),
	[0x63] = INT4(op_packsswb), [0x64] = INT4(op_pcmpgtb), [0x65] = INT4(op_pcmpgtw),
	[0x66] = INT4(op_pcmpgtd), [0x67] = INT4(op_packuswb), [0x68] = INT4(op_punpckhbw),
	[0x69] = INT4(op_punpckhwd), [0x6a] = INT4(op_punpckhdq), [0x6b] = INT4(op_packssdw),
	[0x6c] = { { 0, 0 }, S(op_punpcklqdq) }, [0x6d] = { { 0, 0 }, S(op_punpckhqdq) },
	[0x6e] = { M(op_movd_to), S(op_movd_to) },
	[0x6f] = { M(op_movq_mm), S(op_movdqa), S(op_movdqu) },
	[0x70] = { M(op_pshufw), S(op_pshufd), S(op_pshufhw), S(op_pshuflw) },
	[0x71] = { I(op_pshift_imm_w), I(op_pshift_imm_w) },
	[0x72] = { I(op_pshift_imm_d), I(op_pshift_imm_d) },
	[0x73] = { I(op_pshift_imm_q), I(op_pshift_imm_q) },
	[0x74] = INT4(op_pcmpeqb), [0x75] = INT4(op_pcmpeqw), [0x76] = INT4(op_pcmpeqd),
	[0x77] = { { op_emms, K_EMMS } },
	[0x7e] = { M(op_movd_from), S(op_movd_from), S(op_movq_xmm) },
	[0x7f] = { M(op_movq_mm_st), S(op_movdqa_st), S(op_movdqu_st) },
	[0xc2] = FP4(cmp),
	[0xc3] = { { op_movnti, K_NONE } },
	[0xc4] = { I(op_pinsrw), I(op_pinsrw) },
	[0xc5] = { I(op_pextrw), I(op_pextrw) },
	[0xc6] = { S(op_shufps), S(op_shufpd) },
	[0xd1] = INT4(op_psrlw), [0xd2] = INT4(op_psrld), [0xd3] = INT4(op_psrlq),
	[0xd4] = INT4(op_paddq), [0xd5] = INT4(op_pmullw),
	[0xd6] = { { 0, 0 }, S(op_movq_xmm_st), X(op_movq2dq), X(op_movdq2q) },
	[0xd7] = { I(op_pmovmskb), I(op_pmovmskb) },
	[0xd8] = INT4(op_psubusb), [0xd9] = INT4(op_psubusw), [0xda] = INT4(op_pminub),
	[0xdb] = INT4(op_pand), [0xdc] = INT4(op_paddusb), [0xdd] = INT4(op_paddusw),
	[0xde] = INT4(op_pmaxub), [0xdf] = INT4(op_pandn),
	[0xe0] = INT4(op_pavgb), [0xe1] = INT4(op_psraw), [0xe2] = INT4(op_psrad),
	[0xe3] = INT4(op_pavgw), [0xe4] = INT4(op_pmulhuw), [0xe5] = INT4(op_pmulhw),
	[0xe6] = { { 0, 0 }, S(op_cvttpd2dq), S(op_cvtdq2pd), S(op_cvtpd2dq) },
	[0xe7] = { M(op_movntq), S(op_movntps) },
	[0xe8] = INT4(op_psubsb), [0xe9] = INT4(op_psubsw), [0xea] = INT4(op_pminsw),
	[0xeb] = INT4(op_por), [0xec] = INT4(op_paddsb), [0xed] = INT4(op_paddsw),
	[0xee] = INT4(op_pmaxsw), [0xef] = INT4(op_pxor),
	[0xf1] = INT4(op_psllw), [0xf2] = INT4(op_pslld), [0xf3] = INT4(op_psllq),
	[0xf4] = INT4(op_pmuludq), [0xf5] = INT4(op_pmaddwd), [0xf6] = INT4(op_psadbw),
	[0xf7] = { M(op_maskmov), S(op_maskmov) },
	[0xf8] = INT4(op_psubb), [0xf9] = INT4(op_psubw), [0xfa] = INT4(op_psubd),
	[0xfb] = INT4(op_psubq), [0xfc] = INT4(op_paddb), [0xfd] = INT4(op_paddw),
	[0xfe] = INT4(op_paddd),
};

static void mmx_check_enter(struct cpu *c)
{
	mmx_check(c);
	mmx_enter(c);
}

/* 0F 10-17, 28-2F, 50-7F, C2-C6, D0-FF */
void op_sse(struct cpu *c, const struct insn *in)
{
	int p = in->rep == 0xf3 ? P_F3 : in->rep == 0xf2 ? P_F2 : (in->pfx & PFX_OPSZ) ? P_66 : P_NONE;
	const struct sse_entry *e = &sse_table[in->op][p];
	if (!e->fn)
		UD(c);
	switch (e->kind) {
	case K_SSE:
		sse_check(c);
		break;
	case K_MMX:
		mmx_check_enter(c);
		break;
	case K_INT:
		if (in->pfx & PFX_OPSZ)
			sse_check(c);
		else
			mmx_check_enter(c);
		break;
	case K_MIX:
		sse_check(c);
		mmx_check_enter(c);
		break;
	case K_EMMS:
		mmx_check(c);
		break;
	}
	e->fn(c, in);
}
