/* ELF files as discovery reads them: symbols (libelf) of every TLS stack,
 * then the placement of probes, which decodes instructions at the symbols'
 * offsets, and PLT stubs resolved through relocations; and as a Go
 * executable (.gopclntab, .go.buildinfo, the functions decoded whole); and
 * the BoringSSL locator, which every file without those symbols goes through. */
#include <string.h>

#include "capture/boringssl.h"
#include "capture/elfsym.h"
#include "fuzz.h"
#include "capture/placement.h"
#include "capture/tls_gnutls.h"
#include "capture/tls_go.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char path[64];
	int fd = fin_file(data, size, path, sizeof(path));
	uint64_t offs[F__N] = {0}, g[G__N] = {0};
	struct elf_info info;
	memset(&info, 0, sizeof(info));
	int found = elf_func_offsets(path, ssl_func_names, F__N, offs, &info);
	if (found > 0) {
		if (info.ntext > 4)
			abort();
		struct placement out[F__N];
		place_probes(path, &info, offs, true, out);
		for (int i = 0; i < F__N; i++)
			(void)place_kind_name(out[i].kind);
	}
	if (elf_func_offsets(path, tls_gnutls.symbols, G__N, g, &info) > 0) {
		struct placement out[G__N];
		tls_gnutls.place(path, &info, g, true, out);
	}
	/* Any offset may be a "stub": three, named by the input's last bytes
	 * (each call reads the file again: more would cost most of the run). */
	char name[64];
	for (size_t k = 0; k < 3 && size >= 2 * (k + 1); k++) {
		size_t i = (data[size - 2 * k - 1] | (size_t)data[size - 2 * k - 2] << 8) % size;
		if (elf_plt_target(path, i, name, sizeof(name)) && !memchr(name, 0, sizeof(name)))
			abort();
	}
	uint64_t go_offs[TLS_MAX_FUNCS] = {0};
	char why[256];
	if (tls_go.find(path, go_offs, &info, why, sizeof(why)) == TLS_FOUND) {
		struct placement out[TLS_MAX_FUNCS];
		tls_go.place(path, &info, go_offs, true, out);
		for (int i = 0; i < GO__N; i++)
			if (out[i].nrets > PLACE_MAX_RETS)
				abort();
	}
	struct bssl_found f;
	if (bssl_locate(path, &f) == 0 && f.ok &&
	    (!f.anchored || !f.read.offset || !f.write.offset || f.read.vaddr == f.write.vaddr))
		abort(); /* a location must name two distinct functions */
	close(fd);
	return 0;
}
