/*
 * timer_wheel.h - a per-worker userspace timer wheel with 1-second ticks
 * for session timeouts (RFC 5321 4.5.3.2). io_uring linked timeouts bound
 * a multishot request's whole life, not idle time, so idle timers live
 * here. Owned by one worker; not thread-safe. Entries are intrusive.
 */
#ifndef RINGMX_TIMER_WHEEL_H
#define RINGMX_TIMER_WHEEL_H

#include <stdbool.h>
#include <stdint.h>

#define TIMER_WHEEL_SLOTS 1024 /* power of two, seconds */

struct timer_entry {
	int64_t deadline; /* monotonic seconds; 0 = not armed */
	int kind;         /* for the owner: which timer of its object */
	struct timer_entry *next, **pprev;
};

struct timer_wheel {
	int64_t now; /* last tick, monotonic seconds */
	struct timer_entry *slots[TIMER_WHEEL_SLOTS];
};

void timer_wheel_init(struct timer_wheel *tw, int64_t now);
/* (Re)arm e to fire at now + secs. */
void timer_arm(struct timer_wheel *tw, struct timer_entry *e, unsigned secs);
void timer_cancel(struct timer_entry *e);
static inline bool
timer_armed(const struct timer_entry *e)
{
	return e->pprev != 0;
}
/*
 * timer_wheel_advance - move time to now; every expired entry is unlinked
 * and passed to fire(arg, e). fire may re-arm or cancel any entry.
 */
void timer_wheel_advance(struct timer_wheel *tw, int64_t now,
    void (*fire)(void *arg, struct timer_entry *e), void *arg);

/* Monotonic clock in seconds. */
int64_t monotonic_seconds(void);

#endif
