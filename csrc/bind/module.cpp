// The compiled module rfa_fast._core: assembles the binding families.
#include "common.hpp"

PYBIND11_MODULE(_core, m) {
  m.doc() = "rfa_fast compiled core: batched receptive-field propagation (see rfa_fast/_core.pyi)";
  rfa_bind::register_batch(m);
  rfa_bind::register_nb201(m);
  rfa_bind::register_space(m);
}
