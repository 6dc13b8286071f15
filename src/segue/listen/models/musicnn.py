"""MusiCNN (Pons & Serra, musicnn 0.1.0) in PyTorch: MSD_musicnn and MTT_musicnn.

Same layout for both models (``musicnn.models.build_musicnn``, TF channels-last, time x mel):

* input ``(B, 187, 96)`` log-mel patches -> batch norm of the single input channel;
* front end, 5 branches of Conv -> ReLU -> BN -> max over the whole mel axis:
  timbral ``(7, 38)`` x 204 and ``(7, 67)`` x 204 (time zero-padded 3 + 3, 'valid' in mel),
  temporal ``(128, 1)``, ``(64, 1)``, ``(32, 1)`` x 51 with TF 'same' time padding (the extra
  padded frame goes AFTER: 63/64, 31/32, 15/16); concatenated to 561 channels;
* mid end, three ``Conv1d(k=7, pad 3) -> ReLU -> BN`` with 64 filters, the 2nd and 3rd residual;
  front, cnn1, cnn2, cnn3 concatenated to 753 channels;
* back end: max and mean over time, INTERLEAVED (max0, mean0, max1, mean1, ...) -> BN(1506) ->
  Dense 200 + ReLU -> BN = penultimate -> Dense 50 = logits -> sigmoid = taggram.

Every batch norm uses the moving statistics with epsilon 1e-3 and comes after the ReLU.

Speed: the front end dominates (~1.3 GMAC per patch, 85 % in the two timbral convolutions).
The "BN after ReLU, then max over mel" blocks are evaluated as ``s * relu(max_f conv) + b``,
with the conv negated for channels whose BN scale ``s`` is negative (see
``_conv_relu_bn_max_over_mel``): exact, and it skips the ReLU and BN passes over the full
``(B, C, 187, F)`` maps. Use ``torch.inference_mode()`` and batches of 16+ patches on CPU.

Precision: ``fp32`` is the port proven against the TensorFlow fixtures. ``int8`` (CPU, x86 with
oneDNN) runs the five front-end convolutions, 95 % of the work, as 8-bit integer convolutions
with exact 32-bit accumulation and a float output (bfloat16 on AVX-512 CPUs, see
:func:`int8_output_dtype`): weights quantised per output channel, the batch-normalised log-mel
input over one fixed range (so a patch's result never depends on the patches batched with it).
The BN finish of the max over mel, the mid end and the back end stay fp32. It costs 0.35x
the fp32 port's CPU time per patch on one core; on the dev corpus track vectors keep a cosine
of 0.9998 (median; min 0.9985) to fp32, and the evaluation shows no loss (BENCHMARKS.md). :func:`resolve_precision`
picks ``int8`` for ``auto`` where it is available.
"""

from __future__ import annotations

import platform
from typing import NamedTuple

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from segue.listen.models.musicnn_tags import MUSICNN_TAGS

__all__ = ["MusiCNN", "MusiCNNOutput", "load_musicnn", "MUSICNN_TAGS", "N_FRAMES", "N_MELS",
           "PRECISIONS", "resolve_precision"]

N_FRAMES = 187
N_MELS = 96
BN_EPS = 1e-3
_TIMBRAL = ((204, 38), (204, 67))  # (filters, mel width); kernel time extent 7
_TEMPORAL = ((51, 128), (51, 64), (51, 32))  # (filters, time extent)
_MID_FILTERS = 64
_MID_KERNEL = 7
_N_FRONT = sum(f for f, _ in _TIMBRAL) + sum(f for f, _ in _TEMPORAL)  # 561
_N_FEATURES = _N_FRONT + 3 * _MID_FILTERS  # 753
_N_UNITS = 200
_CPU_BLOCK_BYTES = 10 << 20  # largest conv output map computed at once on CPU (see below)
PRECISIONS = ("auto", "fp32", "int8")


class MusiCNNOutput(NamedTuple):
    taggram: torch.Tensor  # (B, 50) sigmoid outputs
    logits: torch.Tensor  # (B, 50)
    penultimate: torch.Tensor  # (B, 200), the usual embedding
    mean_pool: torch.Tensor  # (B, 753) mean over time of the mid-end feature map
    max_pool: torch.Tensor  # (B, 753) max over time of the same map


def _bn(n: int) -> nn.BatchNorm1d:
    return nn.BatchNorm1d(n, eps=BN_EPS)


def _scale_shift(bn: nn.modules.batchnorm._BatchNorm) -> tuple[torch.Tensor, torch.Tensor]:
    """Inference-mode batch norm as ``x * scale + shift``."""
    assert bn.running_var is not None and bn.running_mean is not None
    scale = bn.weight * torch.rsqrt(bn.running_var + bn.eps)
    return scale, bn.bias - bn.running_mean * scale


class _SignFlip(NamedTuple):
    """A conv -> ReLU -> BN branch rewritten for the max-over-mel trick (see below)."""

    sign: torch.Tensor  # (C,) +1 / -1: the BN scale's sign
    scale: torch.Tensor  # (C,) the BN as scale * r + shift
    shift: torch.Tensor
    weight: torch.Tensor  # the conv's weights and bias times ``sign``
    bias: torch.Tensor

    @classmethod
    def of(cls, conv: nn.Conv2d, bn: nn.modules.batchnorm._BatchNorm) -> _SignFlip:
        scale, shift = _scale_shift(bn)
        sign = torch.where(scale >= 0, 1.0, -1.0).to(scale.dtype)
        assert conv.bias is not None
        return cls(sign, scale, shift, conv.weight * sign.view(-1, 1, 1, 1), conv.bias * sign)

    def finish(self, peak: torch.Tensor) -> torch.Tensor:
        """(B, C, T) max over mel of the sign-flipped conv -> the branch's output after BN."""
        return torch.addcmul(self.shift[:, None], (peak * self.sign[:, None]).relu_(),
                             self.scale[:, None])


def _conv_relu_bn_max_over_mel(
    x: torch.Tensor, conv: nn.Conv2d, bn: nn.modules.batchnorm._BatchNorm
) -> torch.Tensor:
    """``max_f BN(relu(conv(x)))`` for a conv output (B, C, T, F), reduced to (B, C, T).

    With the batch norm written as ``s * r + b`` per channel, the max over f is
    ``s * relu(max_f c) + b`` where ``s >= 0`` and ``s * relu(min_f c) + b`` where ``s < 0``
    (relu commutes with max and min). ``min_f c = -max_f(-c)``, and ``-c`` is the same conv with
    negated weights and bias (exactly, negation is exact in floating point), so one conv and one
    max pass give every channel. This never materialises ReLU or BN over the big (B, C, T, F)
    map, and the result is bit-identical to relu -> BN -> max (the same element wins).

    On CPU the batch goes through in slices whose conv output stays within ``_CPU_BLOCK_BYTES``
    (one patch for the timbral branches, two for the temporal ones): the (B, C, T, F) map of a
    big batch falls out of cache, and the max pass over it then costs as much as the conv
    (measured ~70 vs ~42 CPU-ms per patch at B=64, bench/musicnn_speed.py).
    """
    flip = _SignFlip.of(conv, bn)
    weight, bias = flip.weight, flip.bias
    batch = x.shape[0]
    step = batch
    if x.device.type == "cpu":
        kt, kf = conv.kernel_size
        per_item = (
            weight.shape[0] * (x.shape[2] - kt + 1) * (x.shape[3] - kf + 1) * x.element_size()
        )
        step = max(1, _CPU_BLOCK_BYTES // per_item)
    if step >= batch:
        peak = F.conv2d(x, weight, bias).amax(dim=-1)  # (B, C, T)
    else:
        peak = torch.cat(
            [F.conv2d(x[i : i + step], weight, bias).amax(dim=-1) for i in range(0, batch, step)]
        )
    return flip.finish(peak)


def int8_available() -> bool:
    """Whether this torch can run oneDNN int8 convolutions with a float output (x86 CPUs)."""
    return (
        platform.machine().lower() in ("x86_64", "amd64")
        and torch.backends.mkldnn.is_available()
        and hasattr(torch.ops.onednn, "qconv2d_pointwise")
    )


def int8_output_dtype() -> torch.dtype:
    """What the int8 convolutions write: bfloat16 where oneDNN has AVX-512 (its bf16 store is
    native there), float32 elsewhere.

    The (B, C, T, F) map each convolution writes is the memory traffic of the front end, and
    the max over mel then reads it back; at half the bytes the front end costs ~35 % less
    (bench/musicnn_speed.py). A bf16 store rounds each value to 8 significant bits; the max
    over mel of rounded values is the rounded max (rounding is monotonic), and that 2^-9
    relative error is well inside the int8 weights' own (the fixture tests' margins do not move).
    """
    return torch.bfloat16 if torch.ops.mkldnn._is_mkldnn_bf16_supported() else torch.float32


def resolve_precision(precision: str, device: torch.device | str) -> str:
    """``fp32`` or ``int8`` for a requested precision on ``device`` (``auto``: int8 on CPUs
    that have it, fp32 elsewhere); raises ValueError for int8 where it cannot run."""
    if precision not in PRECISIONS:
        raise ValueError(f"unknown precision {precision!r}; expected one of {PRECISIONS}")
    cpu = torch.device(device).type == "cpu"
    if precision == "auto":
        return "int8" if cpu and int8_available() else "fp32"
    if precision == "int8" and not (cpu and int8_available()):
        raise ValueError("int8 precision needs a CPU device and a torch with oneDNN on x86")
    return precision


#: Log-mel values never exceed this (a full-scale square wave reaches 6.9, the dev corpus 6.8;
#: they are log10(1 + 10^4 mel) >= 0), so one fixed input range serves every patch.
LOGMEL_MAX = 7.5
_MAX_PAD = (63, 64)  # the widest 'same' time padding (k = 128); every branch is a slice of it


def _input_range(bn_input: nn.modules.batchnorm._BatchNorm) -> tuple[float, float]:
    """The range of the batch-normalised input (log-mel in [0, LOGMEL_MAX]) plus the padding 0."""
    scale, shift = (float(v) for v in _scale_shift(bn_input))
    ends = (shift, shift + scale * LOGMEL_MAX, 0.0)
    return min(ends), max(ends)


def _quantize(x: torch.Tensor, lo: float, hi: float) -> tuple[torch.Tensor, float, int]:
    """(B, 1, T, F) float -> (uint8 tensor, scale, zero point) over the fixed range [lo, hi].

    A fixed range (not each batch's own) keeps every patch's result independent of the patches
    it is batched with; 0 lies in the range, so the zero padding quantises to exactly 0.
    """
    scale = (hi - lo) / 255.0
    zero = int(round(-lo / scale))
    q = torch.round(x * (1.0 / scale)).add_(zero).clamp_(0, 255).to(torch.uint8)
    return q, scale, zero


def _max_over_mel_channels_last(y: torch.Tensor) -> torch.Tensor:
    """(b, C, T, F) channels-last -> (b, C, T): oneDNN's pooling runs along contiguous channel
    vectors, 3-4x faster than ``amax`` over the mel axis (bench/musicnn_speed.py)."""
    return F.max_pool2d(y, (1, y.shape[3]))[..., 0]


class _Int8ConvMaxOverMel:
    """``_conv_relu_bn_max_over_mel`` with an int8 convolution (int32 accumulation, float out).

    The weights, negated where the BN scale is negative (the same sign trick), are quantised
    per output channel to [-127, 127] and packed once. The float output is channels-last, and
    the max over mel is a channels-last max pooling, vectorised over channels (``amax`` over
    the mel axis would double the front end's time). ``step`` patches go through each oneDNN
    call: 1 for the timbral branches, whose maps fall out of cache otherwise; for the temporal
    ones 1, 2 and 4 measure the same within noise (bench/musicnn_speed.py). ``out_dtype`` is
    what the convolution writes (see :func:`int8_output_dtype`); the peaks are finished in
    float32.
    """

    def __init__(
        self,
        conv: nn.Conv2d,
        bn: nn.modules.batchnorm._BatchNorm,
        step: int,
        out_dtype: torch.dtype = torch.float32,
    ) -> None:
        self.flip = _SignFlip(*(t.detach().float() for t in _SignFlip.of(conv, bn)))
        self.step = step
        self.out_dtype = out_dtype
        weight, self.bias = self.flip.weight, self.flip.bias
        self.w_scale = (weight.abs().amax(dim=(1, 2, 3)) / 127.0).clamp(min=1e-12).float()
        q = torch.round(weight / self.w_scale.view(-1, 1, 1, 1)).clamp(-127, 127)
        # the input scale and zero point given here do not enter the packing (a test checks
        # the result against a float convolution of the dequantised operands)
        self.packed = torch.ops.onednn.qconv_prepack(
            q.to(torch.int8), self.w_scale, 1.0, 0, [1, 1], [0, 0], [1, 1], 1, None
        )
        self.w_zero = torch.zeros(len(self.w_scale), dtype=torch.long)

    def __call__(self, q: torch.Tensor, x_scale: float, x_zero: int) -> torch.Tensor:
        """(B, 1, T', F) uint8 -> (B, C, T) float, the branch's output after BN."""
        peaks = []
        for i in range(0, q.shape[0], self.step):
            y = torch.ops.onednn.qconv2d_pointwise(
                q[i : i + self.step].contiguous(memory_format=torch.channels_last),
                x_scale, x_zero, self.packed, self.w_scale, self.w_zero, self.bias,
                [1, 1], [0, 0], [1, 1], 1, 1.0, 0, self.out_dtype, "none", [], "",
            )  # fmt: skip
            peaks.append(_max_over_mel_channels_last(y))
        return self.flip.finish(torch.cat(peaks).float())


def _relu_bn(x: torch.Tensor, bn: nn.modules.batchnorm._BatchNorm) -> torch.Tensor:
    scale, shift = _scale_shift(bn)
    shape = (-1,) + (1,) * (x.dim() - 2)
    return torch.addcmul(shift.view(shape), x.relu(), scale.view(shape))


class MusiCNN(nn.Module):
    """MusiCNN tagger; ``forward((B, 187, 96) float32 log-mel) -> MusiCNNOutput``.

    ``name`` selects the tag list (``MSD_musicnn`` or ``MTT_musicnn``); load real weights with
    :func:`load_musicnn` or :meth:`load_tf_variables`. Only inference (eval mode) is supported:
    dropout is absent and every batch norm uses its moving statistics.
    """

    def __init__(self, name: str = "MSD_musicnn") -> None:
        super().__init__()
        if name not in MUSICNN_TAGS:
            raise ValueError(
                f"unknown musicnn model {name!r}; expected one of {tuple(MUSICNN_TAGS)}"
            )
        self.name = name
        self.tags: tuple[str, ...] = MUSICNN_TAGS[name]
        self.bn_input = nn.BatchNorm2d(1, eps=BN_EPS)
        self.timbral_convs = nn.ModuleList(nn.Conv2d(1, f, (7, w)) for f, w in _TIMBRAL)
        self.timbral_bns = nn.ModuleList(nn.BatchNorm2d(f, eps=BN_EPS) for f, _ in _TIMBRAL)
        self.temporal_convs = nn.ModuleList(nn.Conv2d(1, f, (k, 1)) for f, k in _TEMPORAL)
        self.temporal_bns = nn.ModuleList(nn.BatchNorm2d(f, eps=BN_EPS) for f, _ in _TEMPORAL)
        self.mid_convs = nn.ModuleList(
            nn.Conv1d(c, _MID_FILTERS, _MID_KERNEL, padding=_MID_KERNEL // 2)
            for c in (_N_FRONT, _MID_FILTERS, _MID_FILTERS)
        )
        self.mid_bns = nn.ModuleList(_bn(_MID_FILTERS) for _ in range(3))
        self.bn_pool = _bn(2 * _N_FEATURES)
        self.dense = nn.Linear(2 * _N_FEATURES, _N_UNITS)
        self.bn_dense = _bn(_N_UNITS)
        self.output = nn.Linear(_N_UNITS, len(self.tags))
        self.precision = "fp32"
        self._int8: tuple[list[_Int8ConvMaxOverMel], list[_Int8ConvMaxOverMel]] | None = None
        self._int8_range = (0.0, 1.0)
        self.eval()

    def set_precision(self, precision: str) -> MusiCNN:
        """Run the timbral front end in ``fp32`` or ``int8`` (``auto``: see
        :func:`resolve_precision`). Call after the weights are loaded."""
        device = next(self.parameters()).device
        self.precision = resolve_precision(precision, device)
        self._int8 = None
        if self.precision == "int8":
            out = int8_output_dtype()
            with torch.no_grad():
                self._int8 = (
                    [_Int8ConvMaxOverMel(c, b, 1, out)
                     for c, b in zip(self.timbral_convs, self.timbral_bns, strict=True)],
                    [_Int8ConvMaxOverMel(c, b, 4, out)
                     for c, b in zip(self.temporal_convs, self.temporal_bns, strict=True)],
                )  # fmt: skip
                self._int8_range = _input_range(self.bn_input)
        return self

    # -- forward ----------------------------------------------------------------------------
    def _run(self, x: torch.Tensor, debug: bool) -> tuple[MusiCNNOutput, dict[str, torch.Tensor]]:
        if x.dim() != 3 or x.shape[1:] != (N_FRAMES, N_MELS):
            raise ValueError(f"expected input (B, {N_FRAMES}, {N_MELS}), got {tuple(x.shape)}")
        scale0, shift0 = _scale_shift(self.bn_input)
        x = torch.addcmul(shift0, x, scale0).unsqueeze(1)  # (B, 1, T, F)
        if self._int8 is not None and x.device.type == "cpu":
            front = self._front_end_int8(x)
        else:
            front = self._front_end(x)  # (B, 561, T)
        cnn1 = _relu_bn(self.mid_convs[0](front), self.mid_bns[0])
        cnn2 = _relu_bn(self.mid_convs[1](cnn1), self.mid_bns[1]) + cnn1
        cnn3 = _relu_bn(self.mid_convs[2](cnn2), self.mid_bns[2]) + cnn2
        features = torch.cat([front, cnn1, cnn2, cnn3], dim=1)  # (B, 753, T)
        max_pool = features.amax(dim=2)
        mean_pool = features.mean(dim=2)
        flat = torch.stack([max_pool, mean_pool], dim=2).flatten(1)  # interleaved, (B, 1506)
        scale9, shift9 = _scale_shift(self.bn_pool)
        hidden = self.dense(torch.addcmul(shift9, flat, scale9))
        penultimate = _relu_bn(hidden, self.bn_dense)
        logits = self.output(penultimate)
        out = MusiCNNOutput(torch.sigmoid(logits), logits, penultimate, mean_pool, max_pool)
        extra: dict[str, torch.Tensor] = {}
        if debug:  # TF layout (B, T, C), as in the fixtures' *_patch0 arrays
            extra = {
                "timbral": front[:, :408].transpose(1, 2),
                "temporal": front[:, 408:].transpose(1, 2),
                "cnn1": cnn1.transpose(1, 2),
                "cnn2": cnn2.transpose(1, 2),
                "cnn3": cnn3.transpose(1, 2),
            }
        return out, extra

    def _front_end(self, x: torch.Tensor) -> torch.Tensor:
        branches = []
        x_pad = F.pad(x, (0, 0, 3, 3))  # zero-pad time 3 + 3 (after the input BN)
        for conv, bn in zip(self.timbral_convs, self.timbral_bns, strict=True):
            branches.append(_conv_relu_bn_max_over_mel(x_pad, conv, bn))
        for conv, bn in zip(self.temporal_convs, self.temporal_bns, strict=True):
            k = conv.kernel_size[0]
            x_same = F.pad(x, (0, 0, (k - 1) // 2, k // 2))  # TF 'same': extra frame after
            branches.append(_conv_relu_bn_max_over_mel(x_same, conv, bn))
        return torch.cat(branches, dim=1)

    def _front_end_int8(self, x: torch.Tensor) -> torch.Tensor:
        """The front end with int8 convolutions: one quantisation of the widest padding, each
        branch reading its own time slice of it (zero padding is exact in the fixed range)."""
        assert self._int8 is not None
        before, after = _MAX_PAD
        q, x_scale, x_zero = _quantize(F.pad(x, (0, 0, before, after)), *self._int8_range)
        timbral, temporal = self._int8
        n = x.shape[2]
        branches = [b(q[:, :, before - 3 : before + n + 3], x_scale, x_zero) for b in timbral]
        for branch, conv in zip(temporal, self.temporal_convs, strict=True):
            k = conv.kernel_size[0]
            lo = before - (k - 1) // 2
            branches.append(branch(q[:, :, lo : lo + n + k - 1], x_scale, x_zero))
        return torch.cat(branches, dim=1)

    def forward(self, x: torch.Tensor) -> MusiCNNOutput:
        return self._run(x, debug=False)[0]

    def intermediates(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        """Outputs plus front/mid-end activations (B, T, C): timbral, temporal, cnn1..cnn3."""
        out, extra = self._run(x, debug=True)
        return {**out._asdict(), **extra}

    # -- weights ----------------------------------------------------------------------------
    @staticmethod
    def state_dict_from_tf(variables: dict[str, np.ndarray]) -> dict[str, torch.Tensor]:
        """Map musicnn checkpoint variables (TF names/layouts) to this module's state dict."""

        def t(name: str) -> torch.Tensor:
            if name not in variables:
                raise KeyError(f"musicnn weights lack variable {name!r}")
            return torch.from_numpy(np.ascontiguousarray(variables[name], dtype=np.float32))

        sd: dict[str, torch.Tensor] = {}

        def bn(prefix: str, index: int) -> None:
            tf = "batch_normalization" + (f"_{index}" if index else "")
            sd[f"{prefix}.weight"] = t(f"{tf}/gamma")
            sd[f"{prefix}.bias"] = t(f"{tf}/beta")
            sd[f"{prefix}.running_mean"] = t(f"{tf}/moving_mean")
            sd[f"{prefix}.running_var"] = t(f"{tf}/moving_variance")
            sd[f"{prefix}.num_batches_tracked"] = torch.tensor(0)

        def conv(prefix: str, index: int, conv1d: bool = False) -> None:
            tf = "conv2d" + (f"_{index}" if index else "")
            kernel = t(f"{tf}/kernel")  # HWIO: (time, mel/width, in, out)
            if conv1d:  # mid end: width = channels of a 1-channel image -> Conv1d(width -> out)
                sd[f"{prefix}.weight"] = kernel[:, :, 0, :].permute(2, 1, 0).contiguous()
            else:
                sd[f"{prefix}.weight"] = kernel.permute(3, 2, 0, 1).contiguous()
            sd[f"{prefix}.bias"] = t(f"{tf}/bias")

        bn("bn_input", 0)
        for i in range(2):
            conv(f"timbral_convs.{i}", i)
            bn(f"timbral_bns.{i}", i + 1)
        for i in range(3):
            conv(f"temporal_convs.{i}", i + 2)
            bn(f"temporal_bns.{i}", i + 3)
        for i in range(3):
            conv(f"mid_convs.{i}", i + 5, conv1d=True)
            bn(f"mid_bns.{i}", i + 6)
        bn("bn_pool", 9)
        sd["dense.weight"] = t("dense/kernel").T.contiguous()
        sd["dense.bias"] = t("dense/bias")
        bn("bn_dense", 10)
        sd["output.weight"] = t("dense_1/kernel").T.contiguous()
        sd["output.bias"] = t("dense_1/bias")
        return sd

    def load_tf_variables(self, variables: dict[str, np.ndarray]) -> MusiCNN:
        """Load musicnn checkpoint variables (strict: every tensor must be present and fit)."""
        self.load_state_dict(self.state_dict_from_tf(variables), strict=True)
        if self.precision == "int8":  # re-quantise the new weights
            self.set_precision("int8")
        return self


def default_device() -> torch.device:
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


def load_musicnn(name: str = "MSD_musicnn", device: str | torch.device | None = None,
                 precision: str = "fp32") -> MusiCNN:  # fmt: skip
    """MusiCNN with the musicnn 0.1.0 weights of ``name``, in eval mode, on ``device``.

    ``device`` defaults to CUDA when available, else CPU; ``precision`` is ``fp32`` (the proven
    port), ``int8`` or ``auto`` (see :func:`resolve_precision`). Weights come from the
    safetensors cache (see :mod:`segue.listen.weights`; the first call may download the wheel).
    """
    from segue.listen.weights import load_musicnn_weights

    model = MusiCNN(name).load_tf_variables(load_musicnn_weights(name))
    model = model.to(default_device() if device is None else torch.device(device)).eval()
    return model.set_precision(precision)
