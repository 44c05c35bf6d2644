// The control socket's command language, against a recording fake.
#include <catch2/catch.hpp>

#include <stdexcept>
#include <string>
#include <vector>

#include "resolver/daemon/control_commands.h"

using namespace sextant;
using namespace sextant::resolver;

namespace {

struct FakeTarget : ControlTarget {
  std::vector<std::string> calls;
  bool fail_dump = false;
  std::string status() override { calls.push_back("status"); return "version x\n"; }
  std::string stats() override { calls.push_back("stats"); return "sextant_queries_total 3\n"; }
  size_t flush_name(const wire::Name& n) override { calls.push_back("flush " + n.to_text()); return 1; }
  size_t flush_subtree(const wire::Name& n) override { calls.push_back("tree " + n.to_text()); return 5; }
  void flush_all() override { calls.push_back("all"); }
  std::string dump_cache() override {
    if (fail_dump) throw std::runtime_error("dump broke");
    calls.push_back("dump");
    return "example. 300 IN A 192.0.2.1\n";
  }
  std::string dump_cache_snapshot() override {
    calls.push_back("snapshot");
    return std::string("SXTCACHE\0\1", 10);
  }
  std::string reload_tls() override { calls.push_back("reload"); return "ok: reloaded\n"; }
  std::string reload() override { calls.push_back("config"); return "ok: config\n"; }
  std::string add_negative_anchor(const wire::Name& n) override { calls.push_back("nta+ " + n.to_text()); return "ok\n"; }
  std::string remove_negative_anchor(const wire::Name& n) override {
    calls.push_back("nta- " + n.to_text());
    return "ok\n";
  }
  std::string list_negative_anchors() override { calls.push_back("nta?"); return "example.\n"; }
  std::string trace(const wire::Name& n, wire::RRType type) override {
    calls.push_back("trace " + n.to_text() + " " + wire::to_string(type));
    return "r1 +0ms q0: question\n";
  }
};

}  // namespace

TEST_CASE("control commands: each command reaches the target, Unbound spellings too", "[control]") {
  FakeTarget t;
  CHECK(run_control_command("status", t) == "version x\n");
  CHECK(run_control_command("  stats  ", t) == "sextant_queries_total 3\n");
  CHECK(run_control_command("stats_noreset", t) == "sextant_queries_total 3\n");
  CHECK(run_control_command("flush www.Example.com", t) == "ok: removed 1 cache entry at www.Example.com.\n");
  CHECK(run_control_command("flush-tree example.com.", t) ==
        "ok: removed 5 cache entries at or below example.com.\n");
  CHECK(run_control_command("flush_zone example.org", t).rfind("ok: removed 5", 0) == 0);
  CHECK(run_control_command("flush-tree .", t).rfind("ok: removed 5", 0) == 0);
  CHECK(run_control_command("flush-all", t) == "ok: cache emptied\n");
  CHECK(run_control_command("dump_cache", t) == "example. 300 IN A 192.0.2.1\n");
  CHECK(run_control_command("reload-tls", t) == "ok: reloaded\n");
  CHECK(run_control_command("reload", t) == "ok: config\n");
  CHECK(t.calls == std::vector<std::string>{"status", "stats", "stats", "flush www.Example.com.",
                                            "tree example.com.", "tree example.org.", "tree .", "all",
                                            "dump", "reload", "config"});
  CHECK(run_control_command("help", t).find("flush-tree NAME") != std::string::npos);
}

TEST_CASE("control commands: negative trust anchors", "[control]") {
  FakeTarget t;
  CHECK(run_control_command("insecure-add broken.example", t) == "ok\n");
  CHECK(run_control_command("insecure_add other.example.", t) == "ok\n");
  CHECK(run_control_command("insecure-remove broken.example", t) == "ok\n");
  CHECK(run_control_command("list_insecure", t) == "example.\n");
  CHECK(run_control_command("insecure-list", t) == "example.\n");
  CHECK(t.calls == std::vector<std::string>{"nta+ broken.example.", "nta+ other.example.", "nta- broken.example.",
                                            "nta?", "nta?"});
  CHECK(run_control_command("insecure-add .", t).rfind("error: the root cannot", 0) == 0);
  CHECK(run_control_command("insecure-add", t) == "error: usage: insecure-add NAME\n");
  CHECK(run_control_command("insecure-remove a..b", t).rfind("error: bad name", 0) == 0);
  CHECK(t.calls.size() == 5);
}

TEST_CASE("control commands: bad input is an error reply, never a call", "[control]") {
  FakeTarget t;
  CHECK(run_control_command("", t) == "error: empty command; try help\n");
  CHECK(run_control_command("   ", t) == "error: empty command; try help\n");
  CHECK(run_control_command("frobnicate", t) == "error: unknown command 'frobnicate'; try help\n");
  CHECK(run_control_command("flush", t) == "error: usage: flush NAME\n");
  CHECK(run_control_command("flush a b", t) == "error: usage: flush NAME\n");
  CHECK(run_control_command("flush-all now", t) == "error: usage: flush-all\n");
  CHECK(run_control_command("stats\x01", t) == "error: control characters in the command\n");
  CHECK(run_control_command("flush " + std::string(64, 'a') + ".com", t).rfind("error: bad name", 0) == 0);
  CHECK(run_control_command("flush a..b", t).rfind("error: bad name 'a..b'", 0) == 0);
  CHECK(t.calls.empty());
  t.fail_dump = true;
  CHECK(run_control_command("dump-cache", t) == "error: dump broke\n");
}

TEST_CASE("control commands: dump-cache --binary is the warm-restart snapshot", "[control]") {
  FakeTarget t;
  CHECK(run_control_command("dump-cache --binary", t) == std::string("SXTCACHE\0\1", 10));
  CHECK(run_control_command("dump_cache --binary", t).size() == 10);
  CHECK(t.calls == std::vector<std::string>{"snapshot", "snapshot"});
  // Anything else after dump-cache is a usage error, never a call.
  CHECK(run_control_command("dump-cache --text", t) == "error: usage: dump-cache [--to FILE]\n");
  CHECK(run_control_command("dump-cache --binary x", t) == "error: usage: dump-cache [--to FILE]\n");
  CHECK(t.calls.size() == 2);
}

TEST_CASE("control commands: trace NAME [TYPE], lookup as Unbound spells it", "[control]") {
  FakeTarget t;
  CHECK(run_control_command("trace www.example.com", t) == "r1 +0ms q0: question\n");
  CHECK(run_control_command("trace www.example.com aaaa", t) == "r1 +0ms q0: question\n");
  CHECK(run_control_command("lookup example.org. MX", t) == "r1 +0ms q0: question\n");
  CHECK(run_control_command("trace example. TYPE65534", t) == "r1 +0ms q0: question\n");
  CHECK(t.calls == std::vector<std::string>{"trace www.example.com. A", "trace www.example.com. AAAA",
                                            "trace example.org. MX", "trace example. TYPE65534"});
  CHECK(run_control_command("trace", t) == "error: usage: trace NAME [TYPE]\n");
  CHECK(run_control_command("trace a b c", t) == "error: usage: trace NAME [TYPE]\n");
  CHECK(run_control_command("trace example. NOSUCHTYPE", t) == "error: unknown type 'NOSUCHTYPE'\n");
  CHECK(run_control_command("trace example. AXFR", t) == "error: AXFR is not a type that is resolved\n");
  CHECK(run_control_command("trace a..b", t).rfind("error: bad name 'a..b'", 0) == 0);
  CHECK(t.calls.size() == 4);
  CHECK(run_control_command("help", t).find("trace NAME [TYPE]") != std::string::npos);
}
