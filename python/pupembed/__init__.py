"""pupembed: dog photos to embeddings, breeds, similarity and galleries, from Python.

    import pupembed
    model = pupembed.Model()                    # the shipped default model
    X = model.embed(["a.jpg", "b.jpg"])          # N x D float32 NumPy array of unit vectors
    P = model.probabilities(["a.jpg"])           # N x C breed probabilities
    model.breeds("a.jpg", k=3)                   # the most probable breeds, as dictionaries
    gallery = pupembed.Gallery("dogs.db", create=True)
    gallery.add(["photos/"])
    D, I = gallery.search(X, k=5)                # faiss's shape: n x k distances and ids
    D, I = gallery.search(["a.jpg", 12], k=5)    # photos and gallery ids, as one batch
    gallery.rows(D, I)                           # the answers as dictionaries (path, breed, ...)
    pupembed.set_num_threads(2)                  # for the whole process
    # more than one machine: pupembed.distributed.embed(["photos/"], "job", client=dask_client),
    # then gallery.import_job("job"), and pupembed.distributed.build_index("dogs.db", client=dask_client)

Photos are file paths or H x W x 3 uint8 RGB arrays (as from PIL; OpenCV's BGR needs
image[..., ::-1]). The arrays come from the C++ library (see help(pupembed.Model)); the
dictionary conveniences here are written on top of them. Errors raise pupembed.Error with the
one-line message the command prints.
"""
import os as _os
import warnings as _warnings

# OpenMP threads wait passively, after spinning 0.1 ms, between the network's layers (the command
# sets the same: src/core/runtime.hpp); libgomp reads these when it loads, that is, when the native
# module below is imported, so they only apply when nothing loaded it before.
_os.environ.setdefault("OMP_WAIT_POLICY", "passive")
_os.environ.setdefault("GOMP_SPINCOUNT", "10000")

import numpy as _np  # noqa: E402

from . import _pupembed  # noqa: E402
from ._pupembed import (  # noqa: E402,F401
    Error,
    __version__,
    add_index_shard,
    cosine_similarity,
    default_model_path,
    get_num_threads,
    image_paths,
    job_info,
    open_job,
    remove_job_temporaries,
    set_num_threads,
    unfinished_index_shards,
)

__all__ = ["Error", "Gallery", "Model", "add_index_shard", "cosine_similarity", "default_model_path", "get_num_threads",
           "image_paths", "job_info", "open_job", "remove_job_temporaries", "set_num_threads", "unfinished_index_shards"]


def _threads_argument(threads, owner):
    """threads= of the constructors: deprecated, since the count is one setting for the process."""
    if threads is None:
        return
    _warnings.warn(f"{owner}(threads=...) is deprecated: the thread count is one setting for the whole process "
                   "and the last object made decided it for all; call pupembed.set_num_threads(n)",
                   DeprecationWarning, stacklevel=3)
    set_num_threads(threads)


def _photo_items(photos):
    """One photo or several, as Model.embed takes them: each with the name breeds() gives it."""
    if isinstance(photos, (str, bytes)) or hasattr(photos, "__fspath__"):
        photos = [photos]
    elif isinstance(photos, _np.ndarray):
        photos = list(photos) if photos.ndim == 4 else [photos]
    else:
        photos = list(photos)
    return [(photo, f"array {i}" if isinstance(photo, _np.ndarray) else _os.fsdecode(photo))
            for i, photo in enumerate(photos)]


class Model(_pupembed.Model):
    __doc__ = (_pupembed.Model.__doc__ or "") + (
        "\n\nthreads= is deprecated: the thread count is one setting for the whole process (set_num_threads).")

    def __init__(self, path=None, batch=64, threads=None, max_pixels=None, full_decode=False):
        _threads_argument(threads, "Model")
        extra = {} if max_pixels is None else {"max_pixels": max_pixels}
        super().__init__(path, batch=batch, full_decode=full_decode, **extra)

    def breeds(self, photos, k=5):
        """The k most probable breeds of each photo: a list of {'path', 'top': [{'index', 'id', 'name',
        'probability'}]}, most probable first, as `pupembed breed --json` prints them (arrays are
        named 'array N'). Built on probabilities()."""
        if int(k) < 1:
            raise Error(f"k: must be at least 1, got {k}")
        items = _photo_items(photos)
        probabilities = self.probabilities([photo for photo, _ in items])
        classes, ids = self.classes, self.class_ids
        answers = []
        for (_, name), row in zip(items, probabilities):
            order = sorted(range(len(row)), key=lambda c: (-row[c], c))[:int(k)]
            answers.append({"path": name, "top": [
                {"index": c, "id": ids[c], "name": classes[c], "probability": float(row[c])} for c in order]})
        return answers


class Gallery(_pupembed.Gallery):
    __doc__ = (_pupembed.Gallery.__doc__ or "") + (
        "\n\nthreads= is deprecated: the thread count is one setting for the whole process (set_num_threads).")

    def __init__(self, path, create=False, model=None, index="auto", batch=64, threads=None):
        _threads_argument(threads, "Gallery")
        super().__init__(_os.fsdecode(path), create=create, model=model, index=index, batch=batch)

    def rows(self, D, I):
        """The answers of search() or algebra() as dictionaries: for each query, a list of its answers'
        gallery rows ('id', 'path', 'breed', 'breed_probability', 'content_hash', ...) with 'rank'
        (from 1), 'similarity' and 'distance', as the command's --json prints them. Photos removed since
        the search are left out."""
        answers = []
        for distances, ids in zip(_np.asarray(D, _np.float32), _np.asarray(I, _np.int64)):
            row = []
            for distance, id_ in zip(distances, ids):
                if id_ < 0:
                    break
                image = self.image(int(id_))
                if image is None:
                    continue
                image = {"rank": len(row) + 1, **image}
                image["similarity"] = float(_np.float32(1) - distance)
                image["distance"] = float(distance)
                row.append(image)
            answers.append(row)
        return answers

    def neighbours(self, query, k=10, exclude=None):
        """The k nearest gallery photos of one query (a photo, an id or a vector) as dictionaries:
        rows(*search([query], k))[0]."""
        if isinstance(query, _np.ndarray) and query.dtype.kind == "f" and query.ndim == 1:
            query = query[None, :]
        elif not (isinstance(query, _np.ndarray) and query.ndim == 3):
            query = [query]
        return self.rows(*self.search(query, k, exclude))[0]
