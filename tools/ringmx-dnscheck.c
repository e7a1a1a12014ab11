/*
 * ringmx-dnscheck.c - operator and debug tool: resolve the MX hosts of
 * domains exactly as a ringmx worker does (one asynchronous libunbound
 * context, its fd polled, dns_resolver_process() on readiness, deadlines
 * driven by dns_resolver_expire()) and print one line per domain:
 *
 *   domain=D status=ok|nullmx|nxdomain|tempfail|loop|nohost
 *   mx_secure=yes|no hosts=name/pref/secure/addr1,addr2;... [error="..."]
 *
 * Usage: ringmx-dnscheck [options] DOMAIN...
 *   --stub ZONE=IP[@PORT]  ask that server for ZONE (repeatable)
 *   --trust-anchor FILE    DS/DNSKEY trust anchor (default: root.key)
 *   --unbound-conf FILE    extra libunbound configuration
 *   --resolvconf           forward to /etc/resolv.conf's servers
 *   --allow-loopback       keep loopback and own addresses
 *   --self NAME            one of our names (repeatable)
 *   --own IP               one of our listen addresses (repeatable)
 *   --timeout MS           per-query deadline (default 30000)
 *   --sequential           one domain after the other (default: all at
 *                          once)
 * Exit: 0 if no domain ended in tempfail, 1 otherwise, 2 on usage errors.
 * Single-threaded; the resolver's helper thread is libunbound's.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dns_mx.h"
#include "dns_resolver.h"

struct run;

struct job {
	struct run *run;
	const char *domain;
	struct dns_mx_lookup *lookup;
	struct dns_mx_result *res;
	bool done;
	bool invalid; /* refused before any lookup */
	int start_errno;
};

struct run {
	struct dns_resolver *r;
	struct dns_mx_policy pol;
	struct job *jobs;
	size_t njobs, next, ndone;
	bool sequential;
};

static void start_next(struct run *run);

static void
usage(void)
{
	fprintf(stderr,
	    "usage: ringmx-dnscheck [--stub ZONE=IP[@PORT]]... "
	    "[--trust-anchor FILE]\n"
	    "       [--unbound-conf FILE] [--resolvconf] [--allow-loopback]\n"
	    "       [--self NAME]... [--own IP]... [--timeout MS] "
	    "[--sequential] DOMAIN...\n");
}

static void
on_result(void *arg, struct dns_mx_result *res)
{
	struct job *j = arg;
	struct run *run = j->run;

	j->lookup = NULL;
	j->res = res;
	j->done = true;
	run->ndone++;
	if (run->sequential)
		start_next(run);
}

static void
start_one(struct run *run, size_t i)
{
	struct job *j = &run->jobs[i];

	j->lookup = dns_mx_resolve(run->r, j->domain, &run->pol, on_result, j);
	if (j->lookup == NULL) {
		j->start_errno = errno;
		j->invalid = errno == EINVAL;
		j->done = true;
		run->ndone++;
	}
}

static void
start_next(struct run *run)
{
	/* a lookup refused at once does not wait for a callback */
	while (run->next < run->njobs) {
		size_t i = run->next++;
		start_one(run, i);
		if (!run->jobs[i].done)
			break;
	}
}

static void
print_addr(const struct sockaddr_storage *ss)
{
	char buf[INET6_ADDRSTRLEN];
	const void *a =
	    ss->ss_family == AF_INET6
		? (const void *)&((const struct sockaddr_in6 *)ss)->sin6_addr
		: (const void *)&((const struct sockaddr_in *)ss)->sin_addr;

	if (inet_ntop(ss->ss_family, a, buf, sizeof(buf)) == NULL)
		snprintf(buf, sizeof(buf), "?");
	fputs(buf, stdout);
}

static void
print_quoted(const char *s)
{
	putchar('"');
	for (; *s != '\0'; s++) {
		if (*s == '"' || *s == '\\')
			putchar('\\');
		putchar((unsigned char)*s >= 0x20 ? *s : '?');
	}
	putchar('"');
}

/* Print one line; true if the status was tempfail. */
static bool
print_job(const struct job *j)
{
	const struct dns_mx_result *res = j->res;

	if (res == NULL) {
		printf("domain=%s status=%s mx_secure=no hosts= error=",
		    j->domain, j->invalid ? "nxdomain" : "tempfail");
		print_quoted(j->invalid ? "not a valid domain name"
					: strerror(j->start_errno));
		putchar('\n');
		return !j->invalid;
	}
	printf("domain=%s status=%s mx_secure=%s hosts=", res->domain,
	    dns_mx_status_str(res->status), res->mx_secure ? "yes" : "no");
	for (size_t h = 0; h < res->nhosts; h++) {
		const struct dns_mx_host *host = &res->hosts[h];
		printf("%s%s/%u/%s/", h ? ";" : "", host->name,
		    (unsigned)host->preference, host->secure ? "yes" : "no");
		for (size_t a = 0; a < host->naddrs; a++) {
			if (a)
				putchar(',');
			print_addr(&host->addrs[a]);
		}
	}
	if (res->status != DNS_MX_OK) {
		fputs(" error=", stdout);
		print_quoted(res->error);
	}
	putchar('\n');
	return res->status == DNS_MX_TEMPFAIL;
}

static int
parse_own(const char *s, struct sockaddr_storage *ss)
{
	struct sockaddr_in *s4 = (struct sockaddr_in *)ss;
	struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)ss;

	memset(ss, 0, sizeof(*ss));
	if (inet_pton(AF_INET, s, &s4->sin_addr) == 1) {
		s4->sin_family = AF_INET;
		return 0;
	}
	if (inet_pton(AF_INET6, s, &s6->sin6_addr) == 1) {
		s6->sin6_family = AF_INET6;
		return 0;
	}
	return -1;
}

/* Wait for answers and deadlines until every job is done. */
static int
loop(struct run *run)
{
	char err[256];

	while (run->ndone < run->njobs) {
		struct pollfd pfd = {
		    .fd = dns_resolver_fd(run->r), .events = POLLIN};
		int t = dns_resolver_next_timeout(run->r);
		int n = poll(&pfd, 1, t < 0 ? 1000 : t);

		if (n < 0 && errno != EINTR) {
			perror("ringmx-dnscheck: poll");
			return -1;
		}
		if (n > 0 &&
		    dns_resolver_process(run->r, err, sizeof(err)) != 0) {
			fprintf(stderr, "ringmx-dnscheck: %s\n", err);
			return -1;
		}
		dns_resolver_expire(run->r);
		if (dns_resolver_pending(run->r) == 0 &&
		    run->ndone < run->njobs) {
			fprintf(stderr, "ringmx-dnscheck: lookups lost\n");
			return -1;
		}
	}
	return 0;
}

enum { OPT_STUB = 256, OPT_TA, OPT_UBCONF, OPT_SEQ };

int
main(int argc, char **argv)
{
	static const struct option opts[] = {
	    {"stub", required_argument, NULL, OPT_STUB},
	    {"trust-anchor", required_argument, NULL, OPT_TA},
	    {"unbound-conf", required_argument, NULL, OPT_UBCONF},
	    {"resolvconf", no_argument, NULL, 'r'},
	    {"allow-loopback", no_argument, NULL, 'l'},
	    {"self", required_argument, NULL, 's'},
	    {"own", required_argument, NULL, 'o'},
	    {"timeout", required_argument, NULL, 't'},
	    {"sequential", no_argument, NULL, OPT_SEQ},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	struct dns_config cfg;
	struct run run;
	struct dns_stub *stubs = NULL;
	const char **selfs = NULL;
	struct sockaddr_storage *own = NULL;
	size_t nstubs = 0, nself = 0, nown = 0;
	char err[512];
	int c, rc = 2;
	bool tempfail = false;

	memset(&cfg, 0, sizeof(cfg));
	memset(&run, 0, sizeof(run));
	stubs = calloc((size_t)argc, sizeof(*stubs));
	selfs = calloc((size_t)argc, sizeof(*selfs));
	own = calloc((size_t)argc, sizeof(*own));
	if (stubs == NULL || selfs == NULL || own == NULL) {
		fprintf(stderr, "ringmx-dnscheck: out of memory\n");
		goto out;
	}
	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		char *eq, *end;
		unsigned long v;

		switch (c) {
		case OPT_STUB:
			eq = strchr(optarg, '=');
			if (eq == NULL || eq == optarg || eq[1] == '\0') {
				fprintf(stderr, "ringmx-dnscheck: --stub wants "
						"ZONE=IP[@PORT]\n");
				goto out;
			}
			*eq = '\0';
			stubs[nstubs].zone = optarg;
			stubs[nstubs++].address = eq + 1;
			break;
		case OPT_TA:
			cfg.trust_anchor = optarg;
			break;
		case OPT_UBCONF:
			cfg.unbound_conf = optarg;
			break;
		case 'r':
			cfg.mode = DNS_MODE_RESOLVCONF;
			break;
		case 'l':
			run.pol.allow_loopback = true;
			break;
		case 's':
			selfs[nself++] = optarg;
			break;
		case 'o':
			if (parse_own(optarg, &own[nown]) != 0) {
				fprintf(stderr,
				    "ringmx-dnscheck: --own %s: not an IP "
				    "address\n",
				    optarg);
				goto out;
			}
			nown++;
			break;
		case 't':
			errno = 0;
			v = strtoul(optarg, &end, 10);
			if (errno != 0 || *end != '\0' || v == 0 ||
			    v > 3600000) {
				fprintf(stderr,
				    "ringmx-dnscheck: --timeout wants "
				    "1..3600000 ms\n");
				goto out;
			}
			cfg.timeout_ms = (unsigned)v;
			break;
		case OPT_SEQ:
			run.sequential = true;
			break;
		case 'h':
			usage();
			rc = 0;
			goto out;
		default:
			usage();
			goto out;
		}
	}
	if (optind >= argc) {
		usage();
		goto out;
	}
	cfg.stubs = stubs;
	cfg.nstubs = nstubs;
	run.pol.self_names = selfs;
	run.pol.nself = nself;
	run.pol.own_addrs = own;
	run.pol.nown = nown;
	run.njobs = (size_t)(argc - optind);
	run.jobs = calloc(run.njobs, sizeof(*run.jobs));
	if (run.jobs == NULL) {
		fprintf(stderr, "ringmx-dnscheck: out of memory\n");
		goto out;
	}
	for (size_t i = 0; i < run.njobs; i++) {
		run.jobs[i].run = &run;
		run.jobs[i].domain = argv[optind + (int)i];
	}
	run.r = dns_resolver_new(&cfg, err, sizeof(err));
	if (run.r == NULL) {
		fprintf(stderr, "ringmx-dnscheck: %s\n", err);
		goto out;
	}
	if (run.sequential) {
		start_next(&run);
	} else {
		for (size_t i = 0; i < run.njobs; i++)
			start_one(&run, i);
		run.next = run.njobs;
	}
	if (loop(&run) != 0) {
		rc = 1;
		for (size_t i = 0; i < run.njobs; i++)
			dns_mx_cancel(run.jobs[i].lookup);
		goto out;
	}
	for (size_t i = 0; i < run.njobs; i++)
		tempfail = print_job(&run.jobs[i]) || tempfail;
	rc = tempfail ? 1 : 0;
out:
	fflush(stdout);
	if (run.jobs != NULL)
		for (size_t i = 0; i < run.njobs; i++)
			dns_mx_result_free(run.jobs[i].res);
	dns_resolver_free(run.r);
	free(run.jobs);
	free(stubs);
	free(selfs);
	free(own);
	return rc;
}
