/*
 * dsn.c - delivery status notifications: the RFC 3461 NOTIFY decision and
 * the RFC 3464 / RFC 6522 (RFC 6533 when internationalized) report
 * message. See dsn.h for the contract.
 *
 * The report is written straight into the caller's buffer; the boundary
 * is written as a placeholder and patched once the three parts are
 * complete, because choosing it needs their contents. Nothing from the
 * envelope or the remote reply reaches a header line unchecked: hosts and
 * tokens are validated, addresses must be control-free (they come from
 * smtp_path_parse), ENVID and ORCPT are xtext-encoded and diagnostics are
 * reduced to printable ASCII.
 *
 * Not here: when to send (scheduler), queueing the report, its envelope.
 */
#include "dsn.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define LINE_MAX_OCTETS 998 /* RFC 5322 2.1.1, without the CRLF */
#define FOLD_AT         78  /* RFC 5322 2.1.1 SHOULD */
#define TEXT_WIDTH      76  /* text part wrapping */
#define DATE_LEN        40

/* Boundary: fixed prefix and 16 upper-case hex digits. */
#define B_PREFIX "=_rmx_dsn_"
#define B_PLEN   (sizeof(B_PREFIX) - 1)
#define B_HEX    16
#define B_LEN    (B_PLEN + B_HEX)
#define B_SLOTS  5 /* Content-Type parameter, 3 delimiters, close */

/* ---- small helpers ---- */

/* Append with a sticky error so writers need not check every call. */
struct w {
	struct buf *b;
	int err;
};

static void
w_put(struct w *w, const void *p, size_t n)
{
	if (w->err == 0 && buf_append(w->b, p, n) < 0)
		w->err = -1;
}

static void
w_str(struct w *w, const char *s)
{
	w_put(w, s, strlen(s));
}

static void __attribute__((format(printf, 2, 3)))
w_fmt(struct w *w, const char *fmt, ...)
{
	va_list ap;

	if (w->err != 0)
		return;
	va_start(ap, fmt);
	if (buf_vprintf(w->b, fmt, ap) < 0)
		w->err = -1;
	va_end(ap);
}

static bool
is_ctl(unsigned c)
{
	return c < 0x20 || c == 0x7f;
}

static bool
is_alnum(unsigned c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	       (c >= '0' && c <= '9');
}

/* RFC 5322 atext, ASCII only. */
static bool
is_atext(unsigned c)
{
	return is_alnum(c) || (c != 0 && strchr("!#$%&'*+-/=?^_`{|}~", (int)c));
}

static bool
has_8bit(const void *p, size_t n)
{
	const unsigned char *s = p;

	for (size_t i = 0; i < n; i++)
		if (s[i] >= 0x80)
			return true;
	return false;
}

/* An envelope address as smtp_path_parse leaves it: 1..SMTP_PATH_MAX
 * octets, no control characters, UTF-8 well-formed. */
static bool
addr_ok(const char *a)
{
	size_t n;

	if (a == NULL || (n = strnlen(a, SMTP_PATH_MAX + 1)) == 0 ||
	    n > SMTP_PATH_MAX)
		return false;
	for (size_t i = 0; i < n; i++)
		if (is_ctl((unsigned char)a[i]))
			return false;
	return smtp_utf8_valid(a, n);
}

static bool
time_ok(int64_t t)
{
	return t >= 0 && t <= DSN_TIME_MAX;
}

/* RFC 5322 date-time in UTC, "Thu, 01 Jan 1970 00:00:00 +0000". t must
 * satisfy time_ok. Civil date from days (H. Hinnant's algorithm). */
static void
fmt_date(int64_t t, char out[DATE_LEN])
{
	static const char *const wday[] = {
	    "Thu", "Fri", "Sat", "Sun", "Mon", "Tue", "Wed"};
	static const char *const mon[] = {"Jan", "Feb", "Mar", "Apr", "May",
	    "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
	int64_t days = t / 86400, secs = t % 86400;
	int64_t z = days + 719468, era = z / 146097;
	int64_t doe = z - era * 146097;
	int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
	int64_t y = yoe + era * 400;
	int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
	int64_t mp = (5 * doy + 2) / 153;
	int64_t d = doy - (153 * mp + 2) / 5 + 1;
	int64_t m = mp < 10 ? mp + 3 : mp - 9;

	if (m <= 2)
		y++;
	snprintf(out, DATE_LEN, "%s, %02d %s %04d %02d:%02d:%02d +0000",
	    wday[days % 7], (int)d, mon[m - 1], (int)y, (int)(secs / 3600),
	    (int)(secs / 60 % 60), (int)(secs % 60));
}

/* Host name for a header: one trailing dot dropped, smtp_domain_valid.
 * Copies into out (SMTP_DOMAIN_MAX + 1); false if not a host name. */
static bool
host_clean(const char *h, char *out)
{
	size_t n;

	if (h == NULL)
		return false;
	n = strnlen(h, SMTP_DOMAIN_MAX + 2);
	if (n > 1 && h[n - 1] == '.')
		n--;
	if (n == 0 || n > SMTP_DOMAIN_MAX || !smtp_domain_valid(h, n, false))
		return false;
	memcpy(out, h, n);
	out[n] = '\0';
	return true;
}

static bool
token_ok(const char *t)
{
	size_t n;

	if (t == NULL || (n = strnlen(t, DSN_TOKEN_MAX + 1)) == 0 ||
	    n > DSN_TOKEN_MAX || t[0] == '.' || t[n - 1] == '.')
		return false;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)t[i];

		if (c == '.' && t[i + 1] == '.')
			return false;
		if (!is_alnum(c) && c != '.' && c != '-' && c != '_')
			return false;
	}
	return true;
}

/* RFC 3463 "class.subject.detail", 1-3 digits each, class 2, 4 or 5. */
static int
status_class(const char *s)
{
	size_t i = 1;

	if (s[0] != '2' && s[0] != '4' && s[0] != '5')
		return -1;
	for (int part = 0; part < 2; part++) {
		size_t nd = 0;

		if (s[i++] != '.')
			return -1;
		while (s[i] >= '0' && s[i] <= '9' && nd < 4) {
			i++;
			nd++;
		}
		if (nd == 0 || nd > 3)
			return -1;
	}
	return s[i] == '\0' ? s[0] - '0' : -1;
}

static int
action_class(enum dsn_action a)
{
	switch (a) {
	case DSN_ACTION_FAILED:
		return 5;
	case DSN_ACTION_DELAYED:
		return 4;
	case DSN_ACTION_DELIVERED:
	case DSN_ACTION_RELAYED:
	case DSN_ACTION_EXPANDED:
		return 2;
	}
	return -1;
}

static const char *
action_name(enum dsn_action a)
{
	switch (a) {
	case DSN_ACTION_FAILED:
		return "failed";
	case DSN_ACTION_DELAYED:
		return "delayed";
	case DSN_ACTION_DELIVERED:
		return "delivered";
	case DSN_ACTION_RELAYED:
		return "relayed";
	case DSN_ACTION_EXPANDED:
		return "expanded";
	}
	return "failed";
}

static const char *
rcpt_status(const struct dsn_rcpt *r)
{
	if (r->status != NULL)
		return r->status;
	switch (action_class(r->action)) {
	case 5:
		return "5.0.0";
	case 4:
		return "4.0.0";
	default:
		return "2.0.0";
	}
}

/*
 * Reduce a remote reply to printable ASCII on one line: runs of CR, LF,
 * TAB and SP become one SP (none at either end), other control and
 * non-ASCII octets '?'; cut at DSN_DIAG_MAX octets ending "...".
 * Returns the length written to out (DSN_DIAG_MAX + 1 octets).
 */
static size_t
diag_clean(const char *in, char *out)
{
	size_t o = 0;
	bool space = false;

	for (const unsigned char *p = (const unsigned char *)in; *p; p++) {
		unsigned c = *p;

		if (c == ' ' || c == '\t' || c == '\r' || c == '\n') {
			space = o > 0;
			continue;
		}
		if (o + (space ? 2 : 1) > DSN_DIAG_MAX) {
			while (o > DSN_DIAG_MAX - 3)
				o--;
			memcpy(out + o, "...", 3);
			o += 3;
			break;
		}
		if (space)
			out[o++] = ' ';
		space = false;
		out[o++] = (is_ctl(c) || c >= 0x80) ? '?' : (char)c;
	}
	out[o] = '\0';
	return o;
}

/* Write text as a header field value after prefix (which ends with a
 * space), folding before a space when a line would pass FOLD_AT. text
 * has single spaces and at most DSN_DIAG_MAX octets. */
static void
put_folded(struct w *w, const char *prefix, const char *text)
{
	size_t col = strlen(prefix);
	bool first = true;

	w_str(w, prefix);
	while (*text) {
		size_t wl = strcspn(text, " ");

		if (!first && col + 1 + wl > FOLD_AT) {
			w_str(w, "\r\n ");
			col = 1;
		} else if (!first) {
			w_str(w, " ");
			col++;
		}
		w_put(w, text, wl);
		col += wl;
		first = false;
		text += wl;
		if (*text == ' ')
			text++;
	}
	w_str(w, "\r\n");
}

/* Write text wrapped at TEXT_WIDTH: the first line after lead (already
 * counted in col), the others indented by indent spaces. */
static void
put_wrapped(struct w *w, size_t col, size_t indent, const char *text)
{
	bool first = true;

	while (*text) {
		size_t wl = strcspn(text, " ");

		if (!first && col + 1 + wl > TEXT_WIDTH) {
			w_str(w, "\r\n");
			for (size_t i = 0; i < indent; i++)
				w_put(w, " ", 1);
			col = indent;
		} else if (!first) {
			w_put(w, " ", 1);
			col++;
		}
		w_put(w, text, wl);
		col += wl;
		first = false;
		text += wl;
		if (*text == ' ')
			text++;
	}
	w_str(w, "\r\n");
}

/* ---- the returned original ---- */

static bool
ret_full(const struct dsn_input *in)
{
	enum smtp_ret r = in->ret;

	if (r == SMTP_RET_UNSET)
		r = (enum smtp_ret)in->env->ret;
	return r == SMTP_RET_FULL;
}

/* Octets of the original that are returned: all, or (headers only) up
 * to the first empty line, line ends being CRLF, bare CR or bare LF. */
static size_t
included_len(const unsigned char *p, size_t n, bool full)
{
	size_t i = 0, start = 0;

	if (full)
		return n;
	while (i < n) {
		if (p[i] == '\r' || p[i] == '\n') {
			if (i == start)
				return start;
			i += (p[i] == '\r' && i + 1 < n && p[i + 1] == '\n')
				 ? 2
				 : 1;
			start = i;
		} else {
			i++;
		}
	}
	return n;
}

/* Copy p[0..n) with every line end made CRLF, lines broken at 998 octets
 * (header section: as a folded continuation) and a CRLF at the end. */
static void
put_original(struct w *w, const unsigned char *p, size_t n)
{
	size_t i = 0, col = 0;
	bool in_hdr = true;

	while (i < n) {
		size_t run = 0;

		if (p[i] == '\r' || p[i] == '\n') {
			if (col == 0)
				in_hdr = false;
			w_put(w, "\r\n", 2);
			col = 0;
			i += (p[i] == '\r' && i + 1 < n && p[i + 1] == '\n')
				 ? 2
				 : 1;
			continue;
		}
		if (col == LINE_MAX_OCTETS) {
			w_str(w, in_hdr ? "\r\n " : "\r\n");
			col = in_hdr ? 1 : 0;
		}
		while (i + run < n && p[i + run] != '\r' &&
		       p[i + run] != '\n' && col + run < LINE_MAX_OCTETS)
			run++;
		w_put(w, p + i, run);
		col += run;
		i += run;
	}
	if (col > 0)
		w_put(w, "\r\n", 2);
}

/* ---- report parts ---- */

struct ctx {
	const struct dsn_input *in;
	const struct qenvelope *env;
	char host[SMTP_DOMAIN_MAX + 1];
	bool global;
	bool full;
	int64_t arrival;
	bool any[5]; /* per enum dsn_action */
};

static const char *
text_label(enum dsn_action a)
{
	switch (a) {
	case DSN_ACTION_FAILED:
		return "delivery failed";
	case DSN_ACTION_DELAYED:
		return "delayed, still being retried";
	case DSN_ACTION_DELIVERED:
		return "delivered";
	case DSN_ACTION_RELAYED:
		return "relayed to a system that sends no further reports";
	case DSN_ACTION_EXPANDED:
		return "delivered to a list or alias";
	}
	return "";
}

static void
put_text(struct w *w, const struct ctx *c)
{
	const struct dsn_input *in = c->in;
	size_t shown =
	    in->nrcpts < DSN_TEXT_MAX_RCPT ? in->nrcpts : DSN_TEXT_MAX_RCPT;
	char date[DATE_LEN], diag[DSN_DIAG_MAX + 1];

	w_fmt(w, "This is the mail delivery system at %s.\r\n\r\n", c->host);
	if (c->any[DSN_ACTION_FAILED])
		w_str(w, "Your message could not be delivered to one or more "
			 "recipients.\r\nThis is a permanent error: the "
			 "message will not be retried.\r\n\r\n");
	if (c->any[DSN_ACTION_DELAYED])
		w_str(w, "Your message has not yet been delivered to one or "
			 "more recipients.\r\nDelivery is still being "
			 "retried; you do not need to send it again.\r\n\r\n");
	if (c->any[DSN_ACTION_DELIVERED] || c->any[DSN_ACTION_RELAYED] ||
	    c->any[DSN_ACTION_EXPANDED])
		w_str(w, "Your message was delivered, or passed on, to the "
			 "recipients marked so below.\r\n\r\n");
	for (size_t i = 0; i < shown; i++) {
		const struct dsn_rcpt *r = &in->rcpts[i];

		w_fmt(w, "<%s>: %s (%s)\r\n", c->env->rcpts[r->index].addr,
		    text_label(r->action), rcpt_status(r));
		if (r->remote_mta != NULL) {
			char mta[SMTP_DOMAIN_MAX + 1];

			if (host_clean(r->remote_mta, mta))
				w_fmt(w, "    Remote server: %s\r\n", mta);
		}
		if (r->diagnostic != NULL && diag_clean(r->diagnostic, diag)) {
			w_str(w, "    Reply: ");
			put_wrapped(w, 11, 8, diag);
		}
		if (r->last_attempt > 0) {
			fmt_date(r->last_attempt, date);
			w_fmt(w, "    Last attempt: %s\r\n", date);
		}
		if (r->action == DSN_ACTION_DELAYED &&
		    r->will_retry_until > 0) {
			fmt_date(r->will_retry_until, date);
			w_fmt(w, "    Retrying until: %s\r\n", date);
		}
	}
	if (in->nrcpts > shown)
		w_fmt(w,
		    "\r\n... and %zu more recipient%s, all listed in the "
		    "delivery report.\r\n",
		    in->nrcpts - shown, in->nrcpts - shown == 1 ? "" : "s");
	if (c->full)
		w_str(w, "\r\nYour message is attached below.\r\n");
	else
		w_str(w, "\r\nThe header section of your message is "
			 "attached below.\r\n");
}

/* Original-Recipient from the stored "type;decoded": "type;xtext". */
static void
put_orcpt(struct w *w, const char *orcpt)
{
	char xt[LINE_MAX_OCTETS + 1];
	const char *semi = strchr(orcpt, ';'), *type = "unknown";
	const char *addr = orcpt;
	size_t tlen = 7, pre;

	if (semi != NULL && semi > orcpt) {
		size_t n = (size_t)(semi - orcpt);
		bool atom = n <= SMTP_ORCPT_MAX;

		for (size_t i = 0; atom && i < n; i++)
			atom = is_atext((unsigned char)orcpt[i]);
		if (atom) {
			type = orcpt;
			tlen = n;
			addr = semi + 1;
		}
	}
	/* "Original-Recipient: " type ";" xtext within one line */
	pre = 20 + tlen + 1;
	if (*addr == '\0' || pre >= LINE_MAX_OCTETS ||
	    smtp_xtext_encode(
		addr, strlen(addr), xt, LINE_MAX_OCTETS - pre + 1) < 0)
		return;
	w_str(w, "Original-Recipient: ");
	w_put(w, type, tlen);
	w_fmt(w, ";%s\r\n", xt);
}

static void
put_status(struct w *w, const struct ctx *c)
{
	const struct dsn_input *in = c->in;
	const struct qenvelope *env = c->env;
	char date[DATE_LEN], diag[DSN_DIAG_MAX + 1];

	w_fmt(w, "Reporting-MTA: dns; %s\r\n", c->host);
	if (env->envid != NULL && env->envid[0] != '\0' &&
	    strnlen(env->envid, SMTP_ENVID_MAX + 1) <= SMTP_ENVID_MAX) {
		char xt[SMTP_ENVID_MAX * 3 + 1];

		if (smtp_xtext_encode(
			env->envid, strlen(env->envid), xt, sizeof(xt)) >= 0)
			w_fmt(w, "Original-Envelope-Id: %s\r\n", xt);
	}
	fmt_date(c->arrival, date);
	w_fmt(w, "Arrival-Date: %s\r\n", date);

	for (size_t i = 0; i < in->nrcpts; i++) {
		const struct dsn_rcpt *r = &in->rcpts[i];
		const struct qrcpt *q = &env->rcpts[r->index];

		w_str(w, "\r\n");
		if (q->orcpt != NULL && q->orcpt[0] != '\0')
			put_orcpt(w, q->orcpt);
		w_fmt(w, "Final-Recipient: %s; %s\r\n",
		    has_8bit(q->addr, strlen(q->addr)) ? "utf-8" : "rfc822",
		    q->addr);
		w_fmt(w, "Action: %s\r\nStatus: %s\r\n", action_name(r->action),
		    rcpt_status(r));
		if (r->remote_mta != NULL) {
			char mta[SMTP_DOMAIN_MAX + 1];

			if (host_clean(r->remote_mta, mta))
				w_fmt(w, "Remote-MTA: dns; %s\r\n", mta);
		}
		if (r->diagnostic != NULL && diag_clean(r->diagnostic, diag))
			put_folded(w, "Diagnostic-Code: smtp; ", diag);
		if (r->last_attempt > 0) {
			fmt_date(r->last_attempt, date);
			w_fmt(w, "Last-Attempt-Date: %s\r\n", date);
		}
		if (r->action == DSN_ACTION_DELAYED &&
		    r->will_retry_until > 0) {
			fmt_date(r->will_retry_until, date);
			w_fmt(w, "Will-Retry-Until: %s\r\n", date);
		}
	}
}

/* ---- boundary ---- */

struct region {
	size_t off, len; /* in the output buffer */
};

static uint64_t
fnv1a(uint64_t h, const void *p, size_t n)
{
	const unsigned char *s = p;

	for (size_t i = 0; i < n; i++) {
		h ^= s[i];
		h *= UINT64_C(0x100000001b3);
	}
	return h;
}

static int
hexval(unsigned char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

static bool
regions_contain(
    const uint8_t *base, const struct region *r, size_t nr, const char *s)
{
	for (size_t i = 0; i < nr; i++)
		if (memmem(base + r[i].off, r[i].len, s, B_LEN) != NULL)
			return true;
	return false;
}

/*
 * Choose the boundary (B_LEN characters into b, NUL-terminated). The
 * candidate from seed is used unless the content contains it. Then the
 * hex digits are settled a few at a time: count, for every occurrence of
 * the prefix settled so far, which digits follow, and take the candidate's
 * own digits if nothing uses them or else the least used ones. A value no
 * occurrence uses ends the search; each round divides the occurrences
 * left by up to 4096, so fewer than 2^64 occurrences always leave one
 * free. Memory: 4096 counters; time: one pass over the content a round.
 */
static int
choose_boundary(const uint8_t *base, const struct region *r, size_t nr,
    uint64_t seed, char *b)
{
	static const char hex[] = "0123456789ABCDEF";
	uint32_t *count;
	size_t fixed = 0;
	bool done = false;

	memcpy(b, B_PREFIX, B_PLEN);
	for (size_t i = 0; i < B_HEX; i++)
		b[B_PLEN + i] = hex[(seed >> (60 - 4 * i)) & 15];
	b[B_LEN] = '\0';
	if (!regions_contain(base, r, nr, b))
		return 0;
	if ((count = malloc(4096 * sizeof(*count))) == NULL)
		return -1;
	while (!done && fixed < B_HEX) {
		size_t step = B_HEX - fixed < 3 ? B_HEX - fixed : 3;
		size_t nb = (size_t)1 << (4 * step), plen = B_PLEN + fixed;
		size_t pick = 0, best;

		memset(count, 0, nb * sizeof(*count));
		for (size_t k = 0; k < nr; k++) {
			const uint8_t *p = base + r[k].off, *end = p + r[k].len;
			const uint8_t *hit;

			while ((hit = memmem(p, (size_t)(end - p), b, plen))) {
				size_t v = 0, j;

				for (j = 0; j < step && hit + plen + j < end;
				     j++) {
					int h = hexval(hit[plen + j]);

					if (h < 0)
						break;
					v = v << 4 | (size_t)h;
				}
				if (j == step && count[v] < UINT32_MAX)
					count[v]++;
				p = hit + 1;
			}
		}
		for (size_t j = 0; j < step; j++)
			pick = pick << 4 |
			       (size_t)hexval((unsigned char)b[plen + j]);
		best = pick;
		for (size_t v = 0; v < nb && count[best] != 0; v++)
			if (count[v] < count[best])
				best = v;
		done = count[best] == 0;
		for (size_t j = 0; j < step; j++)
			b[plen + j] = hex[(best >> (4 * (step - 1 - j))) & 15];
		fixed += step;
	}
	free(count);
	return done && !regions_contain(base, r, nr, b) ? 0 : -1;
}

/* ---- validation and assembly ---- */

static int
check_input(const struct dsn_input *in, struct ctx *c)
{
	const struct qenvelope *env = in->env;
	uint8_t *seen;
	int rc = 0;

	memset(c, 0, sizeof(*c));
	if (env == NULL || in->rcpts == NULL || in->nrcpts == 0 ||
	    env->nrcpt == 0 || env->rcpts == NULL || in->nrcpts > env->nrcpt)
		return -1;
	if (!host_clean(in->reporting_host, c->host) || !token_ok(in->token) ||
	    !addr_ok(env->sender))
		return -1;
	if (in->original == NULL && in->original_len != 0)
		return -1;
	c->arrival = in->arrival != 0 ? in->arrival : env->received;
	if (!time_ok(c->arrival) || !time_ok(in->now) ||
	    (in->ret != SMTP_RET_UNSET && in->ret != SMTP_RET_FULL &&
		in->ret != SMTP_RET_HDRS))
		return -1;
	if ((seen = calloc(env->nrcpt / 8 + 1, 1)) == NULL)
		return -1;
	c->in = in;
	c->env = env;
	c->global = env->smtputf8 || has_8bit(env->sender, strlen(env->sender));
	for (size_t i = 0; i < in->nrcpts && rc == 0; i++) {
		const struct dsn_rcpt *r = &in->rcpts[i];
		int cls = action_class(r->action);

		if (r->index >= env->nrcpt ||
		    (seen[r->index / 8] & (1u << (r->index % 8)))) {
			rc = -1;
			break;
		}
		seen[r->index / 8] |= (uint8_t)(1u << (r->index % 8));
		if (cls < 0 || !addr_ok(env->rcpts[r->index].addr) ||
		    (r->status != NULL && status_class(r->status) != cls) ||
		    !time_ok(r->last_attempt) ||
		    !time_ok(r->will_retry_until)) {
			rc = -1;
			break;
		}
		c->any[r->action] = true;
		if (has_8bit(env->rcpts[r->index].addr,
			strlen(env->rcpts[r->index].addr)))
			c->global = true;
	}
	free(seen);
	c->full = ret_full(in);
	return rc;
}

static const char *
subject(const struct ctx *c)
{
	if (c->any[DSN_ACTION_FAILED])
		return "Undelivered Mail Returned to Sender";
	if (c->any[DSN_ACTION_DELAYED])
		return "Delayed Mail (still being retried)";
	return "Successful Mail Delivery Report";
}

/* A boundary placeholder whose offset is remembered for patching. */
static void
put_slot(struct w *w, size_t *slots, size_t *nslots)
{
	if (w->err != 0)
		return;
	slots[(*nslots)++] = w->b->len;
	w_put(w, B_PREFIX "0000000000000000", B_LEN);
}

static void
put_delimiter(struct w *w, size_t *slots, size_t *nslots)
{
	w_str(w, "\r\n--");
	put_slot(w, slots, nslots);
	w_str(w, "\r\n");
}

/* dsn_wanted - whether NOTIFY asks for a notice of this action */
bool
dsn_wanted(const struct qrcpt *r, enum dsn_action a)
{
	uint8_t n;

	if (r == NULL || action_class(a) < 0)
		return false;
	n = r->notify;
	if (n & SMTP_NOTIFY_NEVER)
		return false;
	if (n == 0)
		return a == DSN_ACTION_FAILED || a == DSN_ACTION_DELAYED;
	switch (a) {
	case DSN_ACTION_FAILED:
		return (n & SMTP_NOTIFY_FAILURE) != 0;
	case DSN_ACTION_DELAYED:
		return (n & SMTP_NOTIFY_DELAY) != 0;
	case DSN_ACTION_DELIVERED:
	case DSN_ACTION_RELAYED:
	case DSN_ACTION_EXPANDED:
		return (n & SMTP_NOTIFY_SUCCESS) != 0;
	}
	return false;
}

/* dsn_requirements - BODY=8BITMIME / SMTPUTF8 needs of the report */
unsigned
dsn_requirements(const struct dsn_input *in)
{
	struct ctx c;
	size_t n;

	if (in == NULL || check_input(in, &c) < 0)
		return 0;
	if (c.global)
		return DSN_REQ_8BITMIME | DSN_REQ_SMTPUTF8;
	n = included_len(in->original, in->original_len, c.full);
	return has_8bit(in->original, n) ? DSN_REQ_8BITMIME : 0;
}

/* dsn_build - append one complete delivery status notification */
int
dsn_build(const struct dsn_input *in, struct buf *out)
{
	struct ctx c;
	struct w w = {out, 0};
	struct region reg[3];
	size_t start = out->len, slots[B_SLOTS], nslots = 0, olen;
	const unsigned char *orig = in != NULL ? in->original : NULL;
	char date[DATE_LEN], boundary[B_LEN + 1];
	uint64_t seed;
	bool orig8;

	if (in == NULL || check_input(in, &c) < 0)
		return -1;
	olen = included_len(orig, in->original_len, c.full);
	orig8 = has_8bit(orig, olen);

	fmt_date(in->now, date);
	/* a long address or id moves to a continuation line of its own */
	w_fmt(&w, "From: Mail Delivery System%s<MAILER-DAEMON@%s>\r\n",
	    43 + strlen(c.host) > FOLD_AT ? "\r\n " : " ", c.host);
	w_fmt(&w, "To:%s<%s>\r\n",
	    6 + strlen(c.env->sender) > FOLD_AT ? "\r\n " : " ", c.env->sender);
	w_fmt(&w, "Subject: %s\r\n", subject(&c));
	w_fmt(&w, "Date: %s\r\n", date);
	w_fmt(&w, "Message-ID:%s<%s@%s>\r\n",
	    15 + strlen(in->token) + strlen(c.host) > FOLD_AT ? "\r\n " : " ",
	    in->token, c.host);
	w_str(&w, "Auto-Submitted: auto-replied\r\nMIME-Version: 1.0\r\n"
		  "Content-Type: multipart/report; "
		  "report-type=delivery-status;\r\n\tboundary=\"");
	put_slot(&w, slots, &nslots);
	w_str(&w, "\"\r\n\r\nThis is a MIME-encapsulated delivery status "
		  "notification.\r\n");

	put_delimiter(&w, slots, &nslots);
	w_fmt(&w,
	    "Content-Type: text/plain; charset=%s\r\n"
	    "Content-Transfer-Encoding: %s\r\n"
	    "Content-Description: Notification\r\n\r\n",
	    c.global ? "utf-8" : "us-ascii", c.global ? "8bit" : "7bit");
	reg[0].off = out->len;
	put_text(&w, &c);
	reg[0].len = out->len - reg[0].off;

	put_delimiter(&w, slots, &nslots);
	w_fmt(&w,
	    "Content-Type: message/%sdelivery-status\r\n"
	    "Content-Transfer-Encoding: %s\r\n"
	    "Content-Description: Delivery report\r\n\r\n",
	    c.global ? "global-" : "", c.global ? "8bit" : "7bit");
	reg[1].off = out->len;
	put_status(&w, &c);
	reg[1].len = out->len - reg[1].off;

	put_delimiter(&w, slots, &nslots);
	w_fmt(&w,
	    "Content-Type: %s\r\n"
	    "Content-Transfer-Encoding: %s\r\n"
	    "Content-Description: %s\r\n\r\n",
	    c.full
		? (c.global ? "message/global" : "message/rfc822")
		: (c.global ? "message/global-headers" : "text/rfc822-headers"),
	    (orig8 || c.global) ? "8bit" : "7bit",
	    c.full ? "Returned message" : "Returned message headers");
	reg[2].off = out->len;
	put_original(&w, orig, olen);
	reg[2].len = out->len - reg[2].off;

	w_str(&w, "\r\n--");
	put_slot(&w, slots, &nslots);
	w_str(&w, "--\r\n");
	if (w.err != 0)
		goto fail;

	seed = fnv1a(
	    UINT64_C(0xcbf29ce484222325), in->token, strlen(in->token) + 1);
	seed = fnv1a(seed, c.host, strlen(c.host) + 1);
	seed = fnv1a(seed, &in->now, sizeof(in->now));
	if (choose_boundary(out->data, reg, 3, seed, boundary) < 0)
		goto fail;
	for (size_t i = 0; i < nslots; i++)
		memcpy(out->data + slots[i], boundary, B_LEN);
	return 0;
fail:
	out->len = start;
	return -1;
}
