// The HTTP example's own code (examples/http_logic.hpp: its accept loop,
// request parsing, file responses, keep-alive rules and idle timeout) on the
// simulation's in-memory network, under many seeds: every order of worker
// steps, blocking file reads and network deliveries a seed picks, with
// writes cut into segments, short reads and writes, spurious waits and
// windows of 1-64 KiB. A failure names its seed; WEFT_SIM_SEED=S replays it.
#include "http_logic.hpp"

#include <weft/cancellation.hpp>
#include <weft/net/tcp.hpp>
#include <weft/simulation.hpp>
#include <weft/time.hpp>

#include <gtest/gtest.h>

#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <stdexcept>
#include <string>
#include <vector>

namespace {

using namespace std::chrono_literals;
using weft::result;
using weft::task;
using weft::net::socket_address;
using weft::net::tcp_listener;
using weft::net::tcp_stream;

/// A document root with a small page, a 200 KB file (larger than any
/// window) and a directory, removed at the end.
class http_root {
 public:
  http_root() {
    char dir[] = "/tmp/weft-http-sim-XXXXXX";
    if (::mkdtemp(dir) == nullptr) throw std::runtime_error("mkdtemp failed");
    path_ = dir;
    write("/index.html", "Hello, World!");
    big_.resize(200'000);
    for (std::size_t i = 0; i < big_.size(); ++i) big_[i] = static_cast<char>('a' + (i * 7) % 26);
    write("/big.bin", big_);
    ::mkdir((path_ + "/sub").c_str(), 0755);
    write("/sub/page.txt", "plain text\n");
  }
  http_root(const http_root&) = delete;
  http_root& operator=(const http_root&) = delete;
  ~http_root() {
    for (const char* f : {"/index.html", "/big.bin", "/sub/page.txt"})
      ::unlink((path_ + f).c_str());
    ::rmdir((path_ + "/sub").c_str());
    ::rmdir(path_.c_str());
  }
  [[nodiscard]] const std::string& path() const { return path_; }
  [[nodiscard]] const std::string& big() const { return big_; }

 private:
  void write(const std::string& name, const std::string& bytes) {
    std::ofstream(path_ + name, std::ios::binary) << bytes;
  }
  std::string path_;
  std::string big_;
};

struct response {
  int status = 0;
  std::string head;  // status line and fields, lower-cased field names not needed
  std::string body;
};

/// Reads one response from `s` (`pending` keeps bytes read past it: the
/// next pipelined response). A HEAD response has no body.
task<response> read_response(tcp_stream& s, std::string& pending, bool head_request) {
  std::array<char, 1500> buf{};
  std::size_t end;
  while ((end = pending.find("\r\n\r\n")) == std::string::npos) {
    const std::size_t n = (co_await s.read(std::as_writable_bytes(std::span(buf)))).value();
    if (n == 0) throw std::runtime_error("the connection ended inside a response head");
    pending.append(buf.data(), n);
  }
  response r;
  r.head = pending.substr(0, end);
  pending.erase(0, end + 4);
  r.status = std::stoi(r.head.substr(9, 3));
  const std::size_t cl = r.head.find("Content-Length: ");
  if (cl == std::string::npos) throw std::runtime_error("no Content-Length in " + r.head);
  const std::size_t length = head_request ? 0 : std::stoul(r.head.substr(cl + 16));
  while (pending.size() < length) {
    const std::size_t n = (co_await s.read(std::as_writable_bytes(std::span(buf)))).value();
    if (n == 0) throw std::runtime_error("the connection ended inside a body");
    pending.append(buf.data(), n);
  }
  r.body = pending.substr(0, length);
  pending.erase(0, length);
  co_return r;
}

task<void> send_text(tcp_stream& s, const std::string& text) {
  (co_await s.write_all(std::as_bytes(std::span(text.data(), text.size())))).value();
}

/// The example's accept loop on `l`, serving `root`, until `stop` fires.
weft::join_handle<std::size_t> start_server(tcp_listener& l, weft::cancellation_source& stop,
                                            const http_root& root) {
  return weft::spawn(http_example::accept_loop, std::ref(l), stop.token(),
                     std::make_shared<const std::string>(root.path()));
}

void expect(bool ok, const std::string& what) {
  if (!ok) throw std::runtime_error(what);
}

/// One keep-alive client: pipelined requests, then HTTP/1.0 keep-alive, then
/// a request that asks to close; every answer checked, then end of stream.
task<void> client(socket_address addr, const http_root& root) {
  tcp_stream c = (co_await tcp_stream::connect(addr)).value();
  std::string pending;
  // Three requests in one write (pipelined), answered in order.
  co_await send_text(c,
                     "GET / HTTP/1.1\r\nHost: x\r\n\r\n"
                     "GET /big.bin HTTP/1.1\r\nHost: x\r\n\r\n"
                     "HEAD /sub/page.txt HTTP/1.1\r\nHost: x\r\n\r\n");
  response r = co_await read_response(c, pending, false);
  expect(r.status == 200 && r.body == "Hello, World!", "GET / gave " + r.head);
  r = co_await read_response(c, pending, false);
  expect(r.status == 200 && r.body == root.big(), "GET /big.bin gave " + r.head);
  r = co_await read_response(c, pending, true);
  expect(r.status == 200 && r.head.find("Content-Length: 11") != std::string::npos &&
             r.head.find("text/plain") != std::string::npos,
         "HEAD gave " + r.head);
  co_await send_text(c, "GET /missing HTTP/1.1\r\nHost: x\r\n\r\n");
  r = co_await read_response(c, pending, false);
  expect(r.status == 404, "a missing file gave " + r.head);
  co_await send_text(c, "GET /sub HTTP/1.1\r\nHost: x\r\n\r\n");
  r = co_await read_response(c, pending, false);
  expect(r.status == 301 && r.head.find("Location: /sub/") != std::string::npos,
         "a directory gave " + r.head);
  // RFC 9112 §9.3: an HTTP/1.0 client that asks for keep-alive is told so.
  co_await send_text(c, "GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n");
  r = co_await read_response(c, pending, false);
  expect(r.status == 200 && r.head.find("Connection: keep-alive") != std::string::npos,
         "HTTP/1.0 keep-alive gave " + r.head);
  co_await send_text(c, "GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
  r = co_await read_response(c, pending, false);
  expect(r.status == 200 && r.head.find("Connection: close") != std::string::npos,
         "a closing request gave " + r.head);
  std::array<std::byte, 16> rest{};
  expect((co_await c.read(rest)).value() == 0 && pending.empty(),
         "the server did not close after Connection: close");
}

TEST(HttpExampleSimulated, AnswersPipelinedAndKeepAliveRequestsUnderManySeeds) {
  http_root root;
  weft::simulated_network n;
  n.short_io_per_mille = 250;
  auto failure = weft::simulate({.seeds = 40, .network = n}, [&root](weft::runtime&) -> task<> {
    tcp_listener l = tcp_listener::bind({weft::net::ip_address::v4_loopback(), 0}).value();
    const socket_address addr = l.local_address().value();
    weft::cancellation_source stop;
    auto server = start_server(l, stop, root);
    std::vector<weft::join_handle<void>> clients;
    for (int i = 0; i < 3; ++i) clients.push_back(weft::spawn(client, addr, std::cref(root)));
    for (auto& c : clients) co_await c;
    stop.cancel();
    expect(co_await server == 3, "the server did not accept exactly three connections");
  });
  EXPECT_FALSE(failure) << failure->what;
}

TEST(HttpExampleSimulated, AMalformedRequestGets400AndTheConnectionCloses) {
  http_root root;
  auto failure = weft::simulate({.seeds = 20}, [&root](weft::runtime&) -> task<> {
    tcp_listener l = tcp_listener::bind({weft::net::ip_address::v4_loopback(), 0}).value();
    weft::cancellation_source stop;
    auto server = start_server(l, stop, root);
    tcp_stream c = (co_await tcp_stream::connect(l.local_address().value())).value();
    co_await send_text(c, "GET / HTTP/1.1\r\nContent-Length: -1\r\n\r\n");
    std::string pending;
    const response r = co_await read_response(c, pending, false);
    expect(r.status == 400, "a negative Content-Length gave " + r.head);
    std::array<std::byte, 16> rest{};
    expect((co_await c.read(rest)).value() == 0, "the connection stayed open after a 400");
    stop.cancel();
    (void)co_await server;
  });
  EXPECT_FALSE(failure) << failure->what;
}

// A GET with a body large enough that reading it moves the connection's
// buffer: the request's method and target viewed that buffer, so the
// method check read freed memory and answered 405 (found by an outside
// review; ASan reports the read in the sanitizer build). Now the head is
// parsed again after the body, and the answer is 200 with the file.
TEST(HttpExampleSimulated, AGetWithALargeBodyIsAnsweredAsAGet) {
  http_root root;
  auto failure = weft::simulate({.seeds = 10}, [&root](weft::runtime&) -> task<> {
    tcp_listener l = tcp_listener::bind({weft::net::ip_address::v4_loopback(), 0}).value();
    weft::cancellation_source stop;
    auto server = start_server(l, stop, root);
    tcp_stream c = (co_await tcp_stream::connect(l.local_address().value())).value();
    const std::string body(100'000, 'x');
    co_await send_text(c, "GET /index.html HTTP/1.1\r\nContent-Length: " +
                              std::to_string(body.size()) + "\r\n\r\n" + body);
    std::string pending;
    const response r = co_await read_response(c, pending, false);
    expect(r.status == 200 && r.body == "Hello, World!", "a GET with a 100 KB body gave " + r.head);
    c.close();
    stop.cancel();
    (void)co_await server;
  });
  EXPECT_FALSE(failure) << failure->what;
}

// The idle timeout runs on the runtime's clock, so on a simulation a silent
// connection is closed after 30 s of virtual time, exactly, with no real wait.
TEST(HttpExampleSimulated, AnIdleConnectionIsClosedAfterTheIdleTimeout) {
  http_root root;
  auto failure = weft::simulate({.seeds = 10}, [&root](weft::runtime&) -> task<> {
    tcp_listener l = tcp_listener::bind({weft::net::ip_address::v4_loopback(), 0}).value();
    weft::cancellation_source stop;
    auto server = start_server(l, stop, root);
    tcp_stream c = (co_await tcp_stream::connect(l.local_address().value())).value();
    const auto start = weft::now();
    std::array<std::byte, 16> buf{};
    const result<std::size_t> r = co_await c.read(buf);  // the server says nothing
    const auto waited = weft::now() - start;
    expect(r.has_value() && *r == 0, "the idle connection did not end cleanly");
    expect(waited >= http_example::idle_timeout && waited <= http_example::idle_timeout + 11s,
           "closed after " + std::to_string(waited / 1ms) + " ms of virtual time");
    stop.cancel();
    (void)co_await server;
  });
  EXPECT_FALSE(failure) << failure->what;
}

}  // namespace
