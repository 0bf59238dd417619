# Fuzzing with libFuzzer (clang): fuzz/NAME.c is a harness for one parser
# of untrusted bytes; fuzz/corpus/NAME/ holds its committed seed corpus.
#
#   make fuzz                 each harness for FUZZ_SECONDS (default 60),
#                             then executions and crashes per harness
#   make fuzz FUZZ=cpu_decode FUZZ_SECONDS=600    one harness, longer
#   make fuzz-replay          each harness over its corpus, no fuzzing
#
# The replay programs link the harness with fuzz/replay.c and the sanitizer
# build of runvm (no clang needed); make check builds them and
# tests/fuzz-replay.sh runs them.

FUZZ_CC      ?= clang
FUZZ_SECONDS ?= 60

FUZZ_SRCS := $(filter-out fuzz/replay.c,$(wildcard fuzz/*.c))
ifeq ($(SOFT_SRCS),)
FUZZ_SRCS := $(filter-out fuzz/cpu_% fuzz/irqchip%,$(FUZZ_SRCS))
endif
FUZZ_NAMES := $(FUZZ_SRCS:fuzz/%.c=%)
FUZZ       ?= $(FUZZ_NAMES)
FUZZ_HDRS  := $(wildcard fuzz/*.h)

FUZZ_CFLAGS := -std=gnu11 -g -O1 -Wall -Wextra -pthread -D_GNU_SOURCE $(SOFT_CFLAGS) \
	-fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer
FUZZ_OBJS := $(LIB_SRCS:%.c=build/fuzz/obj/%.o)
FUZZ_BINS := $(FUZZ_NAMES:%=build/fuzz/bin/%)
FUZZ_REPLAY_BINS := $(FUZZ_NAMES:%=build/fuzz/replay/%)

build/fuzz/obj/%.o: %.c
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(FUZZ_CFLAGS) -fsanitize=fuzzer-no-link -MMD -MP -c -o $@ $<

build/fuzz/bin/%: fuzz/%.c $(FUZZ_HDRS) $(FUZZ_OBJS)
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(FUZZ_CFLAGS) -Werror -Isrc -fsanitize=fuzzer -o $@ $< $(FUZZ_OBJS) $(LDLIBS)

build/fuzz/replay/%: fuzz/%.c fuzz/replay.c $(FUZZ_HDRS) $(SAN_LIB_OBJS)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(SOFT_CFLAGS) $(SAN_FLAGS) -Isrc -o $@ $< fuzz/replay.c $(SAN_LIB_OBJS) $(LDLIBS)

check: $(FUZZ_REPLAY_BINS)

fuzz: $(FUZZ:%=build/fuzz/bin/%)
	FUZZ_SECONDS=$(FUZZ_SECONDS) fuzz/run.sh $(FUZZ)

fuzz-replay: $(FUZZ_REPLAY_BINS)
	tests/fuzz-replay.sh

.PHONY: fuzz fuzz-replay
# Kept between runs: otherwise make deletes them as intermediates of the
# pattern rule above, and every make fuzz recompiles all of runvm.
.SECONDARY: $(FUZZ_OBJS)
-include $(FUZZ_OBJS:.o=.d)

# The hand-made seeds (fuzz/tools/mkseeds.c); the corpora keep them.
build/fuzz/mkseeds: fuzz/tools/mkseeds.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -o $@ $<

fuzz-seeds: build/fuzz/mkseeds
	build/fuzz/mkseeds fuzz/corpus

.PHONY: fuzz-seeds
