#include "client/gateway/gateway.h"

#include <poll.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "absl/strings/str_cat.h"

namespace fedtiny::gateway {

namespace {

bool WriteAll(int fd, const std::string& bytes) {
  size_t done = 0;
  while (done < bytes.size()) {
    const ssize_t n = write(fd, bytes.data() + done, bytes.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    done += static_cast<size_t>(n);
  }
  return true;
}

}  // namespace

Gateway::Gateway(std::shared_ptr<grpc::Channel> channel, Options options)
    : stub_(v1::Federation::NewStub(std::move(channel))), options_(options) {}

template <typename Request, typename Response, typename Call>
std::string Gateway::Relay(const Frame& f, FrameType answer, Call call) {
  Request request;
  if (!request.ParseFromString(f.payload)) {
    ++stats_.errors_out;
    return EncodeFrame(FrameType::kError,
                       ErrorPayload(grpc::StatusCode::INVALID_ARGUMENT,
                                    "gateway: the frame's payload is not the message its type names"));
  }
  grpc::ClientContext ctx;
  ctx.set_deadline(absl::ToChronoTime(absl::Now() + options_.call_deadline));
  Response response;
  const grpc::Status s = call(&ctx, request, &response);
  if (!s.ok()) {
    ++stats_.errors_out;
    return EncodeFrame(FrameType::kError, ErrorPayload(s.error_code(), s.error_message()));
  }
  return EncodeFrame(answer, response.SerializeAsString());
}

std::string Gateway::Handle(const Frame& f) {
  ++stats_.frames_in;
  ++stats_.frames_out;
  v1::Federation::Stub* stub = stub_.get();
  switch (f.type) {
    case FrameType::kCheckIn:
      return Relay<v1::CheckInRequest, v1::CheckInResponse>(
          f, FrameType::kCheckInResponse, [stub](auto* c, const auto& r, auto* o) {
            return stub->CheckIn(c, r, o);
          });
    case FrameType::kDownload:
      return Relay<v1::DownloadRequest, v1::DownloadResponse>(
          f, FrameType::kDownloadResponse, [stub](auto* c, const auto& r, auto* o) {
            return stub->Download(c, r, o);
          });
    case FrameType::kUpload:
      return Relay<v1::UploadRequest, v1::UploadResponse>(
          f, FrameType::kUploadResponse, [stub](auto* c, const auto& r, auto* o) {
            return stub->Upload(c, r, o);
          });
    case FrameType::kFailure:
      return Relay<v1::FailureReport, v1::FailureResponse>(
          f, FrameType::kFailureResponse, [stub](auto* c, const auto& r, auto* o) {
            return stub->ReportFailure(c, r, o);
          });
    case FrameType::kMetadata:
      return Relay<v1::MetadataRequest, v1::MetadataResponse>(
          f, FrameType::kMetadataResponse, [stub](auto* c, const auto& r, auto* o) {
            return stub->GetMetadata(c, r, o);
          });
    case FrameType::kEnroll:
      return Relay<v1::EnrollRequest, v1::EnrollResponse>(
          f, FrameType::kEnrollResponse, [stub](auto* c, const auto& r, auto* o) {
            return stub->Enroll(c, r, o);
          });
    default:
      ++stats_.errors_out;
      return EncodeFrame(FrameType::kError,
                         ErrorPayload(grpc::StatusCode::INVALID_ARGUMENT,
                                      absl::StrCat("gateway: no request of frame type ",
                                                   static_cast<int>(f.type))));
  }
}

absl::Status Gateway::Serve(int fd) {
  FrameDecoder decoder(options_.max_payload);
  char buf[4096];
  uint64_t bad_seen = 0;
  // A request lost to noise (or left unfinished) is answered DATA_LOSS, so that
  // the device resends it at once instead of waiting for its timeout
  // (Federation calls are safe to retry). False when the link cannot be written.
  auto report_loss = [&](const char* what) -> bool {
    if (decoder.bad_frames() == bad_seen) return true;
    bad_seen = decoder.bad_frames();
    ++stats_.errors_out;
    return WriteAll(fd, EncodeFrame(FrameType::kError, ErrorPayload(grpc::StatusCode::DATA_LOSS, what)));
  };
  while (true) {
    pollfd p{fd, POLLIN, 0};
    const int ready = poll(&p, 1, static_cast<int>(absl::ToInt64Milliseconds(options_.idle_resync)));
    if (ready < 0 && errno == EINTR) continue;
    if (ready == 0) {
      if (decoder.DropPartial() &&
          !report_loss("gateway: an unfinished frame was dropped")) {
        return absl::UnavailableError(absl::StrCat("link write: ", std::strerror(errno)));
      }
      continue;
    }
    const ssize_t n = read(fd, buf, sizeof(buf));
    if (n < 0 && errno == EINTR) continue;
    if (n == 0) return absl::OkStatus();
    if (n < 0) return absl::UnavailableError(absl::StrCat("link read: ", std::strerror(errno)));
    decoder.Feed(buf, static_cast<size_t>(n));
    Frame f;
    while (decoder.Next(&f)) {
      if (!report_loss("gateway: a corrupt frame was dropped") || !WriteAll(fd, Handle(f))) {
        return absl::UnavailableError(absl::StrCat("link write: ", std::strerror(errno)));
      }
    }
    if (!report_loss("gateway: a corrupt frame was dropped")) {
      return absl::UnavailableError(absl::StrCat("link write: ", std::strerror(errno)));
    }
    stats_.dropped_bytes = decoder.dropped_bytes();
    stats_.bad_frames = decoder.bad_frames();
  }
}

}  // namespace fedtiny::gateway
