/*
 * dsn.h - delivery status notifications (bounces, delay warnings,
 * success reports): which recipients want one (RFC 3461 NOTIFY) and the
 * complete report message (RFC 3464 inside an RFC 6522 multipart/report,
 * RFC 6533 for internationalized mail).
 *
 * Pure functions: no I/O, no global state, no clock, no locale (dates are
 * formatted here, in UTC); safe on any thread.
 *
 * Contract with the caller (the queue's bounce logic):
 *  - the report is sent from the null reverse-path "<>" to the original
 *    envelope sender, and no report is ever built for a message whose
 *    sender is "<>" (env->sender ""): dsn_build refuses it (-1), which
 *    is what prevents bounce loops;
 *  - the caller decides which recipients to report (dsn_wanted) and
 *    groups them as it likes; dsn_build reports exactly what it is given;
 *  - dsn_requirements says whether the result must be relayed with
 *    BODY=8BITMIME or SMTPUTF8.
 *
 * Internationalized mail (RFC 6533): when the message was received with
 * SMTPUTF8, or the sender or a reported recipient address contains
 * non-ASCII octets, the report is "global": the status part is
 * message/global-delivery-status, the returned content is
 * message/global-headers (headers) or message/global (full message), the
 * text part is charset=utf-8, the To: header carries the UTF-8 address
 * (RFC 6532) and a non-ASCII Final-Recipient is "utf-8; <address>" (the
 * raw utf-8-address form RFC 6533 allows in the global type). Otherwise
 * the report is plain RFC 3464 (message/delivery-status with
 * text/rfc822-headers or message/rfc822) and all 7-bit except for 8-bit
 * octets in the returned original (then Content-Transfer-Encoding 8bit).
 */
#ifndef RINGMX_DSN_H
#define RINGMX_DSN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "buf.h"
#include "queue_record.h"
#include "smtp_parse.h"

enum dsn_action {
	DSN_ACTION_FAILED = 0, /* permanent failure: "failed", 5.x.x */
	DSN_ACTION_DELAYED,    /* still being retried: "delayed", 4.x.x */
	DSN_ACTION_DELIVERED,  /* delivered: "delivered", 2.x.x */
	DSN_ACTION_RELAYED,    /* to a non-DSN MTA: "relayed", 2.x.x */
	DSN_ACTION_EXPANDED,   /* alias/list expanded: "expanded", 2.x.x */
};

/*
 * dsn_wanted - whether the sender asked (or, without NOTIFY, is assumed
 * to want) a notice for recipient r reaching action a (RFC 3461 4.1):
 * NOTIFY unset: failed and delayed yes, the others no; NOTIFY=NEVER (even
 * combined with other bits): never; otherwise failed needs FAILURE,
 * delayed DELAY, delivered/relayed/expanded SUCCESS. False for r NULL or
 * an unknown action.
 */
bool dsn_wanted(const struct qrcpt *r, enum dsn_action a);

/* One reported recipient. */
struct dsn_rcpt {
	uint32_t index;         /* into env->rcpts; each at most once */
	enum dsn_action action; /* see enum dsn_action */
	/* RFC 3463 class.subject.detail ("5.1.1") whose class matches the
	 * action (5 failed, 4 delayed, 2 the others); NULL means 5.0.0,
	 * 4.0.0 or 2.0.0. */
	const char *status;
	/* Remote reply text ("550 5.1.1 No such user") or NULL. Any text
	 * is accepted: CR, LF, TAB runs become one space, other control
	 * and non-ASCII octets '?', and it is cut at DSN_DIAG_MAX octets
	 * (ending "..."). Shown in the text part and as Diagnostic-Code. */
	const char *diagnostic;
	/* Host name (or address literal) of the remote MTA or NULL; one
	 * trailing dot is ignored; a value that is not a valid host name
	 * is left out rather than reported. */
	const char *remote_mta;
	int64_t last_attempt;     /* unix time; 0 = no Last-Attempt-Date */
	int64_t will_retry_until; /* unix time, delayed only; 0 = none */
};

struct dsn_input {
	/* This MTA's host name: Reporting-MTA, MAILER-DAEMON@host and the
	 * Message-ID's right side. Must pass smtp_domain_valid (ASCII). */
	const char *reporting_host;
	/* The queued message: sender (the report's To:, must not be ""),
	 * envid, ret, smtputf8 and rcpts[].addr/orcpt are used. Envelope
	 * addresses must be at most SMTP_PATH_MAX octets without control
	 * characters (and well-formed UTF-8), as smtp_path_parse makes
	 * them; an ENVID longer than SMTP_ENVID_MAX (never accepted by the
	 * parser) is left out rather than cut. */
	const struct qenvelope *env;
	const struct dsn_rcpt *rcpts; /* the recipients to report */
	size_t nrcpts;                /* 1..env->nrcpt */
	int64_t arrival; /* unix time received; 0 = env->received */
	int64_t now;     /* unix time for Date: */
	/* SMTP_RET_UNSET follows env->ret, which if unset means HDRS.
	 * Callers usually pass SMTP_RET_HDRS for delay and success notices
	 * (RFC 3461 4.3 asks for the full content only on failure). */
	enum smtp_ret ret;
	/* The original message as stored: header section, empty line,
	 * body, CRLF line ends. HDRS returns the header section (up to the
	 * first empty line), FULL all of it. Malformed content is repaired
	 * so the report stays valid: a bare CR or LF becomes CRLF and a
	 * line over 998 octets is broken (in the header section as a
	 * folded continuation). NULL with length 0 returns nothing. */
	const void *original;
	size_t original_len;
	/* Unique left side of the Message-ID: 1..DSN_TOKEN_MAX letters,
	 * digits, '-', '_' and '.' (no leading, trailing or double dot). */
	const char *token;
};

#define DSN_TOKEN_MAX     128
#define DSN_DIAG_MAX      800 /* diagnostic octets kept, see dsn_rcpt */
#define DSN_TEXT_MAX_RCPT 100 /* recipients listed in the text part */
/* Times must lie in 1970..9999 (RFC 5322 has four-digit years). */
#define DSN_TIME_MAX INT64_C(253402300799)

/*
 * dsn_build - append one complete report message to out: RFC 5322
 * header section (From: Mail Delivery System <MAILER-DAEMON@host>,
 * To: <sender>, Subject:, Date:, Message-ID: <token@host>,
 * Auto-Submitted: auto-replied, MIME-Version: 1.0, Content-Type:
 * multipart/report; report-type=delivery-status; boundary="...") and
 * exactly three parts: text/plain explanation (at most DSN_TEXT_MAX_RCPT
 * recipients, then "and N more"), the delivery-status part with every
 * reported recipient, and the returned headers or message (see
 * dsn_input.ret). Subject by the most serious action present: any failed
 * "Undelivered Mail Returned to Sender", else any delayed "Delayed Mail
 * (still being retried)", else "Successful Mail Delivery Report".
 *
 * Output guarantees: CRLF line ends only, no line longer than 998
 * octets, own header lines folded within 78 octets where a space allows
 * it (a long From:, To: or Message-ID: value moves to a continuation
 * line; an address or id is never split), and a boundary ("=_rmx_dsn_"
 * and 16 hex digits) that occurs in none of the three parts' contents
 * (chosen deterministically from token, host and now, and changed if the
 * content contains it).
 *
 * Original-Envelope-Id is the ENVID re-encoded as xtext; Original-
 * Recipient is "type;xtext" of the stored "type;decoded" ORCPT (type
 * "unknown" when the stored value has no atom before a ';'), left out if
 * it cannot fit one 998-octet line (an xtext word cannot be folded).
 *
 * Returns 0, or -1 with out unchanged (its length; capacity may grow) on
 * bad input (see the struct comments: also nrcpts 0, an index out of
 * range or repeated, an unknown action, a malformed or mismatching status,
 * a time out of range) or allocation failure. Memory used is the output
 * plus a bitmap of env->nrcpt bits (and 16 KiB while a boundary
 * collision is resolved).
 */
int dsn_build(const struct dsn_input *in, struct buf *out);

#define DSN_REQ_8BITMIME 0x01 /* relay with BODY=8BITMIME */
#define DSN_REQ_SMTPUTF8 0x02 /* relay with SMTPUTF8 (global report) */

/*
 * dsn_requirements - what relaying dsn_build's report for in needs:
 * DSN_REQ_SMTPUTF8 | DSN_REQ_8BITMIME for a global report,
 * DSN_REQ_8BITMIME when the returned content has 8-bit octets, else 0.
 * Only meaningful for an input dsn_build accepts.
 */
unsigned dsn_requirements(const struct dsn_input *in);

#endif
