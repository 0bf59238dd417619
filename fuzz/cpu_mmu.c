/*
 * Fuzzes the soft CPU's page walker and memory access paths (mmu.c): the
 * input builds page tables in a small guest RAM and asks for translations,
 * reads and writes at linear addresses, in any paging mode (2-level, PAE,
 * 4-level), with WP, PSE, NXE and CPL 3 as the input says.
 *
 * Layout: byte 0 the mode bits, byte 1 CR3's page, byte 2 the number of
 * queries (up to 32), then 10 bytes per query (kind and size, linear
 * address), then the first bytes of guest RAM (page tables and data).
 * Faults and exits are expected; crashes, accesses outside guest RAM, and
 * a read that does not return what the same access just wrote are not.
 */
#include <setjmp.h>
#include <sys/mman.h>

#include "fuzz.h"
#include "hv/soft/cpu/internal.h"

#define RAM_SIZE   (1u << 20)
#define HIGH_GPA   0x100000000ULL          /* a second slot, above 4 GiB */
#define HIGH_SIZE  (64u << 10)
#define IMAGE_MAX  (64u << 10)

static struct pmem pm;
static struct cpu cpu;
static uint8_t *ram, *high;

/* MMIO: reads give all ones, writes vanish, nothing exits. */
static int mmio_done(struct cpu *c, struct cpu_io_entry *e)
{
	(void)c;
	if (!e->is_write)
		memset(e->data, 0xff, (size_t)e->size * e->count);
	return 1;
}

static const struct cpu_platform plat = { .pio = mmio_done, .mmio = mmio_done };

static void setup(void)
{
	ram = mmap(NULL, RAM_SIZE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	high = mmap(NULL, HIGH_SIZE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (ram == MAP_FAILED || high == MAP_FAILED ||
	    pmem_set_slot(&pm, 0, 0, RAM_SIZE, ram, 0) < 0 ||
	    pmem_set_slot(&pm, 1, HIGH_GPA, HIGH_SIZE, high, 0) < 0 ||
	    cpu_init(&cpu, &pm, &plat, NULL) < 0)
		abort();
}

/* The paging mode from byte 0: PG, WP, PAE, PSE, long mode, NXE, CPL 3. */
static void set_mode(struct cpu *c, unsigned m, unsigned cr3_page)
{
	cpu_reset(c);
	c->cr0 = CR0_PE | CR0_ET | (m & 2 ? CR0_WP : 0);
	c->cr4 = (m & 4 ? CR4_PAE : 0) | (m & 8 ? CR4_PSE : 0);
	c->efer = m & 32 ? EFER_NXE : 0;
	if (m & 1)
		c->cr0 |= CR0_PG;
	if ((m & 16) && (m & 1)) {
		c->cr4 |= CR4_PAE;
		c->efer |= EFER_LME | EFER_LMA;
		c->seg[S_CS].attr |= SEG_L;
	}
	c->seg[S_CS].attr |= SEG_DB * !(m & 16);
	c->cr3 = (uint64_t)cr3_page << 12 | (m & 128 ? 0x18 : 0);
	cpu_update_mode(c);
	c->cpl = m & 64 ? 3 : 0;
	cpu_flush_tlb(c);
}

static const int sizes[4] = { 1, 2, 4, 8 };

/* One query; faults and exits come back through longjmp. */
static void query(struct cpu *c, unsigned op, uint64_t lin)
{
	int size = sizes[(op >> 2) & 3];
	int acc = op & 16 ? ACC_SYS : 0;
	/* As the CPU's own callers do (seg_lin): linear addresses are 32-bit outside long mode. */
	if (c->mode != MODE_LONG)
		lin = (uint32_t)lin;
	uint64_t v = lin * 0x9e3779b97f4a7c15ULL;
	switch (op & 3) {
	case 0: {
		int w;
		int64_t dbg = cpu_translate(c, lin, &w);
		uint64_t gpa = mmu_translate(c, lin, ACC_R | ACC_SYS);
		/* Both walks succeeded: they must agree. */
		FUZZ_ASSERT(dbg < 0 || (uint64_t)dbg == gpa);
		break;
	}
	case 1:
		lin_read(c, lin, size, ACC_R | acc);
		break;
	case 2: {
		lin_write(c, lin, size, v, ACC_W | acc);
		uint64_t gpa = mmu_translate(c, lin, ACC_R | acc);
		uint64_t gpa_end = mmu_translate(c, lin + (uint64_t)size - 1, ACC_R | acc);
		uint64_t got = lin_read(c, lin, size, ACC_R | acc);
		uint64_t mask = size == 8 ? ~0ULL : (1ULL << (8 * size)) - 1;
		if (pmem_host(&pm, gpa, 1) && pmem_host(&pm, gpa_end, 1) && got != (v & mask)) {
			fprintf(fuzz_real_stderr ? fuzz_real_stderr : stderr,
				"write of %d bytes at %#llx (gpa %#llx..%#llx, mode %d, cpl %d): "
				"wrote %#llx, read back %#llx\n", size, (unsigned long long)lin,
				(unsigned long long)gpa, (unsigned long long)gpa_end, (int)c->mode, c->cpl,
				(unsigned long long)(v & mask), (unsigned long long)got);
			FUZZ_ASSERT(got == (v & mask));
		}
		break;
	}
	default:
		mmu_translate(c, lin, ACC_X | acc);
		break;
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (!ram)
		setup();
	struct fz f = { data, size, 0 };
	unsigned mode = (unsigned)fz_take(&f, 1);
	unsigned cr3_page = (unsigned)fz_take(&f, 1);
	unsigned nq = (unsigned)fz_take(&f, 1) % 33;
	static uint8_t ops[32];
	static uint64_t lins[32];
	for (unsigned i = 0; i < nq; i++) {
		ops[i] = (uint8_t)fz_take(&f, 2);
		lins[i] = fz_take(&f, 8);
	}
	memset(ram, 0, IMAGE_MAX);
	memset(high, 0, HIGH_SIZE);
	size_t img = f.pos < size ? size - f.pos : 0;
	memcpy(ram, data + f.pos, img < IMAGE_MAX ? img : IMAGE_MAX);

	struct cpu *c = &cpu;
	set_mode(c, mode, cr3_page);
	for (volatile unsigned i = 0; i < nq; i++) {
		c->io.n = c->io.pos = 0;
		if (setjmp(c->jb) == 0)
			query(c, ops[i], lins[i]);
	}
	return 0;
}
