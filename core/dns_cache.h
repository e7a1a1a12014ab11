/*
 * dns_cache.h - a worker's cache of whole DNS answers (wire format) for
 * the plugins' dns_query: a hit is answered on the worker's own loop,
 * without the round trip through libunbound's helper thread (two thread
 * switches and a pipe per query even when libunbound has the answer in
 * its cache). What is cached: NOERROR and NXDOMAIN answers that were not
 * bogus, for their TTL (positive answers, at most an hour) or 30 seconds
 * (negative ones, which carry no TTL here). Failures are never cached.
 *
 * Not here: resolution itself (dns/dns_resolver.c), delivering answers
 * to plugins (plugin_host.c).
 *
 * Ownership and threads: one cache per worker (struct plugin_worker),
 * used only on that worker's thread; no locks.
 */
#ifndef RINGMX_DNS_CACHE_H
#define RINGMX_DNS_CACHE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define DNS_CACHE_NEG_TTL 30   /* seconds for NXDOMAIN / NODATA */
#define DNS_CACHE_MAX_TTL 3600 /* cap for positive answers */

struct dns_cache;

/* NULL out of memory; max_entries > 0 bounds memory (oldest go first). */
struct dns_cache *dns_cache_new(size_t max_entries);
void dns_cache_free(struct dns_cache *c);
/*
 * dns_cache_get - a fresh answer for (name, type): true with *wire (valid
 * until the next put or free), *len, *rcode and *secure. Names compare
 * case-insensitively, a trailing dot ignored.
 */
bool dns_cache_get(struct dns_cache *c, const char *name, uint16_t type,
    uint64_t now_ms, int *rcode, int *secure, const uint8_t **wire,
    size_t *len);
/* dns_cache_put - remember an answer for ttl seconds (0: not at all). */
void dns_cache_put(struct dns_cache *c, const char *name, uint16_t type,
    int rcode, int secure, const uint8_t *wire, size_t len, uint32_t ttl,
    uint64_t now_ms);
/* Entries held (tests). */
size_t dns_cache_size(const struct dns_cache *c);

#endif
