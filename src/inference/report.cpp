#include "pupembed/inference/report.hpp"

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>

#include "pupembed/core/error.hpp"
#include "pupembed/io/file_io.hpp"

namespace fs = std::filesystem;

namespace pupembed {
namespace {

std::string fixed(double value, int digits = 4) {
    char text[32];
    std::snprintf(text, sizeof(text), "%.*f", digits, value);
    return text;
}

}  // namespace

nlohmann::json report_json(const std::vector<NamedReport>& reports, const std::string& data) {
    nlohmann::json models = nlohmann::json::array();
    for (const auto& [name, r] : reports) {
        nlohmann::json recall;
        for (size_t i = 0; i < r.retrieval.ks.size(); ++i) recall[std::to_string(r.retrieval.ks[i])] = r.retrieval.recall_at[i];
        models.push_back({{"model", name},
                          {"images", r.images},
                          {"classes", r.classes},
                          {"breed_top1", r.has_classifier ? nlohmann::json(r.top1) : nlohmann::json(nullptr)},
                          {"breed_top5", r.has_classifier ? nlohmann::json(r.top5) : nlohmann::json(nullptr)},
                          {"embedding", r.embedding},
                          {"embedding_size", r.embedding_size},
                          {"recall_at", recall},
                          {"map_at_r", r.retrieval.map_at_r},
                          {"retrieval_queries", r.retrieval.queries},
                          {"cosine_distance",
                           {{"bins", r.distances.bins},
                            {"range", {0.0, 2.0}},
                            {"same_breed", {{"mean", r.distances.same_mean}, {"median", r.distances.same_median}, {"histogram", r.distances.same}}},
                            {"different_breed",
                             {{"mean", r.distances.different_mean}, {"median", r.distances.different_median}, {"histogram", r.distances.different}}}}},
                          {"images_per_second", r.seconds > 0 ? double(r.images) / r.seconds : 0.0},
                          {"unreadable", r.unreadable}});
    }
    return {{"format", "pupembed-eval"}, {"version", 1}, {"data", data}, {"models", models}};
}

std::string report_markdown(const std::vector<NamedReport>& reports, const std::string& data, const std::string& plot_file) {
    std::string md = "# pupembed eval\n\nData: `" + data + "`";
    if (!reports.empty()) md += " (" + std::to_string(reports.front().report.images) + " images, " +
                                std::to_string(reports.front().report.classes) + " breeds)";
    md += "\n\n| | " ;
    for (const auto& r : reports) md += "`" + r.name + "` | ";
    md += "\n| --- |";
    for (size_t i = 0; i < reports.size(); ++i) md += " --- |";
    md += "\n";
    auto row = [&](const std::string& label, auto value) {
        md += "| " + label + " |";
        for (const auto& r : reports) md += " " + value(r.report) + " |";
        md += "\n";
    };
    row("breed top-1", [](const EvaluationReport& r) { return r.has_classifier ? fixed(r.top1) : std::string("-"); });
    row("breed top-5", [](const EvaluationReport& r) { return r.has_classifier ? fixed(r.top5) : std::string("-"); });
    if (!reports.empty())
        for (size_t i = 0; i < reports.front().report.retrieval.ks.size(); ++i)
            row("Recall@" + std::to_string(reports.front().report.retrieval.ks[i]),
                [i](const EvaluationReport& r) { return fixed(r.retrieval.recall_at[i]); });
    row("MAP@R", [](const EvaluationReport& r) { return fixed(r.retrieval.map_at_r); });
    row("cosine distance, same breed (mean / median)", [](const EvaluationReport& r) {
        return fixed(r.distances.same_mean, 3) + " / " + fixed(r.distances.same_median, 3);
    });
    row("cosine distance, different breeds (mean / median)", [](const EvaluationReport& r) {
        return fixed(r.distances.different_mean, 3) + " / " + fixed(r.distances.different_median, 3);
    });
    row("embedding", [](const EvaluationReport& r) { return r.embedding + ", " + std::to_string(r.embedding_size) + "-d"; });
    row("images/s (decoding included)", [](const EvaluationReport& r) {
        return fixed(r.seconds > 0 ? double(r.images) / r.seconds : 0.0, 0);
    });
    if (!plot_file.empty())
        md += "\n![same-breed and different-breed cosine distances](" + plot_file +
              ")\n\nThe plot shows, for each model, the share of same-breed pairs (green) and of "
              "different-breed pairs (red) at each cosine distance; the less they overlap, the better.\n";
    return md;
}

void write_distance_plot(const std::string& path, const std::vector<NamedReport>& reports) {
    const int width = 720, panel = 220, left = 50, right = 20, top = 30, bottom = 30;
    cv::Mat canvas(panel * int(std::max<size_t>(1, reports.size())), width, CV_8UC3, cv::Scalar(255, 255, 255));
    for (size_t m = 0; m < reports.size(); ++m) {
        const auto& d = reports[m].report.distances;
        const int y0 = int(m) * panel;
        const int plot_w = width - left - right, plot_h = panel - top - bottom;
        auto share = [](const std::vector<int64_t>& counts) {
            double total = 0;
            for (const auto c : counts) total += double(c);
            std::vector<double> out;
            for (const auto c : counts) out.push_back(total > 0 ? double(c) / total : 0.0);
            return out;
        };
        const auto same = share(d.same), different = share(d.different);
        double peak = 1e-9;
        for (size_t b = 0; b < same.size(); ++b) peak = std::max({peak, same[b], different[b]});
        cv::rectangle(canvas, {left, y0 + top}, {left + plot_w, y0 + top + plot_h}, cv::Scalar(0, 0, 0));
        auto draw = [&](const std::vector<double>& values, const cv::Scalar& colour) {
            std::vector<cv::Point> points;
            for (size_t b = 0; b < values.size(); ++b) {
                const int x = left + int((double(b) + 0.5) / double(values.size()) * plot_w);
                const int y = y0 + top + plot_h - int(values[b] / peak * (plot_h - 5));
                points.emplace_back(x, y);
            }
            cv::polylines(canvas, points, false, colour, 2, cv::LINE_AA);
        };
        draw(same, cv::Scalar(40, 160, 40));
        draw(different, cv::Scalar(40, 40, 200));
        for (int t = 0; t <= 4; ++t) {
            const int x = left + t * plot_w / 4;
            cv::putText(canvas, fixed(t * 0.5, 1), {x - 10, y0 + top + plot_h + 18}, cv::FONT_HERSHEY_SIMPLEX, 0.4,
                        cv::Scalar(0, 0, 0), 1, cv::LINE_AA);
        }
        cv::putText(canvas, reports[m].name + "  (green: same breed, red: different breeds; x: cosine distance)",
                    {left, y0 + top - 10}, cv::FONT_HERSHEY_SIMPLEX, 0.42, cv::Scalar(0, 0, 0), 1, cv::LINE_AA);
    }
    std::vector<uchar> png;
    if (!cv::imencode(".png", canvas, png)) throw Error(path, "cannot encode the plot as PNG");
    write_file_atomically(path, std::string(png.begin(), png.end()));
}

void write_report(const std::string& dir, const std::vector<NamedReport>& reports, const std::string& data) {
    std::error_code error;
    fs::create_directories(dir, error);
    if (error) throw Error(dir, "cannot create report folder: " + error.message());
    write_file_atomically((fs::path(dir) / "report.json").string(), report_json(reports, data).dump(2, ' ', false, nlohmann::json::error_handler_t::replace) + "\n");
    write_distance_plot((fs::path(dir) / "distances.png").string(), reports);
    write_file_atomically((fs::path(dir) / "report.md").string(), report_markdown(reports, data, "distances.png"));
}

}  // namespace pupembed
