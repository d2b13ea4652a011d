"""Stored patterns and recall cues.

Every model in a scenario receives the same :class:`Stimulus`: the stored
patterns, the batch of cues made from them, and which pattern each cue targets.
Patterns come in two codings:

* ``bipolar``: entries in {-1, +1} (classical Hopfield, images);
* ``binary``: entries in {0, 1} at coding level ``a`` (sparse, CA3-like).
"""
from __future__ import annotations

import difflib
from dataclasses import dataclass, field
from importlib import resources
from typing import Any, Literal

import numpy as np

Coding = Literal["bipolar", "binary"]


@dataclass(frozen=True)
class Stimulus:
    """Patterns and cues shared by all models of a scenario.

    Attributes
    ----------
    patterns : (P, N) array of stored items, in ``coding``.
    names : the P item names.
    coding : "bipolar" ({-1,+1}) or "binary" ({0,1}).
    cues : (C, N) array, the recall cues, in the same coding; masked units
        hold 0 (the neutral value of both codings).
    targets : (C,) indices of the pattern each cue was made from.
    known : (C, N) bool, True where the cue carries information about the target.
    image_shape : (rows, cols) when the patterns are images, else None.
    """

    patterns: np.ndarray
    names: tuple[str, ...]
    coding: Coding
    cues: np.ndarray
    targets: np.ndarray
    known: np.ndarray
    image_shape: tuple[int, int] | None = None
    metadata: dict = field(default_factory=dict)
    #: the scenario's training corruption mixture (``training`` section, as a plain dict), or None
    training: dict | None = None

    @property
    def n_patterns(self) -> int:
        return self.patterns.shape[0]

    @property
    def n_units(self) -> int:
        return self.patterns.shape[1]

    @property
    def sequences(self) -> np.ndarray | None:
        """(S, L) int array: the pattern index of each sequence's items in order, or None for
        patterns that are not sequences (``metadata["sequences"]``)."""
        seqs = self.metadata.get("sequences")
        return None if seqs is None else np.asarray(seqs, dtype=np.int64).reshape(len(seqs), -1)

    @property
    def cyclic(self) -> bool:
        """True when each stored sequence's last item is followed by its first."""
        return bool(self.metadata.get("cyclic", False))

    @property
    def coding_level(self) -> float:
        """Fraction of active (+1 or 1) entries over all patterns."""
        return float(np.mean(self.patterns > 0))

    def bipolar_patterns(self) -> np.ndarray:
        """Patterns as {-1,+1}."""
        return self.patterns if self.coding == "bipolar" else 2.0 * self.patterns - 1.0

    def bipolar_cues(self) -> np.ndarray:
        """Cues as {-1,0,+1}: unknown units are 0."""
        if self.coding == "bipolar":
            return self.cues
        return np.where(self.known, 2.0 * self.cues - 1.0, 0.0)

    def to_dataset(self):
        """The stimulus as a labeled :class:`xarray.Dataset` (saved in every run folder)."""
        import xarray as xr

        attrs = {"coding": self.coding}
        if self.image_shape is not None:
            attrs["image_rows"], attrs["image_cols"] = self.image_shape
        if self.training is not None:
            import json

            attrs["training"] = json.dumps(self.training, sort_keys=True)
        data = {"patterns": (("pattern", "unit"), self.patterns.astype(np.float64)),
                "cues": (("cue", "unit"), self.cues.astype(np.float64)),
                "known": (("cue", "unit"), self.known.astype(np.int8)),
                "targets": (("cue",), self.targets.astype(np.int64))}
        if self.sequences is not None:
            attrs["cyclic"] = int(self.cyclic)
            data["sequences"] = (("sequence", "position"), self.sequences)
            data["cue_positions"] = (("cue",), np.asarray(self.metadata["cue_positions"], dtype=np.int64))
            data["cue_sequences"] = (("cue",), np.asarray(self.metadata["cue_sequences"], dtype=np.int64))
        return xr.Dataset(data, coords={"pattern": list(self.names), "cue": np.arange(len(self.targets))},
                          attrs=attrs)

    @classmethod
    def from_dataset(cls, ds) -> "Stimulus":
        shape = None
        if "image_rows" in ds.attrs:
            shape = (int(ds.attrs["image_rows"]), int(ds.attrs["image_cols"]))
        training = None
        if "training" in ds.attrs:
            import json

            training = json.loads(str(ds.attrs["training"]))
        metadata: dict[str, Any] = {}
        if "sequences" in ds:
            metadata = {"sequences": ds["sequences"].values.astype(int).tolist(),
                        "cyclic": bool(int(ds.attrs.get("cyclic", 0))),
                        "cue_positions": ds["cue_positions"].values.astype(int).tolist(),
                        "cue_sequences": ds["cue_sequences"].values.astype(int).tolist()}
        return cls(patterns=ds["patterns"].values, names=tuple(str(n) for n in ds["pattern"].values),
                   coding=str(ds.attrs["coding"]), cues=ds["cues"].values,
                   targets=ds["targets"].values.astype(int), known=ds["known"].values.astype(bool),
                   image_shape=shape, metadata=metadata, training=training)


# --------------------------------------------------------------------------- patterns

def random_bipolar(count: int, size: int, rng: np.random.Generator) -> np.ndarray:
    """P x N i.i.d. +-1 patterns with equal probability."""
    return rng.choice(np.array([-1.0, 1.0]), size=(count, size))


def sparse_binary(count: int, size: int, coding_level: float, rng: np.random.Generator) -> np.ndarray:
    """P x N 0/1 patterns with exactly round(a N) active units each."""
    k = int(round(coding_level * size))
    if k < 1:
        raise ValueError(f"coding level {coding_level} leaves no active unit in {size} units")
    out = np.zeros((count, size))
    for mu in range(count):  # loop over patterns, not neurons
        out[mu, rng.choice(size, size=k, replace=False)] = 1.0
    return out


def correlated_bipolar(count: int, size: int, parents: int, similarity: float,
                       rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Hierarchically correlated +-1 patterns.

    ``parents`` random ancestors; each child copies its parent and re-draws each
    unit with probability ``1 - similarity``, so the expected overlap of a child
    with its parent is ``similarity`` and of two siblings ``similarity**2``.
    Returns (patterns, parent index of each pattern).
    """
    ancestors = random_bipolar(parents, size, rng)
    family = np.arange(count) % parents
    redraw = rng.random((count, size)) < (1.0 - similarity)
    noise = random_bipolar(count, size, rng)
    return np.where(redraw, noise, ancestors[family]), family


def available_images() -> list[str]:
    """Names of the built-in binary images."""
    folder = resources.files("hipposim") / "data" / "images"
    return sorted(p.name[:-4] for p in folder.iterdir() if p.name.endswith(".txt"))


def load_image(name: str) -> np.ndarray:
    """A built-in image as a (rows, cols) array of +-1 ('#' is +1)."""
    path = resources.files("hipposim") / "data" / "images" / f"{name}.txt"
    if not path.is_file():
        raise ValueError(f"no built-in image named {name!r}; available: {', '.join(available_images())}")
    rows = [line.rstrip("\n") for line in path.read_text().splitlines() if line.strip()]
    return np.array([[1.0 if c == "#" else -1.0 for c in row] for row in rows])


# --------------------------------------------------------------------------- cues

REGIONS = ("left_half", "right_half", "top_half", "bottom_half", "center", "border")


def region_mask(region: str, shape: tuple[int, int]) -> np.ndarray:
    """Boolean mask (True = hidden) of a named image region."""
    rows, cols = shape
    r, c = np.mgrid[0:rows, 0:cols]
    masks = {
        "left_half": c < cols // 2,
        "right_half": c >= cols // 2,
        "top_half": r < rows // 2,
        "bottom_half": r >= rows // 2,
        "center": (abs(r - (rows - 1) / 2) < rows / 4) & (abs(c - (cols - 1) / 2) < cols / 4),
    }
    masks["border"] = ~masks["center"]
    return masks[region].ravel()


def masked_cue(pattern: np.ndarray, hidden: np.ndarray) -> np.ndarray:
    """Zero the hidden units (0 is neutral: 'unknown' for +-1, 'inactive' for 0/1)."""
    return np.where(hidden, 0.0, pattern)


def noisy_cue(pattern: np.ndarray, fraction: float, coding: Coding, rng: np.random.Generator) -> np.ndarray:
    """Flip a random ``fraction`` of the units (exactly round(fraction N) of them)."""
    n = pattern.size
    flip = np.zeros(n, dtype=bool)
    flip[rng.choice(n, size=int(round(fraction * n)), replace=False)] = True
    flipped = -pattern if coding == "bipolar" else 1.0 - pattern
    return np.where(flip, flipped, pattern)


def mixture_cue(a: np.ndarray, b: np.ndarray, weight: float, coding: Coding) -> np.ndarray:
    """A mixture weight*a + (1-weight)*b, re-binarised (ties go to ``a``)."""
    if coding == "bipolar":
        mix = weight * a + (1 - weight) * b
        return np.where(mix == 0, a, np.sign(mix))
    return (weight * a + (1 - weight) * b >= 0.5).astype(float)


TrainMask = Literal[("random",) + REGIONS]  # type: ignore[valid-type]


def training_copies(items: np.ndarray, copies: int, max_hidden: float, mask: str,
                    image_shape: tuple[int, int] | None, rng: np.random.Generator
                    ) -> tuple[np.ndarray, np.ndarray]:
    """The items and ``copies`` masked copies of each, with the item each copy should return.

    ``mask="random"``: each copy hides a uniformly drawn fraction in
    [0, ``max_hidden``) of random units (set to 0), as the Transformer's FF
    training; a region name hides that image region in every copy (images only).
    Returns (inputs, targets), both (items * (copies + 1), N).
    """
    n_items, n = items.shape
    out = [items]
    if mask != "random":
        if image_shape is None:
            raise ValueError(f"train_mask '{mask}' is an image region; these patterns are not images "
                             "(use train_mask: random)")
        hidden = region_mask(mask, image_shape)
    for _ in range(copies):
        if mask == "random":
            hidden = rng.random((n_items, n)) < rng.uniform(0, max_hidden, size=(n_items, 1))
        out.append(np.where(hidden, 0.0, items))
    return np.concatenate(out), np.tile(items, (copies + 1, 1))


#: the corruptions a training mixture may name (``training.mixture[i].kind``)
CORRUPTIONS = ("random_mask", "region", "flip")


def corruption_copies(items: np.ndarray, training: dict, image_shape: tuple[int, int] | None,
                      rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """The items and ``training["copies"]`` corrupted copies of each, drawn from one declared mixture.

    ``training`` is a scenario's ``training`` section as a dict:
    ``{"copies": K, "mixture": [{"kind": ..., "weight": w, ...}, ...]}`` with
    weights summing to 1. Each copy of each item independently draws one
    component with probability ``weight`` and is corrupted by it:

    * ``random_mask``: a fraction drawn uniformly in [0, ``max_hidden``) of
      random units is hidden (set to 0, the neutral value);
    * ``region``: one of the listed image ``regions`` (uniformly) is hidden;
    * ``flip``: a fraction drawn uniformly in [0, ``max_fraction``) of random
      units has its sign flipped (the bipolar items' -x).

    Every trained model of a scenario (the MLP, the autoencoder, the
    Transformer's feed-forward layer) calls this with the same section, so the
    baselines and the Transformer learn from the same corruption distribution
    (the denoising-training protocol of Vincent et al. 2008, with the
    corruption process declared once). Returns (inputs, targets), both
    (items * (copies + 1), N), the clean items first.
    """
    n_items, n = items.shape
    mixture = list(training["mixture"])
    weights = np.array([float(c["weight"]) for c in mixture])
    if not np.isclose(weights.sum(), 1.0, atol=1e-6):
        raise ValueError(f"training.mixture weights sum to {weights.sum():g}; expected 1")
    for c in mixture:
        if c["kind"] not in CORRUPTIONS:
            raise ValueError(f"training.mixture names an unknown corruption '{c['kind']}'; "
                             f"expected one of {', '.join(CORRUPTIONS)}")
        if c["kind"] == "region" and image_shape is None:
            raise ValueError("training.mixture has a 'region' corruption; these patterns are not images")
    out = [items]
    for _ in range(int(training["copies"])):
        pick = rng.choice(len(mixture), size=n_items, p=weights / weights.sum())
        copy = items.copy()
        for i, item in enumerate(items):
            c = mixture[pick[i]]
            if c["kind"] == "random_mask":
                hidden = rng.random(n) < rng.uniform(0, float(c.get("max_hidden", 0.6)))
                copy[i] = np.where(hidden, 0.0, item)
            elif c["kind"] == "region":
                regions = list(c["regions"])
                hidden = region_mask(regions[int(rng.integers(len(regions)))], image_shape)
                copy[i] = np.where(hidden, 0.0, item)
            else:
                flip = rng.random(n) < rng.uniform(0, float(c.get("max_fraction", 0.3)))
                copy[i] = np.where(flip, -item, item)
        out.append(copy)
    return np.concatenate(out), np.tile(items, (int(training["copies"]) + 1, 1))


def training_inputs(items: np.ndarray, stimulus: "Stimulus", copies: int, max_hidden: float, mask: str,
                    rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """A trained model's training set: the scenario's corruption mixture when it declares one
    (:func:`corruption_copies`), else the model's own masked copies (:func:`training_copies`)."""
    if stimulus.training is not None:
        return corruption_copies(items, stimulus.training, stimulus.image_shape, rng)
    return training_copies(items, copies, max_hidden, mask, stimulus.image_shape, rng)


def training_label(stimulus: "Stimulus") -> str:
    """What a trained model was trained on: the scenario's corruption mixture, or its own parameters."""
    if stimulus.training is None:
        return "the model's own training parameters (masked copies)"
    import json

    return "scenario mixture " + json.dumps(stimulus.training, sort_keys=True)


def check_training_declared_once(params, scenario, fields: tuple[str, ...]) -> None:
    """ValueError when a scenario declares a ``training`` mixture and a model also sets its own training cues."""
    if getattr(scenario, "training", None) is None:
        return
    clash = [f for f in fields if f in params.model_fields_set]
    if clash:
        raise ValueError(f"{', '.join(clash)} set here and the scenario's 'training' section declares the "
                         "training corruptions; set them in one place")


def fit_count(fit_items: int | None, n_items: int, field: str = "fit_items") -> int:
    """How many of the stored items are trained on (all when ``fit_items`` is None); ``field`` names it in errors."""
    if fit_items is None:
        return n_items
    if fit_items > n_items:
        raise ValueError(f"{field}={fit_items} exceeds the {n_items} stored items")
    return fit_items


def pattern_names(spec) -> list[str]:
    """Names of the stored items of a pattern section: image names, or p0, p1, ..."""
    if spec.kind == "images":
        return spec.names[: spec.count] if spec.count else list(spec.names)
    if spec.kind == "sequences":
        if spec.items == "images":
            return list(spec.names)
        return [f"s{s}_{i}" for s in range(spec.count) for i in range(spec.length)]
    return [f"p{mu}" for mu in range(spec.count)]


def sequence_cues(spec, cue) -> list[tuple[int, int, int]]:
    """(pattern index, sequence, position) of each cued item of a sequence scenario, in cue order:
    every cued sequence (``cues.targets``: 'all' or sequence indices), each of its ``cues.position``."""
    positions = [0] if cue.position is None else ([cue.position] if isinstance(cue.position, int)
                                                  else list(cue.position))
    seqs = range(spec.count) if cue.targets == "all" else list(cue.targets)
    return [(s * spec.length + pos, s, pos) for s in seqs for pos in positions]


def pattern_index(ref: int | str, names: list[str]) -> int:
    """Index of an item given by index or name; ValueError with a suggestion otherwise."""
    if isinstance(ref, int):
        if not 0 <= ref < len(names):
            raise ValueError(f"pattern index {ref} is out of range; there are {len(names)} patterns")
        return ref
    if ref not in names:
        guess = difflib.get_close_matches(ref, names, n=1)
        hint = f"; did you mean '{guess[0]}'?" if guess else ""
        raise ValueError(f"no pattern named '{ref}'{hint}")
    return names.index(ref)


def build_stimulus(scenario) -> Stimulus:
    """Make the patterns and cues every model of ``scenario`` will see.

    ``scenario`` is a validated :class:`hipposim.scenario.Scenario`; its
    pattern section is read through its ``kind`` and fields only, so this
    module does not import the schema. Patterns and cues draw from their own
    streams of the scenario's one seed (:func:`hipposim.seeding.seed_streams`).
    """
    from .seeding import seed_streams

    streams = seed_streams(scenario.seed)
    prng = np.random.default_rng(streams["patterns"])
    spec = scenario.patterns
    names = pattern_names(spec)
    image_shape = None
    metadata: dict[str, Any] = {}
    if spec.kind == "random":
        patterns, coding = random_bipolar(spec.count, spec.size, prng), "bipolar"
    elif spec.kind == "sparse":
        patterns, coding = sparse_binary(spec.count, spec.size, spec.coding_level, prng), "binary"
    elif spec.kind == "correlated":
        patterns, family = correlated_bipolar(spec.count, spec.size, spec.parents, spec.similarity, prng)
        coding = "bipolar"
        metadata["family"] = family
    elif spec.kind == "sequences" and spec.items != "images":
        # the items of every sequence, in sequence-major order: pattern s * L + l is item l of sequence s
        if spec.items == "random":
            patterns, coding = random_bipolar(spec.n_items, spec.size, prng), "bipolar"
        else:
            patterns, coding = sparse_binary(spec.n_items, spec.size, spec.coding_level, prng), "binary"
    else:
        images = [load_image(n) for n in names]
        image_shape = images[0].shape
        patterns, coding = np.stack([im.ravel() for im in images]), "bipolar"
    cue = scenario.cues
    crng = np.random.default_rng(streams["cues"])
    if spec.kind == "sequences":
        picks = sequence_cues(spec, cue)
        target_ids = [t for t, _, _ in picks]
        length = spec.length
        metadata["sequences"] = [list(range(s * length, (s + 1) * length)) for s in range(spec.count)]
        metadata["cyclic"] = bool(spec.cyclic)
        metadata["cue_positions"], metadata["cue_sequences"] = [], []
    else:
        target_ids = (list(range(len(names))) if cue.targets == "all"
                      else [pattern_index(t, names) for t in cue.targets])
    cues, targets, known = [], [], []
    n = patterns.shape[1]
    regions = [cue.region] if cue.region is None or isinstance(cue.region, str) else list(cue.region)
    for t in target_ids:
        for _, region in ((r, g) for r in range(cue.repeats) for g in regions):
            if cue.kind == "masked":
                if region is not None:
                    hidden = region_mask(region, image_shape)
                else:
                    hidden = np.zeros(n, dtype=bool)
                    hidden[crng.choice(n, size=int(round(cue.fraction * n)), replace=False)] = True
                cues.append(masked_cue(patterns[t], hidden))
                known.append(~hidden)
            elif cue.kind == "noisy":
                cues.append(noisy_cue(patterns[t], cue.fraction, coding, crng))
                known.append(np.ones(n, dtype=bool))
            else:
                other = patterns[pattern_index(cue.other, names)]
                cues.append(mixture_cue(patterns[t], other, cue.weight, coding))
                known.append(np.ones(n, dtype=bool))
            targets.append(t)
            if spec.kind == "sequences":
                metadata["cue_sequences"].append(t // spec.length)
                metadata["cue_positions"].append(t % spec.length)
    training = getattr(scenario, "training", None)
    return Stimulus(patterns=patterns, names=tuple(names), coding=coding, cues=np.array(cues),
                            targets=np.array(targets), known=np.array(known), image_shape=image_shape,
                            metadata=metadata,
                            training=None if training is None else training.model_dump(mode="json"))
