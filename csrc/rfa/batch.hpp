// A packed batch of graphs (struct of arrays, DESIGN.md "Data model") as
// raw pointers the caller owns, the options of an analysis, and where its
// results go. Nothing here knows about Python.
#pragma once
#include <cstdint>
#include <stdexcept>
#include <string>

namespace rfa {

struct Batch {
  int64_t B = 0, N = 0, E = 0;
  int D = 2;
  const int64_t* graph_ptr = nullptr;  // [B+1]
  const uint8_t* op = nullptr;         // [N]
  const int32_t* kernel = nullptr;     // [N*D]
  const int32_t* stride = nullptr;     // [N*D]
  const int32_t* dilation = nullptr;   // [N*D]
  const int32_t* pad_begin = nullptr;  // [N*D]
  const int32_t* pad_end = nullptr;    // [N*D]
  const uint8_t* pad_mode = nullptr;   // [N]
  const uint8_t* ceil_mode = nullptr;  // [N]
  const double* scale = nullptr;       // [N*D]
  const uint8_t* mode = nullptr;       // [N]
  const uint8_t* weighted = nullptr;   // [N]
  const int64_t* c_in = nullptr;       // [N]
  const int64_t* c_out = nullptr;      // [N]
  const int64_t* groups = nullptr;     // [N]
  const int64_t* pred_ptr = nullptr;   // [N+1]
  const int32_t* pred = nullptr;       // [E]
  // [N] optional: 1 marks a graph output. Null: the last node of each graph is its output.
  const uint8_t* output = nullptr;
};

struct Options {
  bool ignore_1x1 = false;
  bool i_min = true;         // compute I_min (the per-resolution results do not need it)
  bool force_passes = false;  // one pass per resolution and bisection for I_min, no thresholds (tests)
  int threads = 0;    // 0: every core
};

// Results. Per-graph arrays are required; per-node arrays may be null.
struct Outputs {
  // per graph, [B*R]
  int64_t* n_unproductive = nullptr;
  int64_t* n_border = nullptr;
  int64_t* n_critical = nullptr;
  int64_t* n_partially_critical = nullptr;
  int64_t* macs = nullptr;
  int64_t* macs_unproductive = nullptr;
  int64_t* macs_dead = nullptr;  // MACs of dead nodes (no graph output reachable)
  // per graph
  double* i_min = nullptr;       // [B]
  double* i_min_axes = nullptr;  // [B*D]
  double* i_max_axes = nullptr;  // [B*D]
  double* i_max = nullptr;       // [B]
  double* rf_max = nullptr;      // [B*D]
  uint8_t* connected = nullptr;  // [B]
  uint8_t* aligned = nullptr;    // [B]
  int64_t* params = nullptr;     // [B]
  int64_t* n_dead = nullptr;     // [B] dead, connected WINDOW/TRANSPOSED nodes
  uint8_t* materialized = nullptr;  // [B] lane engine only (optional): answered by the general engine
  // per node (optional)
  double* node_rf_min = nullptr;  // [N*D]
  double* node_rf_max = nullptr;
  double* node_jump = nullptr;
  double* node_center = nullptr;
  uint8_t* node_connected = nullptr;  // [N]
  uint8_t* node_global = nullptr;
  uint8_t* node_global_context = nullptr;
  uint8_t* node_aligned = nullptr;
  int64_t* node_params = nullptr;  // [N]
  int64_t* node_fmap = nullptr;    // [R*N*D]
  uint8_t* node_status = nullptr;  // [R*N]
  int64_t* node_macs = nullptr;    // [R*N]
};

// A batch that cannot be analyzed: names the graph and node at fault.
// For a candidate of a search space, graph is the candidate, node the
// template node and column the choice column at fault (-1 when none is).
class BatchError : public std::runtime_error {
 public:
  BatchError(int64_t graph, int64_t node, const std::string& what, int64_t column = -1)
      : std::runtime_error(what), graph_(graph), node_(node), column_(column) {}
  int64_t graph() const { return graph_; }
  int64_t node() const { return node_; }
  int64_t column() const { return column_; }

 private:
  int64_t graph_, node_, column_;
};

// Limits that keep every intermediate inside int64 (docs/semantics.md).
constexpr int32_t kMaxWindowParam = 1 << 16;  // kernel, stride, dilation
constexpr int32_t kMaxPad = 1 << 20;
constexpr int64_t kMaxResolution = int64_t(1) << 30;
constexpr int64_t kMaxDenominator = int64_t(1) << 26;

}  // namespace rfa
