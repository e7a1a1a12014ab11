/*
 * dns_dane.h - DANE certificate matching for SMTP (RFC 7672 §3, RFC 7671,
 * RFC 6698): does the certificate chain a peer sent in a TLS handshake
 * match the usable TLSA records of its MX host? Plus dane_digest(), which
 * computes what a TLSA record would hold for a certificate.
 *
 * What lives here: pure functions (no I/O, no globals but wolfCrypt's
 * one-time init, any thread). What does not: the TLSA lookup and the
 * policy decision (dns_tlsa.h), the TLS handshake and where these are
 * called from (core/outbound.c), and logging (the caller logs
 * dane_result.reason).
 *
 * How to wire it (client side, after a completed handshake):
 *   1. dns_tlsa_decide() gave DNS_TLSA_DANE with d.usable[] indexes into
 *      res->tlsa; build `const struct dns_tlsa_rr *rrs[16]` from them
 *      (copy the records out of the resolver's result first: it is only
 *      valid inside the callback; see dns_resolver.h).
 *   2. Run the handshake with wolfSSL's own verification off or
 *      overridden (WOLFSSL_VERIFY_NONE, or a verify callback that
 *      accepts): DANE replaces PKIX, and a DANE-EE certificate is often
 *      self-signed. The handshake itself proves the peer holds the key
 *      of the leaf certificate, which is what makes a DANE-EE match mean
 *      something: only pass a chain from a completed handshake.
 *   3. Collect the chain as sent, leaf first:
 *        WOLFSSL_X509_CHAIN *ch = wolfSSL_get_peer_chain(ssl);
 *        n = wolfSSL_get_chain_count(ch);
 *        der[i] = wolfSSL_get_chain_cert(ch, i);
 *        len[i] = wolfSSL_get_chain_length(ch, i);
 *      (SESSION_CERTS is on in Debian's wolfSSL 5.5.4.)
 *   4. names: the reference identifiers of RFC 7672 §3.2.2: the TLSA
 *      base domain (the MX host name after CNAME expansion when the
 *      expanded name's TLSA records were used, else the MX host name),
 *      and optionally the MX host name as well and the next-hop domain.
 *      Lower or upper case, with or without a trailing dot.
 *   5. dane_match(...) == 1: authenticated; 0: not, so the delivery to
 *      this MX host fails authentication (RFC 7672 §2.2: try the next MX
 *      or defer; never fall back to plaintext). Log out.reason either
 *      way.
 *
 * Rules applied (each is tested in tests/unit/test_dns_dane.c):
 *   - Only usable records count (dns_tlsa_usable(): usages DANE-TA(2)
 *     and DANE-EE(3), selector 0/1, matching type 0/1/2 with the right
 *     length); PKIX-TA(0)/PKIX-EE(1) and unknown parameters are skipped
 *     (RFC 7672 §3.1.3).
 *   - DANE-EE(3): the leaf only (depth 0); selector 0 = the whole
 *     certificate DER, 1 = its SubjectPublicKeyInfo DER; matching type
 *     0 exact, 1 SHA-256, 2 SHA-512. Names, validity dates, the issuer
 *     and the rest of the chain are ignored (RFC 7672 §3.1.1,
 *     RFC 7671 §5.1).
 *   - DANE-TA(2): the record must match a certificate the peer sent
 *     (RFC 7672 §3.1.2 says servers MUST include the TA certificate, even
 *     a self-signed root; a TA that is only a public key not present in
 *     the chain is not supported and gives no match). The path is built
 *     from the leaf upwards among the certificates sent (in any order,
 *     at most 10): each issuer's subject name equals the child's issuer
 *     name (byte-exact DER), the issuer is a CA (basicConstraints
 *     cA TRUE; keyCertSign if it has a keyUsage; pathLenConstraint
 *     honoured, the trust anchor's included) and the child's signature
 *     verifies with the issuer's key (wolfCrypt's
 *     wc_CheckCertSigPubKey: the RSA and ECDSA signatures this wolfSSL
 *     build verifies; tested with both). The first
 *     certificate on that path that matches a DANE-TA record is the trust
 *     anchor. A TA record matching the leaf itself makes the leaf its own
 *     anchor (as OpenSSL's DANE code does): the name check still applies,
 *     so this is never weaker than DANE-EE. When several issuers fit, the
 *     first in the chain's order whose signature verifies is taken (no
 *     backtracking: bounded work).
 *   - DANE-TA dates: the leaf and the intermediates below the trust
 *     anchor must be valid at `now` (notBefore <= now <= notAfter); the
 *     trust anchor's own dates are ignored, as RFC 5280 §6.1 does for
 *     trust anchors: its trust comes from the DNSSEC-signed record, whose
 *     TTL and signatures bound it (RFC 7671 §5.2).
 *   - DANE-TA names (RFC 7672 §3.2.2, §3.2.3): the leaf must carry one
 *     of `names`: a DNS subjectAltName equal to it (ASCII
 *     case-insensitive), or a wildcard "*.rest" where "*" is the whole
 *     leftmost label and matches exactly one label (rest must have at
 *     least two labels: "*.org" matches nothing); the subject CN (the
 *     last one) is used, with the same rules, only when the certificate
 *     has no DNS subjectAltName at all.
 *   - Bounds (hostile input): more than DANE_MAX_RRS records, more than
 *     DANE_MAX_DEPTH certificates, a certificate longer than
 *     DANE_MAX_CERT bytes, or more than DANE_MAX_NAMES names: no match,
 *     with the reason. A leaf that does not parse: no match; a malformed
 *     certificate elsewhere is left out of DANE-TA path building (and
 *     named in the reason if nothing matched).
 */
#ifndef RINGMX_DNS_DANE_H
#define RINGMX_DNS_DANE_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "dns_resolver.h"

#define DANE_MAX_RRS   16
#define DANE_MAX_DEPTH 10
#define DANE_MAX_CERT  65536
#define DANE_MAX_NAMES 16

struct dane_result {
	/* On a match: the record (index into rrs, and its parameters) and
	 * the certificate (index into der, 0 = leaf) that matched; for
	 * DANE-TA the depth of the trust anchor. -1 when nothing matched. */
	int record;
	int usage, selector, mtype;
	int depth;
	/* Why it matched or not, for the delivery log line; NUL-terminated,
	 * never empty after dane_match(). */
	char reason[96];
};

/*
 * dane_match - match a peer's chain against TLSA records (rules above).
 * rrs[0..nrrs): the records (unusable ones are skipped); der[i] /
 * der_len[i], i < nchain: the certificates as the peer sent them, leaf
 * first; names[0..nnames): the reference identifiers (NUL-terminated);
 * now: seconds since the epoch, for DANE-TA validity dates only.
 * Returns 1 matched, 0 no match (also on bad or oversized input); *out is
 * always filled. Borrows every argument for the call only; keeps nothing.
 */
int dane_match(const struct dns_tlsa_rr *const *rrs, size_t nrrs,
    const unsigned char *const *der, const size_t *der_len, size_t nchain,
    const char *const *names, size_t nnames, time_t now,
    struct dane_result *out);

/*
 * dane_digest - the certificate association data a TLSA record with this
 * selector (0 full certificate, 1 SubjectPublicKeyInfo) and matching type
 * (0 exact, 1 SHA-256, 2 SHA-512) would hold for the DER certificate
 * der[0..len). out has room for *outlen bytes; on success *outlen is set
 * to the length written (32, 64, or the selected DER's length for type
 * 0). Returns 0, or -1 (bad parameters, certificate that does not parse
 * or is larger than DANE_MAX_CERT, out too small).
 */
int dane_digest(const unsigned char *der, size_t len, int selector, int mtype,
    unsigned char *out, size_t *outlen);

#endif
