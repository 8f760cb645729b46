/* The record model: type names, deterministic ids, wait statuses. */
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <openssl/evp.h>

#include "nodetrail/base/record.h"

static const char *const type_names[RECORD_NTYPES] = {
	[RECORD_CONTAINER_EXITED] = "container.exited",
	[RECORD_CONTAINER_OOM_KILLED] = "container.oom_killed",
	[RECORD_CONTAINER_EXEC] = "container.exec",
	[RECORD_POD_STARTED] = "pod.started",
	[RECORD_POD_TERMINATED] = "pod.terminated",
	[RECORD_NODE_TAINT] = "node.taint",
	[RECORD_NODE_CONDITION] = "node.condition",
	[RECORD_NODE_EVENT] = "node.event",
	[RECORD_NODE_INTERRUPTION] = "node.interruption",
	[RECORD_NODE_DRAIN_REPORT] = "node.drain_report",
	[RECORD_AGENT_STATUS] = "agent.status",
	[RECORD_POD_EVENT] = "pod.event",
	[RECORD_AGENT_FILES_PRUNED] = "agent.files_pruned",
};

const char *record_type_name(enum record_type type)
{
	return (unsigned)type < RECORD_NTYPES ? type_names[type] : "unknown";
}

void record_make_id(enum record_type type, const char *boot_id, uint64_t a, uint64_t b, uint64_t c,
		    char ret[RECORD_ID_LEN + 1])
{
	unsigned char digest[32];
	unsigned int dlen = 0;
	char seed[256];
	int n;

	n = snprintf(seed, sizeof(seed), "%s|%s|%llu|%llu|%llu", record_type_name(type), boot_id ? boot_id : "",
		     (unsigned long long)a, (unsigned long long)b, (unsigned long long)c);
	if (n < 0)
		n = 0;
	if ((size_t)n >= sizeof(seed))
		n = sizeof(seed) - 1;
	EVP_Digest(seed, (size_t)n, digest, &dlen, EVP_sha256(), NULL);
	for (int i = 0; i < RECORD_ID_LEN / 2; i++)
		sprintf(ret + 2 * i, "%02x", digest[i]);
	ret[RECORD_ID_LEN] = '\0';
}

void exit_status_decode(uint32_t raw, struct exit_status *ret)
{
	memset(ret, 0, sizeof(*ret));
	ret->signal = raw & 0x7f;
	ret->core_dumped = (raw & 0x80) != 0;
	if (ret->signal == 0) {
		ret->exited = true;
		ret->code = (raw >> 8) & 0xff;
	}
}

const char *signal_name(int sig)
{
	static char other[16];
	const char *abbrev;

	if (sig <= 0)
		return "none";
	abbrev = sigabbrev_np(sig);
	if (!abbrev) {
		snprintf(other, sizeof(other), "SIG%d", sig);
		return other;
	}
	snprintf(other, sizeof(other), "SIG%s", abbrev);
	return other;
}
