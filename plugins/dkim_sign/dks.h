/*
 * dks.h - internals of the dkim_sign plugin shared by its files:
 * the configuration (an immutable, reference-counted snapshot with the
 * loaded private keys, swapped as a whole on reconfigure) and the two
 * signing primitives.
 *
 * dks_config.c  configuration parsing and key loading (main thread)
 * dkim_sign.c   the plugin: SIGN hook, header building, RSA offload
 */
#ifndef RINGMX_DKS_H
#define RINGMX_DKS_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <sodium.h>

#include "dkim_canon.h"
#include "ringmx/plugin.h"

#define DKS_NAME "dkim_sign"

enum dks_alg {
	DKS_RSA_SHA256 = 1,
	DKS_ED25519_SHA256 = 2,
};

/* RSA key sizes accepted (RFC 8301: verifiers handle 1024..4096). */
#define DKS_RSA_MIN_BITS 1024
#define DKS_RSA_MAX_BITS 4096
#define DKS_SIG_MAX      (DKS_RSA_MAX_BITS / 8)

struct dks_key {
	char *domain;   /* d=, lower case */
	char *selector; /* s= */
	char *path;     /* the PEM file, for messages */
	enum dks_alg alg;
	/* RSA: the private key as DER (PKCS#1 or PKCS#8), decoded for each
	 * signature so that pool threads share nothing mutable. */
	unsigned char *der;
	size_t der_len;
	unsigned bits;
	/* Ed25519: libsodium secret key (seed || public key). */
	unsigned char ed_sk[crypto_sign_SECRETKEYBYTES];
};

struct dks_conf {
	atomic_uint refs;
	enum dkim_canon hcanon, bcanon;
	char **hdrs; /* names to sign, lower case, no duplicates */
	size_t nhdrs;
	bool *over;      /* over[i]: hdrs[i] is signed one extra time */
	uint64_t expire; /* x= is t= + expire; 0: no x= */
	struct dks_key *keys;
	size_t nkeys;
};

/*
 * dks_conf_load - validate cfg and load every key: 0 and *out (one
 * reference), or -1 with a message naming the plugin and the key (or
 * the file) in err. host is used for warnings only (may be NULL).
 */
int dks_conf_load(const struct rmx_host_api *host, const struct rmx_kv *cfg,
    struct dks_conf **out, char *err, size_t errlen);
/* dks_conf_ref - one more reference to c. */
struct dks_conf *dks_conf_ref(struct dks_conf *c);
/* dks_conf_unref - drop a reference; the last one wipes and frees. */
void dks_conf_unref(struct dks_conf *c);

/*
 * dks_ldh_name - whether s[0..n) is a DNS name of letter-digit-hyphen
 * labels (d=, s=, RFC 6376 section 3.5), at most 253 octets.
 */
bool dks_ldh_name(const char *s, size_t n);

/*
 * dks_rsa_sign - RSASSA-PKCS1-v1_5 with SHA-256 of an already computed
 * digest with key k into sig (DKS_SIG_MAX octets); *siglen its length.
 * Thread-safe (k is only read). 0, or a negative wolfCrypt error.
 */
int dks_rsa_sign(const struct dks_key *k,
    const unsigned char digest[DKIM_SHA256_LEN], unsigned char *sig,
    size_t *siglen);

/* dks_ed25519_sign - Ed25519 (PureEdDSA) over the digest, RFC 8463. */
void dks_ed25519_sign(const struct dks_key *k,
    const unsigned char digest[DKIM_SHA256_LEN],
    unsigned char sig[crypto_sign_BYTES]);

#endif
