// A TypeScript plugin: esbuild strips the types (procbox.d.ts gives them
// to editors and tsc). It counts the lines of the files it is given, with
// one `wc -l` per file, all at once, and prints them biggest first.
//
//   procbox run typed.wasm --allow-run 'wc -l *' -- FILE...
import { $, Result, plugin } from "procbox";

interface Count {
  file: string;
  lines: number;
}

async function count(file: string): Promise<Count> {
  const result: Result = await $`wc -l ${file}`;
  return { file, lines: Number.parseInt(result.text(), 10) };
}

export const run = plugin(async (files: string[]): Promise<number> => {
  if (files.length === 0) {
    console.error("typed: give one or more files");
    return 2;
  }
  const counts: Count[] = (await Promise.all(files.map(count))).sort((a, b) => b.lines - a.lines);
  for (const { file, lines } of counts) console.log(`${lines} ${file}`);
  return 0;
});
