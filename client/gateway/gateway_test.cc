// A microcontroller's round through the gateway, end to end: the device side
// speaks only nanopb (client/wire) over framed bytes on a socket pair, as over a
// UART; the gateway relays to a real coordinator on 127.0.0.1, in a round
// alongside a device that calls the coordinator over gRPC directly.
#include "client/gateway/gateway.h"

#include <sys/socket.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "client/core/model.h"
#include "client/transport/model_proto.h"
#include "client/wire/wire.h"
#include "coordinator/coordinator.h"
#include "coordinator/server.h"
#include "gtest/gtest.h"
#include "pb_decode.h"
#include "tools/base/crypto/ec_key.h"
#include "tools/base/sha256.h"

namespace fedtiny::gateway {
namespace {

constexpr int kDim = 8 * 4 + 4;  // The head below: 8 -> 4.

v1::TaskConfig Task() {
  v1::TaskConfig c;
  c.set_name("mcu");
  c.set_population("mcu");
  client::Head all = client::MakeHead({16, 8, 4}, 5);
  client::Head head;
  head.layers.assign(all.layers.begin() + 1, all.layers.end());
  *c.mutable_model() = ModelToProto(client::Body({all.layers[0]}), head);
  c.set_rounds(1);
  c.set_clients_per_round(2);
  c.set_min_reports(2);
  c.set_round_deadline_ms(60'000);
  return c;
}

// The device's side of the link: frames out, frames in, nothing else.
class DeviceLink {
 public:
  explicit DeviceLink(int fd) : fd_(fd), decoder_(1 << 20) {}
  void Send(const std::string& bytes) {
    ASSERT_EQ(write(fd_, bytes.data(), bytes.size()), static_cast<ssize_t>(bytes.size()));
  }
  Frame Receive() {
    Frame f;
    char buf[4096];
    while (!decoder_.Next(&f)) {
      const ssize_t n = read(fd_, buf, sizeof(buf));
      if (n <= 0) return Frame{FrameType::kError, "\x0e" "link closed"};
      decoder_.Feed(buf, static_cast<size_t>(n));
    }
    return f;
  }
  Frame Call(FrameType type, const std::string& payload) {
    Send(EncodeFrame(type, payload));
    return Receive();
  }

 private:
  int fd_;
  FrameDecoder decoder_;
};

// A coordinator on 127.0.0.1 without a trust directory, its data in
// $TEST_TMPDIR/<name>.
absl::StatusOr<coordinator::Server> StartServer(const std::string& name) {
  coordinator::Server::Options o;
  o.data_dir = std::string(std::getenv("TEST_TMPDIR")) + "/" + name;
  o.admin_token = "operator-secret-0123456789";
  return coordinator::Server::Start(o);
}

// The gateway serving one end of a socketpair on its own thread, relaying to
// `server`; the test is the microcontroller on the other end (link()). Owns
// both ends and the thread; Finish() must be called once before destruction.
class Relay {
 public:
  explicit Relay(const coordinator::Server& server)
      : gateway_(grpc::CreateChannel(server.address(), grpc::InsecureChannelCredentials()), {}) {
    if (socketpair(AF_UNIX, SOCK_STREAM, 0, fds_) != 0) return;
    thread_ = std::thread([this] { served_ = gateway_.Serve(fds_[1]); });
    link_ = std::make_unique<DeviceLink>(fds_[0]);
  }
  bool ok() const { return link_ != nullptr; }
  DeviceLink& link() { return *link_; }
  const Gateway& gateway() const { return gateway_; }

  // Closes the device's end, waits for the gateway to see it and stop, and
  // returns what Serve returned.
  absl::Status Finish() {
    shutdown(fds_[0], SHUT_RDWR);
    close(fds_[0]);
    thread_.join();
    close(fds_[1]);
    return served_;
  }

 private:
  Gateway gateway_;
  int fds_[2] = {-1, -1};
  absl::Status served_;
  std::thread thread_;
  std::unique_ptr<DeviceLink> link_;
};

std::string Encoded(const std::function<wire::Result(wire::ByteSink&)>& encode) {
  std::vector<uint8_t> buf(1 << 16);
  wire::BufferSink sink(buf.data(), buf.size());
  const wire::Result r = encode(sink);
  EXPECT_TRUE(r.ok()) << r.message();
  return std::string(reinterpret_cast<const char*>(buf.data()), sink.size());
}

class StringSink : public wire::ByteSink {
 public:
  bool Write(const uint8_t* data, size_t n) override {
    bytes.append(reinterpret_cast<const char*>(data), n);
    return true;
  }
  std::string bytes;
};

TEST(GatewayTest, AMicrocontrollerTakesPartInARealRoundThroughTheGateway) {
  absl::StatusOr<coordinator::Server> server = StartServer("gateway");
  ASSERT_TRUE(server.ok()) << server.status();
  ASSERT_TRUE(server->coordinator()->CreateTask(Task()).ok());
  Relay relay(*server);
  ASSERT_TRUE(relay.ok());
  DeviceLink& link = relay.link();

  // Noise on the line first: answered DATA_LOSS, and the link goes on.
  link.Send("\x01\x02noise" + EncodeFrame(FrameType::kCheckIn, "x").substr(0, 9) + "garbage!!!!");
  Frame lost = link.Receive();
  ASSERT_EQ(lost.type, FrameType::kError);
  EXPECT_EQ(static_cast<int>(lost.payload[0]), grpc::StatusCode::DATA_LOSS);

  // Check in (nanopb).
  const std::string secret = "mcu-1-secret-0123456789";
  wire::CheckInFields ci;
  ci.device_id = "mcu-1";
  ci.population = "mcu";
  ci.device_class = "mcu-m4";
  ci.capabilities.has_fpu = true;
  ci.capabilities.ram_bytes = 256 << 10;
  ci.state.charging = true;
  ci.state.idle = true;
  ci.state.unmetered_network = true;
  ci.state.battery_percent = 90;
  ci.device_secret = {reinterpret_cast<const uint8_t*>(secret.data()), secret.size()};
  Frame r = link.Call(FrameType::kCheckIn, Encoded([&](wire::ByteSink& s) {
                        return wire::EncodeCheckInRequest(ci, s);
                      }));
  ASSERT_EQ(r.type, FrameType::kCheckInResponse) << r.payload.substr(1);
  fedtiny_v1_CheckInResponse response = fedtiny_v1_CheckInResponse_init_zero;
  ASSERT_TRUE(wire::DecodeCheckInResponse(reinterpret_cast<const uint8_t*>(r.payload.data()),
                                          r.payload.size(), &response).ok());
  ASSERT_EQ(response.which_outcome, fedtiny_v1_CheckInResponse_assignment_tag);
  const fedtiny_v1_Assignment& a = response.outcome.assignment;
  ASSERT_EQ(a.bundles_count, 1);
  const fedtiny_v1_ModelBundle& bundle = a.bundles[0];

  // Download in 1 KiB chunks, as a device with little RAM would, and verify.
  StringSink model;
  while (static_cast<int64_t>(model.bytes.size()) < bundle.size_bytes) {
    fedtiny_v1_DownloadRequest d = fedtiny_v1_DownloadRequest_init_zero;
    std::strncpy(d.task, a.task, sizeof(d.task) - 1);
    d.round = a.round;
    d.upload_token.size = a.upload_token.size;
    std::memcpy(d.upload_token.bytes, a.upload_token.bytes, a.upload_token.size);
    d.cluster = bundle.cluster;
    d.offset = static_cast<int64_t>(model.bytes.size());
    d.max_bytes = 1024;
    std::strncpy(d.variant, bundle.variant, sizeof(d.variant) - 1);
    Frame chunk = link.Call(FrameType::kDownload, Encoded([&](wire::ByteSink& s) {
                              return wire::EncodeMessage(fedtiny_v1_DownloadRequest_fields, &d, s);
                            }));
    ASSERT_EQ(chunk.type, FrameType::kDownloadResponse) << chunk.payload.substr(1);
    wire::BufferSource in(reinterpret_cast<const uint8_t*>(chunk.payload.data()), chunk.payload.size());
    uint8_t scratch[64];
    fedtiny_v1_DownloadResponse meta = fedtiny_v1_DownloadResponse_init_zero;
    size_t got = 0;
    ASSERT_TRUE(wire::DecodeDownloadResponse(in, chunk.payload.size(), scratch, sizeof(scratch), model,
                                             &meta, &got).ok());
    ASSERT_GT(got, 0u);
    ASSERT_LE(got, 1024u);
  }
  const Sha256Digest digest = *Sha256(model.bytes);
  ASSERT_EQ(bundle.sha256.size, digest.size());
  EXPECT_EQ(std::memcmp(bundle.sha256.bytes, digest.data(), digest.size()), 0);

  // Upload a delta (nanopb, streamed from the device's array).
  std::vector<float> delta(kDim, 0.01f);
  wire::Metric loss{"train_loss", 0.7};
  wire::UploadFields up;
  up.task = a.task;
  up.round = a.round;
  up.upload_token = {a.upload_token.bytes, a.upload_token.size};
  up.cluster = bundle.cluster;
  up.model_version = bundle.version;
  up.example_count = 20;
  up.delta = delta.data();
  up.delta_count = delta.size();
  up.metrics = &loss;
  up.metric_count = 1;
  up.device_secret = ci.device_secret;
  Frame uploaded = link.Call(FrameType::kUpload, Encoded([&](wire::ByteSink& s) {
                               return wire::EncodeUploadRequest(up, s);
                             }));
  ASSERT_EQ(uploaded.type, FrameType::kUploadResponse) << uploaded.payload.substr(1);

  // A second upload of the same token is refused, and the refusal crosses the link.
  Frame again = link.Call(FrameType::kUpload, Encoded([&](wire::ByteSink& s) {
                            return wire::EncodeUploadRequest(up, s);
                          }));
  ASSERT_EQ(again.type, FrameType::kError);
  EXPECT_EQ(static_cast<int>(again.payload[0]), grpc::StatusCode::ALREADY_EXISTS) << again.payload.substr(1);

  // A phone over gRPC completes the round.
  auto stub = v1::Federation::NewStub(
      grpc::CreateChannel(server->address(), grpc::InsecureChannelCredentials()));
  v1::CheckInRequest phone;
  phone.set_device_id("phone-1");
  phone.set_device_secret("phone-1-secret-0123456789");
  phone.set_population("mcu");
  phone.mutable_capabilities()->set_has_fpu(true);
  phone.mutable_state()->set_charging(true);
  phone.mutable_state()->set_idle(true);
  phone.mutable_state()->set_unmetered_network(true);
  phone.mutable_state()->set_battery_percent(80);
  v1::CheckInResponse pr;
  {
    grpc::ClientContext ctx;
    ASSERT_TRUE(stub->CheckIn(&ctx, phone, &pr).ok());
  }
  ASSERT_TRUE(pr.has_assignment());
  v1::UploadRequest pu;
  pu.set_task(pr.assignment().task());
  pu.set_round(pr.assignment().round());
  pu.set_upload_token(pr.assignment().upload_token());
  pu.set_model_version(pr.assignment().bundles(0).version());
  pu.set_example_count(20);
  pu.set_device_secret(phone.device_secret());
  std::vector<float> pdelta(kDim, -0.01f);
  pu.set_delta(std::string(reinterpret_cast<const char*>(pdelta.data()), pdelta.size() * 4));
  {
    grpc::ClientContext ctx;
    v1::UploadResponse ur;
    const grpc::Status s = stub->Upload(&ctx, pu, &ur);
    ASSERT_TRUE(s.ok()) << s.error_message();
  }
  absl::StatusOr<v1::RoundInfo> round = server->coordinator()->GetRound("mcu", a.round);
  ASSERT_TRUE(round.ok()) << round.status();
  EXPECT_EQ(round->state(), v1::COMMITTED);
  EXPECT_EQ(round->reported(), 2);
  // The microcontroller is a device of its own in the fleet.
  v1::ListDevicesRequest req;
  req.set_task("mcu");
  absl::StatusOr<v1::ListDevicesResponse> devices = server->coordinator()->ListDevices(req);
  ASSERT_TRUE(devices.ok());
  ASSERT_EQ(devices->total(), 2);
  EXPECT_EQ(devices->devices(0).device_id(), "mcu-1");
  EXPECT_EQ(devices->devices(0).device_class(), "mcu-m4");
  EXPECT_EQ(devices->devices(0).rounds_contributed(), 1);

  const absl::Status served = relay.Finish();
  EXPECT_TRUE(served.ok()) << served;
  EXPECT_GE(relay.gateway().stats().frames_in, 4u);
  EXPECT_GE(relay.gateway().stats().bad_frames, 1u);
}

// GetMetadata is relayed (the firmware's partial verification fetches
// targets.pb): the coordinator's own answer comes back, here NOT_FOUND from one
// without a trust directory, not the gateway's "no request of frame type".
TEST(GatewayTest, RelaysGetMetadata) {
  absl::StatusOr<coordinator::Server> server = StartServer("metadata");
  ASSERT_TRUE(server.ok()) << server.status();
  Relay relay(*server);
  ASSERT_TRUE(relay.ok());
  DeviceLink& link = relay.link();

  fedtiny_v1_MetadataRequest m = fedtiny_v1_MetadataRequest_init_zero;
  std::strncpy(m.path, "targets.pb", sizeof(m.path) - 1);
  m.max_bytes = 8192;
  const Frame r = link.Call(FrameType::kMetadata, Encoded([&](wire::ByteSink& s) {
                              return wire::EncodeMessage(fedtiny_v1_MetadataRequest_fields, &m, s);
                            }));
  ASSERT_EQ(r.type, FrameType::kError);
  ASSERT_FALSE(r.payload.empty());
  EXPECT_EQ(r.payload[0], static_cast<char>(grpc::StatusCode::NOT_FOUND)) << r.payload.substr(1);
  EXPECT_NE(r.payload.find("serves no trust metadata"), std::string::npos) << r.payload.substr(1);

  const absl::Status served = relay.Finish();
  EXPECT_TRUE(served.ok()) << served;
  EXPECT_EQ(relay.gateway().stats().frames_in, 1u);
}

// Enroll is relayed (the firmware sends its P-256 public key before its first
// check-in): the nanopb-encoded request reaches the coordinator, its answer
// decodes with nanopb, and a second key for the same device id comes back as
// the coordinator's ALREADY_EXISTS, not the gateway's "no request of frame type".
TEST(GatewayTest, RelaysEnroll) {
  absl::StatusOr<coordinator::Server> server = StartServer("enroll");
  ASSERT_TRUE(server.ok()) << server.status();
  Relay relay(*server);
  ASSERT_TRUE(relay.ok());
  DeviceLink& link = relay.link();

  auto enroll = [&](const std::string& spki) {
    fedtiny_v1_EnrollRequest e = fedtiny_v1_EnrollRequest_init_zero;
    std::strncpy(e.device_id, "mcu-enroll-1", sizeof(e.device_id) - 1);
    const std::string secret = "mcu-enroll-1-secret-0123456789";
    e.device_secret.size = static_cast<pb_size_t>(secret.size());
    std::memcpy(e.device_secret.bytes, secret.data(), secret.size());
    EXPECT_LE(spki.size(), sizeof(e.device_public_key_spki.bytes));
    e.device_public_key_spki.size = static_cast<pb_size_t>(spki.size());
    std::memcpy(e.device_public_key_spki.bytes, spki.data(), spki.size());
    return link.Call(FrameType::kEnroll, Encoded([&](wire::ByteSink& s) {
                       return wire::EncodeMessage(fedtiny_v1_EnrollRequest_fields, &e, s);
                     }));
  };
  absl::StatusOr<crypto::EcPrivateKey> key = crypto::EcPrivateKey::Generate();
  ASSERT_TRUE(key.ok()) << key.status();
  const Frame r = enroll(key->public_key().spki_der());
  ASSERT_EQ(r.type, FrameType::kEnrollResponse) << r.payload.substr(1);
  fedtiny_v1_EnrollResponse response = fedtiny_v1_EnrollResponse_init_zero;
  pb_istream_t in = pb_istream_from_buffer(reinterpret_cast<const pb_byte_t*>(r.payload.data()),
                                           r.payload.size());
  ASSERT_TRUE(pb_decode(&in, fedtiny_v1_EnrollResponse_fields, &response)) << PB_GET_ERROR(&in);
  EXPECT_FALSE(response.bundles_encrypted);  // No trust directory: plain bundles.

  absl::StatusOr<crypto::EcPrivateKey> other = crypto::EcPrivateKey::Generate();
  ASSERT_TRUE(other.ok()) << other.status();
  const Frame again = enroll(other->public_key().spki_der());
  ASSERT_EQ(again.type, FrameType::kError);
  ASSERT_FALSE(again.payload.empty());
  EXPECT_EQ(again.payload[0], static_cast<char>(grpc::StatusCode::ALREADY_EXISTS)) << again.payload.substr(1);

  const absl::Status served = relay.Finish();
  EXPECT_TRUE(served.ok()) << served;
  EXPECT_EQ(relay.gateway().stats().frames_in, 2u);
}

}  // namespace
}  // namespace fedtiny::gateway
