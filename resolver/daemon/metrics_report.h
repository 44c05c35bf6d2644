// A set of named counters and gauges, rendered two ways from one list: the
// Prometheus text exposition format (GET /metrics) and plain "name value"
// lines (`sextant control stats`), so the two never disagree on a name.
//
//   MetricsReport r;
//   r.counter("sextant_queries_total", "Client queries received.", 1234);
//   r.counter("sextant_cache_hits_total", "Cache hits by store.", 99, {{"store", "rrsets"}});
//   r.prometheus();  // # HELP ... / # TYPE ... counter / sextant_queries_total 1234
//   r.plain();       // sextant_queries_total 1234
//
// Samples of one family must be added together (the exposition format
// wants a family's lines contiguous); a family's help and type come from
// its first sample.
#pragma once

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

namespace sextant::resolver {

using MetricLabels = std::vector<std::pair<std::string, std::string>>;

class MetricsReport {
 public:
  void counter(const std::string& name, const std::string& help, uint64_t value,
               const MetricLabels& labels = {});
  void gauge(const std::string& name, const std::string& help, double value,
             const MetricLabels& labels = {});
  // counts[i]: observations in (bounds[i-1], bounds[i]]; counts has one more
  // element than bounds (the +Inf bucket). Rendered cumulatively as
  // name_bucket{le="..."}, name_sum and name_count.
  void histogram(const std::string& name, const std::string& help, const std::vector<double>& bounds,
                 const std::vector<uint64_t>& counts, double sum);

  std::string prometheus() const;
  std::string plain() const;

  // The value of the first sample of `name` with exactly these labels, or
  // -1 if there is none (for tests).
  double value(const std::string& name, const MetricLabels& labels = {}) const;

 private:
  enum class Kind { counter, gauge, histogram };
  struct Sample {
    std::string suffix;  // "_bucket", "_sum", "_count" for histograms
    std::string labels;  // rendered: {a="b",c="d"} or empty
    MetricLabels raw;
    double value = 0;
    bool integral = true;
    uint64_t integer = 0;
  };
  struct Family {
    std::string name;
    std::string help;
    Kind kind = Kind::counter;
    std::vector<Sample> samples;
  };
  Family& family(const std::string& name, const std::string& help, Kind kind);
  std::vector<Family> families_;
};

// A metric or label name is [a-zA-Z_:][a-zA-Z0-9_:]* (labels without ':');
// callers pass literals, so a bad one is a programming error: it throws
// std::invalid_argument.
bool is_valid_metric_name(const std::string& name);

}  // namespace sextant::resolver
