/*
 * local_delivery.c - the Maildir delivery job (see local_delivery.h):
 * builds the Return-Path:/Delivered-To: prefix per recipient and calls
 * maildir_deliver. Runs on the helper thread only.
 */
#include "local_delivery.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <unistd.h>

#include "buf.h"
#include "log.h"
#include "maildir.h"
#include "smtp_parse.h"

/* local_delivery_is_local - recipient handled by this host's Maildirs */
bool
local_delivery_is_local(const struct rmx_config *cfg, const char *addr)
{
	const char *at = strrchr(addr, '@');

	if (at == NULL)
		return true; /* <Postmaster> */
	return config_is_local_domain(cfg, at + 1);
}

static void
split_local(const char *addr, char *local, size_t n)
{
	const char *at = strrchr(addr, '@');
	size_t len = at ? (size_t)(at - addr) : strlen(addr);

	if (len >= n)
		len = n - 1;
	memcpy(local, addr, len);
	local[len] = '\0';
}

static void
set_error(struct qrcpt *r, const char *msg)
{
	free(r->last_error);
	r->last_error = strdup(msg);
}

static void
run(struct offload_job *base)
{
	struct local_delivery_job *j = (struct local_delivery_job *)base;
	struct qenvelope *e = j->env;
	struct buf body = {0}, prefix = {0};
	char id[QID_STR_LEN + 1], err[512];
	struct timeval tv;

	qid_format(e->id, id);
	j->body_err = queue_shard_read_body(j->shard, e->id, &body);
	if (j->body_err != QUEUE_OK) {
		buf_free(&body);
		return;
	}
	for (uint32_t i = 0; i < e->nrcpt; i++) {
		struct qrcpt *r = &e->rcpts[i];
		char local[SMTP_LOCAL_MAX * 2 + 1], unq[SMTP_LOCAL_MAX * 2 + 1];
		char box[SMTP_LOCAL_MAX + 1], unique[256];
		int rc;

		uint8_t rt = j->routes ? j->routes[i] : ROUTE_DEFAULT;

		if (r->state != QRCPT_PENDING)
			continue;
		if (rt == ROUTE_DEFAULT)
			rt = local_delivery_is_local(j->cfg, r->addr)
				 ? ROUTE_MAILDIR
				 : ROUTE_REMOTE;
		if (rt == ROUTE_DISCARD) {
			r->state = QRCPT_DELIVERED;
			j->delivered++;
			log_event(LOG_INFO, "discarded", "id=%s rcpt=<%s>", id,
			    r->addr);
			continue;
		}
		if (rt != ROUTE_MAILDIR) {
			j->no_route++;
			continue;
		}
		split_local(r->addr, local, sizeof(local));
		if (strchr(r->addr, '@') == NULL)
			snprintf(box, sizeof(box), "postmaster");
		else if (smtp_local_unquote(local, unq, sizeof(unq)) < 0 ||
			 maildir_mailbox(unq, box, sizeof(box)) < 0) {
			/* Refused at RCPT already; only a damaged queue
			 * gets here. Permanent. */
			r->state = QRCPT_FAILED;
			set_error(r, "550 5.1.3 mailbox name not allowed");
			continue;
		}
		buf_reset(&prefix);
		buf_printf(&prefix, "Return-Path: <%s>\r\nDelivered-To: %s\r\n",
		    e->sender, r->addr);
		gettimeofday(&tv, NULL);
		snprintf(unique, sizeof(unique), "%lld.M%06ldP%dQ%sR%u.%s",
		    (long long)tv.tv_sec, (long)tv.tv_usec, (int)getpid(), id,
		    (unsigned)i, j->cfg->hostname);
		rc = maildir_deliver(j->cfg->maildir_root, box, unique,
		    prefix.data, prefix.len, body.data, body.len, err,
		    sizeof(err));
		r->attempts++;
		if (rc == 0) {
			r->state = QRCPT_DELIVERED;
			j->delivered++;
			log_event(LOG_INFO, "delivered",
			    "id=%s rcpt=<%s> "
			    "mailbox=%s",
			    id, r->addr, box);
		} else {
			char q[600];
			char e2[600];
			/* temporary: disk full, I/O error, permissions */
			snprintf(e2, sizeof(e2), "451 4.3.0 %s", err);
			set_error(r, e2);
			j->failed++;
			log_event(LOG_WARNING, "deferred",
			    "id=%s rcpt=<%s> "
			    "reason=%s",
			    id, r->addr, log_quote(err, q, sizeof(q)));
		}
	}
	buf_free(&prefix);
	buf_free(&body);
}

/* local_delivery_job_init - prepare a job */
void
local_delivery_job_init(struct local_delivery_job *job,
    const struct rmx_config *cfg, struct queue_shard *shard,
    struct qenvelope *env)
{
	memset(job, 0, sizeof(*job));
	job->base.run = run;
	job->cfg = cfg;
	job->shard = shard;
	job->env = env;
}
