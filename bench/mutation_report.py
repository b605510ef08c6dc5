"""The figures of the last mutation run (bench/mutation.sh), from mutmut's files in mutants/:
per module, how many mutants were tried, killed, survived or timed out, and how long they took;
then every survivor with its diff. Markdown, for docs/mutation.md.

    python bench/mutation_report.py [module ...]      # after bench/mutation.sh
    python bench/mutation_report.py --survivors [module ...]   # their names only, one a line
"""
from __future__ import annotations

import fnmatch
import json
import subprocess
import sys
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
MUTANTS = ROOT / "mutants"

# module -> (the mutated file, the mutant names bench/mutation.sh runs)
MODULES = {
    "window": ("bot/whatsapp/window.py", ["bot.whatsapp.window.*"]),
    "planner": ("bot/campaigns/planner.py", ["bot.campaigns.planner.*"]),
    "outbox": ("bot/conversation/outbox.py", ["bot.conversation.outbox.*"]),
    "intake": ("bot/conversation/intake.py", ["bot.conversation.intake.*"]),
    "sender": ("bot/pipeline/sender.py", [
        f"bot.pipeline.sender.{name}__mutmut_*" for name in (
            "x__blocked_reason", "xǁSenderǁclaim", "xǁSenderǁrelease_expired", "xǁSenderǁ_send",
            "xǁSenderǁrun_once", "xǁSenderǁ_record", "xǁSenderǁ_record_error")
    ]),
}

# mutmut 3's exit codes (mutmut/stats.py)
STATUS = {1: "killed", 3: "killed", 0: "survived", 5: "no tests", 33: "no tests", 34: "skipped",
          36: "timeout", 24: "timeout", -24: "timeout", 152: "timeout", 255: "timeout",
          37: "caught by type check", -9: "segfault", -11: "segfault", None: "not checked"}


def _key(name: str) -> tuple[str, int]:
    function, _, number = name.rpartition("__mutmut_")
    return function, int(number)


def load(module: str) -> tuple[dict[str, str], dict[str, float]]:
    path, globs = MODULES[module]
    meta = json.loads((MUTANTS / f"{path}.meta").read_text())
    names = [n for n in meta["exit_code_by_key"] if any(fnmatch.fnmatch(n, g) for g in globs)]
    statuses = {n: STATUS.get(meta["exit_code_by_key"][n], "suspicious") for n in sorted(names, key=_key)}
    durations = {n: meta["durations_by_key"].get(n, 0.0) for n in names}
    return statuses, durations


def diff(name: str) -> str:
    mutmut = Path(sys.executable).parent / "mutmut"
    out = subprocess.run([str(mutmut) if mutmut.exists() else "mutmut", "show", name], cwd=ROOT,
                         capture_output=True, text=True, check=False).stdout
    # the header and the hunk marker; keep the changed lines and one line of context
    lines = [line for line in out.splitlines()[1:] if not line.startswith(("---", "+++", "@@"))]
    changed = [i for i, line in enumerate(lines) if line.startswith(("-", "+"))]
    if not changed:
        return out.strip()
    keep = sorted({j for i in changed for j in (i - 1, i, i + 1) if 0 <= j < len(lines)})
    return "\n".join(lines[j] for j in keep)


def main(modules: list[str]) -> None:
    modules = modules or list(MODULES)
    rows, survivors = [], []
    total: Counter = Counter()
    total_seconds = 0.0
    for module in modules:
        statuses, durations = load(module)
        counts = Counter(statuses.values())
        seconds = sum(durations.values())
        total.update(counts)
        total_seconds += seconds
        tried = len(statuses) - counts["not checked"]
        rows.append(f"| {module} | `{MODULES[module][0]}` | {tried} | {counts['killed']} | {counts['survived']} "
                    f"| {counts['timeout']} | {counts['no tests']} | {seconds:.0f} s |")
        survivors += [(module, n) for n, s in statuses.items() if s in ("survived", "no tests", "suspicious")]
    tried = sum(total.values()) - total["not checked"]
    print("| module | file | mutants | killed | survived | timeout | no tests | time in tests |")
    print("| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: |")
    print("\n".join(rows))
    print(f"| **all** | | **{tried}** | **{total['killed']}** | **{total['survived']}** | **{total['timeout']}** "
          f"| **{total['no tests']}** | {total_seconds:.0f} s |")
    others = {s: n for s, n in total.items() if s not in ("killed", "survived", "timeout", "no tests", "not checked")}
    if others:
        print(f"\nother outcomes: {others}")
    print(f"\n## Survivors ({len(survivors)})\n")
    for module, name in survivors:
        print(f"### `{name}` ({module})\n\n```diff\n{diff(name)}\n```\n")


def restore(previous: Path) -> None:
    """Put back the verdicts of the mutants a --survivors run did not rerun: mutmut forgets them
    all when the test selection changes, and they stand as long as the code has not changed."""
    for module, (path, _) in MODULES.items():
        meta_path, old_path = MUTANTS / f"{path}.meta", previous / f"{path}.meta"
        if not old_path.exists():
            continue
        meta, old = json.loads(meta_path.read_text()), json.loads(old_path.read_text())
        put_back = 0
        for name, code in old["exit_code_by_key"].items():
            if meta["exit_code_by_key"].get(name) is None and code is not None:
                meta["exit_code_by_key"][name] = code
                meta["durations_by_key"][name] = old["durations_by_key"].get(name, 0.0)
                put_back += 1
        meta_path.write_text(json.dumps(meta, indent=4))
        print(f"{module}: {put_back} verdicts of the last full run put back", file=sys.stderr)


if __name__ == "__main__":
    if sys.argv[1:2] == ["--restore"]:
        restore(Path(sys.argv[2]))
    elif sys.argv[1:2] == ["--survivors"]:
        for module in sys.argv[2:] or list(MODULES):
            statuses, _ = load(module)
            for name, status in statuses.items():
                if status in ("survived", "no tests", "suspicious"):
                    print(name)
    else:
        main(sys.argv[1:])
