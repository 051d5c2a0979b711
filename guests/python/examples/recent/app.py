"""recent: the last N commits of the repository it runs in, one line each.
The same small task is written in Rust (guests/rust/examples/recent) and
JavaScript (guests/js/examples/recent), side by side in the README.

    procbox run recent.wasm --allow-run 'git log **' -- 3
"""

import procbox


async def main(args):
    n = args[0] if args else "5"
    log = await procbox.run_process(["git", "log", "--oneline", "-n", n], text=True)
    print(log.stdout, end="")


Run = procbox.plugin(main)
