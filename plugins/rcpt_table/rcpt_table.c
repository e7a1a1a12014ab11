/*
 * rcpt_table.c - the rcpt_table plugin: recipient validation and aliases
 * for an inbound MX, answered from a table file in the RCPT hook.
 *
 * Configuration (the plugin's group in the main configuration):
 *   table     = "/etc/ringmx/recipients";  required: the table file
 *   delimiter = "+";                       optional, default "+": the
 *               sub-address delimiters (each character is one; the local
 *               part is cut at the first of them); "" turns it off
 *
 * Table file: one entry per line; '#' at the start of a line or after a
 * blank starts a comment; blank lines are ignored. An entry is one of
 *
 *   user@domain.example                    a valid address
 *   @domain.example                        catch-all: every address at
 *                                          the domain is valid
 *   alias@domain.example: t1@x, t2@y       an alias: the recipient is
 *                                          replaced by the targets
 *                                          (separated by commas and/or
 *                                          blanks, local or remote)
 *
 * Addresses are local@domain with no blank, ',', ':', '"', '<' or '>';
 * domains are dot-separated letter/digit/hyphen labels. Matching is
 * case-insensitive (ASCII). A target that is itself an alias of the table
 * is expanded in turn, up to 10 levels; loops, deeper nesting, malformed
 * lines and duplicate entries are load errors naming the file and line.
 *
 * The table's domains are the domains of its left-hand sides. A recipient
 * in another domain gets RMX_CONTINUE. Otherwise the lookup tries the
 * address, then the address without its sub-address ("user+tag@d" ->
 * "user@d"), then the domain's catch-all: an alias is replaced by its
 * expansion (rcpt_replace, RMX_ACCEPT), a valid address or a catch-all is
 * accepted unchanged (RMX_ACCEPT), anything else is rejected with
 * "550 5.1.1 <addr>: Recipient address rejected: User unknown".
 *
 * Everything is resolved at load time (init, reconfigure: main thread)
 * into an immutable table of two hash maps, so a lookup in the hook is
 * O(1) and never blocks. reconfigure builds a new table and swaps an
 * atomic pointer; replaced tables are kept until fini because a worker
 * may still be reading one.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ringmx/plugin.h"

#define PLUGIN_NAME   "rcpt_table"
#define ALIAS_LEVELS  10  /* alias -> alias -> ... at most this deep */
#define ADDR_MAX      512 /* longest address accepted in a table */
#define REPLY_ADDR_MX 400 /* longest address quoted in a reply */

/* ---------------------------------------------------------------- */
/* An arena: everything a table points to, freed at once.             */

struct chunk {
	struct chunk *next;
	size_t used, cap;
	max_align_t data[];
};

struct arena {
	struct chunk *head;
};

static void *
arena_alloc(struct arena *a, size_t n)
{
	const size_t align = sizeof(max_align_t);
	struct chunk *c = a->head;
	size_t cap;

	n = (n + align - 1) / align * align;
	if (n == 0)
		n = align;
	if (c == NULL || c->cap - c->used < n) {
		cap = n > 60000 ? n : 60000;
		c = malloc(sizeof(*c) + cap);
		if (c == NULL)
			return NULL;
		c->cap = cap;
		c->used = 0;
		c->next = a->head;
		a->head = c;
	}
	c->used += n;
	return (char *)c->data + c->used - n;
}

static char *
arena_strndup(struct arena *a, const char *s, size_t n, bool lower)
{
	char *p = arena_alloc(a, n + 1);

	if (p == NULL)
		return NULL;
	for (size_t i = 0; i < n; i++)
		p[i] = lower && s[i] >= 'A' && s[i] <= 'Z' ? (char)(s[i] + 32)
							   : s[i];
	p[n] = '\0';
	return p;
}

static void
arena_free(struct arena *a)
{
	struct chunk *c = a->head, *next;

	for (; c != NULL; c = next) {
		next = c->next;
		free(c);
	}
	a->head = NULL;
}

/* ---------------------------------------------------------------- */
/* A hash map from lower-case strings to 32-bit values; lookups are   */
/* case-insensitive and take the key in two pieces (no copying).      */

struct hslot {
	const char *key; /* NULL: empty */
	size_t klen;
	uint64_t hash;
	uint32_t val;
};

struct hmap {
	struct hslot *slot;
	size_t cap, n; /* cap: 0 or a power of two */
};

static char
lower(char c)
{
	return c >= 'A' && c <= 'Z' ? (char)(c + 32) : c;
}

static uint64_t
hash_add(uint64_t h, const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		h ^= (unsigned char)lower(s[i]);
		h *= 0x100000001b3ULL;
	}
	return h;
}

static uint64_t
hash2(const char *p1, size_t l1, const char *p2, size_t l2)
{
	return hash_add(hash_add(0xcbf29ce484222325ULL, p1, l1), p2, l2);
}

static bool
key_equal(
    const struct hslot *s, const char *p1, size_t l1, const char *p2, size_t l2)
{
	if (s->klen != l1 + l2)
		return false;
	for (size_t i = 0; i < l1; i++)
		if (s->key[i] != lower(p1[i]))
			return false;
	for (size_t i = 0; i < l2; i++)
		if (s->key[l1 + i] != lower(p2[i]))
			return false;
	return true;
}

static struct hslot *
hmap_get2(
    const struct hmap *m, const char *p1, size_t l1, const char *p2, size_t l2)
{
	uint64_t h;
	size_t i;

	if (m->cap == 0)
		return NULL;
	h = hash2(p1, l1, p2, l2);
	for (i = (size_t)h & (m->cap - 1); m->slot[i].key != NULL;
	     i = (i + 1) & (m->cap - 1))
		if (m->slot[i].hash == h &&
		    key_equal(&m->slot[i], p1, l1, p2, l2))
			return &m->slot[i];
	return NULL;
}

static struct hslot *
hmap_get(const struct hmap *m, const char *s, size_t n)
{
	return hmap_get2(m, s, n, "", 0);
}

static int
hmap_grow(struct hmap *m)
{
	size_t cap = m->cap ? m->cap * 2 : 64;
	struct hslot *ns = calloc(cap, sizeof(*ns));

	if (ns == NULL)
		return -ENOMEM;
	for (size_t i = 0; i < m->cap; i++) {
		size_t j;

		if (m->slot[i].key == NULL)
			continue;
		for (j = (size_t)m->slot[i].hash & (cap - 1); ns[j].key != NULL;
		     j = (j + 1) & (cap - 1))
			;
		ns[j] = m->slot[i];
	}
	free(m->slot);
	m->slot = ns;
	m->cap = cap;
	return 0;
}

/* Insert key (already lower-case, owned by the caller's arena); the key
 * must not be present yet. */
static int
hmap_put(struct hmap *m, const char *key, size_t klen, uint32_t val)
{
	uint64_t h = hash2(key, klen, "", 0);
	size_t i;

	if ((m->n + 1) * 2 > m->cap && hmap_grow(m) != 0)
		return -ENOMEM;
	for (i = (size_t)h & (m->cap - 1); m->slot[i].key != NULL;
	     i = (i + 1) & (m->cap - 1))
		;
	m->slot[i] = (struct hslot){key, klen, h, val};
	m->n++;
	return 0;
}

static void
hmap_free(struct hmap *m)
{
	free(m->slot);
	m->slot = NULL;
	m->cap = m->n = 0;
}

/* ---------------------------------------------------------------- */
/* The table.                                                         */

enum { E_VALID = 1, E_ALIAS = 2 };
enum { S_NEW = 0, S_VISITING = 1, S_DONE = 2 };

struct entry {
	const char *text;     /* the address as written */
	const char **targets; /* alias: as written, then the expansion */
	size_t ntargets;
	unsigned line;
	unsigned char kind, state, depth;
};

struct table {
	struct arena arena;
	struct entry *e;
	size_t ne, cap;
	struct hmap addrs;   /* lower-case address -> index into e */
	struct hmap domains; /* lower-case domain -> catch-all line or 0 */
	char *path;
	char *delim; /* sub-address delimiters; "" = none */
	struct table *retired_next;
};

static void
table_free(struct table *t)
{
	if (t == NULL)
		return;
	arena_free(&t->arena);
	hmap_free(&t->addrs);
	hmap_free(&t->domains);
	free(t->e);
	free(t->path);
	free(t->delim);
	free(t);
}

/* How an address relates to the table. */
enum lookup {
	L_FOREIGN,  /* not one of the table's domains */
	L_UNKNOWN,  /* its domain, no such user */
	L_ENTRY,    /* *out is the entry (valid address or alias) */
	L_CATCHALL, /* its domain has a catch-all */
};

static enum lookup
table_lookup(const struct table *t, const char *addr, size_t len,
    const struct entry **out)
{
	const char *at = memrchr(addr, '@', len);
	const struct hslot *dom, *s;
	size_t llen, dlen;

	*out = NULL;
	if (at == NULL)
		return L_FOREIGN;
	llen = (size_t)(at - addr);
	dlen = len - llen - 1;
	if (dlen > 0 && at[dlen] == '.')
		dlen--; /* one trailing dot: same domain */
	dom = hmap_get(&t->domains, at + 1, dlen);
	if (dom == NULL)
		return L_FOREIGN;
	s = hmap_get2(&t->addrs, addr, llen, at, dlen + 1);
	if (s == NULL && t->delim[0] != '\0') {
		size_t cut = 0;

		while (cut < llen && (addr[cut] == '\0' ||
					 strchr(t->delim, addr[cut]) == NULL))
			cut++;
		if (cut > 0 && cut < llen)
			s = hmap_get2(&t->addrs, addr, cut, at, dlen + 1);
	}
	if (s != NULL) {
		*out = &t->e[s->val];
		return L_ENTRY;
	}
	return dom->val != 0 ? L_CATCHALL : L_UNKNOWN;
}

/* ---------------------------------------------------------------- */
/* Loading.                                                           */

struct loader {
	struct table *t;
	const struct rmx_host_api *host;
	char *err;
	size_t errlen;
	unsigned line;
};

static int load_error(struct loader *ld, unsigned line, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int
load_error(struct loader *ld, unsigned line, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (line > 0)
		n = snprintf(ld->err, ld->errlen, "%s: %s:%u: ", PLUGIN_NAME,
		    ld->t->path, line);
	else
		n = snprintf(
		    ld->err, ld->errlen, "%s: %s: ", PLUGIN_NAME, ld->t->path);
	if (n < 0 || (size_t)n >= ld->errlen)
		return -1;
	va_start(ap, fmt);
	vsnprintf(ld->err + n, ld->errlen - (size_t)n, fmt, ap);
	va_end(ap);
	return -1;
}

static bool
valid_domain(const char *d, size_t n)
{
	size_t label = 0;

	if (n == 0 || n > 253)
		return false;
	for (size_t i = 0; i < n; i++) {
		char c = d[i];

		if (c == '.') {
			if (label == 0 || d[i - 1] == '-')
				return false;
			label = 0;
			continue;
		}
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
			(c >= '0' && c <= '9') || c == '-'))
			return false;
		if (label == 0 && c == '-')
			return false;
		if (++label > 63)
			return false;
	}
	return label > 0 && d[n - 1] != '-';
}

static bool
valid_local(const char *l, size_t n)
{
	if (n == 0 || n > 64)
		return false;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)l[i];

		if (c <= 0x20 || c == 0x7f || strchr("@,:\"<>", c) != NULL)
			return false;
	}
	return true;
}

/* local@domain; with catchall, "@domain" is accepted too. */
static bool
valid_addr(const char *a, size_t n, bool catchall)
{
	const char *at = memchr(a, '@', n);
	size_t llen;

	if (at == NULL || n > ADDR_MAX)
		return false;
	llen = (size_t)(at - a);
	if (!(llen == 0 && catchall) && !valid_local(a, llen))
		return false;
	return valid_domain(at + 1, n - llen - 1);
}

static bool
is_blank(char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '\f' ||
	       c == '\v';
}

/* Record the domain of a left-hand side; catchall_line > 0 for "@d". */
static int
add_domain(struct loader *ld, const char *dom, size_t n, unsigned catchall)
{
	struct table *t = ld->t;
	struct hslot *s = hmap_get(&t->domains, dom, n);
	char *key;

	if (s != NULL) {
		if (catchall == 0)
			return 0;
		if (s->val != 0)
			return load_error(ld, catchall,
			    "duplicate catch-all @%.*s (first at line %u)",
			    (int)n, dom, (unsigned)s->val);
		s->val = catchall;
		return 0;
	}
	key = arena_strndup(&t->arena, dom, n, true);
	if (key == NULL || hmap_put(&t->domains, key, n, catchall) != 0)
		return load_error(ld, 0, "out of memory");
	return 0;
}

/* Add a valid address or an alias (targets in tgt[0..ntgt)). */
static int
add_entry(struct loader *ld, const char *addr, size_t n, const char **tgt,
    size_t ntgt)
{
	struct table *t = ld->t;
	const struct hslot *s = hmap_get(&t->addrs, addr, n);
	struct entry *e;
	const char *at = memchr(addr, '@', n);
	char *key;

	if (s != NULL)
		return load_error(ld, ld->line,
		    "duplicate entry for %.*s (first at line %u)", (int)n, addr,
		    t->e[s->val].line);
	if (t->ne == UINT32_MAX)
		return load_error(ld, ld->line, "too many entries");
	if (t->ne == t->cap) {
		size_t cap = t->cap ? t->cap * 2 : 256;
		struct entry *ne = realloc(t->e, cap * sizeof(*ne));

		if (ne == NULL)
			return load_error(ld, 0, "out of memory");
		t->e = ne;
		t->cap = cap;
	}
	e = &t->e[t->ne];
	*e = (struct entry){.line = ld->line};
	e->kind = ntgt > 0 ? E_ALIAS : E_VALID;
	e->text = arena_strndup(&t->arena, addr, n, false);
	key = arena_strndup(&t->arena, addr, n, true);
	if (ntgt > 0) {
		e->targets = arena_alloc(&t->arena, ntgt * sizeof(*tgt));
		if (e->targets != NULL)
			memcpy(e->targets, tgt, ntgt * sizeof(*tgt));
		e->ntargets = ntgt;
	}
	if (e->text == NULL || key == NULL || (ntgt > 0 && !e->targets) ||
	    hmap_put(&t->addrs, key, n, (uint32_t)t->ne) != 0)
		return load_error(ld, 0, "out of memory");
	t->ne++;
	return add_domain(ld, at + 1, n - (size_t)(at - addr) - 1, 0);
}

/* Split the right-hand side of an alias into targets. */
static int
parse_targets(struct loader *ld, char *rhs, const char ***out, size_t *nout)
{
	const char **v = NULL;
	size_t n = 0, cap = 0;
	char *p = rhs;

	for (;;) {
		char *tok;
		size_t len;

		while (*p == ',' || is_blank(*p))
			p++;
		if (*p == '\0')
			break;
		tok = p;
		while (*p != '\0' && *p != ',' && !is_blank(*p))
			p++;
		len = (size_t)(p - tok);
		if (!valid_addr(tok, len, false)) {
			free(v);
			return load_error(ld, ld->line,
			    "bad alias target \"%.*s\" (expected local@domain)",
			    (int)(len > 200 ? 200 : len), tok);
		}
		if (n == cap) {
			const char **nv;

			cap = cap ? cap * 2 : 8;
			nv = realloc(v, cap * sizeof(*v));
			if (nv == NULL) {
				free(v);
				return load_error(ld, 0, "out of memory");
			}
			v = nv;
		}
		v[n] = arena_strndup(&ld->t->arena, tok, len, false);
		if (v[n++] == NULL) {
			free(v);
			return load_error(ld, 0, "out of memory");
		}
	}
	if (n == 0) {
		free(v);
		return load_error(ld, ld->line, "alias without targets");
	}
	*out = v;
	*nout = n;
	return 0;
}

/* One line, comments already removed and blanks trimmed; non-empty. */
static int
parse_line(struct loader *ld, char *s)
{
	char *colon = strchr(s, ':'), *end;
	const char **tgt = NULL;
	size_t n, ntgt = 0;
	int rc;

	end = colon != NULL ? colon : s + strlen(s);
	while (end > s && is_blank(end[-1]))
		end--;
	n = (size_t)(end - s);
	for (size_t i = 0; i < n; i++)
		if (is_blank(s[i]))
			return load_error(ld, ld->line,
			    "unexpected blank in \"%.*s\" (an alias needs "
			    "a ':' after its address)",
			    (int)(n > 200 ? 200 : n), s);
	if (s[0] == '@') {
		if (colon != NULL)
			return load_error(ld, ld->line,
			    "a catch-all (@domain) cannot be an alias");
		if (!valid_domain(s + 1, n - 1))
			return load_error(ld, ld->line,
			    "bad domain in catch-all \"%.*s\"",
			    (int)(n > 200 ? 200 : n), s);
		return add_domain(ld, s + 1, n - 1, ld->line);
	}
	if (!valid_addr(s, n, false))
		return load_error(ld, ld->line,
		    "bad address \"%.*s\" (expected local@domain, @domain "
		    "or local@domain: targets)",
		    (int)(n > 200 ? 200 : n), s);
	if (colon != NULL && parse_targets(ld, colon + 1, &tgt, &ntgt) != 0)
		return -1;
	rc = add_entry(ld, s, n, tgt, ntgt);
	free(tgt);
	return rc;
}

/* Read the table file into ld->t (entries and domains, no expansion). */
static int
read_file(struct loader *ld)
{
	FILE *f = fopen(ld->t->path, "re");
	char *buf = NULL;
	size_t bufcap = 0;
	ssize_t len;
	int rc = 0;

	if (f == NULL)
		return load_error(ld, 0, "%s", strerror(errno));
	while (rc == 0 && (len = getline(&buf, &bufcap, f)) >= 0) {
		char *s = buf, *e;

		ld->line++;
		if (memchr(buf, '\0', (size_t)len) != NULL) {
			rc = load_error(ld, ld->line, "NUL byte in line");
			break;
		}
		for (e = s; *e != '\0'; e++)
			if (*e == '#' && (e == s || is_blank(e[-1])))
				break;
		*e = '\0';
		while (is_blank(*s))
			s++;
		while (e > s && is_blank(e[-1]))
			*--e = '\0';
		if (*s != '\0')
			rc = parse_line(ld, s);
	}
	if (rc == 0 && ferror(f))
		rc = load_error(ld, 0, "read error: %s", strerror(errno));
	free(buf);
	fclose(f);
	return rc;
}

/* The alias a target resolves to, NULL for a final target. With warn,
 * logs a target in the table's domains that the table does not know. */
static struct entry *
target_alias(
    struct loader *ld, const struct entry *from, const char *tgt, bool warn)
{
	const struct entry *e;

	switch (table_lookup(ld->t, tgt, strlen(tgt), &e)) {
	case L_ENTRY:
		return e->kind == E_ALIAS ? (struct entry *)e : NULL;
	case L_UNKNOWN:
		if (warn)
			ld->host->log(NULL, RMX_LOG_WARNING,
			    "table=%s line=%u alias=%s target=%s "
			    "msg=\"target is not a known address of the "
			    "table\"",
			    ld->t->path, from->line, from->text, tgt);
		return NULL;
	case L_FOREIGN:
	case L_CATCHALL:
		break;
	}
	return NULL;
}

/* Final targets, interned for de-duplication while expanding. */
struct finals {
	struct hmap map; /* lower-case target -> index into stamp */
	uint32_t *stamp; /* last alias (index + 1) that included it */
	size_t n, cap;
	const char **out; /* the expansion being built */
	size_t nout, outcap;
};

static int
finals_add(struct loader *ld, struct finals *f, uint32_t alias, const char *t)
{
	size_t len = strlen(t);
	const struct hslot *s = hmap_get(&f->map, t, len);
	uint32_t idx;

	if (s != NULL) {
		idx = s->val;
	} else {
		char *key = arena_strndup(&ld->t->arena, t, len, true);

		if (f->n == f->cap) {
			size_t cap = f->cap ? f->cap * 2 : 256;
			uint32_t *ns = realloc(f->stamp, cap * sizeof(*ns));

			if (ns == NULL)
				return -1;
			f->stamp = ns;
			f->cap = cap;
		}
		idx = (uint32_t)f->n;
		f->stamp[f->n++] = 0;
		if (key == NULL || hmap_put(&f->map, key, len, idx) != 0)
			return -1;
	}
	if (f->stamp[idx] == alias + 1)
		return 0; /* already in this expansion */
	f->stamp[idx] = alias + 1;
	if (f->nout == f->outcap) {
		size_t cap = f->outcap ? f->outcap * 2 : 64;
		const char **no = realloc(f->out, cap * sizeof(*no));

		if (no == NULL)
			return -1;
		f->out = no;
		f->outcap = cap;
	}
	f->out[f->nout++] = t;
	return 0;
}

/* All children of alias e are expanded: build its expansion. */
static int
expand_one(struct loader *ld, struct finals *f, struct entry *e)
{
	uint32_t self = (uint32_t)(e - ld->t->e);
	unsigned depth = 1;
	const char **v;

	f->nout = 0;
	for (size_t i = 0; i < e->ntargets; i++) {
		const struct entry *c =
		    target_alias(ld, e, e->targets[i], false);

		if (c == NULL) {
			if (finals_add(ld, f, self, e->targets[i]) != 0)
				return load_error(ld, 0, "out of memory");
			continue;
		}
		if ((unsigned)c->depth + 1 > depth)
			depth = (unsigned)c->depth + 1;
		for (size_t j = 0; j < c->ntargets; j++)
			if (finals_add(ld, f, self, c->targets[j]) != 0)
				return load_error(ld, 0, "out of memory");
	}
	if (depth > ALIAS_LEVELS)
		return load_error(ld, e->line,
		    "alias %s is nested more than %d levels deep", e->text,
		    ALIAS_LEVELS);
	v = arena_alloc(&ld->t->arena, f->nout * sizeof(*v));
	if (v == NULL)
		return load_error(ld, 0, "out of memory");
	memcpy(v, f->out, f->nout * sizeof(*v));
	e->targets = v;
	e->ntargets = f->nout;
	e->depth = (unsigned char)depth;
	e->state = S_DONE;
	return 0;
}

/* Report the loop closed by reaching c again from the stack top. */
static int
loop_error(
    struct loader *ld, struct entry **stack, size_t sp, const struct entry *c)
{
	size_t from = 0, n;

	while (from < sp && stack[from] != c)
		from++;
	load_error(ld, c->line, "alias loop: ");
	n = strlen(ld->err);
	for (size_t i = from; i < sp && n < ld->errlen; i++) {
		snprintf(ld->err + n, ld->errlen - n, "%s -> ", stack[i]->text);
		n += strlen(ld->err + n);
	}
	if (n < ld->errlen)
		snprintf(ld->err + n, ld->errlen - n, "%s", c->text);
	return -1;
}

/* Expand every alias (depth-first with an explicit stack: no recursion
 * however long a chain is), detecting loops and over-deep nesting. */
static int
expand_aliases(struct loader *ld)
{
	struct table *t = ld->t;
	struct finals f = {0};
	struct entry **stack = NULL;
	size_t *next = NULL, sp = 0;
	int rc = 0;

	if (t->ne > 0) {
		stack = malloc(t->ne * sizeof(*stack));
		next = malloc(t->ne * sizeof(*next));
		if (stack == NULL || next == NULL)
			rc = load_error(ld, 0, "out of memory");
	}
	for (size_t r = 0; rc == 0 && r < t->ne; r++) {
		if (t->e[r].kind != E_ALIAS || t->e[r].state != S_NEW)
			continue;
		t->e[r].state = S_VISITING;
		stack[0] = &t->e[r];
		next[0] = 0;
		sp = 1;
		while (rc == 0 && sp > 0) {
			struct entry *top = stack[sp - 1], *c;

			if (next[sp - 1] == top->ntargets) {
				rc = expand_one(ld, &f, top);
				sp--;
				continue;
			}
			c = target_alias(
			    ld, top, top->targets[next[sp - 1]++], true);
			if (c == NULL || c->state == S_DONE)
				continue;
			if (c->state == S_VISITING) {
				rc = loop_error(ld, stack, sp, c);
				break;
			}
			c->state = S_VISITING;
			stack[sp] = c;
			next[sp++] = 0;
		}
	}
	free(stack);
	free(next);
	free(f.stamp);
	free(f.out);
	hmap_free(&f.map);
	return rc;
}

static struct table *
table_load(const struct rmx_host_api *host, const char *path, const char *delim,
    char *err, size_t errlen)
{
	struct table *t = calloc(1, sizeof(*t));
	struct loader ld = {t, host, err, errlen, 0};

	if (t == NULL || (t->path = strdup(path)) == NULL ||
	    (t->delim = strdup(delim)) == NULL) {
		snprintf(err, errlen, "%s: out of memory", PLUGIN_NAME);
		table_free(t);
		return NULL;
	}
	if (read_file(&ld) != 0 || expand_aliases(&ld) != 0) {
		table_free(t);
		return NULL;
	}
	host->log(NULL, RMX_LOG_INFO, "table=%s entries=%zu domains=%zu",
	    t->path, t->ne, t->domains.n);
	return t;
}

/* ---------------------------------------------------------------- */
/* Plugin state, configuration, hooks.                                */

struct state {
	const struct rmx_host_api *host;
	_Atomic(struct table *) cur;
	struct table *retired; /* replaced tables, freed at fini */
};

/* Validate cfg and load the table it names. */
static struct table *
load_config(const struct rmx_host_api *host, const struct rmx_kv *cfg,
    char *err, size_t errlen)
{
	const char *path = NULL, *delim = NULL;

	for (; cfg != NULL && cfg->key != NULL; cfg++) {
		const char **dst;

		if (strcmp(cfg->key, "table") == 0)
			dst = &path;
		else if (strcmp(cfg->key, "delimiter") == 0)
			dst = &delim;
		else {
			snprintf(err, errlen, "%s: unknown key \"%s\"",
			    PLUGIN_NAME, cfg->key);
			return NULL;
		}
		if (*dst != NULL) {
			snprintf(err, errlen, "%s: key \"%s\" given twice",
			    PLUGIN_NAME, cfg->key);
			return NULL;
		}
		*dst = cfg->value != NULL ? cfg->value : "";
	}
	if (path == NULL || path[0] == '\0') {
		snprintf(
		    err, errlen, "%s: key \"table\" is required", PLUGIN_NAME);
		return NULL;
	}
	if (delim == NULL)
		delim = "+";
	for (const char *p = delim; *p != '\0'; p++)
		if ((unsigned char)*p <= 0x20 || (unsigned char)*p >= 0x7f ||
		    strchr("@,:\"<>", *p) != NULL) {
			snprintf(err, errlen,
			    "%s: bad value for key \"delimiter\": \"%s\" "
			    "(printable ASCII characters other than "
			    "@ , : \" < > expected)",
			    PLUGIN_NAME, delim);
			return NULL;
		}
	return table_load(host, path, delim, err, errlen);
}

static int
rt_init(const struct rmx_host_api *host, const struct rmx_kv *cfg,
    void **plugin_state, char *err, size_t errlen)
{
	struct state *st;
	struct table *t;

	if (host == NULL || host->abi_version >> 16 != RMX_PLUGIN_ABI_MAJOR) {
		snprintf(err, errlen, "%s: host ABI mismatch", PLUGIN_NAME);
		return -1;
	}
	t = load_config(host, cfg, err, errlen);
	if (t == NULL)
		return -1;
	st = calloc(1, sizeof(*st));
	if (st == NULL) {
		table_free(t);
		snprintf(err, errlen, "%s: out of memory", PLUGIN_NAME);
		return -1;
	}
	st->host = host;
	atomic_init(&st->cur, t);
	*plugin_state = st;
	return 0;
}

static int
rt_reconfigure(
    void *plugin_state, const struct rmx_kv *cfg, char *err, size_t errlen)
{
	struct state *st = plugin_state;
	struct table *t = load_config(st->host, cfg, err, errlen), *old;

	if (t == NULL)
		return -1;
	old = atomic_exchange_explicit(&st->cur, t, memory_order_acq_rel);
	old->retired_next = st->retired;
	st->retired = old;
	return 0;
}

static void
rt_fini(void *plugin_state)
{
	struct state *st = plugin_state;
	struct table *t, *next;

	if (st == NULL)
		return;
	table_free(atomic_load_explicit(&st->cur, memory_order_relaxed));
	for (t = st->retired; t != NULL; t = next) {
		next = t->retired_next;
		table_free(t);
	}
	free(st);
}

/* Workers share the plugin state: the tables are read-only. */
static int
rt_worker_init(void *plugin_state, unsigned worker, void **worker_state)
{
	(void)worker;
	*worker_state = plugin_state;
	return 0;
}

/* Nothing is allocated per worker. */
static void
rt_worker_fini(void *worker_state)
{
	(void)worker_state;
}

static enum rmx_verdict
rt_rcpt(struct rmx_call *call, void *worker_state)
{
	const struct state *st = worker_state;
	const struct rmx_host_api *h = st->host;
	const struct table *t =
	    atomic_load_explicit(&st->cur, memory_order_acquire);
	const struct entry *e;
	const char *addr;
	size_t len;
	char text[REPLY_ADDR_MX + 64];

	if (h->get_item(call, RMX_ITEM_RCPT_CURRENT, 0, &addr, &len) != 0)
		return RMX_CONTINUE;
	if (len >= 2 && addr[0] == '<' && addr[len - 1] == '>') {
		addr++;
		len -= 2;
	}
	switch (table_lookup(t, addr, len, &e)) {
	case L_FOREIGN:
		return RMX_CONTINUE;
	case L_CATCHALL:
		return RMX_ACCEPT;
	case L_ENTRY:
		if (e->kind == E_VALID)
			return RMX_ACCEPT;
		if (h->rcpt_replace(call, e->targets, e->ntargets) == 0)
			return RMX_ACCEPT;
		h->log(call, RMX_LOG_ERR,
		    "alias=%s targets=%zu msg=\"rcpt_replace failed\"", e->text,
		    e->ntargets);
		h->set_reply(
		    call, 451, "4.3.0", "Temporary failure expanding an alias");
		return RMX_TEMPFAIL;
	case L_UNKNOWN:
		break;
	}
	snprintf(text, sizeof(text),
	    "<%.*s>: Recipient address rejected: User unknown",
	    (int)(len > REPLY_ADDR_MX ? REPLY_ADDR_MX : len), addr);
	h->set_reply(call, 550, "5.1.1", text);
	return RMX_REJECT;
}

static const struct rmx_hook hooks[] = {
    {RMX_HOOK_RCPT, RMX_HOOK_F_REQUIRED, rt_rcpt},
    {0, 0, NULL},
};

static const struct rmx_plugin plugin = {
    .size = sizeof(struct rmx_plugin),
    .abi_version = RMX_PLUGIN_ABI_VERSION,
    .name = PLUGIN_NAME,
    .version = "1.0",
    .init = rt_init,
    .worker_init = rt_worker_init,
    .worker_fini = rt_worker_fini,
    .fini = rt_fini,
    .cancel = NULL,
    .reconfigure = rt_reconfigure,
    .hooks = hooks,
};

/* rmx_plugin_entry_v1 - the plugin's descriptor for a host of ABI 1.x. */
__attribute__((visibility("default"))) const struct rmx_plugin *
RMX_PLUGIN_ENTRY(uint32_t host_abi, const char **why)
{
	if (host_abi >> 16 != RMX_PLUGIN_ABI_MAJOR) {
		if (why != NULL)
			*why = PLUGIN_NAME " is built for plugin ABI 1.x";
		return NULL;
	}
	return &plugin;
}
