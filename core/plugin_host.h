/*
 * plugin_host.h - the host side of the plugin ABI (include/ringmx/
 * plugin.h): loading plugins (dlopen, entry symbol, ABI checks, init),
 * per-worker instances, hook chains with verdicts, pending calls that
 * complete later (complete/post/offload/timers), and cancellation when the
 * subject of a call (a session) goes away first.
 *
 * struct plugin_host is loaded on the main thread and then SHARED
 * read-only by every worker. struct plugin_worker is owned by one worker.
 * What a hook reads and changes (items, headers, recipients...) is the
 * subject's business: the caller passes a struct hook_subject with
 * callbacks; this module knows nothing about SMTP.
 */
#ifndef RINGMX_PLUGIN_HOST_H
#define RINGMX_PLUGIN_HOST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "offload.h"
#include "ringmx/plugin.h"

/* One plugin as configured: `plugins = ( { name; path; ...keys } )`. */
struct plugin_cfg {
	char *name;
	char *path;        /* resolved .so path */
	char *source;      /* config file and line, for messages */
	struct rmx_kv *kv; /* the other keys, NULL-terminated */
	size_t nkv;
};

struct hook_result {
	enum rmx_verdict verdict;
	int code; /* 0 = the caller's default reply */
	char enh[12];
	char text[400];
	char *auth_user; /* AUTH: identity set by set_auth_user (heap) */
	char **addrs;    /* RCPT: rcpt_replace targets (heap) */
	size_t naddrs;
	bool replaced;
	char *route; /* ROUTE: route_set transport (heap) */
};
void hook_result_clear(struct hook_result *r);

/* The subject of a call: what hooks read and change. Every callback may
 * be NULL (then the host answers -ENOTSUP). */
struct hook_subject_ops {
	int (*get_item)(
	    void *subj, int item, size_t idx, const char **val, size_t *len);
	int (*header_get)(void *subj, size_t idx, const char **name,
	    size_t *nlen, const char **value, size_t *vlen);
	int (*header_add)(void *subj, const char *name, const char *value);
	int (*header_delete)(void *subj, size_t idx);
	int64_t (*body_read)(void *subj, uint64_t off, void *buf, size_t len);
	int (*note_set)(void *subj, const char *key, const char *value);
	int (*note_get)(void *subj, const char *key, const char **value);
	/* per-plugin session data slot */
	void **(*session_slot)(
	    void *subj, size_t plugin, void (***cleanup)(void *));
	/* an asynchronous chain has finished: res is the result */
	void (*done)(void *subj, int hook, struct hook_result *res);
};

struct hook_subject {
	const struct hook_subject_ops *ops;
	void *subj;
};

struct plugin_host;
struct plugin_worker;

/* Load every configured plugin (main thread). NULL + err on failure:
 * the message names the plugin file and the reason. */
struct plugin_host *plugin_host_load(
    const struct plugin_cfg *cfgs, size_t n, char *err, size_t errlen);
void plugin_host_free(struct plugin_host *ph);
size_t plugin_host_count(const struct plugin_host *ph);
bool plugin_host_has_hook(const struct plugin_host *ph, int hook);
const char *plugin_host_name(const struct plugin_host *ph, size_t i);
/* What the control socket shows of plugin i (strings borrowed from the
 * host; valid while it is loaded). 0, or -1 past the end. */
struct plugin_info {
	const char *name, *version, *path;
	uint32_t abi; /* the plugin's RMX_PLUGIN_ABI_VERSION */
	size_t nhooks;
	const char *hooks[16]; /* hook names */
};
int plugin_host_info(
    const struct plugin_host *ph, size_t i, struct plugin_info *out);

/*
 * plugin_host_reconfigure - reload (main thread): hand each loaded
 * plugin its settings from cfgs (matched by name) through its
 * reconfigure callback, which validates and swaps them in atomically or
 * fails leaving the old ones. Plugins added, removed or without
 * reconfigure need a restart (logged). Returns the number of plugins that
 * refused their new settings (messages logged, the first one in err).
 */
int plugin_host_reconfigure(struct plugin_host *ph,
    const struct plugin_cfg *cfgs, size_t n, char *err, size_t errlen);

/* Per worker (its thread). off: the worker's offload helper. */
struct plugin_worker *plugin_worker_new(struct plugin_host *ph, unsigned worker,
    struct offload *off, int notify_fd, char *err, size_t errlen);
/* Must be called before the resolver is freed (it cancels the plugins'
 * queries in flight). */
void plugin_worker_free(struct plugin_worker *pw);
/* The worker's resolver, for the plugins' dns_query (NULL: -ENOSYS). */
struct dns_resolver;
void plugin_worker_set_resolver(
    struct plugin_worker *pw, struct dns_resolver *r);

/*
 * plugin_run - run hook's chain for subject. Returns 0 when finished
 * now (res filled), 1 when a plugin answered RMX_PENDING: subject's
 * done() will be called later on this worker with the result, and
 * *pending identifies the call for plugin_cancel.
 */
int plugin_run(struct plugin_worker *pw, int hook,
    const struct hook_subject *subject, struct hook_result *res,
    struct rmx_call **pending);
/* The subject of a pending call goes away: the plugin is told (cancel)
 * and a late completion is ignored. */
void plugin_cancel(struct plugin_worker *pw, struct rmx_call *call);
/* Worker loop: offload completions owned by the plugin host. Returns
 * true if job was one (and consumed it). */
bool plugin_offload_done(struct plugin_worker *pw, struct offload_job *job);
/* Worker loop: timers due, posts from other threads, cached DNS
 * answers. */
void plugin_worker_poll(struct plugin_worker *pw);
/* Cached DNS answers still wait: the loop must not sleep. */
bool plugin_worker_dns_pending(const struct plugin_worker *pw);

#endif
