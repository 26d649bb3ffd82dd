/* llmobsd's command line. One table of options (options.c) drives
 * getopt_long, --help and the check of each value, so an option is named,
 * documented and validated in one place. */
#ifndef LLMOBS_OPTIONS_H
#define LLMOBS_OPTIONS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "llmobs/event.h"

struct options {
	const char *listen;
	uint32_t pid;
	const char *comm;
	const char *policy; /* FILE, "default" or "off" */
	const char *prices; /* FILE added to the shipped price table, or NULL */
	const char *store;  /* the history store's file, or "off" */
	int64_t retention_ms;
	uint32_t store_max_mib;
	bool probe_symbols;
	char cgroup_dir[4096];  /* absolute, under the cgroup2 mount */
	char cgroup_path[4096]; /* the same, relative to the mount ("/a/b") */
	uint32_t ringbuf;
	const char *record;
	const char *replay;
	bool replay_json;
	bool replay_serve;
	uint32_t keep;
	const char **libssl; /* NULL-terminated */
	int nlibssl;
	uint16_t plain_ports[LLMOBS_MAX_PLAIN_PORTS];
	size_t nplain;
};

/* Fills o (zeroed by the caller) from the command line; options that set
 * a stage's global (--enforce, --content, -v...) set it here. Returns 0, or
 * the exit status (2) after a message on stderr. --help and --version
 * print and exit(0). */
int options_parse(int argc, char **argv, struct options *o);
void options_free(struct options *o);

#endif
