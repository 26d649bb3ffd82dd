#include "api/windows.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/history.h"
#include "sinks/store.h"
#include "sinks/window.h"

#define DEFAULT_RANGE_MS (3600ll * 1000)
#define HOURS_ABOVE_MS   (48ll * 3600 * 1000) /* step=all over more: hour windows */

static int64_t ceil_to(int64_t t, int64_t step)
{
	int64_t f = window_floor(t, step);
	return f == t ? t : f + step;
}

/* step: "1m", "5m", "1h", "90s" is refused (whole minutes only), "all". */
static int64_t parse_step(const char *s)
{
	if (!s)
		return WINDOW_MINUTE_MS;
	if (!strcmp(s, "all"))
		return 0;
	int64_t ms = store_parse_duration_ms(s);
	if (ms < WINDOW_MINUTE_MS || ms % WINDOW_MINUTE_MS)
		return -1;
	return ms;
}

static void add_row(void *ctx, int64_t start_ms, const struct window_key *k,
                    const struct window_stats *st)
{
	window_series_add(ctx, start_ms, k, st);
}

static cJSON *fail(unsigned *status, unsigned code, char *err, size_t errlen, const char *msg)
{
	*status = code;
	snprintf(err, errlen, "%s", msg);
	return NULL;
}

cJSON *windows_get(api_arg_fn arg, void *ctx, unsigned *status, char *err, size_t errlen)
{
	const char *from_s = arg(ctx, "from"), *to_s = arg(ctx, "to");
	long long to = to_s ? history_parse_time(to_s) : history_parse_time("0s");
	long long from = from_s ? history_parse_time(from_s) : to - DEFAULT_RANGE_MS;
	if (from < 0 || to < 0)
		return fail(status, 400, err, errlen,
		            "from and to are Unix ms, RFC 3339 UTC times (2026-12-05T10:00:00Z) "
		            "or durations before now (90m, 24h, 7d)");
	if (from >= to)
		return fail(status, 400, err, errlen, "from must be before to");
	int64_t step = parse_step(arg(ctx, "step"));
	if (step < 0)
		return fail(status, 400, err, errlen,
		            "step is whole minutes or hours (1m, 5m, 1h, 1d) or all");

	struct window_series s = {.step_ms = step};
	const char *gb = arg(ctx, "group_by");
	if (gb && *gb) {
		char *list = strdup(gb), *save = NULL;
		for (char *f = strtok_r(list, ",", &save); f; f = strtok_r(NULL, ",", &save)) {
			int field = window_field_parse(f);
			if (field < 0) {
				snprintf(
				    err, errlen,
				    "group_by: unknown field '%.64s' (provider, model, operation, "
				    "endpoint, comm, container, tenant)",
				    f);
				free(list);
				*status = 400;
				return NULL;
			}
			s.group_by |= 1u << field;
		}
		free(list);
	}
	struct window_query q = {0};
	for (int f = 0; f < WF_N; f++) {
		const char *v = arg(ctx, window_field_names[f]);
		if (!v && f == WF_ENDPOINT)
			v = arg(ctx, "route");
		if (!v)
			continue;
		size_t cap;
		char *dst = window_key_field_mut(&q.filter, f, &cap);
		if (strlen(v) >= cap)
			return fail(status, 400, err, errlen, "a filter is longer than its field");
		memcpy(dst, v, strlen(v) + 1);
	}
	/* hour windows when the step is hours, or one window over days */
	q.step_ms = (step && step % WINDOW_HOUR_MS == 0) || (!step && to - from > HOURS_ABOVE_MS)
	                ? WINDOW_HOUR_MS
	                : WINDOW_MINUTE_MS;
	q.from_ms = window_floor(from, step ? step : q.step_ms);
	q.to_ms = ceil_to(to, step ? step : q.step_ms);
	if (step && (q.to_ms - q.from_ms) / step > WINDOWS_MAX_STEPS)
		return fail(status, 400, err, errlen,
		            "more than 10000 windows: a larger step or a shorter range");
	s.from_ms = q.from_ms;
	s.to_ms = q.to_ms;
	if (store_windows(&q, add_row, &s, err, errlen)) {
		*status = store_enabled() ? 500 : 503;
		window_series_free(&s);
		return NULL;
	}
	cJSON *j = window_series_json(&s);
	window_series_free(&s);
	*status = 200;
	return j;
}
