/*
 * test_smtp_server.c - the inbound session state machine driven without
 * sockets: bytes in, replies out, commits through a real shard and
 * committer or a fake submit that the test completes by hand (so the
 * ordering "no 250 before the commit returned" is observable).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "config.h"
#include "queue_commit.h"
#include "queue_shard.h"
#include "smtp_server.h"

struct fixture {
	char dir[64];
	struct rmx_config *cfg;
	struct queue_shard *qs;
	struct smtp_server_ctx ctx;
	struct smtp_session s;
	struct qop *submitted;
	int nsubmit;
};

static void
fake_submit(void *arg, struct qop *op)
{
	struct fixture *f = arg;
	f->submitted = op;
	f->nsubmit++;
}

static struct fixture *
fx_new(const char *extra_cfg)
{
	struct fixture *f = calloc(1, sizeof(*f));
	char text[2048], err[512], sdir[128];

	snprintf(f->dir, sizeof(f->dir), "/tmp/rmx-sess-XXXXXX");
	assert_non_null(mkdtemp(f->dir));
	snprintf(text, sizeof(text),
	    "hostname = \"mx.test.example\";\n"
	    "state_dir = \"%s\";\n"
	    "listeners = ( { address = \"127.0.0.1:2525\"; } );\n"
	    "local_domains = [ \"localhost\", \"example.test\" ];\n%s",
	    f->dir, extra_cfg ? extra_cfg : "");
	f->cfg = config_load_string(text, "test", err, sizeof(err));
	if (f->cfg == NULL)
		fail_msg("config: %s", err);
	snprintf(sdir, sizeof(sdir), "%s/shard-0", f->dir);
	f->qs = queue_shard_open(sdir, 0, 16u << 20, err, sizeof(err));
	if (f->qs == NULL)
		fail_msg("shard: %s", err);
	f->ctx.cfg = f->cfg;
	f->ctx.shard = f->qs;
	f->ctx.submit = fake_submit;
	f->ctx.submit_arg = f;
	smtp_session_init(&f->s, &f->ctx, 1, "192.0.2.7");
	smtp_session_greet(&f->s);
	return f;
}

static void
fx_free(struct fixture *f)
{
	char cmd[128];

	smtp_session_free(&f->s);
	queue_shard_close(f->qs);
	config_free(f->cfg);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", f->dir);
	if (system(cmd) != 0)
		fprintf(stderr, "cleanup failed\n");
	free(f);
}

/* Feed text; return (and clear) everything the session answered. */
static char *
talk(struct fixture *f, const char *in, size_t len)
{
	static char out[65536];
	size_t used = smtp_session_input(&f->s, (const uint8_t *)in, len);

	(void)used;
	assert_true(f->s.out.len < sizeof(out));
	memcpy(out, f->s.out.data, f->s.out.len);
	out[f->s.out.len] = '\0';
	buf_reset(&f->s.out);
	return out;
}

#define TALK(f, s) talk((f), (s), strlen(s))

static void
test_greeting_and_ehlo(void **state)
{
	struct fixture *f = fx_new(NULL);
	char *r;

	(void)state;
	r = TALK(f, "");
	assert_string_equal(r, "220 mx.test.example ESMTP ringmx\r\n");
	r = TALK(f, "EHLO client.example\r\n");
	assert_non_null(strstr(r, "250-mx.test.example\r\n"));
	assert_non_null(strstr(r, "250-PIPELINING\r\n"));
	assert_non_null(strstr(r, "250-SIZE 52428800\r\n"));
	assert_non_null(strstr(r, "250-8BITMIME\r\n"));
	assert_non_null(strstr(r, "250-SMTPUTF8\r\n"));
	assert_non_null(strstr(r, "250-ENHANCEDSTATUSCODES\r\n"));
	assert_non_null(strstr(r, "250-CHUNKING\r\n"));
	assert_non_null(strstr(r, "250 DSN\r\n"));
	fx_free(f);
}

static void
test_pipelined_transaction_waits_for_commit(void **state)
{
	struct fixture *f = fx_new(NULL);
	const char *all = "EHLO c\r\nMAIL FROM:<a@b.example>\r\n"
			  "RCPT TO:<alice@localhost>\r\nDATA\r\n"
			  "Subject: x\r\n\r\nhello\r\n.\r\nNOOP\r\nQUIT\r\n";
	size_t used;
	char *r;
	struct qenvelope *env;

	(void)state;
	TALK(f, "");
	used = smtp_session_input(&f->s, (const uint8_t *)all, strlen(all));
	/* Everything up to the final dot is consumed, NOOP/QUIT wait. */
	assert_int_equal(used, strstr(all, "NOOP") - all);
	assert_int_equal(f->nsubmit, 1);
	assert_int_equal(f->s.state, SMTP_S_COMMIT);
	r = talk(f, "", 0);
	assert_non_null(strstr(r, "354 "));
	/* No 250 for the message before the commit has returned. */
	assert_null(strstr(r, "queued as"));
	f->submitted->result = QUEUE_OK;
	env = smtp_session_commit_done(&f->s);
	assert_non_null(env);
	assert_string_equal(env->sender, "a@b.example");
	assert_int_equal(env->nrcpt, 1);
	assert_string_equal(env->rcpts[0].addr, "alice@localhost");
	qenvelope_free(env);
	free(env);
	r = TALK(f, "NOOP\r\nQUIT\r\n");
	assert_non_null(strstr(r, "250 2.0.0 Ok: queued as "));
	assert_non_null(strstr(r, "250 2.0.0 Ok\r\n221 2.0.0 Bye\r\n"));
	assert_true(f->s.close_after_flush);
	fx_free(f);
}

static void
test_commit_failure_is_452(void **state)
{
	struct fixture *f = fx_new(NULL);
	char *r;
	struct qenvelope *env;

	(void)state;
	TALK(f, "");
	TALK(
	    f, "EHLO c\r\nMAIL FROM:<>\r\nRCPT TO:<bob@localhost>\r\nDATA\r\n");
	TALK(f, "x\r\n.\r\n");
	assert_int_equal(f->nsubmit, 1);
	f->submitted->result = QUEUE_ERR_FULL;
	env = smtp_session_commit_done(&f->s);
	assert_null(env);
	r = talk(f, "", 0);
	assert_string_equal(r, "452 4.3.1 Insufficient system storage\r\n");
	assert_null(strstr(r, "250"));
	/* The session goes on: a new transaction is possible. */
	r = TALK(f, "MAIL FROM:<>\r\n");
	assert_string_equal(r, "250 2.1.0 Ok\r\n");
	fx_free(f);
}

/* Real committer + injected commit failure: 452, never 250. */
struct real_ctx {
	struct queue_committer *qc;
};

static void
real_submit(void *arg, struct qop *op)
{
	struct real_ctx *rc = arg;
	queue_committer_submit(rc->qc, op);
}

static struct qop *
wait_done(struct queue_committer *qc, int efd)
{
	struct qop *op;
	uint64_t v;

	while ((op = queue_committer_reap(qc)) == NULL)
		assert_int_equal(read(efd, &v, sizeof(v)), sizeof(v));
	return op;
}

static void
test_real_commit_and_injected_failure(void **state)
{
	struct fixture *f = fx_new(NULL);
	int efd = eventfd(0, EFD_CLOEXEC);
	struct real_ctx rc;
	struct qop *op;
	struct qenvelope *env, stored;
	char *r;

	(void)state;
	rc.qc = queue_committer_start(efd);
	assert_non_null(rc.qc);
	f->ctx.submit = real_submit;
	f->ctx.submit_arg = &rc;
	TALK(f, "");
	TALK(f, "EHLO c\r\nMAIL FROM:<s@x.example>\r\n"
		"RCPT TO:<carol@example.test>\r\nDATA\r\n");
	TALK(f, "Subject: one\r\n\r\nbody\r\n.\r\n");
	op = wait_done(rc.qc, efd);
	assert_int_equal(op->result, QUEUE_OK);
	env = smtp_session_commit_done(&f->s);
	assert_non_null(env);
	r = talk(f, "", 0);
	assert_non_null(strstr(r, "250 2.0.0 Ok: queued as "));
	/* It is really in the shard. */
	memset(&stored, 0, sizeof(stored));
	assert_int_equal(
	    queue_shard_read_envelope(f->qs, env->id, &stored), QUEUE_OK);
	assert_string_equal(stored.rcpts[0].addr, "carol@example.test");
	qenvelope_free(&stored);
	qenvelope_free(env);
	free(env);

	queue_shard_inject_commit_failure(f->qs, 1);
	TALK(f, "MAIL FROM:<s@x.example>\r\nRCPT TO:<carol@example.test>\r\n"
		"DATA\r\n");
	TALK(f, "Subject: two\r\n\r\nbody\r\n.\r\n");
	op = wait_done(rc.qc, efd);
	assert_int_not_equal(op->result, QUEUE_OK);
	assert_null(smtp_session_commit_done(&f->s));
	r = talk(f, "", 0);
	assert_string_equal(r, "452 4.3.1 Insufficient system storage\r\n");
	assert_int_equal(queue_shard_count(f->qs), 1);
	queue_committer_stop(rc.qc);
	close(efd);
	fx_free(f);
}

static void
test_sequence_errors(void **state)
{
	struct fixture *f = fx_new(NULL);

	(void)state;
	TALK(f, "");
	assert_string_equal(TALK(f, "MAIL FROM:<a@b.example>\r\n"),
	    "503 5.5.1 Error: send HELO/EHLO first\r\n");
	assert_string_equal(TALK(f, "HELO c\r\n"), "250 mx.test.example\r\n");
	assert_string_equal(TALK(f, "RCPT TO:<alice@localhost>\r\n"),
	    "503 5.5.1 Error: need MAIL command\r\n");
	assert_string_equal(
	    TALK(f, "DATA\r\n"), "503 5.5.1 Error: need MAIL command\r\n");
	assert_string_equal(
	    TALK(f, "MAIL FROM:<a@b.example>\r\n"), "250 2.1.0 Ok\r\n");
	assert_string_equal(TALK(f, "MAIL FROM:<a@b.example>\r\n"),
	    "503 5.5.1 Error: nested MAIL command\r\n");
	assert_string_equal(
	    TALK(f, "DATA\r\n"), "503 5.5.1 Error: need RCPT command\r\n");
	assert_int_equal(TALK(f, "RCPT TO:<x@elsewhere.example>\r\n")[0], '5');
	assert_string_equal(
	    TALK(f, "DATA\r\n"), "554 5.5.1 Error: no valid recipients\r\n");
	assert_string_equal(
	    TALK(f, "FOO\r\n"), "500 5.5.1 Command unrecognized\r\n");
	assert_string_equal(TALK(f, "VRFY bob\r\n"),
	    "252 2.5.2 Cannot VRFY user, but will accept message and "
	    "attempt delivery\r\n");
	assert_non_null(strstr(TALK(f, "HELP\r\n"), "214 2.0.0 "));
	assert_string_equal(TALK(f, "RSET\r\n"), "250 2.0.0 Ok\r\n");
	assert_string_equal(TALK(f, "NOOP\r\n"), "250 2.0.0 Ok\r\n");
	fx_free(f);
}

static void
test_rcpt_policy(void **state)
{
	struct fixture *f = fx_new("limits = { rcpt_max = 3; };\n");

	(void)state;
	TALK(f, "");
	TALK(f, "EHLO c\r\nMAIL FROM:<a@b.example>\r\n");
	assert_string_equal(TALK(f, "RCPT TO:<x@elsewhere.example>\r\n"),
	    "550 5.7.1 <x@elsewhere.example>: Relay access denied\r\n");
	assert_string_equal(
	    TALK(f, "RCPT TO:<Postmaster>\r\n"), "250 2.1.5 Ok\r\n");
	assert_string_equal(TALK(f, "RCPT TO:<postmaster@EXAMPLE.test>\r\n"),
	    "250 2.1.5 Ok\r\n");
	assert_string_equal(TALK(f, "RCPT TO:<\".hidden\"@localhost>\r\n"),
	    "550 5.1.3 Error: recipient mailbox name not allowed\r\n");
	assert_string_equal(TALK(f, "RCPT TO:<\"a/b\"@localhost>\r\n"),
	    "550 5.1.3 Error: recipient mailbox name not allowed\r\n");
	assert_string_equal(TALK(f, "RCPT TO:<\"..\"@localhost>\r\n"),
	    "550 5.1.3 Error: recipient mailbox name not allowed\r\n");
	assert_string_equal(
	    TALK(f, "RCPT TO:<bob@localhost>\r\n"), "250 2.1.5 Ok\r\n");
	assert_string_equal(TALK(f, "RCPT TO:<carol@localhost>\r\n"),
	    "452 4.5.3 Error: too many recipients\r\n");
	fx_free(f);
}

static void
test_bare_lf_in_data_closes(void **state)
{
	struct fixture *f = fx_new(NULL);
	const char *smuggle = "Subject: x\r\n\r\nhi\n.\nMAIL FROM:<e@vil>\r\n";
	char *r;

	(void)state;
	TALK(f, "");
	TALK(f, "EHLO c\r\nMAIL FROM:<a@b.example>\r\n"
		"RCPT TO:<alice@localhost>\r\nDATA\r\n");
	r = TALK(f, smuggle);
	assert_string_equal(r, "550 5.5.2 Error: bare <LF> received\r\n");
	assert_true(f->s.close_after_flush);
	assert_int_equal(f->s.state, SMTP_S_CLOSED);
	assert_int_equal(f->nsubmit, 0);
	/* Nothing after it is ever executed. */
	assert_string_equal(TALK(f, "RCPT TO:<x@localhost>\r\n"), "");
	fx_free(f);
}

static void
test_bare_cr_in_command_closes(void **state)
{
	struct fixture *f = fx_new(NULL);

	(void)state;
	TALK(f, "");
	assert_string_equal(TALK(f, "NOOP\rQUIT\r\n"),
	    "550 5.5.2 Error: bare <CR> received\r\n");
	assert_int_equal(f->s.state, SMTP_S_CLOSED);
	fx_free(f);
}

static void
test_long_line_survives(void **state)
{
	struct fixture *f = fx_new(NULL);
	char line[3000];

	(void)state;
	TALK(f, "");
	memset(line, 'A', sizeof(line));
	memcpy(line, "NOOP ", 5);
	assert_string_equal(
	    talk(f, line, sizeof(line)), "500 5.5.2 Error: line too long\r\n");
	/* the rest of the long line is skipped, then commands work */
	assert_string_equal(TALK(f, "AAAA\r\nNOOP\r\n"), "250 2.0.0 Ok\r\n");
	/* 513 octets with CRLF: over the 512 limit */
	memset(line, 'B', 511);
	memcpy(line, "NOOP ", 5);
	memcpy(line + 511, "\r\n", 2);
	assert_string_equal(
	    talk(f, line, 513), "500 5.5.2 Error: line too long\r\n");
	memcpy(line + 510, "\r\n", 2);
	assert_string_equal(talk(f, line, 512), "250 2.0.0 Ok\r\n");
	fx_free(f);
}

static void
test_size_limits(void **state)
{
	struct fixture *f = fx_new("limits = { message_max = 2048; };\n");
	char big[4096];
	char *r;

	(void)state;
	TALK(f, "");
	TALK(f, "EHLO c\r\n");
	assert_string_equal(TALK(f, "MAIL FROM:<a@b.example> SIZE=5000\r\n"),
	    "552 5.3.4 Message size exceeds fixed maximum message size\r\n");
	TALK(f, "MAIL FROM:<a@b.example> SIZE=100\r\n"
		"RCPT TO:<alice@localhost>\r\nDATA\r\n");
	memset(big, 'x', sizeof(big));
	for (size_t i = 70; i < sizeof(big); i += 72) {
		big[i] = '\r';
		big[i + 1] = '\n';
	}
	talk(f, big, 70 * 50);
	r = TALK(f, "\r\n.\r\n");
	assert_string_equal(r, "552 5.3.4 Message too big\r\n");
	assert_int_equal(f->nsubmit, 0);
	assert_string_equal(TALK(f, "NOOP\r\n"), "250 2.0.0 Ok\r\n");
	fx_free(f);
}

static void
test_hop_limit(void **state)
{
	struct fixture *f = fx_new("limits = { hops_max = 3; };\n");
	char *r;

	(void)state;
	TALK(f, "");
	TALK(f, "EHLO c\r\nMAIL FROM:<a@b.example>\r\n"
		"RCPT TO:<alice@localhost>\r\nDATA\r\n");
	r = TALK(f, "Received: a\r\nReceived: b\r\nReceived: c\r\n"
		    "Received: d\r\n\r\nx\r\n.\r\n");
	assert_string_equal(r, "554 5.4.6 Too many hops (mail loop?)\r\n");
	TALK(f, "MAIL FROM:<a@b.example>\r\nRCPT TO:<alice@localhost>\r\n"
		"DATA\r\n");
	TALK(f, "Received: a\r\nReceived: b\r\nReceived: c\r\n\r\nx\r\n.\r\n");
	assert_int_equal(f->nsubmit, 1);
	fx_free(f);
}

static void
test_bdat(void **state)
{
	struct fixture *f = fx_new(NULL);
	char *r;

	(void)state;
	TALK(f, "");
	/* refused chunk is consumed, never executed */
	r = TALK(f, "EHLO c\r\nBDAT 6\r\nQUIT\r\nNOOP\r\n");
	assert_non_null(strstr(r, "503 5.5.1 Error: need MAIL command\r\n"
				  "250 2.0.0 Ok\r\n"));
	assert_null(strstr(r, "221"));
	TALK(f, "MAIL FROM:<a@b.example>\r\nRCPT TO:<alice@localhost>\r\n");
	r = TALK(f, "BDAT 9\r\nSubject:\r");
	assert_string_equal(r, "250 2.0.0 Ok: 9 octets received\r\n");
	r = TALK(f, "BDAT 7\r\n\n\r\nhi\r\n");
	assert_string_equal(r, "250 2.0.0 Ok: 16 octets received\r\n");
	assert_string_equal(TALK(f, "DATA\r\n"),
	    "503 5.5.1 Error: DATA not allowed after BDAT\r\n");
	TALK(f, "BDAT 0 LAST\r\n");
	assert_int_equal(f->nsubmit, 1);
	f->submitted->result = QUEUE_OK;
	{
		struct qenvelope *env = smtp_session_commit_done(&f->s);
		assert_non_null(env);
		qenvelope_free(env);
		free(env);
	}
	assert_non_null(strstr(talk(f, "", 0), "250 2.0.0 Ok: queued as"));
	/* bare CR inside a chunk: fatal */
	TALK(f, "MAIL FROM:<a@b.example>\r\nRCPT TO:<alice@localhost>\r\n");
	r = TALK(f, "BDAT 4 LAST\r\na\rb\r\n");
	assert_string_equal(r, "550 5.5.2 Error: bare <LF> received\r\n");
	fx_free(f);
}

static void
test_error_limit_disconnects(void **state)
{
	struct fixture *f = fx_new("limits = { errors_max = 3; };\n");
	char *r;

	(void)state;
	TALK(f, "");
	r = TALK(f, "X\r\nX\r\nX\r\nX\r\nNOOP\r\n");
	assert_non_null(strstr(r, "421 4.7.0 Error: too many errors\r\n"));
	assert_null(strstr(r, "250"));
	assert_true(f->s.close_after_flush);
	fx_free(f);
}

static void
test_dsn_and_utf8(void **state)
{
	struct fixture *f = fx_new(NULL);
	struct qenvelope *env;

	(void)state;
	TALK(f, "");
	TALK(f, "EHLO c\r\n");
	assert_string_equal(TALK(f, "MAIL FROM:<j\xc3\xb6rg@b.example>\r\n"),
	    "553 5.6.7 Non-ASCII sender address requires SMTPUTF8\r\n");
	assert_string_equal(TALK(f, "MAIL FROM:<j\xc3\xb6rg@b.example> "
				    "SMTPUTF8 RET=HDRS ENVID=abc+2Bd\r\n"),
	    "250 2.1.0 Ok\r\n");
	assert_string_equal(TALK(f, "RCPT TO:<z\xc3\xbc@localhost> "
				    "NOTIFY=SUCCESS,FAILURE "
				    "ORCPT=rfc822;z@localhost\r\n"),
	    "250 2.1.5 Ok\r\n");
	assert_int_equal(
	    TALK(f, "RCPT TO:<y@localhost> NOTIFY=BOGUS\r\n")[0], '5');
	TALK(f, "DATA\r\nx\r\n.\r\n");
	f->submitted->result = QUEUE_OK;
	env = smtp_session_commit_done(&f->s);
	assert_non_null(env);
	assert_int_equal(env->smtputf8, 1);
	assert_int_equal(env->ret, SMTP_RET_HDRS);
	assert_string_equal(env->envid, "abc+d");
	assert_int_equal(
	    env->rcpts[0].notify, SMTP_NOTIFY_SUCCESS | SMTP_NOTIFY_FAILURE);
	assert_string_equal(env->rcpts[0].orcpt, "rfc822;z@localhost");
	qenvelope_free(env);
	free(env);
	fx_free(f);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_greeting_and_ehlo),
	    cmocka_unit_test(test_pipelined_transaction_waits_for_commit),
	    cmocka_unit_test(test_commit_failure_is_452),
	    cmocka_unit_test(test_real_commit_and_injected_failure),
	    cmocka_unit_test(test_sequence_errors),
	    cmocka_unit_test(test_rcpt_policy),
	    cmocka_unit_test(test_bare_lf_in_data_closes),
	    cmocka_unit_test(test_bare_cr_in_command_closes),
	    cmocka_unit_test(test_long_line_survives),
	    cmocka_unit_test(test_size_limits),
	    cmocka_unit_test(test_hop_limit),
	    cmocka_unit_test(test_bdat),
	    cmocka_unit_test(test_error_limit_disconnects),
	    cmocka_unit_test(test_dsn_and_utf8),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
