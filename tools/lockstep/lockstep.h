/*
 * lockstep: runs one guest on two hypervisors at once, one instruction at
 * a time, and reports the first instruction after which they disagree.
 *
 * Side A (by default the host's /dev/kvm) is the reference: its port and
 * MMIO exits go to the device model; side B (by default runvm's software
 * hypervisor) must make the same exits and is handed A's results, so every
 * device runs once and both guests see the same input.
 *
 *   main.c     options and the order of things
 *   side.c     one VM on one hypervisor: memory, vCPU 0, single-stepping
 *   devices.c  side A's devices (the VMM's own device files)
 *   exits.c    matching B's exits against A's, replaying A's results
 *   rep.c      REP string instructions, stepped whole
 *   insn.c     what the instruction just stepped leaves legitimately different
 *   state.c    comparing and printing two register states
 *   step.c     the lockstep loop and its report
 */
#ifndef RUNVM_LOCKSTEP_H
#define RUNVM_LOCKSTEP_H

#include <stdint.h>
#include <stdio.h>

#include "vmm/vm.h"

/* Exit statuses of lockstep. */
#define LOCKSTEP_AGREE        0     /* no divergence until the end */
#define LOCKSTEP_DIVERGED     1
#define LOCKSTEP_USAGE        2     /* bad option or input file */
#define LOCKSTEP_ERROR        3     /* a hypervisor call failed, an exit nobody handles */
#define LOCKSTEP_UNAVAILABLE  4     /* a hypervisor is missing (no /dev/kvm, no soft build) */

struct lockstep_opts {
	struct config cfg;              /* the VMM's own options: image, mode, memory */
	const char *hv_name[2];         /* side A, side B */
	uint64_t max_steps;             /* 0: no limit */
	uint64_t inject_step;           /* 0: none; else corrupt B's RBX after this step */
	int trace;                      /* print every step on stderr */
};

/* One VM on one hypervisor, with vCPU 0 being single-stepped. */
struct side {
	const char *name;               /* the hypervisor's name: "kvm", "soft" */
	char label;                     /* 'A' or 'B' */
	struct vm vm;
	struct vcpu *vcpu;
	/*
	 * Finish an instruction that exited for I/O with a KVM_RUN that has
	 * immediate_exit set: KVM completes the I/O and returns at once (its
	 * API documents it). Needed because this host's KVM loses the
	 * single-step trap of such an instruction and would report it only
	 * after the next one. Set for KVM only: runvm's soft hypervisor looks
	 * at immediate_exit before it completes the I/O, and traps right
	 * after the instruction anyway.
	 */
	int finish_io_at_once;
	int pending;                    /* its kvm_run holds an exit not yet paired */
};

/* What KVM_GET_REGS and KVM_GET_SREGS return, together. */
struct cpu_state {
	struct kvm_regs regs;
	struct kvm_sregs sregs;
};

/* side.c */
int side_open(struct side *s, const struct hv_ops *hv, const struct config *cfg,
	      const struct kvm_cpuid2 *cpuid);
int side_load_image(struct side *s);
int side_arm(struct side *s);
void side_close(struct side *s);
int side_run(struct side *s);
int side_finish_io(struct side *s);
int side_get_state(struct side *s, struct cpu_state *st);
int side_set_regs(struct side *s, const struct kvm_regs *r);
/* Whether st runs 64-bit code (long mode, CS.L). */
int state_long64(const struct cpu_state *st);
/* The linear address of the next instruction. */
uint64_t state_code_address(const struct cpu_state *st);
/* Reads guest-virtual memory as the vCPU sees it; returns the bytes read. */
size_t side_read_virt(struct side *s, const struct cpu_state *st, uint64_t lin, uint8_t *buf, size_t len);

/* devices.c: side A's device model. */
int lockstep_devices_init(struct vm *vm);
void lockstep_devices_destroy(void);

/* insn.c */
#define INSN_MAX 15

/* What an instruction leaves undefined or host-dependent. */
struct insn_effects {
	const char *name;               /* for the trace: "RDTSC", "DIV" ... */
	uint64_t undefined_flags;       /* RFLAGS bits the SDM leaves undefined */
	uint32_t host_regs;             /* GPRs (bit = index in regs_order) with host-dependent results */
	uint64_t host_flags;            /* flags with host-dependent results */
};
/*
 * Classifies the instruction in bytes[0..len) executed in the state st
 * (only prefixes, the opcode and ModRM are looked at).
 */
void insn_effects(const uint8_t *bytes, size_t len, const struct cpu_state *st,
		  struct insn_effects *e);
/*
 * Whether the instruction is a string instruction with a REP prefix; if so
 * *count_mask is the part of RCX its address size uses as the count.
 */
int insn_rep_string(const uint8_t *bytes, size_t len, const struct cpu_state *st, uint64_t *count_mask);
/* The GPR with index i (0 = rax ... 15 = r15, as in the ModRM encoding). */
uint64_t *regs_gpr(struct kvm_regs *r, unsigned i);

/* state.c */
#define RFLAGS_TF (1ULL << 8)
#define RFLAGS_RF (1ULL << 16)
/* Bits of RFLAGS never compared: single-stepping owns TF and RF. */
#define RFLAGS_IGNORED (RFLAGS_TF | RFLAGS_RF)

/* Returns the name of the first field that differs, or NULL when none does. */
const char *state_diff(const struct cpu_state *a, const struct cpu_state *b);
/* Prints both states side by side, marking the fields that differ. */
void state_print_pair(FILE *out, const char *name_a, const char *name_b,
		      const struct cpu_state *a, const struct cpu_state *b);

/* exits.c */
enum pair_result {
	PAIR_AGAIN,                     /* both handled: run both again */
	PAIR_STEPPED,                   /* both finished one instruction */
	PAIR_END,                       /* the run is over (reason in the end text) */
	PAIR_DIVERGED,                  /* the exits differ */
	PAIR_ERROR,                     /* side A made an exit lockstep cannot go on from */
};
/*
 * Looks at the exits both sides just made; describes an end or a
 * divergence in why[0..len).
 */
enum pair_result exits_pair(struct side *a, struct side *b, char *why, size_t len);
/* A one-line description of a side's current exit. */
void exit_describe(const struct side *s, char *buf, size_t len);

/* rep.c: runs a REP string instruction to its end on both sides. */
enum pair_result rep_step(struct side *a, struct side *b, const struct cpu_state *pre, int trace,
			  char *why, size_t len);

/* step.c */
int lockstep_run(struct side *a, struct side *b, const struct lockstep_opts *o);

#endif
