/*
 * dns_dane.c - DANE certificate matching (see dns_dane.h for the API and
 * the rules). What lives here: a small bounded DER reader for the parts of
 * an X.509 certificate DANE needs (SubjectPublicKeyInfo, names, validity,
 * basicConstraints/keyUsage, subjectAltName), the record matching, the
 * DANE-TA path building and the reference-identifier check. Signature
 * verification is wolfCrypt's (wc_CheckCertSigPubKey with the issuer's
 * key as wc_ParseCert decodes it); hashing is wolfCrypt's SHA-2. What does
 * not live here: TLS, DNS, logging.
 *
 * Ownership: nothing is kept between calls. struct cert only points into
 * the caller's DER buffers, which outlive the call. The one allocation,
 * a wolfCrypt DecodedCert in sig_verifies(), is freed before it returns.
 *
 * Hostile input: every length is checked against its enclosing element
 * before use; loops run over at most DANE_MAX_RRS records,
 * DANE_MAX_DEPTH certificates of at most DANE_MAX_CERT bytes and
 * DANE_MAX_NAMES names, so the work per call is bounded.
 */
#include "dns_dane.h"

#include <pthread.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <wolfssl/options.h>
#include <wolfssl/wolfcrypt/asn.h>
#include <wolfssl/wolfcrypt/asn_public.h>
#include <wolfssl/wolfcrypt/sha256.h>
#include <wolfssl/wolfcrypt/sha512.h>
#include <wolfssl/wolfcrypt/wc_port.h>

#include "dns_tlsa.h"

/* ---- DER reading ---------------------------------------------------- */

struct tlv {
	unsigned tag;
	const uint8_t *hdr; /* first byte of the element (its tag) */
	const uint8_t *val; /* contents */
	size_t len;         /* contents length */
	const uint8_t *end; /* one past the element */
};

/* der_get - one element at *p (not past end); advances *p past it.
 * Single-byte tags only, definite lengths of at most 3 length octets,
 * minimal length encoding (DER). */
static bool
der_get(const uint8_t **p, const uint8_t *end, struct tlv *t)
{
	const uint8_t *q = *p;
	size_t len;

	if (q >= end || end - q < 2)
		return false;
	t->hdr = q;
	t->tag = *q++;
	if ((t->tag & 0x1f) == 0x1f)
		return false;
	len = *q++;
	if (len & 0x80) {
		size_t n = len & 0x7f;

		if (n == 0 || n > 3 || (size_t)(end - q) < n || q[0] == 0)
			return false;
		len = 0;
		for (size_t i = 0; i < n; i++)
			len = len << 8 | *q++;
		if (len < 0x80)
			return false;
	}
	if ((size_t)(end - q) < len)
		return false;
	t->val = q;
	t->len = len;
	t->end = q + len;
	*p = t->end;
	return true;
}

/* der_expect - der_get that also wants a given tag. */
static bool
der_expect(const uint8_t **p, const uint8_t *end, unsigned tag, struct tlv *t)
{
	return der_get(p, end, t) && t->tag == tag;
}

/* ---- time ------------------------------------------------------------ */

/* days_from_civil - days since 1970-01-01 of a proleptic Gregorian date
 * (H. Hinnant's algorithm). */
static int64_t
days_from_civil(int64_t y, unsigned m, unsigned d)
{
	int64_t era;
	unsigned yoe, doy, doe;

	y -= m <= 2;
	era = (y >= 0 ? y : y - 399) / 400;
	yoe = (unsigned)(y - era * 400);
	doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
	doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + (int64_t)doe - 719468;
}

static bool
digits(const uint8_t *s, size_t n, unsigned *v)
{
	*v = 0;
	for (size_t i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return false;
		*v = *v * 10 + (unsigned)(s[i] - '0');
	}
	return true;
}

/* parse_time - UTCTime YYMMDDHHMMSSZ (RFC 5280 §4.1.2.5.1: YY >= 50 is
 * 19YY) or GeneralizedTime YYYYMMDDHHMMSSZ; other forms are malformed. */
static bool
parse_time(const struct tlv *t, int64_t *out)
{
	const uint8_t *s = t->val;
	unsigned y, mo, d, h, mi, se;

	if (t->tag == 0x17 && t->len == 13) {
		if (!digits(s, 2, &y))
			return false;
		y += y >= 50 ? 1900 : 2000;
		s += 2;
	} else if (t->tag == 0x18 && t->len == 15) {
		if (!digits(s, 4, &y))
			return false;
		s += 4;
	} else {
		return false;
	}
	if (!digits(s, 2, &mo) || !digits(s + 2, 2, &d) ||
	    !digits(s + 4, 2, &h) || !digits(s + 6, 2, &mi) ||
	    !digits(s + 8, 2, &se) || s[10] != 'Z')
		return false;
	if (mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 ||
	    se > 60)
		return false;
	*out = days_from_civil(y, mo, d) * 86400 + h * 3600 + mi * 60 + se;
	return true;
}

/* ---- certificates ---------------------------------------------------- */

struct cert {
	const uint8_t *der;
	size_t len;
	bool ok;                                /* parsed */
	const uint8_t *issuer, *subject, *spki; /* whole elements */
	size_t issuer_len, subject_len, spki_len;
	int64_t not_before, not_after;
	const uint8_t *san; /* GeneralNames contents, or NULL */
	size_t san_len;
	bool has_dns_san;
	bool ca;
	long pathlen; /* -1: none */
	bool has_ku, ku_certsign;
};

static const uint8_t OID_SAN[] = {0x55, 0x1d, 0x11};
static const uint8_t OID_BC[] = {0x55, 0x1d, 0x13};
static const uint8_t OID_KU[] = {0x55, 0x1d, 0x0f};
static const uint8_t OID_CN[] = {0x55, 0x04, 0x03};

static bool
oid_is(const struct tlv *t, const uint8_t *oid, size_t n)
{
	return t->tag == 0x06 && t->len == n && memcmp(t->val, oid, n) == 0;
}

static bool
parse_san(struct cert *c, const uint8_t *p, const uint8_t *end)
{
	struct tlv seq, gn;

	if (!der_expect(&p, end, 0x30, &seq) || p != end)
		return false;
	c->san = seq.val;
	c->san_len = seq.len;
	p = seq.val;
	while (p < seq.end) {
		if (!der_get(&p, seq.end, &gn))
			return false;
		if (gn.tag == 0x82)
			c->has_dns_san = true;
	}
	return true;
}

static bool
parse_bc(struct cert *c, const uint8_t *p, const uint8_t *end)
{
	struct tlv seq, t;

	if (!der_expect(&p, end, 0x30, &seq) || p != end)
		return false;
	p = seq.val;
	if (p < seq.end && *p == 0x01) {
		if (!der_get(&p, seq.end, &t) || t.len != 1)
			return false;
		c->ca = t.val[0] != 0;
	}
	if (p < seq.end) {
		if (!der_expect(&p, seq.end, 0x02, &t) || t.len < 1 ||
		    t.len > 4 || (t.val[0] & 0x80))
			return false;
		c->pathlen = 0;
		for (size_t i = 0; i < t.len; i++)
			c->pathlen = c->pathlen << 8 | t.val[i];
	}
	return p == seq.end;
}

static bool
parse_ku(struct cert *c, const uint8_t *p, const uint8_t *end)
{
	struct tlv bits;

	if (!der_expect(&p, end, 0x03, &bits) || p != end || bits.len < 1)
		return false;
	c->has_ku = true;
	/* keyCertSign is bit 5: 0x04 in the first octet after "unused" */
	c->ku_certsign = bits.len >= 2 && (bits.val[1] & 0x04);
	return true;
}

/* parse_exts - [3] { SEQUENCE OF Extension }; each of SAN, BC, KU at most
 * once (RFC 5280 §4.2); others are skipped. */
static bool
parse_exts(struct cert *c, const struct tlv *a3)
{
	const uint8_t *p = a3->val;
	struct tlv seq, ext, oid, t, val;
	bool seen_san = false, seen_bc = false, seen_ku = false;

	if (!der_expect(&p, a3->end, 0x30, &seq) || p != a3->end)
		return false;
	p = seq.val;
	while (p < seq.end) {
		const uint8_t *q;

		if (!der_expect(&p, seq.end, 0x30, &ext))
			return false;
		q = ext.val;
		if (!der_expect(&q, ext.end, 0x06, &oid))
			return false;
		if (q < ext.end && *q == 0x01 &&
		    (!der_get(&q, ext.end, &t) || t.len != 1))
			return false;
		if (!der_expect(&q, ext.end, 0x04, &val) || q != ext.end)
			return false;
		if (oid_is(&oid, OID_SAN, sizeof(OID_SAN))) {
			if (seen_san || !parse_san(c, val.val, val.end))
				return false;
			seen_san = true;
		} else if (oid_is(&oid, OID_BC, sizeof(OID_BC))) {
			if (seen_bc || !parse_bc(c, val.val, val.end))
				return false;
			seen_bc = true;
		} else if (oid_is(&oid, OID_KU, sizeof(OID_KU))) {
			if (seen_ku || !parse_ku(c, val.val, val.end))
				return false;
			seen_ku = true;
		}
	}
	return true;
}

/* parse_cert - Certificate ::= SEQUENCE { tbsCertificate, signatureAlgorithm,
 * signatureValue } (RFC 5280 §4.1), exactly der[0..len). */
static bool
parse_cert(struct cert *c, const uint8_t *der, size_t len)
{
	const uint8_t *p = der, *end = der + len, *q;
	struct tlv outer, tbs, alg, sig, t, nb, na;

	memset(c, 0, sizeof(*c));
	c->der = der;
	c->len = len;
	c->pathlen = -1;
	if (der == NULL || len == 0)
		return false;
	if (!der_expect(&p, end, 0x30, &outer) || p != end)
		return false;
	p = outer.val;
	if (!der_expect(&p, outer.end, 0x30, &tbs) ||
	    !der_expect(&p, outer.end, 0x30, &alg) ||
	    !der_expect(&p, outer.end, 0x03, &sig) || p != outer.end)
		return false;
	p = tbs.val;
	if (!der_get(&p, tbs.end, &t))
		return false;
	if (t.tag == 0xa0) { /* version: INTEGER 0..2 */
		struct tlv v;

		q = t.val;
		if (!der_expect(&q, t.end, 0x02, &v) || q != t.end ||
		    v.len != 1 || v.val[0] > 2)
			return false;
		if (!der_get(&p, tbs.end, &t))
			return false;
	}
	if (t.tag != 0x02) /* serialNumber */
		return false;
	if (!der_expect(&p, tbs.end, 0x30, &t)) /* signature */
		return false;
	if (!der_expect(&p, tbs.end, 0x30, &t)) /* issuer */
		return false;
	c->issuer = t.hdr;
	c->issuer_len = (size_t)(t.end - t.hdr);
	if (!der_expect(&p, tbs.end, 0x30, &t)) /* validity */
		return false;
	q = t.val;
	if (!der_get(&q, t.end, &nb) || !der_get(&q, t.end, &na) ||
	    q != t.end || !parse_time(&nb, &c->not_before) ||
	    !parse_time(&na, &c->not_after))
		return false;
	if (!der_expect(&p, tbs.end, 0x30, &t)) /* subject */
		return false;
	c->subject = t.hdr;
	c->subject_len = (size_t)(t.end - t.hdr);
	if (!der_expect(&p, tbs.end, 0x30, &t)) /* subjectPublicKeyInfo */
		return false;
	c->spki = t.hdr;
	c->spki_len = (size_t)(t.end - t.hdr);
	while (p < tbs.end) {
		if (!der_get(&p, tbs.end, &t))
			return false;
		if (t.tag == 0x81 || t.tag == 0x82) /* unique IDs */
			continue;
		if (t.tag != 0xa3 || p != tbs.end || !parse_exts(c, &t))
			return false;
	}
	c->ok = true;
	return true;
}

/* ---- digests and records --------------------------------------------- */

static pthread_once_t crypt_once = PTHREAD_ONCE_INIT;

static void
crypt_init(void)
{
	(void)wolfCrypt_Init();
}

/* digest - what a record (selector, mtype) would hold for c; out has room
 * for *n bytes. */
static bool
digest(const struct cert *c, int selector, int mtype, uint8_t *out, size_t *n)
{
	const uint8_t *d = selector == 0 ? c->der : c->spki;
	size_t len = selector == 0 ? c->len : c->spki_len;

	if (selector != 0 && selector != 1)
		return false;
	switch (mtype) {
	case 0:
		if (*n < len)
			return false;
		memcpy(out, d, len);
		*n = len;
		return true;
	case 1:
		if (*n < WC_SHA256_DIGEST_SIZE ||
		    wc_Sha256Hash(d, (word32)len, out) != 0)
			return false;
		*n = WC_SHA256_DIGEST_SIZE;
		return true;
	case 2:
		if (*n < WC_SHA512_DIGEST_SIZE ||
		    wc_Sha512Hash(d, (word32)len, out) != 0)
			return false;
		*n = WC_SHA512_DIGEST_SIZE;
		return true;
	default:
		return false;
	}
}

/* rr_matches - the record's association data equals c's selected data
 * (exact, or its digest). */
static bool
rr_matches(const struct dns_tlsa_rr *rr, const struct cert *c)
{
	uint8_t h[WC_SHA512_DIGEST_SIZE];
	size_t n = sizeof(h);

	if (!c->ok)
		return false;
	if (rr->mtype == 0) {
		const uint8_t *d = rr->selector == 0 ? c->der : c->spki;
		size_t len = rr->selector == 0 ? c->len : c->spki_len;

		return rr->len == len && memcmp(rr->data, d, len) == 0;
	}
	return digest(c, rr->selector, rr->mtype, h, &n) && n == rr->len &&
	       memcmp(h, rr->data, n) == 0;
}

/* ---- names (RFC 7672 §3.2.3) ----------------------------------------- */

static unsigned char
lower(unsigned char ch)
{
	return ch >= 'A' && ch <= 'Z' ? (unsigned char)(ch - 'A' + 'a') : ch;
}

static bool
ci_eq(const uint8_t *a, size_t alen, const uint8_t *b, size_t blen)
{
	if (alen != blen)
		return false;
	for (size_t i = 0; i < alen; i++)
		if (lower(a[i]) != lower(b[i]))
			return false;
	return true;
}

/* name_matches - presented identifier pat (from the certificate) against
 * one reference identifier ref (already without a trailing dot). Only
 * printable ASCII names; "*" only as the whole leftmost label, matching
 * one non-empty label, and followed by at least two labels. */
static bool
name_matches(const uint8_t *pat, size_t plen, const uint8_t *ref, size_t rlen)
{
	const uint8_t *dot;

	if (plen > 0 && pat[plen - 1] == '.')
		plen--;
	if (plen == 0 || plen > DNS_NAME_MAX)
		return false;
	for (size_t i = 0; i < plen; i++)
		if (pat[i] <= 0x20 || pat[i] >= 0x7f ||
		    (pat[i] == '*' && i != 0))
			return false;
	if (pat[0] != '*')
		return ci_eq(pat, plen, ref, rlen);
	if (plen < 2 || pat[1] != '.')
		return false; /* "*" alone or "*foo.example" */
	if (memchr(pat + 2, '.', plen - 2) == NULL)
		return false; /* "*.org" */
	dot = memchr(ref, '.', rlen);
	if (dot == NULL || dot == ref)
		return false;
	return ci_eq(
	    pat + 2, plen - 2, dot + 1, rlen - (size_t)(dot + 1 - ref));
}

/* last_cn - the last CN attribute value of the subject (ASCII string
 * types only), or false. */
static bool
last_cn(const struct cert *c, const uint8_t **cn, size_t *cnlen)
{
	const uint8_t *p = c->subject, *end = c->subject + c->subject_len;
	struct tlv name, set, atv, oid, val;
	bool found = false;

	if (!der_expect(&p, end, 0x30, &name))
		return false;
	p = name.val;
	while (p < name.end) {
		const uint8_t *q;

		if (!der_expect(&p, name.end, 0x31, &set))
			return false;
		q = set.val;
		while (q < set.end) {
			const uint8_t *r;

			if (!der_expect(&q, set.end, 0x30, &atv))
				return false;
			r = atv.val;
			if (!der_expect(&r, atv.end, 0x06, &oid) ||
			    !der_get(&r, atv.end, &val))
				return false;
			if (!oid_is(&oid, OID_CN, sizeof(OID_CN)))
				continue;
			/* UTF8String, PrintableString, T61String, IA5String */
			if (val.tag == 0x0c || val.tag == 0x13 ||
			    val.tag == 0x14 || val.tag == 0x16) {
				*cn = val.val;
				*cnlen = val.len;
				found = true;
			}
		}
	}
	return found;
}

/* leaf_has_name - one of the reference identifiers is a DNS SAN of c, or
 * its CN when it has no DNS SAN. */
static bool
leaf_has_name(const struct cert *c, const char *const *names, size_t nnames)
{
	const uint8_t *cn = NULL;
	size_t cnlen = 0;
	bool use_cn = !c->has_dns_san && last_cn(c, &cn, &cnlen);

	for (size_t i = 0; i < nnames; i++) {
		const uint8_t *ref = (const uint8_t *)names[i];
		size_t rlen;

		if (ref == NULL)
			continue;
		rlen = strnlen(names[i], DNS_NAME_MAX + 2);
		if (rlen > 0 && ref[rlen - 1] == '.')
			rlen--;
		if (rlen == 0 || rlen > DNS_NAME_MAX)
			continue;
		if (use_cn && name_matches(cn, cnlen, ref, rlen))
			return true;
		if (c->has_dns_san) {
			const uint8_t *p = c->san, *end = c->san + c->san_len;
			struct tlv gn;

			while (p < end && der_get(&p, end, &gn))
				if (gn.tag == 0x82 &&
				    name_matches(gn.val, gn.len, ref, rlen))
					return true;
		}
	}
	return false;
}

/* ---- DANE-TA path ---------------------------------------------------- */

/* sig_verifies - child's signature verifies with issuer's public key
 * (wolfCrypt decodes the issuer's key; no other check is made here). */
static bool
sig_verifies(const struct cert *child, const struct cert *issuer)
{
	DecodedCert *dc = malloc(sizeof(*dc)); /* owned here, freed below */
	bool ok = false;

	if (dc == NULL)
		return false;
	wc_InitDecodedCert(dc, issuer->der, (word32)issuer->len, NULL);
	if (wc_ParseCert(dc, CERT_TYPE, NO_VERIFY, NULL) == 0 &&
	    dc->publicKey != NULL && dc->pubKeySize > 0)
		ok = wc_CheckCertSigPubKey(child->der, (word32)child->len, NULL,
			 dc->publicKey, dc->pubKeySize, (int)dc->keyOID) == 0;
	wc_FreeDecodedCert(dc);
	free(dc);
	return ok;
}

/* may_issue - issuer can sign certificates with `below` intermediates
 * under it (RFC 5280 §4.2.1.3, §4.2.1.9). */
static bool
may_issue(const struct cert *issuer, size_t below)
{
	if (!issuer->ca)
		return false;
	if (issuer->has_ku && !issuer->ku_certsign)
		return false;
	return issuer->pathlen < 0 || below <= (size_t)issuer->pathlen;
}

/* ta_record - index of a usable DANE-TA record matching c, or -1. */
static int
ta_record(
    const struct dns_tlsa_rr *const *rrs, size_t nrrs, const struct cert *c)
{
	for (size_t r = 0; r < nrrs; r++)
		if (rrs[r] != NULL && rrs[r]->usage == 2 &&
		    dns_tlsa_usable(rrs[r]) && rr_matches(rrs[r], c))
			return (int)r;
	return -1;
}

/* fail - set out->reason; returns 0 (no match). */
__attribute__((format(printf, 2, 3))) static int
fail(struct dane_result *out, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(out->reason, sizeof(out->reason), fmt, ap);
	va_end(ap);
	return 0;
}

static int
matched(
    struct dane_result *out, const struct dns_tlsa_rr *rr, int r, size_t depth)
{
	out->record = r;
	out->usage = rr->usage;
	out->selector = rr->selector;
	out->mtype = rr->mtype;
	out->depth = (int)depth;
	snprintf(out->reason, sizeof(out->reason),
	    "%s matched certificate at depth %zu",
	    rr->usage == 3 ? "DANE-EE(3)" : "DANE-TA(2)", depth);
	return 1;
}

/* dane_ta - build the path from the leaf to the first certificate a
 * DANE-TA record matches; then dates below it and the leaf's names. */
static int
dane_ta(const struct dns_tlsa_rr *const *rrs, size_t nrrs,
    const struct cert *certs, size_t n, const char *const *names, size_t nnames,
    int64_t now, struct dane_result *out)
{
	size_t path[DANE_MAX_DEPTH], plen = 1;
	bool used[DANE_MAX_DEPTH] = {false};
	bool any = false;

	for (size_t i = 0; i < n; i++)
		if (ta_record(rrs, nrrs, &certs[i]) >= 0)
			any = true;
	if (!any)
		return -1; /* no TA record matches anything the peer sent */
	path[0] = 0;
	used[0] = true;
	for (;;) {
		const struct cert *cur = &certs[path[plen - 1]];
		int r = ta_record(rrs, nrrs, cur);
		size_t next = n;

		if (r >= 0) {
			for (size_t k = 0; k + 1 < plen; k++) {
				const struct cert *c = &certs[path[k]];

				if (now < c->not_before || now > c->not_after)
					return fail(out,
					    "DANE-TA: certificate at depth %zu "
					    "expired or not yet valid",
					    path[k]);
			}
			if (!leaf_has_name(&certs[0], names, nnames))
				return fail(out, "DANE-TA: name mismatch");
			return matched(out, rrs[r], r, path[plen - 1]);
		}
		if (plen == n)
			break;
		for (size_t j = 0; j < n && next == n; j++) {
			const struct cert *c = &certs[j];

			if (used[j] || !c->ok ||
			    c->subject_len != cur->issuer_len ||
			    memcmp(c->subject, cur->issuer, c->subject_len) !=
				0 ||
			    !may_issue(c, plen - 1) || !sig_verifies(cur, c))
				continue;
			next = j;
		}
		if (next == n)
			break;
		used[next] = true;
		path[plen++] = next;
	}
	return fail(
	    out, "DANE-TA: chain does not verify at depth %zu", path[plen - 1]);
}

int
dane_match(const struct dns_tlsa_rr *const *rrs, size_t nrrs,
    const unsigned char *const *der, const size_t *der_len, size_t nchain,
    const char *const *names, size_t nnames, time_t now,
    struct dane_result *out)
{
	struct cert certs[DANE_MAX_DEPTH];
	size_t bad = nchain, nusable = 0;
	int r;

	if (out == NULL)
		return 0;
	memset(out, 0, sizeof(*out));
	out->record = out->usage = out->selector = out->mtype = -1;
	out->depth = -1;
	if (nrrs > DANE_MAX_RRS)
		return fail(out, "too many TLSA records (%zu)", nrrs);
	if (nchain > DANE_MAX_DEPTH)
		return fail(out, "certificate chain too long (%zu)", nchain);
	if (nnames > DANE_MAX_NAMES)
		return fail(out, "too many reference names (%zu)", nnames);
	if (nchain == 0 || der == NULL || der_len == NULL)
		return fail(out, "no certificate from the peer");
	if (rrs == NULL)
		nrrs = 0;
	if (names == NULL)
		nnames = 0;
	for (size_t i = 0; i < nrrs; i++)
		if (rrs[i] != NULL && dns_tlsa_usable(rrs[i]))
			nusable++;
	if (nusable == 0)
		return fail(out, "no usable TLSA records");
	for (size_t i = 0; i < nchain; i++)
		if (der_len[i] > DANE_MAX_CERT)
			return fail(
			    out, "certificate too large at depth %zu", i);
	pthread_once(&crypt_once, crypt_init);
	for (size_t i = 0; i < nchain; i++)
		if (!parse_cert(&certs[i], der[i], der_len[i]) && bad == nchain)
			bad = i;
	if (!certs[0].ok)
		return fail(out, "malformed certificate at depth 0");
	/* DANE-EE(3): the leaf only; nothing else is checked (§3.1.1). */
	for (size_t i = 0; i < nrrs; i++)
		if (rrs[i] != NULL && rrs[i]->usage == 3 &&
		    dns_tlsa_usable(rrs[i]) && rr_matches(rrs[i], &certs[0]))
			return matched(out, rrs[i], (int)i, 0);
	r = dane_ta(rrs, nrrs, certs, nchain, names, nnames, (int64_t)now, out);
	if (r >= 0)
		return r;
	if (bad < nchain)
		return fail(out,
		    "no certificate matched (malformed certificate at "
		    "depth %zu)",
		    bad);
	return fail(out, "no certificate matched");
}

int
dane_digest(const unsigned char *der, size_t len, int selector, int mtype,
    unsigned char *out, size_t *outlen)
{
	struct cert c;

	if (der == NULL || out == NULL || outlen == NULL ||
	    len > DANE_MAX_CERT || (selector != 0 && selector != 1) ||
	    mtype < 0 || mtype > 2)
		return -1;
	if (!parse_cert(&c, der, len))
		return -1;
	pthread_once(&crypt_once, crypt_init);
	return digest(&c, selector, mtype, out, outlen) ? 0 : -1;
}
