/*
 * ringmx-spfcheck.c - command-line SPF checker: the spf plugin's engine
 * (plugins/spf/spf_eval.c) driven by libunbound, one query at a time,
 * each with its own deadline (ub_resolve_async polled on ub_fd; a query
 * that runs out of time is a DNS error: temperror). For operators and
 * for the RFC 7208 test suite (tests/integration/test_spf_suite.py).
 *
 * Usage: ringmx-spfcheck --ip ADDR (--sender ADDR | --helo NAME) [options]
 *   --ip ADDR            client address (IPv4 or IPv6)
 *   --sender ADDR        MAIL FROM address ("" or "<>" for the null sender)
 *   --helo NAME          HELO/EHLO name (the identity for the null sender)
 *   --server ADDR[@PORT] forward every query to this server (no DNSSEC),
 *                        with unbound's local zones made transparent
 *   --receiver NAME      the %{r} value (default: "unknown")
 *   --explanation TEXT   the default explanation of a fail
 *   --timeout MS         per-query deadline (default 5000)
 *   --verbose            each query and its outcome on stderr
 * Prints one line:
 *   result=R explanation="..." mechanism=M identity=I domain=D reason="..."
 * Exit 0 with a result (whatever it is), 1 if the resolver cannot be set
 * up, 2 on usage errors. Not here: the policy (the plugin's, spf.c).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#include <unbound.h>

#include "dns_answer.h"
#include "spf_eval.h"

/* unbound's default local zones that would hide test data */
static const char *const transparent_zones[] = {
    "localhost.",
    "127.in-addr.arpa.",
    "1.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.ip6."
    "arpa.",
    "0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.ip6."
    "arpa.",
    "home.arpa.",
    "resolver.arpa.",
    "service.arpa.",
    "onion.",
    "test.",
    "invalid.",
    "local.",
    "0.in-addr.arpa.",
    "254.169.in-addr.arpa.",
    "2.0.192.in-addr.arpa.",
    "100.51.198.in-addr.arpa.",
    "113.0.203.in-addr.arpa.",
    "255.255.255.255.in-addr.arpa.",
    "d.f.ip6.arpa.",
    "8.e.f.ip6.arpa.",
    "9.e.f.ip6.arpa.",
    "a.e.f.ip6.arpa.",
    "b.e.f.ip6.arpa.",
    "8.b.d.0.1.0.0.2.ip6.arpa.",
};

/* One outstanding query. Ownership: the answer packet is ours (copied
 * out of libunbound's result, which is freed in the callback). */
struct pending {
	bool done;
	int rcode;
	int secure;
	unsigned char *pkt;
	size_t len;
};

static void
on_result(void *arg, int err, struct ub_result *res)
{
	struct pending *p = arg;

	p->done = true;
	p->rcode = 2;
	if (err == 0 && res != NULL) {
		p->rcode = res->rcode;
		p->secure = res->bogus ? -1 : res->secure ? 1 : 0;
		if (res->bogus)
			p->rcode = 2;
		if (res->answer_packet != NULL && res->answer_len > 0 &&
		    (p->pkt = malloc((size_t)res->answer_len)) != NULL) {
			memcpy(p->pkt, res->answer_packet,
			    (size_t)res->answer_len);
			p->len = (size_t)res->answer_len;
		}
	}
	if (res != NULL)
		ub_resolve_free(res);
}

static uint64_t
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* Resolve q within timeout_ms into a (always filled). */
static void
resolve(struct ub_ctx *ctx, const struct spf_query *q, unsigned timeout_ms,
    struct dns_answer *a, int verbose)
{
	struct pending p = {0};
	int id = 0;
	uint64_t deadline = now_ms() + timeout_ms;

	if (ub_resolve_async(ctx, q->name, q->type, 1, &p, on_result, &id) !=
	    0) {
		dns_answer_parse(a, q->type, 2, 0, NULL, 0);
		return;
	}
	while (!p.done) {
		uint64_t t = now_ms();
		struct pollfd pfd = {.fd = ub_fd(ctx), .events = POLLIN};

		if (t >= deadline) {
			ub_cancel(ctx, id);
			break;
		}
		if (poll(&pfd, 1, (int)(deadline - t)) > 0)
			ub_process(ctx);
	}
	if (!p.done)
		dns_answer_parse(a, q->type, 2, 0, NULL, 0);
	else
		dns_answer_parse(a, q->type, p.rcode, p.secure, p.pkt, p.len);
	if (verbose)
		fprintf(stderr, "query %s type %u: %s (%zu records)%s\n",
		    q->name, q->type, dns_answer_status_str(a->status), a->n,
		    p.done ? "" : " timeout");
	free(p.pkt);
}

/* Print s in double quotes, escaping '"', '\\' and non-printables. */
static void
print_quoted(const char *s)
{
	putchar('"');
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;

		if (c == '"' || c == '\\')
			printf("\\%c", c);
		else if (c < 0x20 || c > 0x7e)
			printf("\\x%02x", c);
		else
			putchar(c);
	}
	putchar('"');
}

static void
usage(void)
{
	fprintf(stderr,
	    "usage: ringmx-spfcheck --ip ADDR (--sender ADDR | --helo NAME)\n"
	    "       [--server ADDR[@PORT]] [--receiver NAME]\n"
	    "       [--explanation TEXT] [--timeout MS] [--verbose]\n");
}

static int
setup(struct ub_ctx *ctx, const char *server)
{
	if (ub_ctx_async(ctx, 1) != 0)
		return -1;
	if (server == NULL)
		return ub_ctx_resolvconf(ctx, NULL) == 0 ? 0 : -1;
	if (ub_ctx_set_fwd(ctx, server) != 0 ||
	    ub_ctx_set_option(ctx, "do-not-query-localhost:", "no") != 0 ||
	    ub_ctx_set_option(ctx, "unblock-lan-zones:", "yes") != 0 ||
	    ub_ctx_set_option(ctx, "insecure-lan-zones:", "yes") != 0)
		return -1;
	for (size_t i = 0;
	     i < sizeof(transparent_zones) / sizeof(transparent_zones[0]);
	     i++) {
		char v[160];

		snprintf(v, sizeof(v), "%s transparent", transparent_zones[i]);
		if (ub_ctx_set_option(ctx, "local-zone:", v) != 0)
			return -1;
	}
	return 0;
}

int
main(int argc, char **argv)
{
	static const struct option opts[] = {
	    {"ip", required_argument, NULL, 'i'},
	    {"sender", required_argument, NULL, 's'},
	    {"helo", required_argument, NULL, 'h'},
	    {"server", required_argument, NULL, 'S'},
	    {"receiver", required_argument, NULL, 'r'},
	    {"explanation", required_argument, NULL, 'e'},
	    {"timeout", required_argument, NULL, 't'},
	    {"verbose", no_argument, NULL, 'v'},
	    {"help", no_argument, NULL, 'H'},
	    {NULL, 0, NULL, 0},
	};
	const char *ip = NULL, *sender = NULL, *helo = NULL, *server = NULL;
	struct spf_eval_opts o = {0};
	unsigned timeout_ms = 5000;
	int verbose = 0, c, family;
	unsigned char addr[16];
	struct ub_ctx *ctx;
	struct spf_eval *ev;
	struct spf_query q;

	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case 'i':
			ip = optarg;
			break;
		case 's':
			sender = optarg;
			break;
		case 'h':
			helo = optarg;
			break;
		case 'S':
			server = optarg;
			break;
		case 'r':
			o.receiver = optarg;
			break;
		case 'e':
			o.default_exp = optarg;
			break;
		case 't': {
			char *end;
			unsigned long v = strtoul(optarg, &end, 10);

			if (*end != '\0' || v == 0 || v > 600000) {
				fprintf(stderr, "bad --timeout: %s\n", optarg);
				return 2;
			}
			timeout_ms = (unsigned)v;
			break;
		}
		case 'v':
			verbose = 1;
			break;
		case 'H':
			usage();
			return 0;
		default:
			usage();
			return 2;
		}
	}
	if (optind != argc || ip == NULL || (sender == NULL && helo == NULL)) {
		usage();
		return 2;
	}
	if (inet_pton(AF_INET, ip, addr) == 1) {
		family = AF_INET;
	} else if (inet_pton(AF_INET6, ip, addr) == 1) {
		family = AF_INET6;
	} else {
		fprintf(stderr, "bad --ip: %s\n", ip);
		return 2;
	}
	if (sender == NULL || strcmp(sender, "<>") == 0)
		sender = "";
	if (helo == NULL)
		helo = "";
	o.now = (uint64_t)time(NULL);
	if ((ctx = ub_ctx_create()) == NULL || setup(ctx, server) != 0) {
		fprintf(stderr, "cannot set up the resolver\n");
		if (ctx != NULL)
			ub_ctx_delete(ctx);
		return 1;
	}
	if ((ev = spf_eval_new(family, addr, sender, helo, &o)) == NULL) {
		fprintf(stderr, "out of memory\n");
		ub_ctx_delete(ctx);
		return 1;
	}
	while (spf_eval_step(ev, &q) == SPF_NEED_DNS) {
		struct dns_answer a;

		resolve(ctx, &q, timeout_ms, &a, verbose);
		spf_eval_answer(ev, &a);
		dns_answer_free(&a);
	}
	printf("result=%s explanation=", spf_result_str(spf_eval_result(ev)));
	print_quoted(spf_eval_explanation(ev));
	printf(" mechanism=%s identity=%s domain=",
	    spf_eval_mechanism(ev)[0] ? spf_eval_mechanism(ev) : "-",
	    spf_eval_identity(ev));
	print_quoted(spf_eval_domain(ev));
	printf(" reason=");
	print_quoted(spf_eval_reason(ev));
	printf(" queries=%u\n", spf_eval_queries(ev));
	spf_eval_free(ev);
	ub_ctx_delete(ctx);
	return 0;
}
