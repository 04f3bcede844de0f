// A gallery's IVF-PQ index built in shards, by several processes or machines: faiss's route for an
// index built on many machines. One process trains the index (on a sample, as `index build` does)
// and writes the gallery's vectors as float16; any number of processes then each encode a shard
// of the rows with a copy of the trained index; one process merges the shards into the gallery's
// index (faiss's merge_from) and records it as the gallery's choice. The result is the index a
// single `index build --index ivfpq` makes, byte for byte.
//
// The work lives in a folder beside the gallery, GALLERY.ivfpq-shards/, which every process must
// reach under the same path: the vectors, trained.ivfpq (the empty trained index) and one file a
// shard, shard-I-of-N.ivfpq, each written whole or not at all (a rerun skips finished shards; a
// process that died leaves nothing half-written). The front ends: `pupembed index build --shards N`,
// `--shard I/N` and `--merge`; the Python module's Gallery.plan_index_shards, add_index_shard and
// Gallery.merge_index_shards; and pupembed.distributed.build_index, which runs the shards as Dask tasks.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "pupembed/gallery/gallery.hpp"
#include "pupembed/gallery/vector_index.hpp"

namespace pupembed {

/// The folder of a gallery's shards (GALLERY.ivfpq-shards).
std::string index_shards_folder(const std::string& gallery_path);

/// The most shards a build may be split into.
constexpr int kMaxIndexShards = 100000;

struct IndexShardsPlan {
    std::string folder;
    int64_t photos = 0;
    int shards = 0;
    int lists = 0;
    int sub_quantizers = 0;
    int64_t training_rows = 0;
    double writing_seconds = 0, training_seconds = 0;
    bool kept = false;  ///< the plan in the folder was for the gallery as it is: kept, with its shards
};

/// Step 1, where the gallery is: writes its vectors and a trained, empty index into the folder
/// for `shards` shards (1 to kMaxIndexShards, at most one a photo). `settings`: lists and code
/// size as `index build` takes them. A plan there for the gallery as it is and these settings is
/// kept with its finished shards (a rerun); another is replaced. Throws Error as Gallery::index
/// does for a gallery too small to train an index on, or one this process may not change.
IndexShardsPlan plan_index_shards(Gallery& gallery, int shards, const IvfPqSettings& settings = {});

struct IndexShardReport {
    int shard = 0, shards = 0;
    int64_t first_row = 0, rows = 0;
    bool skipped = false;  ///< it was encoded already
    double seconds = 0;
    std::string path;
};

/// Step 2, once a shard, on any machine that reaches the folder: encodes rows
/// shard * photos / shards .. (shard + 1) * photos / shards - 1 into the shard's file. A shard
/// already encoded for this plan is skipped. Reads only the folder (not the gallery's database).
/// Throws Error when there is no plan, `shards` is not the plan's, or shard is not in 0 .. shards - 1.
IndexShardReport add_index_shard(const std::string& gallery_path, int shard, int shards);

/// The shards of the plan still to be encoded (all of them when there is no plan: Error).
std::vector<int> unfinished_index_shards(const std::string& gallery_path);

struct IndexShardsMerge {
    int64_t photos = 0;
    int shards = 0;
    int64_t memory_bytes = 0;  ///< what the index holds in memory
    double seconds = 0;
};

/// Step 3, where the gallery is: checks every shard (whole, trained by the plan's index, its own
/// rows and no others) and merges them into GALLERY.ivfpq, moves the vectors to GALLERY.vectors,
/// records "ivfpq" as the gallery's chosen index and removes the folder. Throws Error naming the
/// shards not yet encoded, a damaged one, or a gallery changed since the plan (plan again).
IndexShardsMerge merge_index_shards(Gallery& gallery);

}  // namespace pupembed
