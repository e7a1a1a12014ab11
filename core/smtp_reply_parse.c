/*
 * smtp_reply_parse.c - incremental parser for SMTP/LMTP server replies.
 * See smtp_reply_parse.h for exactly what is accepted. Only line framing,
 * codes, enhanced status codes and limits live here; what a reply means
 * to a transaction is decided in smtp_client.c.
 *
 * A line is collected in p->line only when it arrives in several pieces;
 * a line complete within one feed is parsed in place.
 */
#include "smtp_reply_parse.h"

#include <string.h>

/* smtp_rp_init - set the limits, empty state */
void
smtp_rp_init(struct smtp_reply_parser *p, size_t line_max, unsigned lines_max)
{
	memset(p, 0, sizeof(*p));
	p->line_max = line_max ? line_max : SMTP_RP_LINE_MAX;
	if (p->line_max < 8)
		p->line_max = 8;
	p->lines_max = lines_max ? lines_max : SMTP_RP_LINES_MAX;
}

static void
clear_reply(struct smtp_reply_parser *p)
{
	buf_reset(&p->text);
	p->code = 0;
	p->nlines = 0;
	p->enh[0] = '\0';
	p->returned = false;
}

/* smtp_rp_reset - drop partial input and errors */
void
smtp_rp_reset(struct smtp_reply_parser *p)
{
	buf_reset(&p->line);
	clear_reply(p);
	p->err = SMTP_RP_EOK;
}

/* smtp_rp_free - release the buffers */
void
smtp_rp_free(struct smtp_reply_parser *p)
{
	buf_free(&p->line);
	buf_free(&p->text);
	clear_reply(p);
}

static bool
is_digit(uint8_t c)
{
	return c >= '0' && c <= '9';
}

/* Length of "d.d{1,3}.d{1,3}" at s (followed by SP or the end), or 0. */
static size_t
enh_len(const uint8_t *s, size_t n)
{
	size_t i = 0;

	if (n < 5 || !is_digit(s[0]) || s[1] != '.')
		return 0;
	i = 2;
	for (int part = 0; part < 2; part++) {
		size_t d = 0;

		while (i < n && is_digit(s[i]) && d < 4) {
			i++;
			d++;
		}
		if (d == 0 || d > 3)
			return 0;
		if (part == 0) {
			if (i >= n || s[i] != '.')
				return 0;
			i++;
		}
	}
	if (i < n && s[i] != ' ')
		return 0;
	return i;
}

/* Parse one complete line l[0..n) (LF removed). Returns -1 on error
 * (p->err set), 0 for a continuation line, 1 for the last line. */
static int
parse_line(struct smtp_reply_parser *p, const uint8_t *l, size_t n)
{
	int code;
	bool last;
	size_t k;

	if (n > 0 && l[n - 1] == '\r')
		n--;
	if (memchr(l, '\r', n) != NULL || memchr(l, '\0', n) != NULL) {
		p->err = SMTP_RP_ESYNTAX;
		return -1;
	}
	if (n < 3 || l[0] < '2' || l[0] > '5' || l[1] < '0' || l[1] > '5' ||
	    !is_digit(l[2])) {
		p->err = SMTP_RP_ESYNTAX;
		return -1;
	}
	code = (l[0] - '0') * 100 + (l[1] - '0') * 10 + (l[2] - '0');
	if (n == 3 || l[3] == ' ') {
		last = true;
	} else if (l[3] == '-') {
		last = false;
	} else {
		p->err = SMTP_RP_ESYNTAX;
		return -1;
	}
	if (p->code != 0 && p->code != code) {
		p->err = SMTP_RP_ECODE;
		return -1;
	}
	if (p->nlines >= p->lines_max) {
		p->err = SMTP_RP_ELINES;
		return -1;
	}
	p->code = code;
	l += n > 3 ? 4 : 3;
	n -= n > 3 ? 4 : 3;

	/* enhanced status code */
	if (p->nlines == 0) {
		k = enh_len(l, n);
		if (k > 0 && l[0] == (uint8_t)('0' + code / 100) &&
		    (l[0] == '2' || l[0] == '4' || l[0] == '5')) {
			memcpy(p->enh, l, k);
			p->enh[k] = '\0';
			l += k;
			n -= k;
			if (n > 0) { /* the SP after it */
				l++;
				n--;
			}
		}
	} else if (p->enh[0] != '\0') {
		k = strlen(p->enh);
		if (n >= k && memcmp(l, p->enh, k) == 0 &&
		    (n == k || l[k] == ' ')) {
			l += k;
			n -= k;
			if (n > 0) {
				l++;
				n--;
			}
		}
	}

	if (buf_reserve(&p->text, n + 2) < 0) {
		p->err = SMTP_RP_ENOMEM;
		return -1;
	}
	if (p->nlines > 0)
		p->text.data[p->text.len++] = '\n';
	for (size_t i = 0; i < n; i++) {
		uint8_t c = l[i];

		if ((c < 0x20 && c != '\t') || c == 0x7f)
			c = '?';
		p->text.data[p->text.len++] = c;
	}
	p->text.data[p->text.len] = '\0';
	p->nlines++;
	return last ? 1 : 0;
}

/* smtp_rp_feed - consume bytes up to the end of the next complete reply */
enum smtp_rp_status
smtp_rp_feed(struct smtp_reply_parser *p, const uint8_t *in, size_t len,
    size_t *used, struct smtp_rp_reply *reply)
{
	size_t off = 0;

	*used = 0;
	if (p->err != SMTP_RP_EOK)
		return SMTP_RP_ERROR;
	if (p->returned)
		clear_reply(p);
	while (off < len) {
		const uint8_t *lf = memchr(in + off, '\n', len - off);
		size_t chunk = lf ? (size_t)(lf - (in + off)) : len - off;
		const uint8_t *l;
		size_t n;
		int r;

		/* the line's octets so far plus at least its LF */
		if (chunk >= p->line_max ||
		    p->line.len + chunk + 1 > p->line_max) {
			p->err = SMTP_RP_ELONG;
			*used = off;
			return SMTP_RP_ERROR;
		}
		if (lf == NULL) {
			if (buf_append(&p->line, in + off, chunk) < 0) {
				p->err = SMTP_RP_ENOMEM;
				*used = off;
				return SMTP_RP_ERROR;
			}
			off = len;
			break;
		}
		if (p->line.len > 0) {
			if (buf_append(&p->line, in + off, chunk) < 0) {
				p->err = SMTP_RP_ENOMEM;
				*used = off;
				return SMTP_RP_ERROR;
			}
			l = p->line.data;
			n = p->line.len;
		} else {
			l = in + off;
			n = chunk;
		}
		off += chunk + 1;
		r = parse_line(p, l, n);
		buf_reset(&p->line);
		if (r < 0) {
			*used = off;
			return SMTP_RP_ERROR;
		}
		if (r == 1) {
			reply->code = p->code;
			memcpy(reply->enh, p->enh, sizeof(reply->enh));
			reply->text =
			    p->text.len > 0 ? (const char *)p->text.data : "";
			reply->text_len = p->text.len;
			reply->nlines = p->nlines;
			p->returned = true;
			*used = off;
			return SMTP_RP_REPLY;
		}
	}
	*used = off;
	return SMTP_RP_MORE;
}

/* smtp_rp_strerror - describe a parser error */
const char *
smtp_rp_strerror(enum smtp_rp_error e)
{
	switch (e) {
	case SMTP_RP_EOK:
		return "no error";
	case SMTP_RP_ESYNTAX:
		return "malformed reply line";
	case SMTP_RP_ECODE:
		return "reply code changed within a multi-line reply";
	case SMTP_RP_ELONG:
		return "reply line too long";
	case SMTP_RP_ELINES:
		return "too many reply lines";
	case SMTP_RP_ENOMEM:
		return "out of memory";
	}
	return "unknown error";
}
