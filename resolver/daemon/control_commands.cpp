#include "resolver/daemon/control_commands.h"

#include <fmt/format.h>

#include <cctype>
#include <exception>
#include <vector>

namespace sextant::resolver {

namespace {

std::vector<std::string_view> split_words(std::string_view line) {
  std::vector<std::string_view> words;
  size_t i = 0;
  while (i < line.size()) {
    while (i < line.size() && (line[i] == ' ' || line[i] == '\t')) ++i;
    size_t start = i;
    while (i < line.size() && line[i] != ' ' && line[i] != '\t') ++i;
    if (i > start) words.push_back(line.substr(start, i - start));
  }
  return words;
}

bool printable(std::string_view s) {
  for (char c : s)
    if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) return false;
  return true;
}

// An operator types names without the trailing dot; the root is ".".
wire::Name parse_name(std::string_view text) {
  std::string absolute(text);
  if (absolute.empty() || absolute.back() != '.') absolute += '.';
  return wire::Name::from_text(absolute);
}

std::string run(const std::vector<std::string_view>& words, ControlTarget& target) {
  std::string_view command = words[0];
  auto want_args = [&](size_t n, std::string_view usage) -> std::string {
    if (words.size() == n + 1) return {};
    return fmt::format("error: usage: {}\n", usage);
  };
  // COMMAND NAME: the reply to send if the argument is missing or no name.
  auto name_argument = [&](std::string_view usage, wire::Name& out) -> std::string {
    if (auto e = want_args(1, usage); !e.empty()) return e;
    try {
      out = parse_name(words[1]);
    } catch (const std::exception& ex) {
      return fmt::format("error: bad name '{}': {}\n", words[1], ex.what());
    }
    return {};
  };
  if (command == "help") {
    if (auto e = want_args(0, "help"); !e.empty()) return e;
    return control_help();
  }
  if (command == "status") {
    if (auto e = want_args(0, "status"); !e.empty()) return e;
    return target.status();
  }
  if (command == "stats" || command == "stats_noreset") {
    if (auto e = want_args(0, "stats"); !e.empty()) return e;
    return target.stats();
  }
  if (command == "flush" || command == "flush-tree" || command == "flush_zone") {
    bool tree = command != "flush";
    wire::Name name;
    if (auto e = name_argument(tree ? "flush-tree NAME" : "flush NAME", name); !e.empty()) return e;
    size_t removed = tree ? target.flush_subtree(name) : target.flush_name(name);
    return fmt::format("ok: removed {} cache entr{} {} {}\n", removed, removed == 1 ? "y" : "ies",
                       tree ? "at or below" : "at", name.to_text());
  }
  if (command == "insecure-add" || command == "insecure_add" || command == "insecure-remove" ||
      command == "insecure_remove") {
    bool add = command.find("add") != std::string_view::npos;
    wire::Name name;
    if (auto e = name_argument(add ? "insecure-add NAME" : "insecure-remove NAME", name); !e.empty()) return e;
    if (name.is_root()) return "error: the root cannot be a negative trust anchor; set dnssec.validation: false\n";
    return add ? target.add_negative_anchor(name) : target.remove_negative_anchor(name);
  }
  if (command == "insecure-list" || command == "list_insecure") {
    if (auto e = want_args(0, "insecure-list"); !e.empty()) return e;
    return target.list_negative_anchors();
  }
  if (command == "trace" || command == "lookup") {
    if (words.size() != 2 && words.size() != 3) return "error: usage: trace NAME [TYPE]\n";
    wire::Name name;
    try {
      name = parse_name(words[1]);
    } catch (const std::exception& ex) {
      return fmt::format("error: bad name '{}': {}\n", words[1], ex.what());
    }
    wire::RRType type = wire::RRType::A;
    if (words.size() == 3) {
      std::string upper(words[2]);
      for (char& c : upper) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
      auto parsed = wire::rrtype_from_text(upper);
      if (!parsed) return fmt::format("error: unknown type '{}'\n", words[2]);
      if (wire::is_meta_type(*parsed) && *parsed != wire::RRType::ANY) {
        return fmt::format("error: {} is not a type that is resolved\n", words[2]);
      }
      type = *parsed;
    }
    return target.trace(name, type);
  }
  if (command == "flush-all" || command == "flush_all") {
    if (auto e = want_args(0, "flush-all"); !e.empty()) return e;
    target.flush_all();
    return "ok: cache emptied\n";
  }
  if (command == "dump-cache" || command == "dump_cache") {
    if (words.size() == 2 && words[1] == "--binary") return target.dump_cache_snapshot();
    if (auto e = want_args(0, "dump-cache [--to FILE]"); !e.empty()) return e;
    return target.dump_cache();
  }
  if (command == "reload") {
    if (auto e = want_args(0, "reload"); !e.empty()) return e;
    return target.reload();
  }
  if (command == "reload-tls" || command == "reload_tls") {
    if (auto e = want_args(0, "reload-tls"); !e.empty()) return e;
    return target.reload_tls();
  }
  return fmt::format("error: unknown command '{}'; try help\n", command);
}

}  // namespace

std::string control_help() {
  return "status              version, uptime, workers and listeners\n"
         "stats               every counter, one 'name value' per line (names as in /metrics)\n"
         "flush NAME          drop cached data for NAME (every type)\n"
         "flush-tree NAME     drop cached data at and below NAME\n"
         "flush-all           empty the cache (server state included)\n"
         "dump-cache          the cache as presentation-format text\n"
         "dump-cache --to FILE  the cache as a warm-restart snapshot, written to FILE by this\n"
         "                    command (copy it to cache.warm-restart.file to start warm from it)\n"
         "reload              re-read the configuration file: access-control and log-level change\n"
         "                    at once, TLS files are re-read, the cache is kept (as SIGHUP does)\n"
         "reload-tls          re-read the TLS certificate and key only\n"
         "insecure-add NAME   stop validating at and below NAME (negative trust anchor, RFC 7646)\n"
         "insecure-remove NAME  validate NAME again\n"
         "insecure-list       the negative trust anchors in force\n"
         "trace NAME [TYPE]   resolve NAME (type A by default) step by step: each server asked and\n"
         "                    why, how each reply was judged, what was cached, the DNSSEC verdict;\n"
         "                    the answer is not taken from the cache (delegations and keys are)\n"
         "help                this list\n";
}

std::string run_control_command(std::string_view line, ControlTarget& target) {
  if (!printable(line)) return "error: control characters in the command\n";
  std::vector<std::string_view> words = split_words(line);
  if (words.empty()) return "error: empty command; try help\n";
  try {
    return run(words, target);
  } catch (const std::exception& e) {
    return fmt::format("error: {}\n", e.what());
  }
}

}  // namespace sextant::resolver
