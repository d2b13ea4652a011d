"""The scenario schema: typed, versioned, frozen.

A scenario names the stored patterns, the cues, the models to run and,
optionally, a sweep. It is data: it is read with a safe loader (see
:mod:`hipposim.scenario.yamlio`), validated by pydantic, and frozen. Models
never read YAML; they receive their validated ``Params`` and the shared
:class:`~hipposim.stimuli.Stimulus`. This package knows nothing of sweeps'
execution or of how stimuli are built.
"""
from __future__ import annotations

import difflib
import re
from pathlib import PurePosixPath
from typing import Annotated, Any, Literal, Union

from pydantic import Field, PrivateAttr, field_validator, model_validator

from .. import stimuli
from ..stimuli import pattern_index, pattern_names
from ..contract import Beta, GainFactor, InhibitionFactor
from ..strict import Strict

SCHEMA_VERSION = 1

#: seeds are drawn into numpy's SeedSequence and stored as int64: 0 <= seed < 2**63
SEED_LIMIT = 2 ** 63
Seed = Annotated[int, Field(ge=0, lt=SEED_LIMIT, description="a seed, 0 <= seed < 2**63")]


# --------------------------------------------------------------------------- patterns

class RandomPatterns(Strict):
    """i.i.d. +-1 patterns."""

    kind: Literal["random"]
    count: int = Field(gt=0, description="number of stored patterns P")
    size: int = Field(gt=0, description="number of units N")


class SparsePatterns(Strict):
    """0/1 patterns with a fixed number of active units (coding level a)."""

    kind: Literal["sparse"]
    count: int = Field(gt=0, description="number of stored patterns P")
    size: int = Field(gt=0, description="number of units N")
    coding_level: float = Field(gt=0, lt=1, description="fraction a of active units")

    @model_validator(mode="after")
    def _some_active(self) -> "SparsePatterns":
        if round(self.coding_level * self.size) < 1:
            raise ValueError(f"coding_level {self.coding_level} leaves no active unit among "
                             f"{self.size}; expected coding_level >= {1 / self.size:.3g}")
        return self


class CorrelatedPatterns(Strict):
    """+-1 children of a few random parents; similarity = P(unit copied from the parent)."""

    kind: Literal["correlated"]
    count: int = Field(gt=0, description="number of stored patterns P")
    size: int = Field(gt=0, description="number of units N")
    parents: int = Field(2, gt=0, description="number of parent patterns (clusters)")
    similarity: float = Field(0.8, ge=0, le=1, description="expected child-parent overlap")

    @model_validator(mode="after")
    def _enough(self) -> "CorrelatedPatterns":
        if self.parents > self.count:
            raise ValueError(f"parents ({self.parents}) cannot exceed count ({self.count})")
        return self


def _known_images(names: list[str]) -> list[str]:
    """The names, if each is a distinct built-in image; ValueError with a suggestion otherwise."""
    available = stimuli.available_images()
    for n in names:
        if n not in available:
            guess = difflib.get_close_matches(n, available, n=1)
            hint = f"did you mean '{guess[0]}'? " if guess else ""
            raise ValueError(f"no built-in image '{n}'; {hint}available: {', '.join(available)}")
    if len(set(names)) != len(names):
        raise ValueError("image names must be distinct")
    return names


class ImagePatterns(Strict):
    """Built-in binary images (16x16, '#' = +1)."""

    kind: Literal["images"]
    names: list[str] = Field(min_length=1, description="built-in image names, see `hipposim images`")
    count: int | None = Field(None, gt=0, description="use only the first `count` names")

    @field_validator("names")
    @classmethod
    def _known(cls, names: list[str]) -> list[str]:
        return _known_images(names)

    @model_validator(mode="after")
    def _enough(self) -> "ImagePatterns":
        if self.count is not None and self.count > len(self.names):
            raise ValueError(f"count {self.count} asks for more patterns than the {len(self.names)} "
                             f"images listed in 'names' can supply")
        return self

    @property
    def size(self) -> int:
        return 256


class SequencePatterns(Strict):
    """``count`` sequences of ``length`` items each; the items are random +-1, sparse 0/1 or built-in images.

    The stored patterns are every item in sequence-major order (sequence 0's items, then sequence 1's, ...);
    with ``cyclic`` the last item of each sequence is followed by its first.
    """

    kind: Literal["sequences"]
    count: int = Field(gt=0, description="number of sequences S")
    length: int = Field(description="items per sequence L (at least 2)")
    items: Literal["random", "sparse", "images"] = Field(
        "random", description="random: i.i.d. +-1; sparse: 0/1 at coding_level; images: built-in images")
    size: int | None = Field(None, gt=0, description="units N of an item (random and sparse items)")
    coding_level: float | None = Field(None, gt=0, lt=1, description="sparse items: fraction a of active units")
    names: list[str] | None = Field(None, description="image items: count x length distinct built-in image "
                                                      "names, sequence-major")
    cyclic: bool = Field(False, description="the last item of each sequence is followed by its first")

    @field_validator("length")
    @classmethod
    def _long_enough(cls, value: int) -> int:
        if value < 2:
            raise ValueError(f"got {value!r}; a sequence needs at least 2 items (length >= 2)")
        return value

    @field_validator("names")
    @classmethod
    def _known(cls, names: list[str] | None) -> list[str] | None:
        if names is None:
            return None
        return _known_images(names)

    @model_validator(mode="after")
    def _items(self) -> "SequencePatterns":
        total = self.count * self.length
        if self.items == "images":
            if self.names is None:
                raise ValueError("items 'images' needs 'names', the count x length images in sequence-major order")
            if len(self.names) != total:
                raise ValueError(f"'names' lists {len(self.names)} images; {self.count} sequences of "
                                 f"{self.length} items need {total}")
            if self.size is not None or self.coding_level is not None:
                raise ValueError("image items are 16x16: 'size' and 'coding_level' do not apply")
            return self
        if self.names is not None:
            raise ValueError(f"'names' applies to image items only; these items are '{self.items}'")
        if self.size is None:
            raise ValueError(f"required field 'size' is missing (units N of a '{self.items}' item)")
        if self.items == "sparse":
            if self.coding_level is None:
                raise ValueError("sparse items need 'coding_level'")
            if round(self.coding_level * self.size) < 1:
                raise ValueError(f"coding_level {self.coding_level} leaves no active unit among {self.size}")
        elif self.coding_level is not None:
            raise ValueError("'coding_level' applies to sparse items only")
        return self

    @property
    def n_items(self) -> int:
        """Stored items P = count x length."""
        return self.count * self.length

    @property
    def n_units(self) -> int:
        return 256 if self.items == "images" else int(self.size)


PatternSpec = Annotated[Union[RandomPatterns, SparsePatterns, CorrelatedPatterns, ImagePatterns,
                              SequencePatterns],
                        Field(discriminator="kind")]


# --------------------------------------------------------------------------- cues

class CueSpec(Strict):
    """How recall cues are made from the stored patterns."""

    kind: Literal["masked", "noisy", "mixture"] = Field(
        "masked", description="masked: hide units; noisy: flip units; mixture: blend two patterns")
    targets: Literal["all"] | list[Union[int, str]] = Field(
        "all", description="patterns to cue: 'all', or a list of names or indices; for sequence patterns, "
                           "the sequences to cue ('all' or sequence indices)")
    position: int | list[int] | None = Field(
        None, description="sequence patterns only: the position of the cued item in each cued sequence "
                          "(0 = the first item, the default); a list gives one cue per position")
    fraction: float = Field(0.5, ge=0, le=1, description="masked/noisy: fraction of units hidden or flipped")
    region: Literal[stimuli.REGIONS] | list[Literal[stimuli.REGIONS]] | None = Field(  # type: ignore[valid-type]
        None, description="masked, images only: hide a region instead of random units; a list of regions "
                          "gives one cue per region and target")
    other: Union[int, str, None] = Field(None, description="mixture: the second pattern")
    weight: float = Field(0.7, ge=0, le=1, description="mixture: weight of the target")
    repeats: int = Field(1, gt=0, description="cues per target (different random masks/noise)")


# --------------------------------------------------------------------------- training corruptions

class RandomMaskCorruption(Strict):
    """Hide a fraction, drawn uniformly in [0, max_hidden), of random units."""

    kind: Literal["random_mask"]
    weight: float = Field(ge=0, le=1, description="probability that a training copy is made this way")
    max_hidden: float = Field(0.6, gt=0, lt=1, description="largest fraction of units hidden")


class RegionCorruption(Strict):
    """Hide one of the listed image regions (images only)."""

    kind: Literal["region"]
    weight: float = Field(ge=0, le=1, description="probability that a training copy is made this way")
    regions: list[Literal[stimuli.REGIONS]] = Field(min_length=1,  # type: ignore[valid-type]
                                                    description="image regions, one drawn per copy")


class FlipCorruption(Strict):
    """Flip the sign of a fraction, drawn uniformly in [0, max_fraction), of random units."""

    kind: Literal["flip"]
    weight: float = Field(ge=0, le=1, description="probability that a training copy is made this way")
    max_fraction: float = Field(0.3, gt=0, lt=0.5, description="largest fraction of units flipped")


Corruption = Annotated[Union[RandomMaskCorruption, RegionCorruption, FlipCorruption],
                       Field(discriminator="kind")]


class TrainingSpec(Strict):
    """The one corruption distribution every trained model draws its training cues from.

    The MLP and autoencoder baselines and the Transformer's feed-forward layer
    are each fitted on the stored items and ``copies`` corrupted copies of each,
    every copy drawn from ``mixture`` (see :func:`hipposim.stimuli.corruption_copies`).
    """

    copies: int = Field(16, ge=1, le=1000, description="corrupted training copies per item")
    mixture: list[Corruption] = Field(min_length=1, description="corruptions and their weights (sum 1)")

    @field_validator("mixture")
    @classmethod
    def _sums_to_one(cls, mixture: list) -> list:
        total = sum(c.weight for c in mixture)
        if abs(total - 1.0) > 1e-6:
            raise ValueError(f"the weights sum to {total:g}; expected weights that sum to 1")
        return mixture


# --------------------------------------------------------------------------- models

_LABEL = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}\Z")  # \Z: "$" would let a trailing newline pass


class ModelSpec(Strict):
    """One model of the scenario: a registry id, an optional label, and its parameters."""

    id: str = Field(description="registry id, e.g. 'hopfield-modern-v1' (see `hipposim models`)")
    label: str | None = Field(None, description="name used in plots and file names (default: the id)")
    params: dict[str, Any] = Field(default_factory=dict, description="model parameters")

    @field_validator("id")
    @classmethod
    def _registered(cls, value: str) -> str:
        from ..registry import registry

        return registry.resolve_id(value)

    @field_validator("label")
    @classmethod
    def _label(cls, value: str | None) -> str | None:
        if value is not None and not _LABEL.match(value):
            raise ValueError("expected a short name of letters, digits, '_', '-' or '.', "
                             "starting with a letter or digit")
        return value

    @property
    def name(self) -> str:
        return self.label or self.id


class AnalysisSpec(Strict):
    """How results are judged."""

    success_overlap: float = Field(0.9, gt=0, le=1, description="a recall succeeds when the final item-space "
                                                                 "overlap m = xi.s/N with the target reaches this")
    code_success_overlap: float = Field(0.8, gt=0, le=1, description="success level of code-correlation overlaps "
                                                                      "(spiking CA3: Pearson r of 10-ms binned "
                                                                      "rates with the item's code)")
    sequence_overlap: float = Field(0.5, gt=0, le=1, description="sequences: a step plays an item when that "
                                                                  "item has the largest overlap among the "
                                                                  "sequence's items and at least this one")


class OutputSpec(Strict):
    """What is written into the run folder (paths are relative to it)."""

    figures: str = Field("figures", description="sub-folder for figures")
    traces: str = Field("traces", description="sub-folder for per-model NetCDF traces")
    formats: list[Literal["png", "svg"]] = Field(["png"], min_length=1, description="figure formats")

    @field_validator("figures", "traces")
    @classmethod
    def _inside(cls, value: str) -> str:
        p = PurePosixPath(value.replace("\\", "/"))
        if p.is_absolute() or ".." in p.parts or value.strip() in ("", ".") or ":" in value:
            raise ValueError(f"'{value}' escapes the output folder; expected a relative sub-folder "
                             "name such as 'figures'")
        return value


class KnobSpec(Strict):
    """Knobs shared across model families, each set in this one place.

    A knob is applied to every model that declares it (``Model.knobs``); setting
    the same parameter again under a model's ``params`` is an error. The number
    of stored items is ``patterns.count`` (or the image list).
    """

    beta: Beta | None = None
    inhibition: InhibitionFactor | None = None
    gain: GainFactor | None = None


class SeedRange(Strict):
    start: Seed = Field(0, description="first seed")
    count: int = Field(gt=0, description="number of consecutive seeds")

    @model_validator(mode="after")
    def _in_range(self) -> "SeedRange":
        if self.start + self.count > SEED_LIMIT:
            raise ValueError(f"seeds start + count = {self.start + self.count} goes beyond the largest "
                             f"seed, 2**63 - 1")
        return self


class SweepSpec(Strict):
    """A sweep: each point is the scenario with some fields replaced.

    ``grid`` takes the cartesian product of its lists, ``zip`` steps its
    (equal-length) lists together, and ``seeds`` repeats every point per seed.
    Fields are addressed by dotted paths, e.g. ``patterns.count`` or
    ``models[0].params.beta``.
    """

    grid: dict[str, list[Any]] = Field(default_factory=dict)
    zip: dict[str, list[Any]] = Field(default_factory=dict)
    seeds: SeedRange | Annotated[list[Seed], Field(min_length=1)] = Field(
        default_factory=lambda: [0], description="seeds of every point: a non-empty list or {start, count}")
    kind: Literal["generic", "capacity", "phase", "sequence_capacity"] = Field(
        "generic", description="capacity: recall against load P/N with theory; phase: beta x load regime map; "
                               "sequence_capacity: sequences played to the end against total stored length "
                               "and N, with theory")

    @model_validator(mode="after")
    def _consistent(self) -> "SweepSpec":
        lengths = {len(v) for v in self.zip.values()}
        if len(lengths) > 1:
            raise ValueError("all lists under 'zip' must have the same length")
        for key, values in {**self.grid, **self.zip}.items():
            if not values:
                raise ValueError(f"sweep values for '{key}' are empty")
        if set(self.grid) & set(self.zip):
            raise ValueError("a field cannot be both in 'grid' and in 'zip'")
        return self

    def seed_list(self) -> list[int]:
        if isinstance(self.seeds, SeedRange):
            return list(range(self.seeds.start, self.seeds.start + self.seeds.count))
        return list(self.seeds)


def _check_ref(ref: int | str, patterns) -> None:
    """Check a pattern reference without listing the names of generated patterns (``p0 .. p{P-1}``),
    so that validating a scenario costs the same for 10 patterns as for 10**9."""
    if isinstance(patterns, (ImagePatterns, SequencePatterns)):
        if isinstance(patterns, SequencePatterns) and patterns.n_items > 1000 and isinstance(ref, int):
            if not 0 <= ref < patterns.n_items:
                raise ValueError(f"pattern index {ref} is out of range; there are {patterns.n_items} patterns")
            return
        pattern_index(ref, pattern_names(patterns))
        return
    count = patterns.count
    if isinstance(ref, int):
        if not 0 <= ref < count:
            raise ValueError(f"pattern index {ref} is out of range; there are {count} patterns")
        return
    m = re.fullmatch(r"p(0|[1-9][0-9]*)", ref)
    if m is None or int(m.group(1)) >= count:
        pattern_index(ref, pattern_names(patterns) if count <= 1000 else ["p0", f"p{count - 1}"])


class Scenario(Strict):
    """A hipposim scenario (schema version 1)."""

    version: Literal[1] = Field(1, description="schema version")
    name: str = Field(description="short name of the scenario")
    description: str = Field("", description="free text")
    seed: Seed = Field(0, description="the one seed that drives patterns, cues and models")
    patterns: PatternSpec
    cues: CueSpec = Field(default_factory=CueSpec)
    models: list[ModelSpec] = Field(min_length=1)
    knobs: KnobSpec = Field(default_factory=KnobSpec)
    analysis: AnalysisSpec = Field(default_factory=AnalysisSpec)
    output: OutputSpec = Field(default_factory=OutputSpec)
    sweep: SweepSpec | None = None
    training: TrainingSpec | None = Field(None, description="corruption mixture of every trained model's "
                                                            "training cues")

    # set by hipposim.scenario.loading: the document as written, its line map and file
    _document: dict | None = PrivateAttr(None)
    _lines: dict = PrivateAttr(default_factory=dict)
    _source: str | None = PrivateAttr(None)

    @property
    def document(self) -> dict:
        """The scenario as written (a deep copy), or its normalised dump when it was built in code."""
        import copy

        if self._document is not None:
            return copy.deepcopy(self._document)
        return self.model_dump(mode="json", exclude_none=True)

    @property
    def lines(self) -> dict:
        """Field path -> line number in the source file (empty when built in code)."""
        return dict(self._lines)

    @property
    def source(self) -> str | None:
        """The file the scenario was read from, if any."""
        return self._source

    @field_validator("name")
    @classmethod
    def _name(cls, value: str) -> str:
        if not _LABEL.match(value):
            raise ValueError("expected a short name of letters, digits, '_', '-' or '.'")
        return value

    @model_validator(mode="after")
    def _cross_checks(self) -> "Scenario":
        labels = [m.name for m in self.models]
        dupes = sorted({x for x in labels if labels.count(x) > 1})
        if dupes:
            raise ValueError(f"model labels must be unique; give each of {dupes} its own 'label'")
        cue = self.cues
        sequences = isinstance(self.patterns, SequencePatterns)
        if sequences:
            positions = [0] if cue.position is None else (
                [cue.position] if isinstance(cue.position, int) else list(cue.position))
            if not positions:
                raise ValueError("cues.position is an empty list; give at least one position")
            for pos in positions:
                if not 0 <= pos < self.patterns.length:
                    raise ValueError(f"cues.position {pos} is beyond the sequence length {self.patterns.length}; "
                                     f"positions run from 0 to {self.patterns.length - 1}")
            if cue.targets != "all":
                for t in cue.targets:
                    if not isinstance(t, int) or not 0 <= t < self.patterns.count:
                        raise ValueError(f"cues.targets names sequences for sequence patterns: got {t!r}; "
                                         f"expected a sequence index from 0 to {self.patterns.count - 1}")
        elif cue.position is not None:
            raise ValueError("cues.position applies to sequence patterns (patterns.kind: sequences) only")
        if cue.targets != "all" and not sequences:
            for t in cue.targets:
                _check_ref(t, self.patterns)
        if cue.kind == "mixture":
            if cue.other is None:
                raise ValueError("cues.kind 'mixture' needs cues.other, the second pattern")
            _check_ref(cue.other, self.patterns)
        images = isinstance(self.patterns, ImagePatterns) or (sequences and self.patterns.items == "images")
        if cue.region is not None and not images:
            raise ValueError("cues.region applies to image patterns only; use cues.fraction")
        if self.sweep is not None and self.sweep.kind == "sequence_capacity" and not sequences:
            raise ValueError("sweep.kind 'sequence_capacity' needs sequence patterns (patterns.kind: sequences)")
        if self.training is not None and not images:
            if any(c.kind == "region" for c in self.training.mixture):
                raise ValueError("training.mixture: a 'region' corruption applies to image patterns only")
        return self

    def with_seed(self, seed: int, origin: str = "--seed") -> "Scenario":
        """The same scenario with another seed (the document as written follows).

        The seed is validated like the scenario's own ``seed`` field; a bad one is a
        :class:`~hipposim.errors.ScenarioError` naming ``origin``.
        """
        from pydantic import TypeAdapter, ValidationError

        from ..errors import Problem, ScenarioError

        try:
            seed = TypeAdapter(Annotated[Seed, Field(strict=True)]).validate_python(seed)
        except ValidationError as exc:
            err = exc.errors(include_url=False)[0]
            raise ScenarioError(Problem(f"got {seed!r}; {err['msg'][0].lower()}{err['msg'][1:]}", "seed"),
                                origin) from None
        new = self.model_copy(update={"seed": seed})
        if self._document is not None:
            new._document = {**self._document, "seed": seed}
        return new


