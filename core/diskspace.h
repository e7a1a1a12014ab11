/*
 * diskspace.h - "is the queue's filesystem nearly full?", answered for
 * the sessions without a syscall: the main thread measures the free space
 * of the state directory (statvfs) about once a second and publishes one
 * SHARED flag (relaxed atomic); sessions read it at MAIL and answer
 * 452 4.3.1 while it is set, so that a full disk refuses new mail up
 * front instead of failing in the middle of DATA. The commit itself still
 * answers 452 4.3.1 if LMDB finds the disk or the map full.
 */
#ifndef RINGMX_DISKSPACE_H
#define RINGMX_DISKSPACE_H

#include <stdbool.h>
#include <stdint.h>

/* Main thread: measure dir; low when fewer than min_free bytes are
 * available to unprivileged users (0 = never low). Logs changes. */
void diskspace_check(const char *dir, uint64_t min_free);
/* Any thread. */
bool diskspace_low(void);

#endif
