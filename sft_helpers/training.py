"""The fine-tuning loop every chapter uses, readable top to bottom.

One optimizer step is::

    for each of grad_accum_steps batches:     # gradient accumulation
        loss = model(**batch).loss * share     # forward; the model's mean loss (-100 labels ignored),
                                               # times the batch's share of the group's labelled units
        loss.backward()                        # gradients add up in .grad: the group's mean loss
    clip_grad_norm_(params, max_grad_norm)     # gradient clipping
    optimizer.step(); scheduler.step()         # AdamW, then warmup + linear decay of the learning rate
    optimizer.zero_grad()

Around it: batches padded per batch by a transformers data collator (dynamic padding),
optionally grouped by length; evaluation every epoch or every N steps with a metrics
function; early stopping on a chosen metric; checkpoints (``sft_helpers.checkpoints``) that
let an interrupted run resume to the same weights, bit for bit on CPU.

It works for any model whose forward returns an object or dict with ``loss`` (and ``logits``
for metrics): transformers models are called as ``model(**batch)``, a plain ``nn.Module``
whose forward takes one argument as ``model(batch)``.

Under ``torchrun`` (see ``sft_helpers.distributed``) the same loop runs on every process:
``batch_size`` is then the *global* batch; each rank takes its slice of every batch and
weights its loss by its share of the labelled units (examples, or tokens whose label is not
-100) of the whole accumulation group, so the gradients DistributedDataParallel averages
equal one process's gradients on one batch holding the group, up to the order of float
additions. Rank 0 alone evaluates,
prints and writes checkpoints; the others receive its metrics.
"""

from __future__ import annotations

import contextlib
import functools
import math
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from transformers import default_data_collator, get_linear_schedule_with_warmup

from sft_helpers import checkpoints, distributed, runtime
from sft_helpers.batching import batch_order, example_lengths, model_input_names, prepare_examples

__all__ = ["TrainConfig", "TrainResult", "Predictions", "train", "evaluate", "predict", "make_optimizer"]

Collator = Callable[[list[dict[str, Any]]], dict[str, Any]]
MetricsFn = Callable[[np.ndarray, np.ndarray], dict[str, float]]


@dataclass
class TrainConfig:
    """Everything that defines a training run (a resumed run must use the same values)."""

    epochs: int = 3  # passes over the training set
    max_steps: int | None = None  # stop after this many optimizer steps instead (the schedule spans them)
    batch_size: int = 16  # examples per forward pass
    grad_accum_steps: int = 1  # forward passes per optimizer step: effective batch = batch_size * this
    lr: float = 5e-5  # peak learning rate, reached after warmup
    weight_decay: float = 0.01  # AdamW's decoupled weight decay (biases and LayerNorm weights get none)
    warmup_ratio: float = 0.1  # fraction of all optimizer steps spent raising the learning rate from 0
    max_grad_norm: float | None = 1.0  # clip the gradients' global L2 norm to this (None: no clipping)
    eval_every: int | None = None  # evaluate every N optimizer steps (None: at the end of every epoch)
    eval_batch_size: int = 64  # examples per forward pass when evaluating (no gradients: can be larger)
    early_stopping_metric: str = "loss"  # evaluation metric that picks the best model ("loss" always exists)
    early_stopping_mode: str = "auto"  # "max", "min", or "auto": min when the name contains "loss"
    patience: int | None = None  # stop after this many evaluations without improvement (None: never stop)
    group_by_length: bool = True  # similar lengths share a batch: less padding, faster (course default)
    seed: int = 0  # seeds dropout and the batch order: the same seed gives the same run
    output_dir: str | None = None  # checkpoint folder; None keeps the best weights in memory only
    load_best_at_end: bool = True  # finish with the best evaluated weights rather than the last ones
    fused_optimizer: bool = True  # AdamW's fused kernel (one kernel for all parameters) where torch has it
    bf16: bool | None = None  # bf16 autocast; None: where the hardware computes bf16 natively (see resolve_bf16)
    progress: bool = True  # show a tqdm progress bar
    verbose: bool = True  # print one line per evaluation

    def __post_init__(self) -> None:
        positive = {
            "epochs": self.epochs,
            "batch_size": self.batch_size,
            "grad_accum_steps": self.grad_accum_steps,
        }
        positive |= {"eval_batch_size": self.eval_batch_size}
        for name, value in positive.items():
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise ValueError(f"TrainConfig.{name} must be a positive int, got {value!r}.")
        for name in ("max_steps", "eval_every", "patience"):
            value = getattr(self, name)
            if value is not None and (not isinstance(value, int) or isinstance(value, bool) or value < 1):
                raise ValueError(f"TrainConfig.{name} must be None or a positive int, got {value!r}.")
        if not (isinstance(self.lr, int | float) and 0 < self.lr < 1):
            raise ValueError(f"TrainConfig.lr must be a float in (0, 1), e.g. 5e-5; got {self.lr!r}.")
        if not 0 <= self.warmup_ratio < 1:
            raise ValueError(f"TrainConfig.warmup_ratio must be in [0, 1), got {self.warmup_ratio!r}.")
        if self.weight_decay < 0:
            raise ValueError(f"TrainConfig.weight_decay must be >= 0, got {self.weight_decay!r}.")
        if self.max_grad_norm is not None and self.max_grad_norm <= 0:
            raise ValueError(f"TrainConfig.max_grad_norm must be None or > 0, got {self.max_grad_norm!r}.")
        if self.early_stopping_mode not in ("auto", "min", "max"):
            raise ValueError(
                f"TrainConfig.early_stopping_mode must be 'auto', 'min' or 'max', got {self.early_stopping_mode!r}."
            )
        if not isinstance(self.seed, int) or self.seed < 0:
            raise ValueError(f"TrainConfig.seed must be a non-negative int, got {self.seed!r}.")

    @property
    def higher_is_better(self) -> bool:
        """Whether a larger ``early_stopping_metric`` is better."""
        if self.early_stopping_mode == "auto":
            return "loss" not in self.early_stopping_metric
        return self.early_stopping_mode == "max"


@dataclass
class TrainResult:
    """What a run produced: its history, the best evaluation and where its weights are."""

    history: dict[str, list[dict[str, float]]]  # "train": one row per step; "eval": one row per evaluation
    best_metrics: dict[str, float] | None  # the evaluation that scored best on early_stopping_metric
    best_step: int | None  # the optimizer step of that evaluation
    best_checkpoint: Path | None  # its checkpoint folder (None without output_dir)
    steps: int  # optimizer steps taken in total
    stopped_early: bool  # True when patience ran out
    train_seconds: float  # wall time of the training loop in this call (evaluations included)
    examples_per_second: float  # training examples processed per second in this call
    config: TrainConfig = field(repr=False, default_factory=TrainConfig)

    def plot(self, metric: str | None = None) -> Any:
        """Learning curves: training loss per step, evaluation loss and ``metric`` per evaluation."""
        from sft_helpers.plotting.training import plot_history

        return plot_history(self.history, metric=metric or self.config.early_stopping_metric)


@dataclass
class Predictions:
    """Outputs of ``predict``, in the order of the data set."""

    logits: np.ndarray  # (n, num_labels), or (n, seq, num_labels) padded for token classification
    labels: np.ndarray | None  # (n,) or (n, seq) with -100 padding; None when the data had no labels
    loss: float | None  # mean loss when labels were present


# ----------------------------------------------------------------------------- small pieces
def make_optimizer(model: torch.nn.Module, config: TrainConfig) -> torch.optim.Optimizer:
    """AdamW with weight decay on weight matrices only; fused when torch has it for the device."""
    decay, no_decay = [], []
    for p in model.parameters():
        if p.requires_grad:
            (decay if p.ndim >= 2 else no_decay).append(p)  # biases and LayerNorm weights are 1-D
    if not decay and not no_decay:
        raise ValueError("The model has no trainable parameters (every requires_grad is False).")
    groups = [
        {"params": decay, "weight_decay": config.weight_decay},
        {"params": no_decay, "weight_decay": 0.0},
    ]
    if config.fused_optimizer:
        with contextlib.suppress(RuntimeError, ValueError):
            return torch.optim.AdamW(groups, lr=config.lr, fused=True)
    return torch.optim.AdamW(groups, lr=config.lr)


def _field(output: Any, name: str) -> Any:
    """``output.name`` or ``output[name]``, for ModelOutput objects, dicts and plain objects."""
    if isinstance(output, dict) or hasattr(output, "keys"):
        return output.get(name) if hasattr(output, "get") else output[name]
    return getattr(output, name, None)


def _to_device(batch: dict[str, Any], device: torch.device) -> dict[str, Any]:
    return {
        k: v.to(device, non_blocking=True) if isinstance(v, torch.Tensor) else v for k, v in batch.items()
    }


def _autocast(device: torch.device, bf16: bool | None) -> contextlib.AbstractContextManager:
    bf16 = runtime.resolve_bf16(device, bf16)
    if not bf16:
        return contextlib.nullcontext()
    return torch.autocast(device_type=device.type, dtype=torch.bfloat16)


def _forward(model: torch.nn.Module, batch: dict[str, Any], as_kwargs: bool) -> Any:
    return model(**batch) if as_kwargs else model(batch)


def _check_callable(value: Any, name: str) -> None:
    if value is not None and not callable(value):
        raise TypeError(f"{name} must be a function (or None), got {type(value).__name__}.")


def _pad_and_stack(arrays: Sequence[np.ndarray], pad_value: float) -> np.ndarray:
    """Concatenate along axis 0 arrays whose axis 1 (sequence length) may differ, padding it."""
    if arrays[0].ndim < 2 or len({a.shape[1] for a in arrays}) == 1:
        return np.concatenate(arrays)
    width = max(a.shape[1] for a in arrays)
    padded = []
    for a in arrays:
        pad = [(0, 0), (0, width - a.shape[1])] + [(0, 0)] * (a.ndim - 2)
        padded.append(np.pad(a, pad, constant_values=pad_value))
    return np.concatenate(padded)


# ----------------------------------------------------------------------------- inference
@torch.no_grad()
def _inference(
    model: torch.nn.Module,
    examples: list[dict[str, Any]],
    collator: Collator,
    batch_size: int,
    keep_logits: bool,
    bf16: bool | None = None,
) -> Predictions:
    """Run the model over ``examples`` (sorted by length for speed, results in the original order)."""
    device = next(model.parameters()).device
    _, as_kwargs = model_input_names(model)
    lengths = example_lengths(examples)
    order = sorted(range(len(examples)), key=lambda i: lengths[i])
    was_training = model.training
    model.eval()
    total_loss, loss_count = 0.0, 0
    logits_parts, label_parts = [], []
    try:
        for start in range(0, len(order), batch_size):
            batch = collator([dict(examples[i]) for i in order[start : start + batch_size]])
            batch = _to_device(batch, device)
            with _autocast(device, bf16):
                output = _forward(model, batch, as_kwargs)
            loss = _field(output, "loss")
            n = len(batch["input_ids"])
            if loss is not None:
                total_loss += float(loss) * n
                loss_count += n
            if keep_logits:
                logits = _field(output, "logits")
                if logits is None:
                    raise ValueError("The model's output has no 'logits'; metrics and predictions need them.")
                logits_parts.append(logits.float().cpu().numpy())
                if "labels" in batch:
                    label_parts.append(batch["labels"].cpu().numpy())
    finally:
        model.train(was_training)
    restore = np.argsort(order)  # position of each original example in the sorted order
    logits_all = _pad_and_stack(logits_parts, 0.0)[restore] if keep_logits else np.empty(0)
    labels_all = _pad_and_stack(label_parts, -100)[restore] if label_parts else None
    return Predictions(logits_all, labels_all, total_loss / loss_count if loss_count else None)


def evaluate(
    model: torch.nn.Module,
    dataset: Any,
    collator: Collator | None = None,
    compute_metrics: MetricsFn | None = None,
    batch_size: int = 64,
    bf16: bool | None = None,
) -> dict[str, float]:
    """Mean loss on ``dataset`` plus ``compute_metrics(logits, labels)`` when given."""
    _check_callable(compute_metrics, "compute_metrics")
    examples = prepare_examples(dataset, model, "dataset")
    return _evaluate_examples(
        model, examples, collator or default_data_collator, compute_metrics, batch_size, bf16
    )


def _evaluate_examples(
    model: torch.nn.Module,
    examples: list[dict[str, Any]],
    collator: Collator,
    compute_metrics: MetricsFn | None,
    batch_size: int,
    bf16: bool | None,
) -> dict[str, float]:
    out = _inference(
        model, examples, collator, batch_size, keep_logits=compute_metrics is not None, bf16=bf16
    )
    if out.loss is None:
        raise ValueError("The model returned no loss on the evaluation data: does each example have labels?")
    metrics = {"loss": out.loss}
    if compute_metrics is not None:
        metrics.update({k: float(v) for k, v in compute_metrics(out.logits, out.labels).items()})
    return metrics


def predict(
    model: torch.nn.Module,
    dataset: Any,
    collator: Collator | None = None,
    batch_size: int = 64,
    bf16: bool | None = None,
) -> Predictions:
    """Logits for every example of ``dataset`` (labels optional), in the data set's order."""
    examples = prepare_examples(dataset, model, "dataset", require_labels=False)
    return _inference(
        model, examples, collator or default_data_collator, batch_size, keep_logits=True, bf16=bf16
    )


# ----------------------------------------------------------------------------- training
@dataclass
class _Progress:
    """Where a run is; saved in every checkpoint and restored on resume."""

    step: int = 0  # optimizer steps done
    epoch: int = 0  # current epoch (0-based)
    batch_in_epoch: int = 0  # batches of the current epoch already used
    history: dict[str, list[dict[str, float]]] = field(default_factory=lambda: {"train": [], "eval": []})
    best_value: float | None = None
    best_step: int | None = None
    best_metrics: dict[str, float] | None = None
    bad_evals: int = 0  # evaluations since the last improvement
    stopped_early: bool = False


def _compatible(saved: dict[str, Any], config: TrainConfig) -> None:
    """A resumed run must be configured like the run it continues, or it would not end the same."""
    harmless = {"progress", "verbose", "output_dir", "eval_batch_size"}
    now = asdict(config)
    changed = sorted(k for k in now if k not in harmless and k in saved and saved[k] != now[k])
    if changed:
        details = ", ".join(f"{k}: {saved[k]!r} -> {now[k]!r}" for k in changed)
        raise ValueError(
            f"Cannot resume: the checkpoint was written with a different TrainConfig ({details}). Use the "
            "original settings, or a new output_dir to start afresh."
        )


def _shifts_labels(model: torch.nn.Module) -> bool:
    """Whether ``model``'s loss predicts token t+1 from tokens <= t (a causal LM drops each first label)."""
    from transformers import GenerationMixin

    base = model.get_base_model() if hasattr(model, "get_base_model") else model  # a peft wrapper
    config = getattr(base, "config", None)
    return isinstance(base, GenerationMixin) and not getattr(config, "is_encoder_decoder", False)


def _loss_units(example: dict[str, Any], shift: bool = False) -> int:
    """How many terms an example adds to the model's mean loss: 1, or its tokens labelled != -100.

    ``shift``: a causal LM's loss compares logits t with labels t+1, so the first label counts for nothing.
    """
    labels = example["labels"]
    if isinstance(labels, list | tuple):
        return sum(1 for label in labels[1 if shift else 0 :] if label != -100)
    return 1


def _rank_share(
    batch: list[int], units: Sequence[int], rank: int, world: int, total: int | None = None
) -> tuple[list[int], float]:
    """This rank's slice of a global batch and the weight of its mean loss.

    The weight is ``world * units_r / total``: rank r's share of the labelled units (``units[i]``
    of example i) of the whole accumulation group (``total``, by default the batch alone). Summed
    over the group's batches and averaged over the ranks (what DDP does with gradients), the
    weighted mean losses are the mean loss over every unit of the group, as one process computing
    one large batch would have it. A rank left without examples (batch smaller than the world)
    runs one example with weight 0, because every rank must take part in the gradient exchange.
    """
    mine = distributed.shard(batch, rank, world)
    if not mine:
        return batch[:1], 0.0
    total = sum(units[i] for i in batch) if total is None else total
    own = sum(units[i] for i in mine)
    return mine, (world * own / total if total else 0.0)


def _rank_seed(seed: int, rank: int, step: int) -> int:
    """Dropout seed of one rank for one optimizer step: a resumed distributed run replays it exactly."""
    return (seed * 1_000_003 + step) * 1_009 + rank


def _batches(
    examples: list[dict[str, Any]],
    units: Sequence[int],
    order: list[list[int]],
    start: int,
    collator: Collator,
    accum: int,
    rank: int = 0,
    world: int = 1,
) -> Iterator[tuple[int, dict[str, Any], float]]:
    """``(index, collated batch, loss weight)`` from batch ``start`` on; this rank's share under DDP.

    The weight is the batch's (this rank's slice's) share of the labelled units of its whole
    accumulation group of ``accum`` batches (the last group may be short), so accumulated
    gradients equal those of one batch holding the whole group.
    """
    for b in range(start, len(order)):
        first = b - b % accum
        total = sum(units[i] for group_batch in order[first : first + accum] for i in group_batch)
        indices, weight = _rank_share(order[b], units, rank, world, total)
        yield b, collator([dict(examples[i]) for i in indices]), weight


def _keeps_determinism_setting(fn: Callable[..., Any]) -> Callable[..., Any]:
    """Run ``fn`` and put torch's deterministic-algorithms switch back as it was before.

    ``train`` asks for deterministic kernels (reproducible runs); a caller's own setting, e.g.
    a notebook that later times a non-deterministic kernel, must not change because it trained.
    """

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        enabled = torch.are_deterministic_algorithms_enabled()
        warn_only = torch.is_deterministic_algorithms_warn_only_enabled()
        try:
            return fn(*args, **kwargs)
        finally:
            torch.use_deterministic_algorithms(enabled, warn_only=warn_only)

    return wrapper


@_keeps_determinism_setting
def train(
    model: torch.nn.Module,
    train_dataset: Any,
    eval_dataset: Any = None,
    config: TrainConfig | None = None,
    collator: Collator | None = None,
    compute_metrics: MetricsFn | None = None,
    resume: bool | str = False,
) -> TrainResult:
    """Fine-tune ``model`` on ``train_dataset`` and return its history and best evaluation.

    ``collator`` turns a list of examples into a padded batch (e.g.
    ``DataCollatorWithPadding(tokenizer)``); ``compute_metrics(logits, labels)`` adds metrics
    to the evaluation loss. ``resume=True`` continues from the latest checkpoint in
    ``config.output_dir`` (a path: from that checkpoint folder).
    """
    config = config or TrainConfig()
    if not isinstance(config, TrainConfig):
        raise TypeError(f"config must be a TrainConfig, got {type(config).__name__}.")
    if not isinstance(model, torch.nn.Module):
        raise TypeError(f"model must be a torch.nn.Module, got {type(model).__name__}.")
    _check_callable(collator, "collator")
    _check_callable(compute_metrics, "compute_metrics")
    if resume and config.output_dir is None and not isinstance(resume, str | Path):
        raise ValueError("resume=True needs config.output_dir (the folder the interrupted run wrote to).")
    collator = collator or default_data_collator

    # data: checked once, kept as plain lists of token ids
    train_examples = prepare_examples(train_dataset, model, "train_dataset")
    eval_examples = (
        prepare_examples(eval_dataset, model, "eval_dataset") if eval_dataset is not None else None
    )
    if config.patience is not None and eval_examples is None:
        raise ValueError("Early stopping (patience) needs an eval_dataset to watch.")
    lengths = example_lengths(train_examples)
    shift = _shifts_labels(model)
    units = [_loss_units(example, shift) for example in train_examples]  # weights of exact accumulation
    batches_per_epoch = math.ceil(len(train_examples) / config.batch_size)
    steps_per_epoch = math.ceil(batches_per_epoch / config.grad_accum_steps)
    total_steps = config.max_steps or steps_per_epoch * config.epochs
    epochs = math.ceil(total_steps / steps_per_epoch)

    # model, optimizer, schedule
    world, rank = distributed.world_size(), distributed.rank()
    main = rank == 0  # only rank 0 evaluates, prints and saves
    device = distributed.device()
    model.to(device)
    _, as_kwargs = model_input_names(model)
    optimizer = make_optimizer(model, config)
    scheduler = get_linear_schedule_with_warmup(
        optimizer, round(config.warmup_ratio * total_steps), total_steps
    )
    params = [p for p in model.parameters() if p.requires_grad]
    runtime.seed_everything(config.seed)
    progress = _Progress()
    best_in_memory: dict[str, torch.Tensor] | None = None

    if resume:
        progress = _resume(resume, config, model, optimizer, scheduler, verbose=config.verbose and main)
    engine = distributed.wrap(model)  # DistributedDataParallel under torchrun, else the model itself

    def run_evaluation() -> None:
        """Evaluate, update best/patience, print one line, save a checkpoint."""
        nonlocal best_in_memory
        metrics = None
        if main:
            metrics = _evaluate_examples(
                model, eval_examples, collator, compute_metrics, config.eval_batch_size, config.bf16
            )
        metrics = distributed.broadcast_object(metrics)  # every rank takes the same decisions
        if config.early_stopping_metric not in metrics:
            raise ValueError(
                f"early_stopping_metric={config.early_stopping_metric!r} is not among the evaluation metrics "
                f"{sorted(metrics)}; pick one of them or return it from compute_metrics."
            )
        row = {"step": progress.step, "epoch": progress.step / steps_per_epoch, **metrics}
        progress.history["eval"].append(row)
        value = metrics[config.early_stopping_metric]
        better = progress.best_value is None or (
            value > progress.best_value if config.higher_is_better else value < progress.best_value
        )
        if better:
            progress.best_value, progress.best_step, progress.best_metrics = value, progress.step, metrics
            progress.bad_evals = 0
            if config.output_dir is None:
                best_in_memory = {k: v.detach().cpu().clone() for k, v in model.state_dict().items()}
        else:
            progress.bad_evals += 1
            progress.stopped_early = config.patience is not None and progress.bad_evals >= config.patience
        if config.verbose and main:
            shown = " | ".join(f"{k} {v:.4f}" for k, v in metrics.items())
            mark = " (best)" if better else ""
            print(f"step {progress.step}/{total_steps} | epoch {row['epoch']:.2f} | eval {shown}{mark}")
        if config.output_dir is not None and main:
            _save(config, progress, model, optimizer, scheduler, best=better)

    bar = runtime.progress_bar(
        total=total_steps, initial=progress.step, disable=not (config.progress and main), desc="training"
    )
    engine.train()
    start_time, examples_seen = time.perf_counter(), 0
    try:
        while progress.step < total_steps and not progress.stopped_early:
            order = batch_order(
                lengths,
                config.batch_size,
                config.seed,
                progress.epoch,
                group_by_length=config.group_by_length,
                accumulate=config.grad_accum_steps,  # a step's batches hold one large batch's examples
            )
            step_loss: Any = 0.0
            accum = config.grad_accum_steps
            batches = _batches(
                train_examples, units, order, progress.batch_in_epoch, collator, accum, rank, world
            )
            for b, batch, weight in batches:
                group_start = b - b % accum
                last_of_group = b + 1 == min(group_start + accum, len(order))  # the last group may be short
                if world > 1 and b == group_start:
                    torch.manual_seed(_rank_seed(config.seed, rank, progress.step))  # per-rank dropout
                batch = _to_device(batch, device)
                # DDP exchanges gradients in backward(); skip that until the last batch of the group
                sync = contextlib.nullcontext() if world == 1 or last_of_group else engine.no_sync()
                with sync:
                    with _autocast(device, config.bf16):
                        loss = _field(_forward(engine, batch, as_kwargs), "loss")
                    if loss is None:
                        raise ValueError(
                            "The model returned no loss: the batch needs 'labels' (a model called without "
                            "labels only predicts; it cannot learn)."
                        )
                    # weight: this batch's share of the group's labelled units, so the sum is the group's mean
                    (loss * weight).backward()
                step_loss = step_loss + loss.detach().float() * weight  # stays on the device
                examples_seen += len(order[b])  # the global batch: every rank counts all ranks' examples
                if not last_of_group:
                    continue  # keep accumulating gradients
                if world > 1:
                    step_loss = distributed.all_reduce_mean(step_loss)  # the loss of the whole global batch
                if config.max_grad_norm is not None:
                    torch.nn.utils.clip_grad_norm_(params, config.max_grad_norm)
                optimizer.step()
                scheduler.step()
                optimizer.zero_grad(set_to_none=True)
                progress.step += 1
                progress.batch_in_epoch = b + 1
                row = {
                    "step": progress.step,
                    "epoch": progress.step / steps_per_epoch,
                    "loss": float(step_loss),
                }
                progress.history["train"].append(row | {"lr": scheduler.get_last_lr()[0]})
                bar.update(1)
                bar.set_postfix(loss=f"{row['loss']:.4f}", refresh=False)
                step_loss = 0.0
                end_of_epoch = progress.batch_in_epoch == len(order)
                if end_of_epoch:
                    progress.epoch, progress.batch_in_epoch = progress.epoch + 1, 0
                due = (
                    (config.eval_every is None and end_of_epoch)
                    or (config.eval_every is not None and progress.step % config.eval_every == 0)
                    or progress.step == total_steps
                )
                if due and eval_examples is not None:
                    run_evaluation()
                elif due and config.output_dir is not None and main:
                    _save(config, progress, model, optimizer, scheduler, best=False)
                if progress.step >= total_steps or progress.stopped_early or end_of_epoch:
                    break
            if progress.epoch >= epochs:
                break
    except KeyboardInterrupt:
        where = read_latest(config.output_dir) if config.output_dir and main else None
        hint = f"train(..., resume=True) continues from {where}" if where else "no checkpoint was written"
        if main:
            print(f"Interrupted at step {progress.step}/{total_steps}; {hint}.")
        raise
    finally:
        bar.close()
    seconds = time.perf_counter() - start_time
    model.eval()

    best_checkpoint = None
    if config.output_dir is not None:
        best_name = checkpoints.read_pointers(config.output_dir)["best"] if main else None
        best_name = distributed.broadcast_object(best_name)  # other machines may not see rank 0's disk
        best_checkpoint = Path(config.output_dir) / best_name if best_name else None
        if config.load_best_at_end and best_checkpoint is not None and progress.best_step != progress.step:
            if main:
                checkpoints.load_weights(model, best_checkpoint / checkpoints.WEIGHTS_FILE)
            _broadcast_weights(model)
    elif config.load_best_at_end and best_in_memory is not None and progress.best_step != progress.step:
        model.load_state_dict(best_in_memory)
    return TrainResult(
        history=progress.history,
        best_metrics=progress.best_metrics,
        best_step=progress.best_step,
        best_checkpoint=best_checkpoint,
        steps=progress.step,
        stopped_early=progress.stopped_early,
        train_seconds=seconds,
        examples_per_second=examples_seen / seconds if seconds > 0 else 0.0,
        config=config,
    )


# ----------------------------------------------------------------------------- checkpoints of a run
def read_latest(output_dir: str | Path) -> Path | None:
    """The latest complete checkpoint folder of a run, or None."""
    name = checkpoints.read_pointers(output_dir)["latest"]
    return Path(output_dir) / name if name else None


def _save(
    config: TrainConfig,
    progress: _Progress,
    model: torch.nn.Module,
    optimizer: torch.optim.Optimizer,
    scheduler: Any,
    best: bool,
) -> None:
    state = {
        "progress": asdict(progress),
        "scheduler": scheduler.state_dict(),
        "config": asdict(config),
    }
    name = f"step-{progress.step:07d}"
    checkpoints.save_checkpoint(config.output_dir, name, model, optimizer, state)
    pointers = checkpoints.read_pointers(config.output_dir)
    checkpoints.write_pointers(config.output_dir, latest=name, best=name if best else pointers["best"])
    checkpoints.prune_checkpoints(config.output_dir)


def _broadcast_weights(model: torch.nn.Module) -> None:
    """Copy rank 0's parameters and buffers to every rank (nothing to do in one process)."""
    if distributed.world_size() < 2:
        return
    with torch.no_grad():
        for tensor in model.state_dict().values():
            torch.distributed.broadcast(tensor, src=0)


def _resume(
    resume: bool | str | Path,
    config: TrainConfig,
    model: torch.nn.Module,
    optimizer: Any,
    scheduler: Any,
    verbose: bool = True,
) -> _Progress:
    folder = read_latest(config.output_dir) if resume is True else Path(resume)
    if folder is None:
        raise ValueError(
            f"resume=True but {config.output_dir} holds no checkpoint yet; start without resume (or check the path)."
        )
    _compatible(checkpoints.read_state(folder)["config"], config)  # before anything is loaded
    state = checkpoints.load_checkpoint(folder, model, optimizer)
    scheduler.load_state_dict(state["scheduler"])
    progress = _Progress(**state["progress"])
    if verbose:
        print(f"Resumed from {folder.name} (step {progress.step}).")
    return progress
