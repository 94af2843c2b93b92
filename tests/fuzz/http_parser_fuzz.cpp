// Fuzz target: the HTTP example's request parser (examples/http_parser.hpp).
//
// The input is a request head as examples/http_server.cpp hands it to
// parse_head (the bytes before the first CRLF CRLF), in a buffer of exactly
// its size. The target checks parse_head against a reference written from
// the rules the parser documents (RFC 9112 as the example applies it):
//  - a head with a NUL, a bare CR or a bare LF is refused;
//  - the request line is method SP target SP version: a token, a target of
//    visible characters, "HTTP/1.1" or "HTTP/1.0"; a parsed method and target
//    are the substrings of the input at those places;
//  - every other line is "name: value" with a token name (no space before
//    the colon); an empty line or a line without a colon is refused;
//  - Content-Length is digits only, at most max_content_length, and every
//    Content-Length line says the same; anything else is refused (a body
//    length read leniently is how a request smuggles another);
//  - keep-alive: "close" in any Connection line ends the connection; else
//    HTTP/1.1 keeps it, HTTP/1.0 keeps it only with "keep-alive";
//  - chunked is true when a Transfer-Encoding line is present.
// Then decode_path on the parsed target: a path it returns is absolute, has
// no NUL and no ".." segment, and equals the reference decoding (an escape is
// '%' and exactly two hex digits).
#include "http_parser.hpp"

#include "fuzz_check.hpp"

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace {

using http_example::request;

/// The largest Content-Length the rules accept (GET and HEAD carry no body).
constexpr std::uint64_t max_content_length = 1 << 20;
static_assert(max_content_length == http_example::max_content_length);

bool is_tchar(char c) {
  if ((c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')) return true;
  return std::string_view("!#$%&'*+-.^_`|~").find(c) != std::string_view::npos;
}
bool is_token(std::string_view s) {
  if (s.empty()) return false;
  for (const char c : s) {
    if (!is_tchar(c)) return false;
  }
  return true;
}
char lower(char c) { return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c; }
bool same_word(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    if (lower(a[i]) != lower(b[i])) return false;
  }
  return true;
}
std::string_view trim_ows(std::string_view v) {
  while (!v.empty() && (v.front() == ' ' || v.front() == '\t')) v.remove_prefix(1);
  while (!v.empty() && (v.back() == ' ' || v.back() == '\t')) v.remove_suffix(1);
  return v;
}

/// The reference: what parse_head must return for `head`.
std::optional<request> reference(std::string_view head) {
  for (std::size_t i = 0; i < head.size(); ++i) {
    if (head[i] == '\0') return std::nullopt;
    if (head[i] == '\r' && (i + 1 == head.size() || head[i + 1] != '\n')) return std::nullopt;
    if (head[i] == '\n' && (i == 0 || head[i - 1] != '\r')) return std::nullopt;
  }
  std::vector<std::string_view> lines;
  for (std::size_t pos = 0;;) {
    const std::size_t end = head.find("\r\n", pos);
    lines.push_back(head.substr(pos, end == std::string_view::npos ? end : end - pos));
    if (end == std::string_view::npos) break;
    pos = end + 2;
  }
  request r;
  const std::string_view line = lines[0];
  const std::size_t s1 = line.find(' ');
  if (s1 == std::string_view::npos) return std::nullopt;
  const std::size_t s2 = line.find(' ', s1 + 1);
  if (s2 == std::string_view::npos || line.find(' ', s2 + 1) != std::string_view::npos) {
    return std::nullopt;
  }
  r.method = line.substr(0, s1);
  r.target = line.substr(s1 + 1, s2 - s1 - 1);
  const std::string_view version = line.substr(s2 + 1);
  if (!is_token(r.method) || r.target.empty()) return std::nullopt;
  for (const char c : r.target) {
    if (static_cast<unsigned char>(c) <= 0x20 || c == 0x7f) return std::nullopt;
  }
  if (version == "HTTP/1.1") {
    r.http11 = true;
  } else if (version == "HTTP/1.0") {
    r.http11 = false;
  } else {
    return std::nullopt;
  }
  bool close = false;
  bool keep = false;
  std::optional<std::size_t> length;
  for (std::size_t i = 1; i < lines.size(); ++i) {
    const std::size_t colon = lines[i].find(':');
    if (colon == std::string_view::npos) return std::nullopt;
    const std::string_view name = lines[i].substr(0, colon);
    const std::string_view value = trim_ows(lines[i].substr(colon + 1));
    if (!is_token(name)) return std::nullopt;
    if (same_word(name, "connection")) {
      std::string_view rest = value;
      while (!rest.empty()) {
        const std::size_t comma = rest.find(',');
        const std::string_view option = trim_ows(rest.substr(0, comma));
        if (same_word(option, "close")) close = true;
        if (same_word(option, "keep-alive")) keep = true;
        rest = comma == std::string_view::npos ? std::string_view{} : rest.substr(comma + 1);
      }
    } else if (same_word(name, "content-length")) {
      if (value.empty() || value.size() > 20) return std::nullopt;
      std::uint64_t n = 0;
      for (const char c : value) {
        if (c < '0' || c > '9') return std::nullopt;
        n = n * 10 + static_cast<std::uint64_t>(c - '0');  // <= 20 digits: checked below
        if (n > max_content_length) return std::nullopt;
      }
      if (length && *length != n) return std::nullopt;
      length = static_cast<std::size_t>(n);
    } else if (same_word(name, "transfer-encoding")) {
      r.chunked = true;
    }
  }
  r.content_length = length.value_or(0);
  r.keep_alive = !close && (r.http11 || keep);
  return r;
}

/// The reference decoding of a target's path: nullopt where decode_path must refuse.
std::optional<std::string> reference_path(std::string_view target) {
  target = target.substr(0, target.find_first_of("?#"));
  if (target.empty() || target.front() != '/') return std::nullopt;
  auto hex = [](char c) -> int {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
  };
  std::string out;
  for (std::size_t i = 0; i < target.size(); ++i) {
    char c = target[i];
    if (c == '%') {
      if (i + 2 >= target.size()) return std::nullopt;  // needs two hex digits
      const int hi = hex(target[i + 1]);
      const int lo = hex(target[i + 2]);
      if (hi < 0 || lo < 0) return std::nullopt;
      c = static_cast<char>(hi * 16 + lo);
      i += 2;
    }
    if (c == '\0') return std::nullopt;
    out += c;
  }
  std::size_t start = 0;
  for (;;) {
    const std::size_t slash = out.find('/', start);
    if (out.substr(start, slash == std::string::npos ? slash : slash - start) == "..") {
      return std::nullopt;
    }
    if (slash == std::string::npos) break;
    start = slash + 1;
  }
  if (out.back() == '/') out += "index.html";
  return out;
}

bool inside(std::string_view part, std::string_view whole) {
  return part.data() >= whole.data() && part.data() + part.size() <= whole.data() + whole.size();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view head(reinterpret_cast<const char*>(data), size);
  const std::optional<request> got = http_example::parse_head(head);
  const std::optional<request> want = reference(head);
  WEFT_FUZZ_CHECK(got.has_value() == want.has_value(), "parse_head %s a head the rules %s",
                  got ? "accepted" : "refused", want ? "accept" : "refuse");
  if (!got) return 0;
  WEFT_FUZZ_CHECK(inside(got->method, head) && inside(got->target, head),
                  "method/target are not views of the input");
  WEFT_FUZZ_CHECK(got->method == want->method && got->target == want->target,
                  "method or target differ from the request line's");
  WEFT_FUZZ_CHECK(got->method.data() == head.data() &&
                      got->target.data() == head.data() + got->method.size() + 1,
                  "method/target not at their places in the request line");
  WEFT_FUZZ_CHECK(got->http11 == want->http11, "version");
  WEFT_FUZZ_CHECK(got->keep_alive == want->keep_alive, "keep-alive decision: got %d", got->keep_alive);
  WEFT_FUZZ_CHECK(got->content_length == want->content_length, "Content-Length: got %zu want %zu",
                  got->content_length, want->content_length);
  WEFT_FUZZ_CHECK(got->chunked == want->chunked, "Transfer-Encoding");

  const std::optional<std::string> path = http_example::decode_path(got->target);
  const std::optional<std::string> want_path = reference_path(got->target);
  WEFT_FUZZ_CHECK(path.has_value() == want_path.has_value(), "decode_path %s a target the rules %s",
                  path ? "accepted" : "refused", want_path ? "accept" : "refuse");
  if (path) {
    WEFT_FUZZ_CHECK(*path == *want_path, "decoded path differs");
    WEFT_FUZZ_CHECK(path->front() == '/' && path->find('\0') == std::string::npos,
                    "decoded path not absolute or holds a NUL");
  }
  return 0;
}
