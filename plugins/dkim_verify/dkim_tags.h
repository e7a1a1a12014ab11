/*
 * dkim_tags.h - the DKIM tag=value list (RFC 6376 section 3.2), the
 * syntax shared by the DKIM-Signature field and the key record. Only the
 * generic grammar lives here; what each tag means is in dkim_sig.c and
 * dkim_key.c.
 *
 * Pure code: no I/O, no allocation, no global state.
 */
#ifndef RINGMX_DKIM_TAGS_H
#define RINGMX_DKIM_TAGS_H

#include <stdbool.h>
#include <stddef.h>

/* More tags than this in one list is an error (bounded work). */
#define DKIM_TAGS_MAX 64

/*
 * One tag. All pointers are BORROWED from the parsed text and valid as
 * long as it is. val/vlen is the value without leading and trailing FWS;
 * raw_start..raw_end (offsets into the text) is everything between the
 * "=" and the ";" (or the end), surrounding FWS included: what is
 * deleted to empty the b= tag (RFC 6376 section 3.7).
 */
struct dkim_tag {
	const char *name;
	size_t nlen;
	const char *val;
	size_t vlen;
	size_t raw_start, raw_end;
};

struct dkim_tags {
	size_t n;
	struct dkim_tag t[DKIM_TAGS_MAX];
};

/*
 * dkim_tags_parse - parse s[0..len): tag-spec *(";" tag-spec) [";"],
 * tag-spec = [FWS] tag-name [FWS] "=" [FWS] tag-value [FWS], tag-name
 * ALPHA *(ALPHA / DIGIT / "_"), values of VALCHAR (%x21-3A / %x3C-7E)
 * with FWS between runs. FWS is taken as any SP, TAB, CR or LF. A
 * duplicate tag name (case-sensitive) is an error. 0, or -1 with a short
 * static reason in *why.
 */
int dkim_tags_parse(
    const char *s, size_t len, struct dkim_tags *out, const char **why);

/* dkim_tags_get - the tag called name, or NULL. */
const struct dkim_tag *dkim_tags_get(
    const struct dkim_tags *t, const char *name);

/* dkim_is_fws - SP, TAB, CR or LF. */
bool dkim_is_fws(unsigned char c);

#endif
