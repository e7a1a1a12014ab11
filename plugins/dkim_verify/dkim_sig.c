/*
 * dkim_sig.c - DKIM-Signature parsing and validation, and the time
 * checks; see dkim_sig.h. The tag=value grammar is dkim_tags.c; the key
 * record and the cryptography are dkim_key.c.
 */
#include "dkim_sig.h"

#include <string.h>
#include <strings.h>

#include "dkim_tags.h"

/* dkim_result_name - see dkim_sig.h. */
const char *
dkim_result_name(enum dkim_result r)
{
	switch (r) {
	case DKIM_PASS:
		return "pass";
	case DKIM_FAIL:
		return "fail";
	case DKIM_NEUTRAL:
		return "neutral";
	case DKIM_POLICY:
		return "policy";
	case DKIM_TEMPERROR:
		return "temperror";
	case DKIM_PERMERROR:
		break;
	}
	return "permerror";
}

/* dkim_alg_name - see dkim_sig.h. */
const char *
dkim_alg_name(enum dkim_alg a)
{
	return a == DKIM_ALG_ED25519_SHA256 ? "ed25519-sha256" : "rsa-sha256";
}

/* dkim_domain_name - see dkim_sig.h. */
bool
dkim_domain_name(const char *s, size_t n, bool under)
{
	size_t label = 0;

	if (n == 0 || n > DKIM_NAME_MAX)
		return false;
	for (size_t i = 0; i < n; i++) {
		char c = s[i];

		if (c == '.') {
			if (label == 0 || s[i - 1] == '-')
				return false;
			label = 0;
			continue;
		}
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
			(c >= '0' && c <= '9') || (c == '-' && label > 0) ||
			(c == '_' && under)))
			return false;
		if (++label > 63)
			return false;
	}
	return label > 0 && s[n - 1] != '-';
}

static bool
val_is(const struct dkim_tag *t, const char *w)
{
	return t->vlen == strlen(w) && memcmp(t->val, w, t->vlen) == 0;
}

/* Decimal digits only, at most maxd of them, into *out. */
static bool
decimal(const char *s, size_t n, size_t maxd, uint64_t *out)
{
	uint64_t v = 0;

	if (n == 0 || n > maxd)
		return false;
	for (size_t i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return false;
		if (v > (UINT64_MAX - 9) / 10)
			return false;
		v = v * 10 + (uint64_t)(s[i] - '0');
	}
	*out = v;
	return true;
}

static void
copy_lower(char *dst, const char *s, size_t n, bool lower)
{
	for (size_t i = 0; i < n; i++) {
		char c = s[i];

		dst[i] = (char)(lower && c >= 'A' && c <= 'Z' ? c + 32 : c);
	}
	dst[n] = '\0';
}

/* h=: names separated by ":" with FWS around them; must include from. */
static int
parse_h(const char *v, const struct dkim_tag *t, struct dkim_sig *out)
{
	const char *p = t->val, *end = t->val + t->vlen;
	bool from = false;

	out->nh = 0;
	while (p <= end) {
		const char *c = memchr(p, ':', (size_t)(end - p));
		const char *e = c != NULL ? c : end, *s = p;

		while (s < e && dkim_is_fws((unsigned char)*s))
			s++;
		while (e > s && dkim_is_fws((unsigned char)e[-1]))
			e--;
		if (s == e || e - s > 128 || out->nh == DKIM_SIG_H_MAX)
			return -1;
		for (const char *q = s; q < e; q++)
			if ((unsigned char)*q < 33 || (unsigned char)*q > 126)
				return -1;
		if (e - s == 4 && strncasecmp(s, "from", 4) == 0)
			from = true;
		out->h_off[out->nh] = (uint32_t)(s - v);
		out->h_len[out->nh++] = (uint16_t)(e - s);
		if (c == NULL)
			break;
		p = c + 1;
	}
	return from ? 0 : -1;
}

/* q=: colon list; dns/txt must be one of them. */
static bool
q_has_dns_txt(const struct dkim_tag *t)
{
	const char *p = t->val, *end = t->val + t->vlen;

	while (p < end) {
		const char *c = memchr(p, ':', (size_t)(end - p));
		const char *e = c != NULL ? c : end, *s = p;

		while (s < e && dkim_is_fws((unsigned char)*s))
			s++;
		while (e > s && dkim_is_fws((unsigned char)e[-1]))
			e--;
		if (e - s == 7 && strncasecmp(s, "dns/txt", 7) == 0)
			return true;
		if (c == NULL)
			break;
		p = c + 1;
	}
	return false;
}

static int
b64_tag(const struct dkim_tag *t, unsigned char *out, size_t cap, size_t *n)
{
	return t->vlen == 0 ? -1
			    : dkim_base64_decode(t->val, t->vlen, out, cap, n);
}

#define REQUIRE(name, var)                          \
	do {                                        \
		(var) = dkim_tags_get(&tags, name); \
		if ((var) == NULL) {                \
			*why = "missing " name "="; \
			return -1;                  \
		}                                   \
	} while (0)

/* dkim_sig_parse - see dkim_sig.h. */
int
dkim_sig_parse(const char *v, size_t n, struct dkim_sig *out, const char **why)
{
	struct dkim_tags tags;
	const struct dkim_tag *tv, *ta, *tb, *tbh, *td, *th, *ts, *t;
	size_t k = 0;

	memset(out, 0, offsetof(struct dkim_sig, b));
	out->blen = out->bhlen = out->nh = 0;
	out->has_l = out->has_t = out->has_x = false;
	if (n > DKIM_SIG_MAX) {
		*why = "signature too long";
		return -1;
	}
	if (dkim_tags_parse(v, n, &tags, why) != 0)
		return -1;
	/* d=, s= and b= first: the notes name them even on an error */
	td = dkim_tags_get(&tags, "d");
	if (td != NULL && dkim_domain_name(td->val, td->vlen, false))
		copy_lower(out->d, td->val, td->vlen, true);
	ts = dkim_tags_get(&tags, "s");
	if (ts != NULL && dkim_domain_name(ts->val, ts->vlen, true))
		copy_lower(out->s, ts->val, ts->vlen, false);
	tb = dkim_tags_get(&tags, "b");
	for (size_t i = 0; tb != NULL && i < tb->vlen && k < 8; i++)
		if (!dkim_is_fws((unsigned char)tb->val[i]))
			out->b8[k++] = tb->val[i];
	out->b8[k] = '\0';

	REQUIRE("v", tv);
	if (!val_is(tv, "1")) {
		*why = "unsupported version";
		return -1;
	}
	REQUIRE("a", ta);
	if (val_is(ta, "rsa-sha256"))
		out->alg = DKIM_ALG_RSA_SHA256;
	else if (val_is(ta, "ed25519-sha256"))
		out->alg = DKIM_ALG_ED25519_SHA256;
	else {
		*why = "unsupported algorithm";
		return -1;
	}
	REQUIRE("b", tb);
	if (b64_tag(tb, out->b, sizeof(out->b), &out->blen) != 0) {
		*why = "bad b=";
		return -1;
	}
	out->b_start = tb->raw_start;
	out->b_end = tb->raw_end;
	REQUIRE("bh", tbh);
	if (b64_tag(tbh, out->bh, sizeof(out->bh), &out->bhlen) != 0) {
		*why = "bad bh=";
		return -1;
	}
	REQUIRE("d", td);
	if (out->d[0] == '\0') {
		*why = "bad d=";
		return -1;
	}
	REQUIRE("h", th);
	if (parse_h(v, th, out) != 0) {
		*why = "bad h= (from must be signed)";
		return -1;
	}
	REQUIRE("s", ts);
	if (out->s[0] == '\0') {
		*why = "bad s=";
		return -1;
	}
	out->hcanon = out->bcanon = DKIM_CANON_SIMPLE;
	if ((t = dkim_tags_get(&tags, "c")) != NULL &&
	    dkim_canon_parse(t->val, t->vlen, &out->hcanon, &out->bcanon) !=
		0) {
		*why = "bad c=";
		return -1;
	}
	memcpy(out->i_dom, out->d, sizeof(out->d));
	if ((t = dkim_tags_get(&tags, "i")) != NULL) {
		const char *at = NULL;
		size_t dl, il = strlen(out->d);

		for (size_t i = 0; i < t->vlen; i++)
			if (t->val[i] == '@')
				at = t->val + i;
		dl = at != NULL ? t->vlen - (size_t)(at + 1 - t->val) : 0;
		if (at == NULL || !dkim_domain_name(at + 1, dl, false)) {
			*why = "bad i=";
			return -1;
		}
		copy_lower(out->i_dom, at + 1, dl, true);
		if (!(dl == il && strcmp(out->i_dom, out->d) == 0) &&
		    !(dl > il && out->i_dom[dl - il - 1] == '.' &&
			strcmp(out->i_dom + dl - il, out->d) == 0)) {
			*why = "i= not within d=";
			return -1;
		}
	}
	if ((t = dkim_tags_get(&tags, "l")) != NULL) {
		if (!decimal(t->val, t->vlen, 76, &out->l) ||
		    out->l > INT64_MAX) {
			*why = "bad l=";
			return -1;
		}
		out->has_l = true;
	}
	if ((t = dkim_tags_get(&tags, "q")) != NULL && !q_has_dns_txt(t)) {
		*why = "unsupported q=";
		return -1;
	}
	if ((t = dkim_tags_get(&tags, "t")) != NULL) {
		if (!decimal(t->val, t->vlen, 19, &out->t)) {
			*why = "bad t=";
			return -1;
		}
		out->has_t = true;
	}
	if ((t = dkim_tags_get(&tags, "x")) != NULL) {
		if (!decimal(t->val, t->vlen, 19, &out->x)) {
			*why = "bad x=";
			return -1;
		}
		out->has_x = true;
	}
	if (out->has_t && out->has_x && out->x <= out->t) {
		*why = "x= not after t=";
		return -1;
	}
	return 0;
}

/* dkim_sig_check_time - see dkim_sig.h. */
enum dkim_result
dkim_sig_check_time(
    const struct dkim_sig *s, uint64_t now, uint64_t skew, const char **why)
{
	if (s->has_x && s->x < now) {
		*why = "signature expired";
		return DKIM_FAIL;
	}
	if (s->has_t && s->t > now && s->t - now > skew) {
		*why = "signature in the future";
		return DKIM_PERMERROR;
	}
	return DKIM_PASS;
}
