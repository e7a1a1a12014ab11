/*
 * dkim_sign.c - the dkim_sign plugin: DKIM signatures (RFC 6376) with
 * rsa-sha256 and ed25519-sha256 (RFC 8463) on mail the host hands to the
 * SIGN hook (authenticated users, relay networks).
 *
 * Per message, on the call's worker: find the signing domain (the domain
 * of the one From: address) and every configured key of that domain,
 * canonicalise the signed header fields into a job, and either hash the
 * body there (streaming, body_read in chunks, when it is at most
 * INLINE_BODY octets) or copy it into the job. Then, per key, the
 * DKIM-Signature field is built up to "b=" and hashed after the signed
 * fields (RFC 6376 section 3.7), and signed.
 *
 * Where the work runs. A small message signed with Ed25519 keys only is
 * done inline (about 20 us per signature, ~5 us per KiB of body). An RSA
 * key (a private-key operation costs milliseconds) or a large body (SHA-256
 * of the canonical body runs at ~200 MB/s: 0.25 s for 50 MB) sends the
 * rest of the job to host->offload; the hook answers RMX_PENDING and
 * done() adds the fields and completes the call.
 *
 * Offload and cancel. Everything the pool thread touches lives in a
 * struct dks_job that the plugin mallocs (never call_alloc memory, never
 * host buffers): the canonical header block, the h= names, the body copy
 * or its hash, the field texts, digests and signatures, and a reference
 * on the configuration snapshot that owns the keys. The job has two
 * references, one for the work function and one for the call side
 * (done() or cancel()); whoever drops the last one frees it. cancel()
 * only unlinks the job from the worker's pending list and drops the call
 * side's reference, so a job whose work is still running on a pool
 * thread stays alive until work() returns; done() is never called for a
 * cancelled call, so nothing else touches it. A reconfigure meanwhile
 * swaps in a new snapshot; the old keys live on until the last job that
 * uses them is released.
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <wolfssl/options.h>
#include <wolfssl/wolfcrypt/wc_port.h>

#include "dks.h"

#define HDR_NAME      "DKIM-Signature"
#define LINE_MARGIN   78 /* folded lines at most this long ... */
#define TAB_COLS      8  /* ... counting a TAB as 8 columns */
#define B64_MIN       8  /* do not start b= with less room than this */
#define RBUF_SIZE     65536
#define INLINE_BODY   65536        /* larger bodies are hashed offloaded */
#define BODY_HINT_MAX (1ULL << 30) /* trust MSG_SIZE up to this */

struct sbuf {
	char *p;
	size_t len, cap;
	bool oom;
};

struct dks_plugin {
	const struct rmx_host_api *host;
	pthread_mutex_t lock; /* guards conf (the pointer, not the data) */
	struct dks_conf *conf;
};

struct dks_hdr {
	const char *name, *value;
	size_t nlen, vlen;
};

struct dks_job;

struct dks_worker {
	struct dks_plugin *plugin;
	struct dks_job *pending; /* jobs offloaded from this worker */
	struct dks_hdr *hdrs;    /* the message's fields (host memory) */
	size_t nhdrs, hcap;
	unsigned char *rbuf; /* body_read chunk */
};

/* One signature of a message. */
struct dks_sig {
	const struct dks_key *key; /* owned by job->conf */
	struct sbuf hv;            /* " v=1; ... b=": the field up to b= */
	size_t col;                /* output column after "b=" */
	unsigned char digest[DKIM_SHA256_LEN];
	unsigned char sig[DKS_SIG_MAX];
	size_t siglen;
	int rc; /* 0, -errno or a wolfCrypt error */
};

struct dks_job {
	atomic_uint refs; /* work + call side while offloaded */
	struct dks_job *next;
	struct dks_worker *w;
	struct dks_conf *conf; /* a reference */
	struct rmx_call *call;
	uint64_t now;        /* t= */
	struct sbuf hblock;  /* the canonical signed header fields */
	struct sbuf hnames;  /* h= names joined with ':' */
	unsigned char *body; /* a large body, hashed by job_work */
	size_t body_len;
	bool bh_done; /* bh holds the body hash */
	unsigned char bh[DKIM_SHA256_LEN];
	size_t n;
	struct dks_sig sigs[];
};

/* ---------------------------------------------------------- helpers */

/* Room for n more octets (and a NUL) at the end of b, or NULL. */
static char *
sb_room(struct sbuf *b, size_t n)
{
	if (b->oom)
		return NULL;
	if (b->len + n + 1 > b->cap) {
		size_t cap = b->cap ? b->cap : 256;
		char *p;

		while (cap < b->len + n + 1)
			cap *= 2;
		p = realloc(b->p, cap);
		if (p == NULL) {
			b->oom = true;
			return NULL;
		}
		b->p = p;
		b->cap = cap;
	}
	return b->p + b->len;
}

static void
sb_put(struct sbuf *b, const char *s, size_t n)
{
	char *p = sb_room(b, n);

	if (p == NULL)
		return;
	memcpy(p, s, n);
	b->len += n;
	b->p[b->len] = '\0';
}

static void
sb_free(struct sbuf *b)
{
	free(b->p);
	memset(b, 0, sizeof(*b));
}

/*
 * Folding writer: tokens separated by a space, or by CRLF TAB when the
 * token would pass the margin (a token longer than a line gets a line of
 * its own: d= and s= cannot be broken).
 */
static void
fold_tok(struct sbuf *b, size_t *col, const char *tok, size_t n, bool space)
{
	if (*col + (space ? 1 : 0) + n > LINE_MARGIN && *col > TAB_COLS) {
		sb_put(b, "\r\n\t", 3);
		*col = TAB_COLS;
	} else if (space) {
		sb_put(b, " ", 1);
		(*col)++;
	}
	sb_put(b, tok, n);
	*col += n;
}

/* base64 that may break anywhere (FWS in b=, RFC 6376 section 3.5). */
static void
fold_b64(struct sbuf *b, size_t *col, const char *s, size_t n)
{
	while (n > 0) {
		size_t room = *col < LINE_MARGIN ? LINE_MARGIN - *col : 0;

		if (room == 0) {
			sb_put(b, "\r\n\t", 3);
			*col = TAB_COLS;
			continue;
		}
		if (room > n)
			room = n;
		sb_put(b, s, room);
		*col += room;
		s += room;
		n -= room;
	}
}

static bool
name_is(const char *name, size_t nlen, const char *want)
{
	size_t wl = strlen(want);

	while (nlen > 0 && (name[nlen - 1] == ' ' || name[nlen - 1] == '\t'))
		nlen--;
	return nlen == wl && strncasecmp(name, want, wl) == 0;
}

static bool
domain_finish(char *out, size_t o)
{
	while (o > 0 && out[o - 1] == '.')
		o--;
	if (!dks_ldh_name(out, o))
		return false;
	out[o] = '\0';
	for (size_t i = 0; i < o; i++)
		if (out[i] >= 'A' && out[i] <= 'Z')
			out[i] = (char)(out[i] + 32);
	return true;
}

/*
 * The domain of the first mailbox of a From: field body (RFC 5322
 * mailbox-list, with display names, comments, quoted strings, groups
 * and obsolete routes), lower case, into out (256 octets). False when
 * there is none or it is not an LDH name (a domain literal, UTF-8).
 */
static bool
from_domain(const char *v, size_t n, char *out, size_t cap)
{
	size_t depth = 0, o = 0;
	bool quote = false, angle = false, dom = false;

	for (size_t i = 0; i < n; i++) {
		char ch = v[i];

		if (quote || depth > 0) {
			if (ch == '\\')
				i++;
			else if (quote && ch == '"')
				quote = false;
			else if (!quote && ch == '(')
				depth++;
			else if (!quote && ch == ')')
				depth--;
			continue;
		}
		switch (ch) {
		case '"':
			if (dom)
				return false;
			quote = true;
			break;
		case '(':
			depth = 1;
			break;
		case '<':
			angle = true;
			dom = false;
			break;
		case '>':
			if (angle)
				return dom && domain_finish(out, o);
			break;
		case '@':
			dom = true;
			o = 0;
			break;
		case ':': /* group name, or the end of an obsolete route */
		case ',': /* next mailbox, or the next hop of a route */
		case ';': /* end of a group */
			if (!angle && dom && ch != ':')
				return domain_finish(out, o);
			dom = false;
			break;
		case ' ':
		case '\t':
		case '\r':
		case '\n':
			break;
		default:
			if (dom) {
				if (o + 1 >= cap)
					return false;
				out[o++] = ch;
			}
		}
	}
	return !angle && !quote && depth == 0 && dom && domain_finish(out, o);
}

static const char *
alg_name(enum dks_alg a)
{
	return a == DKS_RSA_SHA256 ? "rsa-sha256" : "ed25519-sha256";
}

/* ------------------------------------------------- signing (any thread) */

static void
body_hash_buf(const unsigned char *p, size_t n, enum dkim_canon c,
    unsigned char bh[DKIM_SHA256_LEN])
{
	struct dkim_body_hash h;

	dkim_body_hash_init(&h, c);
	dkim_body_hash_update(&h, p, n);
	dkim_body_hash_final(&h, bh);
}

/* The DKIM-Signature field up to "b=", folded, with a leading SP. */
static void
build_field(struct dks_sig *s, const struct dks_job *j, const char *bh64)
{
	const struct dks_conf *c = j->conf;
	const struct dks_key *k = s->key;
	struct sbuf *b = &s->hv;
	size_t col = strlen(HDR_NAME ": ");
	const char *h = j->hnames.p;
	char tok[300];
	int n;

	sb_put(b, " ", 1);
	fold_tok(b, &col, "v=1;", 4, false);
	n = snprintf(tok, sizeof(tok), "a=%s;", alg_name(k->alg));
	fold_tok(b, &col, tok, (size_t)n, true);
	n = snprintf(tok, sizeof(tok), "c=%s/%s;", dkim_canon_name(c->hcanon),
	    dkim_canon_name(c->bcanon));
	fold_tok(b, &col, tok, (size_t)n, true);
	n = snprintf(tok, sizeof(tok), "d=%s;", k->domain);
	fold_tok(b, &col, tok, (size_t)n, true);
	n = snprintf(tok, sizeof(tok), "s=%s;", k->selector);
	fold_tok(b, &col, tok, (size_t)n, true);
	n = snprintf(tok, sizeof(tok), "t=%llu;", (unsigned long long)j->now);
	fold_tok(b, &col, tok, (size_t)n, true);
	if (c->expire > 0) {
		n = snprintf(tok, sizeof(tok), "x=%llu;",
		    (unsigned long long)(j->now + c->expire));
		fold_tok(b, &col, tok, (size_t)n, true);
	}
	/* h=a:b:c; broken after a colon where needed (FWS is allowed) */
	for (bool first = true; *h != '\0'; first = false) {
		size_t len = strcspn(h, ":");

		n = snprintf(tok, sizeof(tok), "%s%.*s%s", first ? "h=" : "",
		    (int)len, h, h[len] == ':' ? ":" : ";");
		fold_tok(b, &col, tok, (size_t)n, first);
		h += len + (h[len] == ':');
	}
	n = snprintf(tok, sizeof(tok), "bh=%s;", bh64);
	fold_tok(b, &col, tok, (size_t)n, true);
	if (col + 1 + 2 + B64_MIN > LINE_MARGIN) {
		sb_put(b, "\r\n\t", 3);
		col = TAB_COLS;
		fold_tok(b, &col, "b=", 2, false);
	} else {
		fold_tok(b, &col, "b=", 2, true);
	}
	s->col = col;
}

/*
 * Everything after the header selection: the body hash if still to do,
 * then per key the field, its digest (RFC 6376 section 3.7: the signed
 * fields, then this field with b= empty and no final CRLF) and the
 * signature. Touches only the job; results in each sig's rc.
 */
static void
job_sign(struct dks_job *j)
{
	const struct dks_conf *c = j->conf;
	char bh64[DKIM_BASE64_LEN(DKIM_SHA256_LEN) + 1];
	crypto_hash_sha256_state hs;
	char *buf = NULL;
	size_t cap = 0;

	if (!j->bh_done) {
		body_hash_buf(j->body, j->body_len, c->bcanon, j->bh);
		free(j->body);
		j->body = NULL;
		j->bh_done = true;
	}
	dkim_base64_encode(j->bh, sizeof(j->bh), bh64);
	crypto_hash_sha256_init(&hs);
	crypto_hash_sha256_update(
	    &hs, (const unsigned char *)j->hblock.p, j->hblock.len);
	for (size_t i = 0; i < j->n; i++) {
		struct dks_sig *s = &j->sigs[i];
		crypto_hash_sha256_state st = hs;
		size_t need, n;

		build_field(s, j, bh64);
		need = DKIM_CANON_HEADER_MAX(strlen(HDR_NAME), s->hv.len);
		if (need > cap) {
			free(buf);
			cap = need;
			buf = malloc(cap);
		}
		if (s->hv.oom || buf == NULL) {
			s->rc = -ENOMEM;
			cap = 0;
			continue;
		}
		n = dkim_canon_header(c->hcanon, HDR_NAME, strlen(HDR_NAME),
		    s->hv.p, s->hv.len, false, buf);
		crypto_hash_sha256_update(&st, (const unsigned char *)buf, n);
		crypto_hash_sha256_final(&st, s->digest);
		if (s->key->alg == DKS_ED25519_SHA256) {
			dks_ed25519_sign(s->key, s->digest, s->sig);
			s->siglen = crypto_sign_BYTES;
		} else {
			s->rc =
			    dks_rsa_sign(s->key, s->digest, s->sig, &s->siglen);
		}
	}
	free(buf);
}

/* ------------------------------------------------------------- jobs */

static void
job_unref(struct dks_job *j)
{
	if (atomic_fetch_sub_explicit(&j->refs, 1, memory_order_acq_rel) != 1)
		return;
	for (size_t i = 0; i < j->n; i++)
		sb_free(&j->sigs[i].hv);
	sb_free(&j->hblock);
	sb_free(&j->hnames);
	free(j->body);
	dks_conf_unref(j->conf);
	free(j);
}

static void
job_unlink(struct dks_worker *w, struct dks_job *j)
{
	for (struct dks_job **pp = &w->pending; *pp != NULL; pp = &(*pp)->next)
		if (*pp == j) {
			*pp = j->next;
			return;
		}
}

/* Pool thread: the CPU-heavy part; touches only the job. */
static void
job_work(void *arg)
{
	struct dks_job *j = arg;

	job_sign(j);
	job_unref(j);
}

static enum rmx_verdict
tempfail(const struct rmx_host_api *host, struct rmx_call *call)
{
	host->set_reply(
	    call, 451, "4.3.0", "DKIM signing failed, please try again later");
	return RMX_TEMPFAIL;
}

/* Worker thread: add the fields (last key first, so that they read in
 * configuration order from the top). */
static enum rmx_verdict
job_finish(struct dks_job *j, struct rmx_call *call)
{
	const struct rmx_host_api *host = j->w->plugin->host;
	char b64[DKIM_BASE64_LEN(DKS_SIG_MAX) + 1];

	for (size_t i = 0; i < j->n; i++) {
		struct dks_sig *s = &j->sigs[i];

		if (s->rc != 0) {
			host->log(call, RMX_LOG_ERR,
			    "dkim=error d=%s s=%s a=%s error=sign rc=%d",
			    s->key->domain, s->key->selector,
			    alg_name(s->key->alg), s->rc);
			return tempfail(host, call);
		}
	}
	for (size_t i = j->n; i-- > 0;) {
		struct dks_sig *s = &j->sigs[i];
		size_t n = dkim_base64_encode(s->sig, s->siglen, b64);
		int rc;

		fold_b64(&s->hv, &s->col, b64, n);
		if (s->hv.oom) {
			host->log(call, RMX_LOG_ERR, "dkim=error error=nomem");
			return tempfail(host, call);
		}
		/* hv starts with the SP the host puts after the colon */
		rc = host->header_add(call, HDR_NAME, s->hv.p + 1);
		if (rc != 0) {
			host->log(call, RMX_LOG_ERR,
			    "dkim=error error=header_add rc=%d", rc);
			return tempfail(host, call);
		}
		host->log(call, RMX_LOG_INFO, "dkim=signed d=%s s=%s a=%s",
		    s->key->domain, s->key->selector, alg_name(s->key->alg));
	}
	return RMX_CONTINUE;
}

/* Worker thread, after job_work; never called for a cancelled call. */
static void
job_done(struct rmx_call *call, void *arg)
{
	struct dks_job *j = arg;
	const struct rmx_host_api *host = j->w->plugin->host;
	enum rmx_verdict v;

	job_unlink(j->w, j);
	v = job_finish(j, call);
	job_unref(j);
	host->complete(call, v);
}

/* The session of a pending call died: forget the job; job_work, if it
 * still runs, holds its own reference and frees the job when it ends. */
static void
dks_cancel(struct rmx_call *call, void *worker_state)
{
	struct dks_worker *w = worker_state;

	for (struct dks_job *j = w->pending; j != NULL; j = j->next)
		if (j->call == call) {
			w->plugin->host->log(
			    call, RMX_LOG_DEBUG, "dkim=cancelled");
			job_unlink(w, j);
			job_unref(j);
			return;
		}
}

/* --------------------------------------------- the hook (worker thread) */

static int
collect_headers(struct dks_worker *w, struct rmx_call *call)
{
	const struct rmx_host_api *host = w->plugin->host;
	struct dks_hdr h;

	w->nhdrs = 0;
	while (host->header_get(
		   call, w->nhdrs, &h.name, &h.nlen, &h.value, &h.vlen) == 0) {
		if (w->nhdrs == w->hcap) {
			size_t cap = w->hcap ? w->hcap * 2 : 64;
			struct dks_hdr *p = realloc(w->hdrs, cap * sizeof(*p));

			if (p == NULL)
				return -ENOMEM;
			w->hdrs = p;
			w->hcap = cap;
		}
		w->hdrs[w->nhdrs++] = h;
	}
	return 0;
}

/*
 * The signed header fields, canonical, into j->hblock, and the h= names
 * into j->hnames: every configured name once per instance in the message
 * (instances taken from the bottom up, RFC 6376 section 5.4.2), plus
 * once more if oversigned (that entry matches no field and hashes
 * nothing, so a field of that name added later breaks the signature).
 */
static int
select_headers(struct dks_worker *w, struct dks_job *j)
{
	const struct dks_conf *c = j->conf;

	for (size_t k = 0; k < c->nhdrs; k++) {
		const char *name = c->hdrs[k];
		size_t count = 0;

		for (size_t i = w->nhdrs; i-- > 0;) {
			const struct dks_hdr *h = &w->hdrs[i];
			char *out;

			if (!name_is(h->name, h->nlen, name))
				continue;
			out = sb_room(&j->hblock,
			    DKIM_CANON_HEADER_MAX(h->nlen, h->vlen));
			if (out == NULL)
				return -ENOMEM;
			j->hblock.len += dkim_canon_header(c->hcanon, h->name,
			    h->nlen, h->value, h->vlen, true, out);
			count++;
		}
		count += c->over[k] ? 1 : 0;
		for (size_t i = 0; i < count; i++) {
			if (j->hnames.len > 0)
				sb_put(&j->hnames, ":", 1);
			sb_put(&j->hnames, name, strlen(name));
		}
	}
	return j->hnames.oom ? -ENOMEM : 0;
}

/* Body of at most INLINE_BODY octets: hash it here, in chunks. */
static int
hash_body_here(struct dks_worker *w, struct rmx_call *call, struct dks_job *j)
{
	const struct rmx_host_api *host = w->plugin->host;
	struct dkim_body_hash h;
	uint64_t off = 0;
	int64_t r;

	dkim_body_hash_init(&h, j->conf->bcanon);
	while ((r = host->body_read(call, off, w->rbuf, RBUF_SIZE)) > 0) {
		dkim_body_hash_update(&h, w->rbuf, (size_t)r);
		off += (uint64_t)r;
	}
	dkim_body_hash_final(&h, j->bh);
	j->bh_done = r == 0;
	return r < 0 ? (int)r : 0;
}

/* A larger body: a copy for the pool thread to hash. */
static int
copy_body(struct dks_worker *w, struct rmx_call *call, struct dks_job *j)
{
	const struct rmx_host_api *host = w->plugin->host;
	size_t cap = 1u << 20, len = 0;
	const char *sz;
	size_t szlen;
	int64_t r;

	/* the message size (header and body) bounds the body */
	if (host->get_item(call, RMX_ITEM_MSG_SIZE, 0, &sz, &szlen) == 0) {
		unsigned long long v = strtoull(sz, NULL, 10);

		if (v > INLINE_BODY && v < BODY_HINT_MAX)
			cap = (size_t)v + 1;
	}
	j->body = malloc(cap);
	if (j->body == NULL)
		return -ENOMEM;
	for (;;) {
		if (len == cap) {
			unsigned char *p = realloc(j->body, cap * 2);

			if (p == NULL)
				return -ENOMEM;
			j->body = p;
			cap *= 2;
		}
		r = host->body_read(call, len, j->body + len, cap - len);
		if (r <= 0)
			break;
		len += (size_t)r;
	}
	j->body_len = len;
	return r < 0 ? (int)r : 0;
}

/* Signatures of the message with the n keys of domain dom. */
static enum rmx_verdict
sign_with(struct dks_worker *w, struct rmx_call *call, struct dks_conf *c,
    const char *dom, size_t n)
{
	const struct rmx_host_api *host = w->plugin->host;
	struct dks_job *j;
	unsigned char probe;
	bool rsa = false, large;
	int64_t r;
	int rc;

	j = calloc(1, sizeof(*j) + n * sizeof(j->sigs[0]));
	if (j == NULL)
		return tempfail(host, call);
	atomic_init(&j->refs, 1);
	j->w = w;
	j->conf = dks_conf_ref(c);
	j->call = call;
	j->now = (uint64_t)time(NULL);
	for (size_t i = 0; i < c->nkeys; i++)
		if (strcmp(c->keys[i].domain, dom) == 0) {
			j->sigs[j->n++].key = &c->keys[i];
			rsa = rsa || c->keys[i].alg == DKS_RSA_SHA256;
		}

	/* all that reads host memory happens here, before any header_add */
	rc = select_headers(w, j);
	r = rc == 0 ? host->body_read(call, INLINE_BODY, &probe, 1) : 0;
	large = r > 0;
	if (rc == 0 && r < 0)
		rc = (int)r;
	if (rc == 0)
		rc = large ? copy_body(w, call, j) : hash_body_here(w, call, j);
	if (rc != 0) {
		host->log(call, RMX_LOG_ERR, "dkim=error d=%s error=%s rc=%d",
		    dom, rc == -ENOMEM ? "nomem" : "body_read", rc);
		job_unref(j);
		return tempfail(host, call);
	}
	if (!rsa && !large) {
		enum rmx_verdict v;

		job_sign(j);
		v = job_finish(j, call);
		job_unref(j);
		return v;
	}
	/* one reference for job_work, one for job_done or dks_cancel; the
	 * job is on the pending list before offload can run done() */
	atomic_store(&j->refs, 2);
	j->next = w->pending;
	w->pending = j;
	if (host->offload(call, job_work, job_done, j) == 0)
		return RMX_PENDING; /* j may be gone already: not touched */
	/* no offload pool: sign here (slow, but never unsigned) */
	job_unlink(w, j);
	job_work(j);
	enum rmx_verdict v = job_finish(j, call);

	job_unref(j);
	return v;
}

static struct dks_conf *
conf_get(struct dks_plugin *p)
{
	struct dks_conf *c;

	pthread_mutex_lock(&p->lock);
	c = dks_conf_ref(p->conf);
	pthread_mutex_unlock(&p->lock);
	return c;
}

static enum rmx_verdict
dks_hook_sign(struct rmx_call *call, void *worker_state)
{
	struct dks_worker *w = worker_state;
	const struct rmx_host_api *host = w->plugin->host;
	struct dks_conf *c;
	const struct dks_hdr *from = NULL;
	size_t nfrom = 0, nkeys = 0;
	char dom[256];
	enum rmx_verdict v;

	if (collect_headers(w, call) != 0) {
		host->log(call, RMX_LOG_ERR, "dkim=error error=nomem");
		return tempfail(host, call);
	}
	for (size_t i = 0; i < w->nhdrs; i++)
		if (name_is(w->hdrs[i].name, w->hdrs[i].nlen, "from")) {
			from = &w->hdrs[i];
			nfrom++;
		}
	if (nfrom != 1 || from == NULL) {
		host->log(call, RMX_LOG_NOTICE,
		    "dkim=skipped reason=from_fields count=%zu", nfrom);
		return RMX_CONTINUE;
	}
	if (!from_domain(from->value, from->vlen, dom, sizeof(dom))) {
		host->log(
		    call, RMX_LOG_NOTICE, "dkim=skipped reason=from_domain");
		return RMX_CONTINUE;
	}
	c = conf_get(w->plugin);
	for (size_t i = 0; i < c->nkeys; i++)
		if (strcmp(c->keys[i].domain, dom) == 0)
			nkeys++;
	if (nkeys == 0) {
		host->log(call, RMX_LOG_DEBUG,
		    "dkim=skipped reason=no_key d=%s", dom);
		v = RMX_CONTINUE;
	} else {
		v = sign_with(w, call, c, dom, nkeys);
	}
	dks_conf_unref(c);
	return v;
}

/* ------------------------------------------------------- life cycle */

static int
dks_init(const struct rmx_host_api *host, const struct rmx_kv *cfg,
    void **plugin_state, char *err, size_t errlen)
{
	struct dks_plugin *p;

	if (!RMX_HOST_HAS(host, header_get) ||
	    !RMX_HOST_HAS(host, header_add) || !RMX_HOST_HAS(host, body_read) ||
	    !RMX_HOST_HAS(host, offload) || !RMX_HOST_HAS(host, complete) ||
	    !RMX_HOST_HAS(host, set_reply) || !RMX_HOST_HAS(host, log)) {
		snprintf(err, errlen, "%s: the host lacks functions of ABI 1.0",
		    DKS_NAME);
		return -1;
	}
	if (sodium_init() < 0) {
		snprintf(err, errlen, "%s: libsodium failed to initialise",
		    DKS_NAME);
		return -1;
	}
	p = calloc(1, sizeof(*p));
	if (p == NULL) {
		snprintf(err, errlen, "%s: out of memory", DKS_NAME);
		return -1;
	}
	p->host = host;
	if (wolfCrypt_Init() != 0) {
		snprintf(err, errlen, "%s: wolfCrypt failed to initialise",
		    DKS_NAME);
		free(p);
		return -1;
	}
	if (dks_conf_load(host, cfg, &p->conf, err, errlen) != 0) {
		wolfCrypt_Cleanup();
		free(p);
		return -1;
	}
	pthread_mutex_init(&p->lock, NULL);
	*plugin_state = p;
	return 0;
}

static int
dks_reconfigure(
    void *plugin_state, const struct rmx_kv *cfg, char *err, size_t errlen)
{
	struct dks_plugin *p = plugin_state;
	struct dks_conf *c, *old;

	if (dks_conf_load(p->host, cfg, &c, err, errlen) != 0)
		return -1;
	pthread_mutex_lock(&p->lock);
	old = p->conf;
	p->conf = c;
	pthread_mutex_unlock(&p->lock);
	dks_conf_unref(old); /* in-flight jobs hold their own reference */
	return 0;
}

static void
dks_fini(void *plugin_state)
{
	struct dks_plugin *p = plugin_state;

	dks_conf_unref(p->conf);
	pthread_mutex_destroy(&p->lock);
	free(p);
	wolfCrypt_Cleanup();
}

static int
dks_worker_init(void *plugin_state, unsigned worker, void **worker_state)
{
	struct dks_worker *w = calloc(1, sizeof(*w));

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
dks_worker_fini(void *worker_state)
{
	struct dks_worker *w = worker_state;

	/* calls still pending here will never complete: as cancel() */
	while (w->pending != NULL) {
		struct dks_job *j = w->pending;

		w->pending = j->next;
		job_unref(j);
	}
	free(w->hdrs);
	free(w->rbuf);
	free(w);
}

static const struct rmx_hook hooks[] = {
    {RMX_HOOK_SIGN, RMX_HOOK_F_REQUIRED, dks_hook_sign},
    {0, 0, NULL},
};

static const struct rmx_plugin plugin = {
    .size = sizeof(struct rmx_plugin),
    .abi_version = RMX_PLUGIN_ABI_VERSION,
    .name = DKS_NAME,
    .version = "1.0",
    .init = dks_init,
    .worker_init = dks_worker_init,
    .worker_fini = dks_worker_fini,
    .fini = dks_fini,
    .cancel = dks_cancel,
    .reconfigure = dks_reconfigure,
    .hooks = hooks,
};

/* rmx_plugin_entry_v1 - the plugin's descriptor (see ringmx/plugin.h). */
__attribute__((visibility("default"))) const struct rmx_plugin *
RMX_PLUGIN_ENTRY(uint32_t host_abi, const char **why)
{
	if (host_abi >> 16 != RMX_PLUGIN_ABI_MAJOR) {
		*why = "dkim_sign is built for plugin ABI 1";
		return NULL;
	}
	return &plugin;
}
