/*
 * runvm's terminal in raw mode while the serial console owns it.
 */
#ifndef RUNVM_TERMINAL_H
#define RUNVM_TERMINAL_H

/*
 * Puts the terminal fd in raw mode, after arranging that atexit() and
 * fatal signals put it back. Returns 0, or -1 (errno set) when fd is not
 * a terminal or another one is already raw.
 */
int terminal_enter_raw(int fd);

/* Restores the saved mode; idempotent and async-signal-safe. */
void terminal_restore(void);

#endif
