"""dnnc.train: weight-distribution training of discrete-weight sign networks (Roth et al. 2019).

APIs other modules use:
  dnnc.train.api.train_model(arch="tiny-fc", weights="ternary", activation="sign", init="pretrain",
        dataset="mnist10k", epochs=40, pretrain_epochs=40, seed=0, two_stage=False, train_limit=None)
        -> checkpoint dict (fast for tests: epochs=1, pretrain_epochs=1, train_limit=1000, a few s)
  dnnc.train.checkpoint.save_checkpoint(ckpt, path)   atomic torch.save
  dnnc.train.checkpoint.load_checkpoint(path) -> dict  weights_only=True; corrupt/foreign -> DnncError
  dnnc.train.collapse.collapse(ckpt, mode="most-probable"|"sample", seed=0, dataset=None)
        -> dnnc.netspec.DiscreteNet (validated); only for discrete weights + sign
  dnnc.train.collapse.forward_torch(net, raw) -> (logits, classes)   torch float64 twin of
        netspec.forward_float64
  dnnc.train.evaluation.evaluate_checkpoint(path, dataset=None, split="test") -> dict(error, samples, ...)
  dnnc.train.arch.parse_arch(text) -> Arch; presets mnist-pi, mnist-cnn, cifar-vgg, svhn-vgg, tiny-fc
        (FC32-FC10), tiny-cnn (4C3-P2-8C3-P2-FC16-FC10)

  dnnc.train.lrt.train_lrt(arch, weights="binary"|"ternary", init="pretrain"|PATH, epochs=40, ...)
  dnnc.train.few_mult.train_few_mult(arch, weights="binary"|"ternary", epochs=40, ...)
        -> checkpoint dicts of the same layout (the family's other methods, Berger 2023 and Lin 2015)

Modules: weights (value sets, moments with a closed-form gradient), layers (the distribution layers),
model (Net: training and prediction paths), init (eq. 11), loop (the optimization recipe), api, checkpoint,
collapse, evaluation, arch, lrt and few_mult (the other methods), ste (Brevitas baselines), resume (per-epoch
snapshots), resume_run (`--resume` by the recorded method), distributed (torchrun), plots. Conventions: docs/training.md.
"""

from dnnc.errors import DnncError

try:
    import torch  # noqa: F401  (every training module needs it; torch is the `train` extra)
except ModuleNotFoundError:
    raise DnncError("training and .pt checkpoints need PyTorch: pip install 'dnnc[train]'") from None
