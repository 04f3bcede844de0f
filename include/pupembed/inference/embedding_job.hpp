// A job folder: a photo collection embedded in shards, the unit of work that Dask tasks, Slurm
// array tasks or any other scheduler run (pupembed does not schedule; see python -m
// pupembed.distributed and `pupembed embed --shard I/N`).
//
//   JOB/manifest.json          the model file's SHA-256 and settings, the photo list's SHA-256,
//                              shard size and count, pupembed's version ("pupembed-embedding-job", 2)
//   JOB/inputs/shard-NNNNN.txt the photos of each shard, one path a line, in the list's order
//   JOB/shard-NNNNN.tsv        per photo embedded: path, SHA-256, bytes, width, height, breed, probability
//   JOB/shard-NNNNN.failed.tsv per photo that could not be read: path, reason
//   JOB/shard-NNNNN.npy        the embeddings, float32 rows in the .tsv's order
//
// Each file is written under a temporary name and renamed, the .npy last: a shard whose .npy
// exists is whole, and a rerun skips it without reading a photo.
//
// A job grows and never reshuffles: a list with photos the job lacks adds them as new shards after
// the last, so the shards already made (and their place in --shard I/N: shard k is part k mod N)
// stay as they are. The manifest keeps the size of each addition ("segments"), each cut into
// shards of the job's shard size.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "pupembed/core/float_rows.hpp"

namespace pupembed {

struct Model;
class Embedder;

constexpr int kEmbeddingJobVersion = 2;  // 1: no "segments" (one list)
constexpr int64_t kDefaultShardSize = 10000;

/// How a job embeds: photos per shard, and whether photos with the pixels for it run at the
/// model's large input (the default: quality first) or every photo at its base input (faster on
/// large photos).
/// Unset, each is the job's when the folder holds one, else the default.
struct JobSettings {
    std::optional<int64_t> shard_size;  ///< default kDefaultShardSize
    std::optional<bool> large_input;    ///< default true
};

/// A job folder's manifest.
struct EmbeddingJob {
    std::string folder;
    std::string model_path;     ///< absolute, as the job was made
    std::string model_sha256;   ///< of the model file's bytes
    std::string backbone;
    int64_t dimension = 0;             ///< embedding size
    int64_t appearance_dimension = 0;  ///< GalleryModel::appearance_dimension of the model
    int input_size = 0;
    int large_input_size = 0;   ///< as run: 0 when every photo ran at input_size
    bool large_input = true;
    int64_t photos = 0;
    std::string photos_sha256;  ///< of the job's photos in shard order, one path a line
    int64_t shard_size = 0, shard_count = 0;
    /// The photos of the list that made the job, then of each list that grew it (each > 0).
    std::vector<int64_t> segments;
    std::string pupembed_version;
    /// Photos the open_embedding_job call that returned this added: all when it made the job, 0 when
    /// it found the job as asked.
    int64_t added_photos = 0;

    /// JOB/shard-NNNNN + `suffix` (".tsv", ".failed.tsv", ".npy").
    std::string shard_file(int64_t shard, const std::string& suffix) const;
    /// Whether shard `shard`'s .npy is there (written last, so the shard is whole).
    bool shard_done(int64_t shard) const;
    /// The shards of part `part` of `parts` (shard k belongs to part k mod parts) not done yet.
    std::vector<int64_t> unfinished_shards(int64_t part = 0, int64_t parts = 1) const;
    /// The photos of shard `shard`, in the list's order.
    std::vector<std::string> shard_photos(int64_t shard) const;
    /// How many photos shard `shard` has.
    int64_t shard_length(int64_t shard) const;
};

/// Opens the job in `folder` for `photos` embedded by the model file `model_path` (`model`, ready
/// for inference), making it when the folder is absent or empty, and growing it by the photos of
/// `photos` it lacks (in their order; see added_photos). Photos of the job that `photos` lacks stay
/// in it. Processes may do this at once: one makes or grows the job, the others find it so. Throws
/// Error saying what differs when the folder holds a job of another model file, shard size or
/// large-input setting, or something else.
/// A photo whose path holds a tab or a newline cannot be listed: it is left out and its path
/// added to `refused`.
EmbeddingJob open_embedding_job(const std::string& folder, const std::vector<std::string>& photos, const std::string& model_path,
                                const Model& model, const JobSettings& settings, std::vector<std::string>* refused = nullptr);

/// Reads the manifest of the job in `folder`; throws Error naming the file when it is missing,
/// damaged or of a newer version.
EmbeddingJob read_embedding_job(const std::string& folder);

/// Checks that `model_path` is the model file `job` was made with; throws Error saying so.
void require_job_model(const EmbeddingJob& job, const std::string& model_path);

struct ShardReport {
    int64_t shard = 0;
    bool skipped = false;  ///< it was done already
    int64_t embedded = 0, failed = 0;
    double seconds = 0;
};

/// Embeds shard `shard` of `job` with `embedder` (its model the job's, with the job's large-input
/// setting applied: see job_model_settings), unless it is done. A photo that cannot be read is
/// listed in the shard's .failed.tsv with its reason and does not stop the shard.
ShardReport embed_job_shard(const EmbeddingJob& job, int64_t shard, Embedder& embedder);

/// Applies the job's large-input setting to a model loaded for it.
void job_model_settings(const EmbeddingJob& job, Model& model);

/// A shard's contents: the photos embedded (one row of `vectors` each) and those that failed.
struct JobShard {
    std::vector<std::string> paths, sha256s, breeds;
    std::vector<int64_t> file_sizes;
    std::vector<int> widths, heights;
    std::vector<double> breed_probabilities;
    FloatRows vectors;  ///< one row per path
    struct Failure {
        std::string path, reason;
    };
    std::vector<Failure> failures;
};

/// Writes shard `shard` of `job`: its .tsv, its .failed.tsv, then its .npy (each under a temporary
/// name, renamed): done once this returns. Throws Error when `rows` is not one vector of the job's
/// dimension per photo, or a path or reason holds a tab or a newline.
void write_job_shard(const EmbeddingJob& job, int64_t shard, const JobShard& rows);

/// Reads finished shard `shard` (its failures too); throws Error naming the file when a file is
/// missing or damaged, or the .tsv and the .npy disagree.
JobShard read_job_shard(const EmbeddingJob& job, int64_t shard);

/// Removes the temporary files that runs killed while writing left in the job folder. Only for
/// when no run of the job is writing (a scheduler's driver, after all its tasks ended).
int64_t remove_job_temporaries(const EmbeddingJob& job);

}  // namespace pupembed
