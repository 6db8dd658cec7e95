"""The image layers: PyTorch's names, shapes, init and state-dict keys; BatchNorm's running
statistics against their closed-form update; buffers; errors that name the layer."""
import math

import numpy as np
import pytest
from op_table_rows_cnn import np_conv2d

import microgd as mg
from microgd import nn
from microgd.nn import functional as F


# ------------------------------------------------------------------ convolution layers
@pytest.mark.parametrize("make,weight_shape,fan_in", [
    (lambda: nn.Conv2d(8, 64, 3), (64, 8, 3, 3), 72),
    (lambda: nn.Conv2d(8, 64, (5, 2), groups=4), (64, 2, 5, 2), 20),
    (lambda: nn.Conv1d(6, 48, 4, groups=3), (48, 2, 4), 8),
])
def test_conv_init_is_pytorchs_uniform_within_one_over_sqrt_fan_in(make, weight_shape, fan_in):
    mg.manual_seed(0)
    layer = make()
    bound = 1 / math.sqrt(fan_in)
    assert layer.weight.shape == weight_shape and layer.bias.shape == (weight_shape[0],)
    for p in (layer.weight, layer.bias):
        assert p.dtype == np.float32 and p.requires_grad
        assert np.abs(p.data).max() <= bound
    w = layer.weight.data
    assert np.abs(w).max() > 0.9 * bound            # the whole interval is used ...
    assert abs(w.std() - bound / math.sqrt(3)) < 0.1 * bound   # ... uniformly


def test_conv_state_dict_keys_and_attributes_are_pytorchs():
    conv = nn.Conv2d(3, 6, 3, stride=2, padding=1, bias=False)
    assert list(conv.state_dict()) == ["weight"]
    assert (conv.kernel_size, conv.stride, conv.padding, conv.dilation) == \
        ((3, 3), (2, 2), (1, 1), (1, 1))
    assert repr(conv) == "Conv2d(3, 6, kernel_size=(3, 3), stride=(2, 2), padding=(1, 1), " \
                         "bias=False)"
    assert repr(nn.Conv1d(2, 4, 3, padding="same")) == \
        "Conv1d(2, 4, kernel_size=(3,), stride=(1,), padding='same')"


def test_conv2d_layer_computes_the_functional_convolution(rng):
    conv = nn.Conv2d(4, 6, (3, 2), stride=(1, 2), padding=(1, 0), dilation=(2, 1), groups=2)
    x = rng.standard_normal((2, 4, 7, 6)).astype(np.float32)
    expected = np_conv2d(x.astype(np.float64), conv.weight.data.astype(np.float64),
                         conv.bias.data.astype(np.float64), (1, 2), (1, 0), (2, 1), 2)
    np.testing.assert_allclose(conv(x).data, expected, rtol=1e-5, atol=1e-5)
    assert conv(x[0]).shape == expected.shape[1:]   # unbatched (C, H, W), as in PyTorch


@pytest.mark.parametrize("mode", ["reflect", "replicate", "circular"])
def test_padding_modes_pad_then_convolve(mode, rng):
    conv = nn.Conv2d(2, 3, 3, padding=(1, 2), padding_mode=mode)
    x = mg.tensor(rng.standard_normal((1, 2, 5, 6)).astype(np.float32))
    expected = F.conv2d(F.pad(x, (2, 2, 1, 1), mode=mode), conv.weight, conv.bias)
    np.testing.assert_allclose(conv(x).data, expected.data, rtol=1e-6)
    assert conv(x).shape == (1, 3, 5, 8)
    same = nn.Conv1d(2, 2, 4, padding="same", padding_mode=mode)
    assert same(mg.tensor(np.ones((1, 2, 7), np.float32))).shape == (1, 2, 7)


def test_a_channel_mismatch_names_the_layer_and_both_channel_counts():
    model = nn.Sequential(nn.Conv2d(1, 16, 3, padding=1), nn.ReLU(), nn.Conv2d(16, 32, 3))
    with pytest.raises(mg.ShapeError) as info:
        model(np.ones((2, 3, 8, 8), np.float32))
    assert str(info.value) == ("Conv2d at Sequential.0: expected 1 input channels, got 3 "
                               "(input shape (2, 3, 8, 8); the channels are axis -3)")
    with pytest.raises(mg.ShapeError, match=r"^Conv1d: expected 4 input channels, got 5"):
        nn.Conv1d(4, 2, 3)(np.ones((5, 9), np.float32))


@pytest.mark.parametrize("call,words", [
    (lambda: nn.Conv2d(4, 6, 3, groups=4), ["Conv2d", "groups=4", "in_channels=4",
                                            "out_channels=6"]),
    (lambda: nn.Conv2d(0, 6, 3), ["Conv2d", "positive", "in_channels=0"]),
    (lambda: nn.Conv2d(1, 6, 3, stride=2, padding="same"), ["Conv2d", "'same' needs stride 1"]),
    (lambda: nn.Conv2d(1, 6, 3, padding_mode="mirror"), ["Conv2d", "padding_mode", "'mirror'"]),
    (lambda: nn.Conv2d(1, 6, 0), ["Conv2d", "kernel_size must be positive"]),
    (lambda: nn.MaxPool2d(2, return_indices=True), ["MaxPool2d", "return_indices"]),
    (lambda: nn.GELU("fast"), ["GELU", "'none' or 'tanh'", "'fast'"]),
    (lambda: nn.BatchNorm2d(0), ["BatchNorm2d", "num_features"]),
])
def test_bad_layer_arguments_are_refused_at_construction(call, words):
    with pytest.raises(ValueError) as info:
        call()
    for w in words:
        assert w in str(info.value), f"{w!r} not in {str(info.value)!r}"


# ------------------------------------------------------------------ pooling layers
def test_pool_layers_default_the_stride_to_the_kernel_and_match_their_functions(rng):
    x = mg.tensor(rng.standard_normal((2, 3, 7, 7)).astype(np.float32))
    assert repr(nn.MaxPool2d(2)) == ("MaxPool2d(kernel_size=2, stride=2, padding=0, "
                                     "dilation=1, ceil_mode=False)")
    pairs = [(nn.MaxPool2d(3, 2, 1, ceil_mode=True), F.max_pool2d(x, 3, 2, 1, ceil_mode=True)),
             (nn.AvgPool2d(2, ceil_mode=True, count_include_pad=False),
              F.avg_pool2d(x, 2, ceil_mode=True, count_include_pad=False)),
             (nn.AdaptiveAvgPool2d((2, 3)), F.adaptive_avg_pool2d(x, (2, 3))),
             (nn.MaxPool1d(2), F.max_pool1d(x[0], 2)),
             (nn.AvgPool1d(3, 1), F.avg_pool1d(x[0], 3, 1))]
    for layer, expected in pairs:
        inp = x[0] if "1d" in type(layer).__name__ else x
        np.testing.assert_array_equal(layer(inp).data, expected.data)
        np.testing.assert_array_equal(layer(inp.data).data, expected.data)  # arrays too
        assert list(layer.parameters()) == [] and layer.state_dict() == {}


# ------------------------------------------------------------------ batch norm
def test_batchnorm_running_statistics_follow_the_closed_form_update(rng):
    """r <- (1 - m) r + m * batch statistic, the variance unbiased (n / (n - 1)), for several
    steps; eval() normalises with the running statistics."""
    bn = nn.BatchNorm2d(3, momentum=0.3)
    bn.weight.data[...] = [1.5, -0.5, 2.0]
    bn.bias.data[...] = [0.1, 0.2, -0.3]
    mean, var = np.zeros(3), np.ones(3)
    for step in range(4):
        x = (rng.standard_normal((4, 3, 2, 5)) * (step + 1) + step).astype(np.float32)
        y = bn(x)
        xd = x.astype(np.float64)
        bm, bv = xd.mean(axis=(0, 2, 3)), xd.var(axis=(0, 2, 3))
        expected = (xd - bm[:, None, None]) / np.sqrt(bv[:, None, None] + 1e-5) \
            * bn.weight.data[:, None, None] + bn.bias.data[:, None, None]
        np.testing.assert_allclose(y.data, expected, rtol=1e-4, atol=1e-4)
        mean = 0.7 * mean + 0.3 * bm
        var = 0.7 * var + 0.3 * bv * 40 / 39
        np.testing.assert_allclose(bn.running_mean.data, mean, rtol=1e-5)
        np.testing.assert_allclose(bn.running_var.data, var, rtol=1e-5)
        assert int(bn.num_batches_tracked.data) == step + 1
    bn.eval()
    before = bn.running_mean.data.copy()
    y = bn(x)
    expected = (xd - mean[:, None, None]) / np.sqrt(var[:, None, None] + 1e-5) \
        * bn.weight.data[:, None, None] + bn.bias.data[:, None, None]
    np.testing.assert_allclose(y.data, expected, rtol=1e-4, atol=1e-4)
    np.testing.assert_array_equal(bn.running_mean.data, before)   # eval() changes nothing
    assert int(bn.num_batches_tracked.data) == 4


def test_batchnorm_momentum_none_is_the_plain_average_of_all_batches(rng):
    bn = nn.BatchNorm1d(2, momentum=None)
    batches = [rng.standard_normal((5, 2)) + k for k in range(3)]
    for b in batches:
        bn(b)
    np.testing.assert_allclose(bn.running_mean.data, np.mean([b.mean(0) for b in batches], 0),
                               rtol=1e-5)
    np.testing.assert_allclose(bn.running_var.data,
                               np.mean([b.var(0, ddof=1) for b in batches], 0), rtol=1e-5)


def test_batchnorm_gradient_flows_through_the_batch_statistics(rng):
    """The gradient of a batch-normalised output sums to 0 over each channel's batch: moving
    every input of a channel together changes nothing (finite differences in the table)."""
    x = mg.tensor(rng.standard_normal((6, 3)), requires_grad=True)
    bn = nn.BatchNorm1d(3)
    bn(x).backward(rng.standard_normal((6, 3)))
    np.testing.assert_allclose(x.grad.sum(axis=0), 0, atol=1e-6)
    assert bn.weight.grad.shape == (3,) and bn.bias.grad.shape == (3,)


def test_batchnorm_buffers_are_saved_never_trained():
    bn = nn.BatchNorm2d(4)
    assert list(bn.state_dict()) == ["weight", "bias", "running_mean", "running_var",
                                     "num_batches_tracked"]
    assert [n for n, _ in bn.named_buffers()] == ["running_mean", "running_var",
                                                  "num_batches_tracked"]
    assert [n for n, _ in bn.named_parameters()] == ["weight", "bias"]
    assert bn.num_batches_tracked.dtype == np.int64 and bn.num_batches_tracked.shape == ()
    assert repr(bn) == ("BatchNorm2d(4, eps=1e-05, momentum=0.1, affine=True, "
                        "track_running_stats=True)")
    bare = nn.BatchNorm1d(3, affine=False, track_running_stats=False)
    assert bare.state_dict() == {} and list(bare.buffers()) == []
    x = np.arange(12.0).reshape(4, 3)
    np.testing.assert_allclose(bare.eval()(x).data, (x - x.mean(0)) / np.sqrt(x.var(0) + 1e-5),
                               rtol=1e-5)   # no running statistics: the batch's, even in eval


def test_a_cnn_state_dict_round_trips_through_a_file(tmp_path, rng):
    def make():
        return nn.Sequential(nn.Conv2d(1, 4, 3, padding=1), nn.BatchNorm2d(4), nn.ReLU(),
                             nn.MaxPool2d(2), nn.Flatten(), nn.Linear(16, 3))
    a = make()
    x = rng.standard_normal((5, 1, 4, 4)).astype(np.float32)
    a(x)
    a(x * 2)                  # running statistics move away from their initial values
    a.eval()
    mg.save(a.state_dict(), tmp_path / "cnn.npz")
    b = make()
    b.load_state_dict(mg.load(tmp_path / "cnn.npz"))
    b.eval()
    assert list(b.state_dict()) == ["0.weight", "0.bias", "1.weight", "1.bias",
                                    "1.running_mean", "1.running_var", "1.num_batches_tracked",
                                    "5.weight", "5.bias"]
    np.testing.assert_array_equal(b(x).data, a(x).data)
    assert int(b[1].num_batches_tracked.data) == 2


def test_batchnorm_errors_name_the_layer():
    model = nn.Sequential(nn.Linear(4, 3), nn.BatchNorm1d(5))
    with pytest.raises(mg.ShapeError, match=r"^BatchNorm1d at Sequential.1: expected 5 "
                                            r"channels \(axis 1\), got 3"):
        model(np.ones((2, 4), np.float32))
    with pytest.raises(mg.ShapeError, match=r"BatchNorm2d: expected input of shape "
                                            r"\(N, C, H, W\), got \(2, 3\)"):
        nn.BatchNorm2d(3)(np.ones((2, 3)))
    with pytest.raises(ValueError, match="more than 1 value per channel"):
        nn.BatchNorm1d(3)(np.ones((1, 3)))


# ------------------------------------------------------------------ activation modules
@pytest.mark.parametrize("layer,fn", [
    (nn.GELU(), F.gelu), (nn.GELU("tanh"), lambda x: F.gelu(x, approximate="tanh")),
    (nn.LeakyReLU(0.2), lambda x: F.leaky_relu(x, 0.2)), (nn.ELU(0.5), lambda x: F.elu(x, 0.5)),
    (nn.SiLU(), F.silu), (nn.Softplus(2.0, 3.0), lambda x: F.softplus(x, 2.0, 3.0)),
    (nn.Softmax(axis=0), lambda x: F.softmax(x, axis=0)), (nn.LogSoftmax(), F.log_softmax),
    (nn.Identity(54, unused="argument"), lambda x: x),
])
def test_activation_modules_apply_their_functions(layer, fn, rng):
    x = mg.tensor(rng.standard_normal((3, 4)) * 3)
    np.testing.assert_array_equal(layer(x).data, fn(x).data)
    assert list(layer.parameters()) == []


def test_activation_reprs_are_pytorchs():
    assert [repr(m) for m in (nn.GELU(), nn.LeakyReLU(), nn.ELU(), nn.Softplus(),
                              nn.Softmax(), nn.Identity())] == [
        "GELU(approximate='none')", "LeakyReLU(negative_slope=0.01)", "ELU(alpha=1.0)",
        "Softplus(beta=1.0, threshold=20.0)", "Softmax(axis=-1)", "Identity()"]


def test_a_small_cnn_learns_to_tell_horizontal_from_vertical_bars(rng):
    """Conv -> BatchNorm -> ReLU -> MaxPool -> Linear fits a toy image task with SGD."""
    mg.manual_seed(3)
    images = np.zeros((32, 1, 6, 6), np.float32)
    labels = rng.integers(0, 2, 32)
    for img, label, pos in zip(images, labels, rng.integers(0, 6, 32)):
        if label:
            img[0, :, pos] = 1.0
        else:
            img[0, pos, :] = 1.0
    model = nn.Sequential(nn.Conv2d(1, 4, 3, padding=1), nn.BatchNorm2d(4), nn.ReLU(),
                          nn.MaxPool2d(2), nn.Flatten(), nn.Linear(36, 2))
    opt = mg.optim.SGD(model.parameters(), lr=0.1)
    losses = []
    for _ in range(30):
        loss = F.cross_entropy(model(images), labels)
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    model.eval()
    accuracy = (model(images).data.argmax(axis=1) == labels).mean()
    assert losses[-1] < 0.5 * losses[0] and accuracy == 1.0
