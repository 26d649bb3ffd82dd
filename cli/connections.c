/* `connections`: what the daemon makes of each connection it tracks, the
 * ones it cannot parse first of all (blind spots, with their reasons). */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

static void print_row(const cJSON *c)
{
	double pid = 0, wr = 0, rd = 0;
	char w[16], r[16];
	json_num(c, "pid", &pid);
	json_num(c, "bytes_written", &wr);
	json_num(c, "bytes_read", &rd);
	fmt_bytes(wr, w, sizeof(w));
	fmt_bytes(rd, r, sizeof(r));
	printf("%-7.0f %-15.15s %-9s %-4s %-10.10s %-21.21s %10s %10s  %s\n", pid,
	       json_str(c, "comm", "?"), json_str(c, "state", "?"), json_str(c, "transport", "?"),
	       json_str(c, "protocol", "-"), json_str(c, "peer", "-"), w, r,
	       json_str(c, "reason", ""));
}

int cmd_connections(int argc, char **argv)
{
	static const struct option opts[] = {
	    {"json", no_argument, NULL, 'j'},
	    {"all", no_argument, NULL, 'a'},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	bool json = false, all = false;
	int c;
	optind = 1;
	while ((c = getopt_long(argc, argv, "ah", opts, NULL)) != -1) {
		switch (c) {
		case 'j':
			json = true;
			break;
		case 'a':
			all = true;
			break;
		case 'h':
			printf(
			    "Usage: llmobs-cli connections [--all] [--json]\n"
			    "Connections the daemon sees but does not parse (a protocol it does\n"
			    "not decode, TLS it cannot read), with the reason; --all lists every\n"
			    "tracked connection (parsed, server side, not decided yet).\n");
			return EXIT_OK;
		default:
			return cli_usage_error("connections", "unknown option");
		}
	}
	if (optind < argc) {
		fprintf(stderr, "llmobs-cli connections: unexpected argument '%s'\n", argv[optind]);
		return EXIT_USAGE;
	}
	int rc;
	cJSON *j =
	    cli_get_json(all ? "/api/v1/connections" : "/api/v1/connections?state=unparsed", &rc);
	if (!j)
		return rc;
	if (json)
		return cli_print_json(j);
	const cJSON *conns = cJSON_GetObjectItemCaseSensitive(j, "connections"), *row;
	printf("%-7s %-15s %-9s %-4s %-10s %-21s %10s %10s  %s\n", "PID", "COMM", "STATE", "VIA",
	       "PROTOCOL", "PEER", "WRITTEN", "READ", "REASON");
	cJSON_ArrayForEach(row, conns)
	{
		print_row(row);
	}
	double unparsed = 0;
	json_num(j, "unparsed", &unparsed);
	printf("%d connection(s) listed; %.0f not parsed\n", cJSON_GetArraySize(conns), unparsed);
	cJSON_Delete(j);
	return EXIT_OK;
}
