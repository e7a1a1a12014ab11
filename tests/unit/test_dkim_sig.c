/*
 * test_dkim_sig.c - the pure parts of the dkim_verify plugin, compiled
 * in: the tag=value list (plugins/dkim_verify/dkim_tags.c), the
 * DKIM-Signature parser and time checks (dkim_sig.c), the key record
 * parser, key checks and public-key operations (dkim_key.c), and what
 * verification added to plugins/common/dkim_canon.c (base64 decoding,
 * the l= limit of the body hash). The plugin itself, with DNS and
 * messages signed by dkimpy, is tests/unit/test_plugin_dkim_verify.c.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "../../plugins/common/dkim_canon.c"
#include "../../plugins/dkim_verify/dkim_key.c"
#include "../../plugins/dkim_verify/dkim_sig.c"
#include "../../plugins/dkim_verify/dkim_tags.c"

#define FIX "tests/fixtures/dkim_verify/"

static char *
slurp(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	char *p;
	long n;

	assert_non_null(f);
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

/* The value of the first DKIM-Signature field of a fixture (malloc). */
static char *
sig_value(const char *file)
{
	char *m = slurp(file, NULL), *v, *end;
	const char *h = "DKIM-Signature:";

	assert_memory_equal(m, h, strlen(h));
	v = m + strlen(h);
	end = v;
	for (;;) {
		end = strstr(end, "\r\n");
		assert_non_null(end);
		if (end[2] != ' ' && end[2] != '\t')
			break;
		end += 2;
	}
	v = strndup(v, (size_t)(end - v));
	free(m);
	return v;
}

/* =========================================================== tags */

static void
test_tags_good(void **state)
{
	const char *s = " a = 1 ;\r\n\tb=two  words ; c_9=; d=x;  ";
	struct dkim_tags t;
	const char *why = NULL;
	const struct dkim_tag *g;

	(void)state;
	assert_int_equal(dkim_tags_parse(s, strlen(s), &t, &why), 0);
	assert_int_equal(t.n, 4);
	g = dkim_tags_get(&t, "a");
	assert_non_null(g);
	assert_int_equal(g->vlen, 1);
	assert_memory_equal(g->val, "1", 1);
	g = dkim_tags_get(&t, "b");
	assert_int_equal(g->vlen, strlen("two  words"));
	assert_memory_equal(g->val, "two  words", g->vlen);
	/* the raw span: between "=" and ";", FWS included */
	assert_int_equal(g->raw_end - g->raw_start, strlen("two  words "));
	assert_int_equal(s[g->raw_end], ';');
	g = dkim_tags_get(&t, "c_9");
	assert_non_null(g);
	assert_int_equal(g->vlen, 0);
	assert_null(dkim_tags_get(&t, "A")); /* names are case-sensitive */
	assert_null(dkim_tags_get(&t, "e"));
	/* empty list, only FWS */
	assert_int_equal(dkim_tags_parse(" \r\n ", 4, &t, &why), 0);
	assert_int_equal(t.n, 0);
}

static void
test_tags_bad(void **state)
{
	static const char *const bad[] = {
	    "a=1; a=2",      /* duplicate */
	    "a=1;;b=2",      /* empty tag-spec */
	    ";a=1",          /* empty tag-spec first */
	    "a",             /* no = */
	    "a b=1",         /* space in a name */
	    "1a=1",          /* name starts with a digit */
	    "_a=1",          /* ... or "_" */
	    "a=1\x01",       /* control character */
	    "a=caf\xc3\xa9", /* not ASCII */
	    "=1",
	};
	struct dkim_tags t;
	const char *why;
	char many[64 * 8 + 8];
	size_t o = 0;

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		why = NULL;
		if (dkim_tags_parse(bad[i], strlen(bad[i]), &t, &why) != -1)
			fail_msg("accepted \"%s\"", bad[i]);
		assert_non_null(why);
	}
	assert_int_equal(dkim_tags_parse("a=1; a=2", 8, &t, &why), -1);
	assert_string_equal(why, "duplicate tag");
	/* DKIM_TAGS_MAX + 1 tags */
	for (int i = 0; i <= DKIM_TAGS_MAX; i++)
		o += (size_t)sprintf(many + o, "t%d=1;", i);
	assert_int_equal(dkim_tags_parse(many, o, &t, &why), -1);
	assert_string_equal(why, "too many tags");
}

/* ====================================================== signature */

static const char GOOD[] =
    " v=1; a=rsa-sha256; c=relaxed/simple; d=Example.ORG;\r\n"
    "\ti=user@mail.example.org; q=dns/txt; s=sel-1; t=1000; x=2000;\r\n"
    "\tl=42; h=From : To:\r\n\tsubject:from; bh=AAAA; b=ab/+\r\n\t CDEF gh==";

static void
test_sig_good(void **state)
{
	struct dkim_sig s;
	const char *why = NULL;

	(void)state;
	assert_int_equal(dkim_sig_parse(GOOD, strlen(GOOD), &s, &why), 0);
	assert_int_equal(s.alg, DKIM_ALG_RSA_SHA256);
	assert_int_equal(s.hcanon, DKIM_CANON_RELAXED);
	assert_int_equal(s.bcanon, DKIM_CANON_SIMPLE);
	assert_string_equal(s.d, "example.org");
	assert_string_equal(s.s, "sel-1");
	assert_string_equal(s.i_dom, "mail.example.org");
	assert_string_equal(s.b8, "ab/+CDEF");
	assert_int_equal(s.blen, 7);
	assert_int_equal(s.bhlen, 3);
	assert_true(s.has_l && s.has_t && s.has_x);
	assert_int_equal(s.l, 42);
	assert_int_equal(s.t, 1000);
	assert_int_equal(s.x, 2000);
	assert_int_equal(s.nh, 4);
	assert_memory_equal(GOOD + s.h_off[0], "From", s.h_len[0]);
	assert_memory_equal(GOOD + s.h_off[1], "To", s.h_len[1]);
	assert_memory_equal(GOOD + s.h_off[2], "subject", s.h_len[2]);
	assert_memory_equal(GOOD + s.h_off[3], "from", s.h_len[3]);
	/* the b= value runs to the end */
	assert_int_equal(s.b_end, strlen(GOOD));
	assert_memory_equal(GOOD + s.b_start, "ab/+", 4);

	/* defaults: c=simple/simple, i=@d, no l/t/x */
	const char *min = "v=1; a=ed25519-sha256; d=a.b; s=s; h=from; "
			  "bh=AAAA; b=AAAA; c=relaxed";
	assert_int_equal(dkim_sig_parse(min, strlen(min), &s, &why), 0);
	assert_int_equal(s.alg, DKIM_ALG_ED25519_SHA256);
	assert_int_equal(s.hcanon, DKIM_CANON_RELAXED);
	assert_int_equal(s.bcanon, DKIM_CANON_SIMPLE);
	assert_string_equal(s.i_dom, "a.b");
	assert_false(s.has_l || s.has_t || s.has_x);
	/* unknown tags are ignored; q= with other methods too */
	const char *unk = "v=1; a=rsa-sha256; d=a.b; s=s; h=from; bh=AAAA; "
			  "b=AAAA; zz=whatever; q=foo/bar:DNS/TXT";
	assert_int_equal(dkim_sig_parse(unk, strlen(unk), &s, &why), 0);
}

/* GOOD with one substitution; the parse must fail with reason want. */
static void
sig_bad(const char *from, const char *to, const char *want)
{
	char buf[1024];
	const char *p = strstr(GOOD, from), *why = NULL;
	struct dkim_sig s;
	int n;

	assert_non_null(p);
	n = snprintf(buf, sizeof(buf), "%.*s%s%s", (int)(p - GOOD), GOOD, to,
	    p + strlen(from));
	if (dkim_sig_parse(buf, (size_t)n, &s, &why) != -1)
		fail_msg("accepted with %s -> %s", from, to);
	if (strcmp(why, want) != 0)
		fail_msg("%s -> %s: reason \"%s\", want \"%s\"", from, to, why,
		    want);
}

static void
test_sig_bad(void **state)
{
	(void)state;
	sig_bad(" v=1;", "", "missing v=");
	sig_bad("a=rsa-sha256;", "", "missing a=");
	sig_bad("d=Example.ORG;", "", "missing d=");
	sig_bad("s=sel-1;", "", "missing s=");
	sig_bad("bh=AAAA;", "", "missing bh=");
	sig_bad("h=From : To:\r\n\tsubject:from;", "", "missing h=");
	sig_bad("; b=ab/+\r\n\t CDEF gh==", "", "missing b=");
	sig_bad("v=1", "v=2", "unsupported version");
	sig_bad("a=rsa-sha256", "a=rsa-sha1", "unsupported algorithm");
	sig_bad("a=rsa-sha256", "a=RSA-SHA256", "unsupported algorithm");
	sig_bad("b=ab/+", "b=a\x01/+", "tag value syntax");
	sig_bad("b=ab/+", "b=a*/+", "bad b=");
	sig_bad("b=ab/+\r\n\t CDEF gh==", "b=", "bad b=");
	sig_bad("bh=AAAA", "bh=AAA", "bad bh=");
	sig_bad("c=relaxed/simple", "c=relaxed/fancy", "bad c=");
	sig_bad("d=Example.ORG", "d=exa_mple.org", "bad d=");
	sig_bad("d=Example.ORG", "d=-x.org", "bad d=");
	sig_bad("s=sel-1", "s=a..b", "bad s=");
	sig_bad("h=From : To:\r\n\tsubject:from", "h=to:subject",
	    "bad h= (from must be signed)");
	sig_bad("h=From", "h=From::", "bad h= (from must be signed)");
	sig_bad("i=user@mail.example.org", "i=user@example.net",
	    "i= not within d=");
	sig_bad("i=user@mail.example.org", "i=user@xexample.org",
	    "i= not within d=");
	sig_bad("i=user@mail.example.org", "i=user", "bad i=");
	sig_bad("l=42", "l=4x", "bad l=");
	sig_bad("l=42", "l=99999999999999999999", "bad l=");
	sig_bad("q=dns/txt", "q=http/well-known", "unsupported q=");
	sig_bad("t=1000", "t=-1", "bad t=");
	sig_bad("x=2000", "x=1000", "x= not after t=");
	sig_bad("x=2000", "x=999", "x= not after t=");
	sig_bad("x=2000", "x=20 00", "bad x=");
	sig_bad("t=1000", "t=1000; t=1000", "duplicate tag");
	sig_bad("v=1;", "v=1;;", "tag list syntax");
}

static void
test_sig_partial_fields(void **state)
{
	/* a broken signature still names d=, s= and b= for the notes */
	const char *v = "v=1; a=rsa-sha1; d=X.test; s=k1; h=from; bh=AAAA; "
			"b=ZZZZyyyyXXXX";
	struct dkim_sig s;
	const char *why;

	(void)state;
	assert_int_equal(dkim_sig_parse(v, strlen(v), &s, &why), -1);
	assert_string_equal(why, "unsupported algorithm");
	assert_string_equal(s.d, "x.test");
	assert_string_equal(s.s, "k1");
	assert_string_equal(s.b8, "ZZZZyyyy");
	/* too long a field is refused before parsing */
	char *big = malloc(DKIM_SIG_MAX + 2);
	memset(big, 'a', DKIM_SIG_MAX + 1);
	assert_int_equal(dkim_sig_parse(big, DKIM_SIG_MAX + 1, &s, &why), -1);
	assert_string_equal(why, "signature too long");
	free(big);
}

static void
test_sig_time(void **state)
{
	struct dkim_sig s;
	const char *why = NULL;

	(void)state;
	assert_int_equal(dkim_sig_parse(GOOD, strlen(GOOD), &s, &why), 0);
	/* t=1000, x=2000 */
	assert_int_equal(dkim_sig_check_time(&s, 1500, 300, &why), DKIM_PASS);
	assert_int_equal(dkim_sig_check_time(&s, 2000, 300, &why), DKIM_PASS);
	assert_int_equal(dkim_sig_check_time(&s, 2001, 300, &why), DKIM_FAIL);
	assert_string_equal(why, "signature expired");
	assert_int_equal(dkim_sig_check_time(&s, 700, 300, &why), DKIM_PASS);
	assert_int_equal(
	    dkim_sig_check_time(&s, 699, 300, &why), DKIM_PERMERROR);
	assert_string_equal(why, "signature in the future");
	assert_int_equal(dkim_sig_check_time(&s, 999, 0, &why), DKIM_PERMERROR);
	s.has_x = s.has_t = false;
	assert_int_equal(dkim_sig_check_time(&s, 1, 0, &why), DKIM_PASS);
	assert_int_equal(
	    dkim_sig_check_time(&s, UINT64_MAX, 0, &why), DKIM_PASS);
}

static void
test_sig_dkimpy_fixture(void **state)
{
	char *v = sig_value(FIX "rsa_relaxed.eml");
	struct dkim_sig s;
	const char *why = NULL;

	(void)state;
	assert_int_equal(dkim_sig_parse(v, strlen(v), &s, &why), 0);
	assert_string_equal(s.d, "dkim.test");
	assert_string_equal(s.s, "rsa1");
	assert_int_equal(s.blen, 256);
	assert_int_equal(s.bhlen, 32);
	assert_int_equal(s.nh, 7);
	assert_true(s.has_t);
	assert_false(s.has_x || s.has_l);
	free(v);
	v = sig_value(FIX "ed_simple_l.eml");
	assert_int_equal(dkim_sig_parse(v, strlen(v), &s, &why), 0);
	assert_int_equal(s.alg, DKIM_ALG_ED25519_SHA256);
	assert_int_equal(s.blen, 64);
	assert_true(s.has_l);
	free(v);
}

/* ============================================================ keys */

static void
test_key_good(void **state)
{
	struct dkim_key *k = malloc(sizeof(*k));
	const char *why = NULL;
	size_t n;
	char *txt;

	(void)state;
	txt = slurp(FIX "rsa.txt", &n);
	assert_int_equal(dkim_key_parse(txt, n, k, &why), 0);
	assert_int_equal(k->k, DKIM_KEY_RSA);
	assert_false(k->revoked || k->testing || k->strict);
	assert_true(k->sha256_ok && k->email_ok);
	assert_true(k->plen > 256);
	free(txt);
	txt = slurp(FIX "ed.txt", &n);
	assert_int_equal(dkim_key_parse(txt, n, k, &why), 0);
	assert_int_equal(k->k, DKIM_KEY_ED25519);
	assert_int_equal(k->plen, 32);
	free(txt);

	const char *all = "v=DKIM1; h=sha1 : sha256; k=rsa; n=notes here; "
			  "s=email; t=y:s; p=AAAA; zz=unknown";
	assert_int_equal(dkim_key_parse(all, strlen(all), k, &why), 0);
	assert_true(k->testing && k->strict && k->sha256_ok && k->email_ok);
	const char *nov = "p=AAAA; s=*";
	assert_int_equal(dkim_key_parse(nov, strlen(nov), k, &why), 0);
	assert_int_equal(k->k, DKIM_KEY_RSA); /* default k=rsa */
	assert_true(k->email_ok);
	const char *rev = "v=DKIM1; k=ed25519; p=";
	assert_int_equal(dkim_key_parse(rev, strlen(rev), k, &why), 0);
	assert_true(k->revoked);
	const char *other = "h=sha1; s=tlsrpt; p=AAAA";
	assert_int_equal(dkim_key_parse(other, strlen(other), k, &why), 0);
	assert_false(k->sha256_ok || k->email_ok);
	free(k);
}

static void
key_bad(const char *txt, const char *want)
{
	struct dkim_key *k = malloc(sizeof(*k));
	const char *why = NULL;

	if (dkim_key_parse(txt, strlen(txt), k, &why) != -1)
		fail_msg("accepted \"%s\"", txt);
	if (strcmp(why, want) != 0)
		fail_msg("\"%s\": reason \"%s\", want \"%s\"", txt, why, want);
	free(k);
}

static void
test_key_bad(void **state)
{
	(void)state;
	key_bad("v=DKIM2; p=AAAA", "bad key record version");
	key_bad("p=AAAA; v=DKIM1", "bad key record version");
	key_bad("v=DKIM1; k=dsa; p=AAAA", "unknown key type");
	key_bad("v=DKIM1; k=rsa", "key record without p=");
	key_bad("v=DKIM1; p=AA\x7f"
		"A",
	    "tag value syntax");
	key_bad("v=DKIM1; p=AA*A", "bad key data");
	key_bad("v=DKIM1; p=AAAA; p=BBBB", "duplicate tag");
	key_bad("v=DKIM1 p=AAAA", "bad key record version");
	key_bad("garbage", "tag list syntax");
	key_bad("", "key record without p=");
}

static void
test_key_check(void **state)
{
	struct dkim_key *k = malloc(sizeof(*k));
	struct dkim_sig s;
	const char *why = NULL;
	const char *sig = "v=1; a=rsa-sha256; d=a.test; i=@sub.a.test; s=s; "
			  "h=from; bh=AAAA; b=AAAA";

	(void)state;
	assert_int_equal(dkim_sig_parse(sig, strlen(sig), &s, &why), 0);
#define CHECK(txt, want, reason)                                        \
	do {                                                            \
		assert_int_equal(                                       \
		    dkim_key_parse(txt, strlen(txt), k, &why), 0);      \
		assert_int_equal(dkim_key_check(k, &s, &why), want);    \
		if ((reason) != NULL)                                   \
			assert_string_equal(why, (const char *)reason); \
	} while (0)
	CHECK("p=AAAA", DKIM_PASS, NULL);
	CHECK("v=DKIM1; p=", DKIM_FAIL, "key revoked");
	CHECK(
	    "k=ed25519; p=AAAA", DKIM_PERMERROR, "key type does not match a=");
	CHECK("h=sha1; p=AAAA", DKIM_PERMERROR, "key does not allow sha256");
	CHECK("s=tlsrpt; p=AAAA", DKIM_PERMERROR, "key not for email");
	CHECK("t=s; p=AAAA", DKIM_PERMERROR,
	    "key is strict (t=s) and i= is a subdomain");
	CHECK("t=y; p=AAAA", DKIM_PASS, NULL);
#undef CHECK
	free(k);
}

/* dkim_key_verify with the fixtures' keys: the RSA public-key operation
 * (timed: it runs inline in the plugin), both key encodings, sizes. */
static void
test_key_verify(void **state)
{
	struct dkim_key *k = malloc(sizeof(*k));
	struct dkim_sig s;
	unsigned char digest[DKIM_SHA256_LEN] = {0};
	const char *why = NULL;
	unsigned bits = 0;
	struct timespec t0, t1;
	char *v, *txt;
	size_t n;
	const int rounds = 200;
	double us;

	(void)state;
	v = sig_value(FIX "rsa_relaxed.eml");
	assert_int_equal(dkim_sig_parse(v, strlen(v), &s, &why), 0);
	free(v);
	txt = slurp(FIX "rsa.txt", &n);
	assert_int_equal(dkim_key_parse(txt, n, k, &why), 0);
	free(txt);
	/* the digest is wrong: the full RSA operation runs, then fails */
	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (int i = 0; i < rounds; i++) {
		assert_int_equal(
		    dkim_key_verify(k, &s, digest, 1024, &bits, &why),
		    DKIM_FAIL);
	}
	clock_gettime(CLOCK_MONOTONIC, &t1);
	us = ((double)(t1.tv_sec - t0.tv_sec) * 1e6 +
		 (double)(t1.tv_nsec - t0.tv_nsec) / 1e3) /
	     rounds;
	printf(
	    "# RSA-2048 verification (wolfCrypt, this build): %.1f us\n", us);
	assert_string_equal(why, "signature did not verify");
	assert_int_equal(bits, 2048);
	assert_int_equal(
	    dkim_key_verify(k, &s, digest, 4096, &bits, &why), DKIM_PERMERROR);
	assert_string_equal(why, "key too small");
	/* the bare RSAPublicKey form decodes to the same key */
	txt = slurp(FIX "rsa_pkcs1.txt", &n);
	assert_int_equal(dkim_key_parse(txt, n, k, &why), 0);
	free(txt);
	assert_int_equal(
	    dkim_key_verify(k, &s, digest, 1024, &bits, &why), DKIM_FAIL);
	assert_int_equal(bits, 2048);
	/* junk key data */
	const char *junk = "p=AAAAAAAA";
	assert_int_equal(dkim_key_parse(junk, strlen(junk), k, &why), 0);
	assert_int_equal(
	    dkim_key_verify(k, &s, digest, 1024, &bits, &why), DKIM_PERMERROR);
	assert_string_equal(why, "bad key data");
	/* Ed25519: wrong key length, wrong signature */
	const char *ed = "k=ed25519; p=AAAA";
	assert_int_equal(dkim_key_parse(ed, strlen(ed), k, &why), 0);
	assert_int_equal(
	    dkim_key_verify(k, &s, digest, 1024, &bits, &why), DKIM_PERMERROR);
	txt = slurp(FIX "ed.txt", &n);
	assert_int_equal(dkim_key_parse(txt, n, k, &why), 0);
	free(txt);
	v = sig_value(FIX "ed_relaxed.eml");
	assert_int_equal(dkim_sig_parse(v, strlen(v), &s, &why), 0);
	free(v);
	assert_int_equal(
	    dkim_key_verify(k, &s, digest, 1024, &bits, &why), DKIM_FAIL);
	assert_string_equal(why, "signature did not verify");
	free(k);
}

/* ===================================================== dkim_canon */

static void
test_base64_decode(void **state)
{
	static const struct {
		const char *in, *out;
	} ok[] = {{"", ""}, {"Zg==", "f"}, {"Zm8=", "fo"}, {"Zm9v", "foo"},
	    {"Zm9vYg==", "foob"}, {"Zm9vYmE=", "fooba"}, {"Zm9vYmFy", "foobar"},
	    {" Zm9v\r\n\tYmFy ", "foobar"}, {"Zm9vYg = =", "foob"}};
	static const char *const bad[] = {"Zg=", "Zg", "Z===", "Zm9vY",
	    "Zg==Zg==", "Zm9v!", "=Zg=", "Zm=v", "Zg==="};
	unsigned char out[16];
	size_t n;

	(void)state;
	for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
		assert_int_equal(dkim_base64_decode(ok[i].in, strlen(ok[i].in),
				     out, sizeof(out), &n),
		    0);
		assert_int_equal(n, strlen(ok[i].out));
		assert_memory_equal(out, ok[i].out, n);
	}
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		if (dkim_base64_decode(
			bad[i], strlen(bad[i]), out, sizeof(out), &n) != -1)
			fail_msg("accepted \"%s\"", bad[i]);
	/* no room */
	assert_int_equal(dkim_base64_decode("Zm9vYmFy", 8, out, 5, &n), -1);
	assert_int_equal(dkim_base64_decode("Zm9vYg==", 8, out, 3, &n), -1);
	assert_int_equal(dkim_base64_decode("Zm9vYg==", 8, out, 4, &n), 0);
	/* round trip with the encoder */
	unsigned char raw[256];
	char enc[DKIM_BASE64_LEN(256) + 1];
	for (size_t len = 0; len <= sizeof(raw); len += 7) {
		unsigned char back[256];

		for (size_t i = 0; i < len; i++)
			raw[i] = (unsigned char)(i * 37 + len);
		dkim_base64_encode(raw, len, enc);
		assert_int_equal(dkim_base64_decode(
				     enc, strlen(enc), back, sizeof(back), &n),
		    0);
		assert_int_equal(n, len);
		assert_memory_equal(back, raw, len);
	}
}

static void
test_body_hash_limit(void **state)
{
	const char *body = "a  b \r\nline two\r\n\r\n\r\n";
	/* relaxed canonical form: "a b\r\nline two\r\n" (15 octets) */
	const char *canon = "a b\r\nline two\r\n";
	struct dkim_body_hash *h = malloc(sizeof(*h));
	unsigned char got[32], want[32];

	(void)state;
	for (uint64_t lim = 0; lim <= 20; lim++) {
		size_t take = lim < strlen(canon) ? (size_t)lim : strlen(canon);

		dkim_body_hash_init_limit(h, DKIM_CANON_RELAXED, lim);
		/* fed in two pieces */
		dkim_body_hash_update(h, body, 5);
		dkim_body_hash_update(h, body + 5, strlen(body) - 5);
		dkim_body_hash_final(h, got);
		crypto_hash_sha256(want, (const unsigned char *)canon, take);
		assert_memory_equal(got, want, 32);
		assert_int_equal(h->canon_len, take);
		assert_int_equal(h->canon_total, strlen(canon));
	}
	dkim_body_hash_init(h, DKIM_CANON_RELAXED);
	dkim_body_hash_update(h, body, strlen(body));
	dkim_body_hash_final(h, got);
	crypto_hash_sha256(want, (const unsigned char *)canon, strlen(canon));
	assert_memory_equal(got, want, 32);
	free(h);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_tags_good),
	    cmocka_unit_test(test_tags_bad),
	    cmocka_unit_test(test_sig_good),
	    cmocka_unit_test(test_sig_bad),
	    cmocka_unit_test(test_sig_partial_fields),
	    cmocka_unit_test(test_sig_time),
	    cmocka_unit_test(test_sig_dkimpy_fixture),
	    cmocka_unit_test(test_key_good),
	    cmocka_unit_test(test_key_bad),
	    cmocka_unit_test(test_key_check),
	    cmocka_unit_test(test_key_verify),
	    cmocka_unit_test(test_base64_decode),
	    cmocka_unit_test(test_body_hash_limit),
	};

	if (sodium_init() < 0)
		return 1;
	return cmocka_run_group_tests(tests, NULL, NULL);
}
