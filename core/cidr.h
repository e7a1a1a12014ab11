/*
 * cidr.h - IPv4/IPv6 network prefixes ("192.0.2.0/24", "2001:db8::/32",
 * a bare address = a host route): parsing and matching. Pure functions.
 */
#ifndef RINGMX_CIDR_H
#define RINGMX_CIDR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

struct cidr {
	int family;       /* AF_INET or AF_INET6 */
	uint8_t addr[16]; /* network address, host bits cleared */
	unsigned prefix;  /* prefix length */
};

/* 0 ok, -1 malformed (bad address, prefix out of range, host bits set
 * are accepted and cleared). */
int cidr_parse(const char *s, struct cidr *out);
/* Whether sa (IPv4, IPv6, v4-mapped IPv6 = IPv4) is inside c. */
bool cidr_match(const struct cidr *c, const struct sockaddr *sa);
/* Whether any of n prefixes matches. */
bool cidr_match_any(const struct cidr *c, size_t n, const struct sockaddr *sa);
/* Text form "addr/prefix" into out. */
void cidr_format(const struct cidr *c, char *out, size_t outsz);

#endif
