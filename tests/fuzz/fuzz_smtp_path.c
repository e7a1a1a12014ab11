/*
 * fuzz_smtp_path.c - libFuzzer target for smtp_path_parse() and
 * smtp_local_unquote() / smtp_domain_valid() of core/smtp_parse.c.
 * Checked with abort(): a parsed path is "<...>" within the input and at
 * most 256 octets; addr is local "@" domain; local <= 64, domain <= 255,
 * domain has no upper-case ASCII and passes smtp_domain_valid; no
 * control characters; UTF-8 only when allowed and then well-formed
 * (checked by an independent decoder); re-parsing "<addr>" gives the same
 * address; allowing UTF-8 never turns an accepted ASCII path into an error.
 * Not here: MAIL/RCPT parameters (fuzz_smtp_cmd.c), DATA (fuzz_smtp_data.c).
 * Every input is parsed both with and without UTF-8 allowed.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "smtp_parse.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(c)                 \
	do {                     \
		if (!(c))        \
			abort(); \
	} while (0)

/* Independent RFC 3629 check: decode and range-check every code point. */
static bool
utf8_valid(const unsigned char *s, size_t n)
{
	size_t i = 0;

	while (i < n) {
		unsigned c = s[i];
		uint32_t cp, min;
		size_t k;

		if (c < 0x80) {
			i++;
			continue;
		}
		if ((c & 0xe0) == 0xc0) {
			k = 1;
			cp = c & 0x1f;
			min = 0x80;
		} else if ((c & 0xf0) == 0xe0) {
			k = 2;
			cp = c & 0x0f;
			min = 0x800;
		} else if ((c & 0xf8) == 0xf0) {
			k = 3;
			cp = c & 0x07;
			min = 0x10000;
		} else {
			return false;
		}
		if (n - i <= k)
			return false;
		for (size_t j = 1; j <= k; j++) {
			if ((s[i + j] & 0xc0) != 0x80)
				return false;
			cp = cp << 6 | (s[i + j] & 0x3f);
		}
		if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
			return false;
		i += k + 1;
	}
	return true;
}

static bool
has_8bit(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)s[i] >= 0x80)
			return true;
	return false;
}

static void
check_ok(const char *s, size_t len, bool utf8, const struct smtp_path *p,
    size_t used)
{
	size_t ll, dl, al;
	char buf[SMTP_PATH_MAX + 3], unq[sizeof(p->local)];
	struct smtp_path again;
	size_t used2 = 0;

	CHECK(used >= 2 && used <= len && used <= SMTP_PATH_MAX);
	CHECK(s[0] == '<' && s[used - 1] == '>');
	CHECK(memchr(p->local, '\0', sizeof(p->local)) != NULL);
	CHECK(memchr(p->domain, '\0', sizeof(p->domain)) != NULL);
	CHECK(memchr(p->addr, '\0', sizeof(p->addr)) != NULL);
	ll = strlen(p->local);
	dl = strlen(p->domain);
	al = strlen(p->addr);
	for (size_t i = 0; i < al; i++) {
		unsigned char c = (unsigned char)p->addr[i];

		CHECK(c >= 0x20 && c != 0x7f);
	}
	CHECK(p->utf8 == has_8bit(p->addr, al));
	if (!utf8)
		CHECK(!p->utf8);
	CHECK(utf8_valid((const unsigned char *)p->addr, al));

	if (p->null) {
		CHECK(!p->postmaster && used == 2 && al == 0 && ll == 0);
		return;
	}
	if (p->postmaster) {
		CHECK(
		    strcmp(p->addr, "Postmaster") == 0 && dl == 0 && ll == 10);
		CHECK(strcasecmp(p->local, "postmaster") == 0);
		CHECK(smtp_path_parse(
			  "<Postmaster>", 12, false, &again, &used2) == NULL &&
		      again.postmaster);
		return;
	}
	CHECK(ll >= 1 && ll <= SMTP_LOCAL_MAX);
	CHECK(dl >= 1 && dl <= SMTP_DOMAIN_MAX);
	CHECK(al == ll + 1 + dl);
	CHECK(memcmp(p->addr, p->local, ll) == 0 && p->addr[ll] == '@' &&
	      strcmp(p->addr + ll + 1, p->domain) == 0);
	for (size_t i = 0; i < dl; i++)
		CHECK(!(p->domain[i] >= 'A' && p->domain[i] <= 'Z'));
	CHECK(smtp_domain_valid(p->domain, dl, utf8));
	CHECK(smtp_local_unquote(p->local, unq, sizeof(unq)) >= 0);
	CHECK(strlen(unq) <= ll);

	/* "<addr>" parses to the same address (source route dropped) */
	buf[0] = '<';
	memcpy(buf + 1, p->addr, al);
	buf[al + 1] = '>';
	CHECK(smtp_path_parse(buf, al + 2, utf8, &again, &used2) == NULL);
	CHECK(used2 == al + 2);
	CHECK(strcmp(again.addr, p->addr) == 0);
	CHECK(strcmp(again.local, p->local) == 0);
	CHECK(strcmp(again.domain, p->domain) == 0);
}

/* LLVMFuzzerTestOneInput - one path, parsed with and without UTF-8 */
int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct smtp_path p8, pa;
	const struct smtp_reply *r8, *ra;
	size_t u8 = 0, ua = 0, len = size;
	const char *s = (const char *)data;

	/* with and without UTF-8 */
	r8 = smtp_path_parse(s, len, true, &p8, &u8);
	ra = smtp_path_parse(s, len, false, &pa, &ua);
	if (ra == NULL) {
		check_ok(s, len, false, &pa, ua);
		/* allowing UTF-8 accepts the same path the same way */
		CHECK(r8 == NULL && u8 == ua);
		CHECK(memcmp(&p8, &pa, sizeof(pa)) == 0);
	} else {
		CHECK(ra->code == 501 || ra->code == 553);
		CHECK(ra->enh != NULL && ra->text != NULL);
		CHECK(pa.addr[0] == '\0' && !pa.null && !pa.postmaster);
		if (ra->code == 553)
			CHECK(strcmp(ra->enh, "5.6.7") == 0);
		else
			CHECK(strcmp(ra->enh, "5.1.3") == 0);
	}
	if (r8 == NULL) {
		check_ok(s, len, true, &p8, u8);
		/* an all-ASCII path is accepted without UTF-8 too */
		if (!has_8bit(s, u8))
			CHECK(ra == NULL);
	} else {
		CHECK(r8->code == 501 && strcmp(r8->enh, "5.1.3") == 0);
	}

	/* smtp_domain_valid on the raw bytes: UTF-8 only widens */
	if (smtp_domain_valid(s, len, false))
		CHECK(smtp_domain_valid(s, len, true) && !has_8bit(s, len) &&
		      len <= SMTP_DOMAIN_MAX);
	return 0;
}
