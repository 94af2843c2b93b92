// weft/weft.hpp — everything in weft's hosted runtime.
#pragma once

#include <weft/block_on.hpp>
#include <weft/error.hpp>
#include <weft/join_handle.hpp>
#include <weft/main.hpp>
#include <weft/result.hpp>
#include <weft/runtime.hpp>
#include <weft/task.hpp>
#include <weft/time.hpp>
#include <weft/waker.hpp>
