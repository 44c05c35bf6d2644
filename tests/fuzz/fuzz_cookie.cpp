// libFuzzer target for the DNS COOKIE option as a server reads it
// (resolver/front/server_cookies.*, wire/dns_cookie.*) and as the walker
// reads it in replies (wire/edns.cpp's decode_cookie, which
// resolver/walk/walker_cookies.cpp relies on).
//
// Input: octet 0 chooses the client's family (even: IPv4, odd: IPv6) and
// whether a secret is configured (bit 1); octets 1..16 are the secret or
// master, 17..32 the client's address (first 4 for IPv4); octets 33..36
// the time; the rest is the option's data.
//
// Properties checked on every input (any violation aborts):
// - the server's verdict is malformed exactly when decode_cookie rejects
//   the length (8, or 16 to 40 octets, are well-formed);
// - a well-formed cookie is answered with 24 octets that start with the
//   client cookie, and that answer, sent back from the same address at the
//   same time, is valid and echoed unchanged;
// - the same answer from another address is never valid.
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <span>
#include <vector>

#include "resolver/front/server_cookies.h"
#include "wire/edns.h"

using namespace sextant;
using namespace sextant::resolver;

namespace {

void require(bool ok) {
  if (!ok) std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 37) return 0;
  const bool v6 = data[0] & 1;
  const bool configured = data[0] & 2;
  wire::SipKey key{};
  std::memcpy(key.data(), data + 1, 16);
  ClientAddress client;
  client.family = v6 ? AF_INET6 : AF_INET;
  client.size = v6 ? 16 : 4;
  std::memcpy(client.bytes, data + 17, client.size);
  uint32_t now32 = (uint32_t{data[33]} << 24) | (uint32_t{data[34]} << 16) | (uint32_t{data[35]} << 8) | data[36];
  const uint64_t now = now32;
  std::span<const uint8_t> option(data + 37, size - 37);

  CookieSettings settings;
  if (configured) settings.secret = key;
  settings.master = key;
  ServerCookies cookies(settings);
  ServerCookies::Judgement j = cookies.judge(option, client, now);

  wire::CookieOption decoded;
  bool decodes = wire::decode_cookie(option, decoded) == wire::WireError::ok;
  require((j.verdict == ServerCookies::Verdict::malformed) == !decodes);
  if (!decodes) {
    require(j.reply_size == 0);
    return 0;
  }
  require(j.reply_size == ServerCookies::kReplySize);
  require(std::memcmp(j.reply.data(), option.data(), wire::kClientCookieSize) == 0);
  require(std::memcmp(decoded.client.data(), option.data(), wire::kClientCookieSize) == 0);

  std::span<const uint8_t> reply(j.reply.data(), j.reply_size);
  ServerCookies::Judgement again = cookies.judge(reply, client, now);
  require(again.verdict == ServerCookies::Verdict::valid);
  require(std::memcmp(again.reply.data(), j.reply.data(), j.reply_size) == 0);

  ClientAddress other = client;
  other.bytes[client.size - 1] ^= 0x01;
  require(cookies.judge(reply, other, now).verdict != ServerCookies::Verdict::valid);
  return 0;
}
