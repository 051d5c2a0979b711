// Turns a bundled ES module into a procbox plugin (a component of the WIT
// world `plugin`): node componentize.mjs BUNDLE.js WIT_DIR OUT.wasm
import { readFile, writeFile } from "node:fs/promises";
import { componentize } from "@bytecodealliance/componentize-js";

const [source, witPath, out] = process.argv.slice(2);
const { component } = await componentize(await readFile(source, "utf8"), {
  sourceName: "plugin.js",
  witPath,
  worldName: "plugin",
  // Without this the component imports wasi:http, which is not the
  // plugin world, and procbox refuses it.
  disableFeatures: ["http", "fetch-event"],
});
await writeFile(out, component);
