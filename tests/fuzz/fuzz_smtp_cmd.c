/*
 * fuzz_smtp_cmd.c - libFuzzer target for smtp_cmd_parse(), the MAIL and
 * RCPT argument parsers (path + ESMTP parameters), xtext and
 * smtp_domain_valid() of core/smtp_parse.c.
 * Checked with abort(): the argument lies inside the line; a NUL always
 * gives 500 5.5.2; accepted parameters belong to advertised extensions
 * and have legal values; UTF-8 in a MAIL path only with SMTPUTF8; more
 * extensions never turn an accepted command into an error nor change its
 * result; xtext encode/decode round-trips.
 * Not here: path details (fuzz_smtp_path.c), DATA (fuzz_smtp_data.c).
 *
 * Input layout: [0] advertised extensions (bits 0-5) and RCPT UTF-8 flag
 * (bit 6), then one command line without CRLF.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "smtp_parse.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(c)                 \
	do {                     \
		if (!(c))        \
			abort(); \
	} while (0)

static bool
path_sane(const struct smtp_path *p)
{
	return memchr(p->local, '\0', sizeof(p->local)) != NULL &&
	       memchr(p->domain, '\0', sizeof(p->domain)) != NULL &&
	       memchr(p->addr, '\0', sizeof(p->addr)) != NULL;
}

static void
fuzz_mail(const char *arg, size_t len, unsigned ext)
{
	struct smtp_path p, pall;
	struct smtp_mail_params mp, mpall;
	const struct smtp_reply *r, *rall;

	r = smtp_mail_parse(arg, len, ext, &p, &mp);
	rall = smtp_mail_parse(arg, len, SMTP_EXT_ALL, &pall, &mpall);
	if (r != NULL) {
		CHECK(r->code == 501 || r->code == 553 || r->code == 555);
		CHECK(r->enh != NULL && r->text != NULL);
		return;
	}
	CHECK(path_sane(&p));
	CHECK(!p.postmaster);
	CHECK(mp.smtputf8 || !p.utf8);
	CHECK(!mp.size_set || (ext & SMTP_EXT_SIZE));
	CHECK(!mp.smtputf8 || (ext & SMTP_EXT_SMTPUTF8));
	CHECK(mp.body != SMTP_BODY_BINARYMIME);
	CHECK(mp.body == SMTP_BODY_7BIT || (ext & SMTP_EXT_8BITMIME));
	CHECK(mp.ret == SMTP_RET_UNSET || (ext & SMTP_EXT_DSN));
	CHECK(memchr(mp.envid, '\0', sizeof(mp.envid)) != NULL);
	CHECK(memchr(mp.auth, '\0', sizeof(mp.auth)) != NULL);
	CHECK(mp.envid[0] == '\0' || (ext & SMTP_EXT_DSN));
	CHECK(mp.auth[0] == '\0' || (ext & SMTP_EXT_AUTH));
	for (size_t i = 0; mp.envid[i] != '\0'; i++)
		CHECK(mp.envid[i] >= 32 && mp.envid[i] <= 126);
	for (size_t i = 0; mp.auth[i] != '\0'; i++)
		CHECK((unsigned char)mp.auth[i] >= 32 && mp.auth[i] != 127);
	/* advertising more never changes an accepted command */
	CHECK(rall == NULL);
	CHECK(memcmp(&p, &pall, sizeof(p)) == 0);
	CHECK(memcmp(&mp, &mpall, sizeof(mp)) == 0);
}

static void
fuzz_rcpt(const char *arg, size_t len, unsigned ext, bool utf8)
{
	struct smtp_path p, pall;
	struct smtp_rcpt_params rp, rpall;
	const struct smtp_reply *r, *rall;

	r = smtp_rcpt_parse(arg, len, ext, utf8, &p, &rp);
	rall = smtp_rcpt_parse(arg, len, SMTP_EXT_ALL, true, &pall, &rpall);
	if (r != NULL) {
		CHECK(r->code == 501 || r->code == 553 || r->code == 555);
		CHECK(r->enh != NULL && r->text != NULL);
		return;
	}
	CHECK(path_sane(&p));
	CHECK(!p.null);
	CHECK(utf8 || !p.utf8);
	CHECK(rp.notify == 0 || (ext & SMTP_EXT_DSN));
	CHECK(rp.notify == 0 || rp.notify == SMTP_NOTIFY_NEVER ||
	      (rp.notify & ~(SMTP_NOTIFY_SUCCESS | SMTP_NOTIFY_FAILURE |
			       SMTP_NOTIFY_DELAY)) == 0);
	CHECK(memchr(rp.orcpt, '\0', sizeof(rp.orcpt)) != NULL);
	if (rp.orcpt[0] != '\0') {
		const char *semi = strchr(rp.orcpt, ';');

		CHECK(ext & SMTP_EXT_DSN);
		CHECK(semi != NULL && semi != rp.orcpt && semi[1] != '\0');
	}
	CHECK(rall == NULL);
	CHECK(memcmp(&p, &pall, sizeof(p)) == 0);
	CHECK(memcmp(&rp, &rpall, sizeof(rp)) == 0);
}

static void
fuzz_xtext(const char *s, size_t len)
{
	static char enc[3 * 4096 + 1], dec[4096 + 1], dec2[4096 + 1];
	int n, m, k;

	if (len > 4096)
		return;
	/* encode anything, decode back to the same octets */
	n = smtp_xtext_encode(s, len, enc, sizeof(enc));
	CHECK(n >= 0 && (size_t)n >= len && (size_t)n <= 3 * len);
	for (int i = 0; i < n; i++)
		CHECK(enc[i] >= 33 && enc[i] <= 126 && enc[i] != '=');
	m = smtp_xtext_decode(enc, (size_t)n, dec, sizeof(dec));
	CHECK(m >= 0 && (size_t)m == len && memcmp(dec, s, len) == 0);
	/* decode the input if it is xtext; re-encoding decodes the same */
	m = smtp_xtext_decode(s, len, dec, sizeof(dec));
	if (m < 0)
		return;
	CHECK((size_t)m <= len);
	n = smtp_xtext_encode(dec, (size_t)m, enc, sizeof(enc));
	CHECK(n >= 0);
	k = smtp_xtext_decode(enc, (size_t)n, dec2, sizeof(dec2));
	CHECK(k == m && memcmp(dec, dec2, (size_t)m) == 0);
}

/* LLVMFuzzerTestOneInput - one command line (see the layout above) */
int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct smtp_cmd c;
	const struct smtp_reply *r;
	const char *line;
	size_t len;
	unsigned ext;
	bool utf8;

	if (size < 1)
		return 0;
	ext = data[0] & SMTP_EXT_ALL;
	utf8 = (data[0] & 0x40) != 0;
	line = (const char *)data + 1;
	len = size - 1;

	r = smtp_cmd_parse(line, len, &c);
	if (len > 0 && memchr(line, '\0', len) != NULL) {
		CHECK(r != NULL && r->code == 500 &&
		      strcmp(r->enh, "5.5.2") == 0);
	}
	if (r != NULL) {
		CHECK(r->code == 500 || r->code == 501);
		CHECK(c.verb == SMTP_VERB_UNKNOWN);
	} else {
		CHECK(c.verb != SMTP_VERB_UNKNOWN);
		CHECK(c.arg >= line && c.arg_len <= len &&
		      c.arg + c.arg_len == line + len);
		if (c.verb == SMTP_VERB_MAIL)
			fuzz_mail(c.arg, c.arg_len, ext);
		else if (c.verb == SMTP_VERB_RCPT)
			fuzz_rcpt(c.arg, c.arg_len, ext, utf8);
		else if (c.verb == SMTP_VERB_HELO || c.verb == SMTP_VERB_EHLO)
			(void)smtp_domain_valid(c.arg, c.arg_len, utf8);
	}
	/* the whole line as an argument too, for deeper coverage */
	fuzz_mail(line, len, ext);
	fuzz_rcpt(line, len, ext, utf8);
	fuzz_xtext(line, len);
	if (smtp_domain_valid(line, len, false))
		CHECK(smtp_domain_valid(line, len, true));
	return 0;
}
