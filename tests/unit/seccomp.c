/*
 * The system-call filters: list sizes, and what a forbidden call does. Each
 * confinement happens in a child process, which the filter cannot leave.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/kvm.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "test.h"
#include "vmm/seccomp.h"

static char child_out[4096];

/* Runs fn in a child with stderr captured; returns its exit status (-1: signal). */
static int in_child(void (*fn)(void))
{
	int p[2];
	if (pipe(p) < 0)
		abort();
	fflush(stdout);
	fflush(stderr);
	pid_t pid = fork();
	if (pid < 0)
		abort();
	if (pid == 0) {
		close(p[0]);
		dup2(p[1], STDERR_FILENO);
		fn();
		_exit(0);
	}
	close(p[1]);
	size_t n = 0;
	ssize_t r;
	while (n + 1 < sizeof(child_out) && (r = read(p[0], child_out + n, sizeof(child_out) - 1 - n)) > 0)
		n += (size_t)r;
	child_out[n] = 0;
	close(p[0]);
	int status;
	waitpid(pid, &status, 0);
	return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

static void prepare(int no_seccomp)
{
	struct config cfg = { .no_seccomp = no_seccomp };
	if (seccomp_prepare(&cfg) < 0)
		_exit(90);
}

static void vcpu_opens_socket(void)
{
	prepare(0);
	if (seccomp_enter(SECCOMP_VCPU) < 0)
		_exit(91);
	socket(AF_INET, SOCK_STREAM, 0);
	_exit(92);              /* not reached: the call traps */
}

static void device_runs_kvm_ioctl(void)
{
	prepare(0);
	if (seccomp_enter(SECCOMP_DEVICE) < 0)
		_exit(91);
	ioctl(-1, KVM_RUN, 0);
	_exit(92);
}

static void main_execs(void)
{
	prepare(0);
	if (seccomp_enter(SECCOMP_MAIN) < 0)
		_exit(91);
	char *argv[] = { "true", NULL };
	execve("/bin/true", argv, environ);
	_exit(92);
}

/* What every vCPU thread does all day must stay allowed. */
static void vcpu_lives(void)
{
	prepare(0);
	if (seccomp_enter(SECCOMP_VCPU) < 0)
		_exit(91);
	void *p = malloc(1 << 20);
	free(p);
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	if (write(STDERR_FILENO, "alive\n", 6) != 6)
		_exit(93);
	/* An ioctl the list has, on a bad handle: EBADF, not a trap. */
	if (ioctl(-1, KVM_RUN, 0) != -1 || errno != EBADF)
		_exit(94);
	_exit(0);
}

static void clone3_is_refused(void)
{
	prepare(0);
	if (seccomp_enter(SECCOMP_MAIN) < 0)
		_exit(91);
	/* ENOSYS makes the C library fall back to clone, whose flags the list checks. */
	long r = syscall(SYS_clone3, NULL, 0);
	_exit(r == -1 && errno == ENOSYS ? 0 : 95);
}

static void disabled_allows_all(void)
{
	prepare(1);
	if (seccomp_enter(SECCOMP_VCPU) < 0 || seccomp_enabled())
		_exit(91);
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	if (fd < 0)
		_exit(96);
	close(fd);
	_exit(0);
}

static void test_forbidden_call_reported(void)
{
	int st = in_child(vcpu_opens_socket);
	CHECK_EQ(st, RUNVM_EXIT_SECCOMP);
	CHECK(strstr(child_out, "runvm: seccomp: thread vcpu made forbidden system call socket (41)"));
	if (st != RUNVM_EXIT_SECCOMP)
		fprintf(stderr, "child said: %s\n", child_out);
}

static void test_ioctl_request_named(void)
{
	int st = in_child(device_runs_kvm_ioctl);
	CHECK_EQ(st, RUNVM_EXIT_SECCOMP);
	CHECK(strstr(child_out, "thread device made forbidden system call ioctl (16) request 0xae80"));
}

static void test_main_cannot_exec(void)
{
	int st = in_child(main_execs);
	CHECK_EQ(st, RUNVM_EXIT_SECCOMP);
	CHECK(strstr(child_out, "thread main made forbidden system call execve (59)"));
}

static void test_vcpu_work_allowed(void)
{
	CHECK_EQ(in_child(vcpu_lives), 0);
	CHECK(strstr(child_out, "alive"));
	CHECK(!strstr(child_out, "seccomp"));
}

static void test_clone3_refused(void)
{
	CHECK_EQ(in_child(clone3_is_refused), 0);
}

static void test_no_seccomp(void)
{
	CHECK_EQ(in_child(disabled_allows_all), 0);
}

/* Firecracker allows about 27 calls to its vCPU threads and 50 to its VMM thread. */
static void test_list_sizes(void)
{
	int m = seccomp_allowed_count(SECCOMP_MAIN);
	int v = seccomp_allowed_count(SECCOMP_VCPU);
	int d = seccomp_allowed_count(SECCOMP_DEVICE);
	printf("seccomp lists: main %d, vcpu %d, device %d system calls\n", m, v, d);
	CHECK(v < m);
	CHECK(m <= 50);
	CHECK(v <= 27);
	CHECK(d <= 40);
}

int main(void)
{
	RUN(test_list_sizes);
	RUN(test_forbidden_call_reported);
	RUN(test_ioctl_request_named);
	RUN(test_main_cannot_exec);
	RUN(test_vcpu_work_allowed);
	RUN(test_clone3_refused);
	RUN(test_no_seccomp);
	TEST_EXIT();
}
