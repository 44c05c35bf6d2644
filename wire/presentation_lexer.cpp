// RFC 1035 §5.1 presentation-format lexing shared by the zone reader and
// rdata_from_text: tokens, escapes and TTLs. Split from rdata_text.cpp, which
// turns tokens into typed rdata and back.

#include <string>

#include <fmt/format.h>

#include "wire/rdata_schema.h"

namespace sextant::wire::detail {

namespace {

bool is_blank(char c) noexcept { return c == ' ' || c == '\t' || c == '\r'; }
bool ends_token(char c) noexcept {
  return is_blank(c) || c == '\n' || c == ';' || c == '(' || c == ')';
}

}  // namespace

bool PresentationLexer::next(LogicalLine& out) {
  out.tokens.clear();
  out.leading_blank = false;
  out.line = 0;
  int depth = 0;
  bool line_start = true;  // nothing but blanks seen on this physical line
  while (pos_ < text_.size()) {
    char c = text_[pos_];
    if (c == '\n') {
      ++line_;
      ++pos_;
      if (depth == 0) {
        if (!out.tokens.empty()) return true;
        out.leading_blank = false;  // a blank or comment-only line
      }
      line_start = true;
      continue;
    }
    if (is_blank(c)) {
      if (line_start && depth == 0 && out.tokens.empty()) out.leading_blank = true;
      ++pos_;
      continue;
    }
    line_start = false;
    if (c == ';') {
      while (pos_ < text_.size() && text_[pos_] != '\n') ++pos_;
      continue;
    }
    if (out.line == 0) out.line = line_;
    if (c == '(') {
      ++depth;
      ++pos_;
      continue;
    }
    if (c == ')') {
      if (depth == 0) throw TextError("')' without '('");
      --depth;
      ++pos_;
      continue;
    }
    TextToken token;
    token.line = line_;
    if (c == '"') {
      token.quoted = true;
      ++pos_;
      while (true) {
        if (pos_ >= text_.size()) throw TextError("unterminated quoted string");
        char d = text_[pos_];
        if (d == '"') {
          ++pos_;
          break;
        }
        if (d == '\n') throw TextError("unterminated quoted string");
        if (d == '\\') {
          if (pos_ + 1 >= text_.size()) throw TextError("unterminated quoted string");
          token.text.push_back(d);
          ++pos_;
          d = text_[pos_];
          if (d == '\n') ++line_;
        }
        token.text.push_back(d);
        ++pos_;
      }
    } else {
      while (pos_ < text_.size() && !ends_token(text_[pos_])) {
        char d = text_[pos_];
        if (d == '\\') {
          token.text.push_back(d);
          ++pos_;
          if (pos_ >= text_.size()) break;
          d = text_[pos_];
          if (d == '\n') ++line_;
          token.text.push_back(d);
          ++pos_;
          continue;
        }
        if (d == '"') {
          // A quoted part inside a token (SVCB key="value"): kept with its quotes.
          token.text.push_back(d);
          ++pos_;
          while (true) {
            if (pos_ >= text_.size() || text_[pos_] == '\n') throw TextError("unterminated quoted string");
            d = text_[pos_];
            token.text.push_back(d);
            ++pos_;
            if (d == '\\' && pos_ < text_.size() && text_[pos_] != '\n') {
              token.text.push_back(text_[pos_]);
              ++pos_;
              continue;
            }
            if (d == '"') break;
          }
          continue;
        }
        // A run of ordinary characters, appended at once.
        size_t run = pos_ + 1;
        while (run < text_.size() && !ends_token(text_[run]) && text_[run] != '\\' && text_[run] != '"') ++run;
        token.text.append(text_.substr(pos_, run - pos_));
        pos_ = run;
      }
    }
    out.tokens.push_back(std::move(token));
  }
  if (depth != 0) throw TextError("'(' without ')' before the end of the text");
  return !out.tokens.empty();
}

std::vector<TextToken> tokenize_rdata_text(std::string_view text) {
  PresentationLexer lexer(text);
  std::vector<TextToken> tokens;
  LogicalLine line;
  while (lexer.next(line)) {
    for (auto& t : line.tokens) tokens.push_back(std::move(t));
  }
  return tokens;
}

std::vector<uint8_t> decode_text_escapes(std::string_view text, size_t max_size) {
  std::vector<uint8_t> out;
  out.reserve(text.size());
  for (size_t i = 0; i < text.size(); ++i) {
    char c = text[i];
    if (c != '\\') {
      out.push_back(static_cast<uint8_t>(c));
    } else {
      if (i + 1 >= text.size()) throw TextError("dangling backslash in '" + std::string(text) + "'");
      char d = text[i + 1];
      if (d >= '0' && d <= '9') {
        if (text.size() - i < 4)
          throw TextError("short \\DDD escape in '" + std::string(text) + "'");
        unsigned v = 0;
        for (size_t k = 1; k <= 3; ++k) {
          char dk = text[i + k];
          if (dk < '0' || dk > '9') throw TextError("bad \\DDD escape in '" + std::string(text) + "'");
          v = v * 10 + static_cast<unsigned>(dk - '0');
        }
        if (v > 255) throw TextError("\\DDD escape above 255 in '" + std::string(text) + "'");
        out.push_back(static_cast<uint8_t>(v));
        i += 3;
      } else {
        out.push_back(static_cast<uint8_t>(d));
        i += 1;
      }
    }
    if (out.size() > max_size)
      throw TextError(fmt::format("string longer than {} octets", max_size));
  }
  return out;
}

std::optional<uint32_t> parse_ttl(std::string_view text) noexcept {
  if (text.empty() || text.size() > 40) return std::nullopt;
  uint64_t total = 0;
  uint64_t number = 0;
  bool have_digits = false;
  bool have_unit = false;
  for (char c : text) {
    if (c >= '0' && c <= '9') {
      number = number * 10 + static_cast<uint64_t>(c - '0');
      if (number > 0xFFFFFFFFu) return std::nullopt;
      have_digits = true;
      continue;
    }
    uint64_t unit;
    switch (c) {
      case 's': case 'S': unit = 1; break;
      case 'm': case 'M': unit = 60; break;
      case 'h': case 'H': unit = 3600; break;
      case 'd': case 'D': unit = 86400; break;
      case 'w': case 'W': unit = 604800; break;
      default: return std::nullopt;
    }
    if (!have_digits) return std::nullopt;
    total += number * unit;
    if (total > 0xFFFFFFFFu) return std::nullopt;
    number = 0;
    have_digits = false;
    have_unit = true;
  }
  if (have_digits) {
    // A bare number after units ("1h30") is read as seconds, like BIND.
    total += number;
  } else if (!have_unit) {
    return std::nullopt;
  }
  if (total > 0xFFFFFFFFu) return std::nullopt;
  return static_cast<uint32_t>(total);
}

}  // namespace sextant::wire::detail
