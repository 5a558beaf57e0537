#include "sim/fashion_mnist.h"

#include <zlib.h>

#include <cstdlib>
#include <string>

#include "gtest/gtest.h"
#include "tools/base/status_matchers.h"

namespace fedtiny::sim {
namespace {

using ::fedtiny::testing::IsOk;
using ::fedtiny::testing::StatusIs;
using ::testing::HasSubstr;

std::string Tmp(const std::string& name) {
  const char* d = std::getenv("TEST_TMPDIR");
  return std::string(d != nullptr ? d : "/tmp") + "/" + name;
}

void WriteGz(const std::string& path, const std::string& bytes) {
  gzFile f = gzopen(path.c_str(), "wb");
  gzwrite(f, bytes.data(), bytes.size());
  gzclose(f);
}

TEST(FashionMnistTest, LoadsTheRealData) {
  absl::StatusOr<FashionMnist> d = LoadFashionMnist();
  ASSERT_THAT(d, IsOk());
  EXPECT_EQ(d->train.images.rows(), 60000);
  EXPECT_EQ(d->train.images.cols(), 784);
  EXPECT_EQ(d->test.images.rows(), 10000);
  EXPECT_GE(d->train.images.minCoeff(), 0.f);
  EXPECT_LE(d->train.images.maxCoeff(), 1.f);
  std::vector<int> counts(10, 0);
  for (int32_t y : d->train.labels) ++counts[y];
  for (int c : counts) EXPECT_EQ(c, 6000);  // Fashion-MNIST is balanced.
}

TEST(FashionMnistTest, MissingNamesThePackage) {
  EXPECT_THAT(LoadFashionMnist("/nonexistent"),
              StatusIs(absl::StatusCode::kNotFound, HasSubstr("dataset-fashion-mnist")));
}

TEST(FashionMnistTest, TruncatedOrMalformedIsDataLoss) {
  std::vector<int64_t> dims;
  const std::string header("\0\0\x08\x01\0\0\0\x05", 8);
  WriteGz(Tmp("ok.gz"), header + "abcde");
  absl::StatusOr<std::vector<uint8_t>> ok = ReadIdx(Tmp("ok.gz"), &dims);
  ASSERT_THAT(ok, IsOk());
  EXPECT_EQ(dims, std::vector<int64_t>{5});
  WriteGz(Tmp("short.gz"), header + "abc");
  EXPECT_THAT(ReadIdx(Tmp("short.gz"), &dims),
              StatusIs(absl::StatusCode::kDataLoss, HasSubstr("truncated")));
  WriteGz(Tmp("bad.gz"), std::string("\x12\x34\x08\x01", 4));
  EXPECT_THAT(ReadIdx(Tmp("bad.gz"), &dims), StatusIs(absl::StatusCode::kDataLoss));
}

}  // namespace
}  // namespace fedtiny::sim
