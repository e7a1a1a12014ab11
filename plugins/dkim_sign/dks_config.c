/*
 * dks_config.c - the dkim_sign configuration: parse and check the keys
 * of the plugin's group, load the private keys from their PEM files
 * (RSA with wolfCrypt, Ed25519 through wolfCrypt's PKCS#8 decoder into a
 * libsodium key pair), and the reference counting that lets reconfigure
 * swap in a new snapshot while signatures made with the old one are still
 * in flight. Parsing and loading run on the main thread (init,
 * reconfigure); the two signing functions at the end run on workers and
 * offload pool threads and only read the keys.
 */
#include <wolfssl/options.h>
#include <wolfssl/wolfcrypt/asn_public.h>
#include <wolfssl/wolfcrypt/ed25519.h>
#include <wolfssl/wolfcrypt/error-crypt.h>
#include <wolfssl/wolfcrypt/random.h>
#include <wolfssl/wolfcrypt/rsa.h>

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "dks.h"

#define PEM_MAX    65536
#define EXPIRE_MAX (10ULL * 366 * 86400)
#define NAME_MAX_  128
#define DOMAIN_MAX 253
#define LABEL_MAX  63

static const char *const default_headers[] = {"from", "to", "cc", "subject",
    "date", "message-id", "reply-to", "in-reply-to", "references",
    "mime-version", "content-type", "content-transfer-encoding"};

/* DigestInfo of SHA-256 (RFC 8017 section 9.2, note 1). */
static const unsigned char sha256_info[19] = {0x30, 0x31, 0x30, 0x0d, 0x06,
    0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x01, 0x05, 0x00,
    0x04, 0x20};

__attribute__((format(printf, 3, 4))) static int
fail(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;
	int n = snprintf(err, errlen, "%s: ", DKS_NAME);

	if (n < 0 || (size_t)n >= errlen)
		return -1;
	va_start(ap, fmt);
	vsnprintf(err + n, errlen - (size_t)n, fmt, ap);
	va_end(ap);
	return -1;
}

static void
lower(char *s)
{
	for (; *s != '\0'; s++)
		if (*s >= 'A' && *s <= 'Z')
			*s = (char)(*s + 32);
}

/* dks_ldh_name - see dks.h. */
bool
dks_ldh_name(const char *s, size_t n)
{
	size_t label = 0;

	if (n == 0 || n > DOMAIN_MAX)
		return false;
	for (size_t i = 0; i < n; i++) {
		char c = s[i];

		if (c == '.') {
			if (label == 0 || s[i - 1] == '-')
				return false;
			label = 0;
			continue;
		}
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
			(c >= '0' && c <= '9') || (c == '-' && label > 0)))
			return false;
		if (++label > LABEL_MAX)
			return false;
	}
	return label > 0 && s[n - 1] != '-';
}

/* A header field name: 1*ftext (RFC 5322 section 3.6.8). */
static bool
field_name(const char *s)
{
	size_t n = strlen(s);

	if (n == 0 || n > NAME_MAX_)
		return false;
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)s[i] < 33 || (unsigned char)s[i] > 126 ||
		    s[i] == ':')
			return false;
	return true;
}

/* ------------------------------------------------------------ keys */

static int
read_file(const char *path, unsigned char *buf, size_t cap, size_t *len,
    const struct rmx_host_api *host, char *err, size_t errlen)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
	struct stat st;
	size_t n = 0;

	if (fd < 0)
		return fail(err, errlen, "key: cannot read %s: %s", path,
		    strerror(errno));
	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
		close(fd);
		return fail(err, errlen, "key: %s is not a regular file", path);
	}
	if ((st.st_mode & 077) != 0 && host != NULL)
		host->log(NULL, RMX_LOG_WARNING,
		    "warning=key_file_mode path=%s mode=%03o", path,
		    (unsigned)(st.st_mode & 0777));
	for (;;) {
		ssize_t r = read(fd, buf + n, cap - n);

		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			int e = errno;

			close(fd);
			return fail(err, errlen, "key: cannot read %s: %s",
			    path, strerror(e));
		}
		if (r == 0)
			break;
		n += (size_t)r;
		if (n == cap) {
			close(fd);
			return fail(err, errlen, "key: %s is too large", path);
		}
	}
	close(fd);
	*len = n;
	return 0;
}

static int
load_rsa(struct dks_key *k, const unsigned char *der, size_t der_len, char *err,
    size_t errlen)
{
	RsaKey *rsa = malloc(sizeof(*rsa));
	word32 idx = 0;
	int bits = 0, rc;

	if (rsa == NULL || wc_InitRsaKey(rsa, NULL) != 0) {
		free(rsa);
		return fail(err, errlen, "key: %s: out of memory", k->path);
	}
	rc = wc_RsaPrivateKeyDecode(der, &idx, rsa, (word32)der_len);
	if (rc == 0)
		bits = wc_RsaEncryptSize(rsa) * 8;
	wc_FreeRsaKey(rsa);
	free(rsa);
	if (rc != 0)
		return fail(err, errlen,
		    "key: %s is not an RSA private key (rsa-sha256 wants "
		    "PKCS#1 \"RSA PRIVATE KEY\" or PKCS#8 \"PRIVATE KEY\")",
		    k->path);
	if (bits < DKS_RSA_MIN_BITS || bits > DKS_RSA_MAX_BITS)
		return fail(err, errlen,
		    "key: %s: RSA key of %d bits (want %d..%d)", k->path, bits,
		    DKS_RSA_MIN_BITS, DKS_RSA_MAX_BITS);
	k->der = malloc(der_len);
	if (k->der == NULL)
		return fail(err, errlen, "key: %s: out of memory", k->path);
	memcpy(k->der, der, der_len);
	k->der_len = der_len;
	k->bits = (unsigned)bits;
	return 0;
}

static int
load_ed25519(struct dks_key *k, const unsigned char *der, size_t der_len,
    char *err, size_t errlen)
{
	ed25519_key ed;
	unsigned char seed[ED25519_KEY_SIZE], pk[crypto_sign_PUBLICKEYBYTES];
	word32 idx = 0, slen = sizeof(seed);
	int rc;

	if (wc_ed25519_init(&ed) != 0)
		return fail(err, errlen, "key: %s: out of memory", k->path);
	rc = wc_Ed25519PrivateKeyDecode(der, &idx, &ed, (word32)der_len);
	if (rc == 0)
		rc = wc_ed25519_export_private_only(&ed, seed, &slen);
	wc_ed25519_free(&ed);
	if (rc != 0 || slen != sizeof(seed)) {
		sodium_memzero(seed, sizeof(seed));
		return fail(err, errlen,
		    "key: %s is not an Ed25519 private key (ed25519-sha256 "
		    "wants PKCS#8 \"PRIVATE KEY\")",
		    k->path);
	}
	crypto_sign_seed_keypair(pk, k->ed_sk, seed);
	sodium_memzero(seed, sizeof(seed));
	return 0;
}

static int
load_key_file(struct dks_key *k, const struct rmx_host_api *host, char *err,
    size_t errlen)
{
	unsigned char *pem = malloc(PEM_MAX), *der = malloc(PEM_MAX);
	size_t pem_len = 0;
	int der_len, rc = -1;

	if (pem == NULL || der == NULL) {
		fail(err, errlen, "key: %s: out of memory", k->path);
		goto out;
	}
	if (read_file(k->path, pem, PEM_MAX, &pem_len, host, err, errlen) != 0)
		goto out;
	der_len = wc_KeyPemToDer(pem, (int)pem_len, der, PEM_MAX, NULL);
	if (der_len <= 0) {
		fail(err, errlen,
		    "key: %s: no unencrypted PEM private key in the file",
		    k->path);
		goto out;
	}
	if (k->alg == DKS_RSA_SHA256)
		rc = load_rsa(k, der, (size_t)der_len, err, errlen);
	else
		rc = load_ed25519(k, der, (size_t)der_len, err, errlen);
out:
	if (pem != NULL)
		sodium_memzero(pem, PEM_MAX);
	if (der != NULL)
		sodium_memzero(der, PEM_MAX);
	free(pem);
	free(der);
	return rc;
}

/* "domain:selector:algorithm:path" (the path may contain ':'). */
static int
parse_key(struct dks_key *k, const char *v, char *err, size_t errlen)
{
	const char *c1 = strchr(v, ':');
	const char *c2 = c1 != NULL ? strchr(c1 + 1, ':') : NULL;
	const char *c3 = c2 != NULL ? strchr(c2 + 1, ':') : NULL;
	size_t alen;

	if (c3 == NULL || c3[1] == '\0')
		return fail(err, errlen,
		    "key: \"%s\" is not domain:selector:algorithm:path", v);
	if (!dks_ldh_name(v, (size_t)(c1 - v)))
		return fail(err, errlen, "key: bad domain in \"%s\"", v);
	if (!dks_ldh_name(c1 + 1, (size_t)(c2 - c1 - 1)))
		return fail(err, errlen, "key: bad selector in \"%s\"", v);
	alen = (size_t)(c3 - c2 - 1);
	if (alen == strlen("rsa-sha256") &&
	    memcmp(c2 + 1, "rsa-sha256", alen) == 0)
		k->alg = DKS_RSA_SHA256;
	else if (alen == strlen("ed25519-sha256") &&
		 memcmp(c2 + 1, "ed25519-sha256", alen) == 0)
		k->alg = DKS_ED25519_SHA256;
	else
		return fail(err, errlen,
		    "key: bad algorithm \"%.*s\" in \"%s\" (want rsa-sha256 "
		    "or ed25519-sha256)",
		    (int)alen, c2 + 1, v);
	k->domain = strndup(v, (size_t)(c1 - v));
	k->selector = strndup(c1 + 1, (size_t)(c2 - c1 - 1));
	k->path = strdup(c3 + 1);
	if (k->domain == NULL || k->selector == NULL || k->path == NULL)
		return fail(err, errlen, "out of memory");
	lower(k->domain);
	return 0;
}

/* ----------------------------------------------------- configuration */

static int
add_name(struct dks_conf *c, const char *name, bool over, const char *key,
    char *err, size_t errlen)
{
	char **nh;
	bool *no;

	if (!field_name(name))
		return fail(
		    err, errlen, "%s: bad header name \"%s\"", key, name);
	for (size_t i = 0; i < c->nhdrs; i++)
		if (strcasecmp(c->hdrs[i], name) == 0) {
			c->over[i] = c->over[i] || over;
			return 0;
		}
	nh = realloc(c->hdrs, (c->nhdrs + 1) * sizeof(*nh));
	if (nh == NULL)
		return fail(err, errlen, "out of memory");
	c->hdrs = nh;
	no = realloc(c->over, (c->nhdrs + 1) * sizeof(*no));
	if (no == NULL)
		return fail(err, errlen, "out of memory");
	c->over = no;
	if ((c->hdrs[c->nhdrs] = strdup(name)) == NULL)
		return fail(err, errlen, "out of memory");
	lower(c->hdrs[c->nhdrs]);
	c->over[c->nhdrs++] = over;
	return 0;
}

static int
parse_expire(struct dks_conf *c, const char *v, char *err, size_t errlen)
{
	uint64_t x = 0;

	if (*v == '\0')
		return fail(err, errlen, "expire: empty value");
	for (const char *p = v; *p != '\0'; p++) {
		if (*p < '0' || *p > '9' || x > EXPIRE_MAX)
			return fail(err, errlen,
			    "expire: \"%s\" is not a number of seconds "
			    "(0..%llu)",
			    v, (unsigned long long)EXPIRE_MAX);
		x = x * 10 + (uint64_t)(*p - '0');
	}
	if (x > EXPIRE_MAX)
		return fail(err, errlen,
		    "expire: \"%s\" is not a number of seconds (0..%llu)", v,
		    (unsigned long long)EXPIRE_MAX);
	c->expire = x;
	return 0;
}

static int
add_key(struct dks_conf *c, const char *v, char *err, size_t errlen)
{
	struct dks_key *nk = realloc(c->keys, (c->nkeys + 1) * sizeof(*nk));
	struct dks_key *k;

	if (nk == NULL)
		return fail(err, errlen, "out of memory");
	c->keys = nk;
	k = &c->keys[c->nkeys++];
	memset(k, 0, sizeof(*k));
	if (parse_key(k, v, err, errlen) != 0)
		return -1;
	for (size_t i = 0; i + 1 < c->nkeys; i++)
		if (strcmp(c->keys[i].domain, k->domain) == 0 &&
		    strcasecmp(c->keys[i].selector, k->selector) == 0)
			return fail(err, errlen,
			    "key: selector %s of %s given twice", k->selector,
			    k->domain);
	return 0;
}

static int
parse_cfg(struct dks_conf *c, const struct rmx_kv *cfg,
    const struct rmx_host_api *host, char *err, size_t errlen)
{
	bool have_canon = false, have_expire = false;
	bool have_headers = false, have_over = false, from = false;

	c->hcanon = c->bcanon = DKIM_CANON_RELAXED;
	for (const struct rmx_kv *kv = cfg; kv != NULL && kv->key != NULL;
	     kv++) {
		const char *k = kv->key, *v = kv->value ? kv->value : "";

		if (strcmp(k, "key") == 0) {
			if (add_key(c, v, err, errlen) != 0)
				return -1;
		} else if (strcmp(k, "canonicalization") == 0) {
			if (have_canon)
				return fail(err, errlen,
				    "canonicalization: given twice");
			have_canon = true;
			if (strchr(v, '/') == NULL ||
			    dkim_canon_parse(
				v, strlen(v), &c->hcanon, &c->bcanon) != 0)
				return fail(err, errlen,
				    "canonicalization: \"%s\" is not one of "
				    "relaxed/relaxed, relaxed/simple, "
				    "simple/relaxed, simple/simple",
				    v);
		} else if (strcmp(k, "headers") == 0) {
			have_headers = true;
			if (add_name(c, v, false, k, err, errlen) != 0)
				return -1;
		} else if (strcmp(k, "oversign") == 0) {
			have_over = true;
			/* "" alone: oversign nothing */
			if (*v != '\0' &&
			    add_name(c, v, true, k, err, errlen) != 0)
				return -1;
		} else if (strcmp(k, "expire") == 0) {
			if (have_expire)
				return fail(err, errlen, "expire: given twice");
			have_expire = true;
			if (parse_expire(c, v, err, errlen) != 0)
				return -1;
		} else {
			return fail(err, errlen, "unknown key \"%s\"", k);
		}
	}
	if (c->nkeys == 0)
		return fail(err, errlen,
		    "key: no signing key configured (key = "
		    "\"domain:selector:algorithm:/path/key.pem\")");
	if (!have_headers)
		for (size_t i = 0;
		     i < sizeof(default_headers) / sizeof(default_headers[0]);
		     i++)
			if (add_name(c, default_headers[i], false, "headers",
				err, errlen) != 0)
				return -1;
	if (!have_over && add_name(c, "from", true, "oversign", err, errlen))
		return -1;
	for (size_t i = 0; i < c->nhdrs; i++)
		from = from || strcmp(c->hdrs[i], "from") == 0;
	if (!from)
		return fail(err, errlen,
		    "headers: From must be signed (RFC 6376 section 5.4)");
	for (size_t i = 0; i < c->nkeys; i++)
		if (load_key_file(&c->keys[i], host, err, errlen) != 0)
			return -1;
	return 0;
}

static void
conf_free(struct dks_conf *c)
{
	for (size_t i = 0; i < c->nkeys; i++) {
		struct dks_key *k = &c->keys[i];

		if (k->der != NULL)
			sodium_memzero(k->der, k->der_len);
		free(k->der);
		sodium_memzero(k->ed_sk, sizeof(k->ed_sk));
		free(k->domain);
		free(k->selector);
		free(k->path);
	}
	free(c->keys);
	for (size_t i = 0; i < c->nhdrs; i++)
		free(c->hdrs[i]);
	free(c->hdrs);
	free(c->over);
	free(c);
}

/* dks_conf_load - see dks.h. */
int
dks_conf_load(const struct rmx_host_api *host, const struct rmx_kv *cfg,
    struct dks_conf **out, char *err, size_t errlen)
{
	struct dks_conf *c = calloc(1, sizeof(*c));

	if (c == NULL)
		return fail(err, errlen, "out of memory");
	atomic_init(&c->refs, 1);
	if (parse_cfg(c, cfg, host, err, errlen) != 0) {
		conf_free(c);
		return -1;
	}
	*out = c;
	return 0;
}

/* dks_conf_ref - see dks.h. */
struct dks_conf *
dks_conf_ref(struct dks_conf *c)
{
	atomic_fetch_add_explicit(&c->refs, 1, memory_order_relaxed);
	return c;
}

/* dks_conf_unref - see dks.h. */
void
dks_conf_unref(struct dks_conf *c)
{
	if (c != NULL &&
	    atomic_fetch_sub_explicit(&c->refs, 1, memory_order_acq_rel) == 1)
		conf_free(c);
}

/* ------------------------------------------------------------ signing */

/* dks_rsa_sign - see dks.h. */
int
dks_rsa_sign(const struct dks_key *k,
    const unsigned char digest[DKIM_SHA256_LEN], unsigned char *sig,
    size_t *siglen)
{
	unsigned char info[sizeof(sha256_info) + DKIM_SHA256_LEN];
	RsaKey *rsa = malloc(sizeof(*rsa));
	WC_RNG rng;
	word32 idx = 0;
	int rc;

	if (rsa == NULL)
		return MEMORY_E;
	memcpy(info, sha256_info, sizeof(sha256_info));
	memcpy(info + sizeof(sha256_info), digest, DKIM_SHA256_LEN);
	rc = wc_InitRsaKey(rsa, NULL);
	if (rc != 0) {
		free(rsa);
		return rc;
	}
	rc = wc_RsaPrivateKeyDecode(k->der, &idx, rsa, (word32)k->der_len);
	if (rc == 0) {
		rc = wc_InitRng(&rng);
		if (rc == 0) {
			rc = wc_RsaSSL_Sign(
			    info, sizeof(info), sig, DKS_SIG_MAX, rsa, &rng);
			wc_FreeRng(&rng);
		}
	}
	wc_FreeRsaKey(rsa);
	free(rsa);
	if (rc < 0)
		return rc;
	*siglen = (size_t)rc;
	return 0;
}

/* dks_ed25519_sign - see dks.h. */
void
dks_ed25519_sign(const struct dks_key *k,
    const unsigned char digest[DKIM_SHA256_LEN],
    unsigned char sig[crypto_sign_BYTES])
{
	crypto_sign_detached(sig, NULL, digest, DKIM_SHA256_LEN, k->ed_sk);
}
