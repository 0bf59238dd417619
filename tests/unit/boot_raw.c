/* Raw test-guest images in real, protected and long mode, and their limits. */
#include "boot_fixture.h"

#define MIB (1ULL << 20)

static const char *raw_file(size_t len)
{
	return fx_pattern_file("guest.bin", len, 9, 4);
}

static int load_raw(enum raw_mode mode, uint64_t addr, size_t len)
{
	fx.cfg.raw = raw_file(len);
	fx.cfg.raw_mode = mode;
	fx.cfg.raw_addr = addr;
	return boot_load(&fx.vm);
}

static void check_common(uint64_t addr)
{
	const struct boot_state *bs = &fx.vm.boot;
	CHECK(bs->has_sregs);
	CHECK_EQ(bs->regs.rip, addr);
	CHECK_EQ(bs->regs.rsp, addr);
	CHECK_EQ(bs->regs.rflags, 2);
	CHECK_EQ(bs->regs.rax | bs->regs.rbx | bs->regs.rcx | bs->regs.rdx, 0);
	CHECK_EQ(bs->sregs.tr.type, 11);
	CHECK_EQ(bs->sregs.tr.present, 1);
	CHECK_EQ(bs->sregs.apic_base, 0xfee00900);
}

static void real_mode(void)
{
	fx_init(16 * MIB);
	EXPECT_OK(load_raw(RAW_REAL, 0, 512));
	const struct kvm_sregs *s = &fx.vm.boot.sregs;
	check_common(0x7c00);
	CHECK(gmem_has_pattern(0x7c00, 512, 9, 4));
	const struct kvm_segment *segs[] = { &s->cs, &s->ds, &s->es, &s->fs, &s->gs, &s->ss };
	for (int i = 0; i < 6; i++) {
		CHECK_EQ(segs[i]->selector, 0);
		CHECK_EQ(segs[i]->base, 0);
		CHECK_EQ(segs[i]->limit, 0xffff);
		CHECK_EQ(segs[i]->type, i == 0 ? 11 : 3);
		CHECK_EQ(segs[i]->present, 1);
		CHECK_EQ(segs[i]->s, 1);
		CHECK_EQ(segs[i]->dpl, 0);
		CHECK_EQ(segs[i]->db | segs[i]->l | segs[i]->g, 0);
	}
	CHECK_EQ(s->cr0, 0x10);
	CHECK_EQ(s->efer, 0);
	CHECK_EQ(s->idt.base, 0);
	CHECK_EQ(s->idt.limit, 0x3ff);
	CHECK(gmem_is_zero(0x500, 0x100));      /* nothing else written */
	CHECK(gmem_is_zero(0x9000, 0x6000));
	fx_free();
}

static void real_mode_limits(void)
{
	fx_init(16 * MIB);
	EXPECT_OK(load_raw(RAW_REAL, 0, 0x10000 - 0x7c00));
	EXPECT_ERR(load_raw(RAW_REAL, 0, 0x10000 - 0x7c00 + 1), "must end below 0x10000");
	EXPECT_ERR(load_raw(RAW_REAL, 0x10000, 16), "must end below 0x10000");
	EXPECT_OK(load_raw(RAW_REAL, 0x1000, 0x100));
	check_common(0x1000);
	CHECK(gmem_has_pattern(0x1000, 0x100, 9, 4));
	fx_free();
}

static void protected_mode(void)
{
	fx_init(16 * MIB);
	EXPECT_OK(load_raw(RAW_PROTECTED, 0, 4096));
	const struct kvm_sregs *s = &fx.vm.boot.sregs;
	check_common(0x100000);
	CHECK(gmem_has_pattern(0x100000, 4096, 9, 4));
	check_flat_seg(&s->cs, 0x08, 11, 0, 1);
	check_flat_seg(&s->ds, 0x10, 3, 0, 1);
	check_flat_seg(&s->es, 0x10, 3, 0, 1);
	check_flat_seg(&s->fs, 0x10, 3, 0, 1);
	check_flat_seg(&s->gs, 0x10, 3, 0, 1);
	check_flat_seg(&s->ss, 0x10, 3, 0, 1);
	CHECK_EQ(s->tr.selector, 0x18);
	CHECK_EQ(s->tr.base, 0x580);
	CHECK_EQ(s->tr.limit, 0x67);
	CHECK_EQ(s->gdt.base, 0x500);
	CHECK_EQ(s->gdt.limit, 0x1f);
	CHECK_EQ(g64(0x500), 0);
	CHECK_EQ(g64(0x508), 0x00cf9b000000ffffULL);
	CHECK_EQ(g64(0x510), 0x00cf93000000ffffULL);
	CHECK_EQ(g64(0x518), 0x00008b0005800067ULL);
	CHECK_EQ(s->cr0, 0x11);
	CHECK_EQ(s->cr4, 0);
	CHECK_EQ(s->efer, 0);
	fx_free();
}

static void long_mode(void)
{
	fx_init(16 * MIB);
	EXPECT_OK(load_raw(RAW_LONG, 0x200000, 4096));
	const struct kvm_sregs *s = &fx.vm.boot.sregs;
	check_common(0x200000);
	CHECK(gmem_has_pattern(0x200000, 4096, 9, 4));
	check_flat_seg(&s->cs, 0x08, 11, 1, 0);
	check_flat_seg(&s->ds, 0x10, 3, 0, 1);
	check_flat_seg(&s->ss, 0x10, 3, 0, 1);
	CHECK_EQ(s->tr.selector, 0x18);
	CHECK_EQ(s->gdt.limit, 0x27);
	CHECK_EQ(g64(0x508), 0x00af9b000000ffffULL);
	CHECK_EQ(g64(0x510), 0x00cf93000000ffffULL);
	CHECK_EQ(g64(0x518), 0x00008b0005800067ULL);
	CHECK_EQ(g64(0x520), 0);
	CHECK_EQ(s->cr0, 0x80000031);
	CHECK_EQ(s->cr4, 0x20);
	CHECK_EQ(s->efer, 0x500);
	CHECK_EQ(s->cr3, 0x9000);
	/* Every 2 MiB page of the low 4 GiB maps to itself. */
	int bad = 0;
	for (uint64_t va = 0; va < (4ULL << 30); va += 2 * MIB) {
		uint64_t pml4e = g64(0x9000 + 8 * ((va >> 39) & 511));
		uint64_t pdpte = g64((pml4e & ~0xfffULL) + 8 * ((va >> 30) & 511));
		uint64_t pde = g64((pdpte & ~0xfffULL) + 8 * ((va >> 21) & 511));
		bad += (pml4e & 3) != 3 || (pdpte & 0x83) != 3 || (pde & 0x83) != 0x83 ||
		       (pde & ~0x1fffffULL) != va;
	}
	CHECK_EQ(bad, 0);
	EXPECT_OK(load_raw(RAW_LONG, 0, 16));
	check_common(0x100000);
	fx_free();
}

static void overlaps_and_ram(void)
{
	fx_init(4 * MIB);
	EXPECT_ERR(load_raw(RAW_LONG, 0x9000, 16), "overlaps the boot page tables");
	EXPECT_ERR(load_raw(RAW_LONG, 0x8000, 0x1001), "overlaps the boot page tables");
	EXPECT_ERR(load_raw(RAW_PROTECTED, 0x400, 0x101), "overlaps the boot GDT");
	EXPECT_OK(load_raw(RAW_PROTECTED, 0x9000, 16));
	EXPECT_OK(load_raw(RAW_LONG, 0x600, 0x8a00));
	EXPECT_ERR(load_raw(RAW_PROTECTED, 0x3ff000, 0x1001), "does not fit in guest RAM");
	EXPECT_OK(load_raw(RAW_PROTECTED, 0x3ff000, 0x1000));
	EXPECT_ERR(load_raw(RAW_LONG, 0xfffffffffffff000ULL, 0x2000), "does not fit in guest RAM");
	EXPECT_ERR(load_raw(RAW_LONG, 0x100000000ULL, 16), "does not fit in guest RAM");
	fx.cfg.raw = raw_file(16);
	fx.cfg.raw_mode = (enum raw_mode)7;
	EXPECT_ERR(boot_load(&fx.vm), "unknown raw CPU mode");
	fx_free();
}

int main(void)
{
	RUN(real_mode);
	RUN(real_mode_limits);
	RUN(protected_mode);
	RUN(long_mode);
	RUN(overlaps_and_ram);
	TEST_EXIT();
}
