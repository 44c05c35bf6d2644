// The DoH HTTP counters in the metrics report: requests by HTTP version,
// JSON API requests, responses by status (unknown statuses as "other").
#include <catch2/catch.hpp>

#include "resolver/daemon/daemon_metrics.h"
#include "transports/doh_metrics.h"

using namespace sextant::resolver;
using namespace sextant::transports;

TEST_CASE("daemon metrics: DoH requests by HTTP version and responses by status", "[metrics][doh]") {
  auto before = doh_http_snapshot();
  count_doh_request(HttpVersion::http1, DohFormat::dns_message);
  count_doh_request(HttpVersion::http3, DohFormat::json);
  count_doh_request(HttpVersion::http3, DohFormat::dns_message);
  count_doh_status(200);
  count_doh_status(413);
  count_doh_status(418);  // not one DoH sends: "other"
  DaemonSnapshot snap;
  snap.version = "test";
  snap.doh_http = doh_http_snapshot();
  MetricsReport r = build_metrics_report(snap);
  CHECK(r.value("sextant_doh_requests_total", {{"http", "1.1"}}) == before.requests[0] + 1);
  CHECK(r.value("sextant_doh_requests_total", {{"http", "2"}}) == before.requests[1]);
  CHECK(r.value("sextant_doh_requests_total", {{"http", "3"}}) == before.requests[2] + 2);
  CHECK(r.value("sextant_doh_json_requests_total") == before.json_requests + 1);
  CHECK(r.value("sextant_doh_responses_total", {{"status", "200"}}) == before.statuses[0] + 1);
  CHECK(r.value("sextant_doh_responses_total", {{"status", "413"}}) == before.statuses[4] + 1);
  CHECK(r.value("sextant_doh_responses_total", {{"status", "other"}}) == before.statuses.back() + 1);
  CHECK(r.prometheus().find("# TYPE sextant_doh_responses_total counter\n") != std::string::npos);
}
