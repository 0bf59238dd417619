/*
 * Long mode, CPL 3 as the host's KVM without VT-x/AMD-V cannot show it
 * (it runs user code natively with the host's selectors, ignores CR4.TSD,
 * runs SYSCALL's target natively, and cannot emulate INT n in 64-bit
 * mode): the user CS and SS, RDTSC with CR4.TSD, SYSCALL through
 * STAR/LSTAR/SFMASK (RCX and R11 saved), SYSRETQ into user mode, INT n
 * through a DPL-3 gate and its #GP through a DPL-0 gate.
 */
#include "paging64.h"
#include "trap.h"
#include "user64.h"

#define CR4_TSD (1u << 2)

const char guest_name[] = "long_syscall";

USER_FN_SYSCALL(s_ret_arg, "mov %rdi, %rax");
USER_FN_SYSCALL(s_read_cs, "mov %cs, %eax");
USER_FN(u_int80, "mov $1, %eax; int $0x80");
USER_FN(u_read_cs, "mov %cs, %eax");
USER_FN(u_read_ss, "mov %ss, %eax");
USER_FN(u_rdtsc, "rdtsc; mov $1, %eax");
USER_FN(u_int81, "int $0x81");

static volatile uint64_t int80_cs;

static void int80_handler(struct trap_frame *f)
{
	int80_cs = f->cs;
	f->ax = 0x80;
}

static uint16_t kernel_cs(void)
{
	uint16_t cs;
	asm volatile("mov %%cs, %0" : "=r"(cs));
	return cs;
}

void guest_main(void)
{
	idt_init(SEL_CODE64);
	user_init();
	paging_use_own();                       /* user pages */
	trap_set_handler(0x80, int80_handler);
	idt_set_dpl(0x80, 3);
	wrmsr(MSR_STAR, (uint64_t)(SEL_USER_CODE32 | 3) << 48 | (uint64_t)SEL_CODE64 << 32);
	wrmsr(MSR_LSTAR, (uintptr_t)syscall_entry);
	wrmsr(MSR_SFMASK, 0x700);               /* TF, IF, DF */
	wrmsr(MSR_EFER, rdmsr(MSR_EFER) | EFER_SCE);

	test_start("user selectors");
	expect_eq("user CS", user_call((uintptr_t)u_read_cs, 0), USER_CS);
	expect_eq("user SS", user_call((uintptr_t)u_read_ss, 0), USER_DS);
	test_end();

	test_start("rdtsc with CR4.TSD");
	expect_eq("allowed", user_call((uintptr_t)u_rdtsc, 0), 1);
	write_cr4(read_cr4() | CR4_TSD);
	exc_clear();
	if (expect_eq("faults", user_call((uintptr_t)u_rdtsc, 0), USER_FAULTED))
		expect_exception("#GP", 13, 0, (uintptr_t)u_rdtsc);
	write_cr4(read_cr4() & ~(uintptr_t)CR4_TSD);
	test_end();

	test_start("syscall");
	exc_clear();
	expect_eq("result", user_call((uintptr_t)s_ret_arg, 42), 42);
	expect_eq("user CS", user_call((uintptr_t)s_read_cs, 0), USER_CS);
	expect_eq("RCX: return address", syscall_rcx, (uintptr_t)s_read_cs_ip + 2);
	expect_eq("R11: user RFLAGS (but RF)", syscall_r11 & ~0x10000ull, 0x2);
	expect_eq("kernel CS back", kernel_cs(), SEL_CODE64);
	expect_eq("no exception", exc.count, 0);
	test_end();

	test_start("sysretq");
	expect_eq("result", user_call_sysret((uintptr_t)s_ret_arg, 7), 7);
	expect_eq("user CS", user_call_sysret((uintptr_t)s_read_cs, 0), USER_CS);
	test_end();

	test_start("int n from ring 3");
	exc_clear();
	expect_eq("DPL-3 gate: handler result", user_call((uintptr_t)u_int80, 0), 0x80);
	expect_eq("handler saw the user CS", int80_cs, USER_CS);
	exc_clear();
	/* The error code names the IDT entry: vector << 3 | IDT. */
	if (expect_eq("DPL-0 gate faults", user_call((uintptr_t)u_int81, 0), USER_FAULTED))
		expect_exception("DPL-0 gate", 13, 0x81 << 3 | 2, (uintptr_t)u_int81);
	test_end();
}
