// QR codes of the ID export, for the terminal and for printing (libqrencode, libpng).
//
// The code holds the export text exactly (the apps scan that string). Error correction level M,
// 8-bit mode, a quiet zone of 4 modules.
//
// Thread-safety: free functions; no shared state.

#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "common/status.h"

namespace safe::client {

// The code drawn with Unicode half blocks, two rows of modules per line, for a terminal with a
// dark background (light modules are drawn, dark ones left blank), as `qrencode -t UTF8` does.
Result<std::string> QrForTerminal(const std::string& text);

// The code as a PNG (8-bit grey, 8 pixels per module, black on white).
Result<std::vector<uint8_t>> QrPng(const std::string& text);

}  // namespace safe::client
