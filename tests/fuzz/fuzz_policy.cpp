// libFuzzer target for the policy parsers (resolver/policy/): list files
// (hosts, domains, Adblock), hosts files as local data, RPZ zones, and
// local data from zone text. The first input octet picks the parser; the
// rest is the file.
//
// Properties checked on every input (any violation aborts):
// - nothing crashes, leaks or reads out of bounds (ASan/UBSan);
// - lists: every name the parser hands over is then found by a blocklist
//   built from them (itself, or the names below for "*." entries); bad
//   lines are counted, never more than the lines read;
// - RPZ: a zone either loads or is refused with a "SOURCE:LINE:" error;
//   a loaded zone answers look-ups of its own triggers and of names and
//   addresses taken from the input without failing;
// - local data: records a zone could not hold are refused with
//   std::invalid_argument; the rest answer look-ups of their own names.
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

#include "resolver/policy/domain_lists.h"
#include "resolver/policy/list_files.h"
#include "resolver/policy/local_data.h"
#include "resolver/policy/rpz_zone.h"
#include "wire/errors.h"
#include "wire/zone_reader.h"

using namespace sextant;
using namespace sextant::resolver::policy;

namespace {

void require(bool ok) {
  if (!ok) std::abort();
}

void fuzz_list(std::string_view text, ListFormat format) {
  ListReport report;
  report.source = "fuzz";
  std::vector<std::pair<wire::Name, bool>> names;
  parse_domain_list(text, format, report, [&](const wire::Name& n, bool below, size_t line) {
    require(line >= 1 && line <= report.lines);
    names.emplace_back(n, below);
  });
  require(report.bad_lines <= report.lines);
  require(report.entries == names.size());
  BlocklistOptions o;
  o.name = "fuzz";
  Blocklist list(o);
  for (const auto& [n, below] : names) list.add(n, below);
  for (const auto& [n, below] : names) {
    PolicyAnswer a;
    if (below) {
      try {
        require(list.check(LookupName(n.prepend("x")), wire::RRType::A, a));
      } catch (const wire::TextError&) {
        // the name is too long to have one below it
      }
    } else {
      require(list.check(LookupName(n), wire::RRType::A, a));
    }
  }
  (void)report.problems_text();
}

void fuzz_hosts(std::string_view text) {
  ListReport report;
  report.source = "fuzz";
  LocalData data;
  parse_hosts_file(text, report, [&](const Address& a, const std::vector<wire::Name>& names, size_t) {
    require(!names.empty());
    for (const auto& n : names) {
      try {
        data.add_record(wire::ResourceRecord{n, a.family == AF_INET ? wire::RRType::A : wire::RRType::AAAA,
                                             wire::RRClass::IN, 3600, wire::Rdata(a.bytes, a.bytes + a.size())});
      } catch (const std::invalid_argument&) {
      }
    }
  });
  data.finish(true);
  require(report.bad_lines <= report.lines);
}

void fuzz_rpz(std::string_view text) {
  std::shared_ptr<RpzZone> zone;
  try {
    zone = load_rpz_text(text, "fuzz.rpz", wire::Name::from_text("rpz.test."), {});
  } catch (const wire::TextError& e) {
    require(std::string_view(e.what()).rfind("fuzz.rpz", 0) == 0);
    return;
  }
  // Its own triggers, and a few names and addresses from the input.
  std::vector<wire::Name> probes;
  zone->qname_table().for_each([&](std::span<const uint8_t> w, uint32_t) { probes.push_back(wire::Name::from_wire(w)); });
  for (size_t i = 0; i + 4 <= text.size() && probes.size() < 64; i += 7) {
    try {
      probes.push_back(wire::Name::from_text(text.substr(i, 1 + text[i] % 16)));
    } catch (const wire::TextError&) {
    }
  }
  for (const auto& n : probes) {
    LookupName l(n);
    RpzHit hit;
    if (zone->match_qname(l, hit)) {
      for (auto type : {wire::RRType::A, wire::RRType::AAAA, wire::RRType::TXT, wire::RRType::CNAME, wire::RRType::ANY}) {
        PolicyAnswer a;
        zone->apply(hit, l, type, a);
        require(a.answer_count <= PolicyAnswer::kMaxSets);
      }
    }
  }
  wire::RRset set;
  set.type = wire::RRType::A;
  for (size_t i = 0; i + 4 <= text.size() && set.rdatas.size() < 16; i += 4)
    set.rdatas.emplace_back(text.begin() + static_cast<ptrdiff_t>(i), text.begin() + static_cast<ptrdiff_t>(i) + 4);
  RpzHit hit;
  if (zone->match_response(std::span(&set, 1), hit)) {
    PolicyAnswer a;
    zone->apply(hit, LookupName(wire::Name::from_text("q.example.")), wire::RRType::A, a);
  }
  Address client = set.rdatas.empty() ? Address{} : Address::v4(set.rdatas[0].data());
  zone->match_client(client, hit);
}

void fuzz_local(std::string_view text) {
  wire::ZoneReaderOptions o;
  o.origin = wire::Name::from_text("local.test.");
  o.default_ttl = 3600;
  o.max_include_depth = 0;
  LocalData data;
  std::vector<wire::Name> owners;
  try {
    wire::read_zone_text(text, "fuzz", o, [&](wire::ResourceRecord&& rr, std::string_view, size_t) {
      try {
        data.add_zone(rr.owner.parent(), static_cast<LocalZoneType>(rr.ttl % 12));
        data.add_record(rr);
        owners.push_back(rr.owner);
      } catch (const std::invalid_argument&) {
      }
    });
  } catch (const wire::TextError&) {
    return;
  }
  data.finish(true);
  for (const auto& n : owners) {
    for (auto type : {wire::RRType::A, wire::RRType::AAAA, wire::RRType::PTR, wire::RRType::ANY}) {
      PolicyAnswer a = data.lookup(LookupName(n), type);
      require(a.answer_count <= PolicyAnswer::kMaxSets);
      try {
        data.lookup(LookupName(n.prepend("sub")), type);
      } catch (const wire::TextError&) {
      }
    }
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 1) return 0;
  std::string_view text(reinterpret_cast<const char*>(data + 1), size - 1);
  switch (data[0] % 6) {
    case 0: fuzz_list(text, ListFormat::any); break;
    case 1: fuzz_list(text, ListFormat::hosts); break;
    case 2: fuzz_list(text, ListFormat::domains); break;
    case 3: fuzz_hosts(text); break;
    case 4: fuzz_rpz(text); break;
    case 5: fuzz_local(text); break;
  }
  return 0;
}
