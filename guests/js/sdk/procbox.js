// procbox for JavaScript plugins: start the processes the user granted,
// read their output, and wait for them.
//
//   import { $, Command } from "procbox";
//
//   export const run = plugin(async (args) => {
//     for await (const line of $`git log --oneline -5`.lines()) console.log(line);
//   });
//
// The host's imports are synchronous. `$` returns a pending process that
// one reactor (below) drives together with every other pending one, in
// one `wasi:io/poll` call per round, yielding to the event loop between
// rounds; `$.sync`, `Command` and `Child` are synchronous, each call
// returning when the child has done what was asked. Either way a child's
// stdout and stderr are read together, so a child that fills one while
// the plugin reads the other never deadlocks. The reference is
// guests/js/sdk/README.md.

import { spawn as hostSpawn } from "procbox:host/process@0.2.1";
import { poll } from "wasi:io/poll@0.2.12";
import { exitWithCode } from "wasi:cli/exit@0.2.12";
import { subscribeDuration } from "wasi:clocks/monotonic-clock@0.2.12";
import { getArguments } from "wasi:cli/environment@0.2.12";

const CHUNK = 64n * 1024n;
const NANOS_PER_MS = 1_000_000n;
const SIGNALS = { HUP: "hangup", INT: "interrupt", QUIT: "quit", KILL: "kill", USR1: "user1", USR2: "user2", TERM: "terminate", STOP: "stop", CONT: "continue" };
const SIGNAL_NUMBERS = { 1: "HUP", 2: "INT", 3: "QUIT", 9: "KILL", 10: "USR1", 12: "USR2", 15: "TERM", 18: "CONT", 19: "STOP" };
const SIGPIPE = 13;

// --- errors -------------------------------------------------------------------

/** Every error of this SDK. */
export class ProcboxError extends Error {}

/**
 * procbox did not start the command. `kind` is the host's: "denied",
 * "not-found", "invalid-input", "limit-exceeded" or "io"; `reason` its
 * message (a denial names the flag that would allow it).
 */
export class SpawnError extends ProcboxError {
  constructor(command, kind, reason) {
    super(`\`${commandLine(command)}\` ${SPAWN_VERBS[kind] ?? "failed"}: ${reason}`);
    this.name = "SpawnError";
    this.command = command;
    this.kind = kind;
    this.reason = reason;
  }
}
const SPAWN_VERBS = {
  denied: "was denied",
  "not-found": "was not found",
  "invalid-input": "is invalid",
  "limit-exceeded": "exceeded a limit",
  io: "failed",
};

/**
 * The command ran and failed by procbox's success rule (a non-zero exit, a
 * signal, a timeout, output cut at the grants' cap). Carries `command`,
 * `status`, `stdout`, `stderr`; the message ends with stderr's last lines.
 */
export class CommandError extends ProcboxError {
  constructor(command, status, stdout, stderr, what = "") {
    const tail = (stderr ?? "").slice(-2048).trim();
    super(`${what}\`${commandLine(command)}\` failed: ${status.describe()}${tail ? `: ${tail}` : ""}`);
    this.name = "CommandError";
    this.command = command;
    this.status = status;
    this.exitCode = status.code;
    this.stdout = stdout;
    this.stderr = stderr;
  }
}

function hostCall(command, f) {
  try {
    return f();
  } catch (err) {
    const payload = err?.payload;
    if (payload && typeof payload.tag === "string") throw new SpawnError(command, payload.tag, String(payload.val));
    throw err;
  }
}

// --- exit status ------------------------------------------------------------------

/** How a child ended, and what it used. */
export class ExitStatus {
  constructor(raw) {
    const { termination } = raw;
    /** The exit code, or null if a signal ended it. */
    this.code = termination.tag === "exited" ? termination.val : null;
    /** The signal that ended it, or null. */
    this.signal = termination.tag === "signalled" ? termination.val : null;
    /** The same as `code` (Node's and execa's name). */
    this.exitCode = this.code;
    /** Milliseconds from spawn to exit. */
    this.durationMs = Number(raw.duration) / 1e6;
    this.timedOut = raw.timedOut;
    this.outputTruncated = raw.outputTruncated;
    this.usage = {
      userCpuMs: Number(raw.usage.userCpu) / 1e6,
      systemCpuMs: Number(raw.usage.systemCpu) / 1e6,
      maxRssBytes: Number(raw.usage.maxRssBytes),
    };
    this.treeUsage = raw.treeUsage
      ? {
          userCpuMs: Number(raw.treeUsage.userCpu) / 1e6,
          systemCpuMs: Number(raw.treeUsage.systemCpu) / 1e6,
          peakMemoryBytes: Number(raw.treeUsage.peakMemoryBytes),
        }
      : null;
  }
  /** procbox's one success rule: exited 0, not timed out, output not cut. */
  get success() {
    return this.code === 0 && !this.timedOut && !this.outputTruncated;
  }
  /** "exit status 1 after 12 ms" */
  describe() {
    let how = this.code !== null ? `exit status ${this.code}` : `killed by signal ${this.signal}`;
    if (this.timedOut) how += " (timed out)";
    if (this.outputTruncated) how += " (output over the cap)";
    return `${how} after ${Math.round(this.durationMs)} ms`;
  }
}

// --- streams ------------------------------------------------------------------------

const decoder = () => new TextDecoder("utf-8");

/** The next chunk of `stream` (maybe empty), or null at its end. */
function readChunk(stream) {
  try {
    return stream.read(CHUNK);
  } catch (err) {
    if (err?.payload?.tag === "closed") return null;
    throw err;
  }
}

/**
 * Frees a chunk read from a pipe once it is decoded. Detaching its
 * ArrayBuffer (`transfer(0)`) frees the bytes at once: StarlingMonkey does
 * not count the memory of the buffers wasi:io hands over, so dead chunks
 * would wait for a collection that nothing triggers, and a plugin
 * streaming 100 MB needed over 64 MiB. Every chunk this SDK reads is
 * decoded and dropped, never handed to the plugin's own code.
 */
function release(chunk) {
  chunk.buffer.transfer?.(0);
}

function dispose(resource) {
  resource?.[Symbol.dispose]?.();
}

/**
 * A child's pipes driven together: `input` written to stdin (then stdin
 * closed) while stdout and stderr are read, each step taking whatever is
 * ready, so that no pipe can fill up while the plugin waits on another.
 */
class Pump {
  constructor({ stdin = null, input = null, stdout = null, stderr = null, onStdout, onStderr }) {
    this.readers = [stdout, stderr];
    this.take = [onStdout, onStderr];
    this.stdin = stdin;
    this.input = input ?? new Uint8Array();
    this.written = 0;
    this.flushing = false;
  }

  /** Whether stdout (or, with `all`, any pipe) is still open. */
  open(all = true) {
    return Boolean(this.readers[0] || (all && (this.readers[1] || this.stdin)));
  }

  /** Waits until a pipe is ready, and serves every ready one. */
  step() {
    const live = [...this.readers, this.stdin].map((s, i) => (s ? i : -1)).filter((i) => i >= 0);
    const pollables = live.map((i) => (i < 2 ? this.readers[i] : this.stdin).subscribe());
    let ready;
    try {
      ready = Array.from(poll(pollables));
    } finally {
      pollables.forEach(dispose);
    }
    for (const k of ready) {
      const i = live[k];
      if (i < 2) this.read(i);
      else this.write();
    }
  }

  read(i) {
    const chunk = readChunk(this.readers[i]);
    if (chunk === null) {
      dispose(this.readers[i]);
      this.readers[i] = null;
      this.take[i](null);
    } else if (chunk.length) {
      this.take[i](chunk);
      release(chunk);
    }
  }

  /** Writes what stdin takes now; once all is written and flushed, closes it. */
  write() {
    try {
      if (this.flushing) {
        this.stdin.checkWrite(); // the flush is done (or this throws)
        return this.closeStdin();
      }
      const room = Number(this.stdin.checkWrite());
      if (room > 0 && this.written < this.input.length) {
        const chunk = this.input.subarray(this.written, this.written + room);
        this.stdin.write(chunk);
        this.written += chunk.length;
      }
      if (this.written >= this.input.length) {
        this.stdin.flush();
        this.flushing = true;
      }
    } catch (err) {
      const tag = err?.payload?.tag;
      if (tag !== "closed" && tag !== "last-operation-failed") throw err;
      this.closeStdin(); // the child stopped reading: the rest is dropped
    }
  }

  closeStdin() {
    dispose(this.stdin);
    this.stdin = null;
  }

  /** Runs until every pipe is done. */
  finish() {
    while (this.open()) this.step();
  }

  /** Drops what is still open (the child's ends see EOF or EPIPE). */
  close() {
    this.readers.forEach(dispose);
    dispose(this.stdin);
    this.readers = [null, null];
    this.stdin = null;
  }
}

const encode = (data) => (typeof data === "string" ? new TextEncoder().encode(data) : data);

// --- commands -------------------------------------------------------------------

function stdio(value, which) {
  if (value === undefined || value === null || value === "ignore" || value === "null") return { tag: "null" };
  if (value === "pipe") return { tag: "piped" };
  if (value === "inherit") return { tag: "inherit" };
  if (value === "stdout" && which === "stderr") return { tag: "stdout" };
  if (value instanceof Child && which === "stdin") return { tag: "child-stdout", val: value.handle };
  if (typeof value === "object" && typeof value.file === "string")
    return { tag: "file", val: { path: value.file, append: Boolean(value.append) } };
  throw new TypeError(`${which}: "pipe", "ignore", "inherit", { file, append }` + (which === "stdin" ? ", or a Child" : which === "stderr" ? ', or "stdout"' : ""));
}

/**
 * A program and its arguments, built up, then run: `.output()` captures,
 * `.spawn()` starts and returns a `Child`. No shell is involved: each
 * argument reaches the program as it is.
 */
export class Command {
  constructor(program, args = []) {
    this.argv = [String(program), ...args.map(String)];
    this.options = { env: {}, cwd: undefined, stdin: undefined, input: undefined, timeoutMs: undefined, killAfterMs: 2000, check: true, measureTree: false };
  }
  arg(value) {
    this.argv.push(String(value));
    return this;
  }
  args(values) {
    values.forEach((v) => this.arg(v));
    return this;
  }
  /** Sets a variable; the child inherits nothing (`--allow-env` governs it). */
  env(name, value) {
    this.options.env[name] = String(value);
    return this;
  }
  cwd(dir) {
    this.options.cwd = String(dir);
    return this;
  }
  /** Bytes or text for the child's stdin (for `output()`). */
  input(data) {
    this.options.input = encode(data);
    return this;
  }
  /** Stops the child's whole tree after `ms` (SIGTERM, then SIGKILL). */
  timeout(ms, killAfterMs = 2000) {
    this.options.timeoutMs = ms;
    this.options.killAfterMs = killAfterMs;
    return this;
  }
  /** Whether a failure throws `CommandError` (default true). */
  check(yes = true) {
    this.options.check = yes;
    return this;
  }
  measureTree(yes = true) {
    this.options.measureTree = yes;
    return this;
  }
  toString() {
    return commandLine(this.argv);
  }

  /** Starts the child with these streams ("pipe", "ignore", "inherit", { file }). */
  spawn({ stdin = this.options.input ? "pipe" : undefined, stdout, stderr } = {}) {
    const o = this.options;
    const request = {
      program: this.argv[0],
      args: this.argv.slice(1),
      env: Object.entries(o.env),
      cwd: o.cwd,
      stdin: stdio(stdin, "stdin"),
      stdout: stdio(stdout, "stdout"),
      stderr: stdio(stderr, "stderr"),
      timeout:
        o.timeoutMs === undefined
          ? undefined
          : { after: BigInt(Math.round(o.timeoutMs)) * NANOS_PER_MS, signal: "terminate", grace: BigInt(Math.round(o.killAfterMs)) * NANOS_PER_MS },
      measureTree: o.measureTree,
    };
    return new Child(this.argv, hostCall(this.argv, () => hostSpawn(request)));
  }

  /**
   * Runs it to its end, with stdout and stderr captured (read together),
   * and returns a `Result`; with `check` (the default) a failure throws
   * `CommandError`.
   */
  output() {
    const child = this.spawn({ stdout: "pipe", stderr: "pipe" });
    try {
      const { stdout, stderr } = child.communicate(this.options.input);
      const result = new Result(this.argv, child.status, stdout, stderr);
      if (this.options.check && !result.status.success)
        throw new CommandError(this.argv, result.status, stdout, stderr);
      return result;
    } finally {
      child.close();
    }
  }

  /** Its stdout, trimmed (throws on failure). */
  text() {
    return this.output().text();
  }

  /** Each line of its stdout as it comes (its input written and stderr read meanwhile); throws on failure at the end. */
  *lines() {
    const child = this.spawn({ stdout: "pipe", stderr: "pipe" });
    try {
      yield* child.lines(this.options.input);
      child.wait();
      if (this.options.check && !child.status.success)
        throw new CommandError(this.argv, child.status, null, child.stderrText);
    } finally {
      child.close();
    }
  }
}

/** What a finished command printed, and how it ended. */
export class Result {
  constructor(command, status, stdout, stderr) {
    this.command = command;
    this.status = status;
    this.exitCode = status.code;
    this.stdout = stdout;
    this.stderr = stderr;
  }
  /** stdout without its final newline (as execa's stripFinalNewline). */
  text() {
    return this.stdout.replace(/\r?\n$/, "");
  }
  /** stdout's lines, without their "\n" or "\r\n". */
  lines() {
    const text = this.text();
    return text ? text.split("\n").map((line) => line.replace(/\r$/, "")) : [];
  }
  json() {
    return JSON.parse(this.stdout);
  }
  toString() {
    return this.text();
  }
}

/** A running child process. `close()` kills its tree if it still runs. */
export class Child {
  constructor(command, handle) {
    this.command = command;
    this.handle = handle;
    this.pid = handle.pid();
    this.status = null;
    this.stderrText = "";
  }

  /** The handle, or a clear error once `close()` let go of it. */
  live() {
    if (!this.handle) throw new ProcboxError(`\`${commandLine(this.command)}\`: the child was closed`);
    return this.handle;
  }

  /** SIGKILL to the child's whole process group (nothing once it was reaped or closed). */
  kill() {
    if (this.handle) hostCall(this.command, () => this.handle.kill());
  }

  /**
   * A signal, by name ("TERM", "SIGUSR1") or number, to the child itself;
   * with `{ group: true }` to its whole process group (the child and what
   * it started, unless they left the group).
   */
  signal(sig, { group = false } = {}) {
    const name = typeof sig === "number" ? SIGNAL_NUMBERS[sig] : String(sig).toUpperCase().replace(/^SIG/, "");
    if (!SIGNALS[name]) throw new TypeError(`procbox cannot send signal ${sig}`);
    const handle = this.live();
    hostCall(this.command, () => (group ? handle.signalGroup(SIGNALS[name]) : handle.sendSignal(SIGNALS[name])));
  }

  /**
   * Waits for the exit; returns the `ExitStatus`. Pipes nobody took are
   * drained first (stdout discarded, stderr kept in `stderrText`), so a
   * child that fills one cannot block forever.
   */
  wait() {
    if (this.status) return this.status;
    const handle = this.live();
    const pump = this.pump(null, () => {});
    pump.finish();
    this.status = new ExitStatus(hostCall(this.command, () => handle.wait()));
    return this.status;
  }

  /**
   * A `Pump` over the pipes not taken yet. stderr goes to `onStderr`, or
   * its last 64 KiB to `stderrText`.
   */
  pump(input, onStdout, onStderr) {
    const handle = this.live();
    const errors = decoder();
    const tail = (chunk) => {
      this.stderrText = (this.stderrText + (chunk ? errors.decode(chunk, { stream: true }) : errors.decode())).slice(-65536);
    };
    return new Pump({
      stdin: handle.takeStdin() ?? null,
      input: input === null || input === undefined ? null : encode(input),
      stdout: handle.takeStdout() ?? null,
      stderr: handle.takeStderr() ?? null,
      onStdout,
      onStderr: onStderr ?? tail,
    });
  }

  /**
   * Writes `input` (bytes or text; then closes stdin) while reading stdout
   * and stderr to their ends, whatever their sizes; waits; returns
   * `{ stdout, stderr }` as text.
   */
  communicate(input) {
    const [out, err] = [decoder(), decoder()];
    let [stdout, stderr] = ["", ""];
    const pump = this.pump(
      input,
      (chunk) => (stdout += chunk ? out.decode(chunk, { stream: true }) : out.decode()),
      (chunk) => (stderr += chunk ? err.decode(chunk, { stream: true }) : err.decode()),
    );
    pump.finish();
    this.stderrText = stderr.slice(-65536);
    this.wait();
    return { stdout, stderr };
  }

  /**
   * Each line of stdout (without its "\n" or "\r\n") as the child prints
   * it, while `input` (if any) is written and stderr kept in `stderrText`.
   */
  *lines(input) {
    const out = decoder();
    let pending = "";
    const queue = [];
    const pump = this.pump(input, (chunk) => {
      pending += chunk ? out.decode(chunk, { stream: true }) : out.decode();
      const parts = pending.split("\n");
      pending = chunk ? parts.pop() : "";
      queue.push(...parts.filter((line, i) => chunk || i < parts.length - 1 || line !== ""));
    });
    try {
      while (queue.length || pump.open(false)) {
        if (queue.length) yield queue.shift().replace(/\r$/, "");
        else pump.step();
      }
      pump.finish();
    } finally {
      pump.close();
    }
  }

  /** Lets go of the child: kills its tree if it still runs, and reaps it. Closing twice does nothing. */
  close() {
    const handle = this.handle;
    this.handle = null;
    dispose(handle);
  }
}

// --- $ ------------------------------------------------------------------------------

/**
 * The words of a template: the literal text split at whitespace, each
 * interpolated value one argument, never parsed by a shell. An array
 * standing alone is one argument per element; inside a word (`-I${dirs}`)
 * its elements are joined with spaces, as execa does. `undefined` and
 * `null` are errors. `$\`git log -n ${n} -- ${paths}\`` is ["git", "log",
 * "-n", "5", "--", ...paths].
 */
export function words(strings, values) {
  const argv = [];
  let current = null; // the word being built, or null between words
  const push = (text) => (current = (current ?? "") + text);
  strings.forEach((literal, i) => {
    const parts = literal.split(/\s+/);
    parts.forEach((part, j) => {
      if (j > 0 && current !== null) argv.push(current), (current = null);
      if (part) push(part);
    });
    if (i < values.length) {
      const value = values[i];
      if (value === undefined || value === null)
        throw new TypeError(`$\`...\`: the value after ${JSON.stringify(literal.slice(-20))} is ${value}`);
      const alone = current === null && /^(\s|$)/.test(strings[i + 1] ?? "");
      if (Array.isArray(value) && alone) argv.push(...value.map(String));
      else push(Array.isArray(value) ? value.map(String).join(" ") : String(value));
    }
  });
  if (current !== null) argv.push(current);
  return argv;
}

// --- lines as they come --------------------------------------------------------

const DONE = Object.freeze({ value: undefined, done: true });

/**
 * What `ProcessPromise.lines()` returns: an async iterator written by
 * hand rather than an async generator. A line that is already read costs
 * one promise and one result object; an async generator's per-line
 * promises (and `await`s) kept a loop over 100 MB of lines from fitting
 * in 32 MiB of plugin memory (guests/js/sdk/README.md, Memory).
 */
class LineIterator {
  constructor(process) {
    this.process = process;
    this.job = undefined; // set by the first next(): until then stdout is captured as before
    this.open = true;
    this.tail = null; // the last request still waiting for a line
  }

  /** Switches stdout to lines, at the first request (as an async generator's body starts). */
  begin() {
    if (this.job !== undefined) return;
    const process = this.process;
    process.start();
    this.outcome = process.outcome();
    this.outcome.catch(() => {}); // reported by next(), or by awaiting the process
    this.job = process.job ?? null;
    this.job?.toLines();
  }

  [Symbol.asyncIterator]() {
    return this;
  }

  next() {
    if (this.open) this.begin();
    if (this.open && !this.tail) {
      const line = this.job?.takeLine() ?? null;
      if (line !== null) return Promise.resolve({ value: line, done: false });
    }
    // Requests that must wait are answered one at a time, in the order
    // they were made, as an async generator's are.
    const request = (this.tail ?? Promise.resolve()).then(() => this.waitForLine());
    this.tail = request;
    const settled = () => {
      if (this.tail === request) this.tail = null;
    };
    request.then(settled, settled);
    return request;
  }

  async waitForLine() {
    const job = this.job;
    while (this.open && job) {
      const line = job.takeLine();
      if (line !== null) return { value: line, done: false };
      if (job.linesEnded()) break;
      await new Promise((resolve) => ((job.wakeLines = resolve), wake()));
    }
    if (!this.open) return DONE;
    this.open = false;
    const o = await this.outcome;
    if (o.error) throw o.error;
    return DONE;
  }

  /** Leaving the loop early: stdout is closed, as `cmd | head` does. */
  return() {
    if (this.open && this.job) this.job.dropStdout();
    this.open = false;
    return Promise.resolve(DONE);
  }

  throw(error) {
    this.return();
    return Promise.reject(error);
  }

  [Symbol.asyncDispose]() {
    return this.return().then(() => undefined);
  }
}

// --- the reactor ----------------------------------------------------------------------

// One loop serves every pending `$` process: each round is one
// `wasi:io/poll` call over every open pipe and exit of every running one
// (and a short timer, so that the plugin's own timers are not held up),
// serves what is ready, resolves what finished, and then yields to
// StarlingMonkey's event loop (a `setTimeout(0)`): other tasks run, and the
// garbage collector gets its turn (a model of this loop driven by
// microtasks alone, never turning the event loop, needed twice the memory).
const SLICE = 20n * NANOS_PER_MS;
const QUEUED_MAX = 256 * 1024; // bytes of stdout read but not yet taken as lines by `lines()`
const jobs = new Set();
let reactorRunning = false;

function wake() {
  if (reactorRunning || jobs.size === 0) return;
  reactorRunning = true;
  setTimeout(reactorRound, 0);
}

function reactorRound() {
  const waits = [];
  for (const job of jobs) job.interests(waits);
  if (waits.length === 0) {
    reactorRunning = false; // nothing to wait for until a consumer takes lines
    return;
  }
  const timer = subscribeDuration(SLICE);
  const pollables = waits.map(([p]) => p);
  let ready;
  try {
    ready = Array.from(poll([...pollables, timer]));
  } finally {
    pollables.forEach(dispose);
    dispose(timer);
  }
  for (const k of ready) if (k < waits.length) waits[k][1]();
  for (const job of jobs) job.progress();
  setTimeout(reactorRound, 0);
}

/** A spawned `$` process as the reactor drives it. */
class Job {
  constructor(owner, handle, input, takeStdout) {
    this.owner = owner;
    this.handle = handle;
    this.stdin = handle.takeStdin() ?? null;
    this.input = input ?? new Uint8Array();
    this.written = 0;
    this.flushing = false;
    this.readers = [(takeStdout && handle.takeStdout()) || null, handle.takeStderr() ?? null];
    this.decoders = [decoder(), decoder()];
    this.text = ["", ""];
    this.lineMode = false;
    this.queue = []; // lines decoded before the switch to lines
    this.chunks = []; // stdout's chunks not yet taken as lines
    this.at = 0; // where the next line starts in chunks[0]
    this.queued = 0; // bytes in chunks
    this.partial = ""; // the start of a line whose end has not come
    this.wakeLines = null;
    this.stdoutDropped = false;
    this.status = null;
  }

  interests(waits) {
    this.readers.forEach((r, i) => {
      if (r && !(i === 0 && this.lineMode && this.queued >= QUEUED_MAX)) waits.push([r.subscribe(), () => this.read(i)]);
    });
    if (this.stdin) waits.push([this.stdin.subscribe(), () => this.write()]);
    if (!this.readers[0] && !this.readers[1] && !this.stdin && !this.status) waits.push([this.handle.subscribe(), () => this.exit()]);
  }

  read(i) {
    const chunk = readChunk(this.readers[i]);
    if (chunk === null) {
      dispose(this.readers[i]);
      this.readers[i] = null;
      if (i === 0 && this.lineMode) this.notify();
      else this.text[i] += this.decoders[i].decode();
    } else if (!chunk.length) {
      release(chunk);
    } else if (i === 0 && this.lineMode) {
      this.chunks.push(chunk);
      this.queued += chunk.length;
      this.notify();
    } else {
      this.text[i] += this.decoders[i].decode(chunk, { stream: true });
      release(chunk);
    }
  }

  /** Switches stdout from captured text to a queue of lines (for `lines()`). */
  toLines() {
    if (this.lineMode) return;
    this.lineMode = true;
    const lines = this.text[0].split("\n");
    this.text[0] = "";
    this.partial = lines.pop();
    for (const line of lines) this.queue.push(line.replace(/\r$/, ""));
    if (!this.readers[0]) this.partial += this.decoders[0].decode();
  }

  notify() {
    const w = this.wakeLines;
    this.wakeLines = null;
    w?.();
  }

  /** The next line waiting, or null if none waits now. */
  takeLine() {
    if (this.queue.length) return this.queue.shift();
    const decoder = this.decoders[0];
    while (this.chunks.length) {
      const chunk = this.chunks[0];
      const nl = chunk.indexOf(10, this.at);
      // Decoded line by line: each line is a string of its own, so no
      // line keeps a whole chunk's text alive. The streaming decoder
      // carries a character split between chunks; a line that ends in
      // "\n" leaves it empty.
      const text = decoder.decode(chunk.subarray(this.at, nl < 0 ? chunk.length : nl + 1), { stream: true });
      if (nl < 0) {
        this.partial += text;
        this.dropChunk();
        continue;
      }
      const line = this.partial + text;
      this.partial = "";
      this.at = nl + 1;
      if (this.at === chunk.length) this.dropChunk();
      return line.slice(0, line.endsWith("\r\n") ? -2 : -1);
    }
    if (this.readers[0] || this.stdoutDropped) return null;
    const last = this.partial + decoder.decode();
    this.partial = "";
    return last === "" ? null : last.replace(/\r$/, "");
  }

  /** Whether no line can come any more. */
  linesEnded() {
    return !this.readers[0] && !this.queue.length && !this.chunks.length && this.partial === "";
  }

  dropChunk() {
    const chunk = this.chunks.shift();
    this.queued -= chunk.length;
    this.at = 0;
    release(chunk);
    if (this.queued < QUEUED_MAX) wake();
  }

  /** The consumer of lines went away: stdout is closed, as `cmd | head` does. */
  dropStdout() {
    if (this.readers[0]) {
      dispose(this.readers[0]);
      this.readers[0] = null;
      this.stdoutDropped = true;
    }
    this.queue = [];
    this.chunks.forEach(release);
    this.chunks = [];
    this.at = 0;
    this.queued = 0;
    this.partial = "";
    this.notify(); // a request waiting for a line ends
    wake();
  }

  write() {
    try {
      if (this.flushing) {
        this.stdin.checkWrite();
        return this.closeStdin();
      }
      const room = Number(this.stdin.checkWrite());
      if (room > 0 && this.written < this.input.length) {
        const chunk = this.input.subarray(this.written, this.written + room);
        this.stdin.write(chunk);
        this.written += chunk.length;
      }
      if (this.written >= this.input.length) {
        this.stdin.flush();
        this.flushing = true;
      }
    } catch (err) {
      const tag = err?.payload?.tag;
      if (tag !== "closed" && tag !== "last-operation-failed") throw err;
      this.closeStdin();
    }
  }

  closeStdin() {
    dispose(this.stdin);
    this.stdin = null;
  }

  exit() {
    this.status = new ExitStatus(hostCall(this.owner.argv, () => this.handle.wait()));
  }

  progress() {
    if (this.status) this.finish();
  }

  /** Kills the tree now and takes its status (for `using`). */
  killNow() {
    if (this.status) return;
    hostCall(this.owner.argv, () => this.handle.kill());
    this.exit();
    this.finish();
  }

  finish() {
    jobs.delete(this);
    this.readers.forEach(dispose);
    dispose(this.stdin);
    this.readers = [null, null];
    this.stdin = null;
    if (this.lineMode) this.notify();
    const handle = this.handle;
    this.handle = null;
    dispose(handle);
    this.owner.finished(this.status, this.text[0], this.text[1], this.stdoutDropped);
  }
}

// --- the pending process of `$` ---------------------------------------------------

const isTemplate = (value) => Array.isArray(value) && Array.isArray(value.raw);

/**
 * What `$` returns: a process that starts at once (in a microtask, so
 * that `.pipe()`, `.nothrow()` and `.quiet()` can be chained first) and
 * runs concurrently with every other pending one. Await it for its
 * `Result`; a failure rejects with `CommandError` (not with `.nothrow()`).
 */
export class ProcessPromise {
  constructor(argv, options) {
    this.argv = argv;
    this.options = { ...options };
    this.source = null; // the process whose stdout is this one's stdin
    this.piped = false; // this one's stdout goes to another process
    this.job = null;
    this.state = "new"; // "new", "running", "done"
    this.settled = new Promise((resolve) => (this.settle = resolve)); // { status, result, error }
    queueMicrotask(() => this.start());
  }

  /** Starts it, if it has not started. */
  start() {
    if (this.state !== "new") return this;
    this.state = "running";
    if (this.source) this.source.start();
    if (this.source && !this.source.job) {
      this.state = "done";
      this.settle({ error: new ProcboxError(`\`${commandLine(this.argv)}\` did not start: \`${commandLine(this.source.argv)}\`, its input, did not`) });
      return this;
    }
    const o = this.options;
    const command = new Command(this.argv[0], this.argv.slice(1));
    if (o.cwd !== undefined) command.cwd(o.cwd);
    for (const [k, v] of Object.entries(o.env ?? {})) command.env(k, v);
    if (o.timeoutMs !== undefined) command.timeout(o.timeoutMs);
    const input = o.input === undefined ? null : encode(o.input);
    if (o.verbose && !o.quiet) console.error(`$ ${commandLine(this.argv)}`);
    try {
      const child = command.spawn({
        stdin: this.source ? this.source.childView() : input ? "pipe" : undefined,
        stdout: "pipe",
        stderr: "pipe",
      });
      const handle = child.handle;
      child.handle = null;
      this.pid = child.pid;
      this.handleForPipe = handle;
      // A piped stdout is taken by the next process's spawn, not read here.
      this.job = new Job(this, handle, input, !this.piped);
      jobs.add(this.job);
      wake();
    } catch (err) {
      this.state = "done";
      this.settle({ error: err });
    }
    return this;
  }

  childView() {
    return Object.assign(Object.create(Child.prototype), { handle: this.handleForPipe });
  }

  finished(status, stdout, stderr, stdoutDropped) {
    this.state = "done";
    const result = new Result(this.argv, status, stdout, stderr);
    // The reader of its stdout went away (a pipe's next stage, or `lines()`
    // left early): SIGPIPE is how such a process ends, not a failure.
    const sigpipe = status.signal === SIGPIPE && !status.timedOut && !status.outputTruncated && (this.piped || stdoutDropped);
    const failed = !status.success && !sigpipe;
    this.settle({ status, result, error: failed && !this.options.nothrow ? new CommandError(this.argv, status, stdout, stderr) : null });
  }

  /** The pipeline's outcome: this stage's failure, else the earlier stages' (the rightmost failing checked stage). */
  async outcome() {
    this.start();
    const mine = await this.settled;
    if (mine.error || !this.source) return mine;
    const before = await this.source.outcome();
    return before.error ? { ...mine, error: before.error } : mine;
  }

  then(onFulfilled, onRejected) {
    return this.outcome()
      .then((o) => {
        if (o.error) throw o.error;
        return o.result;
      })
      .then(onFulfilled, onRejected);
  }
  catch(onRejected) {
    return this.then(undefined, onRejected);
  }
  finally(onFinally) {
    return this.then(
      (v) => Promise.resolve(onFinally?.()).then(() => v),
      (e) => Promise.resolve(onFinally?.()).then(() => Promise.reject(e)),
    );
  }

  /** A failure resolves to its `Result` instead of rejecting. */
  nothrow() {
    this.options.nothrow = true;
    return this;
  }

  /** Not echoed, even with `$.verbose` (or `verbose: true`). */
  quiet() {
    this.options.quiet = true;
    return this;
  }

  /**
   * Sends this process's stdout to `next`'s stdin through an OS pipe (no
   * byte passes through the plugin), and returns `next` (a pending `$`
   * process, or a template: `.pipe\`wc -l\``). Awaiting it judges the
   * pipeline: the rightmost failing stage, SIGPIPE upstream forgiven.
   */
  pipe(next, ...values) {
    if (isTemplate(next)) next = $(next, ...values);
    if (!(next instanceof ProcessPromise)) throw new TypeError(".pipe() takes a pending $ process or a template");
    if (this.state !== "new" || next.state !== "new" || next.source || this.piped)
      throw new ProcboxError(`.pipe(): \`${commandLine(this.argv)}\` | \`${commandLine(next.argv)}\` must be joined before either starts (in the statement that creates them)`);
    this.piped = true;
    next.source = this;
    return next;
  }

  /**
   * stdout's lines as they come, for `for await`: read while the plugin
   * takes them (at most 256 KiB waiting), so memory stays bounded. Throws
   * `CommandError` at the end if it failed (not with `.nothrow()`).
   * Leaving the loop early closes stdout (the child sees EPIPE, as with
   * `cmd | head`).
   */
  lines() {
    return new LineIterator(this);
  }

  /** A signal (default SIGTERM, as Node's) to its process group: it and what it started. */
  kill(signal = "SIGTERM") {
    const name = signalName(signal);
    this.start();
    const handle = this.job?.handle;
    if (handle) hostCall(this.argv, () => handle.signalGroup(SIGNALS[name]));
  }

  /** Its exit code (null if a signal ended it), once it ended. */
  get exitCode() {
    return this.outcome().then((o) => (o.status ? o.status.exitCode : Promise.reject(o.error)));
  }

  /** `using p = $\`...\``: kills its tree at the end of the block. */
  [Symbol.dispose]() {
    this.start();
    this.then(undefined, () => {}); // its failure is expected now
    this.job?.killNow();
  }

  /** `await using p = $\`...\``: kills its tree and waits for its end. */
  async [Symbol.asyncDispose]() {
    this[Symbol.dispose]();
    await this.settled;
  }

  toString() {
    return commandLine(this.argv);
  }
}

function signalName(sig) {
  const name = typeof sig === "number" ? SIGNAL_NUMBERS[sig] : String(sig).toUpperCase().replace(/^SIG/, "");
  if (!SIGNALS[name]) throw new TypeError(`procbox cannot send signal ${sig} (one of ${Object.keys(SIGNALS).join(", ")}, with or without SIG, or its number)`);
  return name;
}

function command(options, strings, values) {
  const argv = words(strings, values);
  if (!argv[0]) throw new TypeError("$`...` needs a program");
  return argv;
}

function syncTemplate(options) {
  return (strings, ...values) => {
    if (!isTemplate(strings)) return syncTemplate({ ...options, ...strings });
    const [program, ...args] = command(options, strings, values);
    const c = new Command(program, args);
    if (options.cwd !== undefined) c.cwd(options.cwd);
    for (const [k, v] of Object.entries(options.env ?? {})) c.env(k, v);
    if (options.input !== undefined) c.input(options.input);
    if (options.timeoutMs !== undefined) c.timeout(options.timeoutMs);
    if (options.check === false || options.nothrow) c.check(false);
    return c.output();
  };
}

function template(options) {
  const tag = (strings, ...values) => {
    if (!isTemplate(strings)) {
      if (strings === null || typeof strings !== "object") throw new TypeError("$ takes a template (`$\\`ls\\``) or an options object");
      return template({ ...options, ...strings });
    }
    const o = { ...options };
    if (o.check === false) o.nothrow = true;
    if (o.verbose === undefined) o.verbose = $.verbose;
    return new ProcessPromise(command(o, strings, values), o);
  };
  tag.sync = syncTemplate(options);
  return tag;
}

/**
 * Runs a command written as a template, in the style of zx and execa, and
 * returns a pending `ProcessPromise` that runs concurrently with every
 * other one: `await` it for its `Result`. No shell: see `words`.
 * `$({ cwd, env, input, timeoutMs, check, nothrow, verbose })\`...\``
 * sets options; `$.sync\`...\`` runs it to its end and returns the
 * `Result` (the synchronous form, as zx's).
 */
export const $ = template({});
$.verbose = false;

// --- the entry point ------------------------------------------------------------

/**
 * The `wasi:cli/run` export for `main(args)`: `export const run =
 * plugin(main)`. `main` returns the exit code (undefined: 0), or a promise
 * of it (an `async` main). A procbox error that escapes prints one line
 * and exits 1; any other error its stack, and exits 1.
 */
export function plugin(main) {
  const failed = (err) => {
    console.error(err instanceof ProcboxError ? `${pluginName()}: ${err.message}` : `${err}\n${err?.stack ?? ""}`);
    return 1;
  };
  const end = (code) => exitWithCode(Number(code ?? 0) & 0xff);
  return {
    run() {
      let result;
      try {
        result = main(pluginArgs());
      } catch (err) {
        return end(failed(err));
      }
      // An async main: the event loop runs it to its end, then exit.
      if (typeof result?.then === "function") return result.then(end, (err) => end(failed(err)));
      end(result);
    },
  };
}

function pluginArgs() {
  return getArguments().slice(1);
}

function pluginName() {
  const name = getArguments()[0] ?? "plugin";
  return name.split("/").pop();
}

// --- command lines, as the host writes them --------------------------------------

const ESCAPES = { "\\": "\\\\", '"': '\\"', "\n": "\\n", "\r": "\\r", "\t": "\\t", "\0": "\\0" };
const control = (c) => c.codePointAt(0) < 0x20 || (c.codePointAt(0) >= 0x7f && c.codePointAt(0) < 0xa0);

/** One word as procbox writes it in messages. */
export function quote(word) {
  if (word && ![...word].some((c) => /\s/.test(c) || control(c) || c === '"' || c === "'")) return word;
  const escaped = [...word].map((c) => ESCAPES[c] ?? (control(c) ? `\\u{${c.codePointAt(0).toString(16)}}` : c)).join("");
  return `"${escaped}"`;
}

export function commandLine(argv) {
  return argv.map(quote).join(" ");
}

export { SIGPIPE };
