/*
 * buf.h - a growable byte buffer (owned by whoever embeds it).
 *
 * Used for session input/output, message bodies and record encoding.
 * Not thread-safe: a buf belongs to exactly one thread at a time; handing
 * it to another thread (e.g. the committer) hands over ownership.
 */
#ifndef RINGMX_BUF_H
#define RINGMX_BUF_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

struct buf {
	uint8_t *data; /* heap memory, NULL when cap == 0 */
	size_t len;    /* bytes in use */
	size_t cap;    /* bytes allocated */
};

/* All functions return 0 on success and -1 on allocation failure. */
int buf_reserve(struct buf *b, size_t extra);
int buf_append(struct buf *b, const void *data, size_t len);
int buf_append_str(struct buf *b, const char *s);
int buf_printf(struct buf *b, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
int buf_vprintf(struct buf *b, const char *fmt, va_list ap)
    __attribute__((format(printf, 2, 0)));
/* Remove the first n bytes (memmove of the rest). */
void buf_consume(struct buf *b, size_t n);
void buf_reset(struct buf *b);
void buf_free(struct buf *b);

#endif
