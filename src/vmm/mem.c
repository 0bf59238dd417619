#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>

#include "mem.h"

#define HUGE_FROM (16ULL << 20)

int guest_mem_init(struct guest_mem *m, uint64_t size)
{
	memset(m, 0, sizeof(*m));
	if (size < (2ULL << 20) || size > MEM_MAX_BYTES) {
		fprintf(stderr, "runvm: memory size %llu MiB is out of range (2 MiB to %llu GiB)\n",
			(unsigned long long)(size >> 20), (unsigned long long)(MEM_MAX_BYTES >> 30));
		return -1;
	}
	void *p = mmap(NULL, size, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (p == MAP_FAILED) {
		int e = errno;
		struct rlimit as;
		fprintf(stderr, "runvm: cannot allocate %llu MiB of guest memory: %s",
			(unsigned long long)(size >> 20), strerror(e));
		/* The usual cause: a limit on this process, not the host's memory. */
		if (getrlimit(RLIMIT_AS, &as) == 0 && as.rlim_cur != RLIM_INFINITY)
			fprintf(stderr, " (runvm may use at most %llu MiB of address space: ulimit -v)",
				(unsigned long long)(as.rlim_cur >> 20));
		fprintf(stderr, "\n");
		return -1;
	}
	/*
	 * 2 MiB host pages above the first 16 MiB: a Linux guest touches
	 * hundreds of MiB there, and each 4 KiB page would cost the host a
	 * page fault (about 3% of a boot on the soft hypervisor). Below, a
	 * small guest would pay 2 MiB of host memory for each page it
	 * touches (measured: 3.7 against 1.7 MiB max RSS for a trivial guest).
	 */
	if (size > HUGE_FROM)
		madvise((uint8_t *)p + HUGE_FROM, size - HUGE_FROM, MADV_HUGEPAGE);
	m->host = p;
	m->size = size;
	m->low_size = size < MEM_HOLE_START ? size : MEM_HOLE_START;
	m->high_size = size - m->low_size;
	return 0;
}

void guest_mem_free(struct guest_mem *m)
{
	if (m->host)
		munmap(m->host, m->size);
	memset(m, 0, sizeof(*m));
}

void guest_mem_clear(struct guest_mem *m)
{
	if (madvise(m->host, m->size, MADV_DONTNEED) != 0)
		memset(m->host, 0, m->size);
}

void *guest_ptr(const struct guest_mem *m, uint64_t gpa, uint64_t len)
{
	uint64_t end = gpa + len;
	if (end < gpa)
		return NULL;
	if (end <= m->low_size)
		return m->host + gpa;
	if (gpa >= MEM_HOLE_END && end - MEM_HOLE_END <= m->high_size)
		return m->host + m->low_size + (gpa - MEM_HOLE_END);
	return NULL;
}

int guest_write(const struct guest_mem *m, uint64_t gpa, const void *src, uint64_t len)
{
	void *p = guest_ptr(m, gpa, len);
	if (!p)
		return -1;
	memcpy(p, src, len);
	return 0;
}

int guest_read(const struct guest_mem *m, uint64_t gpa, void *dst, uint64_t len)
{
	const void *p = guest_ptr(m, gpa, len);
	if (!p)
		return -1;
	memcpy(dst, p, len);
	return 0;
}

static void e820_add(struct e820_map *map, uint64_t addr, uint64_t size, uint32_t type)
{
	if (size == 0 || map->n >= E820_MAX)
		return;
	map->e[map->n++] = (struct e820_entry){ .addr = addr, .size = size, .type = type };
}

void guest_mem_e820(const struct guest_mem *m, struct e820_map *map)
{
	map->n = 0;
	e820_add(map, 0, MEM_LOW_END, E820_RAM);
	e820_add(map, MEM_EBDA_START, MEM_HIGH_START - MEM_EBDA_START, E820_RESERVED);
	e820_add(map, MEM_HIGH_START, m->low_size - MEM_HIGH_START, E820_RAM);
	e820_add(map, MEM_HOLE_END, m->high_size, E820_RAM);
}
