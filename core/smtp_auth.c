/*
 * smtp_auth.c - strict base64 and SASL PLAIN parsing (see smtp_auth.h).
 */
#include "smtp_auth.h"

#include <string.h>

static int
b64_value(unsigned char c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == '+')
		return 62;
	if (c == '/')
		return 63;
	return -1;
}

/* sasl_b64_decode - strict RFC 4648 base64 */
int
sasl_b64_decode(const char *in, size_t len, uint8_t *out, size_t outsz)
{
	size_t o = 0;

	if (len % 4 != 0)
		return -1;
	for (size_t i = 0; i < len; i += 4) {
		int v[4], pad = 0;
		for (int k = 0; k < 4; k++) {
			unsigned char c = (unsigned char)in[i + k];
			if (c == '=' && i + 4 == len && k >= 2) {
				v[k] = 0;
				pad++;
				continue;
			}
			if (pad > 0 || (v[k] = b64_value(c)) < 0)
				return -1;
		}
		if (pad == 1 && in[i + 2] == '=')
			return -1; /* "x=y=" */
		/* canonical: unused low bits must be zero */
		if (pad == 2 && (v[1] & 0x0f) != 0)
			return -1;
		if (pad == 1 && (v[2] & 0x03) != 0)
			return -1;
		if (o + 3 - (size_t)pad > outsz)
			return -1;
		out[o++] = (uint8_t)(v[0] << 2 | v[1] >> 4);
		if (pad < 2)
			out[o++] = (uint8_t)((v[1] & 0x0f) << 4 | v[2] >> 2);
		if (pad < 1)
			out[o++] = (uint8_t)((v[2] & 0x03) << 6 | v[3]);
	}
	if (o < outsz)
		out[o] = '\0';
	return (int)o;
}

/* sasl_b64_encode - base64 with padding */
int
sasl_b64_encode(const uint8_t *in, size_t len, char *out, size_t outsz)
{
	static const char tab[] =
	    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
	    "0123456789+/";
	size_t need = (len + 2) / 3 * 4 + 1, o = 0;

	if (outsz < need)
		return -1;
	for (size_t i = 0; i < len; i += 3) {
		uint32_t n = (uint32_t)in[i] << 16;
		size_t rem = len - i;
		if (rem > 1)
			n |= (uint32_t)in[i + 1] << 8;
		if (rem > 2)
			n |= in[i + 2];
		out[o++] = tab[(n >> 18) & 63];
		out[o++] = tab[(n >> 12) & 63];
		out[o++] = rem > 1 ? tab[(n >> 6) & 63] : '=';
		out[o++] = rem > 2 ? tab[n & 63] : '=';
	}
	out[o] = '\0';
	return (int)o;
}

static int
field(const uint8_t *p, size_t n, char out[SASL_FIELD_MAX + 1])
{
	if (n > SASL_FIELD_MAX)
		return -1;
	memcpy(out, p, n);
	out[n] = '\0';
	return 0;
}

/* sasl_plain_parse - authzid NUL authcid NUL passwd */
int
sasl_plain_parse(const uint8_t *msg, size_t len, char authz[SASL_FIELD_MAX + 1],
    char user[SASL_FIELD_MAX + 1], char pass[SASL_FIELD_MAX + 1])
{
	const uint8_t *a = memchr(msg, 0, len), *b;

	if (a == NULL)
		return -1;
	b = memchr(a + 1, 0, len - (size_t)(a + 1 - msg));
	if (b == NULL)
		return -1;
	if (field(msg, (size_t)(a - msg), authz) != 0 ||
	    field(a + 1, (size_t)(b - a - 1), user) != 0 ||
	    field(b + 1, len - (size_t)(b + 1 - msg), pass) != 0)
		return -1;
	if (user[0] == '\0' || pass[0] == '\0')
		return -1;
	return 0;
}
