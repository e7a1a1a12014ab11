/*
 * stats.c - names of the per-worker counters (see stats.h) and the
 * thread-local pointer to the calling worker's counters.
 */
#include "stats.h"

_Thread_local struct stats *stats_self;

static const struct {
	const char *name, *help;
} names[ST__COUNT] = {
    [ST_CONN_ACCEPTED] = {"connections_accepted",
	"Inbound connections accepted"},
    [ST_CONN_REFUSED] = {"connections_refused",
	"Inbound connections refused by connection limits"},
    [ST_MSG_QUEUED] = {"messages_queued",
	"Messages accepted and durably queued"},
    [ST_REJ_CONNECT] = {"rejected_connect", "Refusals at connect time"},
    [ST_REJ_HELO] = {"rejected_helo", "HELO/EHLO commands refused"},
    [ST_REJ_AUTH] = {"rejected_auth", "AUTH commands refused or failed"},
    [ST_REJ_MAIL] = {"rejected_mail", "MAIL commands refused"},
    [ST_REJ_RCPT] = {"rejected_rcpt", "RCPT commands refused"},
    [ST_REJ_DATA] = {"rejected_data", "Messages refused at DATA/BDAT"},
    [ST_REJ_OTHER] = {"rejected_other", "Other commands refused"},
    [ST_AUTH_OK] = {"auth_success", "Successful SMTP AUTH"},
    [ST_TLS_HANDSHAKES] = {"tls_handshakes",
	"Inbound TLS handshakes completed"},
    [ST_TLS_FAILED] = {"tls_failed", "Inbound TLS handshakes failed"},
    [ST_DELIVERED] = {"delivered", "Recipients delivered"},
    [ST_DEFERRED] = {"deferred", "Recipient delivery attempts deferred"},
    [ST_BOUNCED] = {"bounced", "Recipients failed permanently"},
    [ST_DNS_QUERIES] = {"plugin_dns_queries", "DNS queries of plugins"},
    [ST_DNS_CACHE_HITS] = {"plugin_dns_cache_hits",
	"Plugin DNS queries answered from the worker's cache"},
    [ST_PLUGIN_ACCEPT] = {"plugin_accept", "Plugin verdicts: accept"},
    [ST_PLUGIN_REJECT] = {"plugin_reject", "Plugin verdicts: reject"},
    [ST_PLUGIN_TEMPFAIL] = {"plugin_tempfail",
	"Plugin verdicts: tempfail or disconnect"},
    [ST_OUT_TLS] = {"outbound_tls_handshakes",
	"Outbound TLS handshakes completed"},
    [ST_CONN_OPEN] = {"connections_open", "Inbound connections open now"},
};

const char *
stat_name(enum stat_id id)
{
	return (unsigned)id < ST__COUNT ? names[id].name : "unknown";
}

const char *
stat_help(enum stat_id id)
{
	return (unsigned)id < ST__COUNT ? names[id].help : "";
}
