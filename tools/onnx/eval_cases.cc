#include "tools/onnx/eval_cases.h"

#include <cstdio>

namespace fedtiny::onnx_io {

void WriteEvalCase(std::ostream& out, const std::string& name, int rows,
                   client::layers::Shape in, const std::vector<float>& x,
                   const std::vector<float>& y) {
  out << "case " << name << " " << rows << " " << in.c << " " << in.h << " " << in.w << "\n";
  char buf[32];
  out << "x";  // NCHW: channel slowest.
  for (int r = 0; r < rows; ++r)
    for (int c = 0; c < in.c; ++c)
      for (int i = 0; i < in.h * in.w; ++i) {
        std::snprintf(buf, sizeof(buf), " %.9g", x[(r * in.h * in.w + i) * in.c + c]);
        out << buf;
      }
  out << "\ny";
  for (float v : y) {
    std::snprintf(buf, sizeof(buf), " %.9g", v);
    out << buf;
  }
  out << "\nend\n";
}

}  // namespace fedtiny::onnx_io
