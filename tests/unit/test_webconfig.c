// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* The exporter's --web-config: good files, each kind of bad file, and the password check. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
#include <crypt.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "webconfig.h"

#define PEM_CERT "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n"
#define PEM_KEY "-----BEGIN PRIVATE KEY-----\nMIIE\n-----END PRIVATE KEY-----\n"

static char dir[] = "/tmp/sluice-webconfig-XXXXXX";
static char hash_alice[CRYPT_OUTPUT_SIZE]; /* bcrypt of "s3cret", cost 4 to keep the test quick */

static void write_file(const char *name, const char *text)
{
	char path[256];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	f = fopen(path, "w");
	assert_non_null(f);
	fputs(text, f);
	fclose(f);
}

/* Writes TEXT to web.yml and loads it: the error code, the message in ERR. */
static int load_text(const char *text, struct web_config *wc, char *err, size_t len)
{
	char path[256];

	write_file("web.yml", text);
	snprintf(path, sizeof(path), "%s/web.yml", dir);
	return web_config_load(path, wc, err, len);
}

static int setup(void **state)
{
	struct crypt_data cd = {};
	char salt[CRYPT_GENSALT_OUTPUT_SIZE];

	(void)state;
	if (!mkdtemp(dir))
		return -1;
	write_file("cert.pem", PEM_CERT);
	write_file("key.pem", PEM_KEY);
	write_file("plain.txt", "not a certificate\n");
	if (!crypt_gensalt_rn("$2b$", 4, NULL, 0, salt, sizeof(salt)) ||
	    !crypt_rn("s3cret", salt, &cd, sizeof(cd)))
		return -1;
	snprintf(hash_alice, sizeof(hash_alice), "%s", cd.output);
	return 0;
}

static int teardown(void **state)
{
	char cmd[300];

	(void)state;
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	return system(cmd) ? -1 : 0;
}

static void test_good(void **state)
{
	struct web_config wc;
	char err[512], text[1024];

	(void)state;
	/* cert_file relative to the file's directory, key_file absolute; 'y' is a $2y$ hash. */
	snprintf(text, sizeof(text),
		 "# comment\n"
		 "tls_server_config:\n"
		 "  cert_file: cert.pem\n"
		 "  key_file: %s/key.pem\n"
		 "basic_auth_users:\n"
		 "  alice: '%s'\n"
		 "  bob: $2y$10$abcdefghijklmnopqrstuu5Zk0a7JHzGZ4o9x2fT0bq9Yl1aCk5Wu\n",
		 dir, hash_alice);
	assert_int_equal(load_text(text, &wc, err, sizeof(err)), 0);
	assert_string_equal(err, "");
	assert_string_equal(wc.cert_pem, PEM_CERT);
	assert_string_equal(wc.key_pem, PEM_KEY);
	assert_int_equal(wc.nusers, 2);
	assert_string_equal(wc.users[0].name, "alice");
	assert_string_equal(wc.users[0].hash, hash_alice);
	assert_string_equal(wc.users[1].name, "bob");
	web_config_free(&wc);

	/* Either part alone. */
	assert_int_equal(
		load_text("basic_auth_users:\n"
			  "  alice: $2b$04$abcdefghijklmnopqrstuu5Zk0a7JHzGZ4o9x2fT0bq9Yl1aCk5Wu\n",
			  &wc, err, sizeof(err)),
		0);
	assert_null(wc.cert_pem);
	assert_int_equal(wc.nusers, 1);
	web_config_free(&wc);
	assert_int_equal(load_text("tls_server_config: {cert_file: cert.pem, key_file: key.pem}\n",
				   &wc, err, sizeof(err)),
			 0);
	assert_non_null(wc.cert_pem);
	assert_int_equal(wc.nusers, 0);
	web_config_free(&wc);

	/* An empty file asks for nothing: plain HTTP without auth, as the toolkit reads it. */
	assert_int_equal(load_text("", &wc, err, sizeof(err)), 0);
	assert_null(wc.cert_pem);
	assert_int_equal(wc.nusers, 0);
	web_config_free(&wc);
}

static void test_bad(void **state)
{
	static const struct {
		const char *text;
		const char *want; /* after "DIR/web.yml:"; %s is DIR */
	} rows[] = {
		{ "http_server_config:\n  http2: false\n",
		  "1: unknown key \"http_server_config\" (sluice reads tls_server_config and "
		  "basic_auth_users)" },
		{ "tls_server_config:\n  cert_file: cert.pem\n  key_file: key.pem\n"
		  "  client_auth_type: RequireAndVerifyClientCert\n",
		  "4: tls_server_config: unknown key \"client_auth_type\" (sluice reads cert_file "
		  "and key_file)" },
		{ "tls_server_config:\n  cert_file: cert.pem\n",
		  "2: tls_server_config: needs both cert_file and key_file" },
		{ "tls_server_config:\n  cert_file: nope.pem\n  key_file: key.pem\n",
		  "2: cert_file %s/nope.pem: No such file or directory" },
		{ "tls_server_config:\n  cert_file: cert.pem\n  key_file: plain.txt\n",
		  "3: key_file %s/plain.txt: not a PEM file" },
		{ "tls_server_config:\n  cert_file: \"\"\n  key_file: key.pem\n",
		  "2: tls_server_config: cert_file: expected a file name" },
		{ "tls_server_config: cert.pem\n",
		  "1: tls_server_config: expected a mapping of cert_file and key_file" },
		{ "basic_auth_users:\n  alice: s3cret\n",
		  "2: basic_auth_users: user \"alice\": not a bcrypt hash ($2a$, $2b$ or $2y$)" },
		{ "basic_auth_users:\n  alice: $6$salt$Qm0fGXyFQ2Cz1pBq8dQ3xvYkK9oE3h3aFhnWkqgqvzI\n",
		  "2: basic_auth_users: user \"alice\": not a bcrypt hash ($2a$, $2b$ or $2y$)" },
		{ "basic_auth_users:\n  alice: $2b$03$abcdefghijklmnopqrstuu5Zk0a7JHzGZ4o9x2fT0bq9Yl1aCk5Wu\n",
		  "2: basic_auth_users: user \"alice\": not a bcrypt hash ($2a$, $2b$ or $2y$)" },
		{ "basic_auth_users:\n  alice: $2b$04$abcdefghijklmnopqrstuu5Zk0a7JHzGZ4o9x2fT0bq9Yl1aCk5W\n",
		  "2: basic_auth_users: user \"alice\": not a bcrypt hash ($2a$, $2b$ or $2y$)" },
		{ "basic_auth_users:\n  alice: $2b$04$abcdefghijklmnopqrstuu5Zk0a7JHzGZ4o9x2fT0bq9Yl1aCk5Wu\n"
		  "  alice: $2b$04$abcdefghijklmnopqrstuu5Zk0a7JHzGZ4o9x2fT0bq9Yl1aCk5Wu\n",
		  "3: basic_auth_users: user \"alice\" given twice" },
		{ "basic_auth_users:\n  \"a:b\": $2b$04$abcdefghijklmnopqrstuu5Zk0a7JHzGZ4o9x2fT0bq9Yl1aCk5Wu\n",
		  "2: basic_auth_users: a user name is a string without ':'" },
		{ "basic_auth_users:\n  - alice\n",
		  "2: basic_auth_users: expected a mapping of user names to bcrypt hashes" },
		{ "basic_auth_users: {}\nbasic_auth_users: {}\n",
		  "2: basic_auth_users given twice" },
		{ "- tls_server_config\n",
		  "1: expected a mapping of tls_server_config and basic_auth_users" },
		{ "tls_server_config: [\n", "2: did not find expected node content" },
	};
	struct web_config wc;
	char err[512], want[512], prefix[300];

	(void)state;
	snprintf(prefix, sizeof(prefix), "%s/web.yml:", dir);
	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		char fmt[512];

		snprintf(fmt, sizeof(fmt), "%s%s", prefix, rows[i].want);
		if (strstr(rows[i].want, "%s"))
			snprintf(want, sizeof(want), fmt, dir);
		else
			snprintf(want, sizeof(want), "%s", fmt);
		if (load_text(rows[i].text, &wc, err, sizeof(err)) != -EINVAL)
			fail_msg("row %zu: accepted", i);
		if (strcmp(err, want))
			fail_msg("row %zu: got \"%s\", want \"%s\"", i, err, want);
		web_config_free(&wc);
	}

	/* The file itself missing. */
	snprintf(want, sizeof(want), "%s/none.yml: No such file or directory", dir);
	snprintf(prefix, sizeof(prefix), "%s/none.yml", dir);
	assert_int_equal(web_config_load(prefix, &wc, err, sizeof(err)), -EINVAL);
	assert_string_equal(err, want);
	web_config_free(&wc);
}

static void test_check(void **state)
{
	struct web_config wc;
	char err[512], text[1024];

	(void)state;
	snprintf(text, sizeof(text), "basic_auth_users:\n  alice: %s\n", hash_alice);
	assert_int_equal(load_text(text, &wc, err, sizeof(err)), 0);

	assert_false(web_config_check(&wc, "alice", "wrong"));
	assert_int_equal(wc.bcrypt_runs, 1);
	assert_true(web_config_check(&wc, "alice", "s3cret"));
	assert_int_equal(wc.bcrypt_runs, 2);
	/* Verified once: the same password again costs no bcrypt. */
	assert_true(web_config_check(&wc, "alice", "s3cret"));
	assert_true(web_config_check(&wc, "alice", "s3cret"));
	assert_int_equal(wc.bcrypt_runs, 2);
	/* A wrong password still does, and does not undo the verified one. */
	assert_false(web_config_check(&wc, "alice", "s3cre"));
	assert_int_equal(wc.bcrypt_runs, 3);
	assert_true(web_config_check(&wc, "alice", "s3cret"));
	assert_int_equal(wc.bcrypt_runs, 3);
	/* An unknown user is refused after a bcrypt all the same, even with alice's password. */
	assert_false(web_config_check(&wc, "mallory", "s3cret"));
	assert_int_equal(wc.bcrypt_runs, 4);
	assert_false(web_config_check(&wc, "Alice", "s3cret"));
	/* No credentials at all. */
	assert_false(web_config_check(&wc, NULL, NULL));
	assert_false(web_config_check(&wc, "alice", NULL));
	web_config_free(&wc);

	/* Without users nobody is let in by the check (the server asks for none then). */
	assert_int_equal(load_text("", &wc, err, sizeof(err)), 0);
	assert_false(web_config_check(&wc, "alice", "s3cret"));
	web_config_free(&wc);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_good),
		cmocka_unit_test(test_bad),
		cmocka_unit_test(test_check),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
