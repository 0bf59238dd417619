/*
 * difftest: differential testing of the software CPU against the host CPU.
 *
 * Each case is a short random instruction sequence (gen.c) wrapped in a
 * harness that loads every general register and RFLAGS from a block of
 * memory, runs the sequence, and stores them back. The same bytes run
 * natively at CPL 3 in a child process, and on the soft hypervisor
 * through the KVM ABI, also at CPL 3 in 64-bit mode, at the same virtual
 * addresses. The general registers, the defined arithmetic flags and DF,
 * XMM0-15 and MXCSR, the scratch memory, and the exception raised (if
 * any) must agree.
 *
 * usage: difftest [--seed N] [--seconds S] [--cases N] [--max-insns N] [--jit N] [--list]
 *        --jit N: the shortest run of instructions the soft CPU makes host
 *                 code (1: all of them, 0: none; default: the CPU's own choice)
 *        difftest --corrupt ...   flips a bit of the soft side's RAX, to show
 *                                 that the comparison catches a difference
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/kvm.h>
#include <setjmp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "gen.h"
#include "hv/hv.h"

/* The soft CPU's knob (src/hv/soft/cpu/cpu.h); this tool links the CPU in. */
extern int cpu_jit_min_run;

/* Virtual addresses shared by both worlds. */
#define CODE_ADDR    0x10000000ULL
#define DATA_OFF     0x800              /* in/out blocks within the code page */
#define SCRATCH_ADDR 0x10002000ULL
#define SCRATCH_SIZE 256
#define USTACK_TOP   0x10010000ULL

/* Guest-physical layout of the soft side's system structures. */
#define G_GDT   0x1000ULL
#define G_IDT   0x2000ULL
#define G_TSS   0x3000ULL
#define G_PML4  0x4000ULL
#define G_PDPT  0x5000ULL
#define G_PD    0x6000ULL
#define G_KSTACK 0x9000ULL
#define G_STUBS 0xa000ULL               /* one 16-byte hlt stub per vector */
#define G_MEM   (SCRATCH_ADDR + 0x100000ULL)

#define ARITH_FLAGS 0x8d5u
#define DF_FLAG 0x400u

struct block {                          /* at CODE_ADDR + DATA_OFF */
	uint64_t in[16], out[16];
	uint64_t in_flags, out_flags, saved_rsp;
	uint8_t xin[16][16], xout[16][16];
	uint32_t mxcsr_in, mxcsr_out;
};

struct result {
	int vector;                     /* -1: ran to the end */
	uint64_t regs[16];
	uint64_t flags;
	uint8_t xmm[16][16];
	uint32_t mxcsr;
	uint8_t scratch[SCRATCH_SIZE];
};

struct kase {
	struct seq seq;
	uint64_t regs[16];
	uint64_t flags;
	uint8_t xmm[16][16];
	uint32_t mxcsr;
	uint8_t scratch[SCRATCH_SIZE];
};

/* ---- the harness code ------------------------------------------------- */

static int rip_rel(uint8_t *code, int n, uint64_t target, int extra)
{
	int32_t rel = (int32_t)(target - (CODE_ADDR + n + 4 + extra));
	memcpy(code + n, &rel, 4);
	return n + 4;
}

static uint64_t blk(size_t off) { return CODE_ADDR + DATA_OFF + off; }

/* movdqu between XMM0-15 and the block (op 0x6f loads, 0x7f stores); ldmxcsr/stmxcsr (/2, /3). */
static int xmm_moves(uint8_t *code, int n, uint8_t op, size_t off)
{
	for (int x = 0; x < 16; x++) {
		code[n++] = 0xf3;
		if (x >= 8)
			code[n++] = 0x44;
		code[n++] = 0x0f; code[n++] = op; code[n++] = 0x05 | (x & 7) << 3;
		n = rip_rel(code, n, blk(off + 16 * x), 0);
	}
	code[n++] = 0x0f; code[n++] = 0xae; code[n++] = op == 0x6f ? 0x15 : 0x1d;
	return rip_rel(code, n, blk(op == 0x6f ? offsetof(struct block, mxcsr_in) : offsetof(struct block, mxcsr_out)), 0);
}

/* Builds prologue + sequence + epilogue; returns the offset of the final byte. */
static int build_code(uint8_t *code, const struct seq *s, uint8_t final)
{
	static const uint8_t pushes[] = { 0x53, 0x55, 0x41, 0x54, 0x41, 0x55, 0x41, 0x56, 0x41, 0x57 };
	static const uint8_t pops[] = { 0x41, 0x5f, 0x41, 0x5e, 0x41, 0x5d, 0x41, 0x5c, 0x5d, 0x5b };
	int n = 0;
	memcpy(code + n, pushes, sizeof(pushes));
	n += sizeof(pushes);
	code[n++] = 0x48; code[n++] = 0x89; code[n++] = 0x25;          /* mov [rip+x], rsp */
	n = rip_rel(code, n, blk(offsetof(struct block, saved_rsp)), 0);
	n = xmm_moves(code, n, 0x6f, offsetof(struct block, xin));
	for (int g = 0; g < 16; g++) {
		if (g == 4)
			continue;
		code[n++] = 0x48 | (g >= 8 ? 4 : 0);
		code[n++] = 0x8b;                                      /* mov g, [rip+x] */
		code[n++] = 0x05 | (g & 7) << 3;
		n = rip_rel(code, n, blk(offsetof(struct block, in) + 8 * g), 0);
	}
	code[n++] = 0xff; code[n++] = 0x35;                            /* push [rip+x] */
	n = rip_rel(code, n, blk(offsetof(struct block, in_flags)), 0);
	code[n++] = 0x9d;                                              /* popfq */
	memcpy(code + n, s->bytes, s->len);
	n += s->len;
	code[n++] = 0x9c;                                              /* pushfq */
	code[n++] = 0x8f; code[n++] = 0x05;                            /* pop [rip+x] */
	n = rip_rel(code, n, blk(offsetof(struct block, out_flags)), 0);
	for (int g = 0; g < 16; g++) {
		if (g == 4)
			continue;
		code[n++] = 0x48 | (g >= 8 ? 4 : 0);
		code[n++] = 0x89;                                      /* mov [rip+x], g */
		code[n++] = 0x05 | (g & 7) << 3;
		n = rip_rel(code, n, blk(offsetof(struct block, out) + 8 * g), 0);
	}
	n = xmm_moves(code, n, 0x7f, offsetof(struct block, xout));
	code[n++] = 0x48; code[n++] = 0x8b; code[n++] = 0x25;          /* mov rsp, [rip+x] */
	n = rip_rel(code, n, blk(offsetof(struct block, saved_rsp)), 0);
	memcpy(code + n, pops, sizeof(pops));
	n += sizeof(pops);
	code[n] = final;
	return n;
}

static void fill_block(struct block *b, const struct kase *k)
{
	memcpy(b->in, k->regs, sizeof(b->in));
	b->in[15] = SCRATCH_ADDR;
	b->in_flags = k->flags;
	memcpy(b->xin, k->xmm, sizeof(b->xin));
	b->mxcsr_in = k->mxcsr;
}

static void take_block(struct result *res, const struct block *b)
{
	memcpy(res->regs, b->out, sizeof(b->out));
	res->flags = b->out_flags;
	memcpy(res->xmm, b->xout, sizeof(res->xmm));
	res->mxcsr = b->mxcsr_out;
}

/* ---- native side -------------------------------------------------------- */

static sigjmp_buf native_jb;
static volatile int native_vector;

static void on_fault(int sig, siginfo_t *si, void *uc)
{
	(void)uc;
	native_vector = sig == SIGILL ? 6 : sig == SIGTRAP ? 3 : 13;
	if (sig == SIGFPE)      /* #DE, or #XM for an unmasked SIMD exception */
		native_vector = si->si_code >= FPE_FLTDIV && si->si_code <= FPE_FLTSUB ? 19 : 0;
	siglongjmp(native_jb, 1);
}

static void native_run(const struct kase *ks, int n, struct result *res)
{
	uint8_t *code = mmap((void *)CODE_ADDR, 0x10000, PROT_READ | PROT_WRITE | PROT_EXEC,
			     MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0);
	if (code != (uint8_t *)CODE_ADDR) {
		perror("difftest: mapping the native code page");
		_exit(2);
	}
	struct sigaction sa = { .sa_sigaction = on_fault, .sa_flags = SA_NODEFER | SA_SIGINFO };
	sigemptyset(&sa.sa_mask);
	sigaction(SIGFPE, &sa, NULL);
	sigaction(SIGILL, &sa, NULL);
	sigaction(SIGSEGV, &sa, NULL);
	sigaction(SIGBUS, &sa, NULL);
	sigaction(SIGTRAP, &sa, NULL);
	struct block *b = (struct block *)(code + DATA_OFF);
	uint8_t *scratch = code + (SCRATCH_ADDR - CODE_ADDR);
	for (int i = 0; i < n; i++) {
		build_code(code, &ks[i].seq, 0xc3);
		fill_block(b, &ks[i]);
		memcpy(scratch, ks[i].scratch, SCRATCH_SIZE);
		native_vector = -1;
		if (sigsetjmp(native_jb, 1) == 0)
			((void (*)(void))code)();
		res[i].vector = native_vector;
		take_block(&res[i], b);
		memcpy(res[i].scratch, scratch, SCRATCH_SIZE);
	}
}

/* ---- soft side ------------------------------------------------------------ */

struct soft {
	const struct hv_ops *hv;
	int sys, vm, cpu;
	struct kvm_run *run;
	uint8_t *mem;
};

static void die(const char *what)
{
	fprintf(stderr, "difftest: %s: %s\n", what, strerror(errno));
	exit(2);
}

static void put64(uint8_t *p, uint64_t v) { memcpy(p, &v, 8); }

static void soft_tables(uint8_t *m)
{
	/* GDT: null, kernel code, kernel data, user data, user code, TSS (16 bytes). */
	put64(m + G_GDT + 0x08, 0x00209a0000000000ULL);
	put64(m + G_GDT + 0x10, 0x0000920000000000ULL);
	put64(m + G_GDT + 0x18, 0x0000f20000000000ULL);
	put64(m + G_GDT + 0x20, 0x0020fa0000000000ULL);
	put64(m + G_GDT + 0x28, 0x0000890000000067ULL | (G_TSS & 0xffffff) << 16);
	put64(m + G_TSS + 4, G_KSTACK);                                 /* RSP0 */
	/* Identity map of the first 1 GiB with 2 MiB user pages. */
	put64(m + G_PML4, G_PDPT | 7);
	put64(m + G_PDPT, G_PD | 7);
	for (int i = 0; i < 512; i++)
		put64(m + G_PD + 8 * i, ((uint64_t)i << 21) | 0x87);
	/* IDT: 32 interrupt gates to "hlt" stubs. */
	for (int v = 0; v < 32; v++) {
		uint64_t h = G_STUBS + 16 * v;
		uint64_t lo = (h & 0xffff) | (0x08ULL << 16) | (0x8eULL << 40) | ((h >> 16) & 0xffff) << 48;
		put64(m + G_IDT + 16 * v, lo);
		put64(m + G_IDT + 16 * v + 8, h >> 32);
		m[h] = 0xf4;
	}
}

static struct kvm_segment seg(uint16_t sel, uint8_t type, int l, int dpl)
{
	return (struct kvm_segment){ .selector = sel, .limit = 0xffffffff, .type = type, .present = 1,
				     .dpl = dpl, .s = 1, .l = l, .db = !l, .g = 1 };
}

static void soft_open(struct soft *s)
{
	s->hv = &hv_soft_ops;
	if ((s->sys = s->hv->open_system()) < 0)
		die("open");
	if ((s->vm = s->hv->ioctl(s->sys, KVM_CREATE_VM, 0)) < 0)
		die("KVM_CREATE_VM");
	s->mem = mmap(NULL, G_MEM, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (s->mem == MAP_FAILED)
		die("mmap");
	struct kvm_userspace_memory_region r = { .memory_size = G_MEM, .userspace_addr = (uintptr_t)s->mem };
	if (s->hv->ioctl(s->vm, KVM_SET_USER_MEMORY_REGION, &r) < 0)
		die("KVM_SET_USER_MEMORY_REGION");
	if ((s->cpu = s->hv->ioctl(s->vm, KVM_CREATE_VCPU, 0)) < 0)
		die("KVM_CREATE_VCPU");
	int sz = s->hv->ioctl(s->sys, KVM_GET_VCPU_MMAP_SIZE, 0);
	s->run = s->hv->mmap(NULL, sz, PROT_READ | PROT_WRITE, MAP_SHARED, s->cpu, 0);
	if (s->run == MAP_FAILED)
		die("mmap kvm_run");
	soft_tables(s->mem);
}

static void soft_enter_user(struct soft *s)
{
	struct kvm_sregs sr;
	if (s->hv->ioctl(s->cpu, KVM_GET_SREGS, &sr) < 0)
		die("KVM_GET_SREGS");
	sr.cs = seg(0x23, 11, 1, 3);
	sr.ss = sr.ds = sr.es = sr.fs = sr.gs = seg(0x1b, 3, 0, 3);
	sr.tr = (struct kvm_segment){ .selector = 0x28, .base = G_TSS, .limit = 0x67, .type = 11, .present = 1 };
	sr.gdt.base = G_GDT; sr.gdt.limit = 0x37;
	sr.idt.base = G_IDT; sr.idt.limit = 32 * 16 - 1;
	sr.cr0 = 0x80010033;                                    /* PG WP NE ET MP PE */
	sr.cr3 = G_PML4;
	sr.cr4 = 0x620;                                         /* PAE OSFXSR OSXMMEXCPT */
	sr.efer = 0xd01;                                        /* SCE LME LMA NXE */
	if (s->hv->ioctl(s->cpu, KVM_SET_SREGS, &sr) < 0)
		die("KVM_SET_SREGS");
	struct kvm_regs r = { .rip = CODE_ADDR, .rsp = USTACK_TOP, .rflags = 0x202 };
	if (s->hv->ioctl(s->cpu, KVM_SET_REGS, &r) < 0)
		die("KVM_SET_REGS");
}

static int vector_has_error(int v)
{
	return v == 8 || (v >= 10 && v <= 14) || v == 17;
}

static void soft_run(struct soft *s, const struct kase *k, struct result *res)
{
	uint8_t *code = s->mem + CODE_ADDR;
	int end = build_code(code, &k->seq, 0xf4);      /* hlt at CPL 3: #GP at the end */
	struct block *b = (struct block *)(code + DATA_OFF);
	fill_block(b, k);
	memcpy(s->mem + SCRATCH_ADDR, k->scratch, SCRATCH_SIZE);
	soft_enter_user(s);
	res->vector = -2;
	for (int spins = 0; spins < 4; spins++) {
		if (s->hv->ioctl(s->cpu, KVM_RUN, 0) < 0 && errno != EINTR)
			die("KVM_RUN");
		if (s->run->exit_reason == KVM_EXIT_HLT)
			break;
		if (s->run->exit_reason != KVM_EXIT_INTR) {
			fprintf(stderr, "difftest: soft exit %u\n", s->run->exit_reason);
			return;
		}
	}
	struct kvm_regs r;
	if (s->hv->ioctl(s->cpu, KVM_GET_REGS, &r) < 0)
		die("KVM_GET_REGS");
	int v = (int)((r.rip - 1 - G_STUBS) / 16);
	uint64_t frame = r.rsp + (vector_has_error(v) ? 8 : 0);
	uint64_t fault_rip;
	memcpy(&fault_rip, s->mem + frame, 8);
	res->vector = (v == 13 && fault_rip == CODE_ADDR + end) ? -1 : v;
	take_block(res, b);
	memcpy(res->scratch, s->mem + SCRATCH_ADDR, SCRATCH_SIZE);
}

/* ---- comparison ------------------------------------------------------------ */

static void print_case(FILE *f, const struct kase *k)
{
	fprintf(f, "  instructions:");
	for (int i = 0; i < k->seq.n; i++)
		fprintf(f, " %s;", k->seq.names[i]);
	if (k->seq.loop)
		fprintf(f, " (in a loop)");
	fprintf(f, "\n  bytes:");
	for (int i = 0; i < k->seq.len; i++)
		fprintf(f, " %02x", k->seq.bytes[i]);
	fprintf(f, "\n  initial rflags %llx, mxcsr %x\n", (unsigned long long)k->flags, k->mxcsr);
	for (int g = 0; g < 16; g++)
		fprintf(f, "  in  r%-2d %016llx\n", g, (unsigned long long)k->regs[g]);
	for (int x = 0; x < 16; x++) {
		uint64_t q[2];
		memcpy(q, k->xmm[x], 16);
		fprintf(f, "  in  xmm%-2d %016llx %016llx\n", x, (unsigned long long)q[1], (unsigned long long)q[0]);
	}
}

static int compare(const struct kase *k, const struct result *hw, const struct result *sw)
{
	static const char *const rn[16] = { "rax", "rcx", "rdx", "rbx", "rsp", "rbp", "rsi", "rdi",
					    "r8", "r9", "r10", "r11", "r12", "r13", "r14", "r15" };
	int bad = 0;
	if (hw->vector != sw->vector) {
		fprintf(stderr, "  exception: host %d, soft %d (-1: none)\n", hw->vector, sw->vector);
		return 1;
	}
	if (hw->vector >= 0)
		return 0;               /* the epilogue did not run: nothing else to compare */
	for (int g = 0; g < 16; g++)
		if (g != 4 && hw->regs[g] != sw->regs[g]) {
			fprintf(stderr, "  %s: host %016llx soft %016llx\n", rn[g],
				(unsigned long long)hw->regs[g], (unsigned long long)sw->regs[g]);
			bad = 1;
		}
	uint64_t mask = (ARITH_FLAGS & ~k->seq.undef_flags) | DF_FLAG;
	if ((hw->flags ^ sw->flags) & mask) {
		fprintf(stderr, "  rflags: host %llx soft %llx (compared bits %llx)\n",
			(unsigned long long)hw->flags, (unsigned long long)sw->flags,
			(unsigned long long)mask);
		bad = 1;
	}
	for (int x = 0; x < 16; x++)
		if (memcmp(hw->xmm[x], sw->xmm[x], 16)) {
			uint64_t h[2], s[2];
			memcpy(h, hw->xmm[x], 16);
			memcpy(s, sw->xmm[x], 16);
			fprintf(stderr, "  xmm%d: host %016llx %016llx soft %016llx %016llx\n", x,
				(unsigned long long)h[1], (unsigned long long)h[0],
				(unsigned long long)s[1], (unsigned long long)s[0]);
			bad = 1;
		}
	if (hw->mxcsr != sw->mxcsr) {
		fprintf(stderr, "  mxcsr: host %x soft %x\n", hw->mxcsr, sw->mxcsr);
		bad = 1;
	}
	for (int i = 0; i < SCRATCH_SIZE; i++)
		if (hw->scratch[i] != sw->scratch[i]) {
			fprintf(stderr, "  scratch[%d]: host %02x soft %02x\n", i, hw->scratch[i], sw->scratch[i]);
			bad = 1;
			break;
		}
	return bad;
}

static void make_case(struct rng *r, struct kase *k, int max_insns)
{
	gen_sequence(r, &k->seq, max_insns);
	for (int g = 0; g < 16; g++)
		k->regs[g] = gen_value(r);
	/* Divisions mostly should not trap: keep RDX small half of the time. */
	if (rng_next(r) & 1)
		k->regs[2] = 0;
	k->flags = 0x202 | (rng_next(r) & ARITH_FLAGS);
	for (int x = 0; x < 16; x++)
		gen_xmm(r, k->xmm[x]);
	k->mxcsr = gen_mxcsr(r);
	for (int i = 0; i < SCRATCH_SIZE; i += 16)
		gen_xmm(r, k->scratch + i);
}

#define BATCH 2000

int main(int argc, char **argv)
{
	uint64_t seed = 1;
	double seconds = 3;
	long max_cases = -1;
	int max_insns = 4;
	int corrupt = 0;
	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--list")) {
			gen_list(stdout);
			return 0;
		} else if (!strcmp(argv[i], "--corrupt")) {
			corrupt = 1;
		} else if (i + 1 < argc && !strcmp(argv[i], "--seed")) {
			seed = strtoull(argv[++i], NULL, 0);
		} else if (i + 1 < argc && !strcmp(argv[i], "--seconds")) {
			seconds = atof(argv[++i]);
		} else if (i + 1 < argc && !strcmp(argv[i], "--cases")) {
			max_cases = atol(argv[++i]);
		} else if (i + 1 < argc && !strcmp(argv[i], "--max-insns")) {
			max_insns = atoi(argv[++i]);
		} else if (i + 1 < argc && !strcmp(argv[i], "--jit")) {
			cpu_jit_min_run = atoi(argv[++i]);
		} else {
			fprintf(stderr, "usage: difftest [--seed N] [--seconds S] [--cases N] [--max-insns N] [--jit N] [--corrupt] [--list]\n");
			return 2;
		}
	}
	if (max_insns < 1 || max_insns > 8)
		max_insns = 4;

	struct kase *ks = calloc(BATCH, sizeof(*ks));
	struct result *hw = mmap(NULL, BATCH * sizeof(*hw), PROT_READ | PROT_WRITE,
				 MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	struct result sw;
	struct soft s;
	if (!ks || hw == MAP_FAILED)
		die("memory");
	soft_open(&s);

	struct rng r = { seed };
	struct timespec t0, t;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	long done = 0, failures = 0;
	for (;;) {
		for (int i = 0; i < BATCH; i++)
			make_case(&r, &ks[i], max_insns);
		pid_t pid = fork();
		if (pid == 0) {
			native_run(ks, BATCH, hw);
			_exit(0);
		}
		int st;
		if (pid < 0 || waitpid(pid, &st, 0) < 0 || !WIFEXITED(st) || WEXITSTATUS(st)) {
			fprintf(stderr, "difftest: the native run failed\n");
			return 2;
		}
		for (int i = 0; i < BATCH && (max_cases < 0 || done < max_cases); i++, done++) {
			soft_run(&s, &ks[i], &sw);
			if (corrupt)
				sw.regs[0] ^= 1ULL << (done % 64);
			if (compare(&ks[i], &hw[i], &sw)) {
				fprintf(stderr, "difftest: case %ld (seed %llu) differs:\n", done,
					(unsigned long long)seed);
				print_case(stderr, &ks[i]);
				if (++failures >= 10)
					goto out;
			}
		}
		clock_gettime(CLOCK_MONOTONIC, &t);
		double el = (t.tv_sec - t0.tv_sec) + (t.tv_nsec - t0.tv_nsec) / 1e9;
		if ((max_cases >= 0 && done >= max_cases) || (max_cases < 0 && el >= seconds))
			break;
	}
out:
	printf("difftest: %ld cases, %ld differ (seed %llu)\n", done, failures, (unsigned long long)seed);
	return failures ? 1 : 0;
}
