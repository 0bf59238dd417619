/*
 * SSE/SSE2 floating point: arithmetic, compares, conversions. Each
 * operation runs as the same instruction on the host's SSE unit between
 * sse_host_begin() and sse_host_end() (see simd.h), on values already in
 * host registers: operands are fetched, and faults taken, before; the
 * flags are merged into MXCSR and an unmasked one raises #XM after,
 * leaving the destination as it was, as the hardware does.
 *
 * Packed and 128-bit memory operands must be 16-byte aligned; scalar
 * ones (m32/m64) need not be.
 *
 * The host runs with every exception masked, and a masked underflow is
 * only signaled for an inexact tiny result; with the guest's underflow
 * exception unmasked, an exact tiny result (a denormal) signals it too:
 * fp_op checks the result lanes for that.
 */
#include "simd.h"

typedef void host_fn(union xmm *d, const union xmm *s);

/* Which lanes of a result can be an exact tiny result: none, or single/double, packed/scalar. */
enum { T_NONE, T_PS, T_PD, T_SS, T_SD };

/* UE when the guest's underflow exception is unmasked and a result lane is denormal. */
static uint32_t exact_tiny(const struct cpu *c, const union xmm *d, int lanes)
{
	if (lanes == T_NONE || (mxcsr_get(c) & (1u << 11)))
		return 0;
	int n = lanes == T_PS ? 4 : lanes == T_PD ? 2 : 1;
	for (int i = 0; i < n; i++) {
		if (lanes == T_PS || lanes == T_SS) {
			if (!(d->d[i] & 0x7f800000) && (d->d[i] & 0x007fffff))
				return 0x10;
		} else if (!(d->q[i] & 0x7ff0000000000000ULL) && (d->q[i] & 0x000fffffffffffffULL)) {
			return 0x10;
		}
	}
	return 0;
}

/* dst = f(dst, src), src being size bytes of memory or an XMM register. */
static void fp_op(struct cpu *c, const struct insn *in, host_fn *f, int size, int lanes)
{
	union xmm d, s;
	sse_src(c, in, &s, size, size == 16);
	xmm_get(c, in->reg, &d);
	uint32_t host = sse_host_begin(c);
	f(&d, &s);
	uint32_t flags = sse_host_end(host);
	sse_raise(c, flags | exact_tiny(c, &d, lanes));
	xmm_put(c, in->reg, &d);
}

#define HOST2(name, text) \
	static void h_##name(union xmm *d, const union xmm *s) \
	{ \
		__asm__ volatile(text " %1, %0" : "+x"(d->pi) : "x"(s->pi)); \
	}

#define FP_OP(name, size, lanes) \
	HOST2(name, #name) \
	void op_##name(struct cpu *c, const struct insn *in) { fp_op(c, in, h_##name, size, lanes); }

/* An operation in its four forms: packed single, packed double, scalar single, scalar double. */
#define FP_OP4(name, tiny) \
	FP_OP(name##ps, 16, tiny ? T_PS : T_NONE) FP_OP(name##pd, 16, tiny ? T_PD : T_NONE) \
	FP_OP(name##ss, 4, tiny ? T_SS : T_NONE) FP_OP(name##sd, 8, tiny ? T_SD : T_NONE)

FP_OP4(add, 1)
FP_OP4(sub, 1)
FP_OP4(mul, 1)
FP_OP4(div, 1)
FP_OP4(min, 0)
FP_OP4(max, 0)
FP_OP4(sqrt, 0)
/* The reciprocal approximations are the host's (their low bits are the implementation's). */
FP_OP(rsqrtps, 16, T_NONE)
FP_OP(rsqrtss, 4, T_NONE)
FP_OP(rcpps, 16, T_NONE)
FP_OP(rcpss, 4, T_NONE)

FP_OP(cvtss2sd, 4, T_NONE)
FP_OP(cvtsd2ss, 8, T_SS)
FP_OP(cvtps2pd, 8, T_NONE)
FP_OP(cvtpd2ps, 16, T_PS)
FP_OP(cvtdq2ps, 16, T_NONE)
FP_OP(cvtps2dq, 16, T_NONE)
FP_OP(cvttps2dq, 16, T_NONE)
FP_OP(cvtdq2pd, 8, T_NONE)
FP_OP(cvtpd2dq, 16, T_NONE)
FP_OP(cvttpd2dq, 16, T_NONE)

/* ---- CMPccPS/PD/SS/SD: the predicate is the low 3 bits of imm8 ---- */

#define CMP_CASE(mnem, k) \
	case k: __asm__ volatile(mnem " $" #k ", %1, %0" : "+x"(d->pi) : "x"(s->pi)); break;

#define CMP_OP(name, size) \
	static void h_##name(union xmm *d, const union xmm *s, int pred) \
	{ \
		switch (pred & 7) { \
		CMP_CASE(#name, 0) CMP_CASE(#name, 1) CMP_CASE(#name, 2) CMP_CASE(#name, 3) \
		CMP_CASE(#name, 4) CMP_CASE(#name, 5) CMP_CASE(#name, 6) CMP_CASE(#name, 7) \
		} \
	} \
	void op_##name(struct cpu *c, const struct insn *in) \
	{ \
		union xmm d, s; \
		sse_src(c, in, &s, size, size == 16); \
		xmm_get(c, in->reg, &d); \
		uint32_t host = sse_host_begin(c); \
		h_##name(&d, &s, (int)in->imm); \
		sse_raise(c, sse_host_end(host)); \
		xmm_put(c, in->reg, &d); \
	}

CMP_OP(cmpps, 16)
CMP_OP(cmppd, 16)
CMP_OP(cmpss, 4)
CMP_OP(cmpsd, 8)

/* ---- COMISS/COMISD/UCOMISS/UCOMISD: ZF, PF, CF from the compare; OF, SF, AF cleared ---- */

#define COMI_OP(name, size) \
	void op_##name(struct cpu *c, const struct insn *in) \
	{ \
		union xmm d, s; \
		uint8_t zf, pf, cf; \
		sse_src(c, in, &s, size, 0); \
		xmm_get(c, in->reg, &d); \
		uint32_t host = sse_host_begin(c); \
		__asm__ volatile(#name " %3, %4" : "=@ccz"(zf), "=@ccp"(pf), "=@ccc"(cf) \
				 : "x"(s.pi), "x"(d.pi)); \
		sse_raise(c, sse_host_end(host)); \
		set_flags(c, (zf ? F_ZF : 0) | (pf ? F_PF : 0) | (cf ? F_CF : 0)); \
	}

COMI_OP(comiss, 4)
COMI_OP(comisd, 8)
COMI_OP(ucomiss, 4)
COMI_OP(ucomisd, 8)

/* ---- conversions with a general register ---- */

/* CVTSI2SS/CVTSI2SD xmm, r/m32/64 */
#define CVT_FROM_INT(name) \
	void op_##name(struct cpu *c, const struct insn *in) \
	{ \
		union xmm d; \
		int wide = !!(in->pfx & PFX_REXW); \
		uint64_t v = rm_read(c, in, wide ? 8 : 4); \
		xmm_get(c, in->reg, &d); \
		uint32_t host = sse_host_begin(c); \
		if (wide) \
			__asm__ volatile(#name "q %1, %0" : "+x"(d.pi) : "r"(v)); \
		else \
			__asm__ volatile(#name "l %1, %0" : "+x"(d.pi) : "r"((uint32_t)v)); \
		sse_raise(c, sse_host_end(host)); \
		xmm_put(c, in->reg, &d); \
	}

CVT_FROM_INT(cvtsi2ss)
CVT_FROM_INT(cvtsi2sd)

/* CVT(T)SS2SI/CVT(T)SD2SI r32/64, xmm/m32/64; out of range gives the integer indefinite. */
#define CVT_TO_INT(name, size) \
	void op_##name(struct cpu *c, const struct insn *in) \
	{ \
		union xmm s; \
		uint64_t r; \
		uint32_t r32; \
		int wide = !!(in->pfx & PFX_REXW); \
		sse_src(c, in, &s, size, 0); \
		uint32_t host = sse_host_begin(c); \
		if (wide) { \
			__asm__ volatile(#name " %1, %0" : "=r"(r) : "x"(s.pi)); \
		} else { \
			__asm__ volatile(#name " %1, %0" : "=r"(r32) : "x"(s.pi)); \
			r = r32; \
		} \
		sse_raise(c, sse_host_end(host)); \
		reg_write(c, in->reg, wide ? 8 : 4, r); \
	}

CVT_TO_INT(cvtss2si, 4)
CVT_TO_INT(cvttss2si, 4)
CVT_TO_INT(cvtsd2si, 8)
CVT_TO_INT(cvttsd2si, 8)

/* ---- conversions with an MMX register, through their XMM forms ---- */

/* CVTPI2PS xmm, mm/m64: the low two singles; the upper two stay. */
void op_cvtpi2ps(struct cpu *c, const struct insn *in)
{
	union xmm d, s = { .q = { mmx_src(c, in), 0 } };
	xmm_get(c, in->reg, &d);
	uint32_t host = sse_host_begin(c);
	h_cvtdq2ps(&s, &s);
	sse_raise(c, sse_host_end(host));
	d.q[0] = s.q[0];
	xmm_put(c, in->reg, &d);
}

/* CVTPI2PD xmm, mm/m64 (exact). */
void op_cvtpi2pd(struct cpu *c, const struct insn *in)
{
	union xmm d = { .q = { 0, 0 } }, s = { .q = { mmx_src(c, in), 0 } };
	uint32_t host = sse_host_begin(c);
	h_cvtdq2pd(&d, &s);
	sse_raise(c, sse_host_end(host));
	xmm_put(c, in->reg, &d);
}

/* mm = f(src) where f converts to dwords and src is size bytes. */
static void cvt_to_mm(struct cpu *c, const struct insn *in, host_fn *f, int size)
{
	union xmm d = { .q = { 0, 0 } }, s;
	sse_src(c, in, &s, size, size == 16);
	if (size == 8)
		s.q[1] = 0;     /* only the low two singles are converted */
	uint32_t host = sse_host_begin(c);
	f(&d, &s);
	sse_raise(c, sse_host_end(host));
	mm_put(c, in->reg, d.q[0]);
}

void op_cvtps2pi(struct cpu *c, const struct insn *in) { cvt_to_mm(c, in, h_cvtps2dq, 8); }
void op_cvttps2pi(struct cpu *c, const struct insn *in) { cvt_to_mm(c, in, h_cvttps2dq, 8); }
void op_cvtpd2pi(struct cpu *c, const struct insn *in) { cvt_to_mm(c, in, h_cvtpd2dq, 16); }
void op_cvttpd2pi(struct cpu *c, const struct insn *in) { cvt_to_mm(c, in, h_cvttpd2dq, 16); }
