// The answer stream of a zone transfer (AXFR, RFC 5936; IXFR, RFC 1995),
// read one message at a time into records to load, or differences to
// apply. No I/O: transports/zone_transfer_client.h reads the messages.
//
// The stream forms it accepts:
//   AXFR            SOA(n) records... SOA(n)
//   IXFR, full      the same (the primary has no history, or prefers AXFR)
//   IXFR, up to date  SOA(n) alone, n not newer than the client's serial
//   IXFR, diffs     SOA(n) { SOA(old) deleted... SOA(new) added... }+ SOA(n)
//                   where the first old is the client's serial, each old is
//                   the previous new, and the last new is n.
// Anything else (a message that does not answer the query, an rcode other
// than NOERROR, a record outside the zone or of another class, a broken SOA
// sequence, records after the end, more than max_records records) throws
// XfrError naming the message and record where it went wrong. The sink sees
// records as they arrive: whoever uses them builds aside and discards
// everything if the stream fails before done().
#pragma once

#include <cstdint>
#include <span>
#include <stdexcept>
#include <string>

#include "wire/name.h"
#include "wire/record.h"
#include "wire/types.h"

namespace sextant::wire {

enum class XfrKind : uint8_t { axfr, ixfr };
const char* to_string(XfrKind k) noexcept;

class XfrError : public std::runtime_error {
 public:
  // `rcode`: the server's rcode when it answered with an error (REFUSED,
  // NOTIMP, NOTAUTH...), NOERROR for a stream that is broken.
  XfrError(const std::string& message, Rcode rcode = Rcode::NOERROR)
      : std::runtime_error(message), rcode_(rcode) {}
  Rcode rcode() const noexcept { return rcode_; }

 private:
  Rcode rcode_;
};

class XfrSink {
 public:
  virtual ~XfrSink() = default;
  // A record of the whole zone (AXFR, or IXFR answered in full); the SOA
  // comes first, once.
  virtual void full_record(const ResourceRecord& rr) = 0;
  // IXFR: a difference sequence from serial `from` begins: its deletions
  // follow, then diff_additions() with the new SOA, then its additions
  // (the sequence's SOAs are not passed as deletions or additions).
  virtual void diff_begin(uint32_t from) = 0;
  virtual void diff_additions(uint32_t to, const ResourceRecord& new_soa) = 0;
  virtual void diff_delete(const ResourceRecord& rr) = 0;
  virtual void diff_add(const ResourceRecord& rr) = 0;
};

struct XfrLimits {
  size_t max_records = 20'000'000;
};

class XfrParser {
 public:
  enum class Outcome : uint8_t { pending, full, incremental, up_to_date };

  // `id`: the query's message ID; `client_serial`: the serial asked about
  // (IXFR only).
  XfrParser(const Name& zone, XfrKind kind, uint16_t id, uint32_t client_serial, XfrSink& sink,
            XfrLimits limits = {});

  // One message of the stream. Throws XfrError.
  void feed(std::span<const uint8_t> message);
  // True once the final SOA (or the single up-to-date SOA) has been read.
  bool done() const noexcept { return state_ == State::done; }
  // The stream ended (connection closed): throws XfrError unless it is
  // complete. A single SOA answering an IXFR is complete (up to date).
  void finish();

  Outcome outcome() const noexcept { return outcome_; }
  uint32_t serial() const noexcept { return serial_; }  // the primary's serial (first SOA)
  size_t messages() const noexcept { return messages_; }
  size_t records() const noexcept { return records_; }

 private:
  enum class State : uint8_t { first, second, full, deleting, adding, done };
  void record(const ResourceRecord& rr);
  [[noreturn]] void fail(const std::string& what) const;

  Name zone_;
  XfrKind kind_;
  uint16_t id_;
  uint32_t client_serial_;
  XfrSink& sink_;
  XfrLimits limits_;
  State state_ = State::first;
  Outcome outcome_ = Outcome::pending;
  ResourceRecord first_soa_;
  uint32_t serial_ = 0;
  uint32_t diff_to_ = 0;  // the serial the current difference sequence leads to
  size_t messages_ = 0;
  size_t records_ = 0;
  size_t record_in_message_ = 0;
};

// RFC 1982: true if `a` is newer than `b`.
bool serial_newer(uint32_t a, uint32_t b) noexcept;

}  // namespace sextant::wire
