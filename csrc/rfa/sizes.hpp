// The feature-map size rule of one node on one axis (docs/semantics.md,
// "Feature maps") and its inverse. Every rule is monotone in the input size,
// which is what makes each status rule a threshold on the resolution.
#pragma once
#include <algorithm>
#include <cstdint>

#include "arith.hpp"
#include "batch.hpp"
#include "kinds.hpp"

namespace rfa {

// "No input size is large enough" (and saturated sizes).
constexpr int64_t kNoSize = kInt64Max;

// Output size on axis d of node v (global index) given its input's size n;
// f is the node's resize factor on that axis (unused for other kinds).
inline int64_t out_size(const Batch& b, int64_t v, int d, const Fraction& f, int64_t n) {
  if (n <= 0) return 0;
  const uint8_t k = b.op[v];
  const int64_t j = v * b.D + d;
  if (k == WINDOW) {
    const int64_t kp = int64_t(b.dilation[j]) * (b.kernel[j] - 1) + 1, s = b.stride[j];
    const uint8_t pm = b.pad_mode[v];
    if (pm == SAME_UPPER || pm == SAME_LOWER) return ceil_div(n, s);
    const int64_t pads = pm == VALID ? 0 : int64_t(b.pad_begin[j]) + b.pad_end[j];
    const int64_t x = add_sat(n, pads - kp);
    if (x < 0) return 0;
    if (!b.ceil_mode[v] || pm == VALID) return x / s + 1;
    int64_t o = ceil_div(x, s) + 1;
    if ((o - 1) * s >= add_sat(n, b.pad_begin[j])) --o;  // the last window must start inside the input or left pad
    return o;
  }
  if (k == TRANSPOSED) {
    const int64_t kp = int64_t(b.dilation[j]) * (b.kernel[j] - 1) + 1, s = b.stride[j];
    const uint8_t pm = b.pad_mode[v];
    if (pm == SAME_UPPER || pm == SAME_LOWER) return mul_sat(n, s);
    const int64_t pads = pm == VALID ? 0 : int64_t(b.pad_begin[j]) + b.pad_end[j];
    return std::max<int64_t>(0, add_sat(mul_sat(n - 1, s), kp - pads));
  }
  if (k == RESIZE) {
    if (f.p == f.q) return n;
    return add_sat(mul_sat(n / f.q, f.p), (n % f.q) * f.p / f.q);  // floor(n*p/q) without overflow
  }
  return n;  // IDENTITY, MERGE of one input
}

// Does node v keep every input size on axis d (a "same" convolution, an
// activation)? Conservative: false only costs a feature-map class.
bool preserves_size(const Batch& b, int64_t v, int d, const Fraction& f);

// The smallest input size n >= 1 with out_size(n) >= m, or kNoSize.
int64_t min_in_size(const Batch& b, int64_t v, int d, const Fraction& f, int64_t m);

}  // namespace rfa
