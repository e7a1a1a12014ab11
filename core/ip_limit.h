/*
 * ip_limit.h - process-wide connection counters: per client IP and total.
 *
 * SHARED between all worker threads (SO_REUSEPORT spreads one client over
 * every worker, yet the limit must hold for the whole process). Lock-free:
 * a fixed open-addressing table of 64-bit atomic words, each packing a
 * 48-bit tag of the address and a 16-bit count; acquire and release are a
 * short CAS loop, never a lock or a syscall. Nothing else lives here.
 */
#ifndef RINGMX_IP_LIMIT_H
#define RINGMX_IP_LIMIT_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>

struct ip_limit;

/* Create a table; slots is rounded up to a power of two. */
struct ip_limit *ip_limit_new(unsigned slots);
void ip_limit_free(struct ip_limit *l);

/* The 64-bit key of an address (IPv4, IPv6; v4-mapped IPv6 = IPv4). */
uint64_t ip_limit_key(const struct sockaddr *sa);

/*
 * ip_limit_acquire - count one more connection for key unless that would
 * exceed per_ip, or the total would exceed total. Returns true when
 * counted (the caller must call ip_limit_release once later).
 */
bool ip_limit_acquire(
    struct ip_limit *l, uint64_t key, unsigned per_ip, unsigned total);
void ip_limit_release(struct ip_limit *l, uint64_t key);
/* Connections counted now for key (for tests and status). */
unsigned ip_limit_count(struct ip_limit *l, uint64_t key);
unsigned ip_limit_total(struct ip_limit *l);

#endif
