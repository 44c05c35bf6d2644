// What the PROXY v2 and drain checks add to every query: the UDP listener
// calls unwrap_proxied_datagram() on each datagram (with no proxy trusted it
// only compares the signature), and the pipeline asks DrainState::must_fail()
// once per query that gets past access control.
#include <benchmark/benchmark.h>

#include <arpa/inet.h>
#include <netinet/in.h>

#include <vector>

#include "resolver/front/drain_state.h"
#include "transports/proxy_protocol.h"
#include "wire/name.h"

using namespace sextant;
using transports::ProxyHeader;
using transports::TrustedProxies;

namespace {

const std::vector<uint8_t> kQuery = {0x12, 0x34, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0, 3, 'w', 'w', 'w',
                                     7,    'e',  'x',  'a',  'm', 'p', 'l', 'e', 3, 'c', 'o', 'm', 0, 0, 1, 0, 1};

std::vector<uint8_t> proxied_query() {
  std::vector<uint8_t> d = {0x0D, 0x0A, 0x0D, 0x0A, 0x00, 0x0D, 0x0A, 0x51, 0x55, 0x49, 0x54, 0x0A, 0x21, 0x12, 0, 12,
                            198,  51,   100,  7,    192,  0,    2,    53,   0x11, 0x5C, 0,    53};
  d.insert(d.end(), kQuery.begin(), kQuery.end());
  return d;
}

sockaddr_in peer(const char* text) {
  sockaddr_in a{};
  a.sin_family = AF_INET;
  inet_pton(AF_INET, text, &a.sin_addr);
  return a;
}

// No proxy configured, a plain query: the cost every deployment pays.
void BM_UnwrapDirectNoProxies(benchmark::State& state) {
  sockaddr_in client = peer("192.0.2.7");
  ProxyHeader header;
  std::span<const uint8_t> payload;
  for (auto _ : state) {
    auto outcome = transports::unwrap_proxied_datagram(kQuery, reinterpret_cast<sockaddr*>(&client), nullptr,
                                                       header, payload);
    benchmark::DoNotOptimize(outcome);
    benchmark::DoNotOptimize(payload);
  }
}
BENCHMARK(BM_UnwrapDirectNoProxies);

// Proxies configured, a direct client's query (a CIDR match that fails).
void BM_UnwrapDirectWithProxies(benchmark::State& state) {
  TrustedProxies trusted({"10.0.0.1/32", "10.0.0.2/32"});
  sockaddr_in client = peer("192.0.2.7");
  ProxyHeader header;
  std::span<const uint8_t> payload;
  for (auto _ : state) {
    auto outcome = transports::unwrap_proxied_datagram(kQuery, reinterpret_cast<sockaddr*>(&client), &trusted,
                                                       header, payload);
    benchmark::DoNotOptimize(outcome);
  }
}
BENCHMARK(BM_UnwrapDirectWithProxies);

// dnsdist's datagram: CIDR match, signature, header parse.
void BM_UnwrapProxied(benchmark::State& state) {
  TrustedProxies trusted({"10.0.0.1/32", "10.0.0.2/32"});
  sockaddr_in balancer = peer("10.0.0.2");
  auto datagram = proxied_query();
  ProxyHeader header;
  std::span<const uint8_t> payload;
  for (auto _ : state) {
    auto outcome = transports::unwrap_proxied_datagram(datagram, reinterpret_cast<sockaddr*>(&balancer), &trusted,
                                                       header, payload);
    benchmark::DoNotOptimize(outcome);
    benchmark::DoNotOptimize(header);
  }
}
BENCHMARK(BM_UnwrapProxied);

// The pipeline's drain check while not draining (every query).
void BM_DrainCheckNotDraining(benchmark::State& state) {
  resolver::DrainState drain({wire::Name::from_text("a.root-servers.net.")});
  transports::Request request;
  const wire::Name qname = wire::Name::from_text("www.example.com.");
  for (auto _ : state) benchmark::DoNotOptimize(drain.must_fail(request, qname));
}
BENCHMARK(BM_DrainCheckNotDraining);

}  // namespace

BENCHMARK_MAIN();
