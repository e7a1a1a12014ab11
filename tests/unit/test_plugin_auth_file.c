/*
 * test_plugin_auth_file.c - the auth_file plugin through the fake host:
 * PLAIN/LOGIN verification on the offload pool (accept, reject, unknown
 * user after a dummy verification), file and key errors, the sender rules
 * for MAIL FROM and From:, reconfigure, and cancellation of a pending
 * verification in every order (ASan/LSan catch a double free or a leak).
 * Run from the repo root (dlopens build/asan/plugins/auth_file.so).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sodium.h>

#include "fake_host.h"

#define SO "build/asan/plugins/auth_file.so"

static char dir[64];
static char passwd_path[128], senders_path[128], bad_path[128];

static void
write_file(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");

	assert_non_null(f);
	assert_int_equal(fputs(text, f) >= 0, 1);
	assert_int_equal(fclose(f), 0);
}

/* "user:hash\n" with a fast argon2id hash of pw. */
static void
entry(char *out, size_t n, const char *user, const char *pw)
{
	char h[crypto_pwhash_STRBYTES];

	assert_int_equal(
	    crypto_pwhash_str(h, pw, strlen(pw), crypto_pwhash_OPSLIMIT_MIN,
		crypto_pwhash_MEMLIMIT_MIN),
	    0);
	snprintf(out, n, "%s:%s\n", user, h);
}

/* A password file with alice/secret, bob@example.test/hunter2 and
 * carol/pw3. */
static void
write_passwd(const char *alice_pw)
{
	char a[256], b[256], c[256], text[1024];

	entry(a, sizeof(a), "alice", alice_pw);
	entry(b, sizeof(b), "bob@example.test", "hunter2");
	entry(c, sizeof(c), "carol", "pw3");
	snprintf(text, sizeof(text), "# users\n\n%s  %s%s", a, b, c);
	write_file(passwd_path, text);
	assert_int_equal(chmod(passwd_path, 0600), 0);
}

struct inst {
	const struct rmx_plugin *p;
	void *state;
	void *ws;
};

static void
inst_load(struct inst *in, const char **cfg)
{
	char err[512];

	in->p = fake_load(SO, cfg, &in->state, err, sizeof(err));
	if (in->p == NULL)
		fail_msg("load failed: %s", err);
	assert_int_equal(in->p->worker_init(in->state, 0, &in->ws), 0);
}

static void
inst_free(struct inst *in)
{
	in->p->worker_fini(in->ws);
	in->p->fini(in->state);
}

static const char *
load_error(const char **cfg, char *err, size_t n)
{
	void *state = NULL;

	assert_null(fake_load(SO, cfg, &state, err, n));
	return err;
}

/* Run the AUTH hook; the verdict after completion. */
static enum rmx_verdict
auth(struct inst *in, const char *mech, const char *user, const char *pw,
    int *reply_code)
{
	struct rmx_call c;
	enum rmx_verdict v;

	fake_call_init(&c);
	fake_set_item(&c, RMX_ITEM_AUTH_MECH, 0, mech);
	fake_set_item(&c, RMX_ITEM_AUTH_USER, 0, user);
	fake_set_item(&c, RMX_ITEM_AUTH_PASS, 0, pw);
	v = fake_hook(in->p, RMX_HOOK_AUTH)(&c, in->ws);
	if (v == RMX_PENDING) {
		assert_true(c.completed);
		v = c.completed_verdict;
	}
	if (v == RMX_ACCEPT)
		assert_string_equal(c.auth_user, user);
	if (reply_code != NULL)
		*reply_code = c.reply_code;
	fake_call_free(&c);
	return v;
}

/* Run the MAIL hook as user (NULL: not authenticated). */
static enum rmx_verdict
mail(struct inst *in, const char *user, const char *from, char *reply, size_t n)
{
	struct rmx_call c;
	enum rmx_verdict v;

	fake_call_init(&c);
	if (user != NULL)
		fake_set_item(&c, RMX_ITEM_AUTH_USER, 0, user);
	fake_set_item(&c, RMX_ITEM_MAIL_FROM, 0, from);
	v = fake_hook(in->p, RMX_HOOK_MAIL)(&c, in->ws);
	if (reply != NULL)
		snprintf(reply, n, "%d %s %s", c.reply_code, c.reply_enh,
		    c.reply_text);
	fake_call_free(&c);
	return v;
}

/* Run the DATA hook with one or two From: fields. */
static enum rmx_verdict
data(struct inst *in, const char *user, const char *from1, const char *from2,
    char *reply, size_t n)
{
	struct rmx_call c;
	enum rmx_verdict v;

	fake_call_init(&c);
	if (user != NULL)
		fake_set_item(&c, RMX_ITEM_AUTH_USER, 0, user);
	fake_add_header(&c, "Subject", "hello");
	if (from1 != NULL)
		fake_add_header(&c, "From", from1);
	fake_add_header(&c, "To", "<x@remote.example>");
	if (from2 != NULL)
		fake_add_header(&c, "from", from2);
	v = fake_hook(in->p, RMX_HOOK_DATA)(&c, in->ws);
	if (reply != NULL)
		snprintf(reply, n, "%d %s %s", c.reply_code, c.reply_enh,
		    c.reply_text);
	fake_call_free(&c);
	return v;
}

/* ---- authentication ---- */

static void
test_good_password_accepts(void **st)
{
	const char *cfg[] = {"passwd", passwd_path, NULL};
	struct inst in;

	(void)st;
	inst_load(&in, cfg);
	assert_int_equal(
	    auth(&in, "PLAIN", "alice", "secret", NULL), RMX_ACCEPT);
	assert_int_equal(
	    auth(&in, "LOGIN", "alice", "secret", NULL), RMX_ACCEPT);
	/* the entry after leading white space parses too */
	assert_int_equal(
	    auth(&in, "PLAIN", "bob@example.test", "hunter2", NULL),
	    RMX_ACCEPT);
	assert_int_equal(auth(&in, "LOGIN", "carol", "pw3", NULL), RMX_ACCEPT);
	inst_free(&in);
}

static void
test_bad_password_rejects(void **st)
{
	const char *cfg[] = {"passwd", passwd_path, NULL};
	struct inst in;
	int code = -1;

	(void)st;
	inst_load(&in, cfg);
	assert_int_equal(
	    auth(&in, "PLAIN", "alice", "Secret", &code), RMX_REJECT);
	assert_int_equal(code, 0); /* the host's 535 5.7.8 */
	assert_int_equal(auth(&in, "LOGIN", "alice", "", NULL), RMX_REJECT);
	assert_int_equal(
	    auth(&in, "PLAIN", "alice", "secret\n", NULL), RMX_REJECT);
	/* another user's password */
	assert_int_equal(
	    auth(&in, "PLAIN", "carol", "secret", NULL), RMX_REJECT);
	inst_free(&in);
}

static void
test_unknown_user_continues(void **st)
{
	const char *cfg[] = {"passwd", passwd_path, NULL};
	struct inst in;

	(void)st;
	inst_load(&in, cfg);
	/* user names are case-sensitive */
	assert_int_equal(
	    auth(&in, "PLAIN", "Alice", "secret", NULL), RMX_CONTINUE);
	assert_int_equal(
	    auth(&in, "PLAIN", "nobody", "secret", NULL), RMX_CONTINUE);
	assert_int_equal(auth(&in, "LOGIN", "", "", NULL), RMX_CONTINUE);
	/* other mechanisms are not ours */
	assert_int_equal(
	    auth(&in, "CRAM-MD5", "alice", "secret", NULL), RMX_CONTINUE);
	inst_free(&in);
}

/* ---- configuration errors ---- */

static void
test_malformed_file(void **st)
{
	const char *cfg[] = {"passwd", bad_path, NULL};
	char err[512], good[256], text[1024], want[256];

	(void)st;
	entry(good, sizeof(good), "alice", "secret");
	snprintf(
	    text, sizeof(text), "# x\n%sbob:$2y$10$abcdefghijklmnopq\n", good);
	write_file(bad_path, text);
	load_error(cfg, err, sizeof(err));
	snprintf(want, sizeof(want), "%s:3:", bad_path);
	assert_non_null(strstr(err, want));
	assert_non_null(strstr(err, "auth_file"));
	assert_non_null(strstr(err, "$argon2id$"));

	snprintf(text, sizeof(text), "\n\n\n\nno colon here\n");
	write_file(bad_path, text);
	load_error(cfg, err, sizeof(err));
	snprintf(want, sizeof(want), "%s:5:", bad_path);
	assert_non_null(strstr(err, want));

	/* a truncated hash (cut inside the salt) */
	snprintf(text, sizeof(text), "%.*s\n", (int)strlen(good) - 46, good);
	write_file(bad_path, text);
	load_error(cfg, err, sizeof(err));
	snprintf(want, sizeof(want), "%s:1:", bad_path);
	assert_non_null(strstr(err, want));

	/* a user name with white space */
	snprintf(
	    text, sizeof(text), "%sbad user:%s", good, strchr(good, ':') + 1);
	write_file(bad_path, text);
	load_error(cfg, err, sizeof(err));
	snprintf(want, sizeof(want), "%s:2:", bad_path);
	assert_non_null(strstr(err, want));

	/* a user twice */
	snprintf(text, sizeof(text), "%s#\n%s", good, good);
	write_file(bad_path, text);
	load_error(cfg, err, sizeof(err));
	snprintf(want, sizeof(want), "%s:3:", bad_path);
	assert_non_null(strstr(err, want));
	assert_non_null(strstr(err, "twice"));

	/* a missing file */
	load_error((const char *[]){"passwd", "/nonexistent/x", NULL}, err,
	    sizeof(err));
	assert_non_null(strstr(err, "/nonexistent/x"));

	/* a bad sender table */
	write_file(bad_path, "alice: alice@example.test\nbob: no-at-sign\n");
	load_error(
	    (const char *[]){"passwd", passwd_path, "senders", bad_path, NULL},
	    err, sizeof(err));
	snprintf(want, sizeof(want), "%s:2:", bad_path);
	assert_non_null(strstr(err, want));
	assert_non_null(strstr(err, "no-at-sign"));
}

static void
test_config_keys(void **st)
{
	char err[512];

	(void)st;
	load_error(
	    (const char *[]){"passwd", passwd_path, "bogus_key", "1", NULL},
	    err, sizeof(err));
	assert_non_null(strstr(err, "auth_file"));
	assert_non_null(strstr(err, "bogus_key"));

	load_error((const char *[]){NULL}, err, sizeof(err));
	assert_non_null(strstr(err, "auth_file"));
	assert_non_null(strstr(err, "passwd"));

	load_error((const char *[]){"passwd", passwd_path, "passwd",
		       passwd_path, NULL},
	    err, sizeof(err));
	assert_non_null(strstr(err, "passwd"));
	assert_non_null(strstr(err, "twice"));

	load_error((const char *[]){"passwd", "", NULL}, err, sizeof(err));
	assert_non_null(strstr(err, "passwd"));
}

/* ---- sender rules ---- */

static void
test_sender_table(void **st)
{
	const char *cfg[] = {
	    "passwd", passwd_path, "senders", senders_path, NULL};
	struct inst in;
	char r[600];

	(void)st;
	write_file(senders_path, "# who may send as what\n"
				 "alice: alice@example.test, @shared.example\n"
				 "alice: a.l@example.test\n"
				 "bob@example.test: postmaster@example.test\n");
	inst_load(&in, cfg);
	assert_int_equal(
	    mail(&in, "alice", "alice@example.test", NULL, 0), RMX_CONTINUE);
	assert_int_equal(
	    mail(&in, "alice", "Alice@Example.TEST", NULL, 0), RMX_CONTINUE);
	assert_int_equal(
	    mail(&in, "alice", "a.l@example.test", NULL, 0), RMX_CONTINUE);
	assert_int_equal(
	    mail(&in, "alice", "anyone@shared.example", NULL, 0), RMX_CONTINUE);
	assert_int_equal(
	    mail(&in, "alice", "<x@SHARED.example>", NULL, 0), RMX_CONTINUE);
	assert_int_equal(mail(&in, "alice", "", NULL, 0), RMX_CONTINUE);
	assert_int_equal(
	    mail(&in, "alice", "bob@example.test", r, sizeof(r)), RMX_REJECT);
	assert_string_equal(r, "553 5.7.1 Sender address <bob@example.test> "
			       "not owned by user <alice>");
	assert_int_equal(
	    mail(&in, "alice", "x@sub.shared.example", NULL, 0), RMX_REJECT);
	assert_int_equal(
	    mail(&in, "alice", "shared.example", NULL, 0), RMX_REJECT);
	/* an address login owns itself, plus its entries */
	assert_int_equal(
	    mail(&in, "bob@example.test", "bob@example.test", NULL, 0),
	    RMX_CONTINUE);
	assert_int_equal(
	    mail(&in, "bob@example.test", "postmaster@example.test", NULL, 0),
	    RMX_CONTINUE);
	assert_int_equal(
	    mail(&in, "bob@example.test", "alice@example.test", NULL, 0),
	    RMX_REJECT);
	/* not in the table, not an address: owns nothing */
	assert_int_equal(
	    mail(&in, "carol", "carol@example.test", r, sizeof(r)), RMX_REJECT);
	assert_string_equal(r, "553 5.7.1 Sender address <carol@example.test> "
			       "not owned by user <carol>");
	/* not authenticated: not our business */
	assert_int_equal(
	    mail(&in, NULL, "bob@example.test", NULL, 0), RMX_CONTINUE);
	inst_free(&in);
}

static void
test_sender_default(void **st)
{
	const char *cfg[] = {"passwd", passwd_path, NULL};
	struct inst in;

	(void)st;
	inst_load(&in, cfg);
	assert_int_equal(
	    mail(&in, "bob@example.test", "bob@example.test", NULL, 0),
	    RMX_CONTINUE);
	assert_int_equal(
	    mail(&in, "bob@example.test", "BOB@example.test", NULL, 0),
	    RMX_CONTINUE);
	assert_int_equal(
	    mail(&in, "bob@example.test", "alice@example.test", NULL, 0),
	    RMX_REJECT);
	assert_int_equal(
	    mail(&in, "alice", "whoever@anywhere.example", NULL, 0),
	    RMX_CONTINUE);
	inst_free(&in);
}

static void
test_from_header(void **st)
{
	const char *cfg[] = {
	    "passwd", passwd_path, "senders", senders_path, NULL};
	struct inst in;
	char r[600];

	(void)st;
	write_file(
	    senders_path, "alice: alice@example.test, @shared.example\n");
	inst_load(&in, cfg);
	assert_int_equal(
	    data(&in, "alice", "Alice <alice@example.test>", NULL, NULL, 0),
	    RMX_CONTINUE);
	assert_int_equal(
	    data(&in, "alice",
		"\"Doe, Alice\" (work)\r\n <alice@example.test>,\r\n"
		"\tteam@shared.example (Team)",
		NULL, NULL, 0),
	    RMX_CONTINUE);
	assert_int_equal(data(&in, "alice",
			     "Team: a@shared.example, "
			     "b@shared.example;",
			     NULL, NULL, 0),
	    RMX_CONTINUE);
	/* mismatch */
	assert_int_equal(
	    data(&in, "alice", "Bob <bob@example.test>", NULL, r, sizeof(r)),
	    RMX_REJECT);
	assert_string_equal(r, "553 5.7.1 Sender address <bob@example.test> "
			       "not owned by user <alice>");
	/* the display name does not count, the address does */
	assert_int_equal(
	    data(&in, "alice", "\"alice@example.test\" <boss@bank.example>",
		NULL, r, sizeof(r)),
	    RMX_REJECT);
	assert_non_null(strstr(r, "<boss@bank.example>"));
	assert_int_equal(
	    data(&in, "alice", "boss@bank.example (alice@example.test)", NULL,
		NULL, 0),
	    RMX_REJECT);
	/* one bad address of several; a second From: field */
	assert_int_equal(
	    data(&in, "alice", "alice@example.test, boss@bank.example", NULL,
		NULL, 0),
	    RMX_REJECT);
	assert_int_equal(data(&in, "alice", "alice@example.test",
			     "boss@bank.example", r, sizeof(r)),
	    RMX_REJECT);
	assert_non_null(strstr(r, "<boss@bank.example>"));
	/* unparseable or empty */
	assert_int_equal(
	    data(&in, "alice", "<alice@example.test", NULL, r, sizeof(r)),
	    RMX_REJECT);
	assert_int_equal(r[0], '5');
	assert_int_equal(
	    data(&in, "alice", "<alice@example.test> boss@bank.example", NULL,
		NULL, 0),
	    RMX_REJECT);
	assert_int_equal(
	    data(&in, "alice", "<alice@><example.test>", NULL, NULL, 0),
	    RMX_REJECT);
	assert_int_equal(data(&in, "alice", "<>", NULL, NULL, 0), RMX_REJECT);
	assert_int_equal(data(&in, "alice", "", NULL, NULL, 0), RMX_REJECT);
	/* no From: at all, or not authenticated: nothing to check here */
	assert_int_equal(data(&in, "alice", NULL, NULL, NULL, 0), RMX_CONTINUE);
	assert_int_equal(
	    data(&in, NULL, "boss@bank.example", NULL, NULL, 0), RMX_CONTINUE);
	inst_free(&in);
}

/* ---- reconfigure ---- */

static void
test_reconfigure(void **st)
{
	const struct rmx_kv kv[] = {{"passwd", passwd_path}, {NULL, NULL}};
	const struct rmx_kv badkv[] = {{"passwd", bad_path}, {NULL, NULL}};
	const char *cfg[] = {"passwd", passwd_path, NULL};
	struct inst in;
	char err[512];

	(void)st;
	inst_load(&in, cfg);
	assert_int_equal(
	    auth(&in, "PLAIN", "alice", "secret", NULL), RMX_ACCEPT);
	write_passwd("changed");
	/* still the loaded tables until reconfigure */
	assert_int_equal(
	    auth(&in, "PLAIN", "alice", "secret", NULL), RMX_ACCEPT);
	assert_int_equal(in.p->reconfigure(in.state, kv, err, sizeof(err)), 0);
	assert_int_equal(
	    auth(&in, "PLAIN", "alice", "secret", NULL), RMX_REJECT);
	assert_int_equal(
	    auth(&in, "PLAIN", "alice", "changed", NULL), RMX_ACCEPT);
	/* a failing reload keeps the tables in force */
	write_file(bad_path, "alice:plaintext\n");
	assert_int_not_equal(
	    in.p->reconfigure(in.state, badkv, err, sizeof(err)), 0);
	assert_non_null(strstr(err, ":1:"));
	assert_int_equal(
	    auth(&in, "PLAIN", "alice", "changed", NULL), RMX_ACCEPT);
	inst_free(&in);
	write_passwd("secret");
}

/* ---- cancellation: a host whose offload only queues the job ---- */

static struct rmx_host_api deferred_api;
static struct {
	rmx_offload_work_fn *work;
	rmx_offload_done_fn *done;
	void *arg;
	struct rmx_call *call;
	int n;
} job;

static int
deferred_offload(struct rmx_call *c, rmx_offload_work_fn *work,
    rmx_offload_done_fn *done, void *arg)
{
	job.work = work;
	job.done = done;
	job.arg = arg;
	job.call = c;
	job.n++;
	return 0;
}

static int
failing_offload(struct rmx_call *c, rmx_offload_work_fn *work,
    rmx_offload_done_fn *done, void *arg)
{
	(void)c;
	(void)work;
	(void)done;
	(void)arg;
	return -ENOMEM;
}

static void
start_auth(const struct rmx_plugin *p, void *ws, struct rmx_call *c,
    const char *user, const char *pw)
{
	fake_call_init(c);
	fake_set_item(c, RMX_ITEM_AUTH_MECH, 0, "PLAIN");
	fake_set_item(c, RMX_ITEM_AUTH_USER, 0, user);
	fake_set_item(c, RMX_ITEM_AUTH_PASS, 0, pw);
	memset(&job, 0, sizeof(job));
	assert_int_equal(fake_hook(p, RMX_HOOK_AUTH)(c, ws), RMX_PENDING);
	assert_int_equal(job.n, 1);
	assert_ptr_equal(job.call, c);
	assert_false(c->completed);
}

static void
test_cancel(void **st)
{
	const struct rmx_kv kv[] = {{"passwd", passwd_path}, {NULL, NULL}};
	const char *cfg[] = {"passwd", passwd_path, NULL};
	struct inst in;
	struct rmx_call c, c2;
	void *state, *ws;
	char err[512];
	const struct rmx_plugin *p;

	(void)st;
	inst_load(&in, cfg);
	p = in.p;
	inst_free(&in);
	deferred_api = *fake_host();
	deferred_api.offload = deferred_offload;
	assert_int_equal(
	    p->init(&deferred_api, kv, &state, err, sizeof(err)), 0);
	assert_int_equal(p->worker_init(state, 1, &ws), 0);

	/* done after work: the normal order */
	start_auth(p, ws, &c, "alice", "secret");
	job.work(job.arg);
	assert_false(c.completed);
	job.done(&c, job.arg);
	assert_true(c.completed);
	assert_int_equal(c.completed_verdict, RMX_ACCEPT);
	fake_call_free(&c);

	/* cancelled before the work ran; the work still runs */
	start_auth(p, ws, &c, "alice", "secret");
	p->cancel(&c, ws);
	fake_call_free(&c); /* the borrowed strings are gone */
	job.work(job.arg);

	/* cancelled after the work ran, before done */
	start_auth(p, ws, &c, "alice", "wrong");
	job.work(job.arg);
	p->cancel(&c, ws);
	fake_call_free(&c);

	/* an unknown user goes through the pool as well (timing) */
	start_auth(p, ws, &c, "mallory", "secret");
	job.work(job.arg);
	job.done(&c, job.arg);
	assert_int_equal(c.completed_verdict, RMX_CONTINUE);
	fake_call_free(&c);

	/* two pending, one cancelled: the other still completes */
	start_auth(p, ws, &c2, "carol", "pw3");
	{
		rmx_offload_work_fn *w2 = job.work;
		rmx_offload_done_fn *d2 = job.done;
		void *a2 = job.arg;
		start_auth(p, ws, &c, "alice", "secret");
		p->cancel(&c, ws);
		p->cancel(&c, ws); /* unknown by now: harmless */
		job.work(job.arg);
		w2(a2);
		d2(&c2, a2);
		assert_int_equal(c2.completed_verdict, RMX_ACCEPT);
	}
	fake_call_free(&c);
	fake_call_free(&c2);

	/* still pending when the worker ends: worker_fini drops it */
	start_auth(p, ws, &c, "alice", "secret");
	fake_call_free(&c);
	p->worker_fini(ws);
	job.work(job.arg); /* the pool finishes afterwards */

	/* offload refused: tempfail, nothing leaks */
	deferred_api.offload = failing_offload;
	assert_int_equal(p->worker_init(state, 1, &ws), 0);
	fake_call_init(&c);
	fake_set_item(&c, RMX_ITEM_AUTH_MECH, 0, "LOGIN");
	fake_set_item(&c, RMX_ITEM_AUTH_USER, 0, "alice");
	fake_set_item(&c, RMX_ITEM_AUTH_PASS, 0, "secret");
	assert_int_equal(fake_hook(p, RMX_HOOK_AUTH)(&c, ws), RMX_TEMPFAIL);
	assert_int_equal(c.reply_code, 454);
	assert_string_equal(c.reply_enh, "4.7.0");
	fake_call_free(&c);
	p->worker_fini(ws);
	p->fini(state);
}

static int
setup(void **st)
{
	(void)st;
	if (sodium_init() < 0)
		return -1;
	snprintf(dir, sizeof(dir), "/tmp/rmx-af-XXXXXX");
	if (mkdtemp(dir) == NULL)
		return -1;
	snprintf(passwd_path, sizeof(passwd_path), "%s/passwd", dir);
	snprintf(senders_path, sizeof(senders_path), "%s/senders", dir);
	snprintf(bad_path, sizeof(bad_path), "%s/bad", dir);
	write_passwd("secret");
	return 0;
}

static int
teardown(void **st)
{
	(void)st;
	unlink(passwd_path);
	unlink(senders_path);
	unlink(bad_path);
	rmdir(dir);
	return 0;
}

/* main - run the auth_file plugin unit tests */
int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_good_password_accepts),
	    cmocka_unit_test(test_bad_password_rejects),
	    cmocka_unit_test(test_unknown_user_continues),
	    cmocka_unit_test(test_malformed_file),
	    cmocka_unit_test(test_config_keys),
	    cmocka_unit_test(test_sender_table),
	    cmocka_unit_test(test_sender_default),
	    cmocka_unit_test(test_from_header),
	    cmocka_unit_test(test_reconfigure),
	    cmocka_unit_test(test_cancel),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
