/*
 * smtp_client.c - outbound SMTP/LMTP protocol engine of one connection
 * (see smtp_client.h for the contract with the caller). Lives here: the
 * protocol states, capability parsing, MAIL/RCPT parameter rendering,
 * pipelined reply matching, body dot-stuffing and per-recipient results.
 * Not here: reply framing and limits (smtp_reply_parse.c), sockets, TLS,
 * timers, DNS, queue state (the caller).
 *
 *   GREETING --220--> EHLO --2xx--+-- want_tls, STARTTLS offered --+
 *     |                |          |                                |
 *     | 4xx/5xx        | 5xx      |                            STARTTLS
 *     v                v (SMTP)   |                    220 |     | 4xx/5xx
 *    QUIT <--4xx/5xx-- HELO --2xx-+                        v     |
 *     |                           |        tls_done      TLS     |
 *     | reply, eof                |    (EHLO again) <------+     |
 *     v                           v                              |
 *   CLOSED                      IDLE <---------------------------+
 *     ^                         |  ^  \
 *     |                  start  |  |   +-- quit() --> QUIT --> CLOSED
 *     |              message    v  |
 *     |       [RSET] MAIL RCPT.. TRANSACTION --- every RCPT refused,
 *     |       [DATA] (one write      |   \       no PIPELINING --> RSET
 *     |        with PIPELINING)  354 |    \ MAIL/DATA refused     |
 *     |                              v     +------> IDLE <--------+
 *     |                            BODY (blocks appended by pump)
 *     |                              | final dot
 *     |                              v
 *     |                             DOT --- reply (SMTP) / one reply per
 *     |                                     accepted RCPT (LMTP) --> IDLE
 *     |
 *     +--- from any state: 421, timeout, eof, protocol error
 */
#include "smtp_client.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "smtp_parse.h"

/* The reply a pipelined transaction waits for next. */
enum pend { P_NONE = 0, P_RSET, P_MAIL, P_RCPT, P_DATA };

static enum pend
head(const struct smtp_client *c)
{
	if (c->rset_wait)
		return P_RSET;
	if (c->mail_wait)
		return P_MAIL;
	if (c->nreplied < c->nsent)
		return P_RCPT;
	if (c->data_wait)
		return P_DATA;
	return P_NONE;
}

/* ---- output ---- */

static void put(struct smtp_client *c, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* Append formatted text to out (out of memory noted in c->oom). */
static void
put(struct smtp_client *c, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	if (buf_vprintf(&c->out, fmt, ap) < 0)
		c->oom = true;
	va_end(ap);
}

/* Append one command line plus CRLF to out. */
#define send_line(c, cmd) put((c), "%s\r\n", (cmd))

/* ---- statuses ---- */

/* Copy text (n octets) into st->text: '\n' becomes ' ', cut at
 * SC_TEXT_MAX octets but never inside a UTF-8 sequence. */
static void
set_text(struct smtp_client_status *st, const char *text, size_t n)
{
	if (n > SC_TEXT_MAX) {
		n = SC_TEXT_MAX;
		while (n > 0 && ((unsigned char)text[n] & 0xc0) == 0x80)
			n--;
	}
	for (size_t i = 0; i < n; i++)
		st->text[i] = text[i] == '\n' ? ' ' : text[i];
	st->text[n] = '\0';
}

static enum smtp_client_outcome
outcome_of(int code)
{
	if (code >= 200 && code < 300)
		return SC_OK;
	if (code >= 500)
		return SC_PERM;
	return SC_TEMP;
}

static void
status_reply(struct smtp_client_status *st, const struct smtp_rp_reply *r)
{
	st->outcome = outcome_of(r->code);
	st->code = r->code;
	memcpy(st->enh, r->enh, sizeof(st->enh));
	st->local = false;
	set_text(st, r->text, r->text_len);
}

static void status_local(struct smtp_client_status *st,
    enum smtp_client_outcome o, int code, const char *enh, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));

static void
status_local(struct smtp_client_status *st, enum smtp_client_outcome o,
    int code, const char *enh, const char *fmt, ...)
{
	char text[SC_TEXT_MAX + 64];
	va_list ap;
	int n;

	st->outcome = o;
	st->code = code;
	snprintf(st->enh, sizeof(st->enh), "%s", enh);
	st->local = true;
	va_start(ap, fmt);
	n = vsnprintf(text, sizeof(text), fmt, ap);
	va_end(ap);
	if (n < 0)
		n = 0;
	if ((size_t)n >= sizeof(text))
		n = (int)sizeof(text) - 1;
	set_text(st, text, (size_t)n);
}

/* "code enh text" of a reply, for error texts (cut to fit). */
static const char *
reply_str(const struct smtp_rp_reply *r, char *out, size_t outsz)
{
	snprintf(out, outsz, "%d%s%s%s%.*s", r->code, r->enh[0] ? " " : "",
	    r->enh, r->text_len ? " " : "",
	    (int)(r->text_len > 200 ? 200 : r->text_len), r->text);
	for (char *p = out; *p != '\0'; p++)
		if (*p == '\n')
			*p = ' ';
	return out;
}

/* ---- message bookkeeping ---- */

/* Every recipient still without a result gets st. */
static void
set_pending(struct smtp_client *c, const struct smtp_client_status *st)
{
	for (uint32_t i = 0; i < c->nres; i++)
		if (c->res[i].st.outcome == SC_PENDING)
			c->res[i].st = *st;
}

static void
set_accepted(struct smtp_client *c, const struct smtp_client_status *st)
{
	for (uint32_t i = 0; i < c->nacc; i++)
		c->res[c->acc[i]].st = *st;
}

/* The message is over (results final); the caller sets the state. */
static void
finish_message(struct smtp_client *c)
{
	struct smtp_client_status st;

	status_local(&st, SC_TEMP, 451, "4.3.0", "no result for recipient");
	set_pending(c, &st); /* never expected: defensive */
	c->in_msg = false;
	c->env = NULL;
	c->body = NULL;
	c->body_len = c->body_off = 0;
	c->events |= SC_EV_MESSAGE_DONE;
}

static void
to_idle(struct smtp_client *c)
{
	c->state = SC_S_IDLE;
	c->events |= SC_EV_READY;
}

/* The connection is over: unfinished recipients fail temporarily. */
static void
close_conn(struct smtp_client *c, const struct smtp_client_status *why)
{
	if (c->in_msg) {
		struct smtp_client_status t = *why;

		t.outcome = SC_TEMP; /* the message was not refused */
		set_pending(c, &t);
		finish_message(c);
	}
	c->closed = *why;
	c->state = SC_S_CLOSED;
	c->events |= SC_EV_CLOSED;
}

static void proto_error(struct smtp_client *c, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void
proto_error(struct smtp_client *c, const char *fmt, ...)
{
	struct smtp_client_status st;
	char text[SC_TEXT_MAX];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(text, sizeof(text), fmt, ap);
	va_end(ap);
	status_local(&st, SC_TEMP, 451, "4.5.0", "protocol error: %s", text);
	close_conn(c, &st);
}

static void
unexpected(struct smtp_client *c, const struct smtp_rp_reply *r)
{
	char rs[256];

	proto_error(c, "unexpected reply to %s: %s", smtp_client_state_name(c),
	    reply_str(r, rs, sizeof(rs)));
}

/* The session failed (greeting, EHLO, HELO refused): say QUIT politely
 * and report `closed` once the peer answered or closed. */
static void
fail_quit(struct smtp_client *c, const struct smtp_rp_reply *r)
{
	status_reply(&c->closed, r);
	c->quit_failed = true;
	send_line(c, "QUIT");
	c->state = SC_S_QUIT;
}

/* ---- capabilities ---- */

static void
parse_caps(struct smtp_client *c, const char *text, size_t len)
{
	static const struct {
		const char *kw;
		unsigned bit;
	} kws[] = {
	    {"SIZE", SC_CAP_SIZE},
	    {"PIPELINING", SC_CAP_PIPELINING},
	    {"8BITMIME", SC_CAP_8BITMIME},
	    {"SMTPUTF8", SC_CAP_SMTPUTF8},
	    {"DSN", SC_CAP_DSN},
	    {"STARTTLS", SC_CAP_STARTTLS},
	    {"CHUNKING", SC_CAP_CHUNKING},
	    {"ENHANCEDSTATUSCODES", SC_CAP_ENHANCEDSTATUSCODES},
	};
	const char *p = memchr(text, '\n', len), *end = text + len;

	c->caps = 0;
	c->size_limit = 0;
	/* the first line is the peer's name and greeting */
	while (p != NULL && p < end) {
		const char *line = p + 1, *nl, *sp;
		size_t n, kl;

		nl = memchr(line, '\n', (size_t)(end - line));
		n = nl ? (size_t)(nl - line) : (size_t)(end - line);
		sp = memchr(line, ' ', n);
		kl = sp ? (size_t)(sp - line) : n;
		for (size_t i = 0; i < sizeof(kws) / sizeof(kws[0]); i++) {
			if (strlen(kws[i].kw) != kl ||
			    strncasecmp(line, kws[i].kw, kl) != 0)
				continue;
			c->caps |= kws[i].bit;
			if (kws[i].bit == SC_CAP_SIZE && sp != NULL) {
				uint64_t v = 0;
				const char *q = sp + 1, *qe = line + n;

				while (q < qe && *q >= '0' && *q <= '9') {
					unsigned d = (unsigned)(*q - '0');

					if (v > (UINT64_MAX - d) / 10) {
						v = 0; /* absurd: no limit */
						break;
					}
					v = v * 10 + d;
					q++;
				}
				c->size_limit = v;
			}
		}
		p = nl;
	}
}

static void
send_ehlo(struct smtp_client *c)
{
	put(c, "%s %s\r\n", c->mode == SMTP_CLIENT_LMTP ? "LHLO" : "EHLO",
	    c->helo);
	c->state = SC_S_EHLO;
}

/* EHLO/HELO done: STARTTLS if wanted and offered, else ready. */
static void
greeted(struct smtp_client *c)
{
	if (c->want_tls && !c->tls && (c->caps & SC_CAP_STARTTLS)) {
		send_line(c, "STARTTLS");
		c->state = SC_S_STARTTLS;
		return;
	}
	to_idle(c);
}

/* ---- transaction ---- */

static bool
has_8bit(const char *s)
{
	for (; *s != '\0'; s++)
		if ((unsigned char)*s >= 0x80)
			return true;
	return false;
}

/* An address we can put between <> on a command line. */
static bool
addr_ok(const char *s, bool allow_empty)
{
	size_t n = strlen(s);

	if (n > SMTP_PATH_MAX || (n == 0 && !allow_empty))
		return false;
	for (size_t i = 0; i < n; i++) {
		unsigned char ch = (unsigned char)s[i];

		if (ch < 0x20 || ch == 0x7f)
			return false;
	}
	return true;
}

static void
send_mail(struct smtp_client *c)
{
	const struct qenvelope *e = c->env;
	char x[SMTP_ENVID_MAX * 3 + 1];

	put(c, "MAIL FROM:<%s>", e->sender ? e->sender : "");
	if (c->caps & SC_CAP_SIZE)
		put(c, " SIZE=%zu", c->body_len);
	if (e->body != SMTP_BODY_7BIT)
		put(c, " BODY=8BITMIME");
	if (c->utf8)
		put(c, " SMTPUTF8");
	if (c->caps & SC_CAP_DSN) {
		if (e->ret == SMTP_RET_FULL)
			put(c, " RET=FULL");
		else if (e->ret == SMTP_RET_HDRS)
			put(c, " RET=HDRS");
		if (e->envid != NULL && e->envid[0] != '\0' &&
		    strlen(e->envid) <= SMTP_ENVID_MAX &&
		    smtp_xtext_encode(
			e->envid, strlen(e->envid), x, sizeof(x)) > 0)
			put(c, " ENVID=%s", x);
	}
	put(c, "\r\n");
	c->mail_sent = c->mail_wait = true;
}

/* ORCPT "type;address" re-encoded as "type;xtext" into x, or false when
 * it cannot be sent (no address, a type other than letters, digits and
 * "-", longer than the 500 octets RFC 3461 4.2 allows). */
static bool
orcpt_encode(const char *orcpt, char *x, size_t xsz)
{
	const char *semi = strchr(orcpt, ';');
	size_t tl;
	int n;

	if (semi == NULL || semi == orcpt || semi[1] == '\0')
		return false;
	tl = (size_t)(semi - orcpt);
	if (tl + 1 >= xsz)
		return false;
	for (size_t i = 0; i < tl; i++) {
		unsigned char ch = (unsigned char)orcpt[i];

		if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
			(ch >= '0' && ch <= '9') || ch == '-'))
			return false;
	}
	memcpy(x, orcpt, tl + 1);
	n = smtp_xtext_encode(
	    semi + 1, strlen(semi + 1), x + tl + 1, xsz - tl - 1);
	return n > 0;
}

/* NOTIFY= value of the bits n ("" when none is set). */
static void
notify_str(uint8_t n, char out[32])
{
	static const struct {
		uint8_t bit;
		const char *name;
	} v[] = {
	    {SMTP_NOTIFY_SUCCESS, "SUCCESS"},
	    {SMTP_NOTIFY_FAILURE, "FAILURE"},
	    {SMTP_NOTIFY_DELAY, "DELAY"},
	};
	size_t o = 0;

	out[0] = '\0';
	if (n & SMTP_NOTIFY_NEVER) {
		snprintf(out, 32, "NEVER");
		return;
	}
	for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++)
		if (n & v[i].bit)
			o += (size_t)snprintf(out + o, 32 - o, "%s%s",
			    o > 0 ? "," : "", v[i].name);
}

static void
send_rcpt(struct smtp_client *c)
{
	const struct qrcpt *r = &c->env->rcpts[c->res[c->sendq[c->nsent]].rcpt];
	char x[SMTP_ORCPT_MAX + 1], notify[32];

	put(c, "RCPT TO:<%s>", r->addr);
	if (c->caps & SC_CAP_DSN) {
		notify_str(r->notify, notify);
		if (notify[0] != '\0')
			put(c, " NOTIFY=%s", notify);
		if (r->orcpt != NULL && orcpt_encode(r->orcpt, x, sizeof(x)))
			put(c, " ORCPT=%s", x);
	}
	put(c, "\r\n");
	c->nsent++;
}

/* Send what may be sent now: everything at once with PIPELINING (RFC
 * 2920: RSET, MAIL and RCPT anywhere in a group, DATA last), else the
 * next command once the previous one was answered. */
static void
advance(struct smtp_client *c)
{
	if (c->pipelining) {
		if (c->mail_sent)
			return;
		send_mail(c);
		while (c->nsent < c->nsendq)
			send_rcpt(c);
		send_line(c, "DATA");
		c->data_sent = c->data_wait = true;
		return;
	}
	if (head(c) != P_NONE)
		return;
	if (!c->mail_sent) {
		send_mail(c);
	} else if (!c->mail_ok) {
		c->dirty = false; /* no transaction was opened */
		finish_message(c);
		to_idle(c);
	} else if (c->nsent < c->nsendq) {
		send_rcpt(c);
	} else if (c->nacc > 0) {
		send_line(c, "DATA");
		c->data_sent = c->data_wait = true;
	} else {
		send_line(c, "RSET");
		c->state = SC_S_RSET;
	}
}

static bool
refusal(int code)
{
	return code >= 400 && code < 600;
}

static void
on_transaction(struct smtp_client *c, const struct smtp_rp_reply *r)
{
	struct smtp_client_status st;
	uint32_t idx;

	switch (head(c)) {
	case P_NONE:
		unexpected(c, r);
		return;
	case P_RSET:
		if (r->code / 100 != 2) {
			unexpected(c, r);
			return;
		}
		c->rset_wait = false;
		c->dirty = false;
		break;
	case P_MAIL:
		if (!(r->code / 100 == 2 || refusal(r->code))) {
			unexpected(c, r);
			return;
		}
		c->mail_wait = false;
		if (r->code / 100 == 2) {
			c->mail_ok = true;
		} else {
			status_reply(&st, r);
			set_pending(c, &st);
		}
		break;
	case P_RCPT:
		if (!(r->code / 100 == 2 || refusal(r->code))) {
			unexpected(c, r);
			return;
		}
		idx = c->sendq[c->nreplied++];
		if (!c->mail_ok) /* MAIL refused: keep its reply */
			break;
		if (r->code / 100 == 2)
			c->acc[c->nacc++] = idx;
		else
			status_reply(&c->res[idx].st, r);
		break;
	case P_DATA:
		if (!(r->code == 354 || refusal(r->code))) {
			unexpected(c, r);
			return;
		}
		c->data_wait = false;
		if (r->code == 354) {
			if (c->mail_ok && c->nacc > 0) {
				c->state = SC_S_BODY;
				c->at_bol = true;
				c->pending_cr = false;
				smtp_client_pump(c);
			} else if (c->mode == SMTP_CLIENT_SMTP) {
				/* RFC 2920 3.1: nothing to send, end it */
				send_line(c, ".");
				c->dot_discard = true;
				c->state = SC_S_DOT;
			} else {
				proto_error(c,
				    "354 to DATA without an accepted "
				    "recipient");
			}
			return;
		}
		if (c->mail_ok) {
			status_reply(&st, r);
			set_accepted(c, &st);
		}
		c->dirty = c->mail_ok;
		finish_message(c);
		to_idle(c);
		return;
	}
	advance(c);
}

static void
on_dot(struct smtp_client *c, const struct smtp_rp_reply *r)
{
	struct smtp_client_status st;

	if (!(r->code / 100 == 2 || refusal(r->code))) {
		unexpected(c, r);
		return;
	}
	if (c->dot_discard) {
		/* results are the RCPT/MAIL replies already kept */
	} else if (c->mode == SMTP_CLIENT_SMTP) {
		status_reply(&st, r);
		set_accepted(c, &st);
	} else {
		status_reply(&c->res[c->acc[c->ndot++]].st, r);
		if (c->ndot < c->nacc)
			return;
	}
	c->dirty = false;
	finish_message(c);
	to_idle(c);
}

/* ---- replies ---- */

static void
on_reply(struct smtp_client *c, const struct smtp_rp_reply *r)
{
	struct smtp_client_status st;

	if (c->state == SC_S_QUIT) {
		if (!c->quit_failed) { /* our QUIT: a clean end */
			status_reply(&c->closed, r);
			c->closed.outcome = SC_OK;
		}
		c->state = SC_S_CLOSED;
		c->events |= SC_EV_CLOSED;
		return;
	}
	if (r->code == 421) { /* the peer is closing: RFC 5321 3.8 */
		status_reply(&st, r);
		close_conn(c, &st);
		return;
	}
	switch (c->state) {
	case SC_S_GREETING:
		if (r->code == 220)
			send_ehlo(c);
		else if (refusal(r->code))
			fail_quit(c, r);
		else
			unexpected(c, r);
		break;
	case SC_S_EHLO:
		if (r->code / 100 == 2) {
			c->esmtp = true;
			parse_caps(c, r->text, r->text_len);
			greeted(c);
		} else if (r->code >= 500 && c->mode == SMTP_CLIENT_SMTP) {
			put(c, "HELO %s\r\n", c->helo);
			c->state = SC_S_HELO;
		} else if (refusal(r->code)) {
			fail_quit(c, r);
		} else {
			unexpected(c, r);
		}
		break;
	case SC_S_HELO:
		if (r->code / 100 == 2) {
			c->esmtp = false;
			c->caps = 0;
			c->size_limit = 0;
			greeted(c);
		} else if (refusal(r->code)) {
			fail_quit(c, r);
		} else {
			unexpected(c, r);
		}
		break;
	case SC_S_STARTTLS:
		if (r->code == 220) {
			c->state = SC_S_TLS;
			c->events |= SC_EV_TLS;
		} else if (refusal(r->code)) {
			to_idle(c); /* go on in plaintext */
		} else {
			unexpected(c, r);
		}
		break;
	case SC_S_TRANSACTION:
		on_transaction(c, r);
		break;
	case SC_S_DOT:
		on_dot(c, r);
		break;
	case SC_S_RSET:
		if (r->code / 100 != 2) {
			unexpected(c, r);
			break;
		}
		c->dirty = false;
		finish_message(c);
		to_idle(c);
		break;
	case SC_S_IDLE:
	case SC_S_BODY:
	case SC_S_TLS:
	case SC_S_QUIT:
	case SC_S_CLOSED:
		unexpected(c, r);
		break;
	}
}

static void
check_oom(struct smtp_client *c)
{
	struct smtp_client_status st;

	if (!c->oom || c->state == SC_S_CLOSED)
		return;
	status_local(&st, SC_TEMP, 451, "4.3.0", "out of memory");
	close_conn(c, &st);
}

/* ---- public API ---- */

/* smtp_client_init - a new engine waiting for the greeting */
int
smtp_client_init(struct smtp_client *c, const struct smtp_client_cfg *cfg)
{
	size_t n;

	memset(c, 0, sizeof(*c));
	if (cfg == NULL || cfg->helo_name == NULL)
		return -1;
	n = strlen(cfg->helo_name);
	if (n == 0 || n >= sizeof(c->helo))
		return -1;
	for (size_t i = 0; i < n; i++) {
		unsigned char ch = (unsigned char)cfg->helo_name[i];

		if (ch <= 0x20 || ch >= 0x7f)
			return -1;
	}
	memcpy(c->helo, cfg->helo_name, n + 1);
	c->mode =
	    cfg->mode == SMTP_CLIENT_LMTP ? SMTP_CLIENT_LMTP : SMTP_CLIENT_SMTP;
	c->want_tls = cfg->want_tls;
	c->timeout_cap = cfg->timeout_cap;
	smtp_rp_init(&c->rp, cfg->reply_line_max, cfg->reply_lines_max);
	c->state = SC_S_GREETING;
	return 0;
}

static void
free_message(struct smtp_client *c)
{
	free(c->res);
	free(c->sendq);
	free(c->acc);
	c->res = NULL;
	c->sendq = c->acc = NULL;
	c->nres = c->nsendq = c->nacc = 0;
}

/* smtp_client_free - release the engine's memory */
void
smtp_client_free(struct smtp_client *c)
{
	free_message(c);
	smtp_rp_free(&c->rp);
	buf_free(&c->out);
	c->env = NULL;
	c->body = NULL;
	c->in_msg = false;
	c->state = SC_S_CLOSED;
}

/* smtp_client_input - parse the peer's replies and act on them */
void
smtp_client_input(struct smtp_client *c, const uint8_t *in, size_t len)
{
	size_t off = 0, used;
	struct smtp_rp_reply r;

	while (off < len && c->state != SC_S_CLOSED && c->state != SC_S_TLS) {
		enum smtp_rp_status s =
		    smtp_rp_feed(&c->rp, in + off, len - off, &used, &r);

		off += used;
		if (s == SMTP_RP_MORE)
			break;
		if (s == SMTP_RP_ERROR) {
			proto_error(c, "%s while waiting for %s",
			    smtp_rp_strerror(c->rp.err),
			    smtp_client_state_name(c));
			break;
		}
		on_reply(c, &r);
		check_oom(c);
	}
	/* anything after the 220 to STARTTLS (or after the end) is dropped */
	check_oom(c);
}

/* smtp_client_events - fetch and clear the pending events */
unsigned
smtp_client_events(struct smtp_client *c)
{
	unsigned e = c->events;

	c->events = 0;
	return e;
}

/* Convert and append n body octets: bare CR or LF become CRLF, a '.'
 * starting a line is doubled. */
static void
convert_body(struct smtp_client *c, const uint8_t *s, size_t n)
{
	uint8_t *o;
	size_t k = 0;

	if (buf_reserve(&c->out, 2 * n + 8) < 0) {
		c->oom = true;
		return;
	}
	o = c->out.data + c->out.len;
	for (size_t i = 0; i < n; i++) {
		uint8_t b = s[i];

		if (c->pending_cr) {
			c->pending_cr = false;
			o[k++] = '\r';
			o[k++] = '\n';
			c->at_bol = true;
			if (b == '\n')
				continue;
		}
		if (b == '\r') {
			c->pending_cr = true;
			continue;
		}
		if (b == '\n') {
			o[k++] = '\r';
			o[k++] = '\n';
			c->at_bol = true;
			continue;
		}
		if (c->at_bol && b == '.')
			o[k++] = '.';
		o[k++] = b;
		c->at_bol = false;
	}
	c->out.len += k;
}

/* smtp_client_pump - append the next body block(s) while out is short */
void
smtp_client_pump(struct smtp_client *c)
{
	while (c->state == SC_S_BODY && c->out.len < SC_BODY_BLOCK && !c->oom) {
		size_t n = c->body_len - c->body_off;

		if (n > SC_BODY_BLOCK)
			n = SC_BODY_BLOCK;
		if (n > 0) {
			convert_body(c, c->body + c->body_off, n);
			c->body_off += n;
		}
		if (c->body_off < c->body_len)
			continue;
		if (c->pending_cr || !c->at_bol)
			put(c, "\r\n");
		c->pending_cr = false;
		c->at_bol = true;
		send_line(c, ".");
		c->ndot = 0;
		c->state = SC_S_DOT;
	}
	check_oom(c);
}

/* smtp_client_tls_done - handshake finished: forget, EHLO again */
int
smtp_client_tls_done(struct smtp_client *c)
{
	if (c->state != SC_S_TLS)
		return -1;
	smtp_rp_reset(&c->rp);
	c->tls = true;
	c->esmtp = false;
	c->caps = 0;
	c->size_limit = 0;
	send_ehlo(c);
	check_oom(c);
	return 0;
}

/* Fail every recipient not yet decided with a local permanent status. */
static void
fail_all(struct smtp_client *c, int code, const char *enh, const char *text)
{
	struct smtp_client_status st;

	status_local(&st, SC_PERM, code, enh, "%s", text);
	set_pending(c, &st);
}

/* smtp_client_start_message - pre-checks, then RSET/MAIL/RCPT/DATA */
int
smtp_client_start_message(
    struct smtp_client *c, const struct smtp_client_msg *m)
{
	const struct qenvelope *e;
	struct smtp_client_result *res;
	uint32_t *sendq, *acc;
	uint8_t *seen;
	bool utf8;

	if (c->state != SC_S_IDLE || m == NULL || m->env == NULL ||
	    m->rcpts == NULL || m->nrcpt == 0 ||
	    (m->body == NULL && m->body_len > 0))
		return -1;
	e = m->env;
	if (e->rcpts == NULL || m->nrcpt > e->nrcpt)
		return -1;
	seen = calloc(e->nrcpt, 1);
	res = calloc(m->nrcpt, sizeof(*res));
	sendq = calloc(m->nrcpt, sizeof(*sendq));
	acc = calloc(m->nrcpt, sizeof(*acc));
	if (seen == NULL || res == NULL || sendq == NULL || acc == NULL)
		goto fail;
	for (uint32_t i = 0; i < m->nrcpt; i++) {
		uint32_t k = m->rcpts[i];

		if (k >= e->nrcpt || seen[k] || e->rcpts[k].addr == NULL)
			goto fail;
		seen[k] = 1;
		res[i].rcpt = k;
	}
	free(seen);
	free_message(c);
	c->res = res;
	c->sendq = sendq;
	c->acc = acc;
	c->nres = m->nrcpt;
	c->nsendq = c->nsent = c->nreplied = c->nacc = c->ndot = 0;
	c->env = e;
	c->body = m->body;
	c->body_len = m->body_len;
	c->body_off = 0;
	c->in_msg = true;
	c->pipelining = (c->caps & SC_CAP_PIPELINING) != 0;
	c->rset_wait = c->mail_sent = c->mail_wait = c->mail_ok = false;
	c->data_sent = c->data_wait = c->dot_discard = false;
	c->at_bol = true;
	c->pending_cr = false;

	utf8 = e->smtputf8 || (e->sender != NULL && has_8bit(e->sender));
	for (uint32_t i = 0; i < c->nres; i++)
		if (has_8bit(e->rcpts[c->res[i].rcpt].addr))
			utf8 = true;
	c->utf8 = utf8;

	if (c->size_limit > 0 && c->body_len > c->size_limit) {
		fail_all(
		    c, 552, "5.3.4", "message too big for the remote server");
	} else if (utf8 && !(c->caps & SC_CAP_SMTPUTF8)) {
		fail_all(
		    c, 553, "5.6.7", "remote server does not support SMTPUTF8");
	} else if (e->body != SMTP_BODY_7BIT && !(c->caps & SC_CAP_8BITMIME)) {
		fail_all(
		    c, 554, "5.6.3", "remote server does not support 8BITMIME");
	} else if (!addr_ok(e->sender ? e->sender : "", true)) {
		fail_all(c, 501, "5.1.7", "bad sender address syntax");
	} else {
		for (uint32_t i = 0; i < c->nres; i++) {
			if (addr_ok(e->rcpts[c->res[i].rcpt].addr, false))
				c->sendq[c->nsendq++] = i;
			else
				status_local(&c->res[i].st, SC_PERM, 501,
				    "5.1.3", "bad recipient address syntax");
		}
	}
	if (c->nsendq == 0) { /* nothing to send: done before starting */
		finish_message(c);
		to_idle(c);
		return 0;
	}
	c->state = SC_S_TRANSACTION;
	if (c->dirty) {
		send_line(c, "RSET");
		c->rset_wait = true;
	}
	advance(c);
	check_oom(c);
	return 0;
fail:
	free(seen);
	free(res);
	free(sendq);
	free(acc);
	return -1;
}

/* smtp_client_results - per-recipient results of the last message */
const struct smtp_client_result *
smtp_client_results(const struct smtp_client *c, size_t *n)
{
	*n = c->nres;
	return c->res;
}

/* smtp_client_quit - end the session politely */
int
smtp_client_quit(struct smtp_client *c)
{
	if (c->state != SC_S_IDLE)
		return -1;
	send_line(c, "QUIT");
	c->state = SC_S_QUIT;
	check_oom(c);
	return 0;
}

/* The connection ended without a reply (eof or timeout). */
static void
lost(struct smtp_client *c, const char *why)
{
	struct smtp_client_status st;

	if (c->state == SC_S_CLOSED)
		return;
	if (c->state == SC_S_QUIT) {
		if (!c->quit_failed)
			status_local(&c->closed, SC_OK, 221, "2.0.0",
			    "%s while waiting for the reply to QUIT", why);
		c->state = SC_S_CLOSED;
		c->events |= SC_EV_CLOSED;
		return;
	}
	switch (c->state) {
	case SC_S_GREETING:
		status_local(&st, SC_TEMP, 451, "4.4.2",
		    "%s while waiting for the greeting", why);
		break;
	case SC_S_IDLE:
		status_local(&st, SC_TEMP, 451, "4.4.2", "%s while idle", why);
		break;
	case SC_S_TLS:
		status_local(&st, SC_TEMP, 451, "4.4.2",
		    "%s during the TLS handshake", why);
		break;
	case SC_S_BODY:
		status_local(&st, SC_TEMP, 451, "4.4.2",
		    "%s while sending the message body", why);
		break;
	default:
		status_local(&st, SC_TEMP, 451, "4.4.2",
		    "%s while waiting for the reply to %s", why,
		    smtp_client_state_name(c));
		break;
	}
	close_conn(c, &st);
}

/* smtp_client_eof - the peer closed or the connection broke */
void
smtp_client_eof(struct smtp_client *c)
{
	lost(c, "connection lost");
}

/* smtp_client_timeout - the state's timer expired */
void
smtp_client_timeout(struct smtp_client *c)
{
	lost(c, "timeout");
}

static unsigned state_timeout(const struct smtp_client *c);

/* smtp_client_timeout_secs - RFC 5321 4.5.3.2 timeout of the state,
 * capped by the configured timeout_cap */
unsigned
smtp_client_timeout_secs(const struct smtp_client *c)
{
	unsigned t = state_timeout(c);

	return t != 0 && c->timeout_cap != 0 && c->timeout_cap < t
		   ? c->timeout_cap
		   : t;
}

static unsigned
state_timeout(const struct smtp_client *c)
{
	switch (c->state) {
	case SC_S_GREETING:
		return SC_TIMEOUT_GREETING;
	case SC_S_TRANSACTION:
		return head(c) == P_DATA ? SC_TIMEOUT_DATA : SC_TIMEOUT_COMMAND;
	case SC_S_BODY:
		return SC_TIMEOUT_BLOCK;
	case SC_S_DOT:
		return SC_TIMEOUT_DOT;
	case SC_S_IDLE:
	case SC_S_CLOSED:
		return 0;
	case SC_S_EHLO:
	case SC_S_HELO:
	case SC_S_STARTTLS:
	case SC_S_TLS:
	case SC_S_RSET:
	case SC_S_QUIT:
		break;
	}
	return SC_TIMEOUT_COMMAND;
}

/* smtp_client_state_name - what the engine is waiting for */
const char *
smtp_client_state_name(const struct smtp_client *c)
{
	switch (c->state) {
	case SC_S_GREETING:
		return "greeting";
	case SC_S_EHLO:
		return c->mode == SMTP_CLIENT_LMTP ? "LHLO" : "EHLO";
	case SC_S_HELO:
		return "HELO";
	case SC_S_STARTTLS:
		return "STARTTLS";
	case SC_S_TLS:
		return "TLS handshake";
	case SC_S_IDLE:
		return "idle";
	case SC_S_TRANSACTION:
		switch (head(c)) {
		case P_RSET:
			return "RSET";
		case P_MAIL:
			return "MAIL";
		case P_RCPT:
			return "RCPT";
		case P_DATA:
			return "DATA";
		case P_NONE:
			break;
		}
		return "transaction";
	case SC_S_BODY:
		return "message body";
	case SC_S_DOT:
		return "end of data";
	case SC_S_RSET:
		return "RSET";
	case SC_S_QUIT:
		return "QUIT";
	case SC_S_CLOSED:
		break;
	}
	return "closed";
}

/* smtp_client_status_format - "code enh text" */
char *
smtp_client_status_format(
    const struct smtp_client_status *st, char *out, size_t outsz)
{
	if (outsz == 0)
		return out;
	snprintf(out, outsz, "%d%s%s%s%s", st->code, st->enh[0] ? " " : "",
	    st->enh, st->text[0] ? " " : "", st->text);
	return out;
}
