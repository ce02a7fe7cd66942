#include "lanes.hpp"

#include <cstdlib>
#include <cstring>
#include <string>

#include "materialize.hpp"
#include "parallel.hpp"

namespace rfa {

// One instantiation of lanes_impl.hpp per instruction set (lanes_*.cpp).
#define RFA_LANES_DECLARE(ns)                                                                                   \
  namespace ns {                                                                                                \
  void run_tiles(const Program& p, const Candidates& c, const int64_t* res, int64_t R, const Options& opt,       \
                 const Outputs& out, int64_t t0, int64_t t1);                                                   \
  }
RFA_LANES_DECLARE(lanes_generic)
RFA_LANES_DECLARE(lanes_avx2)
RFA_LANES_DECLARE(lanes_avx512)
#undef RFA_LANES_DECLARE

namespace {

using RunTiles = void (*)(const Program&, const Candidates&, const int64_t*, int64_t, const Options&, const Outputs&,
                          int64_t, int64_t);

bool cpu_has(const char* isa) {
#if defined(__x86_64__) && defined(__GNUC__)
  __builtin_cpu_init();
  if (std::strcmp(isa, "avx512") == 0)
    return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512dq") &&
           __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512bw");
  if (std::strcmp(isa, "avx2") == 0) return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("bmi2");
#endif
  return std::strcmp(isa, "generic") == 0;
}

RunTiles pick(const char*& name) {
  // RFA_FAST_LANES lets tests run every instruction set the machine has
  const char* want = std::getenv("RFA_FAST_LANES");
  if (want && *want && cpu_has(want)) name = want;
  else name = cpu_has("avx512") ? "avx512" : cpu_has("avx2") ? "avx2" : "generic";
  if (std::strcmp(name, "avx512") == 0) return lanes_avx512::run_tiles;
  if (std::strcmp(name, "avx2") == 0) return lanes_avx2::run_tiles;
  return lanes_generic::run_tiles;
}

void check_rows(const Program& p, const Candidates& c, int64_t b) {
  for (int64_t col = 0; col < p.C; ++col) {
    const int64_t x = c.row(b, p.C, col);
    if (x < 0 || x >= p.n_options[col])
      throw BatchError(b, -1,
                       "candidate " + std::to_string(b) + ": choice column " + std::to_string(col) + " has index " +
                           std::to_string(x) + ", must be in 0.." + std::to_string(p.n_options[col] - 1),
                       col);
  }
}

}  // namespace

const char* lane_isa() {
  const char* name = nullptr;
  pick(name);
  return name;
}

void screen_program(const Program& p, const Candidates& c, const int64_t* res, int64_t R, const Options& opt,
                    const Outputs& out) {
  const int threads = resolve_threads(opt.threads);
  const int64_t work = c.B * p.T;
  if (!p.lanes_ok) {
    // Upsampling in the template: every candidate through the general engine.
    parallel_chunks(
        c.B, nullptr, threads,
        [&](int64_t b0, int64_t b1, int) {
          GraphArrays scratch;
          for (int64_t b = b0; b < b1; ++b) {
            check_rows(p, c, b);
            analyze_candidate(p, c, b, res, R, opt, out, scratch);
            if (out.materialized) out.materialized[b] = 1;
          }
        },
        work);
    return;
  }
  const char* name = nullptr;
  const RunTiles run = pick(name);
  const int64_t tiles = (c.B + kLanes - 1) / kLanes;
  parallel_chunks(
      tiles, nullptr, threads, [&](int64_t t0, int64_t t1, int) { run(p, c, res, R, opt, out, t0, t1); }, work);
}

}  // namespace rfa
