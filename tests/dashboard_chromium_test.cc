// The live dashboard rendered by a real browser: a real coordinator on
// 127.0.0.1 (real gRPC, real data directory), three rounds completed by real
// participants of three device classes and a fourth under way, then Debian's
// headless Chromium loads http://127.0.0.1:PORT/dashboard. The rendered DOM
// must show what the test did, and the screenshot must hold the progress bar's
// and the curves' colours where the page says it drew them.
#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include <zlib.h>

#include <cstdlib>
#include <cstring>
#include <random>
#include <regex>
#include <string>
#include <thread>
#include <vector>

#include <grpcpp/grpcpp.h>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "client/core/eligibility.h"
#include "client/transport/model_proto.h"
#include "client/transport/participant.h"
#include "coordinator/clock.h"
#include "coordinator/server.h"
#include "gtest/gtest.h"
#include "tests/small_model.h"
#include "proto/admin.grpc.pb.h"
#include "tools/base/atomic_file.h"

namespace fedtiny {
namespace {

constexpr char kToken[] = "operator-secret-0123456789";
constexpr char kChromium[] = "/usr/bin/chromium";

std::string Tmp(const std::string& name) { return std::string(std::getenv("TEST_TMPDIR")) + "/" + name; }

// Runs Chromium headless on `url` with `mode` ("--dump-dom" or
// "--screenshot=<path>"); returns its stdout. Fails the test on a non-zero exit
// or after 40 s.
std::string RunChromium(const std::string& mode, const std::string& url) {
  const std::string home = Tmp("chromium-home"), out = Tmp("chromium.out"), err = Tmp("chromium.err");
  mkdir(home.c_str(), 0700);
  std::vector<std::string> args = {kChromium, "--headless", "--no-sandbox", "--disable-gpu",
                                   "--disable-dev-shm-usage", "--no-first-run",
                                   "--disable-extensions", "--disable-background-networking",
                                   "--disable-component-update", "--hide-scrollbars",
                                   "--force-device-scale-factor=1", "--window-size=1280,900",
                                   "--virtual-time-budget=5000", "--user-data-dir=" + home + "/profile",
                                   mode, url};
  std::vector<std::string> env = {"HOME=" + home, "XDG_CONFIG_HOME=" + home + "/config",
                                  "XDG_CACHE_HOME=" + home + "/cache",
                                  "XDG_DATA_HOME=" + home + "/data", "PATH=/usr/bin:/bin",
                                  "LANG=C.UTF-8"};
  std::vector<char*> argv, envp;
  for (std::string& a : args) argv.push_back(a.data());
  for (std::string& e : env) envp.push_back(e.data());
  argv.push_back(nullptr);
  envp.push_back(nullptr);
  const pid_t pid = fork();
  if (pid == 0) {
    setpgid(0, 0);  // Its own group: a timeout kills its helpers too.
    const int o = open(out.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
    const int e = open(err.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
    dup2(o, 1);
    dup2(e, 2);
    execve(argv[0], argv.data(), envp.data());
    _exit(127);
  }
  int status = 0;
  bool done = false;
  for (int i = 0; i < 400 && !done; ++i) {
    done = waitpid(pid, &status, WNOHANG) == pid;
    if (!done) std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  if (!done) {
    kill(-pid, SIGKILL);
    waitpid(pid, &status, 0);
  }
  const std::string stderr_text = ReadFile(err).value_or("");
  EXPECT_TRUE(done) << "chromium did not finish in 40 s; stderr:\n" << stderr_text;
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0)
      << "chromium " << mode << " failed (status " << status << "); stderr:\n" << stderr_text;
  return ReadFile(out).value_or("");
}

struct Image {
  int width = 0, height = 0;
  std::vector<uint8_t> rgba;  // Row-major, 4 bytes a pixel.
};

uint32_t BigEndian(const std::string& s, size_t at) {
  return (uint32_t{uint8_t(s[at])} << 24) | (uint32_t{uint8_t(s[at + 1])} << 16) |
         (uint32_t{uint8_t(s[at + 2])} << 8) | uint8_t(s[at + 3]);
}

int Paeth(int a, int b, int c) {
  const int p = a + b - c, pa = std::abs(p - a), pb = std::abs(p - b), pc = std::abs(p - c);
  return pa <= pb && pa <= pc ? a : (pb <= pc ? b : c);
}

// Decodes an 8-bit RGB or RGBA, non-interlaced PNG (what Chromium writes).
Image DecodePng(const std::string& png) {
  Image img;
  if (png.size() < 8 || png.compare(0, 8, "\x89PNG\r\n\x1a\n") != 0) return img;
  std::string idat;
  int channels = 0;
  for (size_t at = 8; at + 8 <= png.size();) {
    const uint32_t len = BigEndian(png, at);
    const std::string type = png.substr(at + 4, 4);
    if (type == "IHDR") {
      img.width = static_cast<int>(BigEndian(png, at + 8));
      img.height = static_cast<int>(BigEndian(png, at + 12));
      const int depth = png[at + 16], color = png[at + 17], interlace = png[at + 20];
      channels = color == 6 ? 4 : color == 2 ? 3 : 0;
      if (depth != 8 || channels == 0 || interlace != 0) return Image();
    }
    if (type == "IDAT") idat += png.substr(at + 8, len);
    at += 12 + len;
  }
  const size_t stride = size_t(img.width) * channels;
  std::vector<uint8_t> raw((stride + 1) * img.height);
  uLongf raw_size = raw.size();
  if (uncompress(raw.data(), &raw_size, reinterpret_cast<const Bytef*>(idat.data()), idat.size()) != Z_OK ||
      raw_size != raw.size()) {
    return Image();
  }
  std::vector<uint8_t> px(stride * img.height);
  for (int y = 0; y < img.height; ++y) {
    const uint8_t filter = raw[y * (stride + 1)];
    const uint8_t* in = &raw[y * (stride + 1) + 1];
    uint8_t* row = &px[y * stride];
    const uint8_t* up = y ? &px[(y - 1) * stride] : nullptr;
    for (size_t i = 0; i < stride; ++i) {
      const int a = i >= size_t(channels) ? row[i - channels] : 0, b = up ? up[i] : 0;
      const int c = (up && i >= size_t(channels)) ? up[i - channels] : 0;
      const int pred = filter == 1 ? a : filter == 2 ? b : filter == 3 ? (a + b) / 2
                     : filter == 4 ? Paeth(a, b, c) : 0;
      row[i] = static_cast<uint8_t>(in[i] + pred);
    }
  }
  img.rgba.resize(size_t(img.width) * img.height * 4);
  for (size_t p = 0; p < size_t(img.width) * img.height; ++p) {
    for (int k = 0; k < 3; ++k) img.rgba[p * 4 + k] = px[p * channels + k];
    img.rgba[p * 4 + 3] = channels == 4 ? px[p * channels + 3] : 255;
  }
  return img;
}

struct Rect {
  int x = 0, y = 0, w = 0, h = 0;
};

// Pixels within 10 of `rgb` (each channel) inside `r`.
int CountColour(const Image& img, const Rect& r, uint32_t rgb) {
  int n = 0;
  for (int y = std::max(0, r.y); y < std::min(img.height, r.y + r.h); ++y) {
    for (int x = std::max(0, r.x); x < std::min(img.width, r.x + r.w); ++x) {
      const uint8_t* p = &img.rgba[(size_t(y) * img.width + x) * 4];
      if (std::abs(p[0] - int(rgb >> 16)) <= 10 && std::abs(p[1] - int((rgb >> 8) & 255)) <= 10 &&
          std::abs(p[2] - int(rgb & 255)) <= 10) {
        ++n;
      }
    }
  }
  return n;
}

// The data-rect="x,y,w,h" the page recorded on element `id`.
Rect RectOf(const std::string& dom, const std::string& id) {
  std::smatch m;
  const std::regex re("id=\"" + id + "\"[^>]*data-rect=\"(-?\\d+),(-?\\d+),(\\d+),(\\d+)\"");
  Rect r;
  if (std::regex_search(dom, m, re)) r = {std::stoi(m[1]), std::stoi(m[2]), std::stoi(m[3]), std::stoi(m[4])};
  return r;
}

v1::TaskConfig Task() {
  v1::TaskConfig c;
  c.set_name("activity");
  c.set_population("phones");
  *c.mutable_model() = testing::SmallModel();
  c.mutable_plan()->set_epochs(2);
  c.mutable_plan()->set_batch_size(8);
  c.mutable_plan()->set_learning_rate(0.1f);
  c.set_rounds(6);
  c.set_clients_per_round(3);
  c.set_over_selection(1.0);
  c.set_min_reports(3);
  c.set_round_deadline_ms(600'000);
  return c;
}

TEST(DashboardChromiumTest, RendersRoundsFleetAndCurves) {
  ASSERT_EQ(access(kChromium, X_OK), 0)
      << kChromium << " is missing: install Debian's chromium (tools/setup does)";
  auto clock = std::make_shared<coordinator::FakeClock>(absl::FromUnixSeconds(1'800'000'000));
  coordinator::Server::Options o;
  o.data_dir = Tmp("data");
  o.admin_token = kToken;
  o.clock = clock;
  o.http_port = 0;
  absl::StatusOr<coordinator::Server> server = coordinator::Server::Start(o);
  ASSERT_TRUE(server.ok()) << server.status();
  auto channel = grpc::CreateChannel(server->address(), grpc::InsecureChannelCredentials());
  auto admin = v1::Admin::NewStub(channel);
  {
    grpc::ClientContext ctx;
    ctx.AddMetadata("authorization", std::string("Bearer ") + kToken);
    v1::CreateTaskRequest req;
    *req.mutable_config() = Task();
    v1::TaskInfo info;
    ASSERT_TRUE(admin->CreateTask(&ctx, req, &info).ok());
  }
  // Four devices (2 phones, a watch, a sensor); three take part in each round.
  client::SettableDeviceState plugged(client::DeviceStatus{true, true, true, 90, false});
  const char* classes[] = {"phone", "phone", "watch", "sensor"};
  std::vector<std::unique_ptr<client::Participant>> devices;
  for (int i = 0; i < 4; ++i) {
    client::SessionOptions so;
    so.address = server->address();
    so.insecure = true;
    so.seed = i + 1;
    client::DeviceProfile p{"device-" + std::to_string(i), "phones"};
    p.device_class = classes[i];
    devices.push_back(std::make_unique<client::Participant>(p, so, &plugged, Tmp("ckpt-" + std::to_string(i))));
  }
  std::mt19937 rng(3);
  std::normal_distribution<float> g;
  client::RowMatrixXf x(48, 16);
  std::vector<int32_t> y(48);
  for (int i = 0; i < 48; ++i) {
    y[i] = i % 4;
    for (int j = 0; j < 16; ++j) x(i, j) = g(rng) + 2.f * (j % 4 == y[i]);
  }
  for (int round = 1; round <= 3; ++round) {
    for (int k = 0; k < 3; ++k) {
      client::RoundResult r = devices[(round + k) % 4]->RunOnce(x, y);
      ASSERT_EQ(r.kind, client::RoundResult::Kind::kUploaded) << r.why;
      ASSERT_EQ(r.round, round);
    }
    clock->Advance(absl::Seconds(5));
  }
  client::RoundResult r4 = devices[0]->RunOnce(x, y);  // Round 4: 1 of 3 so far.
  ASSERT_EQ(r4.kind, client::RoundResult::Kind::kUploaded) << r4.why;
  ASSERT_EQ(r4.round, 4);

  std::vector<v1::RoundInfo> rounds;
  {
    grpc::ClientContext ctx;
    ctx.AddMetadata("authorization", std::string("Bearer ") + kToken);
    v1::ListRoundsRequest req;
    req.set_task("activity");
    v1::ListRoundsResponse resp;
    ASSERT_TRUE(admin->ListRounds(&ctx, req, &resp).ok());
    rounds.assign(resp.rounds().begin(), resp.rounds().end());
  }

  const std::string url = absl::StrCat("http://127.0.0.1:", server->http_port(), "/dashboard");
  const std::string dom = RunChromium("--dump-dom", url);
  ASSERT_NE(dom.find("data-loaded=\"1\""), std::string::npos) << "the page never loaded its data:\n" << dom;
  EXPECT_NE(dom.find("<span id=\"ready\" class=\"ready\">ready</span>"), std::string::npos);
  EXPECT_NE(dom.find("<b id=\"round-number\">4</b>"), std::string::npos);
  EXPECT_NE(dom.find("<b id=\"reported\">1</b>"), std::string::npos);
  EXPECT_NE(dom.find("<b id=\"goal\">3</b>"), std::string::npos);
  EXPECT_NE(dom.find("3 of 6 rounds committed"), std::string::npos);
  EXPECT_NE(dom.find("<tr data-key=\"phone\"><td>phone</td><td>2</td></tr>"), std::string::npos);
  EXPECT_NE(dom.find("<tr data-key=\"watch\"><td>watch</td><td>1</td></tr>"), std::string::npos);
  EXPECT_NE(dom.find("<tr data-key=\"sensor\"><td>sensor</td><td>1</td></tr>"), std::string::npos);
  // One participation bar and one point per metric for each committed round,
  // at the values the coordinator recorded.
  for (const v1::RoundInfo& r : rounds) {
    if (r.state() != v1::COMMITTED) continue;
    EXPECT_NE(dom.find(absl::StrCat("data-round=\"", r.round(), "\" data-reported=\"3\"")),
              std::string::npos) << "round " << r.round();
    for (const char* metric : {"train_loss", "train_accuracy"}) {
      std::smatch m;
      const std::regex re(absl::StrCat("data-round=\"", r.round(), "\" data-metric=\"", metric,
                                       "\" data-value=\"([^\"]+)\""));
      ASSERT_TRUE(std::regex_search(dom, m, re)) << metric << " of round " << r.round();
      EXPECT_NEAR(std::stod(m[1]), r.metrics().at(metric), 1e-9);
    }
  }

  // Kept with the test's outputs (bazel-testlogs/.../test.outputs) to look at.
  const char* outputs = std::getenv("TEST_UNDECLARED_OUTPUTS_DIR");
  const std::string png_path = std::string(outputs ? outputs : std::getenv("TEST_TMPDIR")) +
                               "/dashboard.png";
  RunChromium("--screenshot=" + png_path, url);
  absl::StatusOr<std::string> png = ReadFile(png_path);
  ASSERT_TRUE(png.ok()) << "no screenshot: " << png.status();
  const Image img = DecodePng(*png);
  ASSERT_EQ(img.width, 1280) << "not a PNG this test decodes";
  ASSERT_EQ(img.height, 900);
  const Rect bar = RectOf(dom, "progress-fill"), loss = RectOf(dom, "loss-chart"),
             acc = RectOf(dom, "accuracy-chart");
  ASSERT_GT(bar.w * bar.h, 0);
  ASSERT_GT(loss.w * loss.h, 0);
  ASSERT_GT(acc.w * acc.h, 0);
  ASSERT_LE(acc.y + acc.h, 900) << "the charts must be on the first screen";
  constexpr uint32_t kProgress = 0xd6249f, kLoss = 0x1f9e3a, kAccuracy = 0x1565c0;
  // The fill is a third of the bar (1 of 3 reported) and solid.
  EXPECT_GT(CountColour(img, bar, kProgress), bar.w * bar.h * 8 / 10);
  EXPECT_GT(CountColour(img, loss, kLoss), 150);  // Three points and two segments.
  EXPECT_GT(CountColour(img, acc, kAccuracy), 150);
  EXPECT_EQ(CountColour(img, loss, kAccuracy), 0);
  EXPECT_EQ(CountColour(img, acc, kLoss), 0);
  EXPECT_EQ(CountColour(img, Rect{0, 0, 1280, 900}, kProgress),
            CountColour(img, bar, kProgress)) << "progress colour outside the bar";
}

}  // namespace
}  // namespace fedtiny
