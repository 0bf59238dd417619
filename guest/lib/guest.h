/*
 * The freestanding test-guest library: types, CPU and I/O primitives, the
 * platform's fixed addresses, serial output and test reporting.
 *
 * Built twice, for 32-bit protected mode (-m32) and 64-bit long mode. Every
 * guest runs at CPL 0 on one vCPU (the SMP guest on more) and reports
 * through COM1 and the debug-exit port.
 */
#ifndef GUEST_H
#define GUEST_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#define NORETURN __attribute__((noreturn))
#define ALIGNED(n) __attribute__((aligned(n)))
#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

/* The platform (see src/dev/devices.h). */
#define COM1            0x3f8
#define COM1_IRQ        4
#define DEBUG_EXIT      0xf4
#define TESTDEV_PORT    0xe0
#define TESTDEV_IRQ     0x2000          /* + ISA IRQ number */
#define TESTDEV_MMIO    0xff000000UL
#define IOAPIC_BASE     0xfec00000UL
#define LAPIC_BASE      0xfee00000UL
#define FW_CFG_SEL      0x510
#define FW_CFG_DATA     0x511

/* MSRs. */
#define MSR_TSC             0x10
#define MSR_APIC_BASE       0x1b
#define MSR_SYSENTER_CS     0x174
#define MSR_SYSENTER_ESP    0x175
#define MSR_SYSENTER_EIP    0x176
#define MSR_PAT             0x277
#define MSR_EFER            0xc0000080
#define MSR_STAR            0xc0000081
#define MSR_LSTAR           0xc0000082
#define MSR_CSTAR           0xc0000083
#define MSR_SFMASK          0xc0000084
#define MSR_FS_BASE         0xc0000100
#define MSR_GS_BASE         0xc0000101
#define MSR_KERNEL_GS_BASE  0xc0000102
#define MSR_TSC_AUX         0xc0000103

#define EFER_SCE  (1u << 0)
#define EFER_LME  (1u << 8)
#define EFER_LMA  (1u << 10)
#define EFER_NXE  (1u << 11)

#define CR0_PE  (1u << 0)
#define CR0_WP  (1u << 16)
#define CR0_PG  (1u << 31)
#define CR4_PSE (1u << 4)
#define CR4_PAE (1u << 5)

#define RFLAGS_IF (1u << 9)

/* ---- port I/O ---- */
static inline void outb(uint16_t port, uint8_t v) { asm volatile("outb %0, %1" :: "a"(v), "Nd"(port)); }
static inline void outw(uint16_t port, uint16_t v) { asm volatile("outw %0, %1" :: "a"(v), "Nd"(port)); }
static inline void outl(uint16_t port, uint32_t v) { asm volatile("outl %0, %1" :: "a"(v), "Nd"(port)); }
static inline uint8_t inb(uint16_t port) { uint8_t v; asm volatile("inb %1, %0" : "=a"(v) : "Nd"(port)); return v; }
static inline uint16_t inw(uint16_t port) { uint16_t v; asm volatile("inw %1, %0" : "=a"(v) : "Nd"(port)); return v; }
static inline uint32_t inl(uint16_t port) { uint32_t v; asm volatile("inl %1, %0" : "=a"(v) : "Nd"(port)); return v; }

/* ---- MMIO, one access of exactly the named width ---- */
static inline void mmio_write8(uintptr_t a, uint8_t v) { asm volatile("movb %1, %0" : "=m"(*(volatile uint8_t *)a) : "q"(v)); }
static inline void mmio_write16(uintptr_t a, uint16_t v) { asm volatile("movw %1, %0" : "=m"(*(volatile uint16_t *)a) : "r"(v)); }
static inline void mmio_write32(uintptr_t a, uint32_t v) { asm volatile("movl %1, %0" : "=m"(*(volatile uint32_t *)a) : "r"(v)); }
static inline uint8_t mmio_read8(uintptr_t a) { uint8_t v; asm volatile("movb %1, %0" : "=q"(v) : "m"(*(volatile uint8_t *)a)); return v; }
static inline uint16_t mmio_read16(uintptr_t a) { uint16_t v; asm volatile("movw %1, %0" : "=r"(v) : "m"(*(volatile uint16_t *)a)); return v; }
static inline uint32_t mmio_read32(uintptr_t a) { uint32_t v; asm volatile("movl %1, %0" : "=r"(v) : "m"(*(volatile uint32_t *)a)); return v; }
#ifdef __x86_64__
static inline void mmio_write64(uintptr_t a, uint64_t v) { asm volatile("movq %1, %0" : "=m"(*(volatile uint64_t *)a) : "r"(v)); }
static inline uint64_t mmio_read64(uintptr_t a) { uint64_t v; asm volatile("movq %1, %0" : "=r"(v) : "m"(*(volatile uint64_t *)a)); return v; }
#endif

/* ---- CPU ---- */
struct cpuid { uint32_t a, b, c, d; };
static inline struct cpuid cpuid(uint32_t leaf, uint32_t sub)
{
	struct cpuid r;
	asm volatile("cpuid" : "=a"(r.a), "=b"(r.b), "=c"(r.c), "=d"(r.d) : "a"(leaf), "c"(sub));
	return r;
}
static inline uint64_t rdmsr(uint32_t msr)
{
	uint32_t lo, hi;
	asm volatile("rdmsr" : "=a"(lo), "=d"(hi) : "c"(msr));
	return ((uint64_t)hi << 32) | lo;
}
static inline void wrmsr(uint32_t msr, uint64_t v)
{
	asm volatile("wrmsr" :: "c"(msr), "a"((uint32_t)v), "d"((uint32_t)(v >> 32)) : "memory");
}
static inline uint64_t rdtsc(void)
{
	uint32_t lo, hi;
	asm volatile("rdtsc" : "=a"(lo), "=d"(hi));
	return ((uint64_t)hi << 32) | lo;
}
#define DEFINE_CR(n) \
	static inline uintptr_t read_cr##n(void) { uintptr_t v; asm volatile("mov %%cr" #n ", %0" : "=r"(v)); return v; } \
	static inline void write_cr##n(uintptr_t v) { asm volatile("mov %0, %%cr" #n :: "r"(v) : "memory"); }
DEFINE_CR(0)
DEFINE_CR(2)
DEFINE_CR(3)
DEFINE_CR(4)
static inline uintptr_t read_flags(void)
{
	uintptr_t f;
	asm volatile("pushf; pop %0" : "=r"(f));
	return f;
}
static inline void cli(void) { asm volatile("cli" ::: "memory"); }
static inline void sti(void) { asm volatile("sti" ::: "memory"); }
/* STI's one-instruction shadow makes this race-free: an interrupt that is
 * already pending wakes the HLT instead of being taken before it. */
static inline void sti_hlt(void) { asm volatile("sti; hlt" ::: "memory"); }
static inline void pause(void) { asm volatile("pause" ::: "memory"); }
static inline void invlpg(uintptr_t a) { asm volatile("invlpg (%0)" :: "r"(a) : "memory"); }
#define barrier() asm volatile("" ::: "memory")

/* ---- library functions (guest/lib) ---- */
void *memset(void *d, int c, size_t n);
void *memcpy(void *d, const void *s, size_t n);
int memcmp(const void *a, const void *b, size_t n);
size_t strlen(const char *s);

void serial_putc(char c);
void serial_puts(const char *s);
/* %s %c %d %u %x %lx %llx %p, with an optional zero-pad width: %08x. */
void printf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void vprintf(const char *fmt, va_list ap);

/* Ends the VM: 0 means every sub-test passed. */
NORETURN void debug_exit(uint32_t code);

/*
 * Sub-tests. test_start names one; expect_* report a mismatch as
 * "FAIL <name>: <what> = <got>, want <want>"; test_end prints
 * "PASS <name>" when nothing failed since test_start. guest_finish prints
 * a summary and exits with 0 only if no sub-test failed.
 */
void test_start(const char *name);
int test_end(void);
void test_fail(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void test_skip(const char *name, const char *why);
int expect_eq(const char *what, uint64_t got, uint64_t want);
int expect_true(const char *what, int cond);
NORETURN void guest_finish(void);
/* Stops at once after an error that makes going on meaningless. */
NORETURN void guest_abort(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Each guest's entry point, called by start32.S/start64.S. */
void guest_main(void);
extern const char guest_name[];

/* fw_cfg. */
void fwcfg_read(uint16_t key, void *buf, uint32_t len);
int fwcfg_present(void);
unsigned fwcfg_cpu_count(void);

#endif
