#!/usr/bin/env bash
# Runs the comparable scenarios (a) spawn+wait /bin/true, (b) capture
# `echo hello`, (c) N spawns in flight, (d) reading a child's stdout, with
# Python asyncio and with Node + execa, printing medians in the same units
# as procbox-bench. Usage: benches/compare.sh [--quick] [--reps N]
#
# Node: execa is installed into a temporary directory with
# `npm install --prefix "$tmp" execa`; if that fails, the reason is printed
# and Node is skipped.
set -euo pipefail

reps=5
spawn_n=200 capture_n=200 burst_n=500 read_mib=2048
while [ $# -gt 0 ]; do
  case "$1" in
    --quick) spawn_n=10 capture_n=10 burst_n=20 read_mib=16 ;;
    --reps) reps="$2"; shift ;;
    *) echo "usage: $0 [--quick] [--reps N]" >&2; exit 2 ;;
  esac
  shift
done

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

echo "# machine: $(nproc) cpus, kernel $(uname -r)"
echo "# reps=$reps spawn_n=$spawn_n capture_n=$capture_n burst_n=$burst_n read_mib=$read_mib"

# ---------------------------------------------------------------- Python
cat > "$tmp/bench.py" <<'PY'
import asyncio, statistics, sys, time
from asyncio.subprocess import DEVNULL, PIPE

reps, spawn_n, capture_n, burst_n, read_mib = map(int, sys.argv[1:6])

async def spawn_true(n):
    samples = []
    for _ in range(n):
        t = time.perf_counter_ns()
        p = await asyncio.create_subprocess_exec("/bin/true", stdin=DEVNULL, stdout=DEVNULL, stderr=DEVNULL, env={})
        rc = await p.wait()
        samples.append(time.perf_counter_ns() - t)
        assert rc == 0
    return statistics.median(samples)

async def capture(n):
    samples = []
    for _ in range(n):
        t = time.perf_counter_ns()
        p = await asyncio.create_subprocess_exec("echo", "hello", stdout=PIPE, stderr=PIPE)
        out, _ = await p.communicate()
        samples.append(time.perf_counter_ns() - t)
        assert out == b"hello\n"
    return statistics.median(samples)

async def burst(n):
    t = time.perf_counter_ns()
    procs = [await asyncio.create_subprocess_exec("/bin/true", stdin=DEVNULL, stdout=DEVNULL, stderr=DEVNULL, env={}) for _ in range(n)]
    for p in procs:
        assert await p.wait() == 0
    return n / ((time.perf_counter_ns() - t) / 1e9)

async def read(mib):
    p = await asyncio.create_subprocess_exec("dd", "if=/dev/zero", "bs=1M", f"count={mib}", "status=none", stdout=PIPE, stdin=DEVNULL, env={})
    total = 0
    t = time.perf_counter_ns()
    while True:
        chunk = await p.stdout.read(1 << 20)
        if not chunk:
            break
        total += len(chunk)
    elapsed = time.perf_counter_ns() - t
    assert await p.wait() == 0 and total == mib << 20
    return total / elapsed

async def main():
    a, b, c, d = [], [], [], []
    for rep in range(reps):
        a.append(await spawn_true(spawn_n))
        b.append(await capture(capture_n))
        c.append(await burst(burst_n))
        d.append(await read(read_mib))
        print(f"rep python #{rep}: a={a[-1]/1e3:.0f}us b={b[-1]/1e3:.0f}us c={c[-1]:.0f}/s d={d[-1]:.2f}GB/s", flush=True)
    m = statistics.median
    print(f"python asyncio (a) spawn+wait /bin/true: {m(a)/1e3:.0f} us")
    print(f"python asyncio (b) capture echo hello:   {m(b)/1e3:.0f} us")
    print(f"python asyncio (c) {burst_n} spawns in flight:  {m(c):.0f}/s")
    print(f"python asyncio (d) read {read_mib} MiB:          {m(d):.2f} GB/s")

asyncio.run(main())
PY
echo "## Python $(python3 --version 2>&1 | cut -d' ' -f2), asyncio"
python3 "$tmp/bench.py" "$reps" "$spawn_n" "$capture_n" "$burst_n" "$read_mib"

# ---------------------------------------------------------------- Node
if ! command -v node >/dev/null || ! command -v npm >/dev/null; then
  echo "## Node: skipped (node or npm is not installed)"
  exit 0
fi
if ! npm_log=$(npm install --prefix "$tmp" --no-audit --no-fund execa 2>&1); then
  echo "## Node: skipped, npm install execa failed:"
  echo "$npm_log" | tail -5 | sed 's/^/#   /'
  exit 0
fi
execa_version=$(node -p "require('$tmp/node_modules/execa/package.json').version")
cat > "$tmp/bench.mjs" <<'JS'
import { execa } from "execa";

const [reps, spawnN, captureN, burstN, readMib] = process.argv.slice(2).map(Number);
const now = () => process.hrtime.bigint();
const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
};
const quiet = { stdin: "ignore", stdout: "ignore", stderr: "ignore", env: {}, extendEnv: false };

async function spawnTrue(n) {
  const samples = [];
  for (let i = 0; i < n; i++) {
    const t = now();
    await execa("/bin/true", [], quiet);
    samples.push(Number(now() - t));
  }
  return median(samples);
}

async function capture(n) {
  const samples = [];
  for (let i = 0; i < n; i++) {
    const t = now();
    const { stdout } = await execa("echo", ["hello"]);
    samples.push(Number(now() - t));
    if (stdout !== "hello") throw new Error("echo printed " + stdout);
  }
  return median(samples);
}

async function burst(n) {
  const t = now();
  const children = [];
  for (let i = 0; i < n; i++) children.push(execa("/bin/true", [], quiet));
  await Promise.all(children);
  return n / (Number(now() - t) / 1e9);
}

async function read(mib) {
  const child = execa("dd", ["if=/dev/zero", "bs=1M", `count=${mib}`, "status=none"], {
    stdin: "ignore", stdout: "pipe", buffer: false, env: {}, extendEnv: false,
  });
  let total = 0;
  const t = now();
  for await (const chunk of child.stdout) total += chunk.length;
  const elapsed = Number(now() - t);
  await child;
  if (total !== mib * 1048576) throw new Error("short read " + total);
  return total / elapsed;
}

const a = [], b = [], c = [], d = [];
for (let rep = 0; rep < reps; rep++) {
  a.push(await spawnTrue(spawnN));
  b.push(await capture(captureN));
  c.push(await burst(burstN));
  d.push(await read(readMib));
  console.log(`rep node #${rep}: a=${(a.at(-1) / 1e3).toFixed(0)}us b=${(b.at(-1) / 1e3).toFixed(0)}us c=${c.at(-1).toFixed(0)}/s d=${d.at(-1).toFixed(2)}GB/s`);
}
console.log(`node execa (a) spawn+wait /bin/true: ${(median(a) / 1e3).toFixed(0)} us`);
console.log(`node execa (b) capture echo hello:   ${(median(b) / 1e3).toFixed(0)} us`);
console.log(`node execa (c) ${burstN} spawns in flight:  ${median(c).toFixed(0)}/s`);
console.log(`node execa (d) read ${readMib} MiB:          ${median(d).toFixed(2)} GB/s`);
JS
echo "## Node $(node --version), execa $execa_version"
node "$tmp/bench.mjs" "$reps" "$spawn_n" "$capture_n" "$burst_n" "$read_mib"
