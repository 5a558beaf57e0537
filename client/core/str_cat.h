// StrCat(a, b, ...): concatenates strings and integers into a std::string, the
// part of absl::StrCat the portable core's error messages use (no Abseil).
// Integers print as absl::StrCat prints them (std::to_string), so messages are
// unchanged. Floating-point arguments are not accepted (absl prints them with
// %g, std::to_string with %f: a message would change).
#ifndef FEDTINY_CLIENT_CORE_STR_CAT_H_
#define FEDTINY_CLIENT_CORE_STR_CAT_H_

#include <string>
#include <string_view>
#include <type_traits>

namespace fedtiny::client {

namespace str_cat_internal {
inline void Append(std::string& out, std::string_view s) { out.append(s.data(), s.size()); }
template <typename T, typename = std::enable_if_t<std::is_integral_v<T>>>
void Append(std::string& out, T v) {
  out += std::to_string(v);
}
}  // namespace str_cat_internal

template <typename... Args>
std::string StrCat(const Args&... args) {
  std::string out;
  (str_cat_internal::Append(out, args), ...);
  return out;
}

}  // namespace fedtiny::client

#endif  // FEDTINY_CLIENT_CORE_STR_CAT_H_
