/*
 * The 16550A UART on COM1, bound to runvm's terminal.
 */
#ifndef RUNVM_SERIAL_H
#define RUNVM_SERIAL_H

struct vm;
struct serial;

/*
 * Creates a UART at COM1_PORT that writes the guest's output to out_fd and
 * feeds in_fd to the guest from a thread of its own. When in_fd is a
 * terminal it is put in raw mode, and Ctrl-A starts an escape (Ctrl-A h
 * lists them). Returns NULL with a message on failure.
 */
struct serial *serial_create(struct vm *vm, int in_fd, int out_fd);
/* Stops the input thread, restores the terminal and frees the UART. */
void serial_destroy(struct serial *s);

/* Whether the UART drives its IRQ line high now (for tests). */
int serial_irq_level(struct serial *s);

/*
 * Puts the terminal back in the mode it had before runvm changed it.
 * Idempotent and async-signal-safe: runvm calls it from atexit() and
 * from fatal-signal handlers as well as on a normal exit.
 */
void serial_restore_terminal(void);

#endif
