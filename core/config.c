/*
 * config.c - loading, validating, printing and freeing struct rmx_config
 * (see config.h), on top of libconfig 1.5.
 *
 * Lives here: the embedded default text, the tables of known keys per
 * group, the type/range checks, address parsing for listeners, domain
 * syntax checks, the FILE:LINE: KEY: error messages, and a pre-check for
 * integer literals that libconfig 1.5 would silently wrap to 32 bits.
 * Not here: acting on the configuration (binding sockets, opening logs or
 * stores) and reloading; those belong to the daemon.
 *
 * Adding a key: add its field at the end of the struct in config.h, one
 * line to the key table of its group below, its default to
 * config_defaults(), and its line to config_print().
 */
#include "config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <libconfig.h>
#include <limits.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <syslog.h>
#include <unistd.h>

#include "dns_resolver.h"

#define KIB ((uint64_t)1024)
#define MIB (KIB * 1024)
#define GIB (MIB * 1024)

#define WORKERS_MAX       256
#define INCLUDE_DEPTH_MAX 10                 /* libconfig's own limit */
#define CONFIG_FILE_MAX   (16 * 1024 * 1024) /* bytes read for one file */
#define DOMAIN_TEXT_MAX   253

/* The embedded default configuration, used when no file is given. */
const char config_default_text[] =
    "# ringmx embedded default configuration: one plain SMTP listener on\n"
    "# the loopback interface, state under ./var, mail for localhost.\n"
    "state_dir = \"./var\";\n"
    "maildir_root = \"./var/mail\";\n"
    "local_domains = [ \"localhost\" ];\n"
    "listeners = (\n"
    "\t{ address = \"127.0.0.1:2525\"; mode = \"smtp\"; }\n"
    ");\n";

/* State of one load: the libconfig tree, where errors go, and what the
 * validator has seen so far. */
struct ctx {
	config_t lc;
	const char *name;   /* main source name for messages */
	const char *incdir; /* include directory, NULL = current directory */
	struct rmx_config *cfg;
	char *err;
	size_t errlen;
	bool local_domains_set;
};

struct key;
typedef int (*key_parser)(
    struct ctx *c, const config_setting_t *s, void *dst, const struct key *k);

/* One known key of a group: its parser writes the value at base + off,
 * min/max bound numbers and sizes. */
struct key {
	const char *name;
	key_parser parse;
	size_t off;
	uint64_t min, max;
};

static int parse_string(
    struct ctx *c, const config_setting_t *s, void *dst, const struct key *k);
static int parse_hostname(
    struct ctx *c, const config_setting_t *s, void *dst, const struct key *k);
static int parse_uint(
    struct ctx *c, const config_setting_t *s, void *dst, const struct key *k);
static int parse_size(
    struct ctx *c, const config_setting_t *s, void *dst, const struct key *k);
static int parse_size64(
    struct ctx *c, const config_setting_t *s, void *dst, const struct key *k);
static int parse_bool(
    struct ctx *c, const config_setting_t *s, void *dst, const struct key *k);
static int parse_log_level(
    struct ctx *c, const config_setting_t *s, void *dst, const struct key *k);
static int parse_log_format(
    struct ctx *c, const config_setting_t *s, void *dst, const struct key *k);
static int parse_listeners(
    struct ctx *c, const config_setting_t *s, void *dst, const struct key *k);
static int parse_local_domains(
    struct ctx *c, const config_setting_t *s, void *dst, const struct key *k);
static int parse_limits(
    struct ctx *c, const config_setting_t *s, void *dst, const struct key *k);
static int parse_queue(
    struct ctx *c, const config_setting_t *s, void *dst, const struct key *k);
static int parse_source_ip(
    struct ctx *c, const config_setting_t *s, void *dst, const struct key *k);
static int parse_outbound(
    struct ctx *c, const config_setting_t *s, void *dst, const struct key *k);
static int parse_dns(
    struct ctx *c, const config_setting_t *s, void *dst, const struct key *k);
static int parse_address(
    struct ctx *c, const config_setting_t *s, void *dst, const struct key *k);
static int parse_mode(
    struct ctx *c, const config_setting_t *s, void *dst, const struct key *k);
static int parse_listener_auth(
    struct ctx *c, const config_setting_t *s, void *dst, const struct key *k);
static int parse_relay_networks(
    struct ctx *c, const config_setting_t *s, void *dst, const struct key *k);
static int parse_plugins(
    struct ctx *c, const config_setting_t *s, void *dst, const struct key *k);
static int parse_tls(
    struct ctx *c, const config_setting_t *s, void *dst, const struct key *k);
static int parse_metrics(
    struct ctx *c, const config_setting_t *s, void *dst, const struct key *k);
static int parse_tls_policy_key(
    struct ctx *c, const config_setting_t *s, void *dst, const struct key *k);
static int parse_tls_policies(
    struct ctx *c, const config_setting_t *s, void *dst, const struct key *k);

#define CFG(f) offsetof(struct rmx_config, f)
#define LIM(f) offsetof(struct rmx_limits, f)
#define LST(f) offsetof(struct rmx_listener_cfg, f)

static const struct key top_keys[] = {
    {"hostname", parse_hostname, CFG(hostname), 0, 0},
    {"authserv_id", parse_hostname, CFG(authserv_id), 0, 0},
    {"control_socket", parse_string, CFG(control_socket), 0, 0},
    {"control_group", parse_string, CFG(control_group), 0, 0},
    {"metrics", parse_metrics, CFG(metrics), 0, 0},
    {"workers", parse_uint, CFG(workers), 1, WORKERS_MAX},
    {"pin_workers", parse_bool, CFG(pin_workers), 0, 0},
    {"state_dir", parse_string, CFG(state_dir), 0, 0},
    {"maildir_root", parse_string, CFG(maildir_root), 0, 0},
    {"log_file", parse_string, CFG(log_file), 0, 0},
    {"log_level", parse_log_level, CFG(log_level), 0, 0},
    {"log_format", parse_log_format, CFG(log_format), 0, 0},
    {"hold", parse_bool, CFG(hold), 0, 0},
    {"user", parse_string, CFG(user), 0, 0},
    {"group", parse_string, CFG(group), 0, 0},
    {"sandbox", parse_bool, CFG(sandbox), 0, 0},
    {"queue_map_size", parse_size, CFG(queue_map_size), MIB, SIZE_MAX},
    {"listeners", parse_listeners, 0, 0, 0},
    {"local_domains", parse_local_domains, 0, 0, 0},
    {"limits", parse_limits, CFG(limits), 0, 0},
    {"queue", parse_queue, CFG(queue), 0, 0},
    {"outbound", parse_outbound, CFG(outbound), 0, 0},
    {"dns", parse_dns, CFG(dns), 0, 0},
    {"relay_networks", parse_relay_networks, 0, 0, 0},
    {"plugin_dir", parse_string, CFG(plugin_dir), 0, 0},
    {"plugins", parse_plugins, 0, 0, 0},
};

static const struct key listener_keys[] = {
    {"address", parse_address, 0, 0, 0},
    {"mode", parse_mode, LST(mode), 0, 0},
    {"auth", parse_listener_auth, LST(auth), 0, 0},
    {"auth_plaintext", parse_bool, LST(auth_plaintext), 0, 0},
    {"tls", parse_tls, LST(tls), 0, 0},
};

static const struct key limit_keys[] = {
    {"line_max", parse_size, LIM(line_max), 512, SIZE_MAX},
    {"text_line_max", parse_size, LIM(text_line_max), 1000, SIZE_MAX},
    {"header_max", parse_size, LIM(header_max), 1, SIZE_MAX},
    {"message_max", parse_size64, LIM(message_max), KIB, UINT64_MAX},
    {"rcpt_max", parse_uint, LIM(rcpt_max), 1, UINT_MAX},
    {"conn_max", parse_uint, LIM(conn_max), 1, UINT_MAX},
    {"conn_per_ip", parse_uint, LIM(conn_per_ip), 1, UINT_MAX},
    {"cmds_max", parse_uint, LIM(cmds_max), 1, UINT_MAX},
    {"errors_max", parse_uint, LIM(errors_max), 1, UINT_MAX},
    {"hops_max", parse_uint, LIM(hops_max), 1, UINT_MAX},
    {"timeout_command", parse_uint, LIM(timeout_command), 1, UINT_MAX},
    {"timeout_data", parse_uint, LIM(timeout_data), 1, UINT_MAX},
    {"timeout_session", parse_uint, LIM(timeout_session), 1, UINT_MAX},
    {"shutdown_grace", parse_uint, LIM(shutdown_grace), 1, UINT_MAX},
    {"auth_failures_per_ip", parse_uint, LIM(auth_failures_per_ip), 0,
	UINT16_MAX},
    {"auth_failure_window", parse_uint, LIM(auth_failure_window), 1, UINT_MAX},
    {"min_data_rate", parse_uint, LIM(min_data_rate), 0, UINT_MAX},
    {"data_rate_window", parse_uint, LIM(data_rate_window), 1, UINT_MAX},
    {"command_deadline", parse_uint, LIM(command_deadline), 1, UINT_MAX},
    {"min_free_space", parse_size64, LIM(min_free_space), 0, UINT64_MAX},
};

#define NKEYS(t) (sizeof(t) / sizeof((t)[0]))

static const struct {
	const char *name;
	int level;
} log_levels[] = {
    {"error", LOG_ERR},
    {"warning", LOG_WARNING},
    {"notice", LOG_NOTICE},
    {"info", LOG_INFO},
    {"debug", LOG_DEBUG},
};

static const char *const mode_names[] = {
    [LISTEN_SMTP] = "smtp",
    [LISTEN_SUBMISSION] = "submission",
    [LISTEN_SUBMISSIONS] = "submissions",
};

/* ---- error messages ------------------------------------------------- */

static void
path_append(const config_setting_t *s, char *out, size_t outsz, size_t *pos)
{
	const config_setting_t *parent = config_setting_parent(s);
	int n;

	if (parent == NULL)
		return; /* the root has no name */
	path_append(parent, out, outsz, pos);
	if (*pos >= outsz)
		return;
	if (config_setting_name(s) != NULL)
		n = snprintf(out + *pos, outsz - *pos, "%s%s",
		    *pos > 0 ? "." : "", config_setting_name(s));
	else
		n = snprintf(out + *pos, outsz - *pos, "%s[%d]",
		    *pos > 0 ? "." : "", config_setting_index(s));
	if (n > 0)
		*pos += (size_t)n;
}

/* The key path of s: "limits.message_max", "listeners.[0].mode". */
static void
setting_path(const config_setting_t *s, char *out, size_t outsz)
{
	size_t pos = 0;

	out[0] = '\0';
	path_append(s, out, outsz, &pos);
}

/* The name to show for a file as libconfig recorded it: NULL is the main
 * source, included files are relative to the include directory. */
static void
display_file(const struct ctx *c, const char *file, char *out, size_t outsz)
{
	if (file == NULL)
		snprintf(out, outsz, "%s", c->name);
	else if (file[0] != '/' && c->incdir != NULL &&
		 strcmp(c->incdir, ".") != 0)
		snprintf(out, outsz, "%s/%s", c->incdir, file);
	else
		snprintf(out, outsz, "%s", file);
}

static void verr(struct ctx *c, const char *file, unsigned line,
    const char *key, const char *fmt, va_list ap)
    __attribute__((format(printf, 5, 0)));
static void
verr(struct ctx *c, const char *file, unsigned line, const char *key,
    const char *fmt, va_list ap)
{
	char fname[PATH_MAX + 64];
	int n;

	if (c->err == NULL || c->errlen == 0)
		return;
	display_file(c, file, fname, sizeof(fname));
	if (line > 0)
		n = snprintf(c->err, c->errlen, "%s:%u: ", fname, line);
	else
		n = snprintf(c->err, c->errlen, "%s: ", fname);
	if (n >= 0 && (size_t)n < c->errlen && key != NULL && key[0] != '\0') {
		int m =
		    snprintf(c->err + n, c->errlen - (size_t)n, "%s: ", key);
		if (m > 0)
			n += m;
	}
	if (n >= 0 && (size_t)n < c->errlen)
		vsnprintf(c->err + n, c->errlen - (size_t)n, fmt, ap);
}

/* Error at a setting: "FILE:LINE: KEY: message". Always returns -1. */
static int serr(struct ctx *c, const config_setting_t *s, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static int
serr(struct ctx *c, const config_setting_t *s, const char *fmt, ...)
{
	char key[512];
	va_list ap;

	setting_path(s, key, sizeof(key));
	va_start(ap, fmt);
	verr(c, config_setting_source_file(s), config_setting_source_line(s),
	    key, fmt, ap);
	va_end(ap);
	return -1;
}

/* Error without a setting (missing key, I/O): "FILE[:LINE]: KEY: ...". */
static int ferr(struct ctx *c, const char *file, unsigned line, const char *key,
    const char *fmt, ...) __attribute__((format(printf, 5, 6)));
static int
ferr(struct ctx *c, const char *file, unsigned line, const char *key,
    const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	verr(c, file, line, key, fmt, ap);
	va_end(ap);
	return -1;
}

static const char *
type_name(int type)
{
	switch (type) {
	case CONFIG_TYPE_GROUP:
		return "a group";
	case CONFIG_TYPE_INT:
	case CONFIG_TYPE_INT64:
		return "an integer";
	case CONFIG_TYPE_FLOAT:
		return "a float";
	case CONFIG_TYPE_STRING:
		return "a string";
	case CONFIG_TYPE_BOOL:
		return "a boolean";
	case CONFIG_TYPE_ARRAY:
		return "an array";
	case CONFIG_TYPE_LIST:
		return "a list";
	default:
		return "nothing";
	}
}

static int
want_type(struct ctx *c, const config_setting_t *s, int type, const char *what)
{
	if (config_setting_type(s) == type)
		return 0;
	return serr(c, s, "expected %s, got %s", what,
	    type_name(config_setting_type(s)));
}

/* The value of the string setting s; NULL (reported) if not a string. */
static const char *
want_string(struct ctx *c, const config_setting_t *s)
{
	if (want_type(c, s, CONFIG_TYPE_STRING, "a string") != 0)
		return NULL;
	return config_setting_get_string(s);
}

/* The length of the array or list (of strings) s; -1 (reported) if s is
 * neither. */
static int
array_length(struct ctx *c, const config_setting_t *s)
{
	int type = config_setting_type(s);

	if (type != CONFIG_TYPE_ARRAY && type != CONFIG_TYPE_LIST)
		return serr(c, s, "expected an array of strings, got %s",
		    type_name(type));
	return config_setting_length(s);
}

/* The length of the list s (of groups, described by what); -1 (reported)
 * if s is not a list. */
static int
list_length(struct ctx *c, const config_setting_t *s, const char *what)
{
	if (want_type(c, s, CONFIG_TYPE_LIST, what) != 0)
		return -1;
	return config_setting_length(s);
}

/* ---- syntax helpers ------------------------------------------------- */

static bool
is_ldh(char ch)
{
	return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
	       (ch >= '0' && ch <= '9') || ch == '-';
}

/* Dot-separated LDH labels of 1..63 octets without a leading or trailing
 * '-', at most 253 octets, the last label not all digits (that would be
 * an IPv4 address). No trailing dot: callers strip one first. */
static bool
domain_valid(const char *s, size_t len)
{
	size_t label = 0;
	bool digits = true;
	char prev = '.';

	if (len == 0 || len > DOMAIN_TEXT_MAX)
		return false;
	for (size_t i = 0; i < len; i++) {
		char ch = s[i];

		if (ch == '.') {
			if (label == 0 || prev == '-')
				return false;
			label = 0;
			digits = true;
		} else if (is_ldh(ch)) {
			if (label == 0 && ch == '-')
				return false;
			if (++label > 63)
				return false;
			if (ch < '0' || ch > '9')
				digits = false;
		} else {
			return false;
		}
		prev = ch;
	}
	return label > 0 && prev != '-' && !digits;
}

/* A copy of s without one trailing dot, or NULL on allocation failure. */
static char *
strdup_nodot(const char *s)
{
	size_t len = strlen(s);

	if (len > 1 && s[len - 1] == '.')
		len--;
	return strndup(s, len);
}

static void
lowercase(char *s)
{
	for (; *s != '\0'; s++)
		if (*s >= 'A' && *s <= 'Z')
			*s = (char)(*s - 'A' + 'a');
}

/* "123", "64K", "50M", "4G" (binary multiples, suffix case-insensitive).
 * 0 ok, -1 syntax, -2 overflow. */
static int
parse_size_text(const char *s, uint64_t *out)
{
	uint64_t v = 0, mult = 1;

	if (*s < '0' || *s > '9')
		return -1;
	for (; *s >= '0' && *s <= '9'; s++) {
		unsigned d = (unsigned)(*s - '0');

		if (v > (UINT64_MAX - d) / 10)
			return -2;
		v = v * 10 + d;
	}
	switch (*s) {
	case '\0':
		break;
	case 'k':
	case 'K':
		mult = KIB;
		s++;
		break;
	case 'm':
	case 'M':
		mult = MIB;
		s++;
		break;
	case 'g':
	case 'G':
		mult = GIB;
		s++;
		break;
	default:
		return -1;
	}
	if (*s != '\0')
		return -1;
	if (v > UINT64_MAX / mult)
		return -2;
	*out = v * mult;
	return 0;
}

/* ---- key parsers ---------------------------------------------------- */

static int
get_number(struct ctx *c, const config_setting_t *s, const struct key *k,
    bool size, uint64_t *out)
{
	int type = config_setting_type(s);
	uint64_t v;

	if (type == CONFIG_TYPE_INT || type == CONFIG_TYPE_INT64) {
		long long n = config_setting_get_int64(s);

		if (n < 0)
			return serr(c, s, "must not be negative (got %lld)", n);
		v = (uint64_t)n;
	} else if (size && type == CONFIG_TYPE_STRING) {
		const char *t = config_setting_get_string(s);
		int rc = parse_size_text(t, &v);

		if (rc == -1)
			return serr(c, s,
			    "\"%s\" is not a size (digits with an optional "
			    "K, M or G suffix)",
			    t);
		if (rc == -2)
			return serr(c, s, "\"%s\" is too large", t);
	} else {
		return serr(c, s, "expected %s, got %s",
		    size ? "a size (an integer or a string like \"50M\")"
			 : "an integer",
		    type_name(type));
	}
	if (v < k->min)
		return serr(c, s, "must be at least %llu (got %llu)",
		    (unsigned long long)k->min, (unsigned long long)v);
	if (v > k->max)
		return serr(c, s, "must be at most %llu (got %llu)",
		    (unsigned long long)k->max, (unsigned long long)v);
	*out = v;
	return 0;
}

static int
parse_uint(
    struct ctx *c, const config_setting_t *s, void *dst, const struct key *k)
{
	uint64_t v;

	if (get_number(c, s, k, false, &v) != 0)
		return -1;
	*(unsigned *)dst = (unsigned)v;
	return 0;
}

static int
parse_size(
    struct ctx *c, const config_setting_t *s, void *dst, const struct key *k)
{
	uint64_t v;

	if (get_number(c, s, k, true, &v) != 0)
		return -1;
	*(size_t *)dst = (size_t)v;
	return 0;
}

static int
parse_size64(
    struct ctx *c, const config_setting_t *s, void *dst, const struct key *k)
{
	uint64_t v;

	if (get_number(c, s, k, true, &v) != 0)
		return -1;
	*(uint64_t *)dst = v;
	return 0;
}

static int
parse_bool(
    struct ctx *c, const config_setting_t *s, void *dst, const struct key *k)
{
	(void)k;
	if (want_type(c, s, CONFIG_TYPE_BOOL, "a boolean (true or false)") != 0)
		return -1;
	*(bool *)dst = config_setting_get_bool(s) != 0;
	return 0;
}

static int
parse_string(
    struct ctx *c, const config_setting_t *s, void *dst, const struct key *k)
{
	char **out = dst;
	const char *v;
	char *copy;

	(void)k;
	if ((v = want_string(c, s)) == NULL)
		return -1;
	if (v[0] == '\0')
		return serr(c, s, "must not be empty");
	if ((copy = strdup(v)) == NULL)
		return serr(c, s, "out of memory");
	free(*out);
	*out = copy;
	return 0;
}

static int
parse_hostname(
    struct ctx *c, const config_setting_t *s, void *dst, const struct key *k)
{
	char **out = dst;
	const char *t;
	char *v;

	(void)k;
	if ((t = want_string(c, s)) == NULL)
		return -1;
	if ((v = strdup_nodot(t)) == NULL)
		return serr(c, s, "out of memory");
	if (!domain_valid(v, strlen(v))) {
		serr(c, s, "\"%s\" is not a valid domain name", t);
		free(v);
		return -1;
	}
	free(*out);
	*out = v;
	return 0;
}

static int
parse_log_level(
    struct ctx *c, const config_setting_t *s, void *dst, const struct key *k)
{
	const char *v;

	(void)k;
	if ((v = want_string(c, s)) == NULL)
		return -1;
	for (size_t i = 0; i < NKEYS(log_levels); i++) {
		if (strcmp(v, log_levels[i].name) == 0) {
			*(int *)dst = log_levels[i].level;
			return 0;
		}
	}
	return serr(c, s,
	    "\"%s\" is not a log level (error, warning, notice, info, debug)",
	    v);
}

/* log_format = "text" | "json" (LOG_FORMAT_TEXT = 0, LOG_FORMAT_JSON = 1,
 * as in log.h) */
static int
parse_log_format(
    struct ctx *c, const config_setting_t *s, void *dst, const struct key *k)
{
	const char *v;

	(void)k;
	if ((v = want_string(c, s)) == NULL)
		return -1;
	if (strcmp(v, "text") == 0 || strcmp(v, "json") == 0) {
		*(int *)dst = v[0] == 'j';
		return 0;
	}
	return serr(c, s, "\"%s\" is not a log format (text, json)", v);
}

static int
parse_mode(
    struct ctx *c, const config_setting_t *s, void *dst, const struct key *k)
{
	const char *v;

	(void)k;
	if ((v = want_string(c, s)) == NULL)
		return -1;
	for (size_t i = 0; i < NKEYS(mode_names); i++) {
		if (strcmp(v, mode_names[i]) == 0) {
			*(enum listener_mode *)dst = (enum listener_mode)i;
			return 0;
		}
	}
	return serr(c, s,
	    "\"%s\" is not a listener mode (smtp, submission, submissions)", v);
}

/* "IPv4:port" or "[IPv6]:port" into addr/addrlen; NULL or the problem. */
static const char *
address_parse(const char *s, struct sockaddr_storage *ss, socklen_t *len)
{
	char host[INET6_ADDRSTRLEN + 1];
	const char *port, *end;
	size_t hlen;
	unsigned long p = 0;
	bool v6 = false;

	if (s[0] == '[') {
		end = strchr(s, ']');
		if (end == NULL)
			return "missing ']' after the IPv6 address";
		if (end[1] != ':')
			return "missing \":port\" after the ']'";
		hlen = (size_t)(end - (s + 1));
		s++;
		port = end + 2;
		v6 = true;
	} else {
		end = strrchr(s, ':');
		if (end == NULL)
			return "missing \":port\"";
		hlen = (size_t)(end - s);
		port = end + 1;
		if (memchr(s, ':', hlen) != NULL)
			return "IPv6 addresses must be written in brackets, "
			       "as in \"[::1]:25\"";
	}
	if (hlen == 0 || hlen >= sizeof(host))
		return v6 ? "not an IPv6 address" : "not an IPv4 address";
	memcpy(host, s, hlen);
	host[hlen] = '\0';
	if (port[0] == '\0')
		return "missing port number after ':'";
	for (const char *q = port; *q != '\0'; q++) {
		if (*q < '0' || *q > '9' || q - port >= 5)
			return "the port must be a number from 1 to 65535";
		p = p * 10 + (unsigned long)(*q - '0');
	}
	if (p < 1 || p > 65535)
		return "the port must be a number from 1 to 65535";

	memset(ss, 0, sizeof(*ss));
	if (v6) {
		struct sockaddr_in6 *a6 = (struct sockaddr_in6 *)ss;

		if (inet_pton(AF_INET6, host, &a6->sin6_addr) != 1)
			return "not an IPv6 address";
		a6->sin6_family = AF_INET6;
		a6->sin6_port = htons((uint16_t)p);
		*len = sizeof(*a6);
	} else {
		struct sockaddr_in *a4 = (struct sockaddr_in *)ss;

		if (inet_pton(AF_INET, host, &a4->sin_addr) != 1)
			return "not an IPv4 address (host names are not "
			       "accepted)";
		a4->sin_family = AF_INET;
		a4->sin_port = htons((uint16_t)p);
		*len = sizeof(*a4);
	}
	return NULL;
}

static bool
same_sockaddr(
    const struct rmx_listener_cfg *a, const struct rmx_listener_cfg *b)
{
	if (a->addr.ss_family != b->addr.ss_family)
		return false;
	if (a->addr.ss_family == AF_INET) {
		const struct sockaddr_in *x =
		    (const struct sockaddr_in *)&a->addr;
		const struct sockaddr_in *y =
		    (const struct sockaddr_in *)&b->addr;

		return x->sin_port == y->sin_port &&
		       x->sin_addr.s_addr == y->sin_addr.s_addr;
	} else {
		const struct sockaddr_in6 *x =
		    (const struct sockaddr_in6 *)&a->addr;
		const struct sockaddr_in6 *y =
		    (const struct sockaddr_in6 *)&b->addr;

		return x->sin6_port == y->sin6_port &&
		       memcmp(&x->sin6_addr, &y->sin6_addr,
			   sizeof(x->sin6_addr)) == 0;
	}
}

static int
parse_address(
    struct ctx *c, const config_setting_t *s, void *dst, const struct key *k)
{
	struct rmx_listener_cfg *l = dst;
	const char *v, *why;

	(void)k;
	if ((v = want_string(c, s)) == NULL)
		return -1;
	if ((why = address_parse(v, &l->addr, &l->addrlen)) != NULL)
		return serr(c, s, "\"%s\": %s", v, why);
	if ((l->address = strdup(v)) == NULL)
		return serr(c, s, "out of memory");
	return 0;
}

static int
walk_group(struct ctx *c, const config_setting_t *group, const struct key *keys,
    size_t nkeys, void *base)
{
	int n = config_setting_length(group);

	for (int i = 0; i < n; i++) {
		const config_setting_t *s =
		    config_setting_get_elem(group, (unsigned)i);
		const char *name = config_setting_name(s);
		const struct key *k = NULL;

		for (size_t j = 0; j < nkeys && name != NULL; j++) {
			if (strcmp(keys[j].name, name) == 0) {
				k = &keys[j];
				break;
			}
		}
		if (k == NULL)
			return serr(c, s, "unknown key");
		if (k->parse(c, s, (char *)base + k->off, k) != 0)
			return -1;
	}
	return 0;
}

/* A group setting s whose members are keys, stored into base. */
static int
parse_group(struct ctx *c, const config_setting_t *s, const struct key *keys,
    size_t nkeys, void *base)
{
	if (want_type(c, s, CONFIG_TYPE_GROUP, "a group") != 0)
		return -1;
	return walk_group(c, s, keys, nkeys, base);
}

static int
parse_listeners(
    struct ctx *c, const config_setting_t *s, void *dst, const struct key *k)
{
	struct rmx_config *cfg = c->cfg;
	int n;

	(void)dst;
	(void)k;
	if ((n = list_length(c, s,
		 "a list of groups, as in ( { address = \"...\"; } )")) < 0)
		return -1;
	if (n == 0)
		return serr(c, s, "at least one listener is required");
	cfg->listeners = calloc((size_t)n, sizeof(*cfg->listeners));
	if (cfg->listeners == NULL)
		return serr(c, s, "out of memory");
	for (int i = 0; i < n; i++) {
		const config_setting_t *e =
		    config_setting_get_elem(s, (unsigned)i);
		struct rmx_listener_cfg *l = &cfg->listeners[i];

		/* Counted before filling so that config_free sees it. */
		cfg->nlisteners = (size_t)i + 1;
		l->mode = LISTEN_SMTP;
		if (want_type(c, e, CONFIG_TYPE_GROUP,
			"a group, as in { address = \"...\"; }") != 0)
			return -1;
		if (walk_group(c, e, listener_keys, NKEYS(listener_keys), l) !=
		    0)
			return -1;
		if (l->address == NULL)
			return serr(c, e, "address is required");
		for (int j = 0; j < i; j++) {
			if (same_sockaddr(&cfg->listeners[j], l))
				return serr(c,
				    config_setting_get_member(e, "address"),
				    "\"%s\" duplicates listeners.[%d] (\"%s\")",
				    l->address, j, cfg->listeners[j].address);
		}
	}
	return 0;
}

static int
parse_listener_auth(
    struct ctx *c, const config_setting_t *s, void *dst, const struct key *k)
{
	struct rmx_listener_cfg *l =
	    (struct rmx_listener_cfg *)((char *)dst - LST(auth));

	if (parse_bool(c, s, dst, k) != 0)
		return -1;
	l->auth_explicit = true;
	return 0;
}

/* metrics = { listen = "127.0.0.1:9125"; } */
static int
parse_metrics(
    struct ctx *c, const config_setting_t *s, void *dst, const struct key *k)
{
	static const struct key mkeys[] = {
	    {"listen", parse_address, 0, 0, 0},
	};

	(void)k;
	if (parse_group(c, s, mkeys, NKEYS(mkeys), dst) != 0)
		return -1;
	if (((struct rmx_listener_cfg *)dst)->address == NULL)
		return serr(c, s, "listen is required");
	c->cfg->metrics_on = true;
	return 0;
}

/* One { cert = "..."; key = "..."; } of tls.certificates. */
static int
parse_tls_cert(
    struct ctx *c, const config_setting_t *e, char **cert, char **key)
{
	int m;

	if (want_type(c, e, CONFIG_TYPE_GROUP,
		"a group, as in { cert = \"...\"; key = \"...\"; }") != 0)
		return -1;
	m = config_setting_length(e);
	for (int j = 0; j < m; j++) {
		const config_setting_t *v =
		    config_setting_get_elem(e, (unsigned)j);
		const char *name = config_setting_name(v), *str;
		char **out;

		if (strcmp(name, "cert") == 0)
			out = cert;
		else if (strcmp(name, "key") == 0)
			out = key;
		else
			return serr(c, v, "unknown key (cert, key)");
		if ((str = want_string(c, v)) == NULL)
			return -1;
		if (str[0] == '\0')
			return serr(c, v, "must not be empty");
		free(*out);
		if ((*out = strdup(str)) == NULL)
			return serr(c, v, "out of memory");
	}
	if (*cert == NULL || *key == NULL)
		return serr(c, e, "cert and key are both required");
	return 0;
}

/* A listener's tls group. */
static int
parse_tls(
    struct ctx *c, const config_setting_t *s, void *dst, const struct key *k)
{
	struct rmx_tls_cfg *t = dst;
	int m;

	(void)k;
	if (want_type(c, s, CONFIG_TYPE_GROUP, "a group") != 0)
		return -1;
	t->min_version = 12;
	t->handshake_timeout = 30;
	m = config_setting_length(s);
	for (int i = 0; i < m; i++) {
		const config_setting_t *v =
		    config_setting_get_elem(s, (unsigned)i);
		const char *name = config_setting_name(v), *str;

		if (strcmp(name, "certificates") == 0) {
			int n = list_length(c, v,
			    "a list of groups, as in ( { cert = \"...\"; key "
			    "= \"...\"; } )");
			if (n < 0)
				return -1;
			if (n == 0)
				return serr(c, v, "at least one certificate");
			t->cert = calloc((size_t)n, sizeof(char *));
			t->key = calloc((size_t)n, sizeof(char *));
			if (t->cert == NULL || t->key == NULL)
				return serr(c, v, "out of memory");
			for (int j = 0; j < n; j++) {
				t->ncerts = (size_t)j + 1;
				if (parse_tls_cert(c,
					config_setting_get_elem(v, (unsigned)j),
					&t->cert[j], &t->key[j]) != 0)
					return -1;
			}
		} else if (strcmp(name, "min_version") == 0) {
			if ((str = want_string(c, v)) == NULL)
				return -1;
			if (strcmp(str, "TLSv1.2") == 0)
				t->min_version = 12;
			else if (strcmp(str, "TLSv1.3") == 0)
				t->min_version = 13;
			else
				return serr(c, v,
				    "expected \"TLSv1.2\" or \"TLSv1.3\"");
		} else if (strcmp(name, "ciphers") == 0) {
			if ((str = want_string(c, v)) == NULL)
				return -1;
			free(t->ciphers);
			if ((t->ciphers = strdup(str)) == NULL)
				return serr(c, v, "out of memory");
		} else if (strcmp(name, "handshake_timeout") == 0) {
			struct key hk = {
			    "handshake_timeout", parse_uint, 0, 1, 3600};
			if (parse_uint(c, v, &t->handshake_timeout, &hk) != 0)
				return -1;
		} else {
			return serr(c, v,
			    "unknown key (certificates, min_version, ciphers, "
			    "handshake_timeout)");
		}
	}
	if (t->ncerts == 0)
		return serr(c, s, "certificates is required");
	return 0;
}

static int
parse_relay_networks(
    struct ctx *c, const config_setting_t *s, void *dst, const struct key *k)
{
	struct rmx_config *cfg = c->cfg;
	int n;

	(void)dst;
	(void)k;
	if ((n = array_length(c, s)) <= 0)
		return n;
	cfg->relay_networks = calloc((size_t)n, sizeof(*cfg->relay_networks));
	if (cfg->relay_networks == NULL)
		return serr(c, s, "out of memory");
	for (int i = 0; i < n; i++) {
		const config_setting_t *e =
		    config_setting_get_elem(s, (unsigned)i);

		if (want_type(c, e, CONFIG_TYPE_STRING, "a string") != 0)
			return -1;
		if (cidr_parse(config_setting_get_string(e),
			&cfg->relay_networks[cfg->nrelay_networks]) != 0)
			return serr(c, e,
			    "\"%s\" is not an address or network (e.g. "
			    "\"192.0.2.0/24\", \"2001:db8::/32\")",
			    config_setting_get_string(e));
		cfg->nrelay_networks++;
	}
	return 0;
}

static bool
plugin_name_ok(const char *n)
{
	if (*n == '\0' || strlen(n) > 64)
		return false;
	for (; *n; n++)
		if (!((*n >= 'a' && *n <= 'z') || (*n >= '0' && *n <= '9') ||
			*n == '_'))
			return false;
	return true;
}

/* A scalar setting as text (plugins get strings). NULL: not a scalar. */
static char *
scalar_text(const config_setting_t *s)
{
	char buf[64];

	switch (config_setting_type(s)) {
	case CONFIG_TYPE_STRING:
		return strdup(config_setting_get_string(s));
	case CONFIG_TYPE_INT:
		snprintf(buf, sizeof(buf), "%d", config_setting_get_int(s));
		return strdup(buf);
	case CONFIG_TYPE_INT64:
		snprintf(buf, sizeof(buf), "%lld",
		    (long long)config_setting_get_int64(s));
		return strdup(buf);
	case CONFIG_TYPE_FLOAT:
		snprintf(buf, sizeof(buf), "%g", config_setting_get_float(s));
		return strdup(buf);
	case CONFIG_TYPE_BOOL:
		return strdup(config_setting_get_bool(s) ? "true" : "false");
	default:
		return NULL;
	}
}

static int
plugin_kv_add(struct ctx *c, const config_setting_t *s, struct plugin_cfg *p,
    const char *key, char *value)
{
	struct rmx_kv *nkv;

	if (value == NULL)
		return serr(c, s, "out of memory");
	nkv = realloc(p->kv, (p->nkv + 2) * sizeof(*nkv));
	if (nkv == NULL) {
		free(value);
		return serr(c, s, "out of memory");
	}
	p->kv = nkv;
	p->kv[p->nkv].key = strdup(key);
	p->kv[p->nkv].value = value;
	p->kv[p->nkv + 1] = (struct rmx_kv){NULL, NULL};
	if (p->kv[p->nkv].key == NULL) {
		free(value);
		return serr(c, s, "out of memory");
	}
	p->nkv++;
	return 0;
}

static int
parse_plugins(
    struct ctx *c, const config_setting_t *s, void *dst, const struct key *k)
{
	struct rmx_config *cfg = c->cfg;
	int n;

	(void)dst;
	(void)k;
	if ((n = list_length(
		 c, s, "a list of groups, as in ( { name = \"...\"; } )")) < 0)
		return -1;
	if (n == 0)
		return 0;
	cfg->plugins = calloc((size_t)n, sizeof(*cfg->plugins));
	if (cfg->plugins == NULL)
		return serr(c, s, "out of memory");
	for (int i = 0; i < n; i++) {
		const config_setting_t *e =
		    config_setting_get_elem(s, (unsigned)i);
		struct plugin_cfg *p = &cfg->plugins[i];
		char src[512], file[256];
		int m;

		cfg->nplugins = (size_t)i + 1;
		if (want_type(c, e, CONFIG_TYPE_GROUP,
			"a group, as in { name = \"...\"; }") != 0)
			return -1;
		display_file(
		    c, config_setting_source_file(e), file, sizeof(file));
		snprintf(src, sizeof(src), "%s:%u", file,
		    config_setting_source_line(e));
		if ((p->source = strdup(src)) == NULL)
			return serr(c, e, "out of memory");
		m = config_setting_length(e);
		for (int j = 0; j < m; j++) {
			const config_setting_t *v =
			    config_setting_get_elem(e, (unsigned)j);
			const char *key = config_setting_name(v);
			int t = config_setting_type(v);

			if (strcmp(key, "name") == 0 ||
			    strcmp(key, "path") == 0) {
				if (want_type(c, v, CONFIG_TYPE_STRING,
					"a string") != 0)
					return -1;
				if (key[0] == 'n') {
					if (!plugin_name_ok(
						config_setting_get_string(v)))
						return serr(c, v,
						    "plugin names are "
						    "[a-z0-9_]+");
					p->name = strdup(
					    config_setting_get_string(v));
				} else {
					p->path = strdup(
					    config_setting_get_string(v));
				}
				if ((key[0] == 'n' ? p->name : p->path) == NULL)
					return serr(c, v, "out of memory");
				continue;
			}
			if (t == CONFIG_TYPE_ARRAY || t == CONFIG_TYPE_LIST) {
				int q = config_setting_length(v);
				for (int r = 0; r < q; r++) {
					const config_setting_t *el =
					    config_setting_get_elem(
						v, (unsigned)r);
					char *txt = scalar_text(el);
					if (txt == NULL)
						return serr(c, el,
						    "plugin settings are "
						    "scalars or lists of "
						    "scalars");
					if (plugin_kv_add(c, el, p, key, txt))
						return -1;
				}
				continue;
			}
			if (t == CONFIG_TYPE_GROUP)
				return serr(c, v,
				    "plugin settings are scalars or lists of "
				    "scalars");
			if (plugin_kv_add(c, v, p, key, scalar_text(v)) != 0)
				return -1;
		}
		if (p->name == NULL)
			return serr(c, e, "name is required");
		for (int j = 0; j < i; j++)
			if (strcmp(cfg->plugins[j].name, p->name) == 0)
				return serr(c, e,
				    "plugin \"%s\" is listed "
				    "twice",
				    p->name);
		if (p->kv == NULL) {
			p->kv = calloc(1, sizeof(*p->kv));
			if (p->kv == NULL)
				return serr(c, e, "out of memory");
		}
	}
	return 0;
}

static int
parse_local_domains(
    struct ctx *c, const config_setting_t *s, void *dst, const struct key *k)
{
	struct rmx_config *cfg = c->cfg;
	int n;

	(void)dst;
	(void)k;
	if ((n = array_length(c, s)) < 0)
		return -1;
	c->local_domains_set = true;
	if (n == 0)
		return 0;
	cfg->local_domains = calloc((size_t)n, sizeof(*cfg->local_domains));
	if (cfg->local_domains == NULL)
		return serr(c, s, "out of memory");
	for (int i = 0; i < n; i++) {
		const config_setting_t *e =
		    config_setting_get_elem(s, (unsigned)i);
		char *d;

		if (want_type(c, e, CONFIG_TYPE_STRING, "a string") != 0)
			return -1;
		if ((d = strdup_nodot(config_setting_get_string(e))) == NULL)
			return serr(c, e, "out of memory");
		cfg->local_domains[cfg->nlocal_domains++] = d;
		lowercase(d);
		if (!domain_valid(d, strlen(d)))
			return serr(c, e, "\"%s\" is not a valid domain name",
			    config_setting_get_string(e));
		for (size_t j = 0; j + 1 < cfg->nlocal_domains; j++)
			if (strcmp(cfg->local_domains[j], d) == 0)
				return serr(c, e, "\"%s\" is listed twice", d);
	}
	return 0;
}

static int
parse_limits(
    struct ctx *c, const config_setting_t *s, void *dst, const struct key *k)
{
	(void)k;
	return parse_group(c, s, limit_keys, NKEYS(limit_keys), dst);
}

#define QUE(f) (offsetof(struct rmx_config, queue.f) - CFG(queue))
static const struct key queue_keys[] = {
    {"retry_initial", parse_uint, QUE(retry_initial), 1, 86400},
    {"retry_max", parse_uint, QUE(retry_max), 1, 7 * 86400},
    {"lifetime", parse_uint, QUE(lifetime), 1, 60 * 86400},
    {"delay_warning", parse_uint, QUE(delay_warning), 0, 60 * 86400},
};

#define OUT(f) (offsetof(struct rmx_config, outbound.f) - CFG(outbound))
static const struct key outbound_keys[] = {
    {"allow_loopback", parse_bool, OUT(allow_loopback), 0, 0},
    {"helo_name", parse_hostname, OUT(helo_name), 0, 0},
    {"source_ipv4", parse_source_ip, OUT(source_ipv4), AF_INET, 0},
    {"source_ipv6", parse_source_ip, OUT(source_ipv6), AF_INET6, 0},
    {"connect_timeout", parse_uint, OUT(connect_timeout), 1, 3600},
    {"max_connections", parse_uint, OUT(max_connections), 1, 1000000},
    {"dest_connections", parse_uint, OUT(dest_connections), 1, 100000},
    {"dest_rate", parse_uint, OUT(dest_rate), 0, UINT_MAX},
    {"messages_per_connection", parse_uint, OUT(messages_per_connection), 1,
	UINT_MAX},
    {"idle_timeout", parse_uint, OUT(idle_timeout), 0, 3600},
    {"reply_timeout", parse_uint, OUT(reply_timeout), 0, 3600},
    {"tls", parse_tls_policy_key, OUT(tls), 0, 0},
    {"tls_policies", parse_tls_policies, 0, 0, 0},
    {"ca_file", parse_string, OUT(ca_file), 0, 0},
};

static const char *const tls_policy_names[] = {
    [RMX_TLS_NONE] = "none",
    [RMX_TLS_MAY] = "may",
    [RMX_TLS_ENCRYPT] = "encrypt",
    [RMX_TLS_VERIFY] = "verify",
    [RMX_TLS_DANE] = "dane",
};

/* config_tls_policy_name - "none", "may", ... */
const char *
config_tls_policy_name(int policy)
{
	if (policy < 0 || (size_t)policy >= NKEYS(tls_policy_names))
		return "?";
	return tls_policy_names[policy];
}

static int
tls_policy_value(struct ctx *c, const config_setting_t *s, int *out)
{
	const char *v;

	if ((v = want_string(c, s)) == NULL)
		return -1;
	for (size_t i = 0; i < NKEYS(tls_policy_names); i++)
		if (strcmp(v, tls_policy_names[i]) == 0) {
			*out = (int)i;
			return 0;
		}
	return serr(c, s,
	    "\"%s\" is not a TLS policy (none, may, encrypt, verify, dane)", v);
}

static int
parse_tls_policy_key(
    struct ctx *c, const config_setting_t *s, void *dst, const struct key *k)
{
	(void)k;
	return tls_policy_value(c, s, dst);
}

/* outbound.tls_policies = ( { domain = "example.org"; policy = "verify"; }
 * ... ): the policy for mail to a domain (".example.org": its
 * subdomains), or to a smarthost by that name. */
static int
parse_tls_policies(
    struct ctx *c, const config_setting_t *s, void *dst, const struct key *k)
{
	struct rmx_config *cfg = c->cfg;
	int n;

	(void)dst;
	(void)k;
	n = list_length(c, s,
	    "a list of groups, as in ( { domain = \"example.org\"; policy = "
	    "\"verify\"; } )");
	if (n <= 0)
		return n;
	cfg->outbound.tls_domain = calloc((size_t)n, sizeof(char *));
	cfg->outbound.tls_policy = calloc((size_t)n, sizeof(int));
	if (cfg->outbound.tls_domain == NULL ||
	    cfg->outbound.tls_policy == NULL)
		return serr(c, s, "out of memory");
	for (int i = 0; i < n; i++) {
		const config_setting_t *e =
		    config_setting_get_elem(s, (unsigned)i);
		const char *dom = NULL;
		int pol = -1, m;
		char norm[256];

		if (want_type(c, e, CONFIG_TYPE_GROUP, "a group") != 0)
			return -1;
		m = config_setting_length(e);
		for (int j = 0; j < m; j++) {
			const config_setting_t *v =
			    config_setting_get_elem(e, (unsigned)j);
			const char *key = config_setting_name(v);
			if (strcmp(key, "domain") == 0) {
				if ((dom = want_string(c, v)) == NULL)
					return -1;
			} else if (strcmp(key, "policy") == 0) {
				if (tls_policy_value(c, v, &pol) != 0)
					return -1;
			} else {
				return serr(
				    c, v, "unknown key (domain, policy)");
			}
		}
		if (dom == NULL || pol < 0)
			return serr(c, e, "domain and policy are required");
		if (dns_name_normalize(
			dom[0] == '.' ? dom + 1 : dom, norm, sizeof(norm)) != 0)
			return serr(c, e, "\"%s\" is not a domain name", dom);
		cfg->outbound.tls_domain[i] = malloc(strlen(norm) + 2);
		if (cfg->outbound.tls_domain[i] == NULL)
			return serr(c, e, "out of memory");
		snprintf(cfg->outbound.tls_domain[i], strlen(norm) + 2, "%s%s",
		    dom[0] == '.' ? "." : "", norm);
		cfg->outbound.tls_policy[i] = pol;
		cfg->outbound.ntls_policies = (size_t)i + 1;
	}
	return 0;
}

static int
parse_outbound(
    struct ctx *c, const config_setting_t *s, void *dst, const struct key *k)
{
	(void)k;
	return parse_group(c, s, outbound_keys, NKEYS(outbound_keys), dst);
}

static int
parse_source_ip(
    struct ctx *c, const config_setting_t *s, void *dst, const struct key *k)
{
	unsigned char tmp[16];

	if (parse_string(c, s, dst, k) != 0)
		return -1;
	if (inet_pton((int)k->min, *(char **)dst, tmp) != 1)
		return serr(c, s, "\"%s\" is not an %s address", *(char **)dst,
		    k->min == AF_INET ? "IPv4" : "IPv6");
	return 0;
}

#define DNSK(f) (offsetof(struct rmx_config, dns.f) - CFG(dns))
static int parse_dns_mode(
    struct ctx *c, const config_setting_t *s, void *dst, const struct key *k);
static int parse_stub_zones(
    struct ctx *c, const config_setting_t *s, void *dst, const struct key *k);
static const struct key dns_keys[] = {
    {"mode", parse_dns_mode, DNSK(mode), 0, 0},
    {"trust_anchor", parse_string, DNSK(trust_anchor), 0, 0},
    {"unbound_conf", parse_string, DNSK(unbound_conf), 0, 0},
    {"timeout", parse_uint, DNSK(timeout), 1, 3600},
    {"stub_zones", parse_stub_zones, 0, 0, 0},
};

static int
parse_dns_mode(
    struct ctx *c, const config_setting_t *s, void *dst, const struct key *k)
{
	const char *v;

	(void)k;
	if ((v = want_string(c, s)) == NULL)
		return -1;
	if (strcmp(v, "recursive") == 0)
		*(int *)dst = 0;
	else if (strcmp(v, "resolvconf") == 0)
		*(int *)dst = 1;
	else
		return serr(c, s, "expected \"recursive\" or \"resolvconf\"");
	return 0;
}

static int
parse_stub_zones(
    struct ctx *c, const config_setting_t *s, void *dst, const struct key *k)
{
	struct rmx_config *cfg = c->cfg;
	int n;

	(void)dst;
	(void)k;
	n = list_length(c, s,
	    "a list of groups, as in ( { zone = \"example.\"; address = "
	    "\"127.0.0.1@53\"; } )");
	if (n < 0)
		return -1;
	if (n == 0)
		return 0;
	cfg->dns.stub_zone = calloc((size_t)n, sizeof(char *));
	cfg->dns.stub_addr = calloc((size_t)n, sizeof(char *));
	if (cfg->dns.stub_zone == NULL || cfg->dns.stub_addr == NULL)
		return serr(c, s, "out of memory");
	for (int i = 0; i < n; i++) {
		const config_setting_t *e =
		    config_setting_get_elem(s, (unsigned)i);
		const char *zone = NULL, *addr = NULL;
		int m;

		if (want_type(c, e, CONFIG_TYPE_GROUP, "a group") != 0)
			return -1;
		m = config_setting_length(e);
		for (int j = 0; j < m; j++) {
			const config_setting_t *v =
			    config_setting_get_elem(e, (unsigned)j);
			const char *key = config_setting_name(v);
			if (strcmp(key, "zone") != 0 &&
			    strcmp(key, "address") != 0)
				return serr(c, v, "unknown key");
			if (want_type(c, v, CONFIG_TYPE_STRING, "a string") !=
			    0)
				return -1;
			if (key[0] == 'z')
				zone = config_setting_get_string(v);
			else
				addr = config_setting_get_string(v);
		}
		if (zone == NULL || addr == NULL)
			return serr(c, e, "zone and address are required");
		cfg->dns.stub_zone[i] = strdup(zone);
		cfg->dns.stub_addr[i] = strdup(addr);
		cfg->dns.nstubs = (size_t)i + 1;
		if (cfg->dns.stub_zone[i] == NULL ||
		    cfg->dns.stub_addr[i] == NULL)
			return serr(c, e, "out of memory");
	}
	return 0;
}

static int
parse_dns(
    struct ctx *c, const config_setting_t *s, void *dst, const struct key *k)
{
	(void)k;
	return parse_group(c, s, dns_keys, NKEYS(dns_keys), dst);
}

static int
parse_queue(
    struct ctx *c, const config_setting_t *s, void *dst, const struct key *k)
{
	(void)k;
	return parse_group(c, s, queue_keys, NKEYS(queue_keys), dst);
}

/* ---- integer literals that libconfig 1.5 would wrap ----------------- */

/*
 * libconfig 1.5 stores a decimal literal without the L suffix in an int,
 * so 5000000000 silently becomes 705032704. Before validating, scan the
 * (already successfully parsed) text with the same token rules and
 * reject any integer literal that does not fit its type.
 */
struct wide_int {
	bool found;
	bool in_main;        /* in the main source, else in file */
	char file[PATH_MAX]; /* included file, named as written */
	unsigned line;
	char literal[32];
};

static int read_text(const char *path, char **text, size_t *len);

static void
note_literal(struct wide_int *w, const char *file, unsigned line, const char *p,
    size_t n)
{
	if (w->found)
		return;
	w->found = true;
	w->in_main = file == NULL;
	snprintf(w->file, sizeof(w->file), "%s", file != NULL ? file : "");
	w->line = line;
	if (n >= sizeof(w->literal))
		n = sizeof(w->literal) - 1;
	memcpy(w->literal, p, n);
	w->literal[n] = '\0';
}

static bool
is_digit(char ch)
{
	return ch >= '0' && ch <= '9';
}

static bool
is_xdigit(char ch)
{
	return is_digit(ch) || (ch >= 'a' && ch <= 'f') ||
	       (ch >= 'A' && ch <= 'F');
}

/* At q: an exponent "e5", "E-3"? */
static bool
is_exponent(const char *q)
{
	return (q[0] == 'e' || q[0] == 'E') &&
	       (is_digit(q[1]) ||
		   ((q[1] == '+' || q[1] == '-') && is_digit(q[2])));
}

/* Check one number token at p (same token rules as libconfig's scanner:
 * hex, hex64, integer, integer64, float); returns its length. */
static size_t
scan_number(const char *p, const char *file, unsigned line, struct wide_int *w)
{
	const char *q = p;
	char buf[32];
	size_t digits;
	bool wide = false, bad = false, hex = false;

	if (q[0] == '0' && (q[1] == 'x' || q[1] == 'X') && is_xdigit(q[2])) {
		hex = true;
		for (q += 2; is_xdigit(*q); q++)
			;
	} else {
		if (*q == '+' || *q == '-')
			q++;
		while (is_digit(*q))
			q++;
		if (*q == '.' || is_exponent(q)) {
			/* A float: not our concern. */
			if (*q == '.')
				for (q++; is_digit(*q); q++)
					;
			if (is_exponent(q))
				for (q += is_digit(q[1]) ? 1 : 2; is_digit(*q);
				     q++)
					;
			return q > p ? (size_t)(q - p) : 1;
		}
	}
	digits = (size_t)(q - p);
	if (*q == 'L') {
		wide = true;
		q += q[1] == 'L' ? 2 : 1;
	}
	if (digits == 0)
		return 1;
	if (digits >= sizeof(buf)) {
		bad = true;
	} else {
		memcpy(buf, p, digits);
		buf[digits] = '\0';
		errno = 0;
		if (hex) {
			unsigned long long v = strtoull(buf, NULL, 16);

			bad = errno == ERANGE ||
			      v > (wide ? (unsigned long long)LLONG_MAX
					: (unsigned long long)INT_MAX);
		} else {
			long long v = strtoll(buf, NULL, 10);

			bad = errno == ERANGE ||
			      (!wide && (v < INT_MIN || v > INT_MAX));
		}
	}
	if (bad)
		note_literal(w, file, line, p, (size_t)(q - p));
	return (size_t)(q - p);
}

static void scan_text(const struct ctx *c, const char *text, const char *file,
    int depth, struct wide_int *w);

/* At a line start: is this "@include "path""? If so scan the included
 * file and return the bytes consumed, else return 0. */
static size_t
scan_include(const struct ctx *c, const char *p, int depth, struct wide_int *w)
{
	const char *q = p;
	char path[PATH_MAX], full[2 * PATH_MAX + 2];
	size_t n = 0, len;
	char *text;

	while (*q == ' ' || *q == '\t')
		q++;
	if (strncmp(q, "@include", 8) != 0 || (q[8] != ' ' && q[8] != '\t'))
		return 0;
	for (q += 8; *q == ' ' || *q == '\t'; q++)
		;
	if (*q != '"')
		return 0;
	for (q++; *q != '\0' && *q != '"'; q++) {
		if (*q == '\\' && (q[1] == '\\' || q[1] == '"'))
			q++;
		if (n + 1 < sizeof(path))
			path[n++] = *q;
	}
	path[n] = '\0';
	if (*q == '"')
		q++;
	if (c->incdir != NULL)
		snprintf(full, sizeof(full), "%s/%s", c->incdir, path);
	else
		snprintf(full, sizeof(full), "%s", path);
	/* libconfig has read it already; a failure here only skips it. */
	if (depth < INCLUDE_DEPTH_MAX && read_text(full, &text, &len) == 0) {
		scan_text(c, text, path, depth + 1, w);
		free(text);
	}
	return (size_t)(q - p);
}

/* Scan text (file NULL = the main source) for wrapped integer literals. */
static void
scan_text(const struct ctx *c, const char *text, const char *file, int depth,
    struct wide_int *w)
{
	const char *p = text;
	unsigned line = 1;
	bool bol = true;

	while (*p != '\0' && !w->found) {
		size_t n;

		if (bol && (n = scan_include(c, p, depth, w)) > 0) {
			p += n;
			bol = false;
			continue;
		}
		bol = false;
		if (*p == '\n') {
			line++;
			bol = true;
			p++;
		} else if (*p == '"') {
			for (p++; *p != '\0' && *p != '"'; p++) {
				if (*p == '\\' && p[1] != '\0')
					p++;
				if (*p == '\n')
					line++;
			}
			if (*p == '"')
				p++;
		} else if (*p == '#' || (p[0] == '/' && p[1] == '/')) {
			while (*p != '\0' && *p != '\n')
				p++;
		} else if (p[0] == '/' && p[1] == '*') {
			for (p += 2;
			     *p != '\0' && !(p[0] == '*' && p[1] == '/'); p++)
				if (*p == '\n')
					line++;
			if (*p != '\0')
				p += 2;
		} else if ((*p >= 'A' && *p <= 'Z') ||
			   (*p >= 'a' && *p <= 'z') || *p == '*') {
			while (is_ldh(*p) || *p == '_' || *p == '*')
				p++;
		} else if (is_digit(*p) || *p == '.' ||
			   ((*p == '+' || *p == '-') &&
			       (is_digit(p[1]) || p[1] == '.'))) {
			p += scan_number(p, file, line, w);
		} else {
			p++;
		}
	}
}

/* Find the numeric setting a literal belongs to: the last one starting
 * at or before its line in the same file. */
static const config_setting_t *
find_setting_at(const config_setting_t *s, const struct wide_int *w,
    const config_setting_t *best)
{
	int type = config_setting_type(s);

	if (type == CONFIG_TYPE_INT || type == CONFIG_TYPE_INT64) {
		const char *sf = config_setting_source_file(s);
		bool same = w->in_main ? sf == NULL
				       : sf != NULL && strcmp(sf, w->file) == 0;

		if (same && config_setting_source_line(s) <= w->line &&
		    (best == NULL || config_setting_source_line(s) >=
					 config_setting_source_line(best)))
			best = s;
	}
	if (config_setting_is_aggregate(s)) {
		int n = config_setting_length(s);

		for (int i = 0; i < n; i++)
			best = find_setting_at(
			    config_setting_get_elem(s, (unsigned)i), w, best);
	}
	return best;
}

static int
check_wide_ints(struct ctx *c, const char *text)
{
	struct wide_int w = {0};
	const config_setting_t *s;
	char key[512] = "";

	scan_text(c, text, NULL, 0, &w);
	if (!w.found)
		return 0;
	s = find_setting_at(config_root_setting(&c->lc), &w, NULL);
	if (s != NULL)
		setting_path(s, key, sizeof(key));
	return ferr(c, w.in_main ? NULL : w.file, w.line, key,
	    "integer %s does not fit in %s; write it with the L suffix "
	    "(as in 5000000000L) or as a size string (as in \"5G\")",
	    w.literal, strchr(w.literal, 'L') != NULL ? "64 bits" : "32 bits");
}

/* ---- loading ------------------------------------------------------- */

static char *
default_hostname(void)
{
	char host[256];
	struct addrinfo hints, *res = NULL;
	char *out = NULL;

	if (gethostname(host, sizeof(host)) != 0)
		return NULL;
	host[sizeof(host) - 1] = '\0';
	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_CANONNAME;
	if (getaddrinfo(host, NULL, &hints, &res) == 0) {
		if (res != NULL && res->ai_canonname != NULL) {
			out = strdup_nodot(res->ai_canonname);
			if (out != NULL && !domain_valid(out, strlen(out))) {
				free(out);
				out = NULL;
			}
		}
		freeaddrinfo(res);
	}
	if (out == NULL) {
		out = strdup_nodot(host);
		if (out != NULL && !domain_valid(out, strlen(out))) {
			free(out);
			out = NULL;
		}
	}
	return out;
}

static void
config_defaults(struct rmx_config *cfg)
{
	long cpus = sysconf(_SC_NPROCESSORS_ONLN);

	cfg->workers = cpus < 1             ? 1
		       : cpus > WORKERS_MAX ? WORKERS_MAX
					    : (unsigned)cpus;
	cfg->log_level = LOG_INFO;
	cfg->hold = false;
	cfg->sandbox = true;
	cfg->pin_workers = true;
	cfg->queue_map_size = (size_t)(4 * GIB);
	cfg->limits = (struct rmx_limits){
	    .line_max = 512,
	    .text_line_max = 1000,
	    .header_max = (size_t)MIB,
	    .message_max = 50 * MIB,
	    .rcpt_max = 1000,
	    .conn_max = 10000,
	    .conn_per_ip = 50,
	    .cmds_max = 10000,
	    .errors_max = 20,
	    .hops_max = 100,
	    .timeout_command = 300,
	    .timeout_data = 180,
	    .timeout_session = 3600,
	    .shutdown_grace = 30,
	    .auth_failures_per_ip = 5,
	    .auth_failure_window = 900,
	    .min_data_rate = 256,
	    .data_rate_window = 30,
	    .command_deadline = 300,
	    .min_free_space = 32 * MIB,
	};
	cfg->queue.retry_initial = 300;
	cfg->dns.timeout = 30;
	cfg->queue.retry_max = 3600;
	cfg->queue.lifetime = 5 * 86400;
	cfg->queue.delay_warning = 4 * 3600;
	cfg->outbound.connect_timeout = 30;
	cfg->outbound.tls = RMX_TLS_DANE;
	cfg->outbound.max_connections = 1000;
	cfg->outbound.dest_connections = 20;
	cfg->outbound.messages_per_connection = 100;
	cfg->outbound.idle_timeout = 5;
}

/* Defaults that depend on other keys or on the machine. */
static int
config_finish(struct ctx *c)
{
	struct rmx_config *cfg = c->cfg;

	if (cfg->nlisteners == 0)
		return ferr(c, NULL, 0, "listeners",
		    "at least one listener is required");
	if (cfg->state_dir == NULL &&
	    (cfg->state_dir = strdup("./var")) == NULL)
		return ferr(c, NULL, 0, "state_dir", "out of memory");
	if (cfg->maildir_root == NULL) {
		size_t n = strlen(cfg->state_dir) + sizeof("/mail");

		if ((cfg->maildir_root = malloc(n)) == NULL)
			return ferr(
			    c, NULL, 0, "maildir_root", "out of memory");
		snprintf(cfg->maildir_root, n, "%s/mail", cfg->state_dir);
	}
	if (!c->local_domains_set) {
		cfg->local_domains = calloc(1, sizeof(*cfg->local_domains));
		if (cfg->local_domains == NULL ||
		    (cfg->local_domains[0] = strdup("localhost")) == NULL)
			return ferr(
			    c, NULL, 0, "local_domains", "out of memory");
		cfg->nlocal_domains = 1;
	}
	if (cfg->plugin_dir == NULL &&
	    (cfg->plugin_dir = strdup(RINGMX_PLUGIN_DIR)) == NULL)
		return ferr(c, NULL, 0, "plugin_dir", "out of memory");
	for (size_t i = 0; i < cfg->nplugins; i++) {
		struct plugin_cfg *p = &cfg->plugins[i];
		size_t n;

		if (p->path != NULL)
			continue;
		n = strlen(cfg->plugin_dir) + strlen(p->name) + 5;
		if ((p->path = malloc(n)) == NULL)
			return ferr(c, NULL, 0, "plugins", "out of memory");
		snprintf(p->path, n, "%s/%s.so", cfg->plugin_dir, p->name);
	}
	for (size_t i = 0; i < cfg->nlisteners; i++) {
		struct rmx_listener_cfg *l = &cfg->listeners[i];
		if (!l->auth_explicit)
			l->auth = l->mode != LISTEN_SMTP;
		if (l->mode == LISTEN_SUBMISSIONS && l->tls.ncerts == 0)
			return ferr(c, NULL, 0, "listeners",
			    "listener %s: mode \"submissions\" (implicit TLS) "
			    "needs a tls group with certificates",
			    l->address);
	}
	if (cfg->hostname == NULL &&
	    (cfg->hostname = default_hostname()) == NULL)
		return ferr(c, NULL, 0, "hostname",
		    "the machine's name is not a valid domain name; set "
		    "hostname");
	return 0;
}

static struct rmx_config *
load(const char *text, const char *name, const char *incdir, char *err,
    size_t errlen)
{
	struct ctx c;
	struct rmx_config *cfg;
	int rc = -1;

	memset(&c, 0, sizeof(c));
	c.name = name != NULL ? name : "<string>";
	c.incdir = incdir;
	c.err = err;
	c.errlen = errlen;
	if (err != NULL && errlen > 0)
		err[0] = '\0';
	if ((cfg = calloc(1, sizeof(*cfg))) == NULL) {
		ferr(&c, NULL, 0, NULL, "out of memory");
		return NULL;
	}
	c.cfg = cfg;
	config_defaults(cfg);
	if ((cfg->source = strdup(c.name)) == NULL) {
		ferr(&c, NULL, 0, NULL, "out of memory");
		config_free(cfg);
		return NULL;
	}

	config_init(&c.lc);
	if (incdir != NULL)
		config_set_include_dir(&c.lc, incdir);
	if (config_read_string(&c.lc, text) != CONFIG_TRUE) {
		ferr(&c, config_error_file(&c.lc),
		    (unsigned)(config_error_line(&c.lc) > 0
				   ? config_error_line(&c.lc)
				   : 0),
		    NULL, "%s",
		    config_error_text(&c.lc) != NULL ? config_error_text(&c.lc)
						     : "parse error");
	} else if (check_wide_ints(&c, text) == 0 &&
		   walk_group(&c, config_root_setting(&c.lc), top_keys,
		       NKEYS(top_keys), cfg) == 0 &&
		   config_finish(&c) == 0) {
		rc = 0;
	}
	config_destroy(&c.lc);
	if (rc != 0) {
		config_free(cfg);
		return NULL;
	}
	return cfg;
}

/* Read a whole file (at most CONFIG_FILE_MAX bytes); 0 or -1 with errno. */
static int
read_text(const char *path, char **text, size_t *len)
{
	FILE *f;
	struct stat st;
	char *buf = NULL;
	size_t n = 0, cap = 0;

	if ((f = fopen(path, "r")) == NULL)
		return -1;
	if (fstat(fileno(f), &st) != 0) {
		int e = errno;

		fclose(f);
		errno = e;
		return -1;
	}
	if (S_ISDIR(st.st_mode)) {
		fclose(f);
		errno = EISDIR;
		return -1;
	}
	for (;;) {
		size_t got;

		if (n + 1 >= cap) {
			size_t ncap = cap ? cap * 2 : 4096;
			char *nb;

			if (ncap > CONFIG_FILE_MAX + 1) {
				free(buf);
				fclose(f);
				errno = EFBIG;
				return -1;
			}
			if ((nb = realloc(buf, ncap)) == NULL) {
				free(buf);
				fclose(f);
				errno = ENOMEM;
				return -1;
			}
			buf = nb;
			cap = ncap;
		}
		got = fread(buf + n, 1, cap - n - 1, f);
		n += got;
		if (got == 0)
			break;
	}
	if (ferror(f)) {
		int e = errno;

		free(buf);
		fclose(f);
		errno = e != 0 ? e : EIO;
		return -1;
	}
	fclose(f);
	buf[n] = '\0';
	*text = buf;
	*len = n;
	return 0;
}

/* config_load - parse and validate a file, or the embedded default */
struct rmx_config *
config_load(const char *path, char *err, size_t errlen)
{
	struct rmx_config *cfg;
	char *text, *dir, *slash, *nul;
	size_t len;

	if (path == NULL)
		return config_load_string(
		    config_default_text, "<embedded>", err, errlen);
	if (read_text(path, &text, &len) != 0) {
		if (err != NULL && errlen > 0)
			snprintf(err, errlen, "%s: cannot read: %s", path,
			    strerror(errno));
		return NULL;
	}
	if ((nul = memchr(text, '\0', len)) != NULL) {
		unsigned line = 1;

		for (const char *q = text; q < nul; q++)
			line += *q == '\n';
		if (err != NULL && errlen > 0)
			snprintf(err, errlen, "%s:%u: NUL byte in the file",
			    path, line);
		free(text);
		return NULL;
	}
	/* @include paths are relative to the directory of the file. */
	if ((dir = strdup(path)) == NULL) {
		if (err != NULL && errlen > 0)
			snprintf(err, errlen, "%s: out of memory", path);
		free(text);
		return NULL;
	}
	if ((slash = strrchr(dir, '/')) == NULL)
		strcpy(dir, ".");
	else if (slash == dir)
		slash[1] = '\0';
	else
		*slash = '\0';
	cfg = load(text, path, dir, err, errlen);
	free(dir);
	free(text);
	return cfg;
}

/* config_load_string - parse and validate configuration text */
struct rmx_config *
config_load_string(const char *text, const char *name, char *err, size_t errlen)
{
	return load(text != NULL ? text : "", name, NULL, err, errlen);
}

/* ---- printing ------------------------------------------------------- */

static void
print_string(FILE *out, const char *s)
{
	fputc('"', out);
	for (; *s != '\0'; s++) {
		unsigned char ch = (unsigned char)*s;

		switch (ch) {
		case '"':
			fputs("\\\"", out);
			break;
		case '\\':
			fputs("\\\\", out);
			break;
		case '\n':
			fputs("\\n", out);
			break;
		case '\r':
			fputs("\\r", out);
			break;
		case '\t':
			fputs("\\t", out);
			break;
		case '\f':
			fputs("\\f", out);
			break;
		default:
			if (ch < 0x20 || ch == 0x7f)
				fprintf(out, "\\x%02x", ch);
			else
				fputc(ch, out);
		}
	}
	fputc('"', out);
}

/* Sizes as "4G"/"50M"/"64K" when exact, else as a number. */
static void
print_size(FILE *out, uint64_t v)
{
	if (v != 0 && v % GIB == 0)
		fprintf(out, "\"%lluG\"", (unsigned long long)(v / GIB));
	else if (v != 0 && v % MIB == 0)
		fprintf(out, "\"%lluM\"", (unsigned long long)(v / MIB));
	else if (v != 0 && v % KIB == 0)
		fprintf(out, "\"%lluK\"", (unsigned long long)(v / KIB));
	else if (v <= INT_MAX)
		fprintf(out, "%llu", (unsigned long long)v);
	else /* a string: no 32-bit trap, and all 64 bits round-trip */
		fprintf(out, "\"%llu\"", (unsigned long long)v);
}

static const char *
level_name(int level)
{
	for (size_t i = 0; i < NKEYS(log_levels); i++)
		if (log_levels[i].level == level)
			return log_levels[i].name;
	return "info";
}

/* An optional string key inside a group: "\tkey = "value";" or nothing. */
static void
print_opt(FILE *out, const char *key, const char *v)
{
	if (v == NULL)
		return;
	fprintf(out, "\t%s = ", key);
	print_string(out, v);
	fputs(";\n", out);
}

/* config_print - write the effective configuration in libconfig syntax */
void
config_print(const struct rmx_config *cfg, FILE *out)
{
	const struct rmx_limits *l = &cfg->limits;

	fputs("# ringmx effective configuration\n", out);
	fputs("hostname = ", out);
	print_string(out, cfg->hostname);
	if (cfg->authserv_id != NULL) {
		fputs(";\nauthserv_id = ", out);
		print_string(out, cfg->authserv_id);
	}
	if (cfg->control_socket != NULL) {
		fputs(";\ncontrol_socket = ", out);
		print_string(out, cfg->control_socket);
	}
	if (cfg->control_group != NULL) {
		fputs(";\ncontrol_group = ", out);
		print_string(out, cfg->control_group);
	}
	if (cfg->metrics_on) {
		fputs(";\nmetrics = { listen = ", out);
		print_string(out, cfg->metrics.address);
		fputs("; }", out);
	}
	fprintf(out,
	    ";\nworkers = %u;\npin_workers = %s;\nstate_dir = ", cfg->workers,
	    cfg->pin_workers ? "true" : "false");
	print_string(out, cfg->state_dir);
	fputs(";\nmaildir_root = ", out);
	print_string(out, cfg->maildir_root);
	fputs(";\n", out);
	if (cfg->log_file != NULL) {
		fputs("log_file = ", out);
		print_string(out, cfg->log_file);
		fputs(";\n", out);
	} else {
		fputs("# log_file unset: log to stderr\n", out);
	}
	fprintf(out, "log_level = \"%s\";\n", level_name(cfg->log_level));
	fprintf(out, "log_format = \"%s\";\n",
	    cfg->log_format == 1 ? "json" : "text");
	if (cfg->user != NULL) {
		fputs("user = ", out);
		print_string(out, cfg->user);
		fputs(";\n", out);
	}
	if (cfg->group != NULL) {
		fputs("group = ", out);
		print_string(out, cfg->group);
		fputs(";\n", out);
	}
	fprintf(out, "sandbox = %s;\n", cfg->sandbox ? "true" : "false");
	fprintf(
	    out, "hold = %s;\nqueue_map_size = ", cfg->hold ? "true" : "false");
	print_size(out, cfg->queue_map_size);
	fputs(";\nlisteners = (\n", out);
	for (size_t i = 0; i < cfg->nlisteners; i++) {
		unsigned m = (unsigned)cfg->listeners[i].mode;

		fputs("\t{ address = ", out);
		print_string(out, cfg->listeners[i].address);
		const struct rmx_tls_cfg *t = &cfg->listeners[i].tls;
		fprintf(out, "; mode = \"%s\"; auth = %s; auth_plaintext = %s;",
		    m < NKEYS(mode_names) ? mode_names[m] : "smtp",
		    cfg->listeners[i].auth ? "true" : "false",
		    cfg->listeners[i].auth_plaintext ? "true" : "false");
		if (t->ncerts > 0) {
			fputs("\n\t  tls = { certificates = (", out);
			for (size_t j = 0; j < t->ncerts; j++) {
				fputs(j ? ", { cert = " : " { cert = ", out);
				print_string(out, t->cert[j]);
				fputs("; key = ", out);
				print_string(out, t->key[j]);
				fputs("; }", out);
			}
			fprintf(out,
			    " ); min_version = \"TLSv1.%d\"; "
			    "handshake_timeout = %u;",
			    t->min_version - 10, t->handshake_timeout);
			if (t->ciphers != NULL) {
				fputs(" ciphers = ", out);
				print_string(out, t->ciphers);
				fputs(";", out);
			}
			fputs(" };", out);
		}
		fprintf(out, " }%s\n", i + 1 < cfg->nlisteners ? "," : "");
	}
	fputs(");\nlocal_domains = [", out);
	for (size_t i = 0; i < cfg->nlocal_domains; i++) {
		fputs(i > 0 ? ", " : " ", out);
		print_string(out, cfg->local_domains[i]);
	}
	fputs(" ];\nlimits = {\n\tline_max = ", out);
	print_size(out, l->line_max);
	fputs(";\n\ttext_line_max = ", out);
	print_size(out, l->text_line_max);
	fputs(";\n\theader_max = ", out);
	print_size(out, l->header_max);
	fputs(";\n\tmessage_max = ", out);
	print_size(out, l->message_max);
	fprintf(out,
	    ";\n\trcpt_max = %u;\n\tconn_max = %u;\n\tconn_per_ip = %u;\n"
	    "\tcmds_max = %u;\n\terrors_max = %u;\n\thops_max = %u;\n"
	    "\ttimeout_command = %u;\n\ttimeout_data = %u;\n"
	    "\ttimeout_session = %u;\n\tshutdown_grace = %u;\n"
	    "\tauth_failures_per_ip = %u;\n\tauth_failure_window = %u;\n"
	    "\tmin_data_rate = %u;\n\tdata_rate_window = %u;\n"
	    "\tcommand_deadline = %u;\n\tmin_free_space = ",
	    l->rcpt_max, l->conn_max, l->conn_per_ip, l->cmds_max,
	    l->errors_max, l->hops_max, l->timeout_command, l->timeout_data,
	    l->timeout_session, l->shutdown_grace, l->auth_failures_per_ip,
	    l->auth_failure_window, l->min_data_rate, l->data_rate_window,
	    l->command_deadline);
	print_size(out, l->min_free_space);
	fputs(";\n};\n", out);
	fprintf(out,
	    "queue = {\n\tretry_initial = %u;\n\tretry_max = %u;\n"
	    "\tlifetime = %u;\n\tdelay_warning = %u;\n};\n",
	    cfg->queue.retry_initial, cfg->queue.retry_max, cfg->queue.lifetime,
	    cfg->queue.delay_warning);
	fprintf(out, "outbound = {\n\tallow_loopback = %s;\n",
	    cfg->outbound.allow_loopback ? "true" : "false");
	print_opt(out, "helo_name", cfg->outbound.helo_name);
	print_opt(out, "source_ipv4", cfg->outbound.source_ipv4);
	print_opt(out, "source_ipv6", cfg->outbound.source_ipv6);
	fprintf(out,
	    "\tconnect_timeout = %u;\n\tmax_connections = %u;\n"
	    "\tdest_connections = %u;\n\tdest_rate = %u;\n"
	    "\tmessages_per_connection = %u;\n\tidle_timeout = %u;\n"
	    "\treply_timeout = %u;\n\ttls = \"%s\";\n",
	    cfg->outbound.connect_timeout, cfg->outbound.max_connections,
	    cfg->outbound.dest_connections, cfg->outbound.dest_rate,
	    cfg->outbound.messages_per_connection, cfg->outbound.idle_timeout,
	    cfg->outbound.reply_timeout,
	    config_tls_policy_name(cfg->outbound.tls));
	print_opt(out, "ca_file", cfg->outbound.ca_file);
	if (cfg->outbound.ntls_policies > 0) {
		fputs("\ttls_policies = (", out);
		for (size_t i = 0; i < cfg->outbound.ntls_policies; i++) {
			fputs(i ? ", { domain = " : " { domain = ", out);
			print_string(out, cfg->outbound.tls_domain[i]);
			fprintf(out, "; policy = \"%s\"; }",
			    config_tls_policy_name(
				cfg->outbound.tls_policy[i]));
		}
		fputs(" );\n", out);
	}
	fputs("};\n", out);
	fprintf(out, "dns = {\n\tmode = \"%s\";\n",
	    cfg->dns.mode ? "resolvconf" : "recursive");
	fprintf(out, "\ttimeout = %u;\n", cfg->dns.timeout);
	print_opt(out, "trust_anchor", cfg->dns.trust_anchor);
	print_opt(out, "unbound_conf", cfg->dns.unbound_conf);
	fputs("\tstub_zones = (", out);
	for (size_t i = 0; i < cfg->dns.nstubs; i++) {
		fputs(i ? ", { zone = " : " { zone = ", out);
		print_string(out, cfg->dns.stub_zone[i]);
		fputs("; address = ", out);
		print_string(out, cfg->dns.stub_addr[i]);
		fputs("; }", out);
	}
	fputs(" );\n};\n", out);
	fputs("relay_networks = [", out);
	for (size_t i = 0; i < cfg->nrelay_networks; i++) {
		char net[64];
		cidr_format(&cfg->relay_networks[i], net, sizeof(net));
		fputs(i > 0 ? ", " : " ", out);
		print_string(out, net);
	}
	fputs(" ];\nplugin_dir = ", out);
	print_string(out, cfg->plugin_dir);
	fputs(";\nplugins = (", out);
	for (size_t i = 0; i < cfg->nplugins; i++) {
		const struct plugin_cfg *p = &cfg->plugins[i];
		fputs(i > 0 ? ",\n\t{ name = " : "\n\t{ name = ", out);
		print_string(out, p->name);
		fputs("; path = ", out);
		print_string(out, p->path);
		fputs(";", out);
		for (size_t j = 0; j < p->nkv; j++) {
			size_t cnt = 0;
			bool first = true;
			for (size_t q = 0; q < j; q++)
				if (strcmp(p->kv[q].key, p->kv[j].key) == 0)
					first = false;
			if (!first)
				continue;
			for (size_t q = j; q < p->nkv; q++)
				cnt += strcmp(p->kv[q].key, p->kv[j].key) == 0;
			fprintf(
			    out, " %s = %s", p->kv[j].key, cnt > 1 ? "[ " : "");
			for (size_t q = j, w = 0; q < p->nkv; q++) {
				if (strcmp(p->kv[q].key, p->kv[j].key) != 0)
					continue;
				if (w++ > 0)
					fputs(", ", out);
				print_string(out, p->kv[q].value);
			}
			fputs(cnt > 1 ? " ];" : ";", out);
		}
		fputs(" }", out);
	}
	fputs(cfg->nplugins ? "\n);\n" : " );\n", out);
}

/* config_free - free a configuration and everything it owns */
void
config_free(struct rmx_config *cfg)
{
	if (cfg == NULL)
		return;
	free(cfg->source);
	free(cfg->hostname);
	free(cfg->authserv_id);
	free(cfg->control_socket);
	free(cfg->metrics.address);
	free(cfg->control_group);
	for (size_t i = 0; i < cfg->outbound.ntls_policies; i++)
		free(cfg->outbound.tls_domain[i]);
	free(cfg->outbound.tls_domain);
	free(cfg->outbound.tls_policy);
	free(cfg->outbound.ca_file);
	free(cfg->state_dir);
	free(cfg->maildir_root);
	free(cfg->log_file);
	free(cfg->user);
	free(cfg->group);
	for (size_t i = 0; i < cfg->nlisteners; i++) {
		struct rmx_tls_cfg *t = &cfg->listeners[i].tls;
		free(cfg->listeners[i].address);
		for (size_t j = 0; j < t->ncerts; j++) {
			free(t->cert[j]);
			free(t->key[j]);
		}
		free(t->cert);
		free(t->key);
		free(t->ciphers);
	}
	free(cfg->listeners);
	for (size_t i = 0; i < cfg->nlocal_domains; i++)
		free(cfg->local_domains[i]);
	free(cfg->local_domains);
	free(cfg->relay_networks);
	free(cfg->plugin_dir);
	free(cfg->outbound.helo_name);
	free(cfg->outbound.source_ipv4);
	free(cfg->outbound.source_ipv6);
	free(cfg->dns.trust_anchor);
	free(cfg->dns.unbound_conf);
	for (size_t i = 0; i < cfg->dns.nstubs; i++) {
		free(cfg->dns.stub_zone[i]);
		free(cfg->dns.stub_addr[i]);
	}
	free(cfg->dns.stub_zone);
	free(cfg->dns.stub_addr);
	for (size_t i = 0; i < cfg->nplugins; i++) {
		struct plugin_cfg *p = &cfg->plugins[i];
		free(p->name);
		free(p->path);
		free(p->source);
		for (size_t j = 0; j < p->nkv; j++) {
			free((char *)p->kv[j].key);
			free((char *)p->kv[j].value);
		}
		free(p->kv);
	}
	free(cfg->plugins);
	free(cfg);
}

/* config_is_local_domain - is domain one of local_domains (any case,
 * with or without one trailing dot)? */
bool
config_is_local_domain(const struct rmx_config *cfg, const char *domain)
{
	size_t len;

	if (cfg == NULL || domain == NULL)
		return false;
	len = strlen(domain);
	if (len > 1 && domain[len - 1] == '.')
		len--;
	if (len == 0)
		return false;
	for (size_t i = 0; i < cfg->nlocal_domains; i++) {
		const char *d = cfg->local_domains[i];

		if (strlen(d) == len && strncasecmp(d, domain, len) == 0)
			return true;
	}
	return false;
}
