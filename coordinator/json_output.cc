#include "coordinator/json_output.h"

#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "google/protobuf/descriptor.h"

namespace fedtiny::coordinator {

namespace {

using google::protobuf::FieldDescriptor;
using google::protobuf::Message;
using google::protobuf::Reflection;

bool IsWeights(const FieldDescriptor* f) {
  return f->containing_type()->full_name() == "fedtiny.v1.Tensor" &&
         (f->name() == "values" || f->name() == "int8_values");
}

// One value of `f` (element `index` when repeated, else the singular value).
nlohmann::json Value(const Message& m, const FieldDescriptor* f, int index, const JsonOptions& o) {
  const Reflection* r = m.GetReflection();
  const bool rep = f->is_repeated();
  switch (f->cpp_type()) {
    case FieldDescriptor::CPPTYPE_INT32:
      return rep ? r->GetRepeatedInt32(m, f, index) : r->GetInt32(m, f);
    case FieldDescriptor::CPPTYPE_INT64:
      return rep ? r->GetRepeatedInt64(m, f, index) : r->GetInt64(m, f);
    case FieldDescriptor::CPPTYPE_UINT32:
      return rep ? r->GetRepeatedUInt32(m, f, index) : r->GetUInt32(m, f);
    case FieldDescriptor::CPPTYPE_UINT64:
      return rep ? r->GetRepeatedUInt64(m, f, index) : r->GetUInt64(m, f);
    case FieldDescriptor::CPPTYPE_DOUBLE:
      return rep ? r->GetRepeatedDouble(m, f, index) : r->GetDouble(m, f);
    case FieldDescriptor::CPPTYPE_FLOAT:
      return rep ? r->GetRepeatedFloat(m, f, index) : r->GetFloat(m, f);
    case FieldDescriptor::CPPTYPE_BOOL:
      return rep ? r->GetRepeatedBool(m, f, index) : r->GetBool(m, f);
    case FieldDescriptor::CPPTYPE_ENUM:
      return EnumName(rep ? r->GetRepeatedEnum(m, f, index) : r->GetEnum(m, f));
    case FieldDescriptor::CPPTYPE_STRING: {
      const std::string s = rep ? r->GetRepeatedString(m, f, index) : r->GetString(m, f);
      if (f->type() == FieldDescriptor::TYPE_BYTES) return absl::Base64Escape(s);
      return s;  // Dump with error_handler_t::replace: bytes that are not UTF-8 show as U+FFFD.
    }
    case FieldDescriptor::CPPTYPE_MESSAGE:
      return MessageToJson(rep ? r->GetRepeatedMessage(m, f, index) : r->GetMessage(m, f), o);
  }
  return nullptr;
}

}  // namespace

std::string EnumName(const google::protobuf::EnumValueDescriptor* value) {
  return absl::AsciiStrToLower(value->name());
}

nlohmann::json MessageToJson(const Message& m, const JsonOptions& o) {
  nlohmann::json out = nlohmann::json::object();
  const google::protobuf::Descriptor* d = m.GetDescriptor();
  const Reflection* r = m.GetReflection();
  for (int i = 0; i < d->field_count(); ++i) {
    const FieldDescriptor* f = d->field(i);
    if (!o.with_weights && IsWeights(f)) continue;
    if (f->is_map()) {
      nlohmann::json map = nlohmann::json::object();
      for (int k = 0; k < r->FieldSize(m, f); ++k) {
        const Message& entry = r->GetRepeatedMessage(m, f, k);
        const FieldDescriptor* key = entry.GetDescriptor()->map_key();
        const FieldDescriptor* value = entry.GetDescriptor()->map_value();
        const nlohmann::json kj = Value(entry, key, 0, o);
        map[kj.is_string() ? kj.get<std::string>() : kj.dump()] = Value(entry, value, 0, o);
      }
      out[f->name()] = std::move(map);
    } else if (f->is_repeated()) {
      nlohmann::json list = nlohmann::json::array();
      for (int k = 0; k < r->FieldSize(m, f); ++k) list.push_back(Value(m, f, k, o));
      out[f->name()] = std::move(list);
    } else {
      out[f->name()] = Value(m, f, 0, o);
    }
  }
  return out;
}

}  // namespace fedtiny::coordinator
