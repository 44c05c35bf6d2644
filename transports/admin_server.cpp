#include "transports/admin_server.h"

#include <fmt/format.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>
#include <uv.h>

#include <atomic>
#include <cerrno>
#include <cstring>
#include <list>
#include <stdexcept>
#include <thread>

#include "transports/http_request_head.h"

namespace sextant::transports {

namespace {

enum class ConnectionKind { control, metrics };

const char* status_text(int status) {
  switch (status) {
    case 200: return "OK";
    case 400: return "Bad Request";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 414: return "URI Too Long";
    case 431: return "Request Header Fields Too Large";
    case 500: return "Internal Server Error";
    case 505: return "HTTP Version Not Supported";
    default: return "Error";
  }
}

std::string http_response(int status, std::string_view content_type, const std::string& body,
                          bool include_body, std::string_view extra_fields = {}) {
  std::string out = fmt::format(
      "HTTP/1.1 {} {}\r\nContent-Type: {}\r\nContent-Length: {}\r\nCache-Control: no-store\r\n"
      "Connection: close\r\n{}\r\n",
      status, status_text(status), content_type, body.size(), extra_fields);
  if (include_body) out += body;
  return out;
}

// A Unix stream socket bound to `path`, mode set before it listens (so no
// one can connect while the mode is still the umask's).
int open_control_socket(const std::string& path, unsigned mode, int uid, int gid) {
  sockaddr_un sun{};
  if (path.size() >= sizeof(sun.sun_path))
    throw std::runtime_error(fmt::format("control socket {}: path longer than {} octets", path,
                                         sizeof(sun.sun_path) - 1));
  struct stat st {};
  if (lstat(path.c_str(), &st) == 0) {
    // A socket left by an earlier run is replaced; anything else is not ours to delete.
    if (!S_ISSOCK(st.st_mode))
      throw std::runtime_error(fmt::format("control socket {}: exists and is not a socket", path));
    int probe = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    std::memcpy(sun.sun_path, path.c_str(), path.size());
    sun.sun_family = AF_UNIX;
    bool in_use = probe >= 0 && connect(probe, reinterpret_cast<sockaddr*>(&sun), sizeof(sun)) == 0;
    if (probe >= 0) ::close(probe);
    if (in_use)
      throw std::runtime_error(fmt::format("control socket {}: another process is serving it", path));
    ::unlink(path.c_str());
  }
  int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) throw std::runtime_error(fmt::format("control socket {}: {}", path, std::strerror(errno)));
  sun.sun_family = AF_UNIX;
  std::memcpy(sun.sun_path, path.c_str(), path.size());
  if (bind(fd, reinterpret_cast<sockaddr*>(&sun), sizeof(sun)) != 0 || chmod(path.c_str(), mode) != 0 ||
      ((uid >= 0 || gid >= 0) && chown(path.c_str(), static_cast<uid_t>(uid), static_cast<gid_t>(gid)) != 0)) {
    int e = errno;
    ::close(fd);
    throw std::runtime_error(fmt::format("control socket {}: {}", path, std::strerror(e)));
  }
  return fd;
}

}  // namespace

struct AdminCounters {
  std::atomic<uint64_t> commands{0};
  std::atomic<uint64_t> scrapes{0};
  std::atomic<uint64_t> bad_requests{0};
};

struct AdminServer::Impl {
  struct Connection {
    Impl* server = nullptr;
    ConnectionKind kind = ConnectionKind::control;
    union {
      uv_pipe_t pipe;
      uv_tcp_t tcp;
      uv_stream_t stream;
      uv_handle_t handle;
    } socket;
    uv_timer_t timer;
    uv_shutdown_t shutdown_req;
    std::list<Connection>::iterator self;
    std::string line;                 // control: the command so far
    HttpRequestHeadParser http;       // metrics
    std::string reply;                // kept alive until written
    uv_write_t write_req;
    bool answered = false;            // the reply is out (or going): ignore further input
    bool peer_done = false;           // the peer closed its side after we answered
    bool shutdown_done = false;       // our FIN is out
    int handles_open = 0;
    bool closing = false;
    char read_buffer[4096];
  };

  AdminServerConfig config;
  AdminHandlers handlers;
  AdminCounters counters;
  uv_loop_t loop{};
  uv_async_t stop_async{};
  uv_pipe_t control_listener{};
  bool have_control = false;
  std::vector<std::unique_ptr<uv_tcp_t>> metrics_listeners;
  std::vector<uint16_t> metrics_ports;
  std::list<Connection> connections;
  // Connections not closing: an entry stays in `connections` until its
  // handles' close callbacks run, which may be after the next accept of the
  // same loop turn, so the limit counts only these.
  size_t open_connections = 0;
  std::thread thread;
  bool started = false;
  bool stopped = false;

  Impl(AdminServerConfig c, AdminHandlers h) : config(std::move(c)), handlers(std::move(h)) {}

  void open();
  void close_all();
  void accept(uv_stream_t* listener, ConnectionKind kind);
  void on_data(Connection& c, std::string_view data);
  void on_end_of_input(Connection& c, bool clean_eof);
  void on_control_line(Connection& c, std::string_view command);
  void on_http_request(Connection& c);
  void send_and_finish(Connection& c, std::string reply);
  void close(Connection& c);
  void restart_timer(Connection& c, uint64_t ms);
};

void AdminServer::Impl::open() {
  if (int rc = uv_loop_init(&loop); rc != 0)
    throw std::runtime_error(fmt::format("admin loop: {}", uv_strerror(rc)));
  uv_async_init(&loop, &stop_async, [](uv_async_t* a) {
    static_cast<Impl*>(a->data)->close_all();
  });
  stop_async.data = this;
  try {
    if (!config.control_socket.empty()) {
      int fd = open_control_socket(config.control_socket, config.control_socket_mode, config.control_socket_uid,
                                   config.control_socket_gid);
      uv_pipe_init(&loop, &control_listener, 0);
      control_listener.data = this;
      have_control = true;
      if (int rc = uv_pipe_open(&control_listener, fd); rc != 0) {
        ::close(fd);
        throw std::runtime_error(fmt::format("control socket {}: {}", config.control_socket, uv_strerror(rc)));
      }
      if (int rc = uv_listen(reinterpret_cast<uv_stream_t*>(&control_listener), 16,
                             [](uv_stream_t* s, int status) {
                               if (status == 0) static_cast<Impl*>(s->data)->accept(s, ConnectionKind::control);
                             });
          rc != 0)
        throw std::runtime_error(fmt::format("control socket {}: {}", config.control_socket, uv_strerror(rc)));
    }
    for (const SocketAddress& address : config.metrics) {
      SocketOptions options;
      options.reuse_port = false;  // one listener per address: a second sextant must fail, not share
      int fd = open_bound_socket(address, SOCK_STREAM, options);
      auto listener = std::make_unique<uv_tcp_t>();
      uv_tcp_init(&loop, listener.get());
      listener->data = this;
      uv_tcp_t* raw = listener.get();
      metrics_listeners.push_back(std::move(listener));
      if (int rc = uv_tcp_open(raw, fd); rc != 0) {
        ::close(fd);
        throw std::runtime_error(fmt::format("metrics {}: {}", address.to_string(), uv_strerror(rc)));
      }
      if (int rc = uv_listen(reinterpret_cast<uv_stream_t*>(raw), 64,
                             [](uv_stream_t* s, int status) {
                               if (status == 0) static_cast<Impl*>(s->data)->accept(s, ConnectionKind::metrics);
                             });
          rc != 0)
        throw std::runtime_error(fmt::format("metrics {}: {}", address.to_string(), uv_strerror(rc)));
      metrics_ports.push_back(local_address_of(fd).port());
    }
  } catch (...) {
    close_all();
    uv_run(&loop, UV_RUN_DEFAULT);
    uv_loop_close(&loop);
    if (have_control) ::unlink(config.control_socket.c_str());
    throw;
  }
}

void AdminServer::Impl::close_all() {
  if (!uv_is_closing(reinterpret_cast<uv_handle_t*>(&stop_async)))
    uv_close(reinterpret_cast<uv_handle_t*>(&stop_async), nullptr);
  if (have_control && !uv_is_closing(reinterpret_cast<uv_handle_t*>(&control_listener)))
    uv_close(reinterpret_cast<uv_handle_t*>(&control_listener), nullptr);
  for (auto& l : metrics_listeners)
    if (!uv_is_closing(reinterpret_cast<uv_handle_t*>(l.get())))
      uv_close(reinterpret_cast<uv_handle_t*>(l.get()), nullptr);
  for (auto& c : connections) close(c);
}

void AdminServer::Impl::accept(uv_stream_t* listener, ConnectionKind kind) {
  Connection& c = connections.emplace_back();
  c.server = this;
  c.kind = kind;
  c.self = std::prev(connections.end());
  if (kind == ConnectionKind::control) uv_pipe_init(&loop, &c.socket.pipe, 0);
  else uv_tcp_init(&loop, &c.socket.tcp);
  uv_timer_init(&loop, &c.timer);
  c.socket.handle.data = &c;
  c.timer.data = &c;
  c.handles_open = 2;
  ++open_connections;
  if (uv_accept(listener, &c.socket.stream) != 0 || open_connections > config.max_connections) {
    close(c);
    return;
  }
  restart_timer(c, config.idle_timeout_ms);
  uv_read_start(
      &c.socket.stream,
      [](uv_handle_t* h, size_t, uv_buf_t* buf) {
        auto* conn = static_cast<Connection*>(h->data);
        *buf = uv_buf_init(conn->read_buffer, sizeof(conn->read_buffer));
      },
      [](uv_stream_t* s, ssize_t n, const uv_buf_t* buf) {
        auto* conn = static_cast<Connection*>(s->data);
        Impl* self = conn->server;
        if (n > 0) {
          self->on_data(*conn, std::string_view(buf->base, static_cast<size_t>(n)));
        } else if (n < 0) {
          self->on_end_of_input(*conn, n == UV_EOF);
        }
      });
}

void AdminServer::Impl::restart_timer(Connection& c, uint64_t ms) {
  uv_timer_start(&c.timer, [](uv_timer_t* t) {
    auto* conn = static_cast<Connection*>(t->data);
    conn->server->close(*conn);
  }, ms, 0);
}

void AdminServer::Impl::on_data(Connection& c, std::string_view data) {
  if (c.answered) return;  // draining after the reply
  if (c.kind == ConnectionKind::control) {
    size_t newline = data.find('\n');
    c.line.append(data.substr(0, newline));
    if (c.line.size() > config.max_command_bytes) {
      counters.bad_requests.fetch_add(1, std::memory_order_relaxed);
      send_and_finish(c, fmt::format("error: command longer than {} octets\n", config.max_command_bytes));
      return;
    }
    if (newline == std::string_view::npos) return;
    std::string command = std::move(c.line);
    if (!command.empty() && command.back() == '\r') command.pop_back();
    on_control_line(c, command);
    return;
  }
  if (c.http.feed(data) == HttpRequestHeadParser::State::incomplete) return;
  on_http_request(c);
}

void AdminServer::Impl::on_end_of_input(Connection& c, bool clean_eof) {
  uv_read_stop(&c.socket.stream);
  if (!clean_eof) {
    close(c);
  } else if (c.answered) {
    // The reply may still be on its way: let the write and the FIN finish.
    c.peer_done = true;
    if (c.shutdown_done) close(c);
  } else if (c.kind == ConnectionKind::control && !c.line.empty()) {
    // A control client may send its command without a newline.
    std::string command = std::move(c.line);
    if (command.back() == '\r') command.pop_back();
    on_control_line(c, command);
  } else {
    close(c);
  }
}

void AdminServer::Impl::on_control_line(Connection& c, std::string_view command) {
  std::string reply;
  try {
    reply = handlers.control ? handlers.control(command) : std::string("error: no control handler\n");
  } catch (const std::exception& e) {
    reply = fmt::format("error: {}\n", e.what());
  }
  counters.commands.fetch_add(1, std::memory_order_relaxed);
  send_and_finish(c, std::move(reply));
}

void AdminServer::Impl::on_http_request(Connection& c) {
  if (c.http.state() == HttpRequestHeadParser::State::error) {
    counters.bad_requests.fetch_add(1, std::memory_order_relaxed);
    int status = c.http.error_status();
    send_and_finish(c, http_response(status, "text/plain; charset=utf-8", c.http.error_reason() + "\n", true));
    return;
  }
  const HttpRequestHead& head = c.http.head();
  bool is_head = head.method == "HEAD";
  if (head.path() != config.metrics_path) {
    counters.bad_requests.fetch_add(1, std::memory_order_relaxed);
    send_and_finish(c, http_response(404, "text/plain; charset=utf-8",
                                     fmt::format("not found; metrics are at {}\n", config.metrics_path),
                                     !is_head));
    return;
  }
  if (head.method != "GET" && !is_head) {
    counters.bad_requests.fetch_add(1, std::memory_order_relaxed);
    send_and_finish(c, http_response(405, "text/plain; charset=utf-8", "only GET and HEAD\n", true,
                                     "Allow: GET, HEAD\r\n"));
    return;
  }
  std::string body;
  try {
    body = handlers.metrics ? handlers.metrics() : std::string();
  } catch (const std::exception& e) {
    send_and_finish(c, http_response(500, "text/plain; charset=utf-8", fmt::format("{}\n", e.what()), !is_head));
    return;
  }
  counters.scrapes.fetch_add(1, std::memory_order_relaxed);
  send_and_finish(c, http_response(200, "text/plain; version=0.0.4; charset=utf-8", body, !is_head));
}

void AdminServer::Impl::send_and_finish(Connection& c, std::string reply) {
  c.answered = true;
  c.reply = std::move(reply);
  c.write_req.data = &c;
  uv_buf_t buf = uv_buf_init(c.reply.data(), static_cast<unsigned>(c.reply.size()));
  int rc = uv_write(&c.write_req, &c.socket.stream, &buf, 1, [](uv_write_t* req, int status) {
    auto* conn = static_cast<Connection*>(req->data);
    if (status != 0 || conn->closing) {
      if (!conn->closing) conn->server->close(*conn);
      return;
    }
    // Send FIN and keep reading until the peer closes (or the timer fires):
    // closing with unread input would reset the connection and could
    // destroy the reply in flight.
    conn->shutdown_req.data = conn;
    if (uv_shutdown(&conn->shutdown_req, &conn->socket.stream, [](uv_shutdown_t* s, int) {
          auto* cc = static_cast<Connection*>(s->data);
          if (cc->closing) return;
          cc->shutdown_done = true;
          if (cc->peer_done) cc->server->close(*cc);
          else cc->server->restart_timer(*cc, 1000);
        }) != 0)
      conn->server->close(*conn);
  });
  if (rc != 0) close(c);
}

void AdminServer::Impl::close(Connection& c) {
  if (c.closing) return;
  c.closing = true;
  --open_connections;
  auto on_closed = [](uv_handle_t* h) {
    auto* conn = static_cast<Connection*>(h->data);
    if (--conn->handles_open == 0) conn->server->connections.erase(conn->self);
  };
  uv_close(reinterpret_cast<uv_handle_t*>(&c.timer), on_closed);
  uv_close(&c.socket.handle, on_closed);
}

AdminServer::AdminServer(AdminServerConfig config, AdminHandlers handlers)
    : impl_(std::make_unique<Impl>(std::move(config), std::move(handlers))) {}

AdminServer::~AdminServer() { stop(); }

void AdminServer::start() {
  if (impl_->started) return;
  ignore_sigpipe();
  impl_->open();
  impl_->started = true;
  impl_->thread = std::thread([impl = impl_.get()] { uv_run(&impl->loop, UV_RUN_DEFAULT); });
}

void AdminServer::stop() {
  if (!impl_->started || impl_->stopped) return;
  impl_->stopped = true;
  uv_async_send(&impl_->stop_async);
  impl_->thread.join();
  uv_loop_close(&impl_->loop);
  if (impl_->have_control) ::unlink(impl_->config.control_socket.c_str());
}

uint16_t AdminServer::metrics_port(size_t i) const {
  return i < impl_->metrics_ports.size() ? impl_->metrics_ports[i] : 0;
}

uint64_t AdminServer::commands_served() const noexcept {
  return impl_->counters.commands.load(std::memory_order_relaxed);
}
uint64_t AdminServer::scrapes_served() const noexcept {
  return impl_->counters.scrapes.load(std::memory_order_relaxed);
}
uint64_t AdminServer::bad_requests() const noexcept {
  return impl_->counters.bad_requests.load(std::memory_order_relaxed);
}

}  // namespace sextant::transports
