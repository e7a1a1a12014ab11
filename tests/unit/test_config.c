/*
 * test_config.c - unit tests for core/config.c: defaults, every key,
 * @include, error messages (file, line, key) for unknown keys, wrong
 * types and bad values, size suffixes, RFC minimums, print/load
 * round-trip and local domain matching.
 *
 * Not here: anything that acts on a configuration (listeners, storage).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <syslog.h>
#include <unistd.h>

#include "config.h"

#define KIB ((uint64_t)1024)
#define MIB (KIB * 1024)
#define GIB (MIB * 1024)

/* libconfig 1.5's parser leaks the pending string token on some syntax
 * errors (e.g. a bare "x" where a name is expected); that is not ours. */
const char *__lsan_default_suppressions(void);
const char *
__lsan_default_suppressions(void)
{
	return "leak:libconfig.so\n";
}

#define LISTENER "listeners = ( { address = \"127.0.0.1:2525\"; } );\n"

static char err[1024];

static struct rmx_config *
load_ok(const char *text)
{
	struct rmx_config *cfg;

	err[0] = '\0';
	cfg = config_load_string(text, "test.cfg", err, sizeof(err));
	if (cfg == NULL)
		fail_msg("unexpected error: %s\n--- text:\n%s", err, text);
	return cfg;
}

/* Expect text to fail with an error containing every given piece. */
static void
expect_err_list(const char *text, const char *const *pieces)
{
	struct rmx_config *cfg;

	err[0] = '\0';
	cfg = config_load_string(text, "test.cfg", err, sizeof(err));
	if (cfg != NULL) {
		config_free(cfg);
		fail_msg("accepted, expected error with \"%s\":\n%s", pieces[0],
		    text);
	}
	for (; *pieces != NULL; pieces++)
		if (strstr(err, *pieces) == NULL)
			fail_msg("error \"%s\" lacks \"%s\"\n--- text:\n%s",
			    err, *pieces, text);
}
#define expect_err(text, ...) \
	expect_err_list(text, (const char *const[]){__VA_ARGS__, NULL})

static void
write_file(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");

	assert_non_null(f);
	assert_int_equal(fputs(text, f) >= 0, 1);
	assert_int_equal(fclose(f), 0);
}

/* Tests that write files get a fresh directory, removed afterwards even
 * when the test fails. */
static int
tmpdir_setup(void **state)
{
	char tmpl[] = "/tmp/test_config.XXXXXX";

	if (mkdtemp(tmpl) == NULL)
		return -1;
	*state = strdup(tmpl);
	return *state == NULL ? -1 : 0;
}

static int
tmpdir_teardown(void **state)
{
	char cmd[512];
	int rc;

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", (char *)*state);
	rc = system(cmd);
	free(*state);
	return rc == 0 ? 0 : -1;
}

static char *
print_to_string(const struct rmx_config *cfg)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);

	assert_non_null(f);
	config_print(cfg, f);
	assert_int_equal(fclose(f), 0);
	return buf;
}

static unsigned
port_of(const struct rmx_listener_cfg *l)
{
	if (l->addr.ss_family == AF_INET)
		return ntohs(((const struct sockaddr_in *)&l->addr)->sin_port);
	return ntohs(((const struct sockaddr_in6 *)&l->addr)->sin6_port);
}

static void
test_embedded_defaults(void **state)
{
	struct rmx_config *cfg;
	const struct sockaddr_in *a;
	long cpus = sysconf(_SC_NPROCESSORS_ONLN);

	(void)state;
	cfg = config_load(NULL, err, sizeof(err));
	assert_non_null(cfg);
	assert_string_equal(cfg->source, "<embedded>");
	assert_non_null(cfg->hostname);
	assert_true(strlen(cfg->hostname) > 0);
	assert_int_equal(cfg->workers, cpus < 1     ? 1
				       : cpus > 256 ? 256
						    : (unsigned)cpus);
	assert_string_equal(cfg->state_dir, "./var");
	assert_string_equal(cfg->maildir_root, "./var/mail");
	assert_null(cfg->log_file);
	assert_int_equal(cfg->log_level, LOG_INFO);
	assert_false(cfg->hold);
	assert_true(cfg->pin_workers);
	assert_int_equal(cfg->queue_map_size, 4 * GIB);

	assert_int_equal(cfg->nlisteners, 1);
	assert_string_equal(cfg->listeners[0].address, "127.0.0.1:2525");
	assert_int_equal(cfg->listeners[0].mode, LISTEN_SMTP);
	assert_int_equal(cfg->listeners[0].addrlen, sizeof(struct sockaddr_in));
	a = (const struct sockaddr_in *)&cfg->listeners[0].addr;
	assert_int_equal(a->sin_family, AF_INET);
	assert_int_equal(ntohs(a->sin_port), 2525);
	assert_int_equal(ntohl(a->sin_addr.s_addr), 0x7f000001);

	assert_int_equal(cfg->nlocal_domains, 1);
	assert_string_equal(cfg->local_domains[0], "localhost");

	assert_int_equal(cfg->limits.line_max, 512);
	assert_int_equal(cfg->limits.text_line_max, 1000);
	assert_int_equal(cfg->limits.header_max, MIB);
	assert_int_equal(cfg->limits.message_max, 50 * MIB);
	assert_int_equal(cfg->limits.rcpt_max, 1000);
	assert_int_equal(cfg->limits.conn_max, 10000);
	assert_int_equal(cfg->limits.conn_per_ip, 50);
	assert_int_equal(cfg->limits.cmds_max, 10000);
	assert_int_equal(cfg->limits.errors_max, 20);
	assert_int_equal(cfg->limits.hops_max, 100);
	assert_int_equal(cfg->limits.timeout_command, 300);
	assert_int_equal(cfg->limits.timeout_data, 180);
	assert_int_equal(cfg->limits.timeout_session, 3600);
	assert_int_equal(cfg->limits.shutdown_grace, 30);
	config_free(cfg);
}

/* Keys left out take their defaults; maildir_root follows state_dir. */
static void
test_minimal_defaults(void **state)
{
	struct rmx_config *cfg;

	(void)state;
	cfg = load_ok(LISTENER "state_dir = \"/srv/ringmx\";\n");
	assert_string_equal(cfg->source, "test.cfg");
	assert_string_equal(cfg->state_dir, "/srv/ringmx");
	assert_string_equal(cfg->maildir_root, "/srv/ringmx/mail");
	assert_int_equal(cfg->nlocal_domains, 1);
	assert_string_equal(cfg->local_domains[0], "localhost");
	assert_int_equal(cfg->limits.message_max, 50 * MIB);
	config_free(cfg);

	cfg = load_ok(LISTENER);
	assert_string_equal(cfg->state_dir, "./var");
	assert_string_equal(cfg->maildir_root, "./var/mail");
	config_free(cfg);
}

static const char full_text[] =
    "# every key, none at its default\n"
    "hostname = \"MX1.Example.ORG.\";\n"
    "workers = 3;\n"
    "pin_workers = false;\n"
    "state_dir = \"/var/lib/ringmx\";\n"
    "maildir_root = \"/home/mail\";\n"
    "log_file = \"/var/log/ringmx.log\";\n"
    "log_level = \"debug\";\n"
    "hold = true;\n"
    "queue_map_size = \"64M\";\n"
    "listeners = (\n"
    "  { address = \"0.0.0.0:25\"; },\n"
    "  { address = \"[::1]:587\"; mode = \"submission\"; },\n"
    "  { address = \"[2001:db8::7]:465\"; mode = \"submissions\";\n"
    "    tls = { certificates = ( { cert = \"/etc/ringmx/mx.pem\";\n"
    "      key = \"/etc/ringmx/mx.key\"; },\n"
    "      { cert = \"b.pem\"; key = \"b.key\"; } );\n"
    "      min_version = \"TLSv1.3\"; handshake_timeout = 9;\n"
    "      ciphers = \"TLS13-AES128-GCM-SHA256\"; }; }\n"
    ");\n"
    "local_domains = [ \"Example.ORG\", \"mail.example.net.\" ];\n"
    "limits = {\n"
    "  line_max = 1024;\n"
    "  text_line_max = \"2K\";\n"
    "  header_max = 65536;\n"
    "  message_max = 5000000000L;\n"
    "  rcpt_max = 200;\n"
    "  conn_max = 500;\n"
    "  conn_per_ip = 5;\n"
    "  cmds_max = 300;\n"
    "  errors_max = 7;\n"
    "  hops_max = 40;\n"
    "  timeout_command = 60;\n"
    "  timeout_data = 120;\n"
    "  timeout_session = 900;\n"
    "  shutdown_grace = 5;\n"
    "};\n";

static void
check_full(const struct rmx_config *cfg)
{
	const struct sockaddr_in6 *a6;
	struct in6_addr want;

	assert_string_equal(cfg->hostname, "MX1.Example.ORG");
	assert_int_equal(cfg->workers, 3);
	assert_false(cfg->pin_workers);
	assert_string_equal(cfg->state_dir, "/var/lib/ringmx");
	assert_string_equal(cfg->maildir_root, "/home/mail");
	assert_string_equal(cfg->log_file, "/var/log/ringmx.log");
	assert_int_equal(cfg->log_level, LOG_DEBUG);
	assert_true(cfg->hold);
	assert_int_equal(cfg->queue_map_size, 64 * MIB);

	assert_int_equal(cfg->nlisteners, 3);
	assert_string_equal(cfg->listeners[0].address, "0.0.0.0:25");
	assert_int_equal(cfg->listeners[0].mode, LISTEN_SMTP);
	assert_int_equal(cfg->listeners[0].addr.ss_family, AF_INET);
	assert_int_equal(port_of(&cfg->listeners[0]), 25);
	assert_int_equal(cfg->listeners[1].mode, LISTEN_SUBMISSION);
	assert_int_equal(cfg->listeners[1].addr.ss_family, AF_INET6);
	assert_int_equal(
	    cfg->listeners[1].addrlen, sizeof(struct sockaddr_in6));
	assert_int_equal(port_of(&cfg->listeners[1]), 587);
	assert_int_equal(cfg->listeners[2].mode, LISTEN_SUBMISSIONS);
	assert_int_equal(cfg->listeners[2].tls.ncerts, 2);
	assert_string_equal(
	    cfg->listeners[2].tls.cert[0], "/etc/ringmx/mx.pem");
	assert_string_equal(cfg->listeners[2].tls.key[1], "b.key");
	assert_int_equal(cfg->listeners[2].tls.min_version, 13);
	assert_int_equal(cfg->listeners[2].tls.handshake_timeout, 9);
	assert_string_equal(
	    cfg->listeners[2].tls.ciphers, "TLS13-AES128-GCM-SHA256");
	assert_int_equal(cfg->listeners[0].tls.ncerts, 0);
	assert_int_equal(port_of(&cfg->listeners[2]), 465);
	a6 = (const struct sockaddr_in6 *)&cfg->listeners[2].addr;
	assert_int_equal(inet_pton(AF_INET6, "2001:db8::7", &want), 1);
	assert_memory_equal(&a6->sin6_addr, &want, sizeof(want));

	assert_int_equal(cfg->nlocal_domains, 2);
	assert_string_equal(cfg->local_domains[0], "example.org");
	assert_string_equal(cfg->local_domains[1], "mail.example.net");

	assert_int_equal(cfg->limits.line_max, 1024);
	assert_int_equal(cfg->limits.text_line_max, 2048);
	assert_int_equal(cfg->limits.header_max, 65536);
	assert_int_equal(cfg->limits.message_max, 5000000000ULL);
	assert_int_equal(cfg->limits.rcpt_max, 200);
	assert_int_equal(cfg->limits.conn_max, 500);
	assert_int_equal(cfg->limits.conn_per_ip, 5);
	assert_int_equal(cfg->limits.cmds_max, 300);
	assert_int_equal(cfg->limits.errors_max, 7);
	assert_int_equal(cfg->limits.hops_max, 40);
	assert_int_equal(cfg->limits.timeout_command, 60);
	assert_int_equal(cfg->limits.timeout_data, 120);
	assert_int_equal(cfg->limits.timeout_session, 900);
	assert_int_equal(cfg->limits.shutdown_grace, 5);
}

static void
test_full_file(void **state)
{
	const char *dir = *state;
	char path[256];
	struct rmx_config *cfg;

	snprintf(path, sizeof(path), "%s/ringmx.conf", dir);
	write_file(path, full_text);
	cfg = config_load(path, err, sizeof(err));
	if (cfg == NULL)
		fail_msg("%s", err);
	assert_string_equal(cfg->source, path);
	check_full(cfg);
	config_free(cfg);
}

static void
test_include_relative(void **state)
{
	const char *dir = *state;
	char path[256], cwd[1024], want[512];
	struct rmx_config *cfg;

	snprintf(path, sizeof(path), "%s/etc", dir);
	assert_int_equal(mkdir(path, 0755), 0);
	snprintf(path, sizeof(path), "%s/etc/conf.d", dir);
	assert_int_equal(mkdir(path, 0755), 0);
	snprintf(path, sizeof(path), "%s/etc/conf.d/listen.cfg", dir);
	write_file(path,
	    "listeners = (\n"
	    "  { address = \"127.0.0.1:2600\"; mode = \"submission\"; }\n"
	    ");\n");
	snprintf(path, sizeof(path), "%s/etc/conf.d/limits.cfg", dir);
	write_file(path, "rcpt_max = 77;\nmessage_max = \"3M\";\n");
	snprintf(path, sizeof(path), "%s/etc/conf.d/bad.cfg", dir);
	write_file(path, "rcpt_max = 77;\n\nrcpt_maxx = 1;\n");
	snprintf(path, sizeof(path), "%s/etc/ringmx.conf", dir);
	write_file(path, "hold = true;\n"
			 "@include \"conf.d/listen.cfg\"\n"
			 "limits = {\n"
			 "@include \"conf.d/limits.cfg\"\n"
			 "};\n");

	/* Relative to the file, not to the working directory. */
	assert_non_null(getcwd(cwd, sizeof(cwd)));
	assert_int_equal(chdir("/"), 0);
	cfg = config_load(path, err, sizeof(err));
	assert_int_equal(chdir(cwd), 0);
	if (cfg == NULL)
		fail_msg("%s", err);
	assert_true(cfg->hold);
	assert_int_equal(cfg->nlisteners, 1);
	assert_string_equal(cfg->listeners[0].address, "127.0.0.1:2600");
	assert_int_equal(cfg->listeners[0].mode, LISTEN_SUBMISSION);
	assert_int_equal(cfg->limits.rcpt_max, 77);
	assert_int_equal(cfg->limits.message_max, 3 * MIB);
	config_free(cfg);

	/* An error inside an included file names that file and line. */
	write_file(path, LISTENER "limits = {\n"
				  "@include \"conf.d/bad.cfg\"\n"
				  "};\n");
	cfg = config_load(path, err, sizeof(err));
	assert_null(cfg);
	snprintf(want, sizeof(want), "%s/etc/conf.d/bad.cfg:3: ", dir);
	if (strstr(err, want) == NULL)
		fail_msg("\"%s\" lacks \"%s\"", err, want);
	assert_non_null(strstr(err, "limits.rcpt_maxx: unknown key"));

	/* So does a wrapped integer literal in an included file. */
	snprintf(want, sizeof(want), "%s/etc/conf.d/wide.cfg", dir);
	write_file(want, "rcpt_max = 5;\nmessage_max =\n  5000000000;\n");
	write_file(path, LISTENER "limits = {\n"
				  "@include \"conf.d/wide.cfg\"\n"
				  "};\n");
	cfg = config_load(path, err, sizeof(err));
	assert_null(cfg);
	snprintf(want, sizeof(want),
	    "%s/etc/conf.d/wide.cfg:3: limits.message_max: integer 5000000000",
	    dir);
	if (strstr(err, want) == NULL)
		fail_msg("\"%s\" lacks \"%s\"", err, want);

	/* A missing include is a parse error naming the including file. */
	write_file(path, LISTENER "\n@include \"conf.d/none.cfg\"\n");
	cfg = config_load(path, err, sizeof(err));
	assert_null(cfg);
	assert_non_null(strstr(err, "ringmx.conf:3: "));
	assert_non_null(strstr(err, "include"));
}

static void
test_unknown_keys(void **state)
{
	const char *dir = *state;
	char path[256];
	struct rmx_config *cfg;

	/* Top level, through a real file so the file name is the path. */
	snprintf(path, sizeof(path), "%s/unknown.conf", dir);
	write_file(path, LISTENER "hold = false;\n"
				  "holdd = true;\n");
	cfg = config_load(path, err, sizeof(err));
	assert_null(cfg);
	assert_non_null(strstr(err, path));
	assert_non_null(strstr(err, "unknown.conf:3: holdd: unknown key"));

	expect_err("listeners = (\n"
		   "  { address = \"127.0.0.1:25\"; },\n"
		   "  { address = \"127.0.0.1:26\";\n"
		   "    colour = \"blue\"; }\n"
		   ");\n",
	    "test.cfg:4: ", "listeners.[1].colour", "unknown key");
	expect_err(LISTENER "limits = {\n"
			    "  line_max = 600;\n"
			    "  message_maxx = 5;\n"
			    "};\n",
	    "test.cfg:4: ", "limits.message_maxx", "unknown key");
	/* Keys of one group are not known in another. */
	expect_err(LISTENER "limits = { hold = true; };\n",
	    "test.cfg:2: ", "limits.hold: unknown key");
	expect_err(LISTENER "rcpt_max = 10;\n",
	    "test.cfg:2: ", "rcpt_max: unknown key");
}

static void
test_tls_errors(void **state)
{
	(void)state;
	expect_err("listeners = ( { address = \"127.0.0.1:25\";\n"
		   "  tls = { certificates = ( { cert = \"a\"; } ); }; } );\n",
	    "test.cfg:2", "cert and key are both required");
	expect_err("listeners = ( { address = \"127.0.0.1:25\";\n"
		   "  tls = { min_version = \"TLSv1.2\"; }; } );\n",
	    "test.cfg:2", "certificates is required");
	expect_err("listeners = ( { address = \"127.0.0.1:25\";\n"
		   "  tls = { certificates = ( { cert = \"a\"; key = \"b\"; "
		   "} );\n min_version = \"TLSv1.1\"; }; } );\n",
	    "test.cfg:3", "TLSv1.2");
	expect_err("listeners = ( { address = \"127.0.0.1:25\";\n"
		   "  tls = { certificates = ( { cert = \"a\"; key = \"b\"; "
		   "} );\n colour = 1; }; } );\n",
	    "test.cfg:3", "unknown key");
	expect_err("listeners = ( { address = \"127.0.0.1:465\"; "
		   "mode = \"submissions\"; } );\n",
	    "submissions", "needs a tls group");
}

static void
test_wrong_types(void **state)
{
	(void)state;
	expect_err(LISTENER "workers = \"4\";\n",
	    "test.cfg:2: ", "workers: expected an integer, got a string");
	expect_err(
	    LISTENER "hold = 1;\n", "test.cfg:2: ", "hold: expected a boolean");
	expect_err(LISTENER "state_dir = 5;\n",
	    "test.cfg:2: ", "state_dir: expected a string, got an integer");
	expect_err(LISTENER "log_level = 7;\n",
	    "test.cfg:2: ", "log_level: expected a string");
	expect_err(LISTENER "limits = 5;\n",
	    "test.cfg:2: ", "limits: expected a group");
	expect_err(LISTENER "limits = { rcpt_max = 1.5; };\n", "test.cfg:2: ",
	    "limits.rcpt_max: expected an integer, got a float");
	expect_err(LISTENER "limits = { message_max = true; };\n",
	    "test.cfg:2: ", "limits.message_max: expected a size");
	expect_err(LISTENER "local_domains = \"example.org\";\n",
	    "test.cfg:2: ", "local_domains: expected an array");
	expect_err(LISTENER "local_domains = [ 1, 2 ];\n",
	    "test.cfg:2: ", "local_domains.[0]: expected a string");
	expect_err("listeners = { address = \"127.0.0.1:25\"; };\n",
	    "test.cfg:1: ", "listeners: expected a list");
	expect_err("listeners = ( \"127.0.0.1:25\" );\n",
	    "test.cfg:1: ", "listeners.[0]: expected a group");
	expect_err("listeners = ( { address = 25; } );\n",
	    "test.cfg:1: ", "listeners.[0].address: expected a string");
	expect_err(LISTENER "hostname = [ \"a\" ];\n",
	    "test.cfg:2: ", "hostname: expected a string, got an array");
}

static void
test_bad_addresses(void **state)
{
	static const struct {
		const char *addr, *why;
	} bad[] = {
	    {"127.0.0.1", "missing \":port\""},
	    {"127.0.0.1:", "missing port"},
	    {"127.0.0.1:0", "1 to 65535"},
	    {"127.0.0.1:65536", "1 to 65535"},
	    {"127.0.0.1:99999999", "1 to 65535"},
	    {"127.0.0.1:-1", "1 to 65535"},
	    {"127.0.0.1:25x", "1 to 65535"},
	    {"127.0.0.1: 25", "1 to 65535"},
	    {"999.0.0.1:25", "not an IPv4 address"},
	    {"127.0.0:25", "not an IPv4 address"},
	    {"localhost:25", "not an IPv4 address"},
	    {":25", "not an IPv4 address"},
	    {"::1:25", "must be written in brackets"},
	    {"2001:db8::1:25", "must be written in brackets"},
	    {"[::1]", "missing \":port\""},
	    {"[::1]25", "missing \":port\""},
	    {"[::1:25", "missing ']'"},
	    {"[::1]:0", "1 to 65535"},
	    {"[127.0.0.1]:25", "not an IPv6 address"},
	    {"[fe80::1%eth0]:25", "not an IPv6 address"},
	    {"[]:25", "not an IPv6 address"},
	    {"", "missing \":port\""},
	};
	char text[256], quoted[64];

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		snprintf(text, sizeof(text),
		    "hold = false;\n"
		    "listeners = ( { mode = \"smtp\";\n"
		    "                address = \"%s\"; } );\n",
		    bad[i].addr);
		snprintf(quoted, sizeof(quoted), "\"%s\"", bad[i].addr);
		expect_err(text,
		    "test.cfg:3: ", "listeners.[0].address: ", quoted,
		    bad[i].why);
	}
	expect_err("listeners = ( { mode = \"smtp\"; } );\n",
	    "test.cfg:1: ", "listeners.[0]: address is required");
	expect_err("listeners = ( );\n",
	    "test.cfg:1: ", "listeners: at least one listener");
	expect_err("hold = true;\n",
	    "test.cfg: ", "listeners: ", "at least one listener");
}

static void
test_bad_mode(void **state)
{
	(void)state;
	expect_err("listeners = (\n"
		   "  { address = \"127.0.0.1:25\";\n"
		   "    mode = \"lmtp\"; }\n"
		   ");\n",
	    "test.cfg:3: ", "listeners.[0].mode: ", "\"lmtp\"",
	    "not a listener mode");
	expect_err("listeners = ( { address = \"127.0.0.1:25\"; "
		   "mode = \"SMTP\"; } );\n",
	    "test.cfg:1: ", "listeners.[0].mode");
}

static void
test_duplicate_listener(void **state)
{
	(void)state;
	expect_err("listeners = (\n"
		   "  { address = \"127.0.0.1:25\"; },\n"
		   "  { address = \"127.0.0.1:587\"; },\n"
		   "  { mode = \"submission\";\n"
		   "    address = \"127.0.0.1:25\"; }\n"
		   ");\n",
	    "test.cfg:5: ", "listeners.[2].address: ",
	    "duplicates listeners.[0]");
	/* The same address spelt differently is still the same. */
	expect_err("listeners = (\n"
		   "  { address = \"[::1]:25\"; },\n"
		   "  { address = \"[0:0:0:0:0:0:0:1]:25\"; }\n"
		   ");\n",
	    "test.cfg:3: ", "listeners.[1].address", "duplicates");
	/* Same IP, other port; same port, other family: both fine. */
	config_free(load_ok("listeners = (\n"
			    "  { address = \"127.0.0.1:25\"; },\n"
			    "  { address = \"127.0.0.1:26\"; },\n"
			    "  { address = \"[::1]:25\"; },\n"
			    "  { address = \"[::]:25\"; }\n"
			    ");\n"));
}

static void
test_size_suffixes(void **state)
{
	static const struct {
		const char *text;
		uint64_t want;
	} good[] = {
	    {"2048", 2048},
	    {"\"2048\"", 2048},
	    {"\"10K\"", 10 * KIB},
	    {"\"10k\"", 10 * KIB},
	    {"\"5M\"", 5 * MIB},
	    {"\"5m\"", 5 * MIB},
	    {"\"2G\"", 2 * GIB},
	    {"\"1024G\"", 1024 * GIB},
	    {"5000000000L", 5000000000ULL},
	    {"0x100000", 0x100000},
	    {"0x200000000L", 0x200000000ULL},
	};
	static const struct {
		const char *text, *why;
	} bad[] = {
	    {"\"10X\"", "is not a size"},
	    {"\"10KB\"", "is not a size"},
	    {"\"\"", "is not a size"},
	    {"\"K\"", "is not a size"},
	    {"\" 10K\"", "is not a size"},
	    {"\"-5M\"", "is not a size"},
	    {"\"1.5M\"", "is not a size"},
	    {"-5", "must not be negative"},
	    {"\"99999999999999999999\"", "too large"},
	    {"\"99999999999G\"", "too large"},
	    {"5000000000", "does not fit in 32 bits"},
	    {"-3000000000", "does not fit in 32 bits"},
	    {"0x100000000", "does not fit in 32 bits"},
	    {"99999999999999999999L", "does not fit in 64 bits"},
	    {"1000000000000000000000000000000000000000L", "does not fit"},
	    {"0x10000000000000000000000000000000000000L", "does not fit"},
	};
	char text[512];

	(void)state;
	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		struct rmx_config *cfg;

		snprintf(text, sizeof(text),
		    LISTENER "limits = {\n  message_max = %s;\n};\n",
		    good[i].text);
		cfg = load_ok(text);
		if (cfg->limits.message_max != good[i].want)
			fail_msg("%s gave %llu", good[i].text,
			    (unsigned long long)cfg->limits.message_max);
		config_free(cfg);
	}
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		snprintf(text, sizeof(text),
		    LISTENER "limits = {\n  message_max = %s;\n};\n",
		    bad[i].text);
		expect_err(
		    text, "test.cfg:3: ", "limits.message_max: ", bad[i].why);
	}
	/* The same rules for queue_map_size, a size_t. */
	{
		struct rmx_config *cfg =
		    load_ok(LISTENER "queue_map_size = \"16G\";\n");

		assert_int_equal(cfg->queue_map_size, 16 * GIB);
		config_free(cfg);
	}
	/* A wrapped literal is caught whatever key it is in. */
	expect_err(LISTENER "workers = 4294967297;\n",
	    "test.cfg:2: ", "workers: integer 4294967297 does not fit");
	/* ... but numbers in strings and names are not literals. */
	config_free(load_ok(LISTENER "state_dir = \"/v/99999999999\";\n"
				     "# 99999999999 in a comment\n"
				     "/* 99999999999 */ hold = false;\n"));
}

static void
test_limits_minimums(void **state)
{
	static const struct {
		const char *key, *low, *ok;
	} rows[] = {
	    {"line_max", "511", "512"},
	    {"text_line_max", "999", "1000"},
	    {"message_max", "1023", "\"1K\""},
	    {"header_max", "0", "1"},
	    {"rcpt_max", "0", "1"},
	    {"conn_max", "0", "1"},
	    {"conn_per_ip", "0", "1"},
	    {"cmds_max", "0", "1"},
	    {"errors_max", "0", "1"},
	    {"hops_max", "0", "1"},
	    {"timeout_command", "0", "1"},
	    {"timeout_data", "0", "1"},
	    {"timeout_session", "0", "1"},
	    {"shutdown_grace", "0", "1"},
	};
	char text[512], key[64];

	(void)state;
	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		snprintf(text, sizeof(text),
		    LISTENER "limits = {\n  %s = %s;\n};\n", rows[i].key,
		    rows[i].low);
		snprintf(key, sizeof(key), "limits.%s: ", rows[i].key);
		expect_err(text, "test.cfg:3: ", key, "must be at least");
		snprintf(text, sizeof(text),
		    LISTENER "limits = {\n  %s = %s;\n};\n", rows[i].key,
		    rows[i].ok);
		config_free(load_ok(text));
	}
	expect_err(LISTENER "queue_map_size = \"1023K\";\n",
	    "test.cfg:2: ", "queue_map_size: must be at least 1048576");
	config_free(load_ok(LISTENER "queue_map_size = \"1M\";\n"));
	expect_err(LISTENER "workers = 0;\n",
	    "test.cfg:2: ", "workers: must be at least 1");
	expect_err(LISTENER "workers = 257;\n",
	    "test.cfg:2: ", "workers: must be at most 256");
	expect_err(LISTENER "limits = { rcpt_max = 4294967296L; };\n",
	    "limits.rcpt_max: must be at most 4294967295");
}

static void
test_other_values(void **state)
{
	static const struct {
		const char *name;
		int level;
	} levels[] = {
	    {"error", LOG_ERR},
	    {"warning", LOG_WARNING},
	    {"notice", LOG_NOTICE},
	    {"info", LOG_INFO},
	    {"debug", LOG_DEBUG},
	};
	char text[256];

	(void)state;
	for (size_t i = 0; i < sizeof(levels) / sizeof(levels[0]); i++) {
		struct rmx_config *cfg;

		snprintf(text, sizeof(text), LISTENER "log_level = \"%s\";\n",
		    levels[i].name);
		cfg = load_ok(text);
		assert_int_equal(cfg->log_level, levels[i].level);
		config_free(cfg);
	}
	expect_err(LISTENER "log_level = \"verbose\";\n",
	    "test.cfg:2: ", "log_level: \"verbose\" is not a log level");
	expect_err(LISTENER "hostname = \"mx_1.example.org\";\n",
	    "test.cfg:2: ", "hostname: ", "not a valid domain");
	expect_err(
	    LISTENER "hostname = \"\";\n", "hostname: ", "not a valid domain");
	expect_err(LISTENER "hostname = \"192.0.2.1\";\n",
	    "hostname: ", "not a valid domain");
	expect_err(LISTENER "state_dir = \"\";\n",
	    "test.cfg:2: ", "state_dir: must not be empty");
	expect_err(LISTENER "local_domains = [ \"ok.example\",\n"
			    "  \"-bad.example\" ];\n",
	    "test.cfg:3: ", "local_domains.[1]: ", "not a valid domain");
	expect_err(LISTENER "local_domains = [ \"a..b\" ];\n",
	    "local_domains.[0]", "not a valid domain");
	expect_err(LISTENER
	    "local_domains = [ \"a.example\", \"A.Example.\" ];\n",
	    "local_domains.[1]: ", "listed twice");
	{
		/* A list works as well as an array; an empty one is allowed. */
		struct rmx_config *cfg = load_ok(LISTENER
		    "local_domains = ( \"x.example\", \"y.example\" );\n");

		assert_int_equal(cfg->nlocal_domains, 2);
		config_free(cfg);
		cfg = load_ok(LISTENER "local_domains = [ ];\n");
		assert_int_equal(cfg->nlocal_domains, 0);
		assert_false(config_is_local_domain(cfg, "localhost"));
		config_free(cfg);
	}
}

static void
test_syntax_and_io_errors(void **state)
{
	struct rmx_config *cfg;
	const char *dir = *state;
	char path[256];

	expect_err(LISTENER "hold = true\n"
			    "limits = { line_max = ; };\n",
	    "test.cfg:3: ", "syntax error");
	expect_err(LISTENER "\"x\" = 1;\n", "test.cfg:2: ");
	expect_err(LISTENER "hold = true;\nhold = false;\n",
	    "test.cfg:3: ", "duplicate");
	expect_err("", "listeners");

	cfg = config_load("/nonexistent/ringmx.conf", err, sizeof(err));
	assert_null(cfg);
	assert_non_null(strstr(err, "/nonexistent/ringmx.conf"));
	assert_non_null(strstr(err, "No such file"));
	cfg = config_load(dir, err, sizeof(err));
	assert_null(cfg);
	assert_non_null(strstr(err, dir));

	snprintf(path, sizeof(path), "%s/nul.conf", dir);
	{
		FILE *f = fopen(path, "w");

		assert_non_null(f);
		fwrite(LISTENER "\n\0x", 1, sizeof(LISTENER) + 2, f);
		fclose(f);
	}
	cfg = config_load(path, err, sizeof(err));
	assert_null(cfg);
	assert_non_null(strstr(err, "nul.conf:3: "));

	/* No error buffer at all is fine too. */
	assert_null(config_load_string("bogus = 1;", "x", NULL, 0));
}

static void
test_round_trip(void **state)
{
	static const char *const texts[] = {
	    full_text,
	    "listeners = ( { address = \"127.0.0.1:25\"; } );\n"
	    "state_dir = \"/tmp/we\\\"ird\\\\dir\\ttab\\x01\";\n"
	    "local_domains = [ ];\n"
	    "limits = { line_max = 513; message_max = 3000000001L; };\n",
	    LISTENER "limits = { message_max = \"18446744073709551615\"; };\n"
		     "queue_map_size = \"1048577\";\n",
	};
	struct rmx_config *cfg, *again;
	char *first, *second;

	(void)state;
	for (size_t i = 0; i < sizeof(texts) / sizeof(texts[0]); i++) {
		cfg = load_ok(texts[i]);
		first = print_to_string(cfg);
		again = load_ok(first);
		second = print_to_string(again);
		assert_string_equal(first, second);
		if (i == 0)
			check_full(again);
		else if (i == 2)
			assert_int_equal(again->limits.message_max, UINT64_MAX);
		else
			assert_string_equal(
			    again->state_dir, "/tmp/we\"ird\\dir\ttab\x01");
		/* Control characters are printed escaped, not raw. */
		if (i == 1)
			assert_non_null(strstr(
			    first, "\"/tmp/we\\\"ird\\\\dir\\ttab\\x01\";"));
		config_free(cfg);
		config_free(again);
		free(first);
		free(second);
	}

	/* The embedded default prints every key, with its default. */
	cfg = config_load(NULL, err, sizeof(err));
	assert_non_null(cfg);
	first = print_to_string(cfg);
	static const char *const keys[] = {"hostname = ", "workers = ",
	    "state_dir = \"./var\";", "maildir_root = \"./var/mail\";",
	    "log_file", "log_level = \"info\";", "hold = false;",
	    "queue_map_size = \"4G\";", "address = \"127.0.0.1:2525\"",
	    "mode = \"smtp\"", "local_domains = [ \"localhost\" ];",
	    "line_max = 512;", "text_line_max = 1000;", "header_max = \"1M\";",
	    "message_max = \"50M\";", "rcpt_max = 1000;", "conn_max = 10000;",
	    "conn_per_ip = 50;", "cmds_max = 10000;", "errors_max = 20;",
	    "hops_max = 100;", "timeout_command = 300;", "timeout_data = 180;",
	    "timeout_session = 3600;", "shutdown_grace = 30;"};
	for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++)
		if (strstr(first, keys[i]) == NULL)
			fail_msg("print lacks %s:\n%s", keys[i], first);
	again = load_ok(first);
	second = print_to_string(again);
	assert_string_equal(first, second);
	config_free(cfg);
	config_free(again);
	free(first);
	free(second);
}

static void
test_local_domain_matching(void **state)
{
	struct rmx_config *cfg;

	(void)state;
	cfg = load_ok(LISTENER "local_domains = [ \"Example.ORG\", "
			       "\"localhost\" ];\n");
	assert_true(config_is_local_domain(cfg, "example.org"));
	assert_true(config_is_local_domain(cfg, "EXAMPLE.org"));
	assert_true(config_is_local_domain(cfg, "example.org."));
	assert_true(config_is_local_domain(cfg, "LocalHost"));
	assert_true(config_is_local_domain(cfg, "localhost."));
	assert_false(config_is_local_domain(cfg, "example.org.."));
	assert_false(config_is_local_domain(cfg, "mail.example.org"));
	assert_false(config_is_local_domain(cfg, "example.or"));
	assert_false(config_is_local_domain(cfg, "example.orgx"));
	assert_false(config_is_local_domain(cfg, "xexample.org"));
	assert_false(config_is_local_domain(cfg, ""));
	assert_false(config_is_local_domain(cfg, "."));
	assert_false(config_is_local_domain(cfg, NULL));
	config_free(cfg);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_embedded_defaults),
	    cmocka_unit_test(test_minimal_defaults),
	    cmocka_unit_test_setup_teardown(
		test_full_file, tmpdir_setup, tmpdir_teardown),
	    cmocka_unit_test_setup_teardown(
		test_include_relative, tmpdir_setup, tmpdir_teardown),
	    cmocka_unit_test_setup_teardown(
		test_unknown_keys, tmpdir_setup, tmpdir_teardown),
	    cmocka_unit_test(test_tls_errors),
	    cmocka_unit_test(test_wrong_types),
	    cmocka_unit_test(test_bad_addresses),
	    cmocka_unit_test(test_bad_mode),
	    cmocka_unit_test(test_duplicate_listener),
	    cmocka_unit_test(test_size_suffixes),
	    cmocka_unit_test(test_limits_minimums),
	    cmocka_unit_test(test_other_values),
	    cmocka_unit_test_setup_teardown(
		test_syntax_and_io_errors, tmpdir_setup, tmpdir_teardown),
	    cmocka_unit_test(test_round_trip),
	    cmocka_unit_test(test_local_domain_matching),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
