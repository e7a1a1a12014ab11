/*
 * test_plugin_dmarc.c - the dmarc plugin (build/asan/plugins/dmarc.so)
 * through the fake host (tests/support/fake_host.c) with its fake DNS:
 * configuration errors naming the key, the PSL fallback, pass through SPF
 * or DKIM (notes preset as the spf and dkim_verify plugins set them),
 * fail with p=reject (550 5.7.1), p=quarantine (hold, and the ROUTE hook
 * setting route "hold"), reject_action/quarantine_action variants, sp=
 * for a subdomain through the organisational domain, pct=0 lowering,
 * no record, several records, non-DMARC TXT records, an invalid record,
 * DNS errors and timeouts (temperror, accept or 451 4.7.5), the From
 * field cases (none, several, bad; from_error), skip_relay, reconfigure,
 * cancel, and the ABI check of the entry point. Not here: the record
 * grammar and the pure decision (test_dmarc_record.c,
 * test_dmarc_eval.c), the real daemon (tests/integration/test_dmarc.py).
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

#define SO "build/asan/plugins/dmarc.so"

struct fixture {
	const struct rmx_plugin *p;
	void *st;
	void *ws;
	char err[512];
	struct rmx_call call;
};

/* Load with cfg (k, v, ..., NULL); false on an init error (in f->err). */
static bool
try_load(struct fixture *f, const char **cfg)
{
	memset(f, 0, sizeof(*f));
	fake_dns_reset();
	f->p = fake_load(SO, cfg, &f->st, f->err, sizeof(f->err));
	if (f->p == NULL)
		return false;
	assert_int_equal(f->p->worker_init(f->st, 0, &f->ws), 0);
	fake_call_init(&f->call);
	return true;
}

static void
load(struct fixture *f, const char **cfg)
{
	if (!try_load(f, cfg))
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
	fake_dns_reset();
	f->p = NULL;
}

static void
new_call(struct fixture *f)
{
	fake_call_free(&f->call);
	fake_call_init(&f->call);
}

static void
note(struct fixture *f, const char *k, const char *v)
{
	assert_int_equal(fake_host()->note_set(&f->call, k, v), 0);
}

static const char *
note_of(struct fixture *f, const char *k)
{
	const char *v = NULL;

	if (fake_host()->note_get(&f->call, k, &v) != 0)
		return NULL;
	return v;
}

static void
spf_pass(struct fixture *f, const char *domain)
{
	note(f, "spf.result", "pass");
	note(f, "spf.identity", "mailfrom");
	note(f, "spf.domain", domain);
}

static void
dkim_one(struct fixture *f, const char *result, const char *domain)
{
	note(f, "dkim.count", "1");
	note(f, "dkim.0.result", result);
	note(f, "dkim.0.domain", domain);
	note(f, "dkim.0.selector", "sel");
	note(f, "dkim.0.algorithm", "ed25519-sha256");
}

static void
txt(const char *name, const char *record)
{
	char rr[600];

	snprintf(rr, sizeof(rr), "%s. 300 IN TXT \"%s\"", name, record);
	fake_dns_add(16, name, 0, rr);
}

/* Run the DATA hook; if pending, answer all DNS; the final verdict. */
static enum rmx_verdict
run_data(struct fixture *f)
{
	rmx_hook_fn *fn = fake_hook(f->p, RMX_HOOK_DATA);
	enum rmx_verdict v;

	assert_non_null(fn);
	v = fn(&f->call, f->ws);
	if (v != RMX_PENDING)
		return v;
	assert_false(f->call.completed);
	fake_run_dns(&f->call);
	assert_true(f->call.completed);
	return f->call.completed_verdict;
}

static void
assert_notes(struct fixture *f, const char *result, const char *policy,
    const char *dis, const char *ar)
{
	assert_string_equal(note_of(f, "dmarc.result"), result);
	if (policy == NULL)
		assert_null(note_of(f, "dmarc.policy"));
	else
		assert_string_equal(note_of(f, "dmarc.policy"), policy);
	assert_string_equal(note_of(f, "dmarc.disposition"), dis);
	assert_string_equal(note_of(f, "ar.dmarc"), ar);
}

/* ------------------------------------------------------ configuration */

static void
t_config_errors(void **state)
{
	static const struct {
		const char *k, *v, *msg;
	} bad[] = {
	    {"bogus", "1", "dmarc: bogus: unknown key"},
	    {"reject_action", "quarantine", "dmarc: reject_action: "},
	    {"quarantine_action", "reject", "dmarc: quarantine_action: "},
	    {"skip_relay", "maybe", "dmarc: skip_relay: "},
	    {"temperror", "reject", "dmarc: temperror: "},
	    {"from_error", "hold", "dmarc: from_error: "},
	    {"timeout_ms", "5", "dmarc: timeout_ms: "},
	    {"psl_file", "", "dmarc: psl_file: "},
	};
	struct fixture f;

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		const char *cfg[] = {bad[i].k, bad[i].v, NULL};

		assert_false(try_load(&f, cfg));
		if (strncmp(f.err, bad[i].msg, strlen(bad[i].msg)) != 0)
			fail_msg("%s=%s: %s", bad[i].k, bad[i].v, f.err);
	}
	const char *twice[] = {
	    "temperror", "accept", "temperror", "tempfail", NULL};
	assert_false(try_load(&f, twice));
	assert_string_equal(f.err, "dmarc: temperror: given twice");
	/* every key with a good value */
	const char *good[] = {"psl_file",
	    "/usr/share/publicsuffix/public_suffix_list.dat", "reject_action",
	    "hold", "quarantine_action", "header", "skip_relay", "false",
	    "temperror", "tempfail", "from_error", "reject", "timeout_ms",
	    "2000", NULL};
	load(&f, good);
	unload(&f);
}

static void
t_psl_builtin_fallback(void **state)
{
	const char *cfg[] = {"psl_file", "/nonexistent/psl.dat", NULL};
	struct fixture f;

	(void)state;
	load(&f, cfg); /* falls back to libpsl's builtin list (logged) */
	/* the builtin list still knows co.uk: sp= applies to a subdomain */
	txt("_dmarc.example.co.uk", "v=DMARC1; p=none; sp=reject");
	fake_add_header(&f.call, "From", "a@mail.example.co.uk");
	assert_int_equal(run_data(&f), RMX_REJECT);
	assert_int_equal(fake_dns_asked(), 2);
	unload(&f);
}

/* -------------------------------------------------------------- pass */

static void
t_pass_spf(void **state)
{
	struct fixture f;

	(void)state;
	load(&f, NULL);
	txt("_dmarc.example.org", "v=DMARC1; p=reject");
	fake_add_header(&f.call, "Subject", "hi");
	fake_add_header(&f.call, "From", "Alice <alice@Example.ORG>");
	spf_pass(&f, "bounces.example.org");
	assert_int_equal(run_data(&f), RMX_CONTINUE);
	assert_notes(&f, "pass", "reject", "none",
	    "dmarc=pass (p=reject dis=none) header.from=example.org");
	assert_string_equal(note_of(&f, "dmarc.domain"), "example.org");
	assert_int_equal(fake_dns_asked(), 1);
	assert_int_equal(f.call.reply_code, 0);
	unload(&f);
}

static void
t_pass_dkim(void **state)
{
	struct fixture f;

	(void)state;
	load(&f, NULL);
	txt("_dmarc.example.org", "v=DMARC1; p=quarantine");
	fake_add_header(&f.call, "From", "alice@example.org");
	note(&f, "spf.result", "fail");
	note(&f, "spf.identity", "mailfrom");
	note(&f, "spf.domain", "example.org");
	note(&f, "dkim.count", "2");
	note(&f, "dkim.0.result", "pass");
	note(&f, "dkim.0.domain", "list.example.net");
	note(&f, "dkim.1.result", "pass");
	note(&f, "dkim.1.domain", "mail.example.org");
	assert_int_equal(run_data(&f), RMX_CONTINUE);
	assert_notes(&f, "pass", "quarantine", "none",
	    "dmarc=pass (p=quarantine dis=none) header.from=example.org");
	unload(&f);
}

static void
t_strict_alignment(void **state)
{
	struct fixture f;

	(void)state;
	load(&f, NULL);
	txt("_dmarc.example.org", "v=DMARC1; p=reject; adkim=s; aspf=s");
	fake_add_header(&f.call, "From", "alice@example.org");
	spf_pass(&f, "bounce.example.org");
	dkim_one(&f, "pass", "mail.example.org");
	assert_int_equal(run_data(&f), RMX_REJECT);
	assert_string_equal(note_of(&f, "dmarc.result"), "fail");
	unload(&f);
}

static void
t_helo_spf_does_not_count(void **state)
{
	struct fixture f;

	(void)state;
	load(&f, NULL);
	txt("_dmarc.example.org", "v=DMARC1; p=reject");
	fake_add_header(&f.call, "From", "alice@example.org");
	note(&f, "spf.result", "pass");
	note(&f, "spf.identity", "helo");
	note(&f, "spf.domain", "example.org");
	assert_int_equal(run_data(&f), RMX_REJECT);
	unload(&f);
}

/* -------------------------------------------------------------- fail */

static void
t_fail_reject(void **state)
{
	struct fixture f;

	(void)state;
	load(&f, NULL);
	txt("_dmarc.example.org", "v=DMARC1; p=reject");
	fake_add_header(&f.call, "From", "alice@example.org");
	spf_pass(&f, "evil.example");
	dkim_one(&f, "pass", "evil.example");
	assert_int_equal(run_data(&f), RMX_REJECT);
	assert_int_equal(f.call.reply_code, 550);
	assert_string_equal(f.call.reply_enh, "5.7.1");
	assert_string_equal(f.call.reply_text,
	    "DMARC policy of example.org rejects this message");
	assert_notes(&f, "fail", "reject", "reject",
	    "dmarc=fail (p=reject dis=reject) header.from=example.org");
	unload(&f);
}

static void
t_fail_no_notes(void **state)
{
	struct fixture f;

	(void)state;
	load(&f, NULL); /* no spf or dkim_verify notes: no results */
	txt("_dmarc.example.org", "v=DMARC1; p=none");
	fake_add_header(&f.call, "From", "alice@example.org");
	assert_int_equal(run_data(&f), RMX_CONTINUE);
	assert_notes(&f, "fail", "none", "none",
	    "dmarc=fail (p=none dis=none) header.from=example.org");
	unload(&f);
}

static void
t_reject_actions(void **state)
{
	const char *hold[] = {"reject_action", "hold", NULL};
	const char *header[] = {"reject_action", "header", NULL};
	struct fixture f;

	(void)state;
	load(&f, hold);
	txt("_dmarc.example.org", "v=DMARC1; p=reject");
	fake_add_header(&f.call, "From", "alice@example.org");
	assert_int_equal(run_data(&f), RMX_CONTINUE);
	assert_notes(&f, "fail", "reject", "hold",
	    "dmarc=fail (p=reject dis=hold) header.from=example.org");
	unload(&f);
	load(&f, header);
	txt("_dmarc.example.org", "v=DMARC1; p=reject");
	fake_add_header(&f.call, "From", "alice@example.org");
	assert_int_equal(run_data(&f), RMX_CONTINUE);
	assert_string_equal(note_of(&f, "dmarc.disposition"), "header");
	unload(&f);
}

static void
t_quarantine_hold_and_route(void **state)
{
	const char *header[] = {"quarantine_action", "header", NULL};
	struct fixture f;
	rmx_hook_fn *route;

	(void)state;
	load(&f, NULL);
	txt("_dmarc.example.org", "v=DMARC1; p=quarantine");
	fake_add_header(&f.call, "From", "alice@example.org");
	assert_int_equal(run_data(&f), RMX_CONTINUE);
	assert_notes(&f, "fail", "quarantine", "hold",
	    "dmarc=fail (p=quarantine dis=hold) header.from=example.org");
	/* the ROUTE hook of the same message holds every recipient */
	route = fake_hook(f.p, RMX_HOOK_ROUTE);
	assert_non_null(route);
	fake_set_item(&f.call, RMX_ITEM_RCPT_CURRENT, 0, "bob@example.net");
	assert_int_equal(route(&f.call, f.ws), RMX_ACCEPT);
	assert_string_equal(f.call.route, "hold");
	/* other messages are left to the others */
	new_call(&f);
	assert_int_equal(route(&f.call, f.ws), RMX_CONTINUE);
	assert_string_equal(f.call.route, "");
	note(&f, "dmarc.disposition", "none");
	assert_int_equal(route(&f.call, f.ws), RMX_CONTINUE);
	assert_string_equal(f.call.route, "");
	note(&f, "dmarc.disposition", "header");
	assert_int_equal(route(&f.call, f.ws), RMX_CONTINUE);
	unload(&f);
	load(&f, header);
	txt("_dmarc.example.org", "v=DMARC1; p=quarantine");
	fake_add_header(&f.call, "From", "alice@example.org");
	assert_int_equal(run_data(&f), RMX_CONTINUE);
	assert_string_equal(note_of(&f, "dmarc.disposition"), "header");
	unload(&f);
}

/* ------------------------------------------------- discovery, sp, pct */

static void
t_subdomain_sp(void **state)
{
	struct fixture f;

	(void)state;
	load(&f, NULL);
	txt("_dmarc.example.org", "v=DMARC1; p=none; sp=reject");
	fake_add_header(&f.call, "From", "alice@news.example.org");
	assert_int_equal(run_data(&f), RMX_REJECT);
	assert_int_equal(fake_dns_asked(), 2); /* From domain, then org */
	assert_notes(&f, "fail", "reject", "reject",
	    "dmarc=fail (p=reject dis=reject) header.from=news.example.org");
	assert_string_equal(f.call.reply_text,
	    "DMARC policy of news.example.org rejects this message");
	/* the org domain itself gets p= */
	new_call(&f);
	fake_add_header(&f.call, "From", "alice@example.org");
	assert_int_equal(run_data(&f), RMX_CONTINUE);
	assert_string_equal(note_of(&f, "dmarc.policy"), "none");
	/* a record at the subdomain wins, with its p= */
	txt("_dmarc.news.example.org", "v=DMARC1; p=quarantine; sp=none");
	new_call(&f);
	fake_add_header(&f.call, "From", "alice@news.example.org");
	assert_int_equal(run_data(&f), RMX_CONTINUE);
	assert_string_equal(note_of(&f, "dmarc.policy"), "quarantine");
	assert_string_equal(note_of(&f, "dmarc.disposition"), "hold");
	/* under a multi-label public suffix */
	txt("_dmarc.example.co.uk", "v=DMARC1; p=none; sp=quarantine");
	new_call(&f);
	fake_add_header(&f.call, "From", "x@a.b.example.co.uk");
	dkim_one(&f, "pass", "example.co.uk");
	assert_int_equal(run_data(&f), RMX_CONTINUE);
	assert_notes(&f, "pass", "quarantine", "none",
	    "dmarc=pass (p=quarantine dis=none) header.from=a.b.example.co.uk");
	unload(&f);
}

static void
t_pct(void **state)
{
	struct fixture f;

	(void)state;
	load(&f, NULL);
	txt("_dmarc.example.org", "v=DMARC1; p=reject; pct=0");
	txt("_dmarc.example.net", "v=DMARC1; p=quarantine; pct=0");
	txt("_dmarc.example.com", "v=DMARC1; p=reject; pct=100");
	fake_add_header(&f.call, "From", "alice@example.org");
	assert_int_equal(run_data(&f), RMX_CONTINUE);
	assert_notes(&f, "fail", "quarantine", "hold",
	    "dmarc=fail (p=reject dis=hold) header.from=example.org");
	new_call(&f);
	fake_add_header(&f.call, "From", "alice@example.net");
	assert_int_equal(run_data(&f), RMX_CONTINUE);
	assert_notes(&f, "fail", "none", "none",
	    "dmarc=fail (p=quarantine dis=none) header.from=example.net");
	for (int i = 0; i < 20; i++) {
		new_call(&f);
		fake_add_header(&f.call, "From", "alice@example.com");
		assert_int_equal(run_data(&f), RMX_REJECT);
	}
	unload(&f);
}

static void
t_pct_sampling(void **state)
{
	struct fixture f;
	int rejected = 0, held = 0;

	(void)state;
	load(&f, NULL);
	txt("_dmarc.example.org", "v=DMARC1; p=reject; pct=50");
	for (int i = 0; i < 400; i++) {
		new_call(&f);
		fake_add_header(&f.call, "From", "alice@example.org");
		if (run_data(&f) == RMX_REJECT)
			rejected++;
		else if (strcmp(note_of(&f, "dmarc.disposition"), "hold") == 0)
			held++;
	}
	assert_int_equal(rejected + held, 400);
	/* binomial(400, 0.5): outside 120..280 has probability < 1e-20 */
	assert_true(rejected > 120 && rejected < 280);
	unload(&f);
}

static void
t_no_record(void **state)
{
	struct fixture f;

	(void)state;
	load(&f, NULL);
	/* only an SPF record at _dmarc (ignored), nothing at the org */
	txt("_dmarc.sub.example.org", "v=spf1 -all");
	fake_add_header(&f.call, "From", "alice@sub.example.org");
	spf_pass(&f, "sub.example.org");
	assert_int_equal(run_data(&f), RMX_CONTINUE);
	assert_notes(
	    &f, "none", NULL, "none", "dmarc=none header.from=sub.example.org");
	assert_int_equal(fake_dns_asked(), 2);
	unload(&f);
}

static void
t_several_and_mixed_records(void **state)
{
	struct fixture f;

	(void)state;
	load(&f, NULL);
	fake_dns_add(16, "_dmarc.example.org", 0,
	    "_dmarc.example.org. 300 IN TXT \"v=DMARC1; p=reject\"\n"
	    "_dmarc.example.org. 300 IN TXT \"v=DMARC1; p=none\"");
	fake_add_header(&f.call, "From", "alice@example.org");
	assert_int_equal(run_data(&f), RMX_CONTINUE);
	assert_notes(&f, "none", NULL, "none",
	    "dmarc=none reason=\"several DMARC records\" "
	    "header.from=example.org");
	assert_int_equal(fake_dns_asked(), 1); /* no org fallback */
	/* one DMARC record among others, split into two strings */
	fake_dns_reset();
	fake_dns_add(16, "_dmarc.example.net", 0,
	    "_dmarc.example.net. 300 IN TXT \"some verification\"\n"
	    "_dmarc.example.net. 300 IN TXT \"v=DMARC1; \" \"p=reject\"");
	new_call(&f);
	fake_add_header(&f.call, "From", "alice@example.net");
	assert_int_equal(run_data(&f), RMX_REJECT);
	unload(&f);
}

static void
t_invalid_record(void **state)
{
	struct fixture f;

	(void)state;
	load(&f, NULL);
	txt("_dmarc.example.org", "v=DMARC1; p=bogus");
	txt("_dmarc.example.net",
	    "v=DMARC1; p=bogus; rua=mailto:d@example.net");
	fake_add_header(&f.call, "From", "alice@example.org");
	assert_int_equal(run_data(&f), RMX_CONTINUE);
	assert_notes(&f, "permerror", NULL, "none",
	    "dmarc=permerror reason=\"bad p= value\" header.from=example.org");
	/* with a valid rua=: as if p=none */
	new_call(&f);
	fake_add_header(&f.call, "From", "alice@example.net");
	assert_int_equal(run_data(&f), RMX_CONTINUE);
	assert_notes(&f, "fail", "none", "none",
	    "dmarc=fail (p=none dis=none) reason=\"bad p= value\" "
	    "header.from=example.net");
	unload(&f);
}

/* ------------------------------------------------------------ errors */

static void
t_temperror(void **state)
{
	const char *tf[] = {"temperror", "tempfail", NULL};
	struct fixture f;

	(void)state;
	load(&f, NULL);
	fake_dns_add(16, "_dmarc.example.org", 2, NULL); /* SERVFAIL */
	fake_add_header(&f.call, "From", "alice@example.org");
	assert_int_equal(run_data(&f), RMX_CONTINUE);
	assert_notes(&f, "temperror", NULL, "none",
	    "dmarc=temperror reason=\"DNS error\" header.from=example.org");
	/* the org query failing (no answer at all) */
	new_call(&f);
	fake_dns_add(16, "_dmarc.example.net", FAKE_DNS_TIMEOUT, NULL);
	fake_add_header(&f.call, "From", "alice@sub.example.net");
	assert_int_equal(run_data(&f), RMX_CONTINUE);
	assert_string_equal(note_of(&f, "dmarc.result"), "temperror");
	unload(&f);

	load(&f, tf);
	fake_dns_add(16, "_dmarc.example.org", 2, NULL);
	fake_add_header(&f.call, "From", "alice@example.org");
	assert_int_equal(run_data(&f), RMX_TEMPFAIL);
	assert_int_equal(f.call.reply_code, 451);
	assert_string_equal(f.call.reply_enh, "4.7.5");
	unload(&f);
}

static void
t_timeout_timer(void **state)
{
	struct fixture f;
	rmx_hook_fn *fn;

	(void)state;
	load(&f, NULL);
	txt("_dmarc.example.org", "v=DMARC1; p=reject");
	fake_add_header(&f.call, "From", "alice@example.org");
	fn = fake_hook(f.p, RMX_HOOK_DATA);
	assert_int_equal(fn(&f.call, f.ws), RMX_PENDING);
	assert_int_equal(f.call.ntimers, 1);
	fake_run_timers(&f.call);
	assert_true(f.call.completed);
	assert_int_equal(f.call.completed_verdict, RMX_CONTINUE);
	assert_string_equal(note_of(&f, "dmarc.result"), "temperror");
	/* a late answer changes nothing */
	f.call.completed = false;
	assert_int_equal(fake_run_dns(&f.call), 1);
	assert_false(f.call.completed);
	assert_string_equal(note_of(&f, "dmarc.result"), "temperror");
	unload(&f);
}

static void
t_cancel(void **state)
{
	struct fixture f;
	rmx_hook_fn *fn;

	(void)state;
	load(&f, NULL);
	txt("_dmarc.example.org", "v=DMARC1; p=reject");
	fake_add_header(&f.call, "From", "alice@example.org");
	fn = fake_hook(f.p, RMX_HOOK_DATA);
	assert_int_equal(fn(&f.call, f.ws), RMX_PENDING);
	f.p->cancel(&f.call, f.ws);
	fake_dns_drop(&f.call); /* the host drops the call's queries */
	assert_int_equal(fake_dns_pending(), 0);
	assert_false(f.call.completed);
	unload(&f); /* ASan: nothing leaks */
}

static void
t_from_cases(void **state)
{
	const char *none[] = {"from_error", "none", NULL};
	const char *rej[] = {"from_error", "reject", NULL};
	struct fixture f;

	(void)state;
	load(&f, NULL);
	txt("_dmarc.example.org", "v=DMARC1; p=reject");
	/* no From field */
	fake_add_header(&f.call, "Subject", "x");
	assert_int_equal(run_data(&f), RMX_CONTINUE);
	assert_notes(&f, "permerror", NULL, "none",
	    "dmarc=permerror reason=\"no From field\"");
	/* two From fields (one with trailing blanks in its name) */
	new_call(&f);
	fake_add_header(&f.call, "From", "alice@example.org");
	fake_add_header(&f.call, "from ", "mallory@example.org");
	assert_int_equal(run_data(&f), RMX_CONTINUE);
	assert_notes(&f, "permerror", NULL, "none",
	    "dmarc=permerror reason=\"several From fields\"");
	/* two addresses */
	new_call(&f);
	fake_add_header(&f.call, "From", "a@example.org, b@example.org");
	assert_int_equal(run_data(&f), RMX_CONTINUE);
	assert_string_equal(note_of(&f, "dmarc.result"), "permerror");
	/* a domain literal */
	new_call(&f);
	fake_add_header(&f.call, "From", "a@[192.0.2.1]");
	assert_int_equal(run_data(&f), RMX_CONTINUE);
	assert_string_equal(note_of(&f, "ar.dmarc"),
	    "dmarc=permerror reason=\"no usable domain in From\"");
	assert_int_equal(fake_dns_asked(), 0);
	/* display name, comment, quoted string: evaluated */
	new_call(&f);
	fake_add_header(&f.call, "From",
	    "\"Mallory <m@evil.example>\" (x) <alice@example.org>");
	assert_int_equal(run_data(&f), RMX_REJECT);
	unload(&f);

	load(&f, none);
	fake_add_header(&f.call, "From", "a@example.org, b@example.org");
	assert_int_equal(run_data(&f), RMX_CONTINUE);
	assert_notes(&f, "none", NULL, "none",
	    "dmarc=none reason=\"several addresses in From\"");
	unload(&f);

	load(&f, rej);
	fake_add_header(&f.call, "From", "a@example.org");
	fake_add_header(&f.call, "From", "b@example.org");
	assert_int_equal(run_data(&f), RMX_REJECT);
	assert_int_equal(f.call.reply_code, 550);
	assert_string_equal(f.call.reply_enh, "5.7.1");
	assert_non_null(strstr(f.call.reply_text, "several From fields"));
	unload(&f);
}

static void
t_skip_relay(void **state)
{
	const char *noskip[] = {"skip_relay", "false", NULL};
	struct fixture f;

	(void)state;
	load(&f, NULL);
	txt("_dmarc.example.org", "v=DMARC1; p=reject");
	fake_add_header(&f.call, "From", "alice@example.org");
	fake_set_item(&f.call, RMX_ITEM_RELAY_ALLOWED, 0, "1");
	assert_int_equal(run_data(&f), RMX_CONTINUE);
	assert_null(note_of(&f, "dmarc.result"));
	assert_int_equal(fake_dns_asked(), 0);
	/* "0": evaluated */
	new_call(&f);
	fake_add_header(&f.call, "From", "alice@example.org");
	fake_set_item(&f.call, RMX_ITEM_RELAY_ALLOWED, 0, "0");
	assert_int_equal(run_data(&f), RMX_REJECT);
	unload(&f);
	load(&f, noskip);
	txt("_dmarc.example.org", "v=DMARC1; p=reject");
	fake_add_header(&f.call, "From", "alice@example.org");
	fake_set_item(&f.call, RMX_ITEM_RELAY_ALLOWED, 0, "1");
	assert_int_equal(run_data(&f), RMX_REJECT);
	unload(&f);
}

static void
t_reconfigure(void **state)
{
	const char *header[] = {"reject_action", "header", NULL};
	const char *bad[] = {"reject_action", "nope", NULL};
	struct rmx_kv kv[3] = {{NULL, NULL}};
	struct fixture f;
	char err[256];
	rmx_hook_fn *fn;

	(void)state;
	load(&f, NULL);
	txt("_dmarc.example.org", "v=DMARC1; p=reject");
	fake_add_header(&f.call, "From", "alice@example.org");
	/* a message pending across a reconfigure keeps working */
	fn = fake_hook(f.p, RMX_HOOK_DATA);
	assert_int_equal(fn(&f.call, f.ws), RMX_PENDING);
	kv[0].key = header[0];
	kv[0].value = header[1];
	assert_int_equal(f.p->reconfigure(f.st, kv, err, sizeof(err)), 0);
	fake_run_dns(&f.call);
	assert_int_equal(f.call.completed_verdict, RMX_REJECT);
	/* the next message sees the new settings */
	new_call(&f);
	fake_add_header(&f.call, "From", "alice@example.org");
	assert_int_equal(run_data(&f), RMX_CONTINUE);
	assert_string_equal(note_of(&f, "dmarc.disposition"), "header");
	/* a bad reconfigure fails and keeps them */
	kv[0].key = bad[0];
	kv[0].value = bad[1];
	assert_int_equal(f.p->reconfigure(f.st, kv, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "reject_action"));
	kv[0].key = "unknown";
	assert_int_equal(f.p->reconfigure(f.st, kv, err, sizeof(err)), -1);
	assert_string_equal(err, "dmarc: unknown: unknown key");
	new_call(&f);
	fake_add_header(&f.call, "From", "alice@example.org");
	assert_int_equal(run_data(&f), RMX_CONTINUE);
	assert_string_equal(note_of(&f, "dmarc.disposition"), "header");
	unload(&f);
}

static void
t_entry(void **state)
{
	struct fixture f;
	const char *why = NULL;
	const struct rmx_plugin *(*entry)(uint32_t, const char **);

	(void)state;
	load(&f, NULL);
	assert_string_equal(f.p->name, "dmarc");
	assert_non_null(fake_hook(f.p, RMX_HOOK_DATA));
	assert_non_null(fake_hook(f.p, RMX_HOOK_ROUTE));
	assert_null(fake_hook(f.p, RMX_HOOK_SIGN));
	unload(&f);
	void *h = dlopen(SO, RTLD_NOW | RTLD_LOCAL);
	assert_non_null(h);
	*(void **)&entry = dlsym(h, RMX_PLUGIN_ENTRY_NAME);
	assert_non_null(entry);
	assert_null(entry(2u << 16, &why));
	assert_non_null(why);
	assert_non_null(entry(RMX_PLUGIN_ABI_VERSION, &why));
	dlclose(h);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(t_config_errors),
	    cmocka_unit_test(t_psl_builtin_fallback),
	    cmocka_unit_test(t_pass_spf),
	    cmocka_unit_test(t_pass_dkim),
	    cmocka_unit_test(t_strict_alignment),
	    cmocka_unit_test(t_helo_spf_does_not_count),
	    cmocka_unit_test(t_fail_reject),
	    cmocka_unit_test(t_fail_no_notes),
	    cmocka_unit_test(t_reject_actions),
	    cmocka_unit_test(t_quarantine_hold_and_route),
	    cmocka_unit_test(t_subdomain_sp),
	    cmocka_unit_test(t_pct),
	    cmocka_unit_test(t_pct_sampling),
	    cmocka_unit_test(t_no_record),
	    cmocka_unit_test(t_several_and_mixed_records),
	    cmocka_unit_test(t_invalid_record),
	    cmocka_unit_test(t_temperror),
	    cmocka_unit_test(t_timeout_timer),
	    cmocka_unit_test(t_cancel),
	    cmocka_unit_test(t_from_cases),
	    cmocka_unit_test(t_skip_relay),
	    cmocka_unit_test(t_reconfigure),
	    cmocka_unit_test(t_entry),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
