/*
 * test_queue_record.c - unit tests of the queue envelope encoding
 * (storage/queue_record.c): round trips, every malformation the decoder
 * must reject, forward compatibility (unknown tags skipped), queue id
 * text form, deep copy. No LMDB here (see test_queue_shard.c).
 */
/* cmocka.h needs these first, in this order */
/* clang-format off */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
/* clang-format on */

#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "queue_record.h"

/* Tag numbers of the version-1 format, spelled out independently of
 * queue_record.c so a renumbering there fails here. */
#define T_END         0
#define T_ID          1
#define T_SENDER      2
#define T_ENVID       3
#define T_RET         4
#define T_HELD        7
#define T_RECEIVED    8
#define T_CLIENT_ADDR 12
#define T_HELO        13
#define T_NRCPT       14
#define T_RCPT        15
#define R_ADDR        1
#define R_STATE       4
#define R_ATTEMPTS    5
#define R_LAST_ERROR  6
#define MAX_FLDS      64

static char *
xstrdup(const char *s)
{
	char *d = strdup(s);

	assert_non_null(d);
	return d;
}

static void
make_full(struct qenvelope *e)
{
	memset(e, 0, sizeof(*e));
	e->id = 0x0000012A05000007ULL;
	e->sender = xstrdup("alice@example.com");
	e->envid = xstrdup("QQ314159");
	e->ret = 2;
	e->body = 1;
	e->smtputf8 = 1;
	e->held = 1;
	e->received = 1700000000;
	e->next_attempt = -5; /* negative survives the round trip */
	e->attempts = 7;
	e->size = 123456789012ULL;
	e->client_addr = xstrdup("2001:db8::1");
	e->helo = xstrdup("mail.example.com");
	e->nrcpt = 3;
	e->rcpts = calloc(3, sizeof(*e->rcpts));
	assert_non_null(e->rcpts);
	e->rcpts[0].addr = xstrdup("bob@example.org");
	e->rcpts[0].orcpt = xstrdup("rfc822;bob@example.org");
	e->rcpts[0].notify = 0x06;
	e->rcpts[0].state = QRCPT_DELIVERED;
	e->rcpts[0].attempts = 1;
	e->rcpts[1].addr = xstrdup("carol@example.org");
	e->rcpts[1].state = QRCPT_FAILED;
	e->rcpts[1].attempts = 3;
	e->rcpts[1].last_error = xstrdup("550 5.1.1 no such user");
	e->rcpts[2].addr = xstrdup("dave@example.net");
	e->rcpts[2].notify = 0x01;
	e->rcpts[2].state = QRCPT_PENDING;
	e->rcpts[2].attempts = 0xffffffffu;
}

static void
make_minimal(struct qenvelope *e)
{
	memset(e, 0, sizeof(*e));
	e->id = 1;
	e->sender = xstrdup("");
	e->client_addr = xstrdup("");
	e->helo = xstrdup("");
}

static void
assert_str_eq(const char *a, const char *b)
{
	if (a == NULL || b == NULL)
		assert_ptr_equal(a, b);
	else
		assert_string_equal(a, b);
}

static void
assert_env_eq(const struct qenvelope *a, const struct qenvelope *b)
{
	assert_int_equal(a->id, b->id);
	assert_str_eq(a->sender, b->sender);
	assert_str_eq(a->envid, b->envid);
	assert_int_equal(a->ret, b->ret);
	assert_int_equal(a->body, b->body);
	assert_int_equal(a->smtputf8, b->smtputf8);
	assert_int_equal(a->held, b->held);
	assert_true(a->received == b->received);
	assert_true(a->next_attempt == b->next_attempt);
	assert_int_equal(a->attempts, b->attempts);
	assert_true(a->size == b->size);
	assert_str_eq(a->client_addr, b->client_addr);
	assert_str_eq(a->helo, b->helo);
	assert_int_equal(a->nrcpt, b->nrcpt);
	for (uint32_t i = 0; i < a->nrcpt; i++) {
		assert_str_eq(a->rcpts[i].addr, b->rcpts[i].addr);
		assert_str_eq(a->rcpts[i].orcpt, b->rcpts[i].orcpt);
		assert_int_equal(a->rcpts[i].notify, b->rcpts[i].notify);
		assert_int_equal(a->rcpts[i].state, b->rcpts[i].state);
		assert_int_equal(a->rcpts[i].attempts, b->rcpts[i].attempts);
		assert_str_eq(a->rcpts[i].last_error, b->rcpts[i].last_error);
	}
}

static void
encode(const struct qenvelope *e, struct buf *b)
{
	memset(b, 0, sizeof(*b));
	assert_int_equal(qrec_encode(e, b), 0);
	assert_int_equal(b->len, qrec_encoded_size(e));
}

static int
decodes(const void *p, size_t n)
{
	struct qenvelope d;
	int r = qrec_decode(p, n, &d);

	if (r == 0)
		qenvelope_free(&d);
	else
		/* a failed decode leaves nothing allocated */
		assert_null(d.sender);
	return r == 0;
}

/* ---- a tiny independent TLV toolkit to craft records ---- */

struct fld {
	uint8_t tag;
	const uint8_t *v;
	uint32_t len;
};

static uint32_t
rd32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
	       (uint32_t)p[3] << 24;
}

static void
wr32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
	p[2] = (uint8_t)(v >> 16);
	p[3] = (uint8_t)(v >> 24);
}

/* Split a well-formed field sequence; returns the number of fields. */
static size_t
parse(const uint8_t *p, size_t len, struct fld *f)
{
	size_t n = 0, off = 0;

	while (off < len) {
		assert_true(n < MAX_FLDS);
		assert_true(len - off >= 5);
		f[n].tag = p[off];
		f[n].len = rd32(p + off + 1);
		f[n].v = p + off + 5;
		off += 5 + f[n].len;
		assert_true(off <= len);
		n++;
	}
	return n;
}

static void
emit(struct buf *b, const struct fld *f, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		uint8_t h[5];

		h[0] = f[i].tag;
		wr32(h + 1, f[i].len);
		assert_int_equal(buf_append(b, h, 5), 0);
		assert_int_equal(buf_append(b, f[i].v, f[i].len), 0);
	}
}

/* A full record from its top-level fields. */
static void
emit_rec(struct buf *b, const struct fld *f, size_t n)
{
	memset(b, 0, sizeof(*b));
	assert_int_equal(buf_append(b, "RQ\x01", 3), 0);
	emit(b, f, n);
}

static size_t
find(const struct fld *f, size_t n, uint8_t tag)
{
	for (size_t i = 0; i < n; i++)
		if (f[i].tag == tag)
			return i;
	fail_msg("tag %u not found", tag);
	return 0;
}

static void
remove_at(struct fld *f, size_t *n, size_t i)
{
	memmove(f + i, f + i + 1, (*n - i - 1) * sizeof(*f));
	(*n)--;
}

static void
insert_at(struct fld *f, size_t *n, size_t i, struct fld x)
{
	assert_true(*n < MAX_FLDS);
	memmove(f + i + 1, f + i, (*n - i) * sizeof(*f));
	f[i] = x;
	(*n)++;
}

/* ---- tests ---- */

static void
test_roundtrip_full(void **state)
{
	struct qenvelope e, d;
	struct buf b;

	(void)state;
	make_full(&e);
	encode(&e, &b);
	assert_int_equal(qrec_decode(b.data, b.len, &d), 0);
	assert_env_eq(&e, &d);
	/* Decoding is exact: encoding the result gives the same bytes. */
	{
		struct buf b2;

		encode(&d, &b2);
		assert_int_equal(b2.len, b.len);
		assert_memory_equal(b2.data, b.data, b.len);
		buf_free(&b2);
	}
	qenvelope_free(&d);
	qenvelope_free(&e);
	buf_free(&b);
}

static void
test_roundtrip_minimal(void **state)
{
	struct qenvelope e, d;
	struct buf b;

	(void)state;
	make_minimal(&e);
	encode(&e, &b);
	assert_int_equal(qrec_decode(b.data, b.len, &d), 0);
	assert_env_eq(&e, &d);
	assert_null(d.envid);
	assert_null(d.rcpts);
	assert_string_equal(d.sender, "");
	qenvelope_free(&d);
	qenvelope_free(&e);
	buf_free(&b);
}

static void
test_encode_null_strings(void **state)
{
	struct qenvelope e, d;
	struct buf b;

	(void)state;
	memset(&e, 0, sizeof(e));
	e.id = 9;
	encode(&e, &b);
	assert_int_equal(qrec_decode(b.data, b.len, &d), 0);
	assert_string_equal(d.sender, "");
	assert_string_equal(d.client_addr, "");
	assert_string_equal(d.helo, "");
	qenvelope_free(&d);
	buf_free(&b);
}

static void
test_encode_appends(void **state)
{
	struct qenvelope e, d;
	struct buf b = {0};

	(void)state;
	make_full(&e);
	assert_int_equal(buf_append(&b, "xyz", 3), 0);
	assert_int_equal(qrec_encode(&e, &b), 0);
	assert_int_equal(b.len, 3 + qrec_encoded_size(&e));
	assert_memory_equal(b.data, "xyz", 3);
	assert_int_equal(qrec_decode(b.data + 3, b.len - 3, &d), 0);
	assert_env_eq(&e, &d);
	qenvelope_free(&d);
	qenvelope_free(&e);
	buf_free(&b);
}

static void
test_truncation_every_length(void **state)
{
	struct qenvelope e[2];
	struct buf b;

	(void)state;
	make_full(&e[0]);
	make_minimal(&e[1]);
	for (int k = 0; k < 2; k++) {
		encode(&e[k], &b);
		assert_true(decodes(b.data, b.len));
		for (size_t n = 0; n < b.len; n++) {
			/* a copy of exactly n bytes, so ASan sees overreads */
			uint8_t *p = malloc(n ? n : 1);

			assert_non_null(p);
			memcpy(p, b.data, n);
			if (decodes(p, n))
				fail_msg("prefix of %zu/%zu bytes decoded", n,
				    b.len);
			free(p);
		}
		buf_free(&b);
		qenvelope_free(&e[k]);
	}
	assert_false(decodes(NULL, 0));
}

static void
test_wrong_magic_and_version(void **state)
{
	struct qenvelope e;
	struct buf b;

	(void)state;
	make_full(&e);
	encode(&e, &b);
	b.data[0] = 'r';
	assert_false(decodes(b.data, b.len));
	b.data[0] = 'R';
	b.data[1] = 'X';
	assert_false(decodes(b.data, b.len));
	b.data[1] = 'Q';
	const uint8_t bad[] = {0, 2, 3, 0x81, 0xff};
	for (size_t i = 0; i < sizeof(bad); i++) {
		b.data[2] = bad[i];
		assert_false(decodes(b.data, b.len));
	}
	b.data[2] = QREC_VERSION;
	assert_true(decodes(b.data, b.len));
	qenvelope_free(&e);
	buf_free(&b);
}

static void
test_bogus_lengths(void **state)
{
	const uint32_t bogus[] = {0xffffffffu, 0x80000000u, 0x7fffffffu};
	struct qenvelope e;
	struct fld f[MAX_FLDS];
	struct buf b;
	size_t n, off;

	(void)state;
	make_full(&e);
	encode(&e, &b);
	n = parse(b.data + 3, b.len - 3, f);
	/* Every top-level field header, lengths past the end. */
	off = 3;
	for (size_t i = 0; i < n; i++) {
		uint32_t orig = rd32(b.data + off + 1);
		uint32_t past = (uint32_t)(b.len - off - 5) + 1;

		for (size_t j = 0; j < 3; j++) {
			wr32(b.data + off + 1, bogus[j]);
			assert_false(decodes(b.data, b.len));
		}
		wr32(b.data + off + 1, past);
		assert_false(decodes(b.data, b.len));
		wr32(b.data + off + 1, orig);
		off += 5 + orig;
	}
	assert_true(decodes(b.data, b.len));
	/* Inside the first recipient: a field longer than the recipient. */
	{
		size_t r = find(f, n, T_RCPT);
		size_t roff = (size_t)(f[r].v - b.data);
		uint32_t orig = rd32(b.data + roff + 1);

		wr32(b.data + roff + 1, f[r].len);
		assert_false(decodes(b.data, b.len));
		wr32(b.data + roff + 1, 0xffffffffu);
		assert_false(decodes(b.data, b.len));
		/* and a recipient too short for its first field's header */
		wr32(b.data + roff + 1, orig);
		wr32(b.data + roff - 4, 3);
		assert_false(decodes(b.data, b.len));
	}
	qenvelope_free(&e);
	buf_free(&b);
}

static void
test_fixed_size_fields(void **state)
{
	const uint8_t four[4] = {1, 2, 3, 4};
	const uint8_t two[2] = {1, 0};
	struct qenvelope e;
	struct fld f[MAX_FLDS];
	struct buf b, c;
	size_t n, i;

	(void)state;
	make_full(&e);
	encode(&e, &b);
	n = parse(b.data + 3, b.len - 3, f);
	i = find(f, n, T_ID);
	f[i].v = four;
	f[i].len = 4;
	emit_rec(&c, f, n);
	assert_false(decodes(c.data, c.len));
	buf_free(&c);
	n = parse(b.data + 3, b.len - 3, f);
	i = find(f, n, T_HELD);
	f[i].v = two;
	f[i].len = 2;
	emit_rec(&c, f, n);
	assert_false(decodes(c.data, c.len));
	buf_free(&c);
	/* end marker with a payload */
	n = parse(b.data + 3, b.len - 3, f);
	i = find(f, n, T_END);
	f[i].v = two;
	f[i].len = 2;
	emit_rec(&c, f, n);
	assert_false(decodes(c.data, c.len));
	buf_free(&c);
	qenvelope_free(&e);
	buf_free(&b);
}

static void
test_bad_values(void **state)
{
	static const struct {
		uint8_t tag;
		uint8_t value;
	} cases[] = {
	    {T_RET, 3}, {T_HELD, 2}, {6 /* smtputf8 */, 2}, {5 /* body */, 3}};
	struct qenvelope e;
	struct fld f[MAX_FLDS];
	struct buf b, c;
	size_t n;

	(void)state;
	make_full(&e);
	encode(&e, &b);
	for (size_t k = 0; k < sizeof(cases) / sizeof(cases[0]); k++) {
		n = parse(b.data + 3, b.len - 3, f);
		f[find(f, n, cases[k].tag)].v = &cases[k].value;
		emit_rec(&c, f, n);
		assert_false(decodes(c.data, c.len));
		buf_free(&c);
	}
	/* recipient state 3 */
	e.rcpts[0].state = 3;
	assert_int_equal(qrec_encode(&e, &c), -1); /* encoder refuses too */
	e.rcpts[0].state = QRCPT_PENDING;
	{
		const uint8_t three = 3;
		struct fld r[MAX_FLDS];
		struct buf rb = {0};
		size_t ri, nr;

		n = parse(b.data + 3, b.len - 3, f);
		ri = find(f, n, T_RCPT);
		nr = parse(f[ri].v, f[ri].len, r);
		r[find(r, nr, R_STATE)].v = &three;
		emit(&rb, r, nr);
		f[ri].v = rb.data;
		f[ri].len = (uint32_t)rb.len;
		emit_rec(&c, f, n);
		assert_false(decodes(c.data, c.len));
		buf_free(&c);
		buf_free(&rb);
	}
	qenvelope_free(&e);
	buf_free(&b);
}

static void
test_trailing_garbage(void **state)
{
	struct qenvelope e;
	struct buf b;

	(void)state;
	make_minimal(&e);
	encode(&e, &b);
	assert_int_equal(buf_append(&b, "\0", 1), 0);
	assert_false(decodes(b.data, b.len));
	/* a whole valid field after the end marker */
	b.len--;
	assert_int_equal(buf_append(&b, "\xc8\0\0\0\0", 5), 0);
	assert_false(decodes(b.data, b.len));
	qenvelope_free(&e);
	buf_free(&b);
}

static void
test_nrcpt_bombs(void **state)
{
	uint8_t big[4];
	struct qenvelope e, d;
	struct fld f[MAX_FLDS];
	struct buf b, c, many = {0};
	size_t n, ri, ni;

	(void)state;
	make_full(&e);
	encode(&e, &b);

	/* nrcpt says 4 billion, three recipients present */
	n = parse(b.data + 3, b.len - 3, f);
	wr32(big, 0xffffffffu);
	f[find(f, n, T_NRCPT)].v = big;
	emit_rec(&c, f, n);
	assert_false(decodes(c.data, c.len));
	buf_free(&c);

	/* nrcpt and the recipient count disagree (both directions) */
	wr32(big, 2);
	emit_rec(&c, f, n);
	assert_false(decodes(c.data, c.len));
	buf_free(&c);
	wr32(big, 4);
	emit_rec(&c, f, n);
	assert_false(decodes(c.data, c.len));
	buf_free(&c);

	/* QREC_MAX_RCPT recipients decode; one more does not, whatever
	 * nrcpt claims. Recipient fields are replicated by hand. */
	n = parse(b.data + 3, b.len - 3, f);
	ri = find(f, n, T_RCPT);
	ni = find(f, n, T_NRCPT);
	for (uint32_t total = QREC_MAX_RCPT; total <= QREC_MAX_RCPT + 1;
	     total++) {
		struct fld g[MAX_FLDS];
		size_t m = n;

		memcpy(g, f, sizeof(f));
		buf_reset(&many);
		for (uint32_t i = 0; i < total; i++)
			emit(&many, &f[ri], 1);
		wr32(big, total);
		g[ni].v = big;
		/* drop the three real recipients and splice the many in
		 * where they were */
		remove_at(g, &m, ri + 2);
		remove_at(g, &m, ri + 1);
		remove_at(g, &m, ri);
		memset(&c, 0, sizeof(c));
		assert_int_equal(buf_append(&c, "RQ\x01", 3), 0);
		emit(&c, g, ri);
		assert_int_equal(buf_append(&c, many.data, many.len), 0);
		emit(&c, g + ri, m - ri);
		if (total == QREC_MAX_RCPT) {
			assert_int_equal(qrec_decode(c.data, c.len, &d), 0);
			assert_int_equal(d.nrcpt, QREC_MAX_RCPT);
			assert_string_equal(
			    d.rcpts[QREC_MAX_RCPT - 1].addr, "bob@example.org");
			qenvelope_free(&d);
		} else {
			assert_false(decodes(c.data, c.len));
		}
		buf_free(&c);
	}
	buf_free(&many);

	/* and the encoder refuses to write what could not be read back */
	qenvelope_free(&e);
	memset(&e, 0, sizeof(e));
	e.nrcpt = QREC_MAX_RCPT + 1;
	e.rcpts = calloc(e.nrcpt, sizeof(*e.rcpts));
	assert_non_null(e.rcpts);
	memset(&c, 0, sizeof(c));
	assert_int_equal(qrec_encode(&e, &c), -1);
	assert_int_equal(c.len, 0);
	assert_true(qrec_encoded_size(&e) == SIZE_MAX);
	free(e.rcpts);
	e.rcpts = NULL;
	e.nrcpt = 1; /* rcpts NULL */
	assert_int_equal(qrec_encode(&e, &c), -1);
	buf_free(&c);
	buf_free(&b);
}

static void
test_embedded_nul(void **state)
{
	struct qenvelope e;
	struct fld f[MAX_FLDS];
	struct buf b;
	size_t n, i;

	(void)state;
	make_full(&e);
	encode(&e, &b);
	n = parse(b.data + 3, b.len - 3, f);
	/* each string field in turn gets a NUL in the middle */
	const uint8_t strtags[] = {T_SENDER, T_ENVID, T_CLIENT_ADDR, T_HELO};
	for (size_t k = 0; k < sizeof(strtags); k++) {
		uint8_t *p, save;

		i = find(f, n, strtags[k]);
		p = (uint8_t *)f[i].v + f[i].len / 2;
		save = *p;
		*p = 0;
		assert_false(decodes(b.data, b.len));
		*p = save;
	}
	/* in a recipient's address and last error */
	{
		struct fld r[MAX_FLDS];
		size_t nr;

		i = find(f, n, T_RCPT);
		nr = parse(f[i].v, f[i].len, r);
		*(uint8_t *)r[find(r, nr, R_ADDR)].v = 0;
		assert_false(decodes(b.data, b.len));
	}
	qenvelope_free(&e);
	buf_free(&b);
}

static void
test_missing_required(void **state)
{
	const uint8_t optional[] = {T_ENVID};
	struct qenvelope e, d;
	struct fld f[MAX_FLDS];
	struct buf b, c;
	size_t n;

	(void)state;
	make_full(&e);
	encode(&e, &b);
	n = parse(b.data + 3, b.len - 3, f);
	for (size_t i = 0; i < n; i++) {
		struct fld g[MAX_FLDS];
		size_t m = n;
		/* (dropping a recipient breaks the nrcpt count) */
		int required =
		    memchr(optional, f[i].tag, sizeof(optional)) == NULL;

		memcpy(g, f, sizeof(f));
		remove_at(g, &m, i);
		emit_rec(&c, g, m);
		if (required && decodes(c.data, c.len))
			fail_msg("decoded without tag %u", f[i].tag);
		if (f[i].tag == T_ENVID) {
			assert_int_equal(qrec_decode(c.data, c.len, &d), 0);
			assert_null(d.envid);
			qenvelope_free(&d);
		}
		buf_free(&c);
	}
	/* recipient: addr, notify, state, attempts required */
	{
		size_t ri = find(f, n, T_RCPT);
		struct fld r[MAX_FLDS];
		size_t nr = parse(f[ri].v, f[ri].len, r);

		for (size_t j = 0; j < nr; j++) {
			struct fld s[MAX_FLDS], g[MAX_FLDS];
			struct buf rb = {0};
			size_t ns = nr;
			int opt = r[j].tag == 2 || r[j].tag == R_LAST_ERROR;

			memcpy(s, r, sizeof(r));
			memcpy(g, f, sizeof(f));
			remove_at(s, &ns, j);
			emit(&rb, s, ns);
			g[ri].v = rb.data;
			g[ri].len = (uint32_t)rb.len;
			emit_rec(&c, g, n);
			assert_int_equal(decodes(c.data, c.len), opt);
			buf_free(&c);
			buf_free(&rb);
		}
	}
	qenvelope_free(&e);
	buf_free(&b);
}

static void
test_duplicate_tag(void **state)
{
	const uint8_t dups[] = {
	    T_ID, T_SENDER, T_ENVID, T_RECEIVED, T_NRCPT, T_HELO};
	struct qenvelope e;
	struct fld f[MAX_FLDS];
	struct buf b, c;
	size_t n;

	(void)state;
	make_full(&e);
	encode(&e, &b);
	for (size_t k = 0; k < sizeof(dups); k++) {
		n = parse(b.data + 3, b.len - 3, f);
		size_t i = find(f, n, dups[k]);
		insert_at(f, &n, i, f[i]);
		emit_rec(&c, f, n);
		assert_false(decodes(c.data, c.len));
		buf_free(&c);
	}
	/* duplicate inside a recipient */
	{
		struct fld r[MAX_FLDS];
		struct buf rb = {0};
		size_t ri, nr;

		n = parse(b.data + 3, b.len - 3, f);
		ri = find(f, n, T_RCPT);
		nr = parse(f[ri].v, f[ri].len, r);
		insert_at(r, &nr, 0, r[find(r, nr, R_ATTEMPTS)]);
		emit(&rb, r, nr);
		f[ri].v = rb.data;
		f[ri].len = (uint32_t)rb.len;
		emit_rec(&c, f, n);
		assert_false(decodes(c.data, c.len));
		buf_free(&c);
		buf_free(&rb);
	}
	qenvelope_free(&e);
	buf_free(&b);
}

/* Plugin notes (tag 16) survive encode/decode and copy. */
static void
test_notes_round_trip(void **state)
{
	struct qenvelope e, d, c;
	struct buf b = {0};
	char *notes[] = {"dkim.signed=example.test", "spam.score=1.5"};

	(void)state;
	make_full(&e);
	e.notes = notes;
	e.nnotes = 2;
	assert_int_equal(qrec_encode(&e, &b), 0);
	assert_int_equal(qrec_decode(b.data, b.len, &d), 0);
	assert_int_equal(d.nnotes, 2);
	assert_string_equal(d.notes[0], "dkim.signed=example.test");
	assert_string_equal(d.notes[1], "spam.score=1.5");
	assert_int_equal(qenvelope_copy(&c, &d), 0);
	assert_int_equal(c.nnotes, 2);
	assert_string_equal(c.notes[1], "spam.score=1.5");
	qenvelope_free(&c);
	qenvelope_free(&d);
	e.notes = NULL;
	e.nnotes = 0;
	qenvelope_free(&e);
	buf_free(&b);
}

static void
test_unknown_tags_skipped(void **state)
{
	const uint8_t junk[10] = "0123456789";
	struct qenvelope e, d;
	struct fld f[MAX_FLDS], r[MAX_FLDS];
	struct buf b, c, rb = {0};
	size_t n, nr, ri;

	(void)state;
	make_full(&e);
	encode(&e, &b);
	n = parse(b.data + 3, b.len - 3, f);
	/* a later version's fields: at the start, in the middle, before
	 * the end marker, empty and not, one with a NUL in it */
	insert_at(f, &n, 0, (struct fld){200, junk, 10});
	insert_at(f, &n, 5, (struct fld){17, junk, 0});
	insert_at(f, &n, n - 1, (struct fld){255, (const uint8_t *)"a\0b", 3});
	/* and inside a recipient */
	ri = find(f, n, T_RCPT);
	nr = parse(f[ri].v, f[ri].len, r);
	insert_at(r, &nr, 1, (struct fld){99, junk, 7});
	insert_at(r, &nr, nr, (struct fld){7, junk, 0});
	insert_at(r, &nr, 0, (struct fld){0, junk, 2});
	emit(&rb, r, nr);
	f[ri].v = rb.data;
	f[ri].len = (uint32_t)rb.len;
	emit_rec(&c, f, n);
	assert_true(c.len > b.len);
	assert_int_equal(qrec_decode(c.data, c.len, &d), 0);
	assert_env_eq(&e, &d);
	qenvelope_free(&d);
	/* field order is free too: the id field moved to the end */
	n = parse(b.data + 3, b.len - 3, f);
	{
		struct fld id = f[find(f, n, T_ID)];

		remove_at(f, &n, find(f, n, T_ID));
		insert_at(f, &n, n - 1, id);
	}
	buf_free(&c);
	emit_rec(&c, f, n);
	assert_int_equal(qrec_decode(c.data, c.len, &d), 0);
	assert_env_eq(&e, &d);
	qenvelope_free(&d);
	buf_free(&c);
	buf_free(&rb);
	qenvelope_free(&e);
	buf_free(&b);
}

static void
test_known_bytes(void **state)
{
	/* The exact v1 encoding of the minimal envelope, frozen here. */
	static const uint8_t want[] = {'R', 'Q', 1,
	    /* id */ 1, 8, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0,
	    /* sender */ 2, 0, 0, 0, 0,
	    /* ret */ 4, 1, 0, 0, 0, 0,
	    /* body */ 5, 1, 0, 0, 0, 0,
	    /* smtputf8 */ 6, 1, 0, 0, 0, 0,
	    /* held */ 7, 1, 0, 0, 0, 0,
	    /* received */ 8, 8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
	    /* next */ 9, 8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
	    /* attempts */ 10, 4, 0, 0, 0, 0, 0, 0, 0,
	    /* size */ 11, 8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
	    /* client */ 12, 0, 0, 0, 0,
	    /* helo */ 13, 0, 0, 0, 0,
	    /* nrcpt */ 14, 4, 0, 0, 0, 0, 0, 0, 0,
	    /* end */ 0, 0, 0, 0, 0};
	struct qenvelope e;
	struct buf b;

	(void)state;
	make_minimal(&e);
	encode(&e, &b);
	assert_int_equal(b.len, sizeof(want));
	assert_memory_equal(b.data, want, sizeof(want));
	qenvelope_free(&e);
	buf_free(&b);
}

static void
test_copy(void **state)
{
	struct qenvelope e, c, m;

	(void)state;
	make_full(&e);
	assert_int_equal(qenvelope_copy(&c, &e), 0);
	assert_env_eq(&e, &c);
	assert_ptr_not_equal(c.sender, e.sender);
	assert_ptr_not_equal(c.rcpts, e.rcpts);
	assert_ptr_not_equal(c.rcpts[1].last_error, e.rcpts[1].last_error);
	qenvelope_free(&e); /* the copy must stand alone (ASan) */
	assert_string_equal(c.rcpts[2].addr, "dave@example.net");
	make_minimal(&m);
	assert_int_equal(qenvelope_copy(&e, &m), 0);
	assert_env_eq(&m, &e);
	qenvelope_free(&e);
	qenvelope_free(&m);
	qenvelope_free(&c);
	qenvelope_free(&c); /* freeing a zeroed envelope is harmless */
}

static void
test_qid(void **state)
{
	char s[QID_STR_LEN + 1];
	qid_t id = 0;

	(void)state;
	qid_format(0x0123456789ABCDEFULL, s);
	assert_string_equal(s, "0123456789ABCDEF");
	qid_format(0, s);
	assert_string_equal(s, "0000000000000000");
	qid_format(UINT64_MAX, s);
	assert_string_equal(s, "FFFFFFFFFFFFFFFF");
	assert_int_equal(qid_parse("FFFFFFFFFFFFFFFF", &id), 0);
	assert_true(id == UINT64_MAX);
	assert_int_equal(qid_parse("000001030000002A", &id), 0);
	assert_true(id == 0x000001030000002AULL);
	assert_int_equal(qid_shard(id), 3);
	for (uint64_t v = 1; v != 0; v <<= 7) {
		qid_t back;

		qid_format(v * 0x9E3779B97F4A7C15ULL, s);
		assert_int_equal(qid_parse(s, &back), 0);
		assert_true(back == v * 0x9E3779B97F4A7C15ULL);
	}
	id = 42;
	assert_int_equal(qid_parse("000001030000002a", &id), -1);
	assert_int_equal(qid_parse("000001030000002", &id), -1);
	assert_int_equal(qid_parse("000001030000002A0", &id), -1);
	assert_int_equal(qid_parse("00000103000000G2", &id), -1);
	assert_int_equal(qid_parse(" 00001030000002A", &id), -1);
	assert_int_equal(qid_parse("", &id), -1);
	assert_int_equal(qid_parse(NULL, &id), -1);
	assert_true(id == 42); /* untouched on failure */
}

/* main - run the queue record tests */
int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_roundtrip_full),
	    cmocka_unit_test(test_roundtrip_minimal),
	    cmocka_unit_test(test_encode_null_strings),
	    cmocka_unit_test(test_encode_appends),
	    cmocka_unit_test(test_truncation_every_length),
	    cmocka_unit_test(test_wrong_magic_and_version),
	    cmocka_unit_test(test_bogus_lengths),
	    cmocka_unit_test(test_fixed_size_fields),
	    cmocka_unit_test(test_bad_values),
	    cmocka_unit_test(test_trailing_garbage),
	    cmocka_unit_test(test_nrcpt_bombs),
	    cmocka_unit_test(test_embedded_nul),
	    cmocka_unit_test(test_missing_required),
	    cmocka_unit_test(test_duplicate_tag),
	    cmocka_unit_test(test_unknown_tags_skipped),
	    cmocka_unit_test(test_notes_round_trip),
	    cmocka_unit_test(test_known_bytes),
	    cmocka_unit_test(test_copy),
	    cmocka_unit_test(test_qid),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
