// Program: a search space compiled once (rfa/program.hpp), screened from
// rows of choice indices by the lane engine (rfa/lanes.hpp).
#include <memory>
#include <string>

#include "common.hpp"
#include "rfa/lanes.hpp"
#include "rfa/materialize.hpp"
#include "rfa/program.hpp"

namespace rfa_bind {
namespace {

std::shared_ptr<rfa::Program> make_program(const py::dict& a, int D) {
  auto p = std::make_shared<rfa::Program>();
  p->D = D;
  p->kind = get_vector<uint8_t>(a, "kind");
  p->T = static_cast<int64_t>(p->kind.size());
  p->pred_ptr = get_vector<int64_t>(a, "pred_ptr");
  p->pred = get_vector<int32_t>(a, "pred");
  p->collapse = get_vector<uint8_t>(a, "collapse");
  p->scope = get_vector<int32_t>(a, "scope");
  p->scope_parent = get_vector<int32_t>(a, "scope_parent");
  p->scope_param = get_vector<int32_t>(a, "scope_param");
  p->field_param = get_vector<int32_t>(a, "field_param");
  p->scale = get_vector<double>(a, "scale");
  p->resize_mode = get_vector<uint8_t>(a, "resize_mode");
  const auto kinds = get_vector<uint8_t>(a, "param_kind");
  const auto values = get_vector<int64_t>(a, "param_value");
  const auto keys = get_vector<int32_t>(a, "param_key");
  if (kinds.size() != values.size() || kinds.size() != keys.size())
    raise_graph_error("program: param_kind, param_value and param_key differ in length");
  p->params.resize(kinds.size());
  for (size_t i = 0; i < kinds.size(); ++i) {
    p->params[i].kind = kinds[i];
    p->params[i].value = values[i];
    p->params[i].key = keys[i];
  }
  p->key_ptr = get_vector<int64_t>(a, "key_ptr");
  p->key_col = get_vector<int32_t>(a, "key_col");
  p->key_mult = get_vector<int64_t>(a, "key_mult");
  p->key_size = get_vector<int64_t>(a, "key_size");
  p->pool = get_vector<int64_t>(a, "pool");
  p->n_options = get_vector<int64_t>(a, "n_options");
  p->C = static_cast<int64_t>(p->n_options.size());
  p->column_width = get_vector<int64_t>(a, "column_width");
  p->n_column_arrays = static_cast<int64_t>(p->column_width.size());
  try {
    rfa::finish_program(*p);
  } catch (const rfa::BatchError& e) {
    raise_graph_error(e.what(), -1, e.node());
  }
  return p;
}

int int_bytes(const py::array& a, const char* what) {
  const char kind = a.dtype().kind();
  const auto size = static_cast<int>(a.dtype().itemsize());
  if ((kind == 'u' && size == 1) || (kind == 'i' && (size == 4 || size == 8))) return size;
  raise_graph_error(std::string(what) + " has dtype " + std::string(py::str(a.dtype())) +
                    ", expected uint8, int32 or int64");
}

// Rows and column arrays checked against the program; the arrays are kept
// alive by `keep` while the core reads them.
rfa::Candidates candidates(const rfa::Program& p, const py::array& rows, const py::list& columns,
                           std::vector<py::array>& keep) {
  rfa::Candidates c;
  if (rows.ndim() != 2 || rows.shape(1) != p.C)
    raise_graph_error("rows must be [B, " + std::to_string(p.C) + "] (one column per choice), got " +
                      std::to_string(rows.ndim()) + " dimensions");
  if (!(rows.flags() & py::array::c_style)) raise_graph_error("rows must be C-contiguous");
  c.B = rows.shape(0);
  c.row_bytes = int_bytes(rows, "rows");
  c.rows = rows.data();
  keep.push_back(rows);
  if (static_cast<int64_t>(columns.size()) != p.n_column_arrays)
    raise_graph_error("the program reads " + std::to_string(p.n_column_arrays) + " column arrays, got " +
                      std::to_string(columns.size()));
  for (size_t j = 0; j < columns.size(); ++j) {
    if (!py::isinstance<py::array>(columns[j])) raise_graph_error("column array " + std::to_string(j) + " is not a numpy array");
    auto a = py::reinterpret_borrow<py::array>(columns[j]);
    if (a.ndim() != 2 || a.shape(0) != c.B || a.shape(1) != p.column_width[j] || !(a.flags() & py::array::c_style))
      raise_graph_error("column array " + std::to_string(j) + " must be C-contiguous [B, " +
                        std::to_string(p.column_width[j]) + "] with B = " + std::to_string(c.B));
    c.columns.push_back({a.data(), p.column_width[j], int_bytes(a, "a column array")});
    keep.push_back(a);
  }
  return c;
}

class PyProgram {
 public:
  PyProgram(const py::dict& arrays, int D) : p_(make_program(arrays, D)) {}

  py::dict screen(const py::array& rows, const py::list& columns, const py::array& resolutions, bool ignore_1x1,
                  int threads, bool i_min) const {
    std::vector<py::array> keep;
    const rfa::Candidates c = candidates(*p_, rows, columns, keep);
    py::array res_keep;
    int64_t R = 0;
    const int64_t* res = get_resolutions(resolutions, p_->D, &R, &res_keep);
    rfa::Options opt;
    opt.ignore_1x1 = ignore_1x1;
    opt.threads = check_threads(threads);
    opt.i_min = i_min;
    check_memory(static_cast<double>(c.B) * (static_cast<double>(R) * 6 + p_->D * 3 + 4) * 8, "this screen");
    py::dict out;
    rfa::Outputs o;
    alloc_graph_outputs(out, o, c.B, R, p_->D);
    o.materialized = alloc_bool(out, "materialized", {c.B});
    if (c.B > 0) without_gil([&] { rfa::screen_program(*p_, c, res, R, opt, o); });
    return out;
  }

  // Candidate b as the general engine sees it (tests compare it with the
  // Python materialization); "origin" maps graph nodes to template nodes.
  py::dict materialize(const py::array& rows, const py::list& columns, int64_t b) const {
    std::vector<py::array> keep;
    const rfa::Candidates c = candidates(*p_, rows, columns, keep);
    if (b < 0 || b >= c.B) raise_graph_error("candidate " + std::to_string(b) + " is not in the rows");
    rfa::GraphArrays g;
    try {
      rfa::materialize(*p_, c, b, g);
    } catch (const rfa::BatchError& e) {
      raise_graph_error(e.what(), e.graph(), e.node(), e.column());
    }
    py::dict out;
    const auto N = static_cast<py::ssize_t>(g.op.size());
    const py::ssize_t D = g.D;
    auto put = [&](const char* name, const auto& v, std::initializer_list<py::ssize_t> shape) {
      using T = typename std::decay_t<decltype(v)>::value_type;
      T* dst = alloc<T>(out, name, shape);
      std::copy(v.begin(), v.end(), dst);
    };
    put("graph_ptr", g.graph_ptr, {2});
    put("op", g.op, {N});
    put("kernel", g.kernel, {N, D});
    put("stride", g.stride, {N, D});
    put("dilation", g.dilation, {N, D});
    put("pad_begin", g.pad_begin, {N, D});
    put("pad_end", g.pad_end, {N, D});
    put("pad_mode", g.pad_mode, {N});
    put("ceil_mode", g.ceil_mode, {N});
    put("scale", g.scale, {N, D});
    put("mode", g.mode, {N});
    put("weighted", g.weighted, {N});
    put("c_in", g.c_in, {N});
    put("c_out", g.c_out, {N});
    put("groups", g.groups, {N});
    put("pred_ptr", g.pred_ptr, {N + 1});
    put("pred", g.pred, {static_cast<py::ssize_t>(g.pred.size())});
    put("origin", g.origin, {N});
    return out;
  }

  bool lanes() const { return p_->lanes_ok; }
  bool isotropic() const { return p_->isotropic; }
  int64_t slots() const { return p_->n_slots; }

 private:
  std::shared_ptr<rfa::Program> p_;
};

}  // namespace

void register_space(py::module_& m) {
  py::class_<PyProgram>(m, "Program")
      .def(py::init<const py::dict&, int>(), py::arg("arrays"), py::arg("dims"))
      .def("screen", &PyProgram::screen, py::arg("rows"), py::arg("columns"), py::arg("resolutions"),
           py::arg("ignore_1x1") = false, py::arg("threads") = 0, py::arg("i_min") = true)
      .def("materialize", &PyProgram::materialize, py::arg("rows"), py::arg("columns"), py::arg("candidate"))
      .def_property_readonly("lanes", &PyProgram::lanes)
      .def_property_readonly("isotropic", &PyProgram::isotropic)
      .def_property_readonly("slots", &PyProgram::slots);
  m.def("lane_isa", []() { return std::string(rfa::lane_isa()); },
        "The instruction set the lane engine uses here (RFA_FAST_LANES picks among those the CPU has).");
}

}  // namespace rfa_bind
