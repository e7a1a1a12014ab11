/*
 * smtp_auth.h - the pure parts of SMTP AUTH (RFC 4954): strict base64
 * (RFC 4648, no whitespace, canonical padding) and the SASL PLAIN message
 * (RFC 4616). No I/O, no state; fuzzed (tests/fuzz/fuzz_sasl.c). The AUTH
 * exchange itself lives in smtp_server.c; checking the credentials is the
 * auth plugins' job.
 */
#ifndef RINGMX_SMTP_AUTH_H
#define RINGMX_SMTP_AUTH_H

#include <stddef.h>
#include <stdint.h>

/* Decode; returns the decoded length or -1 (bad character, bad padding,
 * non-zero trailing bits, or out too small). out is NUL-terminated when
 * there is room for it. */
int sasl_b64_decode(const char *in, size_t len, uint8_t *out, size_t outsz);
/* Encode; returns the length or -1 if out is too small (needs
 * 4*ceil(len/3)+1 bytes, the result is NUL-terminated). */
int sasl_b64_encode(const uint8_t *in, size_t len, char *out, size_t outsz);

#define SASL_FIELD_MAX 255

/*
 * sasl_plain_parse - split "authzid NUL authcid NUL passwd". Each field
 * is copied NUL-terminated (at most SASL_FIELD_MAX octets); authcid and
 * passwd must be non-empty; no NUL inside a field. 0 ok, -1 malformed.
 */
int sasl_plain_parse(const uint8_t *msg, size_t len,
    char authz[SASL_FIELD_MAX + 1], char user[SASL_FIELD_MAX + 1],
    char pass[SASL_FIELD_MAX + 1]);

#endif
