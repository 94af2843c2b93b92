// uring_prep — what the files of the io_uring driver share about one op: the
// SQE that describes it, and the owner's circular lists of ops in flight
// (uring_driver.hpp). Owner thread of the ring only.
#pragma once

#include <weft/detail/io_op.hpp>

#include <liburing.h>

namespace weft::detail {

/// Fill `sqe` for `op` (not its user_data).
void uring_prep(io_uring_sqe* sqe, io_op& op);
/// Link `l` at the tail of the circular list `list` (a sentinel).
void uring_flight_push(io_flight_link& list, io_flight_link& l) noexcept;
/// Unlink `l` from whichever circular list holds it.
void uring_flight_unlink(io_flight_link& l) noexcept;

}  // namespace weft::detail
