/*
 * dkim_key.c - DKIM key records and signature verification; see
 * dkim_key.h. The tag grammar is dkim_tags.c; DNS and hashing are the
 * plugin's (dkim_verify.c).
 */
#include <wolfssl/options.h>
#include <wolfssl/wolfcrypt/error-crypt.h>
#include <wolfssl/wolfcrypt/rsa.h>

#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <sodium.h>

#include "dkim_key.h"
#include "dkim_tags.h"

/* DigestInfo of SHA-256 (RFC 8017 section 9.2, note 1). */
static const unsigned char sha256_info[19] = {0x30, 0x31, 0x30, 0x0d, 0x06,
    0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x01, 0x05, 0x00,
    0x04, 0x20};

/* Whether the colon-separated list of t has an entry equal to one of a
 * or b (case-insensitive; b may be NULL). */
static bool
list_has(const struct dkim_tag *t, const char *a, const char *b)
{
	const char *p = t->val, *end = t->val + t->vlen;

	while (p < end) {
		const char *c = memchr(p, ':', (size_t)(end - p));
		const char *e = c != NULL ? c : end, *s = p;
		size_t n;

		while (s < e && dkim_is_fws((unsigned char)*s))
			s++;
		while (e > s && dkim_is_fws((unsigned char)e[-1]))
			e--;
		n = (size_t)(e - s);
		if ((n == strlen(a) && strncasecmp(s, a, n) == 0) ||
		    (b != NULL && n == strlen(b) && strncasecmp(s, b, n) == 0))
			return true;
		if (c == NULL)
			break;
		p = c + 1;
	}
	return false;
}

/* dkim_key_parse - see dkim_key.h. */
int
dkim_key_parse(
    const char *txt, size_t n, struct dkim_key *out, const char **why)
{
	struct dkim_tags tags;
	const struct dkim_tag *t;

	memset(out, 0, offsetof(struct dkim_key, p));
	out->plen = 0;
	if (dkim_tags_parse(txt, n, &tags, why) != 0)
		return -1;
	if ((t = dkim_tags_get(&tags, "v")) != NULL &&
	    (t != &tags.t[0] || t->vlen != 5 ||
		memcmp(t->val, "DKIM1", 5) != 0)) {
		*why = "bad key record version";
		return -1;
	}
	out->k = DKIM_KEY_RSA;
	if ((t = dkim_tags_get(&tags, "k")) != NULL) {
		if (t->vlen == 3 && memcmp(t->val, "rsa", 3) == 0)
			out->k = DKIM_KEY_RSA;
		else if (t->vlen == 7 && memcmp(t->val, "ed25519", 7) == 0)
			out->k = DKIM_KEY_ED25519;
		else {
			*why = "unknown key type";
			return -1;
		}
	}
	t = dkim_tags_get(&tags, "h");
	out->sha256_ok = t == NULL || list_has(t, "sha256", NULL);
	t = dkim_tags_get(&tags, "s");
	out->email_ok = t == NULL || list_has(t, "email", "*");
	if ((t = dkim_tags_get(&tags, "t")) != NULL) {
		out->testing = list_has(t, "y", NULL);
		out->strict = list_has(t, "s", NULL);
	}
	if ((t = dkim_tags_get(&tags, "p")) == NULL) {
		*why = "key record without p=";
		return -1;
	}
	if (t->vlen == 0) {
		out->revoked = true;
		return 0;
	}
	if (t->vlen > DKIM_KEY_P_MAX * 2 ||
	    dkim_base64_decode(
		t->val, t->vlen, out->p, sizeof(out->p), &out->plen) != 0 ||
	    out->plen == 0) {
		*why = "bad key data";
		return -1;
	}
	return 0;
}

/* dkim_key_check - see dkim_key.h. */
enum dkim_result
dkim_key_check(
    const struct dkim_key *key, const struct dkim_sig *sig, const char **why)
{
	if (key->revoked) {
		*why = "key revoked";
		return DKIM_FAIL;
	}
	if ((key->k == DKIM_KEY_RSA) != (sig->alg == DKIM_ALG_RSA_SHA256)) {
		*why = "key type does not match a=";
		return DKIM_PERMERROR;
	}
	if (!key->sha256_ok) {
		*why = "key does not allow sha256";
		return DKIM_PERMERROR;
	}
	if (!key->email_ok) {
		*why = "key not for email";
		return DKIM_PERMERROR;
	}
	if (key->strict && strcmp(sig->i_dom, sig->d) != 0) {
		*why = "key is strict (t=s) and i= is a subdomain";
		return DKIM_PERMERROR;
	}
	return DKIM_PASS;
}

static enum dkim_result
verify_rsa(const struct dkim_key *key, const struct dkim_sig *sig,
    const unsigned char digest[DKIM_SHA256_LEN], unsigned min_bits,
    unsigned *bits, const char **why)
{
	unsigned char dec[DKIM_SIG_B_MAX];
	enum dkim_result r = DKIM_FAIL;
	RsaKey *rsa = malloc(sizeof(*rsa));
	word32 idx = 0;
	int size, n;

	*why = "signature did not verify";
	if (rsa == NULL || wc_InitRsaKey(rsa, NULL) != 0) {
		free(rsa);
		*why = "out of memory";
		return DKIM_TEMPERROR;
	}
	/* wolfCrypt takes a SubjectPublicKeyInfo or a bare RSAPublicKey */
	if (wc_RsaPublicKeyDecode(key->p, &idx, rsa, (word32)key->plen) != 0 ||
	    (size = wc_RsaEncryptSize(rsa)) <= 0) {
		*why = "bad key data";
		r = DKIM_PERMERROR;
		goto out;
	}
	*bits = (unsigned)size * 8;
	if (*bits < min_bits) {
		*why = "key too small";
		r = DKIM_PERMERROR;
		goto out;
	}
	if (*bits > DKIM_RSA_MAX_BITS) {
		*why = "key too large";
		r = DKIM_PERMERROR;
		goto out;
	}
	if (sig->blen != (size_t)size)
		goto out;
	memcpy(dec, sig->b, sig->blen);
	{
		byte *plain = NULL;

		n = wc_RsaSSL_VerifyInline(dec, (word32)sig->blen, &plain, rsa);
		if (n == (int)(sizeof(sha256_info) + DKIM_SHA256_LEN) &&
		    plain != NULL &&
		    memcmp(plain, sha256_info, sizeof(sha256_info)) == 0 &&
		    sodium_memcmp(plain + sizeof(sha256_info), digest,
			DKIM_SHA256_LEN) == 0) {
			r = DKIM_PASS;
			*why = NULL;
		}
	}
out:
	wc_FreeRsaKey(rsa);
	free(rsa);
	return r;
}

/* dkim_key_verify - see dkim_key.h. */
enum dkim_result
dkim_key_verify(const struct dkim_key *key, const struct dkim_sig *sig,
    const unsigned char digest[DKIM_SHA256_LEN], unsigned min_rsa_bits,
    unsigned *bits, const char **why)
{
	*bits = 0;
	if (key->k == DKIM_KEY_RSA)
		return verify_rsa(key, sig, digest, min_rsa_bits, bits, why);
	if (key->plen != crypto_sign_PUBLICKEYBYTES) {
		*why = "bad key data";
		return DKIM_PERMERROR;
	}
	if (sig->blen != crypto_sign_BYTES ||
	    crypto_sign_verify_detached(
		sig->b, digest, DKIM_SHA256_LEN, key->p) != 0) {
		*why = "signature did not verify";
		return DKIM_FAIL;
	}
	*why = NULL;
	return DKIM_PASS;
}
