/*
 * tls_server.h - a listener's TLS certificates as wolfSSL server contexts:
 * one context per configured certificate (cert chain + key from PEM
 * files), the DNS names each one serves (its subjectAltName DNS entries,
 * else its subject CN), TLS 1.2/1.3 only (or 1.3 only), the configured
 * cipher list, X25519 first among the key exchange groups.
 *
 * What is not here: driving a connection (tls_conn.c), STARTTLS
 * (smtp_server.c).
 *
 * Threads: a tls_server is built and freed by one thread and used only by
 * the worker that built it (each worker loads its own copy, so that
 * wolfSSL's per-context reference counting never takes a lock shared
 * between workers). Loading reads files: at start-up or on a reload,
 * never per connection.
 */
#ifndef RINGMX_TLS_SERVER_H
#define RINGMX_TLS_SERVER_H

#include <stddef.h>

#include <wolfssl/options.h>
#include <wolfssl/ssl.h>

#include "config.h"

struct tls_server;

/* NULL with the reason (file and wolfSSL's error) in err. */
struct tls_server *tls_server_new(
    const struct rmx_tls_cfg *cfg, char *err, size_t errlen);
void tls_server_free(struct tls_server *s);
/*
 * tls_server_pick - the context for the name a client sent with SNI
 * (NULL or "" for none): the first certificate with that name (exact,
 * case-insensitive, or a "*.example.org" wildcard for one label), else
 * the first certificate (the default).
 */
WOLFSSL_CTX *tls_server_pick(const struct tls_server *s, const char *sni);
/* Names served by certificate i (for logs and tests); NULL past the end.
 */
const char *tls_server_name(const struct tls_server *s, size_t i, size_t j);
/* Handshake timeout of this listener (seconds). */
unsigned tls_server_handshake_timeout(const struct tls_server *s);

#endif
