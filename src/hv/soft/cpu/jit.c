/*
 * Runs of instructions as host code.
 *
 * A pure instruction (internal.h) works on registers only: it cannot
 * fault, exit or look at RIP, and between two of them nothing but the
 * next one sees the guest state. The guest runs 64-bit x86 code and the
 * host is x86-64, so a run of them in 64-bit code is executed as it is:
 * its bytes are copied between a prologue that loads the guest
 * registers the run uses into the same host registers, and an epilogue
 * that stores them back. One host register the run does not use holds
 * the struct cpu; an instruction that names RSP, the host's stack, ends
 * a run. The arithmetic flags live in the host's RFLAGS for the whole
 * run: they are loaded from the guest only when the run reads them
 * before writing them, and stored only when what comes after the run
 * reads them (the liveness pass of exec.c says).
 *
 * A run may also hold instructions with one plain memory operand (and
 * PUSH and POP): their operand becomes a host address that the code
 * looks up in the soft TLB; a miss leaves the code there, with the
 * registers and the flags stored, and the instruction's own handler
 * does it, faults included.
 *
 * A block that is one such run and a JMP or Jcc back to its own start
 * (a loop) gets the branch too: the code loops itself, with the checks
 * block_next() makes before it chains a block to itself (the chain may
 * go on, the budget holds another pass), and leaves like the branch
 * would when they fail or the Jcc falls through. The registers stay in
 * the host's from one pass to the next.
 *
 * A block that is all such instructions but its last, a relative JMP,
 * Jcc or CALL, or a RET, is hosted (struct jit_chain): its code does the
 * branch too, and where the branch goes it follows the block's links as
 * block_next() would, into the next hosted block's code, without going
 * back to C; that follow is one routine per code buffer, which every
 * branch jumps to. Every hosted block's code saves the same host
 * registers, and leaves the guest's registers and exact flags in struct
 * cpu.
 *
 * The code goes to a buffer mapped twice, writable and executable, so
 * that no page is both; it empties with the block cache.
 */
#include <pthread.h>
#include <stddef.h>
#include <string.h>
#include <sys/mman.h>
#include <cpuid.h>
#include <unistd.h>

#include "internal.h"

enum { RAX, RCX, RDX, RBX, RSP, RBP, RSI, RDI };
/* The System V ABI's callee-saved registers: the code saves those it changes. */
#define CALLEE_SAVED (1u << RBX | 1u << RBP | 0xf000u)
/*
 * Where the struct cpu goes, best first: a free caller-saved register
 * needs no saving. Not RAX: the flags go in and out through it.
 */
static const uint8_t cpu_reg_order[] = { RDI, RSI, RDX, RCX, 8, 9, 10, 11, RBX, RBP, 12, 13, 14, 15 };

/* Where a RET's follow enters: past the XOR that tells the others' apart (R10 = 0). */
#define FOLLOW_RET_ENTRY 3

struct emit {
	uint8_t *p, *end;
	const uint8_t *follow;  /* the hosted blocks' shared follow */
};

static void b1(struct emit *e, uint8_t v)
{
	if (e->p < e->end)
		*e->p = v;
	e->p++;
}

static void b4(struct emit *e, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		b1(e, (uint8_t)(v >> (8 * i)));
}

/* op with ModRM reg field reg and operand [base + disp]; 64-bit when w. */
static void op_mem(struct emit *e, int w, uint8_t op, int reg, int base, int32_t disp)
{
	int rex = (w ? 8 : 0) | (reg >= 8 ? 4 : 0) | (base >= 8 ? 1 : 0);
	if (rex)
		b1(e, (uint8_t)(0x40 | rex));
	b1(e, op);
	int short_disp = disp >= -128 && disp < 128;
	b1(e, (uint8_t)((short_disp ? 0x40 : 0x80) | (reg & 7) << 3 | (base & 7)));
	if ((base & 7) == RSP)
		b1(e, 0x24);    /* SIB: base alone */
	if (short_disp)
		b1(e, (uint8_t)disp);
	else
		b4(e, (uint32_t)disp);
}

static void push_pop(struct emit *e, int pop, int r)
{
	if (r >= 8)
		b1(e, 0x41);
	b1(e, (uint8_t)((pop ? 0x58 : 0x50) + (r & 7)));
}

/* op with ModRM reg field ext (a register or an opcode extension) and register operand r. */
static void rex_op_reg(struct emit *e, int w, uint8_t op, int ext, int r)
{
	b1(e, (uint8_t)(0x40 | (w ? 8 : 0) | (ext >= 8 ? 4 : 0) | (r >= 8 ? 1 : 0)));
	b1(e, op);
	b1(e, (uint8_t)(0xc0 | (ext & 7) << 3 | (r & 7)));
}

/* MOV d, s (64-bit) */
static void mov_rr(struct emit *e, int d, int s)
{
	rex_op_reg(e, 1, 0x89, s, d);
}

/* MOV r, imm64 */
static void mov_imm64(struct emit *e, int r, uint64_t v)
{
	b1(e, (uint8_t)(0x48 | (r >= 8 ? 1 : 0)));
	b1(e, (uint8_t)(0xb8 + (r & 7)));
	for (int i = 0; i < 8; i++)
		b1(e, (uint8_t)(v >> (8 * i)));
}

#define CPU_AT(field) ((int32_t)offsetof(struct cpu, field))

/* c->cur = at, through register t: the instruction the C side goes on from. */
static void store_cur(struct emit *e, int p, int t, const struct insn *at)
{
	mov_imm64(e, t, (uint64_t)(uintptr_t)at);
	op_mem(e, 1, 0x89, t, p, CPU_AT(cur));
}

static int32_t gpr_at(int r)
{
	return (int32_t)(offsetof(struct cpu, gpr) + 8 * (size_t)r);
}

/* A rel32 JMP (op2 0) or Jcc (0F op2) to where is not known yet: returns where its rel32 goes. */
static uint8_t *jump_later(struct emit *e, uint8_t op2)
{
	if (op2)
		b1(e, 0x0f);
	b1(e, op2 ? op2 : 0xe9);
	uint8_t *at = e->p;
	b4(e, 0);
	return at;
}

/* Points the rel32 at `at` to `to`. */
static void land(struct emit *e, uint8_t *at, const uint8_t *to)
{
	if (at + 4 <= e->end && to <= e->end)
		memcpy(at, &(int32_t){ (int32_t)(to - (at + 4)) }, 4);
}

static void jump_to(struct emit *e, const uint8_t *to)
{
	land(e, jump_later(e, 0), to);
}

static void store_regs(struct emit *e, unsigned regs, int p)
{
	for (int r = 0; r < 16; r++)
		if (regs & (1u << r))
			op_mem(e, 1, 0x89, r, p, gpr_at(r));            /* MOV [gpr r], r */
}

/* The register a field names: byte register ids 16-19 are AH..BH, in RAX..RBX. */
static unsigned reg_bit(int r, int byte)
{
	return 1u << (byte && r >= 16 ? r - 16 : r);
}

/* The registers instruction ji uses (guest = host); RSP as a base is read from memory. */
static unsigned regs_used(const struct jit_insn *ji)
{
	const struct insn *in = ji->in;
	int byte = in->opsize == 1;
	unsigned m = 0;
	if (ji->regs & JR_REG)
		m |= reg_bit(in->reg, byte);
	if (ji->regs & JR_RM)
		m |= reg_bit(in->rm, byte || (ji->regs & JR_RM_BYTE));
	if ((ji->regs & JR_EA) || (ji->mem && !ji->stack)) {
		if (in->base != NOREG && !(ji->mem && in->base == RSP))
			m |= 1u << in->base;
		if (in->index != NOREG)
			m |= 1u << in->index;
	}
	if (ji->regs & JR_CL)
		m |= 1u << R_CX;
	if (ji->regs & JR_AX)
		m |= 1u << R_AX;
	if (ji->regs & JR_DX)
		m |= 1u << R_DX;
	return m;
}

/*
 * Buffers of vCPUs that went away, for the vCPUs a reboot creates: the
 * process maps executable memory only while it starts, before its
 * seccomp filters forbid that.
 */
#define SPARE_MAX 64
static struct jit spare[SPARE_MAX];
static int nspare;
static pthread_mutex_t spare_lock = PTHREAD_MUTEX_INITIALIZER;

static int take_spare(struct jit *j, size_t size)
{
	int found = 0;
	pthread_mutex_lock(&spare_lock);
	for (int i = 0; i < nspare && !found; i++) {
		if (spare[i].size == size) {
			*j = spare[i];
			spare[i] = spare[--nspare];
			found = 1;
		}
	}
	pthread_mutex_unlock(&spare_lock);
	j->used = 0;
	j->follow = NULL;
	return found;
}

/*
 * Whether host code can hold ji. RSP is the host's stack: a register
 * instruction that names it runs on another host register that holds the
 * guest's RSP for it (emit_renamed()); a memory instruction reads RSP
 * from struct cpu only as its base or stack pointer.
 */
int jit_insn_ok(const struct jit_insn *ji)
{
	return !ji->mem || !(regs_used(ji) & (1u << RSP));
}

/* ---- register instructions that name RSP ---- */

/* Whether the instruction's bytes have no ModRM: its register is in the opcode (B0+r, B8+r, 90+r, 0F C8+r). */
static int opcode_reg_form(const uint8_t *op, int oplen)
{
	if (oplen == 1)
		return (op[0] & 0xf0) == 0xb0 || (op[0] & 0xf8) == 0x90;
	return oplen == 2 && (op[1] & 0xf8) == 0xc8;
}

/*
 * The register instruction ji (bytes b) with RSP, wherever its fields
 * name it, made x; into out. Returns its length, or -1 when it does not
 * name RSP where ji says, or needs a REX prefix it cannot take (a byte
 * instruction without one may name AH-BH).
 */
static int rename_rsp(const struct jit_insn *ji, const uint8_t *b, int len, int x, uint8_t *out)
{
	const struct insn *in = ji->in;
	int i = 0, n = 0, rex = 0, had_rex = 0, done = 0;
	while (i < len && (b[i] == 0x66 || b[i] == 0xf2 || b[i] == 0xf3 || b[i] == 0x2e || b[i] == 0x3e ||
			   b[i] == 0x26 || b[i] == 0x36 || b[i] == 0x64 || b[i] == 0x65))
		out[n++] = b[i++];
	if (i < len && (b[i] & 0xf0) == 0x40)
		rex = b[i++], had_rex = 1;
	int rex_at = n++;       /* room for a REX prefix, dropped again if none is needed */
	if (i >= len)
		return -1;
	int oplen = b[i] != 0x0f ? 1 : (i + 1 < len && (b[i + 1] == 0x38 || b[i + 1] == 0x3a)) ? 3 : 2;
	if (i + oplen > len)
		return -1;
	const uint8_t *op = b + i;
	for (int k = 0; k < oplen; k++)
		out[n++] = b[i++];
	if (opcode_reg_form(op, oplen)) {
		if (!(ji->regs & JR_RM) || ((op[oplen - 1] & 7) | (rex & 1) << 3) != RSP)
			return -1;
		out[n - 1] = (uint8_t)((op[oplen - 1] & 0xf8) | (x & 7));
		rex = (rex & ~1) | (x >> 3);
		done = 1;
	} else {
		if (i >= len)
			return -1;
		uint8_t modrm = b[i++];
		int mod = modrm >> 6, reg = (modrm >> 3 & 7) | (rex & 4) << 1, rm = (modrm & 7) | (rex & 1) << 3;
		if ((ji->regs & JR_REG) && reg == RSP) {
			modrm = (uint8_t)((modrm & 0xc7) | (x & 7) << 3);
			rex = (rex & ~4) | (x >> 3) << 2;
			done = 1;
		}
		if (mod == 3 && (ji->regs & JR_RM) && rm == RSP) {
			modrm = (uint8_t)((modrm & 0xf8) | (x & 7));
			rex = (rex & ~1) | (x >> 3);
			done = 1;
		}
		out[n++] = modrm;
		if (mod != 3 && (modrm & 7) == 4) {
			if (i >= len)
				return -1;
			uint8_t sib = b[i++];
			int base = (sib & 7) | (rex & 1) << 3;
			if ((ji->regs & JR_EA) && base == RSP) {
				sib = (uint8_t)((sib & 0xf8) | (x & 7));
				rex = (rex & ~1) | (x >> 3);
				done = 1;
			}
			out[n++] = sib;
		}
	}
	if (!done)
		return -1;
	if (had_rex || (rex & 0xf)) {
		if (!had_rex && (in->opsize == 1 || (ji->regs & JR_RM_BYTE)))
			return -1;
		out[rex_at] = (uint8_t)(0x40 | (rex & 0xf));
	} else {
		memmove(out + rex_at, out + rex_at + 1, (size_t)(n - rex_at - 1));
		n--;
	}
	while (i < len)
		out[n++] = b[i++];
	return n;
}

/* ji, which names RSP, on host register x: x = the guest's RSP, the instruction, RSP = x. */
static int emit_renamed(struct emit *e, const struct jit_insn *ji, const uint8_t *b, int p, int x)
{
	uint8_t out[16];
	int n = rename_rsp(ji, b, ji->in->len, x, out);
	if (n < 0)
		return -1;
	op_mem(e, 1, 0x8b, x, p, gpr_at(RSP));
	for (int k = 0; k < n; k++)
		b1(e, out[k]);
	op_mem(e, 1, 0x89, x, p, gpr_at(RSP));
	return 0;
}

/* LAHF and SAHF in 64-bit mode, which the flags go through (CPUID 80000001h: ECX bit 0). */
static int host_has_lahf(void)
{
	unsigned a, b, c, d;
	return __get_cpuid(0x80000001, &a, &b, &c, &d) && (c & 1);
}

int jit_init(struct jit *j, size_t size)
{
	memset(j, 0, sizeof(*j));
	if (!host_has_lahf())
		return -1;
	if (take_spare(j, size))
		return 0;
	int fd = memfd_create("runvm-code", MFD_CLOEXEC);
	if (fd < 0)
		return -1;
	void *rw = MAP_FAILED, *rx = MAP_FAILED;
	/*
	 * Populated now: a boot fills the buffer several times, and a page
	 * fault for each page of each of the two mappings cost about 1% of it.
	 */
	if (ftruncate(fd, (off_t)size) == 0) {
		rw = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_POPULATE, fd, 0);
		rx = mmap(NULL, size, PROT_READ | PROT_EXEC, MAP_SHARED | MAP_POPULATE, fd, 0);
	}
	close(fd);
	if (rw == MAP_FAILED || rx == MAP_FAILED) {
		if (rw != MAP_FAILED)
			munmap(rw, size);
		if (rx != MAP_FAILED)
			munmap(rx, size);
		return -1;
	}
	j->rw = rw;
	j->rx = rx;
	j->size = size;
	return 0;
}

void jit_free(struct jit *j)
{
	if (!j->rw)
		return;
	pthread_mutex_lock(&spare_lock);
	int kept = nspare < SPARE_MAX;
	if (kept)
		spare[nspare++] = *j;
	pthread_mutex_unlock(&spare_lock);
	if (!kept) {
		munmap(j->rw, j->size);
		munmap((void *)j->rx, j->size);
	}
	memset(j, 0, sizeof(*j));
}

/*
 * The guest's arithmetic flags live in c->jit_flags as AX holds them
 * after LAHF and SETO AL: SF, ZF, AF, PF and CF in the high byte, OF
 * (0 or 1) in the low one. LAHF, SETO, SAHF and an ADD to AL take a few
 * cycles where PUSHF and POPF take tens. They go through RAX: when it
 * holds a value (live), the value waits in its slot of struct cpu.
 */
static void emit_rax_out(struct emit *e, int p, int live, int back)
{
	if (live)
		op_mem(e, 1, back ? 0x8b : 0x89, RAX, p, CPU_AT(gpr[RAX]));
}

/* RFLAGS = the guest's arithmetic flags (the rest of the host's stays as the ABI has it). */
static void emit_flags_in(struct emit *e, int p, int live)
{
	emit_rax_out(e, p, live, 0);
	b1(e, 0x66);
	op_mem(e, 0, 0x8b, RAX, p, CPU_AT(jit_flags));                  /* MOV AX, [jit_flags] */
	b1(e, 0x04);                                                    /* ADD AL, 0x7f: OF = (AL == 1) */
	b1(e, 0x7f);
	b1(e, 0x9e);                                                    /* SAHF: the others */
	emit_rax_out(e, p, live, 1);
}


/* ---- memory operands ---- */

/* Scratch registers of one memory instruction: S holds the address. */
struct mem_regs {
	int8_t s, t, u;
};

/* A scratch register for ji: not P, RSP or one it uses; a free one if any (low: for S). */
static int pick_scratch(unsigned used, unsigned taken, int low)
{
	int best = -1;
	for (int r = 0; r < (low ? 8 : 16); r++) {
		if (r == RSP || (taken & (1u << r)))
			continue;
		if (!(used & (1u << r)))
			return r;
		if (best < 0)
			best = r;
	}
	return best;
}


/* LEA d, [b + x * 2^scale + disp] (b, x: -1 for none) */
static void emit_lea(struct emit *e, int d, int b, int x, int scale, int32_t disp)
{
	b1(e, (uint8_t)(0x48 | (d >= 8 ? 4 : 0) | (x >= 8 ? 2 : 0) | (b >= 8 ? 1 : 0)));
	b1(e, 0x8d);
	if (x < 0 && b >= 0 && (b & 7) != RSP) {
		b1(e, (uint8_t)(0x80 | (d & 7) << 3 | (b & 7)));
	} else {
		b1(e, (uint8_t)((b < 0 ? 0x00 : 0x80) | (d & 7) << 3 | 4));
		b1(e, (uint8_t)(scale << 6 | (x < 0 ? 4 : x & 7) << 3 | (b < 0 ? 5 : b & 7)));
	}
	b4(e, (uint32_t)disp);
}

/* T = the block's start + off. */
static void emit_target(struct emit *e, int p, int t, int32_t off)
{
	op_mem(e, 1, 0x8b, t, p, CPU_AT(block_rip));                   /* MOV T, [block_rip] */
	if (off)
		emit_lea(e, t, t, -1, 0, off);
}

/* The guest's arithmetic flags = RFLAGS's, exact in c->jit_flags; RFLAGS keeps them. */
static void emit_flags_store(struct emit *e, int p, int live)
{
	emit_rax_out(e, p, live, 0);
	b1(e, 0x9f);                                                    /* LAHF */
	b1(e, 0x0f);                                                    /* SETO AL */
	b1(e, 0x90);
	b1(e, 0xc0);
	b1(e, 0x66);
	op_mem(e, 0, 0x89, RAX, p, CPU_AT(jit_flags));                  /* MOV [jit_flags], AX */
	emit_rax_out(e, p, live, 1);
}

/* S = the linear address of in's memory operand. */
static void emit_address(struct emit *e, const struct insn *in, int p, int s)
{
	if (in->pfx & PFX_RIPREL) {
		op_mem(e, 1, 0x8b, s, p, (int32_t)offsetof(struct cpu, block_rip));
		emit_lea(e, s, s, -1, 0, (int32_t)in->end + in->disp);
	} else {
		int b = in->base == NOREG ? -1 : in->base;
		if (b == RSP) {
			op_mem(e, 1, 0x8b, s, p, gpr_at(RSP));
			b = s;
		}
		emit_lea(e, s, b, in->index == NOREG ? -1 : in->index, in->scale, in->disp);
	}
	if (in->seg == S_FS || in->seg == S_GS)
		op_mem(e, 1, 0x03, s, p, (int32_t)(offsetof(struct cpu, sbase) + 8 * (size_t)in->seg));
}

/* PUSH and POP of a 64-bit register: S = RSP - 8 or RSP (the stack's base is 0 in 64-bit mode). */
static void emit_stack_address(struct emit *e, int stack, int p, int s)
{
	op_mem(e, 1, 0x8b, s, p, gpr_at(RSP));                          /* MOV S, [gpr RSP] */
	if (stack == JS_PUSH)
		emit_lea(e, s, s, -1, 0, -8);
}

/* The access at host address S, then RSP moves (through S), as it does once the access is done. */
static void emit_stack_access(struct emit *e, const struct insn *in, int stack, int p, int s)
{
	op_mem(e, 1, stack == JS_PUSH ? 0x89 : 0x8b, in->rm, s, 0);   /* MOV [S], r / MOV r, [S] */
	op_mem(e, 1, 0x8b, s, p, gpr_at(RSP));
	emit_lea(e, s, s, -1, 0, stack == JS_PUSH ? -8 : 8);
	op_mem(e, 1, 0x89, s, p, gpr_at(RSP));
}

/*
 * S = the host address of the access at S, from the TLB entry (through
 * T and U); a miss jumps to the run's exit for this instruction (*miss:
 * where its rel32 goes).
 */
static void emit_translate(struct emit *e, const struct jit_insn *ji, int p, struct mem_regs r, uint8_t **miss)
{
	int32_t tag = ji->mem == JM_WRITE ? (int32_t)offsetof(struct tlb_entry, tag_w)
					  : (int32_t)offsetof(struct tlb_entry, tag_r);
	mov_rr(e, r.t, r.s);
	rex_op_reg(e, 1, 0xc1, 5, r.t);                                 /* SHR T, 12 */
	b1(e, 12);
	rex_op_reg(e, 0, 0x81, 4, r.t);                                 /* AND T32, TLB_SIZE - 1 */
	b4(e, TLB_SIZE - 1);
	rex_op_reg(e, 1, 0x69, r.t, r.t);                               /* IMUL T, T, sizeof */
	b4(e, (uint32_t)sizeof(struct tlb_entry));
	op_mem(e, 1, 0x03, r.t, p, (int32_t)offsetof(struct cpu, jit_tlb));   /* ADD T, [jit_tlb] */
	/* The last byte's page against the tag: a miss, or an access that crosses the page. */
	emit_lea(e, r.u, r.s, -1, 0, ji->size - 1);                     /* LEA U, [S + size - 1] */
	rex_op_reg(e, 1, 0x81, 4, r.u);                                 /* AND U, ~0xfff */
	b4(e, 0xfffff000u);
	op_mem(e, 1, 0x0b, r.u, p, (int32_t)offsetof(struct cpu, tlb_gen));  /* OR U, [tlb_gen] */
	op_mem(e, 1, 0x3b, r.u, r.t, tag);                              /* CMP U, [T + tag] */
	*miss = jump_later(e, 0x85);                                    /* JNE miss */
	op_mem(e, 1, 0x03, r.s, r.t, (int32_t)offsetof(struct tlb_entry, addend));  /* ADD S, [T + addend] */
}

/* The instruction itself, its memory operand made [S]: prefixes, REX, opcode and immediate as they were. */
static void emit_reencoded(struct emit *e, const uint8_t *b, int len, int s)
{
	int i = 0, rex = -1;
	for (; i < len; i++) {
		uint8_t x = b[i];
		if (x == 0x66 || x == 0xf2 || x == 0xf3)
			b1(e, x);
		else if (!(x == 0x26 || x == 0x2e || x == 0x36 || x == 0x3e || x == 0x64 || x == 0x65))
			break;          /* segment overrides go: S is a host address */
	}
	if ((b[i] & 0xf0) == 0x40)
		rex = b[i++];
	if (rex >= 0)
		b1(e, (uint8_t)(0x40 | (rex & 0x0c)));  /* W and R stay; X and B went with the operand */
	int oplen = b[i] != 0x0f ? 1 : (b[i + 1] == 0x38 || b[i + 1] == 0x3a) ? 3 : 2;
	for (int k = 0; k < oplen; k++)
		b1(e, b[i++]);
	uint8_t modrm = b[i++];
	int mod = modrm >> 6, rm = modrm & 7;
	int disp = mod == 1 ? 1 : mod == 2 ? 4 : 0;
	if (rm == 4) {
		uint8_t sib = b[i++];
		if (mod == 0 && (sib & 7) == 5)
			disp = 4;
	} else if (mod == 0 && rm == 5) {
		disp = 4;       /* RIP-relative */
	}
	i += disp;
	if ((s & 7) == RBP) {
		b1(e, (uint8_t)(0x40 | (modrm & 0x38) | RBP));         /* [RBP + 0] */
		b1(e, 0);
	} else {
		b1(e, (uint8_t)((modrm & 0x38) | s));
	}
	for (; i < len; i++)
		b1(e, b[i]);
}

/* ---- a run that loops ---- */

/* Returns st with c->cur = at (through register t), through leave. */
static void emit_exit_at(struct emit *e, int p, int t, const struct insn *at, int st, const uint8_t *leave)
{
	store_cur(e, p, t, at);
	b1(e, 0xb8);                                                    /* MOV EAX, st */
	b4(e, (uint32_t)st);
	jump_to(e, leave);
}

/*
 * Leaves the code as the branch at would, to the block's start + off:
 * the registers stored (the flags are already), c->next_rip and c->cur
 * set; returns JIT_BRANCHED through leave.
 */
static void emit_branch_exit(struct emit *e, unsigned used, int p, uint16_t off,
			     const struct insn *at, const uint8_t *leave)
{
	int t = p == RAX ? RCX : RAX;
	store_regs(e, used, p);
	emit_target(e, p, t, off);
	op_mem(e, 1, 0x89, t, p, CPU_AT(next_rip));
	emit_exit_at(e, p, t, at, JIT_BRANCHED, leave);
}

/*
 * The branch back to the run's start, taken: what block_next() checks
 * before it chains a block to itself (the chain may go on, the budget
 * holds another pass), then what it does (the pass retires), then the
 * jump to top, with the registers still in place. dirty: the flags are
 * in RFLAGS only; top, or the exit, wants them in c->jit_flags.
 */
static void emit_loop_back(struct emit *e, unsigned used, int p, int n, int dirty,
			   const uint8_t *top, const struct insn *at, const uint8_t *leave)
{
	if (dirty)
		emit_flags_store(e, p, !!(used & 1u << RAX));
	int32_t chain_left = (int32_t)offsetof(struct cpu, chain_left);
	int32_t budget = (int32_t)offsetof(struct cpu, budget);
	op_mem(e, 0, 0x83, 7, p, chain_left);                           /* CMP DWORD [chain_left], 0 */
	b1(e, 0);
	uint8_t *out1 = jump_later(e, 0x8e);                            /* JLE out */
	op_mem(e, 1, 0x81, 7, p, budget);                               /* CMP [budget], n */
	b4(e, (uint32_t)n);
	uint8_t *out2 = jump_later(e, 0x86);                            /* JBE out */
	op_mem(e, 1, 0x81, 0, p, (int32_t)offsetof(struct cpu, icount));   /* ADD [icount], n */
	b4(e, (uint32_t)n);
	op_mem(e, 1, 0x81, 5, p, budget);                               /* SUB [budget], n */
	b4(e, (uint32_t)n);
	op_mem(e, 0, 0x83, 5, p, chain_left);                           /* SUB DWORD [chain_left], 1 */
	b1(e, 1);
	jump_to(e, top);
	land(e, out1, e->p);
	land(e, out2, e->p);
	emit_branch_exit(e, used, p, 0, at, leave);
}


/* ---- hosted blocks: the branch follows the block's links ---- */

/* The callee-saved registers back, and RET. */
static void emit_leave(struct emit *e, unsigned saved)
{
	for (int r = 15; r >= 0; r--)
		if (saved & (1u << r))
			push_pop(e, 1, r);
	b1(e, 0xc3);                                                    /* RET */
}

/* The host registers free at a hosted block's end but those in taken: the first k go to r. */
static void free_regs(unsigned taken, int *r, int k)
{
	static const uint8_t order[] = { RAX, RCX, RDX, RSI, 8, 9, 10, 11 };
	for (unsigned i = 0, n = 0; (int)n < k; i++)
		if (!(taken & (1u << order[i])))
			r[n++] = order[i];
}

/* A jump to where the rel32 goes when T is not canonical, through U. */
static uint8_t *emit_not_canonical(struct emit *e, int t, int u)
{
	mov_rr(e, u, t);
	rex_op_reg(e, 1, 0xc1, 7, u);                                   /* SAR U, 47 */
	b1(e, 47);
	rex_op_reg(e, 1, 0x83, 0, u);                                   /* ADD U, 1 */
	b1(e, 1);
	rex_op_reg(e, 1, 0x83, 7, u);                                   /* CMP U, 1 */
	b1(e, 1);
	return jump_later(e, 0x87);                                     /* JA */
}


/* R = &insns[R], through register t. */
static void emit_insn_at(struct emit *e, int r, int t, const struct insn *insns)
{
	rex_op_reg(e, 1, 0x69, r, r);                                   /* IMUL R, R, sizeof */
	b4(e, (uint32_t)sizeof(struct insn));
	mov_imm64(e, t, (uint64_t)(uintptr_t)insns);
	rex_op_reg(e, 1, 0x01, t, r);                                   /* ADD R, T */
}

/*
 * The follow's third way, as block_next()'s: X = the block of the
 * jump-cache entry for T, when it is for T and of the chain's tag; else
 * jumps out (out[]: where their rel32s go). Returns how many.
 */
static int emit_jump_cache(struct emit *e, const struct jit_chain *ch, uint8_t **out)
{
	enum { CPU = RDI, T = RSI, X = RAX, Y = 8 };
	mov_rr(e, Y, T);
	rex_op_reg(e, 1, 0xc1, 5, Y);                                   /* SHR Y, jc_bits */
	b1(e, ch->jc_bits);
	rex_op_reg(e, 1, 0x31, T, Y);                                   /* XOR Y, T */
	rex_op_reg(e, 0, 0x81, 4, Y);                                   /* AND Y32, 2^jc_bits - 1 */
	b4(e, (1u << ch->jc_bits) - 1);
	rex_op_reg(e, 1, 0x69, Y, Y);                                   /* IMUL Y, Y, size */
	b4(e, ch->jc_size);
	op_mem(e, 1, 0x03, Y, CPU, CPU_AT(jit_jc));                     /* ADD Y, [jit_jc] */
	op_mem(e, 1, 0x3b, T, Y, ch->jc_lin);                           /* for T? */
	out[0] = jump_later(e, 0x85);
	op_mem(e, 1, 0x8b, X, Y, ch->jc_tag);
	op_mem(e, 1, 0x3b, X, CPU, CPU_AT(chain_tag));                  /* of the chain's tag? */
	out[1] = jump_later(e, 0x85);
	op_mem(e, 1, 0x8b, X, Y, ch->jc_block);
	return 2;
}

/*
 * After the jump cache gave X for T: links that the tag left behind
 * become the one link T -> X (as the C side's follow_link() would make
 * them), so the next pass takes the link, not the cache, whose entries
 * are spread over many more cache lines.
 */
static void emit_relink(struct emit *e, const struct jit_chain *ch)
{
	enum { CPU = RDI, T = RSI, B = RDX, X = RAX, Y = 8, R = 10 };
	op_mem(e, 1, 0x8b, Y, CPU, CPU_AT(chain_tag));
	op_mem(e, 1, 0x3b, Y, B, ch->link_tag);
	uint8_t *fresh = jump_later(e, 0x84);                           /* JE: links of this tag */
	op_mem(e, 1, 0x89, Y, B, ch->link_tag);
	op_mem(e, 1, 0x89, T, B, ch->link_lin);
	op_mem(e, 1, 0x89, X, B, ch->link);
	mov_imm64(e, Y, LINK_NONE);
	op_mem(e, 1, 0x89, Y, B, ch->link_lin + 8);
	land(e, fresh, e->p);
	/* A RET whose CALL's block is in R10: its second link, if of this tag, is T -> X. */
	rex_op_reg(e, 1, 0x85, R, R);                                   /* TEST R10, R10 */
	uint8_t *no_call = jump_later(e, 0x84);
	op_mem(e, 1, 0x8b, Y, R, ch->link_tag);
	op_mem(e, 1, 0x3b, Y, CPU, CPU_AT(chain_tag));
	uint8_t *stale = jump_later(e, 0x85);
	op_mem(e, 1, 0x89, T, R, ch->link_lin + 8);
	op_mem(e, 1, 0x89, X, R, ch->link + 8);
	land(e, no_call, e->p);
	land(e, stale, e->p);
}

/*
 * The follow that every hosted block's branch jumps to, once per code
 * buffer: RDI is the struct cpu, RSI where the branch goes, RDX the
 * block and RCX its instruction count (every other host register is
 * free, the guest's registers and flags are stored). It does what
 * block_next() does: the chain may go on, the budget holds the block,
 * its links were made under the tag the chain follows and one of them
 * is for RSI, or else the jump cache's entry for RSI is of that tag; the
 * block there is current and hosted; then the block retires and the code
 * jumps to the next one's. Else it leaves with c->next_rip set and
 * c->cur at the branch, and the C side follows it.
 */
static void emit_follow_routine(struct emit *e, const struct jit_chain *ch, const uint8_t *rx)
{
	enum { CPU = RDI, T = RSI, B = RDX, N = RCX, X = RAX, Y = 8, Z = 9, R = 10 };
	uint8_t *out[10];
	int nout = 0;
	rex_op_reg(e, 0, 0x31, R, R);                                   /* XOR R10D, R10D (at RET_ENTRY: set) */
	op_mem(e, 1, 0x89, T, CPU, CPU_AT(next_rip));
	op_mem(e, 0, 0x83, 7, CPU, CPU_AT(chain_left));                /* CMP DWORD [chain_left], 0 */
	b1(e, 0);
	out[nout++] = jump_later(e, 0x8e);                              /* JLE out */
	op_mem(e, 1, 0x39, N, CPU, CPU_AT(budget));                    /* CMP [budget], N */
	out[nout++] = jump_later(e, 0x86);                              /* JBE out */
	op_mem(e, 1, 0x8b, X, B, ch->link_tag);
	op_mem(e, 1, 0x3b, X, CPU, CPU_AT(chain_tag));                  /* its links' tag is the chain's? */
	uint8_t *stale = jump_later(e, 0x85);
	op_mem(e, 1, 0x3b, T, B, ch->link_lin);                         /* CMP T, [link_lin[0]] */
	uint8_t *second = jump_later(e, 0x85);
	op_mem(e, 1, 0x8b, X, B, ch->link);                             /* X = link[0] */
	uint8_t *have = jump_later(e, 0);
	land(e, second, e->p);
	op_mem(e, 1, 0x3b, T, B, ch->link_lin + 8);                     /* CMP T, [link_lin[1]] */
	uint8_t *third = jump_later(e, 0x85);
	op_mem(e, 1, 0x8b, X, B, ch->link + 8);                         /* X = link[1] */
	uint8_t *have2 = jump_later(e, 0);
	land(e, third, e->p);
	land(e, stale, e->p);
	/* A RET to where the CALL of R10's block returns: that block's second link. */
	rex_op_reg(e, 1, 0x85, R, R);                                   /* TEST R10, R10 */
	uint8_t *no_call = jump_later(e, 0x84);
	op_mem(e, 1, 0x8b, X, R, ch->link_tag);
	op_mem(e, 1, 0x3b, X, CPU, CPU_AT(chain_tag));
	uint8_t *call_stale = jump_later(e, 0x85);
	op_mem(e, 1, 0x3b, T, R, ch->link_lin + 8);
	uint8_t *call_other = jump_later(e, 0x85);
	op_mem(e, 1, 0x8b, X, R, ch->link + 8);
	uint8_t *have3 = jump_later(e, 0);
	land(e, no_call, e->p);
	land(e, call_stale, e->p);
	land(e, call_other, e->p);
	nout += emit_jump_cache(e, ch, out + nout);
	emit_relink(e, ch);
	land(e, have, e->p);
	land(e, have3, e->p);
	land(e, have2, e->p);
	op_mem(e, 1, 0x8b, Y, X, ch->gen);                              /* Y = its page's generation */
	op_mem(e, 0, 0x8b, Y, Y, 0);
	op_mem(e, 0, 0x3b, Y, X, ch->gen_seen);
	out[nout++] = jump_later(e, 0x85);
	op_mem(e, 0, 0x8b, Y, X, ch->stamp);
	op_mem(e, 0, 0x3b, Y, CPU, CPU_AT(stamp));
	out[nout++] = jump_later(e, 0x85);
	op_mem(e, 0, 0x8b, Z, X, ch->code);                             /* Z = its code */
	rex_op_reg(e, 0, 0x85, Z, Z);                                   /* TEST Z32, Z32: hosted? */
	out[nout++] = jump_later(e, 0x84);
	op_mem(e, 1, 0x01, N, CPU, CPU_AT(icount));                    /* this block retires */
	op_mem(e, 1, 0x29, N, CPU, CPU_AT(budget));
	op_mem(e, 0, 0x83, 5, CPU, CPU_AT(chain_left));                /* SUB DWORD [chain_left], 1 */
	b1(e, 1);
	/*
	 * Only the block and its start: every way out of the next block's
	 * code sets c->cur, and the C side takes RIP from it.
	 */
	op_mem(e, 1, 0x89, X, CPU, CPU_AT(block));
	op_mem(e, 1, 0x89, T, CPU, CPU_AT(block_rip));
	mov_imm64(e, Y, (uint64_t)(uintptr_t)(rx + JIT_CHAIN_ENTRY));
	rex_op_reg(e, 1, 0x01, Y, Z);                                   /* ADD Z, Y */
	rex_op_reg(e, 0, 0xff, 4, Z);                                   /* JMP Z */
	for (int i = 0; i < nout; i++)
		land(e, out[i], e->p);
	op_mem(e, 0, 0x8b, Y, B, ch->first);                            /* c->cur = its branch */
	emit_lea(e, Y, Y, N, 0, -1);
	emit_insn_at(e, Y, Z, ch->insns);
	op_mem(e, 1, 0x89, Y, CPU, CPU_AT(cur));
	b1(e, 0xb8);                                                    /* MOV EAX, JIT_BRANCHED */
	b4(e, (uint32_t)JIT_BRANCHED);
	emit_leave(e, CALLEE_SAVED);
}

/*
 * A RET pops the return stack (struct cpu): when the entry is for T, the
 * follow gets its CALL's block in R10.
 */
static void emit_ret_pop(struct emit *e)
{
	enum { CPU = RDI, T = RSI, A = RAX, Y = 8, R = 10 };
	op_mem(e, 0, 0x8b, A, CPU, CPU_AT(ret_top));
	rex_op_reg(e, 0, 0x83, 5, A);                                   /* SUB EAX, 1 */
	b1(e, 1);
	rex_op_reg(e, 0, 0x83, 4, A);                                   /* AND EAX, 15 */
	b1(e, 15);
	op_mem(e, 0, 0x89, A, CPU, CPU_AT(ret_top));
	rex_op_reg(e, 1, 0xc1, 4, A);                                   /* SHL RAX, 4 */
	b1(e, 4);
	emit_lea(e, Y, CPU, A, 0, CPU_AT(ret_stack));
	rex_op_reg(e, 0, 0x31, R, R);                                   /* XOR R10D, R10D */
	op_mem(e, 1, 0x3b, T, Y, 0);                                    /* for T? */
	uint8_t *other = jump_later(e, 0x85);
	op_mem(e, 1, 0x8b, R, Y, 8);
	land(e, other, e->p);
}

/* A hosted CALL pushes its return address (in ret) and its block on the return stack, through s and u. */
static void emit_ret_push(struct emit *e, int p, int ret, int s, int u, const struct jit_chain *ch)
{
	op_mem(e, 0, 0x8b, u, p, CPU_AT(ret_top));
	emit_lea(e, s, u, -1, 0, 1);
	rex_op_reg(e, 0, 0x83, 4, s);                                   /* AND S32, 15 */
	b1(e, 15);
	op_mem(e, 0, 0x89, s, p, CPU_AT(ret_top));
	rex_op_reg(e, 1, 0xc1, 4, u);                                   /* SHL U, 4 */
	b1(e, 4);
	emit_lea(e, u, p, u, 0, CPU_AT(ret_stack));
	op_mem(e, 1, 0x89, ret, u, 0);
	mov_imm64(e, s, (uint64_t)(uintptr_t)ch->block);
	op_mem(e, 1, 0x89, s, u, 8);
}

/* The branch of a hosted block to T: on to the shared follow, with the struct cpu in RDI. */
static void emit_follow(struct emit *e, int p, int t, const struct jit_chain *ch)
{
	if (p != RDI)
		mov_rr(e, RDI, p);
	if (t != RSI)
		mov_rr(e, RSI, t);
	mov_imm64(e, RDX, (uint64_t)(uintptr_t)ch->block);
	b1(e, 0xb9);                                                    /* MOV ECX, its instructions */
	b4(e, ch->n);
	if (ch->cc == JIT_RET) {
		emit_ret_pop(e);
		jump_to(e, e->follow + FOLLOW_RET_ENTRY);
	} else {
		jump_to(e, e->follow);
	}
}

/* To the block's start + off; a target that is not canonical goes to the branch's handler, which faults. */
static void emit_chain_exit(struct emit *e, int p, const struct jit_chain *ch, int32_t off,
			    int check_canonical, const uint8_t *leave)
{
	int r[2];
	free_regs(1u << p, r, 2);
	emit_target(e, p, r[0], off);
	uint8_t *bad = check_canonical ? emit_not_canonical(e, r[0], r[1]) : NULL;
	emit_follow(e, p, r[0], ch);
	if (bad) {
		land(e, bad, e->p);
		emit_exit_at(e, p, r[1], ch->branch, JIT_MISS, leave);
	}
}

/*
 * CALL and RET of a hosted block: the stack access through the TLB
 * (a miss, or a target that is not canonical, goes to the branch's
 * handler, which does it all again, faults included), RSP after it, then
 * on to the target.
 */
static void emit_call_ret(struct emit *e, int p, const struct jit_chain *ch, const uint8_t *leave)
{
	int r[4];
	free_regs(1u << p, r, 4);
	struct mem_regs m = { (int8_t)r[0], (int8_t)r[1], (int8_t)r[2] };
	int x = r[3];
	struct jit_insn slot = { .in = ch->branch, .mem = ch->cc == JIT_CALL ? JM_WRITE : JM_READ, .size = 8 };
	uint8_t *bad = NULL, *miss;
	int32_t rsp = gpr_at(RSP);
	if (ch->cc == JIT_CALL) {
		emit_target(e, p, x, ch->taken);
		bad = emit_not_canonical(e, x, m.s);
	}
	op_mem(e, 1, 0x8b, m.s, p, rsp);                                /* S = RSP (- 8) */
	if (ch->cc == JIT_CALL)
		emit_lea(e, m.s, m.s, -1, 0, -8);
	emit_translate(e, &slot, p, m, &miss);
	if (ch->cc == JIT_CALL) {
		emit_target(e, p, m.t, ch->end);
		op_mem(e, 1, 0x89, m.t, m.s, 0);                        /* MOV [S], return address */
	} else {
		op_mem(e, 1, 0x8b, x, m.s, 0);                          /* X = [S] */
		bad = emit_not_canonical(e, x, m.t);
	}
	op_mem(e, 1, 0x8b, m.s, p, rsp);
	emit_lea(e, m.s, m.s, -1, 0, ch->cc == JIT_CALL ? -8 : 8 + ch->pop);
	op_mem(e, 1, 0x89, m.s, p, rsp);
	if (ch->cc == JIT_CALL)
		emit_ret_push(e, p, m.t, m.s, m.u, ch);
	emit_follow(e, p, x, ch);
	land(e, miss, e->p);
	land(e, bad, e->p);
	emit_exit_at(e, p, m.s, ch->branch, JIT_MISS, leave);
}

/*
 * The end of a hosted block that does not loop: its JMP, CALL or RET,
 * or its Jcc on the flags in RFLAGS, each way to where it goes.
 */
static void emit_block_branch(struct emit *e, unsigned used, int p, int dirty,
			      const struct jit_chain *ch, const uint8_t *leave)
{
	store_regs(e, used, p);                                         /* (MOV keeps RFLAGS) */
	if (dirty)
		emit_flags_store(e, p, 0);      /* (so do LAHF and SETO) */
	if (ch->cc < JIT_JMP) {
		uint8_t *taken = jump_later(e, (uint8_t)(0x80 | ch->cc));
		emit_chain_exit(e, p, ch, ch->end, 0, leave);
		land(e, taken, e->p);
	}
	if (ch->cc == JIT_CALL || ch->cc == JIT_RET)
		emit_call_ret(e, p, ch, leave);
	else
		emit_chain_exit(e, p, ch, ch->taken, 1, leave);
}

/*
 * Translates the instructions ji[0..n) of 64-bit code; bytes holds the
 * block's bytes (in->end counts from there). flags_in: the run reads the guest's flags before it writes them;
 * flags_out: what follows reads the flags the run leaves. chain: the
 * run is a hosted block's, and the code does its branch too. Returns the
 * code, or NULL when there is no room or the run cannot be done so.
 */
#define JIT_MAX_MEM 32
jit_code *jit_translate(struct jit *j, const struct jit_insn *ji, int n, const uint8_t *bytes,
			int flags_in, int flags_out, struct jit_loop loop, const struct jit_chain *chain)
{
	if (!j->rw)
		return NULL;
	unsigned used = 0;
	int nmem = 0;
	for (int i = 0; i < n; i++) {
		if (!ji[i].regs && !ji[i].mem)
			return NULL;
		used |= regs_used(&ji[i]);
		nmem += ji[i].mem != 0;
	}
	if (nmem > JIT_MAX_MEM)
		return NULL;
	int names_rsp = !!(used & (1u << RSP));
	used &= ~(1u << RSP);
	int p = -1, x = -1;
	for (unsigned i = 0; i < sizeof(cpu_reg_order) && p < 0; i++)
		if (!(used & (1u << cpu_reg_order[i])))
			p = cpu_reg_order[i];
	/* x: the guest's RSP for an instruction that names it; not RBP or R13, which a SIB base cannot be with no displacement */
	for (unsigned i = 0; i < sizeof(cpu_reg_order) && names_rsp && x < 0; i++) {
		int r = cpu_reg_order[i];
		if (r != p && (r & 7) != RBP && !(used & (1u << r)))
			x = r;
	}
	if (p < 0 || (names_rsp && x < 0))
		return NULL;
	/* The scratch registers of each memory instruction; those free need saving as the rest. */
	struct mem_regs mr[JIT_MAX_MEM];
	unsigned scratch = names_rsp ? 1u << x : 0;
	for (int i = 0, m = 0; i < n; i++) {
		if (!ji[i].mem)
			continue;
		unsigned taken = regs_used(&ji[i]) | 1u << p;
		mr[m].s = (int8_t)pick_scratch(used, taken | 1u << RAX, 1);     /* RAX carries the flags */
		mr[m].t = (int8_t)pick_scratch(used, taken | 1u << mr[m].s, 0);
		mr[m].u = (int8_t)pick_scratch(used, taken | 1u << mr[m].s | 1u << mr[m].t, 0);
		if (mr[m].s < 0 || mr[m].t < 0 || mr[m].u < 0)
			return NULL;
		scratch |= 1u << mr[m].s | 1u << mr[m].t | 1u << mr[m].u;
		m++;
	}
	/* Hosted blocks save them all, so that one's code can go on in another's. */
	unsigned saved = chain ? CALLEE_SAVED : (used | scratch | 1u << p) & CALLEE_SAVED;
	const struct insn *branch = chain ? chain->branch : n ? ji[n - 1].in + 1 : NULL;

	struct emit e = { j->rw + j->used, j->rw + j->size, j->follow };
	if (chain && !j->follow) {
		uint8_t *follow = e.p;
		emit_follow_routine(&e, chain, j->rx);
		if (e.p > e.end)
			return NULL;
		j->follow = follow;
		e.follow = follow;
		j->used = (size_t)(e.p - j->rw + 15) & ~(size_t)15;
		e.p = j->rw + j->used;
	}
	/* Where the code leaves, before its start: the exits after it jump back there. */
	uint8_t *leave = e.p;
	emit_leave(&e, saved);
	while ((e.p - j->rw + sizeof(struct jit_head)) % 16)
		b1(&e, 0xcc);                                           /* INT3: the code is aligned */
	const struct insn *first = n ? ji[0].in : branch;
	struct jit_head head = { first->fn, (uint32_t)flags_in, (uint32_t)n };
	for (size_t k = 0; k < sizeof(head); k++)
		b1(&e, ((const uint8_t *)&head)[k]);
	uint8_t *start = e.p;
	for (int r = 0; r < 16; r++)
		if (saved & (1u << r))
			push_pop(&e, 0, r);
	if (p != RDI)
		mov_rr(&e, p, RDI);
	for (int r = 0; r < 16; r++)
		if (used & (1u << r))
			op_mem(&e, 1, 0x8b, r, p, gpr_at(r));           /* MOV r, [gpr r] */
	uint8_t *top_flags = e.p;
	if (flags_in)
		emit_flags_in(&e, p, !!(used & 1u << RAX));
	uint8_t *top = e.p;
	/* dirty: the guest's flags are in RFLAGS only, not in struct cpu. */
	int dirty = 0;
	uint8_t *miss[JIT_MAX_MEM];
	for (int i = 0, m = 0; i < n; i++) {
		const struct insn *in = ji[i].in;
		const uint8_t *b = bytes + in->end - in->len;
		if (!ji[i].mem && (regs_used(&ji[i]) & (1u << RSP))) {
			if (emit_renamed(&e, &ji[i], b, p, x) < 0)
				return NULL;
		} else if (!ji[i].mem) {
			for (int k = 0; k < in->len; k++)
				b1(&e, b[k]);
		} else {
			struct mem_regs r = mr[m];
			int8_t sp[3] = { r.s, r.t, r.u };
			for (int k = 0; k < 3; k++)
				if (used & (1u << sp[k]))
					op_mem(&e, 1, 0x89, sp[k], p, gpr_at(sp[k]));  /* spill */
			/* RAX holds the guest's unless it is T or U, spilled already (S is never RAX). */
			int rax_live = (used & 1u << RAX) && r.t != RAX && r.u != RAX;
			if (dirty)
				emit_flags_store(&e, p, rax_live);      /* a miss must leave them exact */
			dirty = 0;
			if (ji[i].stack)
				emit_stack_address(&e, ji[i].stack, p, r.s);
			else
				emit_address(&e, in, p, r.s);
			emit_translate(&e, &ji[i], p, r, &miss[m]);
			if (ji[i].flags_live)
				emit_flags_in(&e, p, rax_live);
			for (int k = 1; k < 3; k++)
				if (used & (1u << sp[k]))
					op_mem(&e, 1, 0x8b, sp[k], p, gpr_at(sp[k]));
			if (ji[i].stack)
				emit_stack_access(&e, in, ji[i].stack, p, r.s);
			else
				emit_reencoded(&e, b, in->len, r.s);
			if (used & (1u << r.s))
				op_mem(&e, 1, 0x8b, r.s, p, gpr_at(r.s));
			m++;
		}
		if (ji[i].flags != PF_NONE)
			dirty = 1;
	}
	uint8_t *back = NULL;
	if (loop.cc < 0 && chain) {
		emit_block_branch(&e, used, p, dirty, chain, leave);
	} else if (loop.cc < 0) {
		store_regs(&e, used, p);
		if (flags_out && dirty)
			emit_flags_store(&e, p, 0);
		b1(&e, 0xb8);                                           /* MOV EAX, n */
		b4(&e, (uint32_t)n);
		emit_leave(&e, saved);
	} else if (loop.cc == JIT_JMP) {
		back = jump_later(&e, 0);
	} else {
		back = jump_later(&e, (uint8_t)(0x80 | loop.cc));      /* the guest's Jcc */
		if (dirty)
			emit_flags_store(&e, p, !!(used & 1u << RAX));
		if (chain) {
			store_regs(&e, used, p);
			emit_chain_exit(&e, p, chain, chain->end, 0, leave);
		} else {
			emit_branch_exit(&e, used, p, loop.end, branch, leave);
		}
	}
	if (back) {
		land(&e, back, e.p);
		emit_loop_back(&e, used, p, n + 1, dirty, flags_in ? top_flags : top, branch, leave);
	}
	/*
	 * The misses: the registers back (the spilled ones are there already),
	 * and the count done; or, in a hosted block, whose code may have
	 * started in another's, the instruction in c->cur.
	 */
	for (int i = 0, m = 0; i < n; i++) {
		if (!ji[i].mem)
			continue;
		struct mem_regs r = mr[m];
		land(&e, miss[m], e.p);
		store_regs(&e, used & ~(1u << r.s | 1u << r.t | 1u << r.u), p);
		if (chain)
			store_cur(&e, p, r.t, ji[i].in);
		b1(&e, 0xb8);                                           /* MOV EAX, i */
		b4(&e, chain ? (uint32_t)JIT_MISS : (uint32_t)i);
		jump_to(&e, leave);
		m++;
	}
	if (e.p > e.end)
		return NULL;
	jit_code *code = (jit_code *)(uintptr_t)(j->rx + (start - j->rw));
	j->used = (size_t)(e.p - j->rw + 15) & ~(size_t)15;     /* the size is a multiple of 16 */
	return code;
}
