// Turns a bundled ES module into a procbox plugin (a component of the WIT
// world `plugin`): node componentize.mjs BUNDLE.js WIT_DIR OUT.wasm
//
// A failure is reported as componentize-js words it (for a mistake in the
// plugin, such as an exception at the top level or no `run` export, that
// names the mistake), without this script's or componentize-js's own stack
// trace, and exits 1.
import { readFile, writeFile } from "node:fs/promises";
import { resolve } from "node:path";

function fail(message) {
  process.stderr.write(`componentize-js: ${String(message).trimEnd()}\n`);
  process.exit(1);
}

// The message without the stack trace componentize-js puts inside it
// ("    at componentize (file:///...)").
function words(err) {
  const text = err instanceof Error ? err.message : String(err);
  return text
    .split("\n")
    .filter((line) => !/^\s+at .*(\(|file:\/\/|node:)/.test(line))
    .join("\n")
    .replace(/^Error: /, "");
}

const args = process.argv.slice(2);
if (args.length !== 3) fail("usage: node componentize.mjs BUNDLE.js WIT_DIR OUT.wasm");
const [source, witPath, out] = args.map((arg) => resolve(arg));

let componentize;
try {
  ({ componentize } = await import("@bytecodealliance/componentize-js"));
} catch (err) {
  fail(`cannot load @bytecodealliance/componentize-js: ${words(err)}`);
}
let code;
try {
  code = await readFile(source, "utf8");
} catch (err) {
  fail(`cannot read ${source}: ${err.code ?? words(err)}`);
}
let component;
try {
  ({ component } = await componentize(code, {
    sourceName: "plugin.js",
    witPath,
    worldName: "plugin",
    // Without this the component imports wasi:http, which is not the
    // plugin world, and procbox refuses it.
    disableFeatures: ["http", "fetch-event"],
  }));
} catch (err) {
  fail(words(err));
}
try {
  await writeFile(out, component);
} catch (err) {
  fail(`cannot write ${out}: ${err.code ?? words(err)}`);
}
