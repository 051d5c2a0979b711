// The JavaScript SDK's pending processes: `$` runs concurrently, and the
// zx/execa habits on it. `procbox run concurrent.wasm -- CHECK [ARG]`
// prints `ok CHECK`; the first failure throws (exit 1). `stream BYTES`
// streams that many bytes of lines through `for await`, for the memory
// test.
import { $, CommandError, ProcessPromise, plugin } from "procbox";

const checks = {
  // Two `sleep 1` at once: about 1 s, not 2. Both children are alive at
  // once: each waits for the other through a FIFO (serially they would
  // hang until their timeout).
  async promise_all_runs_them_together([fifo]) {
    const t0 = Date.now();
    await Promise.all([$`sleep 1`, $`sleep 1`]);
    const took = Date.now() - t0;
    const [, cat] = await Promise.all([
      $({ timeoutMs: 20_000 })`sh -c ${'echo ping > "$0"'} ${fifo}`,
      $({ timeoutMs: 20_000 })`cat ${fifo}`,
    ]);
    expect(cat.stdout === "ping\n", cat.stdout);
    console.log(`took ${took}`);
  },
  async nothrow_and_exit_code() {
    const r = await $`sh -c ${"exit 3"}`.nothrow();
    expect(r.exitCode === 3 && r.status.exitCode === 3 && r.status.code === 3, String(r.exitCode));
    expect((await $`sh -c ${"exit 4"}`.exitCode) === 4, "exitCode promise");
    try {
      await $`sh -c ${"echo broke >&2; exit 5"}`;
      throw new Error("no error");
    } catch (err) {
      expect(err instanceof CommandError && err.exitCode === 5 && err.message.endsWith(": broke"), String(err));
    }
    expect($.sync`echo sync`.stdout === "sync\n", "$.sync");
    const p = $`echo pending`;
    expect(p instanceof ProcessPromise && p.stdout === undefined, "$ returns a pending process");
    expect(String(await p) === "pending", "awaited");
  },
  async quiet_is_not_echoed() {
    $.verbose = true;
    await $`echo loud`;
    await $`echo hushed`.quiet();
    $.verbose = false;
  },
  async pipe_goes_child_to_child() {
    const r = await $`printf ${"b\na\nc\n"}`.pipe($`sort`);
    expect(r.stdout === "a\nb\nc\n", r.stdout);
    const n = await $`head -c 1000000 /dev/zero`.pipe`wc -c`;
    expect(n.text().trim() === "1000000", n.stdout);
    // `yes | head -1`: yes dies of SIGPIPE, which is not a failure.
    expect((await $`yes`.pipe`head -n 1`).text() === "y", "yes | head");
    try {
      await $`sh -c ${"exit 7"}`.pipe`cat`;
      throw new Error("no error");
    } catch (err) {
      expect(err instanceof CommandError && err.exitCode === 7, String(err));
    }
  },
  async lines_as_they_come() {
    const got = [];
    for await (const line of $`sh -c ${"echo one; echo two; printf three"}`.lines()) got.push(line);
    expect(JSON.stringify(got) === '["one","two","three"]', JSON.stringify(got));
    // Leaving early closes stdout: `yes` ends of SIGPIPE, forgiven.
    const yes = $`yes`;
    for await (const line of yes.lines()) if (line === "y") break;
    expect((await yes).status.signal === 13, "yes ended");
  },
  // Lines are decoded one by one from the bytes read: "\r\n", empty
  // lines, a last line without "\n", a character split between two reads
  // (10,000 lines of 2 + 40 * 3 bytes: most read boundaries fall inside a
  // "€"), requests made before the first answer (answered in order, as an
  // async generator's), lines() after the output began, and a lines()
  // never iterated.
  async lines_edge_cases() {
    const got = [];
    for await (const line of $`printf ${"a\r\nb\n\nc\r"}`.lines()) got.push(line);
    expect(JSON.stringify(got) === '["a","b","","c"]', JSON.stringify(got));
    const euro = "xy" + "€".repeat(40);
    let count = 0;
    for await (const line of $`yes ${euro}`.pipe`head -n 10000`.lines()) {
      expect(line === euro, `line ${count}: ${JSON.stringify(line.slice(0, 60))}`);
      count += 1;
    }
    expect(count === 10000, `${count} lines`);
    const it = $`printf ${"one\ntwo\nthree\n"}`.lines();
    const answers = await Promise.all([it.next(), it.next(), it.next(), it.next(), it.next()]);
    expect(JSON.stringify(answers.map((a) => a.value ?? a.done)) === '["one","two","three",true,true]', JSON.stringify(answers));
    const late = $`printf ${"early\nlate\n"}`;
    await late;
    const after = [];
    for await (const line of late.lines()) after.push(line);
    expect(JSON.stringify(after) === '["early","late"]', JSON.stringify(after));
    // Like an async generator's body, lines() does nothing until asked:
    // an iterator never used leaves stdout captured.
    const unused = $`printf ${"kept\n"}`;
    unused.lines();
    expect((await unused).stdout === "kept\n", "lines() never iterated");
    try {
      for await (const line of $`sh -c ${"echo partial; exit 9"}`.lines()) expect(line === "partial", line);
      throw new Error("no error");
    } catch (err) {
      expect(err instanceof CommandError && err.exitCode === 9, String(err));
    }
  },
  async kill_defaults_to_sigterm() {
    const p = $`sleep 3600.4243`.nothrow();
    p.kill();
    const r = await p;
    expect(r.status.signal === 15, r.status.describe());
    const q = $`sleep 3600.4243`.nothrow();
    q.kill("SIGKILL");
    expect((await q).status.signal === 9, "SIGKILL");
    let threw = false;
    try {
      q.kill("SIGNOPE");
    } catch (err) {
      threw = err instanceof TypeError && err.message.startsWith("procbox cannot send signal SIGNOPE");
    }
    expect(threw, "a bad signal is a TypeError");
  },
  async using_kills_the_tree() {
    {
      using p = $`sh -c ${"sleep 3600.4244 & sleep 3600.4244; wait"}`;
      await new Promise((resolve) => setTimeout(resolve, 0));
      expect(p.pid > 0, "started");
      // The shell starts its two sleeps after `$` returns: wait for them.
      expect(await counted("^sleep 3600.4244", "2"), "both sleeps run");
    }
    // The block's end killed the shell and its background sleep.
    expect(await gone("^sleep 3600.4244"), "a sleep outlived its block");
    {
      await using q = $`sleep 3600.4245`;
      expect(await counted("^sleep 3600.4245", "1"), "it runs");
    }
    expect(await gone("^sleep 3600.4245"), "await using killed it");
  },
  async stream([bytes]) {
    const n = Number(bytes);
    let lines = 0;
    let size = 0;
    for await (const line of $`head -c ${n} /dev/zero`.pipe`tr ${"\\0"} ${"x"}`.pipe`fold -w 99`.lines()) {
      lines += 1;
      size += line.length + 1;
    }
    console.log(`lines ${lines} bytes ${size}`);
  },
  async hello() {},
};

/**
 * Whether no process matches `pattern` within five seconds. The block's
 * end sends SIGKILL to the tree and reaps the child it started; a
 * grandchild (the background sleep) dies once the kernel next schedules
 * it, which a `pgrep` right after can beat on a loaded machine.
 */
async function gone(pattern) {
  return counted(pattern, "0");
}

/**
 * Whether `pgrep -c` counts exactly `count` processes matching `pattern`
 * within five seconds (polled every 10 ms: a process started by a shell
 * the plugin started has no event the plugin could wait for).
 */
async function counted(pattern, count) {
  for (let tries = 0; tries < 500; tries += 1) {
    if ((await $`pgrep -f -c ${pattern}`.nothrow()).text() === count) return true;
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
  return false;
}

function expect(condition, what) {
  if (!condition) throw new Error(`check failed: ${what}`);
}

export const run = plugin(async ([name, ...rest]) => {
  await checks[name](rest);
  console.log(`ok ${name}`);
});
