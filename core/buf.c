/*
 * buf.c - growable byte buffer. See buf.h. Nothing here knows about SMTP.
 */
#include "buf.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* buf_reserve - make room for extra more bytes */
int
buf_reserve(struct buf *b, size_t extra)
{
	size_t need, ncap;
	uint8_t *n;

	if (extra > SIZE_MAX - b->len)
		return -1;
	need = b->len + extra;
	if (need <= b->cap)
		return 0;
	ncap = b->cap ? b->cap : 256;
	while (ncap < need) {
		if (ncap > SIZE_MAX / 2)
			return -1;
		ncap *= 2;
	}
	n = realloc(b->data, ncap);
	if (n == NULL)
		return -1;
	b->data = n;
	b->cap = ncap;
	return 0;
}

/* buf_append - append len bytes */
int
buf_append(struct buf *b, const void *data, size_t len)
{
	if (len == 0)
		return 0;
	if (buf_reserve(b, len) < 0)
		return -1;
	memcpy(b->data + b->len, data, len);
	b->len += len;
	return 0;
}

/* buf_append_str - append a NUL-terminated string (without the NUL) */
int
buf_append_str(struct buf *b, const char *s)
{
	return buf_append(b, s, strlen(s));
}

/* buf_vprintf - append formatted text: formatted once into the room
 * there is (the usual case), a second time only when it did not fit */
int
buf_vprintf(struct buf *b, const char *fmt, va_list ap)
{
	va_list ap2;
	size_t room = b->cap - b->len;
	int n;

	va_copy(ap2, ap);
	n = vsnprintf(
	    room > 0 ? (char *)b->data + b->len : NULL, room, fmt, ap2);
	va_end(ap2);
	if (n < 0)
		return -1;
	if ((size_t)n >= room) {
		if (buf_reserve(b, (size_t)n + 1) < 0)
			return -1;
		vsnprintf((char *)b->data + b->len, (size_t)n + 1, fmt, ap);
	}
	b->len += (size_t)n;
	return 0;
}

/* buf_printf - append formatted text */
int
buf_printf(struct buf *b, const char *fmt, ...)
{
	va_list ap;
	int r;

	va_start(ap, fmt);
	r = buf_vprintf(b, fmt, ap);
	va_end(ap);
	return r;
}

/* buf_consume - drop the first n bytes */
void
buf_consume(struct buf *b, size_t n)
{
	if (n >= b->len) {
		b->len = 0;
		return;
	}
	memmove(b->data, b->data + n, b->len - n);
	b->len -= n;
}

/* buf_reset - empty the buffer, keep the memory */
void
buf_reset(struct buf *b)
{
	b->len = 0;
}

/* buf_free - release the memory */
void
buf_free(struct buf *b)
{
	free(b->data);
	b->data = NULL;
	b->len = b->cap = 0;
}
