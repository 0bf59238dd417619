/*
 * Sub-test bookkeeping and the result through the debug-exit port
 * (runvm exits with status (code << 1) | 1; 0 means every sub-test passed).
 */
#include "guest.h"

static const char *current;
static int current_failed;
static unsigned n_tests, n_failed;

NORETURN void debug_exit(uint32_t code)
{
	outl(DEBUG_EXIT, code);
	/* Only reached when the port is missing: stop here for the timeout. */
	for (;;)
		asm volatile("cli; hlt");
}

void test_start(const char *name)
{
	current = name;
	current_failed = 0;
	n_tests++;
}

int test_end(void)
{
	if (!current_failed)
		printf("PASS %s\n", current);
	return !current_failed;
}

static void vfail(const char *fmt, va_list ap)
{
	if (!current_failed)
		n_failed++;
	current_failed = 1;
	printf("FAIL %s: ", current ? current : guest_name);
	vprintf(fmt, ap);
	serial_putc('\n');
}

void test_fail(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vfail(fmt, ap);
	va_end(ap);
}

void test_skip(const char *name, const char *why)
{
	printf("SKIP %s (%s)\n", name, why);
}

int expect_eq(const char *what, uint64_t got, uint64_t want)
{
	if (got == want)
		return 1;
	test_fail("%s = 0x%llx, want 0x%llx", what, (unsigned long long)got,
		  (unsigned long long)want);
	return 0;
}

int expect_true(const char *what, int cond)
{
	if (!cond)
		test_fail("%s", what);
	return cond;
}

NORETURN void guest_finish(void)
{
	printf("END %s: %u sub-tests, %u failed\n", guest_name, n_tests, n_failed);
	debug_exit(n_failed ? 1 : 0);
}

NORETURN void guest_abort(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vfail(fmt, ap);
	va_end(ap);
	printf("END %s: aborted\n", guest_name);
	debug_exit(2);
}
