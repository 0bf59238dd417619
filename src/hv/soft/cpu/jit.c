/*
 * Runs of pure instructions as host code.
 *
 * A pure instruction (internal.h) works on registers only: it cannot
 * fault, exit or look at RIP, and between two of them nothing but the
 * next one sees the guest state. The guest runs 64-bit x86 code and the
 * host is x86-64, so a run of them in 64-bit code is executed as it is:
 * its bytes are copied between a prologue that loads the guest
 * registers the run uses into the same host registers, and an epilogue
 * that stores them back. One host register the run does not use holds
 * the struct cpu; a run that uses RSP, the host's stack, stays
 * interpreted. The arithmetic flags live in the host's RFLAGS for the
 * whole run: they are loaded from the guest only when the run reads
 * them before writing them, and stored only when what comes after the
 * run reads them (the liveness pass of exec.c says).
 *
 * The code goes to a buffer mapped twice, writable and executable, so
 * that no page is both; it empties with the block cache.
 */
#include <pthread.h>
#include <stddef.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "internal.h"

enum { RAX, RCX, RDX, RBX, RSP, RBP, RSI, RDI };
/* The System V ABI's callee-saved registers: the code saves those it changes. */
#define CALLEE_SAVED (1u << RBX | 1u << RBP | 0xf000u)
/* Where the struct cpu goes, best first: a free caller-saved register needs no saving. */
static const uint8_t cpu_reg_order[] = { RDI, RSI, RDX, RCX, RAX, 8, 9, 10, 11, RBX, RBP, 12, 13, 14, 15 };

struct emit {
	uint8_t *p, *end;
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

static int32_t gpr_at(int r)
{
	return (int32_t)(offsetof(struct cpu, gpr) + 8 * (size_t)r);
}

/* The register a field names: byte register ids 16-19 are AH..BH, in RAX..RBX. */
static unsigned reg_bit(int r, int byte)
{
	return 1u << (byte && r >= 16 ? r - 16 : r);
}

/* The guest registers the pure instruction in uses. */
static unsigned regs_used(const struct insn *in, const struct pure_variants *v)
{
	int byte = in->opsize == 1;
	unsigned m = 0;
	if (v->regs & JR_REG)
		m |= reg_bit(in->reg, byte);
	if (v->regs & JR_RM)
		m |= reg_bit(in->rm, byte || (v->regs & JR_RM_BYTE));
	if (v->regs & JR_EA) {
		if (in->base != NOREG)
			m |= 1u << in->base;
		if (in->index != NOREG)
			m |= 1u << in->index;
	}
	if (v->regs & JR_CL)
		m |= 1u << R_CX;
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
	return found;
}

int jit_init(struct jit *j, size_t size)
{
	memset(j, 0, sizeof(*j));
	if (take_spare(j, size))
		return 0;
	int fd = memfd_create("runvm-code", MFD_CLOEXEC);
	if (fd < 0)
		return -1;
	void *rw = MAP_FAILED, *rx = MAP_FAILED;
	if (ftruncate(fd, (off_t)size) == 0) {
		rw = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
		rx = mmap(NULL, size, PROT_READ | PROT_EXEC, MAP_SHARED, fd, 0);
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

/* RFLAGS = the guest's arithmetic flags (the rest of the host's stays as the ABI has it). */
static void emit_flags_in(struct emit *e, int p)
{
	op_mem(e, 0, 0xff, 6, p, (int32_t)offsetof(struct cpu, flags));   /* PUSH [flags] */
	b1(e, 0x48); b1(e, 0x81); b1(e, 0x24); b1(e, 0x24);             /* AND QWORD [RSP], */
	b4(e, F_ARITH | 2);
	b1(e, 0x9d);                                                    /* POPFQ */
}

/* The guest's arithmetic flags = those on the stack (PUSHFQ); the registers but p are free. */
static void emit_flags_out(struct emit *e, int p)
{
	int32_t flags = (int32_t)offsetof(struct cpu, flags);
	int t = p == RAX ? RCX : RAX;
	b1(e, (uint8_t)(0x58 + t));                                     /* POP t */
	b1(e, 0x81); b1(e, (uint8_t)(0xe0 + t)); b4(e, F_ARITH);        /* AND t32, F_ARITH */
	op_mem(e, 1, 0x81, 4, p, flags);                                /* AND [flags], ~F_ARITH */
	b4(e, ~(uint32_t)F_ARITH);
	op_mem(e, 1, 0x09, t, p, flags);                                /* OR [flags], t */
	op_mem(e, 0, 0xc7, 0, p, (int32_t)offsetof(struct cpu, lf_op)); /* MOV [lf_op], 0 */
	b4(e, 0);
}

/*
 * Translates the pure instructions in[0..n) of 64-bit code, with
 * variants v[0..n); bytes holds the block's bytes (in->end counts from
 * there). flags_in: the run reads the guest's flags before it writes
 * them; flags_out: what follows reads the flags the run leaves. Returns
 * the code, or NULL when there is no room or the run cannot be done so.
 */
jit_code *jit_translate(struct jit *j, const struct insn *in, const struct pure_variants **v,
			int n, const uint8_t *bytes, int flags_in, int flags_out)
{
	if (!j->rw)
		return NULL;
	unsigned used = 0;
	for (int i = 0; i < n; i++) {
		if (!v[i]->regs)
			return NULL;
		used |= regs_used(&in[i], v[i]);
	}
	if (used & (1u << RSP))
		return NULL;
	int p = -1;
	for (unsigned i = 0; i < sizeof(cpu_reg_order) && p < 0; i++)
		if (!(used & (1u << cpu_reg_order[i])))
			p = cpu_reg_order[i];
	if (p < 0)
		return NULL;
	unsigned saved = (used | 1u << p) & CALLEE_SAVED;

	struct emit e = { j->rw + j->used, j->rw + j->size };
	for (int r = 0; r < 16; r++)
		if (saved & (1u << r))
			push_pop(&e, 0, r);
	if (p != RDI) {
		b1(&e, (uint8_t)(0x48 | (p >= 8 ? 1 : 0)));             /* MOV p, RDI */
		b1(&e, 0x89);
		b1(&e, (uint8_t)(0xc0 | RDI << 3 | (p & 7)));
	}
	for (int r = 0; r < 16; r++)
		if (used & (1u << r))
			op_mem(&e, 1, 0x8b, r, p, gpr_at(r));           /* MOV r, [gpr r] */
	if (flags_in)
		emit_flags_in(&e, p);
	for (int i = 0; i < n; i++)
		for (int k = in[i].end - in[i].len; k < in[i].end; k++)
			b1(&e, bytes[k]);
	if (flags_out)
		b1(&e, 0x9c);                                           /* PUSHFQ */
	for (int r = 0; r < 16; r++)
		if (used & (1u << r))
			op_mem(&e, 1, 0x89, r, p, gpr_at(r));           /* MOV [gpr r], r */
	if (flags_out)
		emit_flags_out(&e, p);
	for (int r = 15; r >= 0; r--)
		if (saved & (1u << r))
			push_pop(&e, 1, r);
	b1(&e, 0xc3);                                                   /* RET */
	if (e.p > e.end)
		return NULL;
	jit_code *code = (jit_code *)(uintptr_t)(j->rx + j->used);
	j->used = (size_t)(e.p - j->rw + 15) & ~(size_t)15;
	if (j->used > j->size)
		j->used = j->size;
	return code;
}

/* Runs a translated run: in->imm is its code; in->imm2 its length and JIT_FLAGS_IN. */
void jit_run(struct cpu *c, const struct insn *in)
{
	if (in->imm2 & JIT_FLAGS_IN)
		flags_eager(c);
	((jit_code *)(uintptr_t)in->imm)(c);
	insn_next_pure(c, in + (in->imm2 & ~JIT_FLAGS_IN) - 1, 0);
}
