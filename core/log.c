/*
 * log.c - the event log (see log.h): one line per event, "key=value"
 * text or one JSON object, written with a single write(2) to stderr or
 * to an O_APPEND file.
 *
 * Lives here: the log target, level filtering, line formatting, value
 * quoting, and the translation of the callers' "key=value" text into
 * JSON members. Not here: deciding what to log (callers), log rotation
 * (reopen with log_open from the main thread while no worker runs),
 * syslog.
 *
 * Global state is exactly three variables: the target fd, the level and
 * the format. log_open/log_close change the fd and must be called before
 * threads start (or while no other thread logs): a line being written
 * while the fd is swapped could go to a closed or reused descriptor. The
 * level and the format are atomic ints, so log_set_level and
 * log_set_format are safe at any time. log_event takes no lock: each
 * line is built in a stack buffer of at most PIPE_BUF (4096) bytes and
 * written at once, which O_APPEND files and pipes keep whole.
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

#define JSON_TRUNC ",\"truncated\":\"1\"}\n"

static int log_fd = STDERR_FILENO;
static atomic_int log_level = LOG_INFO;
static atomic_int log_format = LOG_FORMAT_TEXT;

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

/* log_reopen - SIGUSR1 (logrotate): open path again and put it behind
 * the same descriptor with dup2, so that threads writing at that moment
 * never see a closed or reused descriptor. */
int
log_reopen(const char *path)
{
	int fd;

	if (path == NULL || log_fd <= STDERR_FILENO)
		return 0;
	fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0640);
	if (fd < 0)
		return -1;
	if (dup2(fd, log_fd) < 0) {
		close(fd);
		return -1;
	}
	close(fd);
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

/* log_set_format - LOG_FORMAT_TEXT or LOG_FORMAT_JSON (else text) */
void
log_set_format(int format)
{
	if (format != LOG_FORMAT_JSON)
		format = LOG_FORMAT_TEXT;
	atomic_store_explicit(&log_format, format, memory_order_relaxed);
}

/* log_get_format - the current format */
int
log_get_format(void)
{
	return atomic_load_explicit(&log_format, memory_order_relaxed);
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

/* The text line: "ts=... level=... event=..." and the caller's pairs,
 * control characters replaced, cut at LOG_LINE_MAX. Returns its length. */
static size_t __attribute__((format(printf, 5, 0)))
text_line(char *line, const char *stamp, int level, const char *event,
    const char *fmt, va_list ap)
{
	size_t n, body, size = LOG_LINE_MAX + 1;
	int r;

	r = snprintf(line, size, "ts=%s level=%s event=%s", stamp,
	    level_name(level), event != NULL ? event : "-");
	n = r > 0 ? (size_t)r : 0;
	if (n > size - 1)
		n = size - 1;
	body = n;
	if (fmt != NULL && fmt[0] != '\0' && n < LOG_LINE_MAX - 1) {
		line[n++] = ' ';
		r = vsnprintf(line + n, size - n, fmt, ap);
		if (r <= 0)
			n--; /* nothing after the event: drop the space */
		else if ((size_t)r < size - n)
			n += (size_t)r;
		else
			n = size;
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
	return n;
}

/* ---- JSON lines ------------------------------------------------------ */

/*
 * A bounded writer into a line of LOG_LINE_MAX bytes. Everything goes in
 * under limit (LOG_LINE_MAX - 1 - the truncation mark); the byte above it
 * is kept for the closing quote of a value that was cut, and the rest for
 * the mark or "}\n". Each escape is put whole or not at all.
 */
struct jw {
	char *buf;
	size_t n, limit;
	bool full;
};

static bool
jw_put(struct jw *w, const char *p, size_t len)
{
	if (w->full || w->n + len > w->limit) {
		w->full = true;
		return false;
	}
	memcpy(w->buf + w->n, p, len);
	w->n += len;
	return true;
}

/* Length of the well-formed UTF-8 sequence at p (RFC 3629 table 3-7: no
 * overlong forms, no surrogates, nothing above U+10FFFF), 0 if none. */
static size_t
utf8_len(const unsigned char *p, size_t avail)
{
	unsigned char c = p[0], lo = 0x80, hi = 0xbf;
	size_t len;

	if (c >= 0xc2 && c <= 0xdf) {
		len = 2;
	} else if (c >= 0xe0 && c <= 0xef) {
		len = 3;
		lo = c == 0xe0 ? 0xa0 : 0x80;
		hi = c == 0xed ? 0x9f : 0xbf;
	} else if (c >= 0xf0 && c <= 0xf4) {
		len = 4;
		lo = c == 0xf0 ? 0x90 : 0x80;
		hi = c == 0xf4 ? 0x8f : 0xbf;
	} else {
		return 0;
	}
	if (len > avail || p[1] < lo || p[1] > hi)
		return 0;
	for (size_t i = 2; i < len; i++)
		if (p[i] < 0x80 || p[i] > 0xbf)
			return 0;
	return len;
}

/* Append s[0..len) as the inside of a JSON string: '"' and '\\'
 * escaped, control characters and DEL as \n \r \t or \u00XX, valid UTF-8
 * as is, every other byte as \u00XX (its value, as if Latin-1). */
static void
jw_escape(struct jw *w, const char *s, size_t len)
{
	static const char hex[] = "0123456789abcdef";
	const unsigned char *p = (const unsigned char *)s;
	size_t i = 0;

	while (i < len && !w->full) {
		unsigned char ch = p[i];
		char esc[6];
		size_t elen = 1, adv = 1;

		if (ch == '"' || ch == '\\') {
			esc[0] = '\\';
			esc[1] = (char)ch;
			elen = 2;
		} else if (ch == '\n' || ch == '\r' || ch == '\t') {
			esc[0] = '\\';
			esc[1] = ch == '\n' ? 'n' : ch == '\r' ? 'r' : 't';
			elen = 2;
		} else if (ch >= 0x80 && (adv = utf8_len(p + i, len - i)) > 0) {
			if (!jw_put(w, s + i, adv))
				return;
			i += adv;
			continue;
		} else if (ch < 0x20 || ch >= 0x7f) {
			memcpy(esc, "\\u00", 4);
			esc[4] = hex[ch >> 4];
			esc[5] = hex[ch & 0xf];
			elen = 6;
			adv = 1;
		} else {
			esc[0] = (char)ch;
		}
		if (!jw_put(w, esc, elen))
			return;
		i += adv;
	}
}

/* Member names the line itself uses; a caller's pair of that name gets
 * a leading '_' so that no object has a member twice. */
static bool
reserved_key(const char *k, size_t len)
{
	static const char *const names[] = {
	    "ts", "level", "event", "truncated"};

	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (strlen(names[i]) == len && memcmp(k, names[i], len) == 0)
			return true;
	return false;
}

/* ,"key":"value" - all of it, or (when not even the key fits) nothing;
 * a value too long is cut on an escape boundary and still closed. */
static void
jw_member(struct jw *w, const char *k, size_t klen, const char *v, size_t vlen,
    bool rename)
{
	size_t mark = w->n;

	jw_put(w, ",\"", 2);
	if (rename)
		jw_put(w, "_", 1);
	jw_escape(w, k, klen);
	jw_put(w, "\":\"", 3);
	if (w->full) {
		w->n = mark;
		return;
	}
	jw_escape(w, v, vlen);
	w->buf[w->n++] = '"'; /* the byte kept above limit */
}

static int
hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/*
 * The callers' text, "k1=v1 k2="v 2" ...", as JSON members. A key runs
 * up to '=' or a space (a word without '=' becomes a member with an empty
 * value); a value is bare up to the next space, or "quoted" as log_quote
 * writes it: \" \\ and \xNN are decoded, and the quote ends only before a
 * space or the end (a stray '"' inside stays part of the value). An
 * unterminated quote runs to the end of the text.
 */
static void
json_pairs(struct jw *w, const char *p, const char *end)
{
	char dec[LOG_LINE_MAX];

	while (p < end && !w->full) {
		const char *k, *v;
		size_t klen, vlen = 0;

		while (p < end && *p == ' ')
			p++;
		if (p >= end)
			break;
		k = p;
		while (p < end && *p != '=' && *p != ' ')
			p++;
		klen = (size_t)(p - k);
		v = p;
		if (p < end && *p == '=' && p + 1 < end && p[1] == '"') {
			p += 2;
			v = dec;
			while (p < end && vlen < sizeof(dec)) {
				int hi, lo;

				if (*p == '"' &&
				    (p + 1 == end || p[1] == ' ')) {
					p++;
					break;
				}
				if (*p == '\\' && p + 1 < end &&
				    (p[1] == '"' || p[1] == '\\')) {
					dec[vlen++] = p[1];
					p += 2;
				} else if (*p == '\\' && p + 3 < end &&
					   p[1] == 'x' &&
					   (hi = hexval(p[2])) >= 0 &&
					   (lo = hexval(p[3])) >= 0) {
					dec[vlen++] = (char)(hi << 4 | lo);
					p += 4;
				} else {
					dec[vlen++] = *p++;
				}
			}
		} else if (p < end && *p == '=') {
			v = ++p;
			while (p < end && *p != ' ')
				p++;
			vlen = (size_t)(p - v);
		}
		jw_member(w, k, klen, v, vlen, reserved_key(k, klen));
	}
}

/* The JSON line: {"ts":"...","level":"...","event":"...", the caller's
 * pairs as string members} and a newline, at most LOG_LINE_MAX bytes
 * (cut short with "truncated":"1"). Returns its length. */
static size_t __attribute__((format(printf, 5, 0)))
json_line(char *line, const char *stamp, int level, const char *event,
    const char *fmt, va_list ap)
{
	char body[LOG_LINE_MAX + 1];
	struct jw w = {
	    line, 0, LOG_LINE_MAX - 1 - (sizeof(JSON_TRUNC) - 1), false};
	size_t blen = 0;
	bool cut = false;
	int r;

	r = snprintf(line, w.limit, "{\"ts\":\"%s\",\"level\":\"%s\"", stamp,
	    level_name(level));
	w.n = r > 0 && (size_t)r < w.limit ? (size_t)r : 0;
	if (event == NULL)
		event = "-";
	jw_member(&w, "event", 5, event, strlen(event), false);
	if (fmt != NULL && fmt[0] != '\0') {
		r = vsnprintf(body, sizeof(body), fmt, ap);
		if (r > 0) {
			blen = (size_t)r;
			if (blen >= sizeof(body)) {
				blen = sizeof(body) - 1;
				cut = true;
			}
		}
		json_pairs(&w, body, body + blen);
	}
	if (w.full || cut) {
		memcpy(line + w.n, JSON_TRUNC, sizeof(JSON_TRUNC) - 1);
		w.n += sizeof(JSON_TRUNC) - 1;
	} else {
		memcpy(line + w.n, "}\n", 2);
		w.n += 2;
	}
	return w.n;
}

/* The tap (log_set_tap): SHARED, read by every thread that logs. */
static _Atomic(log_tap_fn *) tap_fn;
static void *_Atomic tap_arg;

void
log_set_tap(log_tap_fn *fn, void *arg)
{
	atomic_store(&tap_arg, arg);
	atomic_store(&tap_fn, fn);
}

/* log_event - format and write one event line (see log.h) */
void
log_event(int level, const char *event, const char *fmt, ...)
{
	char line[LOG_LINE_MAX + 1]; /* + the NUL vsnprintf writes */
	char stamp[48];
	struct timespec ts;
	struct tm tm;
	va_list ap;
	size_t n;
	int saved = errno;

	if (level > log_get_level())
		return;
	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	n = strftime(stamp, sizeof(stamp), "%Y-%m-%dT%H:%M:%S", &tm);
	snprintf(
	    stamp + n, sizeof(stamp) - n, ".%03ldZ", ts.tv_nsec / 1000000L);
	va_start(ap, fmt);
	if (log_get_format() == LOG_FORMAT_JSON)
		n = json_line(line, stamp, level, event, fmt, ap);
	else
		n = text_line(line, stamp, level, event, fmt, ap);
	va_end(ap);
	/* One write(2): O_APPEND and PIPE_BUF keep lines whole. A short
	 * write (disk full) is not retried: half a line twice is worse. */
	while (write(log_fd, line, n) < 0 && errno == EINTR)
		;
	{
		log_tap_fn *fn =
		    atomic_load_explicit(&tap_fn, memory_order_acquire);
		if (fn != NULL)
			fn(atomic_load(&tap_arg), line, n);
	}
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
