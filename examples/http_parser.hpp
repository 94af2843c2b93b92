// http_parser.hpp — the request-head parser of examples/http_server.cpp, in a
// header of its own so tests/fuzz/http_parser_fuzz.cpp can drive it.
//
//   std::optional<http_example::request> r = http_example::parse_head(head);
//   std::optional<std::string> path = http_example::decode_path(r->target);
//
// parse_head takes the head without its final CRLF CRLF; the views in the
// request point into that text.
#pragma once

#include <algorithm>
#include <cctype>
#include <cstddef>
#include <cstdlib>
#include <optional>
#include <string>
#include <string_view>

namespace http_example {

inline bool iequals(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return std::tolower(static_cast<unsigned char>(x)) ==
                  std::tolower(static_cast<unsigned char>(y));
         });
}

struct request {
  std::string_view method;
  std::string_view target;
  bool http11 = true;
  bool keep_alive = true;
  std::size_t content_length = 0;
  bool chunked = false;
};

// Parse the head (request line and headers, without the final CRLF CRLF).
inline std::optional<request> parse_head(std::string_view head) {
  request r;
  const std::size_t line_end = head.find("\r\n");
  std::string_view line = head.substr(0, line_end);
  const std::size_t s1 = line.find(' ');
  const std::size_t s2 = line.rfind(' ');
  if (s1 == std::string_view::npos || s2 == s1) return std::nullopt;
  r.method = line.substr(0, s1);
  r.target = line.substr(s1 + 1, s2 - s1 - 1);
  const std::string_view version = line.substr(s2 + 1);
  if (version == "HTTP/1.1") {
    r.http11 = true;
  } else if (version == "HTTP/1.0") {
    r.http11 = false;
    r.keep_alive = false;
  } else {
    return std::nullopt;
  }
  std::size_t pos = line_end == std::string_view::npos ? head.size() : line_end + 2;
  while (pos < head.size()) {
    std::size_t end = head.find("\r\n", pos);
    if (end == std::string_view::npos) end = head.size();
    const std::string_view field = head.substr(pos, end - pos);
    pos = end + 2;
    const std::size_t colon = field.find(':');
    if (colon == std::string_view::npos) return std::nullopt;
    const std::string_view name = field.substr(0, colon);
    std::string_view value = field.substr(colon + 1);
    while (!value.empty() && (value.front() == ' ' || value.front() == '\t')) value.remove_prefix(1);
    while (!value.empty() && (value.back() == ' ' || value.back() == '\t')) value.remove_suffix(1);
    if (iequals(name, "connection")) {
      if (iequals(value, "close")) r.keep_alive = false;
      if (iequals(value, "keep-alive")) r.keep_alive = true;
    } else if (iequals(name, "content-length")) {
      r.content_length = std::strtoull(std::string(value).c_str(), nullptr, 10);
    } else if (iequals(name, "transfer-encoding")) {
      r.chunked = true;
    }
  }
  return r;
}

// "/a%20b/?q" → "/a b/"; nullopt for a path that is not absolute, holds a
// NUL, a bad escape or a ".." segment.
inline std::optional<std::string> decode_path(std::string_view target) {
  target = target.substr(0, target.find_first_of("?#"));
  if (target.empty() || target.front() != '/') return std::nullopt;
  std::string out;
  for (std::size_t i = 0; i < target.size(); ++i) {
    char c = target[i];
    if (c == '%') {
      if (i + 2 >= target.size()) return std::nullopt;  // needs two hex digits
      const std::string hex(target.substr(i + 1, 2));
      char* end = nullptr;
      const long v = std::strtol(hex.c_str(), &end, 16);
      if (end != hex.c_str() + 2) return std::nullopt;
      c = static_cast<char>(v);
      i += 2;
    }
    if (c == '\0') return std::nullopt;
    out += c;
  }
  for (std::size_t pos = 0; (pos = out.find("..", pos)) != std::string::npos; pos += 2) {
    const bool starts = pos == 0 || out[pos - 1] == '/';
    const bool ends = pos + 2 == out.size() || out[pos + 2] == '/';
    if (starts && ends) return std::nullopt;
  }
  if (out.back() == '/') out += "index.html";
  return out;
}

}  // namespace http_example
