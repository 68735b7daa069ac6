// What kind of failure an engine reported, so its caller can react to it:
// out of device memory -> retry with a smaller batch; device lost (a sticky
// CUDA error: the context is unusable until the process restarts) -> stop
// using this engine and fall back to another one; anything else -> fail the
// batch.
#pragma once

#include <stdexcept>
#include <string>

namespace s2s {

enum class EngineErrorKind {
  kNone,
  kFailed,
  kOutOfMemory,
  kDeviceLost,
};

inline const char *engine_error_kind_name(EngineErrorKind kind) {
  switch (kind) {
    case EngineErrorKind::kNone: return "none";
    case EngineErrorKind::kFailed: return "failed";
    case EngineErrorKind::kOutOfMemory: return "out-of-memory";
    case EngineErrorKind::kDeviceLost: return "device-lost";
  }
  return "?";
}

// Thrown inside engines only; public entry points catch it and return false
// with the message, keeping the kind for last_error_kind().
class EngineError : public std::runtime_error {
 public:
  EngineError(EngineErrorKind kind, const std::string &message) : std::runtime_error(message), kind_(kind) {}
  EngineErrorKind kind() const { return kind_; }

 private:
  EngineErrorKind kind_;
};

}  // namespace s2s
