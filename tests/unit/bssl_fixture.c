/* Stands in for BoringSSL inside a stripped executable (test_boringssl.c):
 * OPENSSL_PUT_ERROR-like sites with ssl_lib.cc as __FILE__, in the line
 * order of the real file, built without symbols. "addr" prints where
 * SSL_read, SSL_write and SSL_shutdown really are. -DDISAGREE makes SSL_write check
 * another field than SSL_read does: the locator must refuse it. */
#include <stdio.h>
#include <string.h>

struct ssl {
	char pad[0x98];
	const void *quic_method;
	const void *do_handshake;
	const void *other;
	char data[64];
	int have;
};

__attribute__((noinline)) void ERR_put_error(int lib, int unused, int reason, const char *file,
                                             unsigned line)
{
	fprintf(stderr, "error %d %d %d %s:%u\n", lib, unused, reason, file, line);
}

#define PUT_ERROR(reason) ERR_put_error(0x10, 0, reason, __FILE__, __LINE__)

#line 700 "../../third_party/boringssl/ssl/ssl_lib.cc"
__attribute__((noinline)) int provide_quic_data(struct ssl *ssl)
{
	if (ssl->quic_method == NULL) {
		PUT_ERROR(0x42);
		return 0;
	}
	return 1;
}

#line 930
__attribute__((noinline)) int read_(struct ssl *ssl, void *buf, int num)
{
	if (ssl->quic_method != NULL) {
		PUT_ERROR(0x42);
		return -1;
	}
	int n = num < ssl->have ? num : ssl->have;
	memcpy(buf, ssl->data, (size_t)(n > 0 ? n : 0));
	return n;
}

#line 952
__attribute__((noinline)) int write_(struct ssl *ssl, const void *buf, int num)
{
#ifdef DISAGREE
	if (ssl->other != NULL) {
#else
	if (ssl->quic_method != NULL) {
#endif
		PUT_ERROR(0x42);
		return -1;
	}
	if (ssl->do_handshake == NULL) {
		PUT_ERROR(0xe2);
		return -1;
	}
	if (num < 0) {
		PUT_ERROR(0x6f);
		return -1;
	}
	memcpy(ssl->data, buf, (size_t)(num < 64 ? num : 64));
	ssl->have = num < 64 ? num : 64;
	return num;
}

#line 1017
__attribute__((noinline)) int shutdown_(struct ssl *ssl)
{
	if (ssl->do_handshake == NULL) {
		PUT_ERROR(0xe2);
		return -1;
	}
	ssl->have = 0;
	return 1;
}

#line 1650
__attribute__((noinline)) int renegotiate(struct ssl *ssl)
{
	if (ssl->quic_method != NULL) {
		PUT_ERROR(0x42);
		return 0;
	}
	return 1;
}

int main(int argc, char **argv)
{
	static struct ssl ssl = {.do_handshake = &ssl};
	char buf[8];
	if (argc > 1 && strcmp(argv[1], "addr") == 0) {
		printf("read=%p write=%p shutdown=%p\n", (void *)read_, (void *)write_,
		       (void *)shutdown_);
		return 0;
	}
	int r = write_(&ssl, "hi", 2) + read_(&ssl, buf, sizeof(buf)) + provide_quic_data(&ssl) +
	        renegotiate(&ssl) + shutdown_(&ssl);
	return r == 6 ? 0 : 1;
}
