/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/* Serving /metrics over HTTP or HTTPS: libmicrohttpd, limits, basic auth, gzip, --listen. */
#ifndef SLUICE_HTTP_H
#define SLUICE_HTTP_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/socket.h>
#include "metrics.h"
#include "webconfig.h"

struct http_config {
	int listen_fd; /* bound and listening; the server's once http_start() succeeds */
	struct web_config *web; /* TLS and users, or NULL */
	unsigned int max_connections;
	unsigned int per_ip_connections;
	unsigned int timeout_sec; /* idle or unfinished connections are closed after this */
};

/*
 * Writes a fresh document for one scrape and returns it; its failed flag set means
 * 500. Called on the server's one thread, one scrape at a time.
 */
typedef const struct mbuf *(*http_scrape_fn)(void *ctx);

struct http_server;

/* Starts serving GET and HEAD /metrics on its own thread. 0 or -errno. */
int http_start(const struct http_config *cfg, http_scrape_fn scrape, void *ctx,
	       struct http_server **out);
/* Stops the server and closes its socket. */
void http_stop(struct http_server *s);

/*
 * Whether an Accept-Encoding header value accepts gzip (gzip, x-gzip or *, with a
 * q-value above 0). NULL accepts nothing.
 */
bool http_accepts_gzip(const char *accept_encoding);

/* Gzips IN into a new malloc'd buffer (*out, *out_len). -ENOMEM or -EIO. */
int http_gzip(const void *in, size_t in_len, void **out, size_t *out_len);

/*
 * Parses --listen: IPV4:PORT, [IPV6]:PORT, HOST:PORT (a host name, resolved to its first
 * address) or :PORT (every address: *ANY is set and *SS is [::]:PORT, to be bound
 * dual-stack). -EINVAL on anything else, including port 0; -ENXIO for a host name that
 * does not resolve.
 */
int http_parse_listen(const char *s, struct sockaddr_storage *ss, socklen_t *len, bool *any);

#endif /* SLUICE_HTTP_H */
