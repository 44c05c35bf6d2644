// `sextant control trace`: one traced, cold resolution on a walker and the
// reply it makes (the daemon runs it on a worker's loop; here on the
// scripted internet's fake loop).
#include <catch2/catch.hpp>

#include <memory>

#include "resolver/daemon/control_trace.h"
#include "tests/resolver/walk/walker_fixture.h"

using namespace sextant;
using namespace sextant::resolver;
using namespace sextant::resolver::testing;
using std::chrono::milliseconds;
using wire::RRType;

TEST_CASE("control trace: the steps, then the result, from upstream although cached",
          "[control][trace]") {
  WalkerFixture f;
  REQUIRE(f.resolve("www.example.com.", RRType::A).rcode == wire::Rcode::NOERROR);
  const size_t sent = f.sent();
  auto run = std::make_shared<TracedResolution>(
      wire::Question{wire::Name::from_text("www.example.com."), RRType::A, wire::RRClass::IN});
  run->start(f.w());
  CHECK_FALSE(run->wait(milliseconds{0}));  // the answer comes from the loop, never at once
  f.loop.run_for(milliseconds{500});
  REQUIRE(run->wait(milliseconds{0}));
  CHECK(f.sent() == sent + 1);  // cold: asked again, from the cached cut
  std::string report = run->report();
  INFO(report);
  CHECK(report.rfind("trace www.example.com. A: not answered from the cache, not shared with "
                     "other questions; what it learns is cached\n",
                     0) == 0);
  CHECK(report.find("judged as answer: www.example.com. 300 A 192.0.2.80") != std::string::npos);
  CHECK(report.find(";; rcode NOERROR, DNSSEC unchecked, 1 upstream queries") != std::string::npos);
  CHECK(report.find(";; answer\nwww.example.com. 300 IN A 192.0.2.80\n") != std::string::npos);
}

TEST_CASE("control trace: a failure to start and a missing result are errors", "[control][trace]") {
  auto failed = std::make_shared<TracedResolution>(
      wire::Question{wire::Name::from_text("example.com."), RRType::A, wire::RRClass::IN});
  failed->fail("the worker is stopping");
  CHECK(failed->wait(milliseconds{0}));
  CHECK(failed->report().find("error: the worker is stopping\n") != std::string::npos);
  auto silent = std::make_shared<TracedResolution>(
      wire::Question{wire::Name::from_text("example.com."), RRType::A, wire::RRClass::IN});
  CHECK_FALSE(silent->wait(milliseconds{1}));
  CHECK(silent->report().find("error: no result within the resolution deadline") != std::string::npos);
}
