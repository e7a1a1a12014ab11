/*
 * test_dmarc_record.c - the DMARC record parser of
 * plugins/dmarc/dmarc_record.c (compiled into this test): version
 * recognition, valid records with every tag, defaults, a missing or
 * misplaced p=, bad p=/sp= with and without a valid rua= (RFC 7489
 * section 6.6.3 step 6), pct= bounds, bad values of the other tags
 * falling back to defaults, white space and case, unknown and duplicate
 * tags, report URIs. Not here: the decision and the From parser
 * (test_dmarc_eval.c), the plugin (test_plugin_dmarc.c).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "../../plugins/dmarc/dmarc_record.c"

static enum dmarc_rec_status
parse(const char *s, struct dmarc_record *r)
{
	const char *why;

	return dmarc_record_parse(s, strlen(s), r, &why);
}

static void
t_is_dmarc(void **state)
{
	(void)state;
	assert_true(dmarc_record_is_dmarc("v=DMARC1", 8));
	assert_true(dmarc_record_is_dmarc("v=DMARC1; p=none", 16));
	assert_true(dmarc_record_is_dmarc(" V = DMARC1 ;p=none", 19));
	assert_true(dmarc_record_is_dmarc("v=DMARC1\t", 9));
	assert_false(dmarc_record_is_dmarc("v=dmarc1; p=none", 16));
	assert_false(dmarc_record_is_dmarc("v=DMARC10; p=none", 17));
	assert_false(dmarc_record_is_dmarc("v=DMARC", 7));
	assert_false(dmarc_record_is_dmarc("p=none; v=DMARC1", 16));
	assert_false(dmarc_record_is_dmarc("v=spf1 -all", 11));
	assert_false(dmarc_record_is_dmarc("", 0));
	assert_false(dmarc_record_is_dmarc("xv=DMARC1", 9));
}

static void
t_valid_full(void **state)
{
	struct dmarc_record r;

	(void)state;
	assert_int_equal(parse("v=DMARC1; p=reject; sp=quarantine; pct=42; "
			       "adkim=s; aspf=s; fo=1:d:s; rf=afrf; "
			       "ri=3600; rua=mailto:a@example.org,"
			       "mailto:b@example.org!10m; "
			       "ruf=mailto:f@example.org",
			     &r),
	    DMARC_REC_OK);
	assert_int_equal(r.p, DMARC_P_REJECT);
	assert_int_equal(r.sp, DMARC_P_QUARANTINE);
	assert_true(r.has_sp);
	assert_int_equal(r.pct, 42);
	assert_true(r.adkim_strict);
	assert_true(r.aspf_strict);
	assert_int_equal(r.fo, DMARC_FO_1 | DMARC_FO_D | DMARC_FO_S);
	assert_true(r.rf_afrf);
	assert_int_equal(r.ri, 3600);
	assert_int_equal(r.nrua, 2);
	assert_int_equal(r.nruf, 1);
	assert_int_equal(r.bad_tags, 0);
	assert_false(r.p_defaulted);
}

static void
t_defaults(void **state)
{
	struct dmarc_record r;

	(void)state;
	assert_int_equal(parse("v=DMARC1; p=quarantine", &r), DMARC_REC_OK);
	assert_int_equal(r.p, DMARC_P_QUARANTINE);
	assert_int_equal(r.sp, DMARC_P_QUARANTINE); /* sp defaults to p */
	assert_false(r.has_sp);
	assert_int_equal(r.pct, 100);
	assert_false(r.adkim_strict);
	assert_false(r.aspf_strict);
	assert_int_equal(r.fo, DMARC_FO_0);
	assert_true(r.rf_afrf);
	assert_int_equal(r.ri, 86400);
	assert_int_equal(r.nrua, 0);
	/* a final ';' and empty tags are fine */
	assert_int_equal(parse("v=DMARC1;p=none;", &r), DMARC_REC_OK);
	assert_int_equal(r.p, DMARC_P_NONE);
	assert_int_equal(parse("v=DMARC1;; p=reject ;;", &r), DMARC_REC_OK);
	assert_int_equal(r.p, DMARC_P_REJECT);
}

static void
t_missing_p(void **state)
{
	struct dmarc_record r;
	const char *why = NULL;
	const char *s = "v=DMARC1; sp=reject";

	(void)state;
	assert_int_equal(
	    dmarc_record_parse(s, strlen(s), &r, &why), DMARC_REC_INVALID);
	assert_non_null(why);
	assert_int_equal(parse("v=DMARC1", &r), DMARC_REC_INVALID);
	assert_int_equal(parse("v=DMARC1;", &r), DMARC_REC_INVALID);
	/* p= not right after v= */
	assert_int_equal(
	    parse("v=DMARC1; pct=50; p=reject", &r), DMARC_REC_INVALID);
	/* ... but with a valid rua=, as if p=none (6.6.3 step 6) */
	assert_int_equal(
	    parse("v=DMARC1; rua=mailto:d@example.org; p=reject", &r),
	    DMARC_REC_OK);
	assert_int_equal(r.p, DMARC_P_NONE);
	assert_int_equal(r.sp, DMARC_P_NONE);
	assert_true(r.p_defaulted);
}

static void
t_bad_p_sp(void **state)
{
	struct dmarc_record r;

	(void)state;
	assert_int_equal(parse("v=DMARC1; p=rejected", &r), DMARC_REC_INVALID);
	assert_int_equal(parse("v=DMARC1; p=", &r), DMARC_REC_INVALID);
	assert_int_equal(
	    parse("v=DMARC1; p=reject; sp=bogus", &r), DMARC_REC_INVALID);
	assert_int_equal(
	    parse("v=DMARC1; p=bogus; rua=mailto:x@example.org", &r),
	    DMARC_REC_OK);
	assert_int_equal(r.p, DMARC_P_NONE);
	assert_true(r.p_defaulted);
	assert_int_equal(
	    parse("v=DMARC1; p=reject; sp=x; rua=mailto:x@example.org", &r),
	    DMARC_REC_OK);
	assert_int_equal(r.p, DMARC_P_NONE);
	assert_int_equal(r.sp, DMARC_P_NONE);
	/* an invalid rua does not save it */
	assert_int_equal(
	    parse("v=DMARC1; p=bogus; rua=not a uri", &r), DMARC_REC_INVALID);
	assert_int_equal(
	    parse("v=DMARC1; p=bogus; rua=mailto:", &r), DMARC_REC_INVALID);
}

static void
t_pct(void **state)
{
	struct dmarc_record r;

	(void)state;
	assert_int_equal(parse("v=DMARC1; p=reject; pct=0", &r), DMARC_REC_OK);
	assert_int_equal(r.pct, 0);
	assert_int_equal(
	    parse("v=DMARC1; p=reject; pct=100", &r), DMARC_REC_OK);
	assert_int_equal(r.pct, 100);
	assert_int_equal(
	    parse("v=DMARC1; p=reject; pct=050", &r), DMARC_REC_OK);
	assert_int_equal(r.pct, 50);
	static const char *const bad[] = {"101", "-1", "1000", "", "5x", "0x10",
	    "99999999999999999999", " 5 0", NULL};
	for (size_t i = 0; bad[i] != NULL; i++) {
		char rec[100];

		snprintf(
		    rec, sizeof(rec), "v=DMARC1; p=reject; pct=%s", bad[i]);
		assert_int_equal(parse(rec, &r), DMARC_REC_OK);
		assert_int_equal(r.pct, 100); /* default */
		assert_int_equal(r.p, DMARC_P_REJECT);
		assert_int_equal(r.bad_tags, 1);
	}
}

static void
t_bad_other_values(void **state)
{
	struct dmarc_record r;

	(void)state;
	assert_int_equal(parse("v=DMARC1; p=reject; adkim=x; aspf=strict; "
			       "fo=2; rf=afrf:; ri=-5",
			     &r),
	    DMARC_REC_OK);
	assert_false(r.adkim_strict);
	assert_false(r.aspf_strict);
	assert_int_equal(r.fo, DMARC_FO_0);
	assert_true(r.rf_afrf);
	assert_int_equal(r.ri, 86400);
	assert_int_equal(r.bad_tags, 5);
	assert_int_equal(r.p, DMARC_P_REJECT);
	/* a tag without '=' or with a bad name is skipped */
	assert_int_equal(
	    parse("v=DMARC1; p=reject; junk; 9x=1", &r), DMARC_REC_OK);
	assert_int_equal(r.bad_tags, 2);
	/* rf= of another format only */
	assert_int_equal(parse("v=DMARC1; p=none; rf=iodef", &r), DMARC_REC_OK);
	assert_false(r.rf_afrf);
	/* ri= at the top of its range and over it */
	assert_int_equal(
	    parse("v=DMARC1; p=none; ri=4294967295", &r), DMARC_REC_OK);
	assert_int_equal(r.ri, 4294967295ul);
	assert_int_equal(
	    parse("v=DMARC1; p=none; ri=4294967296", &r), DMARC_REC_OK);
	assert_int_equal(r.ri, 86400);
	/* a control character in a value */
	assert_int_equal(
	    parse("v=DMARC1; p=none; adkim=\001", &r), DMARC_REC_OK);
	assert_int_equal(r.bad_tags, 1);
}

static void
t_whitespace_case(void **state)
{
	struct dmarc_record r;

	(void)state;
	assert_int_equal(parse("  v = DMARC1 ;\t P = Reject ; SP=NONE ;"
			       " ADKIM = S ; Aspf=R ; PCT = 20 ; FO = D : 1",
			     &r),
	    DMARC_REC_OK);
	assert_int_equal(r.p, DMARC_P_REJECT);
	assert_int_equal(r.sp, DMARC_P_NONE);
	assert_true(r.adkim_strict);
	assert_false(r.aspf_strict);
	assert_int_equal(r.pct, 20);
	assert_int_equal(r.fo, DMARC_FO_D | DMARC_FO_1);
	assert_int_equal(parse("v=DMARC1;\r\n p=quarantine", &r), DMARC_REC_OK);
	assert_int_equal(r.p, DMARC_P_QUARANTINE);
	/* the version value is case-sensitive (%x in the ABNF) */
	assert_int_equal(parse("v=Dmarc1; p=reject", &r), DMARC_REC_NOT_DMARC);
	/* a space inside a keyword is not that keyword */
	assert_int_equal(parse("v=DMARC1; p=re ject", &r), DMARC_REC_INVALID);
}

static void
t_unknown_duplicate(void **state)
{
	struct dmarc_record r;

	(void)state;
	assert_int_equal(
	    parse("v=DMARC1; p=reject; np=reject; psd=n; t=y; x_y=z", &r),
	    DMARC_REC_OK);
	assert_int_equal(r.bad_tags, 0);
	assert_int_equal(
	    parse("v=DMARC1; p=reject; p=none", &r), DMARC_REC_INVALID);
	assert_int_equal(
	    parse("v=DMARC1; p=reject; pct=5; PCT=6", &r), DMARC_REC_INVALID);
	assert_int_equal(
	    parse("v=DMARC1; v=DMARC1; p=reject", &r), DMARC_REC_INVALID);
}

static void
t_uris(void **state)
{
	struct dmarc_record r;

	(void)state;
	assert_int_equal(parse("v=DMARC1; p=none; rua=mailto:a@x.example , "
			       "https://r.example/x!5, mailto:c@x.example!20k, "
			       "bad, :x, mailto:d@x!, mailto:e@x!5q",
			     &r),
	    DMARC_REC_OK);
	assert_int_equal(r.nrua, 3);
	assert_int_equal(r.bad_tags, 1);
	assert_int_equal(parse("v=DMARC1; p=none; ruf=", &r), DMARC_REC_OK);
	assert_int_equal(r.nruf, 0);
}

static void
t_not_dmarc_and_long(void **state)
{
	struct dmarc_record r;
	char big[DMARC_RECORD_MAX + 64];

	(void)state;
	assert_int_equal(parse("v=spf1 -all", &r), DMARC_REC_NOT_DMARC);
	assert_int_equal(parse("", &r), DMARC_REC_NOT_DMARC);
	snprintf(big, sizeof(big), "v=DMARC1; p=reject; x=");
	memset(big + strlen(big), 'a', sizeof(big) - strlen(big) - 1);
	big[sizeof(big) - 1] = '\0';
	assert_int_equal(parse(big, &r), DMARC_REC_INVALID);
	/* a NUL octet inside the record (TXT strings may hold one) */
	assert_int_equal(
	    dmarc_record_parse("v=DMARC1; p=reject\0; sp=none", 28, &r, NULL),
	    DMARC_REC_INVALID);
	assert_string_equal(dmarc_policy_str(DMARC_P_QUARANTINE), "quarantine");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(t_is_dmarc),
	    cmocka_unit_test(t_valid_full),
	    cmocka_unit_test(t_defaults),
	    cmocka_unit_test(t_missing_p),
	    cmocka_unit_test(t_bad_p_sp),
	    cmocka_unit_test(t_pct),
	    cmocka_unit_test(t_bad_other_values),
	    cmocka_unit_test(t_whitespace_case),
	    cmocka_unit_test(t_unknown_duplicate),
	    cmocka_unit_test(t_uris),
	    cmocka_unit_test(t_not_dmarc_and_long),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
