#include "common.hpp"

#include <unistd.h>

#include "rfa/validate.hpp"

namespace rfa_bind {

void raise_graph_error(const std::string& msg, int64_t graph, int64_t node, int64_t column) {
  py::object cls = py::module_::import("rfa_fast.errors").attr("GraphError");
  py::object exc = cls(msg, graph, node, column);
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
  o.n_dead = alloc<int64_t>(out, "n_dead", {B});
  o.macs_dead = alloc<int64_t>(out, "macs_dead", {B, R});
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

int check_threads(int threads) {
  if (threads < 0) raise_graph_error("threads must be >= 0 (0 = every core)");
  return threads;
}

}  // namespace rfa_bind
