/*
 * A minimal unit-test harness. Each file in tests/unit/ is one program; each
 * test is a function run by RUN(), which prints "PASS <file>/<test>" or
 * "FAIL <file>/<test>" (tests/run counts these lines).
 */
#ifndef RUNVM_TEST_H
#define RUNVM_TEST_H

#include <stdio.h>
#include <string.h>

static int test_failed_now, test_n_failed;

#define CHECK(c) do { \
	if (!(c)) { \
		fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #c); \
		test_failed_now = 1; \
	} \
} while (0)

#define CHECK_EQ(a, b) do { \
	unsigned long long _a = (unsigned long long)(a), _b = (unsigned long long)(b); \
	if (_a != _b) { \
		fprintf(stderr, "%s:%d: check failed: %s == %s (0x%llx != 0x%llx)\n", \
			__FILE__, __LINE__, #a, #b, _a, _b); \
		test_failed_now = 1; \
	} \
} while (0)

#define RUN(fn) do { \
	test_failed_now = 0; \
	fn(); \
	printf("%s unit/%s/%s\n", test_failed_now ? "FAIL" : "PASS", TEST_FILE, #fn); \
	fflush(stdout); \
	test_n_failed += test_failed_now; \
} while (0)

#define TEST_EXIT() return test_n_failed ? 1 : 0

#endif
