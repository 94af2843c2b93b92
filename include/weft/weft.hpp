// weft/weft.hpp — everything in weft's hosted runtime.
#pragma once

#include <weft/block_on.hpp>
#include <weft/cancellation.hpp>
#include <weft/channel.hpp>
#include <weft/error.hpp>
#include <weft/fs.hpp>
#include <weft/join_handle.hpp>
#include <weft/main.hpp>
#include <weft/net/address.hpp>
#include <weft/net/resolve.hpp>
#include <weft/net/tcp.hpp>
#include <weft/net/udp.hpp>
#include <weft/net/unix.hpp>
#include <weft/park_hook.hpp>
#include <weft/result.hpp>
#include <weft/runtime.hpp>
#include <weft/signals.hpp>
#include <weft/sync.hpp>
#include <weft/task.hpp>
#include <weft/task_result_bundle.hpp>
#include <weft/time.hpp>
#include <weft/waker.hpp>
#include <weft/when_all.hpp>
#include <weft/when_any.hpp>
#include <weft/with_cancellation.hpp>
