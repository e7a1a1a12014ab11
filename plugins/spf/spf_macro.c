/*
 * spf_macro.c - SPF macro strings (RFC 7208 section 7): the syntax check
 * and the expander. Pure code: no I/O, no global state; output bounded
 * by the caller's buffer. The DNS work behind %{p} is the evaluator's
 * (spf_eval.c), not this file's.
 */
#include "spf_macro.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

/* Most parts a transformer keeps (more than a name can have). */
#define PARTS_MAX 128

static bool
is_delim(char c)
{
	return c == '.' || c == '-' || c == '+' || c == ',' || c == '/' ||
	       c == '_' || c == '=';
}

static char
lower(char c)
{
	return c >= 'A' && c <= 'Z' ? (char)(c + 32) : c;
}

/*
 * Parse one "%{...}" starting at s[i] == '%' and s[i+1] == '{'. On
 * success *end is the index after '}', and the pieces are returned.
 * -1 on a syntax error.
 */
struct mexp {
	char letter; /* lower case */
	bool upper;
	unsigned digits; /* 0 = all */
	bool reverse;
	const char *delims;
	size_t ndelims;
};

static int
parse_expand(
    const char *s, size_t n, size_t i, bool exp, struct mexp *m, size_t *end)
{
	size_t j = i + 2;
	char c;
	bool have_digits = false;

	if (j >= n)
		return -1;
	c = s[j++];
	m->upper = c >= 'A' && c <= 'Z';
	m->letter = lower(c);
	switch (m->letter) {
	case 's':
	case 'l':
	case 'o':
	case 'd':
	case 'i':
	case 'p':
	case 'h':
	case 'v':
		break;
	case 'c':
	case 'r':
	case 't':
		if (!exp)
			return -1;
		break;
	default:
		return -1;
	}
	m->digits = 0;
	while (j < n && s[j] >= '0' && s[j] <= '9') {
		have_digits = true;
		if (m->digits < 100000)
			m->digits = m->digits * 10 + (unsigned)(s[j] - '0');
		j++;
	}
	if (have_digits && m->digits == 0)
		return -1; /* section 7.3: the number MUST be nonzero */
	m->reverse = false;
	if (j < n && (s[j] == 'r' || s[j] == 'R')) {
		m->reverse = true;
		j++;
	}
	m->delims = s + j;
	while (j < n && is_delim(s[j]))
		j++;
	m->ndelims = (size_t)(s + j - m->delims);
	if (j >= n || s[j] != '}')
		return -1;
	*end = j + 1;
	return 0;
}

/* Check a literal octet: %x21-24 / %x26-7E, plus SP in an explanation. */
static bool
literal_ok(unsigned char c, bool exp)
{
	if (c == ' ')
		return exp;
	return c >= 0x21 && c <= 0x7e && c != '%';
}

bool
spf_macro_check(const char *s, size_t n, bool exp)
{
	for (size_t i = 0; i < n;) {
		struct mexp m;

		if (s[i] != '%') {
			if (!literal_ok((unsigned char)s[i], exp))
				return false;
			i++;
			continue;
		}
		if (i + 1 >= n)
			return false;
		if (s[i + 1] == '%' || s[i + 1] == '_' || s[i + 1] == '-') {
			i += 2;
			continue;
		}
		if (s[i + 1] != '{' || parse_expand(s, n, i, exp, &m, &i) != 0)
			return false;
	}
	return true;
}

bool
spf_macro_uses_p(const char *s, size_t n)
{
	for (size_t i = 0; i + 2 < n; i++)
		if (s[i] == '%') {
			if (s[i + 1] == '{' && lower(s[i + 2]) == 'p')
				return true;
			i++; /* skip the escaped octet of %% */
		}
	return false;
}

struct obuf {
	char *p;
	size_t len, cap;
	bool over;
};

static void
put(struct obuf *o, const char *s, size_t n)
{
	if (o->over || o->len + n + 1 > o->cap) {
		o->over = true;
		return;
	}
	memcpy(o->p + o->len, s, n);
	o->len += n;
	o->p[o->len] = '\0';
}

/* The raw value of a letter into v (at least 320 octets); its length. */
static size_t
letter_value(const struct spf_macro_env *e, char letter, char *v, size_t cap)
{
	const char *src = NULL;
	int n = 0;

	switch (letter) {
	case 's':
		n = snprintf(v, cap, "%s@%s", e->local ? e->local : "",
		    e->sdomain ? e->sdomain : "");
		break;
	case 'l':
		src = e->local;
		break;
	case 'o':
		src = e->sdomain;
		break;
	case 'd':
		src = e->domain;
		break;
	case 'h':
		src = e->helo;
		break;
	case 'p':
		src = e->validated ? e->validated : "unknown";
		break;
	case 'r':
		src = e->receiver ? e->receiver : "unknown";
		break;
	case 'v':
		src = e->family == AF_INET6 ? "ip6" : "in-addr";
		break;
	case 't':
		n = snprintf(v, cap, "%llu", (unsigned long long)e->now);
		break;
	case 'c':
		if (inet_ntop(e->family == AF_INET6 ? AF_INET6 : AF_INET, e->ip,
			v, (socklen_t)cap) == NULL)
			v[0] = '\0';
		return strlen(v);
	case 'i':
		if (e->family == AF_INET6) {
			static const char hex[] = "0123456789abcdef";
			size_t o = 0;

			for (int k = 0; k < 16 && o + 4 < cap; k++) {
				v[o++] = hex[e->ip[k] >> 4];
				v[o++] = '.';
				v[o++] = hex[e->ip[k] & 0xf];
				v[o++] = '.';
			}
			if (o > 0)
				o--; /* no final dot */
			v[o] = '\0';
			return o;
		}
		n = snprintf(v, cap, "%u.%u.%u.%u", e->ip[0], e->ip[1],
		    e->ip[2], e->ip[3]);
		break;
	default:
		v[0] = '\0';
		return 0;
	}
	if (src != NULL)
		n = snprintf(v, cap, "%s", src);
	if (n < 0)
		n = 0;
	if ((size_t)n >= cap)
		n = (int)cap - 1;
	return (size_t)n;
}

static bool
unreserved(unsigned char c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
	       (c >= '0' && c <= '9') || c == '-' || c == '.' || c == '_' ||
	       c == '~';
}

/* Split, reverse, keep the right-most parts, join with '.', escape. */
static void
transform(struct obuf *o, const struct mexp *m, const char *v, size_t vlen)
{
	const char *ps[PARTS_MAX];
	size_t pl[PARTS_MAX], np = 0, first;
	const char *delims = m->ndelims ? m->delims : ".";
	size_t nd = m->ndelims ? m->ndelims : 1;
	size_t start = 0;

	for (size_t i = 0; i <= vlen; i++) {
		if (i < vlen && memchr(delims, v[i], nd) == NULL)
			continue;
		if (np == PARTS_MAX) {
			/* too many parts: fold the rest into the last one */
			pl[np - 1] = vlen - (size_t)(ps[np - 1] - v);
			break;
		}
		ps[np] = v + start;
		pl[np] = i - start;
		np++;
		start = i + 1;
	}
	if (m->reverse)
		for (size_t i = 0; i < np / 2; i++) {
			const char *tp = ps[i];
			size_t tl = pl[i];

			ps[i] = ps[np - 1 - i];
			pl[i] = pl[np - 1 - i];
			ps[np - 1 - i] = tp;
			pl[np - 1 - i] = tl;
		}
	first = m->digits != 0 && m->digits < np ? np - m->digits : 0;
	for (size_t i = first; i < np; i++) {
		if (i > first)
			put(o, ".", 1);
		if (!m->upper) {
			put(o, ps[i], pl[i]);
			continue;
		}
		for (size_t k = 0; k < pl[i]; k++) {
			unsigned char c = (unsigned char)ps[i][k];
			char esc[4];

			if (unreserved(c)) {
				put(o, (const char *)&c, 1);
				continue;
			}
			snprintf(esc, sizeof(esc), "%%%02X", c);
			put(o, esc, 3);
		}
	}
}

int
spf_macro_expand(const char *s, size_t n, const struct spf_macro_env *e,
    bool exp, char *out, size_t cap, size_t *outlen)
{
	struct obuf o = {out, 0, cap, false};
	char v[SPF_MACRO_OUT_MAX];

	if (cap == 0)
		return -2;
	out[0] = '\0';
	*outlen = 0;
	for (size_t i = 0; i < n;) {
		struct mexp m;
		size_t vlen;

		if (s[i] != '%') {
			if (!literal_ok((unsigned char)s[i], exp))
				return -1;
			put(&o, s + i, 1);
			i++;
			continue;
		}
		if (i + 1 >= n)
			return -1;
		switch (s[i + 1]) {
		case '%':
			put(&o, "%", 1);
			i += 2;
			continue;
		case '_':
			put(&o, " ", 1);
			i += 2;
			continue;
		case '-':
			put(&o, "%20", 3);
			i += 2;
			continue;
		case '{':
			break;
		default:
			return -1;
		}
		if (parse_expand(s, n, i, exp, &m, &i) != 0)
			return -1;
		vlen = letter_value(e, m.letter, v, sizeof(v));
		transform(&o, &m, v, vlen);
	}
	if (o.over)
		return -2;
	*outlen = o.len;
	return 0;
}
