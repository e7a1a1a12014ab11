/*
 * fake_host.c - see fake_host.h. Test support only; never linked into
 * ringmx itself.
 */
#include "fake_host.h"

#include <dlfcn.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <ldns/ldns.h>

static void
f_log(struct rmx_call *call, int level, const char *fmt, ...)
{
	va_list ap;

	(void)call;
	fprintf(stderr, "plugin-log level=%d ", level);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

static int
f_get_item(
    struct rmx_call *c, int item, size_t idx, const char **val, size_t *len)
{
	if (item < 0 || item >= 32 || idx >= 4 || c->items[item][idx] == NULL)
		return -ENOENT;
	*val = c->items[item][idx];
	if (len != NULL)
		*len = strlen(*val);
	return 0;
}

static int
f_set_reply(struct rmx_call *c, int code, const char *enh, const char *text)
{
	if (code < 200 || code > 599)
		return -EINVAL;
	c->reply_code = code;
	snprintf(c->reply_enh, sizeof(c->reply_enh), "%s", enh ? enh : "");
	snprintf(c->reply_text, sizeof(c->reply_text), "%s", text ? text : "");
	return 0;
}

static void
f_complete(struct rmx_call *c, enum rmx_verdict v)
{
	c->completed = true;
	c->completed_verdict = v;
}

static int
f_post(struct rmx_call *c, enum rmx_verdict v)
{
	f_complete(c, v);
	return 0;
}

static void *
f_call_alloc(struct rmx_call *c, size_t n)
{
	void *p;

	if (c->nallocs == sizeof(c->allocs) / sizeof(c->allocs[0]))
		return NULL;
	p = calloc(1, n ? n : 1);
	if (p != NULL)
		c->allocs[c->nallocs++] = p;
	return p;
}

static int
f_header_get(struct rmx_call *c, size_t idx, const char **name,
    size_t *name_len, const char **value, size_t *value_len)
{
	size_t seen = 0;

	for (size_t i = 0; i < c->nheaders; i++) {
		if (c->hname[i] == NULL)
			continue;
		if (seen++ == idx) {
			*name = c->hname[i];
			*name_len = strlen(c->hname[i]);
			*value = c->hvalue[i];
			*value_len = strlen(c->hvalue[i]);
			return 0;
		}
	}
	return -ENOENT;
}

static int
f_header_add(struct rmx_call *c, const char *name, const char *value)
{
	if (c->nheaders == FAKE_MAX)
		return -ENOSPC;
	memmove(&c->hname[1], &c->hname[0], c->nheaders * sizeof(char *));
	memmove(&c->hvalue[1], &c->hvalue[0], c->nheaders * sizeof(char *));
	c->hname[0] = strdup(name);
	c->hvalue[0] = strdup(value);
	c->nheaders++;
	return 0;
}

static int
f_header_delete(struct rmx_call *c, size_t idx)
{
	size_t seen = 0;

	for (size_t i = 0; i < c->nheaders; i++) {
		if (c->hname[i] == NULL)
			continue;
		if (seen++ == idx) {
			free(c->hname[i]);
			c->hname[i] = NULL;
			return 0;
		}
	}
	return -ENOENT;
}

static int64_t
f_body_read(struct rmx_call *c, uint64_t off, void *buf, size_t len)
{
	if (c->body == NULL || off >= c->body_len)
		return 0;
	if (len > c->body_len - off)
		len = c->body_len - (size_t)off;
	memcpy(buf, c->body + off, len);
	return (int64_t)len;
}

static int
f_note_set(struct rmx_call *c, const char *k, const char *v)
{
	for (size_t i = 0; i < c->nnotes; i++)
		if (strcmp(c->notes_k[i], k) == 0) {
			free(c->notes_v[i]);
			c->notes_v[i] = strdup(v);
			return 0;
		}
	if (c->nnotes == FAKE_MAX)
		return -ENOSPC;
	c->notes_k[c->nnotes] = strdup(k);
	c->notes_v[c->nnotes++] = strdup(v);
	return 0;
}

static int
f_note_get(struct rmx_call *c, const char *k, const char **v)
{
	for (size_t i = 0; i < c->nnotes; i++)
		if (strcmp(c->notes_k[i], k) == 0) {
			*v = c->notes_v[i];
			return 0;
		}
	return -ENOENT;
}

static int
f_session_set(struct rmx_call *c, void *data, void (*cleanup)(void *))
{
	if (c->session_cleanup != NULL && c->session_data != NULL)
		c->session_cleanup(c->session_data);
	c->session_data = data;
	c->session_cleanup = cleanup;
	return 0;
}

static void *
f_session_get(struct rmx_call *c)
{
	return c->session_data;
}

static int
f_rcpt_replace(struct rmx_call *c, const char *const *addrs, size_t n)
{
	if (n > FAKE_MAX)
		return -E2BIG;
	for (size_t i = 0; i < c->nreplaced; i++)
		free(c->replaced[i]);
	for (size_t i = 0; i < n; i++)
		c->replaced[i] = strdup(addrs[i]);
	c->nreplaced = n;
	c->replace_called = true;
	return 0;
}

static int
f_route_set(struct rmx_call *c, const char *t)
{
	snprintf(c->route, sizeof(c->route), "%s", t);
	return 0;
}

static int
f_set_auth_user(struct rmx_call *c, const char *u)
{
	snprintf(c->auth_user, sizeof(c->auth_user), "%s", u);
	return 0;
}

static int
f_offload(struct rmx_call *c, rmx_offload_work_fn *work,
    rmx_offload_done_fn *done, void *arg)
{
	work(arg);
	done(c, arg);
	return 0;
}

static int
f_timer_add(struct rmx_call *c, unsigned ms, rmx_timer_fn *fn, void *arg)
{
	(void)ms;
	if (c->ntimers == 8)
		return -ENOSPC;
	c->timer_fn[c->ntimers] = fn;
	c->timer_arg[c->ntimers++] = arg;
	return 0;
}

/* ---- DNS: answers from a table the test fills, delivered by
 * fake_run_dns (never inside dns_query, like the real host) ---- */

struct fake_dns_entry {
	char *name;
	int rrtype;
	int rcode; /* FAKE_DNS_TIMEOUT: no packet, SERVFAIL */
	int secure;
	char *rrs; /* zone-file lines, '\n'-separated */
};
struct fake_dns_query {
	struct rmx_call *call;
	char *name;
	int rrtype;
	rmx_dns_fn *fn;
	void *arg;
};
static struct fake_dns_entry dns_tab[256];
static size_t dns_ntab;
static struct fake_dns_query dns_q[256];
static size_t dns_nq, dns_asked;

void
fake_dns_add(int rrtype, const char *name, int rcode, const char *rrs)
{
	if (dns_ntab >= sizeof(dns_tab) / sizeof(dns_tab[0]))
		abort();
	dns_tab[dns_ntab].name = strdup(name);
	dns_tab[dns_ntab].rrtype = rrtype;
	dns_tab[dns_ntab].rcode = rcode;
	dns_tab[dns_ntab].secure = 0;
	dns_tab[dns_ntab].rrs = rrs ? strdup(rrs) : NULL;
	dns_ntab++;
}

void
fake_dns_reset(void)
{
	for (size_t i = 0; i < dns_ntab; i++) {
		free(dns_tab[i].name);
		free(dns_tab[i].rrs);
	}
	for (size_t i = 0; i < dns_nq; i++)
		free(dns_q[i].name);
	dns_ntab = dns_nq = dns_asked = 0;
}

size_t
fake_dns_asked(void)
{
	return dns_asked;
}

static bool
same_name(const char *a, const char *b)
{
	size_t la = strlen(a), lb = strlen(b);

	if (la > 0 && a[la - 1] == '.')
		la--;
	if (lb > 0 && b[lb - 1] == '.')
		lb--;
	return la == lb && strncasecmp(a, b, la) == 0;
}

/* The response message for one query, built with ldns. */
static uint8_t *
build_answer(
    const struct fake_dns_query *q, int *rcode, int *secure, size_t *len)
{
	const struct fake_dns_entry *e = NULL;
	bool name_exists = false;
	ldns_pkt *pkt;
	ldns_rdf *qname = NULL;
	uint8_t *wire = NULL;

	for (size_t i = 0; i < dns_ntab; i++) {
		if (!same_name(dns_tab[i].name, q->name))
			continue;
		name_exists = true;
		if (dns_tab[i].rrtype == q->rrtype)
			e = &dns_tab[i];
	}
	*secure = e ? e->secure : 0;
	*len = 0;
	if (e != NULL && e->rcode == FAKE_DNS_TIMEOUT) {
		*rcode = 2;
		return NULL;
	}
	*rcode = e ? e->rcode : name_exists ? 0 : 3;
	if (ldns_str2rdf_dname(&qname, q->name) != LDNS_STATUS_OK)
		abort();
	pkt = ldns_pkt_query_new(qname, (ldns_rr_type)q->rrtype,
	    LDNS_RR_CLASS_IN, LDNS_QR | LDNS_RD | LDNS_RA);
	if (pkt == NULL)
		abort();
	ldns_pkt_set_rcode(pkt, (uint8_t)*rcode);
	if (e != NULL && e->rrs != NULL) {
		char *copy = strdup(e->rrs), *save = NULL;
		for (char *line = strtok_r(copy, "\n", &save); line != NULL;
		     line = strtok_r(NULL, "\n", &save)) {
			ldns_rr *rr = NULL;
			if (ldns_rr_new_frm_str(&rr, line, 300, NULL, NULL) !=
			    LDNS_STATUS_OK) {
				fprintf(stderr, "fake_dns: bad RR: %s\n", line);
				abort();
			}
			ldns_pkt_push_rr(pkt, LDNS_SECTION_ANSWER, rr);
		}
		free(copy);
	}
	if (ldns_pkt2wire(&wire, pkt, len) != LDNS_STATUS_OK)
		abort();
	ldns_pkt_free(pkt);
	return wire;
}

size_t
fake_run_dns(struct rmx_call *c)
{
	size_t done = 0;

	for (;;) {
		struct fake_dns_query q;
		size_t i;
		uint8_t *wire;
		size_t len;
		int rcode, secure;

		for (i = 0; i < dns_nq; i++)
			if (c == NULL || dns_q[i].call == c)
				break;
		if (i == dns_nq)
			return done;
		q = dns_q[i];
		memmove(&dns_q[i], &dns_q[i + 1],
		    (dns_nq - i - 1) * sizeof(dns_q[0]));
		dns_nq--;
		wire = build_answer(&q, &rcode, &secure, &len);
		q.fn(q.call, rcode, secure, wire, len, q.arg);
		free(wire);
		free(q.name);
		done++;
	}
}

size_t
fake_dns_pending(void)
{
	return dns_nq;
}

void
fake_dns_drop(struct rmx_call *c)
{
	for (size_t i = 0; i < dns_nq;) {
		if (dns_q[i].call != c) {
			i++;
			continue;
		}
		free(dns_q[i].name);
		memmove(&dns_q[i], &dns_q[i + 1],
		    (dns_nq - i - 1) * sizeof(dns_q[0]));
		dns_nq--;
	}
}

static int
f_dns_query(
    struct rmx_call *c, const char *name, int rrtype, rmx_dns_fn *fn, void *arg)
{
	if (name == NULL || fn == NULL || rrtype <= 0 || rrtype > 65535)
		return -EINVAL;
	if (dns_nq >= sizeof(dns_q) / sizeof(dns_q[0]))
		return -ENOMEM;
	dns_q[dns_nq].call = c;
	dns_q[dns_nq].name = strdup(name);
	dns_q[dns_nq].rrtype = rrtype;
	dns_q[dns_nq].fn = fn;
	dns_q[dns_nq].arg = arg;
	dns_nq++;
	dns_asked++;
	return 0;
}

static uint64_t
f_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static const struct rmx_host_api api = {
    .size = sizeof(struct rmx_host_api),
    .abi_version = RMX_PLUGIN_ABI_VERSION,
    .log = f_log,
    .get_item = f_get_item,
    .set_reply = f_set_reply,
    .complete = f_complete,
    .post = f_post,
    .call_alloc = f_call_alloc,
    .header_get = f_header_get,
    .header_add = f_header_add,
    .header_delete = f_header_delete,
    .body_read = f_body_read,
    .note_set = f_note_set,
    .note_get = f_note_get,
    .session_set = f_session_set,
    .session_get = f_session_get,
    .rcpt_replace = f_rcpt_replace,
    .route_set = f_route_set,
    .set_auth_user = f_set_auth_user,
    .offload = f_offload,
    .timer_add = f_timer_add,
    .dns_query = f_dns_query,
    .now_ms = f_now_ms,
};

const struct rmx_host_api *
fake_host(void)
{
	return &api;
}

void
fake_call_init(struct rmx_call *c)
{
	memset(c, 0, sizeof(*c));
}

void
fake_set_item(struct rmx_call *c, int item, size_t idx, const char *v)
{
	if (item >= 0 && item < 32 && idx < 4)
		c->items[item][idx] = v;
}

void
fake_add_header(struct rmx_call *c, const char *name, const char *value)
{
	if (c->nheaders == FAKE_MAX)
		return;
	c->hname[c->nheaders] = strdup(name);
	c->hvalue[c->nheaders++] = strdup(value);
}

void
fake_run_timers(struct rmx_call *c)
{
	size_t n = c->ntimers;

	c->ntimers = 0;
	for (size_t i = 0; i < n; i++)
		c->timer_fn[i](c, c->timer_arg[i]);
}

void
fake_call_free(struct rmx_call *c)
{
	for (size_t i = 0; i < c->nheaders; i++) {
		free(c->hname[i]);
		free(c->hvalue[i]);
	}
	for (size_t i = 0; i < c->nreplaced; i++)
		free(c->replaced[i]);
	for (size_t i = 0; i < c->nnotes; i++) {
		free(c->notes_k[i]);
		free(c->notes_v[i]);
	}
	for (size_t i = 0; i < c->nallocs; i++)
		free(c->allocs[i]);
	if (c->session_cleanup != NULL && c->session_data != NULL)
		c->session_cleanup(c->session_data);
	memset(c, 0, sizeof(*c));
}

const struct rmx_plugin *
fake_load(const char *so_path, const char **cfg, void **state, char *err,
    size_t errlen)
{
	void *h = dlopen(so_path, RTLD_NOW | RTLD_LOCAL);
	const struct rmx_plugin *(*entry)(uint32_t, const char **);
	const struct rmx_plugin *p;
	const char *why = "unknown";
	struct rmx_kv kv[64];
	size_t n = 0;

	if (h == NULL) {
		snprintf(err, errlen, "dlopen: %s", dlerror());
		return NULL;
	}
	*(void **)&entry = dlsym(h, RMX_PLUGIN_ENTRY_NAME);
	if (entry == NULL) {
		snprintf(err, errlen, "no %s", RMX_PLUGIN_ENTRY_NAME);
		return NULL;
	}
	p = entry(RMX_PLUGIN_ABI_VERSION, &why);
	if (p == NULL) {
		snprintf(err, errlen, "refused: %s", why);
		return NULL;
	}
	for (; cfg != NULL && cfg[0] != NULL && n < 63; cfg += 2)
		kv[n++] = (struct rmx_kv){cfg[0], cfg[1]};
	kv[n] = (struct rmx_kv){NULL, NULL};
	err[0] = '\0';
	if (p->init(fake_host(), kv, state, err, errlen) != 0)
		return NULL;
	return p;
}

rmx_hook_fn *
fake_hook(const struct rmx_plugin *p, unsigned id)
{
	for (const struct rmx_hook *h = p->hooks; h != NULL && h->id != 0; h++)
		if (h->id == id)
			return h->fn;
	return NULL;
}
