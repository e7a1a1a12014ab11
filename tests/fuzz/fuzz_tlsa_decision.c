/*
 * fuzz_tlsa_decision.c - libFuzzer target for the DANE decision
 * (dns/dns_tlsa.c) over synthetic TLSA answers built from the input.
 * Invariants: DANE only with a secure MX path, a secure NOERROR answer
 * and at least one usable record (every index listed is usable and in
 * range); a bogus answer on a secure path never yields MAY or DANE;
 * ENCRYPT (RFC 7672 §2.2) exactly when the path and the answer are secure,
 * NOERROR, with records, none of them usable; the reason is always set.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "dns_tlsa.h"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct dns_tlsa_rr rrs[20];
	struct dns_result res;
	struct dns_tlsa_decision d;
	bool mx_secure;
	size_t n = 0, off = 3;

	if (size < 3)
		return 0;
	memset(&res, 0, sizeof(res));
	mx_secure = data[0] & 1;
	res.sec = (enum dns_sec)(data[1] % 3);
	res.rcode = data[2] % 6;
	res.nxdomain = res.rcode == DNS_RCODE_NXDOMAIN;
	while (off + 4 <= size && n < 20) {
		size_t len = data[off + 3];
		rrs[n].usage = data[off];
		rrs[n].selector = data[off + 1];
		rrs[n].mtype = data[off + 2];
		off += 4;
		if (len > size - off)
			len = size - off;
		rrs[n].len = len;
		rrs[n].data = data + off;
		off += len;
		n++;
	}
	res.ntlsa = n;
	res.tlsa = rrs;
	dns_tlsa_decide(mx_secure, (data[0] & 2) ? NULL : &res, &d);
	if (d.policy == DNS_TLSA_DANE) {
		if (!mx_secure || (data[0] & 2) || res.sec != DNS_SECURE ||
		    res.rcode != DNS_RCODE_NOERROR || d.nusable == 0)
			abort();
		for (size_t i = 0; i < d.nusable; i++)
			if (d.usable[i] >= n ||
			    !dns_tlsa_usable(&rrs[d.usable[i]]))
				abort();
	}
	if (mx_secure && !(data[0] & 2) && res.sec == DNS_BOGUS &&
	    d.policy != DNS_TLSA_DEFER)
		abort();
	{
		bool any_usable = false, want_encrypt;

		for (size_t i = 0; i < n; i++)
			if (dns_tlsa_usable(&rrs[i]))
				any_usable = true;
		want_encrypt =
		    mx_secure && !(data[0] & 2) && res.sec == DNS_SECURE &&
		    res.rcode == DNS_RCODE_NOERROR && n > 0 && !any_usable;
		if ((d.policy == DNS_TLSA_ENCRYPT) != want_encrypt)
			abort();
		if (d.policy == DNS_TLSA_ENCRYPT && d.nusable != 0)
			abort();
		if (d.policy == DNS_TLSA_DANE && !any_usable)
			abort();
	}
	if (d.reason == NULL || d.reason[0] == '\0')
		abort();
	return 0;
}
