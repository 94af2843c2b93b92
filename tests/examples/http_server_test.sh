#!/usr/bin/env bash
# examples/http_server against real clients: curl (status codes, bodies,
# HEAD, keep-alive reuse, HTTP/1.0 keep-alive, traversal refused, redirect),
# ab -k (HTTP/1.0 keep-alive: 2,000 requests, every one kept alive),
# h2load --h1 (2,000 HTTP/1.1 requests) and a short wrk run
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

# HTTP/1.0 keep-alive (RFC 9112 §9.3): the response confirms it with
# "Connection: keep-alive" and the connection stays open for the next
# request; without the header, ab -k waited for the server to close.
curl -s -0 -H 'Connection: keep-alive' -D "$harness_dir/h10" -o /dev/null "$base/"
grep -qi '^connection: keep-alive' "$harness_dir/h10" || fail "HTTP/1.0 keep-alive not confirmed"
curl -s -0 -D "$harness_dir/h10close" -o /dev/null "$base/"
grep -qi '^connection: close' "$harness_dir/h10close" || fail "HTTP/1.0 without keep-alive not closed"
curl -sv -0 -H 'Connection: keep-alive' -o /dev/null -o /dev/null "$base/" "$base/sub/page.txt" \
  2> "$harness_dir/verbose10"
grep -qi 're-using existing connection' "$harness_dir/verbose10" || fail "HTTP/1.0 keep-alive connection not reused"
# ab -k speaks HTTP/1.0 with keep-alive; -s bounds each wait, so a
# connection the server forgot to confirm fails the run instead of hanging.
timeout 60 ab -k -n 2000 -c 8 -s 10 "$base/" > "$harness_dir/ab" 2>&1 || fail "ab -k failed: $(tail -5 "$harness_dir/ab")"
grep -q '^Complete requests: *2000' "$harness_dir/ab" || fail "ab -k did not complete 2000 requests"
grep -q '^Failed requests: *0' "$harness_dir/ab" || fail "ab -k saw failed requests"
grep -q '^Keep-Alive requests: *2000' "$harness_dir/ab" || fail "ab -k: not every request kept alive: $(grep Keep-Alive "$harness_dir/ab")"
# h2load --h1 speaks HTTP/1.1 (and reconnects if closed): a load check of
# the 1.1 path, not of 1.0 keep-alive.
timeout 60 h2load --h1 -n 2000 -c 8 "$base/" > "$harness_dir/h2load" 2>&1 || fail "h2load failed: $(tail -5 "$harness_dir/h2load")"
grep -q '2000 succeeded, 0 failed, 0 errored' "$harness_dir/h2load" || fail "h2load --h1: $(grep requests: "$harness_dir/h2load")"

wrk -t1 -c16 -d1s "$base/" > "$harness_dir/wrk" 2>&1 || fail "wrk failed: $(cat "$harness_dir/wrk")"
cat "$harness_dir/wrk"
grep -q 'Requests/sec' "$harness_dir/wrk" || fail "wrk printed no rate"
if grep -qE 'Socket errors|Non-2xx' "$harness_dir/wrk"; then fail "wrk saw errors"; fi

stop_server
[ "$SERVER_STATUS" -eq 0 ] || fail "exit status $SERVER_STATUS after SIGINT"
echo "PASS"
