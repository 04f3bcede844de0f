// Job folders from Python (inference/embedding_job.hpp): what pupembed.distributed runs.
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <optional>
#include <string>
#include <vector>

#include "photo_arguments.hpp"
#include "py_model.hpp"
#include "pupembed/core/error.hpp"
#include "pupembed/inference/embedder.hpp"
#include "pupembed/inference/embedding_job.hpp"
#include "pupembed/model/model.hpp"

namespace pupembed::python {
namespace {

py::dict job_dict(const EmbeddingJob& job) {
    py::dict out;
    out["folder"] = job.folder;
    out["model"] = job.model_path;
    out["model_sha256"] = job.model_sha256;
    out["dimension"] = job.dimension;
    out["large_input"] = job.large_input;
    out["photos"] = job.photos;
    out["shard_size"] = job.shard_size;
    out["shard_count"] = job.shard_count;
    out["photos_added"] = job.added_photos;
    out["unfinished"] = job.unfinished_shards();
    return out;
}

}  // namespace

py::dict PyModel::embed_job_shard(const std::string& folder, int64_t shard) {
    const EmbeddingJob job = read_embedding_job(folder);
    // Hashing the model file once per job, not once per shard: a worker runs many of a job's shards.
    if (checked_job_ != folder) {
        require_job_model(job, path_);
        checked_job_ = folder;
    }
    model_.info.preprocessing.large_input_size = large_input_size_;
    job_model_settings(job, model_);
    ShardReport report;
    {
        py::gil_scoped_release release;
        BatchEmbedder embedder(model_, options_);
        report = pupembed::embed_job_shard(job, shard, embedder);
    }
    py::dict out;
    out["shard"] = report.shard;
    out["skipped"] = report.skipped;
    out["embedded"] = report.embedded;
    out["failed"] = report.failed;
    out["seconds"] = report.seconds;
    return out;
}

void bind_jobs(py::module_& m) {
    m.def(
        "open_job",
        [](const std::string& folder, const std::vector<std::string>& photos, const std::optional<std::string>& model,
           std::optional<int64_t> shard_size, std::optional<bool> large_input) {
            const std::string model_path = model_path_or_default(model.value_or(""));
            EmbeddingJob job;
            std::vector<std::string> refused;
            {
                py::gil_scoped_release release;
                const Model loaded = load_model_for_inference(model_path);
                job = open_embedding_job(folder, photos, model_path, loaded, JobSettings{shard_size, large_input}, &refused);
            }
            py::dict out = job_dict(job);
            out["refused"] = refused;
            return out;
        },
        py::arg("folder"), py::arg("photos"), py::arg("model") = py::none(), py::arg("shard_size") = py::none(),
        py::arg("large_input") = py::none(),
        "Makes the job folder for `photos` (files, as pupembed.image_paths lists them) and the model file, or\n"
        "opens the one there, checking it is the same job; settings not given are the existing job's.\n"
        "Returns its manifest's figures, 'unfinished' (the shards not done yet) and 'refused' (paths with a\n"
        "tab or newline, which cannot be listed).");
    m.def("job_info", [](const std::string& folder) { return job_dict(read_embedding_job(folder)); }, py::arg("folder"),
          "A job folder's manifest figures and its unfinished shards.");
    m.def("remove_job_temporaries", [](const std::string& folder) { return remove_job_temporaries(read_embedding_job(folder)); },
          py::arg("folder"),
          "Removes the temporary files runs killed while writing left in a job folder (only when no run is\n"
          "writing); returns how many.");
}

}  // namespace pupembed::python
