"""The project file's sections as typed, frozen dataclasses: what each key means, and its
default. Loading and checking are in load.py and checks.py."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from activelearn.config.pretrain import PretrainConfig
from activelearn.config.quality import CleaningConfig, QualityConfig
from activelearn.config.semi_supervised import SemiSupervisedConfig
from activelearn.config.serve import ServeConfig
from activelearn.config.services import JobsConfig, LabelStudioConfig
from activelearn.config.stop_when import StopWhenConfig
from activelearn.config.strategy import StrategyConfig

# A torchvision weights name: ResNet18_Weights.IMAGENET1K_V1, IMAGENET1K_V1, DEFAULT.
_WEIGHTS_NAME = re.compile(r"(?:[A-Za-z0-9]+_Weights\.)?[A-Z0-9_]+")
HUB_INPUT_SIZE = (224, 224)  # file images' default size for torchvision weights

FASHION_MNIST_CLASSES = [
    "T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
    "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot",
]


@dataclass(frozen=True)
class ProjectConfig:
    """The project (`project:`).

    Attributes:
        name {letters A-Z a-z, digits, ".", "_", "-"; starts with a letter or digit; at
            most 100 characters}: a short identifier; it names files and model versions
        work_dir: where state, checkpoints and results go (default: runs/NAME); relative
            paths are relative to the directory `activelearn` runs in
        seed [0, 2**32 - 1]: seeds the splits, the initial batch, training and selection
    """

    name: str
    work_dir: str = ""
    seed: int = 0


@dataclass(frozen=True)
class DataConfig:
    """Where images come from (`data:`).

    Attributes:
        source {fashion-mnist, cifar10, imagefolder, manifest}: fashion-mnist and cifar10
            are torchvision datasets held in memory (Fashion-MNIST falls back to the
            Debian package dataset-fashion-mnist); imagefolder and manifest are files,
            catalogued and decoded when used
        root: dataset root (torchvision sources); for imagefolder a folder as a path,
            file://, http(s):// (a server that lists its folders, like python -m
            http.server) or s3://bucket/prefix (pip install activelearn[s3]); for manifest
            a .csv/.jsonl file whose `path` column holds paths or URIs of those kinds
        image_size [1, 4096] each: the older name of model.input_size (use that);
            torchvision sources know their own size
        channels {1, 3}: 1 (grayscale) or 3 (RGB); torchvision sources know their own
        resize: no effect any more: file images of any size are scaled to cover
            model.input_size and centre-cropped
        cache: none, or memmap: keep the file sources' images decoded at model.input_size
            in a memory-mapped file under WORK_DIR/cache (built once by `activelearn
            ingest`, extended for new items, an item redone when its file changes); rounds
            then read it instead of decoding the files
        download: let torchvision download the dataset when it is missing (needs internet)
        limit [0, inf): use only the first N pool items (stratified); not set: every item
        test_limit [0, inf): the same for the test part
    """

    source: str
    root: str = "data"
    image_size: tuple[int, int] | None = None
    channels: int | None = None
    resize: bool = False
    cache: Literal["none", "memmap"] = "none"
    download: bool = False
    limit: int | None = None
    test_limit: int | None = None


POOL_WEIGHTS = "pool"  # model.weights: the project's own pretrained weights


@dataclass(frozen=True)
class ModelConfig:
    """The network (`model:`): a built-in CNN, or a torchvision architecture with
    pretrained weights.

    Attributes:
        name {lenet, small_cnn, resnet18, resnet34, resnet50, mobilenet_v3_large,
            efficientnet_b0, convnext_tiny, vit_b_16}: lenet (the seed article's CNN),
            small_cnn (three 3x3 conv + batch-norm stages) and resnet18 are built in; the
            others are torchvision's architectures, meant for pretrained weights
        dropout [0, 1): dropout on the classifier head (used by BALD)
        input_size [8, 4096] each: [height, width] the model sees; file images of any
            size are scaled to cover it and centre-cropped (not set: the weights' size
            when they name one, else [64, 64] for file sources; torchvision sources use
            their own size, and a value here must equal it)
        weights: pretrained weights for the backbone: a torchvision weights name (e.g.
            ResNet18_Weights.IMAGENET1K_V1 or DEFAULT; the file is read from the torch hub
            cache, never downloaded) or a weights file (a state dict, or a checkpoint saved
            by activelearn); pool = this project's own, made by self-supervised pretraining
            on the pool's train items (`activelearn pretrain`, or the first cycle; see
            pretrain:); empty = random initialisation. With torchvision weights,
            resnet18 is torchvision's own (7x7 stem), else the built-in small-image variant
        weights_sha256 {64 hex digits, with model.weights set}: the weights file's expected
            sha256; checked when set
        train: scratch (the whole network from random weights), head (the backbone frozen:
            its embeddings are computed once per item and cached under WORK_DIR/cache, and
            each round trains only a head on them) or finetune (the whole network, starting
            from the weights; meant for GPU workers). head and finetune need model.weights
        head_hidden [0, 65536]: units of a hidden layer in the head (head mode; 0 = a
            linear head)
        embed_precision: the backbone's arithmetic when it embeds the pool (autocast).
            bfloat16 embedded with resnet18 at 224 px 2.3-2.8x as fast on this project's
            2-core CPUs (75-92 vs 33 images/s), embeddings within about 1%; float16 is for
            CUDA. Another precision is another embedding cache
    """

    name: str = "small_cnn"
    dropout: float = 0.25
    input_size: tuple[int, int] | None = None
    weights: str = ""
    weights_sha256: str = ""
    train: Literal["scratch", "head", "finetune"] = "scratch"
    head_hidden: int = 0
    embed_precision: Literal["float32", "bfloat16", "float16"] = "float32"

    @property
    def hub_weights(self) -> bool:
        """True when weights is a torchvision weights name (read from the torch hub
        cache), False for a file or no weights."""
        return bool(_WEIGHTS_NAME.fullmatch(self.weights))

    @property
    def pool_weights(self) -> bool:
        """True when weights is "pool": the project's own pretrained weights, not yet
        resolved to their file (Project.resolve_weights)."""
        return self.weights == POOL_WEIGHTS


@dataclass(frozen=True)
class TrainingConfig:
    """The training recipe (seed article 3.7): cross-entropy, SGD with momentum
    (`training:`).

    Attributes:
        epochs [1, 10000]: passes over the labeled set, raised so that each round takes
            at least min_steps optimiser steps
        min_steps [0, 10**7]: the fewest optimiser steps a round takes (small labeled sets
            need more passes)
        batch_size [1, 65536]: images per mini-batch
        lr (0, 10]: the learning rate
        momentum [0, 1): SGD momentum
        weight_decay [0, inf): L2 penalty
        l1 [0, inf): L1 penalty on the weights (0 = off)
        schedule: the learning-rate schedule
        hflip: randomly mirror training images left-right (right for clothes and objects,
            wrong for digits or text)
        crop_pad [0, 64]: pad training images by this many background pixels on each side
            and crop them back at a random place, i.e. shift them by up to crop_pad pixels
            (0 = off)
        converge [0, 1]: train to convergence (0 = off: a fixed budget of
            epochs/min_steps): keep the full learning rate until an epoch's training
            accuracy (on the augmented batches) reaches converge, e.g. 0.95, and 2/3 of
            the epochs/min_steps budget has run, then anneal (the schedule) over half as
            many steps again: the budget when converged early, up to max_steps when not
        max_steps [1, 10**7]: the cap on a converging training's steps, when above the
            budget
        class_balanced: draw each epoch's mini-batches with every class equally likely
            (sampling with replacement, weights 1 / the class's count), for skewed label
            sets
        random_crop (0, 1] each {min ≤ max}: [min, max] share of the image's area a
            random resized crop keeps (aspect ratio 3/4 to 4/3), e.g. [0.35, 1.0] for
            photos; not set = off (torchvision's RandomResizedCrop, done per image on the
            batch)
        device {auto, cpu, cuda, cuda:N, mps}: auto = CUDA when present (whether the device
            exists is found out when a job starts, not at load)
        threads [0, 1024]: torch CPU threads (0 = torch's default)
    """

    epochs: int = 12
    min_steps: int = 300
    batch_size: int = 64
    lr: float = 0.05
    momentum: float = 0.9
    weight_decay: float = 5e-4
    l1: float = 0.0
    schedule: Literal["cosine", "step", "constant"] = "cosine"
    hflip: bool = False
    crop_pad: int = 0
    converge: float = 0.0
    max_steps: int = 20_000
    class_balanced: bool = False
    random_crop: tuple[float, float] | None = None
    device: str = "auto"
    threads: int = 0
    semi_supervised: SemiSupervisedConfig = field(default_factory=SemiSupervisedConfig)


@dataclass(frozen=True)
class LoopConfig:
    """How labels accumulate round by round (`loop:`); initial, batch and
    budget count train labels (the holdout is not counted).

    Attributes:
        initial [1, 10**8]: random labels to start with
        initial_strategy: how the initial batch is picked: random, or kmeans and typiclust,
            which pick representative items from the backbone's embeddings (needs
            model.weights); the holdout is always random
        batch [1, 10**8]: labels added per round; auto (cycle only) sizes each batch from
            the measured throughput (annotations per active hour, from the pulled
            annotations; per item with overlap): enough for min_new_labels to start the
            next training plus the throughput times the last training round's duration,
            minus the tasks still waiting, so annotators never run dry; at most
            max_queue_hours of work queued; loop.initial before any throughput is
            measured. `simulate` needs a number (its --batch), having no annotators
        budget [1, 10**8] {at least loop.initial}: stop once this many labels are in the
            training set
        batch_growth [1, 100]: 1 = fixed batches of `batch`. Above 1 the label counts grow
            geometrically: initial, initial*g, initial*g^2, ... (500, 1000, 2000, 4000 with
            g = 2), the last round landing exactly on budget; each round's batch is the
            next count minus the current one and `batch` is not used. Only `activelearn
            simulate` follows it; `cycle` always selects `batch` items per round
        schedule: simulate: the label count of every round, increasing from initial to
            budget, e.g. [100, 250, 500, 1000, 2000, 4000] (empty = batch and batch_growth
            decide); like batch_growth, `cycle` does not follow it
        min_new_labels [1, inf): cycle: train a new model once this many new or changed
            labels arrived (the first model: once this many, or once the initial batch is
            all labelled)
        min_queued [0, inf): cycle: when not training, top the queue up with a batch from
            the latest model if fewer tasks than this wait unlabelled in Label Studio (0 =
            never)
        target_accuracy [0, 1]: the holdout accuracy the forecast counts labels to
            (`status`, the report; 0 = the next whole percent above the fitted curve)
        max_queue_hours (0, 10000]: with batch auto, the most work the queue may hold, in
            hours at the measured throughput
    """

    initial: int = 500
    initial_strategy: Literal["random", "kmeans", "typiclust"] = "random"
    batch: int | Literal["auto"] = 500
    budget: int = 4000
    batch_growth: float = 1.0
    schedule: list[int] = field(default_factory=list)
    min_new_labels: int = 100
    min_queued: int = 100
    target_accuracy: float = 0.0
    max_queue_hours: float = 8.0
    stop_when: StopWhenConfig = field(default_factory=StopWhenConfig)


@dataclass(frozen=True)
class SplitsConfig:
    """How the evaluation data is split off (`splits:`). The splits are drawn
    once, recorded in state and fixed for the experiment.

    Attributes:
        source_test: use the dataset's own test part as evaluation data when it has one
        test_fraction [0, 1): otherwise hold out this stratified fraction of the labeled
            items
        validation_fraction [0, 1): part of the evaluation data used for validation, the
            rest is the test split
    """

    source_test: bool = True
    test_fraction: float = 0.2
    validation_fraction: float = 0.2


@dataclass(frozen=True)
class Config:
    """A project file: the class names at the top level, and one section per topic.

    Attributes:
        classes {2 or more distinct names, each one line of printable text with no space at
            either end, at most 200 characters}: the class names, in the order of the
            model's outputs; annotators see them, labels and CSV files hold them
    """

    project: ProjectConfig
    data: DataConfig
    classes: list[str]
    model: ModelConfig = field(default_factory=ModelConfig)
    training: TrainingConfig = field(default_factory=TrainingConfig)
    pretrain: PretrainConfig = field(default_factory=PretrainConfig)
    strategy: StrategyConfig = field(default_factory=StrategyConfig)
    loop: LoopConfig = field(default_factory=LoopConfig)
    splits: SplitsConfig = field(default_factory=SplitsConfig)
    label_studio: LabelStudioConfig = field(default_factory=LabelStudioConfig)
    jobs: JobsConfig = field(default_factory=JobsConfig)
    quality: QualityConfig = field(default_factory=QualityConfig)
    cleaning: CleaningConfig = field(default_factory=CleaningConfig)
    serve: ServeConfig = field(default_factory=ServeConfig)
    path: str = ""  # the file it came from (not a YAML key)

    @property
    def work_dir(self) -> Path:
        if self.project.work_dir:
            return Path(self.project.work_dir)
        return Path("runs") / self.project.name
