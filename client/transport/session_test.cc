// The session against a hostile coordinator over real gRPC on loopback: sizes
// it announces, bytes it drips, codes it answers. Each test bounds what the
// server can make the device do.
#include "client/transport/session.h"

#include <atomic>
#include <cstdlib>
#include <new>
#include <string>

#include "client/transport/hostile_federation.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tools/base/status_matchers.h"

// The largest single allocation through operator new since the last reset:
// shows that an announced size is not reserved before its bytes arrive.
namespace {
std::atomic<size_t> largest_allocation{0};
}  // namespace

void* operator new(size_t n) {
  size_t seen = largest_allocation.load(std::memory_order_relaxed);
  while (n > seen && !largest_allocation.compare_exchange_weak(seen, n)) {
  }
  if (void* p = std::malloc(n == 0 ? 1 : n)) return p;
  throw std::bad_alloc();
}
void operator delete(void* p) noexcept { std::free(p); }
void operator delete(void* p, size_t) noexcept { std::free(p); }

namespace fedtiny::client {
namespace {

using ::fedtiny::client::testing::AssignmentFor;
using ::fedtiny::client::testing::HostileFederation;
using ::fedtiny::client::testing::ModelBytes;
using ::fedtiny::client::testing::Script;
using ::fedtiny::testing::IsOk;
using ::fedtiny::testing::StatusIs;
using ::testing::ElementsAre;
using ::testing::HasSubstr;

SessionOptions Plaintext(const HostileFederation& server) {
  SessionOptions o;
  o.address = server.address();
  o.insecure = true;
  o.call_deadline = absl::Seconds(5);
  o.backoff = absl::Milliseconds(10);
  return o;
}

// A bundle of `size` arbitrary bytes, announced truthfully.
Script Serving(int64_t size) {
  Script s;
  s.bundle = std::string(size, 'x');
  s.check_in = AssignmentFor(s.bundle);
  return s;
}

absl::StatusOr<std::string> Download(FederationSession& session,
                                     const Script& s) {
  const v1::Assignment& a = s.check_in.assignment();
  return session.DownloadBundle(a, a.bundles(0), 0);
}

TEST(SessionTest, RetryWindowsAreClampedToADay) {
  SessionOptions o;
  o.address = "127.0.0.1:1";  // Never called.
  o.insecure = true;
  o.seed = 3;
  FederationSession session(o);
  v1::RetryWindow forever;
  forever.set_earliest_ms(int64_t{1} << 53);
  forever.set_latest_ms(int64_t{1} << 62);
  EXPECT_EQ(session.JitteredDelay(forever), absl::Hours(24));
  v1::RetryWindow negative;
  negative.set_earliest_ms(-5000);
  negative.set_latest_ms(-1);
  EXPECT_EQ(session.JitteredDelay(negative), absl::ZeroDuration());
  v1::RetryWindow normal;
  normal.set_earliest_ms(1000);
  normal.set_latest_ms(2000);
  const absl::Duration d = session.JitteredDelay(normal);
  EXPECT_GE(d, absl::Seconds(1));
  EXPECT_LE(d, absl::Seconds(2));
}

TEST(SessionTest, TlsIsTheDefault) {
  HostileFederation server(Serving(10));  // Plaintext only.
  SessionOptions o = Plaintext(server);
  o.insecure = false;
  o.attempts = 1;
  FederationSession tls(o);
  EXPECT_THAT(tls.CheckIn(v1::CheckInRequest()),
              StatusIs(absl::StatusCode::kUnavailable));
  EXPECT_EQ(server.seen().check_ins, 0) << "a check-in went out in plaintext";
  FederationSession plain(Plaintext(server));
  EXPECT_THAT(plain.CheckIn(v1::CheckInRequest()), IsOk());
  EXPECT_EQ(server.seen().check_ins, 1);
}

TEST(SessionTest, RefusesABundleAnnouncedBeyondTheLimit) {
  Script s = Serving(10);
  s.check_in.mutable_assignment()->mutable_bundles(0)->set_size_bytes(int64_t{1}
                                                                      << 30);
  HostileFederation server(s);
  FederationSession session(Plaintext(server));
  EXPECT_THAT(Download(session, s),
              StatusIs(absl::StatusCode::kResourceExhausted,
                       HasSubstr("max_bundle_bytes")));
  EXPECT_EQ(server.seen().downloads, 0);
}

TEST(SessionTest, MemoryGrowsWithArrivedBytesNotAnnouncedOnes) {
  // The device allows 2 GiB, the server announces 1 GiB and sends 4 KiB.
  Script s = Serving(4096);
  s.check_in.mutable_assignment()->mutable_bundles(0)->set_size_bytes(int64_t{1}
                                                                      << 30);
  HostileFederation server(s);
  SessionOptions o = Plaintext(server);
  o.max_bundle_bytes = int64_t{2} << 30;
  FederationSession session(o);
  largest_allocation = 0;
  EXPECT_THAT(Download(session, s), StatusIs(absl::StatusCode::kDataLoss));
  EXPECT_LT(largest_allocation.load(), size_t{16} << 20);
}

TEST(SessionTest, DrippingServerHitsTheDownloadDeadline) {
  Script s = Serving(1 << 20);
  s.max_chunk = 1;
  HostileFederation server(s);
  SessionOptions o = Plaintext(server);
  o.download_deadline = absl::Milliseconds(300);
  o.min_download_bytes_per_second = 0;
  FederationSession session(o);
  EXPECT_THAT(Download(session, s),
              StatusIs(absl::StatusCode::kDeadlineExceeded,
                       HasSubstr("download_deadline")));
  EXPECT_GT(server.seen().downloads, 0);
}

TEST(SessionTest, DrippingServerFailsTheMinimumRate) {
  // 1-byte chunks cannot reach 1 MiB/s: that would take a million calls a
  // second.
  Script s = Serving(1 << 20);
  s.max_chunk = 1;
  HostileFederation server(s);
  SessionOptions o = Plaintext(server);
  o.download_deadline = absl::Hours(1);
  o.min_download_bytes_per_second = 1 << 20;
  o.slow_download_grace = absl::Milliseconds(100);
  FederationSession session(o);
  EXPECT_THAT(Download(session, s),
              StatusIs(absl::StatusCode::kDeadlineExceeded, HasSubstr("slow")));
}

TEST(SessionTest, EmptyChunksEndTheDownload) {
  Script s = Serving(1000);
  s.empty_chunks = true;
  HostileFederation server(s);
  FederationSession session(Plaintext(server));
  EXPECT_THAT(Download(session, s), StatusIs(absl::StatusCode::kDataLoss));
  EXPECT_EQ(server.seen().downloads, 1);
}

TEST(SessionTest, HonestServerDownloadsInChunks) {
  Script s;
  s.bundle = ModelBytes({6, 3});
  s.check_in = AssignmentFor(s.bundle);
  HostileFederation server(s);
  SessionOptions o = Plaintext(server);
  o.chunk_bytes = 7;
  FederationSession session(o);
  absl::StatusOr<std::string> got = Download(session, s);
  ASSERT_THAT(got, IsOk());
  EXPECT_EQ(*got, s.bundle);
  EXPECT_EQ(server.seen().downloads,
            static_cast<int>((s.bundle.size() + 6) / 7));
}

TEST(SessionTest, LateUploadIsSentOnce) {
  Script s = Serving(10);
  s.upload_codes = {grpc::StatusCode::DEADLINE_EXCEEDED};
  HostileFederation server(s);
  FederationSession session(Plaintext(server));
  EXPECT_THAT(session.Upload(v1::UploadRequest()),
              StatusIs(absl::StatusCode::kDeadlineExceeded));
  EXPECT_EQ(server.seen().uploads, 1);
}

TEST(SessionTest, UnavailableUploadIsRetriedByGrpcsPolicy) {
  Script s = Serving(10);
  s.upload_codes = {grpc::StatusCode::UNAVAILABLE,
                    grpc::StatusCode::UNAVAILABLE};
  HostileFederation server(s);
  FederationSession session(Plaintext(server));
  EXPECT_THAT(session.Upload(v1::UploadRequest()), IsOk());
  // gRPC's retry policy, not a loop of ours, made the retries: it numbers them.
  EXPECT_THAT(server.seen().upload_previous_attempts,
              ElementsAre("", "1", "2"));
}

TEST(SessionTest, OneAttemptMeansNoRetry) {
  Script s = Serving(10);
  s.upload_codes = {grpc::StatusCode::UNAVAILABLE};
  HostileFederation server(s);
  SessionOptions o = Plaintext(server);
  o.attempts = 1;
  FederationSession session(o);
  EXPECT_THAT(session.Upload(v1::UploadRequest()),
              StatusIs(absl::StatusCode::kUnavailable));
  EXPECT_EQ(server.seen().uploads, 1);
}

}  // namespace
}  // namespace fedtiny::client
