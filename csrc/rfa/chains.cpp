#include "chains.hpp"

#include <algorithm>
#include <cmath>
#include <limits>
#include <string>
#include <vector>

#include "arith.hpp"
#include "kinds.hpp"
#include "parallel.hpp"

namespace rfa {
namespace {

constexpr double kInf = std::numeric_limits<double>::infinity();
constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

void check(const Chains& c, int64_t b) {
  const int64_t n = c.L * c.D;
  for (int64_t j = 0; j < n; ++j) {
    const int64_t o = b * n + j;
    auto bad = [&](const char* what, int32_t lo, int32_t hi, int32_t x) {
      if (x < lo || x > hi)
        throw BatchError(b, j / c.D,
                         "candidate " + std::to_string(b) + ", layer " + std::to_string(j / c.D) + ": " + what +
                             " is " + std::to_string(x) + ", must be in " + std::to_string(lo) + ".." +
                             std::to_string(hi));
    };
    bad("kernel", 1, kMaxWindowParam, c.kernel[o]);
    bad("stride", 1, kMaxWindowParam, c.stride[o]);
    bad("dilation", 1, kMaxWindowParam, c.dilation[o]);
    if (c.pad_begin) {
      bad("pad_begin", -kMaxPad, kMaxPad, c.pad_begin[o]);
      bad("pad_end", -kMaxPad, kMaxPad, c.pad_end[o]);
    }
  }
  if (c.channels)
    for (int64_t l = 0; l <= c.L; ++l)
      if (c.channels[b * (c.L + 1) + l] < 0)
        throw BatchError(b, l, "candidate " + std::to_string(b) + ": channels must be >= 0");
}

struct LayerBounds {
  int64_t a[3];  // rule (a) holds on axis d for I <= a[d]
  int64_t t[3];  // rule (b) holds on axis d for I <= t[d]
  int64_t r[3];  // receptive field after the layer
  bool rated;
};

class ChainWorker {
 public:
  ChainWorker(const Chains& c, const int64_t* res, int64_t R, const Options& opt, const Outputs& out, bool params_ok)
      : c_(c), D_(c.D), res_(res), R_(R), opt_(opt), out_(out), layers_(c.L), params_ok_(params_ok) {}

  void run(int64_t b) {
    if (!params_ok_) check(c_, b);
    if (D_ == 1 && !c_.channels && R_ <= kMaxFusedR && run_fused(b)) return;
    bounds(b);
    for (int64_t r = 0; r < R_; ++r) evaluate(b, r);
    summary(b);
  }

 private:
  static constexpr int64_t kMaxFusedR = 16;

  // One axis, no channels (the search-loop case): the bounds, the status
  // counts and I_min of every layer in a single pass, nothing stored per
  // layer. The same formulas as bounds(), evaluate() and summary(); false
  // on an int64 overflow, which the general path then reports.
  bool run_fused(int64_t b) {
    const int64_t L = c_.L;
    const int32_t* k = c_.kernel + b * L;
    const int32_t* s = c_.stride + b * L;
    const int32_t* dl = c_.dilation + b * L;
    const int32_t* pb = c_.pad_begin ? c_.pad_begin + b * L : nullptr;
    const int32_t* pe = c_.pad_end ? c_.pad_end + b * L : nullptr;
    int64_t n_u[kMaxFusedR], n_b[kMaxFusedR], n_c[kMaxFusedR];
    bool prev_u[kMaxFusedR];
#pragma GCC unroll 1
    for (int64_t q = 0; q < R_; ++q) {  // only R entries, not as a memset: R is usually 1
      n_u[q] = n_b[q] = n_c[q] = 0;
      prev_u[q] = false;
    }
    int64_t J = 1, r = 1, S = 0, K = 0, worst = 0;
    bool ok = true;
    const bool ignore_1x1 = opt_.ignore_1x1;
    if (R_ == 1) {  // the common screen: one resolution, every counter in a register
      const int64_t I = res_[0];
      int64_t nu = 0, nb = 0, nc = 0;
      bool prev = false;
      for (int64_t l = 0; l < L; ++l) {
        const int64_t kp = int64_t(dl[l]) * (k[l] - 1) + 1;
        const int64_t P = pb ? int64_t(pb[l]) + pe[l] : kp - 1;
        const int64_t r_out = add_chk(r, mul_chk(kp - 1, J, ok), ok);
        const int64_t thr = std::max(std::min(r, r_out - 1), std::max(K, add_chk(mul_chk(J, kp, ok), S, ok)));
        const bool rated = !ignore_1x1 || kp != 1;
        const bool u = rated && I <= thr;
        worst = rated ? std::max(worst, thr) : worst;
        nu += u;
        nb += u && !prev;
        prev = rated ? u : prev;
        nc += r_out > I;
        K = std::max(K, S);
        S = add_chk(S, mul_chk(J, kp - P - 1, ok), ok);
        J = mul_chk(J, s[l], ok);
        r = r_out;
      }
      n_u[0] = nu;
      n_b[0] = nb;
      n_c[0] = nc;
    }
    for (int64_t l = 0; l < L && R_ > 1; ++l) {
      const int64_t kp = int64_t(dl[l]) * (k[l] - 1) + 1;
      const int64_t P = pb ? int64_t(pb[l]) + pe[l] : kp - 1;
      const int64_t r_out = add_chk(r, mul_chk(kp - 1, J, ok), ok);
      const int64_t thr = std::max(std::min(r, r_out - 1), std::max(K, add_chk(mul_chk(J, kp, ok), S, ok)));
      const bool rated = !(opt_.ignore_1x1 && kp == 1);
      if (rated) worst = std::max(worst, thr);
      for (int64_t q = 0; q < R_; ++q) {
        const int64_t I = res_[q];
        const bool u = rated && I <= thr;
        n_u[q] += u;
        n_b[q] += u && !prev_u[q];
        if (rated) prev_u[q] = u;
        n_c[q] += r_out > I;
      }
      K = std::max(K, S);
      S = add_chk(S, mul_chk(J, kp - P - 1, ok), ok);
      J = mul_chk(J, s[l], ok);
      r = r_out;
    }
    if (!ok) return false;
    // Stores one by one: for a handful of values the memcpy/memset the
    // compiler would make of a loop costs more than the whole chain.
    const auto put = [&](int64_t q) {
      const int64_t o = b * R_ + q;
      out_.n_unproductive[o] = n_u[q];
      out_.n_border[o] = n_b[q];
      out_.n_critical[o] = n_c[q];
      out_.n_partially_critical[o] = 0;
      out_.macs[o] = 0;
      out_.macs_unproductive[o] = 0;
    };
    if (R_ == 1) {
      put(0);
    } else {
#pragma GCC unroll 1
      for (int64_t q = 0; q < R_; ++q) put(q);
    }
    out_.connected[b] = 1;
    out_.aligned[b] = 1;
    out_.params[b] = 0;
    const double rf = static_cast<double>(r);
    out_.rf_max[b] = rf;
    out_.i_max_axes[b] = L > 0 ? rf : kNaN;
    out_.i_max[b] = L > 0 ? rf : kNaN;
    const double i_min = opt_.i_min ? as_i_min(worst) : kNaN;
    out_.i_min_axes[b] = i_min;
    out_.i_min[b] = i_min;
    return true;
  }

  const Chains& c_;
  const int D_;
  const int64_t* res_;
  const int64_t R_;
  const Options& opt_;
  const Outputs& out_;
  std::vector<LayerBounds> layers_;
  const bool params_ok_;  // every parameter already known to be in range

  int64_t at(const int32_t* a, int64_t b, int64_t l, int d) const { return a[(b * c_.L + l) * D_ + d]; }
  int64_t kprime(int64_t b, int64_t l, int d) const { return at(c_.dilation, b, l, d) * (at(c_.kernel, b, l, d) - 1) + 1; }
  // Total padding of a layer; "same" when no pads were given.
  int64_t pads(int64_t b, int64_t l, int d) const {
    return c_.pad_begin ? at(c_.pad_begin, b, l, d) + at(c_.pad_end, b, l, d) : kprime(b, l, d) - 1;
  }

  void bounds(int64_t b) {
    for (int d = 0; d < D_; ++d) {
      // Inverting fmap_out <= t through layer j gives fmap_in <= max(0, s t + c_j),
      // c_j = k' - P - 1 (a map of size 0 stays 0). Composed from the input:
      // fmap_in(layer l) <= t  <=>  I <= max(K_l, J_l t + S_l), with
      // S_l = sum_{j<l} J_j c_j and K_l = max(0, S_0..S_{l-1}).
      int64_t J = 1, r = 1, S = 0, K = 0;
      for (int64_t l = 0; l < c_.L; ++l) {
        bool ok = true;
        const int64_t kp = kprime(b, l, d);
        const int64_t P = pads(b, l, d);
        const int64_t r_out = add_chk(r, mul_chk(kp - 1, J, ok), ok);
        LayerBounds& lb = layers_[l];
        lb.a[d] = std::min(r, r_out - 1);
        lb.t[d] = std::max(K, add_chk(mul_chk(J, kp, ok), S, ok));
        lb.r[d] = r_out;
        K = std::max(K, S);
        S = add_chk(S, mul_chk(J, kp - P - 1, ok), ok);
        J = mul_chk(J, at(c_.stride, b, l, d), ok);
        r = r_out;
        if (!ok)
          throw BatchError(b, l, "candidate " + std::to_string(b) + ", layer " + std::to_string(l) +
                                     ": the jump or receptive field exceeds the int64 range");
      }
    }
    for (int64_t l = 0; l < c_.L; ++l) {
      bool all_one = true;
      for (int d = 0; d < D_; ++d) all_one &= at(c_.dilation, b, l, d) * (at(c_.kernel, b, l, d) - 1) == 0;
      layers_[l].rated = !(opt_.ignore_1x1 && all_one);
    }
  }

  bool unproductive(const LayerBounds& lb, const int64_t* I) const {
    if (!lb.rated) return false;
    bool a = true, t = true;
    for (int d = 0; d < D_; ++d) {
      a &= I[d] <= lb.a[d];
      t &= I[d] <= lb.t[d];
    }
    return a || t;
  }

  void evaluate(int64_t b, int64_t r) {
    const int64_t* I = res_ + r * D_;
    int64_t n_u = 0, n_b = 0, n_c = 0, n_p = 0, macs = 0, macs_u = 0;
    int64_t f[3] = {I[0], D_ > 1 ? I[1] : 0, D_ > 2 ? I[2] : 0};
    bool prev_u = false;
    const int64_t* ch = c_.channels ? c_.channels + b * (c_.L + 1) : nullptr;
    for (int64_t l = 0; l < c_.L; ++l) {
      const LayerBounds& lb = layers_[l];
      const bool u = unproductive(lb, I);
      n_u += u;
      n_b += u && !prev_u;
      if (lb.rated) prev_u = u;  // a skipped 1x1 neither starts nor interrupts unproductiveness
      int over = 0;
      for (int d = 0; d < D_; ++d) over += lb.r[d] > I[d];
      n_c += over == D_;
      n_p += over > 0 && over < D_;
      if (ch && ch[l] > 0 && ch[l + 1] > 0) {
        int64_t m = mul_sat(ch[l], ch[l + 1]);
        for (int d = 0; d < D_; ++d) {
          const int64_t x = f[d] + pads(b, l, d) - kprime(b, l, d);
          f[d] = (f[d] <= 0 || x < 0) ? 0 : x / at(c_.stride, b, l, d) + 1;
          m = mul_sat(mul_sat(m, at(c_.kernel, b, l, d)), f[d]);
        }
        macs = add_sat(macs, m);
        if (u) macs_u = add_sat(macs_u, m);
      } else if (ch) {
        for (int d = 0; d < D_; ++d) {
          const int64_t x = f[d] + pads(b, l, d) - kprime(b, l, d);
          f[d] = (f[d] <= 0 || x < 0) ? 0 : x / at(c_.stride, b, l, d) + 1;
        }
      }
    }
    const int64_t o = b * R_ + r;
    out_.n_unproductive[o] = n_u;
    out_.n_border[o] = n_b;
    out_.n_critical[o] = n_c;
    out_.n_partially_critical[o] = n_p;
    out_.macs[o] = macs;
    out_.macs_unproductive[o] = macs_u;
  }

  static double as_i_min(int64_t worst) {
    return worst >= kMaxResolution ? kInf : static_cast<double>(worst + 1);
  }

  void summary(int64_t b) {
    out_.connected[b] = 1;
    out_.aligned[b] = 1;
    int64_t params = 0;
    if (c_.channels) {
      const int64_t* ch = c_.channels + b * (c_.L + 1);
      for (int64_t l = 0; l < c_.L; ++l) {
        if (ch[l] <= 0 || ch[l + 1] <= 0) continue;
        int64_t p = mul_sat(ch[l], ch[l + 1]);
        for (int d = 0; d < D_; ++d) p = mul_sat(p, at(c_.kernel, b, l, d));
        params = add_sat(params, p);
      }
    }
    out_.params[b] = params;
    int64_t worst_sq = 0, worst_ax[3] = {0, 0, 0};
    for (int64_t l = 0; l < c_.L; ++l) {
      const LayerBounds& lb = layers_[l];
      if (!lb.rated) continue;
      int64_t amin = kInt64Max, tmin = kInt64Max;
      for (int d = 0; d < D_; ++d) {
        amin = std::min(amin, lb.a[d]);
        tmin = std::min(tmin, lb.t[d]);
        worst_ax[d] = std::max(worst_ax[d], std::max(lb.a[d], lb.t[d]));
      }
      worst_sq = std::max(worst_sq, std::max(amin, tmin));
    }
    double imax = kNaN;
    for (int d = 0; d < D_; ++d) {
      const double rf = c_.L > 0 ? static_cast<double>(layers_[c_.L - 1].r[d]) : 1.0;
      out_.rf_max[b * D_ + d] = rf;
      out_.i_max_axes[b * D_ + d] = c_.L > 0 ? rf : kNaN;
      if (c_.L > 0 && (std::isnan(imax) || rf > imax)) imax = rf;
      out_.i_min_axes[b * D_ + d] = opt_.i_min ? as_i_min(worst_ax[d]) : kNaN;
    }
    out_.i_max[b] = imax;
    out_.i_min[b] = opt_.i_min ? as_i_min(worst_sq) : kNaN;
  }
};

}  // namespace

void screen_chains(const Chains& c, const int64_t* res, int64_t R, const Options& opt, const Outputs& out) {
  if (c.D < 1 || c.D > 3) throw BatchError(-1, -1, "chains must have 1, 2 or 3 spatial axes");
  const int threads = resolve_threads(opt.threads);
  // One vectorized range check of every parameter; per-candidate checks
  // run only when it fails, to name the candidate and layer at fault.
  const int64_t n = c.B * c.L * c.D;
  bool params_ok = all_within(c.kernel, n, 1, kMaxWindowParam) && all_within(c.stride, n, 1, kMaxWindowParam) &&
                   all_within(c.dilation, n, 1, kMaxWindowParam);
  if (c.pad_begin)
    params_ok = params_ok && all_within(c.pad_begin, n, -kMaxPad, kMaxPad) && all_within(c.pad_end, n, -kMaxPad, kMaxPad);
  if (c.channels) {
    int64_t mn = 0;
    for (int64_t i = 0; i < c.B * (c.L + 1); ++i) mn = std::min(mn, c.channels[i]);
    params_ok = params_ok && mn >= 0;
  }
  // Every candidate costs the same: chunks by count, inline when small.
  parallel_chunks(
      c.B, nullptr, threads,
      [&](int64_t b0, int64_t b1, int) {
        ChainWorker wk(c, res, R, opt, out, params_ok);
        for (int64_t b = b0; b < b1; ++b) wk.run(b);
      },
      c.B * std::max<int64_t>(1, c.L));
}

}  // namespace rfa
