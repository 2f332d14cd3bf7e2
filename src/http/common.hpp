// common.hpp — small text helpers shared by src/http (defined in common.cpp). Private.
#pragma once

#include <string>
#include <string_view>

namespace go::http::internal {

// An RFC 9110 token character (Go's validHeaderFieldByte).
bool is_token_char(char c) noexcept;

constexpr char ascii_lower(char c) noexcept { return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c; }

// ASCII case-insensitive equality (Go's strings.EqualFold for ASCII).
bool equal_fold(std::string_view a, std::string_view b) noexcept;

// True when the comma-separated list (a Connection header's value) holds token,
// compared case-insensitively (Go's httpguts.HeaderValuesContainsToken for one value).
bool has_token(std::string_view list, std::string_view token) noexcept;

// Decodes %XX escapes (and '+' as a space when plus_is_space) into out. Returns false
// for a malformed escape ('%' not followed by two hex digits); out is then unspecified.
bool percent_decode(std::string_view in, bool plus_is_space, std::string& out);

}  // namespace go::http::internal
