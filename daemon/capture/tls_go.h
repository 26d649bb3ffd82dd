/* Go's crypto/tls (executables built by Go 1.17 or later on x86-64, with
 * the register ABI; stripped or not): the functions probed, in the order
 * of their probe cookies. */
#ifndef LLMOBS_CAPTURE_TLS_GO_H
#define LLMOBS_CAPTURE_TLS_GO_H

#include "capture/tls.h"

enum go_func { GO_WRITE, GO_READ, GO_CLOSE, GO__N };
extern const char *const go_func_names[GO__N];

extern const struct tls_stack tls_go;

#endif
