/*
 * test_plugin_dkim_verify.c - the dkim_verify plugin through the fake
 * host (tests/support/fake_host.c, with its DNS table), on messages
 * signed by dkimpy (tests/fixtures/dkim_verify/, made by
 * make_fixtures.py there): rsa-sha256 and ed25519-sha256, simple and
 * relaxed, with and without l=, a body over 64 KiB, two signatures, the
 * bare RSAPublicKey key form; tampered header and body, revoked key,
 * NXDOMAIN, SERVFAIL and no answer, the timeout timer, expired and future
 * signatures, a key too small, a key of the wrong type, t=y, l= policy,
 * max_signatures, malformed fields, no signature, reject_fail; the notes
 * and ar.dkim_verify text; configuration errors naming the key,
 * reconfigure, cancel with queries in flight. The parsers themselves are
 * tests/unit/test_dkim_sig.c.
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
#include <time.h>

#include "fake_host.h"

#define SO     "build/asan/plugins/dkim_verify.so"
#define FIX    "tests/fixtures/dkim_verify/"
#define T_TXT  16
#define KEYDOM "._domainkey.dkim.test"

static char *
slurp(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	char *p;
	long n;

	if (f == NULL)
		fail_msg("cannot open %s", path);
	fseek(f, 0, SEEK_END);
	n = ftell(f);
	fseek(f, 0, SEEK_SET);
	p = malloc((size_t)n + 1);
	assert_non_null(p);
	assert_int_equal(fread(p, 1, (size_t)n, f), (size_t)n);
	p[n] = '\0';
	fclose(f);
	if (len != NULL)
		*len = (size_t)n;
	return p;
}

/* A zone-file TXT line for name with text split into 200-octet strings. */
static char *
txt_rr(const char *name, const char *text)
{
	size_t n = strlen(text), o;
	char *out = malloc(strlen(name) + n * 2 + 64);

	assert_non_null(out);
	o = (size_t)sprintf(out, "%s. 300 IN TXT", name);
	for (size_t i = 0; i < n || i == 0; i += 200) {
		size_t k = n - i < 200 ? n - i : 200;

		o += (size_t)sprintf(out + o, " \"%.*s\"", (int)k, text + i);
		if (n == 0)
			break;
	}
	return out;
}

/* The key record of selector sel from a fixture file. */
static void
add_key(const char *sel, const char *file)
{
	char path[256], name[128];
	char *txt, *rr;

	snprintf(path, sizeof(path), FIX "%s", file);
	snprintf(name, sizeof(name), "%s" KEYDOM, sel);
	txt = slurp(path, NULL);
	rr = txt_rr(name, txt);
	fake_dns_add(T_TXT, name, 0, rr);
	free(rr);
	free(txt);
}

static void
add_key_text(const char *sel, const char *text)
{
	char name[128];
	char *rr;

	snprintf(name, sizeof(name), "%s" KEYDOM, sel);
	rr = txt_rr(name, text);
	fake_dns_add(T_TXT, name, 0, rr);
	free(rr);
}

static void
standard_keys(void)
{
	add_key("rsa1", "rsa.txt");
	add_key("ed1", "ed.txt");
	add_key("small", "small.txt");
}

/* A test message: header fields into the call, body pointer kept. */
struct msg {
	char *raw;
	size_t len;
};

static void
load_msg(struct rmx_call *c, struct msg *m, const char *file)
{
	char path[256];
	char *p, *end;

	snprintf(path, sizeof(path), FIX "%s", file);
	m->raw = slurp(path, &m->len);
	p = m->raw;
	while (strncmp(p, "\r\n", 2) != 0) {
		char *colon = strchr(p, ':'), *name, *value;

		assert_non_null(colon);
		end = p;
		for (;;) {
			end = strstr(end, "\r\n");
			assert_non_null(end);
			if (end[2] != ' ' && end[2] != '\t')
				break;
			end += 2;
		}
		name = strndup(p, (size_t)(colon - p));
		value = strndup(colon + 1, (size_t)(end - colon - 1));
		fake_add_header(c, name, value);
		free(name);
		free(value);
		p = end + 2;
	}
	c->body = p + 2;
	c->body_len = m->len - (size_t)(p + 2 - m->raw);
}

/* Replace the first occurrence of from in the message (same length). */
static void
tamper(struct rmx_call *c, struct msg *m, const char *from, const char *to)
{
	assert_int_equal(strlen(from), strlen(to));
	for (size_t i = 0; i < c->nheaders; i++) {
		char *p = c->hvalue[i] ? strstr(c->hvalue[i], from) : NULL;

		if (p != NULL) {
			memcpy(p, to, strlen(to));
			return;
		}
	}
	char *p = strstr(m->raw + (c->body - m->raw), from);
	assert_non_null(p);
	memcpy(p, to, strlen(to));
}

struct env {
	const struct rmx_plugin *p;
	void *ps, *ws;
	rmx_hook_fn *hook;
	struct rmx_call c;
	struct msg m;
};

static void
env_start(struct env *e, const char **cfg)
{
	char err[256];

	memset(e, 0, sizeof(*e));
	e->p = fake_load(SO, cfg, &e->ps, err, sizeof(err));
	if (e->p == NULL)
		fail_msg("load: %s", err);
	assert_int_equal(e->p->worker_init(e->ps, 0, &e->ws), 0);
	e->hook = fake_hook(e->p, RMX_HOOK_DATA);
	assert_non_null(e->hook);
	fake_call_init(&e->c);
	fake_dns_reset();
	standard_keys();
}

static void
env_stop(struct env *e)
{
	fake_dns_drop(&e->c);
	fake_call_free(&e->c);
	free(e->m.raw);
	e->p->worker_fini(e->ws);
	e->p->fini(e->ps);
	fake_dns_reset();
}

/* Run the hook and any DNS to the end; the final verdict. */
static enum rmx_verdict
run(struct env *e)
{
	enum rmx_verdict v = e->hook(&e->c, e->ws);

	if (v != RMX_PENDING)
		return v;
	assert_false(e->c.completed);
	fake_run_dns(&e->c);
	assert_true(e->c.completed);
	return e->c.completed_verdict;
}

static const char *
note(struct env *e, const char *key)
{
	const char *v = NULL;

	if (fake_host()->note_get(&e->c, key, &v) != 0)
		return NULL;
	return v;
}

static void
assert_note(struct env *e, const char *key, const char *want)
{
	const char *v = note(e, key);

	if (want == NULL) {
		if (v != NULL)
			fail_msg("note %s = \"%s\", want none", key, v);
		return;
	}
	if (v == NULL || strcmp(v, want) != 0)
		fail_msg("note %s = \"%s\", want \"%s\"", key, v ? v : "(none)",
		    want);
}

/* One fixture, one signature: result and reason. */
static void
verify_one(
    const char *file, const char **cfg, const char *result, const char *reason)
{
	struct env e;

	env_start(&e, cfg);
	load_msg(&e.c, &e.m, file);
	assert_int_equal(run(&e), RMX_CONTINUE);
	assert_note(&e, "dkim.count", "1");
	assert_note(&e, "dkim.0.result", result);
	assert_note(&e, "dkim.0.reason", reason);
	assert_note(&e, "dkim.0.domain", "dkim.test");
	env_stop(&e);
}

/* ----------------------------------------------------------- pass */

static void
test_pass_each_form(void **state)
{
	static const char *const files[] = {"rsa_relaxed.eml", "rsa_simple.eml",
	    "ed_relaxed.eml", "ed_simple.eml", "rsa_relaxed_l.eml",
	    "ed_simple_l.eml", "rsa_big.eml", "small.eml"};

	(void)state;
	for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
		print_message("%s\n", files[i]);
		verify_one(files[i], NULL, "pass", NULL);
	}
}

static void
test_pass_notes_and_ar(void **state)
{
	struct env e;
	char want[512];
	const char *b0, *b1;

	(void)state;
	env_start(&e, NULL);
	load_msg(&e.c, &e.m, "two.eml");
	assert_int_equal(e.hook(&e.c, e.ws), RMX_PENDING);
	assert_int_equal(fake_dns_pending(), 2); /* both queries at once */
	assert_int_equal(fake_run_dns(&e.c), 2);
	assert_true(e.c.completed);
	assert_int_equal(e.c.completed_verdict, RMX_CONTINUE);
	assert_note(&e, "dkim.count", "2");
	assert_note(&e, "dkim.0.result", "pass");
	assert_note(&e, "dkim.0.selector", "rsa1");
	assert_note(&e, "dkim.0.algorithm", "rsa-sha256");
	assert_note(&e, "dkim.1.result", "pass");
	assert_note(&e, "dkim.1.selector", "ed1");
	assert_note(&e, "dkim.1.algorithm", "ed25519-sha256");
	assert_note(&e, "dkim.0.l", NULL);
	b0 = note(&e, "dkim.0.b");
	b1 = note(&e, "dkim.1.b");
	assert_non_null(b0);
	assert_non_null(b1);
	assert_int_equal(strlen(b0), 8);
	/* the first 8 characters of b= in the message */
	assert_non_null(strstr(e.c.hvalue[0], b0));
	snprintf(want, sizeof(want),
	    "dkim=pass header.d=dkim.test header.s=rsa1 header.a=rsa-sha256 "
	    "header.b=%s%s%s; dkim=pass header.d=dkim.test header.s=ed1 "
	    "header.a=ed25519-sha256 header.b=%s%s%s",
	    strpbrk(b0, "/=") ? "\"" : "", b0, strpbrk(b0, "/=") ? "\"" : "",
	    strpbrk(b1, "/=") ? "\"" : "", b1, strpbrk(b1, "/=") ? "\"" : "");
	assert_note(&e, "ar.dkim_verify", want);
	env_stop(&e);
}

static void
test_pass_pkcs1_key(void **state)
{
	struct env e;

	(void)state;
	env_start(&e, NULL);
	fake_dns_reset();
	add_key("rsa1", "rsa_pkcs1.txt");
	load_msg(&e.c, &e.m, "rsa_relaxed.eml");
	assert_int_equal(run(&e), RMX_CONTINUE);
	assert_note(&e, "dkim.0.result", "pass");
	env_stop(&e);
}

static void
test_l_tag(void **state)
{
	static const char *reject[] = {"reject_l_tag", "true", NULL};
	struct env e;
	char l[32];

	(void)state;
	/* text appended after signing is outside l=: still a pass */
	env_start(&e, NULL);
	load_msg(&e.c, &e.m, "l_appended.eml");
	assert_int_equal(run(&e), RMX_CONTINUE);
	assert_note(&e, "dkim.0.result", "pass");
	assert_non_null(note(&e, "dkim.0.l"));
	snprintf(l, sizeof(l), "l=%s;", note(&e, "dkim.0.l"));
	assert_non_null(strstr(e.c.hvalue[0], l));
	env_stop(&e);
	/* unless reject_l_tag */
	verify_one("l_appended.eml", reject, "fail", "body length limit");
	/* a signed length equal to the body passes under reject_l_tag */
	verify_one("rsa_relaxed_l.eml", reject, "pass", NULL);
	/* a body shorter than l= */
	env_start(&e, NULL);
	load_msg(&e.c, &e.m, "rsa_relaxed_l.eml");
	e.c.body_len -= 20;
	assert_int_equal(run(&e), RMX_CONTINUE);
	assert_note(&e, "dkim.0.result", "fail");
	assert_note(&e, "dkim.0.reason", "l= longer than the body");
	env_stop(&e);
}

/* ----------------------------------------------------------- fail */

static void
test_tampered(void **state)
{
	struct env e;

	(void)state;
	env_start(&e, NULL);
	load_msg(&e.c, &e.m, "rsa_relaxed.eml");
	tamper(&e.c, &e.m, "verification", "verificatioN");
	assert_int_equal(run(&e), RMX_CONTINUE);
	assert_note(&e, "dkim.0.result", "fail");
	assert_note(&e, "dkim.0.reason", "signature did not verify");
	assert_non_null(strstr(note(&e, "ar.dkim_verify"),
	    "dkim=fail reason=\"signature did not "
	    "verify\" header.d=dkim.test"));
	env_stop(&e);

	env_start(&e, NULL);
	load_msg(&e.c, &e.m, "ed_simple.eml");
	tamper(&e.c, &e.m, "second paragraph", "second Paragraph");
	assert_int_equal(e.hook(&e.c, e.ws), RMX_CONTINUE); /* no DNS */
	assert_int_equal(fake_dns_asked(), 0);
	assert_note(&e, "dkim.0.result", "fail");
	assert_note(&e, "dkim.0.reason", "body hash mismatch");
	env_stop(&e);

	/* relaxed ignores a change of whitespace, simple does not */
	env_start(&e, NULL);
	load_msg(&e.c, &e.m, "ed_relaxed.eml");
	tamper(&e.c, &e.m, "Hello  DKIM", "Hello \tDKIM");
	assert_int_equal(run(&e), RMX_CONTINUE);
	assert_note(&e, "dkim.0.result", "pass");
	env_stop(&e);
	env_start(&e, NULL);
	load_msg(&e.c, &e.m, "ed_simple.eml");
	tamper(&e.c, &e.m, "Hello  DKIM", "Hello \tDKIM");
	assert_int_equal(run(&e), RMX_CONTINUE);
	assert_note(&e, "dkim.0.result", "fail");
	env_stop(&e);
}

static void
test_key_problems(void **state)
{
	struct env e;
	static const char *big[] = {"min_rsa_bits", "2048", NULL};

	(void)state;
	/* revoked */
	env_start(&e, NULL);
	fake_dns_reset();
	add_key_text("ed1", "v=DKIM1; k=ed25519; p=");
	load_msg(&e.c, &e.m, "ed_relaxed.eml");
	run(&e);
	assert_note(&e, "dkim.0.result", "fail");
	assert_note(&e, "dkim.0.reason", "key revoked");
	env_stop(&e);
	/* NXDOMAIN */
	env_start(&e, NULL);
	fake_dns_reset();
	load_msg(&e.c, &e.m, "ed_relaxed.eml");
	run(&e);
	assert_note(&e, "dkim.0.result", "permerror");
	assert_note(&e, "dkim.0.reason", "no key");
	env_stop(&e);
	/* SERVFAIL, and no answer at all */
	for (int rc = 0; rc < 2; rc++) {
		env_start(&e, NULL);
		fake_dns_reset();
		fake_dns_add(
		    T_TXT, "ed1" KEYDOM, rc ? FAKE_DNS_TIMEOUT : 2, NULL);
		load_msg(&e.c, &e.m, "ed_relaxed.eml");
		run(&e);
		assert_note(&e, "dkim.0.result", "temperror");
		assert_note(&e, "dkim.0.reason", "key lookup failed");
		env_stop(&e);
	}
	/* a key too small for min_rsa_bits */
	verify_one("small.eml", big, "permerror", "key too small");
	verify_one("rsa_relaxed.eml", big, "pass", NULL);
	/* a key of the other type */
	env_start(&e, NULL);
	fake_dns_reset();
	add_key("rsa1", "ed.txt");
	load_msg(&e.c, &e.m, "rsa_relaxed.eml");
	run(&e);
	assert_note(&e, "dkim.0.result", "permerror");
	assert_note(&e, "dkim.0.reason", "key type does not match a=");
	env_stop(&e);
	/* junk TXT first, the key second: the one that parses is used;
	 * t=y is recorded */
	env_start(&e, NULL);
	fake_dns_reset();
	{
		char *txt = slurp(FIX "ed.txt", NULL), rr[512];

		snprintf(rr, sizeof(rr),
		    "ed1" KEYDOM ". 300 IN TXT \"not a key\"\n"
		    "ed1" KEYDOM ". 300 IN TXT \"%s; t=y\"",
		    txt);
		fake_dns_add(T_TXT, "ed1" KEYDOM, 0, rr);
		free(txt);
	}
	load_msg(&e.c, &e.m, "ed_relaxed.eml");
	run(&e);
	assert_note(&e, "dkim.0.result", "pass");
	assert_note(&e, "dkim.0.testing", "y");
	env_stop(&e);
	/* a record that is not a key */
	env_start(&e, NULL);
	fake_dns_reset();
	add_key_text("ed1", "v=spf1 -all");
	load_msg(&e.c, &e.m, "ed_relaxed.eml");
	run(&e);
	assert_note(&e, "dkim.0.result", "permerror");
	env_stop(&e);
}

static void
test_timeout(void **state)
{
	struct env e;

	(void)state;
	env_start(&e, NULL);
	load_msg(&e.c, &e.m, "two.eml");
	assert_int_equal(e.hook(&e.c, e.ws), RMX_PENDING);
	assert_int_equal(e.c.ntimers, 1);
	/* one answer comes, then the timer */
	fake_dns_drop(&e.c);
	fake_run_timers(&e.c);
	assert_true(e.c.completed);
	assert_int_equal(e.c.completed_verdict, RMX_CONTINUE);
	assert_note(&e, "dkim.0.result", "temperror");
	assert_note(&e, "dkim.0.reason", "key lookup timed out");
	assert_note(&e, "dkim.1.result", "temperror");
	env_stop(&e);

	/* answers after the timer are ignored */
	env_start(&e, NULL);
	load_msg(&e.c, &e.m, "two.eml");
	assert_int_equal(e.hook(&e.c, e.ws), RMX_PENDING);
	fake_run_timers(&e.c);
	e.c.completed = false;
	assert_int_equal(fake_run_dns(&e.c), 2);
	assert_false(e.c.completed);
	assert_note(&e, "dkim.1.result", "temperror");
	env_stop(&e);
}

static void
test_time(void **state)
{
	(void)state;
	verify_one("expired.eml", NULL, "fail", "signature expired");
	verify_one("future.eml", NULL, "permerror", "signature in the future");
}

/* --------------------------------------------- counts and oddities */

static void
test_none_and_max(void **state)
{
	static const char *one[] = {"max_signatures", "1", NULL};
	struct env e;

	(void)state;
	env_start(&e, NULL);
	fake_add_header(&e.c, "From", " a@b.test");
	e.c.body = "hi\r\n";
	e.c.body_len = 4;
	assert_int_equal(e.hook(&e.c, e.ws), RMX_CONTINUE);
	assert_note(&e, "dkim.count", "0");
	assert_note(&e, "ar.dkim_verify", "dkim=none");
	env_stop(&e);

	env_start(&e, one);
	load_msg(&e.c, &e.m, "two.eml");
	assert_int_equal(run(&e), RMX_CONTINUE);
	assert_note(&e, "dkim.count", "1");
	assert_note(&e, "dkim.0.result", "pass");
	assert_note(&e, "dkim.1.result", NULL);
	assert_int_equal(fake_dns_asked(), 1);
	env_stop(&e);
}

static void
test_malformed(void **state)
{
	struct env e;

	(void)state;
	env_start(&e, NULL);
	load_msg(&e.c, &e.m, "ed_relaxed.eml");
	/* added on top: numbered 0 */
	fake_host()->header_add(&e.c, "DKIM-Signature",
	    "v=1; a=rsa-sha256; "
	    "b=AAAA; bh=AAAA; s=x; h=to");
	fake_host()->header_add(&e.c, "dkim-signature ", "\x01\xff garbage");
	assert_int_equal(run(&e), RMX_CONTINUE);
	assert_note(&e, "dkim.count", "3");
	assert_note(&e, "dkim.0.result", "permerror");
	assert_note(&e, "dkim.0.reason", "tag list syntax");
	assert_note(&e, "dkim.0.domain", NULL);
	assert_note(&e, "dkim.1.result", "permerror");
	assert_note(&e, "dkim.1.reason", "missing d=");
	assert_note(&e, "dkim.1.selector", "x");
	assert_note(&e, "dkim.2.result", "pass");
	assert_non_null(strstr(note(&e, "ar.dkim_verify"),
	    "dkim=permerror reason=\"tag list syntax\"; dkim=permerror "
	    "reason=\"missing d=\" header.s=x header.b=AAAA; dkim=pass"));
	env_stop(&e);
}

static void
test_reject_fail(void **state)
{
	static const char *rf[] = {"reject_fail", "true", NULL};
	struct env e;

	(void)state;
	env_start(&e, rf);
	load_msg(&e.c, &e.m, "rsa_relaxed.eml");
	tamper(&e.c, &e.m, "verification", "verificatioN");
	assert_int_equal(run(&e), RMX_REJECT);
	assert_int_equal(e.c.reply_code, 550);
	assert_string_equal(e.c.reply_enh, "5.7.20");
	env_stop(&e);
	/* a pass next to the failure: no reject */
	env_start(&e, rf);
	load_msg(&e.c, &e.m, "two.eml");
	tamper(&e.c, &e.m, "c=relaxed/simple", "c=relaxed/relaxe");
	assert_int_equal(run(&e), RMX_CONTINUE);
	env_stop(&e);
	/* temperror only: no reject */
	env_start(&e, rf);
	fake_dns_reset();
	fake_dns_add(T_TXT, "rsa1" KEYDOM, 2, NULL);
	load_msg(&e.c, &e.m, "rsa_relaxed.eml");
	assert_int_equal(run(&e), RMX_CONTINUE);
	env_stop(&e);
}

/* ------------------------------------------------ config, lifecycle */

static void
test_config(void **state)
{
	static const struct {
		const char *k, *v, *want;
	} bad[] = {{"max_signatures", "0", "max_signatures"},
	    {"max_signatures", "51", "max_signatures"},
	    {"max_clock_skew", "-1", "max_clock_skew"},
	    {"timeout_ms", "10", "timeout_ms"},
	    {"timeout_ms", "99999999999999999999", "timeout_ms"},
	    {"min_rsa_bits", "abc", "min_rsa_bits"},
	    {"reject_l_tag", "maybe", "reject_l_tag"},
	    {"reject_fail", "", "reject_fail"},
	    {"bogus_key", "1", "bogus_key: unknown key"}};
	char err[256];
	void *ps;

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		const char *cfg[] = {bad[i].k, bad[i].v, NULL};

		assert_null(fake_load(SO, cfg, &ps, err, sizeof(err)));
		if (strstr(err, bad[i].want) == NULL ||
		    strncmp(err, "dkim_verify: ", 13) != 0)
			fail_msg("%s=%s: \"%s\"", bad[i].k, bad[i].v, err);
	}
	const char *good[] = {"max_signatures", "50", "max_clock_skew", "0",
	    "timeout_ms", "100", "min_rsa_bits", "2048", "reject_l_tag",
	    "false", "reject_fail", "true", NULL};
	const struct rmx_plugin *p = fake_load(SO, good, &ps, err, sizeof(err));
	assert_non_null(p);
	p->fini(ps);
}

static void
test_reconfigure(void **state)
{
	struct env e;
	char err[256];
	struct rmx_kv rf[] = {{"reject_fail", "true"}, {NULL, NULL}};
	struct rmx_kv bad[] = {
	    {"reject_fail", "true"}, {"nope", "1"}, {NULL, NULL}};

	(void)state;
	env_start(&e, NULL);
	load_msg(&e.c, &e.m, "rsa_relaxed.eml");
	tamper(&e.c, &e.m, "verification", "verificatioN");
	assert_int_equal(run(&e), RMX_CONTINUE);
	/* a bad configuration keeps the old one */
	assert_int_not_equal(e.p->reconfigure(e.ps, bad, err, sizeof(err)), 0);
	assert_non_null(strstr(err, "nope"));
	fake_call_free(&e.c);
	fake_call_init(&e.c);
	free(e.m.raw);
	load_msg(&e.c, &e.m, "rsa_relaxed.eml");
	tamper(&e.c, &e.m, "verification", "verificatioN");
	assert_int_equal(run(&e), RMX_CONTINUE);
	assert_int_equal(e.p->reconfigure(e.ps, rf, err, sizeof(err)), 0);
	fake_call_free(&e.c);
	fake_call_init(&e.c);
	free(e.m.raw);
	load_msg(&e.c, &e.m, "rsa_relaxed.eml");
	tamper(&e.c, &e.m, "verification", "verificatioN");
	assert_int_equal(run(&e), RMX_REJECT);
	env_stop(&e);
}

static void
test_cancel(void **state)
{
	struct env e;

	(void)state;
	env_start(&e, NULL);
	load_msg(&e.c, &e.m, "two.eml");
	assert_int_equal(e.hook(&e.c, e.ws), RMX_PENDING);
	/* the session dies: the host drops the queries and calls cancel */
	fake_dns_drop(&e.c);
	e.p->cancel(&e.c, e.ws);
	assert_false(e.c.completed);
	assert_null(note(&e, "dkim.count"));
	env_stop(&e); /* ASan: nothing leaks */
}

static void
test_entry_abi(void **state)
{
	const struct rmx_plugin *(*entry)(uint32_t, const char **);
	const char *why = NULL;
	void *h = dlopen(SO, RTLD_NOW | RTLD_LOCAL);

	(void)state;
	assert_non_null(h);
	*(void **)&entry = dlsym(h, RMX_PLUGIN_ENTRY_NAME);
	assert_non_null(entry);
	assert_null(entry(2u << 16, &why));
	assert_non_null(why);
	assert_non_null(entry(RMX_PLUGIN_ABI_VERSION, &why));
	dlclose(h);
}

/* Time per message through the hook (fake host, ASan build). */
static void
test_measure(void **state)
{
	static const char *const files[] = {
	    "rsa_relaxed.eml", "ed_relaxed.eml", "rsa_big.eml"};

	(void)state;
	for (size_t f = 0; f < 3; f++) {
		struct timespec t0, t1;
		const int rounds = 100;

		clock_gettime(CLOCK_MONOTONIC, &t0);
		for (int i = 0; i < rounds; i++) {
			struct env e;

			env_start(&e, NULL);
			load_msg(&e.c, &e.m, files[f]);
			assert_int_equal(run(&e), RMX_CONTINUE);
			assert_note(&e, "dkim.0.result", "pass");
			env_stop(&e);
		}
		clock_gettime(CLOCK_MONOTONIC, &t1);
		printf("# %s: %.0f us per message (load, hook, DNS, verify; "
		       "ASan)\n",
		    files[f],
		    ((double)(t1.tv_sec - t0.tv_sec) * 1e6 +
			(double)(t1.tv_nsec - t0.tv_nsec) / 1e3) /
			rounds);
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_pass_each_form),
	    cmocka_unit_test(test_pass_notes_and_ar),
	    cmocka_unit_test(test_pass_pkcs1_key),
	    cmocka_unit_test(test_l_tag),
	    cmocka_unit_test(test_tampered),
	    cmocka_unit_test(test_key_problems),
	    cmocka_unit_test(test_timeout),
	    cmocka_unit_test(test_time),
	    cmocka_unit_test(test_none_and_max),
	    cmocka_unit_test(test_malformed),
	    cmocka_unit_test(test_reject_fail),
	    cmocka_unit_test(test_config),
	    cmocka_unit_test(test_reconfigure),
	    cmocka_unit_test(test_cancel),
	    cmocka_unit_test(test_entry_abi),
	    cmocka_unit_test(test_measure),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
