/*
 * maildir.h - delivery of one message to one local mailbox in Maildir
 * format: <root>/<mailbox>/{tmp,new,cur}. Blocking (write, fsync, rename):
 * call it only from a delivery thread, never from a worker loop.
 */
#ifndef RINGMX_MAILDIR_H
#define RINGMX_MAILDIR_H

#include <stdbool.h>
#include <stddef.h>

/*
 * maildir_name_ok - whether an (unquoted) local part can be used as a
 * mailbox directory name: non-empty, at most 64 octets, no '/', no NUL or
 * control characters or DEL, does not start with '.', no "..".
 */
bool maildir_name_ok(const char *name);

/* maildir_mailbox - the mailbox name for a local part: ASCII lower-cased
 * copy into out. Returns -1 if the name is not safe or does not fit. */
int maildir_mailbox(const char *local_unquoted, char *out, size_t outsz);

/*
 * maildir_deliver - write prefix (Return-Path/Delivered-To lines) followed
 * by body into <root>/<mailbox>/tmp/<unique>, fsync it, rename it into
 * new/, fsync new/. Creates the directories (0700) as needed. unique must
 * be unique per delivery (queue id + recipient index + time).
 * Returns 0 on success, else -errno; err gets a description.
 */
int maildir_deliver(const char *root, const char *mailbox, const char *unique,
    const void *prefix, size_t prefix_len, const void *body, size_t body_len,
    char *err, size_t errlen);

#endif
