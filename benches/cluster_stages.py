#!/usr/bin/env python3
"""Per-stage figures of the hunts a Ballista cluster ran, from its processes' logs.

Ballista's executors report, for every task, how long it ran and what its shuffle writer wrote
(rows and Arrow IPC bytes per output partition); the scheduler reports when each job was queued
and when it finished. Run the processes with

    RUST_LOG=warn,ballista_scheduler=info,ballista_executor=info,ballista_executor::execution_loop=debug

(`retrohunt cluster` logs with millisecond timestamps) and give this script the logs:

    python3 benches/cluster_stages.py --scheduler sched.log ex1.log ex2.log \
        [--group 4 --skip 1 --labels '7 days,14 days,30 days']

Jobs are taken in the order they were queued. With --group N, each N consecutive jobs are one
size (a `retrohunt bench` size: its warm-up and recorded runs of the cluster engine), the first
--skip of each group are left out, and each figure is the median over the rest.
"""

import argparse
import re
import statistics
import sys
from collections import defaultdict
from datetime import datetime

LINE = re.compile(r"^\[(\S+) +(\w+) +([\w:]+)\] (.*)$")
TASK = re.compile(r"\[TID (\w+)/(\d+)\.\d+/(\d+)\.\d+\]")
PARTITION = re.compile(r"num_rows: (\d+), num_bytes: (\d+)")
DURATION = re.compile(r" in ([\d.]+)(ns|µs|us|ms|s)$")
JOB = re.compile(r"Job (queued|finished successfully|is failed).*?\[?(\w{13})\]?")
UNIT = {"ns": 1e-9, "µs": 1e-6, "us": 1e-6, "ms": 1e-3, "s": 1.0}


def timestamp(text):
    return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()


def read(paths):
    for path in paths:
        with open(path, encoding="utf-8", errors="replace") as log:
            for line in log:
                found = LINE.match(line.rstrip("\n"))
                if found:
                    yield timestamp(found[1]), found[4]


def stages_of(executor_logs):
    """{job: {stage: figures}} from the executors' task lines."""
    jobs = defaultdict(lambda: defaultdict(lambda: {
        "tasks": 0, "task_seconds": 0.0, "longest": 0.0,
        "first": None, "last": None, "rows": 0, "bytes": 0,
    }))
    for at, message in read(executor_logs):
        task = TASK.search(message)
        if not task:
            continue
        stage = jobs[task[1]][int(task[2])]
        if message.startswith("Received task"):
            stage["first"] = at if stage["first"] is None else min(stage["first"], at)
        elif message.startswith("Finished task"):
            took = DURATION.search(message)
            seconds = float(took[1]) * UNIT[took[2]] if took else 0.0
            stage["tasks"] += 1
            stage["task_seconds"] += seconds
            stage["longest"] = max(stage["longest"], seconds)
            stage["last"] = at if stage["last"] is None else max(stage["last"], at)
        elif message.startswith("Task statistics"):
            for rows, size in PARTITION.findall(message):
                stage["rows"] += int(rows)
                stage["bytes"] += int(size)
    return jobs


def jobs_of(scheduler_log):
    """[(job, seconds from queued to finished)] in the order they were queued."""
    queued, ended = {}, {}
    for at, message in read([scheduler_log]):
        found = JOB.search(message)
        if not found:
            continue
        if found[1] == "queued":
            queued.setdefault(found[2], at)
        else:
            ended[found[2]] = (at, found[1])
    order = sorted(queued, key=queued.get)
    return [(job, ended[job][0] - queued[job], ended[job][1]) for job in order if job in ended]


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--scheduler", required=True)
    parser.add_argument("--group", type=int, default=1)
    parser.add_argument("--skip", type=int, default=0)
    parser.add_argument("--labels", default="")
    parser.add_argument("executor_logs", nargs="+")
    args = parser.parse_args()

    stages = stages_of(args.executor_logs)
    jobs = [job for job in jobs_of(args.scheduler) if job[0] in stages]
    failed = [job for job, _, how in jobs if how != "finished successfully"]
    if failed:
        sys.exit(f"jobs that did not succeed: {', '.join(failed)}")
    labels = [label for label in args.labels.split(",") if label]
    groups = [jobs[i:i + args.group] for i in range(0, len(jobs), args.group)]
    print("| size | stage | tasks | task-seconds | longest task s | stage span s "
          "| rows written | MB written | job s |")
    print("|---|---|---|---|---|---|---|---|---|")
    for index, group in enumerate(groups):
        kept = group[args.skip:] or group
        label = labels[index] if index < len(labels) else f"jobs {group[0][0]}…"
        wall = statistics.median(seconds for _, seconds, _ in kept)
        numbers = sorted({n for job, _, _ in kept for n in stages[job]})
        for n in numbers:
            figures = [stages[job][n] for job, _, _ in kept if n in stages[job]]

            def median(key):
                return statistics.median(f[key] for f in figures)

            span = statistics.median(
                (f["last"] - f["first"]) if f["first"] is not None else 0.0 for f in figures
            )
            print(f"| {label} | {n} | {median('tasks'):.0f} | {median('task_seconds'):.2f} "
                  f"| {median('longest'):.2f} | {span:.2f} | {median('rows'):,.0f} "
                  f"| {median('bytes') / 1e6:,.1f} | {wall:.2f} |")


if __name__ == "__main__":
    main()
