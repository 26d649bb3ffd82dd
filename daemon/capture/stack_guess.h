/* Which TLS stack an executable file carries, guessed cheaply from the
 * file alone, for the blind-spot report: Go (a .go.buildinfo or
 * .gopclntab section, or the "\xff Go buildinf:" magic), rustls,
 * BoringSSL and OpenSSL (their names in the read-only data). Static
 * binaries without symbols (Bun, Codex) are told apart this way. */
#ifndef LLMOBS_CAPTURE_STACK_GUESS_H
#define LLMOBS_CAPTURE_STACK_GUESS_H

enum stack_guess {
	GUESS_UNREAD = 0, /* the file could not be read */
	GUESS_NONE,       /* no TLS stack named in the file */
	GUESS_GO,
	GUESS_RUSTLS,
	GUESS_BORINGSSL,
	GUESS_OPENSSL,
	/* libraries without probes, from the files a process maps */
	GUESS_GNUTLS,
	GUESS_NSS,
	GUESS_WOLFSSL,
	GUESS_MBEDTLS,
	GUESS__N,
};

/* "unknown", "none", "Go", "rustls", "BoringSSL", "OpenSSL", "GnuTLS"... */
const char *stack_guess_name(enum stack_guess g);
/* Reads the file open on fd (its position is not used). */
enum stack_guess stack_guess_fd(int fd);
/* A TLS library from a mapped file's path ("/usr/lib/x86_64-linux-gnu/
 * libgnutls.so.30": GUESS_GNUTLS; libssl.so.*: GUESS_OPENSSL), else
 * GUESS_NONE. */
enum stack_guess stack_guess_library(const char *path);

#endif
