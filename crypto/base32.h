// RFC 4648 Base32 (the standard alphabet A-Z 2-7), as the apps print the ID export.
//
// Hand-written: Debian 12 has no C or C++ library with a simple Base32 call (OpenSSL and libsodium
// only have base64 and hex). Tested with the RFC 4648 section 10 vectors.
//
// Thread-safety: free functions without shared state.

#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"

namespace safe::crypto {

// Base32 with '=' padding to a multiple of 8 characters (none is needed for multiples of 5 bytes).
std::string Base32Encode(const uint8_t* data, size_t size);

// Decodes upper- or lower-case Base32, with or without '=' padding. InvalidArgument for any other
// character, a length no encoder produces, or non-zero bits in the last character's unused tail.
Result<std::vector<uint8_t>> Base32Decode(std::string_view text);

}  // namespace safe::crypto
