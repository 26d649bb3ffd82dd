/* OpenSSL (1.1.0 to 3.x, libssl or linked into an executable such as
 * node): the functions probed, in the order of their probe cookies. */
#ifndef LLMOBS_CAPTURE_TLS_OPENSSL_H
#define LLMOBS_CAPTURE_TLS_OPENSSL_H

#include "capture/tls.h"

enum ssl_func { F_WRITE, F_WRITE_EX, F_READ, F_READ_EX, F_FREE, F_SHUTDOWN, F__N };
extern const char *const ssl_func_names[F__N];

extern const struct tls_stack tls_openssl;

#endif
