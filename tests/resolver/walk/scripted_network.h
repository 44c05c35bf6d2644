// A fake clock and a scripted "internet" for whole-resolution unit tests.
//
// FakeLoop implements TimerService: time moves only when the test runs
// events, so timeouts of seconds take microseconds and every run is
// deterministic. ScriptedNetwork implements UpstreamNetwork from a table of
// rules (server address, query name, query type) -> reply or misbehaviour;
// replies are built for each query (its ID, its question in its case) and
// delivered through the loop after a scripted delay. Queries no rule matches
// get silence, like a dead server.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "resolver/walk/resolution_result.h"
#include "resolver/walk/root_hints.h"
#include "resolver/walk/timer_service.h"
#include "resolver/walk/upstream_network.h"
#include "wire/message.h"
#include "wire/record.h"

namespace sextant::resolver::testing {

class FakeLoop : public TimerService {
 public:
  TimePoint now() const override { return now_; }
  uint32_t wall_seconds() const override;
  TimerId schedule(std::chrono::milliseconds delay, std::function<void()> callback) override;
  void cancel(TimerId id) override;

  // Runs due events in time order until none is left or `limit` passes
  // (then the clock stands at the limit). Returns the events run.
  size_t run_for(std::chrono::milliseconds limit);
  // Runs until no event is left (bounded by 10 000 events and 1 hour).
  size_t run_until_idle();
  std::chrono::milliseconds elapsed() const;
  size_t pending() const noexcept { return queue_.size(); }

 private:
  using Key = std::pair<TimePoint, uint64_t>;
  TimePoint start_ = TimePoint{} + std::chrono::hours(1000);
  TimePoint now_ = start_;
  uint64_t next_id_ = 1;
  std::map<Key, std::pair<TimerId, std::function<void()>>> queue_;
  std::unordered_map<TimerId, Key> by_id_;
};

// What a scripted server does with a matching query.
enum class Behaviour : uint8_t {
  answer,          // the reply as scripted
  silent,          // nothing: the exchange times out
  network_error,   // the send fails at once (ICMP unreachable)
  local_error,     // our side cannot send it (e.g. every upstream socket in use)
  auth_failure,    // an encrypted upstream's certificate or pin does not match
  wrong_id,        // the reply with another message ID
  wrong_question,  // the reply for another name
  mangle_case,     // the reply with the question lower-cased (breaks 0x20)
  wrong_source,    // the reply arrives from another address
  formerr_to_edns, // FORMERR (no OPT, no question) to queries with EDNS, else the reply
  truncate_udp,    // TC=1 and empty sections over UDP, the reply over TCP
  garbage,         // octets that do not parse
  wrong_opcode,    // the reply with opcode NOTIFY instead of QUERY
};

struct ScriptedReply {
  wire::Rcode rcode = wire::Rcode::NOERROR;
  bool aa = true;
  bool ad = false;  // a validating upstream's claim (the walker must not believe it)
  std::vector<wire::ResourceRecord> answer;
  std::vector<wire::ResourceRecord> authority;
  std::vector<wire::ResourceRecord> additional;
  Behaviour behaviour = Behaviour::answer;
  std::chrono::milliseconds delay{10};
  // When set, the reply's octets come from this function, given the query
  // as sent (its ID and its question in the 0x20 case): for packets the
  // message builder does not write, such as rdata names of any type
  // compressed against the question. The sections above are then unused.
  std::function<std::vector<uint8_t>(const wire::Message& query)> raw;
};

struct SentQuery {
  ServerAddress server;
  UpstreamProtocol protocol = UpstreamProtocol::udp;
  wire::Name qname;  // exactly as sent (0x20 case)
  wire::RRType qtype = wire::RRType::A;
  uint16_t id = 0;
  bool edns = false;
  bool dnssec_ok = false;
  bool recursion_desired = false;
  bool checking_disabled = false;
  size_t size = 0;  // octets of the query as sent
  std::chrono::milliseconds at{0};  // loop time since start
  // EDNS options as sent (cookie, client subnet ...), in order.
  std::vector<wire::EdnsOption> options;
  std::string to_string() const;
};

// "owner ttl [class] type rdata" → a record (throws on bad text).
wire::ResourceRecord rr(std::string_view text);
ServerAddress address(std::string_view text);

class ScriptedNetwork : public UpstreamNetwork {
 public:
  explicit ScriptedNetwork(FakeLoop& loop) : loop_(loop) {}

  // Answers queries to `server` for exactly `name` (any type if `type` is
  // nullopt). `uses` > 0 limits how often the rule applies; later rules of
  // the same specificity take over when it is used up.
  ScriptedReply& on(std::string_view server, std::string_view name,
                    std::optional<wire::RRType> type, ScriptedReply reply = {}, uint32_t uses = 0);
  // Answers queries for `zone` and every name below it, for any type,
  // unless a more specific rule matches (the longest matching zone wins).
  ScriptedReply& on_subtree(std::string_view server, std::string_view zone,
                            ScriptedReply reply = {}, uint32_t uses = 0);

  // Removes the rules for exactly (`server`, `name`), so a test can change
  // what a server says about a name (rules of equal specificity do not
  // override each other: the first one added wins).
  void forget_rules(std::string_view server, std::string_view name);

  // Convenience: a referral from `server` for everything under `child`
  // to the NS names given as {name, address-or-empty} (glue if an address).
  void delegate(std::string_view server, std::string_view child,
                const std::vector<std::pair<std::string, std::string>>& name_servers,
                uint32_t ttl = 86400);

  // Serves a whole zone from `server` like an authoritative server would:
  // answers, CNAME (and in-zone chain), DNAME with synthesised CNAME,
  // wildcards, NODATA/NXDOMAIN with the SOA, referrals (with glue) at
  // delegations, REFUSED outside the zone. `text` is master-file text with
  // `origin` as $ORIGIN and a default TTL of 3600. Rules added with on()
  // take precedence.
  void serve_zone(std::string_view server, std::string_view origin, std::string_view text);

  RequestId send(const ServerAddress& server, UpstreamProtocol protocol,
                 std::span<const uint8_t> query, std::chrono::milliseconds timeout,
                 Callback on_reply) override;
  void cancel(RequestId id) override;

  // Runs on every reply built (after its Behaviour) with the query, the
  // server and the protocol: tests edit the reply there (EDNS options such
  // as cookies or client subnet, rcode ...).
  using ReplyHook =
      std::function<void(const wire::Message& query, const ServerAddress& server, UpstreamProtocol, wire::Message& reply)>;
  void set_reply_hook(ReplyHook hook) { reply_hook_ = std::move(hook); }

  const std::vector<SentQuery>& sent() const noexcept { return sent_; }
  size_t sent_to(std::string_view server) const;
  size_t sent_for(std::string_view name, wire::RRType type) const;
  size_t cancelled() const noexcept { return cancelled_; }
  size_t outstanding() const noexcept { return pending_.size(); }
  std::string log() const;

 private:
  struct Rule {
    ServerAddress server;
    wire::Name name;
    bool subtree = false;
    std::optional<wire::RRType> type;
    uint32_t uses_left = 0;  // 0 = unlimited
    bool limited = false;
    ScriptedReply reply;
  };
  struct Zone {
    ServerAddress server;
    wire::Name origin;
    std::vector<wire::ResourceRecord> records;
  };
  Rule* match(const ServerAddress& server, const wire::Name& name, wire::RRType type);
  std::optional<ScriptedReply> zone_reply(const ServerAddress& server, const wire::Name& name,
                                          wire::RRType type) const;

  FakeLoop& loop_;
  std::vector<Rule> rules_;
  std::vector<Zone> zones_;
  std::vector<SentQuery> sent_;
  std::unordered_map<RequestId, TimerService::TimerId> pending_;
  RequestId next_id_ = 1;
  size_t cancelled_ = 0;
  ReplyHook reply_hook_;
};

// Records the callback's result (and how often it ran).
struct ResultCapture {
  std::vector<ResolutionResult> results;
  std::vector<std::chrono::milliseconds> at;
  const ResolutionResult& last() const { return results.back(); }
};

// A small internet: root (a/b.root-servers.net), com and net (one gTLD
// server), example.com (two servers, glue), example.net, glueless.com (NS
// in example.net, no glue). Zone contents are in scripted_network.cpp.
namespace net {
inline constexpr std::string_view root_a = "198.41.0.4";
inline constexpr std::string_view root_b = "199.9.14.201";
inline constexpr std::string_view gtld = "192.5.6.30";
inline constexpr std::string_view example_com_1 = "192.0.2.53";
inline constexpr std::string_view example_com_2 = "192.0.2.54";
inline constexpr std::string_view example_net = "198.51.100.53";
}  // namespace net
void build_small_internet(ScriptedNetwork& network);
// Hints naming the two root servers above.
RootHints small_internet_hints();

// Text of an answer/authority section for assertions: "owner TYPE rdata"
// lines in order, names lower-cased.
std::vector<std::string> section_text(const std::vector<wire::RRset>& sets);

}  // namespace sextant::resolver::testing
