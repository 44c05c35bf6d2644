// doh3_client: DNS over HTTPS on HTTP/3 (RFC 8484 over RFC 9114), on
// ngtcp2 0.12 + GnuTLS + nghttp3 0.8 — Debian 12 has no client that speaks
// it (curl 7.88 has no HTTP/3). For tests and for load.
//
// Load and queries (dnsperf's query-file format, "name type" per line):
//   doh3_client -s 127.0.0.1 -p 8443 [-d FILE | NAME TYPE ...] [-c CONNS] [-m STREAMS]
//               [-n COUNT] [-l SECONDS] [-Q QPS] [--method GET|POST] [--cafile PEM]
//               [--servername NAME] [--path /dns-query] [--edns] [--dnssec] [--print]
//   prints what dnsperf prints (sent, completed, lost, rcodes, QPS) plus
//   HTTP statuses and latency percentiles; --print shows each answer.
//
// One raw request, for the error statuses:
//   doh3_client -s ADDR -p PORT --request METHOD TARGET [--body FILE]
//               [--content-type TYPE] [-o FILE]
//   prints "status: N", the header fields, then the body (or writes it to FILE).
//
// Exit status: 0 when every query got an HTTP answer (whatever its status),
// 1 when some were lost, 2 on bad arguments or when no connection came up.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

#include "bench/doh3_connection.h"
#include "wire/base_encoding.h"
#include "wire/message.h"

using namespace sextant;
using namespace sextant::bench::doh3;

namespace {

void usage() {
  std::fprintf(stderr,
               "usage: doh3_client [-s ADDR] [-p PORT] [--cafile PEM] [--servername NAME] [--path PATH]\n"
               "                   [-d QUERYFILE | NAME TYPE ...] [-c CONNECTIONS] [-m STREAMS] [-n COUNT]\n"
               "                   [-l SECONDS] [-Q QPS] [--method GET|POST] [--timeout SECONDS] [--edns]\n"
               "                   [--dnssec] [--print]\n"
               "       doh3_client [-s ADDR] [-p PORT] ... --request METHOD TARGET [--body FILE]\n"
               "                   [--content-type TYPE] [-o FILE]\n");
}

bool parse_options(int argc, char** argv, Options& o) {
  std::vector<std::string> positional;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    auto value = [&](std::string& out) {
      if (i + 1 >= argc) return false;
      out = argv[++i];
      return true;
    };
    std::string v;
    if (a == "-s") {
      if (!value(o.server)) return false;
    } else if (a == "-p") {
      if (!value(v)) return false;
      o.port = static_cast<uint16_t>(std::atoi(v.c_str()));
    } else if (a == "--cafile") {
      if (!value(o.cafile)) return false;
    } else if (a == "--servername") {
      if (!value(o.servername)) return false;
    } else if (a == "--path") {
      if (!value(o.path)) return false;
    } else if (a == "--method") {
      if (!value(o.method)) return false;
      if (o.method != "GET" && o.method != "POST") return false;
    } else if (a == "-c") {
      if (!value(v)) return false;
      o.connections = static_cast<unsigned>(std::max(1, std::atoi(v.c_str())));
    } else if (a == "-m") {
      if (!value(v)) return false;
      o.streams = static_cast<unsigned>(std::max(1, std::atoi(v.c_str())));
    } else if (a == "-n") {
      if (!value(v)) return false;
      o.count = std::strtoull(v.c_str(), nullptr, 10);
    } else if (a == "-l") {
      if (!value(v)) return false;
      o.seconds = std::atof(v.c_str());
    } else if (a == "-Q") {
      if (!value(v)) return false;
      o.rate = std::atof(v.c_str());
    } else if (a == "--timeout") {
      if (!value(v)) return false;
      o.timeout = std::atof(v.c_str());
    } else if (a == "-d") {
      if (!value(v)) return false;
      std::ifstream in(v);
      if (!in) {
        std::fprintf(stderr, "cannot read %s\n", v.c_str());
        return false;
      }
      std::string line;
      while (std::getline(in, line)) {
        std::istringstream words(line);
        std::string name, type;
        if (!(words >> name) || name[0] == '#') continue;
        if (!(words >> type)) type = "A";
        o.queries.emplace_back(name, type);
      }
    } else if (a == "--edns") {
      o.edns = true;
    } else if (a == "--dnssec") {
      o.edns = o.dnssec = true;
    } else if (a == "--print") {
      o.print = true;
    } else if (a == "--request") {
      if (!value(o.request_method) || !value(o.request_target)) return false;
    } else if (a == "--body") {
      if (!value(o.body_file)) return false;
    } else if (a == "--content-type") {
      if (!value(o.content_type)) return false;
    } else if (a == "-o") {
      if (!value(o.output_file)) return false;
    } else if (a == "-h" || a == "--help") {
      return false;
    } else if (!a.empty() && a[0] == '-') {
      std::fprintf(stderr, "unknown option %s\n", a.c_str());
      return false;
    } else {
      positional.push_back(a);
    }
  }
  if (positional.size() % 2 != 0) positional.push_back("A");
  for (size_t i = 0; i < positional.size(); i += 2) o.queries.emplace_back(positional[i], positional[i + 1]);
  if (o.request_method.empty() && o.queries.empty()) {
    std::fprintf(stderr, "no queries: give -d FILE or NAME TYPE\n");
    return false;
  }
  return true;
}

std::optional<std::vector<uint8_t>> build_query(const Options& o, const std::string& name, const std::string& type) {
  wire::Message m;
  auto t = wire::rrtype_from_text(type);
  if (!t) return std::nullopt;
  try {
    m.questions.push_back({wire::Name::from_text(name), *t, wire::RRClass::IN});
  } catch (const std::exception&) {
    return std::nullopt;
  }
  m.header.id = 0;  // RFC 8484 §4.1: cache-friendly
  m.header.set_rd(true);
  if (o.edns) {
    wire::Edns edns;
    edns.udp_payload_size = 1232;
    edns.set_dnssec_ok(o.dnssec);
    m.edns = edns;
  }
  std::vector<uint8_t> out;
  if (wire::build_message(m, out) != wire::WireError::ok) return std::nullopt;
  return out;
}

Request make_request(const Options& o, const std::vector<uint8_t>& query) {
  Request r;
  std::string authority = o.servername + ":" + std::to_string(o.port);
  if (o.method == "GET") {
    r.headers = {{":method", "GET"}, {":scheme", "https"}, {":authority", authority},
                 {":path", o.path + "?dns=" + wire::base64url_encode(query)}, {"accept", "application/dns-message"}};
  } else {
    r.headers = {{":method", "POST"}, {":scheme", "https"}, {":authority", authority}, {":path", o.path},
                 {"content-type", "application/dns-message"}, {"accept", "application/dns-message"},
                 {"content-length", std::to_string(query.size())}};
    r.body = query;
  }
  return r;
}

// Runs the poll loop over `connections` until `done()` or `deadline_ns`.
template <typename Done, typename Tick>
void run_loop(std::vector<std::unique_ptr<H3Connection>>& connections, uint64_t deadline_ns, Done done, Tick tick) {
  while (!done() && now_ns() < deadline_ns) {
    tick();
    std::vector<pollfd> fds;
    int wait = 20;
    for (auto& c : connections) {
      fds.push_back(pollfd{c->fd(), POLLIN, 0});
      wait = std::min(wait, c->timeout_ms(20));
    }
    ::poll(fds.data(), fds.size(), wait);
    for (size_t i = 0; i < connections.size(); ++i) {
      auto& c = connections[i];
      if (c->closed()) continue;
      if (fds[i].revents & POLLIN) c->on_readable();
      c->on_timer();
    }
  }
}

int run_request(const Options& o) {
  Request r;
  std::string authority = o.servername + ":" + std::to_string(o.port);
  r.headers = {{":method", o.request_method}, {":scheme", "https"}, {":authority", authority},
               {":path", o.request_target}};
  if (!o.body_file.empty()) {
    std::ifstream in(o.body_file, std::ios::binary);
    r.body.assign(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
    r.headers.emplace_back("content-type", o.content_type);
    r.headers.emplace_back("content-length", std::to_string(r.body.size()));
  }
  std::optional<Response> got;
  bool finished = false;
  std::vector<std::unique_ptr<H3Connection>> connections;
  connections.push_back(std::make_unique<H3Connection>(o, [&](const Request&, const Response* response) {
    finished = true;
    if (response) got = *response;
  }));
  std::string error;
  if (!connections[0]->start(error)) {
    std::fprintf(stderr, "doh3_client: %s\n", error.c_str());
    return 2;
  }
  bool submitted = false;
  uint64_t deadline = now_ns() + static_cast<uint64_t>(o.timeout * 1e9);
  run_loop(connections, deadline, [&] { return finished || connections[0]->closed(); },
           [&] {
             if (!submitted && connections[0]->ready()) submitted = connections[0]->submit(r);
           });
  if (!got) {
    std::fprintf(stderr, "doh3_client: no response (%s)\n",
                 connections[0]->close_reason().empty() ? "timeout" : connections[0]->close_reason().c_str());
    return 1;
  }
  std::printf("status: %d\n", got->status);
  for (auto& [k, v] : got->headers) {
    if (k[0] != ':') std::printf("%s: %s\n", k.c_str(), v.c_str());
  }
  std::printf("\n");
  if (!o.output_file.empty()) {
    std::ofstream out(o.output_file, std::ios::binary);
    out.write(reinterpret_cast<const char*>(got->body.data()), static_cast<std::streamsize>(got->body.size()));
  } else {
    wire::Message m;
    if (wire::Message::parse(got->body, m) == wire::WireError::ok && m.header.qr()) {
      std::printf("%s", m.to_text().c_str());
    } else {
      std::fwrite(got->body.data(), 1, got->body.size(), stdout);
    }
  }
  return 0;
}

struct Stats {
  uint64_t sent = 0, completed = 0, lost = 0;
  std::map<int, uint64_t> statuses;
  std::map<std::string, uint64_t> rcodes;
  std::vector<double> latencies_ms;
};

double percentile(std::vector<double>& sorted, double p) {
  if (sorted.empty()) return 0;
  size_t index = static_cast<size_t>(p / 100.0 * static_cast<double>(sorted.size() - 1) + 0.5);
  return sorted[std::min(index, sorted.size() - 1)];
}

int run_load(const Options& o) {
  std::vector<std::vector<uint8_t>> queries;
  for (auto& [name, type] : o.queries) {
    auto q = build_query(o, name, type);
    if (!q) {
      std::fprintf(stderr, "doh3_client: cannot build a query for '%s %s'\n", name.c_str(), type.c_str());
      return 2;
    }
    queries.push_back(std::move(*q));
  }
  uint64_t total = o.count ? o.count : (o.seconds > 0 ? UINT64_MAX : queries.size());
  Stats stats;
  auto on_response = [&](const Request& request, const Response* response) {
    if (!response) {
      ++stats.lost;
      return;
    }
    ++stats.completed;
    ++stats.statuses[response->status];
    stats.latencies_ms.push_back(static_cast<double>(now_ns() - request.started_ns) / 1e6);
    wire::Message m;
    if (response->status == 200 && wire::Message::parse(response->body, m) == wire::WireError::ok) {
      ++stats.rcodes[wire::to_string(m.rcode())];
      if (o.print) {
        std::printf(";; %s %s\n%s\n", o.queries[request.query_index].first.c_str(),
                    o.queries[request.query_index].second.c_str(), m.to_text().c_str());
      }
    } else if (o.print) {
      std::printf(";; %s %s: HTTP %d\n", o.queries[request.query_index].first.c_str(),
                  o.queries[request.query_index].second.c_str(), response->status);
    }
  };
  std::vector<std::unique_ptr<H3Connection>> connections;
  for (unsigned i = 0; i < o.connections; ++i) {
    connections.push_back(std::make_unique<H3Connection>(o, on_response));
    std::string error;
    if (!connections.back()->start(error)) {
      std::fprintf(stderr, "doh3_client: %s\n", error.c_str());
      return 2;
    }
  }
  uint64_t start = now_ns();
  uint64_t send_until = o.seconds > 0 ? start + static_cast<uint64_t>(o.seconds * 1e9) : UINT64_MAX;
  uint64_t give_up = o.seconds > 0 ? send_until + static_cast<uint64_t>(o.timeout * 1e9)
                                   : start + static_cast<uint64_t>((o.timeout + static_cast<double>(total) / std::max(o.rate, 1.0) + 60) * 1e9);
  size_t next_connection = 0;
  auto all_closed = [&] {
    return std::all_of(connections.begin(), connections.end(), [](auto& c) { return c->closed(); });
  };
  auto in_flight = [&] {
    size_t n = 0;
    for (auto& c : connections) n += c->in_flight();
    return n;
  };
  auto finished_sending = [&] { return stats.sent >= total || now_ns() >= send_until; };
  run_loop(
      connections, give_up, [&] { return (finished_sending() && in_flight() == 0) || all_closed(); },
      [&] {
        uint64_t now = now_ns();
        while (!finished_sending()) {
          if (o.rate > 0 && now < start + static_cast<uint64_t>(static_cast<double>(stats.sent) / o.rate * 1e9)) break;
          // Round-robin over the connections with room for another stream.
          H3Connection* target = nullptr;
          for (size_t k = 0; k < connections.size() && !target; ++k) {
            auto& c = connections[(next_connection + k) % connections.size()];
            if (c->can_submit()) {
              target = c.get();
              next_connection = (next_connection + k + 1) % connections.size();
            }
          }
          if (!target) break;
          size_t index = static_cast<size_t>(stats.sent % queries.size());
          Request r = make_request(o, queries[index]);
          r.started_ns = now_ns();
          r.query_index = index;
          if (!target->submit(std::move(r))) break;
          ++stats.sent;
        }
        for (auto& c : connections) c->flush();
      });
  for (auto& c : connections) c->abandon_all("time limit");
  double elapsed = static_cast<double>(now_ns() - start) / 1e9;
  bool any_up = stats.completed > 0 || !all_closed();
  std::sort(stats.latencies_ms.begin(), stats.latencies_ms.end());
  std::printf("Statistics:\n\n");
  std::printf("  Queries sent:         %llu\n", static_cast<unsigned long long>(stats.sent));
  std::printf("  Queries completed:    %llu (%.2f%%)\n", static_cast<unsigned long long>(stats.completed),
              stats.sent ? 100.0 * static_cast<double>(stats.completed) / static_cast<double>(stats.sent) : 0.0);
  std::printf("  Queries lost:         %llu\n", static_cast<unsigned long long>(stats.lost));
  std::printf("  HTTP statuses:       ");
  for (auto& [status, n] : stats.statuses) std::printf(" %d %llu", status, static_cast<unsigned long long>(n));
  std::printf("\n  Response codes:      ");
  for (auto& [rcode, n] : stats.rcodes) std::printf(" %s %llu", rcode.c_str(), static_cast<unsigned long long>(n));
  std::printf("\n  Run time (s):         %.6f\n", elapsed);
  std::printf("  Queries per second:   %.6f\n", elapsed > 0 ? static_cast<double>(stats.completed) / elapsed : 0.0);
  std::printf("  Latency (ms):         p50 %.3f  p90 %.3f  p99 %.3f  max %.3f\n", percentile(stats.latencies_ms, 50),
              percentile(stats.latencies_ms, 90), percentile(stats.latencies_ms, 99),
              stats.latencies_ms.empty() ? 0.0 : stats.latencies_ms.back());
  std::printf("  Connections:          %u x %u streams\n", o.connections, o.streams);
  for (auto& c : connections) {
    if (c->closed() && !c->close_reason().empty() && c->close_reason() != "time limit") {
      std::printf("  Connection closed:    %s\n", c->close_reason().c_str());
    }
  }
  if (!any_up) return 2;
  return stats.lost == 0 && stats.completed == stats.sent ? 0 : 1;
}

}  // namespace

int main(int argc, char** argv) {
  Options o;
  if (!parse_options(argc, argv, o)) {
    usage();
    return 2;
  }
  return o.request_method.empty() ? run_load(o) : run_request(o);
}
