/*
 * The instruction forms the differential tester covers, and how it encodes
 * random instances of them. Register operands avoid RSP (the stack is
 * shared with the harness) and R15 (the scratch buffer's base); memory
 * operands are [R15 + disp8] inside the scratch buffer. SSE/SSE2 forms
 * take any of XMM0-15; their 16-byte memory operands are aligned, except
 * now and then, to check the #GP.
 */
#include <string.h>

#include "gen.h"

#define CF 0x001u
#define PF 0x004u
#define AF 0x010u
#define ZF 0x040u
#define SF 0x080u
#define OF 0x800u
#define ARITH (CF | PF | AF | ZF | SF | OF)

enum form { RM_REG, RM_DIGIT, REG_IN_OP, NO_OPERAND, SPECIAL,
	    X_RM,           /* xmm, xmm/mem */
	    X_GPR_RM,       /* xmm, r/m (MOVD, CVTSI2SS, PINSRW) */
	    X_GPR_REG,      /* r, xmm/mem (CVTSS2SI, PMOVMSKB, PEXTRW, MOVNTI's r, m) */
	    X_SHIFT };      /* xmm with /digit and imm8 (0F 71-73) */
enum imm { I_NONE, I_8, I_Z, I_V };          /* imm8, imm16/32, imm16/32/64 */
enum mem { M_ANY, M_NEVER, M_ALWAYS };
#define M_ALIGNED 0x10          /* SSE: the 16-byte memory operand must be aligned */
enum special { SP_NONE, SP_STRING, SP_PUSHPOP, SP_JCC, SP_SETCC, SP_CMOV };

struct tmpl {
	const char *name;
	uint8_t pre;            /* mandatory prefix, 0 for none */
	uint8_t op[2], oplen;
	uint8_t form, digit, sizes, imm, mem;
	uint32_t undef;
	uint8_t consumes;       /* reads the flags */
	uint8_t special;
};

#define B 1
#define W 2
#define D 4
#define Q 8
#define WDQ (W | D | Q)

static struct tmpl tmpls[512];
static int n_tmpls;

static void add(struct tmpl t)
{
	if (n_tmpls < (int)(sizeof(tmpls) / sizeof(tmpls[0])))
		tmpls[n_tmpls++] = t;
}

/* One SSE/SSE2 form: 0F op with a mandatory prefix (0, 66, F3, F2). */
static void sse(const char *name, uint8_t pre, uint8_t op, uint8_t form, uint8_t mem, uint8_t align,
		uint8_t imm, uint8_t sizes)
{
	add((struct tmpl){ name, pre, { 0x0f, op }, 2, form, 0, sizes, imm, mem | (align ? M_ALIGNED : 0), 0, 0, 0 });
}

static void init_sse_tmpls(void)
{
	static const struct { const char *n[4]; uint8_t op; } fp[] = {
		{ { "addps", "addpd", "addss", "addsd" }, 0x58 }, { { "mulps", "mulpd", "mulss", "mulsd" }, 0x59 },
		{ { "subps", "subpd", "subss", "subsd" }, 0x5c }, { { "minps", "minpd", "minss", "minsd" }, 0x5d },
		{ { "divps", "divpd", "divss", "divsd" }, 0x5e }, { { "maxps", "maxpd", "maxss", "maxsd" }, 0x5f },
		{ { "sqrtps", "sqrtpd", "sqrtss", "sqrtsd" }, 0x51 }, { { "cmpps", "cmppd", "cmpss", "cmpsd" }, 0xc2 },
		{ { "movups", "movupd", "movss", "movsd" }, 0x10 }, { { "movups", "movupd", "movss", "movsd" }, 0x11 },
		{ { "cvtps2pd", "cvtpd2ps", "cvtss2sd", "cvtsd2ss" }, 0x5a },
	};
	static const uint8_t pres[4] = { 0, 0x66, 0xf3, 0xf2 };
	for (unsigned i = 0; i < sizeof(fp) / sizeof(fp[0]); i++)
		for (int p = 0; p < 4; p++) {
			int packed = p < 2 && fp[i].op != 0x10 && fp[i].op != 0x11;
			int imm = fp[i].op == 0xc2 ? I_8 : I_NONE;
			if (fp[i].op == 0x5a && p == 0)
				packed = 0;     /* CVTPS2PD reads m64 */
			sse(fp[i].n[p], pres[p], fp[i].op, X_RM, M_ANY, packed, imm, D);
		}
	static const struct { const char *n; uint8_t pre, op, mem, align, imm; } xx[] = {
		{ "rsqrtps", 0, 0x52, M_ANY, 1, 0 }, { "rsqrtss", 0xf3, 0x52, M_ANY, 0, 0 },
		{ "rcpps", 0, 0x53, M_ANY, 1, 0 }, { "rcpss", 0xf3, 0x53, M_ANY, 0, 0 },
		{ "andps", 0, 0x54, M_ANY, 1, 0 }, { "andpd", 0x66, 0x54, M_ANY, 1, 0 },
		{ "andnps", 0, 0x55, M_ANY, 1, 0 }, { "andnpd", 0x66, 0x55, M_ANY, 1, 0 },
		{ "orps", 0, 0x56, M_ANY, 1, 0 }, { "orpd", 0x66, 0x56, M_ANY, 1, 0 },
		{ "xorps", 0, 0x57, M_ANY, 1, 0 }, { "xorpd", 0x66, 0x57, M_ANY, 1, 0 },
		{ "ucomiss", 0, 0x2e, M_ANY, 0, 0 }, { "ucomisd", 0x66, 0x2e, M_ANY, 0, 0 },
		{ "comiss", 0, 0x2f, M_ANY, 0, 0 }, { "comisd", 0x66, 0x2f, M_ANY, 0, 0 },
		{ "cvtdq2ps", 0, 0x5b, M_ANY, 1, 0 }, { "cvtps2dq", 0x66, 0x5b, M_ANY, 1, 0 },
		{ "cvttps2dq", 0xf3, 0x5b, M_ANY, 1, 0 }, { "cvttpd2dq", 0x66, 0xe6, M_ANY, 1, 0 },
		{ "cvtdq2pd", 0xf3, 0xe6, M_ANY, 0, 0 }, { "cvtpd2dq", 0xf2, 0xe6, M_ANY, 1, 0 },
		{ "unpcklps", 0, 0x14, M_ANY, 1, 0 }, { "unpcklpd", 0x66, 0x14, M_ANY, 1, 0 },
		{ "unpckhps", 0, 0x15, M_ANY, 1, 0 }, { "unpckhpd", 0x66, 0x15, M_ANY, 1, 0 },
		{ "shufps", 0, 0xc6, M_ANY, 1, I_8 }, { "shufpd", 0x66, 0xc6, M_ANY, 1, I_8 },
		{ "movaps", 0, 0x28, M_ANY, 1, 0 }, { "movaps", 0, 0x29, M_ANY, 1, 0 },
		{ "movapd", 0x66, 0x28, M_ANY, 1, 0 }, { "movapd", 0x66, 0x29, M_ANY, 1, 0 },
		{ "movlps/movhlps", 0, 0x12, M_ANY, 0, 0 }, { "movlps", 0, 0x13, M_ALWAYS, 0, 0 },
		{ "movhps/movlhps", 0, 0x16, M_ANY, 0, 0 }, { "movhps", 0, 0x17, M_ALWAYS, 0, 0 },
		{ "movlpd", 0x66, 0x12, M_ALWAYS, 0, 0 }, { "movlpd", 0x66, 0x13, M_ALWAYS, 0, 0 },
		{ "movhpd", 0x66, 0x16, M_ALWAYS, 0, 0 }, { "movhpd", 0x66, 0x17, M_ALWAYS, 0, 0 },
		{ "movntps", 0, 0x2b, M_ALWAYS, 1, 0 }, { "movntpd", 0x66, 0x2b, M_ALWAYS, 1, 0 },
		{ "movntdq", 0x66, 0xe7, M_ALWAYS, 1, 0 },
		{ "movdqa", 0x66, 0x6f, M_ANY, 1, 0 }, { "movdqa", 0x66, 0x7f, M_ANY, 1, 0 },
		{ "movdqu", 0xf3, 0x6f, M_ANY, 0, 0 }, { "movdqu", 0xf3, 0x7f, M_ANY, 0, 0 },
		{ "movq", 0xf3, 0x7e, M_ANY, 0, 0 }, { "movq", 0x66, 0xd6, M_ANY, 0, 0 },
		{ "pshufd", 0x66, 0x70, M_ANY, 1, I_8 }, { "pshufhw", 0xf3, 0x70, M_ANY, 1, I_8 },
		{ "pshuflw", 0xf2, 0x70, M_ANY, 1, I_8 },
	};
	for (unsigned i = 0; i < sizeof(xx) / sizeof(xx[0]); i++)
		sse(xx[i].n, xx[i].pre, xx[i].op, X_RM, xx[i].mem, xx[i].align, xx[i].imm, D);
	/* SSE2 integer operations, 66 0F xx xmm, xmm/m128. */
	static const struct { const char *n; uint8_t op; } ints[] = {
		{ "punpcklbw", 0x60 }, { "punpcklwd", 0x61 }, { "punpckldq", 0x62 }, { "packsswb", 0x63 },
		{ "pcmpgtb", 0x64 }, { "pcmpgtw", 0x65 }, { "pcmpgtd", 0x66 }, { "packuswb", 0x67 },
		{ "punpckhbw", 0x68 }, { "punpckhwd", 0x69 }, { "punpckhdq", 0x6a }, { "packssdw", 0x6b },
		{ "punpcklqdq", 0x6c }, { "punpckhqdq", 0x6d }, { "pcmpeqb", 0x74 }, { "pcmpeqw", 0x75 },
		{ "pcmpeqd", 0x76 }, { "psrlw", 0xd1 }, { "psrld", 0xd2 }, { "psrlq", 0xd3 }, { "paddq", 0xd4 },
		{ "pmullw", 0xd5 }, { "psubusb", 0xd8 }, { "psubusw", 0xd9 }, { "pminub", 0xda }, { "pand", 0xdb },
		{ "paddusb", 0xdc }, { "paddusw", 0xdd }, { "pmaxub", 0xde }, { "pandn", 0xdf }, { "pavgb", 0xe0 },
		{ "psraw", 0xe1 }, { "psrad", 0xe2 }, { "pavgw", 0xe3 }, { "pmulhuw", 0xe4 }, { "pmulhw", 0xe5 },
		{ "psubsb", 0xe8 }, { "psubsw", 0xe9 }, { "pminsw", 0xea }, { "por", 0xeb }, { "paddsb", 0xec },
		{ "paddsw", 0xed }, { "pmaxsw", 0xee }, { "pxor", 0xef }, { "psllw", 0xf1 }, { "pslld", 0xf2 },
		{ "psllq", 0xf3 }, { "pmuludq", 0xf4 }, { "pmaddwd", 0xf5 }, { "psadbw", 0xf6 }, { "psubb", 0xf8 },
		{ "psubw", 0xf9 }, { "psubd", 0xfa }, { "psubq", 0xfb }, { "paddb", 0xfc }, { "paddw", 0xfd },
		{ "paddd", 0xfe },
	};
	for (unsigned i = 0; i < sizeof(ints) / sizeof(ints[0]); i++)
		sse(ints[i].n, 0x66, ints[i].op, X_RM, M_ANY, 1, I_NONE, D);
	/* With a general register. */
	sse("movd/movq to xmm", 0x66, 0x6e, X_GPR_RM, M_ANY, 0, I_NONE, D | Q);
	sse("movd/movq from xmm", 0x66, 0x7e, X_GPR_RM, M_ANY, 0, I_NONE, D | Q);
	sse("cvtsi2ss", 0xf3, 0x2a, X_GPR_RM, M_ANY, 0, I_NONE, D | Q);
	sse("cvtsi2sd", 0xf2, 0x2a, X_GPR_RM, M_ANY, 0, I_NONE, D | Q);
	sse("pinsrw", 0x66, 0xc4, X_GPR_RM, M_ANY, 0, I_8, D);
	sse("cvttss2si", 0xf3, 0x2c, X_GPR_REG, M_ANY, 0, I_NONE, D | Q);
	sse("cvttsd2si", 0xf2, 0x2c, X_GPR_REG, M_ANY, 0, I_NONE, D | Q);
	sse("cvtss2si", 0xf3, 0x2d, X_GPR_REG, M_ANY, 0, I_NONE, D | Q);
	sse("cvtsd2si", 0xf2, 0x2d, X_GPR_REG, M_ANY, 0, I_NONE, D | Q);
	sse("movmskps", 0, 0x50, X_GPR_REG, M_NEVER, 0, I_NONE, D);
	sse("movmskpd", 0x66, 0x50, X_GPR_REG, M_NEVER, 0, I_NONE, D);
	sse("pmovmskb", 0x66, 0xd7, X_GPR_REG, M_NEVER, 0, I_NONE, D);
	sse("pextrw", 0x66, 0xc5, X_GPR_REG, M_NEVER, 0, I_8, D);
	sse("movnti", 0, 0xc3, X_GPR_REG, M_ALWAYS, 0, I_NONE, D | Q);
	/* Shifts by imm8: 66 0F 71/72/73 /digit. */
	static const struct { const char *n; uint8_t op, digit; } sh[] = {
		{ "psrlw imm", 0x71, 2 }, { "psraw imm", 0x71, 4 }, { "psllw imm", 0x71, 6 },
		{ "psrld imm", 0x72, 2 }, { "psrad imm", 0x72, 4 }, { "pslld imm", 0x72, 6 },
		{ "psrlq imm", 0x73, 2 }, { "psrldq", 0x73, 3 }, { "psllq imm", 0x73, 6 }, { "pslldq", 0x73, 7 },
	};
	for (unsigned i = 0; i < sizeof(sh) / sizeof(sh[0]); i++)
		add((struct tmpl){ sh[i].n, 0x66, { 0x0f, sh[i].op }, 2, X_SHIFT, sh[i].digit, D, I_8, M_NEVER,
				   0, 0, 0 });
}

static void init_tmpls(void)
{
	static const char *const alu[8] = { "add", "or", "adc", "sbb", "and", "sub", "xor", "cmp" };
	static const char *const sh[8] = { "rol", "ror", "rcl", "rcr", "shl", "shr", "sal", "sar" };
	static char names[64][24];
	int k = 0;

	if (n_tmpls)
		return;
	for (int i = 0; i < 8; i++) {
		uint32_t u = (i == 1 || i == 4 || i == 6) ? AF : 0;
		uint8_t c = (i == 2 || i == 3);
		add((struct tmpl){ alu[i], 0, { i * 8 }, 1, RM_REG, 0, B, I_NONE, M_ANY, u, c, 0 });
		add((struct tmpl){ alu[i], 0, { i * 8 + 1 }, 1, RM_REG, 0, WDQ, I_NONE, M_ANY, u, c, 0 });
		add((struct tmpl){ alu[i], 0, { i * 8 + 2 }, 1, RM_REG, 0, B, I_NONE, M_ANY, u, c, 0 });
		add((struct tmpl){ alu[i], 0, { i * 8 + 3 }, 1, RM_REG, 0, WDQ, I_NONE, M_ANY, u, c, 0 });
		add((struct tmpl){ alu[i], 0, { 0x80 }, 1, RM_DIGIT, i, B, I_8, M_ANY, u, c, 0 });
		add((struct tmpl){ alu[i], 0, { 0x81 }, 1, RM_DIGIT, i, WDQ, I_Z, M_ANY, u, c, 0 });
		add((struct tmpl){ alu[i], 0, { 0x83 }, 1, RM_DIGIT, i, WDQ, I_8, M_ANY, u, c, 0 });
	}
	for (int i = 0; i < 8; i++) {
		uint8_t c = (i == 2 || i == 3);
		add((struct tmpl){ sh[i], 0, { 0xc0 }, 1, RM_DIGIT, i, B, I_8, M_ANY, OF | AF, c, 0 });
		add((struct tmpl){ sh[i], 0, { 0xc1 }, 1, RM_DIGIT, i, WDQ, I_8, M_ANY, OF | AF, c, 0 });
		add((struct tmpl){ sh[i], 0, { 0xd1 }, 1, RM_DIGIT, i, WDQ, I_NONE, M_ANY, AF, c, 0 });
		add((struct tmpl){ sh[i], 0, { 0xd2 }, 1, RM_DIGIT, i, B, I_NONE, M_ANY, OF | AF, c, 0 });
		add((struct tmpl){ sh[i], 0, { 0xd3 }, 1, RM_DIGIT, i, WDQ, I_NONE, M_ANY, OF | AF, c, 0 });
	}
	add((struct tmpl){ "test", 0, { 0x84 }, 1, RM_REG, 0, B, I_NONE, M_ANY, AF, 0, 0 });
	add((struct tmpl){ "test", 0, { 0x85 }, 1, RM_REG, 0, WDQ, I_NONE, M_ANY, AF, 0, 0 });
	add((struct tmpl){ "test", 0, { 0xf7 }, 1, RM_DIGIT, 0, WDQ, I_Z, M_ANY, AF, 0, 0 });
	add((struct tmpl){ "not", 0, { 0xf6 }, 1, RM_DIGIT, 2, B, I_NONE, M_ANY, 0, 0, 0 });
	add((struct tmpl){ "not", 0, { 0xf7 }, 1, RM_DIGIT, 2, WDQ, I_NONE, M_ANY, 0, 0, 0 });
	add((struct tmpl){ "neg", 0, { 0xf6 }, 1, RM_DIGIT, 3, B, I_NONE, M_ANY, 0, 0, 0 });
	add((struct tmpl){ "neg", 0, { 0xf7 }, 1, RM_DIGIT, 3, WDQ, I_NONE, M_ANY, 0, 0, 0 });
	add((struct tmpl){ "mul", 0, { 0xf6 }, 1, RM_DIGIT, 4, B, I_NONE, M_ANY, SF | ZF | AF | PF, 0, 0 });
	add((struct tmpl){ "mul", 0, { 0xf7 }, 1, RM_DIGIT, 4, WDQ, I_NONE, M_ANY, SF | ZF | AF | PF, 0, 0 });
	add((struct tmpl){ "imul", 0, { 0xf6 }, 1, RM_DIGIT, 5, B, I_NONE, M_ANY, SF | ZF | AF | PF, 0, 0 });
	add((struct tmpl){ "imul", 0, { 0xf7 }, 1, RM_DIGIT, 5, WDQ, I_NONE, M_ANY, SF | ZF | AF | PF, 0, 0 });
	add((struct tmpl){ "div", 0, { 0xf6 }, 1, RM_DIGIT, 6, B, I_NONE, M_ANY, ARITH, 0, 0 });
	add((struct tmpl){ "div", 0, { 0xf7 }, 1, RM_DIGIT, 6, WDQ, I_NONE, M_ANY, ARITH, 0, 0 });
	add((struct tmpl){ "idiv", 0, { 0xf6 }, 1, RM_DIGIT, 7, B, I_NONE, M_ANY, ARITH, 0, 0 });
	add((struct tmpl){ "idiv", 0, { 0xf7 }, 1, RM_DIGIT, 7, WDQ, I_NONE, M_ANY, ARITH, 0, 0 });
	add((struct tmpl){ "imul", 0, { 0x0f, 0xaf }, 2, RM_REG, 0, WDQ, I_NONE, M_ANY, SF | ZF | AF | PF, 0, 0 });
	add((struct tmpl){ "imul", 0, { 0x69 }, 1, RM_REG, 0, WDQ, I_Z, M_ANY, SF | ZF | AF | PF, 0, 0 });
	add((struct tmpl){ "imul", 0, { 0x6b }, 1, RM_REG, 0, WDQ, I_8, M_ANY, SF | ZF | AF | PF, 0, 0 });
	add((struct tmpl){ "inc", 0, { 0xfe }, 1, RM_DIGIT, 0, B, I_NONE, M_ANY, 0, 0, 0 });
	add((struct tmpl){ "inc", 0, { 0xff }, 1, RM_DIGIT, 0, WDQ, I_NONE, M_ANY, 0, 0, 0 });
	add((struct tmpl){ "dec", 0, { 0xfe }, 1, RM_DIGIT, 1, B, I_NONE, M_ANY, 0, 0, 0 });
	add((struct tmpl){ "dec", 0, { 0xff }, 1, RM_DIGIT, 1, WDQ, I_NONE, M_ANY, 0, 0, 0 });
	add((struct tmpl){ "shld", 0, { 0x0f, 0xa4 }, 2, RM_REG, 0, D | Q, I_8, M_ANY, OF | AF, 0, 0 });
	add((struct tmpl){ "shld", 0, { 0x0f, 0xa5 }, 2, RM_REG, 0, D | Q, I_NONE, M_ANY, OF | AF, 0, 0 });
	add((struct tmpl){ "shrd", 0, { 0x0f, 0xac }, 2, RM_REG, 0, D | Q, I_8, M_ANY, OF | AF, 0, 0 });
	add((struct tmpl){ "shrd", 0, { 0x0f, 0xad }, 2, RM_REG, 0, D | Q, I_NONE, M_ANY, OF | AF, 0, 0 });
	add((struct tmpl){ "bt", 0, { 0x0f, 0xa3 }, 2, RM_REG, 0, WDQ, I_NONE, M_NEVER, OF | SF | AF | PF, 0, 0 });
	add((struct tmpl){ "bts", 0, { 0x0f, 0xab }, 2, RM_REG, 0, WDQ, I_NONE, M_NEVER, OF | SF | AF | PF, 0, 0 });
	add((struct tmpl){ "btr", 0, { 0x0f, 0xb3 }, 2, RM_REG, 0, WDQ, I_NONE, M_NEVER, OF | SF | AF | PF, 0, 0 });
	add((struct tmpl){ "btc", 0, { 0x0f, 0xbb }, 2, RM_REG, 0, WDQ, I_NONE, M_NEVER, OF | SF | AF | PF, 0, 0 });
	for (int i = 4; i < 8; i++)
		add((struct tmpl){ "bt/s/r/c imm", 0, { 0x0f, 0xba }, 2, RM_DIGIT, i, WDQ, I_8, M_ANY, OF | SF | AF | PF, 0, 0 });
	add((struct tmpl){ "bsf", 0, { 0x0f, 0xbc }, 2, RM_REG, 0, WDQ, I_NONE, M_ANY, CF | OF | SF | AF | PF, 0, 0 });
	add((struct tmpl){ "bsr", 0, { 0x0f, 0xbd }, 2, RM_REG, 0, WDQ, I_NONE, M_ANY, CF | OF | SF | AF | PF, 0, 0 });
	add((struct tmpl){ "tzcnt", 0xf3, { 0x0f, 0xbc }, 2, RM_REG, 0, WDQ, I_NONE, M_ANY, OF | SF | AF | PF, 0, 0 });
	add((struct tmpl){ "lzcnt", 0xf3, { 0x0f, 0xbd }, 2, RM_REG, 0, WDQ, I_NONE, M_ANY, OF | SF | AF | PF, 0, 0 });
	add((struct tmpl){ "popcnt", 0xf3, { 0x0f, 0xb8 }, 2, RM_REG, 0, WDQ, I_NONE, M_ANY, 0, 0, 0 });
	add((struct tmpl){ "bswap", 0, { 0x0f, 0xc8 }, 2, REG_IN_OP, 0, D | Q, I_NONE, M_NEVER, 0, 0, 0 });
	add((struct tmpl){ "movzx", 0, { 0x0f, 0xb6 }, 2, RM_REG, 0, WDQ, I_NONE, M_ANY, 0, 0, 0 });
	add((struct tmpl){ "movzx", 0, { 0x0f, 0xb7 }, 2, RM_REG, 0, D | Q, I_NONE, M_ANY, 0, 0, 0 });
	add((struct tmpl){ "movsx", 0, { 0x0f, 0xbe }, 2, RM_REG, 0, WDQ, I_NONE, M_ANY, 0, 0, 0 });
	add((struct tmpl){ "movsx", 0, { 0x0f, 0xbf }, 2, RM_REG, 0, D | Q, I_NONE, M_ANY, 0, 0, 0 });
	add((struct tmpl){ "movsxd", 0, { 0x63 }, 1, RM_REG, 0, Q, I_NONE, M_ANY, 0, 0, 0 });
	add((struct tmpl){ "mov", 0, { 0x88 }, 1, RM_REG, 0, B, I_NONE, M_ANY, 0, 0, 0 });
	add((struct tmpl){ "mov", 0, { 0x89 }, 1, RM_REG, 0, WDQ, I_NONE, M_ANY, 0, 0, 0 });
	add((struct tmpl){ "mov", 0, { 0x8a }, 1, RM_REG, 0, B, I_NONE, M_ANY, 0, 0, 0 });
	add((struct tmpl){ "mov", 0, { 0x8b }, 1, RM_REG, 0, WDQ, I_NONE, M_ANY, 0, 0, 0 });
	add((struct tmpl){ "mov", 0, { 0xc6 }, 1, RM_DIGIT, 0, B, I_8, M_ANY, 0, 0, 0 });
	add((struct tmpl){ "mov", 0, { 0xc7 }, 1, RM_DIGIT, 0, WDQ, I_Z, M_ANY, 0, 0, 0 });
	add((struct tmpl){ "mov imm", 0, { 0xb8 }, 1, REG_IN_OP, 0, WDQ, I_V, M_NEVER, 0, 0, 0 });
	add((struct tmpl){ "lea", 0, { 0x8d }, 1, RM_REG, 0, WDQ, I_NONE, M_ALWAYS, 0, 0, 0 });
	add((struct tmpl){ "xchg", 0, { 0x86 }, 1, RM_REG, 0, B, I_NONE, M_ANY, 0, 0, 0 });
	add((struct tmpl){ "xchg", 0, { 0x87 }, 1, RM_REG, 0, WDQ, I_NONE, M_ANY, 0, 0, 0 });
	add((struct tmpl){ "cmpxchg", 0, { 0x0f, 0xb0 }, 2, RM_REG, 0, B, I_NONE, M_ANY, 0, 0, 0 });
	add((struct tmpl){ "cmpxchg", 0, { 0x0f, 0xb1 }, 2, RM_REG, 0, WDQ, I_NONE, M_ANY, 0, 0, 0 });
	add((struct tmpl){ "xadd", 0, { 0x0f, 0xc0 }, 2, RM_REG, 0, B, I_NONE, M_ANY, 0, 0, 0 });
	add((struct tmpl){ "xadd", 0, { 0x0f, 0xc1 }, 2, RM_REG, 0, WDQ, I_NONE, M_ANY, 0, 0, 0 });
	add((struct tmpl){ "cbw/cwde/cdqe", 0, { 0x98 }, 1, NO_OPERAND, 0, WDQ, I_NONE, M_NEVER, 0, 0, 0 });
	add((struct tmpl){ "cwd/cdq/cqo", 0, { 0x99 }, 1, NO_OPERAND, 0, WDQ, I_NONE, M_NEVER, 0, 0, 0 });
	add((struct tmpl){ "lahf", 0, { 0x9f }, 1, NO_OPERAND, 0, D, I_NONE, M_NEVER, 0, 1, 0 });
	add((struct tmpl){ "sahf", 0, { 0x9e }, 1, NO_OPERAND, 0, D, I_NONE, M_NEVER, 0, 0, 0 });
	add((struct tmpl){ "cmc", 0, { 0xf5 }, 1, NO_OPERAND, 0, D, I_NONE, M_NEVER, 0, 1, 0 });
	add((struct tmpl){ "clc", 0, { 0xf8 }, 1, NO_OPERAND, 0, D, I_NONE, M_NEVER, 0, 0, 0 });
	add((struct tmpl){ "stc", 0, { 0xf9 }, 1, NO_OPERAND, 0, D, I_NONE, M_NEVER, 0, 0, 0 });
	add((struct tmpl){ "setcc", 0, { 0x0f, 0x90 }, 2, SPECIAL, 0, B, I_NONE, M_ANY, 0, 1, SP_SETCC });
	add((struct tmpl){ "cmovcc", 0, { 0x0f, 0x40 }, 2, SPECIAL, 0, WDQ, I_NONE, M_ANY, 0, 1, SP_CMOV });
	add((struct tmpl){ "jcc rel8", 0, { 0x70 }, 1, SPECIAL, 0, D, I_NONE, M_NEVER, 0, 1, SP_JCC });
	add((struct tmpl){ "push/pop", 0, { 0x50 }, 1, SPECIAL, 0, WDQ, I_NONE, M_NEVER, 0, 0, SP_PUSHPOP });
	init_sse_tmpls();
	static const uint8_t str_ops[] = { 0xa4, 0xa6, 0xaa, 0xac, 0xae };
	static const char *const str_names[] = { "movs", "cmps", "stos", "lods", "scas" };
	for (int i = 0; i < 5; i++)
		for (int w = 0; w < 2; w++) {
			snprintf(names[k], sizeof(names[k]), "rep %s", str_names[i]);
			add((struct tmpl){ names[k], 0, { str_ops[i] + w }, 1, SPECIAL, 0, w ? WDQ : B,
					   I_NONE, M_NEVER, 0, 0, SP_STRING });
			k++;
		}
}

uint64_t gen_value(struct rng *r)
{
	static const uint64_t edges[] = {
		0, 1, 2, 0x7f, 0x80, 0xff, 0x7fff, 0x8000, 0xffff, 0x7fffffff, 0x80000000,
		0xffffffff, 0x100000000ULL, 0x7fffffffffffffffULL, 0x8000000000000000ULL,
		~0ULL, ~1ULL, 31, 32, 63, 64,
	};
	uint64_t x = rng_next(r);
	switch (x & 7) {
	case 0: case 1: return edges[(x >> 8) % (sizeof(edges) / sizeof(edges[0]))];
	case 2: return (x >> 8) & 0xff;
	case 3: return (uint32_t)rng_next(r);
	default: return rng_next(r);
	}
}

/* One 32-bit lane: a single-precision edge case, a modest number, or random bits. */
static uint32_t gen_single(struct rng *r)
{
	static const uint32_t edges[] = {
		0, 0x80000000, 0x3f800000, 0xbf800000, 0x3f000000, 0x3fc00000, 0x7f800000, 0xff800000,
		0x7fc00000, 0xffc00000, 0x7f800001, 0x7fa00000, 0x00000001, 0x80400000, 0x007fffff,
		0x00800000, 0x7f7fffff, 0xff7fffff, 0x4f000000, 0xcf000000, 0x5f000000, 0xdf000000,
		0x4effffff, 0x3eaaaaab, 0x40490fdb,
	};
	uint64_t x = rng_next(r);
	switch (x & 3) {
	case 0: return edges[(x >> 8) % (sizeof(edges) / sizeof(edges[0]))];
	case 1: return ((uint32_t)(x >> 8) & 0x807fffff) | (uint32_t)(0x3c000000 + ((x >> 40) % 16) * 0x00800000);
	default: return (uint32_t)(x >> 16);
	}
}

/* One 64-bit lane: a double-precision edge case, a modest number, or random bits. */
static uint64_t gen_double(struct rng *r)
{
	static const uint64_t edges[] = {
		0, 0x8000000000000000ULL, 0x3ff0000000000000ULL, 0xbff0000000000000ULL,
		0x3fe0000000000000ULL, 0x7ff0000000000000ULL, 0xfff0000000000000ULL, 0x7ff8000000000000ULL,
		0xfff8000000000000ULL, 0x7ff0000000000001ULL, 0x7ff4000000000000ULL, 1, 0x000fffffffffffffULL,
		0x0010000000000000ULL, 0x7fefffffffffffffULL, 0x41e0000000000000ULL, 0xc1e0000000000000ULL,
		0x43e0000000000000ULL, 0xc3e0000000000000ULL, 0x41dfffffffffffffULL, 0x36a0000000000000ULL,
		0x47efffffe0000000ULL, 0x3fd5555555555555ULL, 0x400921fb54442d18ULL,
	};
	uint64_t x = rng_next(r);
	switch (x & 3) {
	case 0: return edges[(x >> 8) % (sizeof(edges) / sizeof(edges[0]))];
	case 1: return (rng_next(r) & 0x800fffffffffffffULL) |
		       (0x3f00000000000000ULL + ((x >> 40) % 32) * 0x0010000000000000ULL);
	default: return rng_next(r);
	}
}

void gen_xmm(struct rng *r, uint8_t v[16])
{
	uint64_t q[2];
	switch (rng_next(r) % 4) {
	case 0: {
		uint32_t d[4];
		for (int i = 0; i < 4; i++)
			d[i] = gen_single(r);
		memcpy(v, d, 16);
		return;
	}
	case 1: q[0] = gen_double(r); q[1] = gen_double(r); break;
	case 2: q[0] = gen_value(r); q[1] = gen_value(r); break;
	default: q[0] = rng_next(r); q[1] = rng_next(r); break;
	}
	memcpy(v, q, 16);
}

uint32_t gen_mxcsr(struct rng *r)
{
	uint64_t x = rng_next(r);
	uint32_t m = 0x1f80 | (uint32_t)(x & 0x6000);   /* rounding control */
	if ((x >> 16) % 4 == 0)
		m |= 0x40;                              /* DAZ */
	if ((x >> 18) % 4 == 0)
		m |= 0x8000;                            /* FTZ */
	if ((x >> 20) % 2)
		m |= (uint32_t)(x >> 24) & 0x3f;        /* flags already set */
	if ((x >> 30) % 8 == 0)
		m &= ~(0x80u << ((x >> 33) % 6));       /* one exception unmasked */
	return m;
}

/* A general register other than RSP and R15. */
static int pick_reg(struct rng *r)
{
	int g;
	do
		g = rng_next(r) % 15;
	while (g == 4);
	return g;
}

static int pick_size(struct rng *r, int sizes)
{
	int s;
	do
		s = 1 << (rng_next(r) % 4);
	while (!(s & sizes));
	return s;
}

struct out {
	uint8_t *p;
	int n, max;
};

static void put(struct out *o, uint8_t b)
{
	if (o->n < o->max)
		o->p[o->n++] = b;
}

static void put_imm(struct out *o, uint64_t v, int bytes)
{
	for (int i = 0; i < bytes; i++)
		put(o, v >> (8 * i));
}

/*
 * Encodes one instruction with a ModRM operand pair. reg is a register
 * number or /digit; rm a register, or -1 for [R15 + disp8].
 */
static void encode(struct out *o, struct rng *r, const struct tmpl *t, int size, int reg, int rm,
		   const uint8_t *op, int oplen)
{
	int rex = 0;
	if (size == 2)
		put(o, 0x66);
	if (t->pre)
		put(o, t->pre);
	if (size == 8)
		rex |= 0x48;
	if (reg >= 8)
		rex |= 0x44;
	if (rm < 0 || rm >= 8)
		rex |= 0x41;
	/* Byte registers 4-7 mean SPL-DIL with any REX, AH-BH without. */
	if (size == 1 && !rex && (rng_next(r) & 1) && reg != 4 && rm != 4)
		rex = 0x40;
	if (rex)
		put(o, rex);
	for (int i = 0; i < oplen; i++)
		put(o, op[i]);
	if (rm < 0) {
		put(o, 0x40 | (reg & 7) << 3 | 7);      /* mod 01, rm 7 (+REX.B: R15) */
		put(o, rng_next(r) % 112);             /* disp8 0-111: inside the scratch buffer */
	} else {
		put(o, 0xc0 | (reg & 7) << 3 | (rm & 7));
	}
}

static int imm_bytes(const struct tmpl *t, int size)
{
	switch (t->imm) {
	case I_8: return 1;
	case I_Z: return size == 2 ? 2 : 4;
	case I_V: return size;
	default: return 0;
	}
}

static void gen_modrm(struct out *o, struct rng *r, const struct tmpl *t, int size)
{
	int mem = t->mem == M_ALWAYS || (t->mem == M_ANY && (rng_next(r) & 1));
	int reg = t->form == RM_DIGIT ? t->digit : pick_reg(r);
	int rm = mem ? -1 : pick_reg(r);
	encode(o, r, t, size, reg, rm, t->op, t->oplen);
	put_imm(o, rng_next(r), imm_bytes(t, size));
}

static void gen_one(struct out *o, struct rng *r, const struct tmpl *t, int size);

/* An SSE form: XMM registers 0-15, general registers as pick_reg() gives them. */
static void gen_sse(struct out *o, struct rng *r, const struct tmpl *t, int size)
{
	int kind = t->mem & ~M_ALIGNED;
	int mem = kind == M_ALWAYS || (kind == M_ANY && (rng_next(r) & 1));
	int xr = (int)(rng_next(r) % 16), xm = (int)(rng_next(r) % 16);
	int reg, rm;
	switch (t->form) {
	case X_GPR_RM: reg = xr; rm = mem ? -1 : pick_reg(r); break;
	case X_GPR_REG: reg = pick_reg(r); rm = mem ? -1 : xm; break;
	case X_SHIFT: reg = t->digit; rm = xm; break;
	default: reg = xr; rm = mem ? -1 : xm; break;
	}
	encode(o, r, t, size, reg, rm, t->op, t->oplen);
	/* disp8 of an aligned operand: a multiple of 16, but one time in 16 anything (#GP). */
	if (rm < 0 && (t->mem & M_ALIGNED) && (rng_next(r) % 16) && o->n > 0)
		o->p[o->n - 1] = (uint8_t)(16 * (rng_next(r) % 7));
	put_imm(o, rng_next(r), imm_bytes(t, size));
}

static void gen_special(struct out *o, struct rng *r, const struct tmpl *t, int size)
{
	uint8_t op[2] = { t->op[0], t->op[1] };
	int cc = rng_next(r) % 16;
	switch (t->special) {
	case SP_SETCC:
		op[1] += cc;
		encode(o, r, t, 1, 0, (rng_next(r) & 1) ? -1 : pick_reg(r), op, 2);
		break;
	case SP_CMOV:
		op[1] += cc;
		encode(o, r, t, size, pick_reg(r), (rng_next(r) & 1) ? -1 : pick_reg(r), op, 2);
		break;
	case SP_JCC: {
		/* Jump over the next instruction, whatever it is. */
		uint8_t next[24];
		struct out n = { next, 0, sizeof(next) };
		const struct tmpl *t2;
		do
			t2 = &tmpls[rng_next(r) % n_tmpls];
		while (t2->special || t2->consumes || t2->undef);
		gen_one(&n, r, t2, pick_size(r, t2->sizes));
		put(o, 0x70 + cc);
		put(o, n.n);
		for (int i = 0; i < n.n; i++)
			put(o, next[i]);
		break;
	}
	case SP_PUSHPOP: {
		int a = pick_reg(r), b = pick_reg(r);
		if (size == 2)
			put(o, 0x66);
		if (a >= 8)
			put(o, 0x41);
		put(o, 0x50 + (a & 7));
		if (size == 2)
			put(o, 0x66);
		if (b >= 8)
			put(o, 0x41);
		put(o, 0x58 + (b & 7));
		break;
	}
	case SP_STRING: {
		/* lea rsi/rdi into the middle of the scratch buffer; ecx small; cld or std. */
		uint8_t set[] = { 0x49, 0x8d, 0x77, 64 + rng_next(r) % 64,      /* lea rsi,[r15+d] */
				  0x49, 0x8d, 0x7f, 64 + rng_next(r) % 64,      /* lea rdi,[r15+d] */
				  0xb9, rng_next(r) % 9, 0, 0, 0,                 /* mov ecx, n */
				  (rng_next(r) & 1) ? 0xfd : 0xfc };              /* std / cld */
		for (unsigned i = 0; i < sizeof(set); i++)
			put(o, set[i]);
		int rep = rng_next(r) % 3;
		if (size == 2)
			put(o, 0x66);
		if (rep)
			put(o, rep == 1 ? 0xf3 : 0xf2);
		if (size == 8)
			put(o, 0x48);
		put(o, t->op[0]);
		put(o, 0xfc);                                          /* cld again */
		break;
	}
	}
}

static void gen_one(struct out *o, struct rng *r, const struct tmpl *t, int size)
{
	switch (t->form) {
	case RM_REG:
	case RM_DIGIT:
		gen_modrm(o, r, t, size);
		break;
	case REG_IN_OP: {
		int g = pick_reg(r);
		uint8_t op[2] = { t->op[0], t->op[1] };
		op[t->oplen - 1] += g & 7;
		if (size == 2)
			put(o, 0x66);
		if (size == 8 || g >= 8)
			put(o, 0x40 | (size == 8 ? 8 : 0) | (g >= 8 ? 1 : 0));
		for (int i = 0; i < t->oplen; i++)
			put(o, op[i]);
		put_imm(o, rng_next(r), imm_bytes(t, size));
		break;
	}
	case NO_OPERAND:
		if (size == 2)
			put(o, 0x66);
		if (size == 8)
			put(o, 0x48);
		put(o, t->op[0]);
		break;
	case SPECIAL:
		gen_special(o, r, t, size);
		break;
	default:
		gen_sse(o, r, t, size);
		break;
	}
}

/*
 * Now and then the sequence becomes the body of a loop that runs it 1-4
 * times, counting in the scratch byte at 240, beyond what the body's
 * operands (disp8 up to 111) and string instructions (up to 191) reach.
 * The SUB that counts defines every flag, so the next pass starts with
 * no undefined ones.
 */
static const uint8_t loop_head[] = { 0x41, 0xc6, 0x87, 240, 0, 0, 0 };     /* mov byte [r15+240], imm8 */
static const uint8_t loop_count[] = { 0x41, 0x80, 0xaf, 240, 0, 0, 0, 1 }; /* sub byte [r15+240], 1 */

void gen_sequence(struct rng *r, struct seq *s, int max_insns)
{
	init_tmpls();
	memset(s, 0, sizeof(*s));
	int want = 1 + rng_next(r) % max_insns;
	struct out o = { s->bytes, 0, GEN_MAX_BYTES - 24 };
	int body = 0;
	s->loop = rng_next(r) % 4 == 0;
	if (s->loop) {
		for (unsigned i = 0; i < sizeof(loop_head); i++)
			put(&o, loop_head[i]);
		put(&o, (uint8_t)(1 + rng_next(r) % 4));
		body = o.n;
		o.max -= (int)sizeof(loop_count) + 2;
	}
	for (int i = 0; i < want && i < 8 && o.n < o.max - 24; i++) {
		const struct tmpl *t;
		/* An instruction that reads flags comes only while they are all defined. */
		do
			t = &tmpls[rng_next(r) % n_tmpls];
		while (t->consumes && s->undef_flags);
		gen_one(&o, r, t, pick_size(r, t->sizes));
		s->undef_flags |= t->undef;
		s->names[s->n++] = t->name;
	}
	if (s->loop) {
		o.max += (int)sizeof(loop_count) + 2;
		for (unsigned i = 0; i < sizeof(loop_count); i++)
			put(&o, loop_count[i]);
		put(&o, 0x75);                                  /* jnz body */
		put(&o, (uint8_t)(body - (o.n + 1)));
	}
	s->len = o.n;
}

void gen_list(FILE *out)
{
	init_tmpls();
	const char *last = "";
	for (int i = 0; i < n_tmpls; i++) {
		if (!strcmp(last, tmpls[i].name))
			continue;
		last = tmpls[i].name;
		fprintf(out, "%s%s", i ? ", " : "", last);
	}
	fputc('\n', out);
}
