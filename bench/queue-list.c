/*
 * queue-list.c - benchmark of queue inspection (storage/queue_query.c)
 * on a large shard: fills one queue shard with N messages (default
 * 1,000,000) over D recipient domains (default 10,000) in batched write
 * transactions, then times Q queries "domain = random domain, limit 100"
 * (p50/p99/max), a per-domain summary and the per-state counts.
 *
 * Not here: the daemon, the committer thread (inserts go straight
 * through queue_txn_*, as the committer would apply them), SMTP.
 *
 * Single-threaded; memory is bounded by one batch (envelopes are built
 * and freed one at a time) plus the latency array (Q doubles).
 *
 *   queue-list [-n MESSAGES] [-d DOMAINS] [-q QUERIES] [-b BATCH]
 *              [-k DIR] [-s SEED]
 * -k DIR keeps the shard in DIR and reuses it when it already holds
 * MESSAGES messages (filling takes a while); without -k a temporary
 * directory is used and removed.
 */
#include <errno.h>
#include <ftw.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "queue_query.h"
#include "queue_record.h"
#include "queue_shard.h"

#define MAP_SIZE ((size_t)16 << 30) /* sparse file: only used pages */

struct opts {
	unsigned long n, domains, queries, batch, seed;
	const char *keep;
};

static double
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

/* xorshift64*: reproducible, no libc state */
static uint64_t
rnd(uint64_t *s)
{
	*s ^= *s >> 12;
	*s ^= *s << 25;
	*s ^= *s >> 27;
	return *s * 2685821657736338717ULL;
}

static int
rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(path);
}

static void
usage(const char *argv0)
{
	fprintf(stderr,
	    "usage: %s [-n MESSAGES] [-d DOMAINS] [-q QUERIES] [-b BATCH] "
	    "[-k DIR] [-s SEED]\n",
	    argv0);
	exit(2);
}

static unsigned long
num(const char *s, const char *argv0)
{
	char *end;
	unsigned long v;

	errno = 0;
	v = strtoul(s, &end, 10);
	if (errno != 0 || *end != '\0' || v == 0)
		usage(argv0);
	return v;
}

/* Fill qs with o->n messages in transactions of o->batch. 0 ok. */
static int
fill(struct queue_shard *qs, const struct opts *o)
{
	static const char body[] = "Subject: bench\r\n\r\nhello\r\n";
	uint64_t seed = o->seed * 7919 + 1;
	double t0 = now_ms(), t;
	unsigned long done = 0;

	while (done < o->n) {
		int err;
		struct queue_txn *tx = queue_txn_begin(qs, &err);

		if (tx == NULL) {
			fprintf(stderr, "begin: %d\n", err);
			return -1;
		}
		for (unsigned long i = 0; i < o->batch && done < o->n;
		     i++, done++) {
			char sender[64], rcpt[64], rcpt2[64];
			struct qrcpt r[2];
			struct qenvelope e;
			uint64_t x = rnd(&seed);
			int rc;

			memset(&e, 0, sizeof(e));
			memset(r, 0, sizeof(r));
			snprintf(sender, sizeof(sender),
			    "sender%lu@src%lu.example",
			    (unsigned long)(x % 1000), (unsigned long)(x % 97));
			snprintf(rcpt, sizeof(rcpt), "user%lu@d%05lu.example",
			    (unsigned long)(x >> 20) % 50,
			    (unsigned long)((x >> 32) % o->domains));
			e.id = queue_shard_new_id(qs);
			e.sender = (x >> 8) % 50 == 0 ? "" : sender;
			e.received = 1700000000 + (int64_t)(done / 10);
			e.next_attempt = e.received + 300;
			e.held = (x >> 16) % 100 == 0;  /* 1% held */
			e.attempts = (x >> 24) % 10 < 6 /* 60% deferred */
					 ? (uint32_t)((x >> 40) % 5 + 1)
					 : 0;
			e.size = sizeof(body) - 1;
			e.client_addr = "192.0.2.1";
			e.helo = "client.example";
			e.nrcpt = 1;
			e.rcpts = r;
			r[0].addr = rcpt;
			if ((x >> 48) % 10 == 0) { /* 10%: a delivered second */
				snprintf(rcpt2, sizeof(rcpt2),
				    "done@d%05lu.example",
				    (unsigned long)((x >> 36) % o->domains));
				r[1].addr = rcpt2;
				r[1].state = QRCPT_DELIVERED;
				e.nrcpt = 2;
			}
			rc = queue_txn_insert(tx, &e, body, sizeof(body) - 1);
			if (rc != QUEUE_OK) {
				fprintf(stderr, "insert: %d\n", rc);
				queue_txn_abort(tx);
				return -1;
			}
		}
		err = queue_txn_commit(tx);
		if (err != QUEUE_OK) {
			fprintf(stderr, "commit: %d\n", err);
			return -1;
		}
		if (done % 100000 < o->batch)
			fprintf(stderr, "  filled %lu\n", done);
	}
	t = now_ms() - t0;
	printf("fill: %lu messages in %.1f s (%.0f msgs/s, %lu per txn)\n",
	    o->n, t / 1e3, (double)o->n / (t / 1e3), o->batch);
	return 0;
}

static int
count_cb(void *arg, const struct qenvelope *env)
{
	(void)env;
	(*(unsigned long *)arg)++;
	return 0;
}

struct sum {
	unsigned long domains, msgs;
};

static int
sum_cb(void *arg, const char *domain, unsigned a, unsigned d, unsigned h)
{
	struct sum *s = arg;

	(void)domain;
	s->domains++;
	s->msgs += (unsigned long)a + d + h;
	return 0;
}

static int
cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

/* Time a query type: prints p50/p99/max over o->queries runs. */
static void
time_queries(
    struct queue_shard *qs, const struct opts *o, const char *what, int kind)
{
	double *lat = calloc(o->queries, sizeof(*lat));
	uint64_t seed = o->seed * 104729 + 3;
	unsigned long matches = 0;

	if (lat == NULL) {
		perror("calloc");
		exit(1);
	}
	for (unsigned long i = 0; i < o->queries; i++) {
		char dom[32], rcpt[64];
		struct queue_filter f = {NULL, NULL, NULL, -1, 0};
		uint64_t x = rnd(&seed);
		double t0;
		int rc;

		snprintf(dom, sizeof(dom), "D%05lu.example",
		    (unsigned long)(x % o->domains));
		if (kind == 0) {
			f.domain = dom;
		} else if (kind == 1) {
			snprintf(rcpt, sizeof(rcpt), "user%lu@%s",
			    (unsigned long)(x >> 32) % 50, dom);
			f.rcpt = rcpt;
		} else if (kind == 2) {
			f.domain = dom;
			f.state = QSTATE_HELD;
		} else {
			f.state = QSTATE_DEFERRED; /* first page only */
		}
		t0 = now_ms();
		rc = queue_query(qs, &f, 0, 100, count_cb, &matches);
		lat[i] = now_ms() - t0;
		if (rc < 0) {
			fprintf(stderr, "query: %d\n", rc);
			exit(1);
		}
	}
	qsort(lat, o->queries, sizeof(*lat), cmp_double);
	printf("%-34s p50 %.3f ms  p99 %.3f ms  max %.3f ms  "
	       "(%lu queries, %.1f matches avg)\n",
	    what, lat[o->queries / 2], lat[(o->queries * 99) / 100],
	    lat[o->queries - 1], o->queries,
	    (double)matches / (double)o->queries);
	free(lat);
}

/* main - fill (or reuse) a shard, then time queries, summary, counts */
int
main(int argc, char **argv)
{
	struct opts o = {1000000, 10000, 1000, 4000, 1, NULL};
	char tmp[] = "/tmp/ringmx-qlist-XXXXXX", err[512], path[4096];
	const char *dir;
	struct queue_shard *qs;
	struct stat st;
	struct sum s = {0, 0};
	unsigned a, d, h;
	double t0;
	int c;

	while ((c = getopt(argc, argv, "n:d:q:b:k:s:")) != -1) {
		switch (c) {
		case 'n':
			o.n = num(optarg, argv[0]);
			break;
		case 'd':
			o.domains = num(optarg, argv[0]);
			break;
		case 'q':
			o.queries = num(optarg, argv[0]);
			break;
		case 'b':
			o.batch = num(optarg, argv[0]);
			break;
		case 'k':
			o.keep = optarg;
			break;
		case 's':
			o.seed = num(optarg, argv[0]);
			break;
		default:
			usage(argv[0]);
		}
	}
	if (optind != argc)
		usage(argv[0]);
	if (o.keep != NULL) {
		dir = o.keep;
	} else if ((dir = mkdtemp(tmp)) == NULL) {
		perror("mkdtemp");
		return 1;
	}
	t0 = now_ms();
	qs = queue_shard_open(dir, 0, MAP_SIZE, err, sizeof(err));
	if (qs == NULL) {
		fprintf(stderr, "%s\n", err);
		return 1;
	}
	printf("open: %.1f ms\n", now_ms() - t0);
	if (queue_shard_count(qs) == o.n) {
		printf("reusing %s: %lu messages\n", dir, o.n);
	} else if (queue_shard_count(qs) != 0) {
		fprintf(stderr,
		    "%s holds %zu messages, not %lu: use an empty or "
		    "matching directory\n",
		    dir, queue_shard_count(qs), o.n);
		queue_shard_close(qs);
		return 1;
	} else if (fill(qs, &o) < 0) {
		queue_shard_close(qs);
		return 1;
	}
	snprintf(path, sizeof(path), "%s/data.mdb", dir);
	if (stat(path, &st) == 0)
		printf("data.mdb: %.1f MiB (%lu domains)\n",
		    (double)st.st_blocks * 512 / (1 << 20), o.domains);

	time_queries(qs, &o, "domain=random limit=100", 0);
	time_queries(qs, &o, "rcpt=random limit=100", 1);
	time_queries(qs, &o, "domain=random state=held limit=100", 2);
	time_queries(qs, &o, "state=deferred limit=100 (page 1)", 3);

	t0 = now_ms();
	if (queue_count(qs, &a, &d, &h) != QUEUE_OK)
		return 1;
	printf("count: %.3f ms (active %u, deferred %u, held %u)\n",
	    now_ms() - t0, a, d, h);
	t0 = now_ms();
	if (queue_summary(qs, sum_cb, &s) != QUEUE_OK)
		return 1;
	printf("summary: %.1f ms (%lu domains, %lu message-domain pairs)\n",
	    now_ms() - t0, s.domains, s.msgs);

	queue_shard_close(qs);
	if (o.keep == NULL)
		nftw(dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
	return 0;
}
