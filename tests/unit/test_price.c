/* Call costs against bills computed by hand from each provider's published
 * rules (the rates are the shipped table's, daemon/llm/prices.json), usage
 * taken through the real decoders; price matching; bad price files. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "llm/price.h"
#include "llm/provider.h"

/* USD to a millionth of a cent: the sums below are exact in micro-dollars */
#define assert_usd(got, want) assert_true(fabs((got) - (want)) < 1e-9)

static void decode(struct llm_decode *d, enum provider_id p, const char *model, const char *event,
                   const char *body)
{
	memset(d, 0, sizeof(*d)); /* llm_decode_init frees what it finds */
	llm_decode_init(d, p);
	snprintf(d->model, sizeof(d->model), "%s", model);
	if (event)
		llm_decode_event(d, event, body, strlen(body));
	else
		llm_decode_response(d, body, strlen(body));
}

static struct call_cost cost_of(const struct llm_decode *d)
{
	struct call_cost c;
	prices_cost_of(d, &c);
	return c;
}

/* OpenAI: prompt_tokens include cached_tokens; cached ones are billed at
 * the cached rate, the rest at the input rate. gpt-4o: 2.50 / 1.25 / 10. */
static void test_openai_cached_input_is_not_counted_twice(void **state)
{
	(void)state;
	struct llm_decode d;
	decode(&d, PROVIDER_OPENAI, "gpt-4o", NULL,
	       "{\"model\":\"gpt-4o-2024-08-06\",\"choices\":[{\"message\":{\"content\":\"hi\"},"
	       "\"finish_reason\":\"stop\"}],\"usage\":{\"prompt_tokens\":10000,"
	       "\"completion_tokens\":500,\"prompt_tokens_details\":{\"cached_tokens\":4000}}}");
	struct call_cost c = cost_of(&d);
	assert_int_equal(c.why, PRICE_OK);
	assert_string_equal(c.price->id, "openai/gpt-4o");
	/* 6000 x 2.50 + 4000 x 1.25 + 500 x 10.00 = 25,000 micro-dollars */
	assert_usd(c.usd, 0.025);
	llm_decode_free(&d);
}

/* Reasoning tokens are part of completion_tokens and billed as output:
 * o4-mini 1.10 / 4.40; 200 in, 1000 out of which 800 reasoning. */
static void test_reasoning_is_output_once(void **state)
{
	(void)state;
	struct llm_decode d;
	decode(
	    &d, PROVIDER_OPENAI, "o4-mini", NULL,
	    "{\"model\":\"o4-mini-2025-04-16\",\"choices\":[{\"message\":{\"content\":\"x\"},"
	    "\"finish_reason\":\"stop\"}],\"usage\":{\"prompt_tokens\":200,\"completion_tokens\":"
	    "1000,\"completion_tokens_details\":{\"reasoning_tokens\":800}}}");
	struct call_cost c = cost_of(&d);
	assert_int_equal(c.why, PRICE_OK);
	assert_string_equal(c.price->id, "openai/o4-mini");
	assert_usd(c.usd, (200 * 1.10 + 1000 * 4.40) / 1e6);
	llm_decode_free(&d);
}

/* Anthropic bills input_tokens, cache reads and cache writes apart, writes
 * by TTL: Sonnet 4.5 3 / 0.30 read / 3.75 5m write / 6 1h write / 15. */
static void test_anthropic_reads_and_writes_at_their_rates(void **state)
{
	(void)state;
	struct llm_decode d;
	decode(&d, PROVIDER_ANTHROPIC, "claude-sonnet-4-5", "message_start",
	       "{\"type\":\"message_start\",\"message\":{\"model\":\"claude-sonnet-4-5-20250929\","
	       "\"usage\":{\"input_tokens\":100,\"cache_read_input_tokens\":20000,"
	       "\"cache_creation_input_tokens\":5000,\"cache_creation\":{"
	       "\"ephemeral_5m_input_tokens\":3000,\"ephemeral_1h_input_tokens\":2000},"
	       "\"output_tokens\":1}}}");
	const char *delta = "{\"type\":\"message_delta\",\"delta\":{\"stop_reason\":\"end_turn\"},"
	                    "\"usage\":{\"output_tokens\":800}}";
	llm_decode_event(&d, "message_delta", delta, strlen(delta));
	assert_int_equal(d.usage.input_tokens, 25100); /* normalised: reads and writes in */
	struct call_cost c = cost_of(&d);
	assert_int_equal(c.why, PRICE_OK);
	assert_string_equal(c.price->id, "anthropic/claude-sonnet-4-5");
	assert_false(c.long_context);
	/* 100 x 3 + 20000 x 0.30 + 3000 x 3.75 + 2000 x 6 + 800 x 15 = 41,550 */
	assert_usd(c.usd, 0.04155);
	llm_decode_free(&d);
}

/* Without the TTL breakdown every write is a 5-minute one (the default). */
static void test_anthropic_writes_default_to_five_minutes(void **state)
{
	(void)state;
	struct llm_decode d;
	decode(
	    &d, PROVIDER_ANTHROPIC, "claude-haiku-4-5", NULL,
	    "{\"type\":\"message\",\"model\":\"claude-haiku-4-5-20251001\",\"content\":[{\"type\":"
	    "\"text\",\"text\":\"ok\"}],\"stop_reason\":\"end_turn\",\"usage\":{\"input_tokens\":"
	    "1000,\"cache_creation_input_tokens\":4000,\"output_tokens\":10}}");
	struct call_cost c = cost_of(&d);
	assert_int_equal(c.why, PRICE_OK);
	/* Haiku 4.5: 1000 x 1 + 4000 x 1.25 + 10 x 5 = 6,050 */
	assert_usd(c.usd, 0.00605);
	llm_decode_free(&d);
}

/* Above 200K input tokens (reads and writes included) every token of the
 * call is billed at the long-context rates: 6 / 0.60 / 22.50. */
static void test_anthropic_long_context_counts_cache_reads(void **state)
{
	(void)state;
	struct llm_decode d;
	decode(
	    &d, PROVIDER_ANTHROPIC, "claude-sonnet-4-20250514", NULL,
	    "{\"type\":\"message\",\"content\":[],\"stop_reason\":\"end_turn\",\"usage\":{"
	    "\"input_tokens\":150000,\"cache_read_input_tokens\":60000,\"output_tokens\":1000}}");
	struct call_cost c = cost_of(&d);
	assert_int_equal(c.why, PRICE_OK);
	assert_true(c.long_context);
	assert_string_equal(c.price->id, "anthropic/claude-sonnet-4-0");
	/* 150000 x 6 + 60000 x 0.60 + 1000 x 22.50 = 958,500 */
	assert_usd(c.usd, 0.9585);
	/* at exactly 200K it is the base rate */
	d.usage.input_tokens = 200000;
	d.usage.cached_input_tokens = 0;
	c = cost_of(&d);
	assert_false(c.long_context);
	assert_usd(c.usd, (200000 * 3.0 + 1000 * 15.0) / 1e6);
	llm_decode_free(&d);
}

/* Gemini: promptTokenCount includes cachedContentTokenCount; thinking
 * tokens are billed as output. 2.5 Pro: 1.25 / 0.125 / 10, above 200K
 * prompt tokens 2.50 / 0.25 / 15. */
static void test_gemini_thinking_and_tiers(void **state)
{
	(void)state;
	struct llm_decode d;
	decode(
	    &d, PROVIDER_GEMINI, "gemini-2.5-pro", "",
	    "{\"candidates\":[{\"content\":{\"parts\":[{\"text\":\"a\"}]},\"finishReason\":"
	    "\"STOP\"}],\"usageMetadata\":{\"promptTokenCount\":1000,\"cachedContentTokenCount\":"
	    "400,\"candidatesTokenCount\":200,\"thoughtsTokenCount\":300},\"modelVersion\":"
	    "\"gemini-2.5-pro\"}");
	struct call_cost c = cost_of(&d);
	assert_int_equal(c.why, PRICE_OK);
	/* 600 x 1.25 + 400 x 0.125 + (200 + 300) x 10 = 5,800 */
	assert_usd(c.usd, 0.0058);
	d.usage.input_tokens = 250000;
	d.usage.cached_input_tokens = 0;
	d.usage.output_tokens = 100;
	c = cost_of(&d);
	assert_true(c.long_context);
	assert_usd(c.usd, (250000 * 2.50 + 100 * 15.0) / 1e6);
	llm_decode_free(&d);
}

static const struct price *match(const struct price_table *t, const char *prov, const char *m)
{
	return price_table_match(t, prov, m);
}

static struct price_table shipped(void)
{
	struct price_table t = {0};
	extern const char llm_prices_json[];
	char err[256];
	assert_int_equal(
	    price_table_add(&t, llm_prices_json, strlen(llm_prices_json), false, err, sizeof(err)),
	    0);
	return t;
}

static void test_the_most_specific_glob_wins(void **state)
{
	(void)state;
	struct price_table t = shipped();
	assert_string_equal(match(&t, "openai", "gpt-4o-mini-2024-07-18")->id,
	                    "openai/gpt-4o-mini");
	assert_string_equal(match(&t, "openai", "gpt-4o-2024-08-06")->id, "openai/gpt-4o");
	assert_string_equal(match(&t, "gcp.gemini", "gemini-2.5-flash-lite")->id,
	                    "gcp.gemini/gemini-2.5-flash-lite");
	assert_string_equal(match(&t, "gcp.gemini", "gemini-2.5-flash")->id,
	                    "gcp.gemini/gemini-2.5-flash");
	assert_string_equal(match(&t, "anthropic", "claude-opus-4-1-20250805")->id,
	                    "anthropic/claude-opus-4-1");
	assert_string_equal(match(&t, "anthropic", "claude-opus-4-20250514")->id,
	                    "anthropic/claude-opus-4-0");
	/* never a guess: a model the table does not name has no price */
	assert_null(match(&t, "openai", "gpt-4o-audio-preview"));
	assert_null(match(&t, "openai", "llama3.1:8b"));
	assert_null(match(&t, "anthropic", "gpt-4o")); /* the provider must agree */
	assert_null(match(&t, "openai", ""));
	price_table_free(&t);
}

static void test_every_shipped_price_names_its_source(void **state)
{
	(void)state;
	struct price_table t = shipped();
	assert_true(t.n >= 15);
	for (size_t i = 0; i < t.n; i++) {
		const struct price *p = &t.v[i];
		assert_true(!strncmp(p->source, "https://", 8));
		int y, m, d;
		assert_int_equal(sscanf(p->as_of, "%4d-%2d-%2d", &y, &m, &d), 3);
		assert_true(y >= 2025 && m >= 1 && m <= 12 && d >= 1 && d <= 31);
		assert_true(p->base.input > 0 && p->base.output > p->base.input);
		assert_true(p->base.cached_input >= 0 && p->base.cached_input < p->base.input);
		assert_false(p->user);
	}
	price_table_free(&t);
}

static void test_unpriced_calls_say_why(void **state)
{
	(void)state;
	struct llm_decode d;
	decode(&d, PROVIDER_OPENAI, "some-local-model", NULL,
	       "{\"choices\":[{\"message\":{\"content\":\"x\"},\"finish_reason\":\"stop\"}],"
	       "\"usage\":{\"prompt_tokens\":5,\"completion_tokens\":5}}");
	struct call_cost c = cost_of(&d);
	assert_int_equal(c.why, PRICE_NO_ENTRY);
	assert_null(c.price);
	assert_string_equal(price_unpriced_name(c.why), "no_price");
	llm_decode_free(&d);

	decode(&d, PROVIDER_OPENAI, "gpt-4.1", NULL,
	       "{\"choices\":[{\"message\":{\"content\":\"x\"},\"finish_reason\":\"stop\"}]}");
	c = cost_of(&d);
	assert_int_equal(c.why, PRICE_NO_USAGE);
	assert_string_equal(c.price->id, "openai/gpt-4.1");
	assert_string_equal(price_unpriced_name(c.why), "no_usage");
	llm_decode_free(&d);

	/* cache writes on an entry with no write rate: not priced, not guessed */
	struct price_table t = {0};
	char err[256];
	const char *f = "{\"prices\":[{\"provider\":\"anthropic\",\"models\":[\"m\"],"
	                "\"input\":1,\"output\":2}]}";
	assert_int_equal(price_table_add(&t, f, strlen(f), true, err, sizeof(err)), 0);
	struct llm_usage u = {.input_tokens = 10,
	                      .output_tokens = 1,
	                      .cached_input_tokens = -1,
	                      .cache_creation_input_tokens = 4,
	                      .cache_write_1h_tokens = -1,
	                      .reasoning_tokens = -1};
	price_cost(match(&t, "anthropic", "m"), &u, &c);
	assert_int_equal(c.why, PRICE_NO_RATE);
	u.cache_creation_input_tokens = 0;
	price_cost(match(&t, "anthropic", "m"), &u, &c);
	assert_int_equal(c.why, PRICE_OK);
	assert_usd(c.usd, (10 * 1.0 + 1 * 2.0) / 1e6);
	price_table_free(&t);
}

static void test_a_user_file_overrides_and_adds(void **state)
{
	(void)state;
	FILE *f = fopen("/tmp/llmobs-test-prices.json", "w");
	assert_non_null(f);
	fputs("{\"version\":1,\"prices\":["
	      "{\"provider\":\"openai\",\"models\":[\"gpt-4o\",\"gpt-4o-2*\"],\"input\":1,"
	      "\"cached_input\":0.5,\"output\":2,\"note\":\"negotiated\"},"
	      "{\"provider\":\"ollama\",\"models\":[\"*\"],\"input\":0,\"output\":0}]}",
	      f);
	fclose(f);
	char err[256];
	assert_int_equal(prices_load("/tmp/llmobs-test-prices.json", err, sizeof(err)), 0);
	struct llm_decode d;
	decode(&d, PROVIDER_OPENAI, "gpt-4o", NULL,
	       "{\"choices\":[{\"message\":{\"content\":\"x\"},\"finish_reason\":\"stop\"}],"
	       "\"usage\":{\"prompt_tokens\":1000,\"completion_tokens\":1000}}");
	struct call_cost c = cost_of(&d);
	assert_int_equal(c.why, PRICE_OK);
	assert_true(c.price->user);
	assert_usd(c.usd, (1000 * 1.0 + 1000 * 2.0) / 1e6);
	llm_decode_free(&d);
	decode(&d, PROVIDER_OLLAMA, "llama3.1:8b", NULL,
	       "{\"model\":\"llama3.1:8b\",\"message\":{\"content\":\"x\"},\"done\":true,"
	       "\"prompt_eval_count\":12,\"eval_count\":30}");
	c = cost_of(&d);
	assert_int_equal(c.why, PRICE_OK);
	assert_usd(c.usd, 0);
	llm_decode_free(&d);
	/* a bad file leaves the table as it was */
	f = fopen("/tmp/llmobs-test-prices.json", "w");
	fputs("{\"prices\":[{\"provider\":\"openai\",\"models\":[\"gpt-4o\"],\"input\":-1,"
	      "\"output\":1}]}",
	      f);
	fclose(f);
	assert_int_equal(prices_load("/tmp/llmobs-test-prices.json", err, sizeof(err)), -1);
	assert_non_null(strstr(err, "openai/gpt-4o"));
	assert_non_null(strstr(err, "\"input\""));
	decode(&d, PROVIDER_OLLAMA, "llama3.1:8b", NULL,
	       "{\"model\":\"llama3.1:8b\",\"message\":{\"content\":\"x\"},\"done\":true,"
	       "\"prompt_eval_count\":12,\"eval_count\":30}");
	assert_int_equal(cost_of(&d).why, PRICE_OK);
	llm_decode_free(&d);
	assert_int_equal(prices_load("/nonexistent/prices.json", err, sizeof(err)), -1);
	assert_non_null(strstr(err, "No such file"));
	remove("/tmp/llmobs-test-prices.json");
	prices_free();
}

static void bad(const char *json, const char *want)
{
	struct price_table t = {0};
	char err[256] = "";
	assert_int_equal(price_table_add(&t, json, strlen(json), true, err, sizeof(err)), -1);
	if (!strstr(err, want))
		fail_msg("error \"%s\" lacks \"%s\"", err, want);
	assert_int_equal(t.n, 0);
}

static void test_bad_files_name_the_entry(void **state)
{
	(void)state;
	bad("{\"prices\":[", "not valid JSON");
	bad("{}", "\"prices\" array");
	bad("{\"version\":2,\"prices\":[]}", "version");
	bad("{\"prices\":[1]}", "#1");
	bad("{\"prices\":[{\"models\":[\"a\"],\"input\":1,\"output\":1}]}", "\"provider\"");
	bad("{\"prices\":[{\"provider\":\"openai\",\"models\":[],\"input\":1,\"output\":1}]}",
	    "\"models\"");
	bad("{\"prices\":[{\"provider\":\"openai\",\"models\":[\"a\"],\"input\":1,\"output\":1},"
	    "{\"provider\":\"openai\",\"models\":[\"b\"],\"input\":1,\"ouput\":1}]}",
	    "#2 (openai/b): unknown key \"ouput\"");
	bad("{\"prices\":[{\"provider\":\"openai\",\"models\":[\"a\"],\"input\":\"1\",\"output\":1}"
	    "]}",
	    "\"input\" must be a number");
	bad("{\"prices\":[{\"provider\":\"openai\",\"models\":[\"a\"],\"input\":1,\"output\":1,"
	    "\"long_context\":{\"input\":2}}]}",
	    "above_input_tokens");
	/* shipped entries must say where their price comes from */
	struct price_table t = {0};
	char err[256];
	const char *nosrc = "{\"prices\":[{\"provider\":\"openai\",\"models\":[\"a\"],\"input\":1,"
	                    "\"output\":1}]}";
	assert_int_equal(price_table_add(&t, nosrc, strlen(nosrc), false, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "source"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_openai_cached_input_is_not_counted_twice),
	    cmocka_unit_test(test_reasoning_is_output_once),
	    cmocka_unit_test(test_anthropic_reads_and_writes_at_their_rates),
	    cmocka_unit_test(test_anthropic_writes_default_to_five_minutes),
	    cmocka_unit_test(test_anthropic_long_context_counts_cache_reads),
	    cmocka_unit_test(test_gemini_thinking_and_tiers),
	    cmocka_unit_test(test_the_most_specific_glob_wins),
	    cmocka_unit_test(test_every_shipped_price_names_its_source),
	    cmocka_unit_test(test_unpriced_calls_say_why),
	    cmocka_unit_test(test_a_user_file_overrides_and_adds),
	    cmocka_unit_test(test_bad_files_name_the_entry),
	};
	int rc = cmocka_run_group_tests(tests, NULL, NULL);
	prices_free();
	return rc;
}
