#include "resolver/daemon/metrics_report.h"

#include <fmt/format.h>

#include <cmath>
#include <stdexcept>

namespace sextant::resolver {

namespace {

bool is_name(const std::string& name, bool allow_colon) {
  if (name.empty()) return false;
  for (size_t i = 0; i < name.size(); ++i) {
    char c = name[i];
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || (allow_colon && c == ':') ||
              (i > 0 && c >= '0' && c <= '9');
    if (!ok) return false;
  }
  return true;
}

// Label values escape backslash, double quote and newline; HELP text
// escapes backslash and newline (exposition format 0.0.4).
std::string escape(const std::string& text, bool quote) {
  std::string out;
  out.reserve(text.size());
  for (char c : text) {
    if (c == '\\') out += "\\\\";
    else if (c == '\n') out += "\\n";
    else if (quote && c == '"') out += "\\\"";
    else out += c;
  }
  return out;
}

std::string render_labels(const MetricLabels& labels) {
  if (labels.empty()) return {};
  std::string out = "{";
  for (size_t i = 0; i < labels.size(); ++i) {
    if (!is_name(labels[i].first, false) || labels[i].first.rfind("__", 0) == 0)
      throw std::invalid_argument("bad metric label name: " + labels[i].first);
    out += fmt::format("{}{}=\"{}\"", i ? "," : "", labels[i].first, escape(labels[i].second, true));
  }
  return out + "}";
}

std::string render_value(double value, bool integral, uint64_t integer) {
  if (integral) return fmt::format("{}", integer);
  if (std::isnan(value)) return "NaN";
  if (std::isinf(value)) return value > 0 ? "+Inf" : "-Inf";
  return fmt::format("{}", value);
}

}  // namespace

bool is_valid_metric_name(const std::string& name) { return is_name(name, true); }

MetricsReport::Family& MetricsReport::family(const std::string& name, const std::string& help, Kind kind) {
  if (!is_valid_metric_name(name)) throw std::invalid_argument("bad metric name: " + name);
  if (!families_.empty() && families_.back().name == name) return families_.back();
  for (const Family& f : families_)
    if (f.name == name) throw std::invalid_argument("metric family added in two places: " + name);
  families_.push_back(Family{name, help, kind, {}});
  return families_.back();
}

void MetricsReport::counter(const std::string& name, const std::string& help, uint64_t value,
                            const MetricLabels& labels) {
  family(name, help, Kind::counter)
      .samples.push_back(Sample{"", render_labels(labels), labels, static_cast<double>(value), true, value});
}

void MetricsReport::gauge(const std::string& name, const std::string& help, double value,
                          const MetricLabels& labels) {
  bool integral = value >= 0 && value < 1.8e19 && std::floor(value) == value;
  family(name, help, Kind::gauge)
      .samples.push_back(
          Sample{"", render_labels(labels), labels, value, integral, integral ? static_cast<uint64_t>(value) : 0});
}

void MetricsReport::histogram(const std::string& name, const std::string& help, const std::vector<double>& bounds,
                              const std::vector<uint64_t>& counts, double sum) {
  if (counts.size() != bounds.size() + 1)
    throw std::invalid_argument("histogram " + name + ": one count per bucket and one for +Inf");
  Family& f = family(name, help, Kind::histogram);
  uint64_t cumulative = 0;
  for (size_t i = 0; i <= bounds.size(); ++i) {
    cumulative += counts[i];
    std::string le = i < bounds.size() ? fmt::format("{}", bounds[i]) : "+Inf";
    MetricLabels labels{{"le", le}};
    f.samples.push_back(Sample{"_bucket", render_labels(labels), labels, static_cast<double>(cumulative), true,
                               cumulative});
  }
  bool integral = sum >= 0 && sum < 1.8e19 && std::floor(sum) == sum;
  f.samples.push_back(Sample{"_sum", "", {}, sum, integral, integral ? static_cast<uint64_t>(sum) : 0});
  f.samples.push_back(Sample{"_count", "", {}, static_cast<double>(cumulative), true, cumulative});
}

std::string MetricsReport::prometheus() const {
  std::string out;
  for (const Family& f : families_) {
    const char* type = f.kind == Kind::counter ? "counter" : f.kind == Kind::gauge ? "gauge" : "histogram";
    out += fmt::format("# HELP {} {}\n# TYPE {} {}\n", f.name, escape(f.help, false), f.name, type);
    for (const Sample& s : f.samples)
      out += fmt::format("{}{}{} {}\n", f.name, s.suffix, s.labels, render_value(s.value, s.integral, s.integer));
  }
  return out;
}

std::string MetricsReport::plain() const {
  std::string out;
  for (const Family& f : families_)
    for (const Sample& s : f.samples)
      out += fmt::format("{}{}{} {}\n", f.name, s.suffix, s.labels, render_value(s.value, s.integral, s.integer));
  return out;
}

double MetricsReport::value(const std::string& name, const MetricLabels& labels) const {
  for (const Family& f : families_) {
    for (const Sample& s : f.samples)
      if (f.name + s.suffix == name && s.raw == labels) return s.value;
  }
  return -1;
}

}  // namespace sextant::resolver
