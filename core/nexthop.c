/*
 * nexthop.c - next-hop routes and outbound address checks (see
 * nexthop.h).
 */
#include "nexthop.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/un.h>

/* "[host]:port" or "host:port" after the scheme */
static int
parse_hostport(const char *s, struct nexthop *nh)
{
	const char *end, *colon;
	char *e;
	unsigned long port;
	size_t n;

	if (*s == '[') {
		end = strchr(s, ']');
		if (end == NULL || end[1] != ':')
			return -1;
		n = (size_t)(end - s - 1);
		colon = end + 1;
		s++;
	} else {
		colon = strrchr(s, ':');
		if (colon == NULL)
			return -1;
		n = (size_t)(colon - s);
	}
	if (n == 0 || n >= sizeof(nh->host))
		return -1;
	memcpy(nh->host, s, n);
	nh->host[n] = '\0';
	port = strtoul(colon + 1, &e, 10);
	if (colon[1] == '\0' || *e != '\0' || port == 0 || port > 65535)
		return -1;
	nh->port = (uint16_t)port;
	return 0;
}

/* nexthop_parse - parse a route's transport */
int
nexthop_parse(const char *route, struct nexthop *nh)
{
	memset(nh, 0, sizeof(*nh));
	if (strcmp(route, "mx") == 0) {
		nh->kind = NH_MX;
		nh->port = 25;
		return 0;
	}
	if (strncmp(route, "smtp:", 5) == 0) {
		nh->kind = NH_SMTP;
		return parse_hostport(route + 5, nh);
	}
	if (strncmp(route, "lmtp:unix:", 10) == 0) {
		nh->kind = NH_LMTP;
		nh->unix_socket = true;
		if (route[10] != '/' || strlen(route + 10) >= sizeof(nh->path))
			return -1;
		snprintf(nh->path, sizeof(nh->path), "%s", route + 10);
		return 0;
	}
	if (strncmp(route, "lmtp:", 5) == 0) {
		nh->kind = NH_LMTP;
		return parse_hostport(route + 5, nh);
	}
	return -1;
}

/* nexthop_literal - socket address of a literal next hop */
bool
nexthop_literal(
    const struct nexthop *nh, struct sockaddr_storage *ss, socklen_t *len)
{
	memset(ss, 0, sizeof(*ss));
	if (nh->unix_socket) {
		struct sockaddr_un *un = (struct sockaddr_un *)ss;
		un->sun_family = AF_UNIX;
		snprintf(un->sun_path, sizeof(un->sun_path), "%s", nh->path);
		*len = sizeof(*un);
		return true;
	}
	if (inet_pton(AF_INET, nh->host,
		&((struct sockaddr_in *)ss)->sin_addr) == 1) {
		struct sockaddr_in *s4 = (struct sockaddr_in *)ss;
		s4->sin_family = AF_INET;
		s4->sin_port = htons(nh->port);
		*len = sizeof(*s4);
		return true;
	}
	if (inet_pton(AF_INET6, nh->host,
		&((struct sockaddr_in6 *)ss)->sin6_addr) == 1) {
		struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)ss;
		s6->sin6_family = AF_INET6;
		s6->sin6_port = htons(nh->port);
		*len = sizeof(*s6);
		return true;
	}
	return false;
}

static bool
same_ip(const struct sockaddr *a, const struct sockaddr *b)
{
	if (a->sa_family != b->sa_family)
		return false;
	if (a->sa_family == AF_INET)
		return ((const struct sockaddr_in *)a)->sin_addr.s_addr ==
		       ((const struct sockaddr_in *)b)->sin_addr.s_addr;
	if (a->sa_family == AF_INET6)
		return memcmp(&((const struct sockaddr_in6 *)a)->sin6_addr,
			   &((const struct sockaddr_in6 *)b)->sin6_addr,
			   16) == 0;
	return false;
}

/* nexthop_addr_allowed - loopback, unspecified, our own listeners */
bool
nexthop_addr_allowed(const struct rmx_config *cfg, const struct sockaddr *sa)
{
	if (sa->sa_family == AF_UNIX || cfg->outbound.allow_loopback)
		return true;
	if (sa->sa_family == AF_INET) {
		uint32_t a =
		    ntohl(((const struct sockaddr_in *)sa)->sin_addr.s_addr);
		if ((a >> 24) == 127 || a == 0)
			return false;
	} else if (sa->sa_family == AF_INET6) {
		const struct in6_addr *a =
		    &((const struct sockaddr_in6 *)sa)->sin6_addr;
		if (IN6_IS_ADDR_LOOPBACK(a) || IN6_IS_ADDR_UNSPECIFIED(a))
			return false;
		if (IN6_IS_ADDR_V4MAPPED(a) &&
		    (a->s6_addr[12] == 127 ||
			(a->s6_addr[12] | a->s6_addr[13] | a->s6_addr[14] |
			    a->s6_addr[15]) == 0))
			return false;
	} else {
		return false;
	}
	for (size_t i = 0; i < cfg->nlisteners; i++)
		if (same_ip(
			sa, (const struct sockaddr *)&cfg->listeners[i].addr))
			return false;
	return true;
}
