"""A study's wall time from its logs: the sum over cells of each cell sweep's last "elapsed" progress line.

    python bench/study_wall_time.py study-1.log study-2.log ...   # every log of the study's invocations

A study stopped and continued is several invocations; each prints, per cell, ``[sweep] <cell folder>: ...`` and then
``[sweep] k/n runs done (...); elapsed H:MM:SS``. A cell's time is the sum of its last elapsed in each log.
"""

import argparse
import re
import sys


def cell_seconds(lines) -> dict:
    """{cell folder name: seconds} from one log's lines."""
    seconds, cell, last = {}, None, None
    for line in [*lines, "[sweep] /end: "]:
        started = re.match(r"\[sweep\] (\S+): ", line)
        if started:
            if cell and last:
                seconds[cell] = seconds.get(cell, 0) + last
            cell, last = started.group(1).rstrip("/").split("/")[-1], None
            continue
        elapsed = re.search(r"runs done .*elapsed (\d+):(\d\d):(\d\d)", line)
        if elapsed and cell:
            last = int(elapsed[1]) * 3600 + int(elapsed[2]) * 60 + int(elapsed[3])
    return seconds


def clock(seconds) -> str:
    return f"{seconds // 3600}:{seconds // 60 % 60:02d}:{seconds % 60:02d}"


def main(argv) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("logs", nargs="+", metavar="LOG", help="the log of each invocation of the study")
    total = {}
    for path in parser.parse_args(argv).logs:
        try:
            with open(path, errors="replace") as f:
                text = f.read()
        except OSError as e:
            print(f"study_wall_time.py: cannot read {path}: {e.strerror}", file=sys.stderr)
            return 2
        for cell, s in cell_seconds(text.splitlines()).items():
            total[cell] = total.get(cell, 0) + s
    for cell, s in sorted(total.items()):
        print(f"{cell:60s} {clock(s)}")
    print(f"{len(total)} cells, sum {clock(sum(total.values()))}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
