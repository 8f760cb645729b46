#!/usr/bin/env bash
# Run the cmocka unit test programs given as arguments; print one summary line.
set -u
pass=0 fail=0 failed=""
for t in "$@"; do
	out=$("$t" 2>&1); rc=$?
	echo "$out" | grep -E '^\[  (PASSED|FAILED|  SKIPPED)|^\[  FAILED' | sed "s|^|$(basename "$t"): |" | grep -v PASSED || true
	# a program may run several groups: add them up
	p=$(echo "$out" | sed -n 's/^\[  PASSED  \] \([0-9]*\) test.*/\1/p' | awk '{s += $1} END {print s + 0}')
	f=$(echo "$out" | sed -n 's/^\[  FAILED  \] \([0-9]*\) test.*/\1/p' | awk '{s += $1} END {print s + 0}')
	pass=$((pass + ${p:-0}))
	if [ "$rc" -ne 0 ]; then
		[ "$f" -eq 0 ] && f=1 # a crash before cmocka's summary is a failure too
		fail=$((fail + f))
		failed="$failed $(basename "$t")"
		echo "$out" | tail -30
	fi
done
echo "unit: $pass passed, $fail failed"
[ -n "$failed" ] && echo "unit: failing programs:$failed"
[ "$fail" -eq 0 ]
