/*
 * test_timer_wheel.c - the per-worker timer wheel: firing time, re-arm,
 * cancel, and deadlines longer than one lap of the wheel.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "timer_wheel.h"

static int fired[8];
static struct timer_entry te[8];

static void
on_fire(void *arg, struct timer_entry *e)
{
	(void)arg;
	fired[e - te]++;
}

static void
reset(void)
{
	for (int i = 0; i < 8; i++) {
		fired[i] = 0;
		te[i] = (struct timer_entry){0};
	}
}

static void
test_fires_on_time(void **state)
{
	struct timer_wheel tw;

	(void)state;
	reset();
	timer_wheel_init(&tw, 1000);
	timer_arm(&tw, &te[0], 5);
	timer_arm(&tw, &te[1], 300);
	timer_wheel_advance(&tw, 1004, on_fire, NULL);
	assert_int_equal(fired[0], 0);
	timer_wheel_advance(&tw, 1005, on_fire, NULL);
	assert_int_equal(fired[0], 1);
	assert_false(timer_armed(&te[0]));
	timer_wheel_advance(&tw, 1299, on_fire, NULL);
	assert_int_equal(fired[1], 0);
	timer_wheel_advance(&tw, 1300, on_fire, NULL);
	assert_int_equal(fired[1], 1);
}

static void
test_rearm_and_cancel(void **state)
{
	struct timer_wheel tw;

	(void)state;
	reset();
	timer_wheel_init(&tw, 0);
	timer_arm(&tw, &te[0], 10);
	timer_arm(&tw, &te[1], 10);
	timer_wheel_advance(&tw, 5, on_fire, NULL);
	timer_arm(&tw, &te[0], 10); /* activity: deadline moves to 15 */
	timer_cancel(&te[1]);
	timer_wheel_advance(&tw, 14, on_fire, NULL);
	assert_int_equal(fired[0], 0);
	assert_int_equal(fired[1], 0);
	timer_wheel_advance(&tw, 15, on_fire, NULL);
	assert_int_equal(fired[0], 1);
	assert_int_equal(fired[1], 0);
}

static void
test_longer_than_a_lap(void **state)
{
	struct timer_wheel tw;

	(void)state;
	reset();
	timer_wheel_init(&tw, 0);
	timer_arm(&tw, &te[2], TIMER_WHEEL_SLOTS + 7);
	timer_wheel_advance(&tw, 7, on_fire, NULL);
	assert_int_equal(fired[2], 0);
	timer_wheel_advance(&tw, TIMER_WHEEL_SLOTS + 6, on_fire, NULL);
	assert_int_equal(fired[2], 0);
	timer_wheel_advance(&tw, TIMER_WHEEL_SLOTS + 7, on_fire, NULL);
	assert_int_equal(fired[2], 1);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_fires_on_time),
	    cmocka_unit_test(test_rearm_and_cancel),
	    cmocka_unit_test(test_longer_than_a_lap),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
