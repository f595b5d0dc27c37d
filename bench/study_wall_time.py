"""A study's wall time from its logs: the sum over cells of each cell's time.

    python bench/study_wall_time.py study-1.log study-2.log ...   # every log of the map's invocations
    python bench/study_wall_time.py <out>/study.log               # the two-stage study's own log

A study stopped and continued is several invocations. The map's terminal output prints, per cell, ``[sweep] <cell
folder>: ...`` and then ``[sweep] k/n runs done (...); elapsed H:MM:SS``: a cell's time is the sum of its last elapsed
in each log. The two stages keep their own log, ``[study] <date> <time> <stage>: cell k/n <cell> (...)`` lines with
the clock: a cell's time is the time to the next line of its invocation (the next cell, or ``done``), summed over
invocations. A cell still running when its invocation was stopped (a session's end kills it without a line in
the log) counts up to the last file written in its folder (``<out>/<stage>/cells/<cell>``, beside the log) before
the next invocation began, and is named with what that added; without such a file it is left out and named.
"""

import argparse
import re
import sys
from pathlib import Path


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


STAGE_LINE = re.compile(r"\[study\] (\d{4}-\d\d-\d\d \d\d:\d\d:\d\d) (\w+): (start|cell \d+/\d+ (\S+)|done)")


def stage_seconds(lines, folder=None) -> tuple[dict, list]:
    """From a two-stage study's log: {"<stage>/<cell>": seconds}, and (cell, seconds added, at the log's end) of
    each cell an invocation left running. A session's end may kill an invocation without a word in the log; with
    ``folder`` (the study's --out), such a cell counts up to the last file written in its folder before the next
    invocation began (its runs up to then were kept and not run again)."""
    import datetime

    seconds, running, current = {}, [], None
    for line in [*lines, None]:
        found = STAGE_LINE.match(line) if line is not None else None
        if line is not None and not found:
            continue
        when = datetime.datetime.strptime(found[1], "%Y-%m-%d %H:%M:%S") if found else None
        if current is not None and found and found[3] != "start":
            key, began = current
            seconds[key] = seconds.get(key, 0) + int((when - began).total_seconds())
        elif current is not None:
            key, began = current
            last = _last_file_written(folder, key, began, when)
            if last is not None:
                seconds[key] = seconds.get(key, 0) + int((last - began).total_seconds())
            running.append((key, None if last is None else int((last - began).total_seconds()), when is None))
        current = (f"{found[2]}/{found[4]}", when) if found and found[4] else None
    return seconds, running


def _last_file_written(folder, key: str, began, before):
    """The time of the last file written in the cell's folder between ``began`` and ``before`` (None: the end of
    the log), or None where there is no folder or no such file."""
    import datetime

    if folder is None:
        return None
    stage, cell = key.split("/", 1)
    cell_folder = Path(folder) / stage / "cells" / cell
    times = [datetime.datetime.fromtimestamp(p.stat().st_mtime) for p in cell_folder.rglob("*") if p.is_file()]
    times = [t for t in times if t >= began and (before is None or t < before)]
    return max(times, default=None)


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
        staged, running = stage_seconds(text.splitlines(), Path(path).parent)
        for cell, s in (staged or cell_seconds(text.splitlines())).items():
            total[cell] = total.get(cell, 0) + s
        for cell, added, at_end in running:
            ending = "had not ended when the log ends" if at_end else "was stopped before it ended"
            print(f"{path}: {cell} {ending}; " + (
                "not counted (no file of its folder written then)" if added is None else
                f"counted {clock(added)} to the last file written in its folder then"), file=sys.stderr)
    for cell, s in sorted(total.items()):
        print(f"{cell:60s} {clock(s)}")
    stages = sorted({cell.split("/")[0] for cell in total if "/" in cell}, key=["tune", "confirm"].index)
    for stage in stages:  # a two-stage study's log: each stage's own sum, then the study's
        mine = [s for cell, s in total.items() if cell.startswith(stage + "/")]
        print(f"{stage}: {len(mine)} cells, sum {clock(sum(mine))}")
    print(f"{len(total)} cells, sum {clock(sum(total.values()))}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
