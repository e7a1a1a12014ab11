/*
 * dkim_verify.c - the dkim_verify plugin: DKIM signature verification
 * (RFC 6376, rsa-sha256 and ed25519-sha256 per RFC 8463) in the DATA
 * hook, with the results as message notes (dkim.count, dkim.<i>.*,
 * ar.dkim_verify) for the dmarc plugin and the host's
 * Authentication-Results header. Here: configuration, the hook, header
 * selection and hashing, the body pass, DNS and the notes. Not here: the
 * tag grammar (dkim_tags.c), the signature's tags (dkim_sig.c), the key
 * record and the public-key operations (dkim_key.c), canonicalisation
 * and base64 (plugins/common/dkim_canon.c, shared with dkim_sign).
 *
 * Per message, all in the hook on the call's worker: every
 * DKIM-Signature (up to max_signatures, top down) is parsed and checked
 * for time; for the good ones the header hash is computed at once (it
 * does not depend on the key) and the body is read once, in chunks,
 * feeding one hasher per distinct (body canonicalisation, l=) pair. A
 * body hash mismatch fails without DNS. The rest get their key queries
 * sent together (host->dns_query) and the hook answers RMX_PENDING with a
 * timer of timeout_ms. Each DNS callback parses the key record, checks
 * it against the signature and verifies inline (RSA-2048 ~50 us,
 * Ed25519 ~50 us: no offload). When the last answer is in, or the timer
 * fires first (the missing ones are temperror), the notes are written
 * and the call completed: RMX_CONTINUE, or with reject_fail a 550 5.7.20
 * when nothing passed and something failed.
 *
 * Memory: the per-message state (struct dkv_msg) comes from call_alloc,
 * so the host frees it when the call ends, completed or cancelled; DNS
 * callbacks and the timer are never called after that (the host drops
 * them), so cancel has nothing to release. It holds copies of everything
 * it needs after the hook returns (no host memory is kept).
 */
#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <sodium.h>
#include <wolfssl/options.h>
#include <wolfssl/wolfcrypt/wc_port.h>

#include "ringmx/plugin.h"

#include "dkim_canon.h"
#include "dkim_key.h"
#include "dkim_sig.h"
#include "dns_answer.h"

#define DKV_NAME "dkim_verify"
/* Bodies at least this large are hashed on the offload pool. */
#define BODY_OFFLOAD_MIN (256 * 1024)
#define SIG_HDR          "DKIM-Signature"
#define RBUF_SIZE        65536
#define MAX_SIGS         50

/* The settings: a plain value, copied whole under the lock. */
struct dkv_conf {
	unsigned max_signatures;
	unsigned max_clock_skew; /* seconds */
	unsigned timeout_ms;
	unsigned min_rsa_bits;
	bool reject_l_tag;
	bool reject_fail;
};

/* Plugin state (main thread creates it; workers read conf under lock). */
struct dkv_plugin {
	const struct rmx_host_api *host;
	pthread_mutex_t lock; /* guards conf */
	struct dkv_conf conf;
};

struct dkv_hdr {
	const char *name, *value; /* host memory, valid in the hook only */
	size_t nlen, vlen;
};

/* Per-worker scratch, used only inside one hook call (owned here). */
struct dkv_worker {
	struct dkv_plugin *plugin;
	struct dkv_hdr *hdrs;
	size_t nhdrs, hcap;
	char *cbuf; /* canonical header field */
	size_t ccap;
	unsigned char *rbuf; /* body_read chunk */
};

struct dkv_msg;

/* One signature of a message (inside struct dkv_msg). */
struct dkv_one {
	struct dkv_msg *m;
	enum dkim_result res;
	const char *why; /* static text or NULL */
	bool parsed;     /* sig is valid (a, d, s known) */
	bool pending;    /* key query in flight */
	bool done;       /* res is final */
	bool testing;    /* key record has t=y */
	int slot;        /* body hasher index while hashing */
	unsigned char hdigest[DKIM_SHA256_LEN];
	struct dkim_sig sig;
};

/* Per message: call_alloc memory, freed by the host with the call. */
struct dkv_msg {
	struct dkv_worker *w;
	struct rmx_call *call;
	struct dkv_conf conf;
	size_t n;           /* signatures considered */
	size_t outstanding; /* key queries not answered */
	bool finished;      /* notes written, call completed */
	bool body_pending;  /* the body is being hashed on the offload pool */
	/* large bodies: hashed on the offload pool (call_alloc memory) */
	struct dkim_body_hash *slots;
	size_t nslots;
	unsigned char *body; /* heap copy; freed by the job itself */
	size_t body_len;
	struct dkv_one one[];
};

/* --------------------------------------------------- small helpers */

struct sbuf {
	char *p;
	size_t len, cap;
	bool oom;
};

static void
sb_put(struct sbuf *b, const char *s, size_t n)
{
	if (b->oom)
		return;
	if (b->len + n + 1 > b->cap) {
		size_t cap = b->cap ? b->cap : 256;
		char *p;

		while (cap < b->len + n + 1)
			cap *= 2;
		p = realloc(b->p, cap);
		if (p == NULL) {
			b->oom = true;
			return;
		}
		b->p = p;
		b->cap = cap;
	}
	memcpy(b->p + b->len, s, n);
	b->len += n;
	b->p[b->len] = '\0';
}

static void
sb_str(struct sbuf *b, const char *s)
{
	sb_put(b, s, strlen(s));
}

/* RFC 2045 token characters: otherwise a value is quoted. */
static bool
is_token(const char *s)
{
	if (*s == '\0')
		return false;
	for (; *s != '\0'; s++) {
		unsigned char c = (unsigned char)*s;

		if (c <= 32 || c >= 127 || strchr("()<>@,;:\\\"/[]?=", c))
			return false;
	}
	return true;
}

/* " key=value", the value quoted when it is not a token. */
static void
sb_prop(struct sbuf *b, const char *key, const char *val)
{
	sb_str(b, " ");
	sb_str(b, key);
	sb_str(b, "=");
	if (is_token(val)) {
		sb_str(b, val);
		return;
	}
	sb_str(b, "\"");
	for (; *val != '\0'; val++) {
		if (*val == '"' || *val == '\\')
			sb_str(b, "\\");
		if ((unsigned char)*val >= 32 && (unsigned char)*val < 127)
			sb_put(b, val, 1);
	}
	sb_str(b, "\"");
}

static bool
name_is(const char *name, size_t nlen, const char *want, size_t wl)
{
	while (nlen > 0 && (name[nlen - 1] == ' ' || name[nlen - 1] == '\t'))
		nlen--;
	return nlen == wl && strncasecmp(name, want, wl) == 0;
}

static struct dkv_conf
conf_get(struct dkv_plugin *p)
{
	struct dkv_conf c;

	pthread_mutex_lock(&p->lock);
	c = p->conf;
	pthread_mutex_unlock(&p->lock);
	return c;
}

/* ---------------------------------------------------------- results */

static void
set_result(struct dkv_one *o, enum dkim_result r, const char *why)
{
	o->res = r;
	o->why = why;
	o->done = true;
	o->pending = false;
}

/* The notes and the verdict; the message is done after this. */
static enum rmx_verdict
finish(struct dkv_msg *m)
{
	const struct rmx_host_api *host = m->w->plugin->host;
	struct rmx_call *call = m->call;
	struct sbuf ar = {0};
	bool pass = false, fail = false;
	char key[64], val[32];

	m->finished = true;
	snprintf(val, sizeof(val), "%zu", m->n);
	host->note_set(call, "dkim.count", val);
	if (m->n == 0)
		sb_str(&ar, "dkim=none");
	for (size_t i = 0; i < m->n; i++) {
		struct dkv_one *o = &m->one[i];
		const struct dkim_sig *s = &o->sig;
		const char *res = dkim_result_name(o->res);

		pass = pass || o->res == DKIM_PASS;
		fail = fail || o->res == DKIM_FAIL;
#define NOTE(suffix, value)                                        \
	do {                                                       \
		snprintf(key, sizeof(key), "dkim.%zu." suffix, i); \
		host->note_set(call, key, value);                  \
	} while (0)
		NOTE("result", res);
		if (s->d[0] != '\0')
			NOTE("domain", s->d);
		if (s->s[0] != '\0')
			NOTE("selector", s->s);
		if (o->parsed)
			NOTE("algorithm", dkim_alg_name(s->alg));
		if (s->b8[0] != '\0')
			NOTE("b", s->b8);
		if (o->why != NULL)
			NOTE("reason", o->why);
		if (s->has_l) {
			snprintf(
			    val, sizeof(val), "%llu", (unsigned long long)s->l);
			NOTE("l", val);
		}
		if (o->testing)
			NOTE("testing", "y");
#undef NOTE
		if (i > 0)
			sb_str(&ar, "; ");
		sb_str(&ar, "dkim=");
		sb_str(&ar, res);
		if (o->why != NULL && o->res != DKIM_PASS)
			sb_prop(&ar, "reason", o->why);
		if (s->d[0] != '\0')
			sb_prop(&ar, "header.d", s->d);
		if (s->s[0] != '\0')
			sb_prop(&ar, "header.s", s->s);
		if (o->parsed)
			sb_prop(&ar, "header.a", dkim_alg_name(s->alg));
		if (s->b8[0] != '\0')
			sb_prop(&ar, "header.b", s->b8);
		host->log(call,
		    o->res == DKIM_PASS ? RMX_LOG_INFO : RMX_LOG_NOTICE,
		    "dkim=%s idx=%zu d=%s s=%s a=%s reason=\"%s\"%s", res, i,
		    s->d[0] ? s->d : "-", s->s[0] ? s->s : "-",
		    o->parsed ? dkim_alg_name(s->alg) : "-",
		    o->why != NULL ? o->why : "",
		    o->testing ? " testing=y" : "");
	}
	if (ar.oom)
		host->log(call, RMX_LOG_ERR, "dkim=error error=nomem");
	else
		host->note_set(call, "ar." DKV_NAME, ar.p);
	free(ar.p);
	if (m->conf.reject_fail && !pass && fail) {
		host->set_reply(
		    call, 550, "5.7.20", "No passing DKIM signature found");
		return RMX_REJECT;
	}
	return RMX_CONTINUE;
}

/* ------------------------------------------------------- DNS, timer */

static void
key_answer(
    struct dkv_one *o, int rcode, int secure, const void *ans, size_t len)
{
	const struct dkv_conf *c = &o->m->conf;
	struct dns_answer a;
	struct dkim_key *key;
	const char *why = "no key";
	enum dkim_result r;
	unsigned bits;
	size_t i, n;

	dns_answer_parse(&a, DA_T_TXT, rcode, secure, ans, len);
	switch (a.status) {
	case DA_NXDOMAIN:
	case DA_NODATA:
		set_result(o, DKIM_PERMERROR, "no key");
		dns_answer_free(&a);
		return;
	case DA_TEMP:
		set_result(o, DKIM_TEMPERROR, "key lookup failed");
		dns_answer_free(&a);
		return;
	case DA_OK:
		break;
	}
	key = malloc(sizeof(*key));
	if (key == NULL) {
		set_result(o, DKIM_TEMPERROR, "out of memory");
		dns_answer_free(&a);
		return;
	}
	/* several records: the first one that parses */
	n = a.n;
	for (i = 0; i < n; i++)
		if (dkim_key_parse(a.rr[i].text, a.rr[i].len, key, &why) == 0)
			break;
	dns_answer_free(&a);
	if (i == n) {
		set_result(o, DKIM_PERMERROR, why);
		free(key);
		return;
	}
	o->testing = key->testing;
	r = dkim_key_check(key, &o->sig, &why);
	if (r == DKIM_PASS)
		r = dkim_key_verify(
		    key, &o->sig, o->hdigest, c->min_rsa_bits, &bits, &why);
	set_result(o, r, why);
	free(key);
}

static void
dns_done(struct rmx_call *call, int rcode, int secure, const void *answer,
    size_t len, void *arg)
{
	struct dkv_one *o = arg;
	struct dkv_msg *m = o->m;

	if (m->finished || !o->pending)
		return; /* timed out before */
	key_answer(o, rcode, secure, answer, len);
	m->outstanding--;
	if (m->outstanding == 0 && !m->body_pending) {
		enum rmx_verdict v = finish(m);

		m->w->plugin->host->complete(call, v);
	}
}

static void
timed_out(struct rmx_call *call, void *arg)
{
	struct dkv_msg *m = arg;
	enum rmx_verdict v;

	if (m->finished)
		return;
	for (size_t i = 0; i < m->n; i++)
		if (m->one[i].pending)
			set_result(
			    &m->one[i], DKIM_TEMPERROR, "key lookup timed out");
	m->outstanding = 0;
	if (m->body_pending)
		return; /* the body job ends it (bounded: it only hashes) */
	v = finish(m);
	m->w->plugin->host->complete(call, v);
}

/* --------------------------------------------------------- hashing */

static int
collect_headers(struct dkv_worker *w, struct rmx_call *call)
{
	const struct rmx_host_api *host = w->plugin->host;
	struct dkv_hdr h;

	w->nhdrs = 0;
	while (host->header_get(
		   call, w->nhdrs, &h.name, &h.nlen, &h.value, &h.vlen) == 0) {
		if (w->nhdrs == w->hcap) {
			size_t cap = w->hcap ? w->hcap * 2 : 64;
			struct dkv_hdr *p = realloc(w->hdrs, cap * sizeof(*p));

			if (p == NULL)
				return -ENOMEM;
			w->hdrs = p;
			w->hcap = cap;
		}
		w->hdrs[w->nhdrs++] = h;
	}
	return 0;
}

static char *
cbuf_room(struct dkv_worker *w, size_t n)
{
	if (n > w->ccap) {
		char *p = realloc(w->cbuf, n);

		if (p == NULL)
			return NULL;
		w->cbuf = p;
		w->ccap = n;
	}
	return w->cbuf;
}

static int
hash_field(struct dkv_worker *w, crypto_hash_sha256_state *st,
    enum dkim_canon c, const char *name, size_t nlen, const char *value,
    size_t vlen, bool crlf)
{
	char *out = cbuf_room(w, DKIM_CANON_HEADER_MAX(nlen, vlen));
	size_t n;

	if (out == NULL)
		return -ENOMEM;
	n = dkim_canon_header(c, name, nlen, value, vlen, crlf, out);
	crypto_hash_sha256_update(st, (const unsigned char *)out, n);
	return 0;
}

/*
 * The header hash of signature o, from field sigidx (RFC 6376 section
 * 5.4.2: h= names taken bottom up, each instance once; a name without a
 * (further) instance hashes nothing; then the signature field itself,
 * b= emptied, without its CRLF).
 */
static int
header_hash(struct dkv_worker *w, struct dkv_one *o, size_t sigidx)
{
	const struct dkim_sig *s = &o->sig;
	const struct dkv_hdr *sh = &w->hdrs[sigidx];
	crypto_hash_sha256_state st;
	char *val;
	size_t vlen;
	int rc;

	crypto_hash_sha256_init(&st);
	for (size_t j = 0; j < s->nh; j++) {
		const char *nm = sh->value + s->h_off[j];
		size_t nl = s->h_len[j], skip = 0;

		for (size_t k = 0; k < j; k++)
			if (s->h_len[k] == nl &&
			    strncasecmp(sh->value + s->h_off[k], nm, nl) == 0)
				skip++;
		for (size_t i = w->nhdrs; i-- > 0;) {
			const struct dkv_hdr *h = &w->hdrs[i];

			if (!name_is(h->name, h->nlen, nm, nl) || skip-- > 0)
				continue;
			rc = hash_field(w, &st, s->hcanon, h->name, h->nlen,
			    h->value, h->vlen, true);
			if (rc != 0)
				return rc;
			break;
		}
	}
	/* the signature field with the b= value deleted */
	vlen = sh->vlen - (s->b_end - s->b_start);
	val = malloc(vlen + 1);
	if (val == NULL)
		return -ENOMEM;
	memcpy(val, sh->value, s->b_start);
	memcpy(val + s->b_start, sh->value + s->b_end, sh->vlen - s->b_end);
	rc =
	    hash_field(w, &st, s->hcanon, sh->name, sh->nlen, val, vlen, false);
	free(val);
	if (rc == 0)
		crypto_hash_sha256_final(&st, o->hdigest);
	return rc;
}

/*
 * One pass over the body feeding a hasher per distinct (canon, l=); then
 * the bh= comparisons and the l= policy. Signatures whose body fails are
 * done; the others stay to be checked against their key.
 */
/* One hasher per distinct (body canonicalisation, l=) of the signatures
 * still open; each signature's slot is set. Returns the number of
 * slots. */
static size_t
body_slots_init(struct dkv_msg *m, struct dkim_body_hash *slots)
{
	size_t nslots = 0;

	for (size_t i = 0; i < m->n; i++) {
		struct dkv_one *o = &m->one[i];
		uint64_t lim = o->sig.has_l ? o->sig.l : DKIM_BODY_NO_LIMIT;
		size_t k;

		o->slot = -1;
		if (o->done)
			continue;
		for (k = 0; k < nslots; k++)
			if (slots[k].canon.mode == o->sig.bcanon &&
			    slots[k].limit == lim)
				break;
		if (k == nslots)
			dkim_body_hash_init_limit(
			    &slots[nslots++], o->sig.bcanon, lim);
		o->slot = (int)k;
	}
	return nslots;
}

/* The bh= comparisons and the l= policy once the whole body went in. */
static void
body_slots_finish(
    struct dkv_msg *m, struct dkim_body_hash *slots, size_t nslots)
{
	for (size_t k = 0; k < nslots; k++) {
		unsigned char bh[DKIM_SHA256_LEN];

		dkim_body_hash_final(&slots[k], bh);
		for (size_t i = 0; i < m->n; i++) {
			struct dkv_one *o = &m->one[i];
			const struct dkim_sig *s = &o->sig;

			if (!o->parsed || o->slot != (int)k ||
			    (o->done && o->res != DKIM_PASS &&
				o->res != DKIM_TEMPERROR))
				continue;
			/* a failing body decides, whatever the key said */
			if (s->has_l && s->l > slots[k].canon_total)
				set_result(
				    o, DKIM_FAIL, "l= longer than the body");
			else if (s->bhlen != DKIM_SHA256_LEN ||
				 sodium_memcmp(bh, s->bh, DKIM_SHA256_LEN) != 0)
				set_result(o, DKIM_FAIL, "body hash mismatch");
			else if (s->has_l && m->conf.reject_l_tag &&
				 s->l < slots[k].canon_total)
				set_result(o, DKIM_FAIL, "body length limit");
		}
	}
}

/*
 * One pass over the body (in chunks, on the worker) feeding a hasher per
 * distinct (canon, l=); then the bh= comparisons and the l= policy.
 * Signatures whose body fails are done; the others stay to be checked
 * against their key.
 */
static void
body_pass(struct dkv_worker *w, struct dkv_msg *m)
{
	const struct rmx_host_api *host = w->plugin->host;
	struct dkim_body_hash *slots;
	size_t nslots;
	uint64_t off = 0;
	int64_t r = 0;

	slots = malloc(m->n * sizeof(*slots));
	if (slots == NULL) {
		for (size_t i = 0; i < m->n; i++)
			if (!m->one[i].done)
				set_result(&m->one[i], DKIM_TEMPERROR,
				    "out of memory");
		return;
	}
	nslots = body_slots_init(m, slots);
	while (nslots > 0 &&
	       (r = host->body_read(m->call, off, w->rbuf, RBUF_SIZE)) > 0) {
		for (size_t k = 0; k < nslots; k++)
			dkim_body_hash_update(&slots[k], w->rbuf, (size_t)r);
		off += (uint64_t)r;
	}
	if (nslots > 0 && r < 0) {
		for (size_t i = 0; i < m->n; i++)
			if (!m->one[i].done)
				set_result(&m->one[i], DKIM_TEMPERROR,
				    "body read failed");
		free(slots);
		return;
	}
	body_slots_finish(m, slots, nslots);
	free(slots);
}

/* Large bodies: copy once on the worker (memcpy), hash on the offload
 * pool, so that a 50 MB message does not hold the loop for half a
 * second. The job frees the copy itself (also when the call was
 * cancelled meanwhile: then body_done is never called). */
static void
body_job(void *arg)
{
	struct dkv_msg *m = arg;

	for (size_t k = 0; k < m->nslots; k++)
		dkim_body_hash_update(&m->slots[k], m->body, m->body_len);
	free(m->body);
	m->body = NULL;
}

static enum rmx_verdict finish(struct dkv_msg *m);

static void
body_done(struct rmx_call *call, void *arg)
{
	struct dkv_msg *m = arg;

	m->body_pending = false;
	body_slots_finish(m, m->slots, m->nslots);
	if (m->outstanding == 0 && !m->finished)
		m->w->plugin->host->complete(call, finish(m));
}

/* Start hashing a large body on the offload pool; false if not possible
 * (then the caller hashes on the loop). */
static bool
body_offload(struct dkv_worker *w, struct dkv_msg *m, uint64_t size)
{
	const struct rmx_host_api *host = w->plugin->host;
	uint64_t off = 0;
	int64_t r;

	if (!RMX_HOST_HAS(host, offload) || size > (uint64_t)SIZE_MAX)
		return false;
	m->slots = host->call_alloc(m->call, m->n * sizeof(*m->slots));
	m->body = malloc((size_t)size ? (size_t)size : 1);
	if (m->slots == NULL || m->body == NULL) {
		free(m->body);
		m->body = NULL;
		return false;
	}
	while (off < size && (r = host->body_read(m->call, off, m->body + off,
				  (size_t)(size - off))) > 0)
		off += (uint64_t)r;
	m->body_len = (size_t)off;
	m->nslots = body_slots_init(m, m->slots);
	m->body_pending = true;
	host->log(
	    m->call, RMX_LOG_DEBUG, "dkim=body_offload size=%zu", m->body_len);
	if (host->offload(m->call, body_job, body_done, m) != 0) {
		free(m->body);
		m->body = NULL;
		m->body_pending = false;
		return false;
	}
	return true;
}

/* ------------------------------------------------------------ hook */

static enum rmx_verdict
tempfail(const struct rmx_host_api *host, struct rmx_call *call)
{
	host->set_reply(call, 451, "4.3.0",
	    "DKIM verification failed, please try again later");
	return RMX_TEMPFAIL;
}

static void
send_queries(struct dkv_msg *m)
{
	const struct rmx_host_api *host = m->w->plugin->host;

	for (size_t i = 0; i < m->n; i++) {
		struct dkv_one *o = &m->one[i];
		char name[DKIM_NAME_MAX + 2];
		int n, rc;

		if (o->done)
			continue;
		n = snprintf(
		    name, sizeof(name), "%s._domainkey.%s", o->sig.s, o->sig.d);
		if (n < 0 || (size_t)n > DKIM_NAME_MAX) {
			set_result(o, DKIM_PERMERROR, "key name too long");
			continue;
		}
		o->pending = true;
		rc = host->dns_query(m->call, name, DA_T_TXT, dns_done, o);
		if (rc != 0) {
			host->log(m->call, RMX_LOG_WARNING,
			    "dkim=temperror error=dns_query name=%s rc=%d",
			    name, rc);
			set_result(o, DKIM_TEMPERROR, "DNS unavailable");
			continue;
		}
		m->outstanding++;
	}
}

static enum rmx_verdict
dkv_hook_data(struct rmx_call *call, void *worker_state)
{
	struct dkv_worker *w = worker_state;
	const struct rmx_host_api *host = w->plugin->host;
	struct dkv_conf conf = conf_get(w->plugin);
	size_t total = 0, n;
	struct dkv_msg *m;
	uint64_t now = (uint64_t)time(NULL);
	bool any = false;

	if (collect_headers(w, call) != 0) {
		host->log(call, RMX_LOG_ERR, "dkim=error error=nomem");
		return tempfail(host, call);
	}
	for (size_t i = 0; i < w->nhdrs; i++)
		if (name_is(w->hdrs[i].name, w->hdrs[i].nlen, SIG_HDR,
			strlen(SIG_HDR)))
			total++;
	n = total < conf.max_signatures ? total : conf.max_signatures;
	if (total > n)
		host->log(call, RMX_LOG_NOTICE,
		    "dkim=ignored signatures=%zu max_signatures=%u", total,
		    conf.max_signatures);
	m = host->call_alloc(call, sizeof(*m) + n * sizeof(m->one[0]));
	if (m == NULL) {
		host->log(call, RMX_LOG_ERR, "dkim=error error=nomem");
		return tempfail(host, call);
	}
	m->w = w;
	m->call = call;
	m->conf = conf;
	m->n = n;
	for (size_t i = 0, k = 0; i < w->nhdrs && k < n; i++) {
		const struct dkv_hdr *h = &w->hdrs[i];
		struct dkv_one *o = &m->one[k];
		const char *why = NULL;
		enum dkim_result r;

		if (!name_is(h->name, h->nlen, SIG_HDR, strlen(SIG_HDR)))
			continue;
		k++;
		o->m = m;
		if (dkim_sig_parse(h->value, h->vlen, &o->sig, &why) != 0) {
			set_result(o, DKIM_PERMERROR, why);
			continue;
		}
		o->parsed = true;
		r = dkim_sig_check_time(
		    &o->sig, now, conf.max_clock_skew, &why);
		if (r != DKIM_PASS) {
			set_result(o, r, why);
			continue;
		}
		if (header_hash(w, o, i) != 0) {
			set_result(o, DKIM_TEMPERROR, "out of memory");
			continue;
		}
		any = true;
	}
	if (any) {
		const char *sz = NULL;
		size_t szl = 0;
		uint64_t size = 0;
		if (host->get_item(call, RMX_ITEM_MSG_SIZE, 0, &sz, &szl) == 0)
			size = strtoull(sz, NULL, 10);
		if (size < BODY_OFFLOAD_MIN || !body_offload(w, m, size))
			body_pass(w, m);
	}
	send_queries(m);
	if (m->outstanding == 0 && !m->body_pending)
		return finish(m);
	if (host->timer_add(call, conf.timeout_ms, timed_out, m) != 0)
		host->log(call, RMX_LOG_WARNING,
		    "dkim=warning error=timer_add (the resolver's timeout "
		    "applies)");
	return RMX_PENDING;
}

/* Nothing to release: the message state is call_alloc memory, and the
 * host never calls dns_done or timed_out for a cancelled call. */
static void
dkv_cancel(struct rmx_call *call, void *worker_state)
{
	struct dkv_worker *w = worker_state;

	w->plugin->host->log(call, RMX_LOG_DEBUG, "dkim=cancelled");
}

/* ---------------------------------------------------- configuration */

__attribute__((format(printf, 3, 4))) static int
cfail(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;
	int n = snprintf(err, errlen, "%s: ", DKV_NAME);

	if (n < 0 || (size_t)n >= errlen)
		return -1;
	va_start(ap, fmt);
	vsnprintf(err + n, errlen - (size_t)n, fmt, ap);
	va_end(ap);
	return -1;
}

static int
uint_value(const char *key, const char *v, unsigned lo, unsigned hi,
    unsigned *out, char *err, size_t errlen)
{
	unsigned long long x = 0;
	size_t i = 0;

	for (; v[i] >= '0' && v[i] <= '9' && x <= hi; i++)
		x = x * 10 + (unsigned)(v[i] - '0');
	if (i == 0 || v[i] != '\0' || x < lo || x > hi)
		return cfail(err, errlen,
		    "%s: \"%s\" is not a number in %u..%u", key, v, lo, hi);
	*out = (unsigned)x;
	return 0;
}

static int
bool_value(const char *key, const char *v, bool *out, char *err, size_t errlen)
{
	if (strcmp(v, "true") == 0 || strcmp(v, "yes") == 0 ||
	    strcmp(v, "1") == 0)
		*out = true;
	else if (strcmp(v, "false") == 0 || strcmp(v, "no") == 0 ||
		 strcmp(v, "0") == 0)
		*out = false;
	else
		return cfail(
		    err, errlen, "%s: \"%s\" is not a boolean", key, v);
	return 0;
}

static int
conf_parse(
    const struct rmx_kv *cfg, struct dkv_conf *c, char *err, size_t errlen)
{
	*c = (struct dkv_conf){.max_signatures = 5,
	    .max_clock_skew = 300,
	    .timeout_ms = 15000,
	    .min_rsa_bits = 1024};
	for (; cfg != NULL && cfg->key != NULL; cfg++) {
		const char *k = cfg->key, *v = cfg->value ? cfg->value : "";
		int rc;

		if (strcmp(k, "max_signatures") == 0)
			rc = uint_value(
			    k, v, 1, MAX_SIGS, &c->max_signatures, err, errlen);
		else if (strcmp(k, "max_clock_skew") == 0)
			rc = uint_value(
			    k, v, 0, 86400, &c->max_clock_skew, err, errlen);
		else if (strcmp(k, "timeout_ms") == 0)
			rc = uint_value(
			    k, v, 100, 600000, &c->timeout_ms, err, errlen);
		else if (strcmp(k, "min_rsa_bits") == 0)
			rc = uint_value(k, v, 512, DKIM_RSA_MAX_BITS,
			    &c->min_rsa_bits, err, errlen);
		else if (strcmp(k, "reject_l_tag") == 0)
			rc = bool_value(k, v, &c->reject_l_tag, err, errlen);
		else if (strcmp(k, "reject_fail") == 0)
			rc = bool_value(k, v, &c->reject_fail, err, errlen);
		else
			rc = cfail(err, errlen, "%s: unknown key", k);
		if (rc != 0)
			return -1;
	}
	return 0;
}

/* ------------------------------------------------------- life cycle */

static int
dkv_init(const struct rmx_host_api *host, const struct rmx_kv *cfg,
    void **plugin_state, char *err, size_t errlen)
{
	struct dkv_plugin *p;
	struct dkv_conf c;

	if (!RMX_HOST_HAS(host, header_get) || !RMX_HOST_HAS(host, body_read) ||
	    !RMX_HOST_HAS(host, note_set) || !RMX_HOST_HAS(host, dns_query) ||
	    !RMX_HOST_HAS(host, timer_add) || !RMX_HOST_HAS(host, complete) ||
	    !RMX_HOST_HAS(host, call_alloc) || !RMX_HOST_HAS(host, log) ||
	    !RMX_HOST_HAS(host, set_reply))
		return cfail(
		    err, errlen, "the host lacks functions of ABI 1.0");
	if (conf_parse(cfg, &c, err, errlen) != 0)
		return -1;
	if (sodium_init() < 0)
		return cfail(err, errlen, "libsodium failed to initialise");
	if (wolfCrypt_Init() != 0)
		return cfail(err, errlen, "wolfCrypt failed to initialise");
	p = calloc(1, sizeof(*p));
	if (p == NULL) {
		wolfCrypt_Cleanup();
		return cfail(err, errlen, "out of memory");
	}
	p->host = host;
	p->conf = c;
	pthread_mutex_init(&p->lock, NULL);
	*plugin_state = p;
	return 0;
}

static int
dkv_reconfigure(
    void *plugin_state, const struct rmx_kv *cfg, char *err, size_t errlen)
{
	struct dkv_plugin *p = plugin_state;
	struct dkv_conf c;

	if (conf_parse(cfg, &c, err, errlen) != 0)
		return -1;
	pthread_mutex_lock(&p->lock);
	p->conf = c;
	pthread_mutex_unlock(&p->lock);
	return 0;
}

static void
dkv_fini(void *plugin_state)
{
	struct dkv_plugin *p = plugin_state;

	pthread_mutex_destroy(&p->lock);
	free(p);
	wolfCrypt_Cleanup();
}

static int
dkv_worker_init(void *plugin_state, unsigned worker, void **worker_state)
{
	struct dkv_worker *w = calloc(1, sizeof(*w));

	(void)worker;
	if (w == NULL || (w->rbuf = malloc(RBUF_SIZE)) == NULL) {
		free(w);
		return -ENOMEM;
	}
	w->plugin = plugin_state;
	*worker_state = w;
	return 0;
}

static void
dkv_worker_fini(void *worker_state)
{
	struct dkv_worker *w = worker_state;

	free(w->hdrs);
	free(w->cbuf);
	free(w->rbuf);
	free(w);
}

static const struct rmx_hook hooks[] = {
    {RMX_HOOK_DATA, RMX_HOOK_F_REQUIRED, dkv_hook_data},
    {0, 0, NULL},
};

static const struct rmx_plugin plugin = {
    .size = sizeof(struct rmx_plugin),
    .abi_version = RMX_PLUGIN_ABI_VERSION,
    .name = DKV_NAME,
    .version = "1.0",
    .init = dkv_init,
    .worker_init = dkv_worker_init,
    .worker_fini = dkv_worker_fini,
    .fini = dkv_fini,
    .cancel = dkv_cancel,
    .reconfigure = dkv_reconfigure,
    .hooks = hooks,
};

/* rmx_plugin_entry_v1 - the plugin's descriptor (see ringmx/plugin.h). */
__attribute__((visibility("default"))) const struct rmx_plugin *
RMX_PLUGIN_ENTRY(uint32_t host_abi, const char **why)
{
	if (host_abi >> 16 != RMX_PLUGIN_ABI_MAJOR) {
		*why = "dkim_verify is built for plugin ABI 1";
		return NULL;
	}
	return &plugin;
}
