/*
 * test_plugin_spf.c - the spf plugin (build/asan/plugins/spf.so) through
 * the fake host (tests/support/fake_host.c) and its DNS table
 * (fake_dns_add / fake_run_dns).
 *
 * Covered: configuration errors naming the key, reconfigure; the MAIL
 * hook answering RMX_PENDING while DNS is out and completing with
 * RMX_CONTINUE; the notes spf.result, spf.identity, spf.domain,
 * spf.reason and ar.spf (smtp.mailfrom=, smtp.helo=, quoting); the RCPT
 * policy (reject_fail -> 550 5.7.23 with the explanation,
 * reject_softfail, temperror=tempfail -> 451 4.7.24, permerror=reject ->
 * 550 5.7.24, default: record only); the per-session cache (no query for
 * the same sender again); skip_relay (relay clients and authenticated
 * users are not checked); IPv4-mapped client addresses; the deadline
 * (timer -> temperror, a late DNS answer is ignored); cancel; a result
 * without DNS (malformed domain); the ABI check of the entry point.
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

#include "fake_host.h"

#define SO "build/asan/plugins/spf.so"

static const struct rmx_plugin *plug;
static void *pstate, *wstate;

static void
load(const char **cfg)
{
	char err[256];

	plug = fake_load(SO, cfg, &pstate, err, sizeof(err));
	if (plug == NULL)
		fail_msg("load: %s", err);
	assert_int_equal(plug->worker_init(pstate, 0, &wstate), 0);
}

static void
unload(void)
{
	plug->worker_fini(wstate);
	plug->fini(pstate);
	plug = NULL;
	fake_dns_reset();
}

static const char *
note(struct rmx_call *c, const char *k)
{
	const char *v = NULL;

	if (fake_host()->note_get(c, k, &v) != 0)
		return NULL;
	return v;
}

static void
zone(void)
{
	fake_dns_reset();
	fake_dns_add(16, "example.org", 0,
	    "example.org. 300 IN TXT \"v=spf1 ip4:192.0.2.0/24 \" \"a "
	    "-all exp=exp.example.org\"");
	fake_dns_add(1, "example.org", 0, "example.org. 300 IN A 198.51.100.1");
	fake_dns_add(16, "exp.example.org", 0,
	    "exp.example.org. 300 IN TXT \"%{i} is not a server of %{d}\"");
	fake_dns_add(
	    16, "soft.example", 0, "soft.example. 300 IN TXT \"v=spf1 ~all\"");
	fake_dns_add(
	    16, "perm.example", 0, "perm.example. 300 IN TXT \"v=spf1 moo\"");
	fake_dns_add(16, "temp.example", FAKE_DNS_TIMEOUT, NULL);
	fake_dns_add(16, "helo.example", 0,
	    "helo.example. 300 IN TXT \"v=spf1 ip4:203.0.113.7 -all\"");
}

static void
call_init(struct rmx_call *c, const char *ip, const char *from)
{
	fake_call_init(c);
	fake_set_item(c, RMX_ITEM_CLIENT_ADDR, 0, ip);
	fake_set_item(c, RMX_ITEM_HELO, 0, "helo.example");
	fake_set_item(c, RMX_ITEM_MAIL_FROM, 0, from);
}

/* MAIL hook, then every DNS answer; the verdict of the whole. */
static enum rmx_verdict
mail(struct rmx_call *c)
{
	enum rmx_verdict v = fake_hook(plug, RMX_HOOK_MAIL)(c, wstate);

	if (v != RMX_PENDING)
		return v;
	assert_false(c->completed);
	assert_true(fake_run_dns(c) > 0);
	assert_true(c->completed);
	return c->completed_verdict;
}

static enum rmx_verdict
rcpt(struct rmx_call *c)
{
	fake_set_item(c, RMX_ITEM_RCPT_CURRENT, 0, "rcpt@local.example");
	return fake_hook(plug, RMX_HOOK_RCPT)(c, wstate);
}

static void
test_config(void **state)
{
	static const char *const typo[] = {"reject_fial", "true", NULL};
	static const char *const badbool[] = {"reject_fail", "maybe", NULL};
	static const char *const badtemp[] = {"temperror", "reject", NULL};
	static const char *const badperm[] = {"permerror", "tempfail", NULL};
	static const char *const badto[] = {"timeout_ms", "0", NULL};
	static const char *const badexp[] = {"explanation", "a\tb", NULL};
	static const char *const good[] = {"reject_fail", "true",
	    "reject_softfail", "yes", "temperror", "tempfail", "permerror",
	    "reject", "skip_relay", "false", "explanation", "go away",
	    "receiver", "mx.example", "timeout_ms", "5000", NULL};
	static const char *const newcfg[] = {"reject_fail", "false", NULL};
	static const struct rmx_kv bad_kv[] = {{"nope", "1"}, {NULL, NULL}};
	static const struct rmx_kv good_kv[] = {
	    {"reject_fail", "false"}, {NULL, NULL}};
	void *st = NULL;
	char err[256];

	(void)state;
	(void)newcfg;
	assert_null(fake_load(SO, (const char **)typo, &st, err, sizeof(err)));
	assert_string_equal(err, "spf: unknown key \"reject_fial\"");
	assert_null(
	    fake_load(SO, (const char **)badbool, &st, err, sizeof(err)));
	assert_non_null(strstr(err, "\"reject_fail\""));
	assert_null(
	    fake_load(SO, (const char **)badtemp, &st, err, sizeof(err)));
	assert_non_null(strstr(err, "\"temperror\""));
	assert_null(
	    fake_load(SO, (const char **)badperm, &st, err, sizeof(err)));
	assert_non_null(strstr(err, "\"permerror\""));
	assert_null(fake_load(SO, (const char **)badto, &st, err, sizeof(err)));
	assert_non_null(strstr(err, "\"timeout_ms\""));
	assert_null(
	    fake_load(SO, (const char **)badexp, &st, err, sizeof(err)));
	assert_non_null(strstr(err, "\"explanation\""));
	load((const char **)good);
	/* a bad reload keeps the old settings, a good one is taken */
	assert_int_not_equal(
	    plug->reconfigure(pstate, bad_kv, err, sizeof(err)), 0);
	assert_string_equal(err, "spf: unknown key \"nope\"");
	assert_int_equal(
	    plug->reconfigure(pstate, good_kv, err, sizeof(err)), 0);
	unload();
}

static void
test_pass_fail_notes(void **state)
{
	static const char *const cfg[] = {NULL};
	struct rmx_call c;

	(void)state;
	zone();
	load((const char **)cfg);
	call_init(&c, "192.0.2.10", "user@example.org");
	assert_int_equal(mail(&c), RMX_CONTINUE);
	assert_string_equal(note(&c, "spf.result"), "pass");
	assert_string_equal(note(&c, "spf.identity"), "mailfrom");
	assert_string_equal(note(&c, "spf.domain"), "example.org");
	assert_string_equal(
	    note(&c, "ar.spf"), "spf=pass smtp.mailfrom=user@example.org");
	/* recording only: RCPT goes on */
	assert_int_equal(rcpt(&c), RMX_CONTINUE);
	fake_call_free(&c);

	/* the a mechanism */
	call_init(&c, "198.51.100.1", "user@example.org");
	assert_int_equal(mail(&c), RMX_CONTINUE);
	assert_string_equal(note(&c, "spf.result"), "pass");
	fake_call_free(&c);

	call_init(&c, "203.0.113.5", "\"odd user\"@example.org");
	assert_int_equal(mail(&c), RMX_CONTINUE);
	assert_string_equal(note(&c, "spf.result"), "fail");
	assert_string_equal(note(&c, "ar.spf"),
	    "spf=fail smtp.mailfrom=\"\\\"odd user\\\"@example.org\"");
	assert_int_equal(rcpt(&c), RMX_CONTINUE);
	fake_call_free(&c);
	unload();
}

static void
test_reject_fail(void **state)
{
	static const char *const cfg[] = {"reject_fail", "true", NULL};
	struct rmx_call c;

	(void)state;
	zone();
	load((const char **)cfg);
	call_init(&c, "203.0.113.5", "user@example.org");
	assert_int_equal(mail(&c), RMX_CONTINUE);
	assert_int_equal(rcpt(&c), RMX_REJECT);
	assert_int_equal(c.reply_code, 550);
	assert_string_equal(c.reply_enh, "5.7.23");
	assert_string_equal(c.reply_text,
	    "SPF fail: 203.0.113.5 is not a server of example.org");
	fake_call_free(&c);
	/* softfail is not refused without reject_softfail */
	call_init(&c, "203.0.113.5", "user@soft.example");
	assert_int_equal(mail(&c), RMX_CONTINUE);
	assert_string_equal(note(&c, "spf.result"), "softfail");
	assert_int_equal(rcpt(&c), RMX_CONTINUE);
	fake_call_free(&c);
	unload();
}

static void
test_policies(void **state)
{
	static const char *const cfg[] = {"reject_softfail", "true",
	    "temperror", "tempfail", "permerror", "reject", NULL};
	struct rmx_call c;

	(void)state;
	zone();
	load((const char **)cfg);
	call_init(&c, "203.0.113.5", "user@soft.example");
	assert_int_equal(mail(&c), RMX_CONTINUE);
	assert_int_equal(rcpt(&c), RMX_REJECT);
	assert_int_equal(c.reply_code, 550);
	assert_string_equal(c.reply_enh, "5.7.23");
	fake_call_free(&c);

	call_init(&c, "203.0.113.5", "user@temp.example");
	assert_int_equal(mail(&c), RMX_CONTINUE);
	assert_string_equal(note(&c, "spf.result"), "temperror");
	assert_non_null(note(&c, "spf.reason"));
	assert_non_null(strstr(note(&c, "ar.spf"), "spf=temperror reason="));
	assert_int_equal(rcpt(&c), RMX_TEMPFAIL);
	assert_int_equal(c.reply_code, 451);
	assert_string_equal(c.reply_enh, "4.7.24");
	fake_call_free(&c);

	call_init(&c, "203.0.113.5", "user@perm.example");
	assert_int_equal(mail(&c), RMX_CONTINUE);
	assert_string_equal(note(&c, "spf.result"), "permerror");
	assert_int_equal(rcpt(&c), RMX_REJECT);
	assert_int_equal(c.reply_code, 550);
	assert_string_equal(c.reply_enh, "5.7.24");
	fake_call_free(&c);

	/* fail is only recorded here */
	call_init(&c, "203.0.113.5", "user@example.org");
	assert_int_equal(mail(&c), RMX_CONTINUE);
	assert_int_equal(rcpt(&c), RMX_CONTINUE);
	fake_call_free(&c);
	unload();
}

static void
test_helo_identity(void **state)
{
	static const char *const cfg[] = {NULL};
	struct rmx_call c;

	(void)state;
	zone();
	load((const char **)cfg);
	call_init(&c, "203.0.113.7", "");
	assert_int_equal(mail(&c), RMX_CONTINUE);
	assert_string_equal(note(&c, "spf.result"), "pass");
	assert_string_equal(note(&c, "spf.identity"), "helo");
	assert_string_equal(note(&c, "spf.domain"), "helo.example");
	assert_string_equal(
	    note(&c, "ar.spf"), "spf=pass smtp.helo=helo.example");
	fake_call_free(&c);
	/* IPv4-mapped IPv6 is checked as IPv4 */
	call_init(&c, "::ffff:203.0.113.7", "");
	assert_int_equal(mail(&c), RMX_CONTINUE);
	assert_string_equal(note(&c, "spf.result"), "pass");
	fake_call_free(&c);
	unload();
}

static void
test_cache_and_skip(void **state)
{
	static const char *const cfg[] = {NULL};
	struct rmx_call c;
	size_t asked;

	(void)state;
	zone();
	load((const char **)cfg);
	call_init(&c, "192.0.2.10", "user@example.org");
	assert_int_equal(mail(&c), RMX_CONTINUE);
	asked = fake_dns_asked();
	assert_true(asked > 0);
	/* the same session (the same call here) sends the same sender:
	 * answered at once from the session cache */
	c.completed = false;
	assert_int_equal(
	    fake_hook(plug, RMX_HOOK_MAIL)(&c, wstate), RMX_CONTINUE);
	assert_int_equal(fake_dns_asked(), asked);
	assert_string_equal(note(&c, "spf.result"), "pass");
	/* another sender is checked again */
	fake_set_item(&c, RMX_ITEM_MAIL_FROM, 0, "other@soft.example");
	assert_int_equal(mail(&c), RMX_CONTINUE);
	assert_true(fake_dns_asked() > asked);
	fake_call_free(&c);

	/* relay clients and authenticated users are not checked */
	asked = fake_dns_asked();
	call_init(&c, "192.0.2.10", "user@example.org");
	fake_set_item(&c, RMX_ITEM_RELAY_ALLOWED, 0, "1");
	assert_int_equal(
	    fake_hook(plug, RMX_HOOK_MAIL)(&c, wstate), RMX_CONTINUE);
	assert_null(note(&c, "spf.result"));
	assert_int_equal(rcpt(&c), RMX_CONTINUE);
	fake_call_free(&c);
	call_init(&c, "192.0.2.10", "user@example.org");
	fake_set_item(&c, RMX_ITEM_AUTH_USER, 0, "alice");
	assert_int_equal(
	    fake_hook(plug, RMX_HOOK_MAIL)(&c, wstate), RMX_CONTINUE);
	assert_null(note(&c, "spf.result"));
	fake_call_free(&c);
	assert_int_equal(fake_dns_asked(), asked);
	/* a malformed domain: none, without any query */
	call_init(&c, "192.0.2.10", "user@a..example");
	assert_int_equal(
	    fake_hook(plug, RMX_HOOK_MAIL)(&c, wstate), RMX_CONTINUE);
	assert_string_equal(note(&c, "spf.result"), "none");
	fake_call_free(&c);
	assert_int_equal(fake_dns_asked(), asked);
	unload();
}

static void
test_skip_relay_off(void **state)
{
	static const char *const cfg[] = {"skip_relay", "false", NULL};
	struct rmx_call c;

	(void)state;
	zone();
	load((const char **)cfg);
	call_init(&c, "192.0.2.10", "user@example.org");
	fake_set_item(&c, RMX_ITEM_RELAY_ALLOWED, 0, "1");
	assert_int_equal(mail(&c), RMX_CONTINUE);
	assert_string_equal(note(&c, "spf.result"), "pass");
	fake_call_free(&c);
	unload();
}

static void
test_deadline_and_cancel(void **state)
{
	static const char *const cfg[] = {
	    "timeout_ms", "100", "temperror", "tempfail", NULL};
	struct rmx_call c;

	(void)state;
	zone();
	load((const char **)cfg);
	call_init(&c, "192.0.2.10", "user@example.org");
	assert_int_equal(
	    fake_hook(plug, RMX_HOOK_MAIL)(&c, wstate), RMX_PENDING);
	assert_int_equal(fake_dns_pending(), 1);
	assert_int_equal(c.ntimers, 1);
	fake_run_timers(&c);
	assert_true(c.completed);
	assert_int_equal(c.completed_verdict, RMX_CONTINUE);
	assert_string_equal(note(&c, "spf.result"), "temperror");
	assert_string_equal(note(&c, "spf.reason"), "evaluation timed out");
	/* the answer arriving late is ignored */
	c.completed = false;
	assert_int_equal(fake_run_dns(&c), 1);
	assert_false(c.completed);
	assert_string_equal(note(&c, "spf.result"), "temperror");
	assert_int_equal(rcpt(&c), RMX_TEMPFAIL);
	/* a temperror is not cached: the next MAIL asks again */
	c.completed = false;
	assert_int_equal(
	    fake_hook(plug, RMX_HOOK_MAIL)(&c, wstate), RMX_PENDING);
	assert_int_equal(fake_run_dns(&c) > 0, 1);
	assert_true(c.completed);
	assert_string_equal(note(&c, "spf.result"), "pass");
	fake_call_free(&c);

	/* cancel while a query is out: no callback, nothing leaks */
	call_init(&c, "192.0.2.10", "user@soft.example");
	assert_int_equal(
	    fake_hook(plug, RMX_HOOK_MAIL)(&c, wstate), RMX_PENDING);
	plug->cancel(&c, wstate);
	fake_dns_drop(&c);
	fake_run_timers(&c);
	assert_false(c.completed);
	fake_call_free(&c);

	/* a job still pending at worker_fini is released there */
	call_init(&c, "192.0.2.10", "user@soft.example");
	assert_int_equal(
	    fake_hook(plug, RMX_HOOK_MAIL)(&c, wstate), RMX_PENDING);
	fake_dns_drop(&c);
	unload();
	fake_call_free(&c);
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
	p = entry(RMX_PLUGIN_ABI_VERSION, &why);
	assert_non_null(p);
	assert_string_equal(p->name, "spf");
	assert_non_null(p->cancel);
	assert_non_null(p->reconfigure);
	assert_non_null(fake_hook(p, RMX_HOOK_MAIL));
	assert_non_null(fake_hook(p, RMX_HOOK_RCPT));
	dlclose(h);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_config),
	    cmocka_unit_test(test_pass_fail_notes),
	    cmocka_unit_test(test_reject_fail),
	    cmocka_unit_test(test_policies),
	    cmocka_unit_test(test_helo_identity),
	    cmocka_unit_test(test_cache_and_skip),
	    cmocka_unit_test(test_skip_relay_off),
	    cmocka_unit_test(test_deadline_and_cancel),
	    cmocka_unit_test(test_entry_abi),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
