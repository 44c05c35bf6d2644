// A blocking HTTP/1.1 client over any byte pipe (a TlsTestClient, or a
// plain socket for cleartext), for the DoH HTTP/1.1 tests: raw requests in,
// parsed responses out (status, lower-cased header names, Content-Length
// body), pipelining included.
#pragma once

#include <chrono>
#include <cstdlib>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "tests/transports/encrypted_support.h"
#include "tests/transports/h2_test_client.h"

namespace sextant::transports::test {

struct Http1Response {
  int status = 0;
  std::string reason;
  std::map<std::string, std::string> headers;  // names lower-cased; the last of repeated fields
  std::vector<uint8_t> body;
  std::string header(const std::string& name) const {
    auto it = headers.find(name);
    return it == headers.end() ? std::string() : it->second;
  }
  std::string text() const { return std::string(body.begin(), body.end()); }
};

class Http1TestClient {
 public:
  Http1TestClient(H2TestClient::Send send, H2TestClient::Receive receive)
      : send_(std::move(send)), receive_(std::move(receive)) {}

  bool send(std::string_view raw) {
    return send_(std::span<const uint8_t>(reinterpret_cast<const uint8_t*>(raw.data()), raw.size()));
  }
  bool send(std::span<const uint8_t> raw) { return send_(raw); }

  // The next response (interim 1xx ones included), or nullopt when the
  // peer closed or nothing complete arrived within `timeout_ms`.
  std::optional<Http1Response> read_response(unsigned timeout_ms = 5000) {
    auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
    while (true) {
      if (auto r = take_response()) return r;
      if (closed_ || std::chrono::steady_clock::now() >= deadline) return std::nullopt;
      uint8_t buffer[16384];
      ssize_t n = receive_(buffer, sizeof buffer);
      if (n == 0) closed_ = true;
      if (n > 0) buffer_.append(reinterpret_cast<const char*>(buffer), static_cast<size_t>(n));
    }
  }

  // True when the peer closes within `timeout_ms` (data before is discarded).
  bool wait_for_close(unsigned timeout_ms) {
    auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
    while (!closed_ && std::chrono::steady_clock::now() < deadline) {
      uint8_t buffer[16384];
      if (receive_(buffer, sizeof buffer) == 0) closed_ = true;
    }
    return closed_;
  }
  bool closed() const { return closed_; }

 private:
  std::optional<Http1Response> take_response() {
    size_t end = buffer_.find("\r\n\r\n");
    if (end == std::string::npos) return std::nullopt;
    Http1Response r;
    std::string_view head(buffer_.data(), end);
    size_t line_end = head.find("\r\n");
    std::string_view status_line = head.substr(0, line_end);
    if (status_line.size() < 12 || status_line.substr(0, 5) != "HTTP/") return std::nullopt;
    r.status = std::atoi(std::string(status_line.substr(9, 3)).c_str());
    r.reason = std::string(status_line.substr(std::min<size_t>(13, status_line.size())));
    std::string_view rest = line_end == std::string_view::npos ? std::string_view{} : head.substr(line_end + 2);
    while (!rest.empty()) {
      size_t next = rest.find("\r\n");
      std::string_view line = rest.substr(0, next);
      size_t colon = line.find(':');
      if (colon != std::string_view::npos) {
        std::string name(line.substr(0, colon));
        for (auto& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
        std::string_view value = line.substr(colon + 1);
        while (!value.empty() && value.front() == ' ') value.remove_prefix(1);
        r.headers[name] = std::string(value);
      }
      if (next == std::string_view::npos) break;
      rest.remove_prefix(next + 2);
    }
    size_t length = r.status >= 200 ? std::strtoul(r.header("content-length").c_str(), nullptr, 10) : 0;
    if (buffer_.size() < end + 4 + length) return std::nullopt;
    r.body.assign(buffer_.begin() + static_cast<ptrdiff_t>(end + 4),
                  buffer_.begin() + static_cast<ptrdiff_t>(end + 4 + length));
    buffer_.erase(0, end + 4 + length);
    return r;
  }

  H2TestClient::Send send_;
  H2TestClient::Receive receive_;
  std::string buffer_;
  bool closed_ = false;
};

// A request for `query` as raw HTTP/1.1 text.
inline std::string http1_post(std::span<const uint8_t> query, const std::string& path = "/dns-query",
                              const std::string& extra = "") {
  std::string r = "POST " + path + " HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/dns-message\r\n" +
                  "Content-Length: " + std::to_string(query.size()) + "\r\n" + extra + "\r\n";
  r.append(reinterpret_cast<const char*>(query.data()), query.size());
  return r;
}
inline std::string http1_get(std::span<const uint8_t> query, const std::string& extra = "") {
  return "GET /dns-query?dns=" + base64url(query) + " HTTP/1.1\r\nHost: localhost\r\n" + extra + "\r\n";
}

}  // namespace sextant::transports::test
