// screen_chains: B chains of L windows as [B, L, D] arrays (the dense path).
#include "common.hpp"
#include "rfa/chains.hpp"

namespace rfa_bind {
namespace {

py::dict screen_chains(const py::array& kernel, const py::array& stride, const py::array& dilation,
                       const py::array& pad_begin, const py::array& pad_end, const py::array& channels,
                       const py::array& resolutions, bool ignore_1x1, int threads) {
  py::dict in;
  in["kernel"] = kernel;
  in["stride"] = stride;
  in["dilation"] = dilation;
  in["pad_begin"] = pad_begin;
  in["pad_end"] = pad_end;
  in["channels"] = channels;
  py::array keep[7];
  rfa::Chains c;
  c.kernel = get<int32_t>(in, "kernel", 3, -1, -1, &keep[0]);
  c.B = keep[0].shape(0);
  c.L = keep[0].shape(1);
  c.D = static_cast<int>(keep[0].shape(2));
  if (c.D < 1 || c.D > 3) raise_graph_error("kernel must be [B, L, D] with D in 1..3");
  auto same = [&](const char* name, int i) {
    const int32_t* p = get<int32_t>(in, name, 3, c.B, -1, &keep[i]);
    if (keep[i].shape(1) != c.L || keep[i].shape(2) != c.D)
      raise_graph_error(std::string("chain array '") + name + "' must have the shape of kernel [B, L, D]");
    return p;
  };
  c.stride = same("stride", 1);
  c.dilation = same("dilation", 2);
  if (pad_begin.size() > 0 || pad_end.size() > 0) {
    c.pad_begin = same("pad_begin", 3);
    c.pad_end = same("pad_end", 4);
  }
  {
    py::array ch = in["channels"].cast<py::array>();
    if (ch.size() > 0) {
      c.channels = get<int64_t>(in, "channels", 2, c.B, c.L + 1, &keep[5]);
    }
  }
  int64_t R = 0;
  const int64_t* res = get_resolutions(resolutions, c.D, &R, &keep[6]);
  rfa::Options opt;
  opt.ignore_1x1 = ignore_1x1;
  opt.threads = check_threads(threads);
  check_memory(static_cast<double>(c.B) * (static_cast<double>(R) * 6 + c.D * 3 + 4) * 8, "this chain batch");
  py::dict out;
  rfa::Outputs o;
  alloc_graph_outputs(out, o, c.B, R, c.D);
  without_gil([&] { rfa::screen_chains(c, res, R, opt, o); });
  return out;
}

}  // namespace

void register_chains(py::module_& m) {
  m.def("screen_chains", &screen_chains, py::arg("kernel"), py::arg("stride"), py::arg("dilation"),
        py::arg("pad_begin"), py::arg("pad_end"), py::arg("channels"), py::arg("resolutions"),
        py::arg("ignore_1x1") = false, py::arg("threads") = 0);
}

}  // namespace rfa_bind
