#include "call/conn_json.h"

#include <string.h>

#include "core/clock.h"
#include "core/stats.h"
#include "wire/conn.h"

#define DEFAULT_LIMIT 1000

bool conn_state_known(const char *state)
{
	for (int s = CONN_PENDING; s <= CONN_SERVER; s++)
		if (!strcmp(state, conn_state_name((enum conn_state)s)))
			return true;
	return false;
}

struct collect {
	const char *state;
	long left;
	cJSON *arr;
};

static bool add(const struct conn_view *v, void *ctx)
{
	struct collect *k = ctx;
	if (k->state && strcmp(k->state, conn_state_name(v->state)))
		return true;
	if (k->left-- <= 0)
		return false;
	char when[40];
	cJSON *o = cJSON_CreateObject();
	cJSON_AddNumberToObject(o, "pid", v->pid);
	cJSON_AddStringToObject(o, "comm", v->comm);
	if (v->fd >= 0)
		cJSON_AddNumberToObject(o, "fd", v->fd);
	else
		cJSON_AddNullToObject(o, "fd");
	if (v->peer)
		cJSON_AddStringToObject(o, "peer", v->peer);
	else
		cJSON_AddNullToObject(o, "peer");
	cJSON_AddStringToObject(o, "transport", v->tls ? "tls" : "tcp");
	cJSON_AddStringToObject(o, "state", conn_state_name(v->state));
	if (v->protocol)
		cJSON_AddStringToObject(o, "protocol", v->protocol);
	else
		cJSON_AddNullToObject(o, "protocol");
	if (v->reason)
		cJSON_AddStringToObject(o, "reason", v->reason);
	else
		cJSON_AddNullToObject(o, "reason");
	cJSON_AddNumberToObject(o, "bytes_written", (double)v->bytes[LLMOBS_DIR_WRITE]);
	cJSON_AddNumberToObject(o, "bytes_read", (double)v->bytes[LLMOBS_DIR_READ]);
	clock_format_rfc3339(v->since, when, sizeof(when));
	cJSON_AddStringToObject(o, "since", when);
	cJSON_AddItemToArray(k->arr, o);
	return true;
}

cJSON *conns_to_json(const char *state, long limit)
{
	cJSON *j = cJSON_CreateObject();
	struct collect k = {state, limit > 0 ? limit : DEFAULT_LIMIT,
	                    cJSON_AddArrayToObject(j, "connections")};
	conn_foreach(add, &k);
	cJSON_AddNumberToObject(j, "unparsed", (double)pstats.conns_unparsed);
	return j;
}
