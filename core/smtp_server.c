/*
 * smtp_server.c - inbound SMTP (RFC 5321) protocol state machine for one
 * session: command lines, the transaction (MAIL, RCPT, DATA, BDAT), the
 * Received: header, and the hand-over of a finished message to the
 * committer. No sockets, rings or threads here (see smtp_server.h);
 * parsing lives in smtp_parse.c, message content in smtp_data.c.
 *
 *            greet
 *              |
 *              v         line > limit          +-----------+
 *   +----> COMMAND ----------------------->  SKIPLINE    |
 *   |       |  |  \____ DATA (354) ___> DATA --+         |
 *   |       |  |                               | CRLF.CRLF
 *   |       |  +------- BDAT n ______> BDAT ---+ last chunk
 *   |       |                                  v
 *   +-------+<----- 250 / 452 <----------- COMMIT (paused)
 *           |
 *           +-- QUIT, bare CR/LF, 421 limits --> CLOSED
 */
#include "smtp_server.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "diskspace.h"
#include "log.h"
#include "maildir.h"
#include "smtp_auth.h"
#include "stats.h"

/* What advertised extensions add to the command line (RFC 5321
 * 4.5.3.1.4): SIZE 26 (RFC 1870), DSN 110 on MAIL and 500 on RCPT
 * (RFC 3461), AUTH= 500 (RFC 4954), BODY/SMTPUTF8/NOTIFY keywords. */
#define MAIL_EXTRA (26 + 110 + 500 + 32)
#define RCPT_EXTRA (500 + 40)
#define SCAN_EXTRA MAIL_EXTRA

typedef void hook_cont_fn(struct smtp_session *s, struct hook_result *r);
static void run_hook(struct smtp_session *s, int hook, hook_cont_fn *cont);
static void run_info_hook(struct smtp_session *s, int hook);
static void cancel_hook(struct smtp_session *s);
static void cont_connect(struct smtp_session *s, struct hook_result *r);

enum sasl_state { SASL_NONE = 0, SASL_PLAIN, SASL_LOGIN_USER, SASL_LOGIN_PASS };

static const char *const ehlo_keywords[] = {"PIPELINING", "8BITMIME",
    "SMTPUTF8", "ENHANCEDSTATUSCODES", "CHUNKING", "DSN"};

static void reply(struct smtp_session *s, int code, const char *enh,
    const char *fmt, ...) __attribute__((format(printf, 4, 5)));

static void
reply(struct smtp_session *s, int code, const char *enh, const char *fmt, ...)
{
	va_list ap;
	char c[4] = {(char)('0' + code / 100 % 10),
	    (char)('0' + code / 10 % 10), (char)('0' + code % 10), ' '};

	/* by hand: printf costs ~1,500 instructions a call, and every
	 * command gets a reply (docs/performance.md) */
	buf_append(&s->out, c, sizeof(c));
	buf_append_str(&s->out, enh);
	buf_append(&s->out, " ", 1);
	if (strchr(fmt, '%') == NULL) {
		buf_append_str(&s->out, fmt);
	} else {
		va_start(ap, fmt);
		buf_vprintf(&s->out, fmt, ap);
		va_end(ap);
	}
	buf_append(&s->out, "\r\n", 2);
}

static void
close_with(struct smtp_session *s, int code, const char *enh, const char *text)
{
	reply(s, code, enh, "%s", text);
	s->state = SMTP_S_CLOSED;
	s->close_after_flush = true;
}

/* Refusals by command, for the counters. */
static void
count_reject(const char *what)
{
	if (strcmp(what, "RCPT") == 0)
		stat_inc(ST_REJ_RCPT);
	else if (strcmp(what, "MAIL") == 0)
		stat_inc(ST_REJ_MAIL);
	else if (strcmp(what, "DATA") == 0 || strcmp(what, "BDAT") == 0)
		stat_inc(ST_REJ_DATA);
	else if (strcmp(what, "AUTH") == 0)
		stat_inc(ST_REJ_AUTH);
	else if (strcmp(what, "EHLO") == 0 || strcmp(what, "HELO") == 0)
		stat_inc(ST_REJ_HELO);
	else
		stat_inc(ST_REJ_OTHER);
}

/* An error reply to a command: counts towards errors_max. */
static void
reply_err(struct smtp_session *s, const struct smtp_reply *r, const char *what)
{
	char q[128], id[QID_STR_LEN + 5] = "";

	reply(s, r->code, r->enh, "%s", r->text);
	count_reject(what);
	if (s->qid != 0) { /* a message refused at DATA has its id */
		memcpy(id, "id=", 3);
		qid_format(s->qid, id + 3);
		id[3 + QID_STR_LEN] = ' ';
	}
	log_event(LOG_INFO, "reject",
	    "%sconn=%llu ip=%s cmd=%s code=%d "
	    "status=%s reason=%s",
	    id, (unsigned long long)s->conn_id, s->client_ip, what, r->code,
	    r->enh, log_quote(r->text, q, sizeof(q)));
	if (++s->nerrors >= s->ctx->cfg->limits.errors_max &&
	    s->state != SMTP_S_CLOSED)
		close_with(s, 421, "4.7.0", "Error: too many errors");
}

static void
reply_errf(struct smtp_session *s, int code, const char *enh, const char *text,
    const char *what)
{
	const struct smtp_reply r = {code, enh, text};
	reply_err(s, &r, what);
}

static void
free_rcpts(struct smtp_session *s)
{
	for (uint32_t i = 0; i < s->nrcpt; i++) {
		free(s->rcpts[i].addr);
		free(s->rcpts[i].orcpt);
		free(s->rcpts[i].last_error);
	}
	s->nrcpt = 0;
}

static void
reset_transaction(struct smtp_session *s)
{
	free_rcpts(s);
	s->has_mail = false;
	s->used_data = s->used_bdat = false;
	memset(&s->sender, 0, sizeof(s->sender));
	memset(&s->mp, 0, sizeof(s->mp));
	buf_reset(&s->body);
	if (s->body.cap > 256 * 1024)
		buf_free(&s->body);
	s->bdat_left = 0;
	s->bdat_last = false;
	s->bdat_err = NULL;
	s->qid = 0;
	s->rcpt_attempts = 0;
	smtp_hooks_invalidate(s);
	for (size_t i = 0; i < s->nnotes; i++)
		free(s->notes[i]);
	free(s->notes);
	s->notes = NULL;
	s->nnotes = 0;
}

/* smtp_session_init - a fresh session for a new connection */
void
smtp_session_init(struct smtp_session *s, struct smtp_server_ctx *ctx,
    uint64_t conn_id, const char *client_ip)
{
	memset(s, 0, sizeof(*s));
	s->ctx = ctx;
	s->conn_id = conn_id;
	snprintf(s->client_ip, sizeof(s->client_ip), "%s", client_ip);
	s->state = SMTP_S_COMMAND;
}

/* smtp_session_free - release everything the session owns */
void
smtp_session_free(struct smtp_session *s)
{
	cancel_hook(s);
	run_info_hook(s, RMX_HOOK_DISCONNECT);
	smtp_hooks_free(s);
	if (s->auth_user != NULL)
		free(s->auth_user);
	s->auth_user = NULL;
	memset(s->sasl_pass, 0, sizeof(s->sasl_pass));
	free_rcpts(s);
	free(s->rcpts);
	s->rcpts = NULL;
	buf_free(&s->body);
	buf_free(&s->out);
}

/* smtp_session_greet - queue the greeting */
void
smtp_session_greet(struct smtp_session *s)
{
	run_hook(s, RMX_HOOK_CONNECT, cont_connect);
}

/* smtp_session_refuse - 421 at connect time */
void
smtp_session_refuse(struct smtp_session *s, const char *enh, const char *text)
{
	buf_printf(
	    &s->out, "421 %s %s %s\r\n", enh, s->ctx->cfg->hostname, text);
	s->state = SMTP_S_CLOSED;
	s->close_after_flush = true;
}

static void
fatal_bare(struct smtp_session *s, bool lf, const char *where)
{
	log_event(LOG_NOTICE, "reject",
	    "conn=%llu ip=%s reason=bare_%s "
	    "where=%s action=disconnect",
	    (unsigned long long)s->conn_id, s->client_ip, lf ? "lf" : "cr",
	    where);
	close_with(s, 550, "5.5.2",
	    lf ? "Error: bare <LF> received" : "Error: bare <CR> received");
}

/* ---- plugin hooks ---- */

/* Run hook's chain; cont runs now, or when a pending chain finishes. */
static void
run_hook(struct smtp_session *s, int hook, hook_cont_fn *cont)
{
	struct hook_subject subj = smtp_hooks_subject(s);
	struct hook_result r;

	hook_result_clear(&s->hres);
	if (s->ctx->plugins != NULL) {
		s->call_hook = hook;
		if (plugin_run(s->ctx->plugins, hook, &subj, &s->hres,
			&s->call) == 1) {
			s->state_before_hook = s->state;
			s->state = SMTP_S_HOOK;
			s->hook_cont = cont;
			return;
		}
		s->call_hook = 0;
	}
	/* cont may run another hook: hand it its own copy. */
	r = s->hres;
	memset(&s->hres, 0, sizeof(s->hres));
	cont(s, &r);
	hook_result_clear(&r);
}

/* smtp_session_hook_done - a pending chain finished */
void
smtp_session_hook_done(void *subj, int hook, struct hook_result *res)
{
	struct smtp_session *s = subj;
	hook_cont_fn *cont = s->hook_cont;
	struct hook_result r = *res;

	(void)hook;
	memset(res, 0, sizeof(*res));
	s->call = NULL;
	s->call_hook = 0;
	s->hook_cont = NULL;
	s->state = s->state_before_hook;
	cont(s, &r);
	hook_result_clear(&r);
	if (s->ctx->resume != NULL)
		s->ctx->resume(s->ctx->resume_arg, s);
}

/* Informational hooks: nobody waits for them. */
static void
run_info_hook(struct smtp_session *s, int hook)
{
	struct hook_subject subj = smtp_hooks_subject(s);
	struct rmx_call *call = NULL;
	struct hook_result r = {0};

	if (s->ctx->plugins == NULL)
		return;
	s->call_hook = hook;
	if (plugin_run(s->ctx->plugins, hook, &subj, &r, &call) == 1)
		plugin_cancel(s->ctx->plugins, call);
	s->call_hook = 0;
	hook_result_clear(&r);
}

static void
cancel_hook(struct smtp_session *s)
{
	if (s->call != NULL) {
		plugin_cancel(s->ctx->plugins, s->call);
		s->call = NULL;
		s->call_hook = 0;
		hook_result_clear(&s->hres);
	}
}

/*
 * A plugin's refusal: answer it (the plugin's reply when it set one of
 * the right class, else the default) and return true. ACCEPT and
 * CONTINUE return false.
 */
static bool
refused(struct smtp_session *s, const struct hook_result *r, const char *what,
    int dcode, const char *denh, const char *dtext)
{
	int code = r->code;

	switch (r->verdict) {
	case RMX_REJECT:
		if (code >= 500 && code <= 599)
			reply_errf(s, code, r->enh, r->text, what);
		else
			reply_errf(s, dcode, denh, dtext, what);
		return true;
	case RMX_TEMPFAIL:
		if (code >= 400 && code <= 499)
			reply_errf(s, code, r->enh, r->text, what);
		else
			reply_errf(s, 451, "4.7.1",
			    "Error: temporary failure, try again later", what);
		return true;
	case RMX_DISCONNECT:
		if (code >= 400 && code <= 599)
			close_with(s, code, r->enh, r->text);
		else
			close_with(
			    s, 421, "4.7.0", "Error: closing connection");
		return true;
	default:
		return false;
	}
}

/* ---- commands ---- */

static void
cont_connect(struct smtp_session *s, struct hook_result *r)
{
	if (r->verdict == RMX_REJECT) {
		close_with(s, r->code >= 500 ? r->code : 554,
		    r->code >= 500 ? r->enh : "5.7.1",
		    r->code >= 500 ? r->text : "Error: access denied");
		return;
	}
	if (r->verdict == RMX_TEMPFAIL || r->verdict == RMX_DISCONNECT) {
		close_with(s, 421, "4.7.0",
		    r->code >= 400 && r->code < 500
			? r->text
			: "Error: service not available, closing connection");
		return;
	}
	buf_printf(&s->out, "220 %s ESMTP ringmx\r\n", s->ctx->cfg->hostname);
}

/* The listener has certificates: STARTTLS (or implicit TLS) works. */
static bool
tls_offered(const struct smtp_session *s)
{
	return s->listener != NULL && s->listener->tls.ncerts > 0;
}

/* Submission with TLS configured: nothing but EHLO/STARTTLS/QUIT... in
 * plaintext (RFC 8314 section 3.3 spirit, RFC 6409). */
static bool
tls_required(const struct smtp_session *s)
{
	return !s->tls_active && tls_offered(s) &&
	       s->listener->mode == LISTEN_SUBMISSION;
}

/* AUTH only over TLS, unless the listener allows plaintext. */
static bool
auth_offered(const struct smtp_session *s)
{
	return s->ctx->auth_hook && s->listener != NULL && s->listener->auth &&
	       (s->tls_active || s->listener->auth_plaintext);
}

static void
cont_helo(struct smtp_session *s, struct hook_result *r)
{
	const struct rmx_limits *lim = &s->ctx->cfg->limits;
	const char *what = s->esmtp ? "EHLO" : "HELO";
	size_t nkw = sizeof(ehlo_keywords) / sizeof(*ehlo_keywords);

	if (refused(s, r, what, 550, "5.7.1", "Error: HELO/EHLO rejected")) {
		s->helo[0] = '\0';
		return;
	}
	s->greeted = true;
	/* no printf but for the number: this runs once per connection */
	buf_append_str(&s->out, s->esmtp ? "250-" : "250 ");
	buf_append_str(&s->out, s->ctx->cfg->hostname);
	buf_append(&s->out, "\r\n", 2);
	if (!s->esmtp)
		return;
	buf_printf(
	    &s->out, "250-SIZE %llu\r\n", (unsigned long long)lim->message_max);
	if (tls_offered(s) && !s->tls_active)
		buf_append_str(&s->out, "250-STARTTLS\r\n");
	if (auth_offered(s))
		buf_append_str(&s->out, "250-AUTH PLAIN LOGIN\r\n");
	for (size_t i = 0; i < nkw; i++) {
		buf_append_str(&s->out, i + 1 < nkw ? "250-" : "250 ");
		buf_append_str(&s->out, ehlo_keywords[i]);
		buf_append(&s->out, "\r\n", 2);
	}
}

static void
cmd_helo(struct smtp_session *s, const struct smtp_cmd *c, bool ehlo)
{
	size_t n = 0;

	while (n < c->arg_len && c->arg[n] != ' ')
		n++;
	if (n == 0) {
		reply_errf(s, 501, "5.5.4",
		    ehlo ? "Syntax: EHLO hostname" : "Syntax: HELO hostname",
		    ehlo ? "EHLO" : "HELO");
		return;
	}
	/* Keep a printable copy for the Received: header. */
	if (n >= sizeof(s->helo))
		n = sizeof(s->helo) - 1;
	for (size_t i = 0; i < n; i++) {
		unsigned char ch = (unsigned char)c->arg[i];
		s->helo[i] = (ch > 0x20 && ch < 0x7f && ch != '(' && ch != ')')
				 ? (char)ch
				 : '?';
	}
	s->helo[n] = '\0';
	reset_transaction(s);
	s->greeted = false;
	s->esmtp = ehlo;
	run_hook(s, RMX_HOOK_HELO, cont_helo);
}

static unsigned
session_ext(const struct smtp_session *s)
{
	if (!s->esmtp)
		return 0;
	return SMTP_EXT_SIZE | SMTP_EXT_8BITMIME | SMTP_EXT_SMTPUTF8 |
	       SMTP_EXT_DSN | SMTP_EXT_CHUNKING |
	       (auth_offered(s) ? SMTP_EXT_AUTH : 0);
}

static void
cont_mail(struct smtp_session *s, struct hook_result *r)
{
	char q[SMTP_PATH_MAX * 4 + 3];

	if (refused(s, r, "MAIL", 550, "5.7.1", "Error: sender rejected")) {
		memset(&s->sender, 0, sizeof(s->sender));
		memset(&s->mp, 0, sizeof(s->mp));
		return;
	}
	s->has_mail = true;
	s->rcpt_attempts = 0;
	log_event(LOG_DEBUG, "mail", "conn=%llu from=%s",
	    (unsigned long long)s->conn_id,
	    log_quote(s->sender.addr, q, sizeof(q)));
	reply(s, 250, "2.1.0", "Ok");
}

/* The part of a MAIL/RCPT line before its parameters must fit the
 * basic limit; only parameters may use the extensions' allowance. */
static bool
path_part_too_long(const struct smtp_session *s, const struct smtp_cmd *c,
    size_t linelen, size_t extra)
{
	struct smtp_path tmp;
	size_t used = 0, limit = s->ctx->cfg->limits.line_max;

	if (linelen <= limit)
		return false;
	if (linelen > limit + extra)
		return true;
	if (smtp_path_parse(c->arg, c->arg_len, true, &tmp, &used) != NULL)
		return true;
	return linelen - (c->arg_len - used) > limit;
}

static void
cmd_mail(struct smtp_session *s, const struct smtp_cmd *c, size_t linelen)
{
	const struct smtp_reply *r;

	if (!s->greeted) {
		reply_errf(
		    s, 503, "5.5.1", "Error: send HELO/EHLO first", "MAIL");
		return;
	}
	if (tls_required(s)) {
		reply_errf(s, 530, "5.7.0",
		    "Must issue a STARTTLS command first", "MAIL");
		return;
	}
	if (s->has_mail) {
		reply_errf(
		    s, 503, "5.5.1", "Error: nested MAIL command", "MAIL");
		return;
	}
	if (diskspace_low()) {
		reply_errf(s, 452, "4.3.1",
		    "Insufficient system storage, try again later", "MAIL");
		return;
	}
	if (s->ctx->stopping) {
		close_with(s, 421, "4.3.2", "Service shutting down");
		return;
	}
	if (path_part_too_long(s, c, linelen, MAIL_EXTRA)) {
		reply_errf(s, 500, "5.5.2", "Error: line too long", "MAIL");
		return;
	}
	if (s->listener != NULL && s->listener->mode != LISTEN_SMTP &&
	    s->auth_user == NULL) {
		reply_errf(s, 530, "5.7.0", "Authentication required", "MAIL");
		return;
	}
	r = smtp_mail_parse(
	    c->arg, c->arg_len, session_ext(s), &s->sender, &s->mp);
	if (r != NULL) {
		reply_err(s, r, "MAIL");
		return;
	}
	if (s->mp.size_set && s->mp.size > s->ctx->cfg->limits.message_max) {
		reply_errf(s, 552, "5.3.4",
		    "Message size exceeds fixed maximum message size", "MAIL");
		return;
	}
	run_hook(s, RMX_HOOK_MAIL, cont_mail);
}

static char *
xstrdup(const char *p)
{
	return p == NULL ? NULL : strdup(p);
}

/* Whether addr ("local@domain" or a bare local part) is delivered here,
 * and if so, whether its mailbox name is safe. */
static bool
local_addr(struct smtp_session *s, const char *addr, bool *safe)
{
	const char *at = strrchr(addr, '@');
	char local[SMTP_LOCAL_MAX * 2 + 1], unq[SMTP_LOCAL_MAX * 2 + 1];
	char box[SMTP_LOCAL_MAX + 1];
	size_t n;

	*safe = true;
	if (at == NULL) {
		*safe = strcasecmp(addr, "postmaster") == 0;
		return true;
	}
	if (!config_is_local_domain(s->ctx->cfg, at + 1))
		return false;
	n = (size_t)(at - addr);
	if (n >= sizeof(local)) {
		*safe = false;
		return true;
	}
	memcpy(local, addr, n);
	local[n] = '\0';
	*safe = smtp_local_unquote(local, unq, sizeof(unq)) >= 0 &&
		maildir_mailbox(unq, box, sizeof(box)) == 0;
	return true;
}

/* Append one recipient. false (and a reply) on failure. */
static bool
add_rcpt(struct smtp_session *s, const char *addr,
    const struct smtp_rcpt_params *rp, const char *orig)
{
	struct qrcpt *nr;
	char orcpt[SMTP_ORCPT_MAX + 1];

	if (s->nrcpt >= s->ctx->cfg->limits.rcpt_max) {
		reply_errf(
		    s, 452, "4.5.3", "Error: too many recipients", "RCPT");
		return false;
	}
	if (s->nrcpt == s->rcpt_cap) {
		uint32_t ncap = s->rcpt_cap ? s->rcpt_cap * 2 : 4;
		nr = realloc(s->rcpts, ncap * sizeof(*nr));
		if (nr == NULL) {
			reply_errf(s, 452, "4.3.1",
			    "Insufficient system resources", "RCPT");
			return false;
		}
		s->rcpts = nr;
		s->rcpt_cap = ncap;
	}
	orcpt[0] = '\0';
	if (rp->orcpt[0])
		snprintf(orcpt, sizeof(orcpt), "%s", rp->orcpt);
	else if (orig != NULL)
		snprintf(orcpt, sizeof(orcpt), "rfc822;%s", orig);
	nr = &s->rcpts[s->nrcpt];
	memset(nr, 0, sizeof(*nr));
	nr->addr = xstrdup(addr);
	nr->orcpt = orcpt[0] ? xstrdup(orcpt) : NULL;
	nr->notify = rp->notify;
	if (nr->addr == NULL || (orcpt[0] && nr->orcpt == NULL)) {
		free(nr->addr);
		free(nr->orcpt);
		reply_errf(
		    s, 452, "4.3.1", "Insufficient system resources", "RCPT");
		return false;
	}
	s->nrcpt++;
	return true;
}

static void
cont_rcpt(struct smtp_session *s, struct hook_result *r)
{
	const struct smtp_path *path = &s->hook_path;
	char q[SMTP_PATH_MAX * 4 + 3];
	bool safe;

	if (refused(s, r, "RCPT", 550, "5.7.1", "Error: recipient rejected"))
		return;
	if (r->verdict == RMX_ACCEPT && r->replaced) {
		/* aliases: the plugin's targets replace the recipient */
		for (size_t i = 0; i < r->naddrs; i++) {
			if (local_addr(s, r->addrs[i], &safe) && !safe) {
				reply_errf(s, 550, "5.1.3",
				    "Error: alias target mailbox name not "
				    "allowed",
				    "RCPT");
				return;
			}
		}
		for (size_t i = 0; i < r->naddrs; i++)
			if (!add_rcpt(s, r->addrs[i], &s->hook_rp, path->addr))
				return;
		reply(s, 250, "2.1.5", "Ok");
		return;
	}
	if (path->postmaster) {
		safe = true;
	} else if (!local_addr(s, path->addr, &safe)) {
		if (r->verdict != RMX_ACCEPT && !s->relay_ok &&
		    s->auth_user == NULL) {
			char text[SMTP_PATH_MAX * 4 + 64];
			snprintf(text, sizeof(text),
			    "<%s>: Relay access denied",
			    log_quote(path->addr, q, sizeof(q)));
			reply_errf(s, 550, "5.7.1", text, "RCPT");
			return;
		}
		safe = true; /* relayed: no mailbox here */
	}
	if (!safe) {
		reply_errf(s, 550, "5.1.3",
		    "Error: recipient mailbox name not allowed", "RCPT");
		return;
	}
	if (add_rcpt(s, path->addr, &s->hook_rp, NULL))
		reply(s, 250, "2.1.5", "Ok");
}

static void
cmd_rcpt(struct smtp_session *s, const struct smtp_cmd *c, size_t linelen)
{
	const struct smtp_reply *r;

	if (!s->has_mail) {
		reply_errf(s, 503, "5.5.1", "Error: need MAIL command", "RCPT");
		return;
	}
	if (path_part_too_long(s, c, linelen, RCPT_EXTRA)) {
		reply_errf(s, 500, "5.5.2", "Error: line too long", "RCPT");
		return;
	}
	s->rcpt_attempts++;
	r = smtp_rcpt_parse(c->arg, c->arg_len, session_ext(s), s->mp.smtputf8,
	    &s->hook_path, &s->hook_rp);
	if (r != NULL) {
		reply_err(s, r, "RCPT");
		return;
	}
	if (s->nrcpt >= s->ctx->cfg->limits.rcpt_max) {
		reply_errf(
		    s, 452, "4.5.3", "Error: too many recipients", "RCPT");
		return;
	}
	run_hook(s, RMX_HOOK_RCPT, cont_rcpt);
}

/* Begin the message body: allocate the id, write our Received: header. */
static void
start_message(struct smtp_session *s)
{
	const struct rmx_config *cfg = s->ctx->cfg;
	struct smtp_data_limits dl = {
	    .line_max = cfg->limits.text_line_max,
	    .header_max = cfg->limits.header_max,
	    .size_max = cfg->limits.message_max,
	    .hops_max = cfg->limits.hops_max,
	};
	char id[QID_STR_LEN + 1], date[64];
	const char *proto;
	time_t now = time(NULL);
	struct tm tm;

	s->qid = queue_shard_new_id(s->ctx->shard);
	qid_format(s->qid, id);
	gmtime_r(&now, &tm);
	strftime(date, sizeof(date), "%a, %d %b %Y %H:%M:%S +0000", &tm);
	/* RFC 3848 / RFC 6531 protocol names: S for TLS, A for AUTH */
	static const char *const protos[] = {"ESMTP", "ESMTPS", "ESMTPA",
	    "ESMTPSA", "UTF8SMTP", "UTF8SMTPS", "UTF8SMTPA", "UTF8SMTPSA"};
	if (s->esmtp || s->mp.smtputf8)
		proto = protos[(s->tls_active ? 1 : 0) +
			       (s->auth_user != NULL ? 2 : 0) +
			       (s->mp.smtputf8 ? 4 : 0)];
	else
		proto = "SMTP";
	buf_reset(&s->body);
	buf_printf(
	    &s->body, "Received: from %s ([%s])\r\n", s->helo, s->client_ip);
	if (s->tls_active)
		buf_printf(&s->body, "\t(using %s with cipher %s)\r\n",
		    s->tls_version, s->tls_cipher);
	buf_printf(&s->body, "\tby %s (ringmx) with %s id %s", cfg->hostname,
	    proto, id);
	if (s->nrcpt == 1)
		buf_printf(&s->body, "\r\n\tfor <%s>", s->rcpts[0].addr);
	buf_printf(&s->body, "; %s\r\n", date);
	smtp_data_init(&s->rx, &dl);
}

static void
submit_message(struct smtp_session *s)
{
	struct qenvelope *e = &s->env;

	memset(e, 0, sizeof(*e));
	e->id = s->qid;
	e->sender = s->sender.addr;
	e->envid = s->mp.envid[0] ? s->mp.envid : NULL;
	e->ret = (uint8_t)s->mp.ret;
	e->body = (uint8_t)s->mp.body;
	e->smtputf8 = s->mp.smtputf8;
	e->received = (int64_t)time(NULL);
	e->next_attempt = 0;
	e->size = s->body.len;
	e->client_addr = s->client_ip;
	e->helo = s->helo;
	e->nrcpt = s->nrcpt;
	e->rcpts = s->rcpts;
	e->notes = s->notes;
	e->nnotes = (uint32_t)s->nnotes;

	memset(&s->op, 0, sizeof(s->op));
	s->op.kind = QOP_INSERT;
	s->op.shard = s->ctx->shard;
	s->op.env = e;
	s->op.body = s->body.data;
	s->op.body_len = s->body.len;
	s->op.owner = s;
	s->op_inflight = true;
	s->state = SMTP_S_COMMIT;
	s->ctx->submit(s->ctx->submit_arg, &s->op);
}

static void
cont_sign(struct smtp_session *s, struct hook_result *r)
{
	if (refused(s, r, s->used_bdat ? "BDAT" : "DATA", 554, "5.7.0",
		"Error: message could not be signed")) {
		reset_transaction(s);
		return;
	}
	submit_message(s);
}

static void
cont_data(struct smtp_session *s, struct hook_result *r)
{
	if (refused(s, r, s->used_bdat ? "BDAT" : "DATA", 550, "5.7.1",
		"Error: message rejected")) {
		reset_transaction(s);
		return;
	}
	if (smtp_hooks_auth_results(s) != 0) {
		reply_errf(s, 451, "4.3.0", "Error: out of memory",
		    s->used_bdat ? "BDAT" : "DATA");
		reset_transaction(s);
		return;
	}
	/* Mail from our users (authenticated or relay networks) is signed
	 * once, here, before it is queued. */
	if (s->auth_user != NULL || s->relay_ok)
		run_hook(s, RMX_HOOK_SIGN, cont_sign);
	else
		submit_message(s);
}

/* End of content (DATA's final dot or BDAT LAST): reply or commit. */
static void
finish_message(struct smtp_session *s)
{
	const struct smtp_reply *r = smtp_data_error_reply(&s->rx);

	s->state = SMTP_S_COMMAND;
	if (r != NULL) {
		reply_err(s, r, s->used_bdat ? "BDAT" : "DATA");
		reset_transaction(s);
		return;
	}
	smtp_hooks_invalidate(s);
	run_hook(s, RMX_HOOK_DATA, cont_data);
}

static void
cmd_data(struct smtp_session *s, const struct smtp_cmd *c)
{
	if (c->arg_len != 0) {
		reply_errf(s, 501, "5.5.4", "Syntax: DATA", "DATA");
		return;
	}
	if (!s->has_mail) {
		reply_errf(s, 503, "5.5.1", "Error: need MAIL command", "DATA");
		return;
	}
	if (s->used_bdat) {
		reply_errf(s, 503, "5.5.1",
		    "Error: DATA not allowed after BDAT", "DATA");
		return;
	}
	if (s->nrcpt == 0) {
		if (s->rcpt_attempts == 0)
			reply_errf(s, 503, "5.5.1", "Error: need RCPT command",
			    "DATA");
		else
			reply_errf(s, 554, "5.5.1",
			    "Error: no valid recipients", "DATA");
		return;
	}
	s->used_data = true;
	start_message(s);
	s->state = SMTP_S_DATA;
	reply(s, 354, "2.0.0", "End data with <CR><LF>.<CR><LF>");
}

/* Parse "count [LAST]"; -1 when unusable (the chunk cannot be skipped). */
static int
parse_bdat(const char *a, size_t n, uint64_t *size, bool *last)
{
	size_t i = 0;
	uint64_t v = 0;

	if (n == 0)
		return -1;
	while (i < n && a[i] >= '0' && a[i] <= '9') {
		if (i >= 19)
			return -1;
		v = v * 10 + (uint64_t)(a[i] - '0');
		i++;
	}
	if (i == 0)
		return -1;
	*size = v;
	*last = false;
	if (i == n)
		return 0;
	if (a[i] != ' ')
		return -1;
	while (i < n && a[i] == ' ')
		i++;
	if (n - i == 4 && strncasecmp(a + i, "LAST", 4) == 0) {
		*last = true;
		return 0;
	}
	return -1;
}

static void bdat_chunk_done(struct smtp_session *s);

static void
cmd_bdat(struct smtp_session *s, const struct smtp_cmd *c)
{
	uint64_t size;
	bool last;
	static const struct smtp_reply
	    need_mail = {503, "5.5.1", "Error: need MAIL command"},
	    need_rcpt = {503, "5.5.1", "Error: need RCPT command"},
	    no_rcpt = {554, "5.5.1", "Error: no valid recipients"},
	    after_data = {503, "5.5.1", "Error: BDAT not allowed after DATA"},
	    too_big = {552, "5.3.4",
		"Message size exceeds fixed "
		"maximum message size"},
	    stopping = {421, "4.3.2", "Service shutting down"};

	if (parse_bdat(c->arg, c->arg_len, &size, &last) < 0) {
		/* Without a valid count the chunk cannot be skipped:
		 * its bytes must never be read as commands. */
		close_with(s, 501, "5.5.4", "Syntax: BDAT count [LAST]");
		return;
	}
	s->bdat_err = NULL;
	if (!s->has_mail)
		s->bdat_err = s->ctx->stopping ? &stopping : &need_mail;
	else if (s->nrcpt == 0)
		s->bdat_err = s->rcpt_attempts ? &no_rcpt : &need_rcpt;
	else if (s->used_data)
		s->bdat_err = &after_data;
	else if ((s->used_bdat ? s->rx.size : 0) + size >
		 s->ctx->cfg->limits.message_max)
		s->bdat_err = &too_big;
	if (s->bdat_err == NULL && !s->used_bdat) {
		s->used_bdat = true;
		start_message(s);
	}
	s->bdat_left = size;
	s->bdat_last = last;
	s->state = SMTP_S_BDAT;
	if (size == 0)
		bdat_chunk_done(s);
}

static void
bdat_chunk_done(struct smtp_session *s)
{
	s->state = SMTP_S_COMMAND;
	if (s->bdat_err != NULL) {
		const struct smtp_reply *r = s->bdat_err;
		s->bdat_err = NULL;
		if (r->code == 421) {
			close_with(s, r->code, r->enh, r->text);
			return;
		}
		if (s->has_mail)
			reset_transaction(s);
		reply_err(s, r, "BDAT");
		return;
	}
	if (!s->bdat_last) {
		reply(s, 250, "2.0.0", "Ok: %llu octets received",
		    (unsigned long long)s->rx.size);
		return;
	}
	if (smtp_bdat_last(&s->rx) == SMTP_DATA_BARE_EOL) {
		fatal_bare(s, false, "BDAT");
		return;
	}
	finish_message(s);
}

static void
cont_auth(struct smtp_session *s, struct hook_result *r)
{
	char q[300];

	memset(s->sasl_pass, 0, sizeof(s->sasl_pass));
	if (r->verdict == RMX_ACCEPT) {
		s->auth_user =
		    strdup(r->auth_user ? r->auth_user : s->sasl_user);
		if (s->auth_user == NULL) {
			reply_errf(s, 454, "4.7.0",
			    "Temporary authentication failure", "AUTH");
			return;
		}
		log_event(LOG_INFO, "auth",
		    "conn=%llu ip=%s mech=%s user=%s "
		    "result=ok",
		    (unsigned long long)s->conn_id, s->client_ip, s->sasl_mech,
		    log_quote(s->auth_user, q, sizeof(q)));
		reply(s, 235, "2.7.0", "Authentication successful");
		return;
	}
	if (r->verdict == RMX_TEMPFAIL) {
		reply_errf(s, 454, "4.7.0", "Temporary authentication failure",
		    "AUTH");
		return;
	}
	if (r->verdict == RMX_DISCONNECT) {
		close_with(s, 421, "4.7.0", "Error: closing connection");
		return;
	}
	log_event(LOG_NOTICE, "auth",
	    "conn=%llu ip=%s mech=%s user=%s "
	    "result=failed",
	    (unsigned long long)s->conn_id, s->client_ip, s->sasl_mech,
	    log_quote(s->sasl_user, q, sizeof(q)));
	if (s->ctx->auth_failed != NULL &&
	    s->ctx->auth_failed(s->ctx->resume_arg, s)) {
		close_with(
		    s, 421, "4.7.0", "Error: too many authentication failures");
		return;
	}
	s->auth_failures++;
	if (s->ctx->delay != NULL) {
		/* Tarpit: the 535 comes after a delay growing with the
		 * failures of this session (1 s, 2 s, ... at most 5 s). */
		s->state_before_delay = s->state;
		s->state = SMTP_S_DELAY;
		s->ctx->delay(s->ctx->resume_arg, s,
		    s->auth_failures < 5 ? s->auth_failures : 5);
		return;
	}
	smtp_session_delay_done(s);
}

/* smtp_session_delay_done - answer the AUTH failure held back */
void
smtp_session_delay_done(struct smtp_session *s)
{
	if (s->state == SMTP_S_DELAY)
		s->state = s->state_before_delay;
	reply_errf(
	    s, 535, "5.7.8", "Authentication credentials invalid", "AUTH");
	if (s->state == SMTP_S_DELAY || s->ctx->resume == NULL)
		return;
	s->ctx->resume(s->ctx->resume_arg, s);
}

static void
sasl_abort(struct smtp_session *s, int code, const char *enh, const char *text)
{
	s->sasl = SASL_NONE;
	memset(s->sasl_pass, 0, sizeof(s->sasl_pass));
	reply_errf(s, code, enh, text, "AUTH");
}

/* One client response of the AUTH exchange (base64 or "*"). */
static void
sasl_response(struct smtp_session *s, const char *line, size_t len)
{
	uint8_t dec[1024];
	char authz[SASL_FIELD_MAX + 1];
	int n;

	if (len == 1 && line[0] == '*') {
		sasl_abort(s, 501, "5.0.0", "Authentication cancelled");
		return;
	}
	if (len == 1 && line[0] == '=')
		n = 0; /* RFC 4954: "=" is an empty initial response */
	else
		n = sasl_b64_decode(line, len, dec, sizeof(dec) - 1);
	if (n < 0) {
		sasl_abort(s, 501, "5.5.2", "Cannot decode response");
		return;
	}
	dec[n] = '\0';
	switch (s->sasl) {
	case SASL_PLAIN:
		if (sasl_plain_parse(dec, (size_t)n, authz, s->sasl_user,
			s->sasl_pass) != 0 ||
		    (authz[0] != '\0' && strcmp(authz, s->sasl_user) != 0)) {
			sasl_abort(s, 501, "5.5.2", "Malformed PLAIN response");
			return;
		}
		break;
	case SASL_LOGIN_USER:
		if (n == 0 || (size_t)n >= sizeof(s->sasl_user) ||
		    memchr(dec, 0, (size_t)n) != NULL) {
			sasl_abort(s, 501, "5.5.2", "Malformed user name");
			return;
		}
		memcpy(s->sasl_user, dec, (size_t)n + 1);
		s->sasl = SASL_LOGIN_PASS;
		buf_append_str(&s->out, "334 UGFzc3dvcmQ6\r\n");
		return;
	case SASL_LOGIN_PASS:
		if (n == 0 || (size_t)n >= sizeof(s->sasl_pass) ||
		    memchr(dec, 0, (size_t)n) != NULL) {
			sasl_abort(s, 501, "5.5.2", "Malformed password");
			return;
		}
		memcpy(s->sasl_pass, dec, (size_t)n + 1);
		break;
	default:
		return;
	}
	memset(dec, 0, sizeof(dec));
	s->sasl = SASL_NONE;
	run_hook(s, RMX_HOOK_AUTH, cont_auth);
}

static void
cmd_auth(struct smtp_session *s, const struct smtp_cmd *c)
{
	size_t n = 0;

	if (tls_required(s) || (!auth_offered(s) && !s->tls_active &&
				   tls_offered(s) && s->listener->auth)) {
		reply_errf(s, 530, "5.7.0",
		    "Must issue a STARTTLS command first", "AUTH");
		return;
	}
	if (!auth_offered(s) || !s->esmtp) {
		reply_errf(s, 503, "5.5.1", "Error: authentication not enabled",
		    "AUTH");
		return;
	}
	if (s->auth_user != NULL) {
		reply_errf(
		    s, 503, "5.5.1", "Error: already authenticated", "AUTH");
		return;
	}
	if (s->has_mail) {
		reply_errf(s, 503, "5.5.1",
		    "Error: AUTH not allowed during a mail transaction",
		    "AUTH");
		return;
	}
	if (s->ctx->auth_blocked != NULL &&
	    s->ctx->auth_blocked(s->ctx->resume_arg, s)) {
		close_with(
		    s, 421, "4.7.0", "Error: too many authentication failures");
		return;
	}
	while (n < c->arg_len && c->arg[n] != ' ')
		n++;
	s->sasl_user[0] = s->sasl_pass[0] = '\0';
	if (n == 5 && strncasecmp(c->arg, "PLAIN", 5) == 0) {
		snprintf(s->sasl_mech, sizeof(s->sasl_mech), "PLAIN");
		s->sasl = SASL_PLAIN;
	} else if (n == 5 && strncasecmp(c->arg, "LOGIN", 5) == 0) {
		snprintf(s->sasl_mech, sizeof(s->sasl_mech), "LOGIN");
		s->sasl = SASL_LOGIN_USER;
	} else {
		reply_errf(s, 504, "5.5.4", "Unrecognized authentication type",
		    "AUTH");
		return;
	}
	if (n < c->arg_len) {
		/* initial response */
		sasl_response(s, c->arg + n + 1, c->arg_len - n - 1);
		return;
	}
	buf_append_str(&s->out,
	    s->sasl == SASL_PLAIN ? "334 \r\n" : "334 VXNlcm5hbWU6\r\n");
}

/*
 * STARTTLS (RFC 3207): the 220 goes out in plaintext, everything the
 * client pipelined after the command is thrown away (CVE-2011-0411), and
 * the session forgets what it learned (section 4.2): HELO, AUTH,
 * transaction. The worker switches the connection to TLS once the 220 is
 * on its way (starttls_req).
 */
static void
cmd_starttls(struct smtp_session *s, const struct smtp_cmd *c)
{
	if (!tls_offered(s)) {
		reply_errf(s, 502, "5.5.1",
		    "Error: STARTTLS is not offered here", "STARTTLS");
		return;
	}
	if (s->tls_active) {
		reply_errf(
		    s, 503, "5.5.1", "Error: TLS already active", "STARTTLS");
		return;
	}
	if (c->arg_len != 0) {
		reply_errf(s, 501, "5.5.4", "Syntax: STARTTLS", "STARTTLS");
		return;
	}
	if (s->has_mail) {
		reply_errf(s, 503, "5.5.1",
		    "Error: STARTTLS not allowed during a mail transaction",
		    "STARTTLS");
		return;
	}
	reply(s, 220, "2.0.0", "Ready to start TLS");
	reset_transaction(s);
	s->greeted = false;
	s->esmtp = false;
	s->helo[0] = '\0';
	free(s->auth_user);
	s->auth_user = NULL;
	s->starttls_req = true;
}

static void
cmd_simple(struct smtp_session *s, const struct smtp_cmd *c)
{
	switch (c->verb) {
	case SMTP_VERB_RSET:
		if (c->arg_len) {
			reply_errf(s, 501, "5.5.4", "Syntax: RSET", "RSET");
			return;
		}
		reset_transaction(s);
		reply(s, 250, "2.0.0", "Ok");
		return;
	case SMTP_VERB_NOOP:
		reply(s, 250, "2.0.0", "Ok");
		return;
	case SMTP_VERB_QUIT:
		close_with(s, 221, "2.0.0", "Bye");
		return;
	case SMTP_VERB_VRFY:
		if (c->arg_len == 0) {
			reply_errf(
			    s, 501, "5.5.4", "Syntax: VRFY address", "VRFY");
			return;
		}
		reply(s, 252, "2.5.2",
		    "Cannot VRFY user, but will accept message and attempt "
		    "delivery");
		return;
	case SMTP_VERB_EXPN:
		reply_errf(
		    s, 502, "5.5.1", "Error: EXPN not supported", "EXPN");
		return;
	case SMTP_VERB_HELP:
		reply(s, 214, "2.0.0",
		    "Commands: HELO EHLO MAIL RCPT DATA BDAT RSET NOOP QUIT "
		    "VRFY HELP");
		return;
	case SMTP_VERB_STARTTLS:
		cmd_starttls(s, c);
		return;
	default:
		reply_errf(s, 500, "5.5.1", "Error: command not recognized",
		    "UNKNOWN");
		return;
	}
}

static void
execute(struct smtp_session *s, const char *line, size_t len, size_t linelen)
{
	struct smtp_cmd c;
	const struct smtp_reply *r;

	if (++s->ncmds > s->ctx->cfg->limits.cmds_max) {
		close_with(s, 421, "4.7.0", "Error: too many commands");
		return;
	}
	if (s->sasl != SASL_NONE) {
		/* RFC 4954: responses may be longer than a command line */
		sasl_response(s, line, len);
		return;
	}
	r = smtp_cmd_parse(line, len, &c);
	if (r != NULL) {
		reply_err(s, r, "UNKNOWN");
		return;
	}
	if (c.verb != SMTP_VERB_MAIL && c.verb != SMTP_VERB_RCPT &&
	    c.verb != SMTP_VERB_AUTH &&
	    linelen > s->ctx->cfg->limits.line_max) {
		reply_errf(s, 500, "5.5.2", "Error: line too long", "LINE");
		return;
	}
	switch (c.verb) {
	case SMTP_VERB_HELO:
		cmd_helo(s, &c, false);
		break;
	case SMTP_VERB_EHLO:
		cmd_helo(s, &c, true);
		break;
	case SMTP_VERB_MAIL:
		cmd_mail(s, &c, linelen);
		break;
	case SMTP_VERB_RCPT:
		cmd_rcpt(s, &c, linelen);
		break;
	case SMTP_VERB_DATA:
		cmd_data(s, &c);
		break;
	case SMTP_VERB_BDAT:
		cmd_bdat(s, &c);
		break;
	case SMTP_VERB_AUTH:
		cmd_auth(s, &c);
		break;
	default:
		cmd_simple(s, &c);
		break;
	}
}

/* Command mode: consume at most one line. 0 = need more bytes. */
static size_t
input_command(struct smtp_session *s, const uint8_t *in, size_t len)
{
	size_t scan_max = s->ctx->cfg->limits.line_max + SCAN_EXTRA;
	size_t lim = len < scan_max ? len : scan_max;
	size_t p;

	for (p = 0; p < lim; p++)
		if (in[p] == '\r' || in[p] == '\n')
			break;
	if (p == lim) {
		if (len < scan_max)
			return 0;
		reply_errf(s, 500, "5.5.2", "Error: line too long", "LINE");
		if (s->state != SMTP_S_CLOSED)
			s->state = SMTP_S_SKIPLINE;
		return lim;
	}
	if (in[p] == '\n') {
		fatal_bare(s, true, "command");
		return len;
	}
	if (p + 1 == len)
		return 0; /* CR at the end: wait for the LF */
	if (in[p + 1] != '\n') {
		fatal_bare(s, false, "command");
		return len;
	}
	execute(s, (const char *)in, p, p + 2);
	return p + 2;
}

/* Discard the rest of an over-long line, up to its CRLF. */
static size_t
input_skipline(struct smtp_session *s, const uint8_t *in, size_t len)
{
	size_t p;

	for (p = 0; p < len; p++)
		if (in[p] == '\r' || in[p] == '\n')
			break;
	if (p == len)
		return len;
	if (in[p] == '\n') {
		fatal_bare(s, true, "command");
		return len;
	}
	if (p + 1 == len)
		return p; /* keep the CR */
	if (in[p + 1] != '\n') {
		fatal_bare(s, false, "command");
		return len;
	}
	s->state = SMTP_S_COMMAND;
	return p + 2;
}

static size_t
input_data(struct smtp_session *s, const uint8_t *in, size_t len)
{
	size_t used = 0;
	enum smtp_data_status st =
	    smtp_data_feed(&s->rx, in, len, &s->body, &used);

	if (st == SMTP_DATA_BARE_EOL) {
		fatal_bare(s, true, "DATA");
		return len;
	}
	if (st == SMTP_DATA_END)
		finish_message(s);
	return used;
}

static size_t
input_bdat(struct smtp_session *s, const uint8_t *in, size_t len)
{
	size_t m = len;

	if (m > s->bdat_left)
		m = (size_t)s->bdat_left;
	if (s->bdat_err == NULL &&
	    smtp_bdat_feed(&s->rx, in, m, &s->body) == SMTP_DATA_BARE_EOL) {
		fatal_bare(s, true, "BDAT");
		return len;
	}
	s->bdat_left -= m;
	if (s->bdat_left == 0)
		bdat_chunk_done(s);
	return m;
}

/* smtp_session_input - run the state machine over in[0..len) */
size_t
smtp_session_input(struct smtp_session *s, const uint8_t *in, size_t len)
{
	size_t off = 0;

	while (off < len) {
		size_t n;

		if (s->starttls_req)
			return len; /* pipelined after STARTTLS: discarded */
		switch (s->state) {
		case SMTP_S_COMMAND:
			n = input_command(s, in + off, len - off);
			break;
		case SMTP_S_SKIPLINE:
			n = input_skipline(s, in + off, len - off);
			break;
		case SMTP_S_DATA:
			n = input_data(s, in + off, len - off);
			break;
		case SMTP_S_BDAT:
			n = input_bdat(s, in + off, len - off);
			break;
		case SMTP_S_CLOSED:
			return len; /* discard: nothing more is executed */
		default:
			return off; /* paused for a commit */
		}
		if (n == 0)
			break;
		off += n;
	}
	return off;
}

/* smtp_session_tls_done - the TLS handshake finished */
void
smtp_session_tls_done(
    struct smtp_session *s, const char *version, const char *cipher)
{
	s->starttls_req = false;
	s->tls_active = true;
	stat_inc(ST_TLS_HANDSHAKES);
	snprintf(s->tls_version, sizeof(s->tls_version), "%s", version);
	snprintf(s->tls_cipher, sizeof(s->tls_cipher), "%s", cipher);
	run_info_hook(s, RMX_HOOK_STARTTLS);
}

/* smtp_session_eof - peer went away */
void
smtp_session_eof(struct smtp_session *s)
{
	if (s->state == SMTP_S_DATA || s->state == SMTP_S_BDAT || s->has_mail) {
		char id[QID_STR_LEN + 1] = "-";
		if (s->qid != 0)
			qid_format(s->qid, id);
		log_event(LOG_INFO, "abort",
		    "id=%s conn=%llu ip=%s "
		    "reason=disconnect_in_transaction",
		    id, (unsigned long long)s->conn_id, s->client_ip);
	}
	cancel_hook(s);
	s->state = SMTP_S_CLOSED;
}

/* smtp_session_commit_done - answer the end of data */
struct qenvelope *
smtp_session_commit_done(struct smtp_session *s)
{
	struct qenvelope *copy = NULL;
	char id[QID_STR_LEN + 1], q[SMTP_PATH_MAX * 4 + 3];
	bool closed = s->state == SMTP_S_CLOSED;

	s->op_inflight = false;
	qid_format(s->qid, id);
	if (s->op.result == QUEUE_OK) {
		stat_inc(ST_MSG_QUEUED);
		log_event(LOG_INFO, "queued",
		    "id=%s conn=%llu ip=%s from=<%s> "
		    "nrcpt=%u size=%zu worker=%u",
		    id, (unsigned long long)s->conn_id, s->client_ip,
		    log_quote(s->sender.addr, q, sizeof(q)), (unsigned)s->nrcpt,
		    s->body.len, s->ctx->worker);
		copy = calloc(1, sizeof(*copy));
		if (copy != NULL && qenvelope_copy(copy, &s->env) != 0) {
			free(copy);
			copy = NULL;
		}
		if (!closed)
			reply(s, 250, "2.0.0", "Ok: queued as %s", id);
		run_info_hook(s, RMX_HOOK_QUEUED);
	} else {
		log_event(LOG_ERR, "queue_failed", "id=%s conn=%llu err=%d", id,
		    (unsigned long long)s->conn_id, s->op.result);
		if (!closed)
			reply_errf(s, 452, "4.3.1",
			    "Insufficient system storage", "DATA");
	}
	reset_transaction(s);
	if (!closed && s->state == SMTP_S_COMMIT) {
		s->state = SMTP_S_COMMAND;
		if (s->ctx->stopping)
			close_with(s, 421, "4.3.2", "Service shutting down");
	}
	return copy;
}

/* smtp_session_timeout - the state's timer ran out */
void
smtp_session_timeout(struct smtp_session *s)
{
	log_event(LOG_INFO, "timeout", "conn=%llu ip=%s state=%d",
	    (unsigned long long)s->conn_id, s->client_ip, (int)s->state);
	cancel_hook(s);
	close_with(s, 421, "4.4.2", "Error: timeout exceeded");
}

/* smtp_session_idle - between transactions */
bool
smtp_session_idle(const struct smtp_session *s)
{
	return (s->state == SMTP_S_COMMAND || s->state == SMTP_S_SKIPLINE) &&
	       !s->has_mail;
}

/* smtp_session_stop - graceful shutdown of an idle session */
bool
smtp_session_stop(struct smtp_session *s)
{
	if (s->state == SMTP_S_CLOSED)
		return true;
	if (!smtp_session_idle(s))
		return false;
	close_with(s, 421, "4.3.2", "Service shutting down");
	return true;
}

/* smtp_session_paused - waiting for a commit or a plugin */
bool
smtp_session_paused(const struct smtp_session *s)
{
	return s->state == SMTP_S_COMMIT || s->state == SMTP_S_HOOK ||
	       s->state == SMTP_S_DELAY;
}

/* smtp_session_timeout_secs - timeout for the current state */
unsigned
smtp_session_timeout_secs(const struct smtp_session *s)
{
	const struct rmx_limits *l = &s->ctx->cfg->limits;

	if (s->state == SMTP_S_DATA || s->state == SMTP_S_BDAT)
		return l->timeout_data;
	return l->timeout_command;
}
