/*
 * Two register states, compared field by field and printed side by side.
 *
 * Compared: every general register, RIP, RFLAGS (but TF and RF, which the
 * single-stepping hypervisor owns), the eight segment registers, GDTR,
 * IDTR, CR0, CR2, CR3, CR4, EFER and the APIC base. A segment register
 * that is unusable on both sides (not present, or marked unusable: a
 * null selector loaded in protected mode) is compared by selector only,
 * since the SDM leaves its hidden part undefined.
 */
#include <stddef.h>
#include <string.h>

#include "lockstep.h"

enum field_kind { F_U64, F_FLAGS, F_SEG, F_DTABLE };

struct field {
	const char *name;
	size_t off;
	enum field_kind kind;
};

#define REG(n) { #n, offsetof(struct cpu_state, regs.n), F_U64 }
#define SEG(n) { #n, offsetof(struct cpu_state, sregs.n), F_SEG }
#define CTL(n) { #n, offsetof(struct cpu_state, sregs.n), F_U64 }

static const struct field fields[] = {
	REG(rip),
	{ "rflags", offsetof(struct cpu_state, regs.rflags), F_FLAGS },
	REG(rax), REG(rbx), REG(rcx), REG(rdx), REG(rsi), REG(rdi), REG(rbp), REG(rsp),
	REG(r8), REG(r9), REG(r10), REG(r11), REG(r12), REG(r13), REG(r14), REG(r15),
	SEG(cs), SEG(ds), SEG(es), SEG(fs), SEG(gs), SEG(ss), SEG(tr), SEG(ldt),
	{ "gdt", offsetof(struct cpu_state, sregs.gdt), F_DTABLE },
	{ "idt", offsetof(struct cpu_state, sregs.idt), F_DTABLE },
	CTL(cr0), CTL(cr2), CTL(cr3), CTL(cr4), CTL(efer), CTL(apic_base),
};

#define N_FIELDS (sizeof(fields) / sizeof(fields[0]))

static const void *field_ptr(const struct cpu_state *st, const struct field *f)
{
	return (const char *)st + f->off;
}

static uint64_t get_u64(const struct cpu_state *st, const struct field *f)
{
	uint64_t v;
	memcpy(&v, field_ptr(st, f), sizeof(v));
	return v;
}

static int seg_usable(const struct kvm_segment *s)
{
	return s->present && !s->unusable;
}

static int seg_same(const struct kvm_segment *a, const struct kvm_segment *b)
{
	if (a->selector != b->selector || seg_usable(a) != seg_usable(b))
		return 0;
	if (!seg_usable(a))
		return 1;
	return a->base == b->base && a->limit == b->limit && a->type == b->type &&
	       a->s == b->s && a->dpl == b->dpl && a->db == b->db && a->l == b->l && a->g == b->g;
}

static int field_same(const struct cpu_state *a, const struct cpu_state *b, const struct field *f)
{
	switch (f->kind) {
	case F_U64:
		return get_u64(a, f) == get_u64(b, f);
	case F_FLAGS:
		return ((get_u64(a, f) ^ get_u64(b, f)) & ~RFLAGS_IGNORED) == 0;
	case F_SEG:
		return seg_same(field_ptr(a, f), field_ptr(b, f));
	case F_DTABLE: {
		const struct kvm_dtable *x = field_ptr(a, f), *y = field_ptr(b, f);
		return x->base == y->base && x->limit == y->limit;
	}
	}
	return 0;
}

const char *state_diff(const struct cpu_state *a, const struct cpu_state *b)
{
	for (size_t i = 0; i < N_FIELDS; i++)
		if (!field_same(a, b, &fields[i]))
			return fields[i].name;
	return NULL;
}

static void format_flags(char *buf, size_t len, uint64_t v)
{
	static const struct { uint64_t bit; const char *name; } names[] = {
		{ 1 << 0, "CF" }, { 1 << 2, "PF" }, { 1 << 4, "AF" }, { 1 << 6, "ZF" },
		{ 1 << 7, "SF" }, { 1 << 8, "TF" }, { 1 << 9, "IF" }, { 1 << 10, "DF" },
		{ 1 << 11, "OF" }, { 1 << 14, "NT" }, { 1 << 16, "RF" }, { 1 << 17, "VM" },
		{ 1 << 18, "AC" },
	};
	size_t used = (size_t)snprintf(buf, len, "%08llx", (unsigned long long)v);
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]) && used < len; i++)
		if (v & names[i].bit)
			used += (size_t)snprintf(buf + used, len - used, " %s", names[i].name);
	if (v >> 12 & 3 && used < len)
		snprintf(buf + used, len - used, " IOPL%llu", (unsigned long long)(v >> 12 & 3));
}

static void format_field(char *buf, size_t len, const struct cpu_state *st, const struct field *f)
{
	switch (f->kind) {
	case F_U64:
		snprintf(buf, len, "%016llx", (unsigned long long)get_u64(st, f));
		break;
	case F_FLAGS:
		format_flags(buf, len, get_u64(st, f));
		break;
	case F_SEG: {
		const struct kvm_segment *s = field_ptr(st, f);
		snprintf(buf, len, "%04x %016llx/%08x t%x s%u dpl%u p%u db%u l%u g%u%s", s->selector,
			 (unsigned long long)s->base, s->limit, s->type, s->s, s->dpl, s->present,
			 s->db, s->l, s->g, s->unusable ? " unusable" : "");
		break;
	}
	case F_DTABLE: {
		const struct kvm_dtable *d = field_ptr(st, f);
		snprintf(buf, len, "%016llx/%04x", (unsigned long long)d->base, d->limit);
		break;
	}
	}
}

void state_print_pair(FILE *out, const char *name_a, const char *name_b,
		      const struct cpu_state *a, const struct cpu_state *b)
{
	fprintf(out, "  %-9s %-58s %s\n", "", name_a, name_b);
	for (size_t i = 0; i < N_FIELDS; i++) {
		char va[96], vb[96];
		format_field(va, sizeof(va), a, &fields[i]);
		format_field(vb, sizeof(vb), b, &fields[i]);
		if (field_same(a, b, &fields[i]))
			fprintf(out, "  %-9s %-58s %s\n", fields[i].name, va, vb);
		else
			fprintf(out, "  %-9s %-58s %-58s <--\n", fields[i].name, va, vb);
	}
}
