/* CPL-3 code for the long-mode guests: TSS, user_call, exits (user64.h). */
#include "user64.h"
#include "trap.h"

static uint8_t kernel_stack[4096] ALIGNED(16);
uint8_t user_stack[4096] ALIGNED(4096);         /* used by user_call */
uint64_t kernel_saved_rsp, syscall_rcx, syscall_r11;
extern char user_return[];

/* The 64-bit TSS: only RSP0 matters (no I/O bitmap: its base is past the limit). */
static struct __attribute__((packed)) {
	uint32_t reserved0;
	uint64_t rsp[3];
	uint64_t reserved1;
	uint64_t ist[7];
	uint64_t reserved2;
	uint16_t reserved3, iomap_base;
} tss ALIGNED(16);

asm(".pushsection .text\n"
    ".globl user_call, user_call_sysret, user_exit, syscall_entry\n"
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
    "user_exit:\n"
    "  ud2\n"
    "syscall_entry:\n"
    "  mov %rcx, syscall_rcx\n"
    "  mov %r11, syscall_r11\n"
    "user_return:\n"
    "  mov kernel_saved_rsp, %rsp\n"
    "  mov $0x10, %ecx\n"                       /* IRETQ to CPL 3 nulled them */
    "  mov %ecx, %ds\n"
    "  mov %ecx, %es\n"
    "  pop %r15; pop %r14; pop %r13; pop %r12; pop %rbp; pop %rbx\n"
    "  ret\n"
    ".popsection\n");

/*
 * An exception from user mode ends the user call: the frame is turned
 * into a return to user_return at CPL 0, with the result in %rax.
 * Exceptions in the kernel keep the library's meaning (probes or abort).
 */
static void user_exception(struct trap_frame *f)
{
	if ((f->cs & 3) == 0) {
		if (!exc_resume)
			guest_abort("unexpected exception %u in the kernel, error 0x%lx, ip %p",
				    (unsigned)f->vector, (unsigned long)f->error, (void *)f->ip);
		f->ip = exc_resume;
		exc_resume = 0;
		return;
	}
	if (f->vector == 6 && f->ip == (uintptr_t)user_exit)
		exc.count--;                    /* a normal exit, not an exception */
	else
		f->ax = USER_FAULTED;
	f->ip = (uintptr_t)user_return;
	f->cs = SEL_CODE64;
	f->ss = SEL_DATA;
	f->sp = kernel_saved_rsp;
	f->flags = 0x2;
}

void user_init(void)
{
	extern uint64_t gdt[];
	uintptr_t base = (uintptr_t)&tss;

	for (unsigned v = 0; v < 32; v++)
		trap_set_handler(v, user_exception);
	tss.rsp[0] = (uintptr_t)kernel_stack + sizeof(kernel_stack);
	tss.iomap_base = sizeof(tss);
	gdt[SEL_TSS / 8] = (sizeof(tss) - 1) | (base & 0xffffff) << 16 |
			   0x89ull << 40 | ((base >> 24) & 0xff) << 56;
	gdt[SEL_TSS / 8 + 1] = base >> 32;
	asm volatile("ltr %w0" :: "r"(SEL_TSS));
}
