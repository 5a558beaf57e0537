// The gateway relay: a Linux process (or a phone app) that carries a
// microcontroller's Federation calls between its byte-stream link (frame.h) and
// the coordinator's gRPC API. The device speaks nanopb over a UART or BLE; the
// gateway parses each request frame as the Federation message its type names,
// makes the call (with a deadline), and answers with the response frame, or an
// error frame holding the gRPC code and message. It keeps no device state: the
// device's secret and tokens travel in its own messages, so the coordinator
// sees each microcontroller as the device it is.
#ifndef FEDTINY_CLIENT_GATEWAY_GATEWAY_H_
#define FEDTINY_CLIENT_GATEWAY_GATEWAY_H_

#include <cstdint>
#include <memory>
#include <string>

#include <grpcpp/grpcpp.h>

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "client/gateway/frame.h"
#include "proto/federation.grpc.pb.h"

namespace fedtiny::gateway {

// Serves one link at a time. Not thread-safe: one Serve() per Gateway at once.
// Shares the channel; borrows the file descriptor given to Serve().
class Gateway {
 public:
  struct Options {
    // Largest frame payload accepted from the device (an upload of the head's
    // delta; the device asks for downloads in chunks it can hold).
    size_t max_payload = 256 << 10;
    absl::Duration call_deadline = absl::Seconds(30);
    // A frame not finished after this much silence is dropped (and answered
    // DATA_LOSS): a corrupted length never holds the link.
    absl::Duration idle_resync = absl::Milliseconds(500);
  };
  struct Stats {
    uint64_t frames_in = 0, frames_out = 0, errors_out = 0;
    uint64_t dropped_bytes = 0, bad_frames = 0;
  };

  Gateway(std::shared_ptr<grpc::Channel> channel, Options options);

  // Relays frames read from `fd` until it reaches end of file (OK) or fails
  // (kUnavailable with the errno). Corrupt input is answered with an error
  // frame (DATA_LOSS) and never ends the link.
  absl::Status Serve(int fd);

  // The answer frame to one request frame (exposed for tests).
  std::string Handle(const Frame& request);

  const Stats& stats() const { return stats_; }

 private:
  template <typename Request, typename Response, typename Call>
  std::string Relay(const Frame& f, FrameType answer, Call call);

  std::unique_ptr<v1::Federation::Stub> stub_;
  const Options options_;
  Stats stats_;
};

}  // namespace fedtiny::gateway

#endif  // FEDTINY_CLIENT_GATEWAY_GATEWAY_H_
