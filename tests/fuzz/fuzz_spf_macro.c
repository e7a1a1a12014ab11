/*
 * fuzz_spf_macro.c - libFuzzer target for the SPF macro expander
 * (plugins/spf/spf_macro.c compiled in). The first input octet picks the
 * mode (domain-spec or explanation), the address family and the output
 * buffer size; the rest is split at the first NUL into the macro string
 * and a sender local part. Checked with abort():
 *   spf_macro_check and spf_macro_expand agree on what is valid;
 *   an expansion is NUL-terminated, its length is what it reports and
 *   fits the buffer; a result of -2 happens only when a larger buffer
 *   would have been needed (the same input expands with the full one);
 *   a string without '%' expands to itself;
 *   the same input expands the same way twice.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../../plugins/spf/spf_macro.c"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(c)                 \
	do {                     \
		if (!(c))        \
			abort(); \
	} while (0)

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static char out[SPF_MACRO_OUT_MAX + 1], out2[SPF_MACRO_OUT_MAX + 1];
	char local[128];
	struct spf_macro_env e;
	const char *s;
	size_t n, len = 0, len2 = 0, cap;
	const uint8_t *nul;
	bool exp;
	int rc, rc2;

	if (size < 1 || size > 2048)
		return 0;
	exp = data[0] & 1;
	cap = (data[0] & 2) ? sizeof(out) : (size_t)1 + (data[0] >> 2);
	s = (const char *)data + 1;
	n = size - 1;
	nul = memchr(s, 0, n);
	memset(&e, 0, sizeof(e));
	snprintf(local, sizeof(local), "%s", "local-part");
	if (nul != NULL) {
		size_t ln = n - (size_t)(nul - (const uint8_t *)s) - 1;

		if (ln >= sizeof(local))
			ln = sizeof(local) - 1;
		memcpy(local, nul + 1, ln);
		local[ln] = '\0';
		n = (size_t)(nul - (const uint8_t *)s);
	}
	e.local = local;
	e.sdomain = "example.org";
	e.domain = "sub.example.org";
	e.family = (data[0] & 4) ? AF_INET6 : AF_INET;
	for (int i = 0; i < 16; i++)
		e.ip[i] = (unsigned char)(i * 17);
	e.validated = (data[0] & 8) ? "mail.example.org" : NULL;
	e.helo = "helo.example";
	e.receiver = (data[0] & 16) ? "mx.example" : NULL;
	e.now = 1700000000;

	rc = spf_macro_expand(s, n, &e, exp, out, cap, &len);
	CHECK(rc == 0 || rc == -1 || rc == -2);
	if (rc == 0) {
		CHECK(spf_macro_check(s, n, exp));
		CHECK(len < cap && strlen(out) == len);
		if (memchr(s, '%', n) == NULL)
			CHECK(len == n && memcmp(out, s, n) == 0);
	} else if (rc == -1) {
		CHECK(!spf_macro_check(s, n, exp));
	} else {
		CHECK(spf_macro_check(s, n, exp));
		rc2 =
		    spf_macro_expand(s, n, &e, exp, out2, sizeof(out2), &len2);
		CHECK(rc2 == 0 ? len2 + 1 > cap : rc2 == -2);
	}
	rc2 = spf_macro_expand(s, n, &e, exp, out2, cap, &len2);
	CHECK(rc2 == rc);
	if (rc == 0)
		CHECK(len2 == len && memcmp(out, out2, len) == 0);
	return 0;
}
