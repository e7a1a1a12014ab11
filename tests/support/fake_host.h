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

/*
 * DNS. fake_dns_add - the answer to (rrtype, name): rcode (0, 2, 3...,
 * or FAKE_DNS_TIMEOUT for no answer: SERVFAIL without a message) and the
 * answer records as zone-file lines separated by '\n' ("example.org. 300
 * IN TXT \"v=spf1 -all\""), NULL or "" for none. A name absent from the
 * table is NXDOMAIN; a name present with other types only is NODATA.
 * Queries wait until fake_run_dns(c) answers every one of call c (NULL:
 * all), including those asked from inside callbacks; it returns how many
 * it answered. fake_dns_drop forgets c's queries (a cancelled call).
 */
#define FAKE_DNS_TIMEOUT (-1)
void fake_dns_add(int rrtype, const char *name, int rcode, const char *rrs);
void fake_dns_reset(void);
size_t fake_run_dns(struct rmx_call *c);
size_t fake_dns_pending(void);
size_t fake_dns_asked(void);
void fake_dns_drop(struct rmx_call *c);

#endif
