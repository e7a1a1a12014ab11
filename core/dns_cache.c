/*
 * dns_cache.c - a worker's answer cache for plugin DNS queries (see
 * dns_cache.h): a chained hash table with a FIFO for eviction.
 */
#include "dns_cache.h"

#include <stdlib.h>
#include <string.h>

#define NAME_MAX_LEN 253

struct entry {
	struct entry *next;          /* hash chain */
	struct entry *older, *newer; /* FIFO, oldest first out */
	uint64_t expires_ms;
	uint16_t type;
	int rcode, secure;
	size_t len;
	char name[NAME_MAX_LEN + 1]; /* lower-case, no trailing dot */
	uint8_t wire[];
};

struct dns_cache {
	struct entry **buckets;
	size_t nbuckets; /* power of two */
	size_t n, max;
	struct entry *oldest, *newest;
};

/* Lower-case copy without a trailing dot; false if too long. */
static bool
norm(const char *in, char *out)
{
	size_t n = strlen(in);

	if (n > 0 && in[n - 1] == '.')
		n--;
	if (n > NAME_MAX_LEN)
		return false;
	for (size_t i = 0; i < n; i++)
		out[i] =
		    (in[i] >= 'A' && in[i] <= 'Z') ? (char)(in[i] + 32) : in[i];
	out[n] = '\0';
	return true;
}

static size_t
hash(const struct dns_cache *c, const char *name, uint16_t type)
{
	uint64_t h = 1469598103934665603ULL ^ type; /* FNV-1a */

	for (; *name; name++)
		h = (h ^ (unsigned char)*name) * 1099511628211ULL;
	return (size_t)(h & (c->nbuckets - 1));
}

struct dns_cache *
dns_cache_new(size_t max_entries)
{
	struct dns_cache *c = calloc(1, sizeof(*c));

	if (c == NULL || max_entries == 0) {
		free(c);
		return NULL;
	}
	c->nbuckets = 64;
	while (c->nbuckets < max_entries)
		c->nbuckets *= 2;
	if ((c->buckets = calloc(c->nbuckets, sizeof(*c->buckets))) == NULL) {
		free(c);
		return NULL;
	}
	c->max = max_entries;
	return c;
}

void
dns_cache_free(struct dns_cache *c)
{
	struct entry *e, *n;

	if (c == NULL)
		return;
	for (e = c->oldest; e != NULL; e = n) {
		n = e->newer;
		free(e);
	}
	free(c->buckets);
	free(c);
}

/* Unlink e from its chain and the FIFO and free it. */
static void
drop(struct dns_cache *c, struct entry *e)
{
	struct entry **pp = &c->buckets[hash(c, e->name, e->type)];

	while (*pp != NULL && *pp != e)
		pp = &(*pp)->next;
	if (*pp == e)
		*pp = e->next;
	if (e->older != NULL)
		e->older->newer = e->newer;
	else
		c->oldest = e->newer;
	if (e->newer != NULL)
		e->newer->older = e->older;
	else
		c->newest = e->older;
	c->n--;
	free(e);
}

static struct entry *
find(struct dns_cache *c, const char *name, uint16_t type)
{
	struct entry *e = c->buckets[hash(c, name, type)];

	for (; e != NULL; e = e->next)
		if (e->type == type && strcmp(e->name, name) == 0)
			return e;
	return NULL;
}

bool
dns_cache_get(struct dns_cache *c, const char *name, uint16_t type,
    uint64_t now_ms, int *rcode, int *secure, const uint8_t **wire, size_t *len)
{
	char key[NAME_MAX_LEN + 1];
	struct entry *e;

	if (c == NULL || !norm(name, key) || (e = find(c, key, type)) == NULL)
		return false;
	if (e->expires_ms <= now_ms) {
		drop(c, e);
		return false;
	}
	*rcode = e->rcode;
	*secure = e->secure;
	*wire = e->wire;
	*len = e->len;
	return true;
}

void
dns_cache_put(struct dns_cache *c, const char *name, uint16_t type, int rcode,
    int secure, const uint8_t *wire, size_t len, uint32_t ttl, uint64_t now_ms)
{
	char key[NAME_MAX_LEN + 1];
	struct entry *e;
	size_t b;

	if (c == NULL || ttl == 0 || wire == NULL || len == 0 || len > 65535 ||
	    !norm(name, key))
		return;
	if ((e = find(c, key, type)) != NULL)
		drop(c, e);
	while (c->n >= c->max && c->oldest != NULL)
		drop(c, c->oldest);
	if ((e = malloc(sizeof(*e) + len)) == NULL)
		return;
	memset(e, 0, sizeof(*e));
	memcpy(e->name, key, strlen(key) + 1);
	e->type = type;
	e->rcode = rcode;
	e->secure = secure;
	e->len = len;
	memcpy(e->wire, wire, len);
	e->expires_ms = now_ms + (uint64_t)ttl * 1000;
	b = hash(c, key, type);
	e->next = c->buckets[b];
	c->buckets[b] = e;
	e->older = c->newest;
	if (c->newest != NULL)
		c->newest->newer = e;
	else
		c->oldest = e;
	c->newest = e;
	c->n++;
}

size_t
dns_cache_size(const struct dns_cache *c)
{
	return c ? c->n : 0;
}
