#include "wire/zone_transfer.h"

#include <fmt/format.h>

#include "wire/message.h"
#include "wire/rdata_views.h"

namespace sextant::wire {

const char* to_string(XfrKind k) noexcept { return k == XfrKind::axfr ? "AXFR" : "IXFR"; }

bool serial_newer(uint32_t a, uint32_t b) noexcept {
  return a != b && static_cast<uint32_t>(a - b) < 0x80000000u;
}

XfrParser::XfrParser(const Name& zone, XfrKind kind, uint16_t id, uint32_t client_serial, XfrSink& sink,
                     XfrLimits limits)
    : zone_(zone), kind_(kind), id_(id), client_serial_(client_serial), sink_(sink), limits_(limits) {}

void XfrParser::fail(const std::string& what) const {
  throw XfrError(fmt::format("{} {}: message {}, record {}: {}", to_string(kind_), zone_.to_text(), messages_,
                             record_in_message_, what));
}

void XfrParser::feed(std::span<const uint8_t> packet) {
  ++messages_;
  record_in_message_ = 0;
  if (state_ == State::done) fail("a message after the end of the transfer");
  Message m;
  if (WireError e = Message::parse(packet, m); e != WireError::ok) fail(fmt::format("does not parse ({})", to_string(e)));
  if (m.header.id != id_) fail(fmt::format("message ID {} does not answer the query (ID {})", m.header.id, id_));
  if (!m.header.qr() || m.header.opcode() != Opcode::QUERY) fail("not a response to a query");
  if (m.rcode() != Rcode::NOERROR)
    throw XfrError(fmt::format("{} {}: the primary answered {}", to_string(kind_), zone_.to_text(), to_string(m.rcode())),
                   m.rcode());
  if (m.header.tc()) fail("truncated (TC set)");
  if (m.questions.size() > 1) fail("more than one question");
  if (m.questions.size() == 1) {
    const Question& q = m.questions.front();
    RRType want = kind_ == XfrKind::axfr ? RRType::AXFR : RRType::IXFR;
    if (!(q.name == zone_) || q.type != want) fail(fmt::format("the question {} {} is not the one asked", q.name.to_text(), to_string(q.type)));
  } else if (messages_ == 1) {
    fail("the first message has no question");
  }
  if (m.answer.empty()) fail("no records");
  for (const auto& rr : m.answer) {
    ++record_in_message_;
    record(rr);
  }
}

void XfrParser::record(const ResourceRecord& rr) {
  if (state_ == State::done) fail("records after the final SOA");
  if (++records_ > limits_.max_records) fail(fmt::format("more than {} records", limits_.max_records));
  if (rr.rclass != RRClass::IN) fail("a record not of class IN");
  if (!rr.owner.is_subdomain_of(zone_)) fail(fmt::format("{} is outside the zone", rr.owner.to_text()));
  std::optional<SoaView> soa;
  if (rr.type == RRType::SOA) {
    if (!(rr.owner == zone_)) fail(fmt::format("a SOA at {}, not at the apex", rr.owner.to_text()));
    soa = SoaView::parse(rr.rdata);
    if (!soa) fail("a SOA whose rdata does not parse");
  }
  switch (state_) {
    case State::first:
      if (!soa) fail(fmt::format("the first record is {}, not the zone's SOA", to_string(rr.type)));
      first_soa_ = rr;
      serial_ = soa->serial;
      state_ = State::second;
      return;
    case State::second:
      if (kind_ == XfrKind::ixfr && soa && soa->serial != serial_) {
        // An incremental answer: the deletions from the client's serial.
        if (soa->serial != client_serial_)
          fail(fmt::format("the differences start at serial {}, not at ours ({})", soa->serial, client_serial_));
        outcome_ = Outcome::incremental;
        sink_.diff_begin(soa->serial);
        state_ = State::deleting;
        return;
      }
      outcome_ = Outcome::full;
      sink_.full_record(first_soa_);
      state_ = State::full;
      [[fallthrough]];
    case State::full:
      if (soa) {
        if (soa->serial != serial_) fail(fmt::format("a SOA with serial {} inside a transfer of serial {}", soa->serial, serial_));
        state_ = State::done;
        return;
      }
      sink_.full_record(rr);
      return;
    case State::deleting:
      if (soa) {
        diff_to_ = soa->serial;
        sink_.diff_additions(diff_to_, rr);
        state_ = State::adding;
        return;
      }
      sink_.diff_delete(rr);
      return;
    case State::adding:
      if (soa) {
        if (diff_to_ == serial_) {
          if (soa->serial != serial_) fail(fmt::format("the final SOA has serial {}, not {}", soa->serial, serial_));
          state_ = State::done;
          return;
        }
        if (soa->serial != diff_to_)
          fail(fmt::format("a difference sequence starts at serial {}, not where the previous ended ({})", soa->serial,
                           diff_to_));
        sink_.diff_begin(soa->serial);
        state_ = State::deleting;
        return;
      }
      sink_.diff_add(rr);
      return;
    case State::done: return;
  }
}

void XfrParser::finish() {
  if (state_ == State::done) return;
  if (state_ == State::second && kind_ == XfrKind::ixfr) {
    if (serial_newer(serial_, client_serial_))
      fail(fmt::format("only the SOA of serial {}, newer than ours ({}), and no differences", serial_, client_serial_));
    outcome_ = Outcome::up_to_date;
    state_ = State::done;
    return;
  }
  fail(messages_ == 0 ? std::string("no answer") : "the stream ended before the final SOA (truncated)");
}

}  // namespace sextant::wire
