/*
 * Helpers shared by the instruction files of the CPU: register access by
 * operand size, lazy flags, operand addressing, guest memory access
 * through the software TLB, and raising faults.
 */
#ifndef RUNVM_SOFT_CPU_INTERNAL_H
#define RUNVM_SOFT_CPU_INTERNAL_H

#include <string.h>

#include "cpu.h"

#define likely(x)   __builtin_expect(!!(x), 1)
#define unlikely(x) __builtin_expect(!!(x), 0)
#define NORETURN __attribute__((noreturn))
/* For helpers whose constant arguments must fold in each specialized handler. */
#define ALWAYS_INLINE inline __attribute__((always_inline))

/* ---- faults and exits (exception.c) ---- */

/* Raises an exception in the guest: aborts the current instruction. */
NORETURN void cpu_fault(struct cpu *c, int vector, uint32_t err);
NORETURN void cpu_fault_noerr(struct cpu *c, int vector);
/* Stops with a VM exit before the current instruction retires. */
NORETURN void cpu_vmexit(struct cpu *c, int reason, uint64_t qual);
/* Why the execution loop's setjmp returned. */
enum { JMP_FAULT = 1, JMP_EXIT = 2 };
/* Delivers the fault in c->fault, or triple-faults (an exit). */
void cpu_handle_fault(struct cpu *c);
/* Delivers an event through the IVT/IDT (interrupts, exceptions). */
void cpu_deliver(struct cpu *c, const struct cpu_event *ev);
#define UD(c) cpu_fault_noerr(c, EX_UD)
#define GP0(c) cpu_fault(c, EX_GP, 0)

/* ---- registers ---- */

static inline uint64_t size_mask(int size)
{
	return size == 8 ? ~0ULL : (1ULL << (size * 8)) - 1;
}

static inline uint64_t sign_extend(uint64_t v, int size)
{
	switch (size) {
	case 1: return (uint64_t)(int64_t)(int8_t)v;
	case 2: return (uint64_t)(int64_t)(int16_t)v;
	case 4: return (uint64_t)(int64_t)(int32_t)v;
	default: return v;
	}
}

static inline uint64_t reg_read(struct cpu *c, int r, int size)
{
	switch (size) {
	case 1: return r < 16 ? (uint8_t)c->gpr[r] : (uint8_t)(c->gpr[r - 16] >> 8);
	case 2: return (uint16_t)c->gpr[r];
	case 4: return (uint32_t)c->gpr[r];
	default: return c->gpr[r];
	}
}

/* Writes like the hardware: 32-bit writes zero the upper half. */
static inline void reg_write(struct cpu *c, int r, int size, uint64_t v)
{
	switch (size) {
	case 1:
		if (r < 16)
			c->gpr[r] = (c->gpr[r] & ~0xffULL) | (uint8_t)v;
		else
			c->gpr[r - 16] = (c->gpr[r - 16] & ~0xff00ULL) | ((uint64_t)(uint8_t)v << 8);
		break;
	case 2: c->gpr[r] = (c->gpr[r] & ~0xffffULL) | (uint16_t)v; break;
	case 4: c->gpr[r] = (uint32_t)v; break;
	default: c->gpr[r] = v; break;
	}
}

/* ---- flags (alu.c) ---- */

/*
 * Lazy kinds beyond cpu.h's, for shifts (lf_a = the operand, lf_b = the
 * masked count) and multiplies (lf_a = 1 when the product overflowed).
 * Every kind keeps lf_res, lf_a and lf_b masked to the operand size.
 */
enum { LF_SHL = 32, LF_SHR = 36, LF_SAR = 40, LF_MUL = 44 };
/*
 * Added to a lazy kind by rotates: CF and OF are in RFLAGS already, the
 * other four still come from the lazy operands.
 */
#define LF_EAGER_CFOF 0x80u
#define LF_KIND(op) ((op) & 0x7cu)

uint64_t flags_arith(struct cpu *c);     /* the six arithmetic flags, computed */
int cond_true(struct cpu *c, int cc);    /* Jcc/SETcc/CMOVcc condition 0-15 */

static inline int size_log2(int size)
{
	return size == 8 ? 3 : size == 4 ? 2 : size == 2 ? 1 : 0;
}

static inline void set_lazy(struct cpu *c, int kind, int size, uint64_t res, uint64_t a, uint64_t b)
{
	c->lf_op = kind | size_log2(size);
	c->lf_res = res;
	c->lf_a = a;
	c->lf_b = b;
}

/* Makes RFLAGS hold the arithmetic flags, for instructions that change only some. */
static inline void flags_eager(struct cpu *c)
{
	if (c->lf_op) {
		c->flags = (c->flags & ~(uint64_t)F_ARITH) | flags_arith(c);
		c->lf_op = 0;
	}
}

static inline int get_cf(struct cpu *c)
{
	int size = 1 << (c->lf_op & 3);
	uint64_t m = size_mask(size), sign = 1ULL << (size * 8 - 1);
	uint64_t a = c->lf_a & m, b = c->lf_b & m, res = c->lf_res & m;
	if (c->lf_op & LF_EAGER_CFOF)
		return (int)(c->flags & F_CF);
	switch (c->lf_op & ~3u) {
	case LF_NONE:
	case LF_INC:
	case LF_DEC:
		return (int)(c->flags & F_CF);
	case LF_LOGIC:
		return 0;
	case LF_ADD:
		return res < a;
	case LF_SUB:
		return a < b;
	case LF_ADC:    /* the carry out of the top bit, whatever the carry-in was */
		return !!(((a & b) | ((a | b) & ~res)) & sign);
	case LF_SBB:
		return !!(((~a & b) | ((~a | b) & res)) & sign);
	case LF_MUL:
		return (int)a;
	default:
		return (int)(flags_arith(c) & F_CF);
	}
}

/*
 * A Jcc/SETcc/CMOVcc condition for a constant cc: ZF and SF of any lazy
 * kind, and the carry and signed conditions after CMP/SUB, ADD and logic
 * operations come straight from the lazy operands; the rest from
 * cond_true().
 */
static ALWAYS_INLINE int cond_fast(struct cpu *c, int cc)
{
	uint32_t op = c->lf_op, kind = op & ~3u;
	int sh = 64 - (8 << (op & 3)), r;
	if (unlikely(!op))
		return cond_true(c, cc);
	switch (cc >> 1) {
	case 1:         /* CF */
		if (kind == LF_SUB)
			r = c->lf_a < c->lf_b;
		else if (kind == LF_LOGIC)
			r = 0;
		else
			r = get_cf(c);
		break;
	case 2:         /* ZF */
		r = c->lf_res == 0;
		break;
	case 3:         /* CF or ZF */
		if (kind == LF_SUB)
			r = c->lf_a <= c->lf_b;
		else
			r = c->lf_res == 0 || get_cf(c);
		break;
	case 4:         /* SF */
		r = (int64_t)(c->lf_res << sh) < 0;
		break;
	case 6:         /* SF != OF */
		if (kind == LF_SUB)
			r = (int64_t)(c->lf_a << sh) < (int64_t)(c->lf_b << sh);
		else if (kind == LF_LOGIC)
			r = (int64_t)(c->lf_res << sh) < 0;
		else
			return cond_true(c, cc);
		break;
	case 7:         /* ZF or SF != OF */
		if (kind == LF_SUB)
			r = (int64_t)(c->lf_a << sh) <= (int64_t)(c->lf_b << sh);
		else if (kind == LF_LOGIC)
			r = (int64_t)(c->lf_res << sh) <= 0;
		else
			return cond_true(c, cc);
		break;
	default:        /* OF, PF */
		return cond_true(c, cc);
	}
	return r ^ (cc & 1);
}

/* Sets all six arithmetic flags eagerly. */
static inline void set_flags(struct cpu *c, uint64_t arith)
{
	c->lf_op = 0;
	c->flags = (c->flags & ~(uint64_t)F_ARITH) | (arith & F_ARITH);
}

static inline uint64_t parity_flag(uint64_t v)
{
	return __builtin_parity((unsigned)(v & 0xff)) ? 0 : F_PF;
}

/* ZF, SF and PF of a result of the given size. */
static inline uint64_t szp_flags(uint64_t res, int size)
{
	res &= size_mask(size);
	return (res ? 0 : F_ZF) | ((res >> (size * 8 - 1)) & 1 ? F_SF : 0) | parity_flag(res);
}

/* ---- memory (mmu.c) ---- */

#define ACC_R 0
#define ACC_W 1
#define ACC_X 2
#define ACC_SYS 4               /* implicit supervisor access (descriptor tables, TSS) */

uint64_t lin_read_slow(struct cpu *c, uint64_t lin, int size, int acc);
void lin_write_slow(struct cpu *c, uint64_t lin, int size, uint64_t v, int acc);
/* Host pointer for a read-modify-write, or NULL (page crossing, MMIO). */
uint8_t *lin_rmw_ptr(struct cpu *c, uint64_t lin, int size, int acc);
/* The I/O permission check (IOPL, TSS bitmap); faults with #GP. */
void io_check(struct cpu *c, uint16_t port, int size);
/* Host address of the code byte at lin (NULL: not RAM) and its guest-physical address. */
uint8_t *fetch_ptr_slow(struct cpu *c, uint64_t lin, uint64_t *gpa);
static inline uint8_t *fetch_ptr(struct cpu *c, uint64_t lin, uint64_t *gpa)
{
	struct tlb_entry *e = &c->tlb[c->cpl == 3][(lin >> 12) & (TLB_SIZE - 1)];
	if (likely(e->tag_x == ((lin & ~0xfffULL) | c->tlb_gen))) {
		*gpa = e->gpa | (lin & 0xfff);
		return (uint8_t *)(uintptr_t)(lin + e->addend);
	}
	return fetch_ptr_slow(c, lin, gpa);
}
/* Global pages' entries: no longer listed (a full flush); kept by a flush from generation old. */
void tlb_forget_globals(struct cpu *c);
void tlb_keep_globals(struct cpu *c, uint64_t old);
/* Whether the fetch translation of lin is in the TLB, from a global page. */
int tlb_fetch_global(struct cpu *c, uint64_t lin);
/*
 * Drops the write fast path of TLB entries whose page now holds decoded
 * code (another vCPU or this one decoded from it since they were made).
 */
void tlb_drop_code_writes(struct cpu *c);
/* Translates for an access; returns the guest-physical address, may fault. */
uint64_t mmu_translate(struct cpu *c, uint64_t lin, int acc);
/* Segment limit and rights checks outside 64-bit mode; faults. */
void seg_check(struct cpu *c, int seg, uint64_t off, int size, int acc);
/* Canonical-address check for 64-bit mode. */
static inline int is_canonical(uint64_t a)
{
	return (uint64_t)((int64_t)(a << 16) >> 16) == a;
}

/*
 * Any size from 1 to 8: the halves of an access split at a page end have
 * odd sizes, and must touch exactly their own bytes.
 */
static inline uint64_t host_load(const uint8_t *p, int size)
{
	switch (size) {
	case 1: return *p;
	case 2: { uint16_t v; memcpy(&v, p, 2); return v; }
	case 4: { uint32_t v; memcpy(&v, p, 4); return v; }
	case 8: { uint64_t v; memcpy(&v, p, 8); return v; }
	default: { uint64_t v = 0; memcpy(&v, p, (size_t)size); return v; }
	}
}

static inline void host_store(uint8_t *p, int size, uint64_t v)
{
	switch (size) {
	case 1: *p = (uint8_t)v; break;
	case 2: { uint16_t x = (uint16_t)v; memcpy(p, &x, 2); break; }
	case 4: { uint32_t x = (uint32_t)v; memcpy(p, &x, 4); break; }
	case 8: memcpy(p, &v, 8); break;
	default: memcpy(p, &v, (size_t)size); break;
	}
}

static inline int tlb_user(struct cpu *c, int acc)
{
	return c->cpl == 3 && !(acc & ACC_SYS);
}

static inline uint64_t lin_read(struct cpu *c, uint64_t lin, int size, int acc)
{
	struct tlb_entry *e = &c->tlb[tlb_user(c, acc)][(lin >> 12) & (TLB_SIZE - 1)];
	if (likely(e->tag_r == ((lin & ~0xfffULL) | c->tlb_gen) && (lin & 0xfff) <= (uint64_t)(4096 - size)))
		return host_load((uint8_t *)(uintptr_t)(lin + e->addend), size);
	return lin_read_slow(c, lin, size, acc);
}

static inline void lin_write(struct cpu *c, uint64_t lin, int size, uint64_t v, int acc)
{
	struct tlb_entry *e = &c->tlb[tlb_user(c, acc)][(lin >> 12) & (TLB_SIZE - 1)];
	if (likely(e->tag_w == ((lin & ~0xfffULL) | c->tlb_gen) && (lin & 0xfff) <= (uint64_t)(4096 - size))) {
		host_store((uint8_t *)(uintptr_t)(lin + e->addend), size, v);
		return;
	}
	lin_write_slow(c, lin, size, v, acc);
}

/*
 * Host pointers for an access of size bytes at lin on a TLB hit within
 * one page, else NULL: the inline halves of the fast paths.
 */
static ALWAYS_INLINE uint8_t *tlb_read_ptr(struct cpu *c, uint64_t lin, int size)
{
	struct tlb_entry *e = &c->tlb[c->cpl == 3][(lin >> 12) & (TLB_SIZE - 1)];
	if (likely(e->tag_r == ((lin & ~0xfffULL) | c->tlb_gen) && (lin & 0xfff) <= (uint64_t)(4096 - size)))
		return (uint8_t *)(uintptr_t)(lin + e->addend);
	return NULL;
}

static ALWAYS_INLINE uint8_t *tlb_write_ptr(struct cpu *c, uint64_t lin, int size)
{
	struct tlb_entry *e = &c->tlb[c->cpl == 3][(lin >> 12) & (TLB_SIZE - 1)];
	if (likely(e->tag_w == ((lin & ~0xfffULL) | c->tlb_gen) && (lin & 0xfff) <= (uint64_t)(4096 - size)))
		return (uint8_t *)(uintptr_t)(lin + e->addend);
	return NULL;
}

/* Segment offset to linear address, with the checks of the mode. */
static inline uint64_t seg_lin(struct cpu *c, int seg, uint64_t off, int size, int acc)
{
	if (c->mode == MODE_LONG)
		return c->sbase[seg] + off;
	seg_check(c, seg, off, size, acc);
	return (uint32_t)(c->sbase[seg] + off);
}

static inline uint64_t mem_read(struct cpu *c, int seg, uint64_t off, int size)
{
	return lin_read(c, seg_lin(c, seg, off, size, ACC_R), size, ACC_R);
}

static inline void mem_write(struct cpu *c, int seg, uint64_t off, int size, uint64_t v)
{
	lin_write(c, seg_lin(c, seg, off, size, ACC_W), size, v, ACC_W);
}

/* Effective address (segment offset) of a ModRM memory operand. */
static inline uint64_t insn_ea(struct cpu *c, const struct insn *in)
{
	uint64_t a = (uint64_t)(int64_t)in->disp;
	if (in->base != NOREG)
		a += c->gpr[in->base];
	if (in->index != NOREG)
		a += c->gpr[in->index] << in->scale;
	if (in->pfx & PFX_RIPREL)
		a += c->next_rip;
	return in->adsize == 8 ? a : a & size_mask(in->adsize);
}

/*
 * The same for handlers specialized for 64-bit code with a 64-bit
 * address size (the decoder only picks them there): no masking, and no
 * segment checks, as the mode has none.
 */
static ALWAYS_INLINE uint64_t ea_off64(struct cpu *c, const struct insn *in)
{
	uint64_t a = (uint64_t)(int64_t)in->disp;
	if (in->base != NOREG)
		a += c->gpr[in->base];
	if (in->index != NOREG)
		a += c->gpr[in->index] << in->scale;
	if (in->pfx & PFX_RIPREL)
		a += c->next_rip;
	return a;
}

/* Linear address of the memory operand of 64-bit code. */
static ALWAYS_INLINE uint64_t ea_lin64(struct cpu *c, const struct insn *in)
{
	return c->sbase[in->seg] + ea_off64(c, in);
}

/* Whether a memory operand can take the 64-bit fast paths. */
static inline int fast_mem64(const struct insn *in, int code_size)
{
	return code_size == 8 && in->mod != 3 && in->adsize == 8 && !(in->pfx & PFX_LOCK);
}

/* The r/m operand: a register or memory. */
static inline uint64_t rm_read(struct cpu *c, const struct insn *in, int size)
{
	if (in->mod == 3)
		return reg_read(c, in->rm, size);
	return mem_read(c, in->seg, insn_ea(c, in), size);
}

static inline void rm_write(struct cpu *c, const struct insn *in, int size, uint64_t v)
{
	if (in->mod == 3)
		reg_write(c, in->rm, size, v);
	else
		mem_write(c, in->seg, insn_ea(c, in), size, v);
}

/*
 * Read-modify-write of the r/m operand: dst = f(c, arg, dst, src); returns
 * the old value.
 * Memory operands with LOCK (or always, for XCHG) are updated atomically
 * on the host copy of guest RAM.
 */
typedef uint64_t rmw_fn(struct cpu *c, int arg, int size, uint64_t dst, uint64_t src);
uint64_t mem_rmw(struct cpu *c, int seg, uint64_t off, int size, rmw_fn *f, int arg,
		 uint64_t src, int atomic);
static inline uint64_t rm_rmw(struct cpu *c, const struct insn *in, int size, rmw_fn *f,
			      int arg, uint64_t src, int atomic)
{
	if (in->mod == 3) {
		uint64_t old = reg_read(c, in->rm, size);
		reg_write(c, in->rm, size, f(c, arg, size, old, src));
		return old;
	}
	return mem_rmw(c, in->seg, insn_ea(c, in), size, f, arg, src, atomic);
}

/* ---- stack (data.c) ---- */

/*
 * A stack cursor: pushes and pops go through it and RSP changes only on
 * commit, so an instruction that faults half-way leaves RSP as it was.
 */
struct stk {
	uint64_t sp, base, mask;
	int acc;
};

static inline void stk_init(struct cpu *c, struct stk *s)
{
	s->sp = c->gpr[R_SP];
	s->base = c->sbase[S_SS];
	s->mask = c->stack_mask;
	s->acc = 0;
}

static inline void stk_push(struct cpu *c, struct stk *s, int size, uint64_t v)
{
	s->sp = (s->sp & ~s->mask) | ((s->sp - (uint64_t)size) & s->mask);
	uint64_t lin = s->base + (s->sp & s->mask);
	if (c->mode != MODE_LONG) {
		lin = (uint32_t)lin;
		if (c->mode != MODE_REAL && (s->sp & s->mask) + (uint64_t)size - 1 > c->seg[S_SS].limit &&
		    !(SEG_TYPE(c->seg[S_SS].attr) & 4))
			cpu_fault(c, EX_SS, 0);
	}
	lin_write(c, lin, size, v, ACC_W | s->acc);
}

static inline uint64_t stk_pop(struct cpu *c, struct stk *s, int size)
{
	uint64_t lin = s->base + (s->sp & s->mask);
	if (c->mode != MODE_LONG)
		lin = (uint32_t)lin;
	uint64_t v = lin_read(c, lin, size, ACC_R | s->acc);
	s->sp = (s->sp & ~s->mask) | ((s->sp + (uint64_t)size) & s->mask);
	return v;
}

static inline void stk_commit(struct cpu *c, struct stk *s)
{
	c->gpr[R_SP] = s->sp;
}

void push(struct cpu *c, int size, uint64_t v);
uint64_t pop(struct cpu *c, int size);

/* ---- segments (seg.c) ---- */
/* Loads a data/stack segment register as MOV/POP/LDS would; faults. */
void load_seg(struct cpu *c, int sreg, uint16_t sel);
/* Sets a segment register from a real-mode style selector (base = sel << 4). */
void load_seg_real(struct cpu *c, int sreg, uint16_t sel);
/* Reads the 8-byte descriptor for sel (GDT or LDT); returns 0 or faults with err. */
uint64_t read_descriptor(struct cpu *c, uint16_t sel, int vector);
void write_descriptor_accessed(struct cpu *c, uint16_t sel, uint64_t desc);
/* Fills a struct seg from a descriptor. */
void seg_from_desc(struct seg *s, uint16_t sel, uint64_t desc);
/* Far transfers (control.c / seg.c). */
void far_jump(struct cpu *c, uint16_t sel, uint64_t off, int opsize);
void far_call(struct cpu *c, uint16_t sel, uint64_t off, int opsize);
void far_return(struct cpu *c, int opsize, uint16_t extra_pop);
void do_iret(struct cpu *c, int opsize);
/* The RFLAGS bits POPF/IRET may change at the current privilege. */
uint64_t popf_mask(struct cpu *c, int size);
void set_cs_for_mode(struct cpu *c);

/* ---- system (system.c) ---- */
void set_cr0(struct cpu *c, uint64_t v);
void set_cr4(struct cpu *c, uint64_t v);
void set_cr3(struct cpu *c, uint64_t v);

/* ---- I/O (exec.c): port and MMIO accesses through the replay log ---- */
void io_access(struct cpu *c, int is_mmio, int is_write, uint64_t addr, int size,
	       uint32_t count, void *data);
void io_commit(struct cpu *c);

/*
 * Threaded dispatch: a specialized handler ends by running the next
 * decoded instruction of its block itself, so that every handler has
 * a jump of its own to predict. A block's instructions are followed by
 * a sentinel whose handler (insn_block_end) returns: the chain unwinds
 * to the loop in exec.c, as it does when an instruction stopped (or a
 * generic handler returned). c->cur tells the loop where it got to.
 * Only the last instruction of a block branches, so the next RIP is
 * known here; a handler that changes RIP otherwise sets c->stop.
 */
insn_fn insn_block_end;

static ALWAYS_INLINE void insn_next(struct cpu *c, const struct insn *in)
{
	if (unlikely(c->stop))
		return;
	const struct insn *n = in + 1;
	/* From the block's start, not the last RIP: no chain through memory. */
	uint64_t base = c->block_rip;
	c->rip = base + in->end;
	c->next_rip = base + n->end;
	c->cur = n;
	n->fn(c, n);
}

/*
 * Pure handlers: register operands only, so they cannot fault, stop, or
 * look at RIP. Nothing needs RIP or c->cur while one runs, and nothing
 * but the instruction after it could need them next: each pure handler
 * comes in variants, and once a block is decoded, exec.c picks one per
 * instruction (pure_finish_block()):
 *   PV_SYNC     as decoded: sets RIP and c->cur up for the next instruction;
 *   PV_LEAN     for when the next instruction is pure too: a bare jump to it;
 *   PV_NF, PV_NF_LEAN   the same without the arithmetic flags, for when
 *               the next instructions overwrite them before anything reads
 *               them (flags are live at every block end, and before
 *               anything that is not pure: a fault must see them exact).
 * They never see c->stop set (whatever ran before them checked it) and
 * never set it.
 */
enum { PV_SYNC, PV_LEAN, PV_NF, PV_NF_LEAN };
/* What a pure handler does with the six arithmetic flags. */
enum {
	PF_NONE,        /* leaves them */
	PF_READ,        /* reads them (CMOVcc, SETcc, ADC): no flag-less variant */
	PF_WRITE,       /* overwrites all six without reading them */
	PF_PASS,        /* may keep some (INC/DEC keep CF; a zero count keeps all) */
	PF_SHIFT,       /* SHL, SHR, SAR by an immediate: PF_WRITE, or PF_NONE when the count is 0 */
};
struct pure_variants {
	insn_fn *v[4];          /* [PV_*] */
	uint8_t flags;          /* PF_* */
	uint8_t regs;           /* JR_*: which fields name the registers it uses (jit.c); 0: none known */
};
#define JR_REG     1    /* in->reg (a byte register id when the operand size is 1) */
#define JR_RM      2    /* in->rm (the same) */
#define JR_RM_BYTE 4    /* in->rm is a byte register id whatever the operand size */
#define JR_EA      8    /* in->base and in->index */
#define JR_CL     16    /* RCX, for the count */
#define JR_DX     32    /* RDX, implied */
#define JR_NONE   64    /* none: a hint NOP, whose operand is never accessed */
#define JR_AX    128    /* RAX, implied */

static ALWAYS_INLINE void insn_next_pure(struct cpu *c, const struct insn *in, int lean)
{
	const struct insn *n = in + 1;
	if (!lean) {
		uint64_t base = c->block_rip;
		c->rip = base + in->end;
		c->next_rip = base + n->end;
		c->cur = n;
	}
	n->fn(c, n);
}

/*
 * Defines the four variants of pure handler name, whose body (the
 * arguments after name) uses c, in and the constant nf (1: the flags are
 * dead, leave them).
 */
#define PURE_FN(name, ...) \
	static ALWAYS_INLINE void name##_body(struct cpu *c, const struct insn *in, int nf) \
	{ (void)nf; __VA_ARGS__; } \
	static void name(struct cpu *c, const struct insn *in) \
	{ name##_body(c, in, 0); insn_next_pure(c, in, 0); } \
	static void name##_l(struct cpu *c, const struct insn *in) \
	{ name##_body(c, in, 0); insn_next_pure(c, in, 1); } \
	static void name##_n(struct cpu *c, const struct insn *in) \
	{ name##_body(c, in, 1); insn_next_pure(c, in, 0); } \
	static void name##_nl(struct cpu *c, const struct insn *in) \
	{ name##_body(c, in, 1); insn_next_pure(c, in, 1); }
#define PURE_ENTRY(name, pf, regs) { { name, name##_l, name##_n, name##_nl }, pf, regs }

/* Each family's pure handlers (alu.c, data.c, shift.c, muldiv.c, bitops.c). */
extern const struct pure_variants alu_pure[], data_pure[], shift_pure[], muldiv_pure[], bitops_pure[];
extern const unsigned alu_npure, data_npure, shift_npure, muldiv_npure, bitops_npure;

/*
 * Memory forms that a run of host code may hold (jit.c): one access at
 * the ModRM operand of 64-bit code, through the TLB; a miss leaves the
 * host code there and the handler does the instruction.
 */
#define JM_READ  1
#define JM_WRITE 2      /* (and read) */
struct mem_form {
	insn_fn *fn;
	uint8_t mem;            /* JM_* */
	uint8_t size;           /* bytes accessed; 0: the operand size */
	uint8_t regs;           /* JR_REG when ModRM.reg names a register it uses */
	uint8_t flags;          /* PF_* */
	uint8_t stack;          /* JS_PUSH, JS_POP: the access is at RSP, which moves; 0: at ModRM */
};
#define JS_PUSH 1
#define JS_POP  2
extern const struct mem_form alu_mem_forms[], data_mem_forms[];
extern const unsigned alu_nmem, data_nmem;

/*
 * Host code for runs of instructions (jit.c): a buffer mapped writable
 * and, elsewhere, executable.
 */
typedef int jit_code(struct cpu *c);    /* returns how many instructions it did, or JIT_* */
/* The code did the branch that ends the block c->cur, which set c->next_rip. */
#define JIT_BRANCHED (-1)
/* A memory access missed the TLB: c->cur's own handler must do it. */
#define JIT_MISS (-2)
/*
 * c->jit_flags holds the flags as host code keeps them (jit.c: AX after
 * LAHF and SETO AL); its low byte is 0 or 1 once the code put them there.
 */
#define JIT_FLAGS_NONE 0xffu
static inline uint64_t jit_flags_pack(uint64_t flags)
{
	return ((flags & (F_SF | F_ZF | F_AF | F_PF | F_CF)) | 2) << 8 | !!(flags & F_OF);
}
static inline uint64_t jit_flags_unpack(uint64_t v)
{
	return ((v >> 8) & (F_SF | F_ZF | F_AF | F_PF | F_CF)) | (v & 1 ? F_OF : 0);
}
/* Before each run's code: what running it needs besides the code. */
struct jit_head {
	insn_fn *fn;            /* the first instruction's own handler */
	uint32_t flags_in;      /* the code reads the guest's flags (c->jit_flags) */
	uint32_t n;             /* instructions in the run */
};
struct jit {
	uint8_t *rw;
	const uint8_t *rx;
	size_t size, used;
	uint8_t *follow;        /* the hosted blocks' shared follow (jit.c), NULL until needed */
};
int jit_init(struct jit *j, size_t size);
void jit_free(struct jit *j);
/* An instruction of a run, as the translator sees it. */
struct jit_insn {
	const struct insn *in;
	uint8_t regs;           /* JR_* */
	uint8_t flags;          /* PF_* */
	uint8_t mem;            /* 0 (pure), JM_READ or JM_WRITE */
	uint8_t size;           /* bytes of its memory access */
	uint8_t stack;          /* JS_* */
	uint8_t flags_live;     /* memory: the flags as they are before it are read later */
};
int jit_insn_ok(const struct jit_insn *ji);
/*
 * A run that is a whole block but its last instruction, a JMP or Jcc
 * back to the run's first one: the code loops itself, as block_next()
 * would chain the block to itself.
 */
struct jit_loop {
	int cc;                 /* the Jcc's condition (0-15); JIT_JMP; -1: no loop */
	uint16_t end;           /* where the branch ends, from the block's start */
};
#define JIT_JMP 16
/*
 * A hosted block: all of it is host code, its JMP, Jcc, CALL or RET
 * (near, 64-bit, relative but RET) included, and where the branch goes
 * the code follows the block's links itself, with the checks of
 * block_next(), into the next hosted block's code (at JIT_CHAIN_ENTRY:
 * every hosted block saves the same host registers on entry). What the
 * code needs to know of the block and its cache; the offsets are those
 * of struct block (exec.c).
 */
struct jit_chain {
	const void *block;
	uint16_t n;                     /* its instructions */
	const struct insn *insns;       /* the cache's instructions: block->first indexes them */
	const struct insn *branch;      /* the block's last instruction */
	int cc;                         /* its condition (0-15), JIT_JMP, JIT_CALL or JIT_RET */
	int32_t taken;                  /* where it goes when taken, from the block's start */
	uint16_t pop;                   /* RET: bytes it pops besides the address */
	uint16_t end;                   /* where the block ends, from its start */
	uint16_t link_tag, link_lin, link, gen, gen_seen, stamp, code, first;      /* offsets in the block */
	uint16_t jc_lin, jc_tag, jc_block, jc_size;     /* of a jump-cache entry (exec.c) */
	uint8_t jc_bits;                /* the jump cache has 2^jc_bits of them */
};
#define JIT_CALL 17
#define JIT_RET 18
/* An empty link slot: not canonical, so no branch that reaches a link goes there (address 0 may). */
#define LINK_NONE (1ull << 63)
#define JIT_CHAIN_ENTRY 10
jit_code *jit_translate(struct jit *j, const struct jit_insn *ji, int n, const uint8_t *bytes,
			int flags_in, int flags_out, struct jit_loop loop, const struct jit_chain *chain);

/*
 * The end of a block whose last instruction, a near branch of 64-bit
 * code (in), has set c->next_rip: runs the block linked there, if the
 * link still holds and the chain may go on; else returns to the loop.
 */
void block_next(struct cpu *c, const struct insn *in);

/*
 * Whether fn is a near JMP/Jcc/CALL/RET/LOOP handler (control.c): a
 * block that ends with one changes nothing that the checks between
 * blocks look at (RIP, general registers and memory only).
 */
int insn_is_near_branch(insn_fn *fn);
/* The condition of a Jcc handler of 64-bit code (0-15), JIT_JMP for its JMP, else -1. */
int insn_branch_cc(insn_fn *fn);
/* The same, and JIT_CALL and JIT_RET for its relative CALL and its RET. */
int insn_branch_kind(insn_fn *fn);

/* Far-pointer and branch targets, masked to the operand size of the mode. */
static inline void branch_to(struct cpu *c, uint64_t target, int opsize)
{
	if (opsize != 8)
		target &= size_mask(opsize);
	if (c->mode != MODE_LONG && target > c->seg[S_CS].limit)
		GP0(c);
	if (c->mode == MODE_LONG && !is_canonical(target))
		GP0(c);
	c->next_rip = target;
}

static inline uint64_t cpu_iopl(struct cpu *c)
{
	return (c->flags >> 12) & 3;
}

#endif
