/*
 * listener.h - creation of listening sockets. Each worker calls
 * listener_open for each configured listener and gets its own socket,
 * bound with SO_REUSEPORT so the kernel spreads connections over workers.
 * Accepting is the worker's (multishot accept on its ring).
 */
#ifndef RINGMX_LISTENER_H
#define RINGMX_LISTENER_H

#include <stddef.h>

#include "config.h"

/* Returns a non-blocking listening fd, or -1 with err filled in. */
int listener_open(const struct rmx_listener_cfg *l, char *err, size_t errlen);

#endif
