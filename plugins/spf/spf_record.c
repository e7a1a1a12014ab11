/*
 * spf_record.c - SPF record selection and parsing (RFC 7208 sections
 * 4.5, 4.6.1, 5, 6 and 12). Pure code: no I/O, no global state; bounded
 * by SPF_RECORD_MAX and SPF_TERMS_MAX. Evaluation is in spf_eval.c.
 */
#include "spf_record.h"

#include <arpa/inet.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "spf_macro.h"

const char *
spf_result_str(enum spf_result r)
{
	switch (r) {
	case SPF_NONE:
		return "none";
	case SPF_NEUTRAL:
		return "neutral";
	case SPF_PASS:
		return "pass";
	case SPF_FAIL:
		return "fail";
	case SPF_SOFTFAIL:
		return "softfail";
	case SPF_TEMPERROR:
		return "temperror";
	case SPF_PERMERROR:
		break;
	}
	return "permerror";
}

bool
spf_record_is_spf1(const char *txt, size_t len)
{
	return len >= 6 && strncasecmp(txt, "v=spf1", 6) == 0 &&
	       (len == 6 || txt[6] == ' ');
}

static bool
is_alpha(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

static bool
is_digit(char c)
{
	return c >= '0' && c <= '9';
}

static bool
is_alnum(char c)
{
	return is_alpha(c) || is_digit(c);
}

/* toplabel = ( *alphanum ALPHA *alphanum ) /
 *            ( 1*alphanum "-" *( alphanum / "-" ) alphanum ) */
static bool
toplabel_ok(const char *s, size_t n)
{
	bool alpha = false, dash = false;

	if (n == 0 || n > 63 || !is_alnum(s[0]) || !is_alnum(s[n - 1]))
		return false;
	for (size_t i = 0; i < n; i++) {
		if (s[i] == '-')
			dash = true;
		else if (is_alpha(s[i]))
			alpha = true;
		else if (!is_digit(s[i]))
			return false;
	}
	return alpha || dash;
}

bool
spf_domain_spec_ok(const char *s, size_t n)
{
	size_t lit = 0; /* start of the literal run at the end */
	bool ends_in_macro = false;

	if (n == 0 || !spf_macro_check(s, n, false))
		return false;
	/* find where the last macro-expand ends (the string is valid) */
	for (size_t i = 0; i < n;) {
		if (s[i] != '%') {
			i++;
			ends_in_macro = false;
			continue;
		}
		if (s[i + 1] == '{') {
			const char *close = memchr(s + i, '}', n - i);

			i = (size_t)(close - s) + 1;
		} else {
			i += 2;
		}
		lit = i;
		ends_in_macro = true;
	}
	if (ends_in_macro)
		return true;
	/* "." toplabel [ "." ] within the literal tail s[lit..n) */
	if (n - lit >= 1 && s[n - 1] == '.')
		n--;
	for (size_t i = n; i > lit; i--)
		if (s[i - 1] == '.')
			return toplabel_ok(s + i, n - i);
	return false;
}

static int rec_fail(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int
rec_fail(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	if (err != NULL && errlen > 0) {
		va_start(ap, fmt);
		vsnprintf(err, errlen, fmt, ap);
		va_end(ap);
	}
	return -1;
}

/* A prefix length: "0" / %x31-39 0*(maxdig-1)DIGIT, at most max. */
static int
cidr_value(const char *s, size_t n, int max)
{
	int v = 0;

	if (n == 0 || n > 3 || (n > 1 && s[0] == '0'))
		return -1;
	for (size_t i = 0; i < n; i++) {
		if (!is_digit(s[i]))
			return -1;
		v = v * 10 + (s[i] - '0');
	}
	return v <= max ? v : -1;
}

/* Trailing "/N" of s[0..*n): strips it and returns N (max bounded), -2
 * when absent, -1 when malformed. */
static int
strip_cidr(const char *s, size_t *n, int max, bool dbl)
{
	size_t i = *n;
	int v;

	while (i > 0 && is_digit(s[i - 1]))
		i--;
	if (i == *n || i == 0 || s[i - 1] != '/')
		return -2;
	if (dbl && (i < 2 || s[i - 2] != '/'))
		return -2;
	if (!dbl && i >= 2 && s[i - 2] == '/')
		return -2;
	v = cidr_value(s + i, *n - i, max);
	if (v < 0)
		return -1;
	*n = i - (dbl ? 2 : 1);
	return v;
}

/* ":" domain-spec after the name (rest, n), required or optional. */
static int
take_spec(struct spf_mech *m, const char *rest, size_t n, bool required,
    char *err, size_t errlen)
{
	if (n == 0) {
		if (required)
			return rec_fail(err, errlen,
			    "missing domain in \"%.*s\"", (int)m->term_len,
			    m->term);
		m->spec = NULL;
		return 0;
	}
	if (rest[0] != ':' || !spf_domain_spec_ok(rest + 1, n - 1))
		return rec_fail(err, errlen, "bad domain-spec in \"%.*s\"",
		    (int)m->term_len, m->term);
	m->spec = rest + 1;
	m->spec_len = n - 1;
	return 0;
}

static const struct {
	const char *name;
	enum spf_mech_kind kind;
} mech_names[] = {
    {"all", SPF_MECH_ALL},
    {"include", SPF_MECH_INCLUDE},
    {"a", SPF_MECH_A},
    {"mx", SPF_MECH_MX},
    {"ptr", SPF_MECH_PTR},
    {"ip4", SPF_MECH_IP4},
    {"ip6", SPF_MECH_IP6},
    {"exists", SPF_MECH_EXISTS},
};

static int
parse_mech(
    struct spf_mech *m, const char *t, size_t n, char *err, size_t errlen)
{
	size_t nl = 0;
	const char *rest;
	size_t rn;
	bool known = false;

	memset(m, 0, sizeof(*m));
	m->term = t;
	m->term_len = n;
	m->qual = SPF_PASS;
	m->cidr4 = 32;
	m->cidr6 = 128;
	switch (t[0]) {
	case '+':
		t++, n--;
		break;
	case '-':
		m->qual = SPF_FAIL;
		t++, n--;
		break;
	case '~':
		m->qual = SPF_SOFTFAIL;
		t++, n--;
		break;
	case '?':
		m->qual = SPF_NEUTRAL;
		t++, n--;
		break;
	default:
		break;
	}
	while (nl < n && is_alnum(t[nl]))
		nl++;
	for (size_t i = 0; i < sizeof(mech_names) / sizeof(mech_names[0]); i++)
		if (strlen(mech_names[i].name) == nl &&
		    strncasecmp(t, mech_names[i].name, nl) == 0) {
			m->kind = mech_names[i].kind;
			known = true;
			break;
		}
	if (!known || nl == 0)
		return rec_fail(err, errlen, "unknown mechanism \"%.*s\"",
		    (int)m->term_len, m->term);
	rest = t + nl;
	rn = n - nl;
	switch (m->kind) {
	case SPF_MECH_ALL:
		if (rn != 0)
			return rec_fail(err, errlen, "bad \"%.*s\"",
			    (int)m->term_len, m->term);
		return 0;
	case SPF_MECH_INCLUDE:
	case SPF_MECH_EXISTS:
		return take_spec(m, rest, rn, true, err, errlen);
	case SPF_MECH_PTR:
		return take_spec(m, rest, rn, false, err, errlen);
	case SPF_MECH_A:
	case SPF_MECH_MX: {
		int v6 = strip_cidr(rest, &rn, 128, true), v4;

		if (v6 == -1)
			return rec_fail(err, errlen,
			    "bad ip6-cidr-length in \"%.*s\"", (int)m->term_len,
			    m->term);
		v4 = strip_cidr(rest, &rn, 32, false);
		if (v4 == -1)
			return rec_fail(err, errlen,
			    "bad ip4-cidr-length in \"%.*s\"", (int)m->term_len,
			    m->term);
		if (v6 >= 0)
			m->cidr6 = v6;
		if (v4 >= 0)
			m->cidr4 = v4;
		return take_spec(m, rest, rn, false, err, errlen);
	}
	case SPF_MECH_IP4:
	case SPF_MECH_IP6: {
		bool six = m->kind == SPF_MECH_IP6;
		char buf[64];
		int v;

		if (rn < 2 || rest[0] != ':')
			return rec_fail(err, errlen,
			    "missing address in \"%.*s\"", (int)m->term_len,
			    m->term);
		rest++, rn--;
		v = strip_cidr(rest, &rn, six ? 128 : 32, false);
		if (v == -1 || rn == 0 || rn >= sizeof(buf))
			return rec_fail(err, errlen, "bad network in \"%.*s\"",
			    (int)m->term_len, m->term);
		if (v >= 0) {
			if (six)
				m->cidr6 = v;
			else
				m->cidr4 = v;
		}
		memcpy(buf, rest, rn);
		buf[rn] = '\0';
		if (inet_pton(six ? AF_INET6 : AF_INET, buf, m->addr) != 1)
			return rec_fail(err, errlen, "bad address in \"%.*s\"",
			    (int)m->term_len, m->term);
		return 0;
	}
	}
	return rec_fail(err, errlen, "bad term");
}

/* modifier name = ALPHA *( ALPHA / DIGIT / "-" / "_" / "." ) "=" */
static size_t
modifier_name(const char *t, size_t n)
{
	size_t i = 0;

	if (n == 0 || !is_alpha(t[0]))
		return 0;
	while (i < n &&
	       (is_alnum(t[i]) || t[i] == '-' || t[i] == '_' || t[i] == '.'))
		i++;
	return i < n && t[i] == '=' ? i : 0;
}

int
spf_record_parse(const char *txt, size_t len, struct spf_record *out, char *err,
    size_t errlen)
{
	size_t cap = 0, i;

	memset(out, 0, sizeof(*out));
	if (len > SPF_RECORD_MAX)
		return rec_fail(err, errlen, "record too long");
	if (!spf_record_is_spf1(txt, len))
		return rec_fail(err, errlen, "not an SPF record");
	for (i = 0; i < len; i++)
		if (txt[i] == ' ')
			cap++;
	if (cap > SPF_TERMS_MAX)
		return rec_fail(err, errlen, "too many terms");
	out->text = malloc(len + 1);
	out->mech = calloc(cap + 1, sizeof(*out->mech));
	if (out->text == NULL || out->mech == NULL)
		return rec_fail(err, errlen, "out of memory");
	memcpy(out->text, txt, len);
	out->text[len] = '\0';
	for (i = 6; i < len;) {
		const char *t;
		size_t n = 0, nl;

		while (i < len && out->text[i] == ' ')
			i++;
		if (i == len)
			break;
		t = out->text + i;
		while (i + n < len && t[n] != ' ')
			n++;
		i += n;
		for (size_t k = 0; k < n; k++)
			if ((unsigned char)t[k] < 0x21 ||
			    (unsigned char)t[k] > 0x7e)
				return rec_fail(err, errlen,
				    "invalid character 0x%02x",
				    (unsigned char)t[k]);
		nl = modifier_name(t, n);
		if (nl > 0) {
			const char *v = t + nl + 1;
			size_t vn = n - nl - 1;

			if (nl == 8 && strncasecmp(t, "redirect", 8) == 0) {
				if (out->redirect != NULL)
					return rec_fail(
					    err, errlen, "redirect= twice");
				if (!spf_domain_spec_ok(v, vn))
					return rec_fail(err, errlen,
					    "bad redirect= domain");
				out->redirect = v;
				out->redirect_len = vn;
			} else if (nl == 3 && strncasecmp(t, "exp", 3) == 0) {
				if (out->exp != NULL)
					return rec_fail(
					    err, errlen, "exp= twice");
				if (!spf_domain_spec_ok(v, vn))
					return rec_fail(
					    err, errlen, "bad exp= domain");
				out->exp = v;
				out->exp_len = vn;
			} else if (!spf_macro_check(v, vn, true)) {
				return rec_fail(err, errlen,
				    "bad modifier \"%.*s\"", (int)n, t);
			}
			continue;
		}
		if (out->nmech >= cap + 1)
			return rec_fail(err, errlen, "too many terms");
		if (parse_mech(&out->mech[out->nmech], t, n, err, errlen) != 0)
			return -1;
		if (out->mech[out->nmech].kind == SPF_MECH_ALL)
			out->has_all = true;
		out->nmech++;
	}
	return 0;
}

void
spf_record_free(struct spf_record *r)
{
	if (r == NULL)
		return;
	free(r->text);
	free(r->mech);
	memset(r, 0, sizeof(*r));
}
