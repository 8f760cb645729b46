/* HTTP on the agent's loop: one libcurl multi handle driven by epoll
 * (socket and timer callbacks), so no request ever blocks the loop. TLS
 * peers are always verified; there is no option to turn that off. */
#ifndef NODETRAIL_BASE_HTTP_H
#define NODETRAIL_BASE_HTTP_H

#include <stddef.h>
#include <stdint.h>

struct loop;
struct http;
struct http_transfer;

/* Body bytes as they arrive, with the response's HTTP status; return 0, or
 * -1 to abort the transfer. */
typedef int (*http_data_cb)(void *ctx, long status, const char *data, size_t len);
/* The end: curl_code 0 and the HTTP status, or a curl error (string in err). */
typedef void (*http_done_cb)(void *ctx, int curl_code, long status, const char *err);

struct http_request {
	const char *url;
	const char *method;       /* "GET" (default) or "PUT" */
	const char *const *headers; /* NULL-terminated "Name: value" lines */
	const char *ca_file;      /* CA bundle for https; NULL: the system's */
	long timeout_ms;          /* whole transfer, 0 = none (watches) */
	long connect_timeout_ms;  /* 0 = 10 s */
	http_data_cb on_data;
	http_done_cb on_done;
	void *ctx;
};

/* 0, or -ENOMEM. */
int http_new(struct loop *loop, struct http **ret);
void http_free(struct http *h);

/* Start a transfer; NULL on failure. The transfer is freed after on_done. */
struct http_transfer *http_start(struct http *h, const struct http_request *req);
/* Abort without calling on_done. */
void http_cancel(struct http *h, struct http_transfer *t);

struct http_stats {
	uint64_t requests;
	uint64_t bytes_in;
	uint64_t failures;        /* transport errors (not HTTP statuses) */
};
void http_get_stats(const struct http *h, struct http_stats *ret);

/* libcurl and the TLS library it was built with, as libcurl names them ("libcurl/7.88.1 OpenSSL/3.0.17") */
const char *http_library_version(void);

#endif
