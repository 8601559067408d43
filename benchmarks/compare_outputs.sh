#!/usr/bin/env bash
# Byte-compare the results of two versions of the workflow (used for refactorings that must
# not change any output). Runs the default study and the own-data example in a git-less copy
# of each tree with a fixed SOURCE_DATE_EPOCH and lists every file under results/ that
# differs. The packaged source code inside the supplement is excluded: it differs by
# construction.
#
#   bash benchmarks/compare_outputs.sh <old-tree> <new-tree>
#
# Each tree's package is imported from its own src/ (PYTHONPATH), so both can be compared
# with one installation of the dependencies.
set -euo pipefail
run_tree() {  # run_tree <tree> <out-dir>
  local tree=$1 out=$2 kind
  for kind in default own; do
    mkdir -p "$out/$kind"
    (cd "$tree" && git ls-files -co --exclude-standard | grep -v '^results/' | tar -cf - -T -) | tar -xf - -C "$out/$kind"
  done
  export SOURCE_DATE_EPOCH=1767225600 PYTHONPATH=$tree/src
  (cd "$out/default" && python -m snakemake --cores 2 > run.log 2>&1) || { echo "default run failed: $out/default/run.log"; exit 1; }
  # The example files, by whichever module path the tree has (the package moved once).
  (cd "$out/own" && python -c "
try:
    from process_outcome.data.simulate import write_example_data
except ImportError:
    from process_outcome.simulate import write_example_data
write_example_data('example_data')") \
    && (cd "$out/own" && python -m snakemake --cores 2 --configfile config/examples/own_data.yaml > run.log 2>&1) \
    || { echo "own-data run failed: $out/own/run.log"; exit 1; }
}
old=$(realpath "$1"); new=$(realpath "$2"); work=$(mktemp -d /tmp/compare-outputs-XXXX)
run_tree "$old" "$work/old"
run_tree "$new" "$work/new"
for kind in default own; do
  diff -rq "$work/old/$kind/results" "$work/new/$kind/results" -x logs -x src -x workflow -x scripts \
    -x Snakefile -x profiles -x supplement.zip -x SHA256SUMS -x ro-crate-metadata.json \
    -x pyproject.toml -x environment.yml | sed "s/^/DIFF $kind: /" || true
done
echo "compared in $work"
