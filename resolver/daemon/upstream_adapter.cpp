#include "resolver/daemon/upstream_adapter.h"

#include <netinet/in.h>

#include <cstring>

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

}  // namespace

UpstreamNetwork::RequestId UpstreamAdapter::send(const ServerAddress& server, UpstreamProtocol protocol,
                                                 std::span<const uint8_t> query, std::chrono::milliseconds timeout,
                                                 Callback on_reply) {
  RequestId id = next_id_++;
  transports::UpstreamQuery q;
  q.packet.assign(query.begin(), query.end());
  q.server = to_sockaddr(server);
  q.tcp = protocol == UpstreamProtocol::tcp;
  q.timeout_ms = static_cast<uint32_t>(std::max<int64_t>(1, timeout.count()));
  // The walker checks 0x20 itself and reacts to a mismatch (TCP retry), so
  // the transport must hand mismatching answers over rather than drop them.
  q.match_question_case = false;
  ServerAddress asked = server;
  Callback on_reply_copy = on_reply;
  // dnstap: the query now, its answer (if any) in the callback.
  const bool log_query = dnstap_ && dnstap_->wants(transports::DnstapMessageType::resolver_query);
  const bool log_response = dnstap_ && dnstap_->wants(transports::DnstapMessageType::resolver_response);
  transports::DnstapTime sent_at;
  if (log_query || log_response) sent_at = transports::DnstapTime::now();
  if (log_query) {
    transports::DnstapEvent e;
    e.type = transports::DnstapMessageType::resolver_query;
    e.transport = q.tcp ? transports::Transport::tcp : transports::Transport::udp;
    e.response_address = reinterpret_cast<const sockaddr*>(&q.server);
    e.message = q.packet;
    e.time = sent_at;
    e.worker = worker_;
    dnstap_->log(e);
  }
  const bool tcp = q.tcp;
  transports::UpstreamQueryId tid = upstream_.send(
      std::move(q), [this, id, asked, tcp, log_response, sent_at, cb = std::move(on_reply)](transports::UpstreamResult r) {
        in_flight_.erase(id);
        if (log_response && r.status == transports::UpstreamStatus::ok && dnstap_) {
          transports::DnstapEvent e;
          e.type = transports::DnstapMessageType::resolver_response;
          e.transport = tcp ? transports::Transport::tcp : transports::Transport::udp;
          e.response_address = reinterpret_cast<const sockaddr*>(&r.from);
          e.message = r.response;
          e.time = transports::DnstapTime::now();
          e.query_time = sent_at;
          e.worker = worker_;
          dnstap_->log(e);
        }
        UpstreamReply reply;
        reply.rtt = std::chrono::microseconds(uint64_t{r.rtt_ms} * 1000);
        switch (r.status) {
          case transports::UpstreamStatus::ok:
            reply.status = UpstreamReply::Status::ok;
            reply.packet = std::move(r.response);
            reply.from = from_sockaddr(r.from);
            break;
          case transports::UpstreamStatus::timeout:
            reply.status = UpstreamReply::Status::timeout;
            reply.from = asked;
            break;
          case transports::UpstreamStatus::network_error:
          case transports::UpstreamStatus::bad_response:
            reply.status = UpstreamReply::Status::network_error;
            reply.from = asked;
            break;
          case transports::UpstreamStatus::bad_query:
          case transports::UpstreamStatus::destination_refused:
          case transports::UpstreamStatus::overloaded:
          case transports::UpstreamStatus::cancelled:
            // Our side's problem: the server must not be marked dead for it.
            reply.status = UpstreamReply::Status::local_error;
            reply.from = asked;
            break;
        }
        cb(std::move(reply));
      });
  if (tid == 0) {
    // The transport did not take it (shutting down): say so on a later turn.
    // The callback moved into the rejected send() is gone, so keep a copy.
    refused_.emplace(id, timers_.schedule(std::chrono::milliseconds(0), [this, id, asked, cb = on_reply_copy] {
      refused_.erase(id);
      UpstreamReply reply;
      reply.status = UpstreamReply::Status::local_error;
      reply.from = asked;
      cb(std::move(reply));
    }));
    return id;
  }
  in_flight_.emplace(id, tid);
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
  upstream_.cancel(it->second);
  in_flight_.erase(it);
}

}  // namespace sextant::resolver
