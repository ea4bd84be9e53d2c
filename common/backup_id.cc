#include "common/backup_id.h"

namespace safe {

namespace {
// Hand-written rather than sodium_hex2bin: libsodium's decoder accepts upper case and skips
// "ignore" characters, and the id must have exactly one spelling. Covered by backup_id_test.
int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  return -1;
}
}  // namespace

Result<BackupId> BackupId::Parse(std::string_view hex) {
  if (hex.size() != kHexLength) {
    return Status::InvalidArgument("a backup id is 64 lowercase hex characters");
  }
  Bytes bytes{};
  for (size_t i = 0; i < kBytes; ++i) {
    int hi = HexValue(hex[2 * i]);
    int lo = HexValue(hex[2 * i + 1]);
    if (hi < 0 || lo < 0) {
      return Status::InvalidArgument("a backup id is 64 lowercase hex characters");
    }
    bytes[i] = static_cast<uint8_t>(hi << 4 | lo);
  }
  return BackupId(bytes);
}

std::string BackupId::ToHex() const {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string out(kHexLength, '0');
  for (size_t i = 0; i < kBytes; ++i) {
    out[2 * i] = kDigits[bytes_[i] >> 4];
    out[2 * i + 1] = kDigits[bytes_[i] & 0xf];
  }
  return out;
}

}  // namespace safe
