/*
 * lockstep: single-steps one guest on two hypervisors (by default the
 * host's /dev/kvm and runvm's software hypervisor) and reports the first
 * instruction after which their states differ.
 *
 * The guest options are runvm's own (config_parse); this file takes out
 * the few of its own first.
 */
#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "lockstep.h"

static void usage(FILE *out)
{
	fputs(
"usage: lockstep [options] --raw IMAGE [--raw-mode real|protected|long] [--raw-addr ADDR]\n"
"       lockstep [options] --kernel FILE [--initrd FILE]... [--append CMDLINE]\n"
"\n"
"Runs one guest on two hypervisors at once, one instruction at a time\n"
"(KVM_SET_GUEST_DEBUG single-stepping), and reports the first instruction\n"
"after which the two disagree, with both register states side by side.\n"
"\n"
"  --a HV                  side A, the reference: kvm or soft (default kvm)\n"
"  --b HV                  side B, the one checked: kvm or soft (default soft)\n"
"  --steps N               stop after N instructions (default: no limit)\n"
"  --inject-divergence N   corrupt side B's RBX after instruction N (a self-test)\n"
"  --trace                 print each instruction's address and bytes on stderr\n"
"  --testdev, --mem SIZE   as for runvm; --cpus must be 1\n"
"  --help\n"
"\n"
"There is no interrupt controller and no timer (their interrupts would land\n"
"on different instructions on the two sides), so the guest must not rely on\n"
"interrupts; nor may it single-step itself (TF) or use debug registers.\n"
"Side A's port and MMIO accesses go to runvm's devices: serial output on\n"
"stdout, the debug-exit port (0xf4) ends the run, --testdev's port and MMIO\n"
"window, the POST port, fw_cfg, RTC and ACPI ports; any other port or MMIO\n"
"address reads as all ones. Side B must make the same accesses and is handed\n"
"side A's results.\n"
"\n"
"Compared after every instruction: general registers, RIP, RFLAGS, segment\n"
"registers, GDTR, IDTR, CR0, CR2, CR3, CR4, EFER and the APIC base. Not\n"
"compared: RFLAGS.TF and RF (single-stepping owns them), and the flags the\n"
"Intel SDM leaves undefined after the instruction; those, and the results of\n"
"RDTSC, RDTSCP, RDPMC, RDRAND, RDSEED, CPUID and RDMSR of the TSC, MPERF and\n"
"APERF, are copied from side A to side B. Both sides get side A's CPUID table.\n"
"Guest RAM is compared at the end and on a divergence.\n"
"\n"
"The run ends at a write to the debug-exit port, at HLT, at a triple fault,\n"
"or after --steps instructions.\n"
"Exit status: 0 no divergence, 1 divergence, 2 bad option or file,\n"
"3 hypervisor error, 4 a hypervisor is not available.\n", out);
}

static int bad(const char *opt, const char *what, const char *arg)
{
	fprintf(stderr, "lockstep: %s %s, not '%s' (see lockstep --help)\n", opt, what, arg);
	return -1;
}

static int parse_count(const char *s, uint64_t *out)
{
	char *end;
	errno = 0;
	unsigned long long v = strtoull(s, &end, 0);
	if (errno || end == s || *end || *s == '-')
		return -1;
	*out = v;
	return 0;
}

static int parse_hv(const char *opt, const char *v, const char **out)
{
	if (strcmp(v, "kvm") && strcmp(v, "soft"))
		return bad(opt, "must be kvm or soft", v);
	*out = v;
	return 0;
}

/* lockstep's own options: each returns 0, or -1 after a message. */
static int opt_a(struct lockstep_opts *o, const char *opt, const char *v)
{
	return parse_hv(opt, v, &o->hv_name[0]);
}

static int opt_b(struct lockstep_opts *o, const char *opt, const char *v)
{
	return parse_hv(opt, v, &o->hv_name[1]);
}

static int opt_steps(struct lockstep_opts *o, const char *opt, const char *v)
{
	return parse_count(v, &o->max_steps) < 0 ? bad(opt, "must be a number of instructions", v) : 0;
}

static int opt_inject(struct lockstep_opts *o, const char *opt, const char *v)
{
	if (parse_count(v, &o->inject_step) < 0 || o->inject_step == 0)
		return bad(opt, "must be a step number from 1 up", v);
	return 0;
}

static int opt_trace(struct lockstep_opts *o, const char *opt, const char *v)
{
	(void)opt, (void)v;
	o->trace = 1;
	return 0;
}

static int opt_accel(struct lockstep_opts *o, const char *opt, const char *v)
{
	(void)o, (void)opt, (void)v;
	fprintf(stderr, "lockstep: choose the two hypervisors with --a and --b, not --accel\n");
	return -1;
}

static const struct own_option {
	const char *name;
	int takes_value;
	int (*apply)(struct lockstep_opts *o, const char *opt, const char *value);
} own_options[] = {
	{ "--a", 1, opt_a },
	{ "--b", 1, opt_b },
	{ "--steps", 1, opt_steps },
	{ "--inject-divergence", 1, opt_inject },
	{ "--trace", 0, opt_trace },
	{ "--accel", 1, opt_accel },
};

/* One of lockstep's own options at argv[i]: how many arguments it used, 0 if not ours, -1 on error. */
static int own_option(struct lockstep_opts *o, int argc, char **argv, int i)
{
	for (size_t k = 0; k < sizeof(own_options) / sizeof(own_options[0]); k++) {
		const struct own_option *p = &own_options[k];
		if (strcmp(argv[i], p->name))
			continue;
		if (p->takes_value && i + 1 >= argc) {
			fprintf(stderr, "lockstep: %s needs a value (see lockstep --help)\n", p->name);
			return -1;
		}
		if (p->apply(o, p->name, p->takes_value ? argv[i + 1] : NULL) < 0)
			return -1;
		return 1 + p->takes_value;
	}
	return 0;
}

/* Returns 0 to run, 1 to exit successfully (--help), -1 on a bad option. */
static int parse_options(struct lockstep_opts *o, int argc, char **argv)
{
	o->hv_name[0] = "kvm";
	o->hv_name[1] = "soft";
	char **rest = calloc((size_t)argc + 1, sizeof(*rest));
	if (!rest)
		return -1;
	int n = 0;
	rest[n++] = argv[0];
	for (int i = 1; i < argc;) {
		if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
			usage(stdout);
			free(rest);
			return 1;
		}
		int used = own_option(o, argc, argv, i);
		if (used < 0) {
			free(rest);
			return -1;
		}
		if (used == 0)
			rest[n++] = argv[i++];
		i += used;
	}
	int r = config_parse(&o->cfg, n, rest);
	free(rest);
	if (r != 0)
		return r > 0 ? 1 : -1;
	if (o->cfg.cpus != 1) {
		fprintf(stderr, "lockstep: only one vCPU can be stepped (--cpus 1)\n");
		return -1;
	}
	return 0;
}

/* 0 when the hypervisor can be opened; otherwise says why. */
static int probe_hv(const struct hv_ops *hv)
{
	int fd = hv->open_system();
	if (fd < 0) {
		fprintf(stderr, "lockstep: cannot open the %s hypervisor: %s\n", hv->name, strerror(errno));
		return -1;
	}
	hv->close(fd);
	return 0;
}

static int run(const struct lockstep_opts *o, struct side *a, struct side *b)
{
	const struct hv_ops *hv_a = hv_select(o->hv_name[0]);
	const struct hv_ops *hv_b = hv_select(o->hv_name[1]);
	if (!hv_a || !hv_b || probe_hv(hv_a) < 0 || probe_hv(hv_b) < 0)
		return LOCKSTEP_UNAVAILABLE;
	if (side_open(a, hv_a, &o->cfg, NULL) < 0 || side_open(b, hv_b, &o->cfg, a->vm.cpuid) < 0 ||
	    lockstep_devices_init(&a->vm) < 0)
		return LOCKSTEP_ERROR;
	if (side_load_image(a) < 0 || side_load_image(b) < 0)
		return LOCKSTEP_USAGE;
	if (side_arm(a) < 0 || side_arm(b) < 0)
		return LOCKSTEP_ERROR;
	return lockstep_run(a, b, o);
}

int main(int argc, char **argv)
{
	static struct lockstep_opts o;
	static struct side a = { .label = 'A' }, b = { .label = 'B' };
	int r = parse_options(&o, argc, argv);
	if (r != 0)
		return r > 0 ? 0 : LOCKSTEP_USAGE;
	signal(SIGPIPE, SIG_IGN);
	int status = run(&o, &a, &b);
	fflush(stdout);
	lockstep_devices_destroy();
	side_close(&b);
	side_close(&a);
	return status;
}
