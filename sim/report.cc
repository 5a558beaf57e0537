#include "sim/report.h"

#include <algorithm>
#include <filesystem>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "tools/base/atomic_file.h"

namespace fedtiny::sim {

namespace {

const char* kColors[] = {"#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b"};

std::string Escape(const std::string& s) {
  std::string out;
  for (char ch : s) {
    switch (ch) {
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '&': out += "&amp;"; break;
      case '"': out += "&quot;"; break;
      default: out += ch;
    }
  }
  return out;
}

std::string JsonString(const std::string& s) {
  std::string out = "\"";
  for (char ch : s) {
    if (ch == '"' || ch == '\\') out += '\\';
    out += ch;
  }
  return out + "\"";
}

// A line chart of accuracy per round, one polyline per run.
std::string AccuracySvg(const std::vector<ExperimentResult>& runs) {
  const double w = 640, h = 320, left = 50, bottom = 30, top = 10, right = 10;
  int max_round = 1;
  for (const auto& r : runs) max_round = std::max<int>(max_round, r.rounds.size());
  std::string svg = absl::StrFormat(
      "<svg xmlns='http://www.w3.org/2000/svg' width='%g' height='%g' role='img' "
      "aria-label='test accuracy per round'>", w, h);
  for (int t = 0; t <= 10; ++t) {
    const double y = top + (h - top - bottom) * (1 - t / 10.0);
    absl::StrAppendFormat(&svg,
        "<line x1='%g' x2='%g' y1='%g' y2='%g' stroke='#ddd'/>"
        "<text x='%g' y='%g' font-size='10' text-anchor='end'>%d%%</text>",
        left, w - right, y, y, left - 4, y + 3, t * 10);
  }
  const int step = std::max(1, max_round / 5);
  for (int r = step; r <= max_round; r += step) {
    absl::StrAppendFormat(&svg, "<text x='%g' y='%g' font-size='10' text-anchor='middle'>%d</text>",
                          left + (w - left - right) * r / max_round, h - bottom + 12, r);
  }
  absl::StrAppendFormat(&svg, "<text x='%g' y='%g' font-size='11' text-anchor='middle'>round</text>",
                        (w + left) / 2, h - 2);
  for (size_t i = 0; i < runs.size(); ++i) {
    std::vector<std::string> pts;
    for (const RoundRecord& rec : runs[i].rounds) {
      if (!rec.evaluated) continue;
      const double x = left + (w - left - right) * rec.round / max_round;
      const double y = top + (h - top - bottom) * (1 - rec.accuracy);
      pts.push_back(absl::StrFormat("%.1f,%.1f", x, y));
    }
    absl::StrAppendFormat(&svg,
        "<polyline fill='none' stroke='%s' stroke-width='2' points='%s'/>",
        kColors[i % 6], absl::StrJoin(pts, " "));
  }
  return svg + "</svg>";
}

// Stacked bars per round: reported, stragglers, dropped.
std::string ParticipationSvg(const ExperimentResult& r) {
  const double w = 640, h = 200, left = 50, bottom = 20, top = 10;
  int peak = 1;
  for (const RoundRecord& rec : r.rounds) peak = std::max(peak, rec.selected);
  const double bw = (w - left - 10) / std::max<size_t>(1, r.rounds.size());
  std::string svg = absl::StrFormat(
      "<svg xmlns='http://www.w3.org/2000/svg' width='%g' height='%g' role='img' "
      "aria-label='participation per round'>", w, h);
  absl::StrAppendFormat(&svg, "<text x='%g' y='%g' font-size='10' text-anchor='end'>%d</text>",
                        left - 4, top + 8, peak);
  for (size_t i = 0; i < r.rounds.size(); ++i) {
    const RoundRecord& rec = r.rounds[i];
    double y = h - bottom;
    const std::pair<int, const char*> parts[] = {
        {rec.reported - rec.attackers, "#2ca02c"}, {rec.attackers, "#d62728"},
        {rec.stragglers, "#ff7f0e"}, {rec.dropped, "#999"}};
    for (const auto& [count, color] : parts) {
      const double bh = (h - top - bottom) * count / peak;
      y -= bh;
      absl::StrAppendFormat(&svg, "<rect x='%.1f' y='%.1f' width='%.1f' height='%.1f' fill='%s'/>",
                            left + i * bw, y, std::max(1.0, bw - 1), bh, color);
    }
  }
  return svg + "</svg>";
}

}  // namespace

std::string RoundLine(const RoundRecord& rec) {
  std::string quality =
      rec.evaluated ? absl::StrFormat("acc %.4f  loss %.4f", rec.accuracy, rec.loss)
                    : std::string("acc    -    loss    -  ");
  if (rec.evaluated && rec.personalized_accuracy > 0) {
    absl::StrAppendFormat(&quality, "  local %.3f  personal %.3f", rec.local_accuracy,
                          rec.personalized_accuracy);
  }
  if (rec.evaluated && rec.group_accuracy.size() > 1) {
    std::vector<std::string> g;
    for (double a : rec.group_accuracy) g.push_back(absl::StrFormat("%.3f", a));
    absl::StrAppend(&quality, "  groups ", absl::StrJoin(g, "/"));
  }
  return absl::StrFormat(
      "round %3d  vtime %7.2fh  selected %4d  reported %4d  dropped %3d  stragglers %3d  "
      "attackers %3d  %s  up %.1f MB  down %.1f MB  wall %.2fs%s",
      rec.round, rec.virtual_time_s / 3600, rec.selected, rec.reported, rec.dropped,
      rec.stragglers, rec.attackers, quality, rec.bytes_up / 1e6, rec.bytes_down / 1e6,
      rec.wall_s, rec.committed ? "" : "  (abandoned)");
}

std::string RoundsCsv(const ExperimentResult& r) {
  std::string csv =
      "round,virtual_time_s,selected,reported,dropped,stragglers,attackers,committed,"
      "accuracy,loss,local_accuracy,personalized_accuracy,bytes_down,bytes_up,wall_s\n";
  for (const RoundRecord& x : r.rounds) {
    absl::StrAppendFormat(&csv, "%d,%.1f,%d,%d,%d,%d,%d,%d,%s,%s,%s,%s,%d,%d,%.4f\n", x.round,
                          x.virtual_time_s, x.selected, x.reported, x.dropped, x.stragglers,
                          x.attackers, x.committed ? 1 : 0,
                          x.evaluated ? absl::StrFormat("%.6f", x.accuracy) : "",
                          x.evaluated ? absl::StrFormat("%.6f", x.loss) : "",
                          x.personalized_accuracy > 0 ? absl::StrFormat("%.6f", x.local_accuracy) : "",
                          x.personalized_accuracy > 0 ? absl::StrFormat("%.6f", x.personalized_accuracy) : "",
                          x.bytes_down,
                          x.bytes_up, x.wall_s);
  }
  return csv;
}

namespace {

// ", \"compare\": [...]" for the comparison runs, or nothing.
std::string ComparisonsJson(const ExperimentResult& r) {
  if (r.comparisons.empty()) return "";
  std::string out = ", \"compare\": [";
  for (size_t i = 0; i < r.comparisons.size(); ++i) {
    const ComparisonRun& cmp = r.comparisons[i];
    absl::StrAppend(&out, i > 0 ? ", " : "",
                    absl::StrFormat("{\"label\": %s, \"aggregator\": %s, \"attacker_fraction\": %g, "
                                    "\"final_accuracy\": %.4f}",
                                    JsonString(cmp.label), JsonString(cmp.aggregator),
                                    cmp.attacker_fraction, cmp.final_accuracy));
  }
  return out + "]";
}

}  // namespace

TargetReached TimeToTarget(const ExperimentResult& r, double target) {
  if (!(target > 0)) return {};  // No target set.
  int64_t uploads = 0;
  for (const RoundRecord& rec : r.rounds) {
    uploads += rec.uploads();
    if (rec.evaluated && rec.accuracy >= target) return {rec.round, rec.virtual_time_s, uploads};
  }
  return {};
}

std::string SummaryJson(const ExperimentResult& r) {
  const ExperimentConfig& c = r.config;
  int64_t uploads = 0;
  for (const RoundRecord& rec : r.rounds) uploads += rec.uploads();
  const TargetReached t = TimeToTarget(r, c.target_accuracy);
  // Asynchronous tasks and the time to the target: appended at the end.
  const std::string tail = absl::StrFormat(
      ", \"virtual_time_s\": %.1f, \"uploads\": %d, \"speed_sigma\": %g, "
      "\"async_concurrency\": %d, \"async_buffer\": %d, \"staleness_exponent\": %g, "
      "\"max_staleness\": %d, \"target_accuracy\": %g, \"target_round\": %d, "
      "\"time_to_target_s\": %.1f, \"uploads_to_target\": %d}\n",
      r.rounds.empty() ? 0.0 : r.rounds.back().virtual_time_s, uploads, c.speed_sigma,
      c.task.async().concurrency(), c.task.async().buffer(), c.task.async().staleness_exponent(),
      c.task.async().max_staleness(), c.target_accuracy, t.round, t.virtual_time_s, t.uploads);
  std::string head = absl::StrFormat(
      "{\"name\": %s, \"aggregator\": %s, \"server_optimizer\": %s, \"rounds\": %d, "
      "\"clients\": %d, \"per_round\": %d, \"epochs\": %d, \"batch\": %d, \"lr\": %g, "
      "\"partition\": %s, \"alpha\": %g, \"attacker_fraction\": %g, \"attack\": %s, "
      "\"heterogeneous\": %s, \"clusters\": %d, \"cluster_groups\": %d, \"seed\": %d, "
      "\"pretrain_accuracy\": %.4f, "
      "\"final_accuracy\": %.4f, \"final_local_accuracy\": %.4f, "
      "\"final_personalized_accuracy\": %.4f, \"personal_kept\": {\"global\": %d, "
      "\"last_layer\": %d, \"ditto\": %d}, \"fl_seconds\": %.3f, \"client_updates\": %d, "
      "\"client_updates_per_s\": %.1f, \"final_group_accuracy\": [%s], \"final_train_loss\": %.4f%s}\n",
      JsonString(c.name), JsonString(r.aggregator_name), JsonString(c.task.server_optimizer()),
      c.task.rounds(), c.clients, c.task.clients_per_round(), c.task.plan().epochs(),
      c.task.plan().batch_size(), c.task.plan().learning_rate(), JsonString(c.partition),
      c.alpha, c.attacker_fraction, JsonString(c.attack), c.heterogeneous ? "true" : "false",
      c.task.clusters(), c.cluster_groups, c.seed, r.pretrain_accuracy, r.final_accuracy, r.rounds.back().local_accuracy,
      r.rounds.back().personalized_accuracy, r.rounds.back().personal_kept_global,
      r.rounds.back().personal_last_layer, r.rounds.back().personal_ditto, r.fl_seconds, r.client_updates,
      r.fl_seconds > 0 ? r.client_updates / r.fl_seconds : 0.0,
      absl::StrJoin(r.rounds.back().group_accuracy, ", ",
                    [](std::string* out, double a) { absl::StrAppendFormat(out, "%.4f", a); }),
      r.final_train_loss, ComparisonsJson(r));
  head.resize(head.size() - 2);  // The closing "}\n", replaced by the tail.
  return head + tail;
}

std::string HtmlReport(const std::string& title, const std::vector<ExperimentResult>& runs) {
  std::string html = absl::StrCat(
      "<!doctype html><html><head><meta charset='utf-8'><title>", Escape(title),
      "</title><style>body{font-family:sans-serif;max-width:720px;margin:2em auto}"
      "table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:2px 8px;"
      "text-align:right}</style></head><body><h1>", Escape(title), "</h1>");
  html += "<h2>Test accuracy per round</h2>" + AccuracySvg(runs) + "<table><tr><th>run</th>"
          "<th>aggregator</th><th>final accuracy</th><th>client updates</th><th>wall s</th></tr>";
  for (size_t i = 0; i < runs.size(); ++i) {
    absl::StrAppendFormat(&html,
        "<tr><td style='color:%s'>%s</td><td>%s</td><td>%.2f%%</td><td>%d</td><td>%.1f</td></tr>",
        kColors[i % 6], Escape(runs[i].config.name), Escape(runs[i].aggregator_name),
        100 * runs[i].final_accuracy, runs[i].client_updates, runs[i].fl_seconds);
  }
  html += "</table>";
  for (const ExperimentResult& r : runs) {
    html += absl::StrCat("<h2>Participation: ", Escape(r.config.name),
                         "</h2><p>green: honest reports, red: attackers, orange: stragglers, "
                         "grey: dropped</p>", ParticipationSvg(r));
  }
  return html + "</body></html>\n";
}

std::string BundleCryptoCsv(const ExperimentResult& r) {
  std::string csv = "device_class,downloads,verified_bytes,verify_s,decrypted_bytes,decrypt_s\n";
  for (const auto& [cls, c] : r.bundle_crypto) {
    absl::StrAppendFormat(&csv, "%s,%d,%d,%.6f,%d,%.6f\n", cls, c.downloads, c.verified_bytes,
                          c.verify_s, c.decrypted_bytes, c.decrypt_s);
  }
  return csv;
}

std::string VariantsCsv(const ExperimentResult& r) {
  std::string csv = "variant,bundle_bytes,body_multiply_adds,final_accuracy\n";
  for (const auto& [name, v] : r.variants) {
    absl::StrAppendFormat(&csv, "%s,%d,%d,%.4f\n", name, v.bundle_bytes, v.body_multiply_adds,
                          v.final_accuracy);
  }
  return csv;
}

absl::Status WriteRunFiles(const std::string& dir, const ExperimentResult& r) {
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec) return absl::InternalError(absl::StrCat("cannot create ", dir, ": ", ec.message()));
  absl::Status s = WriteFileAtomically(dir + "/rounds.csv", RoundsCsv(r));
  if (s.ok()) s = WriteFileAtomically(dir + "/summary.json", SummaryJson(r));
  if (s.ok()) s = WriteFileAtomically(dir + "/bundle_crypto.csv", BundleCryptoCsv(r));
  if (s.ok()) s = WriteFileAtomically(dir + "/variants.csv", VariantsCsv(r));
  if (s.ok()) s = WriteFileAtomically(dir + "/report.html", HtmlReport(r.config.name, {r}));
  return s;
}

}  // namespace fedtiny::sim
