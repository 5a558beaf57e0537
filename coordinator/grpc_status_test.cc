#include "coordinator/grpc_status.h"

#include "gtest/gtest.h"

namespace fedtiny::coordinator {
namespace {

TEST(GrpcStatusTest, RoundTripsEveryCode) {
  for (int c = 0; c <= 16; ++c) {
    const auto code = static_cast<absl::StatusCode>(c);
    absl::Status in(code, c == 0 ? "" : "why");
    grpc::Status g = ToGrpcStatus(in);
    EXPECT_EQ(static_cast<int>(g.error_code()), c);
    EXPECT_EQ(FromGrpcStatus(g), in);
  }
  EXPECT_EQ(ToGrpcStatus(absl::NotFoundError("round 9")).error_message(),
            "round 9");
  EXPECT_EQ(ToGrpcStatus(absl::NotFoundError("x")).error_code(),
            grpc::StatusCode::NOT_FOUND);
}

}  // namespace
}  // namespace fedtiny::coordinator
