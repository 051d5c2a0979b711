// The JavaScript SDK end to end: the $.sync tag (the pending `$` is
// guests/js/concurrent's), the Command builder, lines as
// they come, stdout and stderr together, typed errors. Prints `ok NAME`
// per check; the first failure throws (exit 1).
import { $, Command, CommandError, ProcboxError, SpawnError, plugin, words } from "procbox";

const checks = {
  dollar_builds_an_argv_without_a_shell() {
    const name = "two words; rm -rf /";
    const r = $.sync`printf ${"[%s]\n"} ${name} ${["a b", "c"]}`;
    expect(r.stdout === "[two words; rm -rf /]\n[a b]\n[c]\n", r.stdout);
    expect(JSON.stringify(words(["git log -n ", " -- ", ""], [5, ["x", "y z"]])) === '["git","log","-n","5","--","x","y z"]', "words");
    expect(String($.sync`echo hello`) === "hello", "toString is the trimmed stdout");
    // An array inside a word is joined (as execa); undefined is an error.
    expect(JSON.stringify(words(["cc -I", " x"], [["a", "b"]])) === '["cc","-Ia b","x"]', "array in a word");
    let threw = false;
    try {
      words(["echo ", ""], [undefined]);
    } catch (err) {
      threw = err instanceof TypeError;
    }
    expect(threw, "undefined is not an argument");
  },
  async await_works_in_an_async_main() {
    const r = await $`echo awaited`;
    await Promise.resolve();
    expect(r.text() === "awaited", r.stdout);
  },
  big_input_while_reading_output() {
    // More than a pipe holds, both ways: written while it is read.
    const data = "x".repeat(1 << 20);
    expect($.sync({ input: data })`cat`.stdout.length === data.length, "all of it came back");
    const lines = [...new Command("cat").input("a\r\nb\n").lines()];
    expect(JSON.stringify(lines) === '["a","b"]', JSON.stringify(lines));
  },
  waiting_drains_pipes_nobody_reads() {
    const child = new Command("head", ["-c", "2000000", "/dev/zero"]).spawn({ stdout: "pipe" });
    expect(child.wait().success, "it ended");
    child.close();
    child.close();
    child.kill(); // nothing: closed
    let threw = false;
    try {
      child.signal("TERM");
    } catch (err) {
      threw = err instanceof ProcboxError;
    }
    expect(threw, "signalling a closed child is a ProcboxError");
  },
  command_builder_and_json() {
    const r = new Command("sh").args(["-c", 'echo "{\\"n\\": $N}"']).env("N", "42").output();
    expect(r.json().n === 42, r.stdout);
    const input = new Command("sort").input("b\na\n").text();
    expect(input === "a\nb", input);
  },
  lines_arrive_while_the_child_runs() {
    // The child prints, then waits for a FIFO... simpler: it prints two
    // lines with a pause; the first is yielded before the child exits.
    const child = new Command("sh", ["-c", "echo first; read x; echo never"]).spawn({ stdin: "pipe", stdout: "pipe", stderr: "pipe" });
    const it = child.lines();
    const first = it.next();
    expect(first.value === "first", JSON.stringify(first));
    const status = child.status;
    expect(status === null, "still running while its first line was read");
    // close() drops the handle at once (the host then kills and reaps the
    // tree), rather than whenever the garbage collector gets to it.
    expect(typeof child.handle[Symbol.dispose] === "function", "resources can be dropped");
    child.close();
  },
  stdout_and_stderr_together_without_deadlock() {
    const r = $.sync`sh -c ${"head -c 1048576 /dev/zero & head -c 1048576 /dev/zero >&2; wait"}`;
    expect(r.stdout.length === 1048576 && r.stderr.length === 1048576, `${r.stdout.length} ${r.stderr.length}`);
  },
  failures_are_command_errors_with_the_command_and_stderr() {
    try {
      $.sync`sh -c ${"echo broke >&2; exit 3"}`;
      throw new Error("no error");
    } catch (err) {
      expect(err instanceof CommandError && err.exitCode === 3 && err.message.endsWith(": broke"), err.message);
      expect(err.message.startsWith('`sh -c "echo broke >&2; exit 3"` failed: exit status 3'), err.message);
    }
    expect($.sync({ check: false })`sh -c ${"exit 4"}`.exitCode === 4, "check: false");
  },
  a_denied_command_is_a_spawn_error() {
    try {
      $.sync`rm -rf /tmp/nothing-here`;
      throw new Error("not denied");
    } catch (err) {
      expect(err instanceof SpawnError && err.kind === "denied" && err.message.includes("--allow-run"), err.message);
    }
  },
  a_timeout_stops_the_child() {
    try {
      new Command("sleep", ["3600.4243"]).timeout(200, 100).output();
      throw new Error("no timeout");
    } catch (err) {
      expect(err instanceof CommandError && err.status.timedOut, err.message);
    }
  },
};

function expect(condition, what) {
  if (!condition) throw new Error(`check failed: ${what}`);
}

export const run = plugin(async (args) => {
  for (const name of args.length ? args : Object.keys(checks)) {
    await checks[name]();
    console.log(`ok ${name}`);
  }
});
