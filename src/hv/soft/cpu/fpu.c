/*
 * x87, MMX and SSE. For now only what firmware-style code needs: the x87
 * control instructions (FNINIT, FNCLEX, FNSTSW, FNSTCW, FLDCW) and the
 * MMX moves (MOVD, MOVQ, EMMS). Arithmetic, FXSAVE/FXRSTOR and SSE come
 * next; until then they raise #UD (or #NM when CR0 says so).
 *
 * The state lives in the FXSAVE image (struct cpu.fxsave): FCW at 0, FSW
 * at 2, the abridged tag word at 4, ST0-7/MM0-7 at 32 + 16 * i.
 */
#include "internal.h"
#include "insns.h"

#define FX_FCW 0
#define FX_FSW 2
#define FX_FTW 4
#define FX_ST(i) (32 + 16 * (i))

static uint16_t fx16(struct cpu *c, int off)
{
	uint16_t v;
	memcpy(&v, c->fxsave + off, 2);
	return v;
}

static void fx_set16(struct cpu *c, int off, uint16_t v)
{
	memcpy(c->fxsave + off, &v, 2);
}

/* #NM when the FPU state is not ours to touch (CR0.TS), #UD when emulated (CR0.EM). */
static void fpu_check(struct cpu *c, int mmx)
{
	if (c->cr0 & CR0_EM)
		cpu_fault_noerr(c, mmx ? EX_UD : EX_NM);
	if (c->cr0 & CR0_TS)
		cpu_fault_noerr(c, EX_NM);
}

static void fninit(struct cpu *c)
{
	memset(c->fxsave, 0, 24);       /* FCW..FDP; MXCSR is left alone */
	fx_set16(c, FX_FCW, 0x37f);
}

/* D8-DF */
void op_fpu(struct cpu *c, const struct insn *in)
{
	fpu_check(c, 0);
	int r = in->reg & 7;
	if (in->mod == 3) {
		int rm = in->rm & 7;
		if (in->op == 0xdb && r == 4 && rm == 3) {      /* FNINIT */
			fninit(c);
			return;
		}
		if (in->op == 0xdb && r == 4 && rm == 2) {      /* FNCLEX */
			fx_set16(c, FX_FSW, fx16(c, FX_FSW) & 0x7f00);
			return;
		}
		if (in->op == 0xdf && r == 4 && rm == 0) {      /* FNSTSW AX */
			reg_write(c, R_AX, 2, fx16(c, FX_FSW));
			return;
		}
		UD(c);
	}
	uint64_t ea = insn_ea(c, in);
	if (in->op == 0xd9 && r == 7) {                         /* FNSTCW m16 */
		mem_write(c, in->seg, ea, 2, fx16(c, FX_FCW));
		return;
	}
	if (in->op == 0xd9 && r == 5) {                         /* FLDCW m16 */
		fx_set16(c, FX_FCW, (uint16_t)mem_read(c, in->seg, ea, 2));
		return;
	}
	if (in->op == 0xdd && r == 7) {                         /* FNSTSW m16 */
		mem_write(c, in->seg, ea, 2, fx16(c, FX_FSW));
		return;
	}
	UD(c);
}

/* Using an MMX register makes the x87 stack all valid, with TOP = 0. */
static void mmx_enter(struct cpu *c)
{
	c->fxsave[FX_FTW] = 0xff;
	fx_set16(c, FX_FSW, fx16(c, FX_FSW) & ~0x3800);
}

static uint64_t mm_get(struct cpu *c, int i)
{
	uint64_t v;
	memcpy(&v, c->fxsave + FX_ST(i & 7), 8);
	return v;
}

/* Writing MM sets the exponent field of the ST register to all ones. */
static void mm_set(struct cpu *c, int i, uint64_t v)
{
	memcpy(c->fxsave + FX_ST(i & 7), &v, 8);
	c->fxsave[FX_ST(i & 7) + 8] = 0xff;
	c->fxsave[FX_ST(i & 7) + 9] = 0xff;
}

static void mmx(struct cpu *c, const struct insn *in)
{
	fpu_check(c, 1);
	mmx_enter(c);
	int size = (in->pfx & PFX_REXW) ? 8 : 4;
	switch (in->op) {
	case 0x6e:      /* MOVD/MOVQ mm, r/m */
		mm_set(c, in->reg, rm_read(c, in, size));
		break;
	case 0x7e:      /* MOVD/MOVQ r/m, mm */
		rm_write(c, in, size, mm_get(c, in->reg) & size_mask(size));
		break;
	case 0x6f:      /* MOVQ mm, mm/m64 */
		mm_set(c, in->reg, in->mod == 3 ? mm_get(c, in->rm) : rm_read(c, in, 8));
		break;
	case 0x7f:      /* MOVQ mm/m64, mm */
		if (in->mod == 3)
			mm_set(c, in->rm, mm_get(c, in->reg));
		else
			rm_write(c, in, 8, mm_get(c, in->reg));
		break;
	}
}

/* 0F 10-17, 28-2F, 50-7F, C2-C6, D0-FF */
void op_sse(struct cpu *c, const struct insn *in)
{
	int plain = !(in->pfx & PFX_OPSZ) && !in->rep;
	if (plain && in->op == 0x77) {  /* EMMS */
		fpu_check(c, 1);
		c->fxsave[FX_FTW] = 0;
		return;
	}
	if (plain && (in->op == 0x6e || in->op == 0x6f || in->op == 0x7e || in->op == 0x7f)) {
		mmx(c, in);
		return;
	}
	if (c->cr0 & CR0_EM)
		UD(c);
	if (c->cr0 & CR0_TS)
		cpu_fault_noerr(c, EX_NM);
	UD(c);
}
