/*
 * smtp_parse.h - pure parsers for SMTP command lines, RFC 5321 paths and
 * ESMTP parameters (SIZE, BODY, SMTPUTF8, RET, ENVID, NOTIFY, ORCPT, AUTH).
 *
 * No I/O, no allocation, no global state: every function is reentrant and
 * safe on any thread. Inputs are byte ranges WITHOUT the trailing CRLF
 * (the session has already checked that the line ended in CRLF and has no
 * bare CR or LF). Every parser is a libFuzzer target (tests/fuzz/).
 */
#ifndef RINGMX_SMTP_PARSE_H
#define RINGMX_SMTP_PARSE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "smtp_reply.h"

enum smtp_verb {
	SMTP_VERB_UNKNOWN = 0,
	SMTP_VERB_HELO,
	SMTP_VERB_EHLO,
	SMTP_VERB_MAIL, /* "MAIL FROM:" */
	SMTP_VERB_RCPT, /* "RCPT TO:" */
	SMTP_VERB_DATA,
	SMTP_VERB_BDAT,
	SMTP_VERB_RSET,
	SMTP_VERB_NOOP,
	SMTP_VERB_QUIT,
	SMTP_VERB_VRFY,
	SMTP_VERB_EXPN,
	SMTP_VERB_HELP,
	SMTP_VERB_STARTTLS,
	SMTP_VERB_AUTH,
};

struct smtp_cmd {
	enum smtp_verb verb;
	/* Argument: for MAIL/RCPT everything after "FROM:"/"TO:" (leading
	 * spaces skipped, RFC 5321 forbids them but many clients send one);
	 * for the others everything after the verb and its single SP.
	 * Points into the caller's line; arg_len may be 0. */
	const char *arg;
	size_t arg_len;
};

/*
 * smtp_cmd_parse - split a command line into verb and argument.
 * Verbs are case-insensitive. Returns NULL on success or the reply to send:
 * unknown verb "500 5.5.1", MAIL without "FROM:" / RCPT without "TO:"
 * "501 5.5.4", a NUL byte "500 5.5.2". Argument syntax is not checked here.
 */
const struct smtp_reply *smtp_cmd_parse(
    const char *line, size_t len, struct smtp_cmd *cmd);

#define SMTP_LOCAL_MAX  64  /* RFC 5321 4.5.3.1.1, octets, as received */
#define SMTP_DOMAIN_MAX 255 /* RFC 5321 4.5.3.1.2 */
#define SMTP_PATH_MAX   256 /* RFC 5321 4.5.3.1.3, incl. brackets */

struct smtp_path {
	bool null;       /* "<>" (only valid as a reverse-path) */
	bool postmaster; /* "<Postmaster>" without a domain (RCPT only) */
	bool utf8;       /* the address contains non-ASCII octets */
	/* Local part exactly as received (quoted strings keep their quotes
	 * and backslashes), NUL-terminated. */
	char local[SMTP_LOCAL_MAX * 2 + 1];
	/* Domain as received except that ASCII letters are lower-cased;
	 * an address literal keeps its brackets ("[192.0.2.1]"). */
	char domain[SMTP_DOMAIN_MAX + 1];
	/* "local@domain" (or "" for null, "Postmaster" for postmaster). */
	char addr[SMTP_PATH_MAX + 1];
};

/*
 * smtp_path_parse - parse "<...>" at the start of s (RFC 5321 4.1.2 Path /
 * Reverse-path / Forward-path, source routes "@a,@b:" accepted and ignored).
 * On success returns NULL and stores in *used the number of bytes consumed
 * (through the '>'). With allow_utf8 false any octet >= 0x80 is an error
 * ("553 5.6.7"); with it true only well-formed UTF-8 is allowed (RFC 6531).
 * Domains: dot-separated LDH labels (each 1..63, no leading/trailing '-'),
 * UTF-8 U-labels only with allow_utf8, or an address literal [IPv4] /
 * [IPv6:...] validated with inet_pton. Syntax errors "501 5.1.3"
 * (bad recipient/sender address syntax), too long "501 5.1.3" too.
 * Any octet < 0x20 or 0x7f is an error. U-labels are limited to 63
 * characters (code points) per label; ASCII labels to 63 octets.
 * "<Postmaster>" is accepted here (path->postmaster set); whether it is
 * allowed is up to the caller (smtp_rcpt_parse yes, smtp_mail_parse no).
 * On error *path is zeroed and *used is left untouched. The domain of an
 * address literal is lower-cased too ("[ipv6:2001:db8::1]").
 */
const struct smtp_reply *smtp_path_parse(const char *s, size_t len,
    bool allow_utf8, struct smtp_path *path, size_t *used);

/* smtp_local_unquote - the local part with quotes and backslash escapes
 * removed, into out (size outsz), NUL-terminated. Returns the length
 * (without the NUL) or -1 if it does not fit. */
int smtp_local_unquote(const char *local, char *out, size_t outsz);

enum smtp_body { SMTP_BODY_7BIT = 0, SMTP_BODY_8BITMIME, SMTP_BODY_BINARYMIME };
enum smtp_ret { SMTP_RET_UNSET = 0, SMTP_RET_FULL, SMTP_RET_HDRS };

#define SMTP_ENVID_MAX 100 /* RFC 3461 4.4: xtext-decoded, printable ASCII */
#define SMTP_ORCPT_MAX 500 /* RFC 3461 4.2 */

struct smtp_mail_params {
	bool size_set;
	uint64_t size;                  /* SIZE=, declared message size */
	enum smtp_body body;            /* BODY=7BIT|8BITMIME|BINARYMIME */
	bool smtputf8;                  /* SMTPUTF8 keyword */
	enum smtp_ret ret;              /* RET=FULL|HDRS */
	char envid[SMTP_ENVID_MAX + 1]; /* ENVID= xtext-DECODED, "" if unset */
	char auth[SMTP_PATH_MAX + 1];   /* AUTH= xtext-decoded, "" if unset */
};

#define SMTP_NOTIFY_NEVER   0x01
#define SMTP_NOTIFY_SUCCESS 0x02
#define SMTP_NOTIFY_FAILURE 0x04
#define SMTP_NOTIFY_DELAY   0x08

struct smtp_rcpt_params {
	uint8_t notify; /* 0 = not given; else SMTP_NOTIFY_* bits */
	/* ORCPT as "addr-type;xtext-decoded-address" (e.g.
	 * "rfc822;a@b.example"), "" if unset. */
	char orcpt[SMTP_ORCPT_MAX + 1];
};

/* Extensions the session advertised (parameters of others are refused). */
#define SMTP_EXT_SIZE     0x01
#define SMTP_EXT_8BITMIME 0x02
#define SMTP_EXT_SMTPUTF8 0x04
#define SMTP_EXT_DSN      0x08
/* CHUNKING does NOT allow BODY=BINARYMIME: ringmx never advertises
 * BINARYMIME (its BDAT machine requires CRLF lines), so BODY=BINARYMIME
 * is always "555 5.5.4". */
#define SMTP_EXT_CHUNKING 0x10
#define SMTP_EXT_AUTH     0x20 /* allows AUTH= on MAIL */
#define SMTP_EXT_ALL      0x3f

/*
 * smtp_mail_parse - parse the argument of MAIL FROM: (reverse-path and
 * parameters separated by single or multiple SP). SMTPUTF8 in the
 * parameters allows UTF-8 in the path (parse parameters first).
 * Errors: path syntax (see smtp_path_parse, mapped to "501 5.1.7" bad
 * sender address), unknown parameter or parameter of an extension not in
 * ext "555 5.5.4", duplicate parameter or bad value "501 5.5.4", UTF-8
 * path without SMTPUTF8 "553 5.6.7", "<Postmaster>" (no domain) "501
 * 5.1.7". Parameters must be separated from the path by SP.
 * Values: SIZE 1..20 digits fitting uint64_t; BODY 7BIT|8BITMIME;
 * RET FULL|HDRS; ENVID printable ASCII after decoding, <= 100 octets;
 * AUTH xtext, no control characters after decoding.
 * On error *path and *p are zeroed.
 * The caller compares size against its limit (552 5.3.4).
 */
const struct smtp_reply *smtp_mail_parse(const char *arg, size_t len,
    unsigned ext, struct smtp_path *path, struct smtp_mail_params *p);

/*
 * smtp_rcpt_parse - parse the argument of RCPT TO:. utf8 says whether the
 * transaction's MAIL had SMTPUTF8. "<Postmaster>" (any case, no domain)
 * sets path->postmaster. NOTIFY=NEVER combined with others is "501 5.5.4".
 * "<>" is refused ("501 5.1.3"). NOTIFY values may not repeat; ORCPT's
 * addr-type is an atom and its xtext must decode to a non-empty string
 * without control characters. Other errors as for smtp_mail_parse, with
 * path errors as "5.1.3". On error *path and *p are zeroed.
 */
const struct smtp_reply *smtp_rcpt_parse(const char *arg, size_t len,
    unsigned ext, bool utf8, struct smtp_path *path,
    struct smtp_rcpt_params *p);

/* xtext (RFC 3461 4): decode into out (NUL-terminated; "+XX" accepted in
 * upper or lower case); returns the length, -1 on malformed "+XX", a
 * character outside xchar, or overflow. Decoded octets are not checked. */
int smtp_xtext_decode(const char *in, size_t len, char *out, size_t outsz);
/* xtext encode (NUL-terminated, "+XX" upper case); returns length or -1
 * if it does not fit. */
int smtp_xtext_encode(const char *in, size_t len, char *out, size_t outsz);

/* smtp_domain_valid - hostname syntax check used for HELO/EHLO arguments
 * and configured domains: LDH labels (U-labels with allow_utf8) or an
 * address literal, covering all of s[0..len), at most 255 octets, no
 * trailing dot. */
bool smtp_domain_valid(const char *s, size_t len, bool allow_utf8);

/* smtp_utf8_valid - s[0..n) is well-formed UTF-8 (RFC 3629: shortest
 * form, no surrogates, nothing above U+10FFFF) */
bool smtp_utf8_valid(const char *s, size_t n);

#endif
