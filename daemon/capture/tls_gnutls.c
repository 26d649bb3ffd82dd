/* The GnuTLS table (tls_gnutls.h). Applications write with
 * gnutls_record_send (since 3.6.3 a tail call into gnutls_record_send2)
 * or its _range form and read with gnutls_record_recv or its _seq form;
 * gnutls_bye and gnutls_deinit end a connection sooner than close(2)
 * tells. Every one is probed at its symbol: their entries are short and
 * there is no internal function with the same arguments to move to. */
#include "capture/tls_gnutls.h"

#include <string.h>

#include "capture/placement.h"

_Static_assert(G__N <= TLS_MAX_FUNCS, "a file's probe counters hold TLS_MAX_FUNCS functions");

static const char *const names[G__N] = {
    "gnutls_record_send", "gnutls_record_send2",    "gnutls_record_send_range",
    "gnutls_record_recv", "gnutls_record_recv_seq", "gnutls_bye",
    "gnutls_deinit",
};

/* clang-format off */
static const struct tls_func funcs[G__N] = {
    [G_SEND]       = {TLS_WRITE, "gnutls_send_enter",   "gnutls_exit_ret", false},
    [G_SEND2]      = {TLS_WRITE, "gnutls_send_enter",   "gnutls_exit_ret", false},
    [G_SEND_RANGE] = {TLS_WRITE, "gnutls_send_enter",   "gnutls_exit_ret", false},
    [G_RECV]       = {TLS_READ,  "gnutls_recv_enter",   "gnutls_exit_ret", false},
    [G_RECV_SEQ]   = {TLS_READ,  "gnutls_recv_enter",   "gnutls_exit_ret", false},
    [G_BYE]        = {TLS_END,   "gnutls_bye_enter",    NULL,              true},
    [G_DEINIT]     = {TLS_END,   "gnutls_deinit_enter", NULL,              true},
};
/* clang-format on */

static const char *const pinned[] = {"libgnutls.so.30", NULL};

/* libgnutls.so.30 is the ABI of GnuTLS 3.4 and later; a copy linked into
 * an executable tells nothing more. */
static const char *version(const struct elf_info *info, const uint64_t *offsets)
{
	(void)offsets;
	return strcmp(info->soname, "libgnutls.so.30") == 0 ? "3.4+" : "3.x";
}

static void place(const char *path, const struct elf_info *info, const uint64_t *offsets,
                  bool redirect, struct placement *out)
{
	(void)info;
	(void)redirect;
	place_symbols(path, offsets, G__N, "public symbol (no placement rules for GnuTLS)", out);
}

static void to_json(cJSON *o, const struct elf_info *info)
{
	cJSON_AddStringToObject(o, "gnutls", info->soname[0] ? info->soname : "linked in");
}

const struct tls_stack tls_gnutls = {
    .kind = TLS_GNUTLS,
    .name = "GnuTLS",
    .symbols = names,
    .funcs = funcs,
    .nfuncs = G__N,
    .pinned = pinned,
    .needs = "gnutls_record_recv/gnutls_record_send symbols",
    .version = version,
    .place = place,
    .to_json = to_json,
};
