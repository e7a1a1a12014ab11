/*
 * spf_macro.h - SPF macro strings (RFC 7208 section 7): syntax check and
 * expansion with transformers (digits, "r"), delimiters, URL escaping of
 * upper-case letters and the escapes %%, %_ and %-.
 *
 * Pure code: no I/O. The 'p' letter needs the validated domain names of
 * the client address, which the evaluator (spf_eval.c) looks up before
 * expanding a string for which spf_macro_uses_p() is true; it hands the
 * expander its choice for the current domain.
 */
#ifndef RINGMX_SPF_MACRO_H
#define RINGMX_SPF_MACRO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Longest expansion (a larger one is an error: permerror). */
#define SPF_MACRO_OUT_MAX 4096

/*
 * The values of the macro letters. Ownership: every pointer is borrowed
 * from the caller for the duration of the call.
 */
struct spf_macro_env {
	const char *local;     /* l: local part of the sender */
	const char *sdomain;   /* o: domain of the sender */
	const char *domain;    /* d: the current domain */
	int family;            /* AF_INET or AF_INET6 */
	unsigned char ip[16];  /* i, c, v: the client (4 or 16 octets) */
	const char *validated; /* p: NULL means "unknown" */
	const char *helo;      /* h */
	const char *receiver;  /* r: NULL means "unknown" */
	uint64_t now;          /* t: seconds since the epoch */
};

/*
 * spf_macro_check - whether s[0..n) is a valid macro-string (exp false)
 * or explain-string (exp true: SP allowed). The letters c, r and t are
 * accepted only when exp is true.
 */
bool spf_macro_check(const char *s, size_t n, bool exp);

/* spf_macro_uses_p - whether s[0..n) has a %{p...} macro. */
bool spf_macro_uses_p(const char *s, size_t n);

/*
 * spf_macro_expand - expand s[0..n) into out (cap octets, NUL
 * terminated; *outlen its length). 0, -1 for a syntax error, -2 when the
 * expansion does not fit (cap is at most SPF_MACRO_OUT_MAX + 1 useful).
 */
int spf_macro_expand(const char *s, size_t n, const struct spf_macro_env *e,
    bool exp, char *out, size_t cap, size_t *outlen);

#endif
