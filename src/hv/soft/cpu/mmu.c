/*
 * Memory management: guest-physical RAM slots, the page walk (2-level,
 * PAE 3-level and 4-level paging), the software TLB, segment checks, and
 * the slow paths of guest memory access (page-crossing, MMIO, writes to
 * pages that hold decoded code, atomic read-modify-write).
 *
 * A TLB entry maps one linear page straight to host memory. It is valid
 * for reads, writes and fetches separately: the write tag is installed
 * only once the guest page is dirty and when no decoded code came from
 * the physical page, so every write that must set a dirty bit or
 * invalidate decoded code takes the slow path.
 */
#include <pthread.h>
#include <stdlib.h>
#include <sys/mman.h>

#include "internal.h"

/* ---- physical memory ---- */

int pmem_set_slot(struct pmem *pm, int slot, uint64_t gpa, uint64_t size, void *host, int ro)
{
	if (slot < 0 || slot >= PMEM_MAX_SLOTS)
		return -1;
	struct pmem_slot *s = &pm->s[slot];
	if (s->gen) {
		munmap(s->gen, (s->size >> 12) * sizeof(uint32_t));
		munmap(s->code, s->size >> 12);
	}
	memset(s, 0, sizeof(*s));
	if (size) {
		uint64_t pages = size >> 12;
		/* Untouched pages of these maps cost nothing. */
		s->gen = mmap(NULL, pages * sizeof(uint32_t), PROT_READ | PROT_WRITE,
			      MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
		s->code = mmap(NULL, pages, PROT_READ | PROT_WRITE,
			       MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
		if (s->gen == MAP_FAILED || s->code == MAP_FAILED) {
			if (s->gen != MAP_FAILED)
				munmap(s->gen, pages * sizeof(uint32_t));
			if (s->code != MAP_FAILED)
				munmap(s->code, pages);
			memset(s, 0, sizeof(*s));
			return -1;
		}
		s->gpa = gpa;
		s->size = size;
		s->host = host;
		s->readonly = ro;
	}
	if (slot >= pm->n)
		pm->n = slot + 1;
	return 0;
}

void pmem_destroy(struct pmem *pm)
{
	for (int i = 0; i < pm->n; i++)
		pmem_set_slot(pm, i, 0, 0, NULL, 0);
	pm->n = 0;
}

static struct pmem_slot *pmem_slot(struct pmem *pm, uint64_t gpa)
{
	for (int i = 0; i < pm->n; i++) {
		struct pmem_slot *s = &pm->s[i];
		if (gpa - s->gpa < s->size)
			return s;
	}
	return NULL;
}

void *pmem_host(struct pmem *pm, uint64_t gpa, uint64_t len)
{
	struct pmem_slot *s = pmem_slot(pm, gpa);
	if (!s || len > s->size - (gpa - s->gpa))
		return NULL;
	return s->host + (gpa - s->gpa);
}

/* ---- page walk ---- */

#define PTE_P   (1ULL << 0)
#define PTE_RW  (1ULL << 1)
#define PTE_US  (1ULL << 2)
#define PTE_A   (1ULL << 5)
#define PTE_D   (1ULL << 6)
#define PTE_PS  (1ULL << 7)
#define PTE_G   (1ULL << 8)
#define PTE_NX  (1ULL << 63)
#define PTE_ADDR 0x000ffffffffff000ULL
/* Address bits beyond the 40 physical bits CPUID reports. */
#define PTE_RSVD_PHYS 0x000fff0000000000ULL

#define PF_P    1
#define PF_W    2
#define PF_U    4
#define PF_RSVD 8
#define PF_I    16

struct walk {
	uint64_t gpa;           /* of the page */
	int writable, user, exec, dirty;
	int large;              /* from a 2 MiB, 4 MiB (TLB_LARGE) or 1 GiB page (| TLB_HUGE) */
	int global;             /* a global page, with CR4.PGE: MOV to CR3 keeps it */
};

NORETURN static void page_fault(struct cpu *c, uint64_t lin, uint32_t err)
{
	c->cr2 = lin;
	cpu_fault(c, EX_PF, err);
}

/* Reads a paging-structure entry; faults when it is not in RAM. */
static uint64_t *pte_ptr(struct cpu *c, uint64_t gpa, int wide)
{
	void *p = pmem_host(c->pmem, gpa, wide ? 8 : 4);
	if (!p)         /* a table outside RAM: the hardware would read junk; stop the guest */
		cpu_vmexit(c, EXIT_TRIPLE_FAULT, 0);
	return p;
}

static uint64_t pte_load(uint64_t *p, int wide)
{
	if (wide)
		return __atomic_load_n(p, __ATOMIC_RELAXED);
	return __atomic_load_n((uint32_t *)p, __ATOMIC_RELAXED);
}

/* Sets accessed (and dirty) bits atomically, as other vCPUs walk too. */
static void pte_set_bits(uint64_t *p, int wide, uint64_t bits)
{
	if (wide)
		__atomic_fetch_or(p, bits, __ATOMIC_RELAXED);
	else
		__atomic_fetch_or((uint32_t *)p, (uint32_t)bits, __ATOMIC_RELAXED);
}

static void walk_paging(struct cpu *c, uint64_t lin, int acc, int user, struct walk *w)
{
	int write = (acc & 3) == ACC_W, fetch = (acc & 3) == ACC_X;
	int nxe = !!(c->efer & EFER_NXE);
	uint32_t err = (write ? PF_W : 0) | (user ? PF_U : 0) | (fetch && nxe ? PF_I : 0);
	int levels, wide = 1;
	uint64_t table;

	if (c->efer & EFER_LMA) {
		levels = 4;
		table = c->cr3 & PTE_ADDR;
	} else if (c->cr4 & CR4_PAE) {
		uint64_t *pdpte = pte_ptr(c, (c->cr3 & 0xffffffe0) + ((lin >> 30) & 3) * 8, 1);
		uint64_t e = pte_load(pdpte, 1);
		if (!(e & PTE_P))
			page_fault(c, lin, err);
		levels = 2;
		table = e & PTE_ADDR;
	} else {
		levels = 2;
		wide = 0;
		table = c->cr3 & 0xfffff000;
	}

	uint64_t *ptrs[4];
	uint64_t ents[4];
	int rw = 1, us = 1, nx = 0, n = 0;
	uint64_t page_size = 4096, frame = 0;
	for (int level = levels; level >= 1; level--) {
		int shift = wide ? 12 + 9 * (level - 1) : 12 + 10 * (level - 1);
		uint64_t idx = wide ? (lin >> shift) & 511 : (lin >> shift) & 1023;
		uint64_t *p = pte_ptr(c, table + idx * (wide ? 8 : 4), wide);
		uint64_t e = pte_load(p, wide);
		if (!(e & PTE_P))
			page_fault(c, lin, err);
		if (wide && (e & PTE_RSVD_PHYS))
			page_fault(c, lin, err | PF_P | PF_RSVD);
		if ((e & PTE_NX) && !nxe)
			page_fault(c, lin, err | PF_P | PF_RSVD);
		ptrs[n] = p;
		ents[n++] = e;
		rw &= !!(e & PTE_RW);
		us &= !!(e & PTE_US);
		nx |= wide && (e & PTE_NX);
		int big = (e & PTE_PS) && level > 1 &&
			  (wide ? (level <= 2 || (level == 3 && levels == 4)) : (c->cr4 & CR4_PSE));
		if (big) {
			page_size = 1ULL << shift;
			/* Between the PAT bit (12) and the frame: reserved. */
			if (wide && (e & (page_size - 1) & ~0x1fffULL))
				page_fault(c, lin, err | PF_P | PF_RSVD);
			frame = wide ? e & PTE_ADDR & ~(page_size - 1) : e & 0xffc00000;
			break;
		}
		table = wide ? e & PTE_ADDR : e & 0xfffff000;
		frame = table;
	}

	/* Permission checks (SDM 4.6). */
	int wp = !!(c->cr0 & CR0_WP);
	if (user && !us)
		page_fault(c, lin, err | PF_P);
	if (write && !rw && (user || wp))
		page_fault(c, lin, err | PF_P);
	if (fetch && nx)
		page_fault(c, lin, err | PF_P);

	for (int i = 0; i < n; i++)
		if (!(ents[i] & PTE_A))
			pte_set_bits(ptrs[i], wide, PTE_A);
	int dirty = !!(ents[n - 1] & PTE_D);
	if (write && !dirty) {
		pte_set_bits(ptrs[n - 1], wide, PTE_D);
		dirty = 1;
	}
	w->gpa = frame + (lin & (page_size - 1) & ~0xfffULL);
	w->large = page_size > (4u << 20) ? TLB_LARGE | TLB_HUGE : page_size > 4096 ? TLB_LARGE : 0;
	w->writable = rw || (!user && !wp);
	w->user = us;
	w->exec = !nx;
	w->dirty = dirty;
	w->global = (c->cr4 & CR4_PGE) && (ents[n - 1] & PTE_G);
}

/* ---- translation and the TLB ---- */

struct xlate {
	uint8_t *host;          /* NULL: not RAM (MMIO) */
	uint64_t gpa;           /* of the byte */
	struct pmem_slot *slot;
};

/*
 * The entries that held a global page are listed, each once, so that a
 * MOV to CR3 keeps theirs without looking at the whole TLB: an entry's
 * global field is 0 when it is not listed, TLB_GLOBAL when it is and holds
 * a global page, and TLB_LISTED when it is but no longer does.
 */
#define TLB_GLOBAL 1
#define TLB_LISTED 2
static void tlb_mark_global(struct cpu *c, struct tlb_entry *e, int global)
{
	if (global && !e->global)
		c->tlb_globals[c->ntlb_globals++] = (uint16_t)(e - &c->tlb[0][0]);
	if (global || e->global)
		e->global = global ? TLB_GLOBAL : TLB_LISTED;
}

void tlb_forget_globals(struct cpu *c)
{
	for (int i = 0; i < c->ntlb_globals; i++)
		(&c->tlb[0][0])[c->tlb_globals[i]].global = 0;
	c->ntlb_globals = 0;
}

/*
 * The tags of global pages' entries made under generation old move to the
 * current one; the list keeps only those entries.
 */
void tlb_keep_globals(struct cpu *c, uint64_t old)
{
	int n = 0;
	for (int i = 0; i < c->ntlb_globals; i++) {
		struct tlb_entry *e = &(&c->tlb[0][0])[c->tlb_globals[i]];
		int kept = 0;
		uint64_t *tags[] = { &e->tag_r, &e->tag_w, &e->tag_x };
		for (int k = 0; k < 3 && e->global == TLB_GLOBAL; k++) {
			if ((*tags[k] & 0xfff) == old) {
				*tags[k] = (*tags[k] & ~0xfffULL) | c->tlb_gen;
				kept = 1;
			}
		}
		e->global = kept ? TLB_GLOBAL : 0;
		if (kept)
			c->tlb_globals[n++] = c->tlb_globals[i];
	}
	c->ntlb_globals = n;
}

int tlb_fetch_global(struct cpu *c, uint64_t lin)
{
	const struct tlb_entry *e = &c->tlb[c->cpl == 3][(lin >> 12) & (TLB_SIZE - 1)];
	return e->tag_x == ((lin & ~0xfffULL) | c->tlb_gen) && e->global == TLB_GLOBAL;
}

static void xlate_fill(struct cpu *c, uint64_t lin, int acc, struct xlate *x)
{
	int user = tlb_user(c, acc);
	struct walk w;
	uint64_t page = lin & ~0xfffULL;

	if (c->mode == MODE_LONG && !is_canonical(lin))
		cpu_fault(c, EX_GP, 0);
	if (c->cr0 & CR0_PG) {
		walk_paging(c, lin, acc, user, &w);
	} else {
		w.gpa = page;
		w.writable = w.user = w.exec = w.dirty = 1;
		w.large = w.global = 0;
	}
	c->tlb_large |= w.large;
	x->gpa = w.gpa | (lin & 0xfff);
	x->slot = pmem_slot(c->pmem, w.gpa);
	x->host = NULL;
	if (!x->slot)
		return;
	x->host = x->slot->host + (x->gpa - x->slot->gpa);

	struct tlb_entry *e = &c->tlb[user][(lin >> 12) & (TLB_SIZE - 1)];
	uint64_t tag = page | c->tlb_gen;
	uintptr_t addend = (uintptr_t)(x->host - (lin & 0xfff)) - (uintptr_t)page;
	if (e->addend != addend || e->gpa != w.gpa)
		e->tag_r = e->tag_w = e->tag_x = 0;
	e->addend = addend;
	e->gpa = w.gpa;
	tlb_mark_global(c, e, w.global);
	e->tag_r = tag;
	if (w.exec)
		e->tag_x = tag;
	uint64_t pi = (w.gpa - x->slot->gpa) >> 12;
	if (w.writable && w.dirty && !x->slot->readonly &&
	    !__atomic_load_n(&x->slot->code[pi], __ATOMIC_RELAXED))
		e->tag_w = tag;
}

void tlb_drop_code_writes(struct cpu *c)
{
	for (int u = 0; u < 2; u++) {
		for (int i = 0; i < TLB_SIZE; i++) {
			struct tlb_entry *e = &c->tlb[u][i];
			if ((e->tag_w & 0xfff) != c->tlb_gen)
				continue;       /* no live write tag */
			struct pmem_slot *s = pmem_slot(c->pmem, e->gpa);
			if (!s || __atomic_load_n(&s->code[(e->gpa - s->gpa) >> 12], __ATOMIC_RELAXED))
				e->tag_w = 0;
		}
	}
}

uint64_t mmu_translate(struct cpu *c, uint64_t lin, int acc)
{
	struct xlate x;
	xlate_fill(c, lin, acc, &x);
	return x.gpa;
}

/*
 * Called after a write to RAM that did not go through the TLB fast path.
 * A code page counts such writes (s->code: 1 + the count) until its code
 * runs again (exec.c): one written this often meanwhile held code once and
 * holds data now (the decompressor's pages, freed init code), and stops
 * being a code page, so that writes to it take the fast path again. The
 * generation moves after that, so its blocks are stale: running one again
 * checks its bytes and marks the page again.
 */
#define CODE_PAGE_WRITES 32
static void note_write(struct cpu *c, struct xlate *x)
{
	uint64_t pi = (x->gpa - x->slot->gpa) >> 12;
	uint8_t *code = &x->slot->code[pi];
	uint8_t n = __atomic_load_n(code, __ATOMIC_RELAXED);
	if (!n)
		return;
	__atomic_fetch_add(&x->slot->gen[pi], 1, __ATOMIC_RELEASE);
	if (n < CODE_PAGE_WRITES)
		__atomic_compare_exchange_n(code, &n, (uint8_t)(n + 1), 0, __ATOMIC_RELAXED, __ATOMIC_RELAXED);
	else if (__atomic_compare_exchange_n(code, &n, 0, 0, __ATOMIC_SEQ_CST, __ATOMIC_RELAXED))
		__atomic_fetch_add(&x->slot->gen[pi], 1, __ATOMIC_SEQ_CST);
	c->stop = 1;    /* the rest of this block may be what was written */
}

static uint64_t read_one_page(struct cpu *c, uint64_t lin, int size, int acc)
{
	struct xlate x;
	xlate_fill(c, lin, acc, &x);
	if (x.host)
		return host_load(x.host, size);
	uint64_t v = 0;
	io_access(c, 1, 0, x.gpa, size, 1, &v);
	return v;
}

uint64_t lin_read_slow(struct cpu *c, uint64_t lin, int size, int acc)
{
	if (c->mode != MODE_LONG)
		lin = (uint32_t)lin;
	if ((lin & 0xfff) + (uint64_t)size <= 4096)
		return read_one_page(c, lin, size, acc);
	/* Split across two pages: translate both before reading either. */
	int first = (int)(4096 - (lin & 0xfff));
	uint64_t lo = read_one_page(c, lin, first, acc);
	uint64_t hi = read_one_page(c, lin + first, size - first, acc);
	return lo | hi << (first * 8);
}

static void write_xlated(struct cpu *c, struct xlate *x, int size, uint64_t v)
{
	if (!x->host) {
		io_access(c, 1, 1, x->gpa, size, 1, &v);
		return;
	}
	if (x->slot->readonly)
		return;
	host_store(x->host, size, v);
	note_write(c, x);
}

void lin_write_slow(struct cpu *c, uint64_t lin, int size, uint64_t v, int acc)
{
	struct xlate x, y;
	if (c->mode != MODE_LONG)
		lin = (uint32_t)lin;
	if ((lin & 0xfff) + (uint64_t)size <= 4096) {
		xlate_fill(c, lin, acc | ACC_W, &x);
		write_xlated(c, &x, size, v);
		return;
	}
	int first = (int)(4096 - (lin & 0xfff));
	xlate_fill(c, lin, acc | ACC_W, &x);
	xlate_fill(c, lin + first, acc | ACC_W, &y);
	write_xlated(c, &x, first, v);
	write_xlated(c, &y, size - first, v >> (first * 8));
}

uint8_t *lin_rmw_ptr(struct cpu *c, uint64_t lin, int size, int acc)
{
	struct tlb_entry *e = &c->tlb[tlb_user(c, acc)][(lin >> 12) & (TLB_SIZE - 1)];
	if (likely(e->tag_w == ((lin & ~0xfffULL) | c->tlb_gen) && (lin & 0xfff) <= (uint64_t)(4096 - size)))
		return (uint8_t *)(uintptr_t)(lin + e->addend);
	return NULL;
}

/* Split or unaligned locked accesses serialize here. */
static pthread_mutex_t split_lock = PTHREAD_MUTEX_INITIALIZER;

static uint64_t atomic_rmw(struct cpu *c, uint8_t *p, int size, rmw_fn *f, int arg, uint64_t src)
{
	uint64_t old, nv;
	switch (size) {
	case 1: {
		uint8_t o = __atomic_load_n(p, __ATOMIC_RELAXED), n;
		do {
			n = (uint8_t)f(c, arg, 1, o, src);
		} while (!__atomic_compare_exchange_n(p, &o, n, 0, __ATOMIC_SEQ_CST, __ATOMIC_RELAXED));
		return o;
	}
	case 2: {
		uint16_t *q = (uint16_t *)p, o = __atomic_load_n(q, __ATOMIC_RELAXED), n;
		do {
			n = (uint16_t)f(c, arg, 2, o, src);
		} while (!__atomic_compare_exchange_n(q, &o, n, 0, __ATOMIC_SEQ_CST, __ATOMIC_RELAXED));
		return o;
	}
	case 4: {
		uint32_t *q = (uint32_t *)p, o = __atomic_load_n(q, __ATOMIC_RELAXED), n;
		do {
			n = (uint32_t)f(c, arg, 4, o, src);
		} while (!__atomic_compare_exchange_n(q, &o, n, 0, __ATOMIC_SEQ_CST, __ATOMIC_RELAXED));
		return o;
	}
	default: {
		uint64_t *q = (uint64_t *)p;
		old = __atomic_load_n(q, __ATOMIC_RELAXED);
		do {
			nv = f(c, arg, 8, old, src);
		} while (!__atomic_compare_exchange_n(q, &old, nv, 0, __ATOMIC_SEQ_CST, __ATOMIC_RELAXED));
		return old;
	}
	}
}

uint64_t mem_rmw(struct cpu *c, int seg, uint64_t off, int size, rmw_fn *f, int arg,
		 uint64_t src, int atomic)
{
	uint64_t lin = seg_lin(c, seg, off, size, ACC_W);
	uint8_t *p = lin_rmw_ptr(c, lin, size, ACC_W);
	uint64_t old;
	if (likely(p)) {
		if (!atomic) {
			old = host_load(p, size);
			host_store(p, size, f(c, arg, size, old, src));
			return old;
		}
		if (((uintptr_t)p & (size - 1)) == 0)
			return atomic_rmw(c, p, size, f, arg, src);
	}
	/* Slow path: both pages translated for writing before anything is read. */
	if (c->mode != MODE_LONG)
		lin = (uint32_t)lin;
	struct xlate x, y = { 0 };
	int first = (int)(4096 - (lin & 0xfff));
	if (first > size)
		first = size;
	xlate_fill(c, lin, ACC_W, &x);
	if (first < size)
		xlate_fill(c, lin + first, ACC_W, &y);
	if (!x.host || (first < size && !y.host)) {
		/* MMIO: a read then a write, each through the VMM; never atomic. */
		old = lin_read_slow(c, lin, size, ACC_R);
		lin_write_slow(c, lin, size, f(c, arg, size, old, src), 0);
		return old;
	}
	if (first == size && (!atomic || !((uintptr_t)x.host & (size - 1)))) {
		/* One page of RAM: the same atomic update as the fast path, so both agree. */
		if (x.slot->readonly) {
			old = host_load(x.host, size);
			f(c, arg, size, old, src);
		} else if (atomic) {
			old = atomic_rmw(c, x.host, size, f, arg, src);
		} else {
			old = host_load(x.host, size);
			host_store(x.host, size, f(c, arg, size, old, src));
		}
		note_write(c, &x);
		return old;
	}
	/* Split across pages, or unaligned: serialized here, not against plain accesses. */
	uint8_t buf[8];
	if (atomic)
		pthread_mutex_lock(&split_lock);
	memcpy(buf, x.host, (size_t)first);
	if (first < size)
		memcpy(buf + first, y.host, (size_t)(size - first));
	old = host_load(buf, size);
	host_store(buf, size, f(c, arg, size, old, src));
	if (!x.slot->readonly)
		memcpy(x.host, buf, (size_t)first);
	if (first < size && !y.slot->readonly)
		memcpy(y.host, buf + first, (size_t)(size - first));
	if (atomic)
		pthread_mutex_unlock(&split_lock);
	note_write(c, &x);
	if (first < size)
		note_write(c, &y);
	return old;
}

/* ---- instruction fetch ---- */

/* The host address of the code byte at lin and its guest-physical address. */
uint8_t *fetch_ptr_slow(struct cpu *c, uint64_t lin, uint64_t *gpa)
{
	struct xlate x;
	xlate_fill(c, lin, ACC_X, &x);
	*gpa = x.gpa;
	return x.host;
}

/* ---- segment checks outside 64-bit mode ---- */

void seg_check(struct cpu *c, int seg, uint64_t off, int size, int acc)
{
	const struct seg *s = &c->seg[seg];
	int vec = seg == S_SS ? EX_SS : EX_GP;
	uint32_t a = s->attr;

	if (c->mode == MODE_REAL || c->mode == MODE_VM86) {
		if (off + (uint64_t)size - 1 > s->limit)
			cpu_fault(c, vec, 0);
		return;
	}
	if (a & SEG_UNUSABLE)
		cpu_fault(c, vec, 0);
	int type = SEG_TYPE(a);
	if ((acc & 3) == ACC_W && ((type & 8) || !(type & 2)))
		cpu_fault(c, vec, 0);   /* code, or read-only data */
	if ((acc & 3) == ACC_R && (type & 8) && !(type & 2))
		cpu_fault(c, vec, 0);   /* execute-only code */
	uint64_t last = off + (uint64_t)size - 1;
	if (!(type & 8) && (type & 4)) {
		/* Expand-down: valid offsets lie above the limit. */
		uint64_t top = (a & SEG_DB) ? 0xffffffffULL : 0xffffULL;
		if (off <= s->limit || last > top)
			cpu_fault(c, vec, 0);
	} else if (last > s->limit) {
		cpu_fault(c, vec, 0);
	}
}

int64_t cpu_translate(struct cpu *c, uint64_t lin_arg, int *writable)
{
	volatile uint64_t lin = lin_arg;
	struct walk w;
	jmp_buf saved;
	/* A failed walk raises #PF or stops: neither may touch the guest's state. */
	uint64_t cr2 = c->cr2;
	struct cpu_exit exit = c->exit;
	struct cpu_event fault = c->fault;
	memcpy(saved, c->jb, sizeof(saved));
	if (setjmp(c->jb)) {
		memcpy(c->jb, saved, sizeof(saved));
		c->cr2 = cr2;
		c->exit = exit;
		c->fault = fault;
		return -1;
	}
	if (!(c->cr0 & CR0_PG)) {
		w.gpa = lin & ~0xfffULL;
		w.writable = 1;
	} else {
		/* A supervisor read never sets dirty bits; accessed bits it may. */
		walk_paging(c, lin, ACC_R | ACC_SYS, 0, &w);
	}
	memcpy(c->jb, saved, sizeof(saved));
	if (writable)
		*writable = w.writable;
	return (int64_t)(w.gpa | (lin & 0xfff));
}
