// A thread that writes bytes into a FIFO, for tests that read one: it opens
// the FIFO for writing (which waits for a reader), writes everything, and
// closes it, so the reader sees end of file. Destroying it never hangs on a
// reader that gave up or never came (see ~fifo_writer).
#pragma once

#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <unistd.h>

#include <cstddef>
#include <string>
#include <thread>
#include <utility>
#include <vector>

namespace weft_test {

/// Writes `data` into the FIFO at `path` from a thread, then closes it.
class fifo_writer {
 public:
  fifo_writer(std::string path, const std::vector<std::byte>& data)
      : path_(std::move(path)), thread_([this, &data] { run(data); }) {}
  fifo_writer(const fifo_writer&) = delete;
  fifo_writer& operator=(const fifo_writer&) = delete;
  /// If the reader never opened the FIFO, the writer still waits in open(2):
  /// a reader that drains it to the end lets the writer finish.
  ~fifo_writer() {
    const int fd = ::open(path_.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK);
    if (fd >= 0) {
      ::fcntl(fd, F_SETFL, 0);
      std::vector<char> sink(65536);
      while (::read(fd, sink.data(), sink.size()) > 0) {
      }
    }
    thread_.join();
    if (fd >= 0) ::close(fd);
  }

 private:
  void run(const std::vector<std::byte>& data) {
    // A reader that gives up makes write(2) fail with EPIPE, not kill us.
    sigset_t pipe_signal;
    sigemptyset(&pipe_signal);
    sigaddset(&pipe_signal, SIGPIPE);
    pthread_sigmask(SIG_BLOCK, &pipe_signal, nullptr);
    const int fd = ::open(path_.c_str(), O_WRONLY | O_CLOEXEC);  // waits for a reader
    if (fd < 0) return;
    std::size_t done = 0;
    while (done < data.size()) {
      const ssize_t n = ::write(fd, data.data() + done, data.size() - done);
      if (n <= 0) break;
      done += static_cast<std::size_t>(n);
    }
    ::close(fd);
  }

  std::string path_;
  std::thread thread_;
};

}  // namespace weft_test
