// bench/soak/http_load.cpp — the soak's loads on examples/http_server: short
// connections with pipelined requests, a slow reader, requests cut short
// (half-sent, reset), an idle keep-alive connection. Every status line,
// Content-Length and body byte is checked against the served files.
#include "loads.hpp"

#include <sys/socket.h>

#include <fstream>
#include <iterator>
#include <optional>
#include <sstream>

namespace soak {

namespace {

using namespace std::chrono_literals;

bool read_file(const std::string& path, std::string& out) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return false;
  out.assign(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
  return true;
}

struct response_head {
  int status = 0;
  std::optional<std::size_t> length;
};

std::optional<response_head> parse(const std::string& head) {
  response_head r;
  if (head.rfind("HTTP/1.1 ", 0) != 0 || head.size() < 12) return std::nullopt;
  r.status = std::atoi(head.c_str() + 9);
  std::istringstream lines(head);
  std::string line;
  while (std::getline(lines, line)) {
    if (!line.empty() && line.back() == '\r') line.pop_back();
    const std::size_t colon = line.find(':');
    if (colon == std::string::npos) continue;
    std::string name = line.substr(0, colon);
    for (char& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    if (name == "content-length") r.length = std::strtoull(line.c_str() + colon + 1, nullptr, 10);
  }
  if (!r.length) return std::nullopt;
  return r;
}

// One request of a pipelined batch and what its answer must be.
struct request {
  std::string text;
  int status;                 // the status due
  const std::string* body;    // the body due (200 GET), or nullptr
  std::size_t head_length;    // for HEAD: the Content-Length due, no body
  bool head_only = false;
};

request make(const http_files& f, unsigned pick, bool close) {
  const char* conn = close ? "Connection: close\r\n" : "";
  auto get = [&](const char* path) {
    return std::string("GET ") + path + " HTTP/1.1\r\nHost: soak\r\n" + conn + "\r\n";
  };
  switch (pick % 5) {
    case 0: return {get("/"), 200, &f.index, 0};
    case 1: return {get("/medium.bin"), 200, &f.medium, 0};
    case 2: return {get("/large.bin"), 200, &f.large, 0};
    case 3: return {get("/missing.txt"), 404, nullptr, 0};
    default:
      return {std::string("HEAD /medium.bin HTTP/1.1\r\nHost: soak\r\n") + conn + "\r\n", 200,
              nullptr, f.medium.size(), true};
  }
}

// Read and check one answer.
bool check(buffered_reader& in, const request& rq, stats& st) {
  std::string head;
  if (!in.read_head(head, st)) return false;
  const std::optional<response_head> r = parse(head);
  if (!r) {
    st.fail(err::protocol, "a response head without a status line or Content-Length");
    return false;
  }
  if (r->status / 100 != 2) st.add(st.non2xx, 1);
  if (r->status != rq.status) {
    st.fail(err::status, ("status " + std::to_string(r->status) + " for " +
                          rq.text.substr(0, rq.text.find('\r')))
                             .c_str());
    return false;
  }
  if (rq.head_only) {
    if (*r->length != rq.head_length) {
      st.fail(err::protocol, "HEAD: wrong Content-Length");
      return false;
    }
  } else if (rq.body != nullptr) {
    if (*r->length != rq.body->size()) {
      st.fail(err::protocol, "GET: wrong Content-Length");
      return false;
    }
    if (!in.read_verify(*rq.body, st)) return false;
  } else {
    if (!in.skip(*r->length, st)) return false;  // an error page: read, not compared
  }
  st.add(st.ops, 1);
  return true;
}

int open_conn(int port, stats& st, int rcvbuf = 0) {
  const int fd = connect_loopback(port, rcvbuf);
  if (fd < 0) {
    st.fail(err::connect, "connect", errno);
    pause_for(100ms);
    return -1;
  }
  st.add(st.conns, 1);
  return fd;
}

}  // namespace

bool http_files::load(const std::string& root) {
  return read_file(root + "/index.html", index) && read_file(root + "/medium.bin", medium) &&
         read_file(root + "/large.bin", large);
}

void http_short(int port, const http_files& f, stats& st, unsigned seed) {
  std::mt19937 rng(seed);
  while (!stopping()) {
    const int fd = open_conn(port, st);
    if (fd < 0) continue;
    const unsigned k = 1 + rng() % 4;
    const bool close_last = rng() % 2 == 0;
    std::vector<request> batch;
    std::string all;
    for (unsigned i = 0; i < k; ++i) {
      batch.push_back(make(f, rng(), close_last && i + 1 == k));
      all += batch.back().text;
    }
    bool ok = send_all(fd, all, st, "sending requests");
    // One in four half-closes after the requests: every answer is still due.
    const bool half_close = rng() % 4 == 0;
    if (ok && half_close) ::shutdown(fd, SHUT_WR);
    buffered_reader in(fd);
    for (std::size_t i = 0; ok && i < batch.size(); ++i) ok = check(in, batch[i], st);
    if (ok && (close_last || half_close) && !await_close(fd, clock::now() + std::chrono::seconds(g_io_timeout_s))) {
      st.fail(err::timeout, "the server kept a Connection: close or half-closed connection open");
    }
    ::close(fd);
    pause_for(5ms);
  }
}

void http_slow(int port, const http_files& f, stats& st) {
  while (!stopping()) {
    const int fd = open_conn(port, st, 8192);
    if (fd < 0) continue;
    const request rq = make(f, 2, false);
    bool ok = send_all(fd, rq.text + rq.text + rq.text, st, "slow reader: sending requests");
    buffered_reader in(fd, /*slow=*/true);
    for (int i = 0; ok && i < 3; ++i) ok = check(in, rq, st);
    ::close(fd);
    pause_for(50ms);
  }
}

void http_abort(int port, const http_files& f, stats& st, unsigned seed) {
  std::mt19937 rng(seed);
  const std::string half_head = "GET /medium.bin HTTP/1.1\r\nHost: soak\r\nAccept: */*\r\n";
  for (unsigned round = 0; !stopping(); ++round) {
    const int fd = open_conn(port, st);
    if (fd < 0) continue;
    const std::size_t cut = 1 + rng() % half_head.size();
    switch (round % 5) {
      case 0:  // half a head, then FIN: the server must close its side
        if (send_all(fd, std::string_view(half_head).substr(0, cut), st, "sending half a head")) {
          ::shutdown(fd, SHUT_WR);
          if (!await_close(fd, clock::now() + std::chrono::seconds(g_io_timeout_s))) {
            st.fail(err::timeout, "the server kept a half-sent request open after FIN");
          }
        }
        ::close(fd);
        break;
      case 1:  // half a head, then RST
        (void)send_all(fd, std::string_view(half_head).substr(0, cut), st, "sending half a head");
        reset_close(fd);
        break;
      case 2:  // half a head, then close without waiting
        (void)send_all(fd, std::string_view(half_head).substr(0, cut), st, "sending half a head");
        ::close(fd);
        break;
      case 3: {  // a head announcing a body, half the body, then close
        const std::string head =
            "GET / HTTP/1.1\r\nHost: soak\r\nContent-Length: 100000\r\n\r\n";
        (void)send_all(fd, head + std::string(50000, 'x'), st, "sending half a body");
        ::close(fd);
        break;
      }
      default: {  // the large file requested, a little of it read, then RST
        const request rq = make(f, 2, false);
        if (send_all(fd, rq.text, st, "sending a request")) {
          std::string head;
          buffered_reader in(fd);
          if (in.read_head(head, st)) {
            const std::optional<response_head> r = parse(head);
            if (!r || r->status != 200) st.fail(err::status, "reset load: not a 200");
          }
        }
        reset_close(fd);
        break;
      }
    }
    st.add(st.ops, 1);
    pause_for(10ms);
  }
}

void http_idle(int port, const http_files& f, stats& st, int limit_s) {
  while (!stopping()) {
    const int fd = open_conn(port, st);
    if (fd < 0) continue;
    const request rq = make(f, 0, false);
    buffered_reader in(fd);
    if (send_all(fd, rq.text, st, "idle: sending a request") && check(in, rq, st)) {
      const auto deadline = clock::now() + std::chrono::seconds(limit_s);
      // Wait in slices so the end of the run is not held up.
      bool closed = false;
      while (!closed && !stopping() && clock::now() < deadline) {
        closed = await_close(fd, std::min(deadline, clock::now() + 1s));
      }
      if (!closed && !stopping()) {
        st.fail(err::timeout, "the server kept an idle keep-alive connection past its timeout");
      }
    }
    ::close(fd);
  }
}

}  // namespace soak
