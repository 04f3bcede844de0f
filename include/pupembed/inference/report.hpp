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

/// The report as JSON (one object per model).
nlohmann::json report_json(const std::vector<NamedReport>& reports, const std::string& data);

/// A Markdown table with one column per model, as `eval` prints and writes it.
std::string report_markdown(const std::vector<NamedReport>& reports, const std::string& data,
                            const std::string& plot_file = "");

/// Draws the same-breed and different-breed cosine distance histograms, one panel per model,
/// and writes them as a PNG (atomically). Throws Error if it cannot be written.
void write_distance_plot(const std::string& path, const std::vector<NamedReport>& reports);

/// Writes DIR/report.json, DIR/report.md and DIR/distances.png, creating DIR.
void write_report(const std::string& dir, const std::vector<NamedReport>& reports, const std::string& data);

}  // namespace pupembed
