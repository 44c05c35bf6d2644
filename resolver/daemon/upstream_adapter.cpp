#include "resolver/daemon/upstream_adapter.h"

#include <netinet/in.h>

#include <cstring>

#include <fmt/format.h>

#include "resolver/daemon/forward_upstreams.h"

namespace sextant::resolver {

namespace {

sockaddr_storage to_sockaddr(const ServerAddress& a) {
  sockaddr_storage ss{};
  if (a.is_ipv6()) {
    auto* s6 = reinterpret_cast<sockaddr_in6*>(&ss);
    s6->sin6_family = AF_INET6;
    s6->sin6_port = htons(a.port);
    std::memcpy(&s6->sin6_addr, a.bytes.data(), 16);
  } else {
    auto* s4 = reinterpret_cast<sockaddr_in*>(&ss);
    s4->sin_family = AF_INET;
    s4->sin_port = htons(a.port);
    std::memcpy(&s4->sin_addr, a.bytes.data(), 4);
  }
  return ss;
}

ServerAddress from_sockaddr(const sockaddr_storage& ss) {
  if (ss.ss_family == AF_INET6) {
    const auto* s6 = reinterpret_cast<const sockaddr_in6*>(&ss);
    std::array<uint8_t, 16> b{};
    std::memcpy(b.data(), &s6->sin6_addr, 16);
    return ServerAddress::ipv6(b, ntohs(s6->sin6_port));
  }
  const auto* s4 = reinterpret_cast<const sockaddr_in*>(&ss);
  std::array<uint8_t, 4> b{};
  std::memcpy(b.data(), &s4->sin_addr, 4);
  return ServerAddress::ipv4(b, ntohs(s4->sin_port));
}

transports::Transport dnstap_transport(UpstreamProtocol p) {
  switch (p) {
    case UpstreamProtocol::udp: return transports::Transport::udp;
    case UpstreamProtocol::tcp: return transports::Transport::tcp;
    case UpstreamProtocol::tls: return transports::Transport::dot;
    case UpstreamProtocol::https: return transports::Transport::doh;
    case UpstreamProtocol::quic: return transports::Transport::doq;
  }
  return transports::Transport::udp;
}

UpstreamReply::Status reply_status(transports::UpstreamStatus s) {
  switch (s) {
    case transports::UpstreamStatus::ok: return UpstreamReply::Status::ok;
    case transports::UpstreamStatus::timeout: return UpstreamReply::Status::timeout;
    case transports::UpstreamStatus::network_error:
    case transports::UpstreamStatus::bad_response: return UpstreamReply::Status::network_error;
    case transports::UpstreamStatus::auth_failed: return UpstreamReply::Status::auth_failure;
    case transports::UpstreamStatus::bad_query:
    case transports::UpstreamStatus::destination_refused:
    case transports::UpstreamStatus::overloaded:
    case transports::UpstreamStatus::cancelled:
      // Our side's problem: the server must not be marked dead for it.
      return UpstreamReply::Status::local_error;
  }
  return UpstreamReply::Status::local_error;
}

}  // namespace

void UpstreamAdapter::set_forward_table(std::shared_ptr<const ForwardTable> table) {
  table_ = std::move(table);
  routes_.clear();
  if (!pool_) return;
  // Register the table's stream upstreams now, so the pool can let the
  // connections of the ones that left go.
  std::vector<uint32_t> keep;
  if (table_) {
    for (const auto& profile : table_->profiles()) {
      if (profile.protocol == UpstreamProtocol::udp) continue;
      keep.push_back(pool_->endpoint(endpoint_of(profile)));
    }
  }
  pool_->retain_only(keep);
}

UpstreamAdapter::Route UpstreamAdapter::route(const ServerAddress& server, UpstreamProtocol protocol) {
  if (!table_) return {};
  const RouteKey key{server, protocol};
  if (auto it = routes_.find(key); it != routes_.end()) return it->second;
  Route r;
  r.profile = table_->profile(server, protocol);
  if (r.profile && protocol != UpstreamProtocol::udp && pool_) r.endpoint = pool_->endpoint(endpoint_of(*r.profile));
  if (routes_.size() > 4096) routes_.clear();  // bounded: each name server address gets one
  routes_.emplace(key, r);
  return r;
}

UpstreamNetwork::RequestId UpstreamAdapter::refuse_later(RequestId id, const ServerAddress& asked, Callback cb,
                                                         UpstreamReply::Status status, std::string detail) {
  refused_.emplace(id, timers_.schedule(std::chrono::milliseconds(0),
                                        [this, id, asked, status, detail = std::move(detail), cb = std::move(cb)] {
                                          refused_.erase(id);
                                          UpstreamReply reply;
                                          reply.status = status;
                                          reply.from = asked;
                                          reply.detail = detail;
                                          cb(std::move(reply));
                                        }));
  return id;
}

UpstreamNetwork::RequestId UpstreamAdapter::send(const ServerAddress& server, UpstreamProtocol protocol,
                                                 std::span<const uint8_t> query, std::chrono::milliseconds timeout,
                                                 Callback on_reply) {
  RequestId id = next_id_++;
  const Route r = route(server, protocol);
  // A stream protocol goes through the pool when it is a configured upstream;
  // plain TCP otherwise is the walker's one-shot fallback after TC.
  const bool pooled = r.endpoint != 0;
  if (is_encrypted(protocol) && !pooled) {
    return refuse_later(id, server, std::move(on_reply), UpstreamReply::Status::local_error,
                        fmt::format("no configured {} upstream at {}", to_string(protocol), server.to_string_with_port()));
  }
  transports::UpstreamEndpointStats* udp_stats = nullptr;
  if (r.profile && !pooled) {
    auto& s = udp_stats_[r.profile->label];
    if (s.label.empty()) {
      s.label = r.profile->label;
      s.channel = protocol == UpstreamProtocol::tcp ? transports::UpstreamChannel::tcp : transports::UpstreamChannel::udp;
    }
    ++s.queries;
    udp_stats = &s;
  }
  std::vector<uint8_t> packet(query.begin(), query.end());
  const uint32_t timeout_ms = static_cast<uint32_t>(std::max<int64_t>(1, timeout.count()));
  ServerAddress asked = server;
  // dnstap: the query now, its answer (if any) in the callback. RD=1 marks
  // a query to a forward upstream.
  const bool forwarder = packet.size() > 2 && (packet[2] & 0x01) != 0;
  const auto query_type = forwarder ? transports::DnstapMessageType::forwarder_query
                                    : transports::DnstapMessageType::resolver_query;
  const auto response_type = forwarder ? transports::DnstapMessageType::forwarder_response
                                       : transports::DnstapMessageType::resolver_response;
  const bool log_query = dnstap_ && dnstap_->wants(query_type);
  const bool log_response = dnstap_ && dnstap_->wants(response_type);
  const sockaddr_storage destination = to_sockaddr(server);
  transports::DnstapTime sent_at;
  if (log_query || log_response) sent_at = transports::DnstapTime::now();
  if (log_query) {
    transports::DnstapEvent e;
    e.type = query_type;
    e.transport = dnstap_transport(protocol);
    e.response_address = reinterpret_cast<const sockaddr*>(&destination);
    e.message = packet;
    e.time = sent_at;
    e.worker = worker_;
    dnstap_->log(e);
  }
  // Counted here for UDP forwarders (the pool counts its own): the label
  // stays valid across reloads, the pointer into udp_stats_ too.
  auto finish = [this, id, asked, protocol, log_response, response_type, sent_at, udp_stats,
                 cb = on_reply](transports::UpstreamResult res) {
    in_flight_.erase(id);
    if (udp_stats) {
      switch (res.status) {
        case transports::UpstreamStatus::ok:
          ++udp_stats->answers;
          udp_stats->rtt_sum_us += uint64_t{res.rtt_ms} * 1000;
          break;
        case transports::UpstreamStatus::timeout: ++udp_stats->timeouts; break;
        case transports::UpstreamStatus::network_error: ++udp_stats->connect_failures; break;
        case transports::UpstreamStatus::bad_response: ++udp_stats->protocol_errors; break;
        default: break;
      }
    }
    if (log_response && res.status == transports::UpstreamStatus::ok && dnstap_) {
      transports::DnstapEvent e;
      e.type = response_type;
      e.transport = dnstap_transport(protocol);
      e.response_address = reinterpret_cast<const sockaddr*>(&res.from);
      e.message = res.response;
      e.time = transports::DnstapTime::now();
      e.query_time = sent_at;
      e.worker = worker_;
      dnstap_->log(e);
    }
    UpstreamReply reply;
    reply.rtt = std::chrono::microseconds(uint64_t{res.rtt_ms} * 1000);
    reply.status = reply_status(res.status);
    reply.detail = std::move(res.detail);
    if (reply.status == UpstreamReply::Status::ok) {
      reply.packet = std::move(res.response);
      reply.from = from_sockaddr(res.from);
    } else {
      reply.from = asked;
    }
    cb(std::move(reply));
  };
  transports::UpstreamQueryId tid = 0;
  if (pooled) {
    tid = pool_->send(r.endpoint, std::move(packet), timeout_ms, std::move(finish));
  } else {
    transports::UpstreamQuery q;
    q.packet = std::move(packet);
    q.server = destination;
    q.tcp = protocol == UpstreamProtocol::tcp;
    q.timeout_ms = timeout_ms;
    // The walker checks 0x20 itself and reacts to a mismatch (TCP retry), so
    // the transport must hand mismatching answers over rather than drop them.
    q.match_question_case = false;
    tid = upstream_.send(std::move(q), std::move(finish));
  }
  if (tid == 0) {
    // Not taken (shutting down): say so on a later turn.
    return refuse_later(id, server, std::move(on_reply), UpstreamReply::Status::local_error, "shutting down");
  }
  in_flight_.emplace(id, InFlight{pooled, tid});
  return id;
}

void UpstreamAdapter::cancel(RequestId id) {
  if (auto r = refused_.find(id); r != refused_.end()) {
    timers_.cancel(r->second);
    refused_.erase(r);
    return;
  }
  auto it = in_flight_.find(id);
  if (it == in_flight_.end()) return;
  if (it->second.pooled) {
    if (pool_) pool_->cancel(it->second.id);
  } else {
    upstream_.cancel(it->second.id);
  }
  in_flight_.erase(it);
}

std::vector<transports::UpstreamEndpointStats> UpstreamAdapter::forward_stats() const {
  std::vector<transports::UpstreamEndpointStats> out;
  for (const auto& [label, s] : udp_stats_) out.push_back(s);
  if (pool_) {
    for (auto& s : pool_->stats()) out.push_back(std::move(s));
  }
  return out;
}

}  // namespace sextant::resolver
