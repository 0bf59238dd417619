# runvm build.
#   make            the runvm binary (build/runvm)
#   make check      the sanitizer build, unit tests, guest suite (tests/run)
#   make bench      benchmarks against QEMU (bench/run)

CC      ?= cc
CFLAGS  ?= -O2 -g
CFLAGS  += -std=gnu11 -Wall -Wextra -Werror -pthread -D_GNU_SOURCE
LDLIBS  += -pthread -lseccomp

SAN_FLAGS := -O1 -g -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all

VMM_SRCS := $(wildcard src/vmm/*.c src/vmm/*/*.c src/dev/*.c) src/hv/hv.c src/hv/kvm.c
SOFT_SRCS :=
-include src/hv/soft/soft.mk
SRCS := $(VMM_SRCS) $(SOFT_SRCS)
MAIN_SRC := src/vmm/main.c
LIB_SRCS := $(filter-out $(MAIN_SRC),$(SRCS))

OBJS     := $(SRCS:%.c=build/obj/%.o)
SAN_OBJS := $(SRCS:%.c=build/san/%.o)

all: build/runvm

build/runvm: $(OBJS)
	$(CC) $(CFLAGS) -o $@ $^ $(LDLIBS)

build/obj/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(SOFT_CFLAGS) -MMD -MP -c -o $@ $<

# The test build: same code, under AddressSanitizer and UBSan.
build/runvm-san: $(SAN_OBJS)
	$(CC) $(CFLAGS) $(SAN_FLAGS) -o $@ $^ $(LDLIBS)

build/san/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(SOFT_CFLAGS) $(SAN_FLAGS) -MMD -MP -c -o $@ $<

SAN_LIB_OBJS := $(LIB_SRCS:%.c=build/san/%.o)

# libsoftkvm.so: the soft hypervisor serving /dev/kvm to any program (LD_PRELOAD).
PIC_OBJS := $(SOFT_SRCS:%.c=build/pic/%.o) build/pic/src/hv/preload.o
build/libsoftkvm.so: $(PIC_OBJS)
	$(CC) $(CFLAGS) -shared -o $@ $^ $(LDLIBS) -ldl

build/pic/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(SOFT_CFLAGS) -fPIC -MMD -MP -c -o $@ $<

PRELOAD_LIB := $(if $(SOFT_SRCS),build/libsoftkvm.so)

-include tests/tests.mk
-include tools/lockstep/lockstep.mk
-include guest/guest.mk
-include guest/hostile/hostile.mk
-include fuzz/fuzz.mk
-include bench/bench.mk

guests: $(GUEST_BINS)

check: build/runvm build/runvm-san $(TEST_BINS) $(TEST_TOOLS) $(GUEST_BINS) $(PRELOAD_LIB)
	tests/run

clean:
	rm -rf build

.PHONY: all check clean bench guests
-include $(OBJS:.o=.d) $(SAN_OBJS:.o=.d) $(PIC_OBJS:.o=.d)
