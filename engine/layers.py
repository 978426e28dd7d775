"""Mutually exclusive experiments: a debtor's position in a layer decides which one it may enter.

Each debtor has one position per layer, a uniform number in [0, 1) from a salted hash of its id
and the layer key. Experiments of the layer take disjoint ranges of it (``dunning sync`` refuses
overlaps), so whatever order the experiments assign in, and however their own arms are drawn, no
debtor can be in two of them: exclusivity needs no lookup of the other experiments' assignments.
The layer hash is salted differently from any experiment's arm hash, so a debtor's position in
the layer tells nothing about the arm it gets inside its experiment.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from engine.assignment import unit_uniforms
from engine.config import Layer


def layer_salt(layer_key: str) -> str:
    """Hash salt of a layer; never an experiment's salt, whose keys share the same pattern."""
    return f"layer:{layer_key}"


def layer_positions(ids: npt.ArrayLike, layer_key: str) -> npt.NDArray[np.float64]:
    """Each id's position in the layer, uniform in [0, 1) and the same for every experiment."""
    return unit_uniforms(ids, salt=layer_salt(layer_key))


def outside_layer(ids: npt.ArrayLike, layer: Layer) -> npt.NDArray[np.bool_]:
    """True for the ids whose position falls outside this experiment's range of the layer."""
    position = layer_positions(ids, layer.key)
    start, end = layer.range
    inside = (position >= start) & (position < end)
    return np.asarray(~inside, dtype=np.bool_)
