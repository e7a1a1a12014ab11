/*
 * abi_bad.c - plugins the host must refuse, one per build variant:
 *   -DBAD_MAJOR     exports only a v2 entry symbol (another major)
 *   -DBAD_NOSYM     exports no entry symbol at all
 *   -DBAD_REFUSE    entry returns NULL with a reason
 *   -DBAD_INIT      init fails with a message
 *   -DBAD_REQUIRED  requires a hook id this host does not know
 */
#include <stdio.h>
#include <string.h>

#include "plugin-1.0.h"

#define VIS __attribute__((visibility("default")))

__attribute__((unused)) static int
init(const struct rmx_host_api *h, const struct rmx_kv *cfg, void **state,
    char *err, size_t errlen)
{
	(void)h;
	(void)cfg;
	*state = NULL;
#ifdef BAD_INIT
	snprintf(err, errlen, "the key file is missing");
	return -1;
#else
	(void)err;
	(void)errlen;
	return 0;
#endif
}

__attribute__((unused)) static enum rmx_verdict
on_helo(struct rmx_call *call, void *ws)
{
	(void)call;
	(void)ws;
	return RMX_CONTINUE;
}

__attribute__((unused)) static const struct rmx_hook hooks[] = {
    {RMX_HOOK_HELO, 0, on_helo},
#ifdef BAD_REQUIRED
    {999, RMX_HOOK_F_REQUIRED, on_helo},
#endif
    {0, 0, NULL},
};

__attribute__((unused)) static const struct rmx_plugin plugin = {
    .size = sizeof(struct rmx_plugin),
    .abi_version = RMX_PLUGIN_ABI_VERSION,
    .name = "abi_bad",
    .version = "0",
    .init = init,
    .hooks = hooks,
};

#if defined(BAD_MAJOR)
VIS const struct rmx_plugin *rmx_plugin_entry_v2(uint32_t, const char **);
VIS const struct rmx_plugin *
rmx_plugin_entry_v2(uint32_t host_abi, const char **why)
{
	(void)host_abi;
	(void)why;
	return &plugin;
}
#elif defined(BAD_NOSYM)
VIS int not_a_plugin(void);
VIS int
not_a_plugin(void)
{
	return 0;
}
#else
VIS const struct rmx_plugin *
RMX_PLUGIN_ENTRY(uint32_t host_abi, const char **why)
{
	(void)host_abi;
#ifdef BAD_REFUSE
	*why = "needs a newer host";
	return NULL;
#else
	(void)why;
	return &plugin;
#endif
}
#endif
