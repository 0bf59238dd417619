/*
 * System-call filters (seccomp): one allow-list per kind of thread.
 *
 * A guest that takes over a runvm thread through a device or hypervisor
 * bug should find a process that can do little more than the thread was
 * already doing: no new files, sockets or processes, no executable
 * memory. Each thread loads the list of its kind itself, before it
 * touches guest data; the main thread loads its own before the first
 * guest instruction runs. A forbidden call stops runvm with the line
 *
 *   runvm: seccomp: thread KIND made forbidden system call NAME (NR)
 *
 * and exit status RUNVM_EXIT_SECCOMP. --no-seccomp turns all of it off.
 */
#ifndef RUNVM_SECCOMP_H
#define RUNVM_SECCOMP_H

#include "config.h"

enum seccomp_thread {
	SECCOMP_MAIN,           /* waits for stops, joins, rebuilds the VM on reboot */
	SECCOMP_VCPU,           /* KVM_RUN and exit handling (on soft: the CPU itself) */
	SECCOMP_DEVICE,         /* device and I/O threads: serial input, irqchip timer */
	SECCOMP_N_THREADS
};

/* 128 + SIGSYS: what a shell reports for a process killed by SIGSYS. */
#define RUNVM_EXIT_SECCOMP 159

/*
 * Builds the filters and installs the handler that reports a forbidden
 * call. Call once from main() before any thread starts. Does nothing
 * under --no-seccomp. Returns 0, or -1 with a message.
 */
int seccomp_prepare(const struct config *cfg);

/*
 * Confines the calling thread to the list of its kind; a thread calls it
 * once, first thing. Does nothing when seccomp_prepare() did not enable
 * filtering. Returns 0, or -1 with a message (the thread must then not go
 * on: the caller stops the VM).
 */
int seccomp_enter(enum seccomp_thread kind);

/*
 * seccomp_enter() for a thread that has nobody to report a failure to:
 * ends runvm (status RUNVM_EXIT_SECCOMP) after the message.
 */
void seccomp_enter_or_exit(enum seccomp_thread kind);

/*
 * Called by threads that hypervisor code starts on its own (the soft
 * irqchip's timer, which declares it weak): confines them as device
 * threads.
 */
void vmm_thread_started(void);

/* Whether filtering is on (after seccomp_prepare). */
int seccomp_enabled(void);

/* The distinct system calls a kind's list allows (documentation, tests). */
int seccomp_allowed_count(enum seccomp_thread kind);
const char *seccomp_thread_name(enum seccomp_thread kind);

/*
 * --seccomp-list: per kind, the count and the names of the system calls
 * its list allows (ioctl with the number of requests it may make).
 */
void seccomp_print_lists(FILE *out);

#endif
