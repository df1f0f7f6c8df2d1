#!/usr/bin/env bash
# Runs the peer benchmarks of this module and prints, per algorithm and
# implementation, the medians of ns/op, B/op and allocs/op and the ratio of
# each implementation's median ns/op to the bare-crypto floor's ("vs
# floor"), and the median of the per-round ratios ("paired").
# ANALYZE=file skips the runs and analyzes an existing output file.
#
# It runs ROUNDS rounds of every benchmark once, as
#   go test -run '^$' -bench '^BenchmarkVerify$' -benchmem -benchtime 0.5s -count 1
# does (not -count N, which repeats each benchmark back to back), so a burst
# of load on a shared machine hits both sides of a ratio alike. The test
# binary is built once, so every round measures the same code even while
# the working tree changes.
#
# Usage: bench/ratios.sh [out-file]   (ROUNDS=10, BENCHTIME=0.5s by default)
# The raw results go to out-file (default bench/bench.txt); a copy with the
# name parts as keys (BenchmarkVerify/alg=RS256/impl=floor) goes to
# out-file with .keyed.txt, for benchstat side by side:
#   benchstat -row /alg -col '/impl@(floor sessionkit issuer golangjwt jwx gojose)' bench.keyed.txt
set -euo pipefail
if [ -n "${ANALYZE:-}" ]; then
  out=$(realpath "$ANALYZE")
  cd "$(dirname "$0")"
else
  out=$(realpath -m "${1:-$(dirname "$0")/bench.txt}")
  cd "$(dirname "$0")"
  tmp=$(mktemp -d)
  trap 'rm -rf "$tmp"' EXIT
  go test -c -o "$tmp/bench.test" .
  : > "$out"
  rounds=${ROUNDS:-10}
  for r in $(seq "$rounds"); do
    echo "round $r/$rounds" >&2
    "$tmp/bench.test" -test.run '^$' -test.bench '^BenchmarkVerify$' -test.benchmem \
      -test.benchtime "${BENCHTIME:-0.5s}" -test.count 1 >> "$out"
  done
fi
awk '
  /^BenchmarkVerify\// {
    name = $1; sub(/^BenchmarkVerify\//, "", name); sub(/-[0-9]+$/, "", name)
    c = ++n[name]
    for (i = 3; i < NF; i++) {
      if ($(i+1) == "ns/op") ns[name, c] = $i
      if ($(i+1) == "B/op") by[name, c] = $i
      if ($(i+1) == "allocs/op") al[name, c] = $i
    }
  }
  function med(arr, k,   i, j, t, a, c) {
    c = n[k]; for (i = 1; i <= c; i++) a[i] = arr[k, i] + 0
    for (i = 1; i <= c; i++) for (j = i + 1; j <= c; j++) if (a[j] < a[i]) { t = a[i]; a[i] = a[j]; a[j] = t }
    return (c % 2) ? a[(c + 1) / 2] : (a[c / 2] + a[c / 2 + 1]) / 2
  }
  # pmed: the median over rounds of the per-round ratio k/base (round c is
  # the c-th result of each name), less sensitive to load than med/med.
  function pmed(k, base,   i, j, t, a, c) {
    c = n[k] < n[base] ? n[k] : n[base]
    for (i = 1; i <= c; i++) a[i] = ns[k, i] / ns[base, i]
    for (i = 1; i <= c; i++) for (j = i + 1; j <= c; j++) if (a[j] < a[i]) { t = a[i]; a[i] = a[j]; a[j] = t }
    return (c % 2) ? a[(c + 1) / 2] : (a[c / 2] + a[c / 2 + 1]) / 2
  }
  END {
    split("RS256 ES256 EdDSA", algs, " ")
    split("floor sessionkit issuer golangjwt jwx gojose", impls, " ")
    printf "%-6s %-11s %12s %9s %10s %9s %9s\n", "alg", "impl", "ns/op", "B/op", "allocs/op", "vs floor", "paired"
    for (i = 1; i <= 3; i++) {
      a = algs[i]; f = a "/floor"
      if (!n[f]) continue
      for (j = 1; j <= 6; j++) {
        k = a "/" impls[j]
        if (!n[k]) continue
        printf "%-6s %-11s %12.0f %9.0f %10.0f %8.2fx %8.2fx\n", a, impls[j], med(ns, k), med(by, k), med(al, k), med(ns, k) / med(ns, f), pmed(k, f)
      }
    }
    print ""
    for (i = 1; i <= 3; i++) {
      a = algs[i]; s = a "/sessionkit"
      if (!n[s]) continue
      printf "%s: sessionkit vs Issuer.Verify stateless %.2fx (paired %.2fx);", a, med(ns, s) / med(ns, a "/issuer"), pmed(s, a "/issuer")
      for (j = 4; j <= 6; j++) {
        k = a "/" impls[j]
        if (n[k]) printf " vs %s %.2fx (%.2fx);", impls[j], med(ns, s) / med(ns, k), pmed(s, k)
      }
      printf " (%d rounds)\n", n[s]
    }
  }' "$out"
keyed=${out%.txt}.keyed.txt
sed -E 's#^BenchmarkVerify/([^/]+)/([^ \t]+)-([0-9]+)#BenchmarkVerify/alg=\1/impl=\2-\3#' "$out" > "$keyed"
echo "raw results in $out; side by side:"
echo "  benchstat -row /alg -col '/impl@(floor sessionkit issuer golangjwt jwx gojose)' $keyed"
