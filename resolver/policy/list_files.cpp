#include "resolver/policy/list_files.h"

#include <strings.h>

#include <cerrno>
#include <cstring>
#include <fstream>

#include <fmt/format.h>

#include "wire/errors.h"

namespace sextant::resolver::policy {

namespace {

constexpr size_t kMaxLineLength = 4096;

bool is_space(char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\v' || c == '\f'; }

// Splits a line (comment already removed) into whitespace-separated tokens;
// at most `max` are kept (the caller only needs to know there are more).
size_t tokenize(std::string_view line, std::string_view* tokens, size_t max) {
  size_t n = 0;
  size_t i = 0;
  while (i < line.size()) {
    while (i < line.size() && is_space(line[i])) ++i;
    if (i >= line.size()) break;
    size_t start = i;
    while (i < line.size() && !is_space(line[i])) ++i;
    if (n < max) tokens[n] = line.substr(start, i - start);
    ++n;
  }
  return n;
}

bool parse_address(std::string_view token, Address& out) {
  auto p = AddressPrefix::parse(std::string(token));
  if (!p || token.find('/') != std::string_view::npos) return false;
  out = p->family == AF_INET ? Address::v4(p->bytes) : Address::v6(p->bytes);
  return true;
}

// The names a host table lists for itself, which blocklists in hosts form
// repeat at the top ("127.0.0.1 localhost").
bool is_host_table_name(std::string_view token) {
  static constexpr std::string_view kNames[] = {
      "localhost", "localhost.localdomain", "local", "broadcasthost", "ip6-localhost", "ip6-loopback",
      "ip6-localnet", "ip6-mcastprefix", "ip6-allnodes", "ip6-allrouters", "ip6-allhosts", "0.0.0.0"};
  if (!token.empty() && token.back() == '.') token.remove_suffix(1);
  for (auto n : kNames)
    if (token.size() == n.size() && strncasecmp(token.data(), n.data(), n.size()) == 0) return true;
  return false;
}

// Calls f(line_number, content) for each line, without its comment.
template <typename F>
void for_each_line(std::string_view text, ListReport& report, F&& f) {
  size_t line_no = 0;
  size_t pos = 0;
  while (pos < text.size()) {
    size_t end = text.find('\n', pos);
    if (end == std::string_view::npos) end = text.size();
    std::string_view line = text.substr(pos, end - pos);
    pos = end + 1;
    ++line_no;
    ++report.lines;
    if (line.size() > kMaxLineLength) {
      report.add_problem(line_no, fmt::format("line longer than {} characters", kMaxLineLength));
      continue;
    }
    if (size_t hash = line.find('#'); hash != std::string_view::npos) line = line.substr(0, hash);
    size_t first = 0;
    while (first < line.size() && is_space(line[first])) ++first;
    if (first == line.size()) continue;
    if (line[first] == '!' || line[first] == '[') continue;  // Adblock comment or header
    f(line_no, line);
  }
}

}  // namespace

void ListReport::add_problem(size_t line, std::string message) {
  if (line != last_bad_line) ++bad_lines;
  last_bad_line = line;
  if (problems.size() < kMaxKept) problems.push_back({line, std::move(message)});
}

std::string ListReport::problems_text() const {
  std::string out;
  for (const auto& p : problems) out += fmt::format("{}:{}: {}\n", source, p.line, p.message);
  size_t shown_lines = 0, previous = 0;
  for (const auto& p : problems) {
    if (p.line != previous) ++shown_lines;
    previous = p.line;
  }
  if (bad_lines > shown_lines) out += fmt::format("{}: ... and {} more bad lines\n", source, bad_lines - shown_lines);
  return out;
}

bool parse_list_name(std::string_view text, wire::Name& name, bool& below_only, std::string& why) {
  below_only = false;
  if (text.size() >= 2 && text[0] == '*' && text[1] == '.') {
    below_only = true;
    text.remove_prefix(2);
  }
  if (text.empty() || text == ".") {
    why = "an empty name (the root cannot be listed)";
    return false;
  }
  for (char c : text) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
              c == '_' || c == '.';
    if (!ok) {
      why = fmt::format("'{}' is not a domain name (character '{}')", text, c);
      return false;
    }
  }
  if (text.front() == '.' || text.find("..") != std::string_view::npos) {
    why = fmt::format("'{}' has an empty label", text);
    return false;
  }
  try {
    name = wire::Name::from_text(text);  // no origin: taken as absolute
  } catch (const wire::TextError& e) {
    why = fmt::format("'{}': {}", text, e.what());
    return false;
  }
  return true;
}

void parse_domain_list(std::string_view text, ListFormat format, ListReport& report, const ListSink& sink) {
  std::string_view tokens[16];
  std::string why;
  for_each_line(text, report, [&](size_t line_no, std::string_view line) {
    size_t n = tokenize(line, tokens, std::size(tokens));
    Address address;
    size_t first_name = 0;
    if (parse_address(tokens[0], address)) {
      if (format == ListFormat::domains) {
        report.add_problem(line_no, "an address in a domain list (set format: hosts)");
        return;
      }
      if (n == 1) {
        report.add_problem(line_no, "an address without a name");
        return;
      }
      first_name = 1;
    } else {
      if (format == ListFormat::hosts) {
        report.add_problem(line_no, fmt::format("'{}' is not an address (hosts format: ADDRESS NAME...)", tokens[0]));
        return;
      }
      if (n > 1) {
        report.add_problem(line_no, "several names without an address");
        return;
      }
    }
    for (size_t i = first_name; i < std::min(n, std::size(tokens)); ++i) {
      std::string_view token = tokens[i];
      if (first_name == 1 && is_host_table_name(token)) continue;
      if (first_name == 0 && token.size() > 2 && token.substr(0, 2) == "||") {
        // Adblock: ||name^ (modifiers after $ change the meaning: refused).
        size_t caret = token.find('^');
        if (caret == std::string_view::npos || caret + 1 != token.size()) {
          report.add_problem(line_no, fmt::format("'{}': only Adblock rules of the form ||name^ are read", token));
          return;
        }
        token = token.substr(2, caret - 2);
      }
      wire::Name name;
      bool below_only = false;
      if (!parse_list_name(token, name, below_only, why)) {
        report.add_problem(line_no, why);
        continue;
      }
      ++report.entries;
      sink(name, below_only, line_no);
    }
    if (n > std::size(tokens)) report.add_problem(line_no, fmt::format("more than {} names on a line: the rest are ignored", std::size(tokens) - 1));
  });
}

void parse_hosts_file(std::string_view text, ListReport& report, const HostsSink& sink) {
  std::string_view tokens[16];
  std::string why;
  std::vector<wire::Name> names;
  for_each_line(text, report, [&](size_t line_no, std::string_view line) {
    size_t n = tokenize(line, tokens, std::size(tokens));
    Address address;
    if (!parse_address(tokens[0], address)) {
      report.add_problem(line_no, fmt::format("'{}' is not an address (hosts format: ADDRESS NAME...)", tokens[0]));
      return;
    }
    if (n == 1) {
      report.add_problem(line_no, "an address without a name");
      return;
    }
    names.clear();
    for (size_t i = 1; i < std::min(n, std::size(tokens)); ++i) {
      wire::Name name;
      bool below_only = false;
      if (!parse_list_name(tokens[i], name, below_only, why) || below_only) {
        report.add_problem(line_no, below_only ? fmt::format("'{}': no wildcards in a hosts file", tokens[i]) : why);
        continue;
      }
      names.push_back(name);
    }
    if (names.empty()) return;
    report.entries += names.size();
    sink(address, names, line_no);
  });
}

std::string read_list_file(const std::string& path, size_t max_bytes) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw ListError(fmt::format("{}: cannot open: {}", path, std::strerror(errno)));
  in.seekg(0, std::ios::end);
  std::streamoff size = in.tellg();
  if (size < 0) throw ListError(fmt::format("{}: cannot read", path));
  if (static_cast<uint64_t>(size) > max_bytes)
    throw ListError(fmt::format("{}: larger than {} bytes", path, max_bytes));
  in.seekg(0, std::ios::beg);
  std::string text(static_cast<size_t>(size), '\0');
  if (size > 0 && !in.read(text.data(), size)) throw ListError(fmt::format("{}: cannot read", path));
  return text;
}

}  // namespace sextant::resolver::policy
