"""pupembed: dog photos to embeddings, breeds, similarity and galleries, from Python.

    import pupembed
    model = pupembed.Model()                 # the shipped default model
    vectors = model.embed(["a.jpg", "b.jpg"])  # N x D float32 NumPy array of unit vectors
    model.similarity("a.jpg", "b.jpg")        # cosine similarity
    model.breeds("a.jpg", k=3)                # the most probable breeds
    gallery = pupembed.Gallery("dogs.db", create=True)
    gallery.add(["photos/"])
    gallery.search("a.jpg", k=5)

Photos are file paths or H x W x 3 uint8 RGB arrays (as from PIL; OpenCV's BGR needs
image[..., ::-1]). Every function is the C++ library's own (see help(pupembed.Model)); errors raise
pupembed.Error with the one-line message the command prints.
"""
import os as _os

# OpenMP threads wait passively, after spinning 0.1 ms, between the network's layers (the command
# sets the same: src/core/runtime.hpp); libgomp reads these when it loads, that is, when the native
# module below is imported, so they only apply when nothing loaded it before.
_os.environ.setdefault("OMP_WAIT_POLICY", "passive")
_os.environ.setdefault("GOMP_SPINCOUNT", "10000")

from ._pupembed import *  # noqa: E402,F401,F403
from ._pupembed import __version__  # noqa: E402,F401
