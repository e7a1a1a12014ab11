/*
 * dns_answer.c - typed records out of a wire-format DNS response, parsed
 * with ldns (see dns_answer.h). Pure code; nothing here does I/O.
 */
#include "dns_answer.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include <ldns/ldns.h>

/* Upper bound on the records kept from one answer (hostile servers). */
#define DA_MAX_RR 512

static void
set_temp(struct dns_answer *out)
{
	out->status = DA_TEMP;
	out->n = 0;
}

/* A name rdf to lower case without the trailing dot; -1 if unusable. */
static int
name_text(const ldns_rdf *rdf, struct da_rr *rr)
{
	char *s = ldns_rdf2str(rdf);
	size_t n;

	if (s == NULL)
		return -1;
	n = strlen(s);
	if (n > 1 && s[n - 1] == '.')
		s[--n] = '\0';
	if (n == 0 || n > DA_NAME_MAX) {
		free(s);
		return -1;
	}
	for (size_t i = 0; i < n; i++)
		s[i] = (char)tolower((unsigned char)s[i]);
	rr->text = s;
	rr->len = n;
	return 0;
}

/* TXT: every character-string joined; 0, -1 malformed, -2 no memory. */
static int
txt_text(const ldns_rr *r, struct da_rr *rr)
{
	size_t total = 0, nf = ldns_rr_rd_count(r);
	char *p;

	for (size_t i = 0; i < nf; i++) {
		const ldns_rdf *f = ldns_rr_rdf(r, i);
		if (ldns_rdf_get_type(f) != LDNS_RDF_TYPE_STR ||
		    ldns_rdf_size(f) < 1)
			return -1;
		total += ldns_rdf_size(f) - 1;
	}
	if ((p = malloc(total + 1)) == NULL)
		return -2;
	rr->text = p;
	rr->len = total;
	for (size_t i = 0; i < nf; i++) {
		const ldns_rdf *f = ldns_rr_rdf(r, i);
		const uint8_t *d = ldns_rdf_data(f);
		size_t sl = d[0];
		if (sl > ldns_rdf_size(f) - 1)
			sl = ldns_rdf_size(f) - 1;
		memcpy(p, d + 1, sl);
		p += sl;
	}
	*p = '\0';
	rr->len = (size_t)(p - rr->text);
	return 0;
}

/* One record of qtype into rr; 0 ok, -1 malformed (skipped), -2 ENOMEM. */
static int
parse_rr(const ldns_rr *r, uint16_t qtype, struct da_rr *rr)
{
	const ldns_rdf *f;

	memset(rr, 0, sizeof(*rr));
	switch (qtype) {
	case DA_T_A:
		f = ldns_rr_rdf(r, 0);
		if (f == NULL || ldns_rdf_size(f) != 4)
			return -1;
		memcpy(rr->addr, ldns_rdf_data(f), 4);
		return 0;
	case DA_T_AAAA:
		f = ldns_rr_rdf(r, 0);
		if (f == NULL || ldns_rdf_size(f) != 16)
			return -1;
		memcpy(rr->addr, ldns_rdf_data(f), 16);
		return 0;
	case DA_T_MX: {
		const ldns_rdf *pref = ldns_rr_rdf(r, 0);
		f = ldns_rr_rdf(r, 1);
		if (pref == NULL || f == NULL || ldns_rdf_size(pref) != 2)
			return -1;
		rr->pref = ldns_rdf2native_int16(pref);
		return name_text(f, rr);
	}
	case DA_T_PTR:
	case DA_T_CNAME:
		f = ldns_rr_rdf(r, 0);
		if (f == NULL)
			return -1;
		return name_text(f, rr);
	case DA_T_TXT:
		return txt_text(r, rr);
	default:
		return -1;
	}
}

/* dns_answer_parse - typed records of qtype from a response message */
int
dns_answer_parse(struct dns_answer *out, uint16_t qtype, int rcode, int secure,
    const void *pkt, size_t len)
{
	ldns_pkt *p = NULL;
	ldns_rr_list *an;
	size_t cnt;
	int ret = 0;

	memset(out, 0, sizeof(*out));
	out->rcode = rcode;
	out->secure = secure;
	out->qtype = qtype;
	if (secure < 0 ||
	    (rcode != LDNS_RCODE_NOERROR && rcode != LDNS_RCODE_NXDOMAIN)) {
		set_temp(out);
		return 0;
	}
	if (pkt == NULL || len == 0) {
		/* An answer without a message: only a name error can be
		 * told apart from a failure. */
		if (rcode == LDNS_RCODE_NXDOMAIN)
			out->status = DA_NXDOMAIN;
		else
			set_temp(out);
		return 0;
	}
	if (ldns_wire2pkt(&p, pkt, len) != LDNS_STATUS_OK || p == NULL) {
		set_temp(out);
		return -1;
	}
	if (ldns_pkt_get_rcode(p) == LDNS_RCODE_NXDOMAIN ||
	    rcode == LDNS_RCODE_NXDOMAIN) {
		/* NXDOMAIN at the end of a CNAME chain still is one. */
		out->status = DA_NXDOMAIN;
		ldns_pkt_free(p);
		return 0;
	}
	an = ldns_pkt_answer(p);
	cnt = an ? ldns_rr_list_rr_count(an) : 0;
	if (cnt > DA_MAX_RR)
		cnt = DA_MAX_RR;
	if (cnt > 0 && (out->rr = calloc(cnt, sizeof(*out->rr))) == NULL) {
		ldns_pkt_free(p);
		set_temp(out);
		return -1;
	}
	for (size_t i = 0; i < cnt; i++) {
		const ldns_rr *r = ldns_rr_list_rr(an, i);
		int rc;

		if (ldns_rr_get_type(r) != qtype ||
		    ldns_rr_get_class(r) != LDNS_RR_CLASS_IN)
			continue;
		rc = parse_rr(r, qtype, &out->rr[out->n]);
		if (rc == -2) {
			ret = -1;
			break;
		}
		if (rc == 0)
			out->n++;
	}
	ldns_pkt_free(p);
	if (ret != 0) {
		dns_answer_free(out);
		out->rcode = rcode;
		out->secure = secure;
		out->qtype = qtype;
		set_temp(out);
		return -1;
	}
	out->status = out->n > 0 ? DA_OK : DA_NODATA;
	return 0;
}

/* dns_answer_free - release the records */
void
dns_answer_free(struct dns_answer *a)
{
	if (a == NULL)
		return;
	for (size_t i = 0; i < a->n; i++)
		free(a->rr[i].text);
	free(a->rr);
	memset(a, 0, sizeof(*a));
}

/* dns_answer_status_str - short name of a status */
const char *
dns_answer_status_str(enum da_status s)
{
	switch (s) {
	case DA_OK:
		return "ok";
	case DA_NODATA:
		return "nodata";
	case DA_NXDOMAIN:
		return "nxdomain";
	case DA_TEMP:
		break;
	}
	return "temp";
}

/* dns_answer_reverse_name - in-addr.arpa / ip6.arpa name of an address */
int
dns_answer_reverse_name(
    int family, const unsigned char *addr, char *out, size_t outlen)
{
	static const char hex[] = "0123456789abcdef";
	size_t o = 0;

	if (family == AF_INET) {
		int n = snprintf(out, outlen, "%u.%u.%u.%u.in-addr.arpa",
		    addr[3], addr[2], addr[1], addr[0]);
		return n > 0 && (size_t)n < outlen ? 0 : -1;
	}
	if (family != AF_INET6 || outlen < 16 * 4 + sizeof("ip6.arpa"))
		return -1;
	for (int i = 15; i >= 0; i--) {
		out[o++] = hex[addr[i] & 0xf];
		out[o++] = '.';
		out[o++] = hex[addr[i] >> 4];
		out[o++] = '.';
	}
	memcpy(out + o, "ip6.arpa", sizeof("ip6.arpa"));
	return 0;
}
