/*
 * smtp_reply.h - a reply the server sends: code, enhanced status, text.
 *
 * Parsers and state machines return pointers to static const replies so the
 * session can answer exactly; nothing here does I/O.
 */
#ifndef RINGMX_SMTP_REPLY_H
#define RINGMX_SMTP_REPLY_H

struct smtp_reply {
	int code;         /* 3-digit reply code, e.g. 501 */
	const char *enh;  /* RFC 3463 enhanced status, e.g. "5.5.4" */
	const char *text; /* human text, no CRLF */
};

#endif
