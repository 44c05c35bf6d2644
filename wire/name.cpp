#include "wire/name.h"

#include <algorithm>
#include <cstring>

#include "wire/header.h"

namespace sextant::wire {

namespace {

// Offsets of each label's length octet, left to right; returns the count.
size_t label_offsets(const uint8_t* bytes, std::array<uint8_t, Name::kMaxLabels + 1>& out) noexcept {
  size_t n = 0;
  size_t pos = 0;
  while (bytes[pos] != 0) {
    out[n++] = static_cast<uint8_t>(pos);
    pos += 1 + bytes[pos];
  }
  return n;
}

bool label_equal_nocase(const uint8_t* a, const uint8_t* b, size_t len) noexcept {
  for (size_t i = 0; i < len; ++i) {
    if (ascii_lower(a[i]) != ascii_lower(b[i])) return false;
  }
  return true;
}

}  // namespace

WireError Name::adopt(const uint8_t* data, size_t size, Name& out) noexcept {
  size_t pos = 0;
  size_t labels = 0;
  while (true) {
    if (pos >= size) return WireError::truncated_name;
    uint8_t len = data[pos];
    if (len == 0) break;
    if (len > kMaxLabelSize) return WireError::label_too_long;
    pos += 1 + len;
    ++labels;
  }
  if (pos + 1 != size) return WireError::trailing_data;
  if (size > kMaxWireSize) return WireError::name_too_long;
  std::memcpy(out.bytes_.data(), data, size);
  out.size_ = static_cast<uint8_t>(size);
  out.labels_ = static_cast<uint8_t>(labels);
  return WireError::ok;
}

WireError Name::parse(std::span<const uint8_t> packet, size_t& pos, Name& out) noexcept {
  size_t cursor = pos;
  size_t out_size = 0;
  size_t labels = 0;
  size_t jumps = 0;
  bool jumped = false;
  // The lowest offset seen so far: each pointer must point below the label
  // that holds it, which alone rules out loops; the jump cap is a backstop.
  size_t floor = pos;
  // Labels are copied a run at a time (up to a pointer or the root): one
  // copy per run instead of one per label, whose fixed start-up cost
  // dominated short labels.
  size_t run_start = cursor;
  auto copy_run = [&] {
    const size_t n = cursor - run_start;
    if (n != 0) std::memcpy(out.bytes_.data() + out_size, packet.data() + run_start, n);
    out_size += n;
  };
  while (true) {
    if (cursor >= packet.size()) return WireError::truncated_name;
    uint8_t len = packet[cursor];
    if ((len & 0xC0) == 0xC0) {
      if (cursor + 1 >= packet.size()) return WireError::truncated_name;
      size_t target = (static_cast<size_t>(len & 0x3F) << 8) | packet[cursor + 1];
      if (target >= floor) return WireError::forward_pointer;
      // No name starts inside the 12-octet header: labels read from there
      // would be made of the ID, flags and counts (RFC 1035 §4.1.4 points
      // at "a prior occurrence of the same name").
      if (target < kHeaderSize) return WireError::pointer_into_header;
      if (++jumps > kMaxLabels) return WireError::pointer_loop;
      copy_run();
      if (!jumped) {
        pos = cursor + 2;
        jumped = true;
      }
      cursor = target;
      floor = target;
      run_start = cursor;
      continue;
    }
    if ((len & 0xC0) != 0) return WireError::bad_label_type;
    const size_t written = out_size + (cursor - run_start);  // octets of the name so far
    if (len == 0) {
      if (written + 1 > kMaxWireSize) return WireError::name_too_long;
      ++cursor;
      copy_run();
      if (!jumped) pos = cursor;
      break;
    }
    if (cursor + 1 + len > packet.size()) return WireError::truncated_name;
    if (written + 1 + len + 1 > kMaxWireSize) return WireError::name_too_long;
    cursor += 1 + len;
    ++labels;
  }
  out.size_ = static_cast<uint8_t>(out_size);
  out.labels_ = static_cast<uint8_t>(labels);
  return WireError::ok;
}

WireError Name::parse_uncompressed(std::span<const uint8_t> data, size_t& pos, Name& out) noexcept {
  size_t cursor = pos;
  while (true) {
    if (cursor >= data.size()) return WireError::truncated_name;
    uint8_t len = data[cursor];
    if ((len & 0xC0) == 0xC0) return WireError::bad_rdata;  // compression not allowed here
    if ((len & 0xC0) != 0) return WireError::bad_label_type;
    if (len == 0) {
      ++cursor;
      break;
    }
    cursor += 1 + len;
    if (cursor - pos > kMaxWireSize) return WireError::name_too_long;
  }
  WireError e = adopt(data.data() + pos, cursor - pos, out);
  if (e == WireError::ok) pos = cursor;
  return e;
}

Name Name::from_wire(std::span<const uint8_t> wire) {
  Name n;
  WireError e = adopt(wire.data(), wire.size(), n);
  if (e != WireError::ok) throw TextError(std::string("malformed wire name: ") + to_string(e));
  return n;
}

Name Name::from_text(std::string_view text, const Name* origin) {
  if (text.empty()) throw TextError("empty domain name");
  if (text == ".") return Name();
  Name n;
  size_t out = 0;
  size_t labels = 0;
  size_t label_start = 0;  // offset of the current label's length octet
  bool absolute = false;
  auto too_long = [&] { return TextError("domain name longer than 255 octets: '" + std::string(text) + "'"); };
  auto begin_label = [&] {
    if (out + 1 > kMaxWireSize) throw too_long();
    label_start = out;
    n.bytes_[out++] = 0;
  };
  auto finish_label = [&] {
    size_t len = out - label_start - 1;
    if (len == 0) throw TextError("empty label in domain name '" + std::string(text) + "'");
    if (len > kMaxLabelSize)
      throw TextError("label longer than 63 octets in domain name '" + std::string(text) + "'");
    n.bytes_[label_start] = static_cast<uint8_t>(len);
    ++labels;
  };
  begin_label();
  for (size_t i = 0; i < text.size(); ++i) {
    char c = text[i];
    uint8_t octet;
    if (c == '.') {
      finish_label();
      if (i + 1 == text.size()) {
        absolute = true;
        break;
      }
      begin_label();
      continue;
    }
    if (c == '\\') {
      if (i + 1 >= text.size()) throw TextError("dangling backslash in domain name '" + std::string(text) + "'");
      char d = text[i + 1];
      if (d >= '0' && d <= '9') {
        if (i + 3 >= text.size()) throw TextError("short \\DDD escape in domain name '" + std::string(text) + "'");
        int v = 0;
        for (size_t k = 1; k <= 3; ++k) {
          char dk = text[i + k];
          if (dk < '0' || dk > '9') throw TextError("bad \\DDD escape in domain name '" + std::string(text) + "'");
          v = v * 10 + (dk - '0');
        }
        if (v > 255) throw TextError("\\DDD escape above 255 in domain name '" + std::string(text) + "'");
        octet = static_cast<uint8_t>(v);
        i += 3;
      } else {
        octet = static_cast<uint8_t>(d);
        i += 1;
      }
    } else {
      octet = static_cast<uint8_t>(c);
    }
    if (out + 1 > kMaxWireSize) throw too_long();
    n.bytes_[out++] = octet;
    if (out - label_start - 1 > kMaxLabelSize)
      throw TextError("label longer than 63 octets in domain name '" + std::string(text) + "'");
  }
  if (!absolute) finish_label();
  if (out + 1 > kMaxWireSize) throw too_long();
  n.bytes_[out++] = 0;
  n.size_ = static_cast<uint8_t>(out);
  n.labels_ = static_cast<uint8_t>(labels);
  if (!absolute && origin != nullptr) return n.concat(*origin);
  return n;
}

std::string_view Name::label(size_t i) const noexcept {
  size_t pos = 0;
  for (size_t k = 0; k < i && bytes_[pos] != 0; ++k) pos += 1 + bytes_[pos];
  return {reinterpret_cast<const char*>(bytes_.data() + pos + 1), bytes_[pos]};
}

Name Name::parent() const noexcept {
  if (labels_ == 0) return *this;
  return suffix(labels_ - 1u);
}

Name Name::suffix(size_t n) const noexcept {
  if (n >= labels_) return *this;
  size_t pos = 0;
  for (size_t k = 0; k < labels_ - n; ++k) pos += 1 + bytes_[pos];
  Name out;
  out.size_ = static_cast<uint8_t>(size_ - pos);
  out.labels_ = static_cast<uint8_t>(n);
  std::memcpy(out.bytes_.data(), bytes_.data() + pos, out.size_);
  return out;
}

Name Name::prepend(std::string_view label) const {
  if (label.empty()) throw TextError("empty label");
  if (label.size() > kMaxLabelSize) throw TextError("label longer than 63 octets");
  if (size_ + 1 + label.size() > kMaxWireSize) throw TextError("domain name longer than 255 octets");
  Name out;
  out.bytes_[0] = static_cast<uint8_t>(label.size());
  std::memcpy(out.bytes_.data() + 1, label.data(), label.size());
  std::memcpy(out.bytes_.data() + 1 + label.size(), bytes_.data(), size_);
  out.size_ = static_cast<uint8_t>(size_ + 1 + label.size());
  out.labels_ = static_cast<uint8_t>(labels_ + 1);
  return out;
}

Name Name::concat(const Name& suffix) const {
  size_t total = size_ - 1u + suffix.size_;
  if (total > kMaxWireSize) throw TextError("domain name longer than 255 octets");
  Name out;
  std::memcpy(out.bytes_.data(), bytes_.data(), size_ - 1u);
  std::memcpy(out.bytes_.data() + size_ - 1, suffix.bytes_.data(), suffix.size_);
  out.size_ = static_cast<uint8_t>(total);
  out.labels_ = static_cast<uint8_t>(labels_ + suffix.labels_);
  return out;
}

bool Name::replace_suffix(const Name& old_suffix, const Name& new_suffix, Name& out) const noexcept {
  if (!is_subdomain_of(old_suffix)) return false;
  size_t prefix = size_ - old_suffix.size_;
  size_t total = prefix + new_suffix.size_;
  if (total > kMaxWireSize) return false;
  Name tmp;
  std::memcpy(tmp.bytes_.data(), bytes_.data(), prefix);
  std::memcpy(tmp.bytes_.data() + prefix, new_suffix.bytes_.data(), new_suffix.size_);
  tmp.size_ = static_cast<uint8_t>(total);
  tmp.labels_ = static_cast<uint8_t>(labels_ - old_suffix.labels_ + new_suffix.labels_);
  out = tmp;
  return true;
}

bool Name::is_subdomain_of(const Name& ancestor) const noexcept {
  if (ancestor.labels_ > labels_ || ancestor.size_ > size_) return false;
  // Skip leading labels so both point at a candidate common suffix, then
  // compare it byte-wise: label boundaries line up because the label
  // counts match.
  size_t pos = 0;
  for (size_t k = 0; k < static_cast<size_t>(labels_ - ancestor.labels_); ++k) pos += 1 + bytes_[pos];
  if (size_ - pos != ancestor.size_) return false;
  return label_equal_nocase(bytes_.data() + pos, ancestor.bytes_.data(), ancestor.size_);
}

size_t Name::common_suffix_labels(const Name& other) const noexcept {
  std::array<uint8_t, kMaxLabels + 1> a{}, b{};
  size_t na = label_offsets(bytes_.data(), a);
  size_t nb = label_offsets(other.bytes_.data(), b);
  size_t common = 0;
  while (common < na && common < nb) {
    const uint8_t* la = bytes_.data() + a[na - 1 - common];
    const uint8_t* lb = other.bytes_.data() + b[nb - 1 - common];
    if (la[0] != lb[0] || !label_equal_nocase(la + 1, lb + 1, la[0])) break;
    ++common;
  }
  return common;
}

bool Name::operator==(const Name& other) const noexcept {
  return size_ == other.size_ && labels_ == other.labels_ &&
         label_equal_nocase(bytes_.data(), other.bytes_.data(), size_);
}

bool Name::equals_exact(const Name& other) const noexcept {
  return size_ == other.size_ && std::memcmp(bytes_.data(), other.bytes_.data(), size_) == 0;
}

int Name::canonical_compare(const Name& other) const noexcept {
  std::array<uint8_t, kMaxLabels + 1> a{}, b{};
  size_t na = label_offsets(bytes_.data(), a);
  size_t nb = label_offsets(other.bytes_.data(), b);
  size_t i = 0;
  while (i < na && i < nb) {
    const uint8_t* la = bytes_.data() + a[na - 1 - i];
    const uint8_t* lb = other.bytes_.data() + b[nb - 1 - i];
    size_t len = std::min(la[0], lb[0]);
    for (size_t k = 1; k <= len; ++k) {
      uint8_t ca = ascii_lower(la[k]);
      uint8_t cb = ascii_lower(lb[k]);
      if (ca != cb) return ca < cb ? -1 : 1;
    }
    if (la[0] != lb[0]) return la[0] < lb[0] ? -1 : 1;
    ++i;
  }
  if (na == nb) return 0;
  return na < nb ? -1 : 1;
}

size_t Name::hash() const noexcept {
  // FNV-1a over the lower-cased wire form: short names hash fast and the
  // label length octets keep "a.bc" and "ab.c" apart.
  uint64_t h = 1469598103934665603ull;
  for (size_t i = 0; i < size_; ++i) {
    h ^= ascii_lower(bytes_[i]);
    h *= 1099511628211ull;
  }
  return static_cast<size_t>(h);
}

Name Name::lowercased() const noexcept {
  Name out = *this;
  out.to_lower();
  return out;
}

void Name::to_lower() noexcept {
  // Length octets are at most 63, below 'A', so lower-casing every octet is safe.
  for (size_t i = 0; i < size_; ++i) bytes_[i] = ascii_lower(bytes_[i]);
}

void Name::apply_case_bits(uint64_t bits) noexcept {
  size_t bit = 0;
  size_t pos = 0;
  while (bytes_[pos] != 0) {
    size_t len = bytes_[pos];
    for (size_t k = 1; k <= len; ++k) {
      uint8_t& c = bytes_[pos + k];
      bool is_alpha = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
      if (!is_alpha) continue;
      if ((bits >> (bit % 64)) & 1u) c ^= 0x20;
      ++bit;
    }
    pos += 1 + len;
  }
}

std::string Name::to_text() const {
  if (labels_ == 0) return ".";
  std::string s;
  s.reserve(size_ + 8);
  size_t pos = 0;
  while (bytes_[pos] != 0) {
    size_t len = bytes_[pos];
    for (size_t k = 1; k <= len; ++k) {
      uint8_t c = bytes_[pos + k];
      if (c == '.' || c == '\\' || c == '"' || c == '(' || c == ')' || c == ';' || c == '@' || c == '$') {
        s.push_back('\\');
        s.push_back(static_cast<char>(c));
      } else if (c <= 0x20 || c >= 0x7F) {
        char buf[5] = {'\\', static_cast<char>('0' + c / 100), static_cast<char>('0' + (c / 10) % 10),
                       static_cast<char>('0' + c % 10), 0};
        s.append(buf, 4);
      } else {
        s.push_back(static_cast<char>(c));
      }
    }
    s.push_back('.');
    pos += 1 + len;
  }
  return s;
}

size_t Name::write_lookup_key(uint8_t* out) const noexcept {
  std::array<uint8_t, kMaxLabels + 1> offs{};
  size_t n = label_offsets(bytes_.data(), offs);
  size_t w = 0;
  for (size_t i = n; i-- > 0;) {
    const uint8_t* l = bytes_.data() + offs[i];
    for (size_t k = 1; k <= l[0]; ++k) {
      uint8_t c = ascii_lower(l[k]);
      // 0x00 terminates a label in the key, so escape it (and the escape
      // octet) with values that sort in the same relative order.
      if (c <= 1) {
        out[w++] = 1;
        out[w++] = static_cast<uint8_t>(c + 1);
      } else {
        out[w++] = c;
      }
    }
    out[w++] = 0;
  }
  return w;
}

}  // namespace sextant::wire
