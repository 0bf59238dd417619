/*
 * Data movement and the stack: MOV in its forms, MOVZX/MOVSX/MOVSXD,
 * LEA, XCHG, CMPXCHG(8B/16B), XADD, PUSH/POP (and of segment registers,
 * all registers, flags), ENTER/LEAVE, the sign extensions, SETcc/CMOVcc,
 * the flag instructions, XLAT, far-pointer loads and MOVBE.
 */
#include "internal.h"
#include "insns.h"

void push(struct cpu *c, int size, uint64_t v)
{
	struct stk s;
	stk_init(c, &s);
	stk_push(c, &s, size, v);
	stk_commit(c, &s);
}

uint64_t pop(struct cpu *c, int size)
{
	struct stk s;
	stk_init(c, &s);
	uint64_t v = stk_pop(c, &s, size);
	stk_commit(c, &s);
	return v;
}

/* The byte-register id of the r/m register for instructions whose source alone is a byte. */
static int rm_byte_reg(const struct insn *in)
{
	if (!(in->pfx & PFX_REX) && in->rm >= 4 && in->rm < 8)
		return 16 + in->rm - 4;
	return in->rm;
}

static uint64_t rm_read_src(struct cpu *c, const struct insn *in, int size)
{
	if (in->mod == 3)
		return reg_read(c, size == 1 ? rm_byte_reg(in) : in->rm, size);
	return mem_read(c, in->seg, insn_ea(c, in), size);
}

void op_mov_rm_r(struct cpu *c, const struct insn *in)
{
	rm_write(c, in, in->opsize, reg_read(c, in->reg, in->opsize));
}

void op_mov_r_rm(struct cpu *c, const struct insn *in)
{
	reg_write(c, in->reg, in->opsize, rm_read(c, in, in->opsize));
}

void op_mov_rm_sreg(struct cpu *c, const struct insn *in)
{
	int sreg = in->reg & 7;
	if (sreg > S_GS)
		UD(c);
	uint16_t sel = c->seg[sreg].sel;
	if (in->mod == 3)
		reg_write(c, in->rm, in->opsize == 2 ? 2 : in->opsize, sel);
	else
		mem_write(c, in->seg, insn_ea(c, in), 2, sel);
}

void op_mov_sreg_rm(struct cpu *c, const struct insn *in)
{
	int sreg = in->reg & 7;
	if (sreg > S_GS || sreg == S_CS)
		UD(c);
	load_seg(c, sreg, (uint16_t)rm_read(c, in, 2));
	if (sreg == S_SS)
		c->intr_shadow = 1;
}

void op_mov_r_imm(struct cpu *c, const struct insn *in)
{
	reg_write(c, in->rm, in->opsize, in->imm);
}

void op_mov_rm_imm(struct cpu *c, const struct insn *in)
{
	rm_write(c, in, in->opsize, in->imm);
}

/* A0-A3: MOV between the accumulator and a memory offset */
void op_mov_moffs(struct cpu *c, const struct insn *in)
{
	uint64_t off = in->imm;
	if (in->op & 2)
		mem_write(c, in->seg, off, in->opsize, reg_read(c, R_AX, in->opsize));
	else
		reg_write(c, R_AX, in->opsize, mem_read(c, in->seg, off, in->opsize));
}

void op_movzx(struct cpu *c, const struct insn *in)
{
	int ssize = in->op == 0xb6 ? 1 : 2;
	reg_write(c, in->reg, in->opsize, rm_read_src(c, in, ssize));
}

void op_movsx(struct cpu *c, const struct insn *in)
{
	int ssize = in->op == 0xbe ? 1 : 2;
	reg_write(c, in->reg, in->opsize, sign_extend(rm_read_src(c, in, ssize), ssize));
}

/* 63: MOVSXD in 64-bit mode; ARPL elsewhere, which is not implemented (#UD). */
void op_movsxd(struct cpu *c, const struct insn *in)
{
	if (c->mode != MODE_LONG)
		UD(c);
	uint64_t v = rm_read_src(c, in, 4);
	reg_write(c, in->reg, in->opsize, in->opsize == 8 ? sign_extend(v, 4) : v);
}

void op_lea(struct cpu *c, const struct insn *in)
{
	if (in->mod == 3)
		UD(c);
	reg_write(c, in->reg, in->opsize, insn_ea(c, in));
}

/* 90+r: XCHG with the accumulator; 90 itself is NOP (PAUSE with F3). */
void op_xchg_r(struct cpu *c, const struct insn *in)
{
	if (in->rm == R_AX)
		return;
	uint64_t a = reg_read(c, R_AX, in->opsize), b = reg_read(c, in->rm, in->opsize);
	reg_write(c, R_AX, in->opsize, b);
	reg_write(c, in->rm, in->opsize, a);
}

static uint64_t xchg_rmw(struct cpu *c, int arg, int size, uint64_t dst, uint64_t src)
{
	(void)c; (void)arg; (void)size; (void)dst;
	return src;
}

/* XCHG with memory is always locked. */
void op_xchg_rm(struct cpu *c, const struct insn *in)
{
	uint64_t old = rm_rmw(c, in, in->opsize, xchg_rmw, 0, reg_read(c, in->reg, in->opsize), 1);
	reg_write(c, in->reg, in->opsize, old);
}

static uint64_t cmpxchg_rmw(struct cpu *c, int arg, int size, uint64_t dst, uint64_t src)
{
	(void)arg;
	uint64_t acc = reg_read(c, R_AX, size), m = size_mask(size);
	set_lazy(c, LF_SUB, size, (acc - dst) & m, acc, dst);
	return dst == acc ? src : dst;
}

void op_cmpxchg(struct cpu *c, const struct insn *in)
{
	int size = in->opsize;
	uint64_t acc = reg_read(c, R_AX, size);
	if (in->mod == 3) {
		/* A register destination is written only on success (upper half kept otherwise). */
		uint64_t dst = reg_read(c, in->rm, size);
		uint64_t v = cmpxchg_rmw(c, 0, size, dst, reg_read(c, in->reg, size));
		if (dst == acc)
			reg_write(c, in->rm, size, v);
		else
			reg_write(c, R_AX, size, dst);
		return;
	}
	uint64_t old = rm_rmw(c, in, size, cmpxchg_rmw, 0, reg_read(c, in->reg, size),
			      in->pfx & PFX_LOCK);
	if (old != acc)
		reg_write(c, R_AX, size, old);
}

static int cas128(uint8_t *p, uint64_t *lo, uint64_t *hi, uint64_t nlo, uint64_t nhi)
{
	uint8_t ok;
	__asm__ volatile("lock cmpxchg16b %1\n\tsetz %0"
			 : "=q"(ok), "+m"(*(volatile unsigned __int128 *)p), "+a"(*lo), "+d"(*hi)
			 : "b"(nlo), "c"(nhi)
			 : "memory", "cc");
	return ok;
}

/* 0F C7: CMPXCHG8B/16B (/1); RDRAND, RDSEED are not offered (#UD). */
void op_grp9(struct cpu *c, const struct insn *in)
{
	if ((in->reg & 7) != 1 || in->mod == 3)
		UD(c);
	int wide = in->opsize == 8;
	int half = wide ? 8 : 4;
	uint64_t ea = insn_ea(c, in);
	uint64_t lin = seg_lin(c, in->seg, ea, half * 2, ACC_W);
	if (wide && (lin & 15))
		GP0(c);
	uint64_t elo = reg_read(c, R_AX, half), ehi = reg_read(c, R_DX, half);
	uint64_t nlo = reg_read(c, R_BX, half), nhi = reg_read(c, R_CX, half);
	uint8_t *p = lin_rmw_ptr(c, lin, half * 2, ACC_W);
	uint64_t olo, ohi;
	int eq;
	if (p && wide) {
		olo = elo;
		ohi = ehi;
		eq = cas128(p, &olo, &ohi, nlo, nhi);
	} else if (p && !(lin & 7)) {
		uint64_t exp = elo | ehi << 32, cur = exp;
		eq = __atomic_compare_exchange_n((uint64_t *)p, &cur, nlo | nhi << 32, 0,
						 __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST);
		olo = (uint32_t)cur;
		ohi = cur >> 32;
	} else {
		/* Unaligned or not plain RAM: not atomic against other vCPUs. */
		mmu_translate(c, lin, ACC_W);
		olo = lin_read(c, lin, half, ACC_R);
		ohi = lin_read(c, lin + half, half, ACC_R);
		eq = olo == elo && ohi == ehi;
		lin_write(c, lin, half, eq ? nlo : olo, ACC_W);
		lin_write(c, lin + half, half, eq ? nhi : ohi, ACC_W);
	}
	flags_eager(c);
	c->flags = (c->flags & ~(uint64_t)F_ZF) | (eq ? F_ZF : 0);
	if (!eq) {
		reg_write(c, R_AX, half, olo);
		reg_write(c, R_DX, half, ohi);
	}
}

static uint64_t xadd_rmw(struct cpu *c, int arg, int size, uint64_t dst, uint64_t src)
{
	(void)arg;
	uint64_t m = size_mask(size), r = (dst + src) & m;
	set_lazy(c, LF_ADD, size, r, dst & m, src & m);
	return r;
}

/* TEMP = SRC + DEST; SRC = DEST; DEST = TEMP: with one register for both, the sum wins. */
void op_xadd(struct cpu *c, const struct insn *in)
{
	int size = in->opsize;
	uint64_t src = reg_read(c, in->reg, size);
	if (in->mod == 3) {
		uint64_t dst = reg_read(c, in->rm, size);
		uint64_t sum = xadd_rmw(c, 0, size, dst, src);
		reg_write(c, in->reg, size, dst);
		reg_write(c, in->rm, size, sum);
		return;
	}
	uint64_t old = rm_rmw(c, in, size, xadd_rmw, 0, src, in->pfx & PFX_LOCK);
	reg_write(c, in->reg, size, old);
}

void op_push_r(struct cpu *c, const struct insn *in)
{
	push(c, in->opsize, reg_read(c, in->rm, in->opsize));
}

void op_pop_r(struct cpu *c, const struct insn *in)
{
	uint64_t v = pop(c, in->opsize);
	reg_write(c, in->rm, in->opsize, v);
}

void op_push_imm(struct cpu *c, const struct insn *in)
{
	push(c, in->opsize, in->imm & size_mask(in->opsize));
}

/* 8F /0: the address uses RSP after the pop. */
void op_pop_rm(struct cpu *c, const struct insn *in)
{
	uint64_t old_sp = c->gpr[R_SP];
	uint64_t v = pop(c, in->opsize);
	if (in->mod == 3) {
		reg_write(c, in->rm, in->opsize, v);
		return;
	}
	uint64_t ea = insn_ea(c, in);
	uint64_t new_sp = c->gpr[R_SP];
	c->gpr[R_SP] = old_sp;  /* if the store faults, RSP is as before */
	mem_write(c, in->seg, ea, in->opsize, v);
	c->gpr[R_SP] = new_sp;
}

void op_push_rm(struct cpu *c, const struct insn *in)
{
	push(c, in->opsize, rm_read(c, in, in->opsize));
}

static int sreg_of(const struct insn *in, int two_byte)
{
	if (two_byte)
		return in->op == 0xa0 || in->op == 0xa1 ? S_FS : S_GS;
	return (in->op >> 3) & 3;
}

static int is_two_byte_sreg(const struct insn *in)
{
	return in->op >= 0xa0 && in->op <= 0xa9;
}

void op_push_sreg(struct cpu *c, const struct insn *in)
{
	push(c, in->opsize, c->seg[sreg_of(in, is_two_byte_sreg(in))].sel);
}

void op_pop_sreg(struct cpu *c, const struct insn *in)
{
	int sreg = sreg_of(in, is_two_byte_sreg(in));
	struct stk s;
	stk_init(c, &s);
	uint16_t sel = (uint16_t)stk_pop(c, &s, in->opsize);
	load_seg(c, sreg, sel);
	stk_commit(c, &s);
	if (sreg == S_SS)
		c->intr_shadow = 1;
}

void op_pusha(struct cpu *c, const struct insn *in)
{
	struct stk s;
	uint64_t sp = c->gpr[R_SP];
	stk_init(c, &s);
	for (int r = R_AX; r <= R_DI; r++)
		stk_push(c, &s, in->opsize, r == R_SP ? sp : c->gpr[r]);
	stk_commit(c, &s);
}

void op_popa(struct cpu *c, const struct insn *in)
{
	struct stk s;
	uint64_t v[8];
	stk_init(c, &s);
	for (int r = R_DI; r >= R_AX; r--)
		v[r] = stk_pop(c, &s, in->opsize);
	for (int r = R_AX; r <= R_DI; r++)
		if (r != R_SP)
			reg_write(c, r, in->opsize, v[r]);
	stk_commit(c, &s);
}

void op_pushf(struct cpu *c, const struct insn *in)
{
	if (c->mode == MODE_VM86 && cpu_iopl(c) < 3)
		GP0(c);
	push(c, in->opsize, cpu_get_rflags(c) & ~(uint64_t)(F_VM | F_RF));
}

void op_popf(struct cpu *c, const struct insn *in)
{
	if (c->mode == MODE_VM86 && cpu_iopl(c) < 3)
		GP0(c);
	uint64_t v = pop(c, in->opsize);
	uint64_t m = popf_mask(c, in->opsize) & ~(uint64_t)F_RF;
	cpu_set_rflags(c, (cpu_get_rflags(c) & ~m) | (v & m));
}

void op_enter(struct cpu *c, const struct insn *in)
{
	int size = in->opsize, level = in->imm2 & 31;
	struct stk s;
	stk_init(c, &s);
	stk_push(c, &s, size, reg_read(c, R_BP, size));
	uint64_t frame = s.sp;
	if (level > 0) {
		uint64_t bp = c->gpr[R_BP];
		for (int i = 1; i < level; i++) {
			bp = (bp & ~s.mask) | ((bp - (uint64_t)size) & s.mask);
			uint64_t lin = c->sbase[S_SS] + (bp & s.mask);
			stk_push(c, &s, size, lin_read(c, c->mode == MODE_LONG ? lin : (uint32_t)lin, size, ACC_R));
		}
		stk_push(c, &s, size, frame);
	}
	s.sp = (s.sp & ~s.mask) | ((s.sp - (uint16_t)in->imm) & s.mask);
	/* The hardware checks that the new stack bottom is writable. */
	uint64_t bottom = c->sbase[S_SS] + (s.sp & s.mask);
	if (c->cr0 & CR0_PG)
		mmu_translate(c, c->mode == MODE_LONG ? bottom : (uint32_t)bottom, ACC_W);
	stk_commit(c, &s);
	reg_write(c, R_BP, size, frame & s.mask);
}

void op_leave(struct cpu *c, const struct insn *in)
{
	struct stk s;
	stk_init(c, &s);
	s.sp = (s.sp & ~s.mask) | (c->gpr[R_BP] & s.mask);
	uint64_t v = stk_pop(c, &s, in->opsize);
	stk_commit(c, &s);
	reg_write(c, R_BP, in->opsize, v);
}

void op_cbw(struct cpu *c, const struct insn *in)
{
	int half = in->opsize / 2;
	reg_write(c, R_AX, in->opsize, sign_extend(reg_read(c, R_AX, half), half));
}

void op_cwd(struct cpu *c, const struct insn *in)
{
	uint64_t a = reg_read(c, R_AX, in->opsize);
	int neg = (a >> (in->opsize * 8 - 1)) & 1;
	reg_write(c, R_DX, in->opsize, neg ? ~0ULL : 0);
}

void op_setcc(struct cpu *c, const struct insn *in)
{
	rm_write(c, in, 1, (uint64_t)cond_true(c, in->op & 15));
}

void op_cmovcc(struct cpu *c, const struct insn *in)
{
	uint64_t v = rm_read(c, in, in->opsize);
	if (cond_true(c, in->op & 15))
		reg_write(c, in->reg, in->opsize, v);
	else if (in->opsize == 4)
		reg_write(c, in->reg, 4, reg_read(c, in->reg, 4));  /* zero-extends even when false */
}

void op_lahf(struct cpu *c, const struct insn *in)
{
	(void)in;
	reg_write(c, 16 + R_AX, 1, (cpu_get_rflags(c) & 0xd5) | 2);
}

void op_sahf(struct cpu *c, const struct insn *in)
{
	(void)in;
	flags_eager(c);
	uint64_t ah = reg_read(c, 16 + R_AX, 1) & 0xd5;
	c->flags = (c->flags & ~0xd5ULL) | ah;
}

static void set_flag(struct cpu *c, uint64_t bit, int on)
{
	flags_eager(c);
	c->flags = on ? c->flags | bit : c->flags & ~bit;
}

void op_cmc(struct cpu *c, const struct insn *in) { (void)in; set_flag(c, F_CF, !get_cf(c)); }
void op_clc(struct cpu *c, const struct insn *in) { (void)in; set_flag(c, F_CF, 0); }
void op_stc(struct cpu *c, const struct insn *in) { (void)in; set_flag(c, F_CF, 1); }
void op_cld(struct cpu *c, const struct insn *in) { (void)in; c->flags &= ~(uint64_t)F_DF; }
void op_std(struct cpu *c, const struct insn *in) { (void)in; c->flags |= F_DF; }

static void check_if_change(struct cpu *c)
{
	if (c->mode != MODE_REAL && (uint64_t)c->cpl > cpu_iopl(c))
		GP0(c);
}

void op_cli(struct cpu *c, const struct insn *in)
{
	(void)in;
	check_if_change(c);
	c->flags &= ~(uint64_t)F_IF;
}

void op_sti(struct cpu *c, const struct insn *in)
{
	(void)in;
	check_if_change(c);
	if (!(c->flags & F_IF))
		c->intr_shadow = 1;
	c->flags |= F_IF;
}

void op_xlat(struct cpu *c, const struct insn *in)
{
	uint64_t off = (reg_read(c, R_BX, in->adsize) + reg_read(c, R_AX, 1)) & size_mask(in->adsize);
	reg_write(c, R_AX, 1, mem_read(c, in->seg, off, 1));
}

void op_nop(struct cpu *c, const struct insn *in)
{
	(void)c;
	(void)in;
}

/* LES, LDS, LSS, LFS, LGS: a far pointer into a segment register and a general one. */
void op_lfar(struct cpu *c, const struct insn *in)
{
	static const int sreg_1byte[2] = { S_ES, S_DS };
	if (in->mod == 3)
		UD(c);
	int sreg = in->op == 0xc4 || in->op == 0xc5 ? sreg_1byte[in->op & 1] :
		   in->op == 0xb2 ? S_SS : in->op == 0xb4 ? S_FS : S_GS;
	uint64_t ea = insn_ea(c, in);
	uint64_t off = mem_read(c, in->seg, ea, in->opsize);
	uint16_t sel = (uint16_t)mem_read(c, in->seg, (ea + in->opsize) & size_mask(in->adsize), 2);
	load_seg(c, sreg, sel);
	reg_write(c, in->reg, in->opsize, off);
}

static uint64_t bswap_sized(uint64_t v, int size)
{
	return size == 8 ? __builtin_bswap64(v) : size == 4 ? __builtin_bswap32((uint32_t)v)
							     : __builtin_bswap16((uint16_t)v);
}

/* 0F 38 F0/F1: MOVBE */
void op_movbe(struct cpu *c, const struct insn *in)
{
	if (in->mod == 3)
		UD(c);
	if (in->op == 0xf0)
		reg_write(c, in->reg, in->opsize, bswap_sized(rm_read(c, in, in->opsize), in->opsize));
	else
		rm_write(c, in, in->opsize, bswap_sized(reg_read(c, in->reg, in->opsize), in->opsize));
}

/*
 * ---- Forms specialized at decode time (data_select) ----
 *
 * MOV, MOVZX/MOVSX/MOVSXD, LEA, PUSH/POP of a register, CMOVcc and
 * SETcc with the operand size, the condition and register-or-memory as
 * constants. Memory forms are for 64-bit code only (and the stack forms
 * for its 64-bit stack, whose segment base is 0 and never checked).
 */

#define SIZES(M, name) M(name, 1) M(name, 2) M(name, 4) M(name, 8)
#define ROW4(name) { name##1, name##2, name##4, name##8 }

/* The NOPs compilers place (0F 1F), ENDBR64 (F3 0F 1E) and PREFETCH (0F 18): nothing to do, on any CPU. */
PURE_FN(hint_nop, (void)c, (void)in)

/* MOV r/m, reg: register and memory destinations */
#define MOV_RR(name, sz) PURE_FN(name##sz, reg_write(c, in->rm, sz, reg_read(c, in->reg, sz)))
#define MOV_MR(name, sz) static void name##sz(struct cpu *c, const struct insn *in) \
	{ lin_write(c, ea_lin64(c, in), sz, reg_read(c, in->reg, sz), ACC_W); insn_next(c, in); }
#define MOV_RM(name, sz) static void name##sz(struct cpu *c, const struct insn *in) \
	{ reg_write(c, in->reg, sz, lin_read(c, ea_lin64(c, in), sz, ACC_R)); insn_next(c, in); }
#define MOV_RI(name, sz) PURE_FN(name##sz, reg_write(c, in->rm, sz, in->imm))
#define MOV_MI(name, sz) static void name##sz(struct cpu *c, const struct insn *in) \
	{ lin_write(c, ea_lin64(c, in), sz, in->imm, ACC_W); insn_next(c, in); }
SIZES(MOV_RR, mov_rr)
SIZES(MOV_MR, mov_mr)
SIZES(MOV_RM, mov_rm)
SIZES(MOV_RI, mov_ri)
SIZES(MOV_MI, mov_mi)
static insn_fn *const mov_rr[4] = ROW4(mov_rr), *const mov_mr[4] = ROW4(mov_mr),
	*const mov_rm[4] = ROW4(mov_rm), *const mov_ri[4] = ROW4(mov_ri), *const mov_mi[4] = ROW4(mov_mi);

/* MOVZX/MOVSX from a byte or word, MOVSXD from a dword: [sign][source] */
static ALWAYS_INLINE uint64_t widen(uint64_t v, int ssize, int sign)
{
	return sign ? sign_extend(v, ssize) : v;
}
#define EXT_FN(name, sign, ssize, dsize) \
	PURE_FN(name##_r##dsize, reg_write(c, in->reg, dsize, widen(reg_read(c, in->rm, ssize), ssize, sign))) \
	static void name##_m##dsize(struct cpu *c, const struct insn *in) \
	{ reg_write(c, in->reg, dsize, widen(lin_read(c, ea_lin64(c, in), ssize, ACC_R), ssize, sign)); \
	  insn_next(c, in); }
#define EXT_FNS(name, sign, ssize) EXT_FN(name, sign, ssize, 2) EXT_FN(name, sign, ssize, 4) \
	EXT_FN(name, sign, ssize, 8)
EXT_FNS(movzb, 0, 1)
EXT_FNS(movzw, 0, 2)
EXT_FNS(movsb, 1, 1)
EXT_FNS(movsw, 1, 2)
EXT_FNS(movsd, 1, 4)
#define EXT_ROW(name, f) { NULL, name##_##f##2, name##_##f##4, name##_##f##8 }
/* [register or memory][kind: zx8, zx16, sx8, sx16, sx32][log2 size] */
static insn_fn *const ext_forms[2][5][4] = {
	{ EXT_ROW(movzb, r), EXT_ROW(movzw, r), EXT_ROW(movsb, r), EXT_ROW(movsw, r), EXT_ROW(movsd, r) },
	{ EXT_ROW(movzb, m), EXT_ROW(movzw, m), EXT_ROW(movsb, m), EXT_ROW(movsw, m), EXT_ROW(movsd, m) },
};

/* LEA: pure but when RIP-relative */
PURE_FN(lea64, c->gpr[in->reg] = ea_off64(c, in))
PURE_FN(lea32, c->gpr[in->reg] = (uint32_t)ea_off64(c, in))

static void lea64_rip(struct cpu *c, const struct insn *in)
{
	c->gpr[in->reg] = ea_off64(c, in);
	insn_next(c, in);
}

static void lea32_rip(struct cpu *c, const struct insn *in)
{
	c->gpr[in->reg] = (uint32_t)ea_off64(c, in);
	insn_next(c, in);
}

/* PUSH/POP of a 64-bit register on the 64-bit stack; RSP moves once the access is done. */
static void push64(struct cpu *c, const struct insn *in)
{
	uint64_t sp = c->gpr[R_SP] - 8;
	lin_write(c, sp, 8, c->gpr[in->rm], ACC_W);
	c->gpr[R_SP] = sp;
	insn_next(c, in);
}

static void pop64(struct cpu *c, const struct insn *in)
{
	uint64_t sp = c->gpr[R_SP];
	uint64_t v = lin_read(c, sp, 8, ACC_R);
	c->gpr[R_SP] = sp + 8;
	c->gpr[in->rm] = v;     /* POP RSP: the value popped wins */
	insn_next(c, in);
}

/* CMOVcc (a 32-bit destination is written, zero-extended, even when false) and SETcc */
static ALWAYS_INLINE void cmov_body(struct cpu *c, const struct insn *in, int cc, int size, uint64_t v)
{
	if (cond_fast(c, cc))
		reg_write(c, in->reg, size, v);
	else if (size == 4)
		c->gpr[in->reg] = (uint32_t)c->gpr[in->reg];
}
#define CMOV_FN(cc) \
	PURE_FN(cmov_r4_##cc, cmov_body(c, in, cc, 4, reg_read(c, in->rm, 4))) \
	PURE_FN(cmov_r8_##cc, cmov_body(c, in, cc, 8, c->gpr[in->rm])) \
	static void cmov_m4_##cc(struct cpu *c, const struct insn *in) \
	{ cmov_body(c, in, cc, 4, lin_read(c, ea_lin64(c, in), 4, ACC_R)); insn_next(c, in); } \
	static void cmov_m8_##cc(struct cpu *c, const struct insn *in) \
	{ cmov_body(c, in, cc, 8, lin_read(c, ea_lin64(c, in), 8, ACC_R)); insn_next(c, in); } \
	PURE_FN(setcc_r_##cc, reg_write(c, in->rm, 1, (uint64_t)cond_fast(c, cc)))
#define CC16(M) M(0) M(1) M(2) M(3) M(4) M(5) M(6) M(7) M(8) M(9) M(10) M(11) M(12) M(13) M(14) M(15)
CC16(CMOV_FN)
#define CC_ROW(name) { name##0, name##1, name##2, name##3, name##4, name##5, name##6, name##7, \
	name##8, name##9, name##10, name##11, name##12, name##13, name##14, name##15 }
/* [register or memory][64-bit][cc] */
static insn_fn *const cmov_forms[2][2][16] = {
	{ CC_ROW(cmov_r4_), CC_ROW(cmov_r8_) }, { CC_ROW(cmov_m4_), CC_ROW(cmov_m8_) },
};
static insn_fn *const setcc_r[16] = CC_ROW(setcc_r_);

static insn_fn *ext_select(struct insn *in, int kind, int code_size)
{
	if (in->opsize == 1)
		return NULL;
	if (in->mod == 3) {
		if (kind == 0 || kind == 2)     /* the source is a byte register */
			in->rm = (uint8_t)rm_byte_reg(in);
		return ext_forms[0][kind][size_log2(in->opsize)];
	}
	if (fast_mem64(in, code_size))
		return ext_forms[1][kind][size_log2(in->opsize)];
	return NULL;
}

/* XCHG with the accumulator (NOP and PAUSE included), CBW/CWDE/CDQE, CWD/CDQ/CQO. */
PURE_FN(xchg_acc, op_xchg_r(c, in))
PURE_FN(cbw_r, op_cbw(c, in))
PURE_FN(cwd_r, op_cwd(c, in))

insn_fn *data_select(struct insn *in, insn_fn *fn, int code_size)
{
	int lg = size_log2(in->opsize), mem = fast_mem64(in, code_size);
	if (fn == op_nop && (in->op == 0x1f || in->op == 0x1e || in->op == 0x18))
		return hint_nop;
	if (fn == op_mov_rm_r)
		return in->mod == 3 ? mov_rr[lg] : mem ? mov_mr[lg] : NULL;
	if (fn == op_mov_r_rm) {
		if (in->mod == 3) {     /* reg = reg: the other direction, swapped */
			uint8_t r = in->reg;
			in->reg = in->rm;
			in->rm = r;
			return mov_rr[lg];
		}
		return mem ? mov_rm[lg] : NULL;
	}
	if (fn == op_mov_r_imm)
		return mov_ri[lg];
	if (fn == op_mov_rm_imm)
		return in->mod == 3 ? mov_ri[lg] : mem ? mov_mi[lg] : NULL;
	if (fn == op_movzx)
		return ext_select(in, in->op == 0xb6 ? 0 : 1, code_size);
	if (fn == op_movsx)
		return ext_select(in, in->op == 0xbe ? 2 : 3, code_size);
	if (fn == op_movsxd && code_size == 8 && in->opsize == 8)
		return ext_select(in, 4, code_size);
	if (fn == op_lea && code_size == 8 && in->mod != 3 && in->adsize == 8)
	{
		if (in->pfx & PFX_RIPREL)
			return in->opsize == 8 ? lea64_rip : in->opsize == 4 ? lea32_rip : NULL;
		return in->opsize == 8 ? lea64 : in->opsize == 4 ? lea32 : NULL;
	}
	if (code_size == 8 && in->opsize == 8 && (fn == op_push_r || fn == op_pop_r))
		return fn == op_push_r ? push64 : pop64;
	if (fn == op_cmovcc && (in->opsize == 4 || in->opsize == 8) && (in->mod == 3 || mem))
		return cmov_forms[in->mod != 3][in->opsize == 8][in->op & 15];
	if (fn == op_setcc && in->mod == 3)
		return setcc_r[in->op & 15];
	if (fn == op_xchg_r)
		return xchg_acc;
	if (fn == op_cbw || fn == op_cwd)
		return fn == op_cbw ? cbw_r : cwd_r;
	return NULL;
}

#define ROW4_PURE(name, regs) PURE_ENTRY(name##1, PF_NONE, regs), PURE_ENTRY(name##2, PF_NONE, regs), \
	PURE_ENTRY(name##4, PF_NONE, regs), PURE_ENTRY(name##8, PF_NONE, regs)
#define EXT_PURE(name, regs) PURE_ENTRY(name##_r2, PF_NONE, regs), PURE_ENTRY(name##_r4, PF_NONE, regs), \
	PURE_ENTRY(name##_r8, PF_NONE, regs)
#define CC_PURE(cc) PURE_ENTRY(cmov_r4_##cc, PF_READ, JR_REG | JR_RM), \
	PURE_ENTRY(cmov_r8_##cc, PF_READ, JR_REG | JR_RM), PURE_ENTRY(setcc_r_##cc, PF_READ, JR_RM),
const struct pure_variants data_pure[] = {
	PURE_ENTRY(hint_nop, PF_NONE, JR_NONE), ROW4_PURE(mov_rr, JR_REG | JR_RM), ROW4_PURE(mov_ri, JR_RM),
	EXT_PURE(movzb, JR_REG | JR_RM | JR_RM_BYTE), EXT_PURE(movzw, JR_REG | JR_RM),
	EXT_PURE(movsb, JR_REG | JR_RM | JR_RM_BYTE), EXT_PURE(movsw, JR_REG | JR_RM), EXT_PURE(movsd, JR_REG | JR_RM),
	PURE_ENTRY(lea64, PF_NONE, JR_REG | JR_EA), PURE_ENTRY(lea32, PF_NONE, JR_REG | JR_EA),
	PURE_ENTRY(xchg_acc, PF_NONE, JR_AX | JR_RM), PURE_ENTRY(cbw_r, PF_NONE, JR_AX),
	PURE_ENTRY(cwd_r, PF_NONE, JR_AX | JR_DX),
	CC16(CC_PURE)
};
const unsigned data_npure = sizeof(data_pure) / sizeof(data_pure[0]);

#define MEM4(name, mem, regs) { name##1, mem, 0, regs, PF_NONE, 0 }, { name##2, mem, 0, regs, PF_NONE, 0 }, \
	{ name##4, mem, 0, regs, PF_NONE, 0 }, { name##8, mem, 0, regs, PF_NONE, 0 }
#define EXT_MEM(name, ssize) { name##_m2, JM_READ, ssize, JR_REG, PF_NONE, 0 }, \
	{ name##_m4, JM_READ, ssize, JR_REG, PF_NONE, 0 }, { name##_m8, JM_READ, ssize, JR_REG, PF_NONE, 0 }
#define CC_MEM(cc) { cmov_m4_##cc, JM_READ, 0, JR_REG, PF_READ, 0 }, \
	{ cmov_m8_##cc, JM_READ, 0, JR_REG, PF_READ, 0 },
const struct mem_form data_mem_forms[] = {
	MEM4(mov_rm, JM_READ, JR_REG), MEM4(mov_mr, JM_WRITE, JR_REG), MEM4(mov_mi, JM_WRITE, 0),
	{ push64, JM_WRITE, 8, JR_RM, PF_NONE, JS_PUSH }, { pop64, JM_READ, 8, JR_RM, PF_NONE, JS_POP },
	EXT_MEM(movzb, 1), EXT_MEM(movzw, 2), EXT_MEM(movsb, 1), EXT_MEM(movsw, 2), EXT_MEM(movsd, 4),
	CC16(CC_MEM)
};
const unsigned data_nmem = sizeof(data_mem_forms) / sizeof(data_mem_forms[0]);
