/* Test-only fault injection: see s2sfault.h. */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include "s2sfault.h"

#include <cerrno>
#include <cstdlib>
#include <cstring>

namespace s2s {

namespace {

bool parse_int(const std::string &text, long long min, long long max, long long *out) {
  if (text.empty())
    return false;
  errno = 0;
  char *end = nullptr;
  const long long v = std::strtoll(text.c_str(), &end, 10);
  if (errno != 0 || *end != '\0' || v < min || v > max)
    return false;
  *out = v;
  return true;
}

}  // namespace

bool FaultPlan::parse(const char *spec, FaultPlan *plan, std::string *error) {
  FaultPlan p;
  std::string rest = spec ? spec : "";
  while (!rest.empty()) {
    const size_t comma = rest.find(',');
    const std::string item = rest.substr(0, comma);
    rest = comma == std::string::npos ? "" : rest.substr(comma + 1);
    if (item.empty())
      continue;
    const size_t eq = item.find('=');
    const std::string key = item.substr(0, eq);
    const std::string value = eq == std::string::npos ? "" : item.substr(eq + 1);
    long long v = 0;
    bool ok = true;
    if (key == "oom-batch" && (ok = parse_int(value, 0, INT64_MAX, &v)))
      p.oom_batch = v;
    else if (key == "oom-above" && (ok = parse_int(value, 1, UINT32_MAX, &v)))
      p.oom_above = (uint32_t) v;
    else if (key == "device-error-frame" && (ok = parse_int(value, 0, INT64_MAX, &v)))
      p.device_error_frame = v;
    else if (key == "slow-ms" && (ok = parse_int(value, 0, 600000, &v)))
      p.slow_ms = (uint32_t) v;
    else if (key == "model-load" && (ok = value == "fail"))
      p.model_load_fails = true;
    else
      ok = false;
    if (!ok) {
      if (error)
        *error = "S2S_FAULT_INJECT: bad item '" + item + "'";
      return false;
    }
  }
  *plan = p;
  return true;
}

bool FaultPlan::compiled_in() {
#if S2S_FAULT_INJECTION
  return true;
#else
  return false;
#endif
}

FaultPlan FaultPlan::from_environment(std::string *error) {
  FaultPlan plan;
  if (!compiled_in())
    return plan;
  const char *spec = std::getenv("S2S_FAULT_INJECT");
  if (spec && !parse(spec, &plan, error))
    return FaultPlan();
  return plan;
}

}  // namespace s2s
