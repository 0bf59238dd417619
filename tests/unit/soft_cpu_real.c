/* The soft CPU in real mode and 32-bit protected mode. */
#include "soft_cpu.h"

#define C16 ".code16"
#define C32 ".code32"

GUEST_CODE(g_real_arith, C16,
	"mov $0x1234, %ax\n add $0xedcc, %ax\n pushf\n pop %bx\n"      /* 0 with CF ZF */
	"mov $100, %ax\n mov $7, %cl\n div %cl\n mov %ax, %dx\n"
	"mov $0x8000, %si\n mov $0x1122, %ax\n mov %ax, (%si)\n mov 1(%si), %cl\n"
	"mov $3, %cx\n xor %di, %di\n 1: inc %di\n loop 1b\n");

static void test_real_arith(void)
{
	struct tcpu t;
	tcpu_init(&t, T_REAL);
	CHECK(tcpu_exec(&t, g_real_arith, g_real_arith_end));
	CHECK_EQ(t.c.gpr[R_BX] & (F_CF | F_ZF), F_CF | F_ZF);
	CHECK_EQ(t.c.gpr[R_DX] & 0xffff, (2 << 8) | 14);
	CHECK_EQ(t.c.gpr[R_DI] & 0xffff, 3);
	CHECK_EQ(t_read(&t, 0x8000, 2), 0x1122);
	tcpu_free(&t);
}

/* Segments: DS:SI with DS = 0x2000, a far call into another segment and back. */
GUEST_CODE(g_real_seg, C16,
	"mov $0x2000, %ax\n mov %ax, %ds\n movw $0xbeef, 0x10\n"
	"lcall $0x0100, $0x0500\n"      /* linear 0x1500 */
	"mov %ax, %bx\n");

static void test_real_segments(void)
{
	struct tcpu t;
	tcpu_init(&t, T_REAL);
	static const uint8_t far_fn[] = { 0xb8, 0x42, 0x00, 0xcb };     /* mov $0x42, %ax; lret */
	memcpy(t.mem + 0x1500, far_fn, sizeof(far_fn));
	CHECK(tcpu_exec(&t, g_real_seg, g_real_seg_end));
	CHECK_EQ(t_read(&t, 0x20010, 2), 0xbeef);
	CHECK_EQ(t.c.gpr[R_BX] & 0xffff, 0x42);
	CHECK_EQ(t.c.seg[S_CS].sel, 0);
	tcpu_free(&t);
}

/* INT n through the IVT, and the IRET back. */
GUEST_CODE(g_real_int, C16, "int $0x30\n mov $1, %cx\n");

static void test_real_int(void)
{
	struct tcpu t;
	tcpu_init(&t, T_REAL);
	static const uint8_t handler[] = { 0xb8, 0x77, 0x00, 0xcf };    /* mov $0x77, %ax; iret */
	memcpy(t.mem + 0x1800, handler, sizeof(handler));
	t_write(&t, 0x30 * 4, 2, 0x1800);
	t_write(&t, 0x30 * 4 + 2, 2, 0);
	t.c.flags |= F_IF;
	CHECK(tcpu_exec(&t, g_real_int, g_real_int_end));
	CHECK_EQ(t.c.gpr[R_AX] & 0xffff, 0x77);
	CHECK_EQ(t.c.gpr[R_CX] & 0xffff, 1);
	CHECK(t.c.flags & F_IF);
	CHECK_EQ(t.c.gpr[R_SP], T_STACK);
	tcpu_free(&t);
}

GUEST_CODE(g_real_de, C16, "xor %bl, %bl\n div %bl\n");

static void test_real_exception(void)
{
	struct tcpu t;
	tcpu_init(&t, T_REAL);
	tcpu_load(&t, g_real_de, g_real_de_end);
	CHECK_EQ(tcpu_run(&t), EXIT_HLT);
	CHECK_EQ(tcpu_vector(&t), EX_DE);
	CHECK_EQ(t.c.gpr[R_SP], T_STACK - 6);
	CHECK_EQ(t_read(&t, T_STACK - 6, 2), T_CODE + 2);      /* IP of the DIV */
	tcpu_free(&t);
}

/* Real mode -> protected mode -> back, as the guests' start code does. */
GUEST_CODE(g_real_to_prot, C16,
	"mov %cr0, %eax\n or $1, %eax\n mov %eax, %cr0\n"
	"ljmp $0x08, $0x1000 + 1f - g_real_to_prot\n"
	".code32\n 1: mov $0x10, %ax\n mov %ax, %ds\n movl $0xc0ffee, 0x20000\n"
	"ljmp $0x18, $0x1000 + 2f - g_real_to_prot\n"
	".code16\n 2: mov %cr0, %eax\n and $~1, %eax\n mov %eax, %cr0\n ljmp $0, $0x1000 + 3f - g_real_to_prot\n"
	"3: mov $0x3, %bx\n");

static void test_mode_switch(void)
{
	struct tcpu t;
	tcpu_init(&t, T_REAL);
	t.c.gdtr = (struct dtable){ 0x500, 0x47 };
	CHECK(tcpu_exec(&t, g_real_to_prot, g_real_to_prot_end));
	CHECK_EQ(t_read(&t, T_DATA, 4), 0xc0ffee);
	CHECK_EQ(t.c.mode, MODE_REAL);
	CHECK_EQ(t.c.gpr[R_BX] & 0xffff, 3);
	tcpu_free(&t);
}

/* Protected mode: a load of a bad selector raises #GP with the selector as error code. */
GUEST_CODE(g_prot_gp, C32, "mov $0x48, %ax\n mov %ax, %ds\n");

static void test_prot_segment_fault(void)
{
	struct tcpu t;
	tcpu_init(&t, T_PROT32);
	tcpu_load(&t, g_prot_gp, g_prot_gp_end);
	CHECK_EQ(tcpu_run(&t), EXIT_HLT);
	CHECK_EQ(tcpu_vector(&t), EX_GP);
	CHECK_EQ(t_read(&t, t.c.gpr[R_SP], 4), 0x48);
	CHECK_EQ(t_read(&t, t.c.gpr[R_SP] + 4, 4), T_CODE + 4);
	tcpu_free(&t);
}

/* A segment limit: DS with a 0xfff limit, then an access beyond it. */
GUEST_CODE(g_prot_limit, C32,
	"mov $0x20, %ax\n mov %ax, %ds\n mov 0xffe, %bx\n mov 0xfffe, %ecx\n");

static void test_prot_limit(void)
{
	struct tcpu t;
	tcpu_init(&t, T_PROT32);
	tcpu_load(&t, g_prot_limit, g_prot_limit_end);
	CHECK_EQ(tcpu_run(&t), EXIT_HLT);
	CHECK_EQ(tcpu_vector(&t), EX_GP);
	tcpu_free(&t);
}

/* 32-bit paging with a 4 MiB page and a 4 KiB page table; a user-mode write to a supervisor page. */
GUEST_CODE(g_prot_paging, C32,
	"mov $0x30000, %eax\n mov %eax, %cr3\n"
	"mov %cr4, %eax\n or $0x10, %eax\n mov %eax, %cr4\n"
	"mov %cr0, %eax\n or $0x80000000, %eax\n mov %eax, %cr0\n"
	"movl $0x5a5a, 0x400010\n"      /* virtual 4 MiB + 0x10 -> physical 0x21010 */
	"mov 0x400010, %edx\n");

static void test_prot_paging(void)
{
	struct tcpu t;
	tcpu_init(&t, T_PROT32);
	t_write(&t, 0x30000, 4, 0x83);                  /* 0-4 MiB: a 4 MiB page */
	t_write(&t, 0x30004, 4, 0x31003);               /* 4-8 MiB: page table */
	t_write(&t, 0x31000, 4, 0x21003);
	CHECK(tcpu_exec(&t, g_prot_paging, g_prot_paging_end));
	CHECK_EQ(t_read(&t, 0x21010, 4), 0x5a5a);
	CHECK_EQ(t.c.gpr[R_DX], 0x5a5a);
	CHECK_EQ(t_read(&t, 0x31000, 4), 0x21063);      /* accessed + dirty */
	tcpu_free(&t);
}

/* An interrupt gate from ring 3: the stack switches to the TSS's SS0:ESP0. */
GUEST_CODE(g_prot_user, C32,
	"pushl $0x3b\n pushl $0x7000\n pushfl\n pushl $0x33\n pushl $0x1000 + 1f - g_prot_user\n iret\n"
	"1: int $0x21\n");

static void test_prot_privilege(void)
{
	struct tcpu t;
	tcpu_init(&t, T_PROT32);
	/* TSS at 0x600: ESP0 = 0x9000, SS0 = 0x10. Gate 0x21 with DPL 3. */
	t_write(&t, 0x604, 4, 0x9000);
	t_write(&t, 0x608, 4, 0x10);
	t.c.seg[S_TR].base = 0x600;
	t.c.idtr.limit = 0x7ff;
	uint64_t g = 0x3000 + 16 * 0x1f;
	t.mem[g] = 0xf4;
	uint64_t gate = (g & 0xffff) | (0x08ULL << 16) | (0xeeULL << 40) | ((g >> 16) << 48);
	t_write(&t, 0x700 + 8 * 0x21, 8, gate);
	tcpu_load(&t, g_prot_user, g_prot_user_end);
	CHECK_EQ(tcpu_run(&t), EXIT_HLT);
	CHECK_EQ(t.c.rip, g);
	CHECK_EQ(t.c.cpl, 0);
	CHECK_EQ(t.c.gpr[R_SP], 0x9000 - 20);
	CHECK_EQ(t_read(&t, 0x9000 - 4, 4), 0x3b);      /* old SS */
	CHECK_EQ(t_read(&t, 0x9000 - 8, 4), 0x7000);    /* old ESP */
	CHECK_EQ(t_read(&t, 0x9000 - 16, 4), 0x33);     /* old CS */
	tcpu_free(&t);
}

int main(void)
{
	RUN(test_real_arith);
	RUN(test_real_segments);
	RUN(test_real_int);
	RUN(test_real_exception);
	RUN(test_mode_switch);
	RUN(test_prot_segment_fault);
	RUN(test_prot_limit);
	RUN(test_prot_paging);
	RUN(test_prot_privilege);
	TEST_EXIT();
}
