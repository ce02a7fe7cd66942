// Run a function over [0, n) in chunks on a few std::threads. Exceptions are
// caught per chunk; the one from the lowest chunk index is rethrown after all
// threads joined, so errors are deterministic whatever the schedule.
#pragma once
#include <algorithm>
#include <atomic>
#include <cstdint>
#include <exception>
#include <thread>
#include <vector>

namespace rfa {

inline int resolve_threads(int threads) {
  if (threads > 0) return threads;
  // asked once: it reads the CPU set from the system, microseconds a call
  static const int cores = [] {
    const unsigned hc = std::thread::hardware_concurrency();
    return hc == 0 ? 1 : static_cast<int>(hc);
  }();
  return cores;
}

// fn(chunk_begin, chunk_end, worker_id) over contiguous chunks of [0, n).
// `weight` (prefix sums of per-item cost, size n+1) balances chunks by work,
// not item count: one huge graph next to many small ones.
// `work` (when > 0) is the total cost when there are no weights.
template <class Fn>
void parallel_chunks(int64_t n, const int64_t* weight_prefix, int threads, Fn&& fn, int64_t work = -1) {
  if (n <= 0) return;
  threads = std::max(1, std::min<int>(threads, static_cast<int>(std::min<int64_t>(n, 1024))));
  int64_t total = weight_prefix ? weight_prefix[n] - weight_prefix[0] : (work > 0 ? work : n);
  // Small jobs run on the calling thread: spawning costs tens of microseconds.
  if (threads == 1 || total < 20000) {
    fn(int64_t(0), n, 0);
    return;
  }
  const int64_t n_chunks = std::min<int64_t>(n, int64_t(threads) * 8);
  std::vector<int64_t> bounds(n_chunks + 1, n);
  bounds[0] = 0;
  if (weight_prefix) {
    int64_t c = 1;
    for (int64_t i = 0; i < n && c < n_chunks; ++i) {
      while (c < n_chunks && (weight_prefix[i + 1] - weight_prefix[0]) * n_chunks >= total * c) {
        bounds[c++] = i + 1;
      }
    }
    for (; c < n_chunks; ++c) bounds[c] = n;
  } else {
    for (int64_t c = 1; c < n_chunks; ++c) bounds[c] = n / n_chunks * c + (n % n_chunks) * c / n_chunks;
  }
  std::atomic<int64_t> next{0};
  std::vector<std::exception_ptr> errors(n_chunks);
  auto drain = [&](int worker) {
    for (;;) {
      int64_t c = next.fetch_add(1);
      if (c >= n_chunks) break;
      if (bounds[c] >= bounds[c + 1]) continue;
      try {
        fn(bounds[c], bounds[c + 1], worker);
      } catch (...) {
        errors[c] = std::current_exception();
      }
    }
  };
  std::vector<std::thread> pool;
  pool.reserve(threads - 1);
  for (int t = 1; t < threads; ++t) pool.emplace_back(drain, t);
  drain(0);
  for (auto& th : pool) th.join();
  for (auto& e : errors)
    if (e) std::rethrow_exception(e);
}

}  // namespace rfa
