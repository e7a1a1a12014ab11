/*
 * fuzz_dkim_canon.c - libFuzzer target for the DKIM canonicaliser of
 * plugins/common/dkim_canon.c (compiled in: the replay build links only
 * the daemon library). The first input octet picks the header and body
 * algorithms and the chunk sizes; the rest is both a header field
 * (name up to the first ':', value after it) and a body.
 * Checked with abort():
 *   header, relaxed: name lower case without trailing WSP; value without
 *     TAB, CR, LF or SP runs, no SP after the colon or at the end; the
 *     only CRLF is the final one (when asked for); equal to a
 *     straightforward reference implementation;
 *   header, simple: name ":" value [CRLF], unchanged;
 *   body, relaxed: no TAB, no SP run, no SP before a CRLF, ends with
 *     exactly one CRLF unless empty; equal to a reference (split at CRLF,
 *     squeeze and strip each line, drop trailing empty lines);
 *   body, simple: ends with CRLF, no empty line at the end (unless the
 *     whole output is one CRLF); equal to the input without its trailing
 *     CRLFs plus one CRLF;
 *   both: the same output for one chunk, for the chunk sizes from the
 *     first octet, and octet by octet; canonicalising the output again
 *     changes nothing; dkim_body_hash agrees with SHA-256 of the output.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../../plugins/common/dkim_canon.c"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(c)                 \
	do {                     \
		if (!(c))        \
			abort(); \
	} while (0)

struct out {
	unsigned char *p;
	size_t len, cap;
};

static void
out_sink(void *ctx, const void *d, size_t n)
{
	struct out *o = ctx;

	if (o->len + n > o->cap) {
		size_t cap = o->cap ? o->cap : 64;

		while (cap < o->len + n)
			cap *= 2;
		o->p = realloc(o->p, cap);
		CHECK(o->p != NULL);
		o->cap = cap;
	}
	memcpy(o->p + o->len, d, n);
	o->len += n;
}

static bool
wsp(unsigned char c)
{
	return c == ' ' || c == '\t';
}

/* Body in chunks: sizes cycle through sizes[0..3] (0 means 1). */
static struct out
body(
    enum dkim_canon m, const unsigned char *in, size_t n, const size_t sizes[4])
{
	struct dkim_body_canon *bc = malloc(sizeof(*bc));
	struct out o = {0};
	size_t off = 0;

	CHECK(bc != NULL);
	dkim_body_canon_init(bc, m, out_sink, &o);
	for (unsigned i = 0; off < n; i++) {
		size_t k = sizes[i % 4] ? sizes[i % 4] : 1;

		if (k > n - off)
			k = n - off;
		dkim_body_canon_update(bc, in + off, k);
		off += k;
	}
	dkim_body_canon_final(bc);
	free(bc);
	return o;
}

/* Reference relaxed body: lines split at CRLF from the left. */
static struct out
ref_relaxed(const unsigned char *in, size_t n)
{
	struct out o = {0};
	size_t i = 0, keep = 0; /* keep: length up to the last content */

	o.p = malloc(2 * n + 3);
	CHECK(o.p != NULL);
	while (i < n) {
		size_t e = i, start = o.len;
		bool sp = false;

		while (
		    e < n && !(in[e] == '\r' && e + 1 < n && in[e + 1] == '\n'))
			e++;
		for (size_t k = i; k < e; k++) {
			if (wsp(in[k])) {
				sp = true;
				continue;
			}
			if (sp)
				o.p[o.len++] = ' ';
			sp = false;
			o.p[o.len++] = in[k];
		}
		if (o.len > start)
			keep = o.len;
		if (e < n) {
			o.p[o.len++] = '\r';
			o.p[o.len++] = '\n';
		}
		i = e + 2;
	}
	o.len = keep;
	if (keep > 0) {
		o.p[o.len++] = '\r';
		o.p[o.len++] = '\n';
	}
	return o;
}

static struct out
ref_simple(const unsigned char *in, size_t n)
{
	struct out o = {0};

	while (n >= 2 && in[n - 2] == '\r' && in[n - 1] == '\n')
		n -= 2;
	o.p = malloc(n + 2);
	CHECK(o.p != NULL);
	memcpy(o.p, in, n);
	memcpy(o.p + n, "\r\n", 2);
	o.len = n + 2;
	return o;
}

static void
check_body(
    enum dkim_canon m, const unsigned char *in, size_t n, const size_t sizes[4])
{
	static const size_t one[4] = {1, 1, 1, 1};
	size_t all[4] = {n + 1, n + 1, n + 1, n + 1};
	struct out a = body(m, in, n, all), b = body(m, in, n, sizes);
	struct out c = body(m, in, n, one), again, ref;
	unsigned char h1[DKIM_SHA256_LEN], h2[DKIM_SHA256_LEN];
	struct dkim_body_hash *bh = malloc(sizeof(*bh));

	CHECK(a.len == b.len && a.len == c.len);
	CHECK(a.len == 0 ||
	      (memcmp(a.p, b.p, a.len) == 0 && memcmp(a.p, c.p, a.len) == 0));
	if (m == DKIM_CANON_RELAXED) {
		for (size_t i = 0; i < a.len; i++) {
			CHECK(a.p[i] != '\t');
			CHECK(!(a.p[i] == ' ' && i + 1 < a.len &&
				a.p[i + 1] == ' '));
			CHECK(!(a.p[i] == ' ' && i + 2 < a.len &&
				a.p[i + 1] == '\r' && a.p[i + 2] == '\n'));
		}
		ref = ref_relaxed(in, n);
	} else {
		CHECK(a.len >= 2);
		ref = ref_simple(in, n);
	}
	if (a.len > 0) {
		CHECK(a.len >= 2 && a.p[a.len - 2] == '\r' &&
		      a.p[a.len - 1] == '\n');
		CHECK(a.len == 2 || !(a.len >= 4 && memcmp(a.p + a.len - 4,
							"\r\n\r\n", 4) == 0));
	}
	CHECK(
	    ref.len == a.len && (a.len == 0 || memcmp(ref.p, a.p, a.len) == 0));
	again = body(m, a.p, a.len, sizes);
	CHECK(again.len == a.len &&
	      (a.len == 0 || memcmp(again.p, a.p, a.len) == 0));
	CHECK(bh != NULL);
	dkim_body_hash_init(bh, m);
	dkim_body_hash_update(bh, in, n);
	dkim_body_hash_final(bh, h1);
	CHECK(bh->canon_len == a.len);
	crypto_hash_sha256(h2, a.p, a.len);
	CHECK(memcmp(h1, h2, sizeof(h1)) == 0);
	free(bh);
	free(a.p);
	free(b.p);
	free(c.p);
	free(again.p);
	free(ref.p);
}

static void
check_header(enum dkim_canon m, const char *name, size_t nl, const char *value,
    size_t vl, bool crlf)
{
	char *o = malloc(DKIM_CANON_HEADER_MAX(nl, vl));
	char *r = malloc(DKIM_CANON_HEADER_MAX(nl, vl));
	size_t n, rn = 0;

	CHECK(o != NULL && r != NULL);
	n = dkim_canon_header(m, name, nl, value, vl, crlf, o);
	CHECK(n <= DKIM_CANON_HEADER_MAX(nl, vl));
	if (crlf)
		CHECK(n >= 3 && o[n - 2] == '\r' && o[n - 1] == '\n');
	if (m == DKIM_CANON_SIMPLE) {
		CHECK(n == nl + 1 + vl + (crlf ? 2 : 0));
		CHECK(memcmp(o, name, nl) == 0 && o[nl] == ':');
		CHECK(vl == 0 || memcmp(o + nl + 1, value, vl) == 0);
	} else {
		size_t end = n - (crlf ? 2 : 0), colon, k = nl;
		bool sp = false;

		while (k > 0 && wsp((unsigned char)name[k - 1]))
			k--;
		for (size_t i = 0; i < k; i++)
			r[rn++] = (char)(name[i] >= 'A' && name[i] <= 'Z'
					     ? name[i] + 32
					     : name[i]);
		r[rn++] = ':';
		colon = rn;
		for (size_t i = 0; i < vl; i++) {
			if (value[i] == '\r' || value[i] == '\n')
				continue;
			if (wsp((unsigned char)value[i])) {
				sp = true;
				continue;
			}
			if (sp && rn > colon)
				r[rn++] = ' ';
			sp = false;
			r[rn++] = value[i];
		}
		if (crlf) {
			r[rn++] = '\r';
			r[rn++] = '\n';
		}
		CHECK(rn == n && memcmp(r, o, n) == 0);
		for (size_t i = colon; i < end; i++) {
			CHECK(o[i] != '\t' && o[i] != '\r' && o[i] != '\n');
			CHECK(!(o[i] == ' ' && (i == colon || i + 1 == end ||
						   o[i + 1] == ' ')));
		}
		for (size_t i = 0; i + 1 < colon; i++)
			CHECK(!(o[i] >= 'A' && o[i] <= 'Z'));
	}
	free(o);
	free(r);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const unsigned char *in;
	const char *colon;
	size_t n, sizes[4];
	unsigned f;

	if (size < 1)
		return 0;
	f = data[0];
	in = data + 1;
	n = size - 1;
	sizes[0] = (f >> 2) & 7;
	sizes[1] = ((f >> 5) & 7) * 3;
	sizes[2] = 64;
	sizes[3] = 1 + (f & 3);
	check_body(
	    (f & 1) ? DKIM_CANON_RELAXED : DKIM_CANON_SIMPLE, in, n, sizes);
	check_body(
	    (f & 1) ? DKIM_CANON_SIMPLE : DKIM_CANON_RELAXED, in, n, sizes);
	colon = n > 0 ? memchr(in, ':', n) : NULL;
	if (colon != NULL) {
		size_t nl = (size_t)((const unsigned char *)colon - in);

		for (int m = 0; m < 2; m++)
			for (int crlf = 0; crlf < 2; crlf++)
				check_header(m, (const char *)in, nl, colon + 1,
				    n - nl - 1, crlf);
	}
	return 0;
}
