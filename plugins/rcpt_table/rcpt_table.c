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
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ringmx/plugin.h"
#include "table_file.h"

#define PLUGIN_NAME   "rcpt_table"
#define ALIAS_LEVELS  10  /* alias -> alias -> ... at most this deep */
#define ADDR_MAX      512 /* longest address accepted in a table */
#define REPLY_ADDR_MX 400 /* longest address quoted in a reply */

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
	struct tf_snap snap; /* first: a struct tf_snap * is the table */
	struct tf_arena arena;
	struct entry *e;
	size_t ne, cap;
	struct tf_map addrs;   /* lower-case address -> index into e */
	struct tf_map domains; /* lower-case domain -> catch-all line or 0 */
	char *path;
	char *delim; /* sub-address delimiters; "" = none */
};

static void
table_free(struct table *t)
{
	if (t == NULL)
		return;
	tf_arena_free(&t->arena);
	tf_map_free(&t->addrs);
	tf_map_free(&t->domains);
	free(t->e);
	free(t->path);
	free(t->delim);
	free(t);
}

static void
snap_free(struct tf_snap *s)
{
	table_free((struct table *)s);
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
	const uint32_t *dom, *s;
	size_t llen, dlen;

	*out = NULL;
	if (at == NULL)
		return L_FOREIGN;
	llen = (size_t)(at - addr);
	dlen = len - llen - 1;
	if (dlen > 0 && at[dlen] == '.')
		dlen--; /* one trailing dot: same domain */
	dom = tf_map_find(&t->domains, at + 1, dlen);
	if (dom == NULL)
		return L_FOREIGN;
	s = tf_map_find2(&t->addrs, addr, llen, at, dlen + 1);
	if (s == NULL && t->delim[0] != '\0') {
		size_t cut = 0;

		while (cut < llen && (addr[cut] == '\0' ||
					 strchr(t->delim, addr[cut]) == NULL))
			cut++;
		if (cut > 0 && cut < llen)
			s = tf_map_find2(&t->addrs, addr, cut, at, dlen + 1);
	}
	if (s != NULL) {
		*out = &t->e[*s];
		return L_ENTRY;
	}
	return *dom != 0 ? L_CATCHALL : L_UNKNOWN;
}

/* ---------------------------------------------------------------- */
/* Loading.                                                           */

struct loader {
	struct table *t;
	const struct rmx_host_api *host;
	struct tf_ctx ctx; /* PLUGIN_NAME, the table file, the message */
	unsigned line;     /* of the line being parsed */
};

/* local@domain; with catchall, "@domain" is accepted too. */
static bool
valid_addr(const char *a, size_t n, bool catchall)
{
	const char *at = memchr(a, '@', n);
	size_t llen;

	if (at == NULL || n > ADDR_MAX)
		return false;
	llen = (size_t)(at - a);
	if (!(llen == 0 && catchall) && !tf_valid_local(a, llen))
		return false;
	return tf_valid_domain(at + 1, n - llen - 1);
}

/* Record the domain of a left-hand side; catchall_line > 0 for "@d". */
static int
add_domain(struct loader *ld, const char *dom, size_t n, unsigned catchall)
{
	struct table *t = ld->t;
	uint32_t *s = tf_map_find(&t->domains, dom, n);

	if (s != NULL) {
		if (catchall == 0)
			return 0;
		if (*s != 0)
			return tf_error(&ld->ctx, catchall,
			    "duplicate catch-all @%.*s (first at line %u)",
			    (int)n, dom, (unsigned)*s);
		*s = catchall;
		return 0;
	}
	if (tf_map_put(&t->domains, &t->arena, dom, n, catchall) != 0)
		return tf_error(&ld->ctx, 0, "out of memory");
	return 0;
}

/* Add a valid address or an alias (targets in tgt[0..ntgt)). */
static int
add_entry(struct loader *ld, const char *addr, size_t n, const char **tgt,
    size_t ntgt)
{
	struct table *t = ld->t;
	const uint32_t *s = tf_map_find(&t->addrs, addr, n);
	struct entry *e;
	const char *at = memchr(addr, '@', n);

	if (s != NULL)
		return tf_error(&ld->ctx, ld->line,
		    "duplicate entry for %.*s (first at line %u)", (int)n, addr,
		    t->e[*s].line);
	if (t->ne == UINT32_MAX)
		return tf_error(&ld->ctx, ld->line, "too many entries");
	if (t->ne == t->cap) {
		size_t cap = t->cap ? t->cap * 2 : 256;
		struct entry *ne = realloc(t->e, cap * sizeof(*ne));

		if (ne == NULL)
			return tf_error(&ld->ctx, 0, "out of memory");
		t->e = ne;
		t->cap = cap;
	}
	e = &t->e[t->ne];
	*e = (struct entry){.line = ld->line};
	e->kind = ntgt > 0 ? E_ALIAS : E_VALID;
	e->text = tf_arena_strndup(&t->arena, addr, n);
	if (ntgt > 0) {
		e->targets = tf_arena_alloc(&t->arena, ntgt * sizeof(*tgt));
		if (e->targets != NULL)
			memcpy(e->targets, tgt, ntgt * sizeof(*tgt));
		e->ntargets = ntgt;
	}
	if (e->text == NULL || (ntgt > 0 && !e->targets) ||
	    tf_map_put(&t->addrs, &t->arena, addr, n, (uint32_t)t->ne) != 0)
		return tf_error(&ld->ctx, 0, "out of memory");
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

		while (*p == ',' || tf_is_blank(*p))
			p++;
		if (*p == '\0')
			break;
		tok = p;
		while (*p != '\0' && *p != ',' && !tf_is_blank(*p))
			p++;
		len = (size_t)(p - tok);
		if (!valid_addr(tok, len, false)) {
			free(v);
			return tf_error(&ld->ctx, ld->line,
			    "bad alias target \"%.*s\" (expected local@domain)",
			    (int)(len > 200 ? 200 : len), tok);
		}
		if (n == cap) {
			const char **nv;

			cap = cap ? cap * 2 : 8;
			nv = realloc(v, cap * sizeof(*v));
			if (nv == NULL) {
				free(v);
				return tf_error(&ld->ctx, 0, "out of memory");
			}
			v = nv;
		}
		v[n] = tf_arena_strndup(&ld->t->arena, tok, len);
		if (v[n++] == NULL) {
			free(v);
			return tf_error(&ld->ctx, 0, "out of memory");
		}
	}
	if (n == 0) {
		free(v);
		return tf_error(&ld->ctx, ld->line, "alias without targets");
	}
	*out = v;
	*nout = n;
	return 0;
}

/* One line of the table (a tf_line_fn; arg is the loader). */
static int
parse_line(void *arg, unsigned line, char *s)
{
	struct loader *ld = arg;
	char *colon = strchr(s, ':'), *end;
	const char **tgt = NULL;
	size_t n, ntgt = 0;
	int rc;

	ld->line = line;
	end = colon != NULL ? colon : s + strlen(s);
	while (end > s && tf_is_blank(end[-1]))
		end--;
	n = (size_t)(end - s);
	for (size_t i = 0; i < n; i++)
		if (tf_is_blank(s[i]))
			return tf_error(&ld->ctx, ld->line,
			    "unexpected blank in \"%.*s\" (an alias needs "
			    "a ':' after its address)",
			    (int)(n > 200 ? 200 : n), s);
	if (s[0] == '@') {
		if (colon != NULL)
			return tf_error(&ld->ctx, ld->line,
			    "a catch-all (@domain) cannot be an alias");
		if (!tf_valid_domain(s + 1, n - 1))
			return tf_error(&ld->ctx, ld->line,
			    "bad domain in catch-all \"%.*s\"",
			    (int)(n > 200 ? 200 : n), s);
		return add_domain(ld, s + 1, n - 1, ld->line);
	}
	if (!valid_addr(s, n, false))
		return tf_error(&ld->ctx, ld->line,
		    "bad address \"%.*s\" (expected local@domain, @domain "
		    "or local@domain: targets)",
		    (int)(n > 200 ? 200 : n), s);
	if (colon != NULL && parse_targets(ld, colon + 1, &tgt, &ntgt) != 0)
		return -1;
	rc = add_entry(ld, s, n, tgt, ntgt);
	free(tgt);
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
	struct tf_map map; /* lower-case target -> index into stamp */
	uint32_t *stamp;   /* last alias (index + 1) that included it */
	size_t n, cap;
	const char **out; /* the expansion being built */
	size_t nout, outcap;
};

static int
finals_add(struct loader *ld, struct finals *f, uint32_t alias, const char *t)
{
	size_t len = strlen(t);
	const uint32_t *s = tf_map_find(&f->map, t, len);
	uint32_t idx;

	if (s != NULL) {
		idx = *s;
	} else {
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
		if (tf_map_put(&f->map, &ld->t->arena, t, len, idx) != 0)
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
				return tf_error(&ld->ctx, 0, "out of memory");
			continue;
		}
		if ((unsigned)c->depth + 1 > depth)
			depth = (unsigned)c->depth + 1;
		for (size_t j = 0; j < c->ntargets; j++)
			if (finals_add(ld, f, self, c->targets[j]) != 0)
				return tf_error(&ld->ctx, 0, "out of memory");
	}
	if (depth > ALIAS_LEVELS)
		return tf_error(&ld->ctx, e->line,
		    "alias %s is nested more than %d levels deep", e->text,
		    ALIAS_LEVELS);
	v = tf_arena_alloc(&ld->t->arena, f->nout * sizeof(*v));
	if (v == NULL)
		return tf_error(&ld->ctx, 0, "out of memory");
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
	tf_error(&ld->ctx, c->line, "alias loop: ");
	n = strlen(ld->ctx.err);
	for (size_t i = from; i < sp && n < ld->ctx.errlen; i++) {
		snprintf(ld->ctx.err + n, ld->ctx.errlen - n, "%s -> ",
		    stack[i]->text);
		n += strlen(ld->ctx.err + n);
	}
	if (n < ld->ctx.errlen)
		snprintf(ld->ctx.err + n, ld->ctx.errlen - n, "%s", c->text);
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
			rc = tf_error(&ld->ctx, 0, "out of memory");
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
	tf_map_free(&f.map);
	return rc;
}

/* Load the table file at path: the new table, or NULL with a message. */
static struct tf_snap *
table_load(const struct rmx_host_api *host, const char *path, const char *delim,
    char *err, size_t errlen)
{
	struct table *t = calloc(1, sizeof(*t));
	struct loader ld = {t, host, {PLUGIN_NAME, path, err, errlen}, 0};

	if (t == NULL || (t->path = strdup(path)) == NULL ||
	    (t->delim = strdup(delim)) == NULL) {
		snprintf(err, errlen, "%s: out of memory", PLUGIN_NAME);
		table_free(t);
		return NULL;
	}
	if (tf_read(&ld.ctx, TF_INLINE_COMMENTS, parse_line, &ld) != 0 ||
	    expand_aliases(&ld) != 0) {
		table_free(t);
		return NULL;
	}
	host->log(NULL, RMX_LOG_INFO, "table=%s entries=%zu domains=%zu",
	    t->path, t->ne, t->domains.n);
	return &t->snap;
}

/* ---------------------------------------------------------------- */
/* Plugin state, configuration, hooks.                                */

/* Validate cfg and load the table it names (a tf_load_fn). */
static struct tf_snap *
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
	return tf_plugin_init(PLUGIN_NAME, load_config, snap_free, host, cfg,
	    plugin_state, err, errlen);
}

static enum rmx_verdict
rt_rcpt(struct rmx_call *call, void *worker_state)
{
	const struct tf_plugin *p = worker_state;
	const struct rmx_host_api *h = p->host;
	const struct table *t = (struct table *)tf_plugin_table(p);
	const struct entry *e;
	const char *addr;
	size_t len;
	char text[REPLY_ADDR_MX + 64];

	if (tf_plugin_rcpt(p, call, &addr, &len) != 0)
		return RMX_CONTINUE;
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
    .worker_init = tf_plugin_worker_init,
    .worker_fini = tf_plugin_worker_fini,
    .fini = tf_plugin_fini,
    .cancel = NULL,
    .reconfigure = tf_plugin_reconfigure,
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
