#include "coordinator/meter/billing_csv.h"

#include "gtest/gtest.h"

namespace fedtiny::meter {
namespace {

TEST(BillingCsvTest, OneRowPerPairWithFlagsAndQuoting) {
  DeviceUsage a;
  a.device_id = "d1";
  a.package = "pkg";
  a.accepted_calls = 120;
  a.syncs = 3;
  a.checkpoint_index = 120;
  DeviceUsage b = a;
  b.device_id = "d,2";
  b.disputed_calls = 7;
  b.flag_counts[METER_FLAG_FORK] = 1;
  b.flag_counts[METER_FLAG_GAP] = 2;
  b.cut_off = true;
  b.last_flag_detail = "a \"second\" continuation";
  EXPECT_EQ(BillingCsv({a, b}), std::string(kBillingCsvHeader) +
                                    "\nd1,pkg,120,0,3,120,0,0,0,0,0,0,0,\n"
                                    "\"d,2\",pkg,120,7,3,120,0,1,0,2,0,0,1,\"a "
                                    "\"\"second\"\" continuation\"\n");
}

TEST(BillingCsvTest, EmptyIsTheHeader) {
  EXPECT_EQ(BillingCsv({}), std::string(kBillingCsvHeader) + "\n");
}

}  // namespace
}  // namespace fedtiny::meter
