// Protocol buffer messages as JSON for scripts (`flctl --json`): every field,
// zeros included; numbers as JSON numbers (64-bit integers too: the values flctl
// prints stay far below 2^53); enum values as lower-case names, as in flctl's
// tables; bytes as base64; maps as objects. Model weights (Tensor values) are left
// out unless asked for: a task's config otherwise carries megabytes of them.
// Built on nlohmann::json (Debian's nlohmann-json3-dev), which does the escaping.
#ifndef FEDTINY_COORDINATOR_JSON_OUTPUT_H_
#define FEDTINY_COORDINATOR_JSON_OUTPUT_H_

#include <string>

#include "google/protobuf/message.h"
#include "nlohmann/json.hpp"

namespace fedtiny::coordinator {

struct JsonOptions {
  bool with_weights = false;  // Include Tensor.values and Tensor.int8_values.
};

// Pure; thread-safe. Dump the result with error_handler_t::replace (strings are
// copied as they are; any that are not UTF-8 then print U+FFFD, not an exception).
nlohmann::json MessageToJson(const google::protobuf::Message& message, const JsonOptions& options);

// An enum value's name as flctl prints it: lower case ("COMMITTED" -> "committed").
std::string EnumName(const google::protobuf::EnumValueDescriptor* value);

}  // namespace fedtiny::coordinator

#endif  // FEDTINY_COORDINATOR_JSON_OUTPUT_H_
