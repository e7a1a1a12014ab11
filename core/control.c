/*
 * control.c - the control socket thread (see control.h and
 * docs/control-protocol.md): accept, check the peer's credentials, read
 * request lines, answer each with one JSON line. Several clients at once
 * over poll(2). While a client has more than CTL_OUT_HIGH of answers
 * unsent, its further requests wait unread (so one that does not read
 * costs neither memory nor the other clients' time); one whose output
 * still passes CTL_OUT_MAX (trace lines) is cut off; one that sends a
 * line longer than CTL_LINE_MAX gets an error and is closed.
 */
#include "control.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <json-c/json.h>

#include "buf.h"
#include "ctl_msg.h"
#include "log.h"
#include "metrics.h"
#include "queue_query.h"
#include "stats.h"

#define CTL_PROTOCOL    1
#define CTL_CLIENTS     32
#define CTL_LINE_MAX    (64 * 1024)
#define CTL_OUT_MAX     (64 * 1024 * 1024)
#define CTL_OUT_HIGH    (1024 * 1024) /* no new requests above this */
#define CTL_WAIT_MS     30000         /* a worker's answer */
#define CTL_BULK_MAX    100000
#define CTL_LIST_MAX    10000
#define CTL_SHOW_BODYMX (1024 * 1024)

struct client {
	int fd;
	struct buf in, out;
	size_t out_off;
	bool closing; /* close once out is sent */
	int trace;    /* index in traces + 1, 0 = not tracing */
};

/* Tracing: log lines matching a pattern are streamed to a client. The
 * patterns and the pending lines are SHARED with every logging thread
 * (the log tap) under tmu; the tap takes the lock only while at least
 * one trace is active (ntraces), so normal operation never locks. */
#define CTL_TRACES     4
#define CTL_TRACE_MAXQ 10000
struct trace {
	bool on;
	char text_pat[96]; /* "ip=1.2.3.4" */
	char json_pat[96]; /* "\"ip\":\"1.2.3.4\"" */
};
struct trace_line {
	int trace;
	char *line;
};

struct control {
	struct control_env env;
	char path[108];
	int lfd, efd; /* listening socket; eventfd workers answer on */
	gid_t group;
	bool have_group;
	pthread_t thread;
	atomic_bool stop;
	struct client cl[CTL_CLIENTS];
	/* reload handshake with the main thread: 0 idle, 1 asked, 3 being
	 * run by the main thread, 2 done (reload_rc and reload_msg are the
	 * main thread's from 3 until 2) */
	atomic_int reload_state;
	int reload_rc;
	char reload_msg[1024];
	/* pause state as requested (per listener of env.cfg); cfgmu
	 * guards both against control_set_config (main thread, reload) */
	bool *paused;
	pthread_mutex_t cfgmu;
	/* tracing (see struct trace) */
	atomic_int ntraces;
	pthread_mutex_t tmu;
	struct trace traces[CTL_TRACES];
	struct trace_line *tq;
	size_t ntq, dropped;
	int tfd; /* eventfd: lines are waiting */
};

static void client_send(struct client *k, json_object *o);

/* ---- helpers ---- */

static json_object *jerr(const char *code, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static json_object *
jerr(const char *code, const char *fmt, ...)
{
	json_object *o = json_object_new_object(),
		    *e = json_object_new_object();
	char msg[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	json_object_object_add(o, "v", json_object_new_int(CTL_PROTOCOL));
	json_object_object_add(o, "ok", json_object_new_boolean(0));
	json_object_object_add(e, "code", json_object_new_string(code));
	json_object_object_add(e, "message", json_object_new_string(msg));
	json_object_object_add(o, "error", e);
	return o;
}

static json_object *
jok(json_object *result)
{
	json_object *o = json_object_new_object();

	json_object_object_add(o, "v", json_object_new_int(CTL_PROTOCOL));
	json_object_object_add(o, "ok", json_object_new_boolean(1));
	json_object_object_add(
	    o, "result", result ? result : json_object_new_object());
	return o;
}

/* A string argument, or NULL (absent); *bad set if present and not a
 * string. */
static const char *
arg_str(json_object *args, const char *key, bool *bad)
{
	json_object *v;

	if (args == NULL || !json_object_object_get_ex(args, key, &v) ||
	    json_object_is_type(v, json_type_null))
		return NULL;
	if (!json_object_is_type(v, json_type_string)) {
		*bad = true;
		return NULL;
	}
	return json_object_get_string(v);
}

static int64_t
arg_int(json_object *args, const char *key, int64_t def, bool *bad)
{
	json_object *v;

	if (args == NULL || !json_object_object_get_ex(args, key, &v) ||
	    json_object_is_type(v, json_type_null))
		return def;
	if (!json_object_is_type(v, json_type_int)) {
		*bad = true;
		return def;
	}
	return json_object_get_int64(v);
}

static bool
arg_bool(json_object *args, const char *key, bool *bad)
{
	json_object *v;

	if (args == NULL || !json_object_object_get_ex(args, key, &v))
		return false;
	if (!json_object_is_type(v, json_type_boolean)) {
		*bad = true;
		return false;
	}
	return json_object_get_boolean(v);
}

static const char *
state_name(const struct qenvelope *e)
{
	if (e->held)
		return "held";
	return e->attempts > 0 ? "deferred" : "active";
}

/* ---- reads ---- */

static json_object *cmd_status_locked(struct control *c);

static json_object *
cmd_status(struct control *c)
{
	json_object *r;

	pthread_mutex_lock(&c->cfgmu);
	r = cmd_status_locked(c);
	pthread_mutex_unlock(&c->cfgmu);
	return r;
}

static json_object *
cmd_status_locked(struct control *c)
{
	const struct control_env *env = &c->env;
	json_object *r = json_object_new_object(),
		    *ls = json_object_new_array(),
		    *q = json_object_new_object();
	unsigned a = 0, d = 0, h = 0;
	uint64_t open = 0;

	json_object_object_add(
	    r, "version", json_object_new_string(RINGMX_VERSION));
	json_object_object_add(r, "pid", json_object_new_int(getpid()));
	json_object_object_add(
	    r, "hostname", json_object_new_string(env->cfg->hostname));
	json_object_object_add(r, "uptime_s",
	    json_object_new_int64((int64_t)time(NULL) - env->started));
	json_object_object_add(
	    r, "workers", json_object_new_int((int)env->nworkers));
	for (size_t i = 0; i < env->cfg->nlisteners; i++) {
		const struct rmx_listener_cfg *l = &env->cfg->listeners[i];
		static const char *const modes[] = {
		    "smtp", "submission", "submissions"};
		json_object *o = json_object_new_object();
		json_object_object_add(
		    o, "address", json_object_new_string(l->address));
		json_object_object_add(
		    o, "mode", json_object_new_string(modes[l->mode % 3]));
		json_object_object_add(
		    o, "tls", json_object_new_boolean(l->tls.ncerts > 0));
		json_object_object_add(
		    o, "paused", json_object_new_boolean(c->paused[i]));
		json_object_array_add(ls, o);
	}
	json_object_object_add(r, "listeners", ls);
	for (unsigned i = 0; i < env->nworkers; i++) {
		const struct stats *s = worker_stats(env->workers[i]);
		open += stat_get(s, ST_CONN_OPEN);
	}
	json_object_object_add(
	    r, "connections", json_object_new_int64((int64_t)open));
	for (size_t i = 0; i < env->nshards; i++) {
		unsigned sa = 0, sd = 0, sh = 0;
		if (queue_count(env->shards[i], &sa, &sd, &sh) == 0) {
			a += sa;
			d += sd;
			h += sh;
		}
	}
	json_object_object_add(q, "active", json_object_new_int64(a));
	json_object_object_add(q, "deferred", json_object_new_int64(d));
	json_object_object_add(q, "held", json_object_new_int64(h));
	json_object_object_add(
	    q, "total", json_object_new_int64((int64_t)a + d + h));
	json_object_object_add(r, "queue", q);
	return jok(r);
}

static json_object *
counters(const struct stats *s, uint64_t *total)
{
	json_object *o = json_object_new_object();

	for (int i = 0; i < ST__COUNT; i++) {
		uint64_t v = stat_get(s, (enum stat_id)i);
		if (total != NULL)
			total[i] += v;
		json_object_object_add(o, stat_name((enum stat_id)i),
		    json_object_new_int64((int64_t)v));
	}
	return o;
}

static json_object *
cmd_stats(struct control *c)
{
	json_object *r = json_object_new_object(),
		    *ws = json_object_new_array(),
		    *t = json_object_new_object();
	uint64_t total[ST__COUNT] = {0};

	for (unsigned i = 0; i < c->env.nworkers; i++)
		json_object_array_add(
		    ws, counters(worker_stats(c->env.workers[i]), total));
	for (int i = 0; i < ST__COUNT; i++)
		json_object_object_add(t, stat_name((enum stat_id)i),
		    json_object_new_int64((int64_t)total[i]));
	json_object_object_add(r, "workers", ws);
	json_object_object_add(r, "total", t);
	return jok(r);
}

static json_object *
cmd_metrics(struct control *c)
{
	struct buf b = {0};
	json_object *r = json_object_new_object();
	struct metrics_src src = {c->env.workers, c->env.nworkers,
	    c->env.shards, c->env.nshards, c->env.started, true};

	metrics_render(&src, &b);
	json_object_object_add(r, "text",
	    json_object_new_string_len(
		b.len ? (const char *)b.data : "", (int)b.len));
	buf_free(&b);
	return jok(r);
}

static json_object *
cmd_plugins(struct control *c)
{
	json_object *a = json_object_new_array();
	size_t n = c->env.plugins ? plugin_host_count(c->env.plugins) : 0;

	for (size_t i = 0; i < n; i++) {
		struct plugin_info pi;
		json_object *o = json_object_new_object(),
			    *hk = json_object_new_array();
		if (plugin_host_info(c->env.plugins, i, &pi) != 0)
			continue;
		json_object_object_add(
		    o, "name", json_object_new_string(pi.name));
		json_object_object_add(
		    o, "version", json_object_new_string(pi.version));
		json_object_object_add(
		    o, "path", json_object_new_string(pi.path));
		{
			char abi[32];
			snprintf(abi, sizeof(abi), "%u.%u", pi.abi >> 16,
			    pi.abi & 0xffff);
			json_object_object_add(
			    o, "abi", json_object_new_string(abi));
		}
		for (size_t k = 0; k < pi.nhooks; k++)
			json_object_array_add(
			    hk, json_object_new_string(pi.hooks[k]));
		json_object_object_add(o, "hooks", hk);
		json_object_array_add(a, o);
	}
	return jok(a);
}

/* The filter of a queue request; -1 with *err on a bad argument. */
static int
parse_filter(json_object *args, struct queue_filter *f, json_object **err)
{
	bool bad = false;
	const char *st;
	int64_t older;

	memset(f, 0, sizeof(*f));
	f->sender = arg_str(args, "sender", &bad);
	f->rcpt = arg_str(args, "rcpt", &bad);
	f->domain = arg_str(args, "domain", &bad);
	st = arg_str(args, "state", &bad);
	older = arg_int(args, "older_than", 0, &bad);
	if (bad) {
		*err = jerr("bad_request",
		    "filters are strings (sender, rcpt, domain, state) and "
		    "older_than is a number of seconds");
		return -1;
	}
	f->state = -1;
	if (st != NULL) {
		if (strcmp(st, "active") == 0)
			f->state = QSTATE_ACTIVE;
		else if (strcmp(st, "deferred") == 0)
			f->state = QSTATE_DEFERRED;
		else if (strcmp(st, "held") == 0)
			f->state = QSTATE_HELD;
		else {
			*err = jerr("bad_request",
			    "state \"%s\": expected active, deferred or held",
			    st);
			return -1;
		}
	}
	if (older < 0) {
		*err = jerr("bad_request", "older_than must be >= 0");
		return -1;
	}
	f->older_than = older > 0 ? (int64_t)time(NULL) - older : 0;
	return 0;
}

static json_object *
envelope_json(const struct qenvelope *e, bool full)
{
	json_object *o = json_object_new_object(),
		    *rs = json_object_new_array();
	char id[QID_STR_LEN + 1];

	qid_format(e->id, id);
	json_object_object_add(o, "id", json_object_new_string(id));
	json_object_object_add(o, "sender", json_object_new_string(e->sender));
	json_object_object_add(
	    o, "state", json_object_new_string(state_name(e)));
	json_object_object_add(
	    o, "received", json_object_new_int64(e->received));
	json_object_object_add(
	    o, "size", json_object_new_int64((int64_t)e->size));
	json_object_object_add(
	    o, "attempts", json_object_new_int64(e->attempts));
	json_object_object_add(
	    o, "next_attempt", json_object_new_int64(e->next_attempt));
	for (uint32_t i = 0; i < e->nrcpt; i++) {
		static const char *const rs_names[] = {
		    "pending", "delivered", "failed"};
		json_object *r = json_object_new_object();
		json_object_object_add(
		    r, "address", json_object_new_string(e->rcpts[i].addr));
		json_object_object_add(r, "state",
		    json_object_new_string(rs_names[e->rcpts[i].state % 3]));
		if (full) {
			json_object_object_add(r, "attempts",
			    json_object_new_int64(e->rcpts[i].attempts));
			if (e->rcpts[i].last_error != NULL)
				json_object_object_add(r, "last_error",
				    json_object_new_string(
					e->rcpts[i].last_error));
		}
		json_object_array_add(rs, r);
	}
	json_object_object_add(o, "recipients", rs);
	if (full) {
		json_object_object_add(o, "client",
		    json_object_new_string(
			e->client_addr ? e->client_addr : ""));
		json_object_object_add(
		    o, "helo", json_object_new_string(e->helo ? e->helo : ""));
	}
	return o;
}

struct list_ctx {
	json_object *arr;
	size_t n, limit;
	qid_t last;
};

static int
list_cb(void *arg, const struct qenvelope *e)
{
	struct list_ctx *lc = arg;

	json_object_array_add(lc->arr, envelope_json(e, false));
	lc->last = e->id;
	return ++lc->n >= lc->limit;
}

static json_object *
cmd_queue_list(struct control *c, json_object *args)
{
	struct queue_filter f;
	struct list_ctx lc = {0};
	json_object *err = NULL, *r;
	bool bad = false;
	int64_t limit = arg_int(args, "limit", 1000, &bad);

	if (parse_filter(args, &f, &err) != 0)
		return err;
	if (bad || limit <= 0 || limit > CTL_LIST_MAX)
		return jerr("bad_request", "limit: 1..%d", CTL_LIST_MAX);
	lc.arr = json_object_new_array();
	lc.limit = (size_t)limit;
	for (size_t i = 0; i < c->env.nshards && lc.n < lc.limit; i++)
		if (queue_query(c->env.shards[i], &f, 0, lc.limit - lc.n,
			list_cb, &lc) < 0) {
			json_object_put(lc.arr);
			return jerr("failed", "reading shard %zu failed", i);
		}
	r = json_object_new_object();
	json_object_object_add(r, "messages", lc.arr);
	json_object_object_add(
	    r, "truncated", json_object_new_boolean(lc.n >= lc.limit));
	return jok(r);
}

struct sum_row {
	char domain[256];
	unsigned a, d, h;
};
struct sum_ctx {
	struct sum_row *rows;
	size_t n, cap;
};

static int
sum_cb(void *arg, const char *domain, unsigned a, unsigned d, unsigned h)
{
	struct sum_ctx *sc = arg;

	for (size_t i = 0; i < sc->n; i++)
		if (strcasecmp(sc->rows[i].domain, domain) == 0) {
			sc->rows[i].a += a;
			sc->rows[i].d += d;
			sc->rows[i].h += h;
			return 0;
		}
	if (sc->n == sc->cap) {
		size_t nc = sc->cap ? sc->cap * 2 : 64;
		struct sum_row *nr = realloc(sc->rows, nc * sizeof(*nr));
		if (nr == NULL)
			return 1;
		sc->rows = nr;
		sc->cap = nc;
	}
	snprintf(
	    sc->rows[sc->n].domain, sizeof(sc->rows[0].domain), "%s", domain);
	sc->rows[sc->n].a = a;
	sc->rows[sc->n].d = d;
	sc->rows[sc->n].h = h;
	sc->n++;
	return 0;
}

static int
sum_cmp(const void *x, const void *y)
{
	const struct sum_row *a = x, *b = y;
	unsigned ta = a->a + a->d + a->h, tb = b->a + b->d + b->h;

	if (ta != tb)
		return ta < tb ? 1 : -1;
	return strcmp(a->domain, b->domain);
}

static json_object *
cmd_queue_summary(struct control *c)
{
	struct sum_ctx sc = {0};
	json_object *arr = json_object_new_array(), *r;

	for (size_t i = 0; i < c->env.nshards; i++)
		queue_summary(c->env.shards[i], sum_cb, &sc);
	if (sc.n > 0)
		qsort(sc.rows, sc.n, sizeof(*sc.rows), sum_cmp);
	for (size_t i = 0; i < sc.n; i++) {
		json_object *o = json_object_new_object();
		json_object_object_add(
		    o, "domain", json_object_new_string(sc.rows[i].domain));
		json_object_object_add(
		    o, "active", json_object_new_int64(sc.rows[i].a));
		json_object_object_add(
		    o, "deferred", json_object_new_int64(sc.rows[i].d));
		json_object_object_add(
		    o, "held", json_object_new_int64(sc.rows[i].h));
		json_object_array_add(arr, o);
	}
	free(sc.rows);
	r = json_object_new_object();
	json_object_object_add(r, "domains", arr);
	return jok(r);
}

/* The shard holding id, or NULL. */
static struct queue_shard *
shard_of(struct control *c, qid_t id)
{
	for (size_t i = 0; i < c->env.nshards; i++)
		if (queue_shard_number(c->env.shards[i]) == qid_shard(id))
			return c->env.shards[i];
	return NULL;
}

static json_object *
cmd_queue_show(struct control *c, json_object *args)
{
	bool bad = false, body = arg_bool(args, "body", &bad);
	const char *ids = arg_str(args, "id", &bad);
	struct queue_shard *qs;
	struct qenvelope e;
	struct buf b = {0};
	json_object *o;
	qid_t id;
	size_t hdr_end;

	if (bad || ids == NULL || qid_parse(ids, &id) != 0)
		return jerr("bad_request", "id: a queue id (16 hex digits)");
	if ((qs = shard_of(c, id)) == NULL ||
	    queue_shard_read_envelope(qs, id, &e) != QUEUE_OK)
		return jerr("not_found", "no message %s in the queue", ids);
	o = envelope_json(&e, true);
	{
		json_object *notes = json_object_new_array();
		for (uint32_t i = 0; i < e.nnotes; i++)
			json_object_array_add(
			    notes, json_object_new_string(e.notes[i]));
		json_object_object_add(o, "notes", notes);
	}
	qenvelope_free(&e);
	if (queue_shard_read_body(qs, id, &b) == QUEUE_OK) {
		const char *p = (const char *)b.data;
		const char *sep =
		    b.len ? memmem(p, b.len, "\r\n\r\n", 4) : NULL;
		hdr_end = sep ? (size_t)(sep - p) + 2 : b.len;
		json_object_object_add(o, "headers",
		    json_object_new_string_len(b.len ? p : "", (int)hdr_end));
		if (body) {
			size_t off = sep ? hdr_end + 2 : b.len;
			size_t n = b.len - off;
			if (n > CTL_SHOW_BODYMX)
				n = CTL_SHOW_BODYMX;
			json_object_object_add(o, "body",
			    json_object_new_string_len(
				n ? p + off : "", (int)n));
			json_object_object_add(o, "body_truncated",
			    json_object_new_boolean(b.len - off > n));
		}
	}
	buf_free(&b);
	return jok(o);
}

/* ---- changes (through the workers) ---- */

/* Send m to worker w and wait for its answer. 0 answered, -1 timeout
 * (then m is leaked on purpose: the worker may still write it). */
static int
ask_worker(struct control *c, unsigned w, struct ctl_msg *m)
{
	struct timespec t0, t;

	m->notify_fd = c->efd;
	atomic_store(&m->done, 0);
	worker_ctl(c->env.workers[w], m);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (;;) {
		struct pollfd p = {c->efd, POLLIN, 0};
		uint64_t v;
		long ms;
		if (atomic_load_explicit(&m->done, memory_order_acquire))
			return 0;
		clock_gettime(CLOCK_MONOTONIC, &t);
		ms = (t.tv_sec - t0.tv_sec) * 1000 +
		     (t.tv_nsec - t0.tv_nsec) / 1000000;
		if (ms >= CTL_WAIT_MS)
			return -1;
		if (poll(&p, 1, 100) > 0 && read(c->efd, &v, sizeof(v)) < 0) {
			/* spurious: check done again */
		}
	}
}

static unsigned
owner_of(const struct control *c, qid_t id)
{
	return c->env.nworkers ? qid_shard(id) % c->env.nworkers : 0;
}

static int
collect_cb(void *arg, const struct qenvelope *e)
{
	struct {
		qid_t *ids;
		size_t n, cap;
	} *v = arg;

	if (v->n == v->cap)
		return 1;
	v->ids[v->n++] = e->id;
	return 0;
}

static json_object *
cmd_queue_change(struct control *c, const char *cmd, json_object *args)
{
	static const struct {
		const char *name;
		enum ctl_op op;
	} ops[] = {{"queue.hold", CTL_HOLD}, {"queue.release", CTL_RELEASE},
	    {"queue.retry", CTL_RETRY}, {"queue.delete", CTL_DELETE},
	    {"queue.bounce", CTL_BOUNCE}};
	enum ctl_op op = 0;
	json_object *idsj = NULL, *err = NULL, *failed, *r;
	struct {
		qid_t *ids;
		size_t n, cap;
	} v = {0};
	size_t done = 0;
	bool bad = false, confirm = arg_bool(args, "confirm", &bad);

	if (bad)
		return jerr("bad_request", "confirm: true or false");
	for (size_t i = 0; i < sizeof(ops) / sizeof(ops[0]); i++)
		if (strcmp(cmd, ops[i].name) == 0)
			op = ops[i].op;
	v.cap = CTL_BULK_MAX;
	if ((v.ids = calloc(v.cap, sizeof(*v.ids))) == NULL)
		return jerr("failed", "out of memory");
	if (args != NULL && json_object_object_get_ex(args, "ids", &idsj)) {
		if (!json_object_is_type(idsj, json_type_array)) {
			free(v.ids);
			return jerr(
			    "bad_request", "ids: an array of queue ids");
		}
		for (size_t i = 0;
		     i < json_object_array_length(idsj) && v.n < v.cap; i++) {
			json_object *x = json_object_array_get_idx(idsj, i);
			qid_t id;
			if (!json_object_is_type(x, json_type_string) ||
			    qid_parse(json_object_get_string(x), &id) != 0) {
				free(v.ids);
				return jerr("bad_request",
				    "ids[%zu]: not a queue id", i);
			}
			v.ids[v.n++] = id;
		}
	} else {
		struct queue_filter f;
		if (parse_filter(args, &f, &err) != 0) {
			free(v.ids);
			return err;
		}
		if (f.sender == NULL && f.rcpt == NULL && f.domain == NULL &&
		    f.state < 0 && f.older_than == 0) {
			free(v.ids);
			return jerr(
			    "bad_request", "give ids or at least one filter");
		}
		for (size_t i = 0; i < c->env.nshards; i++)
			queue_query(c->env.shards[i], &f, 0, 0, collect_cb, &v);
		if (!confirm) {
			r = json_object_new_object();
			json_object_object_add(
			    r, "matched", json_object_new_int64((int64_t)v.n));
			json_object_object_add(
			    r, "done", json_object_new_int64(0));
			json_object_object_add(
			    r, "confirm_needed", json_object_new_boolean(1));
			free(v.ids);
			return jok(r);
		}
	}
	failed = json_object_new_array();
	for (size_t i = 0; i < v.n; i++) {
		struct ctl_msg *m = calloc(1, sizeof(*m));
		char id[QID_STR_LEN + 1];
		qid_format(v.ids[i], id);
		if (m == NULL)
			break;
		m->op = op;
		m->id = v.ids[i];
		if (c->env.nworkers == 0) {
			free(m);
			break;
		}
		if (ask_worker(c, owner_of(c, v.ids[i]), m) != 0) {
			json_object *o = json_object_new_object();
			json_object_object_add(
			    o, "id", json_object_new_string(id));
			json_object_object_add(o, "error",
			    json_object_new_string(
				"no answer from the worker"));
			json_object_array_add(failed, o);
			continue; /* m stays with the worker */
		}
		if (m->status == 0) {
			done++;
		} else {
			json_object *o = json_object_new_object();
			json_object_object_add(
			    o, "id", json_object_new_string(id));
			json_object_object_add(o, "error",
			    json_object_new_string(
				m->status == 1
				    ? "not in the queue (or delivered "
				      "meanwhile)"
				    : m->err));
			json_object_array_add(failed, o);
		}
		free(m);
	}
	r = json_object_new_object();
	json_object_object_add(
	    r, "matched", json_object_new_int64((int64_t)v.n));
	json_object_object_add(r, "done", json_object_new_int64((int64_t)done));
	json_object_object_add(r, "failed", failed);
	free(v.ids);
	return jok(r);
}

static json_object *
cmd_domain(struct control *c, bool on, json_object *args)
{
	bool bad = false;
	const char *d = arg_str(args, "domain", &bad);
	struct ctl_msg *m;

	if (bad || d == NULL || d[0] == '\0' || strlen(d) > 253)
		return jerr("bad_request", "domain: a domain name");
	for (unsigned w = 0; w < c->env.nworkers; w++) {
		if ((m = calloc(1, sizeof(*m))) == NULL)
			return jerr("failed", "out of memory");
		m->op = on ? CTL_SUSPEND : CTL_RESUME;
		snprintf(m->domain, sizeof(m->domain), "%s", d);
		for (char *p = m->domain; *p; p++)
			if (*p >= 'A' && *p <= 'Z')
				*p = (char)(*p + 32);
		if (ask_worker(c, w, m) != 0)
			return jerr("failed", "worker %u did not answer", w);
		if (m->status != 0) {
			json_object *e =
			    jerr("failed", "worker %u: %s", w, m->err);
			free(m);
			return e;
		}
		free(m);
	}
	log_event(LOG_NOTICE, on ? "domain_suspended" : "domain_resumed",
	    "domain=%s", d);
	return jok(NULL);
}

static json_object *cmd_pause_locked(
    struct control *c, bool on, json_object *args);

static json_object *
cmd_pause(struct control *c, bool on, json_object *args)
{
	json_object *r;

	pthread_mutex_lock(&c->cfgmu);
	r = cmd_pause_locked(c, on, args);
	pthread_mutex_unlock(&c->cfgmu);
	return r;
}

static json_object *
cmd_pause_locked(struct control *c, bool on, json_object *args)
{
	bool bad = false;
	const char *addr = arg_str(args, "listener", &bad);
	int li = -1;
	json_object *arr = json_object_new_array();

	if (bad) {
		json_object_put(arr);
		return jerr("bad_request", "listener: an address string");
	}
	if (addr != NULL) {
		for (size_t i = 0; i < c->env.cfg->nlisteners; i++)
			if (strcmp(c->env.cfg->listeners[i].address, addr) == 0)
				li = (int)i;
		if (li < 0) {
			json_object_put(arr);
			return jerr("not_found", "no listener %s", addr);
		}
	}
	for (unsigned w = 0; w < c->env.nworkers; w++) {
		struct ctl_msg *m = calloc(1, sizeof(*m));
		if (m == NULL) {
			json_object_put(arr);
			return jerr("failed", "out of memory");
		}
		m->op = on ? CTL_PAUSE : CTL_UNPAUSE;
		m->li = li;
		if (ask_worker(c, w, m) != 0) {
			json_object_put(arr);
			return jerr("failed", "worker %u did not answer", w);
		}
		free(m);
	}
	for (size_t i = 0; i < c->env.cfg->nlisteners; i++)
		if (li < 0 || (size_t)li == i) {
			c->paused[i] = on;
			json_object_array_add(
			    arr, json_object_new_string(
				     c->env.cfg->listeners[i].address));
		}
	return jok(arr);
}

static json_object *
cmd_reload(struct control *c)
{
	struct timespec ts = {0, 20 * 1000 * 1000};
	int expected = 0;

	if (c->env.workers == NULL) /* fuzzing: no main thread */
		return jerr("failed", "no main thread here");
	if (!atomic_compare_exchange_strong(&c->reload_state, &expected, 1)) {
		/* 2: the result of a reload whose asker gave up (below);
		 * nobody waits for it any more */
		expected = 2;
		if (!atomic_compare_exchange_strong(
			&c->reload_state, &expected, 1))
			return jerr("busy", "a reload is already running");
	}
	for (int i = 0; i < 3000; i++) { /* 60 s */
		if (atomic_load(&c->reload_state) == 2)
			break;
		nanosleep(&ts, NULL);
	}
	if (atomic_load(&c->reload_state) != 2) {
		/* withdraw the request if the main thread has not taken it;
		 * if it is running it (3), it ends in 2, which the next
		 * reload takes over: never stuck in "busy" */
		expected = 1;
		if (atomic_compare_exchange_strong(
			&c->reload_state, &expected, 0))
			return jerr(
			    "failed", "the main thread did not run the reload");
		return jerr("failed",
		    "the reload is still running after 60 s; its result "
		    "will be logged");
	}
	{
		json_object *r =
		    c->reload_rc == 0
			? jok(json_object_new_string(c->reload_msg))
			: jerr("reload_failed", "%s", c->reload_msg);
		atomic_store(&c->reload_state, 0);
		return r;
	}
}

/* ---- tracing ---- */

/* pat occurs in line as a whole key=value (or "key":"value"). */
static bool
line_has(const char *line, size_t len, const char *pat)
{
	size_t pl = strlen(pat);
	const char *p = line, *end = line + len;

	while ((p = memmem(p, (size_t)(end - p), pat, pl)) != NULL) {
		char before = p == line ? ' ' : p[-1];
		char after = p + pl < end ? p[pl] : '\n';
		if ((before == ' ' || before == '{' || before == ',') &&
		    (after == ' ' || after == '\n' || after == ',' ||
			after == '}'))
			return true;
		p++;
	}
	return false;
}

/* The log tap: runs on whatever thread logs. */
static void
trace_tap(void *arg, const char *line, size_t len)
{
	struct control *c = arg;
	bool woke = false;

	if (atomic_load_explicit(&c->ntraces, memory_order_relaxed) == 0)
		return;
	pthread_mutex_lock(&c->tmu);
	for (int i = 0; i < CTL_TRACES; i++) {
		const struct trace *t = &c->traces[i];
		char *copy;
		if (!t->on || (!line_has(line, len, t->text_pat) &&
				  !line_has(line, len, t->json_pat)))
			continue;
		if (c->ntq >= CTL_TRACE_MAXQ ||
		    (copy = strndup(line, len)) == NULL) {
			c->dropped++;
			continue;
		}
		if (c->ntq % 64 == 0) {
			struct trace_line *n =
			    realloc(c->tq, (c->ntq + 64) * sizeof(*n));
			if (n == NULL) {
				free(copy);
				c->dropped++;
				continue;
			}
			c->tq = n;
		}
		c->tq[c->ntq].trace = i;
		c->tq[c->ntq++].line = copy;
		woke = true;
	}
	pthread_mutex_unlock(&c->tmu);
	if (woke) {
		uint64_t one = 1;
		if (write(c->tfd, &one, sizeof(one)) < 0) {
			/* saturated: the control thread is awake anyway */
		}
	}
}

static void
trace_stop(struct control *c, struct client *k)
{
	if (k->trace == 0)
		return;
	pthread_mutex_lock(&c->tmu);
	c->traces[k->trace - 1].on = false;
	pthread_mutex_unlock(&c->tmu);
	atomic_fetch_sub(&c->ntraces, 1);
	k->trace = 0;
}

static json_object *
cmd_trace(struct control *c, struct client *k, json_object *args)
{
	bool bad = false;
	const char *ip = arg_str(args, "ip", &bad),
		   *id = arg_str(args, "id", &bad);
	const char *key = ip ? "ip" : "id", *val = ip ? ip : id;
	int slot = -1;

	if (bad || (ip == NULL) == (id == NULL) || strlen(val) > 64 ||
	    strpbrk(val, " \"=\\") != NULL || val[0] == '\0')
		return jerr(
		    "bad_request", "trace: give ip or id (one of them)");
	if (k == NULL || k->trace != 0)
		return jerr("bad_request", "this connection already traces");
	pthread_mutex_lock(&c->tmu);
	for (int i = 0; i < CTL_TRACES && slot < 0; i++)
		if (!c->traces[i].on)
			slot = i;
	if (slot >= 0) {
		struct trace *t = &c->traces[slot];
		snprintf(t->text_pat, sizeof(t->text_pat), "%s=%s", key, val);
		snprintf(t->json_pat, sizeof(t->json_pat), "\"%s\":\"%s\"", key,
		    val);
		t->on = true;
	}
	pthread_mutex_unlock(&c->tmu);
	if (slot < 0)
		return jerr("busy", "at most %d traces at once", CTL_TRACES);
	k->trace = slot + 1;
	atomic_fetch_add(&c->ntraces, 1);
	{
		json_object *r = json_object_new_object();
		json_object_object_add(r, key, json_object_new_string(val));
		json_object_object_add(
		    r, "streaming", json_object_new_boolean(1));
		return jok(r);
	}
}

/* Hand waiting trace lines to their clients. */
static void
trace_drain(struct control *c)
{
	struct trace_line *q;
	size_t n, dropped;
	uint64_t v;

	if (read(c->tfd, &v, sizeof(v)) < 0) {
		/* nothing to read: drain anyway */
	}
	pthread_mutex_lock(&c->tmu);
	q = c->tq;
	n = c->ntq;
	dropped = c->dropped;
	c->tq = NULL;
	c->ntq = c->dropped = 0;
	pthread_mutex_unlock(&c->tmu);
	for (size_t i = 0; i < n; i++) {
		for (int j = 0; j < CTL_CLIENTS; j++) {
			struct client *k = &c->cl[j];
			json_object *o;
			size_t l;
			if (k->fd < 0 || k->trace != q[i].trace + 1)
				continue;
			o = json_object_new_object();
			l = strlen(q[i].line);
			while (l > 0 && q[i].line[l - 1] == '\n')
				l--;
			json_object_object_add(
			    o, "v", json_object_new_int(CTL_PROTOCOL));
			json_object_object_add(o, "trace",
			    json_object_new_string_len(q[i].line, (int)l));
			client_send(k, o);
		}
		free(q[i].line);
	}
	free(q);
	if (dropped > 0)
		log_event(LOG_WARNING, "trace_dropped", "lines=%zu", dropped);
}

/* ---- dispatch ---- */

static json_object *
dispatch(struct control *c, struct client *k, const char *line, size_t len)
{
	struct json_tokener *tok = json_tokener_new_ex(16);
	json_object *req, *v, *args = NULL, *res;
	const char *cmd;

	if (tok == NULL)
		return jerr("failed", "out of memory");
	req = json_tokener_parse_ex(tok, line, (int)len);
	if (req != NULL &&
	    json_tokener_get_error(tok) == json_tokener_success) {
		/* one object and nothing after it but blanks (a second
		 * object on the line would be dropped unanswered) */
		size_t end = json_tokener_get_parse_end(tok);
		while (end < len && (line[end] == ' ' || line[end] == '\t' ||
					line[end] == '\r'))
			end++;
		if (end != len) {
			json_object_put(req);
			req = NULL;
		}
	}
	if (req == NULL ||
	    json_tokener_get_error(tok) != json_tokener_success ||
	    !json_object_is_type(req, json_type_object)) {
		json_tokener_free(tok);
		json_object_put(req);
		return jerr(
		    "bad_json", "a request is one JSON object on one line");
	}
	json_tokener_free(tok);
	if (json_object_object_get_ex(req, "v", &v) &&
	    (!json_object_is_type(v, json_type_int) ||
		json_object_get_int(v) != CTL_PROTOCOL)) {
		json_object_put(req);
		return jerr("bad_version", "protocol version %d is spoken here",
		    CTL_PROTOCOL);
	}
	if (!json_object_object_get_ex(req, "cmd", &v) ||
	    !json_object_is_type(v, json_type_string)) {
		json_object_put(req);
		return jerr("bad_request", "cmd: a string is required");
	}
	cmd = json_object_get_string(v);
	if (json_object_object_get_ex(req, "args", &args) &&
	    !json_object_is_type(args, json_type_object)) {
		json_object_put(req);
		return jerr("bad_request", "args: an object");
	}
	if (strcmp(cmd, "status") == 0)
		res = cmd_status(c);
	else if (strcmp(cmd, "stats") == 0)
		res = cmd_stats(c);
	else if (strcmp(cmd, "metrics") == 0)
		res = cmd_metrics(c);
	else if (strcmp(cmd, "plugins") == 0)
		res = cmd_plugins(c);
	else if (strcmp(cmd, "queue.list") == 0)
		res = cmd_queue_list(c, args);
	else if (strcmp(cmd, "queue.summary") == 0)
		res = cmd_queue_summary(c);
	else if (strcmp(cmd, "queue.show") == 0)
		res = cmd_queue_show(c, args);
	else if (strncmp(cmd, "queue.", 6) == 0 &&
		 (strcmp(cmd + 6, "hold") == 0 ||
		     strcmp(cmd + 6, "release") == 0 ||
		     strcmp(cmd + 6, "retry") == 0 ||
		     strcmp(cmd + 6, "delete") == 0 ||
		     strcmp(cmd + 6, "bounce") == 0))
		res = cmd_queue_change(c, cmd, args);
	else if (strcmp(cmd, "suspend") == 0 || strcmp(cmd, "resume") == 0)
		res = cmd_domain(c, cmd[0] == 's', args);
	else if (strcmp(cmd, "pause") == 0 || strcmp(cmd, "unpause") == 0)
		res = cmd_pause(c, cmd[0] == 'p', args);
	else if (strcmp(cmd, "reload") == 0)
		res = cmd_reload(c);
	else if (strcmp(cmd, "trace") == 0)
		res = cmd_trace(c, k, args);
	else
		res = jerr("unknown_command", "unknown command \"%.64s\"", cmd);
	json_object_put(req);
	return res;
}

/* ---- the socket ---- */

static bool
peer_allowed(struct control *c, int fd, struct ucred *uc)
{
	socklen_t l = sizeof(*uc);

	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, uc, &l) != 0)
		return false;
	return uc->uid == 0 || uc->uid == geteuid() ||
	       (c->have_group && uc->gid == c->group);
}

static void
client_close(struct control *c, struct client *k)
{
	trace_stop(c, k);
	close(k->fd);
	k->fd = -1;
	buf_free(&k->in);
	buf_free(&k->out);
	k->out_off = 0;
	k->closing = false;
}

static void
client_send(struct client *k, json_object *o)
{
	size_t n;
	const char *s = json_object_to_json_string_length(
	    o, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE, &n);

	if (k->out.len - k->out_off + n + 1 > CTL_OUT_MAX) {
		/* not reading its answers: cut it off now (waiting for the
		 * output to drain would keep its slot and the memory for as
		 * long as it does not read) */
		buf_reset(&k->out);
		k->out_off = 0;
		k->closing = true;
	} else if (buf_append(&k->out, s, n) != 0 ||
		   buf_append(&k->out, "\n", 1) != 0)
		k->closing = true;
	json_object_put(o);
}

static bool
client_backlogged(const struct client *k)
{
	return k->out.len - k->out_off >= CTL_OUT_HIGH;
}

/* A complete request line is waiting for its answer. */
static bool
client_waiting(const struct client *k)
{
	return k->in.len > 0 && memchr(k->in.data, '\n', k->in.len) != NULL;
}

/* Answer the complete request lines read so far, until the client has
 * enough unsent answers. */
static void
client_dispatch(struct control *c, struct client *k)
{
	char *nl;

	while (!k->closing && !client_backlogged(k) && k->in.len > 0 &&
	       (nl = memchr(k->in.data, '\n', k->in.len)) != NULL) {
		size_t len = (size_t)(nl - (char *)k->in.data);
		if (len > 0)
			client_send(
			    k, dispatch(c, k, (const char *)k->in.data, len));
		buf_consume(&k->in, len + 1);
	}
}

static void
client_input(struct control *c, struct client *k)
{
	char tmp[16384];
	ssize_t n = read(k->fd, tmp, sizeof(tmp));
	char *nl;

	if (n <= 0) {
		if (n == 0 || (errno != EAGAIN && errno != EINTR))
			k->closing = true;
		return;
	}
	if (buf_append(&k->in, tmp, (size_t)n) != 0) {
		k->closing = true;
		return;
	}
	client_dispatch(c, k);
	/* the first line not answered yet (a waiting one or a part) */
	nl = k->in.len ? memchr(k->in.data, '\n', k->in.len) : NULL;
	if ((nl ? (size_t)(nl - (char *)k->in.data) : k->in.len) >
	    CTL_LINE_MAX) {
		client_send(
		    k, jerr("line_too_long",
			   "a request line is at most %d bytes", CTL_LINE_MAX));
		k->closing = true;
		buf_reset(&k->in);
	}
}

static void
client_output(struct client *k)
{
	ssize_t n =
	    write(k->fd, k->out.data + k->out_off, k->out.len - k->out_off);

	if (n < 0) {
		if (errno != EAGAIN && errno != EINTR) {
			k->closing = true;
			buf_reset(&k->out);
			k->out_off = 0;
		}
		return;
	}
	k->out_off += (size_t)n;
	if (k->out_off == k->out.len) {
		buf_reset(&k->out);
		k->out_off = 0;
	}
}

/* One waiting connection: false when there is none. */
static bool
accept_one(struct control *c)
{
	int fd = accept4(c->lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
	struct ucred uc;

	if (fd < 0)
		return false;
	if (!peer_allowed(c, fd, &uc)) {
		static const char denied[] =
		    "{\"v\":1,\"ok\":false,\"error\":{\"code\":\"denied\","
		    "\"message\":\"permission denied\"}}\n";
		log_event(LOG_WARNING, "control_denied", "uid=%u gid=%u pid=%d",
		    (unsigned)uc.uid, (unsigned)uc.gid, (int)uc.pid);
		if (write(fd, denied, sizeof(denied) - 1) < 0) {
			/* it goes away anyway */
		}
		close(fd);
		return true;
	}
	for (int i = 0; i < CTL_CLIENTS; i++)
		if (c->cl[i].fd < 0) {
			c->cl[i].fd = fd;
			return true;
		}
	{ /* too many control clients at once: say so, not just close */
		static const char busy[] =
		    "{\"v\":1,\"ok\":false,\"error\":{\"code\":\"busy\","
		    "\"message\":\"too many control connections\"}}\n";
		if (write(fd, busy, sizeof(busy) - 1) < 0) {
			/* it goes away anyway */
		}
	}
	close(fd);
	return true;
}

static void *
control_main(void *arg)
{
	struct control *c = arg;

	while (!atomic_load(&c->stop)) {
		struct pollfd p[CTL_CLIENTS + 2];
		int idx[CTL_CLIENTS + 2], n = 0;

		p[n].fd = c->lfd;
		p[n].events = POLLIN;
		idx[n++] = -1;
		p[n].fd = c->tfd;
		p[n].events = POLLIN;
		idx[n++] = -2;
		for (int i = 0; i < CTL_CLIENTS; i++) {
			struct client *k = &c->cl[i];
			if (k->fd < 0)
				continue;
			if (!k->closing && !client_backlogged(k))
				client_dispatch(c, k); /* what waited */
			if (k->closing && k->out.len == k->out_off) {
				client_close(c, k);
				continue;
			}
			p[n].fd = k->fd;
			/* read more only when the lines read are answered */
			p[n].events = (k->closing || client_backlogged(k) ||
						  client_waiting(k)
					      ? 0
					      : POLLIN) |
				      (k->out.len > k->out_off ? POLLOUT : 0);
			idx[n++] = i;
		}
		if (poll(p, (nfds_t)n, 200) <= 0)
			continue;
		for (int j = 0; j < n; j++) {
			if (p[j].revents == 0)
				continue;
			if (idx[j] == -2) {
				trace_drain(c);
				continue;
			}
			if (idx[j] < 0) {
				/* all that wait (the backlog is short) */
				for (int a = 0; a < 64 && accept_one(c); a++)
					;
				continue;
			}
			struct client *k = &c->cl[idx[j]];
			if (p[j].revents & (POLLERR | POLLNVAL)) {
				client_close(c, k);
				continue;
			}
			if (p[j].revents & POLLOUT)
				client_output(k);
			if (p[j].revents & (POLLIN | POLLHUP))
				client_input(c, k);
		}
	}
	return NULL;
}

/* Is something answering on path? (a running daemon) */
static bool
socket_alive(const char *path)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	bool alive;

	if (fd < 0)
		return false;
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
	alive = connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0;
	close(fd);
	return alive;
}

struct control *
control_start(const struct control_env *env, char *err, size_t errlen)
{
	struct control *c = calloc(1, sizeof(*c));
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	const char *path = env->cfg->control_socket;
	char def[4096];
	mode_t mode = 0600;

	if (c == NULL || (c->paused = calloc(env->cfg->nlisteners + 1,
			      sizeof(bool))) == NULL) {
		free(c);
		snprintf(err, errlen, "control: out of memory");
		return NULL;
	}
	c->env = *env;
	c->lfd = c->efd = c->tfd = -1;
	pthread_mutex_init(&c->tmu, NULL);
	pthread_mutex_init(&c->cfgmu, NULL);
	for (int i = 0; i < CTL_CLIENTS; i++)
		c->cl[i].fd = -1;
	if (path == NULL) {
		snprintf(
		    def, sizeof(def), "%s/control.sock", env->cfg->state_dir);
		path = def;
	}
	if (strlen(path) >= sizeof(c->path)) {
		snprintf(err, errlen,
		    "control socket path %s is longer than %zu bytes (set "
		    "control_socket)",
		    path, sizeof(c->path) - 1);
		goto fail;
	}
	memcpy(c->path, path, strlen(path) + 1);
	if (env->cfg->control_group != NULL) {
		struct group *g = getgrnam(env->cfg->control_group);
		if (g == NULL) {
			snprintf(err, errlen, "control_group %s: no such group",
			    env->cfg->control_group);
			goto fail;
		}
		c->group = g->gr_gid;
		c->have_group = true;
		mode = 0660;
	}
	if (socket_alive(c->path)) {
		snprintf(err, errlen,
		    "control socket %s: another ringmx answers there", c->path);
		goto fail;
	}
	unlink(c->path); /* a stale one from a crash */
	c->lfd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	c->efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	c->tfd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	memcpy(sa.sun_path, c->path, strlen(c->path) + 1);
	if (c->lfd < 0 || c->efd < 0 || c->tfd < 0 ||
	    bind(c->lfd, (struct sockaddr *)&sa, sizeof(sa)) != 0 ||
	    chmod(c->path, mode) != 0 ||
	    (c->have_group && chown(c->path, (uid_t)-1, c->group) != 0) ||
	    listen(c->lfd, 16) != 0) {
		snprintf(err, errlen, "control socket %s: %s", c->path,
		    strerror(errno));
		goto fail;
	}
	if (pthread_create(&c->thread, NULL, control_main, c) != 0) {
		snprintf(err, errlen, "control: cannot start the thread");
		unlink(c->path);
		goto fail;
	}
	pthread_setname_np(c->thread, "ringmx-control");
	log_set_tap(trace_tap, c);
	log_event(LOG_INFO, "control_listening", "path=%s mode=%04o", c->path,
	    (unsigned)mode);
	return c;
fail:
	if (c->lfd >= 0)
		close(c->lfd);
	if (c->efd >= 0)
		close(c->efd);
	if (c->tfd >= 0)
		close(c->tfd);
	free(c->paused);
	free(c);
	return NULL;
}

void
control_stop(struct control *c)
{
	int asked = 1;

	if (c == NULL)
		return;
	/* no new trace lines; a thread inside the tap still finds c valid:
	 * c is freed only by control_free, after the workers are gone */
	log_set_tap(NULL, NULL);
	atomic_store(&c->stop, true);
	/* a reload request waiting for the main thread: refuse it */
	if (atomic_compare_exchange_strong(&c->reload_state, &asked, 3)) {
		c->reload_rc = -1;
		snprintf(c->reload_msg, sizeof(c->reload_msg),
		    "the server is stopping");
		atomic_store(&c->reload_state, 2);
	}
	pthread_join(c->thread, NULL);
	for (int i = 0; i < CTL_CLIENTS; i++)
		if (c->cl[i].fd >= 0)
			client_close(c, &c->cl[i]);
	close(c->lfd);
	unlink(c->path);
}

void
control_free(struct control *c)
{
	if (c == NULL)
		return;
	close(c->efd);
	close(c->tfd);
	for (size_t i = 0; i < c->ntq; i++)
		free(c->tq[i].line);
	free(c->tq);
	pthread_mutex_destroy(&c->tmu);
	pthread_mutex_destroy(&c->cfgmu);
	free(c->paused);
	free(c);
}

#ifdef RINGMX_TESTING
/* control_test_request - the answer line to one request line, with no
 * worker, shard or thread behind it (fuzzing). Caller frees. */
char *
control_test_request(const struct rmx_config *cfg, const char *line, size_t len)
{
	struct control c;
	struct client k;
	json_object *o;
	char *out;

	memset(&c, 0, sizeof(c));
	memset(&k, 0, sizeof(k));
	k.fd = -1;
	c.env.cfg = cfg;
	c.lfd = c.efd = c.tfd = -1;
	for (int i = 0; i < CTL_CLIENTS; i++)
		c.cl[i].fd = -1;
	pthread_mutex_init(&c.tmu, NULL);
	pthread_mutex_init(&c.cfgmu, NULL);
	c.paused = calloc(cfg->nlisteners + 1, sizeof(bool));
	o = dispatch(&c, &k, line, len);
	out = strdup(json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN));
	json_object_put(o);
	if (k.trace)
		atomic_fetch_sub(&c.ntraces, 1);
	pthread_mutex_destroy(&c.tmu);
	pthread_mutex_destroy(&c.cfgmu);
	free(c.paused);
	return out;
}
#endif

/* control_set_config - a reloaded configuration (main thread) */
void
control_set_config(struct control *c, const struct rmx_config *ncfg)
{
	bool *np;

	if (c == NULL)
		return;
	np = calloc(ncfg->nlisteners + 1, sizeof(bool));
	pthread_mutex_lock(&c->cfgmu);
	if (np != NULL) {
		for (size_t i = 0; i < ncfg->nlisteners; i++)
			for (size_t j = 0; j < c->env.cfg->nlisteners; j++)
				if (strcmp(ncfg->listeners[i].address,
					c->env.cfg->listeners[j].address) == 0)
					np[i] = c->paused[j];
		free(c->paused);
		c->paused = np;
		c->env.cfg = ncfg;
	}
	pthread_mutex_unlock(&c->cfgmu);
}

void
control_main_poll(struct control *c, control_reload_fn *fn, void *arg)
{
	int expected = 1;

	if (c == NULL ||
	    !atomic_compare_exchange_strong(&c->reload_state, &expected, 3))
		return;
	c->reload_rc = fn(arg, c->reload_msg, sizeof(c->reload_msg));
	atomic_store(&c->reload_state, 2);
}

const char *
control_path(const struct control *c)
{
	return c ? c->path : "";
}
