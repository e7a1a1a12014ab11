/*
 * test_log.c - unit tests for core/log.c: line format, level filtering,
 * file mode and flags, log_quote escaping and truncation, over-long
 * lines, and 4 threads x 1000 lines written to one file without a torn
 * or lost line; the JSON format (log_format = "json"): members from the
 * callers' key=value text, escaping of hostile values and keys (checked
 * with a strict JSON reader below), truncation, random values; and the
 * log_format configuration key.
 *
 * Not here: what the daemon chooses to log.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <regex.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "config.h"
#include "log.h"

struct fixture {
	char dir[64];
	char path[128];
};

static int
setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));

	if (f == NULL)
		return -1;
	snprintf(f->dir, sizeof(f->dir), "/tmp/test_log.XXXXXX");
	if (mkdtemp(f->dir) == NULL) {
		free(f);
		return -1;
	}
	snprintf(f->path, sizeof(f->path), "%s/ringmx.log", f->dir);
	*state = f;
	return 0;
}

static int
teardown(void **state)
{
	struct fixture *f = *state;

	log_close();
	log_set_level(LOG_INFO);
	log_set_format(LOG_FORMAT_TEXT);
	unlink(f->path);
	rmdir(f->dir);
	free(f);
	return 0;
}

/* The whole file as a NUL-terminated string (caller frees). */
static char *
slurp(const char *path, size_t *lenp)
{
	FILE *fp = fopen(path, "rb");
	char *buf;
	long n;

	assert_non_null(fp);
	assert_int_equal(fseek(fp, 0, SEEK_END), 0);
	n = ftell(fp);
	assert_true(n >= 0);
	rewind(fp);
	buf = malloc((size_t)n + 1);
	assert_non_null(buf);
	assert_int_equal(fread(buf, 1, (size_t)n, fp), (size_t)n);
	buf[n] = '\0';
	fclose(fp);
	if (lenp != NULL)
		*lenp = (size_t)n;
	return buf;
}

static size_t
count_lines(const char *s)
{
	size_t n = 0;

	for (; *s != '\0'; s++)
		n += *s == '\n';
	return n;
}

static void
test_format(void **state)
{
	struct fixture *f = *state;
	regex_t re;
	char *text;
	struct tm tm;
	time_t before = time(NULL), logged;

	assert_int_equal(log_open(f->path, LOG_INFO), 0);
	log_event(LOG_INFO, "connect", "ip=%s port=%d", "192.0.2.1", 25);
	log_event(LOG_ERR, "disk", "%s", "");
	log_close();

	text = slurp(f->path, NULL);
	assert_int_equal(regcomp(&re,
			     "^ts=[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:"
			     "[0-9]{2}\\.[0-9]{3}Z level=info event=connect "
			     "ip=192\\.0\\.2\\.1 port=25\n"
			     "ts=[0-9T:.-]+Z level=error event=disk\n$",
			     REG_EXTENDED),
	    0);
	if (regexec(&re, text, 0, NULL, 0) != 0)
		fail_msg("bad log text:\n%s", text);
	regfree(&re);

	/* The timestamp is now, in UTC. */
	memset(&tm, 0, sizeof(tm));
	assert_non_null(strptime(text, "ts=%Y-%m-%dT%H:%M:%S", &tm));
	logged = timegm(&tm);
	assert_true(logged >= before - 1 && logged <= time(NULL) + 1);
	free(text);
}

static void
test_levels(void **state)
{
	struct fixture *f = *state;
	char *text;

	assert_int_equal(log_open(f->path, LOG_WARNING), 0);
	assert_int_equal(log_get_level(), LOG_WARNING);
	log_event(LOG_DEBUG, "d1", "n=1");
	log_event(LOG_INFO, "i1", "n=1");
	log_event(LOG_NOTICE, "n1", "n=1");
	log_event(LOG_WARNING, "w1", "n=1");
	log_event(LOG_ERR, "e1", "n=1");
	log_set_level(LOG_DEBUG);
	assert_int_equal(log_get_level(), LOG_DEBUG);
	log_event(LOG_DEBUG, "d2", "n=2");
	log_event(LOG_INFO, "i2", "n=2");
	log_event(LOG_NOTICE, "n2", "n=2");
	log_set_level(LOG_ERR);
	log_event(LOG_WARNING, "w3", "n=3");
	log_event(LOG_ERR, "e3", "n=3");
	log_close();

	text = slurp(f->path, NULL);
	assert_int_equal(count_lines(text), 6);
	assert_null(strstr(text, "event=d1"));
	assert_null(strstr(text, "event=i1"));
	assert_null(strstr(text, "event=n1"));
	assert_null(strstr(text, "event=w3"));
	assert_non_null(strstr(text, "level=warning event=w1 n=1\n"));
	assert_non_null(strstr(text, "level=error event=e1 n=1\n"));
	assert_non_null(strstr(text, "level=debug event=d2 n=2\n"));
	assert_non_null(strstr(text, "level=info event=i2 n=2\n"));
	assert_non_null(strstr(text, "level=notice event=n2 n=2\n"));
	assert_non_null(strstr(text, "level=error event=e3 n=3\n"));
	free(text);
}

/* A descriptor open on path (-1 if none); *count says how many. */
static int
fd_on(const char *path, int *count)
{
	DIR *d = opendir("/proc/self/fd");
	struct dirent *de;
	char link[300], target[256];
	int found = -1;

	*count = 0;
	assert_non_null(d);
	while ((de = readdir(d)) != NULL) {
		ssize_t n;

		snprintf(link, sizeof(link), "/proc/self/fd/%s", de->d_name);
		n = readlink(link, target, sizeof(target) - 1);
		if (n <= 0)
			continue;
		target[n] = '\0';
		if (strcmp(target, path) == 0) {
			found = atoi(de->d_name);
			(*count)++;
		}
	}
	closedir(d);
	return found;
}

static void
test_file_open(void **state)
{
	struct fixture *f = *state;
	struct stat st;
	mode_t old = umask(022);
	char *text;
	int fd, fl, count;

	assert_int_equal(log_open(f->path, LOG_INFO), 0);
	umask(old);
	assert_int_equal(stat(f->path, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0640);
	fd = fd_on(f->path, &count);
	assert_int_equal(count, 1);
	assert_true(fd > 2);
	assert_true(fcntl(fd, F_GETFD) & FD_CLOEXEC);
	fl = fcntl(fd, F_GETFL);
	assert_true(fl & O_APPEND);
	assert_int_equal(fl & O_ACCMODE, O_WRONLY);
	log_event(LOG_INFO, "first", "n=1");

	/* Reopening appends and closes the previous descriptor. */
	assert_int_equal(log_open(f->path, LOG_INFO), 0);
	fd_on(f->path, &count);
	assert_int_equal(count, 1);
	log_event(LOG_INFO, "second", "n=2");
	log_close();
	assert_int_equal(fd_on(f->path, &count), -1);
	text = slurp(f->path, NULL);
	assert_int_equal(count_lines(text), 2);
	assert_non_null(strstr(text, "event=first"));
	assert_non_null(strstr(text, "event=second"));
	free(text);

	/* A failure leaves the current target alone. */
	errno = 0;
	assert_int_equal(log_open("/nonexistent/dir/x.log", LOG_DEBUG), -1);
	assert_int_equal(errno, ENOENT);
	assert_int_equal(log_get_level(), LOG_INFO);
}

static void
test_stderr_default(void **state)
{
	struct fixture *f = *state;
	int saved = dup(STDERR_FILENO), fd;
	char *text;

	assert_true(saved >= 0);
	fd = open(f->path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	assert_true(fd >= 0);
	assert_int_equal(dup2(fd, STDERR_FILENO), STDERR_FILENO);
	close(fd);
	assert_int_equal(log_open(NULL, LOG_INFO), 0);
	log_event(LOG_NOTICE, "to_stderr", "x=1");
	log_close(); /* must not close stderr */
	log_event(LOG_NOTICE, "after_close", "x=2");
	assert_int_equal(dup2(saved, STDERR_FILENO), STDERR_FILENO);
	close(saved);

	text = slurp(f->path, NULL);
	assert_non_null(strstr(text, "level=notice event=to_stderr x=1\n"));
	assert_non_null(strstr(text, "event=after_close x=2\n"));
	free(text);
}

static void
test_quote(void **state)
{
	static const struct {
		const char *in, *out;
	} cases[] = {
	    {"abc", "abc"},
	    {"user@example.org", "user@example.org"},
	    {"x=y", "x=y"},
	    {"", "\"\""},
	    {"a b", "\"a b\""},
	    {"a\"b", "\"a\\\"b\""},
	    {"a\\b", "\"a\\\\b\""},
	    {"line\r\n", "\"line\\x0d\\x0a\""},
	    {"tab\there", "\"tab\\x09here\""},
	    {"del\x7f", "\"del\\x7f\""},
	    {"caf\xc3\xa9", "\"caf\\xc3\\xa9\""},
	    {"\x01", "\"\\x01\""},
	};
	char out[64];

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		assert_ptr_equal(log_quote(cases[i].in, out, sizeof(out)), out);
		assert_string_equal(out, cases[i].out);
	}
	assert_string_equal(log_quote(NULL, out, sizeof(out)), "\"\"");

	/* Truncation: always terminated, quotes closed, escapes whole. */
	assert_string_equal(log_quote("abcdef", out, 4), "abc");
	assert_string_equal(log_quote("hello world", out, 6), "\"hel\"");
	assert_string_equal(log_quote("\n\n", out, 8), "\"\\x0a\"");
	assert_string_equal(log_quote("\n\n", out, 9), "\"\\x0a\"");
	assert_string_equal(log_quote("\n\n", out, 12), "\"\\x0a\\x0a\"");
	assert_string_equal(log_quote("a\"", out, 4), "\"a\"");
	assert_string_equal(log_quote("a b", out, 2), "");
	assert_string_equal(log_quote("ab", out, 1), "");
	out[0] = 'Z';
	log_quote("ab", out, 0);
	assert_int_equal(out[0], 'Z');
}

static void
test_long_lines(void **state)
{
	struct fixture *f = *state;
	char big[6000], quoted[13000];
	char *text, *nl, *second;
	size_t len, quotes = 0;

	memset(big, 'v', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	assert_int_equal(log_open(f->path, LOG_INFO), 0);
	log_event(LOG_INFO, "big", "a=1 b=%s", big);
	/* A long quoted value: the cut must not leave the quote open. */
	for (size_t i = 0; i < sizeof(big) - 1; i++)
		big[i] = i % 7 == 0 ? '"' : ' ';
	log_event(LOG_INFO, "bigq", "a=1 b=%s c=2",
	    log_quote(big, quoted, sizeof(quoted)));
	/* Raw control characters never split a line. */
	log_event(LOG_INFO, "ctl", "v=%s", "a\nb\rc");
	log_close();

	text = slurp(f->path, &len);
	assert_int_equal(count_lines(text), 3);

	nl = strchr(text, '\n');
	assert_true((size_t)(nl - text) + 1 <= 4096);
	assert_true((size_t)(nl - text) + 1 >= 4000);
	assert_memory_equal(nl - strlen(" truncated=1"), " truncated=1", 12);
	assert_non_null(strstr(text, " a=1 b=vvvv"));

	second = nl + 1;
	nl = strchr(second, '\n');
	assert_true((size_t)(nl - second) + 1 <= 4096);
	assert_memory_equal(nl - strlen(" truncated=1"), " truncated=1", 12);
	/* Unescaped quotes balance: the value was closed before the mark. */
	for (char *p = second; p < nl; p++) {
		if (*p == '\\')
			p++;
		else if (*p == '"')
			quotes++;
	}
	assert_int_equal(quotes % 2, 0);
	assert_memory_equal(nl - 13, "\" truncated=1", 13);

	assert_non_null(strstr(nl + 1, "event=ctl v=a?b?c\n"));
	free(text);
}

static void
test_errno_preserved(void **state)
{
	struct fixture *f = *state;

	assert_int_equal(log_open(f->path, LOG_INFO), 0);
	errno = EAGAIN;
	log_event(LOG_INFO, "e", "x=%d", 1);
	assert_int_equal(errno, EAGAIN);
	log_close();
	/* Even when the write itself fails (ENOSPC). */
	if (access("/dev/full", W_OK) == 0) {
		assert_int_equal(log_open("/dev/full", LOG_INFO), 0);
		errno = EAGAIN;
		log_event(LOG_INFO, "e", "x=%d", 2);
		assert_int_equal(errno, EAGAIN);
		log_close();
	}
}

#define THREADS          4
#define LINES_PER_THREAD 1000

struct writer {
	int id;
};

static void *
writer_main(void *arg)
{
	const struct writer *w = arg;
	char pad[3001];

	for (int i = 0; i < LINES_PER_THREAD; i++) {
		/* Lengths vary from 1 to 3000 bytes so that lines straddle
		 * any buffer boundary a broken writer would split at. */
		size_t n = 1 + (size_t)(i * 997 + w->id * 131) % 3000;

		memset(pad, 'a' + w->id, n);
		pad[n] = '\0';
		log_event(LOG_INFO, "t",
		    "tid=%d seq=%d len=%zu pad=%s end=%d.%d", w->id, i, n, pad,
		    w->id, i);
	}
	return NULL;
}

static void
test_concurrent_lines_not_torn(void **state)
{
	struct fixture *f = *state;
	pthread_t th[THREADS];
	struct writer w[THREADS];
	static unsigned char seen[THREADS][LINES_PER_THREAD];
	char *text, *line, *save = NULL;
	size_t len, nlines = 0;
	regex_t re;
	regmatch_t m[5];

	memset(seen, 0, sizeof(seen));
	assert_int_equal(log_open(f->path, LOG_INFO), 0);
	for (int i = 0; i < THREADS; i++) {
		w[i].id = i;
		assert_int_equal(
		    pthread_create(&th[i], NULL, writer_main, &w[i]), 0);
	}
	for (int i = 0; i < THREADS; i++)
		assert_int_equal(pthread_join(th[i], NULL), 0);
	log_close();

	assert_int_equal(regcomp(&re,
			     "^ts=[0-9T:.-]+Z level=info event=t tid=([0-9]) "
			     "seq=([0-9]+) len=([0-9]+) pad=([a-d]+) end=",
			     REG_EXTENDED),
	    0);
	text = slurp(f->path, &len);
	assert_int_equal(text[len - 1], '\n');
	for (line = strtok_r(text, "\n", &save); line != NULL;
	     line = strtok_r(NULL, "\n", &save)) {
		int tid, seq;
		size_t plen;
		char tail[32];

		if (regexec(&re, line, 5, m, 0) != 0)
			fail_msg("torn line %zu: %.200s", nlines, line);
		tid = atoi(line + m[1].rm_so);
		seq = atoi(line + m[2].rm_so);
		plen = (size_t)strtoul(line + m[3].rm_so, NULL, 10);
		assert_true(tid < THREADS && seq < LINES_PER_THREAD);
		assert_int_equal((size_t)(m[4].rm_eo - m[4].rm_so), plen);
		for (regoff_t i = m[4].rm_so; i < m[4].rm_eo; i++)
			assert_int_equal(line[i], 'a' + tid);
		snprintf(tail, sizeof(tail), " end=%d.%d", tid, seq);
		assert_string_equal(line + m[4].rm_eo, tail);
		assert_int_equal(seen[tid][seq], 0);
		seen[tid][seq] = 1;
		nlines++;
	}
	assert_int_equal(nlines, THREADS * LINES_PER_THREAD);
	regfree(&re);
	free(text);
}

/* ---- the JSON format ------------------------------------------------ */

/* A strict reader for what the JSON format may write: one object of
 * string members on one line. Raw bytes must be printable ASCII or
 * well-formed UTF-8; \uXXXX escapes are decoded to UTF-8. */
#define JMAX 1024 /* ',"":""' is 6 bytes: at most ~680 in 4096 */
struct jmember {
	char *key, *val;
};

static size_t
utf8_ok(const unsigned char *p, const unsigned char *end)
{
	unsigned char c = p[0], lo = 0x80, hi = 0xbf;
	size_t len;

	if (c >= 0xc2 && c <= 0xdf)
		len = 2;
	else if (c >= 0xe0 && c <= 0xef)
		len = 3;
	else if (c >= 0xf0 && c <= 0xf4)
		len = 4;
	else
		return 0;
	if (c == 0xe0)
		lo = 0xa0;
	if (c == 0xed)
		hi = 0x9f;
	if (c == 0xf0)
		lo = 0x90;
	if (c == 0xf4)
		hi = 0x8f;
	if ((size_t)(end - p) < len || p[1] < lo || p[1] > hi)
		return 0;
	for (size_t i = 2; i < len; i++)
		if (p[i] < 0x80 || p[i] > 0xbf)
			return 0;
	return len;
}

/* A JSON string at *pp into out (NUL-terminated); -1 if malformed. */
static int
jstring(const char **pp, const char *end, char *out, size_t outsz, size_t *lenp)
{
	const char *p = *pp;
	size_t n = 0;

	if (p >= end || *p != '"')
		return -1;
	p++;
	for (;;) {
		unsigned char ch;
		char tmp[4];
		size_t tlen = 1;

		if (p >= end)
			return -1;
		ch = (unsigned char)*p;
		if (ch == '"')
			break;
		if (ch < 0x20 || ch == 0x7f)
			return -1; /* DEL is legal JSON, but we escape it */
		if (ch == '\\') {
			if (p + 1 >= end)
				return -1;
			switch (p[1]) {
			case '"':
			case '\\':
			case '/':
				tmp[0] = p[1];
				break;
			case 'n':
				tmp[0] = '\n';
				break;
			case 'r':
				tmp[0] = '\r';
				break;
			case 't':
				tmp[0] = '\t';
				break;
			case 'b':
				tmp[0] = '\b';
				break;
			case 'f':
				tmp[0] = '\f';
				break;
			case 'u': {
				unsigned cp = 0;

				if (end - p < 6)
					return -1;
				for (int i = 2; i < 6; i++) {
					char h = p[i];
					cp <<= 4;
					if (h >= '0' && h <= '9')
						cp |= (unsigned)(h - '0');
					else if (h >= 'a' && h <= 'f')
						cp |= (unsigned)(h - 'a' + 10);
					else if (h >= 'A' && h <= 'F')
						cp |= (unsigned)(h - 'A' + 10);
					else
						return -1;
				}
				if (cp >= 0xd800 && cp <= 0xdfff)
					return -1; /* never written */
				if (cp < 0x80) {
					tmp[0] = (char)cp;
				} else if (cp < 0x800) {
					tmp[0] = (char)(0xc0 | cp >> 6);
					tmp[1] = (char)(0x80 | (cp & 0x3f));
					tlen = 2;
				} else {
					tmp[0] = (char)(0xe0 | cp >> 12);
					tmp[1] =
					    (char)(0x80 | (cp >> 6 & 0x3f));
					tmp[2] = (char)(0x80 | (cp & 0x3f));
					tlen = 3;
				}
				p += 4;
				break;
			}
			default:
				return -1;
			}
			p += 2;
		} else if (ch >= 0x80) {
			tlen = utf8_ok((const unsigned char *)p,
			    (const unsigned char *)end);
			if (tlen == 0)
				return -1;
			memcpy(tmp, p, tlen);
			p += tlen;
		} else {
			tmp[0] = (char)ch;
			p++;
		}
		if (n + tlen >= outsz)
			return -1;
		memcpy(out + n, tmp, tlen);
		n += tlen;
	}
	out[n] = '\0';
	if (lenp != NULL)
		*lenp = n;
	*pp = p + 1;
	return 0;
}

/* One line "{...}" (without its newline): number of members, -1 if it is
 * not a flat object of string members. Keys and values are decoded into
 * arena (at least 2 * len + 2 bytes: nothing decodes longer). */
static int
jparse(const char *s, size_t len, struct jmember *m, char *arena)
{
	const char *p = s, *end = s + len;
	size_t used = 0, room = 2 * len + 2, vlen;
	int n = 0;

	if (p >= end || *p++ != '{')
		return -1;
	if (p < end && *p == '}')
		return p + 1 == end ? 0 : -1;
	for (;;) {
		if (n == JMAX)
			return -1;
		m[n].key = arena + used;
		if (jstring(&p, end, m[n].key, room - used, &vlen) != 0)
			return -1;
		used += vlen + 1;
		if (p >= end || *p++ != ':')
			return -1;
		m[n].val = arena + used;
		if (jstring(&p, end, m[n].val, room - used, &vlen) != 0)
			return -1;
		used += vlen + 1;
		n++;
		if (p >= end)
			return -1;
		if (*p == '}')
			return p + 1 == end ? n : -1;
		if (*p++ != ',')
			return -1;
	}
}

/* The value of member key, NULL if absent; fails on a duplicate. */
static const char *
jget(const struct jmember *m, int n, const char *key)
{
	const char *v = NULL;

	for (int i = 0; i < n; i++) {
		if (strcmp(m[i].key, key) != 0)
			continue;
		if (v != NULL)
			fail_msg("member %s twice", key);
		v = m[i].val;
	}
	return v;
}

/* Every line of path parsed into lines[i] (members, count); returns the
 * number of lines. Each line must be valid and at most 4096 bytes. */
struct jline {
	struct jmember *m;
	char *arena;
	int n;
};

static size_t
jread(const char *path, struct jline *lines, size_t max)
{
	char *text = slurp(path, NULL), *p = text;
	size_t count = 0;

	while (*p != '\0') {
		char *nl = strchr(p, '\n');

		assert_non_null(nl);
		assert_true((size_t)(nl - p) + 1 <= 4096);
		assert_true(count < max);
		lines[count].m = calloc(JMAX, sizeof(struct jmember));
		lines[count].arena = malloc(2 * (size_t)(nl - p) + 2);
		assert_non_null(lines[count].m);
		assert_non_null(lines[count].arena);
		lines[count].n = jparse(
		    p, (size_t)(nl - p), lines[count].m, lines[count].arena);
		if (lines[count].n < 0) {
			fprintf(stderr, "%.*s\n", (int)(nl - p), p);
			fail_msg("line %zu is not valid JSON", count);
		}
		count++;
		p = nl + 1;
	}
	free(text);
	return count;
}

static void
jfree(struct jline *lines, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		free(lines[i].m);
		free(lines[i].arena);
	}
}

static void
test_json_format(void **state)
{
	struct fixture *f = *state;
	struct jline l[4];
	regex_t re;
	char *text;
	struct tm tm;
	time_t before = time(NULL), logged;

	assert_int_equal(log_get_format(), LOG_FORMAT_TEXT);
	log_set_format(LOG_FORMAT_JSON);
	assert_int_equal(log_get_format(), LOG_FORMAT_JSON);
	assert_int_equal(log_open(f->path, LOG_INFO), 0);
	log_event(LOG_INFO, "queued", "id=%s from=%s size=%d nrcpt=%u",
	    "0123abcd", "alice@example.org", 4096, 2U);
	log_event(LOG_ERR, "disk", "%s", "");
	log_event(LOG_DEBUG, "dropped", "n=1"); /* below the level */
	log_event(LOG_WARNING, "reload", "result=ok note=\"a b\"");
	log_close();

	text = slurp(f->path, NULL);
	assert_int_equal(
	    regcomp(&re,
		"^\\{\"ts\":\"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:"
		"[0-9]{2}:[0-9]{2}\\.[0-9]{3}Z\",\"level\":\"info\","
		"\"event\":\"queued\",\"id\":\"0123abcd\","
		"\"from\":\"alice@example\\.org\",\"size\":\"4096\","
		"\"nrcpt\":\"2\"\\}\n"
		"\\{\"ts\":\"[0-9T:.-]+Z\",\"level\":\"error\","
		"\"event\":\"disk\"\\}\n"
		"\\{\"ts\":\"[0-9T:.-]+Z\",\"level\":\"warning\","
		"\"event\":\"reload\",\"result\":\"ok\","
		"\"note\":\"a b\"\\}\n$",
		REG_EXTENDED),
	    0);
	if (regexec(&re, text, 0, NULL, 0) != 0)
		fail_msg("bad JSON log text:\n%s", text);
	regfree(&re);
	memset(&tm, 0, sizeof(tm));
	assert_non_null(strptime(text, "{\"ts\":\"%Y-%m-%dT%H:%M:%S", &tm));
	logged = timegm(&tm);
	assert_true(logged >= before - 1 && logged <= time(NULL) + 1);
	free(text);

	assert_int_equal(jread(f->path, l, 4), 3);
	assert_int_equal(l[0].n, 7);
	assert_string_equal(jget(l[0].m, l[0].n, "id"), "0123abcd");
	jfree(l, 3);

	/* Back to text; an unknown format means text. */
	log_set_format(LOG_FORMAT_TEXT);
	assert_int_equal(log_get_format(), LOG_FORMAT_TEXT);
	log_set_format(7);
	assert_int_equal(log_get_format(), LOG_FORMAT_TEXT);
	log_set_format(-1);
	assert_int_equal(log_get_format(), LOG_FORMAT_TEXT);
}

/* Values as callers write them (through log_quote, or raw by mistake)
 * come out as the original bytes; invalid UTF-8 as \u00XX. */
static void
test_json_values(void **state)
{
	static const struct {
		const char *in;  /* the value before log_quote */
		const char *out; /* the decoded JSON string */
	} cases[] = {
	    {"abc", "abc"},
	    {"", ""},
	    {"a b", "a b"},
	    {"a\"b", "a\"b"},
	    {"a\\b", "a\\b"},
	    {"\\", "\\"},
	    {"\"", "\""},
	    {"\" x=1 \"", "\" x=1 \""},
	    {"line\r\n", "line\r\n"},
	    {"tab\there", "tab\there"},
	    {"del\x7f", "del\x7f"},
	    {"\x01\x1b[31m", "\x01\x1b[31m"},
	    {"caf\xc3\xa9", "caf\xc3\xa9"},
	    {"\xe2\x82\xac \xf0\x9f\x98\x80", "\xe2\x82\xac \xf0\x9f\x98\x80"},
	    /* not UTF-8: each byte as U+00XX (here UTF-8 encoded) */
	    {"\xff\xfe", "\xc3\xbf\xc3\xbe"},
	    {"\xc0\xaf", "\xc3\x80\xc2\xaf"},             /* overlong '/' */
	    {"\xed\xa0\x80", "\xc3\xad\xc2\xa0\xc2\x80"}, /* surrogate */
	    {"\xf4\x90\x80\x80", "\xc3\xb4\xc2\x90\xc2\x80\xc2\x80"},
	    {"\xc3", "\xc3\x83"}, /* cut sequence */
	    {"}{\",\"", "}{\",\""},
	    {"</script>", "</script>"},
	};
	struct fixture *f = *state;
	size_t n = sizeof(cases) / sizeof(cases[0]);
	struct jline l[64];
	char q[256];

	log_set_format(LOG_FORMAT_JSON);
	assert_int_equal(log_open(f->path, LOG_INFO), 0);
	for (size_t i = 0; i < n; i++)
		log_event(LOG_INFO, "v", "id=Q%zu v=%s end=1", i,
		    log_quote(cases[i].in, q, sizeof(q)));
	/* Raw (unquoted) hostile values: escaped, never a broken line. */
	log_event(LOG_INFO, "raw", "v=%s w=%s", "a\nb\"c\\d\x01\xff", "x");
	log_close();

	assert_int_equal(jread(f->path, l, 64), n + 1);
	for (size_t i = 0; i < n; i++) {
		const char *v = jget(l[i].m, l[i].n, "v");
		char id[16];

		snprintf(id, sizeof(id), "Q%zu", i);
		assert_int_equal(l[i].n, 6);
		assert_string_equal(jget(l[i].m, l[i].n, "id"), id);
		assert_non_null(v);
		if (strcmp(v, cases[i].out) != 0)
			fail_msg("case %zu: got \"%s\"", i, v);
		assert_string_equal(jget(l[i].m, l[i].n, "end"), "1");
	}
	assert_string_equal(
	    jget(l[n].m, l[n].n, "v"), "a\nb\"c\\d\x01\xc3\xbf");
	assert_string_equal(jget(l[n].m, l[n].n, "w"), "x");
	jfree(l, n + 1);

	/* The raw bytes on disk: the escapes the format promises. */
	{
		char *text = slurp(f->path, NULL);

		assert_non_null(strstr(text, "\"v\":\"line\\r\\n\""));
		assert_non_null(strstr(text, "\"v\":\"\\u0001\\u001b[31m\""));
		assert_non_null(strstr(text, "\"v\":\"\\u00ff\\u00fe\""));
		assert_non_null(strstr(text, "\"v\":\"del\\u007f\""));
		assert_non_null(strstr(text, "\"v\":\"caf\xc3\xa9\""));
		assert_non_null(strstr(text, "\"v\":\"a\\\"b\""));
		assert_non_null(strstr(text, "\"v\":\"a\\\\b\""));
		free(text);
	}
}

/* Text that is not key=value, odd keys, reserved names, broken quotes:
 * always one valid object, never a duplicate member. */
static void
test_json_hostile_pairs(void **state)
{
	struct fixture *f = *state;
	struct jline l[16];
	size_t n;

	log_set_format(LOG_FORMAT_JSON);
	assert_int_equal(log_open(f->path, LOG_INFO), 0);
	log_event(LOG_INFO, "e1", "word k=v  two  spaces=1 =nokey k2=");
	log_event(LOG_INFO, "e2", "ts=1 level=x event=y truncated=0");
	log_event(LOG_INFO, "e3", "a=\"unterminated b=1");
	log_event(LOG_INFO, "e4", "a=\"x\\\"\" b=\"y\\x4\\xzz\\q\\\\\" c=\"\\");
	log_event(LOG_INFO, "e5", "k\"ey=1 k\\y=2 k\x01=3 \xff=4 ==5");
	log_event(LOG_INFO, "e\"v\n\xff", "a=1");
	log_event(LOG_INFO, "e7", "q=\"a\"b\" r=\"\" s=\"\"\"");
	log_event(LOG_INFO, "e8", "%s", "   ");
	log_close();

	n = jread(f->path, l, 16);
	assert_int_equal(n, 8);

	/* e1 */
	assert_int_equal(l[0].n, 3 + 6);
	assert_string_equal(jget(l[0].m, l[0].n, "word"), "");
	assert_string_equal(jget(l[0].m, l[0].n, "k"), "v");
	assert_string_equal(jget(l[0].m, l[0].n, "two"), "");
	assert_string_equal(jget(l[0].m, l[0].n, "spaces"), "1");
	assert_string_equal(jget(l[0].m, l[0].n, ""), "nokey");
	assert_string_equal(jget(l[0].m, l[0].n, "k2"), "");
	/* e2: the line's own members are not overwritten or repeated */
	assert_string_equal(jget(l[1].m, l[1].n, "level"), "info");
	assert_string_equal(jget(l[1].m, l[1].n, "event"), "e2");
	assert_string_equal(jget(l[1].m, l[1].n, "_ts"), "1");
	assert_string_equal(jget(l[1].m, l[1].n, "_level"), "x");
	assert_string_equal(jget(l[1].m, l[1].n, "_event"), "y");
	assert_string_equal(jget(l[1].m, l[1].n, "_truncated"), "0");
	assert_null(jget(l[1].m, l[1].n, "truncated"));
	assert_int_equal(l[1].n, 3 + 4);
	/* e3: an open quote runs to the end */
	assert_string_equal(jget(l[2].m, l[2].n, "a"), "unterminated b=1");
	/* e4: escapes decoded, broken escapes kept literally */
	assert_string_equal(jget(l[3].m, l[3].n, "a"), "x\"");
	assert_string_equal(jget(l[3].m, l[3].n, "b"), "y\\x4\\xzz\\q\\");
	assert_string_equal(jget(l[3].m, l[3].n, "c"), "\\");
	/* e5: keys are escaped like values */
	assert_string_equal(jget(l[4].m, l[4].n, "k\"ey"), "1");
	assert_string_equal(jget(l[4].m, l[4].n, "k\\y"), "2");
	assert_string_equal(jget(l[4].m, l[4].n, "k\x01"), "3");
	assert_string_equal(jget(l[4].m, l[4].n, "\xc3\xbf"), "4");
	assert_string_equal(jget(l[4].m, l[4].n, ""), "=5");
	/* e6: the event name too */
	assert_string_equal(jget(l[5].m, l[5].n, "event"), "e\"v\n\xc3\xbf");
	/* e7: a quote ends a value only before a space or the end */
	assert_string_equal(jget(l[6].m, l[6].n, "q"), "a\"b");
	assert_string_equal(jget(l[6].m, l[6].n, "r"), "");
	assert_string_equal(jget(l[6].m, l[6].n, "s"), "\"");
	/* e8: nothing but spaces */
	assert_int_equal(l[7].n, 3);
	jfree(l, n);
}

/* Over-long lines stay within 4096 bytes, valid, marked truncated. */
static void
test_json_long_lines(void **state)
{
	struct fixture *f = *state;
	static char big[6000], quoted[30000];
	struct jline l[8];
	const char *v;
	size_t n;

	log_set_format(LOG_FORMAT_JSON);
	assert_int_equal(log_open(f->path, LOG_INFO), 0);
	memset(big, 'v', sizeof(big) - 1);
	log_event(LOG_INFO, "big", "a=1 b=%s", big);
	/* Escapes that grow in JSON (\x01 -> \u0001, 4 -> 6 bytes) */
	memset(big, '\x01', 1500);
	big[1500] = '\0';
	log_event(LOG_INFO, "grow", "a=1 b=%s c=2",
	    log_quote(big, quoted, sizeof(quoted)));
	/* Many short pairs: cut between members */
	{
		char pairs[5000];
		size_t k = 0;

		for (int i = 0; k + 16 < sizeof(pairs); i++)
			k += (size_t)snprintf(
			    pairs + k, sizeof(pairs) - k, "k%d=\"\\\\\" ", i);
		log_event(LOG_INFO, "many", "%s", pairs);
	}
	/* A line that just fits is not marked */
	memset(big, 'w', 3900);
	big[3900] = '\0';
	log_event(LOG_INFO, "fits", "b=%s", big);
	log_close();

	n = jread(f->path, l, 8);
	assert_int_equal(n, 4);
	for (size_t i = 0; i < 3; i++)
		assert_string_equal(jget(l[i].m, l[i].n, "truncated"), "1");
	v = jget(l[0].m, l[0].n, "b");
	assert_non_null(v);
	assert_true(strlen(v) > 3900);
	assert_int_equal(strspn(v, "v"), strlen(v));
	v = jget(l[1].m, l[1].n, "b");
	assert_non_null(v);
	assert_true(strlen(v) > 500);
	assert_int_equal(strspn(v, "\x01"), strlen(v));
	assert_null(jget(l[1].m, l[1].n, "c"));
	assert_true(l[2].n > 100);
	assert_string_equal(jget(l[2].m, l[2].n, "k0"), "\\");
	assert_null(jget(l[3].m, l[3].n, "truncated"));
	assert_int_equal(strlen(jget(l[3].m, l[3].n, "b")), 3900);
	jfree(l, n);
}

/* Random bytes as values and as (part of) the text: every line valid. */
static void
test_json_random(void **state)
{
	struct fixture *f = *state;
	static struct jline l[600];
	unsigned seed = 12345;
	char val[700], q[3000];
	size_t n;

	log_set_format(LOG_FORMAT_JSON);
	assert_int_equal(log_open(f->path, LOG_INFO), 0);
	for (int i = 0; i < 600; i++) {
		size_t len = (size_t)(rand_r(&seed) % 699);

		for (size_t j = 0; j < len; j++) {
			int r = rand_r(&seed) % 8;
			/* mostly the characters that matter */
			val[j] = r == 0   ? '"'
				 : r == 1 ? '\\'
				 : r == 2 ? ' '
				 : r == 3 ? '='
				 : r == 4 ? (char)(0x80 + rand_r(&seed) % 128)
					  : (char)(1 + rand_r(&seed) % 127);
		}
		val[len] = '\0';
		if (i % 2 == 0)
			log_event(LOG_INFO, "r", "id=%d v=%s w=%s", i,
			    log_quote(val, q, sizeof(q)), val);
		else
			log_event(LOG_INFO, val, "%s%s", val, val);
	}
	log_close();
	n = jread(f->path, l, 600);
	assert_int_equal(n, 600);
	/* Quoted values survive whole (when the line was not cut). */
	seed = 12345;
	for (size_t i = 0; i < n; i += 2) {
		const char *id = jget(l[i].m, l[i].n, "id");

		assert_non_null(id);
		assert_int_equal(atoi(id), (int)i);
	}
	jfree(l, n);
}

/* The configuration key: "text" (default) or "json", printed back. */
static void
test_config_log_format(void **state)
{
	static const char listener[] =
	    "listeners = ( { address = \"127.0.0.1:2525\"; } );\n";
	char text[512], err[512];
	struct rmx_config *cfg;
	char *buf = NULL;
	size_t len = 0;
	FILE *mf;

	(void)state;
	cfg = config_load_string(listener, "t.cfg", err, sizeof(err));
	assert_non_null(cfg);
	assert_int_equal(cfg->log_format, LOG_FORMAT_TEXT);
	config_free(cfg);

	snprintf(text, sizeof(text), "%slog_format = \"json\";\n", listener);
	cfg = config_load_string(text, "t.cfg", err, sizeof(err));
	assert_non_null(cfg);
	assert_int_equal(cfg->log_format, LOG_FORMAT_JSON);
	mf = open_memstream(&buf, &len);
	assert_non_null(mf);
	config_print(cfg, mf);
	assert_int_equal(fclose(mf), 0);
	config_free(cfg);
	assert_non_null(strstr(buf, "\nlog_format = \"json\";\n"));
	cfg = config_load_string(buf, "printed", err, sizeof(err));
	free(buf);
	assert_non_null(cfg);
	assert_int_equal(cfg->log_format, LOG_FORMAT_JSON);
	config_free(cfg);

	snprintf(text, sizeof(text), "%slog_format = \"text\";\n", listener);
	cfg = config_load_string(text, "t.cfg", err, sizeof(err));
	assert_non_null(cfg);
	assert_int_equal(cfg->log_format, LOG_FORMAT_TEXT);
	config_free(cfg);

	snprintf(text, sizeof(text), "%slog_format = \"JSON\";\n", listener);
	assert_null(config_load_string(text, "t.cfg", err, sizeof(err)));
	assert_non_null(strstr(err, "t.cfg:2: log_format: "));
	assert_non_null(strstr(err, "not a log format"));
	snprintf(text, sizeof(text), "%slog_format = 1;\n", listener);
	assert_null(config_load_string(text, "t.cfg", err, sizeof(err)));
	assert_non_null(strstr(err, "t.cfg:2: log_format: "));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_format, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_levels, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_file_open, setup, teardown),
	    cmocka_unit_test_setup_teardown(
		test_stderr_default, setup, teardown),
	    cmocka_unit_test(test_quote),
	    cmocka_unit_test_setup_teardown(test_long_lines, setup, teardown),
	    cmocka_unit_test_setup_teardown(
		test_errno_preserved, setup, teardown),
	    cmocka_unit_test_setup_teardown(
		test_concurrent_lines_not_torn, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_json_format, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_json_values, setup, teardown),
	    cmocka_unit_test_setup_teardown(
		test_json_hostile_pairs, setup, teardown),
	    cmocka_unit_test_setup_teardown(
		test_json_long_lines, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_json_random, setup, teardown),
	    cmocka_unit_test(test_config_log_format),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
