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
#include <netinet/in.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/un.h>

#include "ringmx/plugin.h"
#include "table_file.h"

#define PLUGIN_NAME "route_table"

/* ---------------------------------------------------------------- */
/* The table.                                                         */

struct route {
	const char *transport;
	unsigned line;
};

struct table {
	struct tf_snap snap; /* first: a struct tf_snap * is the table */
	struct tf_arena arena;
	struct route *r;
	size_t nr, cap;
	struct tf_map keys; /* lower-case key -> index into r */
	char *path;
};

static void
table_free(struct table *t)
{
	if (t == NULL)
		return;
	tf_arena_free(&t->arena);
	tf_map_free(&t->keys);
	free(t->r);
	free(t->path);
	free(t);
}

static void
snap_free(struct tf_snap *s)
{
	table_free((struct table *)s);
}

static const struct route *
table_get(const struct table *t, const char *key, size_t n)
{
	const uint32_t *i = tf_map_find(&t->keys, key, n);

	return i != NULL ? &t->r[*i] : NULL;
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
	struct tf_ctx ctx; /* PLUGIN_NAME, the table file, the message */
};

static bool
valid_key(const char *k, size_t n)
{
	const char *at = memchr(k, '@', n);

	if (n == 1 && k[0] == '*')
		return true;
	if (at == NULL)
		return k[0] == '.' ? tf_valid_domain(k + 1, n - 1)
				   : tf_valid_domain(k, n);
	return tf_valid_local(k, (size_t)(at - k)) &&
	       tf_valid_domain(at + 1, n - (size_t)(at - k) - 1);
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
	} else if (!tf_valid_domain(host, hlen)) {
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

/* One line of the table (a tf_line_fn; arg is the loader). */
static int
parse_line(void *arg, unsigned line, char *s)
{
	struct loader *ld = arg;
	struct table *t = ld->t;
	char *key = s, *tr, *end;
	const uint32_t *dup;
	size_t klen;

	while (*s != '\0' && !tf_is_blank(*s))
		s++;
	klen = (size_t)(s - key);
	while (tf_is_blank(*s))
		*s++ = '\0';
	tr = s;
	while (*s != '\0' && !tf_is_blank(*s))
		s++;
	end = s;
	while (tf_is_blank(*s))
		s++;
	if (*tr == '\0')
		return tf_error(&ld->ctx, line,
		    "\"%.*s\" has no transport (expected \"key transport\")",
		    (int)(klen > 200 ? 200 : klen), key);
	if (*s != '\0')
		return tf_error(&ld->ctx, line,
		    "unexpected \"%.40s\" after the transport", s);
	*end = '\0';
	if (!valid_key(key, klen))
		return tf_error(&ld->ctx, line,
		    "bad key \"%.*s\" (expected user@domain, domain, "
		    ".domain or *)",
		    (int)(klen > 200 ? 200 : klen), key);
	if (!valid_transport(tr))
		return tf_error(&ld->ctx, line,
		    "bad transport \"%.200s\" (expected maildir, "
		    "lmtp:[host]:port, lmtp:unix:/path, smtp:[host]:port, "
		    "mx, hold or discard)",
		    tr);
	if ((dup = tf_map_find(&t->keys, key, klen)) != NULL)
		return tf_error(&ld->ctx, line,
		    "duplicate key \"%.*s\" (first at line %u)",
		    (int)(klen > 200 ? 200 : klen), key, t->r[*dup].line);
	if (t->nr == UINT32_MAX)
		return tf_error(&ld->ctx, line, "too many entries");
	if (t->nr == t->cap) {
		size_t cap = t->cap ? t->cap * 2 : 256;
		struct route *nr = realloc(t->r, cap * sizeof(*nr));

		if (nr == NULL)
			return tf_error(&ld->ctx, 0, "out of memory");
		t->r = nr;
		t->cap = cap;
	}
	t->r[t->nr].line = line;
	t->r[t->nr].transport = tf_arena_strndup(&t->arena, tr, strlen(tr));
	if (t->r[t->nr].transport == NULL ||
	    tf_map_put(&t->keys, &t->arena, key, klen, (uint32_t)t->nr) != 0)
		return tf_error(&ld->ctx, 0, "out of memory");
	t->nr++;
	return 0;
}

/* Load the table file at path: the new table, or NULL with a message. */
static struct tf_snap *
table_load(
    const struct rmx_host_api *host, const char *path, char *err, size_t errlen)
{
	struct table *t = calloc(1, sizeof(*t));
	struct loader ld = {t, {PLUGIN_NAME, path, err, errlen}};

	if (t == NULL || (t->path = strdup(path)) == NULL) {
		snprintf(err, errlen, "%s: out of memory", PLUGIN_NAME);
		table_free(t);
		return NULL;
	}
	if (tf_read(&ld.ctx, TF_INLINE_COMMENTS, parse_line, &ld) != 0) {
		table_free(t);
		return NULL;
	}
	host->log(NULL, RMX_LOG_INFO, "table=%s routes=%zu", t->path, t->nr);
	return &t->snap;
}

/* ---------------------------------------------------------------- */
/* Plugin state, configuration, hooks.                                */

/* Validate cfg and load the table it names (a tf_load_fn). */
static struct tf_snap *
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
	return tf_plugin_init(PLUGIN_NAME, load_config, snap_free, host, cfg,
	    plugin_state, err, errlen);
}

static enum rmx_verdict
rt_route(struct rmx_call *call, void *worker_state)
{
	const struct tf_plugin *p = worker_state;
	const struct rmx_host_api *h = p->host;
	const struct table *t = (struct table *)tf_plugin_table(p);
	const struct route *r;
	const char *addr;
	size_t len;

	if (tf_plugin_rcpt(p, call, &addr, &len) != 0)
		return RMX_CONTINUE;
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
