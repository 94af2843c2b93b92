// bench/net/asio_echo.cpp — Boost.Asio echo server, built twice:
//   asio_echo_epoll  Asio's default reactor (epoll)
//   asio_echo_uring  BOOST_ASIO_HAS_IO_URING + BOOST_ASIO_DISABLE_EPOLL, so
//                    every socket operation goes through io_uring (liburing)
//
//   asio_echo_{epoll,uring} PORT [THREADS]
//
// Completion-handler style, Asio's leanest idiomatic form (a C++20
// asio::awaitable version of the same loop was tried here and was no faster:
// equal within noise at a fixed rate, behind in closed-loop runs). Per
// connection: one async_read_some, then async_write of what arrived, repeat.
// One io_context; THREADS threads run it.
#include "net_common.hpp"

#include <boost/asio.hpp>

#include <array>
#include <memory>
#include <thread>
#include <vector>

namespace asio = boost::asio;
using asio::ip::tcp;
using boost::system::error_code;

namespace {

class Session : public std::enable_shared_from_this<Session> {
 public:
  explicit Session(tcp::socket s) : socket_(std::move(s)) {}

  void read() {
    socket_.async_read_some(asio::buffer(buf_), [self = shared_from_this()](error_code ec, size_t n) {
      if (!ec) self->write(n);
    });
  }

 private:
  void write(size_t n) {
    asio::async_write(socket_, asio::buffer(buf_.data(), n), [self = shared_from_this()](error_code ec, size_t) {
      if (!ec) self->read();
    });
  }

  tcp::socket socket_;
  std::array<char, 64 * 1024> buf_;
};

void accept(tcp::acceptor& acceptor) {
  acceptor.async_accept([&acceptor](error_code ec, tcp::socket s) {
    if (!ec) {
      s.set_option(tcp::no_delay(true), ec);
      std::make_shared<Session>(std::move(s))->read();
    }
    accept(acceptor);
  });
}

}  // namespace

int main(int argc, char** argv) {
  auto args = netbench::parse_server_args(argc, argv);
  asio::io_context ctx(args.threads);
  tcp::acceptor acceptor(ctx, tcp::endpoint(asio::ip::address_v4::loopback(), uint16_t(args.port)));
  asio::signal_set signals(ctx, SIGINT, SIGTERM);
  signals.async_wait([&ctx](error_code, int) { ctx.stop(); });
  accept(acceptor);
  netbench::announce_listening(args.port);

  std::vector<std::thread> extra;
  for (int i = 1; i < args.threads; ++i) extra.emplace_back([&ctx] { ctx.run(); });
  ctx.run();
  for (auto& t : extra) t.join();
  return 0;
}
