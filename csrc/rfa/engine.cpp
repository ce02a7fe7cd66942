#include "engine.hpp"

#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>
#include <string>
#include <vector>

#include "arith.hpp"
#include "graph_view.hpp"
#include "kinds.hpp"
#include "parallel.hpp"
#include "sizes.hpp"
#include "thresholds.hpp"

namespace rfa {
namespace {

constexpr double kInf = std::numeric_limits<double>::infinity();
constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();
constexpr int64_t kNoRf = kInt64Max;
constexpr int64_t kKeepScratchNodes = 1 << 14;  // per-thread buffers kept between calls up to this graph size  // r_min of a global node: larger than any I*U

// A receptive field as (base, F, G), in units of 1/U pixel:
// rf = base + G * max(0, ceil(F / G)). G is the grid of the last upsampling.
struct Field {
  int64_t base, F, G;
};

struct AxisState {
  int64_t J, C;  // jump and center, units of 1/U pixel
  Field lo, hi;  // the triples behind rf_min and rf_max
};

// The buffers of a worker. Kept per thread across calls: a search loop
// that analyzes one small graph per call would otherwise spend a good part
// of each call in malloc and free.
struct WorkerScratch {
  std::vector<AxisState> st;
  std::vector<int64_t> rmin, rmax, fmap, den, params, sweep_I, sweep_r;
  std::vector<uint8_t> flags, uflag, square, live;
  std::vector<double> lo_off, up_off;
  std::vector<Fraction> frac;
  Thresholds thresholds;
};

class GraphWorker {
 public:
  GraphWorker(const Batch& b, const int64_t* res, int64_t R, const Options& opt, const Outputs& out, WorkerScratch& s)
      : b_(b), D_(b.D), res_(res), R_(R), opt_(opt), out_(out), st_(s.st), rmin_(s.rmin), rmax_(s.rmax),
        fmap_(s.fmap), flags_(s.flags), uflag_(s.uflag), den_(s.den), lo_off_(s.lo_off), up_off_(s.up_off),
        frac_(s.frac), thresholds_(s.thresholds), params_(s.params), square_(s.square), live_(s.live) {
    // The square resolutions, sorted once for every graph of this worker.
    std::vector<int64_t>& I = s.sweep_I;
    std::vector<int64_t>& at = s.sweep_r;
    I.clear();
    at.clear();
    square_.assign(R, 0);
    for (int64_t r = 0; r < R; ++r) {
      const int64_t* x = res + r * D_;
      bool sq = true;
      for (int d = 1; d < D_; ++d) sq &= x[d] == x[0];
      square_[r] = sq;
      if (sq) {
        I.push_back(x[0]);
        at.push_back(r);
      }
    }
    thresholds_.set_resolutions(I.data(), at.data(), static_cast<int64_t>(I.size()));
  }

  void run(int64_t g) {
    g_ = g;
    start_ = b_.graph_ptr[g];
    n_ = b_.graph_ptr[g + 1] - start_;
    const size_t nd = static_cast<size_t>(n_) * D_;
    st_.resize(nd);
    rmin_.resize(nd);
    rmax_.resize(nd);
    fmap_.resize(nd);
    flags_.resize(n_);
    uflag_.resize(n_);
    iso_ = isotropic();
    Dc_ = iso_ ? 1 : D_;
    choose_units();
    propagate();
    mark_dead();
    if (Dc_ < D_) copy_axis0();
    params_.resize(n_);  // once per node: the tables, the passes, the thresholds and the total read it
    for (int64_t i = 0; i < n_; ++i) params_[i] = params(i);
    write_node_fields();
    view_ = GraphView{&b_, g_, start_, n_, D_, Dc_, U_, flags_.data(), rmin_.data(),
                      has_resize_ ? frac_.data() : nullptr, opt_.ignore_1x1};
    // Thresholds answer I_min and every square resolution without a pass;
    // per-node results and rectangular resolutions take one pass each.
    const bool thr = !opt_.force_passes && thresholds_.build(view_, params_.data());
    const bool sweep = thr && !out_.node_status;
    for (int64_t r = 0; r < R_; ++r)
      if (!(sweep && square_[r])) evaluate_full(r);
    if (sweep) thresholds_.count(R_, out_);
    write_graph_summary(thr);
  }

 private:
  const Batch& b_;
  const int D_;
  const int64_t* res_;
  const int64_t R_;
  const Options& opt_;
  const Outputs& out_;
  int64_t g_ = 0, start_ = 0, n_ = 0, U_ = 2;
  // Every axis alike (the common case): the fields are computed on axis 0
  // and copied; feature maps too when the resolution is square.
  bool iso_ = false;
  int Dc_ = 1;
  bool any_frac_ = false;  // a TRANSPOSED or RESIZE: fields need the grid rounding
  std::vector<AxisState>& st_;
  std::vector<int64_t>&rmin_, &rmax_, &fmap_;  // reported fields (units), feature maps
  std::vector<uint8_t>&flags_, &uflag_;
  std::vector<int64_t>& den_;
  std::vector<double>&lo_off_, &up_off_;  // linear bounds on the feature maps
  std::vector<Fraction>& frac_;  // resize factors of this graph, [n*D] (only when it has resizes)
  bool has_resize_ = false;
  GraphView view_;
  Thresholds& thresholds_;
  std::vector<int64_t>& params_;
  std::vector<uint8_t>& square_;  // [R]: is resolution r square (answered by the thresholds)
  std::vector<uint8_t>& live_;    // [n]: some graph output is reachable from the node

  [[noreturn]] void overflow(int64_t i, const char* what) const {
    const int64_t v = start_ + i;
    throw BatchError(g_, v, "graph " + std::to_string(g_) + ", node " + std::to_string(v) + ": " + what +
                                " exceeds the int64 range (too many strided or upsampling layers)");
  }

  int64_t kind(int64_t i) const { return b_.op[start_ + i]; }
  int64_t param(const int32_t* a, int64_t i, int d) const { return a[(start_ + i) * D_ + d]; }
  int64_t kprime(int64_t i, int d) const {
    return param(b_.dilation, i, d) * (param(b_.kernel, i, d) - 1) + 1;
  }
  const int32_t* preds_begin(int64_t i) const { return b_.pred + b_.pred_ptr[start_ + i]; }
  const int32_t* preds_end(int64_t i) const { return b_.pred + b_.pred_ptr[start_ + i + 1]; }
  bool has(int64_t i, uint8_t f) const { return flags_[i] & f; }

  // Every value is an integer in units of 1/U pixel, U = 2 * (common
  // denominator of all jumps). Graphs without upsampling have U = 2.
  void choose_units() {
    has_resize_ = false;
    bool any_frac = false;
    for (int64_t i = 0; i < n_; ++i) {
      const int64_t k = kind(i);
      has_resize_ |= k == RESIZE;
      any_frac |= k == RESIZE || k == TRANSPOSED;
    }
    if (has_resize_) {
      frac_.resize(static_cast<size_t>(n_) * D_);
      for (int64_t i = 0; i < n_; ++i)
        if (kind(i) == RESIZE)
          for (int d = 0; d < D_; ++d) to_fraction(b_.scale[(start_ + i) * D_ + d], frac_[i * D_ + d]);
    }
    any_frac_ = any_frac;
    if (!any_frac) {
      U_ = 2;
      return;
    }
    den_.assign(n_, 1);
    int64_t all = 1;
    for (int64_t i = 0; i < n_; ++i) {
      int64_t den = 1;
      for (const int32_t* p = preds_begin(i); p != preds_end(i); ++p) den = std::lcm(den, den_[*p - start_]);
      int64_t extra = 1;
      const int64_t k = kind(i);
      for (int d = 0; d < D_; ++d) {
        if (k == TRANSPOSED) extra = std::lcm(extra, param(b_.stride, i, d));
        if (k == RESIZE) extra = std::lcm(extra, frac_[i * D_ + d].p);
        if (extra > kMaxDenominator) break;
      }
      if (extra > kMaxDenominator || den > kMaxDenominator / extra)
        throw BatchError(g_, start_ + i, "graph " + std::to_string(g_) + ", node " + std::to_string(start_ + i) +
                                             ": the upsampling factors up to here need a common denominator above "
                                             "2^26 (too many chained fractional resizes)");
      den_[i] = den * extra;
      all = std::lcm(all, den_[i]);
      if (all > kMaxDenominator)
        throw BatchError(g_, start_ + i, "graph " + std::to_string(g_) +
                                             ": the upsampling factors need a common denominator above 2^26");
    }
    U_ = 2 * all;
  }

  int64_t rep(const Field& f, int64_t i) const {
    // Without upsampling F is a multiple of G = U: no rounding, no division.
    if (!any_frac_) return f.base + f.F;
    bool ok = true;
    int64_t c = std::max<int64_t>(0, ceil_div(f.F, f.G));
    int64_t r = add_chk(f.base, mul_chk(f.G, c, ok), ok);
    if (!ok) overflow(i, "the receptive field");
    return r;
  }

  // Pad before the window used for the center (resolution-free SAME pads).
  int64_t center_pad(int64_t i, int d, int64_t kp) const {
    const uint8_t pm = b_.pad_mode[start_ + i];
    const int64_t s = param(b_.stride, i, d);
    const int64_t total = std::max<int64_t>(kp - s, 0);
    switch (pm) {
      case SAME_UPPER: return total / 2;
      case SAME_LOWER: return total - total / 2;
      case VALID: return 0;
      default: return param(b_.pad_begin, i, d);
    }
  }

  void propagate() {
    for (int64_t i = 0; i < n_; ++i) {
      const int64_t k = kind(i);
      AxisState* s = &st_[i * D_];
      uint8_t fl = 0;
      if (k == INPUT) {
        fl = kConnected | kAligned;
        for (int d = 0; d < Dc_; ++d) s[d] = AxisState{U_, 0, Field{U_, 0, U_}, Field{U_, 0, U_}};
      } else if (k == MERGE || k == GLOBAL) {
        fl = merge(i, k == GLOBAL);
      } else {
        const int64_t p = *preds_begin(i) - start_;
        const uint8_t fp = flags_[p];
        if (!(fp & kConnected)) {
          fl = 0;
        } else if (fp & kGlobal) {
          fl = kConnected | kGlobal | kAligned | (fp & kGlobalContext);
        } else {
          fl = kConnected | kAligned | (fp & kGlobalContext);
          const AxisState* in = &st_[p * D_];
          for (int d = 0; d < Dc_; ++d) s[d] = step(i, k, d, in[d]);
        }
      }
      flags_[i] = fl;
      for (int d = 0; d < Dc_; ++d) {
        const size_t j = i * D_ + d;
        if ((fl & kConnected) && !(fl & kGlobal)) {
          rmin_[j] = rep(s[d].lo, i);
          rmax_[j] = rep(s[d].hi, i);
        } else {
          rmin_[j] = rmax_[j] = kNoRf;
        }
      }
    }
  }

  // "new grid" (docs/semantics.md), then F += offset. An upsampling whose
  // input jump is a multiple of the grid commits (the triple is rounded to
  // the grid it was built on); one that subdivides the grid further keeps
  // the coarser grid, which still does the rounding; anything else commits
  // to the least common multiple (an upper bound).
  Field regrid(const Field& f, int64_t j_in, int64_t offset, int64_t i) const {
    bool ok = true;
    Field out;
    if (j_in % f.G == 0) {
      out = Field{rep(f, i), 0, j_in};
    } else if (f.G % j_in == 0) {
      out = Field{f.base, mul_chk(j_in, ceil_div(f.F, j_in), ok), f.G};
    } else {
      const int64_t g = std::gcd(f.G, j_in);
      out = Field{rep(f, i), 0, mul_chk(f.G / g, j_in, ok)};
    }
    out.F = add_chk(out.F, offset, ok);
    if (!ok) overflow(i, "the receptive field");
    return out;
  }

  AxisState step(int64_t i, int64_t k, int d, const AxisState& in) const {
    bool ok = true;
    AxisState s = in;
    if (k == WINDOW) {
      const int64_t kp = kprime(i, d);
      const int64_t grow = mul_chk(kp - 1, in.J, ok);
      s.lo.F = add_chk(in.lo.F, grow, ok);
      s.hi.F = add_chk(in.hi.F, grow, ok);
      s.J = mul_chk(in.J, param(b_.stride, i, d), ok);
      // (k'-1)/2 * J_in is exact: J is even in units of 1/U.
      s.C = add_chk(in.C, add_chk(grow / 2, -mul_chk(center_pad(i, d, kp), in.J, ok), ok), ok);
    } else if (k == TRANSPOSED) {
      const int64_t kp = kprime(i, d), st = param(b_.stride, i, d);
      s.J = in.J / st;
      const int64_t offset = mul_chk(kp - st, s.J, ok);
      s.lo = regrid(in.lo, in.J, offset, i);
      s.hi = regrid(in.hi, in.J, offset, i);
      const int64_t half = in.J / (2 * st);  // J_in / (2s), exact by choice of U
      s.C = add_chk(in.C, mul_chk(2 * center_pad(i, d, kp) - (kp - 1), half, ok), ok);
    } else if (k == RESIZE) {
      const Fraction f = frac_[i * D_ + d];
      if (f.p != f.q) {
        s.J = mul_chk(in.J / f.p, f.q, ok);
        // interpolation reads 2 (linear) or 4 (cubic) neighbours
        const uint8_t m = b_.mode[start_ + i];
        const int64_t extra = m == LINEAR ? in.J : (m == CUBIC ? mul_chk(3, in.J, ok) : 0);
        s.lo = regrid(in.lo, in.J, extra, i);
        s.hi = regrid(in.hi, in.J, extra, i);
        if (m != NEAREST) s.C = add_chk(in.C, mul_chk(f.q - f.p, in.J / (2 * f.p), ok), ok);
      }
    }  // IDENTITY: copy
    if (!ok) overflow(i, "the jump or receptive field");
    return s;
  }

  // base + F: the field before the rounding to the grid (saturated; only compared).
  static int64_t unrounded(const Field& f) { return add_sat(f.base, f.F); }

  uint8_t merge(int64_t i, bool is_global_node) {
    bool any_conn = false, any_global = false, ctx = false, aligned = true;
    int64_t first = -1, lo = -1, hi = -1;
    for (const int32_t* pp = preds_begin(i); pp != preds_end(i); ++pp) {
      const int64_t p = *pp - start_;
      const uint8_t fp = flags_[p];
      if (!(fp & kConnected)) continue;
      any_conn = true;
      ctx |= (fp & kGlobalContext) != 0;
      if (fp & kGlobal) {
        any_global = true;
        continue;
      }
      if (first < 0) {
        first = lo = hi = p;
        continue;
      }
      for (int d = 0; d < Dc_; ++d) {
        const AxisState &a = st_[p * D_ + d], &f = st_[first * D_ + d];
        if (a.J != f.J || a.C != f.C) aligned = false;
      }
      // Per-axis choice below; lo/hi here only mark that there are several.
    }
    if (!any_conn) return 0;
    if (is_global_node || first < 0) return kConnected | kGlobal | kAligned | (ctx ? kGlobalContext : 0);
    (void)lo;
    (void)hi;
    AxisState* s = &st_[i * D_];
    for (int d = 0; d < Dc_; ++d) {
      const AxisState& f = st_[first * D_ + d];
      s[d].J = f.J;
      s[d].C = f.C;
      int64_t best_lo = first, best_hi = first;
      int64_t rlo = rmin_[first * D_ + d], rhi = rmax_[first * D_ + d];
      for (const int32_t* pp = preds_begin(i); pp != preds_end(i); ++pp) {
        const int64_t p = *pp - start_;
        if ((flags_[p] & (kConnected | kGlobal)) != kConnected || p == first) continue;
        const int64_t a = rmin_[p * D_ + d], c = rmax_[p * D_ + d];
        // Ties go to the smaller base + F (the field before it is rounded up
        // to the grid) for rf_min and the larger for rf_max: on one grid,
        // that triple stays the smaller (larger) under every later window.
        if (a < rlo || (a == rlo && unrounded(st_[p * D_ + d].lo) < unrounded(st_[best_lo * D_ + d].lo))) {
          rlo = a;
          best_lo = p;
        }
        if (c > rhi || (c == rhi && unrounded(st_[p * D_ + d].hi) > unrounded(st_[best_hi * D_ + d].hi))) {
          rhi = c;
          best_hi = p;
        }
      }
      s[d].lo = st_[best_lo * D_ + d].lo;
      s[d].hi = st_[best_hi * D_ + d].hi;
    }
    return kConnected | (aligned ? kAligned : 0) | ((ctx || any_global) ? kGlobalContext : 0);
  }

  // dead(v): no graph output is reachable from v (docs/semantics.md). The
  // outputs are the nodes marked in `output`, or the graph's last node.
  // One backward sweep: a node is live when it is an output or feeds a live node.
  void mark_dead() {
    live_.resize(n_);
    for (int64_t i = 0; i < n_; ++i) live_[i] = b_.output ? b_.output[start_ + i] != 0 : i == n_ - 1;
    for (int64_t i = n_ - 1; i >= 0; --i) {
      if (!live_[i]) {
        flags_[i] |= kDead;
        continue;
      }
      for (const int32_t* p = preds_begin(i); p != preds_end(i); ++p) live_[*p - start_] = 1;
    }
  }

  void copy_axis0() {
    for (int64_t i = 0; i < n_; ++i) {
      for (int d = 1; d < D_; ++d) {
        st_[i * D_ + d] = st_[i * D_];
        rmin_[i * D_ + d] = rmin_[i * D_];
        rmax_[i * D_ + d] = rmax_[i * D_];
      }
    }
  }

  void write_node_fields() {
    if (!out_.node_rf_min) return;
    const double u = static_cast<double>(U_);
    for (int64_t i = 0; i < n_; ++i) {
      const int64_t v = start_ + i;
      const uint8_t fl = flags_[i];
      for (int d = 0; d < D_; ++d) {
        const size_t o = v * D_ + d, j = i * D_ + d;
        if (!(fl & kConnected)) {
          out_.node_rf_min[o] = out_.node_rf_max[o] = out_.node_jump[o] = out_.node_center[o] = kNaN;
        } else if (fl & kGlobal) {
          out_.node_rf_min[o] = out_.node_rf_max[o] = out_.node_jump[o] = kInf;
          out_.node_center[o] = kNaN;
        } else {
          out_.node_rf_min[o] = static_cast<double>(rmin_[j]) / u;
          out_.node_rf_max[o] = static_cast<double>(rmax_[j]) / u;
          out_.node_jump[o] = static_cast<double>(st_[j].J) / u;
          out_.node_center[o] = static_cast<double>(st_[j].C) / u;
        }
      }
      out_.node_connected[v] = (fl & kConnected) != 0;
      out_.node_global[v] = (fl & kGlobal) != 0;
      out_.node_global_context[v] = (fl & kGlobalContext) != 0;
      out_.node_aligned[v] = !(fl & kConnected) || (fl & kAligned) != 0;
      out_.node_params[v] = params_[i];
    }
  }

  int64_t params(int64_t i) const {
    const int64_t v = start_ + i;
    if (!b_.weighted[v] || !has(i, kConnected)) return 0;
    const int64_t ci = b_.c_in[v], co = b_.c_out[v], gr = b_.groups[v];
    if (ci <= 0 || co <= 0) return 0;
    const int64_t k = kind(i);
    int64_t p;
    if (k == WINDOW) {
      p = mul_sat(co, ci / gr);
    } else if (k == TRANSPOSED) {
      p = mul_sat(ci, co / gr);
    } else if (k == GLOBAL) {
      return mul_sat(ci, co);
    } else {
      return 0;
    }
    for (int d = 0; d < D_; ++d) p = mul_sat(p, param(b_.kernel, i, d));
    return p;
  }

  int64_t out_size(int64_t i, int d, int64_t n) const {
    return rfa::out_size(b_, start_ + i, d, has_resize_ ? frac_[i * D_ + d] : Fraction{}, n);
  }

  // Feature maps of node i on axes [d0, d1) from its inputs' maps.
  void fmap_node(int64_t i, int d0, int d1, const int64_t* I) {
    const int64_t k = kind(i);
    const uint8_t fl = flags_[i];
    int64_t* f = &fmap_[i * D_];
    if (!(fl & kConnected)) {
      for (int d = d0; d < d1; ++d) f[d] = 0;
    } else if (fl & kGlobal) {
      for (int d = d0; d < d1; ++d) f[d] = 1;
    } else if (k == INPUT) {
      for (int d = d0; d < d1; ++d) f[d] = I[d];
    } else if (k == MERGE) {
      for (int d = d0; d < d1; ++d) f[d] = 0;
      for (const int32_t* pp = preds_begin(i); pp != preds_end(i); ++pp) {
        const int64_t p = *pp - start_;
        if ((flags_[p] & (kConnected | kGlobal)) != kConnected) continue;
        for (int d = d0; d < d1; ++d) f[d] = std::max(f[d], fmap_[p * D_ + d]);
      }
    } else {
      const int64_t p = *preds_begin(i) - start_;
      for (int d = d0; d < d1; ++d) f[d] = out_size(i, d, fmap_[p * D_ + d]);
    }
  }

  bool exempt_1x1(int64_t i) const { return view_.exempt_1x1(i); }
  bool rated(int64_t i) const { return view_.rated(i); }

  // Rules (a) and (b) on axes [d0, d1), both required on every axis there.
  bool unproductive(int64_t i, int d0, int d1, const int64_t* I) const {
    const int64_t p = *preds_begin(i) - start_;
    bool a = true, bnd = true;
    for (int d = d0; d < d1; ++d) {
      const int64_t iu = I[d] * U_;
      a &= rmin_[p * D_ + d] >= iu && rmin_[i * D_ + d] > iu;
      bnd &= fmap_[p * D_ + d] <= kprime(i, d);
    }
    return a || bnd;
  }

  void evaluate_full(int64_t r) {
    const int64_t* I = res_ + r * D_;
    bool square = true;
    for (int d = 1; d < D_; ++d) square &= I[d] == I[0];
    // With every axis alike and a square input, axis 0 says it all.
    const int De = (iso_ && square) ? 1 : D_;
    int64_t n_unprod = 0, n_border = 0, n_crit = 0, n_part = 0, macs = 0, macs_unprod = 0, macs_dead = 0;
    for (int64_t i = 0; i < n_; ++i) {
      fmap_node(i, 0, De, I);
      const int64_t k = kind(i);
      const uint8_t fl = flags_[i];
      uint8_t status = 0;
      bool u = false;
      if (fl & kDead) {
        status = DEAD;  // computes nothing an output sees: no other status, not counted
      } else if ((fl & (kConnected | kGlobal)) == kConnected) {
        int n_over = 0;
        for (int d = 0; d < De; ++d) n_over += rmin_[i * D_ + d] > I[d] * U_;
        if (n_over == De) status |= CRITICAL;
        else if (n_over > 0) status |= PARTIALLY_CRITICAL;
        if (rated(i) && unproductive(i, 0, De, I)) {
          u = true;
          status |= UNPRODUCTIVE;
          bool ancestor = false;
          for (const int32_t* pp = preds_begin(i); pp != preds_end(i); ++pp) ancestor |= uflag_[*pp - start_] != 0;
          if (!ancestor) status |= BORDER;
        }
      }
      // uflag: is some nearest windowed node at or above i unproductive?
      // Skipped 1x1 nodes (ignore_1x1) are walked through like merges: they
      // neither start nor interrupt unproductiveness.
      if (is_windowed(k) && !exempt_1x1(i)) {
        uflag_[i] = u;
      } else if (k == MERGE || k == IDENTITY || k == RESIZE || is_windowed(k)) {
        uint8_t any = 0;
        for (const int32_t* pp = preds_begin(i); pp != preds_end(i); ++pp) any |= uflag_[*pp - start_];
        uflag_[i] = any;
      } else {
        uflag_[i] = 0;
      }
      int64_t m = 0;
      const int64_t pr = params_[i];
      if (pr) {
        m = pr;
        if (k == WINDOW)
          for (int d = 0; d < D_; ++d) m = mul_sat(m, fmap_[i * D_ + (d < De ? d : 0)]);
        else if (k == TRANSPOSED)
          for (int d = 0; d < D_; ++d) m = mul_sat(m, fmap_[(*preds_begin(i) - start_) * D_ + (d < De ? d : 0)]);
      }
      macs = add_sat(macs, m);
      if (fl & kDead) macs_dead = add_sat(macs_dead, m);
      if (u) {
        ++n_unprod;
        macs_unprod = add_sat(macs_unprod, m);
      }
      n_border += (status & BORDER) != 0;
      n_crit += (status & CRITICAL) != 0;
      n_part += (status & PARTIALLY_CRITICAL) != 0;
      if (out_.node_status) {
        const int64_t v = start_ + i;
        out_.node_status[r * b_.N + v] = status;
        out_.node_macs[r * b_.N + v] = m;
        for (int d = 0; d < D_; ++d) out_.node_fmap[(r * b_.N + v) * D_ + d] = fmap_[i * D_ + (d < De ? d : 0)];
      }
    }
    const int64_t o = g_ * R_ + r;
    out_.n_unproductive[o] = n_unprod;
    out_.n_border[o] = n_border;
    out_.n_critical[o] = n_crit;
    out_.n_partially_critical[o] = n_part;
    out_.macs[o] = macs;
    out_.macs_unproductive[o] = macs_unprod;
    out_.macs_dead[o] = macs_dead;
  }

  // The monotone predicate behind I_min: is some node unproductive at I?
  // axis < 0: the square resolution, rules on every axis; else axis alone.
  bool any_unproductive(int64_t I, int axis) {
    int64_t Iv[3] = {I, I, I};
    const int d0 = axis < 0 ? 0 : axis, d1 = axis < 0 ? D_ : axis + 1;
    for (int64_t i = 0; i < n_; ++i) {
      fmap_node(i, d0, d1, Iv);
      if (rated(i) && unproductive(i, d0, d1, Iv)) return true;
    }
    return false;
  }

  // Every I up to this is unproductive by rule (a) alone: a cheap lower
  // bracket for the bisection.
  int64_t rule_a_bound(int axis) const {
    const int d0 = axis < 0 ? 0 : axis, d1 = axis < 0 ? D_ : axis + 1;
    int64_t best = 0;
    for (int64_t i = 0; i < n_; ++i) {
      if (!rated(i)) continue;
      const int64_t p = *preds_begin(i) - start_;
      int64_t t = kMaxResolution;
      for (int d = d0; d < d1; ++d) {
        // a holds for I*U <= rmin_p and I*U < rmin_i
        const int64_t tp = floor_div(rmin_[p * D_ + d], U_);
        const int64_t ti = ceil_div(rmin_[i * D_ + d], U_) - 1;
        t = std::min(t, std::min(tp, ti));
      }
      best = std::max(best, t);
    }
    return std::min(best, kMaxResolution);
  }

  // Linear bounds on every feature map: (I - lo_off)/J <= fmap <= (I - up_off)/J
  // (J the jump in pixels). They bracket I_min so the bisection starts
  // within a few jumps of the answer instead of galloping from 1; the
  // bracket is checked by two probes, so the bounds never decide a result.
  void linear_bounds() {
    lo_off_.assign(static_cast<size_t>(n_) * D_, 0.0);
    up_off_.assign(static_cast<size_t>(n_) * D_, 0.0);
    const double u = static_cast<double>(U_);
    for (int64_t i = 0; i < n_; ++i) {
      if ((flags_[i] & (kConnected | kGlobal)) != kConnected) continue;
      const int64_t k = kind(i);
      if (k == INPUT) continue;
      const int64_t v = start_ + i;
      for (int d = 0; d < Dc_; ++d) {
        double& lo = lo_off_[i * D_ + d];
        double& up = up_off_[i * D_ + d];
        if (k == MERGE) {
          bool first = true;
          for (const int32_t* pp = preds_begin(i); pp != preds_end(i); ++pp) {
            const int64_t p = *pp - start_;
            if ((flags_[p] & (kConnected | kGlobal)) != kConnected) continue;
            if (first) {
              lo = lo_off_[p * D_ + d];
              up = up_off_[p * D_ + d];
              first = false;
            } else if (st_[p * D_ + d].J == st_[i * D_ + d].J) {
              up = std::min(up, up_off_[p * D_ + d]);
            } else {
              up = -kInf;  // maps on different grids: no linear upper bound
            }
          }
          continue;
        }
        const int64_t p = *preds_begin(i) - start_;
        const double jp = static_cast<double>(st_[p * D_ + d].J) / u;
        lo = lo_off_[p * D_ + d];
        up = up_off_[p * D_ + d];
        if (k == WINDOW) {
          const double kp = static_cast<double>(kprime(i, d)), s = static_cast<double>(param(b_.stride, i, d));
          const uint8_t pm = b_.pad_mode[v];
          if (pm == SAME_UPPER || pm == SAME_LOWER) {
            up -= (s - 1) * jp;
          } else {
            const double P = pm == VALID ? 0.0 : static_cast<double>(param(b_.pad_begin, i, d) + param(b_.pad_end, i, d));
            lo += (kp - P - 1) * jp;
            up += (kp - P - ((b_.ceil_mode[v] && pm != VALID) ? 2 * s : s)) * jp;
          }
        } else if (k == TRANSPOSED) {
          const double kp = static_cast<double>(kprime(i, d)), s = static_cast<double>(param(b_.stride, i, d));
          const uint8_t pm = b_.pad_mode[v];
          if (pm != SAME_UPPER && pm != SAME_LOWER) {
            const double P = pm == VALID ? 0.0 : static_cast<double>(param(b_.pad_begin, i, d) + param(b_.pad_end, i, d));
            lo += (s + P - kp) * jp / s;
            up += (s + P - kp) * jp / s;
          }
        } else if (k == RESIZE) {
          const Fraction f = frac_[i * D_ + d];
          if (f.p != f.q) lo += static_cast<double>(st_[i * D_ + d].J) / u;
        }
      }
    }
  }

  // [lo, hi]: unproductive at lo (or lo == 0), none unproductive at hi.
  bool bracket(int axis, int64_t& lo_out, int64_t& hi_out) {
    const int d0 = axis < 0 ? 0 : axis, d1 = axis < 0 ? D_ : axis + 1;
    const double u = static_cast<double>(U_);
    double lo = 0, hi = 1;
    for (int64_t i = 0; i < n_; ++i) {
      if (!rated(i)) continue;
      const int64_t p = *preds_begin(i) - start_;
      double ha = kInf, hb = kInf, la = kInf, lb = kInf;
      for (int d = d0; d < d1; ++d) {
        const double a = static_cast<double>(std::min(floor_div(rmin_[p * D_ + d], U_),
                                                      ceil_div(rmin_[i * D_ + d], U_) - 1));
        const double kj = static_cast<double>(kprime(i, d)) * static_cast<double>(st_[p * D_ + d].J) / u;
        ha = std::min(ha, a);
        la = std::min(la, a);
        hb = std::min(hb, lo_off_[p * D_ + d] + kj);
        lb = std::min(lb, up_off_[p * D_ + d] + kj);
      }
      hi = std::max(hi, std::max(ha, std::floor(hb + 1e-6)) + 1);
      lo = std::max(lo, std::max(la, std::floor(lb - 1e-6)));
    }
    if (!(hi <= static_cast<double>(kMaxResolution))) return false;
    lo_out = static_cast<int64_t>(std::max(0.0, std::min(lo, hi - 1)));
    hi_out = static_cast<int64_t>(hi);
    if (lo_out >= 1 && !any_unproductive(lo_out, axis)) return false;
    if (any_unproductive(hi_out, axis)) return false;
    return true;
  }

  double i_min(int axis) {
    int64_t lo = 0, hi = 0;
    if (!bracket(axis, lo, hi)) {
      lo = rule_a_bound(axis);  // unproductive at lo (or lo == 0)
      hi = std::max<int64_t>(1, lo * 2);
      while (any_unproductive(hi, axis)) {
        lo = hi;
        if (hi >= kMaxResolution) return kInf;
        hi = std::min(hi * 2, kMaxResolution);
      }
    }
    while (hi - lo > 1) {
      const int64_t mid = lo + (hi - lo) / 2;
      if (any_unproductive(mid, axis)) lo = mid;
      else hi = mid;
    }
    return static_cast<double>(hi);
  }

  bool isotropic() const {
    if (D_ == 1) return true;
    for (int64_t i = 0; i < n_; ++i) {
      const int64_t v = start_ + i;
      for (int d = 1; d < D_; ++d) {
        const int64_t a = v * D_, c = v * D_ + d;
        if (b_.kernel[a] != b_.kernel[c] || b_.stride[a] != b_.stride[c] || b_.dilation[a] != b_.dilation[c] ||
            b_.pad_begin[a] != b_.pad_begin[c] || b_.pad_end[a] != b_.pad_end[c] || b_.scale[a] != b_.scale[c])
          return false;
      }
    }
    return true;
  }

  void write_graph_summary(bool thresholds) {
    const bool conn = has(n_ - 1, kConnected);
    out_.connected[g_] = conn;
    bool aligned = true;
    int64_t total_params = 0;
    for (int64_t i = 0; i < n_; ++i) {
      if (has(i, kConnected) && !has(i, kAligned)) aligned = false;
      total_params = add_sat(total_params, params_[i]);
    }
    out_.aligned[g_] = aligned;
    out_.params[g_] = total_params;
    int64_t n_dead = 0;
    for (int64_t i = 0; i < n_; ++i)  // dead convolutions and pools (connected WINDOW/TRANSPOSED nodes)
      n_dead += (flags_[i] & (kConnected | kDead)) == (kConnected | kDead) && is_windowed(kind(i));
    out_.n_dead[g_] = n_dead;
    double imax_all = kNaN;
    for (int d = 0; d < D_; ++d) {
      int64_t rf = -1, win = -1;
      for (int64_t i = 0; i < n_; ++i) {
        if ((flags_[i] & (kConnected | kGlobal | kDead)) != kConnected) continue;  // live spatial nodes
        const int64_t x = rmax_[i * D_ + d];
        rf = std::max(rf, x);
        if (is_windowed(kind(i))) win = std::max(win, x);
      }
      const double u = static_cast<double>(U_);
      out_.rf_max[g_ * D_ + d] = rf < 0 ? kNaN : static_cast<double>(rf) / u;
      const double im = win < 0 ? kNaN : static_cast<double>(win) / u;
      out_.i_max_axes[g_ * D_ + d] = im;
      if (!std::isnan(im) && (std::isnan(imax_all) || im > imax_all)) imax_all = im;
    }
    out_.i_max[g_] = imax_all;
    if (!opt_.i_min || !conn) {
      out_.i_min[g_] = kNaN;
      for (int d = 0; d < D_; ++d) out_.i_min_axes[g_ * D_ + d] = kNaN;
      return;
    }
    if (thresholds) {
      out_.i_min[g_] = thresholds_.i_min();
      for (int d = 0; d < D_; ++d) out_.i_min_axes[g_ * D_ + d] = thresholds_.i_min_axis(d);
      return;
    }
    linear_bounds();
    // Every axis alike: the square rules are the rules of axis 0.
    const bool iso = iso_;
    const double sq = i_min(iso ? 0 : -1);
    out_.i_min[g_] = sq;
    for (int d = 0; d < D_; ++d) out_.i_min_axes[g_ * D_ + d] = iso ? sq : i_min(d);
  }
};

}  // namespace

void analyze(const Batch& b, const int64_t* res, int64_t R, const Options& opt, const Outputs& out) {
  const int threads = resolve_threads(opt.threads);
  parallel_chunks(b.B, b.graph_ptr, threads, [&](int64_t g0, int64_t g1, int) {
    // Reused on this thread unless a large graph grew it (then freed, so a
    // huge analysis does not pin its memory for the rest of the process).
    thread_local WorkerScratch scratch;
    int64_t largest = 0;
    for (int64_t g = g0; g < g1; ++g) largest = std::max(largest, b.graph_ptr[g + 1] - b.graph_ptr[g]);
    struct Release {  // also when a graph throws
      WorkerScratch& s;
      bool big;
      ~Release() {
        if (big) s = WorkerScratch();
      }
    } release{scratch, largest > kKeepScratchNodes};
    GraphWorker w(b, res, R, opt, out, scratch);
    for (int64_t g = g0; g < g1; ++g) w.run(g);
  });
}

}  // namespace rfa
