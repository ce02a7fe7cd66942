#include "sizes.hpp"

namespace rfa {

namespace {

// Sizes this large only arise from saturation: treat them as unreachable.
constexpr int64_t kHuge = int64_t(1) << 62;

// Smallest n in (lo, hi] with out_size(n) >= m, given out_size(lo) < m <= out_size(hi).
int64_t bisect(const Batch& b, int64_t v, int d, const Fraction& f, int64_t m, int64_t lo, int64_t hi) {
  while (hi - lo > 1) {
    const int64_t mid = lo + (hi - lo) / 2;
    if (out_size(b, v, d, f, mid) >= m) hi = mid;
    else lo = mid;
  }
  return hi;
}

// The closed form of each rule's inverse; min_in_size checks it.
int64_t guess_min_in_size(const Batch& b, int64_t v, int d, const Fraction& f, int64_t m) {
  const uint8_t k = b.op[v];
  const int64_t j = v * b.D + d;
  if (k == WINDOW || k == TRANSPOSED) {
    const int64_t kp = int64_t(b.dilation[j]) * (b.kernel[j] - 1) + 1, s = b.stride[j];
    const uint8_t pm = b.pad_mode[v];
    const bool same = pm == SAME_UPPER || pm == SAME_LOWER;
    const int64_t pads = (pm == VALID || same) ? 0 : int64_t(b.pad_begin[j]) + b.pad_end[j];
    if (k == WINDOW) {
      // floor((n + pads - k')/s) + 1 >= m  <=>  n >= (m-1)s + k' - pads; ceil(n/s) >= m <=> n >= (m-1)s + 1
      return add_sat(mul_sat(m - 1, s), same ? 1 : kp - pads);
    }
    // n*s >= m; (n-1)s + k' - pads >= m
    return same ? ceil_div(m, s) : 1 + ceil_div(m - kp + pads, s);
  }
  if (k == RESIZE && f.p != f.q) {
    const int64_t mq = mul_sat(m, f.q);  // floor(n p / q) >= m <=> n >= ceil(m q / p)
    return mq == kInt64Max ? kNoSize : ceil_div(mq, f.p);
  }
  return m;
}

}  // namespace

bool preserves_size(const Batch& b, int64_t v, int d, const Fraction& f) {
  const uint8_t k = b.op[v];
  const int64_t j = v * b.D + d;
  if (k == IDENTITY) return true;
  if (k == RESIZE) return f.p == f.q;
  if (k != WINDOW && k != TRANSPOSED) return false;
  if (b.stride[j] != 1) return false;
  const uint8_t pm = b.pad_mode[v];
  if (pm == SAME_UPPER || pm == SAME_LOWER) return true;
  const int64_t kp = int64_t(b.dilation[j]) * (b.kernel[j] - 1) + 1;
  const int64_t pads = pm == VALID ? 0 : int64_t(b.pad_begin[j]) + b.pad_end[j];
  // ceil_mode with stride 1 drops a window only when the left pad is negative
  return pads == kp - 1 && (k == TRANSPOSED || !b.ceil_mode[v] || pm == VALID || b.pad_begin[j] >= 0);
}

int64_t min_in_size(const Batch& b, int64_t v, int d, const Fraction& f, int64_t m) {
  if (m <= 0) return 1;
  int64_t n = std::max<int64_t>(1, guess_min_in_size(b, v, d, f, m));
  if (n >= kHuge) return kNoSize;
  const bool enough = out_size(b, v, d, f, n) >= m;
  if (enough && (n == 1 || out_size(b, v, d, f, n - 1) < m)) return n;
  // The closed form is off (ceil_mode drops or adds a window; clamping at
  // an empty map): search from it, the rules being monotone.
  int64_t lo = 0, hi = n;
  if (enough) {
    int64_t step = 1;
    lo = n - 1;
    while (lo > 0 && out_size(b, v, d, f, lo) >= m) {
      hi = lo;
      lo = std::max<int64_t>(0, lo - step);
      step *= 2;
    }
  } else {
    lo = n;
    int64_t step = std::max<int64_t>(1, n);
    for (;;) {
      if (step >= kHuge || lo >= kHuge - step) return kNoSize;
      hi = lo + step;
      if (out_size(b, v, d, f, hi) >= m) break;
      lo = hi;
      step *= 2;
    }
  }
  return bisect(b, v, d, f, m, lo, hi);
}

}  // namespace rfa
