/*
 * main.c - ringmx's entry point: command line, configuration, state
 * directory and pid file, queue shards and their assignment to workers,
 * worker start, and signal handling (graceful stop, forced stop).
 * The mail path itself runs in the workers (worker.c).
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "config.h"
#include "control.h"
#include "diskspace.h"
#include "ip_limit.h"
#include "log.h"
#include "metrics.h"
#include "queue_shard.h"
#include "sandbox.h"
#include "tls_server.h"
#include "worker.h"

#include <wolfssl/options.h>
#include <wolfssl/ssl.h>

static void
usage(FILE *f)
{
	fprintf(f,
	    "usage: ringmx [-c FILE] [--check-config] [--print-config]\n"
	    "  -c, --config FILE   configuration file (default: embedded)\n"
	    "  --check-config      validate the configuration and exit\n"
	    "  --print-config      print the effective configuration\n"
	    "  -V, --version       print the version\n");
}

/* mkdir -p with mode 0700 for the directories we create. */
static int
mkdirs(const char *path)
{
	char tmp[4096];
	size_t n = strlen(path);

	if (n == 0 || n >= sizeof(tmp))
		return -1;
	memcpy(tmp, path, n + 1);
	for (size_t i = 1; i < n; i++) {
		if (tmp[i] != '/')
			continue;
		tmp[i] = '\0';
		if (mkdir(tmp, 0755) != 0 && errno != EEXIST)
			return -1;
		tmp[i] = '/';
	}
	if (mkdir(tmp, 0700) != 0 && errno != EEXIST)
		return -1;
	return 0;
}

static int
write_pidfile(const char *state_dir)
{
	char path[4096], line[32];
	int fd, n;

	snprintf(path, sizeof(path), "%s/ringmx.pid", state_dir);
	fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
	if (fd < 0) {
		fprintf(stderr, "ringmx: %s: %s\n", path, strerror(errno));
		return -1;
	}
	if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
		fprintf(stderr,
		    "ringmx: %s is locked: another ringmx is "
		    "running on this state_dir\n",
		    path);
		close(fd);
		return -1;
	}
	n = snprintf(line, sizeof(line), "%d\n", (int)getpid());
	if (ftruncate(fd, 0) != 0 || write(fd, line, (size_t)n) != n) {
		fprintf(stderr, "ringmx: %s: %s\n", path, strerror(errno));
		close(fd);
		return -1;
	}
	return fd; /* kept open (and locked) for the process's life */
}

/* Numbers of the shard-N directories under queue_dir, sorted. */
static int
list_shards(const char *queue_dir, unsigned **out, size_t *n)
{
	DIR *d = opendir(queue_dir);
	struct dirent *de;
	unsigned *v = NULL;
	size_t cnt = 0, cap = 0;

	*out = NULL;
	*n = 0;
	if (d == NULL)
		return errno == ENOENT ? 0 : -1;
	while ((de = readdir(d)) != NULL) {
		char *end;
		unsigned long no;
		if (strncmp(de->d_name, "shard-", 6) != 0)
			continue;
		errno = 0;
		no = strtoul(de->d_name + 6, &end, 10);
		if (*end != '\0' || errno != 0 || no > 255 ||
		    de->d_name[6] == '\0')
			continue;
		if (cnt == cap) {
			unsigned *nv;
			cap = cap ? cap * 2 : 16;
			nv = realloc(v, cap * sizeof(*v));
			if (nv == NULL) {
				free(v);
				closedir(d);
				return -1;
			}
			v = nv;
		}
		v[cnt++] = (unsigned)no;
	}
	closedir(d);
	*out = v;
	*n = cnt;
	return 0;
}

static struct queue_shard *
open_shard(const struct rmx_config *cfg, const char *queue_dir, unsigned no)
{
	char dir[4096], err[512];
	struct queue_shard *qs;

	snprintf(dir, sizeof(dir), "%s/shard-%u", queue_dir, no);
	qs = queue_shard_open(dir, no, cfg->queue_map_size, err, sizeof(err));
	if (qs == NULL)
		fprintf(stderr, "ringmx: queue shard %s: %s\n", dir, err);
	return qs;
}

/*
 * Worker i writes new mail into shard-i and also drains every existing
 * shard-M with M >= workers and M % workers == i (a restart with fewer
 * workers orphans no shard).
 */
static int
assign_shards(const struct rmx_config *cfg, struct worker_params *wp)
{
	char queue_dir[4096];
	unsigned *found;
	size_t nfound;

	snprintf(queue_dir, sizeof(queue_dir), "%s/queue", cfg->state_dir);
	if (mkdirs(queue_dir) != 0) {
		fprintf(stderr, "ringmx: %s: %s\n", queue_dir, strerror(errno));
		return -1;
	}
	if (list_shards(queue_dir, &found, &nfound) != 0) {
		fprintf(stderr, "ringmx: %s: %s\n", queue_dir, strerror(errno));
		return -1;
	}
	for (unsigned i = 0; i < cfg->workers; i++) {
		size_t cap = 1 + nfound;
		wp[i].shards = calloc(cap, sizeof(*wp[i].shards));
		if (wp[i].shards == NULL)
			goto fail;
		wp[i].shards[0] = open_shard(cfg, queue_dir, i);
		if (wp[i].shards[0] == NULL)
			goto fail;
		wp[i].nshards = 1;
		for (size_t k = 0; k < nfound; k++) {
			if (found[k] < cfg->workers ||
			    found[k] % cfg->workers != i)
				continue;
			wp[i].shards[wp[i].nshards] =
			    open_shard(cfg, queue_dir, found[k]);
			if (wp[i].shards[wp[i].nshards] == NULL)
				goto fail;
			log_event(LOG_NOTICE, "shard_adopted",
			    "shard=%u "
			    "worker=%u",
			    found[k], i);
			wp[i].nshards++;
		}
	}
	free(found);
	return 0;
fail:
	free(found);
	return -1;
}

/*
 * SIGHUP: read and validate the configuration file again; plugins get
 * their new settings (tables, keys) atomically, and every worker re-reads
 * the TLS certificate and key files (same paths). Other settings apply at
 * the next restart (a full live reload arrives with the control socket).
 * A bad file changes nothing.
 */
struct reload_ctx {
	const char *path;
	struct plugin_host *plugins;
	struct worker **workers;
	unsigned nworkers;
	struct rmx_config **cfg; /* main's current configuration */
	struct control *ctl;     /* told about the new one */
	struct rmx_config **old; /* replaced configurations: sessions may */
	size_t nold;             /* still point into them, freed at exit */
};

static bool
same_str(const char *a, const char *b)
{
	return (a == NULL && b == NULL) ||
	       (a != NULL && b != NULL && strcmp(a, b) == 0);
}

/* Settings a running daemon cannot change: listed in msg ("" if none). */
static void
restart_only(const struct rmx_config *o, const struct rmx_config *n, char *msg,
    size_t len)
{
	size_t k = 0;

	msg[0] = '\0';
#define RESTART(cond, name)    \
	if ((cond) && k < len) \
	k += (size_t)snprintf(msg + k, len - k, "%s%s", k ? ", " : "", name)
	RESTART(o->dns.mode != n->dns.mode ||
		    o->dns.timeout != n->dns.timeout ||
		    o->dns.nstubs != n->dns.nstubs ||
		    !same_str(o->dns.trust_anchor, n->dns.trust_anchor) ||
		    !same_str(o->dns.unbound_conf, n->dns.unbound_conf),
	    "dns");
	RESTART(!same_str(o->control_socket, n->control_socket) ||
		    !same_str(o->control_group, n->control_group),
	    "control_socket/control_group");
	RESTART(o->metrics_on != n->metrics_on ||
		    (o->metrics_on &&
			!same_str(o->metrics.address, n->metrics.address)),
	    "metrics");
	RESTART(o->queue_map_size != n->queue_map_size, "queue_map_size");
	RESTART(o->pin_workers != n->pin_workers, "pin_workers");
	RESTART(!same_str(o->log_file, n->log_file), "log_file");
	RESTART(o->nplugins != n->nplugins, "the plugins list");
#undef RESTART
}

static int
reload_config(void *arg, char *msg, size_t msglen)
{
	struct reload_ctx *rc = arg;
	char err[1024], q[1100];
	struct rmx_config *ncfg = config_load(rc->path, err, sizeof(err));
	int ret = 0;

	if (ncfg == NULL) {
		log_event(LOG_ERR, "reload", "result=failed reason=%s",
		    log_quote(err, q, sizeof(q)));
		snprintf(msg, msglen, "%s", err);
		return -1;
	}
	/* certificates first: a file that does not load changes nothing */
	for (size_t i = 0; i < ncfg->nlisteners; i++) {
		struct tls_server *t;
		if (ncfg->listeners[i].tls.ncerts == 0)
			continue;
		if ((t = tls_server_new(
			 &ncfg->listeners[i].tls, err, sizeof(err))) == NULL) {
			log_event(LOG_ERR, "reload", "result=failed reason=%s",
			    log_quote(err, q, sizeof(q)));
			snprintf(msg, msglen, "%s", err);
			config_free(ncfg);
			return -1;
		}
		tls_server_free(t);
	}
	if (plugin_host_reconfigure(rc->plugins, ncfg->plugins, ncfg->nplugins,
		err, sizeof(err)) != 0) {
		log_event(LOG_ERR, "reload", "result=partial reason=%s",
		    log_quote(err, q, sizeof(q)));
		snprintf(msg, msglen, "%s", err);
		ret = -1;
	}
	{
		const struct rmx_config *cur = *rc->cfg;
		struct rmx_config **o;
		char later[300];

		if (ncfg->workers != cur->workers ||
		    strcmp(ncfg->state_dir, cur->state_dir) != 0 ||
		    strcmp(ncfg->maildir_root, cur->maildir_root) != 0) {
			snprintf(msg, msglen,
			    "workers, state_dir and maildir_root cannot change "
			    "while running: restart ringmx (nothing changed)");
			log_event(LOG_ERR, "reload", "result=failed reason=%s",
			    log_quote(msg, q, sizeof(q)));
			config_free(ncfg);
			return -1;
		}
		if ((o = realloc(rc->old, (rc->nold + 1) * sizeof(*o))) ==
		    NULL) {
			snprintf(msg, msglen, "out of memory");
			config_free(ncfg);
			return -1;
		}
		rc->old = o;
		rc->old[rc->nold++] = *rc->cfg;
		/* against what the daemon started with: those settings are
		 * still in force whatever later reloads said */
		restart_only(rc->nold > 0 ? rc->old[0] : cur, ncfg, later,
		    sizeof(later));
		*rc->cfg = ncfg;
		log_set_level(ncfg->log_level);
		log_set_format(ncfg->log_format);
		for (unsigned i = 0; i < rc->nworkers; i++)
			worker_reconfigure(rc->workers[i], ncfg);
		control_set_config(rc->ctl, ncfg);
		if (ret == 0) {
			snprintf(msg, msglen,
			    "configuration reloaded: listeners, limits, "
			    "routes, outbound and queue settings, plugin "
			    "settings and certificates%s%s%s",
			    later[0] ? "; at the next restart: " : "", later,
			    "");
			log_event(LOG_NOTICE, "reload", "result=ok%s%s%s",
			    later[0] ? " restart_needed=\"" : "", later,
			    later[0] ? "\"" : "");
		}
	}
	return ret;
}

/* A reload, told to systemd (Type=notify) as RELOADING=1 ... READY=1. */
static int
reload(void *arg, char *msg, size_t msglen)
{
	int r;

	sandbox_notify("RELOADING=1");
	r = reload_config(arg, msg, msglen);
	sandbox_notify("READY=1");
	return r;
}

int
main(int argc, char **argv)
{
	static const struct option opts[] = {
	    {"config", required_argument, NULL, 'c'},
	    {"check-config", no_argument, NULL, 'C'},
	    {"print-config", no_argument, NULL, 'P'},
	    {"version", no_argument, NULL, 'V'},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	const char *cfgpath = NULL;
	bool check = false, print = false;
	struct rmx_config *cfg;
	char err[1024];
	struct worker_params *wp;
	struct worker **workers;
	struct ip_limit *iplim, *authfail, *dests, *rates;
	struct plugin_host *plugins = NULL;
	struct control *ctl = NULL;
	struct queue_shard **ctl_shards = NULL;
	struct reload_ctx rctx = {0};
	struct metrics_src msrc = {0};
	sigset_t sigs;
	int c, pidfd, rc = 0;
	bool stopping = false;

	while ((c = getopt_long(argc, argv, "c:Vh", opts, NULL)) != -1) {
		switch (c) {
		case 'c':
			cfgpath = optarg;
			break;
		case 'C':
			check = true;
			break;
		case 'P':
			print = true;
			break;
		case 'V':
			printf("ringmx %s\n", RINGMX_VERSION);
			return 0;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (optind != argc) {
		usage(stderr);
		return 2;
	}
	cfg = config_load(cfgpath, err, sizeof(err));
	if (cfg == NULL) {
		fprintf(stderr, "ringmx: %s\n", err);
		return 1;
	}
	if (check || print) {
		int rc2 = 0;
		if (print) {
			config_print(cfg, stdout);
		} else if (cfg->nplugins > 0) {
			/* plugins validate their own settings at load */
			struct plugin_host *ph = plugin_host_load(
			    cfg->plugins, cfg->nplugins, err, sizeof(err));
			if (ph == NULL) {
				fprintf(stderr, "ringmx: %s\n", err);
				rc2 = 1;
			}
			plugin_host_free(ph);
		}
		if (check && rc2 == 0)
			printf("%s: configuration ok\n", cfg->source);
		config_free(cfg);
		return rc2;
	}
	log_set_format(cfg->log_format);
	if (log_open(cfg->log_file, cfg->log_level) != 0) {
		fprintf(stderr, "ringmx: log %s: %s\n", cfg->log_file,
		    strerror(errno));
		config_free(cfg);
		return 1;
	}
	/* Single-threaded still: the account to switch to, the systemd
	 * notify socket, the capability bounding set (core/sandbox.c).
	 * Everything that needs root happens between here and
	 * sandbox_drop below. */
	if (sandbox_prepare(cfg, err, sizeof(err)) != 0) {
		fprintf(stderr, "ringmx: %s\n", err);
		log_event(LOG_ERR, "startup_failed", "reason=\"%s\"", err);
		config_free(cfg);
		log_close();
		return 1;
	}
	wolfSSL_Init(); /* once, before any worker makes a TLS context */

	/* Plugins first: a plugin that refuses its settings stops the
	 * start before anything is created. */
	if (cfg->nplugins > 0) {
		plugins = plugin_host_load(
		    cfg->plugins, cfg->nplugins, err, sizeof(err));
		if (plugins == NULL) {
			fprintf(stderr, "ringmx: %s\n", err);
			log_event(LOG_ERR, "startup_failed", "reason=plugin");
			config_free(cfg);
			log_close();
			return 1;
		}
	}
	if (mkdirs(cfg->state_dir) != 0 || mkdirs(cfg->maildir_root) != 0) {
		fprintf(stderr, "ringmx: cannot create %s or %s: %s\n",
		    cfg->state_dir, cfg->maildir_root, strerror(errno));
		config_free(cfg);
		return 1;
	}
	if ((pidfd = write_pidfile(cfg->state_dir)) < 0) {
		config_free(cfg);
		return 1;
	}

	/* Signals go to this thread only (sigwaitinfo below). */
	sigemptyset(&sigs);
	sigaddset(&sigs, SIGTERM);
	sigaddset(&sigs, SIGINT);
	sigaddset(&sigs, SIGHUP);
	sigaddset(&sigs, SIGUSR1);
	sigaddset(&sigs, SIGPIPE);
	pthread_sigmask(SIG_BLOCK, &sigs, NULL);

	iplim = ip_limit_new(cfg->limits.conn_max * 2);
	authfail = ip_limit_new(4096);
	dests = ip_limit_new(4096);
	rates = ip_limit_new(4096);
	wp = calloc(cfg->workers, sizeof(*wp));
	workers = calloc(cfg->workers, sizeof(*workers));
	if (iplim == NULL || authfail == NULL || dests == NULL ||
	    rates == NULL || wp == NULL || workers == NULL ||
	    assign_shards(cfg, wp) != 0) {
		fprintf(stderr, "ringmx: cannot open the queue\n");
		for (unsigned i = 0; wp != NULL && i < cfg->workers; i++) {
			for (size_t k = 0; k < wp[i].nshards; k++)
				queue_shard_close(wp[i].shards[k]);
			free(wp[i].shards);
		}
		free(wp);
		free(workers);
		ip_limit_free(iplim);
		ip_limit_free(authfail);
		ip_limit_free(dests);
		ip_limit_free(rates);
		plugin_host_free(plugins);
		config_free(cfg);
		return 1;
	}
	worker_read_env(); /* before any worker thread exists */
	for (unsigned i = 0; i < cfg->workers; i++) {
		wp[i].index = i;
		wp[i].cfg = cfg;
		wp[i].iplim = iplim;
		wp[i].authfail = authfail;
		wp[i].dests = dests;
		wp[i].rates = rates;
		wp[i].plugins = plugins;
		wp[i].metrics = &msrc;
		workers[i] = worker_new(&wp[i]);
		if (workers[i] == NULL || worker_start(workers[i]) != 0) {
			fprintf(stderr, "ringmx: cannot start worker %u\n", i);
			return 1;
		}
	}
	for (unsigned i = 0; i < cfg->workers; i++) {
		if (worker_wait_ready(workers[i], err, sizeof(err)) != 0) {
			fprintf(stderr, "ringmx: %s\n", err);
			log_event(
			    LOG_ERR, "startup_failed", "reason=\"%s\"", err);
			_exit(1);
		}
	}
	for (size_t i = 0; i < cfg->nlisteners; i++)
		log_event(LOG_INFO, "listening", "address=%s",
		    cfg->listeners[i].address);
	{
		/* the control socket reads every shard (read-only) */
		struct control_env ce = {0};
		size_t nsh = 0;
		for (unsigned i = 0; i < cfg->workers; i++)
			nsh += wp[i].nshards;
		ctl_shards = calloc(nsh ? nsh : 1, sizeof(*ctl_shards));
		for (unsigned i = 0; ctl_shards != NULL && i < cfg->workers;
		     i++)
			for (size_t k = 0; k < wp[i].nshards; k++)
				ctl_shards[ce.nshards++] = wp[i].shards[k];
		ce.cfg = cfg;
		ce.config_path = cfgpath;
		ce.workers = workers;
		ce.nworkers = cfg->workers;
		ce.plugins = plugins;
		ce.shards = ctl_shards;
		ce.started = (int64_t)time(NULL);
		msrc.workers = workers;
		msrc.nworkers = cfg->workers;
		msrc.shards = ctl_shards;
		msrc.nshards = ce.nshards;
		msrc.started = ce.started;
		atomic_store_explicit(&msrc.ready, true, memory_order_release);
		rctx.path = cfgpath;
		rctx.plugins = plugins;
		rctx.workers = workers;
		rctx.nworkers = cfg->workers;
		rctx.cfg = &cfg;
		if (ctl_shards == NULL || (rctx.ctl = ctl = control_start(&ce,
					       err, sizeof(err))) == NULL) {
			fprintf(stderr, "ringmx: %s\n", err);
			log_event(
			    LOG_ERR, "startup_failed", "reason=\"%s\"", err);
			_exit(1);
		}
	}
	/* Listeners bound, keys and certificates read, queue, pid file and
	 * control socket open, plugins loaded: give up root, capabilities
	 * and every system call not on the allow-list (all threads). */
	if (sandbox_drop(cfg, err, sizeof(err)) != 0) {
		fprintf(stderr, "ringmx: %s\n", err);
		log_event(LOG_ERR, "startup_failed", "reason=\"%s\"", err);
		_exit(1);
	}
	log_event(LOG_NOTICE, "ready",
	    "version=%s workers=%u hostname=%s "
	    "pid=%d",
	    RINGMX_VERSION, cfg->workers, cfg->hostname, (int)getpid());
	sandbox_notify("READY=1");

	for (;;) {
		struct timespec ts = {0, 100 * 1000 * 1000};
		siginfo_t si;
		int sig = sigtimedwait(&sigs, &si, &ts);
		bool all_done = true;

		if (sig == SIGTERM || sig == SIGINT) {
			if (stopping) {
				log_event(LOG_WARNING, "forced_exit",
				    "signal=%d", sig);
				_exit(1);
			}
			stopping = true;
			sandbox_notify("STOPPING=1");
			log_event(LOG_NOTICE, "shutdown",
			    "signal=%d "
			    "grace=%u",
			    sig, cfg->limits.shutdown_grace);
			for (unsigned i = 0; i < cfg->workers; i++)
				worker_request_stop(workers[i]);
		} else if (sig == SIGHUP) {
			char msg[1024];
			reload(&rctx, msg, sizeof(msg));
		} else if (sig == SIGUSR1) {
			/* logrotate moved the file away: start a new one */
			if (log_reopen(cfg->log_file) != 0)
				log_event(LOG_ERR, "log_reopen_failed",
				    "file=%s", cfg->log_file);
			else
				log_event(LOG_NOTICE, "log_reopened", "file=%s",
				    cfg->log_file ? cfg->log_file : "stderr");
		}
		control_main_poll(ctl, reload, &rctx);
		sandbox_poll();
		{
			/* the queue's free space, about once a second */
			static int64_t last;
			int64_t t = (int64_t)time(NULL);
			if (t != last) {
				last = t;
				diskspace_check(
				    cfg->state_dir, cfg->limits.min_free_space);
			}
		}
		if (!stopping)
			continue;
		for (unsigned i = 0; i < cfg->workers; i++)
			all_done = all_done && worker_done(workers[i]);
		if (all_done)
			break;
	}
	control_stop(ctl); /* before the workers close their shards */
	for (unsigned i = 0; i < cfg->workers; i++)
		worker_join_free(workers[i]);
	{
		char path[4096];
		snprintf(path, sizeof(path), "%s/ringmx.pid", cfg->state_dir);
		unlink(path);
	}
	close(pidfd);
	log_event(LOG_NOTICE, "exit", "status=0");
	wolfSSL_Cleanup();
	control_free(ctl);
	for (size_t i = 0; i < rctx.nold; i++)
		config_free(rctx.old[i]);
	free(rctx.old);
	free(workers);
	free(wp);
	free(ctl_shards);
	plugin_host_free(plugins);
	ip_limit_free(iplim);
	ip_limit_free(authfail);
	ip_limit_free(dests);
	ip_limit_free(rates);
	config_free(cfg);
	log_close();
	return rc;
}
