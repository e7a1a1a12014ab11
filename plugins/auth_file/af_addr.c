/*
 * af_addr.c - sender ownership rules and a small RFC 5322 address-list
 * scanner for the From: field (see af_addr.h).
 */
#include "af_addr.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* An address: an '@' with something on both sides. */
static bool
is_address(const char *s)
{
	const char *at = strrchr(s, '@');

	return at != NULL && at != s && at[1] != '\0';
}

static bool
matches(const char *rule, const char *addr)
{
	if (rule[0] == '@') {
		const char *at = strrchr(addr, '@');
		return at != NULL && at != addr &&
		       strcasecmp(at + 1, rule + 1) == 0;
	}
	return strcasecmp(rule, addr) == 0;
}

/* af_sender_allowed - whether user owns addr */
bool
af_sender_allowed(const struct af_tables *t, const char *user, const char *addr)
{
	const struct af_senders *e;

	if (addr[0] == '\0')
		return false;
	if (is_address(user) && strcasecmp(user, addr) == 0)
		return true;
	if (!t->have_senders)
		return !is_address(user);
	if ((e = af_senders_find(t, user)) == NULL)
		return false;
	for (size_t i = 0; i < e->naddrs; i++)
		if (matches(e->addrs[i], addr))
			return true;
	return false;
}

/* ---- From: scanner ---- */

struct scan {
	char *bare;  /* addr-spec outside angle brackets, no comments */
	char *angle; /* inside <...> */
	size_t nbare, nangle;
	bool has_angle, after_angle, in_angle, junk_after_angle;
};

static void
reset(struct scan *s)
{
	s->nbare = s->nangle = 0;
	s->bare[0] = s->angle[0] = '\0';
	s->has_angle = s->after_angle = s->in_angle = false;
	s->junk_after_angle = false;
}

static void
put(struct scan *s, char c)
{
	if (s->in_angle) {
		s->angle[s->nangle++] = c;
		s->angle[s->nangle] = '\0';
	} else if (s->after_angle) {
		s->junk_after_angle = true;
	} else {
		s->bare[s->nbare++] = c;
		s->bare[s->nbare] = '\0';
	}
}

/* End of one element (at ',' or ';' or the end). */
static int
element(struct scan *s, int (*fn)(const char *, void *), void *arg)
{
	int rc = 0;

	if (s->junk_after_angle)
		return -1;
	if (s->has_angle) {
		const char *a = s->angle;
		/* obs-route "@a,@b:local@domain" */
		if (a[0] == '@' && strchr(a, ':') != NULL)
			a = strchr(a, ':') + 1;
		rc = fn(a, arg);
	} else if (s->nbare > 0) {
		rc = fn(s->bare, arg);
	}
	reset(s);
	return rc;
}

/* af_mailbox_list - the addresses of a From: field */
int
af_mailbox_list(const char *v, size_t len,
    int (*fn)(const char *addr, void *arg), void *arg)
{
	struct scan s;
	int depth = 0, rc = 0;
	bool quoted = false, in_group = false;

	s.bare = malloc(len + 1);
	s.angle = malloc(len + 1);
	if (s.bare == NULL || s.angle == NULL) {
		free(s.bare);
		free(s.angle);
		return -1;
	}
	reset(&s);
	for (size_t i = 0; i < len && rc == 0; i++) {
		char c = v[i];
		if (depth > 0) { /* comment; nests */
			if (c == '\\' && i + 1 < len)
				i++;
			else if (c == '(')
				depth++;
			else if (c == ')')
				depth--;
			continue;
		}
		if (quoted) {
			if (c == '\\' && i + 1 < len) {
				put(&s, c);
				put(&s, v[++i]);
			} else {
				put(&s, c);
				if (c == '"')
					quoted = false;
			}
			continue;
		}
		switch (c) {
		case ' ':
		case '\t':
		case '\r':
		case '\n':
			break;
		case '(':
			depth = 1;
			break;
		case ')':
			rc = -1;
			break;
		case '"':
			quoted = true;
			put(&s, c);
			break;
		case '<':
			if (s.in_angle || s.has_angle)
				rc = -1;
			s.in_angle = s.has_angle = true;
			break;
		case '>':
			if (!s.in_angle)
				rc = -1;
			s.in_angle = false;
			s.after_angle = true;
			break;
		case ',':
			if (s.in_angle) /* obs-route list */
				put(&s, c);
			else
				rc = element(&s, fn, arg);
			break;
		case ':':
			if (s.in_angle) {
				put(&s, c);
			} else if (!in_group && !s.has_angle) {
				in_group = true; /* "group name:" */
				reset(&s);
			} else {
				rc = -1;
			}
			break;
		case ';':
			if (!in_group || s.in_angle) {
				rc = -1;
				break;
			}
			in_group = false;
			rc = element(&s, fn, arg);
			break;
		default:
			put(&s, c);
		}
	}
	if (rc == 0 && (depth > 0 || quoted || s.in_angle || in_group))
		rc = -1;
	if (rc == 0)
		rc = element(&s, fn, arg);
	free(s.bare);
	free(s.angle);
	return rc;
}
