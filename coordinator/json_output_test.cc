#include "coordinator/json_output.h"

#include "gtest/gtest.h"
#include "proto/admin.pb.h"

namespace fedtiny::coordinator {
namespace {

std::string Dump(const google::protobuf::Message& m, JsonOptions o = {}) {
  return MessageToJson(m, o).dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

TEST(JsonOutputTest, ZerosAreKeptNumbersAreNumbersEnumsAreLowerCase) {
  v1::RoundInfo r;
  r.set_task("t");
  r.set_round(20);
  r.set_state(v1::COMMITTED);
  (*r.mutable_versions())[0] = 0;  // Version 0 must not vanish.
  (*r.mutable_metrics())["train_loss"] = 0.5;
  const nlohmann::json j = MessageToJson(r, {});
  EXPECT_TRUE(j.at("round").is_number_integer());
  EXPECT_EQ(j.at("round").get<int64_t>(), 20);
  EXPECT_EQ(j.at("state"), "committed");
  EXPECT_TRUE(j.contains("reported"));  // Zero, still printed.
  EXPECT_EQ(j.at("reported").get<int>(), 0);
  EXPECT_EQ(j.at("versions").at("0").get<int64_t>(), 0);
  EXPECT_DOUBLE_EQ(j.at("metrics").at("train_loss").get<double>(), 0.5);
  // One line, parseable back.
  const std::string line = Dump(r);
  EXPECT_EQ(line.find('\n'), std::string::npos);
  EXPECT_EQ(nlohmann::json::parse(line), j);
}

TEST(JsonOutputTest, WeightsOnlyWhenAsked) {
  v1::TaskInfo info;
  v1::DenseLayer* l = info.mutable_config()->mutable_model()->add_head();
  l->set_inputs(2);
  l->set_outputs(1);
  l->mutable_weights()->add_values(0.25f);
  l->mutable_weights()->add_values(-1.f);
  const nlohmann::json without = MessageToJson(info, {});
  const nlohmann::json& w = without.at("config").at("model").at("head").at(0).at("weights");
  EXPECT_FALSE(w.contains("values"));
  EXPECT_EQ(without.at("config").at("model").at("head").at(0).at("inputs").get<int>(), 2);
  const nlohmann::json with = MessageToJson(info, {true});
  const nlohmann::json& v = with.at("config").at("model").at("head").at(0).at("weights").at("values");
  ASSERT_EQ(v.size(), 2u);
  EXPECT_DOUBLE_EQ(v.at(0).get<double>(), 0.25);
}

TEST(JsonOutputTest, NonUtf8StringsDoNotBreakTheLine) {
  v1::RoundInfo r;
  r.set_task(std::string("bad\xff\xfe", 5));
  const std::string line = Dump(r);
  EXPECT_NE(line.find("bad"), std::string::npos);
  EXPECT_NO_THROW((void)nlohmann::json::parse(line));
}

}  // namespace
}  // namespace fedtiny::coordinator
