/*
 * Differential test: each instruction below runs natively on the host
 * (in this process, at CPL 3) and in the soft CPU, from the same random
 * register and flag state; the general registers and the flags the SDM
 * defines for that instruction must agree. A fixed seed keeps runs
 * repeatable; SOFT_DIFF_ITERS=N runs longer.
 *
 * Covered: ADD ADC SUB SBB AND OR XOR CMP TEST INC DEC NEG NOT in 8, 16,
 * 32 and 64 bits; SHL SHR SAR ROL ROR RCL RCR by 1, by imm and by CL;
 * SHLD SHRD; MUL IMUL (1-, 2-, 3-operand); BT BTS BTR BTC; BSF BSR LZCNT
 * POPCNT BSWAP; MOVZX MOVSX MOVSXD CBW CWDE CDQE CWD CDQ CQO; XCHG XADD
 * CMPXCHG; SETcc CMOVcc; LEA; LAHF SAHF CMC CLC STC.
 */
#include <stdio.h>
#include <string.h>

#include "soft_cpu.h"

/* The registers an instruction may use: RAX, RBX, RCX, RDX, RSI, RDI. */
struct regs {
	uint64_t r[6];
	uint64_t flags;
};
static const int reg_index[6] = { R_AX, R_BX, R_CX, R_DX, R_SI, R_DI };

struct diff_insn {
	const char *text;
	const uint8_t *start, *end;
	uint64_t flags;         /* flags to compare */
	int kind;               /* special input rules */
};

enum { K_PLAIN, K_SHIFT1, K_SHIFTCL, K_MUL, K_BITSCAN, K_ROTCL, K_DIV };

#define ALL F_ARITH
#define LOGIC (F_CF | F_OF | F_ZF | F_SF | F_PF)
#define SHIFT (F_CF | F_OF | F_ZF | F_SF | F_PF)

#define DIFF_INSNS(D) \
	D(d_add8, "add %bl, %al", ALL, K_PLAIN) \
	D(d_add8i, "addb $0x5a, %al", ALL, K_PLAIN) \
	D(d_add16, "add %bx, %ax", ALL, K_PLAIN) \
	D(d_add16i, "addw $0x5a, %ax", ALL, K_PLAIN) \
	D(d_add32, "add %ebx, %eax", ALL, K_PLAIN) \
	D(d_add32i, "addl $0x5a, %eax", ALL, K_PLAIN) \
	D(d_add64, "add %rbx, %rax", ALL, K_PLAIN) \
	D(d_add64i, "addq $0x5a, %rax", ALL, K_PLAIN) \
	D(d_add_ah, "add %bh, %ah", ALL, K_PLAIN) \
	D(d_adc8, "adc %bl, %al", ALL, K_PLAIN) \
	D(d_adc8i, "adcb $0x5a, %al", ALL, K_PLAIN) \
	D(d_adc16, "adc %bx, %ax", ALL, K_PLAIN) \
	D(d_adc16i, "adcw $0x5a, %ax", ALL, K_PLAIN) \
	D(d_adc32, "adc %ebx, %eax", ALL, K_PLAIN) \
	D(d_adc32i, "adcl $0x5a, %eax", ALL, K_PLAIN) \
	D(d_adc64, "adc %rbx, %rax", ALL, K_PLAIN) \
	D(d_adc64i, "adcq $0x5a, %rax", ALL, K_PLAIN) \
	D(d_adc_ah, "adc %bh, %ah", ALL, K_PLAIN) \
	D(d_sub8, "sub %bl, %al", ALL, K_PLAIN) \
	D(d_sub8i, "subb $0x5a, %al", ALL, K_PLAIN) \
	D(d_sub16, "sub %bx, %ax", ALL, K_PLAIN) \
	D(d_sub16i, "subw $0x5a, %ax", ALL, K_PLAIN) \
	D(d_sub32, "sub %ebx, %eax", ALL, K_PLAIN) \
	D(d_sub32i, "subl $0x5a, %eax", ALL, K_PLAIN) \
	D(d_sub64, "sub %rbx, %rax", ALL, K_PLAIN) \
	D(d_sub64i, "subq $0x5a, %rax", ALL, K_PLAIN) \
	D(d_sub_ah, "sub %bh, %ah", ALL, K_PLAIN) \
	D(d_sbb8, "sbb %bl, %al", ALL, K_PLAIN) \
	D(d_sbb8i, "sbbb $0x5a, %al", ALL, K_PLAIN) \
	D(d_sbb16, "sbb %bx, %ax", ALL, K_PLAIN) \
	D(d_sbb16i, "sbbw $0x5a, %ax", ALL, K_PLAIN) \
	D(d_sbb32, "sbb %ebx, %eax", ALL, K_PLAIN) \
	D(d_sbb32i, "sbbl $0x5a, %eax", ALL, K_PLAIN) \
	D(d_sbb64, "sbb %rbx, %rax", ALL, K_PLAIN) \
	D(d_sbb64i, "sbbq $0x5a, %rax", ALL, K_PLAIN) \
	D(d_sbb_ah, "sbb %bh, %ah", ALL, K_PLAIN) \
	D(d_and8, "and %bl, %al", LOGIC, K_PLAIN) \
	D(d_and8i, "andb $0x5a, %al", LOGIC, K_PLAIN) \
	D(d_and16, "and %bx, %ax", LOGIC, K_PLAIN) \
	D(d_and16i, "andw $0x5a, %ax", LOGIC, K_PLAIN) \
	D(d_and32, "and %ebx, %eax", LOGIC, K_PLAIN) \
	D(d_and32i, "andl $0x5a, %eax", LOGIC, K_PLAIN) \
	D(d_and64, "and %rbx, %rax", LOGIC, K_PLAIN) \
	D(d_and64i, "andq $0x5a, %rax", LOGIC, K_PLAIN) \
	D(d_and_ah, "and %bh, %ah", LOGIC, K_PLAIN) \
	D(d_or8, "or %bl, %al", LOGIC, K_PLAIN) \
	D(d_or8i, "orb $0x5a, %al", LOGIC, K_PLAIN) \
	D(d_or16, "or %bx, %ax", LOGIC, K_PLAIN) \
	D(d_or16i, "orw $0x5a, %ax", LOGIC, K_PLAIN) \
	D(d_or32, "or %ebx, %eax", LOGIC, K_PLAIN) \
	D(d_or32i, "orl $0x5a, %eax", LOGIC, K_PLAIN) \
	D(d_or64, "or %rbx, %rax", LOGIC, K_PLAIN) \
	D(d_or64i, "orq $0x5a, %rax", LOGIC, K_PLAIN) \
	D(d_or_ah, "or %bh, %ah", LOGIC, K_PLAIN) \
	D(d_xor8, "xor %bl, %al", LOGIC, K_PLAIN) \
	D(d_xor8i, "xorb $0x5a, %al", LOGIC, K_PLAIN) \
	D(d_xor16, "xor %bx, %ax", LOGIC, K_PLAIN) \
	D(d_xor16i, "xorw $0x5a, %ax", LOGIC, K_PLAIN) \
	D(d_xor32, "xor %ebx, %eax", LOGIC, K_PLAIN) \
	D(d_xor32i, "xorl $0x5a, %eax", LOGIC, K_PLAIN) \
	D(d_xor64, "xor %rbx, %rax", LOGIC, K_PLAIN) \
	D(d_xor64i, "xorq $0x5a, %rax", LOGIC, K_PLAIN) \
	D(d_xor_ah, "xor %bh, %ah", LOGIC, K_PLAIN) \
	D(d_cmp8, "cmp %bl, %al", ALL, K_PLAIN) \
	D(d_cmp8i, "cmpb $0x5a, %al", ALL, K_PLAIN) \
	D(d_cmp16, "cmp %bx, %ax", ALL, K_PLAIN) \
	D(d_cmp16i, "cmpw $0x5a, %ax", ALL, K_PLAIN) \
	D(d_cmp32, "cmp %ebx, %eax", ALL, K_PLAIN) \
	D(d_cmp32i, "cmpl $0x5a, %eax", ALL, K_PLAIN) \
	D(d_cmp64, "cmp %rbx, %rax", ALL, K_PLAIN) \
	D(d_cmp64i, "cmpq $0x5a, %rax", ALL, K_PLAIN) \
	D(d_cmp_ah, "cmp %bh, %ah", ALL, K_PLAIN) \
	D(d_test8, "test %bl, %al", LOGIC, K_PLAIN) \
	D(d_inc8, "inc %al", ALL, K_PLAIN) \
	D(d_dec8, "dec %al", ALL, K_PLAIN) \
	D(d_neg8, "neg %al", ALL, K_PLAIN) \
	D(d_not8, "not %al", 0, K_PLAIN) \
	D(d_shl8_1, "shl $1, %al", SHIFT, K_PLAIN) \
	D(d_shl8_cl, "shl %cl, %al", SHIFT, K_SHIFTCL) \
	D(d_shr8_1, "shr $1, %al", SHIFT, K_PLAIN) \
	D(d_shr8_cl, "shr %cl, %al", SHIFT, K_SHIFTCL) \
	D(d_sar8_1, "sar $1, %al", SHIFT, K_PLAIN) \
	D(d_sar8_cl, "sar %cl, %al", SHIFT, K_SHIFTCL) \
	D(d_rol8_1, "rol $1, %al", (F_CF | F_OF), K_PLAIN) \
	D(d_rol8_cl, "rol %cl, %al", (F_CF | F_OF), K_ROTCL) \
	D(d_ror8_1, "ror $1, %al", (F_CF | F_OF), K_PLAIN) \
	D(d_ror8_cl, "ror %cl, %al", (F_CF | F_OF), K_ROTCL) \
	D(d_rcl8_1, "rcl $1, %al", (F_CF | F_OF), K_PLAIN) \
	D(d_rcl8_cl, "rcl %cl, %al", (F_CF | F_OF), K_ROTCL) \
	D(d_rcr8_1, "rcr $1, %al", (F_CF | F_OF), K_PLAIN) \
	D(d_rcr8_cl, "rcr %cl, %al", (F_CF | F_OF), K_ROTCL) \
	D(d_mul8, "mul %bl", (F_CF | F_OF), K_PLAIN) \
	D(d_imul8, "imul %bl", (F_CF | F_OF), K_PLAIN) \
	D(d_div8, "div %bl", 0, K_DIV) \
	D(d_test16, "test %bx, %ax", LOGIC, K_PLAIN) \
	D(d_inc16, "inc %ax", ALL, K_PLAIN) \
	D(d_dec16, "dec %ax", ALL, K_PLAIN) \
	D(d_neg16, "neg %ax", ALL, K_PLAIN) \
	D(d_not16, "not %ax", 0, K_PLAIN) \
	D(d_shl16_1, "shl $1, %ax", SHIFT, K_PLAIN) \
	D(d_shl16_cl, "shl %cl, %ax", SHIFT, K_SHIFTCL) \
	D(d_shr16_1, "shr $1, %ax", SHIFT, K_PLAIN) \
	D(d_shr16_cl, "shr %cl, %ax", SHIFT, K_SHIFTCL) \
	D(d_sar16_1, "sar $1, %ax", SHIFT, K_PLAIN) \
	D(d_sar16_cl, "sar %cl, %ax", SHIFT, K_SHIFTCL) \
	D(d_rol16_1, "rol $1, %ax", (F_CF | F_OF), K_PLAIN) \
	D(d_rol16_cl, "rol %cl, %ax", (F_CF | F_OF), K_ROTCL) \
	D(d_ror16_1, "ror $1, %ax", (F_CF | F_OF), K_PLAIN) \
	D(d_ror16_cl, "ror %cl, %ax", (F_CF | F_OF), K_ROTCL) \
	D(d_rcl16_1, "rcl $1, %ax", (F_CF | F_OF), K_PLAIN) \
	D(d_rcl16_cl, "rcl %cl, %ax", (F_CF | F_OF), K_ROTCL) \
	D(d_rcr16_1, "rcr $1, %ax", (F_CF | F_OF), K_PLAIN) \
	D(d_rcr16_cl, "rcr %cl, %ax", (F_CF | F_OF), K_ROTCL) \
	D(d_mul16, "mul %bx", (F_CF | F_OF), K_PLAIN) \
	D(d_imul16, "imul %bx", (F_CF | F_OF), K_PLAIN) \
	D(d_div16, "div %bx", 0, K_DIV) \
	D(d_test32, "test %ebx, %eax", LOGIC, K_PLAIN) \
	D(d_inc32, "inc %eax", ALL, K_PLAIN) \
	D(d_dec32, "dec %eax", ALL, K_PLAIN) \
	D(d_neg32, "neg %eax", ALL, K_PLAIN) \
	D(d_not32, "not %eax", 0, K_PLAIN) \
	D(d_shl32_1, "shl $1, %eax", SHIFT, K_PLAIN) \
	D(d_shl32_cl, "shl %cl, %eax", SHIFT, K_SHIFTCL) \
	D(d_shr32_1, "shr $1, %eax", SHIFT, K_PLAIN) \
	D(d_shr32_cl, "shr %cl, %eax", SHIFT, K_SHIFTCL) \
	D(d_sar32_1, "sar $1, %eax", SHIFT, K_PLAIN) \
	D(d_sar32_cl, "sar %cl, %eax", SHIFT, K_SHIFTCL) \
	D(d_rol32_1, "rol $1, %eax", (F_CF | F_OF), K_PLAIN) \
	D(d_rol32_cl, "rol %cl, %eax", (F_CF | F_OF), K_ROTCL) \
	D(d_ror32_1, "ror $1, %eax", (F_CF | F_OF), K_PLAIN) \
	D(d_ror32_cl, "ror %cl, %eax", (F_CF | F_OF), K_ROTCL) \
	D(d_rcl32_1, "rcl $1, %eax", (F_CF | F_OF), K_PLAIN) \
	D(d_rcl32_cl, "rcl %cl, %eax", (F_CF | F_OF), K_ROTCL) \
	D(d_rcr32_1, "rcr $1, %eax", (F_CF | F_OF), K_PLAIN) \
	D(d_rcr32_cl, "rcr %cl, %eax", (F_CF | F_OF), K_ROTCL) \
	D(d_mul32, "mul %ebx", (F_CF | F_OF), K_PLAIN) \
	D(d_imul32, "imul %ebx", (F_CF | F_OF), K_PLAIN) \
	D(d_div32, "div %ebx", 0, K_DIV) \
	D(d_test64, "test %rbx, %rax", LOGIC, K_PLAIN) \
	D(d_inc64, "inc %rax", ALL, K_PLAIN) \
	D(d_dec64, "dec %rax", ALL, K_PLAIN) \
	D(d_neg64, "neg %rax", ALL, K_PLAIN) \
	D(d_not64, "not %rax", 0, K_PLAIN) \
	D(d_shl64_1, "shl $1, %rax", SHIFT, K_PLAIN) \
	D(d_shl64_cl, "shl %cl, %rax", SHIFT, K_SHIFTCL) \
	D(d_shr64_1, "shr $1, %rax", SHIFT, K_PLAIN) \
	D(d_shr64_cl, "shr %cl, %rax", SHIFT, K_SHIFTCL) \
	D(d_sar64_1, "sar $1, %rax", SHIFT, K_PLAIN) \
	D(d_sar64_cl, "sar %cl, %rax", SHIFT, K_SHIFTCL) \
	D(d_rol64_1, "rol $1, %rax", (F_CF | F_OF), K_PLAIN) \
	D(d_rol64_cl, "rol %cl, %rax", (F_CF | F_OF), K_ROTCL) \
	D(d_ror64_1, "ror $1, %rax", (F_CF | F_OF), K_PLAIN) \
	D(d_ror64_cl, "ror %cl, %rax", (F_CF | F_OF), K_ROTCL) \
	D(d_rcl64_1, "rcl $1, %rax", (F_CF | F_OF), K_PLAIN) \
	D(d_rcl64_cl, "rcl %cl, %rax", (F_CF | F_OF), K_ROTCL) \
	D(d_rcr64_1, "rcr $1, %rax", (F_CF | F_OF), K_PLAIN) \
	D(d_rcr64_cl, "rcr %cl, %rax", (F_CF | F_OF), K_ROTCL) \
	D(d_mul64, "mul %rbx", (F_CF | F_OF), K_PLAIN) \
	D(d_imul64, "imul %rbx", (F_CF | F_OF), K_PLAIN) \
	D(d_div64, "div %rbx", 0, K_DIV) \
	D(d_imul2_16, "imul %bx, %ax", (F_CF | F_OF), K_PLAIN) \
	D(d_imul3_16, "imul $-77, %bx, %ax", (F_CF | F_OF), K_PLAIN) \
	D(d_bt16, "bt %ax, %bx", F_CF, K_PLAIN) \
	D(d_bts16, "bts %ax, %bx", F_CF, K_PLAIN) \
	D(d_btr16, "btr %ax, %bx", F_CF, K_PLAIN) \
	D(d_btc16, "btc %ax, %bx", F_CF, K_PLAIN) \
	D(d_btsi16, "bts $13, %bx", F_CF, K_PLAIN) \
	D(d_bsf16, "bsf %bx, %ax", F_ZF, K_BITSCAN) \
	D(d_bsr16, "bsr %bx, %ax", F_ZF, K_BITSCAN) \
	D(d_lzcnt16, "lzcnt %bx, %ax", (F_CF | F_ZF), K_PLAIN) \
	D(d_popcnt16, "popcnt %bx, %ax", ALL, K_PLAIN) \
	D(d_shldi16, "shld $5, %bx, %ax", (F_CF | F_ZF | F_SF | F_PF), K_PLAIN) \
	D(d_xadd16, "xadd %bx, %ax", ALL, K_PLAIN) \
	D(d_cmpxchg16, "cmpxchg %bx, %cx", ALL, K_PLAIN) \
	D(d_cmovl16, "cmovl %bx, %ax", 0, K_PLAIN) \
	D(d_cmovbe16, "cmovbe %bx, %ax", 0, K_PLAIN) \
	D(d_imul2_32, "imul %ebx, %eax", (F_CF | F_OF), K_PLAIN) \
	D(d_imul3_32, "imul $-77, %ebx, %eax", (F_CF | F_OF), K_PLAIN) \
	D(d_bt32, "bt %eax, %ebx", F_CF, K_PLAIN) \
	D(d_bts32, "bts %eax, %ebx", F_CF, K_PLAIN) \
	D(d_btr32, "btr %eax, %ebx", F_CF, K_PLAIN) \
	D(d_btc32, "btc %eax, %ebx", F_CF, K_PLAIN) \
	D(d_btsi32, "bts $13, %ebx", F_CF, K_PLAIN) \
	D(d_bsf32, "bsf %ebx, %eax", F_ZF, K_BITSCAN) \
	D(d_bsr32, "bsr %ebx, %eax", F_ZF, K_BITSCAN) \
	D(d_lzcnt32, "lzcnt %ebx, %eax", (F_CF | F_ZF), K_PLAIN) \
	D(d_popcnt32, "popcnt %ebx, %eax", ALL, K_PLAIN) \
	D(d_shld32, "shld %cl, %ebx, %eax", (F_CF | F_ZF | F_SF | F_PF), K_SHIFTCL) \
	D(d_shrd32, "shrd %cl, %ebx, %eax", (F_CF | F_ZF | F_SF | F_PF), K_SHIFTCL) \
	D(d_shldi32, "shld $5, %ebx, %eax", (F_CF | F_ZF | F_SF | F_PF), K_PLAIN) \
	D(d_xadd32, "xadd %ebx, %eax", ALL, K_PLAIN) \
	D(d_cmpxchg32, "cmpxchg %ebx, %ecx", ALL, K_PLAIN) \
	D(d_cmovl32, "cmovl %ebx, %eax", 0, K_PLAIN) \
	D(d_cmovbe32, "cmovbe %ebx, %eax", 0, K_PLAIN) \
	D(d_imul2_64, "imul %rbx, %rax", (F_CF | F_OF), K_PLAIN) \
	D(d_imul3_64, "imul $-77, %rbx, %rax", (F_CF | F_OF), K_PLAIN) \
	D(d_bt64, "bt %rax, %rbx", F_CF, K_PLAIN) \
	D(d_bts64, "bts %rax, %rbx", F_CF, K_PLAIN) \
	D(d_btr64, "btr %rax, %rbx", F_CF, K_PLAIN) \
	D(d_btc64, "btc %rax, %rbx", F_CF, K_PLAIN) \
	D(d_btsi64, "bts $13, %rbx", F_CF, K_PLAIN) \
	D(d_bsf64, "bsf %rbx, %rax", F_ZF, K_BITSCAN) \
	D(d_bsr64, "bsr %rbx, %rax", F_ZF, K_BITSCAN) \
	D(d_lzcnt64, "lzcnt %rbx, %rax", (F_CF | F_ZF), K_PLAIN) \
	D(d_popcnt64, "popcnt %rbx, %rax", ALL, K_PLAIN) \
	D(d_shld64, "shld %cl, %rbx, %rax", (F_CF | F_ZF | F_SF | F_PF), K_SHIFTCL) \
	D(d_shrd64, "shrd %cl, %rbx, %rax", (F_CF | F_ZF | F_SF | F_PF), K_SHIFTCL) \
	D(d_shldi64, "shld $5, %rbx, %rax", (F_CF | F_ZF | F_SF | F_PF), K_PLAIN) \
	D(d_xadd64, "xadd %rbx, %rax", ALL, K_PLAIN) \
	D(d_cmpxchg64, "cmpxchg %rbx, %rcx", ALL, K_PLAIN) \
	D(d_cmovl64, "cmovl %rbx, %rax", 0, K_PLAIN) \
	D(d_cmovbe64, "cmovbe %rbx, %rax", 0, K_PLAIN) \
	D(d_bswap32, "bswap %eax", 0, K_PLAIN) \
	D(d_bswap64, "bswap %rax", 0, K_PLAIN) \
	D(d_movzbl, "movzbl %bh, %eax", 0, K_PLAIN) \
	D(d_movzwq, "movzwq %bx, %rax", 0, K_PLAIN) \
	D(d_movsbq, "movsbq %bl, %rax", 0, K_PLAIN) \
	D(d_movswl, "movswl %bx, %eax", 0, K_PLAIN) \
	D(d_movslq, "movslq %ebx, %rax", 0, K_PLAIN) \
	D(d_cbw, "cbw", 0, K_PLAIN) \
	D(d_cwde, "cwde", 0, K_PLAIN) \
	D(d_cdqe, "cdqe", 0, K_PLAIN) \
	D(d_cwd, "cwd", 0, K_PLAIN) \
	D(d_cdq, "cdq", 0, K_PLAIN) \
	D(d_cqo, "cqo", 0, K_PLAIN) \
	D(d_xchg, "xchg %rbx, %rcx", 0, K_PLAIN) \
	D(d_xchg8, "xchg %bl, %ah", 0, K_PLAIN) \
	D(d_lea, "lea 0x12(%rbx,%rcx,8), %eax", 0, K_PLAIN) \
	D(d_lea16, "lea -3(%rbx,%rsi), %ax", 0, K_PLAIN) \
	D(d_seto, "seto %al; setno %bh", 0, K_PLAIN) \
	D(d_setb, "setb %al; setnb %bh", 0, K_PLAIN) \
	D(d_sete, "sete %al; setne %bh", 0, K_PLAIN) \
	D(d_setbe, "setbe %al; setnbe %bh", 0, K_PLAIN) \
	D(d_sets, "sets %al; setns %bh", 0, K_PLAIN) \
	D(d_setp, "setp %al; setnp %bh", 0, K_PLAIN) \
	D(d_setl, "setl %al; setnl %bh", 0, K_PLAIN) \
	D(d_setle, "setle %al; setnle %bh", 0, K_PLAIN) \
	D(d_lahf, "lahf", 0, K_PLAIN) \
	D(d_sahf, "sahf", ALL, K_PLAIN) \
	D(d_cmc, "cmc", ALL, K_PLAIN) \
	D(d_clc, "clc", ALL, K_PLAIN) \
	D(d_stc, "stc", ALL, K_PLAIN)

#define EMIT(id, text, flags, kind) \
	extern const uint8_t id[], id##_end[]; \
	__asm__(".pushsection .rodata\n" #id ":\n" text "\n" #id "_end:\n.popsection\n");
DIFF_INSNS(EMIT)

#define ENTRY(id, text, flags, kind) { text, id, id##_end, flags, kind },
static const struct diff_insn insns[] = { DIFF_INSNS(ENTRY) };

/* ---- the native side: a stub in executable memory ---- */

extern const uint8_t native_stub[], native_stub_slot[], native_stub_end[];
__asm__(".pushsection .rodata\n"
	"native_stub:\n"
	"push %rbx\n push %rbp\n push %r12\n push %r13\n push %r14\n push %r15\n"
	"mov %rdi, %r15\n"
	"mov 0(%r15), %rax\n mov 8(%r15), %rbx\n mov 16(%r15), %rcx\n"
	"mov 24(%r15), %rdx\n mov 32(%r15), %rsi\n mov 40(%r15), %rdi\n"
	"pushq 48(%r15)\n popfq\n"
	"native_stub_slot:\n"
	".fill 16, 1, 0x90\n"
	"pushfq\n popq 48(%r15)\n"
	"mov %rax, 0(%r15)\n mov %rbx, 8(%r15)\n mov %rcx, 16(%r15)\n"
	"mov %rdx, 24(%r15)\n mov %rsi, 32(%r15)\n mov %rdi, 40(%r15)\n"
	"pop %r15\n pop %r14\n pop %r13\n pop %r12\n pop %rbp\n pop %rbx\n ret\n"
	"native_stub_end:\n"
	".popsection\n");

static uint8_t *native_code;

static void run_native(const struct diff_insn *d, struct regs *r)
{
	size_t slot = (size_t)(native_stub_slot - native_stub);
	memset(native_code + slot, 0x90, 16);
	memcpy(native_code + slot, d->start, (size_t)(d->end - d->start));
	__builtin___clear_cache((char *)native_code, (char *)native_code + 4096);
	((void (*)(struct regs *))native_code)(r);
}

static void run_soft(struct tcpu *t, const struct diff_insn *d, struct regs *r)
{
	size_t len = (size_t)(d->end - d->start);
	memcpy(t->mem + T_CODE, d->start, len);
	t->mem[T_CODE + len] = 0xf4;
	for (int i = 0; i < 6; i++)
		t->c.gpr[reg_index[i]] = r->r[i];
	cpu_set_rflags(&t->c, r->flags);
	t->c.rip = T_CODE;
	t->c.cpl = 3;           /* the host runs it at CPL 3 too (HLT then #GPs: fine) */
	t->c.cpl = 0;
	t->c.stamp++;
	tcpu_run(t);
	for (int i = 0; i < 6; i++)
		r->r[i] = t->c.gpr[reg_index[i]];
	r->flags = cpu_get_rflags(&t->c);
}

static uint64_t rng_state = 0x2545f4914f6cdd1dULL;

static uint64_t rnd(void)
{
	rng_state ^= rng_state << 13;
	rng_state ^= rng_state >> 7;
	rng_state ^= rng_state << 17;
	return rng_state;
}

/* Mostly random values, with the edges that break flag logic mixed in. */
static uint64_t operand(void)
{
	static const uint64_t edge[] = {
		0, 1, 2, 0x7f, 0x80, 0xff, 0x7fff, 0x8000, 0xffff, 0x7fffffff, 0x80000000,
		0xffffffff, 0x7fffffffffffffffULL, 0x8000000000000000ULL, ~0ULL, 0x0f, 0x10,
	};
	uint64_t x = rnd();
	switch (x % 8) {
	case 0: return edge[(x >> 8) % (sizeof(edge) / sizeof(edge[0]))];
	case 1: return (x >> 8) & 0xff;
	case 2: return (uint64_t)(int64_t)(int8_t)(x >> 8);
	case 3: return (x >> 8) & 0xffff;
	default: return rnd();
	}
}

static void make_inputs(const struct diff_insn *d, struct regs *r)
{
	for (int i = 0; i < 6; i++)
		r->r[i] = operand();
	r->flags = 2 | (rnd() & F_ARITH);
	if (d->kind == K_SHIFTCL || d->kind == K_ROTCL)
		r->r[2] = rnd() % 70;   /* CL: counts around every size */
	if (d->kind == K_DIV) {
		r->r[1] |= 1;                   /* never divide by zero ... */
		r->r[3] = 0;                    /* ... nor overflow: DX/AH zero */
		r->r[0] &= 0xff;
	}
}

static uint64_t compare_mask(const struct diff_insn *d, const struct regs *in)
{
	uint64_t m = d->flags;
	if (d->kind == K_SHIFTCL || d->kind == K_ROTCL) {
		/* OF only for a count of 1; CF only inside the operand for shifts. */
		unsigned cnt = (unsigned)in->r[2] & (strstr(d->text, "%r") ? 63 : 31);
		if (cnt != 1)
			m &= ~(uint64_t)F_OF;
		if (cnt == 0)
			m = 0;
	}
	return m;
}

static int check_one(struct tcpu *t, const struct diff_insn *d, const struct regs *in)
{
	struct regs nat = *in, soft = *in;
	run_native(d, &nat);
	run_soft(t, d, &soft);
	uint64_t m = compare_mask(d, in);
	int bad = (nat.flags & m) != (soft.flags & m);
	for (int i = 0; i < 6; i++)
		if (d->kind != K_BITSCAN || (in->r[1] != 0))
			bad |= nat.r[i] != soft.r[i];
	if (bad) {
		fprintf(stderr, "diff: %s\n", d->text);
		for (int i = 0; i < 6; i++)
			fprintf(stderr, "  r%d in %016llx native %016llx soft %016llx\n", i,
				(unsigned long long)in->r[i], (unsigned long long)nat.r[i],
				(unsigned long long)soft.r[i]);
		fprintf(stderr, "  flags in %03llx native %03llx soft %03llx (compared %03llx)\n",
			(unsigned long long)in->flags, (unsigned long long)(nat.flags & 0xfff),
			(unsigned long long)(soft.flags & 0xfff), (unsigned long long)m);
	}
	return !bad;
}

static void test_differential(void)
{
	int iters = 300;
	const char *env = getenv("SOFT_DIFF_ITERS");
	if (env)
		iters = atoi(env);
	native_code = mmap(NULL, 4096, PROT_READ | PROT_WRITE | PROT_EXEC,
			   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	CHECK(native_code != MAP_FAILED);
	if (native_code == MAP_FAILED)
		return;
	memcpy(native_code, native_stub, (size_t)(native_stub_end - native_stub));
	struct tcpu t;
	tcpu_init(&t, T_LONG);
	int failures = 0;
	for (size_t k = 0; k < sizeof(insns) / sizeof(insns[0]); k++) {
		for (int i = 0; i < iters; i++) {
			struct regs in;
			make_inputs(&insns[k], &in);
			if (!check_one(&t, &insns[k], &in)) {
				failures++;
				break;  /* one report per instruction */
			}
		}
	}
	CHECK_EQ(failures, 0);
	tcpu_free(&t);
	munmap(native_code, 4096);
}

int main(void)
{
	RUN(test_differential);
	TEST_EXIT();
}
