/*
 * smtp_parse.c - pure SMTP parsers: command-line splitting, RFC 5321 paths
 * (with RFC 6531 UTF-8), the ESMTP parameters of MAIL and RCPT (RFC 1870
 * SIZE, RFC 6152 BODY, RFC 6531 SMTPUTF8, RFC 3461 DSN, RFC 4954 AUTH),
 * xtext, and the hostname check used for HELO/EHLO.
 *
 * Not here: which command is allowed when (the session), limits such as
 * the maximum message size or recipient count (the caller), message
 * content (smtp_data.c). No I/O, no allocation, no global state.
 */
#include "smtp_parse.h"

#include <arpa/inet.h>
#include <limits.h>
#include <string.h>

/* ---- character classes (ASCII only, independent of the locale) ---- */

static bool
is_alpha(unsigned c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

static bool
is_digit(unsigned c)
{
	return c >= '0' && c <= '9';
}

static bool
is_ctl(unsigned c)
{
	return c < 0x20 || c == 0x7f;
}

/* RFC 5322 atext (ASCII part). */
static bool
is_atext(unsigned c)
{
	if (is_alpha(c) || is_digit(c))
		return true;
	switch (c) {
	case '!':
	case '#':
	case '$':
	case '%':
	case '&':
	case '\'':
	case '*':
	case '+':
	case '-':
	case '/':
	case '=':
	case '?':
	case '^':
	case '_':
	case '`':
	case '{':
	case '|':
	case '}':
	case '~':
		return true;
	default:
		return false;
	}
}

/* RFC 3461 xchar: "!" .. "~" except "+" and "=". */
static bool
is_xchar(unsigned c)
{
	return c >= 33 && c <= 126 && c != '+' && c != '=';
}

static unsigned char
lower(unsigned char c)
{
	return (c >= 'A' && c <= 'Z') ? (unsigned char)(c + 32) : c;
}

/* Case-insensitive compare of s[0..n) with the lower-case literal lc. */
static bool
ieq(const char *s, size_t n, const char *lc)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (lc[i] == '\0' || lower((unsigned char)s[i]) != lc[i])
			return false;
	return lc[i] == '\0';
}

static int
hexval(unsigned char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	c = lower(c);
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

/*
 * Length of the well-formed UTF-8 sequence (RFC 3629) at s[0..n), whose
 * first octet is >= 0x80; 0 when malformed: stray continuation octets,
 * overlong forms (C0, C1, E0 80..9F, F0 80..8F), surrogates (ED A0..BF)
 * and code points above U+10FFFF (F4 90.., F5..FF), truncation.
 */
static size_t
utf8_len(const uint8_t *s, size_t n)
{
	uint8_t c = s[0], lo = 0x80, hi = 0xbf;
	size_t need, k;

	if (c >= 0xc2 && c <= 0xdf) {
		need = 1;
	} else if (c >= 0xe0 && c <= 0xef) {
		need = 2;
		if (c == 0xe0)
			lo = 0xa0;
		else if (c == 0xed)
			hi = 0x9f;
	} else if (c >= 0xf0 && c <= 0xf4) {
		need = 3;
		if (c == 0xf0)
			lo = 0x90;
		else if (c == 0xf4)
			hi = 0x8f;
	} else {
		return 0;
	}
	if (n <= need || s[1] < lo || s[1] > hi)
		return 0;
	for (k = 2; k <= need; k++)
		if (s[k] < 0x80 || s[k] > 0xbf)
			return 0;
	return need + 1;
}

/* smtp_utf8_valid - s[0..n) is well-formed UTF-8 (RFC 3629) */
bool
smtp_utf8_valid(const char *s, size_t n)
{
	const uint8_t *u = (const uint8_t *)s;
	size_t i = 0;

	while (i < n) {
		size_t k = u[i] < 0x80 ? 1 : utf8_len(u + i, n - i);

		if (k == 0)
			return false;
		i += k;
	}
	return true;
}

/* ---- command line ---- */

static const struct smtp_reply r_cmd_unknown = {
    500, "5.5.1", "Command unrecognized"};
static const struct smtp_reply r_cmd_nul = {
    500, "5.5.2", "NUL character in command line"};
static const struct smtp_reply r_mail_syntax = {
    501, "5.5.4", "Syntax: MAIL FROM:<address>"};
static const struct smtp_reply r_rcpt_syntax = {
    501, "5.5.4", "Syntax: RCPT TO:<address>"};

static const struct {
	const char *name; /* lower case */
	enum smtp_verb verb;
} verbs[] = {
    {"helo", SMTP_VERB_HELO},
    {"ehlo", SMTP_VERB_EHLO},
    {"mail", SMTP_VERB_MAIL},
    {"rcpt", SMTP_VERB_RCPT},
    {"data", SMTP_VERB_DATA},
    {"bdat", SMTP_VERB_BDAT},
    {"rset", SMTP_VERB_RSET},
    {"noop", SMTP_VERB_NOOP},
    {"quit", SMTP_VERB_QUIT},
    {"vrfy", SMTP_VERB_VRFY},
    {"expn", SMTP_VERB_EXPN},
    {"help", SMTP_VERB_HELP},
    {"starttls", SMTP_VERB_STARTTLS},
    {"auth", SMTP_VERB_AUTH},
};

/* smtp_cmd_parse - split a command line into verb and argument */
const struct smtp_reply *
smtp_cmd_parse(const char *line, size_t len, struct smtp_cmd *cmd)
{
	enum smtp_verb verb = SMTP_VERB_UNKNOWN;
	size_t vlen = 0, i;

	cmd->verb = SMTP_VERB_UNKNOWN;
	cmd->arg = line;
	cmd->arg_len = 0;
	if (len == 0)
		return &r_cmd_unknown;
	if (memchr(line, '\0', len) != NULL)
		return &r_cmd_nul;
	while (vlen < len && line[vlen] != ' ')
		vlen++;
	for (i = 0; i < sizeof(verbs) / sizeof(verbs[0]); i++) {
		if (ieq(line, vlen, verbs[i].name)) {
			verb = verbs[i].verb;
			break;
		}
	}
	if (verb == SMTP_VERB_UNKNOWN)
		return &r_cmd_unknown;
	/* Skip the single SP after the verb (if any). */
	i = vlen < len ? vlen + 1 : vlen;
	if (verb == SMTP_VERB_MAIL || verb == SMTP_VERB_RCPT) {
		const char *kw = verb == SMTP_VERB_MAIL ? "from:" : "to:";
		size_t kwlen = strlen(kw);

		if (len - i < kwlen || !ieq(line + i, kwlen, kw))
			return verb == SMTP_VERB_MAIL ? &r_mail_syntax
						      : &r_rcpt_syntax;
		i += kwlen;
		while (i < len && line[i] == ' ')
			i++;
	}
	cmd->verb = verb;
	cmd->arg = line + i;
	cmd->arg_len = len - i;
	return NULL;
}

/* ---- paths ---- */

/* Why a path was refused; mapped to a 5.1.3 (RCPT) or 5.1.7 (MAIL) reply. */
enum perr {
	PE_OK = 0,
	PE_SYNTAX,       /* anything not covered below */
	PE_NOT_ENCLOSED, /* does not start with '<' */
	PE_UNTERMINATED, /* input ended before the closing '>' */
	PE_CONTROL,      /* octet < 0x20 or 0x7f */
	PE_NEED_UTF8,    /* octet >= 0x80 without SMTPUTF8 */
	PE_BAD_UTF8,     /* malformed or misplaced UTF-8 */
	PE_DOTS,         /* leading, trailing or double dot in the local part */
	PE_DOMAIN,       /* bad domain syntax */
	PE_LABEL_LONG,   /* domain label over 63 characters */
	PE_LITERAL,      /* bad address literal */
	PE_ROUTE,        /* bad source route */
	PE_NO_DOMAIN,    /* no "@domain" (other than RCPT <Postmaster>) */
	PE_LOCAL_LONG,
	PE_DOMAIN_LONG,
	PE_PATH_LONG,
	PE_NULL_RCPT, /* "<>" as a forward-path (never from path_parse) */
	PE_COUNT
};

static const struct smtp_reply rcpt_err[PE_COUNT] = {
    [PE_SYNTAX] = {501, "5.1.3", "Bad recipient address syntax"},
    [PE_NOT_ENCLOSED] = {501, "5.1.3",
	"Bad recipient address syntax: address must be enclosed in <>"},
    [PE_UNTERMINATED] = {501, "5.1.3",
	"Bad recipient address syntax: missing closing >"},
    [PE_CONTROL] = {501, "5.1.3",
	"Bad recipient address syntax: control character"},
    [PE_NEED_UTF8] = {553, "5.6.7",
	"Non-ASCII recipient address requires SMTPUTF8"},
    [PE_BAD_UTF8] = {501, "5.1.3",
	"Bad recipient address syntax: invalid UTF-8"},
    [PE_DOTS] = {501, "5.1.3",
	"Bad recipient address syntax: misplaced dot in local part"},
    [PE_DOMAIN] = {501, "5.1.3", "Bad recipient domain syntax"},
    [PE_LABEL_LONG] = {501, "5.1.3", "Recipient domain label too long"},
    [PE_LITERAL] = {501, "5.1.3", "Bad recipient address literal"},
    [PE_ROUTE] = {501, "5.1.3", "Bad recipient source route"},
    [PE_NO_DOMAIN] = {501, "5.1.3", "Recipient address must have a domain"},
    [PE_LOCAL_LONG] = {501, "5.1.3", "Recipient local part too long"},
    [PE_DOMAIN_LONG] = {501, "5.1.3", "Recipient domain too long"},
    [PE_PATH_LONG] = {501, "5.1.3", "Recipient address too long"},
    [PE_NULL_RCPT] = {501, "5.1.3", "Null recipient address not allowed"},
};

static const struct smtp_reply mail_err[PE_COUNT] = {
    [PE_SYNTAX] = {501, "5.1.7", "Bad sender address syntax"},
    [PE_NOT_ENCLOSED] = {501, "5.1.7",
	"Bad sender address syntax: address must be enclosed in <>"},
    [PE_UNTERMINATED] = {501, "5.1.7",
	"Bad sender address syntax: missing closing >"},
    [PE_CONTROL] = {501, "5.1.7",
	"Bad sender address syntax: control character"},
    [PE_NEED_UTF8] = {553, "5.6.7",
	"Non-ASCII sender address requires SMTPUTF8"},
    [PE_BAD_UTF8] = {501, "5.1.7", "Bad sender address syntax: invalid UTF-8"},
    [PE_DOTS] = {501, "5.1.7",
	"Bad sender address syntax: misplaced dot in local part"},
    [PE_DOMAIN] = {501, "5.1.7", "Bad sender domain syntax"},
    [PE_LABEL_LONG] = {501, "5.1.7", "Sender domain label too long"},
    [PE_LITERAL] = {501, "5.1.7", "Bad sender address literal"},
    [PE_ROUTE] = {501, "5.1.7", "Bad sender source route"},
    [PE_NO_DOMAIN] = {501, "5.1.7", "Sender address must have a domain"},
    [PE_LOCAL_LONG] = {501, "5.1.7", "Sender local part too long"},
    [PE_DOMAIN_LONG] = {501, "5.1.7", "Sender domain too long"},
    [PE_PATH_LONG] = {501, "5.1.7", "Sender address too long"},
    [PE_NULL_RCPT] = {501, "5.1.7", "Bad sender address syntax"},
};

/* Parser cursor over s[0..len). */
struct pc {
	const uint8_t *s;
	size_t len;
	size_t i;
	bool utf8ok;
};

/* The error for the octet at the cursor, which the grammar refused. */
static enum perr
bad_at(const struct pc *p, enum perr dflt)
{
	uint8_t c;

	if (p->i >= p->len)
		return PE_UNTERMINATED;
	c = p->s[p->i];
	if (is_ctl(c))
		return PE_CONTROL;
	if (c >= 0x80) {
		if (!p->utf8ok)
			return PE_NEED_UTF8;
		if (utf8_len(p->s + p->i, p->len - p->i) == 0)
			return PE_BAD_UTF8;
	}
	return dflt;
}

/*
 * Consume one well-formed UTF-8 sequence at the cursor (the octet there
 * is >= 0x80). PE_NEED_UTF8 / PE_BAD_UTF8 on refusal.
 */
static enum perr
take_utf8(struct pc *p)
{
	size_t n;

	if (!p->utf8ok)
		return PE_NEED_UTF8;
	n = utf8_len(p->s + p->i, p->len - p->i);
	if (n == 0)
		return PE_BAD_UTF8;
	p->i += n;
	return PE_OK;
}

/* Dot-string = Atom *("." Atom), atext plus UTF-8 when allowed. */
static enum perr
parse_dot_string(struct pc *p)
{
	size_t start = p->i;
	bool need_atom = true;
	enum perr e;

	while (p->i < p->len) {
		uint8_t c = p->s[p->i];

		if (c < 0x80 && is_atext(c)) {
			p->i++;
		} else if (c >= 0x80) {
			if ((e = take_utf8(p)) != PE_OK)
				return e;
		} else if (c == '.') {
			if (need_atom)
				return PE_DOTS;
			p->i++;
			need_atom = true;
			continue;
		} else {
			break;
		}
		need_atom = false;
	}
	if (need_atom)
		return p->i == start ? bad_at(p, PE_SYNTAX) : PE_DOTS;
	return PE_OK;
}

/* Quoted-string = DQUOTE *(qtextSMTP / quoted-pairSMTP) DQUOTE. */
static enum perr
parse_quoted(struct pc *p)
{
	enum perr e;

	p->i++; /* opening DQUOTE */
	for (;;) {
		uint8_t c;

		if (p->i >= p->len)
			return PE_UNTERMINATED;
		c = p->s[p->i];
		if (c == '"') {
			p->i++;
			return PE_OK;
		}
		if (c == '\\') {
			/* quoted-pairSMTP = "\" %d32-126 (ASCII only) */
			p->i++;
			if (p->i < p->len && p->s[p->i] >= 32 &&
			    p->s[p->i] <= 126) {
				p->i++;
				continue;
			}
			return bad_at(p, PE_SYNTAX);
		}
		if (c >= 32 && c <= 126) {
			p->i++;
		} else if (c >= 0x80) {
			if ((e = take_utf8(p)) != PE_OK)
				return e;
		} else {
			return bad_at(p, PE_SYNTAX);
		}
	}
}

/*
 * Domain = sub-domain *("." sub-domain): LDH labels, plus U-labels (LDH
 * and UTF-8) when allowed; labels 1..63 characters, no leading or
 * trailing hyphen. Stops at the first octet that cannot continue it.
 */
static enum perr
parse_domain_name(struct pc *p)
{
	enum perr e;

	for (;;) {
		size_t start = p->i, chars = 0;

		while (p->i < p->len) {
			uint8_t c = p->s[p->i];

			if (c >= 0x80) {
				if ((e = take_utf8(p)) != PE_OK)
					return e;
			} else if (is_alpha(c) || is_digit(c) || c == '-') {
				p->i++;
			} else {
				break;
			}
			chars++;
		}
		if (chars == 0)
			return bad_at(p, PE_DOMAIN);
		if (p->s[start] == '-' || p->s[p->i - 1] == '-')
			return PE_DOMAIN;
		if (chars > 63)
			return PE_LABEL_LONG;
		if (p->i < p->len && p->s[p->i] == '.') {
			p->i++;
			continue;
		}
		return PE_OK;
	}
}

/* The inside of an address literal: IPv4 dotted quad or "IPv6:" addr. */
static bool
literal_ok(const uint8_t *s, size_t n)
{
	char tmp[64];
	unsigned char addr[16];
	int af = AF_INET;

	if (n >= 5 && ieq((const char *)s, 5, "ipv6:")) {
		s += 5;
		n -= 5;
		af = AF_INET6;
	}
	if (n == 0 || n >= sizeof(tmp))
		return false;
	memcpy(tmp, s, n);
	tmp[n] = '\0';
	return inet_pton(af, tmp, addr) == 1;
}

/* address-literal = "[" ( IPv4 / "IPv6:" IPv6 ) "]" */
static enum perr
parse_literal(struct pc *p)
{
	size_t start;

	p->i++; /* '[' */
	start = p->i;
	while (p->i < p->len && p->s[p->i] != ']') {
		uint8_t c = p->s[p->i];

		if (is_ctl(c))
			return PE_CONTROL;
		if (c >= 0x80)
			return p->utf8ok ? PE_LITERAL : PE_NEED_UTF8;
		p->i++;
	}
	if (p->i >= p->len)
		return PE_UNTERMINATED;
	if (!literal_ok(p->s + start, p->i - start))
		return PE_LITERAL;
	p->i++; /* ']' */
	return PE_OK;
}

/* Domain or address literal covering exactly s[0..len). */
static enum perr
domain_check(const char *s, size_t len, bool utf8ok)
{
	struct pc p = {(const uint8_t *)s, len, 0, utf8ok};
	enum perr e;

	if (len == 0)
		return PE_DOMAIN;
	if (s[0] == '[')
		e = parse_literal(&p);
	else
		e = parse_domain_name(&p);
	if (e == PE_OK && p.i != len)
		e = bad_at(&p, PE_DOMAIN);
	if (e == PE_OK && len > SMTP_DOMAIN_MAX)
		e = PE_DOMAIN_LONG;
	return e;
}

static enum perr
path_parse(const char *str, size_t len, bool utf8ok, struct smtp_path *path,
    size_t *used)
{
	struct pc p = {(const uint8_t *)str, len, 0, utf8ok};
	size_t lstart, llen, dstart, dlen, k;
	bool route = false;
	enum perr e;

	memset(path, 0, sizeof(*path));
	if (len == 0 || str[0] != '<')
		return PE_NOT_ENCLOSED;
	p.i = 1;
	if (len > 1 && str[1] == '>') {
		path->null = true;
		*used = 2;
		return PE_OK;
	}
	/* A-d-l ":" - source route, checked and ignored */
	if (p.i < len && str[p.i] == '@') {
		route = true;
		for (;;) {
			p.i++; /* '@' */
			if ((e = parse_domain_name(&p)) != PE_OK)
				return e == PE_DOMAIN ? PE_ROUTE : e;
			if (p.i < len && str[p.i] == ',' && p.i + 1 < len &&
			    str[p.i + 1] == '@') {
				p.i++;
				continue;
			}
			if (p.i < len && str[p.i] == ':') {
				p.i++;
				break;
			}
			return bad_at(&p, PE_ROUTE);
		}
	}
	lstart = p.i;
	if (p.i < len && str[p.i] == '"')
		e = parse_quoted(&p);
	else
		e = parse_dot_string(&p);
	if (e != PE_OK)
		return e;
	llen = p.i - lstart;
	if (p.i < len && str[p.i] == '>') {
		if (route || !ieq(str + lstart, llen, "postmaster"))
			return PE_NO_DOMAIN;
		p.i++;
		if (p.i > SMTP_PATH_MAX)
			return PE_PATH_LONG;
		path->postmaster = true;
		memcpy(path->local, str + lstart, llen);
		memcpy(path->addr, "Postmaster", sizeof("Postmaster"));
		*used = p.i;
		return PE_OK;
	}
	if (p.i >= len || str[p.i] != '@')
		return bad_at(&p, PE_SYNTAX);
	p.i++;
	dstart = p.i;
	if (p.i < len && str[p.i] == '[')
		e = parse_literal(&p);
	else
		e = parse_domain_name(&p);
	if (e != PE_OK)
		return e;
	dlen = p.i - dstart;
	if (p.i >= len || str[p.i] != '>')
		return bad_at(&p, PE_SYNTAX);
	p.i++;
	if (llen > SMTP_LOCAL_MAX)
		return PE_LOCAL_LONG;
	if (dlen > SMTP_DOMAIN_MAX)
		return PE_DOMAIN_LONG;
	if (p.i > SMTP_PATH_MAX)
		return PE_PATH_LONG;

	memcpy(path->local, str + lstart, llen);
	for (k = 0; k < dlen; k++)
		path->domain[k] = (char)lower((unsigned char)str[dstart + k]);
	memcpy(path->addr, path->local, llen);
	path->addr[llen] = '@';
	memcpy(path->addr + llen + 1, path->domain, dlen + 1);
	for (k = 0; path->addr[k] != '\0'; k++)
		if ((unsigned char)path->addr[k] >= 0x80)
			path->utf8 = true;
	*used = p.i;
	return PE_OK;
}

/* smtp_path_parse - parse "<...>" at the start of s */
const struct smtp_reply *
smtp_path_parse(const char *s, size_t len, bool allow_utf8,
    struct smtp_path *path, size_t *used)
{
	enum perr e = path_parse(s, len, allow_utf8, path, used);

	if (e == PE_OK)
		return NULL;
	memset(path, 0, sizeof(*path));
	return &rcpt_err[e];
}

/* smtp_local_unquote - the local part without quotes and escapes */
int
smtp_local_unquote(const char *local, char *out, size_t outsz)
{
	size_t o = 0;

	for (; *local != '\0'; local++) {
		if (*local == '"')
			continue;
		if (*local == '\\' && local[1] != '\0')
			local++;
		if (o + 1 >= outsz || o >= INT_MAX)
			return -1;
		out[o++] = *local;
	}
	if (outsz == 0)
		return -1;
	out[o] = '\0';
	return (int)o;
}

/* smtp_domain_valid - hostname syntax check (LDH/U-labels or literal) */
bool
smtp_domain_valid(const char *s, size_t len, bool allow_utf8)
{
	return domain_check(s, len, allow_utf8) == PE_OK;
}

/* ---- xtext (RFC 3461 4) ---- */

/* smtp_xtext_decode - decode xtext, NUL-terminated; -1 if malformed */
int
smtp_xtext_decode(const char *in, size_t len, char *out, size_t outsz)
{
	size_t i, o = 0;

	if (outsz == 0)
		return -1;
	for (i = 0; i < len; i++) {
		unsigned char c = (unsigned char)in[i];

		if (c == '+') {
			int hi, lo;

			if (len - i < 3)
				return -1;
			hi = hexval((unsigned char)in[i + 1]);
			lo = hexval((unsigned char)in[i + 2]);
			if (hi < 0 || lo < 0)
				return -1;
			c = (unsigned char)(hi << 4 | lo);
			i += 2;
		} else if (!is_xchar(c)) {
			return -1;
		}
		if (o + 1 >= outsz || o >= INT_MAX)
			return -1;
		out[o++] = (char)c;
	}
	out[o] = '\0';
	return (int)o;
}

/* smtp_xtext_encode - encode as xtext, NUL-terminated; -1 if too long */
int
smtp_xtext_encode(const char *in, size_t len, char *out, size_t outsz)
{
	static const char hex[] = "0123456789ABCDEF";
	size_t i, o = 0;

	if (outsz == 0)
		return -1;
	for (i = 0; i < len; i++) {
		unsigned char c = (unsigned char)in[i];

		if (is_xchar(c)) {
			if (o + 1 >= outsz || o >= INT_MAX)
				return -1;
			out[o++] = (char)c;
		} else {
			if (outsz - o <= 3 || o >= INT_MAX - 3)
				return -1;
			out[o++] = '+';
			out[o++] = hex[c >> 4];
			out[o++] = hex[c & 15];
		}
	}
	out[o] = '\0';
	return (int)o;
}

/* ---- MAIL / RCPT parameters ---- */

static const struct smtp_reply r_param_syntax = {
    501, "5.5.4", "Syntax error in parameters"};
static const struct smtp_reply r_param_space = {
    501, "5.5.4", "Syntax error: parameters must follow the address after SP"};
static const struct smtp_reply r_param_dup = {
    501, "5.5.4", "Duplicate parameter"};
static const struct smtp_reply r_param_value = {
    501, "5.5.4", "Parameter requires a value"};
static const struct smtp_reply r_mail_unknown = {
    555, "5.5.4", "Unsupported MAIL FROM parameter"};
static const struct smtp_reply r_rcpt_unknown = {
    555, "5.5.4", "Unsupported RCPT TO parameter"};
static const struct smtp_reply r_no_size = {
    555, "5.5.4", "SIZE extension not offered"};
static const struct smtp_reply r_no_8bitmime = {
    555, "5.5.4", "8BITMIME extension not offered"};
static const struct smtp_reply r_no_smtputf8 = {
    555, "5.5.4", "SMTPUTF8 extension not offered"};
static const struct smtp_reply r_no_dsn = {
    555, "5.5.4", "DSN extension not offered"};
static const struct smtp_reply r_no_auth = {
    555, "5.5.4", "AUTH extension not offered"};
static const struct smtp_reply r_binarymime = {
    555, "5.5.4", "BODY=BINARYMIME not supported"};
static const struct smtp_reply r_bad_size = {501, "5.5.4", "Bad SIZE value"};
static const struct smtp_reply r_size_overflow = {
    501, "5.5.4", "SIZE value too large"};
static const struct smtp_reply r_bad_body = {501, "5.5.4", "Bad BODY value"};
static const struct smtp_reply r_smtputf8_value = {
    501, "5.5.4", "SMTPUTF8 takes no value"};
static const struct smtp_reply r_bad_ret = {501, "5.5.4", "Bad RET value"};
static const struct smtp_reply r_bad_envid = {501, "5.5.4", "Bad ENVID value"};
static const struct smtp_reply r_bad_auth = {501, "5.5.4", "Bad AUTH value"};
static const struct smtp_reply r_bad_notify = {
    501, "5.5.4", "Bad NOTIFY value"};
static const struct smtp_reply r_notify_never = {
    501, "5.5.4", "NOTIFY=NEVER cannot be combined with other values"};
static const struct smtp_reply r_bad_orcpt = {501, "5.5.4", "Bad ORCPT value"};

/* One "keyword[=value]" token. */
struct param {
	const char *kw;
	size_t kwlen;
	const char *val; /* NULL when there is no '=' */
	size_t vlen;
};

/*
 * Take the next parameter from *cur..end (parameters are separated by one
 * or more SP; trailing SP tolerated). Returns NULL with kw == NULL at the
 * end, NULL with the token, or a syntax error reply.
 * esmtp-keyword = (ALPHA / DIGIT) *(ALPHA / DIGIT / "-")
 * esmtp-value = 1*(%d33-60 / %d62-126)
 */
static const struct smtp_reply *
next_param(const char **cur, const char *end, struct param *pm)
{
	const char *s = *cur, *tok, *eq;

	memset(pm, 0, sizeof(*pm));
	while (s < end && *s == ' ')
		s++;
	if (s == end) {
		*cur = s;
		return NULL;
	}
	tok = s;
	while (s < end && *s != ' ')
		s++;
	*cur = s;
	eq = memchr(tok, '=', (size_t)(s - tok));
	pm->kw = tok;
	pm->kwlen = (size_t)((eq != NULL ? eq : s) - tok);
	if (pm->kwlen == 0 || !(is_alpha((unsigned char)tok[0]) ||
				  is_digit((unsigned char)tok[0])))
		return &r_param_syntax;
	for (size_t i = 1; i < pm->kwlen; i++) {
		unsigned char c = (unsigned char)tok[i];

		if (!is_alpha(c) && !is_digit(c) && c != '-')
			return &r_param_syntax;
	}
	if (eq == NULL)
		return NULL;
	pm->val = eq + 1;
	pm->vlen = (size_t)(s - pm->val);
	if (pm->vlen == 0)
		return &r_param_value;
	for (size_t i = 0; i < pm->vlen; i++) {
		unsigned char c = (unsigned char)pm->val[i];

		if (c < 33 || c > 126 || c == '=')
			return &r_param_syntax;
	}
	return NULL;
}

/*
 * Record that a parameter (bit) was given: refused when its extension
 * (need) was not advertised or when it was already given.
 */
static const struct smtp_reply *
claim(unsigned *seen, unsigned bit, unsigned ext, unsigned need,
    const struct smtp_reply *noext)
{
	if ((ext & need) == 0)
		return noext;
	if (*seen & bit)
		return &r_param_dup;
	*seen |= bit;
	return NULL;
}

static const struct smtp_reply *
parse_size(const struct param *pm, uint64_t *out)
{
	uint64_t v = 0;

	if (pm->val == NULL)
		return &r_param_value;
	if (pm->vlen > 20) {
		for (size_t i = 0; i < pm->vlen; i++)
			if (!is_digit((unsigned char)pm->val[i]))
				return &r_bad_size;
		return &r_size_overflow;
	}
	for (size_t i = 0; i < pm->vlen; i++) {
		unsigned d = (unsigned char)pm->val[i] - '0';

		if (d > 9)
			return &r_bad_size;
		if (v > (UINT64_MAX - d) / 10)
			return &r_size_overflow;
		v = v * 10 + d;
	}
	*out = v;
	return NULL;
}

/*
 * An xtext value decoded into out: non-empty, no control characters (so
 * out is a clean C string), and only ASCII when printable is set.
 */
static bool
xtext_value(const struct param *pm, char *out, size_t outsz, bool printable)
{
	int n;

	if (pm->val == NULL)
		return false;
	n = smtp_xtext_decode(pm->val, pm->vlen, out, outsz);
	if (n <= 0)
		return false;
	for (int i = 0; i < n; i++) {
		unsigned char c = (unsigned char)out[i];

		if (is_ctl(c) || (printable && c >= 0x80))
			return false;
	}
	return true;
}

enum {
	MP_SIZE = 1,
	MP_BODY = 2,
	MP_SMTPUTF8 = 4,
	MP_RET = 8,
	MP_ENVID = 16,
	MP_AUTH = 32,
	RP_NOTIFY = 1,
	RP_ORCPT = 2,
};

static const struct smtp_reply *
mail_param(const struct param *pm, unsigned ext, unsigned *seen,
    struct smtp_mail_params *p)
{
	const struct smtp_reply *r;

	if (ieq(pm->kw, pm->kwlen, "size")) {
		if ((r = claim(seen, MP_SIZE, ext, SMTP_EXT_SIZE, &r_no_size)))
			return r;
		if ((r = parse_size(pm, &p->size)))
			return r;
		p->size_set = true;
	} else if (ieq(pm->kw, pm->kwlen, "body")) {
		if ((r = claim(seen, MP_BODY, ext, SMTP_EXT_8BITMIME,
			 &r_no_8bitmime)))
			return r;
		if (pm->val == NULL)
			return &r_param_value;
		if (ieq(pm->val, pm->vlen, "7bit"))
			p->body = SMTP_BODY_7BIT;
		else if (ieq(pm->val, pm->vlen, "8bitmime"))
			p->body = SMTP_BODY_8BITMIME;
		else if (ieq(pm->val, pm->vlen, "binarymime"))
			return &r_binarymime;
		else
			return &r_bad_body;
	} else if (ieq(pm->kw, pm->kwlen, "smtputf8")) {
		if ((r = claim(seen, MP_SMTPUTF8, ext, SMTP_EXT_SMTPUTF8,
			 &r_no_smtputf8)))
			return r;
		if (pm->val != NULL)
			return &r_smtputf8_value;
		p->smtputf8 = true;
	} else if (ieq(pm->kw, pm->kwlen, "ret")) {
		if ((r = claim(seen, MP_RET, ext, SMTP_EXT_DSN, &r_no_dsn)))
			return r;
		if (pm->val == NULL)
			return &r_param_value;
		if (ieq(pm->val, pm->vlen, "full"))
			p->ret = SMTP_RET_FULL;
		else if (ieq(pm->val, pm->vlen, "hdrs"))
			p->ret = SMTP_RET_HDRS;
		else
			return &r_bad_ret;
	} else if (ieq(pm->kw, pm->kwlen, "envid")) {
		if ((r = claim(seen, MP_ENVID, ext, SMTP_EXT_DSN, &r_no_dsn)))
			return r;
		if (pm->val == NULL)
			return &r_param_value;
		if (!xtext_value(pm, p->envid, sizeof(p->envid), true))
			return &r_bad_envid;
	} else if (ieq(pm->kw, pm->kwlen, "auth")) {
		if ((r = claim(seen, MP_AUTH, ext, SMTP_EXT_AUTH, &r_no_auth)))
			return r;
		if (pm->val == NULL)
			return &r_param_value;
		if (!xtext_value(pm, p->auth, sizeof(p->auth), false))
			return &r_bad_auth;
	} else {
		return &r_mail_unknown;
	}
	return NULL;
}

/* NOTIFY = "NEVER" / 1#( "SUCCESS" / "FAILURE" / "DELAY" ) */
static const struct smtp_reply *
parse_notify(const struct param *pm, uint8_t *out)
{
	const char *s = pm->val, *end;
	uint8_t bits = 0;

	if (s == NULL)
		return &r_param_value;
	end = s + pm->vlen;
	for (;;) {
		const char *comma = memchr(s, ',', (size_t)(end - s));
		const char *e = comma != NULL ? comma : end;
		size_t n = (size_t)(e - s);
		uint8_t bit;

		if (ieq(s, n, "never"))
			bit = SMTP_NOTIFY_NEVER;
		else if (ieq(s, n, "success"))
			bit = SMTP_NOTIFY_SUCCESS;
		else if (ieq(s, n, "failure"))
			bit = SMTP_NOTIFY_FAILURE;
		else if (ieq(s, n, "delay"))
			bit = SMTP_NOTIFY_DELAY;
		else
			return &r_bad_notify;
		if (bits & bit)
			return &r_bad_notify;
		bits |= bit;
		if (comma == NULL)
			break;
		s = comma + 1;
	}
	if ((bits & SMTP_NOTIFY_NEVER) && bits != SMTP_NOTIFY_NEVER)
		return &r_notify_never;
	*out = bits;
	return NULL;
}

/* ORCPT = addr-type ";" xtext, stored as "addr-type;decoded". */
static bool
parse_orcpt(const struct param *pm, char *out, size_t outsz)
{
	const char *semi;
	size_t tlen;
	struct param addr;

	if (pm->val == NULL)
		return false;
	semi = memchr(pm->val, ';', pm->vlen);
	if (semi == NULL)
		return false;
	tlen = (size_t)(semi - pm->val);
	if (tlen == 0 || tlen + 2 > outsz)
		return false;
	for (size_t i = 0; i < tlen; i++)
		if (!is_atext((unsigned char)pm->val[i]))
			return false;
	memcpy(out, pm->val, tlen + 1);
	addr.kw = pm->kw;
	addr.kwlen = pm->kwlen;
	addr.val = semi + 1;
	addr.vlen = pm->vlen - tlen - 1;
	if (!xtext_value(&addr, out + tlen + 1, outsz - tlen - 1, false)) {
		out[0] = '\0';
		return false;
	}
	return true;
}

static const struct smtp_reply *
rcpt_param(const struct param *pm, unsigned ext, unsigned *seen,
    struct smtp_rcpt_params *p)
{
	const struct smtp_reply *r;

	if (ieq(pm->kw, pm->kwlen, "notify")) {
		if ((r = claim(seen, RP_NOTIFY, ext, SMTP_EXT_DSN, &r_no_dsn)))
			return r;
		return parse_notify(pm, &p->notify);
	}
	if (ieq(pm->kw, pm->kwlen, "orcpt")) {
		if ((r = claim(seen, RP_ORCPT, ext, SMTP_EXT_DSN, &r_no_dsn)))
			return r;
		if (pm->val == NULL)
			return &r_param_value;
		if (!parse_orcpt(pm, p->orcpt, sizeof(p->orcpt)))
			return &r_bad_orcpt;
		return NULL;
	}
	return &r_rcpt_unknown;
}

/*
 * Offset just past the first '>' outside a quoted string of the path at
 * s (which must start with '<'), 0 if there is none. Lets the parameters
 * be parsed before the path; path_parse then confirms the same end.
 */
static size_t
path_end(const char *s, size_t len)
{
	bool quoted = false;

	if (len == 0 || s[0] != '<')
		return 0;
	for (size_t i = 1; i < len; i++) {
		if (quoted && s[i] == '\\')
			i++;
		else if (s[i] == '"')
			quoted = !quoted;
		else if (!quoted && s[i] == '>')
			return i + 1;
	}
	return 0;
}

/* Path error when path_end() found no end. */
static enum perr
path_error(const char *s, size_t len)
{
	struct smtp_path tmp;
	size_t used;
	enum perr e = path_parse(s, len, true, &tmp, &used);

	return e == PE_OK ? PE_SYNTAX : e;
}

/*
 * Shared by MAIL (mp set) and RCPT (rp set): the path, the parameters
 * after it, then the path itself (for MAIL with SMTPUTF8 as given in the
 * parameters, for RCPT with utf8). The params struct is already zeroed.
 */
static const struct smtp_reply *
envelope_parse(const char *arg, size_t len, unsigned ext, bool utf8,
    struct smtp_path *path, struct smtp_mail_params *mp,
    struct smtp_rcpt_params *rp)
{
	const struct smtp_reply *errs = mp != NULL ? mail_err : rcpt_err;
	const struct smtp_reply *r = NULL;
	const char *cur, *end;
	struct param pm;
	unsigned seen = 0;
	size_t pend, used = 0;
	enum perr e;

	memset(path, 0, sizeof(*path));
	while (len > 0 && *arg == ' ') {
		arg++;
		len--;
	}
	pend = path_end(arg, len);
	if (pend == 0)
		return &errs[path_error(arg, len)];
	if (pend < len && arg[pend] != ' ')
		return &r_param_space;
	cur = arg + pend;
	end = arg + len;
	for (;;) {
		if ((r = next_param(&cur, end, &pm)) != NULL)
			break;
		if (pm.kw == NULL)
			break;
		r = mp != NULL ? mail_param(&pm, ext, &seen, mp)
			       : rcpt_param(&pm, ext, &seen, rp);
		if (r != NULL)
			break;
	}
	if (r != NULL) {
		if (mp != NULL)
			memset(mp, 0, sizeof(*mp));
		else
			memset(rp, 0, sizeof(*rp));
		return r;
	}
	if (mp != NULL)
		utf8 = mp->smtputf8;
	e = path_parse(arg, pend, utf8, path, &used);
	if (e == PE_OK && used != pend)
		e = PE_SYNTAX;
	if (e == PE_OK && mp != NULL && path->postmaster)
		e = PE_NO_DOMAIN; /* a reverse-path needs a domain */
	if (e == PE_OK && mp == NULL && path->null)
		e = PE_NULL_RCPT;
	if (e != PE_OK) {
		memset(path, 0, sizeof(*path));
		return &errs[e];
	}
	return NULL;
}

/* smtp_mail_parse - parse the argument of MAIL FROM: */
const struct smtp_reply *
smtp_mail_parse(const char *arg, size_t len, unsigned ext,
    struct smtp_path *path, struct smtp_mail_params *p)
{
	memset(p, 0, sizeof(*p));
	return envelope_parse(arg, len, ext, false, path, p, NULL);
}

/* smtp_rcpt_parse - parse the argument of RCPT TO: */
const struct smtp_reply *
smtp_rcpt_parse(const char *arg, size_t len, unsigned ext, bool utf8,
    struct smtp_path *path, struct smtp_rcpt_params *p)
{
	memset(p, 0, sizeof(*p));
	return envelope_parse(arg, len, ext, utf8, path, NULL, p);
}
