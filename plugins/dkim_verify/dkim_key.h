/*
 * dkim_key.h - the DKIM key record (RFC 6376 section 3.6.1, RFC 8463):
 * the TXT record at <s>._domainkey.<d> parsed into a struct dkim_key,
 * whether that key may verify a given signature, and the signature check
 * itself (RSASSA-PKCS1-v1_5 SHA-256 with wolfCrypt, Ed25519 with
 * libsodium). DNS is the plugin's (dkim_verify.c); the signature's tags
 * are dkim_sig.h.
 *
 * No I/O, no global state; safe on any thread (each call its own keys).
 */
#ifndef RINGMX_DKIM_KEY_H
#define RINGMX_DKIM_KEY_H

#include <stdbool.h>
#include <stddef.h>

#include "dkim_sig.h"

#define DKIM_KEY_P_MAX    2048 /* p= octets: an RSA-8192 SubjectPublicKeyInfo */
#define DKIM_RSA_MAX_BITS 8192

enum dkim_key_type {
	DKIM_KEY_RSA = 1,
	DKIM_KEY_ED25519 = 2,
};

/* A parsed key record; owns its copy of the key. */
struct dkim_key {
	enum dkim_key_type k;
	bool revoked;   /* p= empty */
	bool testing;   /* t=y */
	bool strict;    /* t=s: i= domain must be d= exactly */
	bool sha256_ok; /* h= absent or lists sha256 */
	bool email_ok;  /* s= absent, "*" or lists email */
	unsigned char p[DKIM_KEY_P_MAX];
	size_t plen;
};

/*
 * dkim_key_parse - one key record (TXT strings already joined). 0, or -1
 * with a short static reason: tag syntax or duplicates, v= present but
 * not DKIM1 or not the first tag, missing p=, unknown k=, bad base64, a
 * key longer than DKIM_KEY_P_MAX.
 */
int dkim_key_parse(
    const char *txt, size_t n, struct dkim_key *out, const char **why);

/*
 * dkim_key_check - whether key may verify sig: DKIM_FAIL "key revoked",
 * DKIM_PERMERROR for a key type other than a=, h= without sha256, s=
 * without email, t=s with an i= domain other than d=. DKIM_PASS when it
 * may.
 */
enum dkim_result dkim_key_check(
    const struct dkim_key *key, const struct dkim_sig *sig, const char **why);

/*
 * dkim_key_verify - the signature b= of sig over digest (the SHA-256 of
 * the header data, RFC 6376 section 3.7 / RFC 8463) with key (already
 * accepted by dkim_key_check). RSA: p= is a SubjectPublicKeyInfo or a
 * bare RSAPublicKey; under min_rsa_bits is DKIM_PERMERROR "key too small",
 * over DKIM_RSA_MAX_BITS or undecodable DKIM_PERMERROR. Ed25519: p= is
 * the 32-octet key. A signature that does not verify is DKIM_FAIL
 * "signature did not verify". *bits gets the RSA size (0 for Ed25519).
 */
enum dkim_result dkim_key_verify(const struct dkim_key *key,
    const struct dkim_sig *sig, const unsigned char digest[DKIM_SHA256_LEN],
    unsigned min_rsa_bits, unsigned *bits, const char **why);

#endif
