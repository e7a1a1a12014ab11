/*
 * test_plugin_route_table.c - the route_table plugin through the fake
 * host: lookup precedence (address, domain, parent domains, default),
 * subdomains, no match, transport syntax and other table errors with
 * file:line, configuration errors, reconfigure, the entry point's ABI
 * check.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fake_host.h"

#define SO "build/asan/plugins/route_table.so"

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

	snprintf(f->path, sizeof(f->path), "/tmp/rmx_route_XXXXXX");
	fd = mkstemp(f->path);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
	close(fd);
}

static bool
try_load(struct fixture *f, const char *text)
{
	const char *cfg[] = {"table", f->path, NULL};

	memset(f, 0, sizeof(*f));
	write_table(f, text);
	f->p = fake_load(SO, cfg, &f->st, f->err, sizeof(f->err));
	if (f->p == NULL)
		return false;
	assert_int_equal(f->p->worker_init(f->st, 0, &f->ws), 0);
	return true;
}

static void
load(struct fixture *f, const char *text)
{
	if (!try_load(f, text))
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

/* Run the ROUTE hook for addr; the chosen transport is f->call.route. */
static enum rmx_verdict
route(struct fixture *f, const char *addr)
{
	rmx_hook_fn *fn = fake_hook(f->p, RMX_HOOK_ROUTE);

	assert_non_null(fn);
	fake_call_free(&f->call);
	fake_call_init(&f->call);
	fake_set_item(&f->call, RMX_ITEM_RCPT_CURRENT, 0, addr);
	return fn(&f->call, f->ws);
}

static void
assert_route(struct fixture *f, const char *addr, const char *transport)
{
	enum rmx_verdict v = route(f, addr);

	if (v != RMX_ACCEPT || strcmp(f->call.route, transport) != 0)
		fail_msg("%s: verdict %d route \"%s\", want \"%s\"", addr, v,
		    f->call.route, transport);
}

static void
assert_no_route(struct fixture *f, const char *addr)
{
	assert_int_equal(route(f, addr), RMX_CONTINUE);
	assert_string_equal(f->call.route, "");
}

static const char precedence[] =
    "# routes\n"
    ".example.org          smtp:[relay.example.org]:587\n"
    "*                     mx\n"
    "example.org           maildir\n"
    "boss@example.org      lmtp:unix:/run/dovecot/lmtp\n"
    ".lab.example.org      lmtp:[10.0.0.5]:24\n"
    "lab.example.org       hold\n"
    "x.lab.example.org     discard   # exact beats .lab\n"
    "Spam@Lab.Example.Org  discard\n";

static void
test_precedence(void **state)
{
	struct fixture f;

	(void)state;
	load(&f, precedence);
	/* exact address beats its domain */
	assert_route(&f, "boss@example.org", "lmtp:unix:/run/dovecot/lmtp");
	/* exact domain beats the default and ".parent" */
	assert_route(&f, "alice@example.org", "maildir");
	assert_route(&f, "alice@lab.example.org", "hold");
	assert_route(&f, "alice@x.lab.example.org", "discard");
	/* the most specific ".parent" wins */
	assert_route(&f, "alice@y.lab.example.org", "lmtp:[10.0.0.5]:24");
	assert_route(&f, "alice@a.b.lab.example.org", "lmtp:[10.0.0.5]:24");
	assert_route(
	    &f, "alice@www.example.org", "smtp:[relay.example.org]:587");
	/* an address entry covers that address only */
	assert_route(&f, "spam@lab.example.org", "discard");
	assert_route(&f, "spam2@lab.example.org", "hold");
	/* the default */
	assert_route(&f, "alice@example.com", "mx");
	assert_route(&f, "alice@org", "mx");
	assert_route(&f, "postmaster", "mx");
	unload(&f);
}

static void
test_subdomains(void **state)
{
	struct fixture f;

	(void)state;
	load(&f, ".example.net smtp:[::1]:25\n");
	assert_no_route(&f, "a@example.net"); /* not the domain itself */
	assert_route(&f, "a@sub.example.net", "smtp:[::1]:25");
	assert_route(&f, "a@deep.sub.example.net", "smtp:[::1]:25");
	assert_no_route(&f, "a@badexample.net");
	assert_no_route(&f, "a@example.net.evil");
	unload(&f);
}

static void
test_case_and_forms(void **state)
{
	struct fixture f;

	(void)state;
	load(&f, "Example.ORG maildir\nBoss@example.org hold\n");
	assert_route(&f, "x@EXAMPLE.org", "maildir");
	assert_route(&f, "BOSS@Example.Org", "hold");
	assert_route(&f, "x@example.org.", "maildir");
	assert_route(&f, "boss@example.org.", "hold");
	assert_route(&f, "<x@example.org>", "maildir");
	unload(&f);
}

static void
test_no_match_continues(void **state)
{
	struct fixture f;

	(void)state;
	load(&f, "example.org maildir\n");
	assert_no_route(&f, "a@example.com");
	assert_no_route(&f, "postmaster");
	assert_no_route(&f, "");
	fake_call_free(&f.call);
	fake_call_init(&f.call);
	assert_int_equal(
	    fake_hook(f.p, RMX_HOOK_ROUTE)(&f.call, f.ws), RMX_CONTINUE);
	unload(&f);

	/* an empty table routes nothing */
	load(&f, "# nothing yet\n\n");
	assert_no_route(&f, "a@example.org");
	unload(&f);
}

static void
test_transports(void **state)
{
	static const char *const good[] = {
	    "maildir",
	    "mx",
	    "hold",
	    "discard",
	    "lmtp:[localhost]:24",
	    "lmtp:[192.0.2.1]:65535",
	    "lmtp:[2001:db8::1]:24",
	    "lmtp:unix:/var/run/lmtp.sock",
	    "smtp:[smarthost.example.net]:587",
	    "smtp:[192.0.2.7]:1",
	};
	struct fixture f;
	char text[256];

	(void)state;
	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		snprintf(text, sizeof(text), "example.org %s\n", good[i]);
		load(&f, text);
		assert_route(&f, "a@example.org", good[i]);
		unload(&f);
	}
}

/* Load text and expect an error at line whose text contains want. */
static void
expect_table_error(const char *text, unsigned line, const char *want)
{
	struct fixture f;
	char where[128];

	assert_false(try_load(&f, text));
	snprintf(where, sizeof(where), "route_table: %s:%u: ", f.path, line);
	if (strncmp(f.err, where, strlen(where)) != 0 ||
	    strstr(f.err, want) == NULL)
		fail_msg("got \"%s\", want \"%s...%s\"", f.err, where, want);
	unload(&f);
}

static void
test_bad_transport(void **state)
{
	static const char *const bad[] = {
	    "local",
	    "Maildir",
	    "lmtp",
	    "lmtp:",
	    "lmtp:host:24",
	    "lmtp:[host]",
	    "lmtp:[host]:",
	    "lmtp:[host]:0",
	    "lmtp:[host]:65536",
	    "lmtp:[host]:24x",
	    "lmtp:[]:24",
	    "lmtp:[bad_host]:24",
	    "lmtp:[2001:db8::zz]:24",
	    "lmtp:unix:",
	    "lmtp:unix:relative/path",
	    "lmtp:unix:/",
	    "smtp:[host]:-1",
	    "smtp:[host]:25:",
	    "smtp:host",
	    "unix:/run/x",
	};
	char text[256];

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		snprintf(text, sizeof(text),
		    "# table\nexample.org maildir\n\nx.example %s\n", bad[i]);
		expect_table_error(text, 4, "bad transport");
	}
	/* a unix socket path longer than sun_path */
	snprintf(text, sizeof(text), "x.example lmtp:unix:/%0120d\n", 0);
	expect_table_error(text, 1, "bad transport");
}

static void
test_table_errors(void **state)
{
	(void)state;
	expect_table_error("example.org\n", 1, "has no transport");
	expect_table_error("a@b@c mx\n", 1, "bad key \"a@b@c\"");
	expect_table_error("example.org mx extra\n", 1,
	    "unexpected \"extra\" after the transport");
	expect_table_error("exa_mple.org mx\n", 1, "bad key");
	expect_table_error("@example.org mx\n", 1, "bad key");
	expect_table_error("user@ mx\n", 1, "bad key");
	expect_table_error(". mx\n", 1, "bad key");
	expect_table_error("..example.org mx\n", 1, "bad key");
	expect_table_error("** mx\n", 1, "bad key");
	expect_table_error("*.example.org mx\n", 1, "bad key");
	expect_table_error("example.org mx\n\nEXAMPLE.org hold\n", 3,
	    "duplicate key \"EXAMPLE.org\" (first at line 1)");
	expect_table_error("* mx\n* hold\n", 2, "duplicate key");
}

static void
test_config_errors(void **state)
{
	struct fixture f;
	const char *cfg[5];

	(void)state;
	memset(&f, 0, sizeof(f));
	write_table(&f, "* mx\n");

	cfg[0] = "tabel";
	cfg[1] = f.path;
	cfg[2] = NULL;
	assert_null(fake_load(SO, cfg, &f.st, f.err, sizeof(f.err)));
	assert_string_equal(f.err, "route_table: unknown key \"tabel\"");

	cfg[0] = "table";
	cfg[2] = "table";
	cfg[3] = f.path;
	cfg[4] = NULL;
	assert_null(fake_load(SO, cfg, &f.st, f.err, sizeof(f.err)));
	assert_string_equal(f.err, "route_table: key \"table\" given twice");

	cfg[0] = NULL;
	assert_null(fake_load(SO, cfg, &f.st, f.err, sizeof(f.err)));
	assert_string_equal(f.err, "route_table: key \"table\" is required");

	cfg[0] = "table";
	cfg[1] = "/nonexistent/ringmx/routes";
	cfg[2] = NULL;
	assert_null(fake_load(SO, cfg, &f.st, f.err, sizeof(f.err)));
	assert_string_equal(f.err, "route_table: /nonexistent/ringmx/routes: "
				   "No such file or directory");
	unlink(f.path);
}

static void
test_reconfigure(void **state)
{
	struct fixture f;
	char path2[64] = "/tmp/rmx_route2_XXXXXX";
	const char *text2 = "example.org hold\n";
	const struct rmx_kv cfg_bad[] = {{"table", path2}, {"x", "1"}, {0, 0}};
	const struct rmx_kv cfg_new[] = {{"table", path2}, {NULL, NULL}};
	int fd;

	(void)state;
	load(&f, "example.org maildir\n");
	assert_non_null(f.p->reconfigure);
	fd = mkstemp(path2);
	assert_true(fd >= 0);
	assert_int_equal(
	    write(fd, text2, strlen(text2)), (ssize_t)strlen(text2));
	close(fd);
	assert_int_not_equal(
	    f.p->reconfigure(f.st, cfg_bad, f.err, sizeof(f.err)), 0);
	assert_string_equal(f.err, "route_table: unknown key \"x\"");
	assert_route(&f, "a@example.org", "maildir");
	assert_int_equal(
	    f.p->reconfigure(f.st, cfg_new, f.err, sizeof(f.err)), 0);
	assert_route(&f, "a@example.org", "hold");
	unlink(path2);
	unload(&f);
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
	p = entry(RMX_PLUGIN_ABI_VERSION, &why);
	assert_non_null(p);
	assert_string_equal(p->name, "route_table");
	assert_non_null(fake_hook(p, RMX_HOOK_ROUTE));
	assert_null(fake_hook(p, RMX_HOOK_RCPT));
	dlclose(h);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_precedence),
	    cmocka_unit_test(test_subdomains),
	    cmocka_unit_test(test_case_and_forms),
	    cmocka_unit_test(test_no_match_continues),
	    cmocka_unit_test(test_transports),
	    cmocka_unit_test(test_bad_transport),
	    cmocka_unit_test(test_table_errors),
	    cmocka_unit_test(test_config_errors),
	    cmocka_unit_test(test_reconfigure),
	    cmocka_unit_test(test_entry_abi),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
