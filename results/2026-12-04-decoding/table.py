"""Prints the decoding comparison of lifeharness report JSON files as Markdown.

Usage: python3 table.py REPORT.json [REPORT.json ...]

One row per cell: model, environment, split, decoding (the harness cell as
written is "guided"; the null harness is "null (free)"), episodes, success,
executable tool calls over proposed ones, blocked calls, turns per episode,
model seconds per turn and context overflows. Everything is read from the
report; nothing is computed here but ratios.
"""

import json
import sys

NAMES = {"full": "guided", "schema-only decoding": "schema-only", "free decoding": "unconstrained"}


def rows(path):
    report = json.load(open(path))["report"]
    for c in report["cells"]:
        a = c["actions"]
        decoding = "null (unconstrained)" if c["harness"] == "null" else NAMES.get(c["variant"], c["variant"])
        turns = a["turns"] / max(c["episodes"], 1)
        per_turn = c["model_s_per_episode"] / turns if turns else 0.0
        proposed = a["proposed_tool_calls"]
        yield (
            c["model"].split("?")[0].removeprefix("embedded:"),
            c["environment"],
            c["split"],
            decoding,
            c["episodes"],
            f'{c["successes"]}/{c["episodes"]}',
            f'{a["executable"]}/{proposed}' + (f' ({100 * a["executable"] / proposed:.0f}%)' if proposed else ""),
            a["blocked"],
            f"{turns:.1f}",
            f"{per_turn:.1f}",
            c["context_overflows"],
        )


ORDER = ["null (unconstrained)", "unconstrained", "schema-only", "guided"]
print("| model | environment | split | decoding | episodes | solved | executable / proposed calls | blocked | turns/ep | model s/turn | overflows |")
print("|---|---|---|---|---|---|---|---|---|---|---|")
all_rows = [r for p in sys.argv[1:] for r in rows(p)]
all_rows.sort(key=lambda r: (r[1], r[0], ORDER.index(r[3]) if r[3] in ORDER else 9))
for r in all_rows:
    print("| " + " | ".join(str(x) for x in r) + " |")
