// screen_nb201: NAS-Bench-201 cells in closed form.
#include "common.hpp"
#include "rfa/nb201.hpp"

namespace rfa_bind {
namespace {

py::dict screen_nb201(const py::array& ops, const py::array& resolutions, const py::array& channels,
                     int64_t num_classes, int64_t cells_per_stage, bool ignore_1x1, int threads, bool i_min) {
  py::dict in;
  in["ops"] = ops;
  in["channels"] = channels;
  py::array keep[3];
  rfa::Nb201 n;
  n.ops = get<uint8_t>(in, "ops", 2, -1, 6, &keep[0]);
  n.B = keep[0].shape(0);
  const int64_t* ch = get<int64_t>(in, "channels", 1, 3, -1, &keep[1]);
  for (int s = 0; s < 3; ++s) {
    if (ch[s] < 1 || ch[s] > (int64_t(1) << 31)) raise_graph_error("channels must be in 1..2^31");
    n.channels[s] = ch[s];
  }
  if (num_classes < 1 || num_classes > (int64_t(1) << 31)) raise_graph_error("num_classes must be in 1..2^31");
  if (cells_per_stage < 0 || cells_per_stage > 1000) raise_graph_error("cells_per_stage must be in 0..1000");
  n.num_classes = num_classes;
  n.cells_per_stage = cells_per_stage;
  int64_t R = 0;
  const int64_t* res = get_resolutions(resolutions, 1, &R, &keep[2]);
  rfa::Options opt;
  opt.ignore_1x1 = ignore_1x1;
  opt.threads = check_threads(threads);
  opt.i_min = i_min;
  check_memory(static_cast<double>(n.B) * (static_cast<double>(R) * 6 + 2 * 3 + 4) * 8, "this NAS-Bench-201 batch");
  py::dict out;
  rfa::Outputs o;
  alloc_graph_outputs(out, o, n.B, R, 2);
  without_gil([&] { rfa::screen_nb201(n, res, R, opt, o); });
  return out;
}

}  // namespace

void register_nb201(py::module_& m) {
  m.def("screen_nb201", &screen_nb201, py::arg("ops"), py::arg("resolutions"), py::arg("channels"),
        py::arg("num_classes"), py::arg("cells_per_stage"), py::arg("ignore_1x1") = false, py::arg("threads") = 0,
        py::arg("i_min") = true);
}

}  // namespace rfa_bind
