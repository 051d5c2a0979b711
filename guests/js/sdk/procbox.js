// procbox for JavaScript plugins: start the processes the user granted,
// read their output, and wait for them.
//
//   import { $, Command } from "procbox";
//
//   export const run = procbox.plugin((args) => {
//     const log = $`git log --oneline -5`;
//     for (const line of log.lines()) console.log(line);
//   });
//
// The host's imports are synchronous, so is this SDK: a call returns when
// the child has done what was asked. `$` and `Command.output()` read
// stdout and stderr together (polling both streams), so a child that fills
// one while the plugin reads the other never deadlocks. The reference is
// guests/js/sdk/README.md.

import { spawn as hostSpawn } from "procbox:host/process@0.2.1";
import { poll } from "wasi:io/poll@0.2.12";
import { exitWithCode } from "wasi:cli/exit@0.2.12";
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

/** Reads `streams` (host input streams, or null) to their ends together, handing each chunk to `take[i]`. */
function pump(streams, take) {
  const open = streams.map((stream, i) => (stream ? i : -1)).filter((i) => i >= 0);
  while (open.length) {
    const pollables = open.map((i) => streams[i].subscribe());
    let ready;
    try {
      ready = new Set(Array.from(poll(pollables)));
    } finally {
      pollables.forEach((p) => p[Symbol.dispose]?.());
    }
    for (let k = open.length - 1; k >= 0; k--) {
      if (!ready.has(k)) continue;
      const i = open[k];
      const chunk = readChunk(streams[i]);
      if (chunk === null) {
        open.splice(k, 1);
        take[i](null);
      } else if (chunk.length) {
        take[i](chunk);
      }
    }
  }
}

/** The next chunk of `stream` (maybe empty), or null at its end. */
function readChunk(stream) {
  try {
    return stream.read(CHUNK);
  } catch (err) {
    if (err?.payload?.tag === "closed") return null;
    throw err;
  }
}

/** Writes all of `bytes` to the host output stream, then flushes. */
function writeAll(stream, bytes) {
  let offset = 0;
  try {
    while (offset < bytes.length) {
      const room = Number(stream.checkWrite());
      if (room === 0) {
        const p = stream.subscribe();
        p.block();
        p[Symbol.dispose]?.();
        continue;
      }
      const chunk = bytes.subarray(offset, offset + room);
      stream.write(chunk);
      offset += chunk.length;
    }
    stream.flush();
    const p = stream.subscribe();
    p.block();
    p[Symbol.dispose]?.();
    stream.checkWrite();
  } catch (err) {
    const tag = err?.payload?.tag;
    if (tag === "closed" || tag === "last-operation-failed") return false; // the child stopped reading
    throw err;
  }
  return true;
}

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
    this.options.input = typeof data === "string" ? new TextEncoder().encode(data) : data;
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

  /** Each line of its stdout as it comes (stderr is read meanwhile); throws on failure at the end. */
  *lines() {
    const child = this.spawn({ stdout: "pipe", stderr: "pipe" });
    try {
      yield* child.lines();
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
  /** stdout without its trailing newline(s). */
  text() {
    return this.stdout.replace(/\n+$/, "");
  }
  lines() {
    const text = this.text();
    return text ? text.split("\n") : [];
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
  /** SIGKILL to the child's whole process group. */
  kill() {
    hostCall(this.command, () => this.handle.kill());
  }
  /**
   * A signal, by name ("TERM", "SIGUSR1") or number, to the child itself;
   * with `{ group: true }` to its whole process group (the child and what
   * it started, unless they left the group).
   */
  signal(sig, { group = false } = {}) {
    const name = typeof sig === "number" ? SIGNAL_NUMBERS[sig] : String(sig).toUpperCase().replace(/^SIG/, "");
    if (!SIGNALS[name]) throw new TypeError(`procbox cannot send signal ${sig}`);
    hostCall(this.command, () => (group ? this.handle.signalGroup(SIGNALS[name]) : this.handle.sendSignal(SIGNALS[name])));
  }
  /** Waits for the exit; returns the `ExitStatus`. */
  wait() {
    if (!this.status) this.status = new ExitStatus(hostCall(this.command, () => this.handle.wait()));
    return this.status;
  }
  /**
   * Writes `input` (if any) and closes stdin, reads stdout and stderr to
   * their ends together, waits; returns `{ stdout, stderr }` as text.
   */
  communicate(input) {
    const stdin = this.handle.takeStdin();
    if (stdin) {
      if (input) writeAll(stdin, input);
      stdin[Symbol.dispose]?.();
    }
    const out = decoder();
    const err = decoder();
    const text = ["", ""];
    const streams = [this.handle.takeStdout() ?? null, this.handle.takeStderr() ?? null];
    pump(streams, [
      (chunk) => (text[0] += chunk ? out.decode(chunk, { stream: true }) : out.decode()),
      (chunk) => (text[1] += chunk ? err.decode(chunk, { stream: true }) : err.decode()),
    ]);
    streams.forEach((s) => s?.[Symbol.dispose]?.());
    this.wait();
    return { stdout: text[0], stderr: text[1] };
  }
  /** Each line of stdout (without "\n") as the child prints it; stderr is kept in `stderrText`. */
  *lines() {
    const out = this.handle.takeStdout();
    if (!out) return;
    const err = this.handle.takeStderr() ?? null;
    const decode = [decoder(), decoder()];
    let pending = "";
    let queue = [];
    const streams = [out, err];
    const open = [true, Boolean(err)];
    while (open[0] || queue.length) {
      if (queue.length) {
        yield queue.shift();
        continue;
      }
      // One round of the pump: whatever is ready now.
      const live = streams.map((s, i) => (open[i] ? s : null));
      const pollables = live.map((s) => s?.subscribe()).filter(Boolean);
      const index = live.map((s, i) => (s ? i : -1)).filter((i) => i >= 0);
      const ready = Array.from(poll(pollables));
      pollables.forEach((p) => p[Symbol.dispose]?.());
      for (const k of ready) {
        const i = index[k];
        const chunk = readChunk(streams[i]);
        if (chunk === null) {
          open[i] = false;
          if (i === 0 && pending) queue.push(pending), (pending = "");
        } else if (i === 0) {
          pending += decode[0].decode(chunk, { stream: true });
          const parts = pending.split("\n");
          pending = parts.pop();
          queue.push(...parts);
        } else {
          this.stderrText = (this.stderrText + decode[1].decode(chunk, { stream: true })).slice(-65536);
        }
      }
    }
    while (open[1]) {
      const chunk = readChunk(err);
      if (chunk === null) open[1] = false;
      else if (chunk.length) this.stderrText = (this.stderrText + decode[1].decode(chunk, { stream: true })).slice(-65536);
      else {
        const p = err.subscribe();
        p.block();
        p[Symbol.dispose]?.();
      }
    }
    out[Symbol.dispose]?.();
    err?.[Symbol.dispose]?.();
  }
  /** Lets go of the child: kills its tree if it still runs, and reaps it. */
  close() {
    this.handle[Symbol.dispose]?.();
  }
}

// --- $ ------------------------------------------------------------------------------

/**
 * The words of a template: the literal text split at whitespace, each
 * interpolated value one argument (an array, several), never parsed by a
 * shell. `$\`git log -n ${n} -- ${paths}\`` is ["git", "log", "-n", "5", "--", ...paths].
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
      if (Array.isArray(value)) {
        if (current !== null) argv.push(current), (current = null);
        argv.push(...value.map(String));
      } else push(String(value));
    }
  });
  if (current !== null) argv.push(current);
  return argv;
}

function template(options) {
  return (strings, ...values) => {
    if (!Array.isArray(strings)) return template({ ...options, ...strings });
    const [program, ...args] = words(strings, values);
    if (!program) throw new TypeError("$`...` needs a program");
    const command = new Command(program, args);
    if (options.cwd !== undefined) command.cwd(options.cwd);
    for (const [k, v] of Object.entries(options.env ?? {})) command.env(k, v);
    if (options.input !== undefined) command.input(options.input);
    if (options.timeoutMs !== undefined) command.timeout(options.timeoutMs);
    if (options.check === false) command.check(false);
    return command.output();
  };
}

/**
 * Runs a command written as a template, in the style of zx and execa, and
 * returns its `Result` (stdout and stderr as text). No shell: see `words`.
 * `$({ cwd, env, input, timeoutMs, check })\`...\`` sets options.
 */
export const $ = template({});

// --- the entry point ------------------------------------------------------------

/**
 * The `wasi:cli/run` export for `main(args)`: `export const run =
 * plugin(main)`. `main` returns the exit code (undefined: 0). A procbox
 * error that escapes prints one line and exits 1; any other error its
 * stack, and exits 1.
 */
export function plugin(main) {
  return {
    run() {
      let code;
      try {
        code = main(pluginArgs()) ?? 0;
      } catch (err) {
        console.error(err instanceof ProcboxError ? `${pluginName()}: ${err.message}` : err?.stack ?? String(err));
        code = 1;
      }
      exitWithCode(code & 0xff);
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
