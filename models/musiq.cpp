#include "musiq.h"

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <optional>

#include "lpips.h"  // tensor_from_view

namespace s2s {

namespace {

namespace F = torch::nn::functional;

constexpr int kPatch = 32;
constexpr int kTokenGrid = kPatch / 4;  // 8x8 stem output per token
constexpr double kMaskedLogit = -1000.0;  // pyiqa fills masked pairs with -1e3

// TF 'SAME' padding of one axis: (before, after) so that the output has
// ceil(size / stride) samples (pyiqa exact_padding_2d).
std::pair<int64_t, int64_t> same_padding(int64_t size, int kernel, int stride) {
  const int64_t out = (size + stride - 1) / stride;
  const int64_t total = std::max<int64_t>((out - 1) * stride + kernel - size, 0);
  return {total / 2, total - total / 2};
}

// Zero-pads x [N, C, H, W] TF 'SAME' style for a kernel/stride.
torch::Tensor pad_same(const torch::Tensor &x, int kernel, int stride) {
  const auto ph = same_padding(x.size(2), kernel, stride);
  const auto pw = same_padding(x.size(3), kernel, stride);
  if (ph.first == 0 && ph.second == 0 && pw.first == 0 && pw.second == 0) return x;
  return F::pad(x, F::PadFuncOptions({pw.first, pw.second, ph.first, ph.second}));
}

torch::nn::GroupNorm group_norm(int channels, double eps) {
  return torch::nn::GroupNorm(torch::nn::GroupNormOptions(32, channels).eps(eps));
}

torch::nn::LayerNorm layer_norm(double eps) {
  return torch::nn::LayerNorm(torch::nn::LayerNormOptions({kMusiqHidden}).eps(eps));
}

torch::nn::Linear linear(int in, int out) { return torch::nn::Linear(torch::nn::LinearOptions(in, out).bias(true)); }

// Linear layer over the last dimension as one 2-D product with the bias
// folded in (addmm), whatever the leading dimensions.
torch::Tensor linear_rows(const torch::Tensor &x, const torch::Tensor &weight, const torch::Tensor &bias) {
  std::vector<int64_t> sizes = x.sizes().vec();
  sizes.back() = weight.size(0);
  return torch::addmm(bias, x.reshape({-1, x.size(-1)}), weight.t()).view(sizes);
}

torch::Tensor linear_rows(const torch::Tensor &x, const torch::nn::Linear &layer) {
  return linear_rows(x, layer->weight, layer->bias);
}

std::string shape_text(const std::vector<int64_t> &shape) {
  std::string s;
  for (int64_t d : shape) s += (s.empty() ? "" : ",") + std::to_string(d);
  return "[" + s + "]";
}

}  // namespace

// --- stem ---------------------------------------------------------------

MusiqStdConvImpl::MusiqStdConvImpl(int in, int out, int kernel, int stride) : kernel_(kernel), stride_(stride) {
  weight = register_parameter("weight", torch::zeros({out, in, kernel, kernel}), false);
}

void MusiqStdConvImpl::standardize() {
  torch::NoGradGuard no_grad;
  // As pyiqa, in float32: (w - mean) / (std_unbiased + 1e-5) per output channel.
  torch::Tensor w = weight - weight.mean({1, 2, 3}, true);
  w = w / (w.std({1, 2, 3}, /*unbiased=*/true, /*keepdim=*/true) + 1e-5);
  weight.copy_(w);
}

torch::Tensor MusiqStdConvImpl::forward(const torch::Tensor &x) {
  const auto ph = same_padding(x.size(2), kernel_, stride_);
  const auto pw = same_padding(x.size(3), kernel_, stride_);
  if (ph.first == ph.second && pw.first == pw.second) {
    // Symmetric: let the convolution pad (no copy).
    return F::conv2d(x, weight, F::Conv2dFuncOptions().stride(stride_).padding({ph.first, pw.first}));
  }
  return F::conv2d(pad_same(x, kernel_, stride_), weight, F::Conv2dFuncOptions().stride(stride_));
}

MusiqBottleneckImpl::MusiqBottleneckImpl(int in, int out) {
  conv1_ = register_module("conv1", MusiqStdConv(in, in, 1, 1));
  gn1_ = register_module("gn1", group_norm(in, 1e-4));
  conv2_ = register_module("conv2", MusiqStdConv(in, in, 3, 1));
  gn2_ = register_module("gn2", group_norm(in, 1e-4));
  conv3_ = register_module("conv3", MusiqStdConv(in, out, 1, 1));
  gn3_ = register_module("gn3", group_norm(out, 1e-4));
  conv_proj_ = register_module("conv_proj", MusiqStdConv(in, out, 1, 1));
  gn_proj_ = register_module("gn_proj", group_norm(out, 1e-4));
}

void MusiqBottleneckImpl::standardize() {
  conv1_->standardize();
  conv2_->standardize();
  conv3_->standardize();
  conv_proj_->standardize();
}

torch::Tensor MusiqBottleneckImpl::forward(const torch::Tensor &x) {
  torch::Tensor identity = gn_proj_->forward(conv_proj_->forward(x));
  torch::Tensor y = gn1_->forward(conv1_->forward(x)).relu_();
  y = gn2_->forward(conv2_->forward(y)).relu_();
  y = gn3_->forward(conv3_->forward(y));
  return y.add_(identity).relu_();
}

// --- transformer ----------------------------------------------------------

MusiqAttentionImpl::MusiqAttentionImpl() {
  query_ = register_module("query", linear(kMusiqHidden, kMusiqHidden));
  key_ = register_module("key", linear(kMusiqHidden, kMusiqHidden));
  value_ = register_module("value", linear(kMusiqHidden, kMusiqHidden));
  out_ = register_module("out", linear(kMusiqHidden, kMusiqHidden));
}

void MusiqAttentionImpl::fuse() {
  torch::NoGradGuard no_grad;
  qkv_weight_ = torch::cat({query_->weight, key_->weight, value_->weight}).contiguous();
  qkv_bias_ = torch::cat({query_->bias, key_->bias, value_->bias}).contiguous();
}

torch::Tensor MusiqAttentionImpl::forward(const torch::Tensor &x, const torch::Tensor &key_bias) {
  const int64_t b = x.size(0), n = x.size(1);
  constexpr int64_t head_dim = kMusiqHidden / kMusiqHeads;
  torch::Tensor q, k, v;
  if (qkv_weight_.defined()) {
    // [B, N, 3 * 384] -> 3 x [B, heads, N, 64]
    torch::Tensor qkv = linear_rows(x, qkv_weight_, qkv_bias_).view({b, n, 3, kMusiqHeads, head_dim});
    qkv = qkv.permute({2, 0, 3, 1, 4});
    q = qkv[0];
    k = qkv[1];
    v = qkv[2];
  } else {
    q = linear_rows(x, query_).view({b, n, kMusiqHeads, head_dim}).transpose(1, 2);
    k = linear_rows(x, key_).view({b, n, kMusiqHeads, head_dim}).transpose(1, 2);
    v = linear_rows(x, value_).view({b, n, kMusiqHeads, head_dim}).transpose(1, 2);
  }
  // softmax(q k^T / 8 + bias) v; bias -1000 on padding keys. pyiqa instead
  // sets the logits of pairs with a padding token to -1000: for the rows of
  // valid tokens both make the padding keys' weights exp(-1000 - max) = 0
  // in float; the rows of padding tokens differ, but no valid token ever
  // reads them (their keys weigh 0), so the class token is the same.
  std::optional<at::Tensor> attn_mask;
  if (key_bias.defined()) attn_mask = key_bias;
  torch::Tensor y = at::scaled_dot_product_attention(q, k, v, attn_mask, 0.0, false,
                                                     1.0 / std::sqrt(static_cast<double>(head_dim)));
  y = y.transpose(1, 2).reshape({b, n, kMusiqHidden});
  return linear_rows(y, out_);
}

MusiqBlockImpl::MusiqBlockImpl() {
  norm1_ = register_module("norm1", layer_norm(1e-6));
  attention_ = register_module("attention", MusiqAttention());
  norm2_ = register_module("norm2", layer_norm(1e-6));
  auto mlp = std::make_shared<torch::nn::Module>();
  fc1_ = mlp->register_module("fc1", linear(kMusiqHidden, kMusiqMlp));
  fc2_ = mlp->register_module("fc2", linear(kMusiqMlp, kMusiqHidden));
  register_module("mlp", mlp);
}

torch::Tensor MusiqBlockImpl::forward(const torch::Tensor &x, const torch::Tensor &key_bias) {
  torch::Tensor y = x + attention_->forward(norm1_->forward(x), key_bias);
  // nn.GELU() in pyiqa: the exact (erf) form.
  return y.add_(linear_rows(torch::gelu(linear_rows(norm2_->forward(y), fc1_)), fc2_));
}

// --- network --------------------------------------------------------------

MusiqNetImpl::MusiqNetImpl(int num_classes) : num_classes_(num_classes) {
  conv_root_ = register_module("conv_root", MusiqStdConv(3, kMusiqStem, 7, 2));
  gn_root_ = register_module("gn_root", group_norm(kMusiqStem, 1e-6));
  block1_ = register_module("block1", MusiqBottleneck(kMusiqStem, 4 * kMusiqStem));
  embedding_ = register_module("embedding", linear(4 * kMusiqStem * kTokenGrid * kTokenGrid, kMusiqHidden));

  auto encoder = std::make_shared<torch::nn::Module>();
  cls_ = encoder->register_parameter("cls", torch::zeros({1, 1, kMusiqHidden}), false);
  auto posembed = std::make_shared<torch::nn::Module>();
  position_emb_ = posembed->register_parameter("position_emb", torch::zeros({1, kMusiqPositions, kMusiqHidden}), false);
  encoder->register_module("posembed_input", posembed);
  auto scaleembed = std::make_shared<torch::nn::Module>();
  scale_emb_ = scaleembed->register_parameter("scale_emb", torch::zeros({kMusiqScales, kMusiqHidden}), false);
  encoder->register_module("scaleembed_input", scaleembed);
  auto transformer = std::make_shared<torch::nn::Module>();
  for (int i = 0; i < kMusiqLayers; ++i)
    blocks_.push_back(transformer->register_module("encoderblock_" + std::to_string(i), MusiqBlock()));
  encoder->register_module("transformer", transformer);
  encoder_norm_ = encoder->register_module("encoder_norm", layer_norm(1e-6));
  register_module("transformer_encoder", encoder);

  if (num_classes_ > 1) {
    // pyiqa: Sequential(Linear, Softmax); the softmax has no weights.
    auto head = std::make_shared<torch::nn::Module>();
    head_ = head->register_module("0", linear(kMusiqHidden, num_classes_));
    register_module("head", head);
  } else {
    head_ = register_module("head", linear(kMusiqHidden, 1));
  }
}

torch::Tensor MusiqNetImpl::embed(const torch::Tensor &patches) {
  torch::Tensor x = conv_root_->forward(patches.to(conv_root_->weight.scalar_type()));
  x = gn_root_->forward(x).relu_();
  // 'SAME' max-pool 3/2 (16 -> 8): pyiqa zero-pads the ReLU output by
  // (0, 1). The inputs are >= 0 and every window keeps a real sample, so a
  // ceil-mode pool (which ignores the missing row/column) is the same.
  const auto ph = same_padding(x.size(2), 3, 2), pw = same_padding(x.size(3), 3, 2);
  if (ph == std::make_pair<int64_t, int64_t>(0, 1) && pw == ph)
    x = F::max_pool2d(x, F::MaxPool2dFuncOptions(3).stride(2).ceil_mode(true));
  else
    x = F::max_pool2d(pad_same(x, 3, 2), F::MaxPool2dFuncOptions(3).stride(2));
  x = block1_->forward(x);
  // Flattened in TensorFlow's HWC order.
  x = x.permute({0, 2, 3, 1}).reshape({x.size(0), -1});
  return linear_rows(x, embedding_);
}

torch::Tensor MusiqNetImpl::forward(const torch::Tensor &tokens, const torch::Tensor &pos, const torch::Tensor &scale,
                                    const torch::Tensor &mask, int64_t stem_chunk) {
  TORCH_CHECK(tokens.dim() == 3 && tokens.size(2) == 3 * kPatch * kPatch, "MUSIQ tokens must be [B, T, 3072], got ",
              tokens.sizes());
  const int64_t b = tokens.size(0), t = tokens.size(1);
  TORCH_CHECK(t > 0, "MUSIQ needs at least one token");
  TORCH_CHECK(pos.sizes() == torch::IntArrayRef({b, t}) && scale.sizes() == pos.sizes() && mask.sizes() == pos.sizes(),
              "MUSIQ pos/scale/mask must be [B, T]");

  const torch::Tensor patches = tokens.reshape({b * t, 3, kPatch, kPatch});
  const int64_t chunk = std::max<int64_t>(stem_chunk, 1);
  torch::Tensor x;
  if (b * t <= chunk) {
    x = embed(patches);
  } else {
    std::vector<torch::Tensor> parts;
    for (int64_t start = 0; start < b * t; start += chunk)
      parts.push_back(embed(patches.narrow(0, start, std::min(chunk, b * t - start))));
    x = torch::cat(parts);
  }
  x = x.view({b, t, kMusiqHidden});

  const auto index = [&](const torch::Tensor &v) { return v.to(x.device(), torch::kLong); };
  x = x + position_emb_.squeeze(0).index_select(0, index(pos).view({-1})).view({b, t, kMusiqHidden});
  x = x + scale_emb_.index_select(0, index(scale).view({-1})).view({b, t, kMusiqHidden});
  x = torch::cat({cls_.expand({b, 1, kMusiqHidden}), x}, 1);

  // Additive key bias: 0 for the class token and valid tokens, -1000 for
  // padding; none at all when every token is valid.
  torch::Tensor valid = mask.to(x.device()) != 0;
  torch::Tensor key_bias;
  if (!valid.all().item<bool>()) {
    valid = torch::cat({torch::ones({b, 1}, valid.options()), valid}, 1);
    key_bias = torch::zeros({b, 1, 1, t + 1}, x.options()).masked_fill(valid.logical_not().view({b, 1, 1, t + 1}),
                                                                       kMaskedLogit);
  }
  for (auto &block : blocks_) x = block->forward(x, key_bias);

  // Only the class token is read: the final LayerNorm is per token.
  torch::Tensor cls = x.select(1, 0).to(encoder_norm_->weight.scalar_type());
  torch::Tensor q = linear_rows(encoder_norm_->forward(cls), head_);
  if (num_classes_ == 1) return q.select(1, 0);
  // pyiqa dist_to_mos: sum_i i * softmax_i, i = 1..C.
  torch::Tensor p = torch::softmax(q, -1);
  return (p * torch::arange(1, num_classes_ + 1, p.options())).sum(-1);
}

void MusiqNetImpl::place(torch::Device device, torch::ScalarType dtype) {
  to(device, dtype);
  encoder_norm_->to(device, torch::kFloat32);
  head_->to(device, torch::kFloat32);
  for (auto &block : blocks_) block->fuse();
}

// --- weights ----------------------------------------------------------------

std::vector<std::pair<std::string, std::vector<int64_t>>> musiq_tensor_specs(int num_classes) {
  const int64_t h = kMusiqHidden, stem = kMusiqStem, wide = 4 * kMusiqStem;
  std::vector<std::pair<std::string, std::vector<int64_t>>> specs = {
      {"conv_root.weight", {stem, 3, 7, 7}},
      {"gn_root.weight", {stem}},
      {"gn_root.bias", {stem}},
  };
  const struct {
    const char *conv, *gn;
    int64_t out, in, k;
  } convs[] = {{"conv1", "gn1", stem, stem, 1}, {"conv2", "gn2", stem, stem, 3}, {"conv3", "gn3", wide, stem, 1},
               {"conv_proj", "gn_proj", wide, stem, 1}};
  for (const auto &c : convs) {
    specs.push_back({std::string("block1.") + c.conv + ".weight", {c.out, c.in, c.k, c.k}});
    specs.push_back({std::string("block1.") + c.gn + ".weight", {c.out}});
    specs.push_back({std::string("block1.") + c.gn + ".bias", {c.out}});
  }
  specs.push_back({"embedding.weight", {h, wide * kTokenGrid * kTokenGrid}});
  specs.push_back({"embedding.bias", {h}});
  specs.push_back({"transformer_encoder.cls", {1, 1, h}});
  specs.push_back({"transformer_encoder.posembed_input.position_emb", {1, kMusiqPositions, h}});
  specs.push_back({"transformer_encoder.scaleembed_input.scale_emb", {kMusiqScales, h}});
  for (int i = 0; i < kMusiqLayers; ++i) {
    const std::string b = "transformer_encoder.transformer.encoderblock_" + std::to_string(i) + ".";
    for (const char *norm : {"norm1", "norm2"}) {
      specs.push_back({b + norm + ".weight", {h}});
      specs.push_back({b + norm + ".bias", {h}});
    }
    for (const char *part : {"query", "key", "value", "out"}) {
      specs.push_back({b + "attention." + part + ".weight", {h, h}});
      specs.push_back({b + "attention." + part + ".bias", {h}});
    }
    specs.push_back({b + "mlp.fc1.weight", {kMusiqMlp, h}});
    specs.push_back({b + "mlp.fc1.bias", {kMusiqMlp}});
    specs.push_back({b + "mlp.fc2.weight", {h, kMusiqMlp}});
    specs.push_back({b + "mlp.fc2.bias", {h}});
  }
  specs.push_back({"transformer_encoder.encoder_norm.weight", {h}});
  specs.push_back({"transformer_encoder.encoder_norm.bias", {h}});
  const std::string head = num_classes > 1 ? "head.0" : "head";
  specs.push_back({head + ".weight", {num_classes, h}});
  specs.push_back({head + ".bias", {num_classes}});
  return specs;
}

bool MusiqNetImpl::load(const SafetensorsFile &file, std::string *error) {
  torch::NoGradGuard no_grad;
  auto params = named_parameters(true);
  for (const auto &spec : musiq_tensor_specs(num_classes_)) {
    const TensorView *view = file.find(spec.first);
    if (!view) {
      *error = file.path() + ": tensor '" + spec.first + "' is missing";
      return false;
    }
    if (view->shape != spec.second) {
      *error = file.path() + ": tensor '" + spec.first + "' has shape " + shape_text(view->shape) + ", expected " +
               shape_text(spec.second);
      return false;
    }
    torch::Tensor value;
    if (!tensor_from_view(*view, &value, error)) {
      *error = file.path() + ": " + *error;
      return false;
    }
    if (!torch::isfinite(value).all().item<bool>()) {
      *error = file.path() + ": tensor '" + spec.first + "' has non-finite values";
      return false;
    }
    torch::Tensor *param = params.find(spec.first);
    if (!param) {
      *error = "internal: no parameter named '" + spec.first + "'";
      return false;
    }
    param->copy_(value);
  }
  conv_root_->standardize();
  block1_->standardize();
  for (auto &block : blocks_) block->fuse();
  return true;
}

bool musiq_file_info(const SafetensorsFile &file, MusiqFileInfo *info, std::string *error) {
  const std::string &path = file.path();
  const std::string model = file.meta("model");
  if (model != "musiq") {
    *error = path + ": not a MUSIQ file (metadata model='" + model + "', expected 'musiq'); see docs/models.md";
    return false;
  }
  info->variant = file.meta("variant");
  int expected_classes;
  if (info->variant == "ava") {
    expected_classes = 10;
  } else if (info->variant == "koniq10k" || info->variant == "spaq" || info->variant == "paq2piq") {
    expected_classes = 1;
  } else {
    *error = path + ": unknown MUSIQ variant '" + info->variant + "' (expected koniq10k, spaq, paq2piq or ava)";
    return false;
  }
  const std::string classes = file.meta("num-classes");
  if (classes != std::to_string(expected_classes)) {
    *error = path + ": metadata num-classes='" + classes + "' does not fit variant '" + info->variant + "' (" +
             std::to_string(expected_classes) + ")";
    return false;
  }
  info->num_classes = expected_classes;
  // The head must have that many outputs: 'head.weight' for one, pyiqa's
  // Sequential 'head.0.weight' for more.
  const std::string head = expected_classes > 1 ? "head.0.weight" : "head.weight";
  const std::string other = expected_classes > 1 ? "head.weight" : "head.0.weight";
  const TensorView *view = file.find(head);
  if (!view) {
    const TensorView *wrong = file.find(other);
    *error = path + ": tensor '" + head + "' is missing" +
             (wrong ? " (the file has '" + other + "' " + shape_text(wrong->shape) + ": its head does not fit variant '" +
                          info->variant + "' / num-classes " + classes + ")"
                    : "");
    return false;
  }
  if (view->shape.size() != 2 || view->shape[0] != expected_classes) {
    *error = path + ": tensor '" + head + "' has shape " + shape_text(view->shape) + ", but num-classes is " + classes;
    return false;
  }
  // The patching the weights were trained with: 32x32 tokens, a 10x10
  // position grid and two rescaled scales (+ native: the scale embeddings).
  if (file.meta("patch-size", "32") != "32") {
    *error = path + ": metadata patch-size='" + file.meta("patch-size") + "', MUSIQ tokens are 32x32";
    return false;
  }
  if (file.meta("hse-grid", "10") != "10") {
    *error = path + ": metadata hse-grid='" + file.meta("hse-grid") + "', the position table is 10x10";
    return false;
  }
  const std::string sides = file.meta("longer-side-lengths", "224,384");
  int count = 0;
  for (size_t at = 0; at <= sides.size();) {
    const size_t comma = std::min(sides.find(',', at), sides.size());
    const std::string item = sides.substr(at, comma - at);
    char *end = nullptr;
    const long v = std::strtol(item.c_str(), &end, 10);
    if (item.empty() || *end || v <= 0) {
      count = -1;
      break;
    }
    ++count;
    at = comma + 1;
  }
  if (count != kMusiqScales - 1) {
    *error = path + ": metadata longer-side-lengths='" + sides + "' is not " + std::to_string(kMusiqScales - 1) +
             " sizes (the model has " + std::to_string(kMusiqScales) + " scale embeddings)";
    return false;
  }
  info->longer_sides = sides;
  const std::string lo = file.meta("score-min"), hi = file.meta("score-max");
  char *end_lo = nullptr, *end_hi = nullptr;
  info->score_min = std::strtod(lo.c_str(), &end_lo);
  info->score_max = std::strtod(hi.c_str(), &end_hi);
  if (lo.empty() || hi.empty() || *end_lo || *end_hi || !std::isfinite(info->score_min) ||
      !std::isfinite(info->score_max) || !(info->score_min < info->score_max)) {
    *error = path + ": metadata score-min='" + lo + "' / score-max='" + hi + "' is not a score range";
    return false;
  }
  return true;
}

}  // namespace s2s
