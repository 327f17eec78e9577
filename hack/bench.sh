#!/usr/bin/env bash
# Benchmarks slicedns end to end on this machine, in under 10 minutes on 2
# cores; run by `make bench`. Writes the results to bench/results.txt and
# prints them (progress goes to stderr).
#
#  1. generates a zone of 10,010 headless Services / 110,000 endpoints as
#     manifests (hack/bench/gen) and a dnsperf query file with a fixed mix;
#  2. starts slicedns on it and times start -> first correct answer, and RSS;
#  3. runs dnsperf against it (median of BENCH_RUNS runs), plus one run with
#     EDNS0 and one run under a 10 s CPU profile (reported, not in the median);
#  4. runs the same dnsperf against a fixed-answer responder (hack/bench/fixed),
#     the ceiling of a Go UDP loop here, and prints slicedns's share of it;
#  5. runs the Go micro-benchmarks of ./zone and ./dns;
#  6. the kube-apiserver benchmark (TestBenchAPIServer), with
#     SLICEDNS_BENCH_APISERVER=1, which `make bench` sets.
#
# Knobs: BENCH_RUNS (3), BENCH_SECONDS (15), BENCH_RESULTS (bench/results.txt).
# Everything it starts is stopped when it exits, however it exits.
set -euo pipefail
cd "$(dirname "$0")/.."

RUNS=${BENCH_RUNS:-3}
SECS=${BENCH_SECONDS:-15}
CLIENTS=8
OUTSTANDING=200
OUT=bench/out
RESULTS=${BENCH_RESULTS:-bench/results.txt}
TOOLS=$OUT/bin
started_at=$(date +%s)

# --- processes we start, and their teardown ------------------------------
pids=()
stop_pid() { # stop_pid PID: TERM, a second TERM (skips slicedns's lame duck), then KILL
  local pid=$1 i
  kill -TERM "$pid" 2>/dev/null || return 0
  sleep 0.1
  kill -TERM "$pid" 2>/dev/null || true
  for i in $(seq 50); do
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.1
  done
  kill -KILL "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
}
forget() { # forget PID: it has been stopped or has exited
  local keep=() pid
  for pid in "${pids[@]}"; do [ "$pid" = "$1" ] || keep+=("$pid"); done
  pids=("${keep[@]}")
}
cleanup() {
  local pid
  for pid in "${pids[@]}"; do stop_pid "$pid"; done
  pids=()
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# --- output helpers -------------------------------------------------------
mkdir -p "$(dirname "$RESULTS")" "$OUT" "$TOOLS"
: >"$RESULTS"
say() { printf '%s\n' "$*" | tee -a "$RESULTS"; }
progress() { printf '... %s\n' "$*" >&2; }
die() { say "FAILED: $*"; exit 1; }
commas() { awk -v n="$1" 'BEGIN { s = sprintf("%.0f", n); r = ""; while (length(s) > 3) { r = "," substr(s, length(s)-2) r; s = substr(s, 1, length(s)-3) } print s r }'; }
mb() { awk -v k="$1" 'BEGIN { printf "%.1f MB", k * 1024 / 1e6 }'; }
mib() { awk -v k="$1" 'BEGIN { printf "%.1f MiB", k / 1024 }'; }
proc_kb() { awk -v f="$2:" '$1 == f { print $2 }' "/proc/$1/status"; }

# --- tools ----------------------------------------------------------------
if ! command -v dnsperf >/dev/null 2>&1; then
  progress "dnsperf missing: running hack/deps.sh"
  ./hack/deps.sh
fi
command -v dnsperf >/dev/null 2>&1 || die "dnsperf is not installed (hack/deps.sh could not install it)"
progress "building slicedns and the bench tools"
go build -trimpath -o bin/slicedns ./cmd/slicedns
go build -o "$TOOLS/" ./hack/bench/gen ./hack/bench/fixed ./hack/bench/probe

# --- header ---------------------------------------------------------------
cpu=$(awk -F': *' '/^model name/ { print $2; exit }' /proc/cpuinfo)
mem=$(awk '/^MemTotal/ { printf "%.0f GiB", $2 / 1048576 }' /proc/meminfo)
commit=$(git rev-parse --short HEAD 2>/dev/null || echo unknown)
if [ -n "$(git status --porcelain --untracked-files=no 2>/dev/null)" ]; then commit="$commit+dirty"; fi
say "slicedns bench — $(date -u '+%Y-%m-%d %H:%M UTC') — $(nproc) cores ${cpu:-unknown CPU}, $mem, $(uname -sr), $(go env GOVERSION)"
say "commit $commit; load average at start: $(cut -d' ' -f1-3 /proc/loadavg) (numbers are only comparable on an idle machine)"

# --- 1. zone and queries ---------------------------------------------------
progress "generating the zone"
"$TOOLS/gen" -out "$OUT" | while IFS= read -r line; do say "$line"; done
QUERIES=$OUT/queries.txt
read -r probe_name probe_ip <"$OUT/probe.txt"

# --- dnsperf runs -----------------------------------------------------------
# dnsperf_run NAME PORT [EXTRA ARGS...]: one run, output in $OUT/dnsperf-NAME.txt.
dnsperf_run() {
  local name=$1 port=$2
  shift 2
  dnsperf -s 127.0.0.1 -p "$port" -d "$QUERIES" -c "$CLIENTS" -q "$OUTSTANDING" -l "$SECS" "$@" \
    >"$OUT/dnsperf-$name.txt" 2>&1 || die "dnsperf $name: $(tail -3 "$OUT/dnsperf-$name.txt")"
}
# dnsperf_stats FILE: "QPS AVG_MS STDDEV_MS MIN_MS MAX_MS LOST_PCT" from one run's output.
dnsperf_stats() {
  awk '
    /Queries per second:/ { qps = $4 }
    /Queries lost:/ { lost = $4; gsub(/[()%]/, "", lost) }
    /Average Latency \(s\):/ { avg = $4 * 1000; mn = $6; mx = $8; gsub(/[^0-9.]/, "", mn); gsub(/[^0-9.]/, "", mx); mn *= 1000; mx *= 1000 }
    /Latency StdDev \(s\):/ { sd = $4 * 1000 }
    END { if (qps == "") exit 1; printf "%s %.2f %.2f %.3f %.1f %s\n", qps, avg, sd, mn, mx, lost }' "$1"
}
# dnsperf_rcodes FILE: the "Response codes:" line's value.
dnsperf_rcodes() { sed -n 's/^ *Response codes: *//p' "$1"; }
# median_run NAME: runs NAME-1..NAME-$RUNS; prints the name of the median run by QPS.
median_run() {
  local i
  for i in $(seq "$RUNS"); do
    echo "$(dnsperf_stats "$OUT/dnsperf-$1-$i.txt" | cut -d' ' -f1) $1-$i"
  done | sort -n | awk -v m=$(((RUNS + 1) / 2)) 'NR == m { print $2 }'
}
# all_qps NAME: the QPS of every run, in run order.
all_qps() {
  local i out=()
  for i in $(seq "$RUNS"); do out+=("$(commas "$(dnsperf_stats "$OUT/dnsperf-$1-$i.txt" | cut -d' ' -f1)")"); done
  local IFS=/
  echo "${out[*]}"
}
# report LABEL RUN: one result line for run RUN.
report() {
  local qps avg sd mn mx lost
  read -r qps avg sd mn mx lost < <(dnsperf_stats "$OUT/dnsperf-$2.txt")
  say "$(printf '  %-16s %8s QPS  avg %s ms  sd %s ms  min %s ms  max %s ms  lost %s%%' "$1" "$(commas "$qps")" "$avg" "$sd" "$mn" "$mx" "$lost")"
}
# check_mix RUN: NXDOMAIN must be about 10% and nothing but NOERROR/NXDOMAIN.
check_mix() {
  local codes nx
  codes=$(dnsperf_rcodes "$OUT/dnsperf-$1.txt")
  nx=$(sed -n 's/.*NXDOMAIN [0-9]* (\([0-9.]*\)%).*/\1/p' <<<"$codes")
  if ! awk -v nx="${nx:-0}" 'BEGIN { exit !(nx >= 9 && nx <= 11) }'; then
    say "  WARNING: NXDOMAIN is ${nx:-0}% of answers, the query mix has 10%"
  fi
  if grep -qvE '^(NOERROR|NXDOMAIN) ' < <(tr ',' '\n' <<<"$codes" | sed 's/^ *//'); then
    say "  WARNING: rcodes other than NOERROR and NXDOMAIN: $codes"
  fi
}

# --- 2. start slicedns --------------------------------------------------------
progress "starting slicedns"
log=$OUT/slicedns.log
t0=$(date +%s%N)
bin/slicedns --manifests "$OUT/zone" --dns-addr 127.0.0.1:0 --http-addr 127.0.0.1:0 --log-format json --pprof 2>"$log" &
spid=$!
pids+=("$spid")
probe_out=$("$TOOLS/probe" -log "$log" -name "$probe_name" -want "$probe_ip" -timeout 120s) ||
  die "slicedns did not come up; log: $(tail -5 "$log")"
read -r dns_addr http_addr t_serving t_answer <<<"$probe_out"
dns_port=${dns_addr##*:}
secs() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f s", (b - a) / 1e9 }'; }
say "start -> first correct answer: $(secs "$t0" "$t_answer") (\"serving\" logged after $(secs "$t0" "$t_serving"); probe: $probe_name A)"
say "RSS at the first answer: $(mb "$(proc_kb "$spid" VmRSS)"); peak: $(mb "$(proc_kb "$spid" VmHWM)")"
# slicedns returns a load's garbage to the OS once quiet (a check every 2 s).
sleep 6
say "RSS 6 s later: $(mb "$(proc_kb "$spid" VmRSS)") = $(mib "$(proc_kb "$spid" VmRSS)") (anon $(mib "$(proc_kb "$spid" RssAnon)"), binary $(mib "$(proc_kb "$spid" RssFile)"))"

# --- 3. dnsperf against slicedns ------------------------------------------------
say ""
say "dnsperf $(dnsperf -h 2>&1 | sed -n 's/^Version //p') ($CLIENTS clients, $OUTSTANDING outstanding, $SECS s, median of $RUNS; latencies are dnsperf's):"
# metric NAME: a Go runtime metric of slicedns, from /metrics (0 if absent).
metric() { curl -sf "http://$http_addr/metrics" | awk -v n="$1" '$1 == n { v = $2 } END { printf "%.0f\n", v }' || echo 0; }
gc0=$(metric go_gc_duration_seconds_count)
alloc0=$(metric go_memstats_alloc_bytes_total)
for i in $(seq "$RUNS"); do
  progress "dnsperf slicedns run $i/$RUNS ($SECS s)"
  dnsperf_run "slicedns-$i" "$dns_port"
done
gc1=$(metric go_gc_duration_seconds_count)
alloc1=$(metric go_memstats_alloc_bytes_total)
completed=0
for i in $(seq "$RUNS"); do
  completed=$((completed + $(awk '/Queries completed:/ { print $3 }' "$OUT/dnsperf-slicedns-$i.txt")))
done
s_med=$(median_run slicedns)
s_qps=$(dnsperf_stats "$OUT/dnsperf-$s_med.txt" | cut -d' ' -f1)
report slicedns "$s_med"
say "  $(printf '%-16s' '') runs: $(all_qps slicedns) QPS; rcodes: $(dnsperf_rcodes "$OUT/dnsperf-$s_med.txt")"
check_mix "$s_med"
say "  $(printf '%-16s' '') Go heap: $(awk -v a=$((alloc1 - alloc0)) -v q="$completed" 'BEGIN { printf "%.0f", q ? a / q : 0 }') bytes allocated per query, $((gc1 - gc0)) GC cycles in $((RUNS * SECS)) s"

# The same queries with EDNS0 (4096-byte UDP): the SRV answers of the
# 10-pod Services (~700 bytes) then fit instead of coming back truncated.
progress "dnsperf slicedns with -e ($SECS s)"
dnsperf_run slicedns-edns "$dns_port" -e
report "slicedns -e" slicedns-edns
say "  $(printf '%-16s' '') 1 run, EDNS0 (SRV answers fit in UDP; without -e they are truncated, TC=1)"

# One more run while a 10 s CPU profile is taken; not part of the median.
progress "dnsperf slicedns under a CPU profile ($SECS s)"
profile=$OUT/slicedns-cpu.pprof
dnsperf_run slicedns-pprof "$dns_port" &
perf_pid=$!
pids+=("$perf_pid")
prof_secs=$((SECS >= 13 ? 10 : (SECS > 3 ? SECS - 3 : 1)))
sleep 2
prof_ok=1
curl -sf -o "$profile" "http://$http_addr/debug/pprof/profile?seconds=$prof_secs" || prof_ok=0
wait "$perf_pid" || die "dnsperf under the profile failed"
forget "$perf_pid"
report "slicedns (pprof)" slicedns-pprof

say "RSS after the load test: $(mb "$(proc_kb "$spid" VmRSS)"); peak: $(mb "$(proc_kb "$spid" VmHWM)")"
stop_pid "$spid"
forget "$spid"

# --- 4. the fixed-answer responder ------------------------------------------------
progress "starting the fixed responder"
"$TOOLS/fixed" -addr 127.0.0.1:0 >"$OUT/fixed.log" 2>&1 &
fpid=$!
pids+=("$fpid")
for _ in $(seq 100); do
  grep -q '^listening ' "$OUT/fixed.log" && break
  sleep 0.05
done
fixed_addr=$(sed -n 's/^listening //p' "$OUT/fixed.log")
[ -n "$fixed_addr" ] || die "fixed responder did not start: $(cat "$OUT/fixed.log")"
for i in $(seq "$RUNS"); do
  progress "dnsperf fixed responder run $i/$RUNS ($SECS s)"
  dnsperf_run "fixed-$i" "${fixed_addr##*:}"
done
stop_pid "$fpid"
forget "$fpid"
f_med=$(median_run fixed)
f_qps=$(dnsperf_stats "$OUT/dnsperf-$f_med.txt" | cut -d' ' -f1)
report "fixed responder" "$f_med"
say "  $(printf '%-16s' '') runs: $(all_qps fixed) QPS"
say "  $(printf '%-16s %.2f' ratio "$(awk -v a="$s_qps" -v b="$f_qps" 'BEGIN { print a / b }')") (slicedns median QPS / fixed responder median QPS)"

# --- CPU profile ---------------------------------------------------------------------
say ""
if [ "$prof_ok" = 1 ]; then
  say "CPU profile of slicedns, $prof_secs s during the profiled run (go tool pprof -top, 25 nodes; $profile):"
  go tool pprof -top -nodecount=25 bin/slicedns "$profile" 2>/dev/null | sed 's/^/  /' | tee -a "$RESULTS"
  # Where the time goes, by cumulative share: the UDP read loop (which also
  # runs the allocation-free path, fastAnswer, and the sends it makes), the
  # general (miekg/dns) path, the batched sends and reads (sendmmsg and
  # recvmmsg on Linux), the GC's mark workers, zone lookups.
  go tool pprof -top -cum -nodecount=400 bin/slicedns "$profile" 2>/dev/null | awk '
    BEGIN {
      n = split("dns.serveUDP dns.(*Handler).fastAnswer dns.serveSlowUDP dns.(*udpBatcher).flush dns.(*udpBatcher).read runtime.gcBgMarkWorker runtime.mallocgc zone.(*Snapshot).Lookup", want, " ")
      label["dns.serveUDP"] = "UDP read loop"; label["dns.(*Handler).fastAnswer"] = "fastAnswer"
      label["dns.serveSlowUDP"] = "general path (own goroutines)"
      label["dns.(*udpBatcher).flush"] = "sendmmsg"; label["dns.(*udpBatcher).read"] = "recvmmsg"
      label["runtime.gcBgMarkWorker"] = "GC mark"; label["runtime.mallocgc"] = "malloc"
      label["zone.(*Snapshot).Lookup"] = "zone Lookup"
    }
    { for (i = 1; i <= n; i++) if (!(want[i] in got) && index($6, want[i]) && substr($6, length($6) - length(want[i]) + 1) == want[i]) got[want[i]] = $5 }
    END {
      s = ""
      for (i = 1; i <= n; i++) s = s (i > 1 ? ", " : "") label[want[i]] " " (want[i] in got ? got[want[i]] : "0% (no samples)")
      print "  share of samples (cum): " s
    }' | tee -a "$RESULTS"
else
  say "CPU profile: could not be fetched from http://$http_addr/debug/pprof/profile"
fi

# --- 5. Go micro-benchmarks ----------------------------------------------------------
say ""
say "go test -run '^\$' -bench . -benchmem:"
for pkg in ./zone ./dns; do
  progress "micro-benchmarks of $pkg"
  bout=$OUT/gobench-${pkg#./}.txt
  if go test -run '^$' -bench . -benchmem "$pkg" >"$bout" 2>&1; then
    if grep -q '^Benchmark' "$bout"; then
      grep -E '^(pkg:|Benchmark|ok )' "$bout" | sed 's/^/  /' | tee -a "$RESULTS"
    else
      say "  $pkg: no benchmarks yet"
    fi
  else
    say "  $pkg: FAILED (go test exited non-zero):"
    tail -15 "$bout" | sed 's/^/    /' | tee -a "$RESULTS"
  fi
done

# --- 6. kube-apiserver ------------------------------------------------------------------
# The real kube-apiserver part (start -> first answer with 100k endpoints,
# RSS through a relist, API write -> answer latency idle, under half of
# slicedns's maximum load, and the same load on the fixed responder as a
# control) is TestBenchAPIServer in ./cmd/slicedns; this runs it when asked.
say ""
if [ "${SLICEDNS_BENCH_APISERVER:-0}" = 1 ]; then
  progress "kube-apiserver benchmark (about 90 s)"
  kube_bin=$(./hack/kube/build.sh 2>/dev/null) || die "hack/kube/build.sh failed"
  say "kube-apiserver (go test -run TestBenchAPIServer ./cmd/slicedns -v):"
  set +e
  SLICEDNS_KUBE_BIN=$kube_bin go test -count=1 -timeout 10m -run TestBenchAPIServer ./cmd/slicedns -v 2>&1 | sed 's/^/  /' | tee -a "$RESULTS"
  rc=${PIPESTATUS[0]}
  set -e
  [ "$rc" = 0 ] || say "  FAILED (exit $rc)"
else
  say "kube-apiserver: skipped (SLICEDNS_BENCH_APISERVER=1 runs TestBenchAPIServer)"
fi

say ""
say "bench took $(($(date +%s) - started_at)) s; raw outputs in $OUT/"
