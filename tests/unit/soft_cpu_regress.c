/*
 * The soft CPU: regression tests for bugs that booting Linux found, one
 * test per bug, each named for the behaviour it pins down.
 */
#include "soft_cpu.h"

#define C64 ".code64"

/*
 * Linear 0x200000 and 0x201000 map to the physical pages 0x30000 and
 * 0x50000, so an access that crosses 0x201000 lands on two pages that
 * are not neighbours in host memory either.
 */
static void map_split_pages(struct tcpu *t)
{
	uint64_t pd1 = 0x13003, pte0 = 0x30003, pte1 = 0x50003;
	memcpy(t->mem + 0x12008, &pd1, 8);
	memcpy(t->mem + 0x13000, &pte0, 8);
	memcpy(t->mem + 0x13008, &pte1, 8);
}

GUEST_CODE(g_split_access, C64,
	"mov $0x1122334455667788, %rax\n"
	"mov %rax, 0x200ffd\n"          /* 3 bytes on the first page, 5 on the second */
	"mov 0x200ffb, %rbx\n"          /* 5 and 3 */
	"movl $0xa1b2c3d4, 0x200ffe\n"  /* 2 and 2 */
	"mov 0x200fff, %ecx\n");        /* 1 and 3 */

/* The halves of a page-crossing access touch exactly their own bytes. */
static void test_page_split_access(void)
{
	struct tcpu t;
	tcpu_init(&t, T_LONG);
	map_split_pages(&t);
	memset(t.mem + 0x30ff0, 0x5a, 16);
	memset(t.mem + 0x50000, 0xa5, 16);
	CHECK(tcpu_exec(&t, g_split_access, g_split_access_end));
	/* The 8-byte store: 88 77 66 | d4 c3 b2 a1 .. after the dword store. */
	CHECK_EQ(t_read(&t, 0x30ffd, 1), 0x88);
	CHECK_EQ(t_read(&t, 0x30ffe, 2), 0xc3d4);
	CHECK_EQ(t_read(&t, 0x50000, 2), 0xa1b2);
	CHECK_EQ(t_read(&t, 0x50002, 3), 0x112233);
	CHECK_EQ(t_read(&t, 0x50005, 8), 0xa5a5a5a5a5a5a5a5ULL);        /* untouched */
	CHECK_EQ(t_read(&t, 0x30ff0, 8), 0x5a5a5a5a5a5a5a5aULL);
	/* The loads saw the bytes of both pages, and nothing else. */
	CHECK_EQ(t.c.gpr[R_BX], 0x3344556677885a5aULL);
	CHECK_EQ(t.c.gpr[R_CX], 0x33a1b2c3);
	tcpu_free(&t);
}

int main(void)
{
	RUN(test_page_split_access);
	TEST_EXIT();
}
