// http_logic — what examples/http_server does: files, responses, and each
// connection's requests, in a header so that the simulation tests
// (tests/examples/http_simulation_test.cpp) run the very same code on the
// in-memory network under many seeds. Times come from weft::now(), the
// runtime's clock, so an idle connection closes after idle_timeout of virtual
// time on a simulation.
#pragma once

#include "accept_loop.hpp"
#include "http_parser.hpp"

#include <weft/cancellation.hpp>
#include <weft/net/accept_backoff.hpp>
#include <weft/net/tcp.hpp>
#include <weft/runtime.hpp>
#include <weft/time.hpp>
#include <weft/with_cancellation.hpp>

#include <fcntl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <ctime>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>

namespace http_example {

using namespace std::chrono_literals;

inline constexpr std::size_t max_header_bytes = 16 * 1024;
inline constexpr std::size_t max_cached_file = 1 << 20;
inline constexpr auto idle_timeout = 30s;

// ---- files ------------------------------------------------------------------

struct file_body {
  int error = 0;  // errno of the failed open/read, 0 when ok
  std::shared_ptr<const std::string> bytes;
};

// Read a whole file on the blocking pool (regular-file reads must not block a
// worker).
inline file_body read_whole_file(const std::string& path) {
  file_body out;
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    out.error = errno;
    return out;
  }
  struct stat st {};
  if (::fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
    out.error = S_ISDIR(st.st_mode) ? EISDIR : ENOENT;
    ::close(fd);
    return out;
  }
  auto data = std::make_shared<std::string>(static_cast<std::size_t>(st.st_size), '\0');
  std::size_t got = 0;
  while (got < data->size()) {
    const ssize_t n = ::pread(fd, data->data() + got, data->size() - got, static_cast<off_t>(got));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    got += static_cast<std::size_t>(n);
  }
  data->resize(got);
  ::close(fd);
  out.bytes = std::move(data);
  return out;
}

// Files up to max_cached_file, kept for a second after they are read, per
// worker thread (no lock on the hot path). A cached file also keeps its
// rendered 200 response (headers + body), re-rendered when the Date second
// changes. A larger file is read for each request and not kept.
struct cached_file {
  file_body body;
  std::chrono::steady_clock::time_point loaded;
  // The keep-alive 200 response (headers and body), shared so a send in
  // progress keeps it alive while the cache moves on.
  std::shared_ptr<const std::string> response;
  std::time_t rendered_at = 0;  // the Date second it was rendered in
};

inline thread_local std::unordered_map<std::string, cached_file> t_cache;

// A file as load() found it: its body, and its cache entry, or nullptr for a
// file above max_cached_file, which is not kept.
struct loaded_file {
  file_body body;
  cached_file* entry;
};

inline weft::task<loaded_file> load(std::string path) {
  const auto now = weft::now();  // the runtime's clock: virtual on a simulation
  if (auto it = t_cache.find(path); it != t_cache.end()) {
    if (now - it->second.loaded <= 1s) co_return loaded_file{it->second.body, &it->second};
    t_cache.erase(it);
  }
  file_body body = co_await weft::spawn_blocking(read_whole_file, path);
  if (body.bytes && body.bytes->size() > max_cached_file) {
    co_return loaded_file{std::move(body), nullptr};  // too big to keep
  }
  // We may be on another worker now (the task can move): use its cache.
  if (t_cache.size() > 1024) t_cache.clear();  // bounded: a crude but safe cap
  cached_file& e = t_cache[path];
  e.body = std::move(body);
  e.loaded = now;
  e.response.reset();
  e.rendered_at = 0;
  co_return loaded_file{e.body, &e};
}

// ---- HTTP -------------------------------------------------------------------

inline std::string_view content_type(std::string_view path) {
  static constexpr std::pair<std::string_view, std::string_view> types[] = {
      {".html", "text/html; charset=utf-8"},
      {".htm", "text/html; charset=utf-8"},
      {".css", "text/css"},
      {".js", "text/javascript"},
      {".json", "application/json"},
      {".txt", "text/plain; charset=utf-8"},
      {".png", "image/png"},
      {".jpg", "image/jpeg"},
      {".jpeg", "image/jpeg"},
      {".gif", "image/gif"},
      {".svg", "image/svg+xml"},
      {".ico", "image/x-icon"},
      {".wasm", "application/wasm"},
      {".pdf", "application/pdf"},
  };
  for (const auto& [ext, type] : types) {
    if (path.size() >= ext.size() && path.substr(path.size() - ext.size()) == ext) return type;
  }
  return "application/octet-stream";
}

// The Date header, formatted once per second per thread.
inline std::string_view http_date() {
  thread_local std::time_t last = 0;
  thread_local std::array<char, 64> buf{};
  const std::time_t now = std::time(nullptr);
  if (now != last) {
    last = now;
    std::tm tm{};
    ::gmtime_r(&now, &tm);
    std::strftime(buf.data(), buf.size(), "%a, %d %b %Y %H:%M:%S GMT", &tm);
  }
  return buf.data();
}

// How the response speaks of the connection (RFC 9112 §9.3, §9.6): HTTP/1.1
// persists unless either side says "close"; an HTTP/1.0 client asked for
// keep-alive and persists only if the response confirms it.
enum class persistence { close, keep, keep_http10 };

inline persistence persistence_for(bool keep_alive, bool http11) {
  if (!keep_alive) return persistence::close;
  return http11 ? persistence::keep : persistence::keep_http10;
}

inline std::string head_of(int status, std::string_view reason, std::string_view type,
                           std::size_t length, persistence conn, std::string_view extra = {}) {
  std::string h;
  h.reserve(160);
  h += "HTTP/1.1 ";
  h += std::to_string(status);
  h += ' ';
  h += reason;
  h += "\r\nServer: weft\r\nDate: ";
  h += http_date();
  h += "\r\nContent-Type: ";
  h += type;
  h += "\r\nContent-Length: ";
  h += std::to_string(length);
  h += "\r\n";
  if (conn == persistence::close) h += "Connection: close\r\n";
  if (conn == persistence::keep_http10) h += "Connection: keep-alive\r\n";
  h += extra;
  h += "\r\n";
  return h;
}

inline weft::task<bool> send_all(weft::net::tcp_stream& s, std::string_view bytes) {
  auto data = std::as_bytes(std::span(bytes.data(), bytes.size()));
  auto n = co_await s.write(data);  // usually all of it
  if (!n) co_return false;
  if (*n == data.size()) co_return true;
  co_return static_cast<bool>(co_await s.write_all(data.subspan(*n)));
}

inline weft::task<bool> send(weft::net::tcp_stream& s, std::string_view head,
                             std::string_view body) {
  // One write for a small response; header and body as two buffers otherwise.
  if (body.size() <= 16 * 1024) {
    std::string all;
    all.reserve(head.size() + body.size());
    all += head;
    all += body;
    co_return static_cast<bool>(
        co_await s.write_all(std::as_bytes(std::span(all.data(), all.size()))));
  }
  if (!co_await s.write_all(std::as_bytes(std::span(head.data(), head.size())))) co_return false;
  co_return static_cast<bool>(
      co_await s.write_all(std::as_bytes(std::span(body.data(), body.size()))));
}

inline weft::task<bool> error_response(weft::net::tcp_stream& s, int status,
                                       std::string_view reason, persistence conn,
                                       std::string_view extra = {}) {
  const std::string body = std::to_string(status) + " " + std::string(reason) + "\n";
  co_return co_await send(
      s, head_of(status, reason, "text/plain; charset=utf-8", body.size(), conn, extra), body);
}

// Closes a connection that has been idle for idle_timeout: a task per
// connection that wakes every idle_timeout/3 (a timer per read would cost
// more than the request). It shuts the socket down, which ends the pending
// read; the lock makes sure it never touches an fd the connection has
// already closed (and the kernel may have reused).
struct idle_watch {
  std::mutex mu;
  bool closed = false;
  weft::net::tcp_stream* stream = nullptr;   // under mu until closed
  std::atomic<std::int64_t> last_active{0};  // weft::now() ticks
  void touch() noexcept {
    // ORDERING: relaxed: a coarse timestamp; the watchdog tolerates staleness.
    last_active.store(weft::now().time_since_epoch().count(), std::memory_order_relaxed);
  }
};

inline weft::task<void> watch_idle(std::shared_ptr<idle_watch> w) {
  for (;;) {
    co_await weft::sleep(idle_timeout / 3);
    std::lock_guard<std::mutex> lock(w->mu);
    if (w->closed) co_return;
    // ORDERING: relaxed: see touch().
    const std::chrono::steady_clock::duration idle =
        weft::now().time_since_epoch() -
        std::chrono::steady_clock::duration(w->last_active.load(std::memory_order_relaxed));
    if (idle > idle_timeout) {
      (void)w->stream->shutdown(SHUT_RDWR);  // ends the pending read
      co_return;
    }
  }
}

inline weft::task<void> serve_connection(weft::net::tcp_stream& s, idle_watch& watch,
                                         const std::string& root);

/// Serve one connection: requests for files under `root` until the client
/// closes, asks to close, errs, or stays idle for idle_timeout.
inline weft::task<void> serve(weft::net::tcp_stream s, std::shared_ptr<const std::string> root) {
  (void)s.set_nodelay(true);
  auto watch = std::make_shared<idle_watch>();
  watch->stream = &s;
  watch->touch();
  (void)weft::spawn(watch_idle, watch);
  co_await serve_connection(s, *watch, *root);
  std::lock_guard<std::mutex> lock(watch->mu);
  watch->closed = true;
  s.close();
}

inline weft::task<void> serve_connection(weft::net::tcp_stream& s, idle_watch& watch,
                                         const std::string& root) {
  std::string buf;
  std::array<char, 8192> chunk{};
  for (;;) {
    // Read until a whole head is buffered.
    std::size_t head_end;
    while ((head_end = buf.find("\r\n\r\n")) == std::string::npos) {
      if (buf.size() > max_header_bytes) {
        (void)co_await error_response(s, 431, "Request Header Fields Too Large",
                                      persistence::close);
        co_return;
      }
      // Not read_buffered(): its multishot receive keeps filling the
      // worker's shared provided buffers (up to 16 per stream) while this
      // task is busy writing, so clients that pipeline and do not read take
      // the ring (the others are then served one block per read, design.md
      // bug 31/35), and an A/B found no CPU to gain from it here.
      auto n = co_await s.read(std::as_writable_bytes(std::span(chunk)));
      if (!n || *n == 0) co_return;  // error, closed, or shut down as idle
      buf.append(chunk.data(), *n);
      watch.touch();
    }
    std::optional<request> req = parse_head(std::string_view(buf).substr(0, head_end));
    if (!req) {
      (void)co_await error_response(s, 400, "Bad Request", persistence::close);
      co_return;
    }
    if (req->chunked) {
      (void)co_await error_response(s, 501, "Not Implemented", persistence::close);
      co_return;
    }
    // Skip a request body (GET and HEAD should not have one).
    std::size_t consumed = head_end + 4;
    while (buf.size() < consumed + req->content_length) {
      auto n = co_await s.read(std::as_writable_bytes(std::span(chunk)));
      if (!n || *n == 0) co_return;
      buf.append(chunk.data(), *n);
    }
    // The appends above may have moved buf: req's method and target view
    // it, so parse the head again (else a GET with a body of ~16 KiB or more
    // read freed memory and was answered 405).
    if (req->content_length > 0) {
      req = parse_head(std::string_view(buf).substr(0, head_end));  // the same bytes: it parses
      if (!req) co_return;
    }
    consumed += req->content_length;
    const bool keep = req->keep_alive;
    const persistence conn = persistence_for(keep, req->http11);
    const bool head_only = req->method == "HEAD";
    bool ok = true;
    if (req->method != "GET" && !head_only) {
      ok = co_await error_response(s, 405, "Method Not Allowed", conn, "Allow: GET, HEAD\r\n");
    } else if (std::optional<std::string> path = decode_path(req->target); !path) {
      ok = co_await error_response(s, 400, "Bad Request", conn);
    } else {
      // The body is a copy (a shared_ptr): the cache may change while we send.
      const loaded_file file = co_await load(root + *path);
      const file_body& body = file.body;
      cached_file* const f = file.entry;  // used before the next suspension only
      if (body.error == EISDIR) {
        const std::string location = "Location: " + *path + "/\r\n";
        ok = co_await error_response(s, 301, "Moved Permanently", conn, location);
      } else if (body.error != 0) {
        ok = co_await error_response(s, 404, "Not Found", conn);
      } else if (conn == persistence::keep && !head_only && f != nullptr) {
        // The common case: one write of the rendered response (HTTP/1.1
        // keep-alive; a 1.0 client's needs its Connection header, below).
        const std::time_t now = std::time(nullptr);
        if (!f->response || f->rendered_at != now) {
          std::string r =
              head_of(200, "OK", content_type(*path), body.bytes->size(), persistence::keep);
          r += *body.bytes;
          f->response = std::make_shared<const std::string>(std::move(r));
          f->rendered_at = now;
        }
        const std::shared_ptr<const std::string> response = f->response;
        ok = co_await send_all(s, *response);
      } else {
        const std::string head = head_of(200, "OK", content_type(*path), body.bytes->size(), conn);
        ok = co_await send(s, head, head_only ? std::string_view{} : std::string_view(*body.bytes));
      }
    }
    if (!ok || !keep) co_return;
    buf.erase(0, consumed);  // a pipelined next request may already be here
  }
}

/// The HTTP server's accept loop (examples/accept_loop.hpp): files under `root`.
inline weft::task<std::size_t> accept_loop(weft::net::tcp_listener& listener,
                                           weft::cancellation_token stop,
                                           std::shared_ptr<const std::string> root) {
  return examples::accept_loop(listener, std::move(stop), serve, std::move(root));
}

}  // namespace http_example
