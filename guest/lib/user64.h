/*
 * Running code at CPL 3 from a long-mode guest (user64.c): a TSS whose
 * RSP0 takes exceptions from user mode, and user_call(), which enters
 * user code with IRETQ (or SYSRETQ) and comes back when the user code
 * exits: through user_exit (a UD2 the exception handler recognises), by
 * SYSCALL, or by any other exception, which yields USER_FAULTED and is
 * recorded in `exc`.
 */
#ifndef GUEST_USER64_H
#define GUEST_USER64_H

#include "guest.h"
#include "seg.h"

#define USER_CS      (SEL_USER_CODE64 | 3)
#define USER_DS      (SEL_USER_DATA | 3)
#define USER_FAULTED 0xfa17fa17fa17fa17ull

/* Installs the TSS and the exception handlers for vectors 0-31. */
void user_init(void);
uint64_t user_call(uintptr_t rip, uintptr_t arg);
uint64_t user_call_sysret(uintptr_t rip, uintptr_t arg);

/* Where SYSCALL lands (LSTAR), and what it saw. */
extern char syscall_entry[], user_exit[];
extern uint64_t syscall_rcx, syscall_r11;

/*
 * USER_FN(name, "instructions") defines user code that runs the
 * instructions with the argument in %rdi and exits with %rax as the
 * result; USER_FN_SYSCALL exits by SYSCALL instead. name_ip is the address
 * after the instructions.
 */
#define USER_FN(name, body) \
	extern char name[], name##_ip[]; \
	asm(".pushsection .text\n" #name ":\n" body "\n" #name "_ip:\n jmp user_exit\n.popsection\n")
#define USER_FN_SYSCALL(name, body) \
	extern char name[], name##_ip[]; \
	asm(".pushsection .text\n" #name ":\n" body "\n" #name "_ip:\n syscall\n.popsection\n")

#endif
