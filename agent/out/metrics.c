/* The health and metrics endpoint. */
#include <errno.h>
#include <netdb.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <netinet/in.h>
#include <sys/epoll.h>
#include <unistd.h>

#include "nodetrail/base/loop.h"
#include "nodetrail/out/metrics.h"

#define REQUEST_MAX 4096

struct client {
	int fd;
	uint64_t accepted;        /* order of acceptance: the oldest is evicted when full */
	size_t len;
	char buf[REQUEST_MAX];
};

struct metrics_server {
	struct metrics_options opts;
	struct loop *loop;
	int fd;
	int port;
	uint64_t accepts;
	struct client clients[METRICS_MAX_CLIENTS];
	struct metrics_stats stats;
};

static void client_close(struct metrics_server *m, struct client *c)
{
	loop_del_fd(m->loop, c->fd);
	close(c->fd);
	c->fd = -1;
	c->len = 0;
}

static void send_all(int fd, const char *buf, size_t len)
{
	/* small answers on a fresh socket: the send buffer takes them whole;
	 * a client that does not read loses the rest, the loop never waits */
	while (len) {
		ssize_t n = send(fd, buf, len, MSG_NOSIGNAL | MSG_DONTWAIT);

		if (n <= 0)
			return;
		buf += n;
		len -= (size_t)n;
	}
}

/* head: a HEAD request, answered with the GET's headers and no body (RFC 9110 9.3.2) */
static void respond(int fd, bool head, int status, const char *reason, const char *type, const char *body,
		    size_t len)
{
	char hdr[256];
	int n = snprintf(hdr, sizeof(hdr),
			 "HTTP/1.1 %d %s\r\nContent-Type: %s\r\nContent-Length: %zu\r\nConnection: close\r\n\r\n", status,
			 reason, type, len);

	send_all(fd, hdr, (size_t)n);
	if (!head)
		send_all(fd, body, len);
}

static void answer(struct metrics_server *m, struct client *c)
{
	char method[16], path[256], why[256];
	char *body = NULL;
	size_t len = 0;
	bool head;
	FILE *out;

	m->stats.requests++;
	if (sscanf(c->buf, "%15s %255s", method, path) != 2) {
		m->stats.refused++;
		respond(c->fd, false, 400, "Bad Request", "text/plain", "bad request\n", 12);
		return;
	}
	path[strcspn(path, "?")] = '\0';
	head = strcmp(method, "HEAD") == 0;
	if (strcmp(method, "GET") != 0 && strcmp(method, "HEAD") != 0) {
		respond(c->fd, head, 405, "Method Not Allowed", "text/plain", "read-only: GET only\n", 20);
	} else if (strcmp(path, "/healthz") == 0) {
		respond(c->fd, head, 200, "OK", "text/plain", "ok\n", 3);
	} else if (strcmp(path, "/readyz") == 0) {
		if (m->opts.ready(m->opts.ctx, why, sizeof(why))) {
			respond(c->fd, head, 200, "OK", "text/plain", "ready\n", 6);
		} else {
			strncat(why, "\n", sizeof(why) - strlen(why) - 1);
			respond(c->fd, head, 503, "Service Unavailable", "text/plain", why, strlen(why));
		}
	} else if (strcmp(path, "/metrics") == 0 && (out = open_memstream(&body, &len))) {
		m->opts.render(m->opts.ctx, out);
		fclose(out);
		respond(c->fd, head, 200, "OK", "text/plain; version=0.0.4", body, len);
		free(body);
	} else {
		respond(c->fd, head, 404, "Not Found", "text/plain", "not found: /healthz, /readyz, /metrics\n", 39);
	}
}

static void on_client(struct loop *loop, int fd, uint32_t events, void *data)
{
	struct metrics_server *m = data;
	struct client *c = NULL;
	ssize_t n;

	for (int i = 0; i < METRICS_MAX_CLIENTS; i++)
		if (m->clients[i].fd == fd)
			c = &m->clients[i];
	if (!c)
		return;
	n = recv(fd, c->buf + c->len, sizeof(c->buf) - 1 - c->len, MSG_DONTWAIT);
	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return;
	if (n <= 0) {
		client_close(m, c);
		return;
	}
	c->len += (size_t)n;
	c->buf[c->len] = '\0';
	if (strstr(c->buf, "\r\n\r\n") || strstr(c->buf, "\n\n")) {
		answer(m, c);
	} else if (c->len < sizeof(c->buf) - 1) {
		return; /* the rest of the request is on its way */
	} else {
		m->stats.refused++;
		respond(fd, false, 431, "Request Header Fields Too Large", "text/plain", "request too large\n", 18);
	}
	client_close(m, c);
}

static void on_accept(struct loop *loop, int fd, uint32_t events, void *data)
{
	struct metrics_server *m = data;
	int cfd;

	while ((cfd = accept4(fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC)) >= 0) {
		struct client *c = NULL, *oldest = &m->clients[0];

		for (int i = 0; i < METRICS_MAX_CLIENTS && !c; i++) {
			if (m->clients[i].fd < 0)
				c = &m->clients[i];
			else if (m->clients[i].accepted < oldest->accepted)
				oldest = &m->clients[i];
		}
		if (!c) {
			/* full of clients that send nothing: the oldest goes, so that the
			 * kubelet's probe is always answered */
			m->stats.refused++;
			client_close(m, oldest);
			c = oldest;
		}
		if (loop_add_fd(m->loop, cfd, EPOLLIN, on_client, m) < 0) {
			m->stats.refused++;
			close(cfd);
			continue;
		}
		c->fd = cfd;
		c->accepted = ++m->accepts;
		c->len = 0;
	}
}

/* "host:port", "[v6]:port" or ":port" */
static int split_addr(const char *addr, char *host, size_t hlen, char *port, size_t plen)
{
	const char *colon = strrchr(addr, ':');

	if (!colon || !colon[1])
		return -EINVAL;
	if (addr[0] == '[') {
		const char *end = strchr(addr, ']');

		if (!end || end + 1 != colon)
			return -EINVAL;
		snprintf(host, hlen, "%.*s", (int)(end - addr - 1), addr + 1);
	} else {
		snprintf(host, hlen, "%.*s", (int)(colon - addr), addr);
	}
	snprintf(port, plen, "%s", colon + 1);
	return 0;
}

int metrics_server_new(struct loop *loop, const struct metrics_options *opts, struct metrics_server **ret, char *err,
		       size_t errlen)
{
	struct addrinfo hints = { .ai_socktype = SOCK_STREAM, .ai_flags = AI_PASSIVE | AI_NUMERICHOST | AI_NUMERICSERV };
	struct addrinfo *ai = NULL;
	struct metrics_server *m;
	struct sockaddr_storage ss;
	socklen_t sl = sizeof(ss);
	char host[256], port[16];
	int one = 1, r;

	if (split_addr(opts->addr, host, sizeof(host), port, sizeof(port)) < 0) {
		snprintf(err, errlen, "--metrics-addr %s: want host:port, [v6]:port or :port", opts->addr);
		return -EINVAL;
	}
	r = getaddrinfo(host[0] ? host : NULL, port, &hints, &ai);
	if (r != 0) {
		snprintf(err, errlen, "--metrics-addr %s: %s", opts->addr, gai_strerror(r));
		return -EINVAL;
	}
	m = calloc(1, sizeof(*m));
	if (!m) {
		freeaddrinfo(ai);
		return -ENOMEM;
	}
	m->opts = *opts;
	m->loop = loop;
	for (int i = 0; i < METRICS_MAX_CLIENTS; i++)
		m->clients[i].fd = -1;
	m->fd = socket(ai->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (m->fd < 0 || setsockopt(m->fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) < 0 ||
	    bind(m->fd, ai->ai_addr, ai->ai_addrlen) < 0 || listen(m->fd, 16) < 0 ||
	    getsockname(m->fd, (struct sockaddr *)&ss, &sl) < 0) {
		r = -errno;
		snprintf(err, errlen, "--metrics-addr %s: %s", opts->addr, strerror(-r));
		freeaddrinfo(ai);
		metrics_server_free(m);
		return r;
	}
	freeaddrinfo(ai);
	m->port = ntohs(ss.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)&ss)->sin6_port :
						   ((struct sockaddr_in *)&ss)->sin_port);
	r = loop_add_fd(loop, m->fd, EPOLLIN, on_accept, m);
	if (r < 0) {
		snprintf(err, errlen, "--metrics-addr %s: %s", opts->addr, strerror(-r));
		metrics_server_free(m);
		return r;
	}
	*ret = m;
	return 0;
}

void metrics_server_free(struct metrics_server *m)
{
	if (!m)
		return;
	for (int i = 0; i < METRICS_MAX_CLIENTS; i++)
		if (m->clients[i].fd >= 0)
			client_close(m, &m->clients[i]);
	if (m->fd >= 0) {
		loop_del_fd(m->loop, m->fd);
		close(m->fd);
	}
	free(m);
}

void metrics_server_get_stats(const struct metrics_server *m, struct metrics_stats *ret)
{
	*ret = m->stats;
}

int metrics_server_port(const struct metrics_server *m)
{
	return m->port;
}
