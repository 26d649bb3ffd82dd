/* BoringSSL built into stripped executables (Bun, Claude Code): SSL_read,
 * SSL_write and SSL_shutdown located by boringssl.c, probed like
 * OpenSSL's. */
#ifndef LLMOBS_CAPTURE_TLS_BORINGSSL_H
#define LLMOBS_CAPTURE_TLS_BORINGSSL_H

#include "capture/tls.h"

enum bssl_func_index { B_WRITE, B_READ, B_SHUTDOWN, B__N };

extern const struct tls_stack tls_boringssl;

#endif
