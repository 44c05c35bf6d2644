// The list formats people bring from existing blocklists and host tables:
//
//   hosts    "0.0.0.0 ads.example.com tracker.example.net"  (/etc/hosts, StevenBlack,
//            Pi-hole); the address is ignored for a blocklist
//   domains  "ads.example.com" one per line, "*.example.com" for the names
//            below only; Adblock-style "||ads.example.com^" is read the same
//   comments "# ..." anywhere, "!" at the start of a line (Adblock), blank lines
//
// A bad line (not a name, an address without a name, an Adblock rule with
// modifiers ...) does not stop the load: it is counted and reported with
// file:line, and the good lines are kept, as Pi-hole and Unbound users
// expect of lists they do not write themselves. A file that cannot be read
// is an error (ListError).
#pragma once

#include <cstddef>
#include <functional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "resolver/policy/address_match.h"
#include "wire/name.h"

namespace sextant::resolver::policy {

enum class ListFormat : uint8_t { any, hosts, domains };

struct ListProblem {
  size_t line = 0;
  std::string message;
};

// What reading one list found. Only the first kMaxKept problems are kept
// with their text; all are counted.
struct ListReport {
  static constexpr size_t kMaxKept = 20;
  std::string source;
  size_t lines = 0;
  size_t entries = 0;     // names handed to the sink
  size_t bad_lines = 0;   // lines with at least one problem
  std::vector<ListProblem> problems;
  size_t last_bad_line = 0;

  void add_problem(size_t line, std::string message);
  // "FILE:LINE: message" lines, then "... and N more" if some were not kept.
  std::string problems_text() const;
};

class ListError : public std::runtime_error {
 public:
  explicit ListError(const std::string& m) : std::runtime_error(m) {}
};

// A name of a list: `below_only` for "*.example.com" (the names below it,
// not example.com itself).
using ListSink = std::function<void(const wire::Name& name, bool below_only, size_t line)>;

// Reads blocklist / allowlist text. Names in hosts lines that are the host
// table's own (localhost, broadcasthost, ip6-localhost ...) are skipped.
void parse_domain_list(std::string_view text, ListFormat format, ListReport& report, const ListSink& sink);

// Reads /etc/hosts-style local data: each line maps an address to one or
// more names (the first is canonical: it gets the PTR).
using HostsSink = std::function<void(const Address& address, const std::vector<wire::Name>& names, size_t line)>;
void parse_hosts_file(std::string_view text, ListReport& report, const HostsSink& sink);

// Reads a whole file (bounded: lists of several million lines are normal,
// 1 GB is not); throws ListError naming the path.
std::string read_list_file(const std::string& path, size_t max_bytes = size_t{1} << 30);

// Checks one list name as written ("ads.example.com", "*.example.com"):
// letters, digits, '-', '_' and '.', an optional leading "*."; nullopt-like
// false with `why` set when it is not one.
bool parse_list_name(std::string_view text, wire::Name& name, bool& below_only, std::string& why);

}  // namespace sextant::resolver::policy
