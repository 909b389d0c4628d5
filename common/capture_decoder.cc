#include "common/capture_decoder.h"

#include <Poco/Exception.h>
#include <Poco/URI.h>
#include <zlib.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <optional>
#include <vector>

namespace connector {
namespace {

CaptureError Invalid(const std::string& message) {
  return CaptureError(CaptureError::Kind::kInvalid, message);
}

CaptureError TooLarge(int64_t limit) {
  return CaptureError(CaptureError::Kind::kTooLarge,
                      "decoded body is larger than max_decompressed_bytes=" +
                          std::to_string(limit) + "; send fewer events per request");
}

std::string Lower(std::string_view text) {
  std::string result(text);
  std::transform(result.begin(), result.end(), result.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return result;
}

std::string_view TrimSpace(std::string_view text) {
  while (!text.empty() && std::isspace(static_cast<unsigned char>(text.front()))) {
    text.remove_prefix(1);
  }
  while (!text.empty() && std::isspace(static_cast<unsigned char>(text.back()))) {
    text.remove_suffix(1);
  }
  return text;
}

// Returns the media type of a Content-Type header without its parameters.
std::string MediaType(std::string_view content_type) {
  std::string_view type = content_type.substr(0, content_type.find(';'));
  return Lower(TrimSpace(type));
}

std::string ReplaceSpacesWithPlus(std::string_view text) {
  std::string result(text);
  std::replace(result.begin(), result.end(), ' ', '+');
  return result;
}

// Returns the percent-decoded value of `name` in a form body, or nullopt.
std::optional<std::string> FormField(std::string_view form, std::string_view name) {
  size_t start = 0;
  while (start <= form.size()) {
    size_t end = form.find('&', start);
    if (end == std::string_view::npos) end = form.size();
    std::string_view pair = form.substr(start, end - start);
    size_t equals = pair.find('=');
    std::string_view key = pair.substr(0, equals);
    if (key == name) {
      std::string value;
      if (equals != std::string_view::npos) {
        try {
          Poco::URI::decode(std::string(pair.substr(equals + 1)), value, true);
        } catch (const Poco::Exception&) {
          throw Invalid("form field " + std::string(name) +
                        " has an invalid percent-escape; URL-encode the value");
        }
      }
      return value;
    }
    start = end + 1;
  }
  return std::nullopt;
}

// Checks UTF-8 well-formedness (no overlongs, no surrogates, at most U+10FFFF).
bool IsValidUtf8(std::string_view text) {
  size_t i = 0;
  while (i < text.size()) {
    auto byte = static_cast<unsigned char>(text[i]);
    if (byte < 0x80) {
      ++i;
      continue;
    }
    int length;
    uint32_t code_point;
    if ((byte & 0xE0) == 0xC0) {
      length = 2;
      code_point = byte & 0x1F;
    } else if ((byte & 0xF0) == 0xE0) {
      length = 3;
      code_point = byte & 0x0F;
    } else if ((byte & 0xF8) == 0xF0) {
      length = 4;
      code_point = byte & 0x07;
    } else {
      return false;
    }
    if (i + static_cast<size_t>(length) > text.size()) return false;
    for (int k = 1; k < length; ++k) {
      auto next = static_cast<unsigned char>(text[i + static_cast<size_t>(k)]);
      if ((next & 0xC0) != 0x80) return false;
      code_point = (code_point << 6) | (next & 0x3F);
    }
    static constexpr std::array<uint32_t, 5> kMinimum{0, 0, 0x80, 0x800, 0x10000};
    if (code_point < kMinimum[static_cast<size_t>(length)]) return false;
    if (code_point > 0x10FFFF || (code_point >= 0xD800 && code_point <= 0xDFFF)) return false;
    i += static_cast<size_t>(length);
  }
  return true;
}

void AppendUtf8(uint32_t code_point, std::string& out) {
  if (code_point < 0x80) {
    out.push_back(static_cast<char>(code_point));
  } else if (code_point < 0x800) {
    out.push_back(static_cast<char>(0xC0 | (code_point >> 6)));
    out.push_back(static_cast<char>(0x80 | (code_point & 0x3F)));
  } else if (code_point < 0x10000) {
    out.push_back(static_cast<char>(0xE0 | (code_point >> 12)));
    out.push_back(static_cast<char>(0x80 | ((code_point >> 6) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | (code_point & 0x3F)));
  } else {
    out.push_back(static_cast<char>(0xF0 | (code_point >> 18)));
    out.push_back(static_cast<char>(0x80 | ((code_point >> 12) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | ((code_point >> 6) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | (code_point & 0x3F)));
  }
}

// Converts UTF-16 code units to UTF-8; an unpaired surrogate becomes U+FFFD.
std::string Utf16ToUtf8(const std::u16string& units) {
  std::string out;
  out.reserve(units.size());
  for (size_t i = 0; i < units.size(); ++i) {
    uint32_t unit = units[i];
    if (unit >= 0xD800 && unit <= 0xDBFF && i + 1 < units.size() && units[i + 1] >= 0xDC00 &&
        units[i + 1] <= 0xDFFF) {
      uint32_t low = units[++i];
      AppendUtf8(0x10000 + ((unit - 0xD800) << 10) + (low - 0xDC00), out);
    } else if (unit >= 0xD800 && unit <= 0xDFFF) {
      AppendUtf8(0xFFFD, out);
    } else {
      AppendUtf8(unit, out);
    }
  }
  return out;
}

// Reads LZ-string's bit stream from base64 text: each character carries six
// bits, most significant first.
class Lz64BitReader {
 public:
  explicit Lz64BitReader(std::string_view text) : text_(text) { value_ = CharValue(0); }

  // Reads `count` bits, least significant first, as LZ-string writes them.
  uint32_t Read(int count) {
    uint32_t bits = 0;
    for (int power = 0; power < count; ++power) {
      if ((value_ & position_) != 0) bits |= uint32_t{1} << power;
      position_ >>= 1;
      if (position_ == 0) {
        position_ = 32;
        value_ = CharValue(index_++);
      }
    }
    return bits;
  }

  // LZ-string stops with an empty result once it has read past the input.
  bool PastEnd() const { return index_ > text_.size(); }

 private:
  uint32_t CharValue(size_t index) const {
    if (index >= text_.size()) return 0;  // JavaScript's NaN & mask is 0
    char c = text_[index];
    if (c >= 'A' && c <= 'Z') return static_cast<uint32_t>(c - 'A');
    if (c >= 'a' && c <= 'z') return static_cast<uint32_t>(c - 'a' + 26);
    if (c >= '0' && c <= '9') return static_cast<uint32_t>(c - '0' + 52);
    if (c == '+') return 62;
    if (c == '/') return 63;
    if (c == '=') return 64;
    throw Invalid("lz64 body has a character outside the base64 alphabet at offset " +
                  std::to_string(index) + "; send LZString.compressToBase64 output");
  }

  std::string_view text_;
  uint32_t value_ = 0;
  uint32_t position_ = 32;
  size_t index_ = 1;
};

}  // namespace

bool LooksLikeGzip(std::string_view data) {
  return data.size() >= 2 && static_cast<unsigned char>(data[0]) == 0x1f &&
         static_cast<unsigned char>(data[1]) == 0x8b;
}

std::string GunzipCapped(std::string_view data, int64_t max_output_bytes) {
  z_stream stream{};
  // 16 + MAX_WBITS: gzip wrapper only, so a zlib or raw stream is rejected.
  if (inflateInit2(&stream, 16 + MAX_WBITS) != Z_OK) {
    throw std::runtime_error("zlib inflateInit2 failed");
  }
  std::string output;
  std::array<char, 64 * 1024> buffer{};
  stream.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(data.data()));
  stream.avail_in = static_cast<uInt>(data.size());
  int status = Z_OK;
  try {
    while (true) {
      stream.next_out = reinterpret_cast<Bytef*>(buffer.data());
      stream.avail_out = static_cast<uInt>(buffer.size());
      status = inflate(&stream, Z_NO_FLUSH);
      size_t produced = buffer.size() - stream.avail_out;
      if (static_cast<int64_t>(output.size() + produced) > max_output_bytes) {
        throw TooLarge(max_output_bytes);
      }
      output.append(buffer.data(), produced);

      if (status == Z_STREAM_END) {
        // Another gzip member may follow (RFC 1952 allows concatenation).
        std::string_view rest(reinterpret_cast<const char*>(stream.next_in), stream.avail_in);
        if (rest.empty()) break;
        if (!LooksLikeGzip(rest)) {
          throw Invalid("gzip body has " + std::to_string(rest.size()) +
                        " trailing bytes after the compressed data; send only the gzip stream");
        }
        inflateReset(&stream);
        continue;
      }
      if (status == Z_BUF_ERROR && stream.avail_in == 0) {
        throw Invalid("gzip body is truncated; send the whole compressed stream");
      }
      if (status != Z_OK && status != Z_BUF_ERROR) {
        throw Invalid(std::string("gzip body is corrupt (zlib: ") +
                      (stream.msg != nullptr ? stream.msg : "error " + std::to_string(status)) +
                      "); compress the body with gzip");
      }
    }
  } catch (...) {
    inflateEnd(&stream);
    throw;
  }
  inflateEnd(&stream);
  return output;
}

// Returns whether `text` reads as a JSON scalar: a string, a literal or
// number characters only. Base64 of a JSON object, an array or gzip starts
// with "ey", "W" or "H4sI", so such a body is passed on as JSON, where it
// gets "not a JSON object or array" instead of a base64 error.
bool LooksLikeJsonScalar(std::string_view text) {
  if (text == "true" || text == "false" || text == "null") return true;
  if (text.front() == '"') return true;
  return text.find_first_not_of("0123456789+-.eE") == std::string_view::npos;
}

std::string DecodeBase64(std::string_view text) {
  std::string output;
  output.reserve(text.size() / 4 * 3 + 3);
  uint32_t accumulator = 0;
  int bits = 0;
  bool padding_seen = false;
  for (size_t i = 0; i < text.size(); ++i) {
    char c = text[i];
    uint32_t value;
    if (c >= 'A' && c <= 'Z') {
      value = static_cast<uint32_t>(c - 'A');
    } else if (c >= 'a' && c <= 'z') {
      value = static_cast<uint32_t>(c - 'a' + 26);
    } else if (c >= '0' && c <= '9') {
      value = static_cast<uint32_t>(c - '0' + 52);
    } else if (c == '+' || c == '-') {
      value = 62;
    } else if (c == '/' || c == '_') {
      value = 63;
    } else if (c == '=') {
      padding_seen = true;
      continue;
    } else if (std::isspace(static_cast<unsigned char>(c))) {
      continue;
    } else {
      throw Invalid("body is neither JSON nor base64: invalid character at offset " +
                    std::to_string(i) + "; send JSON, base64 or set compression=");
    }
    if (padding_seen) {
      throw Invalid("base64 body has data after '=' padding at offset " + std::to_string(i) +
                    "; send one base64 string");
    }
    accumulator = (accumulator << 6) | value;
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      output.push_back(static_cast<char>((accumulator >> bits) & 0xFF));
    }
  }
  if (bits >= 6) {
    throw Invalid("base64 body has a dangling final character; send complete base64");
  }
  return output;
}

std::string DecompressLz64(std::string_view text, int64_t max_output_bytes) {
  if (text.empty()) return "";
  Lz64BitReader reader(text);
  // LZ-string's output is UTF-16; count code units against the limit, which
  // bounds the UTF-8 size within a factor of 1.5 and the dictionary with it.
  const auto max_units = static_cast<size_t>(max_output_bytes);
  std::vector<std::u16string> dictionary(3);
  std::u16string result;

  auto read_char = [&](uint32_t kind) -> std::u16string {
    return std::u16string(1, static_cast<char16_t>(reader.Read(kind == 0 ? 8 : 16)));
  };

  uint32_t first = reader.Read(2);
  if (first == 2) return "";
  if (first > 2) throw Invalid("lz64 body does not start with a valid LZ-string header");
  std::u16string w = read_char(first);
  dictionary.push_back(w);
  result += w;

  int num_bits = 3;
  uint32_t enlarge_in = 4;
  while (true) {
    if (reader.PastEnd()) {
      throw Invalid("lz64 body is truncated; send the whole LZString.compressToBase64 output");
    }
    uint32_t code = reader.Read(num_bits);
    if (code == 0 || code == 1) {
      dictionary.push_back(read_char(code));
      code = static_cast<uint32_t>(dictionary.size() - 1);
      --enlarge_in;
    } else if (code == 2) {
      break;
    }
    if (enlarge_in == 0) {
      enlarge_in = uint32_t{1} << num_bits;
      ++num_bits;
    }

    std::u16string entry;
    if (code < dictionary.size() && code > 2) {
      entry = dictionary[code];
    } else if (code == dictionary.size()) {
      entry = w + w[0];
    } else {
      throw Invalid("lz64 body refers to an unknown dictionary entry; it is corrupt");
    }
    if (result.size() + entry.size() > max_units) throw TooLarge(max_output_bytes);
    result += entry;
    dictionary.push_back(w + entry[0]);
    --enlarge_in;
    w = std::move(entry);
    if (enlarge_in == 0) {
      enlarge_in = uint32_t{1} << num_bits;
      ++num_bits;
    }
    if (num_bits > 31) throw Invalid("lz64 body is corrupt: dictionary too large");
  }
  std::string utf8 = Utf16ToUtf8(result);
  if (static_cast<int64_t>(utf8.size()) > max_output_bytes) throw TooLarge(max_output_bytes);
  return utf8;
}

std::string DecodeCaptureBody(std::string_view body, const CaptureEncoding& encoding,
                              int64_t max_decompressed_bytes) {
  std::string compression = Lower(TrimSpace(encoding.compression));
  std::string content_encoding = Lower(TrimSpace(encoding.content_encoding));
  std::string data(body);

  // A form body carries the payload in its `data` field. JSON sent with the
  // form Content-Type (curl -d without -H sends that) is read as JSON.
  bool is_form = MediaType(encoding.content_type) == "application/x-www-form-urlencoded";
  std::string_view start = TrimSpace(data);
  bool starts_like_json = !start.empty() && (start.front() == '{' || start.front() == '[');
  if (!LooksLikeGzip(data) && ((is_form && !starts_like_json) || data.rfind("data=", 0) == 0)) {
    std::optional<std::string> field = FormField(body, "data");
    if (!field) {
      throw Invalid("form body has no data field; send data=<payload>");
    }
    if (compression.empty()) {
      compression = Lower(FormField(body, "compression").value_or(""));
    }
    data = std::move(*field);
  }

  if (!content_encoding.empty() && content_encoding != "gzip" && content_encoding != "identity") {
    throw Invalid("Content-Encoding \"" + content_encoding +
                  "\" is not supported; send gzip or no Content-Encoding");
  }
  if (!compression.empty() && compression != "gzip-js" && compression != "gzip" &&
      compression != "base64" && compression != "lz64" && compression != "lz-string") {
    throw Invalid("compression=" + compression +
                  " is not supported; use gzip-js, base64 or lz64, or leave it out");
  }

  if (data.rfind("\xEF\xBB\xBF", 0) == 0) data.erase(0, 3);  // UTF-8 byte order mark

  // Decode in the order the clients encode: gzip by magic bytes first.
  std::string text;
  if (LooksLikeGzip(data)) {
    text = GunzipCapped(data, max_decompressed_bytes);
  } else if (content_encoding == "gzip" || compression == "gzip-js" || compression == "gzip") {
    throw Invalid("body is declared gzip but does not start with the gzip magic bytes 1f 8b; "
                  "compress it with gzip or drop the gzip header or compression=");
  } else if (compression == "lz64" || compression == "lz-string") {
    text = DecompressLz64(ReplaceSpacesWithPlus(TrimSpace(data)), max_decompressed_bytes);
  } else {
    std::string_view trimmed = TrimSpace(data);
    bool looks_like_json = !trimmed.empty() && (trimmed.front() == '{' || trimmed.front() == '[' ||
                                                LooksLikeJsonScalar(trimmed));
    if (compression == "base64" || (!looks_like_json && !trimmed.empty())) {
      text = DecodeBase64(ReplaceSpacesWithPlus(trimmed));
      if (LooksLikeGzip(text)) text = GunzipCapped(text, max_decompressed_bytes);
    } else {
      text = std::move(data);
    }
  }

  if (static_cast<int64_t>(text.size()) > max_decompressed_bytes) {
    throw TooLarge(max_decompressed_bytes);
  }
  if (text.rfind("\xEF\xBB\xBF", 0) == 0) text.erase(0, 3);  // UTF-8 byte order mark
  if (!IsValidUtf8(text)) {
    throw Invalid("decoded body is not valid UTF-8; send JSON encoded as UTF-8");
  }
  return text;
}

}  // namespace connector
