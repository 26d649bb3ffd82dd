/* BoringSSL built into stripped executables (Bun, and Bun single-file
 * programs such as Claude Code): SSL_read, SSL_write and SSL_shutdown
 * located without symbols, by the error sites BoringSSL compiles into
 * them.
 *
 * OPENSSL_PUT_ERROR passes __FILE__ and __LINE__, so SSL_read (with
 * SSL_peek inlined) and SSL_write load the address of ".../ssl/ssl_lib.cc"
 * together with ERR_LIB_SSL (0x10), ERR_R_SHOULD_NOT_HAVE_BEEN_CALLED
 * (0x42) and a line, in their quic_method check. The locator finds the
 * string, its code references, each reference's function and the
 * immediates around it, and accepts only when independent signals agree:
 * the line order of ssl_lib.cc (SSL_peek comes right before SSL_write),
 * SSL_write's own SSL_R_BAD_LENGTH check after its quic check, and the same
 * quic_method field compared in both. Anything else fails closed with a
 * reason: a wrong address is never probed. */
#ifndef LLMOBS_CAPTURE_BORINGSSL_H
#define LLMOBS_CAPTURE_BORINGSSL_H

#include <stdbool.h>
#include <stdint.h>

struct bssl_func {
	uint64_t vaddr;  /* the function's entry */
	uint64_t offset; /* its file offset, what uprobes take */
	uint64_t site;   /* ssl_lib.cc's address loaded in its check (the operand) */
	unsigned line;   /* the ssl_lib.cc line of its check: quic_method (read,
	                    write), do_handshake (shutdown) */
	const char *how; /* how its start was found: "FDE" or "padding" */
};

struct bssl_found {
	bool anchored; /* the file has the ssl_lib.cc string: BoringSSL inside */
	bool ok;       /* read and write located, every signal agreeing */
	struct bssl_func read, write;
	/* SSL_shutdown (optional, shutdown.vaddr 0 when not told for sure):
	 * the first SSL_R_UNINITIALIZED site after SSL_write, in a function
	 * with no quic check, testing the field SSL_write's own
	 * SSL_R_UNINITIALIZED check tests (do_handshake) */
	struct bssl_func shutdown;
	int64_t handshake_disp;  /* that field's offset in SSL */
	char shutdown_note[128]; /* why SSL_shutdown was not located */
	uint64_t anchor;         /* the string's address */
	uint64_t len_site;       /* the same in SSL_write's negative length check */
	int64_t quic_disp;       /* the quic_method field's offset in SSL */
	unsigned refs;           /* code references to the string */
	char reason[256];        /* why not, when !ok */
};

/* Locates SSL_read and SSL_write in path. Returns 0 with out filled (see
 * ok, anchored), -1 when path is not a readable ELF file. Results are
 * cached by the file's GNU build-id; a cached location is used only after
 * its sites decode the same in this file (a patched copy keeps the
 * build-id). */
int bssl_locate(const char *path, struct bssl_found *out);

#endif
