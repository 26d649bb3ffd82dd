/* Function symbols of an ELF file as uprobe file offsets (libelf). */
#ifndef LLMOBS_CAPTURE_ELFSYM_H
#define LLMOBS_CAPTURE_ELFSYM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <libelf.h>

/* Functions whose end a stack's finder records (elf_info.func_end). */
#define ELF_MAX_FUNCS 8

struct elf_info {
	bool executable; /* has PT_INTERP or is ET_EXEC (a program, not a library) */
	bool openssl3;   /* exports SSL_get1_peer_certificate (3.x only) */
	char soname[64]; /* DT_SONAME, "" when none */
	/* file offsets of the executable PT_LOAD segments (up to 4) */
	uint64_t text_start[4], text_end[4];
	unsigned ntext;
	/* Go executables (gopclntab.h): the toolchain that built the file
	 * ("go1.19.8", "" when unknown) and the file offset where each
	 * function found ends (its RET instructions are probed) */
	char go_version[24];
	uint64_t func_end[ELF_MAX_FUNCS];
};

/* Looks up each of names[0..n) among the defined function symbols of path
 * (.dynsym, then .symtab) and stores its file offset in offsets[i], or 0
 * when absent. Returns how many were found, or -1 when path is not a
 * readable ELF file. info may be NULL. */
int elf_func_offsets(const char *path, const char *const *names, size_t n, uint64_t *offsets,
                     struct elf_info *info);

/* The file offset of a virtual address in an executable PT_LOAD segment. */
bool elf_vaddr_to_offset(Elf *e, uint64_t vaddr, uint64_t *off);
/* Fills info's program-header and DT_SONAME fields (zero it first). */
void elf_read_info(Elf *e, struct elf_info *info);
/* The function a PLT stub at file offset `stub` of path jumps to, by the
 * relocation of the GOT slot it goes through: its symbol name in name[n].
 * False when the bytes there are not a PLT stub or nothing relocates it. */
bool elf_plt_target(const char *path, uint64_t stub, char *name, size_t n);

#endif
