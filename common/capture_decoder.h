#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "common/capture_error.h"

namespace connector {

// The request headers and query parameters that describe how a body is
// encoded. Every field may be empty.
struct CaptureEncoding {
  std::string content_type;      // Content-Type header
  std::string content_encoding;  // Content-Encoding header ("gzip" or empty)
  std::string compression;       // `compression` query parameter: gzip-js, gzip, base64, lz64
};

// Turns a capture request body into JSON text, the way PostHog's capture
// endpoint reads what posthog-js, posthog-node and the other SDKs send:
//   - A form body (Content-Type application/x-www-form-urlencoded, or a body
//     starting with "data=") is replaced by its `data` field. A `compression`
//     field in the form applies when the query has none. A body starting
//     with '{' or '[' is JSON whatever its Content-Type.
//   - gzip is detected by its magic bytes 1f 8b whatever the headers claim.
//     Content-Encoding: gzip or compression=gzip-js on a body without the
//     magic bytes is an error.
//   - compression=lz64 is LZ-string's compressToBase64 form (older posthog-js).
//   - compression=base64, or no compression and a body that does not start
//     with '{' or '[', is base64 (and may contain gzip).
// Spaces in base64 and lz64 text are read as '+', because a '+' sent
// unescaped in a form body arrives as a space.
//
// Throws CaptureError kTooLarge when the decoded text would pass
// `max_decompressed_bytes` (decompression stops there, so a gzip or lz64
// bomb costs at most that much memory), and kInvalid for anything that cannot
// be decoded or is not valid UTF-8. Thread-safe: no shared state.
std::string DecodeCaptureBody(std::string_view body, const CaptureEncoding& encoding,
                              int64_t max_decompressed_bytes);

// The building blocks of DecodeCaptureBody, public for tests and tools. Each
// throws CaptureError as described above.

// Inflates one or more concatenated gzip members.
std::string GunzipCapped(std::string_view data, int64_t max_output_bytes);

// Decodes standard base64 (padding optional; whitespace ignored).
std::string DecodeBase64(std::string_view text);

// Decompresses LZ-string's compressToBase64 output into UTF-8.
std::string DecompressLz64(std::string_view text, int64_t max_output_bytes);

// Returns true when `data` starts with the gzip magic bytes 1f 8b.
bool LooksLikeGzip(std::string_view data);

}  // namespace connector
