/*
 * af_addr.h - the auth_file plugin's sender rules: which addresses an
 * authenticated user may use, and the addresses of a From: field.
 */
#ifndef RINGMX_AF_ADDR_H
#define RINGMX_AF_ADDR_H

#include <stdbool.h>
#include <stddef.h>

#include "af_tables.h"

/*
 * af_sender_allowed - whether user may use addr (non-empty, without angle
 * brackets) as a sender address. With a sender table: the user's entries
 * (addresses and @domains), plus the login itself if it is an address;
 * a user not in the table has only its login. Without one: the login if
 * it is an address, else anything. Comparison ignores ASCII case.
 */
bool af_sender_allowed(
    const struct af_tables *t, const char *user, const char *addr);

/*
 * af_mailbox_list - the addr-specs of an RFC 5322 mailbox-list / address
 * list (a From: field body, folding included, v[0..len)): display names,
 * comments and group names dropped. fn gets each address (NUL-terminated,
 * possibly empty as for "<>"); a non-zero return of fn stops the walk and
 * is returned. Returns -1 if the field cannot be parsed (unbalanced
 * quotes, comments or brackets, text after an angle address), else 0.
 */
int af_mailbox_list(const char *v, size_t len,
    int (*fn)(const char *addr, void *arg), void *arg);

#endif
