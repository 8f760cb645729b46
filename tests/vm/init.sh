#!/bin/sh
# /init of the test VM (busybox sh): a pure cgroup v2 host with no systemd, the agent, runc and the
# real-kernel scenarios. Each prints "NT-SCENARIO <name> PASS" or "NT-SCENARIO <name> FAIL <why>" on
# the serial console; "NT-DONE" ends the run. tests/vm/run.sh reads them.
export PATH=/bin:/sbin:/usr/bin:/usr/sbin
mkdir -p /proc /sys /dev
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
mkdir -p /run /tmp /out /state /sys/fs/cgroup
mount -t tmpfs tmpfs /run
mount -t tmpfs tmpfs /tmp
mount -t cgroup2 cgroup2 /sys/fs/cgroup
# a line of its own: the firmware's last line ("Booting from ROM..") has no newline under `quiet`
echo
echo "NT-KERNEL $(uname -r)"
echo "NT-CGROUP $(grep -c ' cgroup ' /proc/mounts) v1 mounts, cgroup2 controllers: $(cat /sys/fs/cgroup/cgroup.controllers)"
echo "NT-BTF $(ls -la /sys/kernel/btf/vmlinux 2>&1)"
# which mark_victim this kernel has (its fields changed with its arguments in 6.8: (int pid) before,
# (struct task_struct *, uid_t) since); tracefs is unmounted again, the agent does not need it
mkdir -p /sys/kernel/tracing
if mount -t tracefs tracefs /sys/kernel/tracing 2>/dev/null; then
	echo "NT-TRACEPOINT mark_victim fields: $(grep -o 'field:[^;]*' /sys/kernel/tracing/events/oom/mark_victim/format 2>/dev/null |
		grep -v common_ | sed 's/.* //' | tr '\n' ' ')"
	umount /sys/kernel/tracing
fi

fail=0
reported=" "
pass() { echo "NT-SCENARIO $1 PASS"; reported="$reported$1 "; }
failed() { echo "NT-SCENARIO $1 FAIL $2"; fail=1; reported="$reported$1 "; }

# every scenario of run_suite, in order: whatever a suite did not reach (the agent did not start, say)
# is reported as a failure, so every kernel reports the same number of scenarios (tests/vm/matrix.sh
# compares them)
SCENARIOS="agent_started exit_code_cgroupfs exit_code_systemd sigterm_sender sigkill_fatal
	exec_into_container oom_group_limit oom_group_every_victim oom_group_exit busy_descendant
	preexisting_container agent_stopped kernel_filter"
not_reached() {
	for s in $SCENARIOS; do
		case "$reported" in *" ${s}_$1 "*) ;; *) failed "${s}_$1" "not reached: $2" ;; esac
	done
}

# kubelet's roots for both drivers' layouts, with the memory controller enabled down to the pods
echo "+memory +pids" >/sys/fs/cgroup/cgroup.subtree_control
for d in kubepods kubepods/burstable kubepods.slice kubepods.slice/kubepods-burstable.slice; do
	mkdir -p /sys/fs/cgroup/$d
	echo "+memory +pids" >/sys/fs/cgroup/$d/cgroup.subtree_control
done

# new_container LAYOUT ARGS...: writes the bundle, prints "<id> <name> <cgroup path>"
new_container() {
	layout=$1; shift
	id=$(head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n' | cut -c1-64)
	name=c$(echo "$id" | cut -c1-12)
	uid=$(cat /proc/sys/kernel/random/uuid)
	if [ "$layout" = systemd ]; then
		u=$(echo "$uid" | tr - _)
		pod=/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod$u.slice
		cg=$pod/cri-containerd-$id.scope
	else
		pod=/kubepods/burstable/pod$uid
		cg=$pod/$id
	fi
	mkdir -p /sys/fs/cgroup$pod
	echo "+memory +pids" >/sys/fs/cgroup$pod/cgroup.subtree_control
	b=/run/bundles/$name
	mkdir -p $b
	args=""
	for a in "$@"; do args="$args\"$a\","; done
	args=$(echo "${args%,}" | sed 's/[&|\\]/\\&/g')
	sed -e "s|@ARGS@|$args|" -e "s|@CGROUP@|$cg|" -e "s|@MEM@|${MEM:-0}|" /vm/config.json.in >$b/config.json
	echo "$id $name $cg"
}

# start_container ID NAME: create and start in the background (stdio to a file)
start_container() {
	if ! runc create --no-pivot --bundle /run/bundles/$2 $2 </dev/null >/run/bundles/$2/out 2>&1 ||
		! runc start $2 >>/run/bundles/$2/out 2>&1; then
		echo "NT-LOG runc $2: $(tail -3 /run/bundles/$2/out)"
	fi
}

wait_stopped() {
	for i in $(seq 1 200); do
		runc state $1 2>/dev/null | grep -q '"status": "stopped"' && return 0
		[ -z "$(runc state $1 2>/dev/null)" ] && return 0
		sleep 0.1
	done
	return 1
}

records() { cat /out/*.log 2>/dev/null; }

# wait_record ID TYPE: the record's line, within 20 s
wait_record() {
	for i in $(seq 1 200); do
		line=$(records | grep "\"id\":\"$1\"" | grep "\"type\":\"$2\"" | head -1)
		[ -n "$line" ] && { echo "$line"; return 0; }
		sleep 0.1
	done
	return 1
}

# expect NAME LINE PATTERN...: every pattern is in the line
expect() {
	name=$1 line=$2; shift 2
	[ -n "$line" ] || { failed "$name" "no record"; return; }
	for p in "$@"; do
		echo "$line" | grep -qF "$p" || { failed "$name" "missing $p in: $(echo "$line" | cut -c1-600)"; return; }
	done
	pass "$name"
}

# the whole suite once per attach method: tp_btf, and the raw_tp fallback
run_suite() {
	attach=$1
	# the second pass also captures exec arguments (opt-in): the verifier of this kernel sees that path
	extra=""
	args_expected='"exe":"/bin/true"'
	if [ "$attach" = raw_tp ]; then
		extra="--exec-args on"
		args_expected='"args":["/bin/true","--token","<redacted>"]'
	fi
	rm -rf /out /state
	mkdir -p /out /state
	# a container already running when the agent starts (found by the startup scan)
	set -- $(new_container cgroupfs sh -c "sleep 5; exit 9")
	pre_id=$1 pre_name=$2
	start_container $pre_id $pre_name

	/vm/nodetrail --bpf on --api off --imds off --output-dir /out --state-dir /state --node-name vm-node \
		--cluster-name vm --status-interval 0 --attach $attach $extra 2>/run/agent.log &
	agent=$!
	for i in $(seq 1 600); do records | grep -q '"state":"started"' && break; sleep 0.1; done
	if records | grep -q '"state":"started"'; then
		pass agent_started_$attach
		echo "NT-STATUS $(records | grep '"state":"started"' | grep -o '"attach":"[a-z_]*"\|"cgroup_mode":"[a-z0-9]*"\|"cgroup_ids":"[a-z]*"' | tr '\n' ' ')"
	else
		failed agent_started_$attach "$(tail -5 /run/agent.log)"
		return
	fi

	# exit code, cgroupfs driver layout
	set -- $(new_container cgroupfs sh -c "exit 3"); id=$1
	start_container $1 $2; wait_stopped $2
	expect exit_code_cgroupfs_$attach "$(wait_record $id container.exited)" '"exit_code":3' '"pod":{"uid"'

	# exit code, systemd driver layout
	set -- $(new_container systemd sh -c "exit 4"); id=$1
	start_container $1 $2; wait_stopped $2
	expect exit_code_systemd_$attach "$(wait_record $id container.exited)" '"exit_code":4' '"cgroup":"/kubepods.slice/'

	# SIGTERM from outside, handled (PID 1 of a pid namespace ignores what it does not handle)
	set -- $(new_container cgroupfs sh -c "trap 'exit 143' TERM; while true; do sleep 0.2; done"); id=$1 name=$2
	start_container $1 $2; sleep 0.5; runc kill $name TERM; wait_stopped $name
	expect sigterm_sender_$attach "$(wait_record $id container.exited)" '"exit_code":143' '"signal":"SIGTERM"' '"sender":"external"'

	# SIGKILL from outside: the fatal signal and who sent it
	set -- $(new_container cgroupfs sleep 30); id=$1 name=$2
	start_container $1 $2; sleep 0.5; runc kill $name KILL; wait_stopped $name
	expect sigkill_fatal_$attach "$(wait_record $id container.exited)" '"signal_name":"SIGKILL"' '"fatal_signal":{' '"sender_comm":"runc"'

	# exec into a running container
	set -- $(new_container cgroupfs sleep 30); id=$1 name=$2
	start_container $1 $2; sleep 0.5; runc exec $name /bin/true --token s3cr3t
	expect exec_into_container_$attach "$(wait_record $id container.exec)" '"exe":"/bin/true"' "$args_expected"
	runc kill $name KILL; wait_stopped $name

	# OOM with memory.oom.group: every process of the container is a victim, each one a record
	MEM=33554432
	set -- $(new_container cgroupfs sh -c "sleep 30 & sleep 30 & dd if=/dev/zero of=/dev/null bs=64M count=1"); id=$1 name=$2 cg=$3
	MEM=0
	runc create --no-pivot --bundle /run/bundles/$name $name </dev/null >/run/bundles/$name/out 2>&1 ||
		echo "NT-LOG runc $name: $(tail -3 /run/bundles/$name/out)"
	echo 1 >/sys/fs/cgroup$cg/memory.oom.group
	runc start $name; wait_stopped $name
	line=$(wait_record $id container.oom_killed)
	expect oom_group_limit_$attach "$line" '"limit_scope":"container"' '"memory_limit_bytes":33554432'
	sleep 1
	victims=$(records | grep "\"id\":\"$id\"" | grep -c '"type":"container.oom_killed"')
	if [ "$victims" -ge 3 ]; then pass oom_group_every_victim_$attach; else failed oom_group_every_victim_$attach "$victims victims, want >= 3"; fi
	expect oom_group_exit_$attach "$(wait_record $id container.exited)" '"oom_killed":true'

	# a busy container whose main process moved into a descendant cgroup (systemd in a pod): the
	# descendant is keyed by the container, its 200 short-lived processes stay in the kernel
	set -- $(new_container cgroupfs sh -c "sleep 1; i=0; while [ \$i -lt 200 ]; do /bin/true; i=\$((i+1)); done; exit 5"); id=$1 name=$2 cg=$3
	start_container $1 $2; sleep 0.3
	mkdir -p /sys/fs/cgroup$cg/inner/deeper
	runc state $name | grep '"pid"' | grep -o '[0-9][0-9]*' >/sys/fs/cgroup$cg/inner/deeper/cgroup.procs
	wait_stopped $name
	expect busy_descendant_$attach "$(wait_record $id container.exited)" '"exit_code":5'

	# the container that was there before the agent
	wait_stopped $pre_name
	expect preexisting_container_$attach "$(wait_record $pre_id container.exited)" '"exit_code":9' '"preexisting":true'

	kill -TERM $agent
	wait $agent; rc=$?
	if [ $rc -eq 0 ] && records | grep -q '"state":"stopping"'; then pass agent_stopped_$attach; else failed agent_stopped_$attach "exit $rc"; fi
	drops=$(records | grep '"state":"stopping"' | grep -o '"ringbuf_drops":{[^}]*}')
	echo "NT-STATUS $drops"
	# every container's main exit and the runtime's setup processes, not the busy container's 200
	exits=$(records | grep '"state":"stopping"' | grep -o '"ringbuf_events":{[^}]*}' | grep -o '"exit":[0-9]*' | cut -d: -f2)
	if [ -n "$exits" ] && [ "$exits" -lt 100 ]; then pass kernel_filter_$attach; else failed kernel_filter_$attach "exit events: ${exits:-none}"; fi
}

for attach in tp_btf raw_tp; do
	run_suite $attach
	not_reached $attach "the suite stopped early (agent_started_$attach)"
done
[ $fail -eq 0 ] || tail -20 /run/agent.log
echo "NT-DONE"
poweroff -f
