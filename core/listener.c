/*
 * listener.c - SO_REUSEPORT listening sockets (see listener.h).
 */
#include "listener.h"

#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

/* listener_open - socket, SO_REUSEADDR/PORT, bind, listen */
int
listener_open(const struct rmx_listener_cfg *l, char *err, size_t errlen)
{
	int fd, one = 1;

	fd = socket(
	    l->addr.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		snprintf(
		    err, errlen, "%s: socket: %s", l->address, strerror(errno));
		return -1;
	}
	if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) != 0 ||
	    setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one)) != 0)
		goto fail;
	if (l->addr.ss_family == AF_INET6 &&
	    setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one)) != 0)
		goto fail;
	if (bind(fd, (const struct sockaddr *)&l->addr, l->addrlen) != 0)
		goto fail;
	if (listen(fd, 4096) != 0)
		goto fail;
	return fd;
fail:
	snprintf(err, errlen, "%s: %s", l->address, strerror(errno));
	close(fd);
	return -1;
}
