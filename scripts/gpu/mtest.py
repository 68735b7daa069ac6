#!/usr/bin/env python3
"""Helpers for scripts/gpu/run-gpu-suite.sh over a meson build directory,
read from its meson-info (no meson process needed).

  mtest.py targets BUILD [--suite S] [--benchmark] [NAME...]
      ninja outputs (relative to BUILD) that the named tests (or the tests
      of suite S; benchmarks with --benchmark) need: their program and
      their `depends`, so a stage can build just those.
  mtest.py list BUILD [--suite S] [--benchmark]
      test names, one a line (nothing when there are none).
  mtest.py run BUILD NAME [--benchmark] [--wrapper 'PROG ARGS'] [--timeout S]
              [--append=ARG ...]
      runs one test's command as meson would (its env over ours, its
      workdir), optionally under a wrapper and with more arguments; exits
      with its status.
  mtest.py exes BUILD [--suite S] [NAME...]
      the programs of those tests that are files in BUILD (for wrappers).
"""
import argparse
import json
import os
import shlex
import subprocess
import sys


def load(build, what):
    path = os.path.join(build, "meson-info", f"intro-{what}.json")
    with open(path, encoding="utf-8") as f:
        return json.load(f)


def tests_of(build, suite=None, names=(), benchmark=False):
    tests = load(build, "benchmarks" if benchmark else "tests")
    out = []
    for t in tests:
        suites = [s.split(":")[-1] for s in t.get("suite", [])]
        if names and t["name"] not in names:
            continue
        if suite and suite not in suites:
            continue
        out.append(t)
    return out


def targets(build, tests):
    by_id = {t["id"]: t for t in load(build, "targets")}
    by_file = {}
    for t in by_id.values():
        for f in t.get("filename", []):
            by_file[os.path.realpath(f)] = t
    outs = []
    root = os.path.realpath(build)

    def add_target(t):
        for f in t.get("filename", []):
            rel = os.path.relpath(os.path.realpath(f), root)
            if not rel.startswith("..") and rel not in outs:
                outs.append(rel)

    for t in tests:
        prog = os.path.realpath(t["cmd"][0]) if t["cmd"] else ""
        if prog in by_file:
            add_target(by_file[prog])
        for a in t["cmd"][1:]:
            real = os.path.realpath(a) if os.path.isabs(a) else ""
            if real in by_file:
                add_target(by_file[real])
        for d in t.get("depends", []):
            if d in by_id:
                add_target(by_id[d])
    return outs


def lexical(path):
    """An absolute path with its "/../" resolved by name (os.path.normpath)."""
    return os.path.normpath(path) if path.startswith("/") and "/../" in path else path


def main():
    p = argparse.ArgumentParser()
    p.add_argument("cmd", choices=["targets", "list", "run", "exes"])
    p.add_argument("build")
    p.add_argument("names", nargs="*")
    p.add_argument("--suite")
    p.add_argument("--benchmark", action="store_true")
    p.add_argument("--wrapper", default="")
    p.add_argument("--timeout", type=float, default=None)
    p.add_argument("--append", action="append", default=[], help="one more argument for the command")
    a = p.parse_intermixed_args()
    try:
        tests = tests_of(a.build, a.suite, a.names, a.benchmark)
    except OSError as e:
        sys.exit(f"mtest.py: {e} (is {a.build} a configured meson build?)")

    if a.cmd == "list":
        for t in tests:
            print(t["name"])
    elif a.cmd == "targets":
        for o in targets(a.build, tests):
            print(o)
    elif a.cmd == "exes":
        for t in tests:
            if t["cmd"] and os.path.isfile(t["cmd"][0]) and \
                    os.path.realpath(t["cmd"][0]).startswith(os.path.realpath(a.build) + os.sep):
                print(t["cmd"][0])
    else:  # run
        if len(tests) != 1:
            sys.exit(f"mtest.py run: expected one test named {a.names}, found {len(tests)}")
        t = tests[0]
        env = dict(os.environ)
        env.update({k: ":".join(lexical(p) for p in v.split(":")) for k, v in (t.get("env") or {}).items()})
        # Paths as meson wrote them, e.g. BUILD/../tests/x.py: the build
        # folder may be a link (scripts/gpu/make-kit.sh), so ".." is taken
        # lexically, as meson meant it, not from where the link points.
        prog = [lexical(c) for c in t["cmd"]]
        # The Python that configured the build may not exist where the kit
        # runs (scripts/gpu/make-kit.sh): this machine's, by the same name.
        if prog and not os.path.exists(prog[0]) and os.path.basename(prog[0]).startswith("python"):
            prog[0] = sys.executable
        cmd = shlex.split(a.wrapper) + prog + a.append
        print("mtest.py: " + " ".join(shlex.quote(c) for c in cmd), flush=True)
        for k, v in sorted((t.get("env") or {}).items()):
            print(f"mtest.py:   {k}={v}", flush=True)
        try:
            rc = subprocess.run(cmd, env=env, cwd=t.get("workdir") or a.build, timeout=a.timeout).returncode
        except subprocess.TimeoutExpired:
            print(f"mtest.py: {t['name']} timed out after {a.timeout} s", flush=True)
            rc = 124
        except OSError as e:
            print(f"mtest.py: cannot run {t['name']}: {e}", flush=True)
            rc = 127
        sys.exit(rc if rc >= 0 else 128 - rc)


if __name__ == "__main__":
    main()
