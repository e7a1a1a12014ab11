/*
 * fake_host.h - a fake ringmx host for plugin unit tests: a complete
 * struct rmx_host_api over an in-memory "call" whose items, headers and
 * body the test sets, and whose outputs (verdict of complete(), reply,
 * replaced recipients, route, auth user, added headers) it inspects.
 * offload runs work then done synchronously on the calling thread; timers
 * fire when the test calls fake_run_timers().
 */
#ifndef RINGMX_FAKE_HOST_H
#define RINGMX_FAKE_HOST_H

#include <stdbool.h>
#include <stddef.h>

#include "ringmx/plugin.h"

#define FAKE_MAX 64

struct rmx_call {
	const char *items[32][4]; /* items[item][idx] */
	/* headers: name, value (value without CRLF); deleted = NULL name */
	char *hname[FAKE_MAX], *hvalue[FAKE_MAX];
	size_t nheaders;
	const char *body;
	size_t body_len;
	/* outputs */
	int reply_code;
	char reply_enh[16], reply_text[512];
	bool completed;
	enum rmx_verdict completed_verdict;
	char *replaced[FAKE_MAX];
	size_t nreplaced;
	bool replace_called;
	char route[256];
	char auth_user[256];
	char *notes_k[FAKE_MAX], *notes_v[FAKE_MAX];
	size_t nnotes;
	void *session_data;
	void (*session_cleanup)(void *);
	void *allocs[FAKE_MAX * 4];
	size_t nallocs;
	/* pending timers */
	rmx_timer_fn *timer_fn[8];
	void *timer_arg[8];
	size_t ntimers;
};

/* The host table (static). */
const struct rmx_host_api *fake_host(void);
void fake_call_init(struct rmx_call *c);
/* Frees allocations, headers, notes, replaced addrs; runs cleanup. */
void fake_call_free(struct rmx_call *c);
void fake_set_item(struct rmx_call *c, int item, size_t idx, const char *v);
void fake_add_header(struct rmx_call *c, const char *name, const char *value);
void fake_run_timers(struct rmx_call *c);

/*
 * fake_load - dlopen a plugin .so, check its entry point and run init
 * with cfg (NULL-terminated key/value pairs: k1, v1, k2, v2, ..., NULL).
 * Returns the descriptor; *state gets the plugin state. On failure
 * returns NULL with the plugin's message in err.
 */
const struct rmx_plugin *fake_load(const char *so_path, const char **cfg,
    void **state, char *err, size_t errlen);
/* The hook function for id, or NULL. */
rmx_hook_fn *fake_hook(const struct rmx_plugin *p, unsigned id);

#endif
