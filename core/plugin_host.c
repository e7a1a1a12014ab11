/*
 * plugin_host.c - loader, hook chains and the host API table of the
 * plugin ABI (see plugin_host.h and include/ringmx/plugin.h).
 *
 * Calls live in a per-worker pool that is only freed when the worker
 * ends: a stale pointer held by a plugin (a late complete() or post())
 * can always be checked against the call's generation. A call stays
 * allocated while an offload job, a timer or a DNS query refers to it
 * (refs).
 */
#include "plugin_host.h"

#include <dlfcn.h>
#include <errno.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "dns_cache.h"
#include "dns_resolver.h"
#include "log.h"
#include "stats.h"

#define HOOK_MAX 32

struct loaded {
	void *dl;
	const struct rmx_plugin *p;
	void *state;
	char *name;
	char *path;
};

struct plugin_host {
	struct loaded *pl;
	size_t n;
	size_t *chain[HOOK_MAX + 1]; /* plugin indexes per hook, in order */
	const struct rmx_hook **hk[HOOK_MAX + 1]; /* per hook, in order */
	size_t nchain[HOOK_MAX + 1];
};

struct post_msg {
	struct rmx_call *call;
	uint32_t gen;
	enum rmx_verdict v;
	struct post_msg *next;
};

/* A plugin's timer: on the worker's list (prev/next) and on its call's
 * (cnext). It belongs to the plugin step that set it: when that plugin
 * finishes its part of the call, the timer is dropped. */
struct ptimer {
	struct rmx_call *call;
	uint32_t gen;
	size_t pos; /* chain position of the plugin that set it */
	uint64_t due_ms;
	rmx_timer_fn *fn;
	void *arg;
	struct ptimer *prev, *next, *cnext;
};

/* A plugin's DNS query in flight (owned by the plugin_worker's list),
 * or a cached answer waiting for delivery on the next poll (then the
 * answer is in wire[]). */
struct pdns {
	struct plugin_worker *pw;
	struct rmx_call *call;
	uint32_t gen;
	size_t pos;  /* chain position of the plugin that asked */
	uint64_t id; /* dns_query handle */
	rmx_dns_fn *fn;
	void *arg;
	struct pdns *prev, *next;
	char name[256];
	uint16_t type;
	/* cached answers only */
	int rcode, secure;
	size_t len;
	uint8_t *wire;
};

struct alloc_node {
	struct alloc_node *next;
	max_align_t data[];
};

struct rmx_call {
	struct plugin_worker *pw;
	uint32_t gen;
	int hook;
	size_t pos; /* position in the hook's chain */
	struct hook_subject subject;
	struct hook_result *res;
	bool running, pending, cancelled, finished;
	bool completed_in_call;
	enum rmx_verdict completed_v;
	unsigned refs; /* offload jobs, timers, DNS queries referring to it */
	struct ptimer *timers; /* this call's (see struct ptimer) */
	struct alloc_node *allocs;
	struct rmx_call *next_free, *next_all;
};

struct plugin_worker {
	struct plugin_host *ph;
	unsigned worker;
	void **ws; /* worker state per plugin */
	struct offload *off;
	int notify_fd;
	struct rmx_call *free_calls, *all_calls;
	struct ptimer *timers;
	uint64_t next_due;        /* earliest due_ms on timers (0 = unknown) */
	struct dns_resolver *dns; /* the worker's, or NULL */
	struct pdns *dns_q;       /* plugin queries in flight */
	struct dns_cache *dns_cache;
	struct pdns *dns_ready,
	    **dns_ready_tail; /* cached answers to hand over on the next poll */
	_Atomic(struct post_msg *) posts; /* SHARED: pushed by any thread */
};

struct plugin_job {
	struct offload_job base; /* first */
	struct rmx_call *call;
	uint32_t gen;
	rmx_offload_work_fn *work;
	rmx_offload_done_fn *done;
	void *arg;
};

/* ---- results ---- */

/* hook_result_clear - free what a result holds and zero it */
void
hook_result_clear(struct hook_result *r)
{
	free(r->auth_user);
	for (size_t i = 0; i < r->naddrs; i++)
		free(r->addrs[i]);
	free(r->addrs);
	free(r->route);
	memset(r, 0, sizeof(*r));
}

static const char *
call_plugin_name(const struct rmx_call *c)
{
	const struct plugin_host *ph;

	if (c == NULL || c->pw == NULL)
		return "-";
	ph = c->pw->ph;
	if (c->hook <= 0 || c->hook > HOOK_MAX || c->pos >= ph->nchain[c->hook])
		return "-";
	return ph->pl[ph->chain[c->hook][c->pos]].name;
}

static size_t
call_plugin_index(const struct rmx_call *c)
{
	return c->pw->ph->chain[c->hook][c->pos];
}

/* ---- the host API ---- */

static void h_log(struct rmx_call *call, int level, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void
h_log(struct rmx_call *call, int level, const char *fmt, ...)
{
	char line[1024], q[1100];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	if (level < LOG_ERR)
		level = LOG_ERR;
	if (level > LOG_DEBUG)
		level = LOG_DEBUG;
	{
		/* the queue id, when the call is about a message */
		const char *id = NULL;
		size_t idlen = 0;
		if (call != NULL && call->subject.ops != NULL &&
		    call->subject.ops->get_item != NULL &&
		    call->subject.ops->get_item(call->subject.subj,
			RMX_ITEM_QUEUE_ID, 0, &id, &idlen) != 0)
			id = NULL;
		log_event(level, "plugin", "%s%s%splugin=%s msg=%s",
		    id ? "id=" : "", id ? id : "", id ? " " : "",
		    call_plugin_name(call), log_quote(line, q, sizeof(q)));
	}
}

static int
h_get_item(
    struct rmx_call *c, int item, size_t idx, const char **val, size_t *len)
{
	size_t l;
	int r;

	if (c == NULL || c->subject.ops->get_item == NULL)
		return -ENOTSUP;
	r = c->subject.ops->get_item(c->subject.subj, item, idx, val, &l);
	if (r == 0 && len != NULL)
		*len = l;
	return r;
}

static int
h_set_reply(struct rmx_call *c, int code, const char *enh, const char *text)
{
	struct hook_result *r = c->res;

	if (code < 200 || code > 599 || enh == NULL || text == NULL)
		return -EINVAL;
	if (enh[0] != (char)('0' + code / 100) || enh[1] != '.' ||
	    strlen(enh) >= sizeof(r->enh))
		return -EINVAL;
	for (const char *p = text; *p; p++)
		if ((unsigned char)*p < 0x20)
			return -EINVAL;
	r->code = code;
	snprintf(r->enh, sizeof(r->enh), "%s", enh);
	snprintf(r->text, sizeof(r->text), "%s", text);
	return 0;
}

static void advance(struct rmx_call *c, enum rmx_verdict v);

static void
h_complete(struct rmx_call *c, enum rmx_verdict v)
{
	if (c == NULL || c->cancelled || c->finished)
		return;
	if (c->running) {
		c->completed_in_call = true;
		c->completed_v = v;
		return;
	}
	if (!c->pending)
		return;
	c->pending = false;
	advance(c, v);
}

static void
signal_fd(int fd)
{
	uint64_t one = 1;

	if (write(fd, &one, sizeof(one)) < 0) {
		/* counter saturated: the worker is awake anyway */
	}
}

static int
h_post(struct rmx_call *c, enum rmx_verdict v)
{
	struct post_msg *m = malloc(sizeof(*m));
	struct plugin_worker *pw = c->pw;

	if (m == NULL)
		return -ENOMEM;
	m->call = c;
	m->gen = c->gen;
	m->v = v;
	m->next = atomic_load_explicit(&pw->posts, memory_order_relaxed);
	while (!atomic_compare_exchange_weak_explicit(&pw->posts, &m->next, m,
	    memory_order_release, memory_order_relaxed))
		;
	signal_fd(pw->notify_fd);
	return 0;
}

static void *
h_call_alloc(struct rmx_call *c, size_t n)
{
	struct alloc_node *a = calloc(1, sizeof(*a) + n);

	if (a == NULL)
		return NULL;
	a->next = c->allocs;
	c->allocs = a;
	return a->data;
}

static int
h_header_get(struct rmx_call *c, size_t idx, const char **name, size_t *nlen,
    const char **value, size_t *vlen)
{
	if (c->subject.ops->header_get == NULL)
		return -ENOTSUP;
	return c->subject.ops->header_get(
	    c->subject.subj, idx, name, nlen, value, vlen);
}

static int
h_header_add(struct rmx_call *c, const char *name, const char *value)
{
	if (c->subject.ops->header_add == NULL)
		return -ENOTSUP;
	return c->subject.ops->header_add(c->subject.subj, name, value);
}

static int
h_header_delete(struct rmx_call *c, size_t idx)
{
	if (c->subject.ops->header_delete == NULL)
		return -ENOTSUP;
	return c->subject.ops->header_delete(c->subject.subj, idx);
}

static int64_t
h_body_read(struct rmx_call *c, uint64_t off, void *buf, size_t len)
{
	if (c->subject.ops->body_read == NULL)
		return -ENOTSUP;
	return c->subject.ops->body_read(c->subject.subj, off, buf, len);
}

static int
h_note_set(struct rmx_call *c, const char *k, const char *v)
{
	if (c->subject.ops->note_set == NULL)
		return -ENOTSUP;
	return c->subject.ops->note_set(c->subject.subj, k, v);
}

static int
h_note_get(struct rmx_call *c, const char *k, const char **v)
{
	if (c->subject.ops->note_get == NULL)
		return -ENOTSUP;
	return c->subject.ops->note_get(c->subject.subj, k, v);
}

static int
h_session_set(struct rmx_call *c, void *data, void (*cleanup)(void *))
{
	void (**cl)(void *);
	void **slot;

	if (c->subject.ops->session_slot == NULL)
		return -ENOTSUP;
	slot = c->subject.ops->session_slot(
	    c->subject.subj, call_plugin_index(c), &cl);
	if (slot == NULL)
		return -ENOMEM;
	if (*slot != NULL && *cl != NULL && *slot != data)
		(*cl)(*slot);
	*slot = data;
	*cl = cleanup;
	return 0;
}

static void *
h_session_get(struct rmx_call *c)
{
	void (**cl)(void *);
	void **slot;

	if (c->subject.ops->session_slot == NULL)
		return NULL;
	slot = c->subject.ops->session_slot(
	    c->subject.subj, call_plugin_index(c), &cl);
	return slot ? *slot : NULL;
}

static int
h_rcpt_replace(struct rmx_call *c, const char *const *addrs, size_t n)
{
	struct hook_result *r = c->res;
	char **v;

	if (c->hook != RMX_HOOK_RCPT)
		return -EINVAL;
	if (n > 1000)
		return -E2BIG;
	v = calloc(n ? n : 1, sizeof(*v));
	if (v == NULL)
		return -ENOMEM;
	for (size_t i = 0; i < n; i++) {
		if (addrs[i] == NULL || (v[i] = strdup(addrs[i])) == NULL) {
			for (size_t j = 0; j < i; j++)
				free(v[j]);
			free(v);
			return addrs[i] == NULL ? -EINVAL : -ENOMEM;
		}
	}
	for (size_t i = 0; i < r->naddrs; i++)
		free(r->addrs[i]);
	free(r->addrs);
	r->addrs = v;
	r->naddrs = n;
	r->replaced = true;
	return 0;
}

static int
h_route_set(struct rmx_call *c, const char *t)
{
	char *d;

	if (c->hook != RMX_HOOK_ROUTE || t == NULL)
		return -EINVAL;
	if ((d = strdup(t)) == NULL)
		return -ENOMEM;
	free(c->res->route);
	c->res->route = d;
	return 0;
}

static int
h_set_auth_user(struct rmx_call *c, const char *u)
{
	char *d;

	if (c->hook != RMX_HOOK_AUTH || u == NULL || u[0] == '\0')
		return -EINVAL;
	if ((d = strdup(u)) == NULL)
		return -ENOMEM;
	free(c->res->auth_user);
	c->res->auth_user = d;
	return 0;
}

static void
plugin_job_run(struct offload_job *base)
{
	struct plugin_job *j = (struct plugin_job *)base;

	j->work(j->arg);
}

static int
h_offload(struct rmx_call *c, rmx_offload_work_fn *work,
    rmx_offload_done_fn *done, void *arg)
{
	struct plugin_job *j;

	if (work == NULL || c->pw->off == NULL)
		return -EINVAL;
	if ((j = calloc(1, sizeof(*j))) == NULL)
		return -ENOMEM;
	j->base.run = plugin_job_run;
	j->call = c;
	j->gen = c->gen;
	j->work = work;
	j->done = done;
	j->arg = arg;
	c->refs++;
	offload_submit(c->pw->off, &j->base);
	return 0;
}

static uint64_t
h_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static int
h_timer_add(struct rmx_call *c, unsigned ms, rmx_timer_fn *fn, void *arg)
{
	struct ptimer *t;

	if (fn == NULL)
		return -EINVAL;
	if ((t = calloc(1, sizeof(*t))) == NULL)
		return -ENOMEM;
	t->call = c;
	t->gen = c->gen;
	t->pos = c->pos;
	t->due_ms = h_now_ms() + ms;
	t->fn = fn;
	t->arg = arg;
	t->next = c->pw->timers;
	if (t->next != NULL)
		t->next->prev = t;
	c->pw->timers = t;
	t->cnext = c->timers;
	c->timers = t;
	if (c->pw->next_due == 0 || t->due_ms < c->pw->next_due)
		c->pw->next_due = t->due_ms;
	c->refs++;
	return 0;
}

/* Take t off the worker's list and its call's list (not freed). */
static void
timer_unlink(struct ptimer *t)
{
	struct plugin_worker *pw = t->call->pw;
	struct ptimer **pp;

	if (t->prev != NULL)
		t->prev->next = t->next;
	else
		pw->timers = t->next;
	if (t->next != NULL)
		t->next->prev = t->prev;
	t->prev = t->next = NULL;
	for (pp = &t->call->timers; *pp != NULL; pp = &(*pp)->cnext)
		if (*pp == t) {
			*pp = t->cnext;
			break;
		}
}

/* The current plugin is done with the call: its timers go. */
static void
drop_timers(struct rmx_call *c)
{
	while (c->timers != NULL) {
		struct ptimer *t = c->timers;
		timer_unlink(t);
		c->refs--;
		free(t);
	}
}

static void call_put(struct rmx_call *c);

static void
pdns_unlink(struct pdns *q)
{
	if (q->prev != NULL)
		q->prev->next = q->next;
	else
		q->pw->dns_q = q->next;
	if (q->next != NULL)
		q->next->prev = q->prev;
}

/* The resolver's answer to a plugin query: hand the wire message over,
 * unless the call has ended meanwhile. */
static void
pdns_answer(void *arg, const struct dns_result *res)
{
	struct pdns *q = arg;
	struct rmx_call *c = q->call;
	int secure = res->sec == DNS_SECURE  ? 1
		     : res->sec == DNS_BOGUS ? -1
					     : 0;
	int rcode = secure < 0 ? DNS_RCODE_SERVFAIL : res->rcode;

	pdns_unlink(q);
	c->refs--;
	/* keep good answers for the next queries of this worker */
	if (secure >= 0 &&
	    (rcode == DNS_RCODE_NOERROR || rcode == DNS_RCODE_NXDOMAIN) &&
	    res->packet != NULL && !res->timed_out)
		dns_cache_put(q->pw->dns_cache, q->name, q->type, rcode, secure,
		    res->packet, res->packet_len,
		    res->havedata
			? (res->ttl < DNS_CACHE_MAX_TTL ? res->ttl
							: DNS_CACHE_MAX_TTL)
			: DNS_CACHE_NEG_TTL,
		    h_now_ms());
	if (q->gen == c->gen && !c->cancelled && !c->finished &&
	    q->pos == c->pos)
		q->fn(c, rcode, secure, secure < 0 ? NULL : res->packet,
		    secure < 0 ? 0 : res->packet_len, q->arg);
	if ((c->cancelled || c->finished) && c->refs == 0 && q->gen == c->gen)
		call_put(c);
	free(q);
}

static int
h_dns_query(
    struct rmx_call *c, const char *name, int rrtype, rmx_dns_fn *fn, void *arg)
{
	struct plugin_worker *pw = c->pw;
	struct pdns *q;

	const uint8_t *wire;
	size_t len;
	int rcode, secure;

	if (pw->dns == NULL)
		return -ENOSYS;
	if (name == NULL || fn == NULL || rrtype <= 0 || rrtype > 65535 ||
	    strlen(name) >= sizeof(q->name))
		return -EINVAL;
	if ((q = calloc(1, sizeof(*q))) == NULL)
		return -ENOMEM;
	q->pw = pw;
	q->call = c;
	q->gen = c->gen;
	q->pos = c->pos;
	q->fn = fn;
	q->arg = arg;
	q->type = (uint16_t)rrtype;
	memcpy(q->name, name, strlen(name) + 1);
	stat_inc(ST_DNS_QUERIES);
	if (dns_cache_get(pw->dns_cache, name, (uint16_t)rrtype, h_now_ms(),
		&rcode, &secure, &wire, &len)) {
		/* answered from this worker's cache: delivered on the next
		 * poll, never from inside dns_query */
		stat_inc(ST_DNS_CACHE_HITS);
		if ((q->wire = malloc(len)) == NULL) {
			free(q);
			return -ENOMEM;
		}
		memcpy(q->wire, wire, len);
		q->len = len;
		q->rcode = rcode;
		q->secure = secure;
		*pw->dns_ready_tail = q;
		pw->dns_ready_tail = &q->next;
		c->refs++;
		return 0;
	}
	q->id = dns_query(pw->dns, name, (uint16_t)rrtype, pdns_answer, q);
	if (q->id == 0) {
		free(q);
		return -EINVAL; /* not a usable name */
	}
	q->next = pw->dns_q;
	if (pw->dns_q != NULL)
		pw->dns_q->prev = q;
	pw->dns_q = q;
	c->refs++;
	return 0;
}

/* plugin_worker_set_resolver - the worker's resolver for dns_query */
void
plugin_worker_set_resolver(struct plugin_worker *pw, struct dns_resolver *r)
{
	if (pw != NULL) {
		pw->dns = r;
		if (pw->dns_cache == NULL)
			pw->dns_cache = dns_cache_new(4096);
	}
}

/* Hand cached answers over (in order; new ones queued by the callbacks
 * wait for the next round). */
static void
deliver_cached(struct plugin_worker *pw)
{
	struct pdns *q = pw->dns_ready;

	pw->dns_ready = NULL;
	pw->dns_ready_tail = &pw->dns_ready;
	while (q != NULL) {
		struct pdns *next = q->next;
		struct rmx_call *c = q->call;
		c->refs--;
		if (q->gen == c->gen && !c->cancelled && !c->finished &&
		    q->pos == c->pos)
			q->fn(c, q->rcode, q->secure, q->wire, q->len, q->arg);
		if ((c->cancelled || c->finished) && c->refs == 0 &&
		    q->gen == c->gen)
			call_put(c);
		free(q->wire);
		free(q);
		q = next;
	}
}

/* plugin_worker_dns_pending - cached answers wait for the next poll */
bool
plugin_worker_dns_pending(const struct plugin_worker *pw)
{
	return pw != NULL && pw->dns_ready != NULL;
}

static const struct rmx_host_api host_api = {
    .size = sizeof(struct rmx_host_api),
    .abi_version = RMX_PLUGIN_ABI_VERSION,
    .log = h_log,
    .get_item = h_get_item,
    .set_reply = h_set_reply,
    .complete = h_complete,
    .post = h_post,
    .call_alloc = h_call_alloc,
    .header_get = h_header_get,
    .header_add = h_header_add,
    .header_delete = h_header_delete,
    .body_read = h_body_read,
    .note_set = h_note_set,
    .note_get = h_note_get,
    .session_set = h_session_set,
    .session_get = h_session_get,
    .rcpt_replace = h_rcpt_replace,
    .route_set = h_route_set,
    .set_auth_user = h_set_auth_user,
    .offload = h_offload,
    .timer_add = h_timer_add,
    .dns_query = h_dns_query,
    .now_ms = h_now_ms,
};

/* ---- calls ---- */

static struct rmx_call *
call_get(struct plugin_worker *pw)
{
	struct rmx_call *c = pw->free_calls;

	if (c != NULL) {
		pw->free_calls = c->next_free;
	} else {
		if ((c = calloc(1, sizeof(*c))) == NULL)
			return NULL;
		c->pw = pw;
		c->next_all = pw->all_calls;
		pw->all_calls = c;
	}
	c->gen++;
	c->running = c->pending = c->cancelled = c->finished = false;
	c->completed_in_call = false;
	c->refs = 0;
	c->allocs = NULL;
	return c;
}

static void
call_put(struct rmx_call *c)
{
	struct alloc_node *a, *n;

	if (c->refs > 0)
		return; /* freed when the last job/timer returns */
	for (a = c->allocs; a != NULL; a = n) {
		n = a->next;
		free(a);
	}
	c->allocs = NULL;
	c->gen++; /* late completions no longer match */
	c->next_free = c->pw->free_calls;
	c->pw->free_calls = c;
}

static void
finish(struct rmx_call *c, enum rmx_verdict v, bool async)
{
	drop_timers(c);
	if (v == RMX_ACCEPT)
		stat_inc(ST_PLUGIN_ACCEPT);
	else if (v == RMX_REJECT)
		stat_inc(ST_PLUGIN_REJECT);
	else if (v == RMX_TEMPFAIL || v == RMX_DISCONNECT)
		stat_inc(ST_PLUGIN_TEMPFAIL);
	c->finished = true;
	c->res->verdict = v == RMX_PENDING ? RMX_TEMPFAIL : v;
	if (async)
		c->subject.ops->done(c->subject.subj, c->hook, c->res);
	call_put(c);
}

/* Run the chain from the current position onwards. */
static void
advance(struct rmx_call *c, enum rmx_verdict v)
{
	struct plugin_host *ph = c->pw->ph;
	bool was_async = true;

	for (;;) {
		size_t idx;

		drop_timers(c); /* the plugin before is done */
		if (v != RMX_CONTINUE) {
			finish(c, v, was_async);
			return;
		}
		if (++c->pos >= ph->nchain[c->hook]) {
			finish(c, RMX_CONTINUE, was_async);
			return;
		}
		idx = ph->chain[c->hook][c->pos];
		c->running = true;
		c->completed_in_call = false;
		v = ph->hk[c->hook][c->pos]->fn(c, c->pw->ws[idx]);
		c->running = false;
		if (v == RMX_PENDING) {
			if (c->completed_in_call) {
				v = c->completed_v;
				continue;
			}
			c->pending = true;
			return;
		}
		if ((unsigned)v > RMX_PENDING) {
			log_event(LOG_ERR, "plugin",
			    "plugin=%s msg=\"bad "
			    "verdict %d, treated as tempfail\"",
			    ph->pl[idx].name, (int)v);
			v = RMX_TEMPFAIL;
		}
	}
}

/* plugin_run - run a hook chain */
int
plugin_run(struct plugin_worker *pw, int hook,
    const struct hook_subject *subject, struct hook_result *res,
    struct rmx_call **pending)
{
	struct plugin_host *ph;
	struct rmx_call *c;
	size_t idx;
	enum rmx_verdict v;

	res->verdict = RMX_CONTINUE;
	*pending = NULL;
	if (pw == NULL || hook <= 0 || hook > HOOK_MAX)
		return 0;
	ph = pw->ph;
	if (ph->nchain[hook] == 0)
		return 0;
	if ((c = call_get(pw)) == NULL) {
		res->verdict = RMX_TEMPFAIL;
		return 0;
	}
	c->hook = hook;
	c->subject = *subject;
	c->res = res;
	/* First plugins synchronously; the chain goes async only on
	 * RMX_PENDING. */
	for (c->pos = 0; c->pos < ph->nchain[hook]; c->pos++) {
		idx = ph->chain[hook][c->pos];
		c->running = true;
		v = ph->hk[hook][c->pos]->fn(c, pw->ws[idx]);
		c->running = false;
		if (v == RMX_PENDING && c->completed_in_call)
			v = c->completed_v;
		if (v == RMX_PENDING) {
			c->pending = true;
			*pending = c;
			return 1;
		}
		if ((unsigned)v > RMX_PENDING)
			v = RMX_TEMPFAIL;
		drop_timers(c);
		if (v != RMX_CONTINUE) {
			finish(c, v, false);
			return 0;
		}
	}
	finish(c, RMX_CONTINUE, false);
	return 0;
}

/* plugin_cancel - the subject of a pending call is gone */
void
plugin_cancel(struct plugin_worker *pw, struct rmx_call *c)
{
	const struct rmx_plugin *p;

	if (c == NULL || !c->pending || c->cancelled)
		return;
	c->cancelled = true;
	c->pending = false;
	p = pw->ph->pl[call_plugin_index(c)].p;
	if (p->size >=
		offsetof(struct rmx_plugin, cancel) + sizeof(p->cancel) &&
	    p->cancel != NULL)
		p->cancel(c, pw->ws[call_plugin_index(c)]);
	drop_timers(c);
	c->finished = true;
	call_put(c);
}

/* plugin_offload_done - an offload job of a plugin returned */
bool
plugin_offload_done(struct plugin_worker *pw, struct offload_job *job)
{
	struct plugin_job *j = (struct plugin_job *)job;
	struct rmx_call *c;

	if (job->run != plugin_job_run)
		return false;
	(void)pw;
	c = j->call;
	c->refs--;
	if (!c->cancelled && !c->finished && j->gen == c->gen &&
	    j->done != NULL) {
		c->running = false;
		j->done(c, j->arg);
	}
	if ((c->cancelled || c->finished) && c->refs == 0 && j->gen == c->gen)
		call_put(c);
	free(j);
	return true;
}

/* plugin_worker_poll - timers due, posts from other threads */
void
plugin_worker_poll(struct plugin_worker *pw)
{
	struct post_msg *m, *n;
	struct ptimer *t, *tn;
	uint64_t now;

	if (pw == NULL)
		return;
	for (int round = 0; round < 8 && pw->dns_ready != NULL; round++)
		deliver_cached(pw);
	m = atomic_exchange_explicit(&pw->posts, NULL, memory_order_acquire);
	for (; m != NULL; m = n) {
		n = m->next;
		if (m->call->gen == m->gen)
			h_complete(m->call, m->v);
		free(m);
	}
	if (pw->timers == NULL)
		return;
	now = h_now_ms();
	if (pw->next_due != 0 && now < pw->next_due)
		return;
restart:
	pw->next_due = 0;
	for (t = pw->timers; t != NULL; t = tn) {
		struct rmx_call *c = t->call;
		tn = t->next;
		if (t->due_ms > now) {
			if (pw->next_due == 0 || t->due_ms < pw->next_due)
				pw->next_due = t->due_ms;
			continue;
		}
		/* off the lists before fn: fn may complete the call, which
		 * drops the call's other timers */
		timer_unlink(t);
		c->refs--;
		if (t->gen == c->gen && !c->cancelled && !c->finished &&
		    t->pos == c->pos)
			t->fn(c, t->arg);
		if ((c->cancelled || c->finished) && c->refs == 0 &&
		    t->gen == c->gen)
			call_put(c);
		free(t);
		goto restart; /* fn may have added or dropped timers */
	}
}

/* ---- loading ---- */

static int
load_one(struct plugin_host *ph, const struct plugin_cfg *cfg, char *err,
    size_t errlen)
{
	struct loaded *l = &ph->pl[ph->n];
	const struct rmx_plugin *(*entry)(uint32_t, const char **);
	const char *why = "no reason given";
	const struct rmx_plugin *p;
	char perr[512] = "";

	l->dl = dlopen(cfg->path, RTLD_NOW | RTLD_LOCAL);
	if (l->dl == NULL) {
		snprintf(err, errlen, "plugin %s (%s): cannot load: %s",
		    cfg->name, cfg->path, dlerror());
		return -1;
	}
	*(void **)&entry = dlsym(l->dl, RMX_PLUGIN_ENTRY_NAME);
	if (entry == NULL) {
		snprintf(err, errlen,
		    "plugin %s (%s): no entry symbol %s "
		    "(not a ringmx plugin, or built for another ABI major)",
		    cfg->name, cfg->path, RMX_PLUGIN_ENTRY_NAME);
		return -1;
	}
	p = entry(RMX_PLUGIN_ABI_VERSION, &why);
	if (p == NULL) {
		snprintf(err, errlen, "plugin %s (%s): refused to load: %s",
		    cfg->name, cfg->path, why ? why : "no reason given");
		return -1;
	}
	if (p->size < offsetof(struct rmx_plugin, hooks) + sizeof(p->hooks) ||
	    p->abi_version >> 16 != RMX_PLUGIN_ABI_MAJOR) {
		snprintf(err, errlen,
		    "plugin %s (%s): ABI %u.%u, this host "
		    "runs ABI %u.%u",
		    cfg->name, cfg->path, p->abi_version >> 16,
		    p->abi_version & 0xffff, (unsigned)RMX_PLUGIN_ABI_MAJOR,
		    (unsigned)RMX_PLUGIN_ABI_MINOR);
		return -1;
	}
	if (p->name == NULL || strcmp(p->name, cfg->name) != 0) {
		snprintf(err, errlen,
		    "plugin %s (%s): the file provides "
		    "plugin \"%s\"",
		    cfg->name, cfg->path, p->name ? p->name : "(null)");
		return -1;
	}
	for (size_t i = 0; i < ph->n; i++) {
		if (strcmp(ph->pl[i].name, p->name) == 0) {
			snprintf(err, errlen, "plugin %s (%s): loaded twice",
			    cfg->name, cfg->path);
			return -1;
		}
	}
	for (const struct rmx_hook *h = p->hooks; h != NULL && h->id != 0;
	     h++) {
		if (h->id <= RMX_HOOK_DISCONNECT && h->fn != NULL)
			continue;
		if (h->flags & RMX_HOOK_F_REQUIRED) {
			snprintf(err, errlen,
			    "plugin %s (%s): requires hook "
			    "%u, which this host does not have",
			    cfg->name, cfg->path, h->id);
			return -1;
		}
	}
	if (p->init == NULL ||
	    p->init(&host_api, cfg->kv, &l->state, perr, sizeof(perr)) != 0) {
		snprintf(err, errlen, "plugin %s (%s): init failed: %s",
		    cfg->name, cfg->path, perr[0] ? perr : "no reason given");
		return -1;
	}
	l->p = p;
	l->name = strdup(cfg->name);
	l->path = strdup(cfg->path);
	ph->n++;
	if (l->name == NULL || l->path == NULL) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	log_event(LOG_INFO, "plugin_loaded",
	    "plugin=%s version=%s abi=%u.%u "
	    "path=%s",
	    l->name, p->version ? p->version : "-", p->abi_version >> 16,
	    p->abi_version & 0xffff, l->path);
	return 0;
}

static int
build_chains(struct plugin_host *ph)
{
	for (int hook = 1; hook <= HOOK_MAX; hook++) {
		size_t n = 0;
		for (size_t i = 0; i < ph->n; i++)
			for (const struct rmx_hook *h = ph->pl[i].p->hooks;
			     h->id != 0; h++)
				n += h->id == (uint32_t)hook && h->fn != NULL;
		if (n == 0)
			continue;
		ph->chain[hook] = calloc(n, sizeof(size_t));
		ph->hk[hook] = calloc(n, sizeof(*ph->hk[hook]));
		if (ph->chain[hook] == NULL || ph->hk[hook] == NULL)
			return -1;
		for (size_t i = 0; i < ph->n; i++)
			for (const struct rmx_hook *h = ph->pl[i].p->hooks;
			     h->id != 0; h++)
				if (h->id == (uint32_t)hook && h->fn != NULL) {
					ph->chain[hook][ph->nchain[hook]] = i;
					// cppcheck-suppress
					// AssignmentAddressToInteger
					ph->hk[hook][ph->nchain[hook]++] = h;
				}
	}
	return 0;
}

/* plugin_host_load - load and initialise every plugin, in order */
struct plugin_host *
plugin_host_load(
    const struct plugin_cfg *cfgs, size_t n, char *err, size_t errlen)
{
	struct plugin_host *ph = calloc(1, sizeof(*ph));

	if (ph == NULL ||
	    (n > 0 && (ph->pl = calloc(n, sizeof(*ph->pl))) == NULL)) {
		free(ph);
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	for (size_t i = 0; i < n; i++) {
		if (load_one(ph, &cfgs[i], err, errlen) != 0) {
			if (ph->pl[ph->n].dl != NULL && ph->pl[ph->n].p == NULL)
				dlclose(ph->pl[ph->n].dl);
			plugin_host_free(ph);
			return NULL;
		}
	}
	if (build_chains(ph) != 0) {
		snprintf(err, errlen, "out of memory");
		plugin_host_free(ph);
		return NULL;
	}
	return ph;
}

/* plugin_host_free - fini every plugin and unload it */
void
plugin_host_free(struct plugin_host *ph)
{
	if (ph == NULL)
		return;
	for (size_t i = ph->n; i > 0; i--) {
		struct loaded *l = &ph->pl[i - 1];
		if (l->p->fini != NULL)
			l->p->fini(l->state);
		/* Not dlclose()d: a plugin's thread-local destructors or
		 * atexit handlers may still point into it. */
		free(l->name);
		free(l->path);
	}
	for (int h = 0; h <= HOOK_MAX; h++) {
		free(ph->chain[h]);
		free(ph->hk[h]);
	}
	free(ph->pl);
	free(ph);
}

/* plugin_host_reconfigure - hand new settings to every plugin */
int
plugin_host_reconfigure(struct plugin_host *ph, const struct plugin_cfg *cfgs,
    size_t n, char *err, size_t errlen)
{
	int failed = 0;

	if (err != NULL && errlen > 0)
		err[0] = '\0';
	for (size_t i = 0; i < n; i++) {
		bool loaded = false;
		for (size_t j = 0; ph != NULL && j < ph->n; j++)
			loaded =
			    loaded || strcmp(ph->pl[j].name, cfgs[i].name) == 0;
		if (!loaded)
			log_event(LOG_WARNING, "reload",
			    "plugin=%s "
			    "msg=\"new plugin: loaded at the next restart\"",
			    cfgs[i].name);
	}
	for (size_t j = 0; ph != NULL && j < ph->n; j++) {
		struct loaded *l = &ph->pl[j];
		const struct plugin_cfg *c = NULL;
		char perr[512] = "", q[600];

		for (size_t i = 0; i < n && c == NULL; i++)
			if (strcmp(cfgs[i].name, l->name) == 0)
				c = &cfgs[i];
		if (c == NULL) {
			log_event(LOG_WARNING, "reload",
			    "plugin=%s msg=\"removed "
			    "from the configuration: unloaded at the next "
			    "restart\"",
			    l->name);
			continue;
		}
		if (l->p->size < offsetof(struct rmx_plugin, reconfigure) +
				     sizeof(l->p->reconfigure) ||
		    l->p->reconfigure == NULL) {
			log_event(LOG_NOTICE, "reload",
			    "plugin=%s msg=\"cannot "
			    "reconfigure: new settings apply at the next "
			    "restart\"",
			    l->name);
			continue;
		}
		if (l->p->reconfigure(l->state, c->kv, perr, sizeof(perr)) !=
		    0) {
			failed++;
			log_event(LOG_ERR, "reload",
			    "plugin=%s result=failed "
			    "reason=%s",
			    l->name, log_quote(perr, q, sizeof(q)));
			if (err != NULL && err[0] == '\0')
				snprintf(err, errlen, "plugin %s (%s): %s",
				    l->name, l->path,
				    perr[0] ? perr : "reconfigure failed");
			continue;
		}
		log_event(LOG_INFO, "reload", "plugin=%s result=ok", l->name);
	}
	return failed;
}

/* plugin_host_count - number of loaded plugins */
size_t
plugin_host_count(const struct plugin_host *ph)
{
	return ph ? ph->n : 0;
}

/* plugin_host_has_hook - whether any plugin registered hook */
bool
plugin_host_has_hook(const struct plugin_host *ph, int hook)
{
	return ph != NULL && hook > 0 && hook <= HOOK_MAX &&
	       ph->nchain[hook] > 0;
}

static const char *const hook_names[] = {"", "connect", "helo", "starttls",
    "auth", "mail", "rcpt", "data", "sign", "queued", "route", "delivery",
    "bounce", "disconnect"};

/* plugin_host_info - name, version, ABI and hooks of plugin i */
int
plugin_host_info(
    const struct plugin_host *ph, size_t i, struct plugin_info *out)
{
	const struct rmx_plugin *p;

	if (i >= ph->n)
		return -1;
	p = ph->pl[i].p;
	memset(out, 0, sizeof(*out));
	out->name = ph->pl[i].name;
	out->path = ph->pl[i].path;
	out->version = p->version ? p->version : "";
	out->abi = p->abi_version;
	for (const struct rmx_hook *h = p->hooks;
	     h != NULL && h->id != 0 && out->nhooks < 16; h++)
		out->hooks[out->nhooks++] =
		    h->id < sizeof(hook_names) / sizeof(hook_names[0])
			? hook_names[h->id]
			: "unknown";
	return 0;
}

/* plugin_host_name - name of plugin i */
const char *
plugin_host_name(const struct plugin_host *ph, size_t i)
{
	return i < ph->n ? ph->pl[i].name : NULL;
}

/* plugin_worker_new - per-worker instances (worker thread) */
struct plugin_worker *
plugin_worker_new(struct plugin_host *ph, unsigned worker, struct offload *off,
    int notify_fd, char *err, size_t errlen)
{
	struct plugin_worker *pw = calloc(1, sizeof(*pw));

	if (pw == NULL ||
	    (ph->n > 0 && (pw->ws = calloc(ph->n, sizeof(void *))) == NULL)) {
		free(pw);
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	pw->ph = ph;
	pw->worker = worker;
	pw->dns_ready_tail = &pw->dns_ready;
	pw->off = off;
	pw->notify_fd = notify_fd;
	for (size_t i = 0; i < ph->n; i++) {
		const struct rmx_plugin *p = ph->pl[i].p;
		if (p->worker_init != NULL &&
		    p->worker_init(ph->pl[i].state, worker, &pw->ws[i]) != 0) {
			snprintf(err, errlen,
			    "plugin %s (%s): worker_init "
			    "failed on worker %u",
			    ph->pl[i].name, ph->pl[i].path, worker);
			for (size_t j = i; j > 0; j--)
				if (ph->pl[j - 1].p->worker_fini != NULL)
					ph->pl[j - 1].p->worker_fini(
					    pw->ws[j - 1]);
			free(pw->ws);
			free(pw);
			return NULL;
		}
	}
	return pw;
}

/* plugin_worker_free - worker_fini each plugin, free the call pool */
void
plugin_worker_free(struct plugin_worker *pw)
{
	struct rmx_call *c, *n;
	struct ptimer *t, *tn;
	struct post_msg *m, *mn;

	if (pw == NULL)
		return;
	for (size_t i = pw->ph->n; i > 0; i--)
		if (pw->ph->pl[i - 1].p->worker_fini != NULL)
			pw->ph->pl[i - 1].p->worker_fini(pw->ws[i - 1]);
	for (t = pw->timers; t != NULL; t = tn) {
		tn = t->next;
		free(t);
	}
	while (pw->dns_q != NULL) {
		struct pdns *q = pw->dns_q;
		pdns_unlink(q);
		dns_cancel(pw->dns, q->id);
		free(q);
	}
	while (pw->dns_ready != NULL) {
		struct pdns *q = pw->dns_ready;
		pw->dns_ready = q->next;
		free(q->wire);
		free(q);
	}
	dns_cache_free(pw->dns_cache);
	m = atomic_exchange(&pw->posts, NULL);
	for (; m != NULL; m = mn) {
		mn = m->next;
		free(m);
	}
	for (c = pw->all_calls; c != NULL; c = n) {
		struct alloc_node *a, *an;
		n = c->next_all;
		for (a = c->allocs; a != NULL; a = an) {
			an = a->next;
			free(a);
		}
		free(c);
	}
	free(pw->ws);
	free(pw);
}
