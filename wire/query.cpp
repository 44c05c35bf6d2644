#include "wire/query.h"

#include "wire/edns.h"

namespace sextant::wire {

namespace {

uint16_t read_u16(std::span<const uint8_t> p, size_t at) noexcept {
  return static_cast<uint16_t>((p[at] << 8) | p[at + 1]);
}

QueryParseResult formerr(WireError e) noexcept { return {QueryOutcome::formerr, e}; }

// Reads an owner name, telling whether it is the root. The common case (a
// bare root label, as every OPT record has) costs one comparison; anything
// else goes through the full checks of Name::parse.
WireError read_owner(std::span<const uint8_t> packet, size_t& pos, bool& is_root) noexcept {
  if (pos < packet.size() && packet[pos] == 0) {
    ++pos;
    is_root = true;
    return WireError::ok;
  }
  Name scratch;
  WireError e = Name::parse(packet, pos, scratch);
  is_root = scratch.is_root();
  return e;
}

// Fills the EDNS fields of `out` from an OPT record whose fixed fields start
// at `fixed` (just after the owner) and whose rdata is `rdata`.
WireError read_opt(std::span<const uint8_t> packet, size_t fixed, std::span<const uint8_t> rdata,
                   ParsedQuery& out) noexcept {
  out.has_edns = true;
  out.udp_payload_size = read_u16(packet, fixed + 2);
  out.extended_rcode = packet[fixed + 4];
  out.edns_version = packet[fixed + 5];
  out.edns_flags = read_u16(packet, fixed + 6);
  out.dnssec_ok = (out.edns_flags & Edns::kDoBit) != 0;
  out.edns_options = rdata;
  return for_each_edns_option(rdata, [&out](uint16_t code, std::span<const uint8_t> data) noexcept {
    ++out.option_count;
    switch (static_cast<EdnsOptionCode>(code)) {
      case EdnsOptionCode::Cookie:
        if (!out.has_cookie) out.cookie = data;
        out.has_cookie = true;
        break;
      case EdnsOptionCode::ClientSubnet:
        if (!out.has_client_subnet) out.client_subnet = data;
        out.has_client_subnet = true;
        break;
      case EdnsOptionCode::TcpKeepalive:
        if (!out.has_tcp_keepalive) out.tcp_keepalive = data;
        out.has_tcp_keepalive = true;
        break;
      case EdnsOptionCode::Padding:
        out.has_padding = true;
        break;
      case EdnsOptionCode::ExtendedError:
        break;
    }
  });
}

}  // namespace

const char* to_string(QueryOutcome o) noexcept {
  switch (o) {
    case QueryOutcome::ok: return "ok";
    case QueryOutcome::drop: return "drop";
    case QueryOutcome::ignore: return "ignore";
    case QueryOutcome::formerr: return "formerr";
  }
  return "unknown";
}

QueryParseResult parse_query(std::span<const uint8_t> packet, ParsedQuery& out) noexcept {
  // Reset field by field: the Name is large and mostly dead storage.
  out.qname = Name();
  out.qtype = RRType::A;
  out.qclass = RRClass::IN;
  out.question_end = 0;
  out.has_edns = false;
  out.udp_payload_size = 0;
  out.extended_rcode = 0;
  out.edns_version = 0;
  out.edns_flags = 0;
  out.dnssec_ok = false;
  out.opt_offset = 0;
  out.edns_options = {};
  out.has_cookie = out.has_client_subnet = out.has_padding = out.has_tcp_keepalive = false;
  out.cookie = out.client_subnet = out.tcp_keepalive = {};
  out.option_count = 0;

  if (Header::parse(packet, out.header) != WireError::ok) {
    out.header = Header{};
    return {QueryOutcome::drop, WireError::truncated_header};
  }
  if (out.header.qr()) return {QueryOutcome::ignore, WireError::not_a_query};
  if (out.header.qdcount != 1) return formerr(WireError::bad_question);

  size_t pos = kHeaderSize;
  if (pos >= packet.size()) return formerr(WireError::count_exceeds_data);
  WireError e = Name::parse(packet, pos, out.qname);
  if (e != WireError::ok) {
    out.qname = Name();
    return formerr(e);
  }
  if (packet.size() - pos < 4) return formerr(WireError::truncated_record);
  out.qtype = static_cast<RRType>(read_u16(packet, pos));
  out.qclass = static_cast<RRClass>(read_u16(packet, pos + 2));
  pos += 4;
  out.question_end = pos;

  // Walk every record with the same checks as Message::parse, decoding only OPT.
  const uint16_t counts[3] = {out.header.ancount, out.header.nscount, out.header.arcount};
  for (size_t section = 0; section < 3; ++section) {
    for (size_t i = 0; i < counts[section]; ++i) {
      if (pos >= packet.size()) return formerr(WireError::count_exceeds_data);
      size_t record_start = pos;
      bool owner_is_root = false;
      e = read_owner(packet, pos, owner_is_root);
      if (e != WireError::ok) return formerr(e);
      if (packet.size() - pos < 10) return formerr(WireError::truncated_record);
      size_t fixed = pos;
      auto type = static_cast<RRType>(read_u16(packet, fixed));
      size_t rdlength = read_u16(packet, fixed + 8);
      pos += 10;
      if (packet.size() - pos < rdlength) return formerr(WireError::truncated_rdata);
      std::span<const uint8_t> rdata = packet.subspan(pos, rdlength);
      pos += rdlength;
      if (type != RRType::OPT) continue;
      if (section != 2) return formerr(WireError::bad_opt_placement);
      if (out.has_edns) return formerr(WireError::multiple_opt);
      if (!owner_is_root) return formerr(WireError::bad_opt);
      out.opt_offset = record_start;
      e = read_opt(packet, fixed, rdata, out);
      if (e != WireError::ok) return formerr(e);
    }
  }
  if (pos != packet.size()) return formerr(WireError::trailing_data);
  return {QueryOutcome::ok, WireError::ok};
}

}  // namespace sextant::wire
