/* libcurl multi on the epoll loop. */
#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <curl/curl.h>

#include "nodetrail/base/http.h"
#include "nodetrail/base/loop.h"

struct http_transfer {
	struct http *h;
	struct http_transfer *prev, *next; /* in h->transfers */
	CURL *easy;
	struct curl_slist *headers;
	http_data_cb on_data;
	http_done_cb on_done;
	void *ctx;
	bool added;               /* in the multi handle; not yet when started from inside curl */
	char err[CURL_ERROR_SIZE];
};

struct http {
	struct loop *loop;
	CURLM *multi;
	uint64_t timer;           /* curl's one timeout, a loop timer (0: none) */
	int in_curl;              /* inside curl_multi_socket_action: a callback of its transfers */
	struct http_transfer *transfers; /* in flight, for http_free */
	struct http_stats stats;
};

static void unlink_transfer(struct http_transfer *t)
{
	if (t->prev)
		t->prev->next = t->next;
	else
		t->h->transfers = t->next;
	if (t->next)
		t->next->prev = t->prev;
}

static void free_transfer(struct http_transfer *t)
{
	unlink_transfer(t);
	if (t->added)
		curl_multi_remove_handle(t->h->multi, t->easy);
	curl_easy_cleanup(t->easy);
	curl_slist_free_all(t->headers);
	free(t);
}

static void check_done(struct http *h)
{
	CURLMsg *msg;
	int left;

	while ((msg = curl_multi_info_read(h->multi, &left))) {
		struct http_transfer *t = NULL;
		long status = 0;

		if (msg->msg != CURLMSG_DONE)
			continue;
		curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, (char **)&t);
		curl_easy_getinfo(msg->easy_handle, CURLINFO_RESPONSE_CODE, &status);
		if (msg->data.result != CURLE_OK) {
			h->stats.failures++;
			if (!t->err[0])
				snprintf(t->err, sizeof(t->err), "%s", curl_easy_strerror(msg->data.result));
		}
		curl_multi_remove_handle(h->multi, t->easy);
		if (t->on_done)
			t->on_done(t->ctx, (int)msg->data.result, status, t->err);
		free_transfer(t);
	}
}

/* Transfers started from inside curl (a watch's data callback starting a
 * list): curl refuses to add a handle there (CURLM_RECURSIVE_API_CALL), so
 * they are added once it has returned; one it still refuses ends at once. */
static void start_deferred(struct http *h)
{
	struct http_transfer *t = h->transfers, *next;

	for (; t; t = next) {
		next = t->next;
		if (t->added)
			continue;
		if (curl_multi_add_handle(h->multi, t->easy) == CURLM_OK) {
			t->added = true;
			continue;
		}
		h->stats.failures++;
		snprintf(t->err, sizeof(t->err), "could not start the transfer");
		if (t->on_done)
			t->on_done(t->ctx, CURLE_FAILED_INIT, 0, t->err);
		next = t->next; /* on_done may have started others (at the head) or cancelled this one's next */
		free_transfer(t);
	}
}

static void socket_action(struct http *h, curl_socket_t fd, int flags)
{
	int running;

	h->in_curl++;
	curl_multi_socket_action(h->multi, fd, flags, &running);
	h->in_curl--;
	start_deferred(h);
	check_done(h);
}

static void on_socket_event(struct loop *loop, int fd, uint32_t events, void *data)
{
	struct http *h = data;
	int flags = 0;

	if (events & EPOLLIN)
		flags |= CURL_CSELECT_IN;
	if (events & EPOLLOUT)
		flags |= CURL_CSELECT_OUT;
	if (events & (EPOLLERR | EPOLLHUP))
		flags |= CURL_CSELECT_ERR;
	socket_action(h, fd, flags);
}

static void on_timer(struct loop *loop, uint64_t id, void *data)
{
	struct http *h = data;

	h->timer = 0;
	socket_action(h, CURL_SOCKET_TIMEOUT, 0);
}

static int socket_cb(CURL *easy, curl_socket_t fd, int what, void *userp, void *socketp)
{
	struct http *h = userp;
	uint32_t events = 0;

	if (what == CURL_POLL_REMOVE) {
		loop_del_fd(h->loop, fd);
		return 0;
	}
	if (what & CURL_POLL_IN)
		events |= EPOLLIN;
	if (what & CURL_POLL_OUT)
		events |= EPOLLOUT;
	if (loop_mod_fd(h->loop, fd, events) == -ENOENT)
		loop_add_fd(h->loop, fd, events, on_socket_event, h);
	return 0;
}

/* curl asks for one timeout at a time: -1 cancels it, 0 is "now" */
static int timer_cb(CURLM *multi, long timeout_ms, void *userp)
{
	struct http *h = userp;

	loop_timer_del(h->loop, h->timer);
	h->timer = 0;
	if (timeout_ms < 0)
		return 0;
	h->timer = loop_timer_add(h->loop, (uint64_t)timeout_ms, on_timer, h);
	return h->timer ? 0 : -1;
}

int http_new(struct loop *loop, struct http **ret)
{
	struct http *h = calloc(1, sizeof(*h));

	if (!h)
		return -ENOMEM;
	h->loop = loop;
	if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
		goto fail;
	h->multi = curl_multi_init();
	if (!h->multi)
		goto fail;
	curl_multi_setopt(h->multi, CURLMOPT_SOCKETFUNCTION, socket_cb);
	curl_multi_setopt(h->multi, CURLMOPT_SOCKETDATA, h);
	curl_multi_setopt(h->multi, CURLMOPT_TIMERFUNCTION, timer_cb);
	curl_multi_setopt(h->multi, CURLMOPT_TIMERDATA, h);
	*ret = h;
	return 0;
fail:
	http_free(h);
	return -ENOMEM;
}

void http_free(struct http *h)
{
	if (!h)
		return;
	while (h->transfers)
		free_transfer(h->transfers);
	if (h->multi)
		curl_multi_cleanup(h->multi);
	loop_timer_del(h->loop, h->timer);
	free(h);
}

static size_t write_cb(char *data, size_t size, size_t nmemb, void *userp)
{
	struct http_transfer *t = userp;
	size_t n = size * nmemb;

	long status = 0;

	t->h->stats.bytes_in += n;
	curl_easy_getinfo(t->easy, CURLINFO_RESPONSE_CODE, &status);
	if (t->on_data && t->on_data(t->ctx, status, data, n) < 0)
		return 0; /* curl aborts with CURLE_WRITE_ERROR */
	return n;
}

struct http_transfer *http_start(struct http *h, const struct http_request *req)
{
	struct http_transfer *t = calloc(1, sizeof(*t));

	if (!t)
		return NULL;
	t->h = h;
	t->on_data = req->on_data;
	t->on_done = req->on_done;
	t->ctx = req->ctx;
	t->easy = curl_easy_init();
	if (!t->easy)
		goto fail;
	for (const char *const *hd = req->headers; hd && *hd; hd++) {
		struct curl_slist *l = curl_slist_append(t->headers, *hd);

		if (!l)
			goto fail;
		t->headers = l;
	}
	curl_easy_setopt(t->easy, CURLOPT_URL, req->url);
	curl_easy_setopt(t->easy, CURLOPT_PRIVATE, t);
	curl_easy_setopt(t->easy, CURLOPT_WRITEFUNCTION, write_cb);
	curl_easy_setopt(t->easy, CURLOPT_WRITEDATA, t);
	curl_easy_setopt(t->easy, CURLOPT_ERRORBUFFER, t->err);
	curl_easy_setopt(t->easy, CURLOPT_HTTPHEADER, t->headers);
	curl_easy_setopt(t->easy, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(t->easy, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(t->easy, CURLOPT_SSL_VERIFYPEER, 1L);
	curl_easy_setopt(t->easy, CURLOPT_SSL_VERIFYHOST, 2L);
	if (req->ca_file)
		curl_easy_setopt(t->easy, CURLOPT_CAINFO, req->ca_file);
	curl_easy_setopt(t->easy, CURLOPT_CONNECTTIMEOUT_MS, req->connect_timeout_ms ? req->connect_timeout_ms : 10000L);
	if (req->timeout_ms)
		curl_easy_setopt(t->easy, CURLOPT_TIMEOUT_MS, req->timeout_ms);
	if (req->method && strcmp(req->method, "PUT") == 0) {
		curl_easy_setopt(t->easy, CURLOPT_CUSTOMREQUEST, "PUT");
		curl_easy_setopt(t->easy, CURLOPT_POSTFIELDS, "");
	}
	/* a proxy from the environment must not see the bearer token by surprise */
	curl_easy_setopt(t->easy, CURLOPT_NOPROXY, "*");
	if (!h->in_curl) {
		if (curl_multi_add_handle(h->multi, t->easy) != CURLM_OK)
			goto fail;
		t->added = true;
	}
	t->next = h->transfers;
	if (t->next)
		t->next->prev = t;
	h->transfers = t;
	h->stats.requests++;
	return t;
fail:
	curl_slist_free_all(t->headers);
	if (t->easy)
		curl_easy_cleanup(t->easy);
	free(t);
	return NULL;
}

void http_cancel(struct http *h, struct http_transfer *t)
{
	if (t)
		free_transfer(t);
}

void http_get_stats(const struct http *h, struct http_stats *ret)
{
	*ret = h->stats;
}

const char *http_library_version(void)
{
	return curl_version();
}
