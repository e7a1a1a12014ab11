/*
 * test_plugin_rcpt_table.c - the rcpt_table plugin through the fake host:
 * valid, unknown and catch-all recipients, aliases (several targets,
 * recursive, nesting limit, loops), sub-addresses, case, foreign domains,
 * configuration and table errors, reconfigure, a large table, and the
 * entry point's ABI check.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <dlfcn.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fake_host.h"

#define SO "build/asan/plugins/rcpt_table.so"

struct fixture {
	char path[64];
	const struct rmx_plugin *p;
	void *st;
	void *ws;
	char err[512];
	struct rmx_call call;
};

static void
write_table(struct fixture *f, const char *text)
{
	int fd;

	snprintf(f->path, sizeof(f->path), "/tmp/rmx_rcpt_XXXXXX");
	fd = mkstemp(f->path);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
	close(fd);
}

/* Load the plugin over a table with text; delim NULL = default. Returns
 * whether init succeeded (the message is in f->err). */
static bool
try_load(struct fixture *f, const char *text, const char *delim)
{
	const char *cfg[] = {"table", f->path, "delimiter", delim, NULL};

	memset(f, 0, sizeof(*f));
	write_table(f, text);
	if (delim == NULL)
		cfg[2] = NULL;
	f->p = fake_load(SO, cfg, &f->st, f->err, sizeof(f->err));
	if (f->p == NULL)
		return false;
	assert_int_equal(f->p->worker_init(f->st, 0, &f->ws), 0);
	return true;
}

static void
load(struct fixture *f, const char *text, const char *delim)
{
	if (!try_load(f, text, delim))
		fail_msg("load failed: %s", f->err);
}

static void
unload(struct fixture *f)
{
	fake_call_free(&f->call);
	if (f->p != NULL) {
		f->p->worker_fini(f->ws);
		f->p->fini(f->st);
	}
	unlink(f->path);
	f->p = NULL;
}

/* Run the RCPT hook for addr on a fresh call. */
static enum rmx_verdict
rcpt(struct fixture *f, const char *addr)
{
	rmx_hook_fn *fn = fake_hook(f->p, RMX_HOOK_RCPT);

	assert_non_null(fn);
	fake_call_free(&f->call);
	fake_call_init(&f->call);
	fake_set_item(&f->call, RMX_ITEM_RCPT_CURRENT, 0, addr);
	return fn(&f->call, f->ws);
}

static void
assert_rejected(struct fixture *f, const char *addr)
{
	char want[600];

	assert_int_equal(rcpt(f, addr), RMX_REJECT);
	assert_int_equal(f->call.reply_code, 550);
	assert_string_equal(f->call.reply_enh, "5.1.1");
	snprintf(want, sizeof(want),
	    "<%s>: Recipient address rejected: User unknown", addr);
	assert_string_equal(f->call.reply_text, want);
	assert_false(f->call.replace_called);
}

static void
assert_accepted(struct fixture *f, const char *addr)
{
	assert_int_equal(rcpt(f, addr), RMX_ACCEPT);
	assert_false(f->call.replace_called);
	assert_int_equal(f->call.reply_code, 0);
}

/* Expect addr to be replaced by exactly the n targets given. */
static void
assert_alias(struct fixture *f, const char *addr, size_t n, ...)
{
	va_list ap;

	assert_int_equal(rcpt(f, addr), RMX_ACCEPT);
	assert_true(f->call.replace_called);
	assert_int_equal(f->call.nreplaced, n);
	va_start(ap, n);
	for (size_t i = 0; i < n; i++)
		assert_string_equal(f->call.replaced[i], va_arg(ap, char *));
	va_end(ap);
}

static void
test_valid_and_unknown(void **state)
{
	struct fixture f;

	(void)state;
	load(&f,
	    "# recipients of example.org\n"
	    "alice@example.org\n"
	    "  bob@example.org   # bob\n"
	    "\n"
	    "carol@other.example\n",
	    NULL);
	assert_accepted(&f, "alice@example.org");
	assert_accepted(&f, "bob@example.org");
	assert_accepted(&f, "carol@other.example");
	assert_rejected(&f, "nobody@example.org");
	assert_rejected(&f, "alice@other.example");
	assert_rejected(&f, "alic@example.org");
	unload(&f);
}

static void
test_catch_all(void **state)
{
	struct fixture f;

	(void)state;
	load(&f,
	    "@catch.example\n"
	    "boss@catch.example: alice@example.org\n"
	    "alice@example.org\n",
	    NULL);
	assert_accepted(&f, "anything@catch.example");
	assert_accepted(&f, "x.y+z@CATCH.example");
	/* an explicit entry wins over the catch-all */
	assert_alias(&f, "boss@catch.example", 1, "alice@example.org");
	/* a catch-all covers its domain only */
	assert_int_equal(rcpt(&f, "x@sub.catch.example"), RMX_CONTINUE);
	assert_rejected(&f, "bob@example.org");
	unload(&f);
}

static void
test_alias_multi(void **state)
{
	struct fixture f;

	(void)state;
	load(&f,
	    "alice@example.org\n"
	    "bob@example.org\n"
	    "info@example.org: alice@example.org, bob@example.org,"
	    " ext@remote.example\n"
	    "sales@example.org: alice@example.org bob@example.org\n"
	    "dup@example.org: alice@example.org, ALICE@example.org\n"
	    "typo@example.org: alicee@example.org\n",
	    NULL);
	assert_alias(&f, "info@example.org", 3, "alice@example.org",
	    "bob@example.org", "ext@remote.example");
	/* blanks separate targets as well as commas */
	assert_alias(
	    &f, "sales@example.org", 2, "alice@example.org", "bob@example.org");
	/* the same target twice (case-insensitively) is delivered once */
	assert_alias(&f, "dup@example.org", 1, "alice@example.org");
	/* a target the table does not know is kept (and logged at load) */
	assert_alias(&f, "typo@example.org", 1, "alicee@example.org");
	assert_rejected(&f, "alicee@example.org");
	unload(&f);
}

static void
test_alias_recursive(void **state)
{
	struct fixture f;

	(void)state;
	load(&f,
	    "all@example.org: staff@example.org, board@example.org, "
	    "ceo@example.org\n"
	    "staff@example.org: alice@example.org, bob@example.org\n"
	    "board@example.org: ceo@example.org, chair@remote.example\n"
	    "ceo@example.org: carol@example.org\n"
	    "alice@example.org\nbob@example.org\ncarol@example.org\n",
	    NULL);
	/* depth first, in table order, each final target once */
	assert_alias(&f, "all@example.org", 4, "alice@example.org",
	    "bob@example.org", "carol@example.org", "chair@remote.example");
	assert_alias(&f, "board@example.org", 2, "carol@example.org",
	    "chair@remote.example");
	assert_accepted(&f, "carol@example.org");
	unload(&f);
}

/* A chain of n aliases a1 -> a2 -> ... -> an -> end@example.org. */
static char *
chain(int n)
{
	char *buf = malloc(64 * (size_t)n + 64), *p = buf;

	assert_non_null(buf);
	for (int i = 1; i < n; i++)
		p += sprintf(p, "a%d@example.org: a%d@example.org\n", i, i + 1);
	p += sprintf(p, "a%d@example.org: end@example.org\n", n);
	sprintf(p, "end@example.org\n");
	return buf;
}

static void
test_alias_depth_limit(void **state)
{
	struct fixture f;
	char *t10 = chain(10), *t11 = chain(11);

	(void)state;
	load(&f, t10, NULL);
	assert_alias(&f, "a1@example.org", 1, "end@example.org");
	assert_alias(&f, "a10@example.org", 1, "end@example.org");
	unload(&f);

	assert_false(try_load(&f, t11, NULL));
	assert_non_null(strstr(f.err, "rcpt_table: "));
	assert_non_null(strstr(f.err, f.path));
	assert_non_null(strstr(f.err, ":1: alias a1@example.org is nested"));
	assert_non_null(strstr(f.err, "10 levels"));
	unload(&f);
	free(t10);
	free(t11);
}

static void
test_alias_loop(void **state)
{
	struct fixture f;
	char want[128];

	(void)state;
	assert_false(try_load(&f,
	    "alice@example.org\n"
	    "a@example.org: alice@example.org, b@example.org\n"
	    "b@example.org: c@example.org\n"
	    "c@example.org: A@example.org\n",
	    NULL));
	snprintf(want, sizeof(want), "rcpt_table: %s:2: alias loop: ", f.path);
	assert_non_null(strstr(f.err, want));
	assert_non_null(
	    strstr(f.err, "a@example.org -> b@example.org -> c@example.org -> "
			  "a@example.org"));
	unload(&f);

	/* an alias to itself */
	assert_false(
	    try_load(&f, "\n\nme@example.org: me@example.org\n", NULL));
	assert_non_null(strstr(f.err, ":3: alias loop: me@example.org -> "
				      "me@example.org"));
	unload(&f);

	/* a loop through the sub-address form */
	assert_false(
	    try_load(&f, "x@example.org: x+again@example.org\n", NULL));
	assert_non_null(strstr(f.err, ":1: alias loop"));
	unload(&f);
}

static void
test_sub_address(void **state)
{
	struct fixture f;

	(void)state;
	load(&f,
	    "alice@example.org\n"
	    "list@example.org: alice@example.org, bob@remote.example\n"
	    "carol+special@example.org\n",
	    NULL);
	/* accepted and kept as given (no rewrite) */
	assert_accepted(&f, "alice+news@example.org");
	assert_accepted(&f, "alice+@example.org");
	assert_accepted(&f, "alice+a+b@example.org");
	/* an alias with a tag expands like the alias */
	assert_alias(&f, "list+x@example.org", 2, "alice@example.org",
	    "bob@remote.example");
	/* the exact address is tried before the stripped one */
	assert_accepted(&f, "carol+special@example.org");
	assert_rejected(&f, "carol+other@example.org");
	assert_rejected(&f, "carol@example.org");
	/* only the local part before the delimiter counts */
	assert_rejected(&f, "alicex+y@example.org");
	assert_rejected(&f, "+alice@example.org");
	assert_rejected(&f, "alice-news@example.org");
	unload(&f);

	/* other delimiters: each character is one */
	load(&f, "alice@example.org\n", "-+");
	assert_accepted(&f, "alice-news@example.org");
	assert_accepted(&f, "alice+news@example.org");
	unload(&f);

	/* empty: off */
	load(&f, "alice@example.org\n", "");
	assert_rejected(&f, "alice+news@example.org");
	assert_accepted(&f, "alice@example.org");
	unload(&f);
}

static void
test_case_insensitive(void **state)
{
	struct fixture f;

	(void)state;
	load(&f,
	    "Alice@Example.ORG\n"
	    "Info@example.org: Alice@Example.org, Ext@Remote.Example\n",
	    NULL);
	assert_accepted(&f, "alice@example.org");
	assert_accepted(&f, "ALICE@EXAMPLE.ORG");
	assert_accepted(&f, "aLiCe+Tag@eXample.org");
	/* targets are kept as written */
	assert_alias(&f, "INFO@EXAMPLE.ORG", 2, "Alice@Example.org",
	    "Ext@Remote.Example");
	/* the reply quotes the address as given */
	assert_rejected(&f, "NoBody@Example.Org");
	unload(&f);
}

static void
test_foreign_domain_continues(void **state)
{
	struct fixture f;

	(void)state;
	load(&f, "alice@example.org\nx@example.net: y@target.example\n", NULL);
	assert_int_equal(rcpt(&f, "alice@example.com"), RMX_CONTINUE);
	assert_int_equal(rcpt(&f, "alice@sub.example.org"), RMX_CONTINUE);
	assert_int_equal(rcpt(&f, "alice@org"), RMX_CONTINUE);
	/* a target's domain does not become the table's domain */
	assert_int_equal(rcpt(&f, "y@target.example"), RMX_CONTINUE);
	assert_int_equal(rcpt(&f, "postmaster"), RMX_CONTINUE);
	assert_int_equal(rcpt(&f, ""), RMX_CONTINUE);
	assert_int_equal(f.call.reply_code, 0);
	assert_false(f.call.replace_called);
	/* no recipient item at all */
	fake_call_free(&f.call);
	fake_call_init(&f.call);
	assert_int_equal(
	    fake_hook(f.p, RMX_HOOK_RCPT)(&f.call, f.ws), RMX_CONTINUE);
	unload(&f);
}

static void
test_address_forms(void **state)
{
	struct fixture f;

	(void)state;
	load(&f, "alice@example.org\nweird#local@example.org\n", NULL);
	/* one trailing dot on the domain, angle brackets */
	assert_accepted(&f, "alice@example.org.");
	assert_accepted(&f, "<alice@example.org>");
	/* '#' inside a word is not a comment */
	assert_accepted(&f, "weird#local@example.org");
	assert_rejected(&f, "weird@example.org");
	unload(&f);
}

static void
test_config_errors(void **state)
{
	struct fixture f;
	const char *cfg[7];

	(void)state;
	memset(&f, 0, sizeof(f));
	write_table(&f, "alice@example.org\n");

	cfg[0] = "tabel";
	cfg[1] = f.path;
	cfg[2] = NULL;
	assert_null(fake_load(SO, cfg, &f.st, f.err, sizeof(f.err)));
	assert_string_equal(f.err, "rcpt_table: unknown key \"tabel\"");

	cfg[0] = "table";
	cfg[2] = "delimeter";
	cfg[3] = "+";
	cfg[4] = NULL;
	assert_null(fake_load(SO, cfg, &f.st, f.err, sizeof(f.err)));
	assert_string_equal(f.err, "rcpt_table: unknown key \"delimeter\"");

	cfg[2] = "delimiter";
	cfg[3] = "@";
	assert_null(fake_load(SO, cfg, &f.st, f.err, sizeof(f.err)));
	assert_non_null(strstr(f.err, "rcpt_table: bad value for key "
				      "\"delimiter\""));

	cfg[2] = "table";
	cfg[3] = f.path;
	assert_null(fake_load(SO, cfg, &f.st, f.err, sizeof(f.err)));
	assert_string_equal(f.err, "rcpt_table: key \"table\" given twice");

	cfg[0] = NULL;
	assert_null(fake_load(SO, cfg, &f.st, f.err, sizeof(f.err)));
	assert_string_equal(f.err, "rcpt_table: key \"table\" is required");

	cfg[0] = "table";
	cfg[1] = "/nonexistent/ringmx/recipients";
	cfg[2] = NULL;
	assert_null(fake_load(SO, cfg, &f.st, f.err, sizeof(f.err)));
	assert_string_equal(f.err, "rcpt_table: /nonexistent/ringmx/"
				   "recipients: No such file or directory");
	unlink(f.path);
}

/* Load text and expect an error at line (text of the message: want). */
static void
expect_table_error(const char *text, unsigned line, const char *want)
{
	struct fixture f;
	char where[128];

	assert_false(try_load(&f, text, NULL));
	snprintf(where, sizeof(where), "rcpt_table: %s:%u: ", f.path, line);
	if (strncmp(f.err, where, strlen(where)) != 0 ||
	    strstr(f.err, want) == NULL)
		fail_msg("got \"%s\", want \"%s...%s\"", f.err, where, want);
	unload(&f);
}

static void
test_table_errors(void **state)
{
	(void)state;
	expect_table_error(
	    "alice@example.org\nnot an address\n", 2, "unexpected blank");
	expect_table_error("alice\n", 1, "bad address \"alice\"");
	expect_table_error("alice@\n", 1, "bad address");
	expect_table_error("alice@exa_mple.org\n", 1, "bad address");
	expect_table_error("@\n", 1, "bad domain in catch-all");
	expect_table_error("@example.org: x@y.example\n", 1,
	    "a catch-all (@domain) cannot be an alias");
	expect_table_error("a@example.org:\n", 1, "alias without targets");
	expect_table_error("a@example.org: ,\n", 1, "alias without targets");
	expect_table_error(
	    "a@example.org: bob\n", 1, "bad alias target \"bob\"");
	expect_table_error("# x\nalice@example.org\nALICE@example.org\n", 3,
	    "duplicate entry for ALICE@example.org (first at line 2)");
	expect_table_error("a@example.org\na@example.org: b@example.org\n", 2,
	    "duplicate entry");
	expect_table_error(
	    "@example.org\n@Example.org\n", 2, "duplicate catch-all");
}

static void
test_reconfigure(void **state)
{
	struct fixture f;
	char path2[64] = "/tmp/rmx_rcpt2_XXXXXX";
	const char *text2 = "bob@example.org\n";
	const struct rmx_kv cfg_bad[] = {{"tabel", path2}, {NULL, NULL}};
	const struct rmx_kv cfg_broken[] = {
	    {"table", "/nonexistent/x"}, {NULL, NULL}};
	const struct rmx_kv cfg_new[] = {
	    {"table", path2}, {"delimiter", "-"}, {NULL, NULL}};
	int fd;

	(void)state;
	load(&f, "alice@example.org\n", NULL);
	assert_non_null(f.p->reconfigure);
	fd = mkstemp(path2);
	assert_true(fd >= 0);
	assert_int_equal(
	    write(fd, text2, strlen(text2)), (ssize_t)strlen(text2));
	close(fd);

	/* a failed reload leaves the old table in force */
	assert_int_not_equal(
	    f.p->reconfigure(f.st, cfg_bad, f.err, sizeof(f.err)), 0);
	assert_string_equal(f.err, "rcpt_table: unknown key \"tabel\"");
	assert_int_not_equal(
	    f.p->reconfigure(f.st, cfg_broken, f.err, sizeof(f.err)), 0);
	assert_accepted(&f, "alice@example.org");

	assert_int_equal(
	    f.p->reconfigure(f.st, cfg_new, f.err, sizeof(f.err)), 0);
	assert_accepted(&f, "bob@example.org");
	assert_accepted(&f, "bob-tag@example.org");
	assert_rejected(&f, "bob+tag@example.org");
	assert_rejected(&f, "alice@example.org");
	/* and again: every retired table is freed at fini (LeakSanitizer) */
	assert_int_equal(
	    f.p->reconfigure(f.st, cfg_new, f.err, sizeof(f.err)), 0);
	assert_accepted(&f, "bob@example.org");
	unlink(path2);
	unload(&f);
}

struct reader {
	struct fixture *f;
	atomic_int *stop;
	long bad, done;
};

/* A worker thread: look up both addresses until told to stop; every
 * answer must come from one of the two tables. */
static void *
reader_main(void *arg)
{
	struct reader *r = arg;
	rmx_hook_fn *fn = fake_hook(r->f->p, RMX_HOOK_RCPT);
	struct rmx_call c;
	void *ws = NULL;

	if (r->f->p->worker_init(r->f->st, 1, &ws) != 0) {
		r->bad++;
		return NULL;
	}
	while (!atomic_load(r->stop)) {
		static const char *const addrs[] = {
		    "alice@example.org", "bob@example.org", "eve@example.org"};
		enum rmx_verdict v[3];

		for (int i = 0; i < 3; i++) {
			fake_call_init(&c);
			fake_set_item(&c, RMX_ITEM_RCPT_CURRENT, 0, addrs[i]);
			v[i] = fn(&c, ws);
			fake_call_free(&c);
		}
		if (v[0] == RMX_CONTINUE || v[1] == RMX_CONTINUE ||
		    v[2] != RMX_REJECT)
			r->bad++;
		r->done++;
	}
	r->f->p->worker_fini(ws);
	return NULL;
}

static void
test_reconfigure_while_reading(void **state)
{
	struct fixture f;
	char path2[64] = "/tmp/rmx_rcpt3_XXXXXX";
	const char *text2 = "bob@example.org\n";
	struct rmx_kv cfg[] = {{"table", NULL}, {NULL, NULL}};
	struct reader r[4];
	pthread_t th[4];
	atomic_int stop = 0;
	int fd;

	(void)state;
	load(&f, "alice@example.org\n", NULL);
	fd = mkstemp(path2);
	assert_true(fd >= 0);
	assert_int_equal(
	    write(fd, text2, strlen(text2)), (ssize_t)strlen(text2));
	close(fd);
	for (int i = 0; i < 4; i++) {
		r[i] = (struct reader){&f, &stop, 0, 0};
		assert_int_equal(
		    pthread_create(&th[i], NULL, reader_main, &r[i]), 0);
	}
	for (int i = 0; i < 200; i++) {
		cfg[0].value = i % 2 ? f.path : path2;
		assert_int_equal(
		    f.p->reconfigure(f.st, cfg, f.err, sizeof(f.err)), 0);
	}
	atomic_store(&stop, 1);
	for (int i = 0; i < 4; i++) {
		assert_int_equal(pthread_join(th[i], NULL), 0);
		assert_int_equal(r[i].bad, 0);
		assert_true(r[i].done > 0);
	}
	unlink(path2);
	unload(&f);
}

static void
test_large_table(void **state)
{
	struct fixture f;
	enum { N = 50000 };
	char *text = malloc((size_t)N * 48), *p = text;
	char addr[64];

	(void)state;
	assert_non_null(text);
	for (int i = 0; i < N; i++)
		p += sprintf(p, "user%d@d%d.example\n", i, i % 97);
	load(&f, text, NULL);
	for (int i = 0; i < N; i += 7) {
		snprintf(addr, sizeof(addr), "USER%d@d%d.example", i, i % 97);
		assert_int_equal(rcpt(&f, addr), RMX_ACCEPT);
		snprintf(
		    addr, sizeof(addr), "user%d@d%d.example", i, (i + 1) % 97);
		assert_int_equal(rcpt(&f, addr), RMX_REJECT);
	}
	unload(&f);
	free(text);
}

static void
test_rcpt_replace_failure(void **state)
{
	struct fixture f;
	char *text = malloc(100 * 32), *p = text;

	(void)state;
	assert_non_null(text);
	/* the fake host refuses more than FAKE_MAX addresses */
	p += sprintf(p, "big@example.org:");
	for (int i = 0; i <= FAKE_MAX; i++)
		p += sprintf(p, " u%d@remote.example", i);
	sprintf(p, "\n");
	load(&f, text, NULL);
	assert_int_equal(rcpt(&f, "big@example.org"), RMX_TEMPFAIL);
	assert_int_equal(f.call.reply_code, 451);
	assert_string_equal(f.call.reply_enh, "4.3.0");
	unload(&f);
	free(text);
}

static void
test_entry_abi(void **state)
{
	void *h = dlopen(SO, RTLD_NOW | RTLD_LOCAL);
	const struct rmx_plugin *(*entry)(uint32_t, const char **);
	const struct rmx_plugin *p;
	const char *why = NULL;

	(void)state;
	assert_non_null(h);
	*(void **)&entry = dlsym(h, RMX_PLUGIN_ENTRY_NAME);
	assert_non_null(entry);
	assert_null(entry(0x00020000, &why));
	assert_non_null(why);
	assert_true(strlen(why) > 0);
	why = NULL;
	assert_null(entry(0x00000003, &why));
	assert_non_null(why);
	/* a newer minor of ABI 1 is fine */
	p = entry(0x00010007, &why);
	assert_non_null(p);
	assert_string_equal(p->name, "rcpt_table");
	assert_int_equal(p->abi_version, RMX_PLUGIN_ABI_VERSION);
	assert_int_equal(p->size, sizeof(struct rmx_plugin));
	assert_non_null(fake_hook(p, RMX_HOOK_RCPT));
	assert_null(fake_hook(p, RMX_HOOK_MAIL));
	/* only the entry point is exported */
	assert_null(dlsym(h, "table_load"));
	assert_null(dlsym(h, "rt_rcpt"));
	dlclose(h);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_valid_and_unknown),
	    cmocka_unit_test(test_catch_all),
	    cmocka_unit_test(test_alias_multi),
	    cmocka_unit_test(test_alias_recursive),
	    cmocka_unit_test(test_alias_depth_limit),
	    cmocka_unit_test(test_alias_loop),
	    cmocka_unit_test(test_sub_address),
	    cmocka_unit_test(test_case_insensitive),
	    cmocka_unit_test(test_foreign_domain_continues),
	    cmocka_unit_test(test_address_forms),
	    cmocka_unit_test(test_config_errors),
	    cmocka_unit_test(test_table_errors),
	    cmocka_unit_test(test_reconfigure),
	    cmocka_unit_test(test_reconfigure_while_reading),
	    cmocka_unit_test(test_large_table),
	    cmocka_unit_test(test_rcpt_replace_failure),
	    cmocka_unit_test(test_entry_abi),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
