/*
 * test_smtp_client.c - the outbound SMTP/LMTP engine (core/smtp_client.c)
 * against scripted peers: replies are fed as bytes, the exact bytes the
 * client wrote are checked, then events, states and per-recipient
 * results. No sockets. Reply framing itself is tested in
 * test_smtp_reply_parse.c.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "smtp_client.h"
#include "smtp_parse.h"

#define HELO "client.example"

#define EHLO_FULL                                                       \
	"250-mx.example Hello\r\n250-SIZE 100000\r\n250-PIPELINING\r\n" \
	"250-8BITMIME\r\n250-SMTPUTF8\r\n250-DSN\r\n"                   \
	"250-ENHANCEDSTATUSCODES\r\n250 CHUNKING\r\n"
#define EHLO_PLAIN "250-mx.example\r\n250 8BITMIME\r\n"

struct fx {
	struct smtp_client c;
	struct qenvelope env;
	struct qrcpt rcpts[6];
	uint32_t idx[6];
	struct smtp_client_msg msg;
};

static const char *const addrs[6] = {"r0@y.example", "r1@y.example",
    "r2@y.example", "r3@y.example", "r4@y.example", "r5@y.example"};

static struct fx *
fx_new(enum smtp_client_mode mode, bool want_tls)
{
	struct fx *f = calloc(1, sizeof(*f));
	struct smtp_client_cfg cfg = {
	    .mode = mode, .helo_name = HELO, .want_tls = want_tls};

	assert_non_null(f);
	assert_int_equal(smtp_client_init(&f->c, &cfg), 0);
	f->env.sender = (char *)"s@x.example";
	f->env.nrcpt = 6;
	f->env.rcpts = f->rcpts;
	for (int i = 0; i < 6; i++) {
		f->rcpts[i].addr = (char *)addrs[i];
		f->idx[i] = (uint32_t)i;
	}
	f->msg.env = &f->env;
	f->msg.rcpts = f->idx;
	f->msg.nrcpt = 1;
	f->msg.body = (const uint8_t *)"Subject: t\r\n\r\nhello\r\n";
	f->msg.body_len = strlen((const char *)f->msg.body);
	return f;
}

static void
fx_free(struct fx *f)
{
	smtp_client_free(&f->c);
	free(f);
}

static void
feed(struct fx *f, const char *s)
{
	smtp_client_input(&f->c, (const uint8_t *)s, strlen(s));
}

/* The client wrote exactly `want` (then "sent": out emptied, pumped). */
static void
expect_out_(struct fx *f, const char *want, int line)
{
	char *got = strndup((const char *)f->c.out.data, f->c.out.len);

	if (f->c.out.len != strlen(want) ||
	    memcmp(f->c.out.data, want, strlen(want)) != 0)
		fail_msg(
		    "line %d: wrote \"%s\", expected \"%s\"", line, got, want);
	free(got);
	buf_reset(&f->c.out);
	smtp_client_pump(&f->c);
}
#define expect_out(f, w) expect_out_((f), (w), __LINE__)

/* Everything the client writes until the body is out (sent + pumped). */
static void
drain(struct fx *f, struct buf *all)
{
	while (f->c.out.len > 0) {
		assert_int_equal(
		    buf_append(all, f->c.out.data, f->c.out.len), 0);
		buf_reset(&f->c.out);
		smtp_client_pump(&f->c);
	}
}

static void
expect_events(struct fx *f, unsigned want)
{
	assert_int_equal(smtp_client_events(&f->c), want);
}

/* Greeting and EHLO with the given reply: ends idle. */
static void
session(struct fx *f, const char *ehlo_reply)
{
	assert_int_equal(f->c.state, SC_S_GREETING);
	assert_int_equal(smtp_client_timeout_secs(&f->c), 300);
	feed(f, "220 mx.example ESMTP\r\n");
	expect_out(f, f->c.mode == SMTP_CLIENT_LMTP ? "LHLO " HELO "\r\n"
						    : "EHLO " HELO "\r\n");
	assert_int_equal(f->c.state, SC_S_EHLO);
	expect_events(f, 0);
	feed(f, ehlo_reply);
	assert_int_equal(f->c.state, SC_S_IDLE);
	expect_events(f, SC_EV_READY);
	assert_int_equal(smtp_client_timeout_secs(&f->c), 0);
}

static const struct smtp_client_status *
res(struct fx *f, size_t i)
{
	size_t n;
	const struct smtp_client_result *r = smtp_client_results(&f->c, &n);

	assert_true(i < n);
	return &r[i].st;
}

static void
assert_status(const struct smtp_client_status *st, enum smtp_client_outcome o,
    int code, const char *enh, const char *text)
{
	assert_int_equal(st->outcome, o);
	assert_int_equal(st->code, code);
	assert_string_equal(st->enh, enh);
	if (text != NULL)
		assert_string_equal(st->text, text);
}

static void
test_plain_transaction(void **state)
{
	struct fx *f = fx_new(SMTP_CLIENT_SMTP, false);
	size_t n;

	(void)state;
	session(f, EHLO_PLAIN);
	assert_true(f->c.esmtp);
	assert_int_equal(f->c.caps, SC_CAP_8BITMIME);
	f->msg.nrcpt = 2;
	assert_int_equal(smtp_client_start_message(&f->c, &f->msg), 0);
	/* no PIPELINING: one command at a time */
	expect_out(f, "MAIL FROM:<s@x.example>\r\n");
	assert_int_equal(smtp_client_timeout_secs(&f->c), 300);
	assert_string_equal(smtp_client_state_name(&f->c), "MAIL");
	feed(f, "250 2.1.0 Ok\r\n");
	expect_out(f, "RCPT TO:<r0@y.example>\r\n");
	assert_string_equal(smtp_client_state_name(&f->c), "RCPT");
	feed(f, "250 2.1.5 Ok\r\n");
	expect_out(f, "RCPT TO:<r1@y.example>\r\n");
	feed(f, "250 2.1.5 Ok\r\n");
	expect_out(f, "DATA\r\n");
	assert_int_equal(smtp_client_timeout_secs(&f->c), 120);
	expect_events(f, 0);
	feed(f, "354 End data with <CR><LF>.<CR><LF>\r\n");
	assert_int_equal(f->c.state, SC_S_DOT);
	expect_out(f, "Subject: t\r\n\r\nhello\r\n.\r\n");
	assert_int_equal(smtp_client_timeout_secs(&f->c), 600);
	feed(f, "250 2.0.0 Ok: queued as ABC\r\n");
	expect_events(f, SC_EV_MESSAGE_DONE | SC_EV_READY);
	assert_int_equal(f->c.state, SC_S_IDLE);
	smtp_client_results(&f->c, &n);
	assert_int_equal(n, 2);
	assert_status(res(f, 0), SC_OK, 250, "2.0.0", "Ok: queued as ABC");
	assert_false(res(f, 0)->local);
	assert_status(res(f, 1), SC_OK, 250, "2.0.0", "Ok: queued as ABC");

	assert_int_equal(smtp_client_quit(&f->c), 0);
	expect_out(f, "QUIT\r\n");
	feed(f, "221 2.0.0 Bye\r\n");
	expect_events(f, SC_EV_CLOSED);
	assert_int_equal(f->c.state, SC_S_CLOSED);
	assert_status(&f->c.closed, SC_OK, 221, "2.0.0", "Bye");
	fx_free(f);
}

static void
test_pipelined_transaction(void **state)
{
	struct fx *f = fx_new(SMTP_CLIENT_SMTP, false);

	(void)state;
	session(f, EHLO_FULL);
	assert_int_equal(
	    f->c.caps, SC_CAP_SIZE | SC_CAP_PIPELINING | SC_CAP_8BITMIME |
			   SC_CAP_SMTPUTF8 | SC_CAP_DSN |
			   SC_CAP_ENHANCEDSTATUSCODES | SC_CAP_CHUNKING);
	assert_int_equal(f->c.size_limit, 100000);
	f->msg.nrcpt = 3;
	assert_int_equal(smtp_client_start_message(&f->c, &f->msg), 0);
	/* RFC 2920: MAIL, every RCPT and DATA in one write */
	expect_out(f, "MAIL FROM:<s@x.example> SIZE=21\r\n"
		      "RCPT TO:<r0@y.example>\r\n"
		      "RCPT TO:<r1@y.example>\r\n"
		      "RCPT TO:<r2@y.example>\r\n"
		      "DATA\r\n");
	/* replies one by one: nothing more is written until 354 */
	feed(f, "250 2.1.0 Ok\r\n250 2.1.5 Ok\r\n");
	assert_int_equal(f->c.out.len, 0);
	feed(f, "550 5.1.1 <r1@y.example>: no such user\r\n250 2.1.5 Ok\r\n");
	assert_int_equal(f->c.out.len, 0);
	assert_int_equal(smtp_client_timeout_secs(&f->c), 120);
	feed(f, "354 go ahead\r\n");
	expect_out(f, "Subject: t\r\n\r\nhello\r\n.\r\n");
	feed(f, "250 2.0.0 queued\r\n");
	expect_events(f, SC_EV_MESSAGE_DONE | SC_EV_READY);
	assert_status(res(f, 0), SC_OK, 250, "2.0.0", "queued");
	assert_status(
	    res(f, 1), SC_PERM, 550, "5.1.1", "<r1@y.example>: no such user");
	assert_status(res(f, 2), SC_OK, 250, "2.0.0", "queued");
	fx_free(f);
}

/* All the replies of a pipelined group arrive in one read. */
static void
test_pipelined_one_read(void **state)
{
	struct fx *f = fx_new(SMTP_CLIENT_SMTP, false);

	(void)state;
	session(f, "250-mx\r\n250 PIPELINING\r\n");
	f->msg.nrcpt = 2;
	assert_int_equal(smtp_client_start_message(&f->c, &f->msg), 0);
	expect_out(f, "MAIL FROM:<s@x.example>\r\nRCPT TO:<r0@y.example>\r\n"
		      "RCPT TO:<r1@y.example>\r\nDATA\r\n");
	feed(f, "250 ok\r\n250 ok\r\n452 4.5.3 too many recipients\r\n"
		"354 go\r\n");
	expect_out(f, "Subject: t\r\n\r\nhello\r\n.\r\n");
	feed(f, "250 ok\r\n");
	expect_events(f, SC_EV_MESSAGE_DONE | SC_EV_READY);
	assert_status(res(f, 0), SC_OK, 250, "", "ok");
	assert_status(res(f, 1), SC_TEMP, 452, "4.5.3", "too many recipients");
	fx_free(f);
}

static void
test_helo_fallback(void **state)
{
	struct fx *f = fx_new(SMTP_CLIENT_SMTP, false);

	(void)state;
	feed(f, "220 old.example SMTP\r\n");
	expect_out(f, "EHLO " HELO "\r\n");
	feed(f, "502 5.5.2 Command not recognized\r\n");
	expect_out(f, "HELO " HELO "\r\n");
	assert_int_equal(f->c.state, SC_S_HELO);
	expect_events(f, 0);
	feed(f, "250 old.example\r\n");
	expect_events(f, SC_EV_READY);
	assert_false(f->c.esmtp);
	assert_int_equal(f->c.caps, 0);
	/* plain MAIL: no SIZE, no parameters at all */
	assert_int_equal(smtp_client_start_message(&f->c, &f->msg), 0);
	expect_out(f, "MAIL FROM:<s@x.example>\r\n");
	fx_free(f);

	/* HELO refused too: the host refuses us */
	f = fx_new(SMTP_CLIENT_SMTP, false);
	feed(f, "220 old.example SMTP\r\n");
	expect_out(f, "EHLO " HELO "\r\n");
	feed(f, "500 what\r\n");
	expect_out(f, "HELO " HELO "\r\n");
	feed(f, "550 go away\r\n");
	expect_out(f, "QUIT\r\n");
	expect_events(f, 0);
	feed(f, "221 bye\r\n");
	expect_events(f, SC_EV_CLOSED);
	assert_status(&f->c.closed, SC_PERM, 550, "", "go away");
	fx_free(f);

	/* 4xx to EHLO: temporary, no fallback */
	f = fx_new(SMTP_CLIENT_SMTP, false);
	feed(f, "220 x\r\n");
	expect_out(f, "EHLO " HELO "\r\n");
	feed(f, "454 4.7.0 later\r\n");
	expect_out(f, "QUIT\r\n");
	smtp_client_eof(&f->c);
	expect_events(f, SC_EV_CLOSED);
	assert_status(&f->c.closed, SC_TEMP, 454, "4.7.0", "later");
	fx_free(f);
}

static void
test_capabilities(void **state)
{
	struct fx *f = fx_new(SMTP_CLIENT_SMTP, false);

	(void)state;
	/* keywords are case-insensitive; unknown ones ignored; the first
	 * line is the greeting even when it looks like a keyword */
	session(f, "250-PIPELINING\r\n250-size\r\n250-Dsn\r\n250-AUTH PLAIN\r\n"
		   "250-8bitmime\r\n250-X-UNKNOWN 1\r\n250-STARTTLSX\r\n"
		   "250 enhancedstatuscodes\r\n");
	assert_int_equal(f->c.caps, SC_CAP_SIZE | SC_CAP_DSN | SC_CAP_8BITMIME |
					SC_CAP_ENHANCEDSTATUSCODES);
	assert_int_equal(f->c.size_limit, 0); /* SIZE without a number */
	fx_free(f);

	f = fx_new(SMTP_CLIENT_SMTP, false);
	session(f, "250-mx\r\n250-SIZE 0\r\n250 STARTTLS\r\n");
	assert_int_equal(f->c.caps, SC_CAP_SIZE | SC_CAP_STARTTLS);
	assert_int_equal(f->c.size_limit, 0);
	fx_free(f);

	f = fx_new(SMTP_CLIENT_SMTP, false);
	session(f, "250-mx\r\n250 SIZE 99999999999999999999999\r\n");
	assert_int_equal(f->c.size_limit, 0); /* absurd: no limit */
	fx_free(f);

	/* a single-line EHLO reply: no extensions */
	f = fx_new(SMTP_CLIENT_SMTP, false);
	session(f, "250 mx.example\r\n");
	assert_int_equal(f->c.caps, 0);
	assert_true(f->c.esmtp);
	fx_free(f);
}

static void
test_size_precheck(void **state)
{
	struct fx *f = fx_new(SMTP_CLIENT_SMTP, false);

	(void)state;
	session(f, "250-mx\r\n250 SIZE 10\r\n");
	f->msg.nrcpt = 2;
	assert_int_equal(smtp_client_start_message(&f->c, &f->msg), 0);
	assert_int_equal(f->c.out.len, 0); /* nothing sent */
	expect_events(f, SC_EV_MESSAGE_DONE | SC_EV_READY);
	assert_int_equal(f->c.state, SC_S_IDLE);
	for (size_t i = 0; i < 2; i++) {
		assert_status(res(f, i), SC_PERM, 552, "5.3.4",
		    "message too big for the remote server");
		assert_true(res(f, i)->local);
	}
	/* a message that fits goes out with SIZE= */
	f->msg.body = (const uint8_t *)"0123456789";
	f->msg.body_len = 10;
	assert_int_equal(smtp_client_start_message(&f->c, &f->msg), 0);
	expect_out(f, "MAIL FROM:<s@x.example> SIZE=10\r\n");
	fx_free(f);
}

static void
test_smtputf8_8bitmime_prechecks(void **state)
{
	struct fx *f = fx_new(SMTP_CLIENT_SMTP, false);

	(void)state;
	session(f, EHLO_PLAIN); /* 8BITMIME, no SMTPUTF8 */
	f->env.smtputf8 = 1;
	assert_int_equal(smtp_client_start_message(&f->c, &f->msg), 0);
	assert_int_equal(f->c.out.len, 0);
	expect_events(f, SC_EV_MESSAGE_DONE | SC_EV_READY);
	assert_status(res(f, 0), SC_PERM, 553, "5.6.7", NULL);
	assert_true(res(f, 0)->local);

	/* a UTF-8 address needs SMTPUTF8 even without the flag */
	f->env.smtputf8 = 0;
	f->rcpts[1].addr = (char *)"j\xc3\xb6rg@y.example";
	f->idx[0] = 1;
	assert_int_equal(smtp_client_start_message(&f->c, &f->msg), 0);
	expect_events(f, SC_EV_MESSAGE_DONE | SC_EV_READY);
	assert_status(res(f, 0), SC_PERM, 553, "5.6.7", NULL);
	assert_int_equal(smtp_client_results(&f->c, &(size_t){0})[0].rcpt, 1);
	fx_free(f);

	/* 8-bit body to a peer without 8BITMIME: no downgrade */
	f = fx_new(SMTP_CLIENT_SMTP, false);
	session(f, "250-mx\r\n250 SMTPUTF8\r\n");
	f->env.body = SMTP_BODY_8BITMIME;
	assert_int_equal(smtp_client_start_message(&f->c, &f->msg), 0);
	assert_int_equal(f->c.out.len, 0);
	expect_events(f, SC_EV_MESSAGE_DONE | SC_EV_READY);
	assert_status(res(f, 0), SC_PERM, 554, "5.6.3", NULL);
	fx_free(f);

	/* both offered: BODY=8BITMIME and SMTPUTF8 on MAIL */
	f = fx_new(SMTP_CLIENT_SMTP, false);
	session(f, "250-mx\r\n250-SMTPUTF8\r\n250 8BITMIME\r\n");
	f->env.body = SMTP_BODY_8BITMIME;
	f->env.smtputf8 = 1;
	f->env.sender = (char *)"s\xc3\xa9@x.example";
	assert_int_equal(smtp_client_start_message(&f->c, &f->msg), 0);
	expect_out(
	    f, "MAIL FROM:<s\xc3\xa9@x.example> BODY=8BITMIME SMTPUTF8\r\n");
	fx_free(f);
}

static void
test_dsn_parameters(void **state)
{
	struct fx *f = fx_new(SMTP_CLIENT_SMTP, false);

	(void)state;
	f->env.ret = SMTP_RET_HDRS;
	f->env.envid = (char *)"id+1=2 x";
	f->rcpts[0].notify = SMTP_NOTIFY_SUCCESS | SMTP_NOTIFY_FAILURE;
	f->rcpts[0].orcpt = (char *)"rfc822;a+b@c.example";
	f->rcpts[1].notify = SMTP_NOTIFY_NEVER;
	f->rcpts[2].notify = SMTP_NOTIFY_DELAY | SMTP_NOTIFY_FAILURE;
	f->rcpts[2].orcpt = (char *)"no-semicolon";
	f->rcpts[3].notify =
	    SMTP_NOTIFY_SUCCESS | SMTP_NOTIFY_DELAY | SMTP_NOTIFY_FAILURE;
	f->rcpts[3].orcpt = (char *)"bad type;x@y";
	f->msg.nrcpt = 4;

	/* offered: passed on, xtext-encoded */
	session(f, "250-mx\r\n250-DSN\r\n250 PIPELINING\r\n");
	assert_int_equal(smtp_client_start_message(&f->c, &f->msg), 0);
	expect_out(f,
	    "MAIL FROM:<s@x.example> RET=HDRS ENVID=id+2B1+3D2+20x\r\n"
	    "RCPT TO:<r0@y.example> NOTIFY=SUCCESS,FAILURE "
	    "ORCPT=rfc822;a+2Bb@c.example\r\n"
	    "RCPT TO:<r1@y.example> NOTIFY=NEVER\r\n"
	    "RCPT TO:<r2@y.example> NOTIFY=FAILURE,DELAY\r\n"
	    "RCPT TO:<r3@y.example> NOTIFY=SUCCESS,FAILURE,DELAY\r\n"
	    "DATA\r\n");
	fx_free(f);

	/* not offered: nothing of it */
	f = fx_new(SMTP_CLIENT_SMTP, false);
	f->env.ret = SMTP_RET_FULL;
	f->env.envid = (char *)"abc";
	f->rcpts[0].notify = SMTP_NOTIFY_SUCCESS;
	f->rcpts[0].orcpt = (char *)"rfc822;r0@y.example";
	session(f, "250-mx\r\n250 PIPELINING\r\n");
	assert_int_equal(smtp_client_start_message(&f->c, &f->msg), 0);
	expect_out(f, "MAIL FROM:<s@x.example>\r\nRCPT TO:<r0@y.example>\r\n"
		      "DATA\r\n");
	fx_free(f);

	/* RET=FULL, null sender */
	f = fx_new(SMTP_CLIENT_SMTP, false);
	f->env.ret = SMTP_RET_FULL;
	f->env.sender = (char *)"";
	session(f, "250-mx\r\n250 DSN\r\n");
	assert_int_equal(smtp_client_start_message(&f->c, &f->msg), 0);
	expect_out(f, "MAIL FROM:<> RET=FULL\r\n");
	fx_free(f);
}

static void
test_mixed_results(void **state)
{
	struct fx *f = fx_new(SMTP_CLIENT_SMTP, false);

	(void)state;
	session(f, EHLO_PLAIN);
	f->msg.nrcpt = 3;
	f->idx[0] = 4; /* any subset, in any order */
	f->idx[1] = 0;
	f->idx[2] = 2;
	assert_int_equal(smtp_client_start_message(&f->c, &f->msg), 0);
	expect_out(f, "MAIL FROM:<s@x.example>\r\n");
	feed(f, "250 ok\r\n");
	expect_out(f, "RCPT TO:<r4@y.example>\r\n");
	feed(f, "550-5.1.1 no such\r\n550 5.1.1 user here\r\n");
	expect_out(f, "RCPT TO:<r0@y.example>\r\n");
	feed(f, "451 4.7.1 greylisted\r\n");
	expect_out(f, "RCPT TO:<r2@y.example>\r\n");
	feed(f, "251 2.1.5 will forward\r\n");
	expect_out(f, "DATA\r\n");
	feed(f, "354 go\r\n");
	expect_out(f, "Subject: t\r\n\r\nhello\r\n.\r\n");
	feed(f, "250 2.0.0 done\r\n");
	expect_events(f, SC_EV_MESSAGE_DONE | SC_EV_READY);
	{
		size_t n;
		const struct smtp_client_result *r =
		    smtp_client_results(&f->c, &n);

		assert_int_equal(n, 3);
		assert_int_equal(r[0].rcpt, 4);
		assert_int_equal(r[1].rcpt, 0);
		assert_int_equal(r[2].rcpt, 2);
	}
	assert_status(res(f, 0), SC_PERM, 550, "5.1.1", "no such user here");
	assert_status(res(f, 1), SC_TEMP, 451, "4.7.1", "greylisted");
	assert_status(res(f, 2), SC_OK, 250, "2.0.0", "done");
	fx_free(f);
}

static void
test_all_refused_no_data(void **state)
{
	struct fx *f = fx_new(SMTP_CLIENT_SMTP, false);

	(void)state;
	session(f, EHLO_PLAIN);
	f->msg.nrcpt = 2;
	assert_int_equal(smtp_client_start_message(&f->c, &f->msg), 0);
	expect_out(f, "MAIL FROM:<s@x.example>\r\n");
	feed(f, "250 ok\r\n");
	expect_out(f, "RCPT TO:<r0@y.example>\r\n");
	feed(f, "550 5.1.1 no\r\n");
	expect_out(f, "RCPT TO:<r1@y.example>\r\n");
	feed(f, "450 4.2.0 busy\r\n");
	/* no DATA: RSET instead */
	expect_out(f, "RSET\r\n");
	assert_int_equal(f->c.state, SC_S_RSET);
	expect_events(f, 0);
	feed(f, "250 2.0.0 ok\r\n");
	expect_events(f, SC_EV_MESSAGE_DONE | SC_EV_READY);
	assert_status(res(f, 0), SC_PERM, 550, "5.1.1", "no");
	assert_status(res(f, 1), SC_TEMP, 450, "4.2.0", "busy");
	/* the transaction was reset: the next message starts with MAIL */
	assert_int_equal(smtp_client_start_message(&f->c, &f->msg), 0);
	expect_out(f, "MAIL FROM:<s@x.example>\r\n");
	fx_free(f);
}

static void
test_all_refused_pipelined(void **state)
{
	struct fx *f = fx_new(SMTP_CLIENT_SMTP, false);

	(void)state;
	session(f, "250-mx\r\n250 PIPELINING\r\n");
	f->msg.nrcpt = 2;
	assert_int_equal(smtp_client_start_message(&f->c, &f->msg), 0);
	expect_out(f, "MAIL FROM:<s@x.example>\r\nRCPT TO:<r0@y.example>\r\n"
		      "RCPT TO:<r1@y.example>\r\nDATA\r\n");
	feed(f, "250 ok\r\n550 5.1.1 a\r\n550 5.1.1 b\r\n"
		"554 5.5.1 no valid recipients\r\n");
	expect_events(f, SC_EV_MESSAGE_DONE | SC_EV_READY);
	assert_int_equal(f->c.out.len, 0);
	assert_status(res(f, 0), SC_PERM, 550, "5.1.1", "a");
	assert_status(res(f, 1), SC_PERM, 550, "5.1.1", "b");
	/* DATA was refused: RSET goes first in the next group */
	assert_int_equal(smtp_client_start_message(&f->c, &f->msg), 0);
	expect_out(f,
	    "RSET\r\nMAIL FROM:<s@x.example>\r\nRCPT TO:<r0@y.example>\r\n"
	    "RCPT TO:<r1@y.example>\r\nDATA\r\n");
	assert_string_equal(smtp_client_state_name(&f->c), "RSET");
	feed(f, "250 reset\r\n250 ok\r\n250 ok\r\n250 ok\r\n354 go\r\n");
	expect_out(f, "Subject: t\r\n\r\nhello\r\n.\r\n");
	feed(f, "250 ok\r\n");
	expect_events(f, SC_EV_MESSAGE_DONE | SC_EV_READY);
	assert_status(res(f, 1), SC_OK, 250, "", "ok");
	fx_free(f);

	/* a broken peer answers 354 with no recipient: end it with "." */
	f = fx_new(SMTP_CLIENT_SMTP, false);
	session(f, "250-mx\r\n250 PIPELINING\r\n");
	assert_int_equal(smtp_client_start_message(&f->c, &f->msg), 0);
	expect_out(f, "MAIL FROM:<s@x.example>\r\nRCPT TO:<r0@y.example>\r\n"
		      "DATA\r\n");
	feed(f, "250 ok\r\n550 no\r\n354 go\r\n");
	expect_out(f, ".\r\n");
	expect_events(f, 0);
	feed(f, "554 nothing\r\n");
	expect_events(f, SC_EV_MESSAGE_DONE | SC_EV_READY);
	assert_status(res(f, 0), SC_PERM, 550, "", "no");
	fx_free(f);
}

static void
test_mail_refused(void **state)
{
	struct fx *f = fx_new(SMTP_CLIENT_SMTP, false);

	(void)state;
	session(f, EHLO_PLAIN);
	f->msg.nrcpt = 3;
	assert_int_equal(smtp_client_start_message(&f->c, &f->msg), 0);
	expect_out(f, "MAIL FROM:<s@x.example>\r\n");
	feed(f, "553 5.1.8 sender domain does not exist\r\n");
	expect_events(f, SC_EV_MESSAGE_DONE | SC_EV_READY);
	assert_int_equal(f->c.out.len, 0);
	for (size_t i = 0; i < 3; i++)
		assert_status(res(f, i), SC_PERM, 553, "5.1.8",
		    "sender domain does not exist");
	/* no transaction was opened: no RSET next time */
	assert_int_equal(smtp_client_start_message(&f->c, &f->msg), 0);
	expect_out(f, "MAIL FROM:<s@x.example>\r\n");
	fx_free(f);

	/* pipelined: RCPT and DATA answered 503, MAIL's reply counts */
	f = fx_new(SMTP_CLIENT_SMTP, false);
	session(f, "250-mx\r\n250 PIPELINING\r\n");
	f->msg.nrcpt = 2;
	assert_int_equal(smtp_client_start_message(&f->c, &f->msg), 0);
	expect_out(f, "MAIL FROM:<s@x.example>\r\nRCPT TO:<r0@y.example>\r\n"
		      "RCPT TO:<r1@y.example>\r\nDATA\r\n");
	feed(f, "451 4.3.0 try later\r\n503 5.5.1 need MAIL\r\n");
	expect_events(f, 0);
	feed(f, "503 5.5.1 need MAIL\r\n503 5.5.1 need RCPT\r\n");
	expect_events(f, SC_EV_MESSAGE_DONE | SC_EV_READY);
	assert_status(res(f, 0), SC_TEMP, 451, "4.3.0", "try later");
	assert_status(res(f, 1), SC_TEMP, 451, "4.3.0", "try later");
	fx_free(f);
}

/* Send body through a fresh pipelined session; returns what was sent
 * between 354 and the reply (body + final dot). */
static char *
send_body(const uint8_t *body, size_t len, size_t *outlen)
{
	struct fx *f = fx_new(SMTP_CLIENT_SMTP, false);
	struct buf all = {0};
	char *r;

	session(f, "250-mx\r\n250 PIPELINING\r\n");
	f->msg.body = body;
	f->msg.body_len = len;
	assert_int_equal(smtp_client_start_message(&f->c, &f->msg), 0);
	buf_reset(&f->c.out);
	feed(f, "250 ok\r\n250 ok\r\n354 go\r\n");
	assert_int_equal(smtp_client_timeout_secs(&f->c),
	    f->c.state == SC_S_BODY ? 180 : 600);
	drain(f, &all);
	assert_int_equal(f->c.state, SC_S_DOT);
	feed(f, "250 ok\r\n");
	expect_events(f, SC_EV_MESSAGE_DONE | SC_EV_READY);
	assert_status(res(f, 0), SC_OK, 250, "", "ok");
	fx_free(f);
	r = malloc(all.len + 1);
	memcpy(r, all.data, all.len);
	r[all.len] = '\0';
	*outlen = all.len;
	buf_free(&all);
	return r;
}

static void
check_body(const char *in, const char *want)
{
	size_t n;
	char *got = send_body((const uint8_t *)in, strlen(in), &n);

	assert_int_equal(n, strlen(want));
	assert_memory_equal(got, want, n);
	free(got);
}

static void
test_dot_stuffing(void **state)
{
	(void)state;
	check_body("a\r\n.b\r\n..c\r\n.\r\nd\r\n",
	    "a\r\n..b\r\n...c\r\n..\r\nd\r\n.\r\n");
	check_body(".first\r\n", "..first\r\n.\r\n");
	check_body("x.y\r\n .z\r\n", "x.y\r\n .z\r\n.\r\n");
	check_body("", ".\r\n");
	check_body(".", "..\r\n.\r\n");
	check_body("\r\n", "\r\n.\r\n");
}

static void
test_bare_cr_lf(void **state)
{
	(void)state;
	/* bare LF and bare CR become CRLF; a dot after them is stuffed */
	check_body("a\nb\rc\r\n", "a\r\nb\r\nc\r\n.\r\n");
	check_body("a\n.b\r.c\r\n", "a\r\n..b\r\n..c\r\n.\r\n");
	check_body("a\r\r\nb\n\n", "a\r\n\r\nb\r\n\r\n.\r\n");
	check_body("a\n\rb", "a\r\n\r\nb\r\n.\r\n");
	check_body("end\r", "end\r\n.\r\n");
	check_body("\r", "\r\n.\r\n");
	check_body("\n.\n", "\r\n..\r\n.\r\n");
}

static void
test_body_without_final_crlf(void **state)
{
	(void)state;
	check_body("Subject: x\r\n\r\nno newline", "Subject: x\r\n\r\nno "
						   "newline\r\n.\r\n");
	check_body("a\r\n.", "a\r\n..\r\n.\r\n");
}

/* A body longer than a block: CRLF split over the block boundary, a dot
 * at the start of the second block, and bounded output per pump. */
static void
test_large_body_blocks(void **state)
{
	size_t len = 3 * SC_BODY_BLOCK + 100, n;
	uint8_t *body = malloc(len);
	struct buf want = {0};
	char *got;

	(void)state;
	memset(body, 'x', len);
	body[SC_BODY_BLOCK - 1] = '\r';
	body[SC_BODY_BLOCK] = '\n';
	body[SC_BODY_BLOCK + 1] = '.';
	body[2 * SC_BODY_BLOCK - 1] = '\r'; /* bare CR at the boundary */
	body[2 * SC_BODY_BLOCK] = '.';
	body[2 * SC_BODY_BLOCK + 1] = '\n';
	body[len - 1] = '\n';
	for (size_t i = 0; i < len; i++) {
		if (i == SC_BODY_BLOCK + 1 || i == 2 * SC_BODY_BLOCK)
			buf_append(&want, ".", 1);
		if (i == 2 * SC_BODY_BLOCK - 1 || i == 2 * SC_BODY_BLOCK + 1 ||
		    i == len - 1) {
			buf_append(&want, "\r\n", 2);
			continue;
		}
		buf_append(&want, body + i, 1);
	}
	buf_append(&want, ".\r\n", 3);
	got = send_body(body, len, &n);
	assert_int_equal(n, want.len);
	assert_memory_equal(got, want.data, n);
	free(got);

	/* out never holds much more than a block at a time */
	{
		struct fx *f = fx_new(SMTP_CLIENT_SMTP, false);

		session(f, "250-mx\r\n250 PIPELINING\r\n");
		f->msg.body = body;
		f->msg.body_len = len;
		assert_int_equal(smtp_client_start_message(&f->c, &f->msg), 0);
		buf_reset(&f->c.out);
		feed(f, "250 ok\r\n250 ok\r\n354 go\r\n");
		assert_int_equal(f->c.state, SC_S_BODY);
		assert_string_equal(
		    smtp_client_state_name(&f->c), "message body");
		while (f->c.out.len > 0) {
			size_t had = f->c.out.len;

			assert_true(had <= 2 * SC_BODY_BLOCK + 8);
			/* pumping with out still full adds nothing */
			smtp_client_pump(&f->c);
			assert_int_equal(f->c.out.len, had);
			buf_reset(&f->c.out);
			smtp_client_pump(&f->c);
		}
		assert_int_equal(f->c.state, SC_S_DOT);
		/* the connection breaks: temporary */
		smtp_client_eof(&f->c);
		expect_events(f, SC_EV_MESSAGE_DONE | SC_EV_CLOSED);
		assert_status(res(f, 0), SC_TEMP, 451, "4.4.2", NULL);
		assert_true(res(f, 0)->local);
		fx_free(f);
	}
	buf_free(&want);
	free(body);
}

static void
test_lmtp(void **state)
{
	struct fx *f = fx_new(SMTP_CLIENT_LMTP, false);

	(void)state;
	session(f, "250-lmtp.example\r\n250-PIPELINING\r\n250 "
		   "ENHANCEDSTATUSCODES\r\n");
	f->msg.nrcpt = 4;
	assert_int_equal(smtp_client_start_message(&f->c, &f->msg), 0);
	expect_out(f, "MAIL FROM:<s@x.example>\r\nRCPT TO:<r0@y.example>\r\n"
		      "RCPT TO:<r1@y.example>\r\nRCPT TO:<r2@y.example>\r\n"
		      "RCPT TO:<r3@y.example>\r\nDATA\r\n");
	feed(f, "250 2.1.0 ok\r\n250 2.1.5 ok\r\n550 5.1.1 unknown\r\n"
		"250 2.1.5 ok\r\n250 2.1.5 ok\r\n354 go\r\n");
	expect_out(f, "Subject: t\r\n\r\nhello\r\n.\r\n");
	assert_string_equal(smtp_client_state_name(&f->c), "end of data");
	/* one reply per accepted recipient, in RCPT order: r0, r2, r3 */
	feed(f, "250 2.0.0 <r0> saved\r\n");
	expect_events(f, 0);
	feed(f, "452 4.2.2 <r2> over quota\r\n552-5.2.2 <r3>\r\n");
	expect_events(f, 0);
	feed(f, "552 5.2.2 mailbox full\r\n");
	expect_events(f, SC_EV_MESSAGE_DONE | SC_EV_READY);
	assert_status(res(f, 0), SC_OK, 250, "2.0.0", "<r0> saved");
	assert_status(res(f, 1), SC_PERM, 550, "5.1.1", "unknown");
	assert_status(res(f, 2), SC_TEMP, 452, "4.2.2", "<r2> over quota");
	assert_status(res(f, 3), SC_PERM, 552, "5.2.2", "<r3> mailbox full");
	fx_free(f);

	/* no HELO fallback in LMTP */
	f = fx_new(SMTP_CLIENT_LMTP, false);
	feed(f, "220 lmtp\r\n");
	expect_out(f, "LHLO " HELO "\r\n");
	assert_string_equal(smtp_client_state_name(&f->c), "LHLO");
	feed(f, "500 5.5.1 what\r\n");
	expect_out(f, "QUIT\r\n");
	feed(f, "221 bye\r\n");
	expect_events(f, SC_EV_CLOSED);
	assert_status(&f->c.closed, SC_PERM, 500, "5.5.1", "what");
	fx_free(f);

	/* without PIPELINING, and 421 in the middle of the dot replies */
	f = fx_new(SMTP_CLIENT_LMTP, false);
	session(f, "250 lmtp\r\n");
	f->msg.nrcpt = 3;
	assert_int_equal(smtp_client_start_message(&f->c, &f->msg), 0);
	expect_out(f, "MAIL FROM:<s@x.example>\r\n");
	feed(f, "250 ok\r\n");
	expect_out(f, "RCPT TO:<r0@y.example>\r\n");
	feed(f, "250 ok\r\n");
	expect_out(f, "RCPT TO:<r1@y.example>\r\n");
	feed(f, "250 ok\r\n");
	expect_out(f, "RCPT TO:<r2@y.example>\r\n");
	feed(f, "250 ok\r\n");
	expect_out(f, "DATA\r\n");
	feed(f, "354 go\r\n");
	expect_out(f, "Subject: t\r\n\r\nhello\r\n.\r\n");
	feed(f, "250 2.0.0 r0 ok\r\n421 4.3.2 shutting down\r\n");
	expect_events(f, SC_EV_MESSAGE_DONE | SC_EV_CLOSED);
	assert_status(res(f, 0), SC_OK, 250, "2.0.0", "r0 ok");
	assert_status(res(f, 1), SC_TEMP, 421, "4.3.2", "shutting down");
	assert_status(res(f, 2), SC_TEMP, 421, "4.3.2", "shutting down");
	assert_status(&f->c.closed, SC_TEMP, 421, "4.3.2", "shutting down");
	fx_free(f);
}

static void
test_421_mid_transaction(void **state)
{
	struct fx *f = fx_new(SMTP_CLIENT_SMTP, false);

	(void)state;
	session(f, EHLO_PLAIN);
	f->msg.nrcpt = 3;
	assert_int_equal(smtp_client_start_message(&f->c, &f->msg), 0);
	expect_out(f, "MAIL FROM:<s@x.example>\r\n");
	feed(f, "250 ok\r\n");
	expect_out(f, "RCPT TO:<r0@y.example>\r\n");
	feed(f, "550 5.1.1 unknown\r\n");
	expect_out(f, "RCPT TO:<r1@y.example>\r\n");
	feed(f, "250 ok\r\n");
	expect_out(f, "RCPT TO:<r2@y.example>\r\n");
	feed(f, "421 4.4.2 mx.example timeout\r\n250 ignored\r\n");
	expect_events(f, SC_EV_MESSAGE_DONE | SC_EV_CLOSED);
	assert_int_equal(f->c.state, SC_S_CLOSED);
	assert_int_equal(f->c.out.len, 0); /* no QUIT after 421 */
	assert_status(res(f, 0), SC_PERM, 550, "5.1.1", "unknown");
	assert_status(res(f, 1), SC_TEMP, 421, "4.4.2", "mx.example timeout");
	assert_status(res(f, 2), SC_TEMP, 421, "4.4.2", "mx.example timeout");
	assert_status(&f->c.closed, SC_TEMP, 421, "4.4.2", NULL);
	assert_int_equal(smtp_client_timeout_secs(&f->c), 0);
	/* the engine is dead: nothing more */
	assert_int_equal(smtp_client_start_message(&f->c, &f->msg), -1);
	assert_int_equal(smtp_client_quit(&f->c), -1);
	feed(f, "250 ok\r\n");
	smtp_client_eof(&f->c);
	smtp_client_timeout(&f->c);
	expect_events(f, 0);
	fx_free(f);

	/* 421 as the reply to the final dot */
	f = fx_new(SMTP_CLIENT_SMTP, false);
	session(f, "250-mx\r\n250 PIPELINING\r\n");
	assert_int_equal(smtp_client_start_message(&f->c, &f->msg), 0);
	buf_reset(&f->c.out);
	feed(f, "250 ok\r\n250 ok\r\n354 go\r\n");
	buf_reset(&f->c.out);
	feed(f, "421 4.3.0 bye\r\n");
	expect_events(f, SC_EV_MESSAGE_DONE | SC_EV_CLOSED);
	assert_status(res(f, 0), SC_TEMP, 421, "4.3.0", "bye");
	fx_free(f);

	/* 421 while idle (server timeout) */
	f = fx_new(SMTP_CLIENT_SMTP, false);
	session(f, EHLO_PLAIN);
	feed(f, "421 4.4.2 idle too long\r\n");
	expect_events(f, SC_EV_CLOSED);
	assert_status(&f->c.closed, SC_TEMP, 421, "4.4.2", "idle too long");
	fx_free(f);
}

static void
test_starttls(void **state)
{
	struct fx *f = fx_new(SMTP_CLIENT_SMTP, true);

	(void)state;
	feed(f, "220 mx ESMTP\r\n");
	expect_out(f, "EHLO " HELO "\r\n");
	feed(f, "250-mx\r\n250-SIZE 1000\r\n250-PIPELINING\r\n"
		"250 STARTTLS\r\n");
	expect_out(f, "STARTTLS\r\n");
	assert_int_equal(f->c.state, SC_S_STARTTLS);
	expect_events(f, 0);
	/* 220 followed by injected plaintext in the same read */
	feed(f, "220 2.0.0 go ahead\r\n250-mx\r\n250 evil\r\n");
	expect_events(f, SC_EV_TLS);
	assert_int_equal(f->c.state, SC_S_TLS);
	assert_string_equal(smtp_client_state_name(&f->c), "TLS handshake");
	assert_int_equal(smtp_client_timeout_secs(&f->c), 300);
	assert_int_equal(f->c.out.len, 0);
	/* and more before the handshake: discarded as well */
	feed(f, "250 2.0.0 more evil\r\n354 x");
	expect_events(f, 0);
	assert_int_equal(f->c.state, SC_S_TLS);
	assert_int_equal(smtp_client_start_message(&f->c, &f->msg), -1);
	assert_int_equal(smtp_client_tls_done(&f->c), 0);
	assert_true(f->c.tls);
	/* capabilities forgotten, EHLO again */
	assert_int_equal(f->c.caps, 0);
	assert_int_equal(f->c.size_limit, 0);
	expect_out(f, "EHLO " HELO "\r\n");
	assert_int_equal(smtp_client_tls_done(&f->c), -1);
	feed(f, "250-mx\r\n250-8BITMIME\r\n250 STARTTLS\r\n");
	/* STARTTLS is not sent twice */
	expect_events(f, SC_EV_READY);
	assert_int_equal(f->c.out.len, 0);
	assert_int_equal(f->c.caps, SC_CAP_8BITMIME | SC_CAP_STARTTLS);
	assert_int_equal(smtp_client_start_message(&f->c, &f->msg), 0);
	expect_out(f, "MAIL FROM:<s@x.example>\r\n");
	fx_free(f);

	/* STARTTLS refused: go on in plaintext */
	f = fx_new(SMTP_CLIENT_SMTP, true);
	feed(f, "220 mx\r\n");
	expect_out(f, "EHLO " HELO "\r\n");
	feed(f, "250-mx\r\n250 STARTTLS\r\n");
	expect_out(f, "STARTTLS\r\n");
	feed(f, "454 4.7.0 TLS not available\r\n");
	expect_events(f, SC_EV_READY);
	assert_false(f->c.tls);
	assert_int_equal(f->c.state, SC_S_IDLE);
	fx_free(f);

	/* not offered, or not wanted: no STARTTLS */
	f = fx_new(SMTP_CLIENT_SMTP, true);
	session(f, EHLO_PLAIN);
	fx_free(f);
	f = fx_new(SMTP_CLIENT_SMTP, false);
	session(f, "250-mx\r\n250 STARTTLS\r\n");
	fx_free(f);
}

static void
test_reuse(void **state)
{
	struct fx *f = fx_new(SMTP_CLIENT_SMTP, false);

	(void)state;
	session(f, "250-mx\r\n250 PIPELINING\r\n");
	/* first message ends cleanly */
	assert_int_equal(smtp_client_start_message(&f->c, &f->msg), 0);
	expect_out(f, "MAIL FROM:<s@x.example>\r\nRCPT TO:<r0@y.example>\r\n"
		      "DATA\r\n");
	feed(f, "250 ok\r\n250 ok\r\n354 go\r\n");
	expect_out(f, "Subject: t\r\n\r\nhello\r\n.\r\n");
	feed(f, "550 5.7.1 spam\r\n");
	expect_events(f, SC_EV_MESSAGE_DONE | SC_EV_READY);
	assert_status(res(f, 0), SC_PERM, 550, "5.7.1", "spam");
	/* second: no RSET (the dot's reply ended the transaction) */
	f->idx[0] = 3;
	f->msg.body = (const uint8_t *)"B\r\n";
	f->msg.body_len = 3;
	assert_int_equal(smtp_client_start_message(&f->c, &f->msg), 0);
	expect_out(f, "MAIL FROM:<s@x.example>\r\nRCPT TO:<r3@y.example>\r\n"
		      "DATA\r\n");
	feed(f, "250 ok\r\n250 ok\r\n451 4.3.0 DATA not now\r\n");
	expect_events(f, SC_EV_MESSAGE_DONE | SC_EV_READY);
	assert_status(res(f, 0), SC_TEMP, 451, "4.3.0", "DATA not now");
	assert_int_equal(smtp_client_results(&f->c, &(size_t){0})[0].rcpt, 3);
	/* third: DATA was refused, so RSET first */
	assert_int_equal(smtp_client_start_message(&f->c, &f->msg), 0);
	expect_out(f,
	    "RSET\r\nMAIL FROM:<s@x.example>\r\nRCPT TO:<r3@y.example>\r\n"
	    "DATA\r\n");
	feed(f, "250 ok\r\n250 ok\r\n250 ok\r\n354 go\r\n");
	expect_out(f, "B\r\n.\r\n");
	feed(f, "250 ok\r\n");
	expect_events(f, SC_EV_MESSAGE_DONE | SC_EV_READY);
	assert_status(res(f, 0), SC_OK, 250, "", "ok");
	assert_int_equal(smtp_client_quit(&f->c), 0);
	expect_out(f, "QUIT\r\n");
	/* the peer closes without 221: still a clean end */
	smtp_client_eof(&f->c);
	expect_events(f, SC_EV_CLOSED);
	assert_int_equal(f->c.closed.outcome, SC_OK);
	fx_free(f);

	/* without PIPELINING, RSET waits for its reply before MAIL */
	f = fx_new(SMTP_CLIENT_SMTP, false);
	session(f, EHLO_PLAIN);
	assert_int_equal(smtp_client_start_message(&f->c, &f->msg), 0);
	expect_out(f, "MAIL FROM:<s@x.example>\r\n");
	feed(f, "250 ok\r\n");
	expect_out(f, "RCPT TO:<r0@y.example>\r\n");
	feed(f, "250 ok\r\n");
	expect_out(f, "DATA\r\n");
	feed(f, "554 5.7.1 no\r\n");
	expect_events(f, SC_EV_MESSAGE_DONE | SC_EV_READY);
	assert_int_equal(smtp_client_start_message(&f->c, &f->msg), 0);
	expect_out(f, "RSET\r\n");
	feed(f, "250 ok\r\n");
	expect_out(f, "MAIL FROM:<s@x.example>\r\n");
	/* RSET refused later would be fatal: checked in protocol errors */
	fx_free(f);
}

static void
test_quit(void **state)
{
	struct fx *f = fx_new(SMTP_CLIENT_SMTP, false);

	(void)state;
	assert_int_equal(smtp_client_quit(&f->c), -1); /* not idle */
	session(f, EHLO_PLAIN);
	assert_int_equal(smtp_client_quit(&f->c), 0);
	expect_out(f, "QUIT\r\n");
	assert_int_equal(f->c.state, SC_S_QUIT);
	assert_int_equal(smtp_client_timeout_secs(&f->c), 300);
	assert_int_equal(smtp_client_quit(&f->c), -1);
	/* no reply in time: closed anyway, cleanly */
	smtp_client_timeout(&f->c);
	expect_events(f, SC_EV_CLOSED);
	assert_int_equal(f->c.closed.outcome, SC_OK);
	fx_free(f);
}

static void
test_5xx_greeting(void **state)
{
	struct fx *f = fx_new(SMTP_CLIENT_SMTP, false);

	(void)state;
	feed(f, "554-5.7.1 mx.example: no SMTP service here\r\n"
		"554 5.7.1 go away\r\n");
	/* RFC 5321 3.1: QUIT and wait for the reply */
	expect_out(f, "QUIT\r\n");
	assert_int_equal(f->c.state, SC_S_QUIT);
	expect_events(f, 0);
	feed(f, "221 2.0.0 bye\r\n");
	expect_events(f, SC_EV_CLOSED);
	assert_status(&f->c.closed, SC_PERM, 554, "5.7.1",
	    "mx.example: no SMTP service here go away");
	assert_false(f->c.closed.local);
	fx_free(f);

	/* 4xx greeting: temporary */
	f = fx_new(SMTP_CLIENT_SMTP, false);
	feed(f, "450 busy\r\n");
	expect_out(f, "QUIT\r\n");
	feed(f, "250 whatever\r\n");
	expect_events(f, SC_EV_CLOSED);
	assert_status(&f->c.closed, SC_TEMP, 450, "", "busy");
	fx_free(f);

	/* 421 greeting: closed at once */
	f = fx_new(SMTP_CLIENT_SMTP, false);
	feed(f, "421 4.3.2 too many connections\r\n");
	assert_int_equal(f->c.out.len, 0);
	expect_events(f, SC_EV_CLOSED);
	assert_status(&f->c.closed, SC_TEMP, 421, "4.3.2", NULL);
	fx_free(f);

	/* not a greeting at all */
	f = fx_new(SMTP_CLIENT_SMTP, false);
	feed(f, "250 hello?\r\n");
	expect_events(f, SC_EV_CLOSED);
	assert_status(&f->c.closed, SC_TEMP, 451, "4.5.0", NULL);
	assert_true(f->c.closed.local);
	assert_non_null(strstr(f->c.closed.text, "greeting"));
	fx_free(f);
}

/* A complete session fed one byte at a time gives the same writes. */
static void
test_split_every_byte(void **state)
{
	const char *script[] = {
	    "220-mx.example ESMTP\r\n220-more\r\n220 text\r\n",
	    "250-mx.example\r\n250-PIPELINING\r\n250-SIZE 5000\r\n"
	    "250-DSN\r\n250 8BITMIME\r\n",
	    "250-2.1.0 sender\r\n250 2.1.0 ok\r\n250 2.1.5 ok\r\n"
	    "550-5.1.1 no\r\n550 5.1.1 such\r\n354 go\r\n",
	    "250-2.0.0 queued\r\n250 2.0.0 as X\r\n",
	    "221-2.0.0 bye\r\n221 2.0.0 bye\r\n",
	};
	const char *writes[] = {
	    "EHLO " HELO "\r\n",
	    "",
	    "MAIL FROM:<s@x.example> SIZE=21\r\nRCPT TO:<r0@y.example>\r\n"
	    "RCPT TO:<r1@y.example>\r\nDATA\r\n",
	    "Subject: t\r\n\r\nhello\r\n.\r\n",
	    "QUIT\r\n",
	    "",
	};

	(void)state;
	for (int mode = 0; mode < 2; mode++) {
		struct fx *f = fx_new(SMTP_CLIENT_SMTP, false);

		f->msg.nrcpt = 2;
		for (size_t s = 0; s < sizeof(script) / sizeof(script[0]);
		     s++) {
			const char *p = script[s];
			size_t len = strlen(p);

			if (s == 2) {
				assert_int_equal(
				    smtp_client_start_message(&f->c, &f->msg),
				    0);
				expect_out_(f, writes[s], __LINE__);
			} else if (s == 4) {
				assert_int_equal(smtp_client_quit(&f->c), 0);
				expect_out_(f, writes[s], __LINE__);
			}
			for (size_t i = 0; i < len; i++) {
				if (mode == 0) { /* one byte per input */
					smtp_client_input(
					    &f->c, (const uint8_t *)p + i, 1);
				} else { /* two pieces cut at i */
					smtp_client_input(
					    &f->c, (const uint8_t *)p, i);
					smtp_client_input(&f->c,
					    (const uint8_t *)p + i, len - i);
					break;
				}
				if (i + 1 < len)
					assert_int_equal(f->c.out.len, 0);
			}
			if (s == 0)
				expect_out_(f, writes[0], __LINE__);
			else if (s == 2)
				expect_out_(f, writes[3], __LINE__);
		}
		expect_events(
		    f, SC_EV_READY | SC_EV_MESSAGE_DONE | SC_EV_CLOSED);
		assert_status(res(f, 0), SC_OK, 250, "2.0.0", "queued as X");
		assert_status(res(f, 1), SC_PERM, 550, "5.1.1", "no such");
		assert_status(&f->c.closed, SC_OK, 221, "2.0.0", "bye bye");
		fx_free(f);
	}
}

static void
test_reply_limits(void **state)
{
	struct fx *f = fx_new(SMTP_CLIENT_SMTP, false);
	char *s = malloc(8192);
	size_t o = 0;

	(void)state;
	/* an overlong line in the middle of a transaction */
	session(f, EHLO_PLAIN);
	assert_int_equal(smtp_client_start_message(&f->c, &f->msg), 0);
	expect_out(f, "MAIL FROM:<s@x.example>\r\n");
	memset(s, 'x', 8192);
	memcpy(s, "250 ", 4);
	memcpy(s + 3000, "\r\n", 3);
	feed(f, s);
	expect_events(f, SC_EV_MESSAGE_DONE | SC_EV_CLOSED);
	assert_status(res(f, 0), SC_TEMP, 451, "4.5.0", NULL);
	assert_non_null(strstr(res(f, 0)->text, "reply line too long"));
	assert_true(res(f, 0)->local);
	assert_int_equal(f->c.closed.outcome, SC_TEMP);
	fx_free(f);

	/* too many lines in the EHLO reply */
	f = fx_new(SMTP_CLIENT_SMTP, false);
	feed(f, "220 mx\r\n");
	expect_out(f, "EHLO " HELO "\r\n");
	for (int i = 0; i < 150; i++)
		o += (size_t)sprintf(s + o, "250-X%d\r\n", i);
	sprintf(s + o, "250 end\r\n");
	feed(f, s);
	expect_events(f, SC_EV_CLOSED);
	assert_status(&f->c.closed, SC_TEMP, 451, "4.5.0", NULL);
	assert_non_null(strstr(f->c.closed.text, "too many reply lines"));
	fx_free(f);

	/* configured limits */
	{
		struct smtp_client_cfg cfg = {.mode = SMTP_CLIENT_SMTP,
		    .helo_name = HELO,
		    .reply_line_max = 32,
		    .reply_lines_max = 2};
		struct smtp_client c;

		assert_int_equal(smtp_client_init(&c, &cfg), 0);
		smtp_client_input(
		    &c, (const uint8_t *)"220-a\r\n220-b\r\n", 14);
		assert_int_equal(c.state, SC_S_GREETING);
		smtp_client_input(&c, (const uint8_t *)"220 c\r\n", 7);
		assert_int_equal(smtp_client_events(&c), SC_EV_CLOSED);
		smtp_client_free(&c);
	}
	free(s);
}

static void
test_protocol_errors(void **state)
{
	struct fx *f = fx_new(SMTP_CLIENT_SMTP, false);

	(void)state;
	/* a reply that fits no command */
	session(f, EHLO_PLAIN);
	assert_int_equal(smtp_client_start_message(&f->c, &f->msg), 0);
	expect_out(f, "MAIL FROM:<s@x.example>\r\n");
	feed(f, "354 what\r\n");
	expect_events(f, SC_EV_MESSAGE_DONE | SC_EV_CLOSED);
	assert_status(res(f, 0), SC_TEMP, 451, "4.5.0",
	    "protocol error: unexpected reply to MAIL: 354 what");
	fx_free(f);

	/* unsolicited reply while idle */
	f = fx_new(SMTP_CLIENT_SMTP, false);
	session(f, EHLO_PLAIN);
	feed(f, "250 surprise\r\n");
	expect_events(f, SC_EV_CLOSED);
	assert_int_equal(f->c.closed.outcome, SC_TEMP);
	fx_free(f);

	/* garbage instead of a reply */
	f = fx_new(SMTP_CLIENT_SMTP, false);
	session(f, EHLO_PLAIN);
	assert_int_equal(smtp_client_start_message(&f->c, &f->msg), 0);
	expect_out(f, "MAIL FROM:<s@x.example>\r\n");
	feed(f, "HTTP/1.1 400 Bad Request\r\n");
	expect_events(f, SC_EV_MESSAGE_DONE | SC_EV_CLOSED);
	assert_status(res(f, 0), SC_TEMP, 451, "4.5.0", NULL);
	fx_free(f);

	/* a reply while the body is still being sent */
	f = fx_new(SMTP_CLIENT_SMTP, false);
	session(f, "250-mx\r\n250 PIPELINING\r\n");
	{
		size_t len = 4 * SC_BODY_BLOCK;
		uint8_t *body = malloc(len);

		memset(body, 'a', len);
		f->msg.body = body;
		f->msg.body_len = len;
		assert_int_equal(smtp_client_start_message(&f->c, &f->msg), 0);
		buf_reset(&f->c.out);
		feed(f, "250 ok\r\n250 ok\r\n354 go\r\n");
		assert_int_equal(f->c.state, SC_S_BODY);
		feed(f, "554 5.7.1 too slow\r\n");
		expect_events(f, SC_EV_MESSAGE_DONE | SC_EV_CLOSED);
		assert_status(res(f, 0), SC_TEMP, 451, "4.5.0", NULL);
		/* the caller may still pump: nothing happens */
		smtp_client_pump(&f->c);
		free(body);
	}
	fx_free(f);

	/* RSET refused */
	f = fx_new(SMTP_CLIENT_SMTP, false);
	session(f, EHLO_PLAIN);
	f->msg.nrcpt = 1;
	assert_int_equal(smtp_client_start_message(&f->c, &f->msg), 0);
	expect_out(f, "MAIL FROM:<s@x.example>\r\n");
	feed(f, "250 ok\r\n");
	expect_out(f, "RCPT TO:<r0@y.example>\r\n");
	feed(f, "550 no\r\n");
	expect_out(f, "RSET\r\n");
	feed(f, "500 RSET? never heard of it\r\n");
	expect_events(f, SC_EV_MESSAGE_DONE | SC_EV_CLOSED);
	assert_status(res(f, 0), SC_PERM, 550, "", "no"); /* kept */
	fx_free(f);

	/* 354 to DATA in LMTP with no recipient: cannot be ended */
	f = fx_new(SMTP_CLIENT_LMTP, false);
	session(f, "250-lmtp\r\n250 PIPELINING\r\n");
	assert_int_equal(smtp_client_start_message(&f->c, &f->msg), 0);
	buf_reset(&f->c.out);
	feed(f, "250 ok\r\n550 no\r\n354 go\r\n");
	expect_events(f, SC_EV_MESSAGE_DONE | SC_EV_CLOSED);
	assert_status(res(f, 0), SC_PERM, 550, "", "no");
	assert_int_equal(f->c.closed.outcome, SC_TEMP);
	fx_free(f);

	/* 3xx where only 2xx/4xx/5xx fit: to RCPT, to the final dot */
	f = fx_new(SMTP_CLIENT_SMTP, false);
	session(f, "250-mx\r\n250 PIPELINING\r\n");
	assert_int_equal(smtp_client_start_message(&f->c, &f->msg), 0);
	buf_reset(&f->c.out);
	feed(f, "250 ok\r\n354 x\r\n");
	expect_events(f, SC_EV_MESSAGE_DONE | SC_EV_CLOSED);
	assert_status(res(f, 0), SC_TEMP, 451, "4.5.0",
	    "protocol error: unexpected reply to RCPT: 354 x");
	fx_free(f);
	f = fx_new(SMTP_CLIENT_SMTP, false);
	session(f, "250-mx\r\n250 PIPELINING\r\n");
	assert_int_equal(smtp_client_start_message(&f->c, &f->msg), 0);
	buf_reset(&f->c.out);
	feed(f, "250 ok\r\n250 ok\r\n250 ok\r\n");
	expect_events(f, SC_EV_MESSAGE_DONE | SC_EV_CLOSED);
	assert_status(res(f, 0), SC_TEMP, 451, "4.5.0",
	    "protocol error: unexpected reply to DATA: 250 ok");
	fx_free(f);
	f = fx_new(SMTP_CLIENT_SMTP, false);
	session(f, "250-mx\r\n250 PIPELINING\r\n");
	assert_int_equal(smtp_client_start_message(&f->c, &f->msg), 0);
	buf_reset(&f->c.out);
	feed(f, "250 ok\r\n250 ok\r\n354 go\r\n");
	buf_reset(&f->c.out);
	feed(f, "354 again\r\n");
	expect_events(f, SC_EV_MESSAGE_DONE | SC_EV_CLOSED);
	assert_status(res(f, 0), SC_TEMP, 451, "4.5.0",
	    "protocol error: unexpected reply to end of data: 354 again");
	fx_free(f);

	/* an extra reply after the last one is detected */
	f = fx_new(SMTP_CLIENT_SMTP, false);
	session(f, "250-mx\r\n250 PIPELINING\r\n");
	assert_int_equal(smtp_client_start_message(&f->c, &f->msg), 0);
	buf_reset(&f->c.out);
	feed(f, "250 ok\r\n250 ok\r\n554 no\r\n250 extra\r\n");
	expect_events(f, SC_EV_MESSAGE_DONE | SC_EV_READY | SC_EV_CLOSED);
	assert_status(res(f, 0), SC_PERM, 554, "", "no");
	assert_int_equal(f->c.closed.outcome, SC_TEMP);
	fx_free(f);
}

static void
test_timeouts_and_eof(void **state)
{
	struct fx *f = fx_new(SMTP_CLIENT_SMTP, false);

	(void)state;
	assert_int_equal(smtp_client_timeout_secs(&f->c), SC_TIMEOUT_GREETING);
	smtp_client_timeout(&f->c);
	expect_events(f, SC_EV_CLOSED);
	assert_status(&f->c.closed, SC_TEMP, 451, "4.4.2",
	    "timeout while waiting for the greeting");
	fx_free(f);

	f = fx_new(SMTP_CLIENT_SMTP, false);
	session(f, EHLO_PLAIN);
	f->msg.nrcpt = 2;
	assert_int_equal(smtp_client_start_message(&f->c, &f->msg), 0);
	expect_out(f, "MAIL FROM:<s@x.example>\r\n");
	feed(f, "250 ok\r\n");
	expect_out(f, "RCPT TO:<r0@y.example>\r\n");
	feed(f, "250 ok\r\n");
	expect_out(f, "RCPT TO:<r1@y.example>\r\n");
	assert_int_equal(smtp_client_timeout_secs(&f->c), 300);
	smtp_client_timeout(&f->c);
	expect_events(f, SC_EV_MESSAGE_DONE | SC_EV_CLOSED);
	assert_status(res(f, 0), SC_TEMP, 451, "4.4.2",
	    "timeout while waiting for the reply to RCPT");
	assert_status(res(f, 1), SC_TEMP, 451, "4.4.2", NULL);
	fx_free(f);

	f = fx_new(SMTP_CLIENT_SMTP, false);
	session(f, EHLO_PLAIN);
	smtp_client_eof(&f->c);
	expect_events(f, SC_EV_CLOSED);
	assert_status(
	    &f->c.closed, SC_TEMP, 451, "4.4.2", "connection lost while idle");
	fx_free(f);

	/* the connection breaks while the body is being sent */
	f = fx_new(SMTP_CLIENT_SMTP, false);
	session(f, "250-mx\r\n250 PIPELINING\r\n");
	{
		size_t len = 2 * SC_BODY_BLOCK;
		uint8_t *body = calloc(1, len);

		f->msg.body = body;
		f->msg.body_len = len;
		assert_int_equal(smtp_client_start_message(&f->c, &f->msg), 0);
		buf_reset(&f->c.out);
		feed(f, "250 ok\r\n250 ok\r\n354 go\r\n");
		assert_int_equal(f->c.state, SC_S_BODY);
		assert_int_equal(smtp_client_timeout_secs(&f->c), 180);
		smtp_client_eof(&f->c);
		expect_events(f, SC_EV_MESSAGE_DONE | SC_EV_CLOSED);
		assert_status(res(f, 0), SC_TEMP, 451, "4.4.2",
		    "connection lost while sending the message body");
		free(body);
	}
	fx_free(f);

	/* the TLS handshake times out */
	f = fx_new(SMTP_CLIENT_SMTP, true);
	feed(f, "220 mx\r\n");
	expect_out(f, "EHLO " HELO "\r\n");
	feed(f, "250-mx\r\n250 STARTTLS\r\n");
	expect_out(f, "STARTTLS\r\n");
	assert_string_equal(smtp_client_state_name(&f->c), "STARTTLS");
	feed(f, "220 go\r\n");
	expect_events(f, SC_EV_TLS);
	smtp_client_timeout(&f->c);
	expect_events(f, SC_EV_CLOSED);
	assert_status(&f->c.closed, SC_TEMP, 451, "4.4.2",
	    "timeout during the TLS handshake");
	fx_free(f);
}

static void
test_bad_arguments(void **state)
{
	struct fx *f = fx_new(SMTP_CLIENT_SMTP, false);
	struct smtp_client_msg m;
	struct smtp_client c;
	struct smtp_client_cfg cfg = {.mode = SMTP_CLIENT_SMTP};

	(void)state;
	/* not idle yet */
	assert_int_equal(smtp_client_start_message(&f->c, &f->msg), -1);
	session(f, EHLO_PLAIN);
	m = f->msg;
	m.nrcpt = 0;
	assert_int_equal(smtp_client_start_message(&f->c, &m), -1);
	m = f->msg;
	m.env = NULL;
	assert_int_equal(smtp_client_start_message(&f->c, &m), -1);
	m = f->msg;
	m.body = NULL;
	assert_int_equal(smtp_client_start_message(&f->c, &m), -1);
	m = f->msg;
	f->idx[0] = 6; /* out of range */
	assert_int_equal(smtp_client_start_message(&f->c, &m), -1);
	f->idx[0] = 1; /* repeated */
	f->idx[1] = 1;
	m.nrcpt = 2;
	assert_int_equal(smtp_client_start_message(&f->c, &m), -1);
	assert_int_equal(smtp_client_events(&f->c), 0);
	assert_int_equal(f->c.out.len, 0);
	assert_int_equal(f->c.state, SC_S_IDLE);
	/* an empty body is fine */
	f->idx[1] = 2;
	m.body = NULL;
	m.body_len = 0;
	assert_int_equal(smtp_client_start_message(&f->c, &m), 0);
	fx_free(f);

	/* configuration */
	assert_int_equal(smtp_client_init(&c, &cfg), -1);
	cfg.helo_name = "";
	assert_int_equal(smtp_client_init(&c, &cfg), -1);
	cfg.helo_name = "bad name";
	assert_int_equal(smtp_client_init(&c, &cfg), -1);
	cfg.helo_name = "bad\r\nQUIT";
	assert_int_equal(smtp_client_init(&c, &cfg), -1);
	assert_int_equal(smtp_client_init(&c, NULL), -1);
	cfg.helo_name = "[192.0.2.1]";
	assert_int_equal(smtp_client_init(&c, &cfg), 0);
	smtp_client_free(&c);
}

/* Addresses that cannot go on a command line fail alone, locally. */
static void
test_bad_addresses(void **state)
{
	struct fx *f = fx_new(SMTP_CLIENT_SMTP, false);

	(void)state;
	session(f, "250-mx\r\n250 PIPELINING\r\n");
	f->rcpts[1].addr = (char *)"a@b\r\nRSET";
	f->rcpts[2].addr = (char *)"";
	f->msg.nrcpt = 3;
	assert_int_equal(smtp_client_start_message(&f->c, &f->msg), 0);
	expect_out(f, "MAIL FROM:<s@x.example>\r\nRCPT TO:<r0@y.example>\r\n"
		      "DATA\r\n");
	assert_status(res(f, 1), SC_PERM, 501, "5.1.3", NULL);
	assert_status(res(f, 2), SC_PERM, 501, "5.1.3", NULL);
	feed(f, "250 ok\r\n250 ok\r\n354 go\r\n");
	expect_out(f, "Subject: t\r\n\r\nhello\r\n.\r\n");
	feed(f, "250 ok\r\n");
	expect_events(f, SC_EV_MESSAGE_DONE | SC_EV_READY);
	assert_status(res(f, 0), SC_OK, 250, "", "ok");
	assert_status(res(f, 1), SC_PERM, 501, "5.1.3", NULL);

	/* every recipient bad: done at once */
	f->msg.nrcpt = 1;
	f->idx[0] = 1;
	assert_int_equal(smtp_client_start_message(&f->c, &f->msg), 0);
	assert_int_equal(f->c.out.len, 0);
	expect_events(f, SC_EV_MESSAGE_DONE | SC_EV_READY);

	/* a bad sender: all of them */
	f->env.sender = (char *)"x\ny@z";
	f->idx[0] = 0;
	assert_int_equal(smtp_client_start_message(&f->c, &f->msg), 0);
	assert_int_equal(f->c.out.len, 0);
	expect_events(f, SC_EV_MESSAGE_DONE | SC_EV_READY);
	assert_status(res(f, 0), SC_PERM, 501, "5.1.7", NULL);
	fx_free(f);
}

static void
test_status_text(void **state)
{
	struct fx *f = fx_new(SMTP_CLIENT_SMTP, false);
	char buf[64], *big = malloc(2100);
	size_t o;

	(void)state;
	session(f, EHLO_PLAIN);
	assert_int_equal(smtp_client_start_message(&f->c, &f->msg), 0);
	expect_out(f, "MAIL FROM:<s@x.example>\r\n");
	/* a long UTF-8 text is cut at SC_TEXT_MAX, not inside a sequence */
	o = (size_t)sprintf(big, "550 5.1.0 x");
	while (o < 2000) {
		memcpy(big + o, "\xc3\xa9", 2);
		o += 2;
	}
	memcpy(big + o, "\r\n", 3);
	feed(f, big);
	expect_events(f, SC_EV_MESSAGE_DONE | SC_EV_READY);
	assert_int_equal(strlen(res(f, 0)->text), SC_TEXT_MAX - 1);
	assert_string_equal(smtp_client_status_format(res(f, 0), buf, 16),
	    "550 5.1.0 x\xc3\xa9\xc3\xa9");
	{
		struct smtp_client_status st = {.code = 250};

		assert_string_equal(
		    smtp_client_status_format(&st, buf, sizeof(buf)), "250");
		snprintf(st.enh, sizeof(st.enh), "2.0.0");
		assert_string_equal(
		    smtp_client_status_format(&st, buf, sizeof(buf)),
		    "250 2.0.0");
		snprintf(st.text, sizeof(st.text), "ok");
		assert_string_equal(
		    smtp_client_status_format(&st, buf, sizeof(buf)),
		    "250 2.0.0 ok");
	}
	free(big);
	fx_free(f);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_plain_transaction),
	    cmocka_unit_test(test_pipelined_transaction),
	    cmocka_unit_test(test_pipelined_one_read),
	    cmocka_unit_test(test_helo_fallback),
	    cmocka_unit_test(test_capabilities),
	    cmocka_unit_test(test_size_precheck),
	    cmocka_unit_test(test_smtputf8_8bitmime_prechecks),
	    cmocka_unit_test(test_dsn_parameters),
	    cmocka_unit_test(test_mixed_results),
	    cmocka_unit_test(test_all_refused_no_data),
	    cmocka_unit_test(test_all_refused_pipelined),
	    cmocka_unit_test(test_mail_refused),
	    cmocka_unit_test(test_dot_stuffing),
	    cmocka_unit_test(test_bare_cr_lf),
	    cmocka_unit_test(test_body_without_final_crlf),
	    cmocka_unit_test(test_large_body_blocks),
	    cmocka_unit_test(test_lmtp),
	    cmocka_unit_test(test_421_mid_transaction),
	    cmocka_unit_test(test_starttls),
	    cmocka_unit_test(test_reuse),
	    cmocka_unit_test(test_quit),
	    cmocka_unit_test(test_5xx_greeting),
	    cmocka_unit_test(test_split_every_byte),
	    cmocka_unit_test(test_reply_limits),
	    cmocka_unit_test(test_protocol_errors),
	    cmocka_unit_test(test_timeouts_and_eof),
	    cmocka_unit_test(test_bad_arguments),
	    cmocka_unit_test(test_bad_addresses),
	    cmocka_unit_test(test_status_text),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
