/*
 * smtp_hooks.c - an inbound session as the subject of plugin calls: the
 * items a hook can read (client, HELO, AUTH, envelope...), a header view
 * of the message being received (read, prepend, delete), body reads,
 * per-message notes and per-plugin session data, and the one
 * Authentication-Results field built from the plugins' notes. The
 * protocol itself is smtp_server.c's; running the chains is
 * plugin_host.c's.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "buf.h"
#include "log.h"
#include "smtp_server.h"

struct smtp_hdr {
	size_t off, len; /* the whole field in s->body, with CRLF(s) */
	char *name;      /* copies, NUL-terminated */
	char *value;     /* field body without the final CRLF */
	size_t nlen, vlen;
};

struct smtp_hdr_index {
	struct smtp_hdr *h;
	size_t n;
	size_t body_off; /* first octet of the body (after the blank line) */
	struct smtp_hdr_index *retired; /* older views still lent out */
};

static void
free_index(struct smtp_hdr_index *x)
{
	while (x != NULL) {
		struct smtp_hdr_index *next = x->retired;
		size_t n = x->n == (size_t)-1 ? 0 : x->n;
		for (size_t i = 0; i < n; i++) {
			free(x->h[i].name);
			free(x->h[i].value);
		}
		free(x->h);
		free(x);
		x = next;
	}
}

/*
 * The message changed (header added or deleted): later header_get calls
 * need a new view, but names and values handed out earlier in this hook
 * stay valid (ABI: borrowed until the hook returns), so the old view is
 * retired, not freed, until smtp_hooks_invalidate.
 */
static void
retire_view(struct smtp_session *s)
{
	struct smtp_hdr_index *fresh;

	if (s->hidx == NULL || s->hidx->n == (size_t)-1)
		return; /* nothing lent out since the last change */
	fresh = calloc(1, sizeof(*fresh));
	if (fresh == NULL) {
		smtp_hooks_invalidate(s); /* out of memory: free now */
		return;
	}
	fresh->n = (size_t)-1; /* marks "not indexed yet" */
	fresh->retired = s->hidx;
	s->hidx = fresh;
}

/* smtp_hooks_invalidate - drop the header view */
void
smtp_hooks_invalidate(struct smtp_session *s)
{
	free_index(s->hidx);
	s->hidx = NULL;
}

/* Parse the header section of s->body. NULL on allocation failure. */
static struct smtp_hdr_index *
index_headers(struct smtp_session *s)
{
	struct smtp_hdr_index *x;
	const char *b = (const char *)s->body.data;
	size_t len = s->body.len, p = 0, cap = 0;

	struct smtp_hdr_index *old = NULL;

	if (s->hidx != NULL && s->hidx->n != (size_t)-1)
		return s->hidx;
	if (s->hidx != NULL) {
		/* a retired-views holder: index into it */
		old = s->hidx->retired;
		free(s->hidx);
		s->hidx = NULL;
	}
	if ((x = calloc(1, sizeof(*x))) == NULL) {
		free_index(old);
		return NULL;
	}
	x->retired = old;
	while (p < len) {
		size_t start = p, colon, end;
		struct smtp_hdr *h;

		if (len - p >= 2 && b[p] == '\r' && b[p + 1] == '\n') {
			p += 2; /* the blank line */
			break;
		}
		/* one field: up to a CRLF not followed by WSP */
		end = p;
		for (;;) {
			const char *nl = memchr(b + end, '\n', len - end);
			if (nl == NULL) {
				end = len;
				break;
			}
			end = (size_t)(nl - b) + 1;
			if (end >= len || (b[end] != ' ' && b[end] != '\t'))
				break;
		}
		colon = start;
		while (colon < end && b[colon] != ':')
			colon++;
		p = end;
		if (colon == end)
			continue; /* not a header field: skip it */
		if (x->n == cap) {
			size_t nc = cap ? cap * 2 : 32;
			struct smtp_hdr *nh = realloc(x->h, nc * sizeof(*nh));
			if (nh == NULL)
				goto fail;
			x->h = nh;
			cap = nc;
		}
		h = &x->h[x->n];
		h->off = start;
		h->len = end - start;
		h->nlen = colon - start;
		h->vlen = end - colon - 1;
		if (h->vlen >= 2 && b[end - 2] == '\r')
			h->vlen -= 2;
		else if (h->vlen >= 1 && b[end - 1] == '\n')
			h->vlen -= 1;
		h->name = strndup(b + start, h->nlen);
		h->value = strndup(b + colon + 1, h->vlen);
		if (h->name == NULL || h->value == NULL) {
			free(h->name);
			free(h->value);
			goto fail;
		}
		x->n++;
	}
	x->body_off = p;
	s->hidx = x;
	return x;
fail:
	s->hidx = x;
	smtp_hooks_invalidate(s);
	return NULL;
}

static const char *
num(struct smtp_session *s, int slot, unsigned long long v)
{
	snprintf(s->item_buf[slot], sizeof(s->item_buf[slot]), "%llu", v);
	return s->item_buf[slot];
}

static const char *const modes[] = {"smtp", "submission", "submissions"};

static int
get_item(void *subj, int item, size_t idx, const char **val, size_t *len)
{
	struct smtp_session *s = subj;
	const char *v = NULL;

	if (idx != 0 && item != RMX_ITEM_RCPT)
		return -ENOENT;
	switch (item) {
	case RMX_ITEM_SESSION_ID:
		v = num(s, 0, s->conn_id);
		break;
	case RMX_ITEM_CLIENT_ADDR:
		v = s->client_ip;
		break;
	case RMX_ITEM_CLIENT_PORT:
		v = num(s, 1, s->client_port);
		break;
	case RMX_ITEM_LOCAL_ADDR:
		v = s->listener ? s->listener->address : NULL;
		break;
	case RMX_ITEM_LISTENER_MODE:
		v = s->listener ? modes[s->listener->mode] : "smtp";
		break;
	case RMX_ITEM_HELO:
		v = s->greeted ? s->helo : NULL;
		break;
	case RMX_ITEM_TLS_VERSION:
		v = s->tls_active ? s->tls_version : NULL;
		break;
	case RMX_ITEM_TLS_CIPHER:
		v = s->tls_active ? s->tls_cipher : NULL;
		break;
	case RMX_ITEM_AUTH_MECH:
		v = s->sasl_mech[0] ? s->sasl_mech : NULL;
		break;
	case RMX_ITEM_AUTH_USER:
		v = s->auth_user
			? s->auth_user
			: (s->call_hook == RMX_HOOK_AUTH ? s->sasl_user : NULL);
		break;
	case RMX_ITEM_AUTH_PASS:
		v = s->call_hook == RMX_HOOK_AUTH ? s->sasl_pass : NULL;
		break;
	case RMX_ITEM_MAIL_FROM:
		v = (s->has_mail || s->call_hook == RMX_HOOK_MAIL)
			? s->sender.addr
			: NULL;
		break;
	case RMX_ITEM_RCPT:
		v = idx < s->nrcpt ? s->rcpts[idx].addr : NULL;
		break;
	case RMX_ITEM_RCPT_COUNT:
		v = num(s, 2, s->nrcpt);
		break;
	case RMX_ITEM_RCPT_CURRENT:
		v = s->call_hook == RMX_HOOK_RCPT ? s->hook_path.addr : NULL;
		break;
	case RMX_ITEM_QUEUE_ID:
		if (s->qid != 0) {
			qid_format(s->qid, s->item_buf[3]);
			v = s->item_buf[3];
		}
		break;
	case RMX_ITEM_MSG_SIZE:
		v = (s->used_data || s->used_bdat) ? num(s, 4, s->body.len)
						   : NULL;
		break;
	case RMX_ITEM_WORKER:
		v = num(s, 5, s->ctx->worker);
		break;
	case RMX_ITEM_RELAY_ALLOWED:
		v = (s->relay_ok || s->auth_user) ? "1" : "0";
		break;
	default:
		break;
	}
	if (v == NULL)
		return -ENOENT;
	*val = v;
	*len = strlen(v);
	return 0;
}

static bool
message_hook(const struct smtp_session *s)
{
	return s->call_hook == RMX_HOOK_DATA || s->call_hook == RMX_HOOK_SIGN;
}

static int
header_get(void *subj, size_t idx, const char **name, size_t *nlen,
    const char **value, size_t *vlen)
{
	struct smtp_session *s = subj;
	struct smtp_hdr_index *x;

	if (!message_hook(s))
		return -EINVAL;
	if ((x = index_headers(s)) == NULL)
		return -ENOMEM;
	if (idx >= x->n)
		return -ENOENT;
	*name = x->h[idx].name;
	*nlen = x->h[idx].nlen;
	*value = x->h[idx].value;
	*vlen = x->h[idx].vlen;
	return 0;
}

static int
header_add(void *subj, const char *name, const char *value)
{
	struct smtp_session *s = subj;
	struct buf nb = {0};

	if (!message_hook(s) || name[0] == '\0')
		return -EINVAL;
	for (const char *p = name; *p; p++)
		if ((unsigned char)*p <= 0x20 || *p == ':' ||
		    (unsigned char)*p >= 0x7f)
			return -EINVAL;
	/* a folded value may contain CRLF followed by WSP, nothing else */
	for (const char *p = value; *p; p++) {
		if (*p == '\n' && (p == value || p[-1] != '\r'))
			return -EINVAL;
		if (*p == '\r' &&
		    (p[1] != '\n' || (p[2] != ' ' && p[2] != '\t')))
			return -EINVAL;
	}
	if (buf_printf(&nb, "%s: %s\r\n", name, value) != 0 ||
	    buf_append(&nb, s->body.data, s->body.len) != 0) {
		buf_free(&nb);
		return -ENOMEM;
	}
	buf_free(&s->body);
	s->body = nb;
	retire_view(s);
	return 0;
}

static int
header_delete(void *subj, size_t idx)
{
	struct smtp_session *s = subj;
	struct smtp_hdr_index *x;
	size_t off, len;

	if (!message_hook(s))
		return -EINVAL;
	if ((x = index_headers(s)) == NULL)
		return -ENOMEM;
	if (idx >= x->n)
		return -ENOENT;
	off = x->h[idx].off;
	len = x->h[idx].len;
	memmove(s->body.data + off, s->body.data + off + len,
	    s->body.len - off - len);
	s->body.len -= len;
	retire_view(s);
	return 0;
}

static int64_t
body_read(void *subj, uint64_t off, void *out, size_t len)
{
	struct smtp_session *s = subj;
	struct smtp_hdr_index *x;
	size_t avail;

	if (!message_hook(s))
		return -EINVAL;
	if ((x = index_headers(s)) == NULL)
		return -ENOMEM;
	avail = s->body.len - x->body_off;
	if (off >= avail)
		return 0;
	if (len > avail - off)
		len = avail - (size_t)off;
	memcpy(out, s->body.data + x->body_off + off, len);
	return (int64_t)len;
}

static bool
note_key_ok(const char *k)
{
	if (*k == '\0' || strlen(k) > 64)
		return false;
	for (; *k; k++)
		if (!((*k >= 'a' && *k <= 'z') || (*k >= '0' && *k <= '9') ||
			*k == '_' || *k == '.' || *k == '-'))
			return false;
	return true;
}

static int
note_set(void *subj, const char *k, const char *v)
{
	struct smtp_session *s = subj;
	size_t kl = strlen(k);
	char **nn, *kv;

	if (!note_key_ok(k) || v == NULL || strchr(v, '\n') != NULL)
		return -EINVAL;
	if ((kv = malloc(kl + strlen(v) + 2)) == NULL)
		return -ENOMEM;
	snprintf(kv, kl + strlen(v) + 2, "%s=%s", k, v);
	for (size_t i = 0; i < s->nnotes; i++)
		if (strncmp(s->notes[i], k, kl) == 0 &&
		    s->notes[i][kl] == '=') {
			free(s->notes[i]);
			s->notes[i] = kv;
			return 0;
		}
	if ((nn = realloc(s->notes, (s->nnotes + 1) * sizeof(*nn))) == NULL) {
		free(kv);
		return -ENOMEM;
	}
	s->notes = nn;
	s->notes[s->nnotes++] = kv;
	return 0;
}

static int
note_get(void *subj, const char *k, const char **v)
{
	struct smtp_session *s = subj;
	size_t kl = strlen(k);

	for (size_t i = 0; i < s->nnotes; i++)
		if (strncmp(s->notes[i], k, kl) == 0 &&
		    s->notes[i][kl] == '=') {
			*v = s->notes[i] + kl + 1;
			return 0;
		}
	return -ENOENT;
}

static void **
session_slot(void *subj, size_t plugin, void (***cleanup)(void *))
{
	struct smtp_session *s = subj;

	if (plugin >= s->npdata) {
		size_t n = plugin + 1;
		void **d = realloc(s->pdata, n * sizeof(*d));
		void (**c)(void *);
		if (d == NULL)
			return NULL;
		s->pdata = d;
		c = realloc(s->pclean, n * sizeof(*c));
		if (c == NULL)
			return NULL;
		s->pclean = c;
		for (size_t i = s->npdata; i < n; i++) {
			s->pdata[i] = NULL;
			s->pclean[i] = NULL;
		}
		s->npdata = n;
	}
	*cleanup = &s->pclean[plugin];
	return &s->pdata[plugin];
}

static const struct hook_subject_ops session_ops = {
    .get_item = get_item,
    .header_get = header_get,
    .header_add = header_add,
    .header_delete = header_delete,
    .body_read = body_read,
    .note_set = note_set,
    .note_get = note_get,
    .session_slot = session_slot,
    .done = smtp_session_hook_done,
};

/* smtp_hooks_subject - s as the subject of a plugin call */
struct hook_subject
smtp_hooks_subject(struct smtp_session *s)
{
	struct hook_subject hs = {&session_ops, s};
	return hs;
}

/* smtp_hooks_free - release header view, notes and plugin data */
void
smtp_hooks_free(struct smtp_session *s)
{
	smtp_hooks_invalidate(s);
	for (size_t i = 0; i < s->nnotes; i++)
		free(s->notes[i]);
	free(s->notes);
	s->notes = NULL;
	s->nnotes = 0;
	for (size_t i = 0; i < s->npdata; i++)
		if (s->pdata[i] != NULL && s->pclean[i] != NULL)
			s->pclean[i](s->pdata[i]);
	free(s->pdata);
	free(s->pclean);
	s->pdata = NULL;
	s->pclean = NULL;
	s->npdata = 0;
}

/* ---- Authentication-Results (RFC 8601) ---- */

/* Skip CFWS: white space, line folds and (nested) comments. */
static size_t
skip_cfws(const char *v, size_t len, size_t i)
{
	int depth = 0;

	while (i < len) {
		char ch = v[i];
		if (depth > 0) {
			if (ch == '\\' && i + 1 < len)
				i++;
			else if (ch == '(')
				depth++;
			else if (ch == ')')
				depth--;
		} else if (ch == '(') {
			depth = 1;
		} else if (ch != ' ' && ch != '\t' && ch != '\r' &&
			   ch != '\n') {
			break;
		}
		i++;
	}
	return i;
}

/* Whether a field body's authserv-id (token or quoted-string) is id. */
static bool
claims_id(const char *v, size_t len, const char *id)
{
	size_t i = skip_cfws(v, len, 0), start, idlen = strlen(id);

	if (i < len && v[i] == '"') {
		start = ++i;
		while (i < len && v[i] != '"')
			i++;
	} else {
		start = i;
		while (i < len && v[i] != ';' && v[i] != '(' && v[i] != ' ' &&
		       v[i] != '\t' && v[i] != '\r' && v[i] != '\n')
			i++;
	}
	return i - start == idlen && strncasecmp(v + start, id, idlen) == 0;
}

static bool
is_ar_field(const struct smtp_hdr *h)
{
	static const char ar[] = "Authentication-Results";
	size_t n = h->nlen;

	while (n > 0 && (h->name[n - 1] == ' ' || h->name[n - 1] == '\t'))
		n--;
	return n == sizeof(ar) - 1 && strncasecmp(h->name, ar, n) == 0;
}

/* Append a note's resinfos, one per folded line: "; " outside quotes
 * starts the next one. */
static int
append_resinfos(struct buf *b, const char *v)
{
	bool quoted = false;
	const char *start = v;

	for (const char *p = v;; p++) {
		if (*p == '"' && (p == v || p[-1] != '\\'))
			quoted = !quoted;
		if (*p == '\0' || (!quoted && *p == ';')) {
			while (*start == ' ')
				start++;
			if (p > start && buf_printf(b, ";\r\n\t%.*s",
					     (int)(p - start), start) != 0)
				return -1;
			if (*p == '\0')
				return 0;
			start = p + 1;
		}
	}
}

/* smtp_hooks_auth_results - drop forged fields, add ours */
int
smtp_hooks_auth_results(struct smtp_session *s)
{
	const char *id = s->ctx->cfg->authserv_id ? s->ctx->cfg->authserv_id
						  : s->ctx->cfg->hostname;
	struct smtp_hdr_index *x;
	struct buf val = {0};
	bool any = false, removed = false;
	int rc = 0;

	if ((x = index_headers(s)) == NULL)
		return -1;
	/* Last to first: removing a field moves only the ones after it. */
	for (size_t i = x->n; i > 0; i--) {
		const struct smtp_hdr *h = &x->h[i - 1];
		if (!is_ar_field(h) || !claims_id(h->value, h->vlen, id))
			continue;
		memmove(s->body.data + h->off, s->body.data + h->off + h->len,
		    s->body.len - h->off - h->len);
		s->body.len -= h->len;
		removed = true;
		char qid[QID_STR_LEN + 1];
		qid_format(s->qid, qid);
		log_event(LOG_NOTICE, "auth_results_removed",
		    "id=%s conn=%llu reason=\"forged authserv-id %s\"", qid,
		    (unsigned long long)s->conn_id, id);
	}
	if (removed)
		smtp_hooks_invalidate(s);
	if (buf_printf(&val, "Authentication-Results: %s", id) != 0)
		return -1;
	for (size_t i = 0; i < s->nnotes; i++) {
		const char *kv = s->notes[i], *eq = strchr(kv, '=');
		if (strncmp(kv, "ar.", 3) != 0 || eq == NULL || eq[1] == '\0')
			continue;
		if (append_resinfos(&val, eq + 1) != 0) {
			rc = -1;
			break;
		}
		any = true;
	}
	if (rc == 0 && any) {
		struct buf nb = {0};
		if (buf_append(&val, "\r\n", 2) != 0 ||
		    buf_append(&nb, val.data, val.len) != 0 ||
		    buf_append(&nb, s->body.data, s->body.len) != 0) {
			buf_free(&nb);
			rc = -1;
		} else {
			buf_free(&s->body);
			s->body = nb;
			smtp_hooks_invalidate(s);
		}
	}
	buf_free(&val);
	return rc;
}
