/*
 * test_ip_limit.c - the process-wide per-IP connection table: limits,
 * release, reuse of freed slots, and concurrent use from several threads.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include "ip_limit.h"

static uint64_t
key4(const char *ip)
{
	struct sockaddr_in sa;

	memset(&sa, 0, sizeof(sa));
	sa.sin_family = AF_INET;
	inet_pton(AF_INET, ip, &sa.sin_addr);
	return ip_limit_key((struct sockaddr *)&sa);
}

static void
test_per_ip_limit(void **state)
{
	struct ip_limit *l = ip_limit_new(64);
	uint64_t a = key4("127.0.0.2"), b = key4("127.0.0.3");

	(void)state;
	assert_true(ip_limit_acquire(l, a, 3, 100));
	assert_true(ip_limit_acquire(l, a, 3, 100));
	assert_true(ip_limit_acquire(l, a, 3, 100));
	assert_false(ip_limit_acquire(l, a, 3, 100));
	assert_true(ip_limit_acquire(l, b, 3, 100));
	assert_int_equal(ip_limit_count(l, a), 3);
	assert_int_equal(ip_limit_total(l), 4);
	ip_limit_release(l, a);
	assert_true(ip_limit_acquire(l, a, 3, 100));
	for (int i = 0; i < 3; i++)
		ip_limit_release(l, a);
	ip_limit_release(l, b);
	assert_int_equal(ip_limit_count(l, a), 0);
	assert_int_equal(ip_limit_total(l), 0);
	ip_limit_free(l);
}

static void
test_total_limit(void **state)
{
	struct ip_limit *l = ip_limit_new(64);

	(void)state;
	assert_true(ip_limit_acquire(l, key4("10.0.0.1"), 10, 2));
	assert_true(ip_limit_acquire(l, key4("10.0.0.2"), 10, 2));
	assert_false(ip_limit_acquire(l, key4("10.0.0.3"), 10, 2));
	assert_int_equal(ip_limit_total(l), 2);
	ip_limit_free(l);
}

static void
test_v4_mapped_same_key(void **state)
{
	struct sockaddr_in6 s6;

	(void)state;
	memset(&s6, 0, sizeof(s6));
	s6.sin6_family = AF_INET6;
	inet_pton(AF_INET6, "::ffff:192.0.2.1", &s6.sin6_addr);
	assert_int_equal(
	    ip_limit_key((struct sockaddr *)&s6), key4("192.0.2.1"));
}

static void
test_churn_reuses_slots(void **state)
{
	struct ip_limit *l = ip_limit_new(64);
	char ip[32];

	(void)state;
	/* Far more distinct addresses over time than slots. */
	for (int i = 0; i < 100000; i++) {
		uint64_t k;
		snprintf(ip, sizeof(ip), "10.%d.%d.%d", (i >> 16) & 255,
		    (i >> 8) & 255, i & 255);
		k = key4(ip);
		assert_true(ip_limit_acquire(l, k, 1, 0));
		assert_int_equal(ip_limit_count(l, k), 1);
		ip_limit_release(l, k);
	}
	assert_int_equal(ip_limit_total(l), 0);
	ip_limit_free(l);
}

struct thr {
	struct ip_limit *l;
	uint64_t key;
	int got;
};

static void *
hammer(void *arg)
{
	struct thr *t = arg;

	for (int i = 0; i < 20000; i++) {
		if (ip_limit_acquire(t->l, t->key, 3, 0)) {
			t->got++;
			ip_limit_release(t->l, t->key);
		}
	}
	return NULL;
}

static void
test_concurrent_never_exceeds(void **state)
{
	struct ip_limit *l = ip_limit_new(64);
	uint64_t k = key4("127.0.0.2");
	pthread_t th[4];
	struct thr t[4];

	(void)state;
	/* Hold 2 of 3 permanently; threads race for the last one. */
	assert_true(ip_limit_acquire(l, k, 3, 0));
	assert_true(ip_limit_acquire(l, k, 3, 0));
	for (int i = 0; i < 4; i++) {
		t[i] = (struct thr){l, k, 0};
		pthread_create(&th[i], NULL, hammer, &t[i]);
	}
	for (int i = 0; i < 4; i++)
		pthread_join(th[i], NULL);
	assert_int_equal(ip_limit_count(l, k), 2);
	assert_int_equal(ip_limit_total(l), 2);
	ip_limit_free(l);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_per_ip_limit),
	    cmocka_unit_test(test_total_limit),
	    cmocka_unit_test(test_v4_mapped_same_key),
	    cmocka_unit_test(test_churn_reuses_slots),
	    cmocka_unit_test(test_concurrent_never_exceeds),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
