/*
 * fuzz_dkim_sig.c - libFuzzer target for the dkim_verify plugin's
 * parsers (plugins/dkim_verify/dkim_tags.c, dkim_sig.c, dkim_key.c,
 * compiled in with plugins/common/dkim_canon.c). The input is split at
 * its first NUL: the part before it is parsed as a DKIM-Signature value,
 * the part after it as a key record; the whole input also goes through
 * the tag-list parser and the base64 decoder. When both parse, the key
 * check and the public-key verification run with a zero digest (must not
 * pass). Checked with abort():
 *   tags: names unique, values and raw spans inside the input, values
 *     without leading or trailing FWS;
 *   signature: d= a lower-case domain name, s= a name, h= names inside
 *     the input with one of them "from", the b= span inside the input,
 *     x= after t=, lengths within their bounds;
 *   key: a revoked key has no key data, at most DKIM_KEY_P_MAX octets;
 *   base64: what decodes re-encodes and decodes to the same octets.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "../../plugins/common/dkim_canon.c"
#include "../../plugins/dkim_verify/dkim_key.c"
#include "../../plugins/dkim_verify/dkim_sig.c"
#include "../../plugins/dkim_verify/dkim_tags.c"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(c)                 \
	do {                     \
		if (!(c))        \
			abort(); \
	} while (0)

static void
check_tags(const char *s, size_t n)
{
	struct dkim_tags t;
	const char *why = NULL;

	if (dkim_tags_parse(s, n, &t, &why) != 0) {
		CHECK(why != NULL);
		return;
	}
	CHECK(t.n <= DKIM_TAGS_MAX);
	for (size_t i = 0; i < t.n; i++) {
		const struct dkim_tag *g = &t.t[i];

		CHECK(
		    g->nlen > 0 && g->name >= s && g->name + g->nlen <= s + n);
		CHECK(g->raw_start <= g->raw_end && g->raw_end <= n);
		CHECK(g->val >= s + g->raw_start &&
		      g->val + g->vlen <= s + g->raw_end);
		if (g->vlen > 0) {
			CHECK(!dkim_is_fws((unsigned char)g->val[0]));
			CHECK(!dkim_is_fws((unsigned char)g->val[g->vlen - 1]));
		}
		for (size_t k = 0; k < i; k++)
			CHECK(t.t[k].nlen != g->nlen ||
			      memcmp(t.t[k].name, g->name, g->nlen) != 0);
	}
}

static void
check_base64(const char *s, size_t n)
{
	static unsigned char out[8192], back[8192];
	static char enc[DKIM_BASE64_LEN(8192) + 1];
	size_t len, len2;

	if (n > 8192)
		n = 8192;
	if (dkim_base64_decode(s, n, out, sizeof(out), &len) != 0)
		return;
	CHECK(len <= DKIM_BASE64_DECODED_MAX(n));
	dkim_base64_encode(out, len, enc);
	CHECK(dkim_base64_decode(enc, strlen(enc), back, sizeof(back), &len2) ==
	      0);
	CHECK(len2 == len && memcmp(back, out, len) == 0);
}

static bool
check_sig(const char *s, size_t n, struct dkim_sig *sig)
{
	const char *why = NULL;
	bool from = false;

	if (dkim_sig_parse(s, n, sig, &why) != 0) {
		CHECK(why != NULL);
		return false;
	}
	CHECK(sig->alg == DKIM_ALG_RSA_SHA256 ||
	      sig->alg == DKIM_ALG_ED25519_SHA256);
	CHECK(dkim_domain_name(sig->d, strlen(sig->d), false));
	for (const char *p = sig->d; *p != '\0'; p++)
		CHECK(!(*p >= 'A' && *p <= 'Z'));
	CHECK(dkim_domain_name(sig->s, strlen(sig->s), true));
	CHECK(sig->blen > 0 && sig->blen <= DKIM_SIG_B_MAX);
	CHECK(sig->bhlen > 0 && sig->bhlen <= DKIM_SIG_BH_MAX);
	CHECK(sig->b_start <= sig->b_end && sig->b_end <= n);
	CHECK(sig->nh > 0 && sig->nh <= DKIM_SIG_H_MAX);
	for (size_t i = 0; i < sig->nh; i++) {
		CHECK(sig->h_len[i] > 0 && sig->h_off[i] + sig->h_len[i] <= n);
		if (sig->h_len[i] == 4 &&
		    strncasecmp(s + sig->h_off[i], "from", 4) == 0)
			from = true;
	}
	CHECK(from);
	CHECK(!(sig->has_t && sig->has_x) || sig->x > sig->t);
	CHECK(strlen(sig->b8) <= 8);
	return true;
}

static bool
check_key(const char *s, size_t n, struct dkim_key *key)
{
	const char *why = NULL;

	if (dkim_key_parse(s, n, key, &why) != 0) {
		CHECK(why != NULL);
		return false;
	}
	CHECK(key->plen <= DKIM_KEY_P_MAX);
	CHECK(!key->revoked || key->plen == 0);
	CHECK(key->k == DKIM_KEY_RSA || key->k == DKIM_KEY_ED25519);
	return true;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct dkim_sig sig;
	static struct dkim_key key;
	const char *s = (const char *)data;
	const char *nul = memchr(s, '\0', size);
	size_t n1 = nul != NULL ? (size_t)(nul - s) : size;
	bool sok, kok = false;

	check_tags(s, size);
	check_base64(s, size);
	sok = check_sig(s, n1, &sig);
	if (nul != NULL)
		kok = check_key(nul + 1, size - n1 - 1, &key);
	if (sok && kok) {
		static const unsigned char zero[DKIM_SHA256_LEN];
		const char *why = NULL;
		unsigned bits;

		if (dkim_key_check(&key, &sig, &why) == DKIM_PASS)
			CHECK(dkim_key_verify(&key, &sig, zero, 1024, &bits,
				  &why) != DKIM_PASS);
	}
	return 0;
}
