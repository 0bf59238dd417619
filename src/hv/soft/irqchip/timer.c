/*
 * Time for the irqchip: the clock, futex waits, and the timer thread that
 * fires LAPIC and PIT timers while vCPUs run or sleep.
 *
 * The timer thread sleeps on a futex word (timer_gen) until the nearest
 * deadline. Arming a timer earlier than that deadline bumps the word and
 * wakes the thread (at unlock, outside the lock), so no deadline is missed.
 */
#include <errno.h>
#include <linux/futex.h>
#include <signal.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "internal.h"

int64_t clock_monotonic_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * NSEC_PER_SEC + ts.tv_nsec;
}

/*
 * Sleeps while *word == seen, until the absolute CLOCK_MONOTONIC deadline
 * (INT64_MAX: none). Returns 0 when woken or the value differs, ETIMEDOUT,
 * or EINTR for a signal.
 */
int futex_wait_until(_Atomic uint32_t *word, uint32_t seen, int64_t deadline)
{
	struct timespec ts, *tsp = NULL;
	if (deadline != INT64_MAX) {
		if (deadline < 0)
			deadline = 0;
		ts.tv_sec = deadline / NSEC_PER_SEC;
		ts.tv_nsec = deadline % NSEC_PER_SEC;
		tsp = &ts;
	}
	/* WAIT_BITSET takes an absolute CLOCK_MONOTONIC timeout. */
	long r = syscall(SYS_futex, (uint32_t *)word,
			 FUTEX_WAIT_BITSET | FUTEX_PRIVATE_FLAG, seen, tsp,
			 NULL, FUTEX_BITSET_MATCH_ANY);
	if (r == 0 || errno == EAGAIN)
		return 0;
	return errno;
}

void futex_wake_all(_Atomic uint32_t *word)
{
	syscall(SYS_futex, (uint32_t *)word, FUTEX_WAKE | FUTEX_PRIVATE_FLAG,
		INT32_MAX, NULL, NULL, 0);
}

/* The VMM confines threads that it did not start itself (seccomp); absent outside runvm. */
extern void vmm_thread_started(void) __attribute__((weak));

void ic_timer_armed(struct irqchip *ic, int64_t deadline)
{
	if (deadline < ic->timer_sleep_until)
		ic->timer_rearmed = true;
}

static void *timer_main(void *arg)
{
	struct irqchip *ic = arg;

	if (vmm_thread_started)
		vmm_thread_started();
	ic_lock(ic);
	while (!ic->stopping) {
		/* While awake, arming needs no wake-up: we recompute below. */
		ic->timer_sleep_until = INT64_MIN;
		int64_t next = irqchip_run_timers_locked(ic, ic_now(ic));
		ic->timer_sleep_until = next;
		uint32_t gen = atomic_load(&ic->timer_gen);
		ic_unlock(ic);
		futex_wait_until(&ic->timer_gen, gen, next);
		ic_lock(ic);
	}
	ic_unlock(ic);
	return NULL;
}

int timer_thread_start(struct irqchip *ic)
{
	sigset_t all, old;
	/* Signals are for the VMM's threads, never for this one. */
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	int err = pthread_create(&ic->timer_thread, NULL, timer_main, ic);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (err)
		return -err;
	ic->has_timer_thread = true;
	return 0;
}

void timer_thread_stop(struct irqchip *ic)
{
	if (!ic->has_timer_thread)
		return;
	ic_lock(ic);
	ic->stopping = true;
	ic_unlock(ic);
	atomic_fetch_add(&ic->timer_gen, 1);
	futex_wake_all(&ic->timer_gen);
	pthread_join(ic->timer_thread, NULL);
	ic->has_timer_thread = false;
}
