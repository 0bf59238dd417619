/*
 * System instructions: control and debug registers, descriptor tables,
 * LDT/TR, CPUID, MSRs, the TSC, HLT, port I/O, SWAPGS, the fast system
 * calls (SYSCALL/SYSRET, SYSENTER/SYSEXIT), and the fences and
 * CLFLUSH of group 15.
 *
 * CPUID, RDMSR/WRMSR, HLT and VMCALL leave the CPU as VM exits; the
 * hypervisor emulates them (vmx.c), like KVM does.
 */
#include "internal.h"
#include "insns.h"

static void need_cpl0(struct cpu *c)
{
	if (c->cpl != 0)
		GP0(c);
}

/* ---- control registers ---- */

void set_cr0(struct cpu *c, uint64_t v)
{
	uint64_t old = c->cr0;
	if (v >> 32)
		GP0(c);
	v |= CR0_ET;
	if ((v & CR0_PG) && !(v & CR0_PE))
		GP0(c);
	if ((v & CR0_NW) && !(v & CR0_CD))
		GP0(c);
	if ((v & CR0_PG) && !(old & CR0_PG) && (c->efer & EFER_LME)) {
		if (!(c->cr4 & CR4_PAE))
			GP0(c);
		c->efer |= EFER_LMA;
	}
	if (!(v & CR0_PG) && (old & CR0_PG) && (c->efer & EFER_LMA)) {
		if (c->mode == MODE_LONG)
			GP0(c);
		c->efer &= ~(uint64_t)EFER_LMA;
	}
	c->cr0 = v;
	if ((old ^ v) & (CR0_PG | CR0_WP | CR0_PE))
		cpu_flush_tlb(c);
	if (!(v & CR0_PE))
		c->cpl = 0;
	cpu_update_mode(c);
}

#define CR4_SUPPORTED (CR4_VME | CR4_PVI | CR4_TSD | CR4_DE | CR4_PSE | CR4_PAE | CR4_MCE | \
		       CR4_PGE | CR4_PCE | CR4_OSFXSR | CR4_OSXMMEXCPT | CR4_FSGSBASE | CR4_OSXSAVE)

void set_cr4(struct cpu *c, uint64_t v)
{
	if (v & ~(uint64_t)CR4_SUPPORTED)
		GP0(c);
	if ((c->efer & EFER_LMA) && !(v & CR4_PAE))
		GP0(c);
	if ((c->cr4 ^ v) & (CR4_PAE | CR4_PSE | CR4_PGE))
		cpu_flush_tlb(c);
	c->cr4 = v;
}

void set_cr3(struct cpu *c, uint64_t v)
{
	if ((c->efer & EFER_LMA) && (v >> 52))
		GP0(c);
	c->cr3 = v;
	cpu_flush_tlb_nonglobal(c);
}

/* 0F 20: MOV r, CRn (the operand is 64-bit in 64-bit mode, else 32-bit) */
void op_mov_r_cr(struct cpu *c, const struct insn *in)
{
	int size = c->mode == MODE_LONG ? 8 : 4;
	uint64_t v;
	need_cpl0(c);
	switch (in->reg) {
	case 0: v = c->cr0; break;
	case 2: v = c->cr2; break;
	case 3: v = c->cr3; break;
	case 4: v = c->cr4; break;
	case 8: v = c->plat && c->plat->get_tpr ? c->plat->get_tpr(c) : 0; break;
	default: UD(c);
	}
	reg_write(c, in->rm, size, v);
}

void op_mov_cr_r(struct cpu *c, const struct insn *in)
{
	int size = c->mode == MODE_LONG ? 8 : 4;
	uint64_t v = reg_read(c, in->rm, size);
	need_cpl0(c);
	switch (in->reg) {
	case 0: set_cr0(c, v); break;
	case 2: c->cr2 = v; break;
	case 3: set_cr3(c, v); break;
	case 4: set_cr4(c, v); break;
	case 8:
		if (v & ~0xfULL)
			GP0(c);
		if (c->plat && c->plat->set_tpr)
			c->plat->set_tpr(c, v);
		c->stop = 1;    /* a lower TPR may unmask an interrupt */
		break;
	default: UD(c);
	}
}

static int dr_index(struct cpu *c, int r)
{
	if (r == 4 || r == 5) {
		if (c->cr4 & CR4_DE)
			UD(c);
		return r + 2;
	}
	if (r > 7)
		UD(c);
	return r;
}

void op_mov_r_dr(struct cpu *c, const struct insn *in)
{
	need_cpl0(c);
	int r = dr_index(c, in->reg);
	reg_write(c, in->rm, c->mode == MODE_LONG ? 8 : 4, c->dr[r]);
}

void op_mov_dr_r(struct cpu *c, const struct insn *in)
{
	need_cpl0(c);
	int r = dr_index(c, in->reg);
	uint64_t v = reg_read(c, in->rm, c->mode == MODE_LONG ? 8 : 4);
	if (r == 6)
		v = (v & 0xf00f) | 0xffff0ff0;
	else if (r == 7)
		v = (v & 0xffffffff) | 0x400;
	c->dr[r] = v;
}

void op_clts(struct cpu *c, const struct insn *in)
{
	(void)in;
	need_cpl0(c);
	c->cr0 &= ~(uint64_t)CR0_TS;
}

void op_invd(struct cpu *c, const struct insn *in)
{
	(void)in;
	need_cpl0(c);
}

void op_ud(struct cpu *c, const struct insn *in)
{
	(void)in;
	UD(c);
}

/* ---- descriptor tables, LDT and TR ---- */

static void store_dtable(struct cpu *c, const struct insn *in, const struct dtable *t)
{
	uint64_t ea = insn_ea(c, in);
	int bsize = c->mode == MODE_LONG ? 8 : 4;
	if ((c->cr4 & CR4_UMIP) && c->cpl > 0)
		GP0(c);
	mem_write(c, in->seg, ea, 2, t->limit);
	mem_write(c, in->seg, (ea + 2) & size_mask(in->adsize), bsize, t->base);
}

static void load_dtable(struct cpu *c, const struct insn *in, struct dtable *t)
{
	need_cpl0(c);
	uint64_t ea = insn_ea(c, in);
	uint16_t limit = (uint16_t)mem_read(c, in->seg, ea, 2);
	uint64_t base;
	if (c->mode == MODE_LONG) {
		base = mem_read(c, in->seg, (ea + 2) & size_mask(in->adsize), 8);
		if (!is_canonical(base))
			GP0(c);
	} else {
		base = mem_read(c, in->seg, (ea + 2) & size_mask(in->adsize), 4);
		if (in->opsize == 2)
			base &= 0xffffff;
	}
	t->limit = limit;
	t->base = base;
}

/* A system descriptor from the GDT (16 bytes in long mode); faults with #GP(sel). */
static void load_system_seg(struct cpu *c, int sreg, uint16_t sel, int want_ldt)
{
	need_cpl0(c);
	if (!(sel & ~3)) {
		if (!want_ldt)
			GP0(c);
		c->seg[S_LDTR].sel = sel;
		c->seg[S_LDTR].attr = SEG_UNUSABLE;
		c->seg[S_LDTR].base = 0;
		c->seg[S_LDTR].limit = 0;
		return;
	}
	if (sel & 4)
		cpu_fault(c, EX_GP, sel & 0xfffc);
	uint64_t d = read_descriptor(c, sel, EX_GP);
	int type = (int)((d >> 40) & 0x1f);
	int ok = want_ldt ? type == 2 : (type == 9 || type == 1);
	if (!ok)
		cpu_fault(c, EX_GP, sel & 0xfffc);
	if (!((d >> 47) & 1))
		cpu_fault(c, EX_NP, sel & 0xfffc);
	struct seg s;
	seg_from_desc(&s, sel, d);
	if (c->efer & EFER_LMA) {
		uint64_t hi = lin_read(c, c->gdtr.base + (sel & ~7u) + 8, 8, ACC_R | ACC_SYS);
		s.base |= (hi & 0xffffffff) << 32;
	}
	if (!want_ldt) {        /* mark the TSS busy */
		uint64_t lin = c->gdtr.base + (sel & ~7u) + 5;
		lin_write(c, lin, 1, (uint8_t)(d >> 40) | 2, ACC_W | ACC_SYS);
		s.attr |= 2;
	}
	c->seg[sreg] = s;
}

/* Sets ZF when the segment is visible at this privilege (VERR/VERW, LAR/LSL). */
static int seg_visible(struct cpu *c, uint16_t sel, uint64_t *desc)
{
	if (!(sel & ~3))
		return 0;
	uint32_t limit = (sel & 4) ? c->seg[S_LDTR].limit : c->gdtr.limit;
	if ((sel & 4) && (c->seg[S_LDTR].attr & SEG_UNUSABLE))
		return 0;
	if ((uint32_t)(sel & ~7u) + 7 > limit)
		return 0;
	uint64_t d = read_descriptor(c, sel, EX_GP);
	int dpl = (int)((d >> 45) & 3), type = (int)((d >> 40) & 0xf);
	int conforming = ((d >> 44) & 1) && (type & 0xc) == 0xc;
	if (!conforming && (dpl < c->cpl || dpl < (sel & 3)))
		return 0;
	*desc = d;
	return 1;
}

static void set_zf(struct cpu *c, int on)
{
	flags_eager(c);
	c->flags = (c->flags & ~(uint64_t)F_ZF) | (on ? F_ZF : 0);
}

void op_grp6(struct cpu *c, const struct insn *in)
{
	uint64_t d;
	if (c->mode == MODE_REAL || c->mode == MODE_VM86)
		UD(c);
	switch (in->reg & 7) {
	case 0: /* SLDT */
	case 1: /* STR */
		if ((c->cr4 & CR4_UMIP) && c->cpl > 0)
			GP0(c);
		if (in->mod == 3)
			reg_write(c, in->rm, in->opsize, c->seg[(in->reg & 7) ? S_TR : S_LDTR].sel);
		else
			mem_write(c, in->seg, insn_ea(c, in), 2, c->seg[(in->reg & 7) ? S_TR : S_LDTR].sel);
		break;
	case 2: load_system_seg(c, S_LDTR, (uint16_t)rm_read(c, in, 2), 1); break;
	case 3: load_system_seg(c, S_TR, (uint16_t)rm_read(c, in, 2), 0); break;
	case 4: /* VERR */
	case 5: { /* VERW */
		uint16_t sel = (uint16_t)rm_read(c, in, 2);
		int ok = seg_visible(c, sel, &d) && ((d >> 44) & 1);
		if (ok) {
			int type = (int)((d >> 40) & 0xf);
			ok = (in->reg & 7) == 4 ? (!(type & 8) || (type & 2)) : (!(type & 8) && (type & 2));
		}
		set_zf(c, ok);
		break;
	}
	default: UD(c);
	}
}

void op_lar(struct cpu *c, const struct insn *in)
{
	uint64_t d;
	if (c->mode == MODE_REAL || c->mode == MODE_VM86)
		UD(c);
	int ok = seg_visible(c, (uint16_t)rm_read(c, in, 2), &d);
	if (ok)
		reg_write(c, in->reg, in->opsize, (d >> 32) & 0x00f0ff00);
	set_zf(c, ok);
}

void op_lsl(struct cpu *c, const struct insn *in)
{
	uint64_t d;
	if (c->mode == MODE_REAL || c->mode == MODE_VM86)
		UD(c);
	uint16_t sel = (uint16_t)rm_read(c, in, 2);
	int ok = seg_visible(c, sel, &d);
	if (ok) {
		struct seg s;
		seg_from_desc(&s, sel, d);
		reg_write(c, in->reg, in->opsize, s.limit);
	}
	set_zf(c, ok);
}

static void swapgs(struct cpu *c)
{
	if (c->mode != MODE_LONG)
		UD(c);
	need_cpl0(c);
	uint64_t t = c->seg[S_GS].base;
	c->seg[S_GS].base = c->kernel_gs_base;
	c->kernel_gs_base = t;
	c->sbase[S_GS] = c->seg[S_GS].base;
}

void op_rdtscp(struct cpu *c, const struct insn *in)
{
	op_rdtsc(c, in);
	reg_write(c, R_CX, 4, c->tsc_aux);
}

/* 0F 01 with a register operand: the instructions encoded in ModRM. */
static void grp7_reg(struct cpu *c, const struct insn *in)
{
	int rm = in->rm & 7;
	switch (in->reg & 7) {
	case 0:
		if (rm == 1)    /* VMCALL: the hypervisor answers (KVM's hypercall ABI) */
			cpu_vmexit(c, EXIT_VMCALL, 0);
		break;
	case 2:
		if (rm == 0) {  /* XGETBV */
			if (!(c->cr4 & CR4_OSXSAVE))
				UD(c);
			if ((uint32_t)c->gpr[R_CX] != 0)
				GP0(c);
			reg_write(c, R_AX, 4, c->xcr0);
			reg_write(c, R_DX, 4, c->xcr0 >> 32);
			return;
		}
		break;
	case 4: /* SMSW r */
		reg_write(c, in->rm, in->opsize, c->cr0 & size_mask(in->opsize));
		return;
	case 6: /* LMSW r */
		need_cpl0(c);
		set_cr0(c, (c->cr0 & ~0xeULL) | (c->cr0 & 1) | (reg_read(c, in->rm, 2) & 0xf));
		return;
	case 7:
		if (rm == 0) {
			swapgs(c);
			return;
		}
		if (rm == 1) {
			op_rdtscp(c, in);
			return;
		}
		break;
	}
	UD(c);
}

void op_grp7(struct cpu *c, const struct insn *in)
{
	if (in->mod == 3) {
		grp7_reg(c, in);
		return;
	}
	switch (in->reg & 7) {
	case 0: store_dtable(c, in, &c->gdtr); break;
	case 1: store_dtable(c, in, &c->idtr); break;
	case 2: load_dtable(c, in, &c->gdtr); break;
	case 3: load_dtable(c, in, &c->idtr); break;
	case 4: /* SMSW m16 */
		mem_write(c, in->seg, insn_ea(c, in), 2, c->cr0);
		break;
	case 6: { /* LMSW m16: can set PE but not clear it */
		need_cpl0(c);
		uint64_t v = mem_read(c, in->seg, insn_ea(c, in), 2) & 0xf;
		set_cr0(c, (c->cr0 & ~0xeULL) | (c->cr0 & 1) | v);
		break;
	}
	case 7: { /* INVLPG */
		need_cpl0(c);
		uint64_t lin = c->sbase[in->seg] + insn_ea(c, in);
		cpu_flush_tlb_page(c, c->mode == MODE_LONG ? lin : (uint32_t)lin);
		break;
	}
	default: UD(c);
	}
}

/* ---- CPUID, MSRs, TSC, HLT ---- */

void op_cpuid(struct cpu *c, const struct insn *in)
{
	(void)in;
	cpu_vmexit(c, EXIT_CPUID, 0);
}

void op_rdmsr(struct cpu *c, const struct insn *in)
{
	(void)in;
	need_cpl0(c);
	cpu_vmexit(c, EXIT_MSR_READ, 0);
}

void op_wrmsr(struct cpu *c, const struct insn *in)
{
	(void)in;
	need_cpl0(c);
	cpu_vmexit(c, EXIT_MSR_WRITE, 0);
}

void op_rdtsc(struct cpu *c, const struct insn *in)
{
	(void)in;
	if ((c->cr4 & CR4_TSD) && c->cpl > 0)
		GP0(c);
	uint64_t t = cpu_rdtsc(c);
	reg_write(c, R_AX, 4, t);
	reg_write(c, R_DX, 4, t >> 32);
}

void op_rdpmc(struct cpu *c, const struct insn *in)
{
	(void)in;
	GP0(c);
}

void op_hlt(struct cpu *c, const struct insn *in)
{
	(void)in;
	need_cpl0(c);
	cpu_vmexit(c, EXIT_HLT, 0);
}

/* ---- port I/O ---- */

void op_in(struct cpu *c, const struct insn *in)
{
	uint16_t port = (uint16_t)((in->op & 8) ? c->gpr[R_DX] : (uint8_t)in->imm);
	int size = in->opsize == 1 ? 1 : in->opsize == 2 ? 2 : 4;
	uint64_t v = 0;
	io_check(c, port, size);
	io_access(c, 0, 0, port, size, 1, &v);
	reg_write(c, R_AX, size, v);
}

void op_out(struct cpu *c, const struct insn *in)
{
	uint16_t port = (uint16_t)((in->op & 8) ? c->gpr[R_DX] : (uint8_t)in->imm);
	int size = in->opsize == 1 ? 1 : in->opsize == 2 ? 2 : 4;
	uint64_t v = reg_read(c, R_AX, size);
	io_check(c, port, size);
	io_access(c, 0, 1, port, size, 1, &v);
}

/* ---- fast system calls ---- */

static void flat_seg(struct seg *s, uint16_t sel, int code, int dpl, int longmode)
{
	s->sel = sel;
	s->base = 0;
	s->limit = 0xffffffff;
	s->attr = SEG_P | SEG_S | SEG_G | ((uint32_t)dpl << 5) | (code ? 0xb : 0x3) |
		  (code && longmode ? SEG_L : SEG_DB);
}

void op_syscall(struct cpu *c, const struct insn *in)
{
	(void)in;
	if (!(c->efer & EFER_SCE) || c->mode == MODE_REAL || c->mode == MODE_VM86)
		UD(c);
	uint16_t sel = (uint16_t)(c->star >> 32) & 0xfffc;
	uint64_t fl = cpu_get_rflags(c);
	if (c->efer & EFER_LMA) {
		c->gpr[R_CX] = c->next_rip;
		c->gpr[R_R11] = fl & ~(uint64_t)F_RF;
		flat_seg(&c->seg[S_CS], sel, 1, 0, 1);
		c->next_rip = c->mode == MODE_LONG ? c->lstar : c->cstar;
		cpu_set_rflags(c, fl & ~c->sfmask & ~(uint64_t)F_RF);
	} else {
		c->gpr[R_CX] = (uint32_t)c->next_rip;
		flat_seg(&c->seg[S_CS], sel, 1, 0, 0);
		c->next_rip = (uint32_t)c->star;
		cpu_set_rflags(c, fl & ~(uint64_t)(F_VM | F_IF | F_RF));
	}
	flat_seg(&c->seg[S_SS], (uint16_t)(sel + 8), 0, 0, 0);
	c->cpl = 0;
	cpu_update_mode(c);
}

void op_sysret(struct cpu *c, const struct insn *in)
{
	if (!(c->efer & EFER_SCE) || c->mode == MODE_REAL || c->mode == MODE_VM86)
		UD(c);
	need_cpl0(c);
	uint16_t sel = (uint16_t)(c->star >> 48);
	int lm = !!(c->efer & EFER_LMA);
	if (lm && in->opsize == 8) {
		if (!is_canonical(c->gpr[R_CX]))
			GP0(c);
		flat_seg(&c->seg[S_CS], (uint16_t)((sel + 16) | 3), 1, 3, 1);
		c->next_rip = c->gpr[R_CX];
	} else {
		flat_seg(&c->seg[S_CS], (uint16_t)(sel | 3), 1, 3, 0);
		c->next_rip = (uint32_t)c->gpr[R_CX];
	}
	if (lm)
		cpu_set_rflags(c, (c->gpr[R_R11] & 0x3c7fd7) | 2);
	else
		c->flags |= F_IF;
	/* SS keeps the selector's RPL 3 and flat attributes. */
	flat_seg(&c->seg[S_SS], (uint16_t)((sel + 8) | 3), 0, 3, 0);
	c->cpl = 3;
	cpu_update_mode(c);
}

void op_sysenter(struct cpu *c, const struct insn *in)
{
	(void)in;
	if (c->mode == MODE_REAL)
		GP0(c);
	uint16_t sel = (uint16_t)c->sysenter_cs & 0xfffc;
	if (!sel)
		GP0(c);
	int lm = !!(c->efer & EFER_LMA);
	cpu_set_rflags(c, cpu_get_rflags(c) & ~(uint64_t)(F_VM | F_IF | F_RF));
	flat_seg(&c->seg[S_CS], sel, 1, 0, lm);
	flat_seg(&c->seg[S_SS], (uint16_t)(sel + 8), 0, 0, 0);
	c->cpl = 0;
	cpu_update_mode(c);
	c->gpr[R_SP] = lm ? c->sysenter_esp : (uint32_t)c->sysenter_esp;
	c->next_rip = lm ? c->sysenter_eip : (uint32_t)c->sysenter_eip;
}

void op_sysexit(struct cpu *c, const struct insn *in)
{
	if (c->mode == MODE_REAL || c->mode == MODE_VM86)
		GP0(c);
	need_cpl0(c);
	uint16_t sel = (uint16_t)c->sysenter_cs & 0xfffc;
	if (!sel)
		GP0(c);
	int to64 = in->opsize == 8;
	flat_seg(&c->seg[S_CS], (uint16_t)((sel + (to64 ? 32 : 16)) | 3), 1, 3, to64);
	flat_seg(&c->seg[S_SS], (uint16_t)((sel + (to64 ? 40 : 24)) | 3), 0, 3, 0);
	c->cpl = 3;
	cpu_update_mode(c);
	c->gpr[R_SP] = to64 ? c->gpr[R_CX] : (uint32_t)c->gpr[R_CX];
	c->next_rip = to64 ? c->gpr[R_DX] : (uint32_t)c->gpr[R_DX];
}

/* ---- x87, SSE and friends: the next step ---- */

void op_grp15(struct cpu *c, const struct insn *in)
{
	if (in->mod == 3) {
		int r = in->reg & 7;
		if (r >= 5) {   /* LFENCE, MFENCE, SFENCE */
			__atomic_thread_fence(__ATOMIC_SEQ_CST);
			return;
		}
		UD(c);
	}
	if ((in->reg & 7) == 7) {       /* CLFLUSH: the address must be valid */
		uint64_t ea = insn_ea(c, in);
		lin_read(c, seg_lin(c, in->seg, ea, 1, ACC_R), 1, ACC_R);
		return;
	}
	if (c->cr0 & (CR0_EM | CR0_TS))
		cpu_fault_noerr(c, (c->cr0 & CR0_EM) ? EX_UD : EX_NM);
	UD(c);
}
