#include "coordinator/dashboard_data.h"

#include <map>
#include <nlohmann/json.hpp>
#include <vector>

#include "absl/strings/ascii.h"

namespace fedtiny::coordinator {

namespace {

using nlohmann::json;

json RoundJson(const v1::RoundInfo& r) {
  json j = {{"round", r.round()},
            {"state", absl::AsciiStrToLower(v1::RoundState_Name(r.state()))},
            {"selected", r.selected()},
            {"reported", r.reported()},
            {"failed", r.failed()},
            {"opened_ms", r.opened_ms()},
            {"closed_ms", r.closed_ms()},
            {"reason", r.reason()},
            {"rejected", json::object()},
            {"metrics", json::object()}};
  for (const auto& [k, v] : r.rejected()) j["rejected"][k] = v;
  for (const auto& [k, v] : r.metrics()) j["metrics"][k] = v;
  // Per cluster, keyed by the cluster's number as a string (JSON keys).
  j["clusters"] = json::object();
  for (const auto& [k, c] : std::map<int, v1::ClusterRound>(r.clusters().begin(), r.clusters().end())) {
    json m = json::object();
    for (const auto& [name, v] : c.metrics()) m[name] = v;
    j["clusters"][std::to_string(k)] = {{"reported", c.reported()}, {"metrics", m}};
  }
  return j;
}

json TaskJson(Coordinator& coordinator, const v1::TaskInfo& t) {
  const v1::TaskConfig& c = t.config();
  json j = {{"name", c.name()},
            {"population", c.population()},
            {"state", absl::AsciiStrToLower(v1::TaskState_Name(t.state()))},
            {"committed_rounds", t.committed_rounds()},
            {"rounds", c.rounds()},
            {"goal", c.clients_per_round()},
            {"min_reports", c.min_reports()},
            {"clusters", c.clusters()},
            {"open", nullptr},
            {"history", json::array()},
            {"rejected", json::object()},
            {"fleet", json::object()}};
  absl::StatusOr<std::vector<v1::RoundInfo>> rounds =
      coordinator.ListRounds(c.name(), kDashboardRounds);
  if (rounds.ok()) {
    for (auto it = rounds->rbegin(); it != rounds->rend(); ++it) {  // Oldest first.
      if (it->state() == v1::OPEN) {
        j["open"] = RoundJson(*it);
        j["open"]["deadline_ms"] = it->opened_ms() + c.round_deadline_ms();
        continue;
      }
      j["history"].push_back(RoundJson(*it));
      for (const auto& [k, v] : it->rejected()) {
        j["rejected"][k] = j["rejected"].value(k, 0) + v;
      }
    }
  }
  if (absl::StatusOr<v1::FleetResponse> f = coordinator.Fleet(c.name()); f.ok()) {
    for (const v1::FleetCount& n : f->counts()) {
      j["fleet"][n.device_class()] = j["fleet"].value(n.device_class(), int64_t{0}) + n.devices();
    }
  }
  return j;
}

}  // namespace

std::string DashboardJson(Coordinator* coordinator, const absl::Status& ready, absl::Time now) {
  json j = {{"ready", ready.ok()},
            {"reason", std::string(ready.message())},
            {"now_ms", absl::ToUnixMillis(now)},
            {"tasks", json::array()}};
  if (coordinator != nullptr) {
    for (const v1::TaskInfo& t : coordinator->ListTasks()) {
      j["tasks"].push_back(TaskJson(*coordinator, t));
    }
  }
  // Device classes are any bytes a device sent: invalid UTF-8 is replaced, not
  // thrown on.
  return j.dump(-1, ' ', false, json::error_handler_t::replace);
}

}  // namespace fedtiny::coordinator
