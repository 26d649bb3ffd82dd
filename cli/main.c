/* llmobs-cli: query a running llmobsd. Subcommands in a table, bpftool style. */
#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

struct command {
	const char *name;
	int (*fn)(int argc, char **argv);
	const char *help;
};

static const struct command commands[] = {
    {"streams", cmd_streams, "list active and recent LLM calls (table or --json)"},
    {"show", cmd_show, "one call in full, with its text"},
    {"top", cmd_top, "live table of streams, like htop"},
    {"tail", cmd_tail, "follow live events (stream_start/end, backpressure, ...)"},
    {"probes", cmd_probes,
     "files carrying the TLS probes, their users and hits; refused files, blind spots"},
    {"connections", cmd_connections, "connections seen but not parsed, and why (--all: every one)"},
    {"history", cmd_history, "past and live calls, newest first, with filters (--since 24h, ...)"},
    {"search", cmd_search, "stored calls whose prompt or completion has these words"},
    {"report", cmd_report, "requests, errors, p95 latency, tokens and cost per model, ..."},
    {"health", cmd_health, "exit 0 when the daemon's probes are attached"},
};

static void usage(FILE *f)
{
	fprintf(f, "Usage: llmobs-cli [--server URL] COMMAND [ARGS]\n\n"
	           "Commands:\n");
	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		fprintf(f, "  %-12s %s\n", commands[i].name, commands[i].help);
	fprintf(f,
	        "\nOptions:\n"
	        "  --server URL  llmobsd API (default $LLMOBS_SERVER or %s)\n"
	        "  --help        this help; COMMAND --help for a command's options\n"
	        "  --version     print the version\n"
	        "Exit status: 0 ok, 1 server unreachable or error, 2 usage error.\n",
	        CLI_DEFAULT_SERVER);
}

int main(int argc, char **argv)
{
	const char *env = getenv("LLMOBS_SERVER");
	if (env && *env)
		cli_server = env;
	int i = 1;
	for (; i < argc && argv[i][0] == '-'; i++) {
		if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
			usage(stdout);
			return EXIT_OK;
		} else if (!strcmp(argv[i], "--version")) {
			printf("llmobs-cli %s\n", CLI_VERSION);
			return EXIT_OK;
		} else if (!strcmp(argv[i], "--server") && i + 1 < argc) {
			cli_server = argv[++i];
		} else if (!strncmp(argv[i], "--server=", 9)) {
			cli_server = argv[i] + 9;
		} else {
			fprintf(stderr,
			        "llmobs-cli: unknown option '%s'\nTry 'llmobs-cli --help'.\n",
			        argv[i]);
			return EXIT_USAGE;
		}
	}
	if (i == argc) {
		usage(stderr);
		return EXIT_USAGE;
	}
	for (size_t c = 0; c < sizeof(commands) / sizeof(commands[0]); c++) {
		if (strcmp(argv[i], commands[c].name))
			continue;
		curl_global_init(CURL_GLOBAL_DEFAULT);
		int rc = commands[c].fn(argc - i, argv + i);
		curl_global_cleanup();
		return rc;
	}
	fprintf(stderr, "llmobs-cli: unknown command '%s'\nTry 'llmobs-cli --help'.\n", argv[i]);
	return EXIT_USAGE;
}
