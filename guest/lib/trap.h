/*
 * The guest's own IDT: 256 gates whose stubs save every register and call
 * trap_dispatch(). Exceptions are recorded in `exc`; a test that expects
 * one runs the faulting code as a PROBE, which arms exc_resume so that the
 * handler continues after the probe's instructions instead of aborting.
 */
#ifndef GUEST_TRAP_H
#define GUEST_TRAP_H

#include "guest.h"

#ifdef __x86_64__
struct trap_frame {
	uint64_t r15, r14, r13, r12, r11, r10, r9, r8;
	uint64_t bp, di, si, dx, cx, bx, ax;
	uint64_t vector, error;
	uint64_t ip, cs, flags, sp, ss;      /* pushed by the CPU */
};
#else
struct trap_frame {
	uint32_t di, si, bp, unused_sp, bx, dx, cx, ax;  /* pushal */
	uint32_t vector, error;
	uint32_t ip, cs, flags;                          /* pushed by the CPU */
};
#endif

/* The last exception taken, and how many since exc_clear(). */
struct exc_record {
	uint32_t count;
	uint32_t vector;
	uint64_t error;
	uintptr_t ip;
	uintptr_t cr2;
};
extern volatile struct exc_record exc;
/* Where an expected exception continues; 0 means an exception is a bug. */
extern volatile uintptr_t exc_resume;
/* Interrupts (vectors 32-255) taken per vector. */
extern volatile uint32_t irq_count[256];

typedef void (*trap_fn)(struct trap_frame *f);

#ifndef __x86_64__
/*
 * 32-bit handlers return with POPF and a far return unless this is set:
 * the host's KVM without VT-x/AMD-V cannot emulate IRET in protected mode,
 * so only the guest that tests IRET itself uses it.
 */
extern volatile uint8_t trap_use_iret;
#endif

/* Loads the IDT (all gates DPL 0 interrupt gates on code selector cs). */
void idt_init(uint16_t cs);
/* Loads the already built IDT on another CPU. */
void idt_load(void);
/* Sets a gate's DPL, so that CPL-3 code may use INT n on it. */
void idt_set_dpl(unsigned vector, unsigned dpl);
/* Calls fn for this vector (after counting/recording it). */
void trap_set_handler(unsigned vector, trap_fn fn);

void exc_clear(void);
/* Checks that exactly one exception with these values happened since
 * exc_clear(). error is ignored when it is NO_ERROR. */
#define NO_ERROR (~0ull)
int expect_exception(const char *what, unsigned vector, uint64_t error, uintptr_t ip);

/*
 * PROBE(name, "setup", "instructions") defines `uintptr_t name(a, b, c)`,
 * which runs setup and then the instructions with the arguments in
 * PROBE_A/B/C, and returns PROBE_RET. name_ip is the address of the first
 * of the instructions (where a fault is expected), name_end the address
 * after the last (where a trap returns, and where an exception resumes).
 */
#ifdef __x86_64__
#define PROBE_ABI
#define PROBE_A "%rdi"
#define PROBE_B "%rsi"
#define PROBE_C "%rdx"
#define PROBE_RET "%rax"
#define PROBE_ARM(name) "movq $" #name "_end, exc_resume\n"
#define PROBE_DISARM "movq $0, exc_resume\n"
#else
#define PROBE_ABI __attribute__((regparm(3)))
#define PROBE_A "%eax"
#define PROBE_B "%edx"
#define PROBE_C "%ecx"
#define PROBE_RET "%eax"
#define PROBE_ARM(name) "movl $" #name "_end, exc_resume\n"
#define PROBE_DISARM "movl $0, exc_resume\n"
#endif

#define PROBE(name, setup, insns) \
	PROBE_ABI uintptr_t name(uintptr_t a, uintptr_t b, uintptr_t c); \
	extern char name##_ip[], name##_end[]; \
	asm(".pushsection .text\n" \
	    ".globl " #name ", " #name "_ip, " #name "_end\n" \
	    #name ":\n" PROBE_ARM(name) setup "\n" \
	    #name "_ip:\n" insns "\n" \
	    #name "_end:\n" PROBE_DISARM "ret\n" \
	    ".popsection\n");

#endif
