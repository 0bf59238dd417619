/*
 * The soft CPU's SSE and SSE2 units: every snippet runs on the soft CPU
 * and natively, and the results (XMM registers, memory, MXCSR, flags)
 * must match bit for bit; then the faults (#UD, #NM, #GP, #XM, #PF) and
 * FXSAVE's layout checked by hand.
 */
#include <math.h>

#include "soft_fpu_dual.h"

/* Inputs: 32 vectors, MXCSR values, integers. */
struct sse_in {
	uint8_t x[32][16];      /* XB */
	uint32_t mx[8];         /* MXB */
	int64_t q[4];           /* QB */
};
__asm__(".equ XB, 0\n.equ MXB, 512\n.equ QB, 544\n");
_Static_assert(offsetof(struct sse_in, mx) == 512 && offsetof(struct sse_in, q) == 544 &&
	       sizeof(struct sse_in) <= DUAL_IN, "input layout");

static struct sse_in in;

static void put_f(int v, float a, float b, float c, float d)
{
	float f[4] = { a, b, c, d };
	memcpy(in.x[v], f, 16);
}

static void put_d(int v, double a, double b)
{
	double d[2] = { a, b };
	memcpy(in.x[v], d, 16);
}

static void make_inputs(void)
{
	uint32_t snan = 0x7f800001, qnan_neg = 0xffc12345;
	uint64_t snan64 = 0x7ff0000000000001ULL;
	float fs, fq;
	double ds;
	memcpy(&fs, &snan, 4);
	memcpy(&fq, &qnan_neg, 4);
	memcpy(&ds, &snan64, 8);
	memset(&in, 0, sizeof(in));
	put_f(0, 1.5f, -2.25f, 3.0f, 0.1f);
	put_f(1, 0.7f, 1e-40f, NAN, -0.0f);
	put_f(2, INFINITY, -INFINITY, 3.4e38f, 1e-38f);
	put_f(3, fs, -1.0f, 100.5f, 2.5f);
	put_d(4, 1.5, -0.3);
	put_d(5, 1e300, 5e-324);
	put_d(6, NAN, -INFINITY);
	put_d(7, 2.5, -1e-310);
	int32_t ints[4] = { 0x7fffffff, (int32_t)0x80000000, -5, 12345 };
	memcpy(in.x[8], ints, 16);
	for (int i = 0; i < 16; i++)
		in.x[9][i] = (uint8_t)(i * 37 + 0x80);
	int16_t words[8] = { 32767, -32768, -1, 0, 1000, -1000, 12345, -300 };
	memcpy(in.x[10], words, 16);
	uint64_t qs[2] = { 0x0123456789abcdefULL, 0xfedcba9876543210ULL };
	memcpy(in.x[11], qs, 16);
	put_d(12, 1e20, -3.7);
	put_f(13, 3e9f, -3e9f, 2.5f, -2.5f);
	put_f(14, fq, fs, 0.0f, -0.0f);
	put_d(15, ds, 0.0);
	put_d(16, -0.0, 0.0);
	put_f(17, 0.0f, 1.0f, -1.0f, 4.0f);
	put_d(18, 2.0, -1.0);
	for (int i = 0; i < 16; i++)
		in.x[19][i] = (uint8_t)(0xff - i * 17);
	int16_t w2[8] = { -2, 3, 300, -300, 255, 256, -129, 127 };
	memcpy(in.x[20], w2, 16);
	uint8_t str[16] = "hello, world\0xyz";
	memcpy(in.x[21], str, 16);
	static const uint32_t mx[8] = { 0x1f80, 0x3f80, 0x5f80, 0x7f80, 0x9fc0, 0x1fbf, 0x1f80, 0x1f80 };
	memcpy(in.mx, mx, sizeof(mx));
	in.q[0] = -1234567890123LL;
	in.q[1] = 0x7fffffffffffffffLL;
	in.q[2] = 3;
	in.q[3] = (int64_t)0x8000000000000001ULL;
}

static void dual_check(const char *name, const uint8_t *code, const uint8_t *end, void (*host)(uint8_t *))
{
	struct tcpu t;
	dual_cpu(&t);
	CHECK(dual_run_in(&t, name, code, end, host, &in, sizeof(in)));
	tcpu_free(&t);
}
#define DUAL(name) dual_check(#name, name, name##_end, name##_host)

/* Loads XMM0-7 from inputs 0-7 and XMM8-15 from inputs 8-15. */
#define LOAD16 \
	"movaps XB+16*0(%rdi), %xmm0\n movaps XB+16*1(%rdi), %xmm1\n movaps XB+16*2(%rdi), %xmm2\n" \
	"movaps XB+16*3(%rdi), %xmm3\n movaps XB+16*4(%rdi), %xmm4\n movaps XB+16*5(%rdi), %xmm5\n" \
	"movaps XB+16*6(%rdi), %xmm6\n movaps XB+16*7(%rdi), %xmm7\n movdqa XB+16*8(%rdi), %xmm8\n" \
	"movdqa XB+16*9(%rdi), %xmm9\n movdqa XB+16*10(%rdi), %xmm10\n movdqa XB+16*11(%rdi), %xmm11\n" \
	"movdqa XB+16*12(%rdi), %xmm12\n movdqa XB+16*13(%rdi), %xmm13\n movdqa XB+16*14(%rdi), %xmm14\n" \
	"movdqa XB+16*15(%rdi), %xmm15\n"

DUAL_CODE(sse_moves, LOAD16
	"movups XB+16*1+4(%rdi), %xmm0\n OUTX %xmm0\n movupd XB+16*2+8(%rdi), %xmm0\n OUTX %xmm0\n"
	"movss XB+16*3(%rdi), %xmm1\n OUTX %xmm1\n movss %xmm0, %xmm2\n OUTX %xmm2\n"
	"movsd XB+16*4(%rdi), %xmm3\n OUTX %xmm3\n movsd %xmm0, %xmm4\n OUTX %xmm4\n"
	"movss %xmm5, (%rsi)\n lea 16(%rsi), %rsi\n movsd %xmm5, 4(%rsi)\n lea 16(%rsi), %rsi\n"
	"movups %xmm6, 1(%rsi)\n lea 32(%rsi), %rsi\n movaps %xmm7, (%rsi)\n lea 16(%rsi), %rsi\n"
	"movapd %xmm8, %xmm9\n OUTX %xmm9\n movaps %xmm10, %xmm11\n OUTX %xmm11\n"
	"movlps XB+16*5(%rdi), %xmm12\n OUTX %xmm12\n movhps XB+16*6(%rdi), %xmm12\n OUTX %xmm12\n"
	"movhlps %xmm8, %xmm13\n OUTX %xmm13\n movlhps %xmm8, %xmm14\n OUTX %xmm14\n"
	"movlpd XB+16*7(%rdi), %xmm15\n OUTX %xmm15\n movhpd XB+16*9(%rdi), %xmm15\n OUTX %xmm15\n"
	"movlps %xmm15, (%rsi)\n movhps %xmm14, 8(%rsi)\n lea 16(%rsi), %rsi\n"
	"movlpd %xmm13, 2(%rsi)\n movhpd %xmm12, 10(%rsi)\n lea 32(%rsi), %rsi\n"
	"movd XB+16*8+4(%rdi), %xmm0\n OUTX %xmm0\n movq XB+16*11(%rdi), %xmm1\n OUTX %xmm1\n"
	"mov $-2, %rax\n movd %eax, %xmm2\n OUTX %xmm2\n movq %rax, %xmm3\n OUTX %xmm3\n"
	"movd %xmm11, %ecx\n OUTR %rcx\n movq %xmm11, %rdx\n OUTR %rdx\n"
	"movd %xmm11, (%rsi)\n movq %xmm9, 4(%rsi)\n lea 16(%rsi), %rsi\n"
	"movq %xmm12, %xmm4\n OUTX %xmm4\n movq %xmm13, (%rsi)\n lea 16(%rsi), %rsi\n"
	"movdqu XB+16*9+3(%rdi), %xmm5\n OUTX %xmm5\n movdqa %xmm5, (%rsi)\n lea 16(%rsi), %rsi\n"
	"movdqu %xmm5, 5(%rsi)\n lea 32(%rsi), %rsi\n"
	"movdq2q %xmm9, %mm0\n movq2dq %mm0, %xmm6\n OUTX %xmm6\n movdq2q %xmm10, %mm1\n OUTQ %mm1\n emms\n"
	"movmskps %xmm0, %eax\n OUTR %rax\n movmskps %xmm2, %eax\n OUTR %rax\n movmskpd %xmm12, %ecx\n OUTR %rcx\n"
	"pmovmskb %xmm9, %edx\n OUTR %rdx\n"
	"movnti %eax, (%rsi)\n movnti %rdx, 8(%rsi)\n lea 16(%rsi), %rsi\n"
	"movntps %xmm9, (%rsi)\n lea 16(%rsi), %rsi\n movntdq %xmm10, (%rsi)\n lea 16(%rsi), %rsi\n"
	"movntpd %xmm11, (%rsi)\n lea 16(%rsi), %rsi\n"
	"mov %rdi, %r9\n mov %rsi, %rdi\n maskmovdqu %xmm9, %xmm10\n mov %r9, %rdi\n lea 16(%rsi), %rsi\n");

DUAL_CODE(sse_int, LOAD16
	"movdqa %xmm9, %xmm0\n paddb %xmm10, %xmm0\n OUTX %xmm0\n"
	"movdqa %xmm9, %xmm0\n paddw %xmm10, %xmm0\n OUTX %xmm0\n"
	"movdqa %xmm9, %xmm0\n paddd %xmm10, %xmm0\n OUTX %xmm0\n"
	"movdqa %xmm9, %xmm0\n paddq %xmm11, %xmm0\n OUTX %xmm0\n"
	"movdqa %xmm9, %xmm0\n psubb %xmm10, %xmm0\n OUTX %xmm0\n"
	"movdqa %xmm9, %xmm0\n psubw XB+16*10(%rdi), %xmm0\n OUTX %xmm0\n"
	"movdqa %xmm9, %xmm0\n psubd %xmm10, %xmm0\n OUTX %xmm0\n"
	"movdqa %xmm9, %xmm0\n psubq %xmm11, %xmm0\n OUTX %xmm0\n"
	"movdqa %xmm9, %xmm0\n paddsb %xmm10, %xmm0\n OUTX %xmm0\n"
	"movdqa %xmm10, %xmm0\n paddsw %xmm10, %xmm0\n OUTX %xmm0\n"
	"movdqa %xmm9, %xmm0\n paddusb %xmm10, %xmm0\n OUTX %xmm0\n"
	"movdqa %xmm10, %xmm0\n paddusw %xmm9, %xmm0\n OUTX %xmm0\n"
	"movdqa %xmm9, %xmm0\n psubsb %xmm10, %xmm0\n OUTX %xmm0\n"
	"movdqa %xmm10, %xmm0\n psubsw %xmm9, %xmm0\n OUTX %xmm0\n"
	"movdqa %xmm9, %xmm0\n psubusb %xmm10, %xmm0\n OUTX %xmm0\n"
	"movdqa %xmm10, %xmm0\n psubusw %xmm9, %xmm0\n OUTX %xmm0\n"
	"movdqa %xmm9, %xmm0\n pcmpeqb %xmm9, %xmm0\n OUTX %xmm0\n"
	"movdqa %xmm9, %xmm0\n pcmpeqw %xmm10, %xmm0\n OUTX %xmm0\n"
	"movdqa %xmm8, %xmm0\n pcmpeqd %xmm8, %xmm0\n OUTX %xmm0\n"
	"movdqa %xmm9, %xmm0\n pcmpgtb %xmm10, %xmm0\n OUTX %xmm0\n"
	"movdqa %xmm9, %xmm0\n pcmpgtw %xmm10, %xmm0\n OUTX %xmm0\n"
	"movdqa %xmm8, %xmm0\n pcmpgtd %xmm10, %xmm0\n OUTX %xmm0\n"
	"movdqa %xmm9, %xmm0\n pand %xmm10, %xmm0\n OUTX %xmm0\n"
	"movdqa %xmm9, %xmm0\n pandn %xmm10, %xmm0\n OUTX %xmm0\n"
	"movdqa %xmm9, %xmm0\n por %xmm10, %xmm0\n OUTX %xmm0\n"
	"movdqa %xmm9, %xmm0\n pxor %xmm10, %xmm0\n OUTX %xmm0\n"
	"movdqa %xmm9, %xmm0\n pmullw %xmm10, %xmm0\n OUTX %xmm0\n"
	"movdqa %xmm9, %xmm0\n pmulhw %xmm10, %xmm0\n OUTX %xmm0\n"
	"movdqa %xmm9, %xmm0\n pmulhuw %xmm10, %xmm0\n OUTX %xmm0\n"
	"movdqa %xmm9, %xmm0\n pmuludq %xmm10, %xmm0\n OUTX %xmm0\n"
	"movdqa %xmm10, %xmm0\n pmaddwd %xmm10, %xmm0\n OUTX %xmm0\n"
	"movdqa %xmm9, %xmm0\n pminub %xmm10, %xmm0\n OUTX %xmm0\n"
	"movdqa %xmm9, %xmm0\n pmaxub %xmm10, %xmm0\n OUTX %xmm0\n"
	"movdqa %xmm9, %xmm0\n pminsw %xmm10, %xmm0\n OUTX %xmm0\n"
	"movdqa %xmm9, %xmm0\n pmaxsw %xmm10, %xmm0\n OUTX %xmm0\n"
	"movdqa %xmm9, %xmm0\n pavgb %xmm10, %xmm0\n OUTX %xmm0\n"
	"movdqa %xmm9, %xmm0\n pavgw %xmm10, %xmm0\n OUTX %xmm0\n"
	"movdqa %xmm9, %xmm0\n psadbw %xmm10, %xmm0\n OUTX %xmm0\n"
	"movdqa %xmm9, %xmm0\n punpcklbw %xmm10, %xmm0\n OUTX %xmm0\n"
	"movdqa %xmm9, %xmm0\n punpcklwd %xmm10, %xmm0\n OUTX %xmm0\n"
	"movdqa %xmm9, %xmm0\n punpckldq %xmm10, %xmm0\n OUTX %xmm0\n"
	"movdqa %xmm9, %xmm0\n punpcklqdq %xmm10, %xmm0\n OUTX %xmm0\n"
	"movdqa %xmm9, %xmm0\n punpckhbw %xmm10, %xmm0\n OUTX %xmm0\n"
	"movdqa %xmm9, %xmm0\n punpckhwd %xmm10, %xmm0\n OUTX %xmm0\n"
	"movdqa %xmm9, %xmm0\n punpckhdq %xmm10, %xmm0\n OUTX %xmm0\n"
	"movdqa %xmm9, %xmm0\n punpckhqdq %xmm10, %xmm0\n OUTX %xmm0\n"
	"movdqa XB+16*20(%rdi), %xmm1\n movdqa %xmm10, %xmm0\n packsswb %xmm1, %xmm0\n OUTX %xmm0\n"
	"movdqa %xmm10, %xmm0\n packuswb %xmm1, %xmm0\n OUTX %xmm0\n"
	"movdqa %xmm8, %xmm0\n packssdw %xmm11, %xmm0\n OUTX %xmm0\n"
	"pshufd $0x1b, %xmm9, %xmm0\n OUTX %xmm0\n pshufhw $0x6c, %xmm9, %xmm0\n OUTX %xmm0\n"
	"pshuflw $0xb1, XB+16*10(%rdi), %xmm0\n OUTX %xmm0\n"
	"mov $0xbeef, %eax\n movdqa %xmm9, %xmm0\n pinsrw $5, %eax, %xmm0\n OUTX %xmm0\n"
	"pinsrw $0, XB+16*8+2(%rdi), %xmm0\n OUTX %xmm0\n pextrw $6, %xmm0, %ecx\n OUTR %rcx\n"
	"pextrw $5, %xmm0, %rdx\n OUTR %rdx\n"
	/* shifts by imm8 and by a register or memory count */
	"movdqa %xmm9, %xmm0\n psllw $3, %xmm0\n OUTX %xmm0\n movdqa %xmm9, %xmm0\n psrlw $15, %xmm0\n OUTX %xmm0\n"
	"movdqa %xmm9, %xmm0\n psraw $4, %xmm0\n OUTX %xmm0\n movdqa %xmm9, %xmm0\n psraw $200, %xmm0\n OUTX %xmm0\n"
	"movdqa %xmm9, %xmm0\n pslld $31, %xmm0\n OUTX %xmm0\n movdqa %xmm9, %xmm0\n psrld $32, %xmm0\n OUTX %xmm0\n"
	"movdqa %xmm9, %xmm0\n psrad $7, %xmm0\n OUTX %xmm0\n movdqa %xmm9, %xmm0\n psllq $33, %xmm0\n OUTX %xmm0\n"
	"movdqa %xmm9, %xmm0\n psrlq $1, %xmm0\n OUTX %xmm0\n movdqa %xmm9, %xmm0\n pslldq $3, %xmm0\n OUTX %xmm0\n"
	"movdqa %xmm9, %xmm0\n psrldq $5, %xmm0\n OUTX %xmm0\n movdqa %xmm9, %xmm0\n psrldq $16, %xmm0\n OUTX %xmm0\n"
	"mov $5, %eax\n movd %eax, %xmm1\n movdqa %xmm9, %xmm0\n psllw %xmm1, %xmm0\n OUTX %xmm0\n"
	"movdqa %xmm9, %xmm0\n psrlw %xmm1, %xmm0\n OUTX %xmm0\n movdqa %xmm9, %xmm0\n psraw %xmm1, %xmm0\n OUTX %xmm0\n"
	"movdqa %xmm9, %xmm0\n pslld %xmm1, %xmm0\n OUTX %xmm0\n movdqa %xmm9, %xmm0\n psrld %xmm1, %xmm0\n OUTX %xmm0\n"
	"movdqa %xmm9, %xmm0\n psrad %xmm1, %xmm0\n OUTX %xmm0\n movdqa %xmm9, %xmm0\n psllq %xmm1, %xmm0\n OUTX %xmm0\n"
	"movdqa %xmm9, %xmm0\n psrlq %xmm1, %xmm0\n OUTX %xmm0\n"
	"movdqa %xmm9, %xmm0\n psrad XB+16*11(%rdi), %xmm0\n OUTX %xmm0\n"
	"movdqa %xmm9, %xmm0\n psrlq XB+16*11(%rdi), %xmm0\n OUTX %xmm0\n"
	/* a strlen in the style of a C library's */
	"lea XB+16*21(%rdi), %rax\n pxor %xmm0, %xmm0\n pcmpeqb (%rax), %xmm0\n pmovmskb %xmm0, %ecx\n"
	"bsf %ecx, %ecx\n OUTR %rcx\n");

/* Floating-point arithmetic, each block under its own MXCSR, with the flags stored after. */
#define FP_BLOCK(mx) \
	"ldmxcsr MXB+4*" #mx "(%rdi)\n" \
	"movaps %xmm0, %xmm8\n addps %xmm1, %xmm8\n OUTX %xmm8\n movaps %xmm0, %xmm8\n subps %xmm2, %xmm8\n OUTX %xmm8\n" \
	"movaps %xmm3, %xmm8\n mulps %xmm0, %xmm8\n OUTX %xmm8\n movaps %xmm0, %xmm8\n divps %xmm1, %xmm8\n OUTX %xmm8\n" \
	"movaps %xmm0, %xmm8\n minps %xmm1, %xmm8\n OUTX %xmm8\n movaps %xmm1, %xmm8\n maxps %xmm14, %xmm8\n OUTX %xmm8\n" \
	"sqrtps %xmm0, %xmm8\n OUTX %xmm8\n sqrtps %xmm3, %xmm8\n OUTX %xmm8\n OUTMX\n" \
	"movapd %xmm4, %xmm8\n addpd %xmm5, %xmm8\n OUTX %xmm8\n movapd %xmm4, %xmm8\n subpd %xmm7, %xmm8\n OUTX %xmm8\n" \
	"movapd %xmm5, %xmm8\n mulpd %xmm5, %xmm8\n OUTX %xmm8\n movapd %xmm4, %xmm8\n divpd %xmm7, %xmm8\n OUTX %xmm8\n" \
	"movapd %xmm6, %xmm8\n minpd %xmm4, %xmm8\n OUTX %xmm8\n movapd %xmm15, %xmm8\n maxpd %xmm6, %xmm8\n OUTX %xmm8\n" \
	"sqrtpd %xmm4, %xmm8\n OUTX %xmm8\n OUTMX\n" \
	"movaps %xmm0, %xmm8\n addss %xmm1, %xmm8\n OUTX %xmm8\n movaps %xmm0, %xmm8\n subss XB+16*3+8(%rdi), %xmm8\n OUTX %xmm8\n" \
	"movaps %xmm2, %xmm8\n mulss %xmm2, %xmm8\n OUTX %xmm8\n movaps %xmm0, %xmm8\n divss XB+16*17(%rdi), %xmm8\n OUTX %xmm8\n" \
	"movaps %xmm14, %xmm8\n minss %xmm0, %xmm8\n OUTX %xmm8\n movaps %xmm0, %xmm8\n maxss %xmm14, %xmm8\n OUTX %xmm8\n" \
	"movaps %xmm0, %xmm8\n sqrtss %xmm1, %xmm8\n OUTX %xmm8\n OUTMX\n" \
	"movapd %xmm4, %xmm8\n addsd %xmm7, %xmm8\n OUTX %xmm8\n movapd %xmm12, %xmm8\n subsd XB+16*5+8(%rdi), %xmm8\n OUTX %xmm8\n" \
	"movapd %xmm5, %xmm8\n mulsd %xmm5, %xmm8\n OUTX %xmm8\n movapd %xmm4, %xmm8\n divsd XB+16*16(%rdi), %xmm8\n OUTX %xmm8\n" \
	"movapd %xmm7, %xmm8\n minsd %xmm7, %xmm8\n OUTX %xmm8\n movapd %xmm6, %xmm8\n maxsd %xmm15, %xmm8\n OUTX %xmm8\n" \
	"movapd %xmm4, %xmm8\n sqrtsd %xmm12, %xmm8\n OUTX %xmm8\n OUTMX\n" \
	"movaps %xmm0, %xmm8\n andps %xmm1, %xmm8\n andnps %xmm2, %xmm8\n orps %xmm3, %xmm8\n xorps %xmm0, %xmm8\n OUTX %xmm8\n" \
	"movapd %xmm4, %xmm8\n andpd %xmm5, %xmm8\n andnpd %xmm6, %xmm8\n orpd %xmm7, %xmm8\n xorpd %xmm4, %xmm8\n OUTX %xmm8\n"

DUAL_CODE(sse_fp, LOAD16
	FP_BLOCK(0) FP_BLOCK(1) FP_BLOCK(2) FP_BLOCK(3) FP_BLOCK(4)
	"ldmxcsr MXB(%rdi)\n OUTMX\n stmxcsr (%rsi)\n lea 16(%rsi), %rsi\n"
	"movaps XB+16*17(%rdi), %xmm9\n rcpps %xmm9, %xmm10\n OUTX %xmm10\n rsqrtps %xmm0, %xmm10\n OUTX %xmm10\n"
	"movaps %xmm0, %xmm10\n rcpss %xmm9, %xmm10\n OUTX %xmm10\n rsqrtss XB+16*17+12(%rdi), %xmm10\n OUTX %xmm10\n");

/* Compares: CMPccPS/PD/SS/SD for all predicates, COMIS/UCOMIS flags. */
#define CMP8(insn, a, b) \
	"movaps " a ", %xmm8\n " insn " $0, " b ", %xmm8\n OUTX %xmm8\n movaps " a ", %xmm8\n " insn " $1, " b ", %xmm8\n OUTX %xmm8\n" \
	"movaps " a ", %xmm8\n " insn " $2, " b ", %xmm8\n OUTX %xmm8\n movaps " a ", %xmm8\n " insn " $3, " b ", %xmm8\n OUTX %xmm8\n" \
	"movaps " a ", %xmm8\n " insn " $4, " b ", %xmm8\n OUTX %xmm8\n movaps " a ", %xmm8\n " insn " $5, " b ", %xmm8\n OUTX %xmm8\n" \
	"movaps " a ", %xmm8\n " insn " $6, " b ", %xmm8\n OUTX %xmm8\n movaps " a ", %xmm8\n " insn " $7, " b ", %xmm8\n OUTX %xmm8\n"

DUAL_CODE(sse_cmp, LOAD16
	CMP8("cmpps", "%xmm0", "%xmm1") CMP8("cmpps", "%xmm1", "%xmm3") CMP8("cmppd", "%xmm4", "%xmm6")
	CMP8("cmpss", "%xmm1", "%xmm14") CMP8("cmpsd", "%xmm6", "XB+16*4(%rdi)") "OUTMX\n"
	"movaps %xmm0, %xmm8\n cmpps $0x0d, %xmm0, %xmm8\n OUTX %xmm8\n OUTMX\n"
	"comiss %xmm0, %xmm1\n OUTF\n comiss %xmm1, %xmm0\n OUTF\n comiss %xmm0, %xmm0\n OUTF\n"
	"ucomiss %xmm1, %xmm2\n OUTF\n OUTMX\n ucomiss %xmm3, %xmm3\n OUTF\n OUTMX\n"
	"ldmxcsr MXB(%rdi)\n comiss XB+16*1+8(%rdi), %xmm0\n OUTF\n OUTMX\n"
	"comisd %xmm4, %xmm7\n OUTF\n ucomisd %xmm6, %xmm4\n OUTF\n comisd XB+16*16(%rdi), %xmm0\n OUTF\n"
	"ucomisd %xmm15, %xmm15\n OUTF\n OUTMX\n");

/* Conversions, under each rounding mode. */
#define CVT_BLOCK(mx) \
	"ldmxcsr MXB+4*" #mx "(%rdi)\n" \
	"cvtsi2ss %eax, %xmm8\n OUTX %xmm8\n cvtsi2ssq QB(%rdi), %xmm8\n OUTX %xmm8\n" \
	"cvtsi2sd %eax, %xmm8\n OUTX %xmm8\n cvtsi2sdq QB+8(%rdi), %xmm8\n OUTX %xmm8\n" \
	"cvtss2si %xmm3, %ecx\n OUTR %rcx\n cvtss2si XB+16*3+12(%rdi), %rcx\n OUTR %rcx\n" \
	"cvtss2si %xmm13, %ecx\n OUTR %rcx\n cvttss2si XB+16*13+12(%rdi), %ecx\n OUTR %rcx\n" \
	"cvttss2si %xmm2, %rcx\n OUTR %rcx\n cvtsd2si %xmm7, %ecx\n OUTR %rcx\n" \
	"cvtsd2si %xmm12, %ecx\n OUTR %rcx\n cvtsd2si %xmm12, %rcx\n OUTR %rcx\n cvttsd2si %xmm4, %rcx\n OUTR %rcx\n" \
	"cvttsd2si XB+16*12+8(%rdi), %ecx\n OUTR %rcx\n OUTMX\n" \
	"movaps %xmm0, %xmm8\n cvtss2sd %xmm1, %xmm8\n OUTX %xmm8\n cvtss2sd XB+16*3(%rdi), %xmm8\n OUTX %xmm8\n" \
	"movaps %xmm4, %xmm8\n cvtsd2ss %xmm5, %xmm8\n OUTX %xmm8\n cvtsd2ss XB+16*7(%rdi), %xmm8\n OUTX %xmm8\n" \
	"cvtps2pd %xmm0, %xmm8\n OUTX %xmm8\n cvtps2pd XB+16*1+8(%rdi), %xmm8\n OUTX %xmm8\n" \
	"cvtpd2ps %xmm5, %xmm8\n OUTX %xmm8\n cvtpd2ps XB+16*12(%rdi), %xmm8\n OUTX %xmm8\n OUTMX\n" \
	"cvtdq2ps %xmm11, %xmm9\n OUTX %xmm9\n cvtps2dq %xmm13, %xmm9\n OUTX %xmm9\n cvtps2dq %xmm0, %xmm9\n OUTX %xmm9\n" \
	"cvttps2dq %xmm13, %xmm9\n OUTX %xmm9\n cvtdq2pd XB+16*8+8(%rdi), %xmm9\n OUTX %xmm9\n" \
	"cvtpd2dq %xmm12, %xmm9\n OUTX %xmm9\n cvtpd2dq %xmm4, %xmm9\n OUTX %xmm9\n cvttpd2dq XB+16*12(%rdi), %xmm9\n OUTX %xmm9\n" \
	"OUTMX\n movq XB+16*8(%rdi), %mm0\n movaps %xmm0, %xmm9\n cvtpi2ps %mm0, %xmm9\n OUTX %xmm9\n" \
	"cvtpi2pd XB+16*8+8(%rdi), %xmm9\n OUTX %xmm9\n cvtps2pi %xmm0, %mm1\n OUTQ %mm1\n" \
	"cvttps2pi XB+16*13(%rdi), %mm1\n OUTQ %mm1\n cvtpd2pi %xmm12, %mm1\n OUTQ %mm1\n cvttpd2pi %xmm4, %mm1\n OUTQ %mm1\n" \
	"emms\n OUTMX\n"

DUAL_CODE(sse_cvt, LOAD16 "mov $-123456789, %eax\n movaps %xmm8, %xmm11\n"
	CVT_BLOCK(0) CVT_BLOCK(1) CVT_BLOCK(2) CVT_BLOCK(3) CVT_BLOCK(4));

/* Shuffles and unpacks of floating-point vectors. */
DUAL_CODE(sse_shuffle, LOAD16
	"movaps %xmm0, %xmm8\n shufps $0x1b, %xmm1, %xmm8\n OUTX %xmm8\n"
	"movaps %xmm0, %xmm8\n shufps $0xe4, XB+16*2(%rdi), %xmm8\n OUTX %xmm8\n"
	"movaps %xmm4, %xmm8\n shufpd $1, %xmm5, %xmm8\n OUTX %xmm8\n movaps %xmm4, %xmm8\n shufpd $2, %xmm5, %xmm8\n OUTX %xmm8\n"
	"movaps %xmm0, %xmm8\n unpcklps %xmm1, %xmm8\n OUTX %xmm8\n movaps %xmm0, %xmm8\n unpckhps %xmm1, %xmm8\n OUTX %xmm8\n"
	"movaps %xmm4, %xmm8\n unpcklpd %xmm5, %xmm8\n OUTX %xmm8\n movaps %xmm4, %xmm8\n unpckhpd XB+16*5(%rdi), %xmm8\n OUTX %xmm8\n"
	"stmxcsr (%rsi)\n lea 16(%rsi), %rsi\n");

static void test_moves(void) { DUAL(sse_moves); }
static void test_integer(void) { DUAL(sse_int); }
static void test_fp_arith(void) { DUAL(sse_fp); }
static void test_compare(void) { DUAL(sse_cmp); }
static void test_convert(void) { DUAL(sse_cvt); }
static void test_shuffle(void) { DUAL(sse_shuffle); }

/* ---- faults ---- */

GUEST_CODE(g_addps, ".code64", "addps %xmm1, %xmm0\n");
GUEST_CODE(g_movaps_mis, ".code64", "movaps 0x20008, %xmm0\n");
GUEST_CODE(g_addps_mis, ".code64", "addps 0x20008, %xmm0\n");
GUEST_CODE(g_movups_mis, ".code64", "movups 0x20008, %xmm0\n addss 0x20004, %xmm0\n");
GUEST_CODE(g_divss_zero, ".code64", "ldmxcsr 0x20000\n divss %xmm1, %xmm0\n");
GUEST_CODE(g_ldmxcsr_bad, ".code64", "ldmxcsr 0x20000\n");
GUEST_CODE(g_exact_tiny, ".code64", "ldmxcsr 0x20000\n addss %xmm1, %xmm0\n");
GUEST_CODE(g_fxsave, ".code64", "fxsave 0x20200\n");
GUEST_CODE(g_fxsave_mis, ".code64", "fxsave 0x20208\n");
GUEST_CODE(g_movddup, ".code64", "movddup %xmm1, %xmm0\n");
GUEST_CODE(g_split_store, ".code64", "movups %xmm0, 0x1ffff8\n");
GUEST_CODE(g_fxrstor, ".code64", "fxrstor 0x20200\n");

static void set_xmm_f(struct tcpu *t, int i, float a)
{
	memset(t->c.fxsave + 160 + 16 * i, 0, 16);
	memcpy(t->c.fxsave + 160 + 16 * i, &a, 4);
}

static void test_faults(void)
{
	struct tcpu t;

	/* No CR4.OSFXSR, or CR0.EM: #UD; CR0.TS: #NM. */
	tcpu_init(&t, T_LONG);
	CHECK(!tcpu_exec(&t, g_addps, g_addps_end));
	CHECK_EQ(tcpu_vector(&t), EX_UD);
	tcpu_free(&t);
	dual_cpu(&t);
	t.c.cr0 |= CR0_EM;
	CHECK(!tcpu_exec(&t, g_addps, g_addps_end));
	CHECK_EQ(tcpu_vector(&t), EX_UD);
	tcpu_free(&t);
	dual_cpu(&t);
	t.c.cr0 |= CR0_TS;
	CHECK(!tcpu_exec(&t, g_addps, g_addps_end));
	CHECK_EQ(tcpu_vector(&t), EX_NM);
	tcpu_free(&t);

	/* Misaligned 128-bit operands: #GP for MOVAPS and ADDPS, fine for MOVUPS and scalars. */
	dual_cpu(&t);
	CHECK(!tcpu_exec(&t, g_movaps_mis, g_movaps_mis_end));
	CHECK_EQ(tcpu_vector(&t), EX_GP);
	tcpu_free(&t);
	dual_cpu(&t);
	CHECK(!tcpu_exec(&t, g_addps_mis, g_addps_mis_end));
	CHECK_EQ(tcpu_vector(&t), EX_GP);
	tcpu_free(&t);
	dual_cpu(&t);
	CHECK(tcpu_exec(&t, g_movups_mis, g_movups_mis_end));
	tcpu_free(&t);

	/* An unmasked zero divide: #XM, the destination unchanged, ZE recorded. */
	dual_cpu(&t);
	t_write(&t, 0x20000, 4, 0x1f80 & ~0x200u);
	set_xmm_f(&t, 0, 1.0f);
	CHECK(!tcpu_exec(&t, g_divss_zero, g_divss_zero_end));
	CHECK_EQ(tcpu_vector(&t), EX_XM);
	CHECK_EQ(t.c.fxsave[24] | t.c.fxsave[25] << 8, 0x1d84);
	float f;
	memcpy(&f, t.c.fxsave + 160, 4);
	CHECK(f == 1.0f);
	tcpu_free(&t);
	/* ... and #UD without CR4.OSXMMEXCPT. */
	dual_cpu(&t);
	t.c.cr4 &= ~(uint64_t)CR4_OSXMMEXCPT;
	t_write(&t, 0x20000, 4, 0x1f80 & ~0x200u);
	set_xmm_f(&t, 0, 1.0f);
	CHECK(!tcpu_exec(&t, g_divss_zero, g_divss_zero_end));
	CHECK_EQ(tcpu_vector(&t), EX_UD);
	tcpu_free(&t);

	/* With underflow unmasked, an exact tiny result signals it: #XM. */
	dual_cpu(&t);
	t_write(&t, 0x20000, 4, 0x1f80 & ~0x800u);
	memset(t.c.fxsave + 160 + 16, 0, 16);
	t.c.fxsave[160 + 16] = 1;               /* XMM1: the smallest denormal */
	CHECK(!tcpu_exec(&t, g_exact_tiny, g_exact_tiny_end));
	CHECK_EQ(tcpu_vector(&t), EX_XM);
	CHECK_EQ((t.c.fxsave[24] | t.c.fxsave[25] << 8) & 0x3f, 0x12);  /* DE for the operand, UE */
	tcpu_free(&t);

	/* LDMXCSR with a reserved bit: #GP. */
	dual_cpu(&t);
	t_write(&t, 0x20000, 4, 0x11f80);
	CHECK(!tcpu_exec(&t, g_ldmxcsr_bad, g_ldmxcsr_bad_end));
	CHECK_EQ(tcpu_vector(&t), EX_GP);
	tcpu_free(&t);

	/* FXSAVE: #GP when misaligned, #NM with CR0.TS; FXRSTOR: #GP for a bad MXCSR. */
	dual_cpu(&t);
	CHECK(!tcpu_exec(&t, g_fxsave_mis, g_fxsave_mis_end));
	CHECK_EQ(tcpu_vector(&t), EX_GP);
	tcpu_free(&t);
	dual_cpu(&t);
	t.c.cr0 |= CR0_TS;
	CHECK(!tcpu_exec(&t, g_fxsave, g_fxsave_end));
	CHECK_EQ(tcpu_vector(&t), EX_NM);
	tcpu_free(&t);
	dual_cpu(&t);
	t_write(&t, 0x20200 + 24, 4, 0x10000);
	CHECK(!tcpu_exec(&t, g_fxrstor, g_fxrstor_end));
	CHECK_EQ(tcpu_vector(&t), EX_GP);
	tcpu_free(&t);

	/* SSE3 is not implemented (nor advertised). */
	dual_cpu(&t);
	CHECK(!tcpu_exec(&t, g_movddup, g_movddup_end));
	CHECK_EQ(tcpu_vector(&t), EX_UD);
	tcpu_free(&t);

	/*
	 * A 16-byte store across a page end into a read-only page: #PF, and
	 * not a byte of the first page written.
	 */
	dual_cpu(&t);
	uint64_t pd1 = 0x200081;                /* the second 2 MiB page: present, read-only */
	memcpy(t.mem + 0x12008, &pd1, 8);
	memset(t.c.fxsave + 160, 0xab, 16);
	CHECK(!tcpu_exec(&t, g_split_store, g_split_store_end));
	CHECK_EQ(tcpu_vector(&t), EX_PF);
	CHECK_EQ(t.c.cr2, 0x200000);
	CHECK_EQ(t_read(&t, 0x1ffff8, 8), 0);
	tcpu_free(&t);
}

/* FXSAVE writes the image the KVM ABI and the SDM describe. */
static void test_fxsave_layout(void)
{
	struct tcpu t;
	dual_cpu(&t);
	t.c.fxsave[0] = 0x7f;
	t.c.fxsave[1] = 0x02;
	memset(t.c.fxsave + 160 + 16 * 15, 0xcd, 16);
	memset(t.mem + 0x20200, 0xee, 512);
	CHECK(tcpu_exec(&t, g_fxsave, g_fxsave_end));
	CHECK_EQ(t_read(&t, 0x20200, 2), 0x27f);
	CHECK_EQ(t_read(&t, 0x20200 + 24, 4), 0x1f80);
	CHECK_EQ(t_read(&t, 0x20200 + 28, 4), 0xffff);
	CHECK_EQ(t_read(&t, 0x20200 + 160 + 16 * 15, 8), 0xcdcdcdcdcdcdcdcdULL);
	CHECK_EQ(t_read(&t, 0x20200 + 464, 8), 0xeeeeeeeeeeeeeeeeULL);        /* software's bytes */
	tcpu_free(&t);
}

int main(void)
{
	make_inputs();
	RUN(test_moves);
	RUN(test_integer);
	RUN(test_fp_arith);
	RUN(test_compare);
	RUN(test_convert);
	RUN(test_shuffle);
	RUN(test_faults);
	RUN(test_fxsave_layout);
	TEST_EXIT();
}
