"""Two-phase training of the PConv U-Net (or the Conv baseline), resumable and distributed.

The paper's schedule: an **initial** phase with Adam at lr 2e-4 and BatchNorm on everywhere, then a
**finetune** phase at lr 5e-5 that starts from an initial-phase checkpoint with the encoder's BatchNorm
frozen (so the hole statistics of the encoder no longer move). Both are counted in optimizer steps.

A run folder ``RUN`` holds::

    RUN/config.json        the TrainConfig, world size, versions (rewritten at every start)
    RUN/checkpoint.pt      the latest checkpoint (see pconv.pconv_model.checkpoint), replaced atomically
    RUN/log.jsonl          every loss term, lr, images/s, bad photos skipped so far (all processes)
    RUN/val.jsonl          ℓ1 and PSNR of the composite on a fixed validation subset
    RUN/loss_balance.json  each weighted loss term's share of the total on the first batch (new runs)
    RUN/samples/step_XXXXXXXX.png   columns, named in a header: input (holes white), output, composite,
                                    ground truth; a row per validation image

Exact resume: every random choice of the data (which photo, which crop, which mask) is a function of
``(seed, step)`` (see pconv.datasets.pairing), the model starts from ``torch.manual_seed(seed)``, and the
checkpoint keeps the model, Adam, the grad scaler and the global RNG states. On the CPU a resumed run
therefore logs the very losses the uninterrupted run logs (same batch size and world size). SIGINT and
SIGTERM finish the current step, write a checkpoint and return; a second SIGINT aborts at once.

Distributed: under ``torchrun`` each process trains on its own share of every step (``batch_size`` is per
process, so the effective batch is ``batch_size × WORLD_SIZE``) with DistributedDataParallel; rank 0
alone writes logs, samples and checkpoints.
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import json
import math
import os
import shutil
import signal
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import torch
import torchvision
from torch import Tensor, nn
from torch.nn.parallel import DistributedDataParallel
from torch.utils.data import DataLoader

from pconv import datasets
from pconv.core import __version__, distributed
from pconv.core.compiling import COMPILE_CHOICES, compile_network, resolve_compile
from pconv.core.distributed import DistEnv
from pconv.core.drawing import column_header
from pconv.core.files import append_jsonl, atomic_write_bytes, atomic_write_text, read_jsonl, refuse_overlap
from pconv.core.masks import composite, encode_image_png, white_holes
from pconv.core.metrics import PSNR_CAP, l1_percent, psnr
from pconv.core.output_folder import OutputFolder
from pconv.core.progress import progress_bar, progress_message, restart_rate
from pconv.core.workers import die_with_parent
from pconv.datasets import celeba_hq
from pconv.datasets.pairing import StepBatchSampler, TrainingPairs
from pconv.maskgen.sets.augment import AugmentConfig
from pconv.maskgen.sets.training import TrainingMasks

from .checkpoint import (
    ARCHS,
    build_model,
    load_checkpoint,
    model_from_checkpoint,
    restore_rng,
    save_checkpoint,
)
from .choices import AMP_MODES, PHASE_LR
from .losses import (
    InpaintingLoss,
    LossWeights,
    dominant_term_note,
    dominant_term_warning,
    format_shares,
    term_shares,
)
from .vgg import load_vgg16_features

__all__ = [
    "AMP_MODES",
    "CHECKPOINT_NAME",
    "PHASE_LR",
    "TrainConfig",
    "TrainResult",
    "forward_loss",
    "overlap_warning",
    "resolve_amp",
    "score_composite",
    "train",
    "train_step",
    "training_augment",
]

CHECKPOINT_NAME = "checkpoint.pt"
LOG_NAME = "log.jsonl"
VAL_LOG_NAME = "val.jsonl"
CONFIG_NAME = "config.json"
BALANCE_NAME = "loss_balance.json"
SAMPLES_DIR = "samples"

RESUME_MUST_MATCH = (
    "dataset",
    "split",
    "arch",
    "phase",
    "lr",
    "batch_size",
    "seed",
    "image_size",
    "layers",
    "width",
    "val_split",
    "val_count",
)
"""Fields a resumed run must share with its checkpoint; the others (paths, intervals, iterations,
device, workers) may change."""


@dataclass(frozen=True)
class TrainConfig:
    """Everything a training run depends on; fields match ``pconv train``'s options one to one.

    ``lr=None`` takes the phase's rate (:data:`PHASE_LR`). ``split=None`` trains on the dataset's training
    split (``datasets.TRAIN_SPLITS``); ``val_split=None`` validates on its test split
    (``datasets.TEST_SPLITS``; for a plain folder both are the whole folder). ``amp`` applies
    on CUDA only: bf16 autocast, or fp16 with a gradient scaler; CPU training is float32, and ``train``
    replaces "auto" (and any mode on the CPU) by the one that runs (:func:`resolve_amp`). ``compile``
    (auto, on, off; see ``pconv.core.compiling``) compiles each step's forward pass and loss, and with
    them their backward pass.
    """

    dataset: str
    data: Path
    masks: Path
    out: Path
    iterations: int
    arch: str = "pconv"
    phase: str = "initial"
    init: Path | None = None
    split: str | None = None
    val_split: str | None = None
    val_count: int = 8
    lr: float | None = None
    batch_size: int = 6
    checkpoint_every: int = 1000
    sample_every: int = 1000
    validate_every: int = 1000
    log_every: int = 10
    vgg_weights: Path | None = None
    seed: int = 0
    image_size: int = 512
    layers: int = 8
    width: float = 1.0
    device: str = "auto"
    amp: str = "auto"
    workers: int = 2
    strict_images: bool = False
    compile: str = "auto"

    def __post_init__(self) -> None:
        if self.dataset not in datasets.DATASETS:
            raise ValueError(
                f"unknown dataset {self.dataset!r}; choose one of {', '.join(datasets.DATASETS)}"
            )
        if self.arch not in ARCHS:
            raise ValueError(f"unknown architecture {self.arch!r}; choose one of {', '.join(ARCHS)}")
        if self.phase not in PHASE_LR:
            raise ValueError(f"unknown phase {self.phase!r}; choose initial or finetune")
        if self.phase == "initial" and self.init is not None:
            raise ValueError("--init is for the finetune phase; the initial phase starts from scratch")
        if self.amp not in AMP_MODES:
            raise ValueError(f"amp must be one of {', '.join(AMP_MODES)}, got {self.amp!r}")
        if self.compile not in COMPILE_CHOICES:
            raise ValueError(f"compile must be one of {', '.join(COMPILE_CHOICES)}, got {self.compile!r}")
        for name in (
            "iterations",
            "batch_size",
            "checkpoint_every",
            "sample_every",
            "validate_every",
            "log_every",
            "image_size",
            "layers",
            "val_count",
        ):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be at least 1, got {getattr(self, name)}")
        if self.workers < 0:
            raise ValueError(f"workers must be >= 0, got {self.workers}")
        if self.image_size % 2**self.layers:
            raise ValueError(
                f"image size {self.image_size} is not a multiple of 2**layers = {2**self.layers}"
            )
        if self.lr is not None and not self.lr > 0:
            raise ValueError(f"lr must be positive, got {self.lr}")

    @property
    def learning_rate(self) -> float:
        return self.lr if self.lr is not None else PHASE_LR[self.phase]

    def to_json(self) -> dict[str, Any]:
        """The fields as JSON values (paths as strings)."""
        return {key: str(value) if isinstance(value, Path) else value for key, value in asdict(self).items()}


@dataclass(frozen=True)
class TrainResult:
    """How a call to :func:`train` ended: the last step, whether a signal stopped it, the last losses."""

    step: int
    interrupted: bool
    checkpoint: Path
    losses: dict[str, float] = field(default_factory=dict)
    signal: int | None = None
    """The signal that stopped this process (None: none, or another rank's stopped the run)."""


class _StopRequest:
    """Turns SIGINT / SIGTERM into a flag checked between steps (main thread only; a 2nd SIGINT aborts)."""

    def __init__(self) -> None:
        self.signal: int | None = None
        self._previous: dict[int, Any] = {}

    def _handle(self, signum: int, frame: Any) -> None:
        if self.signal == signal.SIGINT and signum == signal.SIGINT:
            raise KeyboardInterrupt
        self.signal = signum

    def __enter__(self) -> _StopRequest:
        if threading.current_thread() is threading.main_thread():
            for signum in (signal.SIGINT, signal.SIGTERM):
                self._previous[signum] = signal.signal(signum, self._handle)
        return self

    def __exit__(self, *exc: object) -> None:
        for signum, handler in self._previous.items():
            signal.signal(signum, handler)


def score_composite(output: Tensor, target: Tensor, mask: Tensor) -> dict[str, float]:
    """ℓ1 (mean absolute error, [0, 1] units) and PSNR (dB, peak 1, capped at ``PSNR_CAP``) of the
    composite, each the mean over images: the evaluator's per-image metrics, so the numbers compare.

    Shape: output, target (B, 3, H, W) in [0, 1]; mask (B, 1, H, W) {0, 1}, 1 = valid.
    """
    filled = composite(output.clamp(0, 1), target, mask)
    return {
        "l1": (l1_percent(filled, target) / 100).mean().item(),
        "psnr": psnr(filled, target).clamp_max(PSNR_CAP).mean().item(),
    }


SAMPLE_COLUMNS = ("input", "output", "composite", "ground truth")


def _sample_grid(output: Tensor, target: Tensor, mask: Tensor) -> bytes:
    """PNG bytes of a grid under a header naming its columns: one row per image, columns input (holes
    white), output, composite, ground truth."""
    output = output.clamp(0, 1)
    tiles = [white_holes(target, mask), output, composite(output, target, mask), target]
    padding = 2
    grid = torchvision.utils.make_grid(
        torch.stack(tiles, dim=1).flatten(0, 1).float().cpu(), nrow=4, padding=padding, pad_value=1.0
    )
    header = column_header(SAMPLE_COLUMNS, column=target.shape[-1] + padding, offset=padding)
    header = torch.from_numpy(header[:, : grid.shape[2]]).permute(2, 0, 1).float() / 255
    return encode_image_png(torch.cat([header, grid], dim=1))


def _validation_batch(config: TrainConfig) -> tuple[Tensor, Tensor]:
    """A fixed subset: ``val_count`` photos spread evenly over the validation split (centre crops; bad
    files passed over) and the first masks of the pool's *test* split, augmented with the run's seed."""
    split = config.val_split or datasets.TEST_SPLITS[config.dataset]
    files = datasets.image_files(config.dataset, config.data, split=split)
    stride = max(1, len(files) // config.val_count)
    images: list[Tensor] = []
    for path in files[::stride] + files:
        if len(images) == config.val_count:
            break
        with contextlib.suppress(datasets.BadImageError, FileNotFoundError):
            images.append(datasets.load_image(path, size=config.image_size, crop="center"))
    if not images:
        raise ValueError(f"{config.data}: no readable image in the {split} split for validation")
    masks = TrainingMasks(
        config.masks,
        size=config.image_size,
        seed=config.seed,
        part="test",
        augment=training_augment(config.image_size),
    )
    return torch.stack(images), torch.stack([masks[i % len(masks)] for i in range(len(images))])


def overlap_warning(config: TrainConfig) -> str | None:
    """One line when the validation photos are training photos too, or None.

    A plain ``folder:`` dataset has one split, ``all``, that both default to (and ``all`` holds the
    ``train`` / ``val`` / ``test`` sub-folders); ``val.jsonl`` then says how well the model fits its own
    photos, not how it does on unseen ones.
    """
    train_split = config.split or datasets.TRAIN_SPLITS[config.dataset]
    val_split = config.val_split or datasets.TEST_SPLITS[config.dataset]
    if train_split != val_split and not (config.dataset == "folder" and "all" in (train_split, val_split)):
        return None
    return (
        f"validation photos are training photos too (split {val_split!r} within {train_split!r} of "
        f"{config.data}): val.jsonl measures fitting, not generalization; put photos in DIR/train and "
        "DIR/val and pass --split train --val-split val to keep them apart"
    )


def training_augment(image_size: int) -> AugmentConfig:
    """The default hole dilation (radii 4-24 px: NVIDIA's 9-49 px square kernels), given for 512-px masks,
    scaled to ``image_size``: holes then cover the same share of the image at any training size (256 px:
    radii 2-12 px; 512 px: unchanged)."""
    low, high = AugmentConfig().dilation
    scale = image_size / 512
    return AugmentConfig(dilation=(max(1, round(low * scale)), max(1, round(high * scale))))


def _check_resumable(saved: dict[str, Any], config: TrainConfig, path: Path) -> None:
    wanted = config.to_json()
    for name in RESUME_MUST_MATCH:
        if saved.get(name) != wanted[name]:
            raise ValueError(
                f"{path}: cannot resume with {name}={wanted[name]!r}; the run was started with "
                f"{name}={saved.get(name)!r}"
            )


def _initial_model(config: TrainConfig, document: dict[str, Any] | None) -> tuple[nn.Module, dict[str, int]]:
    """The model a run starts from, and the steps of the phases that trained it before this run's phase
    (``{"initial": N}`` for a finetune run; kept in its checkpoints for ``pconv model info``)."""
    torch.manual_seed(config.seed)
    if document is not None:
        return model_from_checkpoint(document, config.out / CHECKPOINT_NAME), dict(document.get("phases", {}))
    if config.init is None:  # the initial phase: _train refuses a new finetune run without --init
        return build_model(config.arch, layers=config.layers, width=config.width), {}
    start = load_checkpoint(config.init, arch=config.arch)
    if start["phase"] != "initial":
        raise ValueError(
            f"{config.init}: a {start['phase']}-phase checkpoint; --init needs one from the "
            "initial phase (to continue fine-tuning, use --resume)"
        )
    for name in ("layers", "width"):
        if start["config"][name] != getattr(config, name):
            raise ValueError(
                f"{config.init}: trained with {name}={start['config'][name]}, not {getattr(config, name)}"
            )
    return model_from_checkpoint(start, config.init), {**start.get("phases", {}), "initial": start["step"]}


def resolve_amp(amp: str, device: torch.device) -> str:
    """The precision that runs for the asked ``amp`` (one of AMP_MODES): "off" (float32) on the CPU,
    where autocast would only slow training down; on CUDA "auto" and "bf16" are bf16 where the GPU
    supports it and fp16 (with a gradient scaler) where it does not."""
    if device.type != "cuda" or amp == "off":
        return "off"
    if amp in ("auto", "bf16"):
        return "bf16" if torch.cuda.is_bf16_supported() else "fp16"
    return amp


def _precision(config: TrainConfig) -> tuple[torch.dtype | None, bool]:
    """(autocast dtype or None, use a grad scaler) of the config's resolved amp."""
    return {"off": (None, False), "bf16": (torch.bfloat16, False), "fp16": (torch.float16, True)}[config.amp]


def _run_folder(config: TrainConfig) -> OutputFolder:
    """The run folder ``config.out``: ``config.json`` says what runs in it (rewritten by every run; the
    checkpoint decides what a run may continue: see :func:`_resume_point`)."""
    return OutputFolder(
        config.out,
        identity_name=CONFIG_NAME,
        files=(CHECKPOINT_NAME, LOG_NAME, VAL_LOG_NAME, SAMPLES_DIR, celeba_hq.SPLIT_NAME),
    )


def _write_run_files(config: TrainConfig, env: DistEnv, start: int, *, compiled: bool) -> None:
    info = {
        "config": config.to_json(),
        "compiled": compiled,
        "world_size": env.world_size,
        "start_step": start,
        "version": __version__,
        "torch": torch.__version__,
    }
    _run_folder(config).write_identity(info)
    if config.dataset == "celeba-hq":
        stored = Path(config.data) / celeba_hq.SPLIT_NAME
        if stored.is_file():
            shutil.copyfile(stored, config.out / celeba_hq.SPLIT_NAME)
        else:
            celeba_hq.write_split(config.data, config.out / celeba_hq.SPLIT_NAME)
    for name in (LOG_NAME, VAL_LOG_NAME):  # drop lines an interrupted run wrote after its checkpoint
        path = config.out / name
        if path.is_file():
            kept = [record for record in read_jsonl(path) if record.get("step", 0) <= start]
            atomic_write_text(path, "".join(json.dumps(r, sort_keys=True) + "\n" for r in kept))


def train(
    config: TrainConfig, *, resume: bool = False, vgg: nn.Module | None = None, progress: bool = True
) -> TrainResult:
    """Train (or, with ``resume``, continue) the run in ``config.out`` up to ``config.iterations`` steps.

    ``vgg`` replaces the VGG16 feature extractor loaded from ``config.vgg_weights`` (tests pass a small
    one). Under torchrun this joins the process group and leaves it before returning.
    """
    # checkpoints and samples/*.png inside the photo folder would be read back as photos
    refuse_overlap(config.out, {"--data": config.data, "--masks": config.masks, "--init": config.init})
    env = distributed.dist_env()
    device = distributed.pick_device(config.device, env)
    config = dataclasses.replace(config, amp=resolve_amp(config.amp, device))  # what runs is recorded
    compiled = resolve_compile(config.compile, device)  # before anything is written: it may refuse
    distributed.setup(env, device)
    try:
        with _run_folder(config).locked() if env.is_main else contextlib.nullcontext():  # rank 0 writes it
            return _train(
                config,
                env,
                device,
                resume=resume,
                vgg=vgg,
                progress=progress and env.is_main,
                compiled=compiled,
            )
    finally:
        distributed.teardown()


def _leave_signals_to_the_trainer(worker_id: int, owner: int) -> None:
    """DataLoader workers ignore SIGINT / SIGTERM (Ctrl-C reaches the whole process group): the trainer
    finishes its step and checkpoints, then shuts the workers down itself. They die with the trainer
    (``owner``) if it is killed outright."""
    die_with_parent(owner)
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)


def _worker_error(error: Exception) -> Exception:
    """A DataLoader worker's error re-raised in the trainer reads "Caught X in DataLoader worker process N.
    Original Traceback ..."; keep its own last line (which names the bad file) as the message."""
    lines = [line for line in str(error).splitlines() if line.strip()]
    if not lines or not lines[0].startswith("Caught ") or len(lines) < 2:
        return error
    name, sep, message = lines[-1].partition(": ")  # "pconv.datasets.images.BadImageError: photo.png: ..."
    return type(error)(message if sep and name.split(".")[-1] == type(error).__name__ else lines[-1])


@contextlib.contextmanager
def _batches(loader: DataLoader, device: torch.device) -> Iterator[Iterator[tuple[Tensor, Tensor, int]]]:
    """The loader's batches on ``device`` as (image, mask, photos skipped), its workers always shut down.

    The workers ignore SIGTERM (see _leave_signals_to_the_trainer), so they are stopped here, through the
    iterator, whatever ends the loop: the interpreter's exit would otherwise wait on them for ever.
    """
    iterator = iter(loader)

    def batches() -> Iterator[tuple[Tensor, Tensor, int]]:
        while True:
            try:
                batch = next(iterator)
            except StopIteration:
                return
            except (ValueError, OSError) as error:
                raise _worker_error(error) from None
            yield (
                batch["image"].to(device, non_blocking=True),
                batch["mask"].to(device, non_blocking=True),
                int(batch["skipped"].sum()),
            )

    try:
        yield batches()
    finally:
        shutdown = getattr(iterator, "_shutdown_workers", None)  # absent with workers=0
        if shutdown is not None:
            shutdown()


def _autocast(device: torch.device, amp_dtype: torch.dtype | None) -> torch.autocast:
    """Autocast to ``amp_dtype`` on ``device``, or a context that changes nothing when it is None."""
    return torch.autocast(device.type, dtype=amp_dtype or torch.float32, enabled=amp_dtype is not None)


def forward_loss(
    net: nn.Module, loss_fn: InpaintingLoss, *, amp_dtype: torch.dtype | None, compile: bool = False
) -> Callable[[Tensor, Tensor], dict[str, Tensor]]:
    """``(image, mask) -> loss terms``: the net's forward and the loss, under autocast when ``amp_dtype`` is
    set. With ``compile``, one ``torch.compile`` of both, whose backward pass is compiled with it."""

    def terms(image: Tensor, mask: Tensor) -> dict[str, Tensor]:
        with _autocast(image.device, amp_dtype):
            return loss_fn(net(image, mask), image, mask)

    return compile_network(terms) if compile else terms


def train_step(
    net: nn.Module,
    loss_fn: InpaintingLoss,
    optimizer: torch.optim.Optimizer,
    scaler: torch.amp.GradScaler,
    image: Tensor,
    mask: Tensor,
    *,
    amp_dtype: torch.dtype | None,
    forward: Callable[[Tensor, Tensor], dict[str, Tensor]] | None = None,
) -> dict[str, Tensor]:
    """One Adam step on a batch: forward (under autocast when ``amp_dtype`` is set), loss, backward.

    ``forward``: the :func:`forward_loss` to use (a compiled one); by default an eager one of ``net`` and
    ``loss_fn``.

    Shape: image (B, 3, H, W) in [0, 1] (the ground truth; the net sees it through the mask), mask
    (B, 1, H, W) {0, 1}, 1 = valid. Returns the loss terms (float32 scalars, ``total`` included).
    """
    terms = (forward or forward_loss(net, loss_fn, amp_dtype=amp_dtype))(image, mask)
    optimizer.zero_grad(set_to_none=True)
    scaler.scale(terms["total"]).backward()
    scaler.step(optimizer)
    scaler.update()
    return terms


def _report_loss_balance(
    config: TrainConfig, terms: dict[str, Tensor], weights: LossWeights, *, progress: bool
) -> None:
    """Write each weighted term's share of the total on the first batch (this rank's) to
    ``RUN/loss_balance.json``; with ``progress`` print the first loss and its shares in one line, and a
    line saying why when one term dwarfs the others as it normally does at the start; warn in one line,
    always, when it dwarfs them beyond that (a VGG16 file in other units; see
    losses.dominant_term_warning). A non-finite loss is left to the logging check, which stops the run."""
    values = {name: value.item() for name, value in terms.items()}
    if not 0 < values["total"] < math.inf:
        return
    shares = term_shares(values, weights)
    warning = dominant_term_warning(shares)
    document = {"step": 1, "shares": shares, "warning": warning}
    atomic_write_text(config.out / BALANCE_NAME, json.dumps(document, indent=1, sort_keys=True) + "\n")
    if progress:
        progress_message(f"step 1: loss {values['total']:.6g} = {format_shares(shares)}")
        note = dominant_term_note(shares)
        if note is not None and warning is None:
            progress_message(f"note: {note}")
    if warning is not None:
        progress_message(f"warning: on the first batch, {warning}")


def _due(step: int, every: int, config: TrainConfig) -> bool:
    """Whether a duty repeated ``every`` steps falls on ``step``; every duty also falls on the last step."""
    return step % every == 0 or step == config.iterations


def _validate(
    model: nn.Module,
    validation: tuple[Tensor, Tensor],
    config: TrainConfig,
    step: int,
    device: torch.device,
    amp_dtype: torch.dtype | None,
) -> None:
    """Score the validation subset and/or write its sample grid, as due at ``step`` (rank 0 only)."""
    model.eval()
    with torch.no_grad(), _autocast(device, amp_dtype):
        image, mask = validation[0].to(device), validation[1].to(device)
        output = model(image, mask).float()
    model.train()
    if _due(step, config.validate_every, config):
        append_jsonl(config.out / VAL_LOG_NAME, {"step": step, **score_composite(output, image, mask)})
    if _due(step, config.sample_every, config):
        atomic_write_bytes(
            config.out / SAMPLES_DIR / f"step_{step:08d}.png", _sample_grid(output[:4], image[:4], mask[:4])
        )


@dataclass(frozen=True)
class _Setup:
    """What every step of a run uses, built once by :func:`_setup`; ``skipped`` counts bad photos before
    ``start`` (carried on rank 0 only, so that the sum over ranks stays right)."""

    model: nn.Module
    net: nn.Module
    loss_fn: InpaintingLoss
    optimizer: torch.optim.Optimizer
    scaler: torch.amp.GradScaler
    use_scaler: bool
    amp_dtype: torch.dtype | None
    forward: Callable[[Tensor, Tensor], dict[str, Tensor]]
    compiled: bool
    loader: DataLoader
    validation: tuple[Tensor, Tensor] | None
    start: int
    skipped: int
    phases: dict[str, int]


def _resume_point(config: TrainConfig, resume: bool) -> tuple[dict[str, Any] | None, int]:
    """The checkpoint document to continue from (None for a new run) and its step; refuses to overwrite."""
    checkpoint = config.out / CHECKPOINT_NAME
    if config.phase == "finetune" and config.init is None and not resume:
        raise ValueError("the finetune phase starts from an initial-phase checkpoint: give --init CK")
    if resume:
        document = load_checkpoint(checkpoint, arch=config.arch)
        _check_resumable(document["config"], config, checkpoint)
        return document, int(document["step"])
    if checkpoint.exists():
        raise ValueError(
            f"{config.out} already holds a run ({CHECKPOINT_NAME}); pass --resume to "
            "continue it or choose another --out"
        )
    return None, 0


def _training_pairs(config: TrainConfig) -> TrainingPairs:
    """The seeded photo-mask pairs of the training split and the pool's train part."""
    images = datasets.image_files(
        config.dataset, config.data, split=config.split or datasets.TRAIN_SPLITS[config.dataset]
    )
    masks = TrainingMasks(
        config.masks,
        size=config.image_size,
        seed=config.seed,
        part="train",
        augment=training_augment(config.image_size),
    )
    return TrainingPairs(images, masks, size=config.image_size, seed=config.seed, strict=config.strict_images)


def _loader(
    config: TrainConfig, env: DistEnv, device: torch.device, pairs: TrainingPairs, photos: int, start: int
) -> DataLoader:
    """Batches of this rank's share of every step from ``start`` on (see pconv.datasets.pairing)."""
    sampler = StepBatchSampler(
        photos,
        batch_size=config.batch_size,
        seed=config.seed,
        rank=env.rank,
        world_size=env.world_size,
        start_step=start,
        stop_step=config.iterations,
    )
    return DataLoader(
        pairs,
        batch_sampler=sampler,
        num_workers=config.workers,
        pin_memory=device.type == "cuda",
        worker_init_fn=functools.partial(_leave_signals_to_the_trainer, owner=os.getpid()),
    )


def _setup(
    config: TrainConfig,
    env: DistEnv,
    device: torch.device,
    *,
    resume: bool,
    vgg: nn.Module | None,
    compiled: bool,
) -> _Setup:
    """Build the run in the order that keeps resumes exact: the model is seeded, then RNG states restored."""
    document, start = _resume_point(config, resume)
    loss_fn = InpaintingLoss(vgg if vgg is not None else load_vgg16_features(config.vgg_weights)).to(device)
    pairs = _training_pairs(config)
    validation = _validation_batch(config) if env.is_main else None
    model, phases = _initial_model(config, document)
    if config.phase == "finetune":
        model.freeze_encoder_bn()
    model.to(device)
    optimizer = torch.optim.Adam([p for p in model.parameters() if p.requires_grad], lr=config.learning_rate)
    amp_dtype, use_scaler = _precision(config)
    scaler = torch.amp.GradScaler("cuda", enabled=use_scaler)
    if document is not None:
        optimizer.load_state_dict(document["optimizer"])
        if use_scaler and document["scaler"]:
            scaler.load_state_dict(document["scaler"])
        restore_rng(document["rng"])
    device_ids = [device.index] if device.type == "cuda" else None
    net = DistributedDataParallel(model, device_ids=device_ids) if env.distributed else model
    forward = forward_loss(net, loss_fn, amp_dtype=amp_dtype, compile=compiled)
    if env.is_main:
        _write_run_files(config, env, start, compiled=compiled)
        warning = overlap_warning(config)
        if warning is not None:
            progress_message(f"warning: {warning}")
    loader = _loader(config, env, device, pairs, len(pairs.images), start)
    carried = int(document.get("counters", {}).get("skipped", 0)) if document and env.is_main else 0
    return _Setup(
        model,
        net,
        loss_fn,
        optimizer,
        scaler,
        use_scaler,
        amp_dtype,
        forward,
        compiled,
        loader,
        validation,
        start,
        carried,
        phases,
    )


class _Throughput:
    """Images per second over all ranks since the previous log line."""

    def __init__(self, step: int, images_per_step: int) -> None:
        self.time, self.step, self.images_per_step = time.perf_counter(), step, images_per_step

    def since_last(self, step: int) -> float:
        now = time.perf_counter()
        speed = (step - self.step) * self.images_per_step / (now - self.time)
        self.time, self.step = now, step
        return speed


def _log(
    config: TrainConfig,
    env: DistEnv,
    device: torch.device,
    step: int,
    terms: dict[str, Tensor],
    skipped: int,
    speed: float,
) -> dict[str, float]:
    """Average the loss terms over ranks, append them to the log (rank 0) and stop on a non-finite loss."""
    losses = distributed.mean_over_ranks(
        {**{k: v.item() for k, v in terms.items()}, "skipped": float(skipped)}, device
    )
    total_skipped = round(losses.pop("skipped") * env.world_size)
    if env.is_main:
        record = {"step": step, "lr": config.learning_rate, **losses, "images_per_s": speed}
        append_jsonl(config.out / LOG_NAME, {**record, "skipped": total_skipped})
    if not math.isfinite(losses["total"]):
        raise ValueError(
            f"the loss became {losses['total']} at step {step}; lower --lr or use --amp off / bf16"
        )
    return losses


def _save(
    config: TrainConfig, env: DistEnv, device: torch.device, run: _Setup, step: int, skipped: int
) -> None:
    """Write the checkpoint on rank 0 with the photos skipped over all ranks; every rank waits for it."""
    total = round(
        distributed.mean_over_ranks({"skipped": float(skipped)}, device)["skipped"] * env.world_size
    )
    if env.is_main:
        save_checkpoint(
            config.out / CHECKPOINT_NAME,
            model=run.model,
            optimizer=run.optimizer,
            scaler_state=run.scaler.state_dict() if run.use_scaler else {},
            step=step,
            config=config.to_json(),
            counters={"skipped": total},
            phases=run.phases,
        )
    distributed.barrier()


def _report_losses(
    config: TrainConfig,
    env: DistEnv,
    device: torch.device,
    bar: Any,
    throughput: _Throughput,
    step: int,
    terms: dict[str, Tensor],
    skipped: int,
) -> dict[str, float]:
    """Log the losses averaged over ranks with the speed since the last log, and show them on the bar."""
    speed = throughput.since_last(step)
    losses = _log(config, env, device, step, terms, skipped, speed)
    bar.set_postfix(
        total=f"{losses['total']:.4f}", hole=f"{losses['hole']:.4f}", img_s=f"{speed:.1f}", refresh=False
    )
    return losses


def _train(
    config: TrainConfig,
    env: DistEnv,
    device: torch.device,
    *,
    resume: bool,
    vgg: nn.Module | None,
    progress: bool,
    compiled: bool,
) -> TrainResult:
    """Step until ``config.iterations`` or a signal, with the periodic duties after each step."""
    run = _setup(config, env, device, resume=resume, vgg=vgg, compiled=compiled)
    run.model.train()
    step, losses, skipped, interrupted = run.start, {}, run.skipped, False
    bar = progress_bar(
        total=config.iterations, desc=f"train {config.arch} {config.phase}", enabled=progress, unit="step"
    )
    bar.update(step)
    throughput = _Throughput(step, config.batch_size * env.world_size)
    with _StopRequest() as stop, bar, _batches(run.loader, device) as batches:
        for image, mask, bad in batches:
            terms = train_step(
                run.net,
                run.loss_fn,
                run.optimizer,
                run.scaler,
                image,
                mask,
                amp_dtype=run.amp_dtype,
                forward=run.forward,
            )
            step, skipped = step + 1, skipped + bad
            bar.update(1)
            if step == 1 and env.is_main:
                _report_loss_balance(config, terms, run.loss_fn.weights, progress=progress)
            if step == 1 or _due(step, config.log_every, config):  # the first loss at once
                losses = _report_losses(config, env, device, bar, throughput, step, terms, skipped)
            if run.validation is not None and (
                _due(step, config.validate_every, config) or _due(step, config.sample_every, config)
            ):
                _validate(run.model, run.validation, config, step, device, run.amp_dtype)
            interrupted = distributed.all_ranks_any(stop.signal is not None, device)
            if interrupted or _due(step, config.checkpoint_every, config):
                _save(config, env, device, run, step, skipped)
            if interrupted:
                break
            if run.compiled and step == run.start + 1:  # that step compiled: rate and ETA start now
                throughput = _Throughput(step, config.batch_size * env.world_size)
                restart_rate(bar)
    return TrainResult(
        step=step,
        interrupted=interrupted,
        checkpoint=config.out / CHECKPOINT_NAME,
        losses=losses,
        signal=stop.signal if interrupted else None,
    )
