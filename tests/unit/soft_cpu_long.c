/* The soft CPU in 64-bit mode: integer instructions, flags, memory, exceptions. */
#include "soft_cpu.h"

#define C64 ".code64"

GUEST_CODE(g_mov, C64,
	"mov $0x1122334455667788, %rax\n"
	"mov %eax, %ebx\n"              /* zero-extends */
	"mov $-1, %rcx\n mov %ax, %cx\n"
	"movabs %rax, 0x20000\n"
	"lea 0x10(%rax,%rbx,4), %rdx\n");

static void test_mov(void)
{
	struct tcpu t;
	tcpu_init(&t, T_LONG);
	CHECK(tcpu_exec(&t, g_mov, g_mov_end));
	CHECK_EQ(t.c.gpr[R_BX], 0x55667788);
	CHECK_EQ(t.c.gpr[R_CX], 0xffffffffffff7788ULL);
	CHECK_EQ(t_read(&t, T_DATA, 8), 0x1122334455667788ULL);
	CHECK_EQ(t.c.gpr[R_DX], 0x1122334455667788ULL + 0x10 + 4 * 0x55667788ULL);
	tcpu_free(&t);
}

GUEST_CODE(g_riprel, C64,
	"lea data_here(%rip), %rax\n"
	"mov data_here(%rip), %rbx\n"
	"jmp 1f\n"
	"data_here: .quad 0xfeedface12345678\n"
	"1:\n");

static void test_rip_relative(void)
{
	struct tcpu t;
	tcpu_init(&t, T_LONG);
	CHECK(tcpu_exec(&t, g_riprel, g_riprel_end));
	CHECK_EQ(t.c.gpr[R_BX], 0xfeedface12345678ULL);
	CHECK_EQ(t.c.gpr[R_AX], T_CODE + 7 + 7 + 2);
	tcpu_free(&t);
}

GUEST_CODE(g_add_flags, C64,
	"mov $0x7fffffff, %eax\n add $1, %eax\n pushfq\n"      /* OF SF AF PF */
	"mov $-1, %rbx\n add $1, %rbx\n pushfq\n"              /* CF ZF AF PF */
	"xor %ecx, %ecx\n sub $1, %ecx\n pushfq\n"             /* CF SF AF PF */
	"stc\n mov $5, %edx\n adc $3, %edx\n pushfq\n"
	"stc\n mov $5, %esi\n sbb $3, %esi\n pushfq\n"
	"mov $0x80, %al\n neg %al\n pushfq\n"
	"mov $0xff, %bl\n inc %bl\n pushfq\n"
	"pop %r8\n pop %r9\n pop %r10\n pop %r11\n pop %r12\n pop %r13\n pop %r14\n");

static void test_add_flags(void)
{
	struct tcpu t;
	tcpu_init(&t, T_LONG);
	t.c.flags = 2 | F_CF;
	CHECK(tcpu_exec(&t, g_add_flags, g_add_flags_end));
	uint64_t m = F_ARITH;
	CHECK_EQ(t.c.gpr[R_R14] & m, F_OF | F_SF | F_AF | F_PF);
	CHECK_EQ(t.c.gpr[R_R13] & m, F_CF | F_ZF | F_AF | F_PF);
	CHECK_EQ(t.c.gpr[R_R12] & m, F_CF | F_SF | F_AF | F_PF);
	CHECK_EQ(t.c.gpr[R_DX], 9);
	CHECK_EQ(t.c.gpr[R_R11] & m, F_PF);
	CHECK_EQ(t.c.gpr[R_SI], 1);
	CHECK_EQ(t.c.gpr[R_R9] & m, F_CF | F_SF | F_OF);               /* neg 0x80 */
	CHECK_EQ(t.c.gpr[R_R8] & m, F_CF | F_ZF | F_AF | F_PF);        /* INC keeps NEG's CF */
	tcpu_free(&t);
}

GUEST_CODE(g_muldiv, C64,
	"mov $0x123456789, %rax\n mov $0x1000, %rcx\n mul %rcx\n mov %rax, %r8\n mov %rdx, %r9\n"
	"mov $-7, %rax\n cqo\n mov $2, %rcx\n idiv %rcx\n mov %rax, %r10\n mov %rdx, %r11\n"
	"mov $-3, %rax\n imul $5, %rax, %r12\n"
	"mov $0x100, %ax\n mov $3, %bl\n div %bl\n mov %ax, %r13w\n");

static void test_muldiv(void)
{
	struct tcpu t;
	tcpu_init(&t, T_LONG);
	CHECK(tcpu_exec(&t, g_muldiv, g_muldiv_end));
	CHECK_EQ(t.c.gpr[R_R8], 0x123456789000ULL);
	CHECK_EQ(t.c.gpr[R_R9], 0);
	CHECK_EQ(t.c.gpr[R_R10], (uint64_t)-3);
	CHECK_EQ(t.c.gpr[R_R11], (uint64_t)-1);
	CHECK_EQ(t.c.gpr[R_R12], (uint64_t)-15);
	CHECK_EQ(t.c.gpr[R_R13] & 0xffff, (1 << 8) | 85);
	tcpu_free(&t);
}

GUEST_CODE(g_divzero, C64, "xor %ecx, %ecx\n mov $1, %eax\n div %ecx\n");

static void test_divide_error(void)
{
	struct tcpu t;
	tcpu_init(&t, T_LONG);
	tcpu_load(&t, g_divzero, g_divzero_end);
	CHECK_EQ(tcpu_run(&t), EXIT_HLT);
	CHECK_EQ(tcpu_vector(&t), EX_DE);
	/* The frame: RIP of the DIV, CS, RFLAGS, RSP, SS. */
	uint64_t sp = t.c.gpr[R_SP];
	CHECK_EQ(t_read(&t, sp, 8), T_CODE + 7);
	CHECK_EQ(t_read(&t, sp + 8, 8), 0x28);
	CHECK_EQ(t_read(&t, sp + 24, 8), T_STACK);
	CHECK_EQ(sp, T_STACK - 40);
	tcpu_free(&t);
}

GUEST_CODE(g_shifts, C64,
	"mov $0x81, %al\n shl $1, %al\n pushfq\n mov %al, %bl\n"
	"mov $0x81, %al\n sar $1, %al\n mov %al, %cl\n"
	"mov $0x81, %al\n rol $1, %al\n mov %al, %dl\n"
	"mov $0x8000000000000001, %rsi\n ror $4, %rsi\n"
	"mov $0xf0, %edi\n shr $4, %edi\n"
	"mov $0x1234, %r8d\n mov $0xabcd, %r9d\n shld $4, %r9w, %r8w\n"
	"stc\n mov $0x80, %r10b\n rcl $1, %r10b\n pushfq\n pop %r12\n pop %r11\n");

static void test_shifts(void)
{
	struct tcpu t;
	tcpu_init(&t, T_LONG);
	CHECK(tcpu_exec(&t, g_shifts, g_shifts_end));
	CHECK_EQ(t.c.gpr[R_BX] & 0xff, 0x02);
	CHECK_EQ(t.c.gpr[R_R11] & (F_CF | F_OF), F_CF | F_OF);
	CHECK_EQ(t.c.gpr[R_CX] & 0xff, 0xc0);
	CHECK_EQ(t.c.gpr[R_DX] & 0xff, 0x03);
	CHECK_EQ(t.c.gpr[R_SI], 0x1800000000000000ULL);
	CHECK_EQ(t.c.gpr[R_DI], 0xf);
	CHECK_EQ(t.c.gpr[R_R8] & 0xffff, 0x234a);
	CHECK_EQ(t.c.gpr[R_R10] & 0xff, 0x01);
	CHECK_EQ(t.c.gpr[R_R12] & F_CF, F_CF);
	tcpu_free(&t);
}

GUEST_CODE(g_bits, C64,
	"mov $0x100, %eax\n bsf %eax, %ebx\n bsr %eax, %ecx\n"
	"mov $0x0f0f, %edx\n popcnt %edx, %esi\n"
	"mov $5, %edi\n bts $1, %edi\n"
	"movq $0, 0x20000\n mov $70, %r8\n bts %r8, 0x20000\n"
	"mov $0x11223344, %r9d\n bswap %r9d\n"
	"xor %r10d, %r10d\n bsf %r10d, %r11d\n setz %r12b\n");

static void test_bits(void)
{
	struct tcpu t;
	tcpu_init(&t, T_LONG);
	t.c.gpr[R_R11] = 77;
	CHECK(tcpu_exec(&t, g_bits, g_bits_end));
	CHECK_EQ(t.c.gpr[R_BX], 8);
	CHECK_EQ(t.c.gpr[R_CX], 8);
	CHECK_EQ(t.c.gpr[R_SI], 8);
	CHECK_EQ(t.c.gpr[R_DI], 7);
	CHECK_EQ(t_read(&t, T_DATA + 8, 8), 1ULL << 6);
	CHECK_EQ(t.c.gpr[R_R9], 0x44332211);
	CHECK_EQ(t.c.gpr[R_R11], 77);   /* BSF of zero leaves the destination */
	CHECK_EQ(t.c.gpr[R_R12] & 0xff, 1);
	tcpu_free(&t);
}

GUEST_CODE(g_string, C64,
	"mov $0x20000, %rdi\n mov $0xab, %al\n mov $100, %ecx\n rep stosb\n"
	"mov $0x20000, %rsi\n mov $0x20100, %rdi\n mov $25, %ecx\n rep movsl\n"
	"mov $0x20100, %rdi\n mov $0xabababab, %eax\n mov $30, %ecx\n repe scasl\n"
	"mov %rcx, %r8\n"
	"std\n mov $0x20200, %rdi\n mov $0x11, %al\n mov $4, %ecx\n rep stosb\n cld\n");

static void test_string(void)
{
	struct tcpu t;
	tcpu_init(&t, T_LONG);
	CHECK(tcpu_exec(&t, g_string, g_string_end));
	CHECK_EQ(t_read(&t, T_DATA + 99, 1), 0xab);
	CHECK_EQ(t_read(&t, T_DATA + 100, 1), 0);
	CHECK_EQ(t_read(&t, T_DATA + 0x100 + 96, 4), 0xabababab);
	CHECK_EQ(t.c.gpr[R_R8], 4);     /* 26 compared: 25 equal and one not */
	CHECK_EQ(t_read(&t, T_DATA + 0x1fd, 4), 0x11111111);
	CHECK_EQ(t.c.gpr[R_DI], T_DATA + 0x1fc);
	tcpu_free(&t);
}

GUEST_CODE(g_stack, C64,
	"push $-2\n pop %rax\n"
	"call 1f\n jmp 2f\n"
	"1: mov $7, %ebx\n ret\n"
	"2: enter $16, $0\n mov %rsp, %rcx\n leave\n mov %rsp, %rdx\n"
	"pushw $0x1234\n popw %si\n");

static void test_stack(void)
{
	struct tcpu t;
	tcpu_init(&t, T_LONG);
	CHECK(tcpu_exec(&t, g_stack, g_stack_end));
	CHECK_EQ(t.c.gpr[R_AX], (uint64_t)-2);
	CHECK_EQ(t.c.gpr[R_BX], 7);
	CHECK_EQ(t.c.gpr[R_CX], T_STACK - 8 - 16);
	CHECK_EQ(t.c.gpr[R_DX], T_STACK);
	CHECK_EQ(t.c.gpr[R_SI] & 0xffff, 0x1234);
	CHECK_EQ(t.c.gpr[R_SP], T_STACK);
	tcpu_free(&t);
}

GUEST_CODE(g_atomics, C64,
	"movq $5, 0x20000\n mov $5, %eax\n mov $9, %ebx\n lock cmpxchg %rbx, 0x20000\n setz %r8b\n"
	"mov $1, %ecx\n lock xadd %rcx, 0x20000\n mov %rcx, %r10\n"
	"mov $3, %edx\n xchg %rdx, 0x20000\n"
	"xor %eax, %eax\n xor %edx, %edx\n mov $0x55, %ebx\n mov $0x66, %ecx\n lock cmpxchg16b 0x20010\n setz %r9b\n"
	"lock incl 0x20020\n lock orq $0xf0, 0x20028\n");

static void test_atomics(void)
{
	struct tcpu t;
	tcpu_init(&t, T_LONG);
	CHECK(tcpu_exec(&t, g_atomics, g_atomics_end));
	CHECK_EQ(t.c.gpr[R_R8] & 0xff, 1);
	CHECK_EQ(t.c.gpr[R_R10], 9);
	CHECK_EQ(t.c.gpr[R_DX], 0);     /* overwritten by the CMPXCHG16B setup */
	CHECK_EQ(t_read(&t, T_DATA, 8), 3);
	CHECK_EQ(t.c.gpr[R_R9] & 0xff, 1);
	CHECK_EQ(t_read(&t, T_DATA + 0x10, 8), 0x55);
	CHECK_EQ(t_read(&t, T_DATA + 0x18, 8), 0x66);
	CHECK_EQ(t_read(&t, T_DATA + 0x20, 4), 1);
	CHECK_EQ(t_read(&t, T_DATA + 0x28, 8), 0xf0);
	tcpu_free(&t);
}

GUEST_CODE(g_ud, C64, "ud2\n");
GUEST_CODE(g_gp_noncanon, C64, "mov $0x8000000000000000, %rax\n mov (%rax), %rbx\n");

static void test_faults(void)
{
	struct tcpu t;
	tcpu_init(&t, T_LONG);
	tcpu_load(&t, g_ud, g_ud_end);
	CHECK_EQ(tcpu_run(&t), EXIT_HLT);
	CHECK_EQ(tcpu_vector(&t), EX_UD);
	tcpu_free(&t);

	tcpu_init(&t, T_LONG);
	tcpu_load(&t, g_gp_noncanon, g_gp_noncanon_end);
	CHECK_EQ(tcpu_run(&t), EXIT_HLT);
	CHECK_EQ(tcpu_vector(&t), EX_GP);
	CHECK_EQ(t_read(&t, t.c.gpr[R_SP], 8), 0);     /* error code */
	tcpu_free(&t);
}

/* Unmapping the page at 2 MiB: a write there faults with P=0, W=1. */
GUEST_CODE(g_pf, C64, "mov $0x200010, %rax\n movl $1, (%rax)\n");

static void test_page_fault(void)
{
	struct tcpu t;
	tcpu_init(&t, T_LONG);
	t_write(&t, 0x12008, 8, 0);
	tcpu_load(&t, g_pf, g_pf_end);
	CHECK_EQ(tcpu_run(&t), EXIT_HLT);
	CHECK_EQ(tcpu_vector(&t), EX_PF);
	CHECK_EQ(t.c.cr2, 0x200010);
	CHECK_EQ(t_read(&t, t.c.gpr[R_SP], 8), 2);
	CHECK_EQ(t_read(&t, t.c.gpr[R_SP] + 8, 8), T_CODE + 7);
	tcpu_free(&t);
}

/* 4 KiB pages: accessed and dirty bits appear in the PTE. */
GUEST_CODE(g_ad, C64, "mov 0x300000, %eax\n movl $5, 0x301000\n");

static void test_accessed_dirty(void)
{
	struct tcpu t;
	tcpu_init(&t, T_LONG);
	t_write(&t, 0x12008, 8, 0x13003);               /* PD[1] -> page table */
	t_write(&t, 0x13000 + 0x100 * 8, 8, 0x300003);
	t_write(&t, 0x13000 + 0x101 * 8, 8, 0x301003);
	CHECK(tcpu_exec(&t, g_ad, g_ad_end));
	CHECK_EQ(t_read(&t, 0x13000 + 0x100 * 8, 8), 0x300023);
	CHECK_EQ(t_read(&t, 0x13000 + 0x101 * 8, 8), 0x301063);
	CHECK_EQ(t_read(&t, 0x301000, 4), 5);
	tcpu_free(&t);
}

/* Code that rewrites an instruction ahead of it, in the same block. */
GUEST_CODE(g_smc, C64,
	"lea 1f(%rip), %rax\n movb $7, 1(%rax)\n"
	"1: mov $1, %ebx\n");

static void test_self_modifying(void)
{
	struct tcpu t;
	tcpu_init(&t, T_LONG);
	CHECK(tcpu_exec(&t, g_smc, g_smc_end));
	CHECK_EQ(t.c.gpr[R_BX], 7);
	/* The VMM rewrites the code behind the CPU's back (no write through it). */
	static const uint8_t again[] = { 0xbb, 0x09, 0x00, 0x00, 0x00, 0xf4 };     /* mov $9, %ebx; hlt */
	memcpy(t.mem + T_CODE, again, sizeof(again));
	t.c.stamp++;                    /* what KVM_RUN does on every entry */
	t.c.rip = T_CODE;
	CHECK_EQ(tcpu_run(&t), EXIT_HLT);
	CHECK_EQ(t.c.gpr[R_BX], 9);
	tcpu_free(&t);
}

GUEST_CODE(g_io, C64,
	"mov $0x3f8, %dx\n mov $0x41, %al\n out %al, %dx\n"
	"mov $0x12345678, %eax\n out %eax, $0x80\n"
	"in $0x71, %al\n mov %eax, %ebx\n"
	"lea 1f(%rip), %rsi\n mov $3, %ecx\n mov $0xe9, %dx\n rep outsb\n jmp 2f\n"
	"1: .ascii \"xyz\"\n 2:\n");

static void test_port_io(void)
{
	struct tcpu t;
	tcpu_init(&t, T_LONG);
	t.in_val = 0x5a;
	CHECK(tcpu_exec(&t, g_io, g_io_end));
	CHECK_EQ(t.nout, 5);
	CHECK_EQ(t.out_port[0], 0x3f8);
	CHECK_EQ(t.out_val[0], 0x41);
	CHECK_EQ(t.out_val[1], 0x12345678);
	CHECK_EQ(t.c.gpr[R_BX] & 0xff, 0x5a);
	CHECK_EQ(t.out_port[4], 0xe9);
	CHECK_EQ(t.out_val[4], 'z');
	tcpu_free(&t);
}

/* MMIO through "userspace": the read exits, completes, and the instruction replays. */
GUEST_CODE(g_mmio, C64, "mov $0xfe000000, %rax\n addl $5, (%rax)\n");

static void test_mmio_replay(void)
{
	struct tcpu t;
	tcpu_init(&t, T_LONG);
	/* Map 0xfe000000 (not RAM) with a 2 MiB page: PDPT[3] -> PD at 0x14000. */
	t_write(&t, 0x11018, 8, 0x14003);
	t_write(&t, 0x14000 + 0x1f0 * 8, 8, 0xfe000083);
	tcpu_load(&t, g_mmio, g_mmio_end);
	CHECK_EQ(tcpu_run(&t), EXIT_EPT_VIOLATION);
	struct cpu_io_entry *e = cpu_io_pending(&t.c);
	CHECK(e && !e->is_write && e->addr == 0xfe000000 && e->size == 4);
	uint32_t v = 10;
	cpu_io_complete(&t.c, &v, 4);
	CHECK_EQ(tcpu_run(&t), EXIT_EPT_VIOLATION);
	e = cpu_io_pending(&t.c);
	CHECK(e && e->is_write);
	if (e)
		CHECK_EQ(e->data[0], 15);
	cpu_io_complete(&t.c, NULL, 0);
	CHECK_EQ(tcpu_run(&t), EXIT_HLT);
	CHECK_EQ(t.mmio_exits, 2);
	tcpu_free(&t);
}

GUEST_CODE(g_cmov, C64,
	"mov $1, %eax\n mov $2, %ebx\n cmp %ebx, %eax\n cmovl %rbx, %rcx\n cmovg %rax, %rdx\n setle %sil\n"
	"mov $-1, %r8\n cmovg %eax, %r8d\n");

static void test_cmov_setcc(void)
{
	struct tcpu t;
	tcpu_init(&t, T_LONG);
	t.c.gpr[R_DX] = 99;
	CHECK(tcpu_exec(&t, g_cmov, g_cmov_end));
	CHECK_EQ(t.c.gpr[R_CX], 2);
	CHECK_EQ(t.c.gpr[R_DX], 99);
	CHECK_EQ(t.c.gpr[R_SI] & 0xff, 1);
	CHECK_EQ(t.c.gpr[R_R8], 0xffffffff);    /* a false 32-bit CMOV still zero-extends */
	tcpu_free(&t);
}

GUEST_CODE(g_syscall, C64,
	"lea 1f(%rip), %rax\n mov %rax, %rdx\n shr $32, %rdx\n mov $0xc0000082, %ecx\n wrmsr\n"
	"syscall\n"
	"1: mov %rcx, %rbx\n");

static void test_cpuid_msr_exits(void)
{
	struct tcpu t;
	tcpu_init(&t, T_LONG);
	static const uint8_t cpuid_code[] = { 0x0f, 0xa2, 0xf4 };
	tcpu_load(&t, cpuid_code, cpuid_code + 3);
	CHECK_EQ(tcpu_run(&t), EXIT_CPUID);
	CHECK_EQ(t.c.rip, T_CODE);
	CHECK_EQ(t.c.exit.insn_len, 2);
	tcpu_free(&t);

	tcpu_init(&t, T_LONG);
	tcpu_load(&t, g_syscall, g_syscall_end);
	CHECK_EQ(tcpu_run(&t), EXIT_MSR_WRITE);
	tcpu_free(&t);
}

int main(void)
{
	RUN(test_mov);
	RUN(test_rip_relative);
	RUN(test_add_flags);
	RUN(test_muldiv);
	RUN(test_divide_error);
	RUN(test_shifts);
	RUN(test_bits);
	RUN(test_string);
	RUN(test_stack);
	RUN(test_atomics);
	RUN(test_faults);
	RUN(test_page_fault);
	RUN(test_accessed_dirty);
	RUN(test_self_modifying);
	RUN(test_port_io);
	RUN(test_mmio_replay);
	RUN(test_cmov_setcc);
	RUN(test_cpuid_msr_exits);
	TEST_EXIT();
}
