/*
 * log.h - one line per event, "key=value" pairs, to stderr or a file.
 *
 * Thread-safe: each line is formatted into a local buffer and written with
 * a single write(2) (O_APPEND for files), so lines from workers never
 * interleave and no lock is taken. Values with spaces, quotes or control
 * characters must be passed through log_quote().
 */
#ifndef RINGMX_LOG_H
#define RINGMX_LOG_H

#include <stddef.h>
#include <syslog.h> /* LOG_ERR, LOG_WARNING, LOG_NOTICE, LOG_INFO, LOG_DEBUG */

/* Open the log target (NULL = stderr). 0 ok, -1 error (errno set). */
int log_open(const char *path, int level);
void log_set_level(int level);
int log_get_level(void);
void log_close(void);

/*
 * log_event - write "ts=<RFC3339 UTC with ms> level=<lvl> event=<event> "
 * followed by the formatted pairs and a newline. Lines longer than 4 KiB
 * are truncated (marked with "truncated=1").
 */
void log_event(int level, const char *event, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* log_quote - render s as a safe value: bare if it has only printable
 * non-space ASCII other than '"' and '\\', else double-quoted with
 * \" \\ and \xNN escapes. Returns out (always NUL-terminated, truncated
 * to outsz). */
const char *log_quote(const char *s, char *out, size_t outsz);

#endif
