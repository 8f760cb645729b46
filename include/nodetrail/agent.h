/* The agent: every stage built from the configuration and wired on one
 * loop (kernel probes -> join <- API and IMDS; join -> sink -> writer),
 * with the checkpoint that carries their state across a restart. */
#ifndef NODETRAIL_AGENT_H
#define NODETRAIL_AGENT_H

#include "nodetrail/base/config.h"

struct agent;

/* Build and start every stage (the first API list, IMDS's token and the
 * startup scan are under way). Logs what fails, once. 0, or -errno. */
int agent_new(const struct config *cfg, struct agent **ret);
/* Run until SIGTERM or SIGINT; then drain, write the last records and the
 * checkpoint. 0, or -errno when the last records could not be written. */
int agent_run(struct agent *a);
void agent_free(struct agent *a);

/* The libraries the agent runs with, for --version ("libcurl/... libbpf 1.1"). */
const char *agent_libraries(void);

#endif
