/*
 * Two soft CPUs on two threads sharing guest RAM: LOCKed read-modify-write
 * instructions and XCHG stay atomic, and code one CPU writes is seen by
 * the other.
 */
#include <pthread.h>

#include "soft_cpu.h"

#define ROUNDS 200000

/* A spinlock built from XCHG guards a plain counter; LOCK XADD and LOCK INC count too. */
GUEST_CODE(g_smp_count, ".code64",
	"mov $" "200000" ", %ecx\n"
	"1: lock incl 0x20000\n"
	"mov $1, %eax\n lock xadd %eax, 0x20008\n"
	"2: mov $1, %eax\n xchg %eax, 0x20010\n test %eax, %eax\n jnz 2b\n"
	"incl 0x20018\n"
	"movl $0, 0x20010\n"
	"mov 0x20020, %rax\n 3: lea 1(%rax), %rdx\n lock cmpxchg %rdx, 0x20020\n jnz 3b\n"
	"dec %ecx\n jnz 1b\n");

struct runner {
	struct cpu c;
	int reason;
};

static void *run_cpu(void *arg)
{
	struct runner *r = arg;
	do {
		r->c.budget = 1u << 24;
		r->reason = cpu_run(&r->c);
	} while (r->reason == EXIT_PREEMPTION_TIMER);
	return NULL;
}

static void test_atomic_counting(void)
{
	struct tcpu t;
	tcpu_init(&t, T_LONG);
	tcpu_load(&t, g_smp_count, g_smp_count_end);
	static struct runner r[2];
	for (int i = 0; i < 2; i++) {
		cpu_init(&r[i].c, &t.pm, &t_platform, &t);
		/* Same state as the bench's CPU: long mode, RIP at the code, own stack. */
		struct cpu *c = &r[i].c;
		memcpy(c->seg, t.c.seg, sizeof(c->seg));
		c->gdtr = t.c.gdtr;
		c->idtr = t.c.idtr;
		c->cr0 = t.c.cr0;
		c->cr3 = t.c.cr3;
		c->cr4 = t.c.cr4;
		c->efer = t.c.efer;
		c->rip = T_CODE;
		c->gpr[R_SP] = T_STACK - 0x1000 * (uint64_t)i;
		cpu_update_mode(c);
	}
	pthread_t th[2];
	for (int i = 0; i < 2; i++)
		pthread_create(&th[i], NULL, run_cpu, &r[i]);
	for (int i = 0; i < 2; i++)
		pthread_join(th[i], NULL);
	for (int i = 0; i < 2; i++) {
		CHECK_EQ(r[i].reason, EXIT_HLT);
		cpu_destroy(&r[i].c);
	}
	CHECK_EQ(t_read(&t, T_DATA, 4), 2 * ROUNDS);
	CHECK_EQ(t_read(&t, T_DATA + 8, 4), 2 * ROUNDS);
	CHECK_EQ(t_read(&t, T_DATA + 0x18, 4), 2 * ROUNDS);
	CHECK_EQ(t_read(&t, T_DATA + 0x20, 8), 2 * ROUNDS);
	tcpu_free(&t);
}

/*
 * CPU 1 spins on a flag, then calls a function that CPU 0 wrote after CPU 1
 * had already run the old version of it.
 */
GUEST_CODE(g_smc_writer, ".code64",
	"1: cmpl $1, 0x20100\n jne 1b\n"                 /* wait until the reader ran the old code */
	"movl $0x000002b8, 0x5000\n movw $0xc300, 0x5004\n" /* mov $2, %eax; ret */
	"movl $2, 0x20100\n");
GUEST_CODE(g_smc_reader, ".code64",
	"call *%rbx\n mov %eax, 0x20108\n"               /* old code: returns 1 */
	"movl $1, 0x20100\n"
	"1: cmpl $2, 0x20100\n jne 1b\n"
	"call *%rbx\n mov %eax, 0x2010c\n");

static void test_cross_modifying_code(void)
{
	struct tcpu t;
	tcpu_init(&t, T_LONG);
	static const uint8_t old_fn[] = { 0xb8, 0x01, 0x00, 0x00, 0x00, 0xc3 };  /* mov $1, %eax; ret */
	memcpy(t.mem + 0x5000, old_fn, sizeof(old_fn));
	memcpy(t.mem + 0x1000, g_smc_writer, (size_t)(g_smc_writer_end - g_smc_writer));
	memcpy(t.mem + 0x1800, g_smc_reader, (size_t)(g_smc_reader_end - g_smc_reader));
	static struct runner r[2];
	for (int i = 0; i < 2; i++) {
		cpu_init(&r[i].c, &t.pm, &t_platform, &t);
		struct cpu *c = &r[i].c;
		memcpy(c->seg, t.c.seg, sizeof(c->seg));
		c->gdtr = t.c.gdtr;
		c->idtr = t.c.idtr;
		c->cr0 = t.c.cr0;
		c->cr3 = t.c.cr3;
		c->cr4 = t.c.cr4;
		c->efer = t.c.efer;
		c->rip = i ? 0x1800 : 0x1000;
		c->gpr[R_SP] = T_STACK - 0x1000 * (uint64_t)i;
		c->gpr[R_BX] = 0x5000;
		cpu_update_mode(c);
	}
	pthread_t th[2];
	for (int i = 0; i < 2; i++)
		pthread_create(&th[i], NULL, run_cpu, &r[i]);
	for (int i = 0; i < 2; i++)
		pthread_join(th[i], NULL);
	for (int i = 0; i < 2; i++) {
		CHECK_EQ(r[i].reason, EXIT_HLT);
		cpu_destroy(&r[i].c);
	}
	CHECK_EQ(t_read(&t, 0x20108, 4), 1);
	CHECK_EQ(t_read(&t, 0x2010c, 4), 2);
	tcpu_free(&t);
}

int main(void)
{
	RUN(test_atomic_counting);
	RUN(test_cross_modifying_code);
	TEST_EXIT();
}
