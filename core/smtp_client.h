/*
 * smtp_client.h - the outbound SMTP (RFC 5321) / LMTP (RFC 2033) protocol
 * engine of one connection: greeting, EHLO/LHLO (HELO fallback),
 * opportunistic STARTTLS (RFC 3207), transactions with PIPELINING (RFC
 * 2920), SIZE (RFC 1870), 8BITMIME (RFC 6152), SMTPUTF8 (RFC 6531), DSN
 * (RFC 3461) parameters, per-recipient results, connection reuse, QUIT.
 *
 * Bytes in, bytes out, events: the engine never touches a socket, a ring,
 * a clock or a file, and never blocks. The caller (the worker's ring, or
 * a Unix socket for LMTP) connects, then:
 *   - feeds what the peer sent to smtp_client_input();
 *   - sends what the engine appended to `out` (take the bytes out of it:
 *     buf_consume, or swap the buf as worker.c does) and, after each
 *     completed send, calls smtp_client_pump() so the engine can append
 *     the next block of a message body (bodies go out in blocks of
 *     SC_BODY_BLOCK octets, never all at once);
 *   - after every call, reads smtp_client_events() and acts on them;
 *   - arms a timer of smtp_client_timeout_secs() (0: none) and calls
 *     smtp_client_timeout() when it fires, smtp_client_eof() when the
 *     peer closed or the connection failed.
 *
 * Events (bits, smtp_client_events() returns and clears them):
 *   SC_EV_READY         idle: greeted, EHLO (and STARTTLS) done, no
 *                       transaction: smtp_client_start_message() or
 *                       smtp_client_quit() may be called. Raised again
 *                       when a message is done and the connection stays
 *                       usable.
 *   SC_EV_MESSAGE_DONE  the message's per-recipient results are final
 *                       (smtp_client_results()); may come together with
 *                       SC_EV_CLOSED.
 *   SC_EV_TLS           the peer answered 220 to STARTTLS: do the TLS
 *                       handshake, then call smtp_client_tls_done(); feed
 *                       decrypted bytes from then on. Bytes fed before
 *                       tls_done are discarded (RFC 3207 4.2/5: plaintext
 *                       after the 220 cannot be trusted). If the handshake
 *                       fails, free the engine and decide (e.g. reconnect
 *                       with want_tls false).
 *   SC_EV_CLOSED        the session is over: close the connection (after
 *                       sending `out` if it still holds bytes). `closed`
 *                       says why: outcome SC_OK after our QUIT, SC_TEMP or
 *                       SC_PERM when the connection failed (a 5xx greeting
 *                       is SC_PERM: this host refuses us; 421, timeouts,
 *                       lost connections and protocol errors SC_TEMP).
 *
 * Message outcomes: recipients refused at RCPT keep that reply; a MAIL
 * refusal applies to every recipient; a DATA refusal and, for SMTP, the
 * reply to the final dot apply to every recipient accepted at RCPT; for
 * LMTP each accepted recipient gets its own reply after the dot, in RCPT
 * order. 421 at any point, a timeout, a lost connection or a protocol
 * error (any reply that does not fit the protocol state, any reply the
 * bounded parser smtp_reply_parse.h refuses) leave every recipient still
 * unfinished SC_TEMP and close the connection.
 *
 * Ownership: the caller owns the struct (embed it) and frees it with
 * smtp_client_free(). The message passed to smtp_client_start_message()
 * is borrowed: env and body must stay valid and unchanged until
 * SC_EV_MESSAGE_DONE (or smtp_client_free); the recipient index list is
 * copied. Results belong to the engine and stay valid until the next
 * smtp_client_start_message() or smtp_client_free().
 *
 * Not here: DNS/MX, connecting, TLS itself, retry scheduling, queue
 * updates, bounces (the caller maps results to queue state and DSNs).
 */
#ifndef RINGMX_SMTP_CLIENT_H
#define RINGMX_SMTP_CLIENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "buf.h"
#include "queue_record.h"
#include "smtp_reply_parse.h"

enum smtp_client_mode {
	SMTP_CLIENT_SMTP = 0, /* EHLO, HELO fallback, one reply after DATA */
	SMTP_CLIENT_LMTP,     /* LHLO, one reply per accepted recipient */
};

/* Events (bit mask) */
#define SC_EV_READY        0x01u
#define SC_EV_MESSAGE_DONE 0x02u
#define SC_EV_TLS          0x04u
#define SC_EV_CLOSED       0x08u

/* Capabilities from the last EHLO/LHLO (HELO: none) */
#define SC_CAP_SIZE                0x01u
#define SC_CAP_PIPELINING          0x02u
#define SC_CAP_8BITMIME            0x04u
#define SC_CAP_SMTPUTF8            0x08u
#define SC_CAP_DSN                 0x10u
#define SC_CAP_STARTTLS            0x20u
#define SC_CAP_CHUNKING            0x40u /* noted, not used */
#define SC_CAP_ENHANCEDSTATUSCODES 0x80u

/* Timeouts in seconds, RFC 5321 4.5.3.2 (used for LMTP too) */
#define SC_TIMEOUT_GREETING 300 /* initial 220 */
#define SC_TIMEOUT_COMMAND                                             \
	300                  /* EHLO, HELO, STARTTLS, TLS, MAIL, RCPT, \
				RSET, QUIT */
#define SC_TIMEOUT_DATA  120 /* reply to DATA */
#define SC_TIMEOUT_BLOCK 180 /* while sending the body */
#define SC_TIMEOUT_DOT   600 /* reply(ies) to the final dot */

#define SC_BODY_BLOCK (64u * 1024) /* body octets converted per pump */
#define SC_TEXT_MAX   512          /* reply text kept per status */

enum smtp_client_state {
	SC_S_GREETING = 0, /* waiting for the 220 */
	SC_S_EHLO,         /* EHLO or LHLO sent */
	SC_S_HELO,         /* HELO sent (EHLO refused) */
	SC_S_STARTTLS,     /* STARTTLS sent */
	SC_S_TLS,          /* 220 to STARTTLS: caller does the handshake */
	SC_S_IDLE,         /* ready for a message or QUIT */
	SC_S_TRANSACTION,  /* RSET/MAIL/RCPT/DATA replies awaited */
	SC_S_BODY,         /* DATA got 354: body being appended to out */
	SC_S_DOT,          /* final dot sent: reply(ies) awaited */
	SC_S_RSET,         /* every RCPT refused: RSET sent */
	SC_S_QUIT,         /* QUIT sent */
	SC_S_CLOSED,       /* done; see `closed` */
};

enum smtp_client_outcome {
	SC_PENDING = 0, /* no result yet */
	SC_OK,          /* delivered (2xx) / connection closed cleanly */
	SC_TEMP,        /* temporary failure: retry later */
	SC_PERM,        /* permanent failure: bounce */
};

/* A reply of the peer, or a decision of ringmx (local). */
struct smtp_client_status {
	enum smtp_client_outcome outcome;
	int code;                  /* reply code, e.g. 550 */
	char enh[SMTP_RP_ENH_MAX]; /* RFC 3463 code or "" if none given */
	bool local;                /* made by ringmx, not sent by the peer */
	/* reply text, lines joined with a space, cut at SC_TEXT_MAX octets
	 * (never inside a UTF-8 sequence); NUL-terminated */
	char text[SC_TEXT_MAX + 1];
};

struct smtp_client_result {
	uint32_t rcpt; /* index into the message's env->rcpts */
	struct smtp_client_status st;
};

struct smtp_client_cfg {
	enum smtp_client_mode mode;
	const char *helo_name;    /* our EHLO/LHLO/HELO name (copied) */
	bool want_tls;            /* send STARTTLS when offered */
	size_t reply_line_max;    /* 0: SMTP_RP_LINE_MAX */
	unsigned reply_lines_max; /* 0: SMTP_RP_LINES_MAX */
	/* upper bound of every SC_TIMEOUT_* (seconds), 0 = the RFC values */
	unsigned timeout_cap;
};

struct smtp_client_msg {
	const struct qenvelope *env; /* sender, DSN, BODY, SMTPUTF8 */
	const uint32_t *rcpts;       /* indexes into env->rcpts to send */
	uint32_t nrcpt;              /* 1.. */
	/* The whole stored body (CRLF lines, e.g. from
	 * queue_shard_read_body): dot-stuffed, bare CR/LF made CRLF and a
	 * final CRLF added as it is sent. Its length is the SIZE=. */
	const uint8_t *body;
	size_t body_len;
};

struct smtp_client {
	/* Bytes to send: the caller takes them out (see top). */
	struct buf out;
	/* Read-only for the caller: */
	enum smtp_client_state state;
	unsigned caps;       /* SC_CAP_* of the current EHLO */
	uint64_t size_limit; /* SIZE n of the peer, 0 = none announced */
	bool esmtp;          /* EHLO/LHLO accepted (else HELO) */
	bool tls;            /* smtp_client_tls_done() was called */
	struct smtp_client_status closed; /* valid with SC_EV_CLOSED */

	/* Internal: */
	enum smtp_client_mode mode;
	char helo[256];
	bool want_tls;
	unsigned timeout_cap; /* from the cfg, 0 = none */
	unsigned events;
	bool oom;
	bool quit_failed; /* QUIT after a refusal: keep `closed` */
	struct smtp_reply_parser rp;

	/* current message */
	bool in_msg;
	bool dirty; /* peer may hold a transaction: RSET before MAIL */
	const struct qenvelope *env;
	const uint8_t *body;
	size_t body_len, body_off;
	struct smtp_client_result *res; /* nres results */
	uint32_t nres;
	uint32_t *sendq; /* result indexes to send RCPT for, in order */
	uint32_t nsendq, nsent, nreplied;
	uint32_t *acc; /* result indexes accepted at RCPT, in order */
	uint32_t nacc, ndot;
	bool pipelining, utf8, rset_wait, mail_sent, mail_wait, mail_ok;
	bool data_sent, data_wait, dot_discard;
	bool at_bol, pending_cr; /* body conversion state */
};

/* smtp_client_init - a new engine waiting for the greeting. Returns 0,
 * or -1 when cfg is invalid (no or an over-long helo_name, or one with
 * octets outside the printable ASCII range). */
int smtp_client_init(struct smtp_client *c, const struct smtp_client_cfg *cfg);
/* smtp_client_free - release everything the engine owns. */
void smtp_client_free(struct smtp_client *c);

/* smtp_client_input - bytes from the peer (all of them are consumed). */
void smtp_client_input(struct smtp_client *c, const uint8_t *in, size_t len);
/* smtp_client_events - the pending SC_EV_* bits; clears them. */
unsigned smtp_client_events(struct smtp_client *c);
/* smtp_client_pump - a send completed: append the next body block to
 * out while a body is being sent and out holds less than one block. */
void smtp_client_pump(struct smtp_client *c);
/* smtp_client_tls_done - the TLS handshake after SC_EV_TLS succeeded:
 * capabilities are forgotten and EHLO/LHLO is sent again. -1 if no
 * handshake was expected. */
int smtp_client_tls_done(struct smtp_client *c);

/*
 * smtp_client_start_message - start a transaction (only when idle, i.e.
 * after SC_EV_READY). RSET goes first when the previous transaction did
 * not end cleanly. Pre-checks before anything is sent, each failing every
 * recipient permanently with a local status and raising
 * SC_EV_MESSAGE_DONE at once: body_len above the peer's SIZE (552 5.3.4),
 * SMTPUTF8 needed (env->smtputf8 or a non-ASCII address) but not offered
 * (553 5.6.7), BODY=8BITMIME without 8BITMIME offered (554 5.6.3); a
 * recipient address that cannot be sent (control octets, longer than 256
 * octets) fails alone (501 5.1.3), a bad sender fails all (501 5.1.7).
 * Returns 0 (started or already done), -1 when not idle, on bad
 * arguments (no env, no recipient, an index out of range or repeated,
 * body NULL with body_len > 0) or out of memory (nothing changed).
 */
int smtp_client_start_message(
    struct smtp_client *c, const struct smtp_client_msg *m);
/* smtp_client_results - the results of the last message, one per
 * recipient index given, in the order given; *n set to their count. */
const struct smtp_client_result *smtp_client_results(
    const struct smtp_client *c, size_t *n);

/* smtp_client_quit - send QUIT (only when idle); SC_EV_CLOSED follows the
 * reply or smtp_client_eof(). -1 when not idle. */
int smtp_client_quit(struct smtp_client *c);
/* smtp_client_eof - the peer closed or the connection broke. */
void smtp_client_eof(struct smtp_client *c);
/* smtp_client_timeout - the timer of smtp_client_timeout_secs() ran out:
 * unfinished recipients SC_TEMP, SC_EV_CLOSED (no QUIT is sent). */
void smtp_client_timeout(struct smtp_client *c);
/* smtp_client_timeout_secs - the timeout of the current state (0 when
 * idle or closed: the caller's idle policy applies). */
unsigned smtp_client_timeout_secs(const struct smtp_client *c);
/* smtp_client_state_name - short name of the state ("RCPT", "DATA",
 * "end of data", ...) for logs; static. */
const char *smtp_client_state_name(const struct smtp_client *c);
/* smtp_client_status_format - "550 5.1.1 text" into out (always
 * NUL-terminated when outsz > 0); returns out. */
char *smtp_client_status_format(
    const struct smtp_client_status *st, char *out, size_t outsz);

#endif
