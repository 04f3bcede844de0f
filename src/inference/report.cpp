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

nlohmann::json model_json(const std::string& name, const EvaluationReport& r) {
    nlohmann::json recall;
    for (size_t i = 0; i < r.retrieval.ks.size(); ++i) recall[std::to_string(r.retrieval.ks[i])] = r.retrieval.recall_at[i];
    const auto if_scored = [&r](double value) { return r.breeds_scored() ? nlohmann::json(value) : nlohmann::json(nullptr); };
    return {{"model", name},
            {"images", r.images},
            {"classes", r.classes},
            {"breed_top1", if_scored(r.top1)},
            {"breed_top5", if_scored(r.top5)},
            {"breed_images", r.classified_images},
            {"classes_not_in_model", r.unmatched_classes},
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
            {"unreadable", r.unreadable}};
}

std::string breed_top1_text(const EvaluationReport& r) { return r.breeds_scored() ? fixed(r.top1) : std::string("-"); }

/// One dataset's table, one column per model, and a note on the classes the classifiers lack.
std::string dataset_markdown(const DatasetReport& dataset) {
    const auto& reports = dataset.models;
    std::string md = "Data: `" + dataset.data + "`";
    if (!reports.empty()) md += " (" + std::to_string(reports.front().report.images) + " images, " +
                                std::to_string(reports.front().report.classes) + " breeds)";
    md += "\n\n| | ";
    for (const auto& r : reports) md += "`" + r.name + "` | ";
    md += "\n| --- |";
    for (size_t i = 0; i < reports.size(); ++i) md += " --- |";
    md += "\n";
    auto row = [&](const std::string& label, auto value) {
        md += "| " + label + " |";
        for (const auto& r : reports) md += " " + value(r.report) + " |";
        md += "\n";
    };
    row("breed top-1", breed_top1_text);
    row("breed top-5", [](const EvaluationReport& r) { return r.breeds_scored() ? fixed(r.top5) : std::string("-"); });
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
    for (const auto& [name, r] : reports) {
        if (!r.has_classifier || r.unmatched_classes.empty()) continue;
        md += "\nNote: `" + name + "` has no class for " + std::to_string(r.unmatched_classes.size()) + " of the " +
              std::to_string(r.classes) + " breeds (";
        for (size_t i = 0; i < r.unmatched_classes.size(); ++i) {
            if (i == 5) {
                md += ", ...";
                break;
            }
            md += (i ? ", " : "") + r.unmatched_classes[i];
        }
        md += r.breeds_scored() ? "); breed top-1 and top-5 count the other " + std::to_string(r.classified_images) +
                                      " images, retrieval all of them.\n"
                                : "): breed accuracy is not scored, retrieval is.\n";
    }
    return md;
}

}  // namespace

nlohmann::json report_json(const std::vector<DatasetReport>& datasets) {
    nlohmann::json entries = nlohmann::json::array();
    for (const auto& dataset : datasets) {
        nlohmann::json models = nlohmann::json::array();
        for (const auto& [name, r] : dataset.models) models.push_back(model_json(name, r));
        entries.push_back({{"data", dataset.data}, {"models", models}});
    }
    return {{"format", "pupembed-eval"}, {"version", 2}, {"datasets", entries}};
}

std::string report_markdown(const std::vector<DatasetReport>& datasets, const std::string& plot_file) {
    std::string md = "# pupembed eval\n\n";
    if (datasets.size() > 1 && !datasets.front().models.empty()) {
        md += "| model |";
        for (const auto& dataset : datasets) md += " `" + dataset.data + "`: Recall@1 / MAP@R / breed top-1 |";
        md += "\n| --- |";
        for (size_t i = 0; i < datasets.size(); ++i) md += " --- |";
        md += "\n";
        for (size_t m = 0; m < datasets.front().models.size(); ++m) {
            md += "| `" + datasets.front().models[m].name + "` |";
            for (const auto& dataset : datasets) {
                const EvaluationReport& r = dataset.models.at(m).report;
                md += " " + fixed(r.retrieval.recall_at.empty() ? 0.0 : r.retrieval.recall_at[0]) + " / " +
                      fixed(r.retrieval.map_at_r) + " / " + breed_top1_text(r) + " |";
            }
            md += "\n";
        }
        md += "\n";
    }
    for (size_t d = 0; d < datasets.size(); ++d) md += (d ? "\n" : "") + dataset_markdown(datasets[d]);
    if (!plot_file.empty())
        md += "\n![same-breed and different-breed cosine distances](" + plot_file +
              ")\n\nThe plot shows, for each model and dataset, the share of same-breed pairs (green) and of "
              "different-breed pairs (red) at each cosine distance; the less they overlap, the better.\n";
    return md;
}

void write_distance_plot(const std::string& path, const std::vector<DatasetReport>& datasets) {
    std::vector<NamedReport> reports;
    for (const auto& dataset : datasets)
        for (const auto& model : dataset.models)
            reports.push_back({datasets.size() > 1 ? model.name + " on " + dataset.data : model.name, model.report});
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

void write_report(const std::string& dir, const std::vector<DatasetReport>& datasets) {
    std::error_code error;
    fs::create_directories(dir, error);
    if (error) throw Error(dir, "cannot create report folder: " + error.message());
    write_file_atomically((fs::path(dir) / "report.json").string(), report_json(datasets).dump(2, ' ', false, nlohmann::json::error_handler_t::replace) + "\n");
    write_distance_plot((fs::path(dir) / "distances.png").string(), datasets);
    write_file_atomically((fs::path(dir) / "report.md").string(), report_markdown(datasets, "distances.png"));
}

}  // namespace pupembed
