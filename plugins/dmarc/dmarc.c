/*
 * dmarc.c - the dmarc plugin: DMARC policy evaluation (RFC 7489, no
 * aggregate or failure reports) in the DATA hook, and the hold of
 * quarantined mail in the ROUTE hook. Here: configuration, the PSL
 * context, the hooks, policy discovery over the host's asynchronous DNS
 * (section 6.6.3), the notes (dmarc.*, ar.dmarc) and the verdict. Not
 * here: the record grammar (dmarc_record.c), the From address parser
 * (dmarc_from.c), alignment and the decision (dmarc_eval.c).
 *
 * The DATA hook reads the notes of the spf plugin (set at MAIL) and of
 * dkim_verify (set earlier in the DATA chain), so both must come before
 * dmarc in the plugins list; a missing note counts as "no result".
 *
 * Per message: the From domain is found in the hook; then the hook asks
 * for TXT _dmarc.<From domain> and answers RMX_PENDING with a timer of
 * timeout_ms; if that name has no DMARC record the DNS callback asks for
 * _dmarc.<organisational domain>; with a record (or none) the callback
 * decides, writes the notes and completes the call.
 *
 * Memory and threads: the settings (struct dm_conf, with the psl_ctx_t)
 * are immutable once built; init/reconfigure (main thread) publish a new
 * one under the plugin's lock, and replaced ones are kept until fini
 * because a pending message may still use one. The psl_ctx_t is only read
 * by libpsl lookups, so all workers share it. The per-message state
 * (struct dm_msg) is call_alloc memory, freed by the host when the call
 * ends; the host never runs a DNS callback or timer of an ended call, so
 * cancel has nothing to release.
 */
#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include <libpsl.h>
#include <sodium.h>

#include "ringmx/plugin.h"

#include "dmarc_eval.h"
#include "dmarc_from.h"
#include "dmarc_record.h"
#include "dns_answer.h"

#define DM_NAME         "dmarc"
#define DM_PSL_DEFAULT  "/usr/share/publicsuffix/public_suffix_list.dat"
#define DM_FROM_MAX_HDR 100000 /* header fields looked at, at most */

enum dm_from_error {
	FE_PERMERROR = 0, /* dmarc=permerror, message accepted */
	FE_NONE = 1,      /* dmarc=none, message accepted */
	FE_REJECT = 2,    /* 550 5.7.1 */
};

/* Settings: immutable once published; owned by struct dm_plugin (the
 * current one or the retired list), freed at fini. */
struct dm_conf {
	char *psl_file;
	psl_ctx_t *psl;   /* owned unless psl_builtin */
	bool psl_builtin; /* psl is libpsl's static builtin context */
	enum dmarc_disposition reject_action;
	enum dmarc_disposition quarantine_action;
	bool skip_relay;
	bool temperror_tempfail;
	enum dm_from_error from_error;
	unsigned timeout_ms;
	struct dm_conf *retired_next;
};

/* Plugin state: created by init (main thread), freed by fini. */
struct dm_plugin {
	const struct rmx_host_api *host;
	pthread_mutex_t lock; /* guards conf and retired */
	struct dm_conf *conf; /* current settings */
	struct dm_conf *retired;
};

/* Per-worker state, owned by the worker (worker_init/worker_fini). */
struct dm_worker {
	struct dm_plugin *plugin;
	bool warned_route_notes; /* logged once: ROUTE cannot read notes */
};

/* Per message: call_alloc memory, freed by the host with the call. */
struct dm_msg {
	struct dm_worker *w;
	struct rmx_call *call;
	const struct dm_conf *conf; /* alive until fini */
	char from[DMARC_DOMAIN_MAX + 1];
	char org[DMARC_DOMAIN_MAX + 1];
	bool at_org;   /* the query in flight is for the org domain */
	bool finished; /* notes written, call completed */
};

/* ---------------------------------------------------- configuration */

__attribute__((format(printf, 3, 4))) static int
cfail(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;
	int n = snprintf(err, errlen, "%s: ", DM_NAME);

	if (n < 0 || (size_t)n >= errlen)
		return -1;
	va_start(ap, fmt);
	vsnprintf(err + n, errlen - (size_t)n, fmt, ap);
	va_end(ap);
	return -1;
}

static void
conf_free(struct dm_conf *c)
{
	if (c == NULL)
		return;
	if (c->psl != NULL && !c->psl_builtin)
		psl_free(c->psl);
	free(c->psl_file);
	free(c);
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

static const char *const conf_keys[] = {"psl_file", "reject_action",
    "quarantine_action", "skip_relay", "temperror", "from_error", "timeout_ms",
    NULL};

static int
conf_key_value(
    struct dm_conf *c, const char *k, const char *v, char *err, size_t errlen)
{
	if (strcmp(k, "psl_file") == 0) {
		if (v[0] == '\0')
			return cfail(err, errlen, "psl_file: empty path");
		free(c->psl_file);
		if ((c->psl_file = strdup(v)) == NULL)
			return cfail(err, errlen, "out of memory");
	} else if (strcmp(k, "reject_action") == 0) {
		if (strcmp(v, "reject") == 0)
			c->reject_action = DMARC_DIS_REJECT;
		else if (strcmp(v, "hold") == 0)
			c->reject_action = DMARC_DIS_HOLD;
		else if (strcmp(v, "header") == 0)
			c->reject_action = DMARC_DIS_HEADER;
		else
			return cfail(err, errlen,
			    "reject_action: \"%s\" is not reject, hold or "
			    "header",
			    v);
	} else if (strcmp(k, "quarantine_action") == 0) {
		if (strcmp(v, "hold") == 0)
			c->quarantine_action = DMARC_DIS_HOLD;
		else if (strcmp(v, "header") == 0)
			c->quarantine_action = DMARC_DIS_HEADER;
		else
			return cfail(err, errlen,
			    "quarantine_action: \"%s\" is not hold or header",
			    v);
	} else if (strcmp(k, "skip_relay") == 0) {
		return bool_value(k, v, &c->skip_relay, err, errlen);
	} else if (strcmp(k, "temperror") == 0) {
		if (strcmp(v, "accept") == 0)
			c->temperror_tempfail = false;
		else if (strcmp(v, "tempfail") == 0)
			c->temperror_tempfail = true;
		else
			return cfail(err, errlen,
			    "temperror: \"%s\" is not accept or tempfail", v);
	} else if (strcmp(k, "from_error") == 0) {
		if (strcmp(v, "permerror") == 0)
			c->from_error = FE_PERMERROR;
		else if (strcmp(v, "none") == 0)
			c->from_error = FE_NONE;
		else if (strcmp(v, "reject") == 0)
			c->from_error = FE_REJECT;
		else
			return cfail(err, errlen,
			    "from_error: \"%s\" is not permerror, none or "
			    "reject",
			    v);
	} else if (strcmp(k, "timeout_ms") == 0) {
		return uint_value(
		    k, v, 100, 600000, &c->timeout_ms, err, errlen);
	}
	return 0;
}

/* Load the PSL of c->psl_file, or libpsl's builtin list if the file does
 * not exist (logged). */
static int
conf_load_psl(const struct rmx_host_api *host, struct dm_conf *c, char *err,
    size_t errlen)
{
	if (access(c->psl_file, F_OK) != 0 && errno == ENOENT) {
		c->psl = (psl_ctx_t *)psl_builtin();
		c->psl_builtin = true;
		if (c->psl == NULL)
			return cfail(err, errlen,
			    "psl_file: %s does not exist and libpsl has no "
			    "builtin list",
			    c->psl_file);
		host->log(NULL, RMX_LOG_WARNING,
		    "psl=builtin reason=missing_file psl_file=%s "
		    "(install Debian's publicsuffix package)",
		    c->psl_file);
		return 0;
	}
	c->psl = psl_load_file(c->psl_file);
	if (c->psl == NULL)
		return cfail(
		    err, errlen, "psl_file: cannot load %s", c->psl_file);
	return 0;
}

static struct dm_conf *
conf_build(const struct rmx_host_api *host, const struct rmx_kv *cfg, char *err,
    size_t errlen)
{
	struct dm_conf *c = calloc(1, sizeof(*c));
	unsigned seen = 0;

	if (c == NULL) {
		cfail(err, errlen, "out of memory");
		return NULL;
	}
	c->reject_action = DMARC_DIS_REJECT;
	c->quarantine_action = DMARC_DIS_HOLD;
	c->skip_relay = true;
	c->from_error = FE_PERMERROR;
	c->timeout_ms = 10000;
	if ((c->psl_file = strdup(DM_PSL_DEFAULT)) == NULL) {
		cfail(err, errlen, "out of memory");
		goto fail;
	}
	for (; cfg != NULL && cfg->key != NULL; cfg++) {
		const char *v = cfg->value ? cfg->value : "";
		unsigned k;

		for (k = 0; conf_keys[k] != NULL; k++)
			if (strcmp(cfg->key, conf_keys[k]) == 0)
				break;
		if (conf_keys[k] == NULL) {
			cfail(err, errlen, "%s: unknown key", cfg->key);
			goto fail;
		}
		if (seen & (1u << k)) {
			cfail(err, errlen, "%s: given twice", cfg->key);
			goto fail;
		}
		seen |= 1u << k;
		if (conf_key_value(c, cfg->key, v, err, errlen) != 0)
			goto fail;
	}
	if (conf_load_psl(host, c, err, errlen) != 0)
		goto fail;
	return c;
fail:
	conf_free(c);
	return NULL;
}

static const struct dm_conf *
conf_get(struct dm_plugin *p)
{
	const struct dm_conf *c;

	pthread_mutex_lock(&p->lock);
	c = p->conf;
	pthread_mutex_unlock(&p->lock);
	return c;
}

/* ---------------------------------------------------------- results */

static const char *
note_get_fn(void *ctx, const char *key)
{
	struct dm_msg *m = ctx;
	const char *v = NULL;

	if (m->w->plugin->host->note_get(m->call, key, &v) != 0)
		return NULL;
	return v;
}

/*
 * Write the notes and log line, and choose the verdict (with its reply).
 * d is the decision when a record was evaluated (else NULL).
 */
static enum rmx_verdict
conclude(struct dm_msg *m, enum dmarc_result res,
    const struct dmarc_decision *d, const struct dmarc_auth *auth,
    const char *reason)
{
	const struct rmx_host_api *host = m->w->plugin->host;
	struct rmx_call *call = m->call;
	enum dmarc_disposition dis = d != NULL ? d->dis : DMARC_DIS_NONE;
	char ar[1024], text[400];
	enum rmx_verdict v = RMX_CONTINUE;

	m->finished = true;
	host->note_set(call, "dmarc.result", dmarc_result_str(res));
	if (m->from[0] != '\0')
		host->note_set(call, "dmarc.domain", m->from);
	if (d != NULL)
		host->note_set(
		    call, "dmarc.policy", dmarc_policy_str(d->applied));
	host->note_set(call, "dmarc.disposition", dmarc_disposition_str(dis));
	dmarc_resinfo(ar, sizeof(ar), res, d != NULL, d, m->from, reason);
	host->note_set(call, "ar.dmarc", ar);
	host->log(call, RMX_LOG_INFO,
	    "dmarc=%s from=%s policy=%s applied=%s disposition=%s "
	    "spf_aligned=%d dkim_aligned=%d%s%s%s",
	    dmarc_result_str(res), m->from[0] ? m->from : "-",
	    d ? dmarc_policy_str(d->published) : "-",
	    d ? dmarc_policy_str(d->applied) : "-", dmarc_disposition_str(dis),
	    auth ? auth->spf_aligned : 0, auth ? auth->dkim_aligned : 0,
	    reason ? " reason=\"" : "", reason ? reason : "",
	    reason ? "\"" : "");
	if (dis == DMARC_DIS_REJECT) {
		snprintf(text, sizeof(text),
		    "DMARC policy of %s rejects this message", m->from);
		host->set_reply(call, 550, "5.7.1", text);
		v = RMX_REJECT;
	} else if (res == DMARC_RES_TEMPERROR && m->conf->temperror_tempfail) {
		snprintf(text, sizeof(text),
		    "DMARC policy of %s temporarily unavailable, try again "
		    "later",
		    m->from);
		host->set_reply(call, 451, "4.7.5", text);
		v = RMX_TEMPFAIL;
	}
	return v;
}

/* A record was found (at m->at_org or the From domain): decide. */
static enum rmx_verdict
evaluate(struct dm_msg *m, const struct dmarc_record *rec, const char *why)
{
	struct dmarc_auth auth;
	struct dmarc_decision d;
	unsigned sample = rec->pct >= 100 ? 0 : randombytes_uniform(100);

	dmarc_auth_from_notes(m->conf->psl, m->from, rec->aspf_strict,
	    rec->adkim_strict, note_get_fn, m, &auth);
	dmarc_decide(rec, m->at_org, &auth, sample, m->conf->reject_action,
	    m->conf->quarantine_action, &d);
	return conclude(m, d.result, &d, &auth, rec->p_defaulted ? why : NULL);
}

static void dns_done(struct rmx_call *call, int rcode, int secure,
    const void *answer, size_t len, void *arg);

/* Ask for _dmarc.<domain>; 1 = asked, 0 = the name cannot exist, -1 =
 * the host refused the query. */
static int
ask(struct dm_msg *m, const char *domain)
{
	const struct rmx_host_api *host = m->w->plugin->host;
	char name[DMARC_DOMAIN_MAX + 16];
	int n = snprintf(name, sizeof(name), "_dmarc.%s", domain);
	int rc;

	if (n < 0 || (size_t)n > DMARC_DOMAIN_MAX)
		return 0;
	rc = host->dns_query(m->call, name, DA_T_TXT, dns_done, m);
	if (rc != 0) {
		host->log(m->call, RMX_LOG_WARNING,
		    "dmarc=temperror error=dns_query name=%s rc=%d", name, rc);
		return -1;
	}
	return 1;
}

/* No record at the name asked: try the org domain, or conclude none.
 * Returns RMX_PENDING when a query is in flight. */
static enum rmx_verdict
no_record(struct dm_msg *m)
{
	if (!m->at_org && strcmp(m->from, m->org) != 0) {
		int rc;

		m->at_org = true;
		rc = ask(m, m->org);
		if (rc > 0)
			return RMX_PENDING;
		if (rc < 0)
			return conclude(m, DMARC_RES_TEMPERROR, NULL, NULL,
			    "DNS unavailable");
	}
	return conclude(m, DMARC_RES_NONE, NULL, NULL, NULL);
}

/* Policy discovery on one answer (section 6.6.3 steps 2-6). */
static enum rmx_verdict
on_answer(struct dm_msg *m, const struct dns_answer *a)
{
	struct dmarc_record rec;
	const struct da_rr *found = NULL;
	size_t ndmarc = 0;
	const char *why = NULL;

	if (a->status == DA_TEMP)
		return conclude(
		    m, DMARC_RES_TEMPERROR, NULL, NULL, "DNS error");
	for (size_t i = 0; a->status == DA_OK && i < a->n; i++)
		if (a->rr[i].text != NULL &&
		    dmarc_record_is_dmarc(a->rr[i].text, a->rr[i].len)) {
			ndmarc++;
			found = &a->rr[i];
		}
	if (ndmarc == 0)
		return no_record(m);
	if (ndmarc > 1)
		return conclude(
		    m, DMARC_RES_NONE, NULL, NULL, "several DMARC records");
	if (dmarc_record_parse(found->text, found->len, &rec, &why) !=
	    DMARC_REC_OK)
		return conclude(m, DMARC_RES_PERMERROR, NULL, NULL,
		    why ? why : "invalid DMARC record");
	return evaluate(m, &rec, why);
}

static void
dns_done(struct rmx_call *call, int rcode, int secure, const void *answer,
    size_t len, void *arg)
{
	struct dm_msg *m = arg;
	struct dns_answer a;
	enum rmx_verdict v;

	if (m->finished)
		return;
	dns_answer_parse(&a, DA_T_TXT, rcode, secure, answer, len);
	v = on_answer(m, &a);
	dns_answer_free(&a);
	if (v != RMX_PENDING)
		m->w->plugin->host->complete(call, v);
}

static void
timed_out(struct rmx_call *call, void *arg)
{
	struct dm_msg *m = arg;
	enum rmx_verdict v;

	if (m->finished)
		return;
	v = conclude(m, DMARC_RES_TEMPERROR, NULL, NULL, "DNS timeout");
	m->w->plugin->host->complete(call, v);
}

/* ------------------------------------------------------------ hooks */

static bool
is_from(const char *name, size_t n)
{
	while (n > 0 && (name[n - 1] == ' ' || name[n - 1] == '\t'))
		n--;
	return n == 4 && strncasecmp(name, "From", 4) == 0;
}

/* The From domain into m->from; NULL, or why there is none. */
static const char *
find_from(struct dm_msg *m)
{
	const struct rmx_host_api *host = m->w->plugin->host;
	const char *name, *value, *fv = NULL;
	size_t nlen, vlen, fvlen = 0, nfrom = 0;
	enum dmarc_from_status st;

	for (size_t i = 0; i < DM_FROM_MAX_HDR; i++) {
		if (host->header_get(m->call, i, &name, &nlen, &value, &vlen) !=
		    0)
			break;
		if (!is_from(name, nlen))
			continue;
		if (nfrom++ == 0) {
			fv = value;
			fvlen = vlen;
		}
	}
	if (nfrom == 0)
		return "no From field";
	if (nfrom > 1)
		return "several From fields";
	st = dmarc_from_domain(fv, fvlen, m->from, NULL);
	if (st != DMARC_FROM_OK) {
		m->from[0] = '\0';
		return dmarc_from_status_str(st);
	}
	return NULL;
}

static enum rmx_verdict
dm_hook_data(struct rmx_call *call, void *worker_state)
{
	struct dm_worker *w = worker_state;
	const struct rmx_host_api *host = w->plugin->host;
	const struct dm_conf *conf = conf_get(w->plugin);
	struct dm_msg *m;
	const char *val, *why;
	size_t vlen;
	int rc;

	if (conf->skip_relay &&
	    host->get_item(call, RMX_ITEM_RELAY_ALLOWED, 0, &val, &vlen) == 0 &&
	    strcmp(val, "1") == 0) {
		host->log(call, RMX_LOG_DEBUG, "dmarc=skipped reason=relay");
		return RMX_CONTINUE;
	}
	if ((m = host->call_alloc(call, sizeof(*m))) == NULL) {
		host->log(call, RMX_LOG_ERR, "dmarc=error error=nomem");
		host->set_reply(call, 451, "4.3.0",
		    "DMARC evaluation failed, please try again later");
		return RMX_TEMPFAIL;
	}
	memset(m, 0, sizeof(*m));
	m->w = w;
	m->call = call;
	m->conf = conf;
	if ((why = find_from(m)) != NULL) {
		char text[200];

		switch (conf->from_error) {
		case FE_REJECT:
			conclude(m, DMARC_RES_PERMERROR, NULL, NULL, why);
			snprintf(text, sizeof(text),
			    "DMARC: %s; exactly one From address is required",
			    why);
			host->set_reply(call, 550, "5.7.1", text);
			return RMX_REJECT;
		case FE_NONE:
			return conclude(m, DMARC_RES_NONE, NULL, NULL, why);
		case FE_PERMERROR:
		default:
			return conclude(
			    m, DMARC_RES_PERMERROR, NULL, NULL, why);
		}
	}
	dmarc_org_domain(conf->psl, m->from, m->org);
	rc = ask(m, m->from);
	if (rc == 0)
		return no_record(m); /* _dmarc.<From> too long to exist */
	if (rc < 0)
		return conclude(
		    m, DMARC_RES_TEMPERROR, NULL, NULL, "DNS unavailable");
	if (host->timer_add(call, conf->timeout_ms, timed_out, m) != 0)
		host->log(call, RMX_LOG_WARNING,
		    "dmarc=warning error=timer_add (the resolver's timeout "
		    "applies)");
	return RMX_PENDING;
}

/* Quarantine: keep held mail in the queue (every recipient). */
static enum rmx_verdict
dm_hook_route(struct rmx_call *call, void *worker_state)
{
	struct dm_worker *w = worker_state;
	const struct rmx_host_api *host = w->plugin->host;
	const char *v = NULL;
	int rc = host->note_get(call, "dmarc.disposition", &v);

	if (rc != 0) {
		if (rc != -ENOENT && !w->warned_route_notes) {
			w->warned_route_notes = true;
			host->log(call, RMX_LOG_WARNING,
			    "dmarc=warning error=route_notes rc=%d (the host "
			    "cannot read notes at routing: quarantined mail "
			    "is not held)",
			    rc);
		}
		return RMX_CONTINUE;
	}
	if (strcmp(v, "hold") != 0)
		return RMX_CONTINUE;
	if (host->route_set(call, "hold") != 0) {
		host->log(call, RMX_LOG_ERR, "dmarc=error error=route_set");
		return RMX_TEMPFAIL;
	}
	host->log(call, RMX_LOG_INFO, "dmarc=held");
	return RMX_ACCEPT;
}

/* Nothing to release: the message state is call_alloc memory, and the
 * host never calls dns_done or timed_out for a cancelled call. */
static void
dm_cancel(struct rmx_call *call, void *worker_state)
{
	struct dm_worker *w = worker_state;

	w->plugin->host->log(call, RMX_LOG_DEBUG, "dmarc=cancelled");
}

/* ------------------------------------------------------- life cycle */

static int
dm_init(const struct rmx_host_api *host, const struct rmx_kv *cfg,
    void **plugin_state, char *err, size_t errlen)
{
	struct dm_plugin *p;
	struct dm_conf *c;

	if (!RMX_HOST_HAS(host, header_get) || !RMX_HOST_HAS(host, note_set) ||
	    !RMX_HOST_HAS(host, note_get) || !RMX_HOST_HAS(host, dns_query) ||
	    !RMX_HOST_HAS(host, timer_add) || !RMX_HOST_HAS(host, complete) ||
	    !RMX_HOST_HAS(host, call_alloc) || !RMX_HOST_HAS(host, log) ||
	    !RMX_HOST_HAS(host, set_reply) || !RMX_HOST_HAS(host, route_set) ||
	    !RMX_HOST_HAS(host, get_item))
		return cfail(
		    err, errlen, "the host lacks functions of ABI 1.0");
	if (sodium_init() < 0)
		return cfail(err, errlen, "libsodium failed to initialise");
	if ((c = conf_build(host, cfg, err, errlen)) == NULL)
		return -1;
	if ((p = calloc(1, sizeof(*p))) == NULL) {
		conf_free(c);
		return cfail(err, errlen, "out of memory");
	}
	p->host = host;
	p->conf = c;
	pthread_mutex_init(&p->lock, NULL);
	*plugin_state = p;
	return 0;
}

static int
dm_reconfigure(
    void *plugin_state, const struct rmx_kv *cfg, char *err, size_t errlen)
{
	struct dm_plugin *p = plugin_state;
	struct dm_conf *c = conf_build(p->host, cfg, err, errlen);

	if (c == NULL)
		return -1;
	pthread_mutex_lock(&p->lock);
	p->conf->retired_next = p->retired;
	p->retired = p->conf;
	p->conf = c;
	pthread_mutex_unlock(&p->lock);
	return 0;
}

static void
dm_fini(void *plugin_state)
{
	struct dm_plugin *p = plugin_state;

	while (p->retired != NULL) {
		struct dm_conf *next = p->retired->retired_next;

		conf_free(p->retired);
		p->retired = next;
	}
	conf_free(p->conf);
	pthread_mutex_destroy(&p->lock);
	free(p);
}

static int
dm_worker_init(void *plugin_state, unsigned worker, void **worker_state)
{
	struct dm_worker *w = calloc(1, sizeof(*w));

	(void)worker;
	if (w == NULL)
		return -ENOMEM;
	w->plugin = plugin_state;
	*worker_state = w;
	return 0;
}

static void
dm_worker_fini(void *worker_state)
{
	free(worker_state);
}

static const struct rmx_hook hooks[] = {
    {RMX_HOOK_DATA, RMX_HOOK_F_REQUIRED, dm_hook_data},
    {RMX_HOOK_ROUTE, RMX_HOOK_F_REQUIRED, dm_hook_route},
    {0, 0, NULL},
};

static const struct rmx_plugin plugin = {
    .size = sizeof(struct rmx_plugin),
    .abi_version = RMX_PLUGIN_ABI_VERSION,
    .name = DM_NAME,
    .version = "1.0",
    .init = dm_init,
    .worker_init = dm_worker_init,
    .worker_fini = dm_worker_fini,
    .fini = dm_fini,
    .cancel = dm_cancel,
    .reconfigure = dm_reconfigure,
    .hooks = hooks,
};

/* rmx_plugin_entry_v1 - the plugin's descriptor (see ringmx/plugin.h). */
__attribute__((visibility("default"))) const struct rmx_plugin *
RMX_PLUGIN_ENTRY(uint32_t host_abi, const char **why)
{
	if (host_abi >> 16 != RMX_PLUGIN_ABI_MAJOR) {
		*why = "dmarc is built for plugin ABI 1";
		return NULL;
	}
	return &plugin;
}
