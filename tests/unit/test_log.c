/*
 * test_log.c - unit tests for core/log.c: line format, level filtering,
 * file mode and flags, log_quote escaping and truncation, over-long
 * lines, and 4 threads x 1000 lines written to one file without a torn
 * or lost line.
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
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
