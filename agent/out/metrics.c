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

/* the endpoint takes at most half of the loop's fds: the API's, IMDS's and
 * the writer's need the rest */
_Static_assert(METRICS_MAX_ADDRS * (1 + METRICS_MAX_CLIENTS) <= LOOP_MAX_FDS / 2,
	       "the metrics endpoint's sockets must fit in half of the loop");

struct client {
	int fd;
	uint64_t accepted;        /* order of acceptance: the oldest is evicted when full */
	size_t len;
	char buf[REQUEST_MAX];
};

/* One address of --metrics-addr with its own connections: a client of one
 * address never evicts a client of another. */
struct listener {
	struct metrics_server *m;
	int fd;
	int port;
	uint64_t accepts;
	struct client clients[METRICS_MAX_CLIENTS];
};

struct metrics_server {
	struct metrics_options opts;
	struct loop *loop;
	struct metrics_stats stats;
	size_t n_listeners;
	struct listener listeners[]; /* one per address, in the order given */
};

static void client_close(struct listener *l, struct client *c)
{
	loop_del_fd(l->m->loop, c->fd);
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
	struct listener *l = data;
	struct metrics_server *m = l->m;
	struct client *c = NULL;
	ssize_t n;

	for (int i = 0; i < METRICS_MAX_CLIENTS; i++)
		if (l->clients[i].fd == fd)
			c = &l->clients[i];
	if (!c)
		return;
	n = recv(fd, c->buf + c->len, sizeof(c->buf) - 1 - c->len, MSG_DONTWAIT);
	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return;
	if (n <= 0) {
		client_close(l, c);
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
	client_close(l, c);
}

static void on_accept(struct loop *loop, int fd, uint32_t events, void *data)
{
	struct listener *l = data;
	struct metrics_server *m = l->m;
	int cfd;

	while ((cfd = accept4(fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC)) >= 0) {
		struct client *c = NULL, *oldest = &l->clients[0];

		for (int i = 0; i < METRICS_MAX_CLIENTS && !c; i++) {
			if (l->clients[i].fd < 0)
				c = &l->clients[i];
			else if (l->clients[i].accepted < oldest->accepted)
				oldest = &l->clients[i];
		}
		if (!c) {
			/* full of clients that send nothing: this address's oldest goes, so
			 * that the kubelet's probe is always answered */
			m->stats.refused++;
			client_close(l, oldest);
			c = oldest;
		}
		if (loop_add_fd(m->loop, cfd, EPOLLIN, on_client, l) < 0) {
			m->stats.refused++;
			close(cfd);
			continue;
		}
		c->fd = cfd;
		c->accepted = ++l->accepts;
		c->len = 0;
	}
}

/* "host:port", "[v6]:port" or ":port"; a bare IPv6 host is split at its last
 * colon, so "$(HOST_IP):17390" works on IPv6 nodes too */
static int split_addr(const char *addr, char *host, size_t hlen, char *port, size_t plen)
{
	const char *colon = strrchr(addr, ':');
	unsigned long n;

	if (!colon || !colon[1] || colon[1 + strspn(colon + 1, "0123456789")] != '\0')
		return -EINVAL;
	errno = 0;
	n = strtoul(colon + 1, NULL, 10);
	if (errno || n > 65535)
		return -EINVAL;
	if (addr[0] == '[') {
		const char *end = strchr(addr, ']');

		if (!end || end + 1 != colon)
			return -EINVAL;
		snprintf(host, hlen, "%.*s", (int)(end - addr - 1), addr + 1);
	} else {
		snprintf(host, hlen, "%.*s", (int)(colon - addr), addr);
	}
	snprintf(port, plen, "%lu", n);
	return 0;
}

/* Bind and listen on one address (text in addr) and watch it on the loop. */
static int listener_open(struct metrics_server *m, struct listener *l, const char *addr, char *err, size_t errlen)
{
	struct addrinfo hints = { .ai_socktype = SOCK_STREAM, .ai_flags = AI_PASSIVE | AI_NUMERICHOST | AI_NUMERICSERV };
	struct addrinfo *ai = NULL;
	struct sockaddr_storage ss;
	socklen_t sl = sizeof(ss);
	char host[256], port[16];
	int one = 1, r;

	if (split_addr(addr, host, sizeof(host), port, sizeof(port)) < 0) {
		snprintf(err, errlen, "--metrics-addr '%s': want host:port, [v6]:port or :port (port 0-65535)", addr);
		return -EINVAL;
	}
	r = getaddrinfo(host[0] ? host : NULL, port, &hints, &ai);
	if (r != 0) {
		/* no names: the address must not depend on DNS at start */
		snprintf(err, errlen, "--metrics-addr '%s': %s", addr,
			 strstr(host, "$(") ? "holds a $(VAR) that Kubernetes did not expand: define the variable above "
					      "NODETRAIL_METRICS_ADDR in env" :
			 r == EAI_NONAME    ? "not a numeric IPv4 or IPv6 address" :
					      gai_strerror(r));
		return -EINVAL;
	}
	l->fd = socket(ai->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (l->fd < 0 || setsockopt(l->fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) < 0 ||
	    bind(l->fd, ai->ai_addr, ai->ai_addrlen) < 0 || listen(l->fd, 16) < 0 ||
	    getsockname(l->fd, (struct sockaddr *)&ss, &sl) < 0) {
		r = -errno;
		snprintf(err, errlen, "--metrics-addr '%s': %s%s", addr, strerror(-r),
			 r == -EADDRNOTAVAIL ? " (not an address of this node)" :
			 r == -EADDRINUSE    ? " (another process listens there, or the list names it twice)" :
					       "");
		freeaddrinfo(ai);
		return r;
	}
	freeaddrinfo(ai);
	l->port = ntohs(ss.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)&ss)->sin6_port :
						   ((struct sockaddr_in *)&ss)->sin_port);
	r = loop_add_fd(m->loop, l->fd, EPOLLIN, on_accept, l);
	if (r < 0) {
		snprintf(err, errlen, "--metrics-addr '%s': %s", addr, strerror(-r));
		return r;
	}
	return 0;
}

int metrics_server_new(struct loop *loop, const struct metrics_options *opts, struct metrics_server **ret, char *err,
		       size_t errlen)
{
	const char *p = opts->addr;
	struct metrics_server *m;
	size_t n = 1;
	int r;

	for (const char *c = opts->addr; *c; c++)
		n += *c == ',';
	if (n > METRICS_MAX_ADDRS) {
		snprintf(err, errlen, "--metrics-addr %s: at most %d addresses", opts->addr, METRICS_MAX_ADDRS);
		return -EINVAL;
	}
	m = calloc(1, sizeof(*m) + n * sizeof(m->listeners[0]));
	if (!m)
		return -ENOMEM;
	m->opts = *opts;
	m->loop = loop;
	m->n_listeners = n;
	for (size_t i = 0; i < n; i++) {
		m->listeners[i].m = m;
		m->listeners[i].fd = -1;
		for (int j = 0; j < METRICS_MAX_CLIENTS; j++)
			m->listeners[i].clients[j].fd = -1;
	}
	for (size_t i = 0; i < n; i++) {
		size_t len = strcspn(p, ",");
		char addr[256];

		/* blanks around an address are the list's formatting, not the address */
		while (len && (*p == ' ' || *p == '\t')) {
			p++;
			len--;
		}
		while (len && (p[len - 1] == ' ' || p[len - 1] == '\t'))
			len--;
		if (!len || len >= sizeof(addr)) {
			snprintf(err, errlen, "--metrics-addr %s: address %zu of the list is %s", opts->addr, i + 1,
				 len ? "too long" : "empty");
			metrics_server_free(m);
			return -EINVAL;
		}
		snprintf(addr, sizeof(addr), "%.*s", (int)len, p);
		r = listener_open(m, &m->listeners[i], addr, err, errlen);
		if (r < 0) {
			metrics_server_free(m);
			return r;
		}
		p += strcspn(p, ",");
		p += *p == ',';
	}
	*ret = m;
	return 0;
}

void metrics_server_free(struct metrics_server *m)
{
	if (!m)
		return;
	for (size_t i = 0; i < m->n_listeners; i++) {
		struct listener *l = &m->listeners[i];

		for (int j = 0; j < METRICS_MAX_CLIENTS; j++)
			if (l->clients[j].fd >= 0)
				client_close(l, &l->clients[j]);
		if (l->fd >= 0) {
			loop_del_fd(m->loop, l->fd);
			close(l->fd);
		}
	}
	free(m);
}

void metrics_server_get_stats(const struct metrics_server *m, struct metrics_stats *ret)
{
	*ret = m->stats;
}

int metrics_server_port(const struct metrics_server *m)
{
	return m->listeners[0].port;
}
