/* Test-only fault injection: the seam that lets CI exercise the fault policy
 * of docs/reliability.md (out of memory, a sticky device error, a slow
 * device, a model that fails to load) without a GPU.
 *
 * A plan is read from the environment variable S2S_FAULT_INJECT when an
 * element starts, and only in builds configured with fault injection (meson
 * option fault-injection, on when the tests are built). Elsewhere the plan is
 * always empty and the variable is ignored. Syntax: comma-separated
 * key=value pairs, e.g. "oom-above=4,slow-ms=200":
 *
 *   oom-batch=K          the K-th batch (0-based, counted from the start)
 *                        runs out of memory at every size
 *   oom-above=N          any scoring call of more than N frames runs out of
 *                        memory (so a retry with a smaller batch succeeds)
 *   device-error-frame=K the call that contains frame K meets a sticky
 *                        device error (the device is unusable afterwards)
 *   slow-ms=M            each scoring call waits M ms first, as a slow
 *                        device would (a flush interrupts the wait)
 *   model-load=fail      loading a model fails as if the file were corrupt
 */
#pragma once

#include <cstdint>
#include <string>

namespace s2s {

struct FaultPlan {
  int64_t oom_batch = -1;
  uint32_t oom_above = 0;
  int64_t device_error_frame = -1;
  uint32_t slow_ms = 0;
  bool model_load_fails = false;

  // Parses `spec`; false (with *error naming the bad item) on a syntax error.
  static bool parse(const char *spec, FaultPlan *plan, std::string *error);

  // The plan of S2S_FAULT_INJECT, or an empty one where the build has no
  // fault injection. A malformed variable gives an empty plan and *error.
  static FaultPlan from_environment(std::string *error);

  // Whether this build honours S2S_FAULT_INJECT at all.
  static bool compiled_in();
};

}  // namespace s2s
