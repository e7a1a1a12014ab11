/*
 * smtp_server.h - the inbound SMTP protocol state machine of one session.
 *
 * Bytes in, replies out: a session never touches a socket, a ring or a
 * thread. The worker feeds it what the socket delivered
 * (smtp_session_input), sends what it appended to `out`, and closes the
 * connection when `close_after_flush` is set and `out` has been sent.
 * Durable queueing is asked for through the context's submit callback;
 * the worker calls smtp_session_commit_done when the commit has returned.
 * While a commit is pending the session is `paused` and consumes no input
 * (pipelined commands wait, PIPELINING keeps its order).
 *
 * Ownership: the worker owns the session (embedded in its conn) and frees
 * it with smtp_session_free once no commit is in flight.
 */
#ifndef RINGMX_SMTP_SERVER_H
#define RINGMX_SMTP_SERVER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "buf.h"
#include "config.h"
#include "ip_limit.h"
#include "plugin_host.h"
#include "queue_commit.h"
#include "smtp_data.h"
#include "smtp_parse.h"

struct smtp_session;
struct smtp_hdr_index;

struct smtp_server_ctx {
	const struct rmx_config *cfg;
	struct queue_shard *shard; /* where new messages go */
	/* Hand a commit to the committer (never blocks). */
	void (*submit)(void *arg, struct qop *op);
	void *submit_arg;
	unsigned worker; /* for logs */
	bool stopping;   /* server shutting down: no new transactions */
	/* Plugins of this worker (NULL: none). */
	struct plugin_worker *plugins;
	bool auth_hook; /* some plugin checks AUTH credentials */
	/* A paused session can go on (a plugin call finished). */
	void (*resume)(void *arg, struct smtp_session *s);
	void *resume_arg;
	/* Record one AUTH failure of s's client; returns true when the
	 * client is over its limit (then the session answers 421). NULL:
	 * no limit. Called with resume_arg. */
	bool (*auth_failed)(void *arg, struct smtp_session *s);
	/* Whether s's client is already over its AUTH failure limit. */
	bool (*auth_blocked)(void *arg, struct smtp_session *s);
	/* Call smtp_session_delay_done(s) after secs seconds (tarpit after
	 * an AUTH failure). NULL: answer at once. */
	void (*delay)(void *arg, struct smtp_session *s, unsigned secs);
};

enum smtp_state {
	SMTP_S_COMMAND = 0, /* reading command lines */
	SMTP_S_SKIPLINE,    /* discarding the rest of an over-long line */
	SMTP_S_DATA,        /* reading DATA content */
	SMTP_S_BDAT,        /* reading a BDAT chunk */
	SMTP_S_COMMIT,      /* waiting for the durable commit */
	SMTP_S_HOOK,        /* waiting for a plugin's verdict */
	SMTP_S_DELAY,       /* tarpit: reply held back for a while */
	SMTP_S_CLOSED,      /* reply sent, connection to be closed */
};

struct smtp_session {
	struct smtp_server_ctx *ctx;
	struct buf out;         /* replies waiting to be sent */
	bool close_after_flush; /* close once out is sent */
	enum smtp_state state;
	uint64_t conn_id;
	char client_ip[48];
	unsigned client_port;
	uint64_t ipkey; /* ip_limit key of the client */
	const struct rmx_listener_cfg *listener; /* may be NULL in tests */
	bool relay_ok;                           /* client in relay_networks */
	char *auth_user; /* authenticated identity (heap) or NULL */
	int sasl;        /* AUTH exchange in progress: enum in .c */
	char sasl_mech[8];
	char sasl_user[256], sasl_pass[256];
	char helo[256];
	bool greeted; /* HELO/EHLO seen */
	/* TLS: STARTTLS accepted, the worker switches after the 220 */
	bool starttls_req;
	bool tls_active; /* handshake done (STARTTLS or implicit) */
	char tls_version[16];
	char tls_cipher[64];
	bool esmtp; /* EHLO (not HELO) */
	unsigned ncmds, nerrors;

	/* transaction */
	bool has_mail;
	bool used_data, used_bdat;
	struct smtp_path sender;
	struct smtp_mail_params mp;
	struct qrcpt *rcpts;
	uint32_t nrcpt, rcpt_cap;
	struct smtp_data_rx rx;
	struct buf body;    /* Received: header + message as stored */
	uint64_t bdat_left; /* bytes of the current chunk still to read */
	bool bdat_last;
	const struct smtp_reply *bdat_err; /* chunk refused: consume, reply */
	qid_t qid;
	struct qenvelope env;
	struct qop op;
	bool op_inflight;
	unsigned rcpt_attempts; /* RCPT commands in this transaction */
	unsigned auth_failures; /* in this session */
	enum smtp_state state_before_delay;

	/* plugin calls */
	struct rmx_call *call; /* pending call or NULL */
	int call_hook;
	enum smtp_state state_before_hook;
	void (*hook_cont)(struct smtp_session *s, struct hook_result *r);
	struct hook_result hres;
	struct smtp_path hook_path; /* RCPT being decided */
	struct smtp_rcpt_params hook_rp;
	void **pdata;            /* per-plugin session data */
	void (**pclean)(void *); /* and its cleanup */
	size_t npdata;
	char **notes; /* plugin notes "key=value" (heap), kept with the
			 message in the queue */
	size_t nnotes;
	struct smtp_hdr_index *hidx; /* header view for plugins */
	char item_buf[8][24];        /* numbers rendered for get_item */
};

void smtp_session_init(struct smtp_session *s, struct smtp_server_ctx *ctx,
    uint64_t conn_id, const char *client_ip);
void smtp_session_free(struct smtp_session *s);
/* Queue the 220 greeting. */
void smtp_session_greet(struct smtp_session *s);
/* Refuse the connection with a 421 (code/enh/text) and close. */
void smtp_session_refuse(
    struct smtp_session *s, const char *enh, const char *text);
/*
 * smtp_session_input - process bytes; returns how many were consumed.
 * Stops early (consumed < len) when the session pauses for a commit or
 * closes; the worker keeps the rest and feeds it again after
 * smtp_session_commit_done.
 */
size_t smtp_session_input(
    struct smtp_session *s, const uint8_t *in, size_t len);
/* The worker finished the TLS handshake (after STARTTLS, or before the
 * greeting on an implicit-TLS listener). */
void smtp_session_tls_done(
    struct smtp_session *s, const char *version, const char *cipher);
/* The peer closed or the connection failed (for logs). */
void smtp_session_eof(struct smtp_session *s);
/*
 * smtp_session_commit_done - the commit of s->op returned. Appends the
 * 250 (or 452) reply. On success returns a heap copy of the envelope for
 * the scheduler (caller frees with qenvelope_free + free), else NULL.
 */
struct qenvelope *smtp_session_commit_done(struct smtp_session *s);
/* Idle/command timer expired: 421 and close. */
void smtp_session_timeout(struct smtp_session *s);
/* Server stopping: an idle session gets 421 4.3.2 and closes; returns
 * true if it did (false: a transaction is in flight). */
bool smtp_session_stop(struct smtp_session *s);
/* Whether the session is between transactions (for graceful stop). */
bool smtp_session_idle(const struct smtp_session *s);
/* Timeout (seconds) that applies in the current state. */
unsigned smtp_session_timeout_secs(const struct smtp_session *s);
/* The tarpit delay asked for with ctx->delay is over. */
void smtp_session_delay_done(struct smtp_session *s);
/* Waiting for a commit or a plugin: consumes no input. */
bool smtp_session_paused(const struct smtp_session *s);

/* smtp_hooks.c: the session as a plugin call's subject. */
struct hook_subject smtp_hooks_subject(struct smtp_session *s);
/* A pending plugin call of the session finished (plugin_host). */
void smtp_session_hook_done(void *subj, int hook, struct hook_result *res);
/* Forget the header view after the message changed. */
void smtp_hooks_invalidate(struct smtp_session *s);
/*
 * After the DATA hooks accepted a message: remove every incoming
 * Authentication-Results field that claims our authserv-id (forged, RFC
 * 8601 section 5), then prepend one field built from the plugins' "ar.*"
 * notes (none: no field). 0, or -1 out of memory.
 */
int smtp_hooks_auth_results(struct smtp_session *s);
/* Free what smtp_hooks allocated for s (header view, notes, slots). */
void smtp_hooks_free(struct smtp_session *s);

#endif
