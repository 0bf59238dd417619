# Unit tests: each tests/unit/NAME.c is a program linked against the
# sanitizer build of everything but main().
TEST_SRCS := $(wildcard tests/unit/*.c)
TEST_BINS := $(TEST_SRCS:tests/unit/%.c=build/tests/%)

build/tests/%: tests/unit/%.c $(SAN_LIB_OBJS) tests/unit/test.h
	@mkdir -p build/tests
	$(CC) $(CFLAGS) $(SOFT_CFLAGS) $(SAN_FLAGS) -Isrc -DTEST_FILE='"$*"' -o $@ $< $(SAN_LIB_OBJS) $(LDLIBS)
