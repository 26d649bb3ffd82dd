/* `probes`: which files carry the TLS probes, who uses them, hit counts,
 * and the processes whose TLS no probe reads. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

/* "OpenSSL 3.x", "GnuTLS 3.4+", "Go go1.19.8": the stack's first word and
 * its version. */
static void stack_of(const cJSON *f, char *out, size_t n)
{
	const char *stack = json_str(f, "stack", "?");
	snprintf(out, n, "%.*s %s", (int)strcspn(stack, " "), stack, json_str(f, "version", "?"));
}

static void print_file(const cJSON *f, bool verbose)
{
	double hits = 0, procs = 0;
	char stack[48];
	json_num(f, "hits", &hits);
	json_num(f, "processes", &procs);
	stack_of(f, stack, sizeof(stack));
	printf("%-10s %-18s %-10s %10.0f %6.0f  %s\n", json_str(f, "kind", "?"), stack,
	       json_str(f, "origin", "?"), hits, procs, json_str(f, "path", "?"));
	const cJSON *pids = cJSON_GetObjectItemCaseSensitive(f, "pids");
	if (verbose && cJSON_GetArraySize(pids) > 0) {
		printf("%49s pids:", "");
		const cJSON *p;
		int n = 0;
		cJSON_ArrayForEach(p, pids)
		{
			if (n++ == 16) {
				printf(" …");
				break;
			}
			printf(" %.0f", p->valuedouble);
		}
		putchar('\n');
	}
	if (!verbose)
		return;
	const cJSON *fn;
	cJSON_ArrayForEach(fn, cJSON_GetObjectItemCaseSensitive(f, "functions"))
	{
		const char *at = json_str(fn, "probe_offset", NULL);
		printf("%56s %-24s %-8s %-10s %-14s %s\n", "", json_str(fn, "function", "?"),
		       json_str(fn, "placement", "?"), at ? at : "-",
		       json_str(fn, "hit_cost", "no probe"), json_str(fn, "first_instruction", ""));
	}
	const cJSON *pr;
	cJSON_ArrayForEach(pr, cJSON_GetObjectItemCaseSensitive(f, "probes"))
	{
		double h = 0;
		json_num(pr, "hits", &h);
		printf("%56s %-9s %-24s %-10s %10.0f\n", "", json_str(pr, "type", "?"),
		       json_str(pr, "function", "?"), json_str(pr, "offset", "?"), h);
	}
}

int cmd_probes(int argc, char **argv)
{
	static const struct option opts[] = {
	    {"json", no_argument, NULL, 'j'},
	    {"verbose", no_argument, NULL, 'v'},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	bool json = false, verbose = false;
	int c;
	optind = 1;
	while ((c = getopt_long(argc, argv, "vh", opts, NULL)) != -1) {
		switch (c) {
		case 'j':
			json = true;
			break;
		case 'v':
			verbose = true;
			break;
		case 'h':
			printf(
			    "Usage: llmobs-cli probes [--json] [-v|--verbose]\n"
			    "Files with TLS probes attached (libssl and libgnutls copies,\n"
			    "executables with OpenSSL or BoringSSL built in, Go executables),\n"
			    "the processes using them and probe hit counts; then the files\n"
			    "recognised but not probed, and why; then the blind spots:\n"
			    "processes whose TLS connections no probe reads (rustls...), and why.\n"
			    "-v adds each probe (function, offset, hits) and the pids.\n");
			return EXIT_OK;
		default:
			return cli_usage_error("probes", "unknown option");
		}
	}
	if (optind < argc) {
		fprintf(stderr, "llmobs-cli probes: unexpected argument '%s'\n", argv[optind]);
		return EXIT_USAGE;
	}
	int rc;
	cJSON *j = cli_get_json("/api/v1/probes", &rc);
	if (!j)
		return rc;
	/* the blind spots are part of the answer to "what is probed" */
	cJSON *blind = cli_get_json("/api/v1/blind", &rc);
	if (!blind) {
		cJSON_Delete(j);
		return rc;
	}
	if (json) {
		cJSON_AddItemToObject(j, "blind", blind);
		return cli_print_json(j);
	}
	const cJSON *files = cJSON_GetObjectItemCaseSensitive(j, "files");
	printf("%-10s %-18s %-10s %10s %6s  %s\n", "KIND", "TLS", "ORIGIN", "HITS", "PROCS",
	       "PATH");
	const cJSON *f;
	cJSON_ArrayForEach(f, files)
	{
		print_file(f, verbose);
	}
	double dismissed = 0, errors = 0;
	json_num(j, "files_dismissed", &dismissed);
	json_num(j, "attach_errors", &errors);
	printf("%d file(s) probed; %.0f executable file(s) without a TLS stack seen; %.0f attach "
	       "error(s)\n",
	       cJSON_GetArraySize(files), dismissed, errors);
	/* files a stack recognised but would not probe, and why */
	cJSON_ArrayForEach(f, cJSON_GetObjectItemCaseSensitive(j, "files_refused"))
	{
		printf("not probed (%s): %s: %s\n", json_str(f, "stack", "?"),
		       json_str(f, "path", "?"), json_str(f, "reason", "?"));
	}
	blind_print(blind);
	cJSON_Delete(blind);
	cJSON_Delete(j);
	return EXIT_OK;
}
