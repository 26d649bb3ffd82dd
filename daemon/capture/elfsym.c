/* Resolves function symbols to the file offsets uprobes take: the symbol's
 * virtual address translated through the executable PT_LOAD segment that
 * holds it. Reads only headers and symbol tables (mmap'd by libelf), so a
 * 100 MB binary such as node costs a few milliseconds. */
#include "capture/elfsym.h"

#include <fcntl.h>
#include <gelf.h>
#include <libelf.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

bool elf_vaddr_to_offset(Elf *e, uint64_t vaddr, uint64_t *off)
{
	size_t nph;
	if (elf_getphdrnum(e, &nph) != 0)
		return false;
	for (size_t i = 0; i < nph; i++) {
		GElf_Phdr ph;
		if (!gelf_getphdr(e, (int)i, &ph) || ph.p_type != PT_LOAD || !(ph.p_flags & PF_X))
			continue;
		if (vaddr >= ph.p_vaddr && vaddr < ph.p_vaddr + ph.p_memsz) {
			*off = vaddr - ph.p_vaddr + ph.p_offset;
			return true;
		}
	}
	return false;
}

void elf_read_info(Elf *e, struct elf_info *info)
{
	GElf_Ehdr eh;
	/* static executables (Go's) have no PT_INTERP */
	if (gelf_getehdr(e, &eh) && eh.e_type == ET_EXEC)
		info->executable = true;
	size_t nph;
	if (elf_getphdrnum(e, &nph) == 0) {
		for (size_t i = 0; i < nph; i++) {
			GElf_Phdr ph;
			if (!gelf_getphdr(e, (int)i, &ph))
				continue;
			if (ph.p_type == PT_INTERP)
				info->executable = true;
			if (ph.p_type == PT_LOAD && (ph.p_flags & PF_X) && info->ntext < 4) {
				info->text_start[info->ntext] = ph.p_offset;
				info->text_end[info->ntext++] = ph.p_offset + ph.p_filesz;
			}
		}
	}
	Elf_Scn *scn = NULL;
	while ((scn = elf_nextscn(e, scn))) {
		GElf_Shdr sh;
		if (!gelf_getshdr(scn, &sh) || sh.sh_type != SHT_DYNAMIC)
			continue;
		Elf_Data *d = elf_getdata(scn, NULL);
		for (size_t i = 0; d && sh.sh_entsize && i < sh.sh_size / sh.sh_entsize; i++) {
			GElf_Dyn dyn;
			if (!gelf_getdyn(d, (int)i, &dyn) || dyn.d_tag != DT_SONAME)
				continue;
			const char *s = elf_strptr(e, sh.sh_link, dyn.d_un.d_val);
			if (s)
				snprintf(info->soname, sizeof(info->soname), "%s", s);
		}
	}
}

/* One symbol table; fills offsets of names still missing. */
static int scan_symtab(Elf *e, Elf_Scn *scn, const GElf_Shdr *sh, const char *const *names,
                       size_t n, uint64_t *offsets, struct elf_info *info)
{
	Elf_Data *d = elf_getdata(scn, NULL);
	if (!d || !sh->sh_entsize)
		return 0;
	int found = 0;
	size_t count = sh->sh_size / sh->sh_entsize;
	for (size_t i = 0; i < count; i++) {
		GElf_Sym sym;
		if (!gelf_getsym(d, (int)i, &sym) || sym.st_shndx == SHN_UNDEF || !sym.st_value)
			continue;
		if (GELF_ST_TYPE(sym.st_info) != STT_FUNC)
			continue;
		const char *name = elf_strptr(e, sh->sh_link, sym.st_name);
		if (!name || name[0] != 'S') /* every name we look for starts with SSL_ */
			continue;
		if (info && strcmp(name, "SSL_get1_peer_certificate") == 0)
			info->openssl3 = true;
		for (size_t k = 0; k < n; k++) {
			uint64_t off;
			if (offsets[k] || strcmp(name, names[k]) != 0)
				continue;
			if (elf_vaddr_to_offset(e, sym.st_value, &off)) {
				offsets[k] = off;
				found++;
			}
		}
	}
	return found;
}

int elf_func_offsets(const char *path, const char *const *names, size_t n, uint64_t *offsets,
                     struct elf_info *info)
{
	memset(offsets, 0, n * sizeof(*offsets));
	if (info)
		memset(info, 0, sizeof(*info));
	if (elf_version(EV_CURRENT) == EV_NONE)
		return -1;
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	Elf *e = elf_begin(fd, ELF_C_READ_MMAP, NULL);
	if (!e || elf_kind(e) != ELF_K_ELF) {
		if (e)
			elf_end(e);
		close(fd);
		return -1;
	}
	if (info)
		elf_read_info(e, info);
	int found = 0;
	/* .dynsym first (what the dynamic linker exports), then .symtab of
	 * unstripped static binaries. */
	for (int pass = 0; pass < 2; pass++) {
		Elf_Scn *scn = NULL;
		Elf64_Word want = pass == 0 ? SHT_DYNSYM : SHT_SYMTAB;
		while ((scn = elf_nextscn(e, scn))) {
			GElf_Shdr sh;
			if (gelf_getshdr(scn, &sh) && sh.sh_type == want)
				found += scan_symtab(e, scn, &sh, names, n, offsets, info);
		}
	}
	elf_end(e);
	close(fd);
	return found;
}
