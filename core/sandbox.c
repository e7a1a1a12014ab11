/*
 * sandbox.c - privilege drop, seccomp allow-list, sd_notify (sandbox.h,
 * docs/security.md).
 */
#include "sandbox.h"

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <grp.h>
#include <linux/capability.h>
#include <pwd.h>
#include <seccomp.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <time.h>
#include <ucontext.h>
#include <unistd.h>

#include "log.h"

/*
 * The system calls ringmx makes after the drop, found by running the
 * release build under `strace -f -c` through the integration suite and
 * tests/integration/test_privileges.py (inbound, STARTTLS, implicit TLS,
 * outbound SMTP/LMTP, DNS, plugins, control socket, metrics, reload,
 * log reopen, shutdown), plus what glibc's and libunbound's fallbacks
 * use for the same jobs. Sorted; docs/security.md has the reasoning.
 * Every name is resolved at run time; one unknown to the architecture is
 * skipped.
 */
const char *const sandbox_syscalls[] = {
    /* io_uring: operations are restricted per ring instead */
    "io_uring_enter",
    "io_uring_register",
    /* memory */
    "brk",
    "madvise",
    "membarrier",
    "mmap",
    "mprotect",
    "mremap",
    "munmap",
    /* threads, signals, time */
    "clock_gettime",
    "clock_nanosleep",
    "clone",
    "clone3",
    "exit",
    "exit_group",
    "futex",
    "get_robust_list",
    "getpid",
    "getrandom",
    "gettid",
    "gettimeofday",
    "nanosleep",
    "rseq",
    "rt_sigaction",
    "rt_sigprocmask",
    "rt_sigreturn",
    "rt_sigtimedwait",
    "sched_getaffinity",
    "sched_setaffinity",
    "sched_yield",
    "set_robust_list",
    "sigaltstack",
    "tgkill",
    "time",
    "prctl", /* pthread_setname_np of threads started later */
    /* files: queue (LMDB), Maildir, configuration, certificates, logs */
    "access",
    "close",
    "fadvise64",
    "fcntl",
    "fdatasync",
    "flock",
    "fstat",
    "fstatfs",
    "fsync",
    "ftruncate",
    "getcwd",
    "getdents64",
    "lseek",
    "lstat",
    "mkdir",
    "mkdirat",
    "newfstatat",
    "open",
    "openat",
    "pread64",
    "pwrite64",
    "read",
    "readlink",
    "readlinkat",
    "readv",
    "rename",
    "renameat",
    "renameat2",
    "stat",
    "statfs",
    "statx",
    "unlink",
    "unlinkat",
    "write",
    "writev",
    /* descriptors and waiting */
    "dup",
    "dup2",
    "dup3",
    "epoll_create1",
    "epoll_ctl",
    "epoll_pwait",
    "epoll_wait",
    "eventfd2",
    "ioctl",
    "pipe",
    "pipe2",
    "poll",
    "ppoll",
    "pselect6",
    "select",
    /* sockets: outbound SMTP, DNS, control socket, new listeners */
    "accept",
    "accept4",
    "bind",
    "connect",
    "getpeername",
    "getsockname",
    "getsockopt",
    "listen",
    "recvfrom",
    "recvmmsg",
    "recvmsg",
    "sendmmsg",
    "sendmsg",
    "sendto",
    "setsockopt",
    "shutdown",
    "socket",
    "socketpair",
    /* identity (reads only; the switch happened before the filter) */
    "getegid",
    "geteuid",
    "getgid",
    "getgroups",
    "getuid",
    "uname",
    "sysinfo",
    "getrlimit",
    "prlimit64",
    "getrusage",
    NULL,
};

/* ---- state kept from sandbox_prepare ---- */

static struct {
	bool root;      /* started as root */
	bool switching; /* switch to uid/gid at the drop */
	uid_t uid;
	gid_t gid;
	gid_t *groups; /* the account's supplementary groups */
	int ngroups;
	char name[64];
} who;

static int notify_fd = -1;

/* Denied system calls, from the SIGSYS handler to sandbox_poll. */
#define NR_MAX 1024
static _Atomic uint64_t denied[NR_MAX / 64];
static _Atomic uint64_t reported[NR_MAX / 64];
static atomic_uint denied_any;

static int
caps_get(struct __user_cap_data_struct d[2])
{
	struct __user_cap_header_struct h = {_LINUX_CAPABILITY_VERSION_3, 0};
	return (int)syscall(SYS_capget, &h, d);
}

static int
caps_set(struct __user_cap_data_struct d[2])
{
	struct __user_cap_header_struct h = {_LINUX_CAPABILITY_VERSION_3, 0};
	return (int)syscall(SYS_capset, &h, d);
}

/* Empty the bounding set (needs CAP_SETPCAP; without it nothing was
 * there to give away by execve anyway) and the ambient set. */
static void
drop_bounding(void)
{
	for (int c = 0; c <= CAP_LAST_CAP + 8; c++) {
		if (prctl(PR_CAPBSET_READ, c, 0, 0, 0) != 1)
			continue;
		if (prctl(PR_CAPBSET_DROP, c, 0, 0, 0) != 0)
			break; /* no CAP_SETPCAP: leave it */
	}
	prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0);
}

static void
notify_open(void)
{
	const char *e = getenv("NOTIFY_SOCKET");
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	size_t n;
	socklen_t len;
	int fd;

	if (e == NULL || (e[0] != '/' && e[0] != '@'))
		return;
	n = strlen(e);
	if (n >= sizeof(sa.sun_path))
		return;
	memcpy(sa.sun_path, e, n);
	if (e[0] == '@')
		sa.sun_path[0] = '\0'; /* abstract namespace */
	len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + n +
			  (e[0] == '/'));
	fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return;
	/* connected now, while we may still open anything: the drop does
	 * not take readiness reports away */
	if (connect(fd, (struct sockaddr *)&sa, len) != 0) {
		log_event(LOG_WARNING, "notify_socket_failed", "reason=\"%s\"",
		    strerror(errno));
		close(fd);
		return;
	}
	notify_fd = fd;
	unsetenv("NOTIFY_SOCKET"); /* not inherited by anything we run */
}

int
sandbox_prepare(const struct rmx_config *cfg, char *err, size_t errlen)
{
	const char *user = cfg->user;

	notify_open();
	who.root = geteuid() == 0;
#ifdef RINGMX_TESTING
	/* the sanitizer build (the test suite, often run as root in
	 * throw-away directories only root can enter) switches only when
	 * told to */
	if (user == NULL)
		return 0;
#endif
	if (!who.root) {
		/* an ordinary user: nothing to switch; capabilities given to
		 * us (ambient, file) are dropped at sandbox_drop for this
		 * thread; threads started before keep at most what the
		 * bounding set allows, so empty it now */
		drop_bounding();
		return 0;
	}
	if (user == NULL)
		user = "ringmx";
	if (strcmp(user, "root") == 0) {
		/* explicitly asked to stay root: no switch (a warning) */
		return 0;
	}
	{
		struct passwd *pw = getpwnam(user);
		struct group *gr;
		int n = 64;

		if (pw == NULL) {
			snprintf(err, errlen,
			    "user %s: no such user (create it: adduser "
			    "--system --group --no-create-home --home "
			    "/nonexistent %s, or set user)",
			    user, user);
			return -1;
		}
		who.uid = pw->pw_uid;
		who.gid = pw->pw_gid;
		snprintf(who.name, sizeof(who.name), "%s", user);
		if (cfg->group != NULL) {
			if ((gr = getgrnam(cfg->group)) == NULL) {
				snprintf(err, errlen, "group %s: no such group",
				    cfg->group);
				return -1;
			}
			who.gid = gr->gr_gid;
		}
		for (;;) {
			gid_t *g = realloc(who.groups, (size_t)n * sizeof(*g));
			int want = n;
			if (g == NULL) {
				snprintf(err, errlen, "out of memory");
				return -1;
			}
			who.groups = g;
			if (getgrouplist(user, who.gid, g, &want) >= 0) {
				who.ngroups = want;
				break;
			}
			if (want <= n)
				want = n * 2;
			n = want;
		}
	}
	who.switching = who.uid != 0;
	/* the bounding set only limits what execve could give: empty it
	 * while we are the only thread (it is per thread); the effective
	 * capabilities needed until the drop are kept */
	drop_bounding();
	return 0;
}

/* ---- handing the state directory over ---- */

static uid_t walk_uid;
static gid_t walk_gid;
static int walk_errno;
static char walk_path[512];

static int
walk_one(const char *path, const struct stat *st, int flag, struct FTW *f)
{
	gid_t g = S_ISSOCK(st->st_mode) ? (gid_t)-1 : walk_gid;

	(void)flag;
	(void)f;
	if (st->st_uid == walk_uid && (g == (gid_t)-1 || st->st_gid == g))
		return 0;
	if (lchown(path, walk_uid, g) != 0 && walk_errno == 0) {
		walk_errno = errno;
		snprintf(walk_path, sizeof(walk_path), "%s", path);
	}
	return 0;
}

static int
hand_over(const char *path, bool whole, char *err, size_t errlen)
{
	struct stat st;

	if (path == NULL || lstat(path, &st) != 0)
		return 0;
	if (!whole && st.st_uid == who.uid)
		return 0; /* ours already: no walk through every mailbox */
	walk_uid = who.uid;
	walk_gid = who.gid;
	walk_errno = 0;
	if (!S_ISDIR(st.st_mode))
		walk_one(path, &st, 0, NULL);
	else
		nftw(path, walk_one, 32, FTW_PHYS | FTW_MOUNT);
	if (walk_errno != 0) {
		snprintf(err, errlen,
		    "cannot hand %s to user %s: %s (make it owned by %s)",
		    walk_path, who.name, strerror(walk_errno), who.name);
		return -1;
	}
	return 0;
}

/* ---- seccomp ---- */

#if !defined(__SANITIZE_ADDRESS__)

#if defined(__x86_64__) || defined(__aarch64__)
#define SANDBOX_TRAP 1
static void
on_sigsys(int sig, siginfo_t *si, void *ucv)
{
	ucontext_t *uc = ucv;
	int nr = si->si_syscall;

	(void)sig;
	if (nr >= 0 && nr < NR_MAX)
		atomic_fetch_or_explicit(&denied[nr / 64],
		    (uint64_t)1 << (nr % 64), memory_order_relaxed);
	atomic_fetch_add_explicit(&denied_any, 1, memory_order_release);
	/* the call was not made: it returns -EPERM */
#if defined(__x86_64__)
	uc->uc_mcontext.gregs[REG_RAX] = -EPERM;
#else
	uc->uc_mcontext.regs[0] = (unsigned long long)-EPERM;
#endif
}
#endif

static int
load_filter(char *err, size_t errlen)
{
	scmp_filter_ctx ctx;
	int r;

#ifdef SANDBOX_TRAP
	struct sigaction sa;
	memset(&sa, 0, sizeof(sa));
	sa.sa_sigaction = on_sigsys;
	sa.sa_flags = SA_SIGINFO;
	sigemptyset(&sa.sa_mask);
	if (sigaction(SIGSYS, &sa, NULL) != 0) {
		snprintf(err, errlen, "sigaction(SIGSYS): %s", strerror(errno));
		return -1;
	}
	ctx = seccomp_init(SCMP_ACT_TRAP);
#else
	ctx = seccomp_init(SCMP_ACT_ERRNO(EPERM));
#endif
	if (ctx == NULL) {
		snprintf(err, errlen, "seccomp_init failed");
		return -1;
	}
	if ((r = seccomp_attr_set(ctx, SCMP_FLTATR_CTL_TSYNC, 1)) != 0 ||
	    (r = seccomp_attr_set(ctx, SCMP_FLTATR_CTL_NNP, 1)) != 0)
		goto fail;
	for (size_t i = 0; sandbox_syscalls[i] != NULL; i++) {
		int nr = seccomp_syscall_resolve_name(sandbox_syscalls[i]);
		if (nr == __NR_SCMP_ERROR)
			continue;
		if ((r = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, nr, 0)) != 0 &&
		    r != -EEXIST)
			goto fail;
	}
	if ((r = seccomp_load(ctx)) != 0)
		goto fail;
	seccomp_release(ctx);
	return 0;
fail:
	snprintf(err, errlen, "seccomp: %s", strerror(-r));
	seccomp_release(ctx);
	return -1;
}
#endif /* !__SANITIZE_ADDRESS__ */

int
sandbox_drop(const struct rmx_config *cfg, char *err, size_t errlen)
{
	struct __user_cap_data_struct none[2];
	const char *what = "none";

	if (who.switching) {
		char sock[4096];
		const char *ctl = cfg->control_socket;
		if (ctl == NULL) {
			snprintf(sock, sizeof(sock), "%s/control.sock",
			    cfg->state_dir);
			ctl = sock;
		}
		/* the queue, the pid file and (default) control socket: the
		 * whole tree, it is small; Maildirs only when the root is
		 * not ours yet (first start) */
		if (hand_over(cfg->state_dir, true, err, errlen) != 0 ||
		    hand_over(cfg->maildir_root, false, err, errlen) != 0 ||
		    hand_over(cfg->log_file, true, err, errlen) != 0 ||
		    hand_over(ctl, true, err, errlen) != 0)
			return -1;
		/* glibc applies these to every thread (setxid broadcast);
		 * leaving uid 0 clears the permitted, effective and ambient
		 * capabilities of each */
		if (setgroups((size_t)who.ngroups, who.groups) != 0 ||
		    setresgid(who.gid, who.gid, who.gid) != 0 ||
		    setresuid(who.uid, who.uid, who.uid) != 0) {
			snprintf(err, errlen, "cannot switch to user %s: %s",
			    who.name, strerror(errno));
			return -1;
		}
		if (setresuid(0, 0, 0) == 0) {
			snprintf(err, errlen, "could regain root after drop");
			return -1;
		}
		what = who.name;
	}
	free(who.groups);
	who.groups = NULL;
	if (who.root && !who.switching) {
		/* user = "root" (or the test build without user): stays
		 * root with its capabilities */
		log_event(LOG_WARNING, "running_as_root",
		    "hint=\"set user to drop privileges\"");
		goto confine;
	}
	/* this thread: nothing permitted, effective or inheritable */
	memset(none, 0, sizeof(none));
	if (caps_set(none) != 0) {
		snprintf(err, errlen, "capset: %s", strerror(errno));
		return -1;
	}
	prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0);
	{
		struct __user_cap_data_struct d[2];
		if (caps_get(d) != 0 || d[0].permitted || d[1].permitted ||
		    d[0].effective || d[1].effective) {
			snprintf(err, errlen, "capabilities still held");
			return -1;
		}
	}
confine:
	if (!cfg->sandbox) {
		log_event(LOG_WARNING, "sandbox",
		    "user=%s uid=%u seccomp=off no_new_privs=off "
		    "reason=\"sandbox = false\"",
		    what, (unsigned)geteuid());
		return 0;
	}
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) {
		snprintf(
		    err, errlen, "PR_SET_NO_NEW_PRIVS: %s", strerror(errno));
		return -1;
	}
#if defined(__SANITIZE_ADDRESS__)
	/* ASan and LeakSanitizer make system calls of their own (a ptrace
	 * of the process at exit): the sanitizer build runs without the
	 * filter; the release build is what the tests confine */
	log_event(LOG_NOTICE, "sandbox",
	    "user=%s uid=%u no_new_privs=on seccomp=off "
	    "reason=sanitizer_build",
	    what, (unsigned)geteuid());
	return 0;
#else
	if (load_filter(err, errlen) != 0)
		return -1;
	log_event(LOG_NOTICE, "sandbox",
	    "user=%s uid=%u no_new_privs=on seccomp=on", what,
	    (unsigned)geteuid());
	return 0;
#endif
}

bool
sandbox_ring_restrict(const struct rmx_config *cfg)
{
	return cfg->sandbox;
}

void
sandbox_notify(const char *state)
{
	char msg[256];
	int n;

	if (notify_fd < 0)
		return;
	if (strcmp(state, "READY=1") == 0) {
		n = snprintf(
		    msg, sizeof(msg), "READY=1\nMAINPID=%d", (int)getpid());
	} else if (strcmp(state, "RELOADING=1") == 0) {
		struct timespec ts;
		clock_gettime(CLOCK_MONOTONIC, &ts);
		n = snprintf(msg, sizeof(msg),
		    "RELOADING=1\nMONOTONIC_USEC=%llu",
		    (unsigned long long)ts.tv_sec * 1000000ULL +
			(unsigned long long)ts.tv_nsec / 1000);
	} else {
		n = snprintf(msg, sizeof(msg), "%s", state);
	}
	if (n > 0 && (size_t)n < sizeof(msg))
		(void)send(notify_fd, msg, (size_t)n, MSG_NOSIGNAL);
}

void
sandbox_poll(void)
{
	static unsigned seen;
	unsigned now = atomic_load_explicit(&denied_any, memory_order_acquire);

	if (now == seen)
		return;
	seen = now;
	for (int w = 0; w < NR_MAX / 64; w++) {
		uint64_t d =
		    atomic_load_explicit(&denied[w], memory_order_relaxed);
		uint64_t r = atomic_fetch_or_explicit(
		    &reported[w], d, memory_order_relaxed);
		uint64_t fresh = d & ~r;
		for (int b = 0; fresh != 0 && b < 64; b++) {
			char *name;
			if (!(fresh & ((uint64_t)1 << b)))
				continue;
			name = seccomp_syscall_resolve_num_arch(
			    SCMP_ARCH_NATIVE, w * 64 + b);
			log_event(LOG_ERR, "seccomp_denied",
			    "syscall=%s nr=%d result=EPERM", name ? name : "?",
			    w * 64 + b);
			free(name);
		}
	}
}
