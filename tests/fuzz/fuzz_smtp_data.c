/*
 * fuzz_smtp_data.c - libFuzzer target for the DATA and BDAT machines of
 * core/smtp_data.c. The input picks the mode, the limits and how the
 * wire bytes are split into feeds; the wire bytes are fed whole, one
 * byte at a time and in pseudo-random chunks (including empty feeds).
 * Checked with abort(): the three runs agree; the result matches a plain
 * reference model written from RFC 5321 4.5.2 (independent of the
 * machine); DATA ends only right after CRLF "." CRLF really present in
 * the input (or ".CRLF" as the very first line); consumed never exceeds
 * the input; the output never holds a bare CR or LF.
 * Not here: command and path parsing (fuzz_smtp_cmd.c, fuzz_smtp_path.c).
 *
 * Input layout: [0] flags (bit 0 BDAT, bit 1 use limits), [1] line_max,
 * [2] header_max, [3] size_max / 4, [4] hops_max, [5] split seed, then
 * the wire bytes.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "smtp_data.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(c)                 \
	do {                     \
		if (!(c))        \
			abort(); \
	} while (0)

#define HDR 6

struct result {
	enum smtp_data_status st;
	size_t consumed; /* DATA only */
	enum smtp_data_error err;
	uint64_t size;
	unsigned received;
	struct buf out;
};

enum split { SPLIT_WHOLE, SPLIT_BYTES, SPLIT_RANDOM };

/* Every CR in b is followed by LF and every LF preceded by CR. */
static void
check_no_bare(const struct buf *b)
{
	for (size_t i = 0; i < b->len; i++) {
		if (b->data[i] == '\r')
			CHECK(i + 1 < b->len && b->data[i + 1] == '\n');
		if (b->data[i] == '\n')
			CHECK(i > 0 && b->data[i - 1] == '\r');
	}
}

static uint32_t
next_rand(uint32_t *s)
{
	/* xorshift32; the seed is never 0 */
	*s ^= *s << 13;
	*s ^= *s >> 17;
	*s ^= *s << 5;
	return *s;
}

static size_t
chunk_len(enum split how, uint32_t *seed, size_t left)
{
	size_t n;

	switch (how) {
	case SPLIT_BYTES:
		return 1;
	case SPLIT_RANDOM:
		n = next_rand(seed) % 18; /* 0..17, 0 = an empty feed */
		return n < left ? n : left;
	case SPLIT_WHOLE:
	default:
		return left;
	}
}

static void
run(bool bdat, const struct smtp_data_limits *l, const uint8_t *in, size_t len,
    enum split how, uint32_t seed, struct result *r)
{
	struct smtp_data_rx rx;
	size_t off = 0;
	unsigned empty = 0;

	memset(r, 0, sizeof(*r));
	smtp_data_init(&rx, l);
	r->st = SMTP_DATA_MORE;
	while (off < len && r->st == SMTP_DATA_MORE) {
		size_t n = chunk_len(how, &seed, len - off), c = SIZE_MAX;

		if (n == 0 && ++empty > 4)
			n = 1; /* bound the number of empty feeds */
		if (bdat) {
			r->st = smtp_bdat_feed(&rx, in + off, n, &r->out);
			CHECK(r->st == SMTP_DATA_MORE ||
			      r->st == SMTP_DATA_BARE_EOL);
			c = n;
		} else {
			r->st = smtp_data_feed(&rx, in + off, n, &r->out, &c);
		}
		CHECK(c <= n);
		if (r->st == SMTP_DATA_MORE)
			CHECK(c == n);
		off += c;
		check_no_bare(&r->out);
		if (rx.error == SMTP_DATA_OK && r->st != SMTP_DATA_BARE_EOL) {
			/* stored size = output, plus a CR held back */
			CHECK(r->out.len + (rx.pending_cr ? 1 : 0) == rx.size);
			if (l->size_max != 0)
				CHECK(r->out.len <= l->size_max);
		}
	}
	if (bdat && r->st == SMTP_DATA_MORE) {
		r->st = smtp_bdat_last(&rx);
		CHECK(r->st == SMTP_DATA_END || r->st == SMTP_DATA_BARE_EOL);
	}
	CHECK(off <= len);
	r->consumed = off;
	r->err = rx.error;
	r->size = rx.size;
	r->received = rx.received;
	if (rx.error == SMTP_DATA_OK)
		CHECK(smtp_data_error_reply(&rx) == NULL);
	else
		CHECK(smtp_data_error_reply(&rx) != NULL);
}

/*
 * Reference model: the first event in the input, octet by octet.
 * A bare LF is seen at the LF, a bare CR at the octet after it; DATA ends
 * at the LF of a "." CRLF line that starts the input or follows CRLF.
 */
static void
model_events(bool bdat, const uint8_t *s, size_t len, enum smtp_data_status *st,
    size_t *consumed)
{
	for (size_t p = 0; p < len; p++) {
		if (s[p] == '\n' && (p == 0 || s[p - 1] != '\r'))
			goto bare;
		if (p > 0 && s[p - 1] == '\r' && s[p] != '\n')
			goto bare;
		if (!bdat && s[p] == '\n' && p >= 2 && s[p - 1] == '\r' &&
		    s[p - 2] == '.' &&
		    (p == 2 ||
			(p >= 4 && s[p - 4] == '\r' && s[p - 3] == '\n'))) {
			*st = SMTP_DATA_END;
			*consumed = p + 1;
			return;
		}
		continue;
	bare:
		*st = SMTP_DATA_BARE_EOL;
		*consumed = p;
		return;
	}
	*consumed = len;
	if (bdat)
		*st = (len > 0 && s[len - 1] == '\r') ? SMTP_DATA_BARE_EOL
						      : SMTP_DATA_END;
	else
		*st = SMTP_DATA_MORE;
}

/* The stored message: unstuffed (DATA), without a trailing lone CR. */
static void
model_output(bool bdat, const uint8_t *s, size_t end, struct buf *out)
{
	for (size_t p = 0; p < end; p++) {
		bool bol = p == 0 || s[p - 1] == '\n';

		if (!bdat && bol && s[p] == '.')
			continue;
		CHECK(buf_append(out, s + p, 1) == 0);
	}
	if (out->len > 0 && out->data[out->len - 1] == '\r')
		out->len--;
}

/* Received: headers in the header section of the stored message. */
static unsigned
model_received(const struct buf *m)
{
	unsigned n = 0;
	size_t p = 0;

	while (p < m->len) {
		size_t e = p;

		while (e < m->len && m->data[e] != '\r')
			e++;
		if (e == p && e < m->len)
			break; /* empty line: end of the header section */
		if (e - p >= 9 && strncasecmp((const char *)m->data + p,
				      "received", 8) == 0) {
			size_t k = p + 8;

			while (
			    k < e && (m->data[k] == ' ' || m->data[k] == '\t'))
				k++;
			if (k < e && m->data[k] == ':')
				n++;
		}
		p = e + 2; /* skip CRLF */
	}
	return n;
}

static bool
same_out(const struct buf *a, const struct buf *b)
{
	return a->len == b->len &&
	       (a->len == 0 || memcmp(a->data, b->data, a->len) == 0);
}

/* LLVMFuzzerTestOneInput - one message, three splits, one model */
int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const struct smtp_data_limits none = {0, 0, 0, 0};
	struct smtp_data_limits lim;
	struct result r[3];
	enum smtp_data_status mst;
	size_t mcons;
	struct buf mout = {0};
	const uint8_t *in;
	size_t len;
	bool bdat;
	uint32_t seed;

	if (size < HDR)
		return 0;
	bdat = data[0] & 1;
	lim = none;
	if (data[0] & 2) {
		lim.line_max = data[1] % 64;
		lim.header_max = data[2];
		lim.size_max = (uint64_t)data[3] * 4;
		lim.hops_max = data[4] % 8;
	}
	seed = 0x9e3779b9u ^ data[5];
	in = data + HDR;
	len = size - HDR;

	run(bdat, &lim, in, len, SPLIT_WHOLE, seed, &r[0]);
	run(bdat, &lim, in, len, SPLIT_BYTES, seed, &r[1]);
	run(bdat, &lim, in, len, SPLIT_RANDOM, seed, &r[2]);

	/* DATA ends only right after a real CRLF "." CRLF */
	if (!bdat && r[0].st == SMTP_DATA_END) {
		size_t c = r[0].consumed;

		CHECK(c >= 3 && memcmp(in + c - 3, ".\r\n", 3) == 0);
		CHECK(c == 3 ||
		      (c >= 5 && in[c - 5] == '\r' && in[c - 4] == '\n'));
	}

	/* the reference model */
	model_events(bdat, in, len, &mst, &mcons);
	CHECK(mst == r[0].st);
	if (!bdat)
		CHECK(mcons == r[0].consumed);
	if (mst != SMTP_DATA_BARE_EOL) {
		/* DATA: up to the final "."; BDAT: everything */
		model_output(bdat, in,
		    (!bdat && mst == SMTP_DATA_END) ? mcons - 3 : len, &mout);
		if (r[0].err == SMTP_DATA_OK)
			CHECK(same_out(&mout, &r[0].out));
		CHECK(model_received(&mout) == r[0].received);
		if (lim.line_max == 0 && lim.header_max == 0 &&
		    lim.size_max == 0 && lim.hops_max == 0)
			CHECK(r[0].err == SMTP_DATA_OK);
	}

	/* whole, byte by byte and random chunks agree */
	for (int k = 1; k < 3; k++) {
		CHECK(r[k].st == r[0].st);
		if (!bdat || r[0].st != SMTP_DATA_BARE_EOL)
			CHECK(r[k].consumed == r[0].consumed);
		if (r[0].st == SMTP_DATA_BARE_EOL)
			continue;
		CHECK(r[k].err == r[0].err);
		CHECK(r[k].size == r[0].size);
		CHECK(r[k].received == r[0].received);
		if (r[0].err == SMTP_DATA_OK)
			CHECK(same_out(&r[k].out, &r[0].out));
	}

	buf_free(&mout);
	for (int k = 0; k < 3; k++)
		buf_free(&r[k].out);
	return 0;
}
