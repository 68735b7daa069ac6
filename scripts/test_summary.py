"""Summarise a meson test log: each Check suite's own summary line, then one
final line `N passed, N failed` counting individual Check tests (and whole
non-Check tests). Exit status 1 if anything failed or nothing ran."""
import json
import re
import sys

CHECK_LINE = re.compile(r"^\d+%: Checks: (\d+), Failures: (\d+), Errors: (\d+)", re.M)

passed = failed = skipped = 0
for line in open(sys.argv[1], encoding="utf-8"):
    test = json.loads(line)
    name, result = test["name"], test["result"]
    out = (test.get("stdout") or "") + (test.get("stderr") or "")
    lines = CHECK_LINE.findall(out)
    if result == "SKIP":
        skipped += 1
        print(f"{name}: skipped")
        continue
    if lines:
        for checks, failures, errors in lines:
            bad = int(failures) + int(errors)
            passed += int(checks) - bad
            failed += bad
        for m in CHECK_LINE.finditer(out):
            print(f"{name}: {m.group(0)}")
        if result not in ("OK", "EXPECTEDFAIL") and not any(int(f) + int(e) for _, f, e in lines):
            failed += 1  # crashed or timed out after its summary
            print(f"{name}: {result}")
    elif result in ("OK", "EXPECTEDFAIL"):
        passed += 1
        print(f"{name}: ok")
    else:
        failed += 1
        print(f"{name}: {result}")

tail = f", {skipped} skipped" if skipped else ""
print(f"{passed} passed, {failed} failed{tail}")
sys.exit(1 if failed or passed == 0 else 0)
