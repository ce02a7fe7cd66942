// The lane engine compiled for the generic instruction set (lanes_impl.hpp; lanes.cpp picks one at run time).
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <string>
#include <vector>

#include "arith.hpp"
#include "lanes.hpp"
#include "materialize.hpp"
#include "program.hpp"

// vectors passed between the engine's own inline functions: no ABI to keep
#pragma GCC diagnostic ignored "-Wpsabi"

namespace rfa {
namespace lanes_generic {
#define RFA_LANES_BYTES 16
#include "lanes_impl.hpp"
#undef RFA_LANES_BYTES
}  // namespace lanes_generic
}  // namespace rfa
