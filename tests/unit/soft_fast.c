/*
 * The soft CPU's fast paths: linked blocks and the jump cache across
 * page-table changes, REP STOS/MOVS by whole pages, rotates and shifts
 * that leave the other flags lazy, the handlers specialized at decode
 * time against the generic ones they stand for, the pure variants
 * that skip dead flags, and runs of them as host code.
 */
#include "soft_cpu.h"

#define C64 ".code64"

/*
 * Linear 0x400000 is a 4 KiB page (page table at 0x15000) that maps to
 * 0x30000 ("mov $1, %ebx; ret") or 0x31000 ("mov $2, %ebx; ret"). The
 * code calls it, points the PTE elsewhere, and calls it again: after
 * INVLPG, and after a CR3 reload. The POPF before each change ends a
 * chain of blocks, so that the CPU has seen the new code page (its
 * blocks re-verify once) and the block at 0x400000 runs again before
 * the change: the jump cache and the links are what must notice.
 */
GUEST_CODE(g_remap, C64,
	"mov $0x400000, %r12\n"
	"mov $3, %ecx\n"
	"1: call *%r12\n dec %ecx\n jnz 1b\n"
	"pushfq\n popfq\n call *%r12\n"
	"mov %ebx, %r13d\n"
	"movq $0x31003, 0x15000\n invlpg (%r12)\n"
	"mov $3, %ecx\n"
	"2: call *%r12\n dec %ecx\n jnz 2b\n"
	"pushfq\n popfq\n call *%r12\n"
	"mov %ebx, %r14d\n"
	"movq $0x30003, 0x15000\n mov %cr3, %rax\n mov %rax, %cr3\n"
	"call *%r12\n mov %ebx, %r15d\n");

static void test_remap_code(void)
{
	static const uint8_t one[] = { 0xbb, 0x01, 0x00, 0x00, 0x00, 0xc3 };
	static const uint8_t two[] = { 0xbb, 0x02, 0x00, 0x00, 0x00, 0xc3 };
	struct tcpu t;
	tcpu_init(&t, T_LONG);
	t_write(&t, 0x12010, 8, 0x15003);       /* PD[2] -> page table */
	t_write(&t, 0x15000, 8, 0x30003);
	memcpy(t.mem + 0x30000, one, sizeof(one));
	memcpy(t.mem + 0x31000, two, sizeof(two));
	CHECK(tcpu_exec(&t, g_remap, g_remap_end));
	CHECK_EQ(t.c.gpr[R_R13], 1);
	CHECK_EQ(t.c.gpr[R_R14], 2);
	CHECK_EQ(t.c.gpr[R_R15], 1);
	tcpu_free(&t);
}

/*
 * Global pages (CR4.PGE): 0x400000 is global (G in its PTE), 0x401000
 * is not. A MOV to CR3 keeps the global page's translation, and the
 * links into its code, so that the old code still runs after its PTE
 * moved; INVLPG, or turning PGE off and on, drops it. The page that is
 * not global takes its new mapping at the MOV to CR3, though a block
 * linked to its code ran before.
 */
GUEST_CODE(g_global, C64,
	"mov %cr4, %rax\n or $0x80, %rax\n mov %rax, %cr4\n"
	"mov $0x400000, %r12\n mov $0x401000, %r11\n"
	"mov $3, %ecx\n"
	"1: call *%r12\n call *%r11\n dec %ecx\n jnz 1b\n"
	"pushfq\n popfq\n call *%r12\n mov %ebx, %r13d\n"
	"movq $0x31103, 0x15000\n movq $0x33003, 0x15008\n mov %cr3, %rax\n mov %rax, %cr3\n"
	"mov $3, %ecx\n"
	"2: call *%r12\n mov %ebx, %r14d\n call *%r11\n mov %ebx, %r8d\n dec %ecx\n jnz 2b\n"
	"invlpg (%r12)\n call *%r12\n mov %ebx, %r15d\n"
	"movq $0x30103, 0x15000\n mov %cr3, %rax\n mov %rax, %cr3\n call *%r12\n mov %ebx, %r9d\n"
	"mov %cr4, %rax\n and $~0x80, %rax\n mov %rax, %cr4\n or $0x80, %rax\n mov %rax, %cr4\n"
	"call *%r12\n mov %ebx, %r10d\n");

static void test_global_pages(void)
{
	struct tcpu t;
	tcpu_init(&t, T_LONG);
	t_write(&t, 0x12010, 8, 0x15003);       /* PD[2] -> page table */
	t_write(&t, 0x15000, 8, 0x30103);       /* global */
	t_write(&t, 0x15008, 8, 0x32003);
	for (int i = 0; i < 4; i++) {           /* page i: mov $i+1, %ebx; ret */
		static const uint8_t code[] = { 0xbb, 0x00, 0x00, 0x00, 0x00, 0xc3 };
		memcpy(t.mem + 0x30000 + 0x1000 * i, code, sizeof(code));
		t.mem[0x30001 + 0x1000 * i] = (uint8_t)(i + 1);
	}
	CHECK(tcpu_exec(&t, g_global, g_global_end));
	CHECK_EQ(t.c.gpr[R_R13], 1);
	CHECK_EQ(t.c.gpr[R_R14], 1);    /* CR3 kept the global translation */
	CHECK_EQ(t.c.gpr[R_R8], 4);     /* and not the other */
	CHECK_EQ(t.c.gpr[R_R15], 2);    /* INVLPG dropped it */
	CHECK_EQ(t.c.gpr[R_R9], 2);     /* a MOV to CR3 keeps it again */
	CHECK_EQ(t.c.gpr[R_R10], 1);    /* PGE off and on dropped it */
	tcpu_free(&t);
}

/*
 * REP STOSQ across a page end, REP MOVSB one byte above its source (it
 * repeats the first byte: not a memmove), REP MOVSQ of a page, and the
 * same backwards (DF = 1), which takes the one-at-a-time path.
 */
GUEST_CODE(g_strings, C64,
	"mov $0x20ff8, %rdi\n mov $0x1122334455667788, %rax\n mov $4, %ecx\n cld\n rep stosq\n"
	"mov $0x22000, %rdi\n movb $0x5a, (%rdi)\n mov %rdi, %rsi\n inc %rdi\n"
	"mov $100, %ecx\n rep movsb\n"
	"mov $0x24000, %rdi\n mov $0x25000, %rsi\n mov $512, %ecx\n rep movsq\n"
	"mov $0x26ff8, %rdi\n mov $0x25ff8, %rsi\n mov $512, %ecx\n std\n rep movsq\n cld\n");

/*
 * REP MOVSQ between linear addresses 4 MiB apart, which share their TLB
 * entry: linear 0x400000 is a 2 MiB page at physical 0x200000, so the
 * copy from 0x100000 lands at physical 0x300000.
 */
GUEST_CODE(g_movs_alias, C64,
	"mov $0x100000, %rsi\n mov $0x500000, %rdi\n mov $0x2000, %ecx\n cld\n rep movsq\n");

static void test_movs_same_tlb_entry(void)
{
	struct tcpu t;
	tcpu_init(&t, T_LONG);
	t_write(&t, 0x12010, 8, 0x200083);      /* PD[2]: 2 MiB at 0x200000 */
	for (int i = 0; i < 0x10000; i++)
		t.mem[0x100000 + i] = (uint8_t)(i * 7 + (i >> 8));
	CHECK(tcpu_exec(&t, g_movs_alias, g_movs_alias_end));
	CHECK(!memcmp(t.mem + 0x300000, t.mem + 0x100000, 0x10000));
	CHECK_EQ(t.c.gpr[R_CX], 0);
	CHECK_EQ(t.c.gpr[R_DI], 0x510000);
	tcpu_free(&t);
}

static void test_string_runs(void)
{
	struct tcpu t;
	tcpu_init(&t, T_LONG);
	for (int i = 0; i < 4096; i++)
		t.mem[0x25000 + i] = (uint8_t)(i * 7);
	CHECK(tcpu_exec(&t, g_strings, g_strings_end));
	for (int i = 0; i < 4; i++)
		CHECK_EQ(t_read(&t, 0x20ff8 + 8 * (uint64_t)i, 8), 0x1122334455667788ULL);
	CHECK_EQ(t_read(&t, 0x21018, 8), 0);
	CHECK_EQ(t.c.gpr[R_CX], 0);
	for (int i = 0; i <= 100; i++)
		CHECK_EQ(t.mem[0x22000 + i], 0x5a);
	CHECK(!memcmp(t.mem + 0x24000, t.mem + 0x25000, 4096));
	CHECK(!memcmp(t.mem + 0x26000, t.mem + 0x25000, 4096));
	CHECK_EQ(t.c.gpr[R_DI], 0x25ff8);
	tcpu_free(&t);
}

/*
 * A rotate sets CF and OF only: ZF and SF of the compare before it stay.
 * Shifts leave their flags lazy: CF, and the signed conditions, read
 * back right. ADC chains carry through lazy ADC results.
 */
GUEST_CODE(g_flags, C64,
	"mov $5, %eax\n cmp $5, %eax\n mov $1, %ebx\n ror $1, %ebx\n"
	"setz %r8b\n setc %r9b\n seto %r10b\n"
	"mov $-1, %eax\n add $1, %eax\n rol $4, %ebx\n setz %r11b\n setc %r12b\n"
	"mov $3, %edx\n shr $1, %edx\n setc %r13b\n sar $5, %edx\n setz %r14b\n"
	"mov $0x80000000, %esi\n shl $1, %esi\n setc %r15b\n"
	"mov $-1, %rax\n mov $-1, %rbx\n xor %ecx, %ecx\n add $1, %rax\n adc $0, %rbx\n adc $0, %rcx\n");

static void test_lazy_flags(void)
{
	struct tcpu t;
	tcpu_init(&t, T_LONG);
	CHECK(tcpu_exec(&t, g_flags, g_flags_end));
	CHECK_EQ(t.c.gpr[R_R8] & 0xff, 1);      /* ZF of the compare */
	CHECK_EQ(t.c.gpr[R_R9] & 0xff, 1);      /* CF: the bit rotated into the top */
	CHECK_EQ(t.c.gpr[R_R10] & 0xff, 1);     /* OF: top two bits differ */
	CHECK_EQ(t.c.gpr[R_R11] & 0xff, 1);     /* ZF of the add survives ROL */
	CHECK_EQ(t.c.gpr[R_R12] & 0xff, 0);     /* ROL's CF: bit 0 of 0x00000008 */
	CHECK_EQ(t.c.gpr[R_R13] & 0xff, 1);
	CHECK_EQ(t.c.gpr[R_R14] & 0xff, 1);
	CHECK_EQ(t.c.gpr[R_R15] & 0xff, 1);
	CHECK_EQ(t.c.gpr[R_AX], 0);
	CHECK_EQ(t.c.gpr[R_BX], 0);
	CHECK_EQ(t.c.gpr[R_CX], 1);
	tcpu_free(&t);
}

/*
 * Register forms the decoder rewrites (reg <- r/m swapped to r/m <- reg,
 * the accumulator forms, byte registers AH..BH), CMOV of a 32-bit
 * register when false (still zero-extends), PUSH/POP RSP, and RMW on
 * memory.
 */
GUEST_CODE(g_forms, C64,
	"mov $0x1234, %eax\n mov $0x10, %ecx\n add %ecx, %eax\n"       /* 03 C1 form via add r, r/m */
	".byte 0x03, 0xc1\n"                                            /* add eax, ecx: reg <- r/m */
	"mov $0xff00, %edx\n add $0x01, %dh\n mov %dh, %bl\n"
	"mov $-1, %rsi\n xor %edi, %edi\n cmp $1, %edi\n cmovz %edi, %esi\n"
	"mov %rsp, %r8\n push %rsp\n pop %r9\n push %rax\n pop %rsp\n mov %rsp, %r10\n mov %r8, %rsp\n"
	"movq $40, 0x20000\n subq $2, 0x20000\n incq 0x20000\n shlq $1, 0x20000\n xorb $1, 0x20000\n");

static void test_specialized_forms(void)
{
	struct tcpu t;
	tcpu_init(&t, T_LONG);
	CHECK(tcpu_exec(&t, g_forms, g_forms_end));
	CHECK_EQ(t.c.gpr[R_AX], 0x1254);
	CHECK_EQ(t.c.gpr[R_DX], 0x0000);        /* DH wrapped to 0 */
	CHECK_EQ(t.c.gpr[R_BX] & 0xff, 0);
	CHECK_EQ(t.c.gpr[R_SI], 0xffffffffULL); /* the false CMOV zero-extended */
	CHECK_EQ(t.c.gpr[R_R9], t.c.gpr[R_R8]);
	CHECK_EQ(t.c.gpr[R_R10], 0x1254);
	CHECK_EQ(t_read(&t, T_DATA, 8), (40 - 2 + 1) * 2 ^ 1);
	tcpu_free(&t);
}

/*
 * Pure handlers whose flags are dead leave them (exec.c's liveness
 * pass): the values must not change, and flags that something reads
 * must survive. Flags passed through by INC and a zero-count shift stay
 * live; those before an instruction that may fault stay exact.
 */
GUEST_CODE(g_dead, C64,
	"mov $7, %eax\n add $3, %eax\n sub $1, %eax\n xor $0xff, %eax\n imul $3, %eax, %eax\n"
	"shl $2, %eax\n inc %eax\n mov %eax, %r8d\n cmp $0, %eax\n"
	"mov $5, %ebx\n xor %ecx, %ecx\n cmp $5, %ebx\n shl %cl, %edx\n setz %r9b\n"
	"mov $1, %ebx\n add $-1, %ebx\n inc %esi\n setc %r10b\n"
	"mov $-1, %r11\n mov $0x1234, %r12\n add $1, %r11\n mov %r12, %r13\n mov $0, %edx\n div %ecx\n");

static void test_dead_flags(void)
{
	struct tcpu t;
	tcpu_init(&t, T_LONG);
	tcpu_load(&t, g_dead, g_dead_end);
	tcpu_run(&t);
	CHECK_EQ(tcpu_vector(&t), EX_DE);
	CHECK_EQ(t.c.gpr[R_R8], ((((7 + 3 - 1) ^ 0xff) * 3) << 2) + 1);
	CHECK_EQ(t.c.gpr[R_R9] & 0xff, 1);      /* ZF of the compare, through SHL by 0 */
	CHECK_EQ(t.c.gpr[R_R10] & 0xff, 1);     /* CF of the add, through INC */
	CHECK_EQ(t.c.gpr[R_R13], 0x1234);
	/* At the #DE: ZF and CF of "add $1" to -1, in RFLAGS and in the frame pushed. */
	CHECK_EQ(t_flags(&t) & (F_ZF | F_CF), F_ZF | F_CF);
	CHECK_EQ(t_read(&t, t.c.gpr[R_SP] + 16, 8) & (F_ZF | F_CF), F_ZF | F_CF);
	tcpu_free(&t);
}

/*
 * Runs of instructions as host code (jit.c), against the handlers: a
 * loop whose body is one long run (the multiply-accumulate step of the
 * kernel's multi-precision code, byte registers AH and BH, 32-bit
 * results that clear the upper half, shifts by CL, LEA with an index,
 * CMOV and SETcc, PUSH and POP) and a run that reads the flags a memory
 * instruction left (ADC after CMP with memory). The run uses every
 * register but RSP and R15, so the code must keep the struct cpu in R15
 * and save it.
 */
GUEST_CODE(g_runs, C64,
	"mov $0x1000, %rsp\n"
	"mov $0x123456789abcdef1, %rax\n mov $0x0fedcba987654321, %rbx\n"
	"mov $5, %ecx\n mov $0x20, %edi\n xor %esi, %esi\n xor %r11d, %r11d\n"
	"mov $0xffffffff00000003, %rbp\n mov $0x3000, %r14\n movq $7, (%r14)\n"
	"1: mov %rax, %rdx\n mov %eax, %r8d\n shr $0x20, %rdx\n mov %rbx, %r9\n"
	"imul %r9, %r8\n imul %rdx, %r9\n mov %r8, %r10\n shl %cl, %r10\n"
	"add %r9, %r10\n cmp %r8, %r10\n mov %r10, %r12\n cmovae %r8, %r12\n"
	"setb %sil\n movzbl %sil, %r13d\n add %r13, %r11\n lea 0x10(%r12,%r13,8), %r12\n"
	"mov $0x12, %ah\n mov %bh, %bl\n add %bl, %ah\n movzbl %ah, %edx\n"
	"add $1, %ebp\n sar $3, %r12\n xor %r12, %rax\n add %rbx, %rax\n"
	"rol $7, %rbx\n sub %rdx, %rbx\n inc %r11\n push %r12\n push %rbx\n pop %r12\n pop %rbx\n dec %edi\n"
	"jnz 1b\n"
	"cmp (%r14), %rcx\n adc %rax, %rdx\n adc $0, %r8\n setc %r9b\n sbb %r10d, %r10d\n"
	"movsbq %r9b, %r9\n movswq %ax, %r10\n movslq %ebx, %r13\n"
	"hlt\n");

/*
 * Runs the code from start to end in long mode, twice: h by the handlers
 * alone, j with every run of instructions it can as host code.
 */
static void run_both_ways(struct tcpu *h, struct tcpu *j, const uint8_t *start, const uint8_t *end)
{
	int old = cpu_jit_min_run;
	struct tcpu *t[2] = { h, j };
	for (int i = 0; i < 2; i++) {
		cpu_jit_min_run = i;
		tcpu_init(t[i], T_LONG);
		tcpu_load(t[i], start, end);
		tcpu_run(t[i]);
	}
	cpu_jit_min_run = old;
}

static void test_jit_runs(void)
{
	struct tcpu h, j;
	run_both_ways(&h, &j, g_runs, g_runs_end);
	CHECK_EQ(cpu_host_code_bytes(&h.c), 0);
	CHECK(cpu_host_code_bytes(&j.c) > 0);
	CHECK_EQ(h.c.rip, j.c.rip);
	for (int r = 0; r < 16; r++)
		CHECK_EQ(j.c.gpr[r], h.c.gpr[r]);
	CHECK_EQ(t_flags(&j) & F_ARITH, t_flags(&h) & F_ARITH);
	CHECK_EQ(h.c.gpr[R_BP], 0x23);          /* 3 + 0x20, the upper half cleared */
	tcpu_free(&h);
	tcpu_free(&j);
}

/*
 * A page fault in the middle of a run of host code: the instructions
 * before the load are done, the load's own handler raises the fault, and
 * the flags the ADD left reach the handler exact.
 */
GUEST_CODE(g_run_fault, C64,
	"mov $0x1000, %rsp\n"
	"mov $5, %eax\n mov $7, %ebx\n lea 1(%rbx), %ecx\n imul %ecx, %ebx\n add $-5, %eax\n"
	"mov $0x7f0000000000, %r8\n mov 8(%r8), %rdx\n"
	"mov $9, %ebx\n hlt\n");

static void test_jit_run_fault(void)
{
	struct tcpu h, j;
	run_both_ways(&h, &j, g_run_fault, g_run_fault_end);
	CHECK(cpu_host_code_bytes(&j.c) > 0);
	CHECK_EQ(tcpu_vector(&j), EX_PF);
	CHECK_EQ(tcpu_vector(&h), EX_PF);
	CHECK_EQ(j.c.gpr[R_BX], 56);
	CHECK_EQ(j.c.gpr[R_CX], 8);
	CHECK_EQ(t_flags(&j) & (F_ZF | F_CF), F_ZF | F_CF);
	for (int r = 0; r < 16; r++)
		CHECK_EQ(j.c.gpr[r], h.c.gpr[r]);
	CHECK_EQ(t_flags(&j) & F_ARITH, t_flags(&h) & F_ARITH);
	tcpu_free(&h);
	tcpu_free(&j);
}

/*
 * A fault in a run after INC and DEC, which keep CF: the carry the
 * handler sees is the guest's from before the run, set and then clear,
 * whatever the host's was when the run's code began.
 */
#define PASS_FAULT_RUN \
	"popfq\n inc %eax\n dec %ebx\n inc %ecx\n dec %edx\n inc %esi\n mov 8(%r8), %rdx\n"
GUEST_CODE(g_pass_fault_cf1, C64,
	"mov $0x1000, %rsp\n mov $0x7f0000000000, %r8\n stc\n pushfq\n" PASS_FAULT_RUN);
GUEST_CODE(g_pass_fault_cf0, C64,
	"mov $0x1000, %rsp\n mov $0x7f0000000000, %r8\n clc\n pushfq\n" PASS_FAULT_RUN);

static void test_jit_pass_fault(void)
{
	const uint8_t *code[2][2] = { { g_pass_fault_cf1, g_pass_fault_cf1_end },
				      { g_pass_fault_cf0, g_pass_fault_cf0_end } };
	for (int k = 0; k < 2; k++) {
		struct tcpu h, j;
		run_both_ways(&h, &j, code[k][0], code[k][1]);
		CHECK_EQ(tcpu_vector(&j), EX_PF);
		CHECK_EQ(t_flags(&j) & F_CF, k ? 0 : F_CF);
		CHECK_EQ(t_flags(&j) & F_ARITH, t_flags(&h) & F_ARITH);
		tcpu_free(&h);
		tcpu_free(&j);
	}
}

/*
 * Blocks that branch back to their own start loop in host code: a
 * memory load before the first flag write, a loop that reads the flags
 * the last pass left, and a JMP loop that walks into an unmapped page.
 * Each runs longer than a chain may, so the loops leave their code and
 * come back to it.
 */
GUEST_CODE(g_loops, C64,
	"mov $0x100000, %rsi\n mov $3000, %ecx\n xor %eax, %eax\n xor %edx, %edx\n"
	"1: mov (%rsi), %rbx\n add %rbx, %rax\n adc $0, %rdx\n mov %rax, 8(%rsi)\n"
	"lea 1(%rax,%rdx,2), %rbx\n mov %rbx, (%rsi)\n dec %ecx\n jnz 1b\n"
	"mov $2000, %edi\n mov $0x9e3779b97f4a7c15, %r8\n stc\n"
	"2: adc %rdi, %r8\n rol $3, %r8\n setc %r10b\n add %r10, %r11\n dec %edi\n jnz 2b\n"
	"mov $0x3ff000, %rsi\n"
	"3: add (%rsi), %r9\n add $0x100, %rsi\n lea 0x35(%r12,%rsi), %r12\n test $0x5a5, %r12d\n jmp 3b\n");

static void check_same(struct tcpu *h, struct tcpu *j)
{
	CHECK_EQ(h->c.rip, j->c.rip);
	CHECK_EQ(h->c.icount, j->c.icount);
	for (int r = 0; r < 16; r++)
		CHECK_EQ(j->c.gpr[r], h->c.gpr[r]);
	CHECK_EQ(t_flags(j) & F_ARITH, t_flags(h) & F_ARITH);
}

/* Both runs ended in the same state; then they go. */
static void same_and_free(struct tcpu *h, struct tcpu *j)
{
	check_same(h, j);
	tcpu_free(h);
	tcpu_free(j);
}

static void test_jit_loops(void)
{
	struct tcpu h, j;
	run_both_ways(&h, &j, g_loops, g_loops_end);
	CHECK(cpu_host_code_bytes(&j.c) > 0);
	CHECK_EQ(tcpu_vector(&j), EX_PF);
	CHECK_EQ(j.c.gpr[R_SI], 0x400000);      /* the 17th pass of the JMP loop faulted */
	CHECK_EQ(j.c.gpr[R_CX], 0);
	CHECK_EQ(j.c.gpr[R_DI], 0);
	same_and_free(&h, &j);
}

/*
 * Register instructions that name RSP, which host code runs on another
 * host register: a frame set up and torn down, RSP as a source, a
 * destination, a LEA base and a byte register (SPL), in runs, in a loop
 * and in hosted blocks that CALL and RET, with PUSH and POP and loads
 * based on RSP between them. The flags of a CMP with RSP must survive.
 */
GUEST_CODE(g_rsp_regs, C64,
	"mov $0x8000, %rsp\n mov $3, %ebx\n mov $50, %ecx\n xor %r9d, %r9d\n"
	"1: push %rbp\n mov %rsp, %rbp\n sub $0x28, %rsp\n lea 8(%rsp), %rax\n"
	"lea (%rsp,%rbx,2), %rdx\n mov %rax, (%rsp)\n add %rsp, %r9\n and $-16, %rsp\n"
	"mov %rsp, %r8\n add $1, %spl\n sub $1, %spl\n call 2f\n"
	"mov %rbp, %rsp\n pop %rbp\n cmp %rsp, %rdx\n setb %r10b\n add %r10, %r11\n"
	"dec %ecx\n jnz 1b\n"
	"mov $200, %ecx\n"
	"3: sub $8, %rsp\n mov %rsp, %rsi\n xor %rsp, %rsi\n add $8, %rsp\n add %rsi, %r12\n"
	"lea -16(%rsp,%rcx,8), %r13\n dec %ecx\n jnz 3b\n"
	"mov %rsp, %r14\n hlt\n"
	"2: mov (%rsp), %rdi\n lea 8(%rsp), %r15\n xchg %rdi, %rdi\n neg %r15\n not %r15\n add %r15, %r9\n ret\n");

static void test_jit_rsp_registers(void)
{
	struct tcpu h, j;
	run_both_ways(&h, &j, g_rsp_regs, g_rsp_regs_end);
	CHECK(cpu_host_code_bytes(&j.c) > 0);
	CHECK_EQ(j.c.gpr[R_SP], 0x8000);
	CHECK_EQ(j.c.gpr[R_CX], 0);
	same_and_free(&h, &j);
}

/*
 * Runs the code from start to end by the handlers alone and with host
 * code, each time with a budget from first to last by step: both stop at
 * the same instruction.
 */
static void check_budget_stops(const uint8_t *start, const uint8_t *end, uint64_t first, uint64_t last,
			       uint64_t step)
{
	int old = cpu_jit_min_run;
	for (uint64_t budget = first; budget < last; budget += step) {
		struct tcpu t[2];
		for (int i = 0; i < 2; i++) {
			cpu_jit_min_run = i;
			tcpu_init(&t[i], T_LONG);
			tcpu_load(&t[i], start, end);
			t[i].c.budget = budget;
			CHECK_EQ(cpu_run(&t[i].c), EXIT_PREEMPTION_TIMER);
		}
		check_same(&t[0], &t[1]);
		tcpu_free(&t[0]);
		tcpu_free(&t[1]);
	}
	cpu_jit_min_run = old;
}

/* The budget ends a loop of host code where it ends the same loop run by the handlers. */
static void test_jit_loop_budget(void)
{
	check_budget_stops(g_loops, g_loops_end, 997, 40000, 7919);
}

/*
 * Hosted blocks: a loop of three blocks, each all host code with its
 * JMP or Jcc, goes from one block's code to the next's; then the loop
 * walks into an unmapped page (a miss in a block entered from another's
 * code); then a block the loop runs is rewritten between two passes.
 */
GUEST_CODE(g_hosted, C64,
	"mov $0x3f0000, %rsi\n mov $40000, %ecx\n xor %eax, %eax\n xor %edx, %edx\n"
	"1: mov (%rsi), %rbx\n add %rcx, %rbx\n test $1, %cl\n jz 2f\n"
	"xor %rbx, %rax\n jmp 3f\n"
	"2: add %rbx, %rdx\n"
	"3: mov %rax, (%rsi)\n rol $1, %rdx\n add $8, %rsi\n dec %ecx\n jnz 1b\n"
	"ud2\n");
GUEST_CODE(g_hosted_rewrite, C64,
	"xor %eax, %eax\n mov $2, %r9d\n"
	"0: mov $3, %r8d\n"
	"1: jmp 2f\n"
	"2: add $1, %eax\n dec %r8d\n jnz 1b\n"
	"movb $5, 2b+2(%rip)\n dec %r9d\n jnz 0b\n hlt\n");

/*
 * CALL and RET of hosted blocks: a recursion, a RET that pops more than
 * its address, then a RET whose pop misses the TLB on an unmapped page
 * (its handler faults), and a CALL whose push misses the TLB on a page
 * not used before (its handler does the CALL).
 */
GUEST_CODE(g_hosted_calls, C64,
	"mov $0x8000, %rsp\n mov $14, %edi\n xor %eax, %eax\n call 1f\n"
	"push $7\n call 2f\n mov %rax, %r12\n mov %rsp, %r13\n"
	"mov $0x400000, %rsp\n jmp 3f\n"
	"1: add %rdi, %rax\n dec %rdi\n jz 0f\n call 1b\n inc %rdi\n lea 1(%rax), %rax\n0: ret\n"
	"2: mov 8(%rsp), %rbx\n lea (%rax,%rbx,2), %rax\n ret $8\n"
	"3: ret\n");
GUEST_CODE(g_hosted_call_miss, C64,
	"mov $0x3f0000, %rsp\n xor %eax, %eax\n add $3, %eax\n jmp 2f\n2: call 1f\n hlt\n1: ret\n");

static void test_hosted_blocks(void)
{
	struct tcpu h, j;
	run_both_ways(&h, &j, g_hosted, g_hosted_end);
	CHECK_EQ(tcpu_vector(&j), EX_PF);
	CHECK_EQ(j.c.gpr[R_SI], 0x400000);      /* the 8192nd pass faulted */
	same_and_free(&h, &j);
	run_both_ways(&h, &j, g_hosted_calls, g_hosted_calls_end);
	CHECK_EQ(tcpu_vector(&j), EX_PF);
	CHECK_EQ(j.c.gpr[R_AX], 105 + 13 + 14);    /* 14+13+...+1, 13 incs and 7*2 */
	CHECK_EQ(j.c.gpr[R_R12], 105 + 13 + 14);
	same_and_free(&h, &j);
	run_both_ways(&h, &j, g_hosted_call_miss, g_hosted_call_miss_end);
	CHECK_EQ(tcpu_vector(&j), -1);
	CHECK_EQ(j.c.gpr[R_AX], 3);
	CHECK_EQ(j.c.gpr[R_SP], 0x3f0000);
	same_and_free(&h, &j);
	run_both_ways(&h, &j, g_hosted_rewrite, g_hosted_rewrite_end);
	CHECK_EQ(j.c.gpr[R_AX], 3 * 1 + 3 * 5);
	same_and_free(&h, &j);
}

/*
 * A branch to linear address 0 from a block that has one link, the
 * other slot still empty: the empty slot is not a link to address 0.
 * The code there (written by the guest) is a HLT.
 */
GUEST_CODE(g_link_zero, C64,
	"movb $0xf4, 0\n mov $2000, %ecx\n"
	"1: dec %ecx\n jz g_link_zero - 0x1000\n jmp 1b\n");

static void test_branch_to_zero(void)
{
	struct tcpu h, j;
	run_both_ways(&h, &j, g_link_zero, g_link_zero_end);
	CHECK_EQ(j.c.rip, 0);
	CHECK_EQ(j.c.gpr[R_CX], 0);
	same_and_free(&h, &j);
}

/*
 * SHL, SHR and SAR by an immediate count that masks to 0 keep the flags
 * (the CMP's CF reaches the SETC), by any other count they write them.
 */
GUEST_CODE(g_shift_counts, C64,
	"mov $1, %eax\n mov $-1, %ebx\n xor %r8d, %r8d\n"
	"cmp $2, %eax\n shl $0, %ebx\n setc %r8b\n"
	"cmp $2, %eax\n shr $32, %ebx\n adc $0, %r8d\n"
	"cmp $2, %eax\n sar $64, %rbx\n adc $0, %r8d\n"
	"cmp $2, %eax\n shl $1, %ebx\n adc $0, %r8d\n"
	"cmp $2, %eax\n shr $31, %ebx\n adc $0, %r8d\n");

static void test_shift_count_flags(void)
{
	struct tcpu h, j;
	run_both_ways(&h, &j, g_shift_counts, g_shift_counts_end);
	CHECK_EQ(j.c.gpr[R_R8], 3 + 1 + 1);        /* 3 kept CF; SHL by 1 and SHR by 31 shift out a 1 */
	CHECK_EQ(j.c.gpr[R_BX], 1);
	same_and_free(&h, &j);
}

/*
 * RETs of hosted blocks through the return stack: a function called
 * from three places in a loop (more callers than a block has links)
 * that every eighth time returns elsewhere than its CALL returns, to
 * one of two places (it rewrote the address on the stack): the stack
 * and the links predict, the guest decides.
 */
GUEST_CODE(g_ret_stack, C64,
	"mov $0x8000, %rsp\n mov $300, %ebx\n"
	"xor %r12d, %r12d\n xor %r13d, %r13d\n xor %r14d, %r14d\n xor %r15d, %r15d\n"
	"1: call 3f\n add $1, %r12d\n call 3f\n add $2, %r12d\n call 3f\n add $3, %r12d\n"
	"2: dec %ebx\n jnz 1b\n jmp 5f\n"
	"9: add $5, %r15d\n jmp 2b\n"
	"3: inc %r14d\n test $7, %r14b\n jnz 4f\n"
	"lea 2b(%rip), %rax\n test $8, %r14b\n jz 8f\n lea 9b(%rip), %rax\n"
	"8: mov %rax, (%rsp)\n jmp 4f\n"
	"4: add $10, %r13d\n ret\n"
	"5:\n");

static void test_ret_stack(void)
{
	struct tcpu h, j;
	run_both_ways(&h, &j, g_ret_stack, g_ret_stack_end);
	/* Every eighth call returns to 2 or 9, and the pass's calls after it are skipped. */
	CHECK_EQ(j.c.gpr[R_R13], 10 * j.c.gpr[R_R14]);
	CHECK(j.c.gpr[R_R14] > 300 * 2 && j.c.gpr[R_R14] < 300 * 3);
	CHECK(j.c.gpr[R_R15] > 0);
	CHECK_EQ(j.c.gpr[R_SP], 0x8000);
	same_and_free(&h, &j);
}

/*
 * An instruction that crosses a page end starts a block of its own,
 * fetched and decoded each time it runs: a write to its bytes on the
 * second page (which its block does not know) takes effect at once.
 * The routine is "mov $imm32, %eax" at 0x40ffe, its immediate mostly on
 * the next page, then "add %eax, %r12d" and RET.
 */
GUEST_CODE(g_cross_page, C64,
	"mov $0x40ffe, %rdi\n"
	"movw $0x01b8, (%rdi)\n movl $0x41000000, 2(%rdi)\n"
	"movw $0xc401, 6(%rdi)\n movb $0xc3, 8(%rdi)\n"
	"xor %r12d, %r12d\n mov $100, %ebx\n"
	"1: call *%rdi\n dec %ebx\n jnz 1b\n"
	"movb $1, 2(%rdi)\n mov $100, %ebx\n"                  /* the immediate becomes 0x101 */
	"2: call *%rdi\n dec %ebx\n jnz 2b\n");

static void test_cross_page_block(void)
{
	struct tcpu h, j;
	run_both_ways(&h, &j, g_cross_page, g_cross_page_end);
	CHECK_EQ(j.c.gpr[R_R12], 100 + 100 * 0x101);
	CHECK_EQ(j.c.gpr[R_AX], 0x101);
	same_and_free(&h, &j);
}

/* The budget ends hosted blocks where it ends the handlers. */
static void test_hosted_budget(void)
{
	check_budget_stops(g_hosted, g_hosted_end, 1001, 60000, 6007);
}

/*
 * A page that held code and is then written over and over (as the
 * kernel's decompressor leaves its pages) stops being a code page; new
 * code written there later must still run, not the blocks decoded before.
 */
GUEST_CODE(g_code_to_data, C64,
	"mov $0x40000, %rdi\n"
	"movl $0x000001b8, (%rdi)\n movw $0xc300, 4(%rdi)\n"     /* mov $1, %eax; ret */
	"call *%rdi\n mov %eax, %r12d\n"
	"mov $100, %ecx\n"
	"1: mov %ecx, 0x800(%rdi)\n dec %ecx\n jnz 1b\n"
	"movb $2, 1(%rdi)\n call *%rdi\n mov %eax, %r13d\n"
	"movb $3, 1(%rdi)\n call *%rdi\n mov %eax, %r14d\n");

static void test_code_page_to_data(void)
{
	struct tcpu t;
	tcpu_init(&t, T_LONG);
	tcpu_load(&t, g_code_to_data, g_code_to_data_end);
	t.c.gpr[R_SP] = 0x1000;
	tcpu_run(&t);
	CHECK_EQ(t.c.gpr[R_R12], 1);
	CHECK_EQ(t.c.gpr[R_R13], 2);
	CHECK_EQ(t.c.gpr[R_R14], 3);
	tcpu_free(&t);
}

int main(void)
{
	RUN(test_remap_code);
	RUN(test_global_pages);
	RUN(test_string_runs);
	RUN(test_movs_same_tlb_entry);
	RUN(test_lazy_flags);
	RUN(test_specialized_forms);
	RUN(test_dead_flags);
	RUN(test_jit_runs);
	RUN(test_jit_run_fault);
	RUN(test_jit_pass_fault);
	RUN(test_jit_loops);
	RUN(test_jit_rsp_registers);
	RUN(test_jit_loop_budget);
	RUN(test_hosted_blocks);
	RUN(test_hosted_budget);
	RUN(test_branch_to_zero);
	RUN(test_shift_count_flags);
	RUN(test_code_page_to_data);
	RUN(test_cross_page_block);
	RUN(test_ret_stack);
	TEST_EXIT();
}
