// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* The HTTP side of the exporter: libmicrohttpd with its limits, TLS and basic auth, and gzip. */
#include <arpa/inet.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>
#include <netdb.h>
#include <netinet/in.h>
#include <microhttpd.h>
#include <zlib.h>
#include "http.h"
#include "log.h"
#include "pins.h"

#define HTTP_REALM "sluice"
/* libmicrohttpd's own messages, at most this many in a window, so a flood cannot fill the log. */
#define HTTP_LOG_BURST 5
#define HTTP_LOG_WINDOW_NS (60 * 1000000000ULL)

struct http_server {
	struct MHD_Daemon *daemon;
	struct web_config *web;
	http_scrape_fn scrape;
	void *ctx;
	/* on_http_log's window; libmicrohttpd logs from its one thread, or before it starts */
	__u64 log_window_start;
	unsigned int log_count;
	unsigned long log_suppressed;
};

static enum MHD_Result reply(struct MHD_Connection *conn, struct MHD_Response *resp,
			     unsigned int status, const char *content_type)
{
	enum MHD_Result ret;

	if (!resp)
		return MHD_NO;
	MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, content_type);
	ret = MHD_queue_response(conn, status, resp);
	MHD_destroy_response(resp);
	return ret;
}

static struct MHD_Response *text_response(const char *text)
{
	return MHD_create_response_from_buffer(strlen(text), (void *)text, MHD_RESPMEM_PERSISTENT);
}

static enum MHD_Result reply_text(struct MHD_Connection *conn, unsigned int status,
				  const char *text, const char *allow)
{
	struct MHD_Response *resp = text_response(text);

	if (resp && allow)
		MHD_add_response_header(resp, MHD_HTTP_HEADER_ALLOW, allow);
	return reply(conn, resp, status, "text/plain; charset=utf-8");
}

/* Whether the request carries the name and password of a user of the web config. */
static bool authorized(struct http_server *s, struct MHD_Connection *conn)
{
	char *pass = NULL, *user;
	bool ok;

	if (!s->web || !s->web->nusers)
		return true;
	user = MHD_basic_auth_get_username_password(conn, &pass);
	ok = web_config_check(s->web, user, pass);
	if (pass) {
		explicit_bzero(pass, strlen(pass));
		MHD_free(pass);
	}
	if (user)
		MHD_free(user);
	return ok;
}

/* 401 with WWW-Authenticate: Basic realm="sluice", so clients know to send a password. */
static enum MHD_Result reply_unauthorized(struct MHD_Connection *conn)
{
	struct MHD_Response *resp = text_response("401 Unauthorized\n");
	enum MHD_Result ret;

	if (!resp)
		return MHD_NO;
	MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, "text/plain; charset=utf-8");
	ret = MHD_queue_basic_auth_fail_response(conn, HTTP_REALM, resp);
	MHD_destroy_response(resp);
	return ret;
}

/* What / answers: a page that says where the metrics are, as other exporters have. */
static const char index_page[] =
	"<!DOCTYPE html>\n"
	"<html><head><meta charset=\"utf-8\"><title>sluice exporter</title></head>\n"
	"<body><h1>sluice exporter</h1>\n"
	"<p><a href=\"/metrics\">Metrics</a></p></body></html>\n";

static enum MHD_Result reply_index(struct MHD_Connection *conn, const char *method)
{
	if (strcmp(method, MHD_HTTP_METHOD_GET) && strcmp(method, MHD_HTTP_METHOD_HEAD))
		return reply_text(conn, MHD_HTTP_METHOD_NOT_ALLOWED, "405 method not allowed\n",
				  "GET, HEAD");
	return reply(conn, text_response(index_page), MHD_HTTP_OK, "text/html; charset=utf-8");
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn, const char *url,
				  const char *method, const char *version, const char *upload_data,
				  size_t *upload_data_size, void **req_cls)
{
	struct http_server *s = cls;
	struct MHD_Response *resp;
	const struct mbuf *text;
	const char *accept;
	void *gz;
	size_t gz_len;

	(void)version;
	(void)upload_data;
	if (!*req_cls) {
		*req_cls = s; /* first call: headers only; answer once the request is read */
		return MHD_YES;
	}
	if (*upload_data_size) {
		*upload_data_size = 0; /* a body is not wanted: read past it */
		return MHD_YES;
	}
	/* Before anything else, as the exporter toolkit does: no URL answers without it. */
	if (!authorized(s, conn))
		return reply_unauthorized(conn);
	if (!strcmp(url, "/"))
		return reply_index(conn, method);
	if (strcmp(url, "/metrics"))
		return reply_text(conn, MHD_HTTP_NOT_FOUND, "404 page not found\n", NULL);
	if (strcmp(method, MHD_HTTP_METHOD_GET) && strcmp(method, MHD_HTTP_METHOD_HEAD))
		return reply_text(conn, MHD_HTTP_METHOD_NOT_ALLOWED, "405 method not allowed\n",
				  "GET, HEAD");
	text = s->scrape(s->ctx);
	if (text->failed)
		return reply_text(conn, MHD_HTTP_INTERNAL_SERVER_ERROR,
				  "500 could not write the metrics\n", NULL);
	accept =
		MHD_lookup_connection_value(conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_ACCEPT_ENCODING);
	if (http_accepts_gzip(accept) && !http_gzip(text->data, text->len, &gz, &gz_len)) {
		resp = MHD_create_response_from_buffer(gz_len, gz, MHD_RESPMEM_MUST_FREE);
		if (resp)
			MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_ENCODING, "gzip");
		else
			free(gz);
	} else {
		resp = MHD_create_response_from_buffer(text->len, text->data,
						       MHD_RESPMEM_MUST_COPY);
	}
	if (resp)
		MHD_add_response_header(resp, MHD_HTTP_HEADER_VARY, "Accept-Encoding");
	return reply(conn, resp, MHD_HTTP_OK, METRICS_CONTENT_TYPE);
}

/*
 * libmicrohttpd's messages. Every refused connection and failed TLS handshake makes
 * one, so a flood would otherwise write a line per connection: a few a minute pass,
 * and the next window opens with how many were left out.
 */
static void on_http_log(void *cls, const char *fmt, va_list ap)
{
	struct http_server *s = cls;
	__u64 now = mono_now_ns();
	char buf[512];
	size_t len;

	if (!s->log_window_start || now - s->log_window_start >= HTTP_LOG_WINDOW_NS) {
		if (s->log_suppressed)
			pr_warn("exporter: http: %lu more messages left out", s->log_suppressed);
		s->log_window_start = now;
		s->log_count = 0;
		s->log_suppressed = 0;
	}
	if (s->log_count >= HTTP_LOG_BURST) {
		s->log_suppressed++;
		return;
	}
	s->log_count++;
	vsnprintf(buf, sizeof(buf), fmt, ap);
	len = strlen(buf);
	while (len && buf[len - 1] == '\n')
		buf[--len] = '\0'; /* its messages end in a newline; ours may not */
	pr_warn("exporter: http: %s", buf);
}

int http_start(const struct http_config *cfg, http_scrape_fn scrape, void *ctx,
	       struct http_server **out)
{
	bool tls = cfg->web && cfg->web->cert_pem;
	struct MHD_OptionItem tls_opts[3] = { { MHD_OPTION_END, 0, NULL } };
	struct http_server *s = calloc(1, sizeof(*s));

	if (!s)
		return -ENOMEM;
	if (tls) {
		tls_opts[0] =
			(struct MHD_OptionItem){ MHD_OPTION_HTTPS_MEM_KEY, 0, cfg->web->key_pem };
		tls_opts[1] =
			(struct MHD_OptionItem){ MHD_OPTION_HTTPS_MEM_CERT, 0, cfg->web->cert_pem };
	}
	s->web = cfg->web;
	s->scrape = scrape;
	s->ctx = ctx;
	/*
	 * One internal thread polls every connection and answers one request at a time,
	 * so scrapes and bcrypt checks never run in parallel. Past per_ip_connections from
	 * one address, libmicrohttpd accepts and closes at once, which also drains the
	 * listen backlog instead of leaving a flood queued ahead of a real scrape.
	 */
	s->daemon = MHD_start_daemon(
		MHD_USE_AUTO_INTERNAL_THREAD | MHD_USE_ERROR_LOG | (tls ? MHD_USE_TLS : 0), 0, NULL,
		NULL, on_request, s, MHD_OPTION_EXTERNAL_LOGGER, on_http_log, s,
		MHD_OPTION_LISTEN_SOCKET, cfg->listen_fd, MHD_OPTION_CONNECTION_LIMIT,
		cfg->max_connections, MHD_OPTION_PER_IP_CONNECTION_LIMIT, cfg->per_ip_connections,
		MHD_OPTION_CONNECTION_TIMEOUT, cfg->timeout_sec, MHD_OPTION_ARRAY, tls_opts,
		MHD_OPTION_END);
	if (!s->daemon) {
		free(s);
		return -EIO;
	}
	*out = s;
	return 0;
}

void http_stop(struct http_server *s)
{
	if (!s)
		return;
	MHD_stop_daemon(s->daemon);
	free(s);
}

/* ---- gzip and --listen ---- */

/* Skips spaces and tabs. */
static const char *skip_ws(const char *s)
{
	return s + strspn(s, " \t");
}

/* The q-value of one Accept-Encoding element's parameters (from just after the coding). */
static double q_value(const char *params, const char *end)
{
	while (params < end) {
		const char *p = skip_ws(params + 1); /* past ';' */

		if ((p[0] == 'q' || p[0] == 'Q') && p[1] == '=')
			return strtod(p + 2, NULL);
		params = memchr(p, ';', end - p);
		if (!params)
			break;
	}
	return 1;
}

bool http_accepts_gzip(const char *ae)
{
	int gzip = -1, star = -1; /* -1 not named, 0 refused, 1 accepted */

	while (ae && *ae) {
		const char *el = skip_ws(ae), *end = strchr(el, ','), *semi;
		size_t len;

		if (!end)
			end = el + strlen(el);
		semi = memchr(el, ';', end - el);
		len = (semi ? semi : end) - el;
		while (len && (el[len - 1] == ' ' || el[len - 1] == '\t'))
			len--;
		if ((len == 4 && !strncasecmp(el, "gzip", 4)) ||
		    (len == 6 && !strncasecmp(el, "x-gzip", 6)))
			gzip = q_value(semi ? semi : end, end) > 0;
		else if (len == 1 && *el == '*')
			star = q_value(semi ? semi : end, end) > 0;
		ae = *end ? end + 1 : end;
	}
	return gzip >= 0 ? gzip : star > 0;
}

int http_gzip(const void *in, size_t in_len, void **out, size_t *out_len)
{
	z_stream zs = {};
	size_t cap;
	void *buf;
	int ret;

	/* 15 + 16: a gzip header and trailer; level 1, as the text compresses well anyway. */
	if (deflateInit2(&zs, Z_BEST_SPEED, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) != Z_OK)
		return -ENOMEM;
	cap = deflateBound(&zs, in_len);
	buf = malloc(cap);
	if (!buf) {
		deflateEnd(&zs);
		return -ENOMEM;
	}
	zs.next_in = (Bytef *)in;
	zs.avail_in = in_len;
	zs.next_out = buf;
	zs.avail_out = cap;
	ret = deflate(&zs, Z_FINISH);
	*out_len = zs.total_out;
	deflateEnd(&zs);
	if (ret != Z_STREAM_END) {
		free(buf);
		return -EIO;
	}
	*out = buf;
	return 0;
}

/* A host name as --listen takes one: letters, digits, '-' and '.', not all digits and dots. */
static bool is_host_name(const char *h)
{
	return h[strspn(h, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-.")] ==
		       '\0' &&
	       h[strspn(h, "0123456789.")] != '\0';
}

/* The first address getaddrinfo() gives for NAME, in *SS; -ENXIO if there is none. */
static int resolve(const char *name, unsigned long port, struct sockaddr_storage *ss,
		   socklen_t *len)
{
	struct addrinfo hints = { .ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM };
	struct addrinfo *res;

	if (getaddrinfo(name, NULL, &hints, &res))
		return -ENXIO;
	memcpy(ss, res->ai_addr, res->ai_addrlen);
	*len = res->ai_addrlen;
	freeaddrinfo(res);
	/* sin_port and sin6_port sit at the same offset. */
	((struct sockaddr_in *)ss)->sin_port = htons(port);
	return 0;
}

int http_parse_listen(const char *s, struct sockaddr_storage *ss, socklen_t *len, bool *any)
{
	char host[256];
	const char *colon, *host_start = s;
	size_t host_len;
	unsigned long port;
	char *end;

	memset(ss, 0, sizeof(*ss));
	*any = false;
	if (*s == '[') {
		const char *close = strchr(s, ']');

		if (!close || close[1] != ':')
			return -EINVAL;
		host_start = s + 1;
		host_len = close - host_start;
		colon = close + 1;
		if (!host_len)
			return -EINVAL;
	} else {
		colon = strrchr(s, ':');
		if (!colon || strchr(s, ':') != colon)
			return -EINVAL; /* no port, or an IPv6 address without brackets */
		host_len = colon - s;
	}
	if (host_len >= sizeof(host) || colon[1] < '0' || colon[1] > '9')
		return -EINVAL;
	errno = 0;
	port = strtoul(colon + 1, &end, 10);
	if (errno || *end || !port || port > 65535)
		return -EINVAL;
	memcpy(host, host_start, host_len);
	host[host_len] = '\0';
	if (*s == '[' || !host_len) {
		struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)ss;

		/* No host, as in node_exporter's :9100: every address, IPv6 and IPv4. */
		if (!host_len)
			*any = true;
		else if (inet_pton(AF_INET6, host, &sin6->sin6_addr) != 1)
			return -EINVAL;
		sin6->sin6_family = AF_INET6;
		sin6->sin6_port = htons(port);
		*len = sizeof(*sin6);
	} else if (inet_pton(AF_INET, host, &((struct sockaddr_in *)ss)->sin_addr) == 1) {
		struct sockaddr_in *sin = (struct sockaddr_in *)ss;

		sin->sin_family = AF_INET;
		sin->sin_port = htons(port);
		*len = sizeof(*sin);
	} else if (is_host_name(host)) {
		return resolve(host, port, ss, len);
	} else {
		return -EINVAL;
	}
	return 0;
}
