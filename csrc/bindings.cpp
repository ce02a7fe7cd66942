// The only file that knows Python: turns numpy arrays into a rfa::Batch,
// checks their dtypes and shapes, releases the GIL around the engine, and
// turns rfa::BatchError into rfa_fast.errors.GraphError.
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>

#include <unistd.h>

#include <string>
#include <thread>

#include "rfa/batch.hpp"
#include "rfa/chains.hpp"
#include "rfa/nb201.hpp"
#include "rfa/engine.hpp"
#include "rfa/parallel.hpp"
#include "rfa/validate.hpp"

namespace py = pybind11;

namespace {

[[noreturn]] void raise_graph_error(const std::string& msg, int64_t graph = -1, int64_t node = -1) {
  py::object cls = py::module_::import("rfa_fast.errors").attr("GraphError");
  py::object exc = cls(msg, graph, node);
  PyErr_SetObject(cls.ptr(), exc.ptr());
  throw py::error_already_set();
}

const char* dtype_name(char kind, int size) {
  if (kind == 'i' && size == 8) return "int64";
  if (kind == 'i' && size == 4) return "int32";
  if (kind == 'u' && size == 1) return "uint8";
  if (kind == 'f' && size == 8) return "float64";
  return "?";
}

// A numpy array of exactly dtype T, C-contiguous, with ndim dims; shape[0]
// (and shape[1] if ndim == 2) checked when >= 0.
template <class T>
const T* get(const py::dict& arrays, const char* name, int ndim, int64_t len0, int64_t len1, py::array* keep) {
  if (!arrays.contains(name)) raise_graph_error(std::string("batch array '") + name + "' is missing");
  py::handle h = arrays[name];
  if (!py::isinstance<py::array>(h)) raise_graph_error(std::string("batch array '") + name + "' is not a numpy array");
  auto a = py::reinterpret_borrow<py::array>(h);
  if (!a.dtype().is(py::dtype::of<T>())) {
    raise_graph_error(std::string("batch array '") + name + "' has dtype " + std::string(py::str(a.dtype())) +
                      ", expected " + dtype_name(py::dtype::of<T>().kind(), sizeof(T)));
  }
  if (!(a.flags() & py::array::c_style)) raise_graph_error(std::string("batch array '") + name + "' is not C-contiguous");
  if (a.ndim() != ndim)
    raise_graph_error(std::string("batch array '") + name + "' has " + std::to_string(a.ndim()) + " dimensions, expected " +
                      std::to_string(ndim));
  if (len0 >= 0 && a.shape(0) != len0)
    raise_graph_error(std::string("batch array '") + name + "' has length " + std::to_string(a.shape(0)) + ", expected " +
                      std::to_string(len0));
  if (ndim == 2 && len1 >= 0 && a.shape(1) != len1)
    raise_graph_error(std::string("batch array '") + name + "' has " + std::to_string(a.shape(1)) +
                      " columns, expected " + std::to_string(len1) + " (one per spatial axis)");
  *keep = a;
  return static_cast<const T*>(a.data());
}

template <class T>
T* alloc(py::dict& out, const char* name, std::initializer_list<py::ssize_t> shape) {
  py::array_t<T> a{std::vector<py::ssize_t>(shape)};
  out[name] = a;
  return a.mutable_data();
}

uint8_t* alloc_bool(py::dict& out, const char* name, std::initializer_list<py::ssize_t> shape) {
  py::array_t<bool> a{std::vector<py::ssize_t>(shape)};
  out[name] = a;
  return reinterpret_cast<uint8_t*>(a.mutable_data());
}

void alloc_graph_outputs(py::dict& out, rfa::Outputs& o, int64_t B, int64_t R, int D) {
  o.n_unproductive = alloc<int64_t>(out, "n_unproductive", {B, R});
  o.n_border = alloc<int64_t>(out, "n_border", {B, R});
  o.n_critical = alloc<int64_t>(out, "n_critical", {B, R});
  o.n_partially_critical = alloc<int64_t>(out, "n_partially_critical", {B, R});
  o.macs = alloc<int64_t>(out, "macs", {B, R});
  o.macs_unproductive = alloc<int64_t>(out, "macs_unproductive", {B, R});
  o.i_min = alloc<double>(out, "i_min", {B});
  o.i_min_axes = alloc<double>(out, "i_min_axes", {B, D});
  o.i_max_axes = alloc<double>(out, "i_max_axes", {B, D});
  o.i_max = alloc<double>(out, "i_max", {B});
  o.rf_max = alloc<double>(out, "graph_rf_max", {B, D});
  o.connected = alloc_bool(out, "connected", {B});
  o.aligned = alloc_bool(out, "aligned", {B});
  o.params = alloc<int64_t>(out, "params", {B});
}

const int64_t* get_resolutions(const py::array& res_in, int D, int64_t* R, py::array* keep) {
  py::dict tmp;
  tmp["resolutions"] = res_in;
  const int64_t* res = get<int64_t>(tmp, "resolutions", 2, -1, D, keep);
  *R = keep->shape(0);
  try {
    rfa::validate_resolutions(res, *R, D);
  } catch (const rfa::BatchError& e) {
    raise_graph_error(e.what());
  }
  return res;
}

// Refuse, before allocating, a job whose results and scratch would not fit
// in the memory the machine has free: a clear error beats the OOM killer
// ending a search loop hours into a run.
void check_memory(double bytes, const char* what) {
  if (bytes < 64e6) return;  // small jobs cannot exhaust memory; the query is a system call per call
  const long pages = sysconf(_SC_AVPHYS_PAGES), page = sysconf(_SC_PAGESIZE);
  if (pages <= 0 || page <= 0) return;  // unknown: do not guess
  const double avail = static_cast<double>(pages) * static_cast<double>(page);
  if (bytes > 0.9 * avail) {
    raise_graph_error(std::string(what) + " needs about " + std::to_string(static_cast<long long>(bytes / 1e6)) +
                      " MB, more than the " + std::to_string(static_cast<long long>(avail / 1e6)) +
                      " MB of free memory: screen the batch in chunks, or ask for fewer resolutions or no per-node "
                      "results");
  }
}

// Run the engine with the GIL released; a BatchError becomes a GraphError
// once the GIL is held again (Python objects need it).
template <class Fn>
void without_gil(Fn&& fn) {
  std::string error;
  int64_t graph = -1, node = -1;
  {
    py::gil_scoped_release release;
    try {
      fn();
    } catch (const rfa::BatchError& e) {
      error = e.what();
      graph = e.graph();
      node = e.node();
    }
  }
  if (!error.empty()) raise_graph_error(error, graph, node);
}

int check_threads(int threads) {
  if (threads < 0) raise_graph_error("threads must be >= 0 (0 = every core)");
  return threads;
}

py::dict analyze_batch(const py::dict& arrays, const py::array& resolutions, bool ignore_1x1, int threads,
                       bool per_node, bool i_min, bool force_passes) {
  rfa::Batch b;
  py::array keep[18];
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

PYBIND11_MODULE(_core, m) {
  m.doc() = "rfa_fast compiled core: batched receptive-field propagation (see rfa_fast/_core.pyi)";
  m.def("analyze_batch", &analyze_batch, py::arg("arrays"), py::arg("resolutions"), py::arg("ignore_1x1") = false,
        py::arg("threads") = 0, py::arg("per_node") = false, py::arg("i_min") = true,
        py::arg("force_passes") = false);
  m.def("screen_chains", &screen_chains, py::arg("kernel"), py::arg("stride"), py::arg("dilation"),
        py::arg("pad_begin"), py::arg("pad_end"), py::arg("channels"), py::arg("resolutions"),
        py::arg("ignore_1x1") = false, py::arg("threads") = 0);
  m.def("screen_nb201", &screen_nb201, py::arg("ops"), py::arg("resolutions"), py::arg("channels"),
        py::arg("num_classes"), py::arg("cells_per_stage"), py::arg("ignore_1x1") = false, py::arg("threads") = 0,
        py::arg("i_min") = true);
  m.def("hardware_threads", []() { return static_cast<int>(std::thread::hardware_concurrency()); });
}
