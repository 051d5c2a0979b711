// Types of the procbox JavaScript SDK (procbox.js), for TypeScript plugins
// and editors. guests/js/sdk/README.md is the reference: every form it
// documents type-checks with `tsc --strict` against this file (a test
// checks each of its snippets, and README.md's).

/** Where a spawned child's stream goes: see `Command.spawn`. */
export type Stream = "pipe" | "ignore" | "inherit" | { file: string; append?: boolean };
/** Bytes or text for a child's stdin (text is written as UTF-8). */
export type Input = string | Uint8Array;
export type SignalName = "HUP" | "INT" | "QUIT" | "KILL" | "USR1" | "USR2" | "TERM" | "STOP" | "CONT";

export class ProcboxError extends Error {}

export class SpawnError extends ProcboxError {
  readonly command: string[];
  readonly kind: "denied" | "not-found" | "invalid-input" | "limit-exceeded" | "io";
  readonly reason: string;
}

export class CommandError extends ProcboxError {
  readonly command: string[];
  readonly status: ExitStatus;
  readonly exitCode: number | null;
  readonly stdout: string | null;
  readonly stderr: string | null;
}

export class ExitStatus {
  private constructor();
  readonly code: number | null;
  /** The same as `code`. */
  readonly exitCode: number | null;
  readonly signal: number | null;
  readonly durationMs: number;
  readonly timedOut: boolean;
  readonly outputTruncated: boolean;
  readonly usage: { userCpuMs: number; systemCpuMs: number; maxRssBytes: number };
  readonly treeUsage: { userCpuMs: number; systemCpuMs: number; peakMemoryBytes: number } | null;
  readonly success: boolean;
  describe(): string;
}

export class Result {
  private constructor();
  readonly command: string[];
  readonly status: ExitStatus;
  readonly exitCode: number | null;
  readonly stdout: string;
  readonly stderr: string;
  text(): string;
  lines(): string[];
  json<T = unknown>(): T;
  /** `String(result)`: `text()`. */
  toString(): string;
}

export class Child {
  private constructor();
  readonly command: string[];
  readonly pid: number;
  status: ExitStatus | null;
  stderrText: string;
  /** SIGKILL to its process group. */
  kill(): void;
  signal(sig: SignalName | `SIG${SignalName}` | number, options?: { group?: boolean }): void;
  wait(): ExitStatus;
  /** Writes `input` (then closes stdin) while reading stdout and stderr; waits. */
  communicate(input?: Input | null): { stdout: string; stderr: string };
  /** stdout's lines as the child prints them, while `input` is written. */
  lines(input?: Input | null): Generator<string, void, void>;
  close(): void;
}

export class Command {
  constructor(program: string, args?: ReadonlyArray<string | number>);
  readonly argv: string[];
  arg(value: string | number): this;
  args(values: ReadonlyArray<string | number>): this;
  env(name: string, value: string | number): this;
  cwd(dir: string): this;
  input(data: Input): this;
  timeout(ms: number, killAfterMs?: number): this;
  check(yes?: boolean): this;
  measureTree(yes?: boolean): this;
  spawn(streams?: { stdin?: Stream | Child; stdout?: Stream; stderr?: Stream | "stdout" }): Child;
  output(): Result;
  text(): string;
  lines(): Generator<string, void, void>;
  /** The command line as procbox quotes it. */
  toString(): string;
}

/** `$(options)`: see the reference's `$` section. */
export interface Options {
  /** The working directory (a granted `--dir`). */
  cwd?: string;
  /** Variables to set (the child inherits nothing; `--allow-env` governs them). */
  env?: Record<string, string | number>;
  /** Bytes or text for stdin. */
  input?: Input;
  /** SIGTERM after this long, then SIGKILL to the tree 2 s later. */
  timeoutMs?: number;
  /** `false`: a failing `Result` instead of a `CommandError`. */
  check?: boolean;
  /** The same as `check: false` (zx's name). */
  nothrow?: boolean;
  /** Print `$ command` on stderr before it starts (default: `$.verbose`). */
  verbose?: boolean;
}

/**
 * What `$` returns: a process that starts in a microtask and runs
 * concurrently with every other pending one. Await it for its `Result`.
 */
export class ProcessPromise implements PromiseLike<Result> {
  private constructor();
  readonly argv: string[];
  /** Its process id, once it started. */
  readonly pid: number | undefined;
  then<A = Result, B = never>(
    onFulfilled?: ((result: Result) => A | PromiseLike<A>) | null,
    onRejected?: ((error: unknown) => B | PromiseLike<B>) | null,
  ): Promise<A | B>;
  catch<B = never>(onRejected?: ((error: unknown) => B | PromiseLike<B>) | null): Promise<Result | B>;
  finally(onFinally?: (() => void) | null): Promise<Result>;
  /** A failure resolves to its `Result` instead of rejecting. */
  nothrow(): this;
  /** Not echoed, even with `$.verbose`. */
  quiet(): this;
  /** stdout to `next`'s stdin through an OS pipe; returns `next`. */
  pipe(next: ProcessPromise): ProcessPromise;
  pipe(strings: TemplateStringsArray, ...values: Value[]): ProcessPromise;
  /** stdout's lines as they come; throws `CommandError` at the end if it failed. */
  lines(): LineIterator;
  /** A signal (default SIGTERM) to its process group. */
  kill(signal?: SignalName | `SIG${SignalName}` | number): void;
  /** Its exit code once it ended (null: a signal ended it). */
  readonly exitCode: Promise<number | null>;
  /** The command line as procbox quotes it. */
  toString(): string;
  [Symbol.dispose](): void;
  [Symbol.asyncDispose](): Promise<void>;
}

/** A value interpolated into `$`: one argument, or (an array standing alone) one per element. */
/**
 * `ProcessPromise.lines()`: stdout's lines for `for await`. `return()`
 * (leaving the loop early) closes stdout; `await using` does the same.
 */
export interface LineIterator extends AsyncIterableIterator<string, undefined, undefined> {
  next(): Promise<IteratorResult<string, undefined>>;
  return(): Promise<IteratorReturnResult<undefined>>;
  throw(error?: unknown): Promise<IteratorResult<string, undefined>>;
  [Symbol.asyncIterator](): LineIterator;
  [Symbol.asyncDispose](): Promise<void>;
}

export type Value = string | number | ReadonlyArray<string | number>;

export interface SyncDollar {
  (strings: TemplateStringsArray, ...values: Value[]): Result;
  (options: Options): SyncDollar;
}

export interface Dollar {
  (strings: TemplateStringsArray, ...values: Value[]): ProcessPromise;
  (options: Options): Dollar;
  /** Runs it to its end and returns the `Result` (zx's `$.sync`). */
  sync: SyncDollar;
  /** Print `$ command` on stderr before each starts (default false). */
  verbose: boolean;
}

export const $: Dollar;
export function words(strings: readonly string[], values: readonly Value[]): string[];
/** What `main` returns: the exit code (nothing: 0), or a promise of it (an `async` main). */
export type ExitCode = number | void | undefined;
/** The `wasi:cli/run` export: `export const run = plugin(main)`. */
export function plugin(main: (args: string[]) => ExitCode | Promise<ExitCode>): { run(): void };
export function quote(word: string): string;
export function commandLine(argv: readonly string[]): string;
export const SIGPIPE: 13;
