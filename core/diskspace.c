/*
 * diskspace.c - the free-space flag of the queue's filesystem (see
 * diskspace.h).
 */
#include "diskspace.h"

#include <stdatomic.h>
#include <sys/statvfs.h>

#include "log.h"

static atomic_bool low; /* SHARED: written by the main thread only */

void
diskspace_check(const char *dir, uint64_t min_free)
{
	struct statvfs sv;
	uint64_t avail;
	bool now, was = atomic_load_explicit(&low, memory_order_relaxed);

	if (min_free == 0 || statvfs(dir, &sv) != 0) {
		now = false;
		avail = 0;
	} else {
		avail = (uint64_t)sv.f_bavail * (uint64_t)sv.f_frsize;
		now = avail < min_free;
	}
	if (now != was) {
		atomic_store_explicit(&low, now, memory_order_relaxed);
		log_event(now ? LOG_WARNING : LOG_NOTICE,
		    now ? "disk_low" : "disk_ok",
		    "dir=%s available=%llu min_free_space=%llu effect=\"%s\"",
		    dir, (unsigned long long)avail,
		    (unsigned long long)min_free,
		    now ? "new mail refused with 452 4.3.1 at MAIL"
			: "accepting mail again");
	}
}

bool
diskspace_low(void)
{
	return atomic_load_explicit(&low, memory_order_relaxed);
}
