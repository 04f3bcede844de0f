// Evaluation reports: JSON, Markdown and a PNG plot of the distance distributions.
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "pupembed/inference/evaluate.hpp"

namespace pupembed {

/// One evaluated model, named as the user gave it.
struct NamedReport {
    std::string name;
    EvaluationReport report;
};

/// Every model evaluated on one dataset (a folder or list file, as the user named it).
struct DatasetReport {
    std::string data;
    std::vector<NamedReport> models;
};

/// The report as JSON: format "pupembed-eval", version 2, one entry per dataset with one object per model.
nlohmann::json report_json(const std::vector<DatasetReport>& datasets);

/// Markdown as `eval` prints and writes it: with several datasets, a summary (one row per model,
/// each dataset's Recall@1, MAP@R and breed top-1 side by side); then per dataset a table with
/// one column per model, and a note naming the classes the models' classifiers lack.
std::string report_markdown(const std::vector<DatasetReport>& datasets, const std::string& plot_file = "");

/// Draws the same-breed and different-breed cosine distance histograms, one panel per model and
/// dataset, and writes them as a PNG (atomically). Throws Error if it cannot be written.
void write_distance_plot(const std::string& path, const std::vector<DatasetReport>& datasets);

/// Writes DIR/report.json, DIR/report.md and DIR/distances.png, creating DIR.
void write_report(const std::string& dir, const std::vector<DatasetReport>& datasets);

}  // namespace pupembed
