#pragma once
// Counts heap allocations, so that a test can prove a hot path allocates
// nothing: include this in exactly ONE source file of a test binary (it
// replaces the global operator new/delete) and read allocations().
// Every form is replaced together so that ASan sees matching new/delete.
#include <atomic>
#include <cstdint>
#include <cstdlib>
#include <new>

namespace warren::testing {
inline std::atomic<uint64_t> g_allocations{0};
inline uint64_t allocations() { return g_allocations.load(std::memory_order_relaxed); }
inline void* counted_alloc(std::size_t n) {
  g_allocations.fetch_add(1, std::memory_order_relaxed);
  if (void* p = std::malloc(n ? n : 1)) return p;
  throw std::bad_alloc();
}
}  // namespace warren::testing

// These replace the global operators: new allocates with malloc, so delete
// frees with free. GCC cannot see that pairing and warns at every inlined
// delete; the warning is about mismatched library operators, not these.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmismatched-new-delete"
void* operator new(std::size_t n) { return warren::testing::counted_alloc(n); }
void* operator new[](std::size_t n) { return warren::testing::counted_alloc(n); }
void* operator new(std::size_t n, const std::nothrow_t&) noexcept {
  warren::testing::g_allocations.fetch_add(1, std::memory_order_relaxed);
  return std::malloc(n ? n : 1);
}
void* operator new[](std::size_t n, const std::nothrow_t&) noexcept {
  warren::testing::g_allocations.fetch_add(1, std::memory_order_relaxed);
  return std::malloc(n ? n : 1);
}
void operator delete(void* p) noexcept { std::free(p); }
void operator delete[](void* p) noexcept { std::free(p); }
void operator delete(void* p, std::size_t) noexcept { std::free(p); }
void operator delete[](void* p, std::size_t) noexcept { std::free(p); }
void operator delete(void* p, const std::nothrow_t&) noexcept { std::free(p); }
void operator delete[](void* p, const std::nothrow_t&) noexcept { std::free(p); }
#pragma GCC diagnostic pop
