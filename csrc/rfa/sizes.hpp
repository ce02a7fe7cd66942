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

// x / s for x >= 0, s >= 1: a 32-bit division when both fit, which costs
// a fraction of a 64-bit one on common CPUs; sizes this large are rare.
inline int64_t div_nonneg(int64_t x, int64_t s) {
  if (static_cast<uint64_t>(x) <= 0xffffffffu) return static_cast<uint32_t>(x) / static_cast<uint32_t>(s);
  return x / s;
}

// The size rule of one node on one axis, gathered from the batch arrays.
struct SizeRule {
  uint8_t kind = IDENTITY, pad_mode = EXPLICIT, ceil_mode = 0;
  int64_t kp = 1, s = 1, pb = 0, pe = 0;
  int s_shift = 0;  // log2(s) when s is a power of two (almost every stride), else -1
  Fraction f;

  int64_t quot(int64_t x) const { return s_shift >= 0 ? (x >> s_shift) : div_nonneg(x, s); }  // x >= 0
};

inline SizeRule size_rule(const Batch& b, int64_t v, int d, const Fraction& f) {
  SizeRule r;
  r.kind = b.op[v];
  if (r.kind == WINDOW || r.kind == TRANSPOSED) {
    const int64_t j = v * b.D + d;
    r.kp = int64_t(b.dilation[j]) * (b.kernel[j] - 1) + 1;
    r.s = b.stride[j];
    r.s_shift = (r.s & (r.s - 1)) == 0 ? __builtin_ctzll(static_cast<unsigned long long>(r.s)) : -1;
    r.pad_mode = b.pad_mode[v];
    r.ceil_mode = b.ceil_mode[v];
    r.pb = b.pad_begin[j];
    r.pe = b.pad_end[j];
  }
  r.f = f;
  return r;
}

// Same rule, same sizes for every input (s_shift follows from s).
inline bool operator==(const SizeRule& a, const SizeRule& b) {
  return a.kind == b.kind && a.pad_mode == b.pad_mode && a.ceil_mode == b.ceil_mode && a.kp == b.kp && a.s == b.s &&
         a.pb == b.pb && a.pe == b.pe && a.f.p == b.f.p && a.f.q == b.f.q;
}

// Output size given the input's size n (docs/semantics.md, "Feature maps").
inline int64_t out_size(const SizeRule& r, int64_t n) {
  if (n <= 0) return 0;
  const bool same = r.pad_mode == SAME_UPPER || r.pad_mode == SAME_LOWER;
  if (r.kind == WINDOW) {
    if (same) return r.quot(n - 1) + 1;  // ceil(n/s), n >= 1
    const int64_t pads = r.pad_mode == VALID ? 0 : r.pb + r.pe;
    const int64_t x = add_sat(n, pads - r.kp);
    if (x < 0) return 0;
    if (!r.ceil_mode || r.pad_mode == VALID) return r.quot(x) + 1;
    int64_t o = ceil_div(x, r.s) + 1;
    if ((o - 1) * r.s >= add_sat(n, r.pb)) --o;  // the last window must start inside the input or left pad
    return o;
  }
  if (r.kind == TRANSPOSED) {
    if (same) return mul_sat(n, r.s);
    const int64_t pads = r.pad_mode == VALID ? 0 : r.pb + r.pe;
    return std::max<int64_t>(0, add_sat(mul_sat(n - 1, r.s), r.kp - pads));
  }
  if (r.kind == RESIZE) {
    if (r.f.p == r.f.q) return n;
    return add_sat(mul_sat(n / r.f.q, r.f.p), (n % r.f.q) * r.f.p / r.f.q);  // floor(n*p/q) without overflow
  }
  return n;  // IDENTITY, MERGE of one input
}

// Output size on axis d of node v (global index) given its input's size n;
// f is the node's resize factor on that axis (unused for other kinds).
inline int64_t out_size(const Batch& b, int64_t v, int d, const Fraction& f, int64_t n) {
  return out_size(size_rule(b, v, d, f), n);
}

// Does node v keep every input size on axis d (a "same" convolution, an
// activation)? Conservative: false only costs a feature-map class.
bool preserves_size(const Batch& b, int64_t v, int d, const Fraction& f);

// The smallest input size n >= 1 with out_size(r, n) >= m, or kNoSize.
int64_t min_in_size(const SizeRule& r, int64_t m);

}  // namespace rfa
