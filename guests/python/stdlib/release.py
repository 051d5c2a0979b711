"""A small release script written for CPython's subprocess, unmodified:
the notes for the next release of the git repository it runs in.

    python3 release.py [REPO]
"""

import subprocess
import sys


def main(args):
    repo = args[0] if args else "."
    tag = subprocess.run(
        ["git", "describe", "--tags", "--always"], cwd=repo, capture_output=True, text=True, check=True
    ).stdout.strip()
    print(f"release notes since {tag}")
    log = subprocess.check_output(["git", "log", "--format=%s", "-n", "20"], cwd=repo, text=True)
    with subprocess.Popen(["sed", "-e", "s/^/- /"], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True) as sed:
        notes, _ = sed.communicate(log)
    print(notes, end="")
    count = subprocess.run(["wc", "-l"], input=notes.encode(), stdout=subprocess.PIPE).stdout
    print(f"{int(count)} changes")
    code = subprocess.call(["git", "diff", "--quiet"], cwd=repo)
    print("clean" if code == 0 else "dirty")
    subprocess.check_call(["git", "log", "-n", "1", "--format=last: %s"], cwd=repo)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
