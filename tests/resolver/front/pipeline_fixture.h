// The whole front pipeline in-process: QueryPipeline over a real cache and a
// Walker on the scripted small internet (tests/resolver/walk/), queries as
// wire octets from a chosen client address and transport, answers captured
// from the Responder.
#pragma once

#include <arpa/inet.h>
#include <netinet/in.h>

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "cache/cache.h"
#include "resolver/front/access_control.h"
#include "resolver/front/query_pipeline.h"
#include "resolver/walk/walker.h"
#include "tests/resolver/walk/scripted_network.h"
#include "wire/message.h"
#include "wire/message_builder.h"

namespace sextant::resolver::testing {

// Collects what the pipeline sends (or abandons) for each query.
class CapturingChannel final : public transports::ResponseChannel {
 public:
  std::vector<std::vector<uint8_t>> answers;
  size_t abandoned = 0;
  void deliver(uint64_t, std::span<const uint8_t> answer) override { answers.emplace_back(answer.begin(), answer.end()); }
  void abandon(uint64_t) override { ++abandoned; }

 protected:
  void on_last_release() override {}
};

inline sockaddr_storage socket_address(const std::string& text, uint16_t port = 40000) {
  sockaddr_storage ss{};
  auto* v4 = reinterpret_cast<sockaddr_in*>(&ss);
  if (inet_pton(AF_INET, text.c_str(), &v4->sin_addr) == 1) {
    v4->sin_family = AF_INET;
    v4->sin_port = htons(port);
    return ss;
  }
  auto* v6 = reinterpret_cast<sockaddr_in6*>(&ss);
  if (inet_pton(AF_INET6, text.c_str(), &v6->sin6_addr) != 1) throw std::invalid_argument(text);
  v6->sin6_family = AF_INET6;
  v6->sin6_port = htons(port);
  return ss;
}

struct QuerySpec {
  std::string name = "www.example.com.";
  wire::RRType type = wire::RRType::A;
  bool edns = true;
  std::vector<wire::EdnsOption> options;
  uint16_t id = 0x1234;
};

inline std::vector<uint8_t> make_query(const QuerySpec& spec) {
  wire::Message m;
  m.header.id = spec.id;
  m.header.set_rd(true);
  m.questions.push_back({wire::Name::from_text(spec.name), spec.type, wire::RRClass::IN});
  if (spec.edns) {
    wire::Edns e;
    e.udp_payload_size = 1232;
    e.options = spec.options;
    m.edns = e;
  }
  std::vector<uint8_t> out;
  if (wire::build_message(m, out) != wire::WireError::ok) throw std::runtime_error("cannot build the query");
  return out;
}

// The cache's defaults, with room for ECS-scoped answers.
inline cache::CacheConfig fixture_cache_config() {
  cache::CacheConfig c;
  c.scoped_answer_max_bytes = 1 << 20;
  return c;
}

struct PipelineFixture {
  FakeLoop loop;
  ScriptedNetwork network{loop};
  cache::Cache cache{fixture_cache_config()};
  WalkerOptions walker_options;
  std::unique_ptr<Walker> walker;
  AccessControl acl{{AclRule{parse_prefix("0.0.0.0/0"), AclAction::allow},
                     AclRule{parse_prefix("::/0"), AclAction::allow}}};
  PipelineStats stats;
  DefenceStats defence_stats;
  PipelineSettings settings;
  std::unique_ptr<QueryPipeline> pipeline;
  CapturingChannel channel;

  PipelineFixture() {
    build_small_internet(network);
    walker_options.explore_one_in = 0;
    settings.defences.stats = &defence_stats;
  }

  // Builds the walker and pipeline from the settings (call after changing them).
  QueryPipeline& p() {
    if (!pipeline) {
      std::array<uint8_t, 32> key{};
      key.fill(7);
      walker = std::make_unique<Walker>(network, loop, walker_options, small_internet_hints(),
                                        std::make_unique<QueryRandomness>(key), &cache);
      pipeline = std::make_unique<QueryPipeline>(settings, acl, cache, *walker, loop, stats);
    }
    return *pipeline;
  }

  // Sends one query and runs the loop until it is answered or abandoned
  // (bounded); returns the answer, if any.
  std::optional<wire::Message> ask(const std::vector<uint8_t>& query, const std::string& client = "192.0.2.10",
                                   transports::Transport transport = transports::Transport::udp) {
    sockaddr_storage peer = socket_address(client);
    transports::Request r;
    r.query = query;
    r.peer = reinterpret_cast<const sockaddr*>(&peer);
    r.transport = transport;
    r.max_response_size = transport == transports::Transport::udp ? 1232 : 65535;
    size_t answers = channel.answers.size();
    size_t abandoned = channel.abandoned;
    p().handle(r, transports::Responder(&channel, 1));
    for (int i = 0; i < 2000 && channel.answers.size() == answers && channel.abandoned == abandoned; ++i)
      loop.run_for(std::chrono::milliseconds{5});
    if (channel.answers.size() == answers) return std::nullopt;
    wire::Message m;
    if (wire::Message::parse(channel.answers.back(), m) != wire::WireError::ok)
      throw std::runtime_error("the answer does not parse");
    return m;
  }
  std::optional<wire::Message> ask(const QuerySpec& spec, const std::string& client = "192.0.2.10",
                                   transports::Transport transport = transports::Transport::udp) {
    return ask(make_query(spec), client, transport);
  }
};

// The COOKIE option of an answer (its data), if any.
inline std::optional<std::vector<uint8_t>> cookie_of(const wire::Message& m) {
  if (!m.edns) return std::nullopt;
  const wire::EdnsOption* o = m.edns->find(wire::EdnsOptionCode::Cookie);
  if (!o) return std::nullopt;
  return o->data;
}

inline wire::EdnsOption cookie_option(std::span<const uint8_t> data) {
  return wire::EdnsOption{static_cast<uint16_t>(wire::EdnsOptionCode::Cookie), {data.begin(), data.end()}};
}

}  // namespace sextant::resolver::testing
