// Helpers for the cache tests: names, RRsets, RRSIG/SOA rdata and a tiny
// hand-rolled message writer (so these tests do not depend on the message
// builder's state), plus the injected clock: "now" is just a number.
#pragma once

#include <cstdint>
#include <initializer_list>
#include <string>
#include <vector>

#include "cache/cache_config.h"
#include "wire/name.h"
#include "wire/record.h"
#include "wire/types.h"

namespace sextant::cache::test {

inline constexpr uint32_t kT0 = 1'700'000'000;  // the injected clock's start

inline wire::Name N(const char* text) { return wire::Name::from_text(text); }

inline void put16(std::vector<uint8_t>& v, uint16_t x) {
  v.push_back(static_cast<uint8_t>(x >> 8));
  v.push_back(static_cast<uint8_t>(x));
}
inline void put32(std::vector<uint8_t>& v, uint32_t x) {
  put16(v, static_cast<uint16_t>(x >> 16));
  put16(v, static_cast<uint16_t>(x));
}
inline void put_name(std::vector<uint8_t>& v, const wire::Name& n) {
  v.insert(v.end(), n.wire().begin(), n.wire().end());
}

inline wire::Rdata a_rdata(uint8_t a, uint8_t b, uint8_t c, uint8_t d) { return {a, b, c, d}; }

inline wire::Rdata name_rdata(const char* name) {
  wire::Rdata r;
  put_name(r, N(name));
  return r;
}

inline wire::Rdata soa_rdata(const char* mname, const char* rname, uint32_t serial,
                             uint32_t minimum) {
  wire::Rdata r;
  put_name(r, N(mname));
  put_name(r, N(rname));
  put32(r, serial);
  put32(r, 7200);
  put32(r, 3600);
  put32(r, 1209600);
  put32(r, minimum);
  return r;
}

// An RRSIG rdata with a signature of `sig_size` octets (content irrelevant
// to the cache).
inline wire::Rdata rrsig_rdata(wire::RRType covered, uint8_t algorithm, uint8_t labels,
                               uint32_t original_ttl, const char* signer, size_t sig_size) {
  wire::Rdata r;
  put16(r, static_cast<uint16_t>(covered));
  r.push_back(algorithm);
  r.push_back(labels);
  put32(r, original_ttl);
  put32(r, kT0 + 30 * 86400);
  put32(r, kT0 - 86400);
  put16(r, 12345);
  put_name(r, N(signer));
  for (size_t i = 0; i < sig_size; ++i) r.push_back(static_cast<uint8_t>(i * 7 + 1));
  return r;
}

inline wire::RRset make_rrset(const char* owner, wire::RRType type, uint32_t ttl,
                              std::vector<wire::Rdata> rdatas,
                              std::vector<wire::Rdata> signatures = {}) {
  wire::RRset s;
  s.owner = N(owner);
  s.type = type;
  s.rclass = wire::RRClass::IN;
  s.ttl = ttl;
  s.rdatas = std::move(rdatas);
  s.signatures = std::move(signatures);
  return s;
}

inline wire::RRset a_rrset(const char* owner, uint32_t ttl, uint8_t last_octet = 1) {
  return make_rrset(owner, wire::RRType::A, ttl, {a_rdata(192, 0, 2, last_octet)});
}

inline wire::RRset soa_rrset(const char* zone, uint32_t ttl, uint32_t minimum) {
  std::string m = std::string("ns1.") + zone;
  std::string h = std::string("hostmaster.") + zone;
  return make_rrset(zone, wire::RRType::SOA, ttl, {soa_rdata(m.c_str(), h.c_str(), 1, minimum)});
}

// A minimal DNS message writer. Owner names equal to the question are
// written as a compression pointer to offset 12, as real servers do.
class PacketWriter {
 public:
  PacketWriter(uint16_t id, uint16_t flags, const char* qname, wire::RRType qtype)
      : qname_(N(qname)) {
    put16(buf_, id);
    put16(buf_, flags);
    for (int i = 0; i < 4; ++i) put16(buf_, 0);
    put_name(buf_, qname_);
    put16(buf_, static_cast<uint16_t>(qtype));
    put16(buf_, 1);
    set_count(4, 1);
  }
  // section: 1 answer, 2 authority, 3 additional
  PacketWriter& record(int section, const char* owner, wire::RRType type, uint32_t ttl,
                       const wire::Rdata& rdata) {
    wire::Name o = N(owner);
    if (o == qname_) {
      buf_.push_back(0xC0);
      buf_.push_back(12);
    } else {
      put_name(buf_, o);
    }
    put16(buf_, static_cast<uint16_t>(type));
    put16(buf_, 1);
    put32(buf_, ttl);
    put16(buf_, static_cast<uint16_t>(rdata.size()));
    buf_.insert(buf_.end(), rdata.begin(), rdata.end());
    bump(section);
    return *this;
  }
  PacketWriter& opt(bool dnssec_ok, uint16_t payload = 1232) {
    buf_.push_back(0);
    put16(buf_, 41);
    put16(buf_, payload);
    put32(buf_, dnssec_ok ? 0x8000u : 0u);
    put16(buf_, 0);
    bump(3);
    return *this;
  }
  std::vector<uint8_t> bytes() const { return buf_; }

 private:
  void set_count(size_t at, uint16_t v) {
    buf_[at] = static_cast<uint8_t>(v >> 8);
    buf_[at + 1] = static_cast<uint8_t>(v);
  }
  void bump(int section) {
    size_t at = 4 + 2 * static_cast<size_t>(section);
    set_count(at, static_cast<uint16_t>(((buf_[at] << 8) | buf_[at + 1]) + 1));
  }
  wire::Name qname_;
  std::vector<uint8_t> buf_;
};

inline uint16_t get16(const uint8_t* p) { return static_cast<uint16_t>((p[0] << 8) | p[1]); }
inline uint32_t get32(const uint8_t* p) {
  return (uint32_t{p[0]} << 24) | (uint32_t{p[1]} << 16) | (uint32_t{p[2]} << 8) | p[3];
}

// Flags of a typical answer: QR, RD, RA (+ AA, rcode as given).
inline uint16_t answer_flags(uint8_t rcode = 0, bool aa = false) {
  return static_cast<uint16_t>(0x8000 | 0x0100 | 0x0080 | (aa ? 0x0400 : 0) | rcode);
}

}  // namespace sextant::cache::test
