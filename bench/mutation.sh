#!/usr/bin/env bash
# Mutation testing of the sending rules: the window, the planner, the outbox, intake and the
# sender's rules, with mutmut 3 (configured in pyproject.toml, [tool.mutmut]); docs/mutation.md
# holds the last results and what each surviving mutant means.
#
#   pip install 'mutmut==3.8.1'
#   bench/mutation.sh                   # every module, one after the other (about an hour here)
#   bench/mutation.sh window sender     # only those modules
#   bench/mutation.sh --survivors       # again, only the mutants that survived the last run (after
#                                       # adding tests; the code itself must not have changed; new
#                                       # test files go in [tool.mutmut] pytest_add_cli_args_test_selection)
#
# Every run starts from a fresh mutants/ (a copy of the code, never the code itself), runs under
# `nice` with one test process, and ends with the figures and the survivors in
# mutants/report.md (bench/mutation_report.py). MUTMUT names the mutmut command (default: the
# one in .venv/ if there is one, else `mutmut` on PATH).
set -euo pipefail
set -f  # the mutant names below are mutmut's globs, not the shell's
cd "$(dirname "$0")/.."

if [[ -z "${MUTMUT:-}" ]]; then
    if [[ -x .venv/bin/mutmut ]]; then MUTMUT=.venv/bin/mutmut; else MUTMUT=mutmut; fi
fi
PYTHON=$(dirname "$(command -v "$MUTMUT")")/python
[[ -x "$PYTHON" ]] || PYTHON=python3

# Each module and the functions of it that are mutated: all of them, except in the sender, whose
# rules (claiming, the blocked reasons, recording sent / retry / fallback / failure) are mutated
# and whose plumbing (the rate limiter, the thread pool, the pump loop) is not.
declare -A GLOBS=(
    [window]="bot.whatsapp.window.*"
    [planner]="bot.campaigns.planner.*"
    [outbox]="bot.conversation.outbox.*"
    [intake]="bot.conversation.intake.*"
    [sender]="bot.pipeline.sender.x__blocked_reason__mutmut_* bot.pipeline.sender.xǁSenderǁclaim__mutmut_* bot.pipeline.sender.xǁSenderǁrelease_expired__mutmut_* bot.pipeline.sender.xǁSenderǁ_send__mutmut_* bot.pipeline.sender.xǁSenderǁrun_once__mutmut_* bot.pipeline.sender.xǁSenderǁ_record__mutmut_* bot.pipeline.sender.xǁSenderǁ_record_error__mutmut_*"
)
ORDER=(window planner outbox intake sender)
survivors=false
if [[ "${1:-}" == "--survivors" ]]; then survivors=true; shift; fi
modules=("$@")
[[ ${#modules[@]} -gt 0 ]] || modules=("${ORDER[@]}")

names=()
for module in "${modules[@]}"; do
    [[ -n "${GLOBS[$module]:-}" ]] || { echo "unknown module: $module (one of: ${ORDER[*]})" >&2; exit 2; }
    # shellcheck disable=SC2206
    names+=(${GLOBS[$module]})
done

"$MUTMUT" --version
if $survivors; then
    [[ -d mutants ]] || { echo "no mutants/ to rerun: run bench/mutation.sh first" >&2; exit 2; }
    # mutmut copies tests/ again and collects stats for the new tests only
    mapfile -t names < <("$PYTHON" bench/mutation_report.py --survivors "${modules[@]}")
    [[ ${#names[@]} -gt 0 ]] || { echo "no survivors"; exit 0; }
    echo "rerunning ${#names[@]} surviving mutants"
    # a change to the test selection makes mutmut forget every verdict; the ones not rerun here
    # are put back from this copy afterwards
    rm -rf mutants/previous && mkdir -p mutants/previous
    (cd mutants && find bot -name '*.meta' -exec cp --parents {} previous/ \;)
else
    rm -rf mutants
fi
start=$(date +%s)
# mutmut prints a progress line per mutant; keep it in a log, not on the terminal
if ! nice -n 10 "$MUTMUT" run --max-children 1 "${names[@]}" > mutants.log 2>&1; then
    tail -n 40 mutants.log >&2
    exit 1
fi
mv mutants.log "mutants/run$($survivors && echo -survivors).log"
if $survivors; then "$PYTHON" bench/mutation_report.py --restore mutants/previous; fi
echo "mutation run: $(( $(date +%s) - start )) s"
"$PYTHON" bench/mutation_report.py "${modules[@]}" | tee mutants/report.md
