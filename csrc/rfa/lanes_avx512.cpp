// The lane engine compiled for the avx512 instruction set (lanes_impl.hpp; lanes.cpp picks one at run time).
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

#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)
#pragma GCC push_options
#pragma GCC target("avx512f,avx512dq,avx512vl,avx512bw,avx2,bmi,bmi2,fma,popcnt")
#define RFA_LANES_TARGETED 1
#endif

namespace rfa {
namespace lanes_avx512 {
#define RFA_LANES_BYTES 64
#include "lanes_impl.hpp"
#undef RFA_LANES_BYTES
}  // namespace lanes_avx512
}  // namespace rfa

#ifdef RFA_LANES_TARGETED
#pragma GCC pop_options
#endif
