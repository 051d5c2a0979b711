// recent: the last N commits of the repository it runs in, one line each.
// The same small task is written in Rust (guests/rust/examples/recent) and
// Python (guests/python/examples/recent), side by side in the README.
//
//   procbox run recent.wasm --allow-run 'git log **' -- 3
//
// `$` builds git's argv from the template: no shell is involved, and an
// interpolated value is always one argument.
import { $, plugin } from "procbox";

export const run = plugin(async ([n = "5"]) => {
  for await (const line of $`git log --oneline -n ${n}`.lines()) console.log(line);
});
