/* GnuTLS 3.x (libgnutls.so.30: gnutls-cli, wget, libcurl3-gnutls users
 * such as git): the functions probed, in the order of their probe cookies. */
#ifndef LLMOBS_CAPTURE_TLS_GNUTLS_H
#define LLMOBS_CAPTURE_TLS_GNUTLS_H

#include "capture/tls.h"

enum gnutls_func { G_SEND, G_SEND2, G_SEND_RANGE, G_RECV, G_RECV_SEQ, G_BYE, G_DEINIT, G__N };

extern const struct tls_stack tls_gnutls;

#endif
