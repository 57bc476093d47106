#!/usr/bin/env python3
"""Coverage of `retrohunt kql` on a folder of KQL queries (the public Sentinel sign-in
queries, fetched by the user: they are not ours to ship), checked against Kusto.Language.

For each QUERY.kql: does retrohunt run it (and with which columns), or refuse it (and why);
does Microsoft's Kusto.Language bind it, and to the same columns, names, types and order? Do
the window-join operator and stock DataFusion return the same rows (as multisets: a query
without a final `sort` has no order)?

    python3 benches/kql_corpus.py CORPUS_DIR LAKE [--retrohunt target/release/retrohunt]

Kusto.Language (npm @kusto/language-service-next 12.4.1) is installed where the tests install
it (~/.cache/retrohunt/emulators) unless it is there. Prints a Markdown table and a summary.
"""

import argparse
import json
import os
import pathlib
import subprocess
import sys

ROOT = pathlib.Path(__file__).resolve().parent.parent
KUSTO = "@kusto/language-service-next@12.4.1"
RANGE = ["--start", "2026-03-01T00:00:00Z", "--end", "2026-03-03T23:59:59Z",
         "--now", "2026-03-04T00:00:00Z"]


def kusto_language_binds(queries):
    prefix = pathlib.Path.home() / ".cache/retrohunt/emulators"
    modules = prefix / "node_modules"
    if not (modules / "@kusto/language-service-next/Kusto.Language.Bridge.js").exists():
        subprocess.run(["npm", "install", "--no-audit", "--no-fund", "--prefix", str(prefix), KUSTO],
                       check=True, capture_output=True)
    out = subprocess.run(
        ["node", str(ROOT / "tests/kusto/bind.js"), str(ROOT / "src/kql/log_analytics_tables.txt")],
        input=json.dumps(queries), capture_output=True, text=True, check=True,
        env={**os.environ, "NODE_PATH": str(modules)})
    return json.loads(out.stdout)


def ours(binary, lake, path):
    """(columns or None, first line of the error), whether the rows ran, and their number if
    the window-join operator and stock DataFusion returned the same rows (else None)."""
    schema = subprocess.run([binary, "kql", "--lake", lake, "--schema", "--file", str(path), *RANGE],
                            capture_output=True, text=True)
    if schema.returncode != 0:
        message = next((l for l in schema.stderr.splitlines() if l.startswith("retrohunt:")), schema.stderr)
        return None, message.removeprefix("retrohunt: "), False, None
    columns = [tuple(line.rsplit(":", 1)) for line in schema.stdout.splitlines()]
    runs = [subprocess.run([binary, "kql", "--engine", engine, "--lake", lake, "--format", "csv",
                            "--all", "--file", str(path), *RANGE], capture_output=True, text=True)
            for engine in ("operator", "sql")]
    rows = runs[0]
    # As multisets: a query without a final `sort` leaves its rows in no order, in Kusto too.
    lines = [sorted(run.stdout.splitlines()) for run in runs]
    same = len(lines[0]) - 1 if lines[0] == lines[1] else None
    return (columns, rows.stderr.strip().splitlines()[-1:] if rows.returncode else "",
            rows.returncode == 0, same)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("corpus")
    parser.add_argument("lake")
    parser.add_argument("--retrohunt", default=str(ROOT / "target/debug/retrohunt"))
    args = parser.parse_args()
    paths = sorted(pathlib.Path(args.corpus).glob("*.kql"))
    bound = kusto_language_binds([p.read_text() for p in paths])
    counts = {"run, same schema": 0, "run, other schema": 0, "refused, Kusto.Language rejects too": 0,
              "refused": 0, "run, Kusto.Language rejects": 0, "failed while running": 0,
              "run, the engines' rows differ": 0, "run, returning rows": 0}
    print("| query | retrohunt | Kusto.Language |")
    print("|---|---|---|")
    for path, kl in zip(paths, bound):
        columns, message, ran, same = ours(args.retrohunt, args.lake, path)
        if ran and same is None:
            counts["run, the engines' rows differ"] += 1
        if ran and same:
            counts["run, returning rows"] += 1
        theirs = [(c["name"], c["type"]) for c in kl["columns"]]
        kl_text = "binds" if kl["ok"] else "rejects: " + kl["errors"][0]["message"]
        if columns is None:
            key = "refused, Kusto.Language rejects too" if not kl["ok"] else "refused"
            ours_text = "refused: " + message.split("\n")[0]
        elif not ran:
            key, ours_text = "failed while running", f"failed: {message}"
        elif not kl["ok"]:
            key, ours_text = "run, Kusto.Language rejects", "runs"
        elif [tuple(c) for c in columns] == theirs:
            key, ours_text = "run, same schema", f"runs ({len(columns)} columns, as Kusto.Language)"
            ours_text += "; engines differ" if same is None else f"; {same} rows on both engines"
        else:
            key, ours_text = "run, other schema", f"runs, columns differ: {columns} vs {theirs}"
        counts[key] += 1
        cell = lambda text: text.replace("|", "\\|")
        print(f"| {path.stem} | {cell(ours_text)} | {cell(kl_text)} |")
    print()
    for key, count in counts.items():
        print(f"- {key}: {count}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
