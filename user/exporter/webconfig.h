/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * The exporter's --web-config file, in the format of the Prometheus exporter toolkit
 * (tls_server_config: cert_file, key_file; basic_auth_users: user: bcrypt hash), and
 * the password check of its users.
 */
#ifndef SLUICE_WEBCONFIG_H
#define SLUICE_WEBCONFIG_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>

#define WEB_CONFIG_DIGEST_LEN 32 /* HMAC-SHA-256 */

struct web_user {
	char *name;
	char *hash; /* bcrypt: $2a$, $2b$ or $2y$, cost, 22 characters of salt, 31 of hash */
	/*
	 * The last password this user was verified with, as a keyed digest (the key is
	 * random and never leaves the process), so a Prometheus that scrapes every few
	 * seconds costs one bcrypt, not one a scrape; the password itself is not kept.
	 */
	unsigned char verified[WEB_CONFIG_DIGEST_LEN];
	bool has_verified;
};

struct web_config {
	char *cert_pem, *key_pem; /* both or neither: TLS */
	struct web_user *users;
	size_t nusers; /* 0: no basic auth */
	unsigned char key[WEB_CONFIG_DIGEST_LEN]; /* of the verified digests */
	pthread_mutex_t lock; /* the verified digests, and one bcrypt at a time */
	unsigned long bcrypt_runs; /* how many checks ran bcrypt, for the tests */
};

/*
 * Reads and checks PATH; cert_file and key_file are read now (relative to the
 * directory of PATH, as the toolkit does). 0, or -EINVAL for anything wrong with the
 * file or what it names, -ENOMEM, with one line saying what in ERR. Free with
 * web_config_free(), also after a failure.
 */
int web_config_load(const char *path, struct web_config *wc, char *err, size_t err_len);
void web_config_free(struct web_config *wc);

/*
 * Whether USER and PASS are a user of WC and its password. An unknown user costs a
 * bcrypt too, so that the time taken does not tell which users exist. Runs one bcrypt
 * at a time, whatever the number of callers, and none when PASS is the password USER
 * was last verified with.
 */
bool web_config_check(struct web_config *wc, const char *user, const char *pass);

#endif /* SLUICE_WEBCONFIG_H */
