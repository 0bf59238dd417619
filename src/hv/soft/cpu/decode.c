/*
 * The instruction decoder: prefixes, opcode tables, ModRM/SIB,
 * displacement and immediate. Each table entry combines operand-kind
 * flags with the handler; opcodes that ModRM.reg extends point to a
 * group table. Everything the decoder resolves here is done once per
 * instruction: the result is cached with its block (exec.c).
 */
#include "internal.h"
#include "insns.h"

/* Operand-kind flags of a table entry. */
#define M     (1u << 0)         /* ModRM follows */
#define B     (1u << 1)         /* byte operation */
#define I8    (1u << 2)         /* imm8, sign-extended */
#define IZ    (1u << 3)         /* imm16/32 by operand size, sign-extended */
#define IV    (1u << 4)         /* imm16/32/64 by operand size */
#define I16   (1u << 5)         /* imm16 */
#define AP    (1u << 6)         /* far pointer: offset then selector */
#define MO    (1u << 7)         /* memory offset of address size */
#define D64   (1u << 8)         /* 64-bit operand by default in 64-bit mode */
#define F64   (1u << 9)         /* always 64-bit operand in 64-bit mode */
#define I64   (1u << 10)        /* invalid in 64-bit mode */
#define END   (1u << 11)        /* ends a decoded block (may branch or change mode) */
#define LK    (1u << 12)        /* LOCK allowed with a memory destination */
#define RR    (1u << 13)        /* ModRM r/m is always a register (MOV CR/DR) */
#define OR    (1u << 14)        /* register in the low 3 opcode bits */
#define ENT   (1u << 15)        /* ENTER: imm16 then imm8 */
#define GRP   (1u << 16)        /* group: ModRM.reg indexes group table (bits 24+) */
#define IMM_ANY (I8 | IZ | IV | I16 | AP | MO | ENT)
#define G(n)  (GRP | M | ((uint32_t)(n) << 24))

struct opcode {
	insn_fn *fn;
	uint32_t f;
};

enum { G1, G1A, G2, G3B, G3V, G4, G5, G6, G7, G8, G9, G11, G15, NGROUPS };

#define ALU(n) \
	[n + 0] = { op_alu_rm_r, M | B | LK }, [n + 1] = { op_alu_rm_r, M | LK }, \
	[n + 2] = { op_alu_r_rm, M | B }, [n + 3] = { op_alu_r_rm, M }, \
	[n + 4] = { op_alu_acc_imm, B | I8 }, [n + 5] = { op_alu_acc_imm, IZ }
#define X8(n, e) [n] = e, [n + 1] = e, [n + 2] = e, [n + 3] = e, \
	[n + 4] = e, [n + 5] = e, [n + 6] = e, [n + 7] = e
#define X16(n, e) X8(n, e), X8(n + 8, e)

static const struct opcode one_byte[256] = {
	ALU(0x00), ALU(0x08), ALU(0x10), ALU(0x18), ALU(0x20), ALU(0x28), ALU(0x30), ALU(0x38),
	[0x06] = { op_push_sreg, I64 }, [0x07] = { op_pop_sreg, I64 | END },
	[0x0e] = { op_push_sreg, I64 },
	[0x16] = { op_push_sreg, I64 }, [0x17] = { op_pop_sreg, I64 | END },
	[0x1e] = { op_push_sreg, I64 }, [0x1f] = { op_pop_sreg, I64 | END },
	[0x27] = { op_daa, I64 }, [0x2f] = { op_das, I64 },
	[0x37] = { op_aaa, I64 }, [0x3f] = { op_aas, I64 },
	X8(0x40, ((struct opcode){ op_inc_r, OR })), X8(0x48, ((struct opcode){ op_dec_r, OR })),
	X8(0x50, ((struct opcode){ op_push_r, OR | D64 })), X8(0x58, ((struct opcode){ op_pop_r, OR | D64 })),
	[0x60] = { op_pusha, I64 }, [0x61] = { op_popa, I64 },
	[0x63] = { op_movsxd, M },
	[0x68] = { op_push_imm, IZ | D64 }, [0x69] = { op_imul_r_rm_imm, M | IZ },
	[0x6a] = { op_push_imm, I8 | D64 }, [0x6b] = { op_imul_r_rm_imm, M | I8 },
	[0x6c] = { op_ins, B }, [0x6d] = { op_ins, 0 }, [0x6e] = { op_outs, B }, [0x6f] = { op_outs, 0 },
	X16(0x70, ((struct opcode){ op_jcc, I8 | F64 | END })),
	[0x62] = { op_bound, M | I64 },
	[0x80] = { NULL, G(G1) | B | I8 }, [0x81] = { NULL, G(G1) | IZ },
	[0x82] = { NULL, G(G1) | B | I8 | I64 }, [0x83] = { NULL, G(G1) | I8 },
	[0x84] = { op_test_rm_r, M | B }, [0x85] = { op_test_rm_r, M },
	[0x86] = { op_xchg_rm, M | B | LK }, [0x87] = { op_xchg_rm, M | LK },
	[0x88] = { op_mov_rm_r, M | B }, [0x89] = { op_mov_rm_r, M },
	[0x8a] = { op_mov_r_rm, M | B }, [0x8b] = { op_mov_r_rm, M },
	[0x8c] = { op_mov_rm_sreg, M }, [0x8d] = { op_lea, M },
	[0x8e] = { op_mov_sreg_rm, M | END }, [0x8f] = { NULL, G(G1A) | D64 },
	X8(0x90, ((struct opcode){ op_xchg_r, OR })),
	[0x98] = { op_cbw, 0 }, [0x99] = { op_cwd, 0 },
	[0x9a] = { op_call_far, AP | I64 | END }, [0x9b] = { op_fwait, 0 },
	[0x9c] = { op_pushf, D64 }, [0x9d] = { op_popf, D64 | END },
	[0x9e] = { op_sahf, 0 }, [0x9f] = { op_lahf, 0 },
	[0xa0] = { op_mov_moffs, B | MO }, [0xa1] = { op_mov_moffs, MO },
	[0xa2] = { op_mov_moffs, B | MO }, [0xa3] = { op_mov_moffs, MO },
	[0xa4] = { op_movs, B }, [0xa5] = { op_movs, 0 }, [0xa6] = { op_cmps, B }, [0xa7] = { op_cmps, 0 },
	[0xa8] = { op_test_acc_imm, B | I8 }, [0xa9] = { op_test_acc_imm, IZ },
	[0xaa] = { op_stos, B }, [0xab] = { op_stos, 0 }, [0xac] = { op_lods, B }, [0xad] = { op_lods, 0 },
	[0xae] = { op_scas, B }, [0xaf] = { op_scas, 0 },
	X8(0xb0, ((struct opcode){ op_mov_r_imm, OR | B | I8 })),
	X8(0xb8, ((struct opcode){ op_mov_r_imm, OR | IV })),
	[0xc0] = { NULL, G(G2) | B | I8 }, [0xc1] = { NULL, G(G2) | I8 },
	[0xc2] = { op_ret, I16 | F64 | END }, [0xc3] = { op_ret, F64 | END },
	[0xc4] = { op_lfar, M | I64 }, [0xc5] = { op_lfar, M | I64 },
	[0xc6] = { NULL, G(G11) | B | I8 }, [0xc7] = { NULL, G(G11) | IZ },
	[0xc8] = { op_enter, ENT | D64 }, [0xc9] = { op_leave, D64 },
	[0xca] = { op_retf, I16 | END }, [0xcb] = { op_retf, END },
	[0xcc] = { op_int3, END }, [0xcd] = { op_int, I8 | END },
	[0xce] = { op_into, I64 | END }, [0xcf] = { op_iret, END },
	[0xd0] = { NULL, G(G2) | B }, [0xd1] = { NULL, G(G2) },
	[0xd2] = { NULL, G(G2) | B }, [0xd3] = { NULL, G(G2) },
	[0xd4] = { op_aam, I8 | I64 }, [0xd5] = { op_aad, I8 | I64 }, [0xd6] = { op_salc, I64 },
	[0xd7] = { op_xlat, 0 },
	X8(0xd8, ((struct opcode){ op_fpu, M })),
	[0xe0] = { op_loop, I8 | F64 | END }, [0xe1] = { op_loop, I8 | F64 | END },
	[0xe2] = { op_loop, I8 | F64 | END }, [0xe3] = { op_jcxz, I8 | F64 | END },
	[0xe4] = { op_in, B | I8 }, [0xe5] = { op_in, I8 }, [0xe6] = { op_out, B | I8 }, [0xe7] = { op_out, I8 },
	[0xe8] = { op_call_rel, IZ | F64 | END }, [0xe9] = { op_jmp_rel, IZ | F64 | END },
	[0xea] = { op_jmp_far, AP | I64 | END }, [0xeb] = { op_jmp_rel, I8 | F64 | END },
	[0xec] = { op_in, B }, [0xed] = { op_in, 0 }, [0xee] = { op_out, B }, [0xef] = { op_out, 0 },
	[0xf1] = { op_int1, END }, [0xf4] = { op_hlt, END }, [0xf5] = { op_cmc, 0 },
	[0xf6] = { NULL, G(G3B) | B }, [0xf7] = { NULL, G(G3V) },
	[0xf8] = { op_clc, 0 }, [0xf9] = { op_stc, 0 }, [0xfa] = { op_cli, 0 }, [0xfb] = { op_sti, END },
	[0xfc] = { op_cld, 0 }, [0xfd] = { op_std, 0 },
	[0xfe] = { NULL, G(G4) | B }, [0xff] = { NULL, G(G5) },
};

static const struct opcode two_byte[256] = {
	[0x00] = { NULL, G(G6) }, [0x01] = { NULL, G(G7) },
	[0x02] = { op_lar, M }, [0x03] = { op_lsl, M },
	[0x05] = { op_syscall, END }, [0x06] = { op_clts, 0 }, [0x07] = { op_sysret, END },
	[0x08] = { op_invd, 0 }, [0x09] = { op_invd, 0 }, [0x0b] = { op_ud, 0 },
	[0x0d] = { op_nop, M },
	X8(0x10, ((struct opcode){ op_sse, M })),
	X8(0x18, ((struct opcode){ op_nop, M })),
	[0x20] = { op_mov_r_cr, M | RR | F64 }, [0x21] = { op_mov_r_dr, M | RR | F64 },
	[0x22] = { op_mov_cr_r, M | RR | F64 | END }, [0x23] = { op_mov_dr_r, M | RR | F64 | END },
	X8(0x28, ((struct opcode){ op_sse, M })),
	[0x30] = { op_wrmsr, END }, [0x31] = { op_rdtsc, 0 }, [0x32] = { op_rdmsr, 0 },
	[0x33] = { op_rdpmc, 0 },
	[0x34] = { op_sysenter, END }, [0x35] = { op_sysexit, END },
	X16(0x40, ((struct opcode){ op_cmovcc, M })),
	X16(0x50, ((struct opcode){ op_sse, M })),
	X16(0x60, ((struct opcode){ op_sse, M })),
	[0x70] = { op_sse, M | I8 }, [0x71] = { op_sse, M | I8 }, [0x72] = { op_sse, M | I8 },
	[0x73] = { op_sse, M | I8 }, [0x74] = { op_sse, M }, [0x75] = { op_sse, M },
	[0x76] = { op_sse, M }, [0x77] = { op_sse, 0 },
	X8(0x78, ((struct opcode){ op_sse, M })),
	X16(0x80, ((struct opcode){ op_jcc, IZ | F64 | END })),
	X16(0x90, ((struct opcode){ op_setcc, M | B })),
	[0xa0] = { op_push_sreg, D64 }, [0xa1] = { op_pop_sreg, D64 | END },
	[0xa2] = { op_cpuid, 0 }, [0xa3] = { op_bt_rm_r, M },
	[0xa4] = { op_shld, M | I8 }, [0xa5] = { op_shld, M },
	[0xa8] = { op_push_sreg, D64 }, [0xa9] = { op_pop_sreg, D64 | END },
	[0xab] = { op_bt_rm_r, M | LK },
	[0xac] = { op_shrd, M | I8 }, [0xad] = { op_shrd, M },
	[0xae] = { NULL, G(G15) }, [0xaf] = { op_imul_r_rm, M },
	[0xb0] = { op_cmpxchg, M | B | LK }, [0xb1] = { op_cmpxchg, M | LK },
	[0xb2] = { op_lfar, M }, [0xb3] = { op_bt_rm_r, M | LK },
	[0xb4] = { op_lfar, M }, [0xb5] = { op_lfar, M },
	[0xb6] = { op_movzx, M }, [0xb7] = { op_movzx, M },
	[0xb8] = { op_popcnt, M }, [0xb9] = { op_ud, M },
	[0xba] = { NULL, G(G8) | I8 }, [0xbb] = { op_bt_rm_r, M | LK },
	[0xbc] = { op_bsf, M }, [0xbd] = { op_bsr, M },
	[0xbe] = { op_movsx, M }, [0xbf] = { op_movsx, M },
	[0xc0] = { op_xadd, M | B | LK }, [0xc1] = { op_xadd, M | LK },
	[0xc2] = { op_sse, M | I8 }, [0xc3] = { op_sse, M }, [0xc4] = { op_sse, M | I8 },
	[0xc5] = { op_sse, M | I8 }, [0xc6] = { op_sse, M | I8 },
	[0xc7] = { NULL, G(G9) },
	X8(0xc8, ((struct opcode){ op_bswap, OR })),
	X16(0xd0, ((struct opcode){ op_sse, M })),
	X16(0xe0, ((struct opcode){ op_sse, M })),
	X16(0xf0, ((struct opcode){ op_sse, M })),
};

/* Group tables: entries add their flags to the opcode's. */
static const struct opcode groups[NGROUPS][8] = {
	[G1] = { X8(0, ((struct opcode){ op_alu_rm_imm, LK })) },
	[G1A] = { [0] = { op_pop_rm, 0 } },
	[G2] = { X8(0, ((struct opcode){ op_shift, 0 })) },
#define GROUP3(imm) { [0] = { op_test_rm_imm, imm }, [1] = { op_test_rm_imm, imm }, \
		 [2] = { op_not, LK }, [3] = { op_neg, LK }, \
		 [4] = { op_mul, 0 }, [5] = { op_imul1, 0 }, [6] = { op_div, 0 }, [7] = { op_idiv, 0 } }
	[G3B] = GROUP3(I8),
	[G3V] = GROUP3(IZ),
	[G4] = { [0] = { op_inc_rm, LK }, [1] = { op_dec_rm, LK } },
	[G5] = { [0] = { op_inc_rm, LK }, [1] = { op_dec_rm, LK },
		 [2] = { op_call_rm, F64 | END }, [3] = { op_call_far_m, END },
		 [4] = { op_jmp_rm, F64 | END }, [5] = { op_jmp_far_m, END },
		 [6] = { op_push_rm, D64 } },
	[G6] = { X8(0, ((struct opcode){ op_grp6, END })) },
	[G7] = { X8(0, ((struct opcode){ op_grp7, END })) },
	[G8] = { [4] = { op_bt_imm, 0 }, [5] = { op_bt_imm, LK }, [6] = { op_bt_imm, LK }, [7] = { op_bt_imm, LK } },
	[G9] = { X8(0, ((struct opcode){ op_grp9, LK })) },
	[G11] = { [0] = { op_mov_rm_imm, 0 } },
	/* 0F AE: FXSAVE, FXRSTOR, LDMXCSR, STMXCSR (sse.c); the register forms and /4-/7 in op_grp15 */
	[G15] = { { op_fxsave, 0 }, { op_fxrstor, 0 }, { op_ldmxcsr, 0 }, { op_stmxcsr, 0 },
		  { op_grp15, 0 }, { op_grp15, 0 }, { op_grp15, 0 }, { op_grp15, 0 } },
};

struct dstate {
	const uint8_t *b;
	int n, avail;
};

/* Returns 0 when the bytes run out (the caller supplies more and retries). */
static int take(struct dstate *d, int len, uint64_t *v)
{
	if (d->n + len > d->avail)
		return 0;
	uint64_t x = 0;
	for (int i = 0; i < len; i++)
		x |= (uint64_t)d->b[d->n + i] << (8 * i);
	d->n += len;
	*v = x;
	return 1;
}

static uint8_t byte_reg(int r, int rex)
{
	return (!rex && r >= 4 && r < 8) ? (uint8_t)(16 + r - 4) : (uint8_t)r;
}

/* 16-bit ModRM addressing: base/index pairs of r/m 0-7. */
static const uint8_t modrm16_base[8] = { R_BX, R_BX, R_BP, R_BP, R_SI, R_DI, R_BP, R_BX };
static const uint8_t modrm16_index[8] = { R_SI, R_DI, R_SI, R_DI, NOREG, NOREG, NOREG, NOREG };

static int decode_modrm16(struct dstate *d, struct insn *in, int rm)
{
	uint64_t v;
	in->base = modrm16_base[rm];
	in->index = modrm16_index[rm];
	if (in->mod == 0 && rm == 6) {
		in->base = NOREG;
		if (!take(d, 2, &v))
			return 0;
		in->disp = (int16_t)v;
	} else if (in->mod == 1) {
		if (!take(d, 1, &v))
			return 0;
		in->disp = (int8_t)v;
	} else if (in->mod == 2) {
		if (!take(d, 2, &v))
			return 0;
		in->disp = (int16_t)v;
	}
	if (in->base == R_BP)
		in->seg = S_SS;
	return 1;
}

static int decode_modrm32(struct dstate *d, struct insn *in, int rm, int rex, int code_size)
{
	uint64_t v;
	int base = rm;
	if (rm == 4) {
		if (!take(d, 1, &v))
			return 0;
		int sib = (int)v;
		int idx = ((sib >> 3) & 7) | ((rex & 2) << 2);
		in->scale = (uint8_t)(sib >> 6);
		in->index = idx == 4 ? NOREG : (uint8_t)idx;
		base = sib & 7;
		if (base == 5 && in->mod == 0) {
			in->base = NOREG;
			if (!take(d, 4, &v))
				return 0;
			in->disp = (int32_t)v;
			return 1;
		}
	} else if (rm == 5 && in->mod == 0) {
		in->base = NOREG;
		if (!take(d, 4, &v))
			return 0;
		in->disp = (int32_t)v;
		if (code_size == 8)
			in->pfx |= PFX_RIPREL;
		return 1;
	}
	in->base = (uint8_t)(base | ((rex & 1) << 3));
	if (base == R_SP || base == R_BP)
		in->seg = S_SS;
	if (in->mod == 1) {
		if (!take(d, 1, &v))
			return 0;
		in->disp = (int8_t)v;
	} else if (in->mod == 2) {
		if (!take(d, 4, &v))
			return 0;
		in->disp = (int32_t)v;
	}
	return 1;
}

static int decode_imm(struct dstate *d, struct insn *in, uint32_t f)
{
	uint64_t v, s;
	int osz = in->opsize;
	if (f & I8) {
		if (!take(d, 1, &v))
			return 0;
		in->imm = (uint64_t)(int64_t)(int8_t)v;
	} else if (f & IZ) {
		int n = osz == 2 ? 2 : 4;
		if (!take(d, n, &v))
			return 0;
		in->imm = sign_extend(v, n);
	} else if (f & IV) {
		if (!take(d, osz, &v))
			return 0;
		in->imm = v;
	} else if (f & I16) {
		if (!take(d, 2, &v))
			return 0;
		in->imm = v;
	} else if (f & ENT) {
		if (!take(d, 2, &v) || !take(d, 1, &s))
			return 0;
		in->imm = v;
		in->imm2 = (uint16_t)s;
	} else if (f & AP) {
		if (!take(d, osz == 2 ? 2 : 4, &v) || !take(d, 2, &s))
			return 0;
		in->imm = v;
		in->imm2 = (uint16_t)s;
	} else if (f & MO) {
		if (!take(d, in->adsize, &v))
			return 0;
		in->imm = v;
	}
	return 1;
}

/* The family selectors of specialized handlers (insns.h), asked in turn. */
static insn_select_fn *const selectors[] = {
	alu_select, shift_select, muldiv_select, data_select, control_select, bitops_select,
};

static insn_fn *specialize(struct insn *in, insn_fn *fn, int code_size)
{
	for (size_t i = 0; i < sizeof(selectors) / sizeof(selectors[0]); i++) {
		insn_fn *f = selectors[i](in, fn, code_size);
		if (f)
			return f;
	}
	return fn;
}

/*
 * Decodes one instruction of at most avail bytes for a code segment of
 * code_size (2, 4 or 8). Returns its length, -1 when avail bytes are not
 * enough, or -vector for #UD / #GP (too long).
 */
static int decode_one(const uint8_t *bytes, int avail, int code_size, struct insn *in, int *ends_block)
{
	struct dstate d = { bytes, 0, avail < 15 ? avail : 15 };
	int opsz = 0, adsz = 0, rex = 0, seg = -1;
	uint64_t v;

	memset(in, 0, sizeof(*in));
	in->base = in->index = NOREG;
	in->seg = S_DS;
	for (;;) {
		if (!take(&d, 1, &v))
			return -1;
		uint8_t p = (uint8_t)v;
		if (code_size == 8 && (p & 0xf0) == 0x40) {
			rex = p;
			continue;
		}
		if (p == 0x66)
			opsz = 1;
		else if (p == 0x67)
			adsz = 1;
		else if (p == 0xf0)
			in->pfx |= PFX_LOCK;
		else if (p == 0xf2 || p == 0xf3)
			in->rep = p;
		else if (p == 0x26 || p == 0x2e || p == 0x36 || p == 0x3e)
			seg = (p >> 3) & 3;
		else if (p == 0x64 || p == 0x65)
			seg = p - 0x64 + S_FS;
		else {
			d.n--;
			break;
		}
		rex = 0;        /* a REX prefix counts only right before the opcode */
	}
	if (rex)
		in->pfx |= PFX_REX | ((rex & 8) ? PFX_REXW : 0);
	if (opsz)
		in->pfx |= PFX_OPSZ;

	const struct opcode *o;
	take(&d, 1, &v);
	uint8_t op = (uint8_t)v;
	if (op == 0x0f) {
		if (!take(&d, 1, &v))
			return -1;
		op = (uint8_t)v;
		if (op == 0x38 || op == 0x3a) {
			/* Three-byte maps: only MOVBE (0F 38 F0/F1) for now. */
			if (!take(&d, 1, &v))
				return -1;
			if (op == 0x38 && (v == 0xf0 || v == 0xf1) && in->rep != 0xf2) {
				static const struct opcode movbe = { op_movbe, M };
				o = &movbe;
				op = (uint8_t)v;
			} else {
				return -EX_UD;
			}
		} else {
			o = &two_byte[op];
		}
	} else {
		o = &one_byte[op];
	}
	in->op = op;
	uint32_t f = o->f;
	insn_fn *fn = o->fn;

	/* Operand and address size. */
	if (code_size == 8) {
		in->adsize = adsz ? 4 : 8;
		if (rex & 8)
			in->opsize = 8;
		else if (f & F64)
			in->opsize = 8;
		else if (f & D64)
			in->opsize = opsz ? 2 : 8;
		else
			in->opsize = opsz ? 2 : 4;
	} else {
		in->adsize = (code_size == 4) ^ adsz ? 4 : 2;
		in->opsize = (code_size == 4) ^ opsz ? 4 : 2;
	}

	if (f & M) {
		if (!take(&d, 1, &v))
			return -1;
		int modrm = (int)v;
		in->mod = (uint8_t)(modrm >> 6);
		int reg = ((modrm >> 3) & 7) | ((rex & 4) << 1);
		int rm = modrm & 7;
		if (f & GRP) {
			const struct opcode *g = &groups[f >> 24][(modrm >> 3) & 7];
			f |= g->f;
			fn = g->fn;
			if (code_size == 8 && (f & (D64 | F64)) && !(rex & 8))
				in->opsize = (f & F64) || !opsz ? 8 : 2;
		}
		/* In a group, ModRM.reg is an opcode extension, never a byte register. */
		if ((f & B) && !(f & GRP))
			in->reg = byte_reg(reg, rex);
		else
			in->reg = (uint8_t)reg;
		if (f & RR)
			in->mod = 3;
		if (in->mod == 3) {
			int r = rm | ((rex & 1) << 3);
			in->rm = (f & B) ? byte_reg(r, rex) : (uint8_t)r;
		} else if (in->adsize == 2) {
			if (!decode_modrm16(&d, in, rm))
				return -1;
		} else {
			if (!decode_modrm32(&d, in, rm, rex, code_size))
				return -1;
		}
	} else if (f & OR) {
		int r = (op & 7) | ((rex & 1) << 3);
		in->rm = (f & B) ? byte_reg(r, rex) : (uint8_t)r;
		in->mod = 3;
	}
	if (f & B)
		in->opsize = 1;
	if (!fn)
		return d.n + 1 > 15 ? -EX_GP : -EX_UD;
	if ((f & I64) && code_size == 8)
		return -EX_UD;
	if (!decode_imm(&d, in, f))
		return -1;
	if (d.n > 15)
		return -EX_GP;
	if ((in->pfx & PFX_LOCK) && (!(f & LK) || in->mod == 3))
		return -EX_UD;
	if (seg >= 0) {
		in->seg = (uint8_t)seg;
		in->pfx |= PFX_SEGOVR;
	}
	in->len = (uint8_t)d.n;
	in->fn = specialize(in, fn, code_size);
	*ends_block = !!(f & END);
	return d.n;
}

int cpu_decode(const uint8_t *bytes, int avail, int code_size, struct insn *in, int *ends_block)
{
	int r = decode_one(bytes, avail, code_size, in, ends_block);
	/* Out of bytes with 15 available: longer than the architectural limit. */
	if (r == -1 && avail >= 15)
		return -EX_GP;
	return r;
}
