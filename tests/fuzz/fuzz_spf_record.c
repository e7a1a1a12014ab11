/*
 * fuzz_spf_record.c - libFuzzer target for the SPF record parser and the
 * evaluator (plugins/spf/spf_record.c, spf_macro.c, spf_eval.c and
 * plugins/common/dns_answer.c compiled in; the replay build links only
 * the daemon library). The input is a TXT record: it is parsed, and
 * evaluated with a synthetic resolver that answers every TXT question
 * with the input itself and every other question from the input's
 * octets (so include, redirect, mx and ptr recurse through hostile
 * data). Checked with abort():
 *   parse: 0 or -1 with a reason; on success every term points into
 *     the record's copy, CIDR lengths within 0..32 / 0..128, redirect
 *     and exp are valid domain-specs;
 *   selection: a parsed record starts with "v=spf1";
 *   evaluation: ends (SPF_DONE) within the query bound, with a result
 *     in range, an explanation only for fail, never more queries than
 *     the limits allow.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../../plugins/common/dns_answer.c"
#include "../../plugins/spf/spf_eval.c"
#include "../../plugins/spf/spf_macro.c"
#include "../../plugins/spf/spf_record.c"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(c)                 \
	do {                     \
		if (!(c))        \
			abort(); \
	} while (0)

static void
check_parse(const char *s, size_t n)
{
	struct spf_record r;
	char err[200] = "";
	int rc = spf_record_parse(s, n, &r, err, sizeof(err));

	CHECK(rc == 0 || rc == -1);
	if (rc != 0) {
		CHECK(err[0] != '\0');
		spf_record_free(&r);
		return;
	}
	CHECK(spf_record_is_spf1(s, n));
	for (size_t i = 0; i < r.nmech; i++) {
		const struct spf_mech *m = &r.mech[i];

		CHECK(m->term >= r.text && m->term + m->term_len <= r.text + n);
		CHECK(m->cidr4 >= 0 && m->cidr4 <= 32);
		CHECK(m->cidr6 >= 0 && m->cidr6 <= 128);
		if (m->spec != NULL)
			CHECK(spf_domain_spec_ok(m->spec, m->spec_len));
		if (m->kind == SPF_MECH_ALL)
			CHECK(r.has_all);
	}
	if (r.redirect != NULL)
		CHECK(spf_domain_spec_ok(r.redirect, r.redirect_len));
	if (r.exp != NULL)
		CHECK(spf_domain_spec_ok(r.exp, r.exp_len));
	spf_record_free(&r);
}

static void
evaluate(const uint8_t *data, size_t size)
{
	static const unsigned char ip4[4] = {192, 0, 2, 1};
	struct spf_eval_opts o = {"receiver.example", "default", 1};
	struct spf_eval *ev =
	    spf_eval_new(AF_INET, ip4, "user@example.org", "helo.example", &o);
	struct spf_query q;
	unsigned steps = 0;
	size_t pos = 0;

	if (ev == NULL)
		return;
	while (spf_eval_step(ev, &q) == SPF_NEED_DNS) {
		struct dns_answer a;
		struct da_rr rr[3];
		uint8_t pick = size ? data[pos++ % size] : 0;
		char *txt = malloc(size + 1);

		CHECK(++steps <= QUERIES_MAX + 1);
		CHECK(txt != NULL);
		memcpy(txt, data, size);
		txt[size] = '\0';
		memset(&a, 0, sizeof(a));
		memset(rr, 0, sizeof(rr));
		a.qtype = q.type;
		a.status = (enum da_status)(pick % 4);
		a.rr = rr;
		if (a.status == DA_OK) {
			a.n = 1 + (pick >> 6) % 3;
			for (size_t i = 0; i < a.n; i++) {
				rr[i].text = q.type == DA_T_TXT ? txt
					     : (pick & 8)       ? "a.example"
								: "192.0.2.1";
				rr[i].len = strlen(rr[i].text);
				if (q.type == DA_T_TXT)
					rr[i].len = size;
				rr[i].addr[0] = 192;
				rr[i].addr[2] = 2;
				rr[i].addr[3] = (unsigned char)(pick & 3);
			}
		}
		spf_eval_answer(ev, &a);
		free(txt);
	}
	CHECK(spf_eval_result(ev) <= SPF_PERMERROR);
	if (spf_eval_result(ev) != SPF_FAIL)
		CHECK(spf_eval_explanation(ev)[0] == '\0');
	CHECK(spf_eval_queries(ev) <= QUERIES_MAX + 1);
	spf_eval_free(ev);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size > 4096)
		return 0;
	check_parse((const char *)data, size);
	evaluate(data, size);
	return 0;
}
