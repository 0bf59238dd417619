/*
 * The software x86-64 CPU: its architectural state and the interface the
 * "hardware" layer (vmx.c) drives it through.
 *
 * The CPU executes guest code until something needs the hypervisor: an
 * I/O or MMIO access that no in-kernel device answers, CPUID, HLT,
 * RDMSR/WRMSR, a triple fault, a kick from another thread, or the end of
 * its time slice. It then stops with an exit reason numbered as the Intel
 * SDM's basic VM-exit reasons (Appendix C), like a VMX processor would.
 *
 * Exits are fault-like: the instruction that caused one has not retired
 * and RIP still points at it; the exit records its length so a handler
 * can skip it after emulating it. Port and MMIO accesses are replayed
 * from a per-instruction log when the instruction re-executes after the
 * VMM completed them (see struct cpu_io_log).
 */
#ifndef RUNVM_SOFT_CPU_H
#define RUNVM_SOFT_CPU_H

#include <setjmp.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stddef.h>

/* General registers, in encoding order. */
enum { R_AX, R_CX, R_DX, R_BX, R_SP, R_BP, R_SI, R_DI,
       R_R8, R_R9, R_R10, R_R11, R_R12, R_R13, R_R14, R_R15 };

/* Segment registers, in encoding order, then the system segments. */
enum { S_ES, S_CS, S_SS, S_DS, S_FS, S_GS, S_LDTR, S_TR, S_NSEG };

/* RFLAGS bits. */
#define F_CF   (1u << 0)
#define F_PF   (1u << 2)
#define F_AF   (1u << 4)
#define F_ZF   (1u << 6)
#define F_SF   (1u << 7)
#define F_TF   (1u << 8)
#define F_IF   (1u << 9)
#define F_DF   (1u << 10)
#define F_OF   (1u << 11)
#define F_IOPL (3u << 12)
#define F_NT   (1u << 14)
#define F_RF   (1u << 16)
#define F_VM   (1u << 17)
#define F_AC   (1u << 18)
#define F_VIF  (1u << 19)
#define F_VIP  (1u << 20)
#define F_ID   (1u << 21)
#define F_ARITH (F_CF | F_PF | F_AF | F_ZF | F_SF | F_OF)

/* Control register bits. */
#define CR0_PE (1u << 0)
#define CR0_MP (1u << 1)
#define CR0_EM (1u << 2)
#define CR0_TS (1u << 3)
#define CR0_ET (1u << 4)
#define CR0_NE (1u << 5)
#define CR0_WP (1u << 16)
#define CR0_AM (1u << 18)
#define CR0_NW (1u << 29)
#define CR0_CD (1u << 30)
#define CR0_PG (1u << 31)
#define CR4_VME (1u << 0)
#define CR4_PVI (1u << 1)
#define CR4_TSD (1u << 2)
#define CR4_DE  (1u << 3)
#define CR4_PSE (1u << 4)
#define CR4_PAE (1u << 5)
#define CR4_MCE (1u << 6)
#define CR4_PGE (1u << 7)
#define CR4_PCE (1u << 8)
#define CR4_OSFXSR (1u << 9)
#define CR4_OSXMMEXCPT (1u << 10)
#define CR4_UMIP (1u << 11)
#define CR4_FSGSBASE (1u << 16)
#define CR4_PCIDE (1u << 17)
#define CR4_OSXSAVE (1u << 18)
#define EFER_SCE (1u << 0)
#define EFER_LME (1u << 8)
#define EFER_LMA (1u << 10)
#define EFER_NXE (1u << 11)

/* Exception vectors. */
enum { EX_DE = 0, EX_DB = 1, EX_NMI = 2, EX_BP = 3, EX_OF = 4, EX_BR = 5,
       EX_UD = 6, EX_NM = 7, EX_DF = 8, EX_TS = 10, EX_NP = 11, EX_SS = 12,
       EX_GP = 13, EX_PF = 14, EX_MF = 16, EX_AC = 17, EX_MC = 18, EX_XM = 19 };

/* Basic VM-exit reasons (Intel SDM Vol. 3 Appendix C). */
enum {
	EXIT_EXCEPTION_NMI = 0,
	EXIT_EXTERNAL_INTERRUPT = 1,
	EXIT_TRIPLE_FAULT = 2,
	EXIT_INIT_SIGNAL = 3,
	EXIT_SIPI = 4,
	EXIT_INTERRUPT_WINDOW = 7,
	EXIT_NMI_WINDOW = 8,
	EXIT_TASK_SWITCH = 9,
	EXIT_CPUID = 10,
	EXIT_HLT = 12,
	EXIT_INVD = 13,
	EXIT_INVLPG = 14,
	EXIT_RDPMC = 15,
	EXIT_RDTSC = 16,
	EXIT_VMCALL = 18,
	EXIT_CR_ACCESS = 28,
	EXIT_DR_ACCESS = 29,
	EXIT_IO_INSTRUCTION = 30,
	EXIT_MSR_READ = 31,
	EXIT_MSR_WRITE = 32,
	EXIT_INVALID_STATE = 33,
	EXIT_MWAIT = 36,
	EXIT_MONITOR_TRAP = 37,
	EXIT_MONITOR = 39,
	EXIT_PAUSE = 40,
	EXIT_EPT_VIOLATION = 48,
	EXIT_PREEMPTION_TIMER = 52,
	EXIT_WBINVD = 54,
	EXIT_XSETBV = 55,
	EXIT_RDRAND = 57,
	EXIT_REASON_MAX = 70
};

/*
 * A segment register's hidden part. attr uses the VMX access-rights
 * layout: type 0-3, S 4, DPL 5-6, P 7, AVL 12, L 13, D/B 14, G 15,
 * unusable 16. limit is in bytes (G already applied).
 */
struct seg {
	uint64_t base;
	uint32_t limit;
	uint32_t attr;
	uint16_t sel;
};
#define SEG_TYPE(a)  ((int)((a) & 15))
#define SEG_S        (1u << 4)
#define SEG_DPL(a)   ((int)(((a) >> 5) & 3))
#define SEG_P        (1u << 7)
#define SEG_AVL      (1u << 12)
#define SEG_L        (1u << 13)
#define SEG_DB       (1u << 14)
#define SEG_G        (1u << 15)
#define SEG_UNUSABLE (1u << 16)

struct dtable {
	uint64_t base;
	uint16_t limit;
};

/* Execution modes, derived from CR0, EFER, RFLAGS.VM and CS. */
enum cpu_mode { MODE_REAL, MODE_VM86, MODE_PROT, MODE_COMPAT, MODE_LONG };

struct cpu;
struct insn;
typedef void insn_fn(struct cpu *c, const struct insn *in);

/*
 * One decoded instruction. The decoder resolves everything that does not
 * depend on run-time state, so executing it is a call through fn.
 */
struct insn {
	insn_fn *fn;
	uint8_t len;
	uint8_t opsize;         /* operand size in bytes: 1, 2, 4, 8 */
	uint8_t adsize;         /* address size in bytes: 2, 4, 8 */
	uint8_t op;             /* opcode byte (second byte for 0F xx) */
	uint8_t reg;            /* ModRM.reg (+REX.R); a byte register id for byte ops */
	uint8_t rm;             /* ModRM.rm (+REX.B) when mod == 3, or opcode register */
	uint8_t mod;            /* 3: register operand; else memory */
	uint8_t base;           /* NOREG when none */
	uint8_t index;          /* NOREG when none */
	uint8_t scale;          /* shift count 0-3 */
	uint8_t seg;            /* effective segment of the memory operand */
	uint8_t rep;            /* 0, 0xF2 or 0xF3 */
	uint8_t pfx;            /* PFX_* */
	uint16_t end;           /* offset of its end from the start of its block (exec.c) */
	int32_t disp;
	uint32_t code;          /* host code of a run from here, in the code buffer (exec.c) */
	uint64_t imm;
	uint16_t imm2;          /* ENTER level, far pointer selector */
};
#define NOREG 0xff
/* Byte register ids: 0-15 the low bytes, 16-19 AH, CH, DH, BH. */
#define PFX_LOCK   1
#define PFX_RIPREL 2
#define PFX_OPSZ   4       /* 66 seen */
#define PFX_REX    8
#define PFX_REXW   16
#define PFX_SEGOVR 32

/*
 * The port/MMIO accesses of the instruction being executed, in order.
 * When an access needs the VMM, the instruction stops and the exit goes
 * out; when the VMM has answered, the instruction runs again from the
 * start and replays the accesses it already did from this log, so a
 * device sees each access once. The log empties when the instruction
 * (or one committed iteration of a rep string instruction) retires.
 */
#define IO_LOG_MAX 4
#define IO_DATA_MAX 4096
struct cpu_io_entry {
	uint8_t is_mmio, is_write, size, done;
	uint32_t count;
	uint64_t addr;          /* port or guest-physical address */
	uint8_t data[IO_DATA_MAX];
};
struct cpu_io_log {
	int n;                  /* recorded accesses */
	int pos;                /* next one to replay */
	struct cpu_io_entry e[IO_LOG_MAX];
};

/*
 * What the platform (vmx.c) provides. Return 1 when the access completed
 * (data filled for reads), 0 when the VMM must complete it: the CPU then
 * stops with the exit the callback recorded.
 */
struct cpu_platform {
	int (*pio)(struct cpu *c, struct cpu_io_entry *e);
	int (*mmio)(struct cpu *c, struct cpu_io_entry *e);
	/* The pending external interrupt vector, or -1; acknowledges it. */
	int (*ack_interrupt)(struct cpu *c);
	/* TPR writes through CR8. */
	void (*set_tpr)(struct cpu *c, uint64_t cr8);
	uint64_t (*get_tpr)(struct cpu *c);
	/* The guest TSC (RDTSC, RDTSCP); NULL: the host's plus tsc_offset. */
	uint64_t (*rdtsc)(struct cpu *c);
};

/* The physical memory the CPU sees: RAM slots; everything else is MMIO. */
#define PMEM_MAX_SLOTS 8
struct pmem_slot {
	uint64_t gpa, size;
	uint8_t *host;
	uint32_t *gen;          /* per page: bumped on writes to code pages */
	uint8_t *code;          /* per page: 1 when decoded code came from it */
	int readonly;
};
struct pmem {
	int n;
	struct pmem_slot s[PMEM_MAX_SLOTS];
	/*
	 * code_epoch moves when a page first holds decoded code: every vCPU
	 * then drops its TLB (and so its write fast paths to that page) and
	 * moves verify_epoch, after which every vCPU re-verifies its blocks
	 * once: a write that slipped through a stale fast path is caught.
	 */
	uint32_t code_epoch, verify_epoch;
};

/* Software TLB: one set for supervisor and one for user accesses. */
#define TLB_BITS 10
#define TLB_SIZE (1 << TLB_BITS)
#define TLB_LARGE 1                     /* a 2 or 4 MiB page */
#define TLB_HUGE 2                      /* a 1 GiB page */
struct tlb_entry {
	uint64_t tag_r, tag_w, tag_x;   /* linear page | tlb_gen when valid for that access */
	uintptr_t addend;               /* host = linear + addend */
	uint64_t gpa;                   /* guest-physical page */
	uint64_t global;                /* TLB_GLOBAL: listed in cpu.tlb_globals (mmu.c) */
};

/* The pending event a VM entry delivers (VM-entry interruption info). */
enum ev_type { EV_NONE, EV_EXTINT, EV_NMI, EV_HWEXC, EV_SWINT, EV_SWEXC };
struct cpu_event {
	uint8_t type, vector, has_err;
	uint32_t err;
	uint32_t insn_len;      /* for software interrupts/exceptions */
};

/* What the last exit was (the exit-information fields of a VMCS). */
struct cpu_exit {
	uint32_t reason;
	uint64_t qual;
	uint64_t gpa;
	uint32_t insn_len;
	struct cpu_event intr;  /* exception exits: what was being raised */
};

struct block;
struct block_cache;

/* The shortest run of instructions that becomes host code (jit.c); 0: none. */
extern int cpu_jit_min_run;
/* Bytes of host code the CPU made since its code cache last emptied. */
size_t cpu_host_code_bytes(const struct cpu *c);

struct cpu {
	/* Architectural state. */
	uint64_t gpr[16];
	uint64_t rip;
	uint64_t flags;         /* RFLAGS; arith bits are stale while lf_op != 0 */
	uint32_t lf_op;         /* lazy arithmetic flags: LF_* | size, 0 = eager */
	uint64_t lf_res, lf_a, lf_b;
	struct seg seg[S_NSEG];
	struct dtable gdtr, idtr;
	uint64_t cr0, cr2, cr3, cr4, efer;
	uint64_t dr[8];
	uint64_t xcr0;
	/* MSR-backed state the CPU itself uses. */
	uint64_t star, lstar, cstar, sfmask, kernel_gs_base;
	uint64_t sysenter_cs, sysenter_esp, sysenter_eip;
	uint64_t tsc_offset, tsc_aux, pat;
	uint8_t fxsave[512] __attribute__((aligned(16)));  /* x87/SSE (next issue) */

	/* Derived from the above by cpu_update_mode(). */
	enum cpu_mode mode;
	int cpl;
	int code_size;          /* 2, 4 or 8: default operand/address size of CS */
	uint64_t stack_mask;    /* 0xffff, 0xffffffff or all ones */
	uint64_t sbase[6];      /* effective segment bases (0 for ES-SS in 64-bit) */

	/* Execution state of the current instruction. */
	uint64_t next_rip;
	const struct insn *cur;         /* the decoded instruction running (exec.c) */
	uint64_t block_rip;             /* RIP at the start of its block */
	struct block *block;            /* the block running (exec.c) */
	uint64_t chain_tag;             /* the run tag links are followed under */
	int chain_left;                 /* blocks that may still run before the checks */
	/*
	 * Hosted CALLs' return addresses, each with its CALL's block, whose
	 * second link is kept for the RET that comes back there (jit.c).
	 */
	struct { uint64_t lin; const void *block; } ret_stack[16];
	uint32_t ret_top;
	int stop;               /* end the block after this instruction */
	int intr_shadow;        /* STI / MOV SS blocking for one instruction */
	int nmi_blocked;        /* from NMI delivery until IRET */
	int halted;             /* HLT executed (vmx.c turns this into an exit) */
	struct cpu_io_log io;

	/* Exception delivery. */
	int delivering;         /* vector + 1 while delivering an event */
	struct cpu_event fault; /* the fault being raised */
	jmp_buf jb;

	/* VM-exit / VM-entry interface (the guest-state area's controls). */
	struct cpu_exit exit;
	struct cpu_event inject;        /* delivered on the next entry */
	int intr_window_exiting;        /* exit when interrupts become enabled */
	int single_step;                /* exit with #DB after each instruction */
	int step_one;                   /* exit (MONITOR_TRAP) after one instruction */
	/*
	 * The vCPU's event word (set by the interrupt controller or a stop
	 * request from another thread): the CPU exits with
	 * EXTERNAL_INTERRUPT when a bit of ev_stop is set, a bit of ev_nmi
	 * while NMIs are not blocked, or a bit of ev_intr while RFLAGS.IF = 1.
	 */
	_Atomic uint32_t *events;
	uint32_t ev_stop, ev_nmi, ev_intr;
	volatile uint8_t *immediate_exit;       /* kvm_run's: also stops the CPU */
	uint64_t budget;                /* instructions before a PREEMPTION_TIMER exit */
	uint64_t icount;                /* instructions retired */

	const struct cpu_platform *plat;
	void *opaque;                   /* the vCPU this CPU belongs to */
	struct pmem *pmem;

	/* Translation and decode caches. */
	struct tlb_entry tlb[2][TLB_SIZE];
	struct tlb_entry *jit_tlb;      /* tlb[cpl == 3], for host code (jit.c) */
	const void *jit_jc;             /* the jump cache of this privilege level, for host code */
	uint64_t jit_flags;             /* host code's copy of the arithmetic flags (jit_flags_pack()) */
	uint64_t tlb_gen;               /* 1-4095: a flush moves it instead of clearing */
	int tlb_large;                  /* TLB_LARGE | TLB_HUGE: some entry came from a large page */
	uint16_t tlb_globals[2 * TLB_SIZE];     /* entries that held a global page */
	int ntlb_globals;
	uint32_t seen_code_epoch, seen_verify_epoch;
	uint32_t stamp;                 /* blocks verify their bytes when it moves */
	struct block_cache *bc;
};

static inline int cpu_kicked(struct cpu *c)
{
	uint32_t ev = c->events ? atomic_load_explicit(c->events, memory_order_relaxed) : 0;
	if (ev && ((ev & c->ev_stop) || ((ev & c->ev_nmi) && !c->nmi_blocked) ||
		   ((ev & c->ev_intr) && (c->flags & (1u << 9)))))
		return 1;
	return c->immediate_exit && *c->immediate_exit;
}

/* Lazy flag kinds; the low 2 bits of lf_op hold log2 of the size. */
enum { LF_NONE = 0, LF_ADD = 4, LF_SUB = 8, LF_LOGIC = 12, LF_INC = 16, LF_DEC = 20,
       LF_ADC = 24, LF_SBB = 28 };

/* cpu.c: life cycle and state. */
int cpu_init(struct cpu *c, struct pmem *pm, const struct cpu_platform *plat, void *opaque);
void cpu_destroy(struct cpu *c);
void cpu_reset(struct cpu *c);          /* the power-on / INIT state */
void cpu_update_mode(struct cpu *c);    /* after CR0, EFER, CS, RFLAGS.VM change */
uint64_t cpu_get_rflags(struct cpu *c);
void cpu_set_rflags(struct cpu *c, uint64_t f);
uint64_t cpu_rdtsc(struct cpu *c);

/* exec.c: run until an exit; returns the exit reason. */
int cpu_run(struct cpu *c);
/* Completes the port/MMIO read the last exit asked the VMM for. */
void cpu_io_complete(struct cpu *c, const void *data, size_t len);
/* Forgets a half-done instruction's port/MMIO log (the VMM moved RIP). */
void cpu_io_abandon(struct cpu *c);
/* The access the last I/O or EPT-violation exit is about. */
struct cpu_io_entry *cpu_io_pending(struct cpu *c);
/* WRMSR of EFER: 0, or -1 when the write must #GP. */
int cpu_set_efer(struct cpu *c, uint64_t v);
/* Drops every translation, global pages' too (paging mode change, reset). */
void cpu_flush_tlb(struct cpu *c);
/* MOV to CR3: the translations of global pages stay (SDM 4.10.4.1). */
void cpu_flush_tlb_nonglobal(struct cpu *c);
/* INVLPG: drops the translations of one linear address. */
void cpu_flush_tlb_page(struct cpu *c, uint64_t lin);
void cpu_flush_code(struct cpu *c);

/* mmu.c */
int pmem_set_slot(struct pmem *pm, int slot, uint64_t gpa, uint64_t size, void *host, int ro);
void pmem_destroy(struct pmem *pm);
void *pmem_host(struct pmem *pm, uint64_t gpa, uint64_t len);
/* Linear to guest-physical for debuggers (KVM_TRANSLATE); -1 when unmapped. */
int64_t cpu_translate(struct cpu *c, uint64_t lin, int *writable);

/* Instruction decoding, exposed for tests: length, or <0 (-EX_UD / -EX_GP / -1 more bytes). */
int cpu_decode(const uint8_t *bytes, int avail, int code_size, struct insn *in, int *ends_block);

#endif
