// bench/soak/loads.hpp — the soak client's loads. Each runs on its own thread
// until soak::g_stop is set, then finishes its current operation (bounded by
// the I/O deadline) and returns; it counts into its stats.
#pragma once

#include "soak_io.hpp"

#include <string>

namespace soak {

// ---- echo server (echo_load.cpp) ----------------------------------------------

// Connect, one exchange of 1 B..64 KiB, verify, close; paced. One in four
// half-closes after sending (the whole echo, then the server's FIN, are due).
void echo_short(int port, const pattern& p, stats& st, unsigned seed);
// `conns` connections, each kept 10..60 s and then replaced, exchanging
// 1 B..16 KiB messages round-robin.
void echo_long(int port, const pattern& p, stats& st, int conns, unsigned seed);
// Send `total` bytes while reading the echo slowly through a small receive
// buffer: the server's writes block, then its reads, then ours.
void echo_slow(int port, const pattern& p, stats& st, std::size_t total, unsigned seed);
// Resets (SO_LINGER 0): before anything is sent, mid-request, and mid-response
// (with the server's writes blocked on a full buffer).
void echo_reset(int port, const pattern& p, stats& st, unsigned seed);

// ---- HTTP server (http_load.cpp) ----------------------------------------------

// The files the soak serves (written by scripts/soak.sh), read back to verify
// response bodies.
struct http_files {
  std::string index;   // /index.html, small
  std::string medium;  // /medium.bin, cached by the server (<= 1 MiB)
  std::string large;   // /large.bin, above the server's cache limit
  bool load(const std::string& root);
};

// Connect, 1..4 pipelined requests (GET of each file, HEAD, a 404), the last
// one sometimes "Connection: close", one in four half-closed after sending;
// verify every status and body, and the server's FIN where one is due.
void http_short(int port, const http_files& f, stats& st, unsigned seed);
// Three pipelined GETs of the large file, read slowly through a small buffer.
void http_slow(int port, const http_files& f, stats& st);
// Requests cut short: a half-sent head then FIN (the server must close), then
// RST, then a plain close; a half-sent body; a reset mid-response.
void http_abort(int port, const http_files& f, stats& st, unsigned seed);
// A keep-alive connection left idle after one request: the server must close
// it after its idle timeout (30 s), within `limit_s`.
void http_idle(int port, const http_files& f, stats& st, int limit_s);

}  // namespace soak
