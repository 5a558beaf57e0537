// FunctionRef<R(Args...)>: a borrowed callable, the part of absl::FunctionRef
// the portable core uses (no Abseil, no allocation, unlike std::function). The
// callable must outlive the FunctionRef, which is for parameters only. Calling
// it is as thread-safe as calling the callable.
#ifndef FEDTINY_CLIENT_CORE_FUNCTION_REF_H_
#define FEDTINY_CLIENT_CORE_FUNCTION_REF_H_

#include <memory>
#include <type_traits>
#include <utility>

namespace fedtiny::client {

template <typename Sig>
class FunctionRef;

template <typename R, typename... Args>
class FunctionRef<R(Args...)> {
 public:
  template <typename F, typename = std::enable_if_t<
                            !std::is_same_v<std::decay_t<F>, FunctionRef> &&
                            std::is_invocable_r_v<R, F&, Args...>>>
  FunctionRef(F&& f)  // NOLINT: implicit, as absl's
      : object_(const_cast<void*>(static_cast<const void*>(std::addressof(f)))),
        call_([](void* o, Args... args) -> R {
          return (*static_cast<std::remove_reference_t<F>*>(o))(std::forward<Args>(args)...);
        }) {}

  R operator()(Args... args) const { return call_(object_, std::forward<Args>(args)...); }

 private:
  void* object_;
  R (*call_)(void*, Args...);
};

}  // namespace fedtiny::client

#endif  // FEDTINY_CLIENT_CORE_FUNCTION_REF_H_
