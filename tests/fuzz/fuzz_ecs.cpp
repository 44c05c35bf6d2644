// libFuzzer target for a client's EDNS Client Subnet option as the pipeline
// takes it (resolver/front/client_subnet.*, over wire's decode_client_subnet)
// and the ECS-scoped cache keyed by what it yields (cache/scoped_answer_cache.*).
//
// Input: octet 0 is the scope a server "returned", octet 1 the resolver's
// IPv4 (low 5 bits + 1) and IPv6 (octet 2, up to 128) lengths; the rest is
// the option's data.
//
// Properties checked on every input (any violation aborts):
// - valid_query_option() accepts exactly what decode_client_subnet() accepts
//   with scope 0;
// - from_trusted() never sends more bits than the configured length or the
//   client's, and no address bits past them;
// - an answer stored for the subnet at a scope is found again for it, with
//   the scope it was stored at (capped at the source prefix), and is not
//   found for an address that differs inside that scope.
#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <vector>

#include "cache/scoped_answer_cache.h"
#include "resolver/front/client_subnet.h"
#include "wire/message.h"

using namespace sextant;
using namespace sextant::resolver;

namespace {

const std::vector<uint8_t>& answer_packet() {
  static const std::vector<uint8_t> packet = [] {
    wire::Message m;
    m.header.set_qr(true);
    m.questions.push_back({wire::Name::from_text("www.example.com."), wire::RRType::A, wire::RRClass::IN});
    wire::ResourceRecord r;
    r.owner = m.questions[0].name;
    r.type = wire::RRType::A;
    r.ttl = 300;
    r.rdata = {192, 0, 2, 1};
    m.answer.push_back(r);
    std::vector<uint8_t> out;
    if (wire::build_message(m, out) != wire::WireError::ok) abort();
    return out;
  }();
  return packet;
}

bool bits_past_zero(const wire::ClientSubnetOption& o) {
  for (unsigned bit = o.source_prefix; bit < 128; ++bit)
    if (o.address[bit / 8] & (0x80u >> (bit % 8))) return false;
  return true;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 3) return 0;
  const uint8_t scope = data[0];
  EcsSettings settings;
  settings.enabled = true;
  settings.ipv4_prefix = static_cast<uint8_t>((data[1] & 31) + 1);
  settings.ipv6_prefix = static_cast<uint8_t>(std::clamp<unsigned>(data[2], 1, 128));
  std::span<const uint8_t> option(data + 3, size - 3);

  wire::ClientSubnetOption decoded;
  const bool decodes = wire::decode_client_subnet(option, decoded) == wire::WireError::ok;
  wire::ClientSubnetOption sent;
  const bool valid = ClientSubnetPolicy::valid_query_option(option, sent);
  if (valid != (decodes && decoded.scope_prefix == 0)) abort();
  if (!valid) return 0;

  ClientSubnetPolicy policy(settings);
  std::optional<wire::ClientSubnetOption> subnet = policy.from_trusted(sent);
  if (sent.source_prefix == 0) {
    if (subnet) abort();
  } else {
    if (!subnet) abort();
    const uint8_t max = sent.family == 1 ? settings.ipv4_prefix : settings.ipv6_prefix;
    if (subnet->source_prefix > max || subnet->source_prefix > sent.source_prefix) abort();
    if (!bits_past_zero(*subnet)) abort();
  }

  cache::CacheConfig config;
  config.shards = 1;
  cache::ScopedAnswerCache store(config, 1 << 16);
  const cache::AnswerKey key{wire::Name::from_text("www.example.com."), wire::RRType::A, wire::RRClass::IN,
                             false, false, 0};
  const cache::SubnetKey k = subnet_key(subnet);
  const auto stored = store.insert(key, k, scope, answer_packet(), 300, cache::DnssecStatus::indeterminate, 1000);
  const unsigned expected = subnet ? std::min<unsigned>(scope, subnet->source_prefix) : 0;
  if (subnet && expected == 0) {
    if (stored == cache::AnswerCache::Result::stored) abort();  // scope 0: the shared cache's
    return 0;
  }
  if (stored != cache::AnswerCache::Result::stored) abort();
  std::vector<uint8_t> out(1024);
  size_t len = 0;
  cache::AnswerHit hit;
  uint8_t found_scope = 0xff;
  if (!store.lookup(key, k, 7, key.qname, 1000, out, len, hit, found_scope)) abort();
  if (found_scope != expected) abort();
  if (subnet) {
    cache::SubnetKey other = k;
    const unsigned bit = expected - 1;
    other.address[bit / 8] ^= static_cast<uint8_t>(0x80u >> (bit % 8));
    if (store.lookup(key, other, 7, key.qname, 1000, out, len, hit, found_scope)) abort();
  }
  return 0;
}
