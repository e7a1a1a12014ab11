/*
 * bounce.c - delivery status notifications queued as mail (see bounce.h).
 * The report's content is dsn.c's; which recipients to report is the
 * scheduler's; this file turns a report into a queued message.
 */
#include "bounce.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "log.h"

struct bounce {
	struct qop op; /* first */
	struct queue_shard *shard;
	struct qenvelope env;
	struct qrcpt rcpt;
	struct buf body;
};

/* bounce_status - "5.1.1" from "550 5.1.1 text" (or a bare "5.1.1") */
void
bounce_status(const char *err, char defclass, char out[16])
{
	const char *p = err;

	snprintf(out, 16, "%c.0.0", defclass);
	if (p == NULL)
		return;
	if (p[0] >= '2' && p[0] <= '5' && p[1] >= '0' && p[1] <= '9' &&
	    p[2] >= '0' && p[2] <= '9' && p[3] == ' ')
		p += 4;
	if ((p[0] == '2' || p[0] == '4' || p[0] == '5') && p[1] == '.') {
		size_t n = strspn(p, "0123456789.");
		int dots = 0;
		for (size_t i = 0; i < n; i++)
			dots += p[i] == '.';
		if (dots == 2 && n < 16 && p[n - 1] != '.') {
			memcpy(out, p, n);
			out[n] = '\0';
		}
	}
}

static void
bounce_free(struct bounce *b)
{
	free(b->rcpt.addr);
	buf_free(&b->body);
	free(b);
}

/* bounce_report - build and submit one report */
int
bounce_report(const struct rmx_config *cfg, struct queue_committer *qc,
    struct queue_shard *shard, struct queue_shard *orig_shard,
    const struct qenvelope *env, const struct dsn_rcpt *rcpts, size_t n,
    int64_t now)
{
	struct buf orig = {0};
	struct dsn_input in;
	struct bounce *b;
	char id[QID_STR_LEN + 1], token[64];
	bool failure = false;
	unsigned req;

	qid_format(env->id, id);
	if (n == 0)
		return 1;
	if (env->sender == NULL || env->sender[0] == '\0') {
		log_event(LOG_NOTICE, "double_bounce",
		    "id=%s nrcpt=%zu "
		    "action=dropped",
		    id, n);
		return 1;
	}
	for (size_t i = 0; i < n; i++)
		failure = failure || rcpts[i].action == DSN_ACTION_FAILED;
	if ((b = calloc(1, sizeof(*b))) == NULL)
		return -1;
	if (queue_shard_read_body(orig_shard, env->id, &orig) != QUEUE_OK)
		buf_reset(&orig); /* report without the original */
	memset(&in, 0, sizeof(in));
	in.reporting_host = cfg->hostname;
	in.env = env;
	in.rcpts = rcpts;
	in.nrcpts = n;
	in.arrival = env->received;
	in.now = now;
	/* RFC 3461 4.3: the content only comes back with failures */
	in.ret = failure ? SMTP_RET_UNSET : SMTP_RET_HDRS;
	in.original = orig.data;
	in.original_len = orig.len;
	b->env.id = queue_shard_new_id(shard);
	qid_format(b->env.id, token);
	snprintf(
	    token + QID_STR_LEN, sizeof(token) - QID_STR_LEN, ".dsn.%s", id);
	in.token = token;
	if (dsn_build(&in, &b->body) != 0) {
		log_event(LOG_ERR, "bounce_failed", "id=%s reason=build", id);
		buf_free(&orig);
		bounce_free(b);
		return -1;
	}
	req = dsn_requirements(&in);
	buf_free(&orig);
	b->shard = shard;
	b->rcpt.addr = strdup(env->sender);
	b->rcpt.notify = SMTP_NOTIFY_NEVER;
	b->env.sender = (char *)"";
	b->env.body =
	    (req & DSN_REQ_8BITMIME) ? SMTP_BODY_8BITMIME : SMTP_BODY_7BIT;
	b->env.smtputf8 = (req & DSN_REQ_SMTPUTF8) != 0;
	b->env.received = now;
	b->env.size = b->body.len;
	b->env.client_addr = (char *)"";
	b->env.helo = cfg->hostname;
	b->env.nrcpt = 1;
	b->env.rcpts = &b->rcpt;
	if (b->rcpt.addr == NULL) {
		bounce_free(b);
		return -1;
	}
	b->op.kind = QOP_INSERT;
	b->op.shard = shard;
	b->op.env = &b->env;
	b->op.body = b->body.data;
	b->op.body_len = b->body.len;
	b->op.owner = b;
	b->op.owner_gen = BOUNCE_OWNER_TAG;
	qid_format(b->env.id, token);
	log_event(LOG_INFO, "dsn", "id=%s report=%s to=<%s> nrcpt=%zu kind=%s",
	    id, token, env->sender, n, failure ? "failure" : "notice");
	queue_committer_submit(qc, &b->op);
	return 0;
}

/* bounce_done - the report is queued (or not) */
struct qenvelope *
bounce_done(struct qop *op, struct queue_shard **shard)
{
	struct bounce *b = op->owner;
	struct qenvelope *copy = NULL;

	*shard = b->shard;
	if (op->result == QUEUE_OK) {
		copy = calloc(1, sizeof(*copy));
		if (copy != NULL && qenvelope_copy(copy, &b->env) != 0) {
			free(copy);
			copy = NULL;
		}
	} else {
		char id[QID_STR_LEN + 1];
		qid_format(b->env.id, id);
		log_event(LOG_ERR, "dsn_queue_failed", "report=%s err=%d", id,
		    op->result);
	}
	bounce_free(b);
	return copy;
}
