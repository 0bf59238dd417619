/*
 * Tests of the soft CPU's x87/MMX/SSE units against the host CPU: each
 * snippet is assembled twice, as guest code (ending in HLT) and as a host
 * function (ending in RET), and runs on both with RDI pointing at a data
 * block whose first DUAL_IN bytes are inputs; the snippet writes its
 * results after them, through RSI, 16 bytes a slot (the OUT* macros).
 * The two data blocks must come out identical.
 *
 * Snippets use only caller-saved registers and local numeric labels, and
 * start from the reset state of the FPU (both sides: FNINIT, MXCSR
 * 0x1f80).
 */
#ifndef RUNVM_TEST_SOFT_FPU_DUAL_H
#define RUNVM_TEST_SOFT_FPU_DUAL_H

#include "soft_cpu.h"

#define DUAL_IN 1024
#define DUAL_SIZE 4096

/* Guest code name[]..name_end[] and the host function name_host(data). */
#define DUAL_CODE(name, text) \
	extern const uint8_t name[], name##_end[]; \
	void name##_host(uint8_t *data); \
	__asm__(".pushsection .rodata\n.balign 64\n" #name ":\n.code64\n" \
		DUAL_PROLOGUE text "\nhlt\n" #name "_end:\n.popsection\n" \
		".pushsection .text\n.balign 64\n" #name "_host:\n" \
		DUAL_PROLOGUE text "\nret\n.popsection\n")
/* RSI at the outputs; the eight x87 registers hold +0, all empty (their contents show in FSAVE). */
#define DUAL_PROLOGUE "lea 1024(%rdi), %rsi\n fldz\n fldz\n fldz\n fldz\n fldz\n fldz\n fldz\n fldz\n fninit\n"

/* Output macros: each takes one 16-byte slot. */
__asm__(".macro OUTT\n fstpt (%rsi)\n lea 16(%rsi), %rsi\n.endm\n"
	".macro OUTSW\n fnstsw (%rsi)\n lea 16(%rsi), %rsi\n.endm\n"
	".macro OUTCW\n fnstcw (%rsi)\n lea 16(%rsi), %rsi\n.endm\n"
	".macro OUTMX\n stmxcsr (%rsi)\n lea 16(%rsi), %rsi\n.endm\n"
	".macro OUTX r\n movdqu \\r, (%rsi)\n lea 16(%rsi), %rsi\n.endm\n"
	".macro OUTQ r\n movq \\r, (%rsi)\n lea 16(%rsi), %rsi\n.endm\n"
	".macro OUTR r\n mov \\r, (%rsi)\n lea 16(%rsi), %rsi\n.endm\n"
	".macro OUTF\n pushfq\n popq (%rsi)\n andq $0x8d5, (%rsi)\n lea 16(%rsi), %rsi\n.endm\n"
	/* FNSTENV (28 bytes, 2 slots) with the instruction and operand pointers cleared */
	".macro OUTENV\n fnstenv (%rsi)\n movl $0, 12(%rsi)\n movl $0, 16(%rsi)\n movl $0, 20(%rsi)\n"
	" movl $0, 24(%rsi)\n lea 32(%rsi), %rsi\n.endm\n");

/* Runs the host copy with the FPU in its reset state, restoring the caller's after. */
static inline void dual_host(void (*fn)(uint8_t *), uint8_t *data)
{
	uint32_t mx_saved, mx = 0x1f80;
	uint16_t cw;
	__asm__ volatile("stmxcsr %0\n\tfnstcw %1" : "=m"(mx_saved), "=m"(cw));
	__asm__ volatile("ldmxcsr %0\n\tfninit" : : "m"(mx) : "memory");
	fn(data);
	__asm__ volatile("fninit\n\tfldcw %0\n\tldmxcsr %1" : : "m"(cw), "m"(mx_saved) : "memory");
}

/* A long-mode test CPU with SSE enabled, as an OS would set it up. */
static inline void dual_cpu(struct tcpu *t)
{
	tcpu_init(t, T_LONG);
	t->c.cr0 |= CR0_MP | CR0_NE;
	t->c.cr4 |= CR4_OSFXSR | CR4_OSXMMEXCPT;
}

/* Prints the first differing 16-byte slot of the outputs; returns 1 when all agree. */
static inline int dual_compare(const char *name, const uint8_t *guest, const uint8_t *host)
{
	for (int off = DUAL_IN; off < DUAL_SIZE; off += 16) {
		if (!memcmp(guest + off, host + off, 16))
			continue;
		fprintf(stderr, "%s: output slot %d differs\n  guest:", name, (off - DUAL_IN) / 16);
		for (int i = 15; i >= 0; i--)
			fprintf(stderr, "%s%02x", i % 4 == 3 ? " " : "", guest[off + i]);
		fprintf(stderr, "\n  host: ");
		for (int i = 15; i >= 0; i--)
			fprintf(stderr, "%s%02x", i % 4 == 3 ? " " : "", host[off + i]);
		fprintf(stderr, "\n");
		return 0;
	}
	return 1;
}

/*
 * Runs a snippet on both CPUs with the given inputs; returns 1 when the
 * guest reached its end and produced exactly the host's outputs. The
 * guest's data block is left in t->mem + T_DATA for further checks.
 */
static inline int dual_run_in(struct tcpu *t, const char *name, const uint8_t *code, const uint8_t *end,
			      void (*host)(uint8_t *), const void *in, size_t in_len)
{
	static uint8_t hdata[DUAL_SIZE] __attribute__((aligned(64)));
	memset(hdata, 0x5a, sizeof(hdata));
	memcpy(hdata, in, in_len);
	memcpy(t->mem + T_DATA, hdata, sizeof(hdata));
	t->c.gpr[R_DI] = T_DATA;
	dual_host(host, hdata);
	if (!tcpu_exec(t, code, end)) {
		fprintf(stderr, "%s: the guest stopped at rip %llx (vector %d)\n", name,
			(unsigned long long)t->c.rip, tcpu_vector(t));
		return 0;
	}
	return dual_compare(name, t->mem + T_DATA, hdata);
}

#define DUAL_RUN(t, name, in) dual_run_in(t, #name, name, name##_end, name##_host, &(in), sizeof(in))

#endif
