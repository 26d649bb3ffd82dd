/* Human formatting of durations, sizes and table cells. */
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "cli.h"

void fmt_ms(double ms, bool known, char *out, size_t n)
{
	if (!known || ms < 0)
		snprintf(out, n, "-");
	else if (ms < 1000)
		snprintf(out, n, "%.0fms", ms);
	else if (ms < 60000)
		snprintf(out, n, "%.1fs", ms / 1000);
	else if (ms < 3600000)
		snprintf(out, n, "%dm%02ds", (int)(ms / 60000), (int)fmod(ms / 1000, 60));
	else
		snprintf(out, n, "%dh%02dm", (int)(ms / 3600000), (int)fmod(ms / 60000, 60));
}

void fmt_bytes(double b, char *out, size_t n)
{
	static const char *const units[] = {"KiB", "MiB", "GiB", "TiB"};
	if (b < 1024) {
		snprintf(out, n, "%.0f B", b);
		return;
	}
	int u = -1;
	while (b >= 1024 && u < 3) {
		b /= 1024;
		u++;
	}
	snprintf(out, n, "%.1f %s", b, units[u]);
}

void fmt_rate(double v, bool known, char *out, size_t n)
{
	if (!known || v < 0)
		snprintf(out, n, "-");
	else
		snprintf(out, n, "%.1f", v);
}

/* Never cuts inside a UTF-8 sequence; one column per code point. */
void fmt_fit(const char *s, size_t width, char *out, size_t n)
{
	size_t cols = 0, i = 0, o = 0;
	while (s[i] && cols < width) {
		size_t len = 1;
		unsigned char c = (unsigned char)s[i];
		if (c >= 0xF0)
			len = 4;
		else if (c >= 0xE0)
			len = 3;
		else if (c >= 0xC0)
			len = 2;
		if (o + len >= n)
			break;
		for (size_t k = 0; k < len && s[i]; k++)
			out[o++] = s[i++];
		cols++;
	}
	out[o] = '\0';
}

const char *json_str(const cJSON *o, const char *k, const char *dflt)
{
	const cJSON *v = o ? cJSON_GetObjectItemCaseSensitive(o, k) : NULL;
	return cJSON_IsString(v) && v->valuestring ? v->valuestring : dflt;
}

bool json_num(const cJSON *o, const char *k, double *out)
{
	const cJSON *v = o ? cJSON_GetObjectItemCaseSensitive(o, k) : NULL;
	if (!cJSON_IsNumber(v))
		return false;
	*out = v->valuedouble;
	return true;
}

/* Local time: the time of day alone for today's, the date first otherwise. */
void fmt_when(const char *s, char *out, size_t n)
{
	struct tm tm = {0}, now_tm, at;
	if (!s || sscanf(s, "%4d-%2d-%2dT%2d:%2d:%2d", &tm.tm_year, &tm.tm_mon, &tm.tm_mday,
	                 &tm.tm_hour, &tm.tm_min, &tm.tm_sec) != 6) {
		fmt_fit(s ? s : "-", 16, out, n);
		return;
	}
	tm.tm_year -= 1900;
	tm.tm_mon -= 1;
	time_t t = timegm(&tm), now = time(NULL);
	localtime_r(&t, &at);
	localtime_r(&now, &now_tm);
	bool today = at.tm_year == now_tm.tm_year && at.tm_yday == now_tm.tm_yday;
	strftime(out, n, today ? "%H:%M:%S" : "%Y-%m-%d %H:%M", &at);
}

void fmt_usd(double usd, bool known, char *out, size_t n)
{
	if (!known || usd < 0)
		snprintf(out, n, "-");
	else if (usd == 0)
		snprintf(out, n, "$0");
	else if (usd >= 0.0001)
		snprintf(out, n, "$%.4f", usd);
	else if (usd >= 0.000001) /* one short call: $0.0000 would read as free */
		snprintf(out, n, "$%.6f", usd);
	else
		snprintf(out, n, "<$0.000001");
}

void fmt_count(double v, bool known, char *out, size_t n)
{
	if (!known || v < 0)
		snprintf(out, n, "-");
	else
		snprintf(out, n, "%.0f", v);
}

/* One column per code point, as fmt_fit counts them. */
size_t fmt_cols(const char *s)
{
	size_t cols = 0;
	for (; *s; s++)
		cols += ((unsigned char)*s & 0xC0) != 0x80;
	return cols;
}
