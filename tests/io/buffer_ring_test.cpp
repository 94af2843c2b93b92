// buffer_ring on a plain io_uring (no runtime): receives with
// IOSQE_BUFFER_SELECT land in the ring's buffers, a dry ring fails a receive
// with -ENOBUFS, and buffers given back (on the owner thread, or from another
// thread and collected by the owner) are picked again.
#include "io/buffer_ring.hpp"

#include <gtest/gtest.h>

#include <liburing.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <string_view>
#include <system_error>
#include <thread>

namespace {

using weft::detail::buffer_ring;

constexpr std::uint16_t group = 7;

struct BufferRing : ::testing::Test {
  io_uring ring{};
  int sv[2] = {-1, -1};
  void SetUp() override {
    ASSERT_EQ(io_uring_queue_init(8, &ring, 0), 0);
    ASSERT_EQ(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
  }
  void TearDown() override {
    ::close(sv[0]);
    ::close(sv[1]);
    io_uring_queue_exit(&ring);
  }
  // One receive on sv[1] that lets the kernel pick the buffer; its CQE.
  io_uring_cqe receive() {
    io_uring_sqe* sqe = io_uring_get_sqe(&ring);
    io_uring_prep_recv(sqe, sv[1], nullptr, 0, 0);
    sqe->flags |= IOSQE_BUFFER_SELECT;
    sqe->buf_group = group;
    EXPECT_EQ(io_uring_submit(&ring), 1);
    io_uring_cqe* cqe = nullptr;
    __kernel_timespec ts{};
    ts.tv_sec = 30;  // deadline: a lost completion fails instead of hanging
    EXPECT_EQ(io_uring_wait_cqe_timeout(&ring, &cqe, &ts), 0);
    io_uring_cqe copy{};
    if (cqe != nullptr) {
      copy = *cqe;
      io_uring_cqe_seen(&ring, cqe);
    }
    return copy;
  }
  void send(std::string_view s) {
    ASSERT_EQ(::send(sv[0], s.data(), s.size(), 0), static_cast<ssize_t>(s.size()));
  }
};

// A ring registered for the test, detached (unregistered, and freed once no
// buffer is out) at the end of its scope.
struct registered {
  buffer_ring* br;
  registered(io_uring& ring, unsigned count, unsigned size)
      : br(new buffer_ring(ring, group, count, size)) {}
  ~registered() { br->detach(); }
  registered(const registered&) = delete;
  registered& operator=(const registered&) = delete;
  buffer_ring* operator->() const { return br; }
};

std::uint16_t buffer_id(const io_uring_cqe& c) {
  return static_cast<std::uint16_t>(c.flags >> IORING_CQE_BUFFER_SHIFT);
}

TEST_F(BufferRing, AReceiveLandsInARingBufferAndGivingItBackRefillsTheRing) {
  registered br(ring, 4, 64);
  EXPECT_EQ(br->in_ring(), 4u);
  send("hello");
  const io_uring_cqe c = receive();
  ASSERT_EQ(c.res, 5);
  ASSERT_NE(c.flags & IORING_CQE_F_BUFFER, 0u);
  const std::uint16_t id = buffer_id(c);
  ASSERT_LT(id, 4u);
  br->note_taken(id);
  EXPECT_EQ(br->in_ring(), 3u);
  EXPECT_EQ(std::memcmp(br->buffer(id).data(), "hello", 5), 0);
  br->give_back(id);
  EXPECT_EQ(br->in_ring(), 4u);
}

TEST_F(BufferRing, ADryRingFailsAReceiveWithENOBUFSUntilABufferComesBackFromAnotherThread) {
  registered br(ring, 1, 64);
  send("a");
  const io_uring_cqe first = receive();
  ASSERT_EQ(first.res, 1);
  const std::uint16_t id = buffer_id(first);
  br->note_taken(id);
  send("b");
  const io_uring_cqe dry = receive();
  EXPECT_EQ(dry.res, -ENOBUFS);  // the data stays in the socket
  EXPECT_FALSE(br->collect_returns());
  std::thread other([&] { br->give_back_remote(id); });
  other.join();
  EXPECT_TRUE(br->collect_returns());
  EXPECT_EQ(br->in_ring(), 1u);
  const io_uring_cqe again = receive();
  ASSERT_EQ(again.res, 1);
  EXPECT_EQ(static_cast<char>(br->buffer(buffer_id(again))[0]), 'b');
}

TEST_F(BufferRing, ACountThatIsNotAPowerOfTwoIsRefused) {
  try {
    registered br(ring, 3, 64);
    ADD_FAILURE() << "a count of 3 was accepted";
  } catch (const std::system_error& e) {
    EXPECT_EQ(e.code(), std::errc::invalid_argument);
    EXPECT_NE(std::string(e.what()).find("power of two"), std::string::npos) << e.what();
  }
}

}  // namespace
