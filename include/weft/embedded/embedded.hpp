// weft/embedded/embedded.hpp — everything of the freestanding executor except
// the platforms (include exactly one of platform_cortex_m.hpp or
// platform_host.hpp yourself). Nothing here includes the hosted runtime.
#pragma once

#include <weft/embedded/channel.hpp>
#include <weft/embedded/event.hpp>
#include <weft/embedded/executor.hpp>
#include <weft/embedded/frame_pool.hpp>
#include <weft/embedded/platform.hpp>
#include <weft/embedded/select.hpp>
#include <weft/embedded/task.hpp>
#include <weft/embedded/timer.hpp>
#include <weft/embedded/waker_list.hpp>
