/*
 * The x87 FPU (escape opcodes D8-DF, FWAIT) and the MMX register file it
 * shares its registers with.
 *
 * State: the FXSAVE image of struct cpu (see simd.h). The eight data
 * registers are kept in stack order, ST(i) at FX_ST(i), as FXSAVE stores
 * them, so a push or pop rotates the slots; the abridged tag byte has one
 * bit per physical register (physical = (TOP + i) mod 8); the full tag
 * word of FSTENV/FSAVE is computed from the contents, as hardware does.
 *
 * Arithmetic runs on the host's x87 unit (this CPU only runs on x86-64
 * hosts, whose long double is the same 80-bit format): the guest's
 * control word, with every exception masked, is loaded into the host FPU
 * around each operation, so precision control, rounding, NaN rules,
 * condition codes and exception flags are the hardware's. The register
 * stack, stack faults, tags, data movement and the control instructions
 * are emulated here.
 *
 * Approximations, by design:
 * - An unmasked exception sets ES and B and #MF is raised by the next
 *   waiting instruction when CR0.NE is set (with CR0.NE clear, the
 *   legacy FERR#/IRQ 13 route is not modelled: the exception is just
 *   recorded). An unmasked IE, DE or ZE leaves the destination and the
 *   stack as they were; an unmasked OE or UE still writes the masked
 *   (not the exponent-adjusted) result to a register, and nothing to
 *   memory.
 * - The last instruction and data pointers and the last opcode (FIP,
 *   FDP, FOP) are not tracked: they read as 0.
 */
#include "simd.h"

/* Status word. */
#define SW_IE 0x0001u
#define SW_DE 0x0002u
#define SW_ZE 0x0004u
#define SW_OE 0x0008u
#define SW_UE 0x0010u
#define SW_PE 0x0020u
#define SW_SF 0x0040u
#define SW_ES 0x0080u
#define SW_C0 0x0100u
#define SW_C1 0x0200u
#define SW_C2 0x0400u
#define SW_C3 0x4000u
#define SW_B  0x8000u
#define SW_EXC 0x003fu
#define SW_CC (SW_C0 | SW_C1 | SW_C2 | SW_C3)

/* Unmasked exceptions that stop an instruction with a register or a memory destination. */
#define STOP_REG (SW_IE | SW_DE | SW_ZE)
#define STOP_MEM (SW_IE | SW_DE | SW_ZE | SW_OE | SW_UE)

/* An 80-bit value laid out as in memory and in the FXSAVE image. */
struct f80 {
	uint64_t m;
	uint16_t se;
	uint16_t pad[3];
};

static const struct f80 f80_indefinite = { 0xc000000000000000ULL, 0xffff, { 0, 0, 0 } };

/* ---- status, control and the register stack ---- */

static uint16_t fsw(const struct cpu *c) { return fx_get16(c, FX_FSW); }
static uint16_t fcw(const struct cpu *c) { return fx_get16(c, FX_FCW); }

static int fpu_top(const struct cpu *c)
{
	return (fsw(c) >> 11) & 7;
}

static void set_top(struct cpu *c, int top)
{
	fx_put16(c, FX_FSW, (uint16_t)((fsw(c) & ~0x3800u) | (unsigned)(top & 7) << 11));
}

static void set_cc(struct cpu *c, unsigned mask, unsigned bits)
{
	fx_put16(c, FX_FSW, (uint16_t)((fsw(c) & ~mask) | (bits & mask)));
}

static int phys(const struct cpu *c, int i)
{
	return (fpu_top(c) + i) & 7;
}

static int st_empty(const struct cpu *c, int i)
{
	return !((c->fxsave[FX_FTW] >> phys(c, i)) & 1);
}

static void set_tag(struct cpu *c, int i, int valid)
{
	uint8_t bit = (uint8_t)(1u << phys(c, i));
	if (valid)
		c->fxsave[FX_FTW] |= bit;
	else
		c->fxsave[FX_FTW] &= (uint8_t)~bit;
}

static void st_read(const struct cpu *c, int i, struct f80 *v)
{
	memcpy(v, c->fxsave + FX_ST(i), sizeof(*v));
}

static void st_write(struct cpu *c, int i, const struct f80 *v)
{
	memcpy(c->fxsave + FX_ST(i), v, 10);
	memset(c->fxsave + FX_ST(i) + 10, 0, 6);
	set_tag(c, i, 1);
}

/* Moves TOP by +1 (pop direction) or -1, rotating the slots so ST(i) stays at FX_ST(i). */
static void rotate(struct cpu *c, int dir)
{
	uint8_t tmp[16];
	uint8_t *st = c->fxsave + FX_ST(0);
	if (dir > 0) {
		memcpy(tmp, st, 16);
		memmove(st, st + 16, 7 * 16);
		memcpy(st + 7 * 16, tmp, 16);
	} else {
		memcpy(tmp, st + 7 * 16, 16);
		memmove(st + 16, st, 7 * 16);
		memcpy(st, tmp, 16);
	}
	set_top(c, fpu_top(c) + dir);
}

static void fpu_pop(struct cpu *c)
{
	set_tag(c, 0, 0);
	rotate(c, 1);
}

/* ---- exceptions ---- */

/* Records exception flags (and SF); returns the unmasked ones among IE..PE. */
static unsigned x87_raise(struct cpu *c, unsigned ex)
{
	unsigned sw = fsw(c) | (ex & (SW_EXC | SW_SF));
	unsigned um = ex & ~fcw(c) & SW_EXC;
	if (um)
		sw |= SW_ES | SW_B;
	fx_put16(c, FX_FSW, (uint16_t)sw);
	return um;
}

/* #MF for a pending unmasked exception, before a waiting instruction. */
static void x87_wait(struct cpu *c)
{
	if ((fsw(c) & SW_ES) && (c->cr0 & CR0_NE))
		cpu_fault_noerr(c, EX_MF);
}

/* Stack underflow: returns 1 when IE is masked (the instruction goes on with the indefinite value). */
static int underflow(struct cpu *c)
{
	set_cc(c, SW_C1, 0);
	return !x87_raise(c, SW_IE | SW_SF);
}

/* Pushes v; on stack overflow pushes the indefinite value when IE is masked. */
static void fpu_push(struct cpu *c, const struct f80 *v)
{
	if (!st_empty(c, 7)) {
		set_cc(c, SW_C1, SW_C1);
		if (x87_raise(c, SW_IE | SW_SF))
			return;
		v = &f80_indefinite;
	} else {
		set_cc(c, SW_C1, 0);
	}
	rotate(c, -1);
	st_write(c, 0, v);
}

/*
 * After a host operation whose status word is hsw: records its
 * exceptions and C1; returns 0 when an unmasked one in stop must leave
 * the destination alone.
 */
static int x87_complete(struct cpu *c, unsigned hsw, unsigned stop)
{
	unsigned um = x87_raise(c, hsw & SW_EXC);
	if (um & stop)
		return 0;
	set_cc(c, SW_C1, hsw);
	return 1;
}

/*
 * The host runs with every exception masked, and a masked underflow is
 * only signaled for an inexact tiny result; with the guest's underflow
 * exception unmasked, an exact tiny result (a denormal) signals it too.
 */
static unsigned exact_tiny(const struct cpu *c, const struct f80 *r)
{
	return !(fcw(c) & SW_UE) && !(r->se & 0x7fff) && r->m ? SW_UE : 0;
}

static unsigned exact_tiny_mem(const struct cpu *c, int size, const uint8_t *buf)
{
	uint64_t v = 0;
	memcpy(&v, buf, (size_t)size);
	uint64_t exp = size == 4 ? 0x7f800000 : 0x7ff0000000000000ULL;
	uint64_t frac = size == 4 ? 0x007fffff : 0x000fffffffffffffULL;
	return !(fcw(c) & SW_UE) && !(v & exp) && (v & frac) ? SW_UE : 0;
}

/* ---- the host's x87 unit ---- */

/* Loads the guest's control word (exceptions masked); returns the host's. */
static uint16_t host_begin(const struct cpu *c)
{
	uint16_t saved, cw = (uint16_t)(fcw(c) | SW_EXC);
	__asm__ volatile("fnstcw %0" : "=m"(saved));
	__asm__ volatile("fnclex\n\tfldcw %0" : : "m"(cw) : "memory");
	return saved;
}

static void host_end(uint16_t saved)
{
	__asm__ volatile("fnclex\n\tfldcw %0" : : "m"(saved) : "memory");
}

/* Memory operands of the host instructions: up to 10 bytes. */
#define MEM10(p) (*(char (*)[10])(p))
#define CMEM10(p) (*(const char (*)[10])(p))

/* r = ST0 op ST1 with a as ST0 and b as ST1. */
#define HOST_OP2(name, text) \
	static uint16_t name(struct f80 *r, const struct f80 *a, const struct f80 *b) \
	{ \
		uint16_t sw; \
		__asm__ volatile("fldt %3\n\tfldt %2\n\t" text "\n\tfnstsw %1\n\tfstpt %0\n\tfstp %%st(0)" \
				 : "=m"(*r), "=m"(sw) : "m"(*a), "m"(*b) : "st", "st(1)"); \
		return sw; \
	}
HOST_OP2(h_fadd, "fadd %%st(1), %%st")
HOST_OP2(h_fmul, "fmul %%st(1), %%st")
HOST_OP2(h_fsub, "fsub %%st(1), %%st")
HOST_OP2(h_fsubr, "fsubr %%st(1), %%st")
HOST_OP2(h_fdiv, "fdiv %%st(1), %%st")
HOST_OP2(h_fdivr, "fdivr %%st(1), %%st")
HOST_OP2(h_fprem, "fprem")
HOST_OP2(h_fprem1, "fprem1")
HOST_OP2(h_fscale, "fscale")

/* r = f(ST1, ST0), popping one: FPATAN, FYL2X, FYL2XP1 (a is ST0, b is ST1). */
#define HOST_OP2P(name, text) \
	static uint16_t name(struct f80 *r, const struct f80 *a, const struct f80 *b) \
	{ \
		uint16_t sw; \
		__asm__ volatile("fldt %3\n\tfldt %2\n\t" text "\n\tfnstsw %1\n\tfstpt %0" \
				 : "=m"(*r), "=m"(sw) : "m"(*a), "m"(*b) : "st", "st(1)"); \
		return sw; \
	}
HOST_OP2P(h_fpatan, "fpatan")
HOST_OP2P(h_fyl2x, "fyl2x")
HOST_OP2P(h_fyl2xp1, "fyl2xp1")

/* Compares ST0 = a with ST1 = b; the status word has the condition codes. */
#define HOST_CMP(name, text) \
	static uint16_t name(const struct f80 *a, const struct f80 *b) \
	{ \
		uint16_t sw; \
		__asm__ volatile("fldt %2\n\tfldt %1\n\t" text "\n\tfnstsw %0" \
				 : "=m"(sw) : "m"(*a), "m"(*b) : "st", "st(1)"); \
		return sw; \
	}
HOST_CMP(h_fcompp, "fcompp")
HOST_CMP(h_fucompp, "fucompp")

/* r = f(ST0). */
#define HOST_OP1(name, text) \
	static uint16_t name(struct f80 *r, const struct f80 *a) \
	{ \
		uint16_t sw; \
		__asm__ volatile("fldt %2\n\t" text "\n\tfnstsw %1\n\tfstpt %0" \
				 : "=m"(*r), "=m"(sw) : "m"(*a) : "st"); \
		return sw; \
	}
HOST_OP1(h_fsqrt, "fsqrt")
HOST_OP1(h_frndint, "frndint")
HOST_OP1(h_fsin, "fsin")
HOST_OP1(h_fcos, "fcos")
HOST_OP1(h_f2xm1, "f2xm1")

/* Condition codes about ST0 = a. */
#define HOST_TEST(name, text) \
	static uint16_t name(const struct f80 *a) \
	{ \
		uint16_t sw; \
		__asm__ volatile("fldt %1\n\t" text "\n\tfnstsw %0\n\tfstp %%st(0)" \
				 : "=m"(sw) : "m"(*a) : "st"); \
		return sw; \
	}
HOST_TEST(h_ftst, "ftst")
HOST_TEST(h_fxam, "fxam")

/* ST0 = a becomes two values: r0 (the new ST0) over r1 (the new ST1). */
#define HOST_SPLIT(name, text) \
	static uint16_t name(struct f80 *r0, struct f80 *r1, const struct f80 *a) \
	{ \
		uint16_t sw; \
		__asm__ volatile("fldt %3\n\t" text "\n\tfnstsw %2\n\tfstpt %0\n\tfstpt %1" \
				 : "=m"(*r0), "=m"(*r1), "=m"(sw) : "m"(*a) : "st", "st(1)"); \
		return sw; \
	}
HOST_SPLIT(h_fsincos, "fsincos")
HOST_SPLIT(h_fptan, "fptan")
HOST_SPLIT(h_fxtract, "fxtract")

/* Conversions from memory formats. */
#define HOST_LOAD(name, text) \
	static uint16_t name(struct f80 *r, const void *m) \
	{ \
		uint16_t sw; \
		__asm__ volatile(text " %2\n\tfnstsw %1\n\tfstpt %0" : "=m"(*r), "=m"(sw) : "m"(CMEM10(m)) : "st"); \
		return sw; \
	}
HOST_LOAD(h_ld_f32, "flds")
HOST_LOAD(h_ld_f64, "fldl")
HOST_LOAD(h_ld_i16, "filds")
HOST_LOAD(h_ld_i32, "fildl")
HOST_LOAD(h_ld_i64, "fildll")

/* Conversions to memory formats (rounding by the control word, or truncating). */
#define HOST_STORE(name, text) \
	static uint16_t name(void *m, const struct f80 *a) \
	{ \
		uint16_t sw; \
		__asm__ volatile("fldt %2\n\t" text " %0\n\tfnstsw %1" : "=m"(MEM10(m)), "=m"(sw) : "m"(*a) : "st"); \
		return sw; \
	}
HOST_STORE(h_st_f32, "fstps")
HOST_STORE(h_st_f64, "fstpl")
HOST_STORE(h_st_i16, "fistps")
HOST_STORE(h_st_i32, "fistpl")
HOST_STORE(h_st_i64, "fistpll")
HOST_STORE(h_stt_i16, "fisttps")
HOST_STORE(h_stt_i32, "fisttpl")
HOST_STORE(h_stt_i64, "fisttpll")

/* The constants, rounded as the control word says. */
#define HOST_CONST(name, text) \
	static uint16_t name(struct f80 *r) \
	{ \
		uint16_t sw; \
		__asm__ volatile(text "\n\tfnstsw %1\n\tfstpt %0" : "=m"(*r), "=m"(sw) : : "st"); \
		return sw; \
	}
HOST_CONST(h_fld1, "fld1")
HOST_CONST(h_fldl2t, "fldl2t")
HOST_CONST(h_fldl2e, "fldl2e")
HOST_CONST(h_fldpi, "fldpi")
HOST_CONST(h_fldlg2, "fldlg2")
HOST_CONST(h_fldln2, "fldln2")
HOST_CONST(h_fldz, "fldz")

/* ---- memory formats ---- */

enum fmt { M_F32, M_F64, M_F80, M_I16, M_I32, M_I64, M_BCD };
static const int fmt_size[] = { 4, 8, 10, 2, 4, 8, 10 };

typedef uint16_t host_load_fn(struct f80 *r, const void *m);
typedef uint16_t host_store_fn(void *m, const struct f80 *a);
static host_load_fn *const host_loads[] = {
	[M_F32] = h_ld_f32, [M_F64] = h_ld_f64, [M_I16] = h_ld_i16, [M_I32] = h_ld_i32, [M_I64] = h_ld_i64,
};
static host_store_fn *const host_stores[] = {
	[M_F32] = h_st_f32, [M_F64] = h_st_f64, [M_I16] = h_st_i16, [M_I32] = h_st_i32, [M_I64] = h_st_i64,
};

/* The value an invalid store writes with IE masked: the format's indefinite. */
static void mem_indefinite(enum fmt f, uint8_t *buf)
{
	static const uint64_t ind[] = { 0xffc00000, 0xfff8000000000000ULL, 0, 0x8000, 0x80000000,
					0x8000000000000000ULL, 0 };
	memset(buf, 0, 10);
	if (f == M_F80 || f == M_BCD) {         /* both are FFFF C000 0000 0000 0000 */
		buf[7] = 0xc0;
		buf[8] = buf[9] = 0xff;
		return;
	}
	memcpy(buf, &ind[f], (size_t)fmt_size[f]);
}

/* Reads a memory operand and converts it to 80 bits on the host; returns the exceptions raised. */
static uint16_t load_operand(struct cpu *c, const struct insn *in, enum fmt f, struct f80 *v)
{
	uint8_t buf[10] = { 0 };
	mem_read_buf(c, in->seg, insn_ea(c, in), buf, fmt_size[f], 0);
	*v = (struct f80){ 0 };
	if (f == M_F80) {
		memcpy(v, buf, 10);
		return 0;
	}
	uint16_t saved = host_begin(c);
	uint16_t sw = host_loads[f](v, buf);
	host_end(saved);
	return sw & SW_EXC;
}

/* ---- arithmetic ---- */

enum { A_ADD, A_MUL, A_COM, A_COMP, A_SUB, A_SUBR, A_DIV, A_DIVR };

typedef uint16_t host_op2_fn(struct f80 *r, const struct f80 *a, const struct f80 *b);
static host_op2_fn *const arith_ops[8] = {
	[A_ADD] = h_fadd, [A_MUL] = h_fmul, [A_SUB] = h_fsub, [A_SUBR] = h_fsubr,
	[A_DIV] = h_fdiv, [A_DIVR] = h_fdivr,
};

/* Sets the condition codes of a compare (or EFLAGS for FCOMI), then pops. */
static void compare_done(struct cpu *c, unsigned cc, int eflags, int pops)
{
	if (eflags) {
		set_flags(c, ((cc & SW_C3) ? F_ZF : 0) | ((cc & SW_C2) ? F_PF : 0) | ((cc & SW_C0) ? F_CF : 0));
		set_cc(c, SW_C1, 0);
	} else {
		set_cc(c, SW_CC, cc & (SW_C0 | SW_C2 | SW_C3));
	}
	while (pops--)
		fpu_pop(c);
}

/* Compares ST0 with b (a memory operand converted with status lsw, or a register). */
static void compare(struct cpu *c, const struct f80 *b, unsigned lsw, int unordered, int eflags, int pops)
{
	struct f80 a;
	st_read(c, 0, &a);
	uint16_t saved = host_begin(c);
	unsigned sw = lsw | (unordered ? h_fucompp(&a, b) : h_fcompp(&a, b));
	host_end(saved);
	if (x87_raise(c, sw & SW_EXC) & (SW_IE | SW_DE))
		return;
	compare_done(c, sw, eflags, pops);
}

/* ST0 against ST(i): FCOM, FUCOM, FCOMI and friends. */
static void compare_reg(struct cpu *c, int i, int unordered, int eflags, int pops)
{
	if (st_empty(c, 0) || st_empty(c, i)) {
		if (underflow(c))
			compare_done(c, SW_C0 | SW_C2 | SW_C3, eflags, pops);
		return;
	}
	struct f80 b;
	st_read(c, i, &b);
	compare(c, &b, 0, unordered, eflags, pops);
}

/* ST(dst) = ST(dst) op b, b converted with status lsw; then pops. */
static void arith(struct cpu *c, int op, int dst, const struct f80 *b, unsigned lsw, int pop)
{
	struct f80 a, r;
	st_read(c, dst, &a);
	uint16_t saved = host_begin(c);
	unsigned sw = lsw | arith_ops[op](&r, &a, b);
	host_end(saved);
	sw |= exact_tiny(c, &r);
	if (!x87_complete(c, sw, STOP_REG))
		return;
	st_write(c, dst, &r);
	if (pop)
		fpu_pop(c);
}

/* Register arithmetic; a compare opcode compares ST0 with ST(src). */
static void arith_reg(struct cpu *c, int op, int dst, int src, int pop)
{
	if (op == A_COM || op == A_COMP) {
		compare_reg(c, src == 0 ? dst : src, 0, 0, op == A_COMP);
		return;
	}
	if (st_empty(c, dst) || st_empty(c, src)) {
		if (underflow(c)) {
			st_write(c, dst, &f80_indefinite);
			if (pop)
				fpu_pop(c);
		}
		return;
	}
	struct f80 b;
	st_read(c, src, &b);
	arith(c, op, dst, &b, 0, pop);
}

/* ---- memory-operand instructions ---- */

typedef void x87_mem_fn(struct cpu *c, const struct insn *in, int esc, int r);

/* D8/DA/DC/DE with memory: FADD..FDIVR, FCOM, FCOMP with m32real, m32int, m64real, m16int. */
static void m_arith(struct cpu *c, const struct insn *in, int esc, int r)
{
	static const enum fmt fmts[8] = { [0] = M_F32, [2] = M_I32, [4] = M_F64, [6] = M_I16 };
	struct f80 b;
	uint16_t lsw = load_operand(c, in, fmts[esc], &b);
	if (st_empty(c, 0)) {
		if (!underflow(c))
			return;
		if (r == A_COM || r == A_COMP)
			compare_done(c, SW_C0 | SW_C2 | SW_C3, 0, r == A_COMP);
		else
			st_write(c, 0, &f80_indefinite);
		return;
	}
	if (r == A_COM || r == A_COMP)
		compare(c, &b, lsw, 0, 0, r == A_COMP);
	else
		arith(c, r, 0, &b, lsw, 0);
}

/* FLD m32/m64/m80, FILD m16/m32/m64 */
static void load_push(struct cpu *c, const struct insn *in, enum fmt f)
{
	struct f80 v;
	uint16_t sw = load_operand(c, in, f, &v);
	if (!st_empty(c, 7)) {
		fpu_push(c, &v);    /* overflow */
		return;
	}
	if (x87_complete(c, sw, STOP_REG))
		fpu_push(c, &v);
}

static void m_fld(struct cpu *c, const struct insn *in, int esc, int r)
{
	(void)r;
	load_push(c, in, esc == 1 ? M_F32 : esc == 3 ? M_F80 : M_F64);
}

static void m_fild(struct cpu *c, const struct insn *in, int esc, int r)
{
	load_push(c, in, esc == 3 ? M_I32 : r == 0 ? M_I16 : M_I64);
}

/* Stores ST0 in format f, through host (or truncating with host_trunc); then pops. */
static void store_st0(struct cpu *c, const struct insn *in, enum fmt f, host_store_fn *host_fn, int pop)
{
	uint8_t buf[10];
	uint64_t ea = insn_ea(c, in);
	unsigned sw = 0;
	if (st_empty(c, 0)) {
		if (!underflow(c))
			return;
		mem_indefinite(f, buf);
	} else {
		struct f80 a;
		st_read(c, 0, &a);
		if (f == M_F80) {
			memcpy(buf, &a, 10);
		} else {
			uint16_t saved = host_begin(c);
			sw = host_fn(buf, &a);
			host_end(saved);
			if (f == M_F32 || f == M_F64)
				sw |= exact_tiny_mem(c, fmt_size[f], buf);
			if (sw & ~fcw(c) & STOP_MEM) {
				x87_complete(c, sw, STOP_MEM);
				return;
			}
		}
	}
	mem_write_buf(c, in->seg, ea, buf, fmt_size[f], 0);
	x87_complete(c, sw, 0);
	if (pop)
		fpu_pop(c);
}

/* FST/FSTP m32/m64, FSTP m80 */
static void m_fst(struct cpu *c, const struct insn *in, int esc, int r)
{
	enum fmt f = esc == 1 ? M_F32 : esc == 3 ? M_F80 : M_F64;
	store_st0(c, in, f, host_stores[f], r & 1);
}

/* FIST/FISTP m16/m32/m64 */
static void m_fist(struct cpu *c, const struct insn *in, int esc, int r)
{
	enum fmt f = esc == 3 ? M_I32 : r == 7 ? M_I64 : M_I16;
	store_st0(c, in, f, host_stores[f], r & 1);
}

/* FISTTP m16/m32/m64: truncating, always pops. */
static void m_fisttp(struct cpu *c, const struct insn *in, int esc, int r)
{
	(void)r;
	if (esc == 3)
		store_st0(c, in, M_I32, h_stt_i32, 1);
	else if (esc == 5)
		store_st0(c, in, M_I64, h_stt_i64, 1);
	else
		store_st0(c, in, M_I16, h_stt_i16, 1);
}

/* FBLD m80bcd: 18 packed digits and a sign byte. */
static void m_fbld(struct cpu *c, const struct insn *in, int esc, int r)
{
	(void)esc;
	(void)r;
	uint8_t buf[10];
	mem_read_buf(c, in->seg, insn_ea(c, in), buf, 10, 0);
	int64_t v = 0;
	for (int i = 8; i >= 0; i--)
		v = v * 100 + (buf[i] >> 4) * 10 + (buf[i] & 15);
	if (buf[9] & 0x80)
		v = -v;
	uint8_t iv[10] = { 0 };
	memcpy(iv, &v, 8);
	struct f80 x;
	uint16_t saved = host_begin(c);
	h_ld_i64(&x, iv);
	host_end(saved);
	if (buf[9] & 0x80 && !v)
		x.se |= 0x8000;         /* -0 stays negative */
	fpu_push(c, &x);
}

/* FBSTP m80bcd: rounds by the control word; out of range is invalid. */
static void store_bcd(struct cpu *c, const struct insn *in)
{
	uint8_t buf[10] = { 0 };
	struct f80 a, rounded;
	uint8_t iv[10];
	int64_t v;
	unsigned sw;
	st_read(c, 0, &a);
	uint16_t saved = host_begin(c);
	sw = h_frndint(&rounded, &a);
	sw |= h_st_i64(iv, &rounded);
	host_end(saved);
	memcpy(&v, iv, 8);
	if ((sw & SW_IE) || v > 999999999999999999LL || v < -999999999999999999LL) {
		sw |= SW_IE;
		if (x87_raise(c, SW_IE))
			return;
		mem_indefinite(M_BCD, buf);
	} else {
		uint64_t u = v < 0 ? (uint64_t)-v : (uint64_t)v;
		for (int i = 0; i < 9; i++, u /= 100)
			buf[i] = (uint8_t)((u % 10) | ((u / 10) % 10) << 4);
		buf[9] = (a.se & 0x8000) ? 0x80 : 0;
		if (sw & ~fcw(c) & STOP_MEM) {
			x87_complete(c, sw, STOP_MEM);
			return;
		}
	}
	mem_write_buf(c, in->seg, insn_ea(c, in), buf, 10, 0);
	x87_complete(c, sw & ~SW_IE, 0);
	fpu_pop(c);
}

static void m_fbstp(struct cpu *c, const struct insn *in, int esc, int r)
{
	(void)esc;
	(void)r;
	if (st_empty(c, 0)) {
		store_st0(c, in, M_BCD, NULL, 1);
		return;
	}
	store_bcd(c, in);
}

/* ---- control: FLDCW, FNSTCW, FNSTSW, environment and state ---- */

static void m_fldcw(struct cpu *c, const struct insn *in, int esc, int r)
{
	(void)esc;
	(void)r;
	uint16_t cw = (uint16_t)mem_read(c, in->seg, insn_ea(c, in), 2);
	fx_put16(c, FX_FCW, cw);
	/* A newly unmasked pending exception is reported by the next waiting instruction. */
	unsigned sw = fsw(c) & ~(SW_ES | SW_B);
	if (sw & ~cw & SW_EXC)
		sw |= SW_ES | SW_B;
	fx_put16(c, FX_FSW, (uint16_t)sw);
}

static void m_fnstcw(struct cpu *c, const struct insn *in, int esc, int r)
{
	(void)esc;
	(void)r;
	mem_write(c, in->seg, insn_ea(c, in), 2, fcw(c));
}

static void m_fnstsw(struct cpu *c, const struct insn *in, int esc, int r)
{
	(void)esc;
	(void)r;
	mem_write(c, in->seg, insn_ea(c, in), 2, fsw(c));
}

/* The full tag word: 0 valid, 1 zero, 2 special (NaN, infinity, denormal, unsupported), 3 empty. */
static uint16_t full_tags(const struct cpu *c)
{
	uint16_t tw = 0;
	int top = fpu_top(c);
	for (int p = 0; p < 8; p++) {
		int tag = 3;
		if ((c->fxsave[FX_FTW] >> p) & 1) {
			struct f80 v;
			st_read(c, (p - top) & 7, &v);
			int exp = v.se & 0x7fff;
			if (exp == 0 && v.m == 0)
				tag = 1;
			else if (exp == 0 || exp == 0x7fff || !(v.m >> 63))
				tag = 2;
			else
				tag = 0;
		}
		tw |= (uint16_t)(tag << (2 * p));
	}
	return tw;
}

/*
 * The FSTENV layout: 14 bytes with a 16-bit operand size, else 28. The
 * instruction and operand pointers are not tracked, so the real-mode and
 * protected-mode layouts differ only in what stays zero.
 */
static int env_size(const struct insn *in)
{
	return in->opsize == 2 ? 14 : 28;
}

static void env_build(struct cpu *c, const struct insn *in, uint8_t *buf)
{
	int step = env_size(in) == 14 ? 2 : 4;
	uint16_t v[3] = { fcw(c), fsw(c), full_tags(c) };
	memset(buf, 0, (size_t)env_size(in));
	for (int i = 0; i < 3; i++) {
		memcpy(buf + i * step, &v[i], 2);
		if (step == 4)          /* the reserved upper halves read as ones */
			buf[i * 4 + 2] = buf[i * 4 + 3] = 0xff;
	}
}

static void env_load(struct cpu *c, const struct insn *in, const uint8_t *buf)
{
	int step = env_size(in) == 14 ? 2 : 4;
	uint16_t cw, sw, tw;
	memcpy(&cw, buf, 2);
	memcpy(&sw, buf + step, 2);
	memcpy(&tw, buf + 2 * step, 2);
	uint8_t ftw = 0;
	for (int p = 0; p < 8; p++)
		if (((tw >> (2 * p)) & 3) != 3)
			ftw |= (uint8_t)(1u << p);
	fx_put16(c, FX_FCW, cw);
	/* A new TOP renames the registers: rotate so that ST(i) stays at FX_ST(i). */
	int top = (sw >> 11) & 7;
	while (fpu_top(c) != top)
		rotate(c, 1);
	fx_put16(c, FX_FSW, sw);
	c->fxsave[FX_FTW] = ftw;
}

static void m_fldenv(struct cpu *c, const struct insn *in, int esc, int r)
{
	(void)esc;
	(void)r;
	uint8_t buf[28];
	mem_read_buf(c, in->seg, insn_ea(c, in), buf, env_size(in), 0);
	env_load(c, in, buf);
}

/* FNSTENV: stores the environment, then masks every exception. */
static void m_fnstenv(struct cpu *c, const struct insn *in, int esc, int r)
{
	(void)esc;
	(void)r;
	uint8_t buf[28];
	env_build(c, in, buf);
	mem_write_buf(c, in->seg, insn_ea(c, in), buf, env_size(in), 0);
	fx_put16(c, FX_FCW, (uint16_t)(fcw(c) | SW_EXC));
}

static void fninit(struct cpu *c)
{
	memset(c->fxsave, 0, FX_MXCSR);         /* FCW..FDP; MXCSR is left alone */
	fx_put16(c, FX_FCW, 0x37f);
}

/* FRSTOR: the environment, then ST0-7 as 10-byte values. */
static void m_frstor(struct cpu *c, const struct insn *in, int esc, int r)
{
	(void)esc;
	(void)r;
	uint8_t buf[108];
	int env = env_size(in);
	mem_read_buf(c, in->seg, insn_ea(c, in), buf, env + 80, 0);
	env_load(c, in, buf);
	for (int i = 0; i < 8; i++) {
		memcpy(c->fxsave + FX_ST(i), buf + env + 10 * i, 10);
		memset(c->fxsave + FX_ST(i) + 10, 0, 6);
	}
}

/* FNSAVE: FNSTENV plus the registers, then FNINIT. */
static void m_fnsave(struct cpu *c, const struct insn *in, int esc, int r)
{
	(void)esc;
	(void)r;
	uint8_t buf[108];
	int env = env_size(in);
	env_build(c, in, buf);
	for (int i = 0; i < 8; i++)
		memcpy(buf + env + 10 * i, c->fxsave + FX_ST(i), 10);
	mem_write_buf(c, in->seg, insn_ea(c, in), buf, env + 80, 0);
	fninit(c);
}

/* ---- register-operand instructions ---- */

typedef void x87_reg_fn(struct cpu *c, int esc, int r, int i);

/* D8: ST0 = ST0 op ST(i) */
static void r_arith_st0(struct cpu *c, int esc, int r, int i)
{
	(void)esc;
	arith_reg(c, r, 0, i, 0);
}

/* DC and DE: ST(i) = ST(i) op ST0, where the encodings of SUB/SUBR and DIV/DIVR are swapped. */
static void r_arith_sti(struct cpu *c, int esc, int r, int i)
{
	int op = r >= 4 ? r ^ 1 : r;
	if (esc == 6 && r == 3) {               /* DE D9: FCOMPP */
		if (i != 1)
			UD(c);
		compare_reg(c, 1, 0, 0, 2);
		return;
	}
	if (op == A_COM || op == A_COMP) {      /* aliases of D8 D0/D8; DE D0 pops */
		compare_reg(c, i, 0, 0, op == A_COMP || esc == 6);
		return;
	}
	arith_reg(c, op, i, 0, esc == 6);
}

/* FLD ST(i) */
static void r_fld(struct cpu *c, int esc, int r, int i)
{
	(void)esc;
	(void)r;
	struct f80 v;
	if (st_empty(c, i)) {
		if (!underflow(c))
			return;
		v = f80_indefinite;
	} else {
		st_read(c, i, &v);
	}
	fpu_push(c, &v);
}

/* FXCH ST(i) (D9 C8, and the aliases DD C8, DF C8) */
static void r_fxch(struct cpu *c, int esc, int r, int i)
{
	(void)esc;
	(void)r;
	struct f80 a, b;
	if (st_empty(c, 0) || st_empty(c, i)) {
		if (!underflow(c))
			return;
		if (st_empty(c, 0))
			st_write(c, 0, &f80_indefinite);
		if (st_empty(c, i))
			st_write(c, i, &f80_indefinite);
	}
	st_read(c, 0, &a);
	st_read(c, i, &b);
	st_write(c, 0, &b);
	st_write(c, i, &a);
	set_cc(c, SW_C1, 0);
}

/* FST/FSTP ST(i) (DD D0/D8, and the aliases D9 D8, DF D0/D8) */
static void r_fst(struct cpu *c, int esc, int r, int i)
{
	int pop = esc != 5 || r == 3;
	struct f80 v;
	if (st_empty(c, 0)) {
		if (!underflow(c))
			return;
		v = f80_indefinite;
	} else {
		st_read(c, 0, &v);
		set_cc(c, SW_C1, 0);
	}
	st_write(c, i, &v);
	if (pop)
		fpu_pop(c);
}

/* FFREE ST(i); FFREEP ST(i) (DF C0) also pops. */
static void r_ffree(struct cpu *c, int esc, int r, int i)
{
	(void)r;
	set_tag(c, i, 0);
	if (esc == 7)
		fpu_pop(c);
}

/* FUCOM/FUCOMP ST(i) */
static void r_fucom(struct cpu *c, int esc, int r, int i)
{
	(void)esc;
	compare_reg(c, i, 1, 0, r == 5);
}

/* FUCOMI/FCOMI (DB), FUCOMIP/FCOMIP (DF) */
static void r_fcomi(struct cpu *c, int esc, int r, int i)
{
	compare_reg(c, i, r == 5, 1, esc == 7);
}

/* DA E9: FUCOMPP */
static void r_fucompp(struct cpu *c, int esc, int r, int i)
{
	(void)esc;
	(void)r;
	if (i != 1)
		UD(c);
	compare_reg(c, 1, 1, 0, 2);
}

/* FCMOVcc: DA /0-3 B, E, BE, U; DB /0-3 the negations. */
static void r_fcmov(struct cpu *c, int esc, int r, int i)
{
	static const int cc[4] = { 2, 4, 6, 10 };      /* Jcc codes of B, E, BE, P */
	if (st_empty(c, 0) || st_empty(c, i)) {
		if (underflow(c))
			st_write(c, 0, &f80_indefinite);
		return;
	}
	set_cc(c, SW_C1, 0);
	if (cond_true(c, cc[r] | (esc == 3))) {
		struct f80 v;
		st_read(c, i, &v);
		st_write(c, 0, &v);
	}
}

/* ---- D9 E0-FF and DB E0-E7: operations selected by ModRM.rm ---- */

typedef uint16_t host_op1_fn(struct f80 *r, const struct f80 *a);

/* ST0 = f(ST0); out_of_range: sets C2 and leaves ST0 for |x| >= 2^63 (FSIN, FCOS). */
static void unary(struct cpu *c, host_op1_fn *f, int out_of_range)
{
	struct f80 a, r;
	if (st_empty(c, 0)) {
		if (underflow(c))
			st_write(c, 0, &f80_indefinite);
		return;
	}
	st_read(c, 0, &a);
	if (out_of_range) {
		if ((a.se & 0x7fff) != 0x7fff && (a.se & 0x7fff) >= 0x3fff + 63) {
			set_cc(c, SW_C2, SW_C2);
			return;
		}
		set_cc(c, SW_C2, 0);
	}
	uint16_t saved = host_begin(c);
	unsigned sw = f(&r, &a);
	host_end(saved);
	if (x87_complete(c, sw | exact_tiny(c, &r), STOP_REG))
		st_write(c, 0, &r);
}

/* ST1 = f(ST0, ST1) then pop (FPATAN, FYL2X, FYL2XP1), or ST0 = f(ST0, ST1) (FPREM, FSCALE). */
static void binary(struct cpu *c, host_op2_fn *f, int pop, int set_quotient)
{
	struct f80 a, b, r;
	if (st_empty(c, 0) || st_empty(c, 1)) {
		if (underflow(c)) {
			st_write(c, pop, &f80_indefinite);
			if (pop)
				fpu_pop(c);
		}
		return;
	}
	st_read(c, 0, &a);
	st_read(c, 1, &b);
	uint16_t saved = host_begin(c);
	unsigned sw = f(&r, &a, &b);
	host_end(saved);
	if (!x87_complete(c, sw | exact_tiny(c, &r), STOP_REG))
		return;
	if (set_quotient)
		set_cc(c, SW_CC, sw);
	st_write(c, pop, &r);
	if (pop)
		fpu_pop(c);
}

typedef uint16_t host_split_fn(struct f80 *r0, struct f80 *r1, const struct f80 *a);

/* ST0 becomes two values, r1 replacing it and r0 pushed (FSINCOS, FPTAN, FXTRACT). */
static void split(struct cpu *c, host_split_fn *f, int out_of_range)
{
	struct f80 a, r0, r1;
	if (st_empty(c, 0)) {
		if (underflow(c)) {
			st_write(c, 0, &f80_indefinite);
			fpu_push(c, &f80_indefinite);
		}
		return;
	}
	if (!st_empty(c, 7)) {
		fpu_push(c, &f80_indefinite);       /* stack overflow */
		return;
	}
	st_read(c, 0, &a);
	if (out_of_range) {
		if ((a.se & 0x7fff) != 0x7fff && (a.se & 0x7fff) >= 0x3fff + 63) {
			set_cc(c, SW_C2, SW_C2);
			return;
		}
		set_cc(c, SW_C2, 0);
	}
	uint16_t saved = host_begin(c);
	unsigned sw = f(&r0, &r1, &a);
	host_end(saved);
	if (!x87_complete(c, sw, STOP_REG))
		return;
	st_write(c, 0, &r1);
	fpu_push(c, &r0);
}

/* FTST and FXAM */
static void examine(struct cpu *c, int fxam)
{
	struct f80 a;
	if (st_empty(c, 0)) {
		if (fxam) {
			st_read(c, 0, &a);
			set_cc(c, SW_CC, SW_C3 | SW_C0 | ((a.se & 0x8000) ? SW_C1 : 0));
		} else if (underflow(c)) {
			set_cc(c, SW_CC, SW_C3 | SW_C2 | SW_C0);
		}
		return;
	}
	st_read(c, 0, &a);
	uint16_t saved = host_begin(c);
	unsigned sw = fxam ? h_fxam(&a) : h_ftst(&a);
	host_end(saved);
	if (x87_raise(c, sw & SW_EXC) & (SW_IE | SW_DE))
		return;
	set_cc(c, SW_CC, fxam ? sw : sw & ~SW_C1);
}

/* D9 E0-E7: FCHS, FABS, FTST, FXAM */
static void r_d9e0(struct cpu *c, int esc, int r, int i)
{
	(void)esc;
	(void)r;
	if (i == 4 || i == 5) {
		examine(c, i == 5);
		return;
	}
	if (i > 1)
		UD(c);
	if (st_empty(c, 0)) {
		if (underflow(c))
			st_write(c, 0, &f80_indefinite);
		return;
	}
	struct f80 a;
	st_read(c, 0, &a);
	a.se = i ? (uint16_t)(a.se & 0x7fff) : (uint16_t)(a.se ^ 0x8000);
	st_write(c, 0, &a);
	set_cc(c, SW_C1, 0);
}

/* D9 E8-EE: FLD1, FLDL2T, FLDL2E, FLDPI, FLDLG2, FLDLN2, FLDZ */
static void r_const(struct cpu *c, int esc, int r, int i)
{
	typedef uint16_t const_fn(struct f80 *r);
	static const_fn *const consts[7] = { h_fld1, h_fldl2t, h_fldl2e, h_fldpi, h_fldlg2, h_fldln2, h_fldz };
	(void)esc;
	(void)r;
	if (i == 7)
		UD(c);
	struct f80 v;
	uint16_t saved = host_begin(c);
	consts[i](&v);
	host_end(saved);
	fpu_push(c, &v);
}

/* D9 F0-F7 */
static void r_d9f0(struct cpu *c, int esc, int r, int i)
{
	(void)esc;
	(void)r;
	switch (i) {
	case 0: unary(c, h_f2xm1, 0); break;
	case 1: binary(c, h_fyl2x, 1, 0); break;
	case 2: split(c, h_fptan, 1); break;
	case 3: binary(c, h_fpatan, 1, 0); break;
	case 4: split(c, h_fxtract, 0); break;
	case 5: binary(c, h_fprem1, 0, 1); break;
	case 6: rotate(c, -1); set_cc(c, SW_C1, 0); break;     /* FDECSTP */
	default: rotate(c, 1); set_cc(c, SW_C1, 0); break;     /* FINCSTP */
	}
}

/* D9 F8-FF */
static void r_d9f8(struct cpu *c, int esc, int r, int i)
{
	(void)esc;
	(void)r;
	switch (i) {
	case 0: binary(c, h_fprem, 0, 1); break;
	case 1: binary(c, h_fyl2xp1, 1, 0); break;
	case 2: unary(c, h_fsqrt, 0); break;
	case 3: split(c, h_fsincos, 1); break;
	case 4: unary(c, h_frndint, 0); break;
	case 5: binary(c, h_fscale, 0, 0); break;
	case 6: unary(c, h_fsin, 1); break;
	default: unary(c, h_fcos, 1); break;
	}
}

/* D9 D0: FNOP */
static void r_fnop(struct cpu *c, int esc, int r, int i)
{
	(void)esc;
	(void)r;
	if (i != 0)
		UD(c);
}

/* DB E0-E4: FENI and FDISI (8087 only), FNCLEX, FNINIT, FSETPM (80287 only): not waiting. */
static void r_dbe0(struct cpu *c, int esc, int r, int i)
{
	(void)esc;
	(void)r;
	if (i == 2)
		fx_put16(c, FX_FSW, fsw(c) & 0x7f00);
	else if (i == 3)
		fninit(c);
	else if (i > 4)
		UD(c);
}

/* DF E0: FNSTSW AX */
static void r_fnstsw_ax(struct cpu *c, int esc, int r, int i)
{
	(void)esc;
	(void)r;
	if (i != 0)
		UD(c);
	reg_write(c, R_AX, 2, fsw(c));
}

/* ---- dispatch ---- */

#define NOWAIT 1        /* no check for a pending exception (the FN... control instructions) */

struct x87_mem_op { x87_mem_fn *fn; int flags; };
struct x87_reg_op { x87_reg_fn *fn; int flags; };

#define ARITH8_M { m_arith, 0 }, { m_arith, 0 }, { m_arith, 0 }, { m_arith, 0 }, \
		 { m_arith, 0 }, { m_arith, 0 }, { m_arith, 0 }, { m_arith, 0 }

/* [escape byte - D8][ModRM.reg] for memory operands */
static const struct x87_mem_op mem_ops[8][8] = {
	[0] = { ARITH8_M },
	[1] = { { m_fld, 0 }, { 0, 0 }, { m_fst, 0 }, { m_fst, 0 },
		{ m_fldenv, 0 }, { m_fldcw, 0 }, { m_fnstenv, NOWAIT }, { m_fnstcw, NOWAIT } },
	[2] = { ARITH8_M },
	[3] = { { m_fild, 0 }, { m_fisttp, 0 }, { m_fist, 0 }, { m_fist, 0 },
		{ 0, 0 }, { m_fld, 0 }, { 0, 0 }, { m_fst, 0 } },
	[4] = { ARITH8_M },
	[5] = { { m_fld, 0 }, { m_fisttp, 0 }, { m_fst, 0 }, { m_fst, 0 },
		{ m_frstor, 0 }, { 0, 0 }, { m_fnsave, NOWAIT }, { m_fnstsw, NOWAIT } },
	[6] = { ARITH8_M },
	[7] = { { m_fild, 0 }, { m_fisttp, 0 }, { m_fist, 0 }, { m_fist, 0 },
		{ m_fbld, 0 }, { m_fild, 0 }, { m_fbstp, 0 }, { m_fist, 0 } },
};

#define R8(f) { f, 0 }, { f, 0 }, { f, 0 }, { f, 0 }, { f, 0 }, { f, 0 }, { f, 0 }, { f, 0 }

/* [escape byte - D8][ModRM.reg] for register operands; the function gets ModRM.rm */
static const struct x87_reg_op reg_ops[8][8] = {
	[0] = { R8(r_arith_st0) },
	[1] = { { r_fld, 0 }, { r_fxch, 0 }, { r_fnop, 0 }, { r_fst, 0 },
		{ r_d9e0, 0 }, { r_const, 0 }, { r_d9f0, 0 }, { r_d9f8, 0 } },
	[2] = { { r_fcmov, 0 }, { r_fcmov, 0 }, { r_fcmov, 0 }, { r_fcmov, 0 },
		{ 0, 0 }, { r_fucompp, 0 } },
	[3] = { { r_fcmov, 0 }, { r_fcmov, 0 }, { r_fcmov, 0 }, { r_fcmov, 0 },
		{ r_dbe0, NOWAIT }, { r_fcomi, 0 }, { r_fcomi, 0 } },
	[4] = { R8(r_arith_sti) },
	[5] = { { r_ffree, 0 }, { r_fxch, 0 }, { r_fst, 0 }, { r_fst, 0 },
		{ r_fucom, 0 }, { r_fucom, 0 } },
	[6] = { R8(r_arith_sti) },
	[7] = { { r_ffree, 0 }, { r_fxch, 0 }, { r_fst, 0 }, { r_fst, 0 },
		{ r_fnstsw_ax, NOWAIT }, { r_fcomi, 0 }, { r_fcomi, 0 } },
};

/* D8-DF: #NM when CR0.EM or CR0.TS says the FPU is not ours to touch. */
void op_fpu(struct cpu *c, const struct insn *in)
{
	int esc = in->op & 7, r = in->reg & 7;
	if (c->cr0 & (CR0_EM | CR0_TS))
		cpu_fault_noerr(c, EX_NM);
	if (in->mod == 3) {
		const struct x87_reg_op *o = &reg_ops[esc][r];
		if (!o->fn)
			UD(c);
		if (!(o->flags & NOWAIT))
			x87_wait(c);
		o->fn(c, esc, r, in->rm & 7);
		return;
	}
	const struct x87_mem_op *o = &mem_ops[esc][r];
	if (!o->fn)
		UD(c);
	if (!(o->flags & NOWAIT))
		x87_wait(c);
	o->fn(c, in, esc, r);
}

/* WAIT/FWAIT: #NM under CR0.MP and CR0.TS, then any pending exception. */
void op_fwait(struct cpu *c, const struct insn *in)
{
	(void)in;
	if ((c->cr0 & (CR0_MP | CR0_TS)) == (CR0_MP | CR0_TS))
		cpu_fault_noerr(c, EX_NM);
	x87_wait(c);
}

/* ---- MMX ---- */

void mmx_check(struct cpu *c)
{
	if (c->cr0 & CR0_EM)
		UD(c);
	if (c->cr0 & CR0_TS)
		cpu_fault_noerr(c, EX_NM);
	x87_wait(c);
}

/* MMX register i is physical register i: with TOP = 0 that is ST(i). */
void mmx_enter(struct cpu *c)
{
	while (fpu_top(c))
		rotate(c, 1);
	c->fxsave[FX_FTW] = 0xff;
}
