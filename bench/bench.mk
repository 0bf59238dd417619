# Benchmarks: helpers and guests (bench/run drives them).
BENCH_BINS := build/bench/measure build/bench/pio_raw build/bench/pio-20000.bin build/bench/pio-40000.bin build/bench/hello.elf build/bench/sieve.elf

build/bench/%: bench/%.c
	@mkdir -p build/bench
	$(CC) $(CFLAGS) -o $@ $<

build/bench/pio-%.bin: bench/guest/pio.S
	@mkdir -p build/bench
	$(CC) -c -DCOUNT=$* -o build/bench/pio-$*.o $<
	ld -m elf_x86_64 -Ttext=0x7c00 --oformat=binary -o $@ build/bench/pio-$*.o

bench: build/runvm $(BENCH_BINS) $(GUEST_BINS)
	bench/run

build/bench/hello.elf: bench/guest/hello.S bench/guest/hello.ld
	@mkdir -p build/bench
	$(CC) -m32 -c -o build/bench/hello.o $<
	ld -m elf_i386 -T bench/guest/hello.ld -o $@ build/bench/hello.o

build/bench/sieve.elf: bench/guest/sieve.S bench/guest/sieve.ld
	@mkdir -p build/bench
	$(CC) -c -o build/bench/sieve.o $<
	ld -m elf_x86_64 -T bench/guest/sieve.ld -o build/bench/sieve64.elf build/bench/sieve.o
	objcopy -O elf32-i386 build/bench/sieve64.elf $@
