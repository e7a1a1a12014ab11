/*
 * dns_resolver.c - the per-worker libunbound context (see dns_resolver.h):
 * configuration, the query table with cancellable 64-bit handles, the
 * deadline list, and the parsing of libunbound's wire-format RDATA into
 * struct dns_result.
 *
 * Threads: everything runs on the owning worker thread; libunbound's own
 * helper thread only talks to us through ub_fd()/ub_process().
 *
 * Handles: a query lives in a slot; its handle is (generation << 32 |
 * slot + 1), so a stale handle (answered, cancelled, reused slot) is
 * recognised and ignored. libunbound gets the query itself as callback
 * data: after a successful ub_cancel() it never calls back (the query is
 * dropped when its answer arrives), so a cancelled query is freed at once.
 */
#include "dns_resolver.h"

#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <unbound.h>

struct dns_q {
	struct dns_resolver *r;
	uint64_t id;
	int ub_id;
	bool zombie; /* cancel failed in libunbound: drop its answer */
	uint16_t qtype;
	dns_query_cb cb;
	void *arg;
	int64_t deadline; /* monotonic ms */
	struct dns_q *prev, *next;
	char name[DNS_NAME_MAX + 1];
};

struct dns_resolver {
	struct ub_ctx *ctx;
	unsigned timeout_ms;
	struct dns_q **slots;
	uint32_t *gens;
	uint32_t *freelist;
	size_t nslots, nfree;
	struct dns_q *head, *tail; /* pending, by deadline (= start order) */
	size_t npending;
	struct dns_q *zombies; /* singly linked through next */
};

/* What priv_ points to: the parsed records' storage. */
struct dns_store {
	void *recs;  /* the typed array */
	void *aux;   /* TXT strings, CNAME pointers */
	char *bytes; /* TLSA data, TXT bytes, CNAME names */
};

static void seterr(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void
seterr(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	if (err == NULL || errlen == 0)
		return;
	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
}

static int64_t
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Bytes that may appear in a label we hand back as a name. */
static bool
label_byte_ok(unsigned char c)
{
	if (c <= 0x20 || c >= 0x7f)
		return false;
	return strchr(".\\\"();@$", c) == NULL;
}

/* dns_name_from_wire - wire name to lower-case presentation form */
size_t
dns_name_from_wire(const uint8_t *p, size_t len, char *out, size_t outlen)
{
	size_t i = 0, o = 0;

	if (outlen < 2)
		return 0;
	for (;;) {
		size_t l;

		if (i >= len || i >= 255)
			return 0;
		l = p[i];
		if (l == 0)
			break;
		if (l > 63 || i + 1 + l > len)
			return 0; /* compression pointer, bad label */
		if (o != 0) {
			if (o + 1 >= outlen)
				return 0;
			out[o++] = '.';
		}
		if (o + l >= outlen || o + l > DNS_NAME_MAX)
			return 0;
		for (size_t k = 0; k < l; k++) {
			unsigned char c = p[i + 1 + k];
			if (!label_byte_ok(c))
				return 0;
			out[o++] = (char)tolower(c);
		}
		i += 1 + l;
	}
	if (o == 0)
		out[o++] = '.';
	out[o] = '\0';
	return i + 1;
}

/* dns_name_normalize - lower-case, no trailing dot, plausible labels */
int
dns_name_normalize(const char *name, char *out, size_t outlen)
{
	size_t n = strlen(name), label = 0;

	if (n > 0 && name[n - 1] == '.')
		n--;
	if (n == 0 || n > DNS_NAME_MAX || n >= outlen)
		return -1;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)name[i];
		if (c == '.') {
			if (label == 0)
				return -1;
			label = 0;
		} else {
			if (!label_byte_ok(c) || ++label > 63)
				return -1;
		}
		out[i] = (char)tolower(c);
	}
	if (label == 0)
		return -1;
	out[n] = '\0';
	return 0;
}

/* dns_rcode_str - rcode mnemonic */
const char *
dns_rcode_str(int rcode, char *buf, size_t buflen)
{
	static const char *const names[] = {"NOERROR", "FORMERR", "SERVFAIL",
	    "NXDOMAIN", "NOTIMP", "REFUSED", "YXDOMAIN", "YXRRSET", "NXRRSET",
	    "NOTAUTH", "NOTZONE"};

	if (rcode >= 0 && (size_t)rcode < sizeof(names) / sizeof(names[0]))
		return names[rcode];
	snprintf(buf, buflen, "RCODE%d", rcode);
	return buf;
}

/* dns_sec_str - "secure", "insecure" or "bogus" */
const char *
dns_sec_str(enum dns_sec sec)
{
	switch (sec) {
	case DNS_SECURE:
		return "secure";
	case DNS_BOGUS:
		return "bogus";
	case DNS_INSECURE:
		break;
	}
	return "insecure";
}

/* dns_result_clear - free parsed records */
void
dns_result_clear(struct dns_result *res)
{
	struct dns_store *st = res->priv_;

	if (st != NULL) {
		free(st->recs);
		free(st->aux);
		free(st->bytes);
		free(st);
	}
	res->priv_ = NULL;
	res->nrr = res->nmalformed = 0;
	res->nmx = res->na = res->naaaa = res->ntlsa = res->ntxt = 0;
	res->ncname = 0;
	res->mx = NULL;
	res->a = NULL;
	res->aaaa = NULL;
	res->tlsa = NULL;
	res->txt = NULL;
	res->cnames = NULL;
}

static size_t
parse_mx(struct dns_mx_rr *mx, const uint8_t *const *rd, const size_t *rl,
    size_t n, size_t *bad)
{
	size_t k = 0;

	for (size_t i = 0; i < n; i++) {
		size_t used;

		if (rl[i] < 3) {
			(*bad)++;
			continue;
		}
		used = dns_name_from_wire(rd[i] + 2, rl[i] - 2, mx[k].exchange,
		    sizeof(mx[k].exchange));
		if (used == 0 || used != rl[i] - 2) {
			(*bad)++;
			continue;
		}
		mx[k].preference = (uint16_t)(rd[i][0] << 8 | rd[i][1]);
		k++;
	}
	return k;
}

static size_t
parse_tlsa(struct dns_tlsa_rr *t, uint8_t *bytes, const uint8_t *const *rd,
    const size_t *rl, size_t n, size_t *bad)
{
	size_t k = 0;

	for (size_t i = 0; i < n; i++) {
		if (rl[i] < 4) { /* RFC 6698: data is not empty */
			(*bad)++;
			continue;
		}
		t[k].usage = rd[i][0];
		t[k].selector = rd[i][1];
		t[k].mtype = rd[i][2];
		t[k].len = rl[i] - 3;
		memcpy(bytes, rd[i] + 3, t[k].len);
		t[k].data = bytes;
		bytes += t[k].len;
		k++;
	}
	return k;
}

static size_t
parse_txt(struct dns_txt_rr *t, struct dns_txt_string *s, char *bytes,
    const uint8_t *const *rd, const size_t *rl, size_t n, size_t *bad)
{
	size_t k = 0;

	for (size_t i = 0; i < n; i++) {
		size_t off = 0, ns = 0;
		bool ok = rl[i] > 0;

		while (ok && off < rl[i]) {
			size_t l = rd[i][off];
			if (off + 1 + l > rl[i]) {
				ok = false;
				break;
			}
			s[ns].len = l;
			memcpy(bytes, rd[i] + off + 1, l);
			bytes[l] = '\0';
			s[ns].data = bytes;
			bytes += l + 1;
			ns++;
			off += 1 + l;
		}
		if (!ok) {
			(*bad)++;
			continue;
		}
		t[k].nstrings = ns;
		t[k].strings = s;
		s += ns;
		k++;
	}
	return k;
}

/* dns_result_parse_rdata - typed records from wire RDATA */
int
dns_result_parse_rdata(struct dns_result *res, uint16_t rrtype,
    const uint8_t *const *rdata, const size_t *rdlen, size_t n)
{
	struct dns_store *st;
	size_t total = 0, k = 0, bad = 0;

	dns_result_clear(res);
	res->nrr = n;
	if (n == 0)
		return 0;
	for (size_t i = 0; i < n; i++)
		total += rdlen[i];
	st = calloc(1, sizeof(*st));
	if (st == NULL)
		return -1;
	res->priv_ = st;
	switch (rrtype) {
	case DNS_T_MX: {
		struct dns_mx_rr *mx = calloc(n, sizeof(*mx));
		if ((st->recs = mx) == NULL)
			goto nomem;
		k = parse_mx(mx, rdata, rdlen, n, &bad);
		res->mx = mx;
		res->nmx = k;
		break;
	}
	case DNS_T_A: {
		struct in_addr *a = calloc(n, sizeof(*a));
		if ((st->recs = a) == NULL)
			goto nomem;
		for (size_t i = 0; i < n; i++) {
			if (rdlen[i] != 4) {
				bad++;
				continue;
			}
			memcpy(&a[k++], rdata[i], 4);
		}
		res->a = a;
		res->na = k;
		break;
	}
	case DNS_T_AAAA: {
		struct in6_addr *a6 = calloc(n, sizeof(*a6));
		if ((st->recs = a6) == NULL)
			goto nomem;
		for (size_t i = 0; i < n; i++) {
			if (rdlen[i] != 16) {
				bad++;
				continue;
			}
			memcpy(&a6[k++], rdata[i], 16);
		}
		res->aaaa = a6;
		res->naaaa = k;
		break;
	}
	case DNS_T_TLSA: {
		struct dns_tlsa_rr *t = calloc(n, sizeof(*t));
		st->recs = t;
		st->bytes = malloc(total + 1);
		if (t == NULL || st->bytes == NULL)
			goto nomem;
		k = parse_tlsa(t, (uint8_t *)st->bytes, rdata, rdlen, n, &bad);
		res->tlsa = t;
		res->ntlsa = k;
		break;
	}
	case DNS_T_TXT: {
		struct dns_txt_rr *t = calloc(n, sizeof(*t));
		/* at most one string per byte; each copy gains a NUL */
		struct dns_txt_string *s = calloc(total + 1, sizeof(*s));
		st->recs = t;
		st->aux = s;
		st->bytes = malloc(2 * total + 1);
		if (t == NULL || s == NULL || st->bytes == NULL)
			goto nomem;
		k = parse_txt(t, s, st->bytes, rdata, rdlen, n, &bad);
		res->txt = t;
		res->ntxt = k;
		break;
	}
	case DNS_T_CNAME: {
		char **names = calloc(n, sizeof(*names));
		st->aux = names;
		st->bytes = malloc(n * (DNS_NAME_MAX + 1));
		if (names == NULL || st->bytes == NULL)
			goto nomem;
		for (size_t i = 0; i < n; i++) {
			char *o = st->bytes + k * (DNS_NAME_MAX + 1);
			size_t used = dns_name_from_wire(
			    rdata[i], rdlen[i], o, DNS_NAME_MAX + 1);
			if (used == 0 || used != rdlen[i]) {
				bad++;
				continue;
			}
			names[k++] = o;
		}
		res->cnames = (const char *const *)names;
		res->ncname = k;
		break;
	}
	default:
		break; /* kept as nrr only */
	}
	res->nmalformed = bad;
	return 0;
nomem:
	dns_result_clear(res);
	return -1;
}

/* ---- the query table ---- */

static struct dns_q *
lookup(const struct dns_resolver *r, uint64_t id)
{
	uint32_t idx = (uint32_t)(id & 0xffffffffu);
	uint32_t gen = (uint32_t)(id >> 32);

	if (idx == 0 || idx > r->nslots)
		return NULL;
	idx--;
	if (r->gens[idx] != gen || r->slots[idx] == NULL)
		return NULL;
	return r->slots[idx];
}

static int
slot_alloc(struct dns_resolver *r, struct dns_q *q)
{
	uint32_t idx;

	if (r->nfree == 0) {
		size_t n = r->nslots ? r->nslots * 2 : 64;
		struct dns_q **s;
		uint32_t *g, *f;

		if (n > 0xffffffffu - 1)
			return -1;
		s = realloc(r->slots, n * sizeof(*s));
		if (s == NULL)
			return -1;
		r->slots = s;
		g = realloc(r->gens, n * sizeof(*g));
		if (g == NULL)
			return -1;
		r->gens = g;
		f = realloc(r->freelist, n * sizeof(*f));
		if (f == NULL)
			return -1;
		r->freelist = f;
		for (size_t i = r->nslots; i < n; i++) {
			s[i] = NULL;
			g[i] = 1;
		}
		/* hand out low slots first */
		for (size_t i = n; i > r->nslots; i--)
			f[r->nfree++] = (uint32_t)(i - 1);
		r->nslots = n;
	}
	idx = r->freelist[--r->nfree];
	r->slots[idx] = q;
	q->id = (uint64_t)r->gens[idx] << 32 | (uint64_t)(idx + 1);
	return 0;
}

/* Take q out of the slot table and the deadline list. */
static void
unregister(struct dns_resolver *r, struct dns_q *q)
{
	uint32_t idx = (uint32_t)(q->id & 0xffffffffu) - 1;

	r->slots[idx] = NULL;
	if (++r->gens[idx] == 0)
		r->gens[idx] = 1;
	r->freelist[r->nfree++] = idx;
	if (q->prev != NULL)
		q->prev->next = q->next;
	else
		r->head = q->next;
	if (q->next != NULL)
		q->next->prev = q->prev;
	else
		r->tail = q->prev;
	q->prev = q->next = NULL;
	r->npending--;
}

/* Fill res from libunbound's answer; 0, or -1 out of memory. */
static int
result_from_ub(struct dns_result *res, const struct dns_q *q, int err,
    const struct ub_result *ub, char *cname_buf)
{
	const uint8_t **rd = NULL;
	size_t *rl = NULL, n = 0;
	int rc;

	memset(res, 0, sizeof(*res));
	res->qname = q->name;
	res->qtype = q->qtype;
	if (err != 0 || ub == NULL) {
		res->rcode = DNS_RCODE_SERVFAIL;
		res->error = ub_strerror(err);
		return 0;
	}
	res->rcode = ub->rcode;
	res->havedata = ub->havedata != 0;
	res->nxdomain = ub->nxdomain != 0;
	res->sec = ub->secure  ? DNS_SECURE
		   : ub->bogus ? DNS_BOGUS
			       : DNS_INSECURE;
	res->why_bogus = ub->why_bogus;
	if (ub->answer_packet != NULL && ub->answer_len > 0) {
		res->packet = ub->answer_packet;
		res->packet_len = (size_t)ub->answer_len;
	}
	res->ttl = res->havedata && ub->ttl > 0 ? (uint32_t)ub->ttl : 0;
	if (ub->canonname != NULL &&
	    dns_name_normalize(ub->canonname, cname_buf, DNS_NAME_MAX + 1) ==
		0 &&
	    strcmp(cname_buf, q->name) != 0)
		res->cname = cname_buf;
	if (!res->havedata || ub->data == NULL)
		return 0;
	while (ub->data[n] != NULL)
		n++;
	if (n == 0)
		return 0;
	rd = calloc(n, sizeof(*rd));
	rl = calloc(n, sizeof(*rl));
	if (rd == NULL || rl == NULL) {
		free(rd);
		free(rl);
		return -1;
	}
	for (size_t i = 0; i < n; i++) {
		rd[i] = (const uint8_t *)ub->data[i];
		rl[i] = ub->len[i] > 0 ? (size_t)ub->len[i] : 0;
	}
	rc = dns_result_parse_rdata(res, q->qtype, rd, rl, n);
	free(rd);
	free(rl);
	return rc;
}

static void
set_local_failure(struct dns_result *res, const char *why)
{
	dns_result_clear(res);
	res->rcode = DNS_RCODE_SERVFAIL;
	res->havedata = false;
	res->nxdomain = false;
	res->sec = DNS_INSECURE;
	res->ttl = 0;
	res->error = why;
}

static void
ub_done(void *mydata, int err, struct ub_result *ub)
{
	struct dns_q *q = mydata;
	struct dns_resolver *r = q->r;
	struct dns_result res;
	char cname[DNS_NAME_MAX + 1];

	if (q->zombie) {
		struct dns_q **pp = &r->zombies;
		while (*pp != NULL && *pp != q)
			pp = &(*pp)->next;
		if (*pp == q)
			*pp = q->next;
		free(q);
		ub_resolve_free(ub);
		return;
	}
	unregister(r, q);
	if (result_from_ub(&res, q, err, ub, cname) != 0)
		set_local_failure(&res, "out of memory");
	q->cb(q->arg, &res);
	dns_result_clear(&res);
	ub_resolve_free(ub);
	free(q);
}

/* Stop libunbound's work on q; then it never calls back for q. */
static void
cancel_ub(struct dns_resolver *r, struct dns_q *q)
{
	int rc = ub_cancel(r->ctx, q->ub_id);

	if (rc == UB_NOERROR || rc == UB_NOID) {
		free(q);
		return;
	}
	/* Only the forked mode fails otherwise; keep q to swallow the
	 * answer if it still comes. */
	q->zombie = true;
	q->next = r->zombies;
	r->zombies = q;
}

/* ---- public API ---- */

static int
ub_fail(char *err, size_t errlen, const char *what, int rc)
{
	seterr(err, errlen, "dns: %s: %s", what, ub_strerror(rc));
	return -1;
}

static bool
stub_is_loopback(const char *addr)
{
	return strncmp(addr, "127.", 4) == 0 || strncmp(addr, "::1", 3) == 0;
}

static int
configure(
    struct ub_ctx *ctx, const struct dns_config *cfg, char *err, size_t errlen)
{
	bool local_stub = false;
	const char *ta = cfg->trust_anchor;
	int rc;

	if ((rc = ub_ctx_async(ctx, 1)) != 0)
		return ub_fail(err, errlen, "async mode", rc);
	for (size_t i = 0; i < cfg->nstubs; i++) {
		char zone[DNS_NAME_MAX + 2], lz[DNS_NAME_MAX + 16];
		const struct dns_stub *s = &cfg->stubs[i];

		if (s->zone == NULL || s->address == NULL ||
		    dns_name_normalize(s->zone, zone, sizeof(zone) - 1) != 0) {
			seterr(err, errlen, "dns: stub zone \"%s\" is invalid",
			    s->zone ? s->zone : "");
			return -1;
		}
		strcat(zone, ".");
		rc = ub_ctx_set_stub(ctx, zone, s->address, 0);
		if (rc != 0) {
			seterr(err, errlen, "dns: stub %s at \"%s\": %s", zone,
			    s->address, ub_strerror(rc));
			return -1;
		}
		/* a stub under a built-in local zone (test., invalid., ...)
		 * would be answered NXDOMAIN without it */
		snprintf(lz, sizeof(lz), "%s transparent", zone);
		if ((rc = ub_ctx_set_option(ctx, "local-zone:", lz)) != 0)
			return ub_fail(err, errlen, "local-zone", rc);
		local_stub = local_stub || stub_is_loopback(s->address);
	}
	/* The unbound daemon's default: no delegation may send us to
	 * localhost. Forwarders in resolv.conf and test stubs often are. */
	rc = ub_ctx_set_option(ctx, "do-not-query-localhost:",
	    cfg->mode == DNS_MODE_RECURSIVE && !local_stub ? "yes" : "no");
	if (rc != 0)
		return ub_fail(err, errlen, "do-not-query-localhost", rc);
	if (cfg->mode == DNS_MODE_RESOLVCONF) {
		rc = ub_ctx_resolvconf(ctx, cfg->resolv_conf);
		if (rc != 0) {
			seterr(err, errlen, "dns: %s: %s",
			    cfg->resolv_conf ? cfg->resolv_conf
					     : "/etc/resolv.conf",
			    ub_strerror(rc));
			return -1;
		}
	} else if (ta == NULL) {
		ta = DNS_DEFAULT_TRUST_ANCHOR;
	}
	if (ta != NULL) {
		if (access(ta, R_OK | (cfg->trust_anchor_autr ? W_OK : 0)) !=
		    0) {
			seterr(err, errlen, "dns: trust anchor %s: %s", ta,
			    strerror(errno));
			return -1;
		}
		rc = cfg->trust_anchor_autr ? ub_ctx_add_ta_autr(ctx, ta)
					    : ub_ctx_add_ta_file(ctx, ta);
		if (rc != 0)
			return ub_fail(err, errlen, "trust anchor", rc);
	}
	if (cfg->unbound_conf != NULL) {
		if (access(cfg->unbound_conf, R_OK) != 0) {
			seterr(err, errlen, "dns: unbound_conf %s: %s",
			    cfg->unbound_conf, strerror(errno));
			return -1;
		}
		if ((rc = ub_ctx_config(ctx, cfg->unbound_conf)) != 0) {
			seterr(err, errlen, "dns: unbound_conf %s: %s",
			    cfg->unbound_conf, ub_strerror(rc));
			return -1;
		}
	}
	/*
	 * Finalize now, so a bad trust anchor or option fails here and not
	 * at the first lookup: libunbound has no call for just that, but
	 * removing a local zone that does not exist finalizes and changes
	 * nothing.
	 */
	if ((rc = ub_ctx_zone_remove(ctx, "ringmx-finalize.invalid.")) != 0)
		return ub_fail(err, errlen, "configuration", rc);
	return 0;
}

/* dns_resolver_new - create and configure a worker's resolver */
struct dns_resolver *
dns_resolver_new(const struct dns_config *cfg, char *err, size_t errlen)
{
	struct dns_resolver *r = calloc(1, sizeof(*r));

	if (r == NULL) {
		seterr(err, errlen, "dns: out of memory");
		return NULL;
	}
	r->timeout_ms =
	    cfg->timeout_ms ? cfg->timeout_ms : DNS_DEFAULT_TIMEOUT_MS;
	r->ctx = ub_ctx_create();
	if (r->ctx == NULL) {
		seterr(err, errlen, "dns: cannot create a libunbound context");
		free(r);
		return NULL;
	}
	if (configure(r->ctx, cfg, err, errlen) != 0) {
		ub_ctx_delete(r->ctx);
		free(r);
		return NULL;
	}
	return r;
}

/* dns_resolver_free - drop every pending query and the context */
void
dns_resolver_free(struct dns_resolver *r)
{
	struct dns_q *q, *next;

	if (r == NULL)
		return;
	ub_ctx_delete(r->ctx); /* joins its thread; no more callbacks */
	for (q = r->head; q != NULL; q = next) {
		next = q->next;
		free(q);
	}
	for (q = r->zombies; q != NULL; q = next) {
		next = q->next;
		free(q);
	}
	free(r->slots);
	free(r->gens);
	free(r->freelist);
	free(r);
}

/* dns_resolver_fd - descriptor to poll for POLLIN */
int
dns_resolver_fd(const struct dns_resolver *r)
{
	return ub_fd(r->ctx);
}

/* dns_resolver_process - run the callbacks of ready answers */
int
dns_resolver_process(struct dns_resolver *r, char *err, size_t errlen)
{
	int rc = ub_process(r->ctx);

	if (rc != 0) {
		seterr(err, errlen, "dns: %s", ub_strerror(rc));
		return -1;
	}
	return 0;
}

/* dns_resolver_next_timeout - ms until the earliest deadline */
int
dns_resolver_next_timeout(const struct dns_resolver *r)
{
	int64_t d;

	if (r->head == NULL)
		return -1;
	d = r->head->deadline - now_ms();
	if (d < 0)
		return 0;
	return d > 0x7fffffff ? 0x7fffffff : (int)d;
}

/* dns_resolver_expire - time out overdue queries */
void
dns_resolver_expire(struct dns_resolver *r)
{
	int64_t now = now_ms();
	struct dns_q *q;

	while ((q = r->head) != NULL && q->deadline <= now) {
		struct dns_result res;
		dns_query_cb cb = q->cb;
		void *arg = q->arg;
		char name[DNS_NAME_MAX + 1];

		memcpy(name, q->name, sizeof(name));
		memset(&res, 0, sizeof(res));
		res.qname = name;
		res.qtype = q->qtype;
		res.rcode = DNS_RCODE_SERVFAIL;
		res.timed_out = true;
		res.error = "timed out";
		unregister(r, q);
		cancel_ub(r, q); /* frees q: no answer will follow */
		cb(arg, &res);
	}
}

/* dns_resolver_pending - queries still waiting for an answer */
size_t
dns_resolver_pending(const struct dns_resolver *r)
{
	return r->npending;
}

/* dns_query - start an asynchronous lookup */
uint64_t
dns_query(struct dns_resolver *r, const char *name, uint16_t rrtype,
    dns_query_cb cb, void *arg)
{
	struct dns_q *q;
	int rc;

	if (name == NULL || cb == NULL)
		return 0;
	q = calloc(1, sizeof(*q));
	if (q == NULL)
		return 0;
	if (dns_name_normalize(name, q->name, sizeof(q->name)) != 0 ||
	    slot_alloc(r, q) != 0) {
		free(q);
		return 0;
	}
	q->r = r;
	q->qtype = rrtype;
	q->cb = cb;
	q->arg = arg;
	q->deadline = now_ms() + r->timeout_ms;
	rc =
	    ub_resolve_async(r->ctx, q->name, rrtype, 1, q, ub_done, &q->ub_id);
	if (rc != 0) {
		uint32_t idx = (uint32_t)(q->id & 0xffffffffu) - 1;
		r->slots[idx] = NULL;
		r->freelist[r->nfree++] = idx;
		free(q);
		return 0;
	}
	q->prev = r->tail;
	if (r->tail != NULL)
		r->tail->next = q;
	else
		r->head = q;
	r->tail = q;
	r->npending++;
	return q->id;
}

/* dns_cancel - forget a pending query; its callback never runs */
bool
dns_cancel(struct dns_resolver *r, uint64_t id)
{
	struct dns_q *q = lookup(r, id);

	if (q == NULL)
		return false;
	unregister(r, q);
	cancel_ub(r, q);
	return true;
}
