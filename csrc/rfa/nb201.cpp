#include "nb201.hpp"

#include <algorithm>
#include <limits>
#include <string>
#include <vector>

#include "arith.hpp"
#include "parallel.hpp"

namespace rfa {
namespace {

constexpr uint8_t kNone = 0, kSkip = 1, kConv1 = 2, kConv3 = 3, kPool = 4;
constexpr int kEdgeTo[6] = {1, 2, 2, 3, 3, 3}, kEdgeFrom[6] = {0, 0, 1, 0, 1, 2};
constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

// Feature-map classes of the skeleton: the input size, then per reduction
// its conv branch (3x3/2, pad 1), its pool branch (2x2/2) and their sum;
// ONE is the 1x1 map after global pooling (the classifier's).
enum Cls : int { S0 = 0, CA0, PL0, S1, CA1, PL1, S2, ONE, kClasses };

int64_t conv_a(int64_t n) { return n <= 0 ? 0 : (n - 1) / 2 + 1; }  // floor((n + 2 - 3)/2) + 1
int64_t pool_2(int64_t n) { return n < 2 ? 0 : (n - 2) / 2 + 1; }    // floor((n - 2)/2) + 1

// The smallest I with map(c, I) >= m (m >= 1), inverting the classes back
// to the input: conv_a(n) >= m <=> n >= 2m - 1, pool_2(n) >= m <=> n >= 2m,
// and a sum takes the smaller of its branches.
int64_t inverse(int c, int64_t m) {
  switch (c) {
    case S0: return m;
    case CA0: return 2 * m - 1;
    case PL0: return 2 * m;
    case S1: return 2 * m - 1;
    case CA1: return 4 * m - 3;
    case PL1: return 4 * m - 1;
    default: return 4 * m - 3;  // S2
  }
}

// One node: connected, rf_min, rf_max (px), the largest T of the nearest
// windowed nodes at or above. No default initializers: an array of them
// would be zeroed on every cell; State{} is all zero where that is meant.
struct State {
  int64_t conn;  // not a bool: copies of a uniform struct avoid store-forwarding stalls
  int64_t lo, hi, uT;
};

class Walker {
 public:
  Walker(const Nb201& n, const int64_t* res, int64_t R, const Options& opt, const Outputs& out,
         const std::vector<int64_t>& area)
      : n_(n), res_(res), R_(R), opt_(opt), out_(out), area_(area) {
    const size_t windows = 1 + 8 + 18 * static_cast<size_t>(n.cells_per_stage);  // stem, reductions, 6 per cell
    const size_t nodes = 2 + 10 + 27 * static_cast<size_t>(n.cells_per_stage);   // at most, in all
    crit_lo_.resize(nodes);
    win_T_.resize(windows);
    win_A_.resize(windows);
    win_p_.resize(windows);
    win_cls_.resize(windows);
  }

  void run(int64_t b) {
    const uint8_t* ops = n_.ops + b * 6;
    n_crit_ = n_win_ = 0;
    for (int c = 0; c < kClasses; ++c) cls_params_[c] = 0;
    for (int j = 1; j <= 3; ++j) n_in_[j] = 0;
    for (int e = 0; e < 6; ++e) {
      if (ops[e] == kNone) continue;
      const int j = kEdgeTo[e];
      in_src_[j][n_in_[j]] = static_cast<uint8_t>(kEdgeFrom[e]);
      in_op_[j][n_in_[j]++] = ops[e];
    }
    // Dead nodes (docs/semantics.md): node j of a cell is live when it reaches
    // node 3 through edges that are not none. A cell whose input does not
    // reach its output (a disconnected network) cuts every node before the
    // last cell's from the classifier: all of them are dead, and every
    // connected node of the last cell too (one reached from the input and
    // reaching the output would connect it).
    reach_[3] = 1;
    reach_[2] = ops[5] != kNone;
    reach_[1] = ops[4] != kNone || (ops[2] != kNone && reach_[2]);
    reach_[0] = ops[3] != kNone || (ops[1] != kNone && reach_[2]) || (ops[0] != kNone && reach_[1]);
    all_dead_ = !reach_[0] && n_.cells_per_stage > 0;  // no cells: the skeleton alone, always connected
    n_dead_ = 0;
    for (int c = 0; c < kClasses; ++c) dead_params_[c] = 0;
    params_ = 0;
    i_min_ = 1;
    i_max_ = 0;
    rf_max_ = 1;
    State x{1, 1, 1, 0};  // the input; never critical (rf 1 <= I)
    x = window(x, 3, 1, true, 3, n_.channels[0], S0, S0);  // stem
    const int stage_cls[3] = {S0, S1, S2};
    int64_t J = 1, c_prev = n_.channels[0];
    for (int s = 0; s < 3; ++s) {
      const int64_t c = n_.channels[s];
      if (s > 0) {  // residual reduction block, stride 2
        const int in = stage_cls[s - 1], ca = s == 1 ? CA0 : CA1, pl = s == 1 ? PL0 : PL1;
        State a = window(x, 3, J, true, c_prev, c, in, ca);
        a = window(a, 3, 2 * J, true, c, c, ca, ca);
        State p = window(x, 2, J, false, 0, 0, in, pl);
        p = window(p, 1, 2 * J, true, c_prev, c, pl, pl);
        x = merge({a, p});
        J *= 2;
      }
      for (int64_t k = 0; k < n_.cells_per_stage; ++k) x = cell(x, J, c, stage_cls[s]);
      c_prev = c;
    }
    // global pooling and the classifier: global, never rated; the dense layer costs c_in * c_out on a 1x1 map
    if (x.conn) {
      const int64_t p = mul_sat(c_prev, n_.num_classes);
      params_ = add_sat(params_, p);
      cls_params_[ONE] = add_sat(cls_params_[ONE], p);
    }
    count(b);
    out_.connected[b] = x.conn != 0;
    // The reduction's shortcut (2x2 pool) shifts the center by half a step: misaligned once it is reached.
    out_.aligned[b] = x.conn == 0;
    out_.params[b] = params_;
    const double i_min = x.conn && opt_.i_min ? static_cast<double>(i_min_) : kNaN;
    out_.i_min[b] = i_min;
    // no live node at all when every node is dead (the input included)
    const double i_max = all_dead_ ? kNaN : static_cast<double>(i_max_);
    const double rf_max = all_dead_ ? kNaN : static_cast<double>(rf_max_);
    out_.i_max[b] = i_max;
    out_.n_dead[b] = n_dead_;
    for (int d = 0; d < 2; ++d) {
      out_.i_min_axes[b * 2 + d] = i_min;
      out_.i_max_axes[b * 2 + d] = i_max;
      out_.rf_max[b * 2 + d] = rf_max;
    }
  }

 private:
  const Nb201& n_;
  const int64_t* res_;
  const int64_t R_;
  const Options& opt_;
  const Outputs& out_;
  const std::vector<int64_t>& area_;  // [R * kClasses]: the map area of each class at each resolution
  int64_t params_ = 0, i_min_ = 1, i_max_ = 0, rf_max_ = 1;

  // Every node is first recorded; the counts at each resolution are tight
  // loops over these short arrays at the end (no resolution loop per node).
  // Sized once for the largest network of the skeleton; filled by index.
  std::vector<int64_t> crit_lo_;                // rf_min of every connected spatial node
  std::vector<int64_t> win_T_, win_A_, win_p_;  // windows: T (0: not rated), A, parameters
  std::vector<int32_t> win_cls_;                // windows: the class of their output map
  size_t n_crit_ = 0, n_win_ = 0;
  int64_t cls_params_[kClasses] = {};  // parameters of the windows whose output is in each class
  int64_t dead_params_[kClasses] = {};  // the same, of the dead windows only
  int64_t n_dead_ = 0;                  // dead connected windows
  bool all_dead_ = false;               // the network is disconnected: every node is dead
  uint8_t reach_[4] = {};               // node j of the cell reaches node 3 (not through none edges)
  // The cell of this candidate as a program: per node j, its incoming edges (source, op), none left out.
  int n_in_[4] = {0, 0, 0, 0};
  uint8_t in_src_[4][3] = {}, in_op_[4][3] = {};

  void critical(int64_t lo) {
    rf_max_ = std::max(rf_max_, lo);
    crit_lo_[n_crit_++] = lo;
  }

  void count(int64_t b) {
    const size_t nw = n_win_, nc = n_crit_;
    for (int64_t r = 0; r < R_; ++r) {
      const int64_t I = res_[r];
      const int64_t* area = &area_[r * kClasses];
      int64_t nu = 0, nb = 0, crit = 0;
      // MACs are parameters times the area of the output's class: sum the
      // parameters per class, multiply once per class.
      int64_t unprod_params[kClasses] = {};
      for (size_t i = 0; i < nc; ++i) crit += I < crit_lo_[i];
      for (size_t i = 0; i < nw; ++i) {
        const bool u = I < win_T_[i];
        nu += u;
        nb += u && win_A_[i] <= I;
        if (u) unprod_params[win_cls_[i]] = add_sat(unprod_params[win_cls_[i]], win_p_[i]);
      }
      int64_t macs = 0, macs_u = 0, macs_d = 0;
      for (int c = 0; c < kClasses; ++c) {
        macs = add_sat(macs, mul_sat(cls_params_[c], area[c]));
        macs_u = add_sat(macs_u, mul_sat(unprod_params[c], area[c]));
        macs_d = add_sat(macs_d, mul_sat(dead_params_[c], area[c]));
      }
      const int64_t o = b * R_ + r;
      out_.n_unproductive[o] = nu;
      out_.n_border[o] = nb;
      out_.n_critical[o] = crit;
      out_.n_partially_critical[o] = 0;  // every axis alike
      out_.macs[o] = macs;
      out_.macs_unproductive[o] = macs_u;
      out_.macs_dead[o] = macs_d;
    }
  }

  // A window of k x k (stride and padding only change the class of its
  // map) on input x, whose jump is J px; dead: no output is reachable from it.
  State window(const State& x, int64_t k, int64_t J, bool weighted, int64_t c_in, int64_t c_out, int in_cls,
               int out_cls, bool dead = false) {
    if (!x.conn) return State{};
    State y{1, x.lo + (k - 1) * J, x.hi + (k - 1) * J, x.uT};
    if (dead || all_dead_) {  // counted apart: its cost, nothing else
      const int64_t p = weighted ? mul_sat(mul_sat(c_out, c_in), k * k) : 0;
      params_ = add_sat(params_, p);
      cls_params_[out_cls] = add_sat(cls_params_[out_cls], p);
      dead_params_[out_cls] = add_sat(dead_params_[out_cls], p);
      ++n_dead_;
      return y;
    }
    critical(y.lo);
    rf_max_ = std::max(rf_max_, y.hi);
    i_max_ = std::max(i_max_, y.hi);
    const bool rated = !(opt_.ignore_1x1 && k == 1);
    int64_t T = 0;
    if (rated) {
      // (a) I <= rf_min(x) and I < rf_min(y); (b) the input map is at most k on a side
      T = std::max(std::min(x.lo + 1, y.lo), inverse(in_cls, k + 1));
      i_min_ = std::max(i_min_, T);
      y.uT = T;
    }
    const int64_t p = weighted ? mul_sat(mul_sat(c_out, c_in), k * k) : 0;
    params_ = add_sat(params_, p);
    cls_params_[out_cls] = add_sat(cls_params_[out_cls], p);
    win_T_[n_win_] = T;  // T = 0: never unproductive
    win_A_[n_win_] = x.uT;
    win_p_[n_win_] = p;
    win_cls_[n_win_++] = out_cls;
    return y;
  }

  // One input s joins the sum y: rf_min and rf_max over the connected
  // inputs, the border walk over all of them.
  static void join(State& y, const State& s) {
    y.uT = std::max(y.uT, s.uT);
    if (!s.conn) return;
    y.lo = y.conn ? std::min(y.lo, s.lo) : s.lo;
    y.hi = y.conn ? std::max(y.hi, s.hi) : s.hi;
    y.conn = 1;
  }

  State merge(std::initializer_list<State> ins) {
    State y{};
    for (const State& s : ins) join(y, s);
    if (y.conn && !all_dead_) critical(y.lo);
    return y;
  }

  State cell(const State& in, int64_t J, int64_t c, int cls) {
    State node[4];  // each assigned before it is read
    node[0] = in;
    for (int j = 1; j <= 3; ++j) {
      State y{};
      for (int e = 0; e < n_in_[j]; ++e) {
        const State& src = node[in_src_[j][e]];
        const uint8_t op = in_op_[j][e];
        State s;  // assigned on every branch
        if (op == kSkip) s = src;
        else if (op == kPool) s = window(src, 3, J, false, 0, 0, cls, cls, !reach_[j]);
        else s = window(src, op == kConv1 ? 1 : 3, J, true, c, c, cls, cls, !reach_[j]);
        join(y, s);
      }
      if (y.conn && reach_[j] && !all_dead_) critical(y.lo);
      node[j] = y;
    }
    return node[3];
  }
};

}  // namespace

void screen_nb201(const Nb201& n, const int64_t* res, int64_t R, const Options& opt, const Outputs& out) {
  for (int64_t i = 0; i < n.B * 6; ++i)
    if (n.ops[i] > kPool)
      throw BatchError(i / 6, -1, "cell " + std::to_string(i / 6) + ", edge " + std::to_string(i % 6) + ": op " +
                                      std::to_string(n.ops[i]) + " is not 0..4");
  // The map area of every class at every resolution, shared by all cells.
  std::vector<int64_t> area(static_cast<size_t>(R) * kClasses);
  for (int64_t r = 0; r < R; ++r) {
    int64_t s[kClasses];
    s[S0] = res[r];
    s[CA0] = conv_a(s[S0]);
    s[PL0] = pool_2(s[S0]);
    s[S1] = std::max(s[CA0], s[PL0]);
    s[CA1] = conv_a(s[S1]);
    s[PL1] = pool_2(s[S1]);
    s[S2] = std::max(s[CA1], s[PL1]);
    s[ONE] = 1;
    for (int c = 0; c < kClasses; ++c) area[r * kClasses + c] = mul_sat(s[c], s[c]);
  }
  parallel_chunks(
      n.B, nullptr, resolve_threads(opt.threads),
      [&](int64_t b0, int64_t b1, int) {
        Walker w(n, res, R, opt, out, area);
        for (int64_t b = b0; b < b1; ++b) w.run(b);
      },
      n.B * 100);
}

}  // namespace rfa
