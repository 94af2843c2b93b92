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

/// The largest Content-Length accepted: GET and HEAD carry no body, and the
/// server buffers one to skip it.
inline constexpr std::size_t max_content_length = 1 << 20;

/// A token (RFC 9110 tchar): a method or a field name.
inline bool is_token(std::string_view s) {
  if (s.empty()) return false;
  return std::all_of(s.begin(), s.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) ||
           std::string_view("!#$%&'*+-.^_`|~").find(c) != std::string_view::npos;
  });
}

inline std::string_view trim_ows(std::string_view v) {
  while (!v.empty() && (v.front() == ' ' || v.front() == '\t')) v.remove_prefix(1);
  while (!v.empty() && (v.back() == ' ' || v.back() == '\t')) v.remove_suffix(1);
  return v;
}

/// A Content-Length value: digits only, at most max_content_length.
inline std::optional<std::size_t> parse_content_length(std::string_view v) {
  if (v.empty()) return std::nullopt;
  std::size_t n = 0;
  for (const char c : v) {
    if (c < '0' || c > '9') return std::nullopt;
    n = n * 10 + static_cast<std::size_t>(c - '0');
    if (n > max_content_length) return std::nullopt;  // before it could overflow
  }
  return n;
}

/// Parse the head: the request line and the header lines, without the final
/// CRLF CRLF. nullopt (the server answers 400 and closes) for:
///  - a NUL, a bare CR or a bare LF anywhere (RFC 9112 §2.2: a lone CR or LF
///    read as a line end by one hop and not by another splits requests);
///  - a request line that is not method SP target SP version, with a token
///    method, a non-empty target of visible characters and HTTP/1.0 or 1.1;
///  - a header line without a colon, an empty one, or one whose name is not
///    a token (no space before the colon, no obsolete line folding);
///  - a Content-Length that is not digits only, exceeds max_content_length,
///    or differs from an earlier Content-Length.
/// keep_alive: false if any Connection line lists "close"; else true for
/// HTTP/1.1, and for HTTP/1.0 only with "keep-alive". chunked: a
/// Transfer-Encoding line is present (the server answers 501).
inline std::optional<request> parse_head(std::string_view head) {
  for (std::size_t i = 0; i < head.size(); ++i) {
    const char c = head[i];
    if (c == '\0') return std::nullopt;
    if (c == '\r' && (i + 1 == head.size() || head[i + 1] != '\n')) return std::nullopt;
    if (c == '\n' && (i == 0 || head[i - 1] != '\r')) return std::nullopt;
  }
  request r;
  const std::size_t line_end = head.find("\r\n");
  const std::string_view line = head.substr(0, line_end);
  const std::size_t s1 = line.find(' ');
  if (s1 == std::string_view::npos) return std::nullopt;
  const std::size_t s2 = line.find(' ', s1 + 1);
  if (s2 == std::string_view::npos || line.find(' ', s2 + 1) != std::string_view::npos) {
    return std::nullopt;
  }
  r.method = line.substr(0, s1);
  r.target = line.substr(s1 + 1, s2 - s1 - 1);
  if (!is_token(r.method) || r.target.empty()) return std::nullopt;
  for (const char c : r.target) {
    if (static_cast<unsigned char>(c) <= 0x20 || c == 0x7f) return std::nullopt;
  }
  const std::string_view version = line.substr(s2 + 1);
  if (version == "HTTP/1.1") {
    r.http11 = true;
  } else if (version == "HTTP/1.0") {
    r.http11 = false;
  } else {
    return std::nullopt;
  }
  bool close = false;
  bool keep_alive = false;
  bool have_length = false;
  std::size_t pos = line_end;  // npos, or the CRLF before the next line
  while (pos != std::string_view::npos) {
    pos += 2;
    const std::size_t end = head.find("\r\n", pos);
    const std::string_view field =
        head.substr(pos, end == std::string_view::npos ? std::string_view::npos : end - pos);
    pos = end;
    const std::size_t colon = field.find(':');
    if (colon == std::string_view::npos) return std::nullopt;
    const std::string_view name = field.substr(0, colon);
    const std::string_view value = trim_ows(field.substr(colon + 1));
    if (!is_token(name)) return std::nullopt;
    if (iequals(name, "connection")) {
      // A comma-separated list of options.
      for (std::string_view rest = value; !rest.empty();) {
        const std::size_t comma = rest.find(',');
        const std::string_view option = trim_ows(rest.substr(0, comma));
        if (iequals(option, "close")) close = true;
        if (iequals(option, "keep-alive")) keep_alive = true;
        rest = comma == std::string_view::npos ? std::string_view{} : rest.substr(comma + 1);
      }
    } else if (iequals(name, "content-length")) {
      const std::optional<std::size_t> n = parse_content_length(value);
      if (!n || (have_length && *n != r.content_length)) return std::nullopt;
      r.content_length = *n;
      have_length = true;
    } else if (iequals(name, "transfer-encoding")) {
      r.chunked = true;
    }
  }
  r.keep_alive = !close && (r.http11 || keep_alive);
  return r;
}

inline int hex_digit(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// "/a%20b/?q" → "/a b/"; nullopt for a path that is not absolute, holds a
// NUL, a bad escape (not '%' and two hex digits) or a ".." segment.
inline std::optional<std::string> decode_path(std::string_view target) {
  target = target.substr(0, target.find_first_of("?#"));
  if (target.empty() || target.front() != '/') return std::nullopt;
  std::string out;
  for (std::size_t i = 0; i < target.size(); ++i) {
    char c = target[i];
    if (c == '%') {
      if (i + 2 >= target.size()) return std::nullopt;  // needs two hex digits
      // Exactly two hex digits (strtol would also take a sign or a space).
      const int hi = hex_digit(target[i + 1]);
      const int lo = hex_digit(target[i + 2]);
      if (hi < 0 || lo < 0) return std::nullopt;
      c = static_cast<char>(hi * 16 + lo);
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
