/*
 * String instructions: MOVS, CMPS, STOS, LODS, SCAS, INS, OUTS, with
 * REP/REPE/REPNE. rSI, rDI and rCX are sized by the address size. A
 * repeated instruction updates its registers after every iteration, so
 * a fault or an exit in the middle leaves a state it can resume from;
 * it also yields (RIP unchanged) when another thread kicks the vCPU,
 * so that interrupts are not held off by a long copy.
 */
#include "internal.h"
#include "insns.h"

/* Iterations between looks at the kick flag. */
#define STRING_BATCH 4096

struct strop {
	int size, as;           /* operand size, address size */
	uint64_t amask;
	int64_t step;
};

static void strop_init(struct cpu *c, const struct insn *in, struct strop *s)
{
	s->size = in->opsize;
	s->as = in->adsize;
	s->amask = size_mask(in->adsize);
	s->step = (c->flags & F_DF) ? -(int64_t)in->opsize : in->opsize;
}

static uint64_t areg(struct cpu *c, const struct strop *s, int r)
{
	return c->gpr[r] & s->amask;
}

static void advance(struct cpu *c, const struct strop *s, int r, int64_t n)
{
	reg_write(c, r, s->as, (c->gpr[r] + (uint64_t)(s->step * n)) & s->amask);
}

/*
 * Runs body once, or while rCX != 0 with a REP prefix. body returns 0 to
 * stop early (REPE/REPNE condition). chunk, when given, may do up to max
 * iterations at once and returns how many it did (0: body does the next
 * one). Yields after a batch if kicked.
 */
typedef int str_body(struct cpu *c, const struct insn *in, const struct strop *s);
typedef uint64_t str_chunk(struct cpu *c, const struct insn *in, const struct strop *s, uint64_t max);

static void repeat(struct cpu *c, const struct insn *in, str_body *body, str_chunk *chunk)
{
	struct strop s;
	strop_init(c, in, &s);
	if (!in->rep) {
		body(c, in, &s);
		return;
	}
	for (uint64_t n = 0;; n++) {
		uint64_t cnt = areg(c, &s, R_CX);
		if (!cnt)
			return;
		if (n >= STRING_BATCH) {
			if (cpu_kicked(c) || c->budget < n) {
				c->next_rip = c->rip;   /* resume later */
				c->stop = 1;
				return;
			}
			c->budget -= n;
			n = 0;
		}
		uint64_t done = chunk ? chunk(c, in, &s, cnt < STRING_BATCH ? cnt : STRING_BATCH) : 0;
		if (done) {
			reg_write(c, R_CX, s.as, cnt - done);
			if (done == cnt)
				return;
			n += done - 1;
			continue;
		}
		int go_on = body(c, in, &s);
		reg_write(c, R_CX, s.as, cnt - 1);
		/*
		 * The iteration is committed: its port/MMIO accesses must not be
		 * replayed against the next one when the instruction restarts.
		 */
		if (c->io.n)
			io_commit(c);
		if (!go_on || cnt == 1)
			return;
	}
}

static int movs_body(struct cpu *c, const struct insn *in, const struct strop *s)
{
	uint64_t v = mem_read(c, in->seg, areg(c, s, R_SI), s->size);
	mem_write(c, S_ES, areg(c, s, R_DI), s->size, v);
	advance(c, s, R_SI, 1);
	advance(c, s, R_DI, 1);
	return 1;
}

static int stos_body(struct cpu *c, const struct insn *in, const struct strop *s)
{
	(void)in;
	mem_write(c, S_ES, areg(c, s, R_DI), s->size, reg_read(c, R_AX, s->size));
	advance(c, s, R_DI, 1);
	return 1;
}

static int lods_body(struct cpu *c, const struct insn *in, const struct strop *s)
{
	reg_write(c, R_AX, s->size, mem_read(c, in->seg, areg(c, s, R_SI), s->size));
	advance(c, s, R_SI, 1);
	return 1;
}

/* CMPS/SCAS: the flags of a - b; REPE goes on while equal, REPNE while not. */
static int compare(struct cpu *c, const struct insn *in, int size, uint64_t a, uint64_t b)
{
	uint64_t m = size_mask(size);
	set_lazy(c, LF_SUB, size, (a - b) & m, a & m, b & m);
	int eq = (a & m) == (b & m);
	return in->rep == 0xf3 ? eq : !eq;
}

static int cmps_body(struct cpu *c, const struct insn *in, const struct strop *s)
{
	uint64_t a = mem_read(c, in->seg, areg(c, s, R_SI), s->size);
	uint64_t b = mem_read(c, S_ES, areg(c, s, R_DI), s->size);
	advance(c, s, R_SI, 1);
	advance(c, s, R_DI, 1);
	return compare(c, in, s->size, a, b);
}

static int scas_body(struct cpu *c, const struct insn *in, const struct strop *s)
{
	uint64_t b = mem_read(c, S_ES, areg(c, s, R_DI), s->size);
	advance(c, s, R_DI, 1);
	return compare(c, in, s->size, reg_read(c, R_AX, s->size), b);
}

/*
 * Whole runs of REP STOS/MOVS within one page of RAM, in 64-bit mode
 * going forward: the TLB's write tags are only there for RAM that holds
 * no decoded code, so these need none of the slow path's care. They
 * return 0 (one iteration at a time then) for anything else.
 */
static uint64_t page_run(const struct strop *s, uint64_t lin, uint64_t max)
{
	uint64_t room = (4096 - (lin & 0xfff)) / (uint64_t)s->size;
	return max < room ? max : room;
}

static uint64_t stos_chunk(struct cpu *c, const struct insn *in, const struct strop *s, uint64_t max)
{
	(void)in;
	if (c->mode != MODE_LONG || s->as != 8 || s->step < 0)
		return 0;
	uint64_t lin = c->sbase[S_ES] + c->gpr[R_DI];
	uint64_t n = page_run(s, lin, max);
	uint8_t *p = n ? tlb_write_ptr(c, lin, (int)(n * (uint64_t)s->size)) : NULL;
	if (!p)
		return 0;
	uint64_t v = c->gpr[R_AX] & size_mask(s->size);
	if (s->size == 1 || !v)
		memset(p, (int)v, (size_t)(n * (uint64_t)s->size));
	else
		for (uint64_t i = 0; i < n; i++)
			host_store(p + i * (uint64_t)s->size, s->size, v);
	c->gpr[R_DI] += n * (uint64_t)s->size;
	return n;
}

static uint64_t movs_chunk(struct cpu *c, const struct insn *in, const struct strop *s, uint64_t max)
{
	if (c->mode != MODE_LONG || s->as != 8 || s->step < 0)
		return 0;
	uint64_t src = c->sbase[in->seg] + c->gpr[R_SI], dst = c->sbase[S_ES] + c->gpr[R_DI];
	uint64_t n = page_run(s, dst, page_run(s, src, max));
	size_t len = (size_t)(n * (uint64_t)s->size);
	if (!n || !is_canonical(src) || !is_canonical(dst))
		return 0;       /* (the elements fault: #GP or #SS as the segment says) */
	/*
	 * The two may share a TLB entry (4 MiB apart, as the decompressor's
	 * copies are): each is looked up, filled if need be (faulting as the
	 * first element would), and its host address kept before the other.
	 */
	uint8_t *p = tlb_read_ptr(c, src, (int)len);
	if (!p) {
		mmu_translate(c, src, ACC_R);
		p = tlb_read_ptr(c, src, (int)len);
	}
	uint8_t *q = p ? tlb_write_ptr(c, dst, (int)len) : NULL;
	if (p && !q) {
		mmu_translate(c, dst, ACC_W);
		q = tlb_write_ptr(c, dst, (int)len);
	}
	/* A destination just above the source repeats it element by element: not memmove. */
	if (!q || (q > p && q < p + len))
		return 0;
	memmove(q, p, len);
	c->gpr[R_SI] += len;
	c->gpr[R_DI] += len;
	return n;
}

void op_movs(struct cpu *c, const struct insn *in) { repeat(c, in, movs_body, movs_chunk); }
void op_stos(struct cpu *c, const struct insn *in) { repeat(c, in, stos_body, stos_chunk); }
void op_lods(struct cpu *c, const struct insn *in) { repeat(c, in, lods_body, NULL); }
void op_cmps(struct cpu *c, const struct insn *in) { repeat(c, in, cmps_body, NULL); }
void op_scas(struct cpu *c, const struct insn *in) { repeat(c, in, scas_body, NULL); }

/* ---- port I/O ---- */

/* The I/O permission check of protected mode: IOPL, then the TSS bitmap. */
void io_check(struct cpu *c, uint16_t port, int size)
{
	if (c->mode == MODE_REAL)
		return;
	if (c->mode != MODE_VM86 && (uint64_t)c->cpl <= cpu_iopl(c))
		return;
	const struct seg *tr = &c->seg[S_TR];
	int type = SEG_TYPE(tr->attr);
	if ((tr->attr & SEG_UNUSABLE) || (type != 9 && type != 11) || tr->limit < 0x67)
		GP0(c);
	uint32_t base = (uint32_t)lin_read(c, tr->base + 0x66, 2, ACC_R | ACC_SYS);
	uint32_t byte = base + port / 8;
	if (byte + 1 > tr->limit)
		GP0(c);
	uint32_t bits = (uint32_t)lin_read(c, tr->base + byte, 2, ACC_R | ACC_SYS);
	if ((bits >> (port & 7)) & ((1u << size) - 1))
		GP0(c);
}

/*
 * How many elements of a REP INS/OUTS can go in one exit: contiguous in
 * one page, forward only, and within the data page of kvm_run.
 */
static uint32_t io_batch(struct cpu *c, const struct strop *s, uint64_t lin, uint64_t cnt)
{
	if (s->step < 0 || cnt <= 1 || (lin & (uint64_t)(s->size - 1)))
		return 1;
	uint64_t room = (4096 - (lin & 0xfff)) / (uint64_t)s->size;
	uint64_t n = cnt < room ? cnt : room;
	if (n > IO_DATA_MAX / (uint64_t)s->size)
		n = IO_DATA_MAX / (uint64_t)s->size;
	(void)c;
	return n ? (uint32_t)n : 1;
}

static uint64_t string_lin(struct cpu *c, int seg, uint64_t off, int size, int acc)
{
	return seg_lin(c, seg, off, size, acc);
}

static void ins_outs(struct cpu *c, const struct insn *in, int is_in)
{
	struct strop s;
	uint8_t buf[IO_DATA_MAX];
	uint16_t port = (uint16_t)c->gpr[R_DX];
	strop_init(c, in, &s);
	io_check(c, port, s.size);
	for (;;) {
		uint64_t cnt = in->rep ? areg(c, &s, R_CX) : 1;
		if (!cnt)
			return;
		int seg = is_in ? S_ES : in->seg;
		int r = is_in ? R_DI : R_SI;
		uint64_t off = areg(c, &s, r);
		uint64_t lin = string_lin(c, seg, off, s.size, is_in ? ACC_W : ACC_R);
		uint32_t n = io_batch(c, &s, lin, cnt);
		if (n > 1) {
			/* The whole run must be addressable before the port sees it. */
			string_lin(c, seg, off, (int)(n * (uint32_t)s.size), is_in ? ACC_W : ACC_R);
			mmu_translate(c, lin, is_in ? ACC_W : ACC_R);
		}
		if (is_in) {
			io_access(c, 0, 0, port, s.size, n, buf);
			for (uint32_t i = 0; i < n; i++)
				lin_write(c, lin + (uint64_t)i * s.size, s.size,
					  host_load(buf + i * s.size, s.size), ACC_W);
		} else {
			for (uint32_t i = 0; i < n; i++)
				host_store(buf + i * s.size, s.size,
					   lin_read(c, lin + (uint64_t)i * s.size, s.size, ACC_R));
			io_access(c, 0, 1, port, s.size, n, buf);
		}
		advance(c, &s, r, n);
		if (!in->rep)
			return;
		reg_write(c, R_CX, s.as, cnt - n);
		io_commit(c);
		if (cnt == n)
			return;
		if (cpu_kicked(c) || c->budget < n) {
			c->next_rip = c->rip;
			c->stop = 1;
			return;
		}
	}
}

void op_ins(struct cpu *c, const struct insn *in) { ins_outs(c, in, 1); }
void op_outs(struct cpu *c, const struct insn *in) { ins_outs(c, in, 0); }
