// recent: the last N commits of a git repository, one line each.
//
//   procbox run recent.wasm --allow-run 'git log **' --dir REPO -- REPO [N]
//
// `$` builds git's argv from the template: no shell is involved, and an
// interpolated value is always one argument.
import { $, plugin } from "procbox";

export const run = plugin(([repo = ".", n = "5"]) => {
  if (!/^[1-9][0-9]*$/.test(n)) {
    console.error(`recent: N must be a positive number, not ${JSON.stringify(n)}`);
    return 2;
  }
  for (const line of $({ cwd: repo })`git log --oneline -n ${n}`.lines()) {
    console.log(line);
  }
});
