/* dnnc: a minimal hls::stream stand-in for C-simulation with a plain C++ compiler.
 *
 * Same interface subset as the vendor header (read, write, empty, full, size, <<, >>), written from
 * scratch (the vendor header is not freely licensed). Unbounded FIFO; reading an empty stream is a
 * dataflow bug, so it aborts with the stream's name instead of returning garbage.
 * Vitis HLS builds use <hls_stream.h> instead (see dnnc_hls.h).
 */
#ifndef DNNC_HLS_STREAM_H
#define DNNC_HLS_STREAM_H

#include <cstddef>
#include <cstdio>
#include <cstdlib>
#include <deque>

namespace hls {

template <typename T>
class stream {
 public:
  stream() : name_("") {}
  explicit stream(const char *name) : name_(name) {}
  stream(const stream &) = delete;
  stream &operator=(const stream &) = delete;

  void write(const T &v) { q_.push_back(v); }
  T read() {
    if (q_.empty()) {
      std::fprintf(stderr, "hls::stream '%s': read from an empty stream\n", name_);
      std::abort();
    }
    T v = q_.front();
    q_.pop_front();
    return v;
  }
  void read(T &v) { v = read(); }
  void operator<<(const T &v) { write(v); }
  void operator>>(T &v) { v = read(); }
  bool empty() const { return q_.empty(); }
  bool full() const { return false; }
  std::size_t size() const { return q_.size(); }

 private:
  const char *name_;
  std::deque<T> q_;
};

}  // namespace hls

#endif
