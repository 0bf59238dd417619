/* IDT construction and the C half of every interrupt and exception. */
#include "trap.h"

#ifdef __x86_64__
struct gate {
	uint16_t off_lo, sel;
	uint8_t ist, type;
	uint16_t off_mid;
	uint32_t off_hi, zero;
};
#else
struct gate {
	uint16_t off_lo, sel;
	uint8_t zero, type;
	uint16_t off_mid;
};
#endif

#define GATE_INTERRUPT 0x8e         /* present, DPL 0, interrupt gate */

extern const uintptr_t isr_table[256];     /* idt32.S / idt64.S */

static struct gate idt[256] ALIGNED(16);
static trap_fn handlers[256];
volatile struct exc_record exc;
volatile uintptr_t exc_resume;
volatile uint32_t irq_count[256];

void idt_load(void)
{
	struct __attribute__((packed)) {
		uint16_t limit;
		uintptr_t base;
	} idtr = { sizeof(idt) - 1, (uintptr_t)idt };
	asm volatile("lidt %0" :: "m"(idtr));
}

void idt_init(uint16_t cs)
{
	for (unsigned v = 0; v < 256; v++) {
		uintptr_t a = isr_table[v];
		struct gate *g = &idt[v];
		g->off_lo = (uint16_t)a;
		g->sel = cs;
		g->type = GATE_INTERRUPT;
		g->off_mid = (uint16_t)(a >> 16);
#ifdef __x86_64__
		g->off_hi = (uint32_t)(a >> 32);
#endif
	}
	idt_load();
}

void idt_set_dpl(unsigned vector, unsigned dpl)
{
	idt[vector & 255].type = (uint8_t)((GATE_INTERRUPT & ~0x60) | (dpl & 3) << 5);
}

void trap_set_handler(unsigned vector, trap_fn fn)
{
	handlers[vector & 255] = fn;
}

void exc_clear(void)
{
	exc.count = 0;
	exc.vector = 0xff;
	exc.error = 0;
	exc.ip = 0;
	exc.cr2 = 0;
}

int expect_exception(const char *what, unsigned vector, uint64_t error, uintptr_t ip)
{
	if (exc.count != 1) {
		test_fail("%s: %u exceptions, want 1 (vector %u)", what, exc.count, vector);
		return 0;
	}
	int ok = 1;
	if (exc.vector != vector) {
		test_fail("%s: vector %u, want %u", what, exc.vector, vector);
		ok = 0;
	}
	if (error != NO_ERROR && exc.error != error) {
		test_fail("%s: error code 0x%llx, want 0x%llx", what,
			  (unsigned long long)exc.error, (unsigned long long)error);
		ok = 0;
	}
	if (exc.ip != ip) {
		test_fail("%s: saved ip %p, want %p", what, (void *)exc.ip, (void *)ip);
		ok = 0;
	}
	return ok;
}

void trap_dispatch(struct trap_frame *f);
void trap_dispatch(struct trap_frame *f)
{
	unsigned v = (unsigned)f->vector & 255;

	if (v >= 32) {
		irq_count[v]++;
		if (handlers[v])
			handlers[v](f);
		return;
	}
	exc.count++;
	exc.vector = v;
	exc.error = f->error;
	exc.ip = f->ip;
	exc.cr2 = v == 14 ? read_cr2() : 0;
	if (handlers[v]) {
		handlers[v](f);
	} else if (exc_resume) {
		f->ip = exc_resume;
		exc_resume = 0;
	} else {
		guest_abort("unexpected exception %u, error 0x%lx, ip %p, cr2 %p",
			    v, (unsigned long)f->error, (void *)f->ip,
			    (void *)(v == 14 ? read_cr2() : 0));
	}
}
