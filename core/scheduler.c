/*
 * scheduler.c - per-worker delivery scheduling (see scheduler.h): ready
 * list, min-heap by next attempt, attempt results turned into durable
 * queue updates. The delivery itself is local_delivery.c's.
 */
#include "scheduler.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "bounce.h"
#include "ctl_msg.h"
#include "dns_mx.h"
#include "local_delivery.h"
#include "log.h"
#include "nexthop.h"
#include "outbound.h"
#include "outbound_tls.h"
#include "stats.h"

#define MAX_JOBS_INFLIGHT 32

enum item_state { IT_WAITING, IT_DELIVERING, IT_COMMITTING, IT_HELD };

struct sched_item;

/* The recipients of one attempt that go to one next hop. */
struct remote_group {
	struct outbound_req req;
	struct sched_item *it;
	uint32_t *idx; /* recipient indexes (req.rcpts points here) */
	struct dns_mx_lookup *mx; /* MX lookup in flight, or NULL */
	struct otls_lookup *otls; /* TLS step (owns the MX result), or NULL */
	uint64_t q[2];            /* smarthost A/AAAA queries in flight */
	unsigned qleft;           /* of those */
	bool qtemp;               /* one failed temporarily or was bogus */
	uint16_t port;            /* smarthost port */
	struct remote_group *next;
};

struct sched_item {
	struct local_delivery_job job; /* first: offload_job at offset 0 */
	struct scheduler *sched;
	struct queue_shard *shard;
	struct qenvelope *env; /* owned */
	struct qop op;
	uint8_t *routes;    /* per recipient, for this attempt */
	uint8_t *attempted; /* per recipient: pending when the attempt began */
	char **transport;   /* per recipient: ROUTE's remote transport */
	uint8_t *relayed;   /* per recipient: 1 relayed to a non-DSN hop */
	unsigned parts;     /* deliveries of this attempt still running */
	unsigned no_route;  /* recipients nobody could take this time */
	struct buf body;    /* for outbound deliveries of this attempt */
	struct remote_group *groups;
	const char *status; /* DELIVERY hook: result being reported */
	uint32_t route_idx; /* recipient the ROUTE hook is asked about */
	char qid_str[QID_STR_LEN + 1];
	int64_t stored_next; /* next_attempt as stored in the shard */
	enum item_state state;
	struct ctl_msg *ctl;     /* operator request waiting for a commit */
	struct sched_item *next; /* ready list */
	struct sched_item *all_next, **all_pprev; /* every live item */
};

struct scheduler {
	const struct rmx_config *cfg;
	struct offload *off;
	struct queue_committer *qc;
	struct sched_item *ready_head, **ready_tail;
	struct sched_item **heap;
	size_t nheap, capheap;
	char **suspended; /* domains the operator suspended */
	size_t nsuspended;
	unsigned jobs;               /* delivery jobs in flight */
	unsigned commits;            /* ops in flight */
	struct plugin_worker *pw;    /* ROUTE hook, or NULL */
	struct queue_shard *primary; /* where reports (DSNs) are queued */
	struct sched_item *all;      /* every live item, wherever it is */
	struct outbound *ob;         /* SMTP/LMTP client, or NULL */
	struct dns_resolver *dns;    /* the worker's resolver, or NULL */
	struct dns_mx_policy mxpol;
	const char *self_names[1];
	struct sockaddr_storage *own_addrs;
	uint64_t count; /* items alive */
};

/* scheduler_backoff - delay before the next attempt */
int64_t
scheduler_backoff(uint32_t attempts, unsigned initial, unsigned max)
{
	int64_t d = initial;

	for (uint32_t i = 1; i < attempts && d < (int64_t)max; i++)
		d *= 2;
	return d > (int64_t)max ? (int64_t)max : d;
}

/* scheduler_new - empty scheduler */
struct scheduler *
scheduler_new(const struct rmx_config *cfg, struct offload *off,
    struct queue_committer *qc)
{
	struct scheduler *s = calloc(1, sizeof(*s));

	if (s == NULL)
		return NULL;
	s->cfg = cfg;
	s->off = off;
	s->qc = qc;
	s->ready_tail = &s->ready_head;
	return s;
}

static void
attempt_clear(struct sched_item *it)
{
	uint32_t n = it->env ? it->env->nrcpt : 0;

	if (it->transport != NULL)
		for (uint32_t i = 0; i < n; i++)
			free(it->transport[i]);
	free(it->transport);
	it->transport = NULL;
	free(it->relayed);
	it->relayed = NULL;
	while (it->groups != NULL) {
		struct remote_group *g = it->groups;
		it->groups = g->next;
		if (g->mx != NULL)
			dns_mx_cancel(g->mx);
		otls_free(g->otls);
		for (int q = 0; q < 2 && g->it->sched->dns != NULL; q++)
			if (g->q[q] != 0)
				dns_cancel(g->it->sched->dns, g->q[q]);
		free(g->idx);
		free(g->req.results);
		free(g);
	}
	buf_free(&it->body);
}

static void
item_free(struct sched_item *it)
{
	if (it->all_pprev != NULL) {
		*it->all_pprev = it->all_next;
		if (it->all_next != NULL)
			it->all_next->all_pprev = it->all_pprev;
	}
	attempt_clear(it);
	free(it->routes);
	free(it->attempted);
	if (it->env != NULL) {
		qenvelope_free(it->env);
		free(it->env);
	}
	free(it);
}

/* scheduler_free - drop everything (nothing may be in flight) */
void
scheduler_free(struct scheduler *s)
{
	struct sched_item *it, *n;

	if (s == NULL)
		return;
	/* every item: waiting (ready list, heap) or mid-attempt (an MX
	 * lookup or a delivery the worker stopped waiting for); the message
	 * stays in the queue and is resumed at the next start */
	for (it = s->all; it != NULL; it = n) {
		n = it->all_next;
		if (it->ctl != NULL)
			ctl_reply(it->ctl, -1, "the server is stopping");
		item_free(it);
	}
	for (size_t i = 0; i < s->nsuspended; i++)
		free(s->suspended[i]);
	free(s->suspended);
	free(s->heap);
	free(s->own_addrs);
	free(s);
}

static void
heap_swap(struct scheduler *s, size_t a, size_t b)
{
	struct sched_item *t = s->heap[a];
	s->heap[a] = s->heap[b];
	s->heap[b] = t;
}

static int
heap_push(struct scheduler *s, struct sched_item *it)
{
	size_t i;

	if (s->nheap == s->capheap) {
		size_t nc = s->capheap ? s->capheap * 2 : 64;
		struct sched_item **nh = realloc(s->heap, nc * sizeof(*nh));
		if (nh == NULL)
			return -1;
		s->heap = nh;
		s->capheap = nc;
	}
	i = s->nheap++;
	s->heap[i] = it;
	while (i > 0) {
		size_t p = (i - 1) / 2;
		if (s->heap[p]->env->next_attempt <=
		    s->heap[i]->env->next_attempt)
			break;
		heap_swap(s, p, i);
		i = p;
	}
	return 0;
}

static struct sched_item *
heap_pop(struct scheduler *s)
{
	struct sched_item *top = s->heap[0];
	size_t i = 0;

	s->heap[0] = s->heap[--s->nheap];
	for (;;) {
		size_t l = 2 * i + 1, r = l + 1, m = i;
		if (l < s->nheap && s->heap[l]->env->next_attempt <
					s->heap[m]->env->next_attempt)
			m = l;
		if (r < s->nheap && s->heap[r]->env->next_attempt <
					s->heap[m]->env->next_attempt)
			m = r;
		if (m == i)
			break;
		heap_swap(s, i, m);
		i = m;
	}
	return top;
}

static void
ready_push(struct scheduler *s, struct sched_item *it)
{
	it->next = NULL;
	*s->ready_tail = it;
	s->ready_tail = &it->next;
}

static struct sched_item *
ready_pop(struct scheduler *s)
{
	struct sched_item *it = s->ready_head;

	if (it != NULL) {
		s->ready_head = it->next;
		if (s->ready_head == NULL)
			s->ready_tail = &s->ready_head;
	}
	return it;
}

static void
wait_until(struct scheduler *s, struct sched_item *it, int64_t when)
{
	it->state = IT_WAITING;
	it->env->next_attempt = when;
	if (heap_push(s, it) != 0) {
		/* Out of memory: forget it in memory; it stays queued on
		 * disk and is picked up again at the next start. */
		s->count--;
		item_free(it);
	}
}

/* scheduler_add - take a queued message */
void
scheduler_add(
    struct scheduler *s, struct queue_shard *shard, struct qenvelope *env)
{
	struct sched_item *it;

	if (s->cfg->hold) {
		qenvelope_free(env);
		free(env);
		return;
	}
	it = calloc(1, sizeof(*it));
	if (it == NULL) {
		qenvelope_free(env);
		free(env);
		return;
	}
	it->shard = shard;
	it->sched = s;
	it->all_next = s->all;
	if (s->all != NULL)
		s->all->all_pprev = &it->all_next;
	s->all = it;
	it->all_pprev = &s->all;
	it->env = env;
	it->stored_next = env->next_attempt;
	s->count++;
	if (env->held)
		it->state = IT_HELD; /* until an operator releases it */
	else if (env->next_attempt == 0)
		ready_push(s, it);
	else
		wait_until(s, it, env->next_attempt);
}

static unsigned
pending_rcpts(const struct qenvelope *e)
{
	unsigned n = 0;

	for (uint32_t i = 0; i < e->nrcpt; i++)
		n += e->rcpts[i].state == QRCPT_PENDING;
	return n;
}

static void
submit_op(struct scheduler *s, struct sched_item *it, enum qop_kind kind)
{
	memset(&it->op, 0, sizeof(it->op));
	it->op.kind = kind;
	it->op.shard = it->shard;
	it->op.env = it->env;
	it->op.id = it->env->id;
	it->op.old_next_attempt = it->stored_next;
	it->op.owner = it;
	it->op.owner_gen = SCHED_OWNER_TAG;
	it->state = IT_COMMITTING;
	s->commits++;
	queue_committer_submit(s->qc, &it->op);
}

/* The message as the subject of a ROUTE call. */
static int
route_item(void *subj, int item, size_t idx, const char **val, size_t *len)
{
	struct sched_item *it = subj;
	const struct qenvelope *e = it->env;
	const char *v = NULL;

	if (idx != 0 && item != RMX_ITEM_RCPT)
		return -ENOENT;
	switch (item) {
	case RMX_ITEM_RCPT_CURRENT:
		v = e->rcpts[it->route_idx].addr;
		break;
	case RMX_ITEM_RCPT:
		v = idx < e->nrcpt ? e->rcpts[idx].addr : NULL;
		break;
	case RMX_ITEM_MAIL_FROM:
		v = e->sender;
		break;
	case RMX_ITEM_QUEUE_ID:
		qid_format(e->id, it->qid_str);
		v = it->qid_str;
		break;
	case RMX_ITEM_CLIENT_ADDR:
		v = e->client_addr;
		break;
	case RMX_ITEM_HELO:
		v = e->helo;
		break;
	case RMX_ITEM_DELIVERY_STATUS:
		v = it->status;
		break;
	default:
		break;
	}
	if (v == NULL)
		return -ENOENT;
	*val = v;
	*len = strlen(v);
	return 0;
}

static void
route_done(void *subj, int hook, struct hook_result *res)
{
	/* Routing is synchronous: a pending ROUTE call is cancelled. */
	(void)subj;
	(void)hook;
	(void)res;
}

/* Notes stored with the message by the session's plugins (read-only
 * at delivery time). */
static int
route_note_get(void *subj, const char *k, const char **v)
{
	const struct sched_item *it = subj;
	const struct qenvelope *e = it->env;
	size_t kl = strlen(k);

	for (uint32_t i = 0; i < e->nnotes; i++)
		if (strncmp(e->notes[i], k, kl) == 0 &&
		    e->notes[i][kl] == '=') {
			*v = e->notes[i] + kl + 1;
			return 0;
		}
	return -ENOENT;
}

static const struct hook_subject_ops route_ops = {
    .get_item = route_item,
    .note_get = route_note_get,
    .done = route_done,
};

static uint8_t
route_kind_of(const char *t)
{
	if (strcmp(t, "maildir") == 0)
		return ROUTE_MAILDIR;
	if (strcmp(t, "discard") == 0)
		return ROUTE_DISCARD;
	if (strcmp(t, "hold") == 0)
		return ROUTE_HOLD;
	return ROUTE_REMOTE; /* mx, smtp:..., lmtp:... */
}

/* Ask the ROUTE hook about each pending recipient. */
static void
route_recipients(struct scheduler *s, struct sched_item *it)
{
	struct qenvelope *e = it->env;
	struct hook_subject hs = {&route_ops, it};
	char id[QID_STR_LEN + 1];

	free(it->routes);
	free(it->attempted);
	it->routes = it->attempted = NULL;
	attempt_clear(it);
	if (e->nrcpt == 0 || (it->routes = calloc(e->nrcpt, 1)) == NULL ||
	    (it->attempted = calloc(e->nrcpt, 1)) == NULL ||
	    (it->transport = calloc(e->nrcpt, sizeof(char *))) == NULL ||
	    (it->relayed = calloc(e->nrcpt, 1)) == NULL)
		return;
	for (uint32_t i = 0; i < e->nrcpt; i++)
		it->attempted[i] = e->rcpts[i].state == QRCPT_PENDING;
	if (s->pw == NULL)
		return;
	qid_format(e->id, id);
	for (uint32_t i = 0; i < e->nrcpt; i++) {
		struct hook_result r = {0};
		struct rmx_call *call = NULL;

		if (e->rcpts[i].state != QRCPT_PENDING)
			continue;
		it->route_idx = i;
		if (plugin_run(s->pw, RMX_HOOK_ROUTE, &hs, &r, &call) == 1) {
			plugin_cancel(s->pw, call);
			r.verdict = RMX_CONTINUE;
		}
		if (r.verdict == RMX_REJECT) {
			free(e->rcpts[i].last_error);
			e->rcpts[i].last_error =
			    strdup(r.code ? r.text : "rejected by routing");
			e->rcpts[i].state = QRCPT_FAILED;
			log_event(LOG_NOTICE, "route_rejected",
			    "id=%s rcpt=<%s>", id, e->rcpts[i].addr);
		} else if (r.verdict == RMX_TEMPFAIL) {
			it->routes[i] = ROUTE_HOLD;
		} else if (r.route != NULL) {
			it->routes[i] = route_kind_of(r.route);
			if (it->routes[i] == ROUTE_REMOTE &&
			    strcmp(r.route, "mx") != 0)
				it->transport[i] = strdup(r.route);
			log_event(LOG_DEBUG, "routed",
			    "id=%s rcpt=<%s> "
			    "transport=%s",
			    id, e->rcpts[i].addr, r.route);
		}
		hook_result_clear(&r);
	}
}

/*
 * Recipients still pending when the message has been queued longer than
 * queue.lifetime fail now (and bounce): status 4.4.7 with the last error.
 */
static void
expire_recipients(struct scheduler *s, struct sched_item *it, int64_t now)
{
	struct qenvelope *e = it->env;
	unsigned lifetime = s->cfg->queue.lifetime;
	char id[QID_STR_LEN + 1];

	if (lifetime == 0 || now - e->received < (int64_t)lifetime)
		return;
	qid_format(e->id, id);
	for (uint32_t i = 0; i < e->nrcpt; i++) {
		struct qrcpt *r = &e->rcpts[i];
		char msg[700];

		if (r->state != QRCPT_PENDING)
			continue;
		snprintf(msg, sizeof(msg),
		    "451 4.4.7 message expired after %u s in the queue%s%s",
		    lifetime, r->last_error ? "; last error: " : "",
		    r->last_error ? r->last_error : "");
		free(r->last_error);
		r->last_error = strdup(msg);
		r->state = QRCPT_FAILED;
		log_event(
		    LOG_NOTICE, "expired", "id=%s rcpt=<%s>", id, r->addr);
	}
}

static void finish_attempt(
    struct scheduler *s, struct sched_item *it, int64_t now, unsigned no_route);

static void part_done(struct scheduler *s, struct sched_item *it);
static bool suspended(const struct scheduler *s, const char *domain);

/* Apply one next hop's per-recipient results to the envelope. */
static void
remote_done(void *arg, struct outbound_req *r)
{
	struct remote_group *g = arg;
	struct sched_item *it = g->it;
	struct scheduler *s = it->sched;
	struct qenvelope *e = it->env;
	char id[QID_STR_LEN + 1];

	qid_format(e->id, id);
	for (uint32_t k = 0; k < r->nrcpt; k++) {
		const struct smtp_client_status *st = &r->results[k];
		struct qrcpt *rc = &e->rcpts[g->idx[k]];
		char text[700], tq[700];

		smtp_client_status_format(st, text, sizeof(text));
		rc->attempts++;
		if (st->outcome == SC_OK) {
			rc->state = QRCPT_DELIVERED;
			free(rc->last_error);
			rc->last_error = NULL;
			it->relayed[g->idx[k]] =
			    r->lmtp ? 0 : (r->peer_dsn ? 2 : 1);
			stat_inc(ST_DELIVERED);
			log_event(LOG_INFO, "delivered",
			    "id=%s rcpt=<%s> relay=%s "
			    "reply=\"%s\" tls=%s",
			    id, rc->addr,
			    r->remote_mta[0] ? r->remote_mta : r->dest,
			    st->text, log_quote(r->tls_log, tq, sizeof(tq)));
			continue;
		}
		free(rc->last_error);
		rc->last_error = strdup(text);
		if (st->outcome == SC_PERM) {
			rc->state = QRCPT_FAILED;
			stat_inc(ST_BOUNCED);
			log_event(LOG_NOTICE, "bounced",
			    "id=%s rcpt=<%s> relay=%s "
			    "reply=\"%s\" tls=%s",
			    id, rc->addr,
			    r->remote_mta[0] ? r->remote_mta : r->dest, text,
			    log_quote(r->tls_log, tq, sizeof(tq)));
		} else {
			stat_inc(ST_DEFERRED);
			log_event(LOG_INFO, "deferred",
			    "id=%s rcpt=<%s> relay=%s "
			    "reason=\"%s\" tls=%s",
			    id, rc->addr,
			    r->remote_mta[0] ? r->remote_mta : r->dest, text,
			    log_quote(r->tls_log, tq, sizeof(tq)));
		}
	}
	part_done(s, it);
}

/* Fail (temporarily) recipients of a next hop that cannot be tried. */
static void
remote_defer(
    struct sched_item *it, const uint32_t *idx, size_t n, const char *why)
{
	char id[QID_STR_LEN + 1];

	qid_format(it->env->id, id);
	for (size_t k = 0; k < n; k++) {
		struct qrcpt *rc = &it->env->rcpts[idx[k]];
		free(rc->last_error);
		rc->last_error = strdup(why);
		rc->attempts++;
		stat_inc(ST_DEFERRED);
		log_event(LOG_INFO, "deferred", "id=%s rcpt=<%s> reason=\"%s\"",
		    id, rc->addr, why);
	}
}

static const char *
rcpt_domain(const char *addr)
{
	const char *at = strrchr(addr, '@');
	return at ? at + 1 : "";
}

static void
group_fail(struct sched_item *it, struct remote_group *g, bool permanent,
    const char *why)
{
	char id[QID_STR_LEN + 1];

	qid_format(it->env->id, id);
	for (uint32_t k = 0; k < g->req.nrcpt; k++) {
		struct qrcpt *rc = &it->env->rcpts[g->idx[k]];
		free(rc->last_error);
		rc->last_error = strdup(why);
		rc->attempts++;
		stat_inc(permanent ? ST_BOUNCED : ST_DEFERRED);
		if (permanent)
			rc->state = QRCPT_FAILED;
		log_event(permanent ? LOG_NOTICE : LOG_INFO,
		    permanent ? "bounced" : "deferred",
		    "id=%s rcpt=<%s> "
		    "reason=\"%s\"",
		    id, rc->addr, why);
	}
}

static void group_submit(
    struct scheduler *s, struct sched_item *it, struct remote_group *g);

/* The TLS step of an MX group is over: addresses with their TLS
 * demands, then connect. */
static void
mx_tls_done(void *arg, struct otls_lookup *l)
{
	struct remote_group *g = arg;
	struct sched_item *it = g->it;
	struct scheduler *s = it->sched;
	char why[700];

	if (otls_fill(l, &g->req, why, sizeof(why)) == 0) {
		group_fail(it, g, false, why);
		part_done(s, it);
		return;
	}
	group_submit(s, it, g);
}

/* The MX lookup of a group finished: the TLS step, or fail its
 * recipients. */
static void
mx_done(void *arg, struct dns_mx_result *res)
{
	struct remote_group *g = arg;
	struct sched_item *it = g->it;
	struct scheduler *s = it->sched;
	struct outbound_req *r = &g->req;
	char why[700], key[300];
	const char *enh;
	int code, pol;
	size_t kl = 0;

	g->mx = NULL;
	if (res->status != DNS_MX_OK) {
		code = dns_mx_status_reply(res->status, &enh);
		snprintf(why, sizeof(why), "%d %s %s", code, enh, res->error);
		group_fail(it, g, code >= 500, why);
		dns_mx_result_free(res);
		part_done(s, it);
		return;
	}
	/* destination = the MX host set, so domains that share MX hosts
	 * share connections and limits */
	key[0] = '\0';
	for (size_t h = 0; h < res->nhosts && kl < sizeof(key); h++) {
		int w = snprintf(key + kl, sizeof(key) - kl, "%s%s",
		    h ? "," : "mx:", res->hosts[h].name);
		kl = w < 0 ? sizeof(key) : kl + (size_t)w;
	}
	/* a domain with its own TLS policy never shares a connection
	 * made under another one */
	pol = otls_policy_for(s->cfg, res->domain);
	if (pol != s->cfg->outbound.tls)
		snprintf(r->dest, sizeof(r->dest), "%.300s/tls=%s", key,
		    config_tls_policy_name(pol));
	else
		snprintf(r->dest, sizeof(r->dest), "%s", key);
	g->otls = otls_start(s->dns, pol, res, mx_tls_done, g);
	if (g->otls == NULL) {
		group_fail(it, g, false, "451 4.3.0 out of memory");
		part_done(s, it);
		return;
	}
	if (!otls_pending(g->otls))
		mx_tls_done(g, g->otls);
}

/* Smarthost or LMTP next hop: the policy configured for its name; DANE
 * needs the MX step, so "dane" means "may" here. */
static void
static_tls(struct scheduler *s, struct outbound_req *r)
{
	for (size_t i = 0; i < r->naddrs; i++) {
		struct outbound_tls *t = &r->tls[i];
		memset(t, 0, sizeof(*t));
		if (r->addrs[i].ss_family == AF_UNIX)
			continue; /* RMX_TLS_NONE */
		t->policy = otls_policy_for(s->cfg, r->hosts[i]);
		t->why = "configured policy";
		if (t->policy == RMX_TLS_DANE) {
			t->policy = RMX_TLS_MAY;
			t->why = "DANE applies to MX delivery only";
		}
		t->dnssec = "insecure";
		snprintf(t->name, sizeof(t->name), "%s", r->hosts[i]);
	}
}

/* Connect a group whose addresses are known (MX or smarthost). */
static void
group_submit(struct scheduler *s, struct sched_item *it, struct remote_group *g)
{
	struct outbound_req *r = &g->req;

	if (r->naddrs == 0) {
		group_fail(it, g, false,
		    "451 4.4.4 no usable address for the next hop");
		part_done(s, it);
		return;
	}
	if (it->body.len == 0 && queue_shard_read_body(it->shard, it->env->id,
				     &it->body) != QUEUE_OK) {
		group_fail(it, g, false,
		    "451 4.3.0 cannot read the message from the queue");
		part_done(s, it);
		return;
	}
	r->body = it->body.data;
	r->body_len = it->body.len;
	if (g->otls == NULL)
		static_tls(s, r);
	outbound_submit(s->ob, r);
}

/* One of a smarthost name's A/AAAA answers. */
static void
host_answer(void *arg, const struct dns_result *res)
{
	struct remote_group *g = arg;
	struct sched_item *it = g->it;
	struct scheduler *s = it->sched;
	struct outbound_req *r = &g->req;
	int q = res->qtype == DNS_T_A ? 0 : 1;

	g->q[q] = 0;
	g->qleft--;
	if (res->sec == DNS_BOGUS || (res->rcode != DNS_RCODE_NOERROR &&
					 res->rcode != DNS_RCODE_NXDOMAIN))
		g->qtemp = true;
	else if (res->sec != DNS_BOGUS) {
		for (size_t i = 0;
		     i < res->naaaa && r->naddrs < OUTBOUND_MAX_ADDRS; i++) {
			struct sockaddr_in6 *s6 =
			    (struct sockaddr_in6 *)&r->addrs[r->naddrs];
			memset(s6, 0, sizeof(*s6));
			s6->sin6_family = AF_INET6;
			s6->sin6_addr = res->aaaa[i];
			s6->sin6_port = htons(g->port);
			if (!nexthop_addr_allowed(
				s->cfg, (struct sockaddr *)s6))
				continue;
			r->addrlens[r->naddrs] = sizeof(*s6);
			snprintf(r->hosts[r->naddrs++], sizeof(r->hosts[0]),
			    "%s", res->qname);
		}
		for (size_t i = 0;
		     i < res->na && r->naddrs < OUTBOUND_MAX_ADDRS; i++) {
			struct sockaddr_in *s4 =
			    (struct sockaddr_in *)&r->addrs[r->naddrs];
			memset(s4, 0, sizeof(*s4));
			s4->sin_family = AF_INET;
			s4->sin_addr = res->a[i];
			s4->sin_port = htons(g->port);
			if (!nexthop_addr_allowed(
				s->cfg, (struct sockaddr *)s4))
				continue;
			r->addrlens[r->naddrs] = sizeof(*s4);
			snprintf(r->hosts[r->naddrs++], sizeof(r->hosts[0]),
			    "%s", res->qname);
		}
	}
	if (g->qleft > 0)
		return;
	if (r->naddrs == 0 && g->qtemp) {
		group_fail(it, g, false,
		    "451 4.4.3 cannot resolve the next hop (temporary)");
		part_done(s, it);
		return;
	}
	group_submit(s, it, g);
}

/* Start outbound deliveries for the remote recipients of this attempt,
 * one request per next hop. */
static void
start_remote(struct scheduler *s, struct sched_item *it)
{
	struct qenvelope *e = it->env;
	uint8_t *done = calloc(e->nrcpt ? e->nrcpt : 1, 1);

	if (done == NULL)
		return;
	for (uint32_t i = 0; i < e->nrcpt; i++) {
		const char *t_i, *dom_i;
		struct remote_group *g;
		struct nexthop nh;
		char why[300];
		size_t n = 0;

		if (done[i] || e->rcpts[i].state != QRCPT_PENDING ||
		    it->routes[i] != ROUTE_REMOTE)
			continue;
		t_i = it->transport[i] ? it->transport[i] : "mx";
		dom_i = rcpt_domain(e->rcpts[i].addr);
		g = calloc(1, sizeof(*g));
		if (g == NULL ||
		    (g->idx = calloc(e->nrcpt, sizeof(uint32_t))) == NULL) {
			free(g);
			break;
		}
		/* everyone with the same next hop (and, for mx, domain) */
		for (uint32_t j = i; j < e->nrcpt; j++) {
			const char *t_j =
			    it->transport[j] ? it->transport[j] : "mx";
			if (done[j] || e->rcpts[j].state != QRCPT_PENDING ||
			    it->routes[j] != ROUTE_REMOTE || strcmp(t_i, t_j))
				continue;
			if (strcmp(t_i, "mx") == 0 &&
			    strcasecmp(dom_i, rcpt_domain(e->rcpts[j].addr)))
				continue;
			done[j] = 1;
			g->idx[n++] = j;
		}
		g->it = it;
		g->next = it->groups;
		it->groups = g;
		if (nexthop_parse(t_i, &nh) != 0) {
			snprintf(why, sizeof(why), "451 4.3.5 bad route \"%s\"",
			    t_i);
			remote_defer(it, g->idx, n, why);
			continue;
		}
		if (nh.kind == NH_MX && suspended(s, dom_i)) {
			snprintf(why, sizeof(why),
			    "451 4.4.5 delivery to %s is suspended by the "
			    "operator",
			    dom_i);
			remote_defer(it, g->idx, n, why);
			continue;
		}
		if (s->ob == NULL) {
			remote_defer(it, g->idx, n,
			    "451 4.4.3 outbound delivery is not available");
			it->no_route += (unsigned)n;
			continue;
		}
		g->req.naddrs = 0;
		if (nexthop_literal(
			&nh, &g->req.addrs[0], &g->req.addrlens[0])) {
			if (!nexthop_addr_allowed(
				s->cfg, (struct sockaddr *)&g->req.addrs[0])) {
				remote_defer(it, g->idx, n,
				    "451 4.4.1 refusing to connect to a "
				    "loopback, unspecified or own address");
				continue;
			}
			snprintf(g->req.hosts[0], sizeof(g->req.hosts[0]), "%s",
			    nh.unix_socket ? nh.path : nh.host);
			g->req.naddrs = 1;
		} else if (nh.kind == NH_MX && s->dns != NULL) {
			g->req.env = e;
			g->req.rcpts = g->idx;
			g->req.nrcpt = (uint32_t)n;
			g->req.lmtp = false;
			g->req.done = remote_done;
			g->req.arg = g;
			it->parts++;
			g->mx = dns_mx_resolve(
			    s->dns, dom_i, &s->mxpol, mx_done, g);
			if (g->mx == NULL) {
				/* could not start (the callback never runs
				 * from inside dns_mx_resolve) */
				bool bad = errno == EINVAL;
				group_fail(it, g, bad,
				    bad ? "550 5.1.2 invalid recipient domain"
					: "451 4.4.3 cannot start the MX "
					  "lookup");
				part_done(s, it);
			}
			continue;
		} else if (nh.kind != NH_MX && s->dns != NULL) {
			/* a smarthost or LMTP server by name: its A/AAAA
			 * records, never its MX */
			g->req.env = e;
			g->req.rcpts = g->idx;
			g->req.nrcpt = (uint32_t)n;
			g->req.lmtp = nh.kind == NH_LMTP;
			g->req.done = remote_done;
			g->req.arg = g;
			snprintf(g->req.dest, sizeof(g->req.dest), "%s", t_i);
			g->port = nh.port;
			it->parts++;
			g->q[0] =
			    dns_query(s->dns, nh.host, DNS_T_A, host_answer, g);
			g->q[1] = dns_query(
			    s->dns, nh.host, DNS_T_AAAA, host_answer, g);
			g->qleft = (g->q[0] != 0) + (g->q[1] != 0);
			if (g->qleft == 0) {
				group_fail(it, g, false,
				    "451 4.4.3 cannot start "
				    "resolving the next hop");
				part_done(s, it);
			}
			continue;
		} else {
			snprintf(why, sizeof(why),
			    "451 4.4.3 cannot resolve the next hop for %s",
			    nh.kind == NH_MX ? dom_i : nh.host);
			remote_defer(it, g->idx, n, why);
			it->no_route += (unsigned)n;
			continue;
		}
		if (it->body.len == 0 && queue_shard_read_body(it->shard, e->id,
					     &it->body) != QUEUE_OK) {
			remote_defer(it, g->idx, n,
			    "451 4.3.0 cannot read the message from the queue");
			continue;
		}
		g->req.env = e;
		g->req.rcpts = g->idx;
		g->req.nrcpt = (uint32_t)n;
		g->req.body = it->body.data;
		g->req.body_len = it->body.len;
		g->req.lmtp = nh.kind == NH_LMTP;
		snprintf(g->req.dest, sizeof(g->req.dest), "%s", t_i);
		g->req.done = remote_done;
		g->req.arg = g;
		it->parts++;
		static_tls(s, &g->req);
		outbound_submit(s->ob, &g->req);
	}
	free(done);
}

static void
start(struct scheduler *s, struct sched_item *it)
{
	struct qenvelope *e;
	bool local = false;

	route_recipients(s, it);
	expire_recipients(s, it, (int64_t)time(NULL));
	e = it->env;
	it->parts = 0;
	it->no_route = 0;
	if (pending_rcpts(e) == 0 || it->routes == NULL) {
		finish_attempt(s, it, (int64_t)time(NULL), 0);
		return;
	}
	/* the default route: local domains to Maildir, the rest remote */
	for (uint32_t i = 0; i < e->nrcpt; i++) {
		if (e->rcpts[i].state != QRCPT_PENDING)
			continue;
		if (it->routes[i] == ROUTE_DEFAULT)
			it->routes[i] =
			    local_delivery_is_local(s->cfg, e->rcpts[i].addr)
				? ROUTE_MAILDIR
				: ROUTE_REMOTE;
		local = local || it->routes[i] == ROUTE_MAILDIR ||
			it->routes[i] == ROUTE_DISCARD;
	}
	it->state = IT_DELIVERING;
	it->parts = 1; /* held while starting, so nothing finishes early */
	start_remote(s, it);
	if (local) {
		local_delivery_job_init(&it->job, s->cfg, it->shard, it->env);
		it->job.routes = it->routes;
		it->parts++;
		s->jobs++;
		offload_submit(s->off, &it->job.base);
	}
	part_done(s, it);
}

/* scheduler_pump - start what is due */
void
scheduler_pump(struct scheduler *s, int64_t now)
{
	while (s->jobs < MAX_JOBS_INFLIGHT) {
		struct sched_item *it = ready_pop(s);

		if (it == NULL) {
			if (s->nheap == 0 ||
			    s->heap[0]->env->next_attempt > now)
				break;
			it = heap_pop(s);
		}
		start(s, it);
	}
}

/* Tell DELIVERY hooks the result of each recipient just attempted
 * (informational: verdicts are ignored, a pending call is cancelled). */
static void
report_attempts(struct scheduler *s, struct sched_item *it)
{
	struct qenvelope *e = it->env;
	struct hook_subject hs = {&route_ops, it};
	char status[600];

	if (s->pw == NULL || it->attempted == NULL)
		return;
	for (uint32_t i = 0; i < e->nrcpt; i++) {
		const struct qrcpt *r = &e->rcpts[i];
		struct hook_result res = {0};
		struct rmx_call *call = NULL;

		if (!it->attempted[i] ||
		    (r->state == QRCPT_PENDING && r->last_error == NULL))
			continue; /* not attempted this time (remote, held) */
		if (r->state == QRCPT_DELIVERED)
			snprintf(status, sizeof(status), "250 2.0.0 delivered");
		else if (r->state == QRCPT_FAILED)
			snprintf(status, sizeof(status), "550 5.0.0 %s",
			    r->last_error ? r->last_error : "failed");
		else
			snprintf(status, sizeof(status), "451 4.0.0 %s",
			    r->last_error);
		it->route_idx = i;
		it->status = status;
		if (plugin_run(s->pw, RMX_HOOK_DELIVERY, &hs, &res, &call) == 1)
			plugin_cancel(s->pw, call);
		hook_result_clear(&res);
	}
	it->status = NULL;
}

static bool
has_note(const struct qenvelope *e, const char *kv)
{
	for (uint32_t i = 0; i < e->nnotes; i++)
		if (strcmp(e->notes[i], kv) == 0)
			return true;
	return false;
}

static void
add_note(struct qenvelope *e, const char *kv)
{
	char **nn = realloc(e->notes, (e->nnotes + 1) * sizeof(*nn));

	if (nn == NULL)
		return;
	e->notes = nn;
	if ((e->notes[e->nnotes] = strdup(kv)) != NULL)
		e->nnotes++;
}

/* The next hop that answered for recipient i in this attempt, as a host
 * name or an address literal, into out ("" if none). */
static void
remote_of(const struct sched_item *it, uint32_t i, char *out, size_t outsz)
{
	unsigned char tmp[16];

	out[0] = '\0';
	for (const struct remote_group *g = it->groups; g != NULL; g = g->next)
		for (uint32_t k = 0; k < g->req.nrcpt; k++) {
			const char *h = g->req.remote_mta;
			if (g->idx[k] != i || h[0] == '\0')
				continue;
			if (inet_pton(AF_INET, h, tmp) == 1)
				snprintf(out, outsz, "[%s]", h);
			else if (inet_pton(AF_INET6, h, tmp) == 1)
				snprintf(out, outsz, "[IPv6:%s]", h);
			else
				snprintf(out, outsz, "%s", h);
			return;
		}
}

/*
 * Report this attempt to the sender: recipients that failed, were
 * delivered with NOTIFY=SUCCESS, or (once, after queue.delay_warning)
 * are still delayed, as RFC 3461 NOTIFY allows.
 */
static void
send_reports(struct scheduler *s, struct sched_item *it, int64_t now)
{
	struct qenvelope *e = it->env;
	struct dsn_rcpt *list;
	char(*st)[16], (*mta)[270];
	size_t n = 0;
	bool delay_due =
	    s->cfg->queue.delay_warning > 0 &&
	    now - e->received >= (int64_t)s->cfg->queue.delay_warning &&
	    !has_note(e, "dsn.delayed=1");

	if (it->attempted == NULL || s->primary == NULL || e->nrcpt == 0)
		return;
	list = calloc(e->nrcpt, sizeof(*list));
	st = calloc(e->nrcpt, sizeof(*st));
	mta = calloc(e->nrcpt, sizeof(*mta));
	if (list == NULL || st == NULL || mta == NULL) {
		free(list);
		free(st);
		free(mta);
		return;
	}
	for (uint32_t i = 0; i < e->nrcpt; i++) {
		const struct qrcpt *r = &e->rcpts[i];
		enum dsn_action a;
		char cls;

		if (r->state == QRCPT_FAILED && it->attempted[i]) {
			a = DSN_ACTION_FAILED;
			cls = '5';
		} else if (r->state == QRCPT_DELIVERED && it->attempted[i]) {
			/* a next hop that speaks DSN reports success itself */
			if (it->relayed != NULL && it->relayed[i] == 2)
				continue;
			a = it->relayed != NULL && it->relayed[i] == 1
				? DSN_ACTION_RELAYED
				: DSN_ACTION_DELIVERED;
			cls = '2';
		} else if (r->state == QRCPT_PENDING && delay_due) {
			a = DSN_ACTION_DELAYED;
			cls = '4';
		} else {
			continue;
		}
		if (!dsn_wanted(r, a))
			continue;
		bounce_status(r->last_error, cls, st[n]);
		/* the class follows the action: an expiry fails for good
		 * with the 4.x.x code of its last temporary error */
		if (st[n][0] != cls) {
			if (a == DSN_ACTION_DELIVERED ||
			    (a == DSN_ACTION_DELAYED && st[n][0] != '4'))
				snprintf(st[n], sizeof(st[n]), "%c.0.0", cls);
			else
				st[n][0] = cls;
		}
		list[n].index = i;
		list[n].action = a;
		list[n].status = st[n];
		list[n].diagnostic =
		    a == DSN_ACTION_DELIVERED ? NULL : r->last_error;
		list[n].last_attempt = now;
		remote_of(it, i, mta[n], sizeof(mta[n]));
		list[n].remote_mta = mta[n][0] ? mta[n] : NULL;
		if (a == DSN_ACTION_DELAYED)
			list[n].will_retry_until =
			    e->received + (int64_t)s->cfg->queue.lifetime;
		n++;
	}
	if (delay_due && pending_rcpts(e) > 0)
		add_note(e, "dsn.delayed=1"); /* once; kept in the queue */
	if (n > 0 && bounce_report(s->cfg, s->qc, s->primary, it->shard, e,
			 list, n, now) == 0)
		s->commits++;
	free(list);
	free(st);
	free(mta);
}

/* The attempt is over: report, then update or remove the message. */
static void
finish_attempt(
    struct scheduler *s, struct sched_item *it, int64_t now, unsigned no_route)
{
	char id[QID_STR_LEN + 1];

	qid_format(it->env->id, id);
	report_attempts(s, it);
	send_reports(s, it, now);
	if (pending_rcpts(it->env) == 0) {
		submit_op(s, it, QOP_DELETE);
		return;
	}
	it->env->attempts++;
	it->env->next_attempt =
	    now + scheduler_backoff(it->env->attempts,
		      s->cfg->queue.retry_initial, s->cfg->queue.retry_max);
	if (no_route > 0)
		log_event(LOG_WARNING, "deferred",
		    "id=%s reason=no_route "
		    "pending=%u",
		    id, no_route);
	submit_op(s, it, QOP_UPDATE);
}

/* scheduler_job_done - the local part of an attempt is over */
void
scheduler_job_done(struct scheduler *s, struct offload_job *job)
{
	struct sched_item *it = (struct sched_item *)job;
	struct local_delivery_job *j = &it->job;
	char id[QID_STR_LEN + 1];

	s->jobs--;
	qid_format(it->env->id, id);
	stat_add(ST_DELIVERED, j->delivered);
	stat_add(ST_DEFERRED, j->failed);
	if (j->body_err != QUEUE_OK)
		log_event(LOG_ERR, "queue_read_failed", "id=%s err=%d", id,
		    j->body_err);
	part_done(s, it);
}

/* One delivery of the attempt finished; the last one ends the attempt. */
static void
part_done(struct scheduler *s, struct sched_item *it)
{
	if (--it->parts > 0)
		return;
	finish_attempt(s, it, (int64_t)time(NULL), it->no_route);
}

/* scheduler_commit_done - an update or delete is durable (or failed) */
void
scheduler_commit_done(struct scheduler *s, struct qop *op)
{
	struct sched_item *it = op->owner;
	int64_t now = (int64_t)time(NULL);

	s->commits--;
	if (op->owner_gen == BOUNCE_OWNER_TAG) {
		struct queue_shard *shard;
		struct qenvelope *env = bounce_done(op, &shard);
		if (env != NULL)
			scheduler_add(s, shard, env);
		return;
	}
	if (op->result != QUEUE_OK) {
		log_event(LOG_ERR, "queue_update_failed", "id=%016llX err=%d",
		    (unsigned long long)it->env->id, op->result);
		if (it->ctl != NULL) {
			ctl_reply(it->ctl, -1, "the queue update failed");
			it->ctl = NULL;
		}
		wait_until(s, it, now + (int64_t)s->cfg->queue.retry_initial);
		return;
	}
	if (it->ctl != NULL) {
		ctl_reply(it->ctl, 0, NULL);
		it->ctl = NULL;
	}
	if (op->kind == QOP_DELETE) {
		char id[QID_STR_LEN + 1];
		qid_format(it->env->id, id);
		log_event(LOG_INFO, "removed", "id=%s", id);
		s->count--;
		item_free(it);
		return;
	}
	it->stored_next = it->env->next_attempt;
	if (it->env->held) {
		it->state = IT_HELD;
		return;
	}
	wait_until(s, it, it->env->next_attempt);
}

/* ---- operator requests (control socket) ---- */

/* Take a waiting item out of the ready list or the heap. */
static void
unschedule(struct scheduler *s, struct sched_item *it)
{
	struct sched_item **pp;

	for (pp = &s->ready_head; *pp != NULL; pp = &(*pp)->next)
		if (*pp == it) {
			*pp = it->next;
			if (*pp == NULL)
				s->ready_tail = pp;
			return;
		}
	for (size_t i = 0; i < s->nheap; i++) {
		if (s->heap[i] != it)
			continue;
		/* move the last entry here, then restore the heap order by
		 * re-pushing what follows (small heaps: operator action) */
		s->heap[i] = s->heap[--s->nheap];
		{
			size_t n = s->nheap;
			struct sched_item **tmp =
			    n ? malloc(n * sizeof(*tmp)) : NULL;
			if (n && tmp == NULL)
				return;
			if (n)
				memcpy(tmp, s->heap, n * sizeof(*tmp));
			s->nheap = 0;
			for (size_t k = 0; k < n; k++)
				heap_push(s, tmp[k]);
			free(tmp);
		}
		return;
	}
}

static struct sched_item *
find_item(struct scheduler *s, qid_t id)
{
	for (struct sched_item *it = s->all; it != NULL; it = it->all_next)
		if (it->env->id == id)
			return it;
	return NULL;
}

static bool
has_domain(const struct qenvelope *e, const char *domain)
{
	for (uint32_t i = 0; i < e->nrcpt; i++)
		if (e->rcpts[i].state == QRCPT_PENDING &&
		    strcasecmp(rcpt_domain(e->rcpts[i].addr), domain) == 0)
			return true;
	return false;
}

/* scheduler_suspended - whether delivery to domain is suspended */
static bool
suspended(const struct scheduler *s, const char *domain)
{
	for (size_t i = 0; i < s->nsuspended; i++)
		if (strcasecmp(s->suspended[i], domain) == 0)
			return true;
	return false;
}

static int
suspend(struct scheduler *s, const char *domain, bool on)
{
	for (size_t i = 0; i < s->nsuspended; i++)
		if (strcasecmp(s->suspended[i], domain) == 0) {
			if (on)
				return 0;
			free(s->suspended[i]);
			s->suspended[i] = s->suspended[--s->nsuspended];
			/* deliver what waited for it now (in memory: the
			 * stored next attempt is only a hint at restart) */
			for (struct sched_item *it = s->all; it != NULL;
			     it = it->all_next)
				if (it->state == IT_WAITING &&
				    has_domain(it->env, domain)) {
					unschedule(s, it);
					ready_push(s, it);
				}
			return 0;
		}
	if (!on)
		return 0;
	{
		char **n =
		    realloc(s->suspended, (s->nsuspended + 1) * sizeof(*n));
		if (n == NULL)
			return -1;
		s->suspended = n;
		if ((n[s->nsuspended] = strdup(domain)) == NULL)
			return -1;
		s->nsuspended++;
	}
	return 0;
}

/* scheduler_ctl - an operator request; answered now or after the commit
 * (ctl_reply). Returns 1 (answer not sent) when the message is not this
 * worker's, so that the caller can say so. */
int
scheduler_ctl(struct scheduler *s, struct ctl_msg *m)
{
	struct sched_item *it;
	int64_t now = (int64_t)time(NULL);

	if (m->op == CTL_SUSPEND || m->op == CTL_RESUME) {
		if (suspend(s, m->domain, m->op == CTL_SUSPEND) != 0)
			ctl_reply(m, -1, "out of memory");
		else
			ctl_reply(m, 0, NULL);
		return 0;
	}
	if ((it = find_item(s, m->id)) == NULL)
		return 1;
	if (it->state == IT_DELIVERING || it->state == IT_COMMITTING ||
	    it->ctl != NULL) {
		ctl_reply(m, -1, "the message is being delivered; try again");
		return 0;
	}
	switch (m->op) {
	case CTL_HOLD:
		if (it->env->held) {
			ctl_reply(m, 0, NULL);
			return 0;
		}
		unschedule(s, it);
		it->env->held = 1;
		break;
	case CTL_RELEASE:
		if (!it->env->held) {
			ctl_reply(m, -1, "the message is not held");
			return 0;
		}
		it->env->held = 0;
		it->env->next_attempt = now;
		break;
	case CTL_RETRY:
		if (it->env->held) {
			ctl_reply(m, -1, "the message is held: release it");
			return 0;
		}
		unschedule(s, it);
		it->env->next_attempt = now;
		break;
	case CTL_DELETE:
		if (it->state == IT_WAITING)
			unschedule(s, it);
		it->ctl = m;
		log_event(LOG_NOTICE, "operator_delete", "id=%016llX",
		    (unsigned long long)it->env->id);
		submit_op(s, it, QOP_DELETE);
		return 0;
	case CTL_BOUNCE:
		if (it->state == IT_WAITING)
			unschedule(s, it);
		for (uint32_t i = 0; i < it->env->nrcpt; i++) {
			struct qrcpt *r = &it->env->rcpts[i];
			if (r->state != QRCPT_PENDING)
				continue;
			r->state = QRCPT_FAILED;
			free(r->last_error);
			r->last_error = strdup(
			    "550 5.0.0 returned to the sender by the operator");
		}
		it->env->held = 0;
		it->ctl = m;
		/* reports (DSNs) as for any failure, then the delete */
		finish_attempt(s, it, now, 0);
		return 0;
	default:
		ctl_reply(m, -1, "unknown request");
		return 0;
	}
	it->ctl = m;
	submit_op(s, it, QOP_UPDATE);
	return 0;
}

/* scheduler_set_resolver - MX lookups for remote recipients */
void
scheduler_set_resolver(struct scheduler *s, struct dns_resolver *dns)
{
	const struct rmx_config *cfg = s->cfg;

	s->dns = dns;
	memset(&s->mxpol, 0, sizeof(s->mxpol));
	s->self_names[0] = cfg->hostname;
	s->mxpol.self_names = s->self_names;
	s->mxpol.nself = 1;
	free(s->own_addrs);
	s->own_addrs = calloc(
	    cfg->nlisteners ? cfg->nlisteners : 1, sizeof(*s->own_addrs));
	if (s->own_addrs != NULL) {
		for (size_t i = 0; i < cfg->nlisteners; i++)
			s->own_addrs[i] = cfg->listeners[i].addr;
		s->mxpol.own_addrs = s->own_addrs;
		s->mxpol.nown = cfg->nlisteners;
	}
	s->mxpol.allow_loopback = cfg->outbound.allow_loopback;
}

/* scheduler_set_config - a reloaded configuration (kept valid by the
 * caller); the MX policy's own names and addresses follow it */
void
scheduler_set_config(struct scheduler *s, const struct rmx_config *cfg)
{
	s->cfg = cfg;
	if (s->dns != NULL)
		scheduler_set_resolver(s, s->dns);
}

/* scheduler_set_outbound - the SMTP/LMTP client for remote recipients */
void
scheduler_set_outbound(struct scheduler *s, struct outbound *ob)
{
	s->ob = ob;
}

/* scheduler_set_shard - where reports (DSNs) are queued */
void
scheduler_set_shard(struct scheduler *s, struct queue_shard *primary)
{
	s->primary = primary;
}

/* scheduler_set_plugins - use pw's ROUTE hook */
void
scheduler_set_plugins(struct scheduler *s, struct plugin_worker *pw)
{
	s->pw = pw;
}

/* scheduler_busy - anything in flight */
bool
scheduler_busy(const struct scheduler *s)
{
	return s->jobs > 0 || s->commits > 0;
}

/* scheduler_count - messages tracked */
uint64_t
scheduler_count(const struct scheduler *s)
{
	return s->count;
}
