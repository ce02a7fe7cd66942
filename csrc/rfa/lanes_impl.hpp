// The lane engine's tile worker (lanes.hpp), written once and compiled once
// per instruction set: lanes_generic.cpp, lanes_avx2.cpp and lanes_avx512.cpp
// include it inside their own namespace under their own `#pragma GCC
// target`, and lanes.cpp picks one when the program runs.
//
// The lanes of a tile are the elements of GCC vector types (V: int64 x 2, 4 or 8):
// every rule is written once as vector arithmetic and selects, with no
// branch on a candidate, and the compiler emits SSE2, AVX2 or AVX-512 code
// for it. Lane masks are -1 (true) or 0. Values in every lane stay bounded
// (kBound) whatever the lane holds (an absent node, a candidate set aside
// for the general engine), so no lane ever overflows.
//
// Include only from those three files, after the standard headers.

namespace {

// RFA_LANES_BYTES: the native vector width of the build (64 AVX-512, 32 AVX2, 16 otherwise)
using V = int64_t __attribute__((vector_size(RFA_LANES_BYTES)));
using VD = double __attribute__((vector_size(RFA_LANES_BYTES)));
// Storage of vectors: int64 blocks aligned by hand. No standard template is
// instantiated over V itself: the instruction sets' builds pass vectors
// differently, and the linker would keep one copy of such a template.
class Vecs {
 public:
  void assign(size_t n, V x) {
    const size_t per = sizeof(V) / sizeof(int64_t);
    raw_.assign(n * per + per, 0);
    const auto addr = reinterpret_cast<uintptr_t>(raw_.data());
    data_ = reinterpret_cast<V*>((addr + sizeof(V) - 1) / sizeof(V) * sizeof(V));
    n_ = n;
    for (size_t i = 0; i < n; ++i) data_[i] = x;
  }
  V* data() { return data_; }
  const V* data() const { return data_; }
  V& operator[](size_t i) { return data_[i]; }
  const V& operator[](size_t i) const { return data_[i]; }
  size_t size() const { return n_; }

 private:
  std::vector<int64_t> raw_;
  V* data_ = nullptr;
  size_t n_ = 0;
};
constexpr int kPer = RFA_LANES_BYTES / 8;  // lanes per vector
constexpr int NV = kLanes / kPer;      // vectors per tile
static_assert(kLanes % kPer == 0, "a tile is whole vectors");

constexpr double kInf = std::numeric_limits<double>::infinity();
constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();
constexpr int64_t kNever = kMaxResolution + 1;  // "unproductive at every resolution up to 2^30"
// Fields, jumps and map forms stay below kBound; products with a window
// parameter (<= 2^17) then stay far inside int64. A lane beyond it (or a
// MAC count near 2^63) goes to the general engine, which answers exactly.
constexpr int64_t kBound = int64_t(1) << 40;
constexpr int64_t kWide = int64_t(1) << 17;
constexpr int64_t kSmall = int64_t(1) << 50;  // channel counts the lanes take (beyond: the general engine)
constexpr double kMacBound = 4.0e18;
constexpr int kMaxR = 64;  // resolutions per pass: one bit each in a node's unproductive mask

// Lane flags of a node.
constexpr int64_t FL_CONN = 1, FL_GLOBAL = 2, FL_CTX = 4, FL_ALIGNED = 8, FL_NONE = 16;
// A node's state: flags, unproductive mask, then per computed axis the jump,
// 2 x center, rf_min, rf_max and the map form fmap(I) = I >= Z ? floor((I+A)/J) : 0. (The
// form's divisor is the product of the strides on the way, which is the jump: a merge of
// maps whose jumps differ is set aside for the general engine.)
enum : int { S_FL = 0, S_UM = 1 };
enum : int { S_J = 0, S_C2, S_RMIN, S_RMAX, S_Z, S_A, kAxisState };
constexpr int64_t kBenign[kAxisState] = {1, 0, 1, 1, 1, 0};
enum : int { N_U = 0, N_B, N_C, N_P, N_MACS, N_MACS_U, N_MACS_D, kCounters };

// enum values as plain integers, to compare with vectors
constexpr int64_t M_NODE = MODE_NODE, M_PASS = MODE_PASS, M_NONE = MODE_NONE;
constexpr int64_t P_SAME_UPPER = SAME_UPPER, P_SAME_LOWER = SAME_LOWER, P_VALID = VALID;

inline V splat(int64_t x) { return V{} + x; }
inline V vmin(V a, V b) { return a < b ? a : b; }
inline V vmax(V a, V b) { return a > b ? a : b; }
inline V bit(V mask) { return mask & 1; }  // a mask as 0/1
// OR of every lane, by halving (no per-lane extraction)
inline int64_t lanes_or(V m) {
#if RFA_LANES_BYTES == 64
  m |= __builtin_shufflevector(m, m, 4, 5, 6, 7, 0, 1, 2, 3);
  m |= __builtin_shufflevector(m, m, 2, 3, 0, 1, 6, 7, 4, 5);
#elif RFA_LANES_BYTES == 32
  m |= __builtin_shufflevector(m, m, 2, 3, 0, 1);
#endif
  return m[0] | m[1];
}
inline bool any_lane(V mask) { return lanes_or(mask) != 0; }
inline bool all_lanes(V mask) { return lanes_or(~mask) == 0; }
// Conversions through the double's bit pattern, for 0 <= x < 2^52: exact,
// and vector code on every instruction set (AVX2 has no int64 <-> double).
constexpr int64_t kMagicBits = 0x4330000000000000;  // the double 2^52
constexpr double kMagic = 4503599627370496.0;
inline VD to_double(V x) { return reinterpret_cast<VD>(x | kMagicBits) - kMagic; }
// floor(x / q) for 0 <= x < 2^51, 1 <= q < 2^51: the double quotient never
// rounds across an integer there, and rounding it to an integer is off by
// at most one, corrected by a comparison
inline V floor_div(V x, V q) {
  // strides are powers of two almost always, and so is their product: a shift
  if (all_lanes((q & (q - 1)) == 0)) return x >> ((reinterpret_cast<V>(to_double(q)) >> 52) - 1023);  // 2^e as a double: exponent bits e + 1023
  const VD qd = to_double(x) / to_double(q);
  const V n = reinterpret_cast<V>(qd + kMagic) & ((int64_t(1) << 52) - 1);
  return n + (to_double(n) > qd);  // the comparison is -1 where n rounded up
}
// a + b on the bit patterns: sums of lanes that are set aside may wrap, never trap
inline V add_wrap(V a, V b) {
  using U = uint64_t __attribute__((vector_size(RFA_LANES_BYTES)));
  return reinterpret_cast<V>(reinterpret_cast<U>(a) + reinterpret_cast<U>(b));
}

inline double as_resolution(int64_t t) {
  return t > kMaxResolution ? kInf : static_cast<double>(std::max<int64_t>(t, 1));
}

// A window's rules on one axis, per lane: its extent k' (1 where it is wider
// than 2^17, which would take products out of range: those lanes are not ok),
// its size rule out(n) = n >= z ? floor((n + c) / s) : 0 (lanes.hpp), the pad
// before it that places the center, and whether the lanes can hold it.
struct Rules {
  V k, z, c, cpad, ok;
};

inline Rules rules(V K, V st, V DL, V pb, V pe, V m, V cm) {
  const V k0 = DL * (K - 1) + 1;
  const V wide = k0 > kWide;
  const V k = wide ? splat(1) : k0;
  const V same = (m == P_SAME_UPPER) | (m == P_SAME_LOWER), valid = m == P_VALID;
  const V P = valid ? V{} : pb + pe;
  const V total = vmax(k - st, V{});
  const V half = total >> 1;
  // ceil mode: one window more, less one when it would start past the input:
  // never when k' - pe > s - 1, always when k' - pe <= 0, else depending on the
  // size (the general engine decides)
  const V ceil = (cm != 0) & ~valid & ~same;
  const V never = k - pe > st - 1, always = k - pe <= 0;
  const V cf = P - k + st;
  Rules r;
  r.k = k;
  r.z = same ? splat(1) : (ceil & always) ? vmax(k - P + 1, splat(1)) : vmax(k - P, splat(1));
  r.c = same ? st - 1 : ~ceil ? cf : never ? cf + st - 1 : always ? cf - 1 : cf;
  r.cpad = (m == P_SAME_UPPER) ? half : (m == P_SAME_LOWER) ? total - half : valid ? V{} : pb;
  r.ok = ~wide & ~(ceil & ~never & ~always);
  return r;
}

class Tile {
 public:
  Tile(const Program& p, const Candidates& c, const int64_t* res, int64_t R, const Options& opt, const Outputs& out)
      : p_(p), c_(c), res_(res), R_(R), opt_(opt), out_(out), D_(p.D), Dc_(p.isotropic ? 1 : p.D),
        block_(2 + kAxisState * Dc_),
        nvs_(static_cast<int>(std::min<int64_t>(NV, (c.B + kPer - 1) / kPer))) {
    vals_.assign(p.params.size() * nvs_, V{});
    for (size_t i = 0; i < p.params.size(); ++i)
      if (p.params[i].kind == P_CONST)
        for (int v = 0; v < nvs_; ++v) vals_[i * nvs_ + v] = splat(p.params[i].value);
    on_.assign(p.scope_parent.size() * nvs_, splat(-1));
    st_.assign(static_cast<size_t>(p.n_slots) * block_ * nvs_, splat(1));  // every slot starts benign
    rows_.assign(static_cast<size_t>(p.C) * nvs_, V{});
    live_.assign(static_cast<size_t>(p.T) * nvs_, V{});
  }

  void set_resolutions(int64_t r0, int64_t Rc) {
    r0_ = r0;
    Rc_ = Rc;
    I_.assign(Rc * D_, 0);
    Imax_.assign(Rc, 0);
    Imin_.assign(Rc, 0);
    for (int64_t r = 0; r < Rc; ++r) {
      int64_t lo = kInt64Max, hi = 0;
      for (int d = 0; d < D_; ++d) {
        const int64_t x = res_[(r0 + r) * D_ + d];
        I_[r * D_ + d] = x;
        lo = std::min(lo, x);
        hi = std::max(hi, x);
      }
      Imax_[r] = hi;
      Imin_[r] = lo;
    }
    cnt_.assign(kCounters * Rc * nvs_, V{});
  }

  void run(int64_t b0, int64_t nb, bool first_pass) {
    b0_ = b0;
    nb_ = nb;
    nv_ = static_cast<int>((nb + kPer - 1) / kPer);  // a small call runs only the vectors it fills
    load();
    for (size_t i = 0; i < cnt_.size(); ++i) cnt_[i] = V{};
    for (int v = 0; v < nv_; ++v) {
      imin_sq_[v] = splat(1);
      params_[v] = V{};
      macs_d_[v] = VD{};
      aligned_[v] = splat(-1);
      bad_[v] = V{};
      n_dead_[v] = V{};
      for (int d = 0; d < 3; ++d) {
        imin_ax_[d][v] = splat(1);
        imax_[d][v] = splat(-1);
        rfmax_[d][v] = splat(-1);
      }
    }
    const bool r1 = Rc_ == 1;
    liveness();
    for (int64_t t = 0; t < p_.T; ++t) {
      switch (p_.kind[t]) {
        case INPUT: input(t); break;
        case WINDOW:
          if (Dc_ == 1 && r1) {
            window1(t);
          } else {
            window_rules(t);
            window(t);
          }
          break;
        case MERGE:
          if (Dc_ == 1 && r1 && !p_.collapse[t]) merge1(t);
          else merge(t);
          break;
        case GLOBAL: global(t); break;
        case IDENTITY: identity(t); break;
        default: select(t); break;  // SELECT: a lane program has no TRANSPOSED/RESIZE
      }
    }
    write(first_pass);
  }

 private:
  const Program& p_;
  const Candidates& c_;
  const int64_t* res_;
  const int64_t R_;
  const Options& opt_;
  const Outputs& out_;
  const int D_, Dc_, block_;
  const int nvs_;  // vectors stored per tile: fewer than NV for a call of a few candidates
  int64_t b0_ = 0, nb_ = 0, r0_ = 0, Rc_ = 1;
  int nv_ = NV;  // vectors of the tile in use
  Vecs vals_;  // [param][vector]
  Vecs on_;    // [scope][vector], masks
  Vecs st_;    // [slot][state field][vector]
  Vecs rows_;  // [column][vector]
  std::vector<int64_t> I_, Imax_, Imin_;
  Vecs cnt_;  // [counter][resolution][vector]
  // the window being run: its mode and rules ([axis][vector] for per-axis ones)
  V md_[NV], ok_[NV], rated_[NV], P_[NV], s_[3][NV], kp_[3][NV], z_[3][NV], cc_[3][NV], cp2_[3][NV];
  V imin_sq_[NV], imin_ax_[3][NV], imax_[3][NV], rfmax_[3][NV], params_[NV], aligned_[NV], bad_[NV], n_dead_[NV];
  Vecs live_;  // [node][vector] masks: the candidate's graph output is reachable from the node
  VD macs_d_[NV];
  GraphArrays scratch_;

  V* state(int64_t t, int field) { return st_.data() + (static_cast<size_t>(p_.slot[t]) * block_ + field) * nvs_; }
  V* fl(int64_t t) { return state(t, S_FL); }
  V* um(int64_t t) { return state(t, S_UM); }
  V* ax(int64_t t, int field, int d) { return state(t, 2 + d * kAxisState + field); }
  const V* v(int32_t param) const { return vals_.data() + static_cast<size_t>(param) * nvs_; }
  const V* axis_v(int64_t t, int f, int d) const { return v(p_.axis_param(t, f, d)); }
  const V* node_v(int64_t t, int f) const { return v(p_.node_param(t, f)); }
  V* counter(int k, int64_t r) { return cnt_.data() + (k * Rc_ + r) * nvs_; }
  V* live(int64_t t) { return live_.data() + static_cast<size_t>(t) * nvs_; }

  // dead(v) (docs/semantics.md): no output reachable. A candidate's output is
  // its graph's last node, the template's last node when that is a node of
  // the graph (else the lane goes to the general engine). Backwards over the
  // template: a present node passes liveness to the inputs it reads (a
  // SELECT to its chosen input, a pass-through to its input).
  void liveness() {
    V md[NV];
    for (int64_t t = 0; t < p_.T; ++t)
      for (int v = 0; v < nv_; ++v) live(t)[v] = V{};
    const int64_t last = p_.T - 1;
    modes(last, md);
    const bool plain = p_.kind[last] != SELECT && !(p_.kind[last] == MERGE && p_.collapse[last]);
    for (int v = 0; v < nv_; ++v) {
      const V node = md[v] == M_NODE;
      live(last)[v] = plain ? node : V{};
      bad_[v] |= plain ? ~node : splat(-1);
    }
    for (int64_t t = last; t >= 0; --t) {
      const V* L = live(t);
      V any{};
      for (int v = 0; v < nv_; ++v) any |= L[v];
      if (!any_lane(any)) continue;
      modes(t, md);
      const int32_t* pb = p_.pred.data() + p_.pred_ptr[t];
      const int64_t n_in = p_.n_preds(t);
      const V* s = p_.kind[t] == SELECT ? node_v(t, F_SEL) : nullptr;
      for (int64_t e = 0; e < n_in; ++e) {
        V* to = live(pb[e]);
        for (int v = 0; v < nv_; ++v) {
          const V use = L[v] & (md[v] != M_NONE) & (s ? (s[v] == e) : splat(-1));
          to[v] |= use;
        }
      }
    }
  }

  // Node t's lanes where take: node from's (every field).
  void blend_from(int64_t from, int64_t to, const V* take) {
    for (int f = 0; f < block_; ++f) {
      const V* a = state(from, f);
      V* b = state(to, f);
      for (int v = 0; v < nv_; ++v) b[v] = take[v] ? a[v] : b[v];
    }
  }
  // Node t's lanes where set: `flags`, no unproductive mask, benign fields.
  void clear_where(int64_t t, const V* set, int64_t flags) {
    V *f = fl(t), *u = um(t);
    for (int v = 0; v < nv_; ++v) {
      f[v] = set[v] ? splat(flags) : f[v];
      u[v] = set[v] ? V{} : u[v];
    }
    for (int d = 0; d < Dc_; ++d)
      for (int k = 0; k < kAxisState; ++k) {
        V* a = ax(t, k, d);
        for (int v = 0; v < nv_; ++v) a[v] = set[v] ? splat(kBenign[k]) : a[v];
      }
  }

  // -- rows, parameters and scopes of the tile ---------------------------------
  void load() {
    for (int64_t col = 0; col < p_.C; ++col) {
      V* out = rows_.data() + col * nvs_;
      for (int w = 0; w < nv_ * kPer; ++w) {
        const int64_t b = b0_ + (w < nb_ ? w : 0);  // spare lanes repeat the first candidate
        const int64_t x = c_.row(b, p_.C, col);
        if (x < 0 || x >= p_.n_options[col])
          throw BatchError(b, -1,
                           "candidate " + std::to_string(b) + ": choice column " + std::to_string(col) + " has index " +
                               std::to_string(x) + ", must be in 0.." + std::to_string(p_.n_options[col] - 1),
                           col);
        out[w / kPer][w % kPer] = x;
      }
    }
    for (int32_t id : p_.tabled) {
      const Param& q = p_.params[id];
      V* out = vals_.data() + static_cast<size_t>(id) * nvs_;
      const int64_t* table = p_.pool.data() + q.value;
      V key[NV] = {};
      for (int64_t j = p_.key_ptr[q.key]; j < p_.key_ptr[q.key + 1]; ++j) {
        const V* r = rows_.data() + p_.key_col[j] * nvs_;
        for (int v = 0; v < nv_; ++v) key[v] += r[v] * p_.key_mult[j];
      }
      for (int w = 0; w < nv_ * kPer; ++w) out[w / kPer][w % kPer] = table[key[w / kPer][w % kPer]];
    }
    for (size_t j = 0; j < p_.column_param.size(); ++j) {
      switch (c_.columns[j].bytes) {
        case 1: load_columns<uint8_t>(j); break;
        case 4: load_columns<int32_t>(j); break;
        default: load_columns<int64_t>(j); break;
      }
    }
    for (size_t s = 1; s < p_.scope_parent.size(); ++s) {
      const V* parent = on_.data() + p_.scope_parent[s] * nvs_;
      const V* cond = v(p_.scope_param[s]);
      for (int j = 0; j < nv_; ++j) on_[s * nvs_ + j] = parent[j] & (cond[j] != 0);
    }
  }

  // The parameters read from column array j: candidate by candidate (each
  // one's row of the array is contiguous), then checked a vector at a time.
  template <class T>
  void load_columns(size_t j) {
    const std::vector<int32_t>& ids = p_.column_param[j];
    const std::vector<int32_t>& xs = p_.column_index[j];
    if (ids.empty()) return;
    const Candidates::Column& col = c_.columns[j];
    const T* data = static_cast<const T*>(col.data);
    const size_t n = ids.size();
    for (int w = 0; w < nv_ * kPer; ++w) {
      const T* row = data + (b0_ + (w < nb_ ? w : 0)) * col.width;  // spare lanes repeat the first candidate
      for (size_t i = 0; i < n; ++i) vals_[static_cast<size_t>(ids[i]) * nvs_ + w / kPer][w % kPer] = row[xs[i]];
    }
    V badv{};
    for (size_t i = 0; i < n; ++i) {
      const Param& q = p_.params[ids[i]];
      const V* got = v(ids[i]);
      for (int k = 0; k < nv_; ++k)
        badv |= (got[k] < q.lo) | (got[k] > q.hi) | (p_.param_no_pass[ids[i]] ? (got[k] == M_PASS) : V{});
    }
    if (!any_lane(badv)) return;
    // name the first candidate at fault, and its first value out of range
    for (int w = 0; w < nv_ * kPer; ++w)
      for (size_t i = 0; i < n; ++i) {
        const Param& q = p_.params[ids[i]];
        const int64_t x = v(ids[i])[w / kPer][w % kPer];
        if (x < q.lo || x > q.hi || (p_.param_no_pass[ids[i]] && x == M_PASS)) bad_value(p_, b0_ + (w < nb_ ? w : 0), ids[i], x);
      }
  }

  // The lanes' mode at node t: absent where its scope is off.
  void modes(int64_t t, V* md) const {
    const V* o = on_.data() + static_cast<size_t>(p_.scope[t]) * nvs_;
    const V* m = node_v(t, F_MODE);
    for (int v = 0; v < nv_; ++v) md[v] = o[v] ? m[v] : splat(M_NONE);
  }

  // -- resolutions -----------------------------------------------------------
  // Bits r where every (any) axis of resolution r is below T[d] (T per computed axis).
  V below_all(const V* T, int v) const {
    V m{};
    for (int64_t r = 0; r < Rc_; ++r) {
      V all;
      if (Dc_ == 1) {
        all = splat(Imax_[r]) < T[0 * NV + v];
      } else {
        all = splat(-1);
        for (int d = 0; d < D_; ++d) all &= splat(I_[r * D_ + d]) < T[d * NV + v];
      }
      m |= all & splat(int64_t(1) << r);
    }
    return m;
  }
  V below_any(const V* T, int v) const {
    V m{};
    for (int64_t r = 0; r < Rc_; ++r) {
      V any;
      if (Dc_ == 1) {
        any = splat(Imin_[r]) < T[0 * NV + v];
      } else {
        any = V{};
        for (int d = 0; d < D_; ++d) any |= splat(I_[r * D_ + d]) < T[d * NV + v];
      }
      m |= any & splat(int64_t(1) << r);
    }
    return m;
  }
  void count(int k, const V* mask) {
    for (int64_t r = 0; r < Rc_; ++r) {
      V* c = counter(k, r);
      for (int v = 0; v < nv_; ++v) c[v] += (mask[v] >> r) & 1;
    }
  }

  // A counted node with a spatial field (lanes where sp): critical counts, rf_max (and i_max).
  void spatial(int64_t t, const V* sp_all, bool windowed) {
    V tc[3 * NV], crit[NV], part[NV], sp[NV];
    const V* lv = live(t);
    for (int v = 0; v < nv_; ++v) sp[v] = sp_all[v] & lv[v];  // dead nodes are not counted
    for (int d = 0; d < Dc_; ++d)
      for (int v = 0; v < nv_; ++v) tc[d * NV + v] = ax(t, S_RMIN, d)[v];
    for (int v = 0; v < nv_; ++v) {
      const V all = below_all(tc, v);
      crit[v] = sp[v] ? all : V{};
      part[v] = sp[v] ? below_any(tc, v) & ~all : V{};
    }
    count(N_C, crit);
    count(N_P, part);
    for (int d = 0; d < Dc_; ++d) {
      const V* r = ax(t, S_RMAX, d);
      for (int v = 0; v < nv_; ++v) {
        rfmax_[d][v] = sp[v] ? vmax(rfmax_[d][v], r[v]) : rfmax_[d][v];
        if (windowed) imax_[d][v] = sp[v] ? vmax(imax_[d][v], r[v]) : imax_[d][v];
      }
    }
  }

  // -- node kinds --------------------------------------------------------------
  void input(int64_t t) {
    V md[NV], none[NV], sp[NV];
    modes(t, md);
    for (int v = 0; v < nv_; ++v) {
      none[v] = md[v] == M_NONE;
      sp[v] = ~none[v];
      fl(t)[v] = splat(FL_CONN | FL_ALIGNED);
      um(t)[v] = V{};
    }
    for (int d = 0; d < Dc_; ++d)
      for (int k = 0; k < kAxisState; ++k)
        for (int v = 0; v < nv_; ++v) ax(t, k, d)[v] = splat(kBenign[k]);  // J 1, C 0, rf 1, map I
    clear_where(t, none, FL_NONE);
    spatial(t, sp, false);
  }

  void select(int64_t t) {
    V md[NV], take[NV], none[NV];
    modes(t, md);
    const V* s = node_v(t, F_SEL);
    const int32_t* pb = p_.pred.data() + p_.pred_ptr[t];
    for (int v = 0; v < nv_; ++v) none[v] = (md[v] == M_NONE) | (s[v] < 0);
    for (int64_t e = 0; e < p_.n_preds(t); ++e) {
      for (int v = 0; v < nv_; ++v) take[v] = ~none[v] & (s[v] == e);
      blend_from(pb[e], t, take);
    }
    clear_where(t, none, FL_NONE);
  }

  void identity(int64_t t) {
    V md[NV], all[NV], none[NV], sp[NV];
    modes(t, md);
    for (int v = 0; v < nv_; ++v) all[v] = splat(-1);
    blend_from(p_.pred[p_.pred_ptr[t]], t, all);
    V *f = fl(t), *u = um(t);
    for (int v = 0; v < nv_; ++v) {
      const V fi = f[v];
      const V node = md[v] == M_NODE;
      const V conn = (fi & FL_CONN) != 0;
      const V glob = (fi & FL_GLOBAL) != 0;
      none[v] = md[v] == M_NONE;
      sp[v] = node & conn & ~glob;
      // present: after a global node it is global, after a spatial one aligned
      const V flags = conn ? (glob ? (fi & FL_CTX) | (FL_CONN | FL_GLOBAL | FL_ALIGNED) : (fi & FL_CTX) | (FL_CONN | FL_ALIGNED))
                           : V{};
      f[v] = node ? flags : fi;
      u[v] = (node & ~conn) ? V{} : u[v];
    }
    clear_where(t, none, FL_NONE);
    spatial(t, sp, false);
  }

  void global(int64_t t) {
    V md[NV], any[NV] = {}, none[NV], conn[NV];
    modes(t, md);
    for (int64_t e = p_.pred_ptr[t]; e < p_.pred_ptr[t + 1]; ++e) {
      const V* f = fl(p_.pred[e]);
      for (int v = 0; v < nv_; ++v) any[v] |= f[v];
    }
    for (int v = 0; v < nv_; ++v) {
      none[v] = md[v] == M_NONE;
      conn[v] = ~none[v] & ((any[v] & FL_CONN) != 0);
      fl(t)[v] = conn[v] ? (any[v] & FL_CTX) | (FL_CONN | FL_GLOBAL | FL_ALIGNED) : V{};
      um(t)[v] = V{};
    }
    for (int d = 0; d < Dc_; ++d)
      for (int k = 0; k < kAxisState; ++k)
        for (int v = 0; v < nv_; ++v) ax(t, k, d)[v] = splat(kBenign[k]);
    clear_where(t, none, FL_NONE);
    // a dense layer: c_in * c_out parameters, and as many MACs (its map is 1x1)
    const V *wt = node_v(t, F_WEIGHTED), *ci = node_v(t, F_C_IN), *co = node_v(t, F_C_OUT);
    for (int v = 0; v < nv_; ++v) {
      const V has = conn[v] & (wt[v] != 0) & (ci[v] > 0) & (co[v] > 0);
      const V small = (ci[v] < kSmall) & (co[v] < kSmall);
      const VD pd = to_double(small ? ci[v] : V{}) * to_double(small ? co[v] : V{});
      const V fits = small & (pd < kMacBound);
      const V P = (has & fits) ? ci[v] * co[v] : V{};
      bad_[v] |= has & ~fits;
      params_[v] = add_wrap(params_[v], P);
      macs_d_[v] += (has & fits) ? pd * static_cast<double>(Rc_ + 1) : VD{};
      const V Pd = live(t)[v] ? V{} : P;  // a dead dense layer: macs_dead
      for (int64_t r = 0; r < Rc_; ++r) {
        counter(N_MACS, r)[v] = add_wrap(counter(N_MACS, r)[v], P);
        counter(N_MACS_D, r)[v] = add_wrap(counter(N_MACS_D, r)[v], Pd);
      }
    }
  }

  void merge(int64_t t) {
    V md[NV], none[NV], pass[NV] = {};
    modes(t, md);
    const int32_t* pb = p_.pred.data() + p_.pred_ptr[t];
    const int64_t n_in = p_.n_preds(t);
    for (int v = 0; v < nv_; ++v) none[v] = md[v] == M_NONE;
    if (p_.collapse[t]) {
      // left with one input it is that input; with none it is absent
      V count[NV] = {}, last[NV];
      for (int v = 0; v < nv_; ++v) last[v] = splat(-1);
      for (int64_t e = 0; e < n_in; ++e) {
        const V* f = fl(pb[e]);
        for (int v = 0; v < nv_; ++v) {
          const V here = (f[v] & FL_NONE) == 0;
          count[v] -= here;
          last[v] = here ? splat(e) : last[v];
        }
      }
      for (int64_t e = 0; e < n_in; ++e) {
        V take[NV];
        for (int v = 0; v < nv_; ++v) take[v] = ~none[v] & (count[v] == 1) & (last[v] == e);
        blend_from(pb[e], t, take);
      }
      for (int v = 0; v < nv_; ++v) {
        pass[v] = ~none[v] & (count[v] == 1);
        none[v] |= count[v] == 0;
      }
    }
    // the merge proper, where neither absent nor collapsed
    V any_conn[NV] = {}, any_glob[NV] = {}, ctx[NV] = {}, have[NV] = {}, aligned[NV], mask[NV] = {};
    V J[3][NV], C2[3][NV], lo[3][NV], hi[3][NV], Z[3][NV], A[3][NV];
    for (int v = 0; v < nv_; ++v) aligned[v] = splat(-1);
    for (int d = 0; d < Dc_; ++d)
      for (int v = 0; v < nv_; ++v) {
        J[d][v] = C2[d][v] = A[d][v] = V{};
        Z[d][v] = splat(1);
        lo[d][v] = splat(kInt64Max);
        hi[d][v] = V{};
      }
    for (int64_t e = 0; e < n_in; ++e) {
      const int64_t q = pb[e];
      const V *f = fl(q), *u = um(q);
      V sp[NV], first[NV], other[NV];
      for (int v = 0; v < nv_; ++v) {
        const V conn = (f[v] & FL_CONN) != 0, glob = (f[v] & FL_GLOBAL) != 0;
        mask[v] |= u[v];
        any_conn[v] |= conn;
        ctx[v] |= conn & f[v] & FL_CTX;
        any_glob[v] |= conn & glob;
        sp[v] = conn & ~glob;
        first[v] = sp[v] & ~have[v];
        other[v] = sp[v] & have[v];
        have[v] |= sp[v];
      }
      for (int d = 0; d < Dc_; ++d) {
        const V *qJ = ax(q, S_J, d), *qC = ax(q, S_C2, d), *qlo = ax(q, S_RMIN, d), *qhi = ax(q, S_RMAX, d);
        const V *qZ = ax(q, S_Z, d), *qA = ax(q, S_A, d);
        for (int v = 0; v < nv_; ++v) {
          aligned[v] &= ~(other[v] & ((qJ[v] != J[d][v]) | (qC[v] != C2[d][v])));
          J[d][v] = first[v] ? qJ[v] : J[d][v];
          C2[d][v] = first[v] ? qC[v] : C2[d][v];
          lo[d][v] = sp[v] ? vmin(lo[d][v], qlo[v]) : lo[d][v];
          hi[d][v] = sp[v] ? vmax(hi[d][v], qhi[v]) : hi[d][v];
          // the merged map is the larger: keep the form that dominates (same
          // jump, no smaller A, no larger Z); where neither does, set the lane aside
          const V same_q = qJ[v] == J[d][v];
          const V they = same_q & (qA[v] >= A[d][v]) & (qZ[v] <= Z[d][v]);
          const V we = same_q & (A[d][v] >= qA[v]) & (Z[d][v] <= qZ[v]);
          const V take = first[v] | (other[v] & they);
          bad_[v] |= other[v] & ~they & ~we;
          Z[d][v] = take ? qZ[v] : Z[d][v];
          A[d][v] = take ? qA[v] : A[d][v];
        }
      }
    }
    V sp[NV];
    for (int v = 0; v < nv_; ++v) {
      const V node = ~none[v] & ~pass[v];
      sp[v] = node & have[v];
      const V glob_only = any_conn[v] & ~have[v];
      const V flags = glob_only ? ctx[v] | (FL_CONN | FL_GLOBAL | FL_ALIGNED)
                                : (aligned[v] & FL_ALIGNED) | ((ctx[v] | any_glob[v]) != 0 ? splat(FL_CTX) : V{}) | FL_CONN;
      fl(t)[v] = node ? (any_conn[v] ? flags : V{}) : fl(t)[v];
      um(t)[v] = node ? mask[v] : um(t)[v];
      aligned_[v] &= ~sp[v] | aligned[v];
    }
    for (int d = 0; d < Dc_; ++d) {
      V *oJ = ax(t, S_J, d), *oC = ax(t, S_C2, d), *olo = ax(t, S_RMIN, d), *ohi = ax(t, S_RMAX, d);
      V *oZ = ax(t, S_Z, d), *oA = ax(t, S_A, d);
      for (int v = 0; v < nv_; ++v) {
        oJ[v] = sp[v] ? J[d][v] : oJ[v];
        oC[v] = sp[v] ? C2[d][v] : oC[v];
        olo[v] = sp[v] ? lo[d][v] : olo[v];
        ohi[v] = sp[v] ? hi[d][v] : ohi[v];
        oZ[v] = sp[v] ? Z[d][v] : oZ[v];
        oA[v] = sp[v] ? A[d][v] : oA[v];
      }
    }
    clear_where(t, none, FL_NONE);
    spatial(t, sp, false);
  }

  // A window's rules per lane, from its parameters: the size rule as
  // out(n) = n >= z ? floor((n + c) / s) : 0 (lanes.hpp), the center's pad,
  // whether it is rated, its parameter count.
  void window_rules(int64_t t) {
    modes(t, md_);
    const V *pm = node_v(t, F_PAD_MODE), *cm = node_v(t, F_CEIL_MODE);
    for (int v = 0; v < nv_; ++v) {
      ok_[v] = splat(-1);
      rated_[v] = opt_.ignore_1x1 ? V{} : splat(-1);
    }
    for (int d = 0; d < Dc_; ++d) {
      const V *K = axis_v(t, F_KERNEL, d), *S = axis_v(t, F_STRIDE, d), *DL = axis_v(t, F_DILATION, d);
      const V *PB = axis_v(t, F_PAD_BEGIN, d), *PE = axis_v(t, F_PAD_END, d);
      for (int v = 0; v < nv_; ++v) {
        const Rules r = rules(K[v], S[v], DL[v], PB[v], PE[v], pm[v], cm[v]);
        z_[d][v] = r.z;
        cc_[d][v] = r.c;
        ok_[v] &= r.ok;
        s_[d][v] = S[v];
        kp_[d][v] = r.k;
        cp2_[d][v] = r.cpad + r.cpad;
        const V k = r.k;
        rated_[v] |= k != 1;
      }
    }
    // parameters (engine.cpp params()): c_out * (c_in / groups) * prod k, with
    // the products checked in doubles (exact below 2^50; beyond: the general engine)
    const V *wt = node_v(t, F_WEIGHTED), *ci = node_v(t, F_C_IN), *co = node_v(t, F_C_OUT), *gr = node_v(t, F_GROUPS);
    VD pd[NV];
    bool divide = false;
    V per[NV], counted[NV];  // counted: the lanes count this node's parameters (a mask)
    for (int v = 0; v < nv_; ++v) {
      const V has = (wt[v] != 0) & (ci[v] > 0) & (co[v] > 0);
      const V small = (ci[v] < kSmall) & (co[v] < kSmall);
      counted[v] = has & small;
      // c_in / groups: groups is 1 or c_in (depthwise) almost always
      per[v] = (gr[v] == 1) ? ci[v] : (gr[v] == ci[v]) ? splat(1) : V{};
      const V other = has & (gr[v] != 1) & (gr[v] != ci[v]);
      divide |= any_lane(other);
      ok_[v] &= ~has | small;
      P_[v] = (has & small) ? co[v] : V{};
    }
    if (divide)
      for (int w = 0; w < nv_ * kPer; ++w) per[w / kPer][w % kPer] = ci[w / kPer][w % kPer] / gr[w / kPer][w % kPer];
    for (int v = 0; v < nv_; ++v) {
      P_[v] *= per[v];
      // from the mask, not from P_: the int64 product may have wrapped (even to 0)
      pd[v] = to_double(counted[v] ? co[v] : V{}) * to_double(counted[v] ? per[v] : V{});
    }
    for (int d = 0; d < D_; ++d) {
      const V* K = axis_v(t, F_KERNEL, d < Dc_ ? d : 0);
      for (int v = 0; v < nv_; ++v) {
        pd[v] *= to_double(K[v]);
        P_[v] = (pd[v] < kMacBound) ? P_[v] * K[v] : V{};
      }
    }
    // beyond the bound the lanes drop the product (P_ is 0 then): the general engine counts it
    for (int v = 0; v < nv_; ++v) ok_[v] &= (pd[v] < kMacBound) | ~counted[v];
  }

  // Any number of computed axes and resolutions (window1() is the common case in one pass).
  void window(int64_t t) {
    const int64_t in = p_.pred[p_.pred_ptr[t]];
    const V *fi = fl(in), *ui = um(in);
    V sp[NV], pass[NV], glob[NV], oob[NV] = {}, u[NV];
    for (int v = 0; v < nv_; ++v) {
      const V conn = (fi[v] & FL_CONN) != 0, g = (fi[v] & FL_GLOBAL) != 0, node = md_[v] == M_NODE;
      pass[v] = md_[v] == M_PASS;
      sp[v] = node & conn & ~g & ok_[v];
      glob[v] = node & conn & g;
      bad_[v] |= node & conn & ~g & ~ok_[v];
    }
    V Ta[3 * NV], Tb[3 * NV];
    for (int d = 0; d < Dc_; ++d) {
      const V *J = ax(in, S_J, d), *C2 = ax(in, S_C2, d), *lo = ax(in, S_RMIN, d), *hi = ax(in, S_RMAX, d);
      const V *Z = ax(in, S_Z, d), *A = ax(in, S_A, d);
      V *oJ = ax(t, S_J, d), *oC = ax(t, S_C2, d), *olo = ax(t, S_RMIN, d), *ohi = ax(t, S_RMAX, d);
      V *oZ = ax(t, S_Z, d), *oA = ax(t, S_A, d);
      for (int v = 0; v < nv_; ++v) {
        // fields (docs/semantics.md, WINDOW), the map form, the thresholds:
        // (a) I <= rf_min(p) and I < rf_min(v); (b) fmap(p) <= k'
        const V s = s_[d][v], kp = kp_[d][v];
        const V grow = (kp - 1) * J[v];
        const V j = J[v] * s, rlo = lo[v] + grow, rhi = hi[v] + grow, c2 = C2[v] + grow - cp2_[d][v] * J[v];
        const V zo = vmax(Z[v], z_[d][v] * J[v] - A[v]), ao = A[v] + cc_[d][v] * J[v];
        Ta[d * NV + v] = vmin(vmin(lo[v] + 1, rlo), splat(kNever));
        Tb[d * NV + v] = vmin(vmax(Z[v], grow + J[v] + J[v] - A[v]), splat(kNever));  // (k'+1) J - A
        const V out = (j > kBound) | (rhi > kBound) | (zo > kBound) | (ao > kBound) | (ao < -kBound) |
                      (c2 > kBound) | (c2 < -kBound);
        oob[v] |= out;
        const V keep = sp[v] & ~out;
        const V p = pass[v];
        oJ[v] = p ? J[v] : keep ? j : splat(1);
        oC[v] = p ? C2[v] : keep ? c2 : V{};
        olo[v] = p ? lo[v] : keep ? rlo : splat(1);
        ohi[v] = p ? hi[v] : keep ? rhi : splat(1);
        oZ[v] = p ? Z[v] : keep ? zo : splat(1);
        oA[v] = p ? A[v] : keep ? ao : V{};
      }
    }
    for (int v = 0; v < nv_; ++v) {
      bad_[v] |= sp[v] & oob[v];
      sp[v] &= ~oob[v];
    }
    V* fo = fl(t);
    V* uo = um(t);
    V nb[NV], dead[NV];
    const V* lv = live(t);
    for (int v = 0; v < nv_; ++v) {
      dead[v] = (sp[v] | glob[v]) & ~lv[v];
      n_dead_[v] -= dead[v];
      u[v] = (sp[v] & lv[v] & rated_[v]) ? below_all(Ta, v) | below_all(Tb, v) : V{};
      nb[v] = u[v] & ~ui[v];
    }
    count(N_U, u);
    count(N_B, nb);
    spatial(t, sp, false);  // critical counts (rf_max below)
    for (int v = 0; v < nv_; ++v) {
      const V f = fi[v], conn = (f & FL_CONN) != 0;
      const V present = conn ? (glob[v] ? (f & FL_CTX) | (FL_CONN | FL_GLOBAL | FL_ALIGNED) : (f & FL_CTX) | (FL_CONN | FL_ALIGNED))
                             : V{};
      fo[v] = (md_[v] == M_NONE) ? splat(FL_NONE) : pass[v] ? f : present;
      // a rated window starts or stops unproductiveness; a skipped 1x1 passes its input's on
      uo[v] = pass[v] ? ui[v] : sp[v] ? (rated_[v] ? u[v] : ui[v]) : V{};
    }
    V tmin_a[NV], tmin_b[NV];
    for (int v = 0; v < nv_; ++v) tmin_a[v] = tmin_b[v] = splat(kNever);
    for (int d = 0; d < Dc_; ++d) {
      const V* r = ax(t, S_RMAX, d);
      for (int v = 0; v < nv_; ++v) {
        const V ta = Ta[d * NV + v], tb = Tb[d * NV + v];
        const V live_sp = sp[v] & lv[v], on = live_sp & rated_[v];
        tmin_a[v] = vmin(tmin_a[v], ta);
        tmin_b[v] = vmin(tmin_b[v], tb);
        imin_ax_[d][v] = on ? vmax(imin_ax_[d][v], vmax(ta, tb)) : imin_ax_[d][v];
        rfmax_[d][v] = live_sp ? vmax(rfmax_[d][v], r[v]) : rfmax_[d][v];
        imax_[d][v] = live_sp ? vmax(imax_[d][v], r[v]) : imax_[d][v];
      }
    }
    for (int v = 0; v < nv_; ++v)
      imin_sq_[v] = (sp[v] & lv[v] & rated_[v]) ? vmax(imin_sq_[v], vmax(tmin_a[v], tmin_b[v])) : imin_sq_[v];
    // MACs: P times the map over every axis (1 after global pooling)
    V any{};
    for (int v = 0; v < nv_; ++v) any |= (sp[v] | glob[v]) & P_[v];
    if (!any_lane(any)) return;
    V P[NV];
    for (int v = 0; v < nv_; ++v) {
      P[v] = (sp[v] | glob[v]) ? P_[v] : V{};
      params_[v] = add_wrap(params_[v], P[v]);
      macs_d_[v] += to_double(P[v]);
    }
    for (int64_t r = 0; r < Rc_; ++r) {
      VD mdbl[NV];
      V m[NV];
      for (int v = 0; v < nv_; ++v) {
        mdbl[v] = to_double(P[v]);
        m[v] = P[v];
      }
      for (int d = 0; d < D_; ++d) {
        const int e = d < Dc_ ? d : 0;
        const int64_t I = I_[r * D_ + d];
        const V *Z = ax(t, S_Z, e), *A = ax(t, S_A, e), *J = ax(t, S_J, e);
        for (int v = 0; v < nv_; ++v) {
          const V inside = splat(I) >= Z[v];  // then I + A >= J > 0
          const V f = glob[v] ? splat(1) : inside ? floor_div(inside ? I + A[v] : V{}, J[v]) : V{};
          mdbl[v] *= to_double(f);
          m[v] = (mdbl[v] < kMacBound) ? m[v] * f : V{};
        }
      }
      V *macs = counter(N_MACS, r), *macs_u = counter(N_MACS_U, r), *macs_dead = counter(N_MACS_D, r);
      for (int v = 0; v < nv_; ++v) {
        bad_[v] |= ~(mdbl[v] < kMacBound);
        macs_d_[v] += mdbl[v];
        macs[v] = add_wrap(macs[v], m[v]);
        macs_u[v] = add_wrap(macs_u[v], ((u[v] >> r) & 1) != 0 ? m[v] : V{});
        macs_dead[v] = add_wrap(macs_dead[v], dead[v] ? m[v] : V{});
      }
    }
  }

  // -- the common case in one pass: one computed axis, one resolution ----------
  // The same rules as window_rules() + window() and merge(), every
  // intermediate in registers, one loop over the tile's vectors.

  // Parameters and MACs at resolution 0 of a window with (sp | glob) lanes;
  // (Z, A, J) = the output map's form on the computed axis.
  void window_cost(int64_t t, int v, V sp, V glob, V un, V dead, V taps, V Z, V A, V J) {
    const V *wt = node_v(t, F_WEIGHTED), *ci = node_v(t, F_C_IN), *co = node_v(t, F_C_OUT), *gr = node_v(t, F_GROUPS);
    const V has = (sp | glob) & (wt[v] != 0) & (ci[v] > 0) & (co[v] > 0);
    if (!any_lane(has)) return;
    V per = (gr[v] == 1) ? ci[v] : (gr[v] == ci[v]) ? splat(1) : V{};
    const V other = has & (gr[v] != 1) & (gr[v] != ci[v]);
    if (any_lane(other))
      for (int l = 0; l < kPer; ++l)
        if (other[l]) per[l] = ci[v][l] / gr[v][l];
    const V small = (co[v] < kSmall) & (per < kSmall);
    VD pd = to_double(small ? co[v] : V{}) * to_double(small ? per : V{});
    V P = (has & small) ? co[v] * per : V{};
    VD md = VD{} + 1.0;
    V m = splat(1);
    // every axis alike here (one computed axis): at a square resolution one map size, raised to D
    const bool square = Imax_[0] == Imin_[0];
    V f0{};
    for (int d = 0; d < D_; ++d) {
      pd *= to_double(taps);
      P = (pd < kMacBound) ? P * taps : V{};
      if (d == 0 || !square) {
        const int64_t I = I_[d];
        const V inside = splat(I) >= Z;  // then I + A >= J > 0
        f0 = glob ? splat(1) : inside ? floor_div(inside ? I + A : V{}, J) : V{};
      }
      md *= to_double(f0);
      m = (md < kMacBound) ? m * f0 : V{};
    }
    md *= pd;
    m = (md < kMacBound) ? m * P : V{};
    bad_[v] |= has & ~(small & (pd < kMacBound) & (md < kMacBound));
    params_[v] = add_wrap(params_[v], P);
    macs_d_[v] += has ? md + pd : VD{};
    V* macs = counter(N_MACS, 0);
    V* macs_u = counter(N_MACS_U, 0);
    V* macs_dead = counter(N_MACS_D, 0);
    macs[v] = add_wrap(macs[v], has ? m : V{});
    macs_u[v] = add_wrap(macs_u[v], (has & un) ? m : V{});
    macs_dead[v] = add_wrap(macs_dead[v], (has & dead) ? m : V{});
  }

  void window1(int64_t t) {
    const int64_t in = p_.pred[p_.pred_ptr[t]];
    const V *fi = fl(in), *ui = um(in);
    const V *J = ax(in, S_J, 0), *C2 = ax(in, S_C2, 0), *lo = ax(in, S_RMIN, 0), *hi = ax(in, S_RMAX, 0);
    const V *Z = ax(in, S_Z, 0), *A = ax(in, S_A, 0);
    V *fo = fl(t), *uo = um(t), *oJ = ax(t, S_J, 0), *oC = ax(t, S_C2, 0), *olo = ax(t, S_RMIN, 0);
    V *ohi = ax(t, S_RMAX, 0), *oZ = ax(t, S_Z, 0), *oA = ax(t, S_A, 0);
    const V *K = axis_v(t, F_KERNEL, 0), *S = axis_v(t, F_STRIDE, 0), *DL = axis_v(t, F_DILATION, 0);
    const V *PB = axis_v(t, F_PAD_BEGIN, 0), *PE = axis_v(t, F_PAD_END, 0);
    const V *pm = node_v(t, F_PAD_MODE), *cm = node_v(t, F_CEIL_MODE), *mode = node_v(t, F_MODE);
    const V* on = on_.data() + static_cast<size_t>(p_.scope[t]) * nvs_;
    const V Ihi = splat(Imax_[0]), Ilo = splat(Imin_[0]);
    V *nu = counter(N_U, 0), *nb = counter(N_B, 0), *nc = counter(N_C, 0), *np = counter(N_P, 0);
    const bool ignore = opt_.ignore_1x1;
    const V* lv = live(t);
    for (int v = 0; v < nv_; ++v) {
      const V md = on[v] ? mode[v] : splat(M_NONE);
      const Rules r = rules(K[v], S[v], DL[v], PB[v], PE[v], pm[v], cm[v]);
      const V k = r.k, st = S[v], z = r.z, c = r.c, cpad = r.cpad, ok = r.ok;
      const V rated = ignore ? (k != 1) : splat(-1);
      // the state (window())
      const V f = fi[v], conn = (f & FL_CONN) != 0, g = (f & FL_GLOBAL) != 0, node = md == M_NODE;
      const V pass = md == M_PASS;
      V sp = node & conn & ~g & ok;
      const V glob = node & conn & g;
      const V grow = (k - 1) * J[v];
      const V j = J[v] * st, rlo = lo[v] + grow, rhi = hi[v] + grow, c2 = C2[v] + grow - (cpad + cpad) * J[v];
      const V zo = vmax(Z[v], z * J[v] - A[v]), ao = A[v] + c * J[v];
      const V Ta = vmin(vmin(lo[v] + 1, rlo), splat(kNever));
      const V Tb = vmin(vmax(Z[v], grow + J[v] + J[v] - A[v]), splat(kNever));  // (k'+1) J - A
      const V out = (j > kBound) | (rhi > kBound) | (zo > kBound) | (ao > kBound) | (ao < -kBound) | (c2 > kBound) |
                    (c2 < -kBound);
      bad_[v] |= (node & conn & ~g & ~ok) | (sp & out);
      sp &= ~out;
      oJ[v] = pass ? J[v] : sp ? j : splat(1);
      oC[v] = pass ? C2[v] : sp ? c2 : V{};
      olo[v] = pass ? lo[v] : sp ? rlo : splat(1);
      ohi[v] = pass ? hi[v] : sp ? rhi : splat(1);
      oZ[v] = pass ? Z[v] : sp ? zo : splat(1);
      oA[v] = pass ? A[v] : sp ? ao : V{};
      const V dead = (sp | glob) & ~lv[v];  // counted apart: its cost, nothing else
      const V live_sp = sp & lv[v];
      n_dead_[v] -= dead;
      const V un = live_sp & rated & ((Ihi < Ta) | (Ihi < Tb));
      const V crit = live_sp & (Ihi < rlo);
      nu[v] -= un;
      nb[v] -= un & ((ui[v] & 1) == 0);
      nc[v] -= crit;
      np[v] -= live_sp & ~crit & (Ilo < rlo);
      const V present = conn ? (g ? (f & FL_CTX) | (FL_CONN | FL_GLOBAL | FL_ALIGNED) : (f & FL_CTX) | (FL_CONN | FL_ALIGNED))
                             : V{};
      fo[v] = (md == M_NONE) ? splat(FL_NONE) : pass ? f : present;
      uo[v] = pass ? ui[v] : sp ? (rated ? bit(un) : ui[v]) : V{};
      const V both = vmax(Ta, Tb), counted = live_sp & rated;
      imin_ax_[0][v] = counted ? vmax(imin_ax_[0][v], both) : imin_ax_[0][v];
      imin_sq_[v] = counted ? vmax(imin_sq_[v], both) : imin_sq_[v];
      rfmax_[0][v] = live_sp ? vmax(rfmax_[0][v], rhi) : rfmax_[0][v];
      imax_[0][v] = live_sp ? vmax(imax_[0][v], rhi) : imax_[0][v];
      window_cost(t, v, sp, glob, un, dead, K[v], zo, ao, j);  // parameters count kernel taps, not the dilated extent
    }
  }

  void merge1(int64_t t) {
    const int32_t* pb = p_.pred.data() + p_.pred_ptr[t];
    const int64_t n_in = p_.n_preds(t);
    const V* mode = node_v(t, F_MODE);
    const V* on = on_.data() + static_cast<size_t>(p_.scope[t]) * nvs_;
    const V Ihi = splat(Imax_[0]), Ilo = splat(Imin_[0]);
    V *nc = counter(N_C, 0), *np = counter(N_P, 0);
    V *fo = fl(t), *uo = um(t), *oJ = ax(t, S_J, 0), *oC = ax(t, S_C2, 0), *olo = ax(t, S_RMIN, 0);
    V *ohi = ax(t, S_RMAX, 0), *oZ = ax(t, S_Z, 0), *oA = ax(t, S_A, 0);
    const V* lv = live(t);
    for (int v = 0; v < nv_; ++v) {
      const V none = on[v] ? (mode[v] == M_NONE) : splat(-1);
      V any_conn{}, any_glob{}, ctx{}, have{}, aligned = splat(-1), mask{}, bad{};
      V J{}, C2{}, A{}, Z = splat(1), lo = splat(kInt64Max), hi{};
      for (int64_t e = 0; e < n_in; ++e) {
        const int64_t q = pb[e];
        const V f = fl(q)[v];
        const V conn = (f & FL_CONN) != 0, glob = (f & FL_GLOBAL) != 0;
        mask |= um(q)[v];
        any_conn |= conn;
        ctx |= conn & f & FL_CTX;
        any_glob |= conn & glob;
        const V sp = conn & ~glob, first = sp & ~have, other = sp & have;
        have |= sp;
        const V qJ = ax(q, S_J, 0)[v], qC = ax(q, S_C2, 0)[v], qZ = ax(q, S_Z, 0)[v], qA = ax(q, S_A, 0)[v];
        aligned &= ~(other & ((qJ != J) | (qC != C2)));
        J = first ? qJ : J;
        C2 = first ? qC : C2;
        lo = sp ? vmin(lo, ax(q, S_RMIN, 0)[v]) : lo;
        hi = sp ? vmax(hi, ax(q, S_RMAX, 0)[v]) : hi;
        const V same_q = qJ == J;
        const V they = same_q & (qA >= A) & (qZ <= Z), we = same_q & (A >= qA) & (Z <= qZ);
        const V take = first | (other & they);
        bad |= other & ~they & ~we;
        Z = take ? qZ : Z;
        A = take ? qA : A;
      }
      const V sp = ~none & have;
      const V flags = (any_conn & ~have) ? ctx | (FL_CONN | FL_GLOBAL | FL_ALIGNED)
                                          : (aligned & FL_ALIGNED) | ((ctx | any_glob) != 0 ? splat(FL_CTX) : V{}) | FL_CONN;
      fo[v] = none ? splat(FL_NONE) : any_conn ? flags : V{};
      uo[v] = none ? V{} : mask;
      oJ[v] = sp ? J : splat(1);
      oC[v] = sp ? C2 : V{};
      olo[v] = sp ? lo : splat(1);
      ohi[v] = sp ? hi : splat(1);
      oZ[v] = sp ? Z : splat(1);
      oA[v] = sp ? A : V{};
      bad_[v] |= ~none & bad;
      aligned_[v] &= ~sp | aligned;
      const V live_sp = sp & lv[v];  // dead merges are not counted
      const V crit = live_sp & (Ihi < lo);
      nc[v] -= crit;
      np[v] -= live_sp & ~crit & (Ilo < lo);
      rfmax_[0][v] = live_sp ? vmax(rfmax_[0][v], hi) : rfmax_[0][v];
    }
  }

  // -- results -----------------------------------------------------------------
  void write(bool first_pass) {
    const V* out_fl = fl(p_.T - 1);
    for (int w = 0; w < nb_; ++w) {
      const int v = w / kPer, l = w % kPer;
      const int64_t b = b0_ + w;
      const bool bad = bad_[v][l] != 0 || !(macs_d_[v][l] < kMacBound);
      if (out_.materialized && first_pass) out_.materialized[b] = bad;
      if (bad) {
        if (first_pass) analyze_candidate(p_, c_, b, res_, R_, opt_, out_, scratch_);
        continue;
      }
      for (int64_t r = 0; r < Rc_; ++r) {
        const int64_t o = b * R_ + r0_ + r;
        out_.n_unproductive[o] = counter(N_U, r)[v][l];
        out_.n_border[o] = counter(N_B, r)[v][l];
        out_.n_critical[o] = counter(N_C, r)[v][l];
        out_.n_partially_critical[o] = counter(N_P, r)[v][l];
        out_.macs[o] = counter(N_MACS, r)[v][l];
        out_.macs_unproductive[o] = counter(N_MACS_U, r)[v][l];
        out_.macs_dead[o] = counter(N_MACS_D, r)[v][l];
      }
      if (!first_pass) continue;
      const bool conn = (out_fl[v][l] & FL_CONN) != 0;
      out_.connected[b] = conn;
      out_.aligned[b] = aligned_[v][l] != 0;
      out_.params[b] = params_[v][l];
      out_.n_dead[b] = n_dead_[v][l];
      double imax = kNaN;
      for (int d = 0; d < D_; ++d) {
        const int e = d < Dc_ ? d : 0;
        const int64_t rf = rfmax_[e][v][l], im = imax_[e][v][l];
        out_.rf_max[b * D_ + d] = rf < 0 ? kNaN : static_cast<double>(rf);
        const double imd = im < 0 ? kNaN : static_cast<double>(im);
        out_.i_max_axes[b * D_ + d] = imd;
        if (!std::isnan(imd) && (std::isnan(imax) || imd > imax)) imax = imd;
        out_.i_min_axes[b * D_ + d] = (opt_.i_min && conn) ? as_resolution(imin_ax_[e][v][l]) : kNaN;
      }
      out_.i_max[b] = imax;
      out_.i_min[b] = (opt_.i_min && conn) ? as_resolution(imin_sq_[v][l]) : kNaN;
    }
  }
};

}  // namespace

// The tiles [t0, t1) of a screen, every pass over the resolutions.
void run_tiles(const Program& p, const Candidates& c, const int64_t* res, int64_t R, const Options& opt,
               const Outputs& out, int64_t t0, int64_t t1) {
  Tile tile(p, c, res, R, opt, out);
  for (int64_t r0 = 0; r0 < R; r0 += kMaxR) {
    tile.set_resolutions(r0, std::min<int64_t>(kMaxR, R - r0));
    for (int64_t k = t0; k < t1; ++k) {
      const int64_t b0 = k * kLanes;
      tile.run(b0, std::min<int64_t>(kLanes, c.B - b0), r0 == 0);
    }
  }
}
