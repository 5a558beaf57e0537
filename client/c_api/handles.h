// The C API's handles shared by its source files (fedtiny_c.cc: heads and
// trainers; fedtiny_c_predict.cc: bodies and predictors). Internal: not
// installed, not part of the C API.
#ifndef FEDTINY_CLIENT_C_API_HANDLES_H_
#define FEDTINY_CLIENT_C_API_HANDLES_H_

#include <string>

#include "client/c_api/fedtiny_c.h"
#include "client/core/model.h"
#include "client/core/status.h"

// A heap head; owns its layers. One thread at a time.
struct fedtiny_head {
  fedtiny::client::Head head;
  std::string error;
};

namespace fedtiny::c_api {

// The core's status code as the C API's (the same numbering).
inline fedtiny_status Code(const client::Status& s) {
  return static_cast<fedtiny_status>(s.code());
}

}  // namespace fedtiny::c_api

#endif  // FEDTINY_CLIENT_C_API_HANDLES_H_
