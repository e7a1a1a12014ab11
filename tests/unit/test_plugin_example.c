/*
 * test_plugin_example.c - the example plugin through the fake host: a
 * MAIL FROM in a configured domain is rejected with the documented reply,
 * anything else continues; configuration errors name the key; the entry
 * point refuses a host of another ABI major.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <dlfcn.h>
#include <stdio.h>
#include <string.h>

#include "fake_host.h"

#define SO "build/asan/plugins/example.so"

static const char *const cfg_two[] = {
    "reject_domain", "spam.example", "reject_domain", "Junk.Example.", NULL};

/* Run the MAIL hook of a plugin loaded with cfg for sender from. */
static enum rmx_verdict
mail(const char *const *cfg, const char *from, struct rmx_call *c)
{
	const struct rmx_plugin *p;
	void *st = NULL, *ws = NULL;
	char err[256];
	rmx_hook_fn *fn;
	enum rmx_verdict v;

	p = fake_load(SO, (const char **)cfg, &st, err, sizeof(err));
	if (p == NULL)
		fail_msg("load: %s", err);
	fn = fake_hook(p, RMX_HOOK_MAIL);
	assert_non_null(fn);
	assert_int_equal(p->worker_init(st, 3, &ws), 0);
	fake_call_init(c);
	if (from != NULL)
		fake_set_item(c, RMX_ITEM_MAIL_FROM, 0, from);
	v = fn(c, ws);
	p->worker_fini(ws);
	p->fini(st);
	return v;
}

static void
assert_rejected(const char *from, const char *domain)
{
	struct rmx_call c;
	char want[300];

	assert_int_equal(mail(cfg_two, from, &c), RMX_REJECT);
	assert_int_equal(c.reply_code, 550);
	assert_string_equal(c.reply_enh, "5.7.1");
	snprintf(want, sizeof(want), "Sender domain <%s> is not accepted here",
	    domain);
	assert_string_equal(c.reply_text, want);
	fake_call_free(&c);
}

static void
assert_continues(const char *from)
{
	struct rmx_call c;

	assert_int_equal(mail(cfg_two, from, &c), RMX_CONTINUE);
	assert_int_equal(c.reply_code, 0);
	fake_call_free(&c);
}

static void
test_reject(void **state)
{
	(void)state;
	assert_rejected("bob@spam.example", "spam.example");
	assert_rejected("bob@junk.example", "junk.example");
	/* case-insensitive; the reply quotes the domain as sent */
	assert_rejected("bob@SPAM.Example", "SPAM.Example");
	assert_rejected("a@b@spam.example", "spam.example");
	assert_rejected("bob@spam.example.", "spam.example");
}

static void
test_continue(void **state)
{
	struct rmx_call c;

	(void)state;
	assert_continues("bob@example.org");
	assert_continues("bob@sub.spam.example");
	assert_continues("bob@spam.example.org");
	assert_continues("bob@pam.example");
	assert_continues("spam.example");
	assert_continues(""); /* the null sender <> */
	/* no MAIL FROM item at all */
	assert_int_equal(mail(cfg_two, NULL, &c), RMX_CONTINUE);
	fake_call_free(&c);
}

static void
test_config_errors(void **state)
{
	static const char *const typo[] = {"reject_domian", "x.example", NULL};
	static const char *const bad[] = {"reject_domain", "a@b.example", NULL};
	static const char *const empty[] = {"reject_domain", "", NULL};
	void *st = NULL;
	char err[256];

	(void)state;
	assert_null(fake_load(SO, (const char **)typo, &st, err, sizeof(err)));
	assert_string_equal(err, "example: unknown key \"reject_domian\"");
	assert_null(fake_load(SO, (const char **)bad, &st, err, sizeof(err)));
	assert_string_equal(err,
	    "example: bad value for key \"reject_domain\": \"a@b.example\"");
	assert_null(fake_load(SO, (const char **)empty, &st, err, sizeof(err)));
	assert_non_null(strstr(err, "\"reject_domain\""));
	assert_null(fake_load(SO, NULL, &st, err, sizeof(err)));
	assert_non_null(
	    strstr(err, "example: key \"reject_domain\" is required"));
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
	assert_null(entry(0x00000000, &why));
	assert_non_null(why);
	p = entry(0x00010009, &why);
	assert_non_null(p);
	assert_string_equal(p->name, "example");
	assert_int_equal(p->abi_version, RMX_PLUGIN_ABI_VERSION);
	assert_null(p->reconfigure);
	assert_non_null(fake_hook(p, RMX_HOOK_MAIL));
	assert_null(dlsym(h, "ex_mail"));
	dlclose(h);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_reject),
	    cmocka_unit_test(test_continue),
	    cmocka_unit_test(test_config_errors),
	    cmocka_unit_test(test_entry_abi),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
