#include "safe-client/qr.h"

#include <png.h>
#include <qrencode.h>

#include <memory>

namespace safe::client {
namespace {

constexpr int kQuietZone = 4;
constexpr int kPixelsPerModule = 8;

struct QrDeleter {
  void operator()(QRcode* q) const { QRcode_free(q); }
};
using Qr = std::unique_ptr<QRcode, QrDeleter>;

Result<Qr> Encode(const std::string& text) {
  Qr qr(QRcode_encodeString(text.c_str(), 0, QR_ECLEVEL_M, QR_MODE_8, 1));
  if (!qr) return Status::IOError("libqrencode could not encode the text");
  return qr;
}

// Dark module at (x, y), counting the quiet zone (always light).
bool Dark(const QRcode& qr, int x, int y) {
  x -= kQuietZone;
  y -= kQuietZone;
  if (x < 0 || y < 0 || x >= qr.width || y >= qr.width) return false;
  return (qr.data[y * qr.width + x] & 1) != 0;
}

void AppendToVector(png_structp png, png_bytep data, png_size_t size) {
  auto* out = static_cast<std::vector<uint8_t>*>(png_get_io_ptr(png));
  out->insert(out->end(), data, data + size);
}

}  // namespace

Result<std::string> QrForTerminal(const std::string& text) {
  Result<Qr> qr = Encode(text);
  if (!qr.ok()) return qr.status();
  const int size = (*qr)->width + 2 * kQuietZone;
  std::string out;
  for (int y = 0; y < size; y += 2) {
    for (int x = 0; x < size; ++x) {
      const bool top_light = !Dark(**qr, x, y);
      const bool bottom_light = y + 1 < size ? !Dark(**qr, x, y + 1) : false;
      if (top_light && bottom_light) {
        out += "\u2588";  // full block
      } else if (top_light) {
        out += "\u2580";  // upper half block
      } else if (bottom_light) {
        out += "\u2584";  // lower half block
      } else {
        out += ' ';
      }
    }
    out += '\n';
  }
  return out;
}

Result<std::vector<uint8_t>> QrPng(const std::string& text) {
  Result<Qr> qr = Encode(text);
  if (!qr.ok()) return qr.status();
  const int modules = (*qr)->width + 2 * kQuietZone;
  const int pixels = modules * kPixelsPerModule;

  std::vector<uint8_t> out;
  png_structp png = png_create_write_struct(PNG_LIBPNG_VER_STRING, nullptr, nullptr, nullptr);
  if (png == nullptr) return Status::IOError("libpng: cannot create a writer");
  png_infop info = png_create_info_struct(png);
  if (info == nullptr) {
    png_destroy_write_struct(&png, nullptr);
    return Status::IOError("libpng: cannot create a writer");
  }
  std::vector<uint8_t> row(pixels);
  // libpng reports errors by longjmp; nothing with a destructor is created between here and the
  // end.
  if (setjmp(png_jmpbuf(png))) {
    png_destroy_write_struct(&png, &info);
    return Status::IOError("libpng failed to write the QR code");
  }
  png_set_write_fn(png, &out, AppendToVector, nullptr);
  png_set_IHDR(png, info, pixels, pixels, 8, PNG_COLOR_TYPE_GRAY, PNG_INTERLACE_NONE,
               PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
  png_write_info(png, info);
  for (int y = 0; y < pixels; ++y) {
    for (int x = 0; x < pixels; ++x) {
      row[x] = Dark(**qr, x / kPixelsPerModule, y / kPixelsPerModule) ? 0 : 255;
    }
    png_write_row(png, row.data());
  }
  png_write_end(png, nullptr);
  png_destroy_write_struct(&png, &info);
  return out;
}

}  // namespace safe::client
