# build/lockstep: one guest single-stepped on two hypervisors at once
# (tests/lockstep.sh). It is linked against the VMM's objects except
# main(), as the unit tests are, so it runs the VMM's own loaders and
# devices.
LOCKSTEP_SRCS := $(wildcard tools/lockstep/*.c)
LOCKSTEP_OBJS := $(LOCKSTEP_SRCS:%.c=build/obj/%.o)

$(LOCKSTEP_OBJS): CFLAGS += -Isrc

build/lockstep: $(LOCKSTEP_OBJS) $(LIB_SRCS:%.c=build/obj/%.o)
	$(CC) $(CFLAGS) -o $@ $^ $(LDLIBS)

# Its own test guest (tools/lockstep/guest.S), one raw image per entry
# mode: MODE, load address (the loader's default) and extra definitions;
# and the protected-mode one again as a multiboot ELF kernel.
LOCKSTEP_GUEST_DIR := build/lockstep-guest
LOCKSTEP_GUEST_real      := 16 0x7c00
LOCKSTEP_GUEST_protected := 32 0x100000
LOCKSTEP_GUEST_long      := 64 0x100000
LOCKSTEP_GUEST_user      := 64 0x100000 -DUSER_MODE
LOCKSTEP_GUEST_NAMES := real protected long user
LOCKSTEP_GUEST_BINS := $(LOCKSTEP_GUEST_NAMES:%=$(LOCKSTEP_GUEST_DIR)/%.bin) \
	$(LOCKSTEP_GUEST_DIR)/multiboot.elf

lockstep_is64 = $(filter 64,$(word 1,$(LOCKSTEP_GUEST_$(1))))

$(LOCKSTEP_GUEST_DIR)/%.o: tools/lockstep/guest.S tools/lockstep/lockstep.mk
	@mkdir -p $(LOCKSTEP_GUEST_DIR)
	$(or $(GUEST_CC),gcc) $(if $(call lockstep_is64,$*),-m64,-m32) \
		-DMODE=$(word 1,$(LOCKSTEP_GUEST_$*)) $(wordlist 3,9,$(LOCKSTEP_GUEST_$*)) -c -o $@ $<

$(LOCKSTEP_GUEST_DIR)/%.bin: $(LOCKSTEP_GUEST_DIR)/%.o
	$(or $(GUEST_LD),ld) -m $(if $(call lockstep_is64,$*),elf_x86_64,elf_i386) \
		-Ttext=$(word 2,$(LOCKSTEP_GUEST_$*)) -e _start --oformat binary -o $@ $<

$(LOCKSTEP_GUEST_DIR)/multiboot.elf: $(LOCKSTEP_GUEST_DIR)/protected.o
	$(or $(GUEST_LD),ld) -m elf_i386 -Ttext=0x100000 -e _start -o $@ $<

lockstep: build/lockstep $(LOCKSTEP_GUEST_BINS)

TEST_TOOLS += build/lockstep $(LOCKSTEP_GUEST_BINS)
.PHONY: lockstep
.SECONDARY: $(LOCKSTEP_GUEST_NAMES:%=$(LOCKSTEP_GUEST_DIR)/%.o)
-include $(LOCKSTEP_OBJS:.o=.d)
