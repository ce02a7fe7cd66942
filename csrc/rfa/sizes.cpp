#include "sizes.hpp"

namespace rfa {

namespace {

// Sizes this large only arise from saturation: treat them as unreachable.
constexpr int64_t kHuge = int64_t(1) << 62;

// Smallest n in (lo, hi] with out_size(n) >= m, given out_size(lo) < m <= out_size(hi).
int64_t bisect(const SizeRule& r, int64_t m, int64_t lo, int64_t hi) {
  while (hi - lo > 1) {
    const int64_t mid = lo + (hi - lo) / 2;
    if (out_size(r, mid) >= m) hi = mid;
    else lo = mid;
  }
  return hi;
}

// The closed form of each rule's inverse; min_in_size checks it.
int64_t guess_min_in_size(const SizeRule& r, int64_t m) {
  if (r.kind == WINDOW || r.kind == TRANSPOSED) {
    const bool same = r.pad_mode == SAME_UPPER || r.pad_mode == SAME_LOWER;
    const int64_t pads = (r.pad_mode == VALID || same) ? 0 : r.pb + r.pe;
    if (r.kind == WINDOW) {
      // floor((n + pads - k')/s) + 1 >= m  <=>  n >= (m-1)s + k' - pads; ceil(n/s) >= m <=> n >= (m-1)s + 1
      return add_sat(mul_sat(m - 1, r.s), same ? 1 : r.kp - pads);
    }
    // n*s >= m; (n-1)s + k' - pads >= m
    return same ? ceil_div(m, r.s) : 1 + ceil_div(m - r.kp + pads, r.s);
  }
  if (r.kind == RESIZE && r.f.p != r.f.q) {
    const int64_t mq = mul_sat(m, r.f.q);  // floor(n p / q) >= m <=> n >= ceil(m q / p)
    return mq == kInt64Max ? kNoSize : ceil_div(mq, r.f.p);
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

int64_t min_in_size(const SizeRule& r, int64_t m) {
  if (m <= 0) return 1;
  int64_t n = std::max<int64_t>(1, guess_min_in_size(r, m));
  if (n >= kHuge) return kNoSize;
  const bool enough = out_size(r, n) >= m;
  if (enough && (n == 1 || out_size(r, n - 1) < m)) return n;
  // The closed form is off (ceil_mode drops or adds a window; clamping at
  // an empty map): search from it, the rules being monotone.
  int64_t lo = 0, hi = n;
  if (enough) {
    int64_t step = 1;
    lo = n - 1;
    while (lo > 0 && out_size(r, lo) >= m) {
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
      if (out_size(r, hi) >= m) break;
      lo = hi;
      step *= 2;
    }
  }
  return bisect(r, m, lo, hi);
}

}  // namespace rfa
