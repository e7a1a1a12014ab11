/*
 * test_plugin_dkim_sign.c - the DKIM canonicaliser of
 * plugins/common/dkim_canon.c (compiled into this test) and the dkim_sign
 * plugin through the fake host.
 *
 * Canonicalisation: the RFC 6376 section 3.4.5 example in all four
 * forms, header edge cases (WSP before the colon, folding, leading and
 * trailing WSP), body edge cases (empty body, trailing empty lines, WSP
 * runs and WSP at the end of lines, lone CR and LF, a last line without
 * CRLF), chunking independence (every chunk size gives the one-shot
 * output), the SHA-256 body hashes of the empty body, c= parsing and the
 * RFC 4648 base64 vectors.
 *
 * Plugin: configuration errors name the plugin and the key (or the
 * file); rsa-sha256 (PKCS#1 and PKCS#8 keys, through the offload),
 * ed25519-sha256 (inline) and both together, in the four
 * canonicalisations, each signature checked here by an independent
 * verifier (own tag parsing and header selection, b= stripping; Ed25519
 * with crypto_sign_verify_detached, RSA with wolfCrypt's public-key
 * operation); h= with repeated fields and oversigning, x=, folded lines
 * <= 78 columns; From: forms (display names, comments, groups, routes)
 * and the cases that are not signed; a failing body_read (4xx); the
 * offload: deferred work with cancel before, during or after it, worker
 * shutdown with a pending job, a reconfigure while a job is pending, and
 * an offload that fails (signs inline); bodies over 64 KiB copied and
 * hashed offloaded (with and without a right MSG_SIZE, and cancelled);
 * key rotation with reconfigure;
 * the ABI check of the entry point.
 *
 * Keys are generated here (wolfCrypt RSA-2048, libsodium Ed25519) and
 * written as PEM into a temporary directory. Interoperability with an
 * independent implementation (dkimpy) is tested in
 * tests/integration/test_dkim_sign.py.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <wolfssl/options.h>
#include <wolfssl/wolfcrypt/random.h>
#include <wolfssl/wolfcrypt/rsa.h>

#include <dlfcn.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "../../plugins/common/dkim_canon.c"
#include "fake_host.h"

#define SO "build/asan/plugins/dkim_sign.so"

/* ================================================= canonicalisation */

static char *
canon_h(enum dkim_canon c, const char *name, const char *value, bool crlf)
{
	static char out[4096];
	size_t n = dkim_canon_header(
	    c, name, strlen(name), value, strlen(value), crlf, out);

	assert_true(n <= DKIM_CANON_HEADER_MAX(strlen(name), strlen(value)));
	out[n] = '\0';
	return out;
}

struct collect {
	char *p;
	size_t len;
};

static void
collect_sink(void *ctx, const void *data, size_t len)
{
	struct collect *c = ctx;

	c->p = realloc(c->p, c->len + len + 1);
	assert_non_null(c->p);
	memcpy(c->p + c->len, data, len);
	c->len += len;
	c->p[c->len] = '\0';
}

/* Canonical body of in[0..n), fed in chunks of chunk octets. */
static struct collect
canon_b(enum dkim_canon mode, const char *in, size_t n, size_t chunk)
{
	struct dkim_body_canon *bc = malloc(sizeof(*bc));
	struct collect c = {calloc(1, 1), 0};

	assert_non_null(bc);
	dkim_body_canon_init(bc, mode, collect_sink, &c);
	for (size_t off = 0; off < n; off += chunk)
		dkim_body_canon_update(
		    bc, in + off, n - off < chunk ? n - off : chunk);
	dkim_body_canon_final(bc);
	free(bc);
	return c;
}

static void
assert_body(enum dkim_canon mode, const char *in, const char *want)
{
	size_t n = strlen(in);

	for (size_t chunk = 1; chunk <= n + 1; chunk++) {
		struct collect c = canon_b(mode, in, n, chunk);

		if (strlen(want) != c.len || memcmp(c.p, want, c.len) != 0)
			fail_msg("%s body of \"%s\" in chunks of %zu: got "
				 "\"%s\", want \"%s\"",
			    dkim_canon_name(mode), in, chunk, c.p, want);
		free(c.p);
	}
}

static void
test_canon_rfc_example(void **state)
{
	/* RFC 6376 section 3.4.5: "A: X", "B : Y<TAB>" folded "<TAB>Z  " */
	const char *body = " C \r\nD \t E\r\n\r\n\r\n";

	(void)state;
	assert_string_equal(
	    canon_h(DKIM_CANON_RELAXED, "A", " X", true), "a:X\r\n");
	assert_string_equal(
	    canon_h(DKIM_CANON_RELAXED, "B ", " Y\t\r\n\tZ  ", true),
	    "b:Y Z\r\n");
	assert_body(DKIM_CANON_RELAXED, body, " C\r\nD E\r\n");
	assert_string_equal(
	    canon_h(DKIM_CANON_SIMPLE, "A", " X", true), "A: X\r\n");
	assert_string_equal(
	    canon_h(DKIM_CANON_SIMPLE, "B ", " Y\t\r\n\tZ  ", true),
	    "B : Y\t\r\n\tZ  \r\n");
	assert_body(DKIM_CANON_SIMPLE, body, " C \r\nD \t E\r\n");
}

static void
test_canon_header(void **state)
{
	(void)state;
	/* relaxed: case, WSP runs, several folds, no CRLF for the sig */
	assert_string_equal(
	    canon_h(DKIM_CANON_RELAXED, "SubJect\t ",
		"\t  Hello \t  World  \r\n\t again \r\n  ", true),
	    "subject:Hello World again\r\n");
	assert_string_equal(canon_h(DKIM_CANON_RELAXED, "DKIM-Signature",
				" v=1; a=x;\r\n\tb=", false),
	    "dkim-signature:v=1; a=x; b=");
	/* WSP on both sides of a fold becomes one SP */
	assert_string_equal(
	    canon_h(DKIM_CANON_RELAXED, "X", "a \r\n\t b", true), "x:a b\r\n");
	/* a CRLF not followed by WSP is removed too; no WSP means none */
	assert_string_equal(
	    canon_h(DKIM_CANON_RELAXED, "X", "a\r\nb", true), "x:ab\r\n");
	/* bare CR and LF go too: no line end inside the output */
	assert_string_equal(
	    canon_h(DKIM_CANON_RELAXED, "X", " a\rb\nc ", true), "x:abc\r\n");
	assert_string_equal(
	    canon_h(DKIM_CANON_RELAXED, "X", " a \r\r\n\n", true), "x:a\r\n");
	/* empty and WSP-only values */
	assert_string_equal(
	    canon_h(DKIM_CANON_RELAXED, "X", "", true), "x:\r\n");
	assert_string_equal(
	    canon_h(DKIM_CANON_RELAXED, "X", " \t \r\n ", true), "x:\r\n");
	assert_string_equal(canon_h(DKIM_CANON_SIMPLE, "X", "", false), "X:");
	/* simple keeps everything */
	assert_string_equal(
	    canon_h(DKIM_CANON_SIMPLE, "sUbj", "  a \r\n b ", true),
	    "sUbj:  a \r\n b \r\n");
}

static void
test_canon_body(void **state)
{
	(void)state;
	/* empty bodies */
	assert_body(DKIM_CANON_SIMPLE, "", "\r\n");
	assert_body(DKIM_CANON_RELAXED, "", "");
	assert_body(DKIM_CANON_SIMPLE, "\r\n\r\n\r\n", "\r\n");
	assert_body(DKIM_CANON_RELAXED, "\r\n \t\r\n\r\n  ", "");
	/* trailing empty lines */
	assert_body(DKIM_CANON_SIMPLE, "a\r\n\r\n\r\n", "a\r\n");
	assert_body(DKIM_CANON_RELAXED, "a\r\n \r\n\t\r\n", "a\r\n");
	/* simple: a WSP-only line is not empty */
	assert_body(DKIM_CANON_SIMPLE, "a\r\n \r\n\r\n", "a\r\n \r\n");
	/* empty lines in the middle stay */
	assert_body(
	    DKIM_CANON_SIMPLE, "a\r\n\r\n\r\nb\r\n", "a\r\n\r\n\r\nb\r\n");
	assert_body(
	    DKIM_CANON_RELAXED, "a\r\n \r\n\r\nb\r\n", "a\r\n\r\n\r\nb\r\n");
	/* WSP runs */
	assert_body(
	    DKIM_CANON_RELAXED, "\t a \t\t b  \t\r\n  c\r\n", " a b\r\n c\r\n");
	assert_body(
	    DKIM_CANON_SIMPLE, "\t a \t\t b  \t\r\n", "\t a \t\t b  \t\r\n");
	/* no final CRLF: one is added; relaxed drops the trailing WSP */
	assert_body(DKIM_CANON_SIMPLE, "a b ", "a b \r\n");
	assert_body(DKIM_CANON_RELAXED, "a  b \t", "a b\r\n");
	assert_body(DKIM_CANON_SIMPLE, "a\r\n\r\nb", "a\r\n\r\nb\r\n");
	/* lone CR and LF are ordinary octets */
	assert_body(DKIM_CANON_RELAXED, "a \r b\n \r\n", "a \r b\n\r\n");
	assert_body(DKIM_CANON_SIMPLE, "a\n\n", "a\n\n\r\n");
	assert_body(DKIM_CANON_RELAXED, "a\r", "a\r\r\n");
	assert_body(DKIM_CANON_SIMPLE, "\r", "\r\r\n");
	assert_body(DKIM_CANON_RELAXED, "a \r\r\n", "a \r\r\n");
	assert_body(DKIM_CANON_SIMPLE, "a\r\r\n\r\n", "a\r\r\n");
	/* a final dot line is not special here (SMTP has unstuffed it) */
	assert_body(DKIM_CANON_RELAXED, ".\r\n", ".\r\n");
}

static void
test_canon_chunking(void **state)
{
	static const char alphabet[] = "ab \t\r\n";
	char in[300];
	unsigned seed = 12345;

	(void)state;
	for (int round = 0; round < 200; round++) {
		size_t n = (size_t)(round % 7 == 0 ? round / 7 : 200);

		for (size_t i = 0; i < n; i++) {
			seed = seed * 1103515245u + 12345u;
			in[i] = alphabet[(seed >> 16) % 6];
		}
		for (int m = 0; m < 2; m++) {
			struct collect one = canon_b(m, in, n, n + 1);

			for (size_t chunk = 1; chunk < 9; chunk++) {
				struct collect c = canon_b(m, in, n, chunk);

				assert_int_equal(c.len, one.len);
				assert_memory_equal(c.p, one.p, c.len);
				free(c.p);
			}
			/* idempotent */
			struct collect again = canon_b(m, one.p, one.len, 7);

			assert_int_equal(again.len, one.len);
			assert_memory_equal(again.p, one.p, one.len);
			free(again.p);
			free(one.p);
		}
	}
}

static void
b64_of_body_hash(enum dkim_canon c, const char *body, char *out)
{
	struct dkim_body_hash h;
	unsigned char d[DKIM_SHA256_LEN];

	dkim_body_hash_init(&h, c);
	dkim_body_hash_update(&h, body, strlen(body));
	dkim_body_hash_final(&h, d);
	dkim_base64_encode(d, sizeof(d), out);
}

static void
test_body_hash(void **state)
{
	char b64[64];
	struct dkim_body_hash h;

	(void)state;
	/* SHA-256 of "" and of CRLF (RFC 6376 section 3.4.3/3.4.4) */
	b64_of_body_hash(DKIM_CANON_RELAXED, "", b64);
	assert_string_equal(
	    b64, "47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=");
	b64_of_body_hash(DKIM_CANON_SIMPLE, "", b64);
	assert_string_equal(
	    b64, "frcCV1k9oG9oKj3dpUqdJg1PxRT2RSN/XKdLCPjaYaY=");
	b64_of_body_hash(DKIM_CANON_SIMPLE, "\r\n\r\n", b64);
	assert_string_equal(
	    b64, "frcCV1k9oG9oKj3dpUqdJg1PxRT2RSN/XKdLCPjaYaY=");
	/* canonical length is counted */
	dkim_body_hash_init(&h, DKIM_CANON_RELAXED);
	dkim_body_hash_update(&h, "a  b \r\n\r\n", 9);
	dkim_body_hash_final(&h, (unsigned char[DKIM_SHA256_LEN]){0});
	assert_int_equal(h.canon_len, 5);
}

static void
test_canon_parse_and_base64(void **state)
{
	static const char *const vec[][2] = {{"", ""}, {"f", "Zg=="},
	    {"fo", "Zm8="}, {"foo", "Zm9v"}, {"foob", "Zm9vYg=="},
	    {"fooba", "Zm9vYmE="}, {"foobar", "Zm9vYmFy"}};
	enum dkim_canon h, b;
	char out[64];
	unsigned char all[256];

	(void)state;
	assert_int_equal(dkim_canon_parse("relaxed/simple", 14, &h, &b), 0);
	assert_int_equal(h, DKIM_CANON_RELAXED);
	assert_int_equal(b, DKIM_CANON_SIMPLE);
	assert_int_equal(dkim_canon_parse("simple/relaxed", 14, &h, &b), 0);
	assert_int_equal(h, DKIM_CANON_SIMPLE);
	assert_int_equal(b, DKIM_CANON_RELAXED);
	assert_int_equal(dkim_canon_parse("relaxed", 7, &h, &b), 0);
	assert_int_equal(h, DKIM_CANON_RELAXED);
	assert_int_equal(b, DKIM_CANON_SIMPLE);
	assert_int_equal(dkim_canon_parse("Relaxed", 7, &h, &b), -1);
	assert_int_equal(dkim_canon_parse("relaxed/", 8, &h, &b), -1);
	assert_int_equal(dkim_canon_parse("/simple", 7, &h, &b), -1);
	assert_int_equal(dkim_canon_parse("simple/simple/x", 15, &h, &b), -1);
	assert_int_equal(dkim_canon_parse("", 0, &h, &b), -1);
	assert_string_equal(dkim_canon_name(DKIM_CANON_SIMPLE), "simple");
	assert_string_equal(dkim_canon_name(DKIM_CANON_RELAXED), "relaxed");
	for (size_t i = 0; i < sizeof(vec) / sizeof(vec[0]); i++) {
		size_t n =
		    dkim_base64_encode(vec[i][0], strlen(vec[i][0]), out);

		assert_int_equal(n, DKIM_BASE64_LEN(strlen(vec[i][0])));
		assert_string_equal(out, vec[i][1]);
	}
	/* every octet value round-trips through libsodium's decoder */
	for (size_t i = 0; i < sizeof(all); i++)
		all[i] = (unsigned char)(255 - i);
	for (size_t n = 0; n <= sizeof(all); n += 37) {
		char enc[DKIM_BASE64_LEN(256) + 1];
		unsigned char dec[256];
		size_t dl = 0;

		dkim_base64_encode(all, n, enc);
		assert_int_equal(
		    sodium_base642bin(dec, sizeof(dec), enc, strlen(enc), NULL,
			&dl, NULL, sodium_base64_VARIANT_ORIGINAL),
		    0);
		assert_int_equal(dl, n);
		assert_memory_equal(dec, all, n);
	}
}

/* ============================================================= keys */

struct keys {
	char dir[64];
	char rsa1[128], rsa8[128], ed[128], bad[128], rsa1k[128], txt[128];
	RsaKey *rsa; /* public half used to verify */
	unsigned char ed_pk[crypto_sign_PUBLICKEYBYTES];
};

static struct keys K;

static size_t
der_len(unsigned char *out, size_t n)
{
	if (n < 128) {
		out[0] = (unsigned char)n;
		return 1;
	}
	if (n < 256) {
		out[0] = 0x81;
		out[1] = (unsigned char)n;
		return 2;
	}
	out[0] = 0x82;
	out[1] = (unsigned char)(n >> 8);
	out[2] = (unsigned char)n;
	return 3;
}

static void
write_pem(
    const char *path, const char *label, const unsigned char *der, size_t n)
{
	char *b64 = malloc(DKIM_BASE64_LEN(n) + 1);
	size_t len = dkim_base64_encode(der, n, b64);
	FILE *f = fopen(path, "w");

	assert_non_null(f);
	fprintf(f, "-----BEGIN %s-----\n", label);
	for (size_t i = 0; i < len; i += 64)
		fprintf(
		    f, "%.*s\n", (int)(len - i < 64 ? len - i : 64), b64 + i);
	fprintf(f, "-----END %s-----\n", label);
	fclose(f);
	free(b64);
}

/* PKCS#8 PrivateKeyInfo around a key of algorithm alg (DER). */
static size_t
pkcs8(unsigned char *out, const unsigned char *alg, size_t alen,
    const unsigned char *key, size_t klen)
{
	unsigned char inner[4096];
	size_t i = 0, o = 0;

	memcpy(inner, "\x02\x01\x00", 3); /* version 0 */
	i = 3;
	memcpy(inner + i, alg, alen);
	i += alen;
	inner[i++] = 0x04;
	i += der_len(inner + i, klen);
	memcpy(inner + i, key, klen);
	i += klen;
	out[o++] = 0x30;
	o += der_len(out + o, i);
	memcpy(out + o, inner, i);
	return o + i;
}

static void
make_rsa(int bits, const char *p1, const char *p8, RsaKey **keep)
{
	static const unsigned char rsa_alg[] = {0x30, 0x0d, 0x06, 0x09, 0x2a,
	    0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x01, 0x05, 0x00};
	RsaKey *k = malloc(sizeof(*k));
	WC_RNG rng;
	unsigned char der[4096], der8[4200];
	int n;

	assert_non_null(k);
	assert_int_equal(wc_InitRsaKey(k, NULL), 0);
	assert_int_equal(wc_InitRng(&rng), 0);
	assert_int_equal(wc_MakeRsaKey(k, bits, WC_RSA_EXPONENT, &rng), 0);
	wc_FreeRng(&rng);
	n = wc_RsaKeyToDer(k, der, sizeof(der));
	assert_true(n > 0);
	write_pem(p1, "RSA PRIVATE KEY", der, (size_t)n);
	if (p8 != NULL) {
		size_t n8 =
		    pkcs8(der8, rsa_alg, sizeof(rsa_alg), der, (size_t)n);

		write_pem(p8, "PRIVATE KEY", der8, n8);
	}
	if (keep != NULL) {
		*keep = k;
	} else {
		wc_FreeRsaKey(k);
		free(k);
	}
}

static int
group_setup(void **state)
{
	static const unsigned char ed_alg[] = {
	    0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70};
	unsigned char seed[32], sk[64], octets[34], der[64];
	size_t n;
	FILE *f;

	(void)state;
	if (sodium_init() < 0)
		return -1;
	umask(077); /* key files 0600: no mode warning */
	snprintf(K.dir, sizeof(K.dir), "/tmp/test_dkim_sign.XXXXXX");
	if (mkdtemp(K.dir) == NULL)
		return -1;
	snprintf(K.rsa1, sizeof(K.rsa1), "%s/rsa1.pem", K.dir);
	snprintf(K.rsa8, sizeof(K.rsa8), "%s/rsa8.pem", K.dir);
	snprintf(K.rsa1k, sizeof(K.rsa1k), "%s/rsa1k.pem", K.dir);
	snprintf(K.ed, sizeof(K.ed), "%s/ed.pem", K.dir);
	snprintf(K.bad, sizeof(K.bad), "%s/bad.pem", K.dir);
	snprintf(K.txt, sizeof(K.txt), "%s/txt.pem", K.dir);
	make_rsa(2048, K.rsa1, K.rsa8, &K.rsa);
	make_rsa(1024, K.rsa1k, NULL, NULL);
	randombytes_buf(seed, sizeof(seed));
	crypto_sign_seed_keypair(K.ed_pk, sk, seed);
	octets[0] = 0x04; /* CurvePrivateKey ::= OCTET STRING */
	octets[1] = 32;
	memcpy(octets + 2, seed, 32);
	n = pkcs8(der, ed_alg, sizeof(ed_alg), octets, sizeof(octets));
	write_pem(K.ed, "PRIVATE KEY", der, n);
	f = fopen(K.bad, "w");
	if (f == NULL)
		return -1;
	fputs("-----BEGIN PRIVATE KEY-----\nbm90IGEga2V5\n"
	      "-----END PRIVATE KEY-----\n",
	    f);
	fclose(f);
	f = fopen(K.txt, "w");
	if (f == NULL)
		return -1;
	fputs("not a key\n", f);
	fclose(f);
	return 0;
}

static int
group_teardown(void **state)
{
	(void)state;
	unlink(K.rsa1);
	unlink(K.rsa8);
	unlink(K.rsa1k);
	unlink(K.ed);
	unlink(K.bad);
	unlink(K.txt);
	rmdir(K.dir);
	wc_FreeRsaKey(K.rsa);
	free(K.rsa);
	return 0;
}

/* ============================================== configuration errors */

static char key_rsa[200], key_rsa8[200], key_ed[200];

static void
key_strings(void)
{
	snprintf(key_rsa, sizeof(key_rsa), "example.test:rsa1:rsa-sha256:%s",
	    K.rsa1);
	snprintf(key_rsa8, sizeof(key_rsa8), "example.test:rsa8:rsa-sha256:%s",
	    K.rsa8);
	snprintf(
	    key_ed, sizeof(key_ed), "example.test:ed1:ed25519-sha256:%s", K.ed);
}

/* fake_load of cfg must fail with an error containing every want. */
static void
load_fails(const char **cfg, const char *want1, const char *want2)
{
	void *st = NULL;
	char err[512];

	if (fake_load(SO, cfg, &st, err, sizeof(err)) != NULL)
		fail_msg("loaded, want an error with \"%s\"", want1);
	if (strncmp(err, "dkim_sign: ", 11) != 0 ||
	    strstr(err, want1) == NULL ||
	    (want2 != NULL && strstr(err, want2) == NULL))
		fail_msg("error \"%s\" lacks \"%s\"/\"%s\"", err, want1,
		    want2 ? want2 : "");
}

static void
test_config_errors(void **state)
{
	char path[200], k[300], k2[300];

	(void)state;
	key_strings();
	load_fails((const char *[]){"key", key_ed, "bogus", "1", NULL},
	    "unknown key \"bogus\"", NULL);
	load_fails((const char *[]){"key", key_ed, "oversign.x", "1", NULL},
	    "unknown key \"oversign.x\"", NULL);
	load_fails((const char *[]){NULL}, "key", "no signing key");
	snprintf(k, sizeof(k), "example.test:s1:rsa-sha1:%s", K.rsa1);
	load_fails((const char *[]){"key", k, NULL},
	    "key:", "bad algorithm \"rsa-sha1\"");
	load_fails((const char *[]){"key", "example.test:s1:rsa-sha256", NULL},
	    "key:", "domain:selector:algorithm:path");
	load_fails(
	    (const char *[]){"key", "exa mple.test:s1:rsa-sha256:/x", NULL},
	    "key:", "bad domain");
	load_fails(
	    (const char *[]){"key", "example.test:s_1:rsa-sha256:/x", NULL},
	    "key:", "bad selector");
	/* a missing key file: named, never silently unsigned */
	snprintf(path, sizeof(path), "%s/missing.pem", K.dir);
	snprintf(k, sizeof(k), "example.test:s1:ed25519-sha256:%s", path);
	load_fails((const char *[]){"key", key_rsa, "key", k, NULL}, path,
	    "No such file");
	snprintf(k, sizeof(k), "example.test:s1:rsa-sha256:%s", K.bad);
	load_fails((const char *[]){"key", k, NULL}, K.bad, "not an RSA");
	snprintf(k, sizeof(k), "example.test:s1:ed25519-sha256:%s", K.txt);
	load_fails(
	    (const char *[]){"key", k, NULL}, K.txt, "no unencrypted PEM");
	/* key type does not match the algorithm */
	snprintf(k, sizeof(k), "example.test:s1:rsa-sha256:%s", K.ed);
	load_fails((const char *[]){"key", k, NULL}, K.ed, "not an RSA");
	snprintf(k, sizeof(k), "example.test:s1:ed25519-sha256:%s", K.rsa8);
	load_fails((const char *[]){"key", k, NULL}, K.rsa8, "not an Ed25519");
	snprintf(k, sizeof(k), "example.test:s1:rsa-sha256:%s", K.dir);
	load_fails((const char *[]){"key", k, NULL}, K.dir, "regular file");
	snprintf(k2, sizeof(k2), "Example.TEST:RSA1:rsa-sha256:%s", K.rsa8);
	load_fails((const char *[]){"key", key_rsa, "key", k2, NULL},
	    "selector RSA1 of example.test given twice", NULL);
	load_fails((const char *[]){"key", key_ed, "canonicalization",
		       "relaxed", NULL},
	    "canonicalization:", "\"relaxed\"");
	load_fails((const char *[]){"key", key_ed, "canonicalization",
		       "relaxed/nofws", NULL},
	    "canonicalization:", NULL);
	load_fails(
	    (const char *[]){"key", key_ed, "canonicalization", "simple/simple",
		"canonicalization", "simple/simple", NULL},
	    "canonicalization: given twice", NULL);
	load_fails((const char *[]){"key", key_ed, "expire", "-1", NULL},
	    "expire:", NULL);
	load_fails((const char *[]){"key", key_ed, "expire", "1h", NULL},
	    "expire:", NULL);
	load_fails((const char *[]){"key", key_ed, "expire",
		       "99999999999999999999", NULL},
	    "expire:", NULL);
	/* (headers = To alone is fine: the default oversign adds From) */
	load_fails((const char *[]){"key", key_ed, "headers", "To", "oversign",
		       "", NULL},
	    "headers:", "From");
	load_fails((const char *[]){"key", key_ed, "headers", "From", "headers",
		       "Bad:Name", NULL},
	    "headers:", "Bad:Name");
	load_fails(
	    (const char *[]){"key", key_ed, "oversign", "with space", NULL},
	    "oversign:", NULL);
}

/* ============================================ independent verifier */

struct sig {
	char a[32], c[32], d[256], s[64], h[1024], bh[64], b[1024];
	long long t, x;
};

/* The value of tag name in a DKIM-Signature value (all WSP removed). */
static bool
tag(const char *value, const char *name, char *out, size_t cap)
{
	char *flat = malloc(strlen(value) + 1), *p, *save = NULL;
	size_t n = 0;
	bool found = false;

	assert_non_null(flat);
	for (const char *v = value; *v != '\0'; v++)
		if (*v != ' ' && *v != '\t' && *v != '\r' && *v != '\n')
			flat[n++] = *v;
	flat[n] = '\0';
	for (p = strtok_r(flat, ";", &save); p != NULL;
	     p = strtok_r(NULL, ";", &save)) {
		size_t nl = strlen(name);

		if (strncmp(p, name, nl) == 0 && p[nl] == '=') {
			assert_false(found); /* no tag twice */
			assert_true(strlen(p + nl + 1) < cap);
			strcpy(out, p + nl + 1);
			found = true;
		}
	}
	free(flat);
	return found;
}

static void
parse_sig(const char *value, struct sig *s)
{
	char v[32], num[32];

	memset(s, 0, sizeof(*s));
	assert_true(tag(value, "v", v, sizeof(v)));
	assert_string_equal(v, "1");
	assert_true(tag(value, "a", s->a, sizeof(s->a)));
	assert_true(tag(value, "c", s->c, sizeof(s->c)));
	assert_true(tag(value, "d", s->d, sizeof(s->d)));
	assert_true(tag(value, "s", s->s, sizeof(s->s)));
	assert_true(tag(value, "h", s->h, sizeof(s->h)));
	assert_true(tag(value, "bh", s->bh, sizeof(s->bh)));
	assert_true(tag(value, "b", s->b, sizeof(s->b)));
	assert_true(tag(value, "t", num, sizeof(num)));
	s->t = atoll(num);
	s->x = tag(value, "x", num, sizeof(num)) ? atoll(num) : 0;
	assert_false(tag(value, "l", num, sizeof(num)));
}

/* value with the data of its b= tag removed (RFC 6376 section 3.7). */
static char *
strip_b(const char *value)
{
	char *out = strdup(value);
	size_t i = 0, n = strlen(out);

	for (;;) {
		size_t j = i;

		while (j < n && strchr(" \t\r\n", out[j]) != NULL)
			j++;
		if (j + 1 < n && out[j] == 'b') {
			size_t k = j + 1;

			while (k < n && strchr(" \t\r\n", out[k]) != NULL)
				k++;
			if (k < n && out[k] == '=') {
				size_t e = k + 1;

				while (e < n && out[e] != ';')
					e++;
				memmove(out + k + 1, out + e, n - e + 1);
				return out;
			}
		}
		char *semi = strchr(out + i, ';');

		assert_non_null(semi);
		i = (size_t)(semi - out) + 1;
	}
}

static size_t
b64_decode(const char *s, unsigned char *out, size_t cap)
{
	size_t n = 0;

	assert_int_equal(sodium_base642bin(out, cap, s, strlen(s), NULL, &n,
			     NULL, sodium_base64_VARIANT_ORIGINAL),
	    0);
	return n;
}

/*
 * Check the signature field at index idx of the call: tags, body hash,
 * folding, and the signature over the fields it names (taken from the
 * message's own fields, below the nsig added ones).
 */
static struct sig
verify(struct rmx_call *c, size_t idx, size_t nsig)
{
	struct sig s;
	enum dkim_canon hc, bc;
	unsigned char bh[DKIM_SHA256_LEN], digest[32];
	unsigned char sig[1024];
	char b64[64], line[4096], *stripped, *names, *save = NULL;
	bool used[FAKE_MAX] = {false};
	crypto_hash_sha256_state st;
	struct dkim_body_hash h;
	size_t siglen, n, col;

	assert_string_equal(c->hname[idx], "DKIM-Signature");
	parse_sig(c->hvalue[idx], &s);
	assert_int_equal(dkim_canon_parse(s.c, strlen(s.c), &hc, &bc), 0);

	/* folded lines: CRLF TAB, at most 78 columns (TAB = 8) */
	snprintf(line, sizeof(line), "DKIM-Signature: %s", c->hvalue[idx]);
	col = 0;
	for (const char *p = line; *p != '\0'; p++) {
		if (p[0] == '\r') {
			assert_int_equal(p[1], '\n');
			assert_int_equal(p[2], '\t');
			assert_true(col <= 78);
			col = 0;
			p++;
			continue;
		}
		col += *p == '\t' ? 8 : 1;
	}
	assert_true(col <= 78);

	/* body hash */
	dkim_body_hash_init(&h, bc);
	dkim_body_hash_update(&h, c->body, c->body_len);
	dkim_body_hash_final(&h, bh);
	dkim_base64_encode(bh, sizeof(bh), b64);
	assert_string_equal(s.bh, b64);

	/* header hash: h= names, instances from the bottom up */
	crypto_hash_sha256_init(&st);
	names = strdup(s.h);
	for (char *nm = strtok_r(names, ":", &save); nm != NULL;
	     nm = strtok_r(NULL, ":", &save)) {
		for (size_t i = c->nheaders; i-- > nsig;) {
			char buf[4096];

			if (used[i] || c->hname[i] == NULL ||
			    strcasecmp(c->hname[i], nm) != 0)
				continue;
			used[i] = true;
			n = dkim_canon_header(hc, c->hname[i],
			    strlen(c->hname[i]), c->hvalue[i],
			    strlen(c->hvalue[i]), true, buf);
			crypto_hash_sha256_update(&st, (unsigned char *)buf, n);
			break;
		}
	}
	free(names);
	stripped = strip_b(c->hvalue[idx]);
	snprintf(line, sizeof(line), " %s", stripped); /* host adds ": " */
	free(stripped);
	{
		char buf[4200];

		n = dkim_canon_header(
		    hc, "DKIM-Signature", 14, line, strlen(line), false, buf);
		crypto_hash_sha256_update(&st, (unsigned char *)buf, n);
	}
	crypto_hash_sha256_final(&st, digest);

	siglen = b64_decode(s.b, sig, sizeof(sig));
	if (strcmp(s.a, "ed25519-sha256") == 0) {
		assert_int_equal(siglen, crypto_sign_BYTES);
		assert_int_equal(
		    crypto_sign_verify_detached(sig, digest, 32, K.ed_pk), 0);
	} else {
		static const unsigned char info[19] = {0x30, 0x31, 0x30, 0x0d,
		    0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02,
		    0x01, 0x05, 0x00, 0x04, 0x20};
		byte *dec = NULL;
		int dl;

		assert_string_equal(s.a, "rsa-sha256");
		assert_int_equal(siglen, 256);
		dl = wc_RsaSSL_VerifyInline(sig, (word32)siglen, &dec, K.rsa);
		assert_int_equal(dl, 19 + 32);
		assert_memory_equal(dec, info, 19);
		assert_memory_equal(dec + 19, digest, 32);
	}
	return s;
}

/* ===================================================== signing tests */

struct inst {
	const struct rmx_plugin *p;
	void *st, *ws;
	rmx_hook_fn *sign;
};

static struct rmx_host_api host_copy;

static struct inst
load(const char **cfg)
{
	struct inst in = {0};
	char err[512];

	in.p = fake_load(SO, cfg, &in.st, err, sizeof(err));
	if (in.p == NULL)
		fail_msg("load: %s", err);
	in.sign = fake_hook(in.p, RMX_HOOK_SIGN);
	assert_non_null(in.sign);
	assert_int_equal(in.p->worker_init(in.st, 0, &in.ws), 0);
	return in;
}

/* As load, but with host_copy (a modified fake host) as the host. */
static struct inst
load_with(const char **cfg)
{
	struct inst in = {0};
	struct rmx_kv kv[16];
	size_t n = 0;
	char err[512];

	in.p = fake_load(SO, cfg, &in.st, err, sizeof(err));
	if (in.p == NULL)
		fail_msg("load: %s", err);
	in.p->fini(in.st);
	for (; cfg[n * 2] != NULL; n++)
		kv[n] = (struct rmx_kv){cfg[n * 2], cfg[n * 2 + 1]};
	kv[n] = (struct rmx_kv){NULL, NULL};
	assert_int_equal(
	    in.p->init(&host_copy, kv, &in.st, err, sizeof(err)), 0);
	in.sign = fake_hook(in.p, RMX_HOOK_SIGN);
	assert_int_equal(in.p->worker_init(in.st, 1, &in.ws), 0);
	return in;
}

static void
unload(struct inst *in)
{
	in->p->worker_fini(in->ws);
	in->p->fini(in->st);
}

static const char body_std[] = "Hello  there \r\n\r\n\tline two\t\r\n\r\n\r\n";

static void
message(struct rmx_call *c, const char *from)
{
	fake_call_init(c);
	fake_add_header(c, "Received", " from a by b; Sat, 1 Nov 2025");
	if (from != NULL)
		fake_add_header(c, "From", from);
	fake_add_header(c, "To", " Alice <alice@example.org>,\r\n\tbob@x.test");
	fake_add_header(c, "Subject", "  Hello\t\tworld  \r\n folded ");
	fake_add_header(c, "Date", " Sat, 1 Nov 2025 10:00:00 +0000");
	fake_add_header(c, "Message-ID", " <1@example.test>");
	fake_add_header(c, "X-Unsigned", " whatever");
	c->body = body_std;
	c->body_len = strlen(body_std);
}

static void
test_sign_ed25519(void **state)
{
	struct inst in;
	struct rmx_call c;
	struct sig s;
	long long now = (long long)time(NULL);

	(void)state;
	key_strings();
	in = load((const char *[]){"key", key_ed, NULL});
	message(&c, " Some One <someone@example.test>");
	assert_int_equal(in.sign(&c, in.ws), RMX_CONTINUE);
	assert_false(c.completed); /* inline: no offload */
	assert_int_equal(c.nheaders, 8);
	s = verify(&c, 0, 1);
	assert_string_equal(s.a, "ed25519-sha256");
	assert_string_equal(s.c, "relaxed/relaxed");
	assert_string_equal(s.d, "example.test");
	assert_string_equal(s.s, "ed1");
	/* default list, present fields only, From oversigned */
	assert_string_equal(s.h, "from:from:to:subject:date:message-id");
	assert_true(s.t >= now - 5 && s.t <= now + 5);
	assert_int_equal(s.x, 0);
	fake_call_free(&c);
	unload(&in);
}

static void
test_sign_rsa(void **state)
{
	const char *keys[2];
	struct rmx_call c;

	(void)state;
	key_strings();
	keys[0] = key_rsa;
	keys[1] = key_rsa8;
	for (int i = 0; i < 2; i++) {
		struct inst in = load((const char *[]){"key", keys[i], NULL});
		struct sig s;

		message(&c, " someone@Example.Test");
		/* offloaded: the fake host runs work and done at once */
		assert_int_equal(in.sign(&c, in.ws), RMX_PENDING);
		assert_true(c.completed);
		assert_int_equal(c.completed_verdict, RMX_CONTINUE);
		assert_int_equal(c.nheaders, 8);
		s = verify(&c, 0, 1);
		assert_string_equal(s.a, "rsa-sha256");
		assert_string_equal(s.s, i == 0 ? "rsa1" : "rsa8");
		fake_call_free(&c);
		unload(&in);
	}
}

static void
test_sign_dual_all_canons(void **state)
{
	static const char *const canons[] = {"relaxed/relaxed", "simple/simple",
	    "relaxed/simple", "simple/relaxed"};
	struct rmx_call c;

	(void)state;
	key_strings();
	for (size_t i = 0; i < 4; i++) {
		struct inst in = load((const char *[]){"key", key_rsa, "key",
		    key_ed, "canonicalization", canons[i], NULL});
		struct sig s1, s2;

		message(&c, " \"Doe, John\" <john@example.test>");
		assert_int_equal(in.sign(&c, in.ws), RMX_PENDING);
		assert_true(c.completed);
		assert_int_equal(c.completed_verdict, RMX_CONTINUE);
		assert_int_equal(c.nheaders, 9);
		/* configuration order from the top */
		s1 = verify(&c, 0, 2);
		s2 = verify(&c, 1, 2);
		assert_string_equal(s1.a, "rsa-sha256");
		assert_string_equal(s2.a, "ed25519-sha256");
		assert_string_equal(s1.c, canons[i]);
		assert_string_equal(s1.bh, s2.bh);
		fake_call_free(&c);
		unload(&in);
	}
}

static void
test_sign_options(void **state)
{
	struct inst in;
	struct rmx_call c;
	struct sig s;

	(void)state;
	key_strings();
	/* own list; repeated fields; oversign of an absent field; x= */
	in = load((const char *[]){"key", key_ed, "headers", "From", "headers",
	    "X-A", "headers", "subject", "headers", "from", "oversign",
	    "Reply-To", "oversign", "X-A", "expire", "3600", NULL});
	message(&c, " a@example.test");
	fake_add_header(&c, "X-A", " first");
	fake_add_header(&c, "x-a", " second ");
	assert_int_equal(in.sign(&c, in.ws), RMX_CONTINUE);
	s = verify(&c, 0, 1);
	assert_string_equal(s.h, "from:x-a:x-a:x-a:subject:reply-to");
	assert_int_equal(s.x, s.t + 3600);
	fake_call_free(&c);
	unload(&in);

	/* oversign "" turns the default From oversigning off */
	in = load((const char *[]){"key", key_ed, "oversign", "", NULL});
	message(&c, " a@example.test");
	assert_int_equal(in.sign(&c, in.ws), RMX_CONTINUE);
	s = verify(&c, 0, 1);
	assert_string_equal(s.h, "from:to:subject:date:message-id");
	fake_call_free(&c);
	unload(&in);
}

static void
test_long_fields_fold(void **state)
{
	char dom[80], k[300], from[200];
	struct inst in;
	struct rmx_call c;
	struct sig s;

	(void)state;
	key_strings();
	snprintf(dom, sizeof(dom),
	    "a-rather-long-subdomain-name.of-an."
	    "example-organisation.test");
	snprintf(k, sizeof(k), "%s:selector-2025-11-long:ed25519-sha256:%s",
	    dom, K.ed);
	snprintf(from, sizeof(from), " x@%s", dom);
	in = load((const char *[]){"key", k, "headers", "From", "headers", "To",
	    "headers", "Subject", "headers", "Date", "headers", "Message-ID",
	    "headers", "Content-Transfer-Encoding", "headers", "MIME-Version",
	    "headers", "Content-Type", "headers", "X-Long-1", "headers",
	    "X-Long-2", "expire", "86400", NULL});
	message(&c, from);
	fake_add_header(&c, "X-Long-1", " 1");
	fake_add_header(&c, "X-Long-2", " 2");
	fake_add_header(&c, "MIME-Version", " 1.0");
	fake_add_header(&c, "Content-Type", " text/plain");
	fake_add_header(&c, "Content-Transfer-Encoding", " 7bit");
	assert_int_equal(in.sign(&c, in.ws), RMX_CONTINUE);
	s = verify(&c, 0, 1); /* checks every line <= 78 */
	assert_string_equal(s.d, dom);
	assert_non_null(strstr(c.hvalue[0], "\r\n\t"));
	fake_call_free(&c);
	unload(&in);
}

static void
sign_from(struct inst *in, const char *from, const char *want_d)
{
	struct rmx_call c;

	message(&c, from);
	assert_int_equal(in->sign(&c, in->ws), RMX_CONTINUE);
	if (want_d == NULL) {
		assert_int_equal(c.nheaders, from ? 7 : 6);
		assert_string_not_equal(c.hname[0], "DKIM-Signature");
	} else {
		struct sig s = verify(&c, 0, 1);

		if (strcmp(s.d, want_d) != 0)
			fail_msg("From:%s: d=%s", from, s.d);
	}
	fake_call_free(&c);
}

static void
test_from_forms(void **state)
{
	char k2[300];
	struct inst in;
	struct rmx_call c;

	(void)state;
	key_strings();
	snprintf(k2, sizeof(k2), "other.test:o1:ed25519-sha256:%s", K.ed);
	in = load((const char *[]){"key", key_ed, "key", k2, NULL});
	sign_from(&in, " someone@example.test", "example.test");
	sign_from(&in, " <someone@EXAMPLE.test.>", "example.test");
	sign_from(&in, " \"Doe, John <j@other.test>\" <john@example.test>",
	    "example.test");
	sign_from(
	    &in, " john@example.test (John @ other.test)", "example.test");
	sign_from(
	    &in, " =?utf-8?q?J=C3=B6rg?=\r\n <jorg@other.test>", "other.test");
	sign_from(&in, " Friends: a@other.test, b@example.test;", "other.test");
	sign_from(
	    &in, " <@relay.example.test,@r2.test:j@other.test>", "other.test");
	sign_from(&in, " \"j@x\"@example.test", "example.test");
	sign_from(&in, " a@example.test, b@other.test", "example.test");
	/* not signed: no key, no domain, literal, no From, two From */
	sign_from(&in, " someone@example.org", NULL);
	sign_from(&in, " someone@sub.example.test", NULL);
	sign_from(&in, " someone", NULL);
	sign_from(&in, " undisclosed:;", NULL);
	sign_from(&in, " someone@[192.0.2.1]", NULL);
	sign_from(&in, " <someone@example.test", NULL);
	sign_from(&in, " x@b\xc3\xa4r.test", NULL);
	sign_from(&in, NULL, NULL);
	message(&c, " a@example.test");
	fake_add_header(&c, "FROM ", " b@example.test");
	assert_int_equal(in.sign(&c, in.ws), RMX_CONTINUE);
	assert_int_equal(c.nheaders, 8);
	fake_call_free(&c);
	unload(&in);
}

/* ----------------------------------------- host variations, offload */

static int64_t
body_read_fails(struct rmx_call *c, uint64_t off, void *buf, size_t len)
{
	(void)c;
	(void)off;
	(void)buf;
	(void)len;
	return -EIO;
}

static struct {
	struct rmx_call *call;
	rmx_offload_work_fn *work;
	rmx_offload_done_fn *done;
	void *arg;
	int n;
} off;

static int
offload_defer(struct rmx_call *c, rmx_offload_work_fn *work,
    rmx_offload_done_fn *done, void *arg)
{
	off.call = c;
	off.work = work;
	off.done = done;
	off.arg = arg;
	off.n++;
	return 0;
}

static int
offload_fails(struct rmx_call *c, rmx_offload_work_fn *work,
    rmx_offload_done_fn *done, void *arg)
{
	(void)c;
	(void)work;
	(void)done;
	(void)arg;
	return -ENOSYS;
}

static void *
work_thread(void *arg)
{
	(void)arg;
	off.work(off.arg);
	return NULL;
}

static void
run_work(void)
{
	pthread_t t;

	assert_int_equal(pthread_create(&t, NULL, work_thread, NULL), 0);
	assert_int_equal(pthread_join(t, NULL), 0);
}

static void
test_body_read_error(void **state)
{
	struct inst in;
	struct rmx_call c;

	(void)state;
	key_strings();
	host_copy = *fake_host();
	host_copy.body_read = body_read_fails;
	in = load_with((const char *[]){"key", key_ed, NULL});
	message(&c, " a@example.test");
	assert_int_equal(in.sign(&c, in.ws), RMX_TEMPFAIL);
	assert_int_equal(c.reply_code, 451);
	assert_string_equal(c.reply_enh, "4.3.0");
	assert_int_equal(c.nheaders, 7);
	fake_call_free(&c);
	unload(&in);
}

static void
test_offload_cancel(void **state)
{
	struct inst in;
	struct rmx_call c;

	(void)state;
	key_strings();
	host_copy = *fake_host();
	host_copy.offload = offload_defer;
	in = load_with((const char *[]){"key", key_rsa, "key", key_ed, NULL});

	/* 1: work, then done: both fields added, call completed */
	message(&c, " a@example.test");
	assert_int_equal(in.sign(&c, in.ws), RMX_PENDING);
	assert_int_equal(c.nheaders, 7); /* nothing added before done */
	assert_false(c.completed);
	assert_ptr_equal(off.call, &c);
	run_work();
	off.done(&c, off.arg);
	assert_true(c.completed);
	assert_int_equal(c.completed_verdict, RMX_CONTINUE);
	verify(&c, 0, 2);
	verify(&c, 1, 2);
	in.p->cancel(&c, in.ws); /* late cancel of a finished call: no-op */
	fake_call_free(&c);

	/* 2: cancel before the work ran; the work then frees the job */
	message(&c, " a@example.test");
	assert_int_equal(in.sign(&c, in.ws), RMX_PENDING);
	in.p->cancel(&c, in.ws);
	fake_call_free(&c); /* the host frees the call's memory */
	run_work();

	/* 3: work finished, then the call is cancelled (done never runs) */
	message(&c, " a@example.test");
	assert_int_equal(in.sign(&c, in.ws), RMX_PENDING);
	run_work();
	in.p->cancel(&c, in.ws);
	fake_call_free(&c);

	/* 4: cancel while the work runs on a pool thread */
	for (int i = 0; i < 20; i++) {
		pthread_t t;

		message(&c, " a@example.test");
		assert_int_equal(in.sign(&c, in.ws), RMX_PENDING);
		assert_int_equal(
		    pthread_create(&t, NULL, work_thread, NULL), 0);
		in.p->cancel(&c, in.ws);
		fake_call_free(&c);
		assert_int_equal(pthread_join(t, NULL), 0);
	}

	/* 5: a reconfigure while a job is pending: old keys stay alive */
	message(&c, " a@example.test");
	assert_int_equal(in.sign(&c, in.ws), RMX_PENDING);
	{
		char err[256];
		struct rmx_kv kv[] = {{"key", key_rsa8}, {NULL, NULL}};

		assert_int_equal(
		    in.p->reconfigure(in.st, kv, err, sizeof(err)), 0);
	}
	run_work();
	off.done(&c, off.arg);
	assert_int_equal(c.completed_verdict, RMX_CONTINUE);
	assert_string_equal(verify(&c, 0, 2).s, "rsa1");
	fake_call_free(&c);

	/* 6: worker shutdown with a job pending (the host cancels nothing),
	 * the pool drains, then fini */
	message(&c, " a@example.test");
	assert_int_equal(in.sign(&c, in.ws), RMX_PENDING);
	in.p->worker_fini(in.ws);
	fake_call_free(&c);
	run_work();
	in.p->fini(in.st);
}

static void
test_offload_fails(void **state)
{
	struct inst in;
	struct rmx_call c;

	(void)state;
	key_strings();
	host_copy = *fake_host();
	host_copy.offload = offload_fails;
	in = load_with((const char *[]){"key", key_rsa, NULL});
	message(&c, " a@example.test");
	/* signed inline instead, never unsigned */
	assert_int_equal(in.sign(&c, in.ws), RMX_CONTINUE);
	assert_false(c.completed);
	verify(&c, 0, 1);
	fake_call_free(&c);
	unload(&in);
}

/* A body of n octets: lines of text, some WSP to canonicalise. */
static char *
big_body(size_t n)
{
	char *b = malloc(n + 1);

	assert_non_null(b);
	for (size_t i = 0; i < n; i++)
		b[i] = i % 70 == 68   ? '\r'
		       : i % 70 == 69 ? '\n'
		       : i % 13 == 0  ? ' '
				      : (char)('a' + i % 26);
	b[n] = '\0';
	return b;
}

static void
test_large_bodies(void **state)
{
	static const size_t sizes[] = {65536, 65537, 300000, 2500000};
	struct inst in;
	struct rmx_call c;

	(void)state;
	key_strings();
	in = load((const char *[]){"key", key_ed, NULL});
	for (size_t i = 0; i < 4; i++) {
		char *b = big_body(sizes[i]);
		char size[32];

		for (int hint = 0; hint < 3; hint++) {
			message(&c, " a@example.test");
			c.body = b;
			c.body_len = sizes[i];
			/* MSG_SIZE: absent, right, or too small (a lie) */
			snprintf(size, sizeof(size), "%zu",
			    hint == 1 ? sizes[i] + 300 : sizes[i] / 2);
			if (hint > 0)
				fake_set_item(&c, RMX_ITEM_MSG_SIZE, 0, size);
			/* up to 64 KiB inline; more: hashed offloaded */
			if (sizes[i] <= 65536) {
				assert_int_equal(
				    in.sign(&c, in.ws), RMX_CONTINUE);
			} else {
				assert_int_equal(
				    in.sign(&c, in.ws), RMX_PENDING);
				assert_int_equal(
				    c.completed_verdict, RMX_CONTINUE);
			}
			verify(&c, 0, 1);
			fake_call_free(&c);
		}
		free(b);
	}
	unload(&in);

	/* a large body copy in a job that is cancelled */
	host_copy = *fake_host();
	host_copy.offload = offload_defer;
	in = load_with((const char *[]){"key", key_ed, NULL});
	{
		char *b = big_body(500000);

		message(&c, " a@example.test");
		c.body = b;
		c.body_len = 500000;
		assert_int_equal(in.sign(&c, in.ws), RMX_PENDING);
		in.p->cancel(&c, in.ws);
		fake_call_free(&c);
		free(b);
		run_work();
	}
	unload(&in);
}

static void
test_reconfigure(void **state)
{
	struct inst in;
	struct rmx_call c;
	char err[512], path[200], k[300];
	struct rmx_kv good[] = {
	    {"key", NULL}, {"canonicalization", "simple/simple"}, {NULL, NULL}};
	struct rmx_kv bad[] = {{"key", NULL}, {NULL, NULL}};

	(void)state;
	key_strings();
	in = load((const char *[]){"key", key_rsa, NULL});
	/* rotation: rsa1 -> ed1 with simple/simple */
	good[0].value = key_ed;
	assert_int_equal(in.p->reconfigure(in.st, good, err, sizeof(err)), 0);
	message(&c, " a@example.test");
	assert_int_equal(in.sign(&c, in.ws), RMX_CONTINUE);
	assert_string_equal(verify(&c, 0, 1).s, "ed1");
	assert_string_equal(verify(&c, 0, 1).c, "simple/simple");
	fake_call_free(&c);
	/* a failing reconfigure names the file and keeps the old keys */
	snprintf(path, sizeof(path), "%s/gone.pem", K.dir);
	snprintf(k, sizeof(k), "example.test:new:rsa-sha256:%s", path);
	bad[0].value = k;
	assert_int_equal(in.p->reconfigure(in.st, bad, err, sizeof(err)), -1);
	assert_non_null(strstr(err, path));
	message(&c, " a@example.test");
	assert_int_equal(in.sign(&c, in.ws), RMX_CONTINUE);
	assert_string_equal(verify(&c, 0, 1).s, "ed1");
	fake_call_free(&c);
	unload(&in);
}

static void
test_small_rsa_and_entry(void **state)
{
	char k[300];
	struct inst in;
	struct rmx_call c;
	void *h;
	const struct rmx_plugin *(*entry)(uint32_t, const char **);
	const char *why = NULL;

	(void)state;
	/* 1024 bits is the minimum accepted */
	snprintf(k, sizeof(k), "example.test:k1:rsa-sha256:%s", K.rsa1k);
	in = load((const char *[]){"key", k, NULL});
	message(&c, " a@example.test");
	assert_int_equal(in.sign(&c, in.ws), RMX_PENDING);
	assert_int_equal(c.completed_verdict, RMX_CONTINUE);
	assert_string_equal(c.hname[0], "DKIM-Signature");
	fake_call_free(&c);
	unload(&in);

	h = dlopen(SO, RTLD_NOW | RTLD_LOCAL);
	assert_non_null(h);
	*(void **)&entry = dlsym(h, RMX_PLUGIN_ENTRY_NAME);
	assert_non_null(entry);
	assert_null(entry(0x00020000, &why));
	assert_non_null(why);
	assert_non_null(entry(0x00010003, &why));
	assert_null(dlsym(h, "dks_rsa_sign"));
	assert_null(dlsym(h, "dkim_canon_header"));
	dlclose(h);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_canon_rfc_example),
	    cmocka_unit_test(test_canon_header),
	    cmocka_unit_test(test_canon_body),
	    cmocka_unit_test(test_canon_chunking),
	    cmocka_unit_test(test_body_hash),
	    cmocka_unit_test(test_canon_parse_and_base64),
	    cmocka_unit_test(test_config_errors),
	    cmocka_unit_test(test_sign_ed25519),
	    cmocka_unit_test(test_sign_rsa),
	    cmocka_unit_test(test_sign_dual_all_canons),
	    cmocka_unit_test(test_sign_options),
	    cmocka_unit_test(test_long_fields_fold),
	    cmocka_unit_test(test_from_forms),
	    cmocka_unit_test(test_body_read_error),
	    cmocka_unit_test(test_offload_cancel),
	    cmocka_unit_test(test_offload_fails),
	    cmocka_unit_test(test_large_bodies),
	    cmocka_unit_test(test_reconfigure),
	    cmocka_unit_test(test_small_rsa_and_entry),
	};

	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
