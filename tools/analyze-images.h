/* s2s-analyze on still images: MUSIQ scores, one JSON line per image in the
 * shape of the MUSIQ tool it replaces (docs/analyze.md, "Still images").
 *
 *   s2s-analyze a.jpg b.png photos 'shots/IMG_*' --model spaq
 *   {"path": "a.jpg", "score": 41.07, "model": "spaq", "device": "CPU", "gpu_available": false}
 *
 * s2s-analyze.cpp parses the options (these entries are added to its own)
 * and hands over here before its video mode; this file also resolves
 * --model for the video mode. */
#pragma once

#include <glib.h>

namespace s2sa {

/* The options of s2s-analyze that image mode reads, and --model. */
struct SharedOptions
{
  gchar **inputs;
  const gchar *pipeline;
  gchar **musiq_model;          /* --musiq-model; --model resolves into it */
  gboolean *musiq;              /* --musiq, set by --model */
  const gchar *device, *cuda_device_id, *batch_size, *precision;
  const gchar *json, *jsonl, *csv, *plot;
  bool quiet, verbose;
};

/* --model, --list-models, --target-size, --benchmark, --runs. */
const GOptionEntry *image_option_entries ();

/* Rewrites `--target-size W H` (the seed's spelling, two arguments) into
 * `--target-size=WxH` before GOption parses argv; *argv becomes a new array
 * (owned by this file) when it changes. */
void join_target_size_args (int *argc, char ***argv);

/* After parsing: true when this file handled the run, with *rc its exit
 * status (--list-models, still images, a bad image option); false when the
 * video mode goes on (with --model resolved into *musiq_model). */
bool handle_image_mode (const SharedOptions & opt, int *rc);

}  // namespace s2sa
