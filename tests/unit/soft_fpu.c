/*
 * The soft CPU's x87 FPU and MMX: every snippet runs on the soft CPU and
 * natively, and the results (values, status words, flags, saved state)
 * must match bit for bit; then the faults (#NM, #UD, #MF) and a few
 * values checked by hand.
 */
#include <math.h>

#include "soft_fpu_dual.h"

/* Input layout (offsets from RDI), shared with the snippets through these symbols. */
struct fpu_in {
	double d[32];           /* DB */
	float f[16];            /* FB */
	int32_t i[8];           /* IB */
	int16_t h[8];           /* HB */
	int64_t q[4];           /* QB */
	uint8_t t[4][16];       /* TB: 80-bit values */
	uint16_t cw[8];         /* CWB */
	uint8_t bcd[16];        /* BCDB */
	uint8_t fx[512];        /* FXB: an FXSAVE image */
};
__asm__(".equ DB, 0\n.equ FB, 256\n.equ IB, 320\n.equ HB, 352\n.equ QB, 368\n"
	".equ TB, 400\n.equ CWB, 464\n.equ BCDB, 480\n.equ FXB, 496\n");
_Static_assert(offsetof(struct fpu_in, f) == 256 && offsetof(struct fpu_in, i) == 320 &&
	       offsetof(struct fpu_in, h) == 352 && offsetof(struct fpu_in, q) == 368 &&
	       offsetof(struct fpu_in, t) == 400 && offsetof(struct fpu_in, cw) == 464 &&
	       offsetof(struct fpu_in, bcd) == 480 && offsetof(struct fpu_in, fx) == 496 &&
	       sizeof(struct fpu_in) <= DUAL_IN, "input layout");

static struct fpu_in in;

static void make_inputs(void)
{
	static const double d[] = {
		1.5, -2.25, 1e300, 3.0, 0.7, 1e-5, 100.5, 2.5,                 /* 0-7 */
		-2.5, 1e20, 5e-324, NAN, INFINITY, 0.0, -0.0, 10.0,           /* 8-15 */
		0.3, 1e-310, 123456.789, -0.5, 1e10, 7.0, -1e-300, 65535.5,   /* 16-23 */
	};
	static const uint16_t cw[] = { 0x37f, 0x77f, 0xb7f, 0xf7f, 0x07f, 0x27f, 0x37e, 0x37b };
	uint32_t snan = 0x7f800001;
	memset(&in, 0, sizeof(in));
	memcpy(in.d, d, sizeof(d));
	in.f[0] = 0.1f;
	in.f[1] = -7.5f;
	memcpy(&in.f[2], &snan, 4);
	in.f[3] = 3.4e38f;
	in.f[4] = 1e-40f;
	in.i[0] = 12345;
	in.i[1] = -7;
	in.i[2] = 0x7fffffff;
	in.h[0] = -300;
	in.h[1] = 5;
	in.q[0] = -1234567890123LL;
	in.q[1] = 999999999999999999LL;
	in.q[2] = 0x0123456789abcdefLL;
	in.q[3] = (int64_t)0xfedcba9876543210ULL;
	long double pi = 3.14159265358979323846264338327950288L;
	memcpy(in.t[0], &pi, 10);
	static const uint8_t den80[10] = { 1, 0, 0, 0, 0, 0, 0, 0, 0, 0 };     /* denormal */
	static const uint8_t unn80[10] = { 0, 0, 0, 0, 0, 0, 0, 0x40, 0xff, 0x3f };  /* unnormal */
	memcpy(in.t[1], den80, 10);
	memcpy(in.t[2], unn80, 10);
	memcpy(in.cw, cw, sizeof(cw));
	static const uint8_t bcd[10] = { 0x78, 0x56, 0x34, 0x12, 0x90, 0x78, 0x56, 0x34, 0x12, 0x80 };
	memcpy(in.bcd, bcd, 10);
	/* An FXSAVE image: FCW 0x27f, FSW with TOP 5 and some flags, two registers valid. */
	uint8_t *x = in.fx;
	x[0] = 0x7f; x[1] = 0x02;
	x[2] = 0x21; x[3] = 0x28;               /* TOP 5, PE, IE */
	x[4] = 0x60;                            /* physical 5 and 6 valid */
	x[24] = 0x80; x[25] = 0x3f;             /* MXCSR 0x3f80: round down */
	memcpy(x + 32, &pi, 10);
	long double two = -2.0L;
	memcpy(x + 48, &two, 10);
	for (int i = 0; i < 16; i++)
		x[160 + 16 * i] = (uint8_t)(i + 1);
}

static void dual_check(const char *name, const uint8_t *code, const uint8_t *end, void (*host)(uint8_t *))
{
	struct tcpu t;
	dual_cpu(&t);
	CHECK(dual_run_in(&t, name, code, end, host, &in, sizeof(in)));
	tcpu_free(&t);
}
#define DUAL(name) dual_check(#name, name, name##_end, name##_host)

DUAL_CODE(x87_arith,
	"fldl DB+8*0(%rdi)\n fldl DB+8*1(%rdi)\n fadd %st(1), %st\n OUTSW\n fld %st(0)\n OUTT\n"
	"fsubl DB+8*3(%rdi)\n fsubrl DB+8*4(%rdi)\n fmull DB+8*6(%rdi)\n fdivl DB+8*4(%rdi)\n"
	"fdivrl DB+8*15(%rdi)\n fld %st(0)\n OUTT\n"
	"fadds FB+4*0(%rdi)\n fsubs FB+4*1(%rdi)\n fsubrs FB+4*0(%rdi)\n fmuls FB+4*1(%rdi)\n"
	"fdivs FB+4*0(%rdi)\n fdivrs FB+4*1(%rdi)\n fld %st(0)\n OUTT\n"
	"fiaddl IB+4*0(%rdi)\n fisubl IB+4*1(%rdi)\n fisubrl IB+4*0(%rdi)\n fimull IB+4*1(%rdi)\n"
	"fidivl IB+4*0(%rdi)\n fidivrl IB+4*1(%rdi)\n fiadds HB+2*0(%rdi)\n fisubs HB+2*1(%rdi)\n"
	"fisubrs HB(%rdi)\n fimuls HB+2*0(%rdi)\n fidivs HB+2*1(%rdi)\n fidivrs HB(%rdi)\n"
	"fld %st(0)\n OUTT\n OUTSW\n"
	"fldpi\n fldl2e\n"
	"fadd %st(2), %st\n fmul %st(1), %st\n fsub %st(2), %st\n fsubr %st(1), %st\n"
	"fdiv %st(2), %st\n fdivr %st(1), %st\n"
	"fadd %st, %st(2)\n fmul %st, %st(1)\n fsub %st, %st(2)\n fsubr %st, %st(1)\n"
	"fdiv %st, %st(2)\n fdivr %st, %st(1)\n OUTSW\n"
	"fld %st(2)\n OUTT\n fld %st(1)\n OUTT\n fld %st(0)\n OUTT\n"
	"faddp %st, %st(1)\n fld %st(0)\n OUTT\n fsubp %st, %st(1)\n fld %st(0)\n OUTT\n"
	"fldl DB+8*3(%rdi)\n fsubrp %st, %st(1)\n fld %st(0)\n OUTT\n"
	"fldl DB+8*15(%rdi)\n fmulp %st, %st(1)\n fld %st(0)\n OUTT\n"
	"fldl DB+8*21(%rdi)\n fdivp %st, %st(1)\n fld %st(0)\n OUTT\n"
	"fldl DB+8*21(%rdi)\n fdivrp %st, %st(1)\n fld %st(0)\n OUTT\n"
	"OUTT\n OUTSW\n"
	/* edge operands: infinities, NaN, zero divide, denormals, huge results */
	"fnclex\n fldl DB+8*12(%rdi)\n fsubl DB+8*12(%rdi)\n OUTSW\n OUTT\n"
	"fnclex\n fld1\n fdivl DB+8*13(%rdi)\n OUTSW\n OUTT\n"
	"fnclex\n fldl DB+8*11(%rdi)\n faddl DB+8*0(%rdi)\n OUTSW\n OUTT\n"
	"fnclex\n fldl DB+8*10(%rdi)\n fmull DB+8*0(%rdi)\n OUTSW\n OUTT\n"
	"fnclex\n fldl DB+8*2(%rdi)\n fmull DB+8*2(%rdi)\n fmull DB+8*2(%rdi)\n OUTSW\n OUTT\n"
	"fnclex\n fldt TB+16*1(%rdi)\n fmull DB+8*0(%rdi)\n OUTSW\n OUTT\n"
	"fnclex\n fldt TB+16*2(%rdi)\n faddl DB+8*0(%rdi)\n OUTSW\n OUTT\n"
	"fnclex\n fld1\n fadds FB+4*2(%rdi)\n OUTSW\n OUTT\n"
	"fnclex\n fldz\n fdivl DB+8*13(%rdi)\n OUTSW\n OUTT\n");

DUAL_CODE(x87_special,
	"fldcw CWB+2*1(%rdi)\n fldpi\n OUTT\n fldl2t\n OUTT\n fldl2e\n OUTT\n fldlg2\n OUTT\n fldln2\n OUTT\n"
	"fldcw CWB+2*2(%rdi)\n fldpi\n OUTT\n fldl2e\n OUTT\n fld1\n OUTT\n fldz\n OUTT\n"
	"fldcw CWB+2*0(%rdi)\n fldl DB+8*6(%rdi)\n frndint\n OUTT\n"
	"fldcw CWB+2*2(%rdi)\n fldl DB+8*6(%rdi)\n frndint\n OUTT\n"
	"fldcw CWB+2*3(%rdi)\n fldl DB+8*8(%rdi)\n frndint\n OUTT\n"
	"fldcw CWB+2*1(%rdi)\n fldl DB+8*8(%rdi)\n frndint\n OUTT\n OUTSW\n"
	"fldcw CWB+2*0(%rdi)\n fnclex\n"
	"fldl DB+8*3(%rdi)\n fsqrt\n OUTT\n OUTSW\n"
	"fldl DB+8*1(%rdi)\n fsqrt\n OUTT\n OUTSW\n fnclex\n"
	"fldl DB+8*4(%rdi)\n fsin\n OUTT\n fldl DB+8*4(%rdi)\n fcos\n OUTT\n"
	"fldl DB+8*4(%rdi)\n fsincos\n OUTT\n OUTT\n fldl DB+8*4(%rdi)\n fptan\n OUTT\n OUTT\n OUTSW\n"
	"fldl DB+8*9(%rdi)\n fsin\n OUTSW\n OUTT\n fldl DB+8*9(%rdi)\n fptan\n OUTSW\n OUTT\n"
	"fldl DB+8*9(%rdi)\n fsincos\n OUTSW\n OUTT\n"
	"fldl DB+8*3(%rdi)\n fldl DB+8*4(%rdi)\n fpatan\n OUTT\n"
	"fldl DB+8*19(%rdi)\n f2xm1\n OUTT\n"
	"fldl DB+8*3(%rdi)\n fldl DB+8*15(%rdi)\n fyl2x\n OUTT\n"
	"fldl DB+8*3(%rdi)\n fldl DB+8*5(%rdi)\n fyl2xp1\n OUTT\n"
	"fldl DB+8*3(%rdi)\n fldl DB+8*6(%rdi)\n fscale\n OUTT\n OUTT\n"
	"fldl DB+8*6(%rdi)\n fxtract\n OUTT\n OUTT\n"
	"fldz\n fxtract\n OUTSW\n OUTT\n OUTT\n fnclex\n"
	"fldl DB+8*3(%rdi)\n fldl DB+8*6(%rdi)\n fprem\n OUTSW\n OUTT\n OUTT\n"
	"fldl DB+8*3(%rdi)\n fldl DB+8*6(%rdi)\n fprem1\n OUTSW\n OUTT\n OUTT\n"
	"fldl DB+8*3(%rdi)\n fldl DB+8*2(%rdi)\n fprem\n OUTSW\n OUTT\n OUTT\n"
	"fldl DB+8*1(%rdi)\n fchs\n OUTT\n fldl DB+8*1(%rdi)\n fabs\n OUTT\n"
	/* precision control: single, then double */
	"fldcw CWB+2*4(%rdi)\n fld1\n fdivl DB+8*3(%rdi)\n OUTT\n OUTSW\n"
	"fldcw CWB+2*5(%rdi)\n fld1\n fdivl DB+8*3(%rdi)\n OUTT\n"
	"fldcw CWB+2*4(%rdi)\n fldl DB+8*3(%rdi)\n fsqrt\n OUTT\n"
	"fldcw CWB+2*0(%rdi)\n OUTCW\n OUTSW\n");

DUAL_CODE(x87_loadstore,
	"flds FB+4*0(%rdi)\n OUTT\n flds FB+4*1(%rdi)\n OUTT\n"
	"flds FB+4*2(%rdi)\n OUTSW\n OUTT\n fnclex\n flds FB+4*4(%rdi)\n OUTSW\n OUTT\n fnclex\n"
	"fldt TB(%rdi)\n OUTT\n fildl IB(%rdi)\n OUTT\n filds HB(%rdi)\n OUTT\n fildll QB(%rdi)\n OUTT\n"
	"fldl DB+8*4(%rdi)\n fsts (%rsi)\n lea 16(%rsi), %rsi\n fstl (%rsi)\n lea 16(%rsi), %rsi\n"
	"fstps (%rsi)\n lea 16(%rsi), %rsi\n OUTSW\n"
	"fldl DB+8*4(%rdi)\n fstpl (%rsi)\n lea 16(%rsi), %rsi\n"
	"fldl DB+8*18(%rdi)\n fistl (%rsi)\n lea 16(%rsi), %rsi\n fists (%rsi)\n lea 16(%rsi), %rsi\n"
	"fistpll (%rsi)\n lea 16(%rsi), %rsi\n"
	"fldl DB+8*7(%rdi)\n fistl (%rsi)\n lea 16(%rsi), %rsi\n"
	"fldcw CWB+2*1(%rdi)\n fistl (%rsi)\n lea 16(%rsi), %rsi\n"
	"fldcw CWB+2*2(%rdi)\n fistl (%rsi)\n lea 16(%rsi), %rsi\n"
	"fldcw CWB+2*3(%rdi)\n fistpl (%rsi)\n lea 16(%rsi), %rsi\n fldcw CWB(%rdi)\n OUTSW\n"
	"fldl DB+8*9(%rdi)\n fistl (%rsi)\n lea 16(%rsi), %rsi\n OUTSW\n fnclex\n"
	"fists (%rsi)\n lea 16(%rsi), %rsi\n OUTSW\n fnclex\n"
	"fistpll (%rsi)\n lea 16(%rsi), %rsi\n OUTSW\n fnclex\n"
	"fldl DB+8*8(%rdi)\n fisttpl (%rsi)\n lea 16(%rsi), %rsi\n"
	"fldl DB+8*23(%rdi)\n fisttps (%rsi)\n lea 16(%rsi), %rsi\n OUTSW\n fnclex\n"
	"fldl DB+8*18(%rdi)\n fisttpll (%rsi)\n lea 16(%rsi), %rsi\n"
	"fldl DB+8*2(%rdi)\n fsts (%rsi)\n lea 16(%rsi), %rsi\n OUTSW\n fnclex\n"
	"fstps (%rsi)\n lea 16(%rsi), %rsi\n"
	"fldl DB+8*22(%rdi)\n fstps (%rsi)\n lea 16(%rsi), %rsi\n OUTSW\n fnclex\n"
	"fldl DB+8*17(%rdi)\n fstpl (%rsi)\n lea 16(%rsi), %rsi\n OUTSW\n fnclex\n"
	"fldl DB+8*11(%rdi)\n fistpl (%rsi)\n lea 16(%rsi), %rsi\n OUTSW\n fnclex\n"
	"fbld BCDB(%rdi)\n OUTT\n"
	"fldl DB+8*18(%rdi)\n fbstp (%rsi)\n lea 16(%rsi), %rsi\n OUTSW\n fnclex\n"
	"fldl DB+8*9(%rdi)\n fbstp (%rsi)\n lea 16(%rsi), %rsi\n OUTSW\n fnclex\n"
	"fldl DB+8*19(%rdi)\n fbstp (%rsi)\n lea 16(%rsi), %rsi\n OUTSW\n fnclex\n"
	"fldl DB+8*0(%rdi)\n fstpt (%rsi)\n lea 16(%rsi), %rsi\n OUTSW\n");

DUAL_CODE(x87_compare,
	"fldl DB(%rdi)\n fldl DB+8*1(%rdi)\n fcom %st(1)\n OUTSW\n fcomp %st(1)\n OUTSW\n"
	"fldl DB(%rdi)\n fcompp\n OUTSW\n"
	"fldl DB(%rdi)\n fldl DB(%rdi)\n fucompp\n OUTSW\n"
	"fldl DB+8*11(%rdi)\n fldl DB(%rdi)\n fucom %st(1)\n OUTSW\n fucomp %st(1)\n OUTSW\n"
	"fldl DB(%rdi)\n fcompp\n OUTSW\n fnclex\n"
	"fldl DB(%rdi)\n fcoml DB+8*1(%rdi)\n OUTSW\n fcoms FB(%rdi)\n OUTSW\n fcompl DB(%rdi)\n OUTSW\n"
	"fldl DB(%rdi)\n ficoml IB(%rdi)\n OUTSW\n ficomps HB(%rdi)\n OUTSW\n"
	"fldl DB(%rdi)\n fldl DB+8*1(%rdi)\n fcomi %st(1), %st\n OUTF\n fucomi %st(1), %st\n OUTF\n"
	"fcomip %st(1), %st\n OUTF\n OUTSW\n"
	"fldl DB+8*11(%rdi)\n fucomip %st(1), %st\n OUTF\n OUTSW\n"
	"fldl DB+8*11(%rdi)\n fcomip %st(1), %st\n OUTF\n OUTSW\n fnclex\n OUTT\n"
	"fldz\n ftst\n OUTSW\n fchs\n ftst\n OUTSW\n OUTT\n"
	"fldl DB+8*1(%rdi)\n ftst\n OUTSW\n OUTT\n"
	"fldl DB+8*11(%rdi)\n ftst\n OUTSW\n OUTT\n fnclex\n"
	"fldl DB(%rdi)\n fxam\n OUTSW\n OUTT\n fldl DB+8*1(%rdi)\n fxam\n OUTSW\n OUTT\n"
	"fldl DB+8*13(%rdi)\n fxam\n OUTSW\n OUTT\n fldl DB+8*14(%rdi)\n fxam\n OUTSW\n OUTT\n"
	"fldl DB+8*12(%rdi)\n fxam\n OUTSW\n OUTT\n fldl DB+8*11(%rdi)\n fxam\n OUTSW\n OUTT\n"
	"fldt TB+16(%rdi)\n fxam\n OUTSW\n OUTT\n fldt TB+32(%rdi)\n fxam\n OUTSW\n OUTT\n"
	"fld1\n fchs\n ffree %st(0)\n fxam\n OUTSW\n fincstp\n"
	"fld1\n ffree %st(0)\n fxam\n OUTSW\n fincstp\n");

DUAL_CODE(x87_stack,
	"fld1\n fldpi\n fldl2e\n fxch %st(2)\n OUTSW\n"
	"fld %st(0)\n OUTT\n fld %st(1)\n OUTT\n fld %st(2)\n OUTT\n"
	"fst %st(1)\n fstp %st(2)\n fld %st(0)\n OUTT\n fld %st(1)\n OUTT\n"
	"fincstp\n OUTSW\n fdecstp\n OUTSW\n ffree %st(1)\n OUTENV\n"
	"fnclex\n fldcw CWB(%rdi)\n fld %st(1)\n OUTSW\n OUTT\n fnclex\n"
	"fninit\n fldz\n fld1\n mov $1, %eax\n cmp $2, %eax\n"
	"fcmovb %st(1), %st\n fld %st(0)\n OUTT\n fcmovnb %st(1), %st\n fld1\n fcmovne %st(1), %st\n"
	"fld %st(0)\n OUTT\n fcmove %st(2), %st\n fcmovbe %st(2), %st\n fld %st(0)\n OUTT\n"
	"fcmovnbe %st(2), %st\n fcmovu %st(1), %st\n fcmovnu %st(1), %st\n fld %st(0)\n OUTT\n"
	"fninit\n fadd %st(1), %st\n OUTSW\n OUTT\n fnclex\n"
	"fld1\n fld1\n fld1\n fld1\n fld1\n fld1\n fld1\n fld1\n fldpi\n OUTSW\n fnclex\n"
	"fldz\n OUTSW\n OUTT\n OUTT\n fnclex\n"
	"fninit\n fst %st(1)\n OUTSW\n fnclex\n fxch\n OUTSW\n OUTT\n OUTT\n fnclex\n"
	"fninit\n fchs\n OUTSW\n OUTT\n fnclex\n fninit\n fsqrt\n OUTSW\n OUTT\n fnclex\n"
	/* the undocumented aliases: FSTP1, FXCH4, FXCH7, FSTP8, FSTP9, FCOM2, FCOMP3, FCOMP5, FFREEP */
	"fninit\n fld1\n fldpi\n fldz\n .byte 0xd9, 0xd9\n OUTSW\n .byte 0xdd, 0xc9\n OUTSW\n"
	".byte 0xdf, 0xc9\n fldl2e\n .byte 0xdf, 0xd2\n .byte 0xdf, 0xd9\n OUTSW\n"
	".byte 0xdc, 0xd1\n OUTSW\n .byte 0xdc, 0xd9\n OUTSW\n fld1\n .byte 0xde, 0xd1\n OUTSW\n"
	"fld1\n .byte 0xdf, 0xc1\n OUTSW\n fld %st(0)\n OUTT\n fld %st(1)\n OUTT\n"
	"fnop\n OUTSW\n fnstsw %ax\n OUTR %rax\n");

DUAL_CODE(x87_env,
	"fldcw CWB+2*6(%rdi)\n fld1\n fldpi\n fincstp\n OUTENV\n OUTCW\n"
	"fldenv -48(%rsi)\n OUTCW\n OUTSW\n fldcw CWB(%rdi)\n fdecstp\n fld %st(0)\n OUTT\n"
	"data16 fnstenv (%rsi)\n movl $0, 6(%rsi)\n movl $0, 10(%rsi)\n lea 16(%rsi), %rsi\n"
	"fnsave (%rsi)\n movl $0, 12(%rsi)\n movl $0, 16(%rsi)\n movl $0, 20(%rsi)\n movl $0, 24(%rsi)\n"
	"lea 112(%rsi), %rsi\n OUTSW\n OUTCW\n"
	"frstor -144(%rsi)\n OUTSW\n OUTCW\n fld %st(1)\n OUTT\n OUTT\n OUTT\n"
	"fninit\n fldl2t\n fldln2\n"
	"data16 fnsave (%rsi)\n movl $0, 6(%rsi)\n movl $0, 10(%rsi)\n lea 96(%rsi), %rsi\n"
	"data16 frstor -96(%rsi)\n OUTSW\n fld %st(0)\n OUTT\n"
	/* FXSAVE/FXRSTOR, 32- and 64-bit forms; the pointer fields are cleared before comparing */
	"pxor %xmm0, %xmm0\n pxor %xmm1, %xmm1\n pxor %xmm2, %xmm2\n pxor %xmm3, %xmm3\n"
	"pxor %xmm4, %xmm4\n pxor %xmm5, %xmm5\n pxor %xmm6, %xmm6\n pxor %xmm7, %xmm7\n"
	"pxor %xmm8, %xmm8\n pxor %xmm9, %xmm9\n pxor %xmm10, %xmm10\n pxor %xmm11, %xmm11\n"
	"pxor %xmm12, %xmm12\n pxor %xmm13, %xmm13\n pxor %xmm14, %xmm14\n pxor %xmm15, %xmm15\n"
	"pcmpeqb %xmm3, %xmm3\n fxch\n"
	"add $63, %rsi\n and $-64, %rsi\n fxsave (%rsi)\n movw $0, 6(%rsi)\n movq $0, 8(%rsi)\n movq $0, 16(%rsi)\n"
	"mov 28(%rsi), %r8d\n movl $0, 28(%rsi)\n"            /* MXCSR_MASK: AMD hosts add bit 17 */
	"lea 512(%rsi), %rsi\n fxsave64 (%rsi)\n movw $0, 6(%rsi)\n movq $0, 8(%rsi)\n movq $0, 16(%rsi)\n"
	"movl $0, 28(%rsi)\n"
	"lea 512(%rsi), %rsi\n"
	"fxrstor FXB(%rdi)\n OUTSW\n OUTCW\n OUTMX\n fld %st(0)\n OUTT\n fld %st(2)\n OUTT\n"
	"OUTX %xmm0\n OUTX %xmm7\n OUTX %xmm15\n OUTENV\n");

DUAL_CODE(mmx_ops,
	"movq QB(%rdi), %mm0\n movq QB+8(%rdi), %mm1\n movq QB+16(%rdi), %mm2\n movq QB+24(%rdi), %mm3\n"
	"movq %mm0, %mm4\n paddb %mm1, %mm4\n OUTQ %mm4\n movq %mm2, %mm4\n paddsw %mm3, %mm4\n OUTQ %mm4\n"
	"movq %mm2, %mm4\n psubusb %mm3, %mm4\n OUTQ %mm4\n movq %mm2, %mm4\n pmulhw %mm3, %mm4\n OUTQ %mm4\n"
	"movq %mm2, %mm4\n pmaddwd %mm3, %mm4\n OUTQ %mm4\n movq %mm2, %mm4\n pcmpgtb %mm3, %mm4\n OUTQ %mm4\n"
	"movq %mm2, %mm4\n punpcklbw %mm3, %mm4\n OUTQ %mm4\n movq %mm2, %mm4\n punpckhdq %mm3, %mm4\n OUTQ %mm4\n"
	"movq %mm2, %mm4\n packsswb %mm3, %mm4\n OUTQ %mm4\n movq %mm2, %mm4\n packuswb %mm3, %mm4\n OUTQ %mm4\n"
	"movq %mm2, %mm4\n psllw $3, %mm4\n OUTQ %mm4\n movq %mm3, %mm4\n psrad $5, %mm4\n OUTQ %mm4\n"
	"movq %mm3, %mm4\n psrlq $60, %mm4\n OUTQ %mm4\n movq %mm3, %mm4\n psraw QB+8(%rdi), %mm4\n OUTQ %mm4\n"
	"movq %mm2, %mm4\n pavgb %mm3, %mm4\n OUTQ %mm4\n movq %mm2, %mm4\n psadbw %mm3, %mm4\n OUTQ %mm4\n"
	"movq %mm2, %mm4\n pminub %mm3, %mm4\n OUTQ %mm4\n movq %mm2, %mm4\n pmaxsw %mm3, %mm4\n OUTQ %mm4\n"
	"movq %mm2, %mm4\n pmuludq %mm3, %mm4\n OUTQ %mm4\n movq %mm2, %mm4\n paddq %mm3, %mm4\n OUTQ %mm4\n"
	"pshufw $0x1b, %mm2, %mm4\n OUTQ %mm4\n mov $0x1234, %eax\n pinsrw $2, %eax, %mm4\n OUTQ %mm4\n"
	"pextrw $3, %mm3, %ecx\n OUTR %rcx\n pmovmskb %mm3, %edx\n OUTR %rdx\n"
	"movd %mm3, %eax\n OUTR %rax\n movq %mm3, %rax\n OUTR %rax\n movd IB(%rdi), %mm5\n OUTQ %mm5\n"
	"movq %mm5, %mm6\n pxor %mm2, %mm6\n por %mm3, %mm6\n pandn %mm0, %mm6\n OUTQ %mm6\n"
	"OUTENV\n emms\n OUTENV\n fld1\n fldpi\n movq %mm0, %mm7\n OUTSW\n fld %st(0)\n OUTT\n OUTENV\n");

static void test_x87_arith(void) { DUAL(x87_arith); }
static void test_x87_special(void) { DUAL(x87_special); }
static void test_x87_loadstore(void) { DUAL(x87_loadstore); }
static void test_x87_compare(void) { DUAL(x87_compare); }
static void test_x87_stack(void) { DUAL(x87_stack); }
static void test_x87_env(void)
{
	struct tcpu t;
	dual_cpu(&t);
	CHECK(DUAL_RUN(&t, x87_env, in));
	CHECK_EQ(t.c.gpr[R_R8], 0xffff);        /* our MXCSR_MASK: DAZ, no MAE */
	tcpu_free(&t);
}
static void test_mmx(void) { DUAL(mmx_ops); }

/* A few results by hand, so that the harness itself is checked too. */
DUAL_CODE(x87_known,
	"fld1\n fldl DB+8*3(%rdi)\n faddp\n fstpl (%rsi)\n lea 16(%rsi), %rsi\n"      /* 4.0 */
	"fildl IB(%rdi)\n fistpl (%rsi)\n lea 16(%rsi), %rsi\n"                          /* 12345 */
	"fldl DB+8*3(%rdi)\n fsqrt\n fmul %st(0), %st\n fistpl (%rsi)\n lea 16(%rsi), %rsi\n" /* 3 */
	"fldl DB(%rdi)\n fcoml DB+8*3(%rdi)\n OUTSW\n");

static void test_known_values(void)
{
	struct tcpu t;
	dual_cpu(&t);
	CHECK(DUAL_RUN(&t, x87_known, in));
	double d;
	memcpy(&d, t.mem + T_DATA + DUAL_IN, 8);
	CHECK(d == 4.0);
	CHECK_EQ(t_read(&t, T_DATA + DUAL_IN + 16, 4), 12345);
	CHECK_EQ(t_read(&t, T_DATA + DUAL_IN + 32, 4), 3);
	CHECK_EQ(t_read(&t, T_DATA + DUAL_IN + 48, 2) & 0x4500, 0x0100);   /* 1.5 < 3: C0 */
	tcpu_free(&t);
}

/* ---- faults ---- */

GUEST_CODE(g_fadd, ".code64", "fld1\n fadd %st(0), %st\n");
GUEST_CODE(g_fwait, ".code64", "fwait\n");
GUEST_CODE(g_paddb, ".code64", "paddb %mm1, %mm0\n");
GUEST_CODE(g_fnstsw, ".code64", "fnstsw %ax\n fnclex\n fwait\n fld1\n");
GUEST_CODE(g_exact_tiny, ".code64",
	"fldcw 0x20010\n fldt 0x20020\n fldz\n faddp\n fnstsw %ax\n");
GUEST_CODE(g_unmasked_ze, ".code64",
	"fldcw 0x20010\n fld1\n fldz\n fdivr %st(1), %st\n fnstsw %ax\n fld1\n");

static void test_faults(void)
{
	struct tcpu t;

	/* x87 with CR0.TS or CR0.EM: #NM. */
	dual_cpu(&t);
	t.c.cr0 |= CR0_TS;
	CHECK(!tcpu_exec(&t, g_fadd, g_fadd_end));
	CHECK_EQ(tcpu_vector(&t), EX_NM);
	tcpu_free(&t);
	dual_cpu(&t);
	t.c.cr0 |= CR0_EM;
	CHECK(!tcpu_exec(&t, g_fadd, g_fadd_end));
	CHECK_EQ(tcpu_vector(&t), EX_NM);
	tcpu_free(&t);

	/* FWAIT: #NM only with both MP and TS. */
	dual_cpu(&t);
	t.c.cr0 = (t.c.cr0 | CR0_TS) & ~(uint64_t)CR0_MP;
	CHECK(tcpu_exec(&t, g_fwait, g_fwait_end));
	tcpu_free(&t);
	dual_cpu(&t);
	t.c.cr0 |= CR0_TS;
	CHECK(!tcpu_exec(&t, g_fwait, g_fwait_end));
	CHECK_EQ(tcpu_vector(&t), EX_NM);
	tcpu_free(&t);

	/* MMX: #UD with CR0.EM, #NM with CR0.TS. */
	dual_cpu(&t);
	t.c.cr0 |= CR0_EM;
	CHECK(!tcpu_exec(&t, g_paddb, g_paddb_end));
	CHECK_EQ(tcpu_vector(&t), EX_UD);
	tcpu_free(&t);
	dual_cpu(&t);
	t.c.cr0 |= CR0_TS;
	CHECK(!tcpu_exec(&t, g_paddb, g_paddb_end));
	CHECK_EQ(tcpu_vector(&t), EX_NM);
	tcpu_free(&t);

	/*
	 * An unmasked zero divide: the destination is left alone, ES and B are
	 * set, and the next waiting instruction raises #MF (CR0.NE set) after
	 * the non-waiting FNSTSW ran.
	 */
	dual_cpu(&t);
	t_write(&t, 0x20010, 2, 0x37b);
	CHECK(!tcpu_exec(&t, g_unmasked_ze, g_unmasked_ze_end));
	CHECK_EQ(tcpu_vector(&t), EX_MF);
	CHECK_EQ(t.c.gpr[R_AX] & 0xffff, 0x8000 | 0x80 | 0x04 | (6 << 11));
	CHECK_EQ(t.c.fxsave[32 + 8], 0);        /* ST0 still +0.0 */
	CHECK_EQ(t.c.fxsave[32 + 9], 0);
	tcpu_free(&t);

	/* FNCLEX clears the pending exception; then FWAIT and FLD run. */
	dual_cpu(&t);
	t.c.fxsave[2] = 0x84;           /* FSW: ZE, ES */
	t.c.fxsave[3] = 0x80;           /* B */
	t.c.fxsave[0] = 0x7b;           /* ZE unmasked */
	CHECK(tcpu_exec(&t, g_fnstsw, g_fnstsw_end));
	CHECK_EQ(t.c.gpr[R_AX] & 0xffff, 0x8084);
	tcpu_free(&t);

	/*
	 * With underflow unmasked, an exact tiny result (denormal + 0) signals
	 * it as well (a masked underflow needs an inexact result).
	 */
	dual_cpu(&t);
	t_write(&t, 0x20010, 2, 0x36f);
	t_write(&t, 0x20020, 8, 1);
	t_write(&t, 0x20028, 2, 0);
	CHECK(tcpu_exec(&t, g_exact_tiny, g_exact_tiny_end));
	CHECK_EQ(t.c.gpr[R_AX] & 0x80ff, 0x8000 | 0x80 | 0x10 | 0x02);
	tcpu_free(&t);

	/* With CR0.NE clear, the pending exception is not reported as #MF. */
	dual_cpu(&t);
	t.c.cr0 &= ~(uint64_t)CR0_NE;
	t.c.fxsave[2] = 0x84;
	t.c.fxsave[0] = 0x7b;
	CHECK(tcpu_exec(&t, g_fadd, g_fadd_end));
	tcpu_free(&t);
}

/* Outside 64-bit mode: the 16-bit environment layout in real mode; FXSAVE without XMM8-15. */
GUEST_CODE(g_real_env, ".code16", "fninit\n fld1\n fldpi\n fnstenv 0x2000\n fnsave 0x2100\n frstor 0x2100\n"
	"fxch\n fistps 0x2200\n");
GUEST_CODE(g_prot_fxsave, ".code32", "fld1\n fxsave 0x20200\n addss 0x20200, %xmm0\n");

static void test_other_modes(void)
{
	struct tcpu t;
	tcpu_init(&t, T_REAL);
	CHECK(tcpu_exec(&t, g_real_env, g_real_env_end));
	CHECK_EQ(t_read(&t, 0x2000, 2), 0x37f);                 /* FCW */
	CHECK_EQ(t_read(&t, 0x2002, 2), 6 << 11);               /* FSW: TOP 6 */
	CHECK_EQ(t_read(&t, 0x2004, 2), 0x0fff);                /* FTW: 6 and 7 valid */
	CHECK_EQ(t_read(&t, 0x2100 + 4, 2), 0x0fff);            /* FNSAVE: same environment ... */
	CHECK_EQ(t_read(&t, 0x2100 + 14 + 8, 2), 0x4000);       /* ... then ST0 = pi: exponent 0x4000 */
	CHECK_EQ(t_read(&t, 0x2100 + 24 + 8, 2), 0x3fff);       /* ST1 = 1 */
	CHECK_EQ(t_read(&t, 0x2200, 2), 1);                     /* FRSTOR brought both back */
	tcpu_free(&t);

	tcpu_init(&t, T_PROT32);
	t.c.cr4 |= CR4_OSFXSR;
	memset(t.c.fxsave + 160 + 16 * 8, 0xcd, 16);
	memset(t.mem + 0x20200, 0xee, 512);
	CHECK(tcpu_exec(&t, g_prot_fxsave, g_prot_fxsave_end));
	CHECK_EQ(t_read(&t, 0x20200, 2), 0x37f);
	CHECK_EQ(t_read(&t, 0x20200 + 4, 1), 0x80);              /* abridged tags: physical 7 */
	CHECK_EQ(t_read(&t, 0x20200 + 160 + 16 * 8, 8), 0xeeeeeeeeeeeeeeeeULL);
	tcpu_free(&t);
}

int main(void)
{
	make_inputs();
	RUN(test_x87_arith);
	RUN(test_x87_special);
	RUN(test_x87_loadstore);
	RUN(test_x87_compare);
	RUN(test_x87_stack);
	RUN(test_x87_env);
	RUN(test_mmx);
	RUN(test_known_values);
	RUN(test_faults);
	RUN(test_other_modes);
	TEST_EXIT();
}
