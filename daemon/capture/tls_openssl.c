/* The OpenSSL table (tls_openssl.h). SSL_read/SSL_write and their _ex
 * forms (1.1.1+) carry the plaintext; SSL_free and SSL_shutdown end a
 * connection sooner than close(2) tells. */
#include "capture/tls_openssl.h"

#include "capture/placement.h"

_Static_assert(F__N <= TLS_MAX_FUNCS, "a file's probe counters hold TLS_MAX_FUNCS functions");

const char *const ssl_func_names[F__N] = {"SSL_write",   "SSL_write_ex", "SSL_read",
                                          "SSL_read_ex", "SSL_free",     "SSL_shutdown"};

/* clang-format off */
static const struct tls_func funcs[F__N] = {
    [F_WRITE]    = {TLS_WRITE, "ssl_write_enter",    "ssl_exit_ret", false, false},
    [F_WRITE_EX] = {TLS_WRITE, "ssl_write_ex_enter", "ssl_exit_ret", false, false},
    [F_READ]     = {TLS_READ,  "ssl_read_enter",     "ssl_exit_ret", false, false},
    [F_READ_EX]  = {TLS_READ,  "ssl_read_ex_enter",  "ssl_exit_ret", false, false},
    [F_FREE]     = {TLS_END,   "ssl_free_enter",     NULL,           true,  false},
    [F_SHUTDOWN] = {TLS_END,   "ssl_shutdown_enter", NULL,           true,  false},
};
/* clang-format on */

static const char *const pinned[] = {"libssl.so.3", "libssl.so.1.1", NULL};
/* GnuTLS's OpenSSL compatibility layer: its SSL_read is gnutls_record_recv */
static const char *const wrappers[] = {"libgnutls-openssl.so.27", NULL};

static const char *version(const struct elf_info *info, const uint64_t *offsets)
{
	if (info->openssl3)
		return "3.x";
	return offsets[F_READ_EX] ? "1.1.1" : "1.1 or older";
}

static void to_json(cJSON *o, const struct elf_info *info)
{
	cJSON_AddStringToObject(o, "openssl", info->openssl3 ? "3.x" : "1.1");
}

const struct tls_stack tls_openssl = {
    .kind = TLS_OPENSSL,
    .name = "OpenSSL",
    .symbols = ssl_func_names,
    .funcs = funcs,
    .nfuncs = F__N,
    .pinned = pinned,
    .needs = "SSL_read/SSL_write symbols",
    .wrappers = wrappers,
    .version = version,
    .place = place_probes,
    .to_json = to_json,
};
