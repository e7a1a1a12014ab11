/*
 * test_table_file.c - plugins/common/table_file.c, the code the table
 * plugins share: the line reader (comments in both modes, blank lines,
 * CRLF, long lines, NUL bytes, a missing file), messages with file:line,
 * the syntax helpers, the arena, the case-insensitive hash map and the
 * plugin state (load, reconfigure swap, fini, the recipient helper).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* Unit tests do not link plugins/common: build it in. */
#include "../../plugins/common/table_file.c"

static char tmp_path[64];

/* Write text (len octets, NULs allowed) to a new temporary file. */
static const char *
write_file(const char *text, size_t len)
{
	int fd;

	snprintf(tmp_path, sizeof(tmp_path), "/tmp/rmx_tf_XXXXXX");
	fd = mkstemp(tmp_path);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, text, len), (ssize_t)len);
	close(fd);
	return tmp_path;
}

/* What tf_read gave: up to 8 lines with their numbers. */
struct seen {
	unsigned line[8];
	char text[8][128];
	size_t n;
	int stop_at; /* return 1 for this line number (0: never) */
};

static int
collect(void *arg, unsigned line, char *text)
{
	struct seen *s = arg;

	assert_true(s->n < 8);
	s->line[s->n] = line;
	snprintf(s->text[s->n], sizeof(s->text[0]), "%s", text);
	s->n++;
	return (int)line == s->stop_at;
}

/* Read text with flags; the result of tf_read, lines in *s, message in
 * err. */
static int
read_text(
    const char *text, unsigned flags, struct seen *s, char *err, size_t errlen)
{
	const char *path = write_file(text, strlen(text));
	struct tf_ctx c = {"test", path, err, errlen};
	int rc;

	err[0] = '\0';
	rc = tf_read(&c, flags, collect, s);
	unlink(path);
	return rc;
}

static void
test_reader_comments_and_blanks(void **state)
{
	struct seen s = {0};
	char err[256];

	(void)state;
	assert_int_equal(read_text("# header\n"
				   "\n"
				   "   \t \n"
				   "a b  # trailing comment\n"
				   "  #indented comment\n"
				   "x#not-a-comment\n"
				   "\tlast\t",
			     TF_INLINE_COMMENTS, &s, err, sizeof(err)),
	    0);
	assert_int_equal(s.n, 3);
	assert_int_equal(s.line[0], 4);
	assert_string_equal(s.text[0], "a b");
	assert_int_equal(s.line[1], 6);
	assert_string_equal(s.text[1], "x#not-a-comment");
	assert_int_equal(s.line[2], 7); /* no newline at the end */
	assert_string_equal(s.text[2], "last");
	assert_string_equal(err, "");
}

static void
test_reader_line_comments_only(void **state)
{
	struct seen s = {0};
	char err[256];

	(void)state;
	/* without TF_INLINE_COMMENTS only a whole line is a comment */
	assert_int_equal(read_text("# comment\n"
				   "  # comment too\n"
				   "user: a@b #c\n",
			     0, &s, err, sizeof(err)),
	    0);
	assert_int_equal(s.n, 1);
	assert_int_equal(s.line[0], 3);
	assert_string_equal(s.text[0], "user: a@b #c");
}

static void
test_reader_crlf(void **state)
{
	struct seen s = {0};
	char err[256];

	(void)state;
	assert_int_equal(read_text("one\r\n\r\n two \r\n#c\r\nthree # c\r\n",
			     TF_INLINE_COMMENTS, &s, err, sizeof(err)),
	    0);
	assert_int_equal(s.n, 3);
	assert_string_equal(s.text[0], "one");
	assert_int_equal(s.line[0], 1);
	assert_string_equal(s.text[1], "two");
	assert_int_equal(s.line[1], 3);
	assert_string_equal(s.text[2], "three");
	assert_int_equal(s.line[2], 5);
}

static void
test_reader_long_line(void **state)
{
	const size_t n = 200000;
	char *text = malloc(n + 16), *line;
	const char *path;
	struct tf_reader r;
	char err[256];
	struct tf_ctx c = {"test", NULL, err, sizeof(err)};

	(void)state;
	assert_non_null(text);
	memcpy(text, "short\n  ", 8);
	memset(text + 8, 'x', n);
	memcpy(text + 8 + n, "  \nend\n", 7);
	path = write_file(text, n + 15);
	c.path = path;
	assert_int_equal(tf_open(&r, &c, TF_INLINE_COMMENTS), 0);
	assert_int_equal(tf_next(&r, &line), 1);
	assert_string_equal(line, "short");
	assert_int_equal(tf_next(&r, &line), 1);
	assert_int_equal(r.line, 2);
	assert_int_equal(strlen(line), n);
	assert_true(line[0] == 'x' && line[n - 1] == 'x');
	assert_int_equal(tf_next(&r, &line), 1);
	assert_int_equal(r.line, 3);
	assert_string_equal(line, "end");
	assert_int_equal(tf_next(&r, &line), 0);
	assert_int_equal(tf_next(&r, &line), 0); /* stays at the end */
	tf_close(&r);
	unlink(path);
	free(text);
}

static void
test_reader_missing_file(void **state)
{
	char err[256], want[320];
	struct tf_ctx c = {
	    "who", "/nonexistent/rmx_tf_table", err, sizeof(err)};
	struct tf_reader r;
	struct seen s = {0};

	(void)state;
	errno = 0;
	assert_int_equal(tf_open(&r, &c, 0), -1);
	assert_int_equal(errno, ENOENT);
	tf_close(&r); /* harmless on a reader that did not open */
	assert_int_equal(tf_read(&c, 0, collect, &s), -1);
	assert_int_equal(s.n, 0);
	snprintf(want, sizeof(want), "who: %s: %s", c.path, strerror(ENOENT));
	assert_string_equal(err, want);
}

static void
test_reader_nul_byte(void **state)
{
	static const char text[] = "ok\nb\0d\nnever\n";
	const char *path = write_file(text, sizeof(text) - 1);
	char err[256], want[320];
	struct tf_ctx c = {"who", path, err, sizeof(err)};
	struct seen s = {0};

	(void)state;
	assert_int_equal(tf_read(&c, 0, collect, &s), -1);
	assert_int_equal(s.n, 1);
	snprintf(want, sizeof(want), "who: %s:2: NUL byte in line", path);
	assert_string_equal(err, want);
	unlink(path);
}

static void
test_reader_callback_stops(void **state)
{
	struct seen s = {.stop_at = 2};
	char err[256];

	(void)state;
	assert_int_equal(read_text("a\nb\nc\n", 0, &s, err, sizeof(err)), -1);
	assert_int_equal(s.n, 2);
	assert_string_equal(err, ""); /* the callback words the message */
}

static void
test_error_format(void **state)
{
	char err[64];
	struct tf_ctx c = {"who", "/etc/t", err, sizeof(err)};

	(void)state;
	assert_int_equal(tf_error(&c, 12, "bad %s", "key"), -1);
	assert_string_equal(err, "who: /etc/t:12: bad key");
	assert_int_equal(tf_error(&c, 0, "out of memory"), -1);
	assert_string_equal(err, "who: /etc/t: out of memory");
	/* truncated to the buffer, always terminated */
	c.errlen = 10;
	assert_int_equal(tf_error(&c, 3, "%s", "a long message"), -1);
	assert_string_equal(err, "who: /etc");
	c.errlen = 20;
	assert_int_equal(tf_error(&c, 3, "%s", "a long message"), -1);
	assert_string_equal(err, "who: /etc/t:3: a lo");
}

static void
test_syntax(void **state)
{
	char s1[] = " \t a b \r\n", s2[] = "   ", big[70];

	(void)state;
	assert_string_equal(tf_trim(s1), "a b");
	assert_string_equal(tf_trim(s2), "");
	assert_true(tf_is_blank('\v') && tf_is_blank('\f'));
	assert_false(tf_is_blank('x') || tf_is_blank('\0'));

	assert_true(tf_valid_domain("example.org", 11));
	assert_true(tf_valid_domain("A-1.b", 5));
	assert_false(tf_valid_domain("", 0));
	assert_false(tf_valid_domain("-a.org", 6));
	assert_false(tf_valid_domain("a-.org", 6));
	assert_false(tf_valid_domain("a..org", 6));
	assert_false(tf_valid_domain("a.org.", 6));
	assert_false(tf_valid_domain("a_b.org", 7));
	memset(big, 'a', sizeof(big));
	assert_true(tf_valid_domain(big, 63));
	assert_false(tf_valid_domain(big, 64));

	assert_true(tf_valid_local("user+tag", 8));
	assert_false(tf_valid_local("", 0));
	assert_false(tf_valid_local("a b", 3));
	assert_false(tf_valid_local("a<b", 3));
	assert_false(tf_valid_local("a\x7f", 2));
	assert_true(tf_valid_local(big, 64));
	assert_false(tf_valid_local(big, 65));
}

static void
test_arena(void **state)
{
	struct tf_arena a = {0};
	char *s, *big;
	void *p;

	(void)state;
	s = tf_arena_strndup(&a, "hello world", 5);
	assert_non_null(s);
	assert_string_equal(s, "hello");
	for (int i = 0; i < 1000; i++) {
		p = tf_arena_alloc(&a, (size_t)i % 37);
		assert_non_null(p);
		assert_int_equal((uintptr_t)p % sizeof(max_align_t), 0);
	}
	big = tf_arena_alloc(&a, 1000000); /* larger than a chunk */
	assert_non_null(big);
	memset(big, 1, 1000000);
	assert_string_equal(s, "hello");
	tf_arena_free(&a);
	assert_null(a.head);
	tf_arena_free(&a); /* twice: nothing left */
}

static void
test_map_basic(void **state)
{
	struct tf_arena a = {0};
	struct tf_map m = {0};
	uint32_t *v;

	(void)state;
	assert_null(tf_map_find(&m, "x", 1)); /* empty map */
	assert_int_equal(tf_map_put(&m, &a, "User@Example.ORG", 16, 7), 0);
	assert_int_equal(tf_map_put(&m, &a, "", 0, 9), 0);
	assert_int_equal(m.n, 2);
	v = tf_map_find(&m, "user@example.org", 16);
	assert_non_null(v);
	assert_int_equal(*v, 7);
	v = tf_map_find(&m, "USER@EXAMPLE.org", 16);
	assert_non_null(v);
	*v = 8; /* values may be changed in place */
	assert_int_equal(*tf_map_find(&m, "user@example.org", 16), 8);
	/* a key in two pieces */
	v = tf_map_find2(&m, "uSeR", 4, "@example.ORG", 12);
	assert_non_null(v);
	assert_int_equal(*v, 8);
	assert_null(tf_map_find2(&m, "user", 4, "@example.or", 11));
	assert_null(tf_map_find(&m, "user@example.org.", 17));
	assert_int_equal(*tf_map_find(&m, "", 0), 9);
	tf_map_free(&m);
	assert_int_equal(m.n, 0);
	assert_null(tf_map_find(&m, "", 0));
	tf_arena_free(&a);
}

static void
test_map_many(void **state)
{
	struct tf_arena a = {0};
	struct tf_map m = {0};
	char key[32];
	int n;

	(void)state;
	for (uint32_t i = 0; i < 20000; i++) {
		n = snprintf(key, sizeof(key), "Key-%u@D%u.example", i, i % 7);
		assert_int_equal(tf_map_put(&m, &a, key, (size_t)n, i), 0);
	}
	assert_int_equal(m.n, 20000);
	assert_true(m.cap >= 2 * m.n);
	assert_int_equal(m.cap & (m.cap - 1), 0);
	for (uint32_t i = 0; i < 20000; i++) {
		const uint32_t *v;

		n = snprintf(key, sizeof(key), "KEY-%u@d%u.EXAMPLE", i, i % 7);
		v = tf_map_find(&m, key, (size_t)n);
		assert_non_null(v);
		assert_int_equal(*v, i);
	}
	assert_null(tf_map_find(&m, "key-20000@d0.example", 20));
	tf_map_free(&m);
	tf_arena_free(&a);
}

/* ---- the plugin state, with a table of one counter ---- */

struct counter {
	struct tf_snap snap; /* first */
	int n;
};

static int loads, frees;

static struct tf_snap *
load_counter(const struct rmx_host_api *host, const struct rmx_kv *cfg,
    char *err, size_t errlen)
{
	struct counter *c;

	(void)host;
	if (cfg != NULL && cfg->key != NULL) {
		snprintf(err, errlen, "test: bad config");
		return NULL;
	}
	c = calloc(1, sizeof(*c));
	assert_non_null(c);
	c->n = ++loads;
	return &c->snap;
}

static void
free_counter(struct tf_snap *s)
{
	if (s != NULL)
		frees++;
	free(s);
}

static const char *rcpt; /* what fake_get_item answers; NULL: absent */

static int
fake_get_item(
    struct rmx_call *call, int item, size_t idx, const char **val, size_t *len)
{
	(void)call;
	(void)idx;
	if (item != RMX_ITEM_RCPT_CURRENT || rcpt == NULL)
		return -ENOENT;
	*val = rcpt;
	*len = strlen(rcpt);
	return 0;
}

static void
test_plugin_state(void **state)
{
	struct rmx_host_api host = {.size = sizeof(host),
	    .abi_version = RMX_PLUGIN_ABI_VERSION,
	    .get_item = fake_get_item};
	const struct rmx_kv bad[] = {{.key = "x", .value = "y"}, {0}};
	char err[128];
	void *ps = NULL, *ws = NULL;
	const struct tf_plugin *p;
	const char *addr;
	size_t len;

	(void)state;
	loads = frees = 0;
	host.abi_version = (RMX_PLUGIN_ABI_MAJOR + 1) << 16;
	assert_int_equal(tf_plugin_init("test", load_counter, free_counter,
			     &host, NULL, &ps, err, sizeof(err)),
	    -1);
	assert_string_equal(err, "test: host ABI mismatch");
	host.abi_version = RMX_PLUGIN_ABI_VERSION;
	assert_int_equal(tf_plugin_init("test", load_counter, free_counter,
			     &host, bad, &ps, err, sizeof(err)),
	    -1);
	assert_string_equal(err, "test: bad config");
	assert_int_equal(tf_plugin_init("test", load_counter, free_counter,
			     &host, NULL, &ps, err, sizeof(err)),
	    0);
	assert_int_equal(tf_plugin_worker_init(ps, 3, &ws), 0);
	assert_ptr_equal(ws, ps);
	p = ws;
	assert_int_equal(((struct counter *)tf_plugin_table(p))->n, 1);

	/* a failed reconfigure keeps the table; a good one swaps it */
	assert_int_equal(tf_plugin_reconfigure(ps, bad, err, sizeof(err)), -1);
	assert_int_equal(((struct counter *)tf_plugin_table(p))->n, 1);
	assert_int_equal(tf_plugin_reconfigure(ps, NULL, err, sizeof(err)), 0);
	assert_int_equal(tf_plugin_reconfigure(ps, NULL, err, sizeof(err)), 0);
	assert_int_equal(((struct counter *)tf_plugin_table(p))->n, 3);
	assert_int_equal(frees, 0); /* replaced tables live until fini */

	/* the recipient without its angle brackets */
	rcpt = "<a@b>";
	assert_int_equal(tf_plugin_rcpt(p, NULL, &addr, &len), 0);
	assert_int_equal(len, 3);
	assert_memory_equal(addr, "a@b", 3);
	rcpt = "a@b";
	assert_int_equal(tf_plugin_rcpt(p, NULL, &addr, &len), 0);
	assert_int_equal(len, 3);
	rcpt = "<";
	assert_int_equal(tf_plugin_rcpt(p, NULL, &addr, &len), 0);
	assert_int_equal(len, 1);
	rcpt = NULL;
	assert_int_equal(tf_plugin_rcpt(p, NULL, &addr, &len), -1);

	tf_plugin_worker_fini(ws);
	tf_plugin_fini(ps);
	assert_int_equal(frees, 3);
	tf_plugin_fini(NULL);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_reader_comments_and_blanks),
	    cmocka_unit_test(test_reader_line_comments_only),
	    cmocka_unit_test(test_reader_crlf),
	    cmocka_unit_test(test_reader_long_line),
	    cmocka_unit_test(test_reader_missing_file),
	    cmocka_unit_test(test_reader_nul_byte),
	    cmocka_unit_test(test_reader_callback_stops),
	    cmocka_unit_test(test_error_format),
	    cmocka_unit_test(test_syntax),
	    cmocka_unit_test(test_arena),
	    cmocka_unit_test(test_map_basic),
	    cmocka_unit_test(test_map_many),
	    cmocka_unit_test(test_plugin_state),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
