// The master-file reader: every feature, every error with FILE:LINE, and the
// real files Sextant must read (root hints, trust anchors).
#include <catch2/catch.hpp>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "wire/base_encoding.h"
#include "wire/rdata.h"
#include "wire/rdata_views.h"
#include "wire/zone_reader.h"

using namespace sextant::wire;

namespace {

const std::string kData = std::string(SEXTANT_SOURCE_DIR) + "/tests/wire/data/";

std::vector<std::string> lines_of(const std::vector<ResourceRecord>& records) {
  std::vector<std::string> out;
  for (const auto& rr : records) out.push_back(record_to_text(rr));
  return out;
}

std::vector<ResourceRecord> read(std::string_view text, ZoneReaderOptions options = {}) {
  return read_zone_text(text, "test.zone", options);
}

size_t count_type(const std::vector<ResourceRecord>& records, RRType type) {
  return static_cast<size_t>(std::count_if(records.begin(), records.end(),
                                           [&](const ResourceRecord& rr) { return rr.type == type; }));
}

}  // namespace

TEST_CASE("a zone file with every supported feature", "[zone]") {
  auto records = read_zone_file(kData + "zones/example.zone");
  std::vector<std::string> expected = {
      "example.com.\t5400\tIN\tSOA\tns1.example.com. hostmaster.example.com. 2024010101 3600 900 604800 86400",
      "example.com.\t5400\tIN\tNS\tns1.example.com.",
      "example.com.\t5400\tIN\tNS\tns2.example.net.",
      "example.com.\t3600\tIN\tMX\t10 mail.example.com.",
      "ns1.example.com.\t5400\tIN\tA\t192.0.2.1",
      "ns1.example.com.\t5400\tIN\tAAAA\t2001:db8::1",
      "mail.example.com.\t300\tIN\tA\t192.0.2.25",
      "www.example.com.\t5400\tIN\tCNAME\texample.com.",
      "txt.example.com.\t5400\tIN\tTXT\t\"one string\" \"with \\\"quotes\\\"; and a semicolon\" "
      "\"continued on the next line\"",
      "svc.example.com.\t5400\tIN\tHTTPS\t1 . alpn=\"h2,h3\" port=443 ipv4hint=192.0.2.1",
      "odd.example.com.\t5400\tIN\tTYPE65534\t\\# 3 abcdef",
      "typed.example.com.\t5400\tIN\tA\t192.0.2.2",
      "a.hosts.example.com.\t5400\tIN\tA\t192.0.2.101",
      "b.hosts.example.com.\t172800\tIN\tA\t192.0.2.102",
      "hosts.example.com.\t5400\tIN\tTXT\t\"the include origin\"",
      "after.example.com.\t5400\tIN\tA\t192.0.2.99",
  };
  CHECK(lines_of(records) == expected);
}

TEST_CASE("root hints yield 13 NS, 13 A and 13 AAAA records", "[zone]") {
  auto records = read_zone_file(std::string(SEXTANT_SOURCE_DIR) + "/root.hints");
  CHECK(records.size() == 39);
  CHECK(count_type(records, RRType::NS) == 13);
  CHECK(count_type(records, RRType::A) == 13);
  CHECK(count_type(records, RRType::AAAA) == 13);
  for (const auto& rr : records) {
    CHECK(rr.ttl == 3600000);
    if (rr.type == RRType::NS) CHECK(rr.owner.is_root());
  }
  CHECK(record_to_text(records[1]) == "A.ROOT-SERVERS.NET.\t3600000\tIN\tA\t198.41.0.4");
}

TEST_CASE("trust-anchor files: root DNSKEYs and DS records", "[zone][dnssec]") {
  for (const std::string& dir : {kData, std::string("/usr/share/dns/")}) {
    std::ifstream probe(dir + "root.key");
    if (!probe.good()) continue;  // the system copy is optional; the fixture is not
    INFO(dir);
    auto keys = read_zone_file(dir + "root.key");
    REQUIRE(keys.size() >= 1);
    std::vector<uint16_t> tags;
    for (const auto& rr : keys) {
      CHECK(rr.type == RRType::DNSKEY);
      CHECK(rr.owner.is_root());
      auto key = DnskeyView::parse(rr.rdata);
      REQUIRE(key);
      CHECK(key->is_zone_key());
      CHECK(key->is_sep());
      CHECK_FALSE(key->revoked());
      CHECK(key->algorithm == 8);
      CHECK(key->public_key.size() == 260);  // RSA: 3-octet exponent + 256-octet modulus
      tags.push_back(key->key_tag());
    }
    CHECK(std::find(tags.begin(), tags.end(), 20326) != tags.end());
    auto ds = read_zone_file(dir + "root.ds");
    REQUIRE(ds.size() >= 1);
    for (const auto& rr : ds) {
      auto view = DsView::parse(rr.rdata);
      REQUIRE(view);
      CHECK(view->digest_type == 2);
      CHECK(view->digest.size() == 32);
      // Each DS names a key in root.key.
      CHECK(std::find(tags.begin(), tags.end(), view->key_tag) != tags.end());
    }
  }
}

TEST_CASE("owner, TTL and class defaults", "[zone]") {
  SECTION("omitted owner repeats the previous one; TTL and class in either order") {
    auto records = read(
        "a.example. 60 IN A 192.0.2.1\n"
        "           IN 70 A 192.0.2.2\n"
        "\tA 192.0.2.3\n"
        "b.example. IN A 192.0.2.4\n");
    REQUIRE(records.size() == 4);
    CHECK(records[1].owner == Name::from_text("a.example."));
    CHECK(records[1].ttl == 70);
    CHECK(records[2].owner == Name::from_text("a.example."));
    CHECK(records[2].ttl == 70);  // the last TTL written, when no $TTL
    CHECK(records[3].ttl == 70);
  }
  SECTION("$TTL wins over the last explicit TTL") {
    auto records = read("$TTL 1w\na.example. 60 A 192.0.2.1\nb.example. A 192.0.2.2\n");
    CHECK(records[1].ttl == 604800);
  }
  SECTION("TTL units") {
    auto records = read(
        "a. 1h30m A 192.0.2.1\nb. 1d A 192.0.2.1\nc. 1W A 192.0.2.1\nd. 2h3 A 192.0.2.1\ne. 0 A 192.0.2.1\n");
    REQUIRE(records.size() == 5);
    CHECK(records[0].ttl == 5400);
    CHECK(records[1].ttl == 86400);
    CHECK(records[2].ttl == 604800);
    CHECK(records[3].ttl == 7203);
    CHECK(records[4].ttl == 0);
  }
  SECTION("no TTL anywhere: the option's default, or an error when required") {
    CHECK(read(". IN A 192.0.2.1\n")[0].ttl == 0);
    ZoneReaderOptions options;
    options.default_ttl = 86400;
    CHECK(read(". IN A 192.0.2.1\n", options)[0].ttl == 86400);
    options.require_ttl = true;
    CHECK_THROWS_WITH(read("\n. IN A 192.0.2.1\n", options), "test.zone:2: no TTL on the record and no $TTL before it");
  }
  SECTION("the initial origin, relative names and @") {
    ZoneReaderOptions options;
    options.origin = Name::from_text("example.org.");
    auto records = read("@ 1 NS ns\nns 1 A 192.0.2.1\nsub.@ 1 A 192.0.2.2\n", options);
    CHECK(lines_of(records) == std::vector<std::string>{
                                   "example.org.\t1\tIN\tNS\tns.example.org.",
                                   "ns.example.org.\t1\tIN\tA\t192.0.2.1",
                                   // "@" is special only as a whole token
                                   "sub.\\@.example.org.\t1\tIN\tA\t192.0.2.2",
                               });
  }
  SECTION("$ORIGIN may be relative to the current origin") {
    auto records = read("$ORIGIN com.\n$ORIGIN example\nwww 1 A 192.0.2.1\n");
    CHECK(records[0].owner == Name::from_text("www.example.com."));
  }
  SECTION("escapes and quotes in names and strings") {
    auto records = read("a\\ b.example. 1 TXT \"x;y\" z\\;w ; comment\n");
    REQUIRE(records.size() == 1);
    CHECK(records[0].owner.label(0) == "a b");
    CHECK(rdata_to_text(RRType::TXT, records[0].rdata) == "\"x;y\" \"z;w\"");
  }
  SECTION("CRLF line ends and a last line without a newline") {
    auto records = read("a. 1 A 192.0.2.1\r\nb. 1 A 192.0.2.2");
    CHECK(records.size() == 2);
  }
}

TEST_CASE("zone reader errors name the file and line", "[zone]") {
  CHECK_THROWS_WITH(read("a. 1 A 192.0.2.1\n\nb. 1 A 192.0.2.300\n"), "test.zone:3: bad IPv4 address '192.0.2.300'");
  CHECK_THROWS_WITH(read("a. 1 BOGUS x\n"), "test.zone:1: unknown type 'BOGUS'");
  CHECK_THROWS_WITH(read("a. 1x A 192.0.2.1\n"), "test.zone:1: bad TTL '1x'");
  CHECK_THROWS_WITH(read("a. 99999999999 A 192.0.2.1\n"), "test.zone:1: bad TTL '99999999999'");
  CHECK_THROWS_WITH(read("a. 1 IN\n"), "test.zone:1: missing record type");
  CHECK_THROWS_WITH(read(" 1 A 192.0.2.1\n"), "test.zone:1: no owner name and no previous record to take it from");
  CHECK_THROWS_WITH(read("a. 1 IN A 192.0.2.1\nb. 1 CH A 192.0.2.1\n"),
                    "test.zone:2: class CH differs from the zone's class IN");
  CHECK_THROWS_WITH(read("a. 1 OPT \\# 0\n"), Catch::Contains("test.zone:1: OPT is a meta type"));
  CHECK_THROWS_WITH(read("a. 1 TXT \"abc\n"), "test.zone:1: unterminated quoted string");
  CHECK_THROWS_WITH(read("a. 1 TXT ( \"abc\"\n\n"), "test.zone:3: '(' without ')' before the end of the text");
  CHECK_THROWS_WITH(read("a. 1 TXT \"abc\" )\n"), "test.zone:1: ')' without '('");
  CHECK_THROWS_WITH(read("a. 1 MX ( 10\n   )\n"), "test.zone:1: missing domain name");
  CHECK_THROWS_WITH(read("$TTL\n"), "test.zone:1: $TTL needs a TTL");
  CHECK_THROWS_WITH(read("$TTL abc\n"), "test.zone:1: bad TTL 'abc'");
  CHECK_THROWS_WITH(read("$ORIGIN\n"), "test.zone:1: $ORIGIN needs a domain name");
  CHECK_THROWS_WITH(read("$ORIGIN a..b.\n"), Catch::StartsWith("test.zone:1: empty label"));
  CHECK_THROWS_WITH(read("$GENERATE 1-10 x A 192.0.2.$\n"), "test.zone:1: $GENERATE is not supported");
  CHECK_THROWS_WITH(read("$FROB x\n"), "test.zone:1: unknown directive '$FROB'");
  CHECK_THROWS_WITH(read("$INCLUDE\n"), "test.zone:1: $INCLUDE needs a file name");
  CHECK_THROWS_WITH(read("x. 1 A 192.0.2.1 ; fine\n\"quoted.\" 1 A 192.0.2.1\n"),
                    "test.zone:2: owner name must not be quoted");
  ZoneReaderOptions tiny;
  tiny.max_records = 2;
  CHECK_THROWS_WITH(read("a. 1 A 192.0.2.1\nb. 1 A 192.0.2.1\nc. 1 A 192.0.2.1\n", tiny),
                    "test.zone:3: more than 2 records");
}

TEST_CASE("$INCLUDE: relative paths, depth limit, missing files", "[zone]") {
  SECTION("a self-including file stops at the depth limit") {
    try {
      read_zone_file(kData + "zones/loop.zone");
      FAIL("no error");
    } catch (const TextError& e) {
      std::string what = e.what();
      CHECK_THAT(what, Catch::Contains("loop.zone:2: $INCLUDE nested deeper than 8 levels"));
    }
  }
  SECTION("$INCLUDE can be forbidden") {
    ZoneReaderOptions options;
    options.max_include_depth = 0;
    CHECK_THROWS_WITH(read_zone_file(kData + "zones/example.zone", options),
                      Catch::EndsWith("example.zone:23: $INCLUDE nested deeper than 0 levels"));
  }
  SECTION("a missing included file is reported at the $INCLUDE line") {
    CHECK_THROWS_WITH(read_zone_text("a. 1 A 192.0.2.1\n$INCLUDE " + kData + "zones/nonexistent.inc\n", "main.zone"),
                      Catch::StartsWith("main.zone:2: cannot open '") && Catch::Contains("No such file"));
  }
  SECTION("errors inside an included file name that file") {
    std::string dir = std::string(SEXTANT_BINARY_DIR) + "/";
    {
      std::ofstream bad(dir + "zone_reader_bad.inc");
      bad << "; line 1\nx 1 A not-an-address\n";
    }
    CHECK_THROWS_WITH(read_zone_text("$INCLUDE zone_reader_bad.inc\n", dir + "main.zone"),
                      dir + "zone_reader_bad.inc:2: bad IPv4 address 'not-an-address'");
  }
  SECTION("a missing top-level file") {
    CHECK_THROWS_WITH(read_zone_file(kData + "zones/none.zone"), Catch::Contains("none.zone: cannot open"));
  }
}

TEST_CASE("ldns-signed zones (NSEC and NSEC3 opt-out) read as dnspython reads them", "[zone][dnssec]") {
  for (const char* stem : {"signed-nsec", "signed-nsec3"}) {
    INFO(stem);
    auto records = read_zone_file(kData + "zones/" + stem + ".zone");
    std::vector<std::string> ours;
    for (const auto& rr : records) {
      std::string owner = rr.owner.lowercased().to_text();
      ours.push_back(owner + " " + std::to_string(rr.ttl) + " " + to_string(rr.type) + " " + hex_encode(rr.rdata));
    }
    std::sort(ours.begin(), ours.end());
    std::vector<std::string> theirs;
    std::ifstream in(kData + "zones/" + stem + ".dnspython");
    REQUIRE(in.good());
    for (std::string line; std::getline(in, line);) theirs.push_back(line);
    CHECK(ours == theirs);
    CHECK(count_type(records, RRType::RRSIG) > 20);
    // Every RRSIG and NSEC/NSEC3 parses with its view.
    for (const auto& rr : records) {
      if (rr.type == RRType::RRSIG) CHECK(RrsigView::parse(rr.rdata));
      if (rr.type == RRType::NSEC) CHECK(NsecView::parse(rr.rdata));
      if (rr.type == RRType::NSEC3) {
        auto v = Nsec3View::parse(rr.rdata);
        REQUIRE(v);
        CHECK(v->opt_out());
        CHECK(v->iterations == 1);
        CHECK(v->next_hashed_owner.size() == 20);
      }
    }
  }
}

TEST_CASE("every lab zone file reads, one SOA each", "[zone][lab]") {
  std::string dir = std::string(SEXTANT_SOURCE_DIR) + "/tests/lab/zones";
  size_t files = 0;
  for (const auto& entry : std::filesystem::directory_iterator(dir)) {
    if (entry.path().extension() != ".zone") continue;
    ++files;
    INFO(entry.path().string());
    std::vector<ResourceRecord> records;
    REQUIRE_NOTHROW(records = read_zone_file(entry.path().string()));
    CHECK(count_type(records, RRType::SOA) == 1);
  }
  CHECK(files >= 10);
}

TEST_CASE("parse_ttl_text", "[zone]") {
  CHECK(parse_ttl_text("0") == 0u);
  CHECK(parse_ttl_text("4294967295") == 4294967295u);
  CHECK_FALSE(parse_ttl_text("4294967296"));
  CHECK(parse_ttl_text("1h30m") == 5400u);
  CHECK(parse_ttl_text("1H30M") == 5400u);
  CHECK(parse_ttl_text("1w2d3h4m5s") == 604800u + 2 * 86400 + 3 * 3600 + 4 * 60 + 5);
  CHECK_FALSE(parse_ttl_text(""));
  CHECK_FALSE(parse_ttl_text("h"));
  CHECK_FALSE(parse_ttl_text("1hh"));
  CHECK_FALSE(parse_ttl_text("1y"));
  CHECK_FALSE(parse_ttl_text("-1"));
  CHECK_FALSE(parse_ttl_text("7102w"));  // > 2^32-1 seconds
}
