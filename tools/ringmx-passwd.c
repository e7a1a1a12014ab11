/*
 * ringmx-passwd.c - add or update a user in a password file of the
 * auth_file plugin (user:$argon2id$... lines).
 *
 *     ringmx-passwd [-f FILE] USER
 *
 * The password is read from standard input: from a terminal twice without
 * echo, otherwise one line. It is hashed with libsodium's
 * crypto_pwhash_str (argon2id, interactive limits). Without -f the line
 * "USER:HASH" is printed; with -f the entry of USER in FILE is replaced
 * (or appended; FILE is created with mode 0600 if missing) atomically:
 * the new contents go to a temporary file in the same directory, which is
 * fsync()ed and renamed over FILE. Concurrent runs on one file are
 * serialised with flock() on FILE. Exit status: 0 ok, 1 error, 2 usage.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <libgen.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <termios.h>
#include <unistd.h>

#include <sodium.h>

#define PASS_MAX 4096

static char pw[PASS_MAX], pw2[PASS_MAX];
static struct termios saved_tty;
static volatile sig_atomic_t tty_changed;

static void
wipe(void)
{
	sodium_memzero(pw, sizeof(pw));
	sodium_memzero(pw2, sizeof(pw2));
}

__attribute__((format(printf, 1, 2), noreturn)) static void
die(const char *fmt, ...)
{
	va_list ap;

	wipe();
	fputs("ringmx-passwd: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	exit(1);
}

static void
usage(FILE *f)
{
	fputs("usage: ringmx-passwd [-f FILE] USER\n"
	      "  Reads USER's password from standard input (twice, without "
	      "echo, from a\n"
	      "  terminal; else one line) and prints \"USER:HASH\" (argon2id),"
	      " or with -f\n"
	      "  replaces or adds USER's entry in FILE atomically.\n",
	    f);
}

/* A user name the plugin accepts and that is not a comment line. */
static const char *
bad_user(const char *u)
{
	if (u[0] == '\0')
		return "empty user name";
	if (u[0] == '#')
		return "user name must not start with '#'";
	for (const unsigned char *p = (const unsigned char *)u; *p; p++) {
		if (*p == ':')
			return "user name must not contain ':'";
		if (*p <= 0x20 || *p == 0x7f)
			return "user name must not contain white space or "
			       "control characters";
	}
	return NULL;
}

static void
restore_tty(void)
{
	if (tty_changed) {
		tcsetattr(STDIN_FILENO, TCSAFLUSH, &saved_tty);
		tty_changed = 0;
	}
}

static void
on_signal(int sig)
{
	restore_tty();
	signal(sig, SIG_DFL);
	raise(sig);
}

/*
 * One line from fd into buf without stdio (no copies left in stdio
 * buffers): the length, -1 on a read error, -2 if too long, -3 at EOF
 * before any byte.
 */
static ssize_t
read_line(int fd, char *buf, size_t size)
{
	size_t n = 0;
	char c;

	for (;;) {
		ssize_t r = read(fd, &c, 1);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			return -1;
		if (r == 0) {
			if (n == 0)
				return -3;
			break;
		}
		if (c == '\n')
			break;
		if (n + 1 >= size)
			return -2;
		buf[n++] = c;
	}
	if (n > 0 && buf[n - 1] == '\r')
		n--;
	buf[n] = '\0';
	return (ssize_t)n;
}

static size_t
get_line(char *buf, const char *prompt, bool tty)
{
	ssize_t n;

	if (tty) {
		fputs(prompt, stderr);
		fflush(stderr);
	}
	n = read_line(STDIN_FILENO, buf, PASS_MAX);
	if (tty)
		fputc('\n', stderr);
	if (n == -1)
		die("reading the password: %s", strerror(errno));
	if (n == -2)
		die("password longer than %d bytes", PASS_MAX - 1);
	if (n == -3)
		die("no password on standard input");
	if (memchr(buf, '\0', (size_t)n) != NULL)
		die("NUL byte in the password");
	return (size_t)n;
}

static size_t
read_password(void)
{
	bool tty = isatty(STDIN_FILENO);
	struct termios t;
	size_t n;

	if (tty) {
		if (tcgetattr(STDIN_FILENO, &saved_tty) != 0)
			die("tcgetattr: %s", strerror(errno));
		signal(SIGINT, on_signal);
		signal(SIGTERM, on_signal);
		signal(SIGHUP, on_signal);
		signal(SIGQUIT, on_signal);
		t = saved_tty;
		t.c_lflag &= ~(tcflag_t)(ECHO | ECHOE | ECHOK);
		tty_changed = 1;
		if (tcsetattr(STDIN_FILENO, TCSAFLUSH, &t) != 0) {
			tty_changed = 0;
			die("tcsetattr: %s", strerror(errno));
		}
		atexit(restore_tty);
	}
	n = get_line(pw, "Password: ", tty);
	if (tty) {
		get_line(pw2, "Retype password: ", tty);
		restore_tty();
		if (strcmp(pw, pw2) != 0)
			die("the passwords do not match");
	}
	if (n == 0)
		die("empty password");
	return n;
}

/* ---- updating the file ---- */

struct out {
	char *p;
	size_t n, cap;
};

static void
out_add(struct out *o, const char *s, size_t n)
{
	if (o->n + n + 1 > o->cap) {
		size_t cap = (o->n + n + 1) * 2;
		char *p = realloc(o->p, cap);
		if (p == NULL)
			die("out of memory");
		o->p = p;
		o->cap = cap;
	}
	memcpy(o->p + o->n, s, n);
	o->n += n;
}

/* Whether line (without its newline) is the entry of user. */
static bool
is_entry(const char *line, size_t n, const char *user)
{
	size_t ul = strlen(user);

	while (n > 0 && (*line == ' ' || *line == '\t')) {
		line++;
		n--;
	}
	return n > ul && memcmp(line, user, ul) == 0 && line[ul] == ':';
}

static char *
read_all(int fd, const char *path, size_t *len)
{
	struct out o = {NULL, 0, 0};
	char buf[65536];
	ssize_t r;

	while ((r = read(fd, buf, sizeof(buf))) != 0) {
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			die("%s: %s", path, strerror(errno));
		out_add(&o, buf, (size_t)r);
	}
	*len = o.n;
	if (o.p == NULL)
		o.p = strdup("");
	if (o.p == NULL)
		die("out of memory");
	return o.p;
}

/* Open and lock path; retry if it was replaced while we waited. */
static int
lock_file(const char *path, struct stat *st)
{
	for (;;) {
		struct stat now;
		int fd = open(path, O_RDONLY | O_CREAT | O_CLOEXEC, 0600);

		if (fd < 0)
			die("%s: %s", path, strerror(errno));
		if (flock(fd, LOCK_EX) != 0)
			die("%s: flock: %s", path, strerror(errno));
		if (fstat(fd, st) != 0)
			die("%s: %s", path, strerror(errno));
		if (!S_ISREG(st->st_mode))
			die("%s: not a regular file", path);
		if (stat(path, &now) == 0 && now.st_dev == st->st_dev &&
		    now.st_ino == st->st_ino)
			return fd;
		close(fd);
	}
}

static int
write_all(int fd, const char *p, size_t n)
{
	while (n > 0) {
		ssize_t w = write(fd, p, n);
		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0)
			return -1;
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

static void
update_file(const char *given, const char *user, const char *hash)
{
	char *real = realpath(given, NULL), *path, *d1, *b1, *tmp;
	struct out o = {NULL, 0, 0};
	struct stat st;
	size_t len, i = 0;
	bool done = false;
	char *old;
	int fd, tfd, dfd;

	path = real != NULL ? real : strdup(given);
	if (path == NULL)
		die("out of memory");
	fd = lock_file(path, &st);
	old = read_all(fd, path, &len);
	while (i < len) {
		const char *nl = memchr(old + i, '\n', len - i);
		size_t n = nl != NULL ? (size_t)(nl - (old + i)) : len - i;
		if (is_entry(old + i, n, user)) {
			if (!done) {
				out_add(&o, user, strlen(user));
				out_add(&o, ":", 1);
				out_add(&o, hash, strlen(hash));
				out_add(&o, "\n", 1);
				done = true;
			} /* later duplicates are dropped */
		} else {
			out_add(&o, old + i, n);
			out_add(&o, "\n", 1);
		}
		i += n + 1;
	}
	if (!done) {
		out_add(&o, user, strlen(user));
		out_add(&o, ":", 1);
		out_add(&o, hash, strlen(hash));
		out_add(&o, "\n", 1);
	}
	d1 = strdup(path);
	b1 = strdup(path);
	if (d1 == NULL || b1 == NULL ||
	    asprintf(&tmp, "%s/.%s.XXXXXX", dirname(d1), basename(b1)) < 0)
		die("out of memory");
	if ((tfd = mkostemp(tmp, O_CLOEXEC)) < 0)
		die("%s: %s", tmp, strerror(errno));
	if ((st.st_uid != geteuid() || st.st_gid != getegid()) &&
	    fchown(tfd, st.st_uid, st.st_gid) != 0)
		fprintf(stderr,
		    "ringmx-passwd: warning: cannot keep the owner of %s: %s\n",
		    path, strerror(errno));
	if (fchmod(tfd, st.st_mode & 07777) != 0 ||
	    write_all(tfd, o.p, o.n) != 0 || fsync(tfd) != 0 ||
	    close(tfd) != 0) {
		int e = errno;
		unlink(tmp);
		die("%s: %s", tmp, strerror(e));
	}
	if (rename(tmp, path) != 0) {
		int e = errno;
		unlink(tmp);
		die("rename %s to %s: %s", tmp, path, strerror(e));
	}
	strcpy(d1, path);
	dfd = open(dirname(d1), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd < 0 || fsync(dfd) != 0)
		die("%s: fsync of the directory: %s", d1, strerror(errno));
	close(dfd);
	close(fd); /* unlocks */
	free(old);
	free(o.p);
	free(tmp);
	free(d1);
	free(b1);
	free(path);
}

/* main - see the header comment */
int
main(int argc, char **argv)
{
	char hash[crypto_pwhash_STRBYTES];
	const char *file = NULL, *why;
	size_t n;
	int c;

	while ((c = getopt(argc, argv, "f:h")) != -1) {
		switch (c) {
		case 'f':
			file = optarg;
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (argc - optind != 1 || (file != NULL && file[0] == '\0')) {
		usage(stderr);
		return 2;
	}
	if ((why = bad_user(argv[optind])) != NULL)
		die("%s", why);
	if (sodium_init() < 0)
		die("sodium_init failed");
	n = read_password();
	if (crypto_pwhash_str(hash, pw, n, crypto_pwhash_OPSLIMIT_INTERACTIVE,
		crypto_pwhash_MEMLIMIT_INTERACTIVE) != 0)
		die("hashing failed (out of memory?)");
	wipe();
	if (file == NULL) {
		if (printf("%s:%s\n", argv[optind], hash) < 0 ||
		    fflush(stdout) != 0)
			die("writing to standard output: %s", strerror(errno));
		return 0;
	}
	update_file(file, argv[optind], hash);
	return 0;
}
