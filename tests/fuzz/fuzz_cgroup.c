/* /proc/PID/cgroup text and container ids found in cgroup paths. */
#include <string.h>

#include "core/cgroup.h"
#include "fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *text = malloc(size + 1);
	memcpy(text, data, size);
	text[size] = '\0';
	struct cgroup_attr a;
	memset(&a, 0, sizeof(a));
	cgroup_parse(text, &a);
	char id[80];
	(void)cgroup_container_id(text, id, sizeof(id));
	free(text);
	return 0;
}
