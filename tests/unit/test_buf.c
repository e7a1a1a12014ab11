/*
 * test_buf.c - the growable byte buffer (core/buf.c): appends, printf
 * into an empty buffer, into the exact room left, one byte past it and far
 * past it (the one-pass path and the reformat path), consume and reset.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "buf.h"

static void
assert_buf(const struct buf *b, const char *want)
{
	assert_int_equal(b->len, strlen(want));
	assert_memory_equal(b->data, want, b->len);
	assert_true(b->len <= b->cap);
}

static void
test_append_and_printf_from_empty(void **state)
{
	struct buf b = {0};

	(void)state;
	assert_int_equal(buf_printf(&b, "%d-%s", 42, "x"), 0);
	assert_buf(&b, "42-x");
	assert_int_equal(buf_append_str(&b, "yz"), 0);
	assert_int_equal(buf_append(&b, "", 0), 0);
	assert_buf(&b, "42-xyz");
	buf_free(&b);
	assert_null(b.data);
	assert_int_equal(b.cap, 0);
}

/* fill to leave exactly `room` bytes free, then print n characters */
static void
printf_at_room(size_t room, size_t n)
{
	struct buf b = {0};
	char *fill, *text, *want;

	assert_int_equal(buf_reserve(&b, 64), 0);
	assert_true(b.cap > room);
	fill = malloc(b.cap - room + 1);
	text = malloc(n + 1);
	want = malloc(b.cap - room + n + 1);
	assert_non_null(fill);
	assert_non_null(text);
	assert_non_null(want);
	memset(fill, 'f', b.cap - room);
	fill[b.cap - room] = '\0';
	memset(text, 't', n);
	text[n] = '\0';
	assert_int_equal(buf_append_str(&b, fill), 0);
	assert_int_equal(b.cap - b.len, room);
	assert_int_equal(buf_printf(&b, "%s", text), 0);
	strcpy(want, fill);
	strcat(want, text);
	assert_buf(&b, want);
	free(fill);
	free(text);
	free(want);
	buf_free(&b);
}

static void
test_printf_room_edges(void **state)
{
	(void)state;
	printf_at_room(0, 5);   /* full: must grow */
	printf_at_room(10, 8);  /* fits with its NUL */
	printf_at_room(10, 9);  /* fits exactly (NUL in the last byte) */
	printf_at_room(10, 10); /* one past: the NUL does not fit */
	printf_at_room(10, 11);
	printf_at_room(3, 10000); /* far past: several doublings */
}

static void
test_printf_appends_after_growth(void **state)
{
	struct buf b = {0};
	char want[2000];
	size_t k = 0;

	(void)state;
	for (int i = 0; i < 300; i++) {
		assert_int_equal(buf_printf(&b, "%03d,", i), 0);
		k += (size_t)snprintf(want + k, sizeof(want) - k, "%03d,", i);
	}
	assert_buf(&b, want);
	buf_consume(&b, 4);
	assert_buf(&b, want + 4);
	buf_reset(&b);
	assert_int_equal(b.len, 0);
	assert_int_equal(buf_printf(&b, "%s", ""), 0);
	assert_int_equal(b.len, 0);
	buf_free(&b);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_append_and_printf_from_empty),
	    cmocka_unit_test(test_printf_room_edges),
	    cmocka_unit_test(test_printf_appends_after_growth),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
