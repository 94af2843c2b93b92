// The channels' misuse reports (weft/channel/send_result.hpp).
#include <weft/channel/send_result.hpp>

#include <stdexcept>

namespace weft::detail {

void throw_channel_misuse(const char* what) { throw std::logic_error(what); }

}  // namespace weft::detail
