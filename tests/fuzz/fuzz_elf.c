/* ELF files as discovery reads them: symbols (libelf), then the placement
 * of probes, which decodes instructions at the symbols' offsets; and the
 * BoringSSL locator, which every file without those symbols goes through. */
#include <string.h>

#include "capture/boringssl.h"
#include "capture/elfsym.h"
#include "fuzz.h"
#include "capture/placement.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char path[64];
	int fd = fin_file(data, size, path, sizeof(path));
	uint64_t offs[F__N] = {0};
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
	struct bssl_found f;
	if (bssl_locate(path, &f) == 0 && f.ok &&
	    (!f.anchored || !f.read.offset || !f.write.offset || f.read.vaddr == f.write.vaddr))
		abort(); /* a location must name two distinct functions */
	close(fd);
	return 0;
}
