/*
 * fuzz_sasl.c - libFuzzer target for the AUTH base64 decoder and the SASL
 * PLAIN parser: never crash; whatever decodes re-encodes to the same
 * text (the decoder is strict, so base64 is canonical).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "smtp_auth.h"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint8_t dec[1024];
	char enc[1500], a[SASL_FIELD_MAX + 1], u[SASL_FIELD_MAX + 1],
	    p[SASL_FIELD_MAX + 1];
	int n;

	if (size > 1200)
		return 0;
	n = sasl_b64_decode((const char *)data, size, dec, sizeof(dec));
	if (n >= 0) {
		int m = sasl_b64_encode(dec, (size_t)n, enc, sizeof(enc));
		if (m != (int)size || memcmp(enc, data, size) != 0)
			abort();
		(void)sasl_plain_parse(dec, (size_t)n, a, u, p);
	}
	(void)sasl_plain_parse(data, size, a, u, p);
	return 0;
}
