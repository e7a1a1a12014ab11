/*
 * sandbox.h - privilege drop and confinement (docs/security.md).
 *
 * main() calls sandbox_prepare() once, single-threaded, right after the
 * configuration is loaded; then it binds the listeners, reads keys and
 * certificates, opens the state directory and the control socket, loads
 * the plugins and starts the workers; then sandbox_drop(): the switch to
 * the `user`/`group` account (when started as root), no capabilities,
 * PR_SET_NO_NEW_PRIVS and the seccomp allow-list on every thread.
 * sandbox_notify() speaks systemd's sd_notify protocol (no libsystemd).
 */
#ifndef RINGMX_SANDBOX_H
#define RINGMX_SANDBOX_H

#include <stdbool.h>
#include <stddef.h>

#include "config.h"

/* Single-threaded, before any thread exists: resolve the account, open
 * $NOTIFY_SOCKET, empty the capability bounding set. -1 and err on a
 * configuration that cannot work (unknown user or group). */
int sandbox_prepare(const struct rmx_config *cfg, char *err, size_t errlen);

/* After every worker is ready and the control socket listens: hand the
 * state directory to the account, switch to it, drop every capability,
 * NO_NEW_PRIVS, seccomp (all threads). -1 and err on failure (the
 * daemon must not go on half-confined). */
int sandbox_drop(const struct rmx_config *cfg, char *err, size_t errlen);

/* Whether io_uring rings should be restricted (cfg->sandbox). */
bool sandbox_ring_restrict(const struct rmx_config *cfg);

/* sd_notify: state is e.g. "READY=1", "RELOADING=1", "STOPPING=1";
 * MAINPID is added to READY=1, MONOTONIC_USEC to RELOADING=1. No-op
 * without $NOTIFY_SOCKET. */
void sandbox_notify(const char *state);

/* Main loop: log the system calls the seccomp filter denied since the
 * last call (event=seccomp_denied). Cheap when there are none. */
void sandbox_poll(void);

/* The allow-list (NULL-terminated syscall names; tests, docs). */
extern const char *const sandbox_syscalls[];

#endif
