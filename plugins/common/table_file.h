/*
 * table_file.h - what the table-driven plugins (rcpt_table, route_table,
 * auth_file) share to load a table file and serve it:
 *
 *   - messages naming the file and line: "WHO: FILE:LINE: what";
 *   - a line reader: each line that is not blank or a comment, trimmed,
 *     with its number (a NUL byte and a read error are errors);
 *   - blank, address and domain syntax helpers;
 *   - an arena (everything one table points to, freed at once);
 *   - a hash map from strings to 32-bit values, case-insensitive (ASCII);
 *   - the state of a plugin that answers from one table: init, fini,
 *     worker_init, worker_fini and reconfigure (which loads a new table
 *     and swaps an atomic pointer; replaced tables are kept until fini).
 *
 * Loading runs on one thread; a loaded table (arena and maps) is
 * read-only and may be read by any number of threads. Everything here is
 * hidden in each plugin's .so (-fvisibility=hidden).
 */
#ifndef RINGMX_TABLE_FILE_H
#define RINGMX_TABLE_FILE_H

#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "ringmx/plugin.h"

/* ---- messages ---- */

/* Who reads which file, and where its error message goes. */
struct tf_ctx {
	const char *who;  /* first word of a message: plugin name or key */
	const char *path; /* the file */
	char *err;        /* message buffer */
	size_t errlen;
};

/*
 * tf_error - write "WHO: PATH:LINE: message" (line > 0) or "WHO: PATH:
 * message" (line 0) into c->err, truncated to c->errlen. Returns -1.
 */
int tf_error(const struct tf_ctx *c, unsigned line, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* tf_verror - tf_error with a va_list */
int tf_verror(const struct tf_ctx *c, unsigned line, const char *fmt,
    va_list ap) __attribute__((format(printf, 3, 0)));

/* ---- the line reader ---- */

/* Reader flags. */
enum {
	/* '#' after a blank starts a comment too, not only at the start of
	 * a line */
	TF_INLINE_COMMENTS = 1,
};

struct tf_reader {
	const struct tf_ctx *ctx;
	unsigned flags;
	unsigned line; /* number of the line tf_next returned last */
	FILE *f;
	char *buf;
	size_t cap;
};

/*
 * tf_open - open c->path for tf_next. 0, or -1 with errno set and no
 * message (the caller words it).
 */
int tf_open(struct tf_reader *r, const struct tf_ctx *c, unsigned flags);
/*
 * tf_next - the next line that is not blank or a comment: comments cut,
 * blanks (CR and LF among them) trimmed at both ends; *text points into
 * the reader's buffer, valid until the next call, and may be modified.
 * 1 with *text and r->line set; 0 at the end of the file; -1 with a
 * message in r->ctx for a NUL byte in a line (with its line number) or a
 * read error.
 */
int tf_next(struct tf_reader *r, char **text);
/* tf_close - close the file and free the buffer */
void tf_close(struct tf_reader *r);

/* What tf_read calls with each line: 0 to go on, non-zero to stop. */
typedef int tf_line_fn(void *arg, unsigned line, char *text);

/*
 * tf_read - read c->path with tf_next, calling fn for each line, and
 * close it. 0 at the end of the file; -1 when it cannot be opened (the
 * message is strerror's), for an error of tf_next, or when fn returns
 * non-zero (fn writes the message).
 */
int tf_read(const struct tf_ctx *c, unsigned flags, tf_line_fn *fn, void *arg);

/* ---- syntax ---- */

/* tf_is_blank - space, tab, CR, LF, FF or VT */
bool tf_is_blank(char c);
/* tf_trim - s without blanks at either end (cut in place) */
char *tf_trim(char *s);
/*
 * tf_valid_domain - dot-separated labels of letters, digits and hyphens
 * (no hyphen at either end of a label), labels of 1 to 63 octets, 1 to
 * 253 octets in all
 */
bool tf_valid_domain(const char *d, size_t n);
/*
 * tf_valid_local - a local part of 1 to 64 octets, none of them a
 * control character, a blank, DEL, '@', ',', ':', '"', '<' or '>'
 */
bool tf_valid_local(const char *l, size_t n);

/* ---- the arena ---- */

struct tf_chunk;

struct tf_arena {
	struct tf_chunk *head; /* NULL: empty */
};

/* tf_arena_alloc - n bytes aligned for any type, or NULL */
void *tf_arena_alloc(struct tf_arena *a, size_t n);
/* tf_arena_strndup - a copy of s[0..n) with a NUL added, or NULL */
char *tf_arena_strndup(struct tf_arena *a, const char *s, size_t n);
/* tf_arena_free - free everything allocated from a */
void tf_arena_free(struct tf_arena *a);

/* ---- the case-insensitive hash map ---- */

struct tf_slot {
	const char *key; /* lower case; NULL: empty */
	size_t klen;
	uint64_t hash;
	uint32_t val;
};

/* A zeroed struct tf_map is an empty map. */
struct tf_map {
	struct tf_slot *slot;
	size_t cap, n; /* cap: 0 or a power of two; n: keys */
};

/* tf_map_find - the value of key[0..n) (any case), or NULL */
uint32_t *tf_map_find(const struct tf_map *m, const char *key, size_t n);
/*
 * tf_map_find2 - the value of the key made of p1[0..l1) and p2[0..l2)
 * (any case; nothing is copied), or NULL
 */
uint32_t *tf_map_find2(const struct tf_map *m, const char *p1, size_t l1,
    const char *p2, size_t l2);
/*
 * tf_map_put - add key[0..n), not present yet, with val: a lower-case
 * copy of the key goes into a (which must outlive the map). 0 or -ENOMEM.
 */
int tf_map_put(struct tf_map *m, struct tf_arena *a, const char *key, size_t n,
    uint32_t val);
/* tf_map_free - free the slots (not the keys: they are in an arena) */
void tf_map_free(struct tf_map *m);

/* ---- the plugin state: the current table ---- */

/* Put one first in each table a tf_plugin publishes. */
struct tf_snap {
	struct tf_snap *retired_next;
};

/*
 * Loads the table that cfg names (main thread): the new table, or NULL
 * with a message in err.
 */
typedef struct tf_snap *tf_load_fn(const struct rmx_host_api *host,
    const struct rmx_kv *cfg, char *err, size_t errlen);
/* Frees a table tf_load_fn made (NULL: nothing). */
typedef void tf_free_fn(struct tf_snap *t);

/*
 * The plugin state (and the worker state: the same pointer) of a plugin
 * that answers from one table. init and reconfigure load a table and
 * publish it with an atomic pointer; workers read it with tf_plugin_table
 * and never block. A replaced table is kept until fini: a worker may
 * still be reading it.
 */
struct tf_plugin {
	const struct rmx_host_api *host;
	tf_load_fn *load;
	tf_free_fn *free_table;
	_Atomic(struct tf_snap *) cur;
	struct tf_snap *retired; /* replaced tables, newest first */
};

/*
 * tf_plugin_init - the init of such a plugin: checks the host's ABI
 * major, loads the first table and makes the state. 0, or -1 with a
 * message ("WHO: ...") in err.
 */
int tf_plugin_init(const char *who, tf_load_fn *load, tf_free_fn *free_table,
    const struct rmx_host_api *host, const struct rmx_kv *cfg,
    void **plugin_state, char *err, size_t errlen);
/*
 * tf_plugin_reconfigure - the reconfigure (struct rmx_plugin): load the
 * new table and publish it; on error the current one stays.
 */
int tf_plugin_reconfigure(
    void *plugin_state, const struct rmx_kv *cfg, char *err, size_t errlen);
/* tf_plugin_fini - the fini: free every table and the state */
void tf_plugin_fini(void *plugin_state);
/* tf_plugin_worker_init - the worker_init: workers share the state */
int tf_plugin_worker_init(
    void *plugin_state, unsigned worker, void **worker_state);
/* tf_plugin_worker_fini - the worker_fini: nothing to free */
void tf_plugin_worker_fini(void *worker_state);
/*
 * tf_plugin_rcpt - the current recipient of call without its angle
 * brackets: 0 with *addr and *len set, or -1 (no recipient).
 */
int tf_plugin_rcpt(const struct tf_plugin *p, struct rmx_call *call,
    const char **addr, size_t *len);

/* The current table (any thread). */
static inline struct tf_snap *
tf_plugin_table(const struct tf_plugin *p)
{
	return atomic_load_explicit(&p->cur, memory_order_acquire);
}

#endif
