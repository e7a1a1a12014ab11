/*
 * fuzz_queue_record.c - libFuzzer target for the queue envelope decoder
 * (storage/queue_record.c). Any byte string may sit in the "env" database
 * after a disk error, so qrec_decode must never crash, overread or leak;
 * whatever it accepts must survive encode -> decode unchanged, and the
 * re-encoding must be a fixed point. abort() on any mismatch.
 * Seeds: tests/fuzz/corpus/fuzz_queue_record/ (real encodings). Also
 * linked with tests/fuzz/replay_main.c for `make test`.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "queue_record.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int
str_eq(const char *a, const char *b)
{
	if (a == NULL || b == NULL)
		return a == b;
	return strcmp(a, b) == 0;
}

static int
env_eq(const struct qenvelope *a, const struct qenvelope *b)
{
	if (a->id != b->id || !str_eq(a->sender, b->sender) ||
	    !str_eq(a->envid, b->envid) || a->ret != b->ret ||
	    a->body != b->body || a->smtputf8 != b->smtputf8 ||
	    a->held != b->held || a->received != b->received ||
	    a->next_attempt != b->next_attempt || a->attempts != b->attempts ||
	    a->size != b->size || !str_eq(a->client_addr, b->client_addr) ||
	    !str_eq(a->helo, b->helo) || a->nrcpt != b->nrcpt ||
	    a->nnotes != b->nnotes)
		return 0;
	for (uint32_t i = 0; i < a->nnotes; i++)
		if (!str_eq(a->notes[i], b->notes[i]))
			return 0;
	for (uint32_t i = 0; i < a->nrcpt; i++) {
		const struct qrcpt *x = &a->rcpts[i], *y = &b->rcpts[i];

		if (!str_eq(x->addr, y->addr) || !str_eq(x->orcpt, y->orcpt) ||
		    x->notify != y->notify || x->state != y->state ||
		    x->attempts != y->attempts ||
		    !str_eq(x->last_error, y->last_error))
			return 0;
	}
	return 1;
}

/* LLVMFuzzerTestOneInput - decode, re-encode, compare */
int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct qenvelope a, b;
	struct buf e1 = {0}, e2 = {0};

	if (qrec_decode(data, size, &a) != 0)
		return 0;
	if (qrec_encode(&a, &e1) != 0 || e1.len != qrec_encoded_size(&a))
		abort();
	if (qrec_decode(e1.data, e1.len, &b) != 0 || !env_eq(&a, &b))
		abort();
	if (qrec_encode(&b, &e2) != 0 || e2.len != e1.len ||
	    memcmp(e1.data, e2.data, e1.len) != 0)
		abort();
	/* the canonical form is never longer than what was accepted */
	if (e1.len > size)
		abort();
	qenvelope_free(&a);
	qenvelope_free(&b);
	buf_free(&e1);
	buf_free(&e2);
	return 0;
}
