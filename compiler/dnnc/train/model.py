"""The trainable network: real weights + tanh, or weight distributions + sign (or + tanh, stage one).

Layer orders (training-method.md b.4):
  real + tanh      linear -> BN -> tanh -> maxpool                 (pre-training net)
  discrete + tanh  linear -> Gaussian LRT -> maxpool -> BN -> tanh (two-stage, stage one)
  discrete + sign  linear -> Gaussian maxpool -> dist BN -> Gumbel sign LRT
and the prediction path (MAP weights, running BN statistics, hard sign with sign(0) = +1):
  linear -> maxpool -> BN -> sign|tanh    (real net: linear -> BN -> tanh -> maxpool)
Output layer: (x W + b) / sqrt(fan_in + 1), with a Gaussian LRT on it while training discrete nets.
Dropout is inverted and sits before each layer (rate 0 = none).
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from dnnc.errors import DnncError
from dnnc.train import layers as L
from dnnc.train.arch import Arch
from dnnc.train.weights import DISCRETE, moments, values
from dnnc.vocabulary import conv_out_size

BN_ALPHA = 0.1  # EMA factor of the running mean / inverse std


def layer_shapes(arch: Arch, input_shape: tuple[int, ...]) -> list[tuple[int, ...]]:
    """Weight shape of each layer: conv (out, in, k, k), dense (out, fan_in)."""
    c, h, w = input_shape
    flat, shapes = None, []
    for s in arch.layers:
        if s.kind == "conv":
            shapes.append((s.out, c, s.kernel, s.kernel))
            c = s.out
            if s.pool:
                h, w = conv_out_size(h, s.pool, s.pool), conv_out_size(w, s.pool, s.pool)
        else:
            fan_in = flat if flat is not None else c * h * w
            shapes.append((s.out, fan_in))
            flat = s.out
    return shapes


class Net(torch.nn.Module):
    def __init__(self, arch: Arch, input_shape: tuple[int, ...], weight_set: str, activation: str):
        super().__init__()
        if weight_set not in ("real", *DISCRETE):
            raise DnncError(f"unknown weight set {weight_set!r} (real, {', '.join(DISCRETE)})")
        if activation not in ("tanh", "sign"):
            raise DnncError(f"unknown activation {activation!r} (tanh, sign)")
        if weight_set == "real" and activation != "tanh":
            raise DnncError("real weights are trained with --activation tanh (the pre-training net)")
        self.arch, self.input_shape = arch, tuple(input_shape)
        self.weight_set, self.activation = weight_set, activation
        self.discrete = weight_set != "real"
        self.dropout = arch.dropout if self.discrete else arch.dropout_real
        self.shapes = layer_shapes(arch, self.input_shape)
        self.params = torch.nn.ParameterList()  # logits (D, *shape) or real weights
        if self.discrete:
            self.register_buffer("vals", torch.tensor(values(weight_set), dtype=torch.float32))
            for shape in self.shapes:
                self.params.append(torch.nn.Parameter(torch.zeros(len(self.vals), *shape)))
        else:
            for shape in self.shapes:
                fan_in = math.prod(shape[1:])
                bound = math.sqrt(3.0) * math.sqrt(2.0 / fan_in)
                self.params.append(torch.nn.Parameter(torch.empty(shape).uniform_(-bound, bound)))
        self.gamma = torch.nn.ParameterList()
        self.beta = torch.nn.ParameterList()
        for shape in self.shapes[:-1]:
            self.gamma.append(torch.nn.Parameter(torch.ones(shape[0])))
            self.beta.append(torch.nn.Parameter(torch.zeros(shape[0])))
            self.register_buffer(f"run_mean{len(self.gamma) - 1}", torch.zeros(shape[0]))
            self.register_buffer(f"run_inv{len(self.gamma) - 1}", torch.ones(shape[0]))
        self.bias = torch.nn.Parameter(torch.zeros(self.shapes[-1][0]))
        self.out_scale = 1.0 / math.sqrt(self.shapes[-1][1] + 1)

    # -- parameter groups --------------------------------------------------------------------------
    def running(self, i: int) -> tuple[torch.Tensor, torch.Tensor]:
        return getattr(self, f"run_mean{i}"), getattr(self, f"run_inv{i}")

    def map_weights(self) -> list[torch.Tensor]:
        """The weights of the prediction path: most probable values (ties: first), or the real weights."""
        if not self.discrete:
            return [p.detach() for p in self.params]
        return [self.vals[p.detach().argmax(0)] for p in self.params]

    def as_distribution_net(self) -> Net:
        """The net whose checkpoint this model writes (a method with other parameters converts)."""
        return self

    def hidden_activation(self, i: int) -> str:
        """Activation of hidden layer i on the prediction path (lrt binarizes layer by layer)."""
        return self.activation

    def clip_logits(self) -> None:
        if self.discrete:
            with torch.no_grad():
                for p in self.params:
                    p.clamp_(-5.0, 5.0)

    # -- training path -----------------------------------------------------------------------------
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Stochastic training forward: logits of one (relaxed) sample, for the cross-entropy loss."""
        n_hidden = len(self.shapes) - 1
        for i, spec in enumerate(self.arch.layers):
            x = L.dropout(x, self.dropout[i], self.training)
            if spec.kind == "dense":
                x = x.flatten(1)
            if i == n_hidden:
                return self._output(x)
            if not self.discrete:
                a = L.linear(x, self.params[i], spec.kind)
                a, _ = L.dist_bn(a, None, self.gamma[i], self.beta[i])
                x = torch.tanh(a)
                x = F.max_pool2d(x, 2) if spec.pool else x
                continue
            mean, var = L.dist_linear(x, *moments(self.params[i], self.vals), spec.kind)
            if self.activation == "tanh":
                a = L.gauss_sample(mean, var)
                a = F.max_pool2d(a, 2) if spec.pool else a
                a, _ = L.dist_bn(a, None, self.gamma[i], self.beta[i])
                x = torch.tanh(a)
            else:
                if spec.pool:
                    mean, var = L.gauss_maxpool2(mean, var)
                mean, var = L.dist_bn(mean, var, self.gamma[i], self.beta[i])
                x = self.sign_sample(i, mean, var)
        raise AssertionError("unreachable")

    def sign_sample(self, i: int, mean: torch.Tensor, var: torch.Tensor) -> torch.Tensor:
        """Hidden layer i's activation from its Gaussian pre-activation (after BN): the relaxed Gumbel sign
        (methods that sample differently override this one step, not the forward pass)."""
        return L.gumbel_sign(mean, var, noise=self.training)

    def _output(self, x: torch.Tensor) -> torch.Tensor:
        if not self.discrete:
            return (x @ self.params[-1].t() + self.bias) * self.out_scale
        w_mean, w_var = moments(self.params[-1], self.vals)
        mean = (x @ w_mean.t() + self.bias) * self.out_scale
        var = (x * x) @ w_var.t() * self.out_scale**2
        return L.gauss_sample(mean, var) if self.training else mean

    # -- prediction path ---------------------------------------------------------------------------
    @torch.no_grad()
    def predict(self, x: torch.Tensor, update_bn: bool = False,
                weights: list[torch.Tensor] | None = None) -> torch.Tensor:
        """Deterministic logits with MAP weights and running BN statistics.

        update_bn: first fold this batch's statistics into the running EMAs (alpha = 0.1), layer by
        layer, so each BN sees the already updated layers below it (ND's after-epoch pass).
        weights: map_weights() computed once by the caller (the argmax over all logits is costly).
        """
        weights = self.map_weights() if weights is None else weights
        n_hidden = len(self.shapes) - 1
        for i, spec in enumerate(self.arch.layers):
            if spec.kind == "dense":
                x = x.flatten(1)
            if i == n_hidden:
                return (x @ weights[-1].t() + self.bias) * self.out_scale
            a = L.linear(x, weights[i], spec.kind)
            if self.discrete and spec.pool:
                a = F.max_pool2d(a, 2)
            run_mean, run_inv = self.running(i)
            if update_bn:
                m_b, inv_b = L.batch_stats(a)
                run_mean.mul_(1 - BN_ALPHA).add_(BN_ALPHA * m_b)
                run_inv.mul_(1 - BN_ALPHA).add_(BN_ALPHA * inv_b)
            a, _ = L.bn_apply(a, None, self.gamma[i], self.beta[i], run_mean, run_inv)
            if self.hidden_activation(i) == "sign":
                x = L.sign(a)
            else:
                x = torch.tanh(a)
                if not self.discrete and spec.pool:
                    x = F.max_pool2d(x, 2)
        raise AssertionError("unreachable")
