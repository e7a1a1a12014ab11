/*
 * test_smtp_reply_parse.c - unit tests for core/smtp_reply_parse.c: line
 * framing (CRLF, bare LF), reply codes, multi-line replies, enhanced
 * status codes, the line length and line count limits, sticky errors and
 * split-independence. What replies mean is tested in test_smtp_client.c.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "smtp_reply_parse.h"

/* Feed all of s; expect exactly one reply that ends at the end of s. */
static void
one(struct smtp_reply_parser *p, const char *s, struct smtp_rp_reply *r)
{
	size_t used = 0;

	assert_int_equal(
	    smtp_rp_feed(p, (const uint8_t *)s, strlen(s), &used, r),
	    SMTP_RP_REPLY);
	assert_int_equal(used, strlen(s));
}

/* Feed all of s; expect an error. */
static enum smtp_rp_error
bad(const char *s, size_t line_max, unsigned lines_max)
{
	struct smtp_reply_parser p;
	struct smtp_rp_reply r;
	size_t used, off = 0, len = strlen(s);
	enum smtp_rp_status st = SMTP_RP_MORE;
	enum smtp_rp_error e;

	smtp_rp_init(&p, line_max, lines_max);
	while (off < len) {
		st = smtp_rp_feed(
		    &p, (const uint8_t *)s + off, len - off, &used, &r);
		if (st != SMTP_RP_REPLY)
			break;
		off += used;
	}
	assert_int_equal(st, SMTP_RP_ERROR);
	e = p.err;
	assert_int_not_equal(e, SMTP_RP_EOK);
	smtp_rp_free(&p);
	return e;
}

static void
test_single_line(void **state)
{
	struct smtp_reply_parser p;
	struct smtp_rp_reply r;

	(void)state;
	smtp_rp_init(&p, 0, 0);
	one(&p, "220 mx.example ESMTP ready\r\n", &r);
	assert_int_equal(r.code, 220);
	assert_string_equal(r.enh, "");
	assert_string_equal(r.text, "mx.example ESMTP ready");
	assert_int_equal(r.text_len, strlen(r.text));
	assert_int_equal(r.nlines, 1);

	one(&p, "250\r\n", &r);
	assert_int_equal(r.code, 250);
	assert_string_equal(r.text, "");
	assert_int_equal(r.nlines, 1);

	one(&p, "354 \r\n", &r);
	assert_int_equal(r.code, 354);
	assert_string_equal(r.text, "");

	/* bare LF accepted */
	one(&p, "221 2.0.0 bye\n", &r);
	assert_int_equal(r.code, 221);
	assert_string_equal(r.enh, "2.0.0");
	assert_string_equal(r.text, "bye");
	smtp_rp_free(&p);
}

static void
test_multi_line(void **state)
{
	struct smtp_reply_parser p;
	struct smtp_rp_reply r;

	(void)state;
	smtp_rp_init(&p, 0, 0);
	one(&p,
	    "250-mx.example Hello\r\n250-SIZE 1000\n250-PIPELINING\r\n"
	    "250 8BITMIME\r\n",
	    &r);
	assert_int_equal(r.code, 250);
	assert_int_equal(r.nlines, 4);
	assert_string_equal(
	    r.text, "mx.example Hello\nSIZE 1000\nPIPELINING\n8BITMIME");

	/* enhanced code on every line: removed from each */
	one(&p,
	    "550-5.7.1 Message rejected\r\n550-5.7.1 see policy\r\n"
	    "550 5.7.1\r\n",
	    &r);
	assert_int_equal(r.code, 550);
	assert_string_equal(r.enh, "5.7.1");
	assert_string_equal(r.text, "Message rejected\nsee policy\n");
	assert_int_equal(r.nlines, 3);

	/* a different code on a later line stays in the text */
	one(&p, "451-4.3.0 first\r\n451 4.4.1 second\r\n", &r);
	assert_string_equal(r.enh, "4.3.0");
	assert_string_equal(r.text, "first\n4.4.1 second");

	/* empty continuation lines */
	one(&p, "250-\r\n250-\r\n250 end\r\n", &r);
	assert_string_equal(r.text, "\n\nend");
	smtp_rp_free(&p);
}

static void
test_enhanced_codes(void **state)
{
	static const struct {
		const char *in, *enh, *text;
	} cases[] = {
	    {"250 2.1.5 Ok\r\n", "2.1.5", "Ok"},
	    {"550 5.1.1\r\n", "5.1.1", ""},
	    {"552 5.3.4 \r\n", "5.3.4", ""},
	    {"452 4.123.456 too many\r\n", "4.123.456", "too many"},
	    /* class must match the reply code */
	    {"250 5.1.1 x\r\n", "", "5.1.1 x"},
	    {"550 4.1.1 x\r\n", "", "4.1.1 x"},
	    /* malformed */
	    {"550 5.1.1x\r\n", "", "5.1.1x"},
	    {"550 5.1234.1 x\r\n", "", "5.1234.1 x"},
	    {"550 5.1.1234 x\r\n", "", "5.1.1234 x"},
	    {"550 5..1 x\r\n", "", "5..1 x"},
	    {"550 5.1. x\r\n", "", "5.1. x"},
	    {"550 51.1.1 x\r\n", "", "51.1.1 x"},
	    {"354 3.0.0 go\r\n", "", "3.0.0 go"},
	    {"550 Sorry 5.1.1\r\n", "", "Sorry 5.1.1"},
	};
	struct smtp_reply_parser p;
	struct smtp_rp_reply r;

	(void)state;
	smtp_rp_init(&p, 0, 0);
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		one(&p, cases[i].in, &r);
		assert_string_equal(r.enh, cases[i].enh);
		assert_string_equal(r.text, cases[i].text);
	}
	smtp_rp_free(&p);
}

static void
test_syntax_errors(void **state)
{
	static const char *const cases[] = {
	    "199 x\r\n",
	    "600 x\r\n",
	    "260 x\r\n", /* second digit 0-5 */
	    "25 x\r\n",
	    "25\r\n",
	    "\r\n",
	    "2500 x\r\n",
	    "250x\r\n",
	    "abc def\r\n",
	    "250 a\rb\r\n", /* CR inside a line */
	    "250 a\r\r\n",
	    " 250 x\r\n",
	};
	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		assert_int_equal(bad(cases[i], 0, 0), SMTP_RP_ESYNTAX);
	/* a NUL octet */
	{
		struct smtp_reply_parser p;
		struct smtp_rp_reply r;
		size_t used;
		static const uint8_t nul[] = "250 a\0b\r\n";

		smtp_rp_init(&p, 0, 0);
		assert_int_equal(
		    smtp_rp_feed(&p, nul, sizeof(nul) - 1, &used, &r),
		    SMTP_RP_ERROR);
		assert_int_equal(p.err, SMTP_RP_ESYNTAX);
		smtp_rp_free(&p);
	}
	assert_int_equal(bad("250-a\r\n251 b\r\n", 0, 0), SMTP_RP_ECODE);
	assert_int_equal(bad("250-a\r\n550 b\r\n", 0, 0), SMTP_RP_ECODE);
}

static void
test_control_chars(void **state)
{
	struct smtp_reply_parser p;
	struct smtp_rp_reply r;

	(void)state;
	smtp_rp_init(&p, 0, 0);
	one(&p, "250 a\tb\x01\x1b[0m\x7f\xc3\xa9\r\n", &r);
	assert_string_equal(r.text, "a\tb??[0m?\xc3\xa9");
	smtp_rp_free(&p);
}

static void
test_line_limit(void **state)
{
	struct smtp_reply_parser p;
	struct smtp_rp_reply r;
	char *s = malloc(4096);
	size_t used;

	(void)state;
	/* exactly 2048 octets with CRLF: fine */
	memset(s, 'x', 4096);
	memcpy(s, "250 ", 4);
	memcpy(s + 2046, "\r\n", 3);
	smtp_rp_init(&p, 0, 0);
	one(&p, s, &r);
	assert_int_equal(r.text_len, 2042);
	smtp_rp_free(&p);

	/* one more: too long */
	memset(s, 'x', 4096);
	memcpy(s, "250 ", 4);
	memcpy(s + 2047, "\r\n", 3);
	assert_int_equal(bad(s, 0, 0), SMTP_RP_ELONG);

	/* with a bare LF the limit counts the LF only */
	memset(s, 'x', 4096);
	memcpy(s, "250 ", 4);
	memcpy(s + 2047, "\n", 2);
	smtp_rp_init(&p, 0, 0);
	one(&p, s, &r);
	smtp_rp_free(&p);

	/* reported before any LF arrives, in small pieces too */
	memset(s, 'x', 4096);
	memcpy(s, "250 ", 4);
	smtp_rp_init(&p, 0, 0);
	{
		enum smtp_rp_status st = SMTP_RP_MORE;
		size_t off = 0;

		while (off < 4096 && st == SMTP_RP_MORE) {
			st = smtp_rp_feed(
			    &p, (const uint8_t *)s + off, 100, &used, &r);
			off += 100;
		}
		assert_int_equal(st, SMTP_RP_ERROR);
		assert_int_equal(p.err, SMTP_RP_ELONG);
		assert_true(off <= 2100);
	}
	smtp_rp_free(&p);

	/* a small configured limit */
	assert_int_equal(bad("250 0123456789\r\n", 12, 0), SMTP_RP_ELONG);
	smtp_rp_init(&p, 12, 0);
	one(&p, "250 012345\r\n", &r);
	smtp_rp_free(&p);
	free(s);
}

static void
test_lines_limit(void **state)
{
	struct smtp_reply_parser p;
	struct smtp_rp_reply r;
	struct smtp_rp_reply *rp = &r;
	char *s = malloc(101 * 16 + 1);
	size_t o = 0;

	(void)state;
	for (int i = 0; i < 99; i++)
		o += (size_t)sprintf(s + o, "250-line %d\r\n", i);
	sprintf(s + o, "250 last\r\n");
	smtp_rp_init(&p, 0, 0);
	one(&p, s, rp);
	assert_int_equal(r.nlines, 100);
	smtp_rp_free(&p);

	o = 0;
	for (int i = 0; i < 100; i++)
		o += (size_t)sprintf(s + o, "250-line %d\r\n", i);
	sprintf(s + o, "250 last\r\n");
	assert_int_equal(bad(s, 0, 0), SMTP_RP_ELINES);
	assert_int_equal(
	    bad("250-a\r\n250-b\r\n250 c\r\n", 0, 2), SMTP_RP_ELINES);
	free(s);
}

static void
test_two_replies_one_feed(void **state)
{
	struct smtp_reply_parser p;
	struct smtp_rp_reply r;
	const char *s = "250 first\r\n354-a\r\n354 b\r\n221 x";
	size_t used, off = 0;

	(void)state;
	smtp_rp_init(&p, 0, 0);
	assert_int_equal(
	    smtp_rp_feed(&p, (const uint8_t *)s, strlen(s), &used, &r),
	    SMTP_RP_REPLY);
	assert_int_equal(used, 11);
	assert_string_equal(r.text, "first");
	off += used;
	assert_int_equal(smtp_rp_feed(&p, (const uint8_t *)s + off,
			     strlen(s) - off, &used, &r),
	    SMTP_RP_REPLY);
	assert_int_equal(r.code, 354);
	assert_string_equal(r.text, "a\nb");
	off += used;
	assert_int_equal(smtp_rp_feed(&p, (const uint8_t *)s + off,
			     strlen(s) - off, &used, &r),
	    SMTP_RP_MORE);
	assert_int_equal(off + used, strlen(s));
	assert_int_equal(
	    smtp_rp_feed(&p, (const uint8_t *)"\r\n", 2, &used, &r),
	    SMTP_RP_REPLY);
	assert_int_equal(r.code, 221);
	assert_string_equal(r.text, "x");
	/* empty feed */
	assert_int_equal(smtp_rp_feed(&p, NULL, 0, &used, &r), SMTP_RP_MORE);
	assert_int_equal(used, 0);
	smtp_rp_free(&p);
}

/* Transcript of every reply (and the final state) of feeding s in
 * pieces of at most `step` octets (0: whole). */
static void
transcript(const char *s, size_t len, size_t step, char *out, size_t outsz)
{
	struct smtp_reply_parser p;
	struct smtp_rp_reply r;
	size_t off = 0, o = 0;

	smtp_rp_init(&p, 64, 5);
	out[0] = '\0';
	while (off < len) {
		size_t n = step ? step : len - off, used;
		enum smtp_rp_status st;

		if (n > len - off)
			n = len - off;
		st = smtp_rp_feed(&p, (const uint8_t *)s + off, n, &used, &r);
		if (st == SMTP_RP_ERROR) {
			o += (size_t)snprintf(
			    out + o, outsz - o, "E%d", (int)p.err);
			break;
		}
		off += used;
		if (st == SMTP_RP_REPLY)
			o += (size_t)snprintf(out + o, outsz - o,
			    "[%d|%s|%u|%s]", r.code, r.enh, r.nlines, r.text);
	}
	smtp_rp_free(&p);
}

static void
test_split_every_byte(void **state)
{
	static const char *const streams[] = {
	    "220-mx.example\r\n220 ESMTP\r\n250-mx\r\n250-PIPELINING\n"
	    "250 SIZE 10\r\n550-5.1.1 no\r\n550 5.1.1 such user\r\n",
	    "250 ok\r\n250-a\r\n250-b\r\n250-c\r\n250-d\r\n250-e\r\n250 f\r\n",
	    "250 0123456789012345678901234567890123456789012345678901234567"
	    "89\r\n",
	    "250 ok\r\n250-a\r\n251 b\r\n",
	    "250 ok\r\n250 a\rb\r\n",
	    "\r\n\r\n",
	};
	char whole[2048], part[2048];

	(void)state;
	for (size_t i = 0; i < sizeof(streams) / sizeof(streams[0]); i++) {
		size_t len = strlen(streams[i]);

		transcript(streams[i], len, 0, whole, sizeof(whole));
		for (size_t step = 1; step <= len; step++) {
			transcript(streams[i], len, step, part, sizeof(part));
			assert_string_equal(whole, part);
		}
	}
	/* sanity of the expected outcomes */
	transcript(streams[1], strlen(streams[1]), 1, part, sizeof(part));
	assert_string_equal(part, "[250||1|ok]E4");
	transcript(streams[3], strlen(streams[3]), 1, part, sizeof(part));
	assert_string_equal(part, "[250||1|ok]E2");
}

/* Bytes split between two feeds anywhere within a line. */
static void
test_split_two_parts(void **state)
{
	const char *s = "451-4.7.1 Greylisted\r\n451 4.7.1 try later\r\n";
	size_t len = strlen(s);

	(void)state;
	for (size_t cut = 0; cut <= len; cut++) {
		struct smtp_reply_parser p;
		struct smtp_rp_reply r;
		size_t used;

		smtp_rp_init(&p, 0, 0);
		if (cut < len) {
			assert_int_equal(smtp_rp_feed(&p, (const uint8_t *)s,
					     cut, &used, &r),
			    SMTP_RP_MORE);
			assert_int_equal(used, cut);
			assert_int_equal(
			    smtp_rp_feed(&p, (const uint8_t *)s + cut,
				len - cut, &used, &r),
			    SMTP_RP_REPLY);
			assert_int_equal(used, len - cut);
		} else {
			one(&p, s, &r);
		}
		assert_int_equal(r.code, 451);
		assert_string_equal(r.enh, "4.7.1");
		assert_string_equal(r.text, "Greylisted\ntry later");
		smtp_rp_free(&p);
	}
}

static void
test_sticky_error_and_reset(void **state)
{
	struct smtp_reply_parser p;
	struct smtp_rp_reply r;
	size_t used;

	(void)state;
	smtp_rp_init(&p, 0, 0);
	assert_int_equal(
	    smtp_rp_feed(&p, (const uint8_t *)"xyz\r\n", 5, &used, &r),
	    SMTP_RP_ERROR);
	assert_int_equal(
	    smtp_rp_feed(&p, (const uint8_t *)"250 ok\r\n", 8, &used, &r),
	    SMTP_RP_ERROR);
	assert_int_equal(used, 0);
	smtp_rp_reset(&p);
	/* a partial line is forgotten by reset too */
	assert_int_equal(
	    smtp_rp_feed(&p, (const uint8_t *)"250-garb", 8, &used, &r),
	    SMTP_RP_MORE);
	smtp_rp_reset(&p);
	one(&p, "250 ok\r\n", &r);
	assert_string_equal(r.text, "ok");
	smtp_rp_free(&p);
}

static void
test_strerror(void **state)
{
	(void)state;
	for (int e = SMTP_RP_EOK; e <= SMTP_RP_ENOMEM; e++) {
		const char *s = smtp_rp_strerror((enum smtp_rp_error)e);

		assert_non_null(s);
		assert_true(strlen(s) > 0);
	}
	assert_string_equal(
	    smtp_rp_strerror(SMTP_RP_ELONG), "reply line too long");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_single_line),
	    cmocka_unit_test(test_multi_line),
	    cmocka_unit_test(test_enhanced_codes),
	    cmocka_unit_test(test_syntax_errors),
	    cmocka_unit_test(test_control_chars),
	    cmocka_unit_test(test_line_limit),
	    cmocka_unit_test(test_lines_limit),
	    cmocka_unit_test(test_two_replies_one_feed),
	    cmocka_unit_test(test_split_every_byte),
	    cmocka_unit_test(test_split_two_parts),
	    cmocka_unit_test(test_sticky_error_and_reset),
	    cmocka_unit_test(test_strerror),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
