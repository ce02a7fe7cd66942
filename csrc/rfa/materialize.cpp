#include "materialize.hpp"

#include <string>

#include "engine.hpp"

namespace rfa {

void GraphArrays::clear() {
  op.clear();
  pad_mode.clear();
  ceil_mode.clear();
  mode.clear();
  weighted.clear();
  kernel.clear();
  stride.clear();
  dilation.clear();
  pad_begin.clear();
  pad_end.clear();
  pred.clear();
  scale.clear();
  c_in.clear();
  c_out.clear();
  groups.clear();
  pred_ptr.assign(1, 0);
  origin.clear();
}

Batch GraphArrays::batch() const {
  Batch b;
  b.B = 1;
  b.N = static_cast<int64_t>(op.size());
  b.E = static_cast<int64_t>(pred.size());
  b.D = D;
  b.graph_ptr = graph_ptr.data();
  b.op = op.data();
  b.kernel = kernel.data();
  b.stride = stride.data();
  b.dilation = dilation.data();
  b.pad_begin = pad_begin.data();
  b.pad_end = pad_end.data();
  b.pad_mode = pad_mode.data();
  b.ceil_mode = ceil_mode.data();
  b.scale = scale.data();
  b.mode = mode.data();
  b.weighted = weighted.data();
  b.c_in = c_in.data();
  b.c_out = c_out.data();
  b.groups = groups.data();
  b.pred_ptr = pred_ptr.data();
  b.pred = pred.data();
  return b;
}

namespace {

// Appends one node; t < 0 is a constant (a MERGE without inputs).
int64_t emit(const Program& p, const Candidates& c, int64_t b, int64_t t, const std::vector<int64_t>& inputs,
             GraphArrays& g) {
  const int D = p.D;
  const bool konst = t < 0;
  g.op.push_back(konst ? MERGE : p.kind[t]);
  for (int d = 0; d < D; ++d) {
    auto ax = [&](int f, int64_t unit) { return konst ? unit : param_value(p, c, p.axis_param(t, f, d), b); };
    g.kernel.push_back(static_cast<int32_t>(ax(F_KERNEL, 1)));
    g.stride.push_back(static_cast<int32_t>(ax(F_STRIDE, 1)));
    g.dilation.push_back(static_cast<int32_t>(ax(F_DILATION, 1)));
    g.pad_begin.push_back(static_cast<int32_t>(ax(F_PAD_BEGIN, 0)));
    g.pad_end.push_back(static_cast<int32_t>(ax(F_PAD_END, 0)));
    g.scale.push_back(konst ? 1.0 : p.scale[t * D + d]);
  }
  auto nd = [&](int f, int64_t unit) { return konst ? unit : param_value(p, c, p.node_param(t, f), b); };
  g.pad_mode.push_back(static_cast<uint8_t>(nd(F_PAD_MODE, EXPLICIT)));
  g.ceil_mode.push_back(static_cast<uint8_t>(nd(F_CEIL_MODE, 0)));
  g.mode.push_back(konst ? NEAREST : p.resize_mode[t]);
  g.weighted.push_back(static_cast<uint8_t>(nd(F_WEIGHTED, 0)));
  g.c_in.push_back(nd(F_C_IN, 0));
  g.c_out.push_back(nd(F_C_OUT, 0));
  g.groups.push_back(nd(F_GROUPS, 1));
  for (int64_t x : inputs) g.pred.push_back(static_cast<int32_t>(x));
  g.pred_ptr.push_back(static_cast<int64_t>(g.pred.size()));
  g.origin.push_back(t);
  return static_cast<int64_t>(g.op.size()) - 1;
}

}  // namespace

void materialize(const Program& p, const Candidates& c, int64_t b, GraphArrays& g) {
  g.clear();
  g.D = p.D;
  std::vector<int64_t> ref(p.T, -1), inputs;  // graph node standing for each template node (-1: none)
  // scope s is on when its parent is and its parameter says so (parents come first)
  std::vector<uint8_t> on(p.scope_parent.size(), 1);
  for (size_t s = 1; s < on.size(); ++s)
    on[s] = on[p.scope_parent[s]] && param_value(p, c, p.scope_param[s], b) != 0;
  for (int64_t t = 0; t < p.T; ++t) {
    const int64_t mode = on[p.scope[t]] ? param_value(p, c, p.node_param(t, F_MODE), b) : MODE_NONE;
    const uint8_t k = p.kind[t];
    const int32_t* pb = p.pred.data() + p.pred_ptr[t];
    const int64_t n_in = p.n_preds(t);
    if (mode == MODE_NONE) continue;
    if (k == SELECT) {
      const int64_t v = param_value(p, c, p.node_param(t, F_SEL), b);
      ref[t] = v < 0 ? -1 : ref[pb[v]];
      continue;
    }
    if (mode == MODE_PASS) {
      ref[t] = ref[pb[0]];
      continue;
    }
    inputs.clear();
    for (int64_t e = 0; e < n_in; ++e)
      if (ref[pb[e]] >= 0 || !(k == MERGE || k == GLOBAL)) inputs.push_back(ref[pb[e]]);
    if (k == MERGE && p.collapse[t] && inputs.size() <= 1) {
      ref[t] = inputs.empty() ? -1 : inputs[0];
      continue;
    }
    if (k == GLOBAL && inputs.empty()) inputs.push_back(-1);
    for (int64_t& x : inputs)
      if (x < 0) x = emit(p, c, b, -1, {}, g);
    ref[t] = emit(p, c, b, t, inputs, g);
  }
  g.graph_ptr = {0, static_cast<int64_t>(g.op.size())};
}

void analyze_candidate(const Program& p, const Candidates& c, int64_t b, const int64_t* res, int64_t R,
                       const Options& opt, const Outputs& out, GraphArrays& scratch) {
  materialize(p, c, b, scratch);
  const Batch one = scratch.batch();
  Outputs o = out;  // the per-graph arrays of candidate b
  const int64_t D = p.D;
  o.n_unproductive += b * R;
  o.n_border += b * R;
  o.n_critical += b * R;
  o.n_partially_critical += b * R;
  o.macs += b * R;
  o.macs_unproductive += b * R;
  o.macs_dead += b * R;
  o.n_dead += b;
  o.i_min += b;
  o.i_min_axes += b * D;
  o.i_max_axes += b * D;
  o.i_max += b;
  o.rf_max += b * D;
  o.connected += b;
  o.aligned += b;
  o.params += b;
  Options one_thread = opt;
  one_thread.threads = 1;
  try {
    analyze(one, res, R, one_thread, o);
  } catch (const BatchError& e) {
    const int64_t node = e.node() >= 0 && e.node() < static_cast<int64_t>(scratch.origin.size()) ? scratch.origin[e.node()] : -1;
    throw BatchError(b, node, "candidate " + std::to_string(b) + ": " + e.what());
  }
}

}  // namespace rfa
