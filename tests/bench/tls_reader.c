/* A TLS client reading a fast SSE stream with one SSL_read_ex per record,
 * against a TLS server it forks (both on 127.0.0.1, plain OpenSSL). Prints
 * the client's CPU time per SSL call: user + system, which includes the
 * kernel's uprobe handling, so probes show up here.
 *
 * Usage: tls_reader CERT KEY [RECORDS]   (default 20000)
 * Output: calls=N records=N cpu_us_per_call=X */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static const char RECORD[] =
    "data: {\"id\":\"b\",\"object\":\"chat.completion.chunk\",\"choices\":[{\"index\":0,"
    "\"delta\":{\"content\":\"tok\"},\"finish_reason\":null}]}\n\n";

static void die(const char *what)
{
	fprintf(stderr, "tls_reader: %s\n", what);
	ERR_print_errors_fp(stderr);
	exit(1);
}

static void serve(int lfd, const char *cert, const char *key, long records)
{
	SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());
	if (!ctx || SSL_CTX_use_certificate_chain_file(ctx, cert) != 1 ||
	    SSL_CTX_use_PrivateKey_file(ctx, key, SSL_FILETYPE_PEM) != 1)
		die("server certificate");
	int fd = accept(lfd, NULL, NULL);
	if (fd < 0)
		die("accept");
	SSL *ssl = SSL_new(ctx);
	SSL_set_fd(ssl, fd);
	if (SSL_accept(ssl) != 1)
		die("SSL_accept");
	char req[8192];
	size_t got = 0, n;
	while (got < sizeof(req) - 1 && SSL_read_ex(ssl, req + got, sizeof(req) - 1 - got, &n)) {
		got += n;
		req[got] = '\0';
		if (strstr(req, "\r\n\r\n"))
			break;
	}
	static const char head[] = "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\n"
	                           "Connection: close\r\n\r\n";
	SSL_write_ex(ssl, head, sizeof(head) - 1, &n);
	for (long i = 0; i < records; i++)
		if (!SSL_write_ex(ssl, RECORD, sizeof(RECORD) - 1, &n))
			die("SSL_write_ex");
	SSL_write_ex(ssl, "data: [DONE]\n\n", 14, &n);
	SSL_shutdown(ssl);
	SSL_free(ssl);
	close(fd);
	SSL_CTX_free(ctx);
}

static double cpu_us(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
	return (double)ts.tv_sec * 1e6 + (double)ts.tv_nsec / 1e3;
}

int main(int argc, char **argv)
{
	if (argc < 3) {
		fprintf(stderr, "usage: tls_reader CERT KEY [RECORDS]\n");
		return 2;
	}
	long records = argc > 3 ? atol(argv[3]) : 20000;
	int lfd = socket(AF_INET, SOCK_STREAM, 0), one = 1;
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t sl = sizeof(sa);
	setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(lfd, (struct sockaddr *)&sa, sizeof(sa)) || listen(lfd, 1) ||
	    getsockname(lfd, (struct sockaddr *)&sa, &sl))
		die("listen");
	pid_t child = fork();
	if (child == 0) {
		serve(lfd, argv[1], argv[2], records);
		_exit(0);
	}
	close(lfd);

	SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)))
		die("connect");
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	SSL *ssl = SSL_new(ctx);
	SSL_set_fd(ssl, fd);
	if (SSL_connect(ssl) != 1)
		die("SSL_connect");
	char req[512];
	int rl = snprintf(req, sizeof(req),
	                  "POST /v1/chat/completions HTTP/1.1\r\nHost: localhost\r\n"
	                  "Content-Type: application/json\r\nContent-Length: 46\r\n\r\n"
	                  "{\"model\":\"bench\",\"stream\":true,\"messages\":[]}");
	size_t n;
	if (!SSL_write_ex(ssl, req, (size_t)rl, &n))
		die("SSL_write_ex");
	static char buf[16384];
	long calls = 0, data = 0;
	double t0 = cpu_us();
	while (SSL_read_ex(ssl, buf, sizeof(buf), &n)) {
		calls++;
		data += n > 0;
	}
	calls++; /* the call that saw the end */
	double t1 = cpu_us();
	SSL_free(ssl);
	close(fd);
	SSL_CTX_free(ctx);
	int st;
	waitpid(child, &st, 0);
	if (data < records)
		die("stream ended early");
	printf("calls=%ld records=%ld cpu_us_per_call=%.3f\n", calls, data, (t1 - t0) / calls);
	return 0;
}
