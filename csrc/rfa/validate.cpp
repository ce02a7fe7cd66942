#include "validate.hpp"

#include <algorithm>
#include <cmath>
#include <string>

#include "arith.hpp"
#include "kinds.hpp"
#include "parallel.hpp"

namespace rfa {
namespace {

const char* kind_name(uint8_t k) {
  static const char* names[] = {"INPUT", "WINDOW", "TRANSPOSED", "RESIZE", "MERGE", "GLOBAL", "IDENTITY"};
  return k < kNumKinds ? names[k] : "?";
}

[[noreturn]] void fail(int64_t g, int64_t v, const std::string& msg) {
  throw BatchError(g, v, "graph " + std::to_string(g) + ", node " + std::to_string(v) + ": " + msg);
}

void check_axis_param(int64_t g, int64_t v, const char* what, const int32_t* a, int D, int32_t lo, int32_t hi) {
  for (int d = 0; d < D; ++d) {
    int32_t x = a[v * D + d];
    if (x < lo || x > hi)
      fail(g, v, std::string(what) + " is " + std::to_string(x) + " on axis " + std::to_string(d) + ", must be in " +
                     std::to_string(lo) + ".." + std::to_string(hi));
  }
}

void validate_graph(const Batch& b, int64_t g, bool params_ok, bool scalars_ok) {
  const int64_t start = b.graph_ptr[g], end = b.graph_ptr[g + 1];
  const int D = b.D;
  for (int64_t v = start; v < end; ++v) {
    const uint8_t k = b.op[v];
    if (k >= kNumKinds) fail(g, v, "op code " + std::to_string(k) + " is not a node kind (0..6)");
    const int64_t p0 = b.pred_ptr[v], p1 = b.pred_ptr[v + 1];
    if (p0 < 0 || p1 < p0) fail(g, v, "pred_ptr is negative or decreases");
    if (p1 > b.E) fail(g, v, "pred_ptr points past the end of pred");
    const int64_t n_in = p1 - p0;
    for (int64_t e = p0; e < p1; ++e) {
      const int64_t p = b.pred[e];
      if (p >= v) {
        fail(g, v, "input " + std::to_string(p) +
                       (p == v ? " is the node itself (a cycle)" : " comes later (not topological order, or a cycle)"));
      }
      if (p < start) fail(g, v, "input " + std::to_string(p) + " belongs to another graph (graph starts at node " +
                                      std::to_string(start) + ")");
    }
    const bool one = k == WINDOW || k == TRANSPOSED || k == RESIZE || k == IDENTITY;
    if (k == INPUT && n_in != 0) fail(g, v, "an INPUT node takes no inputs, has " + std::to_string(n_in));
    if (one && n_in != 1) fail(g, v, std::string("a ") + kind_name(k) + " node takes exactly one input, has " +
                                         std::to_string(n_in));
    if (k == GLOBAL && n_in < 1) fail(g, v, "a GLOBAL node needs at least one input");
    if (!params_ok) {
      check_axis_param(g, v, "kernel", b.kernel, D, 1, kMaxWindowParam);
      check_axis_param(g, v, "stride", b.stride, D, 1, kMaxWindowParam);
      check_axis_param(g, v, "dilation", b.dilation, D, 1, kMaxWindowParam);
      check_axis_param(g, v, "pad_begin", b.pad_begin, D, -kMaxPad, kMaxPad);
      check_axis_param(g, v, "pad_end", b.pad_end, D, -kMaxPad, kMaxPad);
    }
    if (!scalars_ok) {
      if (b.pad_mode[v] >= kNumPadModes) fail(g, v, "pad_mode " + std::to_string(b.pad_mode[v]) + " is not 0..3");
      if (b.ceil_mode[v] > 1) fail(g, v, "ceil_mode must be 0 or 1");
      if (b.mode[v] >= kNumResizeModes) fail(g, v, "resize mode " + std::to_string(b.mode[v]) + " is not 0..2");
      if (b.weighted[v] > 1) fail(g, v, "weighted must be 0 or 1");
      if (b.c_in[v] < 0 || b.c_out[v] < 0) fail(g, v, "c_in and c_out must be >= 0 (0 = unknown)");
      if (b.groups[v] < 1) fail(g, v, "groups must be >= 1");
    }
    if (k == RESIZE) {
      for (int d = 0; d < D; ++d) {
        Fraction f;
        if (!to_fraction(b.scale[v * D + d], f))
          fail(g, v, "resize scale " + std::to_string(b.scale[v * D + d]) + " on axis " + std::to_string(d) +
                         " is not a positive ratio p/q with q <= 4096");
      }
    }
  }
}

}  // namespace

void validate(const Batch& b, int threads) {
  if (b.D < 1 || b.D > 3) throw BatchError(-1, -1, "the batch must have 1, 2 or 3 spatial axes, has " + std::to_string(b.D));
  if (b.B < 0 || b.N < 0 || b.E < 0) throw BatchError(-1, -1, "negative array length");
  if (b.graph_ptr[0] != 0) throw BatchError(0, -1, "graph_ptr[0] must be 0");
  if (b.graph_ptr[b.B] != b.N)
    throw BatchError(-1, -1, "graph_ptr[-1] is " + std::to_string(b.graph_ptr[b.B]) + " but there are " +
                                 std::to_string(b.N) + " nodes");
  for (int64_t g = 0; g < b.B; ++g) {
    if (b.graph_ptr[g + 1] <= b.graph_ptr[g])
      throw BatchError(g, -1, "graph " + std::to_string(g) + " is empty or graph_ptr decreases");
  }
  if (b.pred_ptr[0] != 0) throw BatchError(-1, 0, "pred_ptr[0] must be 0");
  if (b.output) {  // 0 or 1, and at least one output per graph
    for (int64_t g = 0; g < b.B; ++g) {
      bool any = false;
      for (int64_t v = b.graph_ptr[g]; v < b.graph_ptr[g + 1]; ++v) {
        if (b.output[v] > 1)
          throw BatchError(g, v, "graph " + std::to_string(g) + ", node " + std::to_string(v) + ": output must be 0 or 1, is " +
                                     std::to_string(b.output[v]));
        any |= b.output[v] != 0;
      }
      if (!any) throw BatchError(g, -1, "graph " + std::to_string(g) + " has no output (no node marked in output)");
    }
  }
  if (b.pred_ptr[b.N] != b.E)
    throw BatchError(-1, -1, "pred_ptr[-1] is " + std::to_string(b.pred_ptr[b.N]) + " but pred has " +
                                 std::to_string(b.E) + " entries");
  // Range checks as vectorized passes over whole arrays; the per-node loop
  // repeats them only when one fails, to name the node.
  const int64_t nd = b.N * b.D;
  const bool params_ok = all_within(b.kernel, nd, 1, kMaxWindowParam) && all_within(b.stride, nd, 1, kMaxWindowParam) &&
                         all_within(b.dilation, nd, 1, kMaxWindowParam) &&
                         all_within(b.pad_begin, nd, -kMaxPad, kMaxPad) && all_within(b.pad_end, nd, -kMaxPad, kMaxPad);
  constexpr int64_t kBig = kInt64Max;
  const bool scalars_ok = all_within<uint8_t>(b.pad_mode, b.N, 0, kNumPadModes - 1) &&
                          all_within<uint8_t>(b.ceil_mode, b.N, 0, 1) &&
                          all_within<uint8_t>(b.mode, b.N, 0, kNumResizeModes - 1) &&
                          all_within<uint8_t>(b.weighted, b.N, 0, 1) && all_within<int64_t>(b.c_in, b.N, 0, kBig) &&
                          all_within<int64_t>(b.c_out, b.N, 0, kBig) && all_within<int64_t>(b.groups, b.N, 1, kBig);
  parallel_chunks(b.B, b.graph_ptr, threads, [&](int64_t g0, int64_t g1, int) {
    for (int64_t g = g0; g < g1; ++g) validate_graph(b, g, params_ok, scalars_ok);
  });
}

void validate_resolutions(const int64_t* res, int64_t R, int D) {
  if (R < 1) throw BatchError(-1, -1, "at least one resolution is needed");
  for (int64_t r = 0; r < R * D; ++r) {
    if (res[r] < 1 || res[r] > kMaxResolution)
      throw BatchError(-1, -1, "resolution " + std::to_string(res[r]) + " is outside 1..2^30");
  }
}

}  // namespace rfa
