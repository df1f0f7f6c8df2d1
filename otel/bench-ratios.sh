#!/usr/bin/env bash
# Runs this module's BenchmarkVerify and BenchmarkVerifyRefused (each case
# with adapter=plain and adapter=otel) and prints, per case, the medians of
# ns/op and allocs/op on both sides, the ratio of the medians ("otel/plain"),
# the median of the per-round ratios ("paired") and their spread (the
# smallest and largest per-round ratio). ANALYZE=file skips the runs and
# analyzes an existing output file.
#
# It runs ROUNDS rounds of every benchmark once (not -count N, which repeats
# each benchmark back to back), and within a round adapter=otel runs right
# after adapter=plain of the same case, so a burst of load on a shared
# machine hits both sides of a ratio alike. The test binary is built once.
#
# Usage: otel/bench-ratios.sh [out-file]   (ROUNDS=10, BENCHTIME=0.5s by default)
# The raw results go to out-file (default otel/bench.txt), for benchstat:
#   benchstat -col /adapter bench.txt
set -euo pipefail
if [ -n "${ANALYZE:-}" ]; then
  out=$(realpath "$ANALYZE")
else
  out=$(realpath -m "${1:-$(dirname "$0")/bench.txt}")
  cd "$(dirname "$0")"
  tmp=$(mktemp -d)
  trap 'rm -rf "$tmp"' EXIT
  go test -c -o "$tmp/otel.test" .
  : > "$out"
  rounds=${ROUNDS:-10}
  for r in $(seq "$rounds"); do
    echo "round $r/$rounds" >&2
    "$tmp/otel.test" -test.run '^$' -test.bench '^BenchmarkVerify' -test.benchmem \
      -test.benchtime "${BENCHTIME:-0.5s}" -test.count 1 >> "$out"
  done
fi
awk '
  /^BenchmarkVerify/ && /adapter=/ {
    name = $1; sub(/^Benchmark/, "", name); sub(/-[0-9]+$/, "", name)
    side = name; sub(/.*adapter=/, "", side); sub(/\/adapter=.*/, "", name)
    c = ++n[name, side]
    if (side == "plain" && c == 1) order[++cases] = name
    for (i = 3; i < NF; i++) {
      if ($(i+1) == "ns/op") ns[name, side, c] = $i
      if ($(i+1) == "allocs/op") al[name, side, c] = $i
    }
  }
  function sort(a, c,   i, j, t) {
    for (i = 1; i <= c; i++) for (j = i + 1; j <= c; j++) if (a[j] < a[i]) { t = a[i]; a[i] = a[j]; a[j] = t }
  }
  function median(a, c) { sort(a, c); return (c % 2) ? a[(c + 1) / 2] : (a[c / 2] + a[c / 2 + 1]) / 2 }
  function med(arr, k, s,   i, a) { for (i = 1; i <= n[k, s]; i++) a[i] = arr[k, s, i] + 0; return median(a, n[k, s]) }
  END {
    printf "%-36s %10s %10s %7s %7s %11s %7s %16s\n", "case", "plain ns", "otel ns", "allocs", "allocs", "otel/plain", "paired", "paired min-max"
    for (k = 1; k <= cases; k++) {
      name = order[k]
      c = n[name, "plain"] < n[name, "otel"] ? n[name, "plain"] : n[name, "otel"]
      delete r
      for (i = 1; i <= c; i++) r[i] = ns[name, "otel", i] / ns[name, "plain", i]
      p = median(r, c)
      printf "%-36s %10.0f %10.0f %7d %7d %10.3fx %6.3fx %7.3fx-%.3fx\n", name,
        med(ns, name, "plain"), med(ns, name, "otel"), med(al, name, "plain"), med(al, name, "otel"),
        med(ns, name, "otel") / med(ns, name, "plain"), p, r[1], r[c]
    }
  }' "$out"
echo "raw results in $out (benchstat -col /adapter $out for the full table)"
