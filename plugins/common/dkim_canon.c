/*
 * dkim_canon.c - DKIM canonicalisation, body hash and base64; see
 * dkim_canon.h. The body canonicaliser is a small state machine over
 * runs of ordinary octets, so chunks can end anywhere (inside a CRLF, a
 * WSP run or a run of empty lines) and the output does not depend on how
 * the body was cut.
 */
#include "dkim_canon.h"

#include <string.h>

static bool
is_wsp(unsigned char c)
{
	return c == ' ' || c == '\t';
}

static bool
word_is(const char *s, size_t len, const char *w)
{
	return len == strlen(w) && memcmp(s, w, len) == 0;
}

static int
canon_word(const char *s, size_t len, enum dkim_canon *c)
{
	if (word_is(s, len, "simple"))
		*c = DKIM_CANON_SIMPLE;
	else if (word_is(s, len, "relaxed"))
		*c = DKIM_CANON_RELAXED;
	else
		return -1;
	return 0;
}

/* dkim_canon_parse - see dkim_canon.h. */
int
dkim_canon_parse(
    const char *s, size_t len, enum dkim_canon *hdr, enum dkim_canon *body)
{
	const char *slash = memchr(s, '/', len);
	enum dkim_canon h, b = DKIM_CANON_SIMPLE;

	if (slash == NULL) {
		if (canon_word(s, len, &h) != 0)
			return -1;
	} else if (canon_word(s, (size_t)(slash - s), &h) != 0 ||
		   canon_word(slash + 1, len - (size_t)(slash - s) - 1, &b) !=
		       0) {
		return -1;
	}
	*hdr = h;
	*body = b;
	return 0;
}

/* dkim_canon_name - see dkim_canon.h. */
const char *
dkim_canon_name(enum dkim_canon c)
{
	return c == DKIM_CANON_RELAXED ? "relaxed" : "simple";
}

/* Relaxed (RFC 6376 section 3.4.2) into out; returns the length. */
static size_t
relaxed_header(const char *name, size_t name_len, const char *value,
    size_t value_len, char *out)
{
	size_t o = 0, start;
	bool wsp = false;

	while (name_len > 0 && is_wsp((unsigned char)name[name_len - 1]))
		name_len--;
	for (size_t i = 0; i < name_len; i++) {
		unsigned char ch = (unsigned char)name[i];

		out[o++] = (char)(ch >= 'A' && ch <= 'Z' ? ch + 32 : ch);
	}
	out[o++] = ':';
	start = o;
	for (size_t i = 0; i < value_len; i++) {
		unsigned char ch = (unsigned char)value[i];

		if (ch == '\r' || ch == '\n')
			continue; /* unfold: WSP around a fold stays WSP */
		if (is_wsp(ch)) {
			wsp = true;
			continue;
		}
		if (wsp && o > start)
			out[o++] = ' ';
		wsp = false;
		out[o++] = (char)ch;
	}
	return o;
}

/* dkim_canon_header - see dkim_canon.h. */
size_t
dkim_canon_header(enum dkim_canon c, const char *name, size_t name_len,
    const char *value, size_t value_len, bool crlf, char *out)
{
	size_t o;

	if (c == DKIM_CANON_SIMPLE) {
		memcpy(out, name, name_len);
		o = name_len;
		out[o++] = ':';
		memcpy(out + o, value, value_len);
		o += value_len;
	} else {
		o = relaxed_header(name, name_len, value, value_len, out);
	}
	if (crlf) {
		out[o++] = '\r';
		out[o++] = '\n';
	}
	return o;
}

/* ------------------------------------------------------------- body */

static void
out_flush(struct dkim_body_canon *bc)
{
	if (bc->olen > 0)
		bc->sink(bc->ctx, bc->obuf, bc->olen);
	bc->olen = 0;
}

static void
out_put(struct dkim_body_canon *bc, const void *p, size_t n)
{
	if (n > sizeof(bc->obuf) - bc->olen) {
		out_flush(bc);
		if (n >= sizeof(bc->obuf)) {
			bc->sink(bc->ctx, p, n);
			return;
		}
	}
	memcpy(bc->obuf + bc->olen, p, n);
	bc->olen += n;
}

/* Content octets: first the line ends and the WSP held back before them. */
static void
content(struct dkim_body_canon *bc, const void *p, size_t n)
{
	for (; bc->crlfs > 0; bc->crlfs--)
		out_put(bc, "\r\n", 2);
	if (bc->wsp)
		out_put(bc, " ", 1);
	bc->wsp = false;
	out_put(bc, p, n);
	bc->any = true;
}

/* dkim_body_canon_init - see dkim_canon.h. */
void
dkim_body_canon_init(struct dkim_body_canon *bc, enum dkim_canon mode,
    dkim_sink_fn *sink, void *ctx)
{
	memset(bc, 0, offsetof(struct dkim_body_canon, obuf));
	bc->mode = mode;
	bc->sink = sink;
	bc->ctx = ctx;
}

/* dkim_body_canon_update - see dkim_canon.h. */
void
dkim_body_canon_update(struct dkim_body_canon *bc, const void *data, size_t len)
{
	const unsigned char *p = data, *end = p + len;
	bool relaxed = bc->mode == DKIM_CANON_RELAXED;

	while (p < end) {
		const unsigned char *s;

		if (bc->cr) {
			bc->cr = false;
			if (*p == '\n') {
				bc->wsp = false; /* WSP at the end of a line */
				bc->crlfs++;
				p++;
				continue;
			}
			content(bc, "\r", 1); /* a lone CR is an octet */
		}
		s = p;
		while (p < end && *p != '\r' && !(relaxed && is_wsp(*p)))
			p++;
		if (p > s)
			content(bc, s, (size_t)(p - s));
		if (p == end)
			break;
		if (*p == '\r')
			bc->cr = true;
		else
			bc->wsp = true;
		p++;
	}
}

/* dkim_body_canon_final - see dkim_canon.h. */
void
dkim_body_canon_final(struct dkim_body_canon *bc)
{
	if (bc->cr) {
		bc->cr = false;
		content(bc, "\r", 1);
	}
	bc->wsp = false;
	bc->crlfs = 0;
	if (bc->mode == DKIM_CANON_SIMPLE || bc->any)
		out_put(bc, "\r\n", 2);
	out_flush(bc);
}

static void
hash_sink(void *ctx, const void *data, size_t len)
{
	struct dkim_body_hash *bh = ctx;

	bh->canon_total += len;
	if (bh->canon_len >= bh->limit)
		return;
	if (len > bh->limit - bh->canon_len)
		len = (size_t)(bh->limit - bh->canon_len);
	crypto_hash_sha256_update(&bh->sha, data, len);
	bh->canon_len += len;
}

/* dkim_body_hash_init_limit - see dkim_canon.h. */
void
dkim_body_hash_init_limit(
    struct dkim_body_hash *bh, enum dkim_canon mode, uint64_t limit)
{
	crypto_hash_sha256_init(&bh->sha);
	bh->canon_len = 0;
	bh->canon_total = 0;
	bh->limit = limit;
	dkim_body_canon_init(&bh->canon, mode, hash_sink, bh);
}

/* dkim_body_hash_init - see dkim_canon.h. */
void
dkim_body_hash_init(struct dkim_body_hash *bh, enum dkim_canon mode)
{
	dkim_body_hash_init_limit(bh, mode, DKIM_BODY_NO_LIMIT);
}

/* dkim_body_hash_update - see dkim_canon.h. */
void
dkim_body_hash_update(struct dkim_body_hash *bh, const void *data, size_t len)
{
	dkim_body_canon_update(&bh->canon, data, len);
}

/* dkim_body_hash_final - see dkim_canon.h. */
void
dkim_body_hash_final(
    struct dkim_body_hash *bh, unsigned char out[DKIM_SHA256_LEN])
{
	dkim_body_canon_final(&bh->canon);
	crypto_hash_sha256_final(&bh->sha, out);
}

/* ----------------------------------------------------------- base64 */

/* dkim_base64_encode - see dkim_canon.h. */
size_t
dkim_base64_encode(const void *in, size_t n, char *out)
{
	static const char tab[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
				  "abcdefghijklmnopqrstuvwxyz0123456789+/";
	const unsigned char *p = in;
	size_t o = 0, i = 0;

	for (; i + 3 <= n; i += 3) {
		uint32_t v =
		    (uint32_t)p[i] << 16 | (uint32_t)p[i + 1] << 8 | p[i + 2];

		out[o++] = tab[v >> 18];
		out[o++] = tab[(v >> 12) & 63];
		out[o++] = tab[(v >> 6) & 63];
		out[o++] = tab[v & 63];
	}
	if (i < n) {
		uint32_t v = (uint32_t)p[i] << 16;

		if (i + 1 < n)
			v |= (uint32_t)p[i + 1] << 8;
		out[o++] = tab[v >> 18];
		out[o++] = tab[(v >> 12) & 63];
		out[o++] = i + 1 < n ? tab[(v >> 6) & 63] : '=';
		out[o++] = '=';
	}
	out[o] = '\0';
	return o;
}

static int
b64_val(unsigned char c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == '+')
		return 62;
	if (c == '/')
		return 63;
	return -1;
}

/* dkim_base64_decode - see dkim_canon.h. */
int
dkim_base64_decode(
    const char *in, size_t n, unsigned char *out, size_t cap, size_t *outlen)
{
	uint32_t acc = 0;
	size_t o = 0, q = 0, pad = 0;

	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)in[i];
		int v;

		if (c == ' ' || c == '\t' || c == '\r' || c == '\n')
			continue;
		if (c == '=') {
			/* padding: only the last one or two of a group */
			if (q < 2 || ++pad > 2)
				return -1;
			q++;
			continue;
		}
		if (pad > 0 || (v = b64_val(c)) < 0)
			return -1;
		acc = acc << 6 | (uint32_t)v;
		if (++q < 4)
			continue;
		if (cap - o < 3)
			return -1;
		out[o++] = (unsigned char)(acc >> 16);
		out[o++] = (unsigned char)(acc >> 8);
		out[o++] = (unsigned char)acc;
		acc = 0;
		q = 0;
	}
	if (pad > 0) {
		/* the padded group is complete: q == 4 */
		if (q != 4)
			return -1;
		acc <<= 6 * pad;
		if (cap - o < 3 - pad)
			return -1;
		out[o++] = (unsigned char)(acc >> 16);
		if (pad == 1)
			out[o++] = (unsigned char)(acc >> 8);
	} else if (q != 0) {
		return -1;
	}
	*outlen = o;
	return 0;
}
