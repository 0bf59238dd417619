/* What the command line asks for. */
#ifndef RUNVM_CONFIG_H
#define RUNVM_CONFIG_H

#include <limits.h>
#include <stdint.h>
#include <stdio.h>

#define CONFIG_MAX_INITRD 8
#define CONFIG_MAX_CPUS   64
#define CONFIG_MIN_MEM    (2ULL << 20)
#define CONFIG_MAX_MEM    (64ULL << 30)
#define CONFIG_MAX_DISKS  8
#define CONFIG_MAX_NETS   4

enum raw_mode { RAW_REAL, RAW_PROTECTED, RAW_LONG };

/* --disk PATH[,ro]: a virtio-blk disk on a raw image. */
struct config_disk {
	char path[PATH_MAX];
	int readonly;
};

/* --net tap=NAME[,mac=XX:XX:XX:XX:XX:XX]: a virtio-net card on a TAP device. */
struct config_net {
	char tap[16];                   /* IFNAMSIZ */
	uint8_t mac[6];
	int has_mac;
};

struct config {
	const char *accel;              /* "kvm", "soft" or "auto" */
	int cpus;
	uint64_t mem;                   /* bytes */
	const char *kernel;
	const char *initrd[CONFIG_MAX_INITRD];
	int n_initrd;
	const char *append;
	const char *raw;                /* raw binary for test guests */
	uint64_t raw_addr;
	enum raw_mode raw_mode;
	int stats;
	int testdev;
	int no_reboot;
	int quiet;                      /* no start-up banner */
	int no_seccomp;                 /* no system-call filters (debugging) */
	struct config_disk disks[CONFIG_MAX_DISKS];
	int n_disks;
	struct config_net nets[CONFIG_MAX_NETS];
	int n_nets;
	int rng;                        /* virtio-rng: on unless --no-rng */
	const char *console2;           /* --console2 FILE or socket:PATH (virtio-console) */
};

/*
 * Parses argv into cfg. Returns 0 on success, 1 when the program should exit
 * successfully (--help, --version, --seccomp-list), -1 on a bad option
 * (message printed).
 */
int config_parse(struct config *cfg, int argc, char **argv);
void config_usage(FILE *out);

#endif
