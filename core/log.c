/*
 * log.c - the event log (see log.h): one "key=value" line per event,
 * written with a single write(2) to stderr or to an O_APPEND file.
 *
 * Lives here: the log target, level filtering, line formatting and value
 * quoting. Not here: deciding what to log (callers), log rotation (reopen
 * with log_open from the main thread while no worker runs), syslog.
 *
 * Global state is exactly two variables: the target fd and the level.
 * log_open/log_close change the fd and must be called before threads
 * start (or while no other thread logs): a line being written while the
 * fd is swapped could go to a closed or reused descriptor. The level is
 * an atomic int, so log_set_level is safe at any time. log_event takes
 * no lock: each line is built in a stack buffer of at most PIPE_BUF
 * (4096) bytes and written at once, which O_APPEND files and pipes keep
 * whole.
 */
#include "log.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define LOG_LINE_MAX 4096 /* bytes including the newline; == PIPE_BUF */
#define TRUNC_MARK   " truncated=1\n"

static int log_fd = STDERR_FILENO;
static atomic_int log_level = LOG_INFO;

/* log_open - send the log to path (NULL = stderr) and set the level */
int
log_open(const char *path, int level)
{
	int fd = STDERR_FILENO, old;

	if (path != NULL) {
		fd =
		    open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0640);
		if (fd < 0)
			return -1;
	}
	old = log_fd;
	log_fd = fd;
	if (old > STDERR_FILENO && old != fd)
		close(old);
	log_set_level(level);
	return 0;
}

/* log_set_level - drop events less severe than level (LOG_ERR..LOG_DEBUG) */
void
log_set_level(int level)
{
	atomic_store_explicit(&log_level, level, memory_order_relaxed);
}

/* log_get_level - the current level */
int
log_get_level(void)
{
	return atomic_load_explicit(&log_level, memory_order_relaxed);
}

/* log_close - close a log file and go back to stderr */
void
log_close(void)
{
	int old = log_fd;

	log_fd = STDERR_FILENO;
	if (old > STDERR_FILENO)
		close(old);
}

static const char *
level_name(int level)
{
	switch (level) {
	case LOG_EMERG:
		return "emerg";
	case LOG_ALERT:
		return "alert";
	case LOG_CRIT:
		return "crit";
	case LOG_ERR:
		return "error";
	case LOG_WARNING:
		return "warning";
	case LOG_NOTICE:
		return "notice";
	case LOG_INFO:
		return "info";
	default:
		return "debug";
	}
}

/* Cut an over-long line to at most limit bytes without splitting an
 * escape or leaving a quoted value open; returns the new length. */
static size_t
truncate_line(char *line, size_t start, size_t limit)
{
	size_t i = start;
	bool quoted = false;

	while (i < limit - 1) { /* keep room for a closing quote */
		size_t len = 1;

		if (quoted && line[i] == '\\')
			len = line[i + 1] == 'x' ? 4 : 2;
		if (i + len > limit - 1)
			break;
		if (line[i] == '"')
			quoted = !quoted;
		i += len;
	}
	if (quoted)
		line[i++] = '"';
	return i;
}

/* log_event - format and write one event line (see log.h) */
void
log_event(int level, const char *event, const char *fmt, ...)
{
	char line[LOG_LINE_MAX + 1]; /* + the NUL vsnprintf writes */
	struct timespec ts;
	struct tm tm;
	size_t n, body;
	int saved = errno, r;

	if (level > log_get_level())
		return;
	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	n = strftime(line, sizeof(line), "ts=%Y-%m-%dT%H:%M:%S", &tm);
	r = snprintf(line + n, sizeof(line) - n, ".%03ldZ level=%s event=%s",
	    ts.tv_nsec / 1000000L, level_name(level),
	    event != NULL ? event : "-");
	n += r > 0 ? (size_t)r : 0;
	if (n > sizeof(line) - 1)
		n = sizeof(line) - 1;
	body = n;
	if (fmt != NULL && fmt[0] != '\0' && n < LOG_LINE_MAX - 1) {
		va_list ap;

		line[n++] = ' ';
		va_start(ap, fmt);
		r = vsnprintf(line + n, sizeof(line) - n, fmt, ap);
		va_end(ap);
		if (r <= 0)
			n--; /* nothing after the event: drop the space */
		else if ((size_t)r < sizeof(line) - n)
			n += (size_t)r;
		else
			n = sizeof(line);
	}
	/* Keep one event on one line whatever the caller passed. */
	for (size_t i = body; i < n && i < LOG_LINE_MAX; i++)
		if ((unsigned char)line[i] < 0x20 || line[i] == 0x7f)
			line[i] = '?';
	if (n + 1 > LOG_LINE_MAX) {
		n = truncate_line(
		    line, body, LOG_LINE_MAX - (sizeof(TRUNC_MARK) - 1));
		memcpy(line + n, TRUNC_MARK, sizeof(TRUNC_MARK) - 1);
		n += sizeof(TRUNC_MARK) - 1;
	} else {
		line[n++] = '\n';
	}
	/* One write(2): O_APPEND and PIPE_BUF keep lines whole. A short
	 * write (disk full) is not retried: half a line twice is worse. */
	while (write(log_fd, line, n) < 0 && errno == EINTR)
		;
	errno = saved;
}

/* log_quote - render s as a bare or double-quoted value (see log.h).
 * An empty (or NULL) string is rendered as "" so that the pair stays
 * visible. A value too long for out is cut on an escape boundary and,
 * when quoted, still closed with '"'. */
const char *
log_quote(const char *s, char *out, size_t outsz)
{
	static const char hex[] = "0123456789abcdef";
	bool bare = s != NULL && s[0] != '\0';
	size_t n = 0;

	if (outsz == 0)
		return out;
	if (s == NULL)
		s = "";
	for (const char *p = s; *p != '\0' && bare; p++) {
		unsigned char ch = (unsigned char)*p;

		if (ch <= 0x20 || ch >= 0x7f || ch == '"' || ch == '\\')
			bare = false;
	}
	if (bare) {
		size_t len = strlen(s);

		if (len >= outsz)
			len = outsz - 1;
		memcpy(out, s, len);
		out[len] = '\0';
		return out;
	}
	if (outsz < 3) { /* no room for "" */
		out[0] = '\0';
		return out;
	}
	out[n++] = '"';
	for (const char *p = s; *p != '\0'; p++) {
		unsigned char ch = (unsigned char)*p;
		char esc[4];
		size_t elen;

		if (ch == '"' || ch == '\\') {
			esc[0] = '\\';
			esc[1] = (char)ch;
			elen = 2;
		} else if (ch < 0x20 || ch >= 0x7f) {
			esc[0] = '\\';
			esc[1] = 'x';
			esc[2] = hex[ch >> 4];
			esc[3] = hex[ch & 0xf];
			elen = 4;
		} else {
			esc[0] = (char)ch;
			elen = 1;
		}
		if (n + elen + 2 > outsz) /* closing quote and NUL */
			break;
		memcpy(out + n, esc, elen);
		n += elen;
	}
	out[n++] = '"';
	out[n] = '\0';
	return out;
}
