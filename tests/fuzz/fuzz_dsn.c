/*
 * fuzz_dsn.c - libFuzzer target for the delivery status notification
 * builder (core/dsn.c). The input becomes a dsn_input with fuzzed
 * addresses, ORCPT, ENVID, statuses, diagnostics, remote MTAs and original
 * message. Checked with abort(): a refused input leaves the buffer
 * untouched; an accepted one is CRLF-only with no line over 998 octets,
 * its body holds the boundary exactly four times (three delimiters and
 * the close, so never inside a part), the delivery-status part has one
 * Final-Recipient line per reported recipient (nothing injected a line),
 * and dsn_requirements matches the 8-bit octets and the global types.
 *
 * Input layout: byte 0 flags (bits 0-1 RET, 2 SMTPUTF8, 3 fuzzed host,
 * 4 fuzzed token, 5 fuzzed indexes, 6-7 time mode), byte 1 envelope
 * recipients (1..8), byte 2 reported recipients, then 8 bytes of
 * per-report actions and 8 of indexes; then NUL-separated strings: sender,
 * ENVID, host, token, per envelope recipient address and ORCPT, per
 * report status, diagnostic and remote MTA; the rest is the original.
 * Missing strings are empty; an empty ORCPT, ENVID, status, diagnostic
 * or remote MTA means "none" (NULL).
 * Seeds: tests/fuzz/corpus/fuzz_dsn/. Also linked with replay_main.c.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "dsn.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(c)                 \
	do {                     \
		if (!(c))        \
			abort(); \
	} while (0)

#define MAXR 8

struct cursor {
	const uint8_t *p;
	size_t n;
};

/* Next NUL-terminated string (copied, so the builder sees a C string);
 * "" once the input is used up. */
static char *
next_str(struct cursor *c)
{
	const uint8_t *z = memchr(c->p, 0, c->n);
	size_t len = z != NULL ? (size_t)(z - c->p) : c->n;
	char *s = malloc(len + 1);

	if (s == NULL)
		abort();
	memcpy(s, c->p, len);
	s[len] = '\0';
	c->p += len + (z != NULL ? 1 : 0);
	c->n -= len + (z != NULL ? 1 : 0);
	return s;
}

static char *
or_null(char *s)
{
	return s[0] != '\0' ? s : NULL;
}

static const uint8_t *
find(const uint8_t *h, size_t hn, const char *s)
{
	return memmem(h, hn, s, strlen(s));
}

static size_t
count(const uint8_t *h, size_t hn, const char *s)
{
	size_t c = 0, sl = strlen(s);
	const uint8_t *p = h, *end = h + hn;

	while (p < end && (p = memmem(p, (size_t)(end - p), s, sl)) != NULL) {
		c++;
		p++;
	}
	return c;
}

static void
check_report(const uint8_t *m, size_t n, const struct dsn_input *in)
{
	const uint8_t *hend, *b, *body, *p2, *p3, *p;
	char boundary[80], delim[90];
	size_t bl, bodyn, col = 0;
	bool eight = false, global;
	unsigned req = dsn_requirements(in);

	/* CRLF only, lines <= 998, ends with CRLF */
	CHECK(n >= 2 && m[n - 2] == '\r' && m[n - 1] == '\n');
	for (size_t i = 0; i < n; i++) {
		if (m[i] == '\r') {
			CHECK(i + 1 < n && m[i + 1] == '\n');
			i++;
			col = 0;
			continue;
		}
		CHECK(m[i] != '\n');
		CHECK(++col <= 998);
		if (m[i] >= 0x80)
			eight = true;
	}

	/* the boundary from the header */
	hend = find(m, n, "\r\n\r\n");
	CHECK(hend != NULL);
	b = find(m, (size_t)(hend - m), "\r\n\tboundary=\"");
	CHECK(b != NULL);
	b += 13;
	p = memchr(b, '"', (size_t)(hend - b));
	CHECK(p != NULL);
	bl = (size_t)(p - b);
	CHECK(bl == 26 && memcmp(b, "=_rmx_dsn_", 10) == 0);
	memcpy(boundary, b, bl);
	boundary[bl] = '\0';

	/* in the body: exactly three delimiters and the close, at the end */
	body = hend + 4;
	bodyn = n - (size_t)(body - m);
	CHECK(count(body, bodyn, boundary) == 4);
	memcpy(delim, "\r\n--", 4);
	memcpy(delim + 4, boundary, bl);
	memcpy(delim + 4 + bl, "\r\n", 3);
	CHECK(count(body, bodyn, delim) == 3);
	CHECK(bodyn > bl + 8 && memcmp(m + n - bl - 4, boundary, bl) == 0 &&
	      memcmp(m + n - bl - 8, "\r\n--", 4) == 0 &&
	      memcmp(m + n - 4, "--\r\n", 4) == 0);

	/* the status part: one Final-Recipient line per reported recipient */
	p2 = find(body, bodyn, delim);
	CHECK(p2 != NULL);
	p2 = find(p2 + 1, bodyn - (size_t)(p2 + 1 - body), delim);
	CHECK(p2 != NULL);
	p3 = find(p2 + 1, bodyn - (size_t)(p2 + 1 - body), delim);
	CHECK(p3 != NULL);
	CHECK(count(p2, (size_t)(p3 - p2), "\r\nFinal-Recipient: ") ==
	      in->nrcpts);
	CHECK(count(p2, (size_t)(p3 - p2), "\r\nAction: ") == in->nrcpts);
	CHECK(count(p2, (size_t)(p3 - p2), "\r\nReporting-MTA: ") == 1);
	/* the part's own first header line, not text inside the part */
	p = p2 + 6 + bl;
	if (memcmp(p, "Content-Type: message/global-delivery-status\r\n", 46) ==
	    0)
		global = true;
	else if (memcmp(p, "Content-Type: message/delivery-status\r\n", 39) ==
		 0)
		global = false;
	else
		abort();

	/* what relaying needs */
	CHECK(((req & DSN_REQ_SMTPUTF8) != 0) == global);
	if (eight)
		CHECK(req & DSN_REQ_8BITMIME);
	if (!global)
		for (const uint8_t *q = m; q < hend; q++)
			CHECK(*q < 0x80);
}

/* LLVMFuzzerTestOneInput - build a report from fuzzed input and check it */
int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct cursor c;
	struct qrcpt rc[MAXR];
	struct qenvelope env;
	struct dsn_rcpt dr[MAXR];
	struct dsn_input in;
	char *strs[4 + 2 * MAXR + 3 * MAXR];
	size_t ns = 0;
	struct buf out = {0};
	unsigned flags, nenv, nrep;
	int r;

	if (size < 19)
		return 0;
	flags = data[0];
	nenv = data[1] % MAXR + 1;
	nrep = data[2] % nenv + 1;
	c.p = data + 19;
	c.n = size - 19;
	memset(rc, 0, sizeof(rc));
	memset(dr, 0, sizeof(dr));
	memset(&env, 0, sizeof(env));
	memset(&in, 0, sizeof(in));

	env.sender = strs[ns++] = next_str(&c);
	env.envid = strs[ns++] = next_str(&c);
	env.envid = or_null(env.envid);
	in.reporting_host = strs[ns++] = next_str(&c);
	in.token = strs[ns++] = next_str(&c);
	if (!(flags & 0x08))
		in.reporting_host = "mx.ringmx.example";
	if (!(flags & 0x10))
		in.token = "0000012A05000007.1";
	for (unsigned i = 0; i < nenv; i++) {
		rc[i].addr = strs[ns++] = next_str(&c);
		rc[i].orcpt = strs[ns++] = next_str(&c);
		rc[i].orcpt = or_null(rc[i].orcpt);
	}
	for (unsigned i = 0; i < nrep; i++) {
		/* mostly valid actions; 5 is out of range */
		dr[i].action = (enum dsn_action)(data[3 + i] % 6);
		dr[i].index = (flags & 0x20) ? data[11 + i] % (nenv + 1) : i;
		dr[i].status = or_null(strs[ns++] = next_str(&c));
		dr[i].diagnostic = or_null(strs[ns++] = next_str(&c));
		dr[i].remote_mta = or_null(strs[ns++] = next_str(&c));
		switch (flags >> 6) {
		case 0:
			break;
		case 1:
			dr[i].last_attempt = 1700000000 + data[11 + i];
			dr[i].will_retry_until = 1700400000;
			break;
		case 2:
			dr[i].last_attempt = DSN_TIME_MAX;
			break;
		default:
			dr[i].last_attempt = -1; /* refused */
			break;
		}
	}
	env.ret = (uint8_t)(flags & 3);
	env.smtputf8 = (flags & 0x04) != 0;
	env.received = 1700000000;
	env.nrcpt = nenv;
	env.rcpts = rc;
	in.env = &env;
	in.rcpts = dr;
	in.nrcpts = nrep;
	in.now = 1700000300;
	in.ret = (data[2] & 0x80) ? SMTP_RET_FULL : SMTP_RET_UNSET;
	in.original = c.p;
	in.original_len = c.n;

	if (buf_append(&out, "PRE", 3) < 0)
		abort();
	r = dsn_build(&in, &out);
	CHECK(r == 0 || r == -1);
	CHECK(out.len >= 3 && memcmp(out.data, "PRE", 3) == 0);
	if (r < 0) {
		CHECK(out.len == 3);
		CHECK(dsn_requirements(&in) == 0);
	} else {
		check_report(out.data + 3, out.len - 3, &in);
	}
	buf_free(&out);
	for (size_t i = 0; i < ns; i++)
		free(strs[i]);
	return 0;
}
