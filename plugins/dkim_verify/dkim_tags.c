/*
 * dkim_tags.c - the DKIM tag=value list parser; see dkim_tags.h. The
 * meaning of the tags is not here (dkim_sig.c, dkim_key.c).
 */
#include "dkim_tags.h"

#include <string.h>

/* dkim_is_fws - see dkim_tags.h. */
bool
dkim_is_fws(unsigned char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

static bool
is_alpha(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

static bool
is_valchar(unsigned char c)
{
	return c >= 0x21 && c <= 0x7e && c != ';';
}

/* dkim_tags_parse - see dkim_tags.h. */
int
dkim_tags_parse(
    const char *s, size_t len, struct dkim_tags *out, const char **why)
{
	size_t i = 0;

	out->n = 0;
	for (;;) {
		struct dkim_tag *t;
		size_t end;

		while (i < len && dkim_is_fws((unsigned char)s[i]))
			i++;
		if (i == len)
			return 0; /* empty list, or after a final ";" */
		if (!is_alpha((unsigned char)s[i])) {
			*why = "tag list syntax";
			return -1;
		}
		if (out->n == DKIM_TAGS_MAX) {
			*why = "too many tags";
			return -1;
		}
		t = &out->t[out->n];
		t->name = s + i;
		while (
		    i < len && (is_alpha((unsigned char)s[i]) ||
				   (s[i] >= '0' && s[i] <= '9') || s[i] == '_'))
			i++;
		t->nlen = (size_t)(s + i - t->name);
		while (i < len && dkim_is_fws((unsigned char)s[i]))
			i++;
		if (i == len || s[i] != '=') {
			*why = "tag list syntax";
			return -1;
		}
		i++;
		t->raw_start = i;
		while (i < len && s[i] != ';') {
			unsigned char c = (unsigned char)s[i];

			if (!is_valchar(c) && !dkim_is_fws(c)) {
				*why = "tag value syntax";
				return -1;
			}
			i++;
		}
		t->raw_end = i;
		end = i;
		i = t->raw_start;
		while (i < end && dkim_is_fws((unsigned char)s[i]))
			i++;
		while (end > i && dkim_is_fws((unsigned char)s[end - 1]))
			end--;
		t->val = s + i;
		t->vlen = end - i;
		for (size_t k = 0; k < out->n; k++)
			if (out->t[k].nlen == t->nlen &&
			    memcmp(out->t[k].name, t->name, t->nlen) == 0) {
				*why = "duplicate tag";
				return -1;
			}
		out->n++;
		i = t->raw_end;
		if (i == len)
			return 0;
		i++; /* the ";" */
	}
}

/* dkim_tags_get - see dkim_tags.h. */
const struct dkim_tag *
dkim_tags_get(const struct dkim_tags *t, const char *name)
{
	size_t n = strlen(name);

	for (size_t i = 0; i < t->n; i++)
		if (t->t[i].nlen == n && memcmp(t->t[i].name, name, n) == 0)
			return &t->t[i];
	return NULL;
}
