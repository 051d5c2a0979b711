// Types of the procbox JavaScript SDK (procbox.js), for TypeScript plugins
// and editors. guests/js/sdk/README.md is the reference.

export type Stream = "pipe" | "ignore" | "inherit" | { file: string; append?: boolean };
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
  readonly code: number | null;
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
  readonly command: string[];
  readonly status: ExitStatus;
  readonly exitCode: number | null;
  readonly stdout: string;
  readonly stderr: string;
  text(): string;
  lines(): string[];
  json<T = unknown>(): T;
}

export class Child {
  readonly command: string[];
  readonly pid: number;
  status: ExitStatus | null;
  stderrText: string;
  kill(): void;
  signal(sig: SignalName | `SIG${SignalName}` | number, options?: { group?: boolean }): void;
  wait(): ExitStatus;
  communicate(input?: Uint8Array): { stdout: string; stderr: string };
  lines(): Generator<string, void, void>;
  close(): void;
}

export class Command {
  constructor(program: string, args?: Array<string | number>);
  readonly argv: string[];
  arg(value: string | number): this;
  args(values: Array<string | number>): this;
  env(name: string, value: string | number): this;
  cwd(dir: string): this;
  input(data: string | Uint8Array): this;
  timeout(ms: number, killAfterMs?: number): this;
  check(yes?: boolean): this;
  measureTree(yes?: boolean): this;
  spawn(streams?: { stdin?: Stream | Child; stdout?: Stream; stderr?: Stream | "stdout" }): Child;
  output(): Result;
  text(): string;
  lines(): Generator<string, void, void>;
}

export interface Options {
  cwd?: string;
  env?: Record<string, string | number>;
  input?: string | Uint8Array;
  timeoutMs?: number;
  check?: boolean;
}

type Value = string | number | Array<string | number>;

export interface Dollar {
  (strings: TemplateStringsArray, ...values: Value[]): Result;
  (options: Options): Dollar;
}

export const $: Dollar;
export function words(strings: readonly string[], values: Value[]): string[];
export function plugin(main: (args: string[]) => number | void): { run(): void };
export function quote(word: string): string;
export function commandLine(argv: string[]): string;
