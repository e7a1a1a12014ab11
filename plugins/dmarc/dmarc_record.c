/*
 * dmarc_record.c - the DMARC policy record parser (RFC 7489 sections
 * 6.3, 6.4 and 6.6.3 step 6): version check, tag list, per-tag values
 * and defaults. Pure code, see dmarc_record.h; no DNS, no decision, no
 * From parsing here.
 */
#include "dmarc_record.h"

#include <string.h>
#include <strings.h>

/* Tags this parser knows; a bit each to find duplicates. */
enum {
	T_V = 0,
	T_P,
	T_SP,
	T_PCT,
	T_ADKIM,
	T_ASPF,
	T_FO,
	T_RF,
	T_RI,
	T_RUA,
	T_RUF,
	T_COUNT
};

static const char *const tag_names[T_COUNT] = {
    "v", "p", "sp", "pct", "adkim", "aspf", "fo", "rf", "ri", "rua", "ruf"};

static bool
is_wsp(char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n';
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

/* A slice of the record. */
struct sl {
	const char *p;
	size_t n;
};

static struct sl
trim(const char *p, size_t n)
{
	while (n > 0 && is_wsp(*p)) {
		p++;
		n--;
	}
	while (n > 0 && is_wsp(p[n - 1]))
		n--;
	return (struct sl){p, n};
}

static bool
sl_eq(struct sl s, const char *lit)
{
	size_t n = strlen(lit);

	return s.n == n && strncasecmp(s.p, lit, n) == 0;
}

/* tag-name = ALPHA *(ALPHA / DIGIT / "_") */
static bool
valid_tag_name(struct sl s)
{
	if (s.n == 0 || !is_alpha(s.p[0]))
		return false;
	for (size_t i = 1; i < s.n; i++)
		if (!is_alpha(s.p[i]) && !is_digit(s.p[i]) && s.p[i] != '_')
			return false;
	return true;
}

/* tag-value: VALCHARs (%x21-3A / %x3C-7E) with WSP inside only. */
static bool
valid_tag_value(struct sl s)
{
	for (size_t i = 0; i < s.n; i++) {
		unsigned char c = (unsigned char)s.p[i];

		if (is_wsp((char)c))
			continue;
		if (c < 0x21 || c > 0x7e || c == ';')
			return false;
	}
	return true;
}

bool
dmarc_record_is_dmarc(const char *txt, size_t len)
{
	size_t i = 0;

	while (i < len && is_wsp(txt[i]))
		i++;
	if (i >= len || (txt[i] != 'v' && txt[i] != 'V'))
		return false;
	i++;
	while (i < len && is_wsp(txt[i]))
		i++;
	if (i >= len || txt[i] != '=')
		return false;
	i++;
	while (i < len && is_wsp(txt[i]))
		i++;
	if (len - i < 6 || memcmp(txt + i, "DMARC1", 6) != 0)
		return false;
	i += 6;
	while (i < len && is_wsp(txt[i]))
		i++;
	return i == len || txt[i] == ';';
}

static bool
parse_policy(struct sl v, enum dmarc_policy *out)
{
	if (sl_eq(v, "none"))
		*out = DMARC_P_NONE;
	else if (sl_eq(v, "quarantine"))
		*out = DMARC_P_QUARANTINE;
	else if (sl_eq(v, "reject"))
		*out = DMARC_P_REJECT;
	else
		return false;
	return true;
}

/* 1*maxd DIGIT, at most max. */
static bool
parse_uint(struct sl v, size_t maxd, unsigned long max, unsigned long *out)
{
	unsigned long x = 0;

	if (v.n == 0 || v.n > maxd)
		return false;
	for (size_t i = 0; i < v.n; i++) {
		if (!is_digit(v.p[i]))
			return false;
		if (x > (max - (unsigned long)(v.p[i] - '0')) / 10)
			return false;
		x = x * 10 + (unsigned long)(v.p[i] - '0');
	}
	*out = x;
	return true;
}

/*
 * Split v at sep (with WSP around it allowed) and call item() on every
 * trimmed item; false if an item is empty or item() refuses it (the
 * others are still looked at). *nok (may be NULL) counts the good ones.
 */
typedef bool item_fn(struct sl item, void *ctx);

static bool
split_list(struct sl v, char sep, item_fn *item, void *ctx, unsigned *nok)
{
	size_t start = 0;
	bool ok = true;

	if (nok != NULL)
		*nok = 0;
	for (size_t i = 0; i <= v.n; i++) {
		if (i < v.n && v.p[i] != sep)
			continue;
		struct sl it = trim(v.p + start, i - start);
		bool good = it.n > 0 && item(it, ctx);

		if (good && nok != NULL)
			(*nok)++;
		if (!good)
			ok = false;
		start = i + 1;
	}
	return ok;
}

static bool
fo_item(struct sl it, void *ctx)
{
	unsigned *fo = ctx;

	if (it.n != 1)
		return false;
	switch (it.p[0]) {
	case '0':
		*fo |= DMARC_FO_0;
		return true;
	case '1':
		*fo |= DMARC_FO_1;
		return true;
	case 'd':
	case 'D':
		*fo |= DMARC_FO_D;
		return true;
	case 's':
	case 'S':
		*fo |= DMARC_FO_S;
		return true;
	default:
		return false;
	}
}

/* Keyword (RFC 5321 Ldh-str): letters, digits, '-' not at the end. */
static bool
rf_item(struct sl it, void *ctx)
{
	bool *afrf = ctx;

	if (!is_alpha(it.p[0]) && !is_digit(it.p[0]))
		return false;
	for (size_t i = 0; i < it.n; i++)
		if (!is_alpha(it.p[i]) && !is_digit(it.p[i]) && it.p[i] != '-')
			return false;
	if (it.p[it.n - 1] == '-')
		return false;
	if (sl_eq(it, "afrf"))
		*afrf = true;
	return true;
}

/*
 * dmarc-uri = URI [ "!" 1*DIGIT [ "k" / "m" / "g" / "t" ] ]; URI checked
 * as scheme ":" 1*(VALCHAR except "," and "!") (commas and "!" in a URI
 * must be %-encoded, section 6.4).
 */
static bool
uri_item(struct sl it, void *ctx)
{
	size_t i = 0, rest;

	(void)ctx;
	if (!is_alpha(it.p[0]))
		return false;
	while (
	    i < it.n && (is_alpha(it.p[i]) || is_digit(it.p[i]) ||
			    it.p[i] == '+' || it.p[i] == '-' || it.p[i] == '.'))
		i++;
	if (i >= it.n || it.p[i] != ':')
		return false;
	rest = ++i;
	while (i < it.n && it.p[i] != '!') {
		unsigned char c = (unsigned char)it.p[i];

		if (c < 0x21 || c > 0x7e || c == ',' || c == ';')
			return false;
		i++;
	}
	if (i == rest)
		return false;
	if (i == it.n)
		return true;
	i++; /* '!' size limit */
	rest = i;
	while (i < it.n && is_digit(it.p[i]))
		i++;
	if (i == rest)
		return false;
	if (i < it.n && strchr("kmgtKMGT", it.p[i]) != NULL)
		i++;
	return i == it.n;
}

const char *
dmarc_policy_str(enum dmarc_policy p)
{
	switch (p) {
	case DMARC_P_QUARANTINE:
		return "quarantine";
	case DMARC_P_REJECT:
		return "reject";
	case DMARC_P_NONE:
	default:
		return "none";
	}
}

static void
set_why(const char **why, const char *w)
{
	if (why != NULL && *why == NULL)
		*why = w;
}

static void
record_defaults(struct dmarc_record *out)
{
	*out = (struct dmarc_record){
	    .pct = 100, .fo = DMARC_FO_0, .rf_afrf = true, .ri = 86400};
}

enum dmarc_rec_status
dmarc_record_parse(
    const char *txt, size_t len, struct dmarc_record *out, const char **why)
{
	unsigned seen = 0, ntag = 0;
	bool p_ok = false, sp_bad = false;
	size_t start = 0;

	record_defaults(out);
	if (why != NULL)
		*why = NULL;
	if (!dmarc_record_is_dmarc(txt, len))
		return DMARC_REC_NOT_DMARC;
	if (len > DMARC_RECORD_MAX) {
		set_why(why, "record too long");
		return DMARC_REC_INVALID;
	}
	for (size_t i = 0; i <= len; i++) {
		struct sl seg, name, val;
		const char *eq;
		int t;

		if (i < len && txt[i] != ';')
			continue;
		seg = trim(txt + start, i - start);
		start = i + 1;
		if (seg.n == 0)
			continue; /* ";;" or the final ";" */
		ntag++;
		eq = memchr(seg.p, '=', seg.n);
		if (eq == NULL) {
			out->bad_tags++;
			set_why(why, "tag without '='");
			continue;
		}
		name = trim(seg.p, (size_t)(eq - seg.p));
		val = trim(eq + 1, seg.n - (size_t)(eq - seg.p) - 1);
		if (!valid_tag_name(name)) {
			out->bad_tags++;
			set_why(why, "bad tag name");
			continue;
		}
		for (t = 0; t < T_COUNT; t++)
			if (sl_eq(name, tag_names[t]))
				break;
		if (t == T_COUNT)
			continue; /* unknown tag: ignored */
		if (seen & (1u << t)) {
			set_why(why, "duplicate tag");
			record_defaults(out);
			return DMARC_REC_INVALID;
		}
		seen |= 1u << t;
		if (!valid_tag_value(val)) {
			if (t == T_SP)
				sp_bad = true;
			else if (t != T_P)
				out->bad_tags++;
			set_why(why, "bad tag value");
			continue;
		}
		switch (t) {
		case T_V:
			break; /* checked by dmarc_record_is_dmarc */
		case T_P:
			if (ntag != 2) {
				set_why(why, "p= is not the second tag");
				break;
			}
			p_ok = parse_policy(val, &out->p);
			if (!p_ok)
				set_why(why, "bad p= value");
			break;
		case T_SP:
			if (parse_policy(val, &out->sp))
				out->has_sp = true;
			else
				sp_bad = true;
			break;
		case T_PCT: {
			unsigned long x;

			if (parse_uint(val, 3, 100, &x))
				out->pct = (unsigned)x;
			else {
				out->bad_tags++;
				set_why(why, "bad pct= value");
			}
			break;
		}
		case T_ADKIM:
		case T_ASPF: {
			bool strict;

			if (sl_eq(val, "s"))
				strict = true;
			else if (sl_eq(val, "r"))
				strict = false;
			else {
				out->bad_tags++;
				set_why(why, "bad alignment mode");
				break;
			}
			if (t == T_ADKIM)
				out->adkim_strict = strict;
			else
				out->aspf_strict = strict;
			break;
		}
		case T_FO: {
			unsigned fo = 0;

			if (split_list(val, ':', fo_item, &fo, NULL))
				out->fo = fo;
			else {
				out->bad_tags++;
				set_why(why, "bad fo= value");
			}
			break;
		}
		case T_RF: {
			bool afrf = false;

			if (split_list(val, ':', rf_item, &afrf, NULL))
				out->rf_afrf = afrf;
			else {
				out->bad_tags++;
				set_why(why, "bad rf= value");
			}
			break;
		}
		case T_RI: {
			unsigned long x;

			if (parse_uint(val, 32, 4294967295ul, &x))
				out->ri = x;
			else {
				out->bad_tags++;
				set_why(why, "bad ri= value");
			}
			break;
		}
		case T_RUA:
		case T_RUF: {
			unsigned n = 0;

			if (!split_list(val, ',', uri_item, NULL, &n)) {
				out->bad_tags++;
				set_why(why, "bad report URI");
			}
			if (t == T_RUA)
				out->nrua = n;
			else
				out->nruf = n;
			break;
		}
		default:
			break;
		}
	}
	if (!p_ok || sp_bad) {
		if (out->nrua == 0) {
			set_why(
			    why, p_ok ? "bad sp= value" : "no valid p= tag");
			record_defaults(out);
			return DMARC_REC_INVALID;
		}
		/* Section 6.6.3 step 6: as if "v=DMARC1; p=none". */
		set_why(why, p_ok ? "bad sp= value" : "no valid p= tag");
		out->p = out->sp = DMARC_P_NONE;
		out->has_sp = false;
		out->p_defaulted = true;
		return DMARC_REC_OK;
	}
	if (!out->has_sp)
		out->sp = out->p;
	return DMARC_REC_OK;
}
