/* Blind-spot tracking (capture/blind.c) driven by synthetic records, as
 * BPF and the capture loop would hand them over: a ClientHello on a socket
 * followed by an SSL call on it (or, with memory BIOs, on no known fd) is
 * seen; one followed by nothing for the window, or by the process's exit,
 * is blind, with the reason its executable and mappings give. Also the
 * cheap guess of a file's TLS stack (capture/stack_guess.c). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "capture/blind.h"
#include "capture/proc_exe.h"
#include "capture/stack_guess.h"

#define SEC 1000000000ull

/* What the fake /proc says about each test process. */
struct fake_proc {
	uint32_t tgid;
	enum stack_guess stack;
	bool probed;
	bool gone;
	uint64_t ino;
	uint64_t attached_ns; /* when its probed file was attached */
	bool exe_probed;      /* that file is its executable */
	const char *refused;  /* why discovery refused its executable */
	bool locating;        /* discovery has a report of it in hand */
	bool dismissed;       /* discovery found no stack it probes in its executable */
};

static struct fake_proc fakes[8];
static unsigned nfakes;

static void fake(uint32_t tgid, enum stack_guess stack, bool probed)
{
	fakes[nfakes++] =
	    (struct fake_proc){.tgid = tgid, .stack = stack, .probed = probed, .ino = 1000 + tgid};
}

static const struct fake_proc *find_fake(uint32_t tgid)
{
	for (unsigned i = 0; i < nfakes; i++)
		if (fakes[i].tgid == tgid)
			return &fakes[i];
	return NULL;
}

static bool fake_exe(uint32_t tgid, uint64_t dev, uint64_t ino, struct blind_exe *out)
{
	(void)dev;
	(void)ino;
	const struct fake_proc *f = find_fake(tgid);
	if (!f || f->gone)
		return false;
	snprintf(out->path, sizeof(out->path), "/opt/bin/prog%u", tgid);
	out->dev = 8;
	out->ino = f->ino;
	out->stack = f->stack;
	return true;
}

static void fake_probed(uint32_t tgid, uint64_t dev, uint64_t ino, struct blind_probed *out)
{
	(void)dev;
	(void)ino;
	memset(out, 0, sizeof(*out));
	const struct fake_proc *f = find_fake(tgid);
	if (f && f->refused)
		snprintf(out->refused, sizeof(out->refused), "%s", f->refused);
	out->locating = f && f->locating;
	out->located = f && (f->refused || f->exe_probed || f->dismissed);
	if (!f || !f->probed)
		return;
	out->any = true;
	out->last_ns = f->attached_ns;
	out->exe = f->exe_probed;
	if (out->exe) {
		snprintf(out->file.path, sizeof(out->file.path), "/opt/bin/probed%u", tgid);
		out->file.ino = f->ino;
		out->file.stack = f->stack;
	}
}

static bool fake_locating(uint32_t tgid)
{
	const struct fake_proc *f = find_fake(tgid);
	return f && f->locating;
}

static int setup(void **state)
{
	(void)state;
	nfakes = 0;
	blind_free();
	struct blind_env env = {.exe = fake_exe, .probed = fake_probed, .locating = fake_locating};
	blind_init(&env);
	return 0;
}

static void hello_port(uint32_t tgid, int32_t fd, uint64_t ts, uint16_t port)
{
	struct llmobs_event ev = {0};
	ev.type = LLMOBS_EV_TLS_HELLO;
	ev.tgid = ev.tid = tgid;
	ev.fd = fd;
	ev.ts_ns = ts;
	snprintf(ev.comm, sizeof(ev.comm), "prog%u", tgid);
	ev.family = AF_INET;
	ev.port = htons(port);
	inet_pton(AF_INET, "127.0.0.1", ev.addr);
	blind_hello(&ev);
}

static void hello(uint32_t tgid, int32_t fd, uint64_t ts)
{
	hello_port(tgid, fd, ts, 443);
}

static uint64_t count(enum unobserved_reason r)
{
	uint64_t c[UNOBS__MAX];
	blind_counts(c);
	return c[r];
}

static uint64_t total(void)
{
	uint64_t c[UNOBS__MAX], n = 0;
	blind_counts(c);
	for (unsigned i = 0; i < UNOBS__MAX; i++)
		n += c[i];
	return n;
}

/* The listed processes (caller frees the returned object). */
static cJSON *listed(cJSON **root)
{
	*root = blind_json();
	return cJSON_GetObjectItemCaseSensitive(*root, "processes");
}

static const char *str(const cJSON *o, const char *k)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);
	return cJSON_IsString(v) ? v->valuestring : NULL;
}

static double num(const cJSON *o, const char *k)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);
	return cJSON_IsNumber(v) ? v->valuedouble : -1;
}

static void test_go_connection_is_blind_after_the_window(void **state)
{
	(void)state;
	fake(100, GUESS_GO, false);
	hello(100, 5, 1 * SEC);
	blind_tick(1 * SEC + BLIND_WINDOW_NS - 1);
	assert_int_equal(total(), 0);
	blind_tick(1 * SEC + BLIND_WINDOW_NS);
	assert_int_equal(count(UNOBS_GO), 1);
	assert_int_equal(total(), 1);
	cJSON *root, *procs = listed(&root);
	assert_int_equal(cJSON_GetArraySize(procs), 1);
	const cJSON *p = cJSON_GetArrayItem(procs, 0);
	assert_int_equal(num(p, "pid"), 100);
	assert_string_equal(str(p, "comm"), "prog100");
	assert_string_equal(str(p, "exe"), "/opt/bin/prog100");
	assert_string_equal(str(p, "stack"), "Go");
	assert_string_equal(str(p, "reason"), "Go crypto/tls: not probed");
	assert_string_equal(str(p, "reason_code"), "go_not_probed");
	assert_int_equal(num(p, "connections"), 1);
	const cJSON *peers = cJSON_GetObjectItemCaseSensitive(p, "peers");
	assert_int_equal(cJSON_GetArraySize(peers), 1);
	assert_string_equal(cJSON_GetArrayItem(peers, 0)->valuestring, "127.0.0.1:443");
	assert_non_null(str(p, "first_seen"));
	assert_non_null(str(p, "last_seen"));
	assert_int_equal(num(root, "evicted"), 0);
	assert_int_equal(num(root, "waiting"), 0);
	assert_int_equal(num(root, "window_ms"), BLIND_WINDOW_NS / 1000000);
	cJSON_Delete(root);
}

static void test_ssl_call_on_the_socket_is_seen(void **state)
{
	(void)state;
	fake(200, GUESS_NONE, true);
	hello(200, 7, 1 * SEC);
	blind_ssl_data(200, 7);
	blind_tick(10 * SEC);
	blind_exit(200);
	assert_int_equal(total(), 0);
	cJSON *root, *procs = listed(&root);
	assert_int_equal(cJSON_GetArraySize(procs), 0);
	cJSON_Delete(root);
}

/* Node's memory BIOs: its SSL calls make no socket syscall, the fd is
 * never known; a call of the process stands for its connections. */
static void test_ssl_call_without_fd_counts_for_the_process(void **state)
{
	(void)state;
	fake(300, GUESS_OPENSSL, true);
	hello(300, 9, 1 * SEC);
	hello(300, 10, 1 * SEC);
	blind_ssl_data(300, -1);
	blind_tick(10 * SEC);
	assert_int_equal(total(), 0);
}

static void test_calls_on_other_sockets_do_not_count(void **state)
{
	(void)state;
	fake(400, GUESS_NONE, true);
	fake(401, GUESS_NONE, true);
	hello(400, 3, 1 * SEC);
	blind_ssl_data(400, 4); /* another socket of the process */
	blind_ssl_data(401, 3); /* the same fd in another process */
	blind_tick(10 * SEC);
	assert_int_equal(count(UNOBS_PROBED_NO_CALL), 1);
	assert_int_equal(total(), 1);
}

static void test_exit_gives_the_verdict_at_once(void **state)
{
	(void)state;
	fake(500, GUESS_RUSTLS, false);
	hello(500, 3, 1 * SEC);
	blind_exit(500);
	assert_int_equal(count(UNOBS_RUSTLS), 1);
	/* and nothing is left to judge again */
	blind_tick(100 * SEC);
	assert_int_equal(total(), 1);
}

static void test_each_reason(void **state)
{
	(void)state;
	static const struct {
		enum stack_guess stack;
		bool probed;
		enum unobserved_reason want;
		const char *code;
	} cases[] = {
	    {GUESS_GO, true, UNOBS_GO, "go_not_probed"}, /* cgo maps libssl: still Go */
	    {GUESS_RUSTLS, false, UNOBS_RUSTLS, "rustls_unsupported"},
	    {GUESS_BORINGSSL, false, UNOBS_BORINGSSL, "boringssl_not_located"},
	    {GUESS_OPENSSL, false, UNOBS_OPENSSL_NO_SYMBOLS, "openssl_no_symbols"},
	    {GUESS_NONE, true, UNOBS_PROBED_NO_CALL, "probed_no_call"},
	    {GUESS_NONE, false, UNOBS_NO_TLS_LIBRARY, "no_tls_library"},
	    {GUESS_GNUTLS, false, UNOBS_OTHER_LIBRARY, "library_not_probed"},
	    /* a probed libssl next to a GnuTLS pulled in as a dependency */
	    {GUESS_GNUTLS, true, UNOBS_PROBED_NO_CALL, "probed_no_call"},
	};
	for (unsigned i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		setup(NULL);
		fake(600, cases[i].stack, cases[i].probed);
		hello(600, 3, 1 * SEC);
		blind_exit(600);
		assert_int_equal(count(cases[i].want), 1);
		assert_string_equal(blind_reason_label(cases[i].want), cases[i].code);
		cJSON *root, *procs = listed(&root);
		assert_string_equal(str(cJSON_GetArrayItem(procs, 0), "reason_code"),
		                    cases[i].code);
		cJSON_Delete(root);
	}
	/* a process gone before its executable could be read */
	setup(NULL);
	hello(601, 3, 1 * SEC);
	blind_exit(601);
	assert_int_equal(count(UNOBS_UNKNOWN_STACK), 1);
	cJSON *root, *procs = listed(&root);
	const cJSON *p = cJSON_GetArrayItem(procs, 0);
	assert_true(cJSON_IsNull(cJSON_GetObjectItemCaseSensitive(p, "exe")));
	assert_string_equal(str(p, "stack"), "unknown");
	cJSON_Delete(root);
}

/* A process that connected while its executable was being located (the
 * probes came after its ClientHello) is told apart, and named from the
 * probed file though it was gone before it could be read. */
static void test_connected_before_its_file_was_probed(void **state)
{
	(void)state;
	fake(900, GUESS_BORINGSSL, true);
	fakes[nfakes - 1].gone = true;
	fakes[nfakes - 1].exe_probed = true;
	fakes[nfakes - 1].attached_ns = 2 * SEC;
	hello(900, 3, 1 * SEC);
	blind_exit(900);
	assert_int_equal(count(UNOBS_BEFORE_PROBED), 1);
	assert_string_equal(blind_reason_label(UNOBS_BEFORE_PROBED), "before_probed");
	cJSON *root, *procs = listed(&root);
	const cJSON *p = cJSON_GetArrayItem(procs, 0);
	assert_string_equal(str(p, "reason_code"), "before_probed");
	assert_string_equal(str(p, "exe"), "/opt/bin/probed900");
	assert_string_equal(str(p, "stack"), "BoringSSL");
	cJSON_Delete(root);
	/* probed before it connected: its executable is probed, so no call on
	 * that socket is what happened, not "BoringSSL not located" */
	setup(NULL);
	fake(901, GUESS_BORINGSSL, true);
	fakes[nfakes - 1].exe_probed = true;
	fakes[nfakes - 1].attached_ns = 1 * SEC;
	hello(901, 3, 2 * SEC);
	blind_exit(901);
	assert_int_equal(count(UNOBS_PROBED_NO_CALL), 1);
	/* a library probed after the connection began (not the executable) */
	setup(NULL);
	fake(902, GUESS_NONE, true);
	fakes[nfakes - 1].attached_ns = 3 * SEC;
	hello(902, 3, 2 * SEC);
	blind_tick(100 * SEC);
	assert_int_equal(count(UNOBS_BEFORE_PROBED), 1);
}

/* An executable discovery refused says why, in the reason: "BoringSSL
 * found but SSL_read not located: <why>". */
static void test_a_refused_executable_says_why(void **state)
{
	(void)state;
	fake(950, GUESS_BORINGSSL, false);
	fakes[nfakes - 1].refused = "the quic_method checks disagree";
	hello(950, 3, 1 * SEC);
	blind_exit(950);
	assert_int_equal(count(UNOBS_BORINGSSL), 1);
	cJSON *root, *procs = listed(&root);
	const cJSON *p = cJSON_GetArrayItem(procs, 0);
	assert_string_equal(str(p, "reason"), "BoringSSL found but SSL_read not located: the "
	                                      "quic_method checks disagree");
	assert_string_equal(str(p, "reason_code"), "boringssl_not_located");
	cJSON_Delete(root);
	/* refused while it was being located at its ClientHello: not
	 * "before probed", it never will be */
	setup(NULL);
	fake(951, GUESS_BORINGSSL, false);
	fakes[nfakes - 1].locating = true;
	hello(951, 3, 1 * SEC);
	fakes[nfakes - 1].locating = false;
	fakes[nfakes - 1].refused = "no SSL error site";
	blind_exit(951);
	assert_int_equal(count(UNOBS_BORINGSSL), 1);
}

/* A verdict waits for discovery to finish with the process: a program
 * that connects and exits while its executable is still being located is
 * judged by what location finds, not "before probed" by the timing. */
static void test_a_verdict_waits_for_discovery(void **state)
{
	(void)state;
	/* no TLS library in it: exited while located, found none */
	fake(960, GUESS_NONE, false);
	struct fake_proc *f = &fakes[nfakes - 1];
	f->locating = true;
	hello(960, 3, 1 * SEC);
	blind_exit(960);
	blind_tick(2 * SEC);
	assert_int_equal(count(UNOBS_NO_TLS_LIBRARY), 0); /* not yet */
	f->locating = false;
	f->dismissed = true;
	blind_tick(2 * SEC + 1);
	assert_int_equal(count(UNOBS_NO_TLS_LIBRARY), 1);
	assert_int_equal(count(UNOBS_BEFORE_PROBED), 0);
	/* gone before discovery came to its BoringSSL executable: never tried */
	setup(NULL);
	fake(961, GUESS_BORINGSSL, false);
	f = &fakes[nfakes - 1];
	f->locating = true;
	hello(961, 3, 1 * SEC);
	blind_exit(961);
	f->locating = false;
	blind_tick(2 * SEC);
	assert_int_equal(count(UNOBS_BEFORE_PROBED), 1);
	/* its executable probed after the ClientHello, its exit handled by then */
	setup(NULL);
	fake(962, GUESS_BORINGSSL, true);
	f = &fakes[nfakes - 1];
	f->locating = true;
	hello(962, 3, 1 * SEC);
	blind_tick(1 * SEC + BLIND_WINDOW_NS); /* the window is over: still waits */
	assert_int_equal(count(UNOBS_BEFORE_PROBED), 0);
	f->locating = false;
	f->exe_probed = true;
	f->attached_ns = 2 * SEC;
	blind_tick(2 * SEC + BLIND_WINDOW_NS);
	assert_int_equal(count(UNOBS_BEFORE_PROBED), 1);
	/* a location that never ends: judged after BLIND_DEFER_NS, as such */
	setup(NULL);
	fake(963, GUESS_NONE, false);
	fakes[nfakes - 1].locating = true;
	hello(963, 3, 1 * SEC);
	blind_exit(963);
	blind_tick(1 * SEC + BLIND_DEFER_NS - 1);
	assert_int_equal(count(UNOBS_BEFORE_PROBED), 0);
	blind_tick(1 * SEC + BLIND_DEFER_NS);
	assert_int_equal(count(UNOBS_BEFORE_PROBED), 1);
	cJSON *root, *procs = listed(&root);
	assert_string_equal(str(cJSON_GetArrayItem(procs, 0), "reason_code"), "before_probed");
	cJSON_Delete(root);
}

static void test_connections_of_a_process_add_up(void **state)
{
	(void)state;
	fake(700, GUESS_BORINGSSL, false);
	for (unsigned i = 0; i < 6; i++)
		hello_port(700, 10 + (int)i, (1 + i) * SEC, (uint16_t)(8000 + i));
	hello_port(700, 30, 7 * SEC, 8000); /* a peer already listed */
	blind_tick(100 * SEC);
	assert_int_equal(count(UNOBS_BORINGSSL), 7);
	cJSON *root, *procs = listed(&root);
	assert_int_equal(cJSON_GetArraySize(procs), 1);
	const cJSON *p = cJSON_GetArrayItem(procs, 0);
	assert_int_equal(num(p, "connections"), 7);
	const cJSON *peers = cJSON_GetObjectItemCaseSensitive(p, "peers");
	assert_int_equal(cJSON_GetArraySize(peers), BLIND_MAX_PEERS);
	assert_string_equal(cJSON_GetArrayItem(peers, 0)->valuestring, "127.0.0.1:8000");
	assert_int_equal(num(root, "evicted"), 0);
	cJSON_Delete(root);
}

/* A reused fd starts a new connection: the old one is judged then. */
static void test_a_reused_fd_judges_the_old_connection(void **state)
{
	(void)state;
	fake(800, GUESS_GO, false);
	hello(800, 3, 1 * SEC);
	hello(800, 3, 2 * SEC);
	assert_int_equal(count(UNOBS_GO), 1);
	blind_ssl_data(800, 3);
	blind_tick(100 * SEC);
	assert_int_equal(count(UNOBS_GO), 1);
}

static void test_list_is_bounded_newest_first(void **state)
{
	(void)state;
	unsigned n = BLIND_MAX_PROCS + 3;
	for (unsigned i = 0; i < n; i++) {
		hello(10000 + i, 3, (1 + i) * SEC);
		blind_exit(10000 + i);
	}
	assert_int_equal(count(UNOBS_UNKNOWN_STACK), n);
	cJSON *root, *procs = listed(&root);
	assert_int_equal(cJSON_GetArraySize(procs), BLIND_MAX_PROCS);
	assert_int_equal(num(root, "evicted"), 3);
	assert_int_equal(num(cJSON_GetArrayItem(procs, 0), "pid"), 10000 + n - 1);
	assert_int_equal(num(cJSON_GetArrayItem(procs, BLIND_MAX_PROCS - 1), "pid"), 10000 + 3);
	cJSON_Delete(root);
}

static void test_waiting_is_bounded(void **state)
{
	(void)state;
	for (unsigned i = 0; i < BLIND_MAX_WAIT + 5; i++)
		hello(20000 + i % 7, (int32_t)i, (1 + i) * 1000);
	cJSON *root = blind_json();
	assert_int_equal(num(root, "waiting"), BLIND_MAX_WAIT);
	cJSON_Delete(root);
	assert_int_equal(total(), 5); /* the oldest, judged early */
}

static enum stack_guess guess_bytes(const void *p, size_t n)
{
	char path[] = "/tmp/llmobs-test-guess.XXXXXX";
	int fd = mkstemp(path);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, p, n), (ssize_t)n);
	enum stack_guess g = stack_guess_fd(fd);
	close(fd);
	unlink(path);
	return g;
}

#define GUESS(lit) guess_bytes(lit, sizeof(lit) - 1)

static void test_stack_guess_from_file_bytes(void **state)
{
	(void)state;
	assert_int_equal(GUESS("xx\xff Go buildinf:\x08\x02yy"), GUESS_GO);
	assert_int_equal(GUESS("src/rustls-0.23.12/src/conn.rs"), GUESS_RUSTLS);
	assert_int_equal(GUESS("OpenSSL 1.1.1 (compatible; BoringSSL)"), GUESS_BORINGSSL);
	assert_int_equal(GUESS("OpenSSL 3.0.13 30 Jan 2024"), GUESS_OPENSSL);
	assert_int_equal(GUESS("nothing to see"), GUESS_NONE);
	assert_int_equal(stack_guess_fd(-1), GUESS_UNREAD);
	assert_string_equal(stack_guess_name(GUESS_BORINGSSL), "BoringSSL");
	assert_string_equal(stack_guess_name(GUESS_UNREAD), "unknown");
	/* this test binary: an ELF file, searched in its .rodata, which holds
	 * the Go magic of the first line above */
	FILE *self = fopen("/proc/self/exe", "r");
	assert_non_null(self);
	assert_int_equal(stack_guess_fd(fileno(self)), GUESS_GO);
	fclose(self);
}

static void test_stack_guess_from_libraries(void **state)
{
	(void)state;
	assert_int_equal(stack_guess_library("/usr/lib/x86_64-linux-gnu/libgnutls.so.30"),
	                 GUESS_GNUTLS);
	assert_int_equal(stack_guess_library("/usr/lib/x86_64-linux-gnu/libnss3.so"), GUESS_NSS);
	assert_int_equal(stack_guess_library("/usr/lib/libwolfssl.so.35"), GUESS_WOLFSSL);
	assert_int_equal(stack_guess_library("/usr/lib/x86_64-linux-gnu/libssl.so.3"),
	                 GUESS_OPENSSL);
	assert_int_equal(stack_guess_library("/usr/lib/x86_64-linux-gnu/libc.so.6"), GUESS_NONE);
	assert_int_equal(stack_guess_library("/opt/libgnutls-helper/bin/x"), GUESS_NONE);
}

/* /proc/PID/exe, and, once the process is gone, what the same file said. */
static void test_proc_exe_remembers_a_file(void **state)
{
	(void)state;
	struct blind_exe me, gone;
	assert_true(proc_exe_lookup((uint32_t)getpid(), 0, 0, &me));
	assert_non_null(strstr(me.path, "test_blind"));
	assert_true(me.ino != 0);
	assert_int_equal(me.stack, GUESS_GO); /* the magic in its .rodata, as above */
	uint32_t nobody = 0x3ffffff0;         /* past pid_max */
	assert_true(proc_exe_lookup(nobody, me.dev, me.ino, &gone));
	assert_string_equal(gone.path, me.path);
	assert_int_equal(gone.stack, GUESS_GO);
	assert_false(proc_exe_lookup(nobody, me.dev, me.ino + 1, &gone));
	assert_false(proc_exe_lookup(nobody, 0, 0, &gone));
	proc_exe_free();
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup(test_go_connection_is_blind_after_the_window, setup),
	    cmocka_unit_test_setup(test_ssl_call_on_the_socket_is_seen, setup),
	    cmocka_unit_test_setup(test_ssl_call_without_fd_counts_for_the_process, setup),
	    cmocka_unit_test_setup(test_calls_on_other_sockets_do_not_count, setup),
	    cmocka_unit_test_setup(test_exit_gives_the_verdict_at_once, setup),
	    cmocka_unit_test_setup(test_each_reason, setup),
	    cmocka_unit_test_setup(test_connected_before_its_file_was_probed, setup),
	    cmocka_unit_test_setup(test_a_verdict_waits_for_discovery, setup),
	    cmocka_unit_test_setup(test_a_refused_executable_says_why, setup),
	    cmocka_unit_test_setup(test_connections_of_a_process_add_up, setup),
	    cmocka_unit_test_setup(test_a_reused_fd_judges_the_old_connection, setup),
	    cmocka_unit_test_setup(test_list_is_bounded_newest_first, setup),
	    cmocka_unit_test_setup(test_waiting_is_bounded, setup),
	    cmocka_unit_test(test_stack_guess_from_file_bytes),
	    cmocka_unit_test(test_stack_guess_from_libraries),
	    cmocka_unit_test(test_proc_exe_remembers_a_file),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
