// One propagated graph of a batch as the resolution analyses read it: node
// flags, rf_min in units, resize factors. Filled by the engine's worker.
#pragma once
#include <cstdint>

#include "arith.hpp"
#include "batch.hpp"
#include "kinds.hpp"

namespace rfa {

// Per-node flags found by the propagation (docs/semantics.md).
// kDead: no graph output is reachable from the node.
constexpr uint8_t kConnected = 1, kGlobal = 2, kGlobalContext = 4, kAligned = 8, kDead = 16;

struct GraphView {
  const Batch* b = nullptr;
  int64_t g = 0, start = 0, n = 0;
  int D = 2;
  int Dc = 2;          // axes computed: 1 when every axis is alike (iso), else D
  int64_t U = 2;       // fields are integers in units of 1/U pixel
  const uint8_t* flags = nullptr;  // [n]
  const int64_t* rmin = nullptr;   // [n*D], units
  const Fraction* frac = nullptr;  // [n*D] resize factors, or null when the graph has no RESIZE
  bool ignore_1x1 = false;

  uint8_t kind(int64_t i) const { return b->op[start + i]; }
  int64_t param(const int32_t* a, int64_t i, int d) const { return a[(start + i) * D + d]; }
  int64_t kprime(int64_t i, int d) const { return param(b->dilation, i, d) * (param(b->kernel, i, d) - 1) + 1; }
  const int32_t* preds_begin(int64_t i) const { return b->pred + b->pred_ptr[start + i]; }
  const int32_t* preds_end(int64_t i) const { return b->pred + b->pred_ptr[start + i + 1]; }
  int64_t first_pred(int64_t i) const { return *preds_begin(i) - start; }
  bool spatial(int64_t i) const { return (flags[i] & (kConnected | kGlobal)) == kConnected; }
  Fraction factor(int64_t i, int d) const { return frac ? frac[i * D + d] : Fraction{}; }

  // ignore_1x1 skips windows with k' = 1 on every axis.
  bool exempt_1x1(int64_t i) const {
    if (!ignore_1x1) return false;
    for (int d = 0; d < D; ++d)
      if (kprime(i, d) != 1) return false;
    return true;
  }
  // Is node i a candidate for the unproductive rules at all?
  bool rated(int64_t i) const { return spatial(i) && !(flags[i] & kDead) && is_windowed(kind(i)) && !exempt_1x1(i); }
  // Does node i carry "some nearest windowed node at or above is unproductive" through?
  bool passes_uflag(int64_t i) const {
    const uint8_t k = kind(i);
    return k == MERGE || k == IDENTITY || k == RESIZE || (is_windowed(k) && exempt_1x1(i));
  }
};

}  // namespace rfa
