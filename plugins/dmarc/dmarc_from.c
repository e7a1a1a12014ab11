/*
 * dmarc_from.c - the RFC5322.From domain (RFC 7489 section 6.6.1): a
 * tokenizer for RFC 5322 structured field bodies (atoms, quoted strings,
 * domain literals, specials; comments and white space dropped) and an
 * address-list walk that counts addresses and keeps the domain of the
 * first one. Pure code, see dmarc_from.h; the count of From fields, DNS
 * and the PSL are elsewhere.
 */
#include "dmarc_from.h"

#include <stdbool.h>
#include <string.h>

#define COMMENT_DEPTH_MAX 64

enum tok_kind {
	TK_END,
	TK_ATOM,    /* atext run, '.' included */
	TK_QSTRING, /* "..." */
	TK_DLIT,    /* [...] */
	TK_SPECIAL, /* one of < > @ , : ; */
	TK_ERROR,
};

struct tok {
	enum tok_kind kind;
	const char *p; /* ATOM: the text; DLIT/QSTRING: from the opener */
	size_t n;
	char c; /* SPECIAL */
};

struct lexer {
	const char *s;
	size_t len, i;
};

static bool
is_atext(unsigned char c)
{
	if (c >= 0x80)
		return true; /* RFC 6532 UTF-8: kept, rejected in domains */
	if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	    (c >= '0' && c <= '9'))
		return true;
	return c != '\0' && strchr("!#$%&'*+-/=?^_`{|}~.", c) != NULL;
}

/* Skip white space and (nested) comments; false on an unclosed one. */
static bool
skip_cfws(struct lexer *lx)
{
	while (lx->i < lx->len) {
		char c = lx->s[lx->i];

		if (c == ' ' || c == '\t' || c == '\r' || c == '\n') {
			lx->i++;
			continue;
		}
		if (c != '(')
			return true;
		unsigned depth = 0;

		while (lx->i < lx->len) {
			c = lx->s[lx->i++];
			if (c == '\\' && lx->i < lx->len)
				lx->i++;
			else if (c == '(') {
				if (++depth > COMMENT_DEPTH_MAX)
					return false;
			} else if (c == ')' && --depth == 0)
				break;
		}
		if (depth != 0)
			return false;
	}
	return true;
}

static struct tok
next_tok(struct lexer *lx)
{
	struct tok t = {.kind = TK_END};
	char c;

	if (!skip_cfws(lx)) {
		t.kind = TK_ERROR;
		return t;
	}
	if (lx->i >= lx->len)
		return t;
	c = lx->s[lx->i];
	t.p = lx->s + lx->i;
	if (c == '"' || c == '[') {
		char close = c == '"' ? '"' : ']';

		lx->i++;
		while (lx->i < lx->len && lx->s[lx->i] != close) {
			if (lx->s[lx->i] == '\\' && lx->i + 1 < lx->len)
				lx->i++;
			lx->i++;
		}
		if (lx->i >= lx->len) {
			t.kind = TK_ERROR;
			return t;
		}
		lx->i++;
		t.kind = c == '"' ? TK_QSTRING : TK_DLIT;
		t.n = (size_t)(lx->s + lx->i - t.p);
		return t;
	}
	if (strchr("<>@,:;", c) != NULL && c != '\0') {
		lx->i++;
		t.kind = TK_SPECIAL;
		t.c = c;
		t.n = 1;
		return t;
	}
	if (!is_atext((unsigned char)c)) {
		/* a stray special (')', ']', '\\'): not an address */
		t.kind = TK_ERROR;
		return t;
	}
	while (lx->i < lx->len && is_atext((unsigned char)lx->s[lx->i]))
		lx->i++;
	t.kind = TK_ATOM;
	t.n = (size_t)(lx->s + lx->i - t.p);
	return t;
}

int
dmarc_domain_normalise(const char *in, size_t len, char *out)
{
	size_t label = 0;

	if (len > 0 && in[len - 1] == '.')
		len--;
	if (len == 0 || len > DMARC_DOMAIN_MAX)
		return -1;
	for (size_t i = 0; i < len; i++) {
		char c = in[i];

		if (c >= 'A' && c <= 'Z')
			c = (char)(c - 'A' + 'a');
		if (c == '.') {
			if (label == 0 || in[i - 1] == '-')
				return -1;
			label = 0;
		} else if ((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
			   c == '_' || (c == '-' && label > 0)) {
			if (++label > 63)
				return -1;
		} else
			return -1;
		out[i] = c;
	}
	if (label == 0 || in[len - 1] == '-')
		return -1; /* "a..": an empty last label */
	out[len] = '\0';
	return 0;
}

/* One mailbox being collected. */
struct mbox {
	bool any;        /* saw a token */
	bool angle_done; /* an angle-addr was closed */
	bool bad;        /* the domain part is not a usable name */
	size_t local;    /* tokens before the '@' */
	bool at;         /* saw '@' (in the current addr-spec) */
	char dom[DMARC_DOMAIN_MAX + 2];
	size_t dlen;
	bool dom_overflow;
};

static void
mbox_reset(struct mbox *m)
{
	m->any = m->angle_done = m->bad = m->at = m->dom_overflow = false;
	m->local = 0;
	m->dlen = 0;
}

/* Restart the addr-spec inside the mailbox (a new '<' or a route). */
static void
addr_restart(struct mbox *m)
{
	m->bad = m->at = m->dom_overflow = false;
	m->local = 0;
	m->dlen = 0;
}

static void
addr_token(struct mbox *m, const struct tok *t)
{
	m->any = true;
	if (t->kind == TK_SPECIAL && t->c == '@') {
		/* a second '@': the domain so far was part of the local
		 * part (obsolete or malformed): keep the last '@' */
		m->local += m->at ? 1 : 0;
		m->at = true;
		m->dlen = 0;
		m->bad = m->dom_overflow = false;
		return;
	}
	if (!m->at) {
		m->local++;
		return;
	}
	if (t->kind != TK_ATOM) {
		m->bad = true; /* domain literal or quoted string */
		return;
	}
	if (m->dlen > 0 && m->dom[m->dlen - 1] != '.' && t->p[0] != '.') {
		m->bad = true; /* "a@b c": two words, no dot between */
		return;
	}
	if (m->dlen + t->n > DMARC_DOMAIN_MAX + 1) {
		m->dom_overflow = true;
		return;
	}
	memcpy(m->dom + m->dlen, t->p, t->n);
	m->dlen += t->n;
}

/* A finished mailbox: counts if it has an address. */
static void
mbox_end(struct mbox *m, size_t *count, bool *first_ok,
    enum dmarc_from_status *first_st, char *out)
{
	if (!m->any) {
		mbox_reset(m);
		return;
	}
	if (!m->at || m->local == 0) {
		/* words without an address (e.g. a bare display name) */
		mbox_reset(m);
		return;
	}
	if (++*count == 1) {
		if (m->bad || m->dom_overflow ||
		    dmarc_domain_normalise(m->dom, m->dlen, out) != 0) {
			*first_st = DMARC_FROM_BAD_DOMAIN;
		} else {
			*first_ok = true;
			*first_st = DMARC_FROM_OK;
		}
	}
	mbox_reset(m);
}

static enum dmarc_from_status
from_walk(const char *value, size_t len, char *out, size_t *naddr)
{
	struct lexer lx = {value, len, 0};
	struct mbox m;
	bool in_angle = false, in_group = false, first_ok = false;
	enum dmarc_from_status st = DMARC_FROM_NO_ADDRESS;
	size_t count = 0;

	mbox_reset(&m);
	out[0] = '\0';
	if (naddr != NULL)
		*naddr = 0;
	for (;;) {
		struct tok t = next_tok(&lx);

		if (t.kind == TK_ERROR)
			return DMARC_FROM_SYNTAX;
		if (t.kind == TK_END)
			break;
		if (t.kind == TK_SPECIAL) {
			switch (t.c) {
			case '<':
				if (in_angle || m.angle_done)
					return DMARC_FROM_SYNTAX;
				in_angle = true;
				addr_restart(&m); /* the display name */
				m.any = true;
				continue;
			case '>':
				if (!in_angle)
					return DMARC_FROM_SYNTAX;
				in_angle = false;
				m.angle_done = true;
				continue;
			case ':':
				if (in_angle) {
					addr_restart(&m); /* obs-route */
					continue;
				}
				if (in_group)
					return DMARC_FROM_SYNTAX;
				in_group = true; /* display-name ":" */
				mbox_reset(&m);
				continue;
			case ',':
				if (in_angle) {
					continue; /* obs-route list */
				}
				mbox_end(&m, &count, &first_ok, &st, out);
				continue;
			case ';':
				if (in_angle || !in_group)
					return DMARC_FROM_SYNTAX;
				mbox_end(&m, &count, &first_ok, &st, out);
				in_group = false;
				continue;
			default: /* '@' */
				break;
			}
		}
		if (m.angle_done)
			return DMARC_FROM_SYNTAX; /* text after <...> */
		addr_token(&m, &t);
	}
	if (in_angle)
		return DMARC_FROM_SYNTAX;
	mbox_end(&m, &count, &first_ok, &st, out);
	if (naddr != NULL)
		*naddr = count;
	if (count == 0)
		return DMARC_FROM_NO_ADDRESS;
	if (count > 1) {
		out[0] = '\0';
		return DMARC_FROM_MULTIPLE;
	}
	if (!first_ok)
		out[0] = '\0';
	return st;
}

enum dmarc_from_status
dmarc_from_domain(const char *value, size_t len, char *out, size_t *naddr)
{
	enum dmarc_from_status st = from_walk(value, len, out, naddr);

	if (st != DMARC_FROM_OK)
		out[0] = '\0'; /* also after a first good address */
	return st;
}

const char *
dmarc_from_status_str(enum dmarc_from_status s)
{
	switch (s) {
	case DMARC_FROM_OK:
		return "ok";
	case DMARC_FROM_NO_ADDRESS:
		return "no address in From";
	case DMARC_FROM_MULTIPLE:
		return "several addresses in From";
	case DMARC_FROM_BAD_DOMAIN:
		return "no usable domain in From";
	case DMARC_FROM_SYNTAX:
	default:
		return "malformed From";
	}
}
