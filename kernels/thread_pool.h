// A small fixed pool for data-parallel loops on the CPU path.
//
// We do not use OpenMP: LibTorch ships its own OpenMP runtime, and two
// runtimes in one process (the host application's and Torch's) oversubscribe
// and misbehave.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstddef>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

namespace s2s {

class ThreadPool {
 public:
  // threads <= 0: one per hardware thread.
  explicit ThreadPool(int threads = 0);
  ~ThreadPool();
  ThreadPool(const ThreadPool &) = delete;
  ThreadPool &operator=(const ThreadPool &) = delete;

  int size() const { return static_cast<int>(workers_.size()) + 1; }

  // Runs fn(0) ... fn(n - 1) on the pool and the calling thread, and returns
  // when all have finished. fn must not throw. Not reentrant.
  void parallel_for(size_t n, const std::function<void(size_t)> &fn);

 private:
  void worker_loop();
  void run_tasks();

  std::vector<std::thread> workers_;
  std::mutex mutex_;
  std::condition_variable wake_;
  std::condition_variable done_;
  // Every worker takes part in every job (it may find no task left), and the
  // caller waits for all of them, so no worker can outlive the job it saw.
  const std::function<void(size_t)> *job_ = nullptr;
  size_t job_size_ = 0;
  std::atomic<size_t> next_{0};
  size_t generation_ = 0;
  size_t finished_ = 0;
  bool quit_ = false;
};

}  // namespace s2s
