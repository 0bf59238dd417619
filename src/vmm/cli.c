/* The command line. */
#include <ctype.h>
#include <errno.h>
#include <getopt.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "seccomp.h"

#define RUNVM_VERSION "0.1"

void config_usage(FILE *out)
{
	fputs(
"usage: runvm [options] --kernel FILE [--initrd FILE]... [--append CMDLINE]\n"
"       runvm [options] --raw FILE [--raw-mode real|protected|long] [--raw-addr ADDR]\n"
"\n"
"  --accel kvm|soft|auto   hypervisor (default auto: kvm with VT-x/AMD-V, else soft)\n"
"  --cpus N                vCPUs (1-64, default 1)\n"
"  --mem SIZE              guest RAM, e.g. 256M or 2G (default 256M)\n"
"  --kernel FILE           Linux bzImage, PVH vmlinux or multiboot kernel\n"
"  --initrd FILE           initrd (repeatable: Linux concatenates, multiboot modules)\n"
"  --append CMDLINE        kernel command line\n"
"  --raw FILE              flat binary test guest\n"
"  --raw-mode MODE         its entry mode: real, protected or long (default long)\n"
"  --raw-addr ADDR         its load and entry address (default per mode)\n"
"  --testdev               QEMU's pc-testdev ports and MMIO window\n"
"  --disk FILE[,ro]        virtio-blk disk on a raw image (repeatable, up to 8)\n"
"  --net tap=NAME[,mac=MAC]  virtio-net card on TAP device NAME (up to 4)\n"
"  --console2 FILE|socket:PATH  second console (virtio, /dev/hvc0 in Linux): output\n"
"                          to FILE (a tty or FIFO also gives input), or a unix\n"
"                          socket that runvm listens on\n"
"  --rng, --no-rng         virtio-rng entropy from the host (default on)\n"
"  --stats                 print exit counts per reason, port and region at exit\n"
"  --no-reboot             exit instead of rebooting when the guest resets\n"
"  --quiet                 no start-up line\n"
"  --no-seccomp            no system-call filters (for debugging runvm)\n"
"  --seccomp-list          print the system calls each kind of thread may make\n"
"  --help, --version\n"
"\n"
"Serial console on the terminal; Ctrl-A x quits, Ctrl-A h for help.\n"
"Exit status: 0 guest power-off, (v<<1)|1 guest wrote v to port 0xf4,\n"
"2 bad option or file, 3 VM error, 4 triple fault with --no-reboot,\n"
"130 SIGINT/SIGTERM, 159 a forbidden system call (seccomp).\n", out);
}

/* Parses "256M", "2G", "65536K" or plain bytes. */
static int parse_size(const char *s, uint64_t *out)
{
	char *end;
	errno = 0;
	unsigned long long v = strtoull(s, &end, 0);
	if (errno || end == s || *s == '-')
		return -1;
	int shift = 0;
	switch (*end) {
	case 'k': case 'K': shift = 10; end++; break;
	case 'm': case 'M': shift = 20; end++; break;
	case 'g': case 'G': shift = 30; end++; break;
	case '\0': shift = 20; break; /* a bare number is MiB, as in QEMU */
	default: return -1;
	}
	if (*end == 'i' || *end == 'B')
		end++;
	if (*end == 'B')
		end++;
	if (*end || v > (~0ULL >> shift))
		return -1;
	*out = (uint64_t)v << shift;
	return 0;
}

static int parse_u64(const char *s, uint64_t *out)
{
	char *end;
	errno = 0;
	unsigned long long v = strtoull(s, &end, 0);
	if (errno || end == s || *end || *s == '-')
		return -1;
	*out = v;
	return 0;
}

static int parse_mode(const char *s, enum raw_mode *m)
{
	static const char *const names[] = { [RAW_REAL] = "real", [RAW_PROTECTED] = "protected",
					     [RAW_LONG] = "long" };
	for (int i = 0; i < 3; i++)
		if (!strcmp(s, names[i])) {
			*m = i;
			return 0;
		}
	return -1;
}

enum { OPT_ACCEL = 256, OPT_CPUS, OPT_MEM, OPT_KERNEL, OPT_INITRD, OPT_APPEND, OPT_RAW,
       OPT_RAW_MODE, OPT_RAW_ADDR, OPT_TESTDEV, OPT_STATS, OPT_NO_REBOOT, OPT_QUIET,
       OPT_NO_SECCOMP, OPT_HELP, OPT_VERSION, OPT_DISK, OPT_NET, OPT_RNG, OPT_NO_RNG, OPT_CONSOLE2,
       OPT_SECCOMP_LIST };

static const struct option options[] = {
	{ "accel", required_argument, NULL, OPT_ACCEL },
	{ "cpus", required_argument, NULL, OPT_CPUS },
	{ "mem", required_argument, NULL, OPT_MEM },
	{ "kernel", required_argument, NULL, OPT_KERNEL },
	{ "initrd", required_argument, NULL, OPT_INITRD },
	{ "append", required_argument, NULL, OPT_APPEND },
	{ "raw", required_argument, NULL, OPT_RAW },
	{ "raw-mode", required_argument, NULL, OPT_RAW_MODE },
	{ "raw-addr", required_argument, NULL, OPT_RAW_ADDR },
	{ "testdev", no_argument, NULL, OPT_TESTDEV },
	{ "stats", no_argument, NULL, OPT_STATS },
	{ "no-reboot", no_argument, NULL, OPT_NO_REBOOT },
	{ "quiet", no_argument, NULL, OPT_QUIET },
	{ "no-seccomp", no_argument, NULL, OPT_NO_SECCOMP },
	{ "seccomp-list", no_argument, NULL, OPT_SECCOMP_LIST },
	{ "disk", required_argument, NULL, OPT_DISK },
	{ "net", required_argument, NULL, OPT_NET },
	{ "rng", no_argument, NULL, OPT_RNG },
	{ "no-rng", no_argument, NULL, OPT_NO_RNG },
	{ "console2", required_argument, NULL, OPT_CONSOLE2 },
	{ "help", no_argument, NULL, OPT_HELP },
	{ "version", no_argument, NULL, OPT_VERSION },
	{ 0 },
};

static int bad(const char *fmt, const char *arg)
{
	fprintf(stderr, "runvm: ");
	fprintf(stderr, fmt, arg);
	fprintf(stderr, " (see runvm --help)\n");
	return -1;
}

/* --disk FILE[,ro] */
static int parse_disk(struct config *cfg, const char *arg)
{
	if (cfg->n_disks >= CONFIG_MAX_DISKS)
		return bad("too many --disk options (at most 8), at '%s'", arg);
	struct config_disk *d = &cfg->disks[cfg->n_disks];
	const char *comma = strchr(arg, ',');
	size_t len = comma ? (size_t)(comma - arg) : strlen(arg);
	if (len == 0)
		return bad("--disk '%s' names no file", arg);
	if (len >= sizeof(d->path))
		return bad("--disk: the file name is too long: '%.64s...'", arg);
	memcpy(d->path, arg, len);
	d->path[len] = '\0';
	d->readonly = 0;
	if (comma && strcmp(comma, ",ro") != 0)
		return bad("--disk '%s': the only option after the file name is ',ro'", arg);
	d->readonly = comma != NULL;
	cfg->n_disks++;
	return 0;
}

/* XX:XX:XX:XX:XX:XX, a unicast address. */
static int parse_mac(const char *s, uint8_t mac[6])
{
	if (strlen(s) != 17)
		return -1;
	for (int i = 0; i < 6; i++) {
		const char *p = s + 3 * i;
		if (!isxdigit((unsigned char)p[0]) || !isxdigit((unsigned char)p[1]) ||
		    (i < 5 && p[2] != ':'))
			return -1;
		mac[i] = (uint8_t)strtoul((char[3]){ p[0], p[1], 0 }, NULL, 16);
	}
	return (mac[0] & 1) ? -1 : 0;
}

/* --net tap=NAME[,mac=XX:XX:XX:XX:XX:XX] */
static int parse_net(struct config *cfg, const char *arg)
{
	if (cfg->n_nets >= CONFIG_MAX_NETS)
		return bad("too many --net options (at most 4), at '%s'", arg);
	struct config_net *n = &cfg->nets[cfg->n_nets];
	char buf[128];
	if (strlen(arg) >= sizeof(buf))
		return bad("--net '%.64s...' is too long", arg);
	snprintf(buf, sizeof(buf), "%s", arg);
	memset(n, 0, sizeof(*n));
	char *save = NULL;
	for (char *kv = strtok_r(buf, ",", &save); kv; kv = strtok_r(NULL, ",", &save)) {
		if (!strncmp(kv, "tap=", 4) && kv[4] && strlen(kv + 4) < sizeof(n->tap)) {
			snprintf(n->tap, sizeof(n->tap), "%s", kv + 4);
		} else if (!strncmp(kv, "mac=", 4)) {
			if (parse_mac(kv + 4, n->mac) < 0)
				return bad("--net: '%s' is not a unicast MAC address like 52:54:00:12:34:56", kv + 4);
			n->has_mac = 1;
		} else {
			return bad("--net '%s': expected tap=NAME (up to 15 characters) and optionally mac=MAC", arg);
		}
	}
	if (!n->tap[0])
		return bad("--net '%s' names no TAP device (tap=NAME)", arg);
	cfg->n_nets++;
	return 0;
}

static int apply_option(struct config *cfg, int opt, const char *arg)
{
	uint64_t v;
	switch (opt) {
	case OPT_ACCEL:
		if (strcmp(arg, "kvm") && strcmp(arg, "soft") && strcmp(arg, "auto"))
			return bad("--accel must be kvm, soft or auto, not '%s'", arg);
		cfg->accel = arg;
		break;
	case OPT_CPUS:
		if (parse_u64(arg, &v) || v < 1 || v > CONFIG_MAX_CPUS)
			return bad("--cpus must be a number from 1 to 64, not '%s'", arg);
		cfg->cpus = (int)v;
		break;
	case OPT_MEM:
		if (parse_size(arg, &v))
			return bad("--mem: '%s' is not a size like 256M or 2G", arg);
		if (v < CONFIG_MIN_MEM || v > CONFIG_MAX_MEM)
			return bad("--mem %s is out of range (2M to 64G)", arg);
		cfg->mem = v;
		break;
	case OPT_KERNEL: cfg->kernel = arg; break;
	case OPT_INITRD:
		if (cfg->n_initrd >= CONFIG_MAX_INITRD)
			return bad("too many --initrd files (at most 8), at '%s'", arg);
		cfg->initrd[cfg->n_initrd++] = arg;
		break;
	case OPT_APPEND: cfg->append = arg; break;
	case OPT_RAW: cfg->raw = arg; break;
	case OPT_RAW_MODE:
		if (parse_mode(arg, &cfg->raw_mode))
			return bad("--raw-mode must be real, protected or long, not '%s'", arg);
		break;
	case OPT_RAW_ADDR:
		if (parse_u64(arg, &v))
			return bad("--raw-addr: '%s' is not an address", arg);
		cfg->raw_addr = v;
		break;
	case OPT_TESTDEV: cfg->testdev = 1; break;
	case OPT_STATS: cfg->stats = 1; break;
	case OPT_NO_REBOOT: cfg->no_reboot = 1; break;
	case OPT_QUIET: cfg->quiet = 1; break;
	case OPT_NO_SECCOMP: cfg->no_seccomp = 1; break;
	case OPT_DISK: return parse_disk(cfg, arg);
	case OPT_NET: return parse_net(cfg, arg);
	case OPT_RNG: cfg->rng = 1; break;
	case OPT_NO_RNG: cfg->rng = 0; break;
	case OPT_CONSOLE2:
		if (!arg[0] || !strcmp(arg, "socket:"))
			return bad("--console2 needs a file name or socket:PATH, not '%s'", arg);
		cfg->console2 = arg;
		break;
	default: return -1;
	}
	return 0;
}

static int check_config(const struct config *cfg)
{
	if (cfg->kernel && cfg->raw) {
		fprintf(stderr, "runvm: give either --kernel or --raw, not both\n");
		return -1;
	}
	if (!cfg->kernel && !cfg->raw) {
		fprintf(stderr, "runvm: nothing to run: give --kernel FILE or --raw FILE (see runvm --help)\n");
		return -1;
	}
	if (cfg->raw && (cfg->n_initrd || cfg->append)) {
		fprintf(stderr, "runvm: --initrd and --append go with --kernel, not --raw\n");
		return -1;
	}
	return 0;
}

int config_parse(struct config *cfg, int argc, char **argv)
{
	*cfg = (struct config){ .accel = "auto", .cpus = 1, .mem = 256ULL << 20,
				.raw_mode = RAW_LONG, .rng = 1 };
	optind = 1;
	opterr = 0;
	for (;;) {
		int prev = optind;
		int opt = getopt_long(argc, argv, "", options, NULL);
		if (opt == -1)
			break;
		if (opt == OPT_HELP) {
			config_usage(stdout);
			return 1;
		}
		if (opt == OPT_VERSION) {
			printf("runvm %s\n", RUNVM_VERSION);
			return 1;
		}
		if (opt == OPT_SECCOMP_LIST) {
			seccomp_print_lists(stdout);
			return 1;
		}
		if (opt == '?' || opt == ':') {
			const char *what = prev < argc ? argv[prev] : "?";
			return bad("unknown option or missing argument: '%s'", what);
		}
		if (apply_option(cfg, opt, optarg) < 0)
			return -1;
	}
	if (optind < argc)
		return bad("unexpected argument '%s'", argv[optind]);
	return check_config(cfg);
}
