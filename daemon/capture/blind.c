/* Blind-spot tracking (see blind.h): connections wait in a small array for
 * an SSL call on their socket; those that wait out the window are counted
 * and listed per process. Everything is bounded: waiting connections
 * (BLIND_MAX_WAIT, the oldest judged early), processes listed
 * (BLIND_MAX_PROCS, the least recent evicted and counted) and the log's
 * memory of what it said. */
#include "capture/blind.h"

#include <arpa/inet.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "core/clock.h"
#include "core/log.h"

#define PEER_LEN   56
#define MAX_LOGGED 1024
#define COMM_LEN   LLMOBS_COMM_LEN
#define WINDOW_MS  (BLIND_WINDOW_NS / 1000000)

/* A connection whose ClientHello went out with no SSL call seen yet. */
struct waiting {
	uint32_t tgid;
	int32_t fd;
	uint64_t ts;
	char comm[COMM_LEN];
	char peer[PEER_LEN];
	struct blind_exe exe;
	struct blind_probed probed;
	bool pending; /* discovery had a report of it in hand at its ClientHello */
	bool exited;  /* the process is gone: judged once discovery is done with it */
};

/* A process with blind connections, for one reason. */
struct blind_proc {
	uint32_t tgid;
	char comm[COMM_LEN];
	struct blind_exe exe;
	enum unobserved_reason reason;
	char detail[192]; /* why its stack was refused ("": not refused) */
	char peers[BLIND_MAX_PEERS][PEER_LEN];
	unsigned npeers;
	uint64_t conns, first, last;
};

struct logged {
	uint64_t dev, ino;
	char path[64]; /* when the file is unknown: the process name */
	enum unobserved_reason reason;
};

static const char *const labels[UNOBS__MAX] = {
    [UNOBS_NO_TLS_LIBRARY] = "no_tls_library",
    [UNOBS_BORINGSSL] = "boringssl_not_located",
    [UNOBS_RUSTLS] = "rustls_unsupported",
    [UNOBS_GO] = "go_not_probed",
    [UNOBS_OPENSSL_NO_SYMBOLS] = "openssl_no_symbols",
    [UNOBS_PROBED_NO_CALL] = "probed_no_call",
    [UNOBS_OTHER_LIBRARY] = "library_not_probed",
    [UNOBS_UNKNOWN_STACK] = "unknown_stack",
    [UNOBS_BEFORE_PROBED] = "before_probed",
};

static const char *const texts[UNOBS__MAX] = {
    [UNOBS_NO_TLS_LIBRARY] = "no TLS library found",
    [UNOBS_BORINGSSL] = "BoringSSL found but SSL_read not located",
    [UNOBS_RUSTLS] = "rustls: unsupported",
    [UNOBS_GO] = "Go crypto/tls: not probed",
    [UNOBS_OPENSSL_NO_SYMBOLS] = "OpenSSL found but SSL_read/SSL_write not located",
    [UNOBS_PROBED_NO_CALL] = "TLS library probed but no call seen on this socket",
    [UNOBS_OTHER_LIBRARY] =
        "a TLS library without probes (NSS, wolfSSL, mbedTLS, a GnuTLS not probed)",
    [UNOBS_UNKNOWN_STACK] = "unknown TLS stack: the executable could not be read",
    [UNOBS_BEFORE_PROBED] =
        ("connected before its TLS library was probed (the file was still being located)"),
};

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static struct blind_env env;
static struct waiting wait[BLIND_MAX_WAIT];
static unsigned nwait; /* written on the capture thread only */
static struct blind_proc procs[BLIND_MAX_PROCS];
static unsigned nprocs;
static uint64_t evicted;
static uint64_t counts[UNOBS__MAX];
static struct logged logged[MAX_LOGGED];
static unsigned nlogged;

const char *blind_reason_label(enum unobserved_reason r)
{
	return (unsigned)r < UNOBS__MAX ? labels[r] : "unknown_stack";
}

const char *blind_reason_text(enum unobserved_reason r)
{
	return (unsigned)r < UNOBS__MAX ? texts[r] : texts[UNOBS_UNKNOWN_STACK];
}

void blind_init(const struct blind_env *e)
{
	pthread_mutex_lock(&lock);
	env = *e;
	pthread_mutex_unlock(&lock);
}

static void format_peer(const struct llmobs_event *ev, char *out, size_t n)
{
	char a[INET6_ADDRSTRLEN] = "?";
	unsigned port = ntohs(ev->port);
	if (ev->family == AF_INET) {
		inet_ntop(AF_INET, ev->addr, a, sizeof(a));
		snprintf(out, n, "%s:%u", a, port);
	} else {
		inet_ntop(AF_INET6, ev->addr, a, sizeof(a));
		snprintf(out, n, "[%s]:%u", a, port);
	}
}

/* A stack discovery probes when it locates it in the executable. */
static bool probeable(enum stack_guess g)
{
	return g == GUESS_GO || g == GUESS_BORINGSSL || g == GUESS_OPENSSL || g == GUESS_GNUTLS;
}

/* A file probed only after the connection began may have carried it: the
 * first calls of a process whose executable was being located (or still
 * is, or never was: the process was gone first). Then an executable that
 * is itself probed. Then stacks built into the executable: a Go program
 * that also maps a probed libssl (cgo) still talks TLS through
 * crypto/tls. Then a probed file: another library mapped beside it is
 * most likely a dependency's. */
static enum unobserved_reason reason_of(const struct waiting *w)
{
	if (w->probed.locating || (w->probed.any && w->probed.last_ns > w->ts))
		return UNOBS_BEFORE_PROBED;
	if (w->pending && !w->probed.located && probeable(w->exe.stack))
		return UNOBS_BEFORE_PROBED;
	if (w->probed.exe)
		return UNOBS_PROBED_NO_CALL;
	switch (w->exe.stack) {
	case GUESS_GO:
		return UNOBS_GO;
	case GUESS_RUSTLS:
		return UNOBS_RUSTLS;
	case GUESS_BORINGSSL:
		return UNOBS_BORINGSSL;
	default:
		break;
	}
	if (w->probed.any)
		return UNOBS_PROBED_NO_CALL;
	switch (w->exe.stack) {
	case GUESS_GNUTLS:
	case GUESS_NSS:
	case GUESS_WOLFSSL:
	case GUESS_MBEDTLS:
		return UNOBS_OTHER_LIBRARY;
	case GUESS_OPENSSL:
		return UNOBS_OPENSSL_NO_SYMBOLS;
	default:
		break;
	}
	if (w->exe.stack == GUESS_NONE)
		return UNOBS_NO_TLS_LIBRARY;
	return UNOBS_UNKNOWN_STACK;
}

/* Why discovery refused the executable's stack, when that is the reason:
 * "BoringSSL found but SSL_read not located: <why>". */
static const char *detail_of(const struct waiting *w, enum unobserved_reason r)
{
	return r == UNOBS_BEFORE_PROBED || r == UNOBS_PROBED_NO_CALL ? "" : w->probed.refused;
}

static void reason_line(enum unobserved_reason r, const char *detail, char *out, size_t n)
{
	snprintf(out, n, "%s%s%s", blind_reason_text(r), detail[0] ? ": " : "", detail);
}

/* Once per executable and reason (per process name when the file is unknown). */
static void log_once(const struct waiting *w, enum unobserved_reason r)
{
	for (unsigned i = 0; i < nlogged; i++) {
		const struct logged *l = &logged[i];
		if (l->reason == r && l->dev == w->exe.dev && l->ino == w->exe.ino &&
		    (w->exe.ino || !strncmp(l->path, w->comm, sizeof(l->path))))
			return;
	}
	if (nlogged == MAX_LOGGED) /* a host of many programs: start over */
		nlogged = 0;
	struct logged *l = &logged[nlogged++];
	l->dev = w->exe.dev;
	l->ino = w->exe.ino;
	l->reason = r;
	snprintf(l->path, sizeof(l->path), "%s", w->comm);
	char why[384];
	reason_line(r, detail_of(w, r), why, sizeof(why));
	log_warn("TLS of %s (pid %u, %s; TLS stack: %s) is not seen: %s (first peer %s)",
	         w->exe.path[0] ? w->exe.path : "an unknown executable", w->tgid, w->comm,
	         stack_guess_name(w->exe.stack), why, w->peer);
}

static struct blind_proc *proc_for(const struct waiting *w, enum unobserved_reason r)
{
	unsigned oldest = 0;
	for (unsigned i = 0; i < nprocs; i++) {
		struct blind_proc *p = &procs[i];
		if (p->tgid == w->tgid && p->reason == r && p->exe.ino == w->exe.ino &&
		    p->exe.dev == w->exe.dev)
			return p;
		if (p->last < procs[oldest].last)
			oldest = i;
	}
	struct blind_proc *p;
	if (nprocs < BLIND_MAX_PROCS) {
		p = &procs[nprocs++];
	} else {
		p = &procs[oldest];
		evicted++;
	}
	memset(p, 0, sizeof(*p));
	p->tgid = w->tgid;
	p->reason = r;
	p->exe = w->exe;
	snprintf(p->detail, sizeof(p->detail), "%s", detail_of(w, r));
	memcpy(p->comm, w->comm, sizeof(p->comm));
	p->first = w->ts;
	return p;
}

static void note_peer(struct blind_proc *p, const char *peer)
{
	for (unsigned i = 0; i < p->npeers; i++)
		if (!strcmp(p->peers[i], peer))
			return;
	if (p->npeers < BLIND_MAX_PEERS)
		snprintf(p->peers[p->npeers++], PEER_LEN, "%s", peer);
}

/* What the probes cover of w's process now, else what they covered at its
 * ClientHello; the executable named from the probed file when the process
 * was gone before it could be read. */
static void update_probed(struct waiting *w)
{
	struct blind_probed now = {0};
	if (env.probed)
		env.probed(w->tgid, w->exe.dev, w->exe.ino, &now);
	bool located = w->probed.located || now.located;
	if (now.any)
		w->probed = now;
	w->probed.locating = now.locating;
	w->probed.located = located;
	if (now.refused[0]) /* decided since its ClientHello */
		memcpy(w->probed.refused, now.refused, sizeof(now.refused));
	if (!w->exe.path[0] && w->probed.exe)
		w->exe = w->probed.file;
}

/* No SSL call came: the connection is blind. Lock held. */
static void judge(struct waiting *w)
{
	update_probed(w);
	enum unobserved_reason r = reason_of(w);
	counts[r]++;
	struct blind_proc *p = proc_for(w, r);
	p->conns++;
	if (w->ts < p->first)
		p->first = w->ts;
	if (w->ts > p->last)
		p->last = w->ts;
	note_peer(p, w->peer);
	log_once(w, r);
}

/* Lock held. */
static void drop_waiting(unsigned i)
{
	wait[i] = wait[--nwait];
}

void blind_hello(const struct llmobs_event *ev)
{
	struct waiting w = {.tgid = ev->tgid, .fd = ev->fd, .ts = ev->ts_ns};
	memcpy(w.comm, ev->comm, sizeof(w.comm));
	w.comm[COMM_LEN - 1] = 0;
	format_peer(ev, w.peer, sizeof(w.peer));
	/* Asked now: the process may be gone when the window ends. */
	if (!env.exe || !env.exe(ev->tgid, ev->pos, ev->conn, &w.exe)) {
		memset(&w.exe, 0, sizeof(w.exe));
		w.exe.dev = ev->pos;
		w.exe.ino = ev->conn;
	}
	if (env.probed)
		env.probed(ev->tgid, w.exe.dev, w.exe.ino, &w.probed);
	w.pending = w.probed.locating;
	pthread_mutex_lock(&lock);
	for (unsigned i = 0; i < nwait; i++) {
		if (wait[i].tgid == w.tgid && wait[i].fd == w.fd) { /* the fd was reused */
			judge(&wait[i]);
			drop_waiting(i);
			break;
		}
	}
	if (nwait == BLIND_MAX_WAIT) { /* a burst: the oldest is judged early */
		unsigned oldest = 0;
		for (unsigned i = 1; i < nwait; i++)
			if (wait[i].ts < wait[oldest].ts)
				oldest = i;
		judge(&wait[oldest]);
		drop_waiting(oldest);
	}
	wait[nwait++] = w;
	pthread_mutex_unlock(&lock);
}

void blind_ssl_data(uint32_t tgid, int32_t fd)
{
	if (!nwait) /* the common case: nothing waits */
		return;
	pthread_mutex_lock(&lock);
	for (unsigned i = 0; i < nwait;) {
		if (wait[i].tgid == tgid && (fd < 0 || wait[i].fd == fd))
			drop_waiting(i);
		else
			i++;
	}
	pthread_mutex_unlock(&lock);
}

static bool locating(uint32_t tgid)
{
	return env.locating && env.locating(tgid);
}

void blind_exit(uint32_t tgid)
{
	if (!nwait)
		return;
	pthread_mutex_lock(&lock);
	int later = -1; /* asked once, when it has connections waiting */
	for (unsigned i = 0; i < nwait;) {
		if (wait[i].tgid != tgid) {
			i++;
			continue;
		}
		if (later < 0)
			later = locating(tgid);
		if (later) { /* what discovery finds of its executable decides */
			wait[i++].exited = true;
			continue;
		}
		judge(&wait[i]);
		drop_waiting(i);
	}
	pthread_mutex_unlock(&lock);
}

void blind_tick(uint64_t now_ns)
{
	if (!nwait)
		return;
	pthread_mutex_lock(&lock);
	for (unsigned i = 0; i < nwait;) {
		struct waiting *w = &wait[i];
		bool due = w->exited || now_ns >= w->ts + BLIND_WINDOW_NS;
		if (!due || (now_ns < w->ts + BLIND_DEFER_NS && locating(w->tgid))) {
			i++;
			continue;
		}
		judge(w);
		drop_waiting(i);
	}
	pthread_mutex_unlock(&lock);
}

void blind_counts(uint64_t out[UNOBS__MAX])
{
	pthread_mutex_lock(&lock);
	memcpy(out, counts, sizeof(counts));
	pthread_mutex_unlock(&lock);
}

static int by_last_desc(const void *a, const void *b)
{
	const struct blind_proc *x = *(const struct blind_proc *const *)a;
	const struct blind_proc *y = *(const struct blind_proc *const *)b;
	return x->last < y->last ? 1 : x->last > y->last ? -1 : 0;
}

static cJSON *proc_json(const struct blind_proc *p)
{
	char t[40];
	cJSON *o = cJSON_CreateObject();
	cJSON_AddNumberToObject(o, "pid", p->tgid);
	cJSON_AddStringToObject(o, "comm", p->comm);
	if (p->exe.path[0])
		cJSON_AddStringToObject(o, "exe", p->exe.path);
	else
		cJSON_AddNullToObject(o, "exe");
	cJSON_AddStringToObject(o, "stack", stack_guess_name(p->exe.stack));
	char why[384];
	reason_line(p->reason, p->detail, why, sizeof(why));
	cJSON_AddStringToObject(o, "reason", why);
	cJSON_AddStringToObject(o, "reason_code", blind_reason_label(p->reason));
	cJSON *peers = cJSON_AddArrayToObject(o, "peers");
	for (unsigned i = 0; i < p->npeers; i++)
		cJSON_AddItemToArray(peers, cJSON_CreateString(p->peers[i]));
	cJSON_AddNumberToObject(o, "connections", (double)p->conns);
	clock_format_rfc3339(p->first, t, sizeof(t));
	cJSON_AddStringToObject(o, "first_seen", t);
	clock_format_rfc3339(p->last, t, sizeof(t));
	cJSON_AddStringToObject(o, "last_seen", t);
	return o;
}

cJSON *blind_json(void)
{
	cJSON *j = cJSON_CreateObject();
	cJSON *arr = cJSON_AddArrayToObject(j, "processes");
	const struct blind_proc *sorted[BLIND_MAX_PROCS];
	pthread_mutex_lock(&lock);
	for (unsigned i = 0; i < nprocs; i++)
		sorted[i] = &procs[i];
	qsort(sorted, nprocs, sizeof(sorted[0]), by_last_desc);
	for (unsigned i = 0; i < nprocs; i++)
		cJSON_AddItemToArray(arr, proc_json(sorted[i]));
	cJSON_AddNumberToObject(j, "evicted", (double)evicted);
	cJSON_AddNumberToObject(j, "waiting", nwait);
	pthread_mutex_unlock(&lock);
	cJSON_AddNumberToObject(j, "window_ms", (double)WINDOW_MS);
	return j;
}

void blind_free(void)
{
	pthread_mutex_lock(&lock);
	nwait = nprocs = nlogged = 0;
	evicted = 0;
	memset(counts, 0, sizeof(counts));
	pthread_mutex_unlock(&lock);
}
