/*
 * What an instruction leaves legitimately different on two hypervisors.
 *
 * Two kinds of result may differ without either side being wrong:
 *  - flags the Intel SDM calls undefined after an instruction (AF after a
 *    logical operation, SF/ZF/AF/PF after MUL, all six after DIV, OF
 *    after a multi-bit shift ...): side A's come from the host CPU or
 *    from KVM's emulator, side B's from our own;
 *  - registers loaded from host-dependent sources: the time stamp counter
 *    (RDTSC, RDTSCP, RDMSR of the TSC, MPERF, APERF), performance
 *    counters (RDPMC), random numbers (RDRAND, RDSEED) and CPUID (both
 *    sides get the same CPUID table, but the hypervisors fill in some
 *    leaves and bits themselves).
 * The lockstep loop copies those from side A to side B after the step.
 *
 * Only prefixes, the opcode and ModRM are decoded: enough to tell these
 * instructions apart, one rule each in insn_rules[].
 */
#include <stddef.h>
#include <string.h>

#include "lockstep.h"

#define CF 0x001ULL
#define PF 0x004ULL
#define AF 0x010ULL
#define ZF 0x040ULL
#define SF 0x080ULL
#define OF 0x800ULL
#define ALL_ARITH (CF | PF | AF | ZF | SF | OF)

#define R_RAX (1u << 0)
#define R_RCX (1u << 1)
#define R_RDX (1u << 2)
#define R_RBX (1u << 3)

#define MSR_TSC    0x10
#define MSR_MPERF  0xe7
#define MSR_APERF  0xe8

enum opmap { MAP_1BYTE, MAP_0F, MAP_0F38, MAP_0F3A };

struct opcode {
	enum opmap map;
	uint8_t op;
	int has_modrm;                  /* a byte followed the opcode */
	uint8_t modrm;
	uint8_t rex;
	int rep;                        /* an F2 or F3 prefix */
	int addr_override;              /* a 67 prefix */
};

#define ANY_REG 0xff

struct insn_rule {
	enum opmap map;
	uint8_t first, last;            /* opcode range */
	uint8_t reg_mask;               /* allowed ModRM.reg values (bit n = /n) */
	int need_reg_form;              /* ModRM.mod must be 3 */
	int modrm;                      /* exact ModRM byte, or -1 */
	int (*applies)(const struct cpu_state *st);
	const char *name;
	uint64_t undefined_flags;
	uint32_t host_regs;
	uint64_t host_flags;
	int host_rm;                    /* the ModRM.rm register gets a host-dependent value */
};

static int rdmsr_of_a_clock(const struct cpu_state *st)
{
	uint32_t msr = (uint32_t)st->regs.rcx;
	return msr == MSR_TSC || msr == MSR_MPERF || msr == MSR_APERF;
}

#define R(b) (1u << (b))

static const struct insn_rule insn_rules[] = {
	/* Logical operations: AF undefined. */
	{ MAP_1BYTE, 0x08, 0x0d, ANY_REG, 0, -1, NULL, "OR", AF, 0, 0, 0 },
	{ MAP_1BYTE, 0x20, 0x25, ANY_REG, 0, -1, NULL, "AND", AF, 0, 0, 0 },
	{ MAP_1BYTE, 0x30, 0x35, ANY_REG, 0, -1, NULL, "XOR", AF, 0, 0, 0 },
	{ MAP_1BYTE, 0x84, 0x85, ANY_REG, 0, -1, NULL, "TEST", AF, 0, 0, 0 },
	{ MAP_1BYTE, 0xa8, 0xa9, ANY_REG, 0, -1, NULL, "TEST", AF, 0, 0, 0 },
	{ MAP_1BYTE, 0x80, 0x83, R(1) | R(4) | R(6), 0, -1, NULL, "OR/AND/XOR", AF, 0, 0, 0 },
	{ MAP_1BYTE, 0xf6, 0xf7, R(0) | R(1), 0, -1, NULL, "TEST", AF, 0, 0, 0 },
	/* Multiply and divide. */
	{ MAP_1BYTE, 0xf6, 0xf7, R(4) | R(5), 0, -1, NULL, "MUL/IMUL", SF | ZF | AF | PF, 0, 0, 0 },
	{ MAP_1BYTE, 0xf6, 0xf7, R(6) | R(7), 0, -1, NULL, "DIV/IDIV", ALL_ARITH, 0, 0, 0 },
	{ MAP_1BYTE, 0x69, 0x69, ANY_REG, 0, -1, NULL, "IMUL", SF | ZF | AF | PF, 0, 0, 0 },
	{ MAP_1BYTE, 0x6b, 0x6b, ANY_REG, 0, -1, NULL, "IMUL", SF | ZF | AF | PF, 0, 0, 0 },
	{ MAP_0F, 0xaf, 0xaf, ANY_REG, 0, -1, NULL, "IMUL", SF | ZF | AF | PF, 0, 0, 0 },
	/* Shifts and rotates: OF unless the count is 1, AF after shifts. */
	{ MAP_1BYTE, 0xd0, 0xd1, R(4) | R(5) | R(6) | R(7), 0, -1, NULL, "shift by 1", AF, 0, 0, 0 },
	{ MAP_1BYTE, 0xc0, 0xc1, R(0) | R(1) | R(2) | R(3), 0, -1, NULL, "rotate", OF, 0, 0, 0 },
	{ MAP_1BYTE, 0xd2, 0xd3, R(0) | R(1) | R(2) | R(3), 0, -1, NULL, "rotate", OF, 0, 0, 0 },
	{ MAP_1BYTE, 0xc0, 0xc1, R(4) | R(5) | R(6) | R(7), 0, -1, NULL, "shift", OF | AF, 0, 0, 0 },
	{ MAP_1BYTE, 0xd2, 0xd3, R(4) | R(5) | R(6) | R(7), 0, -1, NULL, "shift", OF | AF, 0, 0, 0 },
	{ MAP_0F, 0xa4, 0xa5, ANY_REG, 0, -1, NULL, "SHLD", OF | AF, 0, 0, 0 },
	{ MAP_0F, 0xac, 0xad, ANY_REG, 0, -1, NULL, "SHRD", OF | AF, 0, 0, 0 },
	/* Bit tests and scans. */
	{ MAP_0F, 0xa3, 0xa3, ANY_REG, 0, -1, NULL, "BT", OF | SF | AF | PF, 0, 0, 0 },
	{ MAP_0F, 0xab, 0xab, ANY_REG, 0, -1, NULL, "BTS", OF | SF | AF | PF, 0, 0, 0 },
	{ MAP_0F, 0xb3, 0xb3, ANY_REG, 0, -1, NULL, "BTR", OF | SF | AF | PF, 0, 0, 0 },
	{ MAP_0F, 0xbb, 0xbb, ANY_REG, 0, -1, NULL, "BTC", OF | SF | AF | PF, 0, 0, 0 },
	{ MAP_0F, 0xba, 0xba, R(4) | R(5) | R(6) | R(7), 0, -1, NULL, "BT imm", OF | SF | AF | PF, 0, 0, 0 },
	/* BSF/BSR (and TZCNT/LZCNT, which a CPU without them runs as BSF/BSR). */
	{ MAP_0F, 0xbc, 0xbd, ANY_REG, 0, -1, NULL, "BSF/BSR", CF | OF | SF | AF | PF, 0, 0, 0 },
	/* Decimal adjustment (outside 64-bit mode). */
	{ MAP_1BYTE, 0x27, 0x27, ANY_REG, 0, -1, NULL, "DAA", OF, 0, 0, 0 },
	{ MAP_1BYTE, 0x2f, 0x2f, ANY_REG, 0, -1, NULL, "DAS", OF, 0, 0, 0 },
	{ MAP_1BYTE, 0x37, 0x37, ANY_REG, 0, -1, NULL, "AAA", OF | SF | ZF | PF, 0, 0, 0 },
	{ MAP_1BYTE, 0x3f, 0x3f, ANY_REG, 0, -1, NULL, "AAS", OF | SF | ZF | PF, 0, 0, 0 },
	{ MAP_1BYTE, 0xd4, 0xd5, ANY_REG, 0, -1, NULL, "AAM/AAD", OF | AF | CF, 0, 0, 0 },
	/* Host-dependent sources. */
	{ MAP_0F, 0x31, 0x31, ANY_REG, 0, -1, NULL, "RDTSC", 0, R_RAX | R_RDX, 0, 0 },
	{ MAP_0F, 0x01, 0x01, ANY_REG, 1, 0xf9, NULL, "RDTSCP", 0, R_RAX | R_RCX | R_RDX, 0, 0 },
	{ MAP_0F, 0x32, 0x32, ANY_REG, 0, -1, rdmsr_of_a_clock, "RDMSR clock", 0, R_RAX | R_RDX, 0, 0 },
	{ MAP_0F, 0x33, 0x33, ANY_REG, 0, -1, NULL, "RDPMC", 0, R_RAX | R_RDX, 0, 0 },
	{ MAP_0F, 0xa2, 0xa2, ANY_REG, 0, -1, NULL, "CPUID", 0, R_RAX | R_RBX | R_RCX | R_RDX, 0, 0 },
	{ MAP_0F, 0xc7, 0xc7, R(6) | R(7), 1, -1, NULL, "RDRAND/RDSEED", 0, 0, CF, 1 },
};

static int is_legacy_prefix(uint8_t b)
{
	switch (b) {
	case 0x26: case 0x2e: case 0x36: case 0x3e: case 0x64: case 0x65:
	case 0x66: case 0x67: case 0xf0: case 0xf2: case 0xf3:
		return 1;
	default:
		return 0;
	}
}

/* Returns 0 with the opcode found, -1 when the bytes end before it. */
static int decode_opcode(const uint8_t *b, size_t len, int long64, struct opcode *op)
{
	size_t i = 0;
	memset(op, 0, sizeof(*op));
	for (; i < len && i < INSN_MAX && is_legacy_prefix(b[i]); i++) {
		if (b[i] == 0xf2 || b[i] == 0xf3)
			op->rep = 1;
		if (b[i] == 0x67)
			op->addr_override = 1;
	}
	if (long64 && i < len && (b[i] & 0xf0) == 0x40)
		op->rex = b[i++];
	if (i >= len)
		return -1;
	op->map = MAP_1BYTE;
	if (b[i] == 0x0f) {
		if (++i >= len)
			return -1;
		op->map = MAP_0F;
		if (b[i] == 0x38 || b[i] == 0x3a) {
			op->map = b[i] == 0x38 ? MAP_0F38 : MAP_0F3A;
			if (++i >= len)
				return -1;
		}
	}
	op->op = b[i++];
	if (i < len) {
		op->has_modrm = 1;
		op->modrm = b[i];
	}
	return 0;
}

static int rule_matches(const struct insn_rule *r, const struct opcode *op, const struct cpu_state *st)
{
	if (r->map != op->map || op->op < r->first || op->op > r->last)
		return 0;
	unsigned reg = (op->modrm >> 3) & 7;
	if (r->reg_mask != ANY_REG && (!op->has_modrm || !(r->reg_mask & (1u << reg))))
		return 0;
	if (r->need_reg_form && (!op->has_modrm || (op->modrm >> 6) != 3))
		return 0;
	if (r->modrm >= 0 && (!op->has_modrm || op->modrm != r->modrm))
		return 0;
	return !r->applies || r->applies(st);
}

void insn_effects(const uint8_t *bytes, size_t len, const struct cpu_state *st, struct insn_effects *e)
{
	memset(e, 0, sizeof(*e));
	struct opcode op;
	if (decode_opcode(bytes, len, state_long64(st), &op) < 0)
		return;
	for (size_t i = 0; i < sizeof(insn_rules) / sizeof(insn_rules[0]); i++) {
		const struct insn_rule *r = &insn_rules[i];
		if (!rule_matches(r, &op, st))
			continue;
		e->name = r->name;
		e->undefined_flags = r->undefined_flags;
		e->host_regs = r->host_regs;
		e->host_flags = r->host_flags;
		if (r->host_rm)
			e->host_regs |= 1u << ((op.modrm & 7) | ((op.rex & 1) << 3));
		return;
	}
}

static int is_string_op(uint8_t op)
{
	return (op >= 0x6c && op <= 0x6f) || (op >= 0xa4 && op <= 0xa7) || (op >= 0xaa && op <= 0xaf);
}

/* The address size in bits of code running in st, before a 67 prefix. */
static unsigned default_addr_bits(const struct cpu_state *st)
{
	if (state_long64(st))
		return 64;
	return st->sregs.cs.db ? 32 : 16;
}

int insn_rep_string(const uint8_t *bytes, size_t len, const struct cpu_state *st, uint64_t *count_mask)
{
	struct opcode op;
	if (decode_opcode(bytes, len, state_long64(st), &op) < 0)
		return 0;
	if (!op.rep || op.map != MAP_1BYTE || !is_string_op(op.op))
		return 0;
	unsigned bits = default_addr_bits(st);
	if (op.addr_override)
		bits = bits == 32 ? 16 : 32;
	*count_mask = bits == 64 ? ~0ULL : (1ULL << bits) - 1;
	return 1;
}

uint64_t *regs_gpr(struct kvm_regs *r, unsigned i)
{
	static const size_t offsets[16] = {
		offsetof(struct kvm_regs, rax), offsetof(struct kvm_regs, rcx),
		offsetof(struct kvm_regs, rdx), offsetof(struct kvm_regs, rbx),
		offsetof(struct kvm_regs, rsp), offsetof(struct kvm_regs, rbp),
		offsetof(struct kvm_regs, rsi), offsetof(struct kvm_regs, rdi),
		offsetof(struct kvm_regs, r8), offsetof(struct kvm_regs, r9),
		offsetof(struct kvm_regs, r10), offsetof(struct kvm_regs, r11),
		offsetof(struct kvm_regs, r12), offsetof(struct kvm_regs, r13),
		offsetof(struct kvm_regs, r14), offsetof(struct kvm_regs, r15),
	};
	return (uint64_t *)((char *)r + offsets[i & 15]);
}
