/*
 * fuzz_dmarc_record.c - libFuzzer target for the DMARC record parser of
 * plugins/dmarc/dmarc_record.c and the From parser of
 * plugins/dmarc/dmarc_from.c (both compiled in: the replay build links
 * only the daemon library). The first input octet picks the parser (even:
 * record, odd: From field body); the rest is the input. Not here: the
 * decision (needs the PSL; covered by tests/unit/test_dmarc_eval.c).
 * Checked with abort():
 *   record: NOT_DMARC exactly when dmarc_record_is_dmarc() is false; an
 *     OK record has pct 0..100, p/sp in range, sp = p without sp=, fo
 *     non-empty; INVALID and NOT_DMARC leave the defaults (p=none,
 *     pct=100); parsing is deterministic; the same record with a "; "
 *     and an unknown tag appended parses to the same values;
 *   From: an OK domain is 1..253 octets, lower case, a valid name
 *     (dmarc_domain_normalise of it gives itself) and the address count
 *     is 1; MULTIPLE has a count above 1; any other status leaves the
 *     output empty.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../../plugins/dmarc/dmarc_from.c"
#include "../../plugins/dmarc/dmarc_record.c"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(c)                 \
	do {                     \
		if (!(c))        \
			abort(); \
	} while (0)

static bool
same_values(const struct dmarc_record *a, const struct dmarc_record *b)
{
	return a->p == b->p && a->sp == b->sp && a->has_sp == b->has_sp &&
	       a->pct == b->pct && a->adkim_strict == b->adkim_strict &&
	       a->aspf_strict == b->aspf_strict && a->fo == b->fo &&
	       a->rf_afrf == b->rf_afrf && a->ri == b->ri &&
	       a->nrua == b->nrua && a->nruf == b->nruf &&
	       a->p_defaulted == b->p_defaulted;
}

static void
fuzz_record(const char *s, size_t n)
{
	struct dmarc_record r, r2;
	const char *why = NULL;
	enum dmarc_rec_status st = dmarc_record_parse(s, n, &r, &why);

	CHECK((st == DMARC_REC_NOT_DMARC) == !dmarc_record_is_dmarc(s, n));
	CHECK(dmarc_record_parse(s, n, &r2, NULL) == st);
	CHECK(same_values(&r, &r2));
	if (st != DMARC_REC_OK) {
		CHECK(r.p == DMARC_P_NONE && r.sp == DMARC_P_NONE);
		CHECK(st == DMARC_REC_NOT_DMARC || why != NULL);
		return;
	}
	CHECK(r.pct <= 100);
	CHECK(r.p <= DMARC_P_REJECT && r.sp <= DMARC_P_REJECT);
	CHECK(r.has_sp || r.sp == r.p);
	CHECK(r.fo != 0 && (r.fo & ~0xfu) == 0);
	CHECK(!r.p_defaulted || (r.p == DMARC_P_NONE && r.nrua > 0));
	/* an unknown tag at the end changes nothing (if it fits) */
	if (n + 16 <= DMARC_RECORD_MAX) {
		char *ext = malloc(n + 16);

		CHECK(ext != NULL);
		memcpy(ext, s, n);
		memcpy(ext + n, "; zz=1", 6);
		if (dmarc_record_parse(ext, n + 6, &r2, NULL) == DMARC_REC_OK)
			CHECK(same_values(&r, &r2));
		free(ext);
	}
}

static void
fuzz_from(const char *s, size_t n)
{
	char out[DMARC_DOMAIN_MAX + 1], again[DMARC_DOMAIN_MAX + 1];
	size_t count = 0;
	enum dmarc_from_status st = dmarc_from_domain(s, n, out, &count);

	CHECK(strlen(dmarc_from_status_str(st)) > 0);
	if (st == DMARC_FROM_OK) {
		size_t len = strlen(out);

		CHECK(count == 1);
		CHECK(len >= 1 && len <= DMARC_DOMAIN_MAX);
		CHECK(dmarc_domain_normalise(out, len, again) == 0);
		CHECK(strcmp(out, again) == 0);
		for (size_t i = 0; i < len; i++)
			CHECK(!(out[i] >= 'A' && out[i] <= 'Z'));
		return;
	}
	CHECK(out[0] == '\0');
	if (st == DMARC_FROM_MULTIPLE)
		CHECK(count > 1);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size == 0)
		return 0;
	if (data[0] & 1)
		fuzz_from((const char *)data + 1, size - 1);
	else
		fuzz_record((const char *)data + 1, size - 1);
	return 0;
}
