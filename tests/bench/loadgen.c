/* Load generator for `make bench`: N concurrent TLS streams on 127.0.0.1,
 * each an OpenAI-style SSE response at R events/s for D seconds. One
 * process, one epoll loop, non-blocking OpenSSL on both ends: a TLS server
 * and N clients that each send one streaming chat completion request and
 * read until [DONE].
 *
 * Usage: loadgen CERT KEY [--streams N] [--rate R] [--seconds D]
 * Output (stdout, name=value): load_streams, load_events (SSE events the
 * clients received), load_client_errors, load_seconds. It prints "ready"
 * on stderr once every stream has its response headers, so a caller can
 * sample the daemon while all streams are active. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

enum side { CLIENT, SERVER };

struct end {
	enum side side;
	int fd;
	SSL *ssl;
	bool handshaken, request_done, headers_sent, finished;
	char in[16384];
	size_t inlen;
	long sent_events, next_due_ms, got_events;
	char out[1024]; /* pending bytes of a partial write */
	size_t outlen;
};

static long n_streams = 1000, rate = 20, seconds = 60;
static long total_events, errors, headers_seen, done_clients;

static long now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void nonblock(int fd)
{
	fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
	int one = 1;
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
}

static const char REQUEST[] =
    "POST /v1/chat/completions HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\n"
    "Content-Length: 80\r\n\r\n"
    "{\"model\":\"gpt-4o-mini\",\"stream\":true,\"messages\":[{\"role\":\"user\",\"content\":\"x\"}]}";
static const char HEAD[] = "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\n"
                           "Connection: close\r\n\r\n";
static const char EVENT[] =
    "data: {\"id\":\"l\",\"object\":\"chat.completion.chunk\",\"model\":\"gpt-4o-mini\","
    "\"choices\":[{\"index\":0,\"delta\":{\"content\":\" tok\"},\"finish_reason\":null}]}\n\n";
static const char DONE[] =
    "data: {\"id\":\"l\",\"choices\":[{\"index\":0,\"delta\":{},\"finish_reason\":\"stop\"}]}\n\n"
    "data: [DONE]\n\n";

/* Writes a whole message or keeps the rest pending (SSL_write retries must
 * pass the same bytes). Returns false on a fatal error. */
static bool send_msg(struct end *e, const char *p, size_t n)
{
	if (!e->outlen) {
		memcpy(e->out, p, n);
		e->outlen = n;
	}
	size_t w;
	if (SSL_write_ex(e->ssl, e->out, e->outlen, &w)) {
		e->outlen = 0;
		return true;
	}
	int err = SSL_get_error(e->ssl, 0);
	return err == SSL_ERROR_WANT_WRITE || err == SSL_ERROR_WANT_READ;
}

static void server_step(struct end *e, long now)
{
	if (!e->request_done) {
		size_t n;
		while (SSL_read_ex(e->ssl, e->in + e->inlen, sizeof(e->in) - 1 - e->inlen, &n)) {
			e->inlen += n;
			e->in[e->inlen] = '\0';
			const char *body = strstr(e->in, "\r\n\r\n");
			if (body && strlen(body + 4) >= 80) {
				e->request_done = true;
				break;
			}
		}
		if (!e->request_done)
			return;
	}
	if (e->outlen && !send_msg(e, NULL, 0))
		goto fail;
	if (e->outlen)
		return;
	if (!e->headers_sent) {
		if (!send_msg(e, HEAD, sizeof(HEAD) - 1))
			goto fail;
		e->headers_sent = true;
		e->next_due_ms = now;
		return;
	}
	long total = rate * seconds;
	while (!e->finished && now >= e->next_due_ms && !e->outlen) {
		if (e->sent_events < total) {
			if (!send_msg(e, EVENT, sizeof(EVENT) - 1))
				goto fail;
			e->sent_events++;
			e->next_due_ms += 1000 / rate;
		} else {
			if (!send_msg(e, DONE, sizeof(DONE) - 1))
				goto fail;
			e->finished = true;
			SSL_shutdown(e->ssl);
		}
	}
	return;
fail:
	errors++;
	e->finished = true;
}

static void client_step(struct end *e)
{
	if (!e->request_done) {
		if (!send_msg(e, REQUEST, sizeof(REQUEST) - 1)) {
			errors++;
			e->finished = true;
			return;
		}
		if (e->outlen)
			return;
		e->request_done = true;
	}
	size_t n;
	static char buf[16384];
	while (SSL_read_ex(e->ssl, buf, sizeof(buf), &n)) {
		for (size_t i = 0; i + 6 <= n; i++) /* count "data: " starts */
			if (!memcmp(buf + i, "data: ", 6)) {
				if (!memcmp(buf + i, "data: {\"id\":\"l\",\"object\"", 23))
					e->got_events++, total_events++;
			}
		if (!e->headers_sent && memmem(buf, n, "HTTP/1.1 200", 12)) {
			e->headers_sent = true;
			if (++headers_seen == n_streams)
				fprintf(stderr, "ready\n");
		}
		if (memmem(buf, n, "[DONE]", 6)) {
			e->finished = true;
			done_clients++;
			return;
		}
	}
	int err = SSL_get_error(e->ssl, 0);
	if (err != SSL_ERROR_WANT_READ && err != SSL_ERROR_WANT_WRITE) {
		errors++;
		e->finished = true;
		done_clients++;
	}
}

static void step(struct end *e, long now)
{
	if (e->finished)
		return;
	if (!e->handshaken) {
		int r = e->side == CLIENT ? SSL_connect(e->ssl) : SSL_accept(e->ssl);
		if (r != 1) {
			int err = SSL_get_error(e->ssl, r);
			if (err != SSL_ERROR_WANT_READ && err != SSL_ERROR_WANT_WRITE) {
				errors++;
				e->finished = true;
				if (e->side == CLIENT)
					done_clients++;
			}
			return;
		}
		e->handshaken = true;
	}
	if (e->side == CLIENT)
		client_step(e);
	else
		server_step(e, now);
}

int main(int argc, char **argv)
{
	if (argc < 3) {
		fprintf(stderr, "usage: loadgen CERT KEY [--streams N] [--rate R] [--seconds D]\n");
		return 2;
	}
	for (int i = 3; i + 1 < argc; i += 2) {
		if (!strcmp(argv[i], "--streams"))
			n_streams = atol(argv[i + 1]);
		else if (!strcmp(argv[i], "--rate"))
			rate = atol(argv[i + 1]);
		else if (!strcmp(argv[i], "--seconds"))
			seconds = atol(argv[i + 1]);
	}
	struct rlimit rl = {65536, 65536};
	setrlimit(RLIMIT_NOFILE, &rl);
	SSL_CTX *sctx = SSL_CTX_new(TLS_server_method()), *cctx = SSL_CTX_new(TLS_client_method());
	if (SSL_CTX_use_certificate_chain_file(sctx, argv[1]) != 1 ||
	    SSL_CTX_use_PrivateKey_file(sctx, argv[2], SSL_FILETYPE_PEM) != 1) {
		ERR_print_errors_fp(stderr);
		return 1;
	}
	int lfd = socket(AF_INET, SOCK_STREAM, 0), one = 1;
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t sl = sizeof(sa);
	setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(lfd, (struct sockaddr *)&sa, sizeof(sa)) || listen(lfd, 4096) ||
	    getsockname(lfd, (struct sockaddr *)&sa, &sl)) {
		perror("listen");
		return 1;
	}
	int ep = epoll_create1(0);
	struct end *ends = calloc((size_t)n_streams * 2, sizeof(*ends));
	long t0 = now_ms();
	for (long i = 0; i < n_streams; i++) {
		struct end *c = &ends[2 * i], *s = &ends[2 * i + 1];
		c->side = CLIENT;
		c->fd = socket(AF_INET, SOCK_STREAM, 0);
		if (connect(c->fd, (struct sockaddr *)&sa, sizeof(sa))) {
			perror("connect");
			return 1;
		}
		s->side = SERVER;
		s->fd = accept(lfd, NULL, NULL);
		if (s->fd < 0) {
			perror("accept");
			return 1;
		}
		nonblock(c->fd);
		nonblock(s->fd);
		c->ssl = SSL_new(cctx);
		SSL_set_fd(c->ssl, c->fd);
		s->ssl = SSL_new(sctx);
		SSL_set_fd(s->ssl, s->fd);
		struct epoll_event ev = {.events = EPOLLIN | EPOLLOUT | EPOLLET, .data.ptr = c};
		epoll_ctl(ep, EPOLL_CTL_ADD, c->fd, &ev);
		ev.data.ptr = s;
		epoll_ctl(ep, EPOLL_CTL_ADD, s->fd, &ev);
	}
	struct epoll_event evs[256];
	long deadline = t0 + (seconds + 30) * 1000, last_tick = 0;
	while (done_clients < n_streams && now_ms() < deadline) {
		int n = epoll_wait(ep, evs, 256, 5);
		long now = now_ms();
		for (int i = 0; i < n; i++)
			step(evs[i].data.ptr, now);
		/* servers emit on a clock, not on socket readiness */
		if (now - last_tick >= 5) {
			last_tick = now;
			for (long i = 0; i < n_streams; i++)
				step(&ends[2 * i + 1], now);
		}
	}
	printf("load_streams=%ld\nload_events=%ld\nload_client_errors=%ld\nload_seconds=%.1f\n",
	       n_streams, total_events, errors, (now_ms() - t0) / 1e3);
	for (long i = 0; i < 2 * n_streams; i++) {
		SSL_free(ends[i].ssl);
		close(ends[i].fd);
	}
	free(ends);
	SSL_CTX_free(sctx);
	SSL_CTX_free(cctx);
	return errors ? 1 : 0;
}
