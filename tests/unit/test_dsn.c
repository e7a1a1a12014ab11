/*
 * test_dsn.c - unit tests of the delivery status notification builder
 * (core/dsn.c): message structure and every field for failed, delayed
 * and successful deliveries, RET=HDRS vs FULL, ENVID/ORCPT xtext,
 * diagnostics sanitised, boundary collisions, line ends and lengths,
 * RFC 6533 global reports, bad input, and the NOTIFY decision table.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "dsn.h"

/* ---- fixture: one message, three recipients ---- */

struct fx {
	struct qrcpt rcpt[3];
	struct qenvelope env;
	struct dsn_rcpt dr[3];
	struct dsn_input in;
};

#define ORIGINAL                                                             \
	"Received: from client.example ([192.0.2.1])\r\n"                    \
	"\tby mx.ringmx.example (ringmx) with ESMTP id 0000012A05000007\r\n" \
	"From: Alice <alice@example.com>\r\n"                                \
	"To: bob@example.net\r\n"                                            \
	"Subject: lunch\r\n"                                                 \
	"\r\n"                                                               \
	"Shall we meet at noon?\r\n"
#define ORIGINAL_HDRS                                                        \
	"Received: from client.example ([192.0.2.1])\r\n"                    \
	"\tby mx.ringmx.example (ringmx) with ESMTP id 0000012A05000007\r\n" \
	"From: Alice <alice@example.com>\r\n"                                \
	"To: bob@example.net\r\n"                                            \
	"Subject: lunch\r\n"

static void
fx_init(struct fx *f)
{
	memset(f, 0, sizeof(*f));
	f->rcpt[0].addr = "bob@example.net";
	f->rcpt[0].orcpt = "rfc822;bob@example.net";
	f->rcpt[1].addr = "carol@example.org";
	f->rcpt[2].addr = "dave@example.com";
	f->rcpt[2].notify = SMTP_NOTIFY_SUCCESS;
	f->env.id = 0x0000012A05000007ULL;
	f->env.sender = "alice@example.com";
	f->env.envid = "QQ314159";
	f->env.received = 1700000000;
	f->env.nrcpt = 3;
	f->env.rcpts = f->rcpt;
	f->dr[0].index = 0;
	f->dr[0].action = DSN_ACTION_FAILED;
	f->dr[0].status = "5.1.1";
	f->dr[0].diagnostic = "550 5.1.1 <bob@example.net>: User unknown";
	f->dr[0].remote_mta = "mx1.example.net";
	f->dr[0].last_attempt = 1700000100;
	f->in.reporting_host = "mx.ringmx.example";
	f->in.env = &f->env;
	f->in.rcpts = f->dr;
	f->in.nrcpts = 1;
	f->in.arrival = 1700000000;
	f->in.now = 1700000300;
	f->in.original = ORIGINAL;
	f->in.original_len = strlen(ORIGINAL);
	f->in.token = "0000012A05000007.1";
}

/* ---- helpers ---- */

/* The buffer as a NUL-terminated string (the tests use no NUL octets). */
static char *
str_of(const struct buf *b, size_t from)
{
	char *s = malloc(b->len - from + 1);

	assert_non_null(s);
	memcpy(s, b->data + from, b->len - from);
	s[b->len - from] = '\0';
	assert_int_equal(strlen(s), b->len - from);
	return s;
}

/* CRLF only, every line at most 998 octets, ends with CRLF; returns the
 * longest line. */
static size_t
check_lines(const uint8_t *p, size_t n)
{
	size_t col = 0, longest = 0;

	assert_true(n >= 2 && p[n - 2] == '\r' && p[n - 1] == '\n');
	for (size_t i = 0; i < n; i++) {
		if (p[i] == '\r') {
			assert_true(i + 1 < n && p[i + 1] == '\n');
			i++;
			col = 0;
			continue;
		}
		assert_true(p[i] != '\n');
		col++;
		assert_true(col <= 998);
		if (col > longest)
			longest = col;
	}
	return longest;
}

/* Whether hay contains line as a whole line. */
static bool
has_line(const char *hay, const char *line)
{
	size_t n = strlen(line);

	for (const char *p = hay; (p = strstr(p, line)) != NULL; p++)
		if ((p == hay || p[-1] == '\n') && p[n] == '\r' &&
		    p[n + 1] == '\n')
			return true;
	return false;
}

static size_t
count_str(const char *hay, const char *needle)
{
	size_t c = 0;

	for (const char *p = hay; (p = strstr(p, needle)) != NULL; p++)
		c++;
	return c;
}

struct msg {
	char *all;
	char boundary[80];
	char *head;    /* top-level header section */
	char *ph[3];   /* part headers */
	char *body[3]; /* part contents (without the delimiter's CRLF) */
};

static char *
dup_range(const char *s, size_t n)
{
	char *d = malloc(n + 1);

	assert_non_null(d);
	memcpy(d, s, n);
	d[n] = '\0';
	return d;
}

/* Split a report into header, boundary and exactly three parts. */
static void
msg_parse(const struct buf *b, size_t from, struct msg *m)
{
	char delim[90], close[90];
	const char *p, *end, *q;

	memset(m, 0, sizeof(*m));
	check_lines(b->data + from, b->len - from);
	m->all = str_of(b, from);
	end = strstr(m->all, "\r\n\r\n");
	assert_non_null(end);
	m->head = dup_range(m->all, (size_t)(end - m->all) + 2);
	p = strstr(m->head, "boundary=\"");
	assert_non_null(p);
	p += 10;
	q = strchr(p, '"');
	assert_non_null(q);
	assert_true(q - p > 0 && q - p < 71);
	memcpy(m->boundary, p, (size_t)(q - p));
	snprintf(delim, sizeof(delim), "\r\n--%s\r\n", m->boundary);
	snprintf(close, sizeof(close), "\r\n--%s--\r\n", m->boundary);
	/* the boundary appears exactly: header, 3 delimiters, close */
	assert_int_equal(count_str(m->all, m->boundary), 5);
	p = strstr(end, delim);
	assert_non_null(p);
	for (int i = 0; i < 3; i++) {
		const char *start = p + strlen(delim), *next, *hend;

		next = strstr(start, delim);
		if (i == 2) {
			assert_null(next);
			next = strstr(start, close);
			assert_non_null(next);
			/* nothing after the close delimiter */
			assert_string_equal(next, close);
		}
		assert_non_null(next);
		hend = strstr(start, "\r\n\r\n");
		assert_true(hend != NULL && hend <= next);
		m->ph[i] = dup_range(start, (size_t)(hend - start) + 2);
		m->body[i] = dup_range(hend + 4, (size_t)(next - hend - 4));
		p = next;
	}
}

static void
msg_free(struct msg *m)
{
	free(m->all);
	free(m->head);
	for (int i = 0; i < 3; i++) {
		free(m->ph[i]);
		free(m->body[i]);
	}
}

static void
build_ok(const struct dsn_input *in, struct buf *b, struct msg *m)
{
	buf_reset(b);
	assert_int_equal(dsn_build(in, b), 0);
	msg_parse(b, 0, m);
}

/* ---- tests ---- */

static void
test_failed_every_field(void **state)
{
	struct fx f;
	struct buf b = {0};
	struct msg m;
	char expect[200];

	(void)state;
	fx_init(&f);
	build_ok(&f.in, &b, &m);

	/* the header section, in order, exactly */
	snprintf(expect, sizeof(expect),
	    "Content-Type: multipart/report; report-type=delivery-status;\r\n"
	    "\tboundary=\"%s\"\r\n",
	    m.boundary);
	assert_true(strncmp(m.head,
			"From: Mail Delivery System "
			"<MAILER-DAEMON@mx.ringmx.example>\r\n"
			"To: <alice@example.com>\r\n"
			"Subject: Undelivered Mail Returned to Sender\r\n"
			"Date: Tue, 14 Nov 2023 22:18:20 +0000\r\n"
			"Message-ID: <0000012A05000007.1@mx.ringmx.example>\r\n"
			"Auto-Submitted: auto-replied\r\n"
			"MIME-Version: 1.0\r\n",
			strlen(m.head) - strlen(expect)) == 0);
	assert_string_equal(m.head + strlen(m.head) - strlen(expect), expect);
	assert_true(strncmp(m.boundary, "=_rmx_dsn_", 10) == 0);
	assert_int_equal(strlen(m.boundary), 26);

	/* part 1: the explanation */
	assert_string_equal(m.ph[0],
	    "Content-Type: text/plain; charset=us-ascii\r\n"
	    "Content-Transfer-Encoding: 7bit\r\n"
	    "Content-Description: Notification\r\n");
	assert_true(has_line(m.body[0],
	    "This is the mail delivery system at mx.ringmx.example."));
	assert_true(
	    has_line(m.body[0], "<bob@example.net>: delivery failed (5.1.1)"));
	assert_true(has_line(m.body[0], "    Remote server: mx1.example.net"));
	assert_true(has_line(
	    m.body[0], "    Reply: 550 5.1.1 <bob@example.net>: User unknown"));
	assert_true(has_line(
	    m.body[0], "    Last attempt: Tue, 14 Nov 2023 22:15:00 +0000"));
	assert_null(strstr(m.body[0], "delayed"));
	assert_null(strstr(m.body[0], "carol"));

	/* part 2: every field, exactly */
	assert_string_equal(m.ph[1],
	    "Content-Type: message/delivery-status\r\n"
	    "Content-Transfer-Encoding: 7bit\r\n"
	    "Content-Description: Delivery report\r\n");
	assert_string_equal(m.body[1],
	    "Reporting-MTA: dns; mx.ringmx.example\r\n"
	    "Original-Envelope-Id: QQ314159\r\n"
	    "Arrival-Date: Tue, 14 Nov 2023 22:13:20 +0000\r\n"
	    "\r\n"
	    "Original-Recipient: rfc822;bob@example.net\r\n"
	    "Final-Recipient: rfc822; bob@example.net\r\n"
	    "Action: failed\r\n"
	    "Status: 5.1.1\r\n"
	    "Remote-MTA: dns; mx1.example.net\r\n"
	    "Diagnostic-Code: smtp; 550 5.1.1 <bob@example.net>: User "
	    "unknown\r\n"
	    "Last-Attempt-Date: Tue, 14 Nov 2023 22:15:00 +0000\r\n");

	/* part 3: default RET is HDRS */
	assert_string_equal(m.ph[2],
	    "Content-Type: text/rfc822-headers\r\n"
	    "Content-Transfer-Encoding: 7bit\r\n"
	    "Content-Description: Returned message headers\r\n");
	assert_string_equal(m.body[2], ORIGINAL_HDRS);
	assert_int_equal(dsn_requirements(&f.in), 0);
	msg_free(&m);

	/* no status given: 5.0.0 */
	f.dr[0].status = NULL;
	build_ok(&f.in, &b, &m);
	assert_true(has_line(m.body[1], "Status: 5.0.0"));
	assert_true(
	    has_line(m.body[0], "<bob@example.net>: delivery failed (5.0.0)"));
	msg_free(&m);
	buf_free(&b);
}

static void
test_delayed(void **state)
{
	struct fx f;
	struct buf b = {0};
	struct msg m;

	(void)state;
	fx_init(&f);
	f.dr[0].index = 1;
	f.dr[0].action = DSN_ACTION_DELAYED;
	f.dr[0].status = "4.4.1";
	f.dr[0].diagnostic = "connection timed out";
	f.dr[0].remote_mta = NULL;
	f.dr[0].last_attempt = 1700003600;
	f.dr[0].will_retry_until = 1700432000;
	f.env.envid = NULL;
	build_ok(&f.in, &b, &m);
	assert_true(
	    has_line(m.head, "Subject: Delayed Mail (still being retried)"));
	assert_true(has_line(m.body[0],
	    "<carol@example.org>: delayed, still being retried (4.4.1)"));
	assert_true(has_line(
	    m.body[0], "    Retrying until: Sun, 19 Nov 2023 22:13:20 +0000"));
	assert_null(strstr(m.body[0], "permanent"));
	assert_string_equal(m.body[1],
	    "Reporting-MTA: dns; mx.ringmx.example\r\n"
	    "Arrival-Date: Tue, 14 Nov 2023 22:13:20 +0000\r\n"
	    "\r\n"
	    "Final-Recipient: rfc822; carol@example.org\r\n"
	    "Action: delayed\r\n"
	    "Status: 4.4.1\r\n"
	    "Diagnostic-Code: smtp; connection timed out\r\n"
	    "Last-Attempt-Date: Tue, 14 Nov 2023 23:13:20 +0000\r\n"
	    "Will-Retry-Until: Sun, 19 Nov 2023 22:13:20 +0000\r\n");
	msg_free(&m);

	/* no status given: 4.0.0; no times: no date fields */
	f.dr[0].status = NULL;
	f.dr[0].last_attempt = 0;
	f.dr[0].will_retry_until = 0;
	f.dr[0].diagnostic = NULL;
	build_ok(&f.in, &b, &m);
	assert_true(has_line(m.body[1], "Status: 4.0.0"));
	assert_null(strstr(m.body[1], "Will-Retry-Until"));
	assert_null(strstr(m.body[1], "Last-Attempt-Date"));
	assert_null(strstr(m.body[1], "Diagnostic-Code"));
	assert_null(strstr(m.body[0], "Reply:"));
	msg_free(&m);
	buf_free(&b);
}

static void
test_delivered_relayed_expanded(void **state)
{
	static const struct {
		enum dsn_action a;
		const char *name, *label;
	} cases[] = {
	    {DSN_ACTION_DELIVERED, "delivered", "delivered"},
	    {DSN_ACTION_RELAYED, "relayed",
		"relayed to a system that sends no further reports"},
	    {DSN_ACTION_EXPANDED, "expanded", "delivered to a list or alias"},
	};
	struct fx f;
	struct buf b = {0};
	struct msg m;
	char line[200];

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		fx_init(&f);
		f.dr[0].index = 2;
		f.dr[0].action = cases[i].a;
		f.dr[0].status = "2.0.0";
		f.dr[0].diagnostic = "250 2.0.0 Ok: queued as 4F2";
		f.dr[0].remote_mta = "mx.example.com.";
		f.dr[0].will_retry_until = 1700432000; /* ignored */
		f.in.ret = SMTP_RET_HDRS;
		build_ok(&f.in, &b, &m);
		assert_true(has_line(
		    m.head, "Subject: Successful Mail Delivery Report"));
		snprintf(line, sizeof(line), "<dave@example.com>: %s (2.0.0)",
		    cases[i].label);
		assert_true(has_line(m.body[0], line));
		snprintf(line, sizeof(line), "Action: %s", cases[i].name);
		assert_true(has_line(m.body[1], line));
		assert_true(has_line(m.body[1], "Status: 2.0.0"));
		assert_true(
		    has_line(m.body[1], "Remote-MTA: dns; mx.example.com"));
		assert_true(has_line(m.body[1],
		    "Diagnostic-Code: smtp; 250 2.0.0 Ok: queued as 4F2"));
		assert_null(strstr(m.body[1], "Will-Retry-Until"));
		assert_null(strstr(m.body[0], "permanent"));
		msg_free(&m);
	}

	/* mixed: the most serious action names the subject; each listed */
	fx_init(&f);
	f.dr[1] = f.dr[0];
	f.dr[1].index = 1;
	f.dr[1].action = DSN_ACTION_DELAYED;
	f.dr[1].status = "4.2.2";
	f.dr[2] = f.dr[0];
	f.dr[2].index = 2;
	f.dr[2].action = DSN_ACTION_DELIVERED;
	f.dr[2].status = NULL;
	f.in.nrcpts = 3;
	build_ok(&f.in, &b, &m);
	assert_true(
	    has_line(m.head, "Subject: Undelivered Mail Returned to Sender"));
	assert_int_equal(count_str(m.body[1], "Final-Recipient: "), 3);
	assert_true(has_line(m.body[1], "Status: 2.0.0"));
	assert_true(has_line(m.body[1], "Status: 4.2.2"));
	msg_free(&m);
	f.in.nrcpts = 2;
	f.in.rcpts = &f.dr[1];
	build_ok(&f.in, &b, &m);
	assert_true(
	    has_line(m.head, "Subject: Delayed Mail (still being retried)"));
	msg_free(&m);
	buf_free(&b);
}

static void
test_ret_hdrs_full(void **state)
{
	struct fx f;
	struct buf b = {0};
	struct msg m;
	const char *eight = "Subject: caf\xc3\xa9\r\n\r\nbody\r\n";
	const char *body8 = "Subject: plain\r\n\r\nna\xc3\xafve body\r\n";

	(void)state;
	fx_init(&f);
	/* envelope RET=FULL */
	f.env.ret = SMTP_RET_FULL;
	build_ok(&f.in, &b, &m);
	assert_true(has_line(m.ph[2], "Content-Type: message/rfc822"));
	assert_true(has_line(m.ph[2], "Content-Description: Returned message"));
	assert_string_equal(m.body[2], ORIGINAL);
	assert_true(has_line(m.body[0], "Your message is attached below."));
	msg_free(&m);
	/* override to HDRS */
	f.in.ret = SMTP_RET_HDRS;
	build_ok(&f.in, &b, &m);
	assert_true(has_line(m.ph[2], "Content-Type: text/rfc822-headers"));
	assert_string_equal(m.body[2], ORIGINAL_HDRS);
	assert_true(has_line(m.body[0],
	    "The header section of your message is attached below."));
	msg_free(&m);
	/* envelope HDRS, override FULL */
	f.env.ret = SMTP_RET_HDRS;
	f.in.ret = SMTP_RET_FULL;
	build_ok(&f.in, &b, &m);
	assert_string_equal(m.body[2], ORIGINAL);
	msg_free(&m);

	/* 8-bit content: CTE 8bit and BODY=8BITMIME needed */
	f.in.original = eight;
	f.in.original_len = strlen(eight);
	build_ok(&f.in, &b, &m);
	assert_true(has_line(m.ph[2], "Content-Transfer-Encoding: 8bit"));
	assert_true(has_line(m.ph[0], "Content-Transfer-Encoding: 7bit"));
	assert_int_equal(dsn_requirements(&f.in), DSN_REQ_8BITMIME);
	msg_free(&m);
	/* 8-bit only in the body: headers alone are 7bit */
	f.in.original = body8;
	f.in.original_len = strlen(body8);
	f.in.ret = SMTP_RET_HDRS;
	build_ok(&f.in, &b, &m);
	assert_string_equal(m.body[2], "Subject: plain\r\n");
	assert_true(has_line(m.ph[2], "Content-Transfer-Encoding: 7bit"));
	assert_int_equal(dsn_requirements(&f.in), 0);
	msg_free(&m);
	f.in.ret = SMTP_RET_FULL;
	assert_int_equal(dsn_requirements(&f.in), DSN_REQ_8BITMIME);

	/* no original at all; headers only (no body) */
	f.in.original = NULL;
	f.in.original_len = 0;
	build_ok(&f.in, &b, &m);
	assert_string_equal(m.body[2], "");
	msg_free(&m);
	f.in.original = "Subject: x\r\nFrom: y";
	f.in.original_len = strlen(f.in.original);
	f.in.ret = SMTP_RET_HDRS;
	build_ok(&f.in, &b, &m);
	assert_string_equal(m.body[2], "Subject: x\r\nFrom: y\r\n");
	msg_free(&m);
	/* a message starting with the empty line has no headers */
	f.in.original = "\r\nbody\r\n";
	f.in.original_len = strlen(f.in.original);
	build_ok(&f.in, &b, &m);
	assert_string_equal(m.body[2], "");
	msg_free(&m);
	buf_free(&b);
}

static void
test_envid_orcpt_xtext(void **state)
{
	struct fx f;
	struct buf b = {0};
	struct msg m;
	char longid[SMTP_ENVID_MAX + 2], big[SMTP_ORCPT_MAX + 1];

	(void)state;
	fx_init(&f);
	f.env.envid = "a+b=c d\\";
	f.rcpt[0].orcpt = "rfc822;x+y=z \"q\"@example.net";
	build_ok(&f.in, &b, &m);
	assert_true(
	    has_line(m.body[1], "Original-Envelope-Id: a+2Bb+3Dc+20d\\"));
	assert_true(has_line(m.body[1],
	    "Original-Recipient: rfc822;x+2By+3Dz+20\"q\"@example.net"));
	msg_free(&m);

	/* other address types keep their type; no ';' or a bad type:
	 * "unknown" with the whole stored value */
	f.rcpt[0].orcpt = "x400;c=us;a=att";
	build_ok(&f.in, &b, &m);
	assert_true(
	    has_line(m.body[1], "Original-Recipient: x400;c+3Dus;a+3Datt"));
	msg_free(&m);
	f.rcpt[0].orcpt = "bob@example.net";
	build_ok(&f.in, &b, &m);
	assert_true(
	    has_line(m.body[1], "Original-Recipient: unknown;bob@example.net"));
	msg_free(&m);
	f.rcpt[0].orcpt = "rfc 822;b\x01";
	build_ok(&f.in, &b, &m);
	assert_true(
	    has_line(m.body[1], "Original-Recipient: unknown;rfc+20822;b+01"));
	msg_free(&m);
	/* UTF-8 in a decoded ORCPT is xtext-encoded: stays 7-bit */
	f.rcpt[0].orcpt = "rfc822;j\xc3\xb6rg@example.net";
	build_ok(&f.in, &b, &m);
	assert_true(has_line(
	    m.body[1], "Original-Recipient: rfc822;j+C3+B6rg@example.net"));
	assert_true(has_line(m.ph[1], "Content-Type: message/delivery-status"));
	msg_free(&m);
	/* empty: no field */
	f.rcpt[0].orcpt = "";
	build_ok(&f.in, &b, &m);
	assert_null(strstr(m.body[1], "Original-Recipient"));
	msg_free(&m);
	f.rcpt[0].orcpt = "rfc822;";
	build_ok(&f.in, &b, &m);
	assert_null(strstr(m.body[1], "Original-Recipient"));
	msg_free(&m);
	/* an xtext that cannot fit one line is left out, not cut */
	memcpy(big, "rfc822;", 7);
	memset(big + 7, '+', sizeof(big) - 8);
	big[sizeof(big) - 1] = '\0';
	f.rcpt[0].orcpt = big;
	build_ok(&f.in, &b, &m);
	assert_null(strstr(m.body[1], "Original-Recipient"));
	msg_free(&m);
	/* one that just fits is kept */
	big[7 + 300] = '\0';
	build_ok(&f.in, &b, &m);
	assert_non_null(strstr(m.body[1], "Original-Recipient: rfc822;+2B+2B"));
	msg_free(&m);

	/* an ENVID longer than the parser allows is left out */
	memset(longid, 'A', sizeof(longid) - 1);
	longid[sizeof(longid) - 1] = '\0';
	f.env.envid = longid;
	build_ok(&f.in, &b, &m);
	assert_null(strstr(m.body[1], "Original-Envelope-Id"));
	msg_free(&m);
	longid[SMTP_ENVID_MAX] = '\0';
	build_ok(&f.in, &b, &m);
	assert_non_null(strstr(m.body[1], "Original-Envelope-Id: AAAA"));
	msg_free(&m);
	f.env.envid = "";
	build_ok(&f.in, &b, &m);
	assert_null(strstr(m.body[1], "Original-Envelope-Id"));
	msg_free(&m);
	buf_free(&b);
}

static void
test_diagnostic_sanitised(void **state)
{
	struct fx f;
	struct buf b = {0};
	struct msg m;
	char *longd;
	const char *p;

	(void)state;
	fx_init(&f);
	f.dr[0].diagnostic = "  550-5.1.1 first\r\n550 5.1.1 second\n\tBcc: "
			     "x@evil.example\r\n\r\nInjected: \x01\x1b[31m\x7f"
			     "\xc3\xa9 end \r\n";
	f.dr[0].remote_mta = "mx.example.net\r\nX-Evil: 1";
	build_ok(&f.in, &b, &m);
	assert_true(has_line(m.body[1],
	    "Diagnostic-Code: smtp; 550-5.1.1 first 550 5.1.1 second Bcc: "
	    "x@evil.example"));
	assert_true(has_line(m.body[1], " Injected: ??[31m??? end"));
	assert_null(strstr(m.all, "\r\nBcc:"));
	assert_null(strstr(m.all, "\r\nInjected:"));
	assert_null(strstr(m.all, "X-Evil"));
	assert_null(strstr(m.body[1], "Remote-MTA"));
	assert_null(strstr(m.body[0], "Remote server"));
	assert_true(
	    has_line(m.body[0], "    Reply: 550-5.1.1 first 550 5.1.1 "
				"second Bcc: x@evil.example Injected:"));
	msg_free(&m);

	/* only blanks: no diagnostic at all */
	f.dr[0].diagnostic = " \r\n\t ";
	build_ok(&f.in, &b, &m);
	assert_null(strstr(m.body[1], "Diagnostic-Code"));
	msg_free(&m);

	/* long: cut at DSN_DIAG_MAX with "...", folded within 78 */
	longd = malloc(5001);
	assert_non_null(longd);
	for (size_t i = 0; i < 5000; i++)
		longd[i] = (i % 7 == 6) ? ' ' : (char)('a' + i % 7);
	longd[5000] = '\0';
	f.dr[0].diagnostic = longd;
	build_ok(&f.in, &b, &m);
	p = strstr(m.body[1], "Diagnostic-Code: smtp; ");
	assert_non_null(p);
	{
		size_t total = 0, lines = 0;
		const char *e = strstr(p, "\r\nLast-Attempt-Date");
		const char *q = p;

		assert_non_null(e);
		while (q < e) {
			const char *nl = strstr(q, "\r\n");

			assert_true(nl - q <= 78);
			total += (size_t)(nl - q);
			lines++;
			q = nl + 2;
			if (q < e)
				assert_true(*q == ' ');
		}
		assert_true(lines > 10);
		/* 23 octets of prefix; each fold removes nothing */
		assert_int_equal(total - 23, DSN_DIAG_MAX);
		assert_true(strncmp(e - 3, "...", 3) == 0);
	}
	free(longd);
	msg_free(&m);

	/* one long word (no space to fold at) stays on one line */
	longd = malloc(2001);
	assert_non_null(longd);
	memset(longd, 'x', 2000);
	longd[2000] = '\0';
	f.dr[0].diagnostic = longd;
	build_ok(&f.in, &b, &m);
	assert_true(check_lines(b.data, b.len) == 23 + DSN_DIAG_MAX);
	free(longd);
	msg_free(&m);
	buf_free(&b);
}

static void
test_boundary_collision(void **state)
{
	struct fx f;
	struct buf b = {0}, orig = {0};
	struct msg m;
	char first[80], second[80];

	(void)state;
	fx_init(&f);
	f.in.ret = SMTP_RET_FULL;
	build_ok(&f.in, &b, &m);
	strcpy(first, m.boundary);
	msg_free(&m);
	/* the same inputs give the same boundary */
	build_ok(&f.in, &b, &m);
	assert_string_equal(m.boundary, first);
	msg_free(&m);

	/* the original contains it (as a delimiter line): another one */
	assert_int_equal(
	    buf_printf(&orig, "%s\r\n--%s\r\nfake part\r\n--%s--\r\n", ORIGINAL,
		first, first),
	    0);
	f.in.original = orig.data;
	f.in.original_len = orig.len;
	build_ok(&f.in, &b, &m);
	assert_string_not_equal(m.boundary, first);
	assert_non_null(strstr(m.body[2], first)); /* content intact */
	strcpy(second, m.boundary);
	msg_free(&m);

	/* in a header only returned with FULL: HDRS keeps the first one */
	buf_reset(&orig);
	assert_int_equal(
	    buf_printf(&orig, "X-B: %s\r\n\r\n%s\r\n", second, first), 0);
	f.in.original = orig.data;
	f.in.original_len = orig.len;
	f.in.ret = SMTP_RET_HDRS;
	build_ok(&f.in, &b, &m);
	assert_string_equal(m.boundary, first);
	msg_free(&m);

	/* in a diagnostic (text and status parts) */
	f.dr[0].diagnostic = first;
	f.in.original = ORIGINAL;
	f.in.original_len = strlen(ORIGINAL);
	build_ok(&f.in, &b, &m);
	assert_string_not_equal(m.boundary, first);
	msg_free(&m);

	/* every 3-digit continuation of the prefix is taken: the next round
	 * of digits decides */
	buf_reset(&orig);
	assert_int_equal(buf_printf(&orig, "%s\r\n", first), 0);
	for (unsigned v = 0; v < 4096; v++)
		assert_int_equal(buf_printf(&orig, "=_rmx_dsn_%03X\r\n", v), 0);
	f.dr[0].diagnostic = NULL;
	f.in.original = orig.data;
	f.in.original_len = orig.len;
	f.in.ret = SMTP_RET_FULL;
	build_ok(&f.in, &b, &m); /* the boundary occurs only 5 times */
	assert_true(strncmp(m.boundary, "=_rmx_dsn_", 10) == 0);
	assert_int_equal(strlen(m.boundary), 26);
	/* the least used first digits (one use each: 000) were taken */
	assert_true(strncmp(m.boundary, first, 13) != 0);
	assert_true(strncmp(m.boundary, "=_rmx_dsn_000", 13) == 0);
	assert_true(strcmp(m.boundary + 13, first + 13) == 0);
	msg_free(&m);
	buf_free(&orig);
	buf_free(&b);
}

static void
test_line_ends_and_lengths(void **state)
{
	struct fx f;
	struct buf b = {0}, orig = {0};
	struct msg m;
	char *lng = malloc(5001);

	(void)state;
	assert_non_null(lng);
	memset(lng, 'h', 5000);
	lng[5000] = '\0';
	fx_init(&f);
	/* bare LF, bare CR, CR at the end, lines far over 998 */
	assert_int_equal(buf_printf(&orig,
			     "Subject: bare lf\nX-Long: %s\r\nX-Cr: a\rb\r\n"
			     "\r\nbody\n%s\r\nlast\r",
			     lng, lng),
	    0);
	f.in.original = orig.data;
	f.in.original_len = orig.len;
	f.in.ret = SMTP_RET_FULL;
	build_ok(&f.in, &b, &m); /* checks CRLF and 998 */
	assert_true(check_lines(b.data, b.len) == 998);
	assert_non_null(strstr(m.body[2], "Subject: bare lf\r\nX-Long: hhh"));
	assert_non_null(strstr(m.body[2], "X-Cr: a\r\nb\r\n\r\nbody\r\nhhh"));
	/* header lines broken as folded continuations, body lines not */
	assert_non_null(strstr(m.body[2], "hhh\r\n hhh"));
	assert_non_null(strstr(m.body[2], "\r\nlast\r\n"));
	msg_free(&m);
	f.in.ret = SMTP_RET_HDRS;
	build_ok(&f.in, &b, &m);
	assert_null(strstr(m.body[2], "body"));
	assert_true(strlen(m.body[2]) > 5000);
	msg_free(&m);

	/* our own header lines stay within 78 octets for normal names */
	fx_init(&f);
	build_ok(&f.in, &b, &m);
	for (const char *p = m.head; *p;) {
		const char *nl = strstr(p, "\r\n");

		assert_true(nl - p <= 78);
		p = nl + 2;
	}
	for (int i = 0; i < 3; i++)
		for (const char *p = m.ph[i]; *p;) {
			const char *nl = strstr(p, "\r\n");

			assert_true(nl - p <= 78);
			p = nl + 2;
		}
	msg_free(&m);
	free(lng);
	buf_free(&orig);
	buf_free(&b);
}

static void
test_long_header_values(void **state)
{
	struct fx f;
	struct buf b = {0};
	struct msg m;
	char host[250], sender[SMTP_PATH_MAX + 1], line[400];

	(void)state;
	fx_init(&f);
	/* short values stay on the field's line (see test_failed_...) and
	 * long ones move whole to a continuation line */
	memset(host, 'h', sizeof(host) - 1);
	host[sizeof(host) - 1] = '\0';
	for (size_t i = 60; i < sizeof(host) - 1; i += 61)
		host[i] = '.';
	memset(sender, 's', sizeof(sender) - 1);
	sender[sizeof(sender) - 1] = '\0';
	sender[200] = '@';
	f.in.reporting_host = host;
	f.env.sender = sender;
	build_ok(&f.in, &b, &m);
	snprintf(line, sizeof(line), " <MAILER-DAEMON@%s>", host);
	assert_true(has_line(m.head, "From: Mail Delivery System"));
	assert_true(has_line(m.head, line));
	snprintf(line, sizeof(line), " <%s>", sender);
	assert_true(has_line(m.head, "To:"));
	assert_true(has_line(m.head, line));
	snprintf(line, sizeof(line), " <0000012A05000007.1@%s>", host);
	assert_true(has_line(m.head, "Message-ID:"));
	assert_true(has_line(m.head, line));
	msg_free(&m);
	buf_free(&b);
}

static void
test_many_recipients(void **state)
{
	enum { N = 150 };
	struct qrcpt *r = calloc(N, sizeof(*r));
	struct dsn_rcpt *d = calloc(N, sizeof(*d));
	char(*addr)[40] = calloc(N, sizeof(*addr));
	struct fx f;
	struct buf b = {0};
	struct msg m;

	(void)state;
	assert_true(r && d && addr);
	fx_init(&f);
	for (unsigned i = 0; i < N; i++) {
		snprintf(addr[i], sizeof(addr[i]), "user%u@example.net", i);
		r[i].addr = addr[i];
		d[i].index = N - 1 - i;
		d[i].action = DSN_ACTION_FAILED;
		d[i].status = "5.2.2";
		d[i].diagnostic = "552 5.2.2 Mailbox full";
	}
	f.env.rcpts = r;
	f.env.nrcpt = N;
	f.in.rcpts = d;
	f.in.nrcpts = N;
	build_ok(&f.in, &b, &m);
	assert_int_equal(count_str(m.body[0], ": delivery failed (5.2.2)"),
	    DSN_TEXT_MAX_RCPT);
	assert_true(has_line(m.body[0],
	    "... and 50 more recipients, all listed in the delivery report."));
	assert_true(
	    has_line(m.body[0], "<user149@example.net>: delivery failed "
				"(5.2.2)"));
	assert_null(strstr(m.body[0], "<user49@example.net>"));
	assert_int_equal(
	    count_str(m.body[1], "Final-Recipient: rfc822; user"), N);
	assert_int_equal(count_str(m.body[1], "\r\n\r\n"), N);
	assert_true(
	    has_line(m.body[1], "Final-Recipient: rfc822; user0@example.net"));
	msg_free(&m);

	/* exactly one more than shown: singular */
	f.in.nrcpts = DSN_TEXT_MAX_RCPT + 1;
	build_ok(&f.in, &b, &m);
	assert_true(has_line(m.body[0],
	    "... and 1 more recipient, all listed in the delivery report."));
	msg_free(&m);
	free(r);
	free(d);
	free(addr);
	buf_free(&b);
}

static void
test_global(void **state)
{
	struct fx f;
	struct buf b = {0};
	struct msg m;
	const char *orig = "Subject: =?utf-8?q?x?=\r\nFrom: j\xc3\xb6rg@"
			   "b\xc3\xbc"
			   "cher.example\r\n\r\nHall\xc3\xb6\r\n";

	(void)state;
	fx_init(&f);
	f.env.smtputf8 = 1;
	f.env.sender = "j\xc3\xb6rg@b\xc3\xbc"
		       "cher.example";
	f.rcpt[0].addr = "\xe7\x94\xb0\xe4\xb8\xad@example.jp";
	f.in.original = orig;
	f.in.original_len = strlen(orig);
	build_ok(&f.in, &b, &m);
	assert_true(has_line(m.head, "To: <j\xc3\xb6rg@b\xc3\xbc"
				     "cher.example>"));
	assert_true(
	    has_line(m.ph[0], "Content-Type: text/plain; charset=utf-8"));
	assert_true(has_line(m.ph[0], "Content-Transfer-Encoding: 8bit"));
	assert_true(
	    has_line(m.ph[1], "Content-Type: message/global-delivery-status"));
	assert_true(has_line(m.ph[1], "Content-Transfer-Encoding: 8bit"));
	assert_true(has_line(m.ph[2], "Content-Type: message/global-headers"));
	assert_true(has_line(m.body[1],
	    "Final-Recipient: utf-8; \xe7\x94\xb0\xe4\xb8\xad@example.jp"));
	assert_true(has_line(m.body[0],
	    "<\xe7\x94\xb0\xe4\xb8\xad@example.jp>: delivery failed (5.1.1)"));
	assert_int_equal(
	    dsn_requirements(&f.in), DSN_REQ_8BITMIME | DSN_REQ_SMTPUTF8);
	msg_free(&m);
	f.in.ret = SMTP_RET_FULL;
	build_ok(&f.in, &b, &m);
	assert_true(has_line(m.ph[2], "Content-Type: message/global"));
	assert_string_equal(m.body[2], orig);
	msg_free(&m);

	/* four-octet sequences */
	f.rcpt[0].addr = "\xf0\x9f\x93\xab@example.net";
	build_ok(&f.in, &b, &m);
	assert_true(has_line(
	    m.body[1], "Final-Recipient: utf-8; \xf0\x9f\x93\xab@example.net"));
	msg_free(&m);

	/* SMTPUTF8 alone (ASCII addresses) is global too; an ASCII
	 * recipient stays rfc822 */
	fx_init(&f);
	f.env.smtputf8 = 1;
	build_ok(&f.in, &b, &m);
	assert_true(
	    has_line(m.ph[1], "Content-Type: message/global-delivery-status"));
	assert_true(
	    has_line(m.body[1], "Final-Recipient: rfc822; bob@example.net"));
	msg_free(&m);
	/* a UTF-8 recipient without SMTPUTF8 (not reported): not global */
	fx_init(&f);
	f.rcpt[1].addr = "\xc3\xa9@example.net";
	build_ok(&f.in, &b, &m);
	assert_true(has_line(m.ph[1], "Content-Type: message/delivery-status"));
	msg_free(&m);
	/* ... reported: global */
	f.dr[0].index = 1;
	build_ok(&f.in, &b, &m);
	assert_true(
	    has_line(m.ph[1], "Content-Type: message/global-delivery-status"));
	msg_free(&m);
	buf_free(&b);
}

static void
test_dates(void **state)
{
	static const struct {
		int64_t t;
		const char *s;
	} cases[] = {
	    {0, "Thu, 01 Jan 1970 00:00:00 +0000"},
	    {951782400, "Tue, 29 Feb 2000 00:00:00 +0000"},
	    {1709208000, "Thu, 29 Feb 2024 12:00:00 +0000"},
	    {4102444799, "Thu, 31 Dec 2099 23:59:59 +0000"},
	    {4107542399, "Sun, 28 Feb 2100 23:59:59 +0000"}, /* no leap day */
	    {4107542400, "Mon, 01 Mar 2100 00:00:00 +0000"},
	    {DSN_TIME_MAX, "Fri, 31 Dec 9999 23:59:59 +0000"},
	};
	struct fx f;
	struct buf b = {0};
	struct msg m;
	char line[80];

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		fx_init(&f);
		f.in.now = cases[i].t;
		f.in.arrival = 0; /* the envelope's */
		f.env.received = cases[i].t;
		build_ok(&f.in, &b, &m);
		snprintf(line, sizeof(line), "Date: %s", cases[i].s);
		assert_true(has_line(m.head, line));
		snprintf(line, sizeof(line), "Arrival-Date: %s", cases[i].s);
		assert_true(has_line(m.body[1], line));
		msg_free(&m);
	}
	buf_free(&b);
}

static void
test_bad_input(void **state)
{
	struct fx f;
	struct buf b = {0};
	struct dsn_rcpt two[2];

	(void)state;
	assert_int_equal(buf_append_str(&b, "kept"), 0);
#define BAD(stmt)                                             \
	do {                                                  \
		fx_init(&f);                                  \
		stmt;                                         \
		assert_int_equal(dsn_build(&f.in, &b), -1);   \
		assert_int_equal(b.len, 4);                   \
		assert_memory_equal(b.data, "kept", 4);       \
		assert_int_equal(dsn_requirements(&f.in), 0); \
	} while (0)
	BAD(f.env.sender = ""); /* never bounce a bounce */
	BAD(f.env.sender = NULL);
	BAD(f.env.sender = "a\r\nb@example.com");
	BAD(f.env.sender = "\xc3(@example.com"); /* not UTF-8 */
	BAD(f.rcpt[0].addr = "\xf8\x88\x80\x80\x80@example.net");
	BAD(f.rcpt[0].addr = "\xed\xa0\x80@example.net"); /* surrogate */
	BAD(f.rcpt[0].addr = "\xc0\xaf@example.net");     /* overlong */
	BAD(f.rcpt[0].addr = "");
	BAD(f.rcpt[0].addr = "bob@example.net\n");
	BAD(f.in.env = NULL);
	BAD(f.in.reporting_host = NULL);
	BAD(f.in.reporting_host = "");
	BAD(f.in.reporting_host = "mx example");
	BAD(f.in.reporting_host = "mx.example\r\nX: y");
	BAD(f.in.token = NULL);
	BAD(f.in.token = "");
	BAD(f.in.token = "a b");
	BAD(f.in.token = "a>b");
	BAD(f.in.token = ".a");
	BAD(f.in.token = "a..b");
	BAD(f.in.nrcpts = 0);
	BAD(f.in.rcpts = NULL);
	BAD(f.in.nrcpts = 4);
	BAD(f.dr[0].index = 3);
	BAD(f.dr[0].action = (enum dsn_action)9);
	BAD(f.dr[0].status = "4.1.1"); /* class does not fit failed */
	BAD(f.dr[0].status = "5.1");
	BAD(f.dr[0].status = "5.1.1 ");
	BAD(f.dr[0].status = "5.1000.1");
	BAD(f.dr[0].status = "3.1.1");
	BAD(f.dr[0].status = "");
	BAD(f.dr[0].last_attempt = -1);
	BAD(f.dr[0].will_retry_until = DSN_TIME_MAX + 1);
	BAD(f.in.now = -5);
	BAD(f.in.arrival = DSN_TIME_MAX + 1);
	BAD(f.in.ret = (enum smtp_ret)7);
	BAD(f.in.original = NULL);
	BAD(f.env.rcpts = NULL);
	BAD(f.env.nrcpt = 0);
	/* the same recipient twice */
	BAD((two[0] = f.dr[0], two[1] = f.dr[0], f.in.rcpts = two,
	    f.in.nrcpts = 2));
#undef BAD
	assert_int_equal(dsn_build(NULL, &b), -1);
	assert_int_equal(dsn_requirements(NULL), 0);

	/* good input appends after what is there */
	fx_init(&f);
	assert_int_equal(dsn_build(&f.in, &b), 0);
	assert_memory_equal(b.data, "kept", 4);
	assert_true(memcmp(b.data + 4, "From: ", 6) == 0);
	buf_free(&b);

	/* the status may have 3-digit parts; a trailing dot on the host is
	 * dropped */
	fx_init(&f);
	f.dr[0].status = "5.123.999";
	f.in.reporting_host = "mx.ringmx.example.";
	assert_int_equal(dsn_build(&f.in, &b), 0);
	buf_free(&b);
}

/* An allocation failure part-way leaves the buffer as it was: here the
 * buffer cannot grow at all (its length is at the top of size_t). */
static void
test_alloc_failure(void **state)
{
	struct fx f;
	struct buf b = {NULL, SIZE_MAX - 8, SIZE_MAX - 8};

	(void)state;
	fx_init(&f);
	assert_int_equal(dsn_build(&f.in, &b), -1);
	assert_true(b.len == SIZE_MAX - 8 && b.cap == SIZE_MAX - 8);
	assert_null(b.data);
}

static void
test_notify_table(void **state)
{
	static const struct {
		uint8_t notify;
		bool want[5]; /* failed delayed delivered relayed expanded */
	} t[] = {
	    {0, {true, true, false, false, false}},
	    {SMTP_NOTIFY_NEVER, {false, false, false, false, false}},
	    {SMTP_NOTIFY_SUCCESS, {false, false, true, true, true}},
	    {SMTP_NOTIFY_FAILURE, {true, false, false, false, false}},
	    {SMTP_NOTIFY_DELAY, {false, true, false, false, false}},
	    {SMTP_NOTIFY_FAILURE | SMTP_NOTIFY_DELAY,
		{true, true, false, false, false}},
	    {SMTP_NOTIFY_SUCCESS | SMTP_NOTIFY_FAILURE,
		{true, false, true, true, true}},
	    {SMTP_NOTIFY_SUCCESS | SMTP_NOTIFY_FAILURE | SMTP_NOTIFY_DELAY,
		{true, true, true, true, true}},
	    /* invalid combination: NEVER wins */
	    {SMTP_NOTIFY_NEVER | SMTP_NOTIFY_FAILURE,
		{false, false, false, false, false}},
	};
	struct qrcpt r;

	(void)state;
	memset(&r, 0, sizeof(r));
	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		r.notify = t[i].notify;
		for (int a = 0; a < 5; a++)
			assert_int_equal(
			    dsn_wanted(&r, (enum dsn_action)a), t[i].want[a]);
		assert_false(dsn_wanted(&r, (enum dsn_action)5));
		assert_false(dsn_wanted(&r, (enum dsn_action) - 1));
	}
	assert_false(dsn_wanted(NULL, DSN_ACTION_FAILED));
}

/* main - run the DSN tests */
int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_failed_every_field),
	    cmocka_unit_test(test_delayed),
	    cmocka_unit_test(test_delivered_relayed_expanded),
	    cmocka_unit_test(test_ret_hdrs_full),
	    cmocka_unit_test(test_envid_orcpt_xtext),
	    cmocka_unit_test(test_diagnostic_sanitised),
	    cmocka_unit_test(test_boundary_collision),
	    cmocka_unit_test(test_line_ends_and_lengths),
	    cmocka_unit_test(test_long_header_values),
	    cmocka_unit_test(test_many_recipients),
	    cmocka_unit_test(test_global),
	    cmocka_unit_test(test_dates),
	    cmocka_unit_test(test_bad_input),
	    cmocka_unit_test(test_alloc_failure),
	    cmocka_unit_test(test_notify_table),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
