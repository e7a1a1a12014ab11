/*
 * config.h - ringmx's configuration: the typed, validated result of one
 * libconfig file (or of the embedded default when no file is given).
 *
 * A struct rmx_config is immutable once loaded; it is shared read-only by
 * every thread (reload will swap a whole new one in). It owns all its
 * memory; free it with config_free().
 */
#ifndef RINGMX_CONFIG_H
#define RINGMX_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/socket.h>

#include "cidr.h"
#include "plugin_host.h"

enum listener_mode {
	LISTEN_SMTP = 0,    /* port 25 style: STARTTLS offered */
	LISTEN_SUBMISSION,  /* 587: STARTTLS required before AUTH/MAIL */
	LISTEN_SUBMISSIONS, /* 465: implicit TLS */
};

/* A listener's TLS settings (the `tls` group). */
struct rmx_tls_cfg {
	size_t ncerts;   /* 0: no TLS on this listener */
	char **cert;     /* PEM certificate (chain) files; [0] is the default */
	char **key;      /* PEM private key files, one per certificate */
	int min_version; /* 12 (TLS 1.2, default) or 13 */
	char *ciphers;   /* wolfSSL cipher list, NULL = default */
	unsigned handshake_timeout; /* seconds, default 30 */
};

/* Outbound TLS policies (RFC 7672 / Postfix names). DANE means: DANE
 * where DNSSEC makes it apply, opportunistic TLS elsewhere. */
enum rmx_tls_policy {
	RMX_TLS_NONE = 0, /* never STARTTLS */
	RMX_TLS_MAY,      /* STARTTLS when offered, no authentication */
	RMX_TLS_ENCRYPT,  /* TLS mandatory, no authentication */
	RMX_TLS_VERIFY,   /* TLS mandatory, PKIX + MX host name */
	RMX_TLS_DANE,     /* DANE (RFC 7672) where it applies, else may */
};
#define RMX_CA_FILE_DEFAULT "/etc/ssl/certs/ca-certificates.crt"
const char *config_tls_policy_name(int policy);

struct rmx_listener_cfg {
	char *address; /* as written: "127.0.0.1:2525" or "[::1]:2525" */
	struct sockaddr_storage addr;
	socklen_t addrlen;
	enum listener_mode mode;
	bool auth;           /* offer AUTH (default: true on submission(s)) */
	bool auth_plaintext; /* allow AUTH without TLS (default false) */
	bool auth_explicit;  /* auth was set in the file (not defaulted) */
	struct rmx_tls_cfg tls;
};

struct rmx_limits {
	size_t line_max;      /* command line incl. CRLF, default 512 */
	size_t text_line_max; /* DATA text line incl. CRLF, default 1000 */
	size_t header_max;    /* header section, default 1 MiB */
	uint64_t message_max; /* default 50 MiB */
	unsigned rcpt_max;    /* per transaction, default 1000 */
	unsigned conn_max;    /* connections total, default 10000 */
	unsigned conn_per_ip; /* connections per client IP, default 50 */
	unsigned cmds_max;    /* commands per session, default 10000 */
	unsigned errors_max;  /* errors per session before 421, def. 20 */
	unsigned hops_max;    /* Received: headers, default 100 */
	/* Timeouts in seconds (RFC 5321 4.5.3.2 values as defaults). */
	unsigned timeout_command;      /* waiting for a command, default 300 */
	unsigned timeout_data;         /* between DATA blocks, default 180 */
	unsigned timeout_session;      /* whole session cap, default 3600 */
	unsigned shutdown_grace;       /* SIGTERM grace period, default 30 */
	unsigned auth_failures_per_ip; /* AUTH failures before 421, def. 5 */
	unsigned auth_failure_window;  /* seconds a failure counts, 900 */
	/* Slow clients (slowloris): while a command line or a DATA/BDAT
	 * phase is under way, at least min_data_rate bytes/s (0 = off)
	 * over each data_rate_window seconds after the first window, and
	 * a whole command line within command_deadline seconds. */
	unsigned min_data_rate;    /* bytes/s, default 256, 0 = off */
	unsigned data_rate_window; /* seconds, default 30 */
	unsigned command_deadline; /* seconds, default 300 */
	/* free space of the state directory's filesystem below which MAIL
	 * gets 452 4.3.1 (0 = never), default 32 MiB */
	uint64_t min_free_space;
};

struct rmx_config {
	char *source;         /* file name, or "<embedded>" */
	char *hostname;       /* default: the machine's FQDN */
	char *authserv_id;    /* Authentication-Results id; NULL = hostname */
	char *control_socket; /* NULL = <state_dir>/control.sock */
	char *control_group;  /* group allowed on the socket, NULL = none */
	/* metrics { listen = "127.0.0.1:9125"; }: the HTTP endpoint (its
	 * address fields only); metrics_on when configured */
	struct rmx_listener_cfg metrics;
	bool metrics_on;
	unsigned workers;   /* default: online CPUs */
	bool pin_workers;   /* loop thread k on the k-th CPU (default true) */
	char *state_dir;    /* default "./var" */
	char *maildir_root; /* default "<state_dir>/mail" */
	char *log_file;     /* NULL = stderr */
	int log_level;      /* LOG_ERR..LOG_DEBUG (syslog numbering) */
	int log_format;     /* LOG_FORMAT_TEXT (0, default) or _JSON */
	bool hold;          /* keep accepted mail queued, deliver nothing */
	/* privileges (core/sandbox.c): the account to run as when started
	 * as root (NULL = "ringmx"), its group (NULL = the user's primary
	 * group); sandbox: NO_NEW_PRIVS, seccomp, io_uring restrictions
	 * (default true) */
	char *user;
	char *group;
	bool sandbox;
	size_t queue_map_size; /* LMDB map size per shard, default 4 GiB */
	size_t nlisteners;
	struct rmx_listener_cfg *listeners;
	size_t nlocal_domains;
	char **local_domains; /* lower-cased */
	struct rmx_limits limits;
	struct {
		unsigned retry_initial; /* first retry delay, s (default 300) */
		unsigned retry_max;     /* backoff cap, s (default 3600) */
		unsigned lifetime;      /* then bounce, s (default 5 days) */
		unsigned delay_warning; /* delay DSN after, s (4 h; 0 = off) */
	} queue;
	struct {
		bool allow_loopback; /* deliver to loopback/own addresses */
		char *helo_name;     /* NULL = hostname */
		char *source_ipv4;   /* NULL = kernel's choice */
		char *source_ipv6;
		unsigned connect_timeout;         /* s, default 30 */
		unsigned max_connections;         /* process-wide, def. 1000 */
		unsigned dest_connections;        /* per destination, def. 20 */
		unsigned dest_rate;               /* msgs/min/dest, 0 = off */
		unsigned messages_per_connection; /* default 100 */
		unsigned idle_timeout;            /* reuse window, s, def. 5 */
		unsigned reply_timeout; /* cap of the RFC 5321 client timeouts,
					   s, 0 = the RFC values (default) */
		/* TLS: the default policy (enum rmx_tls_policy), policies
		 * per destination domain, the CA file for "verify" */
		int tls;
		size_t ntls_policies;
		char *
		    *tls_domain; /* lower-cased; ".example.org" = subdomains */
		int *tls_policy;
		char *ca_file; /* NULL = Debian's ca-certificates bundle */
	} outbound;
	struct {
		int mode;           /* 0 recursive, 1 resolvconf */
		char *trust_anchor; /* NULL = Debian's dns-root-data */
		char *unbound_conf; /* extra libunbound config, NULL = none */
		unsigned timeout;   /* seconds per query, default 30 */
		size_t nstubs;
		char **stub_zone; /* zone names */
		char **stub_addr; /* "ip@port" each */
	} dns;
	size_t nrelay_networks;
	struct cidr *relay_networks; /* clients that may relay */
	char *plugin_dir;            /* default for plugins' path */
	size_t nplugins;
	struct plugin_cfg *plugins; /* in hook-chain order */
};

/*
 * config_load - parse and validate path (NULL = the embedded default).
 * Unknown keys, wrong types and bad values are errors. On failure returns
 * NULL and writes "FILE:LINE: key: what is wrong" into err.
 */
struct rmx_config *config_load(const char *path, char *err, size_t errlen);
/* config_load_string - same, from text (used for the embedded default and
 * by tests); name is used in error messages. */
struct rmx_config *config_load_string(
    const char *text, const char *name, char *err, size_t errlen);
/* config_print - the effective configuration, in libconfig syntax that
 * config_load accepts. */
void config_print(const struct rmx_config *cfg, FILE *out);
void config_free(struct rmx_config *cfg);
/* config_is_local_domain - case-insensitive match against local_domains. */
bool config_is_local_domain(const struct rmx_config *cfg, const char *domain);

/* The embedded default configuration text. */
extern const char config_default_text[];

#endif
