// libFuzzer target for the zone transfer stream parser (wire/zone_transfer.h)
// and the RPZ record set it feeds (resolver/policy/rpz_records.h). The input
// is a sequence of messages, each prefixed by a 2-octet length (the TCP
// framing); the first octet picks AXFR or IXFR and the client serial.
//
// Properties checked on every input (any violation aborts):
// - nothing crashes, leaks or reads out of bounds (ASan/UBSan);
// - the parser either throws XfrError or reaches an outcome; once done,
//   it is done (no outcome changes);
// - a full transfer builds into a zone or is refused with wire::TextError;
//   differences apply to a held copy all or nothing (a refused apply leaves
//   the set's size and serial as they were).
#include <cstdint>
#include <cstdlib>
#include <span>

#include "resolver/policy/rpz_records.h"
#include "wire/errors.h"
#include "wire/rdata_views.h"
#include "wire/zone_transfer.h"

using namespace sextant;
using namespace sextant::resolver::policy;

namespace {

void require(bool ok) {
  if (!ok) std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 1) return 0;
  const bool ixfr = data[0] & 1;
  const uint32_t client_serial = data[0] >> 1;
  const wire::Name zone = wire::Name::from_text("rpz.test.");
  RpzTransfer sink(zone);
  wire::XfrLimits limits;
  limits.max_records = 10000;
  wire::XfrParser parser(zone, ixfr ? wire::XfrKind::ixfr : wire::XfrKind::axfr, 0x1234, client_serial, sink, limits);
  size_t pos = 1;
  try {
    while (pos + 2 <= size && !parser.done()) {
      size_t len = (size_t{data[pos]} << 8) | data[pos + 1];
      pos += 2;
      if (len > size - pos) len = size - pos;
      parser.feed(std::span<const uint8_t>(data + pos, len));
      pos += len;
    }
    parser.finish();
  } catch (const wire::XfrError&) {
    return 0;
  }
  require(parser.done());
  if (parser.outcome() == wire::XfrParser::Outcome::full) {
    auto full = sink.take_full();
    require(full != nullptr);
    try {
      full->build(RpzOptions{}, "fuzz");
    } catch (const wire::TextError&) {
    }
  } else if (parser.outcome() == wire::XfrParser::Outcome::incremental) {
    RpzRecordSet held(zone);
    held.add(wire::ResourceRecord{zone, wire::RRType::SOA, wire::RRClass::IN, 60,
                                  wire::make_soa_rdata(zone, zone, client_serial, 1, 1, 1, 1)});
    const size_t before = held.size();
    std::string error;
    if (!sink.apply_to(held, error)) {
      require(held.size() == before && held.serial() == client_serial);
    } else {
      try {
        held.build(RpzOptions{}, "fuzz");
      } catch (const wire::TextError&) {
      }
    }
  }
  return 0;
}
