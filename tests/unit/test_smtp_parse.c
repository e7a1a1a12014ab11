/*
 * test_smtp_parse.c - unit tests for core/smtp_parse.c: command lines,
 * RFC 5321 paths (with RFC 6531 UTF-8), MAIL/RCPT parameters, xtext and
 * smtp_domain_valid. Message content (DATA/BDAT) is tested in
 * test_smtp_data.c.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "smtp_parse.h"

#define ALL SMTP_EXT_ALL

/* Assert a reply's code and enhanced status. */
#define ASSERT_REPLY(expr, c, e)                      \
	do {                                          \
		const struct smtp_reply *r_ = (expr); \
		assert_non_null(r_);                  \
		assert_int_equal(r_->code, (c));      \
		assert_string_equal(r_->enh, (e));    \
		assert_non_null(r_->text);            \
		assert_true(r_->text[0] != '\0');     \
	} while (0)

static const struct smtp_reply *
cmd(const char *line, struct smtp_cmd *c)
{
	return smtp_cmd_parse(line, strlen(line), c);
}

static const struct smtp_reply *
path(const char *s, bool utf8, struct smtp_path *p)
{
	size_t used = 0;
	const struct smtp_reply *r =
	    smtp_path_parse(s, strlen(s), utf8, p, &used);

	if (r == NULL)
		assert_int_equal(used, strlen(s));
	return r;
}

static const struct smtp_reply *
mail(const char *arg, unsigned ext, struct smtp_path *p,
    struct smtp_mail_params *mp)
{
	return smtp_mail_parse(arg, strlen(arg), ext, p, mp);
}

static const struct smtp_reply *
rcpt(const char *arg, unsigned ext, struct smtp_path *p,
    struct smtp_rcpt_params *rp)
{
	return smtp_rcpt_parse(arg, strlen(arg), ext, false, p, rp);
}

/* ---- command lines ---- */

static void
test_cmd_every_verb(void **state)
{
	static const struct {
		const char *name;
		enum smtp_verb verb;
	} v[] = {
	    {"HELO", SMTP_VERB_HELO},
	    {"EHLO", SMTP_VERB_EHLO},
	    {"DATA", SMTP_VERB_DATA},
	    {"BDAT", SMTP_VERB_BDAT},
	    {"RSET", SMTP_VERB_RSET},
	    {"NOOP", SMTP_VERB_NOOP},
	    {"QUIT", SMTP_VERB_QUIT},
	    {"VRFY", SMTP_VERB_VRFY},
	    {"EXPN", SMTP_VERB_EXPN},
	    {"HELP", SMTP_VERB_HELP},
	    {"STARTTLS", SMTP_VERB_STARTTLS},
	    {"AUTH", SMTP_VERB_AUTH},
	};
	struct smtp_cmd c;
	char line[64];
	(void)state;

	for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
		size_t n = strlen(v[i].name);

		/* upper, lower and mixed case, with and without argument */
		for (int variant = 0; variant < 3; variant++) {
			for (size_t k = 0; k < n; k++) {
				char ch = v[i].name[k];

				if (variant == 1 || (variant == 2 && k % 2))
					ch = (char)(ch + 32);
				line[k] = ch;
			}
			line[n] = '\0';
			assert_null(cmd(line, &c));
			assert_int_equal(c.verb, v[i].verb);
			assert_int_equal(c.arg_len, 0);

			snprintf(line + n, sizeof(line) - n, " arg x");
			assert_null(cmd(line, &c));
			assert_int_equal(c.verb, v[i].verb);
			assert_int_equal(c.arg_len, 5);
			assert_memory_equal(c.arg, "arg x", 5);
		}
	}
}

static void
test_cmd_helo_rest_of_line(void **state)
{
	struct smtp_cmd c;
	(void)state;

	assert_null(cmd("EHLO mail.example.com some more", &c));
	assert_int_equal(c.verb, SMTP_VERB_EHLO);
	assert_int_equal(c.arg_len, strlen("mail.example.com some more"));
	assert_memory_equal(c.arg, "mail.example.com some more", c.arg_len);

	assert_null(cmd("helo [192.0.2.1]", &c));
	assert_int_equal(c.verb, SMTP_VERB_HELO);
	assert_int_equal(c.arg_len, 11);
	assert_memory_equal(c.arg, "[192.0.2.1]", 11);

	/* only the single SP after the verb is skipped */
	assert_null(cmd("HELO  x", &c));
	assert_int_equal(c.arg_len, 2);
	assert_memory_equal(c.arg, " x", 2);

	assert_null(cmd("BDAT 100 LAST", &c));
	assert_int_equal(c.verb, SMTP_VERB_BDAT);
	assert_memory_equal(c.arg, "100 LAST", 8);
}

static void
test_cmd_unknown(void **state)
{
	static const char *bad[] = {
	    "",
	    "FOO",
	    "NOOPX",
	    "NOOP\tx",
	    "HELO\tx",
	    "XHELO a",
	    "MAILFROM:<a>",
	    " NOOP",
	    "STARTTLSX",
	    "QUI",
	    "DATA\r",
	};
	struct smtp_cmd c;
	(void)state;

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		ASSERT_REPLY(cmd(bad[i], &c), 500, "5.5.1");
		assert_int_equal(c.verb, SMTP_VERB_UNKNOWN);
	}
}

static void
test_cmd_nul(void **state)
{
	struct smtp_cmd c;
	(void)state;

	ASSERT_REPLY(smtp_cmd_parse("NOOP\0x", 6, &c), 500, "5.5.2");
	ASSERT_REPLY(smtp_cmd_parse("MAIL FROM:<a\0@b>", 16, &c), 500, "5.5.2");
	ASSERT_REPLY(smtp_cmd_parse("\0", 1, &c), 500, "5.5.2");
}

static void
test_cmd_mail_rcpt(void **state)
{
	struct smtp_cmd c;
	(void)state;

	assert_null(cmd("MAIL FROM:<a@b.example>", &c));
	assert_int_equal(c.verb, SMTP_VERB_MAIL);
	assert_int_equal(c.arg_len, 13);
	assert_memory_equal(c.arg, "<a@b.example>", 13);

	/* optional spaces after the colon, any case */
	assert_null(cmd("mail from: <a@b.example> SIZE=10", &c));
	assert_int_equal(c.verb, SMTP_VERB_MAIL);
	assert_memory_equal(c.arg, "<a@b.example> SIZE=10", c.arg_len);
	assert_int_equal(c.arg_len, strlen("<a@b.example> SIZE=10"));
	assert_null(cmd("MaIl FrOm:   <>", &c));
	assert_int_equal(c.arg_len, 2);
	assert_memory_equal(c.arg, "<>", 2);

	assert_null(cmd("RCPT TO:<x@y.example>", &c));
	assert_int_equal(c.verb, SMTP_VERB_RCPT);
	assert_memory_equal(c.arg, "<x@y.example>", 13);
	assert_null(cmd("rcpt to: <x@y.example>", &c));
	assert_int_equal(c.verb, SMTP_VERB_RCPT);
	assert_memory_equal(c.arg, "<x@y.example>", 13);
	assert_null(cmd("RCPT TO:", &c));
	assert_int_equal(c.arg_len, 0);

	ASSERT_REPLY(cmd("MAIL", &c), 501, "5.5.4");
	ASSERT_REPLY(cmd("MAIL <a@b>", &c), 501, "5.5.4");
	ASSERT_REPLY(cmd("MAIL FROM <a@b>", &c), 501, "5.5.4");
	ASSERT_REPLY(cmd("MAIL TO:<a@b>", &c), 501, "5.5.4");
	ASSERT_REPLY(cmd("MAIL FRO", &c), 501, "5.5.4");
	ASSERT_REPLY(cmd("RCPT", &c), 501, "5.5.4");
	ASSERT_REPLY(cmd("RCPT FROM:<a@b>", &c), 501, "5.5.4");
	ASSERT_REPLY(cmd("RCPT TO <a@b>", &c), 501, "5.5.4");
}

/* ---- paths ---- */

static void
test_path_plain(void **state)
{
	struct smtp_path p;
	size_t used = 0;
	(void)state;

	assert_null(path("<John.Doe@Mail.Example.COM>", false, &p));
	assert_false(p.null);
	assert_false(p.postmaster);
	assert_false(p.utf8);
	assert_string_equal(p.local, "John.Doe");
	assert_string_equal(p.domain, "mail.example.com");
	assert_string_equal(p.addr, "John.Doe@mail.example.com");

	assert_null(path("<a!#$%&'*+-/=?^_`{|}~@x-1.example>", false, &p));
	assert_string_equal(p.local, "a!#$%&'*+-/=?^_`{|}~");

	/* only the path is consumed */
	assert_null(smtp_path_parse("<a@b> SIZE=1", 12, false, &p, &used));
	assert_int_equal(used, 5);
	assert_string_equal(p.addr, "a@b");
}

static void
test_path_quoted(void **state)
{
	struct smtp_path p;
	char out[SMTP_LOCAL_MAX * 2 + 1];
	(void)state;

	assert_null(path("<\"John Doe\"@example.com>", false, &p));
	assert_string_equal(p.local, "\"John Doe\"");
	assert_string_equal(p.addr, "\"John Doe\"@example.com");
	assert_int_equal(smtp_local_unquote(p.local, out, sizeof(out)), 8);
	assert_string_equal(out, "John Doe");

	assert_null(path("<\"a\\\"b\\\\c>@d\"@example.com>", false, &p));
	assert_string_equal(p.local, "\"a\\\"b\\\\c>@d\"");
	assert_int_equal(smtp_local_unquote(p.local, out, sizeof(out)), 8);
	assert_string_equal(out, "a\"b\\c>@d");

	assert_null(path("<\"\"@example.com>", false, &p));
	assert_int_equal(smtp_local_unquote(p.local, out, sizeof(out)), 0);
	assert_string_equal(out, "");

	assert_null(path("<\"a..b.\"@example.com>", false, &p));

	/* unterminated quote, bad quoted-pair, quote in the middle */
	ASSERT_REPLY(path("<\"abc@example.com>", false, &p), 501, "5.1.3");
	ASSERT_REPLY(
	    path("<\"a\\\x01\"@example.com>", false, &p), 501, "5.1.3");
	ASSERT_REPLY(path("<a\"b\"@example.com>", false, &p), 501, "5.1.3");
	ASSERT_REPLY(path("<\"a\"b@example.com>", false, &p), 501, "5.1.3");
}

static void
test_local_unquote(void **state)
{
	char out[8];
	(void)state;

	assert_int_equal(smtp_local_unquote("plain", out, sizeof(out)), 5);
	assert_string_equal(out, "plain");
	assert_int_equal(smtp_local_unquote("\"a\\ b\"", out, sizeof(out)), 3);
	assert_string_equal(out, "a b");
	assert_int_equal(smtp_local_unquote("1234567", out, sizeof(out)), 7);
	assert_int_equal(smtp_local_unquote("12345678", out, sizeof(out)), -1);
	assert_int_equal(smtp_local_unquote("x", out, 0), -1);
}

static void
test_path_source_route(void **state)
{
	struct smtp_path p;
	(void)state;

	assert_null(
	    path("<@one.example,@two.example:user@three.example>", false, &p));
	assert_string_equal(p.addr, "user@three.example");
	assert_string_equal(p.local, "user");
	assert_null(path("<@one.example:u@x.example>", false, &p));
	assert_string_equal(p.addr, "u@x.example");

	ASSERT_REPLY(
	    path("<@one.example u@x.example>", false, &p), 501, "5.1.3");
	ASSERT_REPLY(path("<@:u@x.example>", false, &p), 501, "5.1.3");
	ASSERT_REPLY(path("<@a,b:u@x.example>", false, &p), 501, "5.1.3");
	ASSERT_REPLY(path("<@a,:u@x.example>", false, &p), 501, "5.1.3");
	ASSERT_REPLY(path("<@a.:u@x.example>", false, &p), 501, "5.1.3");
	ASSERT_REPLY(path("<@[1.2.3.4]:u@x.example>", false, &p), 501, "5.1.3");
	ASSERT_REPLY(path("<@a:>", false, &p), 501, "5.1.3");
	ASSERT_REPLY(path("<@a:Postmaster>", false, &p), 501, "5.1.3");
}

static void
test_path_null_postmaster(void **state)
{
	struct smtp_path p;
	struct smtp_mail_params mp;
	struct smtp_rcpt_params rp;
	(void)state;

	assert_null(path("<>", false, &p));
	assert_true(p.null);
	assert_string_equal(p.addr, "");

	assert_null(path("<Postmaster>", false, &p));
	assert_true(p.postmaster);
	assert_string_equal(p.addr, "Postmaster");
	assert_null(path("<pOSTMASTER>", false, &p));
	assert_true(p.postmaster);
	assert_string_equal(p.local, "pOSTMASTER");
	assert_string_equal(p.addr, "Postmaster");

	/* with a domain it is an ordinary address */
	assert_null(path("<Postmaster@Example.COM>", false, &p));
	assert_false(p.postmaster);
	assert_string_equal(p.addr, "Postmaster@example.com");

	/* RCPT: postmaster yes, null no */
	assert_null(rcpt("<postmaster>", ALL, &p, &rp));
	assert_true(p.postmaster);
	ASSERT_REPLY(rcpt("<>", ALL, &p, &rp), 501, "5.1.3");

	/* MAIL: null yes, postmaster (no domain) no */
	assert_null(mail("<>", ALL, &p, &mp));
	assert_true(p.null);
	ASSERT_REPLY(mail("<Postmaster>", ALL, &p, &mp), 501, "5.1.7");
	assert_false(p.postmaster);

	/* other local parts need a domain */
	ASSERT_REPLY(path("<user>", false, &p), 501, "5.1.3");
	ASSERT_REPLY(path("<\"Postmaster\">", false, &p), 501, "5.1.3");
	ASSERT_REPLY(path("<postmasters>", false, &p), 501, "5.1.3");
}

static void
test_path_literals(void **state)
{
	static const char *good[] = {
	    "<a@[192.0.2.1]>",
	    "<a@[0.0.0.0]>",
	    "<a@[255.255.255.255]>",
	    "<a@[IPv6:2001:db8::1]>",
	    "<a@[ipv6:::1]>",
	    "<a@[IPv6:2001:db8:0:0:0:0:2:1]>",
	    "<a@[IPv6:::ffff:192.0.2.1]>",
	};
	static const char *bad[] = {
	    "<a@[256.1.1.1]>",
	    "<a@[1.2.3]>",
	    "<a@[1.2.3.4.5]>",
	    "<a@[1.2.3.a]>",
	    "<a@[]>",
	    "<a@[2001:db8::1]>",
	    "<a@[IPv6:2001:db8::g]>",
	    "<a@[IPv6:1.2.3.4]>",
	    "<a@[IPv6:1:2:3:4:5:6:7:8:9]>",
	    "<a@[IPv6:]>",
	    "<a@[x400:foo]>",
	    "<a@[ 1.2.3.4]>",
	    "<a@[1.2.3.4]x>",
	    "<a@[1.2.3.4>",
	    "<a@example.[1.2.3.4]>",
	};
	struct smtp_path p;
	(void)state;

	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++)
		assert_null(path(good[i], false, &p));
	assert_null(path("<Who@[IPv6:2001:DB8::A]>", false, &p));
	assert_string_equal(p.domain, "[ipv6:2001:db8::a]");
	assert_string_equal(p.local, "Who");
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		ASSERT_REPLY(path(bad[i], false, &p), 501, "5.1.3");
}

/* "<" + local(nl x 'a') + "@" + domain of dl octets + ">" */
static void
make_path(char *buf, size_t nl, size_t dl)
{
	size_t o = 0;

	buf[o++] = '<';
	memset(buf + o, 'a', nl);
	o += nl;
	buf[o++] = '@';
	/* labels of up to 63 'b's separated by dots */
	for (size_t k = 0; k < dl; k++)
		buf[o++] = (k % 64 == 63) ? '.' : 'b';
	buf[o++] = '>';
	buf[o] = '\0';
}

static void
test_path_lengths(void **state)
{
	char buf[1024];
	struct smtp_path p;
	(void)state;

	/* local part: 64 ok, 65 too long */
	make_path(buf, 64, 10);
	assert_null(path(buf, false, &p));
	assert_int_equal(strlen(p.local), 64);
	make_path(buf, 65, 10);
	ASSERT_REPLY(path(buf, false, &p), 501, "5.1.3");
	assert_non_null(strstr(path(buf, false, &p)->text, "local part"));

	/* whole path: 256 ok, 257 too long */
	make_path(buf, 64, 256 - 64 - 3);
	assert_int_equal(strlen(buf), 256);
	assert_null(path(buf, false, &p));
	assert_int_equal(strlen(p.addr), 254);
	make_path(buf, 64, 257 - 64 - 3);
	assert_int_equal(strlen(buf), 257);
	ASSERT_REPLY(path(buf, false, &p), 501, "5.1.3");
	assert_non_null(strstr(path(buf, false, &p)->text, "too long"));

	/* domain over 255 */
	make_path(buf, 1, 257);
	ASSERT_REPLY(path(buf, false, &p), 501, "5.1.3");
	assert_non_null(strstr(path(buf, false, &p)->text, "domain too long"));

	/* label: 63 ok, 64 too long */
	snprintf(buf, sizeof(buf), "<a@%.63s.example>",
	    "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
	    "xxxxxxx");
	assert_null(path(buf, false, &p));
	snprintf(buf, sizeof(buf), "<a@%.64s.example>",
	    "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
	    "xxxxxxx");
	ASSERT_REPLY(path(buf, false, &p), 501, "5.1.3");

	/* source route counts in the path length */
	snprintf(buf, sizeof(buf), "<@%.63s.%.63s.%.63s:a@b.example>",
	    "rrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrr",
	    "rrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrr",
	    "rrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrr");
	assert_null(path(buf, false, &p));
	snprintf(buf, sizeof(buf), "<@%.63s.%.63s.%.63s.%.63s:a@b.example>",
	    "rrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrr",
	    "rrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrr",
	    "rrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrr",
	    "rrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrr");
	ASSERT_REPLY(path(buf, false, &p), 501, "5.1.3");
}

static void
test_path_dots_and_domains(void **state)
{
	static const char *bad[] = {
	    "<.a@example.com>",
	    "<a.@example.com>",
	    "<a..b@example.com>",
	    "<.@example.com>",
	    "<a@example.com.>",
	    "<a@.example.com>",
	    "<a@example..com>",
	    "<a@-example.com>",
	    "<a@example-.com>",
	    "<a@exa_mple.com>",
	    "<a@>",
	    "<@example.com>",
	    "<a@b@c.example>",
	    "<a b@example.com>",
	    "<a@example.com >",
	    "< a@example.com>",
	    "<a(comment)@example.com>",
	};
	struct smtp_path p;
	(void)state;

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		ASSERT_REPLY(path(bad[i], false, &p), 501, "5.1.3");
	assert_null(path("<a.b.c@x--y.example>", false, &p));
	assert_null(path("<a@xn--bcher-kva.example>", false, &p));
	assert_null(path("<a@localhost>", false, &p));
	assert_null(path("<a@123.example>", false, &p));
	assert_null(path("<a@1-2>", false, &p));
}

static void
test_path_not_enclosed(void **state)
{
	struct smtp_path p;
	struct smtp_mail_params mp;
	struct smtp_rcpt_params rp;
	(void)state;

	ASSERT_REPLY(path("a@example.com", false, &p), 501, "5.1.3");
	ASSERT_REPLY(path("", false, &p), 501, "5.1.3");
	ASSERT_REPLY(path("<a@example.com", false, &p), 501, "5.1.3");
	ASSERT_REPLY(path("<", false, &p), 501, "5.1.3");
	ASSERT_REPLY(path("a@example.com>", false, &p), 501, "5.1.3");

	ASSERT_REPLY(mail("a@example.com", ALL, &p, &mp), 501, "5.1.7");
	ASSERT_REPLY(mail("", ALL, &p, &mp), 501, "5.1.7");
	ASSERT_REPLY(mail("<a@example.com", ALL, &p, &mp), 501, "5.1.7");
	ASSERT_REPLY(mail("\"<a@example.com>\"", ALL, &p, &mp), 501, "5.1.7");
	ASSERT_REPLY(rcpt("a@example.com", ALL, &p, &rp), 501, "5.1.3");
	ASSERT_REPLY(rcpt("<a@example.com", ALL, &p, &rp), 501, "5.1.3");
	ASSERT_REPLY(rcpt("Name <a@example.com>", ALL, &p, &rp), 501, "5.1.3");
}

static void
test_path_utf8(void **state)
{
	/* δοκιμή@παράδειγμα.δοκιμή and a CJK local part */
	static const char greek[] =
	    "<\xce\xb4\xce\xbf\xce\xba\xce\xb9\xce\xbc\xce\xae@\xcf\x80\xce\xb1"
	    "\xcf\x81\xce\xac\xce\xb4\xce\xb5\xce\xb9\xce\xb3\xce\xbc\xce\xb1."
	    "\xce\xb4\xce\xbf\xce\xba\xce\xb9\xce\xbc\xce\xae>";
	static const char cjk[] = "<\xe7\x94\xa8\xe6\x88\xb7@Example.COM>";
	static const char quoted[] = "<\"J\xc3\xb6rg M\"@example.com>";
	static const char emoji[] = "<a@\xf0\x9f\x98\x80.example>";
	struct smtp_path p;
	struct smtp_mail_params mp;
	struct smtp_rcpt_params rp;
	(void)state;

	assert_null(path(greek, true, &p));
	assert_true(p.utf8);
	assert_null(path(cjk, true, &p));
	assert_true(p.utf8);
	assert_string_equal(p.domain, "example.com");
	assert_string_equal(p.local, "\xe7\x94\xa8\xe6\x88\xb7");
	assert_null(path(quoted, true, &p));
	assert_null(path(emoji, true, &p));
	assert_false(path("<a@b.example>", true, &p) != NULL || p.utf8);

	ASSERT_REPLY(path(greek, false, &p), 553, "5.6.7");
	ASSERT_REPLY(path(cjk, false, &p), 553, "5.6.7");
	ASSERT_REPLY(path(quoted, false, &p), 553, "5.6.7");
	ASSERT_REPLY(path(emoji, false, &p), 553, "5.6.7");

	/* MAIL: SMTPUTF8 decides */
	assert_null(mail(
	    "<\xe7\x94\xa8\xe6\x88\xb7@example.com> SMTPUTF8", ALL, &p, &mp));
	assert_true(mp.smtputf8);
	assert_true(p.utf8);
	ASSERT_REPLY(
	    mail("<\xe7\x94\xa8\xe6\x88\xb7@example.com>", ALL, &p, &mp), 553,
	    "5.6.7");
	ASSERT_REPLY(mail("<\xe7\x94\xa8\xe6\x88\xb7@example.com> SMTPUTF8",
			 ALL & ~SMTP_EXT_SMTPUTF8, &p, &mp),
	    555, "5.5.4");

	/* RCPT: the transaction's flag decides */
	assert_null(smtp_rcpt_parse(cjk + 0, strlen(cjk), ALL, true, &p, &rp));
	ASSERT_REPLY(smtp_rcpt_parse(cjk, strlen(cjk), ALL, false, &p, &rp),
	    553, "5.6.7");

	/* U-label: 63 characters allowed even if more than 63 octets */
	{
		char buf[512];
		size_t o = 0;

		memcpy(buf, "<a@", 3);
		o = 3;
		for (int k = 0; k < 63; k++) {
			memcpy(buf + o, "\xc3\xa9", 2);
			o += 2;
		}
		memcpy(buf + o, ".example>", 10);
		assert_null(path(buf, true, &p));
		memcpy(buf + o, "\xc3\xa9.example>", 12);
		ASSERT_REPLY(path(buf, true, &p), 501, "5.1.3");
	}
}

static void
test_path_bad_utf8(void **state)
{
	static const char *bad[] = {
	    "<\xc0\xaf@example.com>",         /* overlong '/' */
	    "<\xc1\xbf@example.com>",         /* overlong */
	    "<\xe0\x80\xaf@example.com>",     /* overlong 3-byte */
	    "<\xf0\x80\x80\xaf@example.com>", /* overlong 4-byte */
	    "<\xed\xa0\x80@example.com>",     /* surrogate U+D800 */
	    "<\xed\xbf\xbf@example.com>",     /* surrogate U+DFFF */
	    "<\xf4\x90\x80\x80@example.com>", /* U+110000 */
	    "<\xf5\x80\x80\x80@example.com>", /* > U+10FFFF */
	    "<\xff@example.com>",             /* never valid */
	    "<\x80@example.com>",             /* stray continuation */
	    "<\xc3@example.com>",             /* truncated */
	    "<\xe2\x82@example.com>",         /* truncated */
	    "<a@\xed\xa0\x80.example>",       /* surrogate in domain */
	    "<a@\xc0\xae.example>",           /* overlong in domain */
	    "<\"\xed\xa0\x80\"@example.com>", /* surrogate in quotes */
	    "<\"\\\xc3\xa9\"@example.com>",   /* UTF-8 in quoted-pair */
	    "<a@[\xc3\xa9]>",                 /* UTF-8 in a literal */
	};
	struct smtp_path p;
	(void)state;

	/* boundary values that are valid */
	assert_null(path("<\xed\x9f\xbf@example.com>", true, &p)); /* D7FF */
	assert_null(path("<\xee\x80\x80@example.com>", true, &p)); /* E000 */
	assert_null(path("<\xf4\x8f\xbf\xbf@example.com>", true, &p));
	assert_null(path("<\xc2\x80@example.com>", true, &p));
	assert_null(path("<\xe0\xa0\x80@example.com>", true, &p));
	assert_null(path("<\xf0\x90\x80\x80@example.com>", true, &p));

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		ASSERT_REPLY(path(bad[i], true, &p), 501, "5.1.3");
		ASSERT_REPLY(path(bad[i], false, &p), 553, "5.6.7");
	}
}

static void
test_path_control_chars(void **state)
{
	static const char *bad[] = {
	    "<a\x01@example.com>",
	    "<a@exam\x7fple.com>",
	    "<\"a\tb\"@example.com>",
	    "<\"a\x1f\"@example.com>",
	    "<a@[1.2.3.4\x01]>",
	    "<a\x7f@example.com>",
	    "<a@example.com\x0b>",
	    "<\x1b[31m@example.com>",
	};
	struct smtp_path p;
	(void)state;

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		ASSERT_REPLY(path(bad[i], true, &p), 501, "5.1.3");
		assert_non_null(
		    strstr(path(bad[i], true, &p)->text, "control"));
	}
	ASSERT_REPLY(
	    smtp_path_parse("<a\0b@example.com>", 17, true, &p, &(size_t){0}),
	    501, "5.1.3");
}

/* ---- MAIL parameters ---- */

static void
test_mail_size(void **state)
{
	struct smtp_path p;
	struct smtp_mail_params mp;
	(void)state;

	assert_null(mail("<a@b.example>", ALL, &p, &mp));
	assert_false(mp.size_set);
	assert_null(mail("<a@b.example> SIZE=12345", ALL, &p, &mp));
	assert_true(mp.size_set);
	assert_int_equal(mp.size, 12345);
	assert_string_equal(p.addr, "a@b.example");
	assert_null(mail("<a@b.example> size=0", ALL, &p, &mp));
	assert_true(mp.size_set);
	assert_int_equal(mp.size, 0);
	assert_null(mail("<> SIZE=18446744073709551615", ALL, &p, &mp));
	assert_true(mp.size == UINT64_MAX);
	assert_null(mail("<> SIZE=00000000000000000001", ALL, &p, &mp));
	assert_int_equal(mp.size, 1);

	ASSERT_REPLY(
	    mail("<> SIZE=18446744073709551616", ALL, &p, &mp), 501, "5.5.4");
	assert_false(mp.size_set);
	ASSERT_REPLY(
	    mail("<> SIZE=000000000000000000001", ALL, &p, &mp), 501, "5.5.4");
	ASSERT_REPLY(mail("<> SIZE=99999999999999999999999999", ALL, &p, &mp),
	    501, "5.5.4");
	ASSERT_REPLY(mail("<> SIZE=12a", ALL, &p, &mp), 501, "5.5.4");
	ASSERT_REPLY(mail("<> SIZE=-1", ALL, &p, &mp), 501, "5.5.4");
	ASSERT_REPLY(mail("<> SIZE=", ALL, &p, &mp), 501, "5.5.4");
	ASSERT_REPLY(mail("<> SIZE", ALL, &p, &mp), 501, "5.5.4");
	ASSERT_REPLY(mail("<> SIZE=1 SIZE=2", ALL, &p, &mp), 501, "5.5.4");
	ASSERT_REPLY(
	    mail("<> SIZE=1", ALL & ~SMTP_EXT_SIZE, &p, &mp), 555, "5.5.4");
}

static void
test_mail_body(void **state)
{
	struct smtp_path p;
	struct smtp_mail_params mp;
	(void)state;

	assert_null(mail("<a@b.example> BODY=8BITMIME", ALL, &p, &mp));
	assert_int_equal(mp.body, SMTP_BODY_8BITMIME);
	assert_null(mail("<a@b.example> body=8bitmime", ALL, &p, &mp));
	assert_int_equal(mp.body, SMTP_BODY_8BITMIME);
	assert_null(mail("<a@b.example> BODY=7BIT", ALL, &p, &mp));
	assert_int_equal(mp.body, SMTP_BODY_7BIT);

	ASSERT_REPLY(
	    mail("<a@b.example> BODY=BINARYMIME", ALL, &p, &mp), 555, "5.5.4");
	ASSERT_REPLY(
	    mail("<a@b.example> BODY=8BIT", ALL, &p, &mp), 501, "5.5.4");
	ASSERT_REPLY(mail("<a@b.example> BODY=", ALL, &p, &mp), 501, "5.5.4");
	ASSERT_REPLY(mail("<a@b.example> BODY", ALL, &p, &mp), 501, "5.5.4");
	ASSERT_REPLY(mail("<a@b.example> BODY=7BIT BODY=7BIT", ALL, &p, &mp),
	    501, "5.5.4");
	ASSERT_REPLY(mail("<a@b.example> BODY=8BITMIME",
			 ALL & ~SMTP_EXT_8BITMIME, &p, &mp),
	    555, "5.5.4");
}

static void
test_mail_smtputf8_ret_envid(void **state)
{
	struct smtp_path p;
	struct smtp_mail_params mp;
	char buf[256];
	(void)state;

	assert_null(mail("<a@b.example> SMTPUTF8", ALL, &p, &mp));
	assert_true(mp.smtputf8);
	assert_null(mail("<a@b.example> smtputf8", ALL, &p, &mp));
	assert_true(mp.smtputf8);
	ASSERT_REPLY(
	    mail("<a@b.example> SMTPUTF8=yes", ALL, &p, &mp), 501, "5.5.4");
	ASSERT_REPLY(mail("<a@b.example> SMTPUTF8 SMTPUTF8", ALL, &p, &mp), 501,
	    "5.5.4");

	assert_null(mail("<a@b.example> RET=FULL", ALL, &p, &mp));
	assert_int_equal(mp.ret, SMTP_RET_FULL);
	assert_null(mail("<a@b.example> ret=hdrs", ALL, &p, &mp));
	assert_int_equal(mp.ret, SMTP_RET_HDRS);
	ASSERT_REPLY(
	    mail("<a@b.example> RET=BODY", ALL, &p, &mp), 501, "5.5.4");
	ASSERT_REPLY(mail("<a@b.example> RET", ALL, &p, &mp), 501, "5.5.4");
	ASSERT_REPLY(mail("<a@b.example> RET=FULL RET=HDRS", ALL, &p, &mp), 501,
	    "5.5.4");
	ASSERT_REPLY(
	    mail("<a@b.example> RET=FULL", ALL & ~SMTP_EXT_DSN, &p, &mp), 555,
	    "5.5.4");

	assert_null(mail("<a@b.example> ENVID=QQ+2B314+3D+20x", ALL, &p, &mp));
	assert_string_equal(mp.envid, "QQ+314= x");
	assert_null(mail("<a@b.example> ENVID=a+2b", ALL, &p, &mp));
	assert_string_equal(mp.envid, "a+");
	/* 100 decoded octets ok, 101 too long */
	snprintf(buf, sizeof(buf), "<> ENVID=%.100s",
	    "0123456789012345678901234567890123456789012345678901234567890123"
	    "4567890123456789012345678901234567890123456789");
	assert_null(mail(buf, ALL, &p, &mp));
	assert_int_equal(strlen(mp.envid), 100);
	snprintf(buf, sizeof(buf), "<> ENVID=%.101s",
	    "0123456789012345678901234567890123456789012345678901234567890123"
	    "45678901234567890123456789012345678901234567890");
	ASSERT_REPLY(mail(buf, ALL, &p, &mp), 501, "5.5.4");
	ASSERT_REPLY(mail("<> ENVID=a+0Ab", ALL, &p, &mp), 501, "5.5.4");
	ASSERT_REPLY(mail("<> ENVID=a+00b", ALL, &p, &mp), 501, "5.5.4");
	ASSERT_REPLY(mail("<> ENVID=a+C3+A9", ALL, &p, &mp), 501, "5.5.4");
	ASSERT_REPLY(mail("<> ENVID=a+zz", ALL, &p, &mp), 501, "5.5.4");
	ASSERT_REPLY(mail("<> ENVID=a+2", ALL, &p, &mp), 501, "5.5.4");
	ASSERT_REPLY(mail("<> ENVID=", ALL, &p, &mp), 501, "5.5.4");
	ASSERT_REPLY(mail("<> ENVID=a ENVID=b", ALL, &p, &mp), 501, "5.5.4");
	ASSERT_REPLY(
	    mail("<> ENVID=a", ALL & ~SMTP_EXT_DSN, &p, &mp), 555, "5.5.4");
}

static void
test_mail_auth(void **state)
{
	struct smtp_path p;
	struct smtp_mail_params mp;
	(void)state;

	assert_null(mail("<a@b.example> AUTH=<>", ALL, &p, &mp));
	assert_string_equal(mp.auth, "<>");
	assert_null(
	    mail("<a@b.example> AUTH=e+2Bmc2@example.com", ALL, &p, &mp));
	assert_string_equal(mp.auth, "e+mc2@example.com");
	ASSERT_REPLY(
	    mail("<a@b.example> AUTH=a+0D+0Ab", ALL, &p, &mp), 501, "5.5.4");
	ASSERT_REPLY(mail("<a@b.example> AUTH=a+", ALL, &p, &mp), 501, "5.5.4");
	ASSERT_REPLY(mail("<a@b.example> AUTH", ALL, &p, &mp), 501, "5.5.4");
	ASSERT_REPLY(
	    mail("<a@b.example> AUTH=<> AUTH=<>", ALL, &p, &mp), 501, "5.5.4");
	ASSERT_REPLY(
	    mail("<a@b.example> AUTH=<>", ALL & ~SMTP_EXT_AUTH, &p, &mp), 555,
	    "5.5.4");
}

static void
test_mail_params_combined(void **state)
{
	struct smtp_path p;
	struct smtp_mail_params mp;
	(void)state;

	assert_null(mail("<a@b.example>  SIZE=100   BODY=8BITMIME RET=HDRS "
			 "ENVID=x AUTH=<> SMTPUTF8  ",
	    ALL, &p, &mp));
	assert_int_equal(mp.size, 100);
	assert_int_equal(mp.body, SMTP_BODY_8BITMIME);
	assert_int_equal(mp.ret, SMTP_RET_HDRS);
	assert_string_equal(mp.envid, "x");
	assert_string_equal(mp.auth, "<>");
	assert_true(mp.smtputf8);
	assert_string_equal(p.addr, "a@b.example");

	/* a quoted local part with spaces and '>' before the parameters */
	assert_null(mail("<\"a > b\"@c.example> SIZE=5", ALL, &p, &mp));
	assert_string_equal(p.local, "\"a > b\"");
	assert_int_equal(mp.size, 5);

	/* unknown, bad keyword syntax, missing SP, stray characters */
	ASSERT_REPLY(mail("<a@b.example> FOO=bar", ALL, &p, &mp), 555, "5.5.4");
	ASSERT_REPLY(mail("<a@b.example> XFOO", ALL, &p, &mp), 555, "5.5.4");
	ASSERT_REPLY(
	    mail("<a@b.example> NOTIFY=NEVER", ALL, &p, &mp), 555, "5.5.4");
	ASSERT_REPLY(mail("<a@b.example> -X=1", ALL, &p, &mp), 501, "5.5.4");
	ASSERT_REPLY(mail("<a@b.example> =1", ALL, &p, &mp), 501, "5.5.4");
	ASSERT_REPLY(mail("<a@b.example> SI_ZE=1", ALL, &p, &mp), 501, "5.5.4");
	ASSERT_REPLY(
	    mail("<a@b.example> SIZE=1=2", ALL, &p, &mp), 501, "5.5.4");
	ASSERT_REPLY(
	    mail("<a@b.example> SIZE=1\t", ALL, &p, &mp), 501, "5.5.4");
	ASSERT_REPLY(mail("<a@b.example>SIZE=1", ALL, &p, &mp), 501, "5.5.4");
	ASSERT_REPLY(
	    mail("<a@b.example> ENVID=\xc3\xa9", ALL, &p, &mp), 501, "5.5.4");
	assert_false(mp.size_set);

	/* parameter errors come before the path is even looked at, but a
	 * bad path with good parameters is a path error */
	ASSERT_REPLY(mail("<a@@b> SIZE=1", ALL, &p, &mp), 501, "5.1.7");
	ASSERT_REPLY(mail("<a@b.example.> SIZE=1", ALL, &p, &mp), 501, "5.1.7");

	/* leading spaces tolerated */
	assert_null(mail("  <a@b.example>", ALL, &p, &mp));
}

/* ---- RCPT parameters ---- */

static void
test_rcpt_notify(void **state)
{
	struct smtp_path p;
	struct smtp_rcpt_params rp;
	(void)state;

	assert_null(rcpt("<a@b.example>", ALL, &p, &rp));
	assert_int_equal(rp.notify, 0);
	assert_null(rcpt("<a@b.example> NOTIFY=NEVER", ALL, &p, &rp));
	assert_int_equal(rp.notify, SMTP_NOTIFY_NEVER);
	assert_null(
	    rcpt("<a@b.example> NOTIFY=SUCCESS,FAILURE,DELAY", ALL, &p, &rp));
	assert_int_equal(rp.notify,
	    SMTP_NOTIFY_SUCCESS | SMTP_NOTIFY_FAILURE | SMTP_NOTIFY_DELAY);
	assert_null(rcpt("<a@b.example> notify=delay,failure", ALL, &p, &rp));
	assert_int_equal(rp.notify, SMTP_NOTIFY_DELAY | SMTP_NOTIFY_FAILURE);

	ASSERT_REPLY(rcpt("<a@b.example> NOTIFY=NEVER,SUCCESS", ALL, &p, &rp),
	    501, "5.5.4");
	ASSERT_REPLY(rcpt("<a@b.example> NOTIFY=FAILURE,NEVER", ALL, &p, &rp),
	    501, "5.5.4");
	ASSERT_REPLY(rcpt("<a@b.example> NOTIFY=SUCCESS,SUCCESS", ALL, &p, &rp),
	    501, "5.5.4");
	ASSERT_REPLY(
	    rcpt("<a@b.example> NOTIFY=SUCCESS,", ALL, &p, &rp), 501, "5.5.4");
	ASSERT_REPLY(
	    rcpt("<a@b.example> NOTIFY=,SUCCESS", ALL, &p, &rp), 501, "5.5.4");
	ASSERT_REPLY(
	    rcpt("<a@b.example> NOTIFY=SOMETIMES", ALL, &p, &rp), 501, "5.5.4");
	ASSERT_REPLY(rcpt("<a@b.example> NOTIFY", ALL, &p, &rp), 501, "5.5.4");
	assert_int_equal(rp.notify, 0);
	ASSERT_REPLY(
	    rcpt("<a@b.example> NOTIFY=NEVER NOTIFY=NEVER", ALL, &p, &rp), 501,
	    "5.5.4");
	ASSERT_REPLY(
	    rcpt("<a@b.example> NOTIFY=NEVER", ALL & ~SMTP_EXT_DSN, &p, &rp),
	    555, "5.5.4");
}

static void
test_rcpt_orcpt(void **state)
{
	struct smtp_path p;
	struct smtp_rcpt_params rp;
	char buf[1200];
	(void)state;

	assert_null(
	    rcpt("<a@b.example> ORCPT=rfc822;a+2Bb@c.example", ALL, &p, &rp));
	assert_string_equal(rp.orcpt, "rfc822;a+b@c.example");
	assert_null(rcpt("<a@b.example> ORCPT=utf-8;x@y", ALL, &p, &rp));
	assert_string_equal(rp.orcpt, "utf-8;x@y");
	assert_null(rcpt(
	    "<a@b.example> NOTIFY=FAILURE ORCPT=RFC822;x@y", ALL, &p, &rp));
	assert_string_equal(rp.orcpt, "RFC822;x@y");
	assert_int_equal(rp.notify, SMTP_NOTIFY_FAILURE);

	ASSERT_REPLY(
	    rcpt("<a@b.example> ORCPT=rfc822", ALL, &p, &rp), 501, "5.5.4");
	ASSERT_REPLY(
	    rcpt("<a@b.example> ORCPT=;x@y", ALL, &p, &rp), 501, "5.5.4");
	ASSERT_REPLY(
	    rcpt("<a@b.example> ORCPT=rfc822;", ALL, &p, &rp), 501, "5.5.4");
	ASSERT_REPLY(
	    rcpt("<a@b.example> ORCPT=rf(c;x", ALL, &p, &rp), 501, "5.5.4");
	ASSERT_REPLY(
	    rcpt("<a@b.example> ORCPT=rfc822;x+", ALL, &p, &rp), 501, "5.5.4");
	ASSERT_REPLY(rcpt("<a@b.example> ORCPT=rfc822;x+00y", ALL, &p, &rp),
	    501, "5.5.4");
	ASSERT_REPLY(rcpt("<a@b.example> ORCPT", ALL, &p, &rp), 501, "5.5.4");
	ASSERT_REPLY(
	    rcpt("<a@b.example> ORCPT=rfc822;x ORCPT=rfc822;y", ALL, &p, &rp),
	    501, "5.5.4");
	ASSERT_REPLY(
	    rcpt("<a@b.example> ORCPT=rfc822;x", ALL & ~SMTP_EXT_DSN, &p, &rp),
	    555, "5.5.4");

	/* "rfc822;" + 493 octets = 500 fits, one more does not */
	memcpy(buf, "<a@b.example> ORCPT=rfc822;", 27);
	memset(buf + 27, 'x', 493);
	buf[27 + 493] = '\0';
	assert_null(rcpt(buf, ALL, &p, &rp));
	assert_int_equal(strlen(rp.orcpt), 500);
	memset(buf + 27, 'x', 494);
	buf[27 + 494] = '\0';
	ASSERT_REPLY(rcpt(buf, ALL, &p, &rp), 501, "5.5.4");
	assert_string_equal(rp.orcpt, "");
}

static void
test_rcpt_other(void **state)
{
	struct smtp_path p;
	struct smtp_rcpt_params rp;
	(void)state;

	ASSERT_REPLY(rcpt("<a@b.example> SIZE=1", ALL, &p, &rp), 555, "5.5.4");
	ASSERT_REPLY(rcpt("<a@b.example> FOO", ALL, &p, &rp), 555, "5.5.4");
	ASSERT_REPLY(
	    rcpt("<a@b.example>NOTIFY=NEVER", ALL, &p, &rp), 501, "5.5.4");
	ASSERT_REPLY(rcpt("<a..b@c.example>", ALL, &p, &rp), 501, "5.1.3");
	ASSERT_REPLY(
	    rcpt("<a@c.example> NOTIFY=NEVER", 0, &p, &rp), 555, "5.5.4");
	assert_null(rcpt("<@r.example:a@c.example>   ", 0, &p, &rp));
	assert_string_equal(p.addr, "a@c.example");
}

/* ---- xtext ---- */

static void
test_xtext_roundtrip(void **state)
{
	char in[256], enc[256 * 3 + 1], dec[257];
	(void)state;

	for (int i = 0; i < 256; i++)
		in[i] = (char)i;
	assert_int_equal(smtp_xtext_encode(in, 256, enc, sizeof(enc)),
	    256 + 2 * (33 + 2 + 129));
	for (size_t i = 0; enc[i] != '\0'; i++) {
		unsigned char c = (unsigned char)enc[i];

		assert_true(c >= 33 && c <= 126 && c != '=');
	}
	assert_int_equal(
	    smtp_xtext_decode(enc, strlen(enc), dec, sizeof(dec)), 256);
	assert_memory_equal(dec, in, 256);

	assert_int_equal(smtp_xtext_encode("a+b=c d", 7, enc, sizeof(enc)), 13);
	assert_string_equal(enc, "a+2Bb+3Dc+20d");
	assert_int_equal(
	    smtp_xtext_decode("a+2bb+3dc", 9, dec, sizeof(dec)), 5);
	assert_string_equal(dec, "a+b=c");
	assert_int_equal(smtp_xtext_decode("", 0, dec, sizeof(dec)), 0);
	assert_string_equal(dec, "");
}

static void
test_xtext_errors(void **state)
{
	static const char *bad[] = {
	    "+", "+4", "a+G0", "+0G", "a=b", "a b", "\x01", "\xc3\xa9", "++41"};
	char out[8];
	(void)state;

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_int_equal(
		    smtp_xtext_decode(bad[i], strlen(bad[i]), out, sizeof(out)),
		    -1);
	/* overflow: 7 octets + NUL fit in 8, 8 do not */
	assert_int_equal(smtp_xtext_decode("abcdefg", 7, out, sizeof(out)), 7);
	assert_int_equal(
	    smtp_xtext_decode("abcdefgh", 8, out, sizeof(out)), -1);
	assert_int_equal(smtp_xtext_decode("a", 1, out, 0), -1);
	assert_int_equal(smtp_xtext_encode("abcdefg", 7, out, sizeof(out)), 7);
	assert_int_equal(
	    smtp_xtext_encode("abcdefgh", 8, out, sizeof(out)), -1);
	assert_int_equal(smtp_xtext_encode("abcd+", 5, out, sizeof(out)), 7);
	assert_int_equal(smtp_xtext_encode("abcde+", 6, out, sizeof(out)), -1);
}

/* ---- smtp_domain_valid ---- */

static void
test_domain_valid(void **state)
{
	static const char *good[] = {"mail.example.com", "localhost",
	    "a-b.c-d.example", "xn--bcher-kva.example", "[192.0.2.1]",
	    "[IPv6:2001:db8::1]", "123", "EXAMPLE.COM"};
	static const char *bad[] = {"", ".", "a..b", ".a", "a.", "-a.b", "a-.b",
	    "a_b.example", "a b", "[192.0.2.1", "[1.2.3.4]x", "[999.1.1.1]",
	    "[IPv6:zz::1]", "a@b", "exa\x01mple"};
	char buf[300];
	(void)state;

	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++)
		assert_true(smtp_domain_valid(good[i], strlen(good[i]), false));
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_false(smtp_domain_valid(bad[i], strlen(bad[i]), true));

	assert_true(smtp_domain_valid("b\xc3\xbc"
				      "cher.example",
	    15, true));
	assert_false(smtp_domain_valid("b\xc3\xbc"
				       "cher.example",
	    15, false));
	assert_false(smtp_domain_valid("b\xc0\xbc"
				       "cher.example",
	    15, true));

	/* 255 octets ok, 256 not */
	for (size_t k = 0; k < 256; k++)
		buf[k] = (k % 50 == 49) ? '.' : 'a';
	assert_true(smtp_domain_valid(buf, 255, false));
	buf[255] = 'a';
	assert_false(smtp_domain_valid(buf, 256, false));
	/* only the given length counts */
	assert_true(smtp_domain_valid("example.com trailing", 11, false));
}

/* main - run the smtp_parse unit tests */
int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_cmd_every_verb),
	    cmocka_unit_test(test_cmd_helo_rest_of_line),
	    cmocka_unit_test(test_cmd_unknown),
	    cmocka_unit_test(test_cmd_nul),
	    cmocka_unit_test(test_cmd_mail_rcpt),
	    cmocka_unit_test(test_path_plain),
	    cmocka_unit_test(test_path_quoted),
	    cmocka_unit_test(test_local_unquote),
	    cmocka_unit_test(test_path_source_route),
	    cmocka_unit_test(test_path_null_postmaster),
	    cmocka_unit_test(test_path_literals),
	    cmocka_unit_test(test_path_lengths),
	    cmocka_unit_test(test_path_dots_and_domains),
	    cmocka_unit_test(test_path_not_enclosed),
	    cmocka_unit_test(test_path_utf8),
	    cmocka_unit_test(test_path_bad_utf8),
	    cmocka_unit_test(test_path_control_chars),
	    cmocka_unit_test(test_mail_size),
	    cmocka_unit_test(test_mail_body),
	    cmocka_unit_test(test_mail_smtputf8_ret_envid),
	    cmocka_unit_test(test_mail_auth),
	    cmocka_unit_test(test_mail_params_combined),
	    cmocka_unit_test(test_rcpt_notify),
	    cmocka_unit_test(test_rcpt_orcpt),
	    cmocka_unit_test(test_rcpt_other),
	    cmocka_unit_test(test_xtext_roundtrip),
	    cmocka_unit_test(test_xtext_errors),
	    cmocka_unit_test(test_domain_valid),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
