/* Reading kernel, initrd and raw image files whole. */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "loader.h"

int boot_error(const char *path, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	fprintf(stderr, "runvm: %s: ", path);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	va_end(ap);
	return -1;
}

static int read_all(int fd, uint8_t *buf, size_t size)
{
	size_t done = 0;
	while (done < size) {
		ssize_t n = read(fd, buf + done, size - done);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return n < 0 ? -1 : 0;
		done += (size_t)n;
	}
	return 1;
}

static int blob_check_stat(const char *path, const struct stat *st)
{
	if (S_ISDIR(st->st_mode))
		return boot_error(path, "is a directory");
	if (!S_ISREG(st->st_mode))
		return boot_error(path, "is not a regular file");
	if (st->st_size == 0)
		return boot_error(path, "is empty");
	if ((uint64_t)st->st_size > BOOT_BLOB_MAX)
		return boot_error(path, "is too large (%llu MiB; at most %llu MiB)",
				  (unsigned long long)st->st_size >> 20,
				  (unsigned long long)BOOT_BLOB_MAX >> 20);
	return 0;
}

int blob_load(struct blob *b, const char *path)
{
	memset(b, 0, sizeof(*b));
	b->path = path;
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return boot_error(path, "cannot open: %s", strerror(errno));
	struct stat st;
	if (fstat(fd, &st) != 0) {
		boot_error(path, "cannot stat: %s", strerror(errno));
		close(fd);
		return -1;
	}
	if (blob_check_stat(path, &st) != 0) {
		close(fd);
		return -1;
	}
	b->size = (size_t)st.st_size;
	b->data = malloc(b->size);
	if (!b->data) {
		boot_error(path, "out of memory reading %zu bytes", b->size);
		close(fd);
		return -1;
	}
	int r = read_all(fd, b->data, b->size);
	int err = errno;
	close(fd);
	if (r <= 0) {
		if (r < 0)
			boot_error(path, "read error: %s", strerror(err));
		else
			boot_error(path, "file shrank while being read");
		blob_free(b);
		b->path = path;
		return -1;
	}
	return 0;
}

void blob_free(struct blob *b)
{
	free(b->data);
	b->data = NULL;
	b->size = 0;
}
