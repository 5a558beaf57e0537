// flctl: the operator's command line for a fedtiny coordinator.
//
//   flctl [--server=HOST:PORT ($FLCTL_SERVER)] [--token_file=F] [--tls_ca=ca.pem | --insecure] [--json] COMMAND
//     tasks                                   list tasks
//     task create --config=task.textproto [--model=model.pb] [--variants=variants.pb]
//     task get NAME
//     task edit NAME [--rounds=N] [--clients_per_round=N] [--round_deadline_s=S]
//               [--min_reports=N] [--over_selection=X] [--eligibility=...]
//               [--class_quota=c=N,...|none] [--cooldown_s=S] [--keep_versions=N]
//     task delete NAME [--yes]                asks for the name on a terminal
//     pause TASK | resume TASK | stop TASK
//     rounds [--task=T] [--limit=N] [--watch] list rounds; --watch streams them
//                                             (a refreshing screen on a terminal)
//     models --task=T                         model versions and lineage
//     models get --task=T --model_version=V [--cluster=K] [--out=F]
//     models rollback --task=T --model_version=V [--cluster=K]
//     models pin|unpin --task=T --model_version=V [--cluster=K]
//     models export --task=T --model_version=V [--cluster=K] --out=F.onnx
//                                             a committed version as ONNX (float32)
//     models import M.onnx --head_layers=N [--proxy_images=F --proxy_labels=F]
//               [--proxy_count=K] [--variant=NAME=F.onnx:BELOW_RAM_BYTES,...]
//               --out=model.pb [--variants_out=variants.pb]
//                                             offline: a task's model from ONNX, the
//                                             int8 variant calibrated on the proxy data,
//                                             accuracy per variant
//     fleet --task=T                          devices by class and state
//     devices --task=T [--state=S] [--page_size=N] [--page_token=P]
//     devices revoke --device=ID              no more model keys for ID (encrypted bundles)
//     telemetry --task=T [--window=S]         fleet telemetry per model version and device class
//     drift --task=T [--window=S]             PSI, JSD and drift alerts per probe
//     meter list [--device=ID]                metered usage and flags per device and package
//     meter csv [--device=ID]                 the same as billing records (CSV)
//     meter cutoff --device=ID [--package=P] [--restore]
//                                             no new grants for ID (--restore: grants again)
//     audit [--task=T] [--limit=N]            who changed what, newest first
//     verify --task=T                         re-check every stored model's SHA-256
//     model init --widths=784,128,64,10 --body_layers=1 --out=model.pb [--seed=S]
//     keys init --dir=D                       offline root key, online keys, root 1
//     keys rotate --dir=D --role=R            new key for R (root, targets, snapshot,
//                                             timestamp), next root version
//     keys revoke --dir=D --key_id=K          drop K, next root version
//     keys show --dir=D                       the newest root's roles and keys
//
// The operator token comes from --token_file, else $FLCTL_TOKEN, else
// ./coordinator-data/admin.token. TLS is the default (the system's roots, or
// --tls_ca); plaintext needs --insecure, and then the token is only ever sent to
// a loopback address. Lists are fetched page by page. Errors are one line on
// stderr, exit code 1.

#include <sys/ioctl.h>
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <map>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <google/protobuf/text_format.h>
#include <grpcpp/grpcpp.h>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/usage.h"
#include "coordinator/json_output.h"
#include "coordinator/models/import_command.h"
#include "coordinator/trust/keys_command.h"
#include "coordinator/top_view.h"
#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/time/time.h"
#include "client/core/model.h"
#include "client/transport/model_proto.h"
#include "proto/admin.grpc.pb.h"
#include "tools/base/atomic_file.h"
#include "tools/base/flags_help.h"
#include "tools/base/stop_signal.h"
#include "tools/base/sha256.h"
#include "tools/onnx/onnx_task.h"

ABSL_FLAG(std::string, server, "",
          "Coordinator address; default $FLCTL_SERVER, else 127.0.0.1:50051.");
ABSL_FLAG(std::string, token_file, "", "File with the operator token.");
ABSL_FLAG(std::string, tls_ca, "", "PEM roots to verify the server (default: the system's).");
ABSL_FLAG(bool, insecure, false,
          "Plaintext instead of TLS; the operator token is then sent only to loopback.");
ABSL_FLAG(std::string, tls_cert, "", "Client certificate (mutual TLS, instead of a token).");
ABSL_FLAG(std::string, tls_key, "", "Client key for --tls_cert.");
ABSL_FLAG(bool, json, false,
          "Print JSON instead of tables: one object per line, flushed, every field (zeros "
          "included), numbers as numbers, lower-case enum names.");
ABSL_FLAG(bool, with_weights, false, "--json: include model weights (left out by default).");
ABSL_FLAG(std::string, task, "", "Task name (rounds, models, fleet).");
ABSL_FLAG(std::string, dir, "", "keys: the trust directory.");
ABSL_FLAG(std::string, role, "", "keys rotate: root, targets (release), snapshot or timestamp.");
ABSL_FLAG(std::string, key_id, "", "keys revoke: the key id (as keys show lists it).");
ABSL_FLAG(int, limit, 20, "Rounds to list.");
ABSL_FLAG(bool, watch, false, "rounds: keep streaming round events.");
ABSL_FLAG(std::string, config, "", "task create: TaskConfig in text format.");
ABSL_FLAG(std::string, model, "", "task create: binary Model to use as the initial model.");
ABSL_FLAG(std::string, variants, "",
          "task create: binary TaskConfig whose body_variants join the config's (models import "
          "--variants_out).");
ABSL_FLAG(int, head_layers, 1, "models import: the model's last N dense layers form the head.");
ABSL_FLAG(std::string, proxy_images, "", "models import: IDX images (gzip or not) to calibrate "
          "the int8 variant and measure accuracy on.");
ABSL_FLAG(std::string, proxy_labels, "", "models import: IDX labels of --proxy_images.");
ABSL_FLAG(int64_t, proxy_count, 0, "models import: use the first K proxy examples (0: all).");
ABSL_FLAG(std::vector<std::string>, variant, {},
          "models import: body variants NAME=FILE.onnx:BELOW_RAM_BYTES (comma-separated).");
ABSL_FLAG(std::string, variants_out, "variants.pb",
          "models import: where the variant catalogue goes (for task create --variants).");
ABSL_FLAG(std::string, widths, "784,128,64,10", "model init: layer widths.");
ABSL_FLAG(int, body_layers, 1, "model init: how many layers form the frozen body.");
ABSL_FLAG(std::string, out, "model.pb", "model init, models get|import|export: output file.");
ABSL_FLAG(int, cluster, 0, "models get: cluster.");
ABSL_FLAG(int64_t, window, 0,
          "telemetry, drift: one window's start (Unix seconds); 0 = every retained window.");
ABSL_FLAG(int64_t, model_version, -1, "models get/rollback/pin/unpin: version.");
ABSL_FLAG(bool, yes, false, "task delete: do not ask for confirmation.");
ABSL_FLAG(std::string, state, "", "devices: only devices in this state.");
ABSL_FLAG(std::string, device, "", "devices revoke: the device id to revoke.");
ABSL_FLAG(std::string, package, "", "meter cutoff: only this package (default: all of the device's).");
ABSL_FLAG(bool, restore, false, "meter cutoff: grant again instead.");
ABSL_FLAG(int, page_size, 50, "devices: devices per page.");
ABSL_FLAG(std::string, page_token, "", "devices: the page to show (printed after the previous one).");
// task edit: absent (the defaults) leaves a field as it is.
ABSL_FLAG(int, rounds, -1, "task edit: committed rounds wanted.");
ABSL_FLAG(int, clients_per_round, -1, "task edit: goal count per round.");
ABSL_FLAG(double, round_deadline_s, -1, "task edit: round deadline, seconds.");
ABSL_FLAG(int, min_reports, -1, "task edit: fewer reports at the deadline abandon the round.");
ABSL_FLAG(double, over_selection, -1, "task edit: devices admitted per goal device.");
ABSL_FLAG(std::string, eligibility, "",
          "task edit: the whole policy, e.g. charging,idle,unmetered,battery=50 (\"any\" for none).");
ABSL_FLAG(std::string, class_quota, "",
          "task edit: per-class admissions per round, e.g. phone=20,mcu=5, or \"none\".");
ABSL_FLAG(double, cooldown_s, -1, "task edit: how long a device that took part waits, seconds.");
ABSL_FLAG(int, keep_versions, -1,
          "task edit: retention, the newest versions per cluster whose blobs are kept (0 = all).");
ABSL_FLAG(int64_t, seed, 1, "model init: seed.");
ABSL_FLAG(double, deadline_s, 10, "Per-call deadline, seconds (not for --watch).");

namespace v1 = fedtiny::v1;

namespace {

// --server, else $FLCTL_SERVER, else the coordinator's default address.
std::string Server() {
  if (std::string s = absl::GetFlag(FLAGS_server); !s.empty()) return s;
  if (const char* env = std::getenv("FLCTL_SERVER"); env != nullptr && *env) return env;
  return "127.0.0.1:50051";
}

[[noreturn]] void Fail(const std::string& message) {
  std::fprintf(stderr, "flctl: %s\n", message.c_str());
  std::exit(1);
}

void Check(const grpc::Status& s) {
  if (s.ok()) return;
  switch (s.error_code()) {
    case grpc::StatusCode::UNAVAILABLE:
      Fail(absl::StrCat("cannot reach the coordinator at ", Server(), " (",
                        s.error_message(), ")"));
    case grpc::StatusCode::UNAUTHENTICATED:
      Fail("not authorized: the operator token is missing or wrong");
    case grpc::StatusCode::DEADLINE_EXCEEDED:
      Fail(absl::StrCat("the coordinator at ", Server(), " did not answer in time"));
    default:
      Fail(s.error_message());
  }
}

std::string ReadAll(const std::string& path) {
  absl::StatusOr<std::string> s = fedtiny::ReadFile(path);
  if (!s.ok()) Fail(std::string(s.status().message()));
  return *s;
}

std::string Token() {
  std::string path = absl::GetFlag(FLAGS_token_file);
  if (path.empty()) {
    if (const char* env = std::getenv("FLCTL_TOKEN"); env != nullptr && *env) return env;
    path = "coordinator-data/admin.token";
  }
  absl::StatusOr<std::string> t = fedtiny::ReadFile(path);
  if (!t.ok()) return "";  // mTLS may still authorize; otherwise the server says no.
  return std::string(absl::StripAsciiWhitespace(*t));
}

// Whether `address` (HOST:PORT, [V6]:PORT or unix:PATH) names this machine.
bool IsLoopback(const std::string& address) {
  if (absl::StartsWith(address, "unix:")) return true;
  std::string host = address;
  if (absl::StartsWith(host, "[")) {
    host = host.substr(1, host.find(']') == std::string::npos ? 0 : host.find(']') - 1);
  } else if (size_t colon = host.rfind(':'); colon != std::string::npos) {
    host = host.substr(0, colon);
  }
  return host == "localhost" || host == "::1" || absl::StartsWith(host, "127.");
}

std::unique_ptr<v1::Admin::Stub> Connect() {
  std::shared_ptr<grpc::ChannelCredentials> creds;
  if (absl::GetFlag(FLAGS_insecure)) {
    if (!absl::GetFlag(FLAGS_tls_ca).empty() || !absl::GetFlag(FLAGS_tls_cert).empty()) {
      Fail("--insecure excludes --tls_ca and --tls_cert");
    }
    creds = grpc::InsecureChannelCredentials();
  } else {
    grpc::SslCredentialsOptions ssl;  // Empty roots: the system's.
    if (!absl::GetFlag(FLAGS_tls_ca).empty()) ssl.pem_root_certs = ReadAll(absl::GetFlag(FLAGS_tls_ca));
    if (!absl::GetFlag(FLAGS_tls_cert).empty()) {
      ssl.pem_cert_chain = ReadAll(absl::GetFlag(FLAGS_tls_cert));
      ssl.pem_private_key = ReadAll(absl::GetFlag(FLAGS_tls_key));
    }
    creds = grpc::SslCredentials(ssl);
  }
  return v1::Admin::NewStub(grpc::CreateChannel(Server(), creds));
}

void Prepare(grpc::ClientContext& ctx, bool streaming = false) {
  const std::string token = Token();
  if (!token.empty() && absl::GetFlag(FLAGS_insecure) && !IsLoopback(Server())) {
    Fail(absl::StrCat("refusing to send the operator token in plaintext to ",
                      Server(), ": use TLS (drop --insecure)"));
  }
  if (!token.empty()) ctx.AddMetadata("authorization", "Bearer " + token);
  if (!streaming) {
    ctx.set_deadline(std::chrono::system_clock::now() +
                     std::chrono::milliseconds(static_cast<int64_t>(1000 * absl::GetFlag(FLAGS_deadline_s))));
  }
}

// Calls `call(ctx, page_token, &response)` page after page until the server
// says there are no more; `each` sees every response.
template <typename Response, typename Call, typename Each>
void AllPages(Call call, Each each) {
  std::string token;
  do {
    grpc::ClientContext ctx;
    Prepare(ctx);
    Response r;
    Check(call(ctx, token, &r));
    each(r);
    token = r.next_page_token();
  } while (!token.empty());
}

// Prints rows as an aligned table (header first), or each message as JSON.
class Output {
 public:
  explicit Output(std::vector<std::string> header, std::vector<size_t> min_widths = {})
      : header_(std::move(header)), min_widths_(std::move(min_widths)) {}
  void Add(const google::protobuf::Message& m, std::vector<std::string> row) {
    if (absl::GetFlag(FLAGS_json)) {
      // One whole line per message, flushed at once: a reader (or a pipe cut by
      // SIGTERM) never sees half an object.
      const std::string line =
          fedtiny::coordinator::MessageToJson(m, {absl::GetFlag(FLAGS_with_weights)})
              .dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
      std::printf("%s\n", line.c_str());
      std::fflush(stdout);
    } else {
      rows_.push_back(std::move(row));
    }
  }
  void Print(bool with_header = true) {
    if (absl::GetFlag(FLAGS_json)) return;
    std::vector<size_t> w(header_.size(), 0);
    for (size_t c = 0; c < header_.size(); ++c) {
      w[c] = std::max(header_[c].size(), c < min_widths_.size() ? min_widths_[c] : 0);
    }
    for (const auto& r : rows_)
      for (size_t c = 0; c < r.size() && c < w.size(); ++c) w[c] = std::max(w[c], r[c].size());
    if (with_header) PrintRow(header_, w);
    for (const auto& r : rows_) PrintRow(r, w);
    rows_.clear();
    std::fflush(stdout);
  }

 private:
  static void PrintRow(const std::vector<std::string>& r, const std::vector<size_t>& w) {
    std::string line;
    for (size_t c = 0; c < r.size(); ++c) {
      line += r[c];
      if (c + 1 < r.size()) line += std::string(w[c] - r[c].size() + 2, ' ');
    }
    std::printf("%s\n", line.c_str());
  }
  std::vector<std::string> header_;
  std::vector<size_t> min_widths_;  // Keeps streamed rows aligned.
  std::vector<std::vector<std::string>> rows_;
};

std::string Time(int64_t ms) {
  if (ms == 0) return "-";
  return absl::FormatTime("%Y-%m-%d %H:%M:%S", absl::FromUnixMillis(ms), absl::UTCTimeZone());
}

template <typename Map>
std::string Pairs(const Map& m) {
  std::vector<std::string> parts;
  for (const auto& [k, v] : m) parts.push_back(absl::StrCat(k, "=", v));
  std::sort(parts.begin(), parts.end());
  return parts.empty() ? "-" : absl::StrJoin(parts, ",");
}

void PrintTasks(const std::vector<v1::TaskInfo>& tasks) {
  Output out({"TASK", "STATE", "ROUNDS", "PER-ROUND", "CLUSTERS", "AGGREGATOR", "CREATED"});
  for (const v1::TaskInfo& t : tasks) {
    out.Add(t, {t.config().name(), fedtiny::coordinator::TaskStateName(t.state()),
                absl::StrCat(t.committed_rounds(), "/", t.config().rounds()),
                absl::StrCat(t.config().clients_per_round()), absl::StrCat(t.config().clusters()),
                t.config().aggregator(), Time(t.created_ms())});
  }
  out.Print();
}

std::vector<std::string> RoundRow(const v1::RoundInfo& r) {
  std::map<std::string, double> sorted(r.metrics().begin(), r.metrics().end());
  std::string metrics;
  for (const auto& [k, v] : sorted) absl::StrAppend(&metrics, metrics.empty() ? "" : ",", k, "=", absl::StrFormat("%.4g", v));
  return {r.task(), absl::StrCat(r.round()), fedtiny::coordinator::RoundStateName(r.state()), absl::StrCat(r.selected()),
          absl::StrCat(r.reported()), absl::StrCat(r.failed()), Pairs(r.rejected()),
          Pairs(r.versions()), metrics.empty() ? "-" : metrics, Time(r.opened_ms()), Time(r.closed_ms()),
          r.reason().empty() ? "-" : r.reason()};
}

const std::vector<std::string> kRoundHeader = {"TASK", "ROUND", "STATE", "SELECTED", "REPORTED",
                                               "FAILED", "REJECTED", "VERSIONS", "METRICS",
                                               "OPENED", "CLOSED", "REASON"};

// `task edit`'s flags as an UpdateTaskRequest; only the flags given are set.
v1::UpdateTaskRequest EditOf(const std::string& task) {
  v1::UpdateTaskRequest e;
  e.set_task(task);
  if (absl::GetFlag(FLAGS_rounds) >= 0) e.set_rounds(absl::GetFlag(FLAGS_rounds));
  if (absl::GetFlag(FLAGS_clients_per_round) >= 0) e.set_clients_per_round(absl::GetFlag(FLAGS_clients_per_round));
  if (absl::GetFlag(FLAGS_round_deadline_s) >= 0) {
    e.set_round_deadline_ms(static_cast<int64_t>(absl::GetFlag(FLAGS_round_deadline_s) * 1000));
  }
  if (absl::GetFlag(FLAGS_min_reports) >= 0) e.set_min_reports(absl::GetFlag(FLAGS_min_reports));
  if (absl::GetFlag(FLAGS_over_selection) >= 0) e.set_over_selection(absl::GetFlag(FLAGS_over_selection));
  if (absl::GetFlag(FLAGS_cooldown_s) >= 0) {
    e.set_cooldown_ms(static_cast<int64_t>(absl::GetFlag(FLAGS_cooldown_s) * 1000));
  }
  if (absl::GetFlag(FLAGS_keep_versions) >= 0) e.set_keep_versions(absl::GetFlag(FLAGS_keep_versions));
  if (const std::string el = absl::GetFlag(FLAGS_eligibility); !el.empty()) {
    v1::EligibilityPolicy* p = e.mutable_eligibility();
    for (absl::string_view item : absl::StrSplit(el, ',', absl::SkipEmpty())) {
      int battery = 0;
      if (item == "any") continue;
      if (item == "charging") p->set_require_charging(true);
      else if (item == "idle") p->set_require_idle(true);
      else if (item == "unmetered") p->set_require_unmetered(true);
      else if (absl::ConsumePrefix(&item, "battery=") && absl::SimpleAtoi(item, &battery)) {
        p->set_min_battery_percent(battery);
      } else {
        Fail(absl::StrCat("--eligibility: unknown item '", item,
                          "' (charging, idle, unmetered, battery=N, any)"));
      }
    }
  }
  if (const std::string q = absl::GetFlag(FLAGS_class_quota); q == "none") {
    e.set_clear_class_quota(true);
  } else if (!q.empty()) {
    for (absl::string_view item : absl::StrSplit(q, ',', absl::SkipEmpty())) {
      std::pair<std::string, std::string> kv = absl::StrSplit(item, absl::MaxSplits('=', 1));
      int n = 0;
      if (kv.first.empty() || !absl::SimpleAtoi(kv.second, &n)) {
        Fail(absl::StrCat("--class_quota: '", item, "' is not class=N"));
      }
      (*e.mutable_class_quota())[kv.first] = n;
    }
  }
  return e;
}

// Whether the operator confirms deleting `task`: --yes, or its name typed on a
// terminal. Without a terminal and without --yes, no.
bool ConfirmDelete(const std::string& task) {
  if (absl::GetFlag(FLAGS_yes)) return true;
  if (!isatty(STDIN_FILENO)) Fail("task delete: pass --yes (no terminal to confirm on)");
  std::fprintf(stderr,
               "Deleting task '%s' removes its rounds, model versions and blobs for good.\n"
               "Type the task's name to confirm: ", task.c_str());
  std::string typed;
  std::getline(std::cin, typed);
  return absl::StripAsciiWhitespace(typed) == task;
}

void PrintModelVersions(const std::vector<v1::ModelVersion>& versions) {
  Output out({"TASK", "CLUSTER", "VERSION", "PARENT", "ROUND", "AGGREGATOR", "PARTICIPANTS",
              "BYTES", "SHA256", "COMMITTED", "PINNED", "INTEGRITY"});
  for (const v1::ModelVersion& m : versions) {
    out.Add(m, {m.task(), absl::StrCat(m.cluster()), absl::StrCat(m.version()),
                m.version() == 0 ? "-" : absl::StrCat(m.parent_version()), absl::StrCat(m.round()),
                m.aggregator(), absl::StrCat(m.participants()), absl::StrCat(m.size_bytes()),
                m.sha256().substr(0, 12), Time(m.committed_ms()), m.pinned() ? "yes" : "-",
                m.integrity()});
  }
  out.Print();
}

// `rounds --watch` on a terminal: one screen redrawn in place (TopView).
void WatchOnTerminal(v1::Admin::Stub& stub, grpc::ClientReaderInterface<v1::RoundInfo>& reader) {
  fedtiny::coordinator::TopView view;
  auto refresh_tasks = [&] {
    AllPages<v1::ListTasksResponse>(
        [&](grpc::ClientContext& c, const std::string& token, v1::ListTasksResponse* r) {
          v1::ListTasksRequest req;
          req.set_page_token(token);
          return stub.ListTasks(&c, req, r);
        },
        [&](const v1::ListTasksResponse& r) {
          for (const v1::TaskInfo& t : r.tasks()) view.SetTask(t);
        });
  };
  refresh_tasks();
  auto draw = [&view] {
    winsize ws{};
    const bool sized = ioctl(STDOUT_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_row > 0;
    const std::string screen =
        view.Render(absl::Now(), sized ? ws.ws_col : 120, sized ? ws.ws_row - 1 : 40);
    std::printf("%s%s", fedtiny::coordinator::TopView::kClear, screen.c_str());
    std::fflush(stdout);
  };
  draw();
  absl::Time drawn = absl::Now();
  v1::RoundInfo info;
  while (reader.Read(&info)) {
    view.Update(info);
    // Progress redraws at most 10 times a second; a round's close always.
    if (info.state() == v1::OPEN && absl::Now() - drawn < absl::Milliseconds(100)) continue;
    if (info.state() != v1::OPEN) refresh_tasks();
    draw();
    drawn = absl::Now();
  }
}

int ModelInit() {
  std::vector<int64_t> widths;
  for (absl::string_view w : absl::StrSplit(absl::GetFlag(FLAGS_widths), ',')) {
    int64_t v = 0;
    if (!absl::SimpleAtoi(w, &v) || v < 1) Fail(absl::StrCat("bad width '", w, "'"));
    widths.push_back(v);
  }
  const int body = absl::GetFlag(FLAGS_body_layers);
  if (widths.size() < 2 || body < 0 || body >= static_cast<int>(widths.size()) - 1) {
    Fail("--widths needs >= 2 widths and --body_layers must leave >= 1 head layer");
  }
  fedtiny::client::Head all = fedtiny::client::MakeHead(widths, absl::GetFlag(FLAGS_seed));
  std::vector<fedtiny::client::BodyLayer> body_layers(all.layers.begin(), all.layers.begin() + body);
  fedtiny::client::Head head;
  head.layers.assign(all.layers.begin() + body, all.layers.end());
  const v1::Model m = fedtiny::client::ModelToProto(fedtiny::client::Body(body_layers), head);
  absl::Status s = fedtiny::WriteFileAtomically(absl::GetFlag(FLAGS_out), m.SerializeAsString());
  if (!s.ok()) Fail(std::string(s.message()));
  std::printf("wrote %s: %zu body layer(s), %zu head layer(s), %lld head parameters\n",
              absl::GetFlag(FLAGS_out).c_str(), body_layers.size(), head.layers.size(),
              static_cast<long long>(head.num_params()));
  return 0;
}

int ModelsImport(const std::vector<std::string>& args) {
  if (args.size() != 3) Fail("models import needs the ONNX file: models import M.onnx --head_layers=N ...");
  fedtiny::coordinator::ImportArgs a;
  a.onnx_path = args[2];
  a.head_layers = absl::GetFlag(FLAGS_head_layers);
  a.proxy_images = absl::GetFlag(FLAGS_proxy_images);
  a.proxy_labels = absl::GetFlag(FLAGS_proxy_labels);
  a.proxy_count = absl::GetFlag(FLAGS_proxy_count);
  a.variants = absl::GetFlag(FLAGS_variant);
  absl::StatusOr<fedtiny::coordinator::ImportResult> r = fedtiny::coordinator::RunImport(a);
  if (!r.ok()) Fail(std::string(r.status().message()));
  for (const auto& [path, bytes] :
       {std::pair{absl::GetFlag(FLAGS_out), r->model.SerializeAsString()},
        std::pair{absl::GetFlag(FLAGS_variants_out), r->variants.SerializeAsString()}}) {
    absl::Status s = fedtiny::WriteFileAtomically(path, bytes);
    if (!s.ok()) Fail(std::string(s.message()));
  }
  std::printf("%s", fedtiny::coordinator::FormatReport(r->report).c_str());
  std::printf("wrote %s (%d body layers, %d head layers) and %s (%d body variants)\n",
              absl::GetFlag(FLAGS_out).c_str(), r->model.layers_size(), r->model.head_size(),
              absl::GetFlag(FLAGS_variants_out).c_str(), r->variants.body_variants_size());
  return 0;
}

int Run(const std::vector<std::string>& args) {
  const std::string cmd = args.empty() ? "" : args[0];
  const std::string sub = args.size() > 1 ? args[1] : "";
  if (cmd == "model" && sub == "init") return ModelInit();
  if (cmd == "models" && sub == "import") return ModelsImport(args);
  if (cmd == "keys") {
    const fedtiny::coordinator::KeysArgs k{sub, absl::GetFlag(FLAGS_dir), absl::GetFlag(FLAGS_role),
                                           absl::GetFlag(FLAGS_key_id)};
    absl::StatusOr<std::string> out = fedtiny::coordinator::RunKeysCommand(k, absl::Now());
    if (!out.ok()) Fail(std::string(out.status().message()));
    std::fputs(out->c_str(), stdout);
    return 0;
  }
  auto stub = Connect();
  grpc::ClientContext ctx;
  if (cmd == "tasks") {
    std::vector<v1::TaskInfo> tasks;
    AllPages<v1::ListTasksResponse>(
        [&](grpc::ClientContext& c, const std::string& token, v1::ListTasksResponse* r) {
          v1::ListTasksRequest req;
          req.set_page_token(token);
          return stub->ListTasks(&c, req, r);
        },
        [&](const v1::ListTasksResponse& r) { tasks.insert(tasks.end(), r.tasks().begin(), r.tasks().end()); });
    PrintTasks(tasks);
    return 0;
  }
  if (cmd == "task" && sub == "create") {
    Prepare(ctx);
    v1::CreateTaskRequest req;
    if (absl::GetFlag(FLAGS_config).empty()) Fail("task create needs --config=task.textproto");
    if (!google::protobuf::TextFormat::ParseFromString(ReadAll(absl::GetFlag(FLAGS_config)),
                                                       req.mutable_config())) {
      Fail(absl::StrCat(absl::GetFlag(FLAGS_config), ": not a TaskConfig in text format"));
    }
    if (!absl::GetFlag(FLAGS_model).empty() &&
        !req.mutable_config()->mutable_model()->ParseFromString(ReadAll(absl::GetFlag(FLAGS_model)))) {
      Fail(absl::StrCat(absl::GetFlag(FLAGS_model), ": not a binary Model"));
    }
    if (!absl::GetFlag(FLAGS_variants).empty()) {
      v1::TaskConfig variants;
      if (!variants.ParseFromString(ReadAll(absl::GetFlag(FLAGS_variants)))) {
        Fail(absl::StrCat(absl::GetFlag(FLAGS_variants), ": not a binary TaskConfig"));
      }
      for (const auto& [name, v] : variants.body_variants()) {
        (*req.mutable_config()->mutable_body_variants())[name] = v;
      }
    }
    v1::TaskInfo info;
    Check(stub->CreateTask(&ctx, req, &info));
    PrintTasks({info});
    return 0;
  }
  if (cmd == "task" && (sub == "edit" || sub == "delete")) {
    const std::string name = args.size() > 2 ? args[2] : "";
    if (name.empty()) Fail(absl::StrCat("task ", sub, ": which task?"));
    if (sub == "edit") {
      const v1::UpdateTaskRequest req = EditOf(name);
      if (v1::UpdateTaskRequest bare; bare.set_task(name), req.SerializeAsString() == bare.SerializeAsString()) {
        Fail("task edit: nothing to change (see flctl --help for the flags it takes)");
      }
      Prepare(ctx);
      v1::TaskInfo info;
      Check(stub->UpdateTask(&ctx, req, &info));
      PrintTasks({info});
      return 0;
    }
    if (!ConfirmDelete(name)) Fail("task delete: not confirmed; nothing deleted");
    Prepare(ctx);
    v1::DeleteTaskRequest req;
    req.set_task(name);
    req.set_confirm(name);
    v1::DeleteTaskResponse r;
    Check(stub->DeleteTask(&ctx, req, &r));
    std::fprintf(stderr, "deleted task %s\n", name.c_str());
    return 0;
  }
  if ((cmd == "task" && sub == "get") || cmd == "pause" || cmd == "resume" || cmd == "stop") {
    const std::string name = cmd == "task" ? (args.size() > 2 ? args[2] : "") : sub;
    if (name.empty()) Fail(absl::StrCat(cmd, ": which task?"));
    Prepare(ctx);
    v1::TaskInfo info;
    if (cmd == "task") {
      v1::GetTaskRequest req;
      req.set_task(name);
      Check(stub->GetTask(&ctx, req, &info));
    } else {
      v1::SetTaskStateRequest req;
      req.set_task(name);
      Check(cmd == "pause"    ? stub->PauseTask(&ctx, req, &info)
            : cmd == "resume" ? stub->ResumeTask(&ctx, req, &info)
                              : stub->StopTask(&ctx, req, &info));
    }
    PrintTasks({info});
    return 0;
  }
  if (cmd == "rounds") {
    const std::string task = absl::GetFlag(FLAGS_task);
    if (absl::GetFlag(FLAGS_watch)) {
      Prepare(ctx, /*streaming=*/true);
      v1::WatchRoundsRequest req;
      req.set_task(task);
      auto reader = stub->WatchRounds(&ctx, req);
      // SIGINT/SIGTERM end the watch cleanly: a thread cancels the stream between
      // events, so the last line printed is whole, and flctl exits 0.
      if (!fedtiny::InstallStopSignals()) Fail("cannot install signal handlers");
      std::atomic<bool> stopped{false};
      std::thread canceller([&ctx, &stopped] {
        if (fedtiny::WaitForStop() != 0) {
          stopped = true;
          ctx.TryCancel();
        }
      });
      if (!absl::GetFlag(FLAGS_json) && isatty(STDOUT_FILENO)) {
        WatchOnTerminal(*stub, *reader);
      } else {
        v1::RoundInfo info;
        Output out(kRoundHeader, {8, 5, 9, 8, 8, 6, 12, 8, 34, 19, 19});
        bool first = true;
        while (reader->Read(&info)) {
          out.Add(info, RoundRow(info));
          out.Print(first);
          first = false;
        }
      }
      const grpc::Status done = reader->Finish();
      fedtiny::WakeStopWaiter();  // Lets the canceller end if no signal came.
      canceller.join();
      if (stopped) return 0;
      Check(done);
      return 0;
    }
    if (task.empty()) Fail("rounds needs --task=T");
    Output out(kRoundHeader);
    AllPages<v1::ListRoundsResponse>(
        [&](grpc::ClientContext& c, const std::string& token, v1::ListRoundsResponse* r) {
          v1::ListRoundsRequest req;
          req.set_task(task);
          req.set_limit(absl::GetFlag(FLAGS_limit));
          req.set_page_token(token);
          return stub->ListRounds(&c, req, r);
        },
        [&](const v1::ListRoundsResponse& r) {
          for (const v1::RoundInfo& info : r.rounds()) out.Add(info, RoundRow(info));
        });
    out.Print();
    return 0;
  }
  if (cmd == "models" && (sub == "get" || sub == "export")) {
    // models get: one committed version, verified, written as a Model file;
    // models export: the same as ONNX.
    const std::string task = absl::GetFlag(FLAGS_task);
    const int64_t version = absl::GetFlag(FLAGS_model_version);
    if (task.empty() || version < 0) {
      Fail(absl::StrCat("models ", sub, " needs --task=T --model_version=V [--cluster=K] [--out=F]"));
    }
    Prepare(ctx);
    v1::GetModelRequest req;
    req.set_task(task);
    req.set_cluster(absl::GetFlag(FLAGS_cluster));
    req.set_version(version);
    v1::GetModelResponse r;
    Check(stub->GetModel(&ctx, req, &r));
    absl::StatusOr<fedtiny::Sha256Digest> digest = fedtiny::Sha256(r.model());
    if (!digest.ok() || fedtiny::DigestToHex(*digest) != r.version().sha256()) {
      Fail("the model received does not match its SHA-256");
    }
    std::string bytes = r.model();
    if (sub == "export") {
      v1::Model model;
      if (!model.ParseFromString(r.model())) Fail("the model received does not parse");
      absl::StatusOr<std::string> onnx = fedtiny::onnx_io::OnnxFromModel(model);
      if (!onnx.ok()) Fail(absl::StrCat("export: ", onnx.status().message()));
      bytes = *std::move(onnx);
    }
    absl::Status written = fedtiny::WriteFileAtomically(absl::GetFlag(FLAGS_out), bytes);
    if (!written.ok()) Fail(std::string(written.message()));
    Output out({"TASK", "CLUSTER", "VERSION", "BYTES", "SHA256", "FILE"});
    const v1::ModelVersion& m = r.version();
    out.Add(m, {m.task(), absl::StrCat(m.cluster()), absl::StrCat(m.version()),
                absl::StrCat(bytes.size()), m.sha256().substr(0, 12), absl::GetFlag(FLAGS_out)});
    out.Print();
    return 0;
  }
  if (cmd == "models" && (sub == "rollback" || sub == "pin" || sub == "unpin")) {
    const std::string task = absl::GetFlag(FLAGS_task);
    const int64_t version = absl::GetFlag(FLAGS_model_version);
    if (task.empty() || version < 0) {
      Fail(absl::StrCat("models ", sub, " needs --task=T --model_version=V [--cluster=K]"));
    }
    Prepare(ctx);
    v1::ModelVersion m;
    if (sub == "rollback") {
      v1::RollbackRequest req;
      req.set_task(task);
      req.set_cluster(absl::GetFlag(FLAGS_cluster));
      req.set_to_version(version);
      Check(stub->RollbackModel(&ctx, req, &m));
    } else {
      v1::PinRequest req;
      req.set_task(task);
      req.set_cluster(absl::GetFlag(FLAGS_cluster));
      req.set_version(version);
      req.set_pinned(sub == "pin");
      Check(stub->PinModel(&ctx, req, &m));
    }
    PrintModelVersions({m});
    return 0;
  }
  if (cmd == "audit") {
    Output out({"SEQ", "TIME", "WHO", "ACTION", "TASK", "DETAIL", "OUTCOME"});
    AllPages<v1::ListAuditResponse>(
        [&](grpc::ClientContext& c, const std::string& token, v1::ListAuditResponse* r) {
          v1::ListAuditRequest req;
          req.set_task(absl::GetFlag(FLAGS_task));
          req.set_limit(absl::GetFlag(FLAGS_limit));
          req.set_page_token(token);
          return stub->ListAudit(&c, req, r);
        },
        [&](const v1::ListAuditResponse& r) {
          for (const v1::AuditEntry& e : r.entries()) {
            out.Add(e, {absl::StrCat(e.seq()), Time(e.time_ms()), e.who(), e.action(),
                        e.task().empty() ? "-" : e.task(), e.detail().empty() ? "-" : e.detail(),
                        e.outcome()});
          }
        });
    out.Print();
    return 0;
  }
  if (cmd == "meter" && sub == "cutoff") {
    const std::string device = absl::GetFlag(FLAGS_device);
    if (device.empty()) Fail("meter cutoff needs --device=ID");
    Prepare(ctx);
    v1::CutOffDeviceRequest req;
    req.set_device_id(device);
    req.set_package(absl::GetFlag(FLAGS_package));
    req.set_restore(absl::GetFlag(FLAGS_restore));
    v1::CutOffDeviceResponse r;
    Check(stub->CutOffDevice(&ctx, req, &r));
    std::printf("%s %s: %d package(s)\n", req.restore() ? "restored" : "cut off", device.c_str(),
                r.pairs());
    return 0;
  }
  if (cmd == "meter" && (sub == "list" || sub == "csv")) {
    Prepare(ctx);
    v1::ListUsageRequest req;
    req.set_device_id(absl::GetFlag(FLAGS_device));
    v1::ListUsageResponse r;
    Check(stub->ListUsage(&ctx, req, &r));
    if (sub == "csv") {
      std::fputs(r.billing_csv().c_str(), stdout);
      return 0;
    }
    Output out({"DEVICE", "PACKAGE", "CALLS", "DISPUTED", "SYNCS", "CHECKPOINT", "FLAGS", "CUT-OFF",
                "LAST-FLAG"});
    for (const v1::UsageInfo& u : r.usage()) {
      std::map<std::string, uint64_t> flags(u.flags().begin(), u.flags().end());
      std::string f;
      for (const auto& [name, n] : flags) absl::StrAppend(&f, f.empty() ? "" : ",", name, "=", n);
      out.Add(u, {u.device_id(), u.package(), absl::StrCat(u.accepted_calls()),
                  absl::StrCat(u.disputed_calls()), absl::StrCat(u.syncs()),
                  absl::StrCat(u.checkpoint_index()), f.empty() ? "-" : f,
                  u.cut_off() ? "yes" : "no", u.last_flag().empty() ? "-" : u.last_flag()});
    }
    out.Print();
    return 0;
  }
  if (cmd == "devices" && sub == "revoke") {
    const std::string device = absl::GetFlag(FLAGS_device);
    if (device.empty()) Fail("devices revoke needs --device=ID");
    Prepare(ctx);
    v1::RevokeDeviceRequest req;
    req.set_device_id(device);
    v1::RevokeDeviceResponse r;
    Check(stub->RevokeDevice(&ctx, req, &r));
    std::printf("revoked %s: no more model keys for it; versions from now on are unreadable to it\n",
                device.c_str());
    return 0;
  }
  if (cmd == "devices") {
    const std::string task = absl::GetFlag(FLAGS_task);
    if (task.empty()) Fail("devices needs --task=T");
    Prepare(ctx);
    v1::ListDevicesRequest req;
    req.set_task(task);
    req.set_state(absl::GetFlag(FLAGS_state));
    req.set_page_size(absl::GetFlag(FLAGS_page_size));
    req.set_page_token(absl::GetFlag(FLAGS_page_token));
    v1::ListDevicesResponse r;
    Check(stub->ListDevices(&ctx, req, &r));
    Output out({"DEVICE", "CLASS", "STATE", "CLUSTER", "LAST-SEEN", "ROUNDS", "REJECTIONS",
                "LAST-REJECTION"});
    for (const v1::DeviceInfo& d : r.devices()) {
      out.Add(d, {d.device_id(), d.device_class().empty() ? "-" : d.device_class(), d.state(),
                  absl::StrCat(d.cluster()), Time(d.last_seen_ms()), absl::StrCat(d.rounds_contributed()),
                  absl::StrCat(d.rejections()), d.last_rejection().empty() ? "-" : d.last_rejection()});
    }
    out.Print();
    std::fprintf(stderr, "%d of %lld device(s)%s\n", r.devices_size(),
                 static_cast<long long>(r.total()),
                 r.next_page_token().empty()
                     ? ""
                     : absl::StrCat("; next page: --page_token=", r.next_page_token()).c_str());
    return 0;
  }
  if (cmd == "telemetry" || cmd == "drift") {
    const std::string task = absl::GetFlag(FLAGS_task);
    if (task.empty()) Fail(absl::StrCat(cmd, " needs --task=T"));
    Prepare(ctx);
    v1::TelemetryViewRequest req;
    req.set_task(task);
    req.set_window_start_unix_s(absl::GetFlag(FLAGS_window));
    v1::TelemetryViewResponse r;
    Check(stub->FleetTelemetry(&ctx, req, &r));
    auto fixed = [](double v, int digits) { return absl::StrFormat("%.*f", digits, v); };
    if (cmd == "telemetry") {
      Output out({"VERSION", "CLASS", "REPORTS", "PROBE", "KIND", "P50", "P95", "BOUND95",
                  "ESTIMATE"});
      for (const v1::TelemetryGroup& g : r.groups()) {
        if (absl::GetFlag(FLAGS_json)) {  // One TelemetryGroup per line.
          out.Add(g, {});
          continue;
        }
        for (const v1::ProbeView& p : g.probes()) {
          std::vector<std::string> est;
          for (double f : p.estimate()) est.push_back(fixed(f, 3));
          const bool q = !p.edges().empty();
          out.Add(p, {absl::StrCat(g.model_version()), g.device_class(), absl::StrCat(p.reports()),
                      p.probe(), p.kind(), q ? fixed(p.p50(), 1) : "-", q ? fixed(p.p95(), 1) : "-",
                      fixed(p.simultaneous_bound_95(), 3), absl::StrJoin(est, ",")});
        }
      }
      out.Print();
    } else {
      Output out({"VERSION", "CLASS", "PROBE", "REPORTS", "PSI", "JSD", "NULL-PSI-99", "ALERT",
                  "SHIFT"});
      for (const v1::TelemetryGroup& g : r.groups()) {
        if (absl::GetFlag(FLAGS_json)) {  // One TelemetryGroup per line.
          out.Add(g, {});
          continue;
        }
        for (const v1::ProbeView& p : g.probes()) {
          if (p.alert().empty()) continue;
          out.Add(p, {absl::StrCat(g.model_version()), g.device_class(), p.probe(),
                      absl::StrCat(p.reports()), fixed(p.psi(), 4), fixed(p.jsd(), 4),
                      p.null_psi_99() > 0 ? fixed(p.null_psi_99(), 4) : "-", p.alert(),
                      p.shift() ? "yes" : "-"});
        }
      }
      out.Print();
    }
    return 0;
  }
  if (cmd == "models" || cmd == "fleet" || cmd == "verify") {
    const std::string task = absl::GetFlag(FLAGS_task);
    if (task.empty()) Fail(absl::StrCat(cmd, " needs --task=T"));
    Output models({"TASK", "CLUSTER", "VERSION", "PARENT", "ROUND", "AGGREGATOR", "PARTICIPANTS",
                   "BYTES", "SHA256", "COMMITTED", "INTEGRITY"});
    auto add_model = [&models](const v1::ModelVersion& m) {
      models.Add(m, {m.task(), absl::StrCat(m.cluster()), absl::StrCat(m.version()),
                     m.version() == 0 ? "-" : absl::StrCat(m.parent_version()), absl::StrCat(m.round()),
                     m.aggregator(), absl::StrCat(m.participants()), absl::StrCat(m.size_bytes()),
                     m.sha256().substr(0, 12), Time(m.committed_ms()), m.integrity()});
    };
    if (cmd == "models") {
      std::vector<v1::ModelVersion> versions;
      int64_t blobs = 0, bytes = 0;
      AllPages<v1::ListModelsResponse>(
          [&](grpc::ClientContext& c, const std::string& token, v1::ListModelsResponse* r) {
            v1::ListModelsRequest req;
            req.set_task(task);
            req.set_page_token(token);
            return stub->ListModels(&c, req, r);
          },
          [&](const v1::ListModelsResponse& r) {
            versions.insert(versions.end(), r.versions().begin(), r.versions().end());
            blobs = r.stored_blobs();
            bytes = r.stored_bytes();
          });
      PrintModelVersions(versions);
      if (!absl::GetFlag(FLAGS_json)) {
        std::fprintf(stderr, "store: %lld blob file(s), %lld bytes (every task; shared bodies once)\n",
                     static_cast<long long>(blobs), static_cast<long long>(bytes));
      }
    } else if (cmd == "verify") {
      Prepare(ctx);
      v1::VerifyRequest req;
      req.set_task(task);
      v1::VerifyResponse r;
      Check(stub->Verify(&ctx, req, &r));
      for (const v1::ModelVersion& m : r.bad()) add_model(m);
      models.Print();
      std::fprintf(stderr, "checked %d model version(s): %d bad\n", r.checked(), r.bad_size());
      return r.bad_size() == 0 ? 0 : 2;
    } else {
      Output out({"DEVICE-CLASS", "CLUSTER", "STATE", "DEVICES"});
      AllPages<v1::FleetResponse>(
          [&](grpc::ClientContext& c, const std::string& token, v1::FleetResponse* r) {
            v1::FleetRequest req;
            req.set_task(task);
            req.set_page_token(token);
            return stub->Fleet(&c, req, r);
          },
          [&](const v1::FleetResponse& r) {
            for (const v1::FleetCount& c : r.counts()) {
              out.Add(c, {c.device_class().empty() ? "-" : c.device_class(), absl::StrCat(c.cluster()),
                          c.state(), absl::StrCat(c.devices())});
            }
          });
      out.Print();
    }
    return 0;
  }
  Fail(absl::StrCat("unknown command '", absl::StrJoin(args, " "), "' (see flctl --help)"));
}

}  // namespace

int main(int argc, char** argv) {
  absl::SetProgramUsageMessage(
      "flctl [flags] tasks | task create --config=F [--model=M] [--variants=V] | task get T | "
      "task edit T [--rounds=N ...] | task delete T [--yes] | pause T | resume T | stop T | "
      "rounds --task=T [--watch] | models --task=T | "
      "models get --task=T --model_version=V [--cluster=K] [--out=F] | "
      "models rollback|pin|unpin --task=T --model_version=V [--cluster=K] | "
      "models export --task=T --model_version=V [--cluster=K] --out=F.onnx | "
      "models import M.onnx --head_layers=N [--proxy_images=F --proxy_labels=F] "
      "[--variant=NAME=F.onnx:BELOW_RAM,...] --out=model.pb [--variants_out=V] | "
      "fleet --task=T | telemetry --task=T [--window=S] | drift --task=T [--window=S] | devices --task=T [--state=S] [--page_token=P] | devices revoke --device=ID | "
      "meter list|csv [--device=ID] | meter cutoff --device=ID [--package=P] [--restore] | "
      "audit [--task=T] | "
      "verify --task=T | model init --widths=... --body_layers=N --out=F | "
      "keys init|show --dir=D | keys rotate --dir=D --role=R | keys revoke --dir=D --key_id=K");
  fedtiny::ListEveryFlagInHelp();
  std::vector<char*> rest = absl::ParseCommandLine(argc, argv);
  std::vector<std::string> args(rest.begin() + 1, rest.end());
  return Run(args);
}
