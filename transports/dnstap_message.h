// One dnstap event (a DNS message seen by the server, with where and when)
// and its encoding as a dnstap.Dnstap protobuf (transports/dnstap.proto,
// compiled by protoc-c). Pure encoding: no I/O, no clock except
// DnstapTime::now(). The Frame Streams output lives in dnstap_writer.h.
#pragma once

#include <sys/socket.h>

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string_view>
#include <vector>

#include "transports/dnstap.pb-c.h"
#include "transports/query_handler.h"

namespace sextant::transports {

// The Message.Type values Sextant emits; the numbers are dnstap.proto's.
enum class DnstapMessageType : uint8_t {
  resolver_query = 3,     // we sent a query to an authoritative server
  resolver_response = 4,  // we received its answer
  client_query = 5,       // a client's query reached us
  client_response = 6,    // we answered a client
  forwarder_query = 7,    // we sent a query to a forward zone's upstream resolver
  forwarder_response = 8, // we received its answer
};
const char* to_string(DnstapMessageType type) noexcept;
constexpr bool is_response(DnstapMessageType type) noexcept {
  return type == DnstapMessageType::resolver_response || type == DnstapMessageType::client_response ||
         type == DnstapMessageType::forwarder_response;
}

// Wall-clock time as dnstap stores it: seconds since the epoch + nanoseconds.
struct DnstapTime {
  uint64_t sec = 0;
  uint32_t nsec = 0;
  static DnstapTime now() noexcept;  // CLOCK_REALTIME
  friend bool operator==(const DnstapTime&, const DnstapTime&) = default;
};

// dnstap's Policy message: what policy rewrote (or let pass) a client's
// exchange. Everything borrowed, like the event.
struct DnstapPolicy {
  std::string_view type;           // "RPZ", "blocklist", "allowlist", "local-data", "DNS64"
  std::span<const uint8_t> rule;   // the matching rule's owner name, wire format
  uint8_t action = 0;              // Policy.Action number (1 NXDOMAIN .. 6 LOCAL_DATA); 0: none
  uint8_t match = 0;               // Policy.Match number (1 QNAME, 2 CLIENT_IP, 3 RESPONSE_IP); 0: none
  std::span<const uint8_t> value;  // what matched: the name (wire) or the address octets
};

// Everything borrowed: the event only has to live for the call that takes it.
struct DnstapEvent {
  DnstapMessageType type = DnstapMessageType::client_query;
  Transport transport = Transport::udp;
  // dnstap's "query" side is the initiator of the exchange, its "response"
  // side the responder. For client_* events: the client (Request::peer) and
  // the address the query arrived on (Request::local). For resolver_* events:
  // our outgoing socket and the server we asked. Either may be null
  // (unknown); AF_INET and AF_INET6 only, anything else is left out.
  const sockaddr* query_address = nullptr;
  const sockaddr* response_address = nullptr;
  // The DNS message in wire format: the query for *_query events, the
  // response for *_response events.
  std::span<const uint8_t> message;
  // When `message` was received or sent.
  DnstapTime time;
  // For *_response events: when the query was received or sent, if known.
  std::optional<DnstapTime> query_time;
  // For resolver_* events: the zone the server was asked as authoritative
  // for, as a wire-format name; empty when unknown.
  std::span<const uint8_t> query_zone;
  // For client_response events: the policy that applied, if any.
  const DnstapPolicy* policy = nullptr;
  // The calling worker thread (Request::worker): DnstapWriter gives each
  // worker its own queue. Ignored by the encoder.
  unsigned worker = 0;
};

// Fills the protobuf-c structures for one event and packs them. The
// structures point into the event and the strings, which must outlive the
// encoder. Packing writes exactly size() bytes; there is no failure mode.
class DnstapEncoder {
 public:
  // Empty identity/version leave those fields out.
  DnstapEncoder(const DnstapEvent& event, std::string_view identity, std::string_view version) noexcept;
  DnstapEncoder(const DnstapEncoder&) = delete;
  DnstapEncoder& operator=(const DnstapEncoder&) = delete;

  size_t size() const noexcept;
  // `out` must hold at least size() bytes; returns the bytes written.
  size_t pack(uint8_t* out) const noexcept;
  std::vector<uint8_t> to_bytes() const;

 private:
  Dnstap__Dnstap frame_;
  Dnstap__Message message_;
  Dnstap__Policy policy_;
  char policy_type_[32] = {};  // protobuf-c wants a NUL-terminated string
};

// Convenience for tests and tools: the serialized dnstap.Dnstap protobuf
// (the payload of one Frame Streams data frame).
std::vector<uint8_t> encode_dnstap(const DnstapEvent& event, std::string_view identity, std::string_view version);

// The Frame Streams content type of dnstap frames.
inline constexpr std::string_view kDnstapContentType = "protobuf:dnstap.Dnstap";

}  // namespace sextant::transports
