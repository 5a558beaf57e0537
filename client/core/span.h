// Span<T>: a borrowed pointer and length, the part of absl::Span the portable
// core uses (client/core has no Abseil, docs/client.md). Converts implicitly
// from any contiguous container with data() and size() (std::vector,
// absl::Span, std::array) and from a C array, so callers pass what they hold.
// Borrows; the viewed memory must outlive the span. A value type, safe to read
// from several threads.
#ifndef FEDTINY_CLIENT_CORE_SPAN_H_
#define FEDTINY_CLIENT_CORE_SPAN_H_

#include <cstddef>
#include <type_traits>
#include <utility>

namespace fedtiny::client {

template <typename T>
class Span {
 public:
  constexpr Span() = default;
  constexpr Span(T* data, size_t size) : data_(data), size_(size) {}
  template <size_t N>
  constexpr Span(T (&array)[N]) : data_(array), size_(N) {}  // NOLINT: implicit
  template <typename C,
            typename = std::enable_if_t<
                !std::is_same_v<std::decay_t<C>, Span> &&
                std::is_convertible_v<decltype(std::declval<C&>().data()), T*>>,
            typename = decltype(std::declval<C&>().size())>
  constexpr Span(C& c) : data_(c.data()), size_(static_cast<size_t>(c.size())) {}  // NOLINT
  template <typename C,
            typename = std::enable_if_t<
                !std::is_same_v<std::decay_t<C>, Span> &&
                std::is_convertible_v<decltype(std::declval<const C&>().data()), T*>>,
            typename = decltype(std::declval<const C&>().size()), typename = void>
  constexpr Span(const C& c)  // NOLINT: implicit
      : data_(c.data()), size_(static_cast<size_t>(c.size())) {}

  constexpr T* data() const { return data_; }
  constexpr size_t size() const { return size_; }
  constexpr bool empty() const { return size_ == 0; }
  constexpr T& operator[](size_t i) const { return data_[i]; }
  constexpr T* begin() const { return data_; }
  constexpr T* end() const { return data_ + size_; }
  // subspan(pos, n): at most n elements from pos (pos <= size()).
  constexpr Span subspan(size_t pos, size_t n = static_cast<size_t>(-1)) const {
    return Span(data_ + pos, n < size_ - pos ? n : size_ - pos);
  }

 private:
  T* data_ = nullptr;
  size_t size_ = 0;
};

}  // namespace fedtiny::client

#endif  // FEDTINY_CLIENT_CORE_SPAN_H_
