/*
 * fuzz_dane_match.c - libFuzzer target for DANE certificate matching
 * (dns/dns_dane.c). The input is split into fields:
 *   byte 0: flags: bits 0-1 how many of the fixed reference names, bit 2
 *           "now" in 2000 instead of 2030, bit 3 the tail is a name too
 *   byte 1: number of records (mod 19, so past DANE_MAX_RRS)
 *   byte 2: number of certificates (mod 12, so past DANE_MAX_DEPTH)
 *   records: usage, selector, mtype, src; src 0xff: raw data follows
 *           (1 length byte + bytes), else the data is dane_digest() of
 *           certificate src % n (so mutated certificates still meet
 *           records that match them)
 *   certificates: 2-byte big-endian length + bytes (cut at the end)
 *   tail: a reference name (bit 3)
 * Seeds in tests/fuzz/corpus/fuzz_dane_match/ are the fixture chains of
 * tests/fixtures/dane/ in this layout.
 * Invariants: the result is 0 or 1 and the same on a second call, the
 * reason is set; a match names a usable record in range whose usage is
 * 2 or 3, at a depth inside the chain (0 for DANE-EE), and the record's
 * data is what dane_digest() gives for the certificate at that depth.
 * What is not here: the TLSA decision (fuzz_tlsa_decision.c).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "dns_dane.h"
#include "dns_tlsa.h"

#define MAXR 18
#define MAXC 11

/* Owned here: derived record data (static: too large for the stack). */
static unsigned char derived[MAXR][DANE_MAX_CERT];

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char *const fixed[] = {
	    "mx.example.org", "MAIL.example.org.", "sub.example.org"};
	struct dns_tlsa_rr rr[MAXR];
	const struct dns_tlsa_rr *rrs[MAXR];
	int src[MAXR] = {0};
	const unsigned char *der[MAXC];
	size_t len[MAXC], nr, nc, off = 3, got_r = 0, got_c = 0, nn = 0;
	const char *names[4];
	char tail[300];
	struct dane_result a, b;
	time_t now;
	int ra, rb;

	if (size < 3)
		return 0;
	nr = data[1] % 19;
	nc = data[2] % 12;
	now = (data[0] & 4) ? (time_t)946684800 : (time_t)1900000000;
	for (; got_r < nr && off + 4 <= size; got_r++) {
		rr[got_r].usage = data[off];
		rr[got_r].selector = data[off + 1];
		rr[got_r].mtype = data[off + 2];
		src[got_r] = data[off + 3] == 0xff ? -1 : data[off + 3];
		off += 4;
		rr[got_r].data = NULL;
		rr[got_r].len = 0;
		if (src[got_r] < 0 && off < size) {
			size_t l = data[off++];

			if (l > size - off)
				l = size - off;
			rr[got_r].data = data + off;
			rr[got_r].len = l;
			off += l;
		}
		rrs[got_r] = &rr[got_r];
	}
	for (; got_c < nc && off + 2 <= size; got_c++) {
		size_t l = (size_t)data[off] << 8 | data[off + 1];

		off += 2;
		if (l > size - off)
			l = size - off;
		der[got_c] = data + off;
		len[got_c] = l;
		off += l;
	}
	for (size_t i = 0; i < got_r; i++) {
		size_t n = DANE_MAX_CERT;

		if (src[i] < 0 || got_c == 0)
			continue;
		if (dane_digest(der[src[i] % (int)got_c],
			len[src[i] % (int)got_c], rr[i].selector, rr[i].mtype,
			derived[i], &n) == 0) {
			rr[i].data = derived[i];
			rr[i].len = n;
		}
	}
	for (size_t i = 0; i < (size_t)(data[0] & 3); i++)
		names[nn++] = fixed[i];
	if ((data[0] & 8) && off < size) {
		size_t l = size - off < sizeof(tail) - 1 ? size - off
							 : sizeof(tail) - 1;

		memcpy(tail, data + off, l);
		tail[l] = '\0';
		names[nn++] = tail;
	}
	ra = dane_match(rrs, got_r, der, len, got_c, names, nn, now, &a);
	rb = dane_match(rrs, got_r, der, len, got_c, names, nn, now, &b);
	if ((ra != 0 && ra != 1) || ra != rb || a.reason[0] == '\0' ||
	    memcmp(&a, &b, sizeof(a)) != 0)
		abort();
	if (ra == 1) {
		unsigned char h[DANE_MAX_CERT];
		size_t n = sizeof(h);
		const struct dns_tlsa_rr *m;

		if (a.record < 0 || (size_t)a.record >= got_r || a.depth < 0 ||
		    (size_t)a.depth >= got_c)
			abort();
		m = rrs[a.record];
		if (!dns_tlsa_usable(m) || (m->usage != 2 && m->usage != 3) ||
		    (m->usage == 3 && a.depth != 0) || a.usage != m->usage ||
		    a.selector != m->selector || a.mtype != m->mtype)
			abort();
		if (dane_digest(der[a.depth], len[a.depth], m->selector,
			m->mtype, h, &n) != 0 ||
		    n != m->len || memcmp(h, m->data, n) != 0)
			abort();
		if (got_r > DANE_MAX_RRS || got_c > DANE_MAX_DEPTH)
			abort();
	}
	return 0;
}
