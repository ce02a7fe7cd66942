// Integer helpers: exact floor/ceil division, checked and saturating
// arithmetic, and turning a float scale into an exact fraction.
#pragma once
#include <cmath>
#include <cstdint>
#include <limits>
#include <numeric>

namespace rfa {

constexpr int64_t kInt64Max = std::numeric_limits<int64_t>::max();

inline int64_t floor_div(int64_t a, int64_t b) {  // b > 0
  int64_t q = a / b;
  return (a % b != 0 && a < 0) ? q - 1 : q;
}
inline int64_t ceil_div(int64_t a, int64_t b) { return -floor_div(-a, b); }  // b > 0

// Overflow-checked arithmetic: sets `ok` to false instead of wrapping.
inline int64_t mul_chk(int64_t a, int64_t b, bool& ok) {
  int64_t r;
  if (__builtin_mul_overflow(a, b, &r)) ok = false;
  return r;
}
inline int64_t add_chk(int64_t a, int64_t b, bool& ok) {
  int64_t r;
  if (__builtin_add_overflow(a, b, &r)) ok = false;
  return r;
}

// Saturating arithmetic for sizes and costs: "larger than anything" is the
// honest answer when a map or a MAC count exceeds int64.
inline int64_t mul_sat(int64_t a, int64_t b) {
  int64_t r;
  return __builtin_mul_overflow(a, b, &r) ? kInt64Max : r;
}
inline int64_t add_sat(int64_t a, int64_t b) {
  int64_t r;
  return __builtin_add_overflow(a, b, &r) ? kInt64Max : r;
}

// Are all values of a[0..n) within [lo, hi]? One branch-free pass the
// compiler vectorizes; per-item checks run only to name the culprit.
template <class T>
inline bool all_within(const T* a, int64_t n, T lo, T hi) {
  T mn = lo, mx = hi;
  for (int64_t i = 0; i < n; ++i) {
    mn = a[i] < mn ? a[i] : mn;
    mx = a[i] > mx ? a[i] : mx;
  }
  return mn >= lo && mx <= hi;
}

struct Fraction {
  int64_t p = 1, q = 1;  // value p / q, both > 0, lowest terms
};

constexpr int64_t kMaxScaleDenominator = 4096;

// The fraction p/q (q <= kMaxScaleDenominator) closest to x by continued
// fractions; false when none is within 1e-9 relative. Resize factors in real
// models are small ratios (2, 1/2, 3/2, 224/7...), so this is exact for them.
inline bool to_fraction(double x, Fraction& out) {
  if (!(x > 0) || !std::isfinite(x) || x > 1e9 || x < 1e-9) return false;
  int64_t h0 = 0, h1 = 1, k0 = 1, k1 = 0;  // convergents h/k
  double r = x;
  for (int it = 0; it < 64; ++it) {
    double a = std::floor(r);
    if (a > 1e12) break;
    auto ai = static_cast<int64_t>(a);
    int64_t h2 = ai * h1 + h0, k2 = ai * k1 + k0;
    if (k2 > kMaxScaleDenominator) break;
    h0 = h1; h1 = h2; k0 = k1; k1 = k2;
    double frac = r - a;
    if (std::fabs(static_cast<double>(h1) / static_cast<double>(k1) - x) <= 1e-9 * x) break;
    if (frac < 1e-15) break;
    r = 1.0 / frac;
  }
  if (k1 == 0 || h1 <= 0) return false;
  if (std::fabs(static_cast<double>(h1) / static_cast<double>(k1) - x) > 1e-9 * x) return false;
  int64_t g = std::gcd(h1, k1);
  out.p = h1 / g;
  out.q = k1 / g;
  return true;
}

}  // namespace rfa
