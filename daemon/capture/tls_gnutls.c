/* The GnuTLS table (tls_gnutls.h). Applications write with
 * gnutls_record_send (since 3.6.3 a tail call into gnutls_record_send2)
 * or its _range form and read with gnutls_record_recv or its _seq form;
 * gnutls_bye and gnutls_deinit end a connection sooner than close(2)
 * tells. Each is probed at its symbol (there is no internal function with
 * the same arguments to move to), except gnutls_record_send when its bytes
 * show it is a tail call into gnutls_record_send2: one probe sees both. */
#include "capture/tls_gnutls.h"

#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "capture/placement.h"
#include "core/macros.h"

_Static_assert(G__N <= TLS_MAX_FUNCS, "a file's probe counters hold TLS_MAX_FUNCS functions");

static const char *const names[G__N] = {
    "gnutls_record_send", "gnutls_record_send2",    "gnutls_record_send_range",
    "gnutls_record_recv", "gnutls_record_recv_seq", "gnutls_bye",
    "gnutls_deinit",
};

/* clang-format off */
static const struct tls_func funcs[G__N] = {
    [G_SEND]       = {TLS_WRITE, "gnutls_send_enter",   "gnutls_exit_ret", false, false},
    [G_SEND2]      = {TLS_WRITE, "gnutls_send_enter",   "gnutls_exit_ret", false, false},
    [G_SEND_RANGE] = {TLS_WRITE, "gnutls_send_enter",   "gnutls_exit_ret", false, false},
    [G_RECV]       = {TLS_READ,  "gnutls_recv_enter",   "gnutls_exit_ret", false, false},
    [G_RECV_SEQ]   = {TLS_READ,  "gnutls_recv_enter",   "gnutls_exit_ret", false, false},
    [G_BYE]        = {TLS_END,   "gnutls_bye_enter",    NULL,              true,  false},
    [G_DEINIT]     = {TLS_END,   "gnutls_deinit_enter", NULL,              true,  false},
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

/* gnutls_record_send(s, data, size) is gnutls_record_send2(s, data, size,
 * 0, 0): "xor %r8d,%r8d; xor %ecx,%ecx; jmp" to send2, directly or through
 * its PLT stub. The file offset it jumps to, or 0 when the bytes differ. */
static uint64_t tail_call_target(int fd, uint64_t at)
{
	static const uint8_t zero_args[][3] = {
	    {0x45, 0x31, 0xc0}, {0x31, 0xc9, 0}, {0x45, 0x31, 0xc9}};
	uint8_t code[16];
	if (pread(fd, code, sizeof(code), (off_t)at) != (ssize_t)sizeof(code))
		return 0;
	size_t i = 0;
	for (bool more = true; more && i < 10;) {
		more = false;
		for (size_t k = 0; k < ARRAY_LEN(zero_args); k++) {
			size_t len = zero_args[k][2] ? 3 : 2;
			if (memcmp(code + i, zero_args[k], len) == 0) {
				i += len;
				more = true;
				break;
			}
		}
	}
	if (code[i] != 0xe9)
		return 0;
	int32_t rel;
	memcpy(&rel, code + i + 1, sizeof(rel));
	return at + i + 5 + (uint64_t)(int64_t)rel;
}

static void place(const char *path, const struct elf_info *info, const uint64_t *offsets,
                  bool redirect, struct placement *out)
{
	(void)info;
	place_symbols(path, offsets, G__N, "public symbol (no placement rules for GnuTLS)", out);
	if (!redirect || !offsets[G_SEND] || !offsets[G_SEND2])
		return;
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return;
	uint64_t to = tail_call_target(fd, offsets[G_SEND]);
	close(fd);
	char name[64] = "";
	if (!to || (to != offsets[G_SEND2] && (!elf_plt_target(path, to, name, sizeof(name)) ||
	                                       strcmp(name, names[G_SEND2]) != 0)))
		return;
	struct placement *p = &out[G_SEND];
	p->kind = PLACE_COVERED;
	p->at = 0;
	p->covered_by = G_SEND2;
	p->emulated = false;
	snprintf(p->why, sizeof(p->why),
	         "zeroes send2's two last arguments and jumps to it%s: every call is seen there",
	         to == offsets[G_SEND2] ? "" : " (through its PLT stub)");
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
