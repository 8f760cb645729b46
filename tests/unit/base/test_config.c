/* config: defaults, environment, flags, errors, the output file name. */
#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <regex.h>
#include <cmocka.h>

#include "nodetrail/base/config.h"

static FILE *devnull;

static int setup(void **state)
{
	static const char *vars[] = { "NODE_NAME", "CLUSTER_NAME", "NODETRAIL_BPF", "NODETRAIL_OUTPUT_DIR",
				      "POD_NAME", "POD_NAMESPACE", "POD_UID", "CONTAINER_NAME",
				      "NODETRAIL_MAX_FILE_SIZE" };

	for (size_t i = 0; i < sizeof(vars) / sizeof(vars[0]); i++)
		unsetenv(vars[i]);
	devnull = fopen("/dev/null", "w");
	return 0;
}

static int teardown(void **state)
{
	fclose(devnull);
	return 0;
}

static enum config_result parse(struct config *cfg, int argc, char **argv)
{
	return config_parse(cfg, argc, argv, devnull, devnull);
}

static void test_defaults(void **state)
{
	char *argv[] = { "nodetrail", NULL };
	struct config cfg;

	assert_int_equal(parse(&cfg, 1, argv), CONFIG_RUN);
	assert_string_equal(cfg.output_dir, "/var/log/containers");
	assert_string_equal(cfg.state_dir, "/var/lib/nodetrail");
	assert_string_equal(cfg.cgroup_root, "/sys/fs/cgroup");
	assert_int_equal(cfg.bpf, CONFIG_AUTO);
	assert_int_equal(cfg.max_file_bytes, 10 * 1024 * 1024);
	assert_true(cfg.node_name[0] != '\0'); /* the hostname */
	assert_string_equal(cfg.pod_name, "nodetrail");
}

static void test_env_then_flags(void **state)
{
	char *argv[] = { "nodetrail", "--bpf", "off", "--cluster-name", "flag-cluster", NULL };
	struct config cfg;

	setenv("NODE_NAME", "ip-10-0-0-1.ec2.internal", 1);
	setenv("CLUSTER_NAME", "env-cluster", 1);
	setenv("NODETRAIL_BPF", "on", 1);
	setenv("NODETRAIL_MAX_FILE_SIZE", "2M", 1);
	assert_int_equal(parse(&cfg, 5, argv), CONFIG_RUN);
	assert_string_equal(cfg.node_name, "ip-10-0-0-1.ec2.internal");
	assert_string_equal(cfg.cluster_name, "flag-cluster"); /* the flag wins */
	assert_int_equal(cfg.bpf, CONFIG_OFF);
	assert_int_equal(cfg.max_file_bytes, 2 * 1024 * 1024);
	setup(state);
	fclose(devnull);
}

static void test_errors(void **state)
{
	char *bad_mode[] = { "nodetrail", "--bpf", "maybe", NULL };
	char *bad_num[] = { "nodetrail", "--keep-rotated", "many", NULL };
	char *bad_ring[] = { "nodetrail", "--ringbuf-size", "100", NULL };
	char *unknown[] = { "nodetrail", "--frobnicate", NULL };
	char *extra[] = { "nodetrail", "stray", NULL };
	char *help[] = { "nodetrail", "--help", NULL };
	char *version[] = { "nodetrail", "--version", NULL };
	struct config cfg;

	assert_int_equal(parse(&cfg, 3, bad_mode), CONFIG_EXIT_ERROR);
	assert_int_equal(parse(&cfg, 3, bad_num), CONFIG_EXIT_ERROR);
	assert_int_equal(parse(&cfg, 3, bad_ring), CONFIG_EXIT_ERROR);
	assert_int_equal(parse(&cfg, 2, unknown), CONFIG_EXIT_ERROR);
	assert_int_equal(parse(&cfg, 2, extra), CONFIG_EXIT_ERROR);
	assert_int_equal(parse(&cfg, 2, help), CONFIG_EXIT_OK);
	assert_int_equal(parse(&cfg, 2, version), CONFIG_EXIT_VERSION);
}

/* the name must match Fluent Bit's kubernetes filter regex (DESIGN 5) */
static void test_output_file_name(void **state)
{
	const char *fluent_bit =
		"^(([a-z0-9]([-a-z0-9]*[a-z0-9])?)(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*)_([^_]+)_(.+)-([a-z0-9]{64})\\.log$";
	char *argv[] = { "nodetrail", "--node-name", "ip-10-0-1-23.ec2.internal", NULL };
	char name[256], other[256];
	struct config cfg;
	regex_t re;

	setenv("POD_NAME", "nodetrail-x7k2p", 1);
	setenv("POD_NAMESPACE", "kube-system", 1);
	setenv("POD_UID", "87c52d60-fefd-45a9-a420-895256fc03b5", 1);
	setenv("CONTAINER_NAME", "agent", 1);
	assert_int_equal(parse(&cfg, 3, argv), CONFIG_RUN);
	assert_int_equal(config_output_file_name(&cfg, name, sizeof(name)), 0);
	assert_int_equal(regcomp(&re, fluent_bit, REG_EXTENDED), 0);
	assert_int_equal(regexec(&re, name, 0, NULL, 0), 0);
	assert_int_equal(strncmp(name, "nodetrail-x7k2p_kube-system_agent-", 34), 0);
	regfree(&re);
	assert_true(strlen(name) <= 255);

	/* another node: another id, so two agents never share a name */
	strcpy(cfg.node_name, "ip-10-0-1-24.ec2.internal");
	assert_int_equal(config_output_file_name(&cfg, other, sizeof(other)), 0);
	assert_string_not_equal(name, other);

	/* a name over 255 bytes is refused, not cut */
	memset(cfg.pod_name, 'a', 240);
	cfg.pod_name[240] = '\0';
	assert_int_equal(config_output_file_name(&cfg, name, sizeof(name)), -ENAMETOOLONG);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_defaults, setup, teardown),
		cmocka_unit_test_setup_teardown(test_env_then_flags, setup, NULL),
		cmocka_unit_test_setup_teardown(test_errors, setup, teardown),
		cmocka_unit_test_setup_teardown(test_output_file_name, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
