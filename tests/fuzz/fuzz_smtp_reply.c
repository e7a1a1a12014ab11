/*
 * fuzz_smtp_reply.c - libFuzzer target for the SMTP/LMTP reply parser of
 * core/smtp_reply_parse.c. The input picks the limits and how the peer's
 * bytes are split; the bytes are fed whole, one byte at a time and in
 * pseudo-random chunks (including empty feeds).
 * Checked with abort(): the three runs give the same transcript (every
 * reply with its code, enhanced code, lines, text and the stream offset
 * where it ended, then the final error or "need more"); that transcript
 * equals the one of a plain reference written from RFC 5321 4.2 and the
 * header's rules (independent of the parser: whole lines, no state
 * machine); every reply's code follows the grammar, the enhanced code is
 * class.subject.detail with the code's class, the text holds no NUL, CR
 * or other control octet but TAB and the '\n' joining its lines, and
 * nlines <= lines_max; consumed counts never exceed the input.
 * Not here: what replies mean (tests/unit/test_smtp_client.c).
 *
 * Input layout: [0] line_max selector, [1] lines_max selector, [2] split
 * seed, then the peer's bytes.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "smtp_reply_parse.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(c)                 \
	do {                     \
		if (!(c))        \
			abort(); \
	} while (0)

#define HDR 3

static uint32_t
next_rand(uint32_t *s)
{
	*s = *s * 1103515245u + 12345u;
	return *s >> 16;
}

static void
emit_reply(struct buf *t, size_t end, int code, const char *enh,
    unsigned nlines, const char *text, size_t tlen)
{
	CHECK(buf_printf(
		  t, "[%zu:%d:%s:%u:%zu:", end, code, enh, nlines, tlen) == 0);
	CHECK(buf_append(t, text, tlen) == 0);
	CHECK(buf_append(t, "]", 1) == 0);
}

/* Invariants of one reply returned by the parser. */
static void
check_reply(const struct smtp_rp_reply *r, unsigned lines_max)
{
	size_t nl = 0, el;

	CHECK(r->code >= 200 && r->code <= 559);
	CHECK((r->code / 10) % 10 <= 5);
	CHECK(r->nlines >= 1 && r->nlines <= lines_max);
	CHECK(strlen(r->text) == r->text_len);
	for (size_t i = 0; i < r->text_len; i++) {
		unsigned char c = (unsigned char)r->text[i];

		CHECK(c != '\r' && c != 0x7f);
		CHECK(c >= 0x20 || c == '\t' || c == '\n');
		nl += c == '\n';
	}
	CHECK(nl == r->nlines - 1);
	el = strlen(r->enh);
	CHECK(el < SMTP_RP_ENH_MAX);
	if (el > 0) {
		unsigned a, b, cc;
		int n = 0;

		CHECK(r->enh[0] - '0' == r->code / 100);
		CHECK(sscanf(r->enh, "%1u.%3u.%3u%n", &a, &b, &cc, &n) == 3);
		CHECK((size_t)n == el);
	}
}

/* Run the parser over s, fed in pieces chosen by `split`. */
static void
run(const uint8_t *s, size_t len, size_t line_max, unsigned lines_max,
    int split, uint32_t seed, struct buf *t)
{
	struct smtp_reply_parser p;
	struct smtp_rp_reply r;
	size_t off = 0;
	enum smtp_rp_status st = SMTP_RP_MORE;

	smtp_rp_init(&p, line_max, lines_max);
	while (off < len || split == 2) {
		size_t n, used = 0;

		if (split == 0)
			n = len - off;
		else if (split == 1)
			n = 1;
		else
			n = next_rand(&seed) % 17; /* 0 = an empty feed */
		if (n > len - off)
			n = len - off;
		st = smtp_rp_feed(&p, s + off, n, &used, &r);
		CHECK(used <= n);
		if (st == SMTP_RP_ERROR)
			break;
		off += used;
		if (st == SMTP_RP_REPLY) {
			check_reply(&r, p.lines_max);
			emit_reply(t, off, r.code, r.enh, r.nlines, r.text,
			    r.text_len);
		} else {
			CHECK(used == n);
		}
		if (split == 2 && off >= len)
			break;
	}
	if (st == SMTP_RP_ERROR) {
		CHECK(p.err != SMTP_RP_EOK);
		CHECK(buf_printf(t, "E%d", (int)p.err) == 0);
		/* sticky */
		CHECK(smtp_rp_feed(&p, (const uint8_t *)"250 x\r\n", 7, &off,
			  &r) == SMTP_RP_ERROR);
	} else {
		CHECK(buf_append(t, "M", 1) == 0);
	}
	smtp_rp_free(&p);
}

/* Reference: "d.d{1,3}.d{1,3}" then SP or end; its length or 0. */
static size_t
ref_enh(const uint8_t *s, size_t n)
{
	size_t i = 1, d;

	if (n < 5 || !(s[0] == '2' || s[0] == '4' || s[0] == '5') ||
	    s[1] != '.')
		return 0;
	i = 2;
	for (d = 0; i < n && s[i] >= '0' && s[i] <= '9'; i++)
		d++;
	if (d < 1 || d > 3 || i >= n || s[i] != '.')
		return 0;
	i++;
	for (d = 0; i < n && s[i] >= '0' && s[i] <= '9'; i++)
		d++;
	if (d < 1 || d > 3)
		return 0;
	return i == n || s[i] == ' ' ? i : 0;
}

/* The reference: whole lines, one reply at a time. */
static void
reference(const uint8_t *s, size_t len, size_t line_max, unsigned lines_max,
    struct buf *t)
{
	size_t pos = 0;
	int code = 0;
	unsigned nlines = 0;
	char enh[SMTP_RP_ENH_MAX] = "";
	struct buf text = {0};

	if (line_max == 0)
		line_max = SMTP_RP_LINE_MAX;
	if (line_max < 8)
		line_max = 8;
	if (lines_max == 0)
		lines_max = SMTP_RP_LINES_MAX;
	for (;;) {
		const uint8_t *lf = memchr(s + pos, '\n', len - pos);
		size_t n, raw;
		const uint8_t *l = s + pos;
		int lc;
		bool last;

		if (lf == NULL) {
			if (len - pos + 1 > line_max && len > pos)
				CHECK(buf_printf(t, "E%d", SMTP_RP_ELONG) == 0);
			else
				CHECK(buf_append(t, "M", 1) == 0);
			break;
		}
		n = (size_t)(lf - l);
		raw = n + 1;
		pos += raw;
		if (raw > line_max) {
			CHECK(buf_printf(t, "E%d", SMTP_RP_ELONG) == 0);
			break;
		}
		if (n > 0 && l[n - 1] == '\r')
			n--;
		if (memchr(l, '\r', n) || memchr(l, 0, n) || n < 3 ||
		    l[0] < '2' || l[0] > '5' || l[1] < '0' || l[1] > '5' ||
		    l[2] < '0' || l[2] > '9' ||
		    (n > 3 && l[3] != ' ' && l[3] != '-')) {
			CHECK(buf_printf(t, "E%d", SMTP_RP_ESYNTAX) == 0);
			break;
		}
		lc = (l[0] - '0') * 100 + (l[1] - '0') * 10 + (l[2] - '0');
		if (code != 0 && lc != code) {
			CHECK(buf_printf(t, "E%d", SMTP_RP_ECODE) == 0);
			break;
		}
		if (nlines == lines_max) {
			CHECK(buf_printf(t, "E%d", SMTP_RP_ELINES) == 0);
			break;
		}
		code = lc;
		last = n == 3 || l[3] == ' ';
		l += n > 3 ? 4 : 3;
		n -= n > 3 ? 4 : 3;
		if (nlines == 0) {
			size_t k = ref_enh(l, n);

			if (k > 0 && l[0] - '0' == code / 100) {
				memcpy(enh, l, k);
				enh[k] = '\0';
				l += k + (k < n);
				n -= k + (k < n);
			}
		} else if (enh[0] != '\0') {
			size_t k = strlen(enh);

			if (n >= k && memcmp(l, enh, k) == 0 &&
			    (n == k || l[k] == ' ')) {
				l += k + (k < n);
				n -= k + (k < n);
			}
		}
		if (nlines > 0)
			CHECK(buf_append(&text, "\n", 1) == 0);
		for (size_t i = 0; i < n; i++) {
			char c = (l[i] < 0x20 && l[i] != '\t') || l[i] == 0x7f
				     ? '?'
				     : (char)l[i];

			CHECK(buf_append(&text, &c, 1) == 0);
		}
		nlines++;
		if (last) {
			emit_reply(t, pos, code, enh, nlines,
			    text.len ? (const char *)text.data : "", text.len);
			buf_reset(&text);
			code = 0;
			nlines = 0;
			enh[0] = '\0';
		}
	}
	buf_free(&text);
}

/* LLVMFuzzerTestOneInput - one stream, four ways */
int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const size_t line_maxes[] = {0, 8, 12, 16, 24, 40, 64, 2048};
	struct buf t[4] = {{0}};
	size_t line_max;
	unsigned lines_max;
	uint32_t seed;

	if (size < HDR)
		return 0;
	line_max = line_maxes[data[0] & 7];
	lines_max = data[1] & 7; /* 0 = the default */
	seed = data[2];
	data += HDR;
	size -= HDR;

	run(data, size, line_max, lines_max, 0, seed, &t[0]);
	run(data, size, line_max, lines_max, 1, seed, &t[1]);
	run(data, size, line_max, lines_max, 2, seed, &t[2]);
	reference(data, size, line_max, lines_max, &t[3]);
	for (int i = 1; i < 4; i++) {
		CHECK(t[i].len == t[0].len);
		CHECK(memcmp(t[i].data, t[0].data, t[0].len) == 0);
	}
	for (int i = 0; i < 4; i++)
		buf_free(&t[i]);
	return 0;
}
