/*
 * maildir.c - Maildir delivery (see maildir.h): safe names, the
 * tmp -> fsync -> rename -> fsync(dir) sequence, nothing else. Which
 * recipients are local, retries and queue removal live in
 * local_delivery.c.
 */
#include "maildir.h"

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

/* maildir_name_ok - safe as a single path component */
bool
maildir_name_ok(const char *name)
{
	size_t n = strlen(name);

	if (n == 0 || n > 64 || name[0] == '.' || strstr(name, "..") != NULL)
		return false;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)name[i];
		if (c < 0x20 || c == 0x7f || c == '/')
			return false;
	}
	return true;
}

/* maildir_mailbox - lower-cased mailbox name */
int
maildir_mailbox(const char *local, char *out, size_t outsz)
{
	size_t n = strlen(local);

	if (!maildir_name_ok(local) || n + 1 > outsz)
		return -1;
	for (size_t i = 0; i < n; i++) {
		char c = local[i];
		out[i] = (c >= 'A' && c <= 'Z') ? (char)(c - 'A' + 'a') : c;
	}
	out[n] = '\0';
	return 0;
}

static int
mkdir_if_missing(const char *path)
{
	if (mkdir(path, 0700) == 0 || errno == EEXIST)
		return 0;
	return -errno;
}

static int
fsync_dir(const char *path)
{
	int fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	int r = 0;

	if (fd < 0)
		return -errno;
	if (fsync(fd) != 0)
		r = -errno;
	close(fd);
	return r;
}

static int
write_all(int fd, const void *a, size_t alen, const void *b, size_t blen)
{
	struct iovec iov[2] = {
	    {(void *)(uintptr_t)a, alen}, {(void *)(uintptr_t)b, blen}};
	int n = 2, i = 0;

	while (i < n) {
		ssize_t w;
		if (iov[i].iov_len == 0) {
			i++;
			continue;
		}
		w = writev(fd, &iov[i], n - i);
		if (w < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		while (w > 0 && i < n) {
			if ((size_t)w >= iov[i].iov_len) {
				w -= (ssize_t)iov[i].iov_len;
				iov[i].iov_len = 0;
				i++;
			} else {
				iov[i].iov_base = (char *)iov[i].iov_base + w;
				iov[i].iov_len -= (size_t)w;
				w = 0;
			}
		}
	}
	return 0;
}

/* maildir_deliver - tmp, fsync, rename to new, fsync new */
int
maildir_deliver(const char *root, const char *mailbox, const char *unique,
    const void *prefix, size_t prefix_len, const void *body, size_t body_len,
    char *err, size_t errlen)
{
	char dir[4096], tmp[4096], new[4096], sub[4096];
	int fd, r;

	if (!maildir_name_ok(mailbox)) {
		snprintf(err, errlen, "unsafe mailbox name");
		return -EINVAL;
	}
	if ((size_t)snprintf(dir, sizeof(dir), "%s/%s", root, mailbox) >=
	    sizeof(dir)) {
		snprintf(err, errlen, "mailbox path too long");
		return -ENAMETOOLONG;
	}
	if ((r = mkdir_if_missing(root)) != 0 ||
	    (r = mkdir_if_missing(dir)) != 0)
		goto fail_dir;
	for (int i = 0; i < 3; i++) {
		static const char *const subs[] = {"tmp", "new", "cur"};
		if ((size_t)snprintf(sub, sizeof(sub), "%s/%s", dir, subs[i]) >=
		    sizeof(sub))
			r = -ENAMETOOLONG;
		else
			r = mkdir_if_missing(sub);
		if (r != 0)
			goto fail_dir;
	}
	if ((size_t)snprintf(tmp, sizeof(tmp), "%s/tmp/%s", dir, unique) >=
		sizeof(tmp) ||
	    (size_t)snprintf(new, sizeof(new), "%s/new/%s", dir, unique) >=
		sizeof(new)) {
		snprintf(err, errlen, "mailbox path too long");
		return -ENAMETOOLONG;
	}
	fd = open(
	    tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd < 0) {
		r = -errno;
		snprintf(err, errlen, "open %s: %s", tmp, strerror(-r));
		return r;
	}
	r = write_all(fd, prefix, prefix_len, body, body_len);
	if (r == 0 && fdatasync(fd) != 0)
		r = -errno;
	if (close(fd) != 0 && r == 0)
		r = -errno;
	if (r != 0) {
		snprintf(err, errlen, "write %s: %s", tmp, strerror(-r));
		unlink(tmp);
		return r;
	}
	if (rename(tmp, new) != 0) {
		r = -errno;
		snprintf(err, errlen, "rename %s: %s", new, strerror(-r));
		unlink(tmp);
		return r;
	}
	if ((size_t)snprintf(sub, sizeof(sub), "%s/new", dir) >= sizeof(sub))
		r = -ENAMETOOLONG;
	else
		r = fsync_dir(sub);
	if (r != 0) {
		snprintf(err, errlen, "fsync %s: %s", sub, strerror(-r));
		return r;
	}
	return 0;
fail_dir:
	snprintf(err, errlen, "mkdir under %s: %s", dir, strerror(-r));
	return r;
}
