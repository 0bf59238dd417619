/*
 * The execution loop and the decoded-block cache.
 *
 * Code is decoded once into blocks: runs of instructions from one
 * guest-physical page that end at a branch, a mode change or the page
 * end, keyed by the page address and the code size. A block keeps a copy
 * of its bytes; it is re-verified against guest memory when its page was
 * written through a slow path (the page's generation moved) or when this
 * vCPU's stamp moved (another vCPU or the VMM may have written code
 * without us seeing it: see struct pmem), and rebuilt if they differ.
 *
 * Finding the next block is a link in the block just run (the two
 * blocks that followed it last), else a small direct-mapped jump cache
 * by linear address (a TLB for blocks), else the hash of physical
 * addresses. Links and entries carry a tag: when blocks were dropped
 * they are not followed; when only the translations may have changed
 * (a TLB flush), one TLB lookup tells whether they still hold.
 *
 * A hosted block (jit.c) follows the same links from its host code,
 * with the same checks, into the next hosted block's code.
 *
 * Within a block, each handler runs the next instruction itself
 * (insn_next() in internal.h), so the dispatch is a jump per handler
 * rather than one shared call site. Blocks run back to back, linked,
 * while they end in near branches; the loop looks at the kick flag, the
 * time budget, the interrupt window and the code epochs between such
 * chains and after any other block end. Instructions that need
 * one-at-a-time handling (interrupt shadow, trap flag, single-step,
 * page-crossing code) go through exec_one().
 */
#include <pthread.h>
#include <sys/mman.h>

#include "internal.h"

#define BLOCK_MAX_INSNS 64
#define HASH_BITS 16
#ifndef MAX_BLOCKS
#define MAX_BLOCKS (1 << 16)
#endif
#define MAX_INSNS (1 << 19)
#define MAX_BYTES (1 << 22)
/* Host code: the buffer, and what the pure runs of one block may need at most. */
#define JIT_SIZE (16u << 20)
#define JIT_BLOCK_ROOM 8192
#define JC_BITS 14

/*
 * A decoded block. The first cache line holds what running it needs:
 * its validity, its instructions, and links to the blocks that followed
 * it last (a jump cache of its own: lin -> block, valid under link_tag).
 */
struct block {
	uint32_t *gen;          /* the page's write generation */
	uint32_t gen_seen, stamp;
	uint32_t code;          /* a hosted block's host code (struct insn.code); 0: not hosted */
	uint16_t n;
	uint8_t sys_end;        /* ends with an instruction that is not a near branch */
	uint64_t link_tag;      /* the run tag (run_tag()) the links were made under */
	uint64_t link_lin[2];   /* LINK_NONE: no link */
	struct block *link[2];
	uint32_t first;         /* first decoded instruction */
	/* For the lookup by physical address and the checks of its bytes. */
	uint64_t key;           /* gpa << 2 | code-size tag */
	struct block *next;     /* hash chain */
	uint32_t bytes;         /* offset of the copy of the code bytes */
	uint16_t nbytes;
} __attribute__((aligned(64)));
_Static_assert(offsetof(struct block, first) == 64, "what following a block needs fills one cache line");

/* A jump-cache entry: the block last run at a linear address. */
struct jump_entry {
	uint64_t lin;
	uint64_t tag;           /* run_tag() when it was made */
	struct block *b;
};

struct block_cache {
	struct block *hash[1 << HASH_BITS];
	uint32_t tlb_epoch;     /* moves when translations may have changed */
	int nonglobal_code;     /* an entry or link of this epoch is for a page not global */
	uint64_t code_regions[64];      /* 4 MiB regions (hashed) they are for */
	uint32_t code_gen;      /* moves when a block is dropped (24 bits) */
	struct jump_entry jc[2][1 << JC_BITS];     /* supervisor, user */
	uint32_t nblocks, ninsns, nbytes;
	struct jit jit;         /* host code of the blocks' runs */
	struct block blocks[MAX_BLOCKS];
	struct insn insns[MAX_INSNS];
	uint8_t bytes[MAX_BYTES];
};

/*
 * What a linear code address maps to depends on the translations, on the
 * privilege (user or supervisor fetch) and on the code size the block
 * was decoded for; and an entry may only point at a block that is still
 * there. The low half of the tag (code_gen, privilege, code size) says
 * the block is the one the entry was made for; the high half
 * (tlb_epoch) that the translation is too. When only the translation
 * may have moved, one TLB lookup tells (block_holds()). Never 0.
 */
#define TAG_CODE(t) ((uint32_t)(t))
static uint64_t run_tag(struct cpu *c)
{
	struct block_cache *bc = c->bc;
	return (uint64_t)bc->tlb_epoch << 32 | (uint64_t)bc->code_gen << 8 |
	       (uint64_t)(c->cpl == 3) << 4 | (uint64_t)c->code_size;
}

int cpu_cache_init(struct cpu *c)
{
	void *p = mmap(NULL, sizeof(struct block_cache), PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (p == MAP_FAILED)
		return -1;
	/* A boot fills it several times over: 2 MiB pages spare it thousands of page faults. */
	madvise(p, sizeof(struct block_cache), MADV_HUGEPAGE);
	c->bc = p;
	if (jit_init(&c->bc->jit, JIT_SIZE) < 0)
		c->bc->jit.rw = NULL;   /* no executable memory: interpret only */
	return 0;
}

size_t cpu_host_code_bytes(const struct cpu *c)
{
	return c->bc ? c->bc->jit.used : 0;
}

void cpu_cache_free(struct cpu *c)
{
	if (c->bc) {
		jit_free(&c->bc->jit);
		munmap(c->bc, sizeof(struct block_cache));
	}
	c->bc = NULL;
}

/* Drops every jump-cache entry and link (when a generation wraps). */
static void forget_links(struct block_cache *bc)
{
	memset(bc->jc, 0, sizeof(bc->jc));
	for (uint32_t i = 0; i < bc->nblocks; i++)
		bc->blocks[i].link_tag = 0;
}

/*
 * Jump-cache entries and links must look at the translations again; after
 * a flush that kept the global pages', only if one was made for code on a
 * page that is not global.
 */
static void translations_moved(struct cpu *c, int global_too)
{
	struct block_cache *bc = c->bc;
	if (!bc || (!global_too && !bc->nonglobal_code))
		return;
	bc->nonglobal_code = 0;
	memset(bc->code_regions, 0, sizeof(bc->code_regions));
	if (++bc->tlb_epoch == 0) {
		bc->tlb_epoch = 1;
		forget_links(bc);
	}
}

/* The bit of code_regions for lin's 4 MiB region. */
static unsigned code_region(uint64_t lin)
{
	return (unsigned)(lin >> 22) & 4095;
}

/* An entry or a link for code at lin is made under the current epoch. */
static void note_code_translation(struct cpu *c, uint64_t lin)
{
	unsigned r = code_region(lin);
	c->bc->code_regions[r / 64] |= 1ULL << (r % 64);
	if (!tlb_fetch_global(c, lin))
		c->bc->nonglobal_code = 1;
}

/*
 * Whether INVLPG of lin may move a translation that an entry or a link of
 * this epoch is for: the page of lin, up to 4 MiB, lies in one region.
 */
static int code_region_moved(struct cpu *c, uint64_t lin)
{
	unsigned r = code_region(lin);
	return !c->bc || (c->tlb_large & TLB_HUGE) || (c->bc->code_regions[r / 64] >> (r % 64) & 1);
}

/* Blocks were dropped: entries and links made before must not be followed. */
static void blocks_moved(struct block_cache *bc)
{
	if (++bc->code_gen > 0xffffff) {
		bc->code_gen = 1;
		forget_links(bc);
	}
}

void cpu_flush_code(struct cpu *c)
{
	struct block_cache *bc = c->bc;
	if (!bc || !bc->nblocks)
		return;         /* already empty: leave its pages untouched */
	memset(bc->hash, 0, sizeof(bc->hash));
	bc->nblocks = bc->ninsns = bc->nbytes = 0;
	bc->jit.used = 0;
	bc->jit.follow = NULL;
	blocks_moved(bc);
}

/*
 * Tags carry the generation they were filled in, so a flush is a counter
 * increment; the entries are cleared only when the counter wraps.
 */
static void tlb_drop_all(struct cpu *c)
{
	tlb_forget_globals(c);
	if (++c->tlb_gen > 0xfff) {
		memset(c->tlb, 0, sizeof(c->tlb));
		c->tlb_gen = 1;
	}
	c->tlb_large = 0;
}

void cpu_flush_tlb(struct cpu *c)
{
	tlb_drop_all(c);
	translations_moved(c, 1);
}

/*
 * Linux switches address spaces, and patches its code through a
 * temporary one, thousands of times in a boot: its own code and data,
 * on global pages, keep their translations and the links between blocks.
 */
void cpu_flush_tlb_nonglobal(struct cpu *c)
{
	uint64_t old = c->tlb_gen;
	if (old == 0xfff || !c->ntlb_globals) {
		cpu_flush_tlb(c);
		return;
	}
	c->tlb_gen = old + 1;
	tlb_keep_globals(c, old);
	translations_moved(c, 0);
}

/* INVLPG: the links and entries move only when code near lin was translated (a few in a boot's thousand). */
void cpu_flush_tlb_page(struct cpu *c, uint64_t lin)
{
	if (code_region_moved(c, lin))
		translations_moved(c, 1);
	if (c->tlb_large) {     /* a large page spans many entries */
		tlb_drop_all(c);
		return;
	}
	for (int u = 0; u < 2; u++) {
		struct tlb_entry *e = &c->tlb[u][(lin >> 12) & (TLB_SIZE - 1)];
		e->tag_r = e->tag_w = e->tag_x = 0;
	}
}

static unsigned hash_key(uint64_t key)
{
	return (unsigned)((key ^ (key >> HASH_BITS) ^ (key >> 30)) & ((1u << HASH_BITS) - 1));
}

static uint64_t block_key(struct cpu *c, uint64_t gpa)
{
	return gpa << 2 | (uint64_t)(c->code_size >> 2);        /* 2 -> 0, 4 -> 1, 8 -> 2 */
}

static struct pmem_slot *slot_of(struct pmem *pm, uint64_t gpa)
{
	for (int i = 0; i < pm->n; i++)
		if (gpa - pm->s[i].gpa < pm->s[i].size)
			return &pm->s[i];
	return NULL;
}

static void unlink_block(struct block_cache *bc, struct block *b)
{
	struct block **pp = &bc->hash[hash_key(b->key)];
	while (*pp && *pp != b)
		pp = &(*pp)->next;
	if (*pp)
		*pp = b->next;
}

/*
 * Marks a physical page as holding decoded code, whose code ran: its
 * count of slow writes (mmu.c: note_write()) starts over.
 */
static void mark_code_page(struct cpu *c, struct pmem_slot *s, uint64_t pi)
{
	uint8_t n = __atomic_load_n(&s->code[pi], __ATOMIC_RELAXED);
	if (n == 1)
		return;
	if (n) {
		/* Lost to an unmarking: the generation moved after it, so the block is stale. */
		__atomic_compare_exchange_n(&s->code[pi], &n, 1, 0, __ATOMIC_RELAXED, __ATOMIC_RELAXED);
		return;
	}
	__atomic_store_n(&s->code[pi], 1, __ATOMIC_SEQ_CST);
	/*
	 * The other vCPUs must drop their write fast paths to it
	 * (check_epochs()). This one drops its own here, before any write
	 * could slip past, so its own mark asks it to verify nothing: it
	 * counts the mark as seen when it had seen every earlier one.
	 */
	uint32_t before = __atomic_fetch_add(&c->pmem->code_epoch, 1, __ATOMIC_SEQ_CST);
	if (before == c->seen_code_epoch)
		c->seen_code_epoch = before + 1;
	tlb_drop_code_writes(c);        /* this vCPU's writes there, from now on */
}

/* The same, for the page of gpa. */
static void mark_code_gpa(struct cpu *c, uint64_t gpa)
{
	struct pmem_slot *s = slot_of(c->pmem, gpa);
	if (s)
		mark_code_page(c, s, (gpa - s->gpa) >> 12);
}

/* Follows the instructions of every block (see insn_next()). */
void insn_block_end(struct cpu *c, const struct insn *in)
{
	(void)c;
	(void)in;
}

static const struct insn block_sentinel = { .fn = insn_block_end };

/* ---- what the pass over a decoded block knows of its handlers (internal.h) ---- */

/* A handler as decoded: its pure variants, or the memory form host code can hold. */
struct handler_info {
	insn_fn *fn;
	const struct pure_variants *pure;
	const struct mem_form *mem;
};
#define HANDLER_HASH_BITS 10
static struct handler_info handler_hash[1 << HANDLER_HASH_BITS];
static pthread_once_t handlers_once = PTHREAD_ONCE_INIT;

static unsigned handler_slot(insn_fn *fn)
{
	uintptr_t k = (uintptr_t)fn;
	return (unsigned)((k ^ (k >> 7) ^ (k >> 17)) & ((1u << HANDLER_HASH_BITS) - 1));
}

static void handler_add(insn_fn *fn, const struct pure_variants *pure, const struct mem_form *mem)
{
	unsigned h = handler_slot(fn);
	while (handler_hash[h].fn)
		h = (h + 1) & ((1u << HANDLER_HASH_BITS) - 1);
	handler_hash[h] = (struct handler_info){ fn, pure, mem };
}

static void pure_add(const struct pure_variants *v, unsigned n)
{
	for (unsigned i = 0; i < n; i++)
		handler_add(v[i].v[PV_SYNC], &v[i], NULL);
}

static void mem_add(const struct mem_form *f, unsigned n)
{
	for (unsigned i = 0; i < n; i++)
		handler_add(f[i].fn, NULL, &f[i]);
}

static void handlers_init(void)
{
	pure_add(alu_pure, alu_npure);
	pure_add(data_pure, data_npure);
	pure_add(shift_pure, shift_npure);
	pure_add(muldiv_pure, muldiv_npure);
	pure_add(bitops_pure, bitops_npure);
	mem_add(alu_mem_forms, alu_nmem);
	mem_add(data_mem_forms, data_nmem);
}

/* What is known of fn; NULL: nothing (neither pure nor a memory form). */
static const struct handler_info *handler_find(insn_fn *fn)
{
	for (unsigned h = handler_slot(fn); handler_hash[h].fn; h = (h + 1) & ((1u << HANDLER_HASH_BITS) - 1))
		if (handler_hash[h].fn == fn)
			return &handler_hash[h];
	return NULL;
}

/*
 * A shorter run runs faster through the handlers: entering host code and
 * moving the registers and flags in and out costs about as much as a
 * few handlers.
 */
int cpu_jit_min_run = 6;

/*
 * The handler of an instruction where a run of host code starts; in->code
 * is where the code is in the buffer. The handlers go on after the last instruction
 * the code did: the end of the run, or a memory access the TLB could not
 * serve, which its own handler then does, the run's first one included
 * (struct jit_head). When the code did the block's branch, or is a
 * hosted block's (which may have gone on in other blocks' code), c->cur
 * says where it got to.
 */
static insn_fn jit_run, jit_block, insn_cross_page;

static const struct jit_head *jit_head_of(struct cpu *c, const struct insn *in)
{
	return (const struct jit_head *)(c->bc->jit.rx + in->code - sizeof(struct jit_head));
}

static ALWAYS_INLINE void jit_enter(struct cpu *c, const struct insn *in, int hosted)
{
	jit_code *code = (jit_code *)(uintptr_t)(c->bc->jit.rx + in->code);
	const struct jit_head *h = jit_head_of(c, in);
	/*
	 * Host code keeps the guest's arithmetic flags in c->jit_flags, and
	 * loads them from there (exact there between hosted blocks); what
	 * it left goes back into c->flags.
	 */
	c->jit_flags = JIT_FLAGS_NONE;
	if (hosted || h->flags_in) {
		flags_eager(c);
		c->jit_flags = jit_flags_pack(c->flags);
	}
	c->jit_tlb = c->tlb[c->cpl == 3];
	c->jit_jc = c->bc->jc[c->cpl == 3];
	int done = code(c);
	if ((c->jit_flags & 0xff) != JIT_FLAGS_NONE) {
		c->flags = (c->flags & ~(uint64_t)F_ARITH) | jit_flags_unpack(c->jit_flags);
		c->lf_op = 0;
	}
	if (done > 0) {
		insn_next_pure(c, in + done - 1, 0);
		return;
	}
	const struct insn *at = done == 0 ? in : c->cur;
	c->rip = c->block_rip + at->end - at->len;
	if (done == JIT_BRANCHED) {
		block_next(c, at);
		return;
	}
	c->next_rip = c->block_rip + at->end;
	c->cur = at;
	insn_fn *fn = at->fn;
	if (fn == jit_run || fn == jit_block)
		fn = jit_head_of(c, at)->fn;
	fn(c, at);
}

static void jit_run(struct cpu *c, const struct insn *in)
{
	jit_enter(c, in, 0);
}

static void jit_block(struct cpu *c, const struct insn *in)
{
	jit_enter(c, in, 1);
}

/* Whether the block of in[0..n) can be hosted (struct jit_chain), which ch then describes. */
static int block_hostable(struct cpu *c, const struct block *b, const struct insn *in, int n,
			  struct jit_chain *ch)
{
	const struct insn *br = &in[n - 1];
	int cc = insn_branch_kind(br->fn);
	int64_t taken = cc == JIT_RET ? 0 : (int64_t)br->end + (int64_t)br->imm;
	if (cc < 0 || taken != (int32_t)taken)
		return 0;
	*ch = (struct jit_chain){
		.block = b, .n = (uint16_t)n, .insns = c->bc->insns, .branch = br, .cc = cc,
		.taken = (int32_t)taken, .pop = cc == JIT_RET && br->op == 0xc2 ? (uint16_t)br->imm : 0,
		.end = br->end,
		.link_tag = offsetof(struct block, link_tag), .link_lin = offsetof(struct block, link_lin),
		.link = offsetof(struct block, link), .gen = offsetof(struct block, gen),
		.gen_seen = offsetof(struct block, gen_seen), .stamp = offsetof(struct block, stamp),
		.first = offsetof(struct block, first), .code = offsetof(struct block, code),
		.jc_lin = offsetof(struct jump_entry, lin), .jc_tag = offsetof(struct jump_entry, tag),
		.jc_block = offsetof(struct jump_entry, b), .jc_size = sizeof(struct jump_entry), .jc_bits = JC_BITS,
	};
	return 1;
}

/*
 * Makes in[0] run the k instructions from it as host code (ji: what the
 * translator needs of each). live_out: the flags are read after them.
 */
static void translate_run(struct cpu *c, struct insn *in, struct jit_insn *ji, int k,
			  const uint8_t *bytes, int live_out, struct jit_loop loop, const struct jit_chain *ch)
{
	/*
	 * Backwards: whether the flags before each instruction are read
	 * later; host code needs them in RFLAGS only where an instruction
	 * after that point touches them (else struct cpu has them). The
	 * Jcc of a loop or a hosted block reads them in RFLAGS. An
	 * instruction that keeps some of them counts as reading them: what
	 * it leaves reaches struct cpu whole, before a memory access for one.
	 */
	int cc = ch ? ch->cc : loop.cc;
	int live = live_out, touch = cc >= 0 && cc < JIT_JMP;
	for (int i = k - 1; i >= 0; i--) {
		if (ji[i].flags == PF_READ || ji[i].flags == PF_PASS)
			live = 1;
		else if (ji[i].flags == PF_WRITE)
			live = 0;
		touch |= ji[i].flags != PF_NONE;
		ji[i].flags_live = (uint8_t)(live && touch);
	}
	jit_code *code = jit_translate(&c->bc->jit, ji, k, bytes, live && touch, live_out, loop, ch);
	if (!code)
		return;
	in[0].code = (uint32_t)((const uint8_t *)code - c->bc->jit.rx);
	in[0].fn = ch ? jit_block : jit_run;
}

/* What in does with the arithmetic flags (PF_*), its count known. */
static int pure_flags(const struct pure_variants *v, const struct insn *in)
{
	if (v->flags != PF_SHIFT)
		return v->flags;
	return in->imm & (in->opsize == 8 ? 63 : 31) ? PF_WRITE : PF_NONE;
}

/* What host code may hold of in: a pure instruction with known registers, or a memory form. */
static int jit_describe(const struct insn *in, const struct handler_info *hi, struct jit_insn *ji)
{
	const struct pure_variants *pv = hi ? hi->pure : NULL;
	const struct mem_form *mf = hi ? hi->mem : NULL;
	*ji = (struct jit_insn){ .in = in };
	if (pv && pv->regs) {
		ji->regs = pv->regs;
		ji->flags = (uint8_t)pure_flags(pv, in);
	} else if (mf && in->adsize == 8) {
		ji->regs = mf->regs;
		ji->flags = mf->flags;
		ji->mem = mf->mem;
		ji->size = mf->size ? mf->size : in->opsize;
		ji->stack = mf->stack;
	} else {
		return 0;
	}
	return jit_insn_ok(ji);
}

/*
 * Each run of instructions that host code can do, in 64-bit code,
 * becomes host code; a block that is one such run and a relative JMP,
 * Jcc or CALL, or a RET, is hosted whatever its length.
 */
static void translate_runs(struct cpu *c, const struct block *b, struct insn *in, const struct handler_info **hi,
			   const uint8_t *live_after, int n, const uint8_t *bytes)
{
	struct jit_insn ji[BLOCK_MAX_INSNS];
	if (c->code_size != 8 || cpu_jit_min_run <= 0)
		return;
	for (int i = 0; i < n;) {
		int k = 0;
		while (i + k < n && jit_describe(&in[i + k], hi[i + k], &ji[k]))
			k++;
		struct jit_loop loop = { -1, 0 };
		if (i == 0 && k == n - 1 && k > 0 && (uint64_t)in[k].end + in[k].imm == 0)
			loop = (struct jit_loop){ insn_branch_cc(in[k].fn), in[k].end };
		struct jit_chain ch;
		if (i == 0 && k == n - 1 && block_hostable(c, b, in, n, &ch))
			translate_run(c, in, ji, k, bytes, 1, loop, &ch);
		else if (k >= cpu_jit_min_run || (loop.cc >= 0 && cpu_jit_min_run > 0))
			translate_run(c, in + i, ji, k, bytes, live_after[i + k - 1], loop, NULL);
		i += k ? k : 1;
	}
}

/*
 * Picks the variant of each pure handler of a decoded block, last to
 * first, tracking whether the arithmetic flags are live: they are at
 * the block end and before anything that is not pure. Then runs become
 * host code (jit.c).
 */
static void pure_finish_block(struct cpu *c, const struct block *b, struct insn *in, int n,
			      const uint8_t *bytes)
{
	const struct handler_info *hi[BLOCK_MAX_INSNS];
	uint8_t live_after[BLOCK_MAX_INSNS];
	int live = 1, next_pure = 0;
	pthread_once(&handlers_once, handlers_init);
	for (int i = n - 1; i >= 0; i--) {
		hi[i] = handler_find(in[i].fn);
		const struct pure_variants *v = hi[i] ? hi[i]->pure : NULL;
		live_after[i] = (uint8_t)live;
		if (!v) {
			live = 1;
			next_pure = 0;
			continue;
		}
		int pf = pure_flags(v, &in[i]);
		int nf = !live && (pf == PF_WRITE || pf == PF_PASS);
		in[i].fn = v->v[(nf ? PV_NF : PV_SYNC) + next_pure];
		if (pf == PF_READ)
			live = 1;
		else if (pf == PF_WRITE)
			live = 0;
		next_pure = 1;
	}
	translate_runs(c, b, in, hi, live_after, n, bytes);
}

/*
 * Decodes a block at gpa (host points at its first byte). Returns NULL
 * when the first instruction crosses the page end (exec_one runs it).
 */
static struct block *build_block(struct cpu *c, uint64_t gpa, const uint8_t *host)
{
	struct block_cache *bc = c->bc;
	struct pmem_slot *s = slot_of(c->pmem, gpa);
	uint64_t pi = (gpa - s->gpa) >> 12;
	int avail = (int)(4096 - (gpa & 0xfff));

	if (bc->nblocks == MAX_BLOCKS || bc->ninsns + BLOCK_MAX_INSNS + 1 > MAX_INSNS ||
	    bc->nbytes + 4096 > MAX_BYTES || (bc->jit.rw && bc->jit.used + JIT_BLOCK_ROOM > bc->jit.size))
		cpu_flush_code(c);
	mark_code_page(c, s, pi);
	uint32_t gen = __atomic_load_n(&s->gen[pi], __ATOMIC_ACQUIRE);
	if (!__atomic_load_n(&s->code[pi], __ATOMIC_SEQ_CST))
		mark_code_page(c, s, pi);       /* unmarked meanwhile (note_write()) */

	struct block *b = &bc->blocks[bc->nblocks];
	b->first = bc->ninsns;
	int off = 0, n = 0, sys_end = 0;
	while (n < BLOCK_MAX_INSNS && off < avail) {
		struct insn *in = &bc->insns[bc->ninsns + n];
		int ends = 0;
		int len = cpu_decode(host + off, avail - off, c->code_size, in, &ends);
		if (len == -1)
			break;          /* crosses the page: the next block starts there */
		if (len < 0) {
			if (n == 0)
				cpu_fault(c, -len, 0);
			break;          /* faults when it is reached */
		}
		off += len;
		in->end = (uint16_t)off;
		n++;
		if (ends) {
			sys_end = !insn_is_near_branch(in->fn);
			break;
		}
	}
	if (n == 0) {
		/* Its first instruction crosses the page end: decoded as it runs (insn_cross_page()). */
		bc->insns[bc->ninsns] = (struct insn){ .fn = insn_cross_page, .len = (uint8_t)avail,
							.end = (uint16_t)avail };
		n = 1;
		off = avail;
		sys_end = 1;
	}
	pure_finish_block(c, b, &bc->insns[bc->ninsns], n, host);
	b->code = bc->insns[bc->ninsns].fn == jit_block ? bc->insns[bc->ninsns].code : 0;
	b->key = block_key(c, gpa);
	b->link_tag = 0;
	b->gen = &s->gen[pi];
	b->gen_seen = gen;
	b->stamp = c->stamp;
	b->n = (uint16_t)n;
	b->nbytes = (uint16_t)off;
	b->sys_end = (uint8_t)sys_end;
	b->bytes = bc->nbytes;
	memcpy(bc->bytes + bc->nbytes, host, (size_t)off);
	bc->nbytes += (uint32_t)off;
	bc->insns[bc->ninsns + n] = block_sentinel;
	bc->insns[bc->ninsns + n].end = (uint16_t)off;
	bc->insns[bc->ninsns + n].imm = (uint64_t)(uintptr_t)b;   /* for block_next() */
	bc->ninsns += (uint32_t)n + 1;
	bc->nblocks++;
	unsigned h = hash_key(b->key);
	b->next = bc->hash[h];
	bc->hash[h] = b;
	return b;
}

/* The block for gpa, checked against memory; NULL when exec_one must run the code. */
static struct block *find_block(struct cpu *c, uint64_t gpa, const uint8_t *host)
{
	struct block_cache *bc = c->bc;
	uint64_t key = block_key(c, gpa);
	struct block *b = bc->hash[hash_key(key)];
	while (b && b->key != key)
		b = b->next;
	if (b) {
		uint32_t gen = __atomic_load_n(b->gen, __ATOMIC_ACQUIRE);
		if (likely(gen == b->gen_seen && b->stamp == c->stamp))
			return b;
		if (!memcmp(bc->bytes + b->bytes, host, b->nbytes)) {
			b->gen_seen = gen;
			b->stamp = c->stamp;
			mark_code_gpa(c, gpa);
			return b;
		}
		unlink_block(bc, b);
	}
	return build_block(c, gpa, host);
}

/* ---- port and MMIO accesses with replay ---- */

void io_access(struct cpu *c, int is_mmio, int is_write, uint64_t addr, int size,
	       uint32_t count, void *data)
{
	struct cpu_io_log *l = &c->io;
	size_t bytes = (size_t)size * count;
	c->stop = 1;
	if (l->pos < l->n) {
		struct cpu_io_entry *e = &l->e[l->pos];
		if (e->done && e->is_mmio == is_mmio && e->is_write == is_write && e->addr == addr &&
		    e->size == size && e->count == count) {
			l->pos++;
			if (!is_write)
				memcpy(data, e->data, bytes);
			return;
		}
		l->n = l->pos;  /* the instruction went another way: forget the rest */
	}
	if (l->n == IO_LOG_MAX)
		cpu_vmexit(c, EXIT_INVALID_STATE, 0);
	struct cpu_io_entry *e = &l->e[l->n++];
	e->is_mmio = (uint8_t)is_mmio;
	e->is_write = (uint8_t)is_write;
	e->size = (uint8_t)size;
	e->count = count;
	e->addr = addr;
	e->done = 0;
	if (is_write)
		memcpy(e->data, data, bytes);
	else
		memset(e->data, 0xff, bytes);
	int done = is_mmio ? c->plat->mmio(c, e) : c->plat->pio(c, e);
	if (done) {
		e->done = 1;
		l->pos = l->n;
		if (!is_write)
			memcpy(data, e->data, bytes);
		return;
	}
	c->exit.gpa = addr;
	cpu_vmexit(c, is_mmio ? EXIT_EPT_VIOLATION : EXIT_IO_INSTRUCTION, c->exit.qual);
}

void io_commit(struct cpu *c)
{
	c->io.n = c->io.pos = 0;
}

struct cpu_io_entry *cpu_io_pending(struct cpu *c)
{
	return c->io.n ? &c->io.e[c->io.n - 1] : NULL;
}

void cpu_io_complete(struct cpu *c, const void *data, size_t len)
{
	struct cpu_io_entry *e = cpu_io_pending(c);
	if (!e)
		return;
	if (data && !e->is_write) {
		size_t bytes = (size_t)e->size * e->count;
		memcpy(e->data, data, len < bytes ? len : bytes);
	}
	e->done = 1;
}

void cpu_io_abandon(struct cpu *c)
{
	io_commit(c);
}

/* ---- execution ---- */

static uint64_t code_lin(struct cpu *c, uint64_t rip)
{
	uint64_t lin = c->sbase[S_CS] + rip;
	return c->mode == MODE_LONG ? lin : (uint32_t)lin;
}

/* Fetches and decodes one instruction, across a page end if need be. */
static void decode_at_rip(struct cpu *c, struct insn *in)
{
	uint64_t lin = code_lin(c, c->rip), gpa;
	uint8_t buf[16];
	int ends;
	if (c->mode != MODE_LONG && c->rip > c->seg[S_CS].limit)
		GP0(c);
	uint8_t *p = fetch_ptr(c, lin, &gpa);
	if (!p)
		cpu_vmexit(c, EXIT_INVALID_STATE, 1);   /* executing from MMIO: unsupported */
	int avail = (int)(4096 - (lin & 0xfff));
	int len = cpu_decode(p, avail, c->code_size, in, &ends);
	if (len == -1) {
		memcpy(buf, p, (size_t)avail);
		uint8_t *q = fetch_ptr(c, lin + (uint64_t)avail, &gpa);
		if (!q)
			cpu_vmexit(c, EXIT_INVALID_STATE, 1);
		memcpy(buf + avail, q, (size_t)(15 - avail));
		len = cpu_decode(buf, 15, c->code_size, in, &ends);
	}
	if (len < 0)
		cpu_fault(c, -len, 0);
}

/*
 * The one instruction of a block that starts with an instruction
 * crossing the page end. The block knows the bytes of its own page
 * only: those on the next may change, or map elsewhere, without the
 * block knowing, so the instruction is fetched and decoded each time
 * it runs, as exec_one() does. Being a block keeps it in chains, links
 * and the jump cache (a loop through a page end otherwise stops the
 * chain on every pass, and each pass looks for a block that is not
 * there). It never chains on itself: its own sentinel is the local one.
 */
static void insn_cross_page(struct cpu *c, const struct insn *at)
{
	struct insn in[2];
	decode_at_rip(c, &in[0]);
	in[0].end = in[0].len;
	in[1] = block_sentinel;
	in[1].end = in[0].len;
	c->next_rip = c->rip + in[0].len;
	c->cur = &in[0];
	in[0].fn(c, &in[0]);
	c->cur = at;
}

static void retire(struct cpu *c, uint64_t n)
{
	c->icount += n;
	c->budget = c->budget > n ? c->budget - n : 0;
}

/* Runs exactly one instruction with the checks the block path leaves out. */
static void exec_one(struct cpu *c)
{
	struct insn in[2];
	int shadow = c->intr_shadow, tf = !!(c->flags & F_TF);
	decode_at_rip(c, &in[0]);
	in[0].end = in[0].len;
	in[1] = block_sentinel;
	in[1].end = in[0].len;
	c->block_rip = c->rip;
	c->next_rip = c->rip + in[0].len;
	c->cur = &in[0];
	in[0].fn(c, &in[0]);
	c->cur = NULL;
	c->rip = c->next_rip;
	if (c->stop) {
		c->stop = 0;
		if (c->io.n)
			io_commit(c);
	}
	if (shadow)
		c->intr_shadow = 0;
	retire(c, 1);
	if (tf) {
		struct cpu_event db = { .type = EV_HWEXC, .vector = EX_DB };
		c->dr[6] |= 0x4000;     /* BS: single-step trap */
		cpu_deliver(c, &db);
	}
}

static void check_epochs(struct cpu *c)
{
	struct pmem *pm = c->pmem;
	uint32_t ce = __atomic_load_n(&pm->code_epoch, __ATOMIC_ACQUIRE);
	uint32_t ve = __atomic_load_n(&pm->verify_epoch, __ATOMIC_ACQUIRE);
	if (likely(ce == c->seen_code_epoch && ve == c->seen_verify_epoch))
		return;
	if (ce != c->seen_code_epoch) {
		tlb_drop_code_writes(c);
		ve = __atomic_add_fetch(&pm->verify_epoch, 1, __ATOMIC_ACQ_REL);
		c->seen_code_epoch = ce;
	}
	c->seen_verify_epoch = ve;
	c->stamp++;
}

static unsigned jc_index(uint64_t lin)
{
	return (unsigned)((lin ^ (lin >> JC_BITS)) & ((1u << JC_BITS) - 1));
}

static int block_current(struct cpu *c, struct block *b)
{
	return __atomic_load_n(b->gen, __ATOMIC_ACQUIRE) == b->gen_seen && b->stamp == c->stamp;
}

/*
 * Whether block b, found for lin through an entry or a link that may be
 * stale, is still what runs there: lin must still translate to its code
 * (the lookup may fault, as the fetch would), and its bytes must match
 * when its page's generation or this vCPU's stamp moved.
 */
static __attribute__((noinline)) int block_holds(struct cpu *c, struct block *b, uint64_t lin)
{
	uint64_t gpa;
	const uint8_t *host = fetch_ptr(c, lin, &gpa);
	if (!host || block_key(c, gpa) != b->key)
		return 0;
	note_code_translation(c, lin);
	uint32_t gen = __atomic_load_n(b->gen, __ATOMIC_ACQUIRE);
	if (gen == b->gen_seen && b->stamp == c->stamp)
		return 1;
	if (memcmp(c->bc->bytes + b->bytes, host, b->nbytes))
		return 0;
	b->gen_seen = gen;
	b->stamp = c->stamp;
	mark_code_gpa(c, gpa);
	return 1;
}

/* The block at linear address lin: the jump cache, else translate and find. */
static struct block *lookup_block(struct cpu *c, uint64_t lin, uint64_t tag)
{
	struct block_cache *bc = c->bc;
	struct jump_entry *e = &bc->jc[c->cpl == 3][jc_index(lin)];
	if (likely(e->lin == lin && TAG_CODE(e->tag) == TAG_CODE(tag)) &&
	    ((e->tag == tag && block_current(c, e->b)) || block_holds(c, e->b, lin))) {
		e->tag = tag;
		return e->b;
	}
	uint64_t gpa;
	uint8_t *host = fetch_ptr(c, lin, &gpa);
	struct block *b = host ? find_block(c, gpa, host) : NULL;
	if (b) {
		/* find_block may have moved the generation: the entry takes the new tag. */
		note_code_translation(c, lin);
		e->lin = lin;
		e->tag = run_tag(c);
		e->b = b;
	}
	return b;
}

/* The block that followed prev at lin last time, if the link still holds. */
static struct block *follow_link(struct cpu *c, struct block *prev, uint64_t lin, uint64_t tag)
{
	if (!prev || TAG_CODE(prev->link_tag) != TAG_CODE(tag))
		return NULL;
	int slot = prev->link_lin[0] == lin ? 0 : prev->link_lin[1] == lin ? 1 : -1;
	if (slot < 0)
		return NULL;
	struct block *b = prev->link[slot];
	if (likely(prev->link_tag == tag)) {
		if (likely(block_current(c, b)))
			return b;
		return block_holds(c, b, lin) ? b : NULL;
	}
	if (!block_holds(c, b, lin))
		return NULL;
	prev->link_tag = tag;   /* the other link is not known to hold */
	prev->link_lin[!slot] = LINK_NONE;
	prev->link[!slot] = NULL;
	return b;
}

/* Links prev to b at lin: the first two successors seen keep a slot each, later ones take slot 0. */
static void make_link(struct cpu *c, struct block *prev, uint64_t lin, struct block *b)
{
	uint64_t tag = run_tag(c);
	if (prev->link_tag != tag) {
		prev->link_tag = tag;
		prev->link_lin[0] = prev->link_lin[1] = LINK_NONE;
		prev->link[0] = prev->link[1] = NULL;
	}
	int slot = prev->link_lin[0] != LINK_NONE && prev->link_lin[1] == LINK_NONE;
	prev->link_lin[slot] = lin;
	prev->link[slot] = b;
}

/* Blocks run back to back before the loop looks at kicks and epochs again. */
#define CHAIN_MAX 256

void block_next(struct cpu *c, const struct insn *in)
{
	struct block *b = (struct block *)(uintptr_t)in[1].imm, *nb;
	uint64_t lin = c->next_rip;
	if (!b || c->stop || c->chain_left <= 0 || c->budget <= b->n)
		return;
	int linked = b->link_tag == c->chain_tag;
	if (linked && b->link_lin[0] == lin) {
		nb = b->link[0];
	} else if (linked && b->link_lin[1] == lin) {
		nb = b->link[1];
	} else {
		/* A third successor (a RET's many callers), or stale links: the jump cache, if its entry is of this tag. */
		const struct jump_entry *e = &c->bc->jc[c->cpl == 3][jc_index(lin)];
		if (e->lin != lin || e->tag != c->chain_tag)
			return;
		nb = e->b;
	}
	if (!block_current(c, nb))
		return;
	retire(c, b->n);
	c->chain_left--;
	const struct insn *first = &c->bc->insns[nb->first];
	c->block = nb;
	c->rip = c->block_rip = lin;
	c->next_rip = lin + first->end;
	c->cur = first;
	first->fn(c, first);
}

/*
 * Runs the instructions of block *bp, from c->rip at its start, and
 * those it chains to (block_next()); *bp becomes the last block run.
 * Handlers run the instructions after them themselves (insn_next());
 * this loop takes over when one returns without doing so. Returns 0
 * when an instruction asked to stop.
 */
static int run_block(struct cpu *c, struct block **bp)
{
	struct block *b = *bp;
	const struct insn *first = &c->bc->insns[b->first], *end = first + b->n;
	const struct insn *in = first;
	uint64_t base = c->rip;
	c->block = b;
	c->block_rip = base;
	c->next_rip = base + in->end;
	for (;;) {
		c->cur = in;
		in->fn(c, in);
		if (c->block != b) {    /* chained on */
			b = *bp = c->block;
			first = &c->bc->insns[b->first];
			end = first + b->n;
			base = c->block_rip;
		}
		in = c->cur;            /* the last one that ran */
		if (unlikely(c->stop)) {
			c->stop = 0;
			if (c->io.n)
				io_commit(c);
			c->rip = c->next_rip;
			retire(c, (uint64_t)(in - first) + (in != end));
			return 0;
		}
		if (in == end || ++in == end)
			break;
		c->rip = base + in[-1].end;
		c->next_rip = base + in->end;
	}
	c->rip = c->next_rip;
	retire(c, b->n);
	return 1;
}

/*
 * Runs blocks from c->rip, following links between them, until one ends
 * with an instruction that may change what the checks of exec_step look
 * at (not a near branch), an instruction stops, the budget runs out, or
 * CHAIN_MAX blocks ran. *prev is the block run last (NULL: none).
 */
static void run_chain(struct cpu *c, struct block **prev)
{
	uint64_t tag = run_tag(c);
	for (c->chain_left = CHAIN_MAX; c->chain_left > 0; c->chain_left--) {
		uint64_t lin = code_lin(c, c->rip);
		if (c->mode != MODE_LONG && c->rip > c->seg[S_CS].limit)
			GP0(c);
		struct block *b = follow_link(c, *prev, lin, tag);
		if (!b) {
			b = lookup_block(c, lin, tag);
			if (!b) {
				*prev = NULL;
				exec_one(c);
				return;
			}
			tag = run_tag(c);       /* the lookup may have flushed */
			if (*prev)
				make_link(c, *prev, lin, b);
		}
		c->chain_tag = tag;
		int go_on = run_block(c, &b);
		*prev = b;
		if (!go_on || b->sys_end || !c->budget)
			return;
	}
}

/*
 * Looks at everything that may end the run or needs one instruction at
 * a time, then runs a chain of blocks; returns an exit reason, or GO_ON.
 */
#define GO_ON (-1)      /* exit reason 0 is a real one (exception or NMI) */
static int exec_step(struct cpu *c, struct block **prev)
{
	/* An interrupt shadow covers exactly the next instruction: run it first. */
	if (unlikely(c->intr_shadow || c->single_step || c->step_one || (c->flags & F_TF))) {
		exec_one(c);
		if (c->single_step) {
			c->exit.intr = (struct cpu_event){ .type = EV_HWEXC, .vector = EX_DB };
			return EXIT_EXCEPTION_NMI;
		}
		return c->step_one ? EXIT_MONITOR_TRAP : GO_ON;
	}
	if (unlikely(cpu_kicked(c)))
		return EXIT_EXTERNAL_INTERRUPT;
	if (unlikely(!c->budget))
		return EXIT_PREEMPTION_TIMER;
	if (unlikely(c->intr_window_exiting && (c->flags & F_IF)))
		return EXIT_INTERRUPT_WINDOW;
	check_epochs(c);
	run_chain(c, prev);
	return GO_ON;
}

int cpu_run(struct cpu *c)
{
	int r = setjmp(c->jb);
	if (r == JMP_EXIT) {
		c->stop = 0;
		c->io.pos = 0;
		return (int)c->exit.reason;
	}
	if (r == JMP_FAULT) {
		c->stop = 0;
		io_commit(c);
		cpu_handle_fault(c);
		if (c->single_step || c->step_one) {
			/* The step ended in an exception handler's first instruction. */
			c->exit.intr = (struct cpu_event){ .type = EV_HWEXC, .vector = EX_DB };
			return c->single_step ? EXIT_EXCEPTION_NMI : EXIT_MONITOR_TRAP;
		}
	}
	c->io.pos = 0;
	if (c->inject.type != EV_NONE) {
		/* VM-entry event injection; a fault on the way follows the double-fault rules. */
		struct cpu_event ev = c->inject;
		c->inject.type = EV_NONE;
		cpu_deliver(c, &ev);
		if (c->single_step) {
			c->exit.intr = (struct cpu_event){ .type = EV_HWEXC, .vector = EX_DB };
			return EXIT_EXCEPTION_NMI;
		}
	}
	struct block *prev = NULL;
	for (;;) {
		int reason = exec_step(c, &prev);
		if (reason != GO_ON) {
			c->exit.reason = (uint32_t)reason;
			c->exit.insn_len = 0;
			return reason;
		}
	}
}
