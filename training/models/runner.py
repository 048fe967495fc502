"""The training loop shared by train_landmarks and train_detector: distribution strategy by
flag, mixed precision on GPUs, a custom tf.function step, resumable checkpoints
(tf.train.CheckpointManager) and TensorBoard scalars.
"""

from __future__ import annotations

import argparse
import json
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

import keras
import tensorflow as tf

from training.config import TrainConfig, to_dict

STRATEGIES = ("auto", "default", "mirrored", "multiworker", "tpu")


def make_strategy(name: str = "auto", tpu: str = "") -> tf.distribute.Strategy:
    """``auto``: MirroredStrategy on 2+ GPUs, else the default (one device). ``multiworker``
    reads the cluster from TF_CONFIG; ``tpu`` resolves ``tpu`` (name/address, "" = local)."""
    if name == "auto":
        name = "mirrored" if len(tf.config.list_physical_devices("GPU")) > 1 else "default"
    if name == "default":
        return tf.distribute.get_strategy()
    if name == "mirrored":
        return tf.distribute.MirroredStrategy()
    if name == "multiworker":
        return tf.distribute.MultiWorkerMirroredStrategy()
    if name == "tpu":
        resolver = tf.distribute.cluster_resolver.TPUClusterResolver(tpu=tpu)
        tf.config.experimental_connect_to_cluster(resolver)
        tf.tpu.experimental.initialize_tpu_system(resolver)
        return tf.distribute.TPUStrategy(resolver)
    raise ValueError(f"unknown strategy {name!r}; one of {STRATEGIES}")


def setup_precision(mode: str = "auto") -> str:
    """``auto``: mixed_float16 when a GPU is present (mixed_bfloat16 on TPU is the user's
    choice via ``mode``), else float32. Returns the policy name."""
    if mode == "auto":
        mode = "mixed_float16" if tf.config.list_physical_devices("GPU") else "float32"
    keras.mixed_precision.set_global_policy(mode)
    return mode


def make_optimizer(cfg: TrainConfig, policy: str, lr_multiplier: float = 1.0):
    """AdamW with the run's warm-up + cosine schedule, its rates times ``lr_multiplier``."""
    peak = cfg.learning_rate * lr_multiplier
    schedule = keras.optimizers.schedules.CosineDecay(
        initial_learning_rate=peak * 0.01, decay_steps=max(1, cfg.steps - cfg.warmup),
        alpha=cfg.lr_min_frac, warmup_target=peak, warmup_steps=cfg.warmup)
    opt = keras.optimizers.AdamW(learning_rate=schedule, weight_decay=cfg.weight_decay, global_clipnorm=10.0)
    if policy == "mixed_float16":
        opt = keras.optimizers.LossScaleOptimizer(opt)
    return opt


def write_scalar(tag: str, value: float, step: int) -> None:
    """A TensorBoard scalar; works without the tensorboard package (tf.summary.scalar needs it)
    by writing the scalars plugin's summary directly."""
    from tensorflow.core.framework import summary_pb2

    meta = summary_pb2.SummaryMetadata(plugin_data=summary_pb2.SummaryMetadata.PluginData(plugin_name="scalars"))
    tf.summary.write(tag, tf.constant(value, tf.float32), step=step, metadata=meta)


def is_chief(strategy: tf.distribute.Strategy) -> bool:
    """True unless this is a non-chief worker of MultiWorkerMirroredStrategy (the chief, or
    worker 0 when the cluster has no chief, writes checkpoints and logs)."""
    resolver = getattr(strategy, "cluster_resolver", None)
    if resolver is None or not getattr(resolver, "task_type", None):
        return True
    if resolver.task_type == "chief":
        return True
    has_chief = "chief" in resolver.cluster_spec().as_dict()
    return resolver.task_type == "worker" and resolver.task_id == 0 and not has_chief


@dataclass
class RunResult:
    step: int
    last_losses: dict
    first_losses: dict
    seconds: float


def train(
    build_model: Callable[[], keras.Model],
    loss_fn: Callable[[dict | list, dict], dict],
    make_dataset: Callable[[tf.distribute.InputContext | None], tf.data.Dataset],
    cfg: TrainConfig,
    run_dir: str | Path,
    strategy: tf.distribute.Strategy | None = None,
    policy: str = "float32",
    on_checkpoint: Callable[[keras.Model, int], None] | None = None,
    config_dict: dict | None = None,
    fast_variables: Callable[[keras.Model], list] | None = None,
    fast_lr_multiplier: float = 1.0,
) -> tuple[keras.Model, RunResult]:
    """Train until ``cfg.steps`` optimizer steps, resuming from ``run_dir/ckpt`` if present.

    ``make_dataset(input_context)`` returns batches (images, targets dict) of the per-replica
    batch size; ``loss_fn(model_outputs, targets)`` returns a dict with ``total`` (a per-replica
    mean). Logs go to ``run_dir/logs`` (TensorBoard), checkpoints to ``run_dir/ckpt``.
    ``fast_variables(model)``: variables that get their own AdamW with the learning rate times
    ``fast_lr_multiplier`` (Adam's steps do not scale with the gradient, so a layer whose outputs
    are in large units, e.g. pixels, needs a larger rate to move them at all).
    """
    strategy = strategy or tf.distribute.get_strategy()
    run_dir = Path(run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    if config_dict is not None:
        (run_dir / "config.json").write_text(json.dumps(config_dict, indent=1, default=str))
    replicas = strategy.num_replicas_in_sync
    with strategy.scope():
        model = build_model()
        fast = fast_variables(model) if fast_variables is not None else []
        fast_ids = {id(v) for v in fast}
        slow = [v for v in model.trainable_variables if id(v) not in fast_ids]
        optimizer = make_optimizer(cfg, policy)
        optimizer.build(slow)
        step = tf.Variable(0, dtype=tf.int64, trainable=False, name="step")
        parts = {"model": model, "optimizer": optimizer, "step": step}
        fast_optimizer = None
        if fast:
            fast_optimizer = make_optimizer(cfg, policy, fast_lr_multiplier)
            fast_optimizer.build(fast)
            parts["fast_optimizer"] = fast_optimizer
        ckpt = tf.train.Checkpoint(**parts)
    chief = is_chief(strategy)
    # Every MultiWorkerMirrored worker must save (collective ops), non-chiefs into scratch dirs.
    ckpt_dir = run_dir / "ckpt" if chief else run_dir / f"ckpt_worker{strategy.cluster_resolver.task_id}"
    manager = tf.train.CheckpointManager(ckpt, str(ckpt_dir), max_to_keep=cfg.keep_checkpoints)
    latest = tf.train.latest_checkpoint(str(run_dir / "ckpt"))
    if latest:
        ckpt.restore(latest).expect_partial()
        print(f"resumed from {latest} at step {int(step.numpy())}", flush=True)

    per_replica_batch = cfg.batch_size // replicas
    if per_replica_batch * replicas != cfg.batch_size:
        raise ValueError(f"batch_size {cfg.batch_size} is not divisible by {replicas} replicas")
    dist = strategy.distribute_datasets_from_function(
        lambda ctx: make_dataset(ctx).prefetch(tf.data.AUTOTUNE))
    scaled = isinstance(optimizer, keras.optimizers.LossScaleOptimizer)
    if scaled and fast_optimizer is not None:  # two loss scales would disagree
        raise ValueError("fast_variables needs float32 or bfloat16 training, not mixed_float16")

    def replica_step(images, targets):
        with tf.GradientTape() as tape:
            outputs = model(images, training=True)
            losses = loss_fn(outputs, targets)
            loss = losses["total"] / replicas
            if model.losses:
                loss += tf.add_n(model.losses) / replicas
            if scaled:
                loss = optimizer.scale_loss(loss)
        grads = tape.gradient(loss, slow + fast)
        optimizer.apply_gradients(zip(grads[:len(slow)], slow))
        if fast_optimizer is not None:
            fast_optimizer.apply_gradients(zip(grads[len(slow):], fast))
        return losses

    @tf.function
    def train_step(images, targets):
        per = strategy.run(replica_step, args=(images, targets))
        return {k: strategy.reduce(tf.distribute.ReduceOp.MEAN, v, axis=None) for k, v in per.items()}

    writer = tf.summary.create_file_writer(str(run_dir / "logs")) if chief else tf.summary.create_noop_writer()
    it = iter(dist)
    t0, first, last = time.time(), None, {}
    acc: dict = {}
    n_acc = 0
    while int(step.numpy()) < cfg.steps:
        images, targets = next(it)
        losses = train_step(images, targets)
        step.assign_add(1)
        s = int(step.numpy())
        vals = {k: float(v) for k, v in losses.items()}
        if first is None:
            first = vals
        last = vals
        for k, v in vals.items():
            acc[k] = acc.get(k, 0.0) + v
        n_acc += 1
        if s % cfg.log_every == 0 or s == cfg.steps:
            mean = {k: v / n_acc for k, v in acc.items()}
            lr = optimizer.learning_rate
            lr = float(lr(s) if callable(lr) else lr)
            with writer.as_default(step=s):
                for k, v in mean.items():
                    write_scalar(f"loss/{k}", v, s)
                write_scalar("lr", lr, s)
            if chief:
                with open(run_dir / "losses.jsonl", "a") as f:
                    f.write(json.dumps({"step": s, "lr": lr, "time_s": round(time.time() - t0, 1), **mean}) + "\n")
                print(f"step {s} " + " ".join(f"{k}={v:.4f}" for k, v in sorted(mean.items()))
                      + f" ({time.time() - t0:.0f}s)", flush=True)
            acc, n_acc = {}, 0
        if s % cfg.checkpoint_every == 0 or s == cfg.steps:
            manager.save(checkpoint_number=s)
            if on_checkpoint is not None and chief:
                on_checkpoint(model, s)
    writer.flush()
    return model, RunResult(int(step.numpy()), last, first or {}, time.time() - t0)


def restore_latest(model: keras.Model, run_dir: str | Path) -> int:
    """Load the model weights of the latest checkpoint in ``run_dir/ckpt`` (written by
    :func:`train`, also while a run goes on) into ``model``; returns its step.

    Raises:
        SystemExit: there is no checkpoint.
    """
    latest = tf.train.latest_checkpoint(str(Path(run_dir) / "ckpt"))
    if latest is None:
        raise SystemExit(f"no checkpoint in {run_dir}/ckpt")
    step = tf.Variable(0, dtype=tf.int64, trainable=False, name="step")
    # every model variable must come from the checkpoint (the optimizer's slots may stay behind)
    tf.train.Checkpoint(model=model, step=step).restore(latest).expect_partial().assert_existing_objects_matched()
    print(f"restored {latest} (step {int(step.numpy())})")
    return int(step.numpy())


def train_and_export(
    args: argparse.Namespace,
    cfg,
    build_model: Callable[[], keras.Model],
    loss_fn: Callable[[dict | list, dict], dict],
    make_dataset: Callable[[int, tf.distribute.InputContext | None], tf.data.Dataset],
    export: Callable[[keras.Model, Path, list[str]], Iterable[dict]],
    representative_files: list[str],
) -> RunResult:
    """Run :func:`train` with the options of :func:`training.config.add_run_arguments`; with ``--export``, copy
    the weights into a float32 model and call ``export(model, run_dir/"export", files)``, which
    returns the manifest entries it wrote. ``make_dataset(per_replica_batch, input_context)``.
    With ``--export-only``, the latest checkpoint is restored and exported without training."""
    if getattr(args, "export_only", False):
        model = build_model()
        result = RunResult(restore_latest(model, args.run_dir), {}, {}, 0.0)
    else:
        strategy = make_strategy(args.strategy, args.tpu)
        policy = setup_precision(args.precision)
        per_replica = cfg.train.batch_size // strategy.num_replicas_in_sync
        model, result = train(
            build_model=build_model, loss_fn=loss_fn, make_dataset=lambda ctx: make_dataset(per_replica, ctx),
            cfg=cfg.train, run_dir=args.run_dir, strategy=strategy, policy=policy, config_dict=to_dict(cfg),
        )
        print(f"done: step {result.step}, losses {result.last_losses}")
    if args.export or getattr(args, "export_only", False):
        keras.mixed_precision.set_global_policy("float32")
        fresh = build_model()
        fresh.set_weights(model.get_weights())
        for e in export(fresh, Path(args.run_dir) / "export", representative_files):
            print(f"exported {e['file']}: {e['bytes']} bytes sha256 {e['sha256']}")
    return result


__all__ = ["STRATEGIES", "RunResult", "make_strategy", "restore_latest", "setup_precision", "to_dict", "train",
           "train_and_export"]
