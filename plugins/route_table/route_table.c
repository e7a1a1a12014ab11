/*
 * route_table.c - the route_table plugin: chooses the transport of each
 * recipient (ROUTE hook) from a table keyed by address or domain.
 *
 * Configuration (the plugin's group in the main configuration):
 *   table = "/etc/ringmx/routes";   required: the table file
 *
 * Table file: one "key transport" pair per line, separated by blanks;
 * '#' at the start of a line or after a blank starts a comment; blank
 * lines are ignored. Keys (case-insensitive):
 *
 *   user@domain.example   this exact address
 *   domain.example        this exact domain
 *   .domain.example       every subdomain of domain.example (not the
 *                         domain itself)
 *   *                     the default
 *
 * Transports (checked at load time):
 *
 *   maildir  lmtp:[host]:port  lmtp:unix:/path  smtp:[host]:port  mx
 *   hold     discard
 *
 * host is a domain name, an IPv4 address or an IPv6 address; port is
 * 1-65535; /path is an absolute path of at most 107 octets.
 *
 * Lookup order for a recipient: the exact address, the exact domain,
 * then ".parent" entries from the most specific to the least ("a.b.c":
 * ".b.c", then ".c"), then "*". On a match: route_set(transport) and
 * RMX_ACCEPT; no match: RMX_CONTINUE. Malformed lines, bad transports and
 * duplicate keys are load errors naming the file and line.
 *
 * The table is built at load time (init, reconfigure: main thread) into
 * an immutable hash map, so a lookup in the hook costs a few O(1) probes
 * (one per label of the domain) and never blocks. reconfigure builds a
 * new table and swaps an atomic pointer; replaced tables are kept until
 * fini because a worker may still be reading one.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/un.h>

#include "ringmx/plugin.h"

#define PLUGIN_NAME "route_table"

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
/* case-insensitive.                                                  */

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
hash(const char *s, size_t n)
{
	uint64_t h = 0xcbf29ce484222325ULL;

	for (size_t i = 0; i < n; i++) {
		h ^= (unsigned char)lower(s[i]);
		h *= 0x100000001b3ULL;
	}
	return h;
}

static const struct hslot *
hmap_get(const struct hmap *m, const char *s, size_t n)
{
	uint64_t h;
	size_t i;

	if (m->cap == 0)
		return NULL;
	h = hash(s, n);
	for (i = (size_t)h & (m->cap - 1); m->slot[i].key != NULL;
	     i = (i + 1) & (m->cap - 1)) {
		const struct hslot *sl = &m->slot[i];
		size_t j = 0;

		if (sl->hash != h || sl->klen != n)
			continue;
		while (j < n && sl->key[j] == lower(s[j]))
			j++;
		if (j == n)
			return sl;
	}
	return NULL;
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
	uint64_t h = hash(key, klen);
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

struct route {
	const char *transport;
	unsigned line;
};

struct table {
	struct arena arena;
	struct route *r;
	size_t nr, cap;
	struct hmap keys; /* lower-case key -> index into r */
	char *path;
	struct table *retired_next;
};

static void
table_free(struct table *t)
{
	if (t == NULL)
		return;
	arena_free(&t->arena);
	hmap_free(&t->keys);
	free(t->r);
	free(t->path);
	free(t);
}

static const struct route *
table_get(const struct table *t, const char *key, size_t n)
{
	const struct hslot *s = hmap_get(&t->keys, key, n);

	return s != NULL ? &t->r[s->val] : NULL;
}

/* The route for addr (exact address, domain, parent domains, "*"). */
static const struct route *
table_lookup(const struct table *t, const char *addr, size_t len)
{
	const char *at = memrchr(addr, '@', len), *dom;
	const struct route *r;
	size_t dlen;

	if (at != NULL) {
		if (len > 0 && addr[len - 1] == '.' && at < addr + len - 1)
			len--; /* one trailing dot: same domain */
		if ((r = table_get(t, addr, len)) != NULL)
			return r;
		dom = at + 1;
		dlen = len - (size_t)(dom - addr);
		if (dlen > 0 && (r = table_get(t, dom, dlen)) != NULL)
			return r;
		for (size_t i = 1; i < dlen; i++)
			if (dom[i] == '.' &&
			    (r = table_get(t, dom + i, dlen - i)) != NULL)
				return r;
	}
	return table_get(t, "*", 1);
}

/* ---------------------------------------------------------------- */
/* Loading.                                                           */

struct loader {
	struct table *t;
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
is_blank(char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '\f' ||
	       c == '\v';
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
valid_key(const char *k, size_t n)
{
	const char *at = memchr(k, '@', n);

	if (n == 1 && k[0] == '*')
		return true;
	if (at == NULL)
		return k[0] == '.' ? valid_domain(k + 1, n - 1)
				   : valid_domain(k, n);
	if (at == k || (size_t)(at - k) > 64)
		return false;
	for (const char *p = k; p < at; p++)
		if ((unsigned char)*p <= 0x20 || *p == 0x7f ||
		    strchr("@,:\"<>", *p) != NULL)
			return false;
	return valid_domain(at + 1, n - (size_t)(at - k) - 1);
}

/* "[host]:port" with host a domain or an IP address. */
static bool
valid_host_port(const char *s)
{
	const char *close = strchr(s, ']'), *port;
	char host[256];
	size_t hlen;
	unsigned long v = 0;
	struct in6_addr a6;

	if (s[0] != '[' || close == NULL || close[1] != ':')
		return false;
	hlen = (size_t)(close - s - 1);
	if (hlen == 0 || hlen >= sizeof(host))
		return false;
	memcpy(host, s + 1, hlen);
	host[hlen] = '\0';
	if (memchr(host, ':', hlen) != NULL) {
		if (inet_pton(AF_INET6, host, &a6) != 1)
			return false;
	} else if (!valid_domain(host, hlen)) {
		return false;
	}
	port = close + 2;
	if (port[0] == '\0' || strlen(port) > 5)
		return false;
	for (const char *p = port; *p != '\0'; p++) {
		if (*p < '0' || *p > '9')
			return false;
		v = v * 10 + (unsigned long)(*p - '0');
	}
	return v >= 1 && v <= 65535;
}

static bool
valid_transport(const char *t)
{
	static const char *const plain[] = {"maildir", "mx", "hold", "discard"};

	for (size_t i = 0; i < sizeof(plain) / sizeof(plain[0]); i++)
		if (strcmp(t, plain[i]) == 0)
			return true;
	if (strncmp(t, "lmtp:unix:", 10) == 0)
		return t[10] == '/' && t[11] != '\0' &&
		       strlen(t + 10) <
			   sizeof(((struct sockaddr_un *)0)->sun_path);
	if (strncmp(t, "lmtp:", 5) == 0 || strncmp(t, "smtp:", 5) == 0)
		return valid_host_port(t + 5);
	return false;
}

/* One line, comments already removed and blanks trimmed; non-empty. */
static int
parse_line(struct loader *ld, char *s)
{
	struct table *t = ld->t;
	char *key = s, *tr, *end;
	const struct hslot *dup;
	size_t klen;
	char *lkey;

	while (*s != '\0' && !is_blank(*s))
		s++;
	klen = (size_t)(s - key);
	while (is_blank(*s))
		*s++ = '\0';
	tr = s;
	while (*s != '\0' && !is_blank(*s))
		s++;
	end = s;
	while (is_blank(*s))
		s++;
	if (*tr == '\0')
		return load_error(ld, ld->line,
		    "\"%.*s\" has no transport (expected \"key transport\")",
		    (int)(klen > 200 ? 200 : klen), key);
	if (*s != '\0')
		return load_error(ld, ld->line,
		    "unexpected \"%.40s\" after the transport", s);
	*end = '\0';
	if (!valid_key(key, klen))
		return load_error(ld, ld->line,
		    "bad key \"%.*s\" (expected user@domain, domain, "
		    ".domain or *)",
		    (int)(klen > 200 ? 200 : klen), key);
	if (!valid_transport(tr))
		return load_error(ld, ld->line,
		    "bad transport \"%.200s\" (expected maildir, "
		    "lmtp:[host]:port, lmtp:unix:/path, smtp:[host]:port, "
		    "mx, hold or discard)",
		    tr);
	if ((dup = hmap_get(&t->keys, key, klen)) != NULL)
		return load_error(ld, ld->line,
		    "duplicate key \"%.*s\" (first at line %u)",
		    (int)(klen > 200 ? 200 : klen), key, t->r[dup->val].line);
	if (t->nr == UINT32_MAX)
		return load_error(ld, ld->line, "too many entries");
	if (t->nr == t->cap) {
		size_t cap = t->cap ? t->cap * 2 : 256;
		struct route *nr = realloc(t->r, cap * sizeof(*nr));

		if (nr == NULL)
			return load_error(ld, 0, "out of memory");
		t->r = nr;
		t->cap = cap;
	}
	t->r[t->nr].line = ld->line;
	t->r[t->nr].transport = arena_strndup(&t->arena, tr, strlen(tr), false);
	lkey = arena_strndup(&t->arena, key, klen, true);
	if (t->r[t->nr].transport == NULL || lkey == NULL ||
	    hmap_put(&t->keys, lkey, klen, (uint32_t)t->nr) != 0)
		return load_error(ld, 0, "out of memory");
	t->nr++;
	return 0;
}

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

static struct table *
table_load(
    const struct rmx_host_api *host, const char *path, char *err, size_t errlen)
{
	struct table *t = calloc(1, sizeof(*t));
	struct loader ld = {t, err, errlen, 0};

	if (t == NULL || (t->path = strdup(path)) == NULL) {
		snprintf(err, errlen, "%s: out of memory", PLUGIN_NAME);
		table_free(t);
		return NULL;
	}
	if (read_file(&ld) != 0) {
		table_free(t);
		return NULL;
	}
	host->log(NULL, RMX_LOG_INFO, "table=%s routes=%zu", t->path, t->nr);
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
	const char *path = NULL;

	for (; cfg != NULL && cfg->key != NULL; cfg++) {
		if (strcmp(cfg->key, "table") != 0) {
			snprintf(err, errlen, "%s: unknown key \"%s\"",
			    PLUGIN_NAME, cfg->key);
			return NULL;
		}
		if (path != NULL) {
			snprintf(err, errlen, "%s: key \"table\" given twice",
			    PLUGIN_NAME);
			return NULL;
		}
		path = cfg->value != NULL ? cfg->value : "";
	}
	if (path == NULL || path[0] == '\0') {
		snprintf(
		    err, errlen, "%s: key \"table\" is required", PLUGIN_NAME);
		return NULL;
	}
	return table_load(host, path, err, errlen);
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
rt_route(struct rmx_call *call, void *worker_state)
{
	const struct state *st = worker_state;
	const struct rmx_host_api *h = st->host;
	const struct table *t =
	    atomic_load_explicit(&st->cur, memory_order_acquire);
	const struct route *r;
	const char *addr;
	size_t len;

	if (h->get_item(call, RMX_ITEM_RCPT_CURRENT, 0, &addr, &len) != 0)
		return RMX_CONTINUE;
	if (len >= 2 && addr[0] == '<' && addr[len - 1] == '>') {
		addr++;
		len -= 2;
	}
	r = table_lookup(t, addr, len);
	if (r == NULL)
		return RMX_CONTINUE;
	if (h->route_set(call, r->transport) == 0)
		return RMX_ACCEPT;
	h->log(call, RMX_LOG_ERR,
	    "table=%s line=%u transport=%s msg=\"route_set failed\"", t->path,
	    r->line, r->transport);
	h->set_reply(call, 451, "4.3.0", "Temporary routing failure");
	return RMX_TEMPFAIL;
}

static const struct rmx_hook hooks[] = {
    {RMX_HOOK_ROUTE, RMX_HOOK_F_REQUIRED, rt_route},
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
