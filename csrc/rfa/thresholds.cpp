#include "thresholds.hpp"

#include <algorithm>
#include <limits>

#include "sizes.hpp"

namespace rfa {

namespace {

constexpr int64_t kNever = kMaxResolution + 1;  // "unproductive at every resolution up to 2^30"
constexpr int32_t kZeroClass = 0, kOneClass = 1, kInputClass = 2;
constexpr int kMaxMergeDepth = 200;

int64_t clamp_res(int64_t t) { return std::min(t, kNever); }

}  // namespace

double Thresholds::as_resolution(int64_t t) {
  return t > kMaxResolution ? std::numeric_limits<double>::infinity() : static_cast<double>(std::max<int64_t>(t, 1));
}

// Layers with the same size rule on the same class (a strided conv and its
// projection shortcut) share a class, so their merge is not a new one.
int32_t Thresholds::op_class(int32_t parent, int64_t i) {
  const int Dc = v_.Dc;
  SizeRule rule[3];
  for (int d = 0; d < Dc; ++d) rule[d] = size_rule(*v_.b, v_.start + i, d, v_.factor(i, d));
  for (int32_t c = cls_[parent].first_child; c >= 0; c = cls_[c].next_sibling) {
    --budget_;
    if (cls_[c].node >= 0 && std::equal(rule, rule + Dc, rules_.begin() + c * Dc)) return c;
  }
  Class k{};
  k.node = i;
  k.parent = parent;
  k.next_sibling = cls_[parent].first_child;
  cls_.push_back(k);
  const auto id = static_cast<int32_t>(cls_.size() - 1);
  cls_[parent].first_child = id;
  rules_.insert(rules_.end(), rule, rule + Dc);
  return id;
}

// parents: sorted, distinct, at least two. Filed under its first parent.
int32_t Thresholds::merge_class(std::vector<int32_t>& parents) {
  const int32_t head = parents[0];
  const auto np = static_cast<int32_t>(parents.size());
  for (int32_t c = cls_[head].first_child; c >= 0; c = cls_[c].next_sibling) {
    const Class& k = cls_[c];
    budget_ -= np;
    if (k.node < 0 && k.pend - k.pbegin == np &&
        std::equal(parents.begin(), parents.end(), merge_parents_.begin() + k.pbegin))
      return c;
  }
  Class k{};
  k.node = -1;
  k.parent = -1;
  k.pbegin = static_cast<int32_t>(merge_parents_.size());
  merge_parents_.insert(merge_parents_.end(), parents.begin(), parents.end());
  k.pend = static_cast<int32_t>(merge_parents_.size());
  k.next_sibling = cls_[head].first_child;
  cls_.push_back(k);
  const auto id = static_cast<int32_t>(cls_.size() - 1);
  cls_[head].first_child = id;
  rules_.resize(cls_.size() * v_.Dc);
  return id;
}

bool Thresholds::recall(int32_t c, int d, int64_t m, int64_t& I) const {
  const Class& k = cls_[c];
  for (int e = 0; e < kMemo; ++e)
    if (k.memo_d[e] == d && k.memo_m[e] == m) {
      I = k.memo_I[e];
      return true;
    }
  return false;
}

void Thresholds::remember(int32_t c, int d, int64_t m, int64_t I) {
  Class& k = cls_[c];
  const int slot = k.memo_next;
  k.memo_d[slot] = static_cast<int8_t>(d);
  k.memo_m[slot] = m;
  k.memo_I[slot] = I;
  k.memo_next = static_cast<uint8_t>((slot + 1) % kMemo);
}

// inverse() for rule (b) of a node whose input is in class c: the layers of
// one class ask the same question (k' + 1 for the same k'), so the answer is
// kept at the class.
int64_t Thresholds::query(int32_t c, int d, int64_t m) {
  int64_t I;
  if (c > kInputClass && recall(c, d, m, I)) return I;
  I = inverse(c, d, m, 0);
  if (c > kInputClass && !aborted_) remember(c, d, m, I);
  return I;
}

// The smallest resolution I >= 1 at which class c's map on axis d is at
// least m (kNoSize: none). Op classes are inverted in a loop back to their
// merge class or the input; merge classes take the least over their parents
// and remember recent answers, so shared ancestry is not walked twice.
int64_t Thresholds::inverse(int32_t c, int d, int64_t m, int depth) {
  for (;;) {
    if (m <= 0) return 1;  // every map is at least 0
    if (--budget_ < 0) {
      aborted_ = true;
      return kNoSize;
    }
    if (c == kZeroClass) return kNoSize;
    if (c == kOneClass) return m == 1 ? 1 : kNoSize;
    if (c == kInputClass) return m;
    Class& k = cls_[c];
    if (k.node >= 0) {
      m = min_in_size(rules_[c * v_.Dc + d], m);
      if (m == kNoSize) return kNoSize;
      c = k.parent;
      continue;
    }
    int64_t known;
    if (recall(c, d, m, known)) return known;
    if (depth >= kMaxMergeDepth) {
      aborted_ = true;
      return kNoSize;
    }
    int64_t best = kNoSize;
    for (int32_t e = k.pbegin; e < k.pend; ++e) {
      best = std::min(best, inverse(merge_parents_[e], d, m, depth + 1));
      if (aborted_) return kNoSize;
    }
    remember(c, d, m, best);
    return best;
  }
}

bool Thresholds::build(const GraphView& v, const int64_t* params) {
  v_ = v;
  const int64_t n = v.n, U = v.U;
  const int Dc = v.Dc;
  const int64_t E = v.b->pred_ptr[v.start + n] - v.b->pred_ptr[v.start];
  // U is 2 without upsampling, and a power of two for most upsamplings:
  // shifts instead of 64-bit divisions, which would dominate this loop.
  const int sh = (U & (U - 1)) == 0 ? __builtin_ctzll(static_cast<unsigned long long>(U)) : -1;
  auto floor_u = [&](int64_t x) { return sh >= 0 ? (x >> sh) : floor_div(x, U); };
  auto ceil_u = [&](int64_t x) { return sh >= 0 ? -((-x) >> sh) : ceil_div(x, U); };
  budget_ = 256 + 16 * (n + E);
  aborted_ = false;
  cls_.assign(3, Class{-1, -1, 0, 0});
  rules_.assign(3 * Dc, SizeRule{});
  merge_parents_.clear();
  node_cls_.resize(n);
  uT_.resize(n);
  rated_T_.clear();
  rated_A_.clear();
  tc_min_.clear();
  tc_max_.clear();
  costly_cls_.clear();
  costly_rated_.clear();
  costly_params_.clear();
  i_min_ = 1;
  for (int d = 0; d < 3; ++d) i_min_ax_[d] = 1;

  for (int64_t i = 0; i < n; ++i) {
    const uint8_t fl = v.flags[i], k = v.kind(i);
    int32_t c;
    if (!(fl & kConnected)) {
      c = kZeroClass;
    } else if (fl & kGlobal) {
      c = kOneClass;
    } else if (k == INPUT) {
      c = kInputClass;
    } else if (k == MERGE) {
      tmp_.clear();
      for (const int32_t* pp = v.preds_begin(i); pp != v.preds_end(i); ++pp)
        if (v.spatial(*pp - v.start)) tmp_.push_back(node_cls_[*pp - v.start]);
      std::sort(tmp_.begin(), tmp_.end());
      tmp_.erase(std::unique(tmp_.begin(), tmp_.end()), tmp_.end());
      c = tmp_.size() == 1 ? tmp_[0] : merge_class(tmp_);
    } else {
      const int32_t cp = node_cls_[v.first_pred(i)];
      bool keep = true;
      for (int d = 0; d < Dc && keep; ++d) keep = preserves_size(*v.b, v.start + i, d, v.factor(i, d));
      c = keep ? cp : op_class(cp, i);
    }
    node_cls_[i] = c;

    if (v.spatial(i) && !(fl & kDead)) {
      int64_t lo = kInt64Max, hi = 0;
      for (int d = 0; d < Dc; ++d) {
        const int64_t t = ceil_u(v.rmin[i * v.D + d]);
        lo = std::min(lo, t);
        hi = std::max(hi, t);
      }
      tc_min_.push_back(clamp_res(lo));
      tc_max_.push_back(clamp_res(hi));
    }

    int64_t up = 0;  // the largest T among the nearest windowed ancestors
    for (const int32_t* pp = v.preds_begin(i); pp != v.preds_end(i); ++pp) up = std::max(up, uT_[*pp - v.start]);
    if (v.rated(i)) {
      const int64_t p = v.first_pred(i);
      int64_t ta = kNever, tb = kNever;
      for (int d = 0; d < Dc; ++d) {
        // (a): I*U <= rf_min(p) and I*U < rf_min(i); (b): map(p) <= k'
        const int64_t a = std::min(floor_u(v.rmin[p * v.D + d]) + 1, ceil_u(v.rmin[i * v.D + d]));
        const int64_t bb = clamp_res(query(node_cls_[p], d, v.kprime(i, d) + 1));
        if (aborted_) return false;
        ta = std::min(ta, clamp_res(a));
        tb = std::min(tb, bb);
        i_min_ax_[d] = std::max(i_min_ax_[d], std::max(clamp_res(a), bb));
      }
      const int64_t T = std::max(ta, tb);
      i_min_ = std::max(i_min_, T);
      // parallel scalar vectors: pushing a 16-byte struct stalls on store forwarding
      rated_T_.push_back(T);
      rated_A_.push_back(up);
      uT_[i] = T;
    } else if (v.passes_uflag(i)) {
      uT_[i] = up;
    } else {
      uT_[i] = 0;
    }

    const int64_t pr = params ? params[i] : 0;
    if (pr > 0) {
      const int32_t mc = k == WINDOW ? c : (k == TRANSPOSED ? node_cls_[v.first_pred(i)] : kOneClass);
      costly_cls_.push_back(mc);
      // -2: a dead node (its MACs are macs_dead); -1: not rated; else its rated index
      costly_rated_.push_back((fl & kDead) ? -2 : v.rated(i) ? static_cast<int32_t>(rated_T_.size() - 1) : -1);
      costly_params_.push_back(pr);
    }
  }
  if (budget_ < 0) return false;
  // Parameters per class: the total MACs at I are sum_c W_c * |map of c at I|.
  W_.assign(cls_.size(), 0);
  dead_W_.assign(cls_.size(), 0);
  for (size_t j = 0; j < costly_cls_.size(); ++j) {
    W_[costly_cls_[j]] = add_sat(W_[costly_cls_[j]], costly_params_[j]);
    if (costly_rated_[j] == -2) dead_W_[costly_cls_[j]] = add_sat(dead_W_[costly_cls_[j]], costly_params_[j]);
  }
  wclasses_.clear();
  dclasses_.clear();
  for (size_t c = 0; c < cls_.size(); ++c) {
    if (W_[c] > 0) wclasses_.push_back(static_cast<int32_t>(c));
    if (dead_W_[c] > 0) dclasses_.push_back(static_cast<int32_t>(c));
  }
  return true;
}

void Thresholds::class_sizes(int64_t I) {
  const int Dc = v_.Dc;
  csize_.resize(cls_.size() * Dc);
  for (int d = 0; d < Dc; ++d) {
    csize_[kZeroClass * Dc + d] = 0;
    csize_[kOneClass * Dc + d] = 1;
    csize_[kInputClass * Dc + d] = I;
  }
  for (size_t c = 3; c < cls_.size(); ++c) {
    const Class& k = cls_[c];
    for (int d = 0; d < Dc; ++d) {
      int64_t s = 0;
      if (k.node >= 0) {
        s = out_size(rules_[c * Dc + d], csize_[k.parent * Dc + d]);
      } else {
        for (int32_t e = k.pbegin; e < k.pend; ++e) s = std::max(s, csize_[merge_parents_[e] * Dc + d]);
      }
      csize_[c * Dc + d] = s;
    }
  }
}

void Thresholds::set_resolutions(const int64_t* I, const int64_t* r, int64_t S) {
  std::vector<int64_t> order(S);
  for (int64_t s = 0; s < S; ++s) order[s] = s;
  std::sort(order.begin(), order.end(), [&](int64_t a, int64_t b) { return I[a] < I[b]; });
  sorted_.resize(S);
  sorted_r_.resize(S);
  for (int64_t s = 0; s < S; ++s) {
    sorted_[s] = I[order[s]];
    sorted_r_[s] = r[order[s]];
  }
}

void Thresholds::count(int64_t R, const Outputs& out) {
  const auto S = static_cast<int64_t>(sorted_.size());
  if (S <= 0) return;
  // lb(T): how many of the sorted resolutions lie below T, i.e. satisfy I < T
  // (branch-free: thresholds fall anywhere among the resolutions, so a
  // branching search mispredicts at every step)
  const int64_t* data = sorted_.data();
  auto lb = [data, S](int64_t t) -> int64_t {
    const int64_t* base = data;
    int64_t n = S;
    while (n > 1) {
      const int64_t half = n / 2;
      base = base[half] < t ? base + half : base;
      n -= half;
    }
    return (base - data) + (*base < t);
  };
  du_.assign(S + 1, 0);
  db_.assign(S + 1, 0);
  dc_.assign(S + 1, 0);
  dp_.assign(S + 1, 0);
  std::vector<int64_t>& tix = t_index_;  // count index of each rated node's T
  tix.resize(rated_T_.size());
  for (size_t j = 0; j < rated_T_.size(); ++j) {
    const int64_t t = lb(rated_T_[j]), a = lb(rated_A_[j]);
    tix[j] = t;
    du_[0] += 1;
    du_[t] -= 1;
    if (a < t) {
      db_[a] += 1;
      db_[t] -= 1;
    }
  }
  for (size_t j = 0; j < tc_min_.size(); ++j) {
    const int64_t lo = lb(tc_min_[j]), hi = lb(tc_max_[j]);
    dc_[0] += 1;
    dc_[lo] -= 1;
    dp_[lo] += 1;
    dp_[hi] -= 1;
  }
  // MACs: the total at I is sum_c W_c * |map of c at I|; the unproductive
  // share walks the resolutions downwards, adding each costly rated node to
  // its class's sum once the resolution drops below its T.
  joins_.clear();
  for (size_t j = 0; j < costly_cls_.size(); ++j) {
    const int32_t ri = costly_rated_[j];
    if (ri >= 0 && tix[ri] > 0) joins_.emplace_back(tix[ri], costly_cls_[j], costly_params_[j]);
  }
  std::sort(joins_.begin(), joins_.end(), [](const Join& a, const Join& b) { return a.t > b.t; });
  unprod_W_.assign(cls_.size(), 0);
  active_.clear();
  macs_.resize(S);
  macs_u_.resize(S);
  macs_d_.resize(S);
  size_t next = 0;
  for (int64_t s = S - 1; s >= 0; --s) {
    for (; next < joins_.size() && joins_[next].t > s; ++next) {
      const Join& x = joins_[next];
      if (unprod_W_[x.cls] == 0) active_.push_back(x.cls);
      unprod_W_[x.cls] = add_sat(unprod_W_[x.cls], x.params);
    }
    if (wclasses_.empty()) {
      macs_[s] = macs_u_[s] = macs_d_[s] = 0;
      continue;
    }
    class_sizes(sorted_[s]);
    int64_t total = 0, unprod = 0;
    for (int32_t c : wclasses_) total = add_sat(total, mul_sat(W_[c], map_product(c)));
    for (int32_t c : active_) unprod = add_sat(unprod, mul_sat(unprod_W_[c], map_product(c)));
    int64_t dead = 0;
    for (int32_t c : dclasses_) dead = add_sat(dead, mul_sat(dead_W_[c], map_product(c)));
    macs_[s] = total;
    macs_u_[s] = unprod;
    macs_d_[s] = dead;
  }
  int64_t cu = 0, cb = 0, cc = 0, cp = 0;
  for (int64_t s = 0; s < S; ++s) {
    cu += du_[s];
    cb += db_[s];
    cc += dc_[s];
    cp += dp_[s];
    const int64_t o = v_.g * R + sorted_r_[s];
    out.n_unproductive[o] = cu;
    out.n_border[o] = cb;
    out.n_critical[o] = cc;
    out.n_partially_critical[o] = cp;
    out.macs[o] = macs_[s];
    out.macs_unproductive[o] = macs_u_[s];
    out.macs_dead[o] = macs_d_[s];
  }
}

// The product of class c's map sizes over every axis (the MAC factor).
int64_t Thresholds::map_product(int32_t c) const {
  const int Dc = v_.Dc;
  int64_t p = 1;
  for (int d = 0; d < v_.D; ++d) p = mul_sat(p, csize_[c * Dc + (d < Dc ? d : 0)]);
  return p;
}

}  // namespace rfa
