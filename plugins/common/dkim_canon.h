/*
 * dkim_canon.h - DKIM canonicalisation (RFC 6376 section 3.4) shared by
 * the DKIM plugins (dkim_sign and dkim_verify): header fields "simple"
 * and "relaxed", a streaming body canonicaliser for both algorithms, the
 * SHA-256 body hash of a body fed in chunks (optionally cut at an l= body
 * length limit), and base64 encoding and decoding.
 *
 * Pure code: no I/O, no global state, no plugin ABI types. Every function
 * is safe to call from any thread on its own state.
 *
 * Line ends in a body: a line ends with CRLF. A CR or LF that is not part
 * of a CRLF pair is an ordinary octet (kept as is), as in dkimpy.
 */
#ifndef RINGMX_DKIM_CANON_H
#define RINGMX_DKIM_CANON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <sodium.h>

/* Canonicalisation algorithms (the c= tag). */
enum dkim_canon {
	DKIM_CANON_SIMPLE = 0,
	DKIM_CANON_RELAXED = 1,
};

#define DKIM_SHA256_LEN 32

/*
 * dkim_canon_parse - the value of a c= tag: "hdr/body" or "hdr" alone
 * (body simple, RFC 6376 section 3.5), each "simple" or "relaxed", case
 * sensitive as in the RFC. 0, or -1 when it is not one of these.
 */
int dkim_canon_parse(
    const char *s, size_t len, enum dkim_canon *hdr, enum dkim_canon *body);

/* dkim_canon_name - "simple" or "relaxed". */
const char *dkim_canon_name(enum dkim_canon c);

/* Room dkim_canon_header needs for a field (the worst case is simple). */
#define DKIM_CANON_HEADER_MAX(name_len, value_len) \
	((name_len) + (value_len) + 3)

/*
 * dkim_canon_header - one header field in canonical form: name is the
 * field name as in the message, value the raw field body after the colon
 * (including the leading space and folding CRLFs, without the final
 * CRLF). With crlf a CRLF ends the output (a signed header field); without
 * it, none (the DKIM-Signature field itself, RFC 6376 section 3.7).
 * Writes at most DKIM_CANON_HEADER_MAX(name_len, value_len) octets to out
 * (not NUL-terminated) and returns the number written.
 *   simple:  name ":" value [CRLF], unchanged.
 *   relaxed: name in lower case without trailing WSP, ":", the value
 *            unfolded (every CR and LF removed: a CRLF of a fold, and
 *            also a bare CR or LF, which RFC 5322 does not allow in a
 *            field and which must not leave a line end inside the
 *            output), each run of WSP made one SP, leading and trailing
 *            WSP removed [, CRLF].
 */
size_t dkim_canon_header(enum dkim_canon c, const char *name, size_t name_len,
    const char *value, size_t value_len, bool crlf, char *out);

/* Where a body canonicaliser writes its output (called in pieces). */
typedef void dkim_sink_fn(void *ctx, const void *data, size_t len);

/*
 * Streaming body canonicaliser. Feed the body (everything after the
 * empty line ending the header section) in chunks of any size; the
 * output is the same however the body is cut.
 *   simple:  trailing empty lines removed; a missing final CRLF added; an
 *            empty body becomes CRLF.
 *   relaxed: WSP at the end of every line removed (also on a last line
 *            without CRLF), other WSP runs made one SP, trailing empty
 *            lines removed, a missing final CRLF added; a body with no
 *            octet left becomes empty.
 * The fields are private to dkim_canon.c.
 */
struct dkim_body_canon {
	enum dkim_canon mode;
	dkim_sink_fn *sink;
	void *ctx;
	uint64_t crlfs; /* line ends held back: trailing empty lines? */
	bool cr;        /* last octet was a CR, maybe of a CRLF */
	bool wsp;       /* relaxed: a WSP run held back */
	bool any;       /* some non-line-end output written */
	size_t olen;
	unsigned char obuf[2048];
};

/* dkim_body_canon_init - start a body; output goes to sink(ctx, ...). */
void dkim_body_canon_init(struct dkim_body_canon *bc, enum dkim_canon mode,
    dkim_sink_fn *sink, void *ctx);
/* dkim_body_canon_update - the next len octets of the body. */
void dkim_body_canon_update(
    struct dkim_body_canon *bc, const void *data, size_t len);
/* dkim_body_canon_final - end of the body: writes what was held back. */
void dkim_body_canon_final(struct dkim_body_canon *bc);

/*
 * Body hash (the bh= tag) of a body with SHA-256: canonicalise and hash
 * in one pass, chunk by chunk. Only the first `limit` octets of the
 * canonical body are hashed (the l= tag, RFC 6376 section 3.5);
 * DKIM_BODY_NO_LIMIT hashes all of it.
 */
#define DKIM_BODY_NO_LIMIT UINT64_MAX

struct dkim_body_hash {
	struct dkim_body_canon canon;
	crypto_hash_sha256_state sha;
	uint64_t canon_len;   /* canonical octets hashed so far */
	uint64_t canon_total; /* canonical octets produced (hashed or not) */
	uint64_t limit;       /* hash at most this many canonical octets */
};

/* dkim_body_hash_init - start the body hash of one body, all of it. */
void dkim_body_hash_init(struct dkim_body_hash *bh, enum dkim_canon mode);
/* dkim_body_hash_init_limit - the same, hashing at most limit canonical
 * octets (canon_total still counts the whole canonical body, so a caller
 * sees whether the limit left something unsigned). */
void dkim_body_hash_init_limit(
    struct dkim_body_hash *bh, enum dkim_canon mode, uint64_t limit);
/* dkim_body_hash_update - the next len octets of the (raw) body. */
void dkim_body_hash_update(
    struct dkim_body_hash *bh, const void *data, size_t len);
/* dkim_body_hash_final - the SHA-256 of the canonical body into out. */
void dkim_body_hash_final(
    struct dkim_body_hash *bh, unsigned char out[DKIM_SHA256_LEN]);

/* Length of the base64 of n octets, without a NUL. */
#define DKIM_BASE64_LEN(n) ((((n) + 2) / 3) * 4)

/*
 * dkim_base64_encode - RFC 4648 base64 (with "=" padding, no line
 * breaks) of n octets into out, which needs DKIM_BASE64_LEN(n) + 1
 * octets; NUL-terminated. Returns the length without the NUL.
 */
size_t dkim_base64_encode(const void *in, size_t n, char *out);

/* Most octets the base64 text of n characters decodes to. */
#define DKIM_BASE64_DECODED_MAX(n) (((n) / 4) * 3)

/*
 * dkim_base64_decode - RFC 4648 base64 of n characters into out (cap
 * octets), as found in DKIM tags: SP, TAB, CR and LF anywhere are
 * ignored (FWS); the rest must be groups of four alphabet characters,
 * the last one possibly padded with one or two "=". 0 and *outlen, or
 * -1 for another character, a bad length or padding, or no room.
 */
int dkim_base64_decode(
    const char *in, size_t n, unsigned char *out, size_t cap, size_t *outlen);

#endif
