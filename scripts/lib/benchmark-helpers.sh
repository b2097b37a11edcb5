# Shell functions the benchmark, soak and fault scripts share; sourced, not run:
#   . scripts/lib/benchmark-helpers.sh

# A TCP port on 127.0.0.1 that nothing listens on at the moment of asking.
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }

# Waits up to 10 s for something to accept connections on 127.0.0.1:PORT.
wait_port() { for _ in $(seq 100); do (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0; sleep 0.1; done; return 1; }

# CPU seconds (user + system) a process has used so far.
cpu_seconds() { awk -v hz="$(getconf CLK_TCK)" '{ printf "%.2f", ($14 + $15) / hz }' "/proc/$1/stat"; }

# The event loop threads a process of ours runs (NIO names its group's threads NIO-SGLTN-*).
loop_threads() { grep -l '^NIO-SGLTN-' /proc/"$1"/task/*/comm 2>/dev/null | wc -l; }

# A field of the JSON document on standard input, by dotted path: field latencyMs.p99
field() { python3 -c 'import json,sys; v=json.load(sys.stdin); [v := v[k] for k in sys.argv[1].split(".")]; print(v)' "$1"; }

# kmsd's /metrics on 127.0.0.1:PORT, written to FILE (scripts/metrics-quantile.py reads two).
scrape_metrics() {
  python3 -c 'import sys, urllib.request; sys.stdout.write(urllib.request.urlopen(sys.argv[1]).read().decode())' \
    "http://127.0.0.1:$1/metrics" >"$2"
}
