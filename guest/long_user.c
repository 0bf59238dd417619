/*
 * Long mode at CPL 3: entering user mode with IRETQ, and exceptions taken
 * from user mode onto the TSS's RSP0 stack: #PF with the U bit
 * (supervisor page, read-only page, missing page, fetch), #GP for
 * privileged instructions and I/O without IOPL, #UD. (long_syscall tests
 * what the host's KVM without VT-x/AMD-V cannot: SYSCALL, SYSRET, INT n
 * from user mode, the user selectors, CR4.TSD.)
 */
#include "paging64.h"
#include "trap.h"
#include "user64.h"

const char guest_name[] = "long_user";

#define UNMAPPED 0x40000000ul

static uint8_t page_super[4096] ALIGNED(4096);
static uint8_t page_ro[4096] ALIGNED(4096);

USER_FN(u_ret_arg, "mov %rdi, %rax");
USER_FN(u_load, "mov (%rdi), %rax");
USER_FN(u_store, "movq $1, (%rdi); xor %eax, %eax");
USER_FN(u_jump, "jmp *%rdi");
USER_FN(u_hlt, "hlt");
USER_FN(u_cli, "cli");
USER_FN(u_in, "in $0xe0, %al");
USER_FN(u_read_cr0, "mov %cr0, %rax");
USER_FN(u_rdmsr, "rdmsr");
USER_FN(u_rdtsc, "rdtsc; mov $1, %eax");
USER_FN(u_ud2, "ud2");

static void expect_user_fault(const char *what, uint64_t result, unsigned vector, uint64_t error, uintptr_t ip)
{
	if (expect_eq(what, result, USER_FAULTED))
		expect_exception(what, vector, error, ip);
}

static void test_enter(void)
{
	test_start("iretq to ring 3");
	exc_clear();
	expect_eq("result", user_call((uintptr_t)u_ret_arg, 42), 42);
	expect_eq("second call", user_call((uintptr_t)u_ret_arg, 7), 7);
	expect_eq("no exception", exc.count, 0);
	test_end();
}

static void test_user_faults(void)
{
	test_start("#PF from ring 3");
	page_super[0] = 0x33;
	map4k((uintptr_t)page_super, (uintptr_t)page_super, PTE_P | PTE_RW);
	map4k((uintptr_t)page_ro, (uintptr_t)page_ro, PTE_P | PTE_US);
	exc_clear();
	expect_user_fault("read of a supervisor page", user_call((uintptr_t)u_load, (uintptr_t)page_super),
			  14, PF_P | PF_U, (uintptr_t)u_load);
	expect_eq("CR2", exc.cr2, (uintptr_t)page_super);
	exc_clear();
	expect_user_fault("write to a read-only page", user_call((uintptr_t)u_store, (uintptr_t)page_ro + 8),
			  14, PF_P | PF_W | PF_U, (uintptr_t)u_store);
	expect_eq("CR2", exc.cr2, (uintptr_t)page_ro + 8);
	exc_clear();
	expect_user_fault("read of a missing page", user_call((uintptr_t)u_load, UNMAPPED),
			  14, PF_U, (uintptr_t)u_load);
	exc_clear();
	expect_user_fault("fetch from a supervisor page", user_call((uintptr_t)u_jump, (uintptr_t)page_super),
			  14, PF_P | PF_U | PF_I, (uintptr_t)page_super);
	exc_clear();
	expect_eq("read of a user page", user_call((uintptr_t)u_load, (uintptr_t)page_ro), 0);
	expect_eq("no exception", exc.count, 0);
	map4k((uintptr_t)page_super, (uintptr_t)page_super, PTE_P | PTE_RW | PTE_US);
	map4k((uintptr_t)page_ro, (uintptr_t)page_ro, PTE_P | PTE_RW | PTE_US);
	test_end();

	test_start("#GP from ring 3");
	static const struct { const char *what; char *fn; } priv[] = {
		{ "hlt", u_hlt }, { "cli with IOPL 0", u_cli }, { "in with IOPL 0", u_in },
		{ "mov from cr0", u_read_cr0 }, { "rdmsr", u_rdmsr },
	};
	for (unsigned i = 0; i < ARRAY_SIZE(priv); i++) {
		exc_clear();
		expect_user_fault(priv[i].what, user_call((uintptr_t)priv[i].fn, 0), 13, 0, (uintptr_t)priv[i].fn);
	}
	exc_clear();
	expect_eq("rdtsc allowed", user_call((uintptr_t)u_rdtsc, 0), 1);
	test_end();

	test_start("#UD from ring 3");
	exc_clear();
	expect_user_fault("ud2", user_call((uintptr_t)u_ud2, 0), 6, 0, (uintptr_t)u_ud2);
	test_end();
}

void guest_main(void)
{
	idt_init(SEL_CODE64);
	user_init();
	paging_use_own();
	wrmsr(MSR_EFER, rdmsr(MSR_EFER) | EFER_NXE);    /* I/D bit in #PF error codes */

	test_enter();
	test_user_faults();
}
