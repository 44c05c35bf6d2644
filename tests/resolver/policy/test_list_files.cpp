// The list formats: hosts, domains, Adblock; bad lines reported, not fatal.
#include <catch2/catch.hpp>

#include <string>
#include <vector>

#include "resolver/policy/domain_lists.h"
#include "resolver/policy/list_files.h"

using namespace sextant;
using namespace sextant::resolver::policy;

namespace {

struct Collected {
  std::vector<std::string> names;
  ListReport report;
};

Collected read(std::string_view text, ListFormat format = ListFormat::any) {
  Collected c;
  c.report.source = "list.txt";
  parse_domain_list(text, format, c.report, [&](const wire::Name& n, bool below_only, size_t) {
    c.names.push_back((below_only ? "*." : "") + n.to_text());
  });
  return c;
}

wire::Name N(const char* t) { return wire::Name::from_text(t); }

}  // namespace

TEST_CASE("lists: hosts, domains and Adblock lines with comments", "[policy][lists]") {
  auto c = read(
      "# a StevenBlack-style header\n"
      "127.0.0.1 localhost\n"
      "0.0.0.0 ads.example.com tracker.example.net   # two names\n"
      "::  v6only.example.org\n"
      "\n"
      "plain.example.com\r\n"
      "*.below.example.com\n"
      "||adblock.example.com^\n"
      "! an Adblock comment\n"
      "[Adblock Plus 2.0]\n");
  CHECK(c.names == std::vector<std::string>{"ads.example.com.", "tracker.example.net.", "v6only.example.org.",
                                            "plain.example.com.", "*.below.example.com.", "adblock.example.com."});
  CHECK(c.report.bad_lines == 0);
  CHECK(c.report.lines == 10);
}

TEST_CASE("lists: bad lines are counted with their line numbers and the good ones kept", "[policy][lists]") {
  auto c = read(
      "good.example.com\n"
      "http://bad.example.com/path\n"
      "0.0.0.0\n"
      "two names.example.com\n"
      "||modifier.example.com^$third-party\n"
      "@@||exception.example.com^\n"
      "a..b.example.com\n" +
      std::string(70, 'x') + ".example.com\n"
      "also.good.example.com\n");
  CHECK(c.names == std::vector<std::string>{"good.example.com.", "also.good.example.com."});
  CHECK(c.report.bad_lines == 7);
  REQUIRE(c.report.problems.size() == 7);
  CHECK(c.report.problems[0].line == 2);
  CHECK(c.report.problems[1].line == 3);
  CHECK(c.report.problems[1].message == "an address without a name");
  std::string text = c.report.problems_text();
  CHECK(text.find("list.txt:2: ") != std::string::npos);
  CHECK(text.find("list.txt:8: ") != std::string::npos);
}

TEST_CASE("lists: a forced format refuses the other one's lines", "[policy][lists]") {
  auto hosts = read("0.0.0.0 a.example\nb.example\n", ListFormat::hosts);
  CHECK(hosts.names == std::vector<std::string>{"a.example."});
  CHECK(hosts.report.bad_lines == 1);
  auto domains = read("0.0.0.0 a.example\nb.example\n", ListFormat::domains);
  CHECK(domains.names == std::vector<std::string>{"b.example."});
  CHECK(domains.report.bad_lines == 1);
}

TEST_CASE("lists: only the first problems are kept, all are counted", "[policy][lists]") {
  std::string text;
  for (int i = 0; i < 50; ++i) text += "bad/line\n";
  auto c = read(text);
  CHECK(c.report.bad_lines == 50);
  CHECK(c.report.problems.size() == ListReport::kMaxKept);
  CHECK(c.report.problems_text().find("and 30 more bad lines") != std::string::npos);
}

TEST_CASE("hosts files for local data: address and names", "[policy][lists]") {
  ListReport r;
  r.source = "hosts";
  std::vector<std::pair<std::string, std::vector<std::string>>> got;
  parse_hosts_file("10.0.0.5 db.internal db   # the database\n::1 ip6.internal\nnot-an-address x\n10.0.0.6 *.bad\n", r,
                   [&](const Address& a, const std::vector<wire::Name>& names, size_t) {
                     std::vector<std::string> n;
                     for (const auto& x : names) n.push_back(x.to_text());
                     got.emplace_back(a.to_text(), n);
                   });
  REQUIRE(got.size() == 2);
  CHECK(got[0].first == "10.0.0.5");
  CHECK(got[0].second == std::vector<std::string>{"db.internal.", "db."});
  CHECK(got[1].first == "::1");
  CHECK(r.bad_lines == 2);
}

TEST_CASE("blocklist: suffix matching and the actions", "[policy][lists]") {
  BlocklistOptions o;
  o.name = "ads";
  Blocklist b(o);
  b.add(N("ads.example.com."), false);
  b.add(N("below.example.com."), true);
  PolicyAnswer a;
  CHECK(b.check(LookupName(N("ads.example.com.")), wire::RRType::A, a));
  CHECK(a.rcode == wire::Rcode::NXDOMAIN);
  CHECK(a.match.kind == PolicyKind::blocked);
  CHECK(a.match.source == "ads");
  CHECK(a.ede == wire::EdeCode::Blocked);
  PolicyAnswer deep;
  CHECK(b.check(LookupName(N("x.y.ADS.example.com.")), wire::RRType::A, deep));
  CHECK(deep.match.rule_name == N("ads.example.com."));
  PolicyAnswer none;
  CHECK_FALSE(b.check(LookupName(N("example.com.")), wire::RRType::A, none));
  CHECK_FALSE(b.check(LookupName(N("notads.example.com.")), wire::RRType::A, none));
  CHECK_FALSE(b.check(LookupName(N("below.example.com.")), wire::RRType::A, none));
  CHECK(b.check(LookupName(N("x.below.example.com.")), wire::RRType::A, none));

  BlocklistOptions s;
  s.name = "sink";
  s.action = BlockAction::sinkhole;
  uint8_t zero4[4] = {0, 0, 0, 0};
  s.sinkhole.push_back(Address::v4(zero4));
  Blocklist sink(s);
  sink.add(N("sink.example."), false);
  PolicyAnswer sa;
  CHECK(sink.check(LookupName(N("sink.example.")), wire::RRType::A, sa));
  CHECK(sa.answer_count == 1);
  CHECK(sa.owner_is_qname);
  PolicyAnswer saaaa;  // no IPv6 sinkhole configured: NODATA
  CHECK(sink.check(LookupName(N("sink.example.")), wire::RRType::AAAA, saaaa));
  CHECK(saaaa.answer_count == 0);
  CHECK(saaaa.rcode == wire::Rcode::NOERROR);
}

TEST_CASE("allowlist: literal names and a leading wildcard for the names below", "[policy][lists]") {
  Allowlist allow(AllowlistMiss::refuse);
  allow.add(N("api.example.com."), false);
  allow.add(N("svc.example.net."), true);
  PolicyAnswer a;
  CHECK(allow.allows(LookupName(N("api.example.com.")), a));
  CHECK_FALSE(allow.allows(LookupName(N("x.api.example.com.")), a));  // literal: not below
  CHECK(a.disposition == Disposition::refuse);
  CHECK(a.ede == wire::EdeCode::Prohibited);
  CHECK(a.match.kind == PolicyKind::refused_by_allowlist);
  PolicyAnswer b;
  CHECK(allow.allows(LookupName(N("a.svc.example.net.")), b));
  CHECK(allow.allows(LookupName(N("a.b.svc.example.net.")), b));
  CHECK_FALSE(allow.allows(LookupName(N("svc.example.net.")), b));  // the wildcard's own name is not allowed
  Allowlist nx(AllowlistMiss::nxdomain);
  PolicyAnswer c;
  CHECK_FALSE(nx.allows(LookupName(N("other.example.")), c));
  CHECK(c.disposition == Disposition::answer);
  CHECK(c.rcode == wire::Rcode::NXDOMAIN);
}
