// sextant: a recursive, caching, validating DNS resolver.
#include <signal.h>

#include <cstdio>
#include <cstring>
#include <fstream>
#include <iostream>
#include <sstream>
#include <string>

#include "dnssec/anchor_state_file.h"
#include "dnssec/trust_anchors.h"
#include "resolver/daemon/forward_upstreams.h"
#include "resolver/config/config.h"
#include "resolver/daemon/control_client.h"
#include "resolver/daemon/daemon.h"
#include "resolver/daemon/log.h"
#include "resolver/daemon/version.h"
#include "resolver/policy/policy_builder.h"

namespace {

sextant::resolver::Daemon* g_daemon = nullptr;

void on_signal(int signal) {
  if (!g_daemon) return;
  if (signal == SIGHUP) g_daemon->request_reload();
  else g_daemon->request_stop();
}

int usage(int code) {
  std::fprintf(code ? stderr : stdout,
               "usage: sextant [-c FILE]            run the resolver (no file: embedded defaults)\n"
               "       sextant --check-config FILE  validate a configuration file and exit\n"
               "       sextant control [-s SOCKET | -c FILE] COMMAND [ARG]\n"
               "                                    talk to a running sextant (try: control help)\n"
               "       sextant --config-reference   print every setting with its default\n"
               "       sextant --version\n");
  return code;
}

// sextant control [-s SOCKET | -c FILE] COMMAND [ARG...]: the socket comes
// from -s, or from control.socket of the configuration file given with -c.
int control_main(int argc, char** argv) {
  using namespace sextant::resolver;
  std::string socket_path;
  std::string config_path;
  int i = 2;
  for (; i < argc; ++i) {
    std::string a = argv[i];
    if ((a == "-s" || a == "--socket") && i + 1 < argc) socket_path = argv[++i];
    else if ((a == "-c" || a == "--config") && i + 1 < argc) config_path = argv[++i];
    else break;
  }
  if (i >= argc) {
    std::fprintf(stderr, "usage: sextant control [-s SOCKET | -c FILE] COMMAND [ARG]  (COMMAND help lists them)\n");
    return 2;
  }
  if (socket_path.empty()) {
    if (config_path.empty()) {
      std::fprintf(stderr, "sextant control: give the socket (-s PATH) or the daemon's configuration (-c FILE)\n");
      return 2;
    }
    try {
      socket_path = load_config_file(config_path).control_socket;
    } catch (const std::exception& e) {
      std::fprintf(stderr, "%s\n", e.what());
      return 2;
    }
    if (socket_path.empty()) {
      std::fprintf(stderr, "sextant control: %s sets no control.socket\n", config_path.c_str());
      return 2;
    }
  }
  // dump-cache --to FILE: the daemon sends the snapshot, this process
  // writes FILE (with the operator's rights, not the daemon's).
  if (argc - i == 3 && (std::strcmp(argv[i], "dump-cache") == 0 || std::strcmp(argv[i], "dump_cache") == 0) &&
      std::strcmp(argv[i + 1], "--to") == 0) {
    ControlReply reply = send_control_command(socket_path, "dump-cache --binary", 120000);
    if (!reply.ok || reply.text.rfind("SXTCACHE", 0) != 0) {
      std::fprintf(stderr, "%s\n", reply.ok ? "sextant control: the reply is not a cache snapshot" : reply.text.c_str());
      return 1;
    }
    std::string error = write_file_atomically(argv[i + 2], reply.text);
    if (!error.empty()) {
      std::fprintf(stderr, "sextant control: cannot write %s: %s\n", argv[i + 2], error.c_str());
      return 1;
    }
    std::printf("ok: wrote the cache snapshot (%zu octets) to %s\n", reply.text.size(), argv[i + 2]);
    return 0;
  }
  std::string command;
  for (; i < argc; ++i) command += (command.empty() ? "" : " ") + std::string(argv[i]);
  ControlReply reply = send_control_command(socket_path, command);
  std::fputs(reply.text.c_str(), reply.ok ? stdout : stderr);
  if (!reply.text.empty() && reply.text.back() != '\n') std::fputc('\n', reply.ok ? stdout : stderr);
  return reply.ok ? 0 : 1;
}

// --check-config also reads the trust anchor files it names, so a bad
// record is reported with its file and line before a restart finds it.
void check_trust_anchor_files(const sextant::resolver::Config& c) {
  if (!c.trust_anchor_file.empty()) sextant::dnssec::TrustAnchors::from_file(c.trust_anchor_file);
  if (c.auto_trust_anchor_file.empty()) return;
  std::ifstream in(c.auto_trust_anchor_file);
  if (!in) return;  // created at start from the configured anchors
  std::ostringstream text;
  text << in.rdbuf();
  sextant::dnssec::read_anchor_state(text.str(), c.auto_trust_anchor_file);
}

}  // namespace

int main(int argc, char** argv) {
  using namespace sextant::resolver;
  if (argc >= 2 && std::strcmp(argv[1], "control") == 0) return control_main(argc, argv);
  std::string config_path;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if ((a == "-c" || a == "--config") && i + 1 < argc) {
      config_path = argv[++i];
    } else if (a == "--check-config" && i + 1 < argc) {
      try {
        const Config checked = load_config_file(argv[++i]);
        check_trust_anchor_files(checked);
        // The CA bundles of encrypted forward upstreams, loaded as the connections will.
        check_forward_upstreams(checked, argv[i]);
        // The files the policy names are read as at start-up: a missing
        // list or a zone that does not load is an error; bad lines in a
        // list are warnings (they are skipped when running).
        policy::BuildContext ctx;
        policy::BuildReport report;
        policy::build_policy(checked.policy, ctx, report);
        for (const auto& w : report.warnings) std::fprintf(stderr, "warning: %s\n", w.c_str());
        std::printf("%s: configuration is valid\n", argv[i]);
        return 0;
      } catch (const std::exception& e) {
        std::fprintf(stderr, "%s\n", e.what());
        return 1;
      }
    } else if (a == "--config-reference") {
      std::fputs(config_reference().c_str(), stdout);
      return 0;
    } else if (a == "--version") {
      std::printf("sextant %s\n", kSextantVersion);
      return 0;
    } else if (a == "-h" || a == "--help") {
      return usage(0);
    } else {
      std::fprintf(stderr, "sextant: unknown argument '%s'\n", a.c_str());
      return usage(2);
    }
  }

  Config config;
  try {
    config = config_path.empty() ? default_config() : load_config_file(config_path);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "%s\n", e.what());
    return 1;
  }

  try {
    Daemon daemon(std::move(config), config_path);
    g_daemon = &daemon;
    struct sigaction sa {};
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, nullptr);
    sigaction(SIGTERM, &sa, nullptr);
    sigaction(SIGHUP, &sa, nullptr);  // reload: access-control, log-level, TLS files
    daemon.run();
    g_daemon = nullptr;
  } catch (const std::exception& e) {
    log::error("{}", e.what());
    return 1;
  }
  return 0;
}
