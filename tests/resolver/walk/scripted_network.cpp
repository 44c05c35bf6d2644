#include "scripted_network.h"

#include <fmt/format.h>

#include <algorithm>
#include <stdexcept>

#include "resolver/walk/response_classifier.h"
#include "wire/rdata.h"
#include "wire/zone_reader.h"

namespace sextant::resolver::testing {

using std::chrono::duration_cast;
using std::chrono::milliseconds;

// ---------------------------------------------------------------------------
// FakeLoop

uint32_t FakeLoop::wall_seconds() const {
  return 1'750'000'000u + static_cast<uint32_t>(
                              std::chrono::duration_cast<std::chrono::seconds>(now_ - start_).count());
}

TimerService::TimerId FakeLoop::schedule(milliseconds delay, std::function<void()> callback) {
  TimerId id = next_id_++;
  Key key{now_ + std::max(delay, milliseconds{0}), id};
  queue_.emplace(key, std::make_pair(id, std::move(callback)));
  by_id_.emplace(id, key);
  return id;
}

void FakeLoop::cancel(TimerId id) {
  auto it = by_id_.find(id);
  if (it == by_id_.end()) return;
  queue_.erase(it->second);
  by_id_.erase(it);
}

size_t FakeLoop::run_for(milliseconds limit) {
  TimePoint end = now_ + limit;
  size_t ran = 0;
  while (!queue_.empty() && ran < 100000) {
    auto it = queue_.begin();
    if (it->first.first > end) break;
    now_ = std::max(now_, it->first.first);
    auto callback = std::move(it->second.second);
    by_id_.erase(it->second.first);
    queue_.erase(it);
    callback();
    ++ran;
  }
  now_ = std::max(now_, end);
  return ran;
}

size_t FakeLoop::run_until_idle() {
  size_t ran = 0;
  TimePoint end = now_ + std::chrono::hours(1);
  while (!queue_.empty() && ran < 10000) {
    auto it = queue_.begin();
    if (it->first.first > end) break;
    now_ = std::max(now_, it->first.first);
    auto callback = std::move(it->second.second);
    by_id_.erase(it->second.first);
    queue_.erase(it);
    callback();
    ++ran;
  }
  return ran;
}

milliseconds FakeLoop::elapsed() const { return duration_cast<milliseconds>(now_ - start_); }

// ---------------------------------------------------------------------------
// Helpers

wire::ResourceRecord rr(std::string_view text) {
  auto records = wire::read_zone_text(text, "test");
  if (records.size() != 1) throw std::invalid_argument(fmt::format("not one record: {}", text));
  return records[0];
}

ServerAddress address(std::string_view text) {
  auto a = ServerAddress::parse(text);
  if (!a) throw std::invalid_argument(fmt::format("bad address {}", text));
  return *a;
}

std::string SentQuery::to_string() const {
  return fmt::format("{:>5}ms {} {} {} {}{}", at.count(), server.to_string(),
                     resolver::to_string(protocol), qname.to_text(), wire::to_string(qtype),
                     edns ? "" : " (no EDNS)");
}

std::vector<std::string> section_text(const std::vector<wire::RRset>& sets) {
  std::vector<std::string> out;
  for (const auto& set : sets) {
    for (const auto& rdata : set.rdatas) {
      out.push_back(fmt::format("{} {} {}", set.owner.lowercased().to_text(),
                                wire::to_string(set.type), wire::rdata_to_text(set.type, rdata)));
    }
  }
  return out;
}

// ---------------------------------------------------------------------------
// ScriptedNetwork

ScriptedReply& ScriptedNetwork::on(std::string_view server, std::string_view name,
                                   std::optional<wire::RRType> type, ScriptedReply reply,
                                   uint32_t uses) {
  Rule rule;
  rule.server = address(server);
  rule.name = wire::Name::from_text(name);
  rule.type = type;
  rule.uses_left = uses;
  rule.limited = uses > 0;
  rule.reply = std::move(reply);
  rules_.push_back(std::move(rule));
  return rules_.back().reply;
}

ScriptedReply& ScriptedNetwork::on_subtree(std::string_view server, std::string_view zone,
                                           ScriptedReply reply, uint32_t uses) {
  ScriptedReply& r = on(server, zone, std::nullopt, std::move(reply), uses);
  rules_.back().subtree = true;
  return r;
}

void ScriptedNetwork::forget_rules(std::string_view server, std::string_view name) {
  ServerAddress a = address(server);
  wire::Name n = wire::Name::from_text(name);
  std::erase_if(rules_, [&](const Rule& r) { return r.server == a && r.name == n; });
}

void ScriptedNetwork::delegate(std::string_view server, std::string_view child,
                               const std::vector<std::pair<std::string, std::string>>& name_servers,
                               uint32_t ttl) {
  ScriptedReply reply;
  reply.aa = false;
  for (const auto& [ns, glue] : name_servers) {
    reply.authority.push_back(rr(fmt::format("{} {} IN NS {}", child, ttl, ns)));
    if (!glue.empty()) {
      bool v6 = glue.find(':') != std::string::npos;
      reply.additional.push_back(rr(fmt::format("{} {} IN {} {}", ns, ttl, v6 ? "AAAA" : "A", glue)));
    }
  }
  on_subtree(server, child, std::move(reply));
}

void ScriptedNetwork::serve_zone(std::string_view server, std::string_view origin,
                                 std::string_view text) {
  wire::ZoneReaderOptions options;
  options.origin = wire::Name::from_text(origin);
  options.default_ttl = 3600;
  zones_.push_back(Zone{address(server), options.origin, wire::read_zone_text(text, origin, options)});
}

std::optional<ScriptedReply> ScriptedNetwork::zone_reply(const ServerAddress& server,
                                                         const wire::Name& qname,
                                                         wire::RRType qtype) const {
  const Zone* zone = nullptr;
  for (const auto& z : zones_) {
    if (z.server == server && qname.is_subdomain_of(z.origin) &&
        (!zone || z.origin.label_count() >= zone->origin.label_count())) {
      zone = &z;
    }
  }
  if (!zone) {
    for (const auto& z : zones_) {
      if (z.server == server) {
        ScriptedReply refused;
        refused.rcode = wire::Rcode::REFUSED;
        refused.aa = false;
        return refused;
      }
    }
    return std::nullopt;
  }
  const auto& records = zone->records;
  auto soa = [&] {
    for (const auto& r : records) {
      if (r.type == wire::RRType::SOA) return r;
    }
    throw std::logic_error("scripted zone without SOA");
  };
  auto add_glue = [&](ScriptedReply& reply, const wire::ResourceRecord& ns) {
    auto target = rdata_target_name(ns.rdata);
    for (const auto& r : records) {
      if ((r.type == wire::RRType::A || r.type == wire::RRType::AAAA) && target &&
          r.owner == *target) {
        reply.additional.push_back(r);
      }
    }
  };
  ScriptedReply reply;
  // A delegation above or at the name (below the apex) wins, except for DS
  // at the cut itself, which the parent answers.
  const wire::ResourceRecord* cut = nullptr;
  for (const auto& r : records) {
    if (r.type != wire::RRType::NS || r.owner == zone->origin || !qname.is_subdomain_of(r.owner)) {
      continue;
    }
    if (qtype == wire::RRType::DS && r.owner == qname) continue;
    if (!cut || r.owner.label_count() < cut->owner.label_count()) cut = &r;
  }
  if (cut) {
    reply.aa = false;
    for (const auto& r : records) {
      if (r.type == wire::RRType::NS && r.owner == cut->owner) {
        reply.authority.push_back(r);
        add_glue(reply, r);
      }
    }
    return reply;
  }
  reply.aa = true;
  wire::Name name = qname;
  for (int hops = 0; hops < 8; ++hops) {
    bool exists = false;
    bool answered = false;
    const wire::ResourceRecord* cname = nullptr;
    for (const auto& r : records) {
      if (r.owner.is_subdomain_of(name)) exists = true;
      if (!(r.owner == name)) continue;
      if (r.type == qtype || (qtype == wire::RRType::ANY && r.type != wire::RRType::RRSIG)) {
        reply.answer.push_back(r);
        answered = true;
      } else if (r.type == wire::RRType::CNAME) {
        cname = &r;
      }
    }
    if (answered) {
      if (qtype == wire::RRType::NS) {
        for (const auto& r : reply.answer) add_glue(reply, r);
      }
      return reply;
    }
    if (cname) {
      reply.answer.push_back(*cname);
      auto target = rdata_target_name(cname->rdata);
      if (!target || !target->is_subdomain_of(zone->origin)) return reply;
      name = *target;
      continue;
    }
    // DNAME at an ancestor inside the zone.
    const wire::ResourceRecord* dname = nullptr;
    for (const auto& r : records) {
      if (r.type == wire::RRType::DNAME && name.is_subdomain_of(r.owner) && !(r.owner == name)) {
        dname = &r;
      }
    }
    if (dname) {
      reply.answer.push_back(*dname);
      auto target = rdata_target_name(dname->rdata);
      wire::Name synthesized;
      if (!target || !name.replace_suffix(dname->owner, *target, synthesized)) {
        reply.rcode = wire::Rcode::YXDOMAIN;
        return reply;
      }
      auto w = synthesized.wire();
      reply.answer.push_back(wire::ResourceRecord{name, wire::RRType::CNAME, wire::RRClass::IN,
                                                  dname->ttl, wire::Rdata(w.begin(), w.end())});
      if (!synthesized.is_subdomain_of(zone->origin)) return reply;
      name = synthesized;
      continue;
    }
    if (exists) {
      reply.authority.push_back(soa());
      return reply;
    }
    // Wildcard at the closest encloser (RFC 4592), one level only here.
    if (name.label_count() > zone->origin.label_count()) {
      wire::Name wildcard = name.parent().prepend("*");
      bool wildcard_answered = false;
      for (const auto& r : records) {
        if (r.owner == wildcard && r.type == qtype) {
          auto copy = r;
          copy.owner = name;
          reply.answer.push_back(copy);
          wildcard_answered = true;
        }
      }
      if (wildcard_answered) return reply;
    }
    reply.rcode = wire::Rcode::NXDOMAIN;
    reply.authority.push_back(soa());
    return reply;
  }
  return reply;
}

ScriptedNetwork::Rule* ScriptedNetwork::match(const ServerAddress& server, const wire::Name& name,
                                              wire::RRType type) {
  Rule* best = nullptr;
  int best_score = -1;
  for (auto& rule : rules_) {
    if (!(rule.server == server) || (rule.limited && rule.uses_left == 0)) continue;
    int score;
    if (!rule.subtree) {
      if (!(rule.name == name)) continue;
      if (rule.type && *rule.type != type) continue;
      score = rule.type ? 100000 : 90000;
    } else {
      if (!name.is_subdomain_of(rule.name)) continue;
      score = static_cast<int>(rule.name.label_count());
    }
    // Limited rules go first among equals, so "first answer badly, then well" works.
    score = score * 2 + (rule.limited ? 1 : 0);
    if (score > best_score) {
      best = &rule;
      best_score = score;
    }
  }
  if (best && best->limited) --best->uses_left;
  return best;
}

UpstreamNetwork::RequestId ScriptedNetwork::send(const ServerAddress& server,
                                                 UpstreamProtocol protocol,
                                                 std::span<const uint8_t> query, milliseconds timeout,
                                                 Callback on_reply) {
  RequestId id = next_id_++;
  wire::Message q;
  if (wire::Message::parse(query, q) != wire::WireError::ok || q.questions.size() != 1) {
    throw std::logic_error("walker sent an unparsable query");
  }
  SentQuery record;
  record.server = server;
  record.protocol = protocol;
  record.qname = q.questions[0].name;
  record.qtype = q.questions[0].type;
  record.id = q.header.id;
  record.edns = q.edns.has_value();
  record.dnssec_ok = q.edns && q.edns->dnssec_ok();
  record.recursion_desired = q.header.rd();
  record.checking_disabled = q.header.cd();
  record.size = query.size();
  record.at = loop_.elapsed();
  if (q.edns) record.options = q.edns->options;
  sent_.push_back(record);

  auto deliver_after = [&](milliseconds delay, UpstreamReply reply) {
    auto shared = std::make_shared<UpstreamReply>(std::move(reply));
    pending_[id] = loop_.schedule(delay, [this, id, shared, on_reply] {
      pending_.erase(id);
      on_reply(std::move(*shared));
    });
  };
  auto time_out = [&] {
    UpstreamReply r;
    r.status = UpstreamReply::Status::timeout;
    deliver_after(timeout, std::move(r));
  };

  Rule* rule = match(server, record.qname, record.qtype);
  std::optional<ScriptedReply> from_zone;
  if (!rule) from_zone = zone_reply(server, record.qname, record.qtype);
  if ((!rule && !from_zone) || (rule && rule->reply.behaviour == Behaviour::silent) ||
      (rule ? rule->reply.delay : from_zone->delay) >= timeout) {
    time_out();
    return id;
  }
  const ScriptedReply& script = rule ? rule->reply : *from_zone;
  if (script.behaviour == Behaviour::network_error || script.behaviour == Behaviour::local_error ||
      script.behaviour == Behaviour::auth_failure) {
    UpstreamReply r;
    r.status = script.behaviour == Behaviour::network_error ? UpstreamReply::Status::network_error
               : script.behaviour == Behaviour::local_error ? UpstreamReply::Status::local_error
                                                            : UpstreamReply::Status::auth_failure;
    if (script.behaviour == Behaviour::auth_failure) r.detail = "certificate does not match the name";
    deliver_after(milliseconds{1}, std::move(r));
    return id;
  }

  wire::Message response;
  response.header.id = q.header.id;
  response.header.set_qr(true);
  response.header.set_opcode(wire::Opcode::QUERY);
  response.header.set_aa(script.aa);
  response.header.set_ad(script.ad);
  response.header.set_rd(q.header.rd());
  response.questions = q.questions;
  if (q.edns) response.edns = wire::Edns{};
  response.answer = script.answer;
  response.authority = script.authority;
  response.additional = script.additional;
  response.set_rcode(script.rcode);

  UpstreamReply reply;
  reply.status = UpstreamReply::Status::ok;
  reply.from = server;
  switch (script.behaviour) {
    case Behaviour::wrong_id:
      response.header.id = static_cast<uint16_t>(q.header.id + 1);
      break;
    case Behaviour::wrong_question:
      response.questions[0].name = wire::Name::from_text("spoofed.invalid.");
      break;
    case Behaviour::mangle_case:
      response.questions[0].name.to_lower();
      break;
    case Behaviour::wrong_source:
      reply.from = address("203.0.113.254");
      break;
    case Behaviour::wrong_opcode:
      response.header.set_opcode(wire::Opcode::NOTIFY);
      break;
    case Behaviour::formerr_to_edns:
      if (q.edns) {
        response = wire::Message{};
        response.header.id = q.header.id;
        response.header.set_qr(true);
        response.set_rcode(wire::Rcode::FORMERR);
      }
      break;
    case Behaviour::truncate_udp:
      if (protocol == UpstreamProtocol::udp) {
        response.header.set_tc(true);
        response.answer.clear();
        response.authority.clear();
        response.additional.clear();
      }
      break;
    default:
      break;
  }
  if (reply_hook_) reply_hook_(q, server, protocol, response);
  if (script.raw) {
    reply.packet = script.raw(q);
  } else if (script.behaviour == Behaviour::garbage) {
    reply.packet = {0x12, 0x34, 0x81, 0x80, 0x00, 0x01, 0x00, 0x05, 0xff};
  } else if (wire::build_message(response, reply.packet) != wire::WireError::ok) {
    throw std::logic_error("cannot build the scripted reply");
  }
  reply.rtt = std::chrono::duration_cast<std::chrono::microseconds>(script.delay);
  deliver_after(script.delay, std::move(reply));
  return id;
}

void ScriptedNetwork::cancel(RequestId id) {
  auto it = pending_.find(id);
  if (it == pending_.end()) return;
  loop_.cancel(it->second);
  pending_.erase(it);
  ++cancelled_;
}

size_t ScriptedNetwork::sent_to(std::string_view server) const {
  ServerAddress a = address(server);
  return static_cast<size_t>(
      std::count_if(sent_.begin(), sent_.end(), [&](const SentQuery& q) { return q.server == a; }));
}

size_t ScriptedNetwork::sent_for(std::string_view name, wire::RRType type) const {
  wire::Name n = wire::Name::from_text(name);
  return static_cast<size_t>(std::count_if(sent_.begin(), sent_.end(), [&](const SentQuery& q) {
    return q.qname == n && q.qtype == type;
  }));
}

std::string ScriptedNetwork::log() const {
  std::string out;
  for (const auto& q : sent_) out += q.to_string() + "\n";
  return out;
}

// ---------------------------------------------------------------------------
// The small internet

RootHints small_internet_hints() {
  return RootHints::parse(R"(
. 3600000 NS a.root-servers.net.
. 3600000 NS b.root-servers.net.
a.root-servers.net. 3600000 A 198.41.0.4
b.root-servers.net. 3600000 A 199.9.14.201
)",
                          "test hints");
}

void build_small_internet(ScriptedNetwork& network) {
  constexpr std::string_view root_zone = R"(
@ 86400 SOA a.root-servers.net. nstld.verisign-grs.com. 2024010100 1800 900 604800 86400
@ 518400 NS a.root-servers.net.
@ 518400 NS b.root-servers.net.
a.root-servers.net. 518400 A 198.41.0.4
b.root-servers.net. 518400 A 199.9.14.201
com. 172800 NS a.gtld-servers.net.
net. 172800 NS a.gtld-servers.net.
a.gtld-servers.net. 172800 A 192.5.6.30
)";
  network.serve_zone(net::root_a, ".", root_zone);
  network.serve_zone(net::root_b, ".", root_zone);

  network.serve_zone(net::gtld, "com.", R"(
@ 900 SOA a.gtld-servers.net. nstld.verisign-grs.com. 1 1800 900 604800 86400
@ NS a.gtld-servers.net.
example 172800 NS ns1.example.com.
example 172800 NS ns2.example.com.
ns1.example 172800 A 192.0.2.53
ns2.example 172800 A 192.0.2.54
example 86400 DS 12345 13 2 0123456789ABCDEF0123456789ABCDEF0123456789ABCDEF0123456789ABCDEF
glueless 172800 NS ns.example.net.
)");
  network.serve_zone(net::gtld, "net.", R"(
@ 900 SOA a.gtld-servers.net. nstld.verisign-grs.com. 1 1800 900 604800 86400
@ NS a.gtld-servers.net.
example 172800 NS ns1.example.net.
ns1.example 172800 A 198.51.100.53
)");

  constexpr std::string_view example_com = R"(
@ 3600 SOA ns1 hostmaster 1 3600 900 604800 300
@ NS ns1
@ NS ns2
ns1 A 192.0.2.53
ns2 A 192.0.2.54
www 300 A 192.0.2.80
www AAAA 2001:db8::80
www TXT "hello"
alias CNAME www.example.net.
chain1 CNAME chain2
chain2 CNAME www
loop1 CNAME loop2
loop2 CNAME loop1
*.wild TXT "wildcard"
dept DNAME example.net.
a.b.c.d.e.f.g A 192.0.2.7
)";
  network.serve_zone(net::example_com_1, "example.com.", example_com);
  network.serve_zone(net::example_com_2, "example.com.", example_com);

  network.serve_zone(net::example_net, "example.net.", R"(
@ 3600 SOA ns1 hostmaster 1 3600 900 604800 600
@ NS ns1
ns1 A 198.51.100.53
ns A 198.51.100.53
www 600 A 198.51.100.80
sales A 198.51.100.81
)");
  network.serve_zone(net::example_net, "glueless.com.", R"(
@ 3600 SOA ns.example.net. hostmaster.example.net. 1 3600 900 604800 600
@ NS ns.example.net.
www A 203.0.113.80
)");
}

}  // namespace sextant::resolver::testing
