// Micro-benchmarks of the message layer: the server's hot-path query parse,
// a full parse of a typical answer, and building that answer with
// compression.
//
//   wire_bench --benchmark_min_time=1
#include <benchmark/benchmark.h>

#include <array>
#include <cstdint>
#include <vector>

#include "wire/message.h"
#include "wire/message_builder.h"
#include "wire/query.h"

using namespace sextant::wire;

namespace {

const Name& qname() {
  static const Name name = Name::from_text("www.example.com.");
  return name;
}

// What dig sends by default: RD+AD, EDNS 1232, a client cookie.
std::vector<uint8_t> typical_query(bool dnssec_ok) {
  std::vector<uint8_t> storage(512);
  MessageBuilder b(storage);
  b.header().id = 0x1234;
  b.header().set_rd(true);
  b.header().set_ad(true);
  b.add_question(qname(), RRType::A, RRClass::IN);
  b.set_edns(EdnsParams{1232, dnssec_ok, 0, 0});
  const std::array<uint8_t, 8> client_cookie = {1, 2, 3, 4, 5, 6, 7, 8};
  b.add_edns_option(static_cast<uint16_t>(EdnsOptionCode::Cookie), client_cookie);
  auto wire = b.finish();
  return {wire.begin(), wire.end()};
}

const std::vector<Rdata>& answer_rdatas() {
  static const std::vector<Rdata> rdatas = {{192, 0, 2, 1}, {192, 0, 2, 2}, {192, 0, 2, 3}};
  return rdatas;
}

// Builds the typical answer: question, 3 A records for the qname, OPT.
std::span<const uint8_t> build_answer(std::span<uint8_t> buffer) {
  MessageBuilder b(buffer, 1232);
  b.header().id = 0x1234;
  b.header().set_qr(true);
  b.header().set_rd(true);
  b.header().set_ra(true);
  b.add_question(qname(), RRType::A, RRClass::IN);
  b.set_edns(EdnsParams{1232, false, 0, 0});
  b.add_rrset(Section::answer, qname(), RRType::A, RRClass::IN, 300, answer_rdatas());
  return b.finish();
}

std::vector<uint8_t> typical_answer() {
  std::array<uint8_t, 1232> buffer{};
  auto wire = build_answer(buffer);
  return {wire.begin(), wire.end()};
}

void BM_ParseQuery(benchmark::State& state) {
  std::vector<uint8_t> packet = typical_query(state.range(0) != 0);
  ParsedQuery q;
  for (auto _ : state) {
    QueryParseResult r = parse_query(packet, q);
    benchmark::DoNotOptimize(r);
    benchmark::DoNotOptimize(q.qname);
  }
  if (parse_query(packet, q).outcome != QueryOutcome::ok) state.SkipWithError("query did not parse");
  state.SetItemsProcessed(state.iterations());
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * packet.size()));
  state.counters["packet_octets"] = static_cast<double>(packet.size());
}
BENCHMARK(BM_ParseQuery)->ArgName("do")->Arg(0)->Arg(1);

void BM_ParseAnswerFull(benchmark::State& state) {
  std::vector<uint8_t> packet = typical_answer();
  Message m;
  for (auto _ : state) {
    WireError e = Message::parse(packet, m);
    benchmark::DoNotOptimize(e);
    benchmark::DoNotOptimize(m.answer.data());
  }
  if (Message::parse(packet, m) != WireError::ok || m.answer.size() != 3)
    state.SkipWithError("answer did not parse");
  state.SetItemsProcessed(state.iterations());
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * packet.size()));
  state.counters["packet_octets"] = static_cast<double>(packet.size());
}
BENCHMARK(BM_ParseAnswerFull);

void BM_BuildAnswerCompressed(benchmark::State& state) {
  std::array<uint8_t, 1232> buffer{};
  size_t size = 0;
  for (auto _ : state) {
    auto wire = build_answer(buffer);
    size = wire.size();
    benchmark::DoNotOptimize(wire.data());
    benchmark::ClobberMemory();
  }
  state.SetItemsProcessed(state.iterations());
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * size));
  state.counters["packet_octets"] = static_cast<double>(size);
}
BENCHMARK(BM_BuildAnswerCompressed);

// The general path: a Message value serialised into a vector.
void BM_BuildMessageFromValue(benchmark::State& state) {
  std::vector<uint8_t> packet = typical_answer();
  Message m;
  Message::parse(packet, m);
  std::vector<uint8_t> out;
  for (auto _ : state) {
    WireError e = build_message(m, out);
    benchmark::DoNotOptimize(e);
    benchmark::DoNotOptimize(out.data());
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_BuildMessageFromValue);

}  // namespace

BENCHMARK_MAIN();
