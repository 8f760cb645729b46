/* nodetrail: the node agent's entry point. The stages and their wiring are
 * in agent.c; the data flow, in docs/architecture.md. */
#include <malloc.h>
#include <stdio.h>

#include "nodetrail/agent.h"
#include "nodetrail/base/config.h"
#include "nodetrail/base/log.h"

int main(int argc, char **argv)
{
	struct agent *agent = NULL;
	struct config cfg;
	enum log_level level;
	int r;

	switch (config_parse(&cfg, argc, argv, stdout, stderr)) {
	case CONFIG_EXIT_OK:
		return 0;
	case CONFIG_EXIT_VERSION:
		printf("%s\n", agent_libraries());
		return 0;
	case CONFIG_EXIT_ERROR:
		return 2;
	case CONFIG_RUN:
		break;
	}
	if (log_parse_level(cfg.log_level, &level) == 0)
		log_set_level(level);
	/* buffers of 64 KiB and more (list bodies, the checkpoint's text, map tables) come from mmap and go
	 * back whole when freed, instead of staying in the heap between trims */
	mallopt(M_MMAP_THRESHOLD, 64 * 1024);
	r = agent_new(&cfg, &agent);
	if (r == 0)
		r = agent_run(agent);
	agent_free(agent);
	return r < 0 ? 1 : 0;
}
