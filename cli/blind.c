/* The "blind spots" section of `probes`: processes whose TLS connections
 * no probe reads (GET /api/v1/blind), and why. */
#include <stdio.h>

#include "cli.h"

static void print_peers(const cJSON *peers)
{
	const cJSON *p;
	int n = 0;
	cJSON_ArrayForEach(p, peers)
	{
		printf("%s%s", n++ ? "," : "", cJSON_IsString(p) ? p->valuestring : "?");
	}
	if (!n)
		printf("-");
}

void blind_print(const cJSON *j)
{
	const cJSON *procs = cJSON_GetObjectItemCaseSensitive(j, "processes");
	double evicted = 0, window = 0;
	json_num(j, "evicted", &evicted);
	json_num(j, "window_ms", &window);
	printf("\nBlind spots: processes with TLS connections no probe reads "
	       "(no SSL call within %.0f s)\n",
	       window / 1000);
	if (cJSON_GetArraySize(procs) == 0) {
		printf("none seen\n");
		return;
	}
	printf("%-7s %-15s %-9s %5s  %-24s  %s\n", "PID", "COMM", "STACK", "CONNS", "LAST SEEN",
	       "EXE");
	const cJSON *p;
	cJSON_ArrayForEach(p, procs)
	{
		double pid = 0, conns = 0;
		json_num(p, "pid", &pid);
		json_num(p, "connections", &conns);
		printf("%-7.0f %-15s %-9s %5.0f  %-24s  %s\n", pid, json_str(p, "comm", "?"),
		       json_str(p, "stack", "?"), conns, json_str(p, "last_seen", "?"),
		       json_str(p, "exe", "-"));
		printf("%-7s why: %s; peers: ", "", json_str(p, "reason", "?"));
		print_peers(cJSON_GetObjectItemCaseSensitive(p, "peers"));
		putchar('\n');
	}
	if (evicted > 0)
		printf("%.0f older process(es) no longer listed\n", evicted);
}
