/*
 * What the x87/MMX unit (fpu.c) and the SSE unit (sse.c, sse_int.c,
 * sse_fp.c) share: their state, which lives in struct cpu's FXSAVE image
 * in the 64-bit layout (so FXSAVE, FXRSTOR and KVM_GET/SET_FPU are
 * copies), guest memory blocks of any length, and the checks that decide
 * between #UD, #NM and #MF.
 *
 * Floating-point arithmetic runs on the host's own x87 and SSE units
 * (this CPU only runs on x86-64 hosts): each operation loads the guest's
 * rounding, precision, DAZ and FTZ controls into the host unit with every
 * exception masked, runs there, and reads the exception flags back. So
 * results, NaN propagation and flags are the hardware's, bit for bit;
 * everything around the arithmetic (registers, the x87 stack and tags,
 * data movement, integer SIMD, faults, state save and restore) is ours.
 */
#ifndef RUNVM_SOFT_SIMD_H
#define RUNVM_SOFT_SIMD_H

#include "internal.h"
#include "insns.h"

/* Offsets in the FXSAVE image. */
#define FX_FCW 0
#define FX_FSW 2
#define FX_FTW 4                /* abridged: one bit per physical register, 1 = not empty */
#define FX_FOP 6
#define FX_FIP 8
#define FX_FDP 16
#define FX_MXCSR 24
#define FX_MXCSR_MASK 28
#define FX_ST(i) (32 + 16 * (i))        /* ST(i), in stack order */
#define FX_XMM(i) (160 + 16 * (i))

/* MXCSR: flags 0-5, DAZ 6, masks 7-12, rounding 13-14, FTZ 15. */
#define MXCSR_FLAGS 0x3fu
#define MXCSR_DAZ (1u << 6)
#define MXCSR_MASKS 0x1f80u
#define MXCSR_RC (3u << 13)
#define MXCSR_FTZ (1u << 15)
#define MXCSR_VALID 0xffffu     /* what LDMXCSR accepts (and FXSAVE reports as MXCSR_MASK) */

typedef float v4sf __attribute__((vector_size(16)));
typedef double v2df __attribute__((vector_size(16)));
typedef long long v2di __attribute__((vector_size(16)));

/* An XMM register (an MMX register is its low 8 bytes). */
union xmm {
	uint8_t b[16];
	int8_t sb[16];
	uint16_t w[8];
	int16_t sw[8];
	uint32_t d[4];
	int32_t sd[4];
	uint64_t q[2];
	int64_t sq[2];
	v4sf ps;
	v2df pd;
	v2di pi;
};

static inline uint16_t fx_get16(const struct cpu *c, int off)
{
	uint16_t v;
	memcpy(&v, c->fxsave + off, 2);
	return v;
}

static inline void fx_put16(struct cpu *c, int off, uint16_t v)
{
	memcpy(c->fxsave + off, &v, 2);
}

static inline uint32_t mxcsr_get(const struct cpu *c)
{
	uint32_t v;
	memcpy(&v, c->fxsave + FX_MXCSR, 4);
	return v;
}

static inline void mxcsr_put(struct cpu *c, uint32_t v)
{
	memcpy(c->fxsave + FX_MXCSR, &v, 4);
}

static inline void xmm_get(const struct cpu *c, int i, union xmm *v)
{
	memcpy(v, c->fxsave + FX_XMM(i & 15), 16);
}

static inline void xmm_put(struct cpu *c, int i, const union xmm *v)
{
	memcpy(c->fxsave + FX_XMM(i & 15), v, 16);
}

static inline uint64_t mm_get(const struct cpu *c, int i)
{
	uint64_t v;
	memcpy(&v, c->fxsave + FX_ST(i & 7), 8);
	return v;
}

/* Writing an MMX register sets the exponent field of its ST register to all ones. */
static inline void mm_put(struct cpu *c, int i, uint64_t v)
{
	uint8_t *p = c->fxsave + FX_ST(i & 7);
	memcpy(p, &v, 8);
	p[8] = p[9] = 0xff;
}

/* ---- fpu.c ---- */
/* #UD under CR0.EM, #NM under CR0.TS, #MF for a pending x87 exception. */
void mmx_check(struct cpu *c);
/* Switches the x87 unit to MMX use: TOP = 0, all registers valid. */
void mmx_enter(struct cpu *c);

/* ---- sse.c: guest memory of any length ---- */
/*
 * Reads or writes len bytes at seg:off. align (a power of two, or 0) is
 * the alignment the instruction requires: #GP(0) otherwise. A write is
 * checked on every page it touches before any byte is written.
 */
void mem_read_buf(struct cpu *c, int seg, uint64_t off, void *buf, int len, int align);
void mem_write_buf(struct cpu *c, int seg, uint64_t off, const void *buf, int len, int align);
/* The r/m operand of an SSE instruction: an XMM register or size bytes of memory (zero-extended). */
void sse_src(struct cpu *c, const struct insn *in, union xmm *v, int size, int align);
/* The r/m operand of an MMX instruction: an MMX register or 8 bytes of memory. */
uint64_t mmx_src(struct cpu *c, const struct insn *in);
/* Records SSE exception flags; raises #XM (#UD without CR4.OSXMMEXCPT) when one is unmasked. */
void sse_raise(struct cpu *c, uint32_t flags);

/*
 * The host's SSE unit with the guest's rounding, DAZ and FTZ, all
 * exceptions masked and the flags clear; sse_host_end restores the host's
 * MXCSR and returns the flags the operations between raised. Nothing in
 * between may fault (a fault would leave the host's MXCSR behind).
 */
static inline uint32_t sse_host_begin(const struct cpu *c)
{
	uint32_t host, g = (mxcsr_get(c) & (MXCSR_RC | MXCSR_DAZ | MXCSR_FTZ)) | MXCSR_MASKS;
	__asm__ volatile("stmxcsr %0" : "=m"(host));
	__asm__ volatile("ldmxcsr %0" : : "m"(g) : "memory");
	return host;
}

static inline uint32_t sse_host_end(uint32_t host)
{
	uint32_t f;
	__asm__ volatile("stmxcsr %0" : "=m"(f) : : "memory");
	__asm__ volatile("ldmxcsr %0" : : "m"(host) : "memory");
	return f & MXCSR_FLAGS;
}

/* ---- the SSE handlers, by file (the dispatch table is in sse.c) ---- */

/* sse.c: moves, shuffles, logic, state */
insn_fn op_movups, op_movss, op_movsd, op_movups_st, op_movss_st, op_movsd_st;
insn_fn op_movaps, op_movaps_st, op_movlps, op_movlps_st, op_movhps, op_movhps_st;
insn_fn op_movlpd, op_movhpd, op_movntps, op_movmskps, op_movmskpd;
insn_fn op_unpcklps, op_unpckhps, op_unpcklpd, op_unpckhpd, op_shufps, op_shufpd;
insn_fn op_andps, op_andnps, op_orps, op_xorps;
insn_fn op_movd_to, op_movd_from, op_movq_mm, op_movq_mm_st, op_movdqa, op_movdqu;
insn_fn op_movdqa_st, op_movdqu_st, op_movq_xmm, op_movq_xmm_st, op_movq2dq, op_movdq2q;
insn_fn op_movnti, op_movntq, op_maskmov, op_emms;

/* sse_int.c: integer SIMD on MMX (no prefix) and XMM (66) registers */
insn_fn op_paddb, op_paddw, op_paddd, op_paddq, op_psubb, op_psubw, op_psubd, op_psubq;
insn_fn op_paddsb, op_paddsw, op_paddusb, op_paddusw, op_psubsb, op_psubsw, op_psubusb, op_psubusw;
insn_fn op_pcmpeqb, op_pcmpeqw, op_pcmpeqd, op_pcmpgtb, op_pcmpgtw, op_pcmpgtd;
insn_fn op_pand, op_pandn, op_por, op_pxor;
insn_fn op_psllw, op_pslld, op_psllq, op_psrlw, op_psrld, op_psrlq, op_psraw, op_psrad;
insn_fn op_pshift_imm_w, op_pshift_imm_d, op_pshift_imm_q;
insn_fn op_punpcklbw, op_punpcklwd, op_punpckldq, op_punpcklqdq;
insn_fn op_punpckhbw, op_punpckhwd, op_punpckhdq, op_punpckhqdq;
insn_fn op_packsswb, op_packssdw, op_packuswb;
insn_fn op_pshufw, op_pshufd, op_pshufhw, op_pshuflw;
insn_fn op_pmullw, op_pmulhw, op_pmulhuw, op_pmuludq, op_pmaddwd;
insn_fn op_pminub, op_pmaxub, op_pminsw, op_pmaxsw, op_pavgb, op_pavgw, op_psadbw;
insn_fn op_pextrw, op_pinsrw, op_pmovmskb;

/* sse_fp.c: floating point */
insn_fn op_addps, op_addpd, op_addss, op_addsd, op_subps, op_subpd, op_subss, op_subsd;
insn_fn op_mulps, op_mulpd, op_mulss, op_mulsd, op_divps, op_divpd, op_divss, op_divsd;
insn_fn op_minps, op_minpd, op_minss, op_minsd, op_maxps, op_maxpd, op_maxss, op_maxsd;
insn_fn op_sqrtps, op_sqrtpd, op_sqrtss, op_sqrtsd, op_rsqrtps, op_rsqrtss, op_rcpps, op_rcpss;
insn_fn op_cmpps, op_cmppd, op_cmpss, op_cmpsd, op_comiss, op_comisd, op_ucomiss, op_ucomisd;
insn_fn op_cvtsi2ss, op_cvtsi2sd, op_cvtss2si, op_cvtsd2si, op_cvttss2si, op_cvttsd2si;
insn_fn op_cvtss2sd, op_cvtsd2ss, op_cvtps2pd, op_cvtpd2ps;
insn_fn op_cvtdq2ps, op_cvtps2dq, op_cvttps2dq, op_cvtdq2pd, op_cvtpd2dq, op_cvttpd2dq;
insn_fn op_cvtpi2ps, op_cvtpi2pd, op_cvtps2pi, op_cvttps2pi, op_cvtpd2pi, op_cvttpd2pi;

#endif
