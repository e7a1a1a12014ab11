/*
 * ringmx/plugin.h - the ringmx plugin ABI, version 1.
 *
 * This is the only header a plugin needs and the only interface between
 * ringmx and its plugins. Build a plugin out of tree with:
 *
 *     cc -shared -fPIC $(pkg-config --cflags ringmx) -o my.so my.c
 *
 * COMPATIBILITY PROMISE
 *   A plugin built against ABI 1.m loads into every ringmx host of ABI
 *   1.n, n >= m, and (if it only uses what 1.n offers, see
 *   RMX_HOST_HAS) n < m. Rules that make this hold, enforced by the
 *   frozen-header test in tests/abi/:
 *   - structs crossing the boundary start with a `size` field and only
 *     ever grow at the end; a side reads only the fields the other side's
 *     `size` covers;
 *   - struct rmx_host_api is append-only; a new function means a MINOR
 *     bump;
 *   - hook ids, item ids and verdicts are stable numbers, never reused;
 *   - the entry symbol carries the major version, so a plugin of another
 *     major is refused at dlsym() time with a clear message.
 *
 * THREADS
 *   init, reconfigure and fini run on the main thread. worker_init and
 *   worker_fini run on each worker's thread. Every hook of a session or a
 *   message runs on the worker that owns it, so per-worker state needs no
 *   lock. Host functions taking a struct rmx_call may be called only on
 *   that call's worker thread, except rmx_host_api.post (any thread).
 *   A hook must never block: blocking or CPU-heavy work goes to
 *   rmx_host_api.offload and the hook answers RMX_PENDING.
 *
 * MEMORY
 *   Strings and buffers the host hands to a hook are borrowed: valid until
 *   the hook returns (or, for a pending call, until it completes or is
 *   cancelled). Anything the host must keep is copied by the host. Memory
 *   from call_alloc is freed by the host when the call ends. Nothing is
 *   ever freed across the boundary.
 */
#ifndef RINGMX_PLUGIN_H
#define RINGMX_PLUGIN_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define RMX_PLUGIN_ABI_MAJOR 1
#define RMX_PLUGIN_ABI_MINOR 0
#define RMX_PLUGIN_ABI_VERSION \
	((uint32_t)((RMX_PLUGIN_ABI_MAJOR << 16) | RMX_PLUGIN_ABI_MINOR))
/* The one symbol a plugin exports; the major version is in its name. */
#define RMX_PLUGIN_ENTRY      rmx_plugin_entry_v1
#define RMX_PLUGIN_ENTRY_NAME "rmx_plugin_entry_v1"

/* What a hook answers. Stable numbers. */
enum rmx_verdict {
	RMX_CONTINUE = 0,   /* no opinion: next plugin, then the default */
	RMX_ACCEPT = 1,     /* accept now: later plugins are not asked */
	RMX_REJECT = 2,     /* 5xx (set the reply with set_reply) */
	RMX_TEMPFAIL = 3,   /* 4xx (set the reply with set_reply) */
	RMX_DISCONNECT = 4, /* 421 and close the session */
	RMX_PENDING = 5,    /* answer later with complete() or post() */
};

/*
 * Hooks, over the whole life of a message. Stable numbers; 0 ends a
 * hook table. Which items (enum rmx_item) a hook may read is listed
 * with it; every hook may read the session items.
 */
enum rmx_hook_id {
	RMX_HOOK_CONNECT = 1,     /* new session, before the greeting */
	RMX_HOOK_HELO = 2,        /* HELO/EHLO; RMX_ITEM_HELO */
	RMX_HOOK_STARTTLS = 3,    /* TLS handshake done; RMX_ITEM_TLS_* */
	RMX_HOOK_AUTH = 4,        /* SMTP AUTH credentials: RMX_ITEM_AUTH_*;
				     ACCEPT = authenticated as AUTH_USER */
	RMX_HOOK_MAIL = 5,        /* MAIL FROM; RMX_ITEM_MAIL_FROM */
	RMX_HOOK_RCPT = 6,        /* each RCPT TO; RMX_ITEM_RCPT_CURRENT; may
				     rewrite it (rcpt_replace) */
	RMX_HOOK_DATA = 7,        /* end of data, before queueing: headers and
				     body readable, headers editable */
	RMX_HOOK_SIGN = 8,        /* after DATA, for mail from authenticated
				     users or relay networks: add signatures */
	RMX_HOOK_QUEUED = 9,      /* message durable; RMX_ITEM_QUEUE_ID
				     (informational: verdict ignored) */
	RMX_HOOK_ROUTE = 10,      /* choose the transport per recipient
				     (route_set); RMX_ITEM_RCPT_CURRENT */
	RMX_HOOK_DELIVERY = 11,   /* a delivery attempt's result for one
				     recipient (informational) */
	RMX_HOOK_BOUNCE = 12,     /* a bounce is about to be generated
				     (REJECT suppresses it) */
	RMX_HOOK_DISCONNECT = 13, /* session ended (informational) */
};

/* Facts a hook can read with get_item. Stable numbers, append-only. */
enum rmx_item {
	RMX_ITEM_SESSION_ID = 1,    /* decimal, unique in the process */
	RMX_ITEM_CLIENT_ADDR = 2,   /* textual IP of the client */
	RMX_ITEM_CLIENT_PORT = 3,   /* decimal */
	RMX_ITEM_LOCAL_ADDR = 4,    /* listener address "ip:port" */
	RMX_ITEM_LISTENER_MODE = 5, /* "smtp", "submission", "submissions" */
	RMX_ITEM_HELO = 6,          /* HELO/EHLO argument */
	RMX_ITEM_TLS_VERSION = 7,   /* e.g. "TLSv1.3"; absent without TLS */
	RMX_ITEM_TLS_CIPHER = 8,
	RMX_ITEM_AUTH_MECH = 9,        /* AUTH hook: "PLAIN", "LOGIN" */
	RMX_ITEM_AUTH_USER = 10,       /* AUTH hook: claimed identity; later:
					  the authenticated user */
	RMX_ITEM_AUTH_PASS = 11,       /* AUTH hook only: the password */
	RMX_ITEM_MAIL_FROM = 12,       /* reverse-path, "" for <> */
	RMX_ITEM_RCPT = 13,            /* accepted recipient number idx */
	RMX_ITEM_RCPT_COUNT = 14,      /* decimal */
	RMX_ITEM_RCPT_CURRENT = 15,    /* RCPT/ROUTE/DELIVERY: this recipient */
	RMX_ITEM_QUEUE_ID = 16,        /* 16 hex digits */
	RMX_ITEM_MSG_SIZE = 17,        /* decimal octets */
	RMX_ITEM_DELIVERY_STATUS = 18, /* DELIVERY/BOUNCE: "250 2.0.0 ..." */
	RMX_ITEM_WORKER = 19,          /* decimal worker index */
	RMX_ITEM_RELAY_ALLOWED = 20,   /* "1" if the client may relay */
};

/* Log levels (syslog numbering). */
enum rmx_log_level {
	RMX_LOG_ERR = 3,
	RMX_LOG_WARNING = 4,
	RMX_LOG_NOTICE = 5,
	RMX_LOG_INFO = 6,
	RMX_LOG_DEBUG = 7,
};

/*
 * Configuration handed to a plugin: its group from the main
 * configuration, flattened into key/value strings ("key", "group.key";
 * each element of a list or array is its own entry with the same key).
 * The keys "name" and "path" are the host's and are not passed.
 * The array ends with {NULL, NULL}. Borrowed for the call.
 */
struct rmx_kv {
	const char *key;
	const char *value;
};

struct rmx_call; /* one hook invocation (opaque) */

typedef enum rmx_verdict rmx_hook_fn(struct rmx_call *call, void *worker_state);

/* Hook table entry. */
#define RMX_HOOK_F_REQUIRED 0x1 /* refuse to load if the host lacks it */
struct rmx_hook {
	uint32_t id; /* enum rmx_hook_id; 0 ends the table */
	uint32_t flags;
	rmx_hook_fn *fn;
};

typedef void rmx_offload_work_fn(void *arg); /* runs on a pool thread */
typedef void rmx_offload_done_fn(struct rmx_call *call, void *arg);
typedef void rmx_timer_fn(struct rmx_call *call, void *arg);
typedef void rmx_dns_fn(struct rmx_call *call, int rcode, int secure,
    const void *answer, size_t len, void *arg);

/*
 * The host's functions. Read `size` before using anything added after
 * 1.0 (RMX_HOST_HAS). Unless said otherwise, functions return 0 on
 * success and a negative errno value on failure.
 */
struct rmx_host_api {
	uint32_t size;        /* sizeof(struct rmx_host_api) in the host */
	uint32_t abi_version; /* RMX_PLUGIN_ABI_VERSION of the host */

	/* log - one log line "event=plugin plugin=<name> ..." with the
	 * session and queue id of call (call may be NULL). Any thread. */
	void (*log)(struct rmx_call *call, int level, const char *fmt, ...)
	    __attribute__((format(printf, 3, 4)));

	/* get_item - a fact of the session or message. *val points to
	 * host memory valid for the call; *len its length (val is also
	 * NUL-terminated). -ENOENT when the item is absent here. */
	int (*get_item)(struct rmx_call *call, int item, size_t idx,
	    const char **val, size_t *len);

	/* set_reply - the SMTP reply for a REJECT/TEMPFAIL/DISCONNECT (or
	 * for an ACCEPT, replacing the default). code 200..599, enh an
	 * RFC 3463 code matching the class. Copied by the host. */
	int (*set_reply)(
	    struct rmx_call *call, int code, const char *enh, const char *text);

	/* complete - finish a call that answered RMX_PENDING, on its
	 * worker's thread (from a timer, DNS or offload callback). Calling
	 * it for a cancelled call is harmless. */
	void (*complete)(struct rmx_call *call, enum rmx_verdict v);

	/* post - complete() from any thread: the verdict is handed to the
	 * call's worker. */
	int (*post)(struct rmx_call *call, enum rmx_verdict v);

	/* call_alloc - memory freed by the host when the call ends. */
	void *(*call_alloc)(struct rmx_call *call, size_t n);

	/* Headers (DATA and SIGN hooks): iterate by index from 0;
	 * -ENOENT past the end. name/value borrowed; value is the raw
	 * field body including folding, without the final CRLF. */
	int (*header_get)(struct rmx_call *call, size_t idx, const char **name,
	    size_t *name_len, const char **value, size_t *value_len);
	/* header_add - prepend "name: value" (value may contain folded
	 * lines with CRLF + WSP). */
	int (*header_add)(
	    struct rmx_call *call, const char *name, const char *value);
	/* header_delete - remove header idx (as numbered by header_get
	 * before any change in this hook). */
	int (*header_delete)(struct rmx_call *call, size_t idx);
	/* body_read - up to len octets of the body (after the header
	 * section) from off; returns the number read, 0 at the end. */
	int64_t (*body_read)(
	    struct rmx_call *call, uint64_t off, void *buf, size_t len);

	/* Per-message notes, stored with the message and readable by later
	 * hooks (and other plugins): key [a-z0-9_.-]+, value text. */
	int (*note_set)(
	    struct rmx_call *call, const char *key, const char *value);
	int (*note_get)(
	    struct rmx_call *call, const char *key, const char **value);

	/* Per-session data for this plugin, freed with cleanup when the
	 * session ends. */
	int (*session_set)(
	    struct rmx_call *call, void *data, void (*cleanup)(void *data));
	void *(*session_get)(struct rmx_call *call);

	/* rcpt_replace - RCPT hook: replace the current recipient with
	 * these n addresses (aliases); n = 0 drops it silently. */
	int (*rcpt_replace)(
	    struct rmx_call *call, const char *const *addrs, size_t n);
	/* route_set - ROUTE hook: transport for the current recipient:
	 * "maildir", "lmtp:[host]:port", "lmtp:unix:/path",
	 * "smtp:[host]:port", "mx", "hold", "discard". */
	int (*route_set)(struct rmx_call *call, const char *transport);
	/* set_auth_user - AUTH hook: the identity to record when it
	 * answers RMX_ACCEPT (default: RMX_ITEM_AUTH_USER). */
	int (*set_auth_user)(struct rmx_call *call, const char *user);

	/* offload - run work(arg) on the host's offload pool, then
	 * done(call, arg) on the call's worker (not called if the call was
	 * cancelled; then work's result is the plugin's to release in its
	 * cancel callback or in work itself). */
	int (*offload)(struct rmx_call *call, rmx_offload_work_fn *work,
	    rmx_offload_done_fn *done, void *arg);
	/* timer_add - fn(call, arg) on the call's worker after ms
	 * milliseconds (second resolution is acceptable to the host); not
	 * called if the call was cancelled. */
	int (*timer_add)(
	    struct rmx_call *call, unsigned ms, rmx_timer_fn *fn, void *arg);
	/* dns_query - asynchronous DNS (class IN) through the worker's
	 * libunbound resolver (DNSSEC-validating, caching). fn runs later
	 * on the call's worker, never inside dns_query, and not at all if
	 * the call ended first. Its arguments: rcode (0 NOERROR, 3
	 * NXDOMAIN, 2 SERVFAIL also for a timeout, a bogus answer or a
	 * local failure), secure (1 DNSSEC-validated, 0 insecure, -1
	 * bogus), and the whole response message in wire format
	 * (answer/len, borrowed for the callback; NULL/0 when there is
	 * none). The host bounds every query with its DNS timeout.
	 * -EINVAL for an unusable name, -ENOSYS where the host has no
	 * resolver. */
	int (*dns_query)(struct rmx_call *call, const char *name, int rrtype,
	    rmx_dns_fn *fn, void *arg);

	/* Milliseconds of a monotonic clock. Any thread. */
	uint64_t (*now_ms)(void);

	/* New functions go here, at the end, with a MINOR bump. */
};

/* Whether the host offers fn (for plugins built against a newer minor). */
#define RMX_HOST_HAS(h, fn)                                                  \
	((h)->size >= offsetof(struct rmx_host_api, fn) + sizeof((h)->fn) && \
	    (h)->fn != NULL)

/* What a plugin tells the host about itself. Append-only. */
struct rmx_plugin {
	uint32_t size;        /* sizeof(struct rmx_plugin) in the plugin */
	uint32_t abi_version; /* RMX_PLUGIN_ABI_VERSION at plugin build */
	const char *name;     /* [a-z0-9_]+, unique in one host */
	const char *version;  /* free text */

	/* init - main thread, once, before any worker starts: validate cfg
	 * (an unknown or bad key is an error: write a message naming the
	 * key into err) and create the plugin state. 0 = ok. */
	int (*init)(const struct rmx_host_api *host, const struct rmx_kv *cfg,
	    void **plugin_state, char *err, size_t errlen);
	/* worker_init - on each worker's thread; worker_state is passed to
	 * every hook on that worker. 0 = ok. */
	int (*worker_init)(
	    void *plugin_state, unsigned worker, void **worker_state);
	void (*worker_fini)(void *worker_state);
	void (*fini)(void *plugin_state);
	/* cancel - a call that answered RMX_PENDING will never complete
	 * (its session died): release what the plugin holds for it. May be
	 * NULL if the plugin never answers RMX_PENDING. */
	void (*cancel)(struct rmx_call *call, void *worker_state);
	/* reconfigure - main thread, on reload: validate cfg and adopt it
	 * atomically for later hooks, or fail (0 = ok) leaving the old one
	 * in force. NULL: reload needs a restart for this plugin. */
	int (*reconfigure)(void *plugin_state, const struct rmx_kv *cfg,
	    char *err, size_t errlen);
	const struct rmx_hook *hooks; /* ends with {0, 0, NULL} */
};

/*
 * The entry point: return the plugin's descriptor (static storage), or
 * NULL with *why set if this plugin cannot run in a host of ABI
 * host_abi. Called once, on the main thread, right after dlopen.
 */
const struct rmx_plugin *RMX_PLUGIN_ENTRY(uint32_t host_abi, const char **why);

#ifdef __cplusplus
}
#endif

#endif
