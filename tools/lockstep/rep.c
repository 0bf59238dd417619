/*
 * REP string instructions, stepped whole.
 *
 * Single-stepping should trap after every iteration of a REP string
 * instruction, but hypervisors cut it up their own way: KVM's instruction
 * emulator runs up to 1024 memory iterations per step and needs one more
 * step to move past the instruction once the count is 0, makes one exit
 * per element for REP OUTS but batches REP INS; runvm's own CPU batches
 * port I/O up to a page and runs memory iterations all at once. So a REP
 * string instruction counts as one step: side A runs until it has left
 * the instruction (its RIP moved on), its port and MMIO accesses going to
 * the devices and into a log, one entry per element; then side B runs
 * until it has left the instruction too, and each element it reads or
 * writes must be the next one of the log (it is handed A's read data).
 */
#include <stdlib.h>
#include <string.h>

#include "lockstep.h"

#define REP_MAX_STEPS    (1u << 24)     /* steps of one side inside one instruction */
#define REP_MAX_ELEMENTS (1u << 20)     /* port or MMIO elements of one instruction */

/* One element of a port or MMIO access. */
struct access {
	uint8_t mmio, write, size;
	uint64_t addr;
	uint8_t data[8];
};

struct access_log {
	struct access *e;
	size_t n, cap, used;
};

static int log_add(struct access_log *log, const struct access *a)
{
	if (log->n == log->cap) {
		size_t cap = log->cap ? log->cap * 2 : 64;
		if (cap > REP_MAX_ELEMENTS)
			return -1;
		struct access *e = realloc(log->e, cap * sizeof(*e));
		if (!e)
			return -1;
		log->e = e;
		log->cap = cap;
	}
	log->e[log->n++] = *a;
	return 0;
}

static void describe_access(const struct access *a, char *buf, size_t len)
{
	snprintf(buf, len, "%s %s 0x%llx size %u", a->mmio ? "MMIO" : "port", a->write ? "write" : "read",
		 (unsigned long long)a->addr, a->size);
	if (a->write)
		for (unsigned i = 0; i < a->size && strlen(buf) + 4 < len; i++)
			snprintf(buf + strlen(buf), len - strlen(buf), "%s%02x", i ? " " : " data ", a->data[i]);
}

/* The elements of a side's current I/O or MMIO exit; its data pointer, or NULL. */
static uint8_t *exit_elements(const struct side *s, struct access *first, uint32_t *count)
{
	struct kvm_run *run = s->vcpu->run;
	memset(first, 0, sizeof(*first));
	if (run->exit_reason == KVM_EXIT_MMIO) {
		if (run->mmio.len == 0 || run->mmio.len > sizeof(run->mmio.data))
			return NULL;
		first->mmio = 1;
		first->write = run->mmio.is_write;
		first->size = (uint8_t)run->mmio.len;
		first->addr = run->mmio.phys_addr;
		*count = 1;
		return run->mmio.data;
	}
	uint64_t bytes = (uint64_t)run->io.count * run->io.size;
	if (run->io.size == 0 || run->io.size > 8 || run->io.data_offset > s->vcpu->run_size ||
	    bytes > s->vcpu->run_size - run->io.data_offset)
		return NULL;
	first->write = run->io.direction == KVM_EXIT_IO_OUT;
	first->size = run->io.size;
	first->addr = run->io.port;
	*count = run->io.count;
	return (uint8_t *)run + run->io.data_offset;
}

struct rep_run {
	struct side *a, *b;
	const struct cpu_state *pre;
	struct access_log log;
	char *why;
	size_t len;
	int trace;
};

static enum pair_result rep_fail(struct rep_run *r, enum pair_result res, const char *fmt, const char *arg)
{
	snprintf(r->why, r->len, fmt, arg);
	return res;
}

/* Has the side left the instruction (after a step)? -1 on error. */
static int left_insn(struct side *s, const struct cpu_state *pre)
{
	struct cpu_state st;
	if (side_get_state(s, &st) < 0)
		return -1;
	return st.regs.rip != pre->regs.rip || st.sregs.cs.base != pre->sregs.cs.base;
}

/* Side A's exit: to the devices, then into the log. */
static enum pair_result log_a_exit(struct rep_run *r)
{
	struct access first;
	uint32_t count;
	uint8_t *data = exit_elements(r->a, &first, &count);
	if (!data)
		return rep_fail(r, PAIR_ERROR, "%s: an I/O exit with bad data", r->a->name);
	if (vcpu_handle_exit(r->a->vcpu) != 0)
		return rep_fail(r, PAIR_ERROR, "%s: the I/O exit failed", r->a->name);
	for (uint32_t i = 0; i < count; i++) {
		struct access e = first;
		memcpy(e.data, data + (size_t)i * first.size, first.size);
		if (r->trace) {
			char d[128];
			describe_access(&e, d, sizeof(d));
			fprintf(stderr, "  %s: %s\n", r->a->name, d);
		}
		if (log_add(&r->log, &e) < 0)
			return rep_fail(r, PAIR_ERROR, "%s", "too many port or MMIO accesses in one REP instruction");
	}
	if (vm_stopping(&r->a->vm))
		return rep_fail(r, PAIR_END, "%s", "a device ended the run inside a REP instruction");
	return side_finish_io(r->a) < 0 ? PAIR_ERROR : PAIR_AGAIN;
}

/* Side B's exit: each element must be the next of the log; reads get A's data. */
static enum pair_result match_b_exit(struct rep_run *r)
{
	struct access first;
	uint32_t count;
	uint8_t *data = exit_elements(r->b, &first, &count);
	if (!data)
		return rep_fail(r, PAIR_DIVERGED, "%s made an I/O exit with bad data", r->b->name);
	for (uint32_t i = 0; i < count; i++) {
		struct access got = first;
		memcpy(got.data, data + (size_t)i * first.size, first.size);
		char g[128], w[128];
		describe_access(&got, g, sizeof(g));
		if (r->trace)
			fprintf(stderr, "  %s: %s\n", r->b->name, g);
		if (r->log.used == r->log.n) {
			snprintf(r->why, r->len, "in a REP instruction %s made more accesses than %s: %s",
				 r->b->name, r->a->name, g);
			return PAIR_DIVERGED;
		}
		const struct access *want = &r->log.e[r->log.used++];
		describe_access(want, w, sizeof(w));
		if (got.mmio != want->mmio || got.write != want->write || got.size != want->size ||
		    got.addr != want->addr || (got.write && memcmp(got.data, want->data, got.size))) {
			snprintf(r->why, r->len, "access %zu of a REP instruction differs:\n  %-5s %s\n  %-5s %s",
				 r->log.used, r->a->name, w, r->b->name, g);
			return PAIR_DIVERGED;
		}
		if (!got.write)
			memcpy(data + (size_t)i * first.size, want->data, first.size);
	}
	return side_finish_io(r->b) < 0 ? PAIR_ERROR : PAIR_AGAIN;
}

typedef enum pair_result (*access_fn)(struct rep_run *r);

/* Runs one side until it has left the instruction, passing its accesses to fn. */
static enum pair_result run_through(struct rep_run *r, struct side *s, access_fn fn)
{
	for (unsigned n = 0; n < REP_MAX_STEPS; n++) {
		if (side_run(s) < 0)
			return rep_fail(r, PAIR_ERROR, "%s", "KVM_RUN failed");
		unsigned reason = s->vcpu->run->exit_reason;
		enum pair_result res;
		if (reason == KVM_EXIT_IO || reason == KVM_EXIT_MMIO) {
			res = fn(r);
			if (res != PAIR_AGAIN)
				return res;
			continue;
		}
		if (reason != KVM_EXIT_DEBUG) {
			char desc[256];
			exit_describe(s, desc, sizeof(desc));
			snprintf(r->why, r->len, "%s made an exit inside a REP instruction: %s", s->name, desc);
			return s == r->a ? PAIR_ERROR : PAIR_DIVERGED;
		}
		int left = left_insn(s, r->pre);
		if (left < 0)
			return rep_fail(r, PAIR_ERROR, "%s", "KVM_GET_REGS failed");
		if (left)
			return PAIR_STEPPED;
	}
	return rep_fail(r, PAIR_ERROR, "%s does not leave a REP instruction", s->name);
}

enum pair_result rep_step(struct side *a, struct side *b, const struct cpu_state *pre, int trace,
			  char *why, size_t len)
{
	struct rep_run r = { .a = a, .b = b, .pre = pre, .why = why, .len = len, .trace = trace };
	enum pair_result res = run_through(&r, a, log_a_exit);
	if (res == PAIR_STEPPED)
		res = run_through(&r, b, match_b_exit);
	if (res == PAIR_STEPPED && r.log.used != r.log.n) {
		char w[128];
		describe_access(&r.log.e[r.log.used], w, sizeof(w));
		snprintf(why, len, "in a REP instruction %s made fewer accesses than %s, whose next was: %s",
			 b->name, a->name, w);
		res = PAIR_DIVERGED;
	}
	free(r.log.e);
	return res;
}
