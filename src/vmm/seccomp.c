/*
 * System-call allow-lists, one per kind of thread (see seccomp.h).
 *
 * The lists are tables of rules grouped by purpose; a kind's list is the
 * union of its groups. libseccomp compiles each list once, in main()
 * before any thread exists, into a BPF program kept in memory; a thread
 * confines itself with one seccomp(2) call, so nothing allocates or locks
 * on the way in, and no thread can load another thread's filter for it.
 *
 * Default action: SECCOMP_RET_TRAP. The kernel does not run the call and
 * sends SIGSYS, whose handler writes which thread made which call (name
 * from a table resolved in advance: the handler may only use
 * async-signal-safe calls), restores the terminal and ends the process.
 * KILL_PROCESS would end it too but silently, with the terminal left raw.
 * A trapped call never runs, so a thread that somehow survived its SIGSYS
 * would still have done nothing forbidden.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/kvm.h>
#include <linux/seccomp.h>
#include <sched.h>
#include <seccomp.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <ucontext.h>
#include <unistd.h>

#include "../dev/terminal.h"
#include "seccomp.h"

/* How a rule looks at one argument of the call. */
enum arg_test {
	ARG_ANY,                /* any arguments */
	ARG_EQ,                 /* args[arg] == v */
	ARG_CLEAR,              /* (args[arg] & v) == 0 */
	ARG_SET,                /* (args[arg] & v) == v */
	ARG_OWN_PID,            /* args[arg] is this process's pid */
};

struct rule {
	int nr;
	uint8_t test;           /* enum arg_test */
	uint8_t arg;
	uint64_t v;
	int err;                /* not 0: fail the call with this errno instead */
};

#define ALLOW(name)                     { SCMP_SYS(name), ARG_ANY, 0, 0, 0 }
#define ALLOW_EQ(name, a, val)          { SCMP_SYS(name), ARG_EQ, a, val, 0 }
#define ALLOW_CLEAR(name, a, mask)      { SCMP_SYS(name), ARG_CLEAR, a, mask, 0 }
#define ALLOW_SET(name, a, mask)        { SCMP_SYS(name), ARG_SET, a, mask, 0 }
#define ALLOW_OWN_PID(name, a)          { SCMP_SYS(name), ARG_OWN_PID, a, 0, 0 }
#define ALLOW_IOCTL(req)                ALLOW_EQ(ioctl, 1, req)
#define REFUSE(name, e)                 { SCMP_SYS(name), ARG_ANY, 0, 0, e }

struct group {
	const char *purpose;
	const struct rule *rules;
	size_t n;
};
#define GROUP(purpose, table) { purpose, table, sizeof(table) / sizeof(table[0]) }

/* ---- the rules, by purpose ---------------------------------------------- */

/*
 * Every thread: logging, locks, clocks, leaving, and the fatal-signal
 * path (terminal.c puts the terminal back, then re-raises the signal).
 */
static const struct rule every_thread[] = {
	ALLOW(write),
	ALLOW(futex),
	ALLOW(clock_gettime),           /* the vDSO's fallback */
	ALLOW(exit),
	ALLOW(exit_group),
	ALLOW(rt_sigreturn),
	ALLOW(rt_sigprocmask),
	ALLOW(madvise),                 /* a thread's stack is given back on exit */
	ALLOW_IOCTL(TCGETS),
	ALLOW_IOCTL(TCSETS),            /* terminal_restore() */
	ALLOW(rt_sigaction),
	ALLOW(getpid),
	ALLOW(gettid),
	ALLOW_OWN_PID(tgkill, 0),       /* raise(): only this process */
};

/* Heap growth (malloc arenas, the soft CPU's caches); never executable memory. */
static const struct rule heap[] = {
	ALLOW(brk),
	ALLOW_CLEAR(mmap, 2, PROT_EXEC),
	ALLOW_CLEAR(mprotect, 2, PROT_EXEC),
	ALLOW(munmap),
	ALLOW(mremap),
};

/* A vCPU: running it, the register dump of a failed exit, interrupt lines of devices. */
static const struct rule vcpu_kvm[] = {
	ALLOW_IOCTL(KVM_RUN),
	ALLOW_IOCTL(KVM_GET_REGS),
	ALLOW_IOCTL(KVM_GET_SREGS),
	ALLOW_IOCTL(KVM_IRQ_LINE),
};

/*
 * Device threads: waiting for input and kicks, raising interrupts, and the
 * virtio back ends' I/O on descriptors opened at start-up (disk images,
 * TAP devices, console files and sockets, host entropy).
 */
static const struct rule device_io[] = {
	ALLOW(read),
	ALLOW(poll),
	ALLOW_IOCTL(KVM_IRQ_LINE),
	ALLOW_IOCTL(KVM_IOEVENTFD),     /* re-bound after each reboot */
	ALLOW(readv),
	ALLOW(writev),
	ALLOW(preadv),
	ALLOW(pwritev2),
	ALLOW(pwrite64),
	ALLOW(fdatasync),
	ALLOW(fallocate),
	ALLOW(getrandom),
	ALLOW(sendmsg),
	ALLOW(accept4),                 /* a new client of a console socket */
	ALLOW(close),                   /* ... and one that went away */
	ALLOW(unlink),                  /* its socket's path, when the console thread ends */
};

/*
 * The main thread after start-up: a guest reboot rebuilds the VM (the
 * hypervisor's VM, vCPUs and their threads, the soft hypervisor's handles)
 * and reloads the kernel files, read-only.
 */
static const struct rule main_rebuild[] = {
	ALLOW_CLEAR(openat, 2, O_WRONLY | O_RDWR | O_CREAT | O_TRUNC),
	ALLOW(read),
	ALLOW(close),
	ALLOW(newfstatat),
	ALLOW(fstat),
	ALLOW(lseek),
	ALLOW(eventfd2),
	ALLOW_IOCTL(KVM_CREATE_VM),
	ALLOW_IOCTL(KVM_CHECK_EXTENSION),
	ALLOW_IOCTL(KVM_SET_USER_MEMORY_REGION),
	ALLOW_IOCTL(KVM_SET_TSS_ADDR),
	ALLOW_IOCTL(KVM_SET_IDENTITY_MAP_ADDR),
	ALLOW_IOCTL(KVM_CREATE_IRQCHIP),
	ALLOW_IOCTL(KVM_CREATE_PIT2),
	ALLOW_IOCTL(KVM_CREATE_VCPU),
	ALLOW_IOCTL(KVM_GET_VCPU_MMAP_SIZE),
	ALLOW_IOCTL(KVM_SET_CPUID2),
	ALLOW_IOCTL(KVM_GET_REGS),
	ALLOW_IOCTL(KVM_SET_REGS),
	ALLOW_IOCTL(KVM_GET_SREGS),
	ALLOW_IOCTL(KVM_SET_SREGS),
	ALLOW_IOCTL(KVM_IRQ_LINE),
};

/*
 * Starting and stopping threads: threads only, never processes (clone3
 * hides its flags from filters, so it answers ENOSYS and the C library
 * falls back to clone, whose flags are checked); each new thread loads
 * its own filter.
 */
static const struct rule threads[] = {
	ALLOW_SET(clone, 0, CLONE_THREAD),
	REFUSE(clone3, ENOSYS),
	ALLOW(set_robust_list),
	ALLOW(rseq),
	ALLOW_EQ(seccomp, 0, SECCOMP_SET_MODE_FILTER),
	ALLOW_EQ(prctl, 0, PR_SET_NAME),
	ALLOW_EQ(prctl, 0, PR_GET_NAME),
};

/*
 * Sanitizer builds only: the runtime's own calls (alternate signal stacks
 * per thread, reading /proc/self for reports and symbols, and the leak
 * checker at exit, which stops the other threads from a helper task under
 * ptrace). The suite runs runvm-san with seccomp on, so these are allowed
 * there; the release build never has them.
 */
static const struct rule sanitizer_runtime[] = {
	ALLOW(sigaltstack),
	ALLOW(open),
	ALLOW(openat),
	ALLOW(close),
	ALLOW(read),
	ALLOW(pread64),
	ALLOW(readlink),
	ALLOW(readlinkat),
	ALLOW(getdents),
	ALLOW(getdents64),
	ALLOW(newfstatat),
	ALLOW(fstat),
	ALLOW(prctl),
	ALLOW(sched_yield),
	ALLOW(sched_getaffinity),
	ALLOW(clone),
	ALLOW(ptrace),
	ALLOW(wait4),
	ALLOW(getppid),
	ALLOW(prlimit64),
	ALLOW(getrlimit),
	ALLOW(nanosleep),
	ALLOW(clock_nanosleep),
	ALLOW(mmap),
	ALLOW(mprotect),
	ALLOW(munmap),
	ALLOW(uname),
};

#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
#define SANITIZER_BUILD 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(undefined_behavior_sanitizer)
#define SANITIZER_BUILD 1
#endif
#endif
#ifndef SANITIZER_BUILD
#define SANITIZER_BUILD 0
#endif

/*
 * Filters stack: a thread that the confined main thread starts (the vCPUs
 * of every boot after the first, the soft hypervisor's irqchip timer) runs
 * under main's filter as well as its own, so main's list must hold what
 * those threads do. Device threads with I/O of their own (serial input,
 * virtio) all start before main confines itself; the timer thread needs
 * only what every thread has.
 */
static const struct group main_list[] = {
	GROUP("every thread", every_thread),
	GROUP("heap", heap),
	GROUP("rebuild", main_rebuild),
	GROUP("threads", threads),
	GROUP("vcpu", vcpu_kvm),
};
static const struct group vcpu_list[] = {
	GROUP("every thread", every_thread),
	GROUP("heap", heap),
	GROUP("vcpu", vcpu_kvm),
};
static const struct group device_list[] = {
	GROUP("every thread", every_thread),
	GROUP("device", device_io),
};

static const struct thread_kind {
	const char *name;
	const struct group *groups;
	size_t n;
} kinds[SECCOMP_N_THREADS] = {
	[SECCOMP_MAIN] = { "main", main_list, sizeof(main_list) / sizeof(main_list[0]) },
	[SECCOMP_VCPU] = { "vcpu", vcpu_list, sizeof(vcpu_list) / sizeof(vcpu_list[0]) },
	[SECCOMP_DEVICE] = { "device", device_list, sizeof(device_list) / sizeof(device_list[0]) },
};
static const struct group sanitizer_group = GROUP("sanitizer runtime", sanitizer_runtime);

/* ---- compiled filters and the report of a forbidden call ------------------ */

static struct sock_fprog programs[SECCOMP_N_THREADS];
static int enabled;

/* Names by number, resolved before any thread runs: the SIGSYS handler cannot allocate. */
#define N_NAMES 512
static const char *syscall_names[N_NAMES];

/* The kind the calling thread is confined to, or -1. */
static __thread int confined_as = -1;

const char *seccomp_thread_name(enum seccomp_thread kind)
{
	return (unsigned)kind < SECCOMP_N_THREADS ? kinds[kind].name : "?";
}

int seccomp_enabled(void)
{
	return enabled;
}

/* Appends s to buf (size cap); async-signal-safe. */
static size_t put_str(char *buf, size_t n, size_t cap, const char *s)
{
	while (*s && n + 1 < cap)
		buf[n++] = *s++;
	return n;
}

static size_t put_num(char *buf, size_t n, size_t cap, unsigned long long v, unsigned base)
{
	char digits[24];
	int i = 0;
	do {
		digits[i++] = "0123456789abcdef"[v % base];
		v /= base;
	} while (v && i < (int)sizeof(digits));
	while (i > 0 && n + 1 < cap)
		buf[n++] = digits[--i];
	return n;
}

static void on_forbidden_call(int sig, siginfo_t *si, void *ucv)
{
	(void)sig;
	char line[256];
	size_t n = 0, cap = sizeof(line);
	int nr = si->si_syscall;
	const char *name = si->si_arch == AUDIT_ARCH_X86_64 && nr >= 0 && nr < N_NAMES &&
			   syscall_names[nr] ? syscall_names[nr] : "unknown";
	n = put_str(line, n, cap, "runvm: seccomp: thread ");
	n = put_str(line, n, cap, confined_as >= 0 ? kinds[confined_as].name : "unconfined");
	n = put_str(line, n, cap, " made forbidden system call ");
	n = put_str(line, n, cap, name);
	n = put_str(line, n, cap, " (");
	n = put_num(line, n, cap, (unsigned)nr, 10);
	n = put_str(line, n, cap, ")");
	if (nr == SYS_ioctl && ucv) {
		/* Which ioctl is what one needs to know to fix a list. */
		const ucontext_t *uc = ucv;
		n = put_str(line, n, cap, " request 0x");
		n = put_num(line, n, cap, (unsigned long long)uc->uc_mcontext.gregs[REG_RSI], 16);
	}
	n = put_str(line, n, cap, "\n");
	if (write(STDERR_FILENO, line, n) < 0) {
		/* Nothing else to tell anybody. */
	}
	terminal_restore();
	_exit(RUNVM_EXIT_SECCOMP);
}

static int add_rule(scmp_filter_ctx ctx, const struct rule *r)
{
	uint32_t action = r->err ? SCMP_ACT_ERRNO((uint32_t)r->err) : SCMP_ACT_ALLOW;
	struct scmp_arg_cmp cmp;
	switch (r->test) {
	case ARG_ANY:
		return seccomp_rule_add(ctx, action, r->nr, 0);
	case ARG_EQ:
		cmp = (struct scmp_arg_cmp){ r->arg, SCMP_CMP_EQ, r->v, 0 };
		break;
	case ARG_CLEAR:
		cmp = (struct scmp_arg_cmp){ r->arg, SCMP_CMP_MASKED_EQ, r->v, 0 };
		break;
	case ARG_SET:
		cmp = (struct scmp_arg_cmp){ r->arg, SCMP_CMP_MASKED_EQ, r->v, r->v };
		break;
	case ARG_OWN_PID:
		cmp = (struct scmp_arg_cmp){ r->arg, SCMP_CMP_EQ, (uint64_t)getpid(), 0 };
		break;
	default:
		return -EINVAL;
	}
	return seccomp_rule_add_array(ctx, action, r->nr, 1, &cmp);
}

static int add_group(scmp_filter_ctx ctx, const struct group *g)
{
	for (size_t i = 0; i < g->n; i++) {
		int e = add_rule(ctx, &g->rules[i]);
		if (e < 0) {
			char *name = seccomp_syscall_resolve_num_arch(SCMP_ARCH_X86_64, g->rules[i].nr);
			fprintf(stderr, "runvm: seccomp: cannot add %s (%s rules): %s\n",
				name ? name : "?", g->purpose, strerror(-e));
			free(name);
			return -1;
		}
	}
	return 0;
}

/* The BPF program libseccomp generates for ctx, copied into memory. */
static int export_program(scmp_filter_ctx ctx, struct sock_fprog *prog)
{
	int fd = memfd_create("runvm-seccomp", MFD_CLOEXEC);
	struct stat st;
	if (fd < 0)
		return -errno;
	int e = seccomp_export_bpf(ctx, fd);
	if (e == 0 && fstat(fd, &st) < 0)
		e = -errno;
	struct sock_filter *f = NULL;
	if (e == 0) {
		f = malloc(st.st_size ? (size_t)st.st_size : 1);
		if (!f || pread(fd, f, (size_t)st.st_size, 0) != st.st_size)
			e = -EIO;
	}
	close(fd);
	if (e < 0) {
		free(f);
		return e;
	}
	prog->filter = f;
	prog->len = (unsigned short)(st.st_size / sizeof(*f));
	return 0;
}

static int build_program(enum seccomp_thread kind)
{
	const struct thread_kind *k = &kinds[kind];
	scmp_filter_ctx ctx = seccomp_init(SCMP_ACT_TRAP);
	if (!ctx) {
		fprintf(stderr, "runvm: seccomp: out of memory\n");
		return -1;
	}
	/* Another ABI's calls (int 0x80, x32) have no business here at all. */
	seccomp_attr_set(ctx, SCMP_FLTATR_ACT_BADARCH, SCMP_ACT_KILL_PROCESS);
	/* A binary tree instead of a linear scan: every system call pays for the filter. */
	seccomp_attr_set(ctx, SCMP_FLTATR_CTL_OPTIMIZE, 2);
	int r = 0;
	for (size_t i = 0; i < k->n && r == 0; i++)
		r = add_group(ctx, &k->groups[i]);
	if (r == 0 && SANITIZER_BUILD)
		r = add_group(ctx, &sanitizer_group);
	if (r == 0) {
		int e = export_program(ctx, &programs[kind]);
		if (e < 0) {
			fprintf(stderr, "runvm: seccomp: cannot build the %s list: %s\n",
				k->name, strerror(-e));
			r = -1;
		}
	}
	seccomp_release(ctx);
	return r;
}

static void resolve_names(void)
{
	for (int i = 0; i < N_NAMES; i++)
		if (!syscall_names[i])
			syscall_names[i] = seccomp_syscall_resolve_num_arch(SCMP_ARCH_X86_64, i);
}

int seccomp_prepare(const struct config *cfg)
{
	if (cfg->no_seccomp || enabled)
		return 0;
	for (int k = 0; k < SECCOMP_N_THREADS; k++)
		if (build_program(k) < 0)
			return -1;
	resolve_names();
	struct sigaction sa = { .sa_sigaction = on_forbidden_call, .sa_flags = SA_SIGINFO };
	sigemptyset(&sa.sa_mask);
	if (sigaction(SIGSYS, &sa, NULL) < 0) {
		fprintf(stderr, "runvm: seccomp: cannot handle SIGSYS: %m\n");
		return -1;
	}
	/* Inherited by every thread started from now on; needed without CAP_SYS_ADMIN. */
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0) {
		fprintf(stderr, "runvm: seccomp: cannot set no_new_privs: %m\n");
		return -1;
	}
	enabled = 1;
	return 0;
}

int seccomp_enter(enum seccomp_thread kind)
{
	/*
	 * Named by kind, so that ps -T and /proc show which thread is which,
	 * unless its creator already gave it a better name.
	 */
	char name[16] = "";
	if (kind != SECCOMP_MAIN && (unsigned)kind < SECCOMP_N_THREADS && confined_as < 0 &&
	    prctl(PR_GET_NAME, name, 0, 0, 0) == 0 && !strncmp(name, program_invocation_short_name, sizeof(name) - 1)) {
		snprintf(name, sizeof(name), "runvm-%s", kinds[kind].name);
		prctl(PR_SET_NAME, name, 0, 0, 0);
	}
	if (!enabled || confined_as == (int)kind)
		return 0;
	if ((unsigned)kind >= SECCOMP_N_THREADS || confined_as >= 0) {
		fprintf(stderr, "runvm: seccomp: a %s thread cannot become a %s thread\n",
			confined_as >= 0 ? kinds[confined_as].name : "new", seccomp_thread_name(kind));
		return -1;
	}
	if (syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, 0, &programs[kind]) != 0) {
		fprintf(stderr, "runvm: seccomp: cannot confine the %s thread: %m "
			"(a kernel without seccomp filters needs --no-seccomp)\n", kinds[kind].name);
		return -1;
	}
	confined_as = (int)kind;
	return 0;
}

void seccomp_enter_or_exit(enum seccomp_thread kind)
{
	if (seccomp_enter(kind) == 0)
		return;
	terminal_restore();
	_exit(RUNVM_EXIT_SECCOMP);
}

void vmm_thread_started(void)
{
	seccomp_enter_or_exit(SECCOMP_DEVICE);
}

/* Whether rule r of group g is the first rule of kind k's list that allows its call. */
static int first_allow(const struct thread_kind *k, size_t g, size_t r)
{
	const struct rule *x = &k->groups[g].rules[r];
	if (x->err)
		return 0;
	for (size_t gj = 0; gj <= g; gj++) {
		const struct group *h = &k->groups[gj];
		size_t end = gj == g ? r : h->n;
		for (size_t j = 0; j < end; j++)
			if (h->rules[j].nr == x->nr && !h->rules[j].err)
				return 0;
	}
	return 1;
}

int seccomp_allowed_count(enum seccomp_thread kind)
{
	if ((unsigned)kind >= SECCOMP_N_THREADS)
		return 0;
	const struct thread_kind *k = &kinds[kind];
	int count = 0;
	/* Distinct numbers: a call allowed by two groups counts once. */
	for (size_t g = 0; g < k->n; g++)
		for (size_t i = 0; i < k->groups[g].n; i++)
			count += first_allow(k, g, i);
	return count;
}

/* Whether rule r of group g is the first of kind k's list to allow its ioctl request. */
static int first_request(const struct thread_kind *k, size_t g, size_t r)
{
	const struct rule *x = &k->groups[g].rules[r];
	if (x->nr != SCMP_SYS(ioctl) || x->test != ARG_EQ || x->arg != 1 || x->err)
		return 0;
	for (size_t gj = 0; gj <= g; gj++) {
		const struct group *h = &k->groups[gj];
		size_t end = gj == g ? r : h->n;
		for (size_t j = 0; j < end; j++)
			if (h->rules[j].nr == x->nr && h->rules[j].test == ARG_EQ &&
			    h->rules[j].arg == 1 && h->rules[j].v == x->v && !h->rules[j].err)
				return 0;
	}
	return 1;
}

void seccomp_print_lists(FILE *out)
{
	for (int kind = 0; kind < SECCOMP_N_THREADS; kind++) {
		const struct thread_kind *k = &kinds[kind];
		int ioctls = 0;
		for (size_t g = 0; g < k->n; g++)
			for (size_t i = 0; i < k->groups[g].n; i++)
				ioctls += first_request(k, g, i);
		fprintf(out, "%-6s %2d system calls:", k->name, seccomp_allowed_count(kind));
		for (size_t g = 0; g < k->n; g++)
			for (size_t i = 0; i < k->groups[g].n; i++) {
				const struct rule *r = &k->groups[g].rules[i];
				if (!first_allow(k, g, i))
					continue;
				char *name = seccomp_syscall_resolve_num_arch(SCMP_ARCH_X86_64, r->nr);
				fprintf(out, " %s", name ? name : "?");
				if (r->nr == SCMP_SYS(ioctl))
					fprintf(out, "(%d requests)", ioctls);
				free(name);
			}
		fputc('\n', out);
	}
	if (SANITIZER_BUILD)
		fprintf(out, "(this sanitizer build adds the sanitizer runtime's calls to each list)\n");
}
