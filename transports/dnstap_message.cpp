#include "transports/dnstap_message.h"

#include <arpa/inet.h>
#include <netinet/in.h>

#include <algorithm>
#include <cstring>
#include <ctime>

namespace sextant::transports {
namespace {

// protobuf-c's byte fields are non-const pointers, but packing only reads them.
ProtobufCBinaryData bytes_of(const void* data, size_t size) noexcept {
  return ProtobufCBinaryData{size, static_cast<uint8_t*>(const_cast<void*>(data))};
}

ProtobufCBinaryData bytes_of(std::string_view text) noexcept { return bytes_of(text.data(), text.size()); }

bool socket_protocol_of(Transport transport, Dnstap__SocketProtocol& out) noexcept {
  switch (transport) {
    case Transport::udp: out = DNSTAP__SOCKET_PROTOCOL__UDP; return true;
    case Transport::tcp: out = DNSTAP__SOCKET_PROTOCOL__TCP; return true;
    case Transport::dot: out = DNSTAP__SOCKET_PROTOCOL__DOT; return true;
    case Transport::doh: out = DNSTAP__SOCKET_PROTOCOL__DOH; return true;
    case Transport::doq: out = DNSTAP__SOCKET_PROTOCOL__DOQ; return true;
  }
  return false;
}

// The address octets and port of an AF_INET/AF_INET6 address; false for
// null or any other family.
struct AddressParts {
  Dnstap__SocketFamily family = DNSTAP__SOCKET_FAMILY__INET;
  ProtobufCBinaryData address{0, nullptr};
  uint16_t port = 0;
};

bool parts_of(const sockaddr* sa, AddressParts& out) noexcept {
  if (sa == nullptr) return false;
  if (sa->sa_family == AF_INET) {
    const auto* v4 = reinterpret_cast<const sockaddr_in*>(sa);
    out.family = DNSTAP__SOCKET_FAMILY__INET;
    out.address = bytes_of(&v4->sin_addr, sizeof(v4->sin_addr));
    out.port = ntohs(v4->sin_port);
    return true;
  }
  if (sa->sa_family == AF_INET6) {
    const auto* v6 = reinterpret_cast<const sockaddr_in6*>(sa);
    out.family = DNSTAP__SOCKET_FAMILY__INET6;
    out.address = bytes_of(&v6->sin6_addr, sizeof(v6->sin6_addr));
    out.port = ntohs(v6->sin6_port);
    return true;
  }
  return false;
}

}  // namespace

const char* to_string(DnstapMessageType type) noexcept {
  switch (type) {
    case DnstapMessageType::resolver_query: return "RESOLVER_QUERY";
    case DnstapMessageType::resolver_response: return "RESOLVER_RESPONSE";
    case DnstapMessageType::client_query: return "CLIENT_QUERY";
    case DnstapMessageType::client_response: return "CLIENT_RESPONSE";
    case DnstapMessageType::forwarder_query: return "FORWARDER_QUERY";
    case DnstapMessageType::forwarder_response: return "FORWARDER_RESPONSE";
  }
  return "?";
}

DnstapTime DnstapTime::now() noexcept {
  timespec ts{};
  clock_gettime(CLOCK_REALTIME, &ts);
  return DnstapTime{static_cast<uint64_t>(ts.tv_sec), static_cast<uint32_t>(ts.tv_nsec)};
}

DnstapEncoder::DnstapEncoder(const DnstapEvent& event, std::string_view identity,
                             std::string_view version) noexcept {
  dnstap__dnstap__init(&frame_);
  dnstap__message__init(&message_);
  dnstap__policy__init(&policy_);

  frame_.type = DNSTAP__DNSTAP__TYPE__MESSAGE;
  frame_.message = &message_;
  if (!identity.empty()) {
    frame_.has_identity = 1;
    frame_.identity = bytes_of(identity);
  }
  if (!version.empty()) {
    frame_.has_version = 1;
    frame_.version = bytes_of(version);
  }

  message_.type = static_cast<Dnstap__Message__Type>(event.type);
  if (socket_protocol_of(event.transport, message_.socket_protocol)) message_.has_socket_protocol = 1;

  // Readers interpret both addresses by the one socket_family, so an
  // address of the other family (cannot happen on one socket) is left out.
  AddressParts initiator, responder;
  const bool has_initiator = parts_of(event.query_address, initiator);
  const bool has_responder = parts_of(event.response_address, responder);
  if (has_initiator || has_responder) {
    message_.has_socket_family = 1;
    message_.socket_family = has_initiator ? initiator.family : responder.family;
  }
  if (has_initiator && initiator.family == message_.socket_family) {
    message_.has_query_address = 1;
    message_.query_address = initiator.address;
    message_.has_query_port = 1;
    message_.query_port = initiator.port;
  }
  if (has_responder && responder.family == message_.socket_family) {
    message_.has_response_address = 1;
    message_.response_address = responder.address;
    message_.has_response_port = 1;
    message_.response_port = responder.port;
  }

  const ProtobufCBinaryData wire = bytes_of(event.message.data(), event.message.size());
  if (is_response(event.type)) {
    message_.has_response_message = !event.message.empty();
    message_.response_message = wire;
    message_.has_response_time_sec = 1;
    message_.response_time_sec = event.time.sec;
    message_.has_response_time_nsec = 1;
    message_.response_time_nsec = event.time.nsec;
    if (event.query_time) {
      message_.has_query_time_sec = 1;
      message_.query_time_sec = event.query_time->sec;
      message_.has_query_time_nsec = 1;
      message_.query_time_nsec = event.query_time->nsec;
    }
  } else {
    message_.has_query_message = !event.message.empty();
    message_.query_message = wire;
    message_.has_query_time_sec = 1;
    message_.query_time_sec = event.time.sec;
    message_.has_query_time_nsec = 1;
    message_.query_time_nsec = event.time.nsec;
  }
  if (!event.query_zone.empty()) {
    message_.has_query_zone = 1;
    message_.query_zone = bytes_of(event.query_zone.data(), event.query_zone.size());
  }
  if (const DnstapPolicy* p = event.policy) {
    message_.policy = &policy_;
    if (!p->type.empty()) {
      size_t n = std::min(p->type.size(), sizeof policy_type_ - 1);
      std::memcpy(policy_type_, p->type.data(), n);
      policy_type_[n] = 0;
      policy_.type = policy_type_;
    }
    if (!p->rule.empty()) {
      policy_.has_rule = 1;
      policy_.rule = bytes_of(p->rule.data(), p->rule.size());
    }
    if (p->action >= 1 && p->action <= 6) {
      policy_.has_action = 1;
      policy_.action = static_cast<Dnstap__Policy__Action>(p->action);
    }
    if (p->match >= 1 && p->match <= 5) {
      policy_.has_match = 1;
      policy_.match = static_cast<Dnstap__Policy__Match>(p->match);
    }
    if (!p->value.empty()) {
      policy_.has_value = 1;
      policy_.value = bytes_of(p->value.data(), p->value.size());
    }
  }
}

size_t DnstapEncoder::size() const noexcept { return dnstap__dnstap__get_packed_size(&frame_); }

size_t DnstapEncoder::pack(uint8_t* out) const noexcept { return dnstap__dnstap__pack(&frame_, out); }

std::vector<uint8_t> DnstapEncoder::to_bytes() const {
  std::vector<uint8_t> bytes(size());
  bytes.resize(pack(bytes.data()));
  return bytes;
}

std::vector<uint8_t> encode_dnstap(const DnstapEvent& event, std::string_view identity, std::string_view version) {
  return DnstapEncoder(event, identity, version).to_bytes();
}

}  // namespace sextant::transports
