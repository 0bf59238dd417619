/*
 * The lockstep loop: run both sides until each has finished one
 * instruction (a KVM_EXIT_DEBUG from single-stepping), handling the port
 * and MMIO exits on the way in pairs (exits.c; a REP string instruction
 * goes whole, rep.c); let B catch up where a hypervisor ends a step
 * early; copy the legitimately different results from A to B (insn.c);
 * compare; repeat. Step k is the k-th instruction; a divergence "at step
 * k" shows in the k-th instruction's exits or in the state after it.
 */
#include <stdlib.h>
#include <string.h>

#include "lockstep.h"

struct lockstep {
	struct side *a, *b;
	const struct lockstep_opts *o;
	uint64_t steps;                 /* instructions finished and compared */
	struct cpu_state sa, sb;        /* both states after the last step */
	struct cpu_state pre;           /* A's state before the current step */
	uint8_t insn[INSN_MAX];         /* the bytes at pre's RIP */
	size_t insn_len;
	uint64_t synced_flags, synced_regs;
	uint64_t rep_insns;             /* REP string instructions stepped whole */
	uint64_t catch_ups;             /* extra steps of B after an event delivery */
	char note[400];                 /* for the report: what catching up did */
};

#define WHY_MAX 1024

static void print_bytes(FILE *out, const uint8_t *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		fprintf(out, " %02x", p[i]);
}

/* The current step's instruction, with its length when A fell through to the next one. */
static void print_step_insn(struct lockstep *l, FILE *out)
{
	uint64_t at = state_code_address(&l->pre);
	uint64_t next = state_code_address(&l->sa);
	fprintf(out, "  instruction at %016llx:", (unsigned long long)at);
	if (next > at && next - at <= l->insn_len) {
		print_bytes(out, l->insn, (size_t)(next - at));
	} else {
		print_bytes(out, l->insn, l->insn_len);
		fprintf(out, "%s", l->insn_len ? " (length not known: a jump, fault or repeat)" : " (not readable)");
	}
	fputc('\n', out);
}

/* The general registers before the step, when both sides still agreed. */
static void print_before(FILE *out, const struct cpu_state *st)
{
	const struct kvm_regs *r = &st->regs;
	fprintf(out, "  before it (both): rflags %08llx\n", (unsigned long long)r->rflags);
	fprintf(out, "    rax %016llx rbx %016llx rcx %016llx rdx %016llx\n", r->rax, r->rbx, r->rcx, r->rdx);
	fprintf(out, "    rsi %016llx rdi %016llx rbp %016llx rsp %016llx\n", r->rsi, r->rdi, r->rbp, r->rsp);
	fprintf(out, "    r8  %016llx r9  %016llx r10 %016llx r11 %016llx\n", r->r8, r->r9, r->r10, r->r11);
	fprintf(out, "    r12 %016llx r13 %016llx r14 %016llx r15 %016llx\n", r->r12, r->r13, r->r14, r->r15);
}

static void print_next_insn(FILE *out, struct side *s, const struct cpu_state *st)
{
	uint8_t bytes[INSN_MAX];
	uint64_t at = state_code_address(st);
	size_t n = side_read_virt(s, st, at, bytes, sizeof(bytes));
	fprintf(out, "  next on %s (%c) at %016llx:", s->name, s->label, (unsigned long long)at);
	print_bytes(out, bytes, n);
	fprintf(out, "%s\n", n ? "" : " (not readable)");
}

/* The lowest guest-physical address where the two RAMs differ, or -1. */
static int64_t ram_first_difference(const struct side *a, const struct side *b)
{
	const struct guest_mem *ma = &a->vm.mem, *mb = &b->vm.mem;
	const uint64_t chunk = 4096;
	for (uint64_t off = 0; off < ma->size; off += chunk) {
		uint64_t n = ma->size - off < chunk ? ma->size - off : chunk;
		if (memcmp(ma->host + off, mb->host + off, n) == 0)
			continue;
		while (ma->host[off] == mb->host[off])
			off++;
		/* RAM past the low part is mapped at 4 GiB. */
		return (int64_t)(off < ma->low_size ? off : off - ma->low_size + MEM_HOLE_END);
	}
	return -1;
}

static void print_ram_difference(struct lockstep *l, FILE *out)
{
	int64_t at = ram_first_difference(l->a, l->b);
	if (at < 0) {
		fprintf(out, "  guest RAM: the same on both sides\n");
		return;
	}
	uint8_t x = 0, y = 0;
	guest_read(&l->a->vm.mem, (uint64_t)at, &x, 1);
	guest_read(&l->b->vm.mem, (uint64_t)at, &y, 1);
	fprintf(out, "  guest RAM: first difference at physical %llx (%s %02x, %s %02x)\n",
		(unsigned long long)at, l->a->name, x, l->b->name, y);
}

static int report_divergence(struct lockstep *l, uint64_t step, const char *why)
{
	FILE *out = stdout;
	fflush(out);
	fprintf(out, "\nlockstep: divergence at step %llu: %s\n", (unsigned long long)step, why);
	if (l->note[0])
		fprintf(out, "  (%s)\n", l->note);
	if (step > 0) {
		print_step_insn(l, out);
		print_before(out, &l->pre);
	}
	print_next_insn(out, l->a, &l->sa);
	print_next_insn(out, l->b, &l->sb);
	char name_a[32], name_b[32];
	snprintf(name_a, sizeof(name_a), "%s (A)", l->a->name);
	snprintf(name_b, sizeof(name_b), "%s (B)", l->b->name);
	state_print_pair(out, name_a, name_b, &l->sa, &l->sb);
	print_ram_difference(l, out);
	return LOCKSTEP_DIVERGED;
}

static int report_end(struct lockstep *l, const char *why)
{
	int64_t ram = ram_first_difference(l->a, l->b);
	if (ram >= 0) {
		char msg[128];
		snprintf(msg, sizeof(msg), "guest RAM differs at the end (%s)", why);
		return report_divergence(l, l->steps, msg);
	}
	fflush(stdout);
	printf("\nlockstep: %llu instructions, no divergence: %s\n", (unsigned long long)l->steps, why);
	printf("lockstep: copied from %s to %s: %llu undefined-flag results, %llu host-dependent results\n",
	       l->a->name, l->b->name, (unsigned long long)l->synced_flags,
	       (unsigned long long)l->synced_regs);
	printf("lockstep: %llu REP string instructions stepped whole; %s caught up %llu times\n",
	       (unsigned long long)l->rep_insns, l->b->name, (unsigned long long)l->catch_ups);
	return LOCKSTEP_AGREE;
}

static int get_states(struct lockstep *l)
{
	return side_get_state(l->a, &l->sa) < 0 || side_get_state(l->b, &l->sb) < 0 ? -1 : 0;
}

static void trace_exits(struct lockstep *l)
{
	if (l->a->vcpu->run->exit_reason == KVM_EXIT_DEBUG && l->b->vcpu->run->exit_reason == KVM_EXIT_DEBUG)
		return;
	char ea[256], eb[256];
	exit_describe(l->a, ea, sizeof(ea));
	exit_describe(l->b, eb, sizeof(eb));
	fprintf(stderr, "  exits: %s: %s; %s: %s\n", l->a->name, ea, l->b->name, eb);
}

/* Runs both sides through one instruction and the exits it makes. */
static enum pair_result step_pair(struct lockstep *l, char *why, size_t len)
{
	for (;;) {
		if (side_run(l->a) < 0 || side_run(l->b) < 0) {
			snprintf(why, len, "KVM_RUN failed");
			return PAIR_ERROR;
		}
		if (l->o->trace)
			trace_exits(l);
		enum pair_result r = exits_pair(l->a, l->b, why, len);
		if (r != PAIR_AGAIN)
			return r;
		if (side_finish_io(l->a) < 0 || side_finish_io(l->b) < 0) {
			snprintf(why, len, "KVM_RUN failed");
			return PAIR_ERROR;
		}
	}
}

static int same_place(const struct cpu_state *x, const struct cpu_state *y)
{
	return x->regs.rip == y->regs.rip && x->sregs.cs.base == y->sregs.cs.base;
}

/*
 * Where a step that delivers an exception ends is the hypervisor's
 * choice: this host's KVM reports it after the handler's first
 * instruction, runvm's at that instruction, KVM on VT-x only after the
 * handler returns. When B stopped short of A somewhere new (not where it
 * started: that would be an instruction not run), it takes one more step
 * alone, and it has caught up if it is then where A is.
 */
static int catch_up(struct lockstep *l)
{
	l->note[0] = 0;
	if (same_place(&l->sa, &l->sb) || same_place(&l->sb, &l->pre))
		return 0;
	struct cpu_state before = l->sb;
	if (side_run(l->b) < 0)
		return -1;
	if (l->b->vcpu->run->exit_reason == KVM_EXIT_DEBUG) {
		if (side_get_state(l->b, &l->sb) < 0)
			return -1;
		if (same_place(&l->sa, &l->sb)) {
			l->catch_ups++;
			if (l->o->trace)
				fprintf(stderr, "  %s took one more step to catch up\n", l->b->name);
			return 0;
		}
	}
	char desc[256] = "";
	if (l->b->vcpu->run->exit_reason == KVM_EXIT_DEBUG)
		snprintf(desc, sizeof(desc), "it went on to %llx", (unsigned long long)state_code_address(&l->sb));
	else
		exit_describe(l->b, desc, sizeof(desc));
	snprintf(l->note, sizeof(l->note), "%s did not catch up in one more step: %s", l->b->name, desc);
	l->sb = before;
	return 0;
}

/* Copies from A to B what the instruction leaves legitimately different. */
static int sync_legitimate(struct lockstep *l)
{
	struct insn_effects e;
	insn_effects(l->insn, l->insn_len, &l->pre, &e);
	struct kvm_regs r = l->sb.regs;
	uint64_t mask = e.undefined_flags | e.host_flags;
	r.rflags = (r.rflags & ~mask) | (l->sa.regs.rflags & mask);
	if (r.rflags != l->sb.regs.rflags)
		l->synced_flags++;
	for (unsigned i = 0; i < 16; i++)
		if (e.host_regs & (1u << i))
			*regs_gpr(&r, i) = *regs_gpr(&l->sa.regs, i);
	if (memcmp(&r, &l->sb.regs, sizeof(r)) == 0)
		return 0;
	if (e.host_regs)
		l->synced_regs++;
	l->sb.regs = r;
	return side_set_regs(l->b, &r);
}

/* --inject-divergence: proves that a difference is caught at its step. */
static int inject_divergence(struct lockstep *l)
{
	fprintf(stderr, "lockstep: injecting a divergence after step %llu: %s rbx ^= 1\n",
		(unsigned long long)l->steps, l->b->name);
	l->sb.regs.rbx ^= 1;
	return side_set_regs(l->b, &l->sb.regs);
}

/* The next instruction: A's state before it and its bytes. */
static void fetch_insn(struct lockstep *l)
{
	l->pre = l->sa;
	l->insn_len = side_read_virt(l->a, &l->pre, state_code_address(&l->pre), l->insn, INSN_MAX);
}

static void trace_insn(struct lockstep *l)
{
	struct insn_effects e;
	insn_effects(l->insn, l->insn_len, &l->pre, &e);
	fprintf(stderr, "step %llu at %llx:", (unsigned long long)l->steps + 1,
		(unsigned long long)state_code_address(&l->pre));
	print_bytes(stderr, l->insn, l->insn_len);
	fprintf(stderr, "%s%s\n", e.name ? "  " : "", e.name ? e.name : "");
}

/* One step; returns -1 to go on, else lockstep's exit status. */
static int lockstep_step(struct lockstep *l)
{
	char why[WHY_MAX];
	fetch_insn(l);
	if (l->o->trace)
		trace_insn(l);
	uint64_t count_mask;
	enum pair_result r;
	if (insn_rep_string(l->insn, l->insn_len, &l->pre, &count_mask)) {
		l->rep_insns++;
		r = rep_step(l->a, l->b, &l->pre, l->o->trace, why, sizeof(why));
	} else {
		r = step_pair(l, why, sizeof(why));
	}
	switch (r) {
	case PAIR_STEPPED:
		break;
	case PAIR_END:
		return report_end(l, why);
	case PAIR_DIVERGED:
		if (get_states(l) < 0)
			return LOCKSTEP_ERROR;
		return report_divergence(l, l->steps + 1, why);
	default:
		fprintf(stderr, "lockstep: at step %llu: %s\n", (unsigned long long)l->steps + 1, why);
		return LOCKSTEP_ERROR;
	}
	l->steps++;
	if (get_states(l) < 0 || catch_up(l) < 0 || sync_legitimate(l) < 0)
		return LOCKSTEP_ERROR;
	if (l->o->inject_step == l->steps && inject_divergence(l) < 0)
		return LOCKSTEP_ERROR;
	const char *field = state_diff(&l->sa, &l->sb);
	if (field) {
		snprintf(why, sizeof(why), "%s differs", field);
		return report_divergence(l, l->steps, why);
	}
	if (l->o->max_steps && l->steps >= l->o->max_steps)
		return report_end(l, "the step limit (--steps) was reached");
	return -1;
}

int lockstep_run(struct side *a, struct side *b, const struct lockstep_opts *o)
{
	static struct lockstep l;
	memset(&l, 0, sizeof(l));
	l.a = a;
	l.b = b;
	l.o = o;
	if (get_states(&l) < 0)
		return LOCKSTEP_ERROR;
	fetch_insn(&l);
	const char *field = state_diff(&l.sa, &l.sb);
	if (field) {
		char why[WHY_MAX];
		snprintf(why, sizeof(why), "the boot states differ (%s)", field);
		return report_divergence(&l, 0, why);
	}
	int status;
	while ((status = lockstep_step(&l)) < 0)
		;
	return status;
}
