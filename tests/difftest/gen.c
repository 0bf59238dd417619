/*
 * The instruction forms the differential tester covers, and how it encodes
 * random instances of them. Register operands avoid RSP (the stack is
 * shared with the harness) and R15 (the scratch buffer's base); memory
 * operands are [R15 + disp8] inside the scratch buffer.
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

enum form { RM_REG, RM_DIGIT, REG_IN_OP, NO_OPERAND, SPECIAL };
enum imm { I_NONE, I_8, I_Z, I_V };          /* imm8, imm16/32, imm16/32/64 */
enum mem { M_ANY, M_NEVER, M_ALWAYS };
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

static struct tmpl tmpls[256];
static int n_tmpls;

static void add(struct tmpl t)
{
	if (n_tmpls < (int)(sizeof(tmpls) / sizeof(tmpls[0])))
		tmpls[n_tmpls++] = t;
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
	}
}

void gen_sequence(struct rng *r, struct seq *s, int max_insns)
{
	init_tmpls();
	memset(s, 0, sizeof(*s));
	int want = 1 + rng_next(r) % max_insns;
	struct out o = { s->bytes, 0, GEN_MAX_BYTES - 24 };
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
