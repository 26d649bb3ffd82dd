/* Go functions by name without symbols: the runtime's own function table,
 * .gopclntab, is in every Go executable, stripped (-ldflags=-s -w) or not.
 * Its magic number tells the table's layout, hence roughly the Go version;
 * .go.buildinfo tells the exact one. */
#ifndef LLMOBS_CAPTURE_GOPCLNTAB_H
#define LLMOBS_CAPTURE_GOPCLNTAB_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "capture/elfsym.h"

/* The table layouts (the first word of .gopclntab). */
#define GO_PCLN_12  0xfffffffbu /* Go 1.2 to 1.15 */
#define GO_PCLN_116 0xfffffffau /* Go 1.16, 1.17 */
#define GO_PCLN_118 0xfffffff0u /* Go 1.18, 1.19 */
#define GO_PCLN_120 0xfffffff1u /* Go 1.20 and later */

struct go_info {
	uint32_t magic;   /* table layout, 0 when the file has no table */
	char version[24]; /* "go1.19.8" from .go.buildinfo, "" when unknown */
	/* Built with the register ABI (Go 1.17 and later on amd64): the
	 * arguments the probes read are in registers */
	bool regabi;
};

/* Looks up each of names[0..n) (e.g. "crypto/tls.(*Conn).Read") in the
 * .gopclntab of path: start[i] and end[i] are the function's first byte
 * and the byte past its code as file offsets, 0 when absent. Returns how
 * many were found, or -1 when path is not an x86-64 Go executable. info
 * and elf may be NULL (elf: the file's program headers, elfsym.h). */
int go_func_ranges(const char *path, const char *const *names, size_t n, uint64_t *start,
                   uint64_t *end, struct go_info *info, struct elf_info *elf);

/* The same on a table already in memory (tests, fuzzing): tab is the
 * section's bytes, text the address of the text segment (the 1.18+
 * tables' entries are relative to it when their header says 0).
 * Addresses, not offsets. */
int go_pcln_lookup(const uint8_t *tab, size_t len, uint64_t text, const char *const *names,
                   size_t n, uint64_t *start, uint64_t *end);

/* The Go version in a .go.buildinfo section's bytes ("go1.19.8"), or
 * false. Only the inline form of Go 1.18+ is read: older ones point into
 * data the caller would have to map. */
bool go_buildinfo_version(const uint8_t *p, size_t len, char *out, size_t n);

#endif
