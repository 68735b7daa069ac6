/* s2s-analyze: MUSIQ model names (--model, --list-models).
 *
 * The seed tool's names (koniq, spaq, ava, paq2piq) and pyiqa's (musiq,
 * musiq-spaq, musiq-ava, musiq-paq2piq) name the four variants whose pyiqa
 * checkpoints models/tools/musiq_weights.py converts. Each variant's file is
 * musiq-<variant>.safetensors (musiq-koniq10k.safetensors is musiqscore's
 * default model), looked up in $S2S_MODELS_DIR when set, then in the
 * installed models folder, <datadir>/gst-s2s/models (docs/models.md). */
#pragma once

#include <cstdio>
#include <string>
#include <vector>

namespace s2sa {

struct MusiqModelName
{
  const char *variant;          /* in the weight file's metadata: koniq10k, ... */
  const char *seed;             /* the seed tool's name: koniq, ... */
  const char *pyiqa;            /* pyiqa's metric name: musiq, musiq-spaq, ... */
  const char *file;             /* musiq-koniq10k.safetensors, ... */
  const char *checkpoint;       /* pyiqa's checkpoint to convert */
};

const std::vector<MusiqModelName> &musiq_model_names ();

/* The entry for a seed, pyiqa or variant name; nullptr if unknown. */
const MusiqModelName *find_musiq_model (const std::string & name);

/* The seed's name for a variant in a file's metadata ("koniq" for
 * koniq10k); the variant itself if it is not one of the four. */
std::string seed_model_name (const std::string & variant);

/* The folders searched, in order. */
std::vector<std::string> models_dirs ();

/* The weights of `name`: true with the path of the first folder that has its
 * file; false with an error naming the file, the folders and the command
 * that makes it (or the known names, for an unknown name; *unknown set). */
bool resolve_musiq_model (const std::string & name, std::string * path, std::string * error,
    bool *unknown);

/* --list-models: each variant, its names and where its file is (or is not). */
void list_musiq_models (FILE * out);

}  // namespace s2sa
