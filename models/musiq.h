// MUSIQ (Ke et al. 2021) as pyiqa 0.1.16 computes it (pyiqa/archs/
// musiq_arch.py), in LibTorch. No GStreamer.
//
// Per token (a 32x32 RGB patch in [-1, 1], padding tokens too): a ResNet stem
// (weight-standardised 7x7/2 convolution with TF 'SAME' padding, GroupNorm,
// ReLU, 'SAME' max-pool 3/2, one bottleneck 64 -> 256), flattened in HWC
// order and embedded to 384 values; plus the hashed spatial position and the
// scale embeddings. A class token is prepended; 14 pre-LayerNorm transformer
// blocks (6 heads, MLP 1152, exact GELU) attend over the valid tokens; the
// final LayerNorm of the class token goes through the head: one score, or
// 10 AVA class probabilities and their mean sum_i i * p_i.
//
// Submodules are named after pyiqa's state-dict keys, so weight files map
// one to one.
#pragma once

#include <torch/torch.h>

#include <string>
#include <utility>
#include <vector>

#include "safetensors.h"

namespace s2s {

constexpr int kMusiqHidden = 384;
constexpr int kMusiqHeads = 6;
constexpr int kMusiqMlp = 1152;
constexpr int kMusiqLayers = 14;
constexpr int kMusiqStem = 64;
constexpr int kMusiqPositions = 100;  // hashed 10 x 10 grid
constexpr int kMusiqScales = 3;       // two rescaled scales + native

// Weight-standardised convolution (pyiqa StdConv): the kernel is
// standardised once at load (w - mean) / (unbiased std + 1e-5) over
// in x kh x kw, as pyiqa does at every call; `padding` is TF 'SAME'
// (before, after) on both axes.
class MusiqStdConvImpl : public torch::nn::Module {
 public:
  MusiqStdConvImpl(int in, int out, int kernel, int stride);
  torch::Tensor forward(const torch::Tensor &x);
  // Replaces `weight` with its standardised form (after loading).
  void standardize();

  torch::Tensor weight;

 private:
  int kernel_, stride_;
};
TORCH_MODULE(MusiqStdConv);

// pyiqa Bottleneck(64, 256): 1x1, 3x3, 1x1 standardised convolutions with
// GroupNorm(32, eps 1e-4), and a projected shortcut.
class MusiqBottleneckImpl : public torch::nn::Module {
 public:
  MusiqBottleneckImpl(int in, int out);
  torch::Tensor forward(const torch::Tensor &x);
  void standardize();

 private:
  MusiqStdConv conv1_{nullptr}, conv2_{nullptr}, conv3_{nullptr}, conv_proj_{nullptr};
  torch::nn::GroupNorm gn1_{nullptr}, gn2_{nullptr}, gn3_{nullptr}, gn_proj_{nullptr};
};
TORCH_MODULE(MusiqBottleneck);

// Multi-head self-attention with biased query/key/value/out projections.
class MusiqAttentionImpl : public torch::nn::Module {
 public:
  MusiqAttentionImpl();
  // x [B, N, 384]; key_bias [B, 1, 1, N] additive (0 or -1000), or undefined.
  torch::Tensor forward(const torch::Tensor &x, const torch::Tensor &key_bias);
  // Concatenates query/key/value into one product (after loading/moving).
  void fuse();

 private:
  torch::nn::Linear query_{nullptr}, key_{nullptr}, value_{nullptr}, out_{nullptr};
  torch::Tensor qkv_weight_, qkv_bias_;
};
TORCH_MODULE(MusiqAttention);

class MusiqBlockImpl : public torch::nn::Module {
 public:
  MusiqBlockImpl();
  torch::Tensor forward(const torch::Tensor &x, const torch::Tensor &key_bias);
  void fuse() { attention_->fuse(); }

 private:
  torch::nn::LayerNorm norm1_{nullptr}, norm2_{nullptr};
  MusiqAttention attention_{nullptr};
  torch::nn::Linear fc1_{nullptr}, fc2_{nullptr};
};
TORCH_MODULE(MusiqBlock);

class MusiqNetImpl : public torch::nn::Module {
 public:
  // num_classes: 1 (koniq10k, spaq, paq2piq) or 10 (ava).
  explicit MusiqNetImpl(int num_classes = 1);

  int num_classes() const { return num_classes_; }

  // tokens [B, T, 3072] (3x32x32 CHW per token, in [-1, 1]); pos, scale,
  // mask [B, T] (any dtype: indices and 0/1 flags, as pyiqa passes them).
  // Returns [B] float32 scores (the AVA mean for 10 classes). Tokens go
  // through the stem in chunks of at most `stem_chunk` tokens.
  torch::Tensor forward(const torch::Tensor &tokens, const torch::Tensor &pos, const torch::Tensor &scale,
                        const torch::Tensor &mask, int64_t stem_chunk = 2048);

  // The 384-value embedding of each token before the position/scale
  // embeddings: [B*T, 3, 32, 32] -> [B*T, 384].
  torch::Tensor embed(const torch::Tensor &patches);

  // Copies weights from `file` by name; every tensor must be present with
  // the right shape and a float dtype. Names the file and tensor in *error.
  // Standardises the convolution kernels afterwards.
  bool load(const SafetensorsFile &file, std::string *error);

  // Moves the network to `device` (after load()): everything in `dtype` but
  // the final LayerNorm and head (float32).
  void place(torch::Device device, torch::ScalarType dtype);

 private:
  int num_classes_;
  MusiqStdConv conv_root_{nullptr};
  torch::nn::GroupNorm gn_root_{nullptr};
  MusiqBottleneck block1_{nullptr};
  torch::nn::Linear embedding_{nullptr};
  torch::Tensor cls_, position_emb_, scale_emb_;
  std::vector<MusiqBlock> blocks_;
  torch::nn::LayerNorm encoder_norm_{nullptr};
  torch::nn::Linear head_{nullptr};
};
TORCH_MODULE(MusiqNet);

// What a MUSIQ file's metadata says, checked against its tensors.
struct MusiqFileInfo {
  std::string variant;  // koniq10k, spaq, paq2piq or ava
  int num_classes = 1;  // 1, or 10 for ava
  double score_min = 0, score_max = 100;
  std::string longer_sides = "224,384";  // the patching it was trained with
};

// Reads and checks the metadata of `file`: model=musiq, a known variant,
// num-classes matching the variant and the head tensor's shape, a score range
// (score-min < score-max), and where given patch-size 32, hse-grid 10 and two
// longer-side-lengths (the model's three scale embeddings). One-line errors
// naming the file (and tensor).
bool musiq_file_info(const SafetensorsFile &file, MusiqFileInfo *info, std::string *error);

// Tensor names a MUSIQ file must hold, with their shapes (248 tensors).
std::vector<std::pair<std::string, std::vector<int64_t>>> musiq_tensor_specs(int num_classes);

}  // namespace s2s
