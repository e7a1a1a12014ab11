/*
 * smtp_data.c - the message-content state machine for DATA and BDAT (see
 * smtp_data.h): CRLF-only line ends (a bare CR or LF is fatal), DATA
 * dot-unstuffing and the final "." line, and the line length, header
 * section, message size and Received: count limits.
 *
 * Not here: reading the socket, the BDAT command and its chunk size, the
 * 354/250 replies and spooling (the session), header rewriting. Works on
 * runs of bytes found with memchr, appended to the output in one
 * buf_append per run.
 */
#include "smtp_data.h"

#include <string.h>

enum {
	ST_BOL = 0, /* at the start of a line (also the very first byte) */
	ST_TEXT,    /* inside a line */
	ST_CR,      /* saw CR, the next byte must be LF */
	ST_DOT,     /* DATA: saw "." at the start of a line */
	ST_DOT_CR,  /* DATA: saw ".CR" at the start of a line */
	ST_END,     /* DATA done, or smtp_bdat_last() called */
	ST_BARE,    /* a bare CR or LF was seen: nothing more is accepted */
};

/* hdr_name_len is the progress matching "Received" *WSP ":" at the start
 * of a header line: 0..8 name octets matched, RCV_DONE once decided. */
#define RCV_DONE ((size_t)-1)

static const struct smtp_reply r_too_big = {552, "5.3.4", "Message too big"};
static const struct smtp_reply r_line_long = {500, "5.5.2", "Line too long"};
static const struct smtp_reply r_header_big = {
    552, "5.3.4", "Header section too big"};
static const struct smtp_reply r_loop = {
    554, "5.4.6", "Too many hops (mail loop?)"};
static const struct smtp_reply r_nomem = {
    452, "4.3.1", "Insufficient system storage"};

/* smtp_data_init - reset rx for a new message with limits l */
void
smtp_data_init(struct smtp_data_rx *rx, const struct smtp_data_limits *l)
{
	memset(rx, 0, sizeof(*rx));
	if (l != NULL) {
		rx->lim = *l;
	} else {
		rx->lim.line_max = 1000;
		rx->lim.header_max = 1024 * 1024;
		rx->lim.size_max = 50 * 1024 * 1024;
		rx->lim.hops_max = 100;
	}
	rx->state = ST_BOL;
	rx->in_headers = true;
	rx->hdr_name_len = 0;
}

/*
 * Record the first limit exceeded after one more octet was counted
 * (errors are sticky: the first one wins; on the same octet the order
 * below decides). count_text() gives the same answer for a run.
 */
static void
check_limits(struct smtp_data_rx *rx)
{
	const struct smtp_data_limits *l = &rx->lim;

	if (rx->error != SMTP_DATA_OK)
		return;
	if (l->line_max != 0 && rx->line_len > l->line_max)
		rx->error = SMTP_DATA_ERR_LINE_LONG;
	else if (l->header_max != 0 && rx->header_bytes > l->header_max)
		rx->error = SMTP_DATA_ERR_HEADER_BIG;
	else if (l->size_max != 0 && rx->size > l->size_max)
		rx->error = SMTP_DATA_ERR_TOO_BIG;
	else if (l->hops_max != 0 && rx->received > l->hops_max)
		rx->error = SMTP_DATA_ERR_LOOP;
}

/*
 * Feed line-start octets to the "Received" *WSP ":" matcher. Returns the
 * 1-based position in p of the ':' that counted a Received: header, 0 if
 * none did.
 */
static size_t
match_received(struct smtp_data_rx *rx, const uint8_t *p, size_t n)
{
	static const char name[] = "received";
	size_t k = rx->hdr_name_len, at = 0;

	for (size_t i = 0; i < n && k != RCV_DONE; i++) {
		uint8_t c = p[i];

		if (k < 8) {
			/* name[] is all letters: c | 0x20 folds only A-Z */
			k = ((c | 0x20) == name[k]) ? k + 1 : RCV_DONE;
		} else if (c == ':') {
			rx->received++;
			k = RCV_DONE;
			at = i + 1;
		} else if (c != ' ' && c != '\t') {
			k = RCV_DONE;
		}
	}
	rx->hdr_name_len = k;
	return at;
}

/* 1-based octet of a run of n at which cur + octets exceeds max (0 = no
 * limit or not exceeded). */
static uint64_t
over_at(uint64_t cur, uint64_t n, uint64_t max)
{
	if (max == 0 || cur + n <= max)
		return 0;
	return cur >= max ? 1 : max - cur + 1;
}

/* Keep the earliest crossing; on the same octet the earlier call wins. */
static void
earliest(uint64_t at, enum smtp_data_error e, uint64_t *first,
    enum smtp_data_error *err)
{
	if (at != 0 && at < *first) {
		*first = at;
		*err = e;
	}
}

/*
 * Account n stored octets of line content (no CR, no LF). The error is
 * the limit crossed at the earliest octet of the run, exactly as if the
 * run had been counted octet by octet, so how the input was split never
 * changes the answer.
 */
static void
count_text(struct smtp_data_rx *rx, const uint8_t *p, size_t n)
{
	const struct smtp_data_limits *l = &rx->lim;
	enum smtp_data_error err = SMTP_DATA_OK;
	uint64_t first = UINT64_MAX;
	size_t colon = 0;

	if (n == 0)
		return;
	if (rx->in_headers && rx->hdr_name_len != RCV_DONE)
		colon = match_received(rx, p, n);
	if (rx->error == SMTP_DATA_OK) {
		earliest(over_at(rx->line_len, n, l->line_max),
		    SMTP_DATA_ERR_LINE_LONG, &first, &err);
		if (rx->in_headers)
			earliest(over_at(rx->header_bytes, n, l->header_max),
			    SMTP_DATA_ERR_HEADER_BIG, &first, &err);
		earliest(over_at(rx->size, n, l->size_max),
		    SMTP_DATA_ERR_TOO_BIG, &first, &err);
		/* without a recorded error received <= hops_max held before
		 * this run, so exceeding it now happened at this ':' */
		if (colon != 0 && l->hops_max != 0 &&
		    rx->received > l->hops_max)
			earliest(colon, SMTP_DATA_ERR_LOOP, &first, &err);
		rx->error = err;
	}
	rx->line_len += n;
	rx->size += n;
	if (rx->in_headers)
		rx->header_bytes += n;
}

/* Account one stored CR or LF octet. */
static void
count_eol(struct smtp_data_rx *rx)
{
	rx->line_len++;
	rx->size++;
	if (rx->in_headers)
		rx->header_bytes++;
	check_limits(rx);
}

/* After the LF of a line: the empty line ends the header section. */
static void
end_line(struct smtp_data_rx *rx)
{
	if (rx->in_headers && rx->line_len == 2)
		rx->in_headers = false;
	rx->line_len = 0;
	rx->hdr_name_len = rx->in_headers ? 0 : RCV_DONE;
}

/* Append to the message unless an error is already recorded. */
static void
emit(struct smtp_data_rx *rx, struct buf *out, const uint8_t *p, size_t n)
{
	if (n == 0 || rx->error != SMTP_DATA_OK)
		return;
	if (buf_append(out, p, n) < 0)
		rx->error = SMTP_DATA_ERR_NOMEM;
}

/*
 * The machine for both modes (dot: DATA). in[run..i) is accounted output
 * not yet appended; it is appended in one piece when a byte must be left
 * out (a stuffing dot, the final ".CRLF") or at the end of the input.
 * A CR that ends the input is held back (pending_cr) so the output never
 * holds a CR whose LF has not been seen.
 */
static enum smtp_data_status
rx_feed(struct smtp_data_rx *rx, const uint8_t *in, size_t len, struct buf *out,
    size_t *consumed, bool dot)
{
	static const uint8_t crlf[2] = {'\r', '\n'};
	size_t i = 0, run = 0;

	*consumed = 0;
	if (rx->state == ST_END)
		return SMTP_DATA_END;
	if (rx->state == ST_BARE)
		return SMTP_DATA_BARE_EOL;
	if (len == 0)
		return SMTP_DATA_MORE;

	while (i < len) {
		switch (rx->state) {
		case ST_BOL:
			if (dot && in[i] == '.') {
				emit(rx, out, in + run, i - run);
				rx->line_len++; /* counted as on the wire */
				check_limits(rx);
				run = ++i;
				rx->state = ST_DOT;
			} else {
				rx->state = ST_TEXT;
			}
			break;
		case ST_DOT:
			if (in[i] == '\r') {
				run = ++i;
				rx->state = ST_DOT_CR;
			} else {
				/* dot dropped; a LF is caught in ST_TEXT */
				rx->state = ST_TEXT;
			}
			break;
		case ST_DOT_CR:
			if (in[i] != '\n')
				goto bare;
			rx->state = ST_END;
			*consumed = i + 1;
			return SMTP_DATA_END;
		case ST_CR:
			if (in[i] != '\n')
				goto bare;
			count_eol(rx);
			end_line(rx);
			i++;
			if (rx->pending_cr) {
				/* the CR ended the previous input (i == 1):
				 * append the whole CRLF now */
				emit(rx, out, crlf, 2);
				rx->pending_cr = false;
				run = i;
			}
			rx->state = ST_BOL;
			break;
		default: { /* ST_TEXT */
			const uint8_t *p = in + i;
			const uint8_t *cr = memchr(p, '\r', len - i);
			size_t n = cr != NULL ? (size_t)(cr - p) : len - i;
			const uint8_t *lf = memchr(p, '\n', n);

			if (lf != NULL) {
				i += (size_t)(lf - p);
				goto bare;
			}
			count_text(rx, p, n);
			i += n;
			if (cr != NULL) {
				count_eol(rx);
				i++;
				rx->state = ST_CR;
			}
			break;
		}
		}
	}
	if (rx->state == ST_CR) {
		/* the CR is in[len - 1]: hold it until its LF arrives */
		emit(rx, out, in + run, len - 1 - run);
		rx->pending_cr = true;
	} else {
		emit(rx, out, in + run, len - run);
	}
	*consumed = len;
	return SMTP_DATA_MORE;

bare:
	rx->state = ST_BARE;
	*consumed = i;
	return SMTP_DATA_BARE_EOL;
}

/* smtp_data_feed - DATA mode: consume in, append the unstuffed message */
enum smtp_data_status
smtp_data_feed(struct smtp_data_rx *rx, const uint8_t *in, size_t len,
    struct buf *out, size_t *consumed)
{
	return rx_feed(rx, in, len, out, consumed, true);
}

/* smtp_bdat_feed - BDAT mode: consume (part of) a chunk */
enum smtp_data_status
smtp_bdat_feed(
    struct smtp_data_rx *rx, const uint8_t *in, size_t len, struct buf *out)
{
	size_t consumed;

	return rx_feed(rx, in, len, out, &consumed, false);
}

/* smtp_bdat_last - the LAST chunk ended: a CR still pending is bare */
enum smtp_data_status
smtp_bdat_last(struct smtp_data_rx *rx)
{
	if (rx->state == ST_BARE)
		return SMTP_DATA_BARE_EOL;
	if (rx->state == ST_CR) {
		rx->state = ST_BARE;
		return SMTP_DATA_BARE_EOL;
	}
	rx->state = ST_END;
	return SMTP_DATA_END;
}

/* smtp_data_error_reply - the reply for the recorded content error */
const struct smtp_reply *
smtp_data_error_reply(const struct smtp_data_rx *rx)
{
	switch (rx->error) {
	case SMTP_DATA_ERR_TOO_BIG:
		return &r_too_big;
	case SMTP_DATA_ERR_LINE_LONG:
		return &r_line_long;
	case SMTP_DATA_ERR_HEADER_BIG:
		return &r_header_big;
	case SMTP_DATA_ERR_LOOP:
		return &r_loop;
	case SMTP_DATA_ERR_NOMEM:
		return &r_nomem;
	case SMTP_DATA_OK:
	default:
		return NULL;
	}
}
