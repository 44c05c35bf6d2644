#!/usr/bin/env python3
"""Checks that #include arrows point one way (docs/ARCHITECTURE.md):

    wire <- cache, dnssec, transports <- resolver

and, inside resolver/, room by room:

    walk, config  <-  policy  <-  front  <-  daemon
                      eventlog  <-  front
    walk  <-  anchors  <-  daemon
    walk, config  <-  forward  <-  daemon

A folder may include itself and what its row allows, nothing else. A new
room (policy/, forward/ ...) must be added to ALLOWED before it builds
clean here, which is the point: where it sits is a decision, not an accident.
"""
import os
import re
import sys

ROOT = os.path.abspath(sys.argv[1] if len(sys.argv) > 1 else
                       os.path.join(os.path.dirname(__file__), ".."))

# folder -> the folders it may include (besides itself)
ALLOWED = {
    "wire": set(),
    "cache": {"wire"},
    "dnssec": {"wire"},
    "transports": {"wire"},
    "resolver/walk": {"wire", "cache", "dnssec"},
    "resolver/config": {"wire"},
    # policy/: local data, lists, RPZ, DNS64, views; pure tables and rules
    # (files are read by its builder), no sockets, no cache.
    "resolver/policy": {"wire", "resolver/config"},
    # eventlog/: the per-query JSON event log (records, queues, writer thread).
    "resolver/eventlog": {"wire", "transports", "resolver/policy"},
    # forward: the forward/stub zone table (built from config, read by the
    # walker through walk/configured_zones.h) and the upstreams' profiles.
    "resolver/forward": {"wire", "dnssec", "resolver/walk", "resolver/config"},
    "resolver/front": {"wire", "cache", "dnssec", "transports", "resolver/walk", "resolver/config",
                       "resolver/policy", "resolver/eventlog"},
    # RFC 5011 trust anchor maintenance: probes through a walker.
    "resolver/anchors": {"wire", "dnssec", "resolver/walk"},
    "resolver/daemon": {"wire", "cache", "dnssec", "transports", "resolver/walk",
                        "resolver/config", "resolver/front", "resolver/forward", "resolver/policy",
                        "resolver/eventlog", "resolver/anchors"},
}

INCLUDE = re.compile(r'^\s*#\s*include\s+"([^"]+)"')


def owner(path):
    """The most specific folder of ALLOWED that holds `path` (relative)."""
    best = None
    for folder in ALLOWED:
        if path.startswith(folder + "/") and (best is None or len(folder) > len(best)):
            best = folder
    return best


def main():
    problems = []
    checked = 0
    for top in ("wire", "cache", "dnssec", "transports", "resolver"):
        for dirpath, _, files in os.walk(os.path.join(ROOT, top)):
            for name in files:
                if not name.endswith((".h", ".cpp")):
                    continue
                rel = os.path.relpath(os.path.join(dirpath, name), ROOT)
                folder = owner(rel)
                if folder is None:
                    problems.append(f"{rel}: in no known folder (add its room to ALLOWED)")
                    continue
                checked += 1
                with open(os.path.join(ROOT, rel), encoding="utf-8") as f:
                    for lineno, line in enumerate(f, 1):
                        m = INCLUDE.match(line)
                        if not m:
                            continue
                        target = owner(m.group(1))
                        if target is None or target == folder:
                            continue  # generated headers, same room
                        if target not in ALLOWED[folder]:
                            problems.append(f"{rel}:{lineno}: {folder} includes {m.group(1)} "
                                            f"({target} is not below it)")
    for p in problems:
        print(p)
    print(f"{checked} files checked, {len(problems)} arrows pointing the wrong way")
    return 1 if problems or checked == 0 else 0


if __name__ == "__main__":
    sys.exit(main())
