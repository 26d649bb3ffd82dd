/* The BoringSSL table (tls_boringssl.h). Bun calls plain SSL_read and
 * SSL_write (int SSL_read(SSL *, void *, int)) on memory BIOs, so the
 * OpenSSL programs serve as they are, and connections are keyed by SSL*;
 * SSL_shutdown, when located, ends a connection sooner than exit does.
 * The functions carry no symbols: boringssl.c finds them, and a file
 * whose signals disagree is refused, never probed at a guess. */
#include "capture/tls_boringssl.h"

#include <stdio.h>

#include "capture/boringssl.h"
#include "capture/placement.h"

_Static_assert(B__N <= TLS_MAX_FUNCS, "a file's probe counters hold TLS_MAX_FUNCS functions");

static const char *const names[B__N] = {"SSL_write", "SSL_read", "SSL_shutdown"};

/* clang-format off */
static const struct tls_func funcs[B__N] = {
    [B_WRITE]    = {TLS_WRITE, "ssl_write_enter",    "ssl_exit_ret", false, false},
    [B_READ]     = {TLS_READ,  "ssl_read_enter",     "ssl_exit_ret", false, false},
    [B_SHUTDOWN] = {TLS_END,   "ssl_shutdown_enter", NULL,           true,  false},
};
/* clang-format on */

static const char *const pinned[] = {NULL};

static enum tls_found find(const char *path, uint64_t *offsets, struct elf_info *info, char *why,
                           size_t n)
{
	(void)info; /* the symbol pass read it */
	struct bssl_found f;
	if (bssl_locate(path, &f) != 0 || !f.anchored)
		return TLS_ABSENT;
	if (!f.ok) {
		snprintf(why, n, "%s", f.reason);
		return TLS_REFUSED;
	}
	offsets[B_WRITE] = f.write.offset;
	offsets[B_READ] = f.read.offset;
	offsets[B_SHUTDOWN] = f.shutdown.offset; /* 0: not told for sure */
	return TLS_FOUND;
}

static const char *version(const struct elf_info *info, const uint64_t *offsets)
{
	(void)info;
	(void)offsets;
	return "built in";
}

/* Each function at its entry, which locating confirmed; the why says how. */
static void place(const char *path, const struct elf_info *info, const uint64_t *offsets,
                  bool redirect, struct placement *out)
{
	(void)info;
	(void)redirect;
	struct bssl_found f;
	place_symbols(path, offsets, B__N, "located entry", out);
	if (bssl_locate(path, &f) != 0 || !f.ok)
		return;
	const struct bssl_func *fn[B__N] = {
	    [B_WRITE] = &f.write, [B_READ] = &f.read, [B_SHUTDOWN] = &f.shutdown};
	for (int i = 0; i < B__N; i++)
		if (out[i].kind == PLACE_PUBLIC)
			snprintf(
			    out[i].why, sizeof(out[i].why),
			    "located: %s check (SSL field 0x%llx) at ssl_lib.cc:%u, entry by %s; "
			    "probed at the entry",
			    i == B_SHUTDOWN ? "do_handshake" : "quic_method",
			    (unsigned long long)(i == B_SHUTDOWN ? f.handshake_disp : f.quic_disp),
			    fn[i]->line, fn[i]->how);
}

static void to_json(cJSON *o, const struct elf_info *info)
{
	(void)info;
	cJSON_AddStringToObject(o, "boringssl", "located without symbols (ssl_lib.cc error sites)");
}

const struct tls_stack tls_boringssl = {
    .kind = TLS_BORINGSSL,
    .name = "BoringSSL",
    .symbols = names,
    .funcs = funcs,
    .nfuncs = B__N,
    .pinned = pinned,
    .needs = "BoringSSL error sites (ssl_lib.cc)",
    .find = find,
    .version = version,
    .place = place,
    .to_json = to_json,
};
