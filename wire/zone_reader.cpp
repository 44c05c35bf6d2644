#include "wire/zone_reader.h"

#include <cerrno>
#include <cstring>
#include <fstream>
#include <optional>

#include <fmt/format.h>

#include "wire/rdata.h"
#include "wire/rdata_schema.h"

namespace sextant::wire {

namespace {

// A TextError that already carries "FILE:LINE: ", so errors from included
// files pass through the including file's handler unchanged.
class PositionedError : public TextError {
 public:
  using TextError::TextError;
};

struct ReaderState {
  const ZoneReaderOptions& options;
  std::vector<ResourceRecord>& records;
  const ZoneRecordSink* sink = nullptr;  // when set, records go there instead
  size_t count = 0;
  std::optional<Name> last_owner;
  std::optional<uint32_t> dollar_ttl;  // from $TTL
  std::optional<uint32_t> last_ttl;    // the last TTL written on a record
  std::optional<RRClass> zone_class;   // the class of the first record
};

std::string directory_of(std::string_view path) {
  size_t slash = path.rfind('/');
  if (slash == std::string_view::npos) return {};
  return std::string(path.substr(0, slash + 1));
}

// Reads a whole file; the error text (without position) says why not.
std::string read_file(const std::string& path, size_t max_size) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw TextError(fmt::format("cannot open '{}': {}", path, std::strerror(errno)));
  in.seekg(0, std::ios::end);
  std::streamoff size = in.tellg();
  if (size < 0) throw TextError(fmt::format("cannot read '{}'", path));
  if (static_cast<uint64_t>(size) > max_size)
    throw TextError(fmt::format("'{}' is larger than {} octets", path, max_size));
  in.seekg(0, std::ios::beg);
  std::string text(static_cast<size_t>(size), '\0');
  if (!in.read(text.data(), size)) throw TextError(fmt::format("cannot read '{}'", path));
  return text;
}

Name parse_owner(const detail::TextToken& token, const Name& origin) {
  if (token.quoted) throw TextError("owner name must not be quoted");
  if (token.text == "@") return origin;
  return Name::from_text(token.text, &origin);
}

bool starts_with_digit(std::string_view s) { return !s.empty() && s[0] >= '0' && s[0] <= '9'; }

void read_text(ReaderState& state, std::string_view text, const std::string& source, Name origin,
               size_t depth);

void handle_directive(ReaderState& state, const detail::LogicalLine& entry, const std::string& source,
                      Name& origin, size_t depth) {
  const auto& tokens = entry.tokens;
  const std::string& directive = tokens[0].text;
  auto argument = [&](size_t i, const char* what) -> const detail::TextToken& {
    if (i >= tokens.size()) throw TextError(fmt::format("{} needs {}", directive, what));
    return tokens[i];
  };
  if (directive == "$ORIGIN") {
    const auto& name = argument(1, "a domain name");
    if (tokens.size() > 2) throw TextError("unexpected text after $ORIGIN name: '" + tokens[2].text + "'");
    origin = Name::from_text(name.text, &origin);
  } else if (directive == "$TTL") {
    const auto& ttl_text = argument(1, "a TTL");
    if (tokens.size() > 2) throw TextError("unexpected text after $TTL value: '" + tokens[2].text + "'");
    auto ttl = detail::parse_ttl(ttl_text.text);
    if (!ttl) throw TextError("bad TTL '" + ttl_text.text + "'");
    state.dollar_ttl = *ttl;
  } else if (directive == "$INCLUDE") {
    const auto& file = argument(1, "a file name");
    if (tokens.size() > 3) throw TextError("unexpected text after $INCLUDE origin: '" + tokens[3].text + "'");
    if (depth >= state.options.max_include_depth)
      throw TextError(fmt::format("$INCLUDE nested deeper than {} levels", state.options.max_include_depth));
    std::string path = file.text;
    if (path.empty()) throw TextError("$INCLUDE needs a file name");
    if (path[0] != '/') path = directory_of(source) + path;
    Name include_origin = origin;
    if (tokens.size() == 3) include_origin = Name::from_text(tokens[2].text, &origin);
    std::string content = read_file(path, state.options.max_file_size);
    // The included file starts from the given origin; the including file's
    // origin is unaffected afterwards (RFC 1035 §5.1).
    read_text(state, content, path, include_origin, depth + 1);
  } else if (directive == "$GENERATE") {
    throw TextError("$GENERATE is not supported");
  } else {
    throw TextError("unknown directive '" + directive + "'");
  }
}

void handle_record(ReaderState& state, const detail::LogicalLine& entry, const std::string& source,
                   const Name& origin) {
  const auto& tokens = entry.tokens;
  size_t i = 0;
  Name owner;
  if (entry.leading_blank) {
    if (!state.last_owner) throw TextError("no owner name and no previous record to take it from");
    owner = *state.last_owner;
  } else {
    owner = parse_owner(tokens[i++], origin);
  }
  std::optional<uint32_t> ttl;
  std::optional<RRClass> rclass;
  // TTL and class may come in either order, each at most once.
  for (int k = 0; k < 2 && i < tokens.size(); ++k) {
    const auto& t = tokens[i];
    if (t.quoted) break;
    if (!ttl && starts_with_digit(t.text)) {
      ttl = detail::parse_ttl(t.text);
      if (!ttl) throw TextError("bad TTL '" + t.text + "'");
      ++i;
    } else if (!rclass && rrclass_from_text(t.text)) {
      rclass = rrclass_from_text(t.text);
      ++i;
    } else {
      break;
    }
  }
  if (i >= tokens.size()) throw TextError("missing record type");
  const auto& type_token = tokens[i++];
  if (starts_with_digit(type_token.text)) throw TextError("bad TTL or type '" + type_token.text + "'");
  auto type = rrtype_from_text(type_token.text);
  if (!type || type_token.quoted) throw TextError("unknown type '" + type_token.text + "'");
  if (is_meta_type(*type)) throw TextError(to_string(*type) + " is a meta type and cannot appear in a zone");

  RRClass record_class = rclass ? *rclass : state.zone_class.value_or(state.options.default_class);
  if (state.zone_class && record_class != *state.zone_class)
    throw TextError(fmt::format("class {} differs from the zone's class {}", to_string(record_class),
                                to_string(*state.zone_class)));

  uint32_t record_ttl;
  if (ttl) {
    record_ttl = *ttl;
    state.last_ttl = *ttl;
  } else if (state.dollar_ttl) {
    record_ttl = *state.dollar_ttl;
  } else if (state.last_ttl) {
    record_ttl = *state.last_ttl;
  } else if (state.options.require_ttl) {
    throw TextError("no TTL on the record and no $TTL before it");
  } else {
    record_ttl = state.options.default_ttl;
  }

  Rdata rdata = detail::rdata_from_tokens(*type, std::span(tokens).subspan(i), origin);

  if (state.count >= state.options.max_records)
    throw TextError(fmt::format("more than {} records", state.options.max_records));
  ++state.count;
  state.zone_class = record_class;
  state.last_owner = owner;
  if (state.sink) {
    (*state.sink)(ResourceRecord{owner, *type, record_class, record_ttl, std::move(rdata)}, source, entry.line);
    return;
  }
  state.records.push_back(ResourceRecord{owner, *type, record_class, record_ttl, std::move(rdata)});
}

void read_text(ReaderState& state, std::string_view text, const std::string& source, Name origin,
               size_t depth) {
  detail::PresentationLexer lexer(text);
  detail::LogicalLine entry;
  while (true) {
    try {
      if (!lexer.next(entry)) break;
    } catch (const TextError& e) {
      throw PositionedError(fmt::format("{}:{}: {}", source, lexer.line(), e.what()));
    }
    try {
      const auto& first = entry.tokens[0];
      if (!entry.leading_blank && !first.quoted && !first.text.empty() && first.text[0] == '$') {
        handle_directive(state, entry, source, origin, depth);
      } else {
        handle_record(state, entry, source, origin);
      }
    } catch (const PositionedError&) {
      throw;
    } catch (const TextError& e) {
      throw PositionedError(fmt::format("{}:{}: {}", source, entry.line, e.what()));
    }
  }
}

}  // namespace

std::optional<uint32_t> parse_ttl_text(std::string_view text) noexcept { return detail::parse_ttl(text); }

std::vector<ResourceRecord> read_zone_text(std::string_view text, std::string_view source_name,
                                           const ZoneReaderOptions& options) {
  std::vector<ResourceRecord> records;
  ReaderState state{options, records, nullptr, 0, std::nullopt, std::nullopt, std::nullopt, std::nullopt};
  read_text(state, text, std::string(source_name), options.origin, 0);
  return records;
}

void read_zone_text(std::string_view text, std::string_view source_name, const ZoneReaderOptions& options,
                    const ZoneRecordSink& sink) {
  std::vector<ResourceRecord> unused;
  ReaderState state{options, unused, &sink, 0, std::nullopt, std::nullopt, std::nullopt, std::nullopt};
  read_text(state, text, std::string(source_name), options.origin, 0);
}

void read_zone_file(const std::string& path, const ZoneReaderOptions& options, const ZoneRecordSink& sink) {
  std::string text;
  try {
    text = read_file(path, options.max_file_size);
  } catch (const TextError& e) {
    throw TextError(fmt::format("{}: {}", path, e.what()));
  }
  read_zone_text(text, path, options, sink);
}

std::vector<ResourceRecord> read_zone_file(const std::string& path, const ZoneReaderOptions& options) {
  std::string text;
  try {
    text = read_file(path, options.max_file_size);
  } catch (const TextError& e) {
    throw TextError(fmt::format("{}: {}", path, e.what()));
  }
  return read_zone_text(text, path, options);
}

}  // namespace sextant::wire
