/*
 * table_file.c - loading and serving table files for the table-driven
 * plugins: messages with file:line, the line reader, syntax helpers, the
 * arena, the case-insensitive hash map and the current-table swap (see
 * table_file.h).
 */
#include "table_file.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>

/* ---- messages ---- */

/* tf_verror - write the message; see table_file.h */
int
tf_verror(const struct tf_ctx *c, unsigned line, const char *fmt, va_list ap)
{
	int n;

	if (line > 0)
		n = snprintf(
		    c->err, c->errlen, "%s: %s:%u: ", c->who, c->path, line);
	else
		n = snprintf(c->err, c->errlen, "%s: %s: ", c->who, c->path);
	if (n < 0 || (size_t)n >= c->errlen)
		return -1;
	vsnprintf(c->err + n, c->errlen - (size_t)n, fmt, ap);
	return -1;
}

/* tf_error - write the message; see table_file.h */
int
tf_error(const struct tf_ctx *c, unsigned line, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	tf_verror(c, line, fmt, ap);
	va_end(ap);
	return -1;
}

/* ---- the line reader ---- */

/* tf_open - open the file; see table_file.h */
int
tf_open(struct tf_reader *r, const struct tf_ctx *c, unsigned flags)
{
	*r = (struct tf_reader){.ctx = c, .flags = flags};
	r->f = fopen(c->path, "re");
	return r->f != NULL ? 0 : -1;
}

/* tf_next - the next line with content; see table_file.h */
int
tf_next(struct tf_reader *r, char **text)
{
	ssize_t len;

	while ((len = getline(&r->buf, &r->cap, r->f)) >= 0) {
		char *s = r->buf, *e;

		r->line++;
		if (memchr(r->buf, '\0', (size_t)len) != NULL)
			return tf_error(r->ctx, r->line, "NUL byte in line");
		while (tf_is_blank(*s))
			s++;
		for (e = s; *e != '\0'; e++)
			if (*e == '#' &&
			    (e == s || ((r->flags & TF_INLINE_COMMENTS) &&
					   tf_is_blank(e[-1]))))
				break;
		while (e > s && tf_is_blank(e[-1]))
			e--;
		*e = '\0';
		if (*s != '\0') {
			*text = s;
			return 1;
		}
	}
	if (ferror(r->f))
		return tf_error(r->ctx, 0, "read error: %s", strerror(errno));
	return 0;
}

/* tf_close - close the file and free the buffer */
void
tf_close(struct tf_reader *r)
{
	if (r->f != NULL)
		fclose(r->f);
	free(r->buf);
	r->f = NULL;
	r->buf = NULL;
	r->cap = 0;
}

/* tf_read - call fn for each line of the file; see table_file.h */
int
tf_read(const struct tf_ctx *c, unsigned flags, tf_line_fn *fn, void *arg)
{
	struct tf_reader r;
	char *s;
	int rc;

	if (tf_open(&r, c, flags) != 0)
		return tf_error(c, 0, "%s", strerror(errno));
	while ((rc = tf_next(&r, &s)) > 0)
		if (fn(arg, r.line, s) != 0) {
			rc = -1;
			break;
		}
	tf_close(&r);
	return rc < 0 ? -1 : 0;
}

/* ---- syntax ---- */

/* tf_is_blank - space, tab, CR, LF, FF or VT */
bool
tf_is_blank(char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '\f' ||
	       c == '\v';
}

/* tf_trim - cut blanks at both ends of s, in place */
char *
tf_trim(char *s)
{
	size_t n;

	while (tf_is_blank(*s))
		s++;
	n = strlen(s);
	while (n > 0 && tf_is_blank(s[n - 1]))
		s[--n] = '\0';
	return s;
}

/* tf_valid_domain - whether d[0..n) is a domain name */
bool
tf_valid_domain(const char *d, size_t n)
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

/* tf_valid_local - whether l[0..n) is a local part a table accepts */
bool
tf_valid_local(const char *l, size_t n)
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

/* ---- the arena ---- */

#define CHUNK_MIN 60000 /* bytes in a chunk, unless one object is larger */

struct tf_chunk {
	struct tf_chunk *next;
	size_t used, cap;
	max_align_t data[];
};

/* tf_arena_alloc - n aligned bytes from the arena */
void *
tf_arena_alloc(struct tf_arena *a, size_t n)
{
	const size_t align = sizeof(max_align_t);
	struct tf_chunk *c = a->head;
	size_t cap;

	n = (n + align - 1) / align * align;
	if (n == 0)
		n = align;
	if (c == NULL || c->cap - c->used < n) {
		cap = n > CHUNK_MIN ? n : CHUNK_MIN;
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

/* tf_arena_strndup - a NUL-terminated copy of s[0..n) in the arena */
char *
tf_arena_strndup(struct tf_arena *a, const char *s, size_t n)
{
	char *p = tf_arena_alloc(a, n + 1);

	if (p == NULL)
		return NULL;
	memcpy(p, s, n);
	p[n] = '\0';
	return p;
}

/* tf_arena_free - free every chunk */
void
tf_arena_free(struct tf_arena *a)
{
	struct tf_chunk *c = a->head, *next;

	for (; c != NULL; c = next) {
		next = c->next;
		free(c);
	}
	a->head = NULL;
}

/* ---- the case-insensitive hash map ---- */

static char
lower(char c)
{
	return c >= 'A' && c <= 'Z' ? (char)(c + 32) : c;
}

/* FNV-1a over the lower-case octets, continued from h. */
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
key_equal(const struct tf_slot *s, const char *p1, size_t l1, const char *p2,
    size_t l2)
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

/* tf_map_find2 - the value of the key p1 p2, or NULL */
uint32_t *
tf_map_find2(const struct tf_map *m, const char *p1, size_t l1, const char *p2,
    size_t l2)
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
			return &m->slot[i].val;
	return NULL;
}

/* tf_map_find - the value of key, or NULL */
uint32_t *
tf_map_find(const struct tf_map *m, const char *key, size_t n)
{
	return tf_map_find2(m, key, n, "", 0);
}

static int
map_grow(struct tf_map *m)
{
	size_t cap = m->cap ? m->cap * 2 : 64;
	struct tf_slot *ns = calloc(cap, sizeof(*ns));

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

/* tf_map_put - add a key not present yet (copied, lower case, into a) */
int
tf_map_put(struct tf_map *m, struct tf_arena *a, const char *key, size_t n,
    uint32_t val)
{
	uint64_t h = hash2(key, n, "", 0);
	char *k = tf_arena_alloc(a, n + 1);
	size_t i;

	if (k == NULL || ((m->n + 1) * 2 > m->cap && map_grow(m) != 0))
		return -ENOMEM;
	for (i = 0; i < n; i++)
		k[i] = lower(key[i]);
	k[n] = '\0';
	for (i = (size_t)h & (m->cap - 1); m->slot[i].key != NULL;
	     i = (i + 1) & (m->cap - 1))
		;
	m->slot[i] = (struct tf_slot){k, n, h, val};
	m->n++;
	return 0;
}

/* tf_map_free - free the slots */
void
tf_map_free(struct tf_map *m)
{
	free(m->slot);
	m->slot = NULL;
	m->cap = m->n = 0;
}

/* ---- the plugin state: the current table ---- */

/* tf_plugin_init - check the host, load the first table, make the state */
int
tf_plugin_init(const char *who, tf_load_fn *load, tf_free_fn *free_table,
    const struct rmx_host_api *host, const struct rmx_kv *cfg,
    void **plugin_state, char *err, size_t errlen)
{
	struct tf_plugin *p;
	struct tf_snap *t;

	if (host == NULL || host->abi_version >> 16 != RMX_PLUGIN_ABI_MAJOR) {
		snprintf(err, errlen, "%s: host ABI mismatch", who);
		return -1;
	}
	t = load(host, cfg, err, errlen);
	if (t == NULL)
		return -1;
	p = calloc(1, sizeof(*p));
	if (p == NULL) {
		free_table(t);
		snprintf(err, errlen, "%s: out of memory", who);
		return -1;
	}
	p->host = host;
	p->load = load;
	p->free_table = free_table;
	atomic_init(&p->cur, t);
	*plugin_state = p;
	return 0;
}

/* tf_plugin_reconfigure - load a new table, publish it, retire the old */
int
tf_plugin_reconfigure(
    void *plugin_state, const struct rmx_kv *cfg, char *err, size_t errlen)
{
	struct tf_plugin *p = plugin_state;
	struct tf_snap *t = p->load(p->host, cfg, err, errlen), *old;

	if (t == NULL)
		return -1;
	old = atomic_exchange_explicit(&p->cur, t, memory_order_acq_rel);
	old->retired_next = p->retired;
	p->retired = old;
	return 0;
}

/* tf_plugin_fini - free every table and the state */
void
tf_plugin_fini(void *plugin_state)
{
	struct tf_plugin *p = plugin_state;
	struct tf_snap *t, *next;

	if (p == NULL)
		return;
	p->free_table(atomic_load_explicit(&p->cur, memory_order_relaxed));
	for (t = p->retired; t != NULL; t = next) {
		next = t->retired_next;
		p->free_table(t);
	}
	free(p);
}

/* tf_plugin_worker_init - workers share the state: tables are read-only */
int
tf_plugin_worker_init(void *plugin_state, unsigned worker, void **worker_state)
{
	(void)worker;
	*worker_state = plugin_state;
	return 0;
}

/* tf_plugin_worker_fini - nothing is allocated per worker */
void
tf_plugin_worker_fini(void *worker_state)
{
	(void)worker_state;
}

/* tf_plugin_rcpt - the current recipient, without "<>" */
int
tf_plugin_rcpt(const struct tf_plugin *p, struct rmx_call *call,
    const char **addr, size_t *len)
{
	if (p->host->get_item(call, RMX_ITEM_RCPT_CURRENT, 0, addr, len) != 0)
		return -1;
	if (*len >= 2 && (*addr)[0] == '<' && (*addr)[*len - 1] == '>') {
		(*addr)++;
		*len -= 2;
	}
	return 0;
}
