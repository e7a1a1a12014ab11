/*
 * smtp_data.h - the message-content state machine for DATA and BDAT.
 *
 * Fed raw bytes from the wire, it produces the message as stored (CRLF
 * line ends, dot-unstuffed for DATA) into a struct buf, and enforces:
 *  - DATA ends only on <CR><LF>.<CR><LF>; the end may arrive split across
 *    any number of feeds;
 *  - a bare CR or bare LF anywhere is fatal (SMTP smuggling): the feed
 *    stops at that byte and returns SMTP_DATA_BARE_EOL; the session answers
 *    "550 5.5.2" and closes, and never parses the rest as commands;
 *  - for BDAT, a CR as the last byte of one chunk and LF as the first of
 *    the next is a valid line end; a CR left pending after the LAST chunk
 *    is a bare CR;
 *  - text line length (limit includes the CRLF, RFC 5321 4.5.3.1.6),
 *    header section size, message size and Received: header count are
 *    tracked; exceeding them is sticky (recorded in rx->error) but the
 *    content is still consumed up to the end so the session can answer
 *    once, at the end, and keep the connection.
 * No I/O; one instance per transaction, owned by the session.
 */
#ifndef RINGMX_SMTP_DATA_H
#define RINGMX_SMTP_DATA_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "buf.h"
#include "smtp_reply.h"

/* 0 in any field means "no limit". */
struct smtp_data_limits {
	size_t line_max;   /* text line incl. CRLF, default 1000 */
	size_t header_max; /* header section octets, default 1 MiB */
	uint64_t size_max; /* message octets as stored, default 50 MiB */
	unsigned hops_max; /* Received: headers, default 100 */
};

enum smtp_data_status {
	SMTP_DATA_MORE = 0, /* all input consumed, need more */
	SMTP_DATA_END,      /* DATA: final "." line consumed */
	SMTP_DATA_BARE_EOL, /* bare CR or LF seen: fatal, close */
};

/* Sticky content errors, reported once at the end. */
enum smtp_data_error {
	SMTP_DATA_OK = 0,
	SMTP_DATA_ERR_TOO_BIG,    /* 552 5.3.4 */
	SMTP_DATA_ERR_LINE_LONG,  /* 500 5.5.2 */
	SMTP_DATA_ERR_HEADER_BIG, /* 552 5.3.4 header too big */
	SMTP_DATA_ERR_LOOP,       /* 554 5.4.6 too many Received: */
	SMTP_DATA_ERR_NOMEM,      /* 452 4.3.1 */
};

struct smtp_data_rx {
	struct smtp_data_limits lim;
	/* private state, initialise with smtp_data_init. hdr_name_len is the
	 * progress of matching "Received" *WSP ":" at the start of a header
	 * line; hdr_name is not used. pending_cr: a CR ended the last input
	 * and was not appended yet (it is once its LF arrives), so out never
	 * holds a CR without its LF. */
	int state;
	bool in_headers;
	bool pending_cr;
	size_t line_len;
	size_t header_bytes;
	unsigned received;
	uint64_t size;     /* octets as stored (after unstuffing) */
	char hdr_name[16]; /* unused, see above */
	size_t hdr_name_len;
	enum smtp_data_error error;
};

/* smtp_data_init - start a message; l NULL means the defaults above. */
void smtp_data_init(struct smtp_data_rx *rx, const struct smtp_data_limits *l);

/*
 * smtp_data_feed - DATA mode. Consumes bytes from in[0..len), appends the
 * message to out (unless an error is recorded, then it only counts).
 * *consumed is set to the bytes used; on SMTP_DATA_END the bytes after
 * the final CRLF are NOT consumed (they are the next pipelined command).
 * On SMTP_DATA_BARE_EOL *consumed is the offset of the byte that showed
 * the bare line end (the LF, or the byte after a CR that is not LF).
 * Once END or BARE_EOL was returned, later calls return it again with
 * *consumed = 0. The empty message is ".CRLF" right after DATA.
 */
enum smtp_data_status smtp_data_feed(struct smtp_data_rx *rx, const uint8_t *in,
    size_t len, struct buf *out, size_t *consumed);

/*
 * smtp_bdat_feed - BDAT mode: in is (part of) a chunk's content, all of
 * it consumed; no dot handling. Call smtp_bdat_last() after the final
 * byte of the LAST chunk. Returns SMTP_DATA_MORE or SMTP_DATA_BARE_EOL.
 * smtp_bdat_last returns SMTP_DATA_BARE_EOL if a CR is pending (or a bare
 * line end was seen before), else SMTP_DATA_END (message complete); a
 * final line without CRLF is fine.
 */
enum smtp_data_status smtp_bdat_feed(
    struct smtp_data_rx *rx, const uint8_t *in, size_t len, struct buf *out);
enum smtp_data_status smtp_bdat_last(struct smtp_data_rx *rx);

/* The reply for a recorded error (NULL when rx->error == SMTP_DATA_OK). */
const struct smtp_reply *smtp_data_error_reply(const struct smtp_data_rx *rx);

#endif
