/*
 * timer_wheel.c - hashed timer wheel, one-second resolution (see
 * timer_wheel.h). A slot holds every entry whose deadline is congruent to
 * it; entries more than a lap away simply stay until their lap comes.
 */
#include "timer_wheel.h"

#include <stddef.h>
#include <time.h>

/* timer_wheel_init - empty wheel at time now */
void
timer_wheel_init(struct timer_wheel *tw, int64_t now)
{
	tw->now = now;
	for (size_t i = 0; i < TIMER_WHEEL_SLOTS; i++)
		tw->slots[i] = NULL;
}

/* timer_cancel - unlink e if armed */
void
timer_cancel(struct timer_entry *e)
{
	if (e->pprev == NULL)
		return;
	*e->pprev = e->next;
	if (e->next != NULL)
		e->next->pprev = e->pprev;
	e->next = NULL;
	e->pprev = NULL;
	e->deadline = 0; /* kind stays: it names the entry, not its state */
}

/* timer_arm - (re)arm e for now + secs */
void
timer_arm(struct timer_wheel *tw, struct timer_entry *e, unsigned secs)
{
	struct timer_entry **head;

	timer_cancel(e);
	if (secs == 0)
		secs = 1;
	e->deadline = tw->now + secs;
	head = &tw->slots[e->deadline & (TIMER_WHEEL_SLOTS - 1)];
	e->next = *head;
	if (*head != NULL)
		(*head)->pprev = &e->next;
	*head = e;
	e->pprev = head;
}

/* timer_wheel_advance - fire everything due up to now */
void
timer_wheel_advance(struct timer_wheel *tw, int64_t now,
    void (*fire)(void *arg, struct timer_entry *e), void *arg)
{
	while (tw->now < now) {
		struct timer_entry **head, *e, *next;

		tw->now++;
		head = &tw->slots[tw->now & (TIMER_WHEEL_SLOTS - 1)];
		for (e = *head; e != NULL; e = next) {
			next = e->next;
			if (e->deadline <= tw->now) {
				timer_cancel(e);
				fire(arg, e);
				/* fire may have changed the list: restart */
				next = *head;
			}
		}
	}
}

/* monotonic_seconds - CLOCK_MONOTONIC in whole seconds */
int64_t
monotonic_seconds(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec;
}
