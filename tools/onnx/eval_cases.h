// The cases file onnx_eval.py reads: per case, its name, the input shape, the
// inputs in ONNX's NCHW order and the outputs to compare with.
//
//   case NAME ROWS C H W
//   x v v v ...      (rows x c x h x w, NCHW)
//   y v v v ...      (rows x outputs)
//   end
//
// Pure; thread-compatible (one stream per thread).
#ifndef FEDTINY_TOOLS_ONNX_EVAL_CASES_H_
#define FEDTINY_TOOLS_ONNX_EVAL_CASES_H_

#include <ostream>
#include <string>
#include <vector>

#include "client/core/layers/shape.h"

namespace fedtiny::onnx_io {

// WriteEvalCase: `x` is rows examples in the core's NHWC order (transposed
// here), `y` the outputs computed on them.
void WriteEvalCase(std::ostream& out, const std::string& name, int rows,
                   client::layers::Shape in, const std::vector<float>& x,
                   const std::vector<float>& y);

}  // namespace fedtiny::onnx_io

#endif  // FEDTINY_TOOLS_ONNX_EVAL_CASES_H_
