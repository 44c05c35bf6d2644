// A reader for RFC 1035 §5 master files ("zone files"): root hints, the
// lab's zones and DS/DNSKEY trust-anchor files.
//
// Supported: $ORIGIN, $TTL (RFC 2308), $INCLUDE (relative to the including
// file, with an optional origin, bounded depth), "@", relative names,
// omitted owner (the previous one), omitted TTL and class in either order,
// TTLs with units ("1h30m", "1d", "1w"), parentheses across lines, comments,
// quoted strings with escapes, TYPEnnn / CLASSnnn and "\#" generic rdata.
// Not supported: $GENERATE (a BIND extension), which is reported as an error.
//
// Errors throw TextError whose message is "FILE:LINE: what is wrong".
//
// This is the one part of wire/ that touches the file system: read_zone_file
// and $INCLUDE read files; read_zone_text without $INCLUDE does no I/O.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "wire/name.h"
#include "wire/record.h"
#include "wire/types.h"

namespace sextant::wire {

struct ZoneReaderOptions {
  // The initial $ORIGIN; relative names before any $ORIGIN hang below it.
  Name origin;
  // Class for records that name none before any record that does.
  RRClass default_class = RRClass::IN;
  // TTL for a record that names none when no $TTL and no earlier TTL apply.
  // Trust-anchor files (root.key, root.ds) carry no TTL, so the default
  // accepts them; a zone loader that wants RFC 2308 strictness sets
  // require_ttl.
  uint32_t default_ttl = 0;
  bool require_ttl = false;
  // $INCLUDE nesting limit (0 forbids $INCLUDE) and overall bounds, so a
  // hostile or broken file cannot exhaust memory.
  size_t max_include_depth = 8;
  size_t max_records = 10'000'000;
  size_t max_file_size = 512u * 1024 * 1024;
};

// Reads a master file. Paths in $INCLUDE are relative to the directory of
// the file that contains them.
std::vector<ResourceRecord> read_zone_file(const std::string& path,
                                           const ZoneReaderOptions& options = {});

// Reads master-file text; `source_name` names it in error messages and its
// directory anchors relative $INCLUDE paths.
std::vector<ResourceRecord> read_zone_text(std::string_view text, std::string_view source_name,
                                           const ZoneReaderOptions& options = {});

// The same, handing each record to `sink` as it is read instead of
// collecting them (zones of millions of records need not be held twice),
// with the file and line it came from. A TextError the sink throws without
// a position is reported as "FILE:LINE: its message", like a syntax error.
using ZoneRecordSink = std::function<void(ResourceRecord&& record, std::string_view source, size_t line)>;
void read_zone_file(const std::string& path, const ZoneReaderOptions& options, const ZoneRecordSink& sink);
void read_zone_text(std::string_view text, std::string_view source_name, const ZoneReaderOptions& options,
                    const ZoneRecordSink& sink);

// A TTL as master files write it: decimal seconds or BIND-style units
// ("1h30m", "2d", "1w", case-insensitive). nullopt when malformed or above
// 2^32-1. Shared with configuration parsing.
std::optional<uint32_t> parse_ttl_text(std::string_view text) noexcept;

}  // namespace sextant::wire
