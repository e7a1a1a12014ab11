/*
 * test_smtp_data.c - unit tests for core/smtp_data.c: the DATA machine
 * (terminator, dot-unstuffing, bare CR/LF smuggling, limits) and the BDAT
 * machine (CR/LF across chunks, pending CR at LAST). Command and path
 * parsing are tested in test_smtp_parse.c.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "smtp_data.h"

static const struct smtp_data_limits nolimits = {0, 0, 0, 0};
static const struct smtp_data_limits deflimits = {
    1000, 1024 * 1024, 50 * 1024 * 1024, 100};

/* Result of feeding a whole string to a fresh DATA machine. */
struct run {
	enum smtp_data_status st;
	size_t consumed;
	struct smtp_data_rx rx;
	struct buf out;
};

static void
data_run(
    struct run *r, const struct smtp_data_limits *l, const char *in, size_t len)
{
	memset(r, 0, sizeof(*r));
	smtp_data_init(&r->rx, l);
	r->st = smtp_data_feed(
	    &r->rx, (const uint8_t *)in, len, &r->out, &r->consumed);
}

/* Assert the output buffer equals the C string s. */
static void
assert_out(const struct buf *b, const char *s)
{
	assert_int_equal(b->len, strlen(s));
	if (b->len > 0)
		assert_memory_equal(b->data, s, b->len);
}

#define S(lit) (lit), (sizeof(lit) - 1)

/* ---- DATA ---- */

static void
test_data_simple(void **state)
{
	struct run r;
	(void)state;

	data_run(&r, &deflimits, S("Subject: hi\r\n\r\nbody\r\n.\r\n"));
	assert_int_equal(r.st, SMTP_DATA_END);
	assert_int_equal(r.consumed, 24);
	assert_out(&r.out, "Subject: hi\r\n\r\nbody\r\n");
	assert_int_equal(r.rx.error, SMTP_DATA_OK);
	assert_null(smtp_data_error_reply(&r.rx));
	assert_int_equal(r.rx.size, r.out.len);
	assert_false(r.rx.in_headers);
	buf_free(&r.out);

	/* NULL limits mean the defaults */
	data_run(&r, NULL, S("a\r\n.\r\n"));
	assert_int_equal(r.rx.lim.line_max, 1000);
	assert_int_equal(r.rx.lim.hops_max, 100);
	assert_int_equal(r.st, SMTP_DATA_END);
	buf_free(&r.out);

	/* no terminator yet: everything consumed, MORE */
	data_run(&r, &deflimits, S("a\r\nb\r\n"));
	assert_int_equal(r.st, SMTP_DATA_MORE);
	assert_int_equal(r.consumed, 6);
	assert_out(&r.out, "a\r\nb\r\n");
	buf_free(&r.out);
}

static void
test_data_unstuffing(void **state)
{
	struct run r;
	(void)state;

	data_run(
	    &r, &deflimits, S("..leading\r\n.x\r\n...\r\nmid.dle\r\n.\r.\r\n"));
	/* ".\r." is a bare CR: the '.' after the CR shows it */
	assert_int_equal(r.st, SMTP_DATA_BARE_EOL);
	buf_free(&r.out);

	data_run(&r, &deflimits,
	    S("..leading\r\n.x\r\n...\r\nmid.dle\r\n..\r\n.\r\n"));
	assert_int_equal(r.st, SMTP_DATA_END);
	assert_out(&r.out, ".leading\r\nx\r\n..\r\nmid.dle\r\n.\r\n");
	assert_int_equal(r.rx.size, r.out.len);
	buf_free(&r.out);

	/* a line of a single '.' followed by text is not the end */
	data_run(&r, &deflimits, S(".a\r\n.\r\n"));
	assert_int_equal(r.st, SMTP_DATA_END);
	assert_out(&r.out, "a\r\n");
	buf_free(&r.out);
}

static void
test_data_empty(void **state)
{
	struct run r;
	(void)state;

	data_run(&r, &deflimits, S(".\r\n"));
	assert_int_equal(r.st, SMTP_DATA_END);
	assert_int_equal(r.consumed, 3);
	assert_int_equal(r.out.len, 0);
	assert_int_equal(r.rx.size, 0);
	buf_free(&r.out);

	data_run(&r, &deflimits, S(".\r\nQUIT\r\n"));
	assert_int_equal(r.st, SMTP_DATA_END);
	assert_int_equal(r.consumed, 3);
	buf_free(&r.out);

	data_run(&r, &deflimits, S(""));
	assert_int_equal(r.st, SMTP_DATA_MORE);
	assert_int_equal(r.consumed, 0);
	buf_free(&r.out);
}

static void
test_data_after_terminator_not_consumed(void **state)
{
	static const char in[] =
	    "a\r\n.\r\nMAIL FROM:<x@y>\r\nRCPT TO:<z@w>\r\n";
	struct run r;
	size_t c = 99;
	(void)state;

	data_run(&r, &deflimits, S(in));
	assert_int_equal(r.st, SMTP_DATA_END);
	assert_int_equal(r.consumed, 6);
	assert_out(&r.out, "a\r\n");
	/* further feeds: END again, nothing consumed */
	assert_int_equal(
	    smtp_data_feed(&r.rx, (const uint8_t *)in + 6, 5, &r.out, &c),
	    SMTP_DATA_END);
	assert_int_equal(c, 0);
	assert_out(&r.out, "a\r\n");
	buf_free(&r.out);
}

/* Feed msg one byte at a time, then split in two at every position;
 * every way must give the whole-feed result. */
static void
check_all_splits(const char *msg, size_t len, enum smtp_data_status want,
    size_t want_consumed, const char *want_out)
{
	struct smtp_data_rx rx;
	struct buf out = {0};
	enum smtp_data_status st = SMTP_DATA_MORE;
	size_t off = 0, c;

	smtp_data_init(&rx, &deflimits);
	while (off < len && st == SMTP_DATA_MORE) {
		st = smtp_data_feed(
		    &rx, (const uint8_t *)msg + off, 1, &out, &c);
		assert_true(c <= 1);
		off += c;
		/* the output never holds a CR without its LF */
		if (out.len > 0 && st == SMTP_DATA_MORE)
			assert_true(out.data[out.len - 1] != '\r');
	}
	assert_int_equal(st, want);
	assert_int_equal(off, want_consumed);
	if (want != SMTP_DATA_BARE_EOL)
		assert_out(&out, want_out);
	buf_free(&out);

	for (size_t k = 0; k <= len; k++) {
		smtp_data_init(&rx, &deflimits);
		st = smtp_data_feed(&rx, (const uint8_t *)msg, k, &out, &c);
		off = c;
		if (st == SMTP_DATA_MORE) {
			assert_int_equal(c, k);
			st = smtp_data_feed(
			    &rx, (const uint8_t *)msg + k, len - k, &out, &c);
			off += c;
		}
		assert_int_equal(st, want);
		assert_int_equal(off, want_consumed);
		if (want != SMTP_DATA_BARE_EOL)
			assert_out(&out, want_out);
		buf_free(&out);
	}
}

static void
test_data_terminator_split(void **state)
{
	(void)state;

	check_all_splits(S("Subject: x\r\n\r\n..dot\r\nbody\r\n.\r\nNOOP\r\n"),
	    SMTP_DATA_END, 30, "Subject: x\r\n\r\n.dot\r\nbody\r\n");
	check_all_splits(S(".\r\nNOOP\r\n"), SMTP_DATA_END, 3, "");
	check_all_splits(S("\r\n.\r\n"), SMTP_DATA_END, 5, "\r\n");
	check_all_splits(
	    S("a\r\n..\r\n.\r\n"), SMTP_DATA_END, 10, "a\r\n.\r\n");
	check_all_splits(S("a\r\n.\r\n.\r\n"), SMTP_DATA_END, 6, "a\r\n");
	check_all_splits(S("a\r\nb\r\n"), SMTP_DATA_MORE, 6, "a\r\nb\r\n");
	check_all_splits(S("a\r\n."), SMTP_DATA_MORE, 4, "a\r\n");
	check_all_splits(S("a\r\n.\r"), SMTP_DATA_MORE, 5, "a\r\n");
	check_all_splits(S("a\r"), SMTP_DATA_MORE, 2, "a");
	check_all_splits(S("a\n.\r\n"), SMTP_DATA_BARE_EOL, 1, "");
	check_all_splits(S("a\r\n.\n"), SMTP_DATA_BARE_EOL, 4, "");
}

static void
test_data_bare_lf(void **state)
{
	struct run r;
	size_t c = 99;
	(void)state;

	data_run(&r, &deflimits, S("abc\ndef\r\n.\r\n"));
	assert_int_equal(r.st, SMTP_DATA_BARE_EOL);
	assert_int_equal(r.consumed, 3);
	assert_true(memchr(r.out.data ? (const void *)r.out.data : "", '\n',
			r.out.len) == NULL);
	/* sticky */
	assert_int_equal(
	    smtp_data_feed(&r.rx, (const uint8_t *)"x\r\n.\r\n", 6, &r.out, &c),
	    SMTP_DATA_BARE_EOL);
	assert_int_equal(c, 0);
	buf_free(&r.out);

	data_run(&r, &deflimits, S("\n"));
	assert_int_equal(r.st, SMTP_DATA_BARE_EOL);
	assert_int_equal(r.consumed, 0);
	buf_free(&r.out);

	/* LF as the first byte of a later feed, after a complete line */
	data_run(&r, &deflimits, S("ok\r\n"));
	assert_int_equal(r.st, SMTP_DATA_MORE);
	assert_int_equal(
	    smtp_data_feed(&r.rx, (const uint8_t *)"\n", 1, &r.out, &c),
	    SMTP_DATA_BARE_EOL);
	assert_int_equal(c, 0);
	buf_free(&r.out);
}

static void
test_data_bare_cr(void **state)
{
	struct run r;
	size_t c = 99;
	(void)state;

	data_run(&r, &deflimits, S("abc\rdef\r\n.\r\n"));
	assert_int_equal(r.st, SMTP_DATA_BARE_EOL);
	assert_int_equal(r.consumed, 4);
	buf_free(&r.out);

	data_run(&r, &deflimits, S("abc\r\r\n.\r\n"));
	assert_int_equal(r.st, SMTP_DATA_BARE_EOL);
	assert_int_equal(r.consumed, 4);
	buf_free(&r.out);

	/* CR ends a feed, the next feed does not start with LF */
	data_run(&r, &deflimits, S("abc\r"));
	assert_int_equal(r.st, SMTP_DATA_MORE);
	assert_int_equal(r.consumed, 4);
	assert_out(&r.out, "abc");
	assert_int_equal(
	    smtp_data_feed(&r.rx, (const uint8_t *)"x\r\n", 3, &r.out, &c),
	    SMTP_DATA_BARE_EOL);
	assert_int_equal(c, 0);
	buf_free(&r.out);

	/* CR ends a feed, LF starts the next: fine */
	data_run(&r, &deflimits, S("abc\r"));
	assert_int_equal(
	    smtp_data_feed(&r.rx, (const uint8_t *)"\n.\r\n", 4, &r.out, &c),
	    SMTP_DATA_END);
	assert_int_equal(c, 4);
	assert_out(&r.out, "abc\r\n");
	buf_free(&r.out);
}

static void
test_data_smuggling(void **state)
{
	static const struct {
		const char *in;
		size_t at; /* *consumed at BARE_EOL */
	} cases[] = {
	    {"hello\n.\nMAIL FROM:<evil@x>\r\n", 5},
	    {"hello\r\n.\nMAIL FROM:<evil@x>\r\n", 8},
	    {"hello\r.\rMAIL FROM:<evil@x>\r\n", 6},
	    {"hello\n.\r\nMAIL FROM:<evil@x>\r\n", 5},
	    {"hello\r.\r\nMAIL FROM:<evil@x>\r\n", 6},
	    {"hello\r\n.\rMAIL FROM:<evil@x>\r\n", 9},
	    {"hello\r\n.\r\rMAIL FROM:<evil@x>\r\n", 9},
	    {"hello\r\n\n.\r\nMAIL FROM:<evil@x>\r\n", 7},
	    {"hello\r\n.\n\r\nMAIL FROM:<evil@x>\r\n", 8},
	};
	struct run r;
	(void)state;

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		size_t len = strlen(cases[i].in);

		data_run(&r, &deflimits, cases[i].in, len);
		assert_int_equal(r.st, SMTP_DATA_BARE_EOL);
		assert_int_equal(r.consumed, cases[i].at);
		buf_free(&r.out);
		check_all_splits(
		    cases[i].in, len, SMTP_DATA_BARE_EOL, cases[i].at, "");
	}
}

static void
test_data_line_too_long(void **state)
{
	struct smtp_data_limits l = deflimits;
	struct run r;
	char big[3000];
	const struct smtp_reply *rep;
	(void)state;

	/* limit includes CRLF: 8 + 2 = 10 fine, 9 + 2 = 11 too long */
	l.line_max = 10;
	data_run(&r, &l, S("12345678\r\n.\r\n"));
	assert_int_equal(r.st, SMTP_DATA_END);
	assert_int_equal(r.rx.error, SMTP_DATA_OK);
	buf_free(&r.out);
	data_run(&r, &l, S("123456789\r\nshort\r\n.\r\n"));
	assert_int_equal(r.st, SMTP_DATA_END);
	assert_int_equal(r.consumed, 21);
	assert_int_equal(r.rx.error, SMTP_DATA_ERR_LINE_LONG);
	rep = smtp_data_error_reply(&r.rx);
	assert_non_null(rep);
	assert_int_equal(rep->code, 500);
	assert_string_equal(rep->enh, "5.5.2");
	assert_string_equal(rep->text, "Line too long");
	buf_free(&r.out);

	/* sticky, first error wins, and the end is still found */
	l = deflimits;
	l.size_max = 2000;
	memset(big, 'x', sizeof(big));
	memcpy(big + 2995, "\r\n.\r\n", 5);
	data_run(&r, &l, big, sizeof(big));
	assert_int_equal(r.st, SMTP_DATA_END);
	assert_int_equal(r.consumed, sizeof(big));
	assert_int_equal(r.rx.error, SMTP_DATA_ERR_LINE_LONG);
	assert_true(r.out.len <= 1000);
	buf_free(&r.out);

	/* dot-stuffed line: counted as on the wire */
	l = deflimits;
	l.line_max = 5;
	data_run(&r, &l, S("...\r\n.\r\n"));
	assert_int_equal(r.rx.error, SMTP_DATA_OK);
	buf_free(&r.out);
	data_run(&r, &l, S("....\r\n.\r\n"));
	assert_int_equal(r.rx.error, SMTP_DATA_ERR_LINE_LONG);
	assert_int_equal(r.st, SMTP_DATA_END);
	buf_free(&r.out);

	/* line_max 0: no limit */
	data_run(&r, &nolimits, big, sizeof(big));
	assert_int_equal(r.rx.error, SMTP_DATA_OK);
	assert_int_equal(r.out.len, 2997);
	buf_free(&r.out);
}

static void
test_data_too_big(void **state)
{
	struct smtp_data_limits l = deflimits;
	struct run r;
	const struct smtp_reply *rep;
	(void)state;

	l.size_max = 10;
	data_run(&r, &l, S("12345678\r\n.\r\n")); /* exactly 10 */
	assert_int_equal(r.st, SMTP_DATA_END);
	assert_int_equal(r.rx.error, SMTP_DATA_OK);
	assert_int_equal(r.rx.size, 10);
	buf_free(&r.out);

	data_run(&r, &l, S("12345678\r\nmore\r\nlines\r\n.\r\nQUIT\r\n"));
	assert_int_equal(r.st, SMTP_DATA_END);
	assert_int_equal(r.consumed, 26);
	assert_int_equal(r.rx.error, SMTP_DATA_ERR_TOO_BIG);
	assert_int_equal(r.rx.size, 23);
	assert_true(r.out.len <= 10);
	rep = smtp_data_error_reply(&r.rx);
	assert_non_null(rep);
	assert_int_equal(rep->code, 552);
	assert_string_equal(rep->enh, "5.3.4");
	assert_string_equal(rep->text, "Message too big");
	buf_free(&r.out);

	/* stuffing dots are not stored, so not counted */
	data_run(&r, &l, S("..\r\n..\r\n..\r\n.\r\n"));
	assert_int_equal(r.rx.size, 9);
	assert_int_equal(r.rx.error, SMTP_DATA_OK);
	buf_free(&r.out);
}

static void
test_data_header_too_big(void **state)
{
	struct smtp_data_limits l = deflimits;
	struct run r;
	const struct smtp_reply *rep;
	(void)state;

	l.header_max = 20;
	/* the body does not count */
	data_run(&r, &l,
	    S("A: 1234567890\r\n\r\n"
	      "a body line that is long enough\r\n.\r\n"));
	assert_int_equal(r.st, SMTP_DATA_END);
	assert_int_equal(r.rx.error, SMTP_DATA_OK);
	buf_free(&r.out);

	data_run(&r, &l, S("A: 1234567890\r\nB: 1234567890\r\n\r\nx\r\n.\r\n"));
	assert_int_equal(r.st, SMTP_DATA_END);
	assert_int_equal(r.rx.error, SMTP_DATA_ERR_HEADER_BIG);
	rep = smtp_data_error_reply(&r.rx);
	assert_non_null(rep);
	assert_int_equal(rep->code, 552);
	assert_string_equal(rep->enh, "5.3.4");
	assert_string_equal(rep->text, "Header section too big");
	buf_free(&r.out);
}

/* n "Received:" headers (with variations) then a body. */
static char *
received_msg(unsigned n, size_t *len)
{
	static const char *forms[] = {
	    "Received: from a by b; Mon, 1 Jan 2024 00:00:00 +0000\r\n",
	    "received:from x\r\n",
	    "RECEIVED \t : from y\r\n",
	    "Received: from z\r\n\tby w\r\n Received: not a header\r\n",
	};
	struct buf b = {0};

	assert_int_equal(buf_append_str(&b, "X-Received: no\r\n"), 0);
	assert_int_equal(buf_append_str(&b, "Receivedx: no\r\n"), 0);
	assert_int_equal(buf_append_str(&b, "Received no\r\n"), 0);
	for (unsigned i = 0; i < n; i++)
		assert_int_equal(buf_append_str(&b, forms[i % 4]), 0);
	assert_int_equal(buf_append_str(&b, "Subject: s\r\n\r\n"), 0);
	/* in the body: never counted */
	for (unsigned i = 0; i < 5; i++)
		assert_int_equal(buf_append_str(&b, "Received: body\r\n"), 0);
	assert_int_equal(buf_append_str(&b, ".Received: body\r\n.\r\n"), 0);
	*len = b.len;
	return (char *)b.data;
}

static void
test_data_received_count(void **state)
{
	struct run r;
	size_t len;
	char *msg;
	const struct smtp_reply *rep;
	(void)state;

	msg = received_msg(100, &len);
	data_run(&r, &deflimits, msg, len);
	assert_int_equal(r.st, SMTP_DATA_END);
	assert_int_equal(r.rx.received, 100);
	assert_int_equal(r.rx.error, SMTP_DATA_OK);
	buf_free(&r.out);
	/* byte by byte: the name may be split anywhere */
	{
		struct smtp_data_rx rx;
		struct buf out = {0};
		size_t c;

		smtp_data_init(&rx, &deflimits);
		for (size_t i = 0; i < len; i++)
			assert_int_not_equal(
			    smtp_data_feed(
				&rx, (const uint8_t *)msg + i, 1, &out, &c),
			    SMTP_DATA_BARE_EOL);
		assert_int_equal(rx.received, 100);
		buf_free(&out);
	}
	free(msg);

	msg = received_msg(101, &len);
	data_run(&r, &deflimits, msg, len);
	assert_int_equal(r.st, SMTP_DATA_END);
	assert_int_equal(r.consumed, len);
	assert_int_equal(r.rx.received, 101);
	assert_int_equal(r.rx.error, SMTP_DATA_ERR_LOOP);
	rep = smtp_data_error_reply(&r.rx);
	assert_non_null(rep);
	assert_int_equal(rep->code, 554);
	assert_string_equal(rep->enh, "5.4.6");
	assert_string_equal(rep->text, "Too many hops (mail loop?)");
	buf_free(&r.out);
	free(msg);

	/* a dot-stuffed header line is stored as "Received:" and counts */
	data_run(&r, &deflimits, S(".Received: x\r\n\r\n.\r\n"));
	assert_int_equal(r.rx.received, 1);
	buf_free(&r.out);
}

static void
test_data_received_continuation(void **state)
{
	struct smtp_data_limits l = deflimits;
	struct run r;
	(void)state;

	l.hops_max = 1;
	data_run(&r, &l,
	    S("Received: from a\r\n Received: b\r\n\tReceived: c\r\n"
	      "Subject: Received: d\r\n\r\nReceived: e\r\n.\r\n"));
	assert_int_equal(r.st, SMTP_DATA_END);
	assert_int_equal(r.rx.received, 1);
	assert_int_equal(r.rx.error, SMTP_DATA_OK);
	buf_free(&r.out);
}

static void
test_data_nomem(void **state)
{
	struct smtp_data_rx rx;
	/* a buffer that cannot grow: buf_reserve fails without touching it */
	struct buf out = {NULL, SIZE_MAX - 1, 0};
	const struct smtp_reply *rep;
	size_t c;
	(void)state;

	smtp_data_init(&rx, &deflimits);
	assert_int_equal(
	    smtp_data_feed(&rx, (const uint8_t *)"abc\r\n", 5, &out, &c),
	    SMTP_DATA_MORE);
	assert_int_equal(rx.error, SMTP_DATA_ERR_NOMEM);
	/* sticky, later limits do not override, the end is still found */
	rx.lim.line_max = 3;
	assert_int_equal(
	    smtp_data_feed(
		&rx, (const uint8_t *)"long line\r\n.\r\n", 14, &out, &c),
	    SMTP_DATA_END);
	assert_int_equal(c, 14);
	assert_int_equal(rx.error, SMTP_DATA_ERR_NOMEM);
	rep = smtp_data_error_reply(&rx);
	assert_non_null(rep);
	assert_int_equal(rep->code, 452);
	assert_string_equal(rep->enh, "4.3.1");
	assert_string_equal(rep->text, "Insufficient system storage");
}

/* ---- BDAT ---- */

static void
test_bdat_crlf_across_chunks(void **state)
{
	struct smtp_data_rx rx;
	struct buf out = {0};
	(void)state;

	smtp_data_init(&rx, &deflimits);
	assert_int_equal(
	    smtp_bdat_feed(&rx, (const uint8_t *)"Subject: x\r", 11, &out),
	    SMTP_DATA_MORE);
	assert_out(&out, "Subject: x");
	assert_int_equal(
	    smtp_bdat_feed(
		&rx, (const uint8_t *)"\n\r\n..body\r\n.\r\n", 14, &out),
	    SMTP_DATA_MORE);
	assert_int_equal(smtp_bdat_feed(&rx, (const uint8_t *)"last", 4, &out),
	    SMTP_DATA_MORE);
	assert_int_equal(smtp_bdat_last(&rx), SMTP_DATA_END);
	/* no dot handling, a final line without CRLF is fine */
	assert_out(&out, "Subject: x\r\n\r\n..body\r\n.\r\nlast");
	assert_int_equal(rx.size, out.len);
	assert_int_equal(rx.error, SMTP_DATA_OK);
	buf_free(&out);

	/* empty chunks change nothing */
	smtp_data_init(&rx, &deflimits);
	assert_int_equal(smtp_bdat_feed(&rx, (const uint8_t *)"a\r", 2, &out),
	    SMTP_DATA_MORE);
	assert_int_equal(smtp_bdat_feed(&rx, NULL, 0, &out), SMTP_DATA_MORE);
	assert_int_equal(smtp_bdat_feed(&rx, (const uint8_t *)"\n", 1, &out),
	    SMTP_DATA_MORE);
	assert_int_equal(smtp_bdat_last(&rx), SMTP_DATA_END);
	assert_out(&out, "a\r\n");
	buf_free(&out);
}

static void
test_bdat_pending_cr_at_last(void **state)
{
	struct smtp_data_rx rx;
	struct buf out = {0};
	(void)state;

	smtp_data_init(&rx, &deflimits);
	assert_int_equal(
	    smtp_bdat_feed(&rx, (const uint8_t *)"abc\r\ndef\r", 9, &out),
	    SMTP_DATA_MORE);
	assert_int_equal(smtp_bdat_last(&rx), SMTP_DATA_BARE_EOL);
	assert_int_equal(smtp_bdat_last(&rx), SMTP_DATA_BARE_EOL);
	assert_out(&out, "abc\r\ndef");
	buf_free(&out);

	/* the empty message is fine */
	smtp_data_init(&rx, &deflimits);
	assert_int_equal(smtp_bdat_last(&rx), SMTP_DATA_END);
}

static void
test_bdat_bare(void **state)
{
	struct smtp_data_rx rx;
	struct buf out = {0};
	(void)state;

	smtp_data_init(&rx, &deflimits);
	assert_int_equal(
	    smtp_bdat_feed(&rx, (const uint8_t *)"abc\r\n", 5, &out),
	    SMTP_DATA_MORE);
	assert_int_equal(smtp_bdat_feed(&rx, (const uint8_t *)"de\nf", 4, &out),
	    SMTP_DATA_BARE_EOL);
	/* sticky */
	assert_int_equal(smtp_bdat_feed(&rx, (const uint8_t *)"x", 1, &out),
	    SMTP_DATA_BARE_EOL);
	assert_int_equal(smtp_bdat_last(&rx), SMTP_DATA_BARE_EOL);
	buf_free(&out);

	smtp_data_init(&rx, &deflimits);
	assert_int_equal(smtp_bdat_feed(&rx, (const uint8_t *)"ab\rc", 4, &out),
	    SMTP_DATA_BARE_EOL);
	buf_free(&out);

	smtp_data_init(&rx, &deflimits);
	assert_int_equal(smtp_bdat_feed(&rx, (const uint8_t *)"ab\r", 3, &out),
	    SMTP_DATA_MORE);
	assert_int_equal(smtp_bdat_feed(&rx, (const uint8_t *)"\r\n", 2, &out),
	    SMTP_DATA_BARE_EOL);
	buf_free(&out);

	smtp_data_init(&rx, &deflimits);
	assert_int_equal(smtp_bdat_feed(&rx, (const uint8_t *)"\n", 1, &out),
	    SMTP_DATA_BARE_EOL);
	buf_free(&out);

	/* regression (found by fuzz_smtp_data): a CR held back at the end
	 * of a chunk, its LF, then a bare LF in the same chunk: the output
	 * must not be left with a CR whose LF was dropped */
	smtp_data_init(&rx, &deflimits);
	assert_int_equal(smtp_bdat_feed(&rx, (const uint8_t *)"ab\r", 3, &out),
	    SMTP_DATA_MORE);
	assert_int_equal(
	    smtp_bdat_feed(&rx, (const uint8_t *)"\nc\nd", 4, &out),
	    SMTP_DATA_BARE_EOL);
	assert_out(&out, "ab\r\n");
	buf_free(&out);
}

static void
test_bdat_limits(void **state)
{
	struct smtp_data_limits l = deflimits;
	struct smtp_data_rx rx;
	struct buf out = {0};
	(void)state;

	/* line length across chunk boundaries: 5 + 5 + CRLF = 12 > 11 */
	l.line_max = 11;
	smtp_data_init(&rx, &l);
	smtp_bdat_feed(&rx, (const uint8_t *)"12345", 5, &out);
	smtp_bdat_feed(&rx, (const uint8_t *)"67890\r", 6, &out);
	assert_int_equal(rx.error, SMTP_DATA_OK);
	smtp_bdat_feed(&rx, (const uint8_t *)"\nx\r\n", 4, &out);
	assert_int_equal(rx.error, SMTP_DATA_ERR_LINE_LONG);
	assert_int_equal(smtp_bdat_last(&rx), SMTP_DATA_END);
	assert_int_equal(rx.error, SMTP_DATA_ERR_LINE_LONG);
	buf_free(&out);

	l.line_max = 12;
	smtp_data_init(&rx, &l);
	smtp_bdat_feed(&rx, (const uint8_t *)"12345", 5, &out);
	smtp_bdat_feed(&rx, (const uint8_t *)"67890\r", 6, &out);
	smtp_bdat_feed(&rx, (const uint8_t *)"\n", 1, &out);
	assert_int_equal(smtp_bdat_last(&rx), SMTP_DATA_END);
	assert_int_equal(rx.error, SMTP_DATA_OK);
	buf_free(&out);

	/* a final line without CRLF is still checked */
	l.line_max = 4;
	smtp_data_init(&rx, &l);
	smtp_bdat_feed(&rx, (const uint8_t *)"ab\r\nabcde", 9, &out);
	assert_int_equal(smtp_bdat_last(&rx), SMTP_DATA_END);
	assert_int_equal(rx.error, SMTP_DATA_ERR_LINE_LONG);
	buf_free(&out);

	/* Received count and size */
	l = deflimits;
	l.hops_max = 1;
	smtp_data_init(&rx, &l);
	smtp_bdat_feed(&rx, (const uint8_t *)"Rece", 4, &out);
	smtp_bdat_feed(&rx, (const uint8_t *)"ived: a\r\nreceived", 17, &out);
	assert_int_equal(rx.received, 1);
	smtp_bdat_feed(&rx, (const uint8_t *)" : b\r\n\r\n", 8, &out);
	assert_int_equal(rx.received, 2);
	assert_int_equal(rx.error, SMTP_DATA_ERR_LOOP);
	buf_free(&out);

	l = deflimits;
	l.size_max = 5;
	smtp_data_init(&rx, &l);
	smtp_bdat_feed(&rx, (const uint8_t *)"abc\r\n", 5, &out);
	assert_int_equal(rx.error, SMTP_DATA_OK);
	smtp_bdat_feed(&rx, (const uint8_t *)"d", 1, &out);
	assert_int_equal(rx.error, SMTP_DATA_ERR_TOO_BIG);
	assert_int_equal(out.len, 5);
	smtp_bdat_feed(&rx, (const uint8_t *)"efgh", 4, &out);
	assert_int_equal(out.len, 5);
	assert_int_equal(rx.size, 10);
	buf_free(&out);
}

/* main - run the smtp_data unit tests */
int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_data_simple),
	    cmocka_unit_test(test_data_unstuffing),
	    cmocka_unit_test(test_data_empty),
	    cmocka_unit_test(test_data_after_terminator_not_consumed),
	    cmocka_unit_test(test_data_terminator_split),
	    cmocka_unit_test(test_data_bare_lf),
	    cmocka_unit_test(test_data_bare_cr),
	    cmocka_unit_test(test_data_smuggling),
	    cmocka_unit_test(test_data_line_too_long),
	    cmocka_unit_test(test_data_too_big),
	    cmocka_unit_test(test_data_header_too_big),
	    cmocka_unit_test(test_data_received_count),
	    cmocka_unit_test(test_data_received_continuation),
	    cmocka_unit_test(test_data_nomem),
	    cmocka_unit_test(test_bdat_crlf_across_chunks),
	    cmocka_unit_test(test_bdat_pending_cr_at_last),
	    cmocka_unit_test(test_bdat_bare),
	    cmocka_unit_test(test_bdat_limits),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
