// RFC 4648 encodings: the §10 test vectors and strict rejection of
// malformed input.
#include <catch2/catch.hpp>

#include <cctype>
#include <string>
#include <vector>

#include "wire/base_encoding.h"

using namespace sextant::wire;

namespace {

std::vector<uint8_t> octets(std::string_view s) { return {s.begin(), s.end()}; }

std::string decoded(DecodeError (*fn)(std::string_view, std::vector<uint8_t>&), std::string_view text) {
  std::vector<uint8_t> out;
  REQUIRE(fn(text, out) == DecodeError::ok);
  return {out.begin(), out.end()};
}

DecodeError b64(std::string_view text, const Base64Options& options = {}) {
  std::vector<uint8_t> out;
  return base64_decode(text, out, options);
}

}  // namespace

TEST_CASE("base64 and base64url: RFC 4648 §10 vectors", "[base][encoding]") {
  const std::pair<const char*, const char*> vectors[] = {
      {"", ""}, {"f", "Zg=="}, {"fo", "Zm8="}, {"foo", "Zm9v"},
      {"foob", "Zm9vYg=="}, {"fooba", "Zm9vYmE="}, {"foobar", "Zm9vYmFy"},
  };
  for (auto [plain, encoded] : vectors) {
    INFO(plain);
    CHECK(base64_encode(octets(plain)) == encoded);
    std::vector<uint8_t> out;
    REQUIRE(base64_decode(encoded, out) == DecodeError::ok);
    CHECK(out == octets(plain));
    std::string url = encoded;
    while (!url.empty() && url.back() == '=') url.pop_back();
    CHECK(base64url_encode(octets(plain)) == url);
    CHECK(decoded(base64url_decode, url) == plain);
  }
  std::vector<uint8_t> all(256);
  for (int i = 0; i < 256; ++i) all[i] = static_cast<uint8_t>(i);
  std::vector<uint8_t> back;
  REQUIRE(base64_decode(base64_encode(all), back) == DecodeError::ok);
  CHECK(back == all);
  CHECK(base64url_encode(std::vector<uint8_t>{0xfb, 0xff}) == "-_8");
  CHECK(base64_encode(std::vector<uint8_t>{0xfb, 0xff}) == "+/8=");
}

TEST_CASE("base64 decoding is strict", "[base][encoding]") {
  CHECK(b64("Zg=") == DecodeError::bad_padding);
  CHECK(b64("Zg") == DecodeError::bad_padding);  // padding required by default
  CHECK(b64("Zg", {false, Base64Padding::optional, false}) == DecodeError::ok);
  CHECK(b64("Zg==", {false, Base64Padding::forbidden, false}) == DecodeError::bad_padding);
  CHECK(b64("Zg==Zg==") == DecodeError::bad_padding);
  CHECK(b64("Z===") == DecodeError::bad_length);
  CHECK(b64("Zh==") == DecodeError::trailing_bits);
  CHECK(b64("Zm9=") == DecodeError::trailing_bits);
  CHECK(b64("Zm9v!") == DecodeError::bad_character);
  CHECK(b64("Zm9v Yg==") == DecodeError::bad_character);
  CHECK(b64("Zm9v\n Yg==", {false, Base64Padding::required, true}) == DecodeError::ok);
  CHECK(b64("-_8", {true, Base64Padding::forbidden, false}) == DecodeError::ok);
  CHECK(b64("+/8=", {true, Base64Padding::required, false}) == DecodeError::bad_character);
  std::vector<uint8_t> out{1, 2};
  CHECK(base64url_decode("Zg=", out) == DecodeError::bad_padding);
  CHECK(out == std::vector<uint8_t>{1, 2});  // untouched on failure
}

TEST_CASE("base32hex: RFC 4648 §10 vectors without padding", "[base][encoding]") {
  const std::pair<const char*, const char*> vectors[] = {
      {"", ""}, {"f", "co"}, {"fo", "cpng"}, {"foo", "cpnmu"},
      {"foob", "cpnmuog"}, {"fooba", "cpnmuoj1"}, {"foobar", "cpnmuoj1e8"},
  };
  for (auto [plain, encoded] : vectors) {
    INFO(plain);
    CHECK(base32hex_encode(octets(plain)) == encoded);
    CHECK(decoded(base32hex_decode, encoded) == plain);
    std::string upper = encoded;
    for (char& c : upper) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
    CHECK(decoded(base32hex_decode, upper) == plain);
  }
  std::vector<uint8_t> out;
  CHECK(base32hex_decode("co======", out) == DecodeError::bad_padding);
  CHECK(base32hex_decode("c", out) == DecodeError::bad_length);
  CHECK(base32hex_decode("cpn", out) == DecodeError::bad_length);
  CHECK(base32hex_decode("cp", out) == DecodeError::trailing_bits);
  CHECK(base32hex_decode("cw", out) == DecodeError::bad_character);
  CHECK(out.empty());
}

TEST_CASE("hex", "[base][encoding]") {
  CHECK(hex_encode(std::vector<uint8_t>{0x00, 0xab, 0xff}) == "00abff");
  CHECK(hex_encode(std::vector<uint8_t>{0x00, 0xab, 0xff}, true) == "00ABFF");
  std::vector<uint8_t> out;
  REQUIRE(hex_decode("00aBfF", out) == DecodeError::ok);
  CHECK(out == std::vector<uint8_t>{0x00, 0xab, 0xff});
  out.clear();
  CHECK(hex_decode("abc", out) == DecodeError::bad_length);
  CHECK(hex_decode("zz", out) == DecodeError::bad_character);
  CHECK(hex_decode("ab cd", out) == DecodeError::bad_character);
  CHECK(out.empty());
  REQUIRE(hex_decode("ab cd\n", out, true) == DecodeError::ok);
  CHECK(out == std::vector<uint8_t>{0xab, 0xcd});
  CHECK(std::string(to_string(DecodeError::trailing_bits)) == "non-zero trailing bits");
}
