/* The TLS libraries the uprobes understand, one table each (tls_*.c):
 * the function symbols to look up in a file (or, for stacks built into
 * stripped executables, a hook that locates the functions by other
 * anchors), the BPF programs for each (entry, return), which functions a
 * file must have, and the library's own choices (file names probed up
 * front, probe placement, how its version is told). discover.c and
 * attach.c iterate tls_stacks; another stack (Go's crypto/tls, rustls) is
 * another table there. */
#ifndef LLMOBS_CAPTURE_TLS_H
#define LLMOBS_CAPTURE_TLS_H

#include <cjson/cJSON.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "capture/elfsym.h"
#include "llmobs/event.h"

/* Functions of one stack, at most: the BPF cookie has room for this many
 * per file (llmobs_probe_cookie). */
#define TLS_MAX_FUNCS LLMOBS_PROBE_FUNCS

enum tls_kind { TLS_OPENSSL, TLS_GNUTLS, TLS_GO, TLS_BORINGSSL };

/* What a stack's find hook made of a file. */
enum tls_found {
	TLS_ABSENT,  /* not this stack */
	TLS_FOUND,   /* offsets filled */
	TLS_REFUSED, /* this stack, but its functions could not be told for sure */
};

/* What a function does for the capture. A file is probed only when it has
 * a TLS_WRITE and a TLS_READ function; the others are optional. */
enum tls_role {
	TLS_WRITE, /* plaintext out */
	TLS_READ,  /* plaintext in */
	TLS_END,   /* the connection ends */
};

struct tls_func {
	enum tls_role role;
	const char *entry; /* BPF program on entry */
	/* BPF program on return, or NULL: with one, the entry and the return
	 * probe are attached both or neither */
	const char *ret;
	bool optional; /* its programs may fail to load: the daemon runs without */
	/* ret is attached as a plain uprobe on each RET instruction of the
	 * function (placement.rets), not as a uretprobe: Go moves goroutine
	 * stacks, and a uretprobe's rewritten return address breaks that */
	bool ret_sites;
};

struct placement;

struct tls_stack {
	enum tls_kind kind;
	const char *name;             /* in the log: "attached ... (library, OpenSSL 3.x; ...)" */
	const char *const *symbols;   /* per function, its symbol (or its name, with find) */
	const struct tls_func *funcs; /* per function (the index is the probe cookie's) */
	unsigned nfuncs;              /* <= TLS_MAX_FUNCS */
	const char *const *pinned;    /* file names probed up front in the library
	                                 directories; NULL-terminated */
	const char *needs;            /* what an unusable file lacks, for the log */
	/* sonames of files that define the stack's names as wrappers over
	 * another stack, probed there (libgnutls-openssl's SSL_* over GnuTLS):
	 * not this stack, or every call would be seen twice; NULL-terminated */
	const char *const *wrappers;
	/* NULL for stacks found by their symbols. Otherwise it locates the
	 * functions in path (offsets[0..nfuncs)), info holding what the
	 * symbol pass read of the file (the hook may add to it); on
	 * TLS_REFUSED, why says what disagreed or is unsupported. Tried only
	 * on files no symbol table matched. */
	enum tls_found (*find)(const char *path, uint64_t *offsets, struct elf_info *info,
	                       char *why, size_t n);
	/* The version the log names, from the file and the symbols found. */
	const char *(*version)(const struct elf_info *info, const uint64_t *offsets);
	/* Where each function's probe goes (placement.h); out[0..nfuncs). */
	void (*place)(const char *path, const struct elf_info *info, const uint64_t *offsets,
	              bool redirect, struct placement *out);
	/* The stack's fields of a file in /api/v1/probes. */
	void (*to_json)(cJSON *o, const struct elf_info *info);
};

/* Every stack, tried in order on each file; NULL-terminated, at most
 * TLS_MAX_STACKS. */
#define TLS_MAX_STACKS 4
extern const struct tls_stack *const tls_stacks[];

/* True when offsets (per function of s, 0 = absent) hold a write and a
 * read function: the file can be probed. */
bool tls_usable(const struct tls_stack *s, const uint64_t *offsets);
/* True when the file (its soname) is one of the stack's wrappers. */
bool tls_is_wrapper(const struct tls_stack *s, const struct elf_info *info);
/* A read or write function (counted as the file's I/O probes). */
bool tls_is_io(const struct tls_func *f);
/* What a file that no stack can probe lacks, for the log:
 * "SSL_read/SSL_write symbols or ..." (the stacks' needs, joined by " or "). */
void tls_needs(char *out, size_t n);

#endif
