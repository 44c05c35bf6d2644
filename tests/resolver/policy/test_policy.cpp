// Views and the two stages of a whole policy, built from configuration text
// and files, and what a replacement flushes.
#include <catch2/catch.hpp>

#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <string>

#include <fmt/format.h>

#include "resolver/config/config.h"
#include "resolver/policy/policy_builder.h"

using namespace sextant;
using namespace sextant::resolver;
using namespace sextant::resolver::policy;

namespace {

wire::Name N(const char* t) { return wire::Name::from_text(t); }

// A scratch directory for list and zone files.
struct TempDir {
  std::string path;
  TempDir() {
    char tmpl[] = "/tmp/sextant-policy-XXXXXX";
    path = mkdtemp(tmpl);
  }
  ~TempDir() { std::system(("rm -rf " + path).c_str()); }
  std::string write(const std::string& name, const std::string& text) const {
    std::string p = path + "/" + name;
    std::ofstream(p) << text;
    return p;
  }
};

std::shared_ptr<const Policy> build(const std::string& yaml, BuildReport* report_out = nullptr,
                                    const Policy* previous = nullptr, ViewTags* tags = nullptr) {
  Config c = load_config_text(yaml, "test.yaml");
  BuildContext ctx;
  ctx.previous = previous;
  ctx.tags = tags;
  BuildReport report;
  auto p = build_policy(c.policy, ctx, report);
  if (report_out) *report_out = report;
  return p;
}

Address v4(uint8_t a, uint8_t b, uint8_t c, uint8_t d, uint16_t port = 0) {
  uint8_t bytes[4] = {a, b, c, d};
  Address x = Address::v4(bytes);
  x.port = port;
  return x;
}

QueryDecision ask(const View& v, const char* name, wire::RRType type = wire::RRType::A,
                  Address client = v4(127, 0, 0, 1)) {
  return v.check_query(LookupName(N(name)), type, client);
}

}  // namespace

TEST_CASE("policy: no policy configured is inactive", "[policy]") {
  auto p = build("");
  CHECK_FALSE(p->active());
  CHECK(p->views().size() == 1);
  CHECK(p->views()[0].cache_tag == 0);
}

TEST_CASE("policy: the query stage in order: local data, allowlist, blocklists, RPZ", "[policy]") {
  TempDir dir;
  std::string rpz = dir.write("threats.rpz", "$ORIGIN rpz.test.\n@ 300 SOA ns h 1 1 1 1 1\nevil.example CNAME .\n"
                                             "blocked.example CNAME rpz-passthru.\n");
  std::string hosts = dir.write("ads.hosts", "0.0.0.0 ads.example\n0.0.0.0 blocked.example\nnot a line\n");
  BuildReport report;
  auto p = build(fmt::format(R"(
policy:
  local-data: ["db.internal. A 10.0.0.5", "ads.example. A 10.0.0.6"]
  allowlist: {{names: ["*.example", api.allowed.test]}}
  blocklists: [{{name: ads, file: {}}}]
  rpz: [{{file: {}, zone: rpz.test}}]
)",
                             hosts, rpz),
                 &report);
  REQUIRE(p->active());
  const View& v = p->views().back();
  CHECK(report.warnings.size() == 1);  // the bad line, reported
  CHECK(report.warnings[0].find("ads.hosts:3:") != std::string::npos);

  // Local data first, even for a listed name and outside the allowlist.
  CHECK(ask(v, "db.internal.").answer.match.kind == PolicyKind::local_data);
  CHECK(ask(v, "ads.example.").answer.match.kind == PolicyKind::local_data);
  // Not in the allowlist.
  auto refused = ask(v, "other.test.");
  CHECK(refused.answer.disposition == Disposition::refuse);
  CHECK(refused.answer.match.kind == PolicyKind::refused_by_allowlist);
  auto allowed = ask(v, "api.allowed.test.");
  CHECK(allowed.answer.disposition == Disposition::pass);
  CHECK(allowed.answer.match.kind == PolicyKind::allowed);
  // Allowed, then blocked by the list before RPZ's PASSTHRU is looked at.
  auto blocked = ask(v, "x.blocked.example.");
  CHECK(blocked.answer.match.kind == PolicyKind::blocked);
  CHECK(blocked.answer.match.source == "ads");
  auto evil = ask(v, "evil.example.");
  CHECK(evil.answer.match.kind == PolicyKind::rpz);
  CHECK(evil.answer.rcode == wire::Rcode::NXDOMAIN);
  CHECK(evil.answer.match.source == "rpz.test.");
  CHECK(ask(v, "fine.example.").answer.disposition == Disposition::pass);
  // The allowlist's wildcard does not cover its own name.
  CHECK(ask(v, "example.").answer.disposition == Disposition::refuse);
}

TEST_CASE("policy: views by client subnet and listener, with and without inherit", "[policy][views]") {
  auto p = build(R"(
policy:
  local-data: ["www.corp.example. A 192.0.2.1"]
  blocklists: [{name: top, names: [top-blocked.example]}]
  views:
    - name: internal
      clients: [10.0.0.0/8]
      local-data: ["www.corp.example. A 10.0.0.1", "intranet.corp.example. A 10.0.0.2"]
    - name: guests
      listeners: ["127.0.0.1@5353"]
      inherit: true
      blocklists: [{name: guests, names: [social.example]}]
)");
  const View& internal = p->select(v4(10, 1, 2, 3), v4(127, 0, 0, 1, 53));
  CHECK(internal.name == "internal");
  const View& guests = p->select(v4(192, 168, 1, 2), v4(127, 0, 0, 1, 5353));
  CHECK(guests.name == "guests");
  const View& top = p->select(v4(192, 168, 1, 2), v4(127, 0, 0, 1, 53));
  CHECK(top.name == "default");

  // Split horizon: internal clients see internal data, others do not.
  auto in = ask(internal, "intranet.corp.example.");
  CHECK(in.answer.answer_count == 1);
  CHECK(ask(top, "intranet.corp.example.").answer.disposition == Disposition::pass);
  // The internal view sets its own data and inherits nothing.
  CHECK(ask(internal, "top-blocked.example.").answer.disposition == Disposition::pass);
  // Guests inherit the local data, replace the blocklists.
  CHECK(ask(guests, "www.corp.example.").answer.answer_count == 1);
  CHECK(ask(guests, "social.example.").answer.match.kind == PolicyKind::blocked);
  CHECK(ask(guests, "top-blocked.example.").answer.disposition == Disposition::pass);
  // Views with a response stage get cache tags of their own.
  CHECK(internal.cache_tag == 0);
  CHECK(guests.cache_tag != 0);
  CHECK(top.cache_tag != 0);
  CHECK(guests.cache_tag != top.cache_tag);
}

TEST_CASE("policy: the response stage: CNAME targets and response IP", "[policy]") {
  TempDir dir;
  std::string rpz = dir.write("r.rpz",
                              "$ORIGIN rpz.test.\n@ 300 SOA ns h 1 1 1 1 1\ncdn.evil.example CNAME .\n"
                              "24.0.2.0.192.rpz-ip CNAME *.\n");
  auto p = build(fmt::format("policy:\n  blocklists: [{{name: l, names: [tracker.example]}}]\n  rpz: [{{file: {}}}]\n", rpz));
  const View& v = p->views().back();
  REQUIRE(v.has_response_stage());
  auto cname = [](const char* owner, const char* target) {
    wire::RRset s;
    s.owner = N(owner);
    s.type = wire::RRType::CNAME;
    auto t = N(target);
    s.rdatas.emplace_back(t.wire().begin(), t.wire().end());
    return s;
  };
  auto a = [](const char* owner, std::array<uint8_t, 4> addr) {
    wire::RRset s;
    s.owner = N(owner);
    s.type = wire::RRType::A;
    s.rdatas.emplace_back(addr.begin(), addr.end());
    return s;
  };
  LookupName q(N("www.good.example."));
  std::vector<wire::RRset> to_tracker{cname("www.good.example.", "x.tracker.example."), a("x.tracker.example.", {198, 51, 100, 1})};
  auto blocked = v.check_response(q, wire::RRType::A, to_tracker, false);
  CHECK(blocked.match.kind == PolicyKind::blocked);
  CHECK(blocked.rcode == wire::Rcode::NXDOMAIN);
  std::vector<wire::RRset> to_evil{cname("www.good.example.", "cdn.evil.example."), a("cdn.evil.example.", {198, 51, 100, 2})};
  CHECK(v.check_response(q, wire::RRType::A, to_evil, false).match.kind == PolicyKind::rpz);
  std::vector<wire::RRset> bad_ip{a("www.good.example.", {192, 0, 2, 7})};
  auto ip = v.check_response(q, wire::RRType::A, bad_ip, false);
  CHECK(ip.match.kind == PolicyKind::rpz);
  CHECK(ip.match.trigger == RpzTrigger::response_ip);
  CHECK(ip.rcode == wire::Rcode::NOERROR);
  CHECK(ip.disposition == Disposition::answer);
  // An RPZ PASSTHRU at the query stage skips RPZ here (the list still applies).
  CHECK(v.check_response(q, wire::RRType::A, bad_ip, true).disposition == Disposition::pass);
  CHECK(v.check_response(q, wire::RRType::A, to_tracker, true).match.kind == PolicyKind::blocked);
  std::vector<wire::RRset> clean{a("www.good.example.", {198, 51, 100, 3})};
  CHECK(v.check_response(q, wire::RRType::A, clean, false).disposition == Disposition::pass);
}

TEST_CASE("policy builder: errors at start-up, kept copies on reload", "[policy][builder]") {
  TempDir dir;
  std::string good = dir.write("z.rpz", "$ORIGIN rpz.test.\n@ 300 SOA ns h 1 1 1 1 1\na.example CNAME .\n");
  std::string yaml = fmt::format("policy:\n  rpz: [{{file: {}}}]\n  blocklists: [{{name: b, file: {}}}]\n", good,
                                 dir.write("b.list", "blocked.example\n"));
  auto first = build(yaml);
  // Start-up: a missing file or a broken zone stops the build, naming the place.
  try {
    build("policy:\n  blocklists: [{name: x, file: /nonexistent/list}]\n");
    FAIL("no error");
  } catch (const PolicyError& e) {
    CHECK(std::string(e.what()).find("test.yaml:2: policy.blocklists[x]: /nonexistent/list: cannot open") == 0);
  }
  dir.write("z.rpz", "$ORIGIN rpz.test.\n@ 300 SOA ns h 2 1 1 1 1\na.example CNAME .\nb.example A not-an-address\n");
  try {
    build(yaml);
    FAIL("no error");
  } catch (const PolicyError& e) {
    CHECK(std::string(e.what()).find(good + ":4:") != std::string::npos);
  }
  // Reload: the broken zone keeps its previous copy; the rest is rebuilt.
  dir.write("b.list", "blocked.example\nalso.example\n");
  BuildReport report;
  auto second = build(yaml, &report, first.get());
  REQUIRE(report.errors.size() == 1);
  CHECK(report.errors[0].find("the previous copy stays") != std::string::npos);
  const View& v = second->views().back();
  REQUIRE(v.rpz.size() == 1);
  CHECK(v.rpz[0] == first->views().back().rpz[0]);
  CHECK(v.rpz[0]->serial() == 1u);
  CHECK(ask(v, "also.example.").answer.match.kind == PolicyKind::blocked);
}

TEST_CASE("policy: what a replacement flushes", "[policy][flush]") {
  TempDir dir;
  ViewTags tags;
  auto list = [&](const char* text) { return dir.write("l.list", text); };
  std::string yaml = fmt::format("policy:\n  blocklists: [{{name: l, file: {}}}]\n", list("a.example\nb.example\n"));
  auto p1 = build(yaml, nullptr, nullptr, &tags);
  uint16_t tag = p1->views().back().cache_tag;
  REQUIRE(tag != 0);
  // Same content: nothing to flush.
  auto p2 = build(yaml, nullptr, p1.get(), &tags);
  CHECK(p2->views().back().cache_tag == tag);
  CHECK(plan_answer_flush(*p1, *p2).empty());
  // One name added, one removed: those names only.
  list("a.example\nc.example\n");
  auto p3 = build(yaml, nullptr, p2.get(), &tags);
  auto flush = plan_answer_flush(*p2, *p3);
  REQUIRE(flush.size() == 1);
  CHECK(flush[0].tag == tag);
  CHECK_FALSE(flush[0].everything);
  CHECK(flush[0].covers(N("x.b.example.")));
  CHECK(flush[0].covers(N("c.example.")));
  CHECK_FALSE(flush[0].covers(N("a.example.")));
  CHECK_FALSE(flush[0].covers(N("other.example.")));
  // DNS64 turned on: everything of the view.
  auto p4 = build(yaml + "  dns64: {prefix: '64:ff9b::/96'}\n", nullptr, p3.get(), &tags);
  auto all = plan_answer_flush(*p3, *p4);
  REQUIRE(all.size() == 1);
  CHECK(all[0].everything);
  // The policy removed: the tag's answers go.
  auto p5 = build("", nullptr, p4.get(), &tags);
  auto gone = plan_answer_flush(*p4, *p5);
  REQUIRE(gone.size() == 1);
  CHECK(gone[0].everything);
}

TEST_CASE("policy: an RPZ zone replaced by a transfer", "[policy]") {
  TempDir dir;
  std::string f = dir.write("z.rpz", "$ORIGIN rpz.test.\n@ 300 SOA ns h 1 1 1 1 1\na.example CNAME .\n");
  auto p = build(fmt::format("policy:\n  rpz: [{{file: {}, name: feed}}]\n", f));
  RpzOptions o;
  o.name = "feed";
  RpzZoneBuilder b(N("rpz.test."), o, "transfer");
  b.add(wire::ResourceRecord{N("b.example.rpz.test."), wire::RRType::CNAME, wire::RRClass::IN, 300, wire::Rdata{0}});
  auto next = p->with_rpz_zone("feed", b.finish());
  REQUIRE(next);
  const View& v = next->views().back();
  CHECK(ask(v, "b.example.").answer.rcode == wire::Rcode::NXDOMAIN);
  CHECK(ask(v, "a.example.").answer.disposition == Disposition::pass);
  CHECK_FALSE(p->with_rpz_zone("other", nullptr));
}
