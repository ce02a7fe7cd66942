// analyze_batch: a packed batch of graphs (DESIGN.md "Data model") through
// validation and the general engine.
#include <algorithm>
#include <thread>

#include "common.hpp"
#include "rfa/engine.hpp"
#include "rfa/parallel.hpp"
#include "rfa/validate.hpp"

namespace rfa_bind {
namespace {

py::dict analyze_batch(const py::dict& arrays, const py::array& resolutions, bool ignore_1x1, int threads,
                       bool per_node, bool i_min, bool force_passes) {
  rfa::Batch b;
  py::array keep[19];
  const int64_t* gp = get<int64_t>(arrays, "graph_ptr", 1, -1, -1, &keep[0]);
  b.B = keep[0].shape(0) - 1;
  if (b.B < 1) raise_graph_error("a batch needs at least one graph (graph_ptr has length >= 2)");
  b.graph_ptr = gp;
  b.op = get<uint8_t>(arrays, "op", 1, -1, -1, &keep[1]);
  b.N = keep[1].shape(0);
  b.kernel = get<int32_t>(arrays, "kernel", 2, b.N, -1, &keep[2]);
  b.D = static_cast<int>(keep[2].shape(1));
  if (b.D < 1 || b.D > 3) raise_graph_error("kernel must have 1, 2 or 3 columns (spatial axes), has " + std::to_string(b.D));
  b.stride = get<int32_t>(arrays, "stride", 2, b.N, b.D, &keep[3]);
  b.dilation = get<int32_t>(arrays, "dilation", 2, b.N, b.D, &keep[4]);
  b.pad_begin = get<int32_t>(arrays, "pad_begin", 2, b.N, b.D, &keep[5]);
  b.pad_end = get<int32_t>(arrays, "pad_end", 2, b.N, b.D, &keep[6]);
  b.pad_mode = get<uint8_t>(arrays, "pad_mode", 1, b.N, -1, &keep[7]);
  b.ceil_mode = get<uint8_t>(arrays, "ceil_mode", 1, b.N, -1, &keep[8]);
  b.scale = get<double>(arrays, "scale", 2, b.N, b.D, &keep[9]);
  b.mode = get<uint8_t>(arrays, "mode", 1, b.N, -1, &keep[10]);
  b.weighted = get<uint8_t>(arrays, "weighted", 1, b.N, -1, &keep[11]);
  b.c_in = get<int64_t>(arrays, "c_in", 1, b.N, -1, &keep[12]);
  b.c_out = get<int64_t>(arrays, "c_out", 1, b.N, -1, &keep[13]);
  b.groups = get<int64_t>(arrays, "groups", 1, b.N, -1, &keep[14]);
  b.pred_ptr = get<int64_t>(arrays, "pred_ptr", 1, b.N + 1, -1, &keep[15]);
  b.pred = get<int32_t>(arrays, "pred", 1, -1, -1, &keep[16]);
  b.E = keep[16].shape(0);
  // optional: without it the last node of each graph is its output
  if (arrays.contains("output")) b.output = get<uint8_t>(arrays, "output", 1, b.N, -1, &keep[18]);
  int64_t R = 0;
  const int64_t* res = get_resolutions(resolutions, b.D, &R, &keep[17]);
  rfa::Options opt;
  opt.ignore_1x1 = ignore_1x1;
  opt.threads = check_threads(threads);
  opt.i_min = i_min;
  opt.force_passes = force_passes;

  {
    int64_t largest = 0;  // per-thread scratch grows with the largest graph
    for (int64_t g = 0; g < b.B; ++g) largest = std::max(largest, gp[g + 1] - gp[g]);
    largest = std::min(largest, b.N);  // a bad graph_ptr is for validation to report
    const double D = b.D, nr = static_cast<double>(R);
    double bytes = static_cast<double>(b.B) * (nr * 6 + D * 3 + 4) * 8;
    if (per_node) bytes += static_cast<double>(b.N) * (D * 32 + 13 + nr * (D * 8 + 9));
    bytes += static_cast<double>(largest) * (D * 120 + 16) * std::max(1, rfa::resolve_threads(threads));
    check_memory(bytes, "this batch");
  }
  py::dict out;
  rfa::Outputs o;
  alloc_graph_outputs(out, o, b.B, R, b.D);
  if (per_node) {
    const py::ssize_t N = b.N, D = b.D;
    o.node_rf_min = alloc<double>(out, "rf_min", {N, D});
    o.node_rf_max = alloc<double>(out, "rf_max", {N, D});
    o.node_jump = alloc<double>(out, "jump", {N, D});
    o.node_center = alloc<double>(out, "center", {N, D});
    o.node_connected = alloc_bool(out, "node_connected", {N});
    o.node_global = alloc_bool(out, "is_global", {N});
    o.node_global_context = alloc_bool(out, "global_context", {N});
    o.node_aligned = alloc_bool(out, "node_aligned", {N});
    o.node_params = alloc<int64_t>(out, "node_params", {N});
    o.node_fmap = alloc<int64_t>(out, "fmap", {R, N, D});
    o.node_status = alloc<uint8_t>(out, "status", {R, N});
    o.node_macs = alloc<int64_t>(out, "node_macs", {R, N});
  }
  without_gil([&] {
    rfa::validate(b, opt.threads);
    rfa::analyze(b, res, R, opt, o);
  });
  return out;
}

}  // namespace

void register_batch(py::module_& m) {
  m.def("analyze_batch", &analyze_batch, py::arg("arrays"), py::arg("resolutions"), py::arg("ignore_1x1") = false,
        py::arg("threads") = 0, py::arg("per_node") = false, py::arg("i_min") = true,
        py::arg("force_passes") = false);
  m.def("hardware_threads", []() { return static_cast<int>(std::thread::hardware_concurrency()); });
}

}  // namespace rfa_bind
