/*
 * test_dns_dane.c - DANE certificate matching (dns/dns_dane.c) with the
 * certificates in tests/fixtures/dane/ (see its README), read at run time
 * from the repo root. Every TLSA record is built here with dane_digest();
 * dane_digest() itself is checked against the SubjectPublicKeyInfo DER
 * OpenSSL wrote (ec.pub.der). What is not here: the TLSA policy decision
 * (test_dns_tlsa.c).
 *
 * Ownership: fixture buffers live in a static table for the whole run
 * (loaded once, never freed: the process ends); records own their data
 * in struct rec.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dns_dane.h"

#define FIX "tests/fixtures/dane/"
/* 2030-03-17: inside the fixtures' validity (2026-11-29 .. 2126) */
#define NOW ((time_t)1900000000)

struct blob {
	const char *name;
	unsigned char *p;
	size_t len;
};

static struct blob blobs[32];

/* fx - the contents of a fixture file (loaded once; fails the test if it
 * is missing). */
static const struct blob *
fx(const char *name)
{
	size_t i;
	FILE *f;
	char path[256];

	for (i = 0; i < 32 && blobs[i].name != NULL; i++)
		if (strcmp(blobs[i].name, name) == 0)
			return &blobs[i];
	if (i >= 32) {
		fail_msg("fixture table full");
		return NULL;
	}
	snprintf(path, sizeof(path), FIX "%s", name);
	f = fopen(path, "rb");
	assert_non_null(f);
	blobs[i].p = malloc(1 << 20);
	assert_non_null(blobs[i].p);
	blobs[i].len = fread(blobs[i].p, 1, 1 << 20, f);
	fclose(f);
	assert_true(blobs[i].len > 0);
	blobs[i].name = name;
	return &blobs[i];
}

struct rec {
	struct dns_tlsa_rr rr;
	unsigned char data[DANE_MAX_CERT];
};

/* mk - a TLSA record usage/selector/mtype for fixture `name`. */
static void
mk(struct rec *r, int usage, int sel, int mt, const char *name)
{
	const struct blob *b = fx(name);
	size_t n = sizeof(r->data);

	assert_int_equal(dane_digest(b->p, b->len, sel, mt, r->data, &n), 0);
	r->rr.usage = (uint8_t)usage;
	r->rr.selector = (uint8_t)sel;
	r->rr.mtype = (uint8_t)mt;
	r->rr.len = n;
	r->rr.data = r->data;
}

/* run - dane_match of the records against the chain of fixtures `chain`
 * (NULL-terminated) and up to 4 names (NULL-terminated). */
static int
run(struct rec **recs, size_t nrec, const char *const *chain,
    const char *const *names, time_t now, struct dane_result *out)
{
	const struct dns_tlsa_rr *rrs[DANE_MAX_RRS + 4];
	const unsigned char *der[DANE_MAX_DEPTH + 4];
	size_t len[DANE_MAX_DEPTH + 4], n = 0, nn = 0;
	int rc;

	for (size_t i = 0; i < nrec; i++)
		rrs[i] = &recs[i]->rr;
	for (; chain[n] != NULL; n++) {
		const struct blob *b = fx(chain[n]);

		der[n] = b->p;
		len[n] = b->len;
	}
	while (names != NULL && names[nn] != NULL)
		nn++;
	rc = dane_match(rrs, nrec, der, len, n, names, nn, now, out);
	assert_true(out->reason[0] != '\0');
	assert_true(rc == 0 || rc == 1);
	if (rc == 0)
		assert_int_equal(out->record, -1);
	return rc;
}

static const char *const CHAIN[] = {"leaf.der", "int.der", "root.der", NULL};
static const char *const MX[] = {"mx.example.org", NULL};

static struct rec R[4];

static void
test_digest(void **state)
{
	const struct blob *leaf = fx("leaf.der"), *pub = fx("ec.pub.der");
	unsigned char out[DANE_MAX_CERT], h[64];
	size_t n = sizeof(out), hn = sizeof(h);

	(void)state;
	/* selector 1 selects exactly the SubjectPublicKeyInfo DER */
	assert_int_equal(dane_digest(leaf->p, leaf->len, 1, 0, out, &n), 0);
	assert_int_equal(n, pub->len);
	assert_memory_equal(out, pub->p, n);
	n = sizeof(out);
	assert_int_equal(dane_digest(leaf->p, leaf->len, 0, 0, out, &n), 0);
	assert_int_equal(n, leaf->len);
	assert_memory_equal(out, leaf->p, n);
	assert_int_equal(dane_digest(leaf->p, leaf->len, 1, 1, h, &hn), 0);
	assert_int_equal(hn, 32);
	hn = sizeof(h);
	assert_int_equal(dane_digest(leaf->p, leaf->len, 1, 2, h, &hn), 0);
	assert_int_equal(hn, 64);
	/* bad parameters */
	hn = 31;
	assert_int_equal(dane_digest(leaf->p, leaf->len, 1, 1, h, &hn), -1);
	hn = sizeof(h);
	assert_int_equal(dane_digest(leaf->p, leaf->len, 2, 1, h, &hn), -1);
	assert_int_equal(dane_digest(leaf->p, leaf->len, 1, 3, h, &hn), -1);
	assert_int_equal(dane_digest(leaf->p, leaf->len - 1, 1, 1, h, &hn), -1);
	assert_int_equal(
	    dane_digest(leaf->p, DANE_MAX_CERT + 1, 0, 1, h, &hn), -1);
	assert_int_equal(dane_digest(NULL, 10, 0, 1, h, &hn), -1);
	n = 10; /* exact data longer than the room */
	assert_int_equal(dane_digest(leaf->p, leaf->len, 0, 0, out, &n), -1);
}

static void
test_ee_match(void **state)
{
	static const struct {
		int sel, mt;
	} kinds[] = {{1, 1}, {0, 1}, {1, 2}, {1, 0}, {0, 0}, {0, 2}};
	static const char *const leaves[] = {
	    "leaf.der", "expired.der", "selfsigned.der"};
	struct dane_result res;
	struct rec *p[1] = {&R[0]};

	(void)state;
	for (size_t l = 0; l < 3; l++)
		for (size_t k = 0; k < 6; k++) {
			const char *chain[] = {leaves[l], NULL};

			mk(&R[0], 3, kinds[k].sel, kinds[k].mt, leaves[l]);
			/* names and dates are ignored for DANE-EE */
			assert_int_equal(run(p, 1, chain, NULL, NOW, &res), 1);
			assert_int_equal(res.usage, 3);
			assert_int_equal(res.selector, kinds[k].sel);
			assert_int_equal(res.mtype, kinds[k].mt);
			assert_int_equal(res.depth, 0);
			assert_int_equal(res.record, 0);
			assert_int_equal(
			    run(p, 1, chain, MX, (time_t)4000000000, &res), 1);
		}
	/* the leaf first, the rest of the chain ignored */
	mk(&R[0], 3, 1, 1, "leaf.der");
	assert_int_equal(run(p, 1, CHAIN, NULL, NOW, &res), 1);
	assert_non_null(strstr(res.reason, "DANE-EE(3)"));
	/* leaf and selfsigned share ec.key: 3 1 x matches both, 3 0 x not */
	mk(&R[0], 3, 1, 1, "selfsigned.der");
	assert_int_equal(run(p, 1, CHAIN, NULL, NOW, &res), 1);
	mk(&R[0], 3, 0, 1, "selfsigned.der");
	assert_int_equal(run(p, 1, CHAIN, NULL, NOW, &res), 0);
	assert_string_equal(res.reason, "no certificate matched");
}

static void
test_ee_mismatch(void **state)
{
	struct dane_result res;
	struct rec *p[3] = {&R[0], &R[1], &R[2]};

	(void)state;
	mk(&R[0], 3, 1, 1, "expired.der"); /* another key */
	assert_int_equal(run(p, 1, CHAIN, MX, NOW, &res), 0);
	mk(&R[0], 3, 1, 1, "leaf.der");
	R[0].data[5] ^= 1;
	assert_int_equal(run(p, 1, CHAIN, MX, NOW, &res), 0);
	mk(&R[0], 3, 1, 0, "leaf.der");
	R[0].rr.len--;
	assert_int_equal(run(p, 1, CHAIN, MX, NOW, &res), 0);
	/* DANE-EE only looks at the leaf */
	mk(&R[0], 3, 0, 1, "int.der");
	assert_int_equal(run(p, 1, CHAIN, MX, NOW, &res), 0);
	/* PKIX usages are unusable for SMTP, even when they match */
	mk(&R[0], 1, 1, 1, "leaf.der");
	mk(&R[1], 0, 0, 1, "root.der");
	assert_int_equal(run(p, 2, CHAIN, MX, NOW, &res), 0);
	assert_string_equal(res.reason, "no usable TLSA records");
	/* a mismatch, then a match: the match wins, with its index */
	mk(&R[2], 3, 1, 2, "leaf.der");
	assert_int_equal(run(p, 3, CHAIN, MX, NOW, &res), 1);
	assert_int_equal(res.record, 2);
	assert_int_equal(res.mtype, 2);
}

static void
test_ta_chain(void **state)
{
	static const char *const unordered[] = {
	    "leaf.der", "root.der", "int.der", NULL};
	static const char *const names2[] = {
	    "other.example.net", "MAIL.Example.Org.", NULL};
	struct dane_result res;
	struct rec *p[2] = {&R[0], &R[1]};

	(void)state;
	mk(&R[0], 2, 0, 1, "root.der");
	assert_int_equal(run(p, 1, CHAIN, MX, NOW, &res), 1);
	assert_int_equal(res.usage, 2);
	assert_int_equal(res.depth, 2);
	assert_non_null(strstr(res.reason, "DANE-TA(2)"));
	assert_int_equal(run(p, 1, unordered, MX, NOW, &res), 1);
	assert_int_equal(res.depth, 1); /* index in the chain as sent */
	assert_int_equal(run(p, 1, CHAIN, names2, NOW, &res), 1);
	mk(&R[0], 2, 1, 1, "int.der"); /* the intermediate as TA */
	assert_int_equal(run(p, 1, CHAIN, MX, NOW, &res), 1);
	assert_int_equal(res.depth, 1);
	mk(&R[0], 2, 1, 2, "root.der");
	assert_int_equal(run(p, 1, CHAIN, MX, NOW, &res), 1);
	/* DANE-TA matching the leaf: its own anchor, names still checked */
	mk(&R[0], 2, 0, 1, "leaf.der");
	assert_int_equal(run(p, 1, CHAIN, MX, NOW, &res), 1);
	assert_int_equal(res.depth, 0);
	/* an EE mismatch does not hide a TA match */
	mk(&R[0], 3, 1, 1, "expired.der");
	mk(&R[1], 2, 0, 2, "root.der");
	assert_int_equal(run(p, 2, CHAIN, MX, NOW, &res), 1);
	assert_int_equal(res.record, 1);
}

static void
test_ta_name(void **state)
{
	static const char *const wrong[] = {"other.example.org", NULL};
	static const char *const parent[] = {"example.org", NULL};
	struct dane_result res;
	struct rec *p[1] = {&R[0]};

	(void)state;
	mk(&R[0], 2, 0, 1, "root.der");
	assert_int_equal(run(p, 1, CHAIN, wrong, NOW, &res), 0);
	assert_string_equal(res.reason, "DANE-TA: name mismatch");
	assert_int_equal(run(p, 1, CHAIN, parent, NOW, &res), 0);
	assert_int_equal(run(p, 1, CHAIN, NULL, NOW, &res), 0);
	assert_string_equal(res.reason, "DANE-TA: name mismatch");
	/* the leaf as TA does not skip the name check */
	mk(&R[0], 2, 0, 1, "leaf.der");
	assert_int_equal(run(p, 1, CHAIN, wrong, NOW, &res), 0);
}

static void
test_ta_broken_chain(void **state)
{
	static const char *const noint[] = {"leaf.der", "root.der", NULL};
	static const char *const rogue[] = {
	    "leaf.der", "int-rogue.der", "root.der", NULL};
	static const char *const other[] = {
	    "leaf.der", "int-rogue.der", "other-root.der", NULL};
	static const char *const swapped[] = {
	    "int.der", "leaf.der", "root.der", NULL};
	struct dane_result res;
	struct rec *p[1] = {&R[0]};

	(void)state;
	mk(&R[0], 2, 0, 1, "root.der");
	assert_int_equal(run(p, 1, noint, MX, NOW, &res), 0);
	assert_non_null(strstr(res.reason, "chain does not verify"));
	/* names chain to root, the signature does not */
	assert_int_equal(run(p, 1, rogue, MX, NOW, &res), 0);
	assert_non_null(strstr(res.reason, "chain does not verify"));
	/* root is not in the chain at all */
	assert_int_equal(run(p, 1, other, MX, NOW, &res), 0);
	assert_string_equal(res.reason, "no certificate matched");
	/* ... but that chain is valid under the other root */
	mk(&R[0], 2, 1, 1, "other-root.der");
	assert_int_equal(run(p, 1, other, MX, NOW, &res), 1);
	assert_int_equal(res.depth, 2);
	/* the intermediate sent as the leaf: it is a CA, not mx */
	mk(&R[0], 2, 0, 1, "root.der");
	assert_int_equal(run(p, 1, swapped, MX, NOW, &res), 0);
	/* a TA record on a certificate that is not the leaf's issuer (a
	 * second leaf, CA:FALSE, other name): the path cannot reach it */
	{
		static const char *const two[] = {
		    "leaf.der", "leaf-cn.der", NULL};

		mk(&R[0], 2, 0, 1, "leaf-cn.der");
		assert_int_equal(run(p, 1, two, MX, NOW, &res), 0);
	}
}

/* RFC 5280 §4.2.1.9 / §4.2.1.3 on the path below the trust anchor */
static void
test_ta_constraints(void **state)
{
	static const char *const sub[] = {
	    "leaf-sub.der", "leaf.der", "int.der", "root.der", NULL};
	static const char *const deep[] = {
	    "leaf-deep.der", "int2.der", "int.der", "root.der", NULL};
	static const char *const subname[] = {"sub.example.org", NULL};
	struct dane_result res;
	struct rec *p[1] = {&R[0]};

	(void)state;
	mk(&R[0], 2, 0, 1, "root.der");
	/* issued by a CA:FALSE certificate */
	assert_int_equal(run(p, 1, sub, subname, NOW, &res), 0);
	assert_non_null(strstr(res.reason, "chain does not verify"));
	mk(&R[0], 2, 0, 1, "leaf.der");
	assert_int_equal(run(p, 1, sub, subname, NOW, &res), 0);
	/* int has pathlen:0, int2 below it is one CA too many */
	mk(&R[0], 2, 0, 1, "root.der");
	assert_int_equal(run(p, 1, deep, MX, NOW, &res), 0);
	assert_non_null(strstr(res.reason, "chain does not verify"));
	mk(&R[0], 2, 1, 1, "int.der"); /* the anchor's pathlen counts too */
	assert_int_equal(run(p, 1, deep, MX, NOW, &res), 0);
	mk(&R[0], 2, 1, 1, "int2.der"); /* anchored below the constraint */
	assert_int_equal(run(p, 1, deep, MX, NOW, &res), 1);
	assert_int_equal(res.depth, 1);
}

static void
test_ta_dates(void **state)
{
	static const char *const ss[] = {"expired.der", NULL};
	struct dane_result res;
	struct rec *p[1] = {&R[0]};

	(void)state;
	mk(&R[0], 2, 0, 1, "root.der");
	assert_int_equal(run(p, 1, CHAIN, MX, (time_t)946684800, &res), 0);
	assert_non_null(strstr(res.reason, "not yet valid"));
	assert_int_equal(run(p, 1, CHAIN, MX, (time_t)5000000000, &res), 0);
	/* TA = intermediate: the leaf's dates are still checked */
	mk(&R[0], 2, 1, 1, "int.der");
	assert_int_equal(run(p, 1, CHAIN, MX, (time_t)946684800, &res), 0);
	/* the trust anchor's own dates are not checked */
	mk(&R[0], 2, 0, 1, "expired.der");
	assert_int_equal(run(p, 1, ss, MX, NOW, &res), 1);
}

static void
test_wildcard_and_cn(void **state)
{
	static const char *const wild[] = {
	    "leaf-wild.der", "int.der", "root.der", NULL};
	static const char *const cn[] = {
	    "leaf-cn.der", "int.der", "root.der", NULL};
	static const char *const oth[] = {
	    "leaf-other.der", "int.der", "root.der", NULL};
	static const char *const ip[] = {
	    "leaf-ip.der", "int.der", "root.der", NULL};
	static const char *const upper[] = {"MX.EXAMPLE.ORG", NULL};
	static const char *const bare[] = {"example.org", NULL};
	static const char *const deep[] = {"a.mx.example.org", NULL};
	static const char *const other[] = {"other.example.org", NULL};
	static const char *const wildname[] = {"wild.example.org", NULL};
	static const char *const notorg[] = {"mx.example.net", NULL};
	static const char *const tld[] = {
	    "leaf-tld.der", "int.der", "root.der", NULL};
	static const char *const org[] = {"example.org", NULL};
	struct dane_result res;
	struct rec *p[1] = {&R[0]};

	(void)state;
	mk(&R[0], 2, 0, 1, "root.der");
	/* "*.example.org": exactly one label */
	assert_int_equal(run(p, 1, wild, MX, NOW, &res), 1);
	assert_int_equal(run(p, 1, wild, upper, NOW, &res), 1);
	assert_int_equal(run(p, 1, wild, bare, NOW, &res), 0);
	assert_int_equal(run(p, 1, wild, deep, NOW, &res), 0);
	assert_int_equal(run(p, 1, wild, notorg, NOW, &res), 0);
	/* "*.org" matches nothing */
	assert_int_equal(run(p, 1, tld, org, NOW, &res), 0);
	assert_int_equal(run(p, 1, tld, MX, NOW, &res), 0);
	/* the CN of a certificate with a DNS SAN is ignored */
	assert_int_equal(run(p, 1, wild, wildname, NOW, &res), 1);
	assert_int_equal(run(p, 1, oth, MX, NOW, &res), 0);
	assert_int_equal(run(p, 1, oth, other, NOW, &res), 1);
	/* no SAN, or a SAN without DNS names: the CN counts */
	assert_int_equal(run(p, 1, cn, MX, NOW, &res), 1);
	assert_int_equal(run(p, 1, cn, other, NOW, &res), 0);
	assert_int_equal(run(p, 1, ip, MX, NOW, &res), 1);
}

static void
test_malformed(void **state)
{
	const struct blob *leaf = fx("leaf.der"), *root = fx("root.der"),
			  *in = fx("int.der");
	unsigned char *bad = malloc(leaf->len);
	const unsigned char *der[4];
	size_t len[4];
	const struct dns_tlsa_rr *rrs[2];
	const char *mx = "mx.example.org";
	struct dane_result res;

	(void)state;
	assert_non_null(bad);
	mk(&R[0], 3, 0, 1, "leaf.der");
	mk(&R[1], 2, 0, 1, "root.der");
	rrs[0] = &R[0].rr;
	rrs[1] = &R[1].rr;
	/* every truncation of the leaf: no match, never a crash */
	for (size_t n = 0; n < leaf->len; n++) {
		memcpy(bad, leaf->p, n);
		der[0] = bad;
		len[0] = n;
		assert_int_equal(
		    dane_match(rrs, 2, der, len, 1, &mx, 1, NOW, &res), 0);
		assert_string_equal(
		    res.reason, "malformed certificate at depth 0");
	}
	/* every single bit flip: never a crash, and 3 0 1 never matches */
	for (size_t i = 0; i < leaf->len; i++)
		for (int b = 0; b < 8; b += 3) {
			memcpy(bad, leaf->p, leaf->len);
			bad[i] ^= (unsigned char)(1u << b);
			der[0] = bad;
			len[0] = leaf->len;
			assert_int_equal(
			    dane_match(rrs, 1, der, len, 1, &mx, 1, NOW, &res),
			    0);
			der[1] = in->p;
			len[1] = in->len;
			der[2] = root->p;
			len[2] = root->len;
			(void)dane_match(
			    rrs, 2, der, len, 3, &mx, 1, NOW, &res);
			assert_true(res.reason[0] != '\0');
		}
	/* a malformed intermediate does not stop DANE-EE, nor a DANE-TA
	 * path that does not need it */
	der[0] = leaf->p;
	len[0] = leaf->len;
	der[1] = (const unsigned char *)"\x30\x03\x02\x01";
	len[1] = 4;
	der[2] = in->p;
	len[2] = in->len;
	der[3] = root->p;
	len[3] = root->len;
	assert_int_equal(dane_match(rrs, 1, der, len, 4, &mx, 1, NOW, &res), 1);
	assert_int_equal(
	    dane_match(rrs + 1, 1, der, len, 4, &mx, 1, NOW, &res), 1);
	assert_int_equal(res.depth, 3);
	assert_int_equal(
	    dane_match(rrs + 1, 1, der, len, 2, &mx, 1, NOW, &res), 0);
	assert_string_equal(res.reason,
	    "no certificate matched (malformed certificate at "
	    "depth 1)");
	/* NULL and empty inputs */
	der[1] = NULL;
	len[1] = 0;
	assert_int_equal(
	    dane_match(rrs + 1, 1, der, len, 2, &mx, 1, NOW, &res), 0);
	assert_int_equal(
	    dane_match(rrs, 2, NULL, len, 1, &mx, 1, NOW, &res), 0);
	assert_string_equal(res.reason, "no certificate from the peer");
	assert_int_equal(dane_match(rrs, 2, der, len, 0, &mx, 1, NOW, &res), 0);
	assert_int_equal(
	    dane_match(NULL, 2, der, len, 1, &mx, 1, NOW, &res), 0);
	assert_string_equal(res.reason, "no usable TLSA records");
	assert_int_equal(dane_match(rrs, 2, der, len, 1, &mx, 1, NOW, NULL), 0);
	free(bad);
}

static void
test_bounds(void **state)
{
	const struct blob *leaf = fx("leaf.der");
	const struct dns_tlsa_rr *rrs[DANE_MAX_RRS + 1];
	const unsigned char *der[DANE_MAX_DEPTH + 1];
	size_t len[DANE_MAX_DEPTH + 1];
	const char *names[DANE_MAX_NAMES + 1];
	struct dane_result res;

	(void)state;
	mk(&R[0], 3, 1, 1, "leaf.der");
	for (size_t i = 0; i <= DANE_MAX_RRS; i++)
		rrs[i] = &R[0].rr;
	for (size_t i = 0; i <= DANE_MAX_DEPTH; i++) {
		der[i] = leaf->p;
		len[i] = leaf->len;
	}
	for (size_t i = 0; i <= DANE_MAX_NAMES; i++)
		names[i] = "mx.example.org";
	/* at the limits: matches */
	assert_int_equal(dane_match(rrs, DANE_MAX_RRS, der, len, DANE_MAX_DEPTH,
			     names, DANE_MAX_NAMES, NOW, &res),
	    1);
	assert_int_equal(
	    dane_match(rrs, DANE_MAX_RRS + 1, der, len, 1, names, 1, NOW, &res),
	    0);
	assert_string_equal(res.reason, "too many TLSA records (17)");
	assert_int_equal(dane_match(rrs, 1, der, len, DANE_MAX_DEPTH + 1, names,
			     1, NOW, &res),
	    0);
	assert_string_equal(res.reason, "certificate chain too long (11)");
	assert_int_equal(dane_match(rrs, 1, der, len, 1, names,
			     DANE_MAX_NAMES + 1, NOW, &res),
	    0);
	assert_string_equal(res.reason, "too many reference names (17)");
	/* an oversized certificate anywhere in the chain */
	len[1] = DANE_MAX_CERT + 1;
	assert_int_equal(
	    dane_match(rrs, 1, der, len, 2, names, 1, NOW, &res), 0);
	assert_string_equal(res.reason, "certificate too large at depth 1");
	/* an overlong or empty reference name never matches */
	{
		char longname[300];
		const char *ln = longname, *empty = "";

		memset(longname, 'a', sizeof(longname) - 1);
		longname[sizeof(longname) - 1] = '\0';
		mk(&R[0], 2, 0, 1, "root.der");
		der[0] = fx("leaf-wild.der")->p;
		len[0] = fx("leaf-wild.der")->len;
		der[1] = fx("int.der")->p;
		len[1] = fx("int.der")->len;
		der[2] = fx("root.der")->p;
		len[2] = fx("root.der")->len;
		assert_int_equal(
		    dane_match(rrs, 1, der, len, 3, &ln, 1, NOW, &res), 0);
		assert_int_equal(
		    dane_match(rrs, 1, der, len, 3, &empty, 1, NOW, &res), 0);
		assert_int_equal(
		    dane_match(rrs, 1, der, len, 3, names, 1, NOW, &res), 1);
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_digest),
	    cmocka_unit_test(test_ee_match),
	    cmocka_unit_test(test_ee_mismatch),
	    cmocka_unit_test(test_ta_chain),
	    cmocka_unit_test(test_ta_name),
	    cmocka_unit_test(test_ta_broken_chain),
	    cmocka_unit_test(test_ta_constraints),
	    cmocka_unit_test(test_ta_dates),
	    cmocka_unit_test(test_wildcard_and_cn),
	    cmocka_unit_test(test_malformed),
	    cmocka_unit_test(test_bounds),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
