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

/* The executable PT_LOAD segment holding x, a virtual address or (by_offset)
 * a file offset. */
static bool exec_segment(Elf *e, uint64_t x, bool by_offset, GElf_Phdr *ph)
{
	size_t nph;
	if (elf_getphdrnum(e, &nph) != 0)
		return false;
	for (size_t i = 0; i < nph; i++) {
		if (!gelf_getphdr(e, (int)i, ph) || ph->p_type != PT_LOAD || !(ph->p_flags & PF_X))
			continue;
		uint64_t start = by_offset ? ph->p_offset : ph->p_vaddr;
		uint64_t size = by_offset ? ph->p_filesz : ph->p_memsz;
		if (x >= start && x < start + size)
			return true;
	}
	return false;
}

bool elf_vaddr_to_offset(Elf *e, uint64_t vaddr, uint64_t *off)
{
	GElf_Phdr ph;
	if (!exec_segment(e, vaddr, false, &ph))
		return false;
	*off = vaddr - ph.p_vaddr + ph.p_offset;
	return true;
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
	uint64_t first[4] = {0}; /* the first letters of the names, and of the 3.x marker */
	for (size_t k = 0; k <= n; k++) {
		uint8_t c = (uint8_t)(k < n ? names[k][0] : 'S');
		first[c / 64] |= 1ull << (c % 64);
	}
	for (size_t i = 0; i < count; i++) {
		GElf_Sym sym;
		if (!gelf_getsym(d, (int)i, &sym) || sym.st_shndx == SHN_UNDEF || !sym.st_value)
			continue;
		if (GELF_ST_TYPE(sym.st_info) != STT_FUNC)
			continue;
		const char *name = elf_strptr(e, sh->sh_link, sym.st_name);
		/* most symbols start with a letter no wanted name starts with */
		if (!name || !(first[(uint8_t)name[0] / 64] & (1ull << ((uint8_t)name[0] % 64))))
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

static bool offset_to_vaddr(Elf *e, uint64_t off, uint64_t *vaddr)
{
	GElf_Phdr ph;
	if (!exec_segment(e, off, true, &ph))
		return false;
	*vaddr = off - ph.p_offset + ph.p_vaddr;
	return true;
}

/* The GOT slot a PLT stub jumps through: "[endbr64] [bnd] jmp *disp32(%rip)". */
static bool plt_slot(int fd, Elf *e, uint64_t stub, uint64_t *slot)
{
	uint8_t code[16];
	uint64_t at;
	if (pread(fd, code, sizeof(code), (off_t)stub) != (ssize_t)sizeof(code) ||
	    !offset_to_vaddr(e, stub, &at))
		return false;
	size_t i = 0;
	if (code[0] == 0xf3 && code[1] == 0x0f && code[2] == 0x1e && code[3] == 0xfa)
		i = 4;
	if (code[i] == 0xf2) /* bnd */
		i++;
	if (code[i] != 0xff || code[i + 1] != 0x25)
		return false;
	int32_t disp;
	memcpy(&disp, code + i + 2, sizeof(disp));
	*slot = at + i + 6 + (uint64_t)(int64_t)disp;
	return true;
}

bool elf_plt_target(const char *path, uint64_t stub, char *name, size_t n)
{
	bool found = false;
	if (elf_version(EV_CURRENT) == EV_NONE)
		return false;
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return false;
	Elf *e = elf_begin(fd, ELF_C_READ_MMAP, NULL);
	uint64_t slot;
	if (!e || elf_kind(e) != ELF_K_ELF || !plt_slot(fd, e, stub, &slot))
		goto out;
	Elf_Scn *scn = NULL;
	while (!found && (scn = elf_nextscn(e, scn))) {
		GElf_Shdr sh;
		if (!gelf_getshdr(scn, &sh) || sh.sh_type != SHT_RELA || !sh.sh_entsize)
			continue;
		Elf_Data *d = elf_getdata(scn, NULL);
		Elf_Scn *symscn = elf_getscn(e, sh.sh_link);
		GElf_Shdr symsh;
		Elf_Data *syms = symscn ? elf_getdata(symscn, NULL) : NULL;
		if (!d || !syms || !gelf_getshdr(symscn, &symsh))
			continue;
		for (size_t i = 0; i < sh.sh_size / sh.sh_entsize; i++) {
			GElf_Rela r;
			GElf_Sym sym;
			if (!gelf_getrela(d, (int)i, &r) || r.r_offset != slot)
				continue;
			const char *s = gelf_getsym(syms, (int)GELF_R_SYM(r.r_info), &sym)
			                    ? elf_strptr(e, symsh.sh_link, sym.st_name)
			                    : NULL;
			if (s) {
				snprintf(name, n, "%s", s);
				found = true;
			}
			break;
		}
	}
out:
	if (e)
		elf_end(e);
	close(fd);
	return found;
}
