/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/* What the libFuzzer targets share: assertions that abort, and inputs as strings and files. */
#ifndef SLUICE_FUZZ_H
#define SLUICE_FUZZ_H

#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/mman.h>

/* A broken property is a crash to libFuzzer: say which, then abort() so the input is saved. */
#define FUZZ_ASSERT(cond, ...)                                                                     \
	do {                                                                                       \
		if (!(cond)) {                                                                     \
			fprintf(stderr, "%s:%d: assertion failed: %s\n  ", __FILE__, __LINE__,     \
				#cond);                                                            \
			fprintf(stderr, __VA_ARGS__);                                              \
			fputc('\n', stderr);                                                       \
			abort();                                                                   \
		}                                                                                  \
	} while (0)

/* The bytes as a NUL-terminated string (cut at the first NUL); free() it. */
static inline char *fuzz_strndup(const uint8_t *data, size_t size)
{
	char *s = malloc(size + 1);

	if (!s)
		abort();
	memcpy(s, data, size);
	s[size] = '\0';
	return s;
}

/*
 * The bytes as a file the code under test opens by name: an in-memory file, named
 * PATH (/proc/self/fd/N). Returns its descriptor, to close() when done.
 */
static inline int fuzz_file(const void *data, size_t size, char *path, size_t len)
{
	int fd = memfd_create("fuzz", MFD_CLOEXEC);

	if (fd < 0 || (size && write(fd, data, size) != (ssize_t)size))
		abort();
	snprintf(path, len, "/proc/self/fd/%d", fd);
	return fd;
}

/* Everything FN writes to a FILE, as a malloc'd string and its length. */
#define FUZZ_CAPTURE(text, len, fn, ...)                                                           \
	do {                                                                                       \
		FILE *capture_ = open_memstream(&(text), &(len));                                  \
                                                                                                   \
		if (!capture_)                                                                     \
			abort();                                                                   \
		fn(capture_, __VA_ARGS__);                                                         \
		fclose(capture_);                                                                  \
	} while (0)

#endif /* SLUICE_FUZZ_H */
