/*
 * abi_pending.c - a test plugin (frozen ABI 1.0 header) for asynchronous
 * completion: its HELO hook answers RMX_PENDING and completes from a host
 * timer with the verdict named by the HELO argument ("reject", "accept",
 * anything else: continue); its cancel callback counts cancellations
 * (exported as abi_pending_cancelled for the test). Its MAIL hook accepts
 * "x@order.test" (hook chain order tests).
 */
#include <stdio.h>
#include <string.h>

#include "plugin-1.0.h"

static const struct rmx_host_api *host;
static unsigned cancelled;

__attribute__((visibility("default"))) unsigned abi_pending_cancelled(void);
__attribute__((visibility("default"))) unsigned
abi_pending_cancelled(void)
{
	return cancelled;
}

static int
init(const struct rmx_host_api *h, const struct rmx_kv *cfg, void **state,
    char *err, size_t errlen)
{
	host = h;
	if (cfg != NULL && cfg->key != NULL) {
		snprintf(
		    err, errlen, "abi_pending: unknown key \"%s\"", cfg->key);
		return -1;
	}
	*state = NULL;
	return 0;
}

static void
fire(struct rmx_call *call, void *arg)
{
	(void)arg;
	const char *helo;
	size_t len;

	if (host->get_item(call, RMX_ITEM_HELO, 0, &helo, &len) != 0)
		helo = "";
	if (strcmp(helo, "reject") == 0) {
		host->set_reply(call, 550, "5.7.1", "helo says reject");
		host->complete(call, RMX_REJECT);
	} else if (strcmp(helo, "accept") == 0) {
		host->complete(call, RMX_ACCEPT);
	} else {
		host->complete(call, RMX_CONTINUE);
	}
}

static enum rmx_verdict
on_helo(struct rmx_call *call, void *ws)
{
	(void)ws;
	if (host->timer_add(call, 0, fire, NULL) != 0)
		return RMX_TEMPFAIL;
	return RMX_PENDING;
}

static enum rmx_verdict
on_mail(struct rmx_call *call, void *ws)
{
	const char *from;
	size_t len;

	(void)ws;
	if (host->get_item(call, RMX_ITEM_MAIL_FROM, 0, &from, &len) == 0 &&
	    strcmp(from, "x@order.test") == 0)
		return RMX_ACCEPT;
	return RMX_CONTINUE;
}

static void
on_cancel(struct rmx_call *call, void *ws)
{
	(void)call;
	(void)ws;
	cancelled++;
}

static const struct rmx_hook hooks[] = {
    {RMX_HOOK_HELO, 0, on_helo},
    {RMX_HOOK_MAIL, 0, on_mail},
    {0, 0, NULL},
};

static const struct rmx_plugin plugin = {
    .size = sizeof(struct rmx_plugin),
    .abi_version = RMX_PLUGIN_ABI_VERSION,
    .name = "abi_pending",
    .version = "1.0",
    .init = init,
    .cancel = on_cancel,
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
