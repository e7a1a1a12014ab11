/*
 * queue_record.c - the on-disk encoding of a queued message's envelope
 * (the value stored in the shard's "env" database), its decoder, deep
 * copy/free of struct qenvelope, and queue id text formatting.
 *
 * Pure functions over memory: no LMDB, no I/O, no threads, no global
 * state. The LMDB schema (keys, body chunks, schedule) lives in
 * queue_shard.c; nothing here knows about it.
 *
 * Version-1 layout (frozen: every later release must decode it, see
 * tests/fixtures/shard-v1/):
 *
 *   "RQ" u8 version(=1)  field*  end
 *   field := u8 tag, u32 length (little-endian), length bytes of value
 *   end   := tag 0 with length 0; it must be the last field and nothing
 *            may follow it, so a truncated record never decodes.
 *
 * Integers are little-endian and must have exactly their size; strings
 * are stored without NUL and must not contain one. A recipient is a
 * T_RCPT field whose value is itself a sequence of fields (without end
 * marker: its length delimits it). Tags a reader does not know are
 * skipped, at both levels, so a later version adds fields by adding tags
 * and keeps version byte 1; the version byte only changes for a layout
 * older readers cannot skip, and this reader rejects any version but 1.
 * Every v1 tag except T_ENVID, R_ORCPT and R_LAST_ERROR is required;
 * a known tag appearing twice (other than T_RCPT) is an error, and the
 * number of T_RCPT fields must equal T_NRCPT (at most QREC_MAX_RCPT).
 */
#include "queue_record.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

/* Top-level tags (version 1). Never renumber or reuse one. */
enum {
	T_END = 0,           /* empty, last */
	T_ID = 1,            /* u64 */
	T_SENDER = 2,        /* string ("" = null reverse-path) */
	T_ENVID = 3,         /* string, optional */
	T_RET = 4,           /* u8 */
	T_BODY = 5,          /* u8 */
	T_SMTPUTF8 = 6,      /* u8 0/1 */
	T_HELD = 7,          /* u8 0/1 */
	T_RECEIVED = 8,      /* i64 */
	T_NEXT_ATTEMPT = 9,  /* i64 */
	T_ATTEMPTS = 10,     /* u32 */
	T_SIZE = 11,         /* u64 */
	T_CLIENT_ADDR = 12,  /* string */
	T_HELO = 13,         /* string */
	T_NRCPT = 14,        /* u32 */
	T_RCPT = 15,         /* nested fields, repeated nrcpt times */
	T_NOTE = 16,         /* string "key=value", optional, repeated */
	T_MAX_KNOWN = T_NOTE /* tags above: skipped */
};

/* Tags inside one T_RCPT value (version 1). */
enum {
	R_ADDR = 1,       /* string */
	R_ORCPT = 2,      /* string, optional */
	R_NOTIFY = 3,     /* u8 */
	R_STATE = 4,      /* u8 enum qrcpt_state */
	R_ATTEMPTS = 5,   /* u32 */
	R_LAST_ERROR = 6, /* string, optional */
	R_MAX_KNOWN = R_LAST_ERROR
};

#define REQ_TOP                                                             \
	((1u << T_ID) | (1u << T_SENDER) | (1u << T_RET) | (1u << T_BODY) | \
	    (1u << T_SMTPUTF8) | (1u << T_HELD) | (1u << T_RECEIVED) |      \
	    (1u << T_NEXT_ATTEMPT) | (1u << T_ATTEMPTS) | (1u << T_SIZE) |  \
	    (1u << T_CLIENT_ADDR) | (1u << T_HELO) | (1u << T_NRCPT))
#define REQ_RCPT                                               \
	((1u << R_ADDR) | (1u << R_NOTIFY) | (1u << R_STATE) | \
	    (1u << R_ATTEMPTS))

/* Value ranges accepted for the small enums; they mirror smtp_parse.h
 * (enum smtp_ret, enum smtp_body, SMTP_NOTIFY_*) but are part of this
 * frozen format, so they are spelled out here. */
#define QREC_RET_MAX     2u    /* SMTP_RET_HDRS */
#define QREC_BODY_MAX    2u    /* SMTP_BODY_BINARYMIME */
#define QREC_NOTIFY_MASK 0x0fu /* NEVER|SUCCESS|FAILURE|DELAY */

#define QREC_MAX_NOTES 1000u
#define HDR_LEN        3u /* "RQ" + version */
#define TLV_HDR        5u /* tag + u32 length */

/* ---- encoding ---- */

static void
put_u32le(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
	p[2] = (uint8_t)(v >> 16);
	p[3] = (uint8_t)(v >> 24);
}

static void
put_u64le(uint8_t *p, uint64_t v)
{
	put_u32le(p, (uint32_t)v);
	put_u32le(p + 4, (uint32_t)(v >> 32));
}

static uint32_t
get_u32le(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
	       (uint32_t)p[3] << 24;
}

static uint64_t
get_u64le(const uint8_t *p)
{
	return (uint64_t)get_u32le(p) | (uint64_t)get_u32le(p + 4) << 32;
}

static const char *
str_or_empty(const char *s)
{
	return s != NULL ? s : "";
}

/* Size of one string field, SIZE_MAX when it does not fit a u32. */
static size_t
str_field_size(const char *s)
{
	size_t n = strlen(s);

	return n > UINT32_MAX ? SIZE_MAX : TLV_HDR + n;
}

/* Add b to *acc, saturating at SIZE_MAX. */
static void
add_size(size_t *acc, size_t b)
{
	*acc = (b > SIZE_MAX - *acc) ? SIZE_MAX : *acc + b;
}

static bool
env_values_ok(const struct qenvelope *env)
{
	if (env->nrcpt > QREC_MAX_RCPT ||
	    (env->nrcpt > 0 && env->rcpts == NULL))
		return false;
	if (env->ret > QREC_RET_MAX || env->body > QREC_BODY_MAX ||
	    env->smtputf8 > 1 || env->held > 1)
		return false;
	for (uint32_t i = 0; i < env->nrcpt; i++) {
		const struct qrcpt *r = &env->rcpts[i];

		if (r->state > QRCPT_FAILED ||
		    (r->notify & ~QREC_NOTIFY_MASK) != 0)
			return false;
	}
	return true;
}

/* Value length of one recipient's T_RCPT field; SIZE_MAX if too big. */
static size_t
rcpt_value_size(const struct qrcpt *r)
{
	size_t n = 0;

	add_size(&n, str_field_size(str_or_empty(r->addr)));
	if (r->orcpt != NULL)
		add_size(&n, str_field_size(r->orcpt));
	add_size(&n, TLV_HDR + 1); /* notify */
	add_size(&n, TLV_HDR + 1); /* state */
	add_size(&n, TLV_HDR + 4); /* attempts */
	if (r->last_error != NULL)
		add_size(&n, str_field_size(r->last_error));
	return n > UINT32_MAX ? SIZE_MAX : n;
}

/* qrec_encoded_size - exact encoded size of env, SIZE_MAX if invalid */
size_t
qrec_encoded_size(const struct qenvelope *env)
{
	size_t n = HDR_LEN;

	if (!env_values_ok(env))
		return SIZE_MAX;
	add_size(&n, TLV_HDR + 8); /* id */
	add_size(&n, str_field_size(str_or_empty(env->sender)));
	if (env->envid != NULL)
		add_size(&n, str_field_size(env->envid));
	add_size(&n, 4 * (TLV_HDR + 1)); /* ret, body, smtputf8, held */
	add_size(&n, 2 * (TLV_HDR + 8)); /* received, next_attempt */
	add_size(&n, TLV_HDR + 4);       /* attempts */
	add_size(&n, TLV_HDR + 8);       /* size */
	add_size(&n, str_field_size(str_or_empty(env->client_addr)));
	add_size(&n, str_field_size(str_or_empty(env->helo)));
	add_size(&n, TLV_HDR + 4); /* nrcpt */
	for (uint32_t i = 0; i < env->nnotes; i++) {
		if (env->notes == NULL || env->notes[i] == NULL)
			return SIZE_MAX;
		add_size(&n, str_field_size(env->notes[i]));
	}
	for (uint32_t i = 0; i < env->nrcpt; i++) {
		size_t r = rcpt_value_size(&env->rcpts[i]);

		if (r == SIZE_MAX)
			return SIZE_MAX;
		add_size(&n, TLV_HDR + r);
	}
	add_size(&n, TLV_HDR); /* end */
	return n;
}

/* Writer over memory already reserved for exactly the encoded size. */
struct wr {
	uint8_t *p;
};

static void
w_tlv(struct wr *w, uint8_t tag, const void *val, uint32_t len)
{
	w->p[0] = tag;
	put_u32le(w->p + 1, len);
	if (len > 0)
		memcpy(w->p + TLV_HDR, val, len);
	w->p += TLV_HDR + len;
}

static void
w_str(struct wr *w, uint8_t tag, const char *s)
{
	w_tlv(w, tag, s, (uint32_t)strlen(s));
}

static void
w_u8(struct wr *w, uint8_t tag, uint8_t v)
{
	w_tlv(w, tag, &v, 1);
}

static void
w_u32(struct wr *w, uint8_t tag, uint32_t v)
{
	uint8_t b[4];

	put_u32le(b, v);
	w_tlv(w, tag, b, 4);
}

static void
w_u64(struct wr *w, uint8_t tag, uint64_t v)
{
	uint8_t b[8];

	put_u64le(b, v);
	w_tlv(w, tag, b, 8);
}

/* qrec_encode - append the version-1 encoding of env to out */
int
qrec_encode(const struct qenvelope *env, struct buf *out)
{
	size_t total = qrec_encoded_size(env);
	struct wr w;

	if (total == SIZE_MAX || buf_reserve(out, total) < 0)
		return -1;
	w.p = out->data + out->len;
	w.p[0] = 'R';
	w.p[1] = 'Q';
	w.p[2] = QREC_VERSION;
	w.p += HDR_LEN;
	w_u64(&w, T_ID, env->id);
	w_str(&w, T_SENDER, str_or_empty(env->sender));
	if (env->envid != NULL)
		w_str(&w, T_ENVID, env->envid);
	w_u8(&w, T_RET, env->ret);
	w_u8(&w, T_BODY, env->body);
	w_u8(&w, T_SMTPUTF8, env->smtputf8);
	w_u8(&w, T_HELD, env->held);
	w_u64(&w, T_RECEIVED, (uint64_t)env->received);
	w_u64(&w, T_NEXT_ATTEMPT, (uint64_t)env->next_attempt);
	w_u32(&w, T_ATTEMPTS, env->attempts);
	w_u64(&w, T_SIZE, env->size);
	w_str(&w, T_CLIENT_ADDR, str_or_empty(env->client_addr));
	w_str(&w, T_HELO, str_or_empty(env->helo));
	w_u32(&w, T_NRCPT, env->nrcpt);
	for (uint32_t i = 0; i < env->nnotes; i++)
		w_str(&w, T_NOTE, env->notes[i]);
	for (uint32_t i = 0; i < env->nrcpt; i++) {
		const struct qrcpt *r = &env->rcpts[i];

		/* The nested fields follow the header directly. */
		w.p[0] = T_RCPT;
		put_u32le(w.p + 1, (uint32_t)rcpt_value_size(r));
		w.p += TLV_HDR;
		w_str(&w, R_ADDR, str_or_empty(r->addr));
		if (r->orcpt != NULL)
			w_str(&w, R_ORCPT, r->orcpt);
		w_u8(&w, R_NOTIFY, r->notify);
		w_u8(&w, R_STATE, r->state);
		w_u32(&w, R_ATTEMPTS, r->attempts);
		if (r->last_error != NULL)
			w_str(&w, R_LAST_ERROR, r->last_error);
	}
	w_tlv(&w, T_END, NULL, 0);
	out->len += total;
	return 0;
}

/* ---- decoding ---- */

/* Cursor over a field sequence; never reads outside [p, end). */
struct rd {
	const uint8_t *p, *end;
};

/* Take the next field; -1 if its header or value overruns the input. */
static int
r_next(struct rd *r, uint8_t *tag, const uint8_t **val, uint32_t *len)
{
	size_t left = (size_t)(r->end - r->p);
	uint32_t n;

	if (left < TLV_HDR)
		return -1;
	n = get_u32le(r->p + 1);
	if ((size_t)n > left - TLV_HDR)
		return -1;
	*tag = r->p[0];
	*val = r->p + TLV_HDR;
	*len = n;
	r->p += TLV_HDR + (size_t)n;
	return 0;
}

/* Copy a string value into a fresh heap string; -1 on NUL or no memory. */
static int
d_str(const uint8_t *val, uint32_t len, char **out)
{
	char *s;

	if (*out != NULL || memchr(val, 0, len) != NULL)
		return -1;
	s = malloc((size_t)len + 1);
	if (s == NULL)
		return -1;
	if (len > 0)
		memcpy(s, val, len);
	s[len] = '\0';
	*out = s;
	return 0;
}

static int
d_u8(const uint8_t *val, uint32_t len, uint8_t *out, unsigned max)
{
	if (len != 1 || val[0] > max)
		return -1;
	*out = val[0];
	return 0;
}

static int
d_u32(const uint8_t *val, uint32_t len, uint32_t *out)
{
	if (len != 4)
		return -1;
	*out = get_u32le(val);
	return 0;
}

static int
d_u64(const uint8_t *val, uint32_t len, uint64_t *out)
{
	if (len != 8)
		return -1;
	*out = get_u64le(val);
	return 0;
}

static int
d_rcpt(const uint8_t *data, uint32_t len, struct qrcpt *rc)
{
	struct rd r = {data, data + len};
	uint32_t seen = 0;
	uint8_t tag;
	const uint8_t *v;
	uint32_t n;
	int bad = 0;

	while (r.p < r.end && !bad) {
		if (r_next(&r, &tag, &v, &n) < 0)
			return -1;
		if (tag == 0 || tag > R_MAX_KNOWN)
			continue; /* unknown: a later version's field */
		if (seen & (1u << tag))
			return -1;
		seen |= 1u << tag;
		switch (tag) {
		case R_ADDR:
			bad = d_str(v, n, &rc->addr);
			break;
		case R_ORCPT:
			bad = d_str(v, n, &rc->orcpt);
			break;
		case R_NOTIFY:
			/* Every value <= the mask is a set of known bits. */
			bad = d_u8(v, n, &rc->notify, QREC_NOTIFY_MASK);
			break;
		case R_STATE:
			bad = d_u8(v, n, &rc->state, QRCPT_FAILED);
			break;
		case R_ATTEMPTS:
			bad = d_u32(v, n, &rc->attempts);
			break;
		default: /* R_LAST_ERROR */
			bad = d_str(v, n, &rc->last_error);
			break;
		}
	}
	if (bad || (seen & REQ_RCPT) != REQ_RCPT)
		return -1;
	return 0;
}

/* First pass: check the framing up to the end marker and count
 * recipients. Returns the count, or -1. */
static long
scan_fields(const uint8_t *p, const uint8_t *end)
{
	struct rd r = {p, end};
	uint8_t tag;
	const uint8_t *v;
	uint32_t n;
	long nrcpt = 0;

	for (;;) {
		if (r_next(&r, &tag, &v, &n) < 0)
			return -1;
		if (tag == T_END)
			return (n == 0 && r.p == r.end) ? nrcpt : -1;
		if (tag == T_RCPT && ++nrcpt > (long)QREC_MAX_RCPT)
			return -1;
	}
}

static int
d_field(struct qenvelope *env, uint8_t tag, const uint8_t *v, uint32_t n,
    uint32_t *nrcpt_field)
{
	uint64_t u;

	switch (tag) {
	case T_ID:
		return d_u64(v, n, &env->id);
	case T_SENDER:
		return d_str(v, n, &env->sender);
	case T_ENVID:
		return d_str(v, n, &env->envid);
	case T_RET:
		return d_u8(v, n, &env->ret, QREC_RET_MAX);
	case T_BODY:
		return d_u8(v, n, &env->body, QREC_BODY_MAX);
	case T_SMTPUTF8:
		return d_u8(v, n, &env->smtputf8, 1);
	case T_HELD:
		return d_u8(v, n, &env->held, 1);
	case T_RECEIVED:
		if (d_u64(v, n, &u) < 0)
			return -1;
		env->received = (int64_t)u;
		return 0;
	case T_NEXT_ATTEMPT:
		if (d_u64(v, n, &u) < 0)
			return -1;
		env->next_attempt = (int64_t)u;
		return 0;
	case T_ATTEMPTS:
		return d_u32(v, n, &env->attempts);
	case T_SIZE:
		return d_u64(v, n, &env->size);
	case T_CLIENT_ADDR:
		return d_str(v, n, &env->client_addr);
	case T_HELO:
		return d_str(v, n, &env->helo);
	default: /* T_NRCPT */
		return d_u32(v, n, nrcpt_field);
	}
}

/* qrec_decode - decode a record; env owns its strings on success */
int
qrec_decode(const void *data, size_t len, struct qenvelope *env)
{
	const uint8_t *p = data;
	struct rd r;
	uint32_t seen = 0, nrcpt_field = 0, got = 0;
	long count;
	uint8_t tag;
	const uint8_t *v;
	uint32_t n;

	memset(env, 0, sizeof(*env));
	if (p == NULL || len < HDR_LEN || p[0] != 'R' || p[1] != 'Q' ||
	    p[2] != QREC_VERSION)
		return -1;
	count = scan_fields(p + HDR_LEN, p + len);
	if (count < 0)
		return -1;
	if (count > 0) {
		env->rcpts = calloc((size_t)count, sizeof(*env->rcpts));
		if (env->rcpts == NULL)
			return -1;
	}
	r.p = p + HDR_LEN;
	r.end = p + len;
	for (;;) {
		if (r_next(&r, &tag, &v, &n) < 0)
			goto bad; /* unreachable after scan_fields */
		if (tag == T_END)
			break;
		if (tag > T_MAX_KNOWN)
			continue; /* unknown: a later version's field */
		if (tag == T_RCPT) {
			/* Count it first: a half-decoded recipient owns
			 * strings that qenvelope_free must release. */
			env->nrcpt = ++got;
			if (d_rcpt(v, n, &env->rcpts[got - 1]) < 0)
				goto bad;
			continue;
		}
		if (tag == T_NOTE) {
			char *note = NULL, **nn;
			if (env->nnotes >= QREC_MAX_NOTES ||
			    d_str(v, n, &note) < 0)
				goto bad;
			nn = realloc(
			    env->notes, (env->nnotes + 1) * sizeof(*nn));
			if (nn == NULL) {
				free(note);
				goto bad;
			}
			env->notes = nn;
			env->notes[env->nnotes++] = note;
			continue;
		}
		if (seen & (1u << tag))
			goto bad;
		seen |= 1u << tag;
		if (d_field(env, tag, v, n, &nrcpt_field) < 0)
			goto bad;
	}
	if ((seen & REQ_TOP) != REQ_TOP || nrcpt_field != got)
		goto bad;
	return 0;
bad:
	qenvelope_free(env);
	return -1;
}

static void
rcpt_free(struct qrcpt *r)
{
	free(r->addr);
	free(r->orcpt);
	free(r->last_error);
}

/* qenvelope_free - free everything env owns and zero it */
void
qenvelope_free(struct qenvelope *env)
{
	if (env == NULL)
		return;
	free(env->sender);
	free(env->envid);
	free(env->client_addr);
	free(env->helo);
	if (env->rcpts != NULL)
		for (uint32_t i = 0; i < env->nrcpt; i++)
			rcpt_free(&env->rcpts[i]);
	free(env->rcpts);
	for (uint32_t i = 0; i < env->nnotes && env->notes != NULL; i++)
		free(env->notes[i]);
	free(env->notes);
	memset(env, 0, sizeof(*env));
}

/* Duplicate s (NULL stays NULL); -1 when out of memory. */
static int
dup_opt(char **dst, const char *s)
{
	*dst = NULL;
	if (s == NULL)
		return 0;
	*dst = strdup(s);
	return *dst == NULL ? -1 : 0;
}

/* qenvelope_copy - deep copy src into dst (dst owns the copy) */
int
qenvelope_copy(struct qenvelope *dst, const struct qenvelope *src)
{
	int bad = 0;

	*dst = *src;
	dst->sender = dst->envid = dst->client_addr = dst->helo = NULL;
	dst->rcpts = NULL;
	dst->nrcpt = 0;
	dst->notes = NULL;
	dst->nnotes = 0;
	if (src->nnotes > 0) {
		if (src->notes == NULL ||
		    (dst->notes = calloc(src->nnotes, sizeof(char *))) == NULL)
			goto fail;
		for (uint32_t i = 0; i < src->nnotes; i++) {
			dst->nnotes = i + 1;
			bad |= dup_opt(&dst->notes[i], src->notes[i]);
		}
	}
	if (src->nrcpt > 0) {
		if (src->rcpts == NULL)
			goto fail;
		dst->rcpts = calloc(src->nrcpt, sizeof(*dst->rcpts));
		if (dst->rcpts == NULL)
			goto fail;
	}
	bad |= dup_opt(&dst->sender, src->sender);
	bad |= dup_opt(&dst->envid, src->envid);
	bad |= dup_opt(&dst->client_addr, src->client_addr);
	bad |= dup_opt(&dst->helo, src->helo);
	for (uint32_t i = 0; i < src->nrcpt; i++) {
		const struct qrcpt *s = &src->rcpts[i];
		struct qrcpt *d = &dst->rcpts[i];

		*d = *s;
		d->addr = d->orcpt = d->last_error = NULL;
		dst->nrcpt = i + 1;
		bad |= dup_opt(&d->addr, s->addr);
		bad |= dup_opt(&d->orcpt, s->orcpt);
		bad |= dup_opt(&d->last_error, s->last_error);
	}
	if (bad)
		goto fail;
	return 0;
fail:
	qenvelope_free(dst);
	return -1;
}

/* qid_format - 16 upper-case hex digits and a NUL */
void
qid_format(qid_t id, char out[QID_STR_LEN + 1])
{
	static const char hex[] = "0123456789ABCDEF";

	for (int i = QID_STR_LEN - 1; i >= 0; i--) {
		out[i] = hex[id & 0xf];
		id >>= 4;
	}
	out[QID_STR_LEN] = '\0';
}

/* qid_parse - exactly 16 upper-case hex digits; 0 ok, -1 otherwise */
int
qid_parse(const char *s, qid_t *id)
{
	qid_t v = 0;

	if (s == NULL)
		return -1;
	for (int i = 0; i < QID_STR_LEN; i++) {
		char c = s[i];
		unsigned d;

		if (c >= '0' && c <= '9')
			d = (unsigned)(c - '0');
		else if (c >= 'A' && c <= 'F')
			d = (unsigned)(c - 'A') + 10;
		else
			return -1; /* also catches a short string's NUL */
		v = v << 4 | d;
	}
	if (s[QID_STR_LEN] != '\0')
		return -1;
	*id = v;
	return 0;
}
