// RFC 8484 request validation and answer freshness, without sockets.
#include <catch2/catch.hpp>

#include "tests/transports/encrypted_support.h"
#include "transports/doh_request.h"

using namespace sextant::transports;
using namespace sextant::transports::test;

namespace {

DohHttpRequest post(std::vector<uint8_t> body, std::string type = "application/dns-message") {
  DohHttpRequest r;
  r.method = "POST";
  r.path = "/dns-query";
  r.content_type = std::move(type);
  r.body = std::move(body);
  return r;
}

DohHttpRequest get(std::string path) {
  DohHttpRequest r;
  r.method = "GET";
  r.path = std::move(path);
  return r;
}

}  // namespace

TEST_CASE("DoH accepts POST and GET queries", "[doh][request]") {
  auto query = make_query("a.example", 1, 0);
  auto by_post = validate_doh_request(post(query), "/dns-query");
  CHECK(by_post.status == 200);
  CHECK(by_post.query == query);
  auto by_get = validate_doh_request(get("/dns-query?dns=" + base64url(query)), "/dns-query");
  CHECK(by_get.status == 200);
  CHECK(by_get.query == query);
  auto with_other_parameters = validate_doh_request(get("/dns-query?ct=x&dns=" + base64url(query) + "&z=1"), "/dns-query");
  CHECK(with_other_parameters.status == 200);
  CHECK(with_other_parameters.query == query);
  auto type_with_parameter = validate_doh_request(post(query, "Application/DNS-Message; charset=x"), "/dns-query");
  CHECK(type_with_parameter.status == 200);
}

TEST_CASE("DoH maps bad requests to the right status", "[doh][request]") {
  auto query = make_query("a.example", 1, 0);
  CHECK(validate_doh_request(post(query), "/other").status == 404);
  auto other_path = get("/dns-query-x?dns=" + base64url(query));
  CHECK(validate_doh_request(other_path, "/dns-query").status == 404);
  auto put = post(query);
  put.method = "PUT";
  CHECK(validate_doh_request(put, "/dns-query").status == 405);
  auto head = get("/dns-query?dns=" + base64url(query));
  head.method = "HEAD";
  CHECK(validate_doh_request(head, "/dns-query").status == 405);
  CHECK(validate_doh_request(post(query, "text/plain"), "/dns-query").status == 415);
  CHECK(validate_doh_request(post(query, ""), "/dns-query").status == 415);
  auto big = post(query);
  big.body_too_large = true;
  CHECK(validate_doh_request(big, "/dns-query").status == 413);
  CHECK(validate_doh_request(post({1, 2, 3}), "/dns-query").status == 400);
  auto response = query;
  response[2] |= 0x80;
  CHECK(validate_doh_request(post(response), "/dns-query").status == 400);
  CHECK(validate_doh_request(get("/dns-query"), "/dns-query").status == 400);
  CHECK(validate_doh_request(get("/dns-query?dns="), "/dns-query").status == 400);
  CHECK(validate_doh_request(get("/dns-query?dns=!!!!"), "/dns-query").status == 400);
  // Padding and the standard alphabet are not base64url without padding.
  std::string padded = base64url(query);
  while (padded.size() % 4) padded += '=';
  if (padded != base64url(query)) CHECK(validate_doh_request(get("/dns-query?dns=" + padded), "/dns-query").status == 400);
  CHECK(validate_doh_request(get("/dns-query?dns=AAAA+/AAAAAAAAAA"), "/dns-query").status == 400);
  CHECK(validate_doh_request(get("/dns-query?dns=" + base64url(std::vector<uint8_t>{1, 2, 3, 4})), "/dns-query").status == 400);
  auto too_long = get("/dns-query?dns=" + std::string(90000, 'A'));
  CHECK(validate_doh_request(too_long, "/dns-query").status == 413);
}

TEST_CASE("DoH query string helpers", "[doh][request]") {
  CHECK(path_without_query("/dns-query?dns=x") == "/dns-query");
  CHECK(path_without_query("/a#frag") == "/a");
  CHECK(query_parameter("/p?a=1&dns=xyz&b", "dns") == std::optional<std::string_view>("xyz"));
  CHECK_FALSE(query_parameter("/p?a=1", "dns"));
  CHECK_FALSE(query_parameter("/p", "dns"));
  CHECK(query_parameter("/p?dnsx=1&dns=2", "dns") == std::optional<std::string_view>("2"));
  CHECK(is_dns_message_content_type(" application/dns-message "));
  CHECK_FALSE(is_dns_message_content_type("application/dns-message+json"));
}

TEST_CASE("DoH max-age is the smallest answer TTL", "[doh][request]") {
  auto query = make_query("a.example");
  auto answer = make_echo_answer(query, 300);
  CHECK(answer_cache_ttl(answer) == std::optional<uint32_t>(300));
  // Add a second A record with TTL 60 (compressed owner).
  auto two = answer;
  two[7] = 2;
  const uint8_t second[] = {0xC0, 0x0C, 0, 1, 0, 1, 0, 0, 0, 60, 0, 4, 192, 0, 2, 2};
  two.insert(two.end(), std::begin(second), std::end(second));
  CHECK(answer_cache_ttl(two) == std::optional<uint32_t>(60));
  // TTLs with the top bit set count as zero.
  auto negative_ttl = answer;
  negative_ttl[negative_ttl.size() - 10] = 0x80;
  CHECK(answer_cache_ttl(negative_ttl) == std::optional<uint32_t>(0));
  // Truncated records and no records give no lifetime.
  CHECK_FALSE(answer_cache_ttl(std::span<const uint8_t>(answer.data(), answer.size() - 3)));
  CHECK_FALSE(answer_cache_ttl(std::span<const uint8_t>(answer.data(), 5)));
  auto empty = query;
  empty[2] |= 0x80;
  CHECK_FALSE(answer_cache_ttl(empty));
}

TEST_CASE("DoH max-age of a negative answer comes from the SOA", "[doh][request]") {
  auto response = make_query("nx.example");
  response[2] |= 0x80;
  response[3] = 0x83;  // NXDOMAIN
  response[9] = 1;     // NSCOUNT
  // example. 3600 SOA ns. host. 1 2 3 4 900  (owner: pointer to "example" in the question)
  const uint8_t soa[] = {0xC0, 0x0F, 0, 6, 0, 1, 0, 0, 0x0E, 0x10, 0, 30,
                         2, 'n', 's', 0, 4, 'h', 'o', 's', 't', 0,
                         0, 0, 0, 1, 0, 0, 0, 2, 0, 0, 0, 3, 0, 0, 0, 4, 0, 0, 0x03, 0x84};
  response.insert(response.end(), std::begin(soa), std::end(soa));
  CHECK(answer_cache_ttl(response) == std::optional<uint32_t>(900));
}

TEST_CASE("DoH TTL scanner survives random bytes", "[doh][request]") {
  uint32_t state = 99;
  for (int round = 0; round < 2000; ++round) {
    std::vector<uint8_t> bytes(static_cast<size_t>(round % 200));
    for (auto& b : bytes) {
      state = state * 1664525 + 1013904223;
      b = static_cast<uint8_t>(state >> 24);
    }
    if (bytes.size() >= 12) {
      bytes[4] = 0;
      bytes[5] = static_cast<uint8_t>(round % 3);
    }
    (void)answer_cache_ttl(bytes);
    DohHttpRequest r = post(bytes);
    (void)validate_doh_request(r, "/dns-query");
  }
  SUCCEED();
}
