/*
 * example.c - the example plugin: a small, complete ringmx plugin written
 * to be read. It rejects MAIL FROM addresses whose domain is on a
 * configured list:
 *
 *     plugins = ( { name = "example";
 *                   path = "/usr/local/lib/ringmx/plugins/example.so";
 *                   reject_domain = [ "spam.example", "junk.example" ]; } );
 *
 * and answers such a MAIL FROM with
 *
 *     550 5.7.1 Sender domain <spam.example> is not accepted here
 *
 * It shows every piece a plugin needs: the entry point and its ABI check,
 * the descriptor, configuration checking in init, per-worker state,
 * a hook table, reading an item (get_item), answering with a reply
 * (set_reply), logging, and cleaning up (worker_fini, fini).
 *
 * Build it out of the source tree against an installed ringmx:
 *
 *     cc -shared -fPIC $(pkg-config --cflags ringmx) -o example.so example.c
 *
 * A plugin needs nothing but <ringmx/plugin.h> and the C library. The
 * entry point is the only symbol it has to export; every other function
 * here is static.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <ringmx/plugin.h>

/*
 * Plugin state: created by init on the main thread, then only read by
 * the workers (so it needs no lock). Anything a worker would write goes
 * into its worker state instead.
 */
struct example {
	const struct rmx_host_api *host; /* valid until fini */
	char **domains;                  /* lower case, no trailing dot */
	size_t ndomains;
};

/*
 * Worker state: one per worker thread, created by worker_init on that
 * thread and handed to every hook running there. Hooks of one worker
 * never run concurrently, so the counter needs no atomics.
 */
struct example_worker {
	const struct example *ex;
	unsigned worker;
	unsigned long rejected;
};

/* ASCII lower case: domains compare case-insensitively. */
static char
ascii_lower(char c)
{
	return c >= 'A' && c <= 'Z' ? (char)(c - 'A' + 'a') : c;
}

/* Whether d[0..n) equals the configured (lower-case) domain want. */
static int
domain_equal(const char *d, size_t n, const char *want)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (want[i] == '\0' || ascii_lower(d[i]) != want[i])
			return 0;
	return want[i] == '\0';
}

static void
example_free(struct example *ex)
{
	for (size_t i = 0; i < ex->ndomains; i++)
		free(ex->domains[i]);
	free(ex->domains);
	free(ex);
}

/*
 * Add one reject_domain value. Configuration errors are reported in err
 * and name the plugin and the key, like the host's own messages.
 */
static int
add_domain(struct example *ex, const char *v, char *err, size_t errlen)
{
	size_t n = strlen(v);
	char **nd, *d;

	if (n > 0 && v[n - 1] == '.')
		n--; /* "example.org." is "example.org" */
	if (n == 0 || n > 253 || strcspn(v, " \t@<>") < n) {
		snprintf(err, errlen,
		    "example: bad value for key \"reject_domain\": \"%s\"", v);
		return -1;
	}
	nd = realloc(ex->domains, (ex->ndomains + 1) * sizeof(*nd));
	if (nd == NULL)
		goto nomem;
	ex->domains = nd;
	d = malloc(n + 1);
	if (d == NULL)
		goto nomem;
	for (size_t i = 0; i < n; i++)
		d[i] = ascii_lower(v[i]);
	d[n] = '\0';
	ex->domains[ex->ndomains++] = d;
	return 0;
nomem:
	snprintf(err, errlen, "example: out of memory");
	return -1;
}

/*
 * init - main thread, once, before the workers start. cfg is this
 * plugin's group of the main configuration as key/value strings; a list
 * such as reject_domain = [ "a", "b" ] arrives as one entry per element
 * with the same key. Reject what you do not understand: an unknown key is
 * most likely a typo the operator wants to hear about.
 */
static int
ex_init(const struct rmx_host_api *host, const struct rmx_kv *cfg,
    void **plugin_state, char *err, size_t errlen)
{
	struct example *ex;

	/* The entry point already checked the major version; a plugin that
	 * used a function added in a later 1.x would check it here with
	 * RMX_HOST_HAS(host, fn). This one only uses ABI 1.0. */
	ex = calloc(1, sizeof(*ex));
	if (ex == NULL) {
		snprintf(err, errlen, "example: out of memory");
		return -1;
	}
	ex->host = host;
	for (; cfg->key != NULL; cfg++) {
		if (strcmp(cfg->key, "reject_domain") != 0) {
			snprintf(err, errlen, "example: unknown key \"%s\"",
			    cfg->key);
			example_free(ex);
			return -1;
		}
		if (add_domain(ex, cfg->value, err, errlen) != 0) {
			example_free(ex);
			return -1;
		}
	}
	if (ex->ndomains == 0) {
		snprintf(err, errlen,
		    "example: key \"reject_domain\" is required "
		    "(one or more domains)");
		example_free(ex);
		return -1;
	}
	/* call is NULL: this line belongs to no session. */
	host->log(NULL, RMX_LOG_INFO, "reject_domains=%zu", ex->ndomains);
	*plugin_state = ex;
	return 0;
}

/* worker_init - on each worker's thread: its private state. */
static int
ex_worker_init(void *plugin_state, unsigned worker, void **worker_state)
{
	struct example_worker *w = calloc(1, sizeof(*w));

	if (w == NULL)
		return -1;
	w->ex = plugin_state;
	w->worker = worker;
	*worker_state = w;
	return 0;
}

/* worker_fini - on the same thread, when the worker stops. */
static void
ex_worker_fini(void *worker_state)
{
	struct example_worker *w = worker_state;

	w->ex->host->log(NULL, RMX_LOG_INFO, "worker=%u rejected=%lu",
	    w->worker, w->rejected);
	free(w);
}

/* fini - main thread, after every worker_fini. */
static void
ex_fini(void *plugin_state)
{
	example_free(plugin_state);
}

/*
 * The MAIL hook: runs for every MAIL FROM, on the session's worker. It
 * must not block (no files, no sockets, no locks held long): this one
 * only compares strings. It answers
 *   RMX_CONTINUE - no opinion: the next plugin, then ringmx, decides;
 *   RMX_REJECT   - refuse, with the reply set by set_reply.
 */
static enum rmx_verdict
ex_mail(struct rmx_call *call, void *worker_state)
{
	struct example_worker *w = worker_state;
	const struct rmx_host_api *host = w->ex->host;
	const char *from, *at, *dom;
	size_t len, dlen;
	char text[320];

	/* Items are borrowed: valid until the hook returns. */
	if (host->get_item(call, RMX_ITEM_MAIL_FROM, 0, &from, &len) != 0)
		return RMX_CONTINUE;
	at = strrchr(from, '@');
	if (at == NULL) /* the null sender <> is "", no domain */
		return RMX_CONTINUE;
	dom = at + 1;
	dlen = len - (size_t)(dom - from);
	if (dlen > 0 && dom[dlen - 1] == '.')
		dlen--;
	for (size_t i = 0; i < w->ex->ndomains; i++) {
		if (!domain_equal(dom, dlen, w->ex->domains[i]))
			continue;
		/* The host copies the reply: a stack buffer is fine. */
		snprintf(text, sizeof(text),
		    "Sender domain <%.*s> is not accepted here",
		    (int)(dlen > 255 ? 255 : dlen), dom);
		host->set_reply(call, 550, "5.7.1", text);
		host->log(call, RMX_LOG_NOTICE, "action=reject from=%s", from);
		w->rejected++;
		return RMX_REJECT;
	}
	return RMX_CONTINUE;
}

/*
 * The hook table: which hooks, which function. It ends with {0, 0, NULL}.
 * RMX_HOOK_F_REQUIRED makes the host refuse the plugin if it does not
 * offer the hook, rather than load it and silently never call it.
 */
static const struct rmx_hook ex_hooks[] = {
    {RMX_HOOK_MAIL, RMX_HOOK_F_REQUIRED, ex_mail},
    {0, 0, NULL},
};

/*
 * The descriptor, in static storage. size and abi_version let a host of
 * another 1.x minor know which fields this plugin has. reconfigure is
 * NULL: changing reject_domain needs a restart (see rcpt_table for a
 * plugin that reloads). cancel is NULL: this plugin never answers
 * RMX_PENDING.
 */
static const struct rmx_plugin ex_plugin = {
    .size = sizeof(struct rmx_plugin),
    .abi_version = RMX_PLUGIN_ABI_VERSION,
    .name = "example",
    .version = "1.0",
    .init = ex_init,
    .worker_init = ex_worker_init,
    .worker_fini = ex_worker_fini,
    .fini = ex_fini,
    .cancel = NULL,
    .reconfigure = NULL,
    .hooks = ex_hooks,
};

/*
 * rmx_plugin_entry_v1 - the entry point, the one exported symbol. The
 * host calls it right after dlopen with its own ABI version. A host of
 * another major version has a different contract: refuse it with a
 * reason. Any 1.x host is fine, newer or older, since this plugin uses
 * nothing beyond ABI 1.0.
 */
__attribute__((visibility("default"))) const struct rmx_plugin *
RMX_PLUGIN_ENTRY(uint32_t host_abi, const char **why)
{
	if (host_abi >> 16 != RMX_PLUGIN_ABI_MAJOR) {
		if (why != NULL)
			*why = "example is built for plugin ABI 1.x";
		return NULL;
	}
	return &ex_plugin;
}
