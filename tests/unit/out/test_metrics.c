/* metrics: the --metrics-addr list (up to METRICS_MAX_ADDRS numeric addresses, each error naming
 * its address, nothing left listening after one), and each address bounded on its own: a flood of
 * idle clients on one never evicts the connections of another. */
#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>
#include <cmocka.h>

#include "nodetrail/base/loop.h"
#include "nodetrail/out/metrics.h"

struct fx {
	struct loop *loop;
	struct metrics_server *m;
};

static bool always_ready(void *ctx, char *why, size_t len)
{
	return true;
}

static void render_one(void *ctx, FILE *out)
{
	fputs("nodetrail_test 1\n", out);
}

static const struct metrics_options base_opts = { .ready = always_ready, .render = render_one };

static int setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));

	assert_int_equal(loop_new(&f->loop), 0);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fx *f = *state;

	metrics_server_free(f->m);
	loop_free(f->loop);
	free(f);
	return 0;
}

static int tcp_socket(const char *ip, int port, bool do_connect)
{
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port) };
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

	assert_true(fd >= 0);
	assert_int_equal(inet_pton(AF_INET, ip, &sa.sin_addr), 1);
	if (do_connect)
		assert_int_equal(connect(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	else if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0)
		return close(fd), -1;
	return fd;
}

/* a port free on 127.0.0.1 and 127.0.0.2 at once: the DaemonSet's one port on two addresses */
static int free_port(void)
{
	for (int tries = 0; tries < 50; tries++) {
		struct sockaddr_in sa;
		socklen_t sl = sizeof(sa);
		int a = tcp_socket("127.0.0.1", 0, false), b, port;

		assert_true(a >= 0);
		assert_int_equal(getsockname(a, (struct sockaddr *)&sa, &sl), 0);
		port = ntohs(sa.sin_port);
		b = tcp_socket("127.0.0.2", port, false);
		close(a);
		if (b >= 0) {
			close(b);
			return port;
		}
	}
	fail_msg("no port free on both 127.0.0.1 and 127.0.0.2");
	return -1;
}

static void turn(struct loop *loop)
{
	for (int i = 0; i < 4; i++)
		assert_int_equal(loop_run_once(loop, 2), 0);
}

/* GET path on an open connection: the status code */
static int request(struct loop *loop, int fd, const char *path)
{
	char req[128], resp[512];
	ssize_t n;
	int status = 0;

	snprintf(req, sizeof(req), "GET %s HTTP/1.1\r\nHost: x\r\n\r\n", path);
	assert_int_equal(send(fd, req, strlen(req), MSG_NOSIGNAL), (ssize_t)strlen(req));
	turn(loop);
	n = recv(fd, resp, sizeof(resp) - 1, MSG_DONTWAIT);
	if (n <= 0)
		return 0; /* closed unanswered: evicted */
	resp[n] = '\0';
	sscanf(resp, "HTTP/1.1 %d", &status);
	return status;
}

static void test_bad_lists(void **state)
{
	static const struct {
		const char *addr, *needle;
		int err;
	} cases[] = {
		{ "127.0.0.1:0,localhost:9100", "'localhost:9100': not a numeric IPv4 or IPv6 address", -EINVAL },
		{ "127.0.0.1:0,$(HOST_IP):17390", "'$(HOST_IP):17390': holds a $(VAR)", -EINVAL },
		{ "127.0.0.1:0,,127.0.0.2:0", "address 2 of the list is empty", -EINVAL },
		{ "127.0.0.1:0,", "address 2 of the list is empty", -EINVAL },
		{ "127.0.0.1:0,127.0.0.2:0,127.0.0.3:0,127.0.0.4:0", "at most 3 addresses", -EINVAL },
		{ "127.0.0.1:65536", "'127.0.0.1:65536': want host:port", -EINVAL },
		{ "127.0.0.1:-1", "'127.0.0.1:-1': want host:port", -EINVAL },
		{ "127.0.0.1", "'127.0.0.1': want host:port", -EINVAL },
		{ "[::1:0", "'[::1:0': want host:port", -EINVAL },
		{ "127.0.0.1:0,192.0.2.1:17390", "'192.0.2.1:17390': Cannot assign requested address", -EADDRNOTAVAIL },
	};
	struct fx *f = *state;

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct metrics_options o = base_opts;
		char err[512] = "";

		o.addr = cases[i].addr;
		assert_int_equal(metrics_server_new(f->loop, &o, &f->m, err, sizeof(err)), cases[i].err);
		assert_null(f->m);
		if (!strstr(err, cases[i].needle))
			fail_msg("%s: '%s' has no '%s'", cases[i].addr, err, cases[i].needle);
	}
}

/* a failure on the second address leaves nothing listening on the first */
static void test_all_or_nothing(void **state)
{
	struct fx *f = *state;
	struct metrics_options o = base_opts;
	int port = free_port(), fd;
	char addr[64], err[256];

	snprintf(addr, sizeof(addr), "127.0.0.1:%d,127.0.0.1:%d", port, port);
	o.addr = addr;
	assert_int_equal(metrics_server_new(f->loop, &o, &f->m, err, sizeof(err)), -EADDRINUSE);
	assert_non_null(strstr(err, "Address already in use"));
	fd = tcp_socket("127.0.0.1", port, false);
	assert_true(fd >= 0); /* free again */
	close(fd);
}

static void test_two_addresses_bounded_apart(void **state)
{
	struct fx *f = *state;
	struct metrics_options o = base_opts;
	struct metrics_stats st;
	int port = free_port(), probes[3], flood[20];
	char addr[64], err[256];

	/* blanks around the addresses are allowed */
	snprintf(addr, sizeof(addr), "127.0.0.1:%d, 127.0.0.2:%d", port, port);
	o.addr = addr;
	assert_int_equal(metrics_server_new(f->loop, &o, &f->m, err, sizeof(err)), 0);
	assert_int_equal(metrics_server_port(f->m), port);

	for (int i = 0; i < 3; i++)
		probes[i] = tcp_socket("127.0.0.1", port, true);
	turn(f->loop);
	for (int i = 0; i < 20; i++) {
		flood[i] = tcp_socket("127.0.0.2", port, true);
		turn(f->loop); /* accepted before the next: the listen backlog is short */
	}
	/* the flooded address evicts its own oldest and still answers a new client */
	{
		int fd = tcp_socket("127.0.0.2", port, true);

		turn(f->loop);
		assert_int_equal(request(f->loop, fd, "/metrics"), 200);
		close(fd);
	}
	/* loopback's connections, older than all of the flood, are all still there */
	for (int i = 0; i < 3; i++) {
		assert_int_equal(request(f->loop, probes[i], "/healthz"), 200);
		close(probes[i]);
	}
	metrics_server_get_stats(f->m, &st);
	assert_int_equal(st.refused, 20 + 1 - METRICS_MAX_CLIENTS);
	assert_int_equal(st.requests, 4);
	for (int i = 0; i < 20; i++)
		close(flood[i]);
	turn(f->loop);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_bad_lists, setup, teardown),
		cmocka_unit_test_setup_teardown(test_all_or_nothing, setup, teardown),
		cmocka_unit_test_setup_teardown(test_two_addresses_bounded_apart, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
