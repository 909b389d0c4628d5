#include "common/capture_decoder.h"

#include <gtest/gtest.h>

#include <string>

#include "tests/ingest/test_helpers.h"

namespace connector {
namespace {

using testing::Base64;
using testing::Gzip;
using testing::UrlEncode;

constexpr int64_t kLimit = 1024 * 1024;
const std::string kJson = R"({"event":"$pageview","distinct_id":"u1"})";

CaptureError::Kind DecodeErrorKind(std::string_view body, const CaptureEncoding& encoding,
                                   int64_t limit = kLimit) {
  try {
    DecodeCaptureBody(body, encoding, limit);
  } catch (const CaptureError& error) {
    return error.kind();
  }
  ADD_FAILURE() << "no CaptureError for body of " << body.size() << " bytes";
  return CaptureError::Kind::kInvalid;
}

std::string DecodeErrorMessage(std::string_view body, const CaptureEncoding& encoding) {
  try {
    DecodeCaptureBody(body, encoding, kLimit);
  } catch (const CaptureError& error) {
    return error.what();
  }
  return "(no error)";
}

TEST(CaptureDecoder, PlainJsonPassesThrough) {
  EXPECT_EQ(DecodeCaptureBody(kJson, {"application/json", "", ""}, kLimit), kJson);
  EXPECT_EQ(DecodeCaptureBody("  [1]", {}, kLimit), "  [1]");
}

TEST(CaptureDecoder, GzipDetectedByMagicBytesAlone) {
  // posthog-js may send gzip as text/plain with no Content-Encoding.
  EXPECT_EQ(DecodeCaptureBody(Gzip(kJson), {"text/plain", "", ""}, kLimit), kJson);
  EXPECT_EQ(DecodeCaptureBody(Gzip(kJson), {"application/json", "gzip", ""}, kLimit), kJson);
  EXPECT_EQ(DecodeCaptureBody(Gzip(kJson), {"text/plain", "", "gzip-js"}, kLimit), kJson);
  // A form Content-Type does not hide gzip bytes.
  EXPECT_EQ(DecodeCaptureBody(Gzip(kJson), {"application/x-www-form-urlencoded", "", ""}, kLimit),
            kJson);
}

TEST(CaptureDecoder, ConcatenatedGzipMembers) {
  std::string body = Gzip("[1,") + Gzip("2]");
  EXPECT_EQ(DecodeCaptureBody(body, {}, kLimit), "[1,2]");
}

TEST(CaptureDecoder, GzipDeclaredWithoutMagicRejected) {
  EXPECT_EQ(DecodeErrorKind(kJson, {"application/json", "gzip", ""}), CaptureError::Kind::kInvalid);
  EXPECT_EQ(DecodeErrorKind(kJson, {"", "", "gzip-js"}), CaptureError::Kind::kInvalid);
  EXPECT_NE(DecodeErrorMessage(kJson, {"", "", "gzip-js"}).find("1f 8b"), std::string::npos);
}

TEST(CaptureDecoder, TruncatedGzipRejected) {
  std::string gzip = Gzip(kJson);
  EXPECT_EQ(DecodeErrorKind(gzip.substr(0, gzip.size() - 6), {}), CaptureError::Kind::kInvalid);
}

TEST(CaptureDecoder, CorruptGzipRejected) {
  std::string gzip = Gzip(kJson);
  gzip[12] = static_cast<char>(gzip[12] ^ 0x5A);
  gzip[13] = static_cast<char>(gzip[13] ^ 0x5A);
  EXPECT_EQ(DecodeErrorKind(gzip, {}), CaptureError::Kind::kInvalid);
}

TEST(CaptureDecoder, GzipTrailingGarbageRejected) {
  EXPECT_EQ(DecodeErrorKind(Gzip(kJson) + "xyz", {}), CaptureError::Kind::kInvalid);
}

TEST(CaptureDecoder, GzipBombCutOffAtLimit) {
  std::string bomb = Gzip(std::string(20 * 1024 * 1024, ' '));
  ASSERT_LT(bomb.size(), 100u * 1024);
  EXPECT_EQ(DecodeErrorKind(bomb, {}, kLimit), CaptureError::Kind::kTooLarge);
  // Base64-wrapped gzip is capped the same way.
  EXPECT_EQ(DecodeErrorKind(Base64(bomb), {"", "", "base64"}, kLimit),
            CaptureError::Kind::kTooLarge);
}

TEST(CaptureDecoder, ExactlyAtLimitAccepted) {
  std::string text = "[" + std::string(998, ' ') + "]";
  EXPECT_EQ(DecodeCaptureBody(Gzip(text), {}, 1000), text);
  EXPECT_EQ(DecodeErrorKind(Gzip(text + " "), {}, 1000), CaptureError::Kind::kTooLarge);
}

TEST(CaptureDecoder, Base64ByQueryAndByContent) {
  EXPECT_EQ(DecodeCaptureBody(Base64(kJson), {"", "", "base64"}, kLimit), kJson);
  // Without compression=, a body that is not '{' or '[' is tried as base64.
  EXPECT_EQ(DecodeCaptureBody(Base64(kJson), {"text/plain", "", ""}, kLimit), kJson);
  EXPECT_EQ(DecodeCaptureBody(Base64(Gzip(kJson)), {"", "", "base64"}, kLimit), kJson);
}

TEST(CaptureDecoder, Base64SpacesReadAsPlus) {
  // ">>>" encodes to "Pj4+", whose '+' becomes a space in an unescaped form.
  std::string text = "[\">>>\"]";
  std::string encoded = Base64(text);
  ASSERT_NE(encoded.find('+'), std::string::npos);
  std::string with_space = encoded;
  std::replace(with_space.begin(), with_space.end(), '+', ' ');
  EXPECT_EQ(DecodeCaptureBody(with_space, {"", "", "base64"}, kLimit), text);
}

// A JSON scalar is passed on as JSON, so the normalizer reports that it is
// not an object or array, instead of a base64 error.
TEST(CaptureDecoder, JsonScalarsPassThrough) {
  for (const char* body : {"5", "-1.5e3", "null", "true", "false", "\"text\"", " 12 "}) {
    EXPECT_EQ(DecodeCaptureBody(body, {}, kLimit), body) << body;
  }
  // Declared base64 still decodes as base64.
  EXPECT_EQ(DecodeErrorKind("5", {"", "", "base64"}), CaptureError::Kind::kInvalid);
}

TEST(CaptureDecoder, InvalidBase64Rejected) {
  EXPECT_EQ(DecodeErrorKind("not json!", {}), CaptureError::Kind::kInvalid);
  EXPECT_EQ(DecodeErrorKind("abc=def", {"", "", "base64"}), CaptureError::Kind::kInvalid);
}

TEST(CaptureDecoder, FormBodyDataField) {
  // posthog-js on page unload: data=<base64> with compression=base64 in the query.
  std::string form = "data=" + UrlEncode(Base64(kJson));
  EXPECT_EQ(DecodeCaptureBody(form, {"application/x-www-form-urlencoded", "", "base64"}, kLimit),
            kJson);
  // Plain JSON in the field, and the compression given in the form itself.
  EXPECT_EQ(DecodeCaptureBody("data=" + UrlEncode(kJson), {"application/x-www-form-urlencoded", "", ""},
                              kLimit),
            kJson);
  EXPECT_EQ(DecodeCaptureBody("compression=base64&data=" + UrlEncode(Base64(kJson)),
                              {"application/x-www-form-urlencoded", "", ""}, kLimit),
            kJson);
  // A form body detected by its "data=" prefix with a text/plain Content-Type.
  EXPECT_EQ(DecodeCaptureBody("data=" + UrlEncode(kJson), {"text/plain", "", ""}, kLimit), kJson);
}

TEST(CaptureDecoder, JsonWithFormContentType) {
  // curl -d '{...}' without -H sends application/x-www-form-urlencoded.
  EXPECT_EQ(DecodeCaptureBody(kJson, {"application/x-www-form-urlencoded", "", ""}, kLimit), kJson);
  EXPECT_EQ(DecodeCaptureBody(" [1]", {"application/x-www-form-urlencoded", "", ""}, kLimit), " [1]");
}

TEST(CaptureDecoder, FormWithoutDataRejected) {
  EXPECT_EQ(DecodeErrorKind("foo=bar", {"application/x-www-form-urlencoded", "", ""}),
            CaptureError::Kind::kInvalid);
  EXPECT_NE(DecodeErrorMessage("foo=bar", {"application/x-www-form-urlencoded", "", ""})
                .find("data="),
            std::string::npos);
}

// Vectors from lz-string 1.5.0's LZString.compressToBase64, made with
// tests/ingest/fixtures/make_lz64_vectors.js (npm install lz-string@1.5.0
// in a scratch directory, then node make_lz64_vectors.js).
struct Lz64Vector {
  std::string input;
  std::string lz64;
};

const Lz64Vector kLz64Vectors[] = {
    {R"({"event":"$pageview","distinct_id":"user-1","properties":{"$current_url":"https://example.com/"}})",
     "N4IgpgbmB2AuIC4QBIAOBDA5pAlmA7iADQgAmOAzrDtAMawD6OpiIArhWAE4C0AjMRCouAe1TdqYColDJabLlxiMFAG1YA"
     "LWLFQUEAen1gAHugC2qVWAB0tEWf0gAvk6A==="},
    {R"([{"event":"a","distinct_id":"d1","properties":{"token":"phc_x"}},{"event":"a","distinct_id":"d1","properties":{"token":"phc_x"}},{"event":"a","distinct_id":"d1","properties":{"token":"phc_x"}}])",
     "NobwRApgbhB2AuYBcYCGYA0YAmBLAzvLrAMbwD6u2yOAjJmAA4BOA9oxM0RPsuPKwDWcGowAWJcgA8wAX1kZw0OIhToseQsT"
     "KVqKbPSwt2nbryT8hIlOMkz5iyDAQ11OAkVIUqNAw2McXLg8fGACwrCiEtJysgC6QA=="},
    {"{\"event\":\"signed_up\",\"distinct_id\":\"\xC3\xA9l\xC3\xA8ve-\xE6\x97\xA5\xE6\x9C\xAC-"
     "\xF0\x9F\x98\x80\",\"properties\":{\"email\":\"z\xC3\xBCrich@example.com\"}}",
     "N4IgpgbmB2AuIC4QGcCWBzaYAmB9ArgA4gA0I2qysq0AxrLqtoiAJcA2AF1ALSCnpoBpzHoF4NwAB7pEIQBOAe0Jgp1MMkSg"
     "wAWwCGqdiwBeAH6mpaACwACYAB6b1hdmAB0tGepABfd0A==="},
    {std::string(121, 'a'), "IY18ZXTt/DHCA==="},
};

TEST(CaptureDecoder, Lz64MatchesLzStringVectors) {
  for (const Lz64Vector& vector : kLz64Vectors) {
    EXPECT_EQ(DecompressLz64(vector.lz64, kLimit), vector.input) << vector.lz64;
  }
  EXPECT_EQ(DecodeCaptureBody(kLz64Vectors[0].lz64, {"", "", "lz64"}, kLimit),
            kLz64Vectors[0].input);
  // posthog-js sends it as a form field.
  EXPECT_EQ(DecodeCaptureBody("data=" + UrlEncode(kLz64Vectors[0].lz64),
                              {"application/x-www-form-urlencoded", "", "lz64"}, kLimit),
            kLz64Vectors[0].input);
}

// 200000 'x' characters compressed by the same script: 892 characters.
const std::string kLz64Bomb =
    "B418ZXTt/DFOS1b0c17Pd/wYUcSaWeRZVdTbXfQ408y62+x519z73/wMFDhI0WPETJU6TNlz5CxUuUrVa9Rs1btO3Xv0HDR4"
    "ydNnzFy1es3bd+w8dPnL12/cfPX7z99//AYFBwSGhYeERkVHRMbFx8QmJSckpqWnpGZlZ2Tm5efkFhUXFJaVl5RWVVdU1tXX"
    "1DY1NzS2tbe0dnV3dPb19/QODQ8Mjo2PjE5NT0zOzc/MLi0vLK6tr6xubW9s7u3v7B4dHxyenZ+cXl1fXN7d39w+PT88vr2/"
    "vH59f3z+/f/8AwFA4Eg0Fg8EQyFQ6Ew2Fw+EIxFI5Eo1Fo9EYzFY7E43F4/EEwlE4kk0lk8kUylU6k02l0+kMxlM5ks1ls9k"
    "czlc7k83l8/kCwVC4Ui0Vi8USyVS6Uy2Vy+UKxVK5Uq1Vq9UazVa7U63V6/UGw1G40m01m80Wy1W602212+0Ox1O50u11u90"
    "ez1e70+31+/0BwNB4Mh0Nh8MRyNR6Mx2Nx+MJxNJ5Mp1Np9MZzNZ7M53N5/MFwtF4sl0tl8sVytV6s12t1+sNxtN5st1tt9s"
    "dztd7s93t9/sDwdD4cj0dj8cTydT6cz2dz+cLxdL5cr1dr9cbzdb7c73d7/cHw9H48n09n88Xy9X683293+8Px9P58v19v98"
    "fz9f78/39//8AYBQHASBoFgeBEGQVB0EwbBcHwQhiFIchKGoWh6EYZhWHYThuF4fhBGEURxEkaRZHkRRlFUdRNG0XR9EMYxT"
    "HMSxrFsexHGcVx3E8bxfH8QJglCcJImiWJ4kSZJUnSTJslyfJCmKUpykqapanqRpmladpOm6Xp+kGYZRnGSZplmeZFmWVZ1k"
    "2bZdn2Q5jlOc5LmuW57keZ5elAA=";

TEST(CaptureDecoder, Lz64BombCutOffAtLimit) {
  EXPECT_EQ(DecompressLz64(kLz64Bomb, kLimit), std::string(200000, 'x'));
  try {
    DecompressLz64(kLz64Bomb, 10000);
    ADD_FAILURE() << "no CaptureError over the limit";
  } catch (const CaptureError& error) {
    EXPECT_EQ(error.kind(), CaptureError::Kind::kTooLarge);
  }
  EXPECT_EQ(DecodeErrorKind(kLz64Bomb, {"", "", "lz64"}, 10000), CaptureError::Kind::kTooLarge);
}

TEST(CaptureDecoder, Lz64CorruptInputRejected) {
  EXPECT_EQ(DecodeErrorKind("N4Igpg!!", {"", "", "lz64"}), CaptureError::Kind::kInvalid);
  std::string truncated = kLz64Vectors[0].lz64.substr(0, 20);
  EXPECT_EQ(DecodeErrorKind(truncated, {"", "", "lz64"}), CaptureError::Kind::kInvalid);
}

TEST(CaptureDecoder, UnknownEncodingsRejectedByName) {
  EXPECT_NE(DecodeErrorMessage(kJson, {"", "", "brotli"}).find("compression=brotli"),
            std::string::npos);
  EXPECT_NE(DecodeErrorMessage(kJson, {"", "br", ""}).find("\"br\""), std::string::npos);
}

TEST(CaptureDecoder, InvalidUtf8Rejected) {
  EXPECT_EQ(DecodeErrorKind("{\"event\":\"\xC3\x28\"}", {}), CaptureError::Kind::kInvalid);
  EXPECT_EQ(DecodeErrorKind("{\"a\":\"\xED\xA0\x80\"}", {}), CaptureError::Kind::kInvalid);
}

TEST(CaptureDecoder, ByteOrderMarkRemoved) {
  EXPECT_EQ(DecodeCaptureBody("\xEF\xBB\xBF" + kJson, {}, kLimit), kJson);
}

}  // namespace
}  // namespace connector
