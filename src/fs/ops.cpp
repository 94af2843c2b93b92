// fs/ops — weft::fs's free functions: whole-file reads and writes (built on
// weft::fs::file) and the path operations (thin wrappers over fs/backend).
#include <weft/fs.hpp>

#include "fs/backend.hpp"

#include <fcntl.h>

#include <new>
#include <string>
#include <utility>

namespace weft::fs {

task<result<std::vector<std::byte>>> read_file(std::string path) {
  result<file> f = co_await file::open_read(std::move(path));
  if (!f) co_return f.error();
  co_return co_await f->read_to_end();
}

task<result<std::string>> read_to_string(std::string path) {
  result<std::vector<std::byte>> bytes = co_await read_file(std::move(path));
  if (!bytes) co_return bytes.error();
  try {
    co_return std::string(reinterpret_cast<const char*>(bytes->data()), bytes->size());
  } catch (const std::bad_alloc&) {
    co_return std::make_error_code(std::errc::not_enough_memory);
  }
}

task<result<void>> write_file(std::string path, std::span<const std::byte> bytes) {
  result<file> f = co_await file::create(std::move(path));
  if (!f) co_return f.error();
  co_return co_await f->write_all_at(bytes, 0);
}

task<result<void>> write_file(std::string path, std::string_view text) {
  return write_file(std::move(path), std::as_bytes(std::span(text.data(), text.size())));
}

task<result<void>> remove(std::string path) { return detail::unlink(std::move(path), 0); }

task<result<void>> remove_dir(std::string path) {
  return detail::unlink(std::move(path), AT_REMOVEDIR);
}

task<result<void>> rename(std::string from, std::string to) {
  return detail::rename(std::move(from), std::move(to));
}

task<result<void>> create_dir(std::string path, unsigned mode) {
  return detail::mkdir(std::move(path), mode);
}

task<result<file_status>> stat(std::string path) {
  return detail::stat(nullptr, std::move(path), 0);
}

task<result<file_status>> symlink_status(std::string path) {
  return detail::stat(nullptr, std::move(path), AT_SYMLINK_NOFOLLOW);
}

}  // namespace weft::fs
