/*
 * smtp_reply_parse.h - strict, bounded, incremental parser for the replies
 * an SMTP or LMTP server sends (RFC 5321 4.2, enhanced status codes RFC
 * 3463 / RFC 2034). Used by the outbound client (smtp_client.c).
 *
 * Feed it the bytes the peer sent, in pieces of any size; it returns one
 * complete reply at a time. How the bytes are split never changes the
 * result (fuzzed: tests/fuzz/fuzz_smtp_reply.c).
 *
 * What it accepts (everything else is an error value, never a crash):
 *  - a line is Reply-code [ ("-" / SP) text ] followed by CRLF. A bare LF
 *    ending a line is accepted too (many servers and proxies send it, and
 *    Postfix's client accepts it as well); a CR anywhere else in a line
 *    is an error (SMTP_RP_ESYNTAX), as is a NUL octet;
 *  - Reply-code is %x32-35 %x30-35 %x30-39 (RFC 5321 4.2 grammar);
 *  - '-' after the code continues the reply; SP or the end of the line
 *    ends it ("250\r\n" is a complete reply with empty text);
 *  - every line of a reply carries the same code (else SMTP_RP_ECODE);
 *  - a line is at most line_max octets including its CRLF (else
 *    SMTP_RP_ELONG, reported as soon as the limit is passed, without
 *    waiting for the end of the line) and a reply at most lines_max lines
 *    (else SMTP_RP_ELINES);
 *  - other control octets (except TAB) in the text are kept as '?' so
 *    the text is safe to log; octets >= 0x80 are kept as they are.
 * Enhanced status: when the first line's text starts with
 * class "." subject "." detail (class 2, 4 or 5, then 1-3 digits twice)
 * followed by SP or the end of the line, and the class equals the first
 * digit of the reply code, it is returned in `enh`
 * and removed from the text; later lines that start with the same code
 * lose it too. The text of the lines is joined with '\n'.
 *
 * An error is sticky: the stream can no longer be trusted. The parser
 * does no I/O and keeps no global state; it is safe on any thread (one
 * parser per connection). Not here: what a reply means (smtp_client.c).
 */
#ifndef RINGMX_SMTP_REPLY_PARSE_H
#define RINGMX_SMTP_REPLY_PARSE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "buf.h"

#define SMTP_RP_LINE_MAX  2048 /* default: octets per line incl. CRLF */
#define SMTP_RP_LINES_MAX 100  /* default: lines per reply */
#define SMTP_RP_ENH_MAX   10   /* "5.123.456" + NUL */

enum smtp_rp_status {
	SMTP_RP_ERROR = -1, /* see the parser's err; sticky */
	SMTP_RP_MORE = 0,   /* all input consumed, no complete reply yet */
	SMTP_RP_REPLY = 1,  /* *reply holds a complete reply */
};

enum smtp_rp_error {
	SMTP_RP_EOK = 0,
	SMTP_RP_ESYNTAX, /* bad code, separator, bare CR or NUL */
	SMTP_RP_ECODE,   /* continuation line with another code */
	SMTP_RP_ELONG,   /* line longer than line_max */
	SMTP_RP_ELINES,  /* more than lines_max lines */
	SMTP_RP_ENOMEM,  /* out of memory */
};

struct smtp_rp_reply {
	int code;                  /* 200..559 */
	char enh[SMTP_RP_ENH_MAX]; /* "2.1.5" or "" when absent */
	const char *text;          /* lines joined by '\n', NUL-terminated */
	size_t text_len;           /* strlen(text) */
	unsigned nlines;           /* 1..lines_max */
};

struct smtp_reply_parser {
	size_t line_max;    /* octets per line incl. CRLF */
	unsigned lines_max; /* lines per reply */
	struct buf line;    /* current incomplete line */
	struct buf text;    /* text of the current reply so far */
	int code;           /* code of the current reply, 0 = none yet */
	unsigned nlines;
	char enh[SMTP_RP_ENH_MAX];
	bool returned; /* the last call returned a reply: start afresh */
	enum smtp_rp_error err;
};

/* smtp_rp_init - a parser with the given limits (0: the defaults above;
 * line_max below 8 is raised to 8). Owns no memory until fed. */
void smtp_rp_init(
    struct smtp_reply_parser *p, size_t line_max, unsigned lines_max);
/* smtp_rp_reset - forget any partial reply and any error, keep the
 * limits (e.g. after the TLS handshake: RFC 3207 4.2). */
void smtp_rp_reset(struct smtp_reply_parser *p);
/* smtp_rp_free - release the memory (the parser may be reused after
 * smtp_rp_init). */
void smtp_rp_free(struct smtp_reply_parser *p);

/*
 * smtp_rp_feed - parse bytes in[0..len). Stores in *used how many bytes
 * were consumed: on SMTP_RP_REPLY up to and including the LF that ended
 * the reply (call again with the rest), on SMTP_RP_MORE all of them (kept
 * inside the parser), on SMTP_RP_ERROR an unspecified count (the stream
 * is dead). reply->text points into the parser and stays valid until the
 * next call of any smtp_rp_* function on p. len 0 is fine.
 */
enum smtp_rp_status smtp_rp_feed(struct smtp_reply_parser *p, const uint8_t *in,
    size_t len, size_t *used, struct smtp_rp_reply *reply);

/* smtp_rp_strerror - a short English description of e (static). */
const char *smtp_rp_strerror(enum smtp_rp_error e);

#endif
