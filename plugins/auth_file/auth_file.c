/*
 * auth_file.c - the auth_file plugin: SMTP AUTH (PLAIN, LOGIN) against a
 * file of argon2id password hashes, and the submission sender rules
 * (RFC 6409 6.1) for authenticated sessions: MAIL FROM and the From:
 * field must be addresses the user owns.
 *
 * TABLES. The password file and the sender table are loaded by init and
 * by reconfigure into an immutable struct af_tables and published with
 * one atomic pointer store; hooks read the current pointer. Replaced
 * tables are kept (linked from the new ones) until fini, so a hook that
 * still holds an old pointer never reads freed memory.
 *
 * VERIFICATION AND OWNERSHIP. crypto_pwhash_str_verify is slow by design
 * (argon2id), so the AUTH hook offloads it and answers RMX_PENDING. The
 * work item (struct pending) owns copies of the user name, the password
 * and the hash: nothing in it points to host memory or to the tables. It
 * has two owners, counted in pending.refs (starts at 2):
 *   - the pool side: af_work drops its reference when the verification
 *     is done (after wiping the password copy);
 *   - the worker side: af_done (call not cancelled) or af_cancel (call
 *     cancelled) drops the other one, after unlinking the item from the
 *     worker's list of pending items; worker_fini drops it for items
 *     still listed when the worker ends.
 * Whoever drops the last reference frees the item. The host calls either
 * done or cancel, never both, and never before the hook returned, so each
 * reference is dropped exactly once in every interleaving.
 *
 * An unknown user is verified against a dummy hash (same cost as the
 * first real entry) before the hook answers RMX_CONTINUE, so the time to
 * answer does not tell whether a user exists.
 */
#include <errno.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#include <sodium.h>

#include "af_addr.h"
#include "af_tables.h"
#include "ringmx/plugin.h"

#define PLUGIN_NAME "auth_file"

struct af_plugin {
	const struct rmx_host_api *host;
	_Atomic(struct af_tables *) cur; /* published tables */
	struct af_tables *all;           /* newest first (main thread) */
};

struct pending;

struct af_worker {
	struct af_plugin *p;
	struct pending *head; /* pending verifications (this worker only) */
};

struct pending {
	struct pending *prev, *next; /* in af_worker.head */
	struct af_worker *w;
	struct rmx_call *call;
	atomic_int refs;
	bool known; /* user in the password file */
	bool ok;    /* set by af_work: the password matches */
	char *user;
	char *pass;
	size_t passlen;
	char hash[crypto_pwhash_STRBYTES];
};

/* ---- configuration ---- */

struct cfg {
	const char *passwd;
	const char *senders;
};

static int
parse_cfg(const struct rmx_kv *kv, struct cfg *c, char *err, size_t errlen)
{
	memset(c, 0, sizeof(*c));
	for (; kv != NULL && kv->key != NULL; kv++) {
		const char **slot;
		if (strcmp(kv->key, "passwd") == 0) {
			slot = &c->passwd;
		} else if (strcmp(kv->key, "senders") == 0) {
			slot = &c->senders;
		} else {
			snprintf(err, errlen, "%s: unknown key %s", PLUGIN_NAME,
			    kv->key);
			return -1;
		}
		if (*slot != NULL) {
			snprintf(err, errlen, "%s: %s: given twice",
			    PLUGIN_NAME, kv->key);
			return -1;
		}
		if (kv->value == NULL || kv->value[0] == '\0') {
			snprintf(err, errlen,
			    "%s: %s: must be a non-empty path", PLUGIN_NAME,
			    kv->key);
			return -1;
		}
		*slot = kv->value;
	}
	if (c->passwd == NULL) {
		snprintf(err, errlen, "%s: passwd: required key missing",
		    PLUGIN_NAME);
		return -1;
	}
	return 0;
}

/* Load the files named by kv into new tables; message on error. */
static int
load(struct af_plugin *p, const struct rmx_kv *kv, struct af_tables **out,
    char *err, size_t errlen)
{
	char msg[512];
	struct cfg c;
	struct stat st;

	if (parse_cfg(kv, &c, err, errlen) != 0)
		return -1;
	if (af_tables_load(c.passwd, c.senders, out, msg, sizeof(msg)) != 0) {
		snprintf(err, errlen, "%s: %s", PLUGIN_NAME, msg);
		return -1;
	}
	if (stat(c.passwd, &st) == 0 && (st.st_mode & (S_IROTH | S_IWOTH)))
		p->host->log(NULL, RMX_LOG_WARNING,
		    "password file %s is accessible to other users "
		    "(chmod o-rwx)",
		    c.passwd);
	p->host->log(NULL, RMX_LOG_INFO, "loaded %zu users from %s%s%s",
	    (*out)->nusers, c.passwd, c.senders ? ", senders from " : "",
	    c.senders ? c.senders : "");
	return 0;
}

static int
af_init(const struct rmx_host_api *host, const struct rmx_kv *cfg,
    void **plugin_state, char *err, size_t errlen)
{
	struct af_plugin *p;
	struct af_tables *t;

	*plugin_state = NULL;
	if (!RMX_HOST_HAS(host, log) || !RMX_HOST_HAS(host, get_item) ||
	    !RMX_HOST_HAS(host, set_reply) || !RMX_HOST_HAS(host, complete) ||
	    !RMX_HOST_HAS(host, header_get) ||
	    !RMX_HOST_HAS(host, set_auth_user) ||
	    !RMX_HOST_HAS(host, offload)) {
		snprintf(err, errlen, "%s: the host lacks a needed function",
		    PLUGIN_NAME);
		return -1;
	}
	if (sodium_init() < 0) {
		snprintf(err, errlen, "%s: sodium_init failed", PLUGIN_NAME);
		return -1;
	}
	if ((p = calloc(1, sizeof(*p))) == NULL) {
		snprintf(err, errlen, "%s: out of memory", PLUGIN_NAME);
		return -1;
	}
	p->host = host;
	if (load(p, cfg, &t, err, errlen) != 0) {
		free(p);
		return -1;
	}
	p->all = t;
	atomic_init(&p->cur, t);
	*plugin_state = p;
	return 0;
}

static int
af_reconfigure(
    void *plugin_state, const struct rmx_kv *cfg, char *err, size_t errlen)
{
	struct af_plugin *p = plugin_state;
	struct af_tables *t;

	if (load(p, cfg, &t, err, errlen) != 0)
		return -1;
	t->older = p->all;
	p->all = t;
	atomic_store_explicit(&p->cur, t, memory_order_release);
	return 0;
}

static void
af_fini(void *plugin_state)
{
	struct af_plugin *p = plugin_state;
	struct af_tables *t, *n;

	if (p == NULL)
		return;
	for (t = p->all; t != NULL; t = n) {
		n = t->older;
		af_tables_free(t);
	}
	free(p);
}

static struct af_tables *
tables(const struct af_worker *w)
{
	return atomic_load_explicit(&w->p->cur, memory_order_acquire);
}

/* ---- workers and pending verifications ---- */

static int
af_worker_init(void *plugin_state, unsigned worker, void **worker_state)
{
	struct af_worker *w = calloc(1, sizeof(*w));

	(void)worker;
	if (w == NULL)
		return -1;
	w->p = plugin_state;
	*worker_state = w;
	return 0;
}

static void
unlink_pending(struct pending *it)
{
	if (it->prev != NULL)
		it->prev->next = it->next;
	else
		it->w->head = it->next;
	if (it->next != NULL)
		it->next->prev = it->prev;
	it->prev = it->next = NULL;
}

/* Drop one reference; the last one frees. */
static void
release(struct pending *it)
{
	if (atomic_fetch_sub_explicit(&it->refs, 1, memory_order_acq_rel) != 1)
		return;
	if (it->pass != NULL)
		sodium_memzero(it->pass, it->passlen);
	free(it->pass);
	free(it->user);
	free(it);
}

static void
af_worker_fini(void *worker_state)
{
	struct af_worker *w = worker_state;

	if (w == NULL)
		return;
	while (w->head != NULL) {
		struct pending *it = w->head;
		unlink_pending(it);
		release(it);
	}
	free(w);
}

/* Pool thread: the slow part. Touches only the item. */
static void
af_work(void *arg)
{
	struct pending *it = arg;

	it->ok = crypto_pwhash_str_verify(
		     it->hash, it->pass, (unsigned long long)it->passlen) == 0;
	sodium_memzero(it->pass, it->passlen);
	release(it);
}

/* Worker thread, call not cancelled: answer. */
static void
af_done(struct rmx_call *call, void *arg)
{
	struct pending *it = arg;
	const struct rmx_host_api *h = it->w->p->host;
	enum rmx_verdict v;

	if (!it->known)
		v = RMX_CONTINUE;
	else if (it->ok)
		v = RMX_ACCEPT;
	else
		v = RMX_REJECT;
	if (v == RMX_ACCEPT && h->set_auth_user(call, it->user) != 0)
		v = RMX_TEMPFAIL;
	unlink_pending(it);
	release(it);
	if (v == RMX_TEMPFAIL)
		h->set_reply(
		    call, 454, "4.7.0", "Temporary authentication failure");
	h->complete(call, v);
}

/* Worker thread: the session of a pending call died. */
static void
af_cancel(struct rmx_call *call, void *worker_state)
{
	struct af_worker *w = worker_state;

	for (struct pending *it = w->head; it != NULL; it = it->next) {
		if (it->call == call) {
			unlink_pending(it);
			release(it);
			return;
		}
	}
}

/* ---- hooks ---- */

static enum rmx_verdict
tempfail(const struct rmx_host_api *h, struct rmx_call *call)
{
	h->set_reply(call, 454, "4.7.0", "Temporary authentication failure");
	return RMX_TEMPFAIL;
}

static enum rmx_verdict
hook_auth(struct rmx_call *call, void *worker_state)
{
	struct af_worker *w = worker_state;
	const struct rmx_host_api *h = w->p->host;
	const struct af_tables *t = tables(w);
	const struct af_user *u;
	const char *mech, *user, *pass;
	size_t ulen, plen;
	struct pending *it;

	if (h->get_item(call, RMX_ITEM_AUTH_MECH, 0, &mech, NULL) != 0 ||
	    (strcmp(mech, "PLAIN") != 0 && strcmp(mech, "LOGIN") != 0))
		return RMX_CONTINUE;
	if (h->get_item(call, RMX_ITEM_AUTH_USER, 0, &user, &ulen) != 0 ||
	    h->get_item(call, RMX_ITEM_AUTH_PASS, 0, &pass, &plen) != 0)
		return RMX_CONTINUE;
	/* a name with a NUL inside is nobody's (but costs the same) */
	u = strlen(user) == ulen ? af_user_find(t, user) : NULL;
	if ((it = calloc(1, sizeof(*it))) == NULL)
		return tempfail(h, call);
	it->w = w;
	it->call = call;
	atomic_init(&it->refs, 2);
	it->known = u != NULL;
	snprintf(it->hash, sizeof(it->hash), "%s",
	    u != NULL ? u->hash : t->dummy_hash);
	it->user = strdup(user);
	it->pass = malloc(plen + 1);
	if (it->user == NULL || it->pass == NULL) {
		free(it->user);
		free(it->pass);
		free(it);
		return tempfail(h, call);
	}
	memcpy(it->pass, pass, plen);
	it->pass[plen] = '\0';
	it->passlen = plen;
	/* listed before offload: done may run before offload returns */
	it->next = w->head;
	if (w->head != NULL)
		w->head->prev = it;
	w->head = it;
	if (h->offload(call, af_work, af_done, it) != 0) {
		unlink_pending(it);
		atomic_store(&it->refs, 1);
		release(it);
		return tempfail(h, call);
	}
	return RMX_PENDING;
}

/* The 553 for addr, sanitised for an SMTP reply line. */
static enum rmx_verdict
not_owned(const struct rmx_host_api *h, struct rmx_call *call, const char *addr,
    const char *user)
{
	char a[256], u[256], text[600];

	snprintf(a, sizeof(a), "%s", addr);
	snprintf(u, sizeof(u), "%s", user);
	for (char *s = a; *s; s++)
		if ((unsigned char)*s < 0x20 || (unsigned char)*s >= 0x7f)
			*s = '?';
	for (char *s = u; *s; s++)
		if ((unsigned char)*s < 0x20 || (unsigned char)*s >= 0x7f)
			*s = '?';
	snprintf(text, sizeof(text),
	    "Sender address <%s> not owned by user <%s>", a, u);
	h->set_reply(call, 553, "5.7.1", text);
	return RMX_REJECT;
}

static enum rmx_verdict
hook_mail(struct rmx_call *call, void *worker_state)
{
	struct af_worker *w = worker_state;
	const struct rmx_host_api *h = w->p->host;
	const char *user, *from;
	char *addr;
	size_t n;
	bool ok;

	if (h->get_item(call, RMX_ITEM_AUTH_USER, 0, &user, NULL) != 0 ||
	    user[0] == '\0')
		return RMX_CONTINUE;
	if (h->get_item(call, RMX_ITEM_MAIL_FROM, 0, &from, &n) != 0)
		return RMX_CONTINUE;
	if (n >= 2 && from[0] == '<' && from[n - 1] == '>') {
		from++;
		n -= 2;
	}
	if (n == 0)
		return RMX_CONTINUE; /* null reverse-path: owns no address */
	if ((addr = strndup(from, n)) == NULL)
		return tempfail(h, call);
	ok = af_sender_allowed(tables(w), user, addr);
	if (!ok)
		not_owned(h, call, addr, user);
	free(addr);
	return ok ? RMX_CONTINUE : RMX_REJECT;
}

struct from_check {
	const struct af_tables *t;
	const char *user;
	char bad[256];
	size_t seen;
};

static int
from_addr(const char *addr, void *arg)
{
	struct from_check *fc = arg;

	fc->seen++;
	if (af_sender_allowed(fc->t, fc->user, addr))
		return 0;
	snprintf(fc->bad, sizeof(fc->bad), "%s", addr);
	return 1;
}

static enum rmx_verdict
hook_data(struct rmx_call *call, void *worker_state)
{
	struct af_worker *w = worker_state;
	const struct rmx_host_api *h = w->p->host;
	struct from_check fc;
	const char *name, *value;
	size_t nlen, vlen;
	int rc;

	memset(&fc, 0, sizeof(fc));
	if (h->get_item(call, RMX_ITEM_AUTH_USER, 0, &fc.user, NULL) != 0 ||
	    fc.user[0] == '\0')
		return RMX_CONTINUE;
	fc.t = tables(w);
	for (size_t i = 0;
	     h->header_get(call, i, &name, &nlen, &value, &vlen) == 0; i++) {
		if (nlen != 4 || strncasecmp(name, "From", 4) != 0)
			continue;
		fc.seen = 0;
		rc = af_mailbox_list(value, vlen, from_addr, &fc);
		if (rc == 1)
			return not_owned(h, call, fc.bad, fc.user);
		if (rc != 0 || fc.seen == 0) {
			h->set_reply(call, 553, "5.7.1",
			    "From: header field has no valid sender address");
			return RMX_REJECT;
		}
	}
	return RMX_CONTINUE;
}

/* ---- descriptor ---- */

static const struct rmx_hook hooks[] = {
    {RMX_HOOK_AUTH, RMX_HOOK_F_REQUIRED, hook_auth},
    {RMX_HOOK_MAIL, 0, hook_mail},
    {RMX_HOOK_DATA, 0, hook_data},
    {0, 0, NULL},
};

static const struct rmx_plugin plugin = {
    .size = sizeof(struct rmx_plugin),
    .abi_version = RMX_PLUGIN_ABI_VERSION,
    .name = PLUGIN_NAME,
    .version = "1.0",
    .init = af_init,
    .worker_init = af_worker_init,
    .worker_fini = af_worker_fini,
    .fini = af_fini,
    .cancel = af_cancel,
    .reconfigure = af_reconfigure,
    .hooks = hooks,
};

/* rmx_plugin_entry_v1 - the plugin's descriptor */
__attribute__((visibility("default"))) const struct rmx_plugin *
RMX_PLUGIN_ENTRY(uint32_t host_abi, const char **why)
{
	if (host_abi >> 16 != RMX_PLUGIN_ABI_MAJOR) {
		*why = "built for another plugin ABI major version";
		return NULL;
	}
	return &plugin;
}
