/*
 * dkim_sig.h - the DKIM-Signature field of a message under verification
 * (RFC 6376 section 3.5, RFC 8463): its tags parsed and validated into a
 * struct dkim_sig, the results a signature can have, and the time
 * checks (t=, x=). The key record is in dkim_key.h; DNS, hashing and the
 * notes are the plugin's (dkim_verify.c).
 *
 * Pure code: no I/O, no allocation, no global state.
 */
#ifndef RINGMX_DKIM_SIG_H
#define RINGMX_DKIM_SIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "dkim_canon.h"

/* Results of one signature (RFC 8601 section 2.7.1), in note spelling. */
enum dkim_result {
	DKIM_PASS = 0,
	DKIM_FAIL,
	DKIM_NEUTRAL,
	DKIM_POLICY,
	DKIM_TEMPERROR,
	DKIM_PERMERROR,
};

/* "pass", "fail", ... */
const char *dkim_result_name(enum dkim_result r);

enum dkim_alg {
	DKIM_ALG_RSA_SHA256 = 1,
	DKIM_ALG_ED25519_SHA256 = 2,
};

/* "rsa-sha256" or "ed25519-sha256". */
const char *dkim_alg_name(enum dkim_alg a);

#define DKIM_NAME_MAX   253   /* d=, s=, domain of i= */
#define DKIM_SIG_B_MAX  1024  /* b= octets: RSA up to 8192 bits */
#define DKIM_SIG_BH_MAX 64    /* bh= octets (32 for SHA-256) */
#define DKIM_SIG_H_MAX  128   /* entries of h= */
#define DKIM_SIG_MAX    65536 /* longest field value parsed */

/*
 * A parsed signature. Owns its copies of d=, s=, b= and bh=; the h= list
 * and the b= span are offsets into the field value that was parsed (the
 * caller keeps that text while it uses them).
 */
struct dkim_sig {
	enum dkim_alg alg;
	enum dkim_canon hcanon, bcanon;
	char d[DKIM_NAME_MAX + 1];     /* lower case */
	char s[DKIM_NAME_MAX + 1];     /* as written */
	char i_dom[DKIM_NAME_MAX + 1]; /* domain of i= (lower), or d= */
	char b8[9];                    /* first 8 characters of b= */
	unsigned char b[DKIM_SIG_B_MAX];
	size_t blen;
	unsigned char bh[DKIM_SIG_BH_MAX];
	size_t bhlen;
	bool has_l, has_t, has_x;
	uint64_t l, t, x;
	size_t nh; /* h= names: value[off, off+len) */
	uint32_t h_off[DKIM_SIG_H_MAX];
	uint16_t h_len[DKIM_SIG_H_MAX];
	size_t b_start, b_end; /* raw b= value in the field value */
};

/*
 * dkim_sig_parse - the value of a DKIM-Signature field (the raw field
 * body after the colon, folding included). 0, or -1 (permerror) with a
 * short static reason in *why: bad tag syntax, a duplicate tag, a
 * missing required tag (v a b bh d h s), v= other than 1, an algorithm
 * other than rsa-sha256 / ed25519-sha256, bad base64, bad c=, d= or s=
 * not a domain name, h= without from, i= outside d=, bad l= t= x=, x=
 * not after t=, q= without dns/txt. On failure out is partly filled: d,
 * s and b8 are set when they were read (for the notes).
 */
int dkim_sig_parse(
    const char *v, size_t n, struct dkim_sig *out, const char **why);

/*
 * dkim_sig_check_time - against now (seconds since the epoch): x= in the
 * past is DKIM_FAIL "signature expired"; t= more than skew seconds in the
 * future is DKIM_PERMERROR "signature in the future". DKIM_PASS when
 * neither.
 */
enum dkim_result dkim_sig_check_time(
    const struct dkim_sig *s, uint64_t now, uint64_t skew, const char **why);

/* dkim_domain_name - whether s[0..n) is a domain name of LDH labels
 * (underscores allowed too when under), at most DKIM_NAME_MAX octets. */
bool dkim_domain_name(const char *s, size_t n, bool under);

#endif
