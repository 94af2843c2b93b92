// weft/channel.hpp — every async channel of weft.
//
//   weft::mpsc       bounded (back-pressure) and unbounded multi-producer,
//                    single-consumer queues               weft/channel/mpsc.hpp
//   weft::oneshot    one value, one sender, one receiver  weft/channel/oneshot.hpp
//   weft::broadcast  every receiver sees every value, bounded history with lag
//                    reporting                            weft/channel/broadcast.hpp
//   weft::watch      the latest value, receivers wait for changes
//                                                         weft/channel/watch.hpp
//
// Failures are values: a send that cannot deliver returns weft::send_result<T>
// (or result<...>) with errc::channel_closed / errc::would_block and, where the
// value is not consumed, hands it back. Every awaitable documents completion,
// cancellation (by destroying the awaiting coroutine, e.g. weft::timeout),
// the thread it resumes on, shutdown and allocation in its header.
#pragma once

#include <weft/channel/broadcast.hpp>
#include <weft/channel/mpsc.hpp>
#include <weft/channel/oneshot.hpp>
#include <weft/channel/send_result.hpp>
#include <weft/channel/watch.hpp>
