/*
 * The instruction handlers, one family per file. The decoder's tables
 * (decode.c) refer to these by name.
 */
#ifndef RUNVM_SOFT_INSNS_H
#define RUNVM_SOFT_INSNS_H

#include "cpu.h"

/*
 * Handlers specialized at decode time: each family's selector returns
 * the specialized handler for a decoded instruction whose generic
 * handler is fn, or NULL. It may rewrite operand fields of in to fit the
 * form it picks. code_size is the decoding mode's (8: 64-bit code).
 */
typedef insn_fn *insn_select_fn(struct insn *in, insn_fn *fn, int code_size);
insn_select_fn alu_select, shift_select, muldiv_select, data_select, control_select, bitops_select;

/* alu.c */
insn_fn op_alu_rm_r, op_alu_r_rm, op_alu_acc_imm, op_alu_rm_imm;
insn_fn op_inc_r, op_dec_r, op_inc_rm, op_dec_rm;
insn_fn op_test_rm_r, op_test_acc_imm, op_test_rm_imm, op_not, op_neg;
insn_fn op_daa, op_das, op_aaa, op_aas, op_aam, op_aad, op_salc;

/* shift.c */
insn_fn op_shift, op_shld, op_shrd;

/* muldiv.c */
insn_fn op_mul, op_imul1, op_div, op_idiv, op_imul_r_rm, op_imul_r_rm_imm;

/* bitops.c */
insn_fn op_bt_rm_r, op_bt_imm, op_bsf, op_bsr, op_popcnt, op_bswap;

/* string.c */
insn_fn op_movs, op_cmps, op_stos, op_lods, op_scas, op_ins, op_outs;

/* control.c */
insn_fn op_jcc, op_jmp_rel, op_call_rel, op_ret, op_jmp_rm, op_call_rm;
insn_fn op_jmp_far, op_jmp_far_m, op_call_far, op_call_far_m, op_retf;
insn_fn op_loop, op_jcxz, op_int, op_int3, op_into, op_int1, op_iret, op_bound;

/* data.c */
insn_fn op_mov_rm_r, op_mov_r_rm, op_mov_rm_sreg, op_mov_sreg_rm, op_mov_r_imm;
insn_fn op_mov_rm_imm, op_mov_moffs, op_movzx, op_movsx, op_movsxd, op_lea;
insn_fn op_xchg_r, op_xchg_rm, op_cmpxchg, op_grp9, op_xadd;
insn_fn op_push_r, op_pop_r, op_push_imm, op_pop_rm, op_push_rm;
insn_fn op_push_sreg, op_pop_sreg, op_pusha, op_popa, op_pushf, op_popf;
insn_fn op_enter, op_leave, op_cbw, op_cwd, op_setcc, op_cmovcc;
insn_fn op_lahf, op_sahf, op_cmc, op_clc, op_stc, op_cli, op_sti, op_cld, op_std;
insn_fn op_xlat, op_nop, op_lfar, op_movbe;

/* system.c */
insn_fn op_hlt, op_in, op_out, op_cpuid, op_rdmsr, op_wrmsr, op_rdtsc, op_rdtscp;
insn_fn op_mov_r_cr, op_mov_cr_r, op_mov_r_dr, op_mov_dr_r, op_grp6, op_grp7;
insn_fn op_clts, op_invd, op_ud, op_syscall, op_sysret, op_sysenter, op_sysexit;
insn_fn op_lar, op_lsl, op_grp15, op_rdpmc;

/* fpu.c */
insn_fn op_fpu, op_fwait;

/* sse.c (the SSE/MMX handlers it dispatches to are declared in simd.h) */
insn_fn op_sse, op_fxsave, op_fxrstor, op_ldmxcsr, op_stmxcsr;

#endif
