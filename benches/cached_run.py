#!/usr/bin/env python3
"""Median wall time of N cached `procbox run`s of each plugin, for two
procbox binaries side by side (runs interleaved, so load drift hits both).

    python3 benches/cached_run.py BEFORE AFTER N PLUGIN.wasm[:GRANT] ...

GRANT is one --allow-run rule (default: echo). Each binary gets its own
fresh cache and config directories; each plugin is compiled, then left
2.5 s so the stat-key records settle (see host/procbox/src/runtime/known.rs), then run
once to warm up before the N timed pairs.
"""
import os
import statistics
import subprocess
import sys
import tempfile
import time


def main():
    if len(sys.argv) < 5:
        sys.exit(__doc__)
    bins = {"before": sys.argv[1], "after": sys.argv[2]}
    n = int(sys.argv[3])
    root = tempfile.mkdtemp(prefix="procbox-cached-run-")

    def run(which, plugin, grant):
        env = dict(os.environ,
                   PROCBOX_CACHE_DIR=f"{root}/cache-{which}",
                   PROCBOX_CONFIG_DIR=f"{root}/config-{which}")
        started = time.perf_counter()
        done = subprocess.run([bins[which], "run", plugin, "--allow-run", grant],
                              env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        took = time.perf_counter() - started
        if done.returncode != 0:
            sys.exit(f"{which} {plugin}: exit {done.returncode}: {done.stderr.decode()}")
        return took

    for spec in sys.argv[4:]:
        plugin, _, grant = spec.partition(":")
        grant = grant or "echo"
        for which in bins:
            run(which, plugin, grant)
        time.sleep(2.5)
        for which in bins:
            run(which, plugin, grant)
        times = {which: [] for which in bins}
        for _ in range(n):
            for which in bins:
                times[which].append(run(which, plugin, grant))
        for which in bins:
            print(f"{os.path.basename(plugin):20} {which:6} median "
                  f"{statistics.median(times[which]) * 1000:6.1f} ms (n={n})")
    print("load:", open("/proc/loadavg").read().strip())


if __name__ == "__main__":
    main()
