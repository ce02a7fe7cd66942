#include "program.hpp"

#include <algorithm>
#include <string>

#include "arith.hpp"

namespace rfa {
namespace {

[[noreturn]] void fail(int64_t t, const std::string& msg) {
  throw BatchError(-1, t, (t >= 0 ? "template node " + std::to_string(t) + ": " : std::string("program: ")) + msg);
}

bool one_input(uint8_t k) { return k == WINDOW || k == TRANSPOSED || k == RESIZE || k == IDENTITY; }

const char* const kAxisNames[kAxisFields] = {"kernel", "stride", "dilation", "pad_begin", "pad_end"};
const char* const kNodeNames[kNodeFields] = {"mode", "pad_mode", "ceil_mode", "weighted", "c_in", "c_out", "groups", "sel"};

void field_range(const Program& p, int64_t t, int f, int64_t& lo, int64_t& hi) {
  const int nax = kAxisFields * p.D;
  if (f < nax) {
    const int a = f / p.D;
    if (a == F_PAD_BEGIN || a == F_PAD_END) {
      lo = -kMaxPad;
      hi = kMaxPad;
    } else {
      lo = 1;
      hi = kMaxWindowParam;
    }
    return;
  }
  switch (f - nax) {
    case F_MODE: lo = 0; hi = 2; return;
    case F_PAD_MODE: lo = 0; hi = kNumPadModes - 1; return;
    case F_CEIL_MODE:
    case F_WEIGHTED: lo = 0; hi = 1; return;
    case F_C_IN:
    case F_C_OUT: lo = 0; hi = kInt64Max; return;
    case F_GROUPS: lo = 1; hi = kInt64Max; return;
    default: lo = -1; hi = p.n_preds(t) - 1; return;  // F_SEL
  }
}

}  // namespace

const char* field_name(const Program& p, int f) {
  const int nax = kAxisFields * p.D;
  if (f < 0) return "scope";
  return f < nax ? kAxisNames[f / p.D] : kNodeNames[f - nax];
}

void finish_program(Program& p) {
  if (p.D < 1 || p.D > 3) fail(-1, "D must be 1, 2 or 3");
  const int64_t T = p.T;
  if (T < 1) fail(-1, "a program needs at least one node");
  const auto P = static_cast<int64_t>(p.params.size());
  const auto S = static_cast<int64_t>(p.scope_parent.size());
  const auto K = static_cast<int64_t>(p.key_size.size());
  const int NF = p.NF();
  if (static_cast<int64_t>(p.kind.size()) != T || static_cast<int64_t>(p.pred_ptr.size()) != T + 1 ||
      static_cast<int64_t>(p.collapse.size()) != T || static_cast<int64_t>(p.scope.size()) != T ||
      static_cast<int64_t>(p.field_param.size()) != T * NF || static_cast<int64_t>(p.scale.size()) != T * p.D ||
      static_cast<int64_t>(p.resize_mode.size()) != T)
    fail(-1, "per-node arrays disagree on the number of nodes");
  if (S < 1 || static_cast<int64_t>(p.scope_param.size()) != S) fail(-1, "scope arrays disagree (scope 0 is needed)");
  if (static_cast<int64_t>(p.n_options.size()) != p.C) fail(-1, "n_options must have one entry per choice column");
  for (int64_t c = 0; c < p.C; ++c)
    if (p.n_options[c] < 1) fail(-1, "choice column " + std::to_string(c) + " has no options");
  if (static_cast<int64_t>(p.column_width.size()) != p.n_column_arrays) fail(-1, "column_width has the wrong length");

  // keys: digits of a mixed-radix index over choice columns
  if (static_cast<int64_t>(p.key_ptr.size()) != K + 1 || p.key_ptr[0] != 0 ||
      p.key_ptr[K] != static_cast<int64_t>(p.key_col.size()) || p.key_col.size() != p.key_mult.size())
    fail(-1, "key arrays disagree");
  for (int64_t k = 0; k < K; ++k) {
    if (p.key_ptr[k + 1] < p.key_ptr[k]) fail(-1, "key_ptr decreases");
    int64_t top = 0;
    for (int64_t j = p.key_ptr[k]; j < p.key_ptr[k + 1]; ++j) {
      const int32_t c = p.key_col[j];
      if (c < 0 || c >= p.C) fail(-1, "key " + std::to_string(k) + " names choice column " + std::to_string(c));
      bool ok = true;
      top = add_chk(top, mul_chk(p.n_options[c] - 1, p.key_mult[j], ok), ok);
      if (!ok || p.key_mult[j] < 0) fail(-1, "key " + std::to_string(k) + " has a bad weight");
    }
    if (top >= p.key_size[k]) fail(-1, "key " + std::to_string(k) + " indexes past its table");
  }
  const auto pool_n = static_cast<int64_t>(p.pool.size());
  for (int64_t i = 0; i < P; ++i) {
    Param& q = p.params[i];
    q.lo = INT64_MIN;
    q.hi = INT64_MAX;
    if (q.kind == P_TABLE) {
      if (q.key < 0 || q.key >= K) fail(-1, "parameter " + std::to_string(i) + " names a missing key");
      if (q.value < 0 || q.value > pool_n - p.key_size[q.key])
        fail(-1, "parameter " + std::to_string(i) + " reads past the table pool");
    } else if (q.kind == P_COLUMN) {
      if (q.value < 0 || q.value >= p.n_column_arrays || q.key < 0 || q.key >= p.column_width[q.value])
        fail(-1, "parameter " + std::to_string(i) + " names a missing column");
    } else if (q.kind != P_CONST) {
      fail(-1, "parameter " + std::to_string(i) + " has kind " + std::to_string(q.kind));
    }
  }
  p.param_node.assign(P, -1);
  p.param_field.assign(P, 0);
  p.param_no_pass.assign(P, 0);
  auto use = [&](int32_t id, int64_t t, int f, int64_t lo, int64_t hi) {
    if (id < 0 || id >= P) fail(t, std::string(field_name(p, f)) + " names parameter " + std::to_string(id));
    Param& q = p.params[id];
    if (p.param_node[id] < 0) {
      p.param_node[id] = t;
      p.param_field[id] = f;
    }
    q.lo = std::max(q.lo, lo);
    q.hi = std::min(q.hi, hi);
  };

  // scopes
  if (p.scope_parent[0] != -1 || p.scope_param[0] != -1) fail(-1, "scope 0 is the root: no parent, no parameter");
  for (int64_t s = 1; s < S; ++s) {
    if (p.scope_parent[s] < 0 || p.scope_parent[s] >= s) fail(-1, "scope " + std::to_string(s) + " has a bad parent");
  }

  // nodes
  for (int64_t t = 0; t < T; ++t) {
    const uint8_t k = p.kind[t];
    if (k > SELECT) fail(t, "kind " + std::to_string(k) + " is not 0..7");
    if (p.pred_ptr[t + 1] < p.pred_ptr[t] || p.pred_ptr[t] < 0 || p.pred_ptr[t + 1] > static_cast<int64_t>(p.pred.size()))
      fail(t, "pred_ptr is out of range or decreases");
    for (int64_t e = p.pred_ptr[t]; e < p.pred_ptr[t + 1]; ++e)
      if (p.pred[e] < 0 || p.pred[e] >= t) fail(t, "input " + std::to_string(p.pred[e]) + " is not an earlier node");
    const int64_t n_in = p.n_preds(t);
    if (k == INPUT && n_in != 0) fail(t, "an INPUT takes no inputs");
    if (one_input(k) && n_in != 1) fail(t, "this kind takes exactly one input");
    if (k == GLOBAL && n_in < 1) fail(t, "a GLOBAL node needs an input");
    if (p.collapse[t] > 1 || (p.collapse[t] && k != MERGE)) fail(t, "only a MERGE may collapse");
    if (p.scope[t] < 0 || p.scope[t] >= S) fail(t, "scope " + std::to_string(p.scope[t]) + " does not exist");
    if (k == RESIZE) {
      for (int d = 0; d < p.D; ++d) {
        Fraction f;
        if (!to_fraction(p.scale[t * p.D + d], f))
          fail(t, "resize scale on axis " + std::to_string(d) + " is not a positive ratio p/q with q <= 4096");
      }
    }
    if (p.resize_mode[t] >= kNumResizeModes) fail(t, "resize mode is not 0..2");
    if (k == TRANSPOSED || k == RESIZE) p.lanes_ok = false;
    for (int f = 0; f < NF; ++f) {
      int64_t lo, hi;
      field_range(p, t, f, lo, hi);
      if (f == kAxisFields * p.D + F_SEL && k != SELECT) {
        lo = INT64_MIN;  // only a SELECT reads its sel
        hi = INT64_MAX;
      }
      use(p.field_param[t * NF + f], t, f, lo, hi);
    }
    if (!one_input(k)) p.param_no_pass[p.node_param(t, F_MODE)] = 1;
  }
  for (int64_t s = 1; s < S; ++s) {
    // a scope's parameter is read before any node of it: name the first node in it
    int64_t t0 = 0;
    while (t0 < T && p.scope[t0] != s) ++t0;
    use(p.scope_param[s], t0 < T ? t0 : -1, -1, 0, 1);
  }
  // the output is the last node, present in every candidate
  const int32_t out_mode = p.node_param(T - 1, F_MODE);
  if (p.kind[T - 1] == SELECT || p.scope[T - 1] != 0 || p.collapse[T - 1] || p.params[out_mode].kind != P_CONST ||
      p.params[out_mode].value != MODE_NODE)
    fail(T - 1, "the output (last node) must be a node present in every candidate, not a choice");

  // constant and tabled values are checked once, here
  for (int64_t i = 0; i < P; ++i) {
    const Param& q = p.params[i];
    if (p.param_node[i] < 0) continue;  // unused
    auto check = [&](int64_t v) {
      if (v < q.lo || v > q.hi || (p.param_no_pass[i] && v == MODE_PASS)) {
        const int f = p.param_field[i];
        fail(p.param_node[i], std::string(field_name(p, f)) + " can be " + std::to_string(v) +
                                  (p.param_no_pass[i] && v == MODE_PASS ? " (a pass-through of a node without one input)"
                                                                       : ", must be in " + std::to_string(q.lo) + ".." +
                                                                             std::to_string(q.hi)));
      }
    };
    if (q.kind == P_CONST) check(q.value);
    if (q.kind == P_TABLE)
      for (int64_t j = 0; j < p.key_size[q.key]; ++j) check(p.pool[q.value + j]);
  }

  // isotropic: every per-axis field reads the same parameter (or equal constants) on every axis
  p.isotropic = true;
  for (int64_t t = 0; t < T && p.isotropic; ++t) {
    for (int f = 0; f < kAxisFields; ++f)
      for (int d = 1; d < p.D; ++d) {
        const Param &a = p.params[p.axis_param(t, f, 0)], &b = p.params[p.axis_param(t, f, d)];
        if (p.axis_param(t, f, 0) != p.axis_param(t, f, d) && !(a.kind == P_CONST && b.kind == P_CONST && a.value == b.value))
          p.isotropic = false;
      }
  }

  p.varying.clear();
  p.tabled.clear();
  p.column_param.assign(p.n_column_arrays, {});
  p.column_index.assign(p.n_column_arrays, {});
  for (int64_t i = 0; i < P; ++i) {
    const Param& q = p.params[i];
    if (q.kind == P_CONST || p.param_node[i] < 0) continue;
    p.varying.push_back(static_cast<int32_t>(i));
    if (q.kind == P_TABLE) {
      p.tabled.push_back(static_cast<int32_t>(i));
    } else {
      p.column_param[q.value].push_back(static_cast<int32_t>(i));
      p.column_index[q.value].push_back(q.key);
    }
  }

  // state slots, reused after a node's last reader (the output is read at the end)
  std::vector<int64_t> last(T);
  for (int64_t t = 0; t < T; ++t) last[t] = t;
  for (int64_t t = 0; t < T; ++t)
    for (int64_t e = p.pred_ptr[t]; e < p.pred_ptr[t + 1]; ++e) last[p.pred[e]] = t;
  last[T - 1] = T;
  std::vector<std::vector<int64_t>> free_at(T + 1);
  for (int64_t t = 0; t < T; ++t) free_at[last[t]].push_back(t);
  std::vector<int32_t> free_slots;
  p.slot.assign(T, -1);
  p.n_slots = 0;
  for (int64_t t = 0; t < T; ++t) {
    if (free_slots.empty()) {
      p.slot[t] = static_cast<int32_t>(p.n_slots++);
    } else {
      p.slot[t] = free_slots.back();
      free_slots.pop_back();
    }
    for (int64_t u : free_at[t]) free_slots.push_back(p.slot[u]);
  }
}

int64_t param_value(const Program& p, const Candidates& c, int32_t id, int64_t b) {
  const Param& q = p.params[id];
  if (q.kind == P_CONST) return q.value;
  int64_t v;
  if (q.kind == P_TABLE) {
    int64_t key = 0;
    for (int64_t j = p.key_ptr[q.key]; j < p.key_ptr[q.key + 1]; ++j)
      key += c.row(b, p.C, p.key_col[j]) * p.key_mult[j];
    v = p.pool[q.value + key];
  } else {
    v = c.column(q.value, b, q.key);
    if (v < q.lo || v > q.hi || (p.param_no_pass[id] && v == MODE_PASS)) bad_value(p, b, id, v);
  }
  return v;
}

void bad_value(const Program& p, int64_t b, int32_t id, int64_t v) {
  const Param& q = p.params[id];
  const int64_t t = p.param_node[id];
  const bool pass = p.param_no_pass[id] && v == MODE_PASS;
  throw BatchError(b, t,
                   "candidate " + std::to_string(b) + ", template node " + std::to_string(t) + ": " +
                       field_name(p, p.param_field[id]) + " is " + std::to_string(v) +
                       (pass ? ", a pass-through of a node without one input"
                             : ", must be in " + std::to_string(q.lo) + ".." + std::to_string(q.hi)));
}

}  // namespace rfa
