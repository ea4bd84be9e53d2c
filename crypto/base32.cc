#include "crypto/base32.h"

namespace safe::crypto {
namespace {

constexpr char kAlphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";

int DecodeChar(char c) {
  if (c >= 'A' && c <= 'Z') return c - 'A';
  if (c >= 'a' && c <= 'z') return c - 'a';
  if (c >= '2' && c <= '7') return c - '2' + 26;
  return -1;
}

}  // namespace

std::string Base32Encode(const uint8_t* data, size_t size) {
  std::string out;
  out.reserve((size + 4) / 5 * 8);
  uint32_t buffer = 0;  // holds fewer than 13 pending bits
  int bits = 0;
  for (size_t i = 0; i < size; ++i) {
    buffer = (buffer << 8) | data[i];
    bits += 8;
    while (bits >= 5) {
      out.push_back(kAlphabet[(buffer >> (bits - 5)) & 31]);
      bits -= 5;
    }
  }
  if (bits > 0) out.push_back(kAlphabet[(buffer << (5 - bits)) & 31]);
  while (out.size() % 8 != 0) out.push_back('=');
  return out;
}

Result<std::vector<uint8_t>> Base32Decode(std::string_view text) {
  while (!text.empty() && text.back() == '=') text.remove_suffix(1);
  // A group of 8 characters holds 5 bytes; a final partial group has 2, 4, 5 or 7 characters.
  const size_t rest = text.size() % 8;
  if (rest == 1 || rest == 3 || rest == 6) {
    return Status::InvalidArgument("not Base32: impossible length");
  }
  std::vector<uint8_t> out;
  out.reserve(text.size() * 5 / 8);
  uint32_t buffer = 0;
  int bits = 0;
  for (char c : text) {
    const int v = DecodeChar(c);
    if (v < 0) return Status::InvalidArgument("not Base32: a character outside A-Z and 2-7");
    buffer = (buffer << 5) | static_cast<uint32_t>(v);
    bits += 5;
    if (bits >= 8) {
      out.push_back(static_cast<uint8_t>(buffer >> (bits - 8)));
      bits -= 8;
    }
  }
  if ((buffer & ((1u << bits) - 1)) != 0) {
    return Status::InvalidArgument("not Base32: stray bits at the end");
  }
  return out;
}

}  // namespace safe::crypto
