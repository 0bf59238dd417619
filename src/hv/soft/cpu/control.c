/*
 * Control transfer: Jcc, JMP, CALL, RET (near and far), LOOP/JCXZ,
 * INT n/INT3/INTO/INT1 and IRET. Far transfers and IRET are in seg.c.
 */
#include "internal.h"
#include "insns.h"

void op_jcc(struct cpu *c, const struct insn *in)
{
	if (cond_true(c, in->op & 15))
		branch_to(c, c->next_rip + in->imm, in->opsize);
}

void op_jmp_rel(struct cpu *c, const struct insn *in)
{
	branch_to(c, c->next_rip + in->imm, in->opsize);
}

void op_call_rel(struct cpu *c, const struct insn *in)
{
	uint64_t ret = c->next_rip;
	branch_to(c, ret + in->imm, in->opsize);
	push(c, in->opsize, ret);
}

void op_ret(struct cpu *c, const struct insn *in)
{
	struct stk s;
	stk_init(c, &s);
	uint64_t target = stk_pop(c, &s, in->opsize);
	branch_to(c, target, in->opsize);
	if (in->op == 0xc2)
		s.sp = (s.sp & ~s.mask) | ((s.sp + (uint16_t)in->imm) & s.mask);
	stk_commit(c, &s);
}

void op_jmp_rm(struct cpu *c, const struct insn *in)
{
	branch_to(c, rm_read(c, in, in->opsize), in->opsize);
}

void op_call_rm(struct cpu *c, const struct insn *in)
{
	uint64_t target = rm_read(c, in, in->opsize), ret = c->next_rip;
	branch_to(c, target, in->opsize);
	push(c, in->opsize, ret);
}

/* EA: JMP ptr16:16/32 */
void op_jmp_far(struct cpu *c, const struct insn *in)
{
	far_jump(c, in->imm2, in->imm, in->opsize);
}

void op_call_far(struct cpu *c, const struct insn *in)
{
	far_call(c, in->imm2, in->imm, in->opsize);
}

/* A far pointer in memory: offset of the operand size, then the selector. */
static void read_far_ptr(struct cpu *c, const struct insn *in, uint16_t *sel, uint64_t *off)
{
	if (in->mod == 3)
		UD(c);
	uint64_t ea = insn_ea(c, in);
	*off = mem_read(c, in->seg, ea, in->opsize);
	*sel = (uint16_t)mem_read(c, in->seg, (ea + in->opsize) & size_mask(in->adsize), 2);
}

void op_jmp_far_m(struct cpu *c, const struct insn *in)
{
	uint16_t sel;
	uint64_t off;
	read_far_ptr(c, in, &sel, &off);
	far_jump(c, sel, off, in->opsize);
}

void op_call_far_m(struct cpu *c, const struct insn *in)
{
	uint16_t sel;
	uint64_t off;
	read_far_ptr(c, in, &sel, &off);
	far_call(c, sel, off, in->opsize);
}

void op_retf(struct cpu *c, const struct insn *in)
{
	far_return(c, in->opsize, in->op == 0xca ? (uint16_t)in->imm : 0);
}

/* E0 LOOPNE, E1 LOOPE, E2 LOOP: the count register is sized by the address size. */
void op_loop(struct cpu *c, const struct insn *in)
{
	uint64_t cnt = (reg_read(c, R_CX, in->adsize) - 1) & size_mask(in->adsize);
	reg_write(c, R_CX, in->adsize, cnt);
	int take = cnt != 0;
	if (in->op == 0xe0)
		take = take && !cond_true(c, 4);
	else if (in->op == 0xe1)
		take = take && cond_true(c, 4);
	if (take)
		branch_to(c, c->next_rip + in->imm, in->opsize);
}

void op_jcxz(struct cpu *c, const struct insn *in)
{
	if (!reg_read(c, R_CX, in->adsize))
		branch_to(c, c->next_rip + in->imm, in->opsize);
}

static void soft_interrupt(struct cpu *c, const struct insn *in, int type, int vector)
{
	struct cpu_event ev = { .type = (uint8_t)type, .vector = (uint8_t)vector,
				.insn_len = in->len };
	if (c->mode == MODE_VM86 && cpu_iopl(c) < 3 && type == EV_SWINT)
		GP0(c);
	cpu_deliver(c, &ev);
	c->next_rip = c->rip;
}

void op_int(struct cpu *c, const struct insn *in)
{
	soft_interrupt(c, in, EV_SWINT, (uint8_t)in->imm);
}

void op_int3(struct cpu *c, const struct insn *in)
{
	soft_interrupt(c, in, EV_SWEXC, EX_BP);
}

void op_into(struct cpu *c, const struct insn *in)
{
	if (cond_true(c, 0))
		soft_interrupt(c, in, EV_SWEXC, EX_OF);
}

void op_int1(struct cpu *c, const struct insn *in)
{
	struct cpu_event ev = { .type = EV_HWEXC, .vector = EX_DB };
	c->rip = c->next_rip;   /* a trap: returns after the instruction */
	(void)in;
	cpu_deliver(c, &ev);
	c->next_rip = c->rip;
}

void op_iret(struct cpu *c, const struct insn *in)
{
	do_iret(c, in->opsize);
}

/* 62: BOUND (legacy modes): the signed index must lie within the pair in memory. */
void op_bound(struct cpu *c, const struct insn *in)
{
	if (in->mod == 3)
		UD(c);
	int size = in->opsize;
	uint64_t ea = insn_ea(c, in);
	int64_t lo = (int64_t)sign_extend(mem_read(c, in->seg, ea, size), size);
	int64_t hi = (int64_t)sign_extend(mem_read(c, in->seg, (ea + size) & size_mask(in->adsize), size), size);
	int64_t idx = (int64_t)sign_extend(reg_read(c, in->reg, size), size);
	if (idx < lo || idx > hi)
		cpu_fault_noerr(c, EX_BR);
}

/*
 * ---- Forms specialized at decode time (control_select) ----
 *
 * Near branches of 64-bit code: the condition is a constant, the target
 * needs only the canonical check, and CALL/RET use the 64-bit stack
 * directly (base 0, no limit). RSP moves only after the stack access.
 */

static ALWAYS_INLINE void jump64(struct cpu *c, uint64_t target)
{
	if (unlikely(!is_canonical(target)))
		GP0(c);
	c->next_rip = target;
}

#define JCC_FN(cc) static void jcc64_##cc(struct cpu *c, const struct insn *in) \
	{ if (cond_fast(c, cc)) jump64(c, c->next_rip + in->imm); block_next(c, in); }
JCC_FN(0) JCC_FN(1) JCC_FN(2) JCC_FN(3) JCC_FN(4) JCC_FN(5) JCC_FN(6) JCC_FN(7)
JCC_FN(8) JCC_FN(9) JCC_FN(10) JCC_FN(11) JCC_FN(12) JCC_FN(13) JCC_FN(14) JCC_FN(15)
static insn_fn *const jcc64[16] = {
	jcc64_0, jcc64_1, jcc64_2, jcc64_3, jcc64_4, jcc64_5, jcc64_6, jcc64_7,
	jcc64_8, jcc64_9, jcc64_10, jcc64_11, jcc64_12, jcc64_13, jcc64_14, jcc64_15,
};

static void jmp64(struct cpu *c, const struct insn *in)
{
	jump64(c, c->next_rip + in->imm);
	block_next(c, in);
}

static void call64(struct cpu *c, const struct insn *in)
{
	uint64_t ret = c->next_rip, sp = c->gpr[R_SP] - 8;
	jump64(c, ret + in->imm);
	lin_write(c, sp, 8, ret, ACC_W);
	c->gpr[R_SP] = sp;
	block_next(c, in);
}

static void ret64(struct cpu *c, const struct insn *in)
{
	uint64_t sp = c->gpr[R_SP];
	jump64(c, lin_read(c, sp, 8, ACC_R));
	c->gpr[R_SP] = sp + 8 + (in->op == 0xc2 ? (uint16_t)in->imm : 0);
	block_next(c, in);
}

/* JMP/CALL through a register or memory */
static ALWAYS_INLINE uint64_t target_rm64(struct cpu *c, const struct insn *in)
{
	return in->mod == 3 ? c->gpr[in->rm] : lin_read(c, ea_lin64(c, in), 8, ACC_R);
}

static void jmp_rm64(struct cpu *c, const struct insn *in)
{
	jump64(c, target_rm64(c, in));
	block_next(c, in);
}

static void call_rm64(struct cpu *c, const struct insn *in)
{
	uint64_t target = target_rm64(c, in), ret = c->next_rip, sp = c->gpr[R_SP] - 8;
	jump64(c, target);
	lin_write(c, sp, 8, ret, ACC_W);
	c->gpr[R_SP] = sp;
	block_next(c, in);
}

int insn_is_near_branch(insn_fn *fn)
{
	static insn_fn *const near[] = {
		op_jcc, op_jmp_rel, op_call_rel, op_ret, op_jmp_rm, op_call_rm, op_loop, op_jcxz,
		jmp64, call64, ret64, jmp_rm64, call_rm64,
	};
	for (size_t i = 0; i < sizeof(near) / sizeof(near[0]); i++)
		if (fn == near[i])
			return 1;
	for (int cc = 0; cc < 16; cc++)
		if (fn == jcc64[cc])
			return 1;
	return 0;
}

int insn_branch_cc(insn_fn *fn)
{
	if (fn == jmp64)
		return JIT_JMP;
	for (int cc = 0; cc < 16; cc++)
		if (fn == jcc64[cc])
			return cc;
	return -1;
}

int insn_branch_kind(insn_fn *fn)
{
	return fn == call64 ? JIT_CALL : fn == ret64 ? JIT_RET : insn_branch_cc(fn);
}

insn_fn *control_select(struct insn *in, insn_fn *fn, int code_size)
{
	if (code_size != 8 || in->opsize != 8)
		return NULL;
	if (fn == op_jcc)
		return jcc64[in->op & 15];
	if (fn == op_jmp_rel)
		return jmp64;
	if (fn == op_call_rel)
		return call64;
	if (fn == op_ret)
		return ret64;
	if ((fn == op_jmp_rm || fn == op_call_rm) && (in->mod == 3 || fast_mem64(in, code_size)))
		return fn == op_jmp_rm ? jmp_rm64 : call_rm64;
	return NULL;
}
