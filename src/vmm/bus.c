#include <string.h>

#include "bus.h"

void bus_init(struct bus *b, const char *name)
{
	memset(b, 0, sizeof(*b));
	b->name = name;
	pthread_mutex_init(&b->lock, NULL);
}

int bus_register(struct bus *b, uint64_t base, uint64_t len,
		 const struct dev_ops *ops, void *opaque, const char *name)
{
	if (b->n >= BUS_MAX_RANGES || len == 0 || base + len < base)
		return -1;
	for (int i = 0; i < b->n; i++)
		if (base < b->r[i].base + b->r[i].len && b->r[i].base < base + len)
			return -1;
	b->r[b->n++] = (struct bus_range){ base, len, ops, opaque, name };
	return 0;
}

int bus_find(const struct bus *b, uint64_t addr)
{
	for (int i = 0; i < b->n; i++)
		if (addr - b->r[i].base < b->r[i].len)
			return i;
	return -1;
}

static uint64_t load_le(const void *p, unsigned size)
{
	uint64_t v = 0;
	memcpy(&v, p, size);
	return v;
}

int bus_read(struct bus *b, uint64_t addr, void *data, unsigned size)
{
	pthread_mutex_lock(&b->lock);
	int i = bus_find(b, addr);
	uint64_t v = ~0ULL;
	if (i >= 0 && b->r[i].ops->read)
		v = b->r[i].ops->read(b->r[i].opaque, addr - b->r[i].base, size);
	pthread_mutex_unlock(&b->lock);
	memcpy(data, &v, size);
	return i;
}

int bus_write(struct bus *b, uint64_t addr, const void *data, unsigned size)
{
	pthread_mutex_lock(&b->lock);
	int i = bus_find(b, addr);
	if (i >= 0 && b->r[i].ops->write)
		b->r[i].ops->write(b->r[i].opaque, addr - b->r[i].base, load_le(data, size), size);
	pthread_mutex_unlock(&b->lock);
	return i;
}
