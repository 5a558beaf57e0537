#include "coordinator/http_server.h"

#include <httplib.h>

#include <utility>

#include "absl/strings/str_cat.h"
#include "coordinator/dashboard/dashboard_html.h"
#include "coordinator/metrics.h"

namespace fedtiny::coordinator {

namespace {

// The dashboard loads nothing from anywhere: inline style and script, data from
// this origin only.
constexpr char kDashboardPolicy[] =
    "default-src 'none'; style-src 'unsafe-inline'; script-src 'unsafe-inline'; "
    "connect-src 'self'; img-src data:";

absl::StatusOr<std::unique_ptr<httplib::Server>> MakeServer(const HttpServer::Options& o) {
  const bool has_cert = !o.tls_cert_file.empty(), has_key = !o.tls_key_file.empty();
  if (has_cert != has_key) {
    return absl::InvalidArgumentError("HTTPS needs both a certificate and a key file");
  }
  if (!has_cert) return std::make_unique<httplib::Server>();
  auto server = std::make_unique<httplib::SSLServer>(o.tls_cert_file.c_str(),
                                                     o.tls_key_file.c_str());
  if (!server->is_valid()) {
    return absl::InvalidArgumentError(absl::StrCat("HTTPS: cannot load ", o.tls_cert_file,
                                                   " and its key"));
  }
  return server;
}

}  // namespace

absl::StatusOr<std::unique_ptr<HttpServer>> HttpServer::Start(const Options& options,
                                                              Handlers handlers) {
  absl::StatusOr<std::unique_ptr<httplib::Server>> server = MakeServer(options);
  if (!server.ok()) return server.status();
  const int port = options.port == 0 ? (*server)->bind_to_any_port(options.host)
                                     : ((*server)->bind_to_port(options.host, options.port)
                                            ? options.port
                                            : -1);
  if (port <= 0) {
    return absl::UnavailableError(
        absl::StrCat("HTTP: cannot listen on ", options.host, ":", options.port));
  }
  const bool tls = !options.tls_cert_file.empty();
  std::unique_ptr<HttpServer> http(
      new HttpServer(*std::move(server), std::move(handlers), port, tls));
  http->Route();
  httplib::Server* raw = http->server_.get();
  http->listener_ = std::thread([raw] { raw->listen_after_bind(); });
  return http;
}

HttpServer::HttpServer(std::unique_ptr<httplib::Server> server, Handlers handlers, int port,
                       bool tls)
    : server_(std::move(server)), handlers_(std::move(handlers)), port_(port), tls_(tls) {}

HttpServer::~HttpServer() { Stop(); }

void HttpServer::Stop() {
  if (!listener_.joinable()) return;
  server_->stop();
  listener_.join();
}

void HttpServer::Route() {
  server_->Get("/metrics", [this](const httplib::Request&, httplib::Response& res) {
    res.set_header("Cache-Control", "no-store");
    res.set_content(handlers_.metrics(), MetricsRegistry::kContentType);
  });
  server_->Get("/healthz", [this](const httplib::Request&, httplib::Response& res) {
    const absl::Status s = handlers_.health();
    res.status = s.ok() ? 200 : 503;
    res.set_header("Cache-Control", "no-store");
    res.set_content(s.ok() ? "ok\n" : absl::StrCat("not ready: ", s.message(), "\n"),
                    "text/plain; charset=utf-8");
  });
  auto page = [](const httplib::Request&, httplib::Response& res) {
    res.set_header("Content-Security-Policy", kDashboardPolicy);
    res.set_content(kDashboardHtml, "text/html; charset=utf-8");
  };
  server_->Get("/", page);
  server_->Get("/dashboard", page);
  server_->Get("/api/dashboard", [this](const httplib::Request&, httplib::Response& res) {
    res.set_header("Cache-Control", "no-store");
    res.set_content(handlers_.dashboard_json(), "application/json");
  });
}

}  // namespace fedtiny::coordinator
