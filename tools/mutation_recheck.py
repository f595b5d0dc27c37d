"""Survivors of a mutmut run against the tests as they are now, without a new run (docs/testing.md).

After tests are written for a run's survivors, this applies each survivor's change (the lines ``mutmut show``
prints in the run's folder) to a copy of the tracked tree and runs the tests named: ``caught`` when one fails,
``survived`` when all pass, ``gone`` when the mutated lines are no longer in the tree (the code changed).
Minutes instead of the hours a new mutmut run of the same functions takes, since no test but the named ones runs.

    python -m tools.mutation_recheck --run /work/mutate-fast-3 --tests "tests/test_train.py -k step" NAMES...
"""

import argparse
import shlex
import subprocess
import sys
from pathlib import Path

from tools.mutate_fast import prepare
from tools.mutation_score import MUTMUT

ROOT = Path(__file__).resolve().parent.parent


def mutated_source(show: str, source: str) -> str | None:
    """``source`` with the change ``show`` (mutmut's diff of one function) applied, or None when its lines are not
    in ``source`` exactly once, as whole lines. mutmut prints a method dedented, so one and two levels of indent
    are tried; with the diff's context lines first, then the changed lines alone (the context may have changed)."""
    body = show.split("\n@@", 1)[1].split("\n", 1)[1].splitlines()
    text = "\n" + source
    for kept in (" ", None):
        old = [line[1:] for line in body if line[:1] in (kept, "-")]
        new = [line[1:] for line in body if line[:1] in (kept, "+")]
        for indent in ("", "    ", "        "):
            before, after = ("".join("\n" + (indent + line if line.strip() else "") for line in lines) + "\n"
                             for lines in (old, new))
            if text.count(before) == 1:
                return text.replace(before, after)[1:]
    return None


def recheck(run: Path, names, tests, copy: Path, out=sys.stdout, timeout=300) -> dict:
    """{name: caught | survived | gone}, each name's change applied alone to one copy of the tree (the file it
    changed is put back after its tests); tests still running after ``timeout`` seconds count as caught."""
    prepare(copy)
    results = {}
    for name in names:
        show = subprocess.run([MUTMUT, "show", name], cwd=run, capture_output=True, text=True, check=True).stdout
        path = next(line[4:].strip() for line in show.splitlines() if line.startswith("--- "))
        source = (ROOT / path).read_text()
        changed = mutated_source(show, source)
        if changed is None:
            results[name] = "gone"
        else:
            (copy / path).write_text(changed)
            try:
                rc = subprocess.run([sys.executable, "-m", "pytest", "-q", "-x", "-p", "no:cacheprovider", *tests],
                                    cwd=copy, capture_output=True, timeout=timeout).returncode
            except subprocess.TimeoutExpired:
                rc = "timeout"  # a mutant that never ends its loop: caught, as mutmut counts a timeout
            finally:
                (copy / path).write_text(source)
            results[name] = {0: "survived", 1: "caught", "timeout": "caught (timeout)"}.get(rc, f"pytest exit {rc}")
        print(name, results[name], file=out, flush=True)
    return results


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--run", required=True, help="the folder mutmut ran in (it holds mutants/)")
    parser.add_argument("--tests", required=True, help="pytest's arguments: the tests that may catch them")
    parser.add_argument("--copy", default="/tmp/transfer-learning-recheck", help="where the tree is copied (replaced)")
    parser.add_argument("--timeout", type=float, default=300,
                        help="seconds after which a mutant's tests count as caught (a loop that never ends)")
    parser.add_argument("names", nargs="+", help="the survivors, as mutmut names them")
    args = parser.parse_args(argv)
    recheck(Path(args.run), args.names, shlex.split(args.tests), Path(args.copy), timeout=args.timeout)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
