// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
#include <crypt.h>
#include <errno.h>
#include <libgen.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <gnutls/crypto.h>
#include <microhttpd.h>
#include <yaml.h>
#include "webconfig.h"

#define PEM_MAX (1 << 20) /* a certificate chain or key larger than this is not one */

/* What load() needs to name a place in the file. */
struct loader {
	const char *path;
	yaml_document_t *doc;
	char *err;
	size_t err_len;
};

static int fail(struct loader *l, const yaml_node_t *at, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* Writes "PATH:LINE: message" into the error buffer; -EINVAL. */
static int fail(struct loader *l, const yaml_node_t *at, const char *fmt, ...)
{
	int n = 0;
	va_list ap;

	if (at)
		n = snprintf(l->err, l->err_len, "%s:%zu: ", l->path, at->start_mark.line + 1);
	else
		n = snprintf(l->err, l->err_len, "%s: ", l->path);
	if (n < 0 || (size_t)n >= l->err_len)
		return -EINVAL;
	va_start(ap, fmt);
	vsnprintf(l->err + n, l->err_len - n, fmt, ap);
	va_end(ap);
	return -EINVAL;
}

static const char *scalar(const yaml_node_t *n)
{
	return n && n->type == YAML_SCALAR_NODE ? (const char *)n->data.scalar.value : NULL;
}

/* A bcrypt hash as crypt(3) writes it: $2a$, $2b$ or $2y$, a cost of 04 to 31, 53 characters. */
static bool is_bcrypt(const char *h)
{
	static const char b64[] =
		"./ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
	int cost;

	if (strlen(h) != 60 || strncmp(h, "$2", 2) || !strchr("aby", h[2]) || h[3] != '$' ||
	    h[4] < '0' || h[4] > '3' || h[5] < '0' || h[5] > '9' || h[6] != '$')
		return false;
	cost = (h[4] - '0') * 10 + (h[5] - '0');
	return cost >= 4 && cost <= 31 && strspn(h + 7, b64) == 53;
}

/* Reads a PEM file named in the config, relative to the config's directory. */
static int read_pem(struct loader *l, const yaml_node_t *at, const char *key, const char *name,
		    char **out)
{
	char *dir_buf = NULL, *full = NULL, *buf = NULL;
	size_t len;
	FILE *f;
	int err = 0;

	if (name[0] != '/') {
		dir_buf = strdup(l->path);
		if (!dir_buf || asprintf(&full, "%s/%s", dirname(dir_buf), name) < 0) {
			free(dir_buf);
			return -ENOMEM;
		}
		free(dir_buf);
		name = full;
	}
	f = fopen(name, "re");
	buf = malloc(PEM_MAX + 1);
	if (!f || !buf) {
		err = f ? -ENOMEM : fail(l, at, "%s %s: %s", key, name, strerror(errno));
		goto out;
	}
	len = fread(buf, 1, PEM_MAX + 1, f);
	if (ferror(f)) {
		err = fail(l, at, "%s %s: %s", key, name, strerror(errno));
		goto out;
	}
	buf[len < PEM_MAX ? len : PEM_MAX] = '\0';
	if (len > PEM_MAX || !strstr(buf, "-----BEGIN ")) {
		err = fail(l, at, "%s %s: not a PEM file", key, name);
		goto out;
	}
	*out = buf;
	buf = NULL;
out:
	if (f)
		fclose(f);
	free(buf);
	free(full);
	return err;
}

/* Each key and value of the mapping node N, in the order of the file. */
#define for_each_pair(n, pair)                                                                     \
	for (yaml_node_pair_t *pair = (n)->data.mapping.pairs.start;                               \
	     pair < (n)->data.mapping.pairs.top; pair++)

static int load_tls(struct loader *l, const yaml_node_t *n, struct web_config *wc)
{
	const yaml_node_t *cert = NULL, *key = NULL;
	int err;

	if (n->type != YAML_MAPPING_NODE)
		return fail(l, n,
			    "tls_server_config: expected a mapping of cert_file and key_file");
	for_each_pair(n, pair)
	{
		const yaml_node_t *k = yaml_document_get_node(l->doc, pair->key);
		const yaml_node_t *v = yaml_document_get_node(l->doc, pair->value);
		const char *name = scalar(k);
		const yaml_node_t **slot;

		if (name && !strcmp(name, "cert_file"))
			slot = &cert;
		else if (name && !strcmp(name, "key_file"))
			slot = &key;
		else
			return fail(l, k,
				    "tls_server_config: unknown key \"%s\" (sluice reads "
				    "cert_file and key_file)",
				    name ? name : "?");
		if (*slot)
			return fail(l, k, "tls_server_config: %s given twice", name);
		if (!scalar(v) || !*scalar(v))
			return fail(l, v, "tls_server_config: %s: expected a file name", name);
		*slot = v;
	}
	if (!cert || !key)
		return fail(l, n, "tls_server_config: needs both cert_file and key_file");
	err = read_pem(l, cert, "cert_file", scalar(cert), &wc->cert_pem);
	if (!err)
		err = read_pem(l, key, "key_file", scalar(key), &wc->key_pem);
	return err;
}

static int load_users(struct loader *l, const yaml_node_t *n, struct web_config *wc)
{
	size_t count;

	if (n->type != YAML_MAPPING_NODE)
		return fail(l, n,
			    "basic_auth_users: expected a mapping of user names to bcrypt "
			    "hashes");
	count = n->data.mapping.pairs.top - n->data.mapping.pairs.start;
	wc->users = calloc(count ? count : 1, sizeof(*wc->users));
	if (!wc->users)
		return -ENOMEM;
	for_each_pair(n, pair)
	{
		const yaml_node_t *k = yaml_document_get_node(l->doc, pair->key);
		const yaml_node_t *v = yaml_document_get_node(l->doc, pair->value);
		const char *name = scalar(k), *hash = scalar(v);
		struct web_user *u = &wc->users[wc->nusers];

		/* A colon would end the user name in the Authorization header. */
		if (!name || !*name || strchr(name, ':'))
			return fail(l, k, "basic_auth_users: a user name is a string without ':'");
		for (size_t i = 0; i < wc->nusers; i++)
			if (!strcmp(wc->users[i].name, name))
				return fail(l, k, "basic_auth_users: user \"%s\" given twice",
					    name);
		if (!hash || !is_bcrypt(hash))
			return fail(l, v,
				    "basic_auth_users: user \"%s\": not a bcrypt hash "
				    "($2a$, $2b$ or $2y$)",
				    name);
		u->name = strdup(name);
		u->hash = strdup(hash);
		if (!u->name || !u->hash)
			return -ENOMEM;
		wc->nusers++;
	}
	return 0;
}

static int load(struct loader *l, struct web_config *wc)
{
	const yaml_node_t *root = yaml_document_get_root_node(l->doc), *tls = NULL, *users = NULL;
	int err;

	if (!root)
		return 0; /* an empty file: plain HTTP, no auth, as the toolkit reads it */
	if (root->type != YAML_MAPPING_NODE)
		return fail(l, root,
			    "expected a mapping of tls_server_config and basic_auth_users");
	for_each_pair(root, pair)
	{
		const yaml_node_t *k = yaml_document_get_node(l->doc, pair->key);
		const yaml_node_t *v = yaml_document_get_node(l->doc, pair->value);
		const char *name = scalar(k);
		const yaml_node_t **slot;

		if (name && !strcmp(name, "tls_server_config"))
			slot = &tls;
		else if (name && !strcmp(name, "basic_auth_users"))
			slot = &users;
		else
			return fail(l, k,
				    "unknown key \"%s\" (sluice reads tls_server_config and "
				    "basic_auth_users)",
				    name ? name : "?");
		if (*slot)
			return fail(l, k, "%s given twice", name);
		*slot = v;
	}
	if (tls) {
		if (!MHD_is_feature_supported(MHD_FEATURE_TLS))
			return fail(l, tls, "tls_server_config: this libmicrohttpd has no TLS");
		err = load_tls(l, tls, wc);
		if (err)
			return err;
	}
	if (users) {
		err = load_users(l, users, wc);
		if (err)
			return err;
	}
	return 0;
}

int web_config_load(const char *path, struct web_config *wc, char *err, size_t err_len)
{
	struct loader l = { .path = path, .err = err, .err_len = err_len };
	yaml_parser_t parser;
	yaml_document_t doc;
	FILE *f;
	int ret;

	memset(wc, 0, sizeof(*wc));
	pthread_mutex_init(&wc->lock, NULL);
	if (err_len)
		err[0] = '\0';
	f = fopen(path, "re");
	if (!f)
		return fail(&l, NULL, "%s", strerror(errno));
	if (!yaml_parser_initialize(&parser)) {
		fclose(f);
		return -ENOMEM;
	}
	yaml_parser_set_input_file(&parser, f);
	if (!yaml_parser_load(&parser, &doc)) {
		snprintf(err, err_len, "%s:%zu: %s", path, parser.problem_mark.line + 1,
			 parser.problem ? parser.problem : "not YAML");
		yaml_parser_delete(&parser);
		fclose(f);
		return -EINVAL;
	}
	l.doc = &doc;
	ret = load(&l, wc);
	yaml_document_delete(&doc);
	yaml_parser_delete(&parser);
	fclose(f);
	if (!ret && getrandom(wc->key, sizeof(wc->key), 0) != sizeof(wc->key))
		ret = fail(&l, NULL, "getrandom: %s", strerror(errno));
	if (ret == -ENOMEM)
		snprintf(err, err_len, "%s: out of memory", path);
	return ret;
}

void web_config_free(struct web_config *wc)
{
	for (size_t i = 0; i < wc->nusers; i++) {
		free(wc->users[i].name);
		free(wc->users[i].hash);
	}
	free(wc->users);
	free(wc->cert_pem);
	if (wc->key_pem)
		explicit_bzero(wc->key_pem, strlen(wc->key_pem));
	free(wc->key_pem);
	explicit_bzero(wc->key, sizeof(wc->key));
	pthread_mutex_destroy(&wc->lock);
	wc->users = NULL;
	wc->cert_pem = wc->key_pem = NULL;
	wc->nusers = 0;
}

/* Equal or not in a time that depends on LEN only, not on where A and B differ. */
static bool equal_ct(const void *a, const void *b, size_t len)
{
	const volatile unsigned char *x = a, *y = b;
	unsigned char diff = 0;

	for (size_t i = 0; i < len; i++)
		diff |= x[i] ^ y[i];
	return diff == 0;
}

/* HMAC-SHA-256 of USER, a NUL and PASS under the process's random key. */
static bool digest(const struct web_config *wc, const char *user, const char *pass,
		   unsigned char out[WEB_CONFIG_DIGEST_LEN])
{
	gnutls_hmac_hd_t h;

	if (gnutls_hmac_init(&h, GNUTLS_MAC_SHA256, wc->key, sizeof(wc->key)) < 0)
		return false;
	if (gnutls_hmac(h, user, strlen(user) + 1) < 0 || gnutls_hmac(h, pass, strlen(pass)) < 0) {
		gnutls_hmac_deinit(h, out);
		return false;
	}
	gnutls_hmac_deinit(h, out);
	return true;
}

bool web_config_check(struct web_config *wc, const char *user, const char *pass)
{
	unsigned char d[WEB_CONFIG_DIGEST_LEN];
	struct web_user *u = NULL;
	struct crypt_data *cd;
	const char *hash, *out;
	bool ok = false, have_digest;

	if (!wc->nusers || !user || !pass)
		return false;
	for (size_t i = 0; i < wc->nusers; i++)
		if (!strcmp(wc->users[i].name, user))
			u = &wc->users[i];
	have_digest = digest(wc, user, pass, d);
	pthread_mutex_lock(&wc->lock);
	if (u && have_digest && u->has_verified && equal_ct(d, u->verified, sizeof(d))) {
		ok = true;
		goto out;
	}
	/* An unknown user is checked against a real hash, so it takes as long as a known one. */
	hash = u ? u->hash : wc->users[0].hash;
	cd = calloc(1, sizeof(*cd)); /* 32 KiB: not for the HTTP thread's stack */
	if (!cd)
		goto out;
	out = crypt_rn(pass, hash, cd, sizeof(*cd));
	wc->bcrypt_runs++;
	ok = u && out && strlen(out) == strlen(hash) && equal_ct(out, hash, strlen(hash));
	explicit_bzero(cd, sizeof(*cd));
	free(cd);
	if (ok && have_digest) {
		memcpy(u->verified, d, sizeof(d));
		u->has_verified = true;
	}
out:
	pthread_mutex_unlock(&wc->lock);
	explicit_bzero(d, sizeof(d));
	return ok;
}
