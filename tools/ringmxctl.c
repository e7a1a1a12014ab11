/*
 * ringmxctl.c - the administration tool: one request to ringmx's control
 * socket (docs/control-protocol.md), the answer as an aligned table or,
 * with --json, as the JSON the server sent. Exit status: 0 ok, 1 error
 * (the server said no, or it cannot be reached), 2 usage.
 *
 * The socket: --socket PATH, else $RINGMX_SOCKET, else the control_socket
 * (or <state_dir>/control.sock) of the configuration given with -c, else
 * ./var/control.sock (the embedded default's state directory).
 */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <json-c/json.h>

#include "config.h"

static bool opt_json;

static void
usage(void)
{
	fputs("usage: ringmxctl [--socket PATH | -c CONFIG] [--json] COMMAND\n"
	      "commands:\n"
	      "  status | stats | metrics | plugins | reload\n"
	      "  queue list [--sender A] [--rcpt A] [--domain D]\n"
	      "             [--state active|deferred|held] [--older-than T]"
	      " [--limit N]\n"
	      "  queue summary\n"
	      "  queue show ID [--body]\n"
	      "  queue hold|release|retry|delete|bounce ID... |"
	      " FILTERS [--yes]\n"
	      "  suspend DOMAIN | resume DOMAIN\n"
	      "  pause [ADDRESS] | resume [ADDRESS]   (listeners)\n"
	      "  trace --ip IP | --id QUEUE-ID        (until interrupted)\n"
	      "T: seconds, or a number with s, m, h or d (30m, 2d).\n",
	    stderr);
	exit(2);
}

/* "ringmxctl: <path>: <what>" */
static int
die(const char *path, const char *what)
{
	fprintf(stderr, "ringmxctl: %s: %s\n", path, what);
	return 1;
}

/* "90", "30m", "2h", "1d" -> seconds; -1 if bad. */
static long long
duration(const char *s)
{
	char *end;
	long long v;

	errno = 0;
	v = strtoll(s, &end, 10);
	if (errno != 0 || end == s || v < 0)
		return -1;
	switch (*end) {
	case '\0':
	case 's':
		break;
	case 'm':
		v *= 60;
		break;
	case 'h':
		v *= 3600;
		break;
	case 'd':
		v *= 86400;
		break;
	default:
		return -1;
	}
	if (*end != '\0' && end[1] != '\0')
		return -1;
	return v;
}

/* Send one request line, read one answer line. NULL with a message. */
static json_object *
call(const char *path, json_object *req)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	const char *line =
	    json_object_to_json_string_ext(req, JSON_C_TO_STRING_PLAIN);
	size_t len = strlen(line), cap = 65536, n = 0;
	char *buf = malloc(cap), *nl = NULL;
	json_object *ans;
	bool write_failed = false;

	if (fd < 0 || buf == NULL || strlen(path) >= sizeof(sa.sun_path)) {
		die(path, "cannot use this socket path");
		exit(1);
	}
	memcpy(sa.sun_path, path, strlen(path) + 1);
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0) {
		fprintf(stderr, "ringmxctl: %s: %s (is ringmx running?)\n",
		    path, strerror(errno));
		exit(1);
	}
	/* a write that fails (the server refused us and closed: EPIPE)
	 * still leaves its answer ("denied") to read */
	if (write(fd, line, len) != (ssize_t)len || write(fd, "\n", 1) != 1)
		write_failed = true;
	for (;;) {
		ssize_t r;
		if (n + 1 >= cap) {
			char *nb =
			    cap < (256u << 20) ? realloc(buf, cap * 2) : NULL;
			if (nb == NULL) {
				die(path, "answer too large");
				exit(1);
			}
			buf = nb;
			cap *= 2;
		}
		r = read(fd, buf + n, cap - n - 1);
		if (r <= 0)
			break;
		n += (size_t)r;
		buf[n] = '\0';
		if ((nl = memchr(buf, '\n', n)) != NULL)
			break;
	}
	close(fd);
	if (nl == NULL) {
		die(path, write_failed ? "write failed" : "no answer");
		exit(1);
	}
	*nl = '\0';
	ans = json_tokener_parse(buf);
	if (ans == NULL) {
		die(path, "the answer is not JSON");
		exit(1);
	}
	if (opt_json)
		puts(buf);
	free(buf);
	return ans;
}

static json_object *
get(json_object *o, const char *k)
{
	json_object *v = NULL;

	if (o != NULL)
		json_object_object_get_ex(o, k, &v);
	return v;
}

static const char *
str(json_object *o, const char *k)
{
	json_object *v = get(o, k);

	return v ? json_object_get_string(v) : "";
}

static long long
num(json_object *o, const char *k)
{
	json_object *v = get(o, k);

	return v ? (long long)json_object_get_int64(v) : 0;
}

/* The server's error, printed; returns the exit status. */
static int
check(json_object *ans)
{
	json_object *e;

	if (json_object_get_boolean(get(ans, "ok")))
		return 0;
	e = get(ans, "error");
	if (!opt_json)
		fprintf(stderr, "ringmxctl: %s: %s\n", str(e, "code"),
		    str(e, "message"));
	return 1;
}

static void
age(long long secs, char *out, size_t n)
{
	if (secs < 120)
		snprintf(out, n, "%llds", secs);
	else if (secs < 7200)
		snprintf(out, n, "%lldm", secs / 60);
	else if (secs < 172800)
		snprintf(out, n, "%lldh", secs / 3600);
	else
		snprintf(out, n, "%lldd", secs / 86400);
}

static void
print_status(json_object *r)
{
	json_object *q = get(r, "queue"), *ls = get(r, "listeners");
	char up[32];

	age(num(r, "uptime_s"), up, sizeof(up));
	printf("version      %s\npid          %lld\nhostname     %s\n"
	       "uptime       %s\nworkers      %lld\nconnections  %lld\n",
	    str(r, "version"), num(r, "pid"), str(r, "hostname"), up,
	    num(r, "workers"), num(r, "connections"));
	printf("queue        %lld (active %lld, deferred %lld, held %lld)\n",
	    num(q, "total"), num(q, "active"), num(q, "deferred"),
	    num(q, "held"));
	printf("\n%-28s %-12s %-4s %s\n", "LISTENER", "MODE", "TLS", "STATE");
	for (size_t i = 0; ls && i < json_object_array_length(ls); i++) {
		json_object *l = json_object_array_get_idx(ls, i);
		printf("%-28s %-12s %-4s %s\n", str(l, "address"),
		    str(l, "mode"),
		    json_object_get_boolean(get(l, "tls")) ? "yes" : "no",
		    json_object_get_boolean(get(l, "paused")) ? "paused"
							      : "accepting");
	}
}

static void
print_stats(json_object *r)
{
	json_object *t = get(r, "total"), *ws = get(r, "workers");
	size_t nw = ws ? json_object_array_length(ws) : 0;

	printf("%-28s %12s", "COUNTER", "TOTAL");
	for (size_t w = 0; w < nw; w++)
		printf(" %10s%zu", "W", w);
	putchar('\n');
	json_object_object_foreach(t, k, v)
	{
		printf("%-28s %12lld", k, (long long)json_object_get_int64(v));
		for (size_t w = 0; w < nw; w++)
			printf(" %11lld",
			    num(json_object_array_get_idx(ws, w), k));
		putchar('\n');
	}
}

static void
print_list(json_object *r)
{
	json_object *ms = get(r, "messages");
	time_t now = time(NULL);

	printf("%-16s %-8s %5s %9s %-32s %s\n", "ID", "STATE", "AGE", "SIZE",
	    "SENDER", "RECIPIENTS");
	for (size_t i = 0; ms && i < json_object_array_length(ms); i++) {
		json_object *m = json_object_array_get_idx(ms, i),
			    *rs = get(m, "recipients");
		char a[32];
		age((long long)now - num(m, "received"), a, sizeof(a));
		printf("%-16s %-8s %5s %9lld %-32s", str(m, "id"),
		    str(m, "state"), a, num(m, "size"),
		    str(m, "sender")[0] ? str(m, "sender") : "<>");
		for (size_t k = 0; rs && k < json_object_array_length(rs);
		     k++) {
			json_object *x = json_object_array_get_idx(rs, k);
			if (strcmp(str(x, "state"), "pending") == 0)
				printf(" %s", str(x, "address"));
		}
		putchar('\n');
	}
	if (json_object_get_boolean(get(r, "truncated")))
		puts("(more: use --limit or narrower filters)");
}

static void
print_summary(json_object *r)
{
	json_object *ds = get(r, "domains");
	long long ta = 0, td = 0, th = 0;

	printf("%-40s %8s %8s %8s %8s\n", "DOMAIN", "TOTAL", "ACTIVE",
	    "DEFERRED", "HELD");
	for (size_t i = 0; ds && i < json_object_array_length(ds); i++) {
		json_object *d = json_object_array_get_idx(ds, i);
		long long a = num(d, "active"), df = num(d, "deferred"),
			  h = num(d, "held");
		printf("%-40s %8lld %8lld %8lld %8lld\n", str(d, "domain"),
		    a + df + h, a, df, h);
		ta += a;
		td += df;
		th += h;
	}
	printf("%-40s %8lld %8lld %8lld %8lld\n", "TOTAL", ta + td + th, ta, td,
	    th);
}

static void
print_show(json_object *r)
{
	json_object *rs = get(r, "recipients"), *ns = get(r, "notes");

	printf("id           %s\nstate        %s\nsender       <%s>\n"
	       "size         %lld\nattempts     %lld\nclient       %s (%s)\n",
	    str(r, "id"), str(r, "state"), str(r, "sender"), num(r, "size"),
	    num(r, "attempts"), str(r, "client"), str(r, "helo"));
	for (size_t i = 0; rs && i < json_object_array_length(rs); i++) {
		json_object *x = json_object_array_get_idx(rs, i);
		printf("recipient    <%s> %s, %lld attempts%s%s\n",
		    str(x, "address"), str(x, "state"), num(x, "attempts"),
		    get(x, "last_error") ? ": " : "",
		    get(x, "last_error") ? str(x, "last_error") : "");
	}
	for (size_t i = 0; ns && i < json_object_array_length(ns); i++)
		printf("note         %s\n",
		    json_object_get_string(json_object_array_get_idx(ns, i)));
	printf("\n%s", str(r, "headers"));
	if (get(r, "body") != NULL)
		printf("\n%s%s", str(r, "body"),
		    json_object_get_boolean(get(r, "body_truncated"))
			? "\n(body truncated)\n"
			: "");
}

/* Queue filters from argv into args; other words into ids. */
static int
queue_args(int argc, char **argv, json_object *args, json_object *ids,
    bool *yes, bool *body)
{
	static const struct option lo[] = {{"sender", 1, NULL, 's'},
	    {"rcpt", 1, NULL, 'r'}, {"domain", 1, NULL, 'd'},
	    {"state", 1, NULL, 't'}, {"older-than", 1, NULL, 'o'},
	    {"limit", 1, NULL, 'l'}, {"yes", 0, NULL, 'y'},
	    {"body", 0, NULL, 'b'}, {NULL, 0, NULL, 0}};
	int c;

	/* options and ids in any order ("queue show ID --body"): 0 makes
	 * getopt start afresh with this optstring (no '+': permute) */
	optind = 0;
	while ((c = getopt_long(argc, argv, "", lo, NULL)) != -1) {
		long long v;
		switch (c) {
		case 's':
			json_object_object_add(
			    args, "sender", json_object_new_string(optarg));
			break;
		case 'r':
			json_object_object_add(
			    args, "rcpt", json_object_new_string(optarg));
			break;
		case 'd':
			json_object_object_add(
			    args, "domain", json_object_new_string(optarg));
			break;
		case 't':
			json_object_object_add(
			    args, "state", json_object_new_string(optarg));
			break;
		case 'o':
			if ((v = duration(optarg)) < 0)
				usage();
			json_object_object_add(
			    args, "older_than", json_object_new_int64(v));
			break;
		case 'l':
			v = atoll(optarg);
			if (v <= 0)
				usage();
			json_object_object_add(
			    args, "limit", json_object_new_int64(v));
			break;
		case 'y':
			*yes = true;
			break;
		case 'b':
			*body = true;
			break;
		default:
			usage();
		}
	}
	for (int i = optind; i < argc; i++)
		json_object_array_add(ids, json_object_new_string(argv[i]));
	return 0;
}

static int
run_simple(const char *sock, const char *cmd, json_object *args,
    void (*print)(json_object *))
{
	json_object *req = json_object_new_object(), *ans;
	int rc;

	json_object_object_add(req, "v", json_object_new_int(1));
	json_object_object_add(req, "cmd", json_object_new_string(cmd));
	if (args != NULL)
		json_object_object_add(req, "args", args);
	ans = call(sock, req);
	rc = check(ans);
	if (rc == 0 && !opt_json && print != NULL)
		print(get(ans, "result"));
	json_object_put(req);
	json_object_put(ans);
	return rc;
}

static void
print_metrics(json_object *r)
{
	fputs(str(r, "text"), stdout);
}

static void
print_plugins(json_object *r)
{
	printf("%-16s %-10s %-5s %s\n", "PLUGIN", "VERSION", "ABI", "HOOKS");
	for (size_t i = 0; r && i < json_object_array_length(r); i++) {
		json_object *p = json_object_array_get_idx(r, i),
			    *hk = get(p, "hooks");
		printf("%-16s %-10s %-5s", str(p, "name"), str(p, "version"),
		    str(p, "abi"));
		for (size_t k = 0; hk && k < json_object_array_length(hk); k++)
			printf("%s%s", k ? "," : " ",
			    json_object_get_string(
				json_object_array_get_idx(hk, k)));
		putchar('\n');
	}
}

static void
print_done(json_object *r)
{
	if (json_object_is_type(r, json_type_string))
		puts(json_object_get_string(r));
	else if (json_object_is_type(r, json_type_array))
		for (size_t i = 0; i < json_object_array_length(r); i++)
			printf("%s\n", json_object_get_string(
					   json_object_array_get_idx(r, i)));
	else
		puts("ok");
}

static int
queue_change(const char *sock, const char *op, int argc, char **argv)
{
	json_object *args = json_object_new_object(),
		    *ids = json_object_new_array(),
		    *req = json_object_new_object(), *ans, *r, *f;
	bool yes = false, body = false;
	char cmd[32];
	int rc;

	queue_args(argc, argv, args, ids, &yes, &body);
	if (json_object_array_length(ids) > 0)
		json_object_object_add(args, "ids", ids);
	else
		json_object_put(ids);
	if (json_object_object_length(args) == 0)
		usage();
	json_object_object_add(args, "confirm", json_object_new_boolean(yes));
	snprintf(cmd, sizeof(cmd), "queue.%s", op);
	json_object_object_add(req, "v", json_object_new_int(1));
	json_object_object_add(req, "cmd", json_object_new_string(cmd));
	json_object_object_add(req, "args", args);
	ans = call(sock, req);
	rc = check(ans);
	r = get(ans, "result");
	if (rc == 0 && json_object_get_boolean(get(r, "confirm_needed"))) {
		if (!opt_json)
			printf("%lld messages match; nothing done: add --yes "
			       "to %s them\n",
			    num(r, "matched"), op);
		rc = 1;
	} else if (rc == 0) {
		f = get(r, "failed");
		if (!opt_json) {
			printf("%s: %lld of %lld done\n", op, num(r, "done"),
			    num(r, "matched"));
			for (size_t i = 0; f && i < json_object_array_length(f);
			     i++) {
				json_object *x =
				    json_object_array_get_idx(f, i);
				printf("  %s: %s\n", str(x, "id"),
				    str(x, "error"));
			}
		}
		if (f != NULL && json_object_array_length(f) > 0)
			rc = 1;
	}
	json_object_put(req);
	json_object_put(ans);
	return rc;
}

/* Stream the log lines of one client IP or queue id until EOF/^C. */
static int
trace(const char *path, const char *key, const char *val)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	char req[512], buf[65536];
	size_t n = 0;
	bool first = true;

	if (fd < 0 || strlen(path) >= sizeof(sa.sun_path))
		return die(path, "cannot use this socket path");
	memcpy(sa.sun_path, path, strlen(path) + 1);
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0) {
		fprintf(stderr, "ringmxctl: %s: %s (is ringmx running?)\n",
		    path, strerror(errno));
		return 1;
	}
	snprintf(req, sizeof(req),
	    "{\"v\":1,\"cmd\":\"trace\",\"args\":{\"%s\":\"%s\"}}\n", key, val);
	if (write(fd, req, strlen(req)) != (ssize_t)strlen(req))
		return die(path, "write failed");
	setvbuf(stdout, NULL, _IOLBF, 0);
	for (;;) {
		ssize_t r = read(fd, buf + n, sizeof(buf) - 1 - n);
		char *nl;
		if (r <= 0)
			break;
		n += (size_t)r;
		buf[n] = '\0';
		while ((nl = memchr(buf, '\n', n)) != NULL) {
			json_object *o;
			*nl = '\0';
			o = json_tokener_parse(buf);
			if (opt_json)
				puts(buf);
			else if (first && o != NULL && check(o) != 0)
				return 1;
			else if (!first && o != NULL)
				puts(str(o, "trace"));
			first = false;
			json_object_put(o);
			n -= (size_t)(nl + 1 - buf);
			memmove(buf, nl + 1, n);
		}
		if (n == sizeof(buf) - 1)
			n = 0; /* an absurd line: drop it */
	}
	close(fd);
	return 0;
}

static const char *
socket_path(const char *opt, const char *cfgpath, char *buf, size_t n)
{
	struct rmx_config *cfg;
	char err[1024];

	if (opt != NULL)
		return opt;
	if (getenv("RINGMX_SOCKET") != NULL)
		return getenv("RINGMX_SOCKET");
	if (cfgpath != NULL) {
		if ((cfg = config_load(cfgpath, err, sizeof(err))) == NULL) {
			fprintf(stderr, "ringmxctl: %s\n", err);
			exit(1);
		}
		if (cfg->control_socket != NULL)
			snprintf(buf, n, "%s", cfg->control_socket);
		else
			snprintf(buf, n, "%s/control.sock", cfg->state_dir);
		config_free(cfg);
		return buf;
	}
	return "./var/control.sock";
}

int
main(int argc, char **argv)
{
	static const struct option lo[] = {{"socket", 1, NULL, 'S'},
	    {"json", 0, NULL, 'j'}, {"config", 1, NULL, 'c'},
	    {"help", 0, NULL, 'h'}, {NULL, 0, NULL, 0}};
	const char *sockopt = NULL, *cfgpath = NULL, *sock, *cmd;
	char buf[4096];
	int c;

	signal(SIGPIPE, SIG_IGN); /* a closed socket is an error, not death */
	while ((c = getopt_long(argc, argv, "+c:jh", lo, NULL)) != -1) {
		switch (c) {
		case 'S':
			sockopt = optarg;
			break;
		case 'c':
			cfgpath = optarg;
			break;
		case 'j':
			opt_json = true;
			break;
		default:
			usage();
		}
	}
	if (optind >= argc)
		usage();
	sock = socket_path(sockopt, cfgpath, buf, sizeof(buf));
	cmd = argv[optind];
	argc -= optind;
	argv += optind;
	if (strcmp(cmd, "status") == 0 && argc == 1)
		return run_simple(sock, "status", NULL, print_status);
	if (strcmp(cmd, "stats") == 0 && argc == 1)
		return run_simple(sock, "stats", NULL, print_stats);
	if (strcmp(cmd, "metrics") == 0 && argc == 1)
		return run_simple(sock, "metrics", NULL, print_metrics);
	if (strcmp(cmd, "plugins") == 0 && argc == 1)
		return run_simple(sock, "plugins", NULL, print_plugins);
	if (strcmp(cmd, "reload") == 0 && argc == 1)
		return run_simple(sock, "reload", NULL, print_done);
	if ((strcmp(cmd, "suspend") == 0 || strcmp(cmd, "resume") == 0) &&
	    argc == 2 && strchr(argv[1], ':') == NULL) {
		json_object *a = json_object_new_object();
		json_object_object_add(
		    a, "domain", json_object_new_string(argv[1]));
		return run_simple(sock, cmd, a, print_done);
	}
	if ((strcmp(cmd, "pause") == 0 || strcmp(cmd, "resume") == 0) &&
	    argc <= 2) {
		json_object *a = json_object_new_object();
		if (argc == 2)
			json_object_object_add(
			    a, "listener", json_object_new_string(argv[1]));
		return run_simple(
		    sock, cmd[0] == 'p' ? "pause" : "unpause", a, print_done);
	}
	if (strcmp(cmd, "trace") == 0 && argc == 3 &&
	    (strcmp(argv[1], "--ip") == 0 || strcmp(argv[1], "--id") == 0))
		return trace(sock, argv[1] + 2, argv[2]);
	if (strcmp(cmd, "queue") == 0 && argc >= 2) {
		const char *sub = argv[1];
		json_object *args = json_object_new_object(),
			    *ids = json_object_new_array();
		bool yes = false, body = false;
		if (strcmp(sub, "list") == 0) {
			queue_args(argc - 1, argv + 1, args, ids, &yes, &body);
			if (json_object_array_length(ids) > 0)
				usage();
			json_object_put(ids);
			return run_simple(sock, "queue.list", args, print_list);
		}
		if (strcmp(sub, "summary") == 0 && argc == 2) {
			json_object_put(args);
			json_object_put(ids);
			return run_simple(
			    sock, "queue.summary", NULL, print_summary);
		}
		if (strcmp(sub, "show") == 0) {
			queue_args(argc - 1, argv + 1, args, ids, &yes, &body);
			if (json_object_array_length(ids) != 1)
				usage();
			json_object_object_add(args, "id",
			    json_object_get(json_object_array_get_idx(ids, 0)));
			json_object_object_add(
			    args, "body", json_object_new_boolean(body));
			json_object_put(ids);
			return run_simple(sock, "queue.show", args, print_show);
		}
		json_object_put(args);
		json_object_put(ids);
		if (strcmp(sub, "hold") == 0 || strcmp(sub, "release") == 0 ||
		    strcmp(sub, "retry") == 0 || strcmp(sub, "delete") == 0 ||
		    strcmp(sub, "bounce") == 0)
			return queue_change(sock, sub, argc - 1, argv + 1);
	}
	usage();
	return 2;
}
