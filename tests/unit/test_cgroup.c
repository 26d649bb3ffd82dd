/* cgroup path and container id from /proc/PID/cgroup text, for cgroup v2,
 * v1 and hybrid hosts and the runtimes' naming schemes. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "core/cgroup.h"

#define CID "3f4e5d6c7b8a99887766554433221100ffeeddccbbaa00112233445566778899"

static void parse(const char *text, const char *path, const char *cid)
{
	struct cgroup_attr a;
	cgroup_parse(text, &a);
	assert_string_equal(a.path, path);
	assert_string_equal(a.container_id, cid);
}

static void test_runtimes(void **state)
{
	(void)state;
	parse("0::/system.slice/docker-" CID ".scope\n", "/system.slice/docker-" CID ".scope", CID);
	parse("0::/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod1234.slice/"
	      "cri-containerd-" CID ".scope\n",
	      "/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod1234.slice/"
	      "cri-containerd-" CID ".scope",
	      CID);
	parse("0::/machine.slice/libpod-" CID ".scope/container\n",
	      "/machine.slice/libpod-" CID ".scope/container", CID);
	/* cgroup v1 (cgroupfs driver): the id is a path component */
	parse("12:memory:/docker/" CID "\n11:cpu,cpuacct:/docker/" CID "\n0::/\n", "/docker/" CID,
	      CID);
	/* upper case ids are normalised */
	char upper[] = "0::/docker/" CID "\n";
	for (char *p = upper + 11; *p && *p != '\n'; p++)
		if (*p >= 'a' && *p <= 'f')
			*p = (char)(*p - 32);
	char upper_path[100];
	snprintf(upper_path, sizeof(upper_path), "%.*s", (int)(strlen(upper) - 4), upper + 3);
	parse(upper, upper_path, CID); /* the path as is, the id lower case */
}

static void test_not_containers(void **state)
{
	(void)state;
	parse("0::/user.slice/user-1000.slice/session-2.scope\n",
	      "/user.slice/user-1000.slice/session-2.scope", "");
	parse("0::/\n", "/", "");
	/* hybrid host, process only in a v1 hierarchy; 32 hex digits is not an id */
	parse("4:memory:/process_api/bba075e775057c6cb4dc2fe7318091dd\n1:cpu:/\n0::/\n",
	      "/process_api/bba075e775057c6cb4dc2fe7318091dd", "");
	/* 65 hex digits: not an id either */
	parse("0::/x/" CID "0\n", "/x/" CID "0", "");
	parse("", "/", "");
	parse("garbage without colons\n", "/", "");
}

static void test_lookup_of_this_process(void **state)
{
	(void)state;
	cgroup_lookup_enable(false);
	assert_null(cgroup_of((uint32_t)getpid()));
	cgroup_lookup_enable(true);
	const struct cgroup_attr *a = cgroup_of((uint32_t)getpid());
	assert_non_null(a);
	assert_true(a->path[0] == '/');
	assert_ptr_equal(cgroup_of((uint32_t)getpid()), a); /* cached */
	cgroup_forget((uint32_t)getpid());
	assert_null(cgroup_of(0x7ffffff0u)); /* no such process */
	cgroup_forget_all();
	cgroup_lookup_enable(false);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_runtimes),
	    cmocka_unit_test(test_not_containers),
	    cmocka_unit_test(test_lookup_of_this_process),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
