#!/usr/bin/env bash
# examples/http_server against real clients: curl (status codes, bodies,
# HEAD, keep-alive reuse, traversal refused, redirect) and a short wrk run
# (no socket errors, no non-2xx answers); SIGINT stops it with status 0.
set -euo pipefail
source "$(dirname "$0")/server_harness.sh"
root="$harness_dir/root"
mkdir -p "$root/sub"
printf 'Hello, World!' > "$root/index.html"
printf 'plain text\n' > "$root/sub/page.txt"
head -c 300000 /dev/urandom > "$root/big.bin"
start_server "$1" --port 0 --root "$root" --threads 2
base="http://127.0.0.1:$SERVER_PORT"

code=$(curl -s -o "$harness_dir/body" -w '%{http_code}' "$base/")
[ "$code" = 200 ] || fail "GET / gave $code"
[ "$(cat "$harness_dir/body")" = "Hello, World!" ] || fail "GET / body differs"

curl -s -D "$harness_dir/headers" -o /dev/null "$base/sub/page.txt"
grep -qi '^content-type: text/plain' "$harness_dir/headers" || fail "page.txt content type"
grep -qi '^date: ' "$harness_dir/headers" || fail "no Date header"

curl -s -o "$harness_dir/big" "$base/big.bin"
cmp -s "$harness_dir/big" "$root/big.bin" || fail "big.bin arrived changed"

code=$(curl -s -I -o "$harness_dir/head" -w '%{http_code}' "$base/index.html")
[ "$code" = 200 ] || fail "HEAD gave $code"
grep -qi '^content-length: 13' "$harness_dir/head" || fail "HEAD Content-Length"

code=$(curl -s -o /dev/null -w '%{http_code}' "$base/missing.html")
[ "$code" = 404 ] || fail "missing file gave $code"
code=$(curl -s -o /dev/null -w '%{http_code}' --path-as-is "$base/../../etc/passwd")
[ "$code" = 400 ] || fail "path traversal gave $code"
code=$(curl -s -o /dev/null -w '%{http_code}' -X POST "$base/")
[ "$code" = 405 ] || fail "POST gave $code"
code=$(curl -s -o /dev/null -w '%{http_code}' "$base/sub")
[ "$code" = 301 ] || fail "a directory without a slash gave $code"

# Keep-alive: the second request goes over the first one's connection.
curl -sv -o /dev/null -o /dev/null "$base/" "$base/sub/page.txt" 2> "$harness_dir/verbose"
grep -qi 're-using existing connection' "$harness_dir/verbose" || fail "connection not reused"

wrk -t1 -c16 -d1s "$base/" > "$harness_dir/wrk" 2>&1 || fail "wrk failed: $(cat "$harness_dir/wrk")"
cat "$harness_dir/wrk"
grep -q 'Requests/sec' "$harness_dir/wrk" || fail "wrk printed no rate"
if grep -qE 'Socket errors|Non-2xx' "$harness_dir/wrk"; then fail "wrk saw errors"; fi

stop_server
[ "$SERVER_STATUS" -eq 0 ] || fail "exit status $SERVER_STATUS after SIGINT"
echo "PASS"
