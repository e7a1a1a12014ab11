/*
 * abi_v1_0.c - a plugin built against the FROZEN ABI 1.0 header
 * (tests/abi/plugin-1.0.h), never against include/: every later ringmx
 * must load it and run its hooks (tests/unit/test_plugin_abi.c).
 * MAIL hook: rejects "abi-reject@example.test" with the reply it sets,
 * records a note, and keeps per-worker state.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "plugin-1.0.h"

static const struct rmx_host_api *host;

struct wstate {
	unsigned worker;
	unsigned calls;
};

static int
init(const struct rmx_host_api *h, const struct rmx_kv *cfg, void **state,
    char *err, size_t errlen)
{
	host = h;
	for (; cfg != NULL && cfg->key != NULL; cfg++) {
		if (strcmp(cfg->key, "fail") == 0 &&
		    strcmp(cfg->value, "yes") == 0) {
			snprintf(err, errlen, "asked to fail");
			return -1;
		}
		if (strcmp(cfg->key, "fail") != 0) {
			snprintf(err, errlen, "abi_v1_0: unknown key \"%s\"",
			    cfg->key);
			return -1;
		}
	}
	*state = NULL;
	return 0;
}

static int
worker_init(void *state, unsigned worker, void **ws)
{
	struct wstate *w = calloc(1, sizeof(*w));

	(void)state;
	if (w == NULL)
		return -1;
	w->worker = worker;
	*ws = w;
	return 0;
}

static void
worker_fini(void *ws)
{
	free(ws);
}

static void
fini(void *state)
{
	(void)state;
}

static enum rmx_verdict
on_mail(struct rmx_call *call, void *ws)
{
	struct wstate *w = ws;
	const char *from;
	size_t len;

	w->calls++;
	if (host->get_item(call, RMX_ITEM_MAIL_FROM, 0, &from, &len) != 0)
		return RMX_CONTINUE;
	host->note_set(call, "abi.seen", from);
	if (strcmp(from, "abi-reject@example.test") == 0) {
		host->set_reply(call, 550, "5.7.1", "rejected by abi_v1_0");
		return RMX_REJECT;
	}
	return RMX_CONTINUE;
}

static const struct rmx_hook hooks[] = {
    {RMX_HOOK_MAIL, 0, on_mail},
    {0, 0, NULL},
};

static const struct rmx_plugin plugin = {
    .size = sizeof(struct rmx_plugin),
    .abi_version = RMX_PLUGIN_ABI_VERSION,
    .name = "abi_v1_0",
    .version = "1.0",
    .init = init,
    .worker_init = worker_init,
    .worker_fini = worker_fini,
    .fini = fini,
    .hooks = hooks,
};

__attribute__((visibility("default"))) const struct rmx_plugin *
RMX_PLUGIN_ENTRY(uint32_t host_abi, const char **why)
{
	if (host_abi >> 16 != RMX_PLUGIN_ABI_MAJOR) {
		*why = "built for ABI major 1";
		return NULL;
	}
	return &plugin;
}
