/*
 * test_plugin_abi.c - the plugin loader and hook chains of core/
 * plugin_host.c, against plugins built from the FROZEN ABI 1.0 header
 * (tests/abi/): loading, refusals (other major, no entry symbol, refused
 * by the plugin, failing init, required unknown hook, duplicate, wrong
 * name), chain order and verdicts, pending completion from a host timer,
 * and cancellation. The _Static_asserts pin the 1.0 layout of the public
 * structs (LP64): a change that moves a field fails the build.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <dlfcn.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "offload.h"
#include "plugin_host.h"
#include "ringmx/plugin.h"

/* ABI 1.0 layout, generated from the 1.0 header; append-only. */
_Static_assert(
    offsetof(struct rmx_host_api, size) == 0, "rmx_host_api.size moved");
_Static_assert(offsetof(struct rmx_host_api, abi_version) == 4,
    "rmx_host_api.abi_version moved");
_Static_assert(
    offsetof(struct rmx_host_api, log) == 8, "rmx_host_api.log moved");
_Static_assert(offsetof(struct rmx_host_api, get_item) == 16,
    "rmx_host_api.get_item moved");
_Static_assert(offsetof(struct rmx_host_api, set_reply) == 24,
    "rmx_host_api.set_reply moved");
_Static_assert(offsetof(struct rmx_host_api, complete) == 32,
    "rmx_host_api.complete moved");
_Static_assert(
    offsetof(struct rmx_host_api, post) == 40, "rmx_host_api.post moved");
_Static_assert(offsetof(struct rmx_host_api, call_alloc) == 48,
    "rmx_host_api.call_alloc moved");
_Static_assert(offsetof(struct rmx_host_api, header_get) == 56,
    "rmx_host_api.header_get moved");
_Static_assert(offsetof(struct rmx_host_api, header_add) == 64,
    "rmx_host_api.header_add moved");
_Static_assert(offsetof(struct rmx_host_api, header_delete) == 72,
    "rmx_host_api.header_delete moved");
_Static_assert(offsetof(struct rmx_host_api, body_read) == 80,
    "rmx_host_api.body_read moved");
_Static_assert(offsetof(struct rmx_host_api, note_set) == 88,
    "rmx_host_api.note_set moved");
_Static_assert(offsetof(struct rmx_host_api, note_get) == 96,
    "rmx_host_api.note_get moved");
_Static_assert(offsetof(struct rmx_host_api, session_set) == 104,
    "rmx_host_api.session_set moved");
_Static_assert(offsetof(struct rmx_host_api, session_get) == 112,
    "rmx_host_api.session_get moved");
_Static_assert(offsetof(struct rmx_host_api, rcpt_replace) == 120,
    "rmx_host_api.rcpt_replace moved");
_Static_assert(offsetof(struct rmx_host_api, route_set) == 128,
    "rmx_host_api.route_set moved");
_Static_assert(offsetof(struct rmx_host_api, set_auth_user) == 136,
    "rmx_host_api.set_auth_user moved");
_Static_assert(offsetof(struct rmx_host_api, offload) == 144,
    "rmx_host_api.offload moved");
_Static_assert(offsetof(struct rmx_host_api, timer_add) == 152,
    "rmx_host_api.timer_add moved");
_Static_assert(offsetof(struct rmx_host_api, dns_query) == 160,
    "rmx_host_api.dns_query moved");
_Static_assert(
    offsetof(struct rmx_host_api, now_ms) == 168, "rmx_host_api.now_ms moved");
_Static_assert(offsetof(struct rmx_plugin, size) == 0, "rmx_plugin.size moved");
_Static_assert(offsetof(struct rmx_plugin, abi_version) == 4,
    "rmx_plugin.abi_version moved");
_Static_assert(offsetof(struct rmx_plugin, name) == 8, "rmx_plugin.name moved");
_Static_assert(
    offsetof(struct rmx_plugin, version) == 16, "rmx_plugin.version moved");
_Static_assert(
    offsetof(struct rmx_plugin, init) == 24, "rmx_plugin.init moved");
_Static_assert(offsetof(struct rmx_plugin, worker_init) == 32,
    "rmx_plugin.worker_init moved");
_Static_assert(offsetof(struct rmx_plugin, worker_fini) == 40,
    "rmx_plugin.worker_fini moved");
_Static_assert(
    offsetof(struct rmx_plugin, fini) == 48, "rmx_plugin.fini moved");
_Static_assert(
    offsetof(struct rmx_plugin, cancel) == 56, "rmx_plugin.cancel moved");
_Static_assert(offsetof(struct rmx_plugin, reconfigure) == 64,
    "rmx_plugin.reconfigure moved");
_Static_assert(
    offsetof(struct rmx_plugin, hooks) == 72, "rmx_plugin.hooks moved");
_Static_assert(offsetof(struct rmx_hook, id) == 0, "rmx_hook.id moved");
_Static_assert(offsetof(struct rmx_hook, flags) == 4, "rmx_hook.flags moved");
_Static_assert(offsetof(struct rmx_hook, fn) == 8, "rmx_hook.fn moved");
_Static_assert(offsetof(struct rmx_kv, key) == 0, "rmx_kv.key moved");
_Static_assert(offsetof(struct rmx_kv, value) == 8, "rmx_kv.value moved");
_Static_assert(sizeof(struct rmx_hook) == 16, "rmx_hook size changed");
_Static_assert(sizeof(struct rmx_kv) == 16, "rmx_kv size changed");
_Static_assert(RMX_PLUGIN_ABI_MAJOR == 1, "major changed");
_Static_assert(RMX_HOOK_DISCONNECT == 13 && RMX_ITEM_RELAY_ALLOWED == 20,
    "ids renumbered");
_Static_assert(RMX_PENDING == 5, "verdicts renumbered");

#define SO(n) "build/asan/abi/" n ".so"

struct subj {
	const char *helo;
	const char *from;
	int done_calls;
	struct hook_result done_res;
	char note[64];
};

static int
s_get_item(void *p, int item, size_t idx, const char **val, size_t *len)
{
	struct subj *s = p;
	const char *v = NULL;

	(void)idx;
	if (item == RMX_ITEM_HELO)
		v = s->helo;
	else if (item == RMX_ITEM_MAIL_FROM)
		v = s->from;
	if (v == NULL)
		return -ENOENT;
	*val = v;
	*len = strlen(v);
	return 0;
}

static int
s_note_set(void *p, const char *k, const char *v)
{
	struct subj *s = p;

	snprintf(s->note, sizeof(s->note), "%s=%s", k, v);
	return 0;
}

static void
s_done(void *p, int hook, struct hook_result *res)
{
	struct subj *s = p;

	(void)hook;
	s->done_calls++;
	s->done_res = *res;
	memset(res, 0, sizeof(*res));
}

static const struct hook_subject_ops ops = {
    .get_item = s_get_item,
    .note_set = s_note_set,
    .done = s_done,
};

static struct plugin_host *
load(const char **names, const char **paths, size_t n, char *err, size_t errlen)
{
	struct plugin_cfg cfg[4];
	static struct rmx_kv none[] = {{NULL, NULL}};

	memset(cfg, 0, sizeof(cfg));
	for (size_t i = 0; i < n; i++) {
		cfg[i].name = (char *)names[i];
		cfg[i].path = (char *)paths[i];
		cfg[i].kv = none;
	}
	return plugin_host_load(cfg, n, err, errlen);
}

static void
expect_refused(const char *name, const char *path, const char *needle)
{
	char err[512] = "";
	struct plugin_host *ph = load(&name, &path, 1, err, sizeof(err));

	assert_null(ph);
	if (strstr(err, needle) == NULL || strstr(err, path) == NULL)
		fail_msg("error \"%s\" lacks \"%s\" or the path", err, needle);
}

static void
test_refusals(void **state)
{
	(void)state;
	expect_refused("abi_bad", SO("bad_major"), "no entry symbol");
	expect_refused("abi_bad", SO("bad_nosym"), "no entry symbol");
	expect_refused("abi_bad", SO("bad_refuse"), "needs a newer host");
	expect_refused("abi_bad", SO("bad_init"), "the key file is missing");
	expect_refused("abi_bad", SO("bad_required"), "requires hook 999");
	expect_refused("abi_bad", SO("does_not_exist"), "cannot load");
	expect_refused("other", SO("abi_v1_0"), "provides plugin");
}

static void
test_duplicate(void **state)
{
	const char *names[] = {"abi_v1_0", "abi_v1_0"};
	const char *paths[] = {SO("abi_v1_0"), SO("abi_v1_0")};
	char err[512] = "";

	(void)state;
	assert_null(load(names, paths, 2, err, sizeof(err)));
	assert_non_null(strstr(err, "loaded twice"));
}

struct env {
	struct plugin_host *ph;
	struct plugin_worker *pw;
	struct offload *off;
	int efd;
};

static void
env_up(struct env *e, const char **names, const char **paths, size_t n)
{
	char err[512] = "";

	e->ph = load(names, paths, n, err, sizeof(err));
	if (e->ph == NULL)
		fail_msg("load: %s", err);
	e->efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	e->off = offload_start(e->efd, "test-offload");
	e->pw = plugin_worker_new(e->ph, 0, e->off, e->efd, err, sizeof(err));
	if (e->pw == NULL)
		fail_msg("worker: %s", err);
}

static void
env_down(struct env *e)
{
	struct offload_job *j = offload_stop(e->off), *n;

	for (; j != NULL; j = n) {
		n = j->next;
		plugin_offload_done(e->pw, j);
	}
	plugin_worker_free(e->pw);
	plugin_host_free(e->ph);
	close(e->efd);
}

static void
test_frozen_plugin_runs(void **state)
{
	const char *names[] = {"abi_v1_0"};
	const char *paths[] = {SO("abi_v1_0")};
	struct env e;
	struct subj s = {.from = "abi-reject@example.test"};
	struct hook_subject hs = {&ops, &s};
	struct hook_result r = {0};
	struct rmx_call *pending;

	(void)state;
	env_up(&e, names, paths, 1);
	assert_int_equal(plugin_run(e.pw, RMX_HOOK_MAIL, &hs, &r, &pending), 0);
	assert_int_equal(r.verdict, RMX_REJECT);
	assert_int_equal(r.code, 550);
	assert_string_equal(r.enh, "5.7.1");
	assert_string_equal(r.text, "rejected by abi_v1_0");
	assert_string_equal(s.note, "abi.seen=abi-reject@example.test");
	hook_result_clear(&r);
	s.from = "fine@example.test";
	assert_int_equal(plugin_run(e.pw, RMX_HOOK_MAIL, &hs, &r, &pending), 0);
	assert_int_equal(r.verdict, RMX_CONTINUE);
	/* a hook nobody registered */
	assert_int_equal(plugin_run(e.pw, RMX_HOOK_RCPT, &hs, &r, &pending), 0);
	assert_int_equal(r.verdict, RMX_CONTINUE);
	hook_result_clear(&r);
	env_down(&e);
}

static void
test_chain_order(void **state)
{
	const char *n1[] = {"abi_v1_0", "abi_pending"};
	const char *p1[] = {SO("abi_v1_0"), SO("abi_pending")};
	struct env e;
	struct subj s = {.from = "abi-reject@example.test"};
	struct hook_subject hs = {&ops, &s};
	struct hook_result r = {0};
	struct rmx_call *pending;

	(void)state;
	env_up(&e, n1, p1, 2);
	/* first plugin decides: the second is not asked */
	plugin_run(e.pw, RMX_HOOK_MAIL, &hs, &r, &pending);
	assert_int_equal(r.verdict, RMX_REJECT);
	hook_result_clear(&r);
	/* first has no opinion: the second accepts */
	s.from = "x@order.test";
	plugin_run(e.pw, RMX_HOOK_MAIL, &hs, &r, &pending);
	assert_int_equal(r.verdict, RMX_ACCEPT);
	hook_result_clear(&r);
	env_down(&e);
}

static void
test_pending_completes_later(void **state)
{
	const char *names[] = {"abi_pending"};
	const char *paths[] = {SO("abi_pending")};
	struct env e;
	struct subj s = {.helo = "reject"};
	struct hook_subject hs = {&ops, &s};
	struct hook_result r = {0};
	struct rmx_call *pending = NULL;

	(void)state;
	env_up(&e, names, paths, 1);
	assert_int_equal(plugin_run(e.pw, RMX_HOOK_HELO, &hs, &r, &pending), 1);
	assert_non_null(pending);
	assert_int_equal(s.done_calls, 0);
	plugin_worker_poll(e.pw); /* the 0 ms timer fires */
	assert_int_equal(s.done_calls, 1);
	assert_int_equal(s.done_res.verdict, RMX_REJECT);
	assert_int_equal(s.done_res.code, 550);
	hook_result_clear(&s.done_res);
	hook_result_clear(&r);
	env_down(&e);
}

static void
test_cancel_ignores_late_completion(void **state)
{
	const char *names[] = {"abi_pending"};
	const char *paths[] = {SO("abi_pending")};
	struct env e;
	struct subj s = {.helo = "accept"};
	struct hook_subject hs = {&ops, &s};
	struct hook_result r = {0};
	struct rmx_call *pending = NULL;
	unsigned (*cancelled)(void);
	void *h;

	(void)state;
	env_up(&e, names, paths, 1);
	h = dlopen(SO("abi_pending"), RTLD_NOW | RTLD_NOLOAD);
	assert_non_null(h);
	*(void **)&cancelled = dlsym(h, "abi_pending_cancelled");
	assert_non_null(cancelled);
	assert_int_equal(plugin_run(e.pw, RMX_HOOK_HELO, &hs, &r, &pending), 1);
	plugin_cancel(e.pw, pending);
	assert_int_equal(cancelled(), 1);
	plugin_worker_poll(e.pw); /* the timer must not complete it */
	assert_int_equal(s.done_calls, 0);
	/* the call slot is reused safely by the next call */
	s.helo = "other";
	assert_int_equal(plugin_run(e.pw, RMX_HOOK_HELO, &hs, &r, &pending), 1);
	plugin_worker_poll(e.pw);
	assert_int_equal(s.done_calls, 1);
	assert_int_equal(s.done_res.verdict, RMX_CONTINUE);
	dlclose(h);
	hook_result_clear(&r);
	env_down(&e);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_refusals),
	    cmocka_unit_test(test_duplicate),
	    cmocka_unit_test(test_frozen_plugin_runs),
	    cmocka_unit_test(test_chain_order),
	    cmocka_unit_test(test_pending_completes_later),
	    cmocka_unit_test(test_cancel_ignores_late_completion),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
