/*
 * tls-handshake.c - what wolfSSL itself does on this machine: N full TLS
 * 1.3 handshakes between a client and a server object in one thread,
 * over memory buffers with custom I/O callbacks (no sockets, no kernel),
 * key exchange X25519, the server's certificate and key from -c/-k (ECDSA
 * P-256 or RSA-2048 in the self-test). The server's wolfSSL_accept calls
 * are timed apart from the client's wolfSSL_connect calls (thread CPU
 * time), so the output gives the server-side CPU microseconds per
 * handshake: the reference for ringmx's own handshake rate.
 *
 * No session resumption: every handshake is a new pair of objects.
 */
#include <errno.h>
#include <getopt.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <wolfssl/options.h>
#include <wolfssl/ssl.h>

/* One direction of the memory pipe. A TLS 1.3 flight is a few KiB. */
struct pipe {
	unsigned char buf[65536];
	size_t len, off;
};

struct end {
	struct pipe *rx, *tx;
};

static int
mem_recv(WOLFSSL *ssl, char *buf, int sz, void *ctx)
{
	struct end *e = ctx;
	size_t n = e->rx->len - e->rx->off;

	(void)ssl;
	if (n == 0)
		return WOLFSSL_CBIO_ERR_WANT_READ;
	if (n > (size_t)sz)
		n = (size_t)sz;
	memcpy(buf, e->rx->buf + e->rx->off, n);
	e->rx->off += n;
	if (e->rx->off == e->rx->len)
		e->rx->off = e->rx->len = 0;
	return (int)n;
}

static int
mem_send(WOLFSSL *ssl, char *buf, int sz, void *ctx)
{
	struct end *e = ctx;

	(void)ssl;
	if ((size_t)sz > sizeof(e->tx->buf) - e->tx->len)
		return WOLFSSL_CBIO_ERR_GENERAL;
	memcpy(e->tx->buf + e->tx->len, buf, (size_t)sz);
	e->tx->len += (size_t)sz;
	return sz;
}

static double
cpu_ns(void)
{
	struct timespec t;

	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
	return (double)t.tv_sec * 1e9 + (double)t.tv_nsec;
}

static double
wall_s(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

static void
usage(const char *why)
{
	if (why != NULL)
		fprintf(stderr, "tls-handshake: %s\n", why);
	fprintf(stderr,
	    "usage: tls-handshake -c CERT -k KEY [-n HANDSHAKES] [--json]\n"
	    "  -c CERT  server certificate (PEM; ECDSA P-256 or RSA-2048)\n"
	    "  -k KEY   its private key (PEM)\n"
	    "  -n N     handshakes (default 1000)\n"
	    "  --json   one JSON object instead of the text line\n");
	exit(2);
}

/* Step one side; 1 done, 0 wants more, -1 failed (message printed). */
static int
step(WOLFSSL *ssl, bool server, double *acc)
{
	double t0 = cpu_ns();
	int rc = server ? wolfSSL_accept(ssl) : wolfSSL_connect(ssl);
	*acc += cpu_ns() - t0;
	if (rc == WOLFSSL_SUCCESS)
		return 1;
	int e = wolfSSL_get_error(ssl, rc);
	if (e == WOLFSSL_ERROR_WANT_READ || e == WOLFSSL_ERROR_WANT_WRITE)
		return 0;
	char buf[120];
	wolfSSL_ERR_error_string_n((unsigned long)e, buf, sizeof(buf));
	fprintf(stderr, "tls-handshake: %s failed: %s\n",
	    server ? "accept" : "connect", buf);
	return -1;
}

int
main(int argc, char **argv)
{
	static const struct option lo[] = {
	    {"json", no_argument, NULL, 'J'}, {NULL, 0, NULL, 0}};
	const char *cert = NULL, *key = NULL;
	long n = 1000;
	bool json = false;
	int o;
	char *end;

	while ((o = getopt_long(argc, argv, "c:k:n:h", lo, NULL)) != -1) {
		switch (o) {
		case 'c':
			cert = optarg;
			break;
		case 'k':
			key = optarg;
			break;
		case 'n':
			errno = 0;
			n = strtol(optarg, &end, 10);
			if (errno || *end != '\0' || n < 1 || n > 100000000)
				usage("bad -n");
			break;
		case 'J':
			json = true;
			break;
		default:
			usage(NULL);
		}
	}
	if (optind != argc)
		usage("unexpected argument");
	if (cert == NULL || key == NULL)
		usage("-c and -k are required");

	wolfSSL_Init();
	WOLFSSL_CTX *sctx = wolfSSL_CTX_new(wolfTLSv1_3_server_method());
	WOLFSSL_CTX *cctx = wolfSSL_CTX_new(wolfTLSv1_3_client_method());
	int groups[] = {WOLFSSL_ECC_X25519};
	if (sctx == NULL || cctx == NULL) {
		fprintf(stderr, "tls-handshake: cannot create contexts\n");
		return 1;
	}
	if (wolfSSL_CTX_use_certificate_chain_file(sctx, cert) !=
	    WOLFSSL_SUCCESS) {
		fprintf(stderr, "tls-handshake: cannot load %s\n", cert);
		return 1;
	}
	if (wolfSSL_CTX_use_PrivateKey_file(sctx, key, WOLFSSL_FILETYPE_PEM) !=
	    WOLFSSL_SUCCESS) {
		fprintf(stderr, "tls-handshake: cannot load %s\n", key);
		return 1;
	}
	if (wolfSSL_CTX_set_groups(sctx, groups, 1) != WOLFSSL_SUCCESS ||
	    wolfSSL_CTX_set_groups(cctx, groups, 1) != WOLFSSL_SUCCESS) {
		fprintf(stderr, "tls-handshake: X25519 not available\n");
		return 1;
	}
	wolfSSL_CTX_set_verify(cctx, WOLFSSL_VERIFY_NONE, NULL);
	wolfSSL_CTX_set_verify(sctx, WOLFSSL_VERIFY_NONE, NULL);
	wolfSSL_CTX_SetIORecv(sctx, mem_recv);
	wolfSSL_CTX_SetIOSend(sctx, mem_send);
	wolfSSL_CTX_SetIORecv(cctx, mem_recv);
	wolfSSL_CTX_SetIOSend(cctx, mem_send);

	struct pipe *c2s = calloc(1, sizeof(*c2s));
	struct pipe *s2c = calloc(1, sizeof(*s2c));
	if (c2s == NULL || s2c == NULL)
		return 1;
	struct end ce = {s2c, c2s}, se = {c2s, s2c};
	double srv_ns = 0, cli_ns = 0, t0 = wall_s();
	char version[32] = "", cipher[64] = "";

	for (long i = 0; i < n; i++) {
		/* the server's cost includes creating and freeing its
		 * session object, as a server does per connection */
		double n0 = cpu_ns();
		WOLFSSL *sv = wolfSSL_new(sctx);
		srv_ns += cpu_ns() - n0;
		WOLFSSL *cl = wolfSSL_new(cctx);
		int cd = 0, sd = 0;
		if (cl == NULL || sv == NULL) {
			fprintf(stderr, "tls-handshake: out of memory\n");
			return 1;
		}
		c2s->len = c2s->off = s2c->len = s2c->off = 0;
		wolfSSL_SetIOReadCtx(cl, &ce);
		wolfSSL_SetIOWriteCtx(cl, &ce);
		wolfSSL_SetIOReadCtx(sv, &se);
		wolfSSL_SetIOWriteCtx(sv, &se);
		if (wolfSSL_UseKeyShare(cl, WOLFSSL_ECC_X25519) !=
		    WOLFSSL_SUCCESS) {
			fprintf(stderr, "tls-handshake: no X25519 key share\n");
			return 1;
		}
		for (int round = 0; round < 20 && !(cd && sd); round++) {
			if (!cd && (cd = step(cl, false, &cli_ns)) < 0)
				return 1;
			if (!sd && (sd = step(sv, true, &srv_ns)) < 0)
				return 1;
		}
		if (!(cd && sd)) {
			fprintf(stderr, "tls-handshake: handshake stalled\n");
			return 1;
		}
		if (i == 0) {
			snprintf(version, sizeof(version), "%s",
			    wolfSSL_get_version(sv));
			snprintf(cipher, sizeof(cipher), "%s",
			    wolfSSL_get_cipher_name(sv));
		}
		wolfSSL_free(cl);
		n0 = cpu_ns();
		wolfSSL_free(sv);
		srv_ns += cpu_ns() - n0;
	}
	double wall = wall_s() - t0;
	double rate = (double)n / wall;
	double srv_us = srv_ns / 1e3 / (double)n,
	       cli_us = cli_ns / 1e3 / (double)n;
	if (json)
		printf("{\"cert\":\"%s\",\"handshakes\":%ld,\"version\":\"%s\","
		       "\"cipher\":\"%s\",\"elapsed_s\":%.4f,"
		       "\"handshakes_per_s\":%.1f,\"server_cpu_us\":%.1f,"
		       "\"client_cpu_us\":%.1f,\"server_only_per_s\":%.1f}\n",
		    cert, n, version, cipher, wall, rate, srv_us, cli_us,
		    1e6 / srv_us);
	else
		printf("tls-handshake: %s: %ld handshakes (%s %s, X25519) in "
		       "%.3f s: %.0f handshakes/s (client+server in one "
		       "thread); server CPU %.1f us/handshake (= %.0f/s on "
		       "one core), client %.1f us\n",
		    cert, n, version, cipher, wall, rate, srv_us, 1e6 / srv_us,
		    cli_us);
	wolfSSL_CTX_free(sctx);
	wolfSSL_CTX_free(cctx);
	wolfSSL_Cleanup();
	return 0;
}
