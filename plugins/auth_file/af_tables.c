/*
 * af_tables.c - loading the auth_file plugin's password file and sender
 * table (see af_tables.h and docs/plugins.md for the formats).
 */
#include "af_tables.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "table_file.h"

#define ARGON2ID_PREFIX "$argon2id$"

struct loader {
	struct tf_ctx ctx; /* the config key, the file, the message */
	unsigned line;     /* of the line being parsed; 0: none */
};

__attribute__((format(printf, 2, 3))) static int
fail(struct loader *l, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	tf_verror(&l->ctx, l->line, fmt, ap);
	va_end(ap);
	return -1;
}

/* A user name: non-empty, no ':', no white space, no control character. */
static bool
valid_user(const char *s, size_t n)
{
	if (n == 0)
		return false;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c <= 0x20 || c == 0x7f || c == ':')
			return false;
	}
	return true;
}

/*
 * Read the file line by line; fn gets each line that is neither blank nor
 * a comment, trimmed, with l->line set.
 */
static int
each_line(
    struct loader *l, int (*fn)(struct loader *, char *, void *), void *arg)
{
	struct tf_reader r;
	char *s;
	int rc;

	l->line = 0;
	if (tf_open(&r, &l->ctx, 0) != 0)
		return fail(l, "cannot open: %s", strerror(errno));
	while ((rc = tf_next(&r, &s)) > 0) {
		l->line = r.line;
		if ((rc = fn(l, s, arg)) != 0)
			break;
	}
	tf_close(&r);
	return rc;
}

/* ---- password file ---- */

static int
passwd_line(struct loader *l, char *s, void *arg)
{
	struct af_tables *t = arg;
	char *colon = strchr(s, ':'), *hash;
	struct af_user *u;

	if (colon == NULL)
		return fail(l, "expected user:hash");
	if (!valid_user(s, (size_t)(colon - s)))
		return fail(l, "invalid user name (empty, or white space or "
			       "control characters)");
	hash = colon + 1;
	while (tf_is_blank(*hash))
		hash++;
	if (strncmp(hash, ARGON2ID_PREFIX, strlen(ARGON2ID_PREFIX)) != 0)
		return fail(l, "hash must start with " ARGON2ID_PREFIX
			       " (make one with ringmx-passwd)");
	if (strlen(hash) >= crypto_pwhash_STRBYTES ||
	    strpbrk(hash, " \t") != NULL ||
	    crypto_pwhash_str_needs_rehash(hash,
		crypto_pwhash_OPSLIMIT_INTERACTIVE,
		crypto_pwhash_MEMLIMIT_INTERACTIVE) < 0)
		return fail(l, "malformed argon2id hash");
	u = reallocarray(t->users, t->nusers + 1, sizeof(*u));
	if (u == NULL)
		return fail(l, "out of memory");
	t->users = u;
	u = &t->users[t->nusers];
	*colon = '\0';
	u->name = strdup(s);
	u->hash = strdup(hash);
	u->line = l->line;
	t->nusers++;
	if (u->name == NULL || u->hash == NULL)
		return fail(l, "out of memory");
	return 0;
}

static int
cmp_user(const void *a, const void *b)
{
	const struct af_user *x = a, *y = b;
	int c = strcmp(x->name, y->name);

	return c != 0 ? c : (x->line > y->line) - (x->line < y->line);
}

/*
 * The dummy hash: a random password hashed with the cost parameters of
 * the first entry (so unknown users cost as much as most known ones), or
 * the interactive defaults.
 */
static int
make_dummy(struct af_tables *t, const char *model)
{
	unsigned long long ops = crypto_pwhash_OPSLIMIT_INTERACTIVE;
	size_t mem = crypto_pwhash_MEMLIMIT_INTERACTIVE;
	unsigned long m, tc;
	unsigned char pw[32];
	int rc;

	if (model != NULL &&
	    sscanf(model, ARGON2ID_PREFIX "v=%*u$m=%lu,t=%lu,", &m, &tc) == 2 &&
	    tc >= crypto_pwhash_OPSLIMIT_MIN &&
	    tc <= crypto_pwhash_OPSLIMIT_MAX &&
	    m >= crypto_pwhash_MEMLIMIT_MIN / 1024 &&
	    m <= (unsigned long)(crypto_pwhash_MEMLIMIT_MAX / 1024)) {
		ops = tc;
		mem = (size_t)m * 1024;
	}
	randombytes_buf(pw, sizeof(pw));
	rc = crypto_pwhash_str(
	    t->dummy_hash, (const char *)pw, sizeof(pw), ops, mem);
	sodium_memzero(pw, sizeof(pw));
	return rc;
}

/* ---- sender table ---- */

/* "local@domain" (last '@' inside) or "@domain". */
static bool
valid_sender(const char *s)
{
	const char *at = strrchr(s, '@');

	if (at == NULL || at[1] == '\0')
		return false;
	if (s[0] == '@')
		return at == s;
	return true;
}

static int
senders_line(struct loader *l, char *s, void *arg)
{
	struct af_tables *t = arg;
	char *colon = strchr(s, ':'), *tok, *save = NULL;
	struct af_senders *e = NULL;

	if (colon == NULL)
		return fail(l, "expected user: address, @domain, ...");
	*colon = '\0';
	s = tf_trim(s);
	if (!valid_user(s, strlen(s)))
		return fail(l, "invalid user name (empty, or white space or "
			       "control characters)");
	for (size_t i = 0; i < t->nsenders; i++)
		if (strcmp(t->senders[i].user, s) == 0)
			e = &t->senders[i]; /* more lines for one user add up */
	if (e == NULL) {
		e = reallocarray(t->senders, t->nsenders + 1, sizeof(*e));
		if (e == NULL)
			return fail(l, "out of memory");
		t->senders = e;
		e = &t->senders[t->nsenders++];
		memset(e, 0, sizeof(*e));
		if ((e->user = strdup(s)) == NULL)
			return fail(l, "out of memory");
	}
	for (tok = strtok_r(colon + 1, ", \t", &save); tok != NULL;
	     tok = strtok_r(NULL, ", \t", &save)) {
		char **a;
		for (const char *p = tok; *p; p++)
			if ((unsigned char)*p < 0x20 || *p == 0x7f)
				return fail(l, "control character in address");
		if (!valid_sender(tok))
			return fail(l,
			    "\"%.100s\" is neither an address "
			    "(local@domain) nor @domain",
			    tok);
		a = reallocarray(e->addrs, e->naddrs + 1, sizeof(*a));
		if (a == NULL)
			return fail(l, "out of memory");
		e->addrs = a;
		if ((a[e->naddrs] = strdup(tok)) == NULL)
			return fail(l, "out of memory");
		e->naddrs++;
	}
	return 0;
}

static int
cmp_senders(const void *a, const void *b)
{
	const struct af_senders *x = a, *y = b;

	return strcmp(x->user, y->user);
}

/* af_tables_load - read both files into a new set of tables */
int
af_tables_load(const char *passwd, const char *senders, struct af_tables **out,
    char *err, size_t errlen)
{
	struct af_tables *t = calloc(1, sizeof(*t));
	struct loader l = {{"passwd", passwd, err, errlen}, 0};
	const char *model = NULL;

	*out = NULL;
	if (t == NULL) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	if (each_line(&l, passwd_line, t) != 0)
		goto fail;
	/* the first entry in file order models the dummy hash (the string
	 * does not move when the array is sorted) */
	if (t->nusers > 0)
		model = t->users[0].hash;
	l.line = 0;
	if (t->nusers > 0)
		qsort(t->users, t->nusers, sizeof(*t->users), cmp_user);
	for (size_t i = 1; i < t->nusers; i++) {
		if (strcmp(t->users[i].name, t->users[i - 1].name) == 0) {
			l.line = t->users[i].line;
			fail(&l, "user %.100s given twice (first on line %u)",
			    t->users[i].name, t->users[i - 1].line);
			goto fail;
		}
	}
	if (make_dummy(t, model) != 0) {
		fail(&l, "cannot compute the dummy hash (out of memory?)");
		goto fail;
	}
	if (senders != NULL) {
		l = (struct loader){{"senders", senders, err, errlen}, 0};
		t->have_senders = true;
		if (each_line(&l, senders_line, t) != 0)
			goto fail;
		if (t->nsenders > 0)
			qsort(t->senders, t->nsenders, sizeof(*t->senders),
			    cmp_senders);
	}
	*out = t;
	return 0;
fail:
	af_tables_free(t);
	return -1;
}

/* af_tables_free - free one set of tables */
void
af_tables_free(struct af_tables *t)
{
	if (t == NULL)
		return;
	for (size_t i = 0; i < t->nusers; i++) {
		free(t->users[i].name);
		if (t->users[i].hash != NULL)
			sodium_memzero(
			    t->users[i].hash, strlen(t->users[i].hash));
		free(t->users[i].hash);
	}
	free(t->users);
	for (size_t i = 0; i < t->nsenders; i++) {
		for (size_t j = 0; j < t->senders[i].naddrs; j++)
			free(t->senders[i].addrs[j]);
		free(t->senders[i].addrs);
		free(t->senders[i].user);
	}
	free(t->senders);
	free(t);
}

static int
cmp_key_user(const void *key, const void *elem)
{
	const struct af_user *u = elem;

	return strcmp(key, u->name);
}

/* af_user_find - the password entry of name */
const struct af_user *
af_user_find(const struct af_tables *t, const char *name)
{
	if (t->nusers == 0)
		return NULL;
	return bsearch(
	    name, t->users, t->nusers, sizeof(*t->users), cmp_key_user);
}

static int
cmp_key_senders(const void *key, const void *elem)
{
	const struct af_senders *s = elem;

	return strcmp(key, s->user);
}

/* af_senders_find - the sender table entry of user */
const struct af_senders *
af_senders_find(const struct af_tables *t, const char *user)
{
	if (t->nsenders == 0)
		return NULL;
	return bsearch(user, t->senders, t->nsenders, sizeof(*t->senders),
	    cmp_key_senders);
}
