/*
 * queue_record.h - the versioned on-disk encoding of a queued message's
 * envelope (sender, recipients with per-recipient state and DSN
 * parameters, client info, schedule). Pure functions, no LMDB, no I/O;
 * decoding is fuzzed (tests/fuzz/fuzz_queue_record.c) because a corrupt
 * record on disk must never crash the daemon.
 *
 * Encoding rule: a record starts with a magic and a version; fields are
 * tag-length-value so a later version can add fields that older readers
 * skip, and every later release must decode version-1 records (a frozen
 * shard lives in tests/fixtures/).
 */
#ifndef RINGMX_QUEUE_RECORD_H
#define RINGMX_QUEUE_RECORD_H

#include <stddef.h>
#include <stdint.h>

#include "buf.h"

#define QREC_VERSION 1

/* Queue ids: (generation << 40) | (shard << 32) | sequence. The
 * generation is bumped durably each time a shard is opened, so ids are
 * unique across workers (shard) and restarts (generation). */
typedef uint64_t qid_t;
#define QID_STR_LEN 16 /* 16 upper-case hex digits */
void qid_format(qid_t id, char out[QID_STR_LEN + 1]);
int qid_parse(const char *s, qid_t *id); /* 0 ok, -1 bad */
static inline unsigned
qid_shard(qid_t id)
{
	return (unsigned)((id >> 32) & 0xff);
}

enum qrcpt_state {
	QRCPT_PENDING = 0,
	QRCPT_DELIVERED = 1,
	QRCPT_FAILED = 2, /* permanently: bounced */
};

struct qrcpt {
	char *addr;     /* "local@domain" as received (heap) */
	char *orcpt;    /* DSN ORCPT "type;addr" or NULL */
	uint8_t notify; /* SMTP_NOTIFY_* bits, 0 = unset */
	uint8_t state;  /* enum qrcpt_state */
	uint32_t attempts;
	char *last_error; /* last delivery error text or NULL */
};

struct qenvelope {
	qid_t id;
	char *sender;         /* "" for the null reverse-path (heap) */
	char *envid;          /* DSN ENVID or NULL */
	uint8_t ret;          /* enum smtp_ret */
	uint8_t body;         /* enum smtp_body */
	uint8_t smtputf8;     /* 0/1 */
	uint8_t held;         /* 0/1: held by configuration or operator */
	int64_t received;     /* unix time, seconds */
	int64_t next_attempt; /* unix time, seconds; 0 = now */
	uint32_t attempts;
	uint64_t size;     /* body octets */
	char *client_addr; /* textual IP of the client (heap) */
	char *helo;        /* HELO/EHLO name (heap) */
	uint32_t nrcpt;
	struct qrcpt *rcpts; /* array of nrcpt (heap) */
	/* Plugin notes stored with the message: "key=value" strings
	 * (heap), optional; tag 16, added in format 1 (older readers
	 * skip it). */
	uint32_t nnotes;
	char **notes;
};

/* Append the encoding of env to out. 0 ok, -1 out of memory or an
 * envelope that could not be decoded back (nrcpt > QREC_MAX_RCPT, rcpts
 * NULL with nrcpt > 0, a string longer than 4 GiB); out is unchanged on
 * failure. NULL sender/client_addr/helo/addr are stored as "". env is
 * only read (the caller keeps ownership). */
int qrec_encode(const struct qenvelope *env, struct buf *out);
/* Decode; on success *env owns heap memory (qenvelope_free). -1 on any
 * malformation (never reads beyond len, never trusts a length field);
 * *env is then all zero and owns nothing. */
int qrec_decode(const void *data, size_t len, struct qenvelope *env);
void qenvelope_free(struct qenvelope *env);
/* Deep copy; 0 ok, -1 out of memory. */
int qenvelope_copy(struct qenvelope *dst, const struct qenvelope *src);

/* Most recipients a record may hold; decoding rejects more. */
#define QREC_MAX_RCPT 100000u
/* qrec_encoded_size - exact number of bytes qrec_encode would append for
 * env (used to size commit batches); SIZE_MAX if env cannot be encoded. */
size_t qrec_encoded_size(const struct qenvelope *env);

#endif
