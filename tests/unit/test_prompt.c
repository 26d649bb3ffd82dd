/* The prompt text of request bodies: every API's message shapes, the
 * pieces that are not text skipped, bodies that are not JSON objects, and
 * the bound (the newest 32 KiB kept from a character boundary, the rest
 * counted). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "llm/prompt.h"

/* JSON written with ' for " (the texts here have no apostrophes) */
static char *q(const char *s)
{
	char *j = strdup(s);
	assert_non_null(j);
	for (char *c = j; *c; c++)
		if (*c == '\'')
			*c = '"';
	return j;
}

static void expect(enum provider_id api, const char *body, const char *text)
{
	struct llm_prompt p;
	llm_prompt_init(&p);
	char *j = q(body);
	assert_int_equal(llm_prompt_extract(&p, api, j, strlen(j)), 0);
	assert_non_null(p.text.data);
	assert_string_equal(p.text.data, text);
	assert_int_equal(p.text.len, strlen(text));
	assert_int_equal(p.cut, 0);
	free(j);
	llm_prompt_free(&p);
}

static void test_openai_chat(void **state)
{
	(void)state;
	/* string and part contents; image, audio and refusal parts, an
	 * assistant turn of only tool calls and empty strings are no text;
	 * newlines inside a text stay as they are */
	expect(PROVIDER_OPENAI,
	       "{'model':'gpt-4o','messages':["
	       "{'role':'system','content':'You are terse.'},"
	       "{'role':'developer','content':''},"
	       "{'role':'user','content':[{'type':'text','text':'What is in'},"
	       "{'type':'image_url','image_url':{'url':'data:image/png;base64,AAAA'}},"
	       "{'type':'input_audio','input_audio':{'data':'UklG','format':'wav'}},"
	       "{'type':'text','text':'this picture?\\nBe brief.'},{'type':'text','text':''}]},"
	       "{'role':'assistant','content':null,'tool_calls':[{'id':'c1','type':'function',"
	       "'function':{'name':'look','arguments':'{\\'x\\':1}'}}]},"
	       "{'role':'tool','tool_call_id':'c1','content':'a cat'},"
	       "{'role':'tool','tool_call_id':'c2','content':[{'type':'text','text':'a dog'}]},"
	       "{'role':'assistant','content':[{'type':'refusal','refusal':'no'},"
	       "{'type':'text','text':'A cat and a dog.'}]},"
	       "{'role':'user','content':'Th\\u00e9 names?'}]}",
	       "system: You are terse.\n"
	       "user: What is in\n"
	       "user: this picture?\nBe brief.\n"
	       "tool: a cat\n"
	       "tool: a dog\n"
	       "assistant: A cat and a dog.\n"
	       "user: Th\xc3\xa9 names?\n");
	/* legacy /v1/completions: a string, or an array of strings (token ids
	 * are not text) */
	expect(PROVIDER_OPENAI, "{'model':'gpt-3.5-turbo-instruct','prompt':'Say this is a test'}",
	       "user: Say this is a test\n");
	expect(PROVIDER_OPENAI, "{'prompt':['one','',2,'two'],'max_tokens':5}",
	       "user: one\nuser: two\n");
	expect(PROVIDER_OPENAI, "{'prompt':[1,2,3]}", "");
	/* an unknown API is read as Chat Completions */
	expect(PROVIDER_UNKNOWN,
	       "{'messages':[{'role':'user','content':'hi'},{'content':'no role'}]}",
	       "user: hi\nuser: no role\n");
	/* no messages at all, or messages of another shape */
	expect(PROVIDER_OPENAI, "{'model':'m'}", "");
	expect(PROVIDER_OPENAI, "{'messages':{'role':'user','content':'x'}}", "");
	expect(PROVIDER_OPENAI, "{'messages':[1,'x',null,{'role':'user','content':{'text':'x'}}]}",
	       "");
}

static void test_openai_responses(void **state)
{
	(void)state;
	expect(PROVIDER_OPENAI_RESPONSES,
	       "{'model':'gpt-5','instructions':'Talk like a pirate.','input':'Are semicolons "
	       "optional?'}",
	       "system: Talk like a pirate.\nuser: Are semicolons optional?\n");
	/* items: messages with string or part contents, tool outputs; the
	 * model's function calls, reasoning and images are not text */
	expect(PROVIDER_OPENAI_RESPONSES,
	       "{'instructions':'Be exact.','input':["
	       "{'role':'developer','content':'Use metric units.'},"
	       "{'type':'message','role':'user','content':[{'type':'input_text','text':'How far?'},"
	       "{'type':'input_image','image_url':'https://x/y.png'},"
	       "{'type':'input_file','file_id':'f1'}]},"
	       "{'type':'reasoning','id':'rs1','summary':[{'type':'summary_text','text':'think'}]},"
	       "{'type':'function_call','call_id':'c1','name':'dist','arguments':'{}'},"
	       "{'type':'function_call_output','call_id':'c1','output':'42 km'},"
	       "{'type':'message','role':'assistant','content':[{'type':'output_text',"
	       "'text':'It is 42 km.','annotations':[]}]},"
	       "{'role':'user','content':[{'type':'text','text':'And back?'}]},"
	       "{'type':'function_call_output','call_id':'c2','output':''},"
	       "{'type':'item_reference','id':'msg_1'}]}",
	       "system: Be exact.\n"
	       "developer: Use metric units.\n"
	       "user: How far?\n"
	       "tool: 42 km\n"
	       "assistant: It is 42 km.\n"
	       "user: And back?\n");
	expect(PROVIDER_OPENAI_RESPONSES, "{'model':'gpt-5','previous_response_id':'r1'}", "");
}

static void test_anthropic(void **state)
{
	(void)state;
	expect(PROVIDER_ANTHROPIC,
	       "{'model':'claude-sonnet-4-5','max_tokens':1024,'system':'You are a poet.',"
	       "'messages':[{'role':'user','content':'Hello, Claude'}]}",
	       "system: You are a poet.\nuser: Hello, Claude\n");
	/* system blocks; text, tool_use, tool_result (string and blocks),
	 * image, document and thinking blocks */
	expect(
	    PROVIDER_ANTHROPIC,
	    "{'system':[{'type':'text','text':'You are Claude Code.'},"
	    "{'type':'text','text':'Be careful.','cache_control':{'type':'ephemeral'}}],"
	    "'messages':["
	    "{'role':'user','content':[{'type':'image','source':{'type':'base64',"
	    "'media_type':'image/png','data':'iVBO'}},"
	    "{'type':'document','source':{'type':'text','media_type':'text/plain','data':'doc'}},"
	    "{'type':'text','text':'List the files.'}]},"
	    "{'role':'assistant','content':[{'type':'thinking','thinking':'hmm','signature':'s'},"
	    "{'type':'text','text':'Let me look.'},"
	    "{'type':'tool_use','id':'tu1','name':'ls','input':{'path':'.'}}]},"
	    "{'role':'user','content':[{'type':'tool_result','tool_use_id':'tu1',"
	    "'content':'a.c\\nb.c'},"
	    "{'type':'tool_result','tool_use_id':'tu2','is_error':true,'content':["
	    "{'type':'text','text':'no such file'},"
	    "{'type':'image','source':{'type':'base64','media_type':'image/png','data':'x'}}]},"
	    "{'type':'tool_result','tool_use_id':'tu3'},"
	    "{'type':'text','text':'Thanks.'}]}]}",
	    "system: You are Claude Code.\n"
	    "system: Be careful.\n"
	    "user: List the files.\n"
	    "assistant: Let me look.\n"
	    "tool: a.c\nb.c\n"
	    "tool: no such file\n"
	    "user: Thanks.\n");
}

static void test_gemini(void **state)
{
	(void)state;
	expect(PROVIDER_GEMINI,
	       "{'systemInstruction':{'parts':[{'text':'You are a cat.'},{'text':'Your name is "
	       "Neko.'}]},"
	       "'contents':[{'role':'user','parts':[{'text':'Hello there'},"
	       "{'inlineData':{'mimeType':'image/jpeg','data':'/9j/'}}]},"
	       "{'role':'model','parts':[{'text':'pondering','thought':true},"
	       "{'functionCall':{'name':'purr','args':{}}},{'text':'Meow.'}]},"
	       "{'role':'user','parts':[{'functionResponse':{'name':'purr','response':{}}}]},"
	       "{'parts':[{'text':'What is your name?'}]}],"
	       "'generationConfig':{'temperature':0.5}}",
	       "system: You are a cat.\n"
	       "system: Your name is Neko.\n"
	       "user: Hello there\n"
	       "model: Meow.\n"
	       "user: What is your name?\n");
	/* the REST API's snake_case spelling */
	expect(PROVIDER_GEMINI,
	       "{'system_instruction':{'parts':[{'text':'Be brief.'}]},"
	       "'contents':[{'role':'user','parts':[{'text':'Hi'}]}]}",
	       "system: Be brief.\nuser: Hi\n");
}

static void test_ollama(void **state)
{
	(void)state;
	expect(PROVIDER_OLLAMA,
	       "{'model':'llama3.2','messages':[{'role':'system','content':'Answer in French.'},"
	       "{'role':'user','content':'why is the sky blue?','images':['iVBO']},"
	       "{'role':'assistant','content':'','tool_calls':[{'function':{'name':'f',"
	       "'arguments':{}}}]},"
	       "{'role':'tool','content':'22 degrees'}],'stream':false}",
	       "system: Answer in French.\n"
	       "user: why is the sky blue?\n"
	       "tool: 22 degrees\n");
	expect(PROVIDER_OLLAMA,
	       "{'model':'llama3.2','system':'You are Mario.','prompt':'Why is the sky blue?',"
	       "'images':['iVBO']}",
	       "system: You are Mario.\nuser: Why is the sky blue?\n");
}

static void test_realtime(void **state)
{
	(void)state;
	/* its prompts are WebSocket events: the (upgrade) request has none */
	expect(PROVIDER_OPENAI_REALTIME, "{'messages':[{'role':'user','content':'hi'}]}", "");
	struct llm_prompt p;
	llm_prompt_init(&p);
	assert_int_equal(llm_prompt_extract(&p, PROVIDER_OPENAI_REALTIME, "", 0), 0);
	assert_string_equal(p.text.data, "");
	llm_prompt_free(&p);
}

static void test_not_json(void **state)
{
	(void)state;
	static const char *bad[] = {
	    "",
	    "not json",
	    "{\"messages\":[",
	    "[{\"role\":\"user\",\"content\":\"hi\"}]",
	    "\"a string\"",
	    "null",
	    "42",
	};
	struct llm_prompt p;
	llm_prompt_init(&p);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		/* each after a good one: the old text does not survive */
		const char *good = "{\"prompt\":\"old\"}";
		assert_int_equal(llm_prompt_extract(&p, PROVIDER_OPENAI, good, strlen(good)), 0);
		assert_string_equal(p.text.data, "user: old\n");
		assert_int_equal(llm_prompt_extract(&p, PROVIDER_ANTHROPIC, bad[i], strlen(bad[i])),
		                 -1);
		assert_non_null(p.text.data);
		assert_string_equal(p.text.data, "");
		assert_int_equal(p.text.len, 0);
		assert_int_equal(p.cut, 0);
	}
	/* the length bounds the parse: a valid object past n is not read */
	const char *body = "{\"prompt\":\"x\"}";
	assert_int_equal(llm_prompt_extract(&p, PROVIDER_OPENAI, body, 5), -1);
	assert_int_equal(llm_prompt_extract(&p, PROVIDER_GEMINI, NULL, 0), -1);
	llm_prompt_free(&p);
	/* freeing twice is fine */
	llm_prompt_free(&p);
}

/* A Chat body of messages: an old one of `old` bytes of 'o', then a user
 * message of `reps` copies of the character `ch`. */
static char *body_with(size_t old, const char *ch, size_t reps, size_t *len)
{
	size_t cl = strlen(ch);
	char *b = malloc(old + cl * reps + 128);
	assert_non_null(b);
	size_t n = (size_t)sprintf(b, "{\"messages\":[{\"role\":\"user\",\"content\":\"");
	memset(b + n, 'o', old);
	n += old;
	n += (size_t)sprintf(b + n, "\"},{\"role\":\"assistant\",\"content\":\"");
	for (size_t i = 0; i < reps; i++, n += cl)
		memcpy(b + n, ch, cl);
	n += (size_t)sprintf(b + n, "\"}]}");
	*len = n;
	return b;
}

/* every byte of s[0..n) is a whole copy of ch, from the first */
static void all_chars(const char *s, size_t n, const char *ch)
{
	size_t cl = strlen(ch);
	assert_int_equal(n % cl, 0);
	for (size_t i = 0; i < n; i += cl)
		assert_memory_equal(s + i, ch, cl);
}

static void test_keeps_the_newest(void **state)
{
	(void)state;
	struct llm_prompt p;
	llm_prompt_init(&p);
	/* 40 000 'o' then 8 200 four-byte characters: "user: " 6 + 40 000 + 1,
	 * "assistant: " 11 + 32 800 + 1 = 72 819 bytes; the last 32 768 start
	 * at 40 051, one byte into the ninth character (from 40 018): its three
	 * continuation bytes are dropped, nothing of the old message is left */
	const char *emoji = "\xf0\x9f\x98\x80";
	size_t n;
	char *b = body_with(40000, emoji, 8200, &n);
	assert_int_equal(llm_prompt_extract(&p, PROVIDER_OPENAI, b, n), 0);
	size_t full = 6 + 40000 + 1 + 11 + 32800 + 1;
	size_t from = full - LLM_PROMPT_KEEP; /* 40 051 */
	size_t start = 6 + 40000 + 1 + 11;    /* 40 018: the first emoji */
	assert_int_equal((from - start) % 4, 1);
	size_t kept = LLM_PROMPT_KEEP - 3;
	assert_int_equal(p.text.len, kept);
	assert_int_equal(p.cut, full - kept);
	assert_int_equal(p.text.len + p.cut, full);
	assert_int_equal(strlen(p.text.data), kept);
	all_chars(p.text.data, kept - 1, emoji);
	assert_int_equal(p.text.data[kept - 1], '\n');
	free(b);

	/* the cut in a two-byte character, and the older message partly kept */
	const char *e_acute = "\xc3\xa9";
	b = body_with(20000, e_acute, 7000, &n);
	assert_int_equal(llm_prompt_extract(&p, PROVIDER_OPENAI, b, n), 0);
	full = 6 + 20000 + 1 + 11 + 14000 + 1; /* 34 019: the last 32 768 from 1 251 */
	assert_int_equal(p.text.len, LLM_PROMPT_KEEP);
	assert_int_equal(p.cut, full - LLM_PROMPT_KEEP);
	assert_int_equal(p.text.data[0], 'o');
	const char *nl = strchr(p.text.data, '\n');
	assert_non_null(nl);
	assert_int_equal(nl - p.text.data, 20000 - (1251 - 6));
	assert_memory_equal(nl + 1, "assistant: \xc3\xa9", 13);
	free(b);

	/* the cut on the last byte of a three-byte character: one dropped */
	const char *euro = "\xe2\x82\xac";
	b = body_with(1, euro, 11000, &n); /* "user: o\n" 8 + 11 + 33 000 + 1 = 33 020 */
	assert_int_equal(llm_prompt_extract(&p, PROVIDER_OPENAI, b, n), 0);
	full = 8 + 11 + 33000 + 1;
	from = full - LLM_PROMPT_KEEP; /* 252 = 19 + 3 * 77 + 2 */
	assert_int_equal((from - 19) % 3, 2);
	assert_int_equal(p.text.len, LLM_PROMPT_KEEP - 1);
	assert_int_equal(p.cut, from + 1);
	all_chars(p.text.data, p.text.len - 1, euro);
	free(b);
	llm_prompt_free(&p);
}

static void test_huge_body(void **state)
{
	(void)state;
	/* 5 MiB of three-byte characters, then a late message: collection
	 * stops at 4 MiB (inside a character, which is not kept half), the
	 * late message is counted, never kept */
	const char *euro = "\xe2\x82\xac";
	size_t reps = (5u << 20) / 3;
	size_t cl = 3, n = 0;
	char *b = malloc(reps * cl + 256);
	assert_non_null(b);
	n += (size_t)sprintf(b, "{\"messages\":[{\"role\":\"user\",\"content\":\"");
	for (size_t i = 0; i < reps; i++, n += cl)
		memcpy(b + n, euro, cl);
	n += (size_t)sprintf(b + n, "\"},{\"role\":\"assistant\",\"content\":\"late\"}]}");
	struct llm_prompt p;
	llm_prompt_init(&p);
	assert_int_equal(llm_prompt_extract(&p, PROVIDER_OPENAI, b, n), 0);
	uint64_t full = 6 + 3 * (uint64_t)reps + 1 + strlen("assistant: late\n");
	/* collected: 4 MiB, less the one byte of a split character; kept: its
	 * last 32 768 less the two continuation bytes at their start */
	size_t collected = (4u << 20) - 1;
	assert_int_equal((collected - 6) % 3, 0);
	assert_int_equal((collected - LLM_PROMPT_KEEP - 6) % 3, 1);
	assert_int_equal(p.text.len, LLM_PROMPT_KEEP - 2);
	assert_int_equal(p.cut, full - (LLM_PROMPT_KEEP - 2));
	all_chars(p.text.data, p.text.len, euro);
	assert_null(strstr(p.text.data, "late"));
	free(b);

	/* an ASCII body: exactly the first 4 MiB collected, the last 32 KiB
	 * of them kept */
	size_t big = 5u << 20;
	b = malloc(big + 64);
	assert_non_null(b);
	n = (size_t)sprintf(b, "{\"prompt\":\"");
	memset(b + n, 'a', big);
	n += big;
	n += (size_t)sprintf(b + n, "\"}");
	assert_int_equal(llm_prompt_extract(&p, PROVIDER_OLLAMA, b, n), 0);
	assert_int_equal(p.text.len, LLM_PROMPT_KEEP);
	assert_int_equal(p.cut, 6 + (uint64_t)big + 1 - LLM_PROMPT_KEEP);
	assert_int_equal(strspn(p.text.data, "a"), LLM_PROMPT_KEEP);
	free(b);

	/* the struct is reused: a small prompt after a cut one */
	const char *small = "{\"prompt\":\"hi\"}";
	assert_int_equal(llm_prompt_extract(&p, PROVIDER_OLLAMA, small, strlen(small)), 0);
	assert_string_equal(p.text.data, "user: hi\n");
	assert_int_equal(p.cut, 0);
	assert_int_equal(p.text.cut, 0);
	llm_prompt_free(&p);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_openai_chat), cmocka_unit_test(test_openai_responses),
	    cmocka_unit_test(test_anthropic),   cmocka_unit_test(test_gemini),
	    cmocka_unit_test(test_ollama),      cmocka_unit_test(test_realtime),
	    cmocka_unit_test(test_not_json),    cmocka_unit_test(test_keeps_the_newest),
	    cmocka_unit_test(test_huge_body),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
