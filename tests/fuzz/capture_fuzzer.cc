// libFuzzer target: a capture request body through DecodeCaptureBody and
// EventNormalizer, as ingest handles it. Any crash, sanitizer report or
// exception other than CaptureError is a bug, and so is a stored payload that
// does not parse again.
//
// The first input byte selects the encoding headers and the route, so one
// corpus covers gzip, base64, lz64, form bodies, plain JSON and the webhook
// shape. The rest is the body.

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <exception>
#include <string>
#include <string_view>

#include "common/capture_decoder.h"
#include "common/capture_error.h"
#include "common/event_normalizer.h"
#include "common/json_parser.h"

namespace {

// Small limits keep each run fast and make the size checks reachable.
constexpr int64_t kMaxDecompressedBytes = 1 << 20;
constexpr int kMaxEvents = 100;
// Deeper than any body the normaliser accepts, so a payload cut from one fits.
constexpr size_t kMaxPayloadDepth = 128;

connector::CaptureEncoding EncodingFor(uint8_t selector) {
  static const char* const kContentTypes[] = {"application/json", "text/plain",
                                              "application/x-www-form-urlencoded", ""};
  // Index 6 is a value ingest does not know, which must be rejected.
  static const char* const kCompressions[] = {"",     "gzip-js", "gzip", "base64",
                                              "lz64", "",        "zstd", ""};
  connector::CaptureEncoding encoding;
  encoding.content_type = kContentTypes[selector & 3];
  encoding.compression = kCompressions[(selector >> 2) & 7];
  if (selector & 0x40) encoding.content_encoding = "gzip";
  return encoding;
}

// Uuids come from a counter, so a crash reproduces from its input alone.
std::string CountingUuid(int64_t) {
  static uint64_t counter = 0;
  char text[40];
  std::snprintf(text, sizeof(text), "00000000-0000-7000-8000-%012llx",
                static_cast<unsigned long long>(++counter & 0xffffffffffffULL));
  return text;
}

// The worker parses every stored payload again, so a payload must be JSON
// whose numbers all fit a double: not "inf", "nan" or a number beyond 1.8e308.
void CheckPayloadParses(const std::string& payload) {
  try {
    connector::ParseJsonExactNumbers(payload, kMaxPayloadDepth);
  } catch (const std::exception&) {
    __builtin_trap();
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  uint8_t selector = data[0];
  std::string_view body(reinterpret_cast<const char*>(data + 1), size - 1);

  std::string json;
  try {
    json = connector::DecodeCaptureBody(body, EncodingFor(selector), kMaxDecompressedBytes);
  } catch (const connector::CaptureError&) {
    return 0;
  }
  if (static_cast<int64_t>(json.size()) > kMaxDecompressedBytes) __builtin_trap();

  static const connector::EventNormalizer normalizer(CountingUuid);
  connector::CaptureContext context;
  context.received_at_ms = 1'767'225'600'000;  // 2026-01-01T00:00:00Z
  context.fallback_token = "phc_fuzz";
  context.max_events = kMaxEvents;
  try {
    if (selector & 0x80) {
      CheckPayloadParses(normalizer.ParseWebhook(json, context).payload);
    } else {
      auto events = normalizer.ParseCapture(json, context);
      if (events.empty() || static_cast<int>(events.size()) > kMaxEvents) __builtin_trap();
      for (const connector::QueuedEvent& event : events) CheckPayloadParses(event.payload);
      connector::CheckProjectTokens(events, {"phc_fuzz"}, "send a token");
    }
  } catch (const connector::CaptureError&) {
  }
  return 0;
}
