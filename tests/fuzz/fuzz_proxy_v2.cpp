// libFuzzer target for the PROXY v2 parser (transports/proxy_protocol.*),
// which reads bytes from the network before anything else does.
//
// Properties checked on every input (any violation aborts):
// - nothing crashes or reads out of bounds (ASan/UBSan watch that);
// - a complete header is 16..kMaxProxyHeaderLength octets and fits the input;
// - the stream reader's result does not depend on how the bytes are split:
//   all at once, in two pieces at an input-chosen point, and one octet at a
//   time give the same outcome, header length, source and (when accepted)
//   the same octets after the header;
// - a datagram from a trusted peer is accepted exactly when the parser
//   completes, and its payload is what follows the header; from an untrusted
//   peer it is refused exactly when it starts with the signature;
// - the sniffer finds a header exactly when the signature is there.
#include <netinet/in.h>

#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <span>
#include <string>
#include <vector>

#include "transports/proxy_protocol.h"

using namespace sextant::transports;

namespace {

void require(bool ok) {
  if (!ok) std::abort();
}

struct StreamResult {
  ProxyOutcome outcome = ProxyOutcome::missing;
  bool done = false;
  size_t header_length = 0;
  sockaddr_storage source{};
  std::vector<uint8_t> after;
};

StreamResult read_in_pieces(std::span<const uint8_t> input, size_t piece) {
  StreamResult r;
  ProxyStreamReader reader;
  size_t offset = 0;
  while (offset < input.size()) {
    size_t n = std::min(piece, input.size() - offset);
    std::span<const uint8_t> chunk(input.data() + offset, n);
    offset += n;
    if (reader.feed(chunk) == ProxyStreamReader::Status::done) {
      r.done = true;
      r.after.assign(chunk.begin(), chunk.end());
      r.after.insert(r.after.end(), input.begin() + static_cast<ptrdiff_t>(offset), input.end());
      break;
    }
    require(chunk.empty());
  }
  r.outcome = reader.outcome();
  if (r.done && is_accepted(r.outcome)) {
    r.header_length = reader.header().header_length;
    r.source = reader.header().source;
  }
  return r;
}

// What follows the header matters only when the connection goes on (a
// refused one is closed, whatever came after).
bool same(const StreamResult& a, const StreamResult& b) {
  return a.done == b.done && a.outcome == b.outcome && a.header_length == b.header_length &&
         std::memcmp(&a.source, &b.source, sizeof a.source) == 0 &&
         (!(a.done && is_accepted(a.outcome)) || a.after == b.after);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::span<const uint8_t> input(data, size);

  ProxyHeader header;
  std::string error;
  ProxyParse parsed = parse_proxy_v2(input, header, &error);
  if (parsed == ProxyParse::complete) {
    require(header.header_length >= 16 && header.header_length <= kMaxProxyHeaderLength);
    require(header.header_length <= size);
    require(!(header.local && header.has_addresses));
  }
  if (parsed == ProxyParse::invalid) require(!error.empty());

  StreamResult whole = read_in_pieces(input, size ? size : 1);
  StreamResult halves;
  {
    // Two pieces: the split point comes from the input itself.
    size_t split = size ? data[size - 1] % (size + 1) : 0;
    ProxyStreamReader reader;
    std::span<const uint8_t> first(data, split), second(data + split, size - split);
    if (reader.feed(first) == ProxyStreamReader::Status::done) {
      halves.done = true;
      halves.after.assign(first.begin(), first.end());
      halves.after.insert(halves.after.end(), second.begin(), second.end());
    } else if (reader.feed(second) == ProxyStreamReader::Status::done) {
      halves.done = true;
      halves.after.assign(second.begin(), second.end());
    }
    halves.outcome = reader.outcome();
    if (halves.done && is_accepted(halves.outcome)) {
      halves.header_length = reader.header().header_length;
      halves.source = reader.header().source;
    }
  }
  StreamResult bytes = read_in_pieces(input, 1);
  require(same(whole, bytes));
  if (size > 0) require(same(whole, halves));
  if (whole.done && is_accepted(whole.outcome)) {
    require(parsed == ProxyParse::complete);
    require(whole.after.size() == size - whole.header_length);
  }
  if (parsed == ProxyParse::complete) require(whole.done && is_accepted(whole.outcome));

  sockaddr_in peer{};
  peer.sin_family = AF_INET;
  peer.sin_addr.s_addr = htonl(0x7F000001);
  const sockaddr* peer_address = reinterpret_cast<const sockaddr*>(&peer);
  static const TrustedProxies trusted({"127.0.0.1/32"});
  static const TrustedProxies others({"10.0.0.0/8"});
  std::span<const uint8_t> payload;
  ProxyOutcome datagram = unwrap_proxied_datagram(input, peer_address, &trusted, header, payload);
  require((parsed == ProxyParse::complete) == is_accepted(datagram) || !starts_with_proxy_v2_signature(input));
  if (is_accepted(datagram)) require(payload.size() == size - header.header_length);
  ProxyOutcome from_stranger = unwrap_proxied_datagram(input, peer_address, &others, header, payload);
  require((from_stranger == ProxyOutcome::untrusted) == starts_with_proxy_v2_signature(input));
  require(from_stranger == ProxyOutcome::untrusted || from_stranger == ProxyOutcome::direct);

  ProxySignatureSniffer sniffer;
  for (size_t i = 0; i < size; ++i) sniffer.feed(input.subspan(i, 1));
  if (size >= 12) {
    require((sniffer.verdict() == ProxySignatureSniffer::Verdict::header) == starts_with_proxy_v2_signature(input));
  }
  return 0;
}
