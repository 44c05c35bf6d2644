#include "transports/http1_request_reader.h"

#include <algorithm>
#include <string_view>

namespace sextant::transports {

namespace {

bool iequals(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           auto lower = [](char c) { return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c; };
           return lower(x) == lower(y);
         });
}

// Whether the comma-separated lists of every `name` field hold `token`.
bool has_token(const HttpRequestHead& head, std::string_view name, std::string_view token) {
  for (const auto& [field, value] : head.fields) {
    if (field != name) continue;
    std::string_view list = value;
    while (!list.empty()) {
      size_t comma = list.find(',');
      std::string_view item = list.substr(0, comma);
      while (!item.empty() && (item.front() == ' ' || item.front() == '\t')) item.remove_prefix(1);
      while (!item.empty() && (item.back() == ' ' || item.back() == '\t')) item.remove_suffix(1);
      if (iequals(item, token)) return true;
      if (comma == std::string_view::npos) break;
      list.remove_prefix(comma + 1);
    }
  }
  return false;
}

size_t count_fields(const HttpRequestHead& head, std::string_view name) {
  return static_cast<size_t>(
      std::count_if(head.fields.begin(), head.fields.end(), [&](const auto& f) { return f.first == name; }));
}

}  // namespace

Http1RequestReader::Http1RequestReader(Http1ReaderLimits limits)
    : limits_(limits), head_(limits.max_head, limits.max_fields, limits.max_target, /*absolute_form=*/true) {}

Http1RequestReader::Event Http1RequestReader::fail(int status, std::string reason) {
  phase_ = Phase::failed;
  fatal_status_ = status;
  fatal_reason_ = std::move(reason);
  body_.reset();
  return Event::fatal;
}

Http1RequestReader::Event Http1RequestReader::complete() {
  phase_ = Phase::head;
  head_.reset();
  body_.reset();
  return Event::request;
}

Http1RequestReader::Event Http1RequestReader::feed(std::span<const uint8_t> data) {
  consumed_ = 0;
  size_t offset = 0;
  auto done = [&](Event e) {
    consumed_ = offset;
    return e;
  };
  while (true) {
    std::span<const uint8_t> rest = data.subspan(offset);
    switch (phase_) {
      case Phase::failed:
        return Event::fatal;
      case Phase::head: {
        if (rest.empty()) return done(Event::need_more);
        auto state = head_.feed(std::string_view(reinterpret_cast<const char*>(rest.data()), rest.size()));
        offset += head_.consumed();
        if (state == HttpRequestHeadParser::State::incomplete) return done(Event::need_more);
        if (state == HttpRequestHeadParser::State::error) {
          consumed_ = offset;
          return fail(head_.error_status(), head_.error_reason());
        }
        if (auto event = begin_body()) return done(*event);
        break;
      }
      case Phase::body: {
        if (rest.empty()) return done(Event::need_more);
        auto state = body_->feed(rest);
        offset += body_->consumed();
        consumed_ = offset;
        switch (state) {
          case Http1BodyReader::State::incomplete: return Event::need_more;
          case Http1BodyReader::State::complete:
            request_.body = std::move(body_->body());
            return complete();
          case Http1BodyReader::State::too_large: return fail(413, "DNS message larger than 65535 octets");
          case Http1BodyReader::State::error: return fail(400, body_->error_reason());
        }
        return Event::need_more;
      }
      case Phase::discard: {
        size_t take = static_cast<size_t>(std::min<uint64_t>(discard_left_, rest.size()));
        offset += take;
        discard_left_ -= take;
        if (discard_left_ > 0) return done(Event::need_more);
        request_.body_too_large = true;
        consumed_ = offset;
        return complete();
      }
    }
  }
}

std::optional<Http1RequestReader::Event> Http1RequestReader::begin_body() {
  request_ = Http1Request{};
  request_.head = head_.take_head();
  const HttpRequestHead& head = request_.head;
  // Keep-alive is HTTP/1.1's default and HTTP/1.0's exception (RFC 9112 §9.3).
  bool close = has_token(head, "connection", "close");
  if (head.minor_version == 0) {
    request_.keep_alive = !close && has_token(head, "connection", "keep-alive");
    request_.keep_alive_explicit = request_.keep_alive;
  } else {
    request_.keep_alive = !close;
  }
  for (const auto& [name, value] : head.fields) {
    if (name != "x-forwarded-for" || request_.forwarded_for.size() + value.size() >= limits_.max_forwarded_for) continue;
    if (!request_.forwarded_for.empty()) request_.forwarded_for += ',';
    request_.forwarded_for += value;
  }
  // RFC 9112 §3.2: an HTTP/1.1 request without Host, or with several, is a 400.
  if (head.minor_version >= 1 && count_fields(head, "host") != 1) {
    return fail(400, "an HTTP/1.1 request needs exactly one Host field");
  }
  Http1BodyFraming framing = http1_body_framing(head);
  if (framing.status != 0) return fail(framing.status, framing.reason);
  bool expect_continue = false;
  if (const std::string* expect = head.field("expect")) {
    if (!iequals(*expect, "100-continue")) return fail(417, "unsupported expectation");
    expect_continue = true;
  }
  body_.emplace(framing, limits_.max_body);
  if (body_->state() == Http1BodyReader::State::too_large) {
    if (expect_continue || framing.length > limits_.max_discarded_body) {
      // The client waits for our word before sending (or would send more
      // than is worth reading): answer and end the connection.
      return fail(413, "DNS message larger than 65535 octets");
    }
    body_.reset();
    phase_ = Phase::discard;
    discard_left_ = framing.length;
    return std::nullopt;
  }
  if (body_->state() == Http1BodyReader::State::complete) return complete();
  phase_ = Phase::body;
  if (expect_continue) return Event::continue_expected;
  return std::nullopt;
}

}  // namespace sextant::transports
