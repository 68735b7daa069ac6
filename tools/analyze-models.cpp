/* s2s-analyze: MUSIQ model names and where their converted weights are
 * (docs/models.md). */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include "analyze-models.h"

#include <glib.h>

#ifndef S2S_MODELS_DIR
#define S2S_MODELS_DIR "/usr/local/share/gst-s2s/models"
#endif

namespace s2sa {

const std::vector<MusiqModelName> &
musiq_model_names ()
{
  /* pyiqa names its KonIQ-10k MUSIQ plain "musiq" (its default). */
  static const std::vector<MusiqModelName> names = {
    {"koniq10k", "koniq", "musiq", "musiq-koniq10k.safetensors", "musiq_koniq_ckpt-e95806b9.pth"},
    {"spaq", "spaq", "musiq-spaq", "musiq-spaq.safetensors", "musiq_spaq_ckpt-358bb6af.pth"},
    {"ava", "ava", "musiq-ava", "musiq-ava.safetensors", "musiq_ava_ckpt-e8d3f067.pth"},
    {"paq2piq", "paq2piq", "musiq-paq2piq", "musiq-paq2piq.safetensors",
        "musiq_paq2piq_ckpt-364c0c84.pth"},
  };
  return names;
}

const MusiqModelName *
find_musiq_model (const std::string & name)
{
  for (const MusiqModelName & m : musiq_model_names ())
    if (name == m.variant || name == m.seed || name == m.pyiqa
        || name == std::string ("musiq-") + m.variant || name == std::string ("musiq-") + m.seed)
      return &m;
  return nullptr;
}

std::string
seed_model_name (const std::string & variant)
{
  for (const MusiqModelName & m : musiq_model_names ())
    if (variant == m.variant)
      return m.seed;
  return variant;
}

std::vector<std::string>
models_dirs ()
{
  std::vector<std::string> dirs;
  const char *env = g_getenv ("S2S_MODELS_DIR");
  if (env && *env)
    dirs.push_back (env);
  dirs.push_back (S2S_MODELS_DIR);
  return dirs;
}

static std::string
dirs_text (const std::vector<std::string> &dirs)
{
  std::string out;
  for (size_t i = 0; i < dirs.size (); ++i)
    out += (i == 0 ? "" : i + 1 == dirs.size ()? " or " : ", ") + dirs[i];
  return out;
}

bool
resolve_musiq_model (const std::string & name, std::string * path, std::string * error,
    bool *unknown)
{
  *unknown = false;
  const MusiqModelName *m = find_musiq_model (name);
  if (!m) {
    *unknown = true;
    std::string known;
    for (const MusiqModelName & n : musiq_model_names ())
      known += (known.empty ()? "" : ", ") + std::string (n.seed) + " (" + n.pyiqa + ")";
    *error = "unknown --model '" + name + "': expected one of " + known;
    return false;
  }
  const std::vector<std::string> dirs = models_dirs ();
  for (const std::string & dir : dirs) {
    gchar *p = g_build_filename (dir.c_str (), m->file, NULL);
    const bool found = g_file_test (p, G_FILE_TEST_IS_REGULAR);
    if (found)
      *path = p;
    g_free (p);
    if (found)
      return true;
  }
  gchar *target = g_build_filename (dirs.back ().c_str (), m->file, NULL);
  *error = std::string ("--model ") + name + ": " + m->file + " is not in " + dirs_text (dirs) +
      "; convert pyiqa's " + m->checkpoint + " with `python3 models/tools/musiq_weights.py "
      "convert " + m->checkpoint + " " + target + " --variant " + m->variant +
      "` (docs/models.md), or give the file with --musiq-model";
  g_free (target);
  return false;
}

void
list_musiq_models (FILE * out)
{
  const std::vector<std::string> dirs = models_dirs ();
  fprintf (out, "%-9s %-14s %-9s %s\n", "model", "pyiqa name", "variant", "weights");
  for (const MusiqModelName & m : musiq_model_names ()) {
    std::string where;
    for (const std::string & dir : dirs) {
      gchar *p = g_build_filename (dir.c_str (), m.file, NULL);
      if (where.empty () && g_file_test (p, G_FILE_TEST_IS_REGULAR))
        where = p;
      g_free (p);
    }
    if (where.empty ())
      where = std::string ("not installed (") + m.file + " in " + dirs_text (dirs) + ")";
    fprintf (out, "%-9s %-14s %-9s %s\n", m.seed, m.pyiqa, m.variant, where.c_str ());
  }
}

}  // namespace s2sa
