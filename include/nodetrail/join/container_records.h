/* The container records: container.exited, container.oom_killed and
 * container.exec, from the kernel's events (the detail under "kernel"),
 * joined with the API's status of the container (under "api") when it
 * comes, or from the API alone for an exit the kernel did not see. */
#ifndef NODETRAIL_JOIN_CONTAINER_RECORDS_H
#define NODETRAIL_JOIN_CONTAINER_RECORDS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <cjson/cJSON.h>

#include "nodetrail/join/containers.h"
#include "nodetrail/join/env.h"
#include "nodetrail/join/series.h"
#include "nodetrail/join/window.h"

/* The kernel's side of a main process's exit; *summary: "exited with code 3...". NULL on ENOMEM. */
cJSON *container_exit_detail(const struct container_state *st, const struct nt_exit_event *ev, char *summary,
			     size_t len);
/* The kernel's side of an OOM kill; *summary: "OOM-killed at ...". NULL on ENOMEM. */
cJSON *container_oom_detail(const struct nt_oom_event *ev, char *summary, size_t len);
/* The kernel's side of an exec from outside; *what: "had sh (pid ...) exec'd into it...". NULL on ENOMEM. */
cJSON *container_exec_detail(const struct join_env *env, const struct nt_exec_event *ev, char *what, size_t len);

/* A kernel record of the container of e, ready to wait in the window or
 * go out (takes kernel). An exit's id derives from the container id, so
 * that the kernel's and the API's reports of it are one fact; other ids from
 * the boot, the cgroup and id_a, id_b. NULL on ENOMEM. */
struct pending *container_pending(const struct join_env *env, enum record_type type, const struct cgroup_entry *e,
				  int64_t boot_ns, uint64_t id_a, uint64_t id_b, cJSON *kernel, const char *what,
				  const char *comm, bool is_exit);

/* An exit only the API reported (k's state or lastState t), waiting for the
 * kernel's record of the same exit (the same id). NULL on ENOMEM. */
struct pending *container_api_exit(const struct join_env *env, const struct series *series, const struct kube_pod *pod,
				   const struct kube_container *k, const struct kube_terminated *t, int64_t finished_ns);

/* Write a kernel record: joined with the pod's container when pod names it,
 * the kernel's alone otherwise. */
void container_record_send(const struct join_env *env, const struct series *series, const struct pending *p,
			   const struct kube_pod *pod);
/* Write an API-only exit. */
void container_record_send_api_exit(const struct join_env *env, const struct pending *p);

/* Is the container of this pending's id terminated in the pod's status? */
bool container_confirmed(const struct kube_pod *pod, const char *container_id);

#endif
