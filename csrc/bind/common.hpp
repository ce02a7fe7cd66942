// What every binding file shares: numpy arrays checked and turned into
// pointers, result arrays allocated, the GIL released around the core, and
// rfa::BatchError turned into rfa_fast.errors.GraphError.
#pragma once
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>

#include <cstdint>
#include <initializer_list>
#include <string>
#include <vector>

#include "rfa/batch.hpp"

namespace rfa_bind {

namespace py = pybind11;

[[noreturn]] void raise_graph_error(const std::string& msg, int64_t graph = -1, int64_t node = -1, int64_t column = -1);

const char* dtype_name(char kind, int size);

// A numpy array of exactly dtype T, C-contiguous, with ndim dims; shape[0]
// (and shape[1] if ndim == 2) checked when >= 0.
template <class T>
const T* get(const py::dict& arrays, const char* name, int ndim, int64_t len0, int64_t len1, py::array* keep) {
  if (!arrays.contains(name)) raise_graph_error(std::string("batch array '") + name + "' is missing");
  py::handle h = arrays[name];
  if (!py::isinstance<py::array>(h)) raise_graph_error(std::string("batch array '") + name + "' is not a numpy array");
  auto a = py::reinterpret_borrow<py::array>(h);
  // equal, not identical: numpy makes new dtype objects (unpickling, some views)
  if (!a.dtype().equal(py::dtype::of<T>())) {
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

// The whole of a 1-D array as a vector (for programs, which keep copies).
template <class T>
std::vector<T> get_vector(const py::dict& arrays, const char* name) {
  py::array keep;
  const T* p = get<T>(arrays, name, 1, -1, -1, &keep);
  return std::vector<T>(p, p + keep.shape(0));
}

template <class T>
T* alloc(py::dict& out, const char* name, std::initializer_list<py::ssize_t> shape) {
  py::array_t<T> a{std::vector<py::ssize_t>(shape)};
  out[name] = a;
  return a.mutable_data();
}

uint8_t* alloc_bool(py::dict& out, const char* name, std::initializer_list<py::ssize_t> shape);

// The per-graph result arrays of B graphs at R resolutions, D axes.
void alloc_graph_outputs(py::dict& out, rfa::Outputs& o, int64_t B, int64_t R, int D);

// Resolutions [R, D] int64, checked.
const int64_t* get_resolutions(const py::array& res_in, int D, int64_t* R, py::array* keep);

// Refuse, before allocating, a job that would not fit in free memory.
void check_memory(double bytes, const char* what);

int check_threads(int threads);

// Run the core with the GIL released; a BatchError becomes a GraphError
// once the GIL is held again (Python objects need it).
template <class Fn>
void without_gil(Fn&& fn) {
  std::string error;
  int64_t graph = -1, node = -1, column = -1;
  {
    py::gil_scoped_release release;
    try {
      fn();
    } catch (const rfa::BatchError& e) {
      error = e.what();
      graph = e.graph();
      node = e.node();
      column = e.column();
    }
  }
  if (!error.empty()) raise_graph_error(error, graph, node, column);
}

// Registration of each family of functions (module.cpp calls them all).
void register_batch(py::module_& m);
void register_nb201(py::module_& m);
void register_space(py::module_& m);

}  // namespace rfa_bind
