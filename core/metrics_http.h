/*
 * metrics_http.h - the optional Prometheus endpoint (`metrics { listen =
 * "127.0.0.1:9125"; }`): a minimal HTTP/1.0 server on worker 0's
 * io_uring. It answers `GET /metrics` (and `GET /`) with the exposition
 * of metrics.h, anything else with 404/405/400, then closes; at most
 * MHTTP_CONNS connections at once, requests of at most 8 KiB, each
 * connection closed after MHTTP_TIMEOUT seconds.
 *
 * Owned by worker 0, used only on its loop thread. Completions carry
 * user_data ops >= MHTTP_OP_BASE (worker.c hands them over).
 */
#ifndef RINGMX_METRICS_HTTP_H
#define RINGMX_METRICS_HTTP_H

#include <liburing.h>
#include <stdint.h>

#include "config.h"
#include "metrics.h"

#define MHTTP_OP_BASE 40 /* user_data op codes 40..47 */
#define MHTTP_CONNS   16
#define MHTTP_TIMEOUT 10

struct metrics_http;

/* Listen on addr; NULL with err on failure. src: SHARED read-only. */
struct metrics_http *metrics_http_start(struct io_uring *ring,
    const struct rmx_listener_cfg *addr, const struct metrics_src *src,
    char *err, size_t errlen);
/* A completion with op in [MHTTP_OP_BASE, MHTTP_OP_BASE + 8). */
void metrics_http_cqe(struct metrics_http *m, uint64_t ud, int res);
/* Once a second: close connections past their deadline. */
void metrics_http_tick(struct metrics_http *m, int64_t now);
/* Stop accepting and close everything; true once nothing is in flight
 * (call again until then). */
int metrics_http_stop(struct metrics_http *m);
void metrics_http_free(struct metrics_http *m);

#endif
