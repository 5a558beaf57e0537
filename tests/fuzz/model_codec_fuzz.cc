// Fuzzes the model codec (proto/model_codec.h) and the SDK's conversions
// (client/transport/model_proto.h): the bytes are a serialized
// v1::Model, as a device receives it in a bundle and as an operator sends it in
// a TaskConfig.
//
// Invariants: a model that decodes re-encodes to bytes that decode to the same
// body and head, and re-encoding is then a fixed point (byte-identical); its
// head is finite, HeadParams is Head::Flatten (one flat layout on both sides)
// and HeadParams / SetHeadParams round-trip bit-exactly; a wrong
// parameter count is refused; the int8 variant the coordinator serves to
// devices without an FPU decodes too, with the same head; running the body on
// one input works for both variants. Convolutional bodies (Model.layers, float
// and int8) go through the same checks.
#include <cmath>
#include <cstdint>
#include <vector>

#include "client/platform/linux/status_bridge.h"
#include "client/transport/model_proto.h"
#include "proto/model_codec.h"
#include "tests/fuzz/fuzz_check.h"

namespace fedtiny::fuzz {
namespace {

std::vector<float> Flat(const client::Head& h) { return h.Flatten(); }

void CheckRoundTrip(const v1::Model& m, const client::Body& body,
                    const client::Head& head) {
  const std::string once = ModelToProto(body, head).SerializeAsString();
  v1::Model reparsed;
  FUZZ_CHECK(reparsed.ParseFromString(once));
  absl::StatusOr<client::Body> body2 = client::BodyFromProto(reparsed);
  absl::StatusOr<client::Head> head2 = client::HeadFromProto(reparsed);
  FUZZ_CHECK_OK(body2) << "an encoded body does not decode";
  FUZZ_CHECK_OK(head2) << "an encoded head does not decode";
  FUZZ_CHECK(Flat(*head2) == Flat(head)) << "the head changed in a round trip";
  FUZZ_CHECK(body2->layers().size() == body.layers().size());
  FUZZ_CHECK(ModelToProto(*body2, *head2).SerializeAsString() == once)
      << "encoding is not a fixed point";
}

void CheckHeadParams(const v1::Model& m, const client::Head& head) {
  absl::StatusOr<std::vector<float>> params = HeadParams(m);
  FUZZ_CHECK_OK(params);
  FUZZ_CHECK(*params == Flat(head))
      << "HeadParams and Head::Flatten disagree on the flat layout";
  for (float v : *params)
    FUZZ_CHECK(std::isfinite(v)) << "a decoded head holds NaN/Inf";
  v1::Model copy = m;
  FUZZ_CHECK_OK(SetHeadParams(*params, copy));
  absl::StatusOr<std::vector<float>> again = HeadParams(copy);
  FUZZ_CHECK_OK(again);
  FUZZ_CHECK(*again == *params)
      << "SetHeadParams(HeadParams(m)) changed the head";
  std::vector<float> longer = *params;
  longer.push_back(0);
  FUZZ_CHECK(SetHeadParams(longer, copy).code() ==
             absl::StatusCode::kInvalidArgument);
}

void CheckInt8Variant(const v1::Model& m, const client::Head& head) {
  const v1::Model q = Int8BodyVariant(m);
  absl::StatusOr<client::Body> body = client::BodyFromProto(q);
  if (!FUZZ_FINDING("MC-1", body.ok(),
                    "the int8 variant of a valid model does not decode: " +
                        body.status().ToString())) {
    return;
  }
  absl::StatusOr<client::Head> qhead = client::HeadFromProto(q);
  FUZZ_CHECK_OK(qhead);
  FUZZ_CHECK(Flat(*qhead) == Flat(head)) << "the int8 variant changed the head";
  for (const client::BodyLayer& l : body->layers()) {
    FUZZ_CHECK(std::holds_alternative<client::QuantizedDenseLayer>(l));
  }
}

void CheckFeatures(const client::Body& body, int64_t input_dim,
                   int64_t head_in) {
  const int64_t in = body.input_dim(head_in);
  // A convolutional body may be valid and yet slow (the codec bounds sizes,
  // not work): only cheap ones run here.
  if (in <= 0 || in > (1 << 16) || body.multiply_adds() > 10'000'000) return;
  client::RowMatrixXf x = client::RowMatrixXf::Constant(1, in, 0.5f);
  absl::StatusOr<client::RowMatrixXf> y = client::ToAbsl(body.Features(x));
  FUZZ_CHECK_OK(y) << "the body rejects an input of its own width";
  FUZZ_CHECK(y->rows() == 1 && y->cols() == body.output_dim(in));
  (void)input_dim;
}

}  // namespace
}  // namespace fedtiny::fuzz

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace fedtiny;
  using namespace fedtiny::fuzz;
  v1::Model m;
  if (!m.ParseFromArray(data, static_cast<int>(size))) return 0;
  absl::StatusOr<client::Body> body = client::BodyFromProto(m);
  absl::StatusOr<client::Head> head = client::HeadFromProto(m);
  if (head.ok()) CheckHeadParams(m, *head);
  if (body.ok()) {
    CheckFeatures(*body, m.input_dim(), head.ok() ? head->input_dim() : 1);
    if (head.ok()) {
      CheckInt8Variant(m, *head);
      CheckRoundTrip(m, *body, *head);
    }
  }
  return 0;
}
