/*
 * af_tables.h - the auth_file plugin's in-memory tables: the password file
 * (user:$argon2id$... lines) and the optional sender table (user: addr,
 * @domain, ...), loaded once and never changed afterwards, so any number
 * of threads may read one set of tables without a lock.
 */
#ifndef RINGMX_AF_TABLES_H
#define RINGMX_AF_TABLES_H

#include <stdbool.h>
#include <stddef.h>

#include <sodium.h>

struct af_user {
	char *name;
	char *hash; /* "$argon2id$...", shorter than crypto_pwhash_STRBYTES */
	unsigned line;
};

struct af_senders {
	char *user;
	char **addrs; /* "local@domain" or "@domain" */
	size_t naddrs;
};

struct af_tables {
	struct af_user *users; /* sorted by name (strcmp) */
	size_t nusers;
	struct af_senders *senders; /* sorted by user (strcmp) */
	size_t nsenders;
	bool have_senders; /* a sender table is configured */
	/* verified instead of a real hash for unknown users, so that the
	 * answer takes as long as for a known one */
	char dummy_hash[crypto_pwhash_STRBYTES];
	struct af_tables *older; /* retired tables (owner's list) */
};

/*
 * af_tables_load - read the password file and (senders != NULL) the
 * sender table into a new set of tables. On error returns -1 with a
 * message "KEY: FILE:LINE: what" (or "KEY: FILE: what") in err.
 */
int af_tables_load(const char *passwd, const char *senders,
    struct af_tables **out, char *err, size_t errlen);
/* af_tables_free - free one set of tables (not the older ones) */
void af_tables_free(struct af_tables *t);
/* af_user_find - the password entry of name (exact match), or NULL */
const struct af_user *af_user_find(const struct af_tables *t, const char *name);
/* af_senders_find - the sender table entry of user, or NULL */
const struct af_senders *af_senders_find(
    const struct af_tables *t, const char *user);

#endif
