"""Write docs/record-examples.md: one real record per type, from a record file a run wrote
(`make demo` prints its path). Usage: python3 tests/record-examples.py RECORD_FILE"""
import json
import os
import sys

ORDER = ["pod.started", "container.exited", "container.oom_killed", "container.exec", "pod.terminated",
         "node.event", "node.condition", "node.taint", "node.interruption", "node.drain_report", "agent.status"]


def main(path):
    first = {}
    with open(path) as f:
        for line in f:
            rec = json.loads(line.split(" ", 3)[3])
            first.setdefault(rec["type"], (line.split(" ", 1)[0], rec))
    out = ["# Record examples", "",
           "One record of each type, copied from the record file of a `make demo` run on the CI machine",
           "(real kernel, runc containers, stand-in API server and IMDS). Regenerate with",
           "`python3 tests/record-examples.py <record file>`; the format is described in [records.md](records.md).",
           ""]
    for t in ORDER + sorted(set(first) - set(ORDER)):
        if t not in first:
            continue
        ts, rec = first[t]
        out += [f"## `{t}`", "", rec["summary"], "", "```json", json.dumps(rec, indent=2), "```", ""]
    dest = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "docs", "record-examples.md")
    with open(dest, "w") as f:
        f.write("\n".join(out))
    print(f"{len(first)} types written to docs/record-examples.md")


if __name__ == "__main__":
    main(sys.argv[1])
