// Attack clients over DNS over QUIC (issue 16 §6), for
// tests/integration/abusive_connections_test.py. Built on the DoQ test
// client (tests/transports/doq_test_client.h: ngtcp2 0.12 + GnuTLS), which
// keeps to the server's MAX_STREAMS as every ngtcp2 client does: the
// attacks are what a client can do within the protocol.
//
//   doq_attack PORT CAFILE NAME unfinished SOURCE OTHER_SOURCE
//     opens streams that each carry half a query and never finish, until the
//     server's stream limit stops it; then a client from OTHER_SOURCE asks
//     NAME; then the unfinished streams are reset and the same connection
//     asks again (the server must give the stream credit back).
//   doq_attack PORT CAFILE NAME flood SOURCE COUNT
//     COUNT streams, each a whole query reset as soon as it is sent (the
//     QUIC form of HTTP/2's rapid reset), as fast as the stream limit lets;
//     then one more query on the same connection.
//   doq_attack PORT CAFILE NAME trickle SOURCE SECONDS
//     one stream with half a query and no FIN, while a complete query goes
//     out every 200 ms on other streams (QUIC itself stays busy), for at
//     most SECONDS: prints when the server closed the connection.
//   doq_attack PORT CAFILE NAME idle COUNT SOURCE...
//     COUNT connections (handshake, then silence), round-robin over the
//     SOURCE addresses; prints "ready", waits for a line on stdin (the test
//     measures the server meanwhile), then counts those still open.
//
// Prints "key value" lines; exits 0 when it ran (the test judges), 2 on bad
// arguments. Bounded: at most COUNT streams or connections, each wait a few
// seconds.
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <memory>
#include <string>
#include <vector>

#include "tests/transports/doq_test_client.h"

using sextant::transports::test::DoqTestClient;

namespace {

// A recursion-desired query with ID 0 (RFC 9250 §4.2.1) for `name` A.
std::vector<uint8_t> make_query(const std::string& name) {
  std::vector<uint8_t> q = {0, 0, 0x01, 0, 0, 1, 0, 0, 0, 0, 0, 0};
  size_t start = 0;
  while (start < name.size()) {
    size_t dot = name.find('.', start);
    if (dot == std::string::npos) dot = name.size();
    q.push_back(static_cast<uint8_t>(dot - start));
    q.insert(q.end(), name.begin() + static_cast<ptrdiff_t>(start), name.begin() + static_cast<ptrdiff_t>(dot));
    start = dot + 1;
  }
  q.insert(q.end(), {0, 0, 1, 0, 1});
  return q;
}

// The answer on `id` is a NOERROR response with at least one answer record.
bool answered(DoqTestClient& client, int64_t id) {
  auto a = client.answer(id);
  return a.size() >= 12 && (a[2] & 0x80) && (a[3] & 0x0f) == 0 && (a[6] << 8 | a[7]) >= 1;
}

bool ask(DoqTestClient& client, const std::string& name) {
  int64_t id = client.send_query(make_query(name));
  if (id < 0) return false;
  for (int i = 0; i < 30 && !client.streams[id].closed; ++i) client.pump(100);
  return answered(client, id);
}

void print_close(DoqTestClient& client) {
  std::printf("closed %d\n", client.peer_closed() ? 1 : 0);
  if (client.peer_closed()) {
    auto e = client.close_error();
    std::printf("close_type %d\nclose_code %llu\n", static_cast<int>(e.type),
                static_cast<unsigned long long>(e.error_code));
  }
}

int unfinished(uint16_t port, const std::string& ca, const std::string& name, const std::string& source,
               const std::string& other_source) {
  DoqTestClient client(port, {"doq"}, ca, nullptr, source);
  if (!client.handshake()) {
    std::printf("handshake 0\n");
    return 0;
  }
  const uint64_t limit = client.streams_left();
  std::vector<int64_t> held;
  auto query = make_query(name);
  // Two octets of length and half the message, no FIN.
  std::vector<uint8_t> half = {static_cast<uint8_t>(query.size() >> 8), static_cast<uint8_t>(query.size())};
  half.insert(half.end(), query.begin(), query.begin() + static_cast<ptrdiff_t>(query.size() / 2));
  for (int i = 0; i < 100000; ++i) {
    int64_t id = client.send(half, false);
    if (id < 0) break;
    held.push_back(id);
  }
  client.pump(500);
  std::printf("stream_limit %llu\nopened %zu\nstreams_left_after %llu\n", static_cast<unsigned long long>(limit),
              held.size(), static_cast<unsigned long long>(client.streams_left()));
  std::printf("alive_while_held %d\n", client.peer_closed() ? 0 : 1);

  DoqTestClient other(port, {"doq"}, ca, nullptr, other_source);
  std::printf("other_client_answered %d\n", other.handshake() && ask(other, name) ? 1 : 0);

  for (int64_t id : held) client.reset(id);
  bool credit = false;
  for (int i = 0; i < 30 && !credit && !client.peer_closed(); ++i) {
    client.pump(100);
    credit = client.streams_left() > 0;
  }
  std::printf("credit_back %d\n", credit ? 1 : 0);
  std::printf("same_connection_answered %d\n", credit && ask(client, name) ? 1 : 0);
  print_close(client);
  return 0;
}

int flood(uint16_t port, const std::string& ca, const std::string& name, const std::string& source, long count) {
  DoqTestClient client(port, {"doq"}, ca, nullptr, source);
  if (!client.handshake()) {
    std::printf("handshake 0\n");
    return 0;
  }
  auto query = make_query(name);
  long sent = 0;
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(15);
  while (sent < count && !client.peer_closed() && std::chrono::steady_clock::now() < deadline) {
    int64_t id = client.send_query(query);
    if (id < 0) {
      client.pump(5);  // the stream limit: wait for the server's credit
      continue;
    }
    client.send_now();
    client.reset(id);
    client.streams.erase(id);  // keep the client's own bookkeeping small
    ++sent;
    if (sent % 64 == 0) client.pump(1);
  }
  client.pump(300);
  std::printf("reset_streams %ld\n", sent);
  std::printf("after_flood_answered %d\n", !client.peer_closed() && ask(client, name) ? 1 : 0);
  print_close(client);
  return 0;
}

int trickle(uint16_t port, const std::string& ca, const std::string& name, const std::string& source, long seconds) {
  DoqTestClient client(port, {"doq"}, ca, nullptr, source);
  if (!client.handshake()) {
    std::printf("handshake 0\n");
    return 0;
  }
  auto query = make_query(name);
  std::vector<uint8_t> half = {static_cast<uint8_t>(query.size() >> 8), static_cast<uint8_t>(query.size())};
  half.insert(half.end(), query.begin(), query.begin() + 6);
  client.send(half, false);
  const auto started = std::chrono::steady_clock::now();
  long answered_queries = 0;
  while (!client.peer_closed() && std::chrono::steady_clock::now() - started < std::chrono::seconds(seconds)) {
    int64_t id = client.send_query(query);
    client.pump(200);
    answered_queries += id >= 0 && answered(client, id) ? 1 : 0;
  }
  const auto elapsed = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - started);
  std::printf("answered %ld\nclosed_after_ms %lld\n", answered_queries,
              client.peer_closed() ? static_cast<long long>(elapsed.count()) : -1LL);
  print_close(client);
  return 0;
}

int idle(uint16_t port, const std::string& ca, long count, const std::vector<std::string>& sources) {
  std::vector<std::unique_ptr<DoqTestClient>> clients;
  long failed = 0;
  for (long i = 0; i < count; ++i) {
    // Our idle timeout well above any server's: the server's decides, and
    // the connections stay held however slowly the others' handshakes go.
    auto c = std::make_unique<DoqTestClient>(port, std::vector<std::string>{"doq"}, ca, nullptr,
                                             sources[static_cast<size_t>(i) % sources.size()], 600);
    // Until the server's session ticket arrives: it is sent once the server
    // has our Finished, so the server holds the connection as established
    // (a Finished held back by pacing would leave it to the handshake
    // timeout while we believed it open).
    if (c->handshake(3000) && !c->resumption(3000).ticket.empty()) {
      c->pump(5);  // acknowledge what came with it
      clients.push_back(std::move(c));
    } else {
      ++failed;
    }
  }
  std::printf("handshakes %zu\nhandshake_failures %ld\nready\n", clients.size(), failed);
  std::fflush(stdout);
  std::string line;
  std::getline(std::cin, line);
  long open = 0;
  for (auto& c : clients) open += c->pump(2) ? 1 : 0;  // a CONNECTION_CLOSE waiting in the socket ends it
  std::printf("still_open %ld\n", open);
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 5) {
    std::fprintf(stderr, "usage: doq_attack PORT CAFILE NAME unfinished|flood|idle ...\n");
    return 2;
  }
  const auto port = static_cast<uint16_t>(std::atoi(argv[1]));
  const std::string ca = argv[2], name = argv[3], mode = argv[4];
  if (mode == "unfinished" && argc == 7) return unfinished(port, ca, name, argv[5], argv[6]);
  if (mode == "flood" && argc == 7) return flood(port, ca, name, argv[5], std::atol(argv[6]));
  if (mode == "trickle" && argc == 7) return trickle(port, ca, name, argv[5], std::atol(argv[6]));
  if (mode == "idle" && argc >= 7) {
    return idle(port, ca, std::atol(argv[5]), std::vector<std::string>(argv + 6, argv + argc));
  }
  std::fprintf(stderr, "doq_attack: bad arguments for %s\n", mode.c_str());
  return 2;
}
