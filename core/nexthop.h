/*
 * nexthop.h - what a route names as the next hop: "mx" (the recipient
 * domain's MX hosts), "smtp:[host]:port" (a smarthost), "lmtp:[host]:port"
 * or "lmtp:unix:/path" (a mailbox server), parsed into a struct; plus the
 * address checks outbound delivery applies (no loopback, unspecified or
 * own listen addresses unless outbound.allow_loopback). Pure functions.
 */
#ifndef RINGMX_NEXTHOP_H
#define RINGMX_NEXTHOP_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>

#include "config.h"

enum nexthop_kind { NH_MX = 0, NH_SMTP, NH_LMTP };

struct nexthop {
	enum nexthop_kind kind;
	bool unix_socket; /* lmtp:unix:/path */
	char host[256];   /* name or IP (no brackets) */
	uint16_t port;    /* 25 for mx */
	char path[108];   /* unix socket path */
};

/* nexthop_parse - 0 ok, -1 malformed */
int nexthop_parse(const char *route, struct nexthop *nh);
/* If nh's host is an IP address (or nh is a unix socket), its socket
 * address with the port; false if it is a name to resolve. */
bool nexthop_literal(
    const struct nexthop *nh, struct sockaddr_storage *ss, socklen_t *len);
/* Whether outbound delivery may connect to sa under cfg. */
bool nexthop_addr_allowed(
    const struct rmx_config *cfg, const struct sockaddr *sa);

#endif
