/*
 * Long mode at CPL 3: entering user mode with IRETQ and SYSRETQ, leaving
 * it with SYSCALL (STAR/LSTAR/SFMASK), INT n through a DPL-3 gate, and
 * exceptions taken from user mode onto the TSS's RSP0 stack: #PF with the
 * U bit (supervisor page, read-only page, missing page, fetch), #GP for
 * privileged instructions, I/O without IOPL, a DPL-0 gate and RDTSC with
 * CR4.TSD, #UD.
 */
#include "paging64.h"
#include "seg.h"
#include "trap.h"

const char guest_name[] = "long_user";

#define USER_CS      (SEL_USER_CODE64 | 3)
#define USER_DS      (SEL_USER_DATA | 3)
#define FAULTED      0xfa17fa17fa17fa17ull
#define CR4_TSD      (1u << 2)

static uint8_t kernel_stack[4096] ALIGNED(16);
uint8_t user_stack[4096] ALIGNED(4096);        /* used by user_call */
static uint8_t page_super[4096] ALIGNED(4096);
static uint8_t page_ro[4096] ALIGNED(4096);
#define UNMAPPED 0x40000000ul

/* The 64-bit TSS: only RSP0 matters (no I/O bitmap: its base is past the limit). */
static struct __attribute__((packed)) {
	uint32_t reserved0;
	uint64_t rsp[3];
	uint64_t reserved1;
	uint64_t ist[7];
	uint64_t reserved2;
	uint16_t reserved3, iomap_base;
} tss ALIGNED(16);

/* State shared with the assembly below. */
uint64_t kernel_saved_rsp, syscall_rcx, syscall_r11;
uint64_t user_call(uintptr_t rip, uintptr_t arg);
uint64_t user_call_sysret(uintptr_t rip, uintptr_t arg);
extern char user_return[], syscall_entry[];

/*
 * user_call runs user code at rip with arg in %rdi on user_stack, entered
 * by IRETQ (user_call_sysret: by SYSRETQ); it returns the %rax with which
 * the user code made a SYSCALL, or FAULTED after an exception in user mode.
 */
asm(".pushsection .text\n"
    "user_call:\n"
    "  push %rbx; push %rbp; push %r12; push %r13; push %r14; push %r15\n"
    "  mov %rsp, kernel_saved_rsp\n"
    "  pushq $0x23\n"                           /* USER_DS */
    "  pushq $user_stack + 4096\n"
    "  pushq $0x2\n"                            /* RFLAGS: IF=0, IOPL=0 */
    "  pushq $0x2b\n"                           /* USER_CS */
    "  pushq %rdi\n"
    "  mov %rsi, %rdi\n"
    "  iretq\n"
    "user_call_sysret:\n"
    "  push %rbx; push %rbp; push %r12; push %r13; push %r14; push %r15\n"
    "  mov %rsp, kernel_saved_rsp\n"
    "  mov %rdi, %rcx\n"
    "  mov $0x2, %r11d\n"
    "  mov %rsi, %rdi\n"
    "  mov $user_stack + 4096, %rsp\n"
    "  sysretq\n"
    "syscall_entry:\n"
    "  mov %rcx, syscall_rcx\n"
    "  mov %r11, syscall_r11\n"
    "user_return:\n"
    "  mov kernel_saved_rsp, %rsp\n"
    "  mov $0x10, %ecx\n"
    "  mov %ecx, %ds\n"
    "  mov %ecx, %es\n"
    "  pop %r15; pop %r14; pop %r13; pop %r12; pop %rbp; pop %rbx\n"
    "  ret\n"
    ".popsection\n");

/* User-mode code: each ends with SYSCALL, the result in %rax. */
#define USER_FN(name, body) \
	extern char name[], name##_ip[]; \
	asm(".pushsection .text\n" #name ":\n" body "\n" #name "_ip:\n syscall\n.popsection\n")

USER_FN(u_ret_arg, "mov %rdi, %rax");
USER_FN(u_read_cs, "mov %cs, %eax");
USER_FN(u_load, "mov (%rdi), %rax");
USER_FN(u_store, "movq $1, (%rdi); xor %eax, %eax");
USER_FN(u_jump, "jmp *%rdi");
USER_FN(u_int80, "mov $1, %eax; int $0x80");
USER_FN(u_int81, "int $0x81");
USER_FN(u_hlt, "hlt");
USER_FN(u_cli, "cli");
USER_FN(u_in, "in $0xe0, %al");
USER_FN(u_read_cr0, "mov %cr0, %rax");
USER_FN(u_rdmsr, "mov $0x10, %ecx; rdmsr");
USER_FN(u_rdtsc, "rdtsc; mov $1, %eax");
USER_FN(u_ud2, "ud2");

/* An exception from user mode ends the user call: back to user_return. */
static void exception_handler(struct trap_frame *f)
{
	if ((f->cs & 3) == 0) {
		if (!exc_resume)
			guest_abort("unexpected exception %u in the kernel, error 0x%lx, ip %p",
				    (unsigned)f->vector, (unsigned long)f->error, (void *)f->ip);
		f->ip = exc_resume;
		exc_resume = 0;
		return;
	}
	f->ip = (uintptr_t)user_return;
	f->cs = SEL_CODE64;
	f->ss = SEL_DATA;
	f->sp = kernel_saved_rsp;
	f->flags = 0x2;
	f->ax = FAULTED;
}

static volatile uint64_t int80_cs;

static void int80_handler(struct trap_frame *f)
{
	int80_cs = f->cs;
	f->ax = 0x80;
}

static void tss_init(void)
{
	extern uint64_t gdt[];
	uintptr_t base = (uintptr_t)&tss;
	tss.rsp[0] = (uintptr_t)kernel_stack + sizeof(kernel_stack);
	tss.iomap_base = sizeof(tss);
	gdt[SEL_TSS / 8] = (sizeof(tss) - 1) | (base & 0xffffff) << 16 |
			   0x89ull << 40 | ((base >> 24) & 0xff) << 56;
	gdt[SEL_TSS / 8 + 1] = base >> 32;
	asm volatile("ltr %w0" :: "r"(SEL_TSS));
}

static void syscall_init(void)
{
	wrmsr(MSR_STAR, (uint64_t)(SEL_USER_CODE32 | 3) << 48 | (uint64_t)SEL_CODE64 << 32);
	wrmsr(MSR_LSTAR, (uintptr_t)syscall_entry);
	wrmsr(MSR_SFMASK, 0x700);               /* TF, IF, DF */
	wrmsr(MSR_EFER, rdmsr(MSR_EFER) | EFER_SCE | EFER_NXE);
}

static void expect_user_fault(const char *what, uint64_t result, unsigned vector, uint64_t error, uintptr_t ip)
{
	if (!expect_eq(what, result, FAULTED))
		return;
	expect_exception(what, vector, error, ip);
}

static void test_transitions(void)
{
	test_start("iretq to ring 3, syscall back");
	expect_eq("result", user_call((uintptr_t)u_ret_arg, 42), 42);
	expect_eq("user CS", user_call((uintptr_t)u_read_cs, 0), USER_CS);
	expect_eq("RCX: return address", syscall_rcx, (uintptr_t)u_read_cs_ip + 2);
	expect_eq("R11: user RFLAGS", syscall_r11 & ~0x10ull, 0x2);   /* RF may be set */
	test_end();

	test_start("sysretq to ring 3");
	expect_eq("result", user_call_sysret((uintptr_t)u_ret_arg, 7), 7);
	expect_eq("user CS", user_call_sysret((uintptr_t)u_read_cs, 0), USER_CS);
	test_end();

	test_start("int n from ring 3");
	idt_set_dpl(0x80, 3);
	expect_eq("DPL-3 gate: handler result", user_call((uintptr_t)u_int80, 0), 0x80);
	expect_eq("handler saw the user CS", int80_cs, USER_CS);
	exc_clear();
	expect_user_fault("DPL-0 gate: #GP", user_call((uintptr_t)u_int81, 0), 13,
			  0x81 * 8 + 2, (uintptr_t)u_int81);
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
	expect_eq("rdtsc allowed", user_call((uintptr_t)u_rdtsc, 0), 1);
	write_cr4(read_cr4() | CR4_TSD);
	exc_clear();
	expect_user_fault("rdtsc with CR4.TSD", user_call((uintptr_t)u_rdtsc, 0), 13, 0, (uintptr_t)u_rdtsc);
	write_cr4(read_cr4() & ~(uintptr_t)CR4_TSD);
	test_end();

	test_start("#UD from ring 3");
	exc_clear();
	expect_user_fault("ud2", user_call((uintptr_t)u_ud2, 0), 6, 0, (uintptr_t)u_ud2);
	test_end();
}

void guest_main(void)
{
	idt_init(SEL_CODE64);
	for (unsigned v = 0; v < 32; v++)
		trap_set_handler(v, exception_handler);
	trap_set_handler(0x80, int80_handler);
	paging_use_own();
	tss_init();
	syscall_init();

	test_transitions();
	test_user_faults();
}
