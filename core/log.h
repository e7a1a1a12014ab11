/*
 * log.h - one line per event, to stderr or a file: "key=value" pairs
 * (the text format, the default) or one JSON object (log_format "json").
 *
 * Thread-safe: each line is formatted into a local buffer and written with
 * a single write(2) (O_APPEND for files), so lines from workers never
 * interleave and no lock is taken. Callers always write "key=value" text;
 * values with spaces, quotes or control characters must be passed through
 * log_quote(). In the JSON format that text is parsed back into members.
 */
#ifndef RINGMX_LOG_H
#define RINGMX_LOG_H

#include <stddef.h>
#include <syslog.h> /* LOG_ERR, LOG_WARNING, LOG_NOTICE, LOG_INFO, LOG_DEBUG */

/* Open the log target (NULL = stderr). 0 ok, -1 error (errno set). */
int log_open(const char *path, int level);
void log_set_level(int level);
/*
 * log_set_tap - also hand every line written (with its '\n') to fn, on the
 * thread that logs (control socket tracing). fn must be quick and must
 * not log. NULL removes it. Set once before threads start, or while
 * running: a line being written at that moment may still reach the old
 * tap (its arg must stay valid).
 */
typedef void log_tap_fn(void *arg, const char *line, size_t len);
void log_set_tap(log_tap_fn *fn, void *arg);
/* Reopen the log file (same path) behind the same descriptor: 0 or -1. */
int log_reopen(const char *path);
int log_get_level(void);
void log_close(void);

/* The line format (configuration key log_format). */
#define LOG_FORMAT_TEXT 0 /* ts=... level=... event=... k=v ... */
#define LOG_FORMAT_JSON 1 /* {"ts":"...","level":"...","event":"...",...} */
/* log_set_format - any other value means text; safe at any time */
void log_set_format(int format);
int log_get_format(void);

/*
 * log_event - write "ts=<RFC3339 UTC with ms> level=<lvl> event=<event> "
 * followed by the formatted pairs and a newline. Lines longer than 4 KiB
 * are truncated (marked with "truncated=1").
 *
 * In the JSON format the same line is one object: "ts", "level" and
 * "event" first, then one string member per pair of fmt's output, in
 * order (a "quoted" value is decoded; a word without '=' is a member with
 * an empty value; a pair named ts, level, event or truncated is renamed
 * with a leading '_'). Strings are JSON-escaped; bytes that are not valid
 * UTF-8 become \u00XX. A line cut at 4 KiB ends with "truncated":"1".
 */
void log_event(int level, const char *event, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* log_quote - render s as a safe value: bare if it has only printable
 * non-space ASCII other than '"' and '\\', else double-quoted with
 * \" \\ and \xNN escapes. Returns out (always NUL-terminated, truncated
 * to outsz). */
const char *log_quote(const char *s, char *out, size_t outsz);

#endif
