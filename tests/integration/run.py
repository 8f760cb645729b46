"""Run the integration suites; print "N passed, N failed[, N skipped]".

Under REQUIRE_BPF=1 a skipped test counts as failed: CI runs on machines that have eBPF
and runc, so a skip there hides a broken test.
"""
import os
import sys
import unittest

here = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, here)
require = os.environ.get("REQUIRE_BPF") == "1"

suite = unittest.defaultTestLoader.discover(here, pattern="test_*.py", top_level_dir=here)
result = unittest.TextTestRunner(verbosity=2, stream=sys.stdout).run(suite)
failed = len(result.failures) + len(result.errors) + len(result.unexpectedSuccesses)
skipped = len(result.skipped)
passed = result.testsRun - failed - skipped
if require and skipped:
    for test, why in result.skipped:
        print(f"FAIL (skipped under REQUIRE_BPF=1): {test}: {why}")
    failed += skipped
    skipped = 0
line = f"{passed} passed, {failed} failed"
if skipped:
    line += f", {skipped} skipped"
print(line)
sys.exit(1 if failed else 0)
