/*
 * ip_limit.c - lock-free process-wide per-IP and total connection
 * counters (see ip_limit.h). Only counting lives here; policy (what to
 * answer) is the session's.
 *
 * Table: words of (tag << 16 | count). tag is 48 bits of a hash of the
 * address, never 0. Word values: 0 = never used (ends a probe chain),
 * TOMB (tag 0, count 0xffff) = freed slot that keeps chains intact.
 * acquire: walk the chain from the home slot until an empty word; if the
 * tag is present, CAS its count up; else CAS the first tombstone or the
 * empty word to (tag,1). release: find the tag, CAS its count down; at 0
 * the word becomes TOMB. If two threads insert the same new tag at once,
 * both CAS the SAME first free word (chains are scanned in the same
 * order), so one fails and retries and finds the tag: no duplicates.
 */
#include "ip_limit.h"

#include <netinet/in.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#define TOMB      ((uint64_t)0xffff)
#define MAX_PROBE 64

struct ip_limit {
	unsigned mask;
	atomic_uint total;
	_Atomic uint64_t *words;
};

/* ip_limit_new - allocate a table */
struct ip_limit *
ip_limit_new(unsigned slots)
{
	struct ip_limit *l = calloc(1, sizeof(*l));
	unsigned n = 64;

	if (l == NULL)
		return NULL;
	while (n < slots && n < (1u << 24))
		n <<= 1;
	l->mask = n - 1;
	l->words = calloc(n, sizeof(*l->words));
	if (l->words == NULL) {
		free(l);
		return NULL;
	}
	return l;
}

/* ip_limit_free - release a table (no thread may use it any more) */
void
ip_limit_free(struct ip_limit *l)
{
	if (l == NULL)
		return;
	free((void *)l->words);
	free(l);
}

static uint64_t
mix64(uint64_t x)
{
	x ^= x >> 33;
	x *= 0xff51afd7ed558ccdULL;
	x ^= x >> 33;
	x *= 0xc4ceb9fe1a85ec53ULL;
	x ^= x >> 33;
	return x;
}

/* ip_limit_key - hash an address into a key */
uint64_t
ip_limit_key(const struct sockaddr *sa)
{
	uint64_t a = 0, b = 0, k, fam = AF_INET;

	if (sa->sa_family == AF_INET) {
		const struct sockaddr_in *s4 = (const struct sockaddr_in *)sa;
		a = s4->sin_addr.s_addr;
	} else if (sa->sa_family == AF_INET6) {
		const struct sockaddr_in6 *s6 = (const struct sockaddr_in6 *)sa;
		if (IN6_IS_ADDR_V4MAPPED(&s6->sin6_addr)) {
			uint32_t v4;
			memcpy(&v4, &s6->sin6_addr.s6_addr[12], 4);
			a = v4;
		} else {
			memcpy(&a, &s6->sin6_addr.s6_addr[0], 8);
			memcpy(&b, &s6->sin6_addr.s6_addr[8], 8);
			b = mix64(b ^ 0x9e3779b97f4a7c15ULL);
			fam = AF_INET6;
		}
	}
	k = mix64(a ^ b ^ (fam << 56)) & 0xffffffffffffULL;
	return k == 0 ? 1 : k;
}

static inline uint64_t
tag_of(uint64_t w)
{
	return w >> 16;
}

static inline unsigned
count_of(uint64_t w)
{
	return (unsigned)(w & 0xffff);
}

/* ip_limit_acquire - count a connection if under both limits */
bool
ip_limit_acquire(
    struct ip_limit *l, uint64_t key, unsigned per_ip, unsigned total)
{
	unsigned t =
	    atomic_fetch_add_explicit(&l->total, 1, memory_order_relaxed);

	if (total != 0 && t >= total) {
		atomic_fetch_sub_explicit(&l->total, 1, memory_order_relaxed);
		return false;
	}
	if (per_ip > 0xfffe)
		per_ip = 0xfffe;
retry:
	for (unsigned i = 0; i < MAX_PROBE; i++) {
		unsigned slot = (unsigned)(key + i) & l->mask;
		uint64_t w =
		    atomic_load_explicit(&l->words[slot], memory_order_acquire);

		if (w != 0 && w != TOMB && tag_of(w) == key) {
			for (;;) {
				if (count_of(w) >= per_ip)
					goto refuse;
				if (atomic_compare_exchange_weak_explicit(
					&l->words[slot], &w, w + 1,
					memory_order_acq_rel,
					memory_order_acquire))
					return true;
				if (w == 0 || w == TOMB || tag_of(w) != key)
					goto retry;
			}
		}
		if (w == 0 || w == TOMB) {
			/* The tag may still sit further down the chain
			 * (behind a tombstone): look before inserting. */
			uint64_t want = (key << 16) | 1;
			if (w == TOMB) {
				for (unsigned j = i + 1; j < MAX_PROBE; j++) {
					uint64_t v = atomic_load_explicit(
					    &l->words[(key + j) & l->mask],
					    memory_order_acquire);
					if (v == 0)
						break;
					if (v != TOMB && tag_of(v) == key) {
						i = j - 1;
						goto next;
					}
				}
			}
			if (per_ip == 0)
				goto refuse;
			if (atomic_compare_exchange_strong_explicit(
				&l->words[slot], &w, want, memory_order_acq_rel,
				memory_order_acquire))
				return true;
			goto retry;
		}
	next:;
	}
	/* Table region saturated: count only the total (fail open). */
	return true;
refuse:
	atomic_fetch_sub_explicit(&l->total, 1, memory_order_relaxed);
	return false;
}

/* ip_limit_release - uncount a connection counted by ip_limit_acquire */
void
ip_limit_release(struct ip_limit *l, uint64_t key)
{
	atomic_fetch_sub_explicit(&l->total, 1, memory_order_relaxed);
	for (unsigned i = 0; i < MAX_PROBE; i++) {
		unsigned slot = (unsigned)(key + i) & l->mask;
		uint64_t w =
		    atomic_load_explicit(&l->words[slot], memory_order_acquire);

		if (w == 0)
			return;
		while (w != TOMB && tag_of(w) == key) {
			uint64_t nw = count_of(w) <= 1 ? TOMB : w - 1;
			if (atomic_compare_exchange_weak_explicit(
				&l->words[slot], &w, nw, memory_order_acq_rel,
				memory_order_acquire))
				return;
		}
	}
}

/* ip_limit_count - current count for key */
unsigned
ip_limit_count(struct ip_limit *l, uint64_t key)
{
	for (unsigned i = 0; i < MAX_PROBE; i++) {
		uint64_t w = atomic_load_explicit(
		    &l->words[(key + i) & l->mask], memory_order_acquire);
		if (w == 0)
			return 0;
		if (w != TOMB && tag_of(w) == key)
			return count_of(w);
	}
	return 0;
}

/* ip_limit_total - connections counted in all */
unsigned
ip_limit_total(struct ip_limit *l)
{
	return atomic_load_explicit(&l->total, memory_order_relaxed);
}
