/*
 * spf.c - the spf plugin: SPF (RFC 7208) checks of the MAIL FROM identity
 * (or of the HELO name for the null sender) on the MAIL hook, results as
 * per-message notes (spf.result, spf.identity, spf.domain, spf.reason and
 * the Authentication-Results resinfo ar.spf), and the policy on the RCPT
 * hook (reject_fail, reject_softfail, temperror, permerror).
 *
 * The MAIL hook runs the evaluator (spf_eval.c) with answers from
 * host->dns_query: it answers RMX_PENDING while a query is out and
 * completes the call (RMX_CONTINUE) from the DNS callback when the
 * evaluation is done, or from the timer_add deadline (timeout_ms) with
 * temperror. The last result of a session is cached in its session data,
 * keyed by (client address, checked sender): a reused connection that
 * sends the same sender again costs no query.
 *
 * Memory. A job (malloc'ed, on its worker's list) owns the evaluator. The
 * DNS callbacks and the timer get a small handle from call_alloc that
 * points to the job: it stays valid as long as the call, and its pointer
 * is cleared when the job ends (done, cancel), so a late timer finds
 * nothing to do. worker_fini frees jobs left on the list.
 *
 * Not here: the SPF engine (spf_record.c, spf_macro.c, spf_eval.c), the
 * Authentication-Results field (the host writes it from the ar.* notes).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "ringmx/plugin.h"

#include "dns_answer.h"
#include "spf_eval.h"

#define SPF_NAME        "spf"
#define DEFAULT_EXP     "see https://www.rfc-editor.org/rfc/rfc7208"
#define TIMEOUT_DEFAULT 20000
#define TIMEOUT_MAX     600000
#define TEXT_MAX        400 /* longest explanation in a reply */

/* The settings, immutable once built. Ownership: strings are the conf's;
 * the conf is shared by reference count (plugin, hooks in progress). */
struct spf_conf {
	atomic_uint refs;
	bool reject_fail, reject_softfail, temperror_tempfail;
	bool permerror_reject, skip_relay;
	unsigned timeout_ms;
	char *explanation;
	char *receiver;
};

struct spf_plugin {
	const struct rmx_host_api *host;
	pthread_mutex_t lock; /* guards conf (the pointer) */
	struct spf_conf *conf;
};

struct spf_job;

/* Per-worker state. Ownership: jobs on the list are the worker's. */
struct spf_worker {
	struct spf_plugin *plugin;
	struct spf_job *jobs;
};

/* What the DNS callbacks and the timer get (call_alloc memory). */
struct spf_handle {
	struct spf_job *job; /* NULL once the job ended */
};

/* The session's last result. Ownership: the session's (session_set). */
struct spf_sess {
	bool cached; /* key and result below hold a finished check */
	char key_ip[INET6_ADDRSTRLEN];
	char key_sender[600];
	char key_helo[DA_NAME_MAX + 2];
	enum spf_result result;
	char identity[16];
	char domain[DA_NAME_MAX + 2];
	char sender[600];
	char explanation[SPF_EXP_MAX];
	char reason[256];
	bool current; /* this transaction was checked (RCPT policy) */
};

/* One evaluation in progress. Ownership: the worker's (jobs list); ev is
 * the job's; conf is a reference. */
struct spf_job {
	struct spf_job *next, *prev;
	struct spf_worker *w;
	struct rmx_call *call;
	struct spf_handle *h;
	struct spf_eval *ev;
	struct spf_sess *sess;
	struct spf_query q;
	char ip[INET6_ADDRSTRLEN];
	char sender[600];
	char helo[DA_NAME_MAX + 2];
};

/* ------------------------------------------------------ configuration */

static struct spf_conf *
conf_ref(struct spf_conf *c)
{
	atomic_fetch_add(&c->refs, 1);
	return c;
}

static void
conf_unref(struct spf_conf *c)
{
	if (c == NULL || atomic_fetch_sub(&c->refs, 1) != 1)
		return;
	free(c->explanation);
	free(c->receiver);
	free(c);
}

static int cfg_fail(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int
cfg_fail(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;
	int n = snprintf(err, errlen, "%s: ", SPF_NAME);

	if (n < 0 || (size_t)n >= errlen)
		return -1;
	va_start(ap, fmt);
	vsnprintf(err + n, errlen - (size_t)n, fmt, ap);
	va_end(ap);
	return -1;
}

static int
parse_bool(const char *v, bool *out)
{
	static const char *const yes[] = {"true", "yes", "on", "1"};
	static const char *const no[] = {"false", "no", "off", "0"};

	for (size_t i = 0; i < 4; i++) {
		if (strcasecmp(v, yes[i]) == 0) {
			*out = true;
			return 0;
		}
		if (strcasecmp(v, no[i]) == 0) {
			*out = false;
			return 0;
		}
	}
	return -1;
}

/* One line of printable ASCII, at most max octets. */
static bool
text_ok(const char *v, size_t max)
{
	size_t n = strlen(v);

	if (n > max)
		return false;
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)v[i] < 0x20 || (unsigned char)v[i] > 0x7e)
			return false;
	return true;
}

static int
conf_load(
    const struct rmx_kv *cfg, struct spf_conf **out, char *err, size_t errlen)
{
	struct spf_conf *c = calloc(1, sizeof(*c));
	char host[256];

	if (c == NULL)
		return cfg_fail(err, errlen, "out of memory");
	atomic_init(&c->refs, 1);
	c->skip_relay = true;
	c->timeout_ms = TIMEOUT_DEFAULT;
	for (size_t i = 0; cfg != NULL && cfg[i].key != NULL; i++) {
		const char *k = cfg[i].key,
			   *v = cfg[i].value ? cfg[i].value : "";
		bool *b = NULL;

		if (strcmp(k, "reject_fail") == 0)
			b = &c->reject_fail;
		else if (strcmp(k, "reject_softfail") == 0)
			b = &c->reject_softfail;
		else if (strcmp(k, "skip_relay") == 0)
			b = &c->skip_relay;
		if (b != NULL) {
			if (parse_bool(v, b) != 0)
				goto bad;
			continue;
		}
		if (strcmp(k, "temperror") == 0) {
			if (strcmp(v, "accept") == 0)
				c->temperror_tempfail = false;
			else if (strcmp(v, "tempfail") == 0)
				c->temperror_tempfail = true;
			else
				goto bad;
		} else if (strcmp(k, "permerror") == 0) {
			if (strcmp(v, "accept") == 0)
				c->permerror_reject = false;
			else if (strcmp(v, "reject") == 0)
				c->permerror_reject = true;
			else
				goto bad;
		} else if (strcmp(k, "explanation") == 0) {
			if (!text_ok(v, TEXT_MAX))
				goto bad;
			free(c->explanation);
			if ((c->explanation = strdup(v)) == NULL)
				goto nomem;
		} else if (strcmp(k, "receiver") == 0) {
			if (v[0] == '\0' || !text_ok(v, DA_NAME_MAX) ||
			    strchr(v, ' ') != NULL)
				goto bad;
			free(c->receiver);
			if ((c->receiver = strdup(v)) == NULL)
				goto nomem;
		} else if (strcmp(k, "timeout_ms") == 0) {
			char *end;
			unsigned long n = strtoul(v, &end, 10);

			if (v[0] < '0' || v[0] > '9' || *end != '\0' ||
			    n == 0 || n > TIMEOUT_MAX)
				goto bad;
			c->timeout_ms = (unsigned)n;
		} else {
			conf_unref(c);
			return cfg_fail(err, errlen, "unknown key \"%s\"", k);
		}
		continue;
	bad:
		cfg_fail(err, errlen, "bad value \"%s\" for key \"%s\"", v, k);
		conf_unref(c);
		return -1;
	}
	if (c->explanation == NULL &&
	    (c->explanation = strdup(DEFAULT_EXP)) == NULL)
		goto nomem;
	if (c->receiver == NULL) {
		if (gethostname(host, sizeof(host)) != 0 || host[0] == '\0')
			snprintf(host, sizeof(host), "unknown");
		host[sizeof(host) - 1] = '\0';
		if ((c->receiver = strdup(host)) == NULL)
			goto nomem;
	}
	*out = c;
	return 0;
nomem:
	conf_unref(c);
	return cfg_fail(err, errlen, "out of memory");
}

static struct spf_conf *
conf_get(struct spf_plugin *p)
{
	struct spf_conf *c;

	pthread_mutex_lock(&p->lock);
	c = conf_ref(p->conf);
	pthread_mutex_unlock(&p->lock);
	return c;
}

/* ------------------------------------------------------------ results */

/* RFC 2045 token (no tspecials, SP or CTL). */
static bool
is_token(const char *s)
{
	if (*s == '\0')
		return false;
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;

		if (c <= 0x20 || c >= 0x7f || strchr("()<>@,;:\\\"/[]?=", c))
			return false;
	}
	return true;
}

/* dot-atom-text "@" domain: the RFC 8601 pvalue form of an address. */
static bool
is_plain_addr(const char *s)
{
	const char *at = strrchr(s, '@');
	static const char atext[] = "!#$%&'*+-/=?^_`{|}~.";

	if (at == NULL || at == s || at[1] == '\0' || s[0] == '.' ||
	    at[-1] == '.')
		return false;
	for (const char *p = s; *p; p++) {
		unsigned char c = (unsigned char)*p;

		if (p == at)
			continue;
		if (c >= 0x80 ||
		    !((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
			(c >= '0' && c <= '9') ||
			(p < at && strchr(atext, c)) ||
			(p > at && (c == '.' || c == '-'))))
			return false;
	}
	return true;
}

/* Append v (quoted if needed) to buf, one line of text. */
static void
put_value(char *buf, size_t cap, const char *v, bool addr_ok)
{
	size_t o = strlen(buf);

	if (is_token(v) || (addr_ok && is_plain_addr(v))) {
		snprintf(buf + o, cap - o, "%s", v);
		return;
	}
	if (o + 3 > cap)
		return;
	buf[o++] = '"';
	for (; *v && o + 3 < cap; v++) {
		unsigned char c = (unsigned char)*v;

		if (c == '"' || c == '\\')
			buf[o++] = '\\';
		buf[o++] = c < 0x20 || c > 0x7e ? '?' : (char)c;
	}
	buf[o++] = '"';
	buf[o] = '\0';
}

/* Printable copy of s for a reply or note (control octets -> '?'). */
static void
clean_copy(char *dst, size_t cap, const char *s)
{
	size_t o = 0;

	for (; *s && o + 1 < cap; s++)
		dst[o++] = (unsigned char)*s < 0x20 || (unsigned char)*s > 0x7e
			       ? '?'
			       : *s;
	dst[o] = '\0';
}

/* The notes of the session's current result. */
static void
set_notes(
    const struct rmx_host_api *host, struct rmx_call *call, struct spf_sess *s)
{
	char ar[1024], dom[DA_NAME_MAX + 2];
	bool helo = strcmp(s->identity, "helo") == 0;

	clean_copy(dom, sizeof(dom), s->domain);
	host->note_set(call, "spf.result", spf_result_str(s->result));
	host->note_set(call, "spf.identity", s->identity);
	host->note_set(call, "spf.domain", dom);
	if (s->reason[0] != '\0')
		host->note_set(call, "spf.reason", s->reason);
	snprintf(ar, sizeof(ar), "spf=%s ", spf_result_str(s->result));
	if (s->result == SPF_TEMPERROR || s->result == SPF_PERMERROR) {
		strncat(ar, "reason=", sizeof(ar) - strlen(ar) - 1);
		put_value(ar, sizeof(ar), s->reason, false);
		strncat(ar, " ", sizeof(ar) - strlen(ar) - 1);
	}
	strncat(ar, helo ? "smtp.helo=" : "smtp.mailfrom=",
	    sizeof(ar) - strlen(ar) - 1);
	put_value(ar, sizeof(ar), helo ? dom : s->sender, !helo);
	host->note_set(call, "ar.spf", ar);
}

/* ---------------------------------------------------------------- jobs */

static void
job_free(struct spf_job *j)
{
	if (j->prev != NULL)
		j->prev->next = j->next;
	else
		j->w->jobs = j->next;
	if (j->next != NULL)
		j->next->prev = j->prev;
	if (j->h != NULL)
		j->h->job = NULL;
	spf_eval_free(j->ev);
	free(j);
}

/* The evaluation is over: keep the result, set the notes. */
static void
job_result(struct spf_job *j)
{
	struct spf_sess *s = j->sess;
	const struct rmx_host_api *host = j->w->plugin->host;
	struct spf_eval *ev = j->ev;

	s->cached = true;
	snprintf(s->key_ip, sizeof(s->key_ip), "%s", j->ip);
	snprintf(s->key_sender, sizeof(s->key_sender), "%s", j->sender);
	snprintf(s->key_helo, sizeof(s->key_helo), "%s", j->helo);
	s->result = spf_eval_result(ev);
	snprintf(s->identity, sizeof(s->identity), "%s", spf_eval_identity(ev));
	clean_copy(s->domain, sizeof(s->domain), spf_eval_domain(ev));
	clean_copy(s->sender, sizeof(s->sender), spf_eval_sender(ev));
	clean_copy(
	    s->explanation, sizeof(s->explanation), spf_eval_explanation(ev));
	clean_copy(s->reason, sizeof(s->reason), spf_eval_reason(ev));
	s->current = true;
	/* a temporary error is not worth keeping for the next message */
	if (s->result == SPF_TEMPERROR)
		s->cached = false;
	set_notes(host, j->call, s);
	host->log(j->call, RMX_LOG_INFO,
	    "spf=%s identity=%s domain=%s ip=%s mechanism=%s queries=%u",
	    spf_result_str(s->result), s->identity, s->domain, j->ip,
	    spf_eval_mechanism(ev)[0] ? spf_eval_mechanism(ev) : "-",
	    spf_eval_queries(ev));
}

static void dns_cb(struct rmx_call *call, int rcode, int secure,
    const void *answer, size_t len, void *arg);

/*
 * Step the evaluator until it needs an answer that is not there yet
 * (true: a query is out) or it is done (false).
 */
static bool
job_run(struct spf_job *j)
{
	const struct rmx_host_api *host = j->w->plugin->host;

	while (spf_eval_step(j->ev, &j->q) == SPF_NEED_DNS) {
		struct dns_answer a;
		int rc = host->dns_query(
		    j->call, j->q.name, j->q.type, dns_cb, j->h);

		if (rc == 0)
			return true;
		/* an unusable name or no resolver: a DNS error */
		dns_answer_parse(&a, j->q.type, 2, 0, NULL, 0);
		spf_eval_answer(j->ev, &a);
		dns_answer_free(&a);
	}
	return false;
}

static void
dns_cb(struct rmx_call *call, int rcode, int secure, const void *answer,
    size_t len, void *arg)
{
	struct spf_handle *h = arg;
	struct spf_job *j = h->job;
	const struct rmx_host_api *host;
	struct dns_answer a;

	if (j == NULL)
		return; /* the job ended (deadline) */
	dns_answer_parse(&a, j->q.type, rcode, secure, answer, len);
	spf_eval_answer(j->ev, &a);
	dns_answer_free(&a);
	if (job_run(j))
		return;
	host = j->w->plugin->host;
	job_result(j);
	job_free(j);
	host->complete(call, RMX_CONTINUE);
}

static void
timer_cb(struct rmx_call *call, void *arg)
{
	struct spf_handle *h = arg;
	struct spf_job *j = h->job;
	const struct rmx_host_api *host;

	if (j == NULL)
		return; /* finished before the deadline */
	host = j->w->plugin->host;
	spf_eval_abort(j->ev, "evaluation timed out");
	job_result(j);
	job_free(j); /* a late DNS answer finds the handle empty */
	host->complete(call, RMX_CONTINUE);
}

/* ---------------------------------------------------------------- hooks */

static void
sess_cleanup(void *data)
{
	free(data);
}

static struct spf_sess *
sess_get(const struct rmx_host_api *host, struct rmx_call *call)
{
	struct spf_sess *s = host->session_get(call);

	if (s != NULL)
		return s;
	if ((s = calloc(1, sizeof(*s))) == NULL)
		return NULL;
	if (host->session_set(call, s, sess_cleanup) != 0) {
		free(s);
		return NULL;
	}
	return s;
}

static const char *
item(const struct rmx_host_api *host, struct rmx_call *call, int id)
{
	const char *v = NULL;
	size_t len = 0;

	if (host->get_item(call, id, 0, &v, &len) != 0 || v == NULL ||
	    strlen(v) != len)
		return NULL;
	return v;
}

static enum rmx_verdict
spf_hook_mail(struct rmx_call *call, void *worker_state)
{
	struct spf_worker *w = worker_state;
	const struct rmx_host_api *host = w->plugin->host;
	struct spf_conf *c = conf_get(w->plugin);
	const char *addr, *from, *helo, *relay;
	unsigned char ip[16];
	int family;
	struct spf_sess *s;
	struct spf_job *j;
	struct spf_eval_opts o;
	unsigned timeout = c->timeout_ms;

	if ((s = sess_get(host, call)) == NULL) {
		host->log(call, RMX_LOG_ERR, "spf=error error=nomem");
		conf_unref(c);
		return RMX_CONTINUE;
	}
	s->current = false;
	relay = item(host, call, RMX_ITEM_RELAY_ALLOWED);
	if (c->skip_relay &&
	    ((relay != NULL && strcmp(relay, "1") == 0) ||
		item(host, call, RMX_ITEM_AUTH_USER) != NULL)) {
		conf_unref(c);
		return RMX_CONTINUE;
	}
	addr = item(host, call, RMX_ITEM_CLIENT_ADDR);
	if (addr != NULL && inet_pton(AF_INET, addr, ip) == 1) {
		family = AF_INET;
	} else if (addr != NULL && inet_pton(AF_INET6, addr, ip) == 1) {
		family = AF_INET6;
	} else {
		host->log(
		    call, RMX_LOG_NOTICE, "spf=skipped reason=client_address");
		conf_unref(c);
		return RMX_CONTINUE;
	}
	from = item(host, call, RMX_ITEM_MAIL_FROM);
	helo = item(host, call, RMX_ITEM_HELO);
	if (from == NULL)
		from = "";
	if (helo == NULL)
		helo = "";
	if (s->cached && strcmp(s->key_ip, addr) == 0 &&
	    strcmp(s->key_sender, from) == 0 &&
	    (from[0] != '\0' || strcmp(s->key_helo, helo) == 0)) {
		s->current = true;
		set_notes(host, call, s);
		host->log(call, RMX_LOG_DEBUG, "spf=%s cached=1",
		    spf_result_str(s->result));
		conf_unref(c);
		return RMX_CONTINUE;
	}
	o.receiver = c->receiver;
	o.default_exp = c->explanation;
	o.now = (uint64_t)time(NULL);
	j = calloc(1, sizeof(*j));
	if (j != NULL)
		j->ev = spf_eval_new(family, ip, from, helo, &o);
	conf_unref(c);
	if (j == NULL || j->ev == NULL ||
	    (j->h = host->call_alloc(call, sizeof(*j->h))) == NULL) {
		if (j != NULL)
			spf_eval_free(j->ev);
		free(j);
		host->log(call, RMX_LOG_ERR, "spf=error error=nomem");
		return RMX_CONTINUE;
	}
	j->h->job = j;
	j->w = w;
	j->call = call;
	j->sess = s;
	snprintf(j->ip, sizeof(j->ip), "%s", addr);
	snprintf(j->sender, sizeof(j->sender), "%s", from);
	snprintf(j->helo, sizeof(j->helo), "%s", helo);
	j->next = w->jobs;
	if (w->jobs != NULL)
		w->jobs->prev = j;
	w->jobs = j;
	if (job_run(j)) {
		if (host->timer_add(call, timeout, timer_cb, j->h) != 0)
			host->log(call, RMX_LOG_WARNING,
			    "spf=warning error=no_timer");
		return RMX_PENDING;
	}
	job_result(j);
	job_free(j);
	return RMX_CONTINUE;
}

static enum rmx_verdict
spf_hook_rcpt(struct rmx_call *call, void *worker_state)
{
	struct spf_worker *w = worker_state;
	const struct rmx_host_api *host = w->plugin->host;
	struct spf_sess *s = host->session_get(call);
	struct spf_conf *c;
	enum rmx_verdict v = RMX_CONTINUE;
	char text[TEXT_MAX + 64];

	if (s == NULL || !s->current)
		return RMX_CONTINUE;
	c = conf_get(w->plugin);
	switch (s->result) {
	case SPF_FAIL:
		if (!c->reject_fail)
			break;
		snprintf(text, sizeof(text), "SPF fail: %.*s", TEXT_MAX,
		    s->explanation[0] ? s->explanation : c->explanation);
		host->set_reply(call, 550, "5.7.23", text);
		v = RMX_REJECT;
		break;
	case SPF_SOFTFAIL:
		if (!c->reject_softfail)
			break;
		snprintf(text, sizeof(text),
		    "SPF softfail: %.200s is not allowed to send for %.200s",
		    s->key_ip, s->domain);
		host->set_reply(call, 550, "5.7.23", text);
		v = RMX_REJECT;
		break;
	case SPF_TEMPERROR:
		if (!c->temperror_tempfail)
			break;
		snprintf(text, sizeof(text),
		    "SPF temporary error for %.200s, try again later",
		    s->domain);
		host->set_reply(call, 451, "4.7.24", text);
		v = RMX_TEMPFAIL;
		break;
	case SPF_PERMERROR:
		if (!c->permerror_reject)
			break;
		snprintf(text, sizeof(text),
		    "SPF permanent error for %.200s: %.200s", s->domain,
		    s->reason);
		host->set_reply(call, 550, "5.7.24", text);
		v = RMX_REJECT;
		break;
	default:
		break;
	}
	conf_unref(c);
	return v;
}

/* ----------------------------------------------------------- life cycle */

static int
spf_init(const struct rmx_host_api *host, const struct rmx_kv *cfg,
    void **plugin_state, char *err, size_t errlen)
{
	struct spf_plugin *p;

	if (!RMX_HOST_HAS(host, dns_query) || !RMX_HOST_HAS(host, timer_add) ||
	    !RMX_HOST_HAS(host, note_set) || !RMX_HOST_HAS(host, session_set) ||
	    !RMX_HOST_HAS(host, call_alloc) || !RMX_HOST_HAS(host, complete))
		return cfg_fail(
		    err, errlen, "the host lacks functions of ABI 1.0");
	if ((p = calloc(1, sizeof(*p))) == NULL)
		return cfg_fail(err, errlen, "out of memory");
	p->host = host;
	if (conf_load(cfg, &p->conf, err, errlen) != 0) {
		free(p);
		return -1;
	}
	pthread_mutex_init(&p->lock, NULL);
	*plugin_state = p;
	return 0;
}

static int
spf_reconfigure(
    void *plugin_state, const struct rmx_kv *cfg, char *err, size_t errlen)
{
	struct spf_plugin *p = plugin_state;
	struct spf_conf *c, *old;

	if (conf_load(cfg, &c, err, errlen) != 0)
		return -1;
	pthread_mutex_lock(&p->lock);
	old = p->conf;
	p->conf = c;
	pthread_mutex_unlock(&p->lock);
	conf_unref(old);
	return 0;
}

static void
spf_fini(void *plugin_state)
{
	struct spf_plugin *p = plugin_state;

	conf_unref(p->conf);
	pthread_mutex_destroy(&p->lock);
	free(p);
}

static int
spf_worker_init(void *plugin_state, unsigned worker, void **worker_state)
{
	struct spf_worker *w = calloc(1, sizeof(*w));

	(void)worker;
	if (w == NULL)
		return -ENOMEM;
	w->plugin = plugin_state;
	*worker_state = w;
	return 0;
}

static void
spf_worker_fini(void *worker_state)
{
	struct spf_worker *w = worker_state;

	/* pending calls here never complete; their handles may be gone */
	while (w->jobs != NULL) {
		w->jobs->h = NULL;
		job_free(w->jobs);
	}
	free(w);
}

static void
spf_cancel(struct rmx_call *call, void *worker_state)
{
	struct spf_worker *w = worker_state;

	for (struct spf_job *j = w->jobs; j != NULL; j = j->next)
		if (j->call == call) {
			job_free(j);
			return;
		}
}

static const struct rmx_hook hooks[] = {
    {RMX_HOOK_MAIL, RMX_HOOK_F_REQUIRED, spf_hook_mail},
    {RMX_HOOK_RCPT, RMX_HOOK_F_REQUIRED, spf_hook_rcpt},
    {0, 0, NULL},
};

static const struct rmx_plugin plugin = {
    .size = sizeof(struct rmx_plugin),
    .abi_version = RMX_PLUGIN_ABI_VERSION,
    .name = SPF_NAME,
    .version = "1.0",
    .init = spf_init,
    .worker_init = spf_worker_init,
    .worker_fini = spf_worker_fini,
    .fini = spf_fini,
    .cancel = spf_cancel,
    .reconfigure = spf_reconfigure,
    .hooks = hooks,
};

/* rmx_plugin_entry_v1 - the plugin's descriptor (see ringmx/plugin.h). */
__attribute__((visibility("default"))) const struct rmx_plugin *
RMX_PLUGIN_ENTRY(uint32_t host_abi, const char **why)
{
	if (host_abi >> 16 != RMX_PLUGIN_ABI_MAJOR) {
		*why = "spf is built for plugin ABI 1";
		return NULL;
	}
	return &plugin;
}
