#pragma once

#include <Poco/Dynamic/Var.h>

#include <cstddef>
#include <cstdint>
#include <stdexcept>
#include <string>

namespace connector {

// Thrown by ParseJsonExactNumbers for a number whose magnitude is beyond the
// largest double (about 1.8e308), which no double can hold.
class JsonNumberOutOfRange : public std::runtime_error {
 public:
  JsonNumberOutOfRange(std::string path, std::string number);

  // JSONPath of the value, such as "$.batch[0].properties.seats".
  const std::string& path() const { return path_; }
  // The number as written in the JSON text, cut to 64 characters.
  const std::string& number() const { return number_; }

 private:
  std::string path_;
  std::string number_;
};

// Thrown by ParseJsonExactNumbers, before any parsing, for a text with more
// values or object keys than its JsonLimits allow.
class JsonTooLarge : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// Bounds on a JSON document. Poco's order-keeping objects check each new key
// against every earlier one, so parsing an object of n keys takes time in
// n squared. Once parsed, a number costs about 115 bytes of memory and an
// empty object about 870 (2.3 GB for 20 million numbers, 870 MB for a
// million empty objects, measured with Poco 1.11).
struct JsonLimits {
  size_t max_depth = 64;                         // nesting of objects and arrays
  size_t max_object_keys = SIZE_MAX;             // keys in any one object
  size_t max_values = SIZE_MAX;                  // every object, array, string, number and literal
  size_t max_containers = SIZE_MAX;              // objects and arrays, also counted in max_values
};

// Parses JSON text with Poco's parser into Object::Ptr (keys in document
// order), Array::Ptr and scalar Vars, but reads every number from its own
// text instead of taking Poco's value:
//   - an integer within int64 becomes Poco::Int64, exactly;
//   - a larger one within uint64 becomes Poco::UInt64, exactly;
//   - any other number becomes the nearest double, as JavaScript's
//     JSON.parse reads it. Digits beyond a double's precision are rounded,
//     and a magnitude too small for a double (below about 2.5e-324) becomes 0.
// Poco 1.11 (Debian 12's libpoco-dev) gets some of these wrong when left to
// itself: 18446744073709551616 (2^64) to 18446744073709551619 wrap to 0 to 3,
// because its strToInt checks for overflow before multiplying by 10. It
// negates negative integers through a double, so an integer below -2^53 loses
// its last digits, and -9223372036854775809 becomes -9223372036854775808. It
// also rejects integers beyond uint64, and numbers beyond a double's range,
// as invalid JSON.
//
// Throws JsonNumberOutOfRange for a number beyond a double's range, such as
// 1e400. Throws Poco::Exception (JSONException or SyntaxException) when the
// text is not valid JSON or nests deeper than `max_depth`. Thread-safe: each
// call uses its own parser.
//
// The overload with JsonLimits first scans the text in linear time and
// throws JsonTooLarge when it exceeds max_object_keys, max_values or
// max_containers, so a request cannot make the parser spend quadratic time
// or unbounded memory.
Poco::Dynamic::Var ParseJsonExactNumbers(const std::string& text, size_t max_depth);
Poco::Dynamic::Var ParseJsonExactNumbers(const std::string& text, const JsonLimits& limits);

}  // namespace connector
