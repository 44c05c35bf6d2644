#include "transports/doh_http1.h"

#include <algorithm>
#include <charconv>
#include <deque>
#include <optional>
#include <string>
#include <vector>

#include "transports/doh_dispatch.h"
#include "transports/doh_metrics.h"
#include "transports/doh_response.h"
#include "transports/http1_request_reader.h"

namespace sextant::transports {

namespace {

// One request of the connection, from its parse to its response on the wire.
struct Exchange {
  uint64_t token = 0;
  DohFormat format = DohFormat::dns_message;
  bool waiting = false;      // with the resolver
  bool ready = false;        // `bytes` hold the whole response (or it was abandoned)
  bool abandoned = false;    // the resolver dropped it: the connection ends here
  bool close_after = false;  // "Connection: close", and the connection ends after it
  bool keep_alive = false;   // HTTP/1.0 with keep-alive: say so in the answer
  std::vector<uint8_t> bytes;
};

class DohHttp1Session final : public StreamApplication {
 public:
  DohHttp1Session(StreamConnection& connection, std::shared_ptr<const DohListenerConfig> config)
      : connection_(connection),
        holder_(std::move(config)),
        config_(*holder_),
        endpoint_(config_.endpoint()) {}

  void on_ready() override {}

  bool on_data(std::span<const uint8_t> data) override {
    if (stopped_) return true;  // after the last request: read and discard
    input_.insert(input_.end(), data.begin(), data.end());
    parse();
    return true;
  }

  void deliver(uint64_t token, std::span<const uint8_t> answer) override {
    Exchange* e = find(token);
    if (!e || !e->waiting) return;
    e->waiting = false;
    --pending_;
    auto& counters = connection_.counters();
    counters.add(counters.responses);
    serialize(*e, doh_answer_response(answer, e->format));
    write_ready();
  }

  void abandon(uint64_t token) override {
    Exchange* e = find(token);
    if (!e || !e->waiting) return;
    e->waiting = false;
    --pending_;
    // HTTP/1.1 has no way to skip one answer of a pipeline: the resolver's
    // "no answer" (e.g. access control's deny) ends the connection once the
    // answers before it are out.
    e->abandoned = true;
    e->ready = true;
    write_ready();
  }

  size_t pending() const override { return pending_; }
  bool partial_request() const override { return partial_; }

  // No new requests; those in flight are answered, then the connection
  // closes (the server closes it at once when nothing is in flight).
  void on_drain() override {
    draining_ = true;
    stopped_ = true;
  }

 private:
  Exchange* find(uint64_t token) {
    if (queue_.empty() || token < queue_.front().token) return nullptr;
    uint64_t index = token - queue_.front().token;
    return index < queue_.size() ? &queue_[static_cast<size_t>(index)] : nullptr;
  }

  void parse() {
    if (parsing_) return;  // an answer delivered during dispatch resumes here
    parsing_ = true;
    size_t offset = 0;
    bool more = true;
    while (more && !stopped_ && connection_.is_open() && offset < input_.size()) {
      if (queue_.size() >= config_.http1_max_pipeline) {
        // Pipelining bound: the rest waits, unread, until answers leave.
        paused_ = true;
        connection_.pause_reading();
        break;
      }
      auto event = reader_.feed(std::span<const uint8_t>(input_.data() + offset, input_.size() - offset));
      offset += reader_.consumed();
      if (reader_.consumed() > 0) partial_ = true;
      switch (event) {
        case Http1RequestReader::Event::need_more:
          more = false;
          break;
        case Http1RequestReader::Event::continue_expected:
          if (queue_.empty()) {
            // An interim answer may only go out when nothing is ahead of it
            // (answers already taken from the queue are in out_, before it).
            static constexpr std::string_view kContinue = "HTTP/1.1 100 Continue\r\n\r\n";
            out_.insert(out_.end(), kContinue.begin(), kContinue.end());
          }
          break;
        case Http1RequestReader::Event::fatal:
          reject_and_close(static_cast<unsigned>(reader_.fatal_status()), reader_.fatal_reason());
          break;
        case Http1RequestReader::Event::request:
          partial_ = false;
          connection_.touch();  // a complete request is progress; its bytes alone were not
          handle(reader_.request());
          break;
      }
    }
    if (stopped_) {
      input_.clear();
    } else {
      input_.erase(input_.begin(), input_.begin() + static_cast<ptrdiff_t>(std::min(offset, input_.size())));
    }
    parsing_ = false;
    flush_out();  // every answer of this read in one write
  }

  void handle(Http1Request& request) {
    ++requests_;
    close_after_ = !request.keep_alive || requests_ >= config_.http1_max_requests || draining_;
    keep_alive_header_ = request.keep_alive_explicit;
    if (close_after_) stopped_ = true;  // what follows a "close" request is not read
    if (request.body_too_large) {
      add_error(413, "DNS message larger than 65535 octets", DohFormat::dns_message);
      return;
    }
    DohHttpRequest http;
    http.method = std::move(request.head.method);
    http.path = std::move(request.head.target);
    if (const std::string* type = request.head.field("content-type")) http.content_type = type->substr(0, 4096);
    http.body = std::move(request.body);
    auto validation = validate_doh_request(http, endpoint_);
    count_doh_request(HttpVersion::http1, validation.format);
    if (validation.status != 200) {
      add_error(validation.status, validation.reason, validation.format);
      return;
    }
    Exchange& e = add_exchange(validation.format);
    e.waiting = true;
    ++pending_;
    // `e` may be gone after this: a cache hit is answered (and written)
    // inside the call.
    dispatch_doh_query(connection_, config_, validation.query, request.forwarded_for, e.token);
  }

  Exchange& add_exchange(DohFormat format) {
    Exchange& e = queue_.emplace_back();
    e.token = next_token_++;
    e.format = format;
    e.close_after = close_after_;
    e.keep_alive = keep_alive_header_;
    return e;
  }

  void add_error(unsigned status, std::string_view reason, DohFormat format) {
    auto& counters = connection_.counters();
    counters.add(counters.errors);
    Exchange& e = add_exchange(format);
    serialize(e, doh_error_response(status, reason, format));
    write_ready();
  }

  // A request that cannot be framed: nothing after it can be trusted.
  void reject_and_close(unsigned status, std::string_view reason) {
    count_doh_request(HttpVersion::http1, DohFormat::dns_message);
    close_after_ = true;
    keep_alive_header_ = false;
    stopped_ = true;
    add_error(status, reason, DohFormat::dns_message);
  }

  void serialize(Exchange& e, const DohResponse& r) {
    count_doh_status(r.status);
    auto& b = e.bytes;
    b.clear();
    b.reserve(160 + config_.alt_svc.size() + r.body.size());
    auto text = [&b](std::string_view s) { b.insert(b.end(), s.begin(), s.end()); };
    auto number = [&b](uint64_t n) {
      char digits[24];
      auto [end, ec] = std::to_chars(digits, digits + sizeof digits, n);
      b.insert(b.end(), digits, end);
    };
    text("HTTP/1.1 ");
    number(r.status);
    text(" ");
    text(http_reason_phrase(r.status));
    text("\r\n");
    if (!r.content_type.empty()) {
      text("Content-Type: ");
      text(r.content_type);
      text("\r\n");
    }
    text("Content-Length: ");
    number(r.body.size());
    text("\r\n");
    if (r.max_age) {
      text("Cache-Control: max-age=");
      number(*r.max_age);
      text("\r\n");
    }
    if (r.allow) text("Allow: GET, POST\r\n");
    if (r.cors) text("Access-Control-Allow-Origin: *\r\n");
    if (!config_.alt_svc.empty()) {
      text("Alt-Svc: ");
      text(config_.alt_svc);
      text("\r\n");
    }
    if (e.close_after) {
      text("Connection: close\r\n");
    } else if (e.keep_alive) {
      text("Connection: keep-alive\r\n");
    }
    text("\r\n");
    b.insert(b.end(), r.body.begin(), r.body.end());
    e.ready = true;
  }

  // Moves the answers at the front of the queue that are ready, in order,
  // into out_; they are written at once, or after the read being parsed
  // (so that the answers to pipelined requests share one write).
  void write_ready() {
    if (writing_) return;
    writing_ = true;
    while (!end_ && !queue_.empty() && queue_.front().ready) {
      Exchange& e = queue_.front();
      if (e.abandoned) {
        end_ = true;
        break;
      }
      out_.insert(out_.end(), e.bytes.begin(), e.bytes.end());
      end_ = e.close_after;
      queue_.pop_front();
      if (end_) break;
    }
    if (end_) stopped_ = true;  // nothing after the last answer is read
    writing_ = false;
    if (!parsing_) flush_out();
  }

  void flush_out() {
    if (!out_.empty() && connection_.is_open()) connection_.write(out_);
    out_.clear();
    if (end_) {
      // Answers still with the resolver find no exchange when they come.
      for (const auto& e : queue_) {
        if (e.waiting) --pending_;
      }
      queue_.clear();
      stopped_ = true;
      if (connection_.is_open()) connection_.close(true);
      return;
    }
    if (draining_ && queue_.empty()) {
      if (connection_.is_open()) connection_.close(true);
      return;
    }
    if (paused_ && queue_.size() < config_.http1_max_pipeline) {
      paused_ = false;
      connection_.resume_reading();
      parse();  // requests already read may be waiting in input_
    }
  }

  StreamConnection& connection_;
  std::shared_ptr<const DohListenerConfig> holder_;  // the connection may outlive the listener
  const DohListenerConfig& config_;
  DohEndpoint endpoint_;
  Http1RequestReader reader_;
  std::vector<uint8_t> input_;  // read, not yet parsed (pipelined requests)
  std::vector<uint8_t> out_;    // answers taken from the queue, not yet written
  bool close_after_ = false;
  bool keep_alive_header_ = false;
  std::deque<Exchange> queue_;  // requests in order, until their answer is written
  uint64_t next_token_ = 0;
  size_t pending_ = 0;
  unsigned requests_ = 0;
  bool stopped_ = false;   // no more requests are read on this connection
  bool end_ = false;       // the connection ends once out_ is written
  bool draining_ = false;
  bool paused_ = false;
  bool partial_ = false;   // octets of a request that is not complete yet
  bool parsing_ = false;
  bool writing_ = false;
};

}  // namespace

std::unique_ptr<StreamApplication> make_doh_http1_session(StreamConnection& connection,
                                                          std::shared_ptr<const DohListenerConfig> config) {
  return std::make_unique<DohHttp1Session>(connection, std::move(config));
}

}  // namespace sextant::transports
